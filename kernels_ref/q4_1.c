/* q4_1.c - llama.cpp's Q4_1 block format: dequantize (layout in quant.h). */
#include "f16.h"
#include "quant.h"

void aq_q4_1_dequantize_ref(const block_q4_1 *in, size_t n, float *out) {
    const size_t n_blocks = n / AQ_QK4_1;
    for (size_t b = 0; b < n_blocks; b++) {
        const float d = aq_fp16_to_fp32(in[b].d);
        const float m = aq_fp16_to_fp32(in[b].m);
        float *y = out + b * AQ_QK4_1;
        for (size_t j = 0; j < AQ_QK4_1 / 2; j++) {
            /* As ggml: q * d rounded, then + m (two statements, so never an fma). */
            const float low = (float)(in[b].qs[j] & 0x0F) * d;
            const float high = (float)(in[b].qs[j] >> 4) * d;
            y[j] = low + m;
            y[j + AQ_QK4_1 / 2] = high + m;
        }
    }
}
