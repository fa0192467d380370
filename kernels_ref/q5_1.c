/* q5_1.c - llama.cpp's Q5_1 block format: dequantize (layout in quant.h). */
#include "block-unpack.h"
#include "f16.h"
#include "quant.h"

void aq_q5_1_dequantize_ref(const block_q5_1 *in, size_t n, float *out) {
    const size_t n_blocks = n / AQ_QK5_1;
    for (size_t b = 0; b < n_blocks; b++) {
        const float d = aq_fp16_to_fp32(in[b].d);
        const float m = aq_fp16_to_fp32(in[b].m);
        const uint32_t qh = aq_q5_high_bits(in[b].qh);
        float *y = out + b * AQ_QK5_1;
        for (size_t j = 0; j < AQ_QK5_1 / 2; j++) {
            const uint32_t low = (in[b].qs[j] & 0x0Fu) | ((qh >> j) & 1u) << 4;
            const uint32_t high = ((uint32_t)in[b].qs[j] >> 4) | ((qh >> (j + 16)) & 1u) << 4;
            /* As ggml: q * d rounded, then + m (two statements, so never an fma). */
            const float low_scaled = (float)low * d;
            const float high_scaled = (float)high * d;
            y[j] = low_scaled + m;
            y[j + AQ_QK5_1 / 2] = high_scaled + m;
        }
    }
}
