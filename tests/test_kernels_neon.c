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
    if (i8mm) assert_string_equal(k.qc4w_gemm.name, "aq_qd8_qc4w_gemm_4x8c8__i8mm");
}

static void test_arm(void **state) {
    test_arm_features(state);
    test_i8mm_choice(state);
}

int main(void) { return aq_run_kernel_tests("aarch64", test_arm); }
#endif /* __aarch64__ */
