/* q5_k-q8_k-gemm-4x2-avx2.c - llama.cpp Q5_K weights x Q8_K activations, AVX2 +
 * F16C: tiles of 4 tokens x 2 rows (1 x 8 in decode), each output bit for bit
 * aq_q5_k_q8_k_dot_ref. As q4_k-q8_k-gemm-4x2-avx2.c, with each code's fifth bit
 * (bit k of qh[l] for sub-block k) added as 16, so codes are 0..31: per super-block
 * of 256, each row's codes and 6-bit scales and mins are unpacked once for the
 * tile's tokens; per sub-block of 32,
 * VPMADDUBSW (code * y pairs, within int16) then VPMADDWD by the sub-block's scale
 * give exact int32 partial sums of sc * code * y; the mins meet the activation's
 * bsums (as the reference reads them) in VPMADDWD. Both sums are reduced into 8
 * lanes, then per lane, as the reference: D = f32(d) * y.d, Dmin = f32(dmin) * y.d,
 * term = D * (float) isum - Dmin * (float) msum, sum = sum + term (no fma). */
#include "block-gemm-avx2.h"
#include "quant.h"

#define MR 4

AQ_TILE_INLINE void tile(size_t mr, const struct aq_block_tile *t) {
    const size_t nr = AQ_AVX2_LANES / mr;
    const __m256i low_nibbles = _mm256_set1_epi8(0x0F), sixteen = _mm256_set1_epi8(16);
    __m256 acc = _mm256_setzero_ps();
    for (size_t b = 0; b < t->n_blocks; b++) {
        const block_q5_K *x[AQ_AVX2_LANES];
        const block_q8_K *a[MR];
        uint8_t sm[AQ_AVX2_LANES][16]; /* per row: scales 0..7, mins 0..7 */
        uint16_t xd[AQ_AVX2_LANES], xdmin[AQ_AVX2_LANES];
        float yd[MR];
        __m256i isum[AQ_AVX2_LANES], msum[AQ_AVX2_LANES];
        for (size_t i = 0; i < mr; i++) {
            a[i] = (const block_q8_K *)t->a[i] + b;
            yd[i] = a[i]->d;
        }
        for (size_t r = 0; r < nr; r++) {
            x[r] = (const block_q5_K *)t->w[r] + b;
            xd[r] = x[r]->d;
            xdmin[r] = x[r]->dmin;
            aq_q4_k_unpack_scales(x[r]->scales, sm[r]);
            for (size_t i = 0; i < mr; i++) isum[i * nr + r] = _mm256_setzero_si256();
        }
        for (size_t c = 0; c < 4; c++) { /* sub-blocks 2 c (low nibbles) and 2 c + 1 (high) */
            const __m256i bit_lo = _mm256_set1_epi8((char)(1u << (2 * c)));
            const __m256i bit_hi = _mm256_set1_epi8((char)(1u << (2 * c + 1)));
            for (size_t r = 0; r < nr; r++) {
                const __m256i v = _mm256_loadu_si256((const __m256i *)(x[r]->qs + 32 * c));
                const __m256i qh = _mm256_loadu_si256((const __m256i *)x[r]->qh);
                /* 16 where the sub-block's bit of qh[l] is set. */
                const __m256i h_lo = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(qh, bit_lo), bit_lo), sixteen);
                const __m256i h_hi = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(qh, bit_hi), bit_hi), sixteen);
                const __m256i lo = _mm256_or_si256(_mm256_and_si256(v, low_nibbles), h_lo);
                const __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(v, 4), low_nibbles), h_hi);
                const __m256i sc_lo = _mm256_set1_epi16(sm[r][2 * c]), sc_hi = _mm256_set1_epi16(sm[r][2 * c + 1]);
                for (size_t i = 0; i < mr; i++) {
                    const __m256i y_lo = _mm256_loadu_si256((const __m256i *)(a[i]->qs + 64 * c));
                    const __m256i y_hi = _mm256_loadu_si256((const __m256i *)(a[i]->qs + 64 * c + 32));
                    const __m256i p_lo = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, y_lo), sc_lo);
                    const __m256i p_hi = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, y_hi), sc_hi);
                    isum[i * nr + r] = _mm256_add_epi32(isum[i * nr + r], _mm256_add_epi32(p_lo, p_hi));
                }
            }
        }
        for (size_t r = 0; r < nr; r++) {
            /* [m0, m0, m1, m1, ..., m7, m7]: min k meets bsums 2 k and 2 k + 1. */
            const __m128i m8 = _mm_loadl_epi64((const __m128i *)(sm[r] + 8));
            const __m256i mins = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m8, m8));
            for (size_t i = 0; i < mr; i++)
                msum[i * nr + r] = _mm256_madd_epi16(mins, _mm256_loadu_si256((const __m256i *)a[i]->bsums));
        }
        const __m256 yd_lanes = aq_avx2_f32_token_lanes(yd, nr);
        const __m256 scale_all = _mm256_mul_ps(aq_avx2_f16_lanes(xd, nr, 1), yd_lanes);
        const __m256 scale_min = _mm256_mul_ps(aq_avx2_f16_lanes(xdmin, nr, 1), yd_lanes);
        const __m256 scaled = _mm256_mul_ps(scale_all, _mm256_cvtepi32_ps(aq_avx2_reduce8(isum)));
        const __m256 offset = _mm256_mul_ps(scale_min, _mm256_cvtepi32_ps(aq_avx2_reduce8(msum)));
        acc = _mm256_add_ps(acc, _mm256_sub_ps(scaled, offset));
    }
    aq_avx2_store_lanes(acc, mr, nr, t);
}

AQ_BLOCK_GEMM_DEFINE(aq_q5_k_q8_k_gemm_4x2__avx2, AQ_AVX2_LANES, MR, AQ_QK_K, tile)
