/* qc4w-packw.h - the packed INT4 weight layout of the x86 qd8 x qc4w kernels, and
 * what their micro-tiles share. Plain C, static inline. Internal.
 *
 * Layout "NRc4" (NR = 8 for the 256-bit tiles, 16 for the 512-bit one and the
 * two-register AVX2 one), written by aq_qc4w_packw_{8,16}c4_x86 (qc4w-packw.c) in
 * the blocks of the packer convention (lib/kernels/qd8-qc4w-gemm-loop.h): per tile
 * of NR rows, per group g in order, AQ_X86_QC4W_META * NR bytes of metadata, then
 * the codes:
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
 * and the correction is one VPMADDWD of the pair (zw, wsum) with the per-row pair
 * (-A, -za) of aq_x86_token_pair. Preconditions (besides the reference's):
 * |za| <= 32767, which every qd8 quantizer gives (za is in [-128, 127]).
 */
#ifndef AQ_KERNELS_X86_QC4W_PACKW_H
#define AQ_KERNELS_X86_QC4W_PACKW_H

#include <stdint.h>
#include <string.h>

/* Metadata bytes per row and group: the int32 pair and the f16 scale. */
#define AQ_X86_QC4W_META 6

/* Low 16 bits -A (A = the group's activation sum, |A| <= 128 * 128), high 16 bits
 * -za: VPMADDWD with the weight pair (zw, wsum) gives -zw * A - za * wsum. */
static inline int32_t aq_x86_token_pair(int32_t a_sum, int32_t za) {
    const uint32_t p = (uint32_t)(uint16_t)(0u - (uint32_t)a_sum) | (uint32_t)(uint16_t)(0u - (uint32_t)za) << 16;
    return (int32_t)p;
}

static inline int32_t aq_load_i32(const void *p) {
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

#endif /* AQ_KERNELS_X86_QC4W_PACKW_H */
