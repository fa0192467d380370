/* Every model family on small random-weight files (data/families/, made by
 * tools/make_family_fixtures.sh): logits against llama.cpp's and
 * transformers', incremental decoding, the INT8 KV cache, the quantization
 * transforms that must keep the function, every scheme near FP32, token
 * pruning, saving and loading back, metadata errors; and the trained
 * BLOOM/OPT models against PyTorch when they are in models/. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "agilequant.h"
#include "context.h"
#include "prune.h"
#include "test_util.h"

#define MAX_TOKENS 64

typedef struct family_file {
    const char *name; /* data/families/NAME.{gguf,tokens,logits,hf.logits} */
    const char *arch;
    /* Largest |our logit - llama.cpp's| (NAME.logits): llama.cpp keeps the KV
     * cache in F16 and tabulates GELU on F16 inputs; measured 0.025 (llama3),
     * 0.019 (qwen2), 0.009 (gpt2), 0.011 (bloom). 0: no llama.cpp (opt). */
    float llamacpp_tolerance;
    /* Against transformers in float32 (NAME.hf.logits): gpt2 and opt agree to
     * 1e-5; bloom's F16 weights make both llama.cpp and us round the
     * activations to F16 (measured 0.007). 0: none. */
    float hf_tolerance;
} family_file;

static const family_file k_files[] = {
    {"llama3", "llama", 0.05f, 0.0f}, {"qwen2", "qwen2", 0.05f, 0.0f}, {"gpt2", "gpt2", 0.03f, 1e-3f},
    {"bloom", "bloom", 0.03f, 0.02f}, {"opt", "opt", 0.0f, 1e-3f},
};
#define N_FILES (sizeof k_files / sizeof k_files[0])

static aq_model *load(const char *name) {
    char path[1024], relative[256];
    snprintf(relative, sizeof relative, "data/families/%s.gguf", name);
    test_source_path(path, sizeof path, relative);
    aq_model *m = aq_model_create();
    assert_non_null(m);
    aq_error err = aq_model_load_file(m, path);
    if (err != AQ_OK) fail_msg("%s: %s: %s", name, aq_error_name(err), aq_model_error_message(m));
    return m;
}

static int32_t read_tokens(const char *name, int32_t *ids) {
    char relative[256];
    snprintf(relative, sizeof relative, "data/families/%s.tokens", name);
    size_t len = 0;
    char *text = test_read_source_file(relative, &len);
    assert_non_null(text);
    int32_t n = 0;
    char *p = text, *end;
    for (long v = strtol(p, &end, 10); end != p && n < MAX_TOKENS; v = strtol(p, &end, 10)) {
        ids[n++] = (int32_t)v;
        p = end;
    }
    free(text);
    return n;
}

static int64_t vocab_of(const aq_model *m) {
    int64_t v = 0;
    assert_int_equal(aq_model_get_info(m, AQ_INFO_VOCAB_SIZE, &v), AQ_OK);
    return v;
}

static aq_context *new_context(aq_model *m) {
    aq_context *ctx = aq_context_create(m);
    assert_non_null(ctx);
    assert_int_equal(aq_context_set_param(ctx, AQ_PARAM_THREADS, 1), AQ_OK);
    return ctx;
}

/* The logits of every token of the file's sequence; caller frees. */
static float *all_logits(aq_model *m, const int32_t *tokens, int32_t n) {
    aq_context *ctx = new_context(m);
    assert_int_equal(aq_forward(ctx, tokens, NULL, n, 1), AQ_OK);
    int64_t vocab = vocab_of(m);
    float *out = malloc((size_t)n * (size_t)vocab * sizeof *out);
    for (int32_t t = 0; t < n; t++) memcpy(out + (size_t)t * vocab, aq_get_logits(ctx, t), (size_t)vocab * sizeof *out);
    aq_context_free(ctx);
    return out;
}

static double max_abs_diff(const float *a, const float *b, size_t n) {
    double d = 0.0;
    for (size_t i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - (double)b[i]));
    return d;
}

static double relative_rms(const float *a, const float *base, size_t n) {
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)base[i];
        num += d * d;
        den += (double)base[i] * (double)base[i];
    }
    return sqrt(num / den);
}

/* Our logits for the file's tokens against a golden file of raw float32. */
static void check_golden(const family_file *f, const char *suffix, const char *who, float tolerance) {
    int32_t tokens[MAX_TOKENS];
    int32_t n = read_tokens(f->name, tokens);
    aq_model *m = load(f->name);
    assert_non_null(strstr(aq_model_describe(m), f->arch));
    int64_t vocab = vocab_of(m);
    char relative[256];
    snprintf(relative, sizeof relative, "data/families/%s.%s", f->name, suffix);
    size_t len = 0;
    float *golden = (float *)(void *)test_read_source_file(relative, &len);
    assert_non_null(golden);
    assert_int_equal(len, (size_t)n * (size_t)vocab * sizeof(float));
    float *ours = all_logits(m, tokens, n);
    double worst = max_abs_diff(ours, golden, (size_t)n * (size_t)vocab);
    int same_argmax = 0;
    for (int32_t t = 0; t < n; t++) {
        const float *a = ours + (size_t)t * vocab, *b = golden + (size_t)t * vocab;
        int64_t ia = 0, ib = 0;
        for (int64_t v = 1; v < vocab; v++) {
            if (a[v] > a[ia]) ia = v;
            if (b[v] > b[ib]) ib = v;
        }
        same_argmax += ia == ib;
    }
    print_message("%-7s max |logit - %s| %.5f, argmax agrees at %d of %d\n", f->name, who, worst, same_argmax, n);
    if (worst > tolerance) fail_msg("%s: logits differ from %s's by %g", f->name, who, worst);
    assert_true(same_argmax >= n - 1);
    free(ours);
    free(golden);
    aq_model_free(m);
}

static void test_logits_match_llamacpp(void **state) {
    (void)state;
    for (size_t i = 0; i < N_FILES; i++)
        if (k_files[i].llamacpp_tolerance > 0.0f)
            check_golden(&k_files[i], "logits", "llama.cpp", k_files[i].llamacpp_tolerance);
}

static void test_logits_match_transformers(void **state) {
    (void)state;
    for (size_t i = 0; i < N_FILES; i++)
        if (k_files[i].hf_tolerance > 0.0f)
            check_golden(&k_files[i], "hf.logits", "transformers", k_files[i].hf_tolerance);
}

/* Token-by-token decoding reproduces the prefill (the cache, RoPE/ALiBi/learned
 * positions at decode), and the INT8 and INT4 KV caches stay near the float one. */
static void test_decode_and_int8_cache(void **state) {
    (void)state;
    for (size_t f = 0; f < N_FILES; f++) {
        int32_t tokens[MAX_TOKENS];
        int32_t n = read_tokens(k_files[f].name, tokens);
        aq_model *m = load(k_files[f].name);
        int64_t vocab = vocab_of(m);
        float *prefill = all_logits(m, tokens, n);
        aq_context *step = new_context(m), *int8 = new_context(m), *int4 = new_context(m);
        assert_int_equal(aq_context_set_param(int8, AQ_PARAM_KV_INT8, 1), AQ_OK);
        assert_int_equal(aq_context_set_param(int4, AQ_PARAM_KV_BITS, 4), AQ_OK);
        float *q8 = malloc((size_t)n * (size_t)vocab * sizeof *q8),
              *q4 = malloc((size_t)n * (size_t)vocab * sizeof *q4);
        double worst = 0.0;
        for (int32_t t = 0; t < n; t++) {
            assert_int_equal(aq_forward(step, &tokens[t], NULL, 1, 0), AQ_OK);
            assert_int_equal(aq_forward(int8, &tokens[t], NULL, 1, 0), AQ_OK);
            assert_int_equal(aq_forward(int4, &tokens[t], NULL, 1, 0), AQ_OK);
            worst = fmax(worst, max_abs_diff(aq_get_logits(step, -1), prefill + (size_t)t * vocab, (size_t)vocab));
            memcpy(q8 + (size_t)t * vocab, aq_get_logits(int8, -1), (size_t)vocab * sizeof *q8);
            memcpy(q4 + (size_t)t * vocab, aq_get_logits(int4, -1), (size_t)vocab * sizeof *q4);
        }
        double rel = relative_rms(q8, prefill, (size_t)n * (size_t)vocab);
        double rel4 = relative_rms(q4, prefill, (size_t)n * (size_t)vocab);
        print_message("%-7s decode vs prefill %.2g; relative RMS logit error: INT8 KV cache %.4f, INT4 %.4f\n",
                      k_files[f].name, worst, rel, rel4);
        assert_true(worst < 2e-3);
        assert_true(rel < 0.05);
        /* An INT4 row has 15 steps between its extremes, an INT8 row 254 over
         * [-max, max]: up to 17 times INT8's error, and these random-weight
         * fixtures, with flat attention, pass it on to the logits unreduced. */
        assert_true(rel4 < 17.0 * rel && rel4 > rel);
        free(q8);
        free(q4);
        free(prefill);
        aq_context_free(step);
        aq_context_free(int8);
        aq_context_free(int4);
        aq_model_free(m);
    }
}

/* The calibration text's first 1500 bytes: 750 tokens for llama3 (2 chunks of its context, 256), 1212
 * for the others (qwen2 4 chunks; gpt2, opt and bloom the most aq_quantize takes, 8). Every family's
 * widths (at most 384) stay below its calibration tokens. 6000 bytes (up to 8 chunks of 256) cost
 * minutes under qemu, in the FP32 layers, the attention and GPTQ's Hessians, for no other code path. */
static char *calibration_text(size_t *len) {
    size_t cap = 1500, size = 0;
    char *text = test_read_source_file("data/austen-train.txt", &size);
    assert_non_null(text);
    *len = size < cap ? size : cap;
    while (*len > 0 && ((unsigned char)text[*len] & 0xC0) == 0x80) (*len)--;
    return text;
}

/* The file's model quantized by scheme (NULL: as loaded); logits of its tokens. */
static float *scheme_logits(const family_file *f, const char *scheme) {
    int32_t tokens[MAX_TOKENS];
    int32_t n = read_tokens(f->name, tokens);
    aq_model *m = load(f->name);
    if (scheme) {
        size_t len;
        char *text = calibration_text(&len);
        aq_error err = aq_quantize(m, scheme, text, len);
        if (err) fail_msg("%s, %s: %s", f->name, scheme, aq_model_error_message(m));
        free(text);
    }
    float *logits = all_logits(m, tokens, n);
    aq_model_free(m);
    return logits;
}

static size_t logit_count(const family_file *f) {
    int32_t tokens[MAX_TOKENS];
    aq_model *m = load(f->name);
    size_t n = (size_t)read_tokens(f->name, tokens) * (size_t)vocab_of(m);
    aq_model_free(m);
    return n;
}

/* Rotation (with LayerNorm made RMSNorm by centring the residual's writers),
 * MLP balancing and smoothing leave the FP32 function as it was. The reference is the
 * fp32 scheme, whose weights are F32 as the transformed ones (bloom's file is
 * F16, which the loaded model multiplies with F16-rounded activations). */
static void test_transforms_preserve_the_function(void **state) {
    (void)state;
    const char *transforms[] = {"fp32,rotate",
                                "fp32,balance",
                                "fp32,balance,rotate",
                                "fp32,balance-vo",
                                "fp32,rotate-blocked",
                                "fp32,balance,balance-vo,rotate",
                                "fp32,rotate-online",
                                "fp32,balance,balance-vo,rotate-online",
                                "fp32,rotate-online,smooth"};
    for (size_t f = 0; f < N_FILES; f++) {
        size_t n = logit_count(&k_files[f]);
        float *base = scheme_logits(&k_files[f], "fp32");
        for (size_t i = 0; i < sizeof transforms / sizeof transforms[0]; i++) {
            float *t = scheme_logits(&k_files[f], transforms[i]);
            double d = max_abs_diff(base, t, n);
            print_message("%-7s %-20s max |logit - fp32| %.2g\n", k_files[f].name, transforms[i], d);
            assert_true(d < 2e-3);
            free(t);
        }
        free(base);
    }
}

/* Every scheme runs on every family and stays near FP32 (relative RMS logit
 * error). Random weights make these models chaotic, so 4-bit errors are ten
 * times the trained models' (q8_0 0.017-0.040, W4 0.17-0.46, W4A4 0.28-0.56,
 * w4a4-paper,rtn up to 0.70, w3a8,rtn 0.34-0.62 measured): the bounds are about 1.4 times the
 * largest, and quantizing the activations to 8 bits must add little to the
 * weights' error (w4a8 within 1.2 w4a16 + 0.02). */
static void test_schemes_near_fp32(void **state) {
    (void)state;
    const struct {
        const char *scheme;
        double bound;
    } cases[] = {
        {"w4a16", 0.6},           {"w4a8", 0.6},
        {"q8_0", 0.06},           {"q4_0", 0.55},
        {"w4a16,rtn,g64", 0.6},   {"w4a8,rtn,asym", 0.55},
        {"w4a8,no-rotate", 0.6},  {"w4a4", 0.8},
        {"w4a4,rtn,down8", 0.8},  {"w4a8-paper", 0.65},
        {"w4a4-paper,rtn", 1.05}, {"w4a8,rtn,asym,no-rotate,no-balance", 0.55},
        {"w3a8,rtn", 0.9},
    };
    for (size_t f = 0; f < N_FILES; f++) {
        size_t n = logit_count(&k_files[f]);
        float *base = scheme_logits(&k_files[f], NULL);
        double err[sizeof cases / sizeof cases[0]];
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            /* g64 needs widths that 64 divides: bloom's is 96 */
            if (strstr(cases[i].scheme, "g64") && !strcmp(k_files[f].name, "bloom")) continue;
            float *q = scheme_logits(&k_files[f], cases[i].scheme);
            err[i] = relative_rms(q, base, n);
            print_message("%-7s %-36s relative RMS logit error %.4f\n", k_files[f].name, cases[i].scheme, err[i]);
            assert_true(err[i] < cases[i].bound);
            assert_true(err[i] > 0.0);
            free(q);
        }
        assert_true(err[1] < 1.2 * err[0] + 0.02);
        free(base);
    }
}

/* Pruning's bookkeeping on each family: counts per layer, first and last
 * kept, each set inside the previous, one cache slot per present token,
 * logits only for kept tokens, decoding afterwards; and pruning at the last
 * layer only leaves the last token's logits as they were. */
static void check_pruning(aq_model *m, const int32_t *tokens, int32_t n, aq_prune_importance imp,
                          aq_prune_positions positions) {
    int64_t n_layers = 0;
    assert_int_equal(aq_model_get_info(m, AQ_INFO_LAYER_COUNT, &n_layers), AQ_OK);
    aq_context *ctx = new_context(m);
    assert_int_equal(aq_prune(ctx, 0.5, 0, imp, positions), AQ_OK);
    assert_int_equal(aq_forward(ctx, tokens, NULL, n, 1), AQ_OK);
    int32_t prev[MAX_TOKENS], cur[MAX_TOKENS], n_prev = n, n_cur = 0;
    for (int32_t t = 0; t < n; t++) prev[t] = t;
    for (int32_t l = 0; l <= (int32_t)n_layers; l++) {
        assert_int_equal(aq_prune_kept(ctx, l, cur, MAX_TOKENS, &n_cur), AQ_OK);
        assert_int_equal(n_cur, l == 0 ? n : aq_prune_keep_count(n, 0.5, l, (int32_t)n_layers));
        assert_int_equal(cur[0], 0);
        assert_int_equal(cur[n_cur - 1], n - 1);
        int32_t j = 0;
        for (int32_t i = 0; i < n_cur; i++) {
            while (j < n_prev && prev[j] < cur[i]) j++;
            assert_true(j < n_prev && prev[j] == cur[i]);
        }
        if (l < (int32_t)n_layers) assert_int_equal(ctx->kv_len[l], n_cur);
        memcpy(prev, cur, sizeof cur);
        n_prev = n_cur;
    }
    bool kept[MAX_TOKENS] = {false};
    for (int32_t i = 0; i < n_cur; i++) kept[cur[i]] = true;
    for (int32_t t = 0; t < n; t++) assert_true((aq_get_logits(ctx, t) != NULL) == kept[t]);
    int32_t next;
    for (int32_t i = 0; i < 4; i++) {
        assert_int_equal(aq_sample(ctx, -1, &next), AQ_OK);
        assert_int_equal(aq_forward(ctx, &next, NULL, 1, 0), AQ_OK);
        const float *l = aq_get_logits(ctx, -1);
        for (int64_t v = 0; v < vocab_of(m); v++) assert_true(isfinite(l[v]));
    }
    aq_context_free(ctx);
}

static void test_pruning(void **state) {
    (void)state;
    for (size_t f = 0; f < N_FILES; f++) {
        int32_t tokens[MAX_TOKENS];
        int32_t n = read_tokens(k_files[f].name, tokens);
        aq_model *m = load(k_files[f].name);
        check_pruning(m, tokens, n, AQ_PRUNE_ATTENTION_TO_FIRST, AQ_PRUNE_KEEP_POSITIONS);
        check_pruning(m, tokens, n, AQ_PRUNE_ATTENTION_RECEIVED, AQ_PRUNE_RENUMBER);
        int64_t n_layers = 0, vocab = vocab_of(m);
        aq_model_get_info(m, AQ_INFO_LAYER_COUNT, &n_layers);
        aq_context *plain = new_context(m), *pruned = new_context(m);
        assert_int_equal(
            aq_prune(pruned, 0.5, (int32_t)n_layers - 1, AQ_PRUNE_ATTENTION_TO_FIRST, AQ_PRUNE_KEEP_POSITIONS), AQ_OK);
        assert_int_equal(aq_forward(plain, tokens, NULL, n, 0), AQ_OK);
        assert_int_equal(aq_forward(pruned, tokens, NULL, n, 0), AQ_OK);
        double d = max_abs_diff(aq_get_logits(plain, -1), aq_get_logits(pruned, -1), (size_t)vocab);
        print_message("%-7s pruning at the last layer: last token's logits differ by %.2g\n", k_files[f].name, d);
        assert_true(d < 1e-4);
        aq_context_free(plain);
        aq_context_free(pruned);
        aq_model_free(m);
    }
}

/* The last token's logits after a prefill of the file's tokens that drops a
 * fraction beta of them by the last layer, from layer 0 on (beta 0: no
 * pruning); caller frees. Not from the middle layer: these files have two
 * layers, and pruning only at the last one leaves the last token's logits
 * as they were (test_pruning). */
static float *pruned_last_logits(aq_model *m, const int32_t *tokens, int32_t n, double beta) {
    aq_context *ctx = new_context(m);
    assert_int_equal(aq_prune(ctx, beta, 0, AQ_PRUNE_ATTENTION_TO_FIRST, AQ_PRUNE_KEEP_POSITIONS), AQ_OK);
    assert_int_equal(aq_forward(ctx, tokens, NULL, n, 0), AQ_OK);
    int64_t vocab = vocab_of(m);
    float *out = malloc((size_t)vocab * sizeof *out);
    memcpy(out, aq_get_logits(ctx, -1), (size_t)vocab * sizeof *out);
    aq_context_free(ctx);
    return out;
}

/* Quantization and pruning together on every family: a quantized model keeps
 * pruning's bookkeeping (check_pruning), and its pruned prefill (keep 50%)
 * stays near the FP32 model's pruned prefill (relative RMS error of the last
 * token's logits). On these chaotic random-weight files quantization also
 * changes which tokens are dropped, so the errors exceed the unpruned ones:
 * measured w4a8 0.21-0.59, w4a4 0.25-0.65, w4a8-paper 0.18-0.34,
 * w4a4-paper,rtn 0.32-0.68; the bounds are 1.2-1.6 times the largest
 * (unrelated logits of the same size score about 1.4). Pruning alone moves
 * the FP32 logits (measured 0.08-0.37), which must show. */
static void test_schemes_with_pruning(void **state) {
    (void)state;
    const struct {
        const char *scheme;
        double bound;
    } cases[] = {{"w4a8", 0.95}, {"w4a4", 0.8}, {"w4a8-paper", 0.46}, {"w4a4-paper,rtn", 0.83}};
    for (size_t f = 0; f < N_FILES; f++) {
        int32_t tokens[MAX_TOKENS];
        int32_t n = read_tokens(k_files[f].name, tokens);
        aq_model *fp32 = load(k_files[f].name);
        size_t vocab = (size_t)vocab_of(fp32);
        float *plain = pruned_last_logits(fp32, tokens, n, 0.0), *pruned = pruned_last_logits(fp32, tokens, n, 0.5);
        double cost = relative_rms(pruned, plain, vocab);
        print_message("%-7s fp32, keep 50%%: relative RMS error of the last logits %.4f\n", k_files[f].name, cost);
        assert_true(cost > 0.0);
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            aq_model *m = load(k_files[f].name);
            size_t len;
            char *text = calibration_text(&len);
            aq_error err = aq_quantize(m, cases[i].scheme, text, len);
            if (err) fail_msg("%s, %s: %s", k_files[f].name, cases[i].scheme, aq_model_error_message(m));
            free(text);
            check_pruning(m, tokens, n, AQ_PRUNE_ATTENTION_TO_FIRST, AQ_PRUNE_KEEP_POSITIONS);
            float *q = pruned_last_logits(m, tokens, n, 0.5);
            double e = relative_rms(q, pruned, vocab);
            print_message("%-7s %-16s keep 50%%: relative RMS error against fp32 keep 50%% %.4f\n", k_files[f].name,
                          cases[i].scheme, e);
            assert_true(e < cases[i].bound);
            assert_true(e > 0.0);
            free(q);
            aq_model_free(m);
        }
        free(plain);
        free(pruned);
        aq_model_free(fp32);
    }
}

static long file_bytes(const char *path, char **out) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    *out = malloc((size_t)n);
    assert_int_equal(fread(*out, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return n;
}

/* Saved (as loaded, or quantized) and loaded back: the same logits bit for
 * bit, the same description, and saving again writes the same bytes. */
static void test_save_load_round_trip(void **state) {
    (void)state;
    const char *schemes[] = {NULL, "q8_0", "w4a8", "w4a4-paper,rtn", "w3a8,rtn"};
    for (size_t f = 0; f < N_FILES; f++) {
        int32_t tokens[MAX_TOKENS];
        int32_t n = read_tokens(k_files[f].name, tokens);
        for (size_t s = 0; s < sizeof schemes / sizeof schemes[0]; s++) {
            aq_model *m = load(k_files[f].name);
            if (schemes[s]) {
                size_t len;
                char *text = calibration_text(&len);
                assert_int_equal(aq_quantize(m, schemes[s], text, len), AQ_OK);
                free(text);
            }
            char path[] = "/tmp/aq-test-family-XXXXXX", again[] = "/tmp/aq-test-family-XXXXXX";
            int fd = mkstemp(path), fd2 = mkstemp(again);
            assert_true(fd >= 0 && fd2 >= 0);
            assert_int_equal(aq_model_save(m, path), AQ_OK);
            aq_model *back = aq_model_create();
            if (aq_model_load_file(back, path) != AQ_OK)
                fail_msg("%s %s: %s", k_files[f].name, schemes[s] ? schemes[s] : "as loaded",
                         aq_model_error_message(back));
            assert_string_equal(aq_model_describe(back), aq_model_describe(m));
            float *a = all_logits(m, tokens, n), *b = all_logits(back, tokens, n);
            assert_memory_equal(a, b, (size_t)n * (size_t)vocab_of(m) * sizeof *a);
            assert_int_equal(aq_model_save(back, again), AQ_OK);
            char *b1, *b2;
            long s1 = file_bytes(path, &b1), s2 = file_bytes(again, &b2);
            assert_int_equal(s1, s2);
            assert_memory_equal(b1, b2, (size_t)s1);
            print_message("%-7s %-16s saved (%ld bytes) and loaded back: %s\n", k_files[f].name,
                          schemes[s] ? schemes[s] : "as loaded", s1, aq_model_describe(back));
            free(b1);
            free(b2);
            free(a);
            free(b);
            close(fd);
            close(fd2);
            remove(path);
            remove(again);
            aq_model_free(back);
            aq_model_free(m);
        }
    }
}

/* A copy of a fixture with the first occurrence of `from` replaced by `to` (same length). */
static char *edited(const char *name, const char *from, const char *to, size_t *len) {
    char relative[256];
    snprintf(relative, sizeof relative, "data/families/%s.gguf", name);
    char *bytes = test_read_source_file(relative, len);
    assert_non_null(bytes);
    size_t n = strlen(from);
    assert_int_equal(n, strlen(to));
    for (size_t i = 0; i + n <= *len; i++)
        if (memcmp(bytes + i, from, n) == 0) {
            memcpy(bytes + i, to, n);
            return bytes;
        }
    fail_msg("%s not in %s", from, name);
    return NULL;
}

/* Metadata a family cannot run with is refused with a code and a message naming the key or tensor. */
static void test_bad_metadata_is_named(void **state) {
    (void)state;
    const struct {
        const char *file, *from, *to;
        aq_error err;
        const char *named;
    } cases[] = {
        {"gpt2", "gpt2.block_count", "gpt3.block_count", AQ_ERR_FORMAT, "gpt2.block_count"},
        {"bloom", "blk.1.attn_qkv.bias", "blk.1.attn_qkv.bia_", AQ_ERR_FORMAT, "blk.1.attn_qkv.bias"},
        {"qwen2", "blk.0.attn_k.bias", "blk.0.attn_k.bia_", AQ_ERR_FORMAT, "blk.0.attn_k.bias"},
        {"opt", "position_embd", "position_embX", AQ_ERR_FORMAT, "position_embd.weight"},
        {"bloom", "token_embd_norm.bias", "token_embd_norm.bia_", AQ_ERR_FORMAT, "token_embd_norm.bias"},
        {"llama3", "rope_freqs", "rope_freqX", AQ_OK, NULL}, /* optional: plain RoPE then */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t len;
        char *bytes = edited(cases[c].file, cases[c].from, cases[c].to, &len);
        aq_model *m = aq_model_create();
        assert_int_equal(aq_model_load_memory(m, bytes, len), cases[c].err);
        if (cases[c].named) {
            print_message("%-7s %s -> %s\n", cases[c].file, cases[c].from, aq_model_error_message(m));
            assert_non_null(strstr(aq_model_error_message(m), cases[c].named));
        }
        aq_model_free(m);
        free(bytes);
    }
    /* an architecture the table does not have: the names it has */
    size_t len;
    char *bytes = edited("gpt2", "general.architecture", "general.architecture", &len);
    char *arch = memmem(bytes, len, "general.architecture", 20);
    assert_non_null(arch);
    assert_memory_equal(arch + 20 + 4 + 8, "gpt2", 4); /* after the key: type (u32), length (u64), the string */
    arch[20 + 4 + 8 + 3] = 'j';
    aq_model *m = aq_model_create();
    assert_int_equal(aq_model_load_memory(m, bytes, len), AQ_ERR_UNSUPPORTED);
    assert_non_null(strstr(aq_model_error_message(m), "'gptj'"));
    assert_non_null(strstr(aq_model_error_message(m), "bloom"));
    aq_model_free(m);
    free(bytes);
    /* learned positions end at the training context */
    m = load("gpt2");
    aq_context *ctx = new_context(m);
    int32_t token = 5, far = 64;
    assert_int_equal(aq_forward(ctx, &token, &far, 1, 0), AQ_ERR_OUT_OF_RANGE);
    assert_non_null(strstr(aq_context_error_message(ctx), "64"));
    far = 63;
    assert_int_equal(aq_forward(ctx, &token, &far, 1, 0), AQ_OK);
    aq_context_free(ctx);
    aq_model_free(m);
}

/* The first chunks of the held-out text scored as llama-perplexity does (BOS
 * first in each chunk where the vocabulary adds one: opt, not bloom), against
 * PyTorch's figure in data/golden-F-ppl.txt: the tokenizer and the forward
 * pass together. */
static double held_out_perplexity(aq_model *m, const char *family, double *want) {
    size_t len, golden_len;
    char *text = test_read_source_file("data/austen-test.txt", &len);
    char relative[256];
    snprintf(relative, sizeof relative, "data/golden-%s-ppl.txt", family);
    char *golden = test_read_source_file(relative, &golden_len);
    assert_non_null(text);
    assert_non_null(golden);
    int n_ctx = 0, n_chunks = 0;
    const char *line = strstr(golden, "\nctx 128 ");
    assert_non_null(line);
    assert_int_equal(sscanf(line, "\nctx %d chunks %d ppl %lf", &n_ctx, &n_chunks, want), 3);
    int64_t vocab = vocab_of(m), bos = -1, add_bos = 0;
    aq_model_get_info(m, AQ_INFO_BOS_TOKEN, &bos);
    aq_model_get_info(m, AQ_INFO_ADD_BOS, &add_bos);
    int32_t n_tokens = 0;
    aq_tokenize(m, text, len, (int)add_bos, NULL, 0, &n_tokens);
    int32_t *tokens = malloc((size_t)n_tokens * sizeof *tokens);
    assert_int_equal(aq_tokenize(m, text, len, (int)add_bos, tokens, n_tokens, &n_tokens), AQ_OK);
    assert_true(n_tokens >= n_ctx * n_chunks);
    aq_context *ctx = new_context(m);
    double nll = 0.0;
    int count = 0;
    for (int c = 0; c < n_chunks; c++) {
        int32_t *chunk = tokens + (size_t)c * (size_t)n_ctx;
        if (add_bos) chunk[0] = (int32_t)bos;
        assert_int_equal(aq_kv_truncate(ctx, 0), AQ_OK);
        assert_int_equal(aq_forward(ctx, chunk, NULL, n_ctx, 1), AQ_OK);
        for (int j = n_ctx / 2; j < n_ctx - 1; j++) {
            const float *row = aq_get_logits(ctx, j);
            double max = row[0], sum = 0.0;
            for (int64_t v = 1; v < vocab; v++) max = row[v] > max ? row[v] : max;
            for (int64_t v = 0; v < vocab; v++) sum += exp(row[v] - max);
            nll += log(sum) - (row[chunk[j + 1]] - max);
            count++;
        }
    }
    aq_context_free(ctx);
    free(tokens);
    free(text);
    free(golden);
    return exp(nll / count);
}

/* The trained BLOOM and OPT models (tools/make_family_models.sh) against
 * PyTorch's logits and perplexity, when they are in models/ (skipped otherwise). */
static void test_trained_models_match_pytorch(void **state) {
    (void)state;
    const char *families[] = {"bloom", "opt"};
    int checked = 0;
    for (size_t f = 0; f < 2; f++) {
        char relative[256], path[1024];
        snprintf(relative, sizeof relative, "models/austen-%s.gguf", families[f]);
        test_source_path(path, sizeof path, relative);
        snprintf(relative, sizeof relative, "data/golden-%s-logits.bin", families[f]);
        size_t len = 0;
        char *blob = access(path, R_OK) == 0 ? test_read_source_file(relative, &len) : NULL;
        if (!blob) continue;
        aq_model *m = aq_model_create();
        assert_int_equal(aq_model_load_file(m, path), AQ_OK);
        uint32_t n_cases, n_vocab;
        memcpy(&n_cases, blob, 4);
        memcpy(&n_vocab, blob + 4, 4);
        assert_int_equal(vocab_of(m), n_vocab);
        size_t off = 8;
        double worst = 0.0;
        for (uint32_t c = 0; c < n_cases; c++) {
            uint32_t n;
            memcpy(&n, blob + off, 4);
            off += 4;
            int32_t *tokens = malloc(n * sizeof *tokens);
            float *golden = malloc((size_t)n * n_vocab * sizeof *golden);
            memcpy(tokens, blob + off, (size_t)n * 4);
            off += (size_t)n * 4;
            memcpy(golden, blob + off, (size_t)n * n_vocab * 4);
            off += (size_t)n * n_vocab * 4;
            assert_true(off <= len);
            float *ours = all_logits(m, tokens, (int32_t)n);
            worst = fmax(worst, max_abs_diff(ours, golden, (size_t)n * n_vocab));
            free(ours);
            free(tokens);
            free(golden);
        }
        double want, ppl = held_out_perplexity(m, families[f], &want);
        print_message("austen-%s: max |logit - PyTorch| %.5f over %u prompts; perplexity %.4f, PyTorch %.4f\n",
                      families[f], worst, n_cases, ppl, want);
        assert_true(worst < 2e-3);
        assert_true(fabs(ppl / want - 1.0) < 1e-3);
        checked++;
        free(blob);
        aq_model_free(m);
    }
    if (!checked) skip();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_logits_match_llamacpp), cmocka_unit_test(test_logits_match_transformers),
        cmocka_unit_test(test_decode_and_int8_cache), cmocka_unit_test(test_transforms_preserve_the_function),
        cmocka_unit_test(test_schemes_near_fp32),     cmocka_unit_test(test_pruning),
        cmocka_unit_test(test_schemes_with_pruning),  cmocka_unit_test(test_save_load_round_trip),
        cmocka_unit_test(test_bad_metadata_is_named), cmocka_unit_test(test_trained_models_match_pytorch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
