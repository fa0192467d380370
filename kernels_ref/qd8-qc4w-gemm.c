/* qd8-qc4w-gemm.c - INT8 activations x INT4 group-wise weights -> f32 (reference).
 * The answer key for the SIMD twins: the arithmetic order is specified in quant.h
 * and followed literally here. */
#include <math.h>

#include "f16.h"
#include "quant.h"

void aq_qd8_qc4w_gemm_ref(size_t m, size_t n_begin, size_t n_end, const struct aq_qd8 *a, const struct aq_q4w *w,
                          float *out, size_t out_stride) {
    const size_t k = w->k;
    const size_t group = w->group;
    const size_t groups_per_row = k / group;
    for (size_t t = 0; t < m; t++) {
        const int8_t *qa = a->q + t * a->k;
        const int32_t za = a->zero[t];
        for (size_t r = n_begin; r < n_end; r++) {
            const uint8_t *qw = w->q + r * (k / 2);
            float acc = 0.0f;
            for (size_t g = 0; g < groups_per_row; g++) {
                const size_t group_index = r * groups_per_row + g;
                const int32_t zw = w->zero != NULL ? w->zero[group_index] : AQ_Q4W_SYMMETRIC_ZERO;
                int32_t isum = 0;
                for (size_t e = g * group; e < (g + 1) * group; e++) {
                    const uint8_t byte = qw[e / 2];
                    const int32_t code = (e & 1) ? (byte >> 4) : (byte & 0x0F);
                    isum += (code - zw) * ((int32_t)qa[e] - za);
                }
                /* One rounding for the combined scale, one (fused) for the add. */
                const float group_scale =
                    aq_fp16_to_fp32(w->scale[group_index]) * a->scale[aq_qd8_scale_index(a, t, g * group)];
                acc = fmaf(group_scale, (float)isum, acc);
            }
            out[t * out_stride + r] = acc;
        }
    }
}
