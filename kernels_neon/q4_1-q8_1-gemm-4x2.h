/* q4_1-q8_1-gemm-4x2.h - the tile of the NEON Q4_1 x Q8_1 block GEMMs
 * (q4_1-q8_1-gemm-4x2-neon.c, -neondot.c): 4 tokens x 2 rows (1 x 8 in decode),
 * each output bit for bit aq_q4_1_q8_1_dot_ref. Per block: each row's codes (0..15)
 * unpacked once for the tile's tokens, exact int32 block sums code * y by
 * aq_neon_dot16, reduced into 8 lanes; then per lane, as the reference:
 * t1 = (f32(dx) * f32(dy)) * (float) isum, t2 = f32(mx) * f32(sy), term = t1 + t2,
 * sum = sum + term, in block order (no fma). */
#include "block-gemm-neon.h"
#include "quant.h"

#define MR 4

AQ_TILE_INLINE void tile(size_t mr, const struct aq_block_tile *t) {
    const size_t nr = AQ_NEON_LANES / mr;
    const uint8x16_t low_nibbles = vdupq_n_u8(0x0F);
    float32x4_t acc[2] = {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)};
    for (size_t b = 0; b < t->n_blocks; b++) {
        int8x16_t y0[MR], y1[MR];
        int32x4_t s[AQ_NEON_LANES];
        uint16_t dx[AQ_NEON_LANES], mx[AQ_NEON_LANES], dy[MR], sy[MR];
        for (size_t i = 0; i < mr; i++) {
            const block_q8_1 *a = (const block_q8_1 *)t->a[i] + b;
            y0[i] = vld1q_s8(a->qs);
            y1[i] = vld1q_s8(a->qs + 16);
            dy[i] = a->d;
            sy[i] = a->s;
        }
        for (size_t r = 0; r < nr; r++) {
            const block_q4_1 *x = (const block_q4_1 *)t->w[r] + b;
            const uint8x16_t v = vld1q_u8(x->qs);
            const int8x16_t lo = vreinterpretq_s8_u8(vandq_u8(v, low_nibbles));
            const int8x16_t hi = vreinterpretq_s8_u8(vshrq_n_u8(v, 4));
            dx[r] = x->d;
            mx[r] = x->m;
            for (size_t i = 0; i < mr; i++)
                s[i * nr + r] = aq_neon_dot16(aq_neon_dot16(vdupq_n_s32(0), lo, y0[i]), hi, y1[i]);
        }
        float32x4_t fdx[2], fdy[2], fmx[2], fsy[2];
        aq_neon_f16_lanes(dx, nr, 1, fdx);
        aq_neon_f16_lanes(dy, nr, 0, fdy);
        aq_neon_f16_lanes(mx, nr, 1, fmx);
        aq_neon_f16_lanes(sy, nr, 0, fsy);
        const int32x4_t isum[2] = {aq_neon_reduce4(s), aq_neon_reduce4(s + 4)};
        for (size_t q = 0; q < 2; q++) {
            const float32x4_t scaled = vmulq_f32(vmulq_f32(fdx[q], fdy[q]), vcvtq_f32_s32(isum[q]));
            const float32x4_t offset = vmulq_f32(fmx[q], fsy[q]);
            acc[q] = vaddq_f32(acc[q], vaddq_f32(scaled, offset));
        }
    }
    aq_neon_store_lanes(acc, mr, nr, t);
}
