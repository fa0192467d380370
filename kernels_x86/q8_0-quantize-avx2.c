/* q8_0-quantize-avx2.c - llama.cpp's Q8_0 activations from floats, AVX2: bit for
 * bit aq_q8_0_quantize_ref (roundf of x * (1 / d), ties away from zero). */
#include "act-quantize-avx2.h"
#include "f16.h"
#include "ukernels.h"

void aq_q8_0_quantize__avx2(const float *x, size_t n, void *blocks) {
    block_q8_0 *out = blocks;
    for (size_t b = 0; b < n / AQ_QK8_0; b++) {
        const float d = aq_avx2_q8_block32(x + b * AQ_QK8_0, out[b].qs);
        out[b].d = aq_fp32_to_fp16(d);
    }
}
