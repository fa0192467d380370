/* Byte-level BPE tokenizer (GPT-2 style; GGUF tokenizer.ggml.model = "gpt2"),
 * encoding as Hugging Face `tokenizers` does for the tokenizer.json the GGUF
 * was converted from, and as llama.cpp does for the same GGUF. Internal.
 *
 * Encoding: (1) added tokens are cut out of the text, leftmost-longest:
 * USER_DEFINED ones always, CONTROL and UNKNOWN ones only when the caller
 * asks (parse_special); (2) each remaining fragment is split by the
 * pre-tokenizer that tokenizer.ggml.pre names, a sequence of regular
 * expressions (PCRE2) whose matches and the text between them both become
 * pieces; (3) each piece's bytes are merged by rank (tokenizer.ggml.merges).
 *
 * Bytes that are not UTF-8 are never rejected: for the regular expressions
 * each such byte counts as one U+FFFD (as llama.cpp reads it), and the merges
 * then work on the original byte. A byte whose character the vocabulary lacks
 * (SmolLM2 lacks 21 of the 256) is dropped, as HF does without an unknown
 * token. Where the vocabulary has all 256, decode(encode(x)) == x for any x.
 *
 * Not done, because a GGUF cannot say it: a tokenizer.json normalizer (Qwen's
 * NFC), per-token lstrip/rstrip, and HF's clean_up_tokenization_spaces when
 * decoding (decoding here is exact, so that it round-trips). */
#ifndef AQ_BPE_H
#define AQ_BPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agilequant.h"

typedef struct aq_bpe aq_bpe;

typedef struct aq_bpe_spec {
    int32_t n_vocab;
    /* tokenizer.ggml.tokens: n_vocab texts, not NUL-terminated; copied.
     * Normal tokens are in GPT-2's byte-to-character form (U+0120 'Ġ' for a
     * space, ...); added tokens (control, user-defined) are plain UTF-8. */
    const char *const *tokens;
    const uint64_t *token_lens;
    /* tokenizer.ggml.token_type: 1 normal, 2 unknown, 3 control,
     * 4 user-defined, 5 unused, 6 byte; NULL: all normal. */
    const int32_t *types;
    /* tokenizer.ggml.merges: n_merges "left right" strings, rank = index;
     * copied into tables. A merge whose two sides or result are not normal
     * tokens is ignored. */
    int32_t n_merges;
    const char *const *merges;
    const uint64_t *merge_lens;
    /* tokenizer.ggml.pre, not NUL-terminated; NULL or length 0 (no key):
     * "default". Known names: aq_bpe_pre_known(). */
    const char *pre;
    size_t pre_len;
    int32_t bos, eos; /* tokenizer.ggml.bos_token_id / eos_token_id, -1 if absent */
} aq_bpe_spec;

/* On failure *out is NULL and msg holds a NUL-terminated reason (msg may be
 * NULL): AQ_ERR_INVALID_ARGUMENT (NULL pointers, no tokens), AQ_ERR_OUT_OF_RANGE
 * (bos/eos), AQ_ERR_FORMAT (token type outside 1..6, a merge without a
 * space), AQ_ERR_UNSUPPORTED (a pre-tokenizer name we do not know),
 * AQ_ERR_OUT_OF_MEMORY. */
aq_error aq_bpe_create(const aq_bpe_spec *spec, aq_bpe **out, char *msg, size_t msg_cap);
void aq_bpe_free(aq_bpe *bpe); /* accepts NULL */

/* True for the tokenizer.ggml.pre names aq_bpe_create accepts. */
bool aq_bpe_pre_known(const char *pre, size_t pre_len);

/* Encodes len bytes (any bytes). add_bos puts the BOS token first
 * (AQ_ERR_UNSUPPORTED if there is none). On AQ_ERR_BUFFER_TOO_SMALL,
 * *n_tokens holds the count needed (tokens[] holds the first capacity).
 * Thread-safe: the tokenizer is not modified. */
aq_error aq_bpe_encode(const aq_bpe *bpe, const char *text, size_t len, bool add_bos, bool parse_special,
                       int32_t *tokens, int32_t capacity, int32_t *n_tokens);

/* A token's bytes: normal tokens mapped back from GPT-2's characters,
 * user-defined ones as they are; control, unknown and unused ones as their
 * text only if render_special, else nothing. On AQ_ERR_BUFFER_TOO_SMALL,
 * *length holds the size needed. */
aq_error aq_bpe_piece(const aq_bpe *bpe, int32_t token, bool render_special, char *buf, size_t capacity,
                      size_t *length);
/* The pieces of n_tokens tokens, back to back (no space cleaning). */
aq_error aq_bpe_decode(const aq_bpe *bpe, const int32_t *tokens, int32_t n_tokens, bool render_special, char *buf,
                       size_t capacity, size_t *length);

int32_t aq_bpe_n_vocab(const aq_bpe *bpe);
int32_t aq_bpe_bos(const aq_bpe *bpe); /* -1 if none */
int32_t aq_bpe_eos(const aq_bpe *bpe);

#endif
