/* q4w-dequantize.c - INT4 group-wise weights back to float (reference). */
#include "f16.h"
#include "quant.h"

void aq_q4w_dequantize_ref(const struct aq_q4w *w, float *out) {
    const size_t groups_per_row = w->k / w->group;
    for (size_t r = 0; r < w->n_rows; r++) {
        const uint8_t *packed_row = w->q + r * (w->k / 2);
        for (size_t e = 0; e < w->k; e++) {
            const size_t g = r * groups_per_row + e / w->group;
            const int zero = w->zero != NULL ? w->zero[g] : AQ_Q4W_SYMMETRIC_ZERO;
            const uint8_t byte = packed_row[e / 2];
            const int code = (e & 1) ? (byte >> 4) : (byte & 0x0F);
            out[r * w->k + e] = aq_fp16_to_fp32(w->scale[g]) * (float)(code - zero);
        }
    }
}
