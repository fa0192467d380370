/* SentencePiece-style tokenizer, encoding as llama.cpp's SPM tokenizer
 * (llm_tokenizer_spm) does:
 *
 *   1. an optional space is put in front (add_space_prefix) and every space
 *      becomes U+2581 "▁", the SentencePiece whitespace marker;
 *   2. the text is cut into UTF-8 characters, each one symbol of a doubly
 *      linked list;
 *   3. every adjacent pair whose concatenation is a piece goes into a max-heap
 *      keyed by the piece's score (ties: leftmost pair first); the best pair is
 *      merged and the pairs it forms with its neighbours are pushed, until the
 *      heap is empty. Pairs made stale by an earlier merge are recognised by
 *      their recorded byte length and skipped, so each merge costs O(log n);
 *   4. each remaining symbol is its piece's token, or, if it is not a piece,
 *      one "<0xNN>" byte token per byte (the unknown token where the
 *      vocabulary has no such byte token).
 *
 * Deliberate differences from llama.cpp, none of which changes the result for
 * valid UTF-8 and an ordinary SentencePiece vocabulary:
 *   - only NORMAL, USER_DEFINED and UNUSED pieces can be formed from text.
 *     llama.cpp looks every piece up, so with a vocabulary holding "<s" it
 *     could turn the text "<s>" into the control token; SentencePiece never
 *     does, and neither do we (likewise "<0x41>" or "<unk>" as text);
 *   - a byte that does not start a well-formed UTF-8 sequence is one
 *     character on its own (llama.cpp trusts the lead byte's length);
 *   - user-defined pieces are not split out of the text before merging
 *     (llama.cpp does that even without parse_special), they just merge;
 *   - a byte without a byte token becomes the unknown token.
 */
#include "spm.h"

#include "error.h"
#include "hash.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* U+2581 LOWER ONE EIGHTH BLOCK, SentencePiece's stand-in for a space. */
static const char space_marker[3] = {'\xE2', '\x96', '\x81'};

struct aq_spm {
    int32_t n_vocab;
    char *text_pool;        /* all pieces, back to back */
    uint64_t *piece_offset; /* n_vocab + 1 offsets into text_pool */
    float *scores;
    int32_t *types;
    int32_t bos, eos, unk;
    bool add_space_prefix;
    int32_t byte_token[256]; /* "<0xNN>" byte piece of each byte, or -1 */
    /* Open-addressing hash table (linear probing) of the pieces that text
     * can turn into; slots hold token ids, -1 when empty. */
    int32_t *hash_slots;
    uint64_t hash_mask;
};

static const char *piece_text(const aq_spm *tok, int32_t id, uint64_t *len) {
    *len = tok->piece_offset[id + 1] - tok->piece_offset[id];
    return tok->text_pool + tok->piece_offset[id];
}

/* The id of the mergeable piece spelled text[0..len), or -1. */
static int32_t lookup_piece(const aq_spm *tok, const char *text, uint64_t len) {
    for (uint64_t slot = aq_hash_bytes(text, len) & tok->hash_mask;; slot = (slot + 1) & tok->hash_mask) {
        int32_t id = tok->hash_slots[slot];
        if (id < 0) return -1;
        uint64_t id_len;
        const char *id_text = piece_text(tok, id, &id_len);
        if (id_len == len && memcmp(id_text, text, len) == 0) return id;
    }
}

static bool can_come_from_text(int32_t type) {
    return type == AQ_TOKEN_NORMAL || type == AQ_TOKEN_USER_DEFINED || type == AQ_TOKEN_UNUSED;
}

static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* The byte a "<0xNN>" piece stands for, or -1 if the text has another form. */
static int parse_byte_piece(const char *text, uint64_t len) {
    if (len != 6 || memcmp(text, "<0x", 3) != 0 || text[5] != '>') return -1;
    int hi = hex_digit(text[3]), lo = hex_digit(text[4]);
    if (hi < 0 || lo < 0) return -1;
    return hi * 16 + lo;
}

static aq_error validate_spec(const aq_spm_spec *spec, char *msg, size_t msg_cap) {
    if (spec->n_vocab < 1) {
        aq_format_message(msg, msg_cap, "tokenizer: vocabulary size %d, need at least 1", (int)spec->n_vocab);
        return AQ_ERR_INVALID_ARGUMENT;
    }
    if (spec->pieces == NULL || spec->piece_lens == NULL) {
        aq_format_message(msg, msg_cap, "tokenizer: pieces or piece lengths missing");
        return AQ_ERR_INVALID_ARGUMENT;
    }
    const int32_t special[3] = {spec->bos, spec->eos, spec->unk};
    const char *special_name[3] = {"bos", "eos", "unknown"};
    for (int i = 0; i < 3; i++) {
        if (special[i] < -1 || special[i] >= spec->n_vocab) {
            aq_format_message(msg, msg_cap, "tokenizer: %s token %d outside the vocabulary of %d", special_name[i],
                              (int)special[i], (int)spec->n_vocab);
            return AQ_ERR_OUT_OF_RANGE;
        }
    }
    uint64_t total = 0;
    for (int32_t i = 0; i < spec->n_vocab; i++) {
        uint64_t len = spec->piece_lens[i];
        if (spec->pieces[i] == NULL && len > 0) {
            aq_format_message(msg, msg_cap, "tokenizer: piece %d is NULL", (int)i);
            return AQ_ERR_INVALID_ARGUMENT;
        }
        if (len > SIZE_MAX / 2 - total) {
            aq_format_message(msg, msg_cap, "tokenizer: pieces too long");
            return AQ_ERR_FORMAT;
        }
        total += len;
        if (spec->scores != NULL && isnan(spec->scores[i])) {
            /* NaN would make the merge order meaningless. */
            aq_format_message(msg, msg_cap, "tokenizer: piece %d has a NaN score", (int)i);
            return AQ_ERR_FORMAT;
        }
        if (spec->types == NULL) continue;
        int32_t type = spec->types[i];
        if (type < AQ_TOKEN_NORMAL || type > AQ_TOKEN_BYTE) {
            aq_format_message(msg, msg_cap, "tokenizer: piece %d has token type %d, not 1..6", (int)i, (int)type);
            return AQ_ERR_FORMAT;
        }
        if (type == AQ_TOKEN_BYTE && parse_byte_piece(spec->pieces[i], len) < 0) {
            aq_format_message(msg, msg_cap, "tokenizer: byte piece %d is not of the form <0xNN>", (int)i);
            return AQ_ERR_FORMAT;
        }
    }
    return AQ_OK;
}

aq_error aq_spm_create(const aq_spm_spec *spec, aq_spm **out, char *msg, size_t msg_cap) {
    aq_format_message(msg, msg_cap, "%s", "");
    if (out == NULL) {
        aq_format_message(msg, msg_cap, "tokenizer: out is NULL");
        return AQ_ERR_INVALID_ARGUMENT;
    }
    *out = NULL;
    if (spec == NULL) {
        aq_format_message(msg, msg_cap, "tokenizer: spec is NULL");
        return AQ_ERR_INVALID_ARGUMENT;
    }
    aq_error err = validate_spec(spec, msg, msg_cap);
    if (err != AQ_OK) return err;

    const int32_t n = spec->n_vocab;
    uint64_t total = 0;
    for (int32_t i = 0; i < n; i++) total += spec->piece_lens[i];
    /* A load factor of at most one half keeps probe sequences short. */
    uint64_t n_slots = 2;
    while (n_slots < 2 * (uint64_t)n) n_slots *= 2;

    aq_spm *tok = calloc(1, sizeof *tok);
    if (tok == NULL) goto out_of_memory;
    tok->text_pool = malloc(total > 0 ? (size_t)total : 1);
    tok->piece_offset = malloc(((size_t)n + 1) * sizeof *tok->piece_offset);
    tok->scores = malloc((size_t)n * sizeof *tok->scores);
    tok->types = malloc((size_t)n * sizeof *tok->types);
    tok->hash_slots = malloc((size_t)n_slots * sizeof *tok->hash_slots);
    if (!tok->text_pool || !tok->piece_offset || !tok->scores || !tok->types || !tok->hash_slots) goto out_of_memory;

    tok->n_vocab = n;
    tok->bos = spec->bos;
    tok->eos = spec->eos;
    tok->unk = spec->unk;
    tok->add_space_prefix = spec->add_space_prefix;
    tok->hash_mask = n_slots - 1;
    memset(tok->hash_slots, 0xFF, (size_t)n_slots * sizeof *tok->hash_slots);
    for (int b = 0; b < 256; b++) tok->byte_token[b] = -1;

    uint64_t offset = 0;
    for (int32_t i = 0; i < n; i++) {
        uint64_t len = spec->piece_lens[i];
        if (len > 0) memcpy(tok->text_pool + offset, spec->pieces[i], (size_t)len);
        tok->piece_offset[i] = offset;
        offset += len;
        tok->scores[i] = spec->scores ? spec->scores[i] : 0.0f;
        tok->types[i] = spec->types ? spec->types[i] : AQ_TOKEN_NORMAL;
    }
    tok->piece_offset[n] = offset;

    for (int32_t i = 0; i < n; i++) {
        uint64_t len;
        const char *text = piece_text(tok, i, &len);
        if (tok->types[i] == AQ_TOKEN_BYTE) {
            int byte = parse_byte_piece(text, len);
            if (tok->byte_token[byte] < 0) tok->byte_token[byte] = i;
            continue;
        }
        if (!can_come_from_text(tok->types[i]) || lookup_piece(tok, text, len) >= 0)
            continue; /* a repeated text keeps its first id */
        uint64_t slot = aq_hash_bytes(text, len) & tok->hash_mask;
        while (tok->hash_slots[slot] >= 0) slot = (slot + 1) & tok->hash_mask;
        tok->hash_slots[slot] = i;
    }
    *out = tok;
    return AQ_OK;

out_of_memory:
    aq_spm_free(tok);
    aq_format_message(msg, msg_cap, "tokenizer: out of memory");
    return AQ_ERR_OUT_OF_MEMORY;
}

void aq_spm_free(aq_spm *tok) {
    if (tok == NULL) return;
    free(tok->text_pool);
    free(tok->piece_offset);
    free(tok->scores);
    free(tok->types);
    free(tok->hash_slots);
    free(tok);
}

int32_t aq_spm_n_vocab(const aq_spm *tok) { return tok ? tok->n_vocab : 0; }

/* ---- encoding ---- */

typedef struct symbol {
    int32_t prev, next; /* neighbours in the list, -1 at the ends */
    size_t start, len;  /* bytes of the escaped text; len 0 once merged away */
} symbol;

typedef struct bigram {
    float score;
    int32_t left, right;
    size_t len; /* the pair's byte length when pushed, to spot stale pairs */
} bigram;

/* Heap order: higher score first, then the leftmost pair, as llama.cpp. */
static bool bigram_before(const bigram *a, const bigram *b) {
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

typedef struct bigram_heap {
    bigram *items;
    size_t count;
} bigram_heap;

static void heap_push(bigram_heap *heap, bigram item) {
    size_t i = heap->count++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!bigram_before(&item, &heap->items[parent])) break;
        heap->items[i] = heap->items[parent];
        i = parent;
    }
    heap->items[i] = item;
}

static bigram heap_pop(bigram_heap *heap) {
    bigram top = heap->items[0];
    bigram last = heap->items[--heap->count];
    size_t i = 0;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= heap->count) break;
        if (child + 1 < heap->count && bigram_before(&heap->items[child + 1], &heap->items[child])) child++;
        if (!bigram_before(&heap->items[child], &last)) break;
        heap->items[i] = heap->items[child];
        i = child;
    }
    if (heap->count > 0) heap->items[i] = last;
    return top;
}

typedef struct encode_state {
    const aq_spm *tok;
    const char *text; /* escaped */
    symbol *symbols;
    bigram_heap heap;
} encode_state;

static void try_add_bigram(encode_state *st, int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const symbol *l = &st->symbols[left], *r = &st->symbols[right];
    size_t len = l->len + r->len;
    int32_t id = lookup_piece(st->tok, st->text + l->start, len);
    if (id < 0) return;
    heap_push(&st->heap, (bigram){st->tok->scores[id], left, right, len});
}

/* Length of the UTF-8 character starting at text[0] (avail > 0 bytes), 1 for
 * a byte that does not start a well-formed sequence. */
static size_t utf8_char_len(const unsigned char *text, size_t avail) {
    unsigned char lead = text[0];
    size_t len = lead < 0x80 ? 1 : lead < 0xC0 ? 0 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : lead < 0xF8 ? 4 : 0;
    if (len == 0 || len > avail) return 1;
    for (size_t i = 1; i < len; i++)
        if ((text[i] & 0xC0) != 0x80) return 1;
    return len;
}

typedef struct token_sink {
    int32_t *tokens;
    int32_t capacity;
    int64_t count;
} token_sink;

static void emit_token(token_sink *sink, int32_t id) {
    if (sink->count < sink->capacity) sink->tokens[sink->count] = id;
    sink->count++;
}

aq_error aq_spm_encode(const aq_spm *tok, const char *text, size_t len, bool add_bos, int32_t *tokens, int32_t capacity,
                       int32_t *n_tokens) {
    if (n_tokens != NULL) *n_tokens = 0;
    if (tok == NULL || n_tokens == NULL || (text == NULL && len > 0) || capacity < 0 ||
        (tokens == NULL && capacity > 0))
        return AQ_ERR_INVALID_ARGUMENT;
    if (add_bos && tok->bos < 0) return AQ_ERR_UNSUPPORTED; /* asked for a BOS the vocabulary does not have */

    /* Every input byte yields at most one token (three for a space, which
     * becomes one marker of three bytes); keep counts within int32_t. */
    if (len > (size_t)(INT32_MAX / 4) - 2) return AQ_ERR_OUT_OF_RANGE;

    token_sink sink = {tokens, capacity, 0};
    if (add_bos) emit_token(&sink, tok->bos);
    /* Empty text gives no tokens, not even the space prefix, as llama.cpp. */
    if (len == 0) {
        *n_tokens = (int32_t)sink.count;
        return sink.count > capacity ? AQ_ERR_BUFFER_TOO_SMALL : AQ_OK;
    }

    size_t escaped_cap = 3 * (len + 1);
    char *escaped = malloc(escaped_cap);
    /* Each input byte starts at most one character, the prefix one more. */
    symbol *symbols = malloc((len + 1) * sizeof *symbols);
    /* The heap starts with n - 1 pairs; each merge pops one and pushes at
     * most two, and there are at most n - 1 merges: 2n bounds it. */
    bigram *heap_items = malloc(2 * (len + 1) * sizeof *heap_items);
    if (!escaped || !symbols || !heap_items) {
        free(escaped);
        free(symbols);
        free(heap_items);
        return AQ_ERR_OUT_OF_MEMORY;
    }

    size_t escaped_len = 0;
    if (tok->add_space_prefix) {
        memcpy(escaped, space_marker, 3);
        escaped_len = 3;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') {
            memcpy(escaped + escaped_len, space_marker, 3);
            escaped_len += 3;
        } else {
            escaped[escaped_len++] = text[i];
        }
    }

    int32_t n_symbols = 0;
    for (size_t offset = 0; offset < escaped_len;) {
        size_t char_len = utf8_char_len((const unsigned char *)escaped + offset, escaped_len - offset);
        symbols[n_symbols] = (symbol){n_symbols - 1, -1, offset, char_len};
        if (n_symbols > 0) symbols[n_symbols - 1].next = n_symbols;
        n_symbols++;
        offset += char_len;
    }

    encode_state st = {tok, escaped, symbols, {heap_items, 0}};
    for (int32_t i = 1; i < n_symbols; i++) try_add_bigram(&st, i - 1, i);

    while (st.heap.count > 0) {
        bigram best = heap_pop(&st.heap);
        symbol *left = &symbols[best.left], *right = &symbols[best.right];
        if (left->len == 0 || right->len == 0 || left->len + right->len != best.len)
            continue; /* one side was merged into something else since */
        left->len += right->len;
        right->len = 0;
        left->next = right->next;
        if (right->next >= 0) symbols[right->next].prev = best.left;
        try_add_bigram(&st, left->prev, best.left);
        try_add_bigram(&st, best.left, left->next);
    }

    aq_error err = AQ_OK;
    for (int32_t i = 0; i >= 0 && err == AQ_OK; i = symbols[i].next) {
        const symbol *sym = &symbols[i];
        int32_t id = lookup_piece(tok, escaped + sym->start, sym->len);
        if (id >= 0) {
            emit_token(&sink, id);
            continue;
        }
        for (size_t b = 0; b < sym->len; b++) {
            int32_t byte_id = tok->byte_token[(unsigned char)escaped[sym->start + b]];
            if (byte_id < 0) byte_id = tok->unk;
            if (byte_id < 0) {
                err = AQ_ERR_UNSUPPORTED; /* neither a byte token nor <unk> to stand for it */
                break;
            }
            emit_token(&sink, byte_id);
        }
    }
    free(escaped);
    free(symbols);
    free(heap_items);
    if (err != AQ_OK) return err;
    *n_tokens = (int32_t)sink.count;
    return sink.count > capacity ? AQ_ERR_BUFFER_TOO_SMALL : AQ_OK;
}

/* ---- decoding ---- */

typedef struct byte_sink {
    char *buf;
    size_t capacity;
    size_t length; /* bytes produced, also past the capacity */
} byte_sink;

static void emit_bytes(byte_sink *sink, const char *bytes, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (sink->length < sink->capacity) sink->buf[sink->length] = bytes[i];
        sink->length++;
    }
}

/* Appends the token's text; drop_space removes one leading space (the one
 * add_space_prefix put in front of the text). */
static void emit_piece(const aq_spm *tok, int32_t id, bool drop_space, byte_sink *sink) {
    int32_t type = tok->types[id];
    uint64_t len;
    const char *text = piece_text(tok, id, &len);
    if (type == AQ_TOKEN_CONTROL || type == AQ_TOKEN_UNKNOWN)
        return; /* llama.cpp prints unknown as U+2585, SentencePiece as " \u2047 "; we print nothing */
    if (type == AQ_TOKEN_BYTE) {
        char byte = (char)parse_byte_piece(text, len);
        if (!(drop_space && byte == ' ')) emit_bytes(sink, &byte, 1);
        return;
    }
    if (type == AQ_TOKEN_USER_DEFINED) {
        /* Verbatim, markers included, as llama.cpp. */
        if (drop_space && len > 0 && text[0] == ' ') {
            text++;
            len--;
        }
        emit_bytes(sink, text, (size_t)len);
        return;
    }
    for (uint64_t i = 0; i < len;) {
        if (len - i >= 3 && memcmp(text + i, space_marker, 3) == 0) {
            if (!(drop_space && i == 0)) emit_bytes(sink, " ", 1);
            i += 3;
        } else {
            if (i == 0 && drop_space && text[0] == ' ') {
                i++;
                continue;
            }
            emit_bytes(sink, text + i, 1);
            i++;
        }
    }
}

aq_error aq_spm_piece(const aq_spm *tok, int32_t token, char *buf, size_t capacity, size_t *length) {
    if (length != NULL) *length = 0;
    if (tok == NULL || length == NULL || (buf == NULL && capacity > 0)) return AQ_ERR_INVALID_ARGUMENT;
    if (token < 0 || token >= tok->n_vocab) return AQ_ERR_OUT_OF_RANGE;
    byte_sink sink = {buf, capacity, 0};
    emit_piece(tok, token, false, &sink);
    *length = sink.length;
    return sink.length > capacity ? AQ_ERR_BUFFER_TOO_SMALL : AQ_OK;
}

aq_error aq_spm_decode(const aq_spm *tok, const int32_t *tokens, int32_t n_tokens, char *buf, size_t capacity,
                       size_t *length) {
    if (length != NULL) *length = 0;
    if (tok == NULL || length == NULL || n_tokens < 0 || (tokens == NULL && n_tokens > 0) ||
        (buf == NULL && capacity > 0))
        return AQ_ERR_INVALID_ARGUMENT;
    for (int32_t i = 0; i < n_tokens; i++)
        if (tokens[i] < 0 || tokens[i] >= tok->n_vocab) return AQ_ERR_OUT_OF_RANGE;

    byte_sink sink = {buf, capacity, 0};
    /* The prefix space belongs to the first token that is not a control
     * token (a BOS may come before it). */
    bool drop_space = tok->add_space_prefix;
    for (int32_t i = 0; i < n_tokens; i++) {
        if (tok->types[tokens[i]] == AQ_TOKEN_CONTROL) continue;
        emit_piece(tok, tokens[i], drop_space, &sink);
        drop_space = false;
    }
    *length = sink.length;
    return sink.length > capacity ? AQ_ERR_BUFFER_TOO_SMALL : AQ_OK;
}
