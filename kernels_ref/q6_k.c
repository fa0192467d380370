/* q6_k.c - llama.cpp's Q6_K block format: dequantize (layout in quant.h). */
#include "f16.h"
#include "quant.h"

void aq_q6_k_dequantize_ref(const block_q6_K *in, size_t n, float *out) {
    const size_t n_blocks = n / AQ_QK_K;
    for (size_t b = 0; b < n_blocks; b++) {
        const block_q6_K *block = &in[b];
        const float d = aq_fp16_to_fp32(block->d);
        for (size_t h = 0; h < 2; h++) {
            const uint8_t *ql = block->ql + 64 * h;
            const uint8_t *qh = block->qh + 32 * h;
            const int8_t *sc = block->scales + 8 * h;
            float *y = out + b * AQ_QK_K + 128 * h;
            /* Quarter r (0..3) of the half: elements 32 r + l take the low (r < 2) or
             * high nibble of ql[l + 32 (r % 2)] and bits 2 r.. of qh[l]; scale
             * sc[l / 16 + 2 r]. */
            for (size_t r = 0; r < 4; r++) {
                const unsigned shift = 4 * (unsigned)(r / 2);
                for (size_t l = 0; l < 32; l++) {
                    const int32_t level = ((ql[l + 32 * (r % 2)] >> shift) & 0x0F) | ((qh[l] >> (2 * r)) & 3) << 4;
                    /* As ggml: (d * sc) * (q - 32); both products exact (at most 24
                     * significant bits), so the order matters only for show. */
                    const float dl = d * (float)sc[l / 16 + 2 * r];
                    y[32 * r + l] = dl * (float)(level - 32);
                }
            }
        }
    }
}
