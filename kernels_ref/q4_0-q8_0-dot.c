/* q4_0-q8_0-dot.c - dot product of Q4_0 weights with Q8_0 activations (reference).
 * Order of the float operations as specified in quant.h. */
#include "f16.h"
#include "quant.h"

float aq_q4_0_q8_0_dot_ref(size_t n, const block_q4_0 *x, const block_q8_0 *y) {
    const size_t n_blocks = n / AQ_QK8_0;
    float sumf = 0.0f;
    for (size_t b = 0; b < n_blocks; b++) {
        int32_t isum = 0;
        for (size_t j = 0; j < AQ_QK4_0 / 2; j++) {
            const int32_t low = (int32_t)(x[b].qs[j] & 0x0F) - 8;
            const int32_t high = (int32_t)(x[b].qs[j] >> 4) - 8;
            isum += low * y[b].qs[j];
            isum += high * y[b].qs[j + AQ_QK4_0 / 2];
        }
        /* Separate statements: the product must be rounded before the add. */
        const float block_scale = aq_fp16_to_fp32(x[b].d) * aq_fp16_to_fp32(y[b].d);
        const float term = block_scale * (float)isum;
        sumf = sumf + term;
    }
    return sumf;
}
