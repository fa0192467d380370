/* The model's tokenizer, whichever kind its GGUF names: SentencePiece
 * (tokenizer.ggml.model = "llama", spm.c) or byte-level BPE ("gpt2", bpe.c).
 * The rest of the library sees only this. Internal. */
#ifndef AQ_TOKENIZER_H
#define AQ_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agilequant.h"

/* GGUF tokenizer.ggml.token_type values. */
enum {
    AQ_TOKEN_NORMAL = 1,
    AQ_TOKEN_UNKNOWN = 2,
    AQ_TOKEN_CONTROL = 3,
    AQ_TOKEN_USER_DEFINED = 4,
    AQ_TOKEN_UNUSED = 5,
    AQ_TOKEN_BYTE = 6
};

typedef enum aq_tokenizer_kind { AQ_TOKENIZER_SPM = 0, AQ_TOKENIZER_BPE } aq_tokenizer_kind;

typedef struct aq_tokenizer aq_tokenizer;

typedef struct aq_tokenizer_spec {
    aq_tokenizer_kind kind;
    int32_t n_vocab;
    const char *const *pieces; /* n_vocab pieces, not NUL-terminated; copied */
    const uint64_t *piece_lens;
    const int32_t *types;  /* NULL: all AQ_TOKEN_NORMAL */
    int32_t bos, eos, unk; /* -1 if absent (unk: SentencePiece only) */
    bool add_bos;          /* whether text gets a BOS by default (the vocabulary's own setting) */
    /* SentencePiece */
    const float *scores; /* NULL: all 0 */
    bool add_space_prefix;
    /* byte-level BPE */
    int32_t n_merges; /* tokenizer.ggml.merges: "left right", rank = index */
    const char *const *merges;
    const uint64_t *merge_lens;
    const char *pre; /* tokenizer.ggml.pre, not NUL-terminated; NULL: "default" */
    size_t pre_len;
} aq_tokenizer_spec;

aq_error aq_tokenizer_create(const aq_tokenizer_spec *spec, aq_tokenizer **out, char *msg, size_t msg_cap);
void aq_tokenizer_free(aq_tokenizer *tok); /* accepts NULL */

aq_error aq_tokenizer_encode(const aq_tokenizer *tok, const char *text, size_t len, bool add_bos, int32_t *tokens,
                             int32_t capacity, int32_t *n_tokens);
/* As aq_tokenizer_encode, but the texts of control and unknown tokens in the
 * text become those tokens (llama.cpp's parse_special): the way to tokenize a
 * prompt made by a chat template. */
aq_error aq_tokenizer_encode_special(const aq_tokenizer *tok, const char *text, size_t len, bool add_bos,
                                     int32_t *tokens, int32_t capacity, int32_t *n_tokens);
/* The control, unknown or user-defined token whose text is exactly text[0..len), or -1. */
int32_t aq_tokenizer_find_special(const aq_tokenizer *tok, const char *text, size_t len);
/* The vocabulary's text of a control, unknown or user-defined token ("<s>",
 * "<|im_end|>"); false for other tokens. */
bool aq_tokenizer_special_text(const aq_tokenizer *tok, int32_t token, const char **text, size_t *len);
aq_error aq_tokenizer_piece(const aq_tokenizer *tok, int32_t token, char *buf, size_t capacity, size_t *length);
aq_error aq_tokenizer_decode(const aq_tokenizer *tok, const int32_t *tokens, int32_t n_tokens, char *buf,
                             size_t capacity, size_t *length);
int32_t aq_tokenizer_n_vocab(const aq_tokenizer *tok);
/* Whether text gets a BOS by default: the vocabulary's add_bos. */
bool aq_tokenizer_add_bos(const aq_tokenizer *tok);

#endif
