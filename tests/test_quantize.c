/* The quantize verb on the shipped model: transforms that must not change
 * the function (rotation), quantized logits near FP32 ones, GGUF save/load
 * bit-exact, llama.cpp's Q4_0/Q8_0 tensors, and misuse. */
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
#include "f16.h"
#include "gguf.h"
#include "model.h"
#include "test_util.h"

#define PROMPT " She was the youngest of the two daughters of a most affectionate, indulgent father."

static aq_model *load_shipped(void) {
    char path[1024];
    test_source_path(path, sizeof path, "models/austen-6m.gguf");
    aq_model *m = aq_model_create();
    assert_non_null(m);
    assert_int_equal(aq_model_load_file(m, path), AQ_OK);
    return m;
}

static char *calibration_text(size_t *len) {
    char path[1024];
    test_source_path(path, sizeof path, "data/austen-train.txt");
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    /* 699 tokens: one calibration chunk of 512 (the chunk loop and the cap of 8 chunks are
     * test_families' and test_quantize_layers'). Every calibrated scheme runs the FP32 layers, and
     * GPTQ's Hessians, over each chunk: under qemu a second chunk cost minutes. */
    size_t cap = 3000;
    char *buf = malloc(cap + 1);
    *len = fread(buf, 1, cap, f);
    fclose(f);
    while (*len > 0 && ((unsigned char)buf[*len] & 0xC0) == 0x80) (*len)--;
    return buf;
}

/* Logits of every position of PROMPT; caller frees. */
static float *prompt_logits(aq_model *m, int32_t *n_out, int64_t *vocab) {
    int32_t tokens[128], n = 0;
    assert_int_equal(aq_tokenize(m, PROMPT, strlen(PROMPT), 1, tokens, 128, &n), AQ_OK);
    assert_int_equal(aq_model_get_info(m, AQ_INFO_VOCAB_SIZE, vocab), AQ_OK);
    aq_context *ctx = aq_context_create(m);
    assert_non_null(ctx);
    assert_int_equal(aq_forward(ctx, tokens, NULL, n, 1), AQ_OK);
    float *out = malloc((size_t)n * (size_t)*vocab * sizeof *out);
    for (int32_t t = 0; t < n; t++)
        memcpy(out + (size_t)t * *vocab, aq_get_logits(ctx, t), (size_t)*vocab * sizeof *out);
    aq_context_free(ctx);
    *n_out = n;
    return out;
}

static double max_abs_diff(const float *a, const float *b, size_t n) {
    double d = 0;
    for (size_t i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - b[i]));
    return d;
}

static double rms(const float *a, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * a[i];
    return sqrt(s / n);
}

/* Logits of PROMPT from m, checked to be those of m saved to path and loaded
 * back, bit for bit, with the same scheme; saving the loaded model again must
 * write the same bytes. The file stays at path. */
static float *round_trip_logits(aq_model *m, const char *path, int32_t *n, int64_t *vocab) {
    float *before = prompt_logits(m, n, vocab);
    assert_int_equal(aq_model_save(m, path), AQ_OK);
    aq_model *back = aq_model_create();
    assert_int_equal(aq_model_load_file(back, path), AQ_OK);
    assert_string_equal(aq_model_scheme(back), aq_model_scheme(m));
    int32_t n_back;
    int64_t vocab_back;
    float *after = prompt_logits(back, &n_back, &vocab_back);
    assert_int_equal(n_back, *n);
    assert_memory_equal(before, after, (size_t)*n * (size_t)*vocab * sizeof *before);
    char again[] = "/tmp/aq-test-quantized-XXXXXX";
    int fd = mkstemp(again);
    assert_true(fd >= 0);
    assert_int_equal(aq_model_save(back, again), AQ_OK);
    size_t s1, s2;
    char *b1 = test_read_file(path, &s1), *b2 = test_read_file(again, &s2);
    assert_non_null(b1);
    assert_non_null(b2);
    assert_int_equal(s1, s2);
    assert_memory_equal(b1, b2, s1);
    free(b1);
    free(b2);
    close(fd);
    remove(again);
    aq_model_free(back);
    free(after);
    return before;
}

/* The shipped model quantized by scheme: its logits of PROMPT, and with
 * round_trip those of a GGUF file of it checked against them (round_trip_logits). */
static float *quantized_logits_saved(const char *scheme, bool round_trip, int32_t *n, int64_t *vocab) {
    aq_model *m = load_shipped();
    size_t len;
    char *calib = calibration_text(&len);
    assert_int_equal(aq_quantize(m, scheme, calib, len), AQ_OK);
    assert_string_equal(aq_model_scheme(m), scheme);
    free(calib);
    float *logits;
    if (round_trip) {
        char path[] = "/tmp/aq-test-quantized-XXXXXX";
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        logits = round_trip_logits(m, path, n, vocab);
        close(fd);
        remove(path);
    } else {
        logits = prompt_logits(m, n, vocab);
    }
    aq_model_free(m);
    return logits;
}

static float *quantized_logits(const char *scheme, int32_t *n, int64_t *vocab) {
    return quantized_logits_saved(scheme, false, n, vocab);
}

/* Rotating the residual stream, the heads and the MLP input is orthogonal:
 * in float the model computes the same function. */
static void test_rotation_and_balancing_preserve_the_function(void **state) {
    (void)state;
    aq_model *m = load_shipped();
    int32_t n;
    int64_t vocab;
    float *base = prompt_logits(m, &n, &vocab);
    aq_model_free(m);
    const char *transforms[] = {"fp32,rotate",         "fp32,balance",
                                "fp32,balance,rotate", "fp32,balance-vo",
                                "fp32,rotate-blocked", "fp32,balance,balance-vo,rotate",
                                "fp32,rotate-online",  "fp32,balance,balance-vo,rotate-online"};
    for (size_t i = 0; i < sizeof transforms / sizeof transforms[0]; i++) {
        float *transformed = quantized_logits(transforms[i], &n, &vocab);
        /* float rounding of O(width) extra operations per value */
        assert_true(max_abs_diff(base, transformed, (size_t)n * vocab) < 1e-3);
        free(transformed);
    }
    free(base);
}

/* Outliers planted at the attention output projection's input as
 * tools/make_outlier_variant.py's `vo` site plants them: per layer, 4 seeded
 * channels of V scaled by factors log-uniform in [16, 128], the output
 * projection's columns that read them divided by the same (the function is
 * unchanged). */
static void plant_vo_outliers(aq_model *m, uint64_t seed) {
    const aq_config *c = &m->cfg;
    uint64_t state = seed;
    int32_t hd = c->head_dim, rep = c->n_heads / c->n_kv_heads;
    for (int32_t i = 0; i < c->n_layers; i++) {
        aq_layer *l = &m->layers[i];
        assert_int_equal(l->wv.format, AQ_WEIGHTS_F32);
        assert_int_equal(l->wo.format, AQ_WEIGHTS_F32);
        float *v = aq_model_own_floats(m, l->wv.f32, (size_t)l->wv.rows * (size_t)l->wv.cols);
        float *o = aq_model_own_floats(m, l->wo.f32, (size_t)l->wo.rows * (size_t)l->wo.cols);
        assert_true(v && o && !l->wv.bias);
        l->wv.f32 = v, l->wo.f32 = o;
        for (int k = 0; k < 4; k++) {
            int32_t ch = (int32_t)(aq_splitmix64(&state) % (uint64_t)(c->n_kv_heads * hd));
            double u = (double)(aq_splitmix64(&state) >> 11) / 9007199254740992.0;
            float f = (float)exp(log(16.0) + u * log(8.0));
            for (int32_t j = 0; j < l->wv.cols; j++) v[(size_t)ch * (size_t)l->wv.cols + (size_t)j] *= f;
            for (int32_t h = 0; h < rep; h++)
                for (int32_t r = 0; r < l->wo.rows; r++)
                    o[(size_t)r * (size_t)l->wo.cols + (size_t)(ch / hd * rep * hd + h * hd + ch % hd)] /= f;
        }
    }
}

static double relative_rms_error(const float *q, const float *base, size_t n) {
    float *diff = malloc(n * sizeof *diff);
    for (size_t j = 0; j < n; j++) diff[j] = q[j] - base[j];
    double rel = rms(diff, n) / rms(base, n);
    free(diff);
    return rel;
}

/* The shipped model with outliers planted by plant (seed 1), quantized by scheme (NULL: FP32). */
static float *planted_logits(void (*plant)(aq_model *, uint64_t), const char *scheme, int32_t *n, int64_t *vocab) {
    aq_model *m = load_shipped();
    plant(m, 1);
    if (scheme) {
        size_t len;
        char *calib = calibration_text(&len);
        assert_int_equal(aq_quantize(m, scheme, calib, len), AQ_OK);
        free(calib);
    }
    float *logits = prompt_logits(m, n, vocab);
    aq_model_free(m);
    return logits;
}

/* V/O balancing undoes outliers at the output projection's input: W4A4 of
 * the planted model stays as near FP32 as W4A4 of the unplanted one (within
 * 25%), while without the balancing the planted channels cost it more than
 * that (so the test can fail). Measured (relative RMS logit error): unplanted
 * 0.0455, planted 0.0455 (balancing divides the planted factors out), planted
 * without V/O balancing 0.204. */
static void test_vo_outliers_held(void **state) {
    (void)state;
    aq_model *m = load_shipped();
    int32_t n, np;
    int64_t vocab;
    float *base = prompt_logits(m, &n, &vocab);
    aq_model_free(m);
    float *planted = planted_logits(plant_vo_outliers, NULL, &np, &vocab);
    assert_int_equal(np, n);
    size_t count = (size_t)n * (size_t)vocab;
    assert_true(max_abs_diff(base, planted, count) < 1e-3); /* the planting is function-preserving */
    float *plain = quantized_logits("w4a4,rtn", &np, &vocab);
    float *held = planted_logits(plant_vo_outliers, "w4a4,rtn", &np, &vocab);
    float *unheld = planted_logits(plant_vo_outliers, "w4a4,rtn,no-balance-vo", &np, &vocab);
    double e_plain = relative_rms_error(plain, base, count), e_held = relative_rms_error(held, base, count),
           e_unheld = relative_rms_error(unheld, base, count);
    print_message(
        "w4a4,rtn relative RMS logit error: unplanted %.4f, planted %.4f, planted without V/O balancing %.4f\n",
        e_plain, e_held, e_unheld);
    assert_true(e_held < 1.25 * e_plain);
    assert_true(e_unheld > 1.25 * e_plain);
    free(base);
    free(planted);
    free(plain);
    free(held);
    free(unheld);
}

/* Outliers planted in the norms' gains: per layer, 4 seeded channels of the
 * attention norm and 4 of the MLP norm scaled by factors log-uniform in
 * [16, 128], the columns of the matrices that read them divided by the same
 * (the function is unchanged). rotate-online's rotation follows the gain, so
 * it sees these channels; smoothing divides them out before it. */
static void plant_norm_outliers(aq_model *m, uint64_t seed) {
    const aq_config *c = &m->cfg;
    uint64_t state = seed;
    for (int32_t i = 0; i < c->n_layers; i++) {
        aq_layer *l = &m->layers[i];
        const float **norms[2] = {&l->attn_norm, &l->ffn_norm};
        aq_matrix *readers[2][3] = {{&l->wq, &l->wk, &l->wv}, {&l->w_gate, &l->w_up, NULL}};
        for (int site = 0; site < 2; site++) {
            float *g = aq_model_own_floats(m, *norms[site], (size_t)c->dim);
            assert_non_null(g);
            *norms[site] = g;
            for (int r = 0; r < 3; r++) {
                aq_matrix *w = readers[site][r];
                if (!w || !aq_matrix_present(w)) continue;
                assert_int_equal(w->format, AQ_WEIGHTS_F32);
                float *copy = aq_model_own_floats(m, w->f32, (size_t)w->rows * (size_t)w->cols);
                assert_non_null(copy);
                w->f32 = copy;
            }
            for (int k = 0; k < 4; k++) {
                int32_t ch = (int32_t)(aq_splitmix64(&state) % (uint64_t)c->dim);
                double u = (double)(aq_splitmix64(&state) >> 11) / 9007199254740992.0;
                float f = (float)exp(log(16.0) + u * log(8.0));
                g[ch] *= f;
                for (int r = 0; r < 3; r++) {
                    aq_matrix *w = readers[site][r];
                    if (!w || !aq_matrix_present(w)) continue;
                    for (int32_t row = 0; row < w->rows; row++)
                        ((float *)w->f32)[(size_t)row * (size_t)w->cols + (size_t)ch] /= f;
                }
            }
        }
    }
}

/* Smoothing holds outliers in the norms' gains under rotate-online: with it,
 * W4A4 of the planted model has less than a fifth of the error it has
 * without it (so the test fails when smoothing does nothing), and stays
 * within 2.5 times the unplanted model's. Measured (relative RMS logit
 * error): unplanted 0.0239, planted 0.0529, planted without smoothing 0.808. */
static void test_smoothing_holds_norm_outliers(void **state) {
    (void)state;
    const char *plain_scheme = "w4a4,rtn,rotate-online,no-balance,ag32,aasym";
    const char *smooth_scheme = "w4a4,rtn,rotate-online,smooth,no-balance,ag32,aasym";
    aq_model *m = load_shipped();
    int32_t n, np;
    int64_t vocab;
    float *base = prompt_logits(m, &n, &vocab);
    aq_model_free(m);
    float *planted = planted_logits(plant_norm_outliers, NULL, &np, &vocab);
    assert_int_equal(np, n);
    size_t count = (size_t)n * (size_t)vocab;
    assert_true(max_abs_diff(base, planted, count) < 1e-3); /* the planting is function-preserving */
    float *unplanted = quantized_logits(smooth_scheme, &np, &vocab);
    float *smoothed = planted_logits(plant_norm_outliers, smooth_scheme, &np, &vocab);
    float *unsmoothed = planted_logits(plant_norm_outliers, plain_scheme, &np, &vocab);
    double e_unplanted = relative_rms_error(unplanted, base, count),
           e_smoothed = relative_rms_error(smoothed, base, count),
           e_unsmoothed = relative_rms_error(unsmoothed, base, count);
    print_message(
        "W4A4 rotate-online relative RMS logit error: unplanted %.4f, planted %.4f, planted without smoothing "
        "%.4f\n",
        e_unplanted, e_smoothed, e_unsmoothed);
    assert_true(e_smoothed < 0.2 * e_unsmoothed);
    assert_true(e_smoothed < 2.5 * e_unplanted);
    free(base);
    free(planted);
    free(unplanted);
    free(smoothed);
    free(unsmoothed);
}

/* Each scheme's logits stay near FP32's. Bounds: about twice the relative
 * RMS error measured on the shipped model (q8_0 0.003, q4_0 0.016, w4a16,rtn
 * 0.016, w4a8 0.014, w4a8-paper,rtn 0.081, w4a4,rtn 0.052, g128 asym 0.023).
 * The schemes marked are saved and loaded back too (round_trip_logits), as
 * test_save_load_round_trip_is_bit_exact's are, instead of being quantized
 * there again. */
static void test_quantized_logits_near_fp32(void **state) {
    (void)state;
    aq_model *m = load_shipped();
    int32_t n;
    int64_t vocab;
    float *base = prompt_logits(m, &n, &vocab);
    aq_model_free(m);
    /* fp32,a4: float weights with 4-bit activations, one scale per token, no rotation (0.115 here) */
    const struct {
        const char *scheme;
        double bound;
        bool round_trip;
    } cases[] = {
        {"q8_0", 0.006, true},        {"q4_0", 0.035, true},           {"w4a16,rtn", 0.035, true},
        {"w4a8", 0.03, false},        {"w4a8-paper,rtn", 0.16, false}, {"w4a4,rtn", 0.1, false},
        {"w4a4,rtn,ag32", 0.1, true}, {"fp32,a4", 0.2, false},         {"w4a8,rtn,g128,asym,no-rotate", 0.05, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int32_t nq;
        float *q = quantized_logits_saved(cases[i].scheme, cases[i].round_trip, &nq, &vocab);
        assert_int_equal(nq, n);
        float *diff = malloc((size_t)n * vocab * sizeof *diff);
        for (size_t j = 0; j < (size_t)n * vocab; j++) diff[j] = q[j] - base[j];
        double rel = rms(diff, (size_t)n * vocab) / rms(base, (size_t)n * vocab);
        print_message("%-32s relative RMS logit error %.4f\n", cases[i].scheme, rel);
        assert_true(rel < cases[i].bound);
        assert_true(rel > 0.0); /* it did quantize */
        free(diff);
        free(q);
    }
    free(base);
}

/* A quantized model saved as GGUF loads back computing the same bits, and
 * saved again gives the same file (round_trip_logits). Also checked so:
 * q8_0, q4_0, w4a16,rtn and w4a4,rtn,ag32 (test_quantized_logits_near_fp32),
 * w4a4,rtn,ag32,mix8-2,aclip (test_mixed_activation_groups), the heads
 * (test_head_int4). */
static void test_save_load_round_trip_is_bit_exact(void **state) {
    (void)state;
    const char *schemes[] = {"w4a8-paper", "w4a4,rtn,asym,g64", "w3a8,rtn,g64", "fp32,a4,ag64"};
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
        int32_t n;
        int64_t vocab;
        free(quantized_logits_saved(schemes[i], true, &n, &vocab));
    }
}

/* Overwrites the value of the u32 key named key in a GGUF file's bytes: the
 * key's string, then its type (u32), then its value. */
static void set_u32_key(uint8_t *file, size_t size, const char *key, uint32_t value) {
    const size_t len = strlen(key);
    uint8_t *at = NULL;
    for (size_t i = 0; i + len + 8 <= size && !at; i++)
        if (!memcmp(file + i, key, len)) at = file + i;
    assert_non_null(at);
    memcpy(at + len + 4, &value, sizeof value);
}

/* mix8-N: N activation groups of each input at 8 bits, the rest at 4. The saved
 * file lists each input's widths (N of them 8); the 8-bit groups take the shipped
 * model's 4-bit activation error down; a width other than 8 or 4, or a list for an
 * input that is not 4-bit, is refused by the loader with AQ_ERR_FORMAT. */
static void test_mixed_activation_groups(void **state) {
    (void)state;
    aq_model *m = load_shipped();
    int32_t n, nq;
    int64_t vocab;
    float *base = prompt_logits(m, &n, &vocab);
    aq_model_free(m);
    double rel[2];
    const char *schemes[2] = {"fp32,a4,ag32", "fp32,a4,ag32,mix8-4"};
    for (int i = 0; i < 2; i++) {
        float *q = quantized_logits(schemes[i], &nq, &vocab);
        assert_int_equal(nq, n);
        for (size_t j = 0; j < (size_t)n * vocab; j++) q[j] -= base[j];
        rel[i] = rms(q, (size_t)n * vocab) / rms(base, (size_t)n * vocab);
        print_message("%-24s relative RMS logit error %.4f\n", schemes[i], rel[i]);
        free(q);
    }
    free(base);
    assert_true(rel[1] < rel[0]);

    m = load_shipped();
    size_t len;
    char *calib = calibration_text(&len);
    assert_int_equal(aq_quantize(m, "w4a4,rtn,ag32,mix8-2,aclip", calib, len), AQ_OK);
    free(calib);
    char path[] = "/tmp/aq-test-mix8-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    free(round_trip_logits(m, path, &n, &vocab)); /* saved, and the file loads back bit-exact */
    aq_model_free(m);
    size_t size;
    uint8_t *file = (uint8_t *)test_read_file(path, &size);
    assert_non_null(file);
    aq_gguf *g = NULL;
    assert_int_equal(aq_gguf_open_memory(file, size, &g, NULL, 0), AQ_OK);
    const char *sites[] = {"attn_qkv", "attn_output", "ffn_up", "ffn_down"};
    size_t at = 0;
    for (int k = 0; k < 4; k++) {
        char name[96];
        snprintf(name, sizeof name, "blk.1.%s.act_group_bits", sites[k]);
        const aq_gguf_tensor *t = aq_gguf_find_tensor(g, name);
        assert_non_null(t);
        assert_int_equal(t->type, AQ_TENSOR_I8);
        int wide = 0;
        for (uint64_t e = 0; e < t->n_bytes; e++) {
            uint8_t v = ((const uint8_t *)t->data)[e];
            assert_true(v == 4 || v == 8);
            wide += v == 8;
        }
        assert_int_equal(wide, 2);
        if (k == 3) at = (size_t)((const uint8_t *)t->data - file);
    }
    aq_gguf_close(g);
    /* A width of 5, one of 8 where the file says the input is 8-bit throughout, then act_clip 2. */
    for (int c = 0; c < 3; c++) {
        uint8_t *bad = malloc(size);
        memcpy(bad, file, size);
        if (c == 0) {
            bad[at] = 5;
        } else if (c == 2) {
            set_u32_key(bad, size, "agilequant.act_clip", 2);
        } else {
            /* the act_bits array holds 4 for every input of w4a4: find layer 1's down entry and make it 8 */
            assert_int_equal(aq_gguf_open_memory(bad, size, &g, NULL, 0), AQ_OK);
            aq_gguf_close(g);
            const int32_t four[8] = {4, 4, 4, 4, 4, 4, 4, 4};
            uint8_t *arr = NULL;
            for (size_t i = 0; i + sizeof four <= size && !arr; i++)
                if (!memcmp(bad + i, four, sizeof four)) arr = bad + i;
            assert_non_null(arr);
            const int32_t eight = 8;
            memcpy(arr + 7 * sizeof eight, &eight, sizeof eight);
        }
        FILE *o = fopen(path, "wb");
        assert_int_equal(fwrite(bad, 1, size, o), size);
        fclose(o);
        aq_model *back = aq_model_create();
        assert_int_equal(aq_model_load_file(back, path), AQ_ERR_FORMAT);
        print_message("refused: %s\n", aq_model_error_message(back));
        assert_non_null(strstr(aq_model_error_message(back), c == 2 ? "act_clip" : "act_group_bits"));
        aq_model_free(back);
        free(bad);
    }
    free(file);
    close(fd);
    remove(path);
}

static int64_t info(const aq_model *m, aq_model_info what) {
    int64_t v = -1;
    assert_int_equal(aq_model_get_info(m, what, &v), AQ_OK);
    return v;
}

/* The tensor type of `name` in a saved file, or -1 when the file has no such tensor. */
static int64_t saved_type(const char *path, const char *name) {
    aq_gguf *g = NULL;
    char msg[256];
    assert_int_equal(aq_gguf_open_file(path, &g, msg, sizeof msg), AQ_OK);
    const aq_gguf_tensor *t = aq_gguf_find_tensor(g, name);
    int64_t type = t ? (int64_t)t->type : -1;
    aq_gguf_close(g);
    return type;
}

/* The INT4 schemes store the output head and the embedding table as Q8_0
 * (34 bytes per 32 weights) unless told head-f32: a token then reads
 * vocab * dim * (4 - 34 / 32) bytes less. A tied head (data/families/llama3.gguf)
 * stays tied: one Q8_0 table, saved once. */
static void test_head_quantized(void **state) {
    (void)state;
    size_t len;
    char *calib = calibration_text(&len);
    aq_model *q8 = load_shipped(), *f32 = load_shipped();
    assert_int_equal(aq_quantize(q8, "w4a8,rtn", calib, len), AQ_OK);
    assert_int_equal(aq_quantize(f32, "w4a8,rtn,head-f32", calib, len), AQ_OK);
    const int64_t vocab = info(q8, AQ_INFO_VOCAB_SIZE), dim = info(q8, AQ_INFO_EMBEDDING_LENGTH);
    assert_int_equal(info(f32, AQ_INFO_WEIGHT_BYTES) - info(q8, AQ_INFO_WEIGHT_BYTES),
                     vocab * dim * 4 - vocab * dim / 32 * 34);
    char path[] = "/tmp/aq-test-head-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(aq_model_save(q8, path), AQ_OK);
    assert_int_equal(saved_type(path, "output.weight"), AQ_TENSOR_Q8_0);
    assert_int_equal(saved_type(path, "token_embd.weight"), AQ_TENSOR_Q8_0);
    assert_int_equal(aq_model_save(f32, path), AQ_OK);
    assert_int_equal(saved_type(path, "output.weight"), AQ_TENSOR_F32);
    assert_int_equal(saved_type(path, "token_embd.weight"), AQ_TENSOR_F32);
    aq_model_free(q8);
    aq_model_free(f32);

    char tied_path[1024];
    test_source_path(tied_path, sizeof tied_path, "data/families/llama3.gguf");
    assert_int_equal(saved_type(tied_path, "output.weight"), -1);
    aq_model *tied = aq_model_create();
    assert_int_equal(aq_model_load_file(tied, tied_path), AQ_OK);
    assert_int_equal(aq_quantize(tied, "w4a16,rtn", NULL, 0), AQ_OK);
    assert_int_equal(aq_model_save(tied, path), AQ_OK);
    assert_int_equal(saved_type(path, "token_embd.weight"), AQ_TENSOR_Q8_0);
    assert_int_equal(saved_type(path, "output.weight"), -1);
    aq_model *back = aq_model_create();
    assert_int_equal(aq_model_load_file(back, path), AQ_OK);
    assert_int_equal(info(back, AQ_INFO_WEIGHT_BYTES), info(tied, AQ_INFO_WEIGHT_BYTES));
    aq_model_free(back);
    aq_model_free(tied);
    close(fd);
    remove(path);
    free(calib);
}

/* head-int4: the output head as INT4 (codes, f16 scales per group of 32),
 * read with INT8 activations; the untied embedding table stays Q8_0, a tied
 * one is the INT4 head itself and still gives the embedding its rows. The
 * logits move a little from those of the same model with a float head (a
 * 4-bit head is an approximation, not a no-op), and a file holds it: saved
 * and loaded back, the model gives the same logits. */
static void test_head_int4(void **state) {
    (void)state;
    size_t len;
    char *calib = calibration_text(&len);
    char path[] = "/tmp/aq-test-head4-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    aq_model *h4 = load_shipped(), *f32 = load_shipped();
    assert_int_equal(aq_quantize(h4, "w4a8,rtn,head-int4", calib, len), AQ_OK);
    assert_int_equal(aq_quantize(f32, "w4a8,rtn,head-f32", calib, len), AQ_OK);
    assert_int_equal(h4->output.format, AQ_WEIGHTS_Q4W);
    assert_true(h4->output.packed != NULL || h4->kernels.qc4w_gemm.packed_size == NULL);
    int32_t n;
    int64_t vocab;
    float *base = prompt_logits(f32, &n, &vocab);
    float *head4 = round_trip_logits(h4, path, &n, &vocab);
    double rel = relative_rms_error(head4, base, (size_t)n * (size_t)vocab);
    assert_true(rel > 0.0 && rel < 0.05);
    assert_int_equal(saved_type(path, "output.weight.q4"), AQ_TENSOR_I8);
    assert_int_equal(saved_type(path, "output.weight.q4scale"), AQ_TENSOR_F16);
    assert_int_equal(saved_type(path, "output.weight"), -1);
    assert_int_equal(saved_type(path, "token_embd.weight"), AQ_TENSOR_Q8_0);
    free(base);
    free(head4);
    aq_model_free(h4);
    aq_model_free(f32);

    char tied_path[1024];
    test_source_path(tied_path, sizeof tied_path, "data/families/llama3.gguf");
    aq_model *tied = aq_model_create(), *tied_f32 = aq_model_create();
    assert_int_equal(aq_model_load_file(tied, tied_path), AQ_OK);
    assert_int_equal(aq_model_load_file(tied_f32, tied_path), AQ_OK);
    assert_int_equal(aq_quantize(tied, "w4a16,rtn,head-int4", NULL, 0), AQ_OK);
    assert_int_equal(aq_quantize(tied_f32, "w4a16,rtn,head-f32", NULL, 0), AQ_OK);
    assert_int_equal(tied->token_embd.format, AQ_WEIGHTS_Q4W);
    base = prompt_logits(tied_f32, &n, &vocab);
    head4 = round_trip_logits(tied, path, &n, &vocab);
    rel = relative_rms_error(head4, base, (size_t)n * (size_t)vocab);
    /* A random-weight fixture: its INT4 layers alone (w4a16,rtn,head-f32 against
     * fp32) move its logits by 0.38 relative RMS; the INT4 table, 0.34. */
    assert_true(rel > 0.0 && rel < 0.5);
    assert_int_equal(saved_type(path, "token_embd.weight.q4"), AQ_TENSOR_I8);
    /* The embedding's rows are the file's codes and scales: scale * (q - 8), element 2j in the low nibble. */
    aq_gguf *g = NULL;
    char msg[256];
    assert_int_equal(aq_gguf_open_file(path, &g, msg, sizeof msg), AQ_OK);
    const aq_gguf_tensor *q = aq_gguf_find_tensor(g, "token_embd.weight.q4");
    const aq_gguf_tensor *scale = aq_gguf_find_tensor(g, "token_embd.weight.q4scale");
    assert_non_null(q);
    assert_non_null(scale);
    assert_null(aq_gguf_find_tensor(g, "token_embd.weight.q4zero")); /* symmetric: zero 8 */
    const int32_t dim = tied->cfg.dim, groups = (int32_t)scale->ne[0];
    float *row = malloc((size_t)dim * sizeof *row);
    for (int32_t r = 0; r < tied->cfg.vocab_size; r += 37) {
        aq_matrix_row(&tied->token_embd, r, row);
        for (int32_t j = 0; j < dim; j++) {
            uint8_t byte = ((const uint8_t *)q->data)[(size_t)r * (size_t)dim / 2 + (size_t)j / 2];
            int code = j % 2 ? byte >> 4 : byte & 15;
            float s = aq_fp16_to_fp32(
                ((const uint16_t *)scale->data)[(size_t)r * (size_t)groups + (size_t)(j / (dim / groups))]);
            assert_true(row[j] == s * (float)(code - 8));
        }
    }
    free(row);
    aq_gguf_close(g);
    assert_int_equal(saved_type(path, "token_embd.weight"), -1);
    assert_int_equal(saved_type(path, "output.weight"), -1);
    assert_int_equal(saved_type(path, "output.weight.q4"), -1);
    free(base);
    free(head4);
    aq_model_free(tied);
    aq_model_free(tied_f32);

    aq_model *m = load_shipped();
    assert_int_equal(aq_quantize(m, "q4_0,head-int4", NULL, 0), AQ_ERR_INVALID_ARGUMENT); /* INT4 schemes only */
    aq_model_free(m);
    close(fd);
    remove(path);
    free(calib);
}

/* aasym: asymmetric 4-bit activation groups. The file says so
 * (agilequant.act_asym): saved and loaded back, the model gives the same logits,
 * which differ from the symmetric groups' (the flag reaches the runtime); a value
 * other than 1 is refused by the loader with AQ_ERR_FORMAT. */
static void test_asymmetric_activation_groups(void **state) {
    (void)state;
    int32_t n, n_sym;
    int64_t vocab;
    float *sym = quantized_logits("w4a4,rtn,ag32", &n_sym, &vocab);
    aq_model *m = load_shipped();
    assert_int_equal(aq_quantize(m, "w4a4,rtn,ag32,aasym", NULL, 0), AQ_OK);
    char path[] = "/tmp/aq-test-aasym-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    float *asym = round_trip_logits(m, path, &n, &vocab);
    aq_model_free(m);
    assert_int_equal(n, n_sym);
    assert_true(max_abs_diff(asym, sym, (size_t)n * (size_t)vocab) > 1e-3);
    free(asym);
    free(sym);
    size_t size;
    uint8_t *file = (uint8_t *)test_read_file(path, &size);
    assert_non_null(file);
    set_u32_key(file, size, "agilequant.act_asym", 2);
    FILE *f = fopen(path, "wb");
    assert_int_equal(fwrite(file, 1, size, f), size);
    fclose(f);
    aq_model *back = aq_model_create();
    assert_int_equal(aq_model_load_file(back, path), AQ_ERR_FORMAT);
    assert_non_null(strstr(aq_model_error_message(back), "act_asym"));
    aq_model_free(back);
    free(file);
    close(fd);
    remove(path);
}

/* Loads the bytes of a GGUF file written to path; AQ_OK or the loader's error, whose message must then hold
 * expect. */
static aq_error load_bytes(const char *path, const uint8_t *file, size_t size, const char *expect) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(file, 1, size, f), size);
    fclose(f);
    aq_model *m = aq_model_create();
    aq_error err = aq_model_load_file(m, path);
    if (err) assert_non_null(strstr(aq_model_error_message(m), expect));
    aq_model_free(m);
    return err;
}

/* rotate-online: the attention and MLP inputs rotated online after their norms
 * (agilequant.input_rotation_signs), the residual stream unrotated. Saved and
 * loaded back, the model gives the same logits (the signs reach the runtime:
 * test_transforms_preserve_the_function in test_families fails without them); a
 * value other than +1 or -1 in the signs, or the signs in a file of format
 * version 1, are refused by the loader with AQ_ERR_FORMAT. */
static void test_online_input_rotation(void **state) {
    (void)state;
    int32_t n;
    int64_t vocab;
    aq_model *m = load_shipped();
    assert_int_equal(aq_quantize(m, "w4a8,rtn,rotate-online", NULL, 0), AQ_OK);
    assert_non_null(m->input_rotation_signs);
    float signs[16];
    memcpy(signs, m->input_rotation_signs, sizeof signs);
    char path[] = "/tmp/aq-test-online-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    free(round_trip_logits(m, path, &n, &vocab));
    aq_model_free(m);
    size_t size;
    uint8_t *file = (uint8_t *)test_read_file(path, &size);
    assert_non_null(file);
    uint8_t *at = NULL;
    for (size_t i = 0; i + sizeof signs <= size; i++) {
        if (memcmp(file + i, signs, sizeof signs)) continue;
        assert_null(at); /* the signs' first 16 are found once, in that tensor */
        at = file + i;
    }
    assert_non_null(at);
    const float hostile[] = {0.5f, 0.0f, 2.0f, NAN};
    for (size_t h = 0; h < sizeof hostile / sizeof hostile[0]; h++) {
        memcpy(at, &hostile[h], sizeof hostile[h]);
        assert_int_equal(load_bytes(path, file, size, "input_rotation_signs"), AQ_ERR_FORMAT);
    }
    memcpy(at, signs, sizeof signs);
    set_u32_key(file, size, "agilequant.format_version", 1);
    assert_int_equal(load_bytes(path, file, size, "input_rotation_signs"), AQ_ERR_FORMAT);
    free(file);
    close(fd);
    remove(path);
}

/* RTN INT4 (the scheme's symmetric groups of 32) of the (rows, cols) floats w, dequantized into out. */
static void rtn_roundtrip(const float *w, size_t rows, size_t cols, float *out) {
    size_t q_bytes, scale_bytes, zero_bytes;
    assert_true(aq_q4w_sizes(rows, cols, 32, false, &q_bytes, &scale_bytes, &zero_bytes));
    struct aq_q4w q = {.n_rows = rows, .k = cols, .group = 32, .q = malloc(q_bytes), .scale = malloc(scale_bytes)};
    assert_true(aq_q4w_quantize_rtn_ref(w, rows, cols, 32, false, &q));
    aq_q4w_dequantize_ref(&q, out);
    free(q.q);
    free(q.scale);
}

static float *matrix_floats(const aq_matrix *w) {
    float *f = malloc((size_t)w->rows * (size_t)w->cols * sizeof *f);
    for (int32_t r = 0; r < w->rows; r++) aq_matrix_row(w, r, f + (size_t)r * (size_t)w->cols);
    return f;
}

/* TRIP (w4a4-paper) folds the attention output's power-of-two factors f into
 * V's rows (times f) and the output projection's columns (divided by f), so
 * that O V is unchanged. Both must happen before either matrix is quantized:
 * commit 6a86768 fixed an order that quantized V (with the QKV input) first,
 * leaving V's rows unscaled while O's columns were divided (BLOOM w4a4-paper:
 * perplexity 195.456, 185.603 once fixed). Round to nearest of a row scaled by
 * a power of two is the scaled rounding, exactly, so against the original
 * weights (V's columns divided by the QKV input's factors, read off the
 * scaled norm weight) each quantized V row must be RTN(V row) times a power
 * of two p, and O must be RTN(O with each column divided by its V row's p),
 * bit for bit; some p must differ from 1 (else the test saw no TRIP factor). */
static void test_trip_factors_reach_v_rows(void **state) {
    (void)state;
    size_t len;
    char *calib = calibration_text(&len);
    aq_model *orig = load_shipped(), *q = load_shipped();
    assert_int_equal(aq_quantize(q, "w4a4-paper,rtn", calib, len), AQ_OK);
    const aq_config *c = &q->cfg;
    const int32_t hd = c->head_dim, rep = c->n_heads / c->n_kv_heads, dim = c->dim;
    int scaled_rows = 0;
    for (int32_t i = 0; i < c->n_layers; i++) {
        const aq_layer *lo = &orig->layers[i], *lq = &q->layers[i];
        assert_int_equal(lq->wv.format, AQ_WEIGHTS_Q4W);
        assert_int_equal(lq->wo.format, AQ_WEIGHTS_Q4W);
        const size_t v_rows = (size_t)lq->wv.rows, o_rows = (size_t)lq->wo.rows, o_cols = (size_t)lq->wo.cols;
        float *v = matrix_floats(&lo->wv), *o = matrix_floats(&lo->wo);
        float *vq = matrix_floats(&lq->wv), *oq = matrix_floats(&lq->wo);
        float *expect_v = malloc(v_rows * (size_t)dim * sizeof *expect_v);
        float *expect_o = malloc(o_rows * o_cols * sizeof *expect_o);
        float *p = malloc(v_rows * sizeof *p);
        for (int32_t j = 0; j < dim; j++) {
            assert_true(lo->attn_norm[j] != 0.0f);
            float f = lq->attn_norm[j] / lo->attn_norm[j]; /* the QKV input's factor */
            for (size_t r = 0; r < v_rows; r++) v[r * (size_t)dim + (size_t)j] /= f;
        }
        rtn_roundtrip(v, v_rows, (size_t)dim, expect_v);
        for (size_t r = 0; r < v_rows; r++) {
            const float *got = vq + r * (size_t)dim, *want = expect_v + r * (size_t)dim;
            size_t j = 0;
            while (j < (size_t)dim && want[j] == 0.0f) j++;
            assert_true(j < (size_t)dim);
            p[r] = got[j] / want[j];
            int e;
            assert_true(frexpf(p[r], &e) == 0.5f); /* a power of two */
            for (j = 0; j < (size_t)dim; j++) assert_true(got[j] == p[r] * want[j]);
            scaled_rows += p[r] != 1.0f;
        }
        for (size_t r = 0; r < o_rows; r++)
            for (size_t j = 0; j < o_cols; j++) {
                size_t kv_row = j / (size_t)hd / (size_t)rep * (size_t)hd + j % (size_t)hd;
                o[r * o_cols + j] /= p[kv_row];
            }
        rtn_roundtrip(o, o_rows, o_cols, expect_o);
        assert_memory_equal(oq, expect_o, o_rows * o_cols * sizeof *oq);
        free(v), free(o), free(vq), free(oq), free(expect_v), free(expect_o), free(p);
    }
    assert_true(scaled_rows > 0);
    aq_model_free(orig);
    aq_model_free(q);
    free(calib);
}

static void test_quantize_misuse(void **state) {
    (void)state;
    aq_model *m = load_shipped();
    size_t len;
    char *calib = calibration_text(&len);
    assert_int_equal(aq_quantize(NULL, "w4a8", calib, len), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_quantize(m, NULL, calib, len), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_quantize(m, "w3a7", calib, len), AQ_ERR_INVALID_ARGUMENT);
    assert_true(strstr(aq_model_error_message(m), "w3a7") != NULL);
    assert_int_equal(aq_quantize(m, "w4a8,bogus", calib, len), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_quantize(m, "w3a8,asym", calib, len), AQ_ERR_INVALID_ARGUMENT); /* 3 bits: symmetric */
    assert_int_equal(aq_quantize(m, "fp32,head-q8_0", calib, len), AQ_ERR_INVALID_ARGUMENT);
    /* activation groups: dynamic scales only, whole weight groups each */
    assert_int_equal(aq_quantize(m, "w4a8,rtn,static,ag32", calib, len), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_quantize(m, "w4a8,rtn,g64,ag32", calib, len), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_quantize(m, "w4a8", NULL, 0), AQ_ERR_INVALID_ARGUMENT); /* GPTQ needs calibration */
    assert_int_equal(aq_quantize(m, "w4a8", "too short", 9), AQ_ERR_INVALID_ARGUMENT);
    aq_context *ctx = aq_context_create(m);
    assert_int_equal(aq_quantize(m, "q4_0", NULL, 0), AQ_ERR_STATE); /* a live context */
    aq_context_free(ctx);
    assert_int_equal(aq_quantize(m, "w4a8,rtn", NULL, 0), AQ_OK);    /* dynamic RTN needs none */
    assert_int_equal(aq_quantize(m, "q4_0", NULL, 0), AQ_ERR_STATE); /* already quantized */
    assert_int_equal(aq_model_save(m, "/nonexistent-dir/x.gguf"), AQ_ERR_IO);
    aq_model *unloaded = aq_model_create();
    assert_int_equal(aq_quantize(unloaded, "q4_0", NULL, 0), AQ_ERR_STATE);
    assert_int_equal(aq_model_save(unloaded, "/tmp/x.gguf"), AQ_ERR_STATE);
    assert_int_equal(aq_model_set_kernels(unloaded, "no-such-kernels"), AQ_OK);
    char path[1024];
    test_source_path(path, sizeof path, "models/austen-6m.gguf");
    assert_int_equal(aq_model_load_file(unloaded, path), AQ_ERR_UNSUPPORTED);
    assert_int_equal(aq_model_set_kernels(unloaded, "ref"), AQ_OK);
    assert_int_equal(aq_model_load_file(unloaded, path), AQ_OK);
    assert_string_equal(aq_model_kernels(unloaded), "ref");
    assert_int_equal(aq_model_set_kernels(unloaded, "ref"), AQ_ERR_STATE);
    aq_model_free(unloaded);
    free(calib);
    aq_model_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rotation_and_balancing_preserve_the_function),
        cmocka_unit_test(test_quantized_logits_near_fp32),
        cmocka_unit_test(test_vo_outliers_held),
        cmocka_unit_test(test_smoothing_holds_norm_outliers),
        cmocka_unit_test(test_save_load_round_trip_is_bit_exact),
        cmocka_unit_test(test_mixed_activation_groups),
        cmocka_unit_test(test_asymmetric_activation_groups),
        cmocka_unit_test(test_online_input_rotation),
        cmocka_unit_test(test_quantize_misuse),
        cmocka_unit_test(test_head_quantized),
        cmocka_unit_test(test_head_int4),
        cmocka_unit_test(test_trip_factors_reach_v_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
