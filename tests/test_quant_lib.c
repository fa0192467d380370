/* The pieces of aq_quantize: Hadamard rotation, GPTQ, TRIP, scheme names. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "f16.h"
#include "gptq.h"
#include "hadamard.h"
#include "quant.h"
#include "scheme.h"
#include "trip.h"

static uint64_t rng_state = 12345;
static double uniform(void) {
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}
static float gaussian(void) {
    double u = uniform() + 1e-12, v = uniform();
    return (float)(sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v));
}

/* R is orthogonal: norms and dot products survive, and R applied to the
 * rows of W and to x leaves W x unchanged. Widths 4p x 2^k (p an odd prime,
 * 4p - 1 prime, 4p <= 20) are mixed whole; others (9, 7 x 64, 11 x 512) use
 * blocks. */
static void test_hadamard_is_orthogonal(void **state) {
    (void)state;
    const size_t widths[] = {1, 2, 8, 32, 256, 768, 96, 12, 20, 576, 1536, 320, 5632, 9, 448};
    for (size_t wi = 0; wi < sizeof widths / sizeof widths[0]; wi++) {
        size_t n = widths[wi];
        float *signs = malloc(n * sizeof *signs), *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
        aq_random_signs(signs, n, 99);
        double dot = 0, norm = 0;
        for (size_t i = 0; i < n; i++) {
            x[i] = gaussian();
            y[i] = gaussian();
            dot += (double)x[i] * y[i];
            norm += (double)x[i] * x[i];
        }
        aq_hadamard_rotate(x, n, signs);
        aq_hadamard_rotate(y, n, signs);
        double dot2 = 0, norm2 = 0;
        for (size_t i = 0; i < n; i++) {
            dot2 += (double)x[i] * y[i];
            norm2 += (double)x[i] * x[i];
        }
        assert_true(fabs(norm2 - norm) < 1e-4 * norm + 1e-6);
        assert_true(fabs(dot2 - dot) < 1e-4 * norm + 1e-5);
        free(signs);
        free(x);
        free(y);
    }
    /* Signs are a seeded function: the same seed gives the same signs, and both signs occur. */
    float a[64], b[64];
    aq_random_signs(a, 64, 5);
    aq_random_signs(b, 64, 5);
    assert_memory_equal(a, b, sizeof a);
    int positive = 0;
    for (int i = 0; i < 64; i++) positive += a[i] > 0;
    assert_true(positive > 16 && positive < 48);
}

/* A full-width rotation spreads one channel evenly over all n: every entry
 * of R e_j has magnitude 1 / sqrt(n) (H has entries +-1). The blocked one
 * spreads it over its block only. */
static void test_hadamard_full_width(void **state) {
    (void)state;
    const size_t widths[] = {12, 20, 96, 240, 320, 576, 1536, 2560};
    for (size_t wi = 0; wi < sizeof widths / sizeof widths[0]; wi++) {
        size_t n = widths[wi];
        assert_true(aq_hadamard_full_width(n));
        float *signs = malloc(n * sizeof *signs), *x = malloc(n * sizeof *x);
        aq_random_signs(signs, n, 7);
        for (size_t j = 0; j < n; j += n / 4 + 1) {
            for (size_t i = 0; i < n; i++) x[i] = i == j ? 1.0f : 0.0f;
            aq_hadamard_rotate(x, n, signs);
            for (size_t i = 0; i < n; i++) assert_float_equal(fabsf(x[i]), 1.0f / sqrtf((float)n), 1e-6f);
            for (size_t i = 0; i < n; i++) x[i] = i == j ? 1.0f : 0.0f;
            aq_hadamard_rotate_blocked(x, n, signs);
            size_t nonzero = 0;
            for (size_t i = 0; i < n; i++) nonzero += x[i] != 0.0f;
            assert_int_equal(nonzero, n & (~n + 1));
        }
        free(signs);
        free(x);
    }
    assert_false(aq_hadamard_full_width(9));
    assert_false(aq_hadamard_full_width(448));
    assert_false(aq_hadamard_full_width(5632)); /* 44 x 128: blocked, for speed (hadamard.c) */
    assert_true(aq_hadamard_full_width(256));
}

/* Rows rotated together are, bit for bit, the rows rotated one at a time, for
 * full-width (Paley and Walsh-Hadamard), blocked and power-of-two widths. */
static void test_hadamard_rows(void **state) {
    (void)state;
    const size_t widths[] = {4, 12, 64, 576, 1536, 448, 5632}, rows = 3;
    for (size_t wi = 0; wi < sizeof widths / sizeof widths[0]; wi++) {
        const size_t n = widths[wi];
        float *signs = malloc(n * sizeof *signs), *x = malloc(rows * n * sizeof *x), *y = malloc(rows * n * sizeof *y);
        aq_random_signs(signs, n, 13);
        for (size_t i = 0; i < rows * n; i++) x[i] = y[i] = gaussian();
        aq_hadamard_rotate_rows(x, rows, n, signs);
        for (size_t r = 0; r < rows; r++) aq_hadamard_rotate(y + r * n, n, signs);
        assert_memory_equal(x, y, rows * n * sizeof *x);
        free(signs);
        free(x);
        free(y);
    }
}

/* A 4-element transform worked by hand: H4 (1,0,0,0) / 2 = (1,1,1,1) / 2. */
static void test_hadamard_by_hand(void **state) {
    (void)state;
    float signs[4] = {1, 1, 1, 1}, x[4] = {1, 0, 0, 0}, y[4] = {1, 2, 3, 4};
    aq_hadamard_rotate(x, 4, signs);
    for (int i = 0; i < 4; i++) assert_float_equal(x[i], 0.5f, 1e-7f);
    aq_hadamard_rotate(y, 4, signs);
    /* rows of H4: ++++, +-+-, ++--, +--+ */
    assert_float_equal(y[0], 5.0f, 1e-6f);
    assert_float_equal(y[1], -1.0f, 1e-6f);
    assert_float_equal(y[2], -2.0f, 1e-6f);
    assert_float_equal(y[3], 0.0f, 1e-6f);
}

/* The blocked rotation against its definition, in double precision: each block
 * of b (the largest power of two dividing n) is H_b D x / sqrt(b), with Sylvester's
 * H_b[i][j] = (-1)^popcount(i & j). Orthogonality alone would pass a transform
 * that permuted or negated its outputs. */
static void test_hadamard_blocked_is_sylvester(void **state) {
    (void)state;
    const size_t widths[] = {2, 4, 8, 16, 24, 64, 96, 512, 1536};
    for (size_t wi = 0; wi < sizeof widths / sizeof widths[0]; wi++) {
        const size_t n = widths[wi], b = n & (~n + 1);
        float *signs = malloc(n * sizeof *signs), *x = malloc(n * sizeof *x), *in = malloc(n * sizeof *in);
        aq_random_signs(signs, n, 11);
        for (size_t i = 0; i < n; i++) in[i] = x[i] = gaussian();
        aq_hadamard_rotate_blocked(x, n, signs);
        for (size_t start = 0; start < n; start += b)
            for (size_t i = 0; i < b; i++) {
                double want = 0;
                for (size_t j = 0; j < b; j++) {
                    const double h = __builtin_popcountll(i & j) % 2 ? -1.0 : 1.0;
                    want += h * signs[start + j] * in[start + j];
                }
                want /= sqrt((double)b);
                assert_true(fabs(x[start + i] - want) < 1e-5 * sqrt((double)b));
            }
        free(signs);
        free(x);
        free(in);
    }
}

static double output_error(const float *x, size_t n_tokens, const float *w, const float *wq, size_t rows, size_t k) {
    double err = 0;
    for (size_t t = 0; t < n_tokens; t++)
        for (size_t r = 0; r < rows; r++) {
            double a = 0, b = 0;
            for (size_t i = 0; i < k; i++) {
                a += (double)x[t * k + i] * w[r * k + i];
                b += (double)x[t * k + i] * wq[r * k + i];
            }
            err += (a - b) * (a - b);
        }
    return err;
}

/* GPTQ minimizes the layer's output error on the calibration inputs; with
 * correlated inputs it must beat round-to-nearest clearly. */
static void test_gptq_beats_round_to_nearest(void **state) {
    (void)state;
    const size_t rows = 16, k = 128, n = 512, group = 32;
    float *w = malloc(rows * k * sizeof *w), *x = malloc(n * k * sizeof *x), *h = calloc(k * k, sizeof *h);
    float *u = malloc(k * k * sizeof *u), *wcopy = malloc(rows * k * sizeof *wcopy);
    float *dq_rtn = malloc(rows * k * sizeof *dq_rtn), *dq_gptq = malloc(rows * k * sizeof *dq_gptq);
    for (size_t i = 0; i < rows * k; i++) w[i] = gaussian();
    for (size_t t = 0; t < n; t++) {
        float common = gaussian(); /* correlated channels, as real activations are */
        for (size_t i = 0; i < k; i++) x[t * k + i] = common + 0.5f * gaussian() + (i % 7 == 0 ? 3.0f * common : 0.0f);
    }
    for (size_t t = 0; t < n; t++)
        for (size_t i = 0; i < k; i++)
            for (size_t j = 0; j <= i; j++) h[i * k + j] += x[t * k + i] * x[t * k + j];
    size_t qb, sb, zb;
    assert_true(aq_q4w_sizes(rows, k, group, false, &qb, &sb, &zb));
    struct aq_q4w a = {.q = malloc(qb), .scale = malloc(sb)}, b = {.q = malloc(qb), .scale = malloc(sb)};
    assert_true(aq_q4w_quantize_rtn_ref(w, rows, k, group, false, &a));
    aq_q4w_dequantize_ref(&a, dq_rtn);
    bool dead[128];
    assert_int_equal(aq_gptq_prepare(h, k, u, dead), AQ_OK);
    memcpy(wcopy, w, rows * k * sizeof *w);
    aq_gptq_quantize(wcopy, rows, k, u, dead, group, false, &b);
    aq_q4w_dequantize_ref(&b, dq_gptq);
    double e_rtn = output_error(x, n, w, dq_rtn, rows, k), e_gptq = output_error(x, n, w, dq_gptq, rows, k);
    print_message("output error: round to nearest %.1f, GPTQ %.1f\n", e_rtn, e_gptq);
    assert_true(e_gptq < 0.8 * e_rtn);
    /* a non-finite Hessian is refused */
    h[0] = NAN;
    assert_int_equal(aq_gptq_prepare(h, k, u, dead), AQ_ERR_FORMAT);
    free(a.q), free(a.scale), free(b.q), free(b.scale);
    free(w), free(x), free(h), free(u), free(wcopy), free(dq_rtn), free(dq_gptq);
}

/* TRIP: a channel much smaller than the tensor's range gets a large factor,
 * the channel that sets the range gets 1, and channels in a group share. */
static void test_trip_choices(void **state) {
    (void)state;
    const int32_t n = 256, width = 4;
    float *s = malloc((size_t)n * width * sizeof *s);
    for (int32_t t = 0; t < n; t++) {
        s[t * width + 0] = 100.0f * (float)(t % 2 ? 1 : -1) * (float)uniform(); /* the outlier channel */
        s[t * width + 1] = 0.5f * gaussian();                                   /* small */
        s[t * width + 2] = 0.5f * gaussian();
        s[t * width + 3] = 0.0f; /* silent */
    }
    float scale = 200.0f / 255.0f, f[4];
    aq_trip_choose(s, n, width, scale, 0, 8, 4, NULL, 0, f);
    assert_float_equal(f[0], 1.0f, 0);
    assert_float_equal(f[1], 16.0f, 0); /* 0.5 * 16 * ~3 sigma stays inside +-100 */
    assert_float_equal(f[3], 1.0f, 0);  /* no error to reduce: the smallest factor */
    int32_t groups[4] = {0, 0, 1, 1};   /* channel 1 shares with the outlier */
    aq_trip_choose(s, n, width, scale, 0, 8, 4, groups, 2, f);
    assert_float_equal(f[0], 1.0f, 0);
    assert_float_equal(f[1], 1.0f, 0);
    assert_float_equal(f[2], 16.0f, 0);
    free(s);
}

/* Field by field: two parses copy their base by assignment, which leaves padding unspecified. */
static bool same_scheme(const aq_scheme *a, const aq_scheme *b) {
    bool same = a->weights == b->weights && a->block_type == b->block_type && a->group == b->group &&
                a->asym == b->asym && a->gptq == b->gptq && a->weight_search == b->weight_search &&
                a->act_static == b->act_static && a->act_group == b->act_group && a->act_clip == b->act_clip &&
                a->act_asym == b->act_asym && a->act_wide == b->act_wide && a->trip == b->trip &&
                a->rotate == b->rotate && a->rotate_blocked == b->rotate_blocked &&
                a->rotate_online == b->rotate_online && a->smooth == b->smooth && a->balance == b->balance &&
                a->balance_vo == b->balance_vo && a->head_type == b->head_type && a->head_q4w == b->head_q4w &&
                a->w3 == b->w3 && a->kv_bits == b->kv_bits;
    for (int k = 0; k < AQ_N_LINEAR_INPUTS; k++) same = same && a->act_bits[k] == b->act_bits[k];
    return same;
}

static void test_scheme_names(void **state) {
    (void)state;
    aq_scheme s;
    char msg[256];
    assert_int_equal(aq_scheme_parse("w4a8", &s, msg, sizeof msg), AQ_OK);
    assert_true(s.weights == AQ_WEIGHTS_Q4W && s.act_bits[0] == 8 && s.rotate && s.balance && s.balance_vo && s.gptq &&
                !s.act_static && !s.rotate_blocked);
    assert_int_equal(aq_scheme_parse("w4a4,no-balance", &s, msg, sizeof msg), AQ_OK);
    assert_true(s.act_bits[0] == 4 && s.rotate && !s.balance && !s.balance_vo);
    assert_int_equal(aq_scheme_parse("w4a4,no-balance-vo,rotate-blocked,only-o,head-f32", &s, msg, sizeof msg), AQ_OK);
    assert_true(s.balance && !s.balance_vo && s.rotate && s.rotate_blocked && s.head_type == 0);
    assert_true(s.act_bits[0] == 0 && s.act_bits[1] == 4 && s.act_bits[2] == 0 && s.act_bits[3] == 0);
    assert_int_equal(aq_scheme_parse("w4a4,only-all", &s, msg, sizeof msg), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_scheme_parse("w4a4-paper", &s, msg, sizeof msg), AQ_OK);
    assert_true(s.act_bits[3] == 4 && s.act_static && s.trip && !s.rotate && !s.balance);
    assert_int_equal(aq_scheme_parse("w4a4,rtn,g128,asym,no-rotate,down8", &s, msg, sizeof msg), AQ_OK);
    assert_true(!s.gptq && s.group == 128 && s.asym && !s.rotate && s.act_bits[3] == 8 && s.act_bits[0] == 4);
    assert_int_equal(aq_scheme_parse("w4a16", &s, msg, sizeof msg), AQ_OK);
    assert_true(s.act_bits[0] == 0 && aq_scheme_needs_calibration(&s));
    assert_int_equal(aq_scheme_parse("q4_0", &s, msg, sizeof msg), AQ_OK);
    assert_false(aq_scheme_needs_calibration(&s));
    assert_int_equal(aq_scheme_parse("q4_0,rtn", &s, msg, sizeof msg), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_scheme_parse("w4a9", &s, msg, sizeof msg), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_scheme_parse("", &s, msg, sizeof msg), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_scheme_parse(",", &s, msg, sizeof msg), AQ_ERR_INVALID_ARGUMENT);
    char long_name[200];
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    assert_int_equal(aq_scheme_parse(long_name, &s, msg, sizeof msg), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_scheme_parse("fp32,rotate", &s, msg, sizeof msg), AQ_OK);
    assert_int_equal(aq_scheme_parse("fp32,balance", &s, msg, sizeof msg), AQ_OK);
    assert_true(s.balance && !s.rotate);
    assert_int_equal(aq_scheme_parse("fp32,rtn", &s, msg, sizeof msg), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_scheme_parse("w4a4,rtn,ag32,mix8-3", &s, msg, sizeof msg), AQ_OK);
    assert_true(s.act_wide == 3 && s.act_group == 32 && aq_scheme_needs_calibration(&s));
    assert_int_equal(aq_scheme_parse("fp32,a4,ag32,mix8-64", &s, msg, sizeof msg), AQ_OK);
    assert_true(s.act_wide == 64 && s.weights == AQ_WEIGHTS_F32 && aq_scheme_needs_calibration(&s));
    assert_int_equal(aq_scheme_parse("fp32,a4,ag32,aclip", &s, msg, sizeof msg), AQ_OK);
    assert_true(s.act_clip && s.act_group == 32);
    assert_int_equal(aq_scheme_parse("w4a4,rtn,aclip", &s, msg, sizeof msg), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_scheme_parse("fp32,a4,ag32,aasym", &s, msg, sizeof msg), AQ_OK);
    assert_true(s.act_asym && s.act_group == 32 && !s.act_clip);
    assert_int_equal(aq_scheme_parse("w4a4,rtn,ag32,mix8-4,aasym", &s, msg, sizeof msg), AQ_OK);
    assert_true(s.act_asym && s.act_wide == 4);
    assert_int_equal(aq_scheme_parse("w4a4,rtn,aasym", &s, msg, sizeof msg), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_scheme_parse("w4a4,rtn,ag32,aclip,aasym", &s, msg, sizeof msg), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_scheme_parse("fp32,rotate-online", &s, msg, sizeof msg), AQ_OK);
    assert_true(s.rotate && s.rotate_online && !s.rotate_blocked);
    assert_int_equal(aq_scheme_parse("w4a4,rotate-online,no-rotate", &s, msg, sizeof msg), AQ_OK);
    assert_true(!s.rotate && !s.rotate_online);
    assert_int_equal(aq_scheme_parse("w4a4,rotate-online,rotate-blocked", &s, msg, sizeof msg),
                     AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_scheme_parse("w4a4-paper,rotate-online", &s, msg, sizeof msg), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_scheme_parse("fp32,rotate-online,smooth", &s, msg, sizeof msg), AQ_OK);
    assert_true(s.smooth && s.rotate_online && aq_scheme_needs_calibration(&s));
    assert_int_equal(aq_scheme_parse("w4a4,smooth", &s, msg, sizeof msg), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_scheme_parse("w4a4,rotate-online,smooth,no-rotate", &s, msg, sizeof msg),
                     AQ_ERR_INVALID_ARGUMENT);
    /* The outlier schemes are their documented modifier strings (docs/FORMAT.md), and take modifiers. */
    const char *aliases[][2] = {
        {"w4a4o", "w4a4,rotate-online,smooth,no-balance,balance-vo,ag32,clip-act,asym,aasym"},
        {"w4a8o", "w4a8,rotate-online,no-balance,ag32,clip-act"},
        {"w4a4o,rtn,head-int4",
         "w4a4,rotate-online,smooth,no-balance,balance-vo,ag32,clip-act,asym,aasym,rtn,head-int4"},
    };
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++) {
        aq_scheme named, spelled;
        assert_int_equal(aq_scheme_parse(aliases[i][0], &named, msg, sizeof msg), AQ_OK);
        assert_int_equal(aq_scheme_parse(aliases[i][1], &spelled, msg, sizeof msg), AQ_OK);
        assert_true(same_scheme(&named, &spelled));
    }
    assert_int_equal(aq_scheme_parse("w4a4o,no-rotate", &s, msg, sizeof msg), AQ_ERR_INVALID_ARGUMENT);
    const char *bad_mix[] = {"w4a4,rtn,mix8-2",     "w4a4,rtn,ag32,mix8-0",  "w4a4,rtn,ag32,mix8-65",
                             "w4a4,rtn,ag32,mix8-", "w4a4,rtn,ag32,mix8-2x", "w4a4,rtn,ag32,mix8-99999999999",
                             "q4_0,ag32,mix8-2"};
    for (size_t i = 0; i < sizeof bad_mix / sizeof bad_mix[0]; i++)
        assert_int_equal(aq_scheme_parse(bad_mix[i], &s, msg, sizeof msg), AQ_ERR_INVALID_ARGUMENT);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hadamard_is_orthogonal), cmocka_unit_test(test_hadamard_by_hand),
        cmocka_unit_test(test_hadamard_rows),          cmocka_unit_test(test_hadamard_blocked_is_sylvester),
        cmocka_unit_test(test_hadamard_full_width),    cmocka_unit_test(test_gptq_beats_round_to_nearest),
        cmocka_unit_test(test_trip_choices),           cmocka_unit_test(test_scheme_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
