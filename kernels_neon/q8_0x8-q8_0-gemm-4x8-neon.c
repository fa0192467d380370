/* q8_0x8-q8_0-gemm-4x8-neon.c - llama.cpp Q8_0 weights repacked into groups of 8
 * rows (q8_0x8.h) x Q8_0 activations, plain NEON (no dot product): tiles of up to 4
 * tokens x the group's 8 rows (1 x 8 in decode), each output bit for bit
 * aq_q8_0_q8_0_dot_ref. Each 8-byte quarter of a chunk is 2 rows of 4 codes; SMULL
 * by the activations' 4 elements of the chunk, repeated, gives int16 products
 * (|x y| <= 16384, exact), SADALP adds their pairs into int32 (2 lanes a row), and
 * one pairwise add a block gives a lane per row. Then per lane f32(dx) * f32(dy),
 * times (float) isum, added in block order (no fma). */
#include <arm_neon.h>

#include "block-gemm-x8-loop.h"
#include "quant.h"

#define MR 4

/* The int32 pair sums of chunk c into s[q], quarter q = 2 g + half of codes[c][g]. */
#define MULL_CHUNK(s, codes, yv, c)                                                                                    \
    do {                                                                                                               \
        const int8x8_t y4_ = vreinterpret_s8_s32(vdup_laneq_s32(vreinterpretq_s32_s8(yv), (c) % 4));                   \
        for (size_t g_ = 0; g_ < 2; g_++) {                                                                            \
            s[2 * g_] = vpadalq_s16(s[2 * g_], vmull_s8(vget_low_s8(codes[c][g_]), y4_));                              \
            s[2 * g_ + 1] = vpadalq_s16(s[2 * g_ + 1], vmull_s8(vget_high_s8(codes[c][g_]), y4_));                     \
        }                                                                                                              \
    } while (0)

AQ_TILE_INLINE void tile(size_t mr, const struct aq_x8_tile *t) {
    const block_q8_0x8 *x = (const block_q8_0x8 *)t->w;
    float32x4_t acc[MR][2];
    for (size_t i = 0; i < mr; i++) acc[i][0] = acc[i][1] = vdupq_n_f32(0.0f);
    for (size_t b = 0; b < t->n_blocks; b++) {
        int8x16_t codes[8][2]; /* chunk c: rows 0..3, rows 4..7 */
        for (size_t c = 0; c < 8; c++) {
            codes[c][0] = vld1q_s8(x[b].qs + 32 * c);
            codes[c][1] = vld1q_s8(x[b].qs + 32 * c + 16);
        }
        const float32x4_t dx[2] = {vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(x[b].d))),
                                   vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(x[b].d + 4)))};
        for (size_t i = 0; i < mr; i++) {
            const block_q8_0 *y = (const block_q8_0 *)t->a[i] + b;
            const int8x16_t ylo = vld1q_s8(y->qs), yhi = vld1q_s8(y->qs + AQ_QK8_0 / 2);
            int32x4_t s[4] = {vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0)};
            MULL_CHUNK(s, codes, ylo, 0);
            MULL_CHUNK(s, codes, ylo, 1);
            MULL_CHUNK(s, codes, ylo, 2);
            MULL_CHUNK(s, codes, ylo, 3);
            MULL_CHUNK(s, codes, yhi, 4);
            MULL_CHUNK(s, codes, yhi, 5);
            MULL_CHUNK(s, codes, yhi, 6);
            MULL_CHUNK(s, codes, yhi, 7);
            const float32x4_t dy = vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(y->d)));
            for (size_t g = 0; g < 2; g++) {
                const int32x4_t rows = vpaddq_s32(s[2 * g], s[2 * g + 1]);
                const float32x4_t scale = vmulq_f32(dx[g], dy);
                const float32x4_t term = vmulq_f32(scale, vcvtq_f32_s32(rows));
                acc[i][g] = vaddq_f32(acc[i][g], term);
            }
        }
    }
    for (size_t i = 0; i < mr; i++) {
        vst1q_f32(t->out + i * t->out_stride, acc[i][0]);
        vst1q_f32(t->out + i * t->out_stride + 4, acc[i][1]);
    }
}

AQ_BLOCK_GEMM_X8_DEFINE(aq_q8_0x8_q8_0_gemm_4x8__neon, MR, AQ_QK8_0, tile)
