/* q4_k-q8_k-gemm-avx2.h - the tile of the AVX2 + F16C Q4_K x Q8_K block GEMM
 * (q4_k-q8_k-gemm-4x2-avx2.c) and, with AQ_Q5_K defined, of Q5_K x Q8_K
 * (q5_k-q8_k-gemm-4x2-avx2.c): tiles of 4 tokens x 2 rows (1 x 8 in decode), each
 * output bit for bit aq_q4_k_q8_k_dot_ref / aq_q5_k_q8_k_dot_ref. Per super-block
 * of 256: each row's codes (Q5_K: plus 16 where bit k of qh[l] is set, so codes are
 * 0..31) and 6-bit scales and mins are unpacked once for the tile's tokens; per
 * sub-block of 32, VPMADDUBSW (code * y pairs, within int16: |pair| <= 2 * 31 * 128)
 * then VPMADDWD by the sub-block's scale give exact int32 partial sums of
 * sc * code * y; the mins meet the activation's bsums (as the reference reads them)
 * in VPMADDWD. Both sums are reduced into 8 lanes, then per lane, as the reference:
 * D = f32(d) * y.d, Dmin = f32(dmin) * y.d, term = D * (float) isum - Dmin *
 * (float) msum, sum = sum + term (no fma). */
#ifndef AQ_Q4_K_Q8_K_GEMM_AVX2_H
#define AQ_Q4_K_Q8_K_GEMM_AVX2_H

#include "block-gemm-avx2.h"
#include "quant.h"

#define MR 4

#ifdef AQ_Q5_K
typedef block_q5_K aq_kquant_block;
#else
typedef block_q4_K aq_kquant_block;
#endif

AQ_TILE_INLINE void tile(size_t mr, const struct aq_block_tile *t) {
    const size_t nr = AQ_AVX2_LANES / mr;
    const __m256i low_nibbles = _mm256_set1_epi8(0x0F);
    __m256 acc = _mm256_setzero_ps();
    for (size_t b = 0; b < t->n_blocks; b++) {
        const aq_kquant_block *x[AQ_AVX2_LANES];
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
            x[r] = (const aq_kquant_block *)t->w[r] + b;
            xd[r] = x[r]->d;
            xdmin[r] = x[r]->dmin;
            aq_q4_k_unpack_scales(x[r]->scales, sm[r]);
            for (size_t i = 0; i < mr; i++) isum[i * nr + r] = _mm256_setzero_si256();
        }
        for (size_t c = 0; c < 4; c++) { /* sub-blocks 2 c (low nibbles) and 2 c + 1 (high) */
#ifdef AQ_Q5_K
            const __m256i bit_lo = _mm256_set1_epi8((char)(1u << (2 * c)));
            const __m256i bit_hi = _mm256_set1_epi8((char)(1u << (2 * c + 1)));
#endif
            for (size_t r = 0; r < nr; r++) {
                const __m256i v = _mm256_loadu_si256((const __m256i *)(x[r]->qs + 32 * c));
#ifdef AQ_Q5_K
                const __m256i qh = _mm256_loadu_si256((const __m256i *)x[r]->qh);
                const __m256i h_lo = aq_q5_k_high_avx2(qh, bit_lo), h_hi = aq_q5_k_high_avx2(qh, bit_hi);
                const __m256i lo = _mm256_or_si256(_mm256_and_si256(v, low_nibbles), h_lo);
                const __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(v, 4), low_nibbles), h_hi);
#else
                const __m256i lo = _mm256_and_si256(v, low_nibbles);
                const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low_nibbles);
#endif
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
        aq_q4_k_min_sums_avx2(msum, sm[0], a, mr, nr);
        const __m256 yd_lanes = aq_avx2_f32_token_lanes(yd, nr);
        const __m256 scale_all = _mm256_mul_ps(aq_avx2_f16_lanes(xd, nr, 1), yd_lanes);
        const __m256 scale_min = _mm256_mul_ps(aq_avx2_f16_lanes(xdmin, nr, 1), yd_lanes);
        const __m256 scaled = _mm256_mul_ps(scale_all, _mm256_cvtepi32_ps(aq_avx2_reduce8(isum)));
        const __m256 offset = _mm256_mul_ps(scale_min, _mm256_cvtepi32_ps(aq_avx2_reduce8(msum)));
        acc = _mm256_add_ps(acc, _mm256_sub_ps(scaled, offset));
    }
    aq_avx2_store_lanes(acc, mr, nr, t);
}

#endif
