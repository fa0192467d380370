/* test_block_types.c - the llama.cpp weight types of kernels_ref/block-types.h:
 * dequantizers, activation quantizers and dot products.
 *
 *  - Dequantization is compared bit for bit with data/quant-vectors (gguf-py's
 *    numpy dequantizers, an implementation independent of ours).
 *  - Activation quantizers: the definitions of quant.h checked block by block
 *    (scale, extreme element, block sums), round-trip error bounds, and small
 *    hand-worked cases that pin the rounding (roundf of x * (1/d) for Q8_0/Q8_1,
 *    ties to even for Q8_K).
 *  - Dot products: against a double-precision dot of the dequantized weights and
 *    activations within a derived bound, and exactly where the arithmetic is exact
 *    (power-of-two scales and integer values below 2^24).
 * Weight rows are read 2 bytes past an aligned address, as in a GGUF file.
 *
 * Notation: u = 2^-24, the unit roundoff of float.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "block-types.h"
#include "f16.h"
#include "gguf.h"
#include "quant.h"
#include "test_util.h"

#define UNIT_ROUNDOFF 0x1p-24

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
 * The weight types, with where their f16 scale fields sit in a block. "scale" is
 * the field that multiplies the codes (d); "offset" the one of the additive term
 * (m of Q4_1 / Q5_1, dmin of the K-quants), or NO_FIELD.
 */
#define NO_FIELD SIZE_MAX

typedef struct weight_type {
    uint32_t type;
    const char *file; /* data/quant-vectors/<file>.bin */
    uint32_t act_type;
    size_t scale_offset;
    size_t offset_offset;
} weight_type;

static const weight_type k_weight_types[] = {
    {AQ_GGML_F16, "F16", AQ_GGML_F16, NO_FIELD, NO_FIELD},
    {AQ_GGML_BF16, "BF16", AQ_GGML_BF16, NO_FIELD, NO_FIELD},
    {AQ_GGML_Q4_0, "Q4_0", AQ_GGML_Q8_0, 0, NO_FIELD},
    {AQ_GGML_Q4_1, "Q4_1", AQ_GGML_Q8_1, 0, 2},
    {AQ_GGML_Q5_0, "Q5_0", AQ_GGML_Q8_0, 0, NO_FIELD},
    {AQ_GGML_Q5_1, "Q5_1", AQ_GGML_Q8_1, 0, 2},
    {AQ_GGML_Q8_0, "Q8_0", AQ_GGML_Q8_0, 0, NO_FIELD},
    {AQ_GGML_Q2_K, "Q2_K", AQ_GGML_Q8_K, 80, 82},
    {AQ_GGML_Q3_K, "Q3_K", AQ_GGML_Q8_K, 108, NO_FIELD},
    {AQ_GGML_Q4_K, "Q4_K", AQ_GGML_Q8_K, 0, 2},
    {AQ_GGML_Q5_K, "Q5_K", AQ_GGML_Q8_K, 0, 2},
    {AQ_GGML_Q6_K, "Q6_K", AQ_GGML_Q8_K, 208, NO_FIELD},
    {AQ_GGML_IQ4_NL, "IQ4_NL", AQ_GGML_Q8_0, 0, NO_FIELD},
    {AQ_GGML_IQ4_XS, "IQ4_XS", AQ_GGML_Q8_K, 0, NO_FIELD},
};
#define N_WEIGHT_TYPES (sizeof(k_weight_types) / sizeof(k_weight_types[0]))

static bool is_float_type(uint32_t type) { return type == AQ_GGML_F16 || type == AQ_GGML_BF16; }

static void set_half(uint8_t *block, size_t offset, uint16_t h) { memcpy(block + offset, &h, sizeof(h)); }

static uint16_t get_half(const uint8_t *block, size_t offset) {
    uint16_t h;
    memcpy(&h, block + offset, sizeof(h));
    return h;
}

/* A buffer whose data starts 2 bytes past a malloc'd (16-byte aligned) address:
 * the weakest alignment a GGUF weight row can have. */
typedef struct offset_buffer {
    uint8_t *base;
    uint8_t *data;
} offset_buffer;

static offset_buffer offset_buffer_new(size_t bytes) {
    offset_buffer b;
    b.base = malloc(bytes + 2);
    assert_non_null(b.base);
    b.data = b.base + 2;
    return b;
}

/* ------------------------------------------------------------------------------
 * Seeded random data (lib/common/prng.h's splitmix64).
 */
static double uniform01(uint64_t *state) { return (double)(aq_splitmix64(state) >> 11) * 0x1p-53; }

static double gaussian(uint64_t *state) {
    const double u1 = ((double)(aq_splitmix64(state) >> 11) + 1.0) * 0x1p-53; /* (0, 1] */
    const double u2 = uniform01(state);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* A half of magnitude 2^e, e uniform in [lo, hi), with a random sign. */
static uint16_t random_half(uint64_t *state, double lo, double hi) {
    const double magnitude = exp2(lo + (hi - lo) * uniform01(state));
    const double sign = (aq_splitmix64(state) & 1) ? -1.0 : 1.0;
    return aq_fp32_to_fp16((float)(sign * magnitude));
}

/* n elements of weight type wt: random bytes, scale fields set to halves of the
 * size real weights get (2^-12 .. 2^-4), either sign. F16 / BF16: N(0, 0.05). */
static void random_weights(const weight_type *wt, const aq_block_type *bt, size_t n, uint64_t *state, uint8_t *out) {
    if (is_float_type(wt->type)) {
        for (size_t i = 0; i < n; i++) {
            const float value = (float)(0.05 * gaussian(state));
            const uint16_t h = wt->type == AQ_GGML_F16 ? aq_fp32_to_fp16(value) : aq_fp32_to_bf16(value);
            set_half(out, 2 * i, h);
        }
        return;
    }
    const size_t n_blocks = n / bt->block_elems;
    for (size_t i = 0; i < n_blocks * bt->block_bytes; i++) {
        out[i] = (uint8_t)aq_splitmix64(state);
    }
    for (size_t b = 0; b < n_blocks; b++) {
        uint8_t *block = out + b * bt->block_bytes;
        set_half(block, wt->scale_offset, random_half(state, -12.0, -4.0));
        if (wt->offset_offset != NO_FIELD) {
            set_half(block, wt->offset_offset, random_half(state, -12.0, -4.0));
        }
    }
}

/* Activations as they come: N(0, sigma^2) with sigma from 0.01 to 10, one value
 * in 16 an outlier 20 times larger, and now and then an all-zero stretch of 32. */
static void random_activations(size_t n, uint64_t *state, float *x) {
    const double sigma = exp2(-6.6 + 9.9 * uniform01(state));
    for (size_t i = 0; i < n; i++) {
        const double outlier = (aq_splitmix64(state) % 16 == 0) ? 20.0 : 1.0;
        x[i] = (float)(sigma * outlier * gaussian(state));
    }
    if (n >= 64 && aq_splitmix64(state) % 3 == 0) {
        memset(x + 32, 0, 32 * sizeof(float));
    }
}

/* ------------------------------------------------------------------------------
 * The table.
 */
static void test_table(void **unused) {
    (void)unused;
    /* The kernels' ids are ggml's, as lib/io/gguf.h numbers them. */
    assert_int_equal(AQ_GGML_F16, AQ_TENSOR_F16);
    assert_int_equal(AQ_GGML_Q4_0, AQ_TENSOR_Q4_0);
    assert_int_equal(AQ_GGML_Q4_1, AQ_TENSOR_Q4_1);
    assert_int_equal(AQ_GGML_Q5_0, AQ_TENSOR_Q5_0);
    assert_int_equal(AQ_GGML_Q5_1, AQ_TENSOR_Q5_1);
    assert_int_equal(AQ_GGML_Q8_0, AQ_TENSOR_Q8_0);
    assert_int_equal(AQ_GGML_Q8_1, AQ_TENSOR_Q8_1);
    assert_int_equal(AQ_GGML_Q2_K, AQ_TENSOR_Q2_K);
    assert_int_equal(AQ_GGML_Q3_K, AQ_TENSOR_Q3_K);
    assert_int_equal(AQ_GGML_Q4_K, AQ_TENSOR_Q4_K);
    assert_int_equal(AQ_GGML_Q5_K, AQ_TENSOR_Q5_K);
    assert_int_equal(AQ_GGML_Q6_K, AQ_TENSOR_Q6_K);
    assert_int_equal(AQ_GGML_Q8_K, AQ_TENSOR_Q8_K);
    assert_int_equal(AQ_GGML_IQ4_NL, AQ_TENSOR_IQ4_NL);
    assert_int_equal(AQ_GGML_IQ4_XS, AQ_TENSOR_IQ4_XS);
    assert_int_equal(AQ_GGML_BF16, AQ_TENSOR_BF16);

    for (size_t t = 0; t < N_WEIGHT_TYPES; t++) {
        const weight_type *wt = &k_weight_types[t];
        const aq_block_type *bt = aq_block_type_get(wt->type);
        assert_non_null(bt);
        assert_int_equal(bt->type, wt->type);
        /* Name and geometry as the GGUF reader knows them (from ggml's tables). */
        assert_string_equal(bt->name, aq_tensor_type_name(wt->type));
        uint32_t elems = 0, bytes = 0;
        assert_true(aq_tensor_type_block(wt->type, &elems, &bytes));
        assert_int_equal(bt->block_elems, elems);
        assert_int_equal(bt->block_bytes, bytes);
        assert_int_equal(bt->act_type, wt->act_type); /* ggml-cpu.c's vec_dot_type */
        assert_non_null(bt->dequantize);
        assert_non_null(bt->dot);
    }
    /* F32 has its own path; Q8_1 and Q8_K are activations only; the rest we do not run. */
    const uint32_t absent[] = {
        AQ_TENSOR_F32,   AQ_TENSOR_Q8_1,  AQ_TENSOR_Q8_K,     4, 5, AQ_TENSOR_IQ2_XXS, AQ_TENSOR_IQ3_S,
        AQ_TENSOR_IQ1_M, AQ_TENSOR_TQ1_0, AQ_TENSOR_OWN_FIRST};
    for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++) {
        assert_null(aq_block_type_get(absent[i]));
    }

    assert_int_equal(aq_act_row_bytes(AQ_GGML_Q8_0, 96), 3 * 34);
    assert_int_equal(aq_act_row_bytes(AQ_GGML_Q8_1, 96), 3 * 36);
    assert_int_equal(aq_act_row_bytes(AQ_GGML_Q8_K, 512), 2 * 292);
    assert_int_equal(aq_act_row_bytes(AQ_GGML_F16, 7), 14);
    assert_int_equal(aq_act_row_bytes(AQ_GGML_BF16, 7), 14);
    assert_int_equal(aq_act_row_bytes(AQ_GGML_Q4_0, 32), 0);
    assert_int_equal(aq_act_row_bytes(0, 32), 0);
}

/* ------------------------------------------------------------------------------
 * Dequantization against gguf-py (data/quant-vectors/README.md gives the format).
 */
static uint32_t read_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void test_dequantize_vectors(void **unused) {
    (void)unused;
    for (size_t t = 0; t < N_WEIGHT_TYPES; t++) {
        const weight_type *wt = &k_weight_types[t];
        const aq_block_type *bt = aq_block_type_get(wt->type);
        char path[64];
        snprintf(path, sizeof(path), "data/quant-vectors/%s.bin", wt->file);
        size_t size = 0;
        uint8_t *file = (uint8_t *)test_read_source_file(path, &size);
        if (file == NULL) {
            print_error("cannot read %s\n", path);
            fail();
        }
        assert_true(size >= 48);
        assert_memory_equal(file, "AQQV", 4);
        assert_int_equal(read_u32(file + 4), 1);
        assert_int_equal(read_u32(file + 8), wt->type);
        assert_int_equal(read_u32(file + 12), bt->block_elems);
        assert_int_equal(read_u32(file + 16), bt->block_bytes);
        const size_t n_rows = read_u32(file + 20);
        const size_t blocks_per_row = read_u32(file + 24);
        const size_t row_elems = blocks_per_row * bt->block_elems;
        const size_t row_bytes = blocks_per_row * bt->block_bytes;
        assert_true(n_rows > 0 && blocks_per_row > 0);
        assert_int_equal(size, 48 + n_rows * row_bytes + n_rows * row_elems * 4);
        const uint8_t *raw = file + 48;
        const uint8_t *values = raw + n_rows * row_bytes;

        offset_buffer row = offset_buffer_new(row_bytes);
        float *got = malloc(row_elems * sizeof(float));
        float *want = malloc(row_elems * sizeof(float));
        assert_non_null(got);
        assert_non_null(want);
        size_t mismatches = 0;
        for (size_t r = 0; r < n_rows; r++) {
            memcpy(row.data, raw + r * row_bytes, row_bytes);
            memcpy(want, values + r * row_elems * 4, row_elems * 4);
            bt->dequantize(row.data, row_elems, got);
            for (size_t i = 0; i < row_elems; i++) {
                if (aq_fp32_to_bits(got[i]) != aq_fp32_to_bits(want[i])) {
                    if (mismatches < 5) {
                        print_error("%s row %zu element %zu: got %a, gguf-py %a\n", wt->file, r, i, (double)got[i],
                                    (double)want[i]);
                    }
                    mismatches++;
                }
            }
        }
        if (mismatches != 0) {
            print_error("%s: %zu of %zu values differ from gguf-py\n", wt->file, mismatches, n_rows * row_elems);
            fail();
        }
        free(want);
        free(got);
        free(row.base);
        free(file);
    }
}

/* ------------------------------------------------------------------------------
 * Activation quantizers.
 */

/* Q8_0 and Q8_1 (quant.h): per block d = amax / 127 in float, stored as f16;
 * q = roundf(x * id), id = 1 / d rounded. Round trip: x * id is x / d (magnitude
 * <= 127 (1 + u)) with two roundings, so |x * id - x / d| <= 127 (2 u + u^2) < 2^-15
 * and |x - q d| <= d (1/2 + 2^-15); the stored d16 adds |q| |d - d16| <= 127 |d - d16|.
 * The check uses 2^-14 for slack. */
static void check_q8_0_like_block(const float *x, uint16_t stored_d, const int8_t *qs, const char *what) {
    /* A comparison, not an fmaxf reduction: Debian's aarch64 GCC 12 crashes
     * vectorizing the latter (see tests/meson.build). Same value for finite x. */
    float amax = 0.0f;
    for (size_t j = 0; j < 32; j++) {
        if (fabsf(x[j]) > amax) amax = fabsf(x[j]);
    }
    const float d = amax / 127.0f;
    assert_int_equal(stored_d, aq_fp32_to_fp16(d));
    const double d16 = aq_fp16_to_fp32(stored_d);
    int max_level = 0;
    for (size_t j = 0; j < 32; j++) {
        assert_true(qs[j] >= -127 && qs[j] <= 127);
        max_level = abs(qs[j]) > max_level ? abs(qs[j]) : max_level;
        const double error = fabs((double)x[j] - qs[j] * d16);
        CHECK_LE(error, d * (0.5 + 0x1p-14) + 127.0 * fabs(d - d16), "%s element %zu", what, j);
    }
    assert_int_equal(max_level, amax > 0.0f ? 127 : 0);
}

static void test_act_q8_0_q8_1(void **unused) {
    (void)unused;
    uint64_t state = 0x0801;
    enum { N = 32 * 9 };
    float x[N];
    block_q8_0 q8_0[N / 32];
    block_q8_1 q8_1[N / 32];
    for (int trial = 0; trial < 50; trial++) {
        random_activations(N, &state, x);
        if (trial == 1) {
            memset(x, 0, sizeof(x)); /* all zero: d = 0, q = 0, s = 0 */
        }
        aq_act_quantize_ref(AQ_GGML_Q8_0, x, N, q8_0);
        aq_act_quantize_ref(AQ_GGML_Q8_1, x, N, q8_1);
        for (size_t b = 0; b < N / 32; b++) {
            check_q8_0_like_block(x + 32 * b, q8_0[b].d, q8_0[b].qs, "Q8_0");
            /* Q8_1's d and codes are Q8_0's; s = f16((float) sum * d), float d. */
            assert_int_equal(q8_1[b].d, q8_0[b].d);
            assert_memory_equal(q8_1[b].qs, q8_0[b].qs, 32);
            int32_t sum = 0;
            float amax = 0.0f;
            for (size_t j = 0; j < 32; j++) {
                sum += q8_1[b].qs[j];
                if (fabsf(x[32 * b + j]) > amax) amax = fabsf(x[32 * b + j]);
            }
            assert_int_equal(q8_1[b].s, aq_fp32_to_fp16((float)sum * (amax / 127.0f)));
        }
        /* The generic dequantizer reads what the quantizer wrote. */
        float back[N];
        aq_act_dequantize_ref(AQ_GGML_Q8_1, q8_1, N, back);
        for (size_t i = 0; i < N; i++) {
            assert_true(back[i] == (float)q8_1[i / 32].qs[i % 32] * aq_fp16_to_fp32(q8_1[i / 32].d));
        }
    }

    /* Pins, worked by hand. amax = 127 gives d = 1 and id = 1 exactly, so q =
     * roundf(x): ties go away from zero (2.5 -> 3, -2.5 -> -3, 0.5 -> 1), where
     * round-half-even would give 2, -2, 0. */
    float pin[32] = {127.0f, 2.5f, -2.5f, 0.5f, -0.5f, 1.5f, 126.5f};
    const int8_t pin_q[7] = {127, 3, -3, 1, -1, 2, 127};
    aq_act_quantize_ref(AQ_GGML_Q8_0, pin, 32, q8_0);
    assert_int_equal(q8_0[0].d, 0x3C00); /* 1.0 */
    assert_memory_equal(q8_0[0].qs, pin_q, sizeof(pin_q));
    aq_act_quantize_ref(AQ_GGML_Q8_1, pin, 32, q8_1);
    assert_memory_equal(q8_1[0].qs, pin_q, sizeof(pin_q));
    /* sum = 127 + 3 - 3 + 1 - 1 + 2 + 127 = 256; s = f16(256) = 0x5C00. */
    assert_int_equal(q8_1[0].s, 0x5C00);

    /* amax = 1: d = 1/127 (float), id = 1/d = 0x1.fcp+6 rounded. For x = 0x1.224488p-5,
     * x * id = 0x1.1ffffep+2 (4.4999998) -> 4, while the true quotient x / d is
     * 0x1.2p+2 = 4.5 exactly (-> 5 with roundf): ggml multiplies by the reciprocal. */
    float recip[32] = {1.0f, 0x1.224488p-5f};
    aq_act_quantize_ref(AQ_GGML_Q8_0, recip, 32, q8_0);
    assert_int_equal(q8_0[0].qs[0], 127);
    assert_int_equal(q8_0[0].qs[1], 4);
}

/* Q8_K (quant.h): iscale = -127 / max, q = nearbyint(iscale x), d = 1 / iscale,
 * each rounded. With t = -127 x / max exact (|t| <= 127): fl(iscale x) = t (1 + e1)
 * (1 + e2), so |q - t| <= 1/2 + 127 (2 u + u^2); and d = (-max / 127) (1 + e3) /
 * (1 + e1) adds 127 * 2 u more in units of |d|. Hence |x - q d| <= |d| (1/2 +
 * 4 * 127 u) < |d| (1/2 + 2^-15); the check uses 2^-13 for slack. */
static void test_act_q8_k(void **unused) {
    (void)unused;
    uint64_t state = 0x0815;
    enum { N = 256 * 3 };
    float x[N];
    block_q8_K q8_k[N / 256];
    for (int trial = 0; trial < 50; trial++) {
        random_activations(N, &state, x);
        if (trial == 1) {
            memset(x + 256, 0, 256 * sizeof(float)); /* block 1 all zero */
        }
        aq_act_quantize_ref(AQ_GGML_Q8_K, x, N, q8_k);
        for (size_t b = 0; b < N / 256; b++) {
            const float *xb = x + 256 * b;
            const block_q8_K *block = &q8_k[b];
            float amax = 0.0f, max = 0.0f;
            size_t argmax = 0;
            for (size_t j = 0; j < 256; j++) {
                if (fabsf(xb[j]) > amax) {
                    amax = fabsf(xb[j]);
                    max = xb[j];
                    argmax = j;
                }
            }
            if (amax == 0.0f) {
                assert_true(block->d == 0.0f);
                for (size_t j = 0; j < 256; j++) assert_int_equal(block->qs[j], 0);
                for (size_t g = 0; g < 16; g++) assert_int_equal(block->bsums[g], 0);
                continue;
            }
            const float iscale = -127.0f / max;
            assert_true(block->d == 1.0f / iscale);
            /* The largest element always maps to -127 (iscale * max = -127). */
            assert_int_equal(block->qs[argmax], -127);
            const double d = fabs((double)block->d);
            for (size_t j = 0; j < 256; j++) {
                assert_true(block->qs[j] >= -127 && block->qs[j] <= 127);
                const double error = fabs((double)xb[j] - (double)block->qs[j] * (double)block->d);
                CHECK_LE(error, d * (0.5 + 0x1p-13), "Q8_K element %zu", j);
            }
            for (size_t g = 0; g < 16; g++) {
                int32_t sum = 0;
                for (size_t j = 0; j < 16; j++) sum += block->qs[16 * g + j];
                assert_int_equal(block->bsums[g], sum);
            }
        }
    }

    /* Pins, worked by hand: max = -127 gives iscale = 1 and d = 1, so q =
     * nearbyint(x), ties to even (2.5 -> 2, 3.5 -> 4, -2.5 -> -2, 0.5 -> 0), where
     * roundf would give 3, 4, -3, 1. max = +127 gives iscale = d = -1 and q = -x. */
    float pin[256] = {-127.0f, 2.5f, 3.5f, -2.5f, 0.5f, 126.5f};
    const int8_t pin_q[6] = {-127, 2, 4, -2, 0, 126};
    aq_act_quantize_ref(AQ_GGML_Q8_K, pin, 256, q8_k);
    assert_true(q8_k[0].d == 1.0f);
    assert_memory_equal(q8_k[0].qs, pin_q, sizeof(pin_q));
    assert_int_equal(q8_k[0].bsums[0], -127 + 2 + 4 - 2 + 0 + 126);
    pin[0] = 127.0f;
    const int8_t pin_neg[6] = {-127, -2, -4, 2, 0, -126};
    aq_act_quantize_ref(AQ_GGML_Q8_K, pin, 256, q8_k);
    assert_true(q8_k[0].d == -1.0f);
    assert_memory_equal(q8_k[0].qs, pin_neg, sizeof(pin_neg));
    /* Equal magnitudes: the first one is the max (here -3 before +3). */
    float tie[256] = {0.5f, -3.0f, 3.0f};
    aq_act_quantize_ref(AQ_GGML_Q8_K, tie, 256, q8_k);
    assert_int_equal(q8_k[0].qs[1], -127);
    assert_int_equal(q8_k[0].qs[2], 127);
}

static void test_act_f16_bf16(void **unused) {
    (void)unused;
    uint64_t state = 0x0F16;
    enum { N = 77 };
    float x[N], back[N];
    uint16_t h[N];
    random_activations(N, &state, x);
    x[0] = 65520.0f;       /* rounds to inf in f16 */
    x[1] = 0x1p-25f;       /* halfway to the smallest f16 subnormal: ties to even, 0 */
    x[2] = 1.0f + 0x1p-8f; /* bf16 tie: to even, 1.0 */
    aq_act_quantize_ref(AQ_GGML_F16, x, N, h);
    aq_act_dequantize_ref(AQ_GGML_F16, h, N, back);
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(h[i], aq_fp32_to_fp16(x[i]));
        assert_true(aq_fp32_to_bits(back[i]) == aq_fp32_to_bits(aq_fp16_to_fp32(h[i])));
    }
    assert_int_equal(h[0], 0x7C00);
    assert_int_equal(h[1], 0x0000);
    aq_act_quantize_ref(AQ_GGML_BF16, x, N, h);
    aq_act_dequantize_ref(AQ_GGML_BF16, h, N, back);
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(h[i], aq_fp32_to_bf16(x[i]));
        assert_true(aq_fp32_to_bits(back[i]) == (uint32_t)h[i] << 16);
    }
    assert_int_equal(h[2], 0x3F80);
}

/* ------------------------------------------------------------------------------
 * Dot products against doubles.
 *
 * Our dot (quant.h) per block b computes T_b = D_b * I_b and O_b = Dmin_b * M_b
 * (O_b = 0 without an offset; for Q4_1 / Q5_1, O_b = m_b * s_b) with at most three
 * roundings each (D = f32(dx) * dy, (float) I, the product), one for T - O (or
 * T + O), then adds the block terms in order, (n_blocks - 1) roundings deep. So
 *   |dot - sum_b (T_b - O_b)| <= (n_blocks + 4) u sum_b (|T_b| + |O_b|)  (to first
 * order; a factor 1 + 2^-10 covers the rest). With exact dequantized values
 * w_i = A_i - B_i (A the term of the codes, B the offset) and a_i, |T_b| + |O_b| <=
 * sum_{i in b} (|A_i| + |B_i|) |a_i| =: S_b, as the activation's block sums are
 * exact sums of its codes. The reference dot sum_i w_i a_i in double uses the
 * float-dequantized values, each within u (|A_i| + |B_i|) of w_i and a_i within u
 * |a_i| (Q8_K's d * q is rounded), which adds 2 u S. Hence
 *   |dot - ref| <= (n_blocks + 8) u S,   S = sum_i (|A_i| + |B_i|) |a_i|,
 * plus, for the Q8_1 types, the activation's s standing in for its exact sum:
 *   2 sum_b |m_b| |s_b - d_b sum q_b|.
 * F16 / BF16: exact products, the 16-lane sum is ceil(n / 16) + 4 roundings deep:
 *   |dot - ref| <= (ceil(n / 16) + 6) u sum_i |w_i a_i|  (+ n 2^-150 for BF16
 * products in float's subnormal range; rows whose S passes 2^120 are skipped, as
 * their float sums may overflow).
 * A_i and B_i are the dequantized values of the block with the offset field, then
 * the scale field, set to zero.
 */
typedef struct dot_check {
    double dot_ref;   /* sum_i w_i a_i in double */
    double magnitude; /* S */
    double s_error;   /* Q8_1: sum_b |m_b| |s_b - d_b sum q_b|; else 0 */
    double bound;
} dot_check;

static dot_check dot_reference(const weight_type *wt, const aq_block_type *bt, size_t n, const uint8_t *w,
                               const void *act) {
    dot_check c = {0};
    float *wf = malloc(n * sizeof(float));
    float *af = malloc(n * sizeof(float));
    float *part_a = malloc(n * sizeof(float));
    float *part_b = malloc(n * sizeof(float));
    const size_t n_blocks = n / bt->block_elems;
    offset_buffer copy = offset_buffer_new(n_blocks * bt->block_bytes);
    assert_true(wf && af && part_a && part_b);
    bt->dequantize(w, n, wf);
    aq_act_dequantize_ref(bt->act_type, act, n, af);
    memcpy(part_a, wf, n * sizeof(float));
    memset(part_b, 0, n * sizeof(float));
    if (wt->offset_offset != NO_FIELD) {
        memcpy(copy.data, w, n_blocks * bt->block_bytes);
        for (size_t b = 0; b < n_blocks; b++) set_half(copy.data + b * bt->block_bytes, wt->offset_offset, 0);
        bt->dequantize(copy.data, n, part_a);
        memcpy(copy.data, w, n_blocks * bt->block_bytes);
        for (size_t b = 0; b < n_blocks; b++) set_half(copy.data + b * bt->block_bytes, wt->scale_offset, 0);
        bt->dequantize(copy.data, n, part_b);
    }
    for (size_t i = 0; i < n; i++) {
        c.dot_ref += (double)wf[i] * (double)af[i];
        c.magnitude += (fabs((double)part_a[i]) + fabs((double)part_b[i])) * fabs((double)af[i]);
    }
    if (bt->act_type == AQ_GGML_Q8_1) {
        const block_q8_1 *a = act;
        for (size_t b = 0; b < n_blocks; b++) {
            int32_t sum = 0;
            for (size_t j = 0; j < 32; j++) sum += a[b].qs[j];
            const double exact = (double)aq_fp16_to_fp32(a[b].d) * sum;
            const double m = aq_fp16_to_fp32(get_half(w + b * bt->block_bytes, wt->offset_offset));
            c.s_error += fabs(m) * fabs((double)aq_fp16_to_fp32(a[b].s) - exact);
        }
    }
    if (is_float_type(wt->type)) {
        /* Plus n 2^-150 for BF16 products that fall below 2^-126 (absolute error
         * at most half the smallest subnormal each). */
        c.bound = ((double)((n + 15) / 16) + 6.0) * UNIT_ROUNDOFF * c.magnitude + (double)n * 0x1p-150;
    } else {
        c.bound = ((double)n_blocks + 8.0) * UNIT_ROUNDOFF * c.magnitude * (1.0 + 0x1p-10) + 2.0 * c.s_error;
    }
    free(copy.base);
    free(part_b);
    free(part_a);
    free(af);
    free(wf);
    return c;
}

static void check_dot(const weight_type *wt, const aq_block_type *bt, size_t n, const uint8_t *w, const void *act,
                      const char *what) {
    const dot_check c = dot_reference(wt, bt, n, w, act);
    if (c.magnitude > 0x1p120) {
        return; /* BF16 rows of any exponent: the float sum may overflow, not checked */
    }
    const float dot = bt->dot(n, w, act);
    CHECK_LE(fabs((double)dot - c.dot_ref), c.bound, "%s %s n=%zu: dot %.9g, double %.9g", wt->file, what, n,
             (double)dot, c.dot_ref);
}

/* Rows of 1, 2, 3, 5 and 7 blocks (F16 / BF16: odd lengths around the 16 lanes). */
static void test_dot_random(void **unused) {
    (void)unused;
    static const size_t block_counts[] = {1, 2, 3, 5, 7};
    static const size_t float_lengths[] = {1, 2, 3, 5, 15, 16, 17, 31, 33, 64, 100, 257};
    uint64_t state = 0xD07;
    for (size_t t = 0; t < N_WEIGHT_TYPES; t++) {
        const weight_type *wt = &k_weight_types[t];
        const aq_block_type *bt = aq_block_type_get(wt->type);
        const bool floats = is_float_type(wt->type);
        const size_t n_lengths =
            floats ? sizeof(float_lengths) / sizeof(float_lengths[0]) : sizeof(block_counts) / sizeof(block_counts[0]);
        for (size_t li = 0; li < n_lengths; li++) {
            const size_t n = floats ? float_lengths[li] : block_counts[li] * bt->block_elems;
            offset_buffer w = offset_buffer_new(n / bt->block_elems * bt->block_bytes);
            float *x = malloc(n * sizeof(float));
            void *act = malloc(aq_act_row_bytes(bt->act_type, n));
            assert_true(x && act);
            for (int trial = 0; trial < 8; trial++) {
                random_weights(wt, bt, n, &state, w.data);
                random_activations(n, &state, x);
                aq_act_quantize_ref(bt->act_type, x, n, act);
                check_dot(wt, bt, n, w.data, act, "random");
            }
            free(act);
            free(x);
            free(w.base);
        }
    }
}

/* Every row of the gguf-py vector files (random and edge blocks: zero, largest and
 * subnormal scales, extreme codes) as a weight row against random activations. */
static void test_dot_vector_rows(void **unused) {
    (void)unused;
    uint64_t state = 0xF11E;
    for (size_t t = 0; t < N_WEIGHT_TYPES; t++) {
        const weight_type *wt = &k_weight_types[t];
        const aq_block_type *bt = aq_block_type_get(wt->type);
        char path[64];
        snprintf(path, sizeof(path), "data/quant-vectors/%s.bin", wt->file);
        size_t size = 0;
        uint8_t *file = (uint8_t *)test_read_source_file(path, &size);
        assert_non_null(file);
        const size_t n_rows = read_u32(file + 20);
        const size_t blocks_per_row = read_u32(file + 24);
        const size_t n = blocks_per_row * bt->block_elems;
        const size_t row_bytes = blocks_per_row * bt->block_bytes;
        offset_buffer w = offset_buffer_new(row_bytes);
        float *x = malloc(n * sizeof(float));
        void *act = malloc(aq_act_row_bytes(bt->act_type, n));
        assert_true(x && act);
        for (size_t r = 0; r < n_rows; r++) {
            memcpy(w.data, file + 48 + r * row_bytes, row_bytes);
            random_activations(n, &state, x);
            aq_act_quantize_ref(bt->act_type, x, n, act);
            check_dot(wt, bt, n, w.data, act, "vector row");
        }
        free(act);
        free(x);
        free(w.base);
        free(file);
    }
}

/* ------------------------------------------------------------------------------
 * Exact dot products. With power-of-two scales every dequantized weight and
 * activation is a small integer times a power of two, and each float operation of
 * the dot is exact as long as every integer it meets stays below 2^24 in magnitude.
 * Then dot == sum_i w_i a_i exactly (+ the Q8_1 s correction, also exact): this
 * checks the integer part of every kernel, codes, scales and minimum terms alike.
 */

/* Activation blocks built directly (not by the quantizer): codes in [-range,
 * range - 1] (range 128 reaches -128), or all equal to fill when range is 0; scale
 * act_scale (a power of two); block sums and s consistent with the codes. */
static void make_act_blocks(uint32_t act_type, size_t n, uint64_t *state, int range, int fill, float act_scale,
                            void *out) {
    const size_t n_blocks = act_type == AQ_GGML_Q8_K ? n / 256 : n / 32;
    for (size_t b = 0; b < n_blocks; b++) {
        int8_t codes[256];
        const size_t count = act_type == AQ_GGML_Q8_K ? 256 : 32;
        int32_t sum = 0;
        for (size_t j = 0; j < count; j++) {
            const int code = range > 0 ? (int)(aq_splitmix64(state) % (uint64_t)(2 * range)) - range : fill;
            codes[j] = (int8_t)code;
            sum += code;
        }
        if (act_type == AQ_GGML_Q8_K) {
            block_q8_K *a = (block_q8_K *)out + b;
            a->d = act_scale;
            memcpy(a->qs, codes, 256);
            for (size_t g = 0; g < 16; g++) {
                int32_t group = 0;
                for (size_t j = 0; j < 16; j++) group += codes[16 * g + j];
                a->bsums[g] = (int16_t)group;
            }
        } else if (act_type == AQ_GGML_Q8_1) {
            block_q8_1 *a = (block_q8_1 *)out + b;
            a->d = aq_fp32_to_fp16(act_scale);
            a->s = aq_fp32_to_fp16((float)sum * act_scale); /* may round: |sum| > 2048 */
            memcpy(a->qs, codes, 32);
        } else {
            block_q8_0 *a = (block_q8_0 *)out + b;
            a->d = aq_fp32_to_fp16(act_scale);
            memcpy(a->qs, codes, 32);
        }
    }
}

/* Checks dot == the exact value, given that its integers stay below 2^24: returns
 * false (checking nothing) if they might not. */
static bool check_dot_exact(const weight_type *wt, const aq_block_type *bt, size_t n, const uint8_t *w, const void *act,
                            double unit, const char *what) {
    const dot_check c = dot_reference(wt, bt, n, w, act);
    /* S / unit bounds every integer the dot meets (block sums, partial sums). */
    if (c.magnitude / unit + c.s_error / unit >= 0x1p24 / 4) {
        return false;
    }
    double exact = c.dot_ref; /* exact: dyadic values far from double's 53 bits */
    if (bt->act_type == AQ_GGML_Q8_1) {
        /* The dot reads m * s, not m * d * sum q. */
        const block_q8_1 *a = act;
        for (size_t b = 0; b < n / 32; b++) {
            int32_t sum = 0;
            for (size_t j = 0; j < 32; j++) sum += a[b].qs[j];
            const double m = aq_fp16_to_fp32(get_half(w + b * bt->block_bytes, wt->offset_offset));
            exact += m * ((double)aq_fp16_to_fp32(a[b].s) - (double)aq_fp16_to_fp32(a[b].d) * sum);
        }
    }
    const float dot = bt->dot(n, w, act);
    if ((double)dot != exact) {
        print_error("%s %s n=%zu: dot %.9g, exact %.9g\n", wt->file, what, n, (double)dot, exact);
        fail();
    }
    return true;
}

/* Weight blocks with power-of-two scale fields (scale, offset) and random codes or
 * every code/scale byte equal to fill (fill < 0: random). */
static void make_exact_weights(const weight_type *wt, const aq_block_type *bt, size_t n, uint64_t *state, int fill,
                               float scale, float offset, uint8_t *out) {
    if (is_float_type(wt->type)) {
        /* Integers times scale: exact in f16 up to 2048, in bf16 up to 256. */
        const int limit = wt->type == AQ_GGML_F16 ? 2048 : 256;
        for (size_t i = 0; i < n; i++) {
            const int v = fill >= 0 ? (fill % 2 ? limit : -limit)
                                    : (int)(aq_splitmix64(state) % (uint64_t)(2 * limit + 1)) - limit;
            const float value = (float)v * scale;
            set_half(out, 2 * i, wt->type == AQ_GGML_F16 ? aq_fp32_to_fp16(value) : aq_fp32_to_bf16(value));
        }
        return;
    }
    const size_t n_blocks = n / bt->block_elems;
    for (size_t i = 0; i < n_blocks * bt->block_bytes; i++) {
        out[i] = fill >= 0 ? (uint8_t)fill : (uint8_t)aq_splitmix64(state);
    }
    for (size_t b = 0; b < n_blocks; b++) {
        uint8_t *block = out + b * bt->block_bytes;
        set_half(block, wt->scale_offset, aq_fp32_to_fp16(scale));
        if (wt->offset_offset != NO_FIELD) set_half(block, wt->offset_offset, aq_fp32_to_fp16(offset));
    }
}

static void test_dot_exact(void **unused) {
    (void)unused;
    uint64_t state = 0xE4AC7;
    /* (weight scale, weight offset, activation scale, the unit all values are
     * multiples of): plain integers, then scaled by powers of two. */
    static const float scales[][4] = {
        {1.0f, 1.0f, 1.0f, 1.0f},
        {0x1p-4f, -0x1p-5f, 0x1p-7f, 0x1p-12f},
        {-0x1p3f, 0x1p2f, 0x1p-2f, 0x1p0f},
    };
    static const int ranges[] = {128, 32, 8, 2};
    for (size_t t = 0; t < N_WEIGHT_TYPES; t++) {
        const weight_type *wt = &k_weight_types[t];
        const aq_block_type *bt = aq_block_type_get(wt->type);
        const bool floats = is_float_type(wt->type);
        size_t checked = 0, tried = 0;
        for (size_t blocks = 1; blocks <= 3; blocks++) {
            const size_t n = floats ? 16 * blocks + 1 : blocks * bt->block_elems;
            offset_buffer w = offset_buffer_new(n / bt->block_elems * bt->block_bytes);
            void *act = malloc(aq_act_row_bytes(bt->act_type, n));
            assert_non_null(act);
            for (size_t s = 0; s < sizeof(scales) / sizeof(scales[0]); s++) {
                for (int trial = 0; trial < 6; trial++) {
                    make_exact_weights(wt, bt, n, &state, -1, scales[s][0], scales[s][1], w.data);
                    tried++;
                    /* Widest activation range whose integers stay below 2^24. */
                    for (size_t r = 0; r < sizeof(ranges) / sizeof(ranges[0]); r++) {
                        if (floats) {
                            /* F16 / BF16 activations: integers times a power of two. */
                            float *xf = malloc(n * sizeof(float));
                            for (size_t i = 0; i < n; i++) {
                                const int v = (int)(aq_splitmix64(&state) % (uint64_t)(2 * ranges[r])) - ranges[r];
                                xf[i] = (float)v * scales[s][2];
                            }
                            aq_act_quantize_ref(bt->act_type, xf, n, act);
                            free(xf);
                        } else {
                            make_act_blocks(bt->act_type, n, &state, ranges[r], 0, scales[s][2], act);
                        }
                        if (check_dot_exact(wt, bt, n, w.data, act, (double)scales[s][3], "exact")) {
                            checked++;
                            break;
                        }
                    }
                }
            }
            free(act);
            free(w.base);
        }
        /* Every weight row found an activation range small enough. */
        assert_int_equal(checked, tried);
    }
}

/* Edge blocks: zero scales give exactly 0; the largest and smallest codes and
 * sub-block scales (every byte 0xFF or 0x00, or alternating) against activations
 * of all -128, all 127 and alternating signs, exactly. */
static void test_dot_edges(void **unused) {
    (void)unused;
    uint64_t state = 0xED6E;
    static const int fills[] = {0xFF, 0x00, 0x0F, 0xF0, 0x80, 0x7F, 0x55};
    static const int act_fills[] = {-128, 127, -1, 1};
    for (size_t t = 0; t < N_WEIGHT_TYPES; t++) {
        const weight_type *wt = &k_weight_types[t];
        const aq_block_type *bt = aq_block_type_get(wt->type);
        const bool floats = is_float_type(wt->type);
        const size_t n = floats ? 35 : 2 * bt->block_elems;
        offset_buffer w = offset_buffer_new(n / bt->block_elems * bt->block_bytes);
        void *act = malloc(aq_act_row_bytes(bt->act_type, n));
        float *x = malloc(n * sizeof(float));
        assert_true(act && x);

        /* Zero scales (and offsets): every value is +-0, and so is the dot. */
        if (!floats) {
            for (int trial = 0; trial < 4; trial++) {
                make_exact_weights(wt, bt, n, &state, -1, 0.0f, 0.0f, w.data);
                random_activations(n, &state, x);
                aq_act_quantize_ref(bt->act_type, x, n, act);
                assert_true(bt->dot(n, w.data, act) == 0.0f);
            }
        }

        for (size_t f = 0; f < sizeof(fills) / sizeof(fills[0]); f++) {
            for (size_t a = 0; a < sizeof(act_fills) / sizeof(act_fills[0]); a++) {
                make_exact_weights(wt, bt, n, &state, fills[f], 1.0f, 1.0f, w.data);
                if (floats) {
                    for (size_t i = 0; i < n; i++) x[i] = (float)act_fills[a];
                    aq_act_quantize_ref(bt->act_type, x, n, act);
                } else {
                    make_act_blocks(bt->act_type, n, &state, 0, act_fills[a], 1.0f, act);
                }
                if (!check_dot_exact(wt, bt, n, w.data, act, 1.0, "edge")) {
                    /* Integers too large for exact float sums (e.g. Q6_K scales
                     * of 127 against -128): within the bound instead. */
                    check_dot(wt, bt, n, w.data, act, "edge");
                }
                /* The same blocks with a random activation row, within the bound. */
                random_activations(n, &state, x);
                aq_act_quantize_ref(bt->act_type, x, n, act);
                check_dot(wt, bt, n, w.data, act, "edge");
            }
        }
        free(x);
        free(act);
        free(w.base);
    }
}

/* ------------------------------------------------------------------------------
 * The float combine of quant.h, bit for bit. The per-block integers come from the
 * dequantizer (checked against gguf-py above) rather than from a copy of each
 * kernel's layout: with the scale field set to 1 and the offset to 0 the dequantized
 * weights are the integers c_i (sc * q, q - 16, a level, ...), so I_b = sum c_i qa_i;
 * with scale 0 and offset 1 they are -m_i (or m_i = 1 for Q4_1 / Q5_1), so M_b =
 * sum m_i qa_i. Then, as documented:
 *   Q8_0 / Q8_1 weights: term = (f32(dx) * f32(dy)) * (float) I [+ f32(mx) * f32(sy)]
 *   Q8_K weights:        term = (f32(dx) * dy) * (float) I [- (f32(dmin) * dy) * (float) M]
 *   sumf = sumf + term, blocks in order.
 */
static float documented_dot(const weight_type *wt, const aq_block_type *bt, size_t n, const uint8_t *w,
                            const void *act) {
    const size_t n_blocks = n / bt->block_elems;
    const size_t k = bt->block_elems;
    offset_buffer copy = offset_buffer_new(n_blocks * bt->block_bytes);
    float *codes = malloc(n * sizeof(float));
    float *mins = malloc(n * sizeof(float));
    assert_true(codes && mins);
    memcpy(copy.data, w, n_blocks * bt->block_bytes);
    for (size_t b = 0; b < n_blocks; b++) {
        set_half(copy.data + b * bt->block_bytes, wt->scale_offset, 0x3C00);
        if (wt->offset_offset != NO_FIELD) set_half(copy.data + b * bt->block_bytes, wt->offset_offset, 0);
    }
    bt->dequantize(copy.data, n, codes);
    memset(mins, 0, n * sizeof(float));
    if (wt->offset_offset != NO_FIELD) {
        memcpy(copy.data, w, n_blocks * bt->block_bytes);
        for (size_t b = 0; b < n_blocks; b++) {
            set_half(copy.data + b * bt->block_bytes, wt->scale_offset, 0);
            set_half(copy.data + b * bt->block_bytes, wt->offset_offset, 0x3C00);
        }
        bt->dequantize(copy.data, n, mins);
    }
    float sumf = 0.0f;
    for (size_t b = 0; b < n_blocks; b++) {
        const uint8_t *block = w + b * bt->block_bytes;
        const float dx = aq_fp16_to_fp32(get_half(block, wt->scale_offset));
        const int8_t *qa;
        float dy;
        if (bt->act_type == AQ_GGML_Q8_K) {
            qa = ((const block_q8_K *)act)[b].qs;
            dy = ((const block_q8_K *)act)[b].d;
        } else if (bt->act_type == AQ_GGML_Q8_1) {
            qa = ((const block_q8_1 *)act)[b].qs;
            dy = aq_fp16_to_fp32(((const block_q8_1 *)act)[b].d);
        } else {
            qa = ((const block_q8_0 *)act)[b].qs;
            dy = aq_fp16_to_fp32(((const block_q8_0 *)act)[b].d);
        }
        int64_t isum = 0, msum = 0;
        for (size_t i = 0; i < k; i++) {
            isum += (int64_t)codes[b * k + i] * qa[i];
            msum += (int64_t)fabsf(mins[b * k + i]) * qa[i];
        }
        const float scale = dx * dy;
        float term = scale * (float)isum;
        if (bt->act_type == AQ_GGML_Q8_1) {
            const float mx = aq_fp16_to_fp32(get_half(block, wt->offset_offset));
            const float offset = mx * aq_fp16_to_fp32(((const block_q8_1 *)act)[b].s);
            term = term + offset;
        } else if (wt->offset_offset != NO_FIELD) {
            const float scale_min = aq_fp16_to_fp32(get_half(block, wt->offset_offset)) * dy;
            const float offset = scale_min * (float)msum;
            term = term - offset;
        }
        sumf = sumf + term;
    }
    free(mins);
    free(codes);
    free(copy.base);
    return sumf;
}

static void test_dot_documented_order(void **unused) {
    (void)unused;
    uint64_t state = 0x0DE6;
    for (size_t t = 0; t < N_WEIGHT_TYPES; t++) {
        const weight_type *wt = &k_weight_types[t];
        const aq_block_type *bt = aq_block_type_get(wt->type);
        if (is_float_type(wt->type)) continue; /* test_float_dot_order */
        for (size_t blocks = 1; blocks <= 9; blocks += 2) {
            const size_t n = blocks * bt->block_elems;
            offset_buffer w = offset_buffer_new(blocks * bt->block_bytes);
            float *x = malloc(n * sizeof(float));
            void *act = malloc(aq_act_row_bytes(bt->act_type, n));
            assert_true(x && act);
            for (int trial = 0; trial < 20; trial++) {
                random_weights(wt, bt, n, &state, w.data);
                random_activations(n, &state, x);
                aq_act_quantize_ref(bt->act_type, x, n, act);
                if (trial % 4 == 3) {
                    make_act_blocks(bt->act_type, n, &state, 128, 0, 0x1p-7f, act); /* -128 too */
                }
                const float got = bt->dot(n, w.data, act);
                const float want = documented_dot(wt, bt, n, w.data, act);
                if (aq_fp32_to_bits(got) != aq_fp32_to_bits(want)) {
                    print_error("%s n=%zu: dot %a, documented order %a\n", wt->file, n, (double)got, (double)want);
                    fail();
                }
            }
            free(act);
            free(x);
            free(w.base);
        }
    }
}

/* ------------------------------------------------------------------------------
 * The F16 / BF16 lane order of quant.h, written out as one expression: lanes L_l
 * (sums of products l, l + 16, ... in order), then
 *   ((((L0+L8)+(L4+L12))+((L2+L10)+(L6+L14)))+(((L1+L9)+(L5+L13))+((L3+L11)+(L7+L15)))).
 * Values spread over 2^-10 .. 2^10 with random signs so that the order matters.
 */
static float lane_order_dot(size_t n, const float *w, const float *a) {
    float lane[16];
    for (size_t l = 0; l < 16; l++) {
        lane[l] = 0.0f;
        for (size_t i = l; i < n; i += 16) {
            const float product = w[i] * a[i];
            lane[l] = lane[l] + product;
        }
    }
    const float a0 = lane[0] + lane[8], a1 = lane[1] + lane[9], a2 = lane[2] + lane[10], a3 = lane[3] + lane[11];
    const float a4 = lane[4] + lane[12], a5 = lane[5] + lane[13], a6 = lane[6] + lane[14], a7 = lane[7] + lane[15];
    const float b0 = a0 + a4, b1 = a1 + a5, b2 = a2 + a6, b3 = a3 + a7;
    const float c0 = b0 + b2, c1 = b1 + b3;
    return c0 + c1;
}

static void test_float_dot_order(void **unused) {
    (void)unused;
    uint64_t state = 0x0DE5;
    enum { MAX_N = 300 };
    uint16_t x[MAX_N], y[MAX_N];
    float xf[MAX_N], yf[MAX_N];
    size_t differs_from_sequential = 0;
    for (size_t n = 1; n <= MAX_N; n += 7) {
        for (int bf16 = 0; bf16 < 2; bf16++) {
            for (size_t i = 0; i < n; i++) {
                const double sign_x = (aq_splitmix64(&state) & 1) ? -1.0 : 1.0;
                const double sign_y = (aq_splitmix64(&state) & 1) ? -1.0 : 1.0;
                const float vx = (float)(sign_x * exp2(-10.0 + 20.0 * uniform01(&state)));
                const float vy = (float)(sign_y * exp2(-10.0 + 20.0 * uniform01(&state)));
                x[i] = bf16 ? aq_fp32_to_bf16(vx) : aq_fp32_to_fp16(vx);
                y[i] = bf16 ? aq_fp32_to_bf16(vy) : aq_fp32_to_fp16(vy);
                xf[i] = bf16 ? aq_bf16_to_fp32(x[i]) : aq_fp16_to_fp32(x[i]);
                yf[i] = bf16 ? aq_bf16_to_fp32(y[i]) : aq_fp16_to_fp32(y[i]);
            }
            const aq_block_type *bt = aq_block_type_get(bf16 ? AQ_GGML_BF16 : AQ_GGML_F16);
            const float got = bt->dot(n, x, y);
            const float want = lane_order_dot(n, xf, yf);
            assert_true(aq_fp32_to_bits(got) == aq_fp32_to_bits(want));
            float sequential = 0.0f;
            for (size_t i = 0; i < n; i++) {
                const float product = xf[i] * yf[i];
                sequential = sequential + product;
            }
            differs_from_sequential += sequential != got;
        }
    }
    /* The data does tell orders apart. */
    assert_true(differs_from_sequential > 10);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),           cmocka_unit_test(test_dequantize_vectors),
        cmocka_unit_test(test_act_q8_0_q8_1),   cmocka_unit_test(test_act_q8_k),
        cmocka_unit_test(test_act_f16_bf16),    cmocka_unit_test(test_dot_random),
        cmocka_unit_test(test_dot_vector_rows), cmocka_unit_test(test_dot_exact),
        cmocka_unit_test(test_dot_edges),       cmocka_unit_test(test_dot_documented_order),
        cmocka_unit_test(test_float_dot_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
