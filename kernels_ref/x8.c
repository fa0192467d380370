/* x8.c - the packer and reference GEMM loops of the 8-row repacked layouts (x8.h). */
#include "x8.h"

#include <string.h>

#include "f16.h"
#include "quant.h"

#define SCALE_BYTES sizeof(uint16_t)

void aq_x8_pack_ref(size_t n_rows, size_t n_blocks, size_t block_bytes, const void *w, size_t w_row_bytes, void *out) {
    const size_t chunks = (block_bytes - SCALE_BYTES) / 4;
    for (size_t g = 0; g < n_rows / AQ_X8_ROWS; g++)
        for (size_t b = 0; b < n_blocks; b++) {
            uint8_t *x = (uint8_t *)out + (g * n_blocks + b) * AQ_X8_ROWS * block_bytes;
            uint8_t *qs = x + AQ_X8_ROWS * SCALE_BYTES;
            for (size_t r = 0; r < AQ_X8_ROWS; r++) {
                /* Rows of a GGUF file are only 2-byte aligned: bytes, no block structs. */
                const uint8_t *src = (const uint8_t *)w + (g * AQ_X8_ROWS + r) * w_row_bytes + b * block_bytes;
                memcpy(x + r * SCALE_BYTES, src, SCALE_BYTES);
                for (size_t c = 0; c < chunks; c++) memcpy(qs + 32 * c + 4 * r, src + SCALE_BYTES + 4 * c, 4);
            }
        }
}

void aq_x8_q8_0_gemm_ref(size_t m, size_t n_begin, size_t n_end, size_t n_blocks, size_t block_bytes,
                         aq_x8_isum_fn isum, const void *w, size_t w_row_bytes, const void *a, size_t a_row_bytes,
                         float *out, size_t out_stride) {
    const size_t packed_bytes = AQ_X8_ROWS * block_bytes;
    for (size_t t = 0; t < m; t++) {
        const block_q8_0 *y = (const block_q8_0 *)((const uint8_t *)a + t * a_row_bytes);
        for (size_t g = n_begin / AQ_X8_ROWS; g < n_end / AQ_X8_ROWS; g++) {
            const uint8_t *group = (const uint8_t *)w + g * AQ_X8_ROWS * w_row_bytes;
            for (size_t r = 0; r < AQ_X8_ROWS; r++) {
                float sumf = 0.0f;
                for (size_t b = 0; b < n_blocks; b++) {
                    const uint8_t *x = group + b * packed_bytes;
                    uint16_t d;
                    memcpy(&d, x + r * SCALE_BYTES, SCALE_BYTES);
                    const int32_t s = isum(x + AQ_X8_ROWS * SCALE_BYTES, r, y[b].qs);
                    /* Separate statements, as in the reference dot: no fused multiply-add. */
                    const float block_scale = aq_fp16_to_fp32(d) * aq_fp16_to_fp32(y[b].d);
                    const float term = block_scale * (float)s;
                    sumf = sumf + term;
                }
                out[t * out_stride + g * AQ_X8_ROWS + r] = sumf;
            }
        }
    }
}
