/* qd8-quantize-neon.c - dynamic per-row INT8/INT4 activation quantization with NEON,
 * bit for bit aq_qd8_quantize_dynamic_ref: amax = max |x| (a NaN skipped: compare
 * and select, as the reference; max is exact, so the lanes' order does not matter),
 * scale = amax / qmax, each code nearbyintf(x / scale) (FRINTI rounds in the current
 * mode, as nearbyintf), clamped to [qmin, qmax] by compare and select, a NaN going to
 * qmin as in the reference (FMAX/FMIN would propagate it). */
#include <arm_neon.h>
#include <math.h>
#include <string.h>

#include "act-quantize-neon.h"
#include "quant.h"

/* The reference's clamp, for the tail. */
static int8_t clamp_code(float level, float lo, float hi) {
    const float above = level > lo ? level : lo;
    return (int8_t)(above < hi ? above : hi);
}

bool aq_qd8_quantize__neon(const float *x, size_t n_rows, size_t k, size_t x_stride, int bits, struct aq_qd8 *out) {
    if (bits != 8 && bits != 4) return false;
    const float lo = bits == 8 ? -128.0f : -8.0f, hi = bits == 8 ? 127.0f : 7.0f;
    out->n_rows = n_rows;
    out->k = k;
    for (size_t t = 0; t < n_rows; t++) {
        const float *row = x + t * x_stride;
        int8_t *q = out->q + t * k;
        float32x4_t amax4 = vdupq_n_f32(0.0f);
        size_t i = 0;
        for (; i + 4 <= k; i += 4) {
            const float32x4_t magnitude = vabsq_f32(vld1q_f32(row + i));
            amax4 = vbslq_f32(vcgtq_f32(magnitude, amax4), magnitude, amax4);
        }
        float amax = vmaxvq_f32(amax4);
        for (; i < k; i++) {
            const float magnitude = fabsf(row[i]);
            amax = magnitude > amax ? magnitude : amax;
        }
        const float scale = amax / hi;
        out->scale[t] = scale;
        out->zero[t] = 0;
        if (scale == 0.0f) {
            memset(q, 0, k);
            continue;
        }
        const float32x4_t scale4 = vdupq_n_f32(scale), lo4 = vdupq_n_f32(lo), hi4 = vdupq_n_f32(hi);
        for (i = 0; i + 32 <= k; i += 32) {
            float32x4_t v[8];
            for (int j = 0; j < 8; j++) {
                const float32x4_t level = vrndiq_f32(vdivq_f32(vld1q_f32(row + i + 4 * j), scale4));
                const float32x4_t above = vbslq_f32(vcgtq_f32(level, lo4), level, lo4);
                v[j] = vbslq_f32(vcltq_f32(above, hi4), above, hi4);
            }
            aq_neon_store_i8x32(v, q + i);
        }
        for (; i < k; i++) q[i] = clamp_code(nearbyintf(row[i] / scale), lo, hi);
    }
    return true;
}
