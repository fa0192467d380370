/* q6_k-q8_k-gemm-vnni.h - the tile of the VNNI Q6_K x Q8_K block GEMMs
 * (q6_k-q8_k-gemm-4x2-avxvnni.c, q6_k-q8_k-gemm-4x4-avx512vnni.c; ISA and lanes
 * from block-gemm-vnni.h), each output bit for bit aq_q6_k_q8_k_dot_ref. As
 * q6_k-q8_k-gemm-4x2-avx2.c, with VPDPWSSD fusing the scale's multiply and the
 * add: per run of 32 elements (two sub-blocks of 16), each row's 6-bit codes
 * (0..63) are assembled once for the tile's tokens, and each token's 32 * y once
 * for its rows; VPMADDUBSW pairs code * y - 32 * y = (q - 32) * y stay within
 * int16 (|pair| <= 2 * 32 * 128), and VPDPWSSD by the two sub-blocks' signed
 * scales accumulates exact int32 partial sums of sc * (q - 32) * y (the offset
 * from the activation codes themselves, not from bsums, as the reference). Reduced
 * into the lanes, then per lane (f32(d) * y.d) * (float) isum, added in block
 * order (no fma). */
#ifndef AQ_Q6_K_Q8_K_GEMM_VNNI_H
#define AQ_Q6_K_Q8_K_GEMM_VNNI_H

#include "block-gemm-vnni.h"
#include "quant.h"

AQ_TILE_INLINE void aq_q6_k_q8_k_vnni_tile(size_t mr, const struct aq_block_tile *t) {
    const size_t nr = AQ_VNNI_LANES / mr;
    const __m256i thirty_two = _mm256_set1_epi8(32);
    aq_vnni_ps acc = aq_vnni_zero();
    for (size_t b = 0; b < t->n_blocks; b++) {
        const block_q6_K *x[AQ_VNNI_LANES];
        const block_q8_K *a[AQ_VNNI_MR];
        uint16_t xd[AQ_VNNI_LANES];
        float yd[AQ_VNNI_MR];
        __m256i isum[AQ_VNNI_LANES];
        for (size_t i = 0; i < mr; i++) {
            a[i] = (const block_q8_K *)t->a[i] + b;
            yd[i] = a[i]->d;
        }
        for (size_t r = 0; r < nr; r++) {
            x[r] = (const block_q6_K *)t->w[r] + b;
            xd[r] = x[r]->d;
            for (size_t i = 0; i < mr; i++) isum[i * nr + r] = _mm256_setzero_si256();
        }
        /* 32 * y of every run, once per token; then row by row, so that only the
         * row's mr lane sums are live while its codes are unpacked. */
        __m256i bias[8][AQ_VNNI_MR];
        for (size_t run = 0; run < 8; run++)
            for (size_t i = 0; i < mr; i++)
                bias[run][i] =
                    _mm256_maddubs_epi16(thirty_two, _mm256_loadu_si256((const __m256i *)(a[i]->qs + 32 * run)));
        for (size_t r = 0; r < nr; r++) {
            for (size_t h = 0; h < 2; h++) {
                const __m256i qh = _mm256_loadu_si256((const __m256i *)(x[r]->qh + 32 * h));
                for (size_t j = 0; j < 4; j++) {
                    const __m256i codes = aq_q6_k_codes_avx2(x[r]->ql + 64 * h, qh, j);
                    /* Elements l < 16 are sub-block 8 h + 2 j, the others 8 h + 2 j + 1. */
                    const int8_t *sc = x[r]->scales + 8 * h + 2 * j;
                    const __m256i scale = _mm256_set_m128i(_mm_set1_epi16(sc[1]), _mm_set1_epi16(sc[0]));
                    for (size_t i = 0; i < mr; i++) {
                        const __m256i y = _mm256_loadu_si256((const __m256i *)(a[i]->qs + 128 * h + 32 * j));
                        const __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(codes, y), bias[4 * h + j][i]);
                        isum[i * nr + r] = aq_dpwssd(isum[i * nr + r], p, scale);
                    }
                }
            }
        }
        const aq_vnni_ps scale = aq_vnni_mul(aq_vnni_f16_lanes(xd, nr, 1), aq_vnni_f32_token_lanes(yd, nr));
        acc = aq_vnni_add(acc, aq_vnni_mul(scale, aq_vnni_reduce_cvt(isum)));
    }
    aq_vnni_store_lanes(acc, mr, nr, t);
}

#endif
