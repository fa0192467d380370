/* test_quant_ref.c - tests of the reference quantization kernels (kernels_ref/q*.c).
 *
 * In the spirit of ggml's test-quantize-fns: every check has a bound, stated and
 * derived in a comment next to it, and the expected values of the small cases were
 * worked out by hand (the working is in the comments), never copied from a run.
 *
 * Notation: eps = FLT_EPSILON = 2^-23; u = 2^-11 is the relative rounding error of
 * an fp32 -> fp16 conversion (half an ulp of an 11-bit significand).
 */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "f16.h"
#include "prng.h"
#include "quant.h"

#define FP16_ROUNDING 0x1p-11 /* u: relative error of one fp32 -> fp16 rounding */

/* Fails the test with a message when value > bound (also when either is NaN). */
#define CHECK_LE(value, bound, ...)                                                                                    \
    do {                                                                                                               \
        const double check_value_ = (value);                                                                           \
        const double check_bound_ = (bound);                                                                           \
        if (!(check_value_ <= check_bound_)) {                                                                         \
            print_error(__VA_ARGS__);                                                                                  \
            print_error(": %.9g exceeds the bound %.9g (%s:%d)\n", check_value_, check_bound_, __FILE__, __LINE__);    \
            fail();                                                                                                    \
        }                                                                                                              \
    } while (0)

/* ------------------------------------------------------------------------------
 * Deterministic random data (splitmix64), state passed explicitly.
 */
static uint64_t rng_next(uint64_t *state) { return aq_splitmix64(state); }

static double rng_uniform01(uint64_t *state) { return (double)(rng_next(state) >> 11) * 0x1p-53; }

static double rng_gaussian(uint64_t *state) {
    const double u1 = ((double)(rng_next(state) >> 11) + 1.0) * 0x1p-53; /* (0, 1] */
    const double u2 = rng_uniform01(state);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

enum distribution {
    DIST_GAUSSIAN, /* N(0, 1): typical weights */
    DIST_UNIFORM,  /* U(-1, 1): many values near the group extremes */
    DIST_POSITIVE, /* U(0.5, 1.5): one-signed groups (asymmetric edge case) */
    DIST_OUTLIERS, /* N(0, 1) with every 37th value x20: LLM activation outliers */
    DIST_COUNT,
};

static void fill(float *x, size_t n, enum distribution dist, uint64_t *state) {
    for (size_t i = 0; i < n; i++) {
        switch (dist) {
        case DIST_GAUSSIAN:
            x[i] = (float)rng_gaussian(state);
            break;
        case DIST_UNIFORM:
            x[i] = (float)(2.0 * rng_uniform01(state) - 1.0);
            break;
        case DIST_POSITIVE:
            x[i] = (float)(0.5 + rng_uniform01(state));
            break;
        default:
            x[i] = (float)rng_gaussian(state) * (i % 37 == 5 ? 20.0f : 1.0f);
            break;
        }
    }
}

/* ------------------------------------------------------------------------------
 * Allocation helpers.
 */
static void *checked_calloc(size_t count, size_t size) {
    void *p = calloc(count == 0 ? 1 : count, size == 0 ? 1 : size);
    assert_non_null(p);
    return p;
}

static void q4w_alloc(struct aq_q4w *w, size_t n_rows, size_t k, size_t group, bool asym) {
    size_t q_bytes, scale_bytes, zero_bytes;
    assert_true(aq_q4w_sizes(n_rows, k, group, asym, &q_bytes, &scale_bytes, &zero_bytes));
    w->q = checked_calloc(q_bytes, 1);
    w->scale = checked_calloc(scale_bytes, 1);
    w->zero = asym ? checked_calloc(zero_bytes, 1) : NULL;
}

static void q4w_free(struct aq_q4w *w) {
    free(w->q);
    free(w->scale);
    free(w->zero);
}

static void qd8_alloc(struct aq_qd8 *a, size_t n_rows, size_t k) {
    a->group = 0; /* one scale per row */
    a->q = checked_calloc(n_rows * k, sizeof(int8_t));
    a->scale = checked_calloc(n_rows, sizeof(float));
    a->zero = checked_calloc(n_rows, sizeof(int32_t));
}

static void qd8_free(struct aq_qd8 *a) {
    free(a->q);
    free(a->scale);
    free(a->zero);
}

/* The weight code of element e of row r, read from the documented nibble layout
 * (independently of the kernels' own readers). */
static int q4w_code(const struct aq_q4w *w, size_t r, size_t e) {
    const uint8_t byte = w->q[r * (w->k / 2) + e / 2];
    return (e % 2 == 0) ? (byte & 0x0F) : (byte >> 4);
}

static int q4w_zero(const struct aq_q4w *w, size_t r, size_t g) {
    return w->zero != NULL ? w->zero[r * (w->k / w->group) + g] : 8;
}

static float q4w_scale(const struct aq_q4w *w, size_t r, size_t g) {
    return aq_fp16_to_fp32(w->scale[r * (w->k / w->group) + g]);
}

static const size_t kGroups[] = {32, 64, 128};
static const size_t kDepths[] = {32, 64, 96, 128, 160, 256, 384, 4096};
static const size_t kRowCounts[] = {1, 3, 17};
#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

/* ==============================================================================
 * fp16 / bf16
 */
static void test_f16_special_values(void **state) {
    (void)state;
    /* Encodings from the IEEE 754 binary16 definition. */
    assert_int_equal(aq_fp32_to_fp16(0.0f), 0x0000);
    assert_int_equal(aq_fp32_to_fp16(-0.0f), 0x8000);
    assert_int_equal(aq_fp32_to_fp16(1.0f), 0x3C00);
    assert_int_equal(aq_fp32_to_fp16(-2.0f), 0xC000);
    assert_int_equal(aq_fp32_to_fp16(0.5f), 0x3800);
    assert_int_equal(aq_fp32_to_fp16(65504.0f), 0x7BFF);        /* largest finite */
    assert_int_equal(aq_fp32_to_fp16(0x1p-14f), 0x0400);        /* smallest normal */
    assert_int_equal(aq_fp32_to_fp16(0x1p-24f), 0x0001);        /* smallest subnormal */
    assert_int_equal(aq_fp32_to_fp16(1023 * 0x1p-24f), 0x03FF); /* largest subnormal */
    assert_int_equal(aq_fp32_to_fp16(-0x1p-24f), 0x8001);
    assert_int_equal(aq_fp32_to_fp16(INFINITY), 0x7C00);
    assert_int_equal(aq_fp32_to_fp16(-INFINITY), 0xFC00);
    assert_int_equal(aq_fp32_to_fp16(FLT_MAX), 0x7C00);      /* overflow -> inf */
    assert_int_equal(aq_fp32_to_fp16(1e-30f), 0x0000);       /* underflow -> 0 */
    assert_int_equal(aq_fp32_to_fp16(FLT_TRUE_MIN), 0x0000); /* fp32 subnormal -> 0 */
    assert_int_equal(aq_fp32_to_fp16(-1e-30f), 0x8000);

    /* NaN must stay NaN (exponent all ones, mantissa non-zero), keeping the sign,
     * even for a payload that lives only in the low fp32 mantissa bits. */
    const float nans[] = {NAN, -NAN, aq_fp32_from_bits(0x7F800001u), aq_fp32_from_bits(0xFF800001u)};
    for (size_t i = 0; i < COUNT(nans); i++) {
        const uint16_t h = aq_fp32_to_fp16(nans[i]);
        assert_int_equal(h & 0x7C00, 0x7C00);
        assert_int_not_equal(h & 0x03FF, 0);
        assert_int_equal(h >> 15, aq_fp32_to_bits(nans[i]) >> 31);
    }

    /* Decoding. */
    assert_true(aq_fp16_to_fp32(0x3C00) == 1.0f);
    assert_true(aq_fp16_to_fp32(0x7BFF) == 65504.0f);
    assert_true(aq_fp16_to_fp32(0x0001) == 0x1p-24f);
    assert_true(aq_fp16_to_fp32(0x03FF) == 1023 * 0x1p-24f);
    assert_true(aq_fp16_to_fp32(0x0400) == 0x1p-14f);
    assert_int_equal(aq_fp32_to_bits(aq_fp16_to_fp32(0x8000)), 0x80000000u); /* -0 */
    assert_true(isinf(aq_fp16_to_fp32(0x7C00)) && aq_fp16_to_fp32(0x7C00) > 0);
    assert_true(isinf(aq_fp16_to_fp32(0xFC00)) && aq_fp16_to_fp32(0xFC00) < 0);
    assert_true(isnan(aq_fp16_to_fp32(0x7C01)));
    assert_true(isnan(aq_fp16_to_fp32(0xFE00)));
}

static void test_f16_rounding_ties(void **state) {
    (void)state;
    /* Around 1.0 the half ulp is 2^-10; its midpoints are ties, resolved to even. */
    assert_int_equal(aq_fp32_to_fp16(1.0f + 0x1p-11f), 0x3C00);            /* 0x3C00|0x3C01 -> even */
    assert_int_equal(aq_fp32_to_fp16(1.0f + 3 * 0x1p-11f), 0x3C02);        /* 0x3C01|0x3C02 -> even */
    assert_int_equal(aq_fp32_to_fp16(1.0f + 0x1p-11f + 0x1p-20f), 0x3C01); /* above the tie */
    assert_int_equal(aq_fp32_to_fp16(1.0f + 0x1p-11f - 0x1p-20f), 0x3C00); /* below the tie */
    assert_int_equal(aq_fp32_to_fp16(-(1.0f + 3 * 0x1p-11f)), 0xBC02);
    /* A tie that carries into the exponent: 2 - 2^-11 lies between 0x3BFF (2 - 2^-10)
     * and 0x4000 (2.0); 0x3BFF is odd, so it goes up to 2.0. */
    assert_int_equal(aq_fp32_to_fp16(2.0f - 0x1p-11f), 0x4000);
    /* Overflow threshold: 65504 + 16 = 65520 is the tie between 0x7BFF (odd) and the
     * next power of two, so it and everything above is inf; just below stays finite. */
    assert_int_equal(aq_fp32_to_fp16(65520.0f), 0x7C00);
    assert_int_equal(aq_fp32_to_fp16(65519.996f), 0x7BFF);
    assert_int_equal(aq_fp32_to_fp16(65505.0f), 0x7BFF);
    /* Subnormal ties, in units of 2^-24: 0.5 -> 0 (even), 1.5 -> 2, 2.5 -> 2. */
    assert_int_equal(aq_fp32_to_fp16(0x1p-25f), 0x0000);
    assert_int_equal(aq_fp32_to_fp16(0x1p-25f + 0x1p-40f), 0x0001);
    assert_int_equal(aq_fp32_to_fp16(3 * 0x1p-25f), 0x0002);
    assert_int_equal(aq_fp32_to_fp16(5 * 0x1p-25f), 0x0002);
    /* Rounding up out of the subnormals into the smallest normal: 1023.5 units -> 1024. */
    assert_int_equal(aq_fp32_to_fp16(1023.5f * 0x1p-24f), 0x0400);
}

/* Independent decoder: the binary16 formula evaluated in double. */
static double fp16_value_by_formula(uint16_t h) {
    const int exponent = (h >> 10) & 0x1F;
    const int mantissa = h & 0x3FF;
    const double sign = (h & 0x8000) ? -1.0 : 1.0;
    if (exponent == 0) {
        return sign * ldexp(mantissa, -24);
    }
    if (exponent == 31) {
        return mantissa == 0 ? sign * INFINITY : NAN;
    }
    return sign * ldexp(1024 + mantissa, exponent - 25);
}

static void test_f16_all_halves_roundtrip(void **state) {
    (void)state;
    /* Exhaustive over all 65536 encodings: decoding equals the formula exactly, and
     * encoding the decoded value gives the same bits back (NaN: some NaN of the same
     * sign). */
    for (uint32_t h = 0; h <= 0xFFFF; h++) {
        const float f = aq_fp16_to_fp32((uint16_t)h);
        const double expected = fp16_value_by_formula((uint16_t)h);
        if (isnan(expected)) {
            assert_true(isnan(f));
            const uint16_t back = aq_fp32_to_fp16(f);
            assert_int_equal(back & 0x7C00, 0x7C00);
            assert_int_not_equal(back & 0x3FF, 0);
            assert_int_equal(back & 0x8000, h & 0x8000);
            continue;
        }
        assert_true((double)f == expected);
        assert_int_equal(aq_fp32_to_fp16(f), h);
    }
}

/* Reference fp32 -> fp16 by search: the nearest of the finite halves (sorted by
 * value in encoding order 0..0x7BFF), ties to the even encoding; overflow as IEEE
 * (values from 65520 on round to inf). Shares no code with aq_fp32_to_fp16. */
static uint16_t fp16_by_nearest_search(float f) {
    const uint16_t sign = signbit(f) ? 0x8000 : 0;
    const double magnitude = fabs((double)f);
    if (magnitude >= 65520.0) {
        return (uint16_t)(sign | 0x7C00);
    }
    uint32_t lo = 0, hi = 0x7BFF; /* largest encoding with value <= magnitude */
    while (lo < hi) {
        const uint32_t mid = (lo + hi + 1) / 2;
        if (fp16_value_by_formula((uint16_t)mid) <= magnitude) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    const double below = fp16_value_by_formula((uint16_t)lo);
    const double above = lo == 0x7BFF ? 65536.0 : fp16_value_by_formula((uint16_t)(lo + 1));
    const double distance_below = magnitude - below;
    const double distance_above = above - magnitude;
    uint32_t nearest = lo;
    if (distance_above < distance_below || (distance_above == distance_below && (lo & 1))) {
        nearest = lo + 1;
    }
    return (uint16_t)(sign | nearest);
}

static void check_fp16_against_search(uint32_t bits) {
    const float f = aq_fp32_from_bits(bits);
    const uint16_t got = aq_fp32_to_fp16(f);
    const uint16_t expected = fp16_by_nearest_search(f);
    if (got != expected) {
        print_error("fp32 0x%08x (%.9g): got fp16 0x%04x, nearest-even is 0x%04x\n", (unsigned)bits, (double)f, got,
                    expected);
        fail();
    }
}

static void test_f16_matches_nearest_search(void **state) {
    (void)state;
    /* A strided sweep over all finite fp32 of both signs (the stride is odd, so
     * every low-bit pattern is visited), plus every pattern within 4096 ulps of the
     * boundaries where the encoder changes branch: 2^-25 (rounds to zero below),
     * 2^-24, 2^-14 (subnormal/normal), 1.0 and 65504..65520 (overflow). */
    for (uint32_t bits = 0; bits < 0x7F800000u; bits += 2039) {
        check_fp16_against_search(bits);
        check_fp16_against_search(bits | 0x80000000u);
    }
    const float boundaries[] = {0x1p-25f, 0x1p-24f, 0x1p-14f, 1.0f, 65504.0f, 65520.0f};
    for (size_t i = 0; i < COUNT(boundaries); i++) {
        const uint32_t center = aq_fp32_to_bits(boundaries[i]);
        for (uint32_t bits = center - 4096; bits <= center + 4096; bits++) {
            check_fp16_against_search(bits);
        }
    }
}

/* Reference fp32 -> bf16: the two bf16 neighbours of f are its truncation and the
 * next encoding; pick the nearer in double, ties to even. */
static uint16_t bf16_by_nearest(float f) {
    const uint32_t bits = aq_fp32_to_bits(f);
    const uint16_t truncated = (uint16_t)(bits >> 16);
    const double value = fabs((double)f);
    const double below = fabs((double)aq_bf16_to_fp32(truncated));
    const uint16_t next = (uint16_t)(truncated + 1);
    const double above = (next & 0x7FFF) == 0x7F80 ? ldexp(1.0, 128) : fabs((double)aq_bf16_to_fp32(next));
    if (above - value < value - below || (above - value == value - below && (truncated & 1))) {
        return next;
    }
    return truncated;
}

static void test_bf16_conversions(void **state) {
    (void)state;
    assert_int_equal(aq_fp32_to_bf16(1.0f), 0x3F80);
    assert_int_equal(aq_fp32_to_bf16(-0.0f), 0x8000);
    /* Ties on the 16 dropped bits go to even; just above a tie goes up. */
    assert_int_equal(aq_fp32_to_bf16(aq_fp32_from_bits(0x3F808000u)), 0x3F80);
    assert_int_equal(aq_fp32_to_bf16(aq_fp32_from_bits(0x3F818000u)), 0x3F82);
    assert_int_equal(aq_fp32_to_bf16(aq_fp32_from_bits(0x3F808001u)), 0x3F81);
    /* FLT_MAX is above the midpoint between the largest bf16 and 2^128: inf. */
    assert_int_equal(aq_fp32_to_bf16(FLT_MAX), 0x7F80);
    assert_int_equal(aq_fp32_to_bf16(-INFINITY), 0xFF80);
    /* A NaN whose payload is only in the low bits must not become inf. */
    const uint16_t nan_bf16 = aq_fp32_to_bf16(aq_fp32_from_bits(0x7F800001u));
    assert_true(isnan(aq_bf16_to_fp32(nan_bf16)));
    assert_true(aq_bf16_to_fp32(0x3F80) == 1.0f);
    assert_true(aq_bf16_to_fp32(0xC040) == -3.0f);
    /* Strided sweep of finite values against the nearest-even reference. */
    for (uint32_t bits = 0; bits < 0x7F800000u; bits += 4093) {
        const uint32_t signs[2] = {0, 0x80000000u};
        for (size_t i = 0; i < 2; i++) {
            const float f = aq_fp32_from_bits(bits | signs[i]);
            if (aq_fp32_to_bf16(f) != bf16_by_nearest(f)) {
                print_error("bf16 of 0x%08x\n", (unsigned)(bits | signs[i]));
                fail();
            }
        }
    }
}

/* ==============================================================================
 * INT4 group-wise weights
 */
static void test_q4w_sizes_and_invalid_shapes(void **state) {
    (void)state;
    size_t q_bytes = 0, scale_bytes = 0, zero_bytes = 0;
    /* 3 rows x 96 with groups of 32: 3 * 48 code bytes, 9 groups of 2-byte scales. */
    assert_true(aq_q4w_sizes(3, 96, 32, true, &q_bytes, &scale_bytes, &zero_bytes));
    assert_int_equal(q_bytes, 144);
    assert_int_equal(scale_bytes, 18);
    assert_int_equal(zero_bytes, 9);
    assert_true(aq_q4w_sizes(3, 96, 32, false, &q_bytes, &scale_bytes, &zero_bytes));
    assert_int_equal(zero_bytes, 0);
    assert_false(aq_q4w_sizes(3, 96, 64, false, &q_bytes, &scale_bytes, &zero_bytes)); /* 96 % 64 */
    assert_false(aq_q4w_sizes(3, 96, 48, false, &q_bytes, &scale_bytes, &zero_bytes)); /* group */
    assert_false(aq_q4w_sizes(0, 96, 32, false, &q_bytes, &scale_bytes, &zero_bytes));
    assert_false(aq_q4w_sizes(3, 0, 32, false, &q_bytes, &scale_bytes, &zero_bytes));

    /* The quantizer refuses the same shapes, and a zero array that contradicts asym,
     * without touching the output. */
    float w[64] = {0};
    uint8_t q[32];
    uint16_t scale[2];
    uint8_t zero[2];
    memset(q, 0xA5, sizeof(q));
    struct aq_q4w out = {.n_rows = 0, .q = q, .scale = scale, .zero = NULL};
    assert_false(aq_q4w_quantize_rtn_ref(w, 1, 64, 48, false, &out));
    assert_false(aq_q4w_quantize_rtn_ref(w, 1, 64, 128, false, &out));
    assert_false(aq_q4w_quantize_rtn_ref(w, 1, 64, 32, true, &out)); /* asym, zero NULL */
    out.zero = zero;
    assert_false(aq_q4w_quantize_rtn_ref(w, 1, 64, 32, false, &out)); /* sym, zero set */
    assert_int_equal(out.n_rows, 0);
    assert_int_equal(q[0], 0xA5);
}

static void test_q4w_hand_worked_symmetric(void **state) {
    (void)state;
    /* One row, k = 64, groups of 32.
     * Group 0: w0 = -4 has the largest magnitude, so d = -4 / -8 = 0.5 (f16 0x3800,
     *   exact). Codes nearbyint(w / 0.5) + 8: -4 -> 0; 3.5 -> 7 + 8 = 15;
     *   3.75 -> 7.5 -> 8 (tie to even) -> 16 -> clamped 15; 0.25 -> 0.5 -> 0 (even)
     *   -> 8; 0.75 -> 1.5 -> 2 -> 10; -0.3 -> -0.6 -> -1 -> 7; zeros -> 8.
     *   Bytes: (0 | 15 << 4) = 0xF0, (15 | 8 << 4) = 0x8F, (10 | 7 << 4) = 0x7A, 0x88...
     * Group 1: w32 = 2 is the largest magnitude and positive: d = 2 / -8 = -0.25
     *   (f16 0xB400). w32 -> -8 + 8 = 0; w33 = -1 -> 4 + 8 = 12. Byte 16 = 0xC0. */
    float w[64] = {0};
    w[0] = -4.0f;
    w[1] = 3.5f;
    w[2] = 3.75f;
    w[3] = 0.25f;
    w[4] = 0.75f;
    w[5] = -0.3f;
    w[32] = 2.0f;
    w[33] = -1.0f;
    struct aq_q4w q4w;
    q4w_alloc(&q4w, 1, 64, 32, false);
    assert_true(aq_q4w_quantize_rtn_ref(w, 1, 64, 32, false, &q4w));
    assert_int_equal(q4w.n_rows, 1);
    assert_int_equal(q4w.k, 64);
    assert_int_equal(q4w.group, 32);
    assert_int_equal(q4w.scale[0], 0x3800);
    assert_int_equal(q4w.scale[1], 0xB400);
    uint8_t expected[32];
    memset(expected, 0x88, sizeof(expected));
    expected[0] = 0xF0;
    expected[1] = 0x8F;
    expected[2] = 0x7A;
    expected[16] = 0xC0;
    assert_memory_equal(q4w.q, expected, sizeof(expected));

    /* Dequantized: d * (code - 8), all exact in float. */
    float back[64];
    aq_q4w_dequantize_ref(&q4w, back);
    const float expected_back[6] = {-4.0f, 3.5f, 3.5f, 0.0f, 1.0f, -0.5f};
    for (size_t i = 0; i < 6; i++) {
        assert_true(back[i] == expected_back[i]);
    }
    assert_true(back[32] == 2.0f && back[33] == -1.0f && back[40] == 0.0f);
    q4w_free(&q4w);
}

static void test_q4w_hand_worked_asymmetric(void **state) {
    (void)state;
    /* Group of 32: w0 = -1, w1 = 2, w2 = 0.5, w3 = 0.3, rest 0. lo = -1, hi = 2,
     * (hi - lo) / 15 = 0.2 -> f16: 0.2 = 1.6 * 2^-3, mantissa 0.6 * 1024 = 614.4 ->
     * 614 = 0x266, so 0x3266 = 1638 / 8192 = 0.199951171875 = s.
     * zero = nearbyint(1 / s) = nearbyint(5.0012) = 5.
     * codes nearbyint(w / s) + 5: -1 -> -5.0012 -> 0; 2 -> 10.0024 -> 15;
     * 0.5 -> 2.5006 -> 3 -> 8; 0.3 -> 1.5004 -> 2 -> 7; 0 -> 5.
     * Bytes: 0xF0, 0x78, then 0x55. */
    float w[32] = {0};
    w[0] = -1.0f;
    w[1] = 2.0f;
    w[2] = 0.5f;
    w[3] = 0.3f;
    struct aq_q4w q4w;
    q4w_alloc(&q4w, 1, 32, 32, true);
    assert_true(aq_q4w_quantize_rtn_ref(w, 1, 32, 32, true, &q4w));
    assert_int_equal(q4w.scale[0], 0x3266);
    assert_int_equal(q4w.zero[0], 5);
    uint8_t expected[16];
    memset(expected, 0x55, sizeof(expected));
    expected[0] = 0xF0;
    expected[1] = 0x78;
    assert_memory_equal(q4w.q, expected, sizeof(expected));
    float back[32];
    aq_q4w_dequantize_ref(&q4w, back);
    /* s * (code - zero): -5 s, 10 s, 3 s, 2 s, 0 (exact: s has 11 significant bits). */
    assert_true(back[0] == -5 * 0.199951171875f);
    assert_true(back[1] == 10 * 0.199951171875f);
    assert_true(back[2] == 3 * 0.199951171875f);
    assert_true(back[3] == 2 * 0.199951171875f);
    assert_true(back[31] == 0.0f);
    q4w_free(&q4w);
}

static void test_q4w_zero_and_constant_groups(void **state) {
    (void)state;
    /* Row 0 all zeros (half of them -0), row 1 all 1.5, row 2 all -2; k = 32. */
    float w[3 * 32];
    for (size_t i = 0; i < 32; i++) {
        w[i] = (i % 2) ? -0.0f : 0.0f;
        w[32 + i] = 1.5f;
        w[64 + i] = -2.0f;
    }
    float back[3 * 32];

    /* Symmetric. Zeros: scale +0, codes 8, back 0. 1.5: d = 1.5 / -8 = -0.1875
     * (= -3/16, exact in f16), codes -8 + 8 = 0, back exactly 1.5. -2: d = 0.25,
     * codes 0, back exactly -2. */
    struct aq_q4w sym;
    q4w_alloc(&sym, 3, 32, 32, false);
    assert_true(aq_q4w_quantize_rtn_ref(w, 3, 32, 32, false, &sym));
    assert_int_equal(sym.scale[0], 0x0000);
    assert_true(aq_fp16_to_fp32(sym.scale[1]) == -0.1875f);
    assert_true(aq_fp16_to_fp32(sym.scale[2]) == 0.25f);
    for (size_t j = 0; j < 16; j++) {
        assert_int_equal(sym.q[j], 0x88);
        assert_int_equal(sym.q[16 + j], 0x00);
        assert_int_equal(sym.q[32 + j], 0x00);
    }
    aq_q4w_dequantize_ref(&sym, back);
    for (size_t i = 0; i < 32; i++) {
        assert_true(back[i] == 0.0f);
        assert_true(back[32 + i] == 1.5f);
        assert_true(back[64 + i] == -2.0f);
    }
    q4w_free(&sym);

    /* Asymmetric. Zeros: scale +0, zero 8, codes 8. 1.5: lo = 0, hi = 1.5, s = f16(0.1)
     * = 0x2E66 = 0.0999755859375 (0.1 = 1.6 * 2^-4, mantissa 614), zero 0,
     * code nearbyint(15.0037) = 15, back 15 s = 1.4996337890625.
     * -2: lo = -2, hi = 0, s = f16(2/15): 2/15 = 1.0667 * 2^-3, mantissa 68.27 -> 68,
     * s = 1092 / 8192 = 0.13330078125; zero = nearbyint(15.0037) = 15; code
     * nearbyint(-15.0037) + 15 = 0; back -15 s = -1.99951171875. */
    struct aq_q4w asym;
    q4w_alloc(&asym, 3, 32, 32, true);
    assert_true(aq_q4w_quantize_rtn_ref(w, 3, 32, 32, true, &asym));
    assert_int_equal(asym.scale[0], 0x0000);
    assert_int_equal(asym.zero[0], 8);
    assert_int_equal(asym.scale[1], 0x2E66);
    assert_int_equal(asym.zero[1], 0);
    assert_true(aq_fp16_to_fp32(asym.scale[2]) == 0.13330078125f);
    assert_int_equal(asym.zero[2], 15);
    for (size_t j = 0; j < 16; j++) {
        assert_int_equal(asym.q[j], 0x88);
        assert_int_equal(asym.q[16 + j], 0xFF);
        assert_int_equal(asym.q[32 + j], 0x00);
    }
    aq_q4w_dequantize_ref(&asym, back);
    for (size_t i = 0; i < 32; i++) {
        assert_true(back[i] == 0.0f);
        assert_true(back[32 + i] == 1.4996337890625f);
        assert_true(back[64 + i] == -1.99951171875f);
    }
    q4w_free(&asym);
}

/* Quantizes random matrices of many shapes and checks, per group:
 *  (1) the scale is the documented choice up to one f16 rounding:
 *      symmetric |s| = amax / 8 * (1 +- u); asymmetric s = (hi - lo) / 15 * (1 +- u);
 *  (2) every element is within half a step of its original when it lies inside the
 *      grid (the codes are nearbyint of w / s with the rounded s, so no f16 slack
 *      applies); the only elements outside are, in the symmetric case, the far side
 *      of the sign-flipped extreme (|w / s| up to 8 (1 + u) / (1 - u) > 7.5), within
 *      8 (1 + 2u) - 7 < 1.01 steps of level 7, and, in the asymmetric case, the top
 *      of the range, which overshoots level 15 by at most 0.5 (zero-point rounding)
 *      + 15 * 2u (two f16 roundings of s) < 0.52 steps;
 *  (3) the round-trip RMS error is at most 1.3x that of uniform rounding noise,
 *      sqrt(mean over elements of s^2 / 12): the clamped tail above adds a few
 *      percent of elements with errors up to one step (for U(-1, 1) and groups of 32,
 *      about 3% with mean square ~0.6 step^2, i.e. +20% in MSE, +10% in RMS).
 * Float slack in (2): w / s and s * (code - zero) are each rounded once, relative
 * 2^-24, so the bound gets + 2^-22 (|w| + 16 |s|). */
static void check_q4w_roundtrip(size_t n_rows, size_t k, size_t group, bool asym, enum distribution dist,
                                uint64_t *rng) {
    float *w = checked_calloc(n_rows * k, sizeof(float));
    float *back = checked_calloc(n_rows * k, sizeof(float));
    fill(w, n_rows * k, dist, rng);
    struct aq_q4w q4w;
    q4w_alloc(&q4w, n_rows, k, group, asym);
    assert_true(aq_q4w_quantize_rtn_ref(w, n_rows, k, group, asym, &q4w));
    aq_q4w_dequantize_ref(&q4w, back);

    double error_square_sum = 0.0;
    double noise_square_sum = 0.0;
    for (size_t r = 0; r < n_rows; r++) {
        for (size_t g = 0; g < k / group; g++) {
            const float *wg = w + r * k + g * group;
            const float *bg = back + r * k + g * group;
            double amax = 0.0, lo = 0.0, hi = 0.0;
            for (size_t i = 0; i < group; i++) {
                amax = fmax(amax, fabs(wg[i]));
                lo = fmin(lo, wg[i]);
                hi = fmax(hi, wg[i]);
            }
            const double s = q4w_scale(&q4w, r, g);
            const double step = fabs(s);
            const double ideal_step = asym ? (hi - lo) / 15.0 : amax / 8.0;
            CHECK_LE(fabs(step - ideal_step), ideal_step * 2.0 * FP16_ROUNDING,
                     "k=%zu group=%zu asym=%d row %zu group %zu: scale", k, group, asym, r, g);
            const int zero = q4w_zero(&q4w, r, g);
            for (size_t i = 0; i < group; i++) {
                const double error = fabs((double)bg[i] - wg[i]);
                const double float_slack = 0x1p-22 * (fabs(wg[i]) + 16.0 * step);
                const double level = wg[i] / s + zero; /* position on the code grid */
                double allowed_steps = 0.5;
                if (level < -0.5 || level > 15.5) {
                    allowed_steps = asym ? 0.52 : 1.01;
                }
                CHECK_LE(error, allowed_steps * step + float_slack,
                         "k=%zu group=%zu asym=%d dist=%d element (%zu, %zu) = %g", k, group, asym, (int)dist, r,
                         g * group + i, (double)wg[i]);
                error_square_sum += error * error;
                noise_square_sum += step * step / 12.0;
            }
        }
    }
    CHECK_LE(sqrt(error_square_sum), 1.3 * sqrt(noise_square_sum),
             "k=%zu group=%zu asym=%d dist=%d: RMS round-trip error", k, group, asym, (int)dist);
    q4w_free(&q4w);
    free(w);
    free(back);
}

static void test_q4w_roundtrip_error(void **state) {
    (void)state;
    uint64_t rng = 1;
    for (size_t ki = 0; ki < COUNT(kDepths); ki++) {
        for (size_t gi = 0; gi < COUNT(kGroups); gi++) {
            if (kDepths[ki] % kGroups[gi] != 0) {
                continue;
            }
            for (size_t ri = 0; ri < COUNT(kRowCounts); ri++) {
                for (int asym = 0; asym <= 1; asym++) {
                    for (int dist = 0; dist < DIST_COUNT; dist++) {
                        check_q4w_roundtrip(kRowCounts[ri], kDepths[ki], kGroups[gi], asym, (enum distribution)dist,
                                            &rng);
                    }
                }
            }
        }
    }
}

/* ==============================================================================
 * INT8 / INT4 activations
 */
static void test_qd8_dynamic_hand_worked(void **state) {
    (void)state;
    /* 8 bits: amax 254 -> scale 254 / 127 = 2 exactly. x / 2 rounded half to even:
     * 254 -> 127; -127 -> -63.5 -> -64; 1 -> 0.5 -> 0; 3 -> 1.5 -> 2; -5 -> -2.5 -> -2;
     * 0.9 -> 0.45 -> 0. Row 1 (4 bits): amax 14 -> scale 14 / 7 = 2; 14 -> 7;
     * -7 -> -3.5 -> -4; 1 -> 0; 3 -> 2; -5 -> -2; -14 -> -7. */
    const float x8[6] = {254.0f, -127.0f, 1.0f, 3.0f, -5.0f, 0.9f};
    const float x4[6] = {14.0f, -7.0f, 1.0f, 3.0f, -5.0f, -14.0f};
    const int8_t expected8[6] = {127, -64, 0, 2, -2, 0};
    const int8_t expected4[6] = {7, -4, 0, 2, -2, -7};
    struct aq_qd8 a;
    qd8_alloc(&a, 1, 6);
    assert_true(aq_qd8_quantize_dynamic_ref(x8, 1, 6, 6, 8, &a));
    assert_true(a.scale[0] == 2.0f);
    assert_int_equal(a.zero[0], 0);
    assert_memory_equal(a.q, expected8, 6);
    assert_true(aq_qd8_quantize_dynamic_ref(x4, 1, 6, 6, 4, &a));
    assert_true(a.scale[0] == 2.0f);
    assert_memory_equal(a.q, expected4, 6);

    /* Division, not a multiply by the reciprocal: amax 889 -> scale 889 / 127 = 7
     * exactly. 45.5 / 7 = 6.5 exactly, a tie -> 6; 87.5 / 7 = 12.5 -> 12. (With the
     * rounded reciprocal 1/7 -> 0.142857149 > 1/7 the products would land just above
     * the ties, 6.5000005 and 12.500001, and round to 7 and 13.) */
    const float x_ties[3] = {889.0f, 45.5f, -87.5f};
    const int8_t expected_ties[3] = {127, 6, -12};
    assert_true(aq_qd8_quantize_dynamic_ref(x_ties, 1, 3, 3, 8, &a));
    assert_true(a.scale[0] == 7.0f);
    assert_memory_equal(a.q, expected_ties, 3);

    a.scale[0] = 123.0f;
    assert_false(aq_qd8_quantize_dynamic_ref(x4, 1, 6, 6, 5, &a)); /* 5 bits: refused */
    assert_true(a.scale[0] == 123.0f);
    qd8_free(&a);
}

/* Group-wise activation scales: each group of a row is quantized exactly as
 * the per-row quantizer quantizes that group taken as a row of its own; bad
 * groups and widths are refused without writing. */
static void test_qd8_grouped(void **state) {
    (void)state;
    enum { ROWS = 3, K = 192, STRIDE = 200 };
    float x[ROWS * STRIDE];
    uint64_t rng = 11;
    fill(x, ROWS * STRIDE, DIST_OUTLIERS, &rng);
    for (size_t i = 0; i < 64; i++) x[STRIDE + i] = 0.0f; /* row 1, group 0 of 64: all zero */
    const size_t groups[] = {32, 64, 96, 192};
    for (int bits = 4; bits <= 8; bits += 4) {
        for (size_t gi = 0; gi < COUNT(groups); gi++) {
            const size_t group = groups[gi], n = K / group;
            int8_t q[ROWS * K], q_one[K];
            float scale[ROWS * K / 32], scale_one;
            int32_t zero[ROWS] = {5, 5, 5}, zero_one;
            struct aq_qd8 a = {.q = q, .scale = scale, .zero = zero};
            assert_true(aq_qd8_quantize_grouped_ref(x, ROWS, K, STRIDE, bits, group, &a));
            assert_true(a.n_rows == ROWS && a.k == K && a.group == group);
            for (size_t t = 0; t < ROWS; t++) {
                assert_int_equal(zero[t], 0);
                for (size_t g = 0; g < n; g++) {
                    struct aq_qd8 one = {.q = q_one, .scale = &scale_one, .zero = &zero_one};
                    assert_true(aq_qd8_quantize_dynamic_ref(x + t * STRIDE + g * group, 1, group, group, bits, &one));
                    assert_true(scale[t * n + g] == scale_one);
                    assert_memory_equal(q + t * K + g * group, q_one, group);
                }
            }
            if (group == 64) assert_true(scale[n] == 0.0f);
        }
    }
    float scale[ROWS * K / 32];
    int8_t q[ROWS * K];
    int32_t zero[ROWS];
    struct aq_qd8 a = {.q = q, .scale = scale, .zero = zero};
    scale[0] = 123.0f;
    assert_false(aq_qd8_quantize_grouped_ref(x, ROWS, K, STRIDE, 8, 0, &a));
    assert_false(aq_qd8_quantize_grouped_ref(x, ROWS, K, STRIDE, 8, 128, &a)); /* does not divide 192 */
    assert_false(aq_qd8_quantize_grouped_ref(x, ROWS, K, STRIDE, 5, 32, &a));
    assert_true(scale[0] == 123.0f && a.group == 0);
}

/* A width per group (mix8-N): each group is quantized exactly as the group-wise
 * quantizer quantizes it at that group's width; a width other than 8 or 4, or a
 * group that does not divide the row, is refused without writing. */
static void test_qd8_grouped_bits(void **state) {
    (void)state;
    enum { ROWS = 3, K = 192, STRIDE = 200, GROUP = 32, N = K / GROUP };
    float x[ROWS * STRIDE];
    uint64_t rng = 17;
    fill(x, ROWS * STRIDE, DIST_OUTLIERS, &rng);
    const uint8_t bits[N] = {4, 8, 4, 4, 8, 8};
    int8_t q[ROWS * K], q4[ROWS * K], q8[ROWS * K];
    float scale[ROWS * N], scale4[ROWS * N], scale8[ROWS * N];
    int32_t zero[ROWS] = {5, 5, 5}, zero4[ROWS], zero8[ROWS];
    struct aq_qd8 a = {.q = q, .scale = scale, .zero = zero}, a4 = {.q = q4, .scale = scale4, .zero = zero4},
                  a8 = {.q = q8, .scale = scale8, .zero = zero8};
    assert_true(aq_qd8_quantize_grouped_bits_ref(x, ROWS, K, STRIDE, bits, GROUP, &a));
    assert_true(a.n_rows == ROWS && a.k == K && a.group == GROUP);
    assert_true(aq_qd8_quantize_grouped_ref(x, ROWS, K, STRIDE, 4, GROUP, &a4));
    assert_true(aq_qd8_quantize_grouped_ref(x, ROWS, K, STRIDE, 8, GROUP, &a8));
    int wide_codes = 0;
    for (size_t t = 0; t < ROWS; t++) {
        assert_int_equal(zero[t], 0);
        for (size_t g = 0; g < N; g++) {
            const struct aq_qd8 *same = bits[g] == 8 ? &a8 : &a4;
            assert_true(scale[t * N + g] == same->scale[t * N + g]);
            assert_memory_equal(q + t * K + g * GROUP, same->q + t * K + g * GROUP, GROUP);
            for (size_t e = 0; e < GROUP; e++) wide_codes += abs(q[t * K + g * GROUP + e]) > 8;
        }
    }
    assert_true(wide_codes > 0); /* the 8-bit groups use their range */
    const uint8_t bad[N] = {4, 8, 4, 5, 8, 8};
    scale[0] = 123.0f;
    a.group = 0;
    assert_false(aq_qd8_quantize_grouped_bits_ref(x, ROWS, K, STRIDE, bad, GROUP, &a));
    assert_false(aq_qd8_quantize_grouped_bits_ref(x, ROWS, K, STRIDE, bits, 0, &a));
    assert_false(aq_qd8_quantize_grouped_bits_ref(x, ROWS, K, STRIDE, bits, 128, &a)); /* does not divide 192 */
    assert_true(scale[0] == 123.0f && a.group == 0);
}

/* A quantizer with per-group widths (aq_qd8_quantize_grouped_clip_ref, _asym_ref). */
typedef bool (*widths_quantizer)(const float *x, size_t n_rows, size_t k, size_t x_stride, int bits,
                                 const uint8_t *group_bits, size_t group, struct aq_qd8 *out);

/* Given no widths and 8 bits, quantize is aq_qd8_quantize_grouped_ref; it refuses
 * a width other than 8 or 4, bits other than 8 or 4 and a group that does not
 * divide k (4 x group must not), writing nothing. */
static void expect_plain_at_8_bits_and_refusals(widths_quantizer quantize, const float *x, size_t rows, size_t k,
                                                size_t stride, size_t group) {
    const size_t n = k / group;
    int8_t *q = checked_calloc(rows * k, 1), *qp = checked_calloc(rows * k, 1);
    float *scale = checked_calloc(rows * n, sizeof(float)), *scale_p = checked_calloc(rows * n, sizeof(float));
    int32_t *zero = checked_calloc(rows, sizeof(int32_t)), *zero_p = checked_calloc(rows, sizeof(int32_t));
    struct aq_qd8 a = {.q = q, .scale = scale, .zero = zero}, p = {.q = qp, .scale = scale_p, .zero = zero_p};
    assert_true(quantize(x, rows, k, stride, 8, NULL, group, &a));
    assert_true(aq_qd8_quantize_grouped_ref(x, rows, k, stride, 8, group, &p));
    assert_memory_equal(q, qp, rows * k);
    assert_memory_equal(scale, scale_p, rows * n * sizeof(float));
    uint8_t *bad = checked_calloc(n, 1);
    for (size_t g = 0; g < n; g++) bad[g] = g == n / 2 ? 3 : 4; /* one width of 3 */
    scale[0] = 123.0f;
    a.group = 0;
    assert_false(quantize(x, rows, k, stride, 4, bad, group, &a));
    assert_false(quantize(x, rows, k, stride, 5, NULL, group, &a));
    const size_t not_dividing = 4 * group;
    assert_true(k % not_dividing != 0);
    assert_false(quantize(x, rows, k, stride, 4, NULL, not_dividing, &a));
    assert_true(scale[0] == 123.0f && a.group == 0);
    free(bad);
    free(q);
    free(qp);
    free(scale);
    free(scale_p);
    free(zero);
    free(zero_p);
}

/* Clipped 4-bit groups (aclip): each group's scale is one of the ratios' and its
 * squared error is at most the unclipped one's; 8-bit groups are quantized as
 * without clipping; a zero group stays at scale 0; bad widths are refused. */
static void test_qd8_grouped_clip(void **state) {
    (void)state;
    enum { ROWS = 4, K = 192, STRIDE = 200, GROUP = 32, N = K / GROUP };
    float x[ROWS * STRIDE];
    uint64_t rng = 19;
    fill(x, ROWS * STRIDE, DIST_OUTLIERS, &rng);
    for (size_t i = 0; i < GROUP; i++) x[STRIDE + i] = 0.0f; /* row 1, group 0: all zero */
    const uint8_t bits[N] = {4, 8, 4, 4, 8, 4};
    int8_t q[ROWS * K], qp[ROWS * K];
    float scale[ROWS * N], scale_p[ROWS * N];
    int32_t zero[ROWS], zero_p[ROWS];
    struct aq_qd8 a = {.q = q, .scale = scale, .zero = zero}, p = {.q = qp, .scale = scale_p, .zero = zero_p};
    assert_true(aq_qd8_quantize_grouped_clip_ref(x, ROWS, K, STRIDE, 4, bits, GROUP, &a));
    assert_true(aq_qd8_quantize_grouped_bits_ref(x, ROWS, K, STRIDE, bits, GROUP, &p));
    assert_true(a.group == GROUP && a.n_rows == ROWS && a.k == K);
    int clipped = 0;
    for (size_t t = 0; t < ROWS; t++) {
        assert_int_equal(zero[t], 0);
        for (size_t g = 0; g < N; g++) {
            const size_t at = t * K + g * GROUP;
            if (bits[g] == 8) {
                assert_true(scale[t * N + g] == scale_p[t * N + g]);
                assert_memory_equal(q + at, qp + at, GROUP);
                continue;
            }
            double err = 0, err_p = 0;
            for (size_t e = 0; e < GROUP; e++) {
                const float v = x[t * STRIDE + g * GROUP + e];
                err += pow(v - scale[t * N + g] * q[at + e], 2);
                err_p += pow(v - scale_p[t * N + g] * qp[at + e], 2);
            }
            assert_true(err <= err_p * (1 + 1e-5));
            const double ratio = scale_p[t * N + g] > 0 ? scale[t * N + g] / scale_p[t * N + g] : 1.0;
            assert_true(ratio > 0.64 && ratio <= 1.0);
            clipped += ratio < 1.0;
        }
    }
    assert_true(scale[N] == 0.0f); /* the zero group */
    assert_true(clipped > 0);      /* some group took a clipped scale */
    /* group_bits NULL: every group at bits; 8 bits is the unclipped quantizer's */
    expect_plain_at_8_bits_and_refusals(aq_qd8_quantize_grouped_clip_ref, x, ROWS, K, STRIDE, GROUP);
}

/* Asymmetric 4-bit groups (aasym), by hand: x = i - 10 for i in [0, 32) spans
 * [-10, 21]: scale 31 / 15, zero point nearbyintf(10 / scale) = 5, so the codes
 * run from -5 to 10; x = 2 (2 / scale = 0.968) is code 1, x = 1 is code 0. */
static void test_qd8_grouped_asym_by_hand(void **state) {
    (void)state;
    enum { GROUP = 32 };
    float x[GROUP];
    for (int i = 0; i < GROUP; i++) x[i] = (float)(i - 10);
    int8_t q[GROUP];
    float scale;
    int32_t zero;
    struct aq_qd8 a = {.q = q, .scale = &scale, .zero = &zero};
    assert_true(aq_qd8_quantize_grouped_asym_ref(x, 1, GROUP, GROUP, 4, NULL, GROUP, &a));
    assert_true(scale == 31.0f / 15.0f);
    assert_int_equal(q[0], -5);  /* x = -10: -4.84 */
    assert_int_equal(q[9], 0);   /* x = -1: -0.48 */
    assert_int_equal(q[11], 0);  /* x = 1: 0.48 */
    assert_int_equal(q[12], 1);  /* x = 2: 0.97 */
    assert_int_equal(q[31], 10); /* x = 21: 10.16, the top level 15 - 5 */
    assert_int_equal(zero, 0);
    /* A -inf: scale inf and -lo / scale = inf / inf, a NaN, so the zero point is 0
     * and every code 0 (x / inf is 0, and -inf / inf a NaN, clamped to -0). */
    x[3] = -INFINITY;
    memset(q, 0x5A, sizeof q);
    assert_true(aq_qd8_quantize_grouped_asym_ref(x, 1, GROUP, GROUP, 4, NULL, GROUP, &a));
    assert_true(isinf(scale) && scale > 0.0f);
    for (int i = 0; i < GROUP; i++) assert_int_equal(q[i], 0);
}

/* Asymmetric 4-bit groups (aasym) on many groups: each 4-bit group's codes lie
 * in a window of 16 levels that holds 0, its scale is (max(x, 0) - min(x, 0)) /
 * 15 and every value is within half a step of its level (nothing clips); on a
 * skewed group (all of one sign, as SiLU * up mostly is) the squared error is
 * below the symmetric quantizer's; 8-bit groups are the symmetric quantizer's; a
 * zero group has scale 0; bad widths are refused, writing nothing. */
static void test_qd8_grouped_asym(void **state) {
    (void)state;
    enum { ROWS = 4, K = 192, STRIDE = 200, GROUP = 32, N = K / GROUP };
    float x[ROWS * STRIDE];
    uint64_t rng = 23;
    fill(x, ROWS * STRIDE, DIST_OUTLIERS, &rng);
    for (size_t i = 0; i < GROUP; i++) x[STRIDE + i] = 0.0f; /* row 1, group 0: all zero */
    for (size_t i = 0; i < GROUP; i++) x[2 * STRIDE + i] = fabsf(x[2 * STRIDE + i]) + 0.5f; /* row 2, group 0 */
    const uint8_t bits[N] = {4, 8, 4, 4, 8, 4};
    int8_t q[ROWS * K], qp[ROWS * K];
    float scale[ROWS * N], scale_p[ROWS * N];
    int32_t zero[ROWS], zero_p[ROWS];
    struct aq_qd8 a = {.q = q, .scale = scale, .zero = zero}, p = {.q = qp, .scale = scale_p, .zero = zero_p};
    assert_true(aq_qd8_quantize_grouped_asym_ref(x, ROWS, K, STRIDE, 4, bits, GROUP, &a));
    assert_true(aq_qd8_quantize_grouped_bits_ref(x, ROWS, K, STRIDE, bits, GROUP, &p));
    assert_true(a.group == GROUP && a.n_rows == ROWS && a.k == K);
    for (size_t t = 0; t < ROWS; t++) {
        assert_int_equal(zero[t], 0);
        for (size_t g = 0; g < N; g++) {
            const size_t at = t * K + g * GROUP;
            const float *v = x + t * STRIDE + g * GROUP;
            if (bits[g] == 8) {
                assert_true(scale[t * N + g] == scale_p[t * N + g]);
                assert_memory_equal(q + at, qp + at, GROUP);
                continue;
            }
            double lo = 0, hi = 0, err = 0, err_p = 0;
            int qlo = 0, qhi = 0;
            for (size_t e = 0; e < GROUP; e++) {
                /* checked here, not after the loop: vectorized, this loop of
                 * four reductions crashed aarch64 GCC 12 (vect_transform_reduction) */
                assert_true(q[at + e] >= -15 && q[at + e] <= 15);
                lo = fmin(lo, v[e]);
                hi = fmax(hi, v[e]);
                qlo = q[at + e] < qlo ? q[at + e] : qlo;
                qhi = q[at + e] > qhi ? q[at + e] : qhi;
            }
            const double step = (hi - lo) / 15;
            assert_true(fabs(scale[t * N + g] - step) <= 1e-6 * step);
            assert_true(qhi - qlo <= 15);
            for (size_t e = 0; e < GROUP; e++) {
                const double d = v[e] - (double)scale[t * N + g] * q[at + e];
                assert_true(fabs(d) <= 0.5 * step * (1 + 1e-5) + 1e-30);
                err += d * d;
                err_p += pow(v[e] - scale_p[t * N + g] * qp[at + e], 2);
            }
            if (t == 2 && g == 0) assert_true(err < 0.5 * err_p); /* one sign: 15 steps where symmetric has 7 */
        }
    }
    assert_true(scale[N] == 0.0f); /* the zero group */
    for (size_t e = 0; e < GROUP; e++) assert_int_equal(q[K + e], 0);
    expect_plain_at_8_bits_and_refusals(aq_qd8_quantize_grouped_asym_ref, x, ROWS, K, STRIDE, GROUP);
}

/* The 3-bit GEMM reads the same group-wise activation scales: on a symmetric
 * matrix whose codes are all 3-bit ones it gives the 4-bit GEMM's bits. */
static void test_qd8_grouped_qc3w(void **state) {
    (void)state;
    enum { M = 3, N = 5, K = 256, GROUP = 32, ACT_GROUP = 64 };
    float x[M * K], w[N * K], out3[M * N], out4[M * N];
    uint64_t rng = 13;
    fill(x, M * K, DIST_OUTLIERS, &rng);
    fill(w, N * K, DIST_GAUSSIAN, &rng);
    uint8_t q[N * K / 2];
    uint16_t wscale[N * K / GROUP];
    struct aq_q4w q3 = {.q = q, .scale = wscale, .zero = NULL};
    assert_true(aq_q3w_quantize_rtn_ref(w, N, K, GROUP, &q3));
    int8_t qa[M * K];
    float ascale[M * K / ACT_GROUP];
    int32_t zero[M];
    struct aq_qd8 a = {.q = qa, .scale = ascale, .zero = zero};
    assert_true(aq_qd8_quantize_grouped_ref(x, M, K, K, 4, ACT_GROUP, &a));
    aq_qd8_qc3w_gemm_ref(M, 0, N, &a, &q3, out3, N);
    aq_qd8_qc4w_gemm_ref(M, 0, N, &a, &q3, out4, N);
    assert_memory_equal(out3, out4, sizeof out3);
    /* and differs from reading one scale per row (the test can fail) */
    a.group = 0;
    aq_qd8_qc4w_gemm_ref(M, 0, N, &a, &q3, out4, N);
    assert_memory_not_equal(out3, out4, sizeof out3);
}

/* Random rows of many lengths with a row stride larger than k (the gap holds 1e30,
 * which would wreck the scale if it were read). Bounds: scale = amax / qmax
 * exactly (one IEEE division, as specified); every |x - scale * q| <= scale / 2
 * (nearbyint of x / scale; no clamping happens because |x| <= amax = qmax * scale
 * up to one rounding) + float slack 2^-22 (|x| + 128 scale); the element at amax
 * gets +-qmax exactly. */
static void test_qd8_dynamic_bounds(void **state) {
    (void)state;
    uint64_t rng = 2;
    for (int bits = 4; bits <= 8; bits += 4) {
        const float qmax = bits == 8 ? 127.0f : 7.0f;
        for (size_t ki = 0; ki < COUNT(kDepths); ki++) {
            for (size_t ri = 0; ri < COUNT(kRowCounts); ri++) {
                for (int dist = 0; dist < DIST_COUNT; dist++) {
                    const size_t k = kDepths[ki], n_rows = kRowCounts[ri], stride = k + 3;
                    float *x = checked_calloc(n_rows * stride, sizeof(float));
                    for (size_t t = 0; t < n_rows; t++) {
                        fill(x + t * stride, k, (enum distribution)dist, &rng);
                        for (size_t i = k; i < stride; i++) {
                            x[t * stride + i] = 1e30f;
                        }
                    }
                    struct aq_qd8 a;
                    qd8_alloc(&a, n_rows, k);
                    assert_true(aq_qd8_quantize_dynamic_ref(x, n_rows, k, stride, bits, &a));
                    assert_int_equal(a.n_rows, n_rows);
                    assert_int_equal(a.k, k);
                    for (size_t t = 0; t < n_rows; t++) {
                        const float *row = x + t * stride;
                        float amax = 0.0f;
                        size_t amax_index = 0;
                        for (size_t i = 0; i < k; i++) {
                            if (fabsf(row[i]) > amax) {
                                amax = fabsf(row[i]);
                                amax_index = i;
                            }
                        }
                        assert_true(a.scale[t] == amax / qmax);
                        assert_int_equal(a.zero[t], 0);
                        const int8_t *q = a.q + t * k;
                        assert_int_equal(abs(q[amax_index]), (int)qmax);
                        for (size_t i = 0; i < k; i++) {
                            assert_true(q[i] >= -qmax && q[i] <= qmax);
                            const double error = fabs((double)row[i] - (double)a.scale[t] * q[i]);
                            CHECK_LE(error, 0.5 * a.scale[t] + 0x1p-22 * (fabs(row[i]) + 128.0 * a.scale[t]),
                                     "bits=%d k=%zu row %zu element %zu", bits, k, t, i);
                        }
                    }
                    qd8_free(&a);
                    free(x);
                }
            }
        }
    }
}

static void test_qd8_dynamic_zero_and_constant_rows(void **state) {
    (void)state;
    /* Row 0 zeros, row 1 -0, row 2 fp32 subnormals (amax / 127 underflows to 0, so
     * the row must be treated as zero rather than divided by 0), row 3 the constant
     * 0.3 (scale 0.3 / qmax; 0.3 / scale = qmax up to a rounding -> every code qmax). */
    float x[4 * 40];
    for (size_t i = 0; i < 40; i++) {
        x[i] = 0.0f;
        x[40 + i] = -0.0f;
        x[80 + i] = (i % 2 ? -1 : 1) * FLT_TRUE_MIN;
        x[120 + i] = 0.3f;
    }
    for (int bits = 4; bits <= 8; bits += 4) {
        const int qmax = bits == 8 ? 127 : 7;
        struct aq_qd8 a;
        qd8_alloc(&a, 4, 40);
        memset(a.q, 0x55, 4 * 40);
        assert_true(aq_qd8_quantize_dynamic_ref(x, 4, 40, 40, bits, &a));
        for (size_t t = 0; t < 3; t++) {
            assert_true(a.scale[t] == 0.0f);
            for (size_t i = 0; i < 40; i++) {
                assert_int_equal(a.q[t * 40 + i], 0);
            }
        }
        assert_true(a.scale[3] == 0.3f / (float)qmax);
        for (size_t i = 0; i < 40; i++) {
            assert_int_equal(a.q[120 + i], qmax);
        }
        qd8_free(&a);
    }
}

static void test_qd8_static_zero_point(void **state) {
    (void)state;
    /* 8 bits, scale 0.5, zero 3: q = clamp(nearbyint(x / 0.5) + 3, -128, 127).
     * 1 -> 2 + 3 = 5; -100 -> -197 -> -128; 100 -> 203 -> 127; 0.25 -> 0.5 -> 0 (even)
     * -> 3; 0.75 -> 1.5 -> 2 -> 5; -1.25 -> -2.5 -> -2 -> 1; -65.5 -> -131 + 3 = -128;
     * -65 -> -130 + 3 = -127. Two rows with stride 9 (one float of padding). */
    const float x[18] = {1.0f, -100.0f, 100.0f, 0.25f, 0.75f, -1.25f, -65.5f, -65.0f, 7e30f,
                         1.0f, -100.0f, 100.0f, 0.25f, 0.75f, -1.25f, -65.5f, -65.0f, 7e30f};
    const int8_t expected8[8] = {5, -128, 127, 3, 5, 1, -128, -127};
    struct aq_qd8 a;
    qd8_alloc(&a, 2, 8);
    assert_true(aq_qd8_quantize_static_ref(x, 2, 8, 9, 0.5f, 3, 8, &a));
    for (size_t t = 0; t < 2; t++) {
        assert_true(a.scale[t] == 0.5f);
        assert_int_equal(a.zero[t], 3);
        assert_memory_equal(a.q + t * 8, expected8, 8);
    }

    /* 4 bits, scale 0.5, zero -2: 5 -> 10 - 2 = 8 -> 7; 0.25 -> 0 -> -2; -3 -> -6 - 2
     * = -8; -4 -> -10 -> -8; 0.75 -> 2 -> 0; -0.25 -> -0.5 -> -0 -> -2; 2 -> 4 - 2 = 2;
     * 1.25 -> 2.5 -> 2 -> 0. */
    const float x4[8] = {5.0f, 0.25f, -3.0f, -4.0f, 0.75f, -0.25f, 2.0f, 1.25f};
    const int8_t expected4[8] = {7, -2, -8, -8, 0, -2, 2, 0};
    assert_true(aq_qd8_quantize_static_ref(x4, 1, 8, 8, 0.5f, -2, 4, &a));
    assert_int_equal(a.zero[0], -2);
    assert_memory_equal(a.q, expected4, 8);

    /* Refused, leaving the output alone: non-positive, infinite or NaN scale, zero
     * point outside the code range, unsupported width. */
    a.scale[0] = 42.0f;
    assert_false(aq_qd8_quantize_static_ref(x4, 1, 8, 8, 0.0f, 0, 8, &a));
    assert_false(aq_qd8_quantize_static_ref(x4, 1, 8, 8, -1.0f, 0, 8, &a));
    assert_false(aq_qd8_quantize_static_ref(x4, 1, 8, 8, INFINITY, 0, 8, &a));
    assert_false(aq_qd8_quantize_static_ref(x4, 1, 8, 8, NAN, 0, 8, &a));
    assert_false(aq_qd8_quantize_static_ref(x4, 1, 8, 8, 1.0f, 128, 8, &a));
    assert_false(aq_qd8_quantize_static_ref(x4, 1, 8, 8, 1.0f, 8, 4, &a));
    assert_false(aq_qd8_quantize_static_ref(x4, 1, 8, 8, 1.0f, -9, 4, &a));
    assert_false(aq_qd8_quantize_static_ref(x4, 1, 8, 8, 1.0f, 0, 16, &a));
    assert_true(a.scale[0] == 42.0f);
    qd8_free(&a);
}

/* ==============================================================================
 * GEMM
 */
static void test_gemm_hand_worked(void **state) {
    (void)state;
    /* k = 64, two groups of 32, one weight row, one activation row.
     * Symmetric weights: group 0 codes 9 (value 9 - 8 = 1) with scale 0.5, group 1
     * codes 6 (-2) with scale 1.0. Activations: q = 2 in group 0, -3 in group 1,
     * scale 0.25, zero 0.
     * isum0 = 32 * 1 * 2 = 64 -> 0.5 * 0.25 * 64 = 8; isum1 = 32 * (-2) * (-3) = 192
     * -> 1.0 * 0.25 * 192 = 48. out = 56.
     * Asymmetric twin: zero points 3 and 10 with codes 4 and 8 (same 1 and -2),
     * activation zero 1 with q = 3 and -2 (same 2 and -3): also 56. */
    uint8_t q_sym[32], q_asym[32];
    memset(q_sym, 0x99, 16);
    memset(q_sym + 16, 0x66, 16);
    memset(q_asym, 0x44, 16);
    memset(q_asym + 16, 0x88, 16);
    uint16_t scales[2] = {0x3800, 0x3C00};
    uint8_t zeros[2] = {3, 10};
    const struct aq_q4w w_sym = {1, 64, 32, q_sym, scales, NULL};
    const struct aq_q4w w_asym = {1, 64, 32, q_asym, scales, zeros};

    int8_t qa[64], qa_shifted[64];
    for (size_t i = 0; i < 64; i++) {
        qa[i] = i < 32 ? 2 : -3;
        qa_shifted[i] = (int8_t)(qa[i] + 1);
    }
    float a_scale = 0.25f;
    int32_t a_zero = 0, a_zero_shifted = 1;
    const struct aq_qd8 a = {1, 64, qa, &a_scale, &a_zero, 0, NULL};
    const struct aq_qd8 a_shifted = {1, 64, qa_shifted, &a_scale, &a_zero_shifted, 0, NULL};

    float out = 0.0f;
    aq_qd8_qc4w_gemm_ref(1, 0, 1, &a, &w_sym, &out, 1);
    assert_true(out == 56.0f);
    out = 0.0f;
    aq_qd8_qc4w_gemm_ref(1, 0, 1, &a_shifted, &w_asym, &out, 1);
    assert_true(out == 56.0f);
}

/* The per-group accumulation is one fma, not a rounded product plus an add.
 * k = 64, groups of 32, weight scales 1.0 (symmetric), activation scale
 * sa = 1 + 2^-21 (exact in fp32), zero 0. Group 0: 17 weights +1 (code 9) against
 * activations -1, so isum0 = -17; group 1: the same weights against +1, isum1 = 17.
 * The combined scale is 1 * sa = sa exactly.
 * acc0 = fma(sa, -17, 0) = round(-17 - 17 * 2^-21); in [16, 32) the ulp is 2^-19 and
 *   17 * 2^-21 = 4.25 ulp, so acc0 = -(17 + 4 * 2^-19) = -(17 + 2^-17).
 * acc1 = fma(sa, 17, acc0) = round(17 + 17 * 2^-21 - 17 - 2^-17) = 0.25 * 2^-19 = 2^-21,
 *   exact. A rounded product then an add would give round(17 * sa) + acc0 = 0, and
 *   exact arithmetic gives 0 too: only the specified order yields 2^-21. */
static void test_gemm_accumulates_with_fma(void **state) {
    (void)state;
    uint8_t codes[32];
    memset(codes, 0x88, sizeof(codes));
    memset(codes, 0x99, 8);      /* group 0: elements 0..15 -> +1 */
    codes[8] = 0x89;             /* element 16 -> +1: 17 in group 0 */
    memset(codes + 16, 0x99, 8); /* group 1: elements 32..47 -> +1 */
    codes[24] = 0x89;            /* element 48 -> +1: 17 in group 1 */
    uint16_t scales[2] = {0x3C00, 0x3C00};
    const struct aq_q4w w = {1, 64, 32, codes, scales, NULL};
    int8_t qa[64];
    for (size_t i = 0; i < 64; i++) {
        qa[i] = i < 32 ? -1 : 1;
    }
    float sa = 1.0f + 0x1p-21f;
    int32_t za = 0;
    const struct aq_qd8 a8 = {1, 64, qa, &sa, &za, 0, NULL};
    float out = -1.0f;
    aq_qd8_qc4w_gemm_ref(1, 0, 1, &a8, &w, &out, 1);
    assert_true(out == 0x1p-21f);
}

struct gemm_case {
    size_t m, n, k, group;
    size_t act_group; /* 0: one activation scale per row */
    bool asym;
    int bits;
    float *x; /* (m, k) activations */
    float *w; /* (n, k) weights */
    struct aq_q4w q4w;
    struct aq_qd8 qd8;
    float *w_back; /* (n, k) dequantized weights */
    float *out;    /* (m, n) */
};

static void gemm_case_setup(struct gemm_case *c, uint64_t *rng) {
    c->x = checked_calloc(c->m * c->k, sizeof(float));
    c->w = checked_calloc(c->n * c->k, sizeof(float));
    c->w_back = checked_calloc(c->n * c->k, sizeof(float));
    c->out = checked_calloc(c->m * c->n, sizeof(float));
    fill(c->x, c->m * c->k, DIST_OUTLIERS, rng);
    fill(c->w, c->n * c->k, DIST_GAUSSIAN, rng);
    q4w_alloc(&c->q4w, c->n, c->k, c->group, c->asym);
    assert_true(aq_q4w_quantize_rtn_ref(c->w, c->n, c->k, c->group, c->asym, &c->q4w));
    aq_q4w_dequantize_ref(&c->q4w, c->w_back);
    qd8_alloc(&c->qd8, c->m, c->k);
    if (c->act_group) {
        free(c->qd8.scale);
        c->qd8.scale = checked_calloc(c->m * (c->k / c->act_group), sizeof(float));
        assert_true(aq_qd8_quantize_grouped_ref(c->x, c->m, c->k, c->k, c->bits, c->act_group, &c->qd8));
        assert_true(c->qd8.group == c->act_group);
    } else {
        assert_true(aq_qd8_quantize_dynamic_ref(c->x, c->m, c->k, c->k, c->bits, &c->qd8));
    }
    aq_qd8_qc4w_gemm_ref(c->m, 0, c->n, &c->qd8, &c->q4w, c->out, c->n);
}

static void gemm_case_teardown(struct gemm_case *c) {
    q4w_free(&c->q4w);
    qd8_free(&c->qd8);
    free(c->x);
    free(c->w);
    free(c->w_back);
    free(c->out);
}

/* Checks one GEMM output against double-precision sums.
 *  vs the dequantized operands (a^ = sa (qa - za) in double, w^ exact in float):
 *    only float rounding differs. Each group adds sw * sa (one rounding, eps/2) times
 *    an exact isum with one fma rounding (eps/2 of the running sum, itself at most
 *    sum |a^ w^|). So |out - sum a^ w^| <= (G + 1) eps / 2 * sum |a^ w^|; we allow
 *    (G + 2) eps * sum |a^ w^| (for k = 4096, groups of 32: ~1.5e-5 relative).
 *  vs the original floats: |sum a w - sum a^ w^| <= sum |a| |w - w^| + |w^| |a - a^|
 *    with |w - w^| <= 1.01 |sw| (see the round trip test) and |a - a^| <= sa / 2
 *    (+ 2^-22 slack per element), plus the float rounding bound above. */
static void check_gemm_case(const struct gemm_case *c) {
    const size_t groups = c->k / c->group;
    for (size_t t = 0; t < c->m; t++) {
        for (size_t r = 0; r < c->n; r++) {
            double exact_dequantized = 0.0, magnitude = 0.0, exact_original = 0.0, quant_bound = 0.0;
            for (size_t e = 0; e < c->k; e++) {
                /* The element's activation scale, from the documented layout. */
                const double sa =
                    c->act_group ? c->qd8.scale[t * (c->k / c->act_group) + e / c->act_group] : c->qd8.scale[t];
                const double a_back = sa * ((double)c->qd8.q[t * c->k + e] - c->qd8.zero[t]);
                /* w^ from the documented nibble layout, which must also be what the
                 * dequantizer produced (exact: an 11-bit scale times a small integer). */
                const size_t g = e / c->group;
                const double w_back =
                    (double)q4w_scale(&c->q4w, r, g) * (q4w_code(&c->q4w, r, e) - q4w_zero(&c->q4w, r, g));
                assert_true(w_back == (double)c->w_back[r * c->k + e]);
                const double a = c->x[t * c->k + e];
                const double w = c->w[r * c->k + e];
                exact_dequantized += a_back * w_back;
                magnitude += fabs(a_back * w_back);
                exact_original += a * w;
                const double sw = fabs(q4w_scale(&c->q4w, r, e / c->group));
                quant_bound += fabs(a) * (1.01 * sw + 0x1p-22 * (fabs(w) + 16.0 * sw)) +
                               fabs(w_back) * (0.5 * sa + 0x1p-22 * (fabs(a) + 128.0 * sa));
            }
            const double got = c->out[t * c->n + r];
            const double rounding_bound = (double)(groups + 2) * FLT_EPSILON * magnitude;
            CHECK_LE(fabs(got - exact_dequantized), rounding_bound,
                     "m=%zu n=%zu k=%zu group=%zu act_group=%zu asym=%d bits=%d out(%zu, %zu) vs dequantized", c->m,
                     c->n, c->k, c->group, c->act_group, c->asym, c->bits, t, r);
            CHECK_LE(fabs(got - exact_original), quant_bound + rounding_bound,
                     "m=%zu n=%zu k=%zu group=%zu act_group=%zu asym=%d bits=%d out(%zu, %zu) vs original", c->m, c->n,
                     c->k, c->group, c->act_group, c->asym, c->bits, t, r);
        }
    }
}

static void test_qd8_qc4w_gemm_accuracy(void **state) {
    (void)state;
    uint64_t rng = 3;
    const size_t depths[] = {32, 64, 96, 128, 160, 256, 4096};
    const size_t ms[] = {1, 3};
    for (size_t ki = 0; ki < COUNT(depths); ki++) {
        for (size_t gi = 0; gi < COUNT(kGroups); gi++) {
            if (depths[ki] % kGroups[gi] != 0) {
                continue;
            }
            for (size_t ni = 0; ni < COUNT(kRowCounts); ni++) {
                for (size_t mi = 0; mi < COUNT(ms); mi++) {
                    for (int asym = 0; asym <= 1; asym++) {
                        for (int bits = 4; bits <= 8; bits += 4) {
                            /* Per row, one activation scale per weight group, and one per two. */
                            const size_t act_groups[] = {0, kGroups[gi], 2 * kGroups[gi]};
                            for (size_t ai = 0; ai < COUNT(act_groups); ai++) {
                                if (act_groups[ai] && depths[ki] % act_groups[ai] != 0) continue;
                                struct gemm_case c = {.m = ms[mi],
                                                      .n = kRowCounts[ni],
                                                      .k = depths[ki],
                                                      .group = kGroups[gi],
                                                      .act_group = act_groups[ai],
                                                      .asym = asym,
                                                      .bits = bits};
                                gemm_case_setup(&c, &rng);
                                check_gemm_case(&c);
                                gemm_case_teardown(&c);
                            }
                        }
                    }
                }
            }
        }
    }
}

/* A column range [n_begin, n_end) with out_stride > n writes exactly those entries,
 * with the same bits as the full GEMM, and nothing else (a sentinel survives). */
static void test_gemm_column_range_and_stride(void **state) {
    (void)state;
    uint64_t rng = 5;
    const size_t m = 3, n = 17, k = 160, group = 32, stride = n + 5, n_begin = 2, n_end = 13;
    struct gemm_case c = {.m = m, .n = n, .k = k, .group = group, .asym = true, .bits = 8};
    gemm_case_setup(&c, &rng);
    const float sentinel = -12345.0f;
    float *out = checked_calloc(m * stride, sizeof(float));
    for (size_t i = 0; i < m * stride; i++) {
        out[i] = sentinel;
    }
    aq_qd8_qc4w_gemm_ref(m, n_begin, n_end, &c.qd8, &c.q4w, out, stride);
    for (size_t t = 0; t < m; t++) {
        for (size_t j = 0; j < stride; j++) {
            const float got = out[t * stride + j];
            if (j >= n_begin && j < n_end) {
                assert_memory_equal(&got, &c.out[t * n + j], sizeof(float));
            } else {
                assert_true(got == sentinel);
            }
        }
    }

    free(out);
    gemm_case_teardown(&c);
}

/* ==============================================================================
 * llama.cpp Q4_0 / Q8_0
 */
static void test_q4_0_hand_worked(void **state) {
    (void)state;
    /* Block 0: x0 = -8 and x18 = 8 tie in magnitude; the first wins, so d = -8 / -8
     * = 1 (f16 0x3C00), id = 1. Nibble = min(15, trunc(x + 8.5)):
     * x0 -8 -> 0; x1 7 -> 15.5 -> 15; x2 0.5 -> 9 (half rounds up); x3 -0.5 -> 8;
     * x4 -7.6 -> 0.9 -> 0; x16 3 -> 11; x17 7.9 -> 16.4 -> 16 -> 15; x18 8 -> 15;
     * zeros -> 8. qs[j] = nibble(j) | nibble(j + 16) << 4:
     * qs0 = 0 | 11 << 4 = 0xB0, qs1 = 15 | 15 << 4 = 0xFF, qs2 = 9 | 15 << 4 = 0xF9,
     * qs3 = 0x88, qs4 = 0 | 8 << 4 = 0x80, the rest 0x88.
     * Block 1: max 4 (positive, first), d = 4 / -8 = -0.5 (f16 0xB800), id = -2:
     * x32 4 -> -8 + 8.5 -> 0; x33 -4 -> 16.5 -> 15; x34 1 -> 6.5 -> 6; zeros 8:
     * qs0 = 0x80, qs1 = 0x8F, qs2 = 0x86, rest 0x88.
     * Block 2: zeros: d = 0 / -8 = -0 (f16 0x8000, as ggml stores it), id = 0,
     * all nibbles trunc(8.5) = 8. */
    float x[96] = {0};
    x[0] = -8.0f;
    x[1] = 7.0f;
    x[2] = 0.5f;
    x[3] = -0.5f;
    x[4] = -7.6f;
    x[16] = 3.0f;
    x[17] = 7.9f;
    x[18] = 8.0f;
    x[32] = 4.0f;
    x[33] = -4.0f;
    x[34] = 1.0f;
    block_q4_0 blocks[3];
    aq_q4_0_quantize_ref(x, 96, blocks);
    assert_int_equal(blocks[0].d, 0x3C00);
    assert_int_equal(blocks[1].d, 0xB800);
    assert_int_equal(blocks[2].d, 0x8000);
    uint8_t expected[3][16];
    memset(expected, 0x88, sizeof(expected));
    expected[0][0] = 0xB0;
    expected[0][1] = 0xFF;
    expected[0][2] = 0xF9;
    expected[0][4] = 0x80;
    expected[1][0] = 0x80;
    expected[1][1] = 0x8F;
    expected[1][2] = 0x86;
    for (size_t b = 0; b < 3; b++) {
        assert_memory_equal(blocks[b].qs, expected[b], 16);
    }
    /* Dequantized d * (nibble - 8): block 0 -> -8, 7, 1, 0, -8, ...; x16 -> 3, x17 -> 7,
     * x18 -> 7. Block 1 -> -0.5 * -8 = 4, -0.5 * 7 = -3.5, -0.5 * -2 = 1. */
    float back[96];
    aq_q4_0_dequantize_ref(blocks, 96, back);
    const float expected_back[5] = {-8.0f, 7.0f, 1.0f, 0.0f, -8.0f};
    for (size_t i = 0; i < 5; i++) {
        assert_true(back[i] == expected_back[i]);
    }
    assert_true(back[16] == 3.0f && back[17] == 7.0f && back[18] == 7.0f);
    assert_true(back[32] == 4.0f && back[33] == -3.5f && back[34] == 1.0f);
    assert_true(back[64] == 0.0f && back[95] == 0.0f);
}

static void test_q8_0_hand_worked(void **state) {
    (void)state;
    /* Block 0: amax 127 -> d = 1, id = 1; roundf (ties away from zero):
     * 127 -> 127; -2.5 -> -3; 2.5 -> 3; 0.49 -> 0; -127 -> -127; 126.5 -> 127.
     * (nearbyint would give -2, 2 and 126: this pins ggml's rounding.)
     * Block 1: amax 254 -> d = 2 (f16 0x4000), id = 0.5: 254 -> 127; 1 -> 0.5 -> 1;
     * -3 -> -1.5 -> -2; 5 -> 2.5 -> 3. */
    float x[64] = {0};
    x[0] = 127.0f;
    x[1] = -2.5f;
    x[2] = 2.5f;
    x[3] = 0.49f;
    x[4] = -127.0f;
    x[5] = 126.5f;
    x[32] = 254.0f;
    x[33] = 1.0f;
    x[34] = -3.0f;
    x[35] = 5.0f;
    block_q8_0 blocks[2];
    aq_q8_0_quantize_ref(x, 64, blocks);
    assert_int_equal(blocks[0].d, 0x3C00);
    assert_int_equal(blocks[1].d, 0x4000);
    int8_t expected[2][32] = {{0}};
    const int8_t block0[6] = {127, -3, 3, 0, -127, 127};
    const int8_t block1[4] = {127, 1, -2, 3};
    memcpy(expected[0], block0, sizeof(block0));
    memcpy(expected[1], block1, sizeof(block1));
    assert_memory_equal(blocks[0].qs, expected[0], 32);
    assert_memory_equal(blocks[1].qs, expected[1], 32);
    float back[64];
    aq_q8_0_dequantize_ref(blocks, 64, back);
    assert_true(back[1] == -3.0f && back[5] == 127.0f);
    assert_true(back[32] == 254.0f && back[34] == -4.0f && back[35] == 6.0f);
}

static void test_block_dots_hand_worked(void **state) {
    (void)state;
    /* Q4_0 x Q8_0, two blocks.
     * Block 0: q4 d = 0.5, every nibble 10 (value +2); q8 d = 0.25, every qs 3:
     *   isum = 32 * 2 * 3 = 192; (0.5 * 0.25) * 192 = 24.
     * Block 1: q4 d = 1, qs = 0x0F (low 15 -> +7, high 0 -> -8); q8 d = 1, qs 1 for
     *   j < 16 and 2 for j >= 16: isum = 16 * 7 * 1 + 16 * (-8) * 2 = -144.
     * Total 24 - 144 = -120. */
    block_q4_0 x[2];
    block_q8_0 y[2];
    x[0].d = 0x3800;
    memset(x[0].qs, 0xAA, 16);
    x[1].d = 0x3C00;
    memset(x[1].qs, 0x0F, 16);
    y[0].d = 0x3400;
    y[1].d = 0x3C00;
    for (size_t j = 0; j < 32; j++) {
        y[0].qs[j] = 3;
        y[1].qs[j] = j < 16 ? 1 : 2;
    }
    assert_true(aq_q4_0_q8_0_dot_ref(64, x, y) == -120.0f);

    /* Q8_0 x Q8_0: d 0.5 with qs = j - 16 (-16..15, summing to -16) against d 2 with
     * qs 1: (0.5 * 2) * -16 = -16. */
    block_q8_0 a, b;
    a.d = 0x3800;
    b.d = 0x4000;
    for (size_t j = 0; j < 32; j++) {
        a.qs[j] = (int8_t)((int)j - 16);
        b.qs[j] = 1;
    }
    assert_true(aq_q8_0_q8_0_dot_ref(32, &a, &b) == -16.0f);
}

/* Round trip on random data (as test-quantize-fns): every Q4_0 value within
 * 0.5 |d| of the original inside the grid (the codes use the unrounded d, so the
 * rounded d adds 8 |d| u < 0.004 |d|), the far-side clamp within 1.01 |d|; every
 * Q8_0 value within 0.5 d + 127 d u < 0.57 d; RMS error of Q4_0 below 1.3x uniform
 * noise |d| / sqrt(12) (same argument as the INT4 weight round trip). */
static void test_q4_0_q8_0_roundtrip(void **state) {
    (void)state;
    uint64_t rng = 6;
    const size_t n = 4096;
    float *x = checked_calloc(n, sizeof(float));
    float *back = checked_calloc(n, sizeof(float));
    block_q4_0 *b4 = checked_calloc(n / 32, sizeof(block_q4_0));
    block_q8_0 *b8 = checked_calloc(n / 32, sizeof(block_q8_0));
    for (int dist = 0; dist < DIST_COUNT; dist++) {
        fill(x, n, (enum distribution)dist, &rng);
        aq_q4_0_quantize_ref(x, n, b4);
        aq_q4_0_dequantize_ref(b4, n, back);
        double error_square_sum = 0.0, noise_square_sum = 0.0;
        for (size_t i = 0; i < n; i++) {
            const double d = fabs(aq_fp16_to_fp32(b4[i / 32].d));
            const double level = x[i] / (double)aq_fp16_to_fp32(b4[i / 32].d); /* code - 8 */
            const double error = fabs((double)back[i] - x[i]);
            const double allowed = (level < -8.5 || level > 7.5) ? 1.01 : 0.504;
            CHECK_LE(error, allowed * d + 0x1p-22 * fabs(x[i]), "q4_0 dist=%d element %zu", dist, i);
            error_square_sum += error * error;
            noise_square_sum += d * d / 12.0;
        }
        CHECK_LE(sqrt(error_square_sum), 1.3 * sqrt(noise_square_sum), "q4_0 dist=%d RMS", dist);

        aq_q8_0_quantize_ref(x, n, b8);
        aq_q8_0_dequantize_ref(b8, n, back);
        for (size_t i = 0; i < n; i++) {
            const double d = aq_fp16_to_fp32(b8[i / 32].d);
            CHECK_LE(fabs((double)back[i] - x[i]), 0.57 * d + 0x1p-22 * fabs(x[i]), "q8_0 dist=%d element %zu", dist,
                     i);
        }
    }
    free(x);
    free(back);
    free(b4);
    free(b8);
}

/* Random block dots vs double dots on the dequantized blocks: each block term has
 * two roundings (dx * dy, then times an exact isum) and one add, so
 * |dot - exact| <= (nb + 2) eps / 2 * sum |terms|; we allow (nb + 2) eps. */
static void test_block_dots_vs_dequantized(void **state) {
    (void)state;
    uint64_t rng = 7;
    const size_t lengths[] = {32, 64, 160, 4096};
    for (size_t li = 0; li < COUNT(lengths); li++) {
        const size_t n = lengths[li], nb = n / 32;
        float *x = checked_calloc(n, sizeof(float));
        float *y = checked_calloc(n, sizeof(float));
        float *x4 = checked_calloc(n, sizeof(float));
        float *x8 = checked_calloc(n, sizeof(float));
        float *y8 = checked_calloc(n, sizeof(float));
        block_q4_0 *bx4 = checked_calloc(nb, sizeof(block_q4_0));
        block_q8_0 *bx8 = checked_calloc(nb, sizeof(block_q8_0));
        block_q8_0 *by8 = checked_calloc(nb, sizeof(block_q8_0));
        fill(x, n, DIST_GAUSSIAN, &rng);
        fill(y, n, DIST_OUTLIERS, &rng);
        aq_q4_0_quantize_ref(x, n, bx4);
        aq_q8_0_quantize_ref(x, n, bx8);
        aq_q8_0_quantize_ref(y, n, by8);
        aq_q4_0_dequantize_ref(bx4, n, x4);
        aq_q8_0_dequantize_ref(bx8, n, x8);
        aq_q8_0_dequantize_ref(by8, n, y8);
        /* Dequantized values are exact products (11-bit d times a small integer),
         * so the double sums below are exact to double precision. */
        double exact4 = 0.0, magnitude4 = 0.0, exact8 = 0.0, magnitude8 = 0.0;
        for (size_t i = 0; i < n; i++) {
            exact4 += (double)x4[i] * y8[i];
            magnitude4 += fabs((double)x4[i] * y8[i]);
            exact8 += (double)x8[i] * y8[i];
            magnitude8 += fabs((double)x8[i] * y8[i]);
        }
        const double dot4 = aq_q4_0_q8_0_dot_ref(n, bx4, by8);
        const double dot8 = aq_q8_0_q8_0_dot_ref(n, bx8, by8);
        CHECK_LE(fabs(dot4 - exact4), (double)(nb + 2) * FLT_EPSILON * magnitude4, "q4_0.q8_0 n=%zu", n);
        CHECK_LE(fabs(dot8 - exact8), (double)(nb + 2) * FLT_EPSILON * magnitude8, "q8_0.q8_0 n=%zu", n);
        free(x);
        free(y);
        free(x4);
        free(x8);
        free(y8);
        free(bx4);
        free(bx8);
        free(by8);
    }
}

/* 3-bit weights: codes in 4..11, no zero points; the clipping search is never
 * worse than the unclipped scale m / -4 (the squared error computed here, in
 * double, on both grids); a group of zeros stores scale +0 and codes 8. */
static void test_q3w_rtn(void **state) {
    (void)state;
    enum { ROWS = 5, K = 256, GROUP = 32 };
    float w[ROWS * K];
    uint64_t rng = 0x3B17u;
    for (size_t i = 0; i < ROWS * K; i++) w[i] = (float)((double)(aq_splitmix64(&rng) >> 11) * 0x1p-53 - 0.5);
    for (size_t i = 0; i < GROUP; i++) w[K + i] = 0.0f; /* row 1, group 0 */
    w[2 * K + 3] = 4.0f;                                /* row 2, group 0: one outlier */
    uint8_t q[ROWS * K / 2];
    uint16_t scale[ROWS * K / GROUP];
    struct aq_q4w out = {.q = q, .scale = scale, .zero = NULL};
    assert_true(aq_q3w_quantize_rtn_ref(w, ROWS, K, GROUP, &out));
    assert_true(aq_q3w_codes_valid(&out));
    assert_int_equal(scale[K / GROUP], 0);
    for (size_t i = 0; i < GROUP / 2; i++) assert_int_equal(q[K / 2 + i], 0x88);
    bool some_clipped = false;
    for (size_t r = 0; r < ROWS; r++)
        for (size_t g = 0; g < K / GROUP; g++) {
            const float *x = w + r * K + g * GROUP;
            float m = 0.0f;
            for (size_t i = 0; i < GROUP; i++)
                if (fabsf(x[i]) > fabsf(m)) m = x[i];
            if (m == 0.0f) continue;
            const float s0 = aq_fp16_to_fp32(aq_fp32_to_fp16(m / -4.0f));
            const float s = aq_fp16_to_fp32(scale[r * (K / GROUP) + g]);
            double e0 = 0.0, e = 0.0;
            for (size_t i = 0; i < GROUP; i++) {
                const size_t el = r * K + g * GROUP + i;
                const int code = (el & 1) ? q[el / 2] >> 4 : q[el / 2] & 15;
                double l0 = nearbyint((double)x[i] / s0);
                l0 = l0 < -4 ? -4 : l0 > 3 ? 3 : l0;
                e0 += ((double)x[i] - s0 * l0) * ((double)x[i] - s0 * l0);
                e += ((double)x[i] - s * (code - 8)) * ((double)x[i] - s * (code - 8));
            }
            assert_true(e <= e0 * (1.0 + 1e-5));
            some_clipped = some_clipped || s != s0;
        }
    assert_true(some_clipped);
    out.zero = q; /* 3-bit weights have none */
    assert_false(aq_q3w_quantize_rtn_ref(w, ROWS, K, GROUP, &out));
    out.zero = NULL;
    assert_false(aq_q3w_quantize_rtn_ref(w, ROWS, K, 48, &out));
    q[0] = 0x3C; /* code 3: below the 3-bit range */
    assert_false(aq_q3w_codes_valid(&out));
}

/* The file's planes, on a row whose 3-bit codes are e % 8: low-bit bytes 0xE4
 * (codes 0,1,2,3 and 4,5,6,7 both have low bits 0,1,2,3), high-bit bytes 0xF0;
 * and a random matrix survives the round trip. */
static void test_q3w_planes(void **state) {
    (void)state;
    enum { K = 64 };
    uint8_t q[2 * K / 2], planes[2 * AQ_Q3W_ROW_BYTES(K)];
    uint16_t scale[4] = {0};
    for (size_t e = 0; e < K; e += 2) q[e / 2] = (uint8_t)((4 + e % 8) | (4 + (e + 1) % 8) << 4);
    uint64_t rng = 0x3B18u;
    for (size_t i = K / 2; i < K; i++)
        q[i] = (uint8_t)((4 + aq_splitmix64(&rng) % 8) | (4 + aq_splitmix64(&rng) % 8) << 4);
    struct aq_q4w w = {.n_rows = 2, .k = K, .group = 32, .q = q, .scale = scale};
    aq_q3w_to_planes(&w, planes);
    for (size_t j = 0; j < K / 4; j++) assert_int_equal(planes[j], 0xE4);
    for (size_t j = 0; j < K / 8; j++) assert_int_equal(planes[K / 4 + j], 0xF0);
    uint8_t back[2 * K / 2];
    struct aq_q4w v = {.n_rows = 2, .k = K, .group = 32, .q = back, .scale = scale};
    aq_q3w_from_planes(planes, &v);
    assert_memory_equal(back, q, sizeof q);
}

/* Weighted squared error of each group of q against w, in double, from the
 * dequantized values (importance NULL: weight 1). */
static void group_errors(const float *w, const struct aq_q4w *q, const float *importance, double *out) {
    float *back = checked_calloc(q->n_rows * q->k, sizeof(float));
    aq_q4w_dequantize_ref(q, back);
    const size_t groups = q->k / q->group;
    for (size_t r = 0; r < q->n_rows; r++) {
        for (size_t g = 0; g < groups; g++) {
            double e = 0.0;
            for (size_t i = g * q->group; i < (g + 1) * q->group; i++) {
                const double d = (double)w[r * q->k + i] - (double)back[r * q->k + i];
                e += (importance ? (double)importance[i] : 1.0) * d * d;
            }
            out[r * groups + g] = e;
        }
    }
    free(back);
}

/* aq_q4w_quantize_search_ref against round to nearest on random matrices, with
 * the errors computed here from the dequantized weights: (1) no group's
 * (weighted) error is above round to nearest's (its first candidate), beyond
 * float rounding of the search's own sums; (2) in total the search loses
 * clearly less (about 10% less squared error on Gaussian and uniform groups,
 * 3-5% with outliers, which set the scale; 40-75% less weighted); (3) each code is the nearest level of
 * the stored f16 scale's grid (or clamped at 0 or 15 with the value beyond it);
 * (4) with importance weights (a few channels 100 times the others, as
 * SmolLM2's inputs), the importance-weighted search beats the plain one on the
 * weighted error; (5) invalid shapes are refused as by round to nearest. */
static void test_q4w_search(void **state) {
    (void)state;
    uint64_t rng = 0x5EA4C4ull;
    const size_t n_rows = 24, k = 256;
    float *w = checked_calloc(n_rows * k, sizeof(float));
    float importance[256];
    for (size_t i = 0; i < k; i++) importance[i] = (float)(0.5 + rng_uniform01(&rng)) * (i % 29 == 3 ? 100.0f : 1.0f);
    double *e_rtn = checked_calloc(n_rows * k / 32, sizeof(double));
    double *e_search = checked_calloc(n_rows * k / 32, sizeof(double));
    double *e_plain = checked_calloc(n_rows * k / 32, sizeof(double));
    for (int dist = 0; dist < DIST_COUNT; dist++) {
        fill(w, n_rows * k, (enum distribution)dist, &rng);
        for (int asym = 0; asym < 2; asym++) {
            for (size_t group = 32; group <= 128; group *= 2) {
                for (int weighted = 0; weighted < 2; weighted++) {
                    const float *imp = weighted ? importance : NULL;
                    struct aq_q4w rtn, search;
                    q4w_alloc(&rtn, n_rows, k, group, asym);
                    q4w_alloc(&search, n_rows, k, group, asym);
                    assert_true(aq_q4w_quantize_rtn_ref(w, n_rows, k, group, asym, &rtn));
                    assert_true(aq_q4w_quantize_search_ref(w, n_rows, k, group, asym, imp, &search));
                    const size_t n_groups = n_rows * (k / group);
                    group_errors(w, &rtn, imp, e_rtn);
                    group_errors(w, &search, imp, e_search);
                    double total_rtn = 0.0, total_search = 0.0;
                    for (size_t g = 0; g < n_groups; g++) {
                        assert_true(e_search[g] <= e_rtn[g] * (1.0 + 1e-5) + 1e-12);
                        total_rtn += e_rtn[g];
                        total_search += e_search[g];
                    }
                    /* A group holding one of DIST_OUTLIERS' x20 values has little to clip: it sets the scale. */
                    assert_true(total_search < (dist == DIST_OUTLIERS ? 0.99 : 0.93) * total_rtn);
                    for (size_t r = 0; r < n_rows; r++) {
                        for (size_t i = 0; i < k; i++) {
                            const size_t g = i / group;
                            const double s = q4w_scale(&search, r, g);
                            const int zero = search.zero ? search.zero[r * (k / group) + g] : 8;
                            assert_true(zero >= 0 && zero <= 15);
                            const int code = (search.q[(r * k + i) / 2] >> (4 * (i % 2))) & 15;
                            if (s == 0.0) continue;
                            const double x = (double)w[r * k + i] / s + zero;
                            if (code == 0)
                                assert_true(x <= 0.5 + 1e-4);
                            else if (code == 15)
                                assert_true(x >= 14.5 - 1e-4);
                            else
                                assert_true(fabs(x - code) <= 0.5 + 1e-4);
                        }
                    }
                    if (weighted) {
                        struct aq_q4w plain;
                        q4w_alloc(&plain, n_rows, k, group, asym);
                        assert_true(aq_q4w_quantize_search_ref(w, n_rows, k, group, asym, NULL, &plain));
                        group_errors(w, &plain, importance, e_plain);
                        double total_plain = 0.0;
                        for (size_t g = 0; g < n_groups; g++) total_plain += e_plain[g];
                        assert_true(total_search < total_plain);
                        q4w_free(&plain);
                    }
                    q4w_free(&rtn);
                    q4w_free(&search);
                }
            }
        }
    }
    struct aq_q4w bad;
    q4w_alloc(&bad, 1, 64, 32, false);
    assert_false(aq_q4w_quantize_search_ref(w, 1, 64, 48, false, NULL, &bad));
    assert_false(aq_q4w_quantize_search_ref(w, 1, 64, 32, true, NULL, &bad)); /* asym, zero NULL */
    q4w_free(&bad);
    free(w);
    free(e_rtn);
    free(e_search);
    free(e_plain);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_q3w_rtn),
        cmocka_unit_test(test_q3w_planes),
        cmocka_unit_test(test_f16_special_values),
        cmocka_unit_test(test_f16_rounding_ties),
        cmocka_unit_test(test_f16_all_halves_roundtrip),
        cmocka_unit_test(test_f16_matches_nearest_search),
        cmocka_unit_test(test_bf16_conversions),
        cmocka_unit_test(test_q4w_sizes_and_invalid_shapes),
        cmocka_unit_test(test_q4w_hand_worked_symmetric),
        cmocka_unit_test(test_q4w_hand_worked_asymmetric),
        cmocka_unit_test(test_q4w_zero_and_constant_groups),
        cmocka_unit_test(test_q4w_roundtrip_error),
        cmocka_unit_test(test_q4w_search),
        cmocka_unit_test(test_qd8_dynamic_hand_worked),
        cmocka_unit_test(test_qd8_dynamic_bounds),
        cmocka_unit_test(test_qd8_dynamic_zero_and_constant_rows),
        cmocka_unit_test(test_qd8_static_zero_point),
        cmocka_unit_test(test_qd8_grouped),
        cmocka_unit_test(test_qd8_grouped_qc3w),
        cmocka_unit_test(test_qd8_grouped_bits),
        cmocka_unit_test(test_qd8_grouped_clip),
        cmocka_unit_test(test_qd8_grouped_asym_by_hand),
        cmocka_unit_test(test_qd8_grouped_asym),
        cmocka_unit_test(test_gemm_hand_worked),
        cmocka_unit_test(test_gemm_accumulates_with_fma),
        cmocka_unit_test(test_qd8_qc4w_gemm_accuracy),
        cmocka_unit_test(test_gemm_column_range_and_stride),
        cmocka_unit_test(test_q4_0_hand_worked),
        cmocka_unit_test(test_q8_0_hand_worked),
        cmocka_unit_test(test_block_dots_hand_worked),
        cmocka_unit_test(test_q4_0_q8_0_roundtrip),
        cmocka_unit_test(test_block_dots_vs_dequantized),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
