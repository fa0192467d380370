/* One tokenizer type over the two kinds a GGUF can name. */
#include "tokenizer.h"

#include <stdlib.h>
#include <string.h>

#include "bpe.h"
#include "spm.h"

/* A token that text never forms by merging: control, unknown and
 * user-defined ones, by their text in the vocabulary. */
typedef struct special_token {
    const char *text; /* in the tokenizer's text pool */
    size_t len;
    int32_t id, type;
} special_token;

struct aq_tokenizer {
    aq_spm *spm; /* exactly one of the two */
    aq_bpe *bpe;
    bool add_bos;
    int32_t bos;
    /* Special tokens sorted by first byte, then longest first; first[b] is
     * the first of those starting with byte b or a later one. */
    special_token *special;
    int32_t n_special;
    int32_t first[257];
    char *special_text;
};

static int special_order(const void *a, const void *b) {
    const special_token *x = a, *y = b;
    unsigned char cx = (unsigned char)x->text[0], cy = (unsigned char)y->text[0];
    if (cx != cy) return cx < cy ? -1 : 1;
    if (x->len != y->len) return x->len > y->len ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static aq_error index_special(aq_tokenizer *tok, const aq_tokenizer_spec *spec) {
    size_t n = 0, bytes = 0;
    for (int32_t i = 0; spec->types && i < spec->n_vocab; i++) {
        int32_t t = spec->types[i];
        if ((t == AQ_TOKEN_CONTROL || t == AQ_TOKEN_UNKNOWN || t == AQ_TOKEN_USER_DEFINED) && spec->piece_lens[i] > 0)
            n++, bytes += (size_t)spec->piece_lens[i];
    }
    tok->special = calloc(n ? n : 1, sizeof *tok->special);
    tok->special_text = malloc(bytes ? bytes : 1);
    if (!tok->special || !tok->special_text) return AQ_ERR_OUT_OF_MEMORY;
    size_t at = 0;
    for (int32_t i = 0; spec->types && i < spec->n_vocab; i++) {
        int32_t t = spec->types[i];
        size_t len = (size_t)spec->piece_lens[i];
        if (!(t == AQ_TOKEN_CONTROL || t == AQ_TOKEN_UNKNOWN || t == AQ_TOKEN_USER_DEFINED) || len == 0) continue;
        memcpy(tok->special_text + at, spec->pieces[i], len);
        tok->special[tok->n_special++] = (special_token){tok->special_text + at, len, i, t};
        at += len;
    }
    qsort(tok->special, (size_t)tok->n_special, sizeof *tok->special, special_order);
    int32_t i = 0; /* first[b]: the first token whose text starts with a byte >= b */
    for (int b = 0; b <= 256; b++) {
        while (i < tok->n_special && (unsigned char)tok->special[i].text[0] < b) i++;
        tok->first[b] = i;
    }
    return AQ_OK;
}

/* The longest special token at text[0..avail) (control and unknown ones
 * only, when control_only), or NULL. */
static const special_token *match_special(const aq_tokenizer *tok, const char *text, size_t avail, bool control_only) {
    unsigned char b = (unsigned char)text[0];
    for (int32_t i = tok->first[b]; i < tok->n_special && (unsigned char)tok->special[i].text[0] == b; i++) {
        const special_token *s = &tok->special[i];
        if (s->len <= avail && memcmp(s->text, text, s->len) == 0 &&
            !(control_only && s->type == AQ_TOKEN_USER_DEFINED))
            return s;
    }
    return NULL;
}

aq_error aq_tokenizer_create(const aq_tokenizer_spec *spec, aq_tokenizer **out, char *msg, size_t msg_cap) {
    if (!out || !spec) return AQ_ERR_INVALID_ARGUMENT;
    *out = NULL;
    aq_tokenizer *tok = calloc(1, sizeof *tok);
    if (!tok) return AQ_ERR_OUT_OF_MEMORY;
    tok->add_bos = spec->add_bos;
    tok->bos = spec->bos;
    aq_error err = index_special(tok, spec);
    if (err != AQ_OK) {
        aq_tokenizer_free(tok);
        return err;
    }
    if (spec->kind == AQ_TOKENIZER_BPE) {
        aq_bpe_spec bpe = {.n_vocab = spec->n_vocab,
                           .tokens = spec->pieces,
                           .token_lens = spec->piece_lens,
                           .types = spec->types,
                           .n_merges = spec->n_merges,
                           .merges = spec->merges,
                           .merge_lens = spec->merge_lens,
                           .pre = spec->pre,
                           .pre_len = spec->pre_len,
                           .bos = spec->bos,
                           .eos = spec->eos};
        err = aq_bpe_create(&bpe, &tok->bpe, msg, msg_cap);
    } else {
        aq_spm_spec spm = {.n_vocab = spec->n_vocab,
                           .pieces = spec->pieces,
                           .piece_lens = spec->piece_lens,
                           .scores = spec->scores,
                           .types = spec->types,
                           .bos = spec->bos,
                           .eos = spec->eos,
                           .unk = spec->unk,
                           .add_space_prefix = spec->add_space_prefix};
        err = aq_spm_create(&spm, &tok->spm, msg, msg_cap);
    }
    if (err != AQ_OK) {
        aq_tokenizer_free(tok);
        return err;
    }
    *out = tok;
    return AQ_OK;
}

void aq_tokenizer_free(aq_tokenizer *tok) {
    if (!tok) return;
    aq_spm_free(tok->spm);
    aq_bpe_free(tok->bpe);
    free(tok->special);
    free(tok->special_text);
    free(tok);
}

/* Special tokens in the text are text: a caller that wants <|im_start|> as a
 * token gets it from a chat template, not from what a user typed. */
aq_error aq_tokenizer_encode(const aq_tokenizer *tok, const char *text, size_t len, bool add_bos, int32_t *tokens,
                             int32_t capacity, int32_t *n_tokens) {
    if (!tok) return AQ_ERR_INVALID_ARGUMENT;
    if (tok->bpe) return aq_bpe_encode(tok->bpe, text, len, add_bos, false, tokens, capacity, n_tokens);
    return aq_spm_encode(tok->spm, text, len, add_bos, tokens, capacity, n_tokens);
}

/* SentencePiece with special tokens: llama.cpp's way, each stretch of text
 * between two control tokens encoded on its own (so it gets the space prefix
 * again, as llama.cpp gives it after a special token). */
static aq_error spm_encode_special(const aq_tokenizer *tok, const char *text, size_t len, bool add_bos, int32_t *tokens,
                                   int32_t capacity, int32_t *n_tokens) {
    *n_tokens = 0;
    if ((!text && len > 0) || capacity < 0 || (!tokens && capacity > 0)) return AQ_ERR_INVALID_ARGUMENT;
    if (add_bos && tok->bos < 0) return AQ_ERR_UNSUPPORTED;
    int64_t count = 0;
    if (add_bos) {
        if (count < capacity) tokens[count] = tok->bos;
        count++;
    }
    size_t fragment = 0;
    for (size_t i = 0; i <= len; i++) {
        const special_token *s = i < len ? match_special(tok, text + i, len - i, true) : NULL;
        if (i < len && !s) continue;
        int32_t room = count < capacity ? (int32_t)(capacity - count) : 0, got = 0;
        aq_error err =
            aq_spm_encode(tok->spm, text + fragment, i - fragment, false, room ? tokens + count : NULL, room, &got);
        if (err != AQ_OK && err != AQ_ERR_BUFFER_TOO_SMALL) return err;
        count += got;
        if (s) {
            if (count < capacity) tokens[count] = s->id;
            count++;
            i += s->len - 1;
            fragment = i + 1;
        }
        if (count > INT32_MAX) return AQ_ERR_OUT_OF_RANGE;
    }
    *n_tokens = (int32_t)count;
    return count > capacity ? AQ_ERR_BUFFER_TOO_SMALL : AQ_OK;
}

aq_error aq_tokenizer_encode_special(const aq_tokenizer *tok, const char *text, size_t len, bool add_bos,
                                     int32_t *tokens, int32_t capacity, int32_t *n_tokens) {
    if (!tok || !n_tokens) return AQ_ERR_INVALID_ARGUMENT;
    if (tok->bpe) return aq_bpe_encode(tok->bpe, text, len, add_bos, true, tokens, capacity, n_tokens);
    return spm_encode_special(tok, text, len, add_bos, tokens, capacity, n_tokens);
}

int32_t aq_tokenizer_find_special(const aq_tokenizer *tok, const char *text, size_t len) {
    if (!tok || !text || len == 0) return -1;
    const special_token *s = match_special(tok, text, len, false);
    return s && s->len == len ? s->id : -1;
}

bool aq_tokenizer_special_text(const aq_tokenizer *tok, int32_t token, const char **text, size_t *len) {
    for (int32_t i = 0; tok && i < tok->n_special; i++)
        if (tok->special[i].id == token) {
            *text = tok->special[i].text, *len = tok->special[i].len;
            return true;
        }
    return false;
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
