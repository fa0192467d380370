/* q4_k-q8_k-gemm-4x2.h - the tile of the NEON Q4_K x Q8_K block GEMMs
 * (q4_k-q8_k-gemm-4x2-neon.c, -neondot.c) and, with AQ_Q5_K defined, of Q5_K x
 * Q8_K (q5_k-q8_k-gemm-4x2-*.c): 4 tokens x 2 rows (1 x 8 in decode), each output
 * bit for bit aq_q4_k_q8_k_dot_ref / aq_q5_k_q8_k_dot_ref. Per super-block of 256:
 * each row's codes (Q5_K: plus 16 where bit k of qh[l] is set) and 6-bit scales
 * and mins are unpacked once for the tile's tokens; per sub-block of 32 an exact
 * int32 sum code * y (aq_neon_dot16), times the sub-block's scale (MLA); the mins
 * meet the activation's bsums (as the reference reads them) in SMLAL. Both sums
 * are reduced into 8 lanes, then per lane, as the reference: D = f32(d) * y.d,
 * Dmin = f32(dmin) * y.d, term = D * (float) isum - Dmin * (float) msum,
 * sum = sum + term (no fma). */
#include "block-gemm-neon.h"
#include "quant.h"

#define MR 4

#ifdef AQ_Q5_K
typedef block_q5_K aq_kquant_block;
#else
typedef block_q4_K aq_kquant_block;
#endif

AQ_TILE_INLINE void tile(size_t mr, const struct aq_block_tile *t) {
    const size_t nr = AQ_NEON_LANES / mr;
    const uint8x16_t low_nibbles = vdupq_n_u8(0x0F);
    float32x4_t acc[2] = {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)};
    for (size_t b = 0; b < t->n_blocks; b++) {
        const aq_kquant_block *x[AQ_NEON_LANES];
        const block_q8_K *a[MR];
        uint8_t sm[AQ_NEON_LANES][16]; /* per row: scales 0..7, mins 0..7 */
        uint16_t xd[AQ_NEON_LANES], xdmin[AQ_NEON_LANES];
        float yd[MR];
        int32x4_t isum[AQ_NEON_LANES], msum[AQ_NEON_LANES];
        for (size_t i = 0; i < mr; i++) {
            a[i] = (const block_q8_K *)t->a[i] + b;
            yd[i] = a[i]->d;
        }
        for (size_t r = 0; r < nr; r++) {
            x[r] = (const aq_kquant_block *)t->w[r] + b;
            xd[r] = x[r]->d;
            xdmin[r] = x[r]->dmin;
            aq_q4_k_unpack_scales(x[r]->scales, sm[r]);
            for (size_t i = 0; i < mr; i++) isum[i * nr + r] = vdupq_n_s32(0);
        }
        for (size_t c = 0; c < 4; c++) { /* sub-blocks 2 c (low nibbles) and 2 c + 1 (high) */
#ifdef AQ_Q5_K
            const uint8x16_t bit_lo = vdupq_n_u8((uint8_t)(1u << (2 * c)));
            const uint8x16_t bit_hi = vdupq_n_u8((uint8_t)(1u << (2 * c + 1)));
            const uint8x16_t sixteen = vdupq_n_u8(16);
#endif
            for (size_t r = 0; r < nr; r++) {
                const uint8x16_t v0 = vld1q_u8(x[r]->qs + 32 * c), v1 = vld1q_u8(x[r]->qs + 32 * c + 16);
                uint8x16_t lo0 = vandq_u8(v0, low_nibbles), lo1 = vandq_u8(v1, low_nibbles);
                uint8x16_t hi0 = vshrq_n_u8(v0, 4), hi1 = vshrq_n_u8(v1, 4);
#ifdef AQ_Q5_K
                const uint8x16_t h0 = vld1q_u8(x[r]->qh), h1 = vld1q_u8(x[r]->qh + 16);
                lo0 = vorrq_u8(lo0, vandq_u8(vtstq_u8(h0, bit_lo), sixteen));
                lo1 = vorrq_u8(lo1, vandq_u8(vtstq_u8(h1, bit_lo), sixteen));
                hi0 = vorrq_u8(hi0, vandq_u8(vtstq_u8(h0, bit_hi), sixteen));
                hi1 = vorrq_u8(hi1, vandq_u8(vtstq_u8(h1, bit_hi), sixteen));
#endif
                const int32_t sc_lo = sm[r][2 * c], sc_hi = sm[r][2 * c + 1];
                for (size_t i = 0; i < mr; i++) {
                    const int8_t *y = a[i]->qs + 64 * c;
                    int32x4_t p_lo = aq_neon_dot16(vdupq_n_s32(0), vreinterpretq_s8_u8(lo0), vld1q_s8(y));
                    p_lo = aq_neon_dot16(p_lo, vreinterpretq_s8_u8(lo1), vld1q_s8(y + 16));
                    int32x4_t p_hi = aq_neon_dot16(vdupq_n_s32(0), vreinterpretq_s8_u8(hi0), vld1q_s8(y + 32));
                    p_hi = aq_neon_dot16(p_hi, vreinterpretq_s8_u8(hi1), vld1q_s8(y + 48));
                    isum[i * nr + r] = vmlaq_n_s32(vmlaq_n_s32(isum[i * nr + r], p_lo, sc_lo), p_hi, sc_hi);
                }
            }
        }
        for (size_t r = 0; r < nr; r++) {
            /* [m0, m0, m1, m1, ...]: min k meets bsums 2 k and 2 k + 1. */
            const uint8x8_t m8 = vld1_u8(sm[r] + 8);
            const int16x8_t m_lo = vreinterpretq_s16_u16(vmovl_u8(vzip1_u8(m8, m8)));
            const int16x8_t m_hi = vreinterpretq_s16_u16(vmovl_u8(vzip2_u8(m8, m8)));
            for (size_t i = 0; i < mr; i++) {
                const int16x8_t bs0 = vld1q_s16(a[i]->bsums), bs1 = vld1q_s16(a[i]->bsums + 8);
                int32x4_t m = vmull_s16(vget_low_s16(bs0), vget_low_s16(m_lo));
                m = vmlal_high_s16(m, bs0, m_lo);
                m = vmlal_s16(m, vget_low_s16(bs1), vget_low_s16(m_hi));
                msum[i * nr + r] = vmlal_high_s16(m, bs1, m_hi);
            }
        }
        float32x4_t fd[2], fdmin[2], fy[2];
        aq_neon_f16_lanes(xd, nr, 1, fd);
        aq_neon_f16_lanes(xdmin, nr, 1, fdmin);
        aq_neon_f32_token_lanes(yd, nr, fy);
        const int32x4_t is[2] = {aq_neon_reduce4(isum), aq_neon_reduce4(isum + 4)};
        const int32x4_t ms[2] = {aq_neon_reduce4(msum), aq_neon_reduce4(msum + 4)};
        for (size_t q = 0; q < 2; q++) {
            const float32x4_t scaled = vmulq_f32(vmulq_f32(fd[q], fy[q]), vcvtq_f32_s32(is[q]));
            const float32x4_t offset = vmulq_f32(vmulq_f32(fdmin[q], fy[q]), vcvtq_f32_s32(ms[q]));
            acc[q] = vaddq_f32(acc[q], vsubq_f32(scaled, offset));
        }
    }
    aq_neon_store_lanes(acc, mr, nr, t);
}
