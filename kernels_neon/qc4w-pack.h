/* qc4w-pack.h - the packed INT4 weight layout shared by the NEON qc4w GEMMs.
 *
 * Rows are cut into tiles of AQ_NEON_NR = 8 (the last tile padded with rows of
 * code 0, zero 0, scale 0, which are computed and never stored). Per tile, per
 * group g, in order, one block of AQ_NEON_META_BYTES + 4 * group bytes:
 *
 *   float   scale[8]     f32 of the fp16 scale (exact, so the kernels need no
 *                        fp16 conversion and match aq_fp16_to_fp32 bit for bit)
 *   int32_t zero[8]      the weight zero points (8 for symmetric weights)
 *   int32_t code_sum[8]  sum of the group's raw codes q (0..15), per row
 *   uint8_t nibbles[4 * group]   the raw codes of 8 rows x group, two per byte,
 *                        in an order that each kernel defines (its pack)
 *
 * Why raw codes and corrections instead of (q - zero) in the inner loop: the
 * loop then only masks and shifts nibbles, and the zero points are applied once
 * per group, exactly, in int32:
 *   isum = sum (q - zw)(qa - za)
 *        = sum q*qa - za * code_sum - zw * (sum qa - group * za).
 * Every term is computed modulo 2^32 (vector int32 lanes wrap); the true isum
 * fits an int32, so the wrapped result is exact.
 */
#ifndef AQ_KERNELS_NEON_QC4W_PACK_H
#define AQ_KERNELS_NEON_QC4W_PACK_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "f16.h"
#include "quant.h"

#define AQ_NEON_NR 8
#define AQ_NEON_META_BYTES (3 * AQ_NEON_NR * 4)

static inline size_t aq_neon_group_bytes(size_t group) {
    return AQ_NEON_META_BYTES + 4 * group;
}

static inline size_t aq_neon_tile_bytes(const struct aq_q4w *w) {
    return (w->k / w->group) * aq_neon_group_bytes(w->group);
}

static inline size_t aq_neon_qc4w_packed_size(const struct aq_q4w *w) {
    return (w->n_rows + AQ_NEON_NR - 1) / AQ_NEON_NR * aq_neon_tile_bytes(w);
}

/* Raw code of element e of row r; 0 for the padding rows past n_rows. */
static inline uint8_t aq_neon_code(const struct aq_q4w *w, size_t r, size_t e) {
    if (r >= w->n_rows) return 0;
    const uint8_t byte = w->q[r * (w->k / 2) + e / 2];
    return (e & 1) ? (uint8_t) (byte >> 4) : (uint8_t) (byte & 0x0F);
}

/* Writes the metadata of (tile, group g) at dst. */
static inline void aq_neon_pack_meta(const struct aq_q4w *w, size_t tile, size_t g, uint8_t *dst) {
    const size_t groups = w->k / w->group;
    float scale[AQ_NEON_NR];
    int32_t zero[AQ_NEON_NR];
    int32_t code_sum[AQ_NEON_NR];
    for (size_t j = 0; j < AQ_NEON_NR; j++) {
        const size_t r = tile * AQ_NEON_NR + j;
        scale[j] = 0.0f;
        zero[j] = 0;
        code_sum[j] = 0;
        if (r >= w->n_rows) continue;
        const size_t gi = r * groups + g;
        scale[j] = aq_fp16_to_fp32(w->scale[gi]);
        zero[j] = w->zero != NULL ? w->zero[gi] : AQ_Q4W_SYMMETRIC_ZERO;
        for (size_t e = g * w->group; e < (g + 1) * w->group; e++) code_sum[j] += aq_neon_code(w, r, e);
    }
    memcpy(dst, scale, sizeof scale);
    memcpy(dst + sizeof scale, zero, sizeof zero);
    memcpy(dst + sizeof scale + sizeof zero, code_sum, sizeof code_sum);
}

/* (uint32_t) arithmetic so that large activation zero points wrap instead of
 * overflowing (UB); see the identity above. */
static inline int32_t aq_neon_act_term(int32_t act_sum, size_t group, int32_t za) {
    return (int32_t) ((uint32_t) act_sum - (uint32_t) group * (uint32_t) za);
}

/* Stores the 8 results of one tile row, only the first n_valid. */
static inline void aq_neon_store_row(float *dst, const float *vals, size_t n_valid) {
    memcpy(dst, vals, n_valid * sizeof(float));
}

/* Loop over the tile's tokens i < mr, written with the constant bound MR (the
 * kernel's token tile) and a guard: each kernel's tile function is inlined with
 * a constant mr, but clang optimizes the callee first and, with a bound of mr,
 * unrolls it for an unknown trip count and keeps the accumulator arrays in
 * memory (seen with bench/mca/run.sh). With MR the loops unroll fully and the
 * guards fold away after inlining; the pragma (GCC >= 8 and clang read it)
 * insists where clang's size heuristics would still keep a loop. */
#define AQ_FOR_TOKENS(i) \
    _Pragma("GCC unroll 8") for (size_t i = 0; i < MR; i++) \
        if (i < mr)

/* llvm-mca region markers (bench/mca/run.sh): compiled only with -DAQ_MCA, and
 * only in the tile instantiation with AQ_MCA_MR tokens, so a normal build has
 * none and the measured loop is the kernel's own. */
#ifdef AQ_MCA
#define AQ_MCA_BEGIN(mr, name)                                                   \
    do {                                                                         \
        if ((mr) == AQ_MCA_MR) __asm volatile("# LLVM-MCA-BEGIN " name);        \
    } while (0)
#define AQ_MCA_END(mr)                                                           \
    do {                                                                         \
        if ((mr) == AQ_MCA_MR) __asm volatile("# LLVM-MCA-END");                 \
    } while (0)
#else
#define AQ_MCA_BEGIN(mr, name) ((void) 0)
#define AQ_MCA_END(mr) ((void) 0)
#endif

#endif
