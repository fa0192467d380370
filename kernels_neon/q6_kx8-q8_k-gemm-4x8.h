/* q6_kx8-q8_k-gemm-4x8.h - llama.cpp Q6_K weights repacked into groups of 8 rows
 * (q6_kx8.h) x Q8_K activations, the NEON tile, compiled by
 * q6_kx8-q8_k-gemm-4x8-neondot.c (SDOT, -march=armv8.2-a+dotprod) and -neon.c:
 * tiles of up to 4 tokens x the group's 8 rows (1 x 8 in decode), each output bit
 * for bit aq_q6_k_q8_k_dot_ref. A chunk's 32 bytes are rows 0..3 then 4..7, 4
 * bytes a row. The codes are unpacked once for the tile's tokens and made signed
 * (code - 32, in -32..31), so the sums are the exact (q - 32) * y sums of a
 * sub-block (the offset from the codes themselves, as the reference dot), and a
 * multiply-accumulate by the row's int8 scale gives the exact int32 isum. With
 * the dot product extension, SDOT by element i of the activations' 16 bytes adds
 * each row's 4 products of quad i to its own lane. Without it, each 8-byte half
 * of a quad's 16 bytes is 2 rows of 4 codes: SMLAL by the quad's 4 elements,
 * repeated, into int16 (4 quads: 4 products of at most 32 * 128 per lane, |sum|
 * <= 16384), and two pairwise adds make a lane per row. Then per lane f32(d) *
 * y.d, times (float) isum, added in super-block order (the reference's roundings,
 * no fma). */
#ifndef AQ_Q6_KX8_Q8_K_GEMM_4X8_H
#define AQ_Q6_KX8_Q8_K_GEMM_4X8_H

#include <arm_neon.h>

#include "block-gemm-x8-loop.h"
#include "quant.h"

#define MR 4

/* codes[i][g]: quad i, rows 4g .. 4g + 3; y the 16 activations of quads 4h .. 4h + 3;
 * s[g] the sub-block's sums of rows 4g .. 4g + 3. */
#if defined(__ARM_FEATURE_DOTPROD)
#define DOT_SUB_BLOCK(s, codes, y, h)                                                                                  \
    do {                                                                                                               \
        for (size_t g_ = 0; g_ < 2; g_++) {                                                                            \
            s[g_] = vdotq_laneq_s32(vdupq_n_s32(0), codes[4 * (h)][g_], y, 0);                                         \
            s[g_] = vdotq_laneq_s32(s[g_], codes[4 * (h) + 1][g_], y, 1);                                              \
            s[g_] = vdotq_laneq_s32(s[g_], codes[4 * (h) + 2][g_], y, 2);                                              \
            s[g_] = vdotq_laneq_s32(s[g_], codes[4 * (h) + 3][g_], y, 3);                                              \
        }                                                                                                              \
    } while (0)
#else
/* p[2 g + half]: rows 4g + 2 half, 4g + 2 half + 1, 4 int16 lanes each. */
#define DOT_QUAD(p, codes, y, i)                                                                                       \
    do {                                                                                                               \
        const int8x8_t ya_ = vreinterpret_s8_s32(vdup_laneq_s32(vreinterpretq_s32_s8(y), (i) % 4));                    \
        for (size_t g_ = 0; g_ < 2; g_++) {                                                                            \
            p[2 * g_] = vmlal_s8(p[2 * g_], vget_low_s8(codes[i][g_]), ya_);                                           \
            p[2 * g_ + 1] = vmlal_s8(p[2 * g_ + 1], vget_high_s8(codes[i][g_]), ya_);                                  \
        }                                                                                                              \
    } while (0)
#define DOT_SUB_BLOCK(s, codes, y, h)                                                                                  \
    do {                                                                                                               \
        int16x8_t p_[4] = {vdupq_n_s16(0), vdupq_n_s16(0), vdupq_n_s16(0), vdupq_n_s16(0)};                            \
        DOT_QUAD(p_, codes, y, 4 * (h));                                                                               \
        DOT_QUAD(p_, codes, y, 4 * (h) + 1);                                                                           \
        DOT_QUAD(p_, codes, y, 4 * (h) + 2);                                                                           \
        DOT_QUAD(p_, codes, y, 4 * (h) + 3);                                                                           \
        for (size_t g_ = 0; g_ < 2; g_++) s[g_] = vpaddq_s32(vpaddlq_s16(p_[2 * g_]), vpaddlq_s16(p_[2 * g_ + 1]));    \
    } while (0)
#endif

/* Bits 2s, 2s + 1 of each qh byte to bits 4, 5. */
static inline uint8x16_t high_bits(uint8x16_t h, size_t s) {
    const uint8x16_t mask = vdupq_n_u8(0x30);
    switch (s) {
    case 0:
        return vandq_u8(vshlq_n_u8(h, 4), mask);
    case 1:
        return vandq_u8(vshlq_n_u8(h, 2), mask);
    case 2:
        return vandq_u8(h, mask);
    default:
        return vandq_u8(vshrq_n_u8(h, 2), mask);
    }
}

AQ_TILE_INLINE void tile(size_t mr, const struct aq_x8_tile *t) {
    const uint8x16_t low_nibbles = vdupq_n_u8(0x0F);
    const int8x16_t thirty_two = vdupq_n_s8(32);
    const block_q6_Kx8 *x = (const block_q6_Kx8 *)t->w;
    float32x4_t acc[MR][2];
    for (size_t i = 0; i < mr; i++) acc[i][0] = acc[i][1] = vdupq_n_f32(0.0f);
    for (size_t b = 0; b < t->n_blocks; b++) {
        int32x4_t isum[MR][2];
        for (size_t i = 0; i < mr; i++) isum[i][0] = isum[i][1] = vdupq_n_s32(0);
        for (size_t j = 0; j < 8; j++) {
            int8x16_t codes[8][2];
            for (size_t g = 0; g < 2; g++) {
                const uint8x16_t h0 = vld1q_u8(x[b].qh + 32 * (2 * j) + 16 * g);
                const uint8x16_t h1 = vld1q_u8(x[b].qh + 32 * (2 * j + 1) + 16 * g);
                for (size_t u = 0; u < 4; u++) {
                    const uint8x16_t l = vld1q_u8(x[b].ql + 32 * (4 * j + u) + 16 * g);
                    const uint8x16_t c0 = vorrq_u8(vandq_u8(l, low_nibbles), high_bits(h0, u));
                    const uint8x16_t c1 = vorrq_u8(vshrq_n_u8(l, 4), high_bits(h1, u));
                    codes[u][g] = vsubq_s8(vreinterpretq_s8_u8(c0), thirty_two);
                    codes[4 + u][g] = vsubq_s8(vreinterpretq_s8_u8(c1), thirty_two);
                }
            }
            /* Row r's scales of sub-blocks 2j and 2j + 1, as int32 for rows 4g .. 4g + 3. */
            const int16x8_t sc0 = vmovl_s8(vld1_s8(x[b].scales + 16 * j));
            const int16x8_t sc1 = vmovl_s8(vld1_s8(x[b].scales + 16 * j + 8));
            const int32x4_t scale[2][2] = {{vmovl_s16(vget_low_s16(sc0)), vmovl_s16(vget_high_s16(sc0))},
                                           {vmovl_s16(vget_low_s16(sc1)), vmovl_s16(vget_high_s16(sc1))}};
            for (size_t i = 0; i < mr; i++) {
                const block_q8_K *y = (const block_q8_K *)t->a[i] + b;
                const int8x16_t y0 = vld1q_s8(y->qs + 32 * j), y1 = vld1q_s8(y->qs + 32 * j + 16);
                int32x4_t s[2];
                DOT_SUB_BLOCK(s, codes, y0, 0);
                for (size_t g = 0; g < 2; g++) isum[i][g] = vmlaq_s32(isum[i][g], s[g], scale[0][g]);
                DOT_SUB_BLOCK(s, codes, y1, 1);
                for (size_t g = 0; g < 2; g++) isum[i][g] = vmlaq_s32(isum[i][g], s[g], scale[1][g]);
            }
        }
        const float32x4_t dx[2] = {vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(x[b].d))),
                                   vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(x[b].d + 4)))};
        for (size_t i = 0; i < mr; i++) {
            const float32x4_t dy = vdupq_n_f32(((const block_q8_K *)t->a[i] + b)->d);
            for (size_t g = 0; g < 2; g++) {
                const float32x4_t scale = vmulq_f32(dx[g], dy);
                const float32x4_t term = vmulq_f32(scale, vcvtq_f32_s32(isum[i][g]));
                acc[i][g] = vaddq_f32(acc[i][g], term);
            }
        }
    }
    for (size_t i = 0; i < mr; i++) {
        vst1q_f32(t->out + i * t->out_stride, acc[i][0]);
        vst1q_f32(t->out + i * t->out_stride + 4, acc[i][1]);
    }
}

#endif /* AQ_Q6_KX8_Q8_K_GEMM_4X8_H */
