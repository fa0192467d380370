/* q4_0.c - llama.cpp's Q4_0 block format: quantize (ggml's reference rounding) and
 * dequantize. */
#include <math.h>

#include "f16.h"
#include "quant.h"

void aq_q4_0_quantize_ref(const float *x, size_t n, block_q4_0 *out) {
    const size_t n_blocks = n / AQ_QK4_0;
    for (size_t b = 0; b < n_blocks; b++) {
        const float *xb = x + b * AQ_QK4_0;
        float amax = 0.0f;
        float signed_max = 0.0f;
        for (size_t j = 0; j < AQ_QK4_0; j++) {
            if (amax < fabsf(xb[j])) {
                amax = fabsf(xb[j]);
                signed_max = xb[j];
            }
        }
        /* As ggml: the reciprocal of the unrounded d; only the stored d is f16. */
        const float d = signed_max / -8.0f;
        const float inverse_d = d != 0.0f ? 1.0f / d : 0.0f;
        out[b].d = aq_fp32_to_fp16(d);
        for (size_t j = 0; j < AQ_QK4_0 / 2; j++) {
            uint8_t nibbles[2];
            for (size_t half = 0; half < 2; half++) {
                /* ggml: MIN(15, (int8_t) (x * id + 8.5f)); truncation of a value
                 * >= 0 rounds half up. Separate statements keep it unfused. The
                 * lower clamp only guards NaN/inf input against an undefined
                 * float-to-int conversion; for finite x, x * id >= -8. */
                const float scaled = xb[j + half * (AQ_QK4_0 / 2)] * inverse_d;
                const float shifted = scaled + 8.5f;
                nibbles[half] = (uint8_t)fminf(fmaxf(shifted, 0.0f), 15.0f);
            }
            out[b].qs[j] = (uint8_t)(nibbles[0] | (nibbles[1] << 4));
        }
    }
}

void aq_q4_0_dequantize_ref(const block_q4_0 *in, size_t n, float *out) {
    const size_t n_blocks = n / AQ_QK4_0;
    for (size_t b = 0; b < n_blocks; b++) {
        const float d = aq_fp16_to_fp32(in[b].d);
        for (size_t j = 0; j < AQ_QK4_0 / 2; j++) {
            out[b * AQ_QK4_0 + j] = (float)((in[b].qs[j] & 0x0F) - 8) * d;
            out[b * AQ_QK4_0 + j + AQ_QK4_0 / 2] = (float)((in[b].qs[j] >> 4) - 8) * d;
        }
    }
}
