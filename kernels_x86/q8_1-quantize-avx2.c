/* q8_1-quantize-avx2.c - llama.cpp's Q8_1 activations from floats, AVX2: bit for
 * bit aq_q8_1_quantize_ref (as Q8_0, plus s = f16((float) sum(qs) * d) with the
 * unrounded d). */
#include "act-quantize-avx2.h"
#include "f16.h"
#include "ukernels.h"

void aq_q8_1_quantize__avx2(const float *x, size_t n, void *blocks) {
    block_q8_1 *out = blocks;
    for (size_t b = 0; b < n / AQ_QK8_1; b++) {
        const float d = aq_avx2_q8_block32(x + b * AQ_QK8_1, out[b].qs);
        out[b].d = aq_fp32_to_fp16(d);
        /* The sum of the 32 codes: |sum| <= 4064, exact in float. */
        const __m256i q = _mm256_loadu_si256((const __m256i *)out[b].qs);
        const __m256i pairs = _mm256_maddubs_epi16(_mm256_set1_epi8(1), q);
        const __m256i quads = _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));
        __m128i s = _mm_add_epi32(_mm256_castsi256_si128(quads), _mm256_extracti128_si256(quads, 1));
        s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
        s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
        out[b].s = aq_fp32_to_fp16((float)_mm_cvtsi128_si32(s) * d);
    }
}
