/* arm_hwcap.h - the Linux AArch64 HWCAP bits the project reads, in one place: for
 * cpu_features.c (i8mm, which Debian's 2022 cpuinfo cannot report) and for
 * cross/hwcap-probe.c (which checks that QEMU_CPU selects the CPU model the tests then
 * run on). Values from the kernel's arch/arm64/include/uapi/asm/hwcap.h; the glibc
 * headers of older systems may lack the names. */
#ifndef AQ_ARM_HWCAP_H
#define AQ_ARM_HWCAP_H

#define AQ_HWCAP_ASIMD (1UL << 1)    /* AT_HWCAP: Advanced SIMD */
#define AQ_HWCAP_ASIMDDP (1UL << 20) /* AT_HWCAP: dot product (SDOT, UDOT) */
#define AQ_HWCAP2_I8MM (1UL << 13)   /* AT_HWCAP2: int8 matrix multiply (SMMLA, ...) */

#endif /* AQ_ARM_HWCAP_H */
