/* iq4_xs.c - llama.cpp's IQ4_XS block format: dequantize (layout in quant.h). */
#include "block-unpack.h"
#include "f16.h"
#include "quant.h"

void aq_iq4_xs_dequantize_ref(const block_iq4_xs *in, size_t n, float *out) {
    const size_t n_blocks = n / AQ_QK_K;
    for (size_t b = 0; b < n_blocks; b++) {
        const block_iq4_xs *block = &in[b];
        const float d = aq_fp16_to_fp32(block->d);
        for (size_t k = 0; k < AQ_QK_K / 32; k++) {
            const uint8_t *qs = block->qs + 16 * k;
            float *y = out + b * AQ_QK_K + 32 * k;
            /* As ggml: dl = d * (ls - 32), then dl * level; both exact here. */
            const float dl = d * (float)(aq_iq4_xs_scale(block, k) - 32);
            for (size_t j = 0; j < 16; j++) {
                y[j] = dl * (float)aq_iq4_nl_values[qs[j] & 0x0F];
                y[j + 16] = dl * (float)aq_iq4_nl_values[qs[j] >> 4];
            }
        }
    }
}
