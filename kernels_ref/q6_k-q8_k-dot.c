/* q6_k-q8_k-dot.c - dot product of Q6_K weights with Q8_K activations (reference).
 * Order of the float operations as specified in quant.h. */
#include "f16.h"
#include "quant.h"

float aq_q6_k_q8_k_dot_ref(size_t n, const block_q6_K *x, const block_q8_K *y) {
    const size_t n_blocks = n / AQ_QK_K;
    float sumf = 0.0f;
    for (size_t b = 0; b < n_blocks; b++) {
        const block_q6_K *w = &x[b];
        const block_q8_K *a = &y[b];
        /* Element e belongs to sub-block e / 16 (scale scales[e / 16]); the layout
         * (quant.h) walks halves h, quarters r and l = 0..31. */
        int32_t sub[AQ_QK_K / 16] = {0};
        for (size_t h = 0; h < 2; h++) {
            const uint8_t *ql = w->ql + 64 * h;
            const uint8_t *qh = w->qh + 32 * h;
            for (size_t r = 0; r < 4; r++) {
                const unsigned shift = 4 * (unsigned)(r / 2);
                for (size_t l = 0; l < 32; l++) {
                    const size_t e = 128 * h + 32 * r + l;
                    const int32_t level = ((ql[l + 32 * (r % 2)] >> shift) & 0x0F) | ((qh[l] >> (2 * r)) & 3) << 4;
                    sub[e / 16] += (level - 32) * a->qs[e];
                }
            }
        }
        int32_t isum = 0; /* |isum| <= 256 * 128 * 32 * 128 = 2^27 */
        for (size_t k = 0; k < AQ_QK_K / 16; k++) {
            isum += (int32_t)w->scales[k] * sub[k];
        }
        const float scale = aq_fp16_to_fp32(w->d) * a->d;
        const float term = scale * (float)isum;
        sumf = sumf + term;
    }
    return sumf;
}
