/* Byte-level BPE tokenizer; see bpe.h for what it does and does not do.
 *
 * Tables built once by aq_bpe_create, read-only afterwards:
 *   - a hash table of the normal tokens' texts (text -> id);
 *   - the token of each of the 256 bytes (GPT-2's printable character for
 *     the byte, looked up in that table);
 *   - a hash table of the merges, keyed by the ids of the two sides, giving
 *     the rank and the id of the merged token;
 *   - a byte trie of the added tokens (control, unknown, user-defined);
 *   - the pre-tokenizer's regular expressions, compiled (and JIT-compiled
 *     where PCRE2 can) once.
 * Per encode call: a cache of the words already merged in this call, and
 * scratch arrays. Merging one word of n bytes costs O(n log n) (a heap of
 * candidate pairs, stale entries skipped), so a run of one character does not
 * turn quadratic. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "bpe.h"

#include "error.h"
#include "hash.h"

#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { T_NORMAL = 1, T_UNKNOWN = 2, T_CONTROL = 3, T_USER = 4, T_UNUSED = 5, T_BYTE = 6 };

/* ---- pre-tokenizers ----
 * Regular expressions from the tokenizer.json files (Hugging Face) and
 * llama.cpp's src/llama-vocab.cpp, in PCRE2 syntax. \s is spelled out as the
 * Unicode White_Space set, which is what HF's regex engine (Oniguruma)
 * matches; PCRE2's own \s also takes U+180E. */
#define WS                                                                                                             \
    "\\t\\n\\x{0B}\\f\\r\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{"     \
    "3000}"
#define SP "[" WS "]"
#define NOT_SP "[^" WS "]"

/* GPT-2 (tokenizer.json ByteLevel with use_regex). */
static const char re_gpt2[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" WS "\\p{L}\\p{N}]+|" SP "+(?!" NOT_SP ")|" SP "+";
/* Llama 3 (tokenizer.json Split). */
static const char re_llama3[] = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^" WS
                                "\\p{L}\\p{N}]+[\\r\\n]*|" SP "*[\\r\\n]+|" SP "+(?!" NOT_SP ")|" SP "+";
/* Qwen2 and Qwen3: as Llama 3 but one digit at a time. */
static const char re_qwen2[] = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^" WS
                               "\\p{L}\\p{N}]+[\\r\\n]*|" SP "*[\\r\\n]+|" SP "+(?!" NOT_SP ")|" SP "+";
/* SmolLM, StarCoder: digits one by one (HF Digits(individual_digits)), then GPT-2's. */
static const char re_digit[] = "\\p{N}";
/* BLOOM's Split: anything but white space and ( ) | . , ! ? … 。 ， 、 । ۔ ، */
static const char re_bloom[] = " ?[^(" WS "|.,!?\\x{2026}\\x{3002}\\x{FF0C}\\x{3001}\\x{0964}\\x{06D4}\\x{060C})]+";
/* llama.cpp's "default" (also for a GGUF without tokenizer.ggml.pre). */
static const char re_default_punct[] = "[\\p{P}\\$\\+<=>\\^~\\|]+";
static const char re_default_gpt2[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" WS "\\p{L}\\p{N}]+|" SP "+(?!" NOT_SP ")";
static const char re_numbers[] = "\\p{N}+";
static const char re_three_digits[] = "[0-9][0-9][0-9]";

#define MAX_REGEX 4

typedef struct pre_tokenizer {
    const char *const *names; /* NULL-terminated */
    const char *regex[MAX_REGEX + 1];
    bool ignore_merges; /* a piece that is a token is that token, merges or not (HF ignore_merges) */
} pre_tokenizer;

static const char *const names_default[] = {"default", NULL};
static const char *const names_gpt2[] = {"gpt-2", "phi-2", "roberta-bpe", "mpt", "olmo", "jais", NULL};
static const char *const names_llama3[] = {"llama-bpe", "llama3", "llama-v3", "falcon3", NULL};
static const char *const names_llama3_merges[] = {"dbrx", "smaug-bpe", NULL};
static const char *const names_qwen2[] = {"qwen2", "deepseek-r1-qwen", "stablelm2", "megrez", NULL};
static const char *const names_smollm[] = {"smollm",    "starcoder", "refact",     "command-r",
                                           "codeshell", "exaone",    "minerva-7b", NULL};
static const char *const names_bloom[] = {"bloom", "poro-chat", "gpt3-finnish", NULL};

static const pre_tokenizer pre_tokenizers[] = {
    {names_default, {re_default_punct, re_default_gpt2, re_numbers, re_three_digits, NULL}, false},
    {names_gpt2, {re_gpt2, NULL}, false},
    {names_llama3, {re_llama3, NULL}, true},
    {names_llama3_merges, {re_llama3, NULL}, false},
    {names_qwen2, {re_qwen2, NULL}, false},
    {names_smollm, {re_digit, re_gpt2, NULL}, false},
    {names_bloom, {re_bloom, NULL}, false},
};

static const pre_tokenizer *find_pre(const char *pre, size_t pre_len) {
    if (pre == NULL || pre_len == 0) {
        pre = "default";
        pre_len = 7;
    }
    for (size_t i = 0; i < sizeof pre_tokenizers / sizeof pre_tokenizers[0]; i++)
        for (const char *const *n = pre_tokenizers[i].names; *n != NULL; n++)
            if (strlen(*n) == pre_len && memcmp(*n, pre, pre_len) == 0) return &pre_tokenizers[i];
    return NULL;
}

bool aq_bpe_pre_known(const char *pre, size_t pre_len) { return find_pre(pre, pre_len) != NULL; }

/* ---- the tokenizer ---- */

typedef struct merge_slot {
    int32_t left, right; /* token ids; left -1: empty slot */
    int32_t rank, result;
} merge_slot;

typedef struct trie_node {
    int32_t first_child, next_sibling; /* node indices, -1 for none */
    int32_t any_token;                 /* token ending here (any added type), or -1 */
    int32_t user_token;                /* user-defined token ending here, or -1 */
    unsigned char byte;
} trie_node;

struct aq_bpe {
    int32_t n_vocab;
    char *pool;       /* all token texts, back to back */
    uint64_t *offset; /* n_vocab + 1 offsets into pool */
    int32_t *types;
    int32_t bos, eos;
    int32_t *text_slots; /* normal tokens by text; -1 empty */
    uint64_t text_mask;
    merge_slot *merge_slots;
    uint64_t merge_mask;
    int32_t byte_token[256];         /* token of each byte's character, -1 if none */
    unsigned char byte_char[256][2]; /* each byte's character in UTF-8 */
    unsigned char byte_char_len[256];
    int16_t char_byte[324]; /* code point (< 324) -> byte, -1 if none */
    trie_node *trie;
    int32_t n_trie;
    int32_t trie_first[256]; /* first-level node of each first byte, -1 */
    pcre2_code *re[MAX_REGEX];
    int n_re;
    bool ignore_merges;
};

static uint64_t hash_pair(int32_t a, int32_t b) {
    uint64_t x = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b; /* splitmix64 finalizer */
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static const char *token_text(const aq_bpe *bpe, int32_t id, size_t *len) {
    *len = (size_t)(bpe->offset[id + 1] - bpe->offset[id]);
    return bpe->pool + bpe->offset[id];
}

/* The normal token spelled text[0..len), or -1. */
static int32_t lookup_text(const aq_bpe *bpe, const char *text, size_t len) {
    for (uint64_t slot = aq_hash_bytes(text, len) & bpe->text_mask;; slot = (slot + 1) & bpe->text_mask) {
        int32_t id = bpe->text_slots[slot];
        if (id < 0) return -1;
        size_t id_len;
        const char *id_text = token_text(bpe, id, &id_len);
        if (id_len == len && memcmp(id_text, text, len) == 0) return id;
    }
}

static const merge_slot *lookup_merge(const aq_bpe *bpe, int32_t left, int32_t right) {
    for (uint64_t slot = hash_pair(left, right) & bpe->merge_mask;; slot = (slot + 1) & bpe->merge_mask) {
        const merge_slot *m = &bpe->merge_slots[slot];
        if (m->left < 0) return NULL;
        if (m->left == left && m->right == right) return m;
    }
}

static uint64_t table_size(uint64_t n) {
    uint64_t size = 16;
    while (size < n + n / 2) size *= 2;
    return size;
}

/* GPT-2's bytes_to_unicode(): printable Latin-1 bytes stand for themselves,
 * the other 68 bytes for U+0100 onwards, in byte order. */
static void make_byte_chars(aq_bpe *bpe) {
    for (int i = 0; i < 324; i++) bpe->char_byte[i] = -1;
    int next = 256;
    for (int b = 0; b < 256; b++) {
        bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
        int cp = printable ? b : next++;
        bpe->char_byte[cp] = (int16_t)b;
        if (cp < 0x80) {
            bpe->byte_char[b][0] = (unsigned char)cp;
            bpe->byte_char_len[b] = 1;
        } else {
            bpe->byte_char[b][0] = (unsigned char)(0xC0 | (cp >> 6));
            bpe->byte_char[b][1] = (unsigned char)(0x80 | (cp & 0x3F));
            bpe->byte_char_len[b] = 2;
        }
    }
}

static bool trie_add(aq_bpe *bpe, int32_t id, int32_t capacity) {
    size_t len;
    const char *text = token_text(bpe, id, &len);
    if (len == 0) return true;
    int32_t node = -1;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        int32_t *link = node < 0 ? &bpe->trie_first[c] : &bpe->trie[node].first_child;
        int32_t child = *link;
        if (node >= 0)
            while (child >= 0 && bpe->trie[child].byte != c) child = bpe->trie[child].next_sibling;
        if (child < 0) {
            if (bpe->n_trie >= capacity) return false;
            child = bpe->n_trie++;
            bpe->trie[child] = (trie_node){-1, node < 0 ? -1 : *link, -1, -1, c};
            *link = child;
        }
        node = child;
    }
    trie_node *end = &bpe->trie[node];
    if (end->any_token < 0) end->any_token = id; /* a repeated text keeps its first id */
    if (bpe->types[id] == T_USER && end->user_token < 0) end->user_token = id;
    return true;
}

static aq_error validate_spec(const aq_bpe_spec *spec, char *msg, size_t msg_cap) {
    if (spec->n_vocab < 1 || spec->tokens == NULL || spec->token_lens == NULL) {
        aq_format_message(msg, msg_cap, "bpe: no tokens");
        return AQ_ERR_INVALID_ARGUMENT;
    }
    if (spec->n_merges < 0 || (spec->n_merges > 0 && (spec->merges == NULL || spec->merge_lens == NULL))) {
        aq_format_message(msg, msg_cap, "bpe: merges missing");
        return AQ_ERR_INVALID_ARGUMENT;
    }
    if (spec->bos < -1 || spec->bos >= spec->n_vocab || spec->eos < -1 || spec->eos >= spec->n_vocab) {
        aq_format_message(msg, msg_cap, "bpe: bos %d or eos %d outside the vocabulary of %d", (int)spec->bos,
                          (int)spec->eos, (int)spec->n_vocab);
        return AQ_ERR_OUT_OF_RANGE;
    }
    uint64_t total = 0;
    for (int32_t i = 0; i < spec->n_vocab; i++) {
        uint64_t len = spec->token_lens[i];
        if (spec->tokens[i] == NULL && len > 0) {
            aq_format_message(msg, msg_cap, "bpe: token %d is NULL", (int)i);
            return AQ_ERR_INVALID_ARGUMENT;
        }
        if (len > SIZE_MAX / 4 - total) {
            aq_format_message(msg, msg_cap, "bpe: tokens too long");
            return AQ_ERR_FORMAT;
        }
        total += len;
        if (spec->types != NULL && (spec->types[i] < T_NORMAL || spec->types[i] > T_BYTE)) {
            aq_format_message(msg, msg_cap, "bpe: token %d has type %d, not 1..6", (int)i, (int)spec->types[i]);
            return AQ_ERR_FORMAT;
        }
    }
    for (int32_t i = 0; i < spec->n_merges; i++) {
        if (spec->merges[i] == NULL || spec->merge_lens[i] < 3 || spec->merge_lens[i] > SIZE_MAX / 4 ||
            memchr(spec->merges[i] + 1, ' ', (size_t)spec->merge_lens[i] - 1) == NULL) {
            aq_format_message(msg, msg_cap, "bpe: merge %d is not \"left right\"", (int)i);
            return AQ_ERR_FORMAT;
        }
    }
    if (find_pre(spec->pre, spec->pre_len) == NULL) {
        aq_format_message(msg, msg_cap, "bpe: unknown pre-tokenizer \"%.*s\"",
                          (int)(spec->pre_len > 64 ? 64 : spec->pre_len), spec->pre);
        return AQ_ERR_UNSUPPORTED;
    }
    return AQ_OK;
}

static aq_error build_merges(aq_bpe *bpe, const aq_bpe_spec *spec) {
    size_t longest = 0;
    for (int32_t i = 0; i < spec->n_merges; i++)
        if (spec->merge_lens[i] > longest) longest = (size_t)spec->merge_lens[i];
    char *joined = malloc(longest + 1);
    if (joined == NULL) return AQ_ERR_OUT_OF_MEMORY;
    for (int32_t i = 0; i < spec->n_merges; i++) {
        const char *m = spec->merges[i];
        size_t len = (size_t)spec->merge_lens[i];
        /* The separator is the first space after the first byte (as llama.cpp). */
        size_t sep = (size_t)((const char *)memchr(m + 1, ' ', len - 1) - m);
        int32_t left = lookup_text(bpe, m, sep);
        int32_t right = lookup_text(bpe, m + sep + 1, len - sep - 1);
        memcpy(joined, m, sep);
        memcpy(joined + sep, m + sep + 1, len - sep - 1);
        int32_t result = lookup_text(bpe, joined, len - 1);
        if (left < 0 || right < 0 || result < 0) continue;
        uint64_t slot = hash_pair(left, right) & bpe->merge_mask;
        while (bpe->merge_slots[slot].left >= 0 &&
               !(bpe->merge_slots[slot].left == left && bpe->merge_slots[slot].right == right))
            slot = (slot + 1) & bpe->merge_mask;
        if (bpe->merge_slots[slot].left >= 0) continue; /* a repeated merge keeps its first rank */
        bpe->merge_slots[slot] = (merge_slot){left, right, i, result};
    }
    free(joined);
    return AQ_OK;
}

aq_error aq_bpe_create(const aq_bpe_spec *spec, aq_bpe **out, char *msg, size_t msg_cap) {
    aq_format_message(msg, msg_cap, "%s", "");
    if (out == NULL || spec == NULL) {
        aq_format_message(msg, msg_cap, "bpe: NULL argument");
        return AQ_ERR_INVALID_ARGUMENT;
    }
    *out = NULL;
    aq_error err = validate_spec(spec, msg, msg_cap);
    if (err != AQ_OK) return err;
    const pre_tokenizer *pre = find_pre(spec->pre, spec->pre_len);

    const int32_t n = spec->n_vocab;
    uint64_t total = 0;
    int32_t n_added_bytes = 0;
    for (int32_t i = 0; i < n; i++) {
        total += spec->token_lens[i];
        int32_t type = spec->types ? spec->types[i] : T_NORMAL;
        if (type == T_CONTROL || type == T_UNKNOWN || type == T_USER) {
            if (spec->token_lens[i] > (uint64_t)(INT32_MAX / 2 - n_added_bytes)) {
                aq_format_message(msg, msg_cap, "bpe: added tokens too long");
                return AQ_ERR_FORMAT;
            }
            n_added_bytes += (int32_t)spec->token_lens[i];
        }
    }
    uint64_t n_text_slots = table_size((uint64_t)n);
    uint64_t n_merge_slots = table_size((uint64_t)spec->n_merges);

    aq_bpe *bpe = calloc(1, sizeof *bpe);
    if (bpe == NULL) goto out_of_memory;
    bpe->pool = malloc(total > 0 ? (size_t)total : 1);
    bpe->offset = malloc(((size_t)n + 1) * sizeof *bpe->offset);
    bpe->types = malloc((size_t)n * sizeof *bpe->types);
    bpe->text_slots = malloc((size_t)n_text_slots * sizeof *bpe->text_slots);
    bpe->merge_slots = malloc((size_t)n_merge_slots * sizeof *bpe->merge_slots);
    bpe->trie = malloc(((size_t)n_added_bytes + 1) * sizeof *bpe->trie);
    if (!bpe->pool || !bpe->offset || !bpe->types || !bpe->text_slots || !bpe->merge_slots || !bpe->trie)
        goto out_of_memory;
    bpe->n_vocab = n;
    bpe->bos = spec->bos;
    bpe->eos = spec->eos;
    bpe->text_mask = n_text_slots - 1;
    bpe->merge_mask = n_merge_slots - 1;
    bpe->ignore_merges = pre->ignore_merges;
    memset(bpe->text_slots, 0xFF, (size_t)n_text_slots * sizeof *bpe->text_slots);
    for (uint64_t s = 0; s < n_merge_slots; s++) bpe->merge_slots[s].left = -1;
    for (int b = 0; b < 256; b++) bpe->trie_first[b] = -1;

    uint64_t offset = 0;
    for (int32_t i = 0; i < n; i++) {
        uint64_t len = spec->token_lens[i];
        if (len > 0) memcpy(bpe->pool + offset, spec->tokens[i], (size_t)len);
        bpe->offset[i] = offset;
        offset += len;
        bpe->types[i] = spec->types ? spec->types[i] : T_NORMAL;
    }
    bpe->offset[n] = offset;

    for (int32_t i = 0; i < n; i++) {
        int32_t type = bpe->types[i];
        if (type == T_CONTROL || type == T_UNKNOWN || type == T_USER) {
            if (!trie_add(bpe, i, n_added_bytes + 1)) goto out_of_memory; /* cannot happen: one node per byte at most */
            continue;
        }
        if (type != T_NORMAL) continue;
        size_t len;
        const char *text = token_text(bpe, i, &len);
        if (lookup_text(bpe, text, len) >= 0) continue; /* a repeated text keeps its first id */
        uint64_t slot = aq_hash_bytes(text, len) & bpe->text_mask;
        while (bpe->text_slots[slot] >= 0) slot = (slot + 1) & bpe->text_mask;
        bpe->text_slots[slot] = i;
    }

    make_byte_chars(bpe);
    for (int b = 0; b < 256; b++)
        bpe->byte_token[b] = lookup_text(bpe, (const char *)bpe->byte_char[b], bpe->byte_char_len[b]);

    err = build_merges(bpe, spec);
    if (err != AQ_OK) goto out_of_memory;

    for (int r = 0; pre->regex[r] != NULL; r++) {
        int code;
        PCRE2_SIZE where;
        bpe->re[r] =
            pcre2_compile((PCRE2_SPTR)pre->regex[r], PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &code, &where, NULL);
        if (bpe->re[r] == NULL) {
            PCRE2_UCHAR text[120];
            pcre2_get_error_message(code, text, sizeof text);
            aq_format_message(msg, msg_cap, "bpe: regular expression %d at %zu: %s", r, (size_t)where,
                              (const char *)text);
            aq_bpe_free(bpe);
            return AQ_ERR_UNSUPPORTED;
        }
        bpe->n_re = r + 1;
        /* Where JIT is not available, pcre2_match interprets instead. */
        (void)pcre2_jit_compile(bpe->re[r], PCRE2_JIT_COMPLETE);
    }
    *out = bpe;
    return AQ_OK;

out_of_memory:
    aq_bpe_free(bpe);
    aq_format_message(msg, msg_cap, "bpe: out of memory");
    return AQ_ERR_OUT_OF_MEMORY;
}

void aq_bpe_free(aq_bpe *bpe) {
    if (bpe == NULL) return;
    for (int r = 0; r < bpe->n_re; r++) pcre2_code_free(bpe->re[r]);
    free(bpe->pool);
    free(bpe->offset);
    free(bpe->types);
    free(bpe->text_slots);
    free(bpe->merge_slots);
    free(bpe->trie);
    free(bpe);
}

int32_t aq_bpe_n_vocab(const aq_bpe *bpe) { return bpe ? bpe->n_vocab : 0; }

int32_t aq_bpe_bos(const aq_bpe *bpe) { return bpe ? bpe->bos : -1; }

int32_t aq_bpe_eos(const aq_bpe *bpe) { return bpe ? bpe->eos : -1; }

/* ---- encoding ---- */

typedef struct range {
    size_t start, end;
} range;

typedef struct symbol {
    int32_t id;         /* -1 once merged into its left neighbour */
    int32_t prev, next; /* -1 at the ends */
} symbol;

typedef struct candidate {
    int32_t rank, left, right; /* symbol indices */
    int32_t left_id, right_id; /* their ids when pushed, to spot stale entries */
} candidate;

typedef struct cache_entry {
    const char *word; /* into the caller's text; NULL: empty slot */
    size_t len;
    size_t ids_start, n_ids; /* in cache_ids */
} cache_entry;

#define CACHE_MAX_WORD 64 /* longer words are merged every time */

typedef struct encoder {
    const aq_bpe *bpe;
    int32_t *tokens;
    int32_t capacity;
    int64_t count;
    aq_error err;
    pcre2_match_data *match;
    /* scratch, grown as needed */
    char *clean; /* the fragment with U+FFFD for each byte that is not UTF-8 */
    size_t clean_cap;
    size_t *raw_of; /* offset in the fragment of each byte of clean */
    size_t raw_of_cap;
    range *pieces[2];
    size_t pieces_cap[2];
    symbol *symbols;
    size_t word_cap;
    candidate *heap; /* 2 * word length: see merge_word */
    size_t heap_cap;
    char *mapped; /* a word in GPT-2's characters (for ignore_merges) */
    size_t mapped_cap;
    cache_entry *cache;
    size_t cache_mask, cache_count;
    int32_t *cache_ids;
    size_t cache_ids_len, cache_ids_cap;
} encoder;

static bool grow(encoder *e, void **buf, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return true;
    size_t c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    void *p = realloc(*buf, c * elem);
    if (p == NULL) {
        e->err = AQ_ERR_OUT_OF_MEMORY;
        return false;
    }
    *buf = p;
    *cap = c;
    return true;
}

static void emit(encoder *e, int32_t id) {
    if (e->count < e->capacity) e->tokens[e->count] = id;
    e->count++;
}

/* Length of the well-formed UTF-8 character at s[0] (avail > 0 bytes), or 0
 * if s[0] does not start one (Unicode's Table 3-7: no overlong forms, no
 * surrogates, nothing above U+10FFFF). */
static size_t utf8_valid_len(const unsigned char *s, size_t avail) {
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF; /* bounds of the second byte */
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    if (n > avail || s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < n; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    return n;
}

/* ---- BPE on one word ---- */

static bool heap_before(const candidate *a, const candidate *b) {
    return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}

static void heap_push(candidate *heap, size_t *count, candidate item) {
    size_t i = (*count)++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!heap_before(&item, &heap[parent])) break;
        heap[i] = heap[parent];
        i = parent;
    }
    heap[i] = item;
}

static candidate heap_pop(candidate *heap, size_t *count) {
    candidate top = heap[0];
    candidate last = heap[--*count];
    size_t i = 0;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= *count) break;
        if (child + 1 < *count && heap_before(&heap[child + 1], &heap[child])) child++;
        if (!heap_before(&heap[child], &last)) break;
        heap[i] = heap[child];
        i = child;
    }
    if (*count > 0) heap[i] = last;
    return top;
}

static void push_pair(encoder *e, size_t *heap_count, int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const symbol *l = &e->symbols[left], *r = &e->symbols[right];
    const merge_slot *m = lookup_merge(e->bpe, l->id, r->id);
    if (m != NULL) heap_push(e->heap, heap_count, (candidate){m->rank, left, right, l->id, r->id});
}

/* Appends the tokens of one pre-tokenized word (raw bytes) to out. */
static void merge_word(encoder *e, const unsigned char *word, size_t len, void (*out)(encoder *, int32_t)) {
    const aq_bpe *bpe = e->bpe;
    if (bpe->ignore_merges) {
        size_t need = 2 * len;
        if (!grow(e, (void **)&e->mapped, &e->mapped_cap, need, 1)) return;
        size_t m = 0;
        for (size_t i = 0; i < len; i++) {
            memcpy(e->mapped + m, bpe->byte_char[word[i]], bpe->byte_char_len[word[i]]);
            m += bpe->byte_char_len[word[i]];
        }
        int32_t id = lookup_text(bpe, e->mapped, m);
        if (id >= 0) {
            out(e, id);
            return;
        }
    }
    if (!grow(e, (void **)&e->symbols, &e->word_cap, len, sizeof *e->symbols) ||
        !grow(e, (void **)&e->heap, &e->heap_cap, 2 * len, sizeof *e->heap))
        return;

    /* One symbol per byte the vocabulary has; the others are dropped, and
     * their neighbours become adjacent (as HF's BPE without unknown token). */
    int32_t n = 0;
    for (size_t i = 0; i < len; i++) {
        int32_t id = bpe->byte_token[word[i]];
        if (id < 0) continue;
        e->symbols[n] = (symbol){id, n - 1, -1};
        if (n > 0) e->symbols[n - 1].next = n;
        n++;
    }
    if (n == 0) return;
    size_t heap_count = 0;
    for (int32_t i = 0; i + 1 < n; i++) push_pair(e, &heap_count, i, i + 1);
    /* The heap starts with at most n - 1 pairs; each merge pops one and
     * pushes at most two, and there are at most n - 1 merges. */
    while (heap_count > 0) {
        candidate c = heap_pop(e->heap, &heap_count);
        symbol *l = &e->symbols[c.left], *r = &e->symbols[c.right];
        if (l->id != c.left_id || r->id != c.right_id || l->next != c.right)
            continue; /* stale: one side has merged since */
        l->id = lookup_merge(bpe, c.left_id, c.right_id)->result;
        r->id = -1;
        l->next = r->next;
        if (r->next >= 0) e->symbols[r->next].prev = c.left;
        push_pair(e, &heap_count, l->prev, c.left);
        push_pair(e, &heap_count, c.left, l->next);
    }
    for (int32_t i = 0; i >= 0; i = e->symbols[i].next) out(e, e->symbols[i].id);
}

static void out_to_cache(encoder *e, int32_t id) {
    if (!grow(e, (void **)&e->cache_ids, &e->cache_ids_cap, e->cache_ids_len + 1, sizeof *e->cache_ids)) return;
    e->cache_ids[e->cache_ids_len++] = id;
}

static bool cache_grow(encoder *e) {
    size_t n_slots = e->cache ? (e->cache_mask + 1) * 2 : 1024;
    cache_entry *slots = calloc(n_slots, sizeof *slots);
    if (slots == NULL) {
        e->err = AQ_ERR_OUT_OF_MEMORY;
        return false;
    }
    if (e->cache != NULL) {
        for (size_t i = 0; i <= e->cache_mask; i++) {
            if (e->cache[i].word == NULL) continue;
            size_t s = aq_hash_bytes(e->cache[i].word, e->cache[i].len) & (n_slots - 1);
            while (slots[s].word != NULL) s = (s + 1) & (n_slots - 1);
            slots[s] = e->cache[i];
        }
        free(e->cache);
    }
    e->cache = slots;
    e->cache_mask = n_slots - 1;
    return true;
}

static void encode_word(encoder *e, const char *word, size_t len) {
    if (len == 0) return;
    if (len > CACHE_MAX_WORD) {
        merge_word(e, (const unsigned char *)word, len, emit);
        return;
    }
    if ((e->cache == NULL || 2 * (e->cache_count + 1) > e->cache_mask + 1) && !cache_grow(e)) return;
    size_t s = aq_hash_bytes(word, len) & e->cache_mask;
    for (; e->cache[s].word != NULL; s = (s + 1) & e->cache_mask) {
        const cache_entry *c = &e->cache[s];
        if (c->len == len && memcmp(c->word, word, len) == 0) {
            for (size_t i = 0; i < c->n_ids; i++) emit(e, e->cache_ids[c->ids_start + i]);
            return;
        }
    }
    size_t start = e->cache_ids_len;
    merge_word(e, (const unsigned char *)word, len, out_to_cache);
    if (e->err != AQ_OK) return;
    e->cache[s] = (cache_entry){word, len, start, e->cache_ids_len - start};
    e->cache_count++;
    for (size_t i = start; i < e->cache_ids_len; i++) emit(e, e->cache_ids[i]);
}

/* ---- pre-tokenization ---- */

static bool add_piece(encoder *e, int which, size_t *count, size_t start, size_t end) {
    if (!grow(e, (void **)&e->pieces[which], &e->pieces_cap[which], *count + 1, sizeof(range))) return false;
    e->pieces[which][(*count)++] = (range){start, end};
    return true;
}

/* Splits clean[piece] by the regular expression: matches and the text
 * between them both become pieces (HF's "Isolated"). The piece is the whole
 * subject, so a look-ahead sees its end as the end of the text, as in HF. */
static bool split_piece(encoder *e, const pcre2_code *re, range piece, int which, size_t *count) {
    const char *subject = e->clean + piece.start;
    size_t len = piece.end - piece.start;
    size_t at = 0, done = 0;
    while (at < len) {
        int rc = pcre2_match(re, (PCRE2_SPTR)subject, len, at, PCRE2_NO_UTF_CHECK, e->match, NULL);
        if (rc < 0 && rc != PCRE2_ERROR_NOMATCH) /* e.g. the JIT stack is too small: the interpreter uses the heap */
            rc = pcre2_match(re, (PCRE2_SPTR)subject, len, at, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, e->match, NULL);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) {
            e->err = rc == PCRE2_ERROR_NOMEMORY ? AQ_ERR_OUT_OF_MEMORY : AQ_ERR_UNSUPPORTED;
            return false;
        }
        const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(e->match);
        size_t m0 = ov[0], m1 = ov[1];
        if (m1 <= m0) { /* an empty match (none of ours can): step over one character */
            at = m0 + 1;
            while (at < len && ((unsigned char)subject[at] & 0xC0) == 0x80) at++;
            continue;
        }
        if (m0 > done && !add_piece(e, which, count, piece.start + done, piece.start + m0)) return false;
        if (!add_piece(e, which, count, piece.start + m0, piece.start + m1)) return false;
        at = done = m1;
    }
    if (done < len && !add_piece(e, which, count, piece.start + done, piece.end)) return false;
    return true;
}

/* Encodes a fragment of text that holds no added token. */
static void encode_fragment(encoder *e, const char *frag, size_t len) {
    if (len == 0 || e->err != AQ_OK) return;
    /* The text the regular expressions see: U+FFFD for each byte that does
     * not start a well-formed character (EF BF BD, three bytes for one). */
    bool valid = true;
    for (size_t i = 0; i < len;) {
        size_t n = utf8_valid_len((const unsigned char *)frag + i, len - i);
        if (n == 0) {
            valid = false;
            break;
        }
        i += n;
    }
    size_t clean_len = len;
    if (valid) {
        if (!grow(e, (void **)&e->clean, &e->clean_cap, len, 1)) return;
        memcpy(e->clean, frag, len);
    } else {
        if (!grow(e, (void **)&e->clean, &e->clean_cap, 3 * len, 1) ||
            !grow(e, (void **)&e->raw_of, &e->raw_of_cap, 3 * len + 1, sizeof *e->raw_of))
            return;
        clean_len = 0;
        for (size_t i = 0; i < len;) {
            size_t n = utf8_valid_len((const unsigned char *)frag + i, len - i);
            if (n == 0) {
                memcpy(e->clean + clean_len, "\xEF\xBF\xBD", 3);
                for (int k = 0; k < 3; k++) e->raw_of[clean_len + (size_t)k] = i;
                clean_len += 3;
                i++;
            } else {
                memcpy(e->clean + clean_len, frag + i, n);
                for (size_t k = 0; k < n; k++) e->raw_of[clean_len + k] = i + k;
                clean_len += n;
                i += n;
            }
        }
        e->raw_of[clean_len] = len;
    }

    size_t count[2] = {0, 0};
    int cur = 0;
    if (!add_piece(e, cur, &count[cur], 0, clean_len)) return;
    for (int r = 0; r < e->bpe->n_re; r++) {
        int next = 1 - cur;
        count[next] = 0;
        for (size_t p = 0; p < count[cur]; p++)
            if (!split_piece(e, e->bpe->re[r], e->pieces[cur][p], next, &count[next])) return;
        cur = next;
    }
    for (size_t p = 0; p < count[cur] && e->err == AQ_OK; p++) {
        range piece = e->pieces[cur][p];
        size_t start = valid ? piece.start : e->raw_of[piece.start];
        size_t end = valid ? piece.end : e->raw_of[piece.end];
        encode_word(e, frag + start, end - start);
    }
}

/* The longest added token at text[0..avail) that may be parsed (user-defined
 * always, control and unknown with parse_special); its id, or -1. */
static int32_t match_added(const aq_bpe *bpe, const unsigned char *text, size_t avail, bool parse_special,
                           size_t *match_len) {
    int32_t node = bpe->trie_first[text[0]];
    int32_t best = -1;
    for (size_t depth = 1; node >= 0; depth++) {
        const trie_node *t = &bpe->trie[node];
        int32_t id = parse_special ? t->any_token : t->user_token;
        if (id >= 0) {
            best = id;
            *match_len = depth;
        }
        if (depth >= avail) break;
        node = t->first_child;
        while (node >= 0 && bpe->trie[node].byte != text[depth]) node = bpe->trie[node].next_sibling;
    }
    return best;
}

aq_error aq_bpe_encode(const aq_bpe *bpe, const char *text, size_t len, bool add_bos, bool parse_special,
                       int32_t *tokens, int32_t capacity, int32_t *n_tokens) {
    if (n_tokens != NULL) *n_tokens = 0;
    if (bpe == NULL || n_tokens == NULL || (text == NULL && len > 0) || capacity < 0 ||
        (tokens == NULL && capacity > 0))
        return AQ_ERR_INVALID_ARGUMENT;
    if (add_bos && bpe->bos < 0) return AQ_ERR_UNSUPPORTED;
    /* Every input byte gives at most one token; keep counts within int32_t. */
    if (len > (size_t)INT32_MAX - 2) return AQ_ERR_OUT_OF_RANGE;

    encoder e = {.bpe = bpe, .tokens = tokens, .capacity = capacity, .err = AQ_OK};
    if (add_bos) emit(&e, bpe->bos);
    if (len > 0) {
        e.match = pcre2_match_data_create(1, NULL);
        if (e.match == NULL) e.err = AQ_ERR_OUT_OF_MEMORY;
    }
    size_t fragment = 0;
    for (size_t i = 0; i < len && e.err == AQ_OK;) {
        size_t match_len = 0;
        int32_t id = bpe->trie_first[(unsigned char)text[i]] < 0
                         ? -1
                         : match_added(bpe, (const unsigned char *)text + i, len - i, parse_special, &match_len);
        if (id < 0) {
            i++;
            continue;
        }
        encode_fragment(&e, text + fragment, i - fragment);
        emit(&e, id);
        i += match_len;
        fragment = i;
    }
    encode_fragment(&e, text + fragment, len - fragment);

    pcre2_match_data_free(e.match);
    free(e.clean);
    free(e.raw_of);
    free(e.pieces[0]);
    free(e.pieces[1]);
    free(e.symbols);
    free(e.heap);
    free(e.mapped);
    free(e.cache);
    free(e.cache_ids);
    if (e.err != AQ_OK) return e.err;
    *n_tokens = (int32_t)e.count;
    return e.count > capacity ? AQ_ERR_BUFFER_TOO_SMALL : AQ_OK;
}

/* ---- decoding ---- */

typedef struct byte_sink {
    char *buf;
    size_t capacity;
    size_t length; /* bytes produced, also past the capacity */
} byte_sink;

static void put(byte_sink *sink, const char *bytes, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (sink->length < sink->capacity) sink->buf[sink->length] = bytes[i];
        sink->length++;
    }
}

static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

static void emit_piece(const aq_bpe *bpe, int32_t id, bool render_special, byte_sink *sink) {
    size_t len;
    const char *text = token_text(bpe, id, &len);
    switch (bpe->types[id]) {
    case T_USER:
        put(sink, text, len);
        return;
    case T_CONTROL:
    case T_UNKNOWN:
    case T_UNUSED:
        if (render_special) put(sink, text, len);
        return;
    case T_BYTE:
        if (len == 6 && memcmp(text, "<0x", 3) == 0 && text[5] == '>' && hex_digit(text[3]) >= 0 &&
            hex_digit(text[4]) >= 0) {
            char byte = (char)(hex_digit(text[3]) * 16 + hex_digit(text[4]));
            put(sink, &byte, 1);
            return;
        }
        break; /* not of the form <0xNN>: as a normal token */
    default:
        break;
    }
    /* A normal token: each of GPT-2's characters back to its byte; any
     * other character (or a byte that is not UTF-8) as it is. */
    for (size_t i = 0; i < len;) {
        size_t n = utf8_valid_len((const unsigned char *)text + i, len - i);
        if (n == 2) {
            unsigned cp = ((unsigned)(text[i] & 0x1F) << 6) | (unsigned)(text[i + 1] & 0x3F);
            if (cp < 324 && bpe->char_byte[cp] >= 0) {
                char byte = (char)bpe->char_byte[cp];
                put(sink, &byte, 1);
                i += 2;
                continue;
            }
        } else if (n == 1 && bpe->char_byte[(unsigned char)text[i]] >= 0) {
            char byte = (char)bpe->char_byte[(unsigned char)text[i]];
            put(sink, &byte, 1);
            i++;
            continue;
        }
        if (n == 0) n = 1;
        put(sink, text + i, n);
        i += n;
    }
}

aq_error aq_bpe_piece(const aq_bpe *bpe, int32_t token, bool render_special, char *buf, size_t capacity,
                      size_t *length) {
    if (length != NULL) *length = 0;
    if (bpe == NULL || length == NULL || (buf == NULL && capacity > 0)) return AQ_ERR_INVALID_ARGUMENT;
    if (token < 0 || token >= bpe->n_vocab) return AQ_ERR_OUT_OF_RANGE;
    byte_sink sink = {buf, capacity, 0};
    emit_piece(bpe, token, render_special, &sink);
    *length = sink.length;
    return sink.length > capacity ? AQ_ERR_BUFFER_TOO_SMALL : AQ_OK;
}

aq_error aq_bpe_decode(const aq_bpe *bpe, const int32_t *tokens, int32_t n_tokens, bool render_special, char *buf,
                       size_t capacity, size_t *length) {
    if (length != NULL) *length = 0;
    if (bpe == NULL || length == NULL || n_tokens < 0 || (tokens == NULL && n_tokens > 0) ||
        (buf == NULL && capacity > 0))
        return AQ_ERR_INVALID_ARGUMENT;
    for (int32_t i = 0; i < n_tokens; i++)
        if (tokens[i] < 0 || tokens[i] >= bpe->n_vocab) return AQ_ERR_OUT_OF_RANGE;
    byte_sink sink = {buf, capacity, 0};
    for (int32_t i = 0; i < n_tokens; i++) emit_piece(bpe, tokens[i], render_special, &sink);
    *length = sink.length;
    return sink.length > capacity ? AQ_ERR_BUFFER_TOO_SMALL : AQ_OK;
}
