/* q8_0-q8_0-gemm-4x2-avx2.c - llama.cpp Q8_0 weights x Q8_0 activations, AVX2 +
 * F16C: tiles of 4 tokens x 2 rows (1 x 8 in decode), each output bit for bit
 * aq_q8_0_q8_0_dot_ref. Both operands are sign-extended to int16 once per block
 * (weights for the tile's tokens, activations for its rows) and multiplied with
 * VPMADDWD, exact for every int8 pair, -128 * -128 included; the block sums are
 * reduced into 8 lanes, then per lane f32(dx) * f32(dy), times (float) isum, added
 * in block order (the reference's roundings, no fma). */
#include "block-gemm-avx2.h"
#include "quant.h"

#define MR 4

AQ_TILE_INLINE void tile(size_t mr, const struct aq_block_tile *t) {
    const size_t nr = AQ_AVX2_LANES / mr;
    __m256 acc = _mm256_setzero_ps();
    for (size_t b = 0; b < t->n_blocks; b++) {
        __m256i y0[MR], y1[MR], s[AQ_AVX2_LANES];
        uint16_t dx[AQ_AVX2_LANES], dy[MR];
        for (size_t i = 0; i < mr; i++) {
            const block_q8_0 *a = (const block_q8_0 *)t->a[i] + b;
            y0[i] = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)a->qs));
            y1[i] = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(a->qs + 16)));
            dy[i] = a->d;
        }
        for (size_t r = 0; r < nr; r++) {
            const block_q8_0 *x = (const block_q8_0 *)t->w[r] + b;
            const __m256i x0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x->qs));
            const __m256i x1 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(x->qs + 16)));
            dx[r] = x->d;
            for (size_t i = 0; i < mr; i++)
                s[i * nr + r] = _mm256_add_epi32(_mm256_madd_epi16(x0, y0[i]), _mm256_madd_epi16(x1, y1[i]));
        }
        const __m256 scale = _mm256_mul_ps(aq_avx2_f16_lanes(dx, nr, 1), aq_avx2_f16_lanes(dy, nr, 0));
        const __m256 term = _mm256_mul_ps(scale, _mm256_cvtepi32_ps(aq_avx2_reduce8(s)));
        acc = _mm256_add_ps(acc, term);
    }
    aq_avx2_store_lanes(acc, mr, nr, t);
}

AQ_BLOCK_GEMM_DEFINE(aq_q8_0_q8_0_gemm_4x2__avx2, AQ_AVX2_LANES, MR, AQ_QK8_0, tile)
