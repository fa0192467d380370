/* x8-tile-neon.h - the NEON micro-tile of llama.cpp blocks repacked into groups of
 * 8 rows (kernels_ref/x8.h): up to MR tokens x the group's 8 rows (1 x 8 in
 * decode), each output bit for bit the layout's plain reference dot product. A
 * layout's header (q4_0x8-q8_0-gemm-4x8.h, q8_0x8-q8_0-gemm-4x8.h, compiled once
 * per ISA by its -neon.c and -neondot.c) defines, then includes this file:
 *
 *   X8_BLOCK                 the packed block type (uint16_t d[8], then qs)
 *   x8_unpack(qs, codes)     a block's quants into 16 int8x16_t, once per block
 *   x8_row_sums(codes, ylo, yhi, rows)
 *                            the exact int32 dot products of rows 0..3 (rows[0])
 *                            and 4..7 (rows[1]) with a token's 32 int8 codes
 *
 * The float part is common: per lane f32(dx) * f32(dy), times (float) isum, added
 * in block order (the reference's roundings, no fma). */
#ifndef AQ_X8_TILE_NEON_H
#define AQ_X8_TILE_NEON_H

#include <arm_neon.h>

#include "block-gemm-x8-loop.h"
#include "quant.h"

#define MR 4

AQ_TILE_INLINE void tile(size_t mr, const struct aq_x8_tile *t) {
    const X8_BLOCK *x = (const X8_BLOCK *)t->w;
    float32x4_t acc[MR][2];
    for (size_t i = 0; i < mr; i++) acc[i][0] = acc[i][1] = vdupq_n_f32(0.0f);
    for (size_t b = 0; b < t->n_blocks; b++) {
        int8x16_t codes[16];
        x8_unpack(x[b].qs, codes);
        const float32x4_t dx[2] = {vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(x[b].d))),
                                   vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(x[b].d + 4)))};
        for (size_t i = 0; i < mr; i++) {
            const block_q8_0 *y = (const block_q8_0 *)t->a[i] + b;
            int32x4_t rows[2];
            x8_row_sums(codes, vld1q_s8(y->qs), vld1q_s8(y->qs + AQ_QK8_0 / 2), rows);
            const float32x4_t dy = vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(y->d)));
            for (size_t g = 0; g < 2; g++) {
                const float32x4_t scale = vmulq_f32(dx[g], dy);
                const float32x4_t term = vmulq_f32(scale, vcvtq_f32_s32(rows[g]));
                acc[i][g] = vaddq_f32(acc[i][g], term);
            }
        }
    }
    for (size_t i = 0; i < mr; i++) {
        vst1q_f32(t->out + i * t->out_stride, acc[i][0]);
        vst1q_f32(t->out + i * t->out_stride + 4, acc[i][1]);
    }
}

#endif /* AQ_X8_TILE_NEON_H */
