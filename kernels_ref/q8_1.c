/* q8_1.c - llama.cpp's Q8_1 activation format (the partner of Q4_1 and Q5_1
 * weights): quantize as ggml's quantize_row_q8_1_ref, and dequantize. */
#include <math.h>

#include "f16.h"
#include "quant.h"

void aq_q8_1_quantize_ref(const float *x, size_t n, block_q8_1 *out) {
    const size_t n_blocks = n / AQ_QK8_1;
    for (size_t b = 0; b < n_blocks; b++) {
        const float *xb = x + b * AQ_QK8_1;
        float amax = 0.0f;
        for (size_t j = 0; j < AQ_QK8_1; j++) {
            amax = fmaxf(amax, fabsf(xb[j]));
        }
        /* As Q8_0 (q8_0.c): the reciprocal of the unrounded d, roundf (ties away
         * from zero); only the stored d is f16. */
        const float d = amax / 127.0f;
        const float inverse_d = d != 0.0f ? 1.0f / d : 0.0f;
        out[b].d = aq_fp32_to_fp16(d);
        int32_t sum = 0;
        for (size_t j = 0; j < AQ_QK8_1; j++) {
            /* The clamp only keeps NaN/inf input defined (see q8_0.c). */
            const float level = roundf(xb[j] * inverse_d);
            out[b].qs[j] = (int8_t)fminf(fmaxf(level, -127.0f), 127.0f);
            sum += out[b].qs[j];
        }
        /* ggml: s = f16(sum * d) with the float d, not the f16 one; |sum| <= 4064
         * so (float) sum is exact and the product is rounded once before f16. */
        out[b].s = aq_fp32_to_fp16((float)sum * d);
    }
}

void aq_q8_1_dequantize_ref(const block_q8_1 *in, size_t n, float *out) {
    const size_t n_blocks = n / AQ_QK8_1;
    for (size_t b = 0; b < n_blocks; b++) {
        const float d = aq_fp16_to_fp32(in[b].d);
        for (size_t j = 0; j < AQ_QK8_1; j++) {
            out[b * AQ_QK8_1 + j] = (float)in[b].qs[j] * d;
        }
    }
}
