/* aq-synth: write a random-weight LLaMA GGUF of any shape, for benchmarks.
 *
 * No LLaMA weights can be had on this machine, but speed depends only on the
 * shapes, so a model of TinyLlama-1.1B's or LLaMA-7B's shape with random
 * weights measures what the real one would. Matrices are F16 (half the file of
 * F32; the loader widens them), norms F32 and all ones, so activations keep a
 * sane scale through the layers. The vocabulary is synthetic: <unk>, <s>,
 * </s>, the 256 byte tokens, then pieces "▁t123" with decreasing scores, so
 * the tokenizer works (every text falls back to bytes) and aq-chat runs.
 *
 * It links the library's internal static library for the GGUF writer: it is
 * a tool, not an API user. */
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "f16.h"
#include "gguf.h"
#include "prng.h"

typedef struct shape {
    const char *name;
    int32_t dim, layers, heads, kv_heads, ffn, vocab, ctx;
} shape;

/* TinyLlama-1.1B and LLaMA-7B as published; "austen" is the 6.8 M-parameter
 * model trained here (tools/model.py), handy for a quick check. */
static const shape presets[] = {
    {"tinyllama", 2048, 22, 32, 4, 5632, 32000, 2048},
    {"llama7b", 4096, 32, 32, 32, 11008, 32000, 4096},
    {"austen", 256, 6, 8, 4, 768, 4096, 512},
};

static void usage(void) {
    fprintf(stderr, "usage: aq-synth -o FILE [--preset tinyllama|llama7b|austen] [--dim N] [--layers N]\n"
                    "                [--heads N] [--kv-heads N] [--ffn N] [--vocab N] [--ctx N] [--seed S]\n"
                    "  Writes a random-weight LLaMA GGUF (F16 matrices, weights ~ N(0, 0.02), norms 1)\n"
                    "  with a synthetic vocabulary. Options after --preset override its values.\n"
                    "  Default shape: tinyllama (dim 2048, 22 layers, 32 heads, 4 KV heads, ffn 5632,\n"
                    "  vocab 32000, ctx 2048).\n");
}

/* xoshiro256** seeded by splitmix64: fast, and the same file for the same seed
 * on every machine. */
typedef struct rng {
    uint64_t s[4];
} rng;

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t next_u64(rng *r) {
    uint64_t *s = r->s, result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Approximately normal: the sum of four uniforms (Irwin-Hall), rescaled to unit
 * variance. Exact Gaussian tails do not matter for a speed model, and this is
 * several times cheaper than Box-Muller over a billion weights. */
static float next_normal(rng *r) {
    uint64_t x = next_u64(r);
    float sum = 0.0f;
    for (int i = 0; i < 4; i++) sum += (float)((x >> (16 * i)) & 0xffff) * (1.0f / 65536.0f);
    return (sum - 2.0f) * 1.7320508f; /* variance of the sum of 4 U(0,1) is 1/3 */
}

/* Holds every buffer until the file is written (the writer references data). */
typedef struct arena {
    void **ptrs;
    size_t n, cap;
} arena;

static void *arena_alloc(arena *a, size_t bytes) {
    if (a->n == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 64;
        void **p = realloc(a->ptrs, cap * sizeof *p);
        if (!p) return NULL;
        a->ptrs = p;
        a->cap = cap;
    }
    void *buf = malloc(bytes ? bytes : 1);
    if (buf) a->ptrs[a->n++] = buf;
    return buf;
}

static void arena_free(arena *a) {
    for (size_t i = 0; i < a->n; i++) free(a->ptrs[i]);
    free(a->ptrs);
}

static bool add_matrix(aq_gguf_writer *w, arena *a, rng *r, const char *name, int64_t rows, int64_t cols, float sd) {
    size_t n = (size_t)rows * (size_t)cols;
    uint16_t *h = arena_alloc(a, n * sizeof *h);
    if (!h) return false;
    for (size_t i = 0; i < n; i++) h[i] = aq_fp32_to_fp16(sd * next_normal(r));
    int64_t ne[2] = {cols, rows}; /* ne[0] is the row (contiguous) dimension */
    return aq_gguf_writer_add_tensor(w, name, AQ_TENSOR_F16, 2, ne, h, n * sizeof *h) == AQ_OK;
}

static bool add_norm(aq_gguf_writer *w, arena *a, const char *name, int64_t dim) {
    float *v = arena_alloc(a, (size_t)dim * sizeof *v);
    if (!v) return false;
    for (int64_t i = 0; i < dim; i++) v[i] = 1.0f;
    int64_t ne[1] = {dim};
    return aq_gguf_writer_add_tensor(w, name, AQ_TENSOR_F32, 1, ne, v, (uint64_t)dim * sizeof *v) == AQ_OK;
}

static bool add_vocab(aq_gguf_writer *w, arena *a, int32_t vocab) {
    aq_gguf_str *toks = arena_alloc(a, (size_t)vocab * sizeof *toks);
    float *scores = arena_alloc(a, (size_t)vocab * sizeof *scores);
    int32_t *types = arena_alloc(a, (size_t)vocab * sizeof *types);
    char *text = arena_alloc(a, (size_t)vocab * 16);
    if (!toks || !scores || !types || !text) return false;
    for (int32_t i = 0; i < vocab; i++) {
        char *p = text + (size_t)i * 16;
        int len;
        if (i == 0)
            len = snprintf(p, 16, "<unk>"), types[i] = 2;
        else if (i == 1)
            len = snprintf(p, 16, "<s>"), types[i] = 3;
        else if (i == 2)
            len = snprintf(p, 16, "</s>"), types[i] = 3;
        else if (i < 3 + 256)
            len = snprintf(p, 16, "<0x%02X>", (unsigned)(i - 3)), types[i] = 6;
        else
            len = snprintf(p, 16, "\xe2\x96\x81t%d", (int)i), types[i] = 1; /* U+2581 then t<id> */
        toks[i] = (aq_gguf_str){p, (uint64_t)len};
        scores[i] = i < 3 + 256 ? 0.0f : -(float)(i - 259); /* earlier pieces merge first */
    }
    return aq_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, (uint64_t)vocab) == AQ_OK &&
           aq_gguf_writer_set_arr(w, "tokenizer.ggml.scores", AQ_GGUF_FLOAT32, scores, (uint64_t)vocab) == AQ_OK &&
           aq_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", AQ_GGUF_INT32, types, (uint64_t)vocab) == AQ_OK;
}

static bool parse_int(const char *s, int32_t lo, int32_t hi, int32_t *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < lo || v > hi) return false;
    *out = (int32_t)v;
    return true;
}

int main(int argc, char **argv) {
    shape s = presets[0];
    const char *out = NULL;
    uint64_t seed = 1;
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage();
            return 0;
        }
        if (!v) {
            usage();
            return 2;
        }
        bool ok = true;
        if (!strcmp(a, "-o"))
            out = v;
        else if (!strcmp(a, "--seed"))
            seed = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--preset")) {
            ok = false;
            for (size_t j = 0; j < sizeof presets / sizeof presets[0]; j++)
                if (!strcmp(v, presets[j].name)) s = presets[j], ok = true;
        } else if (!strcmp(a, "--dim"))
            ok = parse_int(v, 2, 1 << 16, &s.dim);
        else if (!strcmp(a, "--layers"))
            ok = parse_int(v, 1, 1024, &s.layers);
        else if (!strcmp(a, "--heads"))
            ok = parse_int(v, 1, 1024, &s.heads);
        else if (!strcmp(a, "--kv-heads"))
            ok = parse_int(v, 1, 1024, &s.kv_heads);
        else if (!strcmp(a, "--ffn"))
            ok = parse_int(v, 1, 1 << 18, &s.ffn);
        else if (!strcmp(a, "--vocab"))
            ok = parse_int(v, 3 + 256, 1 << 20, &s.vocab);
        else if (!strcmp(a, "--ctx"))
            ok = parse_int(v, 1, 1 << 24, &s.ctx);
        else {
            usage();
            return 2;
        }
        if (!ok) {
            fprintf(stderr, "aq-synth: bad value '%s' for %s\n", v, a);
            return 2;
        }
    }
    if (!out) {
        usage();
        return 2;
    }
    if (s.dim % s.heads || s.heads % s.kv_heads || (s.dim / s.heads) % 2) {
        fprintf(stderr, "aq-synth: dim must split into heads of even width, heads into kv-heads\n");
        return 2;
    }
    int32_t head_dim = s.dim / s.heads, kv_dim = s.kv_heads * head_dim;

    rng r;
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r.s[i] = aq_splitmix64(&x);
    arena a = {0};
    aq_gguf_writer *w = aq_gguf_writer_create();
    bool ok = w != NULL;
    char name[96];
    if (ok) {
        const char *arch = "llama", *model_name = "synthetic", *tok_model = "llama";
        ok = aq_gguf_writer_set_str(w, "general.architecture", arch, strlen(arch)) == AQ_OK &&
             aq_gguf_writer_set_str(w, "general.name", model_name, strlen(model_name)) == AQ_OK &&
             aq_gguf_writer_set_u32(w, "general.file_type", 1) == AQ_OK && /* mostly F16 */
             aq_gguf_writer_set_u32(w, "llama.context_length", (uint32_t)s.ctx) == AQ_OK &&
             aq_gguf_writer_set_u32(w, "llama.embedding_length", (uint32_t)s.dim) == AQ_OK &&
             aq_gguf_writer_set_u32(w, "llama.block_count", (uint32_t)s.layers) == AQ_OK &&
             aq_gguf_writer_set_u32(w, "llama.feed_forward_length", (uint32_t)s.ffn) == AQ_OK &&
             aq_gguf_writer_set_u32(w, "llama.rope.dimension_count", (uint32_t)head_dim) == AQ_OK &&
             aq_gguf_writer_set_u32(w, "llama.attention.head_count", (uint32_t)s.heads) == AQ_OK &&
             aq_gguf_writer_set_u32(w, "llama.attention.head_count_kv", (uint32_t)s.kv_heads) == AQ_OK &&
             aq_gguf_writer_set_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f) == AQ_OK &&
             aq_gguf_writer_set_f32(w, "llama.rope.freq_base", 10000.0f) == AQ_OK &&
             aq_gguf_writer_set_u32(w, "llama.vocab_size", (uint32_t)s.vocab) == AQ_OK &&
             aq_gguf_writer_set_str(w, "tokenizer.ggml.model", tok_model, strlen(tok_model)) == AQ_OK &&
             add_vocab(w, &a, s.vocab) && aq_gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 1) == AQ_OK &&
             aq_gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 2) == AQ_OK &&
             aq_gguf_writer_set_u32(w, "tokenizer.ggml.unknown_token_id", 0) == AQ_OK &&
             aq_gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", true) == AQ_OK &&
             aq_gguf_writer_set_bool(w, "tokenizer.ggml.add_eos_token", false) == AQ_OK &&
             aq_gguf_writer_set_bool(w, "tokenizer.ggml.add_space_prefix", true) == AQ_OK;
    }
    const float sd = 0.02f;
    ok = ok && add_matrix(w, &a, &r, "token_embd.weight", s.vocab, s.dim, sd);
    for (int32_t i = 0; i < s.layers && ok; i++) {
#define NAME(suffix) (snprintf(name, sizeof name, "blk.%d." suffix ".weight", (int)i), name)
        ok = add_norm(w, &a, NAME("attn_norm"), s.dim) && add_matrix(w, &a, &r, NAME("attn_q"), s.dim, s.dim, sd) &&
             add_matrix(w, &a, &r, NAME("attn_k"), kv_dim, s.dim, sd) &&
             add_matrix(w, &a, &r, NAME("attn_v"), kv_dim, s.dim, sd) &&
             add_matrix(w, &a, &r, NAME("attn_output"), s.dim, s.dim, sd) && add_norm(w, &a, NAME("ffn_norm"), s.dim) &&
             add_matrix(w, &a, &r, NAME("ffn_gate"), s.ffn, s.dim, sd) &&
             add_matrix(w, &a, &r, NAME("ffn_up"), s.ffn, s.dim, sd) &&
             add_matrix(w, &a, &r, NAME("ffn_down"), s.dim, s.ffn, sd);
#undef NAME
    }
    ok = ok && add_norm(w, &a, "output_norm.weight", s.dim) &&
         add_matrix(w, &a, &r, "output.weight", s.vocab, s.dim, sd);
    aq_error err = ok ? aq_gguf_writer_write_file(w, out) : AQ_ERR_OUT_OF_MEMORY;
    aq_gguf_writer_free(w);
    arena_free(&a);
    if (err != AQ_OK) {
        fprintf(stderr, "aq-synth: cannot write %s: %s\n", out, aq_error_name(err));
        return 1;
    }
    int64_t params = (int64_t)s.vocab * s.dim * 2 + s.dim +
                     (int64_t)s.layers * (2 * (int64_t)s.dim * s.dim + 2 * (int64_t)kv_dim * s.dim +
                                          3 * (int64_t)s.ffn * s.dim + 2 * s.dim);
    printf("wrote %s: dim %d, %d layers, %d heads (%d KV), ffn %d, vocab %d, ctx %d, %.3f G parameters\n", out,
           (int)s.dim, (int)s.layers, (int)s.heads, (int)s.kv_heads, (int)s.ffn, (int)s.vocab, (int)s.ctx,
           (double)params * 1e-9);
    return 0;
}
