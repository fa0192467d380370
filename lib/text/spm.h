/* SentencePiece-style tokenizer (GGUF tokenizer.ggml.model = "llama"),
 * encoding exactly as llama.cpp's SPM tokenizer does. Internal. */
#ifndef AQ_SPM_H
#define AQ_SPM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agilequant.h"
#include "tokenizer.h"

typedef struct aq_spm aq_spm;

typedef struct aq_spm_spec {
    int32_t n_vocab;
    const char *const *pieces; /* n_vocab pieces, UTF-8, not NUL-terminated; copied */
    const uint64_t *piece_lens;
    const float *scores;   /* NULL: all 0 */
    const int32_t *types;  /* NULL: all AQ_TOKEN_NORMAL */
    int32_t bos, eos, unk; /* -1 if absent */
    bool add_space_prefix;
} aq_spm_spec;

aq_error aq_spm_create(const aq_spm_spec *spec, aq_spm **out, char *msg, size_t msg_cap);
void aq_spm_free(aq_spm *tok); /* accepts NULL */

aq_error aq_spm_encode(const aq_spm *tok, const char *text, size_t len, bool add_bos, int32_t *tokens, int32_t capacity,
                       int32_t *n_tokens);
aq_error aq_spm_piece(const aq_spm *tok, int32_t token, char *buf, size_t capacity, size_t *length);
aq_error aq_spm_decode(const aq_spm *tok, const int32_t *tokens, int32_t n_tokens, char *buf, size_t capacity,
                       size_t *length);
int32_t aq_spm_n_vocab(const aq_spm *tok);

#endif
