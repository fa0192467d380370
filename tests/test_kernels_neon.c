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

int main(void) { return aq_run_kernel_tests("aarch64", test_arm_features); }
#endif /* __aarch64__ */
