/* dispatch_x86.c - picks the x86 kernels once, from cpuinfo (and one CPUID probe
 * for AVX-VNNI, which the 2022 cpuinfo does not report). Kernels never test
 * features; this file is the only place that does. */
#include <cpuid.h>
#include <stdio.h>
#include <string.h>

#include <cpuinfo.h>

#include "../kernels_x86/kernels_x86.h"
#include "dispatch_arch.h"

typedef struct x86_caps {
    bool avx2;       /* AVX2 + FMA3 + F16C: every 256-bit kernel uses all three */
    bool avxvnni;    /* the above + VEX-encoded VPDPBUSD */
    bool avx512vnni; /* the above + AVX-512 F/BW/VL/VNNI */
} x86_caps;

/* AVX-VNNI is CPUID.(EAX=7, ECX=1):EAX bit 4. The OS support for the ymm state it
 * needs is the same as AVX2's, which cpuinfo has already checked (XGETBV). */
static bool cpu_has_avxvnni(void) {
    if (__get_cpuid_max(0, NULL) < 7) return false;
    unsigned eax, ebx, ecx, edx;
    __cpuid_count(7, 1, eax, ebx, ecx, edx);
    return (eax >> 4) & 1u;
}

static x86_caps detect(void) {
    x86_caps c = {false, false, false};
    /* Idempotent; a failure leaves only the reference kernels. */
    if (!cpuinfo_initialize()) return c;
    c.avx2 = cpuinfo_has_x86_avx2() && cpuinfo_has_x86_fma3() && cpuinfo_has_x86_f16c();
    c.avxvnni = c.avx2 && cpu_has_avxvnni();
    c.avx512vnni = c.avx2 && cpuinfo_has_x86_avx512f() && cpuinfo_has_x86_avx512bw() &&
                   cpuinfo_has_x86_avx512vl() && cpuinfo_has_x86_avx512vnni();
    return c;
}

static const aq_qc4w_gemm_kernel qc4w_avx512vnni = {
    .name = "qd8_qc4w_gemm_4x16c4__avx512vnni",
    .packed_size = aq_qc4w_packw_16c4_size,
    .pack = aq_qc4w_packw_16c4,
    .gemm = aq_qd8_qc4w_gemm_4x16c4__avx512vnni,
    .n_tile = 16,
};
static const aq_qc4w_gemm_kernel qc4w_avxvnni = {
    .name = "qd8_qc4w_gemm_4x8c4__avxvnni",
    .packed_size = aq_qc4w_packw_8c4_size,
    .pack = aq_qc4w_packw_8c4,
    .gemm = aq_qd8_qc4w_gemm_4x8c4__avxvnni,
    .n_tile = 8,
};
static const aq_qc4w_gemm_kernel qc4w_avx2 = {
    .name = "qd8_qc4w_gemm_4x8c4__avx2",
    .packed_size = aq_qc4w_packw_8c4_size,
    .pack = aq_qc4w_packw_8c4,
    .gemm = aq_qd8_qc4w_gemm_4x8c4__avx2,
    .n_tile = 8,
};

/* The AVX2 twins of the other four families. */
static void use_avx2_rest(aq_kernels *k) {
    k->f32_gemm = aq_f32_gemm_4x3__avx2;
    k->f32_qc4w_gemm = aq_f32_qc4w_gemm_4x1__avx2;
    k->q4_0_q8_0_dot = aq_q4_0_q8_0_dot__avx2;
    k->q8_0_q8_0_dot = aq_q8_0_q8_0_dot__avx2;
}

aq_error aq_kernels_select_arch(const char *override, aq_kernels *k) {
    const x86_caps caps = detect();
    const char *qc4w = "ref", *rest = "ref";
    if (override == NULL) {
        if (caps.avx512vnni) {
            k->qc4w_gemm = qc4w_avx512vnni;
            qc4w = "avx512vnni";
        } else if (caps.avxvnni) {
            k->qc4w_gemm = qc4w_avxvnni;
            qc4w = "avxvnni";
        } else if (caps.avx2) {
            k->qc4w_gemm = qc4w_avx2;
            qc4w = "avx2";
        }
        if (caps.avx2) {
            use_avx2_rest(k);
            rest = "avx2";
        }
    } else if (strcmp(override, "avx2") == 0) {
        if (!caps.avx2) return AQ_ERR_UNSUPPORTED;
        k->qc4w_gemm = qc4w_avx2;
        use_avx2_rest(k);
        qc4w = rest = "avx2";
    } else if (strcmp(override, "avxvnni") == 0) {
        /* Only the integer GEMM has an AVX-VNNI variant; the rest stay reference. */
        if (!caps.avxvnni) return AQ_ERR_UNSUPPORTED;
        k->qc4w_gemm = qc4w_avxvnni;
        qc4w = "avxvnni";
    } else if (strcmp(override, "avx512vnni") == 0) {
        if (!caps.avx512vnni) return AQ_ERR_UNSUPPORTED;
        k->qc4w_gemm = qc4w_avx512vnni;
        qc4w = "avx512vnni";
    } else {
        return AQ_ERR_UNSUPPORTED;
    }
    /* At most 53 characters: fits name[64]. */
    snprintf(k->name, sizeof k->name, "qc4w:%s f32:%s w4a16:%s q4_0:%s q8_0:%s", qc4w, rest, rest, rest, rest);
    return AQ_OK;
}
