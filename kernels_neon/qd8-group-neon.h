/* qd8-group-neon.h - what the NEON group-wise qd8 quantizers share
 * (qd8-quantize-grouped-neon.c, qd8-quantize-grouped-asym-neon.c): a group's codes
 * from its scale and code range, and a symmetric group whole, each bit for bit the
 * reference's (kernels_ref/qd8-quantize.c). Groups of any length: 32 lanes at a
 * time, then 4, then the reference's own scalar arithmetic. Every comparison is a
 * compare and select in the reference's operand order: FMAX/FMIN would propagate
 * a NaN, and FMAXNM/FMINNM a signalling one. */
#ifndef AQ_QD8_GROUP_NEON_H
#define AQ_QD8_GROUP_NEON_H

#include <arm_neon.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "act-quantize-neon.h"

/* The reference's clamp, for the tails. */
static inline int8_t aq_neon_clamp_code(float level, float lo, float hi) {
    const float above = level > lo ? level : lo;
    return (int8_t)(above < hi ? above : hi);
}

/* clamp(nearbyintf(x / scale), lo, hi) per lane: a true division, FRINTI in the
 * current rounding mode as nearbyintf, then level > lo ? level : lo and above < hi
 * ? above : hi (a NaN level goes to lo, as in the reference). */
static inline float32x4_t aq_neon_group_levels(const float *x, float32x4_t scale, float32x4_t lo, float32x4_t hi) {
    const float32x4_t level = vrndiq_f32(vdivq_f32(vld1q_f32(x), scale));
    const float32x4_t above = vbslq_f32(vcgtq_f32(level, lo), level, lo);
    return vbslq_f32(vcltq_f32(above, hi), above, hi);
}

/* The n codes clamp(nearbyintf(x / scale), lo, hi) of a group into q. */
static inline void aq_neon_group_codes(const float *x, size_t n, float scale, float lo, float hi, int8_t *q) {
    const float32x4_t scale4 = vdupq_n_f32(scale), lo4 = vdupq_n_f32(lo), hi4 = vdupq_n_f32(hi);
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        float32x4_t v[8];
        for (int j = 0; j < 8; j++) v[j] = aq_neon_group_levels(x + i + 4 * j, scale4, lo4, hi4);
        aq_neon_store_i8x32(v, q + i);
    }
    for (; i + 4 <= n; i += 4) {
        const int16x4_t words = vmovn_s32(vcvtq_s32_f32(aq_neon_group_levels(x + i, scale4, lo4, hi4)));
        const int32_t codes = vget_lane_s32(vreinterpret_s32_s8(vmovn_s16(vcombine_s16(words, words))), 0);
        memcpy(q + i, &codes, sizeof codes);
    }
    for (; i < n; i++) q[i] = aq_neon_clamp_code(nearbyintf(x[i] / scale), lo, hi);
}

/* A symmetric group of n values, as the reference's quantize_run: amax = max |x|
 * (a NaN magnitude fails the comparison and is skipped; max is exact, so the
 * lanes' order does not matter), scale = amax / hi (IEEE division), the codes,
 * all 0 where the scale is 0. Returns the scale. */
static inline float aq_neon_group_sym(const float *x, size_t n, float lo, float hi, int8_t *q) {
    float32x4_t amax4 = vdupq_n_f32(0.0f);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const float32x4_t magnitude = vabsq_f32(vld1q_f32(x + i));
        amax4 = vbslq_f32(vcgtq_f32(magnitude, amax4), magnitude, amax4);
    }
    float amax = vmaxvq_f32(amax4);
    for (; i < n; i++) {
        const float magnitude = fabsf(x[i]);
        amax = magnitude > amax ? magnitude : amax;
    }
    const float scale = amax / hi;
    if (scale == 0.0f)
        memset(q, 0, n);
    else
        aq_neon_group_codes(x, n, scale, lo, hi, q);
    return scale;
}

#endif /* AQ_QD8_GROUP_NEON_H */
