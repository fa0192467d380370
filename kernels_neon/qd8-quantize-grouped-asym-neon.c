/* qd8-quantize-grouped-asym-neon.c - group-wise activation quantization with NEON,
 * each 4-bit group asymmetric, bit for bit aq_qd8_quantize_grouped_asym_ref with
 * every group at bits (8-bit groups symmetric, as there): lo = min(0, min x) and
 * hi = max(0, max x) by compare and select, x < lo ? x : lo and x > hi ? x : hi as
 * the reference, so a NaN is skipped (min and max are exact: the lanes' order does
 * not matter); then the reference's scalar scale and zero point and the codes
 * (qd8-group-neon.h). */
#include "qd8-group-neon.h"
#include "quant.h"
#include "ukernels.h"

/* A 4-bit group of n values, as the reference's quantize_run_asym. Each lane of
 * lo4 (hi4) is +0 or negative (positive): a -0 never replaces +0, so no lane
 * order can turn up a zero of another sign than the reference's. */
static float group_asym(const float *x, size_t n, int8_t *q) {
    float32x4_t lo4 = vdupq_n_f32(0.0f), hi4 = vdupq_n_f32(0.0f);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const float32x4_t v = vld1q_f32(x + i);
        lo4 = vbslq_f32(vcltq_f32(v, lo4), v, lo4);
        hi4 = vbslq_f32(vcgtq_f32(v, hi4), v, hi4);
    }
    float lo = vminvq_f32(lo4), hi = vmaxvq_f32(hi4);
    for (; i < n; i++) {
        lo = x[i] < lo ? x[i] : lo;
        hi = x[i] > hi ? x[i] : hi;
    }
    const float scale = (hi - lo) / 15.0f;
    if (scale == 0.0f) {
        memset(q, 0, n);
        return scale;
    }
    const float rounded_zero = nearbyintf(-lo / scale);
    const float zero = rounded_zero > 0.0f ? rounded_zero : 0.0f;
    aq_neon_group_codes(x, n, scale, -zero, 15.0f - zero, q);
    return scale;
}

bool aq_qd8_quantize_grouped_asym__neon(const float *x, size_t n_rows, size_t k, size_t x_stride, int bits,
                                        size_t group, struct aq_qd8 *out) {
    if ((bits != 8 && bits != 4) || group == 0 || k % group != 0) return false;
    const size_t groups = k / group;
    out->n_rows = n_rows;
    out->k = k;
    out->group = group;
    for (size_t t = 0; t < n_rows; t++) {
        for (size_t g = 0; g < groups; g++) {
            const float *run = x + t * x_stride + g * group;
            int8_t *codes = out->q + t * k + g * group;
            out->scale[t * groups + g] =
                bits == 4 ? group_asym(run, group, codes) : aq_neon_group_sym(run, group, -128.0f, 127.0f, codes);
        }
        out->zero[t] = 0;
    }
    return true;
}
