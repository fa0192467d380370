/* q4_0x8.h - llama.cpp's Q4_0 weights repacked at load into groups of 8 rows
 * (the idea of llama.cpp's own online repacking of Q4_0, in our own layout), and
 * the reference GEMM that reads them: the answer key of the SIMD tiles that read
 * this layout (kernels_x86/q4_0x8-*, kernels_neon/q4_0x8-*).
 *
 * The plain layout keeps each row's blocks together, so a kernel that runs several
 * rows at once must reduce each row's products across a vector once per block.
 * Here the same block b of 8 consecutive rows sits in one 144-byte block_q4_0x8:
 * the 8 f16 scales together, then the quants in 4 chunks of 32 bytes; chunk c
 * holds, for row r = 0..7, bytes qs[4c .. 4c + 3] of that row's block at bytes
 * 32 c + 4 r .. 32 c + 4 r + 3. Each 32-bit lane of a chunk is one row, its low
 * nibbles elements 4c .. 4c + 3 and its high nibbles elements 16 + 4c .. 16 + 4c + 3,
 * so one 4-byte broadcast of the activations feeds all 8 rows and every row's sum
 * stays in its own lane: no horizontal reduction per block.
 *
 * Memory: 144 bytes per 8 x 32 weights, the same 18 bytes a block as the file;
 * rows n_rows - n_rows % 8 and beyond stay in the file's layout (the plain tiles
 * run them). The model owns the repacked copy and gives the file's pages of the
 * tensor back (madvise), so resident memory holds each weight once.
 */
#ifndef AQ_KERNELS_REF_Q4_0X8_H
#define AQ_KERNELS_REF_Q4_0X8_H

#include <stddef.h>
#include <stdint.h>

#include "quant.h"
#include "x8.h"

typedef struct aq_block_q4_0x8 {
    uint16_t d[AQ_X8_ROWS];                /* IEEE half scale of row r's block */
    uint8_t qs[AQ_X8_ROWS * AQ_QK4_0 / 2]; /* chunk c, row r: qs[32 c + 4 r + i] = row r's qs[4 c + i] */
} block_q4_0x8;
_Static_assert(sizeof(block_q4_0x8) == AQ_X8_ROWS * sizeof(block_q4_0), "block_q4_0x8 must hold 8 blocks");

/* Rows [0, n_rows - n_rows % 8) of a Q4_0 matrix (rows w_row_bytes apart, n_blocks
 * blocks each) into out: group g (rows 8 g .. 8 g + 7), block b at
 * out[g * n_blocks + b]. out holds (n_rows / 8) * 8 * w_row_bytes bytes. */
void aq_q4_0x8_pack_ref(size_t n_rows, size_t n_blocks, const void *w, size_t w_row_bytes, void *out);

/* aq_block_gemm_fn (kernels.h) on the repacked layout: w is the packed buffer,
 * w_row_bytes the source row's bytes (a group of 8 rows is 8 * w_row_bytes), and
 * n_begin, n_end multiples of 8. out[t * out_stride + r] for t < m, r in
 * [n_begin, n_end): bit for bit aq_q4_0_q8_0_dot_ref of row r with token t. */
void aq_q4_0x8_q8_0_gemm_ref(size_t m, size_t n_begin, size_t n_end, size_t k, const void *w, size_t w_row_bytes,
                             const void *a, size_t a_row_bytes, float *out, size_t out_stride);

#endif /* AQ_KERNELS_REF_Q4_0X8_H */
