/* q8_k-quantize-avx2.c - llama.cpp's Q8_K activations from floats, AVX2: bit for
 * bit aq_q8_k_quantize_ref. Per block of 256: max = the first element of largest
 * |x| (with its sign); iscale = -127 / max; q = min(127, nearbyintf(iscale * x)),
 * ties to even (VROUNDPS to nearest); bsums the exact sums of 16; d = 1 / iscale. */
#include <string.h>

#include "act-quantize-avx2.h"
#include "block-gemm-avx2.h"
#include "ukernels.h"

void aq_q8_k_quantize__avx2(const float *x, size_t n, void *blocks) {
    block_q8_K *out = blocks;
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (size_t b = 0; b < n / AQ_QK_K; b++) {
        const float *xb = x + b * AQ_QK_K;
        __m256 amax8 = _mm256_setzero_ps();
        for (size_t i = 0; i < AQ_QK_K; i += 8)
            amax8 = _mm256_max_ps(amax8, _mm256_andnot_ps(sign, _mm256_loadu_ps(xb + i)));
        const float amax = aq_avx2_hmax(amax8);
        if (!(amax > 0.0f)) { /* zero (or NaN) block: the reference's amax stays 0 */
            out[b].d = 0.0f;
            memset(out[b].qs, 0, sizeof out[b].qs);
            memset(out[b].bsums, 0, sizeof out[b].bsums);
            continue;
        }
        /* The first element whose magnitude is amax. */
        const __m256 target = _mm256_set1_ps(amax);
        size_t first = 0;
        for (size_t i = 0; i < AQ_QK_K; i += 8) {
            const __m256 hit = _mm256_cmp_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(xb + i)), target, _CMP_EQ_OQ);
            const int mask = _mm256_movemask_ps(hit);
            if (mask) {
                first = i + (size_t)__builtin_ctz((unsigned)mask);
                break;
            }
        }
        const float iscale = -127.0f / xb[first];
        const __m256 scale = _mm256_set1_ps(iscale), lo = _mm256_set1_ps(-128.0f), hi = _mm256_set1_ps(127.0f);
        for (size_t c = 0; c < AQ_QK_K / 32; c++) {
            __m256 v[4];
            for (size_t i = 0; i < 4; i++) {
                const __m256 p = _mm256_mul_ps(scale, _mm256_loadu_ps(xb + 32 * c + 8 * i));
                v[i] = _mm256_min_ps(
                    _mm256_max_ps(_mm256_round_ps(p, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), lo), hi);
            }
            _mm256_storeu_si256((__m256i *)(out[b].qs + 32 * c), aq_avx2_pack_i8(v[0], v[1], v[2], v[3]));
        }
        /* bsums: the 16 sums of 16 codes, exact; lane g of a reduction is group 8 g2 + g. */
        for (size_t g2 = 0; g2 < AQ_QK_K / 128; g2++) {
            __m256i s[8];
            for (size_t g = 0; g < 8; g++) {
                const __m128i q = _mm_loadu_si128((const __m128i *)(out[b].qs + 16 * (8 * g2 + g)));
                s[g] = _mm256_cvtepi8_epi32(q);
                s[g] = _mm256_add_epi32(s[g], _mm256_cvtepi8_epi32(_mm_srli_si128(q, 8)));
            }
            const __m256i total = aq_avx2_reduce8(s);
            int32_t t8[8];
            _mm256_storeu_si256((__m256i *)t8, total);
            for (size_t g = 0; g < 8; g++) out[b].bsums[8 * g2 + g] = (int16_t)t8[g];
        }
        out[b].d = 1.0f / iscale;
    }
}
