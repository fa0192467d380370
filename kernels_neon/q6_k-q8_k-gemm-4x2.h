/* q6_k-q8_k-gemm-4x2.h - the tile of the NEON Q6_K x Q8_K block GEMMs
 * (q6_k-q8_k-gemm-4x2-neon.c, -neondot.c): 4 tokens x 2 rows (1 x 8 in decode),
 * each output bit for bit aq_q6_k_q8_k_dot_ref. Per run of 32 elements (two
 * sub-blocks of 16), each row's codes q - 32 (int8) are assembled once for the
 * tile's tokens; per sub-block an exact int32 sum (q - 32) * y (aq_neon_dot16)
 * times its signed scale (MLA); reduced into 8 lanes, then per lane
 * (f32(d) * y.d) * (float) isum, added in block order (no fma). */
#include "block-gemm-neon.h"
#include "quant.h"

#define MR 4

/* Codes q - 32 of elements 32 j + l (l < 16: half = 0, else half = 1) of a half
 * (layout in quant.h). */
static inline int8x16_t q6_codes(const uint8_t *ql, const uint8_t *qh, size_t j, size_t half) {
    const uint8x16_t v = vld1q_u8(ql + 32 * (j % 2) + 16 * half), h = vld1q_u8(qh + 16 * half);
    const uint8x16_t low = j < 2 ? vandq_u8(v, vdupq_n_u8(0x0F)) : vshrq_n_u8(v, 4);
    uint8x16_t high; /* bits 2 j, 2 j + 1 of qh[l] at bits 4, 5 */
    switch (j) {
    case 0:
        high = vshlq_n_u8(h, 4);
        break;
    case 1:
        high = vshlq_n_u8(h, 2);
        break;
    case 2:
        high = h;
        break;
    default:
        high = vshrq_n_u8(h, 2);
        break;
    }
    const uint8x16_t q = vorrq_u8(low, vandq_u8(high, vdupq_n_u8(0x30)));
    return vsubq_s8(vreinterpretq_s8_u8(q), vdupq_n_s8(32));
}

AQ_TILE_INLINE void tile(size_t mr, const struct aq_block_tile *t) {
    const size_t nr = AQ_NEON_LANES / mr;
    float32x4_t acc[2] = {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)};
    for (size_t b = 0; b < t->n_blocks; b++) {
        const block_q6_K *x[AQ_NEON_LANES];
        const block_q8_K *a[MR];
        uint16_t xd[AQ_NEON_LANES];
        float yd[MR];
        int32x4_t isum[AQ_NEON_LANES];
        for (size_t i = 0; i < mr; i++) {
            a[i] = (const block_q8_K *)t->a[i] + b;
            yd[i] = a[i]->d;
        }
        for (size_t r = 0; r < nr; r++) {
            x[r] = (const block_q6_K *)t->w[r] + b;
            xd[r] = x[r]->d;
            for (size_t i = 0; i < mr; i++) isum[i * nr + r] = vdupq_n_s32(0);
        }
        for (size_t h = 0; h < 2; h++) {
            for (size_t j = 0; j < 4; j++) {
                for (size_t r = 0; r < nr; r++) {
                    const int8x16_t c0 = q6_codes(x[r]->ql + 64 * h, x[r]->qh + 32 * h, j, 0);
                    const int8x16_t c1 = q6_codes(x[r]->ql + 64 * h, x[r]->qh + 32 * h, j, 1);
                    /* Elements l < 16 are sub-block 8 h + 2 j, the others 8 h + 2 j + 1. */
                    const int32_t sc0 = x[r]->scales[8 * h + 2 * j], sc1 = x[r]->scales[8 * h + 2 * j + 1];
                    for (size_t i = 0; i < mr; i++) {
                        const int8_t *y = a[i]->qs + 128 * h + 32 * j;
                        const int32x4_t p0 = aq_neon_dot16(vdupq_n_s32(0), c0, vld1q_s8(y));
                        const int32x4_t p1 = aq_neon_dot16(vdupq_n_s32(0), c1, vld1q_s8(y + 16));
                        isum[i * nr + r] = vmlaq_n_s32(vmlaq_n_s32(isum[i * nr + r], p0, sc0), p1, sc1);
                    }
                }
            }
        }
        float32x4_t fd[2], fy[2], scale[2];
        aq_neon_f16_lanes(xd, nr, 1, fd);
        aq_neon_f32_token_lanes(yd, nr, fy);
        const int32x4_t is[2] = {aq_neon_reduce4(isum), aq_neon_reduce4(isum + 4)};
        for (size_t q = 0; q < 2; q++) scale[q] = vmulq_f32(fd[q], fy[q]);
        aq_neon_add_terms(acc, scale, is);
    }
    aq_neon_store_lanes(acc, mr, nr, t);
}
