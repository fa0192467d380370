/* kernels_x86.h - the x86 SIMD kernels, one list for the dispatcher
 * (lib/dispatch_x86.c) and the tests (tests/test_kernels_x86.c). Internal.
 *
 * Every kernel here is a twin of a reference kernel in kernels_ref/ with the same
 * family signature (lib/kernels.h). None of them tests CPU features: calling one on
 * a CPU without its ISA is undefined (SIGILL); the dispatcher checks, once.
 */
#ifndef AQ_KERNELS_X86_H
#define AQ_KERNELS_X86_H

#include <stddef.h>
#include <stdint.h>

#include "f32-gemm.h"
#include "quant.h"

/* ------------------------------------------------------------------------------
 * qd8 x qc4w GEMM (bit-exact twins of aq_qd8_qc4w_gemm_ref).
 *
 * Packed weight layout "NRc4" (NR = 8 for the 256-bit kernels, 16 for AVX-512),
 * written by aq_qc4w_packw_{8,16}c4: rows are cut into tiles of NR (the last one
 * padded with zero rows), and for each tile, for each group g in order, one block:
 *   int32_t  pair[NR]     row j: low 16 bits zw (the group's zero point), high 16
 *                         bits wsum = sum over the group of (code - zw), both int16;
 *   uint16_t scale[NR]    the group's f16 scales, as stored in aq_q4w;
 *   uint8_t  q[group/8][NR][4]
 *                         q[p][j][c]: low nibble = code of element 8p + c of the
 *                         group in row j, high nibble = code of element 8p + 4 + c.
 * So one 4-byte broadcast of the activations feeds NR rows (one int32 lane per row,
 * 4 consecutive k per lane: "c4"), and the nibbles unpack with one vpand (low) and
 * one vpsrlw + vpand (high). Unsigned codes 0..15 are the u8 operand of
 * VPDPBUSD / VPMADDUBSW and the raw int8 activations the s8 one, so with
 *   S = sum code * qa,   A = sum qa    (over the group's elements)
 * the exact group sum is
 *   isum = sum (code - zw)(qa - za) = S - zw * A - za * wsum,
 * and the correction is one VPMADDWD of the pair (zw, wsum) with the per-token pair
 * (-A, -za). Preconditions (besides the reference's): |za| <= 32767, which every
 * qd8 quantizer gives (za is in [-128, 127]).
 */
size_t aq_qc4w_packw_8c4_size(const struct aq_q4w *w);
void aq_qc4w_packw_8c4(const struct aq_q4w *w, void *packed);
size_t aq_qc4w_packw_16c4_size(const struct aq_q4w *w);
void aq_qc4w_packw_16c4(const struct aq_q4w *w, void *packed);

/* gemm signature of aq_qc4w_gemm_kernel; packed from the matching packw. */
void aq_qd8_qc4w_gemm_4x16c4__avx512vnni(size_t m, size_t n_begin, size_t n_end, const struct aq_qd8 *a,
                                         const struct aq_q4w *w, const void *packed, float *out,
                                         size_t out_stride);
void aq_qd8_qc4w_gemm_4x8c4__avxvnni(size_t m, size_t n_begin, size_t n_end, const struct aq_qd8 *a,
                                     const struct aq_q4w *w, const void *packed, float *out,
                                     size_t out_stride);
void aq_qd8_qc4w_gemm_4x8c4__avx2(size_t m, size_t n_begin, size_t n_end, const struct aq_qd8 *a,
                                  const struct aq_q4w *w, const void *packed, float *out, size_t out_stride);

/* ------------------------------------------------------------------------------
 * FP32 GEMM (aq_f32_gemm_fn): 4 rows of x times 3 rows of W per register tile.
 * Agrees with aq_f32_gemm_ref to float tolerance (different summation order). */
void aq_f32_gemm_4x3__avx2(size_t m, size_t n_begin, size_t n_end, size_t k, const float *x, size_t x_stride,
                           const float *w, float *out, size_t out_stride);

/* FP32 activations x INT4 weights (aq_f32_qc4w_gemm_fn), weights dequantized in
 * registers, 4 rows of x per weight row. Float tolerance. */
void aq_f32_qc4w_gemm_4x1__avx2(size_t m, size_t n_begin, size_t n_end, const float *x, size_t x_stride,
                                const struct aq_q4w *w, float *out, size_t out_stride);

/* ------------------------------------------------------------------------------
 * llama.cpp block dots. Bit-exact twins of the references: the integer block sums
 * are exact (for every int8 input, -128 included), and the float part keeps the
 * reference's per-block order (block_scale = dx * dy; term = block_scale * isum;
 * sumf = sumf + term, blocks in order). */
float aq_q4_0_q8_0_dot__avx2(size_t n, const block_q4_0 *x, const block_q8_0 *y);
float aq_q8_0_q8_0_dot__avx2(size_t n, const block_q8_0 *x, const block_q8_0 *y);

#endif /* AQ_KERNELS_X86_H */
