/* iq4_nl.c - llama.cpp's IQ4_NL block format: dequantize (layout in quant.h). */
#include "block-unpack.h"
#include "f16.h"
#include "quant.h"

void aq_iq4_nl_dequantize_ref(const block_iq4_nl *in, size_t n, float *out) {
    const size_t n_blocks = n / AQ_QK4_NL;
    for (size_t b = 0; b < n_blocks; b++) {
        const float d = aq_fp16_to_fp32(in[b].d);
        float *y = out + b * AQ_QK4_NL;
        for (size_t j = 0; j < AQ_QK4_NL / 2; j++) {
            /* d * level: exact (11-bit times 7-bit). */
            y[j] = d * (float)aq_iq4_nl_values[in[b].qs[j] & 0x0F];
            y[j + AQ_QK4_NL / 2] = d * (float)aq_iq4_nl_values[in[b].qs[j] >> 4];
        }
    }
}
