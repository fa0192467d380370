/* f32-gemm-4x3-avx2.c - FP32 GEMM, out = x W^T with W (n, k) row-major, AVX2+FMA.
 * A register tile is up to 4 rows of x by 3 rows of W: 12 accumulators of 8 lanes
 * along k, so each W load feeds 4 FMAs and each x load 3, with 3 of the 16 ymm
 * registers left for operands. Lanes are summed at the end of k. Not bit-exact with
 * aq_f32_gemm_ref (another summation order); agrees to float tolerance. The outer
 * loop is lib/kernels/f32-gemm-loop.c. */
#include <immintrin.h>

#include "f32-gemm-loop.h"

#define MR 4
#define NR 3

static inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* mr is a compile-time constant after inlining; W rows past nr repeat the last
 * valid one (computed, not stored), so the body has no row branches. */
AQ_TILE_INLINE void tile(size_t mr, const struct aq_f32_gemm_tile *t) {
    const size_t nr = t->nr, k = t->k, x_stride = t->x_stride, out_stride = t->out_stride;
    const float *x = t->x, *w = t->w;
    float *out = t->out;
    const float *xr[MR], *wr[NR];
    for (size_t i = 0; i < mr; i++) xr[i] = x + i * x_stride;
    for (size_t j = 0; j < NR; j++) wr[j] = w + (j < nr ? j : nr - 1) * k;
    __m256 acc[MR][NR];
    for (size_t i = 0; i < mr; i++)
        for (size_t j = 0; j < NR; j++) acc[i][j] = _mm256_setzero_ps();
    size_t kk = 0;
    for (; kk + 8 <= k; kk += 8) {
        const __m256 w0 = _mm256_loadu_ps(wr[0] + kk), w1 = _mm256_loadu_ps(wr[1] + kk),
                     w2 = _mm256_loadu_ps(wr[2] + kk);
        for (size_t i = 0; i < mr; i++) {
            const __m256 xv = _mm256_loadu_ps(xr[i] + kk);
            acc[i][0] = _mm256_fmadd_ps(xv, w0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(xv, w1, acc[i][1]);
            acc[i][2] = _mm256_fmadd_ps(xv, w2, acc[i][2]);
        }
    }
    if (kk < k) {
        /* Masked loads read only the k % 8 valid floats (no overread past rows). */
        const __m256i mask =
            _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(k - kk)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        const __m256 w0 = _mm256_maskload_ps(wr[0] + kk, mask), w1 = _mm256_maskload_ps(wr[1] + kk, mask),
                     w2 = _mm256_maskload_ps(wr[2] + kk, mask);
        for (size_t i = 0; i < mr; i++) {
            const __m256 xv = _mm256_maskload_ps(xr[i] + kk, mask);
            acc[i][0] = _mm256_fmadd_ps(xv, w0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(xv, w1, acc[i][1]);
            acc[i][2] = _mm256_fmadd_ps(xv, w2, acc[i][2]);
        }
    }
    for (size_t i = 0; i < mr; i++)
        for (size_t j = 0; j < nr; j++) out[i * out_stride + j] = hsum(acc[i][j]);
}

AQ_F32_GEMM_DEFINE(aq_f32_gemm_4x3__avx2, MR, NR, tile)
