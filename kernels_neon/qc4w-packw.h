/* qc4w-packw.h - the packed INT4 weight layout of the NEON qd8 x qc4w kernels,
 * and what their micro-tiles share. Internal.
 *
 * In the blocks of the packer convention (lib/kernels/qd8-qc4w-gemm-loop.h), with
 * NR = AQ_NEON_NR = 8 and AQ_NEON_QC4W_META = 12 bytes of metadata per row: rows
 * are cut into tiles of 8 (the last tile padded with rows of code 0, zero 0,
 * scale 0, which are computed and never stored); per tile, per group g, in order,
 * one block of AQ_NEON_META_BYTES + 4 * group bytes, written by the packers of
 * qc4w-packw.c:
 *
 *   float   scale[8]     f32 of the fp16 scale (exact, so the kernels need no
 *                        fp16 conversion and match aq_fp16_to_fp32 bit for bit)
 *   int32_t zero[8]      the weight zero points (8 for symmetric weights)
 *   int32_t code_sum[8]  sum of the group's raw codes q (0..15), per row
 *   uint8_t nibbles[4 * group]   the raw codes of 8 rows x group, two per byte,
 *                        in the order of the kernel's packer (8c4 or 8c16)
 *
 * Why raw codes and corrections instead of (q - zero) in the inner loop: the
 * loop then only masks and shifts nibbles, and the zero points are applied once
 * per group, exactly, in int32:
 *   isum = sum (q - zw)(qa - za)
 *        = sum q*qa - za * code_sum - zw * (sum qa - group * za),
 * with sum qa given by the outer loop (aq_qc4w_tile.a_sum).
 * Every term is computed modulo 2^32 (vector int32 lanes wrap); the true isum
 * fits an int32, so the wrapped result is exact.
 */
#ifndef AQ_KERNELS_NEON_QC4W_PACKW_H
#define AQ_KERNELS_NEON_QC4W_PACKW_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "quant.h"

#define AQ_NEON_NR 8
#define AQ_NEON_QC4W_META 12 /* bytes per row: scale, zero, code_sum */
#define AQ_NEON_META_BYTES (AQ_NEON_NR * AQ_NEON_QC4W_META)

static inline size_t aq_neon_group_bytes(size_t group) { return AQ_NEON_META_BYTES + 4 * group; }

/* (uint32_t) arithmetic so that large activation zero points wrap instead of
 * overflowing (UB); see the identity above. */
static inline int32_t aq_neon_act_term(int32_t act_sum, size_t group, int32_t za) {
    return (int32_t)((uint32_t)act_sum - (uint32_t)group * (uint32_t)za);
}

/* Stores the 8 results of one tile row, only the first n_valid. */
static inline void aq_neon_store_row(float *dst, const float *vals, size_t n_valid) {
    memcpy(dst, vals, n_valid * sizeof(float));
}

/* Loads the first n_valid of a tile row's 8 results (an earlier group chunk's),
 * the rest 0. */
static inline void aq_neon_load_row(float vals[AQ_NEON_NR], const float *src, size_t n_valid) {
    memset(vals, 0, AQ_NEON_NR * sizeof(float));
    memcpy(vals, src, n_valid * sizeof(float));
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
 * only in the tile instantiation with AQ_MCA_MR tokens, so a normal build has
 * none and the measured loop is the kernel's own. */
#ifdef AQ_MCA
#define AQ_MCA_BEGIN(mr, name)                                                                                         \
    do {                                                                                                               \
        if ((mr) == AQ_MCA_MR) __asm volatile("# LLVM-MCA-BEGIN " name);                                               \
    } while (0)
#define AQ_MCA_END(mr)                                                                                                 \
    do {                                                                                                               \
        if ((mr) == AQ_MCA_MR) __asm volatile("# LLVM-MCA-END");                                                       \
    } while (0)
#else
#define AQ_MCA_BEGIN(mr, name) ((void)0)
#define AQ_MCA_END(mr) ((void)0)
#endif

#endif
