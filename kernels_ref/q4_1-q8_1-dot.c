/* q4_1-q8_1-dot.c - dot product of Q4_1 weights with Q8_1 activations (reference).
 * Order of the float operations as specified in quant.h. */
#include "f16.h"
#include "quant.h"

float aq_q4_1_q8_1_dot_ref(size_t n, const block_q4_1 *x, const block_q8_1 *y) {
    const size_t n_blocks = n / AQ_QK8_1;
    float sumf = 0.0f;
    for (size_t b = 0; b < n_blocks; b++) {
        int32_t isum = 0; /* |isum| <= 32 * 15 * 128 */
        for (size_t j = 0; j < AQ_QK4_1 / 2; j++) {
            isum += (int32_t)(x[b].qs[j] & 0x0F) * y[b].qs[j];
            isum += (int32_t)(x[b].qs[j] >> 4) * y[b].qs[j + AQ_QK4_1 / 2];
        }
        /* sum_j (q_j d + m) a_j d_a = d d_a isum + m * (d_a sum_j a_j), and the
         * activation block carries d_a * sum a_j as s. Both products of halves are
         * exact; the two rounded terms are added, then the block term to sumf. */
        const float block_scale = aq_fp16_to_fp32(x[b].d) * aq_fp16_to_fp32(y[b].d);
        const float scaled = block_scale * (float)isum;
        const float offset = aq_fp16_to_fp32(x[b].m) * aq_fp16_to_fp32(y[b].s);
        const float term = scaled + offset;
        sumf = sumf + term;
    }
    return sumf;
}
