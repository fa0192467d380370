/* qd4-qc4w-gemm.c - packed INT4 activations x INT4 group-wise weights -> f32
 * (reference). Same arithmetic as aq_qd8_qc4w_gemm_ref (see quant.h); only the
 * activation codes come from signed nibbles. */
#include <math.h>

#include "f16.h"
#include "quant.h"

/* Sign-extends a two's complement nibble: 0..7 stay, 8..15 become -8..-1. */
static int32_t signed_nibble(uint8_t nibble) {
    return (int32_t) (nibble ^ 0x8u) - 8;
}

void aq_qd4_qc4w_gemm_ref(size_t m, size_t n_begin, size_t n_end,
                          const struct aq_qd4 *a, const struct aq_q4w *w,
                          float *out, size_t out_stride) {
    const size_t k = w->k;
    const size_t group = w->group;
    const size_t groups_per_row = k / group;
    for (size_t t = 0; t < m; t++) {
        const uint8_t *qa = a->q + t * (a->k / 2);
        const int32_t za = a->zero[t];
        for (size_t r = n_begin; r < n_end; r++) {
            const uint8_t *qw = w->q + r * (k / 2);
            float acc = 0.0f;
            for (size_t g = 0; g < groups_per_row; g++) {
                const size_t group_index = r * groups_per_row + g;
                const int32_t zw = w->zero != NULL ? w->zero[group_index] : AQ_Q4W_SYMMETRIC_ZERO;
                int32_t isum = 0;
                for (size_t e = g * group; e < (g + 1) * group; e++) {
                    const uint8_t w_byte = qw[e / 2];
                    const uint8_t a_byte = qa[e / 2];
                    const int32_t w_code = (e & 1) ? (w_byte >> 4) : (w_byte & 0x0F);
                    const int32_t a_code = signed_nibble((e & 1) ? (uint8_t) (a_byte >> 4) : (uint8_t) (a_byte & 0x0F));
                    isum += (w_code - zw) * (a_code - za);
                }
                const float group_scale = aq_fp16_to_fp32(w->scale[group_index]) * a->scale[t];
                acc = fmaf(group_scale, (float) isum, acc);
            }
            out[t * out_stride + r] = acc;
        }
    }
}
