/* f32-gemm-loop.c - the outer loop of the FP32 GEMM kernels (f32-gemm-loop.h). */
#include "f32-gemm-loop.h"

#define BLOCK_BYTES (256 * 1024)

void aq_f32_gemm_loop(size_t mr_max, size_t nr, aq_f32_gemm_tile_fn tile, size_t m, size_t n_begin, size_t n_end,
                      size_t k, const float *x, size_t x_stride, const float *w, float *out, size_t out_stride) {
    size_t rows_per_block = BLOCK_BYTES / (k * sizeof(float)) / nr * nr;
    if (rows_per_block < nr) rows_per_block = nr;
    struct aq_f32_gemm_tile t = {.x_stride = x_stride, .k = k, .out_stride = out_stride};
    for (size_t nb0 = n_begin; nb0 < n_end; nb0 += rows_per_block) {
        const size_t nb1 = n_end - nb0 < rows_per_block ? n_end : nb0 + rows_per_block;
        for (size_t t0 = 0; t0 < m; t0 += mr_max) {
            const size_t mr = m - t0 < mr_max ? m - t0 : mr_max;
            t.x = x + t0 * x_stride;
            for (size_t n0 = nb0; n0 < nb1; n0 += nr) {
                t.nr = nb1 - n0 < nr ? nb1 - n0 : nr;
                t.w = w + n0 * k;
                t.out = out + t0 * out_stride + n0;
                tile(mr, &t);
            }
        }
    }
}
