/* act-quantize-neon.h - the block of 32 that the NEON Q8_0 and Q8_1 activation
 * quantizers share (q8_0-quantize-neon.c, q8_1-quantize-neon.c): bit for bit
 * llama.cpp's reference rounding as aq_q8_0_quantize_ref does it (FRINTA is
 * roundf: to nearest, ties away from zero). */
#ifndef AQ_ACT_QUANTIZE_NEON_H
#define AQ_ACT_QUANTIZE_NEON_H

#include <arm_neon.h>
#include <stdint.h>

/* Eight vectors of 4 integral floats in [-128, 127] to 32 int8 in order. */
static inline void aq_neon_store_i8x32(const float32x4_t v[8], int8_t *qs) {
    for (int h = 0; h < 2; h++) {
        const int16x8_t a = vcombine_s16(vmovn_s32(vcvtq_s32_f32(v[4 * h])), vmovn_s32(vcvtq_s32_f32(v[4 * h + 1])));
        const int16x8_t b =
            vcombine_s16(vmovn_s32(vcvtq_s32_f32(v[4 * h + 2])), vmovn_s32(vcvtq_s32_f32(v[4 * h + 3])));
        vst1q_s8(qs + 16 * h, vcombine_s8(vmovn_s16(a), vmovn_s16(b)));
    }
}

/* One block of 32 as quantize_row_q8_0_ref: amax = max |x|; d = amax / 127;
 * id = d ? 1 / d : 0; qs = clamp(roundf(x * id), -127, 127). Returns d (float,
 * unrounded); writes qs. */
static inline float aq_neon_q8_block32(const float *x, int8_t *qs) {
    float32x4_t v[8];
    float32x4_t amax = vdupq_n_f32(0.0f);
    for (int i = 0; i < 8; i++) {
        v[i] = vld1q_f32(x + 4 * i);
        amax = vmaxq_f32(amax, vabsq_f32(v[i]));
    }
    const float d = vmaxvq_f32(amax) / 127.0f;
    const float inverse_d = d != 0.0f ? 1.0f / d : 0.0f;
    const float32x4_t lo = vdupq_n_f32(-127.0f), hi = vdupq_n_f32(127.0f);
    for (int i = 0; i < 8; i++) v[i] = vminq_f32(vmaxq_f32(vrndaq_f32(vmulq_n_f32(v[i], inverse_d)), lo), hi);
    aq_neon_store_i8x32(v, qs);
    return d;
}

#endif /* AQ_ACT_QUANTIZE_NEON_H */
