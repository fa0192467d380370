/* dispatch_arm.c - kernel choice on aarch64, once, from cpuinfo (and, for i8mm,
 * which Debian's 2022 cpuinfo cannot report, from the kernel's HWCAP2 bits).
 *
 * Order of preference for the INT4-weight GEMM: neondot > neon > ref. Plain NEON
 * (ASIMD) is part of ARMv8-A, so "neon" always runs here. */
#include <string.h>
#include <sys/auxv.h>

#include <cpuinfo.h>

#include "../kernels_neon/qc4w-gemm-neon.h"
#include "dispatch_arch.h"

#ifndef HWCAP2_I8MM
#define HWCAP2_I8MM (1UL << 13)
#endif

enum arm_variant { ARM_NEON, ARM_NEONDOT, ARM_I8MM };

static bool cpu_has(enum arm_variant v) {
    switch (v) {
    case ARM_NEON:
        return true;
    case ARM_NEONDOT:
        return cpuinfo_has_arm_neon_dot();
    case ARM_I8MM:
        return (getauxval(AT_HWCAP2) & HWCAP2_I8MM) != 0;
    }
    return false;
}

static void use_variant(enum arm_variant v, aq_kernels *k) {
    switch (v) {
    case ARM_NEONDOT:
        k->qc4w_gemm = (aq_qc4w_gemm_kernel){.name = "qd8_qc4w_gemm_4x8c4__neondot",
                                             .packed_size = aq_qc4w_packed_size_x8__neon,
                                             .pack = aq_qc4w_pack_x8c4__neondot,
                                             .gemm = aq_qd8_qc4w_gemm_4x8c4__neondot,
                                             .n_tile = 8};
        strcpy(k->name, "neondot");
        break;
    case ARM_NEON:
    default:
        k->qc4w_gemm = (aq_qc4w_gemm_kernel){.name = "qd8_qc4w_gemm_2x8c16__neon",
                                             .packed_size = aq_qc4w_packed_size_x8__neon,
                                             .pack = aq_qc4w_pack_x8c16__neon,
                                             .gemm = aq_qd8_qc4w_gemm_2x8c16__neon,
                                             .n_tile = 8};
        strcpy(k->name, "neon");
        break;
    }
}

aq_error aq_kernels_select_arch(const char *override, aq_kernels *k) {
    /* cpuinfo_initialize() is idempotent and thread safe; without it the
     * feature queries all answer false, so automatic choice falls to plain NEON. */
    const bool cpuinfo_ok = cpuinfo_initialize();
    if (override != NULL) {
        enum arm_variant v;
        if (strcmp(override, "neon") == 0) {
            v = ARM_NEON;
        } else if (strcmp(override, "neondot") == 0) {
            v = ARM_NEONDOT;
        } else {
            return AQ_ERR_UNSUPPORTED; /* unknown, or "i8mm" (no kernel yet) */
        }
        if (v != ARM_NEON && (!cpuinfo_ok || !cpu_has(v))) return AQ_ERR_UNSUPPORTED;
        use_variant(v, k);
        return AQ_OK;
    }
    use_variant(cpuinfo_ok && cpu_has(ARM_NEONDOT) ? ARM_NEONDOT : ARM_NEON, k);
    return AQ_OK;
}
