/* q2_k-q8_k-dot.c - dot product of Q2_K weights with Q8_K activations (reference).
 * Order of the float operations as specified in quant.h. */
#include "f16.h"
#include "quant.h"

float aq_q2_k_q8_k_dot_ref(size_t n, const block_q2_K *x, const block_q8_K *y) {
    const size_t n_blocks = n / AQ_QK_K;
    float sumf = 0.0f;
    for (size_t b = 0; b < n_blocks; b++) {
        const block_q2_K *w = &x[b];
        const block_q8_K *a = &y[b];
        /* sum_i (dl_k q_i - ml_k) a_i = D sum_k sc_k sum q a - Dmin sum_k m_k sum a:
         * the second sum reads the activation's 16-element sums. */
        int32_t isum = 0; /* |isum| <= 256 * 15 * 3 * 128 < 2^21 */
        int32_t msum = 0; /* |msum| <= 16 * 15 * 32768 */
        for (size_t k = 0; k < AQ_QK_K / 16; k++) {
            const size_t h = k / 8, j = (k % 8) / 2, part = k % 2;
            const uint8_t *q = w->qs + 32 * h + 16 * part;
            int32_t sub = 0;
            for (size_t l = 0; l < 16; l++) {
                sub += (int32_t)((q[l] >> (2 * j)) & 3) * a->qs[16 * k + l];
            }
            isum += (int32_t)(w->scales[k] & 0x0F) * sub;
            msum += (int32_t)(w->scales[k] >> 4) * a->bsums[k];
        }
        const float scale = aq_fp16_to_fp32(w->d) * a->d;
        const float scale_min = aq_fp16_to_fp32(w->dmin) * a->d;
        const float scaled = scale * (float)isum;
        const float offset = scale_min * (float)msum;
        const float term = scaled - offset;
        sumf = sumf + term;
    }
    return sumf;
}
