/* cpu_features.c - cpuinfo, and the two probes it lacks (see cpu_features.h). */
#include "cpu_features.h"

#include <string.h>

#include <cpuinfo.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#endif

#include "arm_hwcap.h"

/* AVX-VNNI is CPUID.(EAX=7, ECX=1):EAX bit 4. The OS support for the ymm state it
 * needs is AVX2's, which cpuinfo checks (XGETBV) before it reports AVX2. */
static bool x86_has_avxvnni(void) {
#if defined(__x86_64__) || defined(__i386__)
    if (__get_cpuid_max(0, NULL) < 7) return false;
    unsigned eax, ebx, ecx, edx;
    __cpuid_count(7, 1, eax, ebx, ecx, edx);
    return (eax >> 4) & 1u;
#else
    return false;
#endif
}

/* The kernel (Linux) reports what user space may run in the HWCAP words. */
static bool arm_has_i8mm(void) {
#if defined(__aarch64__) && defined(__linux__)
    return (getauxval(AT_HWCAP2) & AQ_HWCAP2_I8MM) != 0;
#else
    return false;
#endif
}

static bool x86_has_avx2(void) { return cpuinfo_has_x86_avx2() && cpuinfo_has_x86_fma3() && cpuinfo_has_x86_f16c(); }

bool aq_cpu_has(aq_cpu_feature f) {
    if (f == AQ_CPU_NONE) return true;
#if defined(__aarch64__)
    /* ARMv8-A: Advanced SIMD is always there, cpuinfo or not. */
    if (f == AQ_CPU_NEON) return true;
#endif
    /* Idempotent and thread safe. */
    if (!cpuinfo_initialize()) return false;
    switch (f) {
    case AQ_CPU_AVX2:
        return x86_has_avx2();
    case AQ_CPU_AVXVNNI:
        return x86_has_avx2() && x86_has_avxvnni();
    case AQ_CPU_AVX512VNNI:
        return x86_has_avx2() && cpuinfo_has_x86_avx512f() && cpuinfo_has_x86_avx512bw() &&
               cpuinfo_has_x86_avx512vl() && cpuinfo_has_x86_avx512vnni();
    case AQ_CPU_NEONDOT:
        return cpuinfo_has_arm_neon_dot();
    case AQ_CPU_I8MM:
        return cpuinfo_has_arm_neon_dot() && arm_has_i8mm();
    case AQ_CPU_NONE:
    case AQ_CPU_NEON: /* not aarch64 */
    case AQ_CPU_FEATURE_COUNT:
        break;
    }
    return false;
}

static const char *const feature_names[AQ_CPU_FEATURE_COUNT] = {
    [AQ_CPU_NONE] = "ref",        [AQ_CPU_AVX2] = "avx2",
    [AQ_CPU_AVXVNNI] = "avxvnni", [AQ_CPU_AVX512VNNI] = "avx512vnni",
    [AQ_CPU_NEON] = "neon",       [AQ_CPU_NEONDOT] = "neondot",
    [AQ_CPU_I8MM] = "i8mm",
};

const char *aq_cpu_feature_name(aq_cpu_feature f) {
    return (unsigned)f < AQ_CPU_FEATURE_COUNT ? feature_names[f] : "unknown";
}

aq_cpu_feature aq_cpu_feature_from_name(const char *name) {
    for (unsigned f = 0; f < AQ_CPU_FEATURE_COUNT; f++)
        if (name && strcmp(name, feature_names[f]) == 0) return (aq_cpu_feature)f;
    return AQ_CPU_FEATURE_COUNT;
}
