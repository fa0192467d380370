/* test_kernels_neon.c - every kernel of the AArch64 lists (kernels_neon/ *.inc,
 * through lib/kernels) against its reference, and dispatch: the tests of
 * test_kernels.h, plus what only AArch64 knows. A kernel whose extension this CPU
 * lacks is skipped (e.g. neondot under qemu -cpu cortex-a72). */
#include <stdio.h>

#if !defined(__aarch64__)
/* Other architectures: 77 tells meson the test was skipped. */
int main(void) {
    puts("test_kernels_neon: not an aarch64 build, skipped");
    return 77;
}
#else
#include <sys/auxv.h>

#include "arm_hwcap.h"
#include "qd8-qc4w-gemm-loop.h"
#include "test_kernels.h"

/* Plain NEON is ARMv8-A: always there, so "neon" is always a valid choice; the
 * shim answers no to x86. */
static void test_arm_features(void **state) {
    (void)state;
    assert_true(aq_cpu_has(AQ_CPU_NEON));
    assert_false(aq_cpu_has(AQ_CPU_AVX2));
    assert_false(aq_cpu_has(AQ_CPU_AVX512VNNI));
    if (aq_cpu_has(AQ_CPU_I8MM)) assert_true(aq_cpu_has(AQ_CPU_NEONDOT));
    aq_kernels k;
    assert_int_equal(aq_kernels_select("neon", &k), AQ_OK);
    for (size_t i = 0; i + 1 < aq_qd8_qc4w_gemm_list_size; i++) {
        const aq_cpu_feature isa = aq_qd8_qc4w_gemm_list[i].isa;
        assert_true(isa == AQ_CPU_NEON || isa == AQ_CPU_NEONDOT || isa == AQ_CPU_I8MM);
    }
    /* Something always beats the reference here. */
    assert_int_equal(aq_kernels_select(NULL, &k), AQ_OK);
    assert_non_null(k.qc4w_gemm.packed_size);
    print_message("this CPU: neondot=%d i8mm=%d\n", aq_cpu_has(AQ_CPU_NEONDOT), aq_cpu_has(AQ_CPU_I8MM));
}

/* The SMMLA kernel runs only where the kernel's HWCAP words say i8mm and the dot
 * product (read here directly, not through cpu_features.c): never on a NEON-only
 * CPU (qemu -cpu cortex-a72) nor on a dot-product-only one (cortex-a76,
 * neoverse-n1), and it is the automatic choice where both are (qemu -cpu max). */
static void test_i8mm_choice(void **state) {
    (void)state;
    const bool dot = (getauxval(AT_HWCAP) & AQ_HWCAP_ASIMDDP) != 0;
    const bool i8mm = dot && (getauxval(AT_HWCAP2) & AQ_HWCAP2_I8MM) != 0;
    assert_int_equal(aq_cpu_has(AQ_CPU_I8MM), i8mm);
    aq_kernels k;
    assert_int_equal(aq_kernels_select(NULL, &k), AQ_OK);
    print_message("HWCAP dotprod=%d i8mm=%d: %s\n", dot, i8mm, k.qc4w_gemm.name);
    assert_int_equal(k.qc4w_gemm.isa == AQ_CPU_I8MM, i8mm);
    assert_int_equal(strstr(k.name, "i8mm") != NULL, i8mm);
    assert_int_equal(aq_kernels_select("i8mm", &k), i8mm ? AQ_OK : AQ_ERR_UNSUPPORTED);
    if (i8mm) assert_string_equal(k.qc4w_gemm.name, "aq_qd8_qc4w_gemm_8x8c8__i8mm");
}

/* The SMMLA kernel's two tiles and its paired loop, beyond the shapes every
 * kernel gets (test_kernels.h: m = 1, 7, 8, 9, 17, 28 for a tile of 8): every
 * tail of the 8-token tile (m = 1..16; 1 to 4 tokens run tile_4, 5 to 8 tile_8 in
 * passes of 4 rows), row tiles whose second pass is skipped (n % 8 in 1..4), odd
 * group counts, and k past AQ_QC4W_PAIRED_K, whose chunks accumulate through out;
 * weights symmetric and asymmetric, activations 8- and 4-bit, zero points zero
 * and not (cycling). */
static void test_i8mm_tails(void) {
    const aq_qc4w_gemm_kernel *kern = NULL;
    for (size_t i = 0; i < aq_qd8_qc4w_gemm_list_size; i++)
        if (aq_qd8_qc4w_gemm_list[i].isa == AQ_CPU_I8MM) kern = &aq_qd8_qc4w_gemm_list[i];
    assert_non_null(kern);
    if (!aq_cpu_has(AQ_CPU_I8MM)) {
        print_message("%s tails: this CPU has no i8mm, skipped\n", kern->name);
        return;
    }
    uint64_t rng = 0x5EED0811u;
    static const size_t ns[] = {3, 12, 21};
    static const size_t groups[] = {32, 64, 128};
    unsigned variant = 0;
    for (size_t m = 1; m <= 16; m++)
        for (size_t in = 0; in < COUNT(ns); in++, variant++) {
            const size_t group = groups[variant % COUNT(groups)], k = (1 + variant % 3) * group;
            check_qc4w_ranges(kern, m, ns[in], k, group, variant & 1, (variant >> 1) & 1 ? 4 : 8, (variant >> 2) & 1,
                              FILL_RANDOM, &rng);
        }
    for (size_t ig = 0; ig < COUNT(groups); ig++, variant++)
        check_qc4w_ranges(kern, 6 + 2 * ig, 13, AQ_QC4W_PAIRED_K + 3 * groups[ig], groups[ig], variant & 1, 8, ig == 1,
                          FILL_RANDOM, &rng);
}

static void test_arm(void **state) {
    test_arm_features(state);
    test_i8mm_choice(state);
    test_i8mm_tails();
}

int main(void) { return aq_run_kernel_tests("aarch64", test_arm); }
#endif /* __aarch64__ */
