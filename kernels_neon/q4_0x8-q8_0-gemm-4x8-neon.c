/* q4_0x8-q8_0-gemm-4x8-neon.c - llama.cpp Q4_0 weights repacked into groups of 8
 * rows (q4_0x8.h) x Q8_0 activations, plain NEON (no dot product): tiles of up to 4
 * tokens x the group's 8 rows (1 x 8 in decode), each output bit for bit
 * aq_q4_0_q8_0_dot_ref. Each 8-byte quarter of a chunk is 2 rows of 4 codes; the
 * activations' 4 elements of the chunk, repeated, multiply them (SMLAL into int16:
 * 8 products of at most 15 * 128 per lane, |sum| <= 15360), two pairwise adds make
 * a lane per row, minus 8 * sum(y): the exact (code - 8) * y sum. Then per lane
 * f32(dx) * f32(dy), times (float) isum, added in block order (no fma). */
#include <arm_neon.h>

#include "block-gemm-x8-loop.h"
#include "quant.h"

#define MR 4

/* The int16 sums of chunk c: quarter q = 2 g + half of codes[c][h][g]. */
#define MLAL_CHUNK(s16, codes, ylo, yhi, c)                                                                            \
    do {                                                                                                               \
        const int8x8_t ya_ = vreinterpret_s8_s32(vdup_laneq_s32(vreinterpretq_s32_s8(ylo), c));                        \
        const int8x8_t yb_ = vreinterpret_s8_s32(vdup_laneq_s32(vreinterpretq_s32_s8(yhi), c));                        \
        for (size_t g_ = 0; g_ < 2; g_++) {                                                                            \
            s16[2 * g_] = vmlal_s8(s16[2 * g_], vget_low_s8(codes[c][0][g_]), ya_);                                    \
            s16[2 * g_ + 1] = vmlal_s8(s16[2 * g_ + 1], vget_high_s8(codes[c][0][g_]), ya_);                           \
            s16[2 * g_] = vmlal_s8(s16[2 * g_], vget_low_s8(codes[c][1][g_]), yb_);                                    \
            s16[2 * g_ + 1] = vmlal_s8(s16[2 * g_ + 1], vget_high_s8(codes[c][1][g_]), yb_);                           \
        }                                                                                                              \
    } while (0)

AQ_TILE_INLINE void tile(size_t mr, const struct aq_x8_tile *t) {
    const uint8x16_t low_nibbles = vdupq_n_u8(0x0F);
    const block_q4_0x8 *x = (const block_q4_0x8 *)t->w;
    float32x4_t acc[MR][2];
    for (size_t i = 0; i < mr; i++) acc[i][0] = acc[i][1] = vdupq_n_f32(0.0f);
    for (size_t b = 0; b < t->n_blocks; b++) {
        int8x16_t codes[4][2][2]; /* chunk c, low (0) or high (1) nibbles, rows 4g .. 4g + 3 */
        for (size_t c = 0; c < 4; c++)
            for (size_t g = 0; g < 2; g++) {
                const uint8x16_t v = vld1q_u8(x[b].qs + 32 * c + 16 * g);
                codes[c][0][g] = vreinterpretq_s8_u8(vandq_u8(v, low_nibbles));
                codes[c][1][g] = vreinterpretq_s8_u8(vshrq_n_u8(v, 4));
            }
        const float32x4_t dx[2] = {vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(x[b].d))),
                                   vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(x[b].d + 4)))};
        for (size_t i = 0; i < mr; i++) {
            const block_q8_0 *y = (const block_q8_0 *)t->a[i] + b;
            const int8x16_t ylo = vld1q_s8(y->qs), yhi = vld1q_s8(y->qs + AQ_QK8_0 / 2);
            int16x8_t s16[4] = {vdupq_n_s16(0), vdupq_n_s16(0), vdupq_n_s16(0), vdupq_n_s16(0)};
            MLAL_CHUNK(s16, codes, ylo, yhi, 0);
            MLAL_CHUNK(s16, codes, ylo, yhi, 1);
            MLAL_CHUNK(s16, codes, ylo, yhi, 2);
            MLAL_CHUNK(s16, codes, ylo, yhi, 3);
            const int32x4_t bias = vdupq_n_s32(8 * ((int32_t)vaddlvq_s8(ylo) + (int32_t)vaddlvq_s8(yhi)));
            const float32x4_t dy = vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(y->d)));
            for (size_t g = 0; g < 2; g++) {
                const int32x4_t rows = vpaddq_s32(vpaddlq_s16(s16[2 * g]), vpaddlq_s16(s16[2 * g + 1]));
                const float32x4_t scale = vmulq_f32(dx[g], dy);
                const float32x4_t term = vmulq_f32(scale, vcvtq_f32_s32(vsubq_s32(rows, bias)));
                acc[i][g] = vaddq_f32(acc[i][g], term);
            }
        }
    }
    for (size_t i = 0; i < mr; i++) {
        vst1q_f32(t->out + i * t->out_stride, acc[i][0]);
        vst1q_f32(t->out + i * t->out_stride + 4, acc[i][1]);
    }
}

AQ_BLOCK_GEMM_X8_DEFINE(aq_q4_0x8_q8_0_gemm_4x8__neon, MR, AQ_QK4_0, tile)
