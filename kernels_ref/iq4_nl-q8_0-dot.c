/* iq4_nl-q8_0-dot.c - dot product of IQ4_NL weights with Q8_0 activations
 * (reference). Order of the float operations as specified in quant.h (as
 * Q4_0 x Q8_0). */
#include "block-unpack.h"
#include "f16.h"
#include "quant.h"

float aq_iq4_nl_q8_0_dot_ref(size_t n, const block_iq4_nl *x, const block_q8_0 *y) {
    const size_t n_blocks = n / AQ_QK8_0;
    float sumf = 0.0f;
    for (size_t b = 0; b < n_blocks; b++) {
        int32_t isum = 0; /* |isum| <= 32 * 127 * 128 */
        for (size_t j = 0; j < AQ_QK4_NL / 2; j++) {
            isum += (int32_t)aq_iq4_nl_values[x[b].qs[j] & 0x0F] * y[b].qs[j];
            isum += (int32_t)aq_iq4_nl_values[x[b].qs[j] >> 4] * y[b].qs[j + AQ_QK4_NL / 2];
        }
        const float block_scale = aq_fp16_to_fp32(x[b].d) * aq_fp16_to_fp32(y[b].d);
        const float term = block_scale * (float)isum;
        sumf = sumf + term;
    }
    return sumf;
}
