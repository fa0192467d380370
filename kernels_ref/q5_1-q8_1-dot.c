/* q5_1-q8_1-dot.c - dot product of Q5_1 weights with Q8_1 activations (reference).
 * Order of the float operations as specified in quant.h (as Q4_1 x Q8_1). */
#include "block-unpack.h"
#include "f16.h"
#include "quant.h"

float aq_q5_1_q8_1_dot_ref(size_t n, const block_q5_1 *x, const block_q8_1 *y) {
    const size_t n_blocks = n / AQ_QK8_1;
    float sumf = 0.0f;
    for (size_t b = 0; b < n_blocks; b++) {
        const uint32_t qh = aq_q5_high_bits(x[b].qh);
        int32_t isum = 0; /* |isum| <= 32 * 31 * 128 */
        for (size_t j = 0; j < AQ_QK5_1 / 2; j++) {
            const uint32_t low = (x[b].qs[j] & 0x0Fu) | ((qh >> j) & 1u) << 4;
            const uint32_t high = ((uint32_t)x[b].qs[j] >> 4) | ((qh >> (j + 16)) & 1u) << 4;
            isum += (int32_t)low * y[b].qs[j];
            isum += (int32_t)high * y[b].qs[j + AQ_QK5_1 / 2];
        }
        const float block_scale = aq_fp16_to_fp32(x[b].d) * aq_fp16_to_fp32(y[b].d);
        const float scaled = block_scale * (float)isum;
        const float offset = aq_fp16_to_fp32(x[b].m) * aq_fp16_to_fp32(y[b].s);
        const float term = scaled + offset;
        sumf = sumf + term;
    }
    return sumf;
}
