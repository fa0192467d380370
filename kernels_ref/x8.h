/* x8.h - what the layouts of llama.cpp blocks repacked into groups of 8 rows share
 * (q4_0x8.h, q8_0x8.h): the packer and the reference GEMM's loops, written once on
 * bytes; a layout gives its block size and its per-row integer dot product.
 *
 * A source block is an f16 scale then quant bytes (a multiple of 4). The packed
 * block b of rows 8 g .. 8 g + 7 holds the 8 scales, then chunks of 32 bytes: chunk
 * c holds, for row r, the row's quant bytes 4c .. 4c + 3 at bytes 32 c + 4 r ..
 * 32 c + 4 r + 3, so each 32-bit lane of a chunk is one row. */
#ifndef AQ_KERNELS_REF_X8_H
#define AQ_KERNELS_REF_X8_H

#include <stddef.h>
#include <stdint.h>

#define AQ_X8_ROWS 8

/* Rows [0, n_rows - n_rows % 8) of a matrix of blocks of block_bytes bytes (rows
 * w_row_bytes apart, n_blocks blocks each) into out: group g, block b at byte
 * (g * n_blocks + b) * 8 * block_bytes. */
void aq_x8_pack_ref(size_t n_rows, size_t n_blocks, size_t block_bytes, const void *w, size_t w_row_bytes, void *out);

/* Row r's integer dot product of a packed block's quants (qs, after the scales)
 * with a Q8_0 activation block's codes. */
typedef int32_t (*aq_x8_isum_fn)(const uint8_t *qs, size_t r, const int8_t *y);

/* The reference GEMM on a packed layout with Q8_0 activations (the contract of
 * aq_q4_0x8_q8_0_gemm_ref, q4_0x8.h): per row and token, the float operations of
 * the plain reference dot product, in its order. */
void aq_x8_q8_0_gemm_ref(size_t m, size_t n_begin, size_t n_end, size_t n_blocks, size_t block_bytes,
                         aq_x8_isum_fn isum, const void *w, size_t w_row_bytes, const void *a, size_t a_row_bytes,
                         float *out, size_t out_stride);

#endif /* AQ_KERNELS_REF_X8_H */
