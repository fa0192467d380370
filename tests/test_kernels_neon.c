/* test_kernels_neon.c - the NEON INT4-weight GEMMs (kernels_neon/) against the
 * reference kernels, bit for bit (memcmp), and the aarch64 dispatcher.
 *
 * Each kernel is reached through aq_kernels_select(<its variant name>), which
 * answers AQ_ERR_UNSUPPORTED when this CPU lacks the extension: that test is
 * then skipped (e.g. neondot under qemu -cpu cortex-a72). The W4A4 kernel has
 * no table entry (no qd4 family in lib/kernels.h) and is called directly.
 *
 * Shapes cover tokens m below, at and above the token tile, row counts below,
 * at and above the 8-row tile (tails), k of one group up to 4096, groups 32 /
 * 64 / 128, symmetric and asymmetric weights, zero and nonzero activation zero
 * points, 8- and 4-bit activations, sub-ranges [n_begin, n_end) with n_end
 * inside a tile, and out_stride > n. Untouched entries of out must keep their
 * sentinel bytes, which the whole-buffer memcmp checks too.
 */
#include <stdio.h>

#if !defined(__aarch64__)
/* The NEON kernels exist only in aarch64 builds; 77 tells meson "skipped". */
int main(void) {
    puts("test_kernels_neon: not an aarch64 build, skipped");
    return 77;
}
#else

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cpuinfo.h>

#include "../kernels_neon/qc4w-gemm-neon.h"
#include "f16.h"
#include "kernels.h"
#include "quant.h"

static uint64_t rng_next(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform integer in [lo, hi]. */
static int32_t rng_int(uint64_t *state, int32_t lo, int32_t hi) {
    return lo + (int32_t) (rng_next(state) % (uint64_t) (hi - lo + 1));
}

static float rng_float(uint64_t *state, float lo, float hi) {
    return lo + (hi - lo) * (float) ((double) (rng_next(state) >> 11) * 0x1p-53);
}

static void *xmalloc(size_t bytes) {
    void *p = malloc(bytes > 0 ? bytes : 1);
    assert_non_null(p);
    return p;
}

static void make_weights(struct aq_q4w *w, size_t n_rows, size_t k, size_t group, bool asym, uint64_t *rng) {
    size_t q_bytes, scale_bytes, zero_bytes;
    assert_true(aq_q4w_sizes(n_rows, k, group, asym, &q_bytes, &scale_bytes, &zero_bytes));
    w->n_rows = n_rows;
    w->k = k;
    w->group = group;
    w->q = xmalloc(q_bytes);
    w->scale = xmalloc(scale_bytes);
    w->zero = asym ? xmalloc(zero_bytes) : NULL;
    for (size_t i = 0; i < q_bytes; i++) w->q[i] = (uint8_t) rng_next(rng);
    for (size_t i = 0; i < n_rows * (k / group); i++) {
        /* Both signs, magnitudes over several binades, and some zero scales. */
        const float s = rng_int(rng, 0, 15) == 0 ? 0.0f : rng_float(rng, -2.0f, 2.0f) * (float) (1 << rng_int(rng, 0, 6)) / 64.0f;
        w->scale[i] = aq_fp32_to_fp16(s);
        if (asym) w->zero[i] = (uint8_t) rng_int(rng, 0, 15);
    }
}

static void free_weights(struct aq_q4w *w) {
    free(w->q);
    free(w->scale);
    free(w->zero);
}

/* bits 8: codes in [-128, 127], zero points in [-128, 127] when nonzero (static
 * asymmetric); bits 4: codes and zero points in [-8, 7]. */
static void make_acts(struct aq_qd8 *a, size_t m, size_t k, int bits, bool zero_points, uint64_t *rng) {
    const int32_t lo = bits == 8 ? -128 : -8, hi = bits == 8 ? 127 : 7;
    a->n_rows = m;
    a->k = k;
    a->q = xmalloc(m * k);
    a->scale = xmalloc(m * sizeof(float));
    a->zero = xmalloc(m * sizeof(int32_t));
    for (size_t i = 0; i < m * k; i++) {
        /* Extremes often, so the int16 accumulation bounds are exercised. */
        const int32_t r = rng_int(rng, 0, 7);
        a->q[i] = (int8_t) (r == 0 ? lo : r == 1 ? hi : rng_int(rng, lo, hi));
    }
    for (size_t t = 0; t < m; t++) {
        a->scale[t] = rng_float(rng, 1e-3f, 0.5f);
        a->zero[t] = zero_points ? rng_int(rng, lo, hi) : 0;
    }
}

static void free_acts(struct aq_qd8 *a) {
    free(a->q);
    free(a->scale);
    free(a->zero);
}

static const size_t ms[] = {1, 2, 3, 4, 5, 7, 8, 17};
static const size_t ns[] = {1, 3, 8, 15, 16, 17, 33, 64};
static const size_t ks[] = {32, 64, 96, 128, 256, 288, 4096};
static const size_t groups_all[] = {32, 64, 128};

#define COUNT(x) (sizeof(x) / sizeof((x)[0]))

/* One GEMM under test: either a table kernel (qd8) or the qd4 one. */
struct under_test {
    const aq_qc4w_gemm_kernel *kernel; /* NULL: the W4A4 kernel */
};

static size_t packed_size(const struct under_test *u, const struct aq_q4w *w) {
    return u->kernel ? u->kernel->packed_size(w) : aq_qc4w_packed_size_x8__neon(w);
}

static void pack(const struct under_test *u, const struct aq_q4w *w, void *packed) {
    if (u->kernel) {
        u->kernel->pack(w, packed);
    } else {
        aq_qc4w_pack_x8c16__neonmul16(w, packed);
    }
}

/* Runs kernel and reference on rows [n_begin, n_end) into sentinel-filled
 * buffers and compares them byte for byte. */
static void compare(const struct under_test *u, size_t m, size_t n_begin, size_t n_end, const struct aq_qd8 *a,
                    const struct aq_qd4 *a4, const struct aq_q4w *w, const void *packed, size_t out_stride,
                    const char *what) {
    const size_t count = m * out_stride;
    float *got = xmalloc(count * sizeof(float));
    float *want = xmalloc(count * sizeof(float));
    memset(got, 0xA5, count * sizeof(float));
    memset(want, 0xA5, count * sizeof(float));
    if (u->kernel) {
        aq_qd8_qc4w_gemm_ref(m, n_begin, n_end, a, w, want, out_stride);
        u->kernel->gemm(m, n_begin, n_end, a, w, packed, got, out_stride);
    } else {
        aq_qd4_qc4w_gemm_ref(m, n_begin, n_end, a4, w, want, out_stride);
        aq_qd4_qc4w_gemm_2x8c16__neonmul16(m, n_begin, n_end, a4, w, packed, got, out_stride);
    }
    if (memcmp(got, want, count * sizeof(float)) != 0) {
        for (size_t i = 0; i < count; i++) {
            if (memcmp(&got[i], &want[i], sizeof(float)) != 0) {
                print_error("%s: m=%zu n=%zu..%zu k=%zu group=%zu %s: out[%zu][%zu] = %a, reference %a\n",
                            u->kernel ? u->kernel->name : "qd4_qc4w_gemm_2x8c16__neonmul16", m, n_begin, n_end,
                            w->k, w->group, what, i / out_stride, i % out_stride, (double) got[i],
                            (double) want[i]);
                break;
            }
        }
        free(got);
        free(want);
        fail();
    }
    free(got);
    free(want);
}

static void run_shapes(const struct under_test *u, uint64_t seed) {
    uint64_t rng = seed;
    size_t cases = 0;
    for (size_t mi = 0; mi < COUNT(ms); mi++) {
        for (size_t ni = 0; ni < COUNT(ns); ni++) {
            for (size_t ki = 0; ki < COUNT(ks); ki++) {
                const size_t m = ms[mi], n = ns[ni], k = ks[ki];
                size_t valid[COUNT(groups_all)], n_valid = 0;
                for (size_t g = 0; g < COUNT(groups_all); g++) {
                    if (k % groups_all[g] == 0) valid[n_valid++] = groups_all[g];
                }
                const size_t group = valid[(mi + ni + ki) % n_valid];
                const bool asym = rng_next(&rng) & 1;
                const bool zero_points = rng_next(&rng) & 1;
                /* The W4A4 kernel takes 4-bit activations only. */
                const int bits = (!u->kernel || (rng_next(&rng) & 1)) ? 4 : 8;
                char what[64];
                snprintf(what, sizeof what, "%s, %d-bit acts, %s", asym ? "asym" : "sym", bits,
                         zero_points ? "za != 0" : "za = 0");

                struct aq_q4w w;
                struct aq_qd8 a;
                make_weights(&w, n, k, group, asym, &rng);
                make_acts(&a, m, k, bits, zero_points, &rng);
                struct aq_qd4 a4 = {0};
                if (!u->kernel) {
                    a4.q = xmalloc(m * k / 2);
                    a4.scale = xmalloc(m * sizeof(float));
                    a4.zero = xmalloc(m * sizeof(int32_t));
                    assert_true(aq_qd4_pack_ref(&a, &a4));
                }
                void *packed = xmalloc(packed_size(u, &w));
                pack(u, &w, packed);

                const size_t out_stride = n + 3;
                compare(u, m, 0, n, &a, &a4, &w, packed, out_stride, what);
                /* A sub-range as a thread would get it: n_begin on a tile boundary,
                 * n_end inside a tile. */
                if (n > 1) {
                    const size_t n_begin = n > 16 ? 8 : 0;
                    const size_t n_end = (n - 1) % 8 != 0 ? n - 1 : n - 2;
                    if (n_end > n_begin) compare(u, m, n_begin, n_end, &a, &a4, &w, packed, out_stride, what);
                }
                free(packed);
                free(a4.q);
                free(a4.scale);
                free(a4.zero);
                free_acts(&a);
                free_weights(&w);
                cases++;
            }
        }
    }
    assert_int_equal(cases, COUNT(ms) * COUNT(ns) * COUNT(ks));
}

static void test_table_kernel(const char *variant) {
    aq_kernels k;
    const aq_error err = aq_kernels_select(variant, &k);
    if (err == AQ_ERR_UNSUPPORTED) {
        print_message("%s: not supported by this CPU, skipped\n", variant);
        skip();
    }
    assert_int_equal(err, AQ_OK);
    assert_string_equal(k.name, variant);
    assert_non_null(k.qc4w_gemm.pack);
    assert_int_equal(k.qc4w_gemm.n_tile, 8);
    const struct under_test u = {.kernel = &k.qc4w_gemm};
    run_shapes(&u, 0x5EED0000u + (uint64_t) strlen(variant));
}

static void test_neon(void **state) {
    (void) state;
    test_table_kernel("neon");
}

static void test_neondot(void **state) {
    (void) state;
    test_table_kernel("neondot");
}

static void test_neonmul16_w4a4(void **state) {
    (void) state;
    const struct under_test u = {.kernel = NULL};
    run_shapes(&u, 0xA4A4u);
}

/* Activation sums and int16 lanes at their bounds: all codes 15, all
 * activations -128 (or 127), group 128, large zero points. */
static void test_extremes(void **state) {
    (void) state;
    static const char *const variants[] = {"neon", "neondot"};
    for (size_t v = 0; v < COUNT(variants); v++) {
        aq_kernels k;
        if (aq_kernels_select(variants[v], &k) != AQ_OK) continue;
        for (int sign = 0; sign < 2; sign++) {
            struct aq_q4w w;
            struct aq_qd8 a;
            uint64_t rng = 7;
            make_weights(&w, 9, 256, 128, true, &rng);
            make_acts(&a, 3, 256, 8, true, &rng);
            memset(w.q, 0xFF, 9 * 128);
            memset(w.zero, 0, 9 * 2);
            memset(a.q, sign ? 0x7F : 0x80, 3 * 256);
            a.zero[0] = sign ? -128 : 127;
            a.zero[1] = 0;
            void *packed = xmalloc(k.qc4w_gemm.packed_size(&w));
            k.qc4w_gemm.pack(&w, packed);
            const struct under_test u = {.kernel = &k.qc4w_gemm};
            compare(&u, 3, 0, 9, &a, NULL, &w, packed, 9, "extremes");
            free(packed);
            free_acts(&a);
            free_weights(&w);
        }
    }
}

static void test_dispatch(void **state) {
    (void) state;
    assert_true(cpuinfo_initialize());
    aq_kernels k;
    assert_int_equal(aq_kernels_select(NULL, &k), AQ_OK);
    const char *expected = cpuinfo_has_arm_neon_dot() ? "neondot" : "neon";
    assert_string_equal(k.name, expected);
    aq_kernels forced;
    assert_int_equal(aq_kernels_select(expected, &forced), AQ_OK);
    assert_ptr_equal(forced.qc4w_gemm.gemm, k.qc4w_gemm.gemm);
    assert_int_equal(aq_kernels_select("", &forced), AQ_OK);
    assert_string_equal(forced.name, expected);

    assert_int_equal(aq_kernels_select("neon", &forced), AQ_OK);
    assert_int_equal(aq_kernels_select("neondot", &forced),
                     cpuinfo_has_arm_neon_dot() ? AQ_OK : AQ_ERR_UNSUPPORTED);
    assert_int_equal(aq_kernels_select("i8mm", &forced), AQ_ERR_UNSUPPORTED); /* no i8mm kernel yet */
    assert_int_equal(aq_kernels_select("avx2", &forced), AQ_ERR_UNSUPPORTED);
    assert_int_equal(aq_kernels_select("ref", &forced), AQ_OK);
    assert_string_equal(forced.name, "ref");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dispatch),
        cmocka_unit_test(test_neon),
        cmocka_unit_test(test_neondot),
        cmocka_unit_test(test_neonmul16_w4a4),
        cmocka_unit_test(test_extremes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

#endif /* __aarch64__ */
