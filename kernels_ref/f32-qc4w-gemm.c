#include <stdint.h>

#include "f16.h"
#include "quant.h"

#define MAX_GROUP 128

/* Dequantizes one group of a weight row once and applies it to every
 * activation row, so the unpacking is amortized over m. */
void aq_f32_qc4w_gemm_ref(size_t m, size_t n_begin, size_t n_end, const float *x, size_t x_stride,
                          const struct aq_q4w *w, float *out, size_t out_stride) {
    size_t groups = w->k / w->group;
    float wg[MAX_GROUP];
    for (size_t r = n_begin; r < n_end; r++) {
        for (size_t t = 0; t < m; t++) out[t * out_stride + r] = 0.0f;
        for (size_t g = 0; g < groups; g++) {
            const uint8_t *q = w->q + r * (w->k / 2) + g * (w->group / 2);
            int zero = w->zero ? w->zero[r * groups + g] : AQ_Q4W_SYMMETRIC_ZERO;
            float scale = aq_fp16_to_fp32(w->scale[r * groups + g]);
            for (size_t e = 0; e < w->group; e += 2) {
                wg[e] = scale * (float)((q[e / 2] & 0xF) - zero);
                wg[e + 1] = scale * (float)((q[e / 2] >> 4) - zero);
            }
            for (size_t t = 0; t < m; t++) {
                const float *xg = x + t * x_stride + g * w->group;
                float s = 0.0f;
                for (size_t e = 0; e < w->group; e++) s += wg[e] * xg[e];
                out[t * out_stride + r] += s;
            }
        }
    }
}
