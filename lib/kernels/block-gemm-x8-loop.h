/* block-gemm-x8-loop.h - the outer loop of the block GEMMs on repacked groups of
 * 8 rows (aq_block_gemm_x8_kernel, kernels.h; layouts in kernels_ref, e.g.
 * q4_0x8.h), written once (block-gemm-x8-loop.c, plain C), and the micro-tile
 * contract an ISA file fills:
 *
 *   AQ_TILE_INLINE void tile(size_t mr, const struct aq_x8_tile *t) { ... }
 *   AQ_BLOCK_GEMM_X8_DEFINE(aq_q4_0x8_q8_0_gemm_4x8__avx2, MR, AQ_QK4_0, tile)
 *
 * A tile computes mr activation rows (1..MR, a compile-time constant in each
 * instantiation) times one group of 8 weight rows. The loop walks the activation
 * rows in tiles of MR, then a smaller one (7 tokens: 4 + 3), outside, and the
 * groups of [n_begin, n_end) inside, so a tile's activation blocks stay in L1
 * while it passes over a thread's rows. Decode (m = 1) is the 1 x 8 tile: a
 * matrix-vector product. Bit-exactness as in block-gemm-loop.h: each of the
 * 8 * mr dot products does the reference's float operations in its order. */
#ifndef AQ_BLOCK_GEMM_X8_LOOP_H
#define AQ_BLOCK_GEMM_X8_LOOP_H

#include <stddef.h>
#include <stdint.h>

#include "ukernels.h"

#define AQ_X8_TILE_MAX_MR 8

/* One call of a micro-tile. */
struct aq_x8_tile {
    const uint8_t *w;                    /* the group's first packed block */
    const uint8_t *a[AQ_X8_TILE_MAX_MR]; /* mr activation rows, from block 0 */
    size_t n_blocks;                     /* blocks per row */
    float *out;                          /* out[t * out_stride + r], r < 8 */
    size_t out_stride;
};

typedef void (*aq_x8_tile_fn)(size_t mr, const struct aq_x8_tile *t);

/* The family's gemm for a kernel of at most mr_max activation rows per tile. */
void aq_block_gemm_x8_loop(aq_x8_tile_fn tile, size_t mr_max, size_t m, size_t n_begin, size_t n_end, size_t n_blocks,
                           const void *w, size_t w_row_bytes, const void *a, size_t a_row_bytes, float *out,
                           size_t out_stride);

/* Defines the kernel `name` (aq_block_gemm_fn) from the inline micro-tile
 * tile(mr, t); blocks of BLOCK_ELEMS elements. */
#define AQ_BLOCK_GEMM_X8_DEFINE(name, MR, BLOCK_ELEMS, tile)                                                           \
    static void name##_tile(size_t mr, const struct aq_x8_tile *t) { AQ_TILE_FOR_MR(MR, mr, tile, t); }                \
    void name(size_t m, size_t n_begin, size_t n_end, size_t k, const void *w, size_t w_row_bytes, const void *a,      \
              size_t a_row_bytes, float *out, size_t out_stride) {                                                     \
        aq_block_gemm_x8_loop(name##_tile, MR, m, n_begin, n_end, k / (BLOCK_ELEMS), w, w_row_bytes, a, a_row_bytes,   \
                              out, out_stride);                                                                        \
    }

#endif /* AQ_BLOCK_GEMM_X8_LOOP_H */
