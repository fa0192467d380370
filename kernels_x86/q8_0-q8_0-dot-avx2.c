/* q8_0-q8_0-dot-avx2.c - llama.cpp Q8_0 . Q8_0, AVX2 + F16C. Bit-exact twin of
 * aq_q8_0_q8_0_dot_ref, with the same structure as q4_0-q8_0-dot-avx2.c: exact
 * block sums, 8-wide block scales and terms, serial sum in block order. */
#include <immintrin.h>

#include "block-dot-avx2.h"
#include "ukernels.h"

/* Sign-extends both operands to int16 and uses VPMADDWD: exact for every int8
 * pair, -128 * -128 included (the VPMADDUBSW sign trick is not). */
static inline __m256i block_sums(const block_q8_0 *x, const block_q8_0 *y) {
    const __m256i x0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x->qs));
    const __m256i x1 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(x->qs + 16)));
    const __m256i y0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)y->qs));
    const __m256i y1 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(y->qs + 16)));
    return _mm256_add_epi32(_mm256_madd_epi16(x0, y0), _mm256_madd_epi16(x1, y1));
}

float aq_q8_0_q8_0_dot__avx2(size_t n, const block_q8_0 *x, const block_q8_0 *y) {
    const size_t n_blocks = n / AQ_QK8_0;
    float sumf = 0.0f;
    for (size_t b0 = 0; b0 < n_blocks; b0 += 8) {
        const size_t nb = n_blocks - b0 < 8 ? n_blocks - b0 : 8;
        __m256i s[8];
        uint16_t dx[8] = {0}, dy[8] = {0};
        for (size_t i = 0; i < 8; i++) {
            if (i < nb) {
                s[i] = block_sums(&x[b0 + i], &y[b0 + i]);
                dx[i] = x[b0 + i].d;
                dy[i] = y[b0 + i].d;
            } else {
                s[i] = _mm256_setzero_si256();
            }
        }
        sumf = aq_add_block_terms_avx2(sumf, s, dx, dy, nb);
    }
    return sumf;
}
