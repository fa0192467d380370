/* qd8-qc3w-gemm.c - INT8 activations x 3-bit group-wise weights -> f32 (reference).
 * The answer key of the qc3w kernels; arithmetic as specified in quant.h. */
#include <math.h>

#include "f16.h"
#include "quant.h"

/* The zero point of the 3-bit code c = q - AQ_Q3W_CODE_MIN. */
#define Q3W_CODE_ZERO 4

void aq_qd8_qc3w_gemm_ref(size_t m, size_t n_begin, size_t n_end, const struct aq_qd8 *a, const struct aq_q4w *w,
                          float *out, size_t out_stride) {
    const size_t k = w->k, group = w->group, groups_per_row = k / group;
    for (size_t t = 0; t < m; t++) {
        const int8_t *qa = a->q + t * a->k;
        const int32_t za = a->zero[t];
        for (size_t r = n_begin; r < n_end; r++) {
            const uint8_t *qw = w->q + r * (k / 2);
            float acc = 0.0f;
            for (size_t g = 0; g < groups_per_row; g++) {
                int32_t isum = 0;
                for (size_t e = g * group; e < (g + 1) * group; e++) {
                    const uint8_t byte = qw[e / 2];
                    const int32_t c = ((e & 1) ? (byte >> 4) : (byte & 0x0F)) - AQ_Q3W_CODE_MIN;
                    isum += (c - Q3W_CODE_ZERO) * ((int32_t)qa[e] - za);
                }
                const float group_scale =
                    aq_fp16_to_fp32(w->scale[r * groups_per_row + g]) * a->scale[aq_qd8_scale_index(a, t, g * group)];
                acc = fmaf(group_scale, (float)isum, acc);
            }
            out[t * out_stride + r] = acc;
        }
    }
}
