/* q8_0-q8_0-dot.c - dot product of two Q8_0 vectors (reference). Order of the float
 * operations as specified in quant.h. */
#include "f16.h"
#include "quant.h"

float aq_q8_0_q8_0_dot_ref(size_t n, const block_q8_0 *x, const block_q8_0 *y) {
    const size_t n_blocks = n / AQ_QK8_0;
    float sumf = 0.0f;
    for (size_t b = 0; b < n_blocks; b++) {
        int32_t isum = 0;
        for (size_t j = 0; j < AQ_QK8_0; j++) {
            isum += (int32_t)x[b].qs[j] * y[b].qs[j];
        }
        const float block_scale = aq_fp16_to_fp32(x[b].d) * aq_fp16_to_fp32(y[b].d);
        const float term = block_scale * (float)isum;
        sumf = sumf + term;
    }
    return sumf;
}
