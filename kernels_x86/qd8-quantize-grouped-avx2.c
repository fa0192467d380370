/* qd8-quantize-grouped-avx2.c - group-wise symmetric INT8/INT4 activation
 * quantization with AVX2, bit for bit aq_qd8_quantize_grouped_ref: each run of
 * group features of each row quantized as aq_qd8_quantize_dynamic_ref quantizes a
 * row (qd8-group-avx2.h). */
#include "qd8-group-avx2.h"
#include "quant.h"
#include "ukernels.h"

bool aq_qd8_quantize_grouped__avx2(const float *x, size_t n_rows, size_t k, size_t x_stride, int bits, size_t group,
                                   struct aq_qd8 *out) {
    if ((bits != 8 && bits != 4) || group == 0 || k % group != 0) return false;
    const float lo = bits == 8 ? -128.0f : -8.0f, hi = bits == 8 ? 127.0f : 7.0f;
    const size_t groups = k / group;
    out->n_rows = n_rows;
    out->k = k;
    out->group = group;
    for (size_t t = 0; t < n_rows; t++) {
        for (size_t g = 0; g < groups; g++)
            out->scale[t * groups + g] =
                aq_avx2_group_sym(x + t * x_stride + g * group, group, lo, hi, out->q + t * k + g * group);
        out->zero[t] = 0;
    }
    return true;
}
