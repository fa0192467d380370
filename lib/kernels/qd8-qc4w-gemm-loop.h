/* qd8-qc4w-gemm-loop.h - the outer loop of every qd8 x qc4w GEMM kernel, written
 * once (qd8-qc4w-gemm-loop.c, plain C), and the micro-tile contract an ISA file
 * fills. Internal to lib/kernels and the kernel folders.
 *
 * A kernel file holds only its micro-tile and two lines:
 *
 *   AQ_TILE_INLINE void tile_body(size_t mr, const struct aq_qc4w_tile *t, bool with_c, bool group_scales) { ... }
 *   AQ_QC4W_TILE_WITH_C_AND_SCALES(tile, tile_body)
 *   AQ_QD8_QC4W_GEMM_DEFINE(aq_qd8_qc4w_gemm_4x8c4__avx2, MR, NR, tile)
 *
 * The loop does the rest: weight rows in blocks of about AQ_QC4W_BLOCK_BYTES of
 * packed weights (kept in L2 while every activation tile passes over them), the
 * activation rows in tiles of MR (the last one shorter; the tile is instantiated
 * for each constant mr, and for per-token and group-wise activation scales apart),
 * the rows [n_begin, n_end) in packed tiles of NR (the last one partial:
 * t->nr < NR), the groups in chunks of at most AQ_QC4W_GROUP_CHUNK, and the
 * activation terms per row and group that every kernel's zero-point correction
 * needs.
 *
 * The packer convention of every qc4w kernel (kernels_x86/qc4w-packw.c,
 * kernels_neon/qc4w-packw.c): rows are cut into tiles of NR, the last one padded
 * with rows of scale +0 (they compute 0 and are never stored); per tile, per group
 * in order, one block of NR * (aq_qc4w_meta_bytes(asym) + group / 2) bytes:
 *   uint16_t scale[NR]   the rows' f16 scales, as stored in aq_q4w;
 *   uint8_t  zero[NR]    the rows' zero points 0..15, only for asymmetric weights;
 *   the NR * group raw codes 0..15, two per byte, in the order the kernel's tile
 *   reads them (the architecture's qc4w-packw.h).
 * So a symmetric group of 32 takes 18 bytes a row, 4.5 bits a weight, as
 * llama.cpp's Q4_0 does. The codes stay raw and the zero points are corrected once
 * per group in exact int32 arithmetic (modulo 2^32; the true value fits):
 *   isum = sum (q - zw)(qa - za) = S - zw * T - za * C,
 *   S = sum q * qa,  T = sum qa - group * za (the activation term, per token and
 *   group, from the loop),  C = sum q (the code sum, which a kernel computes from the
 *   codes it unpacks, only when some za of the tile is not 0: never for dynamic,
 *   symmetric activations).
 */
#ifndef AQ_QD8_QC4W_GEMM_LOOP_H
#define AQ_QD8_QC4W_GEMM_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "quant.h"
#include "ukernels.h"

/* Target size of a block of packed weight rows. */
#define AQ_QC4W_BLOCK_BYTES (256 * 1024)
/* Groups per chunk: bounds the activation terms on the stack (8 rows x 512 x 4 bytes
 * = 16 KiB). Longer rows are done in chunks, the float accumulators going through
 * out between chunks (an exact store and reload). */
#define AQ_QC4W_GROUP_CHUNK 512

/* Elements per chunk of a paired loop (aq_qd8_qc4w_gemm_loop_paired): bounds its
 * copy of the activation tile on the stack (8 rows x 2048 = 16 KiB). */
#define AQ_QC4W_PAIRED_K 2048

/* Metadata bytes per weight row and group of the packed layouts: the f16 scale,
 * and for asymmetric weights the zero point. */
static inline size_t aq_qc4w_meta_bytes(bool asym) { return asym ? 3 : 2; }

/* What one call of a micro-tile computes: mr activation rows times one packed tile
 * of NR weight rows (nr of them stored), over groups [g0, g0 + groups). */
struct aq_qc4w_tile {
    const int8_t *a; /* row 0 of the activation tile; row t starts at a + t * k */
    size_t k;        /* elements per row */
    /* Only from aq_qd8_qc4w_gemm_loop_paired (else NULL): the chunk's codes with token
     * pairs interleaved by 8 elements, as SMMLA reads two tokens. Pair q is rows 2q and
     * 2q + 1 (or row 2q twice when it is the last, odd one) of the pairs = (mr + 1) / 2;
     * per 16 elements e..e+15 of the chunk, the pairs in order, 32 bytes each: e..e+7
     * of row 2q, of row 2q + 1, then e+8..e+15 of both. Made once per activation tile
     * and chunk, for all its weight tiles. */
    const int8_t *a_pairs;
    /* Token t's activation scale for group g0 + g (aq_qc4w_a_scale): a_scale[t] for
     * per-token scales; for group-wise ones (a->group set), which only the tile's
     * group-scale instantiation gets, one per weight group, a_scale[g * a_scale_stride + t]
     * (the stride: mr rounded up to even; for odd mr, a_scale[g * a_scale_stride + mr]
     * is token mr - 1's again, the twin of the paired tiles). */
    const float *a_scale;
    size_t a_scale_stride;
    const int32_t *a_zero; /* a_zero[t] (za) */
    bool za_any;           /* whether some a_zero[t], t < mr, is not 0 (C is needed) */
    const int32_t *a_term; /* a_term[t * groups + g]: T of row t and group g0 + g (modulo 2^32) */
    const uint8_t *w;      /* the packed block of group g0 of this tile; groups follow */
    size_t block_bytes;    /* bytes of one packed block (tile x group) */
    bool asym;             /* whether the blocks carry zero points (else every zw is 8) */
    size_t group;          /* elements per group */
    size_t g0, groups;     /* the chunk of groups */
    size_t nr;             /* weight rows to store, 1..NR */
    bool accumulate;       /* false: start from 0.0f; true: from out (an earlier chunk) */
    float *out;            /* out[t * out_stride + j] for row j of the tile */
    size_t out_stride;
};

/* Token i's activation scale for group g0 + g of the chunk; group_scales, a
 * constant of the tile's instantiation, is whether the activations have group-wise
 * scales. With per-token scales the compiler then hoists the load out of the group
 * loop (it cannot from a step known only at run time: 8% of a prefill's GEMM), and
 * group-wise ones keep the long chunks (one activation group a chunk, the
 * accumulators stored and reloaded after each, ran at half the speed). */
static inline float aq_qc4w_a_scale(const struct aq_qc4w_tile *t, size_t i, size_t g, bool group_scales) {
    return group_scales ? t->a_scale[g * t->a_scale_stride + i] : t->a_scale[i];
}

/* -v modulo 2^32 (no overflow for any v). */
static inline int32_t aq_qc4w_negate(int32_t v) { return (int32_t)(0u - (uint32_t)v); }

/* The symmetric weights' zero point times T, negated, as the int32 a kernel starts
 * a group's sum from (-zw * T with zw = 8, modulo 2^32). */
static inline int32_t aq_qc4w_symmetric_start(int32_t a_term) {
    return (int32_t)(0u - (uint32_t)AQ_Q4W_SYMMETRIC_ZERO * (uint32_t)a_term);
}

typedef void (*aq_qc4w_tile_fn)(size_t mr, const struct aq_qc4w_tile *t);

/* The family's gemm (aq_qc4w_gemm_kernel) for a kernel with tile mr_max x nr,
 * calling token_tile (per-token activation scales) or group_tile (group-wise ones)
 * with mr <= mr_max. */
void aq_qd8_qc4w_gemm_loop(size_t mr_max, size_t nr, aq_qc4w_tile_fn token_tile, aq_qc4w_tile_fn group_tile, size_t m,
                           size_t n_begin, size_t n_end, const struct aq_qd8 *a, const struct aq_q4w *w,
                           const void *packed, float *out, size_t out_stride);

/* The same, passing the tiles a_pairs too (chunks of at most AQ_QC4W_PAIRED_K
 * elements). */
void aq_qd8_qc4w_gemm_loop_paired(size_t mr_max, size_t nr, aq_qc4w_tile_fn token_tile, aq_qc4w_tile_fn group_tile,
                                  size_t m, size_t n_begin, size_t n_end, const struct aq_qd8 *a,
                                  const struct aq_q4w *w, const void *packed, float *out, size_t out_stride);

/* Bytes of the packed layout of w in tiles of nr rows (the packer convention). */
size_t aq_qc4w_packed_bytes(const struct aq_q4w *w, size_t nr);

/* Defines the micro-tile `tile(mr, t)` from `body(mr, t, with_c)`, instantiated
 * with a constant with_c, the expression `corrected` of t: the corrections (the
 * code sums C where some za is not 0, never for dynamic, symmetric activations)
 * are counted only in the instantiation for tiles that need them, so the other
 * one's inner loop does no work for them. */
#define AQ_QC4W_TILE_CORRECTED_IF(tile, body, corrected)                                                               \
    AQ_TILE_INLINE void tile(size_t mr, const struct aq_qc4w_tile *t) {                                                \
        if (corrected)                                                                                                 \
            body(mr, t, true);                                                                                         \
        else                                                                                                           \
            body(mr, t, false);                                                                                        \
    }

/* The same, with a second constant: groups of 32 (one step of 32 k, so no sum
 * kept across steps) instantiated apart from any other group size. */
#define AQ_QC4W_TILE_CORRECTED_IF_AND_STEP(tile, body, corrected)                                                      \
    AQ_TILE_INLINE void tile(size_t mr, const struct aq_qc4w_tile *t) {                                                \
        const bool with_c = (corrected), one_step = t->group == 32;                                                    \
        if (with_c) {                                                                                                  \
            if (one_step)                                                                                              \
                body(mr, t, true, true);                                                                               \
            else                                                                                                       \
                body(mr, t, true, false);                                                                              \
        } else if (one_step) {                                                                                         \
            body(mr, t, false, true);                                                                                  \
        } else {                                                                                                       \
            body(mr, t, false, false);                                                                                 \
        }                                                                                                              \
    }

/* The two micro-tiles of a kernel, `tile##_token(mr, t)` and `tile##_group(mr, t)`,
 * from `body(mr, t, with_c, group_scales)` (or `body(mr, t, with_c, one_step,
 * group_scales)`), group_scales a constant as aq_qc4w_a_scale says: false in the
 * one for per-token activation scales, true in the one for group-wise scales
 * (AQ_QC4W_TILE_FNS calls each from a function of its own). */
#define AQ_QC4W_TILE_CORRECTED_IF_AND_SCALES(tile, body, corrected)                                                    \
    AQ_TILE_INLINE void tile##_token_scales(size_t mr, const struct aq_qc4w_tile *t, bool with_c) {                    \
        body(mr, t, with_c, false);                                                                                    \
    }                                                                                                                  \
    AQ_TILE_INLINE void tile##_group_scales(size_t mr, const struct aq_qc4w_tile *t, bool with_c) {                    \
        body(mr, t, with_c, true);                                                                                     \
    }                                                                                                                  \
    AQ_QC4W_TILE_CORRECTED_IF(tile##_token, tile##_token_scales, corrected)                                            \
    AQ_QC4W_TILE_CORRECTED_IF(tile##_group, tile##_group_scales, corrected)
#define AQ_QC4W_TILE_CORRECTED_IF_STEP_AND_SCALES(tile, body, corrected)                                               \
    AQ_TILE_INLINE void tile##_token_scales(size_t mr, const struct aq_qc4w_tile *t, bool with_c, bool one_step) {     \
        body(mr, t, with_c, one_step, false);                                                                          \
    }                                                                                                                  \
    AQ_TILE_INLINE void tile##_group_scales(size_t mr, const struct aq_qc4w_tile *t, bool with_c, bool one_step) {     \
        body(mr, t, with_c, one_step, true);                                                                           \
    }                                                                                                                  \
    AQ_QC4W_TILE_CORRECTED_IF_AND_STEP(tile##_token, tile##_token_scales, corrected)                                   \
    AQ_QC4W_TILE_CORRECTED_IF_AND_STEP(tile##_group, tile##_group_scales, corrected)
/* Layouts of unsigned codes, corrected where some za is not 0. */
#define AQ_QC4W_TILE_WITH_C_AND_SCALES(tile, body) AQ_QC4W_TILE_CORRECTED_IF_AND_SCALES(tile, body, t->za_any)
#define AQ_QC4W_TILE_WITH_C_STEP_AND_SCALES(tile, body) AQ_QC4W_TILE_CORRECTED_IF_STEP_AND_SCALES(tile, body, t->za_any)

/* The two tile functions of the kernel `name` over `tile##_token` and `tile##_group`,
 * each instantiated for every constant mr <= MR: separate functions, which the loop
 * calls through pointers, so that the per-token one compiles as it did alone (both
 * in one function, clang laid out the plain NEON tile's group loop otherwise: 49.1
 * -> 54.1 cycles a group of 32 in decode, LLVM 14's A57 model, bench/mca). */
#define AQ_QC4W_TILE_FNS(name, MR, tile)                                                                               \
    static void name##_token_tile(size_t mr, const struct aq_qc4w_tile *t) {                                           \
        AQ_TILE_FOR_MR(MR, mr, tile##_token, t);                                                                       \
    }                                                                                                                  \
    static void name##_group_tile(size_t mr, const struct aq_qc4w_tile *t) { AQ_TILE_FOR_MR(MR, mr, tile##_group, t); }

/* Defines the kernel `name` from the inline micro-tiles of AQ_QC4W_TILE_*_AND_SCALES. */
#define AQ_QD8_QC4W_GEMM_DEFINE(name, MR, NR, tile)                                                                    \
    AQ_QC4W_TILE_FNS(name, MR, tile)                                                                                   \
    void name(size_t m, size_t n_begin, size_t n_end, const struct aq_qd8 *a, const struct aq_q4w *w,                  \
              const void *packed, float *out, size_t out_stride) {                                                     \
        aq_qd8_qc4w_gemm_loop(MR, NR, name##_token_tile, name##_group_tile, m, n_begin, n_end, a, w, packed, out,      \
                              out_stride);                                                                             \
    }

/* The same, with the paired loop (t->a_pairs). */
#define AQ_QD8_QC4W_GEMM_DEFINE_PAIRED(name, MR, NR, tile)                                                             \
    AQ_QC4W_TILE_FNS(name, MR, tile)                                                                                   \
    void name(size_t m, size_t n_begin, size_t n_end, const struct aq_qd8 *a, const struct aq_q4w *w,                  \
              const void *packed, float *out, size_t out_stride) {                                                     \
        aq_qd8_qc4w_gemm_loop_paired(MR, NR, name##_token_tile, name##_group_tile, m, n_begin, n_end, a, w, packed,    \
                                     out, out_stride);                                                                 \
    }

#endif /* AQ_QD8_QC4W_GEMM_LOOP_H */
