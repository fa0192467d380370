/* iq4_xs-q8_k-dot.c - dot product of IQ4_XS weights with Q8_K activations
 * (reference). Order of the float operations as specified in quant.h: the scaled
 * sub-block sums stay integers for the whole super-block. */
#include "block-unpack.h"
#include "f16.h"
#include "quant.h"

float aq_iq4_xs_q8_k_dot_ref(size_t n, const block_iq4_xs *x, const block_q8_K *y) {
    const size_t n_blocks = n / AQ_QK_K;
    float sumf = 0.0f;
    for (size_t b = 0; b < n_blocks; b++) {
        const block_iq4_xs *w = &x[b];
        const block_q8_K *a = &y[b];
        int32_t isum = 0; /* |isum| <= 256 * 32 * 127 * 128 < 2^28 */
        for (size_t k = 0; k < AQ_QK_K / 32; k++) {
            const uint8_t *qs = w->qs + 16 * k;
            const int8_t *qa = a->qs + 32 * k;
            int32_t sub = 0;
            for (size_t j = 0; j < 16; j++) {
                sub += (int32_t)aq_iq4_nl_values[qs[j] & 0x0F] * qa[j];
                sub += (int32_t)aq_iq4_nl_values[qs[j] >> 4] * qa[j + 16];
            }
            isum += (aq_iq4_xs_scale(w, k) - 32) * sub;
        }
        const float scale = aq_fp16_to_fp32(w->d) * a->d;
        const float term = scale * (float)isum;
        sumf = sumf + term;
    }
    return sumf;
}
