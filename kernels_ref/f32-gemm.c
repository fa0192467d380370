#include "f32-gemm.h"

/* Lanes per accumulator: the independent partial sums let the compiler
 * vectorize the reduction without reassociating floats (-ffast-math). */
#define LANES 16
#define TILE_M 4

static float sum_lanes(const float *acc) {
    float s = 0.0f;
    for (size_t l = 0; l < LANES; l++) s += acc[l];
    return s;
}

/* Up to TILE_M rows of x against one row of W: each W element loaded once
 * serves every row of the tile. */
static void dot_tile(size_t rows, size_t k, const float *x, size_t x_stride, const float *w_row, float *out,
                     size_t out_stride) {
    float acc[TILE_M][LANES] = {{0}};
    size_t k_main = k - k % LANES;
    for (size_t kk = 0; kk < k_main; kk += LANES) {
        for (size_t r = 0; r < rows; r++) {
            const float *xr = x + r * x_stride + kk;
            for (size_t l = 0; l < LANES; l++) acc[r][l] += xr[l] * w_row[kk + l];
        }
    }
    for (size_t r = 0; r < rows; r++) {
        float s = sum_lanes(acc[r]);
        for (size_t kk = k_main; kk < k; kk++) s += x[r * x_stride + kk] * w_row[kk];
        out[r * out_stride] = s;
    }
}

void aq_f32_gemm_ref(size_t m, size_t n_begin, size_t n_end, size_t k, const float *x, size_t x_stride, const float *w,
                     float *out, size_t out_stride) {
    for (size_t t = 0; t < m; t += TILE_M) {
        size_t rows = m - t < TILE_M ? m - t : TILE_M;
        for (size_t n = n_begin; n < n_end; n++)
            dot_tile(rows, k, x + t * x_stride, x_stride, w + n * k, out + t * out_stride + n, out_stride);
    }
}
