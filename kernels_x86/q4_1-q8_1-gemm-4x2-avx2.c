/* q4_1-q8_1-gemm-4x2-avx2.c - llama.cpp Q4_1 weights x Q8_1 activations, AVX2 +
 * F16C: tiles of 4 tokens x 2 rows (1 x 8 in decode), each output bit for bit
 * aq_q4_1_q8_1_dot_ref. Per block: each row's 32 codes (0..15) unpacked once for
 * the tile's tokens, code * y by VPMADDUBSW (pairs within int16) and VPMADDWD, the
 * exact block sums reduced into 8 lanes; then per lane, as the reference:
 * t1 = (f32(dx) * f32(dy)) * (float) isum, t2 = f32(mx) * f32(sy), term = t1 + t2,
 * sum = sum + term, in block order (no fma). */
#include "block-gemm-avx2.h"
#include "quant.h"

#define MR 4

AQ_TILE_INLINE void tile(size_t mr, const struct aq_block_tile *t) {
    const size_t nr = AQ_AVX2_LANES / mr;
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc = _mm256_setzero_ps();
    for (size_t b = 0; b < t->n_blocks; b++) {
        __m256i y[MR], s[AQ_AVX2_LANES];
        uint16_t dx[AQ_AVX2_LANES], mx[AQ_AVX2_LANES], dy[MR], sy[MR];
        for (size_t i = 0; i < mr; i++) {
            const block_q8_1 *a = (const block_q8_1 *)t->a[i] + b;
            y[i] = _mm256_loadu_si256((const __m256i *)a->qs);
            dy[i] = a->d;
            sy[i] = a->s;
        }
        for (size_t r = 0; r < nr; r++) {
            const block_q4_1 *x = (const block_q4_1 *)t->w[r] + b;
            const __m256i codes = aq_q4_codes_avx2(x->qs);
            dx[r] = x->d;
            mx[r] = x->m;
            for (size_t i = 0; i < mr; i++) s[i * nr + r] = _mm256_madd_epi16(_mm256_maddubs_epi16(codes, y[i]), ones);
        }
        const __m256 scale = _mm256_mul_ps(aq_avx2_f16_lanes(dx, nr, 1), aq_avx2_f16_lanes(dy, nr, 0));
        const __m256 scaled = _mm256_mul_ps(scale, _mm256_cvtepi32_ps(aq_avx2_reduce8(s)));
        const __m256 offset = _mm256_mul_ps(aq_avx2_f16_lanes(mx, nr, 1), aq_avx2_f16_lanes(sy, nr, 0));
        acc = _mm256_add_ps(acc, _mm256_add_ps(scaled, offset));
    }
    aq_avx2_store_lanes(acc, mr, nr, t);
}

AQ_BLOCK_GEMM_DEFINE(aq_q4_1_q8_1_gemm_4x2__avx2, AQ_AVX2_LANES, MR, AQ_QK4_1, tile)
