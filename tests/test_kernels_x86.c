/* test_kernels_x86.c - every kernel of the x86-64 lists (kernels_x86/ *.inc, through
 * lib/kernels) against its reference, and dispatch: the tests of test_kernels.h,
 * plus what only x86-64 knows. A kernel whose ISA this CPU lacks is skipped. */
#include <stdio.h>

#if !defined(__x86_64__)
/* Other architectures: 77 tells meson the test was skipped. */
int main(void) {
    puts("test_kernels_x86: not an x86-64 build, skipped");
    return 77;
}
#else
#include "test_kernels.h"

/* The x86-64 lists hold x86 kernels only, and the feature shim answers no to Arm. */
static void test_x86_features(void **state) {
    (void)state;
    assert_false(aq_cpu_has(AQ_CPU_NEON));
    assert_false(aq_cpu_has(AQ_CPU_NEONDOT));
    assert_false(aq_cpu_has(AQ_CPU_I8MM));
    /* Every wider ISA here implies AVX2 + FMA3 + F16C. */
    if (aq_cpu_has(AQ_CPU_AVXVNNI) || aq_cpu_has(AQ_CPU_AVX512VNNI)) assert_true(aq_cpu_has(AQ_CPU_AVX2));
    for (size_t i = 0; i + 1 < aq_qd8_qc4w_gemm_list_size; i++) {
        const aq_cpu_feature isa = aq_qd8_qc4w_gemm_list[i].isa;
        assert_true(isa == AQ_CPU_AVX2 || isa == AQ_CPU_AVXVNNI || isa == AQ_CPU_AVX512VNNI);
    }
    print_message("this CPU: avx2=%d avxvnni=%d avx512vnni=%d\n", aq_cpu_has(AQ_CPU_AVX2), aq_cpu_has(AQ_CPU_AVXVNNI),
                  aq_cpu_has(AQ_CPU_AVX512VNNI));
}

int main(void) { return aq_run_kernel_tests("x86-64", test_x86_features); }
#endif /* __x86_64__ */
