/* emu.h - the memory image gen.c writes and driver.c runs in BochsCPU (README.md).
 *
 * The image is guest memory from EMU_BASE, and gen builds it at that very address
 * in its own process (a fixed mapping), so every pointer in it (operands, the
 * pointers inside struct aq_qd8 / aq_q4w, the job arguments) is valid in the guest
 * as it is: nothing is relocated. It starts with struct emu_image. */
#ifndef AQ_X86EMU_EMU_H
#define AQ_X86EMU_EMU_H

#include <stdint.h>

#define EMU_BASE 0x10000000u
#define EMU_CAP 0x20000000u /* image bytes at most: up to 0x30000000, below the page tables */
#define EMU_MAGIC 0x554d4537385158aull

/* The kernel families gen covers: the index of a job is its entry's position in
 * that family's list (kernels.h), which is its line in the family's .inc. */
enum emu_family {
    EMU_QD8_QC4W_GEMM = 1,
    EMU_BLOCK_GEMM = 2,
    EMU_ACT_QUANTIZE = 3,
    EMU_QD8_QC3W_GEMM = 4,
    EMU_BLOCK_GEMM_X8 = 5,
    EMU_F32_ATTENTION = 6
};

struct emu_job {
    uint64_t family, index;
    uint64_t isa;      /* aq_cpu_feature of the entry */
    uint64_t args[10]; /* the call's arguments, in order, as integers */
};

struct emu_image {
    uint64_t magic;
    uint64_t used;   /* bytes of the image, this header included */
    uint64_t n_jobs; /* jobs at address `jobs` */
    uint64_t jobs;
    uint64_t run_isa; /* set by the runner: the driver runs the jobs of this feature only */
    uint64_t ran;     /* set by the driver: how many it ran */
    uint64_t host;    /* gen's bookkeeping while it builds the image; 0 in the file */
    /* Set by the driver: CPUID leaf 7 EBX and ECX (subleaf 0) and EAX (subleaf 1),
     * so the runner sees that the Bochs model has the feature (and, for AVX-VNNI,
     * no AVX-512F). */
    uint64_t cpuid7_ebx, cpuid7_ecx, cpuid7_1_eax;
};

#endif /* AQ_X86EMU_EMU_H */
