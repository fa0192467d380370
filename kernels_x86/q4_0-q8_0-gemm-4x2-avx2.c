/* q4_0-q8_0-gemm-4x2-avx2.c - llama.cpp Q4_0 weights x Q8_0 activations, AVX2 +
 * F16C: tiles of 4 tokens x 2 rows (1 x 8 in decode), 8 dot products per tile,
 * each bit for bit aq_q4_0_q8_0_dot_ref. Per block: each weight row's 32 codes are
 * unpacked once for the tile's tokens, and each token's 8 * sum(y) bias once for
 * its rows; the int32 block sums (code - 8) * y are exact (VPMADDUBSW pairs of
 * code * y - 8 * y stay within int16 for every y, -128 included), reduced into one
 * vector of 8 lanes; then per lane f32(dx) * f32(dy), times (float) isum, added to
 * the lane's sum, in block order (the reference's roundings, no fma). */
#include "block-gemm-avx2.h"
#include "quant.h"

#define MR 4

AQ_TILE_INLINE void tile(size_t mr, const struct aq_block_tile *t) {
    const size_t nr = AQ_AVX2_LANES / mr;
    const __m128i low_nibbles = _mm_set1_epi8(0x0F);
    const __m256i eights = _mm256_set1_epi8(8), ones = _mm256_set1_epi16(1);
    __m256 acc = _mm256_setzero_ps();
    for (size_t b = 0; b < t->n_blocks; b++) {
        __m256i y[MR], bias[MR], s[AQ_AVX2_LANES];
        uint16_t dx[AQ_AVX2_LANES], dy[MR];
        for (size_t i = 0; i < mr; i++) {
            const block_q8_0 *a = (const block_q8_0 *)t->a[i] + b;
            y[i] = _mm256_loadu_si256((const __m256i *)a->qs);
            bias[i] = _mm256_maddubs_epi16(eights, y[i]);
            dy[i] = a->d;
        }
        for (size_t r = 0; r < nr; r++) {
            const block_q4_0 *x = (const block_q4_0 *)t->w[r] + b;
            const __m128i v = _mm_loadu_si128((const __m128i *)x->qs);
            /* Elements 0..15 are the low nibbles, 16..31 the high ones. */
            const __m256i codes =
                _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(v, 4), low_nibbles), _mm_and_si128(v, low_nibbles));
            dx[r] = x->d;
            for (size_t i = 0; i < mr; i++)
                s[i * nr + r] = _mm256_madd_epi16(_mm256_sub_epi16(_mm256_maddubs_epi16(codes, y[i]), bias[i]), ones);
        }
        const __m256 scale = _mm256_mul_ps(aq_avx2_f16_lanes(dx, nr, 1), aq_avx2_f16_lanes(dy, nr, 0));
        const __m256 term = _mm256_mul_ps(scale, _mm256_cvtepi32_ps(aq_avx2_reduce8(s)));
        acc = _mm256_add_ps(acc, term);
    }
    aq_avx2_store_lanes(acc, mr, nr, t);
}

AQ_BLOCK_GEMM_DEFINE(aq_q4_0_q8_0_gemm_4x2__avx2, AQ_AVX2_LANES, MR, AQ_QK4_0, tile)
