/* The model's chat template (tokenizer.chat_template), read from the GGUF
 * when asked and written by the text layer's chat_template.c. Internal. */
#ifndef AQ_MODEL_CHAT_H
#define AQ_MODEL_CHAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"

/* The family the template was recognised as ("chatml", ...), or "". */
const char *aq_model_chat_family_name(const aq_model *model);
/* The prompt of n messages in the model's template (aq_chat_apply_template). */
aq_error aq_model_chat_apply(const aq_model *model, const aq_chat_message *messages, size_t n, bool add_prefix,
                             char *buf, size_t capacity, size_t *length);
/* The token that ends a turn: tokenizer.ggml.eot_token_id, else the
 * template's end-of-turn text if it is one token, else EOS (-1 if none). */
int32_t aq_model_eot_token(const aq_model *model);

#endif
