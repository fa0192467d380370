/* f32-qc4w-gemm-loop.h - the outer loop of every FP32 x INT4 (W4A16) GEMM kernel
 * (aq_f32_qc4w_gemm_fn), written once (f32-qc4w-gemm-loop.c), and the micro-tile
 * contract an ISA file fills. Internal to lib/kernels and the kernel folders.
 *
 *   AQ_TILE_INLINE void tile(size_t mr, const struct aq_f32_qc4w_gemm_tile *t) { ... }
 *   AQ_F32_QC4W_GEMM_DEFINE(aq_f32_qc4w_gemm_4x1__avx2, MR, NR, tile)
 *
 * The loop: rows of x in tiles of MR (the last one shorter; tile() is instantiated
 * for each constant mr), weight rows [n_begin, n_end) in tiles of NR (the last one
 * partial). The kernels read the plain aq_q4w (no packing).
 */
#ifndef AQ_F32_QC4W_GEMM_LOOP_H
#define AQ_F32_QC4W_GEMM_LOOP_H

#include <stddef.h>

#include "quant.h"
#include "ukernels.h"

/* mr rows of x times weight rows [r, r + nr); all of k. */
struct aq_f32_qc4w_gemm_tile {
    const float *x; /* row 0 of the x tile; row t at x + t * x_stride */
    size_t x_stride;
    const struct aq_q4w *w;
    size_t r;   /* first weight row */
    size_t nr;  /* weight rows, 1..NR */
    float *out; /* out[t * out_stride + j] for weight row r + j */
    size_t out_stride;
};

typedef void (*aq_f32_qc4w_gemm_tile_fn)(size_t mr, const struct aq_f32_qc4w_gemm_tile *t);

void aq_f32_qc4w_gemm_loop(size_t mr_max, size_t nr, aq_f32_qc4w_gemm_tile_fn tile, size_t m, size_t n_begin,
                           size_t n_end, const float *x, size_t x_stride, const struct aq_q4w *w, float *out,
                           size_t out_stride);

#define AQ_F32_QC4W_GEMM_DEFINE(name, MR, NR, tile)                                                                    \
    static void name##_tile(size_t mr, const struct aq_f32_qc4w_gemm_tile *t) { AQ_TILE_FOR_MR(MR, mr, tile, t); }     \
    void name(size_t m, size_t n_begin, size_t n_end, const float *x, size_t x_stride, const struct aq_q4w *w,         \
              float *out, size_t out_stride) {                                                                         \
        aq_f32_qc4w_gemm_loop(MR, NR, name##_tile, m, n_begin, n_end, x, x_stride, w, out, out_stride);                \
    }

#endif /* AQ_F32_QC4W_GEMM_LOOP_H */
