/* q6_kx8.h - llama.cpp's Q6_K weights repacked at load into groups of 8 rows, as
 * Q4_0's (q4_0x8.h, which says why), and the reference GEMM that reads them: the
 * answer key of the SIMD tiles that read this layout (kernels_x86/q6_kx8-*,
 * kernels_neon/q6_kx8-*).
 *
 * A Q6_K super-block row holds 256 6-bit codes as a low nibble (ql) and 2 high
 * bits (qh) spread so that one row's unpack needs four shifts per 32 codes, and
 * 16 int8 sub-block scales read one row at a time. Here super-block b of 8
 * consecutive rows sits in one 1680-byte block_q6_Kx8, cut into 8 units of 32
 * elements (j = 0..7: sub-blocks 2j and 2j + 1), each unit 8 "quads" of 4
 * consecutive elements, quad i = elements 32 j + 4 i .. 32 j + 4 i + 3. In every
 * 32-byte chunk, bytes 4 r .. 4 r + 3 (one 32-bit lane) are row r, byte n of a
 * lane element n of a quad:
 *   ql chunk 4 j + u (u = 0..3): low nibble = low 4 bits of quad u (sub-block 2j),
 *     high nibble = low 4 bits of quad 4 + u (sub-block 2j + 1);
 *   qh chunk 2 j + v (v = 0..1): bits 2 s, 2 s + 1 = high 2 bits of quad 4 v + s.
 * So one load of ql feeds 2 x 8 rows' quads and one load of qh 4 x 8 rows'; each
 * quad's 32 codes are one vector whose lane r is row r, and a broadcast of the
 * activations' 4 elements feeds all 8 rows with no reduction across lanes.
 * scales[8 k + r] is row r's scale of sub-block k (the 8 rows' scales of a
 * sub-block together), d[r] its f16 super-block scale.
 *
 * Memory: 1680 bytes per 8 x 256 weights, the file's 210 bytes a super-block;
 * rows past the last multiple of 8 stay in the file's layout. */
#ifndef AQ_KERNELS_REF_Q6_KX8_H
#define AQ_KERNELS_REF_Q6_KX8_H

#include <stddef.h>
#include <stdint.h>

#include "x8.h"
#include "quant.h"

typedef struct aq_block_q6_Kx8 {
    uint8_t ql[AQ_X8_ROWS * AQ_QK_K / 2];     /* 32 chunks: chunk 4 j + u, lane r (see above) */
    uint8_t qh[AQ_X8_ROWS * AQ_QK_K / 4];     /* 16 chunks: chunk 2 j + v, lane r */
    int8_t scales[AQ_X8_ROWS * AQ_QK_K / 16]; /* scales[8 k + r]: row r, sub-block k */
    uint16_t d[AQ_X8_ROWS];                   /* IEEE half scale of row r's super-block */
} block_q6_Kx8;
_Static_assert(sizeof(block_q6_Kx8) == AQ_X8_ROWS * sizeof(block_q6_K), "block_q6_Kx8 must hold 8 super-blocks");

/* As aq_q4_0x8_pack_ref, for Q6_K rows (n_blocks super-blocks each). */
void aq_q6_kx8_pack_ref(size_t n_rows, size_t n_blocks, const void *w, size_t w_row_bytes, void *out);

/* As aq_q4_0x8_q8_0_gemm_ref, with Q8_K activations: each output bit for bit
 * aq_q6_k_q8_k_dot_ref (which, unlike the other K-quants' dots, does not read
 * the activations' bsums, so neither does this nor its SIMD twins). */
void aq_q6_kx8_q8_k_gemm_ref(size_t m, size_t n_begin, size_t n_end, size_t k, const void *w, size_t w_row_bytes,
                             const void *a, size_t a_row_bytes, float *out, size_t out_stride);

#endif /* AQ_KERNELS_REF_Q6_KX8_H */
