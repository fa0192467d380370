/* test_kernels_x86.c - every x86 SIMD kernel against its reference (kernels_ref/).
 *
 * Integer kernels (qd8 x qc4w GEMMs) and the llama.cpp block dots are bit-exact
 * twins: compared with memcmp, including the out entries they must not touch. The
 * float kernels (FP32 GEMM, W4A16) sum in another order; they must agree within
 *   |out - ref| <= 2 * (k + 8) * FLT_EPSILON * sum_e |x_e| |w_e|,
 * twice the classic bound gamma_k of a recursive sum of k products (each of the two
 * results is within gamma_k * sum |x||w| of the exact value; + 8 covers the final
 * lane reduction and, for W4A16, the per-group scale multiply).
 * A kernel whose ISA this CPU lacks is skipped (cmocka skip()).
 */
#include <stdio.h>

/* Other architectures (and x86 builds without the kernels_x86/ folder): nothing to
 * test; 77 tells meson the test was skipped. */
#if !defined(__x86_64__) || !__has_include("../kernels_x86/kernels_x86.h")
int main(void) {
    printf("no x86 kernels in this build\n");
    return 77;
}
#else
#include <cpuid.h>
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cpuinfo.h>

#include "../kernels_x86/kernels_x86.h"
#include "f16.h"
#include "kernels.h"
#include "quant.h"

/* ------------------------------------------------------------------------------
 * CPU features, asked the same way as lib/dispatch_x86.c.
 */
static bool has_avx2(void) {
    return cpuinfo_initialize() && cpuinfo_has_x86_avx2() && cpuinfo_has_x86_fma3() && cpuinfo_has_x86_f16c();
}

static bool has_avxvnni(void) {
    if (!has_avx2() || __get_cpuid_max(0, NULL) < 7) return false;
    unsigned eax, ebx, ecx, edx;
    __cpuid_count(7, 1, eax, ebx, ecx, edx);
    return (eax >> 4) & 1u;
}

static bool has_avx512vnni(void) {
    return has_avx2() && cpuinfo_has_x86_avx512f() && cpuinfo_has_x86_avx512bw() && cpuinfo_has_x86_avx512vl() &&
           cpuinfo_has_x86_avx512vnni();
}

/* ------------------------------------------------------------------------------
 * Deterministic random data (splitmix64), state passed explicitly.
 */
static uint64_t rng_next(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int rng_int(uint64_t *state, int lo, int hi) { /* [lo, hi] */
    return lo + (int) (rng_next(state) % (uint64_t) (hi - lo + 1));
}

static float rng_float(uint64_t *state) { /* U(-1, 1) */
    return (float) ((double) (rng_next(state) >> 11) * 0x1p-52 - 1.0);
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

/* ------------------------------------------------------------------------------
 * Random operands of the qd8 x qc4w GEMM.
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
            w->q[i] = (uint8_t) rng_next(rng);
    }
    for (size_t i = 0; i < n_rows * groups; i++) {
        const int kind = rng_int(rng, 0, 19);
        /* Mostly normal scales of either sign, sometimes a half subnormal or 0. */
        const float s = kind == 0 ? 0x1p-20f * rng_float(rng) : kind == 1 ? 0.0f : 0.02f * rng_float(rng);
        w->scale[i] = aq_fp32_to_fp16(s);
        if (asym) w->zero[i] = (uint8_t) (mode == FILL_EXTREME ? ((rng_next(rng) & 1) ? 0 : 15) : rng_int(rng, 0, 15));
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
    a->q = xcalloc(m * k, 1);
    a->scale = xcalloc(m, sizeof(float));
    a->zero = xcalloc(m, sizeof(int32_t));
    for (size_t i = 0; i < m * k; i++)
        a->q[i] = (int8_t) (mode == FILL_EXTREME ? ((rng_next(rng) & 3) ? qmin : qmax) : rng_int(rng, qmin, qmax));
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

/* ------------------------------------------------------------------------------
 * The qd8 x qc4w kernels, one list.
 */
typedef struct qc4w_case {
    const char *name;
    bool (*supported)(void);
    aq_qc4w_gemm_kernel kernel;
} qc4w_case;

static const qc4w_case qc4w_cases[] = {
    {"avx2", has_avx2,
     {"4x8c4__avx2", aq_qc4w_packw_8c4_size, aq_qc4w_packw_8c4, aq_qd8_qc4w_gemm_4x8c4__avx2, 8}},
    {"avxvnni", has_avxvnni,
     {"4x8c4__avxvnni", aq_qc4w_packw_8c4_size, aq_qc4w_packw_8c4, aq_qd8_qc4w_gemm_4x8c4__avxvnni, 8}},
    {"avx512vnni", has_avx512vnni,
     {"4x16c4__avx512vnni", aq_qc4w_packw_16c4_size, aq_qc4w_packw_16c4, aq_qd8_qc4w_gemm_4x16c4__avx512vnni,
      16}},
};

/* One comparison: rows [n_begin, n_end) for m tokens, out_stride > n; every byte
 * of out, written or not, must equal the reference run's. */
static void check_qc4w(const aq_qc4w_gemm_kernel *kern, const struct aq_qd8 *a, const struct aq_q4w *w,
                       const void *packed, size_t m, size_t n_begin, size_t n_end, size_t out_stride,
                       const char *what) {
    float *ref = xcalloc(m * out_stride, sizeof(float)), *out = xcalloc(m * out_stride, sizeof(float));
    fill_sentinel(ref, m * out_stride);
    fill_sentinel(out, m * out_stride);
    aq_qd8_qc4w_gemm_ref(m, n_begin, n_end, a, w, ref, out_stride);
    kern->gemm(m, n_begin, n_end, a, w, packed, out, out_stride);
    if (memcmp(ref, out, m * out_stride * sizeof(float)) != 0) {
        for (size_t i = 0; i < m * out_stride; i++) {
            if (memcmp(&ref[i], &out[i], sizeof(float)) != 0) {
                print_error("%s %s: m=%zu n=%zu k=%zu group=%zu asym=%d rows [%zu,%zu): out[%zu][%zu] = %.9g, "
                            "ref %.9g\n",
                            kern->name, what, m, w->n_rows, w->k, w->group, w->zero != NULL, n_begin, n_end,
                            i / out_stride, i % out_stride, out[i], ref[i]);
                break;
            }
        }
        fail();
    }
    free(ref);
    free(out);
}

static void *pack_for(const aq_qc4w_gemm_kernel *kern, const struct aq_q4w *w) {
    if (!kern->packed_size) return NULL;
    void *packed = xcalloc(kern->packed_size(w), 1);
    kern->pack(w, packed);
    return packed;
}

/* All ranges of one operand set: the whole matrix, and a sub-range starting at a
 * multiple of n_tile and ending at an odd row. */
static void check_qc4w_ranges(const aq_qc4w_gemm_kernel *kern, size_t m, size_t n_rows, size_t k, size_t group,
                              bool asym, int bits, bool nonzero_za, enum fill_mode mode, uint64_t *rng) {
    struct aq_q4w w;
    struct aq_qd8 a;
    q4w_make(&w, n_rows, k, group, asym, mode, rng);
    qd8_make(&a, m, k, bits, nonzero_za, mode, rng);
    void *packed = pack_for(kern, &w);
    check_qc4w(kern, &a, &w, packed, m, 0, n_rows, n_rows + 3, "full");
    const size_t nb = (n_rows / 2) / kern->n_tile * kern->n_tile;
    size_t ne = n_rows % 2 ? n_rows : n_rows - 1;
    if (ne > nb) check_qc4w(kern, &a, &w, packed, m, nb, ne, n_rows + 5, "sub-range");
    free(packed);
    q4w_free(&w);
    qd8_free(&a);
}

static const size_t test_m[] = {1, 2, 3, 4, 5, 7, 8, 17, 64};
static const size_t test_n[] = {1, 3, 8, 15, 16, 17, 33, 64, 100};
static const size_t test_k[] = {32, 64, 96, 128, 256, 288};
static const size_t test_group[] = {32, 64, 128};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static void test_qc4w(void **state) {
    const qc4w_case *c = *state;
    if (!c->supported()) skip();
    uint64_t rng = 0x5EED0001u;
    unsigned variant = 0;
    for (size_t im = 0; im < COUNT(test_m); im++)
        for (size_t in = 0; in < COUNT(test_n); in++)
            for (size_t ik = 0; ik < COUNT(test_k); ik++)
                for (size_t ig = 0; ig < COUNT(test_group); ig++) {
                    if (test_k[ik] % test_group[ig]) continue;
                    for (int asym = 0; asym < 2; asym++, variant++) {
                        /* Activation flavour cycles: 8/4 bits x za zero/nonzero. */
                        const int bits = (variant & 1) ? 4 : 8;
                        const bool nonzero_za = (variant >> 1) & 1;
                        check_qc4w_ranges(&c->kernel, test_m[im], test_n[in], test_k[ik], test_group[ig], asym,
                                          bits, nonzero_za, FILL_RANDOM, &rng);
                    }
                }
}

/* Larger k, fewer shapes: k = 4096 for every group, and k = 16416 with group 32
 * (513 groups: more than one group chunk, so the accumulators pass through out). */
static void test_qc4w_long_k(void **state) {
    const qc4w_case *c = *state;
    if (!c->supported()) skip();
    uint64_t rng = 0x5EED0002u;
    for (size_t ig = 0; ig < COUNT(test_group); ig++)
        for (int asym = 0; asym < 2; asym++)
            check_qc4w_ranges(&c->kernel, asym ? 5 : 1, 33, 4096, test_group[ig], asym, 8, asym, FILL_RANDOM, &rng);
    check_qc4w_ranges(&c->kernel, 5, 17, 16416, 32, true, 8, true, FILL_RANDOM, &rng);
    check_qc4w_ranges(&c->kernel, 1, 17, 16416, 32, false, 8, false, FILL_RANDOM, &rng);
}

/* Codes 0/15 with zero points 0/15 and activations at -128/127 with za at the
 * other end: the largest |code * qa| and |qa - za|, i.e. the int16 saturation
 * bounds of VPMADDUBSW / VPMADDWD and the largest group sums. */
static void test_qc4w_extremes(void **state) {
    const qc4w_case *c = *state;
    if (!c->supported()) skip();
    uint64_t rng = 0x5EED0003u;
    for (size_t ig = 0; ig < COUNT(test_group); ig++)
        for (int asym = 0; asym < 2; asym++)
            for (int za = 0; za < 2; za++)
                check_qc4w_ranges(&c->kernel, 5, 17, 256, test_group[ig], asym, 8, za, FILL_EXTREME, &rng);
}

/* ------------------------------------------------------------------------------
 * Float kernels.
 */
static void check_close(const float *out, const float *ref, const float *bound, size_t m, size_t n_begin,
                        size_t n_end, size_t out_stride, const char *what, size_t k) {
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
                            out[i], ref[i], bound[i]);
                fail();
            }
        }
}

static void check_f32_gemm(aq_f32_gemm_fn fn, size_t m, size_t n_rows, size_t k, size_t n_begin, size_t n_end,
                           uint64_t *rng) {
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
            for (size_t e = 0; e < k; e++) s += fabs((double) x[t * x_stride + e] * w[r * k + e]);
            bound[t * out_stride + r] = (float) (2.0 * (double) (k + 8) * FLT_EPSILON * s);
        }
    check_close(out, ref, bound, m, n_begin, n_end, out_stride, "f32_gemm", k);
    free(x);
    free(w);
    free(ref);
    free(out);
    free(bound);
}

static void test_f32_gemm_avx2(void **state) {
    (void) state;
    if (!has_avx2()) skip();
    static const size_t ks[] = {1, 3, 7, 8, 9, 31, 32, 33, 100, 288};
    uint64_t rng = 0x5EED0004u;
    for (size_t im = 0; im < COUNT(test_m); im++)
        for (size_t in = 0; in < COUNT(test_n); in++)
            for (size_t ik = 0; ik < COUNT(ks); ik++) {
                const size_t n = test_n[in];
                check_f32_gemm(aq_f32_gemm_4x3__avx2, test_m[im], n, ks[ik], 0, n, &rng);
                if (n > 2) check_f32_gemm(aq_f32_gemm_4x3__avx2, test_m[im], n, ks[ik], 1, n - 1, &rng);
            }
    check_f32_gemm(aq_f32_gemm_4x3__avx2, 3, 17, 4096, 0, 17, &rng);
}

static void check_f32_qc4w(aq_f32_qc4w_gemm_fn fn, size_t m, size_t n_rows, size_t k, size_t group, bool asym,
                           size_t n_begin, size_t n_end, uint64_t *rng) {
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
                const double wv = aq_fp16_to_fp32(w.scale[r * groups + e / group]) * (double) (code - zero);
                s += fabs((double) x[t * x_stride + e] * wv);
            }
            bound[t * out_stride + r] = (float) (2.0 * (double) (k + 8) * FLT_EPSILON * s);
        }
    check_close(out, ref, bound, m, n_begin, n_end, out_stride, "f32_qc4w_gemm", k);
    q4w_free(&w);
    free(x);
    free(ref);
    free(out);
    free(bound);
}

static void test_f32_qc4w_gemm_avx2(void **state) {
    (void) state;
    if (!has_avx2()) skip();
    uint64_t rng = 0x5EED0005u;
    unsigned variant = 0;
    for (size_t im = 0; im < COUNT(test_m); im++)
        for (size_t in = 0; in < COUNT(test_n); in++)
            for (size_t ik = 0; ik < COUNT(test_k); ik++, variant++) {
                const size_t k = test_k[ik], n = test_n[in];
                const size_t group = k % 128 == 0 && (variant % 3) == 0 ? 128 : k % 64 == 0 && (variant % 3) == 1 ? 64 : 32;
                check_f32_qc4w(aq_f32_qc4w_gemm_4x1__avx2, test_m[im], n, k, group, variant & 1, 0, n, &rng);
                if (n > 2)
                    check_f32_qc4w(aq_f32_qc4w_gemm_4x1__avx2, test_m[im], n, k, group, !(variant & 1), 1, n - 1,
                                   &rng);
            }
    check_f32_qc4w(aq_f32_qc4w_gemm_4x1__avx2, 5, 17, 4096, 128, true, 0, 17, &rng);
}

/* ------------------------------------------------------------------------------
 * llama.cpp block dots: bit-exact.
 */
static void make_q8_0(block_q8_0 *b, size_t n_blocks, uint64_t *rng, bool extreme) {
    for (size_t i = 0; i < n_blocks; i++) {
        b[i].d = aq_fp32_to_fp16(0.01f * rng_float(rng));
        for (size_t j = 0; j < AQ_QK8_0; j++)
            b[i].qs[j] = (int8_t) (extreme ? ((rng_next(rng) & 1) ? -128 : 127) : rng_int(rng, -128, 127));
    }
}

static void test_q4_0_q8_0_dot_avx2(void **state) {
    (void) state;
    if (!has_avx2()) skip();
    uint64_t rng = 0x5EED0006u;
    for (size_t n_blocks = 1; n_blocks <= 40; n_blocks++)
        for (int extreme = 0; extreme < 2; extreme++) {
            block_q4_0 *x = xcalloc(n_blocks, sizeof *x);
            block_q8_0 *y = xcalloc(n_blocks, sizeof *y);
            for (size_t i = 0; i < n_blocks; i++) {
                x[i].d = aq_fp32_to_fp16(0.05f * rng_float(&rng));
                for (size_t j = 0; j < AQ_QK4_0 / 2; j++)
                    x[i].qs[j] = extreme ? ((rng_next(&rng) & 1) ? 0x00 : 0x0F) : (uint8_t) rng_next(&rng);
            }
            make_q8_0(y, n_blocks, &rng, extreme);
            const float ref = aq_q4_0_q8_0_dot_ref(n_blocks * 32, x, y);
            const float out = aq_q4_0_q8_0_dot__avx2(n_blocks * 32, x, y);
            if (memcmp(&ref, &out, sizeof ref) != 0) {
                print_error("q4_0.q8_0 blocks=%zu: %.9g != ref %.9g\n", n_blocks, out, ref);
                fail();
            }
            free(x);
            free(y);
        }
}

static void test_q8_0_q8_0_dot_avx2(void **state) {
    (void) state;
    if (!has_avx2()) skip();
    uint64_t rng = 0x5EED0007u;
    for (size_t n_blocks = 1; n_blocks <= 40; n_blocks++)
        for (int extreme = 0; extreme < 2; extreme++) {
            block_q8_0 *x = xcalloc(n_blocks, sizeof *x), *y = xcalloc(n_blocks, sizeof *y);
            make_q8_0(x, n_blocks, &rng, extreme);
            make_q8_0(y, n_blocks, &rng, extreme);
            const float ref = aq_q8_0_q8_0_dot_ref(n_blocks * 32, x, y);
            const float out = aq_q8_0_q8_0_dot__avx2(n_blocks * 32, x, y);
            if (memcmp(&ref, &out, sizeof ref) != 0) {
                print_error("q8_0.q8_0 blocks=%zu: %.9g != ref %.9g\n", n_blocks, out, ref);
                fail();
            }
            free(x);
            free(y);
        }
}

/* ------------------------------------------------------------------------------
 * Dispatch.
 */

/* Every family of table k against the reference on a few shapes. */
static void check_table(const aq_kernels *k) {
    uint64_t rng = 0x5EED0008u;
    check_qc4w_ranges(&k->qc4w_gemm, 5, 33, 256, 64, true, 8, true, FILL_RANDOM, &rng);
    check_qc4w_ranges(&k->qc4w_gemm, 1, 17, 128, 32, false, 4, false, FILL_RANDOM, &rng);
    check_f32_gemm(k->f32_gemm, 5, 17, 100, 0, 17, &rng);
    check_f32_qc4w(k->f32_qc4w_gemm, 5, 17, 256, 64, true, 0, 17, &rng);
    block_q4_0 x4[9];
    block_q8_0 x8[9], y8[9];
    for (size_t i = 0; i < 9; i++) {
        x4[i].d = aq_fp32_to_fp16(0.05f * rng_float(&rng));
        for (size_t j = 0; j < 16; j++) x4[i].qs[j] = (uint8_t) rng_next(&rng);
    }
    make_q8_0(x8, 9, &rng, false);
    make_q8_0(y8, 9, &rng, false);
    const float a = aq_q4_0_q8_0_dot_ref(288, x4, y8), b = k->q4_0_q8_0_dot(288, x4, y8);
    const float c = aq_q8_0_q8_0_dot_ref(288, x8, y8), d = k->q8_0_q8_0_dot(288, x8, y8);
    assert_memory_equal(&a, &b, sizeof a);
    assert_memory_equal(&c, &d, sizeof c);
}

static void test_select_auto(void **state) {
    (void) state;
    aq_kernels k;
    assert_int_equal(aq_kernels_select(NULL, &k), AQ_OK);
    print_message("auto-selected kernels: %s (%s)\n", k.name, k.qc4w_gemm.name);
    if (has_avx512vnni()) assert_ptr_equal(k.qc4w_gemm.gemm, aq_qd8_qc4w_gemm_4x16c4__avx512vnni);
    else if (has_avxvnni()) assert_ptr_equal(k.qc4w_gemm.gemm, aq_qd8_qc4w_gemm_4x8c4__avxvnni);
    else if (has_avx2()) assert_ptr_equal(k.qc4w_gemm.gemm, aq_qd8_qc4w_gemm_4x8c4__avx2);
    if (has_avx2()) assert_ptr_equal(k.f32_gemm, aq_f32_gemm_4x3__avx2);
    check_table(&k);
    assert_int_equal(aq_kernels_select("", &k), AQ_OK);
    check_table(&k);
}

static void test_select_overrides(void **state) {
    (void) state;
    aq_kernels k;
    assert_int_equal(aq_kernels_select("ref", &k), AQ_OK);
    assert_string_equal(k.name, "ref");
    assert_ptr_equal(k.f32_gemm, aq_f32_gemm_ref);
    assert_ptr_equal(k.f32_qc4w_gemm, aq_f32_qc4w_gemm_ref);
    assert_ptr_equal(k.q4_0_q8_0_dot, aq_q4_0_q8_0_dot_ref);
    assert_ptr_equal(k.q8_0_q8_0_dot, aq_q8_0_q8_0_dot_ref);
    assert_null(k.qc4w_gemm.packed_size);
    check_table(&k);

    assert_int_equal(aq_kernels_select("bogus", &k), AQ_ERR_UNSUPPORTED);
    assert_int_equal(aq_kernels_select("AVX2", &k), AQ_ERR_UNSUPPORTED);

    static const struct {
        const char *name;
        bool (*supported)(void);
        void (*gemm)(size_t, size_t, size_t, const struct aq_qd8 *, const struct aq_q4w *, const void *, float *,
                     size_t);
        bool rest_avx2;
    } forced[] = {
        {"avx2", has_avx2, aq_qd8_qc4w_gemm_4x8c4__avx2, true},
        {"avxvnni", has_avxvnni, aq_qd8_qc4w_gemm_4x8c4__avxvnni, false},
        {"avx512vnni", has_avx512vnni, aq_qd8_qc4w_gemm_4x16c4__avx512vnni, false},
    };
    for (size_t i = 0; i < COUNT(forced); i++) {
        const aq_error err = aq_kernels_select(forced[i].name, &k);
        if (!forced[i].supported()) {
            assert_int_equal(err, AQ_ERR_UNSUPPORTED);
            continue;
        }
        assert_int_equal(err, AQ_OK);
        assert_ptr_equal(k.qc4w_gemm.gemm, forced[i].gemm);
        /* Families without that variant stay reference. */
        assert_ptr_equal(k.f32_gemm, forced[i].rest_avx2 ? aq_f32_gemm_4x3__avx2 : aq_f32_gemm_ref);
        check_table(&k);
    }
}

int main(void) {
    void *c0 = (void *) &qc4w_cases[0], *c1 = (void *) &qc4w_cases[1], *c2 = (void *) &qc4w_cases[2];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_prestate(test_qc4w, c0),
        cmocka_unit_test_prestate(test_qc4w, c1),
        cmocka_unit_test_prestate(test_qc4w, c2),
        cmocka_unit_test_prestate(test_qc4w_long_k, c0),
        cmocka_unit_test_prestate(test_qc4w_long_k, c1),
        cmocka_unit_test_prestate(test_qc4w_long_k, c2),
        cmocka_unit_test_prestate(test_qc4w_extremes, c0),
        cmocka_unit_test_prestate(test_qc4w_extremes, c1),
        cmocka_unit_test_prestate(test_qc4w_extremes, c2),
        cmocka_unit_test(test_f32_gemm_avx2),
        cmocka_unit_test(test_f32_qc4w_gemm_avx2),
        cmocka_unit_test(test_q4_0_q8_0_dot_avx2),
        cmocka_unit_test(test_q8_0_q8_0_dot_avx2),
        cmocka_unit_test(test_select_auto),
        cmocka_unit_test(test_select_overrides),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
#endif /* __x86_64__ */
