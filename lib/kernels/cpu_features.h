/* cpu_features.h - the one place that asks what the CPU runs, for the dispatcher
 * (dispatch.c) and the kernel tests alike. Internal.
 *
 * Each feature is what one ISA's kernels need, all of it: a kernel list entry names
 * one (kernels_x86/ *.inc, kernels_neon/ *.inc) and is only ever called when
 * aq_cpu_has() says yes. The answers come from cpuinfo, plus the two probes that
 * Debian's 2022 cpuinfo lacks: AVX-VNNI (CPUID leaf 7, sub-leaf 1, EAX bit 4) and
 * Arm's int8 matrix multiply (HWCAP2_I8MM from getauxval). As with cpuinfo's own
 * queries, a feature of another architecture is simply false, so callers need no
 * #if. */
#ifndef AQ_CPU_FEATURES_H
#define AQ_CPU_FEATURES_H

#include <stdbool.h>

typedef enum aq_cpu_feature {
    AQ_CPU_NONE,       /* portable C: every CPU ("ref") */
    AQ_CPU_AVX2,       /* x86-64 AVX2 + FMA3 + F16C: every 256-bit kernel uses all three */
    AQ_CPU_AVXVNNI,    /* the above + AVX-VNNI (VEX-encoded 256-bit VPDPBUSD) */
    AQ_CPU_AVX512VNNI, /* AVX2 + FMA3 + F16C + AVX-512 F/BW/VL/VNNI */
    AQ_CPU_NEON,       /* AArch64 Advanced SIMD, part of ARMv8-A: every aarch64 CPU */
    AQ_CPU_NEONDOT,    /* + ARMv8.2 dot product (SDOT) */
    AQ_CPU_I8MM,       /* + ARMv8.6 int8 matrix multiply (SMMLA), optional from ARMv8.2 */
    AQ_CPU_FEATURE_COUNT
} aq_cpu_feature;

/* true when this CPU (and OS) runs code built for f. AQ_CPU_NONE is always true.
 * Thread safe; initializes cpuinfo on first use (if that fails, only AQ_CPU_NONE
 * and, on aarch64, AQ_CPU_NEON are true). */
bool aq_cpu_has(aq_cpu_feature f);

/* The feature's name as AQ_KERNELS / aq_model_set_kernels spell it: "ref", "avx2",
 * "avxvnni", "avx512vnni", "neon", "neondot", "i8mm". */
const char *aq_cpu_feature_name(aq_cpu_feature f);

/* The feature with that name, or AQ_CPU_FEATURE_COUNT if there is none. */
aq_cpu_feature aq_cpu_feature_from_name(const char *name);

#endif /* AQ_CPU_FEATURES_H */
