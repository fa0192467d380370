/* q8_k.c - llama.cpp's Q8_K activation format (the partner of the K-quants and
 * IQ4_XS): quantize as ggml's quantize_row_q8_K_ref, and dequantize. */
#include <math.h>
#include <string.h>

#include "quant.h"

void aq_q8_k_quantize_ref(const float *x, size_t n, block_q8_K *out) {
    const size_t n_blocks = n / AQ_QK_K;
    for (size_t b = 0; b < n_blocks; b++) {
        const float *xb = x + b * AQ_QK_K;
        float amax = 0.0f;
        float signed_max = 0.0f;
        for (size_t j = 0; j < AQ_QK_K; j++) {
            if (fabsf(xb[j]) > amax) { /* strict: the first of equal magnitudes wins */
                amax = fabsf(xb[j]);
                signed_max = xb[j];
            }
        }
        if (amax == 0.0f) {
            out[b].d = 0.0f;
            memset(out[b].qs, 0, sizeof(out[b].qs));
            memset(out[b].bsums, 0, sizeof(out[b].bsums));
            continue;
        }
        /* ggml maps the largest element to -127 (so that IQ2_XXS's SIMD code can
         * use -127..127); d = 1 / iscale is negative when that element is. */
        const float iscale = -127.0f / signed_max;
        for (size_t j = 0; j < AQ_QK_K; j++) {
            /* ggml's nearest_int (x + 1.5 * 2^23, read the low bits) rounds half to
             * even, as nearbyintf does in the default rounding mode. |iscale * x| <=
             * 127 up to one rounding; the clamps keep NaN/inf input defined. */
            const float level = nearbyintf(iscale * xb[j]);
            out[b].qs[j] = (int8_t)fminf(fmaxf(level, -128.0f), 127.0f);
        }
        for (size_t g = 0; g < AQ_QK_K / 16; g++) {
            int32_t sum = 0;
            for (size_t j = 0; j < 16; j++) {
                sum += out[b].qs[16 * g + j];
            }
            out[b].bsums[g] = (int16_t)sum;
        }
        out[b].d = 1.0f / iscale;
    }
}

void aq_q8_k_dequantize_ref(const block_q8_K *in, size_t n, float *out) {
    const size_t n_blocks = n / AQ_QK_K;
    for (size_t b = 0; b < n_blocks; b++) {
        for (size_t j = 0; j < AQ_QK_K; j++) {
            out[b * AQ_QK_K + j] = in[b].d * (float)in[b].qs[j];
        }
    }
}
