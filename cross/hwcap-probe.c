/* Prints which SIMD extensions the (emulated) aarch64 CPU reports to Linux programs, as
 * "asimd=A dotprod=D i8mm=I". scripts/test.sh runs it under qemu-user to check that QEMU_CPU
 * really selects the CPU model the test suite then runs on. It reads the kernel's HWCAP words
 * directly, with the bits the library's feature probe uses (lib/kernels/arm_hwcap.h), so it
 * checks qemu, not cpuinfo. */
#include <stdio.h>
#include <sys/auxv.h>

#include "../lib/kernels/arm_hwcap.h"

int main(void) {
    const unsigned long hwcap = getauxval(AT_HWCAP);
    const unsigned long hwcap2 = getauxval(AT_HWCAP2);
    printf("asimd=%d dotprod=%d i8mm=%d\n", (hwcap & AQ_HWCAP_ASIMD) != 0,
           (hwcap & AQ_HWCAP_ASIMDDP) != 0, (hwcap2 & AQ_HWCAP2_I8MM) != 0);
    return 0;
}
