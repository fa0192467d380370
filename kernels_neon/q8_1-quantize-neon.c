/* q8_1-quantize-neon.c - llama.cpp's Q8_1 activations from floats, NEON: bit for
 * bit aq_q8_1_quantize_ref (as Q8_0, plus s = f16((float) sum(qs) * d) with the
 * unrounded d). */
#include "act-quantize-neon.h"
#include "f16.h"
#include "ukernels.h"

void aq_q8_1_quantize__neon(const float *x, size_t n, void *blocks) {
    block_q8_1 *out = blocks;
    for (size_t b = 0; b < n / AQ_QK8_1; b++) {
        const float d = aq_neon_q8_block32(x + b * AQ_QK8_1, out[b].qs);
        out[b].d = aq_fp32_to_fp16(d);
        /* The sum of the 32 codes: |sum| <= 4064, exact in int16 and in float. */
        const int32_t sum = vaddlvq_s8(vld1q_s8(out[b].qs)) + vaddlvq_s8(vld1q_s8(out[b].qs + 16));
        out[b].s = aq_fp32_to_fp16((float)sum * d);
    }
}
