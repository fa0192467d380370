/* q4_kx8.h - llama.cpp's Q4_K and Q5_K weights repacked at load into groups of 8
 * rows (as Q4_0's, q4_0x8.h, which says why), and the reference GEMMs that read
 * them: the answer key of the SIMD tiles that read these layouts
 * (kernels_x86/q4_kx8-*, q5_kx8-*, kernels_neon/q4_kx8-*, q5_kx8-*).
 *
 * Super-block b of 8 consecutive rows sits in one block_q4_Kx8 (1152 bytes, 8 x
 * 144) or block_q5_Kx8 (1408 bytes, 8 x 176):
 *   d[r], dmin[r]  row r's f16 super-block scales;
 *   sm[96]         the 64 6-bit sub-block scales (bytes 0..47) and the 64 mins
 *                  (bytes 48..95), each set of 64 values v stored as
 *                    bytes 0..31:  low nibble = bits 0..3 of v = i, high nibble = of v = 32 + i
 *                    bytes 32..47: bits 2f, 2f + 1 of byte i = bits 4, 5 of v = 16 f + i
 *                  where value v = 32 (k / 4) + 16 (r / 4) + 4 (k % 4) + r % 4 is
 *                  sub-block k of row r. Unpacked, values 0..31 and 32..63 are two
 *                  32-byte vectors whose 128-bit halves hold rows 0..3 and 4..7, so
 *                  one in-lane byte shuffle puts sub-block k of row r in 32-bit lane r;
 *                  the file's 12-byte scales of each row are decoded once, here;
 *   qh[256]        (Q5_K only) chunk j = 0..7: bytes 32 j + 4 r .. + 3 are row r's
 *                  qh[4 j .. 4 j + 3];
 *   qs[1024]       pair c = 0..3 (sub-blocks 2 c, 2 c + 1), chunk j = 0..7: bytes
 *                  256 c + 32 j + 4 r .. + 3 are row r's qs[32 c + 4 j .. + 3], whose
 *                  low nibbles are elements 64 c + 4 j .. + 3 and high nibbles
 *                  64 c + 32 + 4 j .. + 3.
 * So each 32-bit lane of a chunk is one row: a 4-byte broadcast of the activations
 * feeds all 8 rows and each row's sums stay in their lane. The mins meet Q8_K's
 * bsums per lane as well, so no per-row work is left in a tile.
 *
 * Memory: the file's bytes a super-block; rows past the last multiple of 8 stay in
 * the file's layout (the plain tiles run them). */
#ifndef AQ_KERNELS_REF_Q4_KX8_H
#define AQ_KERNELS_REF_Q4_KX8_H

#include <stddef.h>
#include <stdint.h>

#include "x8.h"
#include "quant.h"

#define AQ_KX8_SM_BYTES 96 /* 2 x 64 six-bit values */

typedef struct aq_block_q4_Kx8 {
    uint16_t d[AQ_X8_ROWS];
    uint16_t dmin[AQ_X8_ROWS];
    uint8_t sm[AQ_KX8_SM_BYTES];
    uint8_t qs[AQ_X8_ROWS * AQ_QK_K / 2];
} block_q4_Kx8;
_Static_assert(sizeof(block_q4_Kx8) == AQ_X8_ROWS * sizeof(block_q4_K), "block_q4_Kx8 must hold 8 blocks");

typedef struct aq_block_q5_Kx8 {
    uint16_t d[AQ_X8_ROWS];
    uint16_t dmin[AQ_X8_ROWS];
    uint8_t sm[AQ_KX8_SM_BYTES];
    uint8_t qh[AQ_X8_ROWS * AQ_QK_K / 8];
    uint8_t qs[AQ_X8_ROWS * AQ_QK_K / 2];
} block_q5_Kx8;
_Static_assert(sizeof(block_q5_Kx8) == AQ_X8_ROWS * sizeof(block_q5_K), "block_q5_Kx8 must hold 8 blocks");

/* Rows [0, n_rows - n_rows % 8) of a Q4_K / Q5_K matrix (rows w_row_bytes apart,
 * n_blocks super-blocks each) into out: group g, super-block b at
 * out[g * n_blocks + b]. out holds (n_rows / 8) * 8 * w_row_bytes bytes. */
void aq_q4_kx8_pack_ref(size_t n_rows, size_t n_blocks, const void *w, size_t w_row_bytes, void *out);
void aq_q5_kx8_pack_ref(size_t n_rows, size_t n_blocks, const void *w, size_t w_row_bytes, void *out);

/* aq_block_gemm_fn (kernels.h) on the repacked layouts (contract as in q4_0x8.h):
 * out[t * out_stride + r] bit for bit aq_q4_k_q8_k_dot_ref / aq_q5_k_q8_k_dot_ref
 * of row r with token t. */
void aq_q4_kx8_q8_k_gemm_ref(size_t m, size_t n_begin, size_t n_end, size_t k, const void *w, size_t w_row_bytes,
                             const void *a, size_t a_row_bytes, float *out, size_t out_stride);
void aq_q5_kx8_q8_k_gemm_ref(size_t m, size_t n_begin, size_t n_end, size_t k, const void *w, size_t w_row_bytes,
                             const void *a, size_t a_row_bytes, float *out, size_t out_stride);

/* Byte of value v in the unpacked 64 (layout above): sub-block k of row r. */
static inline size_t aq_kx8_sm_index(size_t k, size_t r) { return 32 * (k / 4) + 16 * (r / 4) + 4 * (k % 4) + r % 4; }

#endif /* AQ_KERNELS_REF_Q4_KX8_H */
