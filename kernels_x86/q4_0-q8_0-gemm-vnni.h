/* q4_0-q8_0-gemm-vnni.h - the tile of the VNNI Q4_0 x Q8_0 block GEMMs
 * (q4_0-q8_0-gemm-4x2-avxvnni.c, q4_0-q8_0-gemm-4x4-avx512vnni.c; ISA and lanes
 * from block-gemm-vnni.h), each output bit for bit aq_q4_0_q8_0_dot_ref. Per
 * block: each row's 32 codes (0..15) are unpacked once for the tile's tokens, and
 * each token's -8 * y (VPDPBUSD of 8s by y, negated) once for its rows; one
 * VPDPBUSD of codes by y onto that gives the int32 partial sums of (code - 8) * y,
 * exact (|sum| < 2^14). Reduced into the lanes, then per lane f32(dx) * f32(dy),
 * times (float) isum, added to the lane's sum, in block order (the reference's
 * roundings, no fma). */
#ifndef AQ_Q4_0_Q8_0_GEMM_VNNI_H
#define AQ_Q4_0_Q8_0_GEMM_VNNI_H

#include "block-gemm-vnni.h"
#include "quant.h"

AQ_TILE_INLINE void aq_q4_0_q8_0_vnni_tile(size_t mr, const struct aq_block_tile *t) {
    const size_t nr = AQ_VNNI_LANES / mr;
    const __m128i low_nibbles = _mm_set1_epi8(0x0F);
    const __m256i eights = _mm256_set1_epi8(8), zero = _mm256_setzero_si256();
    aq_vnni_ps acc = aq_vnni_zero();
    for (size_t b = 0; b < t->n_blocks; b++) {
        __m256i y[AQ_VNNI_MR], bias[AQ_VNNI_MR], s[AQ_VNNI_LANES];
        uint16_t dx[AQ_VNNI_LANES], dy[AQ_VNNI_MR];
        for (size_t i = 0; i < mr; i++) {
            const block_q8_0 *a = (const block_q8_0 *)t->a[i] + b;
            y[i] = _mm256_loadu_si256((const __m256i *)a->qs);
            bias[i] = _mm256_sub_epi32(zero, aq_dpbusd(zero, eights, y[i]));
            dy[i] = a->d;
        }
        for (size_t r = 0; r < nr; r++) {
            const block_q4_0 *x = (const block_q4_0 *)t->w[r] + b;
            const __m128i v = _mm_loadu_si128((const __m128i *)x->qs);
            /* Elements 0..15 are the low nibbles, 16..31 the high ones. */
            const __m256i codes =
                _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(v, 4), low_nibbles), _mm_and_si128(v, low_nibbles));
            dx[r] = x->d;
            for (size_t i = 0; i < mr; i++) s[i * nr + r] = aq_dpbusd(bias[i], codes, y[i]);
        }
        const aq_vnni_ps scale = aq_vnni_mul(aq_vnni_f16_lanes(dx, nr, 1), aq_vnni_f16_lanes(dy, nr, 0));
        acc = aq_vnni_add(acc, aq_vnni_mul(scale, aq_vnni_reduce_cvt(s)));
    }
    aq_vnni_store_lanes(acc, mr, nr, t);
}

#endif
