/* block-gemm-x8-loop.c - the outer loop of the block GEMMs on repacked groups of
 * 8 rows (see block-gemm-x8-loop.h). Plain C: the ISA code is all in the tiles. */
#include "block-gemm-x8-loop.h"

void aq_block_gemm_x8_loop(aq_x8_tile_fn tile, size_t mr_max, size_t m, size_t n_begin, size_t n_end, size_t n_blocks,
                           const void *w, size_t w_row_bytes, const void *a, size_t a_row_bytes, float *out,
                           size_t out_stride) {
    if (mr_max > AQ_X8_TILE_MAX_MR) mr_max = AQ_X8_TILE_MAX_MR;
    struct aq_x8_tile t = {.n_blocks = n_blocks, .out_stride = out_stride};
    const size_t group_bytes = AQ_X8_ROWS * w_row_bytes;
    for (size_t t0 = 0; t0 < m; t0 += mr_max) {
        const size_t mr = m - t0 < mr_max ? m - t0 : mr_max;
        for (size_t i = 0; i < mr; i++) t.a[i] = (const uint8_t *)a + (t0 + i) * a_row_bytes;
        for (size_t r0 = n_begin; r0 < n_end; r0 += AQ_X8_ROWS) {
            t.w = (const uint8_t *)w + r0 / AQ_X8_ROWS * group_bytes;
            t.out = out + t0 * out_stride + r0;
            tile(mr, &t);
        }
    }
}
