/* q3_k-q8_k-dot.c - dot product of Q3_K weights with Q8_K activations (reference).
 * Order of the float operations as specified in quant.h. */
#include "block-unpack.h"
#include "f16.h"
#include "quant.h"

float aq_q3_k_q8_k_dot_ref(size_t n, const block_q3_K *x, const block_q8_K *y) {
    const size_t n_blocks = n / AQ_QK_K;
    float sumf = 0.0f;
    for (size_t b = 0; b < n_blocks; b++) {
        const block_q3_K *w = &x[b];
        const block_q8_K *a = &y[b];
        int32_t isum = 0; /* |isum| <= 256 * 32 * 4 * 128 = 2^22 */
        for (size_t k = 0; k < AQ_QK_K / 16; k++) {
            const size_t h = k / 8, j = (k % 8) / 2, part = k % 2;
            const uint8_t *q = w->qs + 32 * h + 16 * part;
            const uint8_t *hm = w->hmask + 16 * part;
            int32_t sub = 0;
            for (size_t l = 0; l < 16; l++) {
                const int32_t low = (q[l] >> (2 * j)) & 3;
                const int32_t high_set = (hm[l] >> (4 * h + j)) & 1;
                sub += (high_set ? low : low - 4) * a->qs[16 * k + l];
            }
            isum += (aq_q3_k_scale(w->scales, k) - 32) * sub;
        }
        const float scale = aq_fp16_to_fp32(w->d) * a->d;
        const float term = scale * (float)isum;
        sumf = sumf + term;
    }
    return sumf;
}
