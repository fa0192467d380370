/* q4_k.c - llama.cpp's Q4_K block format: dequantize (layout in quant.h). */
#include "block-unpack.h"
#include "f16.h"
#include "quant.h"

void aq_q4_k_dequantize_ref(const block_q4_K *in, size_t n, float *out) {
    const size_t n_blocks = n / AQ_QK_K;
    for (size_t b = 0; b < n_blocks; b++) {
        const block_q4_K *block = &in[b];
        const float d = aq_fp16_to_fp32(block->d);
        const float dmin = aq_fp16_to_fp32(block->dmin);
        float *y = out + b * AQ_QK_K;
        /* Sub-block k = 2 c + part: elements 32 k + l are the low (part 0) or high
         * (part 1) nibbles of qs[32 c + l]. */
        for (size_t k = 0; k < AQ_QK_K / 32; k++) {
            const uint8_t *q = block->qs + 32 * (k / 2);
            const unsigned shift = 4 * (unsigned)(k % 2);
            int32_t scale, min;
            aq_q4_k_scale_min(block->scales, k, &scale, &min);
            /* As ggml: dl = d * sc, ml = dmin * m, value = dl * q - ml, each rounded. */
            const float dl = d * (float)scale;
            const float ml = dmin * (float)min;
            for (size_t l = 0; l < 32; l++) {
                const float scaled = dl * (float)((q[l] >> shift) & 0x0F);
                y[32 * k + l] = scaled - ml;
            }
        }
    }
}
