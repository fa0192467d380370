/* test_kernels.h - the kernel tests, the same for every architecture: each family's
 * list (lib/kernels/kernels.h) is walked and every entry but the reference is
 * compared with the reference, so a kernel that is listed is tested, whether or not
 * dispatch would pick it here. An entry whose CPU feature (cpu_features.h) this CPU
 * lacks is skipped at run time (cmocka skip). Included by test_kernels_x86.c and
 * test_kernels_neon.c, which add what only their architecture knows and call
 * aq_run_kernel_tests().
 *
 * Integer kernels (qd8 x qc4w GEMMs) and the llama.cpp block dots are bit-exact
 * twins: compared with memcmp, including the out entries they must not touch
 * (sentinel NaNs). The float kernels (FP32 GEMM, W4A16) sum in another order; they
 * must agree within
 *   |out - ref| <= 2 * (k + 8) * FLT_EPSILON * sum_e |x_e| |w_e|,
 * twice the classic bound gamma_k of a recursive sum of k products (each of the two
 * results is within gamma_k * sum |x||w| of the exact value; + 8 covers the final
 * lane reduction and, for W4A16, the per-group scale multiply).
 *
 * Shapes follow each kernel's tile: m and n equal to, below and above m_tile and
 * n_tile (one row, a partial tile, several tiles plus a tail), k of one group up to
 * 4096 and, for the GEMMs with group chunks, 513 groups; sub-ranges [n_begin, n_end)
 * as threads get them, out_stride > n and x_stride > k.
 */
#ifndef AQ_TEST_KERNELS_H
#define AQ_TEST_KERNELS_H

#include <float.h>
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

#include "f16.h"
#include "kernels.h"
#include "prng.h"
#include "quant.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------------------------
 * Deterministic random data (splitmix64), state passed explicitly.
 */
static uint64_t rng_next(uint64_t *state) { return aq_splitmix64(state); }

static int rng_int(uint64_t *state, int lo, int hi) { /* [lo, hi] */
    return lo + (int)(rng_next(state) % (uint64_t)(hi - lo + 1));
}

static float rng_float(uint64_t *state) { /* U(-1, 1) */
    return (float)((double)(rng_next(state) >> 11) * 0x1p-52 - 1.0);
}

static void *xcalloc(size_t count, size_t size) {
    void *p = calloc(count ? count : 1, size ? size : 1);
    assert_non_null(p);
    return p;
}

/* Fills a buffer with a NaN pattern, so untouched entries are recognizable and a
 * kernel that writes where it must not makes memcmp fail. */
static void fill_sentinel(float *x, size_t n) {
    const uint32_t nan_bits = 0x7FC0DEADu;
    for (size_t i = 0; i < n; i++) memcpy(&x[i], &nan_bits, sizeof nan_bits);
}

/* Sizes around a tile of `tile`: 1, tile - 1, tile, tile + 1, 2 tile + 1 and
 * 3 tile + tile / 2 (the last two: several tiles and a tail), in ascending order
 * without repeats, then `extra`. Returns how many were written (at most 7). */
static size_t sizes_around(size_t tile, size_t extra, size_t out[7]) {
    const size_t cand[] = {1, tile - 1, tile, tile + 1, 2 * tile + 1, 3 * tile + tile / 2, extra};
    size_t n = 0;
    for (size_t i = 0; i < COUNT(cand); i++) {
        bool seen = cand[i] == 0;
        for (size_t j = 0; j < n; j++) seen = seen || out[j] == cand[i];
        if (!seen) out[n++] = cand[i];
    }
    return n;
}

/* Skips the test unless the CPU runs isa. */
static void require(aq_cpu_feature isa, const char *name) {
    if (!aq_cpu_has(isa)) {
        print_message("%s: this CPU has no %s, skipped\n", name, aq_cpu_feature_name(isa));
        skip();
    }
}

/* ------------------------------------------------------------------------------
 * Operands of the qd8 x qc4w GEMM.
 */
enum fill_mode {
    FILL_RANDOM,  /* uniform codes, random (some negative, some subnormal) scales */
    FILL_EXTREME, /* codes 0/15 and activations at the int8 ends: the int16 bounds */
};

static void q4w_make(struct aq_q4w *w, size_t n_rows, size_t k, size_t group, bool asym, enum fill_mode mode,
                     uint64_t *rng) {
    const size_t groups = k / group;
    w->n_rows = n_rows;
    w->k = k;
    w->group = group;
    w->q = xcalloc(n_rows * k / 2, 1);
    w->scale = xcalloc(n_rows * groups, sizeof(uint16_t));
    w->zero = asym ? xcalloc(n_rows * groups, 1) : NULL;
    for (size_t i = 0; i < n_rows * k / 2; i++) {
        if (mode == FILL_EXTREME)
            w->q[i] = (rng_next(rng) & 1) ? 0xFF : (rng_next(rng) & 1) ? 0x00 : 0xF0;
        else
            w->q[i] = (uint8_t)rng_next(rng);
    }
    for (size_t i = 0; i < n_rows * groups; i++) {
        const int kind = rng_int(rng, 0, 19);
        /* Mostly normal scales of either sign, sometimes a half subnormal or 0. */
        const float s = kind == 0 ? 0x1p-20f * rng_float(rng) : kind == 1 ? 0.0f : 0.02f * rng_float(rng);
        w->scale[i] = aq_fp32_to_fp16(s);
        if (asym) w->zero[i] = (uint8_t)(mode == FILL_EXTREME ? ((rng_next(rng) & 1) ? 0 : 15) : rng_int(rng, 0, 15));
    }
}

static void q4w_free(struct aq_q4w *w) {
    free(w->q);
    free(w->scale);
    free(w->zero);
}

/* bits 8 or 4; nonzero_za: static asymmetric quantization, za anywhere in the
 * level range (so |qa - za| reaches 255 for 8 bits). */
static void qd8_make(struct aq_qd8 *a, size_t m, size_t k, int bits, bool nonzero_za, enum fill_mode mode,
                     uint64_t *rng) {
    const int qmin = bits == 8 ? -128 : -8, qmax = bits == 8 ? 127 : 7;
    a->n_rows = m;
    a->k = k;
    a->group = 0; /* one scale per token */
    a->sum32 = NULL;
    a->q = xcalloc(m * k, 1);
    a->scale = xcalloc(m, sizeof(float));
    a->zero = xcalloc(m, sizeof(int32_t));
    for (size_t i = 0; i < m * k; i++) {
        if (mode == FILL_EXTREME) {
            a->q[i] = (int8_t)((rng_next(rng) & 3) ? qmin : qmax);
        } else {
            /* The ends often, so the int16 accumulation bounds are exercised. */
            const int r = rng_int(rng, 0, 7);
            a->q[i] = (int8_t)(r == 0 ? qmin : r == 1 ? qmax : rng_int(rng, qmin, qmax));
        }
    }
    for (size_t t = 0; t < m; t++) {
        a->scale[t] = 0.05f * (1.0f + rng_float(rng)) + 1e-4f;
        a->zero[t] = nonzero_za ? (mode == FILL_EXTREME ? ((t & 1) ? qmax : qmin) : rng_int(rng, qmin, qmax)) : 0;
    }
}

static void qd8_free(struct aq_qd8 *a) {
    free(a->q);
    free(a->scale);
    free(a->zero);
}

/* A copy of a that carries the sums of 32 codes (aq_qd8_sum32_ref), as the
 * runtime's inputs do; free its sum32. */
static struct aq_qd8 qd8_with_sums(const struct aq_qd8 *a) {
    struct aq_qd8 s = *a;
    s.sum32 = xcalloc(a->n_rows * (a->k / 32) + 1, sizeof(int32_t));
    aq_qd8_sum32_ref(&s, 0, a->n_rows);
    return s;
}

/* out and ref must agree in every byte. */
static void expect_same_out(const aq_qc4w_gemm_kernel *kern, const struct aq_q4w *w, const float *ref, const float *out,
                            size_t m, size_t n_begin, size_t n_end, size_t out_stride, const char *what,
                            const char *sums) {
    if (memcmp(ref, out, m * out_stride * sizeof(float)) == 0) return;
    for (size_t i = 0; i < m * out_stride; i++) {
        if (memcmp(&ref[i], &out[i], sizeof(float)) != 0) {
            print_error("%s %s%s: m=%zu n=%zu k=%zu group=%zu asym=%d rows [%zu,%zu): out[%zu][%zu] = %a, ref %a\n",
                        kern->name, what, sums, m, w->n_rows, w->k, w->group, w->zero != NULL, n_begin, n_end,
                        i / out_stride, i % out_stride, (double)out[i], (double)ref[i]);
            break;
        }
    }
    fail();
}

/* Every byte of the kernel's out, written or not, must equal ref (the reference
 * run's, on an out of the same sentinels), with and without the sums of 32
 * codes given in a (a->sum32). */
static void expect_kernel_as_ref(const aq_qc4w_gemm_kernel *kern, const struct aq_qd8 *a, const struct aq_q4w *w,
                                 const void *packed, const float *ref, size_t m, size_t n_begin, size_t n_end,
                                 size_t out_stride, const char *what) {
    float *out = xcalloc(m * out_stride, sizeof(float));
    fill_sentinel(out, m * out_stride);
    kern->gemm(m, n_begin, n_end, a, w, packed, out, out_stride);
    expect_same_out(kern, w, ref, out, m, n_begin, n_end, out_stride, what, "");
    struct aq_qd8 with_sums = qd8_with_sums(a);
    fill_sentinel(out, m * out_stride);
    kern->gemm(m, n_begin, n_end, &with_sums, w, packed, out, out_stride);
    expect_same_out(kern, w, ref, out, m, n_begin, n_end, out_stride, what, ", sums given");
    free(with_sums.sum32);
    free(out);
}

/* One comparison: rows [n_begin, n_end) for m tokens, out_stride > n. */
static void check_qc4w(const aq_qc4w_gemm_kernel *kern, const struct aq_qd8 *a, const struct aq_q4w *w,
                       const void *packed, size_t m, size_t n_begin, size_t n_end, size_t out_stride,
                       const char *what) {
    float *ref = xcalloc(m * out_stride, sizeof(float));
    fill_sentinel(ref, m * out_stride);
    aq_qd8_qc4w_gemm_ref(m, n_begin, n_end, a, w, ref, out_stride);
    expect_kernel_as_ref(kern, a, w, packed, ref, m, n_begin, n_end, out_stride, what);
    free(ref);
}

static void *pack_for(const aq_qc4w_gemm_kernel *kern, const struct aq_q4w *w) {
    if (!kern->packed_size) return NULL;
    void *packed = xcalloc(kern->packed_size(w), 1);
    kern->pack(w, packed);
    return packed;
}

/* One operand set: the whole matrix, and a sub-range as a thread gets it (n_begin
 * a multiple of n_tile, n_end inside a tile). */
static void check_qc4w_ranges(const aq_qc4w_gemm_kernel *kern, size_t m, size_t n_rows, size_t k, size_t group,
                              bool asym, int bits, bool nonzero_za, enum fill_mode mode, uint64_t *rng) {
    struct aq_q4w w;
    struct aq_qd8 a;
    q4w_make(&w, n_rows, k, group, asym, mode, rng);
    qd8_make(&a, m, k, bits, nonzero_za, mode, rng);
    void *packed = pack_for(kern, &w);
    check_qc4w(kern, &a, &w, packed, m, 0, n_rows, n_rows + 3, "full");
    const size_t nb = n_rows > 2 * kern->n_tile ? kern->n_tile : 0;
    const size_t ne = n_rows % 2 ? n_rows : n_rows - 1;
    if (ne > nb) check_qc4w(kern, &a, &w, packed, m, nb, ne, n_rows + 5, "sub-range");
    free(packed);
    q4w_free(&w);
    qd8_free(&a);
}

static const struct {
    size_t k, group;
} qc4w_depths[] = {{32, 32},   {64, 32},  {64, 64},   {96, 32},  {128, 32}, {128, 64},
                   {128, 128}, {256, 64}, {256, 128}, {288, 32}, {384, 128}};

/* Every shape around the kernel's tile, weights symmetric and asymmetric,
 * activations 8- and 4-bit, with zero and nonzero zero points (cycling). */
static void test_qc4w_shapes(void **state) {
    const aq_qc4w_gemm_kernel *kern = *state;
    require(kern->isa, kern->name);
    size_t ms[7], ns[7];
    const size_t n_m = sizes_around(kern->m_tile, 17, ms), n_n = sizes_around(kern->n_tile, 64, ns);
    uint64_t rng = 0x5EED0001u;
    unsigned variant = 0;
    for (size_t im = 0; im < n_m; im++)
        for (size_t in = 0; in < n_n; in++)
            for (size_t ik = 0; ik < COUNT(qc4w_depths); ik++, variant++) {
                const bool asym = variant & 1;
                const int bits = (variant >> 1) & 1 ? 4 : 8;
                const bool nonzero_za = (variant >> 2) & 1;
                check_qc4w_ranges(kern, ms[im], ns[in], qc4w_depths[ik].k, qc4w_depths[ik].group, asym, bits,
                                  nonzero_za, FILL_RANDOM, &rng);
            }
}

/* Larger k, fewer shapes: k = 4096 for every group, and k = 16416 with group 32
 * (513 groups: more than one group chunk, so the accumulators pass through out). */
static void test_qc4w_long_k(void **state) {
    const aq_qc4w_gemm_kernel *kern = *state;
    require(kern->isa, kern->name);
    uint64_t rng = 0x5EED0002u;
    const size_t m = kern->m_tile + 1, n = 2 * kern->n_tile + 1;
    static const size_t groups[] = {32, 64, 128};
    for (size_t ig = 0; ig < COUNT(groups); ig++)
        for (int asym = 0; asym < 2; asym++)
            check_qc4w_ranges(kern, asym ? m : 1, n, 4096, groups[ig], asym, 8, asym, FILL_RANDOM, &rng);
    check_qc4w_ranges(kern, m, n, 16416, 32, true, 8, true, FILL_RANDOM, &rng);
    check_qc4w_ranges(kern, 1, n, 16416, 32, false, 8, false, FILL_RANDOM, &rng);
}

/* Codes 0/15 with zero points 0/15 and activations at -128/127 with za at the
 * other end: the largest |code * qa| and |qa - za|, i.e. the int16 saturation
 * bounds of VPMADDUBSW / SMLAL and the largest group sums; and all codes 15
 * against all activations -128 (or 127). */
static void test_qc4w_extremes(void **state) {
    const aq_qc4w_gemm_kernel *kern = *state;
    require(kern->isa, kern->name);
    uint64_t rng = 0x5EED0003u;
    const size_t m = kern->m_tile + 1, n = kern->n_tile + 1;
    static const size_t groups[] = {32, 64, 128};
    for (size_t ig = 0; ig < COUNT(groups); ig++)
        for (int asym = 0; asym < 2; asym++)
            for (int za = 0; za < 2; za++)
                check_qc4w_ranges(kern, m, n, 256, groups[ig], asym, 8, za, FILL_EXTREME, &rng);
    for (int sign = 0; sign < 2; sign++) {
        struct aq_q4w w;
        struct aq_qd8 a;
        q4w_make(&w, n, 256, 128, true, FILL_RANDOM, &rng);
        qd8_make(&a, m, 256, 8, true, FILL_RANDOM, &rng);
        memset(w.q, 0xFF, n * 128);
        memset(w.zero, 0, n * 2);
        memset(a.q, sign ? 0x7F : 0x80, m * 256);
        a.zero[0] = sign ? -128 : 127;
        a.zero[1] = 0;
        void *packed = pack_for(kern, &w);
        check_qc4w(kern, &a, &w, packed, m, 0, n, n, "all codes 15");
        free(packed);
        q4w_free(&w);
        qd8_free(&a);
    }
}

/* The packed layout streams no more than llama.cpp's Q4_0 does: 4.5 bits a weight
 * for symmetric groups of 32 (an f16 scale and 16 bytes of codes per 32 weights),
 * plus one byte of zero point per group for asymmetric ones; fewer bits for larger
 * groups. Packing needs no particular CPU. */
static void test_qc4w_packed_bits(void **state) {
    const aq_qc4w_gemm_kernel *kern = *state;
    if (!kern->packed_size) skip();
    uint64_t rng = 0x5EED0004u;
    const size_t n = 3 * kern->n_tile, k = 256;
    static const size_t groups[] = {32, 64, 128};
    for (size_t ig = 0; ig < COUNT(groups); ig++) {
        for (int asym = 0; asym < 2; asym++) {
            struct aq_q4w w;
            q4w_make(&w, n, k, groups[ig], asym, FILL_RANDOM, &rng);
            const double bits = 8.0 * (double)kern->packed_size(&w) / (double)(n * k);
            const double q4_0_bits = 4.0 + 16.0 / 32.0, zero_bits = asym ? 8.0 / (double)groups[ig] : 0.0;
            if (groups[ig] == 32 && !asym) print_message("%s: %.3f bits per weight\n", kern->name, bits);
            assert_true(bits <= q4_0_bits + zero_bits);
            if (groups[ig] > 32) assert_true(bits < q4_0_bits + zero_bits);
            q4w_free(&w);
        }
    }
}

/* The kernel reads the sums of 32 codes when given (else the tests above, with
 * and without them, would pass with sums ignored): one sum off by one changes
 * token 0's results. Asymmetric weights, whose zero points every kernel
 * corrects with the sums (some fold symmetric weights' 8 into the codes). */
static void test_qc4w_sums_read(void **state) {
    const aq_qc4w_gemm_kernel *kern = *state;
    require(kern->isa, kern->name);
    uint64_t rng = 0x5EED0005u;
    const size_t m = kern->m_tile + 1, n = kern->n_tile + 1, k = 128;
    struct aq_q4w w;
    struct aq_qd8 a;
    q4w_make(&w, n, k, 32, true, FILL_RANDOM, &rng);
    qd8_make(&a, m, k, 8, false, FILL_RANDOM, &rng);
    void *packed = pack_for(kern, &w);
    float *ref = xcalloc(m * n, sizeof(float)), *out = xcalloc(m * n, sizeof(float));
    aq_qd8_qc4w_gemm_ref(m, 0, n, &a, &w, ref, n);
    struct aq_qd8 off = qd8_with_sums(&a);
    off.sum32[1]++;
    kern->gemm(m, 0, n, &off, &w, packed, out, n);
    assert_memory_not_equal(ref, out, n * sizeof(float));
    assert_memory_equal(ref + n, out + n, (m - 1) * n * sizeof(float));
    free(off.sum32);
    free(ref);
    free(out);
    free(packed);
    q4w_free(&w);
    qd8_free(&a);
}

/* ------------------------------------------------------------------------------
 * qd8 x qc3w: 3-bit weights (codes 4..11 in an aq_q4w, symmetric).
 */

/* Random 3-bit weights; FILL_EXTREME: codes 4 and 11 only (levels -4 and 3). */
static void q3w_make(struct aq_q4w *w, size_t n_rows, size_t k, size_t group, enum fill_mode mode, uint64_t *rng) {
    q4w_make(w, n_rows, k, group, false, FILL_RANDOM, rng);
    for (size_t i = 0; i < n_rows * k / 2; i++) {
        int c[2];
        for (int h = 0; h < 2; h++)
            c[h] = mode == FILL_EXTREME ? ((rng_next(rng) & 1) ? AQ_Q3W_CODE_MAX : AQ_Q3W_CODE_MIN)
                                        : rng_int(rng, AQ_Q3W_CODE_MIN, AQ_Q3W_CODE_MAX);
        w->q[i] = (uint8_t)(c[0] | c[1] << 4);
    }
}

/* As check_qc4w, against aq_qd8_qc3w_gemm_ref, which must itself agree with the
 * 4-bit reference on these codes (the format's definition, quant.h). */
static void check_qc3w(const aq_qc4w_gemm_kernel *kern, const struct aq_qd8 *a, const struct aq_q4w *w,
                       const void *packed, size_t m, size_t n_begin, size_t n_end, size_t out_stride,
                       const char *what) {
    float *ref = xcalloc(m * out_stride, sizeof(float)), *ref4 = xcalloc(m * out_stride, sizeof(float));
    fill_sentinel(ref, m * out_stride);
    fill_sentinel(ref4, m * out_stride);
    aq_qd8_qc3w_gemm_ref(m, n_begin, n_end, a, w, ref, out_stride);
    aq_qd8_qc4w_gemm_ref(m, n_begin, n_end, a, w, ref4, out_stride);
    assert_memory_equal(ref, ref4, m * out_stride * sizeof(float));
    expect_kernel_as_ref(kern, a, w, packed, ref, m, n_begin, n_end, out_stride, what);
    free(ref);
    free(ref4);
}

static void check_qc3w_ranges(const aq_qc4w_gemm_kernel *kern, size_t m, size_t n_rows, size_t k, size_t group,
                              int bits, bool nonzero_za, enum fill_mode mode, uint64_t *rng) {
    struct aq_q4w w;
    struct aq_qd8 a;
    q3w_make(&w, n_rows, k, group, mode, rng);
    qd8_make(&a, m, k, bits, nonzero_za, mode, rng);
    void *packed = pack_for(kern, &w);
    check_qc3w(kern, &a, &w, packed, m, 0, n_rows, n_rows + 3, "full");
    const size_t nb = n_rows > 2 * kern->n_tile ? kern->n_tile : 0;
    const size_t ne = n_rows % 2 ? n_rows : n_rows - 1;
    if (ne > nb) check_qc3w(kern, &a, &w, packed, m, nb, ne, n_rows + 5, "sub-range");
    free(packed);
    q4w_free(&w);
    qd8_free(&a);
}

/* Every shape around the kernel's tile, activations 8- and 4-bit, with zero and
 * nonzero zero points (cycling). */
static void test_qc3w_shapes(void **state) {
    const aq_qc4w_gemm_kernel *kern = *state;
    require(kern->isa, kern->name);
    size_t ms[7], ns[7];
    const size_t n_m = sizes_around(kern->m_tile, 17, ms), n_n = sizes_around(kern->n_tile, 64, ns);
    uint64_t rng = 0x5EED0031u;
    unsigned variant = 0;
    for (size_t im = 0; im < n_m; im++)
        for (size_t in = 0; in < n_n; in++)
            for (size_t ik = 0; ik < COUNT(qc4w_depths); ik++, variant++)
                check_qc3w_ranges(kern, ms[im], ns[in], qc4w_depths[ik].k, qc4w_depths[ik].group, variant & 1 ? 4 : 8,
                                  (variant >> 1) & 1, FILL_RANDOM, &rng);
}

/* k = 4096 for every group, and 16416 with group 32 (more than one group chunk). */
static void test_qc3w_long_k(void **state) {
    const aq_qc4w_gemm_kernel *kern = *state;
    require(kern->isa, kern->name);
    uint64_t rng = 0x5EED0032u;
    const size_t m = kern->m_tile + 1, n = 2 * kern->n_tile + 1;
    static const size_t groups[] = {32, 64, 128};
    for (size_t ig = 0; ig < COUNT(groups); ig++)
        for (int za = 0; za < 2; za++)
            check_qc3w_ranges(kern, za ? m : 1, n, 4096, groups[ig], 8, za, FILL_RANDOM, &rng);
    check_qc3w_ranges(kern, m, n, 16416, 32, 8, true, FILL_RANDOM, &rng);
    check_qc3w_ranges(kern, 1, n, 16416, 32, 8, false, FILL_RANDOM, &rng);
}

/* Codes 4/11 against activations -128/127 with za at the ends: the int16 bounds;
 * and all codes 11 (or 4) against all activations -128 (or 127). */
static void test_qc3w_extremes(void **state) {
    const aq_qc4w_gemm_kernel *kern = *state;
    require(kern->isa, kern->name);
    uint64_t rng = 0x5EED0033u;
    const size_t m = kern->m_tile + 1, n = kern->n_tile + 1;
    static const size_t groups[] = {32, 64, 128};
    for (size_t ig = 0; ig < COUNT(groups); ig++)
        for (int za = 0; za < 2; za++) check_qc3w_ranges(kern, m, n, 256, groups[ig], 8, za, FILL_EXTREME, &rng);
    for (int sign = 0; sign < 4; sign++) {
        struct aq_q4w w;
        struct aq_qd8 a;
        q3w_make(&w, n, 256, 128, FILL_RANDOM, &rng);
        qd8_make(&a, m, 256, 8, true, FILL_RANDOM, &rng);
        memset(w.q, sign & 2 ? 0xBB : 0x44, n * 128);
        memset(a.q, sign & 1 ? 0x7F : 0x80, m * 256);
        a.zero[0] = sign & 1 ? -128 : 127;
        a.zero[1] = 0;
        void *packed = pack_for(kern, &w);
        check_qc3w(kern, &a, &w, packed, m, 0, n, n, "all codes at one end");
        free(packed);
        q4w_free(&w);
        qd8_free(&a);
    }
}

/* The packed layout takes 3.5 bits a weight for groups of 32 (an f16 scale and
 * 12 bytes of codes per 32 weights), fewer for larger groups. */
static void test_qc3w_packed_bits(void **state) {
    const aq_qc4w_gemm_kernel *kern = *state;
    if (!kern->packed_size) skip();
    uint64_t rng = 0x5EED0034u;
    const size_t n = 3 * kern->n_tile, k = 256;
    static const size_t groups[] = {32, 64, 128};
    for (size_t ig = 0; ig < COUNT(groups); ig++) {
        struct aq_q4w w;
        q3w_make(&w, n, k, groups[ig], FILL_RANDOM, &rng);
        const double bits = 8.0 * (double)kern->packed_size(&w) / (double)(n * k);
        if (groups[ig] == 32) print_message("%s: %.3f bits per weight\n", kern->name, bits);
        assert_true(bits <= 3.0 + 16.0 / (double)groups[ig]);
        q4w_free(&w);
    }
}

/* ------------------------------------------------------------------------------
 * Float kernels.
 */
static void check_close(const float *out, const float *ref, const float *bound, size_t m, size_t n_begin, size_t n_end,
                        size_t out_stride, const char *what, size_t k) {
    for (size_t t = 0; t < m; t++)
        for (size_t r = 0; r < out_stride; r++) {
            const size_t i = t * out_stride + r;
            if (r < n_begin || r >= n_end) {
                if (memcmp(&out[i], &ref[i], sizeof(float)) != 0) {
                    print_error("%s k=%zu: wrote out[%zu][%zu] outside [%zu,%zu)\n", what, k, t, r, n_begin, n_end);
                    fail();
                }
            } else if (!(fabsf(out[i] - ref[i]) <= bound[i])) {
                print_error("%s m=%zu k=%zu: out[%zu][%zu] = %.9g, ref %.9g, bound %.3g\n", what, m, k, t, r,
                            (double)out[i], (double)ref[i], (double)bound[i]);
                fail();
            }
        }
}

static void check_f32_gemm(const char *name, aq_f32_gemm_fn fn, size_t m, size_t n_rows, size_t k, size_t n_begin,
                           size_t n_end, uint64_t *rng) {
    const size_t x_stride = k + 3, out_stride = n_rows + 2;
    float *x = xcalloc(m * x_stride, sizeof(float)), *w = xcalloc(n_rows * k, sizeof(float));
    for (size_t i = 0; i < m * x_stride; i++) x[i] = rng_float(rng);
    for (size_t i = 0; i < n_rows * k; i++) w[i] = rng_float(rng);
    float *ref = xcalloc(m * out_stride, sizeof(float)), *out = xcalloc(m * out_stride, sizeof(float));
    float *bound = xcalloc(m * out_stride, sizeof(float));
    fill_sentinel(ref, m * out_stride);
    fill_sentinel(out, m * out_stride);
    aq_f32_gemm_ref(m, n_begin, n_end, k, x, x_stride, w, ref, out_stride);
    fn(m, n_begin, n_end, k, x, x_stride, w, out, out_stride);
    for (size_t t = 0; t < m; t++)
        for (size_t r = n_begin; r < n_end; r++) {
            double s = 0.0;
            for (size_t e = 0; e < k; e++) s += fabs((double)x[t * x_stride + e] * w[r * k + e]);
            bound[t * out_stride + r] = (float)(2.0 * (double)(k + 8) * FLT_EPSILON * s);
        }
    check_close(out, ref, bound, m, n_begin, n_end, out_stride, name, k);
    free(x);
    free(w);
    free(ref);
    free(out);
    free(bound);
}

static void test_f32_gemm(void **state) {
    const aq_f32_gemm_kernel *kern = *state;
    require(kern->isa, kern->name);
    static const size_t ks[] = {1, 3, 7, 8, 9, 31, 32, 33, 100, 288};
    size_t ms[7], ns[7];
    const size_t n_m = sizes_around(kern->m_tile, 17, ms), n_n = sizes_around(kern->n_tile, 64, ns);
    uint64_t rng = 0x5EED0004u;
    for (size_t im = 0; im < n_m; im++)
        for (size_t in = 0; in < n_n; in++)
            for (size_t ik = 0; ik < COUNT(ks); ik++) {
                const size_t n = ns[in];
                check_f32_gemm(kern->name, kern->fn, ms[im], n, ks[ik], 0, n, &rng);
                if (n > 2) check_f32_gemm(kern->name, kern->fn, ms[im], n, ks[ik], 1, n - 1, &rng);
            }
    check_f32_gemm(kern->name, kern->fn, 3, 17, 4096, 0, 17, &rng);
}

static void check_f32_qc4w(const char *name, aq_f32_qc4w_gemm_fn fn, size_t m, size_t n_rows, size_t k, size_t group,
                           bool asym, size_t n_begin, size_t n_end, uint64_t *rng) {
    const size_t x_stride = k + 5, out_stride = n_rows + 1, groups = k / group;
    struct aq_q4w w;
    q4w_make(&w, n_rows, k, group, asym, FILL_RANDOM, rng);
    float *x = xcalloc(m * x_stride, sizeof(float));
    for (size_t i = 0; i < m * x_stride; i++) x[i] = rng_float(rng);
    float *ref = xcalloc(m * out_stride, sizeof(float)), *out = xcalloc(m * out_stride, sizeof(float));
    float *bound = xcalloc(m * out_stride, sizeof(float));
    fill_sentinel(ref, m * out_stride);
    fill_sentinel(out, m * out_stride);
    aq_f32_qc4w_gemm_ref(m, n_begin, n_end, x, x_stride, &w, ref, out_stride);
    fn(m, n_begin, n_end, x, x_stride, &w, out, out_stride);
    for (size_t t = 0; t < m; t++)
        for (size_t r = n_begin; r < n_end; r++) {
            double s = 0.0;
            for (size_t e = 0; e < k; e++) {
                const uint8_t byte = w.q[r * (k / 2) + e / 2];
                const int code = (e & 1) ? byte >> 4 : byte & 0xF;
                const int zero = asym ? w.zero[r * groups + e / group] : AQ_Q4W_SYMMETRIC_ZERO;
                const double wv = aq_fp16_to_fp32(w.scale[r * groups + e / group]) * (double)(code - zero);
                s += fabs((double)x[t * x_stride + e] * wv);
            }
            bound[t * out_stride + r] = (float)(2.0 * (double)(k + 8) * FLT_EPSILON * s);
        }
    check_close(out, ref, bound, m, n_begin, n_end, out_stride, name, k);
    q4w_free(&w);
    free(x);
    free(ref);
    free(out);
    free(bound);
}

static void test_f32_qc4w_gemm(void **state) {
    const aq_f32_qc4w_gemm_kernel *kern = *state;
    require(kern->isa, kern->name);
    size_t ms[7], ns[7];
    const size_t n_m = sizes_around(kern->m_tile, 17, ms), n_n = sizes_around(kern->n_tile, 64, ns);
    uint64_t rng = 0x5EED0005u;
    unsigned variant = 0;
    for (size_t im = 0; im < n_m; im++)
        for (size_t in = 0; in < n_n; in++)
            for (size_t ik = 0; ik < COUNT(qc4w_depths); ik++, variant++) {
                const size_t k = qc4w_depths[ik].k, group = qc4w_depths[ik].group, n = ns[in];
                check_f32_qc4w(kern->name, kern->fn, ms[im], n, k, group, variant & 1, 0, n, &rng);
                if (n > 2) check_f32_qc4w(kern->name, kern->fn, ms[im], n, k, group, !(variant & 1), 1, n - 1, &rng);
            }
    check_f32_qc4w(kern->name, kern->fn, 5, 17, 4096, 128, true, 0, 17, &rng);
}

/* ------------------------------------------------------------------------------
 * llama.cpp block dots: bit-exact. 1..40 blocks covers every tail of a kernel
 * that takes 8 blocks at a time, several times over.
 */
static void make_q8_0(block_q8_0 *b, size_t n_blocks, uint64_t *rng, bool extreme) {
    for (size_t i = 0; i < n_blocks; i++) {
        b[i].d = aq_fp32_to_fp16(0.01f * rng_float(rng));
        for (size_t j = 0; j < AQ_QK8_0; j++)
            b[i].qs[j] = (int8_t)(extreme ? ((rng_next(rng) & 1) ? -128 : 127) : rng_int(rng, -128, 127));
    }
}

static void make_q4_0(block_q4_0 *b, size_t n_blocks, uint64_t *rng, bool extreme) {
    for (size_t i = 0; i < n_blocks; i++) {
        b[i].d = aq_fp32_to_fp16(0.05f * rng_float(rng));
        for (size_t j = 0; j < AQ_QK4_0 / 2; j++)
            b[i].qs[j] = extreme ? ((rng_next(rng) & 1) ? 0x00 : 0x0F) : (uint8_t)rng_next(rng);
    }
}

static void check_same(const char *name, size_t n_blocks, float out, float ref) {
    if (memcmp(&ref, &out, sizeof ref) != 0) {
        print_error("%s blocks=%zu: %a != ref %a\n", name, n_blocks, (double)out, (double)ref);
        fail();
    }
}

static void test_q4_0_q8_0_dot(void **state) {
    const aq_q4_0_q8_0_dot_kernel *kern = *state;
    require(kern->isa, kern->name);
    uint64_t rng = 0x5EED0006u;
    for (size_t n_blocks = 1; n_blocks <= 40; n_blocks++)
        for (int extreme = 0; extreme < 2; extreme++) {
            block_q4_0 *x = xcalloc(n_blocks, sizeof *x);
            block_q8_0 *y = xcalloc(n_blocks, sizeof *y);
            make_q4_0(x, n_blocks, &rng, extreme);
            make_q8_0(y, n_blocks, &rng, extreme);
            check_same(kern->name, n_blocks, kern->fn(n_blocks * 32, x, y), aq_q4_0_q8_0_dot_ref(n_blocks * 32, x, y));
            free(x);
            free(y);
        }
}

static void test_q8_0_q8_0_dot(void **state) {
    const aq_q8_0_q8_0_dot_kernel *kern = *state;
    require(kern->isa, kern->name);
    uint64_t rng = 0x5EED0007u;
    for (size_t n_blocks = 1; n_blocks <= 40; n_blocks++)
        for (int extreme = 0; extreme < 2; extreme++) {
            block_q8_0 *x = xcalloc(n_blocks, sizeof *x), *y = xcalloc(n_blocks, sizeof *y);
            make_q8_0(x, n_blocks, &rng, extreme);
            make_q8_0(y, n_blocks, &rng, extreme);
            check_same(kern->name, n_blocks, kern->fn(n_blocks * 32, x, y), aq_q8_0_q8_0_dot_ref(n_blocks * 32, x, y));
            free(x);
            free(y);
        }
}

/* ------------------------------------------------------------------------------
 * Block GEMMs of llama.cpp's formats (one list for every weight type): every
 * output bit for bit its type's reference dot, on m, n and k around the tiles
 * (1..7 blocks, token and row tails, sub-ranges as threads get them), weight rows
 * only 2-byte aligned as in a GGUF file, and entries outside the range untouched.
 */

/* The lower-case names the kernel names use ("q4_k", "q8_k"), NULL for a type
 * without one. */
static const char *type_tag(uint32_t type) {
    switch (type) {
    case AQ_GGML_F16:
        return "f16";
    case AQ_GGML_BF16:
        return "bf16";
    case AQ_GGML_Q4_0:
        return "q4_0";
    case AQ_GGML_Q4_1:
        return "q4_1";
    case AQ_GGML_Q5_0:
        return "q5_0";
    case AQ_GGML_Q5_1:
        return "q5_1";
    case AQ_GGML_Q8_0:
        return "q8_0";
    case AQ_GGML_Q8_1:
        return "q8_1";
    case AQ_GGML_Q2_K:
        return "q2_k";
    case AQ_GGML_Q3_K:
        return "q3_k";
    case AQ_GGML_Q4_K:
        return "q4_k";
    case AQ_GGML_Q5_K:
        return "q5_k";
    case AQ_GGML_Q6_K:
        return "q6_k";
    case AQ_GGML_Q8_K:
        return "q8_k";
    case AQ_GGML_IQ4_NL:
        return "iq4_nl";
    case AQ_GGML_IQ4_XS:
        return "iq4_xs";
    default:
        return NULL;
    }
}

static void put_half(uint8_t *p, float v) {
    const uint16_t h = aq_fp32_to_fp16(v);
    memcpy(p, &h, sizeof h);
}

/* Byte offsets of the f16 scale fields of a weight block (block-types.h layouts):
 * written with finite values, every other byte random. Returns how many. */
static size_t weight_half_fields(uint32_t type, size_t off[2]) {
    switch (type) {
    case AQ_GGML_Q4_0:
    case AQ_GGML_Q5_0:
    case AQ_GGML_Q8_0:
    case AQ_GGML_IQ4_NL:
    case AQ_GGML_IQ4_XS:
        off[0] = 0;
        return 1;
    case AQ_GGML_Q4_1:
    case AQ_GGML_Q5_1:
    case AQ_GGML_Q4_K:
    case AQ_GGML_Q5_K:
        off[0] = 0, off[1] = 2;
        return 2;
    case AQ_GGML_Q2_K:
        off[0] = offsetof(block_q2_K, d), off[1] = offsetof(block_q2_K, dmin);
        return 2;
    case AQ_GGML_Q3_K:
        off[0] = offsetof(block_q3_K, d);
        return 1;
    case AQ_GGML_Q6_K:
        off[0] = offsetof(block_q6_K, d);
        return 1;
    default:
        print_error("no test blocks for weight type %u: add it to weight_half_fields\n", (unsigned)type);
        fail();
        return 0;
    }
}

/* n_blocks weight blocks of type: random bytes (extreme: every byte 0x00 or 0xFF,
 * the largest codes and scales), f16 scales finite, of either sign, sometimes 0 or
 * subnormal. */
static void make_weight_blocks(uint32_t type, uint8_t *p, size_t n_blocks, uint64_t *rng, bool extreme) {
    const aq_block_type *bt = aq_block_type_get(type);
    assert_non_null(bt);
    for (size_t i = 0; i < n_blocks * bt->block_bytes; i++)
        p[i] = extreme ? ((rng_next(rng) & 1) ? 0xFF : 0x00) : (uint8_t)rng_next(rng);
    size_t off[2];
    const size_t n_off = weight_half_fields(type, off);
    for (size_t b = 0; b < n_blocks; b++)
        for (size_t j = 0; j < n_off; j++) {
            const int kind = rng_int(rng, 0, 15);
            put_half(p + b * bt->block_bytes + off[j], kind == 0   ? 0.0f
                                                       : kind == 1 ? 0x1p-20f * rng_float(rng)
                                                                   : 0.05f * rng_float(rng));
        }
}

/* n_blocks activation blocks of act_type: codes anywhere in int8 (extreme: -128 /
 * 127 only), scales finite; Q8_K's bsums the true sums half the time, else any
 * int16 (the dots that read them must read them, not recompute them). */
static void make_act_blocks(uint32_t act_type, uint8_t *p, size_t n_blocks, uint64_t *rng, bool extreme) {
    const size_t bytes = aq_act_row_bytes(act_type, n_blocks * (act_type == AQ_GGML_Q8_K ? AQ_QK_K : AQ_QK8_0));
    assert_int_not_equal(bytes, 0);
    const size_t block_bytes = bytes / n_blocks;
    for (size_t b = 0; b < n_blocks; b++) {
        uint8_t *blk = p + b * block_bytes;
        const size_t qs = act_type == AQ_GGML_Q8_0 ? 2 : 4, n_qs = act_type == AQ_GGML_Q8_K ? AQ_QK_K : AQ_QK8_0;
        for (size_t j = 0; j < n_qs; j++)
            blk[qs + j] = (uint8_t)(extreme ? ((rng_next(rng) & 1) ? 0x80 : 0x7F) : rng_next(rng));
        if (act_type == AQ_GGML_Q8_K) {
            const float d = rng_int(rng, 0, 15) == 0 ? 0.0f : 0.01f * rng_float(rng);
            memcpy(blk, &d, sizeof d);
            const bool true_sums = rng_next(rng) & 1;
            for (size_t g = 0; g < AQ_QK_K / 16; g++) {
                int32_t sum = 0;
                for (size_t j = 0; j < 16; j++) sum += (int8_t)blk[qs + 16 * g + j];
                const int16_t v = (int16_t)(true_sums ? sum
                                            : extreme ? ((rng_next(rng) & 1) ? -32768 : 32767)
                                                      : rng_int(rng, -32768, 32767));
                memcpy(blk + offsetof(block_q8_K, bsums) + 2 * g, &v, sizeof v);
            }
        } else {
            put_half(blk, rng_int(rng, 0, 15) == 0 ? 0.0f : 0.01f * rng_float(rng));
            if (act_type == AQ_GGML_Q8_1) put_half(blk + 2, 0.5f * rng_float(rng));
        }
    }
}

/* One comparison: rows [n_begin, n_end) of n_rows for m tokens over n_blocks blocks. */
static void check_block_gemm(const aq_block_gemm_kernel *kern, size_t m, size_t n_rows, size_t n_blocks, size_t n_begin,
                             size_t n_end, bool extreme, uint64_t *rng) {
    const aq_block_type *bt = aq_block_type_get(kern->type);
    const size_t k = n_blocks * bt->block_elems, w_row = n_blocks * bt->block_bytes;
    const size_t a_row = aq_act_row_bytes(bt->act_type, k), out_stride = n_rows + 3;
    /* + 2: weight rows only 2-byte aligned, as in a GGUF file. */
    uint8_t *w_buf = xcalloc(n_rows * w_row + 2, 1), *w = w_buf + 2;
    uint8_t *a = xcalloc(m * a_row, 1);
    make_weight_blocks(kern->type, w, n_rows * n_blocks, rng, extreme);
    make_act_blocks(bt->act_type, a, m * n_blocks, rng, extreme);
    float *ref = xcalloc(m * out_stride, sizeof(float)), *out = xcalloc(m * out_stride, sizeof(float));
    fill_sentinel(ref, m * out_stride);
    fill_sentinel(out, m * out_stride);
    for (size_t t = 0; t < m; t++)
        for (size_t r = n_begin; r < n_end; r++) ref[t * out_stride + r] = bt->dot(k, w + r * w_row, a + t * a_row);
    kern->fn(m, n_begin, n_end, k, w, w_row, a, a_row, out, out_stride);
    if (memcmp(ref, out, m * out_stride * sizeof(float)) != 0) {
        for (size_t i = 0; i < m * out_stride; i++) {
            if (memcmp(&ref[i], &out[i], sizeof(float)) != 0) {
                print_error("%s: m=%zu n=%zu blocks=%zu rows [%zu,%zu) extreme=%d: out[%zu][%zu] = %a, ref %a\n",
                            kern->name, m, n_rows, n_blocks, n_begin, n_end, extreme, i / out_stride, i % out_stride,
                            (double)out[i], (double)ref[i]);
                break;
            }
        }
        fail();
    }
    free(w_buf);
    free(a);
    free(ref);
    free(out);
}

/* Tokens and rows around the tiles: m up to 2 * m_tile + 1, n across several row
 * tiles of every token tile's width; 1..7 blocks, a longer row, extremes. */
static void test_block_gemm(void **state) {
    const aq_block_gemm_kernel *kern = *state;
    require(kern->isa, kern->name);
    uint64_t rng = 0x5EED0009u ^ kern->type;
    static const size_t ms[] = {1, 2, 3, 4, 5, 7, 9}, ns[] = {1, 2, 7, 8, 9, 17};
    unsigned variant = 0;
    for (size_t im = 0; im < COUNT(ms); im++)
        for (size_t in = 0; in < COUNT(ns); in++)
            for (size_t nb = 1; nb <= 7; nb++, variant++) {
                const size_t n = ns[in];
                check_block_gemm(kern, ms[im], n, nb, 0, n, false, &rng);
                if (n > 2 && variant % 3 == 0) check_block_gemm(kern, ms[im], n, nb, 1, n - 1, false, &rng);
                if (variant % 5 == 0) check_block_gemm(kern, ms[im], n, nb, 0, n, true, &rng);
            }
    const size_t long_blocks = aq_block_type_get(kern->type)->block_elems == AQ_QK_K ? 17 : 131;
    check_block_gemm(kern, 6, 19, long_blocks, 0, 19, false, &rng);
    check_block_gemm(kern, 1, 19, long_blocks, 3, 18, true, &rng);
}

/* Repacked groups of 8 rows: the source rows packed by the entry's packer, rows
 * [n_begin, n_end) (multiples of 8) for m tokens against the type's reference dot
 * on the source rows; every other out entry untouched. */
static void check_block_gemm_x8(const aq_block_gemm_x8_kernel *kern, size_t m, size_t n_rows, size_t n_blocks,
                                size_t n_begin, size_t n_end, bool extreme, uint64_t *rng) {
    const aq_block_type *bt = aq_block_type_get(kern->type);
    const size_t k = n_blocks * bt->block_elems, w_row = n_blocks * bt->block_bytes;
    const size_t a_row = aq_act_row_bytes(bt->act_type, k), out_stride = n_rows + 3;
    const size_t groups = n_rows / AQ_X8_ROWS;
    uint8_t *w_buf = xcalloc(n_rows * w_row + 2, 1), *w = w_buf + 2; /* rows 2-byte aligned, as in a file */
    uint8_t *packed = xcalloc(groups * AQ_X8_ROWS * w_row, 1);
    uint8_t *a = xcalloc(m * a_row, 1);
    make_weight_blocks(kern->type, w, n_rows * n_blocks, rng, extreme);
    make_act_blocks(bt->act_type, a, m * n_blocks, rng, extreme);
    kern->pack(n_rows, n_blocks, w, w_row, packed);
    float *ref = xcalloc(m * out_stride, sizeof(float)), *out = xcalloc(m * out_stride, sizeof(float));
    fill_sentinel(ref, m * out_stride);
    fill_sentinel(out, m * out_stride);
    for (size_t t = 0; t < m; t++)
        for (size_t r = n_begin; r < n_end; r++) ref[t * out_stride + r] = bt->dot(k, w + r * w_row, a + t * a_row);
    kern->fn(m, n_begin, n_end, k, packed, w_row, a, a_row, out, out_stride);
    if (memcmp(ref, out, m * out_stride * sizeof(float)) != 0) {
        for (size_t i = 0; i < m * out_stride; i++) {
            if (memcmp(&ref[i], &out[i], sizeof(float)) != 0) {
                print_error("%s: m=%zu n=%zu blocks=%zu rows [%zu,%zu) extreme=%d: out[%zu][%zu] = %a, ref %a\n",
                            kern->name, m, n_rows, n_blocks, n_begin, n_end, extreme, i / out_stride, i % out_stride,
                            (double)out[i], (double)ref[i]);
                break;
            }
        }
        fail();
    }
    free(w_buf);
    free(packed);
    free(a);
    free(ref);
    free(out);
}

/* m = 1..9 (a full tile, every smaller one, a tile and a tail), 1..5 groups of 8
 * rows with a few rows left over (the packer leaves them alone), 1..7 blocks and
 * a long row of 131, sub-ranges as threads get them, extremes. The reference
 * entry is tested too: it is the answer key of the others and reads its own
 * layout, so it must agree with the source rows' dot. */
static void test_block_gemm_x8(void **state) {
    const aq_block_gemm_x8_kernel *kern = *state;
    require(kern->isa, kern->name);
    uint64_t rng = 0x5EED000Au ^ kern->type;
    static const size_t ns[] = {8, 13, 16, 24, 47};
    unsigned variant = 0;
    for (size_t m = 1; m <= 9; m++)
        for (size_t in = 0; in < COUNT(ns); in++)
            for (size_t nb = 1; nb <= 7; nb++, variant++) {
                const size_t n = ns[in], whole = n / AQ_X8_ROWS * AQ_X8_ROWS;
                check_block_gemm_x8(kern, m, n, nb, 0, whole, false, &rng);
                if (whole >= 24 && variant % 3 == 0) check_block_gemm_x8(kern, m, n, nb, 8, whole - 8, false, &rng);
                if (variant % 4 == 0) check_block_gemm_x8(kern, m, n, nb, 0, whole, true, &rng);
            }
    check_block_gemm_x8(kern, 6, 40, 131, 0, 40, false, &rng);
    check_block_gemm_x8(kern, 1, 43, 131, 8, 40, true, &rng);
    check_block_gemm_x8(kern, 64, 16, 9, 0, 16, false, &rng);
}

/* Activation quantizers: bit for bit aq_act_quantize_ref on 1..7 blocks of random
 * values, rows with ties (x * id exactly k + 1/2 for Q8_0 / Q8_1's roundf; halves
 * for Q8_K's round-to-even), zero blocks, a lone extreme, and wide ranges. */
static void check_act_quantize(const aq_act_quantize_kernel *kern, const float *x, size_t n) {
    const size_t bytes = aq_act_row_bytes(kern->type, n);
    uint8_t *ref = xcalloc(bytes, 1), *out = xcalloc(bytes, 1);
    memset(ref, 0xA5, bytes);
    memset(out, 0xA5, bytes);
    aq_act_quantize_ref(kern->type, x, n, ref);
    kern->fn(x, n, out);
    if (memcmp(ref, out, bytes) != 0) {
        for (size_t i = 0; i < bytes; i++)
            if (ref[i] != out[i]) {
                print_error("%s: n=%zu: byte %zu = 0x%02x, ref 0x%02x\n", kern->name, n, i, out[i], ref[i]);
                break;
            }
        fail();
    }
    free(ref);
    free(out);
}

static void test_act_quantize(void **state) {
    const aq_act_quantize_kernel *kern = *state;
    require(kern->isa, kern->name);
    const size_t block = kern->type == AQ_GGML_Q8_K ? AQ_QK_K : AQ_QK8_0;
    uint64_t rng = 0x5EED000Au ^ kern->type;
    for (size_t nb = 1; nb <= 7; nb++)
        for (int mode = 0; mode < 6; mode++) {
            const size_t n = nb * block;
            float *x = xcalloc(n, sizeof(float));
            for (size_t i = 0; i < n; i++) {
                switch (mode) {
                case 0:
                    x[i] = rng_float(&rng);
                    break;
                case 1:
                    x[i] = 1e-3f * rng_float(&rng) * (float)(1 + rng_int(&rng, 0, 1000));
                    break;
                /* Multiples of 1/2 up to 127 with a block maximum of 127: x * id hits every tie. */
                case 2:
                    x[i] = (i % block == 0) ? 127.0f : 0.5f * (float)rng_int(&rng, -254, 254);
                    break;
                /* The same with the maximum negative: Q8_K's iscale is then positive. */
                case 3:
                    x[i] = (i % block == 1) ? -127.0f : 0.5f * (float)rng_int(&rng, -254, 254);
                    break;
                /* Zero blocks, and blocks of one non-zero value. */
                case 4:
                    x[i] = (i / block) % 2 ? 0.0f : (i % block == 7 ? -3.5f : 0.0f);
                    break;
                /* Wide ranges and subnormals. */
                default:
                    x[i] = ldexpf(rng_float(&rng), rng_int(&rng, -140, 100));
                    break;
                }
            }
            check_act_quantize(kern, x, n);
            free(x);
        }
}

/* Dynamic qd8 quantizers: bit for bit aq_qd8_quantize_dynamic_ref (codes, scales,
 * zero points) at 8 and 4 bits, on row lengths around the SIMD widths and tails,
 * strided rows, and rows with ties (x / scale exactly k + 1/2: nearbyintf's
 * round-to-even), zeros, NaN and infinities, subnormals and wide ranges. */
static void check_qd8_quantize(const aq_qd8_quantize_kernel *kern, const float *x, size_t n_rows, size_t k,
                               size_t stride, int bits) {
    struct aq_qd8 ref = {0}, out = {0};
    struct aq_qd8 *both[] = {&ref, &out};
    for (size_t i = 0; i < 2; i++) {
        both[i]->q = xcalloc(n_rows * k + 1, 1);
        both[i]->scale = xcalloc(n_rows, sizeof(float));
        both[i]->zero = xcalloc(n_rows, sizeof(int32_t));
        memset(both[i]->q, 0x5A, n_rows * k + 1);
        memset(both[i]->zero, 0x5A, n_rows * sizeof(int32_t));
    }
    assert_true(aq_qd8_quantize_dynamic_ref(x, n_rows, k, stride, bits, &ref));
    assert_true(kern->fn(x, n_rows, k, stride, bits, &out));
    assert_int_equal(out.n_rows, n_rows);
    assert_int_equal(out.k, k);
    for (size_t t = 0; t < n_rows; t++) {
        if (memcmp(&ref.scale[t], &out.scale[t], sizeof(float)) != 0 || ref.zero[t] != out.zero[t]) {
            print_error("%s: k=%zu bits=%d row %zu: scale %a zero %d, ref %a %d\n", kern->name, k, bits, t,
                        (double)out.scale[t], out.zero[t], (double)ref.scale[t], ref.zero[t]);
            fail();
        }
    }
    for (size_t i = 0; i < n_rows * k + 1; i++)
        if (ref.q[i] != out.q[i]) {
            print_error("%s: k=%zu bits=%d: code %zu = %d, ref %d\n", kern->name, k, bits, i, out.q[i], ref.q[i]);
            fail();
        }
    for (size_t i = 0; i < 2; i++) {
        free(both[i]->q);
        free(both[i]->scale);
        free(both[i]->zero);
    }
}

static void test_qd8_quantize(void **state) {
    const aq_qd8_quantize_kernel *kern = *state;
    require(kern->isa, kern->name);
    uint64_t rng = 0x5EED00D8u;
    const size_t ks[] = {1, 3, 4, 7, 8, 9, 31, 32, 33, 63, 64, 65, 100, 2048, 2051};
    for (size_t ik = 0; ik < COUNT(ks); ik++)
        for (int bits = 4; bits <= 8; bits += 4)
            for (int mode = 0; mode < 6; mode++) {
                const size_t k = ks[ik], n_rows = 3, stride = k + (mode % 2);
                float *x = xcalloc(n_rows * stride, sizeof(float));
                const float qmax = bits == 8 ? 127.0f : 7.0f;
                for (size_t i = 0; i < n_rows * stride; i++) {
                    switch (mode) {
                    case 0:
                        x[i] = rng_float(&rng);
                        break;
                    /* Multiples of 1/2 with a row maximum of qmax: x / scale hits every tie. */
                    case 1:
                        x[i] = i % stride == k / 2 ? -qmax : 0.5f * (float)rng_int(&rng, -2 * (int)qmax, 2 * (int)qmax);
                        break;
                    /* Zero rows, and rows of one non-zero value. */
                    case 2:
                        x[i] = (i / stride) % 2 ? 0.0f : (i % stride == k - 1 ? -3.5f : 0.0f);
                        break;
                    /* A NaN and an infinity in some rows (an infinite maximum: scale inf, codes NaN -> qmin). */
                    case 3:
                        x[i] = rng_float(&rng);
                        if (i % stride == k / 3) x[i] = (i / stride) == 1 ? INFINITY : NAN;
                        if (i % stride == k - 1 && i / stride == 2) x[i] = -INFINITY;
                        break;
                    /* Wide ranges and subnormals. */
                    default:
                        x[i] = ldexpf(rng_float(&rng), rng_int(&rng, -140, 100));
                        break;
                    }
                }
                check_qd8_quantize(kern, x, n_rows, k, stride, bits);
                free(x);
            }
    /* Other widths are refused, as by the reference. */
    struct aq_qd8 a = {0};
    float one = 1.0f;
    assert_false(kern->fn(&one, 1, 1, 1, 5, &a));
}

/* Group-wise qd8 quantizers: bit for bit their list's reference (codes, every
 * scale, the zero points, and a sentinel past each array that neither may touch),
 * at 8 and 4 bits, on groups of 1 to 128 (32, 64, 128 and lengths with SIMD
 * tails) times 1 to 5 groups, 1 to 9 rows, odd row strides, and data per group:
 * random; ties (values x / scale exactly m + 1/2, and asymmetric zero points
 * -lo / scale on a half); zero groups (scale 0), -0, one non-zero value; NaN and
 * infinities; huge values (an asymmetric range past FLT_MAX: scale inf); tiny ones
 * (subnormal or underflowing scales). */
enum grouped_data { GROUPED_RANDOM, GROUPED_TIES, GROUPED_ZEROS, GROUPED_NAN_INF, GROUPED_HUGE, GROUPED_TINY };
#define GROUPED_DATA_COUNT 6

/* One group of n values of x (n >= 1) as `data` says; sym_ties: ties on the
 * symmetric grid of qmax (else on the asymmetric one). */
static void fill_group(float *x, size_t n, enum grouped_data data, bool sym_ties, float qmax, uint64_t *rng) {
    const size_t at = (size_t)rng_int(rng, 0, (int)n - 1), other = (size_t)rng_int(rng, 0, (int)n - 1);
    switch (data) {
    case GROUPED_RANDOM:
        for (size_t i = 0; i < n; i++) x[i] = rng_float(rng);
        break;
    case GROUPED_TIES: {
        /* Power-of-two scales: every quotient exact. Symmetric: amax qmax 2^e,
         * scale 2^e, values on halves of it. Asymmetric: lo = -h / 2 and hi = lo + 15
         * (times 2^e), scale 2^e, zero point h / 2 (a tie for odd h). */
        const float unit = ldexpf(1.0f, rng_int(rng, -3, 3));
        const int h = rng_int(rng, 0, 30);
        for (size_t i = 0; i < n; i++)
            x[i] = sym_ties ? unit * 0.5f * (float)rng_int(rng, -2 * (int)qmax, 2 * (int)qmax)
                            : unit * 0.5f * (float)(rng_int(rng, 0, 30) - h);
        if (sym_ties) {
            x[at] = (rng_next(rng) & 1) ? -qmax * unit : qmax * unit;
        } else {
            x[other] = unit * 0.5f * (float)(30 - h);
            x[at] = -unit * 0.5f * (float)h;
        }
        break;
    }
    case GROUPED_ZEROS: {
        const int kind = rng_int(rng, 0, 2);
        for (size_t i = 0; i < n; i++) x[i] = (i % 2) ? -0.0f : 0.0f;
        if (kind == 1) x[at] = -3.5f;
        if (kind == 2) x[at] = 3.5f;
        break;
    }
    case GROUPED_NAN_INF: {
        const int kind = rng_int(rng, 0, 5);
        for (size_t i = 0; i < n; i++) x[i] = kind == 4 ? NAN : rng_float(rng);
        if (kind == 1 || kind == 5) x[at] = NAN;
        if (kind == 2) x[at] = INFINITY;
        if (kind == 3 || kind == 5) x[other] = -INFINITY;
        break;
    }
    case GROUPED_HUGE:
        for (size_t i = 0; i < n; i++) x[i] = ldexpf(rng_float(rng), rng_int(rng, 100, 128));
        if (n > 1) {
            x[at] = FLT_MAX;
            x[other] = at == other ? FLT_MAX : -FLT_MAX;
        }
        break;
    default:
        for (size_t i = 0; i < n; i++) x[i] = ldexpf(rng_float(rng), rng_int(rng, -150, -110));
        break;
    }
}

/* fn against ref on x (n_rows rows of k, stride apart, in groups of group). */
static void check_qd8_grouped(const char *name, aq_qd8_quantize_grouped_fn fn, aq_qd8_quantize_grouped_fn ref_fn,
                              const float *x, size_t n_rows, size_t k, size_t stride, int bits, size_t group) {
    const size_t scales = n_rows * (k / group);
    struct aq_qd8 ref = {0}, out = {0};
    struct aq_qd8 *both[] = {&ref, &out};
    for (size_t i = 0; i < 2; i++) {
        both[i]->q = xcalloc(n_rows * k + 1, 1);
        both[i]->scale = xcalloc(scales + 1, sizeof(float));
        both[i]->zero = xcalloc(n_rows + 1, sizeof(int32_t));
        memset(both[i]->q, 0x5A, n_rows * k + 1);
        fill_sentinel(both[i]->scale, scales + 1);
        memset(both[i]->zero, 0x5A, (n_rows + 1) * sizeof(int32_t));
    }
    assert_true(ref_fn(x, n_rows, k, stride, bits, group, &ref));
    assert_true(fn(x, n_rows, k, stride, bits, group, &out));
    assert_int_equal(out.n_rows, n_rows);
    assert_int_equal(out.k, k);
    assert_int_equal(out.group, group);
    for (size_t i = 0; i < scales + 1; i++)
        if (memcmp(&ref.scale[i], &out.scale[i], sizeof(float)) != 0) {
            print_error("%s: k=%zu group=%zu bits=%d rows=%zu: scale %zu = %a, ref %a\n", name, k, group, bits, n_rows,
                        i, (double)out.scale[i], (double)ref.scale[i]);
            fail();
        }
    for (size_t i = 0; i < n_rows * k + 1; i++)
        if (ref.q[i] != out.q[i]) {
            print_error("%s: k=%zu group=%zu bits=%d rows=%zu: code %zu (x %a) = %d, ref %d\n", name, k, group, bits,
                        n_rows, i, i < n_rows * k ? (double)x[i / k * stride + i % k] : 0.0, out.q[i], ref.q[i]);
            fail();
        }
    assert_memory_equal(ref.zero, out.zero, (n_rows + 1) * sizeof(int32_t));
    for (size_t i = 0; i < 2; i++) {
        free(both[i]->q);
        free(both[i]->scale);
        free(both[i]->zero);
    }
}

/* The reference of kern's list: the last entry of whichever list holds it. */
static aq_qd8_quantize_grouped_fn grouped_ref_of(const aq_qd8_quantize_grouped_kernel *kern, bool *asym) {
    for (size_t i = 0; i < aq_qd8_quantize_grouped_asym_list_size; i++)
        if (kern == &aq_qd8_quantize_grouped_asym_list[i]) {
            *asym = true;
            return aq_qd8_quantize_grouped_asym_list[aq_qd8_quantize_grouped_asym_list_size - 1].fn;
        }
    *asym = false;
    return aq_qd8_quantize_grouped_list[aq_qd8_quantize_grouped_list_size - 1].fn;
}

/* Rows of n_groups groups, each group filled as data says. */
static void check_qd8_grouped_data(const aq_qd8_quantize_grouped_kernel *kern, aq_qd8_quantize_grouped_fn ref_fn,
                                   bool asym, size_t n_rows, size_t group, size_t n_groups, size_t pad, int bits,
                                   enum grouped_data data, uint64_t *rng) {
    const size_t k = group * n_groups, stride = k + pad;
    float *x = xcalloc(n_rows * stride, sizeof(float));
    for (size_t t = 0; t < n_rows; t++) {
        for (size_t g = 0; g < n_groups; g++)
            fill_group(x + t * stride + g * group, group, data, !asym || bits == 8, bits == 8 ? 127.0f : 7.0f, rng);
        for (size_t i = k; i < stride; i++) x[t * stride + i] = NAN; /* outside the row: never read */
    }
    check_qd8_grouped(kern->name, kern->fn, ref_fn, x, n_rows, k, stride, bits, group);
    free(x);
}

static void test_qd8_quantize_grouped(void **state) {
    const aq_qd8_quantize_grouped_kernel *kern = *state;
    require(kern->isa, kern->name);
    bool asym;
    const aq_qd8_quantize_grouped_fn ref_fn = grouped_ref_of(kern, &asym);
    uint64_t rng = asym ? 0x5EED00A5u : 0x5EED00A6u;
    const size_t groups[] = {1, 3, 4, 7, 8, 12, 32, 40, 64, 100, 128};
    const size_t counts[] = {1, 2, 3, 5};
    unsigned variant = 0;
    for (size_t ig = 0; ig < COUNT(groups); ig++)
        for (size_t ic = 0; ic < COUNT(counts); ic++)
            for (int bits = 4; bits <= 8; bits += 4)
                for (int data = 0; data < GROUPED_DATA_COUNT; data++, variant++)
                    check_qd8_grouped_data(kern, ref_fn, asym, 1 + variant % 9, groups[ig], counts[ic],
                                           (variant / 9) % 2 ? 3 : 0, bits, (enum grouped_data)data, &rng);
    /* TinyLlama's rows (k 2048 and 5632) in groups of 32, 64 and 128. */
    for (size_t group = 32; group <= 128; group *= 2)
        for (int data = 0; data < GROUPED_DATA_COUNT; data++) {
            check_qd8_grouped_data(kern, ref_fn, asym, 3, group, 2048 / group, 1, 4, (enum grouped_data)data, &rng);
            if (5632 % group == 0)
                check_qd8_grouped_data(kern, ref_fn, asym, 2, group, 5632 / group, 0, 8, (enum grouped_data)data, &rng);
        }
    /* Refused as by the reference, writing nothing: other widths, group 0, a group
     * that does not divide k. */
    const float x[12] = {1.0f};
    int8_t q[12];
    float scale[12];
    int32_t zero[1] = {0x5A5A5A5A};
    memset(q, 0x5A, sizeof q);
    fill_sentinel(scale, COUNT(scale));
    struct aq_qd8 a = {.n_rows = 77, .k = 77, .group = 77, .q = q, .scale = scale, .zero = zero};
    assert_false(kern->fn(x, 1, 12, 12, 5, 4, &a));
    assert_false(kern->fn(x, 1, 12, 12, 4, 0, &a));
    assert_false(kern->fn(x, 1, 12, 12, 8, 5, &a));
    assert_false(ref_fn(x, 1, 12, 12, 8, 5, &a));
    assert_true(a.n_rows == 77 && a.k == 77 && a.group == 77 && zero[0] == 0x5A5A5A5A);
    for (size_t i = 0; i < COUNT(q); i++) assert_int_equal(q[i], 0x5A);
    for (size_t i = 0; i < COUNT(scale); i++) assert_true(isnan(scale[i]));
}

/* ------------------------------------------------------------------------------
 * Attention steps (f32-attention.h): bit for bit aq_f32_attention_ref, since each
 * score and each accumulator is the reference's sum in its order with separate
 * multiplies and adds (no tolerance is needed; a NaN matches any NaN, as NaN
 * payloads depend on operand order). A run is a sequence of blocks folded into one
 * tile, the state (accumulators, maxima, denominators, key 0's scores) compared
 * after every block. Head dims 1..AQ_MAX_HEAD_DIM's common sizes and odd ones;
 * blocks of 1..AQ_ATTN_KEYS keys (8-key groups and every tail); masks: none, causal
 * (query i sees keys up to a diagonal inside the block, as a prompt's tile does),
 * padding queries that see nothing (decode's 1-query tile), random (pruned tokens),
 * whole blocks masked; ALiBi biases; masked keys with NaN/inf values (must not
 * leak); scores far apart (weights that underflow to 0 beside others, and a maximum
 * jumping so far that old accumulators rescale to 0); an infinite key (NaN scores).
 */
static bool same_float(float a, float b) { return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof a) == 0; }

static void check_attention_state(const char *name, const char *what, size_t hd, size_t call, const aq_attn_tile *ref,
                                  const aq_attn_tile *out, const float *ref_first, const float *out_first) {
    for (size_t i = 0; i < AQ_ATTN_QUERIES; i++) {
        if (!same_float(ref->max_score[i], out->max_score[i]) || !same_float(ref->denom[i], out->denom[i]) ||
            !same_float(ref_first[i], out_first[i])) {
            print_error("%s %s hd=%zu call %zu query %zu: max %a denom %a first %a, ref %a %a %a\n", name, what, hd,
                        call, i, (double)out->max_score[i], (double)out->denom[i], (double)out_first[i],
                        (double)ref->max_score[i], (double)ref->denom[i], (double)ref_first[i]);
            fail();
        }
        for (size_t d = 0; d < hd; d++)
            if (!same_float(ref->acc[d * AQ_ATTN_QUERIES + i], out->acc[d * AQ_ATTN_QUERIES + i])) {
                print_error("%s %s hd=%zu call %zu: acc[%zu][%zu] = %a, ref %a\n", name, what, hd, call, d, i,
                            (double)out->acc[d * AQ_ATTN_QUERIES + i], (double)ref->acc[d * AQ_ATTN_QUERIES + i]);
                fail();
            }
    }
}

enum attn_mask { MASK_NONE, MASK_CAUSAL, MASK_PADDING, MASK_RANDOM, MASK_BLOCKS, MASK_COUNT };
static const char *const attn_mask_names[] = {"unmasked", "causal", "padding", "random", "masked blocks"};

/* One run: n_calls blocks of random sizes (sizes[] first), folded by the reference
 * and by kern into their own tiles. */
static void check_attention_run(const aq_f32_attention_kernel *kern, size_t hd, enum attn_mask mask, bool alibi,
                                int extreme, const size_t *sizes, size_t n_calls, uint64_t *rng) {
    enum { Q = AQ_ATTN_QUERIES, K = AQ_ATTN_KEYS };
    float *qt = xcalloc(hd * Q, sizeof(float)), *acc[2], *rows = xcalloc(2 * K * hd, sizeof(float));
    float bias[K * Q], first[2][Q];
    const float *keys[K], *values[K];
    aq_attn_tile tile[2];
    /* Query scales: moderate, or wide (scores hundreds apart: weights that underflow). */
    const float q_scale = extreme == 1 ? 40.0f : 1.0f;
    for (size_t i = 0; i < hd * Q; i++) qt[i] = q_scale * rng_float(rng);
    for (int r = 0; r < 2; r++) {
        acc[r] = xcalloc(hd * Q, sizeof(float));
        tile[r] = (aq_attn_tile){.head_dim = hd, .qt = qt, .acc = acc[r]};
        for (size_t i = 0; i < Q; i++) tile[r].max_score[i] = -INFINITY, tile[r].denom[i] = 0.0f;
    }
    size_t seen = 0; /* keys before this block, for the causal diagonal */
    for (size_t call = 0; call < n_calls; call++) {
        const size_t n = sizes[call];
        for (size_t j = 0; j < n; j++) {
            float *k = rows + j * hd, *v = rows + (K + j) * hd;
            /* A key scaled up in a later block moves the maximum far: old accumulators rescale to ~0. */
            const float k_scale = extreme == 2 && call == n_calls - 1 ? 30.0f : 1.0f;
            for (size_t d = 0; d < hd; d++) k[d] = k_scale * rng_float(rng), v[d] = rng_float(rng);
            keys[j] = k, values[j] = v;
            const size_t key = seen + j;
            for (size_t i = 0; i < Q; i++) {
                bool visible = true;
                switch (mask) {
                case MASK_NONE:
                    break;
                case MASK_CAUSAL:
                    visible = key <= seen + (n > 4 ? n - 4 : 0) + i;
                    break;
                case MASK_PADDING:
                    visible = i < 1 + call % 3;
                    break;
                case MASK_RANDOM:
                    visible = rng_int(rng, 0, 3) != 0;
                    break;
                default:
                    visible = call % 2 == 1;
                    break;
                }
                bias[j * Q + i] = !visible ? -INFINITY : alibi ? -0.0625f * (float)(Q + key - i) : 0.0f;
            }
            /* A masked key's values (or keys) non-finite: a zero weight must not multiply them. */
            if (bias[j * Q] == -INFINITY && j % 3 == 0) v[hd / 2] = j % 2 ? INFINITY : NAN;
            if (bias[j * Q] == -INFINITY && j % 3 == 1) k[0] = NAN;
        }
        /* An infinite visible key: NaN and infinite scores, propagated the same way. */
        if (extreme == 3 && call == n_calls - 1) rows[(n - 1) * hd] = INFINITY;
        for (int r = 0; r < 2; r++) memset(first[r], 0x5A, sizeof first[r]);
        aq_f32_attention_ref(&tile[0], n, keys, values, bias, call == 0 ? first[0] : NULL);
        kern->fn(&tile[1], n, keys, values, bias, call == 0 ? first[1] : NULL);
        check_attention_state(kern->name, attn_mask_names[mask], hd, call, &tile[0], &tile[1], first[0], first[1]);
        seen += n;
    }
    free(qt);
    free(acc[0]);
    free(acc[1]);
    free(rows);
}

static void test_f32_attention(void **state) {
    const aq_f32_attention_kernel *kern = *state;
    require(kern->isa, kern->name);
    uint64_t rng = 0x5EEDA77Eu;
    const size_t head_dims[] = {1, 3, 7, 32, 33, 64, 80, 96, 128, 256};
    for (size_t ih = 0; ih < COUNT(head_dims); ih++) {
        const size_t hd = head_dims[ih];
        /* Block sizes 1..AQ_ATTN_KEYS (every 8-key group tail), one causal block each. */
        for (size_t n = 1; n <= AQ_ATTN_KEYS; n += hd >= 128 ? 7 : 1) {
            const size_t sizes[] = {n};
            check_attention_run(kern, hd, MASK_CAUSAL, false, 0, sizes, 1, &rng);
        }
        for (int mask = 0; mask < MASK_COUNT; mask++)
            for (int alibi = 0; alibi < 2; alibi++)
                for (int extreme = 0; extreme < 4; extreme++) {
                    size_t sizes[5];
                    for (size_t c = 0; c < COUNT(sizes); c++) sizes[c] = (size_t)rng_int(&rng, 1, AQ_ATTN_KEYS);
                    sizes[0] = (size_t)rng_int(&rng, 1, 9);
                    check_attention_run(kern, hd, (enum attn_mask)mask, alibi, extreme, sizes, COUNT(sizes), &rng);
                }
    }
}

/* ------------------------------------------------------------------------------
 * The lists themselves.
 */

/* name is aq_<family>_<tile>__<isa>, or aq_<family>_ref for the reference; tile as
 * printed by the caller from the entry's tile sizes ("" for none). */
static void check_name(const char *name, const char *family, const char *tile, aq_cpu_feature isa) {
    char want[128];
    if (isa == AQ_CPU_NONE)
        snprintf(want, sizeof want, "aq_%s_ref", family);
    else
        snprintf(want, sizeof want, "aq_%s%s%s__%s", family, *tile ? "_" : "", tile, aq_cpu_feature_name(isa));
    if (strcmp(name, want) != 0) {
        print_error("list entry %s: expected the name %s (family, tile sizes, ISA)\n", name, want);
        fail();
    }
}

/* Every list ends with its reference and has no other; names follow the entries'
 * tile sizes and ISA; a qc4w packer writes tiles of exactly n_tile rows. */
static void test_lists(void **state) {
    (void)state;
    char tile[32];
    for (size_t i = 0; i < aq_qd8_qc4w_gemm_list_size; i++) {
        const aq_qc4w_gemm_kernel *e = &aq_qd8_qc4w_gemm_list[i];
        assert_int_equal(e->isa == AQ_CPU_NONE, i + 1 == aq_qd8_qc4w_gemm_list_size);
        snprintf(tile, sizeof tile, "%zux%zuc%zu", e->m_tile, e->n_tile, e->k_tile);
        check_name(e->name, "qd8_qc4w_gemm", tile, e->isa);
        assert_true(e->m_tile >= 1 && e->m_tile <= 8 && e->n_tile >= 1);
        assert_int_equal(e->packed_size == NULL, e->pack == NULL);
        if (e->packed_size) {
            /* One row, n_tile rows and n_tile + 1 rows: 1, 1 and 2 tiles. */
            struct aq_q4w w = {.n_rows = 1, .k = 256, .group = 64};
            const size_t one = e->packed_size(&w);
            w.n_rows = e->n_tile;
            assert_int_equal(e->packed_size(&w), one);
            w.n_rows = e->n_tile + 1;
            assert_int_equal(e->packed_size(&w), 2 * one);
        }
    }
    for (size_t i = 0; i < aq_qd8_qc3w_gemm_list_size; i++) {
        const aq_qc4w_gemm_kernel *e = &aq_qd8_qc3w_gemm_list[i];
        assert_int_equal(e->isa == AQ_CPU_NONE, i + 1 == aq_qd8_qc3w_gemm_list_size);
        snprintf(tile, sizeof tile, "%zux%zuc%zu", e->m_tile, e->n_tile, e->k_tile);
        check_name(e->name, "qd8_qc3w_gemm", tile, e->isa);
        assert_true(e->m_tile >= 1 && e->m_tile <= 8 && e->n_tile >= 1);
        assert_int_equal(e->packed_size == NULL, e->pack == NULL);
        if (e->packed_size) {
            struct aq_q4w w = {.n_rows = 1, .k = 256, .group = 64};
            const size_t one = e->packed_size(&w);
            w.n_rows = e->n_tile;
            assert_int_equal(e->packed_size(&w), one);
            w.n_rows = e->n_tile + 1;
            assert_int_equal(e->packed_size(&w), 2 * one);
        }
    }
    for (size_t i = 0; i < aq_f32_gemm_list_size; i++) {
        const aq_f32_gemm_kernel *e = &aq_f32_gemm_list[i];
        assert_int_equal(e->isa == AQ_CPU_NONE, i + 1 == aq_f32_gemm_list_size);
        snprintf(tile, sizeof tile, "%zux%zu", e->m_tile, e->n_tile);
        check_name(e->name, "f32_gemm", tile, e->isa);
    }
    for (size_t i = 0; i < aq_f32_qc4w_gemm_list_size; i++) {
        const aq_f32_qc4w_gemm_kernel *e = &aq_f32_qc4w_gemm_list[i];
        assert_int_equal(e->isa == AQ_CPU_NONE, i + 1 == aq_f32_qc4w_gemm_list_size);
        snprintf(tile, sizeof tile, "%zux%zu", e->m_tile, e->n_tile);
        check_name(e->name, "f32_qc4w_gemm", tile, e->isa);
    }
    for (size_t i = 0; i < aq_q4_0_q8_0_dot_list_size; i++) {
        const aq_q4_0_q8_0_dot_kernel *e = &aq_q4_0_q8_0_dot_list[i];
        assert_int_equal(e->isa == AQ_CPU_NONE, i + 1 == aq_q4_0_q8_0_dot_list_size);
        check_name(e->name, "q4_0_q8_0_dot", "", e->isa);
    }
    for (size_t i = 0; i < aq_q8_0_q8_0_dot_list_size; i++) {
        const aq_q8_0_q8_0_dot_kernel *e = &aq_q8_0_q8_0_dot_list[i];
        assert_int_equal(e->isa == AQ_CPU_NONE, i + 1 == aq_q8_0_q8_0_dot_list_size);
        check_name(e->name, "q8_0_q8_0_dot", "", e->isa);
    }
    for (size_t i = 0; i < aq_qd8_quantize_list_size; i++) {
        const aq_qd8_quantize_kernel *e = &aq_qd8_quantize_list[i];
        assert_int_equal(e->isa == AQ_CPU_NONE, i + 1 == aq_qd8_quantize_list_size);
        check_name(e->name, "qd8_quantize", "", e->isa);
    }
    for (size_t i = 0; i < aq_qd8_quantize_grouped_list_size; i++) {
        const aq_qd8_quantize_grouped_kernel *e = &aq_qd8_quantize_grouped_list[i];
        assert_int_equal(e->isa == AQ_CPU_NONE, i + 1 == aq_qd8_quantize_grouped_list_size);
        check_name(e->name, "qd8_quantize_grouped", "", e->isa);
    }
    for (size_t i = 0; i < aq_qd8_quantize_grouped_asym_list_size; i++) {
        const aq_qd8_quantize_grouped_kernel *e = &aq_qd8_quantize_grouped_asym_list[i];
        assert_int_equal(e->isa == AQ_CPU_NONE, i + 1 == aq_qd8_quantize_grouped_asym_list_size);
        check_name(e->name, "qd8_quantize_grouped_asym", "", e->isa);
    }
    /* The families of several types: the references last, one per type; every
     * other entry's type has one. */
    bool seen_ref = false;
    for (size_t i = 0; i < aq_block_gemm_list_size; i++) {
        const aq_block_gemm_kernel *e = &aq_block_gemm_list[i];
        const aq_block_type *bt = aq_block_type_get(e->type);
        assert_non_null(bt);
        seen_ref = seen_ref || e->isa == AQ_CPU_NONE;
        assert_true(e->isa == AQ_CPU_NONE || !seen_ref);
        size_t refs = 0;
        for (size_t j = 0; j < aq_block_gemm_list_size; j++)
            refs += aq_block_gemm_list[j].type == e->type && aq_block_gemm_list[j].isa == AQ_CPU_NONE;
        assert_int_equal(refs, 1);
        char family[32];
        snprintf(family, sizeof family, "%s_%s_gemm", type_tag(e->type), type_tag(bt->act_type));
        snprintf(tile, sizeof tile, "%zux%zu", e->m_tile, e->n_tile);
        check_name(e->name, family, tile, e->isa);
        assert_true(e->m_tile >= 1 && e->m_tile <= 8 && e->n_tile >= 1);
    }
    seen_ref = false;
    for (size_t i = 0; i < aq_block_gemm_x8_list_size; i++) {
        const aq_block_gemm_x8_kernel *e = &aq_block_gemm_x8_list[i];
        const aq_block_type *bt = aq_block_type_get(e->type);
        assert_non_null(bt);
        assert_non_null(e->pack);
        seen_ref = seen_ref || e->isa == AQ_CPU_NONE;
        assert_true(e->isa == AQ_CPU_NONE || !seen_ref);
        size_t refs = 0;
        for (size_t j = 0; j < aq_block_gemm_x8_list_size; j++)
            refs += aq_block_gemm_x8_list[j].type == e->type && aq_block_gemm_x8_list[j].isa == AQ_CPU_NONE;
        assert_int_equal(refs, 1);
        char family[32];
        snprintf(family, sizeof family, "%sx8_%s_gemm", type_tag(e->type), type_tag(bt->act_type));
        snprintf(tile, sizeof tile, "%zux8", e->m_tile);
        check_name(e->name, family, tile, e->isa);
        assert_true(e->m_tile >= 1 && e->m_tile <= 8);
    }
    seen_ref = false;
    for (size_t i = 0; i < aq_act_quantize_list_size; i++) {
        const aq_act_quantize_kernel *e = &aq_act_quantize_list[i];
        assert_true(e->type == AQ_GGML_Q8_0 || e->type == AQ_GGML_Q8_1 || e->type == AQ_GGML_Q8_K);
        seen_ref = seen_ref || e->isa == AQ_CPU_NONE;
        assert_true(e->isa == AQ_CPU_NONE || !seen_ref);
        size_t refs = 0;
        for (size_t j = 0; j < aq_act_quantize_list_size; j++)
            refs += aq_act_quantize_list[j].type == e->type && aq_act_quantize_list[j].isa == AQ_CPU_NONE;
        assert_int_equal(refs, 1);
        char family[32];
        snprintf(family, sizeof family, "%s_quantize", type_tag(e->type));
        check_name(e->name, family, "", e->isa);
    }
}

/* ------------------------------------------------------------------------------
 * Dispatch: per family the first entry the CPU runs (automatic) or the first for
 * the named feature, else the reference.
 */

/* Every family of table k against the reference on a few shapes. */
static void check_table(const aq_kernels *k) {
    uint64_t rng = 0x5EED0008u;
    check_qc4w_ranges(&k->qc4w_gemm, 5, 33, 256, 64, true, 8, true, FILL_RANDOM, &rng);
    check_qc4w_ranges(&k->qc4w_gemm, 1, 17, 128, 32, false, 4, false, FILL_RANDOM, &rng);
    check_qc3w_ranges(&k->qc3w_gemm, 5, 33, 256, 64, 8, true, FILL_RANDOM, &rng);
    check_qc3w_ranges(&k->qc3w_gemm, 1, 17, 128, 32, 8, false, FILL_RANDOM, &rng);
    check_f32_gemm("table f32_gemm", k->f32_gemm, 5, 17, 100, 0, 17, &rng);
    check_f32_qc4w("table f32_qc4w_gemm", k->f32_qc4w_gemm, 5, 17, 256, 64, true, 0, 17, &rng);
    block_q4_0 x4[9];
    block_q8_0 x8[9], y8[9];
    make_q4_0(x4, 9, &rng, false);
    make_q8_0(x8, 9, &rng, false);
    make_q8_0(y8, 9, &rng, false);
    check_same("table q4_0_q8_0_dot", 9, k->q4_0_q8_0_dot(288, x4, y8), aq_q4_0_q8_0_dot_ref(288, x4, y8));
    check_same("table q8_0_q8_0_dot", 9, k->q8_0_q8_0_dot(288, x8, y8), aq_q8_0_q8_0_dot_ref(288, x8, y8));
    float xg[3 * 129];
    for (size_t i = 0; i < COUNT(xg); i++) xg[i] = rng_float(&rng);
    check_qd8_grouped("table qd8_quantize_grouped", k->qd8_quantize_grouped,
                      aq_qd8_quantize_grouped_list[aq_qd8_quantize_grouped_list_size - 1].fn, xg, 3, 128, 129, 4, 32);
    check_qd8_grouped("table qd8_quantize_grouped_asym", k->qd8_quantize_grouped_asym,
                      aq_qd8_quantize_grouped_asym_list[aq_qd8_quantize_grouped_asym_list_size - 1].fn, xg, 3, 128, 129,
                      4, 32);
    for (uint32_t type = 0; type < AQ_BLOCK_TYPE_SLOTS; type++) {
        const aq_block_gemm_kernel *e = k->block_gemm[type];
        if (e && e->isa != AQ_CPU_NONE) check_block_gemm(e, 5, 11, 3, 1, 11, false, &rng);
        const aq_block_gemm_x8_kernel *x8 = k->block_gemm_x8[type];
        if (x8 && x8->isa != AQ_CPU_NONE) check_block_gemm_x8(x8, 5, 27, 3, 8, 24, false, &rng);
        const aq_act_quantize_kernel *q = k->act_quantize[type];
        if (q && q->isa != AQ_CPU_NONE) {
            float x[2 * AQ_QK_K];
            for (size_t i = 0; i < COUNT(x); i++) x[i] = rng_float(&rng);
            check_act_quantize(q, x, COUNT(x));
        }
    }
}

/* The index in a family's list of the entry for want: the first the CPU runs when
 * want is AQ_CPU_FEATURE_COUNT (automatic), else the first for exactly want; the
 * reference (the last) when there is none. */
static size_t expected_index(const void *list, size_t count, size_t entry_size, size_t isa_offset,
                             aq_cpu_feature want) {
    for (size_t i = 0; i + 1 < count; i++) {
        aq_cpu_feature isa;
        memcpy(&isa, (const char *)list + i * entry_size + isa_offset, sizeof isa);
        if (want == AQ_CPU_FEATURE_COUNT ? aq_cpu_has(isa) : isa == want) return i;
    }
    return count - 1;
}

#define EXPECTED(type, list, want) (&list[expected_index(list, list##_size, sizeof(type), offsetof(type, isa), want)])

static void check_choice(const aq_kernels *k, aq_cpu_feature want) {
    const aq_qc4w_gemm_kernel *qc4w = EXPECTED(aq_qc4w_gemm_kernel, aq_qd8_qc4w_gemm_list, want);
    assert_string_equal(k->qc4w_gemm.name, qc4w->name);
    assert_ptr_equal(k->qc4w_gemm.gemm, qc4w->gemm);
    assert_ptr_equal(k->qc4w_gemm.pack, qc4w->pack);
    assert_int_equal(k->qc4w_gemm.n_tile, qc4w->n_tile);
    const aq_qc4w_gemm_kernel *qc3w = EXPECTED(aq_qc4w_gemm_kernel, aq_qd8_qc3w_gemm_list, want);
    assert_string_equal(k->qc3w_gemm.name, qc3w->name);
    assert_ptr_equal(k->qc3w_gemm.gemm, qc3w->gemm);
    assert_ptr_equal(k->qc3w_gemm.pack, qc3w->pack);
    assert_ptr_equal(k->f32_gemm, EXPECTED(aq_f32_gemm_kernel, aq_f32_gemm_list, want)->fn);
    assert_ptr_equal(k->f32_qc4w_gemm, EXPECTED(aq_f32_qc4w_gemm_kernel, aq_f32_qc4w_gemm_list, want)->fn);
    assert_ptr_equal(k->q4_0_q8_0_dot, EXPECTED(aq_q4_0_q8_0_dot_kernel, aq_q4_0_q8_0_dot_list, want)->fn);
    assert_ptr_equal(k->q8_0_q8_0_dot, EXPECTED(aq_q8_0_q8_0_dot_kernel, aq_q8_0_q8_0_dot_list, want)->fn);
    assert_ptr_equal(k->qd8_quantize, EXPECTED(aq_qd8_quantize_kernel, aq_qd8_quantize_list, want)->fn);
    assert_ptr_equal(k->qd8_quantize_grouped,
                     EXPECTED(aq_qd8_quantize_grouped_kernel, aq_qd8_quantize_grouped_list, want)->fn);
    assert_ptr_equal(k->qd8_quantize_grouped_asym,
                     EXPECTED(aq_qd8_quantize_grouped_kernel, aq_qd8_quantize_grouped_asym_list, want)->fn);
    assert_ptr_equal(k->attention, EXPECTED(aq_f32_attention_kernel, aq_f32_attention_list, want)->fn);
    /* Per type: its first entry the CPU runs / for want, else its reference. */
    for (uint32_t type = 0; type < AQ_BLOCK_TYPE_SLOTS; type++) {
        const aq_block_gemm_kernel *g = NULL;
        for (size_t i = 0; i < aq_block_gemm_list_size && !g; i++) {
            const aq_block_gemm_kernel *e = &aq_block_gemm_list[i];
            if (e->type == type &&
                (e->isa == AQ_CPU_NONE || (want == AQ_CPU_FEATURE_COUNT ? aq_cpu_has(e->isa) : e->isa == want)))
                g = e;
        }
        assert_ptr_equal(k->block_gemm[type], g);
        const aq_block_gemm_x8_kernel *x8 = NULL;
        for (size_t i = 0; i < aq_block_gemm_x8_list_size && !x8; i++) {
            const aq_block_gemm_x8_kernel *e = &aq_block_gemm_x8_list[i];
            if (e->type == type &&
                (e->isa == AQ_CPU_NONE || (want == AQ_CPU_FEATURE_COUNT ? aq_cpu_has(e->isa) : e->isa == want)))
                x8 = e;
        }
        assert_ptr_equal(k->block_gemm_x8[type], x8);
        const aq_act_quantize_kernel *q = NULL;
        for (size_t i = 0; i < aq_act_quantize_list_size && !q; i++) {
            const aq_act_quantize_kernel *e = &aq_act_quantize_list[i];
            if (e->type == type &&
                (e->isa == AQ_CPU_NONE || (want == AQ_CPU_FEATURE_COUNT ? aq_cpu_has(e->isa) : e->isa == want)))
                q = e;
        }
        assert_ptr_equal(k->act_quantize[type], q);
    }
    check_table(k);
}

/* Whether some list has a (non-reference) entry for feature f. */
static bool listed(aq_cpu_feature f) {
    bool found = false;
    for (size_t i = 0; i + 1 < aq_qd8_qc4w_gemm_list_size; i++) found = found || aq_qd8_qc4w_gemm_list[i].isa == f;
    for (size_t i = 0; i + 1 < aq_qd8_qc3w_gemm_list_size; i++) found = found || aq_qd8_qc3w_gemm_list[i].isa == f;
    for (size_t i = 0; i + 1 < aq_f32_gemm_list_size; i++) found = found || aq_f32_gemm_list[i].isa == f;
    for (size_t i = 0; i + 1 < aq_f32_qc4w_gemm_list_size; i++) found = found || aq_f32_qc4w_gemm_list[i].isa == f;
    for (size_t i = 0; i + 1 < aq_q4_0_q8_0_dot_list_size; i++) found = found || aq_q4_0_q8_0_dot_list[i].isa == f;
    for (size_t i = 0; i + 1 < aq_q8_0_q8_0_dot_list_size; i++) found = found || aq_q8_0_q8_0_dot_list[i].isa == f;
    for (size_t i = 0; i < aq_block_gemm_list_size; i++) found = found || aq_block_gemm_list[i].isa == f;
    for (size_t i = 0; i < aq_block_gemm_x8_list_size; i++) found = found || aq_block_gemm_x8_list[i].isa == f;
    for (size_t i = 0; i < aq_act_quantize_list_size; i++) found = found || aq_act_quantize_list[i].isa == f;
    for (size_t i = 0; i + 1 < aq_qd8_quantize_list_size; i++) found = found || aq_qd8_quantize_list[i].isa == f;
    for (size_t i = 0; i + 1 < aq_qd8_quantize_grouped_list_size; i++)
        found = found || aq_qd8_quantize_grouped_list[i].isa == f;
    for (size_t i = 0; i + 1 < aq_qd8_quantize_grouped_asym_list_size; i++)
        found = found || aq_qd8_quantize_grouped_asym_list[i].isa == f;
    for (size_t i = 0; i + 1 < aq_f32_attention_list_size; i++) found = found || aq_f32_attention_list[i].isa == f;
    return found;
}

static void test_select(void **state) {
    (void)state;
    aq_kernels k;
    assert_int_equal(aq_kernels_select(NULL, &k), AQ_OK);
    print_message("automatic choice: %s (%s)\n", k.name, k.qc4w_gemm.name);
    check_choice(&k, AQ_CPU_FEATURE_COUNT);
    assert_int_equal(aq_kernels_select("", &k), AQ_OK);
    check_choice(&k, AQ_CPU_FEATURE_COUNT);

    assert_int_equal(aq_kernels_select("ref", &k), AQ_OK);
    assert_string_equal(k.name, "ref");
    assert_null(k.qc4w_gemm.packed_size);
    check_choice(&k, AQ_CPU_NONE);

    /* Each feature name: its kernels where the CPU has it and some list has it. */
    for (unsigned f = AQ_CPU_NONE + 1; f < AQ_CPU_FEATURE_COUNT; f++) {
        const char *name = aq_cpu_feature_name((aq_cpu_feature)f);
        assert_int_equal(aq_cpu_feature_from_name(name), f);
        const aq_error err = aq_kernels_select(name, &k);
        if (!aq_cpu_has((aq_cpu_feature)f) || !listed((aq_cpu_feature)f)) {
            assert_int_equal(err, AQ_ERR_UNSUPPORTED);
            continue;
        }
        assert_int_equal(err, AQ_OK);
        print_message("%s: %s\n", name, k.name);
        assert_non_null(strstr(k.name, name));
        check_choice(&k, (aq_cpu_feature)f);
    }
    assert_int_equal(aq_kernels_select("bogus", &k), AQ_ERR_UNSUPPORTED);
    assert_int_equal(aq_kernels_select("AVX2", &k), AQ_ERR_UNSUPPORTED);
    assert_int_equal(aq_kernels_select(NULL, NULL), AQ_ERR_INVALID_ARGUMENT);
}

/* ------------------------------------------------------------------------------
 * Group-wise activation scales (a->group: one scale per token and act_group
 * features, a multiple of the weight group): bit for bit the reference, whose
 * scale index is written out in quant.h, on every tile shape.
 */
static void check_act_group_ranges(const aq_qc4w_gemm_kernel *kern, bool w3, size_t m, size_t n_rows, size_t k,
                                   size_t group, size_t act_group, bool asym, int bits, bool nonzero_za,
                                   uint64_t *rng) {
    struct aq_q4w w;
    struct aq_qd8 a;
    if (w3)
        q3w_make(&w, n_rows, k, group, FILL_RANDOM, rng);
    else
        q4w_make(&w, n_rows, k, group, asym, FILL_RANDOM, rng);
    qd8_make(&a, m, k, bits, nonzero_za, FILL_RANDOM, rng);
    free(a.scale);
    a.group = act_group;
    a.scale = xcalloc(m * (k / act_group), sizeof(float));
    /* Scales far apart, so that reading another group's scale changes the result. */
    for (size_t i = 0; i < m * (k / act_group); i++) a.scale[i] = ldexpf(1.0f + rng_float(rng), rng_int(rng, -12, 4));
    void *packed = pack_for(kern, &w);
    const size_t nb = n_rows > 2 * kern->n_tile ? kern->n_tile : 0, ne = n_rows % 2 ? n_rows : n_rows - 1;
    if (w3) {
        check_qc3w(kern, &a, &w, packed, m, 0, n_rows, n_rows + 3, "act groups");
        if (ne > nb) check_qc3w(kern, &a, &w, packed, m, nb, ne, n_rows + 5, "act groups, sub-range");
    } else {
        check_qc4w(kern, &a, &w, packed, m, 0, n_rows, n_rows + 3, "act groups");
        if (ne > nb) check_qc4w(kern, &a, &w, packed, m, nb, ne, n_rows + 5, "act groups, sub-range");
    }
    free(packed);
    q4w_free(&w);
    qd8_free(&a);
}

static void run_act_groups(const aq_qc4w_gemm_kernel *kern, bool w3) {
    require(kern->isa, kern->name);
    size_t ms[7], ns[7];
    const size_t n_m = sizes_around(kern->m_tile, 17, ms), n_n = sizes_around(kern->n_tile, 64, ns);
    uint64_t rng = w3 ? 0x5EED00A3u : 0x5EED00A4u;
    unsigned variant = 0;
    for (size_t im = 0; im < n_m; im++)
        for (size_t in = 0; in < n_n; in++)
            for (size_t ik = 0; ik < COUNT(qc4w_depths); ik++)
                for (size_t mult = 1; mult <= 4; mult *= 2, variant++) {
                    const size_t k = qc4w_depths[ik].k, group = qc4w_depths[ik].group, act_group = mult * group;
                    if (k % act_group != 0) continue;
                    check_act_group_ranges(kern, w3, ms[im], ns[in], k, group, act_group, !w3 && (variant & 1),
                                           (variant >> 1) & 1 ? 4 : 8, (variant >> 2) & 1, &rng);
                }
    /* Rows longer than a chunk of the per-token loop, and 4096-wide ones. */
    check_act_group_ranges(kern, w3, kern->m_tile + 1, 2 * kern->n_tile + 1, 16416, 32, 32, !w3, 8, false, &rng);
    check_act_group_ranges(kern, w3, 1, 2 * kern->n_tile + 1, 4096, 32, 128, false, 4, false, &rng);
}

static void test_qc4w_act_groups(void **state) { run_act_groups(*state, false); }

static void test_qc3w_act_groups(void **state) { run_act_groups(*state, true); }

/* ------------------------------------------------------------------------------
 * The test list: one test per listed kernel and shape set, named after the kernel.
 */
struct test_list {
    struct CMUnitTest *tests;
    size_t count, cap;
};

static void add_test(struct test_list *l, const char *name, const char *suffix, CMUnitTestFunction fn,
                     const void *state) {
    if (l->count == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 32;
        l->tests = realloc(l->tests, l->cap * sizeof *l->tests);
        if (!l->tests) abort();
    }
    const size_t len = strlen(name) + strlen(suffix) + 1;
    char *full = malloc(len);
    if (!full) abort();
    snprintf(full, len, "%s%s", name, suffix);
    l->tests[l->count++] = (struct CMUnitTest){.name = full, .test_func = fn, .initial_state = (void *)state};
}

/* Runs the list tests, the dispatch tests and arch_test (what only the caller's
 * architecture knows; may be NULL). */
static int aq_run_kernel_tests(const char *group, CMUnitTestFunction arch_test) {
    struct test_list l = {0};
    add_test(&l, "lists", "", test_lists, NULL);
    if (arch_test) add_test(&l, group, " features", arch_test, NULL);
    add_test(&l, "select", "", test_select, NULL);
    for (size_t i = 0; i + 1 < aq_qd8_qc4w_gemm_list_size; i++) {
        const aq_qc4w_gemm_kernel *e = &aq_qd8_qc4w_gemm_list[i];
        add_test(&l, e->name, "", test_qc4w_shapes, e);
        add_test(&l, e->name, " long k", test_qc4w_long_k, e);
        add_test(&l, e->name, " extremes", test_qc4w_extremes, e);
        add_test(&l, e->name, " packed bits", test_qc4w_packed_bits, e);
        add_test(&l, e->name, " act groups", test_qc4w_act_groups, e);
        add_test(&l, e->name, " sums read", test_qc4w_sums_read, e);
    }
    for (size_t i = 0; i + 1 < aq_qd8_qc3w_gemm_list_size; i++) {
        const aq_qc4w_gemm_kernel *e = &aq_qd8_qc3w_gemm_list[i];
        add_test(&l, e->name, "", test_qc3w_shapes, e);
        add_test(&l, e->name, " long k", test_qc3w_long_k, e);
        add_test(&l, e->name, " extremes", test_qc3w_extremes, e);
        add_test(&l, e->name, " packed bits", test_qc3w_packed_bits, e);
        add_test(&l, e->name, " act groups", test_qc3w_act_groups, e);
    }
    for (size_t i = 0; i + 1 < aq_f32_gemm_list_size; i++)
        add_test(&l, aq_f32_gemm_list[i].name, "", test_f32_gemm, &aq_f32_gemm_list[i]);
    for (size_t i = 0; i + 1 < aq_f32_qc4w_gemm_list_size; i++)
        add_test(&l, aq_f32_qc4w_gemm_list[i].name, "", test_f32_qc4w_gemm, &aq_f32_qc4w_gemm_list[i]);
    for (size_t i = 0; i + 1 < aq_q4_0_q8_0_dot_list_size; i++)
        add_test(&l, aq_q4_0_q8_0_dot_list[i].name, "", test_q4_0_q8_0_dot, &aq_q4_0_q8_0_dot_list[i]);
    for (size_t i = 0; i + 1 < aq_q8_0_q8_0_dot_list_size; i++)
        add_test(&l, aq_q8_0_q8_0_dot_list[i].name, "", test_q8_0_q8_0_dot, &aq_q8_0_q8_0_dot_list[i]);
    for (size_t i = 0; i + 1 < aq_qd8_quantize_list_size; i++)
        add_test(&l, aq_qd8_quantize_list[i].name, "", test_qd8_quantize, &aq_qd8_quantize_list[i]);
    for (size_t i = 0; i + 1 < aq_qd8_quantize_grouped_list_size; i++)
        add_test(&l, aq_qd8_quantize_grouped_list[i].name, "", test_qd8_quantize_grouped,
                 &aq_qd8_quantize_grouped_list[i]);
    for (size_t i = 0; i + 1 < aq_qd8_quantize_grouped_asym_list_size; i++)
        add_test(&l, aq_qd8_quantize_grouped_asym_list[i].name, "", test_qd8_quantize_grouped,
                 &aq_qd8_quantize_grouped_asym_list[i]);
    for (size_t i = 0; i + 1 < aq_f32_attention_list_size; i++)
        add_test(&l, aq_f32_attention_list[i].name, "", test_f32_attention, &aq_f32_attention_list[i]);
    for (size_t i = 0; i < aq_block_gemm_list_size; i++)
        if (aq_block_gemm_list[i].isa != AQ_CPU_NONE)
            add_test(&l, aq_block_gemm_list[i].name, "", test_block_gemm, &aq_block_gemm_list[i]);
    for (size_t i = 0; i < aq_block_gemm_x8_list_size; i++)
        add_test(&l, aq_block_gemm_x8_list[i].name, "", test_block_gemm_x8, &aq_block_gemm_x8_list[i]);
    for (size_t i = 0; i < aq_act_quantize_list_size; i++)
        if (aq_act_quantize_list[i].isa != AQ_CPU_NONE)
            add_test(&l, aq_act_quantize_list[i].name, "", test_act_quantize, &aq_act_quantize_list[i]);
    const int failed = _cmocka_run_group_tests(group, l.tests, l.count, NULL, NULL);
    for (size_t i = 0; i < l.count; i++) free((void *)l.tests[i].name);
    free(l.tests);
    return failed;
}

#endif /* AQ_TEST_KERNELS_H */
