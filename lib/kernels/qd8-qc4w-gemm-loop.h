/* qd8-qc4w-gemm-loop.h - the outer loop of every qd8 x qc4w GEMM kernel, written
 * once (qd8-qc4w-gemm-loop.c, plain C), and the micro-tile contract an ISA file
 * fills. Internal to lib/kernels and the kernel folders.
 *
 * A kernel file holds only its micro-tile and one line:
 *
 *   AQ_TILE_INLINE void tile(size_t mr, const struct aq_qc4w_tile *t) { ... }
 *   AQ_QD8_QC4W_GEMM_DEFINE(aq_qd8_qc4w_gemm_4x8c4__avx2, MR, NR, META, tile)
 *
 * The loop does the rest: weight rows in blocks of about AQ_QC4W_BLOCK_BYTES of
 * packed weights (kept in L2 while every activation tile passes over them), the
 * activation rows in tiles of MR (the last one shorter; tile() is instantiated for
 * each constant mr), the rows [n_begin, n_end) in packed tiles of NR (the last one
 * partial: t->nr < NR), the groups in chunks of at most AQ_QC4W_GROUP_CHUNK, and
 * the activation sums per row and group that every kernel's zero-point correction
 * needs.
 *
 * The packer convention of every qc4w kernel (kernels_x86/qc4w-packw.c,
 * kernels_neon/qc4w-packw.c): rows are cut into tiles of NR, the last one padded
 * with rows that compute 0 and are never stored; per tile, per group in order, one
 * block of NR * (META + group / 2) bytes: META bytes of metadata per row (scales,
 * zero-point terms; their layout is the architecture's, in its qc4w-packw.h), then
 * the NR * group codes, two per byte, in the order the kernel's tile reads them.
 */
#ifndef AQ_QD8_QC4W_GEMM_LOOP_H
#define AQ_QD8_QC4W_GEMM_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "quant.h"
#include "ukernels.h"

/* Target size of a block of packed weight rows. */
#define AQ_QC4W_BLOCK_BYTES (256 * 1024)
/* Groups per chunk: bounds the activation sums on the stack (8 rows x 512 x 4 bytes
 * = 16 KiB). Longer rows are done in chunks, the float accumulators going through
 * out between chunks (an exact store and reload). */
#define AQ_QC4W_GROUP_CHUNK 512

/* What one call of a micro-tile computes: mr activation rows times one packed tile
 * of NR weight rows (nr of them stored), over groups [g0, g0 + groups). */
struct aq_qc4w_tile {
    const int8_t *a;       /* row 0 of the activation tile; row t starts at a + t * k */
    size_t k;              /* elements per row */
    const float *a_scale;  /* a_scale[t] */
    const int32_t *a_zero; /* a_zero[t] (za) */
    const int32_t *a_sum;  /* a_sum[t * groups + g]: sum of row t's codes over group g0 + g, exact */
    const uint8_t *w;      /* the packed block of group g0 of this tile; groups follow */
    size_t group;          /* elements per group */
    size_t g0, groups;     /* the chunk of groups */
    size_t nr;             /* weight rows to store, 1..NR */
    bool accumulate;       /* false: start from 0.0f; true: from out (an earlier chunk) */
    float *out;            /* out[t * out_stride + j] for row j of the tile */
    size_t out_stride;
};

typedef void (*aq_qc4w_tile_fn)(size_t mr, const struct aq_qc4w_tile *t);

/* The family's gemm (aq_qc4w_gemm_kernel) for a kernel with tile mr_max x nr and
 * meta_bytes of metadata per row and group, calling tile with mr <= mr_max. */
void aq_qd8_qc4w_gemm_loop(size_t mr_max, size_t nr, size_t meta_bytes, aq_qc4w_tile_fn tile, size_t m, size_t n_begin,
                           size_t n_end, const struct aq_qd8 *a, const struct aq_q4w *w, const void *packed, float *out,
                           size_t out_stride);

/* Defines the kernel `name` from the inline micro-tile `tile(mr, t)`. */
#define AQ_QD8_QC4W_GEMM_DEFINE(name, MR, NR, META, tile)                                                              \
    static void name##_tile(size_t mr, const struct aq_qc4w_tile *t) { AQ_TILE_FOR_MR(MR, mr, tile, t); }              \
    void name(size_t m, size_t n_begin, size_t n_end, const struct aq_qd8 *a, const struct aq_q4w *w,                  \
              const void *packed, float *out, size_t out_stride) {                                                     \
        aq_qd8_qc4w_gemm_loop(MR, NR, META, name##_tile, m, n_begin, n_end, a, w, packed, out, out_stride);            \
    }

#endif /* AQ_QD8_QC4W_GEMM_LOOP_H */
