/* ukernels.h - the declaration of every listed kernel and packer, made from the
 * kernel lists themselves (kernels_x86/ *.inc or kernels_neon/ *.inc, whichever
 * this build compiles: lib/kernels/meson.build puts that folder on the include path
 * and defines AQ_ARCH_KERNELS). Included by lists.c and by every kernel file, so a
 * kernel whose definition does not match its family's signature does not compile.
 * Internal to lib/kernels and the kernel folders. */
#ifndef AQ_UKERNELS_H
#define AQ_UKERNELS_H

#include <stddef.h>

#include "kernels.h"

#if AQ_ARCH_KERNELS

#define AQ_QD8_QC4W_GEMM(isa, mr, nr, kr, gemm, packw)                                                                 \
    void gemm(size_t m, size_t n_begin, size_t n_end, const struct aq_qd8 *a, const struct aq_q4w *w,                  \
              const void *packed, float *out, size_t out_stride);                                                      \
    size_t packw##_size(const struct aq_q4w *w);                                                                       \
    void packw(const struct aq_q4w *w, void *packed);
#include "qd8-qc4w-gemm.inc"
#undef AQ_QD8_QC4W_GEMM

#define AQ_QD8_QC3W_GEMM(isa, mr, nr, kr, gemm, packw)                                                                 \
    void gemm(size_t m, size_t n_begin, size_t n_end, const struct aq_qd8 *a, const struct aq_q4w *w,                  \
              const void *packed, float *out, size_t out_stride);                                                      \
    size_t packw##_size(const struct aq_q4w *w);                                                                       \
    void packw(const struct aq_q4w *w, void *packed);
#include "qd8-qc3w-gemm.inc"
#undef AQ_QD8_QC3W_GEMM

#define AQ_F32_GEMM(isa, mr, nr, fn)                                                                                   \
    void fn(size_t m, size_t n_begin, size_t n_end, size_t k, const float *x, size_t x_stride, const float *w,         \
            float *out, size_t out_stride);
#include "f32-gemm.inc"
#undef AQ_F32_GEMM

#define AQ_F32_QC4W_GEMM(isa, mr, nr, fn)                                                                              \
    void fn(size_t m, size_t n_begin, size_t n_end, const float *x, size_t x_stride, const struct aq_q4w *w,           \
            float *out, size_t out_stride);
#include "f32-qc4w-gemm.inc"
#undef AQ_F32_QC4W_GEMM

#define AQ_Q4_0_Q8_0_DOT(isa, fn) float fn(size_t n, const block_q4_0 *x, const block_q8_0 *y);
#include "q4_0-q8_0-dot.inc"
#undef AQ_Q4_0_Q8_0_DOT

#define AQ_Q8_0_Q8_0_DOT(isa, fn) float fn(size_t n, const block_q8_0 *x, const block_q8_0 *y);
#include "q8_0-q8_0-dot.inc"
#undef AQ_Q8_0_Q8_0_DOT

#define AQ_F32_ATTENTION(isa, fn)                                                                                      \
    void fn(aq_attn_tile *t, size_t n_keys, const float *const *keys, const float *const *values, const float *bias,   \
            float *first_score);
#include "f32-attention.inc"
#undef AQ_F32_ATTENTION

#define AQ_BLOCK_GEMM(isa, type, mr, nr, fn)                                                                           \
    void fn(size_t m, size_t n_begin, size_t n_end, size_t k, const void *w, size_t w_row_bytes, const void *a,        \
            size_t a_row_bytes, float *out, size_t out_stride);
#include "block-gemm.inc"
#undef AQ_BLOCK_GEMM

#define AQ_BLOCK_GEMM_X8(isa, type, mr, fn, pack)                                                                      \
    void fn(size_t m, size_t n_begin, size_t n_end, size_t k, const void *w, size_t w_row_bytes, const void *a,        \
            size_t a_row_bytes, float *out, size_t out_stride);
#include "block-gemm-x8.inc"
#undef AQ_BLOCK_GEMM_X8

#define AQ_ACT_QUANTIZE(isa, type, fn) void fn(const float *x, size_t n, void *blocks);
#include "act-quantize.inc"
#undef AQ_ACT_QUANTIZE

#define AQ_QD8_QUANTIZE(isa, fn)                                                                                       \
    bool fn(const float *x, size_t n_rows, size_t k, size_t x_stride, int bits, struct aq_qd8 *out);
#include "qd8-quantize.inc"
#undef AQ_QD8_QUANTIZE

#define AQ_QD8_QUANTIZE_GROUPED(isa, fn)                                                                               \
    bool fn(const float *x, size_t n_rows, size_t k, size_t x_stride, int bits, size_t group, struct aq_qd8 *out);
#include "qd8-quantize-grouped.inc"
#include "qd8-quantize-grouped-asym.inc"
#undef AQ_QD8_QUANTIZE_GROUPED

#endif /* AQ_ARCH_KERNELS */

/* ------------------------------------------------------------------------------
 * For the micro-tiles of the GEMM families (*-loop.h).
 */

/* A micro-tile's body, inlined into each of its instantiations. */
#define AQ_TILE_INLINE static inline __attribute__((always_inline))

/* Calls tile(c, args) with c == mr (1 <= mr <= MR <= 8) as a compile-time constant,
 * so that each instantiation's token loops unroll fully and its accumulators stay
 * in registers. Cases above MR are dead code (MR is a constant). */
#define AQ_TILE_FOR_MR(MR, mr, tile, args)                                                                             \
    do {                                                                                                               \
        _Static_assert((MR) >= 1 && (MR) <= 8, "MR must be 1..8");                                                     \
        switch (mr) {                                                                                                  \
        case 1:                                                                                                        \
            tile(1, args);                                                                                             \
            break;                                                                                                     \
        case 2:                                                                                                        \
            if ((MR) >= 2) tile((MR) >= 2 ? 2 : 1, args);                                                              \
            break;                                                                                                     \
        case 3:                                                                                                        \
            if ((MR) >= 3) tile((MR) >= 3 ? 3 : 1, args);                                                              \
            break;                                                                                                     \
        case 4:                                                                                                        \
            if ((MR) >= 4) tile((MR) >= 4 ? 4 : 1, args);                                                              \
            break;                                                                                                     \
        case 5:                                                                                                        \
            if ((MR) >= 5) tile((MR) >= 5 ? 5 : 1, args);                                                              \
            break;                                                                                                     \
        case 6:                                                                                                        \
            if ((MR) >= 6) tile((MR) >= 6 ? 6 : 1, args);                                                              \
            break;                                                                                                     \
        case 7:                                                                                                        \
            if ((MR) >= 7) tile((MR) >= 7 ? 7 : 1, args);                                                              \
            break;                                                                                                     \
        default:                                                                                                       \
            if ((MR) >= 8) tile((MR) >= 8 ? 8 : 1, args);                                                              \
            break;                                                                                                     \
        }                                                                                                              \
    } while (0)

#endif /* AQ_UKERNELS_H */
