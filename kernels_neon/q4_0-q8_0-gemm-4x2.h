/* q4_0-q8_0-gemm-4x2.h - the tile of the NEON Q4_0 x Q8_0 block GEMMs
 * (q4_0-q8_0-gemm-4x2-neon.c, -neondot.c): 4 tokens x 2 rows (1 x 8 in decode),
 * each output bit for bit aq_q4_0_q8_0_dot_ref. Per block: each row's codes - 8
 * (int8) are unpacked once for the tile's tokens; exact int32 block sums by
 * aq_neon_dot16, reduced into 8 lanes; per lane f32(dx) * f32(dy), times
 * (float) isum, added in block order (no fma). */
#include "block-gemm-neon.h"
#include "quant.h"

#define MR 4

AQ_TILE_INLINE void tile(size_t mr, const struct aq_block_tile *t) {
    const size_t nr = AQ_NEON_LANES / mr;
    const uint8x16_t low_nibbles = vdupq_n_u8(0x0F);
    const int8x16_t eight = vdupq_n_s8(8);
    float32x4_t acc[2] = {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)};
    for (size_t b = 0; b < t->n_blocks; b++) {
        int8x16_t y0[MR], y1[MR];
        int32x4_t s[AQ_NEON_LANES];
        uint16_t dx[AQ_NEON_LANES], dy[MR];
        for (size_t i = 0; i < mr; i++) {
            const block_q8_0 *a = (const block_q8_0 *)t->a[i] + b;
            y0[i] = vld1q_s8(a->qs);
            y1[i] = vld1q_s8(a->qs + 16);
            dy[i] = a->d;
        }
        for (size_t r = 0; r < nr; r++) {
            const block_q4_0 *x = (const block_q4_0 *)t->w[r] + b;
            const uint8x16_t v = vld1q_u8(x->qs);
            /* Elements 0..15 are the low nibbles, 16..31 the high ones. */
            const int8x16_t lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(v, low_nibbles)), eight);
            const int8x16_t hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(v, 4)), eight);
            dx[r] = x->d;
            for (size_t i = 0; i < mr; i++)
                s[i * nr + r] = aq_neon_dot16(aq_neon_dot16(vdupq_n_s32(0), lo, y0[i]), hi, y1[i]);
        }
        float32x4_t fx[2], fy[2], scale[2];
        aq_neon_f16_lanes(dx, nr, 1, fx);
        aq_neon_f16_lanes(dy, nr, 0, fy);
        const int32x4_t isum[2] = {aq_neon_reduce4(s), aq_neon_reduce4(s + 4)};
        for (size_t q = 0; q < 2; q++) scale[q] = vmulq_f32(fx[q], fy[q]);
        aq_neon_add_terms(acc, scale, isum);
    }
    aq_neon_store_lanes(acc, mr, nr, t);
}
