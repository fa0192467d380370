/* driver.c - the freestanding program BochsCPU runs (run.py): the jobs of the image
 * (emu.h) whose feature the runner chose, each a call of a listed kernel, then HLT.
 * Linked from the build's own kernel objects (libaq_kernels.a) with no C library:
 * the call tables come from the same .inc lists as lib/kernels/lists.c, so entry i
 * here is entry i of the family's list. */
#include <stddef.h>
#include <stdint.h>

#include "emu.h"
#include "ukernels.h"

/* What the compiler and the kernels call: the guest has no C library. Byte loops
 * with an empty asm so gcc does not turn them back into calls of themselves. */
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n) { return memmove(dst, src, n); }
void *memmove(void *dst, const void *src, size_t n) {
    unsigned char *d = dst;
    const unsigned char *s = src;
    if (d < s)
        for (size_t i = 0; i < n; i++) {
            d[i] = s[i];
            __asm__ volatile("" ::: "memory");
        }
    else
        for (size_t i = n; i-- > 0;) {
            d[i] = s[i];
            __asm__ volatile("" ::: "memory");
        }
    return dst;
}
void *memset(void *dst, int c, size_t n) {
    unsigned char *d = dst;
    for (size_t i = 0; i < n; i++) {
        d[i] = (unsigned char)c;
        __asm__ volatile("" ::: "memory");
    }
    return dst;
}

static void run(const struct emu_job *j) {
    static void (*const qc4w[])(size_t, size_t, size_t, const struct aq_qd8 *, const struct aq_q4w *, const void *,
                                float *, size_t) = {
#define AQ_QD8_QC4W_GEMM(isa, mr, nr, kr, gemm, packw) gemm,
#include "qd8-qc4w-gemm.inc"
#undef AQ_QD8_QC4W_GEMM
    };
    static void (*const qc3w[])(size_t, size_t, size_t, const struct aq_qd8 *, const struct aq_q4w *, const void *,
                                float *, size_t) = {
#define AQ_QD8_QC3W_GEMM(isa, mr, nr, kr, gemm, packw) gemm,
#include "qd8-qc3w-gemm.inc"
#undef AQ_QD8_QC3W_GEMM
    };
    static const aq_block_gemm_fn block[] = {
#define AQ_BLOCK_GEMM(isa, type, mr, nr, fn) fn,
#include "block-gemm.inc"
#undef AQ_BLOCK_GEMM
    };
    static const aq_block_gemm_fn block_x8[] = {
#define AQ_BLOCK_GEMM_X8(isa, type, mr, fn, pack) fn,
#include "block-gemm-x8.inc"
#undef AQ_BLOCK_GEMM_X8
    };
    static const aq_act_quantize_fn actq[] = {
#define AQ_ACT_QUANTIZE(isa, type, fn) fn,
#include "act-quantize.inc"
#undef AQ_ACT_QUANTIZE
    };
    static const aq_f32_attention_fn attention[] = {
#define AQ_F32_ATTENTION(isa, fn) fn,
#include "f32-attention.inc"
#undef AQ_F32_ATTENTION
    };
    const uint64_t *a = j->args;
    switch (j->family) {
    case EMU_QD8_QC4W_GEMM:
        qc4w[j->index](a[0], a[1], a[2], (const struct aq_qd8 *)a[3], (const struct aq_q4w *)a[4], (const void *)a[5],
                       (float *)a[6], a[7]);
        break;
    case EMU_QD8_QC3W_GEMM:
        qc3w[j->index](a[0], a[1], a[2], (const struct aq_qd8 *)a[3], (const struct aq_q4w *)a[4], (const void *)a[5],
                       (float *)a[6], a[7]);
        break;
    case EMU_BLOCK_GEMM:
        block[j->index](a[0], a[1], a[2], a[3], (const void *)a[4], a[5], (const void *)a[6], a[7], (float *)a[8],
                        a[9]);
        break;
    case EMU_BLOCK_GEMM_X8:
        block_x8[j->index](a[0], a[1], a[2], a[3], (const void *)a[4], a[5], (const void *)a[6], a[7], (float *)a[8],
                           a[9]);
        break;
    case EMU_F32_ATTENTION:
        attention[j->index]((aq_attn_tile *)a[0], a[1], (const float *const *)a[2], (const float *const *)a[3],
                            (const float *)a[4], (float *)a[5]);
        break;
    case EMU_ACT_QUANTIZE:
        actq[j->index]((const float *)a[0], a[1], (void *)a[2]);
        break;
    default:
        /* An unknown family: a fault the runner reports. */
        __builtin_trap();
    }
}

__attribute__((noreturn)) void _start(void);
__attribute__((noreturn)) void _start(void) {
    struct emu_image *img = (struct emu_image *)(uintptr_t)EMU_BASE;
    const struct emu_job *jobs = (const struct emu_job *)(uintptr_t)img->jobs;
    uint32_t a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(7), "c"(0));
    img->cpuid7_ebx = b;
    img->cpuid7_ecx = c;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(7), "c"(1));
    img->cpuid7_1_eax = a;
    for (uint64_t i = 0; i < img->n_jobs; i++)
        if (jobs[i].isa == img->run_isa) {
            run(&jobs[i]);
            img->ran++;
        }
    for (;;) __asm__ volatile("hlt");
}
