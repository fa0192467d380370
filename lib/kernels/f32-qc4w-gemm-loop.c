/* f32-qc4w-gemm-loop.c - the outer loop of the W4A16 GEMM kernels
 * (f32-qc4w-gemm-loop.h). */
#include "f32-qc4w-gemm-loop.h"

void aq_f32_qc4w_gemm_loop(size_t mr_max, size_t nr, aq_f32_qc4w_gemm_tile_fn tile, size_t m, size_t n_begin,
                           size_t n_end, const float *x, size_t x_stride, const struct aq_q4w *w, float *out,
                           size_t out_stride) {
    struct aq_f32_qc4w_gemm_tile t = {.x_stride = x_stride, .w = w, .out_stride = out_stride};
    for (size_t t0 = 0; t0 < m; t0 += mr_max) {
        const size_t mr = m - t0 < mr_max ? m - t0 : mr_max;
        t.x = x + t0 * x_stride;
        for (size_t r = n_begin; r < n_end; r += nr) {
            t.r = r;
            t.nr = n_end - r < nr ? n_end - r : nr;
            t.out = out + t0 * out_stride + r;
            tile(mr, &t);
        }
    }
}
