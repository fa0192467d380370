/* block-gemm-loop.c - the outer loop of the block GEMMs of llama.cpp's formats
 * (see block-gemm-loop.h). Plain C: the ISA code is all in the micro-tiles. */
#include "block-gemm-loop.h"

void aq_block_gemm_loop(aq_block_tile_fn tile, size_t lanes, size_t mr_max, size_t m, size_t n_begin, size_t n_end,
                        size_t n_blocks, const void *w, size_t w_row_bytes, const void *a, size_t a_row_bytes,
                        float *out, size_t out_stride) {
    if (lanes > AQ_BLOCK_TILE_MAX_LANES) lanes = AQ_BLOCK_TILE_MAX_LANES;
    if (mr_max > AQ_BLOCK_TILE_MAX_MR) mr_max = AQ_BLOCK_TILE_MAX_MR;
    struct aq_block_tile t = {.n_blocks = n_blocks, .out_stride = out_stride};
    size_t mr = mr_max;
    for (size_t t0 = 0; t0 < m; t0 += mr) {
        /* The largest power of two that fits: 64 tokens are 16 tiles of 4, 7 are 4 + 2 + 1. */
        while (mr > m - t0) mr /= 2;
        const size_t nr_max = lanes / mr;
        for (size_t i = 0; i < mr; i++) t.a[i] = (const uint8_t *)a + (t0 + i) * a_row_bytes;
        for (size_t r0 = n_begin; r0 < n_end; r0 += nr_max) {
            t.nr = n_end - r0 < nr_max ? n_end - r0 : nr_max;
            for (size_t j = 0; j < nr_max; j++)
                t.w[j] = (const uint8_t *)w + (r0 + (j < t.nr ? j : t.nr - 1)) * w_row_bytes;
            t.out = out + t0 * out_stride + r0;
            tile(mr, &t);
        }
    }
}
