/* qc4w-packw.h - the packed INT4 weight layout of the x86 qd8 x qc4w kernels, and
 * what their micro-tiles share. Plain C, static inline. Internal.
 *
 * Layout "NRc4" (NR = 8 for the 256-bit tiles, 16 for the 512-bit one and the
 * two-register AVX2 one), written by aq_qc4w_packw_{8,16}c4_x86 (qc4w-packw.c) in
 * the blocks of the packer convention (lib/kernels/qd8-qc4w-gemm-loop.h): per tile
 * of NR rows, per group g in order, the NR f16 scales, for asymmetric weights the
 * NR zero points, then the codes
 *   uint8_t  q[group/8][NR][4]
 *            q[p][j][c]: low nibble = code of element 8p + c of the group in row j,
 *            high nibble = code of element 8p + 4 + c.
 * So one 4-byte broadcast of the activations feeds NR rows (one int32 lane per row,
 * 4 consecutive k per lane: "c4"), and the nibbles unpack with one vpand (low) and
 * one vpsrlw + vpand (high). Unsigned codes 0..15 are the u8 operand of
 * VPDPBUSD / VPMADDUBSW and the raw int8 activations the s8 one, which give
 * S = sum code * qa; the same u8 codes against bytes of 1 give the code sum C when
 * the tile needs it. The group's sum then starts from -zw * T (a broadcast for
 * symmetric weights) and ends with -za * C (the loop header's identity).
 */
#ifndef AQ_KERNELS_X86_QC4W_PACKW_H
#define AQ_KERNELS_X86_QC4W_PACKW_H

#include <stdint.h>
#include <string.h>

static inline int32_t aq_load_i32(const void *p) {
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline int64_t aq_load_i64(const void *p) {
    int64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

#endif /* AQ_KERNELS_X86_QC4W_PACKW_H */
