/* f32-qc4w-gemm-4x1-avx2.c - FP32 activations x INT4 group-wise weights (W4A16),
 * AVX2+FMA. Reads the plain aq_q4w (no packing). For one weight row and up to 4
 * activation rows: each group's nibbles are unpacked and converted to float
 * (q - zero, exact) once in registers and used by every activation row; per group
 * the partial dot is scaled and added: acc += f32(scale) * sum (q - zero) x.
 * Agrees with aq_f32_qc4w_gemm_ref to float tolerance (the scale is applied per
 * group instead of per element, and the lanes are summed in another order). The
 * outer loop is lib/kernels/f32-qc4w-gemm-loop.c. */
#include <immintrin.h>

#include "f32-qc4w-gemm-loop.h"

#define MR 4
#define NR 1

static inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

AQ_TILE_INLINE void tile(size_t mr, const struct aq_f32_qc4w_gemm_tile *tl) {
    const float *x = tl->x;
    const size_t x_stride = tl->x_stride, r = tl->r;
    const struct aq_q4w *w = tl->w;
    const size_t k = w->k, group = w->group, groups = k / group;
    const uint8_t *qrow = w->q + r * (k / 2);
    const __m128i low_nibbles = _mm_set1_epi8(0x0F);
    __m256 acc[MR];
    for (size_t t = 0; t < mr; t++) acc[t] = _mm256_setzero_ps();
    for (size_t g = 0; g < groups; g++) {
        const size_t gi = r * groups + g;
        const __m128i zero = _mm_set1_epi8((char)(w->zero ? w->zero[gi] : AQ_Q4W_SYMMETRIC_ZERO));
        /* One f16 -> f32 conversion, exact like aq_fp16_to_fp32. */
        const __m256 scale = _mm256_set1_ps(_mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(w->scale[gi]))));
        /* Two partial sums per activation row shorten the dependency chains. */
        __m256 gs[MR][2];
        for (size_t t = 0; t < mr; t++) gs[t][0] = gs[t][1] = _mm256_setzero_ps();
        for (size_t e = g * group; e < (g + 1) * group; e += 32) {
            const __m128i v = _mm_loadu_si128((const __m128i *)(qrow + e / 2));
            const __m128i lo = _mm_and_si128(v, low_nibbles);
            const __m128i hi = _mm_and_si128(_mm_srli_epi16(v, 4), low_nibbles);
            /* Byte j holds elements 2j (low) and 2j + 1 (high): interleave back to
             * element order, then q - zero in [-15, 15] as int8. */
            const __m128i e0 = _mm_sub_epi8(_mm_unpacklo_epi8(lo, hi), zero);
            const __m128i e1 = _mm_sub_epi8(_mm_unpackhi_epi8(lo, hi), zero);
            const __m256 w0 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(e0));
            const __m256 w1 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_unpackhi_epi64(e0, e0)));
            const __m256 w2 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(e1));
            const __m256 w3 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_unpackhi_epi64(e1, e1)));
            for (size_t t = 0; t < mr; t++) {
                const float *xe = x + t * x_stride + e;
                gs[t][0] = _mm256_fmadd_ps(_mm256_loadu_ps(xe), w0, gs[t][0]);
                gs[t][1] = _mm256_fmadd_ps(_mm256_loadu_ps(xe + 8), w1, gs[t][1]);
                gs[t][0] = _mm256_fmadd_ps(_mm256_loadu_ps(xe + 16), w2, gs[t][0]);
                gs[t][1] = _mm256_fmadd_ps(_mm256_loadu_ps(xe + 24), w3, gs[t][1]);
            }
        }
        for (size_t t = 0; t < mr; t++) acc[t] = _mm256_fmadd_ps(scale, _mm256_add_ps(gs[t][0], gs[t][1]), acc[t]);
    }
    for (size_t t = 0; t < mr; t++) tl->out[t * tl->out_stride] = hsum(acc[t]);
}

AQ_F32_QC4W_GEMM_DEFINE(aq_f32_qc4w_gemm_4x1__avx2, MR, NR, tile)
