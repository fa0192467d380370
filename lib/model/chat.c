/* The model's chat template: the Jinja text stays in the mapped file, so it
 * is looked up when asked rather than copied at load. */
#include "chat.h"

#include <string.h>

#include "chat_template.h"

static aq_chat_family model_template(const aq_model *m, aq_chat_template *t) {
    aq_gguf_str s = {.ptr = NULL, .len = 0};
    if (!m->loaded || !m->gguf || aq_gguf_get_str(m->gguf, "tokenizer.chat_template", &s) != AQ_OK) s.len = 0;
    return aq_chat_template_parse(s.ptr, (size_t)s.len, t);
}

const char *aq_model_chat_family_name(const aq_model *m) {
    aq_chat_template t;
    model_template(m, &t);
    return t.name;
}

/* A special token's text as a template writes it (bos_token, eos_token). */
static aq_chat_text token_text(const aq_model *m, int32_t id) {
    aq_chat_text text = {.ptr = "", .len = 0};
    if (id >= 0 && !aq_tokenizer_special_text(m->tokenizer, id, &text.ptr, &text.len)) text.ptr = "", text.len = 0;
    return text;
}

aq_error aq_model_chat_apply(const aq_model *m, const aq_chat_message *messages, size_t n, bool add_prefix, char *buf,
                             size_t capacity, size_t *length) {
    aq_chat_template t;
    if (model_template(m, &t) == AQ_CHAT_NONE) {
        *length = 0;
        return AQ_ERR_UNSUPPORTED;
    }
    aq_chat_specials specials = {.bos = token_text(m, m->bos), .eos = token_text(m, m->eos)};
    return aq_chat_template_apply(&t, &specials, messages, n, add_prefix, buf, capacity, length, NULL, 0);
}

int32_t aq_model_eot_token(const aq_model *m) {
    uint32_t id;
    if (aq_gguf_get_u32(m->gguf, "tokenizer.ggml.eot_token_id", &id) == AQ_OK && id < (uint32_t)m->cfg.vocab_size)
        return (int32_t)id;
    aq_chat_template t;
    const char *end = aq_chat_template_end_of_turn(model_template(m, &t));
    int32_t found = end ? aq_tokenizer_find_special(m->tokenizer, end, strlen(end)) : -1;
    return found >= 0 ? found : m->eos;
}
