/* f16-row.c - F16 rows: widen to float (exact) and narrow from float (round to
 * nearest even), with f16.h's conversions. */
#include "f16.h"
#include "quant.h"

void aq_f16_dequantize_ref(const uint16_t *in, size_t n, float *out) {
    for (size_t i = 0; i < n; i++) {
        out[i] = aq_fp16_to_fp32(in[i]);
    }
}

void aq_f16_quantize_ref(const float *x, size_t n, uint16_t *out) {
    for (size_t i = 0; i < n; i++) {
        out[i] = aq_fp32_to_fp16(x[i]);
    }
}
