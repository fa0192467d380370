/* q4_kx8-q8_k-gemm-4x8.h - the NEON tile of the GEMMs of llama.cpp Q4_K weights
 * (q4_kx8-q8_k-gemm-4x8-neon.c, -neondot.c) and, with AQ_Q5_K defined, Q5_K weights
 * (q5_kx8-q8_k-gemm-4x8-neon.c, -neondot.c), repacked into groups of
 * 8 rows (q4_kx8.h), x Q8_K activations: tiles of up to 4 tokens x the group's 8
 * rows (1 x 8 in decode), each output bit for bit aq_q4_k_q8_k_dot_ref /
 * aq_q5_k_q8_k_dot_ref. Rows 4 g .. 4 g + 3 are the lanes of half g (the 16 bytes
 * 16 g .. 16 g + 15 of each 32-byte chunk). Per super-block the 6-bit scales and
 * mins of the 8 rows are unpacked at once and widened to int32 lanes; per
 * sub-block k its 8 chunks of codes (Q5_K: plus 16 where bit k of the chunk's qh
 * is set; codes 0..31 are non-negative int8) are unpacked once for the tile's
 * tokens; each row's exact int32 sum of code * y over the sub-block (sub_sums:
 * SDOT with the dot product extension, SMLAL into int16 without) lands in its own
 * lane; the sub-block's sum times the lane's
 * scale (MLA) goes into isum. The mins times the token's bsums pairs (widened to
 * int32: the reference adds them as int) go into msum. Then per lane, as the
 * reference: D = f32(d) * y.d, Dmin = f32(dmin) * y.d, term = D * (float) isum -
 * Dmin * (float) msum, sum = sum + term (no fma). */
#ifndef AQ_Q4_KX8_Q8_K_GEMM_4X8_H
#define AQ_Q4_KX8_Q8_K_GEMM_4X8_H

#include <arm_neon.h>
#include <string.h>

#include "block-gemm-x8-loop.h"
#include "q4_kx8.h"

#define MR 4

#ifdef AQ_Q5_K
typedef block_q5_Kx8 aq_kx8_block;
#else
typedef block_q4_Kx8 aq_kx8_block;
#endif

/* The 64 six-bit values at p (q4_kx8.h) as int32: out[k][g] lane i = sub-block k
 * of row 4 g + i. */
static inline void unpack_6bit(const uint8_t *p, int32x4_t out[8][2]) {
    const uint8x16_t low_nibbles = vdupq_n_u8(0x0F), bits45 = vdupq_n_u8(0x30);
    const uint8x16_t l0 = vld1q_u8(p), l1 = vld1q_u8(p + 16), h = vld1q_u8(p + 32);
    /* values[f] = values 16 f .. 16 f + 15: bytes 4 (k % 4) + i of f = 2 (k / 4) + g. */
    const uint8x16_t values[4] = {
        vorrq_u8(vandq_u8(l0, low_nibbles), vandq_u8(vshlq_n_u8(h, 4), bits45)),
        vorrq_u8(vandq_u8(l1, low_nibbles), vandq_u8(vshlq_n_u8(h, 2), bits45)),
        vorrq_u8(vshrq_n_u8(l0, 4), vandq_u8(h, bits45)),
        vorrq_u8(vshrq_n_u8(l1, 4), vandq_u8(vshrq_n_u8(h, 2), bits45)),
    };
    for (size_t f = 0; f < 4; f++) {
        const uint16x8_t lo = vmovl_u8(vget_low_u8(values[f])), hi = vmovl_u8(vget_high_u8(values[f]));
        const size_t k0 = 4 * (f / 2), g = f % 2;
        out[k0][g] = vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(lo)));
        out[k0 + 1][g] = vreinterpretq_s32_u32(vmovl_u16(vget_high_u16(lo)));
        out[k0 + 2][g] = vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(hi)));
        out[k0 + 3][g] = vreinterpretq_s32_u32(vmovl_u16(vget_high_u16(hi)));
    }
}

/* Sub-block k's codes: codes[2 j + g] = chunk j, half g. */
static inline void unpack_codes(const aq_kx8_block *x, size_t k, int8x16_t codes[16]) {
    const uint8x16_t low_nibbles = vdupq_n_u8(0x0F);
    const uint8_t *qs = x->qs + 256 * (k / 2);
#ifdef AQ_Q5_K
    /* Bit k of each qh byte to bit 4: a shift left by 4 - k (right when negative). */
    const int8x16_t to_bit4 = vdupq_n_s8((int8_t)(4 - (int)k));
    const uint8x16_t bit4 = vdupq_n_u8(0x10);
#endif
    for (size_t q = 0; q < 16; q++) {
        const uint8x16_t v = vld1q_u8(qs + 16 * q);
        uint8x16_t c = k % 2 ? vshrq_n_u8(v, 4) : vandq_u8(v, low_nibbles);
#ifdef AQ_Q5_K
        c = vorrq_u8(c, vandq_u8(vshlq_u8(vld1q_u8(x->qh + 16 * q), to_bit4), bit4));
#endif
        codes[q] = vreinterpretq_s8_u8(c);
    }
}

#if defined(__ARM_FEATURE_DOTPROD)
/* Lane i = row 4 g + i's sum of code * y over the sub-block's 32 elements y: SDOT
 * by element j % 4 of the token's half j / 4 adds the row's 4 products of chunk j. */
static inline int32x4_t sub_sums(const int8x16_t codes[16], const int8_t *y, size_t g) {
    const int8x16_t ylo = vld1q_s8(y), yhi = vld1q_s8(y + 16);
    int32x4_t s = vdupq_n_s32(0);
    s = vdotq_laneq_s32(s, codes[0 + g], ylo, 0);
    s = vdotq_laneq_s32(s, codes[2 + g], ylo, 1);
    s = vdotq_laneq_s32(s, codes[4 + g], ylo, 2);
    s = vdotq_laneq_s32(s, codes[6 + g], ylo, 3);
    s = vdotq_laneq_s32(s, codes[8 + g], yhi, 0);
    s = vdotq_laneq_s32(s, codes[10 + g], yhi, 1);
    s = vdotq_laneq_s32(s, codes[12 + g], yhi, 2);
    s = vdotq_laneq_s32(s, codes[14 + g], yhi, 3);
    return s;
}
#else
/* Lane i = row 4 g + i's sum of code * y over the sub-block's 32 elements y: each
 * 8-byte quarter of a chunk's half is 2 rows of 4 codes, SMLAL by the token's 4
 * elements (repeated) into int16 (8 chunks of one product of at most 31 * 128 per
 * lane: |sum| <= 31744), then two pairwise adds make a lane per row. */
static inline int32x4_t sub_sums(const int8x16_t codes[16], const int8_t *y, size_t g) {
    int16x8_t s[2] = {vdupq_n_s16(0), vdupq_n_s16(0)};
    for (size_t j = 0; j < 8; j++) {
        int32_t y4;
        memcpy(&y4, y + 4 * j, sizeof y4);
        const int8x8_t y8 = vreinterpret_s8_s32(vdup_n_s32(y4));
        s[0] = vmlal_s8(s[0], vget_low_s8(codes[2 * j + g]), y8);
        s[1] = vmlal_s8(s[1], vget_high_s8(codes[2 * j + g]), y8);
    }
    return vpaddq_s32(vpaddlq_s16(s[0]), vpaddlq_s16(s[1]));
}
#endif

AQ_TILE_INLINE void tile(size_t mr, const struct aq_x8_tile *t) {
    const aq_kx8_block *x = (const aq_kx8_block *)t->w;
    float32x4_t acc[MR][2];
    for (size_t i = 0; i < mr; i++) acc[i][0] = acc[i][1] = vdupq_n_f32(0.0f);
    for (size_t b = 0; b < t->n_blocks; b++) {
        const block_q8_K *y[MR];
        int32x4_t isum[MR][2], msum[MR][2];
        for (size_t i = 0; i < mr; i++) {
            y[i] = (const block_q8_K *)t->a[i] + b;
            isum[i][0] = isum[i][1] = msum[i][0] = msum[i][1] = vdupq_n_s32(0);
        }
        int32x4_t scales[8][2], mins[8][2];
        unpack_6bit(x[b].sm, scales);
        unpack_6bit(x[b].sm + 48, mins);
        for (size_t k = 0; k < AQ_QK_K / 32; k++) {
            int8x16_t codes[16];
            unpack_codes(&x[b], k, codes);
            for (size_t i = 0; i < mr; i++) {
                for (size_t g = 0; g < 2; g++)
                    isum[i][g] = vmlaq_s32(isum[i][g], sub_sums(codes, y[i]->qs + 32 * k, g), scales[k][g]);
            }
        }
        for (size_t i = 0; i < mr; i++) {
            /* bs[h] lane l = bsums[8 h + 2 l] + bsums[8 h + 2 l + 1]: sub-block 4 h + l. */
            const int32x4_t bs[2] = {vpaddlq_s16(vld1q_s16(y[i]->bsums)), vpaddlq_s16(vld1q_s16(y[i]->bsums + 8))};
            for (size_t g = 0; g < 2; g++) {
                for (size_t h = 0; h < 2; h++) {
                    msum[i][g] = vmlaq_laneq_s32(msum[i][g], mins[4 * h][g], bs[h], 0);
                    msum[i][g] = vmlaq_laneq_s32(msum[i][g], mins[4 * h + 1][g], bs[h], 1);
                    msum[i][g] = vmlaq_laneq_s32(msum[i][g], mins[4 * h + 2][g], bs[h], 2);
                    msum[i][g] = vmlaq_laneq_s32(msum[i][g], mins[4 * h + 3][g], bs[h], 3);
                }
            }
        }
        for (size_t g = 0; g < 2; g++) {
            const float32x4_t dx = vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(x[b].d + 4 * g)));
            const float32x4_t dmin = vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(x[b].dmin + 4 * g)));
            for (size_t i = 0; i < mr; i++) {
                const float32x4_t yd = vdupq_n_f32(y[i]->d);
                const float32x4_t scaled = vmulq_f32(vmulq_f32(dx, yd), vcvtq_f32_s32(isum[i][g]));
                const float32x4_t offset = vmulq_f32(vmulq_f32(dmin, yd), vcvtq_f32_s32(msum[i][g]));
                acc[i][g] = vaddq_f32(acc[i][g], vsubq_f32(scaled, offset));
            }
        }
    }
    for (size_t i = 0; i < mr; i++) {
        vst1q_f32(t->out + i * t->out_stride, acc[i][0]);
        vst1q_f32(t->out + i * t->out_stride + 4, acc[i][1]);
    }
}

#endif /* AQ_Q4_KX8_Q8_K_GEMM_4X8_H */
