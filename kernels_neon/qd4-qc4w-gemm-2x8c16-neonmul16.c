/* qd4-qc4w-gemm-2x8c16-neonmul16.c - INT4 activations x INT4 weights (W4A4) on
 * baseline NEON with Agile-Quant's packed multiplier: two 4-bit weights that
 * share one activation sit in one 16-bit lane, so one 16-bit multiply yields
 * two products.
 *
 * Operands are made unsigned so the two products cannot overlap: weight codes
 * q are 0..15 as stored, activations a in [-8, 7] become a' = a + 8 in 0..15
 * (the nibble XOR 8). Lane = q_r | q_r' << 8 (rows r, r' at the same k), times
 * a' = q_r a' + (q_r' a') << 8 with both products <= 225 < 256: exact in 16 bits.
 *
 * Accumulating: raw += product (wraps mod 2^16) and high += product >> 8 (USRA;
 * the sum of the upper products, <= 16 * 225 per lane and group, exact). At the
 * group end the lower sum is raw - (high << 8) mod 2^16, exact because it is
 * < 2^16 too. This is the paper's 0x00FF00FF split done with one shift-accumulate
 * instead of two masks. Then, per row, S = sum q a'; with sum q a = S - 8 sum q
 * and the zero-point identity of qc4w-pack.h:
 *   isum = S - (8 + za) * code_sum - zw * (sum a - group * za).
 *
 * Tile: 2 tokens x 8 rows, 16 k per step. Nibble order (pack): per group, per 16
 * k, four 16-byte blocks, one per row pair p = (2p, 2p + 1); byte 2i holds row 2p
 * at k + i (low nibble) and k + 8 + i (high nibble), byte 2i + 1 the same for
 * row 2p + 1. So AND 0x0F gives the lanes (q_2p | q_2p+1 << 8) of k..k+7 and a
 * byte shift by 4 those of k+8..k+15, with no shuffles.
 * Float part as in aq_qd8_qc4w_gemm_ref.
 */
#include <arm_neon.h>

#include "qc4w-gemm-neon.h"
#include "qc4w-pack.h"

#define MR 2

void aq_qc4w_pack_x8c16__neonmul16(const struct aq_q4w *w, void *packed) {
    const size_t groups = w->k / w->group;
    const size_t tiles = (w->n_rows + AQ_NEON_NR - 1) / AQ_NEON_NR;
    uint8_t *dst = packed;
    for (size_t t = 0; t < tiles; t++) {
        for (size_t g = 0; g < groups; g++) {
            aq_neon_pack_meta(w, t, g, dst);
            dst += AQ_NEON_META_BYTES;
            for (size_t k16 = g * w->group; k16 < (g + 1) * w->group; k16 += 16) {
                for (size_t p = 0; p < AQ_NEON_NR / 2; p++) {
                    const size_t r = t * AQ_NEON_NR + 2 * p;
                    for (size_t i = 0; i < 8; i++) {
                        *dst++ = (uint8_t) (aq_neon_code(w, r, k16 + i) | (aq_neon_code(w, r, k16 + 8 + i) << 4));
                        *dst++ = (uint8_t) (aq_neon_code(w, r + 1, k16 + i) |
                                            (aq_neon_code(w, r + 1, k16 + 8 + i) << 4));
                    }
                }
            }
        }
    }
}

/* Row sums of two row pairs: [r_2p, r_2p+1, r_2p+2, r_2p+3] from their raw and
 * high accumulators. */
static inline uint32x4_t reduce_pairs(uint16x8_t raw0, uint16x8_t high0, uint16x8_t raw1, uint16x8_t high1) {
    const uint16x8_t low0 = vsubq_u16(raw0, vshlq_n_u16(high0, 8));
    const uint16x8_t low1 = vsubq_u16(raw1, vshlq_n_u16(high1, 8));
    const uint32x4_t s0 = vpaddq_u32(vpaddlq_u16(low0), vpaddlq_u16(high0));
    const uint32x4_t s1 = vpaddq_u32(vpaddlq_u16(low1), vpaddlq_u16(high1));
    return vpaddq_u32(s0, s1);
}

static inline __attribute__((always_inline)) void tile_gemm(size_t mr, const uint8_t *tile, size_t groups,
                                                            size_t group, const uint8_t *qa, size_t k,
                                                            const float *a_scale, const int32_t *a_zero,
                                                            float *out, size_t out_stride, size_t n_valid) {
    const uint8x16_t low_mask = vdupq_n_u8(0x0F);
    const uint8x8_t low_mask8 = vdup_n_u8(0x0F);
    const uint8x8_t flip = vdup_n_u8(0x88);
    float32x4_t facc[MR][2];
    AQ_FOR_TOKENS(i) facc[i][0] = facc[i][1] = vdupq_n_f32(0.0f);

    for (size_t g = 0; g < groups; g++) {
        const uint8_t *meta = tile + g * aq_neon_group_bytes(group);
        const uint8_t *nib = meta + AQ_NEON_META_BYTES;
        uint16x8_t raw[MR][AQ_NEON_NR / 2];
        uint16x8_t high[MR][AQ_NEON_NR / 2];
        uint16x8_t asum[MR];
        AQ_FOR_TOKENS(i) {
            for (size_t p = 0; p < AQ_NEON_NR / 2; p++) raw[i][p] = high[i][p] = vdupq_n_u16(0);
            asum[i] = vdupq_n_u16(0);
        }
        const uint8_t *a_group = qa + g * group / 2;
        for (size_t kk = 0; kk < group; kk += 16) {
            AQ_MCA_BEGIN(mr, "neonmul16");
            uint16x8_t a_lo[MR], a_hi[MR];
            AQ_FOR_TOKENS(i) {
                /* 16 signed nibbles -> a' = a + 8 (XOR 8), in k order. */
                const uint8x8_t x = veor_u8(vld1_u8(a_group + i * (k / 2) + kk / 2), flip);
                const uint8x8_t even = vand_u8(x, low_mask8);
                const uint8x8_t odd = vshr_n_u8(x, 4);
                const uint8x16_t a16 = vcombine_u8(vzip1_u8(even, odd), vzip2_u8(even, odd));
                asum[i] = vpadalq_u8(asum[i], a16);
                a_lo[i] = vmovl_u8(vget_low_u8(a16));
                a_hi[i] = vmovl_high_u8(a16);
            }
            /* Row pairs written out so the accumulators stay in registers. */
#define STEP(p)                                                                   \
    do {                                                                          \
        const uint8x16_t b = vld1q_u8(nib + 16 * (p));                            \
        const uint16x8_t w_lo = vreinterpretq_u16_u8(vandq_u8(b, low_mask));      \
        const uint16x8_t w_hi = vreinterpretq_u16_u8(vshrq_n_u8(b, 4));           \
        AQ_FOR_TOKENS(i) {                                         \
            const uint16x8_t prod0 = vmulq_u16(w_lo, a_lo[i]);                    \
            const uint16x8_t prod1 = vmulq_u16(w_hi, a_hi[i]);                    \
            raw[i][p] = vaddq_u16(raw[i][p], prod0);                              \
            high[i][p] = vsraq_n_u16(high[i][p], prod0, 8);                       \
            raw[i][p] = vaddq_u16(raw[i][p], prod1);                              \
            high[i][p] = vsraq_n_u16(high[i][p], prod1, 8);                       \
        }                                                                         \
    } while (0)
            STEP(0);
            STEP(1);
            STEP(2);
            STEP(3);
#undef STEP
            nib += 64;
            AQ_MCA_END(mr);
        }
        const float32x4_t scale0 = vld1q_f32((const float *) (const void *) meta);
        const float32x4_t scale1 = vld1q_f32((const float *) (const void *) meta + 4);
        const int32x4_t zero0 = vld1q_s32((const int32_t *) (const void *) (meta + 32));
        const int32x4_t zero1 = vld1q_s32((const int32_t *) (const void *) (meta + 48));
        const int32x4_t csum0 = vld1q_s32((const int32_t *) (const void *) (meta + 64));
        const int32x4_t csum1 = vld1q_s32((const int32_t *) (const void *) (meta + 80));
        AQ_FOR_TOKENS(i) {
            const int32x4_t s0 = vreinterpretq_s32_u32(reduce_pairs(raw[i][0], high[i][0], raw[i][1], high[i][1]));
            const int32x4_t s1 = vreinterpretq_s32_u32(reduce_pairs(raw[i][2], high[i][2], raw[i][3], high[i][3]));
            const int32_t za = a_zero[i];
            /* sum a = sum a' - 8 * group */
            const int32_t act_sum = (int32_t) ((uint32_t) vaddlvq_u16(asum[i]) - 8u * (uint32_t) group);
            const int32_t act_term = aq_neon_act_term(act_sum, group, za);
            const int32_t code_factor = (int32_t) (8u + (uint32_t) za);
            const int32x4_t isum0 = vmlsq_n_s32(vmlsq_n_s32(s0, zero0, act_term), csum0, code_factor);
            const int32x4_t isum1 = vmlsq_n_s32(vmlsq_n_s32(s1, zero1, act_term), csum1, code_factor);
            facc[i][0] = vfmaq_f32(facc[i][0], vmulq_n_f32(scale0, a_scale[i]), vcvtq_f32_s32(isum0));
            facc[i][1] = vfmaq_f32(facc[i][1], vmulq_n_f32(scale1, a_scale[i]), vcvtq_f32_s32(isum1));
        }
    }
    AQ_FOR_TOKENS(i) {
        if (n_valid == AQ_NEON_NR) {
            vst1q_f32(out + i * out_stride, facc[i][0]);
            vst1q_f32(out + i * out_stride + 4, facc[i][1]);
        } else {
            float row[AQ_NEON_NR];
            vst1q_f32(row, facc[i][0]);
            vst1q_f32(row + 4, facc[i][1]);
            aq_neon_store_row(out + i * out_stride, row, n_valid);
        }
    }
}

void aq_qd4_qc4w_gemm_2x8c16__neonmul16(size_t m, size_t n_begin, size_t n_end, const struct aq_qd4 *a,
                                        const struct aq_q4w *w, const void *packed, float *out,
                                        size_t out_stride) {
    const size_t k = w->k;
    const size_t groups = k / w->group;
    const size_t tile_bytes = aq_neon_tile_bytes(w);
    for (size_t r = n_begin; r < n_end; r += AQ_NEON_NR) {
        const uint8_t *tile = (const uint8_t *) packed + r / AQ_NEON_NR * tile_bytes;
        const size_t n_valid = n_end - r < AQ_NEON_NR ? n_end - r : AQ_NEON_NR;
        size_t t = 0;
        for (; t + MR <= m; t += MR) {
            tile_gemm(MR, tile, groups, w->group, a->q + t * (k / 2), k, a->scale + t, a->zero + t,
                      out + t * out_stride + r, out_stride, n_valid);
        }
        if (t < m) {
            tile_gemm(1, tile, groups, w->group, a->q + t * (k / 2), k, a->scale + t, a->zero + t,
                      out + t * out_stride + r, out_stride, n_valid);
        }
    }
}
