/* f32-gemm-4x3-avx2.c - FP32 GEMM, out = x W^T with W (n, k) row-major, AVX2+FMA.
 * A register tile is up to 4 rows of x by 3 rows of W: 12 accumulators of 8 lanes
 * along k, so each W load feeds 4 FMAs and each x load 3, with 3 of the 16 ymm
 * registers left for operands. Lanes are summed at the end of k. Not bit-exact with
 * aq_f32_gemm_ref (another summation order); agrees to float tolerance. */
#include <immintrin.h>

#include "kernels_x86.h"

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
static inline __attribute__((always_inline)) void tile(size_t mr, size_t nr, size_t k, const float *x,
                                                       size_t x_stride, const float *w, float *out,
                                                       size_t out_stride) {
    const float *xr[MR], *wr[NR];
    for (size_t t = 0; t < mr; t++) xr[t] = x + t * x_stride;
    for (size_t j = 0; j < NR; j++) wr[j] = w + (j < nr ? j : nr - 1) * k;
    __m256 acc[MR][NR];
    for (size_t t = 0; t < mr; t++)
        for (size_t j = 0; j < NR; j++) acc[t][j] = _mm256_setzero_ps();
    size_t kk = 0;
    for (; kk + 8 <= k; kk += 8) {
        const __m256 w0 = _mm256_loadu_ps(wr[0] + kk), w1 = _mm256_loadu_ps(wr[1] + kk),
                     w2 = _mm256_loadu_ps(wr[2] + kk);
        for (size_t t = 0; t < mr; t++) {
            const __m256 xv = _mm256_loadu_ps(xr[t] + kk);
            acc[t][0] = _mm256_fmadd_ps(xv, w0, acc[t][0]);
            acc[t][1] = _mm256_fmadd_ps(xv, w1, acc[t][1]);
            acc[t][2] = _mm256_fmadd_ps(xv, w2, acc[t][2]);
        }
    }
    if (kk < k) {
        /* Masked loads read only the k % 8 valid floats (no overread past rows). */
        const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32((int) (k - kk)),
                                                _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        const __m256 w0 = _mm256_maskload_ps(wr[0] + kk, mask), w1 = _mm256_maskload_ps(wr[1] + kk, mask),
                     w2 = _mm256_maskload_ps(wr[2] + kk, mask);
        for (size_t t = 0; t < mr; t++) {
            const __m256 xv = _mm256_maskload_ps(xr[t] + kk, mask);
            acc[t][0] = _mm256_fmadd_ps(xv, w0, acc[t][0]);
            acc[t][1] = _mm256_fmadd_ps(xv, w1, acc[t][1]);
            acc[t][2] = _mm256_fmadd_ps(xv, w2, acc[t][2]);
        }
    }
    for (size_t t = 0; t < mr; t++)
        for (size_t j = 0; j < nr; j++) out[t * out_stride + j] = hsum(acc[t][j]);
}

void aq_f32_gemm_4x3__avx2(size_t m, size_t n_begin, size_t n_end, size_t k, const float *x, size_t x_stride,
                           const float *w, float *out, size_t out_stride) {
    /* W rows in blocks of about 256 KiB, kept in L2 while every tile of x rows
     * passes over them: W is read from memory once, not once per 4 rows of x. */
    size_t rows_per_block = (256 * 1024) / (k * sizeof(float)) / NR * NR;
    if (rows_per_block < NR) rows_per_block = NR;
    for (size_t nb0 = n_begin; nb0 < n_end; nb0 += rows_per_block) {
        const size_t nb1 = n_end - nb0 < rows_per_block ? n_end : nb0 + rows_per_block;
        for (size_t t0 = 0; t0 < m; t0 += MR) {
            const size_t mr = m - t0 < MR ? m - t0 : MR;
            const float *xt = x + t0 * x_stride;
            for (size_t n0 = nb0; n0 < nb1; n0 += NR) {
                const size_t nr = nb1 - n0 < NR ? nb1 - n0 : NR;
                float *o = out + t0 * out_stride + n0;
                const float *wn = w + n0 * k;
                switch (mr) {
                case 4: tile(4, nr, k, xt, x_stride, wn, o, out_stride); break;
                case 3: tile(3, nr, k, xt, x_stride, wn, o, out_stride); break;
                case 2: tile(2, nr, k, xt, x_stride, wn, o, out_stride); break;
                default: tile(1, nr, k, xt, x_stride, wn, o, out_stride); break;
                }
            }
        }
    }
}
