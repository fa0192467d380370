/* Hostile files from the public record, each with the error it must get.
 *
 * The advisories against llama.cpp's GGUF reader and its forks (Cisco Talos'
 * TALOS-2024-1912..1916 and the GHSA reports after them) found: counts and
 * sizes whose products wrap (KV and tensor counts, string and array lengths,
 * tensor dimensions), tensor offsets past the end or over one another,
 * alignments of 0 or 2^31, arrays whose element type is not the one the
 * reader expects, malformed byte tokens ("<0x-1>"), token ids and layer counts
 * past the tables they index. Each case here is a small file built in memory
 * from a valid tiny model (one layer, width 32, a vocabulary of 8) with one
 * thing changed, loaded through the public API (aq_model_load_memory) from an
 * exact-size buffer, so that AddressSanitizer sees any read past it.
 *
 * Then the numbers: NaN and infinity in norms, biases and quantized scales are
 * refused at load; weights that overflow in the forward pass give
 * AQ_ERR_NUMERIC, not garbage. And the handles: a model freed while its
 * contexts live stays until the last one goes. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agilequant.h"
#include "gguf.h"

enum { DIM = 32, FFN = 32, VOCAB = 8 };

/* ---- a growing byte buffer ---- */

typedef struct buf {
    uint8_t *p;
    size_t len, cap;
} buf;

static void put(buf *b, const void *src, size_t n) {
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 256;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    if (n) memcpy(b->p + b->len, src, n);
    b->len += n;
}
static void put_u32(buf *b, uint32_t v) { put(b, &v, 4); }
static void put_u64(buf *b, uint64_t v) { put(b, &v, 8); }
/* A GGUF string; claim, if not 0, is the length written in place of the true one. */
static void put_str(buf *b, const char *s, uint64_t claim) {
    put_u64(b, claim ? claim : strlen(s));
    put(b, s, strlen(s));
}

/* ---- the tiny model and what a case changes in it ---- */

typedef struct tweak {
    uint32_t version;
    int64_t alignment;  /* -1: no general.alignment key */
    uint32_t arch_type; /* type of general.architecture's value */
    int64_t block_count, head_count, head_count_kv, embedding_length, context_length;
    float rope_base, eps;
    uint64_t name_claim;   /* general.name's length as written (0: true) */
    uint64_t tokens_claim; /* tokenizer.ggml.tokens' count as written (0: true) */
    uint32_t tokens_elem, token_type_elem, scores_elem;
    uint32_t n_tokens;      /* tokens listed (token_embd always has VOCAB rows) */
    const char *byte_piece; /* the text of token 3, of type BYTE */
    int64_t bos;
    uint64_t n_kv_claim, n_tensors_claim; /* as written in the header (0: true) */
    /* One tensor changed: */
    const char *tensor;
    uint32_t n_dims; /* 0: keep */
    int64_t ne[4];
    uint32_t type; /* UINT32_MAX: keep (F32) */
    bool offset_set;
    uint64_t offset; /* this offset in the data section, if offset_set */
    bool overlap;    /* at the previous tensor's offset */
    bool fill_set;
    float fill;             /* every value of the tensor */
    bool q4w_inf_scale;     /* blk.0.attn_q as our INT4 parts, one scale infinite */
    const char *extra_bias; /* a bias tensor added (filled with fill) */
} tweak;

static tweak base(void) {
    return (tweak){.version = 3,
                   .alignment = -1,
                   .arch_type = AQ_GGUF_STRING,
                   .block_count = 1,
                   .head_count = 2,
                   .head_count_kv = 1,
                   .embedding_length = DIM,
                   .context_length = 64,
                   .rope_base = 10000.0f,
                   .eps = 1e-5f,
                   .tokens_elem = AQ_GGUF_STRING,
                   .token_type_elem = AQ_GGUF_INT32,
                   .scores_elem = AQ_GGUF_FLOAT32,
                   .n_tokens = VOCAB,
                   .byte_piece = "<0x0A>",
                   .bos = 1,
                   .type = UINT32_MAX};
}

typedef struct tensor {
    char name[64];
    uint32_t type, n_dims;
    int64_t ne[4];
    uint64_t offset, natural; /* as written; where its bytes are */
    uint8_t *data;
    size_t bytes;
} tensor;

typedef struct file {
    buf kv;
    uint64_t n_kv;
    tensor t[24];
    size_t n_t;
} file;

static void kv_key(file *f, const char *key, uint32_t type) {
    put_str(&f->kv, key, 0);
    put_u32(&f->kv, type);
    f->n_kv++;
}
/* An integer key: u32, or a string holding its digits when it does not fit (a type mismatch). */
static void kv_int(file *f, const char *key, int64_t v) {
    if (v >= 0 && v <= UINT32_MAX) {
        kv_key(f, key, AQ_GGUF_UINT32);
        put_u32(&f->kv, (uint32_t)v);
    } else {
        kv_key(f, key, AQ_GGUF_INT64);
        put_u64(&f->kv, (uint64_t)v);
    }
}
static void kv_f32(file *f, const char *key, float v) {
    kv_key(f, key, AQ_GGUF_FLOAT32);
    put(&f->kv, &v, 4);
}

static float weight(size_t i) { return 0.05f * sinf((float)i * 0.37f + 0.1f); }

static void add_tensor(file *f, const tweak *tw, const char *name, int64_t rows, int64_t cols, float fill) {
    tensor *t = &f->t[f->n_t++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->type = AQ_TENSOR_F32;
    t->n_dims = rows == 1 ? 1 : 2;
    t->ne[0] = cols, t->ne[1] = rows, t->ne[2] = 1, t->ne[3] = 1;
    bool changed = tw->tensor && !strcmp(tw->tensor, name);
    if (changed && tw->fill_set) fill = tw->fill;
    t->bytes = (size_t)(rows * cols) * sizeof(float);
    t->data = malloc(t->bytes);
    assert_non_null(t->data);
    for (size_t i = 0; i < (size_t)(rows * cols); i++) {
        float v = isnan(fill) && !(changed && tw->fill_set) ? weight(i + f->n_t * 1000) : fill;
        memcpy(t->data + 4 * i, &v, 4);
    }
    if (!changed) return;
    if (tw->n_dims) {
        t->n_dims = tw->n_dims;
        memcpy(t->ne, tw->ne, sizeof t->ne);
    }
    if (tw->type != UINT32_MAX) t->type = tw->type;
}

#define WEIGHTS NAN /* add_tensor: deterministic small weights */

/* Writes the tiny model with the tweak into out. */
static void build(const tweak *tw, buf *out) {
    file f = {0};
    /* keys */
    kv_key(&f, "general.architecture", tw->arch_type);
    if (tw->arch_type == AQ_GGUF_STRING)
        put_str(&f.kv, "llama", 0);
    else
        put_u32(&f.kv, 7);
    kv_key(&f, "general.name", AQ_GGUF_STRING);
    put_str(&f.kv, "hostile", tw->name_claim);
    if (tw->alignment >= 0) kv_int(&f, "general.alignment", tw->alignment);
    kv_int(&f, "llama.block_count", tw->block_count);
    kv_int(&f, "llama.embedding_length", tw->embedding_length);
    kv_int(&f, "llama.feed_forward_length", FFN);
    kv_int(&f, "llama.context_length", tw->context_length);
    kv_int(&f, "llama.attention.head_count", tw->head_count);
    kv_int(&f, "llama.attention.head_count_kv", tw->head_count_kv);
    kv_f32(&f, "llama.rope.freq_base", tw->rope_base);
    kv_f32(&f, "llama.attention.layer_norm_rms_epsilon", tw->eps);
    kv_key(&f, "tokenizer.ggml.model", AQ_GGUF_STRING);
    put_str(&f.kv, "llama", 0);
    const char *pieces[VOCAB] = {"<unk>",
                                 "<s>",
                                 "</s>",
                                 tw->byte_piece,
                                 "\xe2\x96\x81",
                                 "a",
                                 "b",
                                 "\xe2\x96\x81"
                                 "b"};
    const int32_t types[VOCAB] = {2, 3, 3, 6, 1, 1, 1, 1};
    uint32_t n = tw->n_tokens;
    kv_key(&f, "tokenizer.ggml.tokens", AQ_GGUF_ARRAY);
    put_u32(&f.kv, tw->tokens_elem);
    put_u64(&f.kv, tw->tokens_claim ? tw->tokens_claim : n);
    for (uint32_t i = 0; i < n; i++) {
        if (tw->tokens_elem == AQ_GGUF_STRING)
            put_str(&f.kv, pieces[i % VOCAB], 0);
        else
            put_u32(&f.kv, i);
    }
    kv_key(&f, "tokenizer.ggml.token_type", AQ_GGUF_ARRAY);
    put_u32(&f.kv, tw->token_type_elem);
    put_u64(&f.kv, n);
    for (uint32_t i = 0; i < n; i++) {
        int32_t v = types[i % VOCAB];
        float fv = (float)v;
        if (tw->token_type_elem == AQ_GGUF_STRING)
            put_str(&f.kv, "1", 0);
        else if (tw->token_type_elem == AQ_GGUF_FLOAT32)
            put(&f.kv, &fv, 4);
        else if (tw->token_type_elem == AQ_GGUF_INT64)
            put_u64(&f.kv, (uint64_t)v << 40);
        else
            put(&f.kv, &v, 4);
    }
    kv_key(&f, "tokenizer.ggml.scores", AQ_GGUF_ARRAY);
    put_u32(&f.kv, tw->scores_elem);
    put_u64(&f.kv, n);
    for (uint32_t i = 0; i < n; i++) {
        float s = -(float)i;
        int32_t si = -(int32_t)i;
        if (tw->scores_elem == AQ_GGUF_FLOAT32)
            put(&f.kv, &s, 4);
        else
            put(&f.kv, &si, 4);
    }
    kv_int(&f, "tokenizer.ggml.bos_token_id", tw->bos);
    kv_int(&f, "tokenizer.ggml.eos_token_id", 2);

    /* tensors */
    add_tensor(&f, tw, "token_embd.weight", VOCAB, DIM, WEIGHTS);
    add_tensor(&f, tw, "output_norm.weight", 1, DIM, 1.0f);
    add_tensor(&f, tw, "blk.0.attn_norm.weight", 1, DIM, 1.0f);
    if (tw->q4w_inf_scale) {
        /* our INT4 layout: NAME.q4 (I8, two weights a byte), NAME.q4scale (F16, one per group of 32) */
        tensor *q = &f.t[f.n_t++];
        *q = (tensor){.type = AQ_TENSOR_I8, .n_dims = 2, .ne = {DIM / 2, DIM, 1, 1}, .bytes = DIM * DIM / 2};
        snprintf(q->name, sizeof q->name, "blk.0.attn_q.weight.q4");
        q->data = calloc(1, q->bytes);
        tensor *s = &f.t[f.n_t++];
        *s = (tensor){.type = AQ_TENSOR_F16, .n_dims = 2, .ne = {1, DIM, 1, 1}, .bytes = DIM * 2};
        snprintf(s->name, sizeof s->name, "blk.0.attn_q.weight.q4scale");
        s->data = calloc(1, s->bytes);
        assert_true(q->data && s->data);
        s->data[2 * 5 + 1] = 0x7C; /* scale of row 5: +inf */
    } else {
        add_tensor(&f, tw, "blk.0.attn_q.weight", DIM, DIM, WEIGHTS);
    }
    add_tensor(&f, tw, "blk.0.attn_k.weight", DIM / 2, DIM, WEIGHTS);
    add_tensor(&f, tw, "blk.0.attn_v.weight", DIM / 2, DIM, WEIGHTS);
    add_tensor(&f, tw, "blk.0.attn_output.weight", DIM, DIM, WEIGHTS);
    add_tensor(&f, tw, "blk.0.ffn_norm.weight", 1, DIM, 1.0f);
    add_tensor(&f, tw, "blk.0.ffn_gate.weight", FFN, DIM, WEIGHTS);
    add_tensor(&f, tw, "blk.0.ffn_up.weight", FFN, DIM, WEIGHTS);
    add_tensor(&f, tw, "blk.0.ffn_down.weight", DIM, FFN, WEIGHTS);
    if (tw->extra_bias) add_tensor(&f, tw, tw->extra_bias, 1, DIM, 0.0f);

    /* offsets: in order, each aligned */
    uint64_t align = tw->alignment > 0 && tw->alignment <= 4096 ? (uint64_t)tw->alignment : 32, at = 0;
    for (size_t i = 0; i < f.n_t; i++) {
        tensor *t = &f.t[i];
        t->offset = t->natural = at;
        at += (t->bytes + align - 1) / align * align;
        if (tw->tensor && !strcmp(tw->tensor, t->name)) {
            if (tw->offset_set) t->offset = tw->offset;
            if (tw->overlap && i > 0) t->offset = f.t[i - 1].offset;
        }
    }

    out->len = 0;
    put(out, "GGUF", 4);
    put_u32(out, tw->version);
    put_u64(out, tw->n_tensors_claim ? tw->n_tensors_claim : f.n_t);
    put_u64(out, tw->n_kv_claim ? tw->n_kv_claim : f.n_kv);
    put(out, f.kv.p, f.kv.len);
    for (size_t i = 0; i < f.n_t; i++) {
        tensor *t = &f.t[i];
        put_str(out, t->name, 0);
        put_u32(out, t->n_dims);
        for (uint32_t d = 0; d < t->n_dims; d++) put_u64(out, d < 4 ? (uint64_t)t->ne[d] : 1);
        put_u32(out, t->type);
        put_u64(out, t->offset);
    }
    static const uint8_t zeros[4096];
    put(out, zeros, (align - out->len % align) % align);
    size_t data_start = out->len;
    for (size_t i = 0; i < f.n_t; i++) {
        tensor *t = &f.t[i];
        put(out, zeros, data_start + t->natural - out->len);
        put(out, t->data, t->bytes);
    }
    put(out, zeros, (align - out->len % align) % align);
    for (size_t i = 0; i < f.n_t; i++) free(f.t[i].data);
    free(f.kv.p);
}

/* Loads the file from an exact-size copy: the error, and a message that names the problem. */
static void expect_load(const tweak *tw, aq_error want, const char *message_part) {
    buf b = {0};
    build(tw, &b);
    uint8_t *copy = malloc(b.len);
    assert_non_null(copy);
    memcpy(copy, b.p, b.len);
    free(b.p);
    aq_model *m = aq_model_create();
    assert_non_null(m);
    aq_error err = aq_model_load_memory(m, copy, b.len);
    const char *msg = aq_model_error_message(m);
    if (err != want || (message_part && !strstr(msg, message_part)))
        fprintf(stderr, "want %s '%s', got %s '%s'\n", aq_error_name(want), message_part ? message_part : "",
                aq_error_name(err), msg);
    assert_int_equal(err, want);
    if (want != AQ_OK) {
        assert_true(msg[0] != '\0');
        if (message_part) assert_non_null(strstr(msg, message_part));
        assert_null(aq_context_create(m)); /* a failed load leaves nothing to run */
    }
    aq_model_free(m);
    free(copy);
}

/* ---- the cases ---- */

static void test_the_tiny_model_loads(void **state) {
    (void)state;
    tweak t = base();
    expect_load(&t, AQ_OK, NULL);
}

/* TALOS-2024-1913/1914: n_kv and n_tensors so large that count * sizeof wraps. */
static void test_counts_that_wrap(void **state) {
    (void)state;
    const uint64_t claims[] = {UINT64_MAX, (uint64_t)1 << 63, ((uint64_t)1 << 60) + 1, 1u << 20};
    for (size_t i = 0; i < sizeof claims / sizeof claims[0]; i++) {
        tweak t = base();
        t.n_kv_claim = claims[i];
        expect_load(&t, AQ_ERR_FORMAT, "cannot fit");
        t = base();
        t.n_tensors_claim = claims[i];
        expect_load(&t, AQ_ERR_FORMAT, "cannot fit");
    }
}

/* TALOS-2024-1912: a string length past the file (gguf_fread_str), 2^64 - 1 wrapping len + 1. */
static void test_oversized_strings(void **state) {
    (void)state;
    const uint64_t claims[] = {UINT64_MAX, (uint64_t)1 << 63, 1u << 30};
    for (size_t i = 0; i < sizeof claims / sizeof claims[0]; i++) {
        tweak t = base();
        t.name_claim = claims[i];
        expect_load(&t, AQ_ERR_FORMAT, "exceeds");
    }
}

/* TALOS-2024-1915: an array count whose byte size wraps (count * 8 for strings, * 4 for u32). */
static void test_oversized_arrays(void **state) {
    (void)state;
    const uint64_t claims[] = {UINT64_MAX, ((uint64_t)1 << 61) + 1, (uint64_t)1 << 62, 1u << 24};
    for (size_t i = 0; i < sizeof claims / sizeof claims[0]; i++) {
        tweak t = base();
        t.tokens_claim = claims[i];
        expect_load(&t, AQ_ERR_FORMAT, "tokenizer.ggml.tokens");
        t.tokens_elem = AQ_GGUF_UINT32;
        expect_load(&t, AQ_ERR_FORMAT, "tokenizer.ggml.tokens");
    }
}

/* Arrays whose element type is not the one the loader asks for (llama.cpp's GGML_ASSERT on
 * gguf_get_arr_type, and reads of one type as another in forks). */
static void test_arrays_of_the_wrong_type(void **state) {
    (void)state;
    tweak t = base();
    t.tokens_elem = AQ_GGUF_UINT32;
    expect_load(&t, AQ_ERR_FORMAT, "tokenizer.ggml.tokens");
    const uint32_t bad_types[] = {AQ_GGUF_STRING, AQ_GGUF_FLOAT32, AQ_GGUF_INT64};
    for (size_t i = 0; i < sizeof bad_types / sizeof bad_types[0]; i++) {
        t = base();
        t.token_type_elem = bad_types[i]; /* INT64: values past int32 */
        expect_load(&t, AQ_ERR_FORMAT, "tokenizer.ggml.token_type");
    }
    t = base();
    t.scores_elem = AQ_GGUF_INT32;
    expect_load(&t, AQ_ERR_FORMAT, "tokenizer.ggml.scores");
    t = base();
    t.arch_type = AQ_GGUF_UINT32; /* a number where a string must be */
    expect_load(&t, AQ_ERR_FORMAT, "general.architecture");
}

/* Tensor dimensions whose product wraps: element count, or bytes (count * 4 for F32). */
static void test_dimensions_that_wrap(void **state) {
    (void)state;
    const struct {
        uint32_t n_dims;
        int64_t ne[4];
        const char *message;
    } cases[] = {
        {2, {(int64_t)1 << 32, (int64_t)1 << 32, 1, 1}, "element count overflows"},
        {4, {1 << 16, 1 << 16, 1 << 16, 1 << 16}, "element count overflows"},
        {1, {(int64_t)1 << 62, 1, 1, 1}, "byte size overflows"},
        {2, {(int64_t)1 << 40, 1 << 20, 1, 1}, "past the end"},
        {2, {0, DIM, 1, 1}, "must be > 0"},
        {2, {-1, DIM, 1, 1}, "must be > 0"},
        {5, {DIM, DIM, 1, 1}, "dimensions (at most 4)"},
        {2, {DIM, DIM + 1, 1, 1}, "past the end"}, /* one row more than the bytes there */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tweak t = base();
        t.tensor = "blk.0.ffn_down.weight"; /* the last: more rows would read past the end */
        t.n_dims = cases[i].n_dims;
        memcpy(t.ne, cases[i].ne, sizeof t.ne);
        expect_load(&t, AQ_ERR_FORMAT, cases[i].message);
    }
    /* A shape that fits the bytes but not the model: refused by name. */
    tweak t = base();
    t.tensor = "blk.0.attn_q.weight";
    t.n_dims = 2;
    int64_t transposed[4] = {DIM / 2, DIM * 2, 1, 1};
    memcpy(t.ne, transposed, sizeof t.ne);
    expect_load(&t, AQ_ERR_FORMAT, "blk.0.attn_q.weight has shape");
}

/* Offsets past the end, wrapping, misaligned, or over another tensor's bytes. */
static void test_offsets(void **state) {
    (void)state;
    const struct {
        uint64_t offset;
        const char *message;
    } cases[] = {
        {(uint64_t)1 << 40, "past the end"},
        {(uint64_t)1 << 63, "past the end"},
        {UINT64_MAX - 31, "past the end"}, /* offset + size wraps */
        {4, "not a multiple of 32"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tweak t = base();
        t.tensor = "blk.0.attn_v.weight";
        t.offset_set = true, t.offset = cases[i].offset;
        expect_load(&t, AQ_ERR_FORMAT, cases[i].message);
    }
    tweak t = base();
    t.tensor = "blk.0.attn_v.weight";
    t.overlap = true;
    expect_load(&t, AQ_ERR_FORMAT, "overlap");
}

/* general.alignment 0 (a division by zero in llama.cpp before the fix), not a power of two,
 * 2^31 (the data section past any file), or of the wrong type. */
static void test_alignment(void **state) {
    (void)state;
    const struct {
        int64_t alignment;
        const char *message;
    } cases[] = {
        {0, "not a power of two"},
        {3, "not a power of two"},
        {(int64_t)1 << 31, "starts past the end"},
        {(int64_t)1 << 32, "must be a uint32"}, /* written as int64 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tweak t = base();
        t.alignment = cases[i].alignment;
        expect_load(&t, AQ_ERR_FORMAT, cases[i].message);
    }
    tweak t = base();
    t.alignment = 64; /* honoured */
    expect_load(&t, AQ_OK, NULL);
}

/* Byte tokens that are not "<0xNN>" (llama.cpp's byte_to_token read "<0x-1>" with strtol). */
static void test_malformed_byte_tokens(void **state) {
    (void)state;
    const char *const pieces[] = {"<0x-1>", "<0xZZ>", "<0x100>", "<0x0A", "0x0A>", "<0x\xff\xff>", ""};
    for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++) {
        tweak t = base();
        t.byte_piece = pieces[i];
        expect_load(&t, AQ_ERR_FORMAT, "byte piece 3");
    }
}

/* Ids and counts past the tables they index. */
static void test_indices_past_tables(void **state) {
    (void)state;
    tweak t = base();
    t.bos = VOCAB; /* one past the vocabulary */
    expect_load(&t, AQ_ERR_FORMAT, "bos_token_id");
    t.bos = (int64_t)1 << 32;
    expect_load(&t, AQ_ERR_FORMAT, "bos_token_id");
    t = base();
    t.n_tokens = VOCAB - 1; /* fewer tokens than embedding rows */
    expect_load(&t, AQ_ERR_FORMAT, "vocabulary has 7 tokens");
    const int64_t layers[] = {1025, UINT32_MAX, (int64_t)1 << 40, 0, -1};
    for (size_t i = 0; i < sizeof layers / sizeof layers[0]; i++) {
        t = base();
        t.block_count = layers[i];
        expect_load(&t, layers[i] > UINT32_MAX || layers[i] < 0 ? AQ_ERR_FORMAT : AQ_ERR_UNSUPPORTED,
                    "llama.block_count");
    }
    t = base();
    t.block_count = 2; /* within bounds, but the file has one layer */
    expect_load(&t, AQ_ERR_FORMAT, "missing tensor blk.1.attn_norm.weight");
    const struct {
        int64_t heads, kv_heads, width;
    } shapes[] = {{0, 1, DIM}, {3, 1, DIM}, {2, 3, DIM}, {2, 0, DIM}, {1, 1, 1 << 17}, {1u << 31, 1, DIM}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        t = base();
        t.head_count = shapes[i].heads, t.head_count_kv = shapes[i].kv_heads, t.embedding_length = shapes[i].width;
        expect_load(&t, AQ_ERR_UNSUPPORTED, NULL);
    }
    t = base();
    t.head_count = 1, t.head_count_kv = 1, t.embedding_length = 1024; /* a head wider than the attention's stack */
    expect_load(&t, AQ_ERR_UNSUPPORTED, "head size 1024");
    t = base();
    t.context_length = 0;
    expect_load(&t, AQ_ERR_UNSUPPORTED, "context_length");
}

/* Header and values: magic, versions, and floats that are no settings. */
static void test_header_and_settings(void **state) {
    (void)state;
    tweak t = base();
    t.version = 1;
    expect_load(&t, AQ_ERR_UNSUPPORTED, "version 1");
    t.version = 0x03000000; /* version 3 written big-endian */
    expect_load(&t, AQ_ERR_UNSUPPORTED, "big-endian");
    t = base();
    t.rope_base = NAN;
    expect_load(&t, AQ_ERR_FORMAT, "freq_base");
    t.rope_base = INFINITY;
    expect_load(&t, AQ_ERR_FORMAT, "freq_base");
    t = base();
    t.eps = 0.0f;
    expect_load(&t, AQ_ERR_FORMAT, "epsilon");
    t.eps = NAN;
    expect_load(&t, AQ_ERR_FORMAT, "epsilon");
}

/* Every prefix of a valid file fails to load, and none reads past its end. */
static void test_every_truncation(void **state) {
    (void)state;
    tweak t = base();
    buf b = {0};
    build(&t, &b);
    for (size_t len = 1; len < b.len; len += len < 2048 ? 1 : 61) {
        uint8_t *copy = malloc(len);
        assert_non_null(copy);
        memcpy(copy, b.p, len);
        aq_model *m = aq_model_create();
        assert_int_equal(aq_model_load_memory(m, copy, len), AQ_ERR_FORMAT);
        aq_model_free(m);
        free(copy);
    }
    free(b.p);
}

/* ---- numbers ---- */

/* NaN and infinity where the forward pass would spread them: refused at load. */
static void test_non_finite_values_refused_at_load(void **state) {
    (void)state;
    const char *const tensors[] = {"output_norm.weight", "blk.0.attn_norm.weight", "blk.0.ffn_norm.weight",
                                   "token_embd.weight", "blk.0.ffn_down.weight"};
    const float bad[] = {NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < sizeof tensors / sizeof tensors[0]; i++) {
        for (size_t j = 0; j < sizeof bad / sizeof bad[0]; j++) {
            tweak t = base();
            t.tensor = tensors[i];
            t.fill_set = true, t.fill = bad[j];
            expect_load(&t, AQ_ERR_FORMAT, tensors[i]);
        }
    }
    /* A bias (optional in llama files). */
    tweak t = base();
    t.extra_bias = "blk.0.attn_output.bias";
    t.tensor = "blk.0.attn_output.bias";
    expect_load(&t, AQ_OK, NULL);
    t.fill_set = true, t.fill = NAN;
    expect_load(&t, AQ_ERR_FORMAT, "blk.0.attn_output.bias");
    /* F16 weights holding infinities: the F32 0x7C007C00 (2.7e36, finite) is two F16 +inf. */
    t = base();
    t.tensor = "blk.0.ffn_down.weight";
    t.type = AQ_TENSOR_F16; /* same shape: it takes the first half of the bytes */
    const uint32_t two_infs = 0x7C007C00u;
    t.fill_set = true;
    memcpy(&t.fill, &two_infs, sizeof t.fill);
    expect_load(&t, AQ_ERR_FORMAT, "blk.0.ffn_down.weight (f16) has a scale that is not finite");
    /* Our INT4 layout with an infinite scale. */
    t = base();
    t.q4w_inf_scale = true;
    expect_load(&t, AQ_ERR_FORMAT, "INT4 tensor blk.0.attn_q.weight has a scale that is not finite");
}

/* Finite weights so large that the forward pass overflows (a norm of 1e38: the scores and
 * values overflow, e^(inf - inf) is NaN): AQ_ERR_NUMERIC and no logits, and the cache forgets
 * the batch. */
static void test_overflow_in_the_forward_pass(void **state) {
    (void)state;
    tweak t = base();
    t.tensor = "blk.0.attn_norm.weight";
    t.fill_set = true, t.fill = 1e38f;
    buf b = {0};
    build(&t, &b);
    aq_model *m = aq_model_create();
    assert_int_equal(aq_model_load_memory(m, b.p, b.len), AQ_OK);
    aq_context *c = aq_context_create(m);
    assert_non_null(c);
    assert_int_equal(aq_context_set_param(c, AQ_PARAM_THREADS, 1), AQ_OK);
    const int32_t tokens[] = {1, 5, 6, 7};
    assert_int_equal(aq_forward(c, tokens, NULL, 4, 1), AQ_ERR_NUMERIC);
    assert_non_null(strstr(aq_context_error_message(c), "overflowed"));
    assert_null(aq_get_logits(c, -1));
    assert_int_equal(aq_kv_length(c), 0);
    int32_t next;
    assert_int_equal(aq_sample(c, -1, &next), AQ_ERR_STATE);
    assert_string_equal(aq_error_name(AQ_ERR_NUMERIC), "AQ_ERR_NUMERIC");
    aq_context_free(c);
    aq_model_free(m);
    free(b.p);
}

/* Weights beyond what a block format's f16 scale holds: aq_quantize refuses them rather than
 * write a file that no loader takes (found by the roundtrip fuzz harness). */
static void test_quantize_refuses_scales_f16_cannot_hold(void **state) {
    (void)state;
    const struct {
        const char *scheme;
        float weight;
    } cases[] = {{"q4_0", 1e6f}, {"q8_0", 1e8f}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tweak t = base();
        t.tensor = "blk.0.ffn_down.weight";
        t.fill_set = true, t.fill = cases[i].weight;
        buf b = {0};
        build(&t, &b);
        aq_model *m = aq_model_create();
        assert_int_equal(aq_model_load_memory(m, b.p, b.len), AQ_OK);
        assert_int_equal(aq_quantize(m, cases[i].scheme, NULL, 0), AQ_ERR_UNSUPPORTED);
        assert_non_null(strstr(aq_model_error_message(m), "f16 block scale"));
        aq_model_free(m);
        free(b.p);
    }
}

/* Weights so large that folding the Hadamard rotation into them overflows: AQ_ERR_NUMERIC, not a
 * model that computes NaN and saves a file no loader takes (found by the roundtrip harness). */
static void test_quantize_refuses_transforms_that_overflow(void **state) {
    (void)state;
    tweak t = base();
    t.tensor = "token_embd.weight";
    t.fill_set = true, t.fill = 3e38f;
    buf b = {0};
    build(&t, &b);
    aq_model *m = aq_model_create();
    assert_int_equal(aq_model_load_memory(m, b.p, b.len), AQ_OK);
    assert_int_equal(aq_quantize(m, "fp32,rotate", NULL, 0), AQ_ERR_NUMERIC);
    assert_non_null(strstr(aq_model_error_message(m), "overflowed"));
    aq_model_free(m);
    free(b.p);
}

/* ---- handles ---- */

/* aq_model_free with contexts alive: they go on working, and the last one frees the model
 * (LeakSanitizer in the ASan build sees it if not). */
static void test_model_freed_before_its_contexts(void **state) {
    (void)state;
    tweak t = base();
    buf b = {0};
    build(&t, &b);
    aq_model *m = aq_model_create();
    assert_int_equal(aq_model_load_memory(m, b.p, b.len), AQ_OK);
    aq_context *a = aq_context_create(m), *c = aq_context_create(m);
    assert_non_null(a);
    assert_non_null(c);
    const int32_t tokens[] = {1, 5, 6};
    assert_int_equal(aq_forward(a, tokens, NULL, 3, 0), AQ_OK);
    aq_model_free(m); /* deferred: two contexts live */
    assert_int_equal(aq_forward(c, tokens, NULL, 3, 0), AQ_OK);
    assert_memory_equal(aq_get_logits(a, -1), aq_get_logits(c, -1), VOCAB * sizeof(float));
    aq_context_free(a);
    assert_int_equal(aq_forward(c, tokens + 2, NULL, 1, 0), AQ_OK);
    aq_context_free(c); /* frees the model */
    free(b.p);
    /* Without contexts, the free is immediate; NULL is accepted. */
    aq_model_free(NULL);
    aq_context_free(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_tiny_model_loads),
        cmocka_unit_test(test_counts_that_wrap),
        cmocka_unit_test(test_oversized_strings),
        cmocka_unit_test(test_oversized_arrays),
        cmocka_unit_test(test_arrays_of_the_wrong_type),
        cmocka_unit_test(test_dimensions_that_wrap),
        cmocka_unit_test(test_offsets),
        cmocka_unit_test(test_alignment),
        cmocka_unit_test(test_malformed_byte_tokens),
        cmocka_unit_test(test_indices_past_tables),
        cmocka_unit_test(test_header_and_settings),
        cmocka_unit_test(test_every_truncation),
        cmocka_unit_test(test_non_finite_values_refused_at_load),
        cmocka_unit_test(test_overflow_in_the_forward_pass),
        cmocka_unit_test(test_quantize_refuses_scales_f16_cannot_hold),
        cmocka_unit_test(test_quantize_refuses_transforms_that_overflow),
        cmocka_unit_test(test_model_freed_before_its_contexts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
