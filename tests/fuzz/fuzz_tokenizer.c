/* The tokenizers on arbitrary bytes: SentencePiece (the vocabulary of
 * models/austen-6m.gguf) and byte-level BPE (GPT-2's and SmolLM2's, from
 * data/tokenizers/), loaded once at start-up. The first byte picks the
 * vocabulary and what to do; the rest is the text, or token ids to decode.
 * Checks: ids in range, the count the first call asks for is the count the
 * second call gives, and detokenize(tokenize(text)) == text where the
 * vocabulary can spell every byte (byte tokens, or GPT-2's byte alphabet). */
#include <stdbool.h>
#include <string.h>

#include "fuzz.h"
#include "gguf.h"
#include "tokenizer.h"

typedef struct vocab {
    const char *file;
    aq_gguf *gguf;
    aq_tokenizer *tok;
    bool round_trip; /* every byte has a token of its own */
    bool spm;
} vocab;

static vocab g_vocabs[] = {
    {"models/austen-6m.gguf", NULL, NULL, true, true},
    {"data/tokenizers/gpt2.gguf", NULL, NULL, true, false},
    {"data/tokenizers/smollm2.gguf", NULL, NULL, false, false}, /* lacks 21 byte characters */
};
#define N_VOCABS (sizeof g_vocabs / sizeof g_vocabs[0])

static void fail(const char *file, const char *what) {
    fprintf(stderr, "fuzz_tokenizer: %s: %s\n", file, what);
    exit(2);
}

/* The tokenizer of a GGUF file, as the loader builds it (lib/model/load.c). */
static aq_tokenizer *load_vocab(const char *file, aq_gguf **gguf_out) {
    char path[4096];
    const char *root = getenv("AQ_SOURCE_ROOT");
    snprintf(path, sizeof path, "%s/%s", root ? root : AQ_FUZZ_SOURCE_ROOT, file);
    char msg[256];
    aq_gguf *g = NULL;
    if (aq_gguf_open_file(path, &g, msg, sizeof msg) != AQ_OK) fail(path, msg);
    aq_gguf_str model, pre = {NULL, 0};
    if (aq_gguf_get_str(g, "tokenizer.ggml.model", &model) != AQ_OK) fail(file, "no tokenizer.ggml.model");
    bool spm = model.len == 5 && memcmp(model.ptr, "llama", 5) == 0;
    (void)aq_gguf_get_str(g, "tokenizer.ggml.pre", &pre);
    aq_gguf_type elem;
    uint64_t n = 0, n_merges = 0;
    if (aq_gguf_get_arr_info(g, "tokenizer.ggml.tokens", &elem, &n) != AQ_OK) fail(file, "no tokens");
    if (!spm && aq_gguf_get_arr_info(g, "tokenizer.ggml.merges", &elem, &n_merges) != AQ_OK) fail(file, "no merges");
    const char **pieces = calloc(n, sizeof *pieces), **merges = calloc(n_merges + 1, sizeof *merges);
    uint64_t *lens = calloc(n, sizeof *lens), *merge_lens = calloc(n_merges + 1, sizeof *merge_lens);
    int32_t *types = calloc(n, sizeof *types);
    float *scores = spm ? calloc(n, sizeof *scores) : NULL;
    if (!pieces || !merges || !lens || !merge_lens || !types || (spm && !scores)) fail(file, "out of memory");
    for (uint64_t i = 0; i < n; i++) {
        aq_gguf_str s;
        if (aq_gguf_get_arr_str(g, "tokenizer.ggml.tokens", i, &s) != AQ_OK) fail(file, "bad token");
        pieces[i] = s.ptr, lens[i] = s.len;
    }
    for (uint64_t i = 0; i < n_merges; i++) {
        aq_gguf_str s;
        if (aq_gguf_get_arr_str(g, "tokenizer.ggml.merges", i, &s) != AQ_OK) fail(file, "bad merge");
        merges[i] = s.ptr, merge_lens[i] = s.len;
    }
    if (aq_gguf_get_arr_i32(g, "tokenizer.ggml.token_type", types, n) != AQ_OK) fail(file, "no token types");
    if (spm && aq_gguf_get_arr_f32(g, "tokenizer.ggml.scores", scores, n) != AQ_OK) fail(file, "no scores");
    uint32_t bos = spm ? 1 : UINT32_MAX, eos = spm ? 2 : UINT32_MAX, unk = spm ? 0 : UINT32_MAX;
    (void)aq_gguf_get_u32(g, "tokenizer.ggml.bos_token_id", &bos);
    (void)aq_gguf_get_u32(g, "tokenizer.ggml.eos_token_id", &eos);
    (void)aq_gguf_get_u32(g, "tokenizer.ggml.unknown_token_id", &unk);
    aq_tokenizer_spec spec = {.kind = spm ? AQ_TOKENIZER_SPM : AQ_TOKENIZER_BPE,
                              .n_vocab = (int32_t)n,
                              .pieces = pieces,
                              .piece_lens = lens,
                              .types = types,
                              .bos = bos < n ? (int32_t)bos : -1,
                              .eos = eos < n ? (int32_t)eos : -1,
                              .unk = spm && unk < n ? (int32_t)unk : -1,
                              .add_bos = spm,
                              .scores = scores,
                              .add_space_prefix = spm,
                              .n_merges = (int32_t)n_merges,
                              .merges = merges,
                              .merge_lens = merge_lens,
                              .pre = pre.ptr,
                              .pre_len = pre.len};
    aq_tokenizer *tok = NULL;
    if (aq_tokenizer_create(&spec, &tok, msg, sizeof msg) != AQ_OK) fail(file, msg);
    free(pieces), free(merges), free(lens), free(merge_lens), free(types), free(scores);
    *gguf_out = g;
    return tok;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    for (size_t i = 0; i < N_VOCABS; i++) g_vocabs[i].tok = load_vocab(g_vocabs[i].file, &g_vocabs[i].gguf);
    return 0;
}

/* Encodes with a guess of the capacity first, as a program does, and checks the counts agree. */
static int32_t *encode(const aq_tokenizer *tok, const char *text, size_t len, bool special, bool bos, int32_t *n) {
    int32_t guess[4];
    aq_error err = special ? aq_tokenizer_encode_special(tok, text, len, bos, guess, 4, n)
                           : aq_tokenizer_encode(tok, text, len, bos, guess, 4, n);
    if (err != AQ_OK && err != AQ_ERR_BUFFER_TOO_SMALL) return NULL;
    FUZZ_CHECK(*n >= 0 && (err == AQ_OK) == (*n <= 4));
    int32_t want = *n, *ids = malloc((size_t)(want ? want : 1) * sizeof *ids);
    FUZZ_CHECK(ids != NULL);
    err = special ? aq_tokenizer_encode_special(tok, text, len, bos, ids, want, n)
                  : aq_tokenizer_encode(tok, text, len, bos, ids, want, n);
    FUZZ_CHECK(err == AQ_OK && *n == want);
    if (want <= 4) FUZZ_CHECK(memcmp(ids, guess, (size_t)want * sizeof *ids) == 0);
    return ids;
}

/* Decodes, asking for the size first; the caller frees the text. */
static char *decode(const aq_tokenizer *tok, const int32_t *ids, int32_t n, size_t *len) {
    char small[8];
    aq_error err = aq_tokenizer_decode(tok, ids, n, small, sizeof small, len);
    if (err != AQ_OK && err != AQ_ERR_BUFFER_TOO_SMALL) return NULL;
    FUZZ_CHECK((err == AQ_OK) == (*len <= sizeof small));
    size_t want = *len;
    char *text = malloc(want ? want : 1);
    FUZZ_CHECK(text != NULL);
    FUZZ_CHECK(aq_tokenizer_decode(tok, ids, n, text, want, len) == AQ_OK && *len == want);
    if (want <= sizeof small) FUZZ_CHECK(memcmp(text, small, want) == 0);
    return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const vocab *v = &g_vocabs[data[0] % N_VOCABS];
    int mode = (data[0] / N_VOCABS) % 4; /* 0, 1: encode (bos); 2: encode_special; 3: decode ids */
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    int32_t n_vocab = aq_tokenizer_n_vocab(v->tok);
    if (mode == 3) {
        /* Ids as they come (out of range ones must be refused), then taken into range. */
        int32_t n = (int32_t)(len / 4);
        int32_t *ids = malloc((size_t)(n ? n : 1) * sizeof *ids);
        FUZZ_CHECK(ids != NULL);
        memcpy(ids, text, (size_t)n * 4);
        size_t out_len;
        bool in_range = true;
        for (int32_t i = 0; i < n; i++) in_range = in_range && ids[i] >= 0 && ids[i] < n_vocab;
        char *out = decode(v->tok, ids, n, &out_len);
        FUZZ_CHECK((out != NULL) == in_range);
        free(out);
        for (int32_t i = 0; i < n; i++) {
            ids[i] = (int32_t)((uint32_t)ids[i] % (uint32_t)n_vocab);
            char piece[64];
            aq_error err = aq_tokenizer_piece(v->tok, ids[i], piece, sizeof piece, &out_len);
            FUZZ_CHECK(err == AQ_OK || (err == AQ_ERR_BUFFER_TOO_SMALL && out_len > sizeof piece));
        }
        out = decode(v->tok, ids, n, &out_len);
        FUZZ_CHECK(out != NULL);
        free(out);
        free(ids);
        return 0;
    }
    int32_t n = 0;
    int32_t *ids = encode(v->tok, text, len, mode == 2, mode == 0, &n);
    if (!ids) return 0; /* refused (a byte the vocabulary cannot spell) */
    for (int32_t i = 0; i < n; i++) FUZZ_CHECK(ids[i] >= 0 && ids[i] < n_vocab);
    size_t out_len = 0;
    char *out = decode(v->tok, ids, n, &out_len);
    FUZZ_CHECK(out != NULL);
    /* SentencePiece writes a space as U+2581 and reads every U+2581 back as a space, so a text
     * holding that character itself cannot come back (as with SentencePiece and llama.cpp). */
    bool marker = v->spm && memmem(text, len, "\xe2\x96\x81", 3) != NULL;
    if (v->round_trip && mode == 1 && !marker) {
        if (out_len != len || memcmp(out, text, len) != 0)
            fprintf(stderr, "round trip of %zu bytes gave %zu: '%.*s'\n", len, out_len, (int)out_len, out);
        FUZZ_CHECK(out_len == len && memcmp(out, text, len) == 0);
    }
    free(out);
    free(ids);
    return 0;
}
