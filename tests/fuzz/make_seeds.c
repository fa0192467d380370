/* aq-fuzz-seeds: writes the seed models of the fuzz corpora
 * (tests/fuzz/corpus/): for model/, tiny files of every family, tokenizer
 * kind and weight type the loader reads, a few kilobytes each, so that a
 * mutation lands in a real structure and a harness runs thousands of them a
 * second; for gguf/, tokenizer/, blocks/ and params/, small inputs of the
 * shape their harness reads.
 *   aq-fuzz-seeds tests/fuzz/corpus
 * Random weights (a fixed seed: the same files on every machine). The
 * vocabularies are small: SentencePiece pieces with a few byte tokens, and a
 * byte-level BPE alphabet of printable ASCII with a few merges. Our own
 * quantized formats come from aq_quantize and aq_model_save of the first. */
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agilequant.h"
#include "block-types.h"
#include "f16.h"
#include "gguf.h"
#include "quant.h"

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;

static uint32_t next_u32(void) {
    g_rng ^= g_rng << 13, g_rng ^= g_rng >> 7, g_rng ^= g_rng << 17;
    return (uint32_t)(g_rng >> 16);
}

static float next_weight(void) { return ((float)(next_u32() % 2001) - 1000.0f) * 1e-4f; } /* [-0.1, 0.1] */

/* Buffers that must live until the file is written. */
static void *g_keep[4096];
static size_t g_n_keep;

static void *keep(size_t n) {
    void *p = calloc(1, n ? n : 1);
    if (!p || g_n_keep == sizeof g_keep / sizeof g_keep[0]) {
        fprintf(stderr, "aq-fuzz-seeds: out of memory\n");
        exit(1);
    }
    return g_keep[g_n_keep++] = p;
}

static void release(void) {
    while (g_n_keep) free(g_keep[--g_n_keep]);
}

static void check(aq_error err, const char *what) {
    if (err != AQ_OK) {
        fprintf(stderr, "aq-fuzz-seeds: %s: %s\n", what, aq_error_name(err));
        exit(1);
    }
}

/* The f16 scales of a block (ggml-common.h's layouts), set to small values so
 * that random bytes decode to sane weights. */
static const struct {
    uint32_t type;
    size_t offset, count;
} k_scales[] = {
    {AQ_GGML_Q4_1, 0, 2}, {AQ_GGML_Q5_0, 0, 1}, {AQ_GGML_Q5_1, 0, 2},   {AQ_GGML_Q2_K, 80, 2},  {AQ_GGML_Q3_K, 108, 1},
    {AQ_GGML_Q4_K, 0, 2}, {AQ_GGML_Q5_K, 0, 2}, {AQ_GGML_Q6_K, 208, 1}, {AQ_GGML_IQ4_NL, 0, 1}, {AQ_GGML_IQ4_XS, 0, 1},
};

/* A (rows, cols) matrix (rows 1: a vector) of random weights in the given type. */
static void tensor(aq_gguf_writer *w, const char *name, uint32_t type, int64_t rows, int64_t cols, float fill) {
    size_t n = (size_t)rows * (size_t)cols;
    float *x = keep(n * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = isnan(fill) ? next_weight() : fill;
    void *data = x;
    size_t bytes = n * sizeof(float);
    if (type != AQ_TENSOR_F32) {
        const aq_block_type *bt = aq_block_type_get(type);
        if (!bt || (size_t)cols % bt->block_elems) check(AQ_ERR_INVALID_ARGUMENT, name);
        bytes = n / bt->block_elems * bt->block_bytes;
        data = keep(bytes);
        if (type == AQ_TENSOR_F16) {
            for (size_t i = 0; i < n; i++) ((uint16_t *)data)[i] = aq_fp32_to_fp16(x[i]);
        } else if (type == AQ_TENSOR_BF16) {
            aq_bf16_quantize_ref(x, n, data);
        } else if (type == AQ_TENSOR_Q4_0) {
            aq_q4_0_quantize_ref(x, n, data);
        } else if (type == AQ_TENSOR_Q8_0) {
            aq_q8_0_quantize_ref(x, n, data);
        } else {
            uint8_t *b = data;
            for (size_t i = 0; i < bytes; i++) b[i] = (uint8_t)next_u32();
            for (size_t t = 0; t < sizeof k_scales / sizeof k_scales[0]; t++) {
                if (k_scales[t].type != type) continue;
                for (size_t blk = 0; blk < bytes / bt->block_bytes; blk++)
                    for (size_t j = 0; j < k_scales[t].count; j++) {
                        uint16_t h = aq_fp32_to_fp16(j == 0 ? 0.004f : 0.001f);
                        memcpy(b + blk * bt->block_bytes + k_scales[t].offset + 2 * j, &h, 2);
                    }
            }
        }
    }
    int64_t ne[2] = {cols, rows};
    check(aq_gguf_writer_add_tensor(w, name, type, rows == 1 ? 1 : 2, ne, data, bytes), name);
}

typedef struct spec {
    const char *file, *family;
    bool bpe;
    int32_t dim, layers, heads, kv_heads, ffn, ctx;
    uint32_t types[4]; /* token_embd, output, then the matrices of layer i: types[i % 4] */
    uint32_t downs[4]; /* w_down of layer i: downs[i % 4], or 0 for types[i % 4] (K-quants need ffn 256) */
    bool biases;       /* every linear layer gets a bias (the families that need them get them anyway) */
} spec;

static void spm_vocab(aq_gguf_writer *w, int32_t *n_vocab) {
    static const char *const pieces[] = {
        "<unk>",
        "<s>",
        "</s>",
        "<0x0A>",
        "<0x20>",
        "<0xC3>",
        "<0xA9>",
        "<0xFF>",
        "\xe2\x96\x81",
        "a",
        "b",
        "c",
        "d",
        "e",
        "f",
        "g",
        "h",
        "i",
        "l",
        "m",
        "n",
        "o",
        "p",
        "r",
        "s",
        "t",
        "u",
        "w",
        "y",
        ",",
        ".",
        "!",
        "\xe2\x96\x81t",
        "he",
        "\xe2\x96\x81the",
        "on",
        "ce",
        "\xe2\x96\x81up",
        "\xe2\x96\x81\x61",
        "in",
        "<|im_start|>",
        "<|im_end|>",
    };
    enum { N = sizeof pieces / sizeof pieces[0] };
    aq_gguf_str *toks = keep(N * sizeof *toks);
    float *scores = keep(N * sizeof *scores);
    int32_t *types = keep(N * sizeof *types);
    for (int32_t i = 0; i < N; i++) {
        toks[i] = (aq_gguf_str){pieces[i], strlen(pieces[i])};
        types[i] = i == 0 ? 2 : i < 3 ? 3 : i < 8 ? 6 : pieces[i][0] == '<' ? 3 : 1;
        scores[i] = -(float)i;
    }
    check(aq_gguf_writer_set_str(w, "tokenizer.ggml.model", "llama", 5), "tokenizer");
    check(aq_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, N), "tokens");
    check(aq_gguf_writer_set_arr(w, "tokenizer.ggml.scores", AQ_GGUF_FLOAT32, scores, N), "scores");
    check(aq_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", AQ_GGUF_INT32, types, N), "types");
    check(aq_gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 1), "bos");
    check(aq_gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 2), "eos");
    check(aq_gguf_writer_set_u32(w, "tokenizer.ggml.unknown_token_id", 0), "unk");
    check(aq_gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", true), "add_bos");
    static const char chatml[] = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
                                 "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}";
    check(aq_gguf_writer_set_str(w, "tokenizer.chat_template", chatml, sizeof chatml - 1), "template");
    *n_vocab = N;
}

static void bpe_vocab(aq_gguf_writer *w, const char *pre, int32_t *n_vocab) {
    /* printable ASCII as itself, then GPT-2's characters for space and newline, then merged pieces */
    enum { ASCII = 0x7E - 0x21 + 1 };
    static const char *const extra[] = {"\xc4\xa0",    "\xc4\x8a", "\xc4\xa0t", "he",
                                        "\xc4\xa0the", "on",       "in",        "<|endoftext|>"};
    static const char *const merges[] = {"\xc4\xa0 t", "h e", "\xc4\xa0t he", "o n", "i n"};
    enum { N_EXTRA = sizeof extra / sizeof extra[0], N = ASCII + N_EXTRA, N_MERGES = sizeof merges / sizeof merges[0] };
    char *ascii = keep(ASCII);
    aq_gguf_str *toks = keep(N * sizeof *toks), *m = keep(N_MERGES * sizeof *m);
    int32_t *types = keep(N * sizeof *types);
    for (int32_t i = 0; i < N; i++) {
        if (i < ASCII)
            ascii[i] = (char)(0x21 + i), toks[i] = (aq_gguf_str){ascii + i, 1};
        else
            toks[i] = (aq_gguf_str){extra[i - ASCII], strlen(extra[i - ASCII])};
        types[i] = i == N - 1 ? 3 : 1;
    }
    for (int32_t i = 0; i < N_MERGES; i++) m[i] = (aq_gguf_str){merges[i], strlen(merges[i])};
    check(aq_gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2", 4), "tokenizer");
    check(aq_gguf_writer_set_str(w, "tokenizer.ggml.pre", pre, strlen(pre)), "pre");
    check(aq_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, N), "tokens");
    check(aq_gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", m, N_MERGES), "merges");
    check(aq_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", AQ_GGUF_INT32, types, N), "types");
    check(aq_gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", N - 1), "bos");
    check(aq_gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", N - 1), "eos");
    *n_vocab = N;
}

static void key_u32(aq_gguf_writer *w, const spec *s, const char *suffix, uint32_t v) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", s->family, suffix);
    check(aq_gguf_writer_set_u32(w, key, v), key);
}

static void key_f32(aq_gguf_writer *w, const spec *s, const char *suffix, float v) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", s->family, suffix);
    check(aq_gguf_writer_set_f32(w, key, v), key);
}

/* A norm: weight (and bias for a LayerNorm family). */
static void norm(aq_gguf_writer *w, const char *name, int32_t dim, bool layer_norm) {
    char full[128];
    snprintf(full, sizeof full, "%s.weight", name);
    tensor(w, full, AQ_TENSOR_F32, 1, dim, 1.0f);
    if (!layer_norm) return;
    snprintf(full, sizeof full, "%s.bias", name);
    tensor(w, full, AQ_TENSOR_F32, 1, dim, NAN);
}

static void linear(aq_gguf_writer *w, const char *name, uint32_t type, int32_t rows, int32_t cols, bool bias) {
    char full[128];
    snprintf(full, sizeof full, "%s.weight", name);
    tensor(w, full, type, rows, cols, NAN);
    if (!bias) return;
    snprintf(full, sizeof full, "%s.bias", name);
    tensor(w, full, AQ_TENSOR_F32, 1, rows, NAN);
}

static void write_model(const char *dir, const spec *s) {
    aq_gguf_writer *w = aq_gguf_writer_create();
    if (!w) check(AQ_ERR_OUT_OF_MEMORY, s->file);
    bool llama_like = !strcmp(s->family, "llama") || !strcmp(s->family, "qwen2");
    bool layer_norm = !llama_like, fused = !strcmp(s->family, "bloom") || !strcmp(s->family, "gpt2");
    bool learned = !strcmp(s->family, "gpt2") || !strcmp(s->family, "opt");
    bool biases = s->biases || !strcmp(s->family, "bloom") || !strcmp(s->family, "gpt2") || !strcmp(s->family, "opt");
    check(aq_gguf_writer_set_str(w, "general.architecture", s->family, strlen(s->family)), "arch");
    check(aq_gguf_writer_set_str(w, "general.name", s->file, strlen(s->file)), "name");
    key_u32(w, s, "context_length", (uint32_t)s->ctx);
    key_u32(w, s, "embedding_length", (uint32_t)s->dim);
    key_u32(w, s, "block_count", (uint32_t)s->layers);
    key_u32(w, s, "feed_forward_length", (uint32_t)s->ffn);
    key_u32(w, s, "attention.head_count", (uint32_t)s->heads);
    if (s->kv_heads != s->heads) key_u32(w, s, "attention.head_count_kv", (uint32_t)s->kv_heads);
    if (llama_like) {
        key_f32(w, s, "attention.layer_norm_rms_epsilon", 1e-5f);
        key_f32(w, s, "rope.freq_base", 10000.0f);
        key_u32(w, s, "rope.dimension_count", (uint32_t)(s->dim / s->heads));
    } else {
        key_f32(w, s, "attention.layer_norm_epsilon", 1e-5f);
    }
    int32_t vocab;
    if (s->bpe)
        bpe_vocab(w, !strcmp(s->family, "bloom") ? "bloom" : !strcmp(s->family, "qwen2") ? "qwen2" : "gpt-2", &vocab);
    else
        spm_vocab(w, &vocab);

    int32_t hd = s->dim / s->heads, q_dim = s->heads * hd, kv_dim = s->kv_heads * hd;
    tensor(w, "token_embd.weight", s->types[0], vocab, s->dim, NAN);
    if (learned)
        tensor(w, "position_embd.weight", AQ_TENSOR_F32, s->ctx + (!strcmp(s->family, "opt") ? 2 : 0), s->dim, NAN);
    if (!strcmp(s->family, "bloom")) norm(w, "token_embd_norm", s->dim, true);
    if (!strcmp(s->family, "llama")) tensor(w, "rope_freqs.weight", AQ_TENSOR_F32, 1, hd / 2, 1.0f);
    char name[96];
    for (int32_t i = 0; i < s->layers; i++) {
        uint32_t t = s->types[i % 4];
#define NAME(suffix) (snprintf(name, sizeof name, "blk.%d." suffix, (int)i), name)
        norm(w, NAME("attn_norm"), s->dim, layer_norm);
        if (fused) {
            linear(w, NAME("attn_qkv"), t, q_dim + 2 * kv_dim, s->dim, biases);
        } else {
            linear(w, NAME("attn_q"), t, q_dim, s->dim, biases || !strcmp(s->family, "qwen2"));
            linear(w, NAME("attn_k"), t, kv_dim, s->dim, biases || !strcmp(s->family, "qwen2"));
            linear(w, NAME("attn_v"), t, kv_dim, s->dim, biases || !strcmp(s->family, "qwen2"));
        }
        linear(w, NAME("attn_output"), t, s->dim, q_dim, biases);
        norm(w, NAME("ffn_norm"), s->dim, layer_norm);
        if (llama_like) linear(w, NAME("ffn_gate"), t, s->ffn, s->dim, false);
        linear(w, NAME("ffn_up"), t, s->ffn, s->dim, biases);
        linear(w, NAME("ffn_down"), s->downs[i % 4] ? s->downs[i % 4] : t, s->dim, s->ffn, biases);
#undef NAME
    }
    norm(w, "output_norm", s->dim, layer_norm);
    if (strcmp(s->family, "llama") != 0) tensor(w, "output.weight", s->types[1], vocab, s->dim, NAN); /* llama: tied */
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", dir, s->file);
    check(aq_gguf_writer_write_file(w, path), path);
    aq_gguf_writer_free(w);
    release();
    printf("wrote %s\n", path);
}

/* Our own formats: the first model quantized by a scheme and saved. */
static void write_quantized(const char *dir, const char *from, const char *scheme, const char *file) {
    static const char text[] = "the cat sat on the mat. he ran up the hill, and the sun came in. "
                               "once upon a time there lived a little cat in a house on the hill.";
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", dir, from);
    aq_model *m = aq_model_create();
    check(m ? aq_model_load_file(m, path) : AQ_ERR_OUT_OF_MEMORY, path);
    aq_error err = aq_quantize(m, scheme, text, sizeof text - 1);
    if (err != AQ_OK) fprintf(stderr, "%s: %s\n", scheme, aq_model_error_message(m));
    check(err, scheme);
    snprintf(path, sizeof path, "%s/%s", dir, file);
    check(aq_model_save(m, path), path);
    aq_model_free(m);
    printf("wrote %s (%s)\n", path, scheme);
}

static void write_bytes(const char *dir, const char *file, const void *data, size_t n) {
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n || fclose(f) != 0) check(AQ_ERR_IO, path);
}

/* The GGUF reader's own seeds: a file with a key of every type, arrays of
 * every element type and tensors of odd shapes and types. */
static void gguf_seeds(const char *dir) {
    aq_gguf_writer *w = aq_gguf_writer_create();
    if (!w) check(AQ_ERR_OUT_OF_MEMORY, "writer");
    check(aq_gguf_writer_set_str(w, "general.architecture", "llama", 5), "arch");
    check(aq_gguf_writer_set_u32(w, "general.file_type", 7), "u32");
    check(aq_gguf_writer_set_i32(w, "llama.context_length", 64), "i32");
    check(aq_gguf_writer_set_f32(w, "llama.rope.freq_base", 10000.0f), "f32");
    check(aq_gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", true), "bool");
    static const uint8_t u8[] = {1, 2, 255};
    static const int16_t i16[] = {-1, 2, 32767};
    static const uint32_t u32[] = {0, 1, 4294967295u};
    static const int64_t i64[] = {-1, 2, INT64_MAX};
    static const double f64[] = {1.5, -2.0, 1e300};
    static const float f32[] = {0.5f, -1.0f, 3.0f};
    static const aq_gguf_type types[] = {AQ_GGUF_UINT8, AQ_GGUF_INT16,   AQ_GGUF_UINT32,
                                         AQ_GGUF_INT64, AQ_GGUF_FLOAT64, AQ_GGUF_FLOAT32};
    static const void *const arrays[] = {u8, i16, u32, i64, f64, f32};
    static const char *const keys[] = {"tokenizer.ggml.token_type", "agilequant.act_bits",  "tokenizer.ggml.scores",
                                       "agilequant.act_zero",       "agilequant.act_scale", "tokenizer.ggml.merges_f"};
    for (size_t i = 0; i < 6; i++) check(aq_gguf_writer_set_arr(w, keys[i], types[i], arrays[i], 3), keys[i]);
    aq_gguf_str strs[] = {{"<unk>", 5}, {"", 0}, {"\xe2\x96\x81the", 6}};
    check(aq_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", strs, 3), "strings");
    static const float one[4] = {1, 2, 3, 4};
    int64_t ne4[4] = {1, 2, 1, 2}, ne1[1] = {32};
    check(aq_gguf_writer_add_tensor(w, "four.dims", AQ_TENSOR_F32, 4, ne4, one, sizeof one), "4d");
    uint8_t *q = keep(18);
    check(aq_gguf_writer_add_tensor(w, "q4_0.row", AQ_TENSOR_Q4_0, 1, ne1, q, 18), "q4_0");
    char path[2048];
    snprintf(path, sizeof path, "%s/kv-types.gguf", dir);
    check(aq_gguf_writer_write_file(w, path), path);
    aq_gguf_writer_free(w);
    release();
    /* The smallest files: a header with nothing, in version 2 and 3. */
    uint8_t empty[24] = {'G', 'G', 'U', 'F', 3};
    write_bytes(dir, "empty-v3.gguf", empty, sizeof empty);
    empty[4] = 2;
    write_bytes(dir, "empty-v2.gguf", empty, sizeof empty);
}

/* Tokenizer inputs: a selector byte (vocabulary, mode: fuzz_tokenizer.c), then text or ids. */
static void tokenizer_seeds(const char *dir) {
    static const char *const texts[] = {
        "Hello world",
        " the  cat\n\tsat on the mat.",
        "caf\xc3\xa9 na\xc3\xafve \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80",
        "bad \xff\xfe \xc3 \xe2\x82 utf-8",
        "<s>text</s><|endoftext|><|im_start|>user",
        "1234567 3.14 --- ''' ",
    };
    for (int sel = 0; sel < 12; sel++) {
        uint8_t buf[128];
        size_t n;
        buf[0] = (uint8_t)sel;
        if (sel / 3 == 3) { /* decode: ids, some out of range */
            int32_t ids[] = {0, 1, 2, 3, 40, 100, 255, 256, -1, 1 << 30};
            memcpy(buf + 1, ids, sizeof ids);
            n = 1 + sizeof ids;
        } else {
            const char *t = texts[sel % 6];
            n = 1 + strlen(t);
            memcpy(buf + 1, t, n - 1);
        }
        char file[64];
        snprintf(file, sizeof file, "seed-%02d", sel);
        write_bytes(dir, file, buf, n);
    }
}

/* Block inputs: each selector (fuzz_blocks.c) with a few blocks' worth of bytes and an activation row. */
static void block_seeds(const char *dir) {
    for (int sel = 0; sel < 30; sel++) {
        uint8_t buf[1 + 1536];
        for (size_t i = 0; i < sizeof buf; i++) buf[i] = (uint8_t)next_u32();
        buf[0] = (uint8_t)sel;
        for (size_t i = 1; i + 1 < sizeof buf; i += 37) buf[i + 1] = 0x20; /* some small f16 values */
        char file[64];
        snprintf(file, sizeof file, "seed-%02d", sel);
        write_bytes(dir, file, buf, sel < 15 ? 1 + 600 : sizeof buf);
    }
}

/* Parameter inputs: a scheme name, '\n', then (parameter, value) records. */
static void param_seeds(const char *dir) {
    static const char *const names[] = {
        "w4a8",      "w4a4-paper,rtn,g128,asym", "q4_0", "fp32,rotate,balance", "w4a16,gptq,g64,no-trip,static,down8",
        "w4a8,bogus"};
    static const struct {
        int32_t id;
        double v;
    } records[] = {
        {AQ_PARAM_THREADS, 2},      {AQ_PARAM_TEMPERATURE, 0.5}, {AQ_PARAM_TOP_K, 5},
        {AQ_PARAM_TOP_P, 0.9},      {AQ_PARAM_SEED, 42},         {AQ_PARAM_CONTEXT_LENGTH, 8},
        {AQ_PARAM_KV_INT8, 1},      {AQ_PARAM_THREADS, 1.5},     {7, 1},
        {AQ_PARAM_TEMPERATURE, -1},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        uint8_t buf[256];
        size_t n = strlen(names[i]);
        memcpy(buf, names[i], n);
        buf[n++] = '\n';
        for (size_t r = i; r < i + 4; r++) {
            size_t k = r % (sizeof records / sizeof records[0]);
            memcpy(buf + n, &records[k].id, 4);
            memcpy(buf + n + 4, &records[k].v, 8);
            n += 12;
        }
        char file[64];
        snprintf(file, sizeof file, "seed-%02d", (int)i);
        write_bytes(dir, file, buf, n);
    }
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: aq-fuzz-seeds CORPUS_DIR (writes CORPUS_DIR/model, gguf, tokenizer, blocks, params)\n");
        return 2;
    }
    static const char *const subdirs[] = {"model", "gguf", "tokenizer", "blocks", "params"};
    char dirs[5][1024];
    for (int i = 0; i < 5; i++) {
        snprintf(dirs[i], sizeof dirs[i], "%s/%s", argv[1], subdirs[i]);
        mkdir(dirs[i], 0755);
    }
    const uint32_t F32 = AQ_TENSOR_F32, F16 = AQ_TENSOR_F16, BF16 = AQ_TENSOR_BF16, Q4_0 = AQ_TENSOR_Q4_0,
                   Q8_0 = AQ_TENSOR_Q8_0;
    const uint32_t Q4_1 = AQ_TENSOR_Q4_1, Q5_0 = AQ_TENSOR_Q5_0, Q5_1 = AQ_TENSOR_Q5_1, IQ4_NL = AQ_TENSOR_IQ4_NL;
    const spec specs[] = {
        {"llama-f16-spm.gguf", "llama", false, 16, 1, 2, 1, 32, 64, {F16, F32, F16, F16}, {0}, false},
        {"llama-blocks-spm.gguf", "llama", false, 32, 2, 2, 1, 64, 64, {Q4_0, Q5_1, IQ4_NL, Q8_0}, {0}, true},
        {"llama-kquants-spm.gguf",
         "llama",
         false,
         32,
         3,
         2,
         2,
         256,
         64,
         {Q4_1, Q5_0, Q4_0, Q4_1},
         {AQ_TENSOR_Q2_K, AQ_TENSOR_Q3_K, AQ_TENSOR_Q4_K, 0},
         false},
        {"qwen2-kquants-bpe.gguf",
         "qwen2",
         true,
         32,
         3,
         4,
         2,
         256,
         64,
         {Q8_0, IQ4_NL, IQ4_NL, Q4_0},
         {AQ_TENSOR_Q5_K, AQ_TENSOR_Q6_K, AQ_TENSOR_IQ4_XS, 0},
         false},
        {"bloom-f16-bpe.gguf", "bloom", true, 16, 1, 2, 2, 32, 64, {F16, BF16, F16, F16}, {0}, true},
        {"gpt2-q8_0-bpe.gguf", "gpt2", true, 32, 1, 2, 2, 32, 16, {Q8_0, Q4_0, Q8_0, Q8_0}, {0}, true},
        {"opt-f32-bpe.gguf", "opt", true, 16, 1, 2, 2, 32, 16, {F32, F32, F32, F32}, {0}, true},
    };
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) write_model(dirs[0], &specs[i]);
    write_quantized(dirs[0], "llama-blocks-spm.gguf", "w4a8,rtn", "llama-w4a8-ours.gguf");
    write_quantized(dirs[0], "llama-blocks-spm.gguf", "w4a4-paper,rtn,g32,asym", "llama-w4a4-paper-ours.gguf");
    write_quantized(dirs[0], "gpt2-q8_0-bpe.gguf", "q4_0", "gpt2-q4_0-ours.gguf");
    gguf_seeds(dirs[1]);
    tokenizer_seeds(dirs[2]);
    block_seeds(dirs[3]);
    param_seeds(dirs[4]);
    return 0;
}
