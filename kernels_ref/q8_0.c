/* q8_0.c - llama.cpp's Q8_0 block format: quantize (ggml's reference rounding) and
 * dequantize. */
#include <math.h>

#include "f16.h"
#include "quant.h"

void aq_q8_0_quantize_ref(const float *x, size_t n, block_q8_0 *out) {
    const size_t n_blocks = n / AQ_QK8_0;
    for (size_t b = 0; b < n_blocks; b++) {
        const float *xb = x + b * AQ_QK8_0;
        float amax = 0.0f;
        for (size_t j = 0; j < AQ_QK8_0; j++) {
            amax = fmaxf(amax, fabsf(xb[j]));
        }
        /* As ggml: the reciprocal of the unrounded d; roundf (ties away from 0). */
        const float d = amax / 127.0f;
        const float inverse_d = d != 0.0f ? 1.0f / d : 0.0f;
        out[b].d = aq_fp32_to_fp16(d);
        for (size_t j = 0; j < AQ_QK8_0; j++) {
            /* |x * id| <= 127 for finite x (up to one rounding, which roundf
             * absorbs); the clamp only keeps NaN/inf input defined. */
            const float level = roundf(xb[j] * inverse_d);
            out[b].qs[j] = (int8_t)fminf(fmaxf(level, -127.0f), 127.0f);
        }
    }
}

void aq_q8_0_dequantize_ref(const block_q8_0 *in, size_t n, float *out) {
    const size_t n_blocks = n / AQ_QK8_0;
    for (size_t b = 0; b < n_blocks; b++) {
        const float d = aq_fp16_to_fp32(in[b].d);
        for (size_t j = 0; j < AQ_QK8_0; j++) {
            out[b * AQ_QK8_0 + j] = (float)in[b].qs[j] * d;
        }
    }
}
