/* q8_0x8.c - the repacked Q8_0 layout (q8_0x8.h): its packer and its reference
 * GEMM, which reads the layout back element by element and does the float
 * operations of aq_q8_0_q8_0_dot_ref in its order. */
#include "q8_0x8.h"

#include <string.h>

#include "f16.h"

void aq_q8_0x8_pack_ref(size_t n_rows, size_t n_blocks, const void *w, size_t w_row_bytes, void *out) {
    block_q8_0x8 *dst = out;
    for (size_t g = 0; g < n_rows / AQ_X8_ROWS; g++)
        for (size_t b = 0; b < n_blocks; b++) {
            block_q8_0x8 *x = &dst[g * n_blocks + b];
            for (size_t r = 0; r < AQ_X8_ROWS; r++) {
                block_q8_0 src;
                /* Rows of a GGUF file are only 2-byte aligned. */
                memcpy(&src, (const uint8_t *)w + (g * AQ_X8_ROWS + r) * w_row_bytes + b * sizeof src, sizeof src);
                x->d[r] = src.d;
                for (size_t c = 0; c < AQ_QK8_0 / 4; c++) memcpy(&x->qs[32 * c + 4 * r], &src.qs[4 * c], 4);
            }
        }
}

void aq_q8_0x8_q8_0_gemm_ref(size_t m, size_t n_begin, size_t n_end, size_t k, const void *w, size_t w_row_bytes,
                             const void *a, size_t a_row_bytes, float *out, size_t out_stride) {
    const size_t n_blocks = k / AQ_QK8_0;
    for (size_t t = 0; t < m; t++) {
        const block_q8_0 *y = (const block_q8_0 *)((const uint8_t *)a + t * a_row_bytes);
        for (size_t g = n_begin / AQ_X8_ROWS; g < n_end / AQ_X8_ROWS; g++) {
            const block_q8_0x8 *x = (const block_q8_0x8 *)((const uint8_t *)w + g * AQ_X8_ROWS * w_row_bytes);
            for (size_t r = 0; r < AQ_X8_ROWS; r++) {
                float sumf = 0.0f;
                for (size_t b = 0; b < n_blocks; b++) {
                    int32_t isum = 0;
                    for (size_t c = 0; c < AQ_QK8_0 / 4; c++)
                        for (size_t i = 0; i < 4; i++)
                            isum += (int32_t)x[b].qs[32 * c + 4 * r + i] * y[b].qs[4 * c + i];
                    /* Separate statements, as in the reference dot: no fused multiply-add. */
                    const float block_scale = aq_fp16_to_fp32(x[b].d[r]) * aq_fp16_to_fp32(y[b].d);
                    const float term = block_scale * (float)isum;
                    sumf = sumf + term;
                }
                out[t * out_stride + g * AQ_X8_ROWS + r] = sumf;
            }
        }
    }
}
