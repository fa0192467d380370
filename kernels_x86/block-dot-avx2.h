/* block-dot-avx2.h - the float half shared by the llama.cpp block dots
 * (q4_0-q8_0-dot-avx2.c, q8_0-q8_0-dot-avx2.c): given the int32 partial sums
 * of up to eight blocks and their f16 scales, adds scale_x * scale_y * isum of
 * each block to sumf in block order, with the reference's single roundings. */
#ifndef AQ_BLOCK_DOT_AVX2_H
#define AQ_BLOCK_DOT_AVX2_H

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

/* s[i]: eight int32 partial sums of block i (zero for i >= n_blocks). */
static inline float aq_add_block_terms_avx2(float sumf, const __m256i s[8], const uint16_t dx[8], const uint16_t dy[8],
                                            size_t n_blocks) {
    /* Transpose-and-add: lane i of isum is the sum of s[i]. */
    const __m256i h01 = _mm256_hadd_epi32(s[0], s[1]), h23 = _mm256_hadd_epi32(s[2], s[3]);
    const __m256i h45 = _mm256_hadd_epi32(s[4], s[5]), h67 = _mm256_hadd_epi32(s[6], s[7]);
    const __m256i h0123 = _mm256_hadd_epi32(h01, h23), h4567 = _mm256_hadd_epi32(h45, h67);
    const __m256i isum =
        _mm256_add_epi32(_mm256_permute2x128_si256(h0123, h4567, 0x20), _mm256_permute2x128_si256(h0123, h4567, 0x31));
    const __m256 block_scale = _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)dx)),
                                             _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)dy)));
    float term[8];
    _mm256_storeu_ps(term, _mm256_mul_ps(block_scale, _mm256_cvtepi32_ps(isum)));
    for (size_t i = 0; i < n_blocks; i++) sumf = sumf + term[i];
    return sumf;
}

#endif
