/* q8_0x8.c - the repacked Q8_0 layout (q8_0x8.h): the shared packer and reference
 * GEMM loops (x8.h) with Q8_0's block and its integer dot product, which reads the
 * layout back element by element as aq_q8_0_q8_0_dot_ref reads a plain block. */
#include "q8_0x8.h"

void aq_q8_0x8_pack_ref(size_t n_rows, size_t n_blocks, const void *w, size_t w_row_bytes, void *out) {
    aq_x8_pack_ref(n_rows, n_blocks, sizeof(block_q8_0), w, w_row_bytes, out);
}

static int32_t isum_q8_0(const uint8_t *qs, size_t r, const int8_t *y) {
    int32_t isum = 0;
    for (size_t c = 0; c < AQ_QK8_0 / 4; c++)
        for (size_t i = 0; i < 4; i++) isum += (int32_t)(int8_t)qs[32 * c + 4 * r + i] * y[4 * c + i];
    return isum;
}

void aq_q8_0x8_q8_0_gemm_ref(size_t m, size_t n_begin, size_t n_end, size_t k, const void *w, size_t w_row_bytes,
                             const void *a, size_t a_row_bytes, float *out, size_t out_stride) {
    aq_x8_q8_0_gemm_ref(m, n_begin, n_end, k / AQ_QK8_0, sizeof(block_q8_0), isum_q8_0, w, w_row_bytes, a, a_row_bytes,
                        out, out_stride);
}
