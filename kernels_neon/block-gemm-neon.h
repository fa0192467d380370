/* block-gemm-neon.h - what the NEON block GEMM tiles share (kernels_neon/
 * *-gemm-4x2.h, compiled once per ISA by *-gemm-4x2-neon.c and *-neondot.c): the
 * 8 lanes of a tile are the dot products (token t, row r) at lane t * nr + r
 * (block-gemm-loop.h), held in two float32x4; the one ISA difference, a 16-byte
 * int8 dot product into int32 lanes, is SDOT where the file is built with the dot
 * product extension (__ARM_FEATURE_DOTPROD) and SMULL + SADALP otherwise (int8
 * products fit int16, -128 * -128 included). Every helper is exact. */
#ifndef AQ_BLOCK_GEMM_NEON_H
#define AQ_BLOCK_GEMM_NEON_H

#include <arm_neon.h>
#include <stddef.h>
#include <stdint.h>

#include "block-gemm-loop.h"

#define AQ_NEON_LANES 8

/* acc + the sums of a * b over each group of 4 bytes (exact). */
static inline int32x4_t aq_neon_dot16(int32x4_t acc, int8x16_t a, int8x16_t b) {
#if defined(__ARM_FEATURE_DOTPROD)
    return vdotq_s32(acc, a, b);
#else
    acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(a), vget_low_s8(b)));
    return vpadalq_s16(acc, vmull_high_s8(a, b));
#endif
}

/* Lane i = the sum of s[i]'s four int32, for i < 4. */
static inline int32x4_t aq_neon_reduce4(const int32x4_t *s) {
    return vpaddq_s32(vpaddq_s32(s[0], s[1]), vpaddq_s32(s[2], s[3]));
}

/* Lanes 4 q .. 4 q + 3 (q = 0, 1) of: lane t * nr + r = f32(row[r]) (by_row) or
 * f32(token[t]) (!by_row), from halves. */
static inline void aq_neon_f16_lanes(const uint16_t *h, size_t nr, int by_row, float32x4_t out[2]) {
    uint16_t lanes[AQ_NEON_LANES];
    for (size_t l = 0; l < AQ_NEON_LANES; l++) lanes[l] = h[by_row ? l % nr : l / nr];
    out[0] = vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(lanes)));
    out[1] = vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(lanes + 4)));
}

/* The same for floats of the tokens. */
static inline void aq_neon_f32_token_lanes(const float *f, size_t nr, float32x4_t out[2]) {
    float lanes[AQ_NEON_LANES];
    for (size_t l = 0; l < AQ_NEON_LANES; l++) lanes[l] = f[l / nr];
    out[0] = vld1q_f32(lanes);
    out[1] = vld1q_f32(lanes + 4);
}

/* Stores lane t * nr + r to out[t * out_stride + r] for t < mr, r < t->nr. */
static inline void aq_neon_store_lanes(const float32x4_t acc[2], size_t mr, size_t nr, const struct aq_block_tile *t) {
    float lanes[AQ_NEON_LANES];
    vst1q_f32(lanes, acc[0]);
    vst1q_f32(lanes + 4, acc[1]);
    for (size_t i = 0; i < mr; i++)
        for (size_t r = 0; r < t->nr; r++) t->out[i * t->out_stride + r] = lanes[i * nr + r];
}

/* acc[q] = acc[q] + scale[q] * (float) isum[q], as two roundings (no fma). */
static inline void aq_neon_add_terms(float32x4_t acc[2], const float32x4_t scale[2], const int32x4_t isum[2]) {
    for (size_t q = 0; q < 2; q++) acc[q] = vaddq_f32(acc[q], vmulq_f32(scale[q], vcvtq_f32_s32(isum[q])));
}

#endif /* AQ_BLOCK_GEMM_NEON_H */
