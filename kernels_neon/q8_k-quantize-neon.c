/* q8_k-quantize-neon.c - llama.cpp's Q8_K activations from floats, NEON: bit for
 * bit aq_q8_k_quantize_ref. Per block of 256: max = the first element of largest
 * |x| (with its sign); iscale = -127 / max; q = min(127, nearbyintf(iscale * x)),
 * ties to even (FRINTN); bsums the exact sums of 16; d = 1 / iscale. */
#include <math.h>
#include <string.h>

#include "act-quantize-neon.h"
#include "ukernels.h"

void aq_q8_k_quantize__neon(const float *x, size_t n, void *blocks) {
    block_q8_K *out = blocks;
    for (size_t b = 0; b < n / AQ_QK_K; b++) {
        const float *xb = x + b * AQ_QK_K;
        float32x4_t amax4 = vdupq_n_f32(0.0f);
        for (size_t i = 0; i < AQ_QK_K; i += 4) amax4 = vmaxq_f32(amax4, vabsq_f32(vld1q_f32(xb + i)));
        const float amax = vmaxvq_f32(amax4);
        if (!(amax > 0.0f)) { /* zero (or NaN) block: the reference's amax stays 0 */
            out[b].d = 0.0f;
            memset(out[b].qs, 0, sizeof out[b].qs);
            memset(out[b].bsums, 0, sizeof out[b].bsums);
            continue;
        }
        size_t first = 0; /* the first element whose magnitude is amax */
        while (fabsf(xb[first]) != amax) first++;
        const float iscale = -127.0f / xb[first];
        const float32x4_t lo = vdupq_n_f32(-128.0f), hi = vdupq_n_f32(127.0f);
        for (size_t c = 0; c < AQ_QK_K / 32; c++) {
            float32x4_t v[8];
            for (size_t i = 0; i < 8; i++)
                v[i] = vminq_f32(vmaxq_f32(vrndnq_f32(vmulq_n_f32(vld1q_f32(xb + 32 * c + 4 * i), iscale)), lo), hi);
            aq_neon_store_i8x32(v, out[b].qs + 32 * c);
        }
        /* bsums: the sums of 16 codes, |sum| <= 2048, exact in int16. */
        for (size_t g = 0; g < AQ_QK_K / 16; g++) out[b].bsums[g] = vaddlvq_s8(vld1q_s8(out[b].qs + 16 * g));
        out[b].d = 1.0f / iscale;
    }
}
