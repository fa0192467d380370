/* qd8-qc3w-gemm-loop.h - the packed layout of the qd8 x qc3w GEMM kernels (3-bit
 * weights, kernels_ref/quant.h) and their outer loop, which is the qc4w one
 * (qd8-qc4w-gemm-loop.h: the same blocks of rows, token tiles, group chunks and
 * activation terms, the same micro-tile contract struct aq_qc4w_tile) with the
 * 3-bit blocks. Internal to lib/kernels and the kernel folders.
 *
 * Layout "8c4" of 3-bit codes, written by aq_qc3w_packw_8c4 (qc3w-packw.c, plain C,
 * the same bytes for the x86 and the NEON kernels): rows are cut into tiles of
 * NR = 8 (the last one padded with rows of scale +0 and code 0, which compute 0
 * and are never stored); per tile, per group in order, one block of
 * NR * (2 + 3 * group / 8) bytes:
 *   uint16_t scale[8]   the rows' f16 scales, as stored in aq_q4w;
 *   per 32 elements of the group (sub-block b), 96 bytes: three 32-byte planes
 *   L0, L1, H over the same 32 byte positions 4j + c (row j 0..7, c 0..3). Code
 *   vector s (0..7) of sub-block b holds at position 4j + c the 3-bit code
 *   (q - 4, 0..7) of element 32b + 4s + c of row j; its low 2 bits are bits 2(s % 4)
 *   and 2(s % 4) + 1 of L_{s / 4}, its high bit is bit s of H.
 * So 32 weights of a row take 12 bytes of codes and 2 of scale, 3.5 bits a weight
 * (llama.cpp's Q3_K, also 2 + 1 bit planes, takes 3.4375). A code vector unpacks
 * with two shifts, two ANDs and an OR into the bytes 0..7 that the 4-bit kernels'
 * "NRc4" vectors hold (0..15 there): vector 2p is their w_lo of elements 8p + c,
 * vector 2p + 1 their w_hi of 8p + 4 + c, so the dot-product structure is theirs.
 * A 128-bit NEON register takes half a vector: rows 0-3, then rows 4-7.
 *
 * The weights are symmetric (zero point 4 of the code, 8 of the nibble), so a
 * group's sum starts from -4 * T and, for za != 0, ends with -za * C, C the sum of
 * the 3-bit codes: isum = sum (c - 4)(qa - za) = S - 4 T - za C (modulo 2^32),
 * the value of aq_qd8_qc3w_gemm_ref.
 */
#ifndef AQ_QD8_QC3W_GEMM_LOOP_H
#define AQ_QD8_QC3W_GEMM_LOOP_H

#include "qd8-qc4w-gemm-loop.h"

#define AQ_QC3W_NR 8
/* Elements per sub-block of the layout and its bytes per tile of 8 rows. */
#define AQ_QC3W_SUB 32
#define AQ_QC3W_SUB_BYTES 96
/* The zero point of the 3-bit code. */
#define AQ_QC3W_CODE_ZERO 4

/* -4 * T modulo 2^32: where a group's integer sum starts. */
static inline int32_t aq_qc3w_symmetric_start(int32_t a_term) {
    return (int32_t)(0u - (uint32_t)AQ_QC3W_CODE_ZERO * (uint32_t)a_term);
}

/* Bytes of the packed layout of w in tiles of nr rows. */
size_t aq_qc3w_packed_bytes(const struct aq_q4w *w, size_t nr);

/* The family's gemm for a kernel with tile mr_max x nr over the 3-bit blocks. */
void aq_qd8_qc3w_gemm_loop(size_t mr_max, size_t nr, aq_qc4w_tile_fn token_tile, aq_qc4w_tile_fn group_tile, size_t m,
                           size_t n_begin, size_t n_end, const struct aq_qd8 *a, const struct aq_q4w *w,
                           const void *packed, float *out, size_t out_stride);

#define AQ_QD8_QC3W_GEMM_DEFINE(name, MR, NR, tile)                                                                    \
    AQ_QC4W_TILE_FNS(name, MR, tile)                                                                                   \
    void name(size_t m, size_t n_begin, size_t n_end, const struct aq_qd8 *a, const struct aq_q4w *w,                  \
              const void *packed, float *out, size_t out_stride) {                                                     \
        aq_qd8_qc3w_gemm_loop(MR, NR, name##_token_tile, name##_group_tile, m, n_begin, n_end, a, w, packed, out,      \
                              out_stride);                                                                             \
    }

#endif /* AQ_QD8_QC3W_GEMM_LOOP_H */
