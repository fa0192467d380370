/* q3_k.c - llama.cpp's Q3_K block format: dequantize (layout in quant.h). */
#include "block-unpack.h"
#include "f16.h"
#include "quant.h"

void aq_q3_k_dequantize_ref(const block_q3_K *in, size_t n, float *out) {
    const size_t n_blocks = n / AQ_QK_K;
    for (size_t b = 0; b < n_blocks; b++) {
        const block_q3_K *block = &in[b];
        const float d = aq_fp16_to_fp32(block->d);
        float *y = out + b * AQ_QK_K;
        /* Sub-block k = 8 h + 2 j + part: elements 16 k + l read byte
         * 16 part + l of the run qs + 32 h (bits 2 j..) and of hmask (bit 4 h + j). */
        for (size_t k = 0; k < AQ_QK_K / 16; k++) {
            const size_t h = k / 8, j = (k % 8) / 2, part = k % 2;
            const uint8_t *q = block->qs + 32 * h + 16 * part;
            const uint8_t *hm = block->hmask + 16 * part;
            /* dl = d * (s - 32): exact (11-bit times 6-bit); value = dl * q, exact. */
            const float dl = d * (float)(aq_q3_k_scale(block->scales, k) - 32);
            for (size_t l = 0; l < 16; l++) {
                const int32_t low = (q[l] >> (2 * j)) & 3;
                const int32_t high_set = (hm[l] >> (4 * h + j)) & 1;
                y[16 * k + l] = dl * (float)(high_set ? low : low - 4);
            }
        }
    }
}
