/* block-gemm-loop.h - the outer loop of every block GEMM of llama.cpp's formats
 * (aq_block_gemm_kernel, kernels.h), written once (block-gemm-loop.c, plain C),
 * and the micro-tile contract an ISA file fills. Internal to lib/kernels and the
 * kernel folders.
 *
 * A kernel file holds only its micro-tile and one line:
 *
 *   AQ_TILE_INLINE void tile(size_t mr, const struct aq_block_tile *t) { ... }
 *   AQ_BLOCK_GEMM_DEFINE(aq_q4_0_q8_0_gemm_4x2__avx2, LANES, MR, AQ_QK4_0, tile)
 *
 * A tile computes LANES dot products at once, mr activation rows times
 * NR = LANES / mr weight rows (lane t * NR + r), so each weight block it unpacks
 * serves mr tokens and each activation block NR rows; mr is a power of two up to
 * MR, a compile-time constant in each instantiation. Decode (m = 1) runs tiles of
 * 1 x LANES rows, prefill mostly MR x LANES / MR. The loop walks the activation
 * rows in tiles (outer: a tile's activation blocks stay in L1 while it passes over
 * the rows) and the rows [n_begin, n_end) in tiles of NR (inner: a thread's rows
 * stay in L1 or L2 for the next activation tile); the last row tile may be partial
 * (t->nr < NR), its missing rows pointing at its last row (computed, not stored).
 *
 * Bit-exactness: every lane does its dot product's float operations in the
 * reference's order, block after block (one rounded product, then the add into the
 * lane's sum), so lanes are independent and any tile gives the reference's bits. */
#ifndef AQ_BLOCK_GEMM_LOOP_H
#define AQ_BLOCK_GEMM_LOOP_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ukernels.h"

#define AQ_BLOCK_TILE_MAX_LANES 16
#define AQ_BLOCK_TILE_MAX_MR 8

/* One call of a micro-tile. */
struct aq_block_tile {
    const uint8_t *w[AQ_BLOCK_TILE_MAX_LANES]; /* NR weight rows, from block 0 */
    const uint8_t *a[AQ_BLOCK_TILE_MAX_MR];    /* mr activation rows, from block 0 */
    size_t n_blocks;                           /* blocks per row */
    size_t nr;                                 /* weight rows to store, 1..NR */
    float *out;                                /* out[t * out_stride + r] for token t, row r of the tile */
    size_t out_stride;
};

typedef void (*aq_block_tile_fn)(size_t mr, const struct aq_block_tile *t);

/* The family's gemm for a kernel of `lanes` dot products per tile and at most
 * mr_max (a power of two) activation rows. */
void aq_block_gemm_loop(aq_block_tile_fn tile, size_t lanes, size_t mr_max, size_t m, size_t n_begin, size_t n_end,
                        size_t n_blocks, const void *w, size_t w_row_bytes, const void *a, size_t a_row_bytes,
                        float *out, size_t out_stride);

/* Q4_K / Q5_K: the eight 6-bit sub-block scales (out[0..7]) and mins (out[8..15])
 * of the packed scales[12] (layout in quant.h, as aq_q4_k_scale_min reads them). */
static inline void aq_q4_k_unpack_scales(const uint8_t scales[12], uint8_t out[16]) {
    uint32_t u[4];
    memcpy(u, scales, 12);
    const uint32_t low6 = 0x3F3F3F3Fu, low4 = 0x0F0F0F0Fu, top2 = 0x03030303u;
    u[3] = ((u[2] >> 4) & low4) | (((u[1] >> 6) & top2) << 4); /* mins 4..7 */
    const uint32_t mins_low = u[1] & low6;                     /* mins 0..3 */
    u[1] = (u[2] & low4) | (((u[0] >> 6) & top2) << 4);        /* scales 4..7 */
    u[2] = mins_low;
    u[0] &= low6; /* scales 0..3 */
    memcpy(out, u, 16);
}

/* Instantiates tile(mr, t) for mr = 1, 2, 4, 8 up to MR (a power of two). */
#define AQ_BLOCK_TILE_FOR_MR(MR, mr, tile, t)                                                                          \
    do {                                                                                                               \
        _Static_assert((MR) == 1 || (MR) == 2 || (MR) == 4 || (MR) == 8, "MR must be 1, 2, 4 or 8");                   \
        switch (mr) {                                                                                                  \
        case 1:                                                                                                        \
            tile(1, t);                                                                                                \
            break;                                                                                                     \
        case 2:                                                                                                        \
            if ((MR) >= 2) tile((MR) >= 2 ? 2 : 1, t);                                                                 \
            break;                                                                                                     \
        case 4:                                                                                                        \
            if ((MR) >= 4) tile((MR) >= 4 ? 4 : 1, t);                                                                 \
            break;                                                                                                     \
        default:                                                                                                       \
            if ((MR) >= 8) tile((MR) >= 8 ? 8 : 1, t);                                                                 \
            break;                                                                                                     \
        }                                                                                                              \
    } while (0)

/* Defines the kernel `name` (aq_block_gemm_fn) from the inline micro-tile
 * tile(mr, t); blocks of BLOCK_ELEMS elements. */
#define AQ_BLOCK_GEMM_DEFINE(name, LANES, MR, BLOCK_ELEMS, tile)                                                       \
    static void name##_tile(size_t mr, const struct aq_block_tile *t) { AQ_BLOCK_TILE_FOR_MR(MR, mr, tile, t); }       \
    void name(size_t m, size_t n_begin, size_t n_end, size_t k, const void *w, size_t w_row_bytes, const void *a,      \
              size_t a_row_bytes, float *out, size_t out_stride) {                                                     \
        aq_block_gemm_loop(name##_tile, LANES, MR, m, n_begin, n_end, k / (BLOCK_ELEMS), w, w_row_bytes, a,            \
                           a_row_bytes, out, out_stride);                                                              \
    }

#endif /* AQ_BLOCK_GEMM_LOOP_H */
