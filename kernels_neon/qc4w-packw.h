/* qc4w-packw.h - the packed INT4 weight layout of the NEON qd8 x qc4w kernels,
 * and what their micro-tiles share. Internal.
 *
 * In the blocks of the packer convention (lib/kernels/qd8-qc4w-gemm-loop.h), with
 * NR = AQ_NEON_NR = 8: rows are cut into tiles of 8 (the last tile padded with
 * rows of code 0, zero 0, scale +0, which are computed and never stored); per tile,
 * per group g, in order, one block written by the packers of qc4w-packw.c:
 *
 *   uint16_t scale[8]    the f16 scales (FCVTL widens them exactly, like
 *                        aq_fp16_to_fp32, whatever FPCR's flush-to-zero says)
 *   uint8_t  zero[8]     the weight zero points, only for asymmetric weights
 *   uint8_t  nibbles[4 * group]   the codes of 8 rows x group, two per byte, in
 *                        the order of the kernel's packer: raw (0..15) for 8c16,
 *                        signed (code - 8 as a 4-bit two's complement nibble) for
 *                        8c4 and 8c8
 *
 * Why raw codes and corrections instead of (q - zero) in the inner loop: the
 * loop then only masks and shifts nibbles, and the zero points are applied once
 * per group, exactly, in int32 (the identity of qd8-qc4w-gemm-loop.h):
 *   isum = S - zw * T - za * C,
 * with T from the outer loop and the code sums C counted by the kernel only when
 * a token of the tile has za != 0. Every term is computed modulo 2^32 (vector
 * int32 lanes wrap); the true isum fits an int32, so the wrapped result is exact.
 *
 * The signed layouts (SDOT, SMMLA) store q' = q - 8, so the same identity reads
 *   isum = S' - (zw - 8) * T - za * C',   S' = sum q' * qa,  C' = sum q',
 * and for symmetric weights (zw = 8) and symmetric activations (za = 0) a group
 * needs no correction at all: isum = S'. Their tiles unpack a nibble into the top
 * four bits of a byte (one shift or one AND), i.e. 16 q', and convert 16 isum
 * with SCVTF #4 (vcvtq_n_f32_s32(x, 4): x / 16 rounded once, the exact integer
 * isum rounded like the reference's cast). |16 isum| <= 16 * 128 * 15 * 255 < 2^31
 * for groups of at most 128, so the scaled sum fits an int32 too.
 */
#ifndef AQ_KERNELS_NEON_QC4W_PACKW_H
#define AQ_KERNELS_NEON_QC4W_PACKW_H

#include <arm_neon.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "quant.h"

#define AQ_NEON_NR 8

/* The block's 8 scales as f32, rows 0-3 and 4-7. */
static inline void aq_neon_block_scales(const uint8_t *block, float32x4_t scale[2]) {
    uint16_t h[AQ_NEON_NR];
    memcpy(h, block, sizeof h);
    scale[0] = vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(h)));
    scale[1] = vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(h + 4)));
}

/* The block's 8 zero points as int32 (all 8 for symmetric weights). */
static inline void aq_neon_block_zeros(const uint8_t *block, bool asym, int32x4_t zero[2]) {
    if (!asym) {
        zero[0] = zero[1] = vdupq_n_s32(AQ_Q4W_SYMMETRIC_ZERO);
        return;
    }
    const uint16x8_t z16 = vmovl_u8(vld1_u8(block + AQ_NEON_NR * sizeof(uint16_t)));
    zero[0] = vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(z16)));
    zero[1] = vreinterpretq_s32_u32(vmovl_u16(vget_high_u16(z16)));
}

/* The micro-tiles of a signed layout (AQ_QC4W_TILE_CORRECTED_IF_STEP_AND_SCALES,
 * qd8-qc4w-gemm-loop.h): a correction is due for asymmetric weights, or where
 * some za != 0 (the code sums C' are counted too); symmetric weights and
 * activations need none. */
#define AQ_NEON_TILE_SIGNED_STEP_AND_SCALES(tile, body)                                                                \
    AQ_QC4W_TILE_CORRECTED_IF_STEP_AND_SCALES(tile, body, t->za_any || t->asym)

/* The block's 8 zero points of the signed layouts, zw - 8 as int32 (0 for
 * symmetric weights). */
static inline void aq_neon_block_zeros_signed(const uint8_t *block, bool asym, int32x4_t zero[2]) {
    aq_neon_block_zeros(block, asym, zero);
    zero[0] = vsubq_s32(zero[0], vdupq_n_s32(AQ_Q4W_SYMMETRIC_ZERO));
    zero[1] = vsubq_s32(zero[1], vdupq_n_s32(AQ_Q4W_SYMMETRIC_ZERO));
}

/* Loop over the tile's tokens i < mr, written with the constant bound MR (the
 * kernel's token tile) and a guard: each kernel's tile function is inlined with
 * a constant mr, but clang optimizes the callee first and, with a bound of mr,
 * unrolls it for an unknown trip count and keeps the accumulator arrays in
 * memory (seen with bench/mca/run.sh). With MR the loops unroll fully and the
 * guards fold away after inlining; the pragma (GCC >= 8 and clang read it)
 * insists where clang's size heuristics would still keep a loop. */
#define AQ_FOR_TOKENS(i) _Pragma("GCC unroll 8") for (size_t i = 0; i < MR; i++) if (i < mr)

/* llvm-mca region markers (bench/mca/run.sh): compiled only with -DAQ_MCA, and
 * only in the tile instantiation with AQ_MCA_MR tokens and per-token activation
 * scales (group_scales false: what dynamically quantized activations run), so a
 * normal build has none and the measured loop is the kernel's own. */
#ifdef AQ_MCA
#define AQ_MCA_MEASURED(mr, group_scales) ((mr) == AQ_MCA_MR && !(group_scales))
#define AQ_MCA_BEGIN(mr, group_scales, name)                                                                           \
    do {                                                                                                               \
        if (AQ_MCA_MEASURED(mr, group_scales)) __asm volatile("# LLVM-MCA-BEGIN " name);                               \
    } while (0)
#define AQ_MCA_END(mr, group_scales)                                                                                   \
    do {                                                                                                               \
        if (AQ_MCA_MEASURED(mr, group_scales)) __asm volatile("# LLVM-MCA-END");                                       \
    } while (0)
/* As AQ_MCA_BEGIN, for a loop whose iteration covers k (a literal, e.g. "32") of
 * the tile's rows instead of 16: extract.py reads it and run.sh counts with it. */
#define AQ_MCA_BEGIN_K(mr, group_scales, name, k)                                                                      \
    do {                                                                                                               \
        if (AQ_MCA_MEASURED(mr, group_scales)) __asm volatile("# LLVM-MCA-K " k "\n# LLVM-MCA-BEGIN " name);           \
    } while (0)
/* As AQ_MCA_BEGIN_K, for a loop over `rows` (a literal, e.g. "4") of the tile's
 * 8 rows only (the passes of a tile). */
#define AQ_MCA_BEGIN_KR(mr, group_scales, name, k, rows)                                                               \
    do {                                                                                                               \
        if (AQ_MCA_MEASURED(mr, group_scales))                                                                         \
            __asm volatile("# LLVM-MCA-K " k "\n# LLVM-MCA-ROWS " rows "\n# LLVM-MCA-BEGIN " name);                    \
    } while (0)
#else
#define AQ_MCA_BEGIN(mr, group_scales, name) ((void)0)
#define AQ_MCA_BEGIN_K(mr, group_scales, name, k) ((void)0)
#define AQ_MCA_BEGIN_KR(mr, group_scales, name, k, rows) ((void)0)
#define AQ_MCA_END(mr, group_scales) ((void)0)
#endif

#endif
