/* q2_k.c - llama.cpp's Q2_K block format: dequantize (layout in quant.h). */
#include "f16.h"
#include "quant.h"

void aq_q2_k_dequantize_ref(const block_q2_K *in, size_t n, float *out) {
    const size_t n_blocks = n / AQ_QK_K;
    for (size_t b = 0; b < n_blocks; b++) {
        const block_q2_K *block = &in[b];
        const float d = aq_fp16_to_fp32(block->d);
        const float dmin = aq_fp16_to_fp32(block->dmin);
        float *y = out + b * AQ_QK_K;
        /* Sub-block k = 8 h + 2 j + part covers elements 16 k .. 16 k + 15 and reads
         * bits 2 j.. of qs[32 h + 16 part + l]. */
        for (size_t k = 0; k < AQ_QK_K / 16; k++) {
            const size_t h = k / 8, j = (k % 8) / 2, part = k % 2;
            const uint8_t *q = block->qs + 32 * h + 16 * part;
            /* As ggml: dl = d * sc, ml = dmin * m, value = dl * q - ml, each rounded. */
            const float dl = d * (float)(block->scales[k] & 0x0F);
            const float ml = dmin * (float)(block->scales[k] >> 4);
            for (size_t l = 0; l < 16; l++) {
                const float scaled = dl * (float)((q[l] >> (2 * j)) & 3);
                y[16 * k + l] = scaled - ml;
            }
        }
    }
}
