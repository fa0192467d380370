/* q5_k-q8_k-dot.c - dot product of Q5_K weights with Q8_K activations (reference).
 * Order of the float operations as specified in quant.h. */
#include "block-unpack.h"
#include "f16.h"
#include "quant.h"

float aq_q5_k_q8_k_dot_ref(size_t n, const block_q5_K *x, const block_q8_K *y) {
    const size_t n_blocks = n / AQ_QK_K;
    float sumf = 0.0f;
    for (size_t b = 0; b < n_blocks; b++) {
        const block_q5_K *w = &x[b];
        const block_q8_K *a = &y[b];
        /* sum_i (dl_k q_i - ml_k) a_i = D sum_k sc_k sum q a - Dmin sum_k m_k sum a;
         * sub-block k of 32 is the activation's 16-element groups 2 k and 2 k + 1. */
        int32_t isum = 0; /* |isum| <= 256 * 63 * 31 * 128 < 2^26 */
        int32_t msum = 0; /* |msum| <= 16 * 63 * 32768 */
        for (size_t k = 0; k < AQ_QK_K / 32; k++) {
            const uint8_t *q = w->qs + 32 * (k / 2);
            const unsigned shift = 4 * (unsigned)(k % 2);
            int32_t scale, min;
            aq_q4_k_scale_min(w->scales, k, &scale, &min);
            int32_t sub = 0;
            for (size_t l = 0; l < 32; l++) {
                const int32_t level = ((q[l] >> shift) & 0x0F) | ((w->qh[l] >> k) & 1) << 4;
                sub += level * a->qs[32 * k + l];
            }
            isum += scale * sub;
            msum += min * (a->bsums[2 * k] + a->bsums[2 * k + 1]);
        }
        const float scale_all = aq_fp16_to_fp32(w->d) * a->d;
        const float scale_min = aq_fp16_to_fp32(w->dmin) * a->d;
        const float scaled = scale_all * (float)isum;
        const float offset = scale_min * (float)msum;
        const float term = scaled - offset;
        sumf = sumf + term;
    }
    return sumf;
}
