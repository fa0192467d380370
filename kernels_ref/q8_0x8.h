/* q8_0x8.h - llama.cpp's Q8_0 weights repacked at load into groups of 8 rows, as
 * Q4_0's (q4_0x8.h, which says why), and the reference GEMM that reads them: the
 * answer key of the SIMD tiles that read this layout (kernels_x86/q8_0x8-*,
 * kernels_neon/q8_0x8-*).
 *
 * The same block b of 8 consecutive rows sits in one 272-byte block_q8_0x8: the 8
 * f16 scales, then 8 chunks of 32 bytes; chunk c holds, for row r = 0..7, the
 * row's codes qs[4c .. 4c + 3] at bytes 32 c + 4 r .. 32 c + 4 r + 3, so each 32-bit
 * lane of a chunk is one row's elements 4c .. 4c + 3.
 *
 * Memory: 272 bytes per 8 x 32 weights, the file's 34 bytes a block; rows past
 * the last multiple of 8 stay in the file's layout. */
#ifndef AQ_KERNELS_REF_Q8_0X8_H
#define AQ_KERNELS_REF_Q8_0X8_H

#include <stddef.h>
#include <stdint.h>

#include "quant.h"
#include "x8.h"

typedef struct aq_block_q8_0x8 {
    uint16_t d[AQ_X8_ROWS];           /* IEEE half scale of row r's block */
    int8_t qs[AQ_X8_ROWS * AQ_QK8_0]; /* chunk c, row r: qs[32 c + 4 r + i] = row r's qs[4 c + i] */
} block_q8_0x8;
_Static_assert(sizeof(block_q8_0x8) == AQ_X8_ROWS * sizeof(block_q8_0), "block_q8_0x8 must hold 8 blocks");

/* As aq_q4_0x8_pack_ref, for Q8_0 rows. */
void aq_q8_0x8_pack_ref(size_t n_rows, size_t n_blocks, const void *w, size_t w_row_bytes, void *out);

/* As aq_q4_0x8_q8_0_gemm_ref: each output bit for bit aq_q8_0_q8_0_dot_ref. */
void aq_q8_0x8_q8_0_gemm_ref(size_t m, size_t n_begin, size_t n_end, size_t k, const void *w, size_t w_row_bytes,
                             const void *a, size_t a_row_bytes, float *out, size_t out_stride);

#endif /* AQ_KERNELS_REF_Q8_0X8_H */
