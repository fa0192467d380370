/* q6_k-q8_k-gemm-4x2-avx2.c - llama.cpp Q6_K weights x Q8_K activations, AVX2 +
 * F16C: tiles of 4 tokens x 2 rows (1 x 8 in decode), each output bit for bit
 * aq_q6_k_q8_k_dot_ref. Per run of 32 elements (two sub-blocks of 16): each row's
 * 6-bit codes (0..63) are assembled once for the tile's tokens, and each token's
 * 32 * y once for its rows; VPMADDUBSW pairs code * y - 32 * y = (q - 32) * y stay
 * within int16, and VPMADDWD by the two sub-blocks' signed scales gives exact int32
 * partial sums of sc * (q - 32) * y (the offset from the activation codes
 * themselves, not from bsums, as the reference). Reduced into 8 lanes, then per
 * lane (f32(d) * y.d) * (float) isum, added in block order (no fma). */
#include "block-gemm-avx2.h"
#include "quant.h"

#define MR 4

AQ_TILE_INLINE void tile(size_t mr, const struct aq_block_tile *t) {
    const size_t nr = AQ_AVX2_LANES / mr;
    const __m256i thirty_two = _mm256_set1_epi8(32);
    __m256 acc = _mm256_setzero_ps();
    for (size_t b = 0; b < t->n_blocks; b++) {
        const block_q6_K *x[AQ_AVX2_LANES];
        const block_q8_K *a[MR];
        uint16_t xd[AQ_AVX2_LANES];
        float yd[MR];
        __m256i isum[AQ_AVX2_LANES];
        for (size_t i = 0; i < mr; i++) {
            a[i] = (const block_q8_K *)t->a[i] + b;
            yd[i] = a[i]->d;
        }
        for (size_t r = 0; r < nr; r++) {
            x[r] = (const block_q6_K *)t->w[r] + b;
            xd[r] = x[r]->d;
            for (size_t i = 0; i < mr; i++) isum[i * nr + r] = _mm256_setzero_si256();
        }
        for (size_t h = 0; h < 2; h++) {
            for (size_t j = 0; j < 4; j++) {
                __m256i y[MR], bias[MR];
                for (size_t i = 0; i < mr; i++) {
                    y[i] = _mm256_loadu_si256((const __m256i *)(a[i]->qs + 128 * h + 32 * j));
                    bias[i] = _mm256_maddubs_epi16(thirty_two, y[i]);
                }
                for (size_t r = 0; r < nr; r++) {
                    const __m256i qh = _mm256_loadu_si256((const __m256i *)(x[r]->qh + 32 * h));
                    const __m256i codes = aq_q6_k_codes_avx2(x[r]->ql + 64 * h, qh, j);
                    /* Elements l < 16 are sub-block 8 h + 2 j, the others 8 h + 2 j + 1. */
                    const int8_t *sc = x[r]->scales + 8 * h + 2 * j;
                    const __m256i scale = _mm256_set_m128i(_mm_set1_epi16(sc[1]), _mm_set1_epi16(sc[0]));
                    for (size_t i = 0; i < mr; i++) {
                        const __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(codes, y[i]), bias[i]);
                        isum[i * nr + r] = _mm256_add_epi32(isum[i * nr + r], _mm256_madd_epi16(p, scale));
                    }
                }
            }
        }
        const __m256 scale = _mm256_mul_ps(aq_avx2_f16_lanes(xd, nr, 1), aq_avx2_f32_token_lanes(yd, nr));
        acc = _mm256_add_ps(acc, _mm256_mul_ps(scale, _mm256_cvtepi32_ps(aq_avx2_reduce8(isum))));
    }
    aq_avx2_store_lanes(acc, mr, nr, t);
}

AQ_BLOCK_GEMM_DEFINE(aq_q6_k_q8_k_gemm_4x2__avx2, AQ_AVX2_LANES, MR, AQ_QK_K, tile)
