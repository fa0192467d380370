/* q4_0-q8_0-dot-avx2.c - llama.cpp Q4_0 weights . Q8_0 activations, AVX2 + F16C.
 * Bit-exact twin of aq_q4_0_q8_0_dot_ref: the block sums are exact integers, and the
 * float part keeps the reference's order. Eight blocks at a time: eight int32 block
 * sums are reduced into one vector, the block scales f32(dx) * f32(dy) and terms
 * scale * (float) isum are computed 8-wide (the same single roundings as the
 * reference), and only the final sumf = sumf + term runs serially, in block order. */
#include <immintrin.h>

#include "block-dot-avx2.h"
#include "ukernels.h"

/* The 8 int32 partial sums of one block: sum (nibble - 8) * y, computed as
 * code * y - 8 * y per VPMADDUBSW pair (|3840| and |2048| at most, so no int16
 * saturation even for y = -128, which the sign trick of ggml would get wrong). */
static inline __m256i block_sums(const block_q4_0 *x, const block_q8_0 *y) {
    const __m128i v = _mm_loadu_si128((const __m128i *)x->qs);
    const __m128i low_nibbles = _mm_set1_epi8(0x0F);
    /* Elements 0..15 are the low nibbles, 16..31 the high ones. */
    const __m256i codes =
        _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(v, 4), low_nibbles), _mm_and_si128(v, low_nibbles));
    const __m256i yv = _mm256_loadu_si256((const __m256i *)y->qs);
    const __m256i prod = _mm256_maddubs_epi16(codes, yv);
    const __m256i bias = _mm256_maddubs_epi16(_mm256_set1_epi8(8), yv);
    return _mm256_madd_epi16(_mm256_sub_epi16(prod, bias), _mm256_set1_epi16(1));
}

float aq_q4_0_q8_0_dot__avx2(size_t n, const block_q4_0 *x, const block_q8_0 *y) {
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
