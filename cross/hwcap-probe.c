/* Prints which SIMD extensions the (emulated) aarch64 CPU reports to Linux programs, as
 * "asimd=A dotprod=D i8mm=I". scripts/test.sh runs it under qemu-user to check that QEMU_CPU
 * really selects the CPU model the test suite then runs on. */
#include <stdio.h>
#include <sys/auxv.h>

#define AQ_HWCAP_ASIMD (1UL << 1)
#define AQ_HWCAP_ASIMDDP (1UL << 20)
#define AQ_HWCAP2_I8MM (1UL << 13)

int main(void) {
    const unsigned long hwcap = getauxval(AT_HWCAP);
    const unsigned long hwcap2 = getauxval(AT_HWCAP2);
    printf("asimd=%d dotprod=%d i8mm=%d\n", (hwcap & AQ_HWCAP_ASIMD) != 0,
           (hwcap & AQ_HWCAP_ASIMDDP) != 0, (hwcap2 & AQ_HWCAP2_I8MM) != 0);
    return 0;
}
