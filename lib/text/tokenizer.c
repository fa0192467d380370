/* One tokenizer type over the two kinds a GGUF can name. */
#include "tokenizer.h"

#include <stdlib.h>

#include "bpe.h"
#include "spm.h"

struct aq_tokenizer {
    aq_spm *spm; /* exactly one of the two */
    aq_bpe *bpe;
    bool add_bos;
};

aq_error aq_tokenizer_create(const aq_tokenizer_spec *spec, aq_tokenizer **out, char *msg, size_t msg_cap) {
    if (!out || !spec) return AQ_ERR_INVALID_ARGUMENT;
    *out = NULL;
    aq_tokenizer *tok = calloc(1, sizeof *tok);
    if (!tok) return AQ_ERR_OUT_OF_MEMORY;
    tok->add_bos = spec->add_bos;
    aq_error err;
    if (spec->kind == AQ_TOKENIZER_BPE) {
        aq_bpe_spec bpe = {.n_vocab = spec->n_vocab, .tokens = spec->pieces, .token_lens = spec->piece_lens,
                           .types = spec->types, .n_merges = spec->n_merges, .merges = spec->merges,
                           .merge_lens = spec->merge_lens, .pre = spec->pre, .pre_len = spec->pre_len,
                           .bos = spec->bos, .eos = spec->eos};
        err = aq_bpe_create(&bpe, &tok->bpe, msg, msg_cap);
    } else {
        aq_spm_spec spm = {.n_vocab = spec->n_vocab, .pieces = spec->pieces, .piece_lens = spec->piece_lens,
                           .scores = spec->scores, .types = spec->types, .bos = spec->bos, .eos = spec->eos,
                           .unk = spec->unk, .add_space_prefix = spec->add_space_prefix};
        err = aq_spm_create(&spm, &tok->spm, msg, msg_cap);
    }
    if (err != AQ_OK) {
        free(tok);
        return err;
    }
    *out = tok;
    return AQ_OK;
}

void aq_tokenizer_free(aq_tokenizer *tok) {
    if (!tok) return;
    aq_spm_free(tok->spm);
    aq_bpe_free(tok->bpe);
    free(tok);
}

/* Special tokens in the text are text: a caller that wants <|im_start|> as a
 * token gets it from a chat template, not from what a user typed. */
aq_error aq_tokenizer_encode(const aq_tokenizer *tok, const char *text, size_t len, bool add_bos,
                             int32_t *tokens, int32_t capacity, int32_t *n_tokens) {
    if (!tok) return AQ_ERR_INVALID_ARGUMENT;
    if (tok->bpe) return aq_bpe_encode(tok->bpe, text, len, add_bos, false, tokens, capacity, n_tokens);
    return aq_spm_encode(tok->spm, text, len, add_bos, tokens, capacity, n_tokens);
}

aq_error aq_tokenizer_piece(const aq_tokenizer *tok, int32_t token, char *buf, size_t capacity, size_t *length) {
    if (!tok) return AQ_ERR_INVALID_ARGUMENT;
    if (tok->bpe) return aq_bpe_piece(tok->bpe, token, false, buf, capacity, length);
    return aq_spm_piece(tok->spm, token, buf, capacity, length);
}

aq_error aq_tokenizer_decode(const aq_tokenizer *tok, const int32_t *tokens, int32_t n_tokens, char *buf,
                             size_t capacity, size_t *length) {
    if (!tok) return AQ_ERR_INVALID_ARGUMENT;
    if (tok->bpe) return aq_bpe_decode(tok->bpe, tokens, n_tokens, false, buf, capacity, length);
    return aq_spm_decode(tok->spm, tokens, n_tokens, buf, capacity, length);
}

int32_t aq_tokenizer_n_vocab(const aq_tokenizer *tok) {
    if (!tok) return 0;
    return tok->bpe ? aq_bpe_n_vocab(tok->bpe) : aq_spm_n_vocab(tok->spm);
}

bool aq_tokenizer_add_bos(const aq_tokenizer *tok) { return tok && tok->add_bos; }
