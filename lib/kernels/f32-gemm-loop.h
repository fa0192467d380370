/* f32-gemm-loop.h - the outer loop of every FP32 GEMM kernel (aq_f32_gemm_fn),
 * written once (f32-gemm-loop.c), and the micro-tile contract an ISA file fills.
 * Internal to lib/kernels and the kernel folders.
 *
 *   AQ_TILE_INLINE void tile(size_t mr, const struct aq_f32_gemm_tile *t) { ... }
 *   AQ_F32_GEMM_DEFINE(aq_f32_gemm_4x3__avx2, MR, NR, tile)
 *
 * The loop: rows of W in blocks of about 256 KiB (kept in L2 while every tile of x
 * rows passes over them: W is read from memory once, not once per MR rows of x),
 * rows of x in tiles of MR (the last one shorter; tile() is instantiated for each
 * constant mr), rows [n_begin, n_end) of W in tiles of NR (the last one partial).
 */
#ifndef AQ_F32_GEMM_LOOP_H
#define AQ_F32_GEMM_LOOP_H

#include <stddef.h>

#include "ukernels.h"

/* mr rows of x times nr (1..NR) rows of W; all of k. */
struct aq_f32_gemm_tile {
    const float *x; /* row 0 of the x tile; row t at x + t * x_stride */
    size_t x_stride;
    const float *w; /* row 0 of the W tile; row j at w + j * k */
    size_t k;
    size_t nr;  /* rows of W in this tile, 1..NR */
    float *out; /* out[t * out_stride + j] */
    size_t out_stride;
};

typedef void (*aq_f32_gemm_tile_fn)(size_t mr, const struct aq_f32_gemm_tile *t);

void aq_f32_gemm_loop(size_t mr_max, size_t nr, aq_f32_gemm_tile_fn tile, size_t m, size_t n_begin, size_t n_end,
                      size_t k, const float *x, size_t x_stride, const float *w, float *out, size_t out_stride);

#define AQ_F32_GEMM_DEFINE(name, MR, NR, tile)                                                                         \
    static void name##_tile(size_t mr, const struct aq_f32_gemm_tile *t) { AQ_TILE_FOR_MR(MR, mr, tile, t); }          \
    void name(size_t m, size_t n_begin, size_t n_end, size_t k, const float *x, size_t x_stride, const float *w,       \
              float *out, size_t out_stride) {                                                                         \
        aq_f32_gemm_loop(MR, NR, name##_tile, m, n_begin, n_end, k, x, x_stride, w, out, out_stride);                  \
    }

#endif /* AQ_F32_GEMM_LOOP_H */
