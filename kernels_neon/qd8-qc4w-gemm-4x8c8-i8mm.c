/* qd8-qc4w-gemm-4x8c8-i8mm.c - INT8 activations x INT4 weights with SMMLA
 * (Armv8.6 int8 matrix multiply, optional from Armv8.2; built with
 * -march=armv8.2-a+dotprod+i8mm, called only when dispatch found i8mm).
 *
 * SMMLA multiplies a 2 x 8 int8 block (two tokens, 8 consecutive k) by the
 * transpose of another (two weight rows, the same 8 k) into a 2 x 2 int32 block:
 * 32 multiply-adds an instruction where SDOT by lane does 16, so a prefill tile
 * needs half the multiply instructions of the dot-product tile.
 *
 * Tile: 4 tokens (2 token pairs) x 8 weight rows (4 row pairs). Weights packed by
 * aq_qc4w_packw_8c8_neon: per group, per 16 consecutive k, one 16-byte block per
 * row pair p; byte 8j + i holds row 2p + j at k + i in its low nibble and at
 * k + 8 + i in its high nibble, so one AND and one shift give the SMMLA operands
 * of k..k+7 and k+8..k+15. Activations are interleaved in registers: the 16 k of
 * two tokens, zipped by 64-bit halves. An odd last token pairs with itself; its
 * twin's results are never stored. The codes stay raw (0..15) and the zero points
 * are corrected per group (qc4w-packw.h), exactly as in the dot-product tile.
 *
 * Float part, exactly aq_qd8_qc4w_gemm_ref's (and the dot-product tile's):
 * acc = fma(scale_w * scale_a, (float) isum, acc), groups in order
 * (qd8-tile-neon.h). The outer
 * loop is lib/kernels/qd8-qc4w-gemm-loop.c.
 */
#include <arm_neon.h>

#include "qc4w-packw.h"
#include "qd8-qc4w-gemm-loop.h"
#include "qd8-tile-neon.h"

#define MR 4
#define PAIRS (MR / 2)

/* Loop over the tile's token pairs q (tokens 2q, 2q + 1) that hold a token; see
 * AQ_FOR_TOKENS for why the bound is a constant. */
#define FOR_PAIRS(q) _Pragma("GCC unroll 4") for (size_t q = 0; q < PAIRS; q++) if (2 * q < mr)

/* The low (zip1) or high (zip2) 64-bit halves of a and b, as float or int32. */
static inline float32x4_t zip1_64f(float32x4_t a, float32x4_t b) {
    return vreinterpretq_f32_f64(vzip1q_f64(vreinterpretq_f64_f32(a), vreinterpretq_f64_f32(b)));
}
static inline float32x4_t zip2_64f(float32x4_t a, float32x4_t b) {
    return vreinterpretq_f32_f64(vzip2q_f64(vreinterpretq_f64_f32(a), vreinterpretq_f64_f32(b)));
}
/* (v0, v1, v0, v1) or (v2, v3, v2, v3) of v: a row pair's values in the SMMLA layout. */
static inline float32x4_t pair_lo_f(float32x4_t v) {
    return vreinterpretq_f32_f64(vdupq_laneq_f64(vreinterpretq_f64_f32(v), 0));
}
static inline float32x4_t pair_hi_f(float32x4_t v) {
    return vreinterpretq_f32_f64(vdupq_laneq_f64(vreinterpretq_f64_f32(v), 1));
}
static inline int32x4_t pair_lo_s(int32x4_t v) {
    return vreinterpretq_s32_s64(vdupq_laneq_s64(vreinterpretq_s64_s32(v), 0));
}
static inline int32x4_t pair_hi_s(int32x4_t v) {
    return vreinterpretq_s32_s64(vdupq_laneq_s64(vreinterpretq_s64_s32(v), 1));
}

/* Tokens 2q and 2q + 1 (or 2q again when it is the last, odd one: its twin's
 * results are computed and never stored) of a pair. */
#define TWIN(q) (2 * (q) + 1 < mr ? 2 * (q) + 1 : 2 * (q))

/* mr (1..MR) tokens against one 8-row tile; inlined with a constant mr. general:
 * the zero points are corrected (asymmetric weights, or some za != 0, whose code
 * sums C' are counted with SMMLA against bytes of 1); else a group's sums are
 * final.
 *
 * Everything stays in SMMLA's layout: macc[q][p] and facc[q][p] hold tokens 2q,
 * 2q + 1 x rows 2p, 2p + 1 as (t0 r0, t0 r1, t1 r0, t1 r1), the group's scales are
 * laid out so (sp[p]: rows 2p, 2p + 1, twice) and the activation scales too (asc[q]:
 * t0, t0, t1, t1), so a group ends with the float work alone; the rows are put
 * back in order once, at the store. */
AQ_TILE_INLINE void tile_body(size_t mr, const struct aq_qc4w_tile *t, bool general, bool one_step) {
    const size_t group = one_step ? 32 : t->group, k = t->k;
    const size_t codes_at = AQ_NEON_NR * aq_qc4w_meta_bytes(t->asym);
    const uint8x16_t high_mask = vdupq_n_u8(0xF0);
    const int8x16_t one_bytes = vdupq_n_s8(1);
    float32x4_t facc[PAIRS][AQ_NEON_NR / 2], asc[PAIRS];
    int32x4_t zav[PAIRS];
    FOR_PAIRS(q) {
        float32x4_t f0[2], f1[2];
        aq_neon_acc_start(f0, t, 2 * q);
        aq_neon_acc_start(f1, t, TWIN(q));
        facc[q][0] = zip1_64f(f0[0], f1[0]);
        facc[q][1] = zip2_64f(f0[0], f1[0]);
        facc[q][2] = zip1_64f(f0[1], f1[1]);
        facc[q][3] = zip2_64f(f0[1], f1[1]);
        asc[q] = vcombine_f32(vdup_n_f32(t->a_scale[2 * q]), vdup_n_f32(t->a_scale[TWIN(q)]));
        zav[q] = vcombine_s32(vdup_n_s32(t->a_zero[2 * q]), vdup_n_s32(t->a_zero[TWIN(q)]));
    }
    /* Decode's accumulators, in row order (below). */
    float32x4_t frow[2];
    aq_neon_acc_start(frow, t, 0);
    const float a_scale0 = t->a_scale[0];
    /* The tile's fields in locals, so that the group loop reloads none of them. */
    const size_t groups = t->groups, block_bytes = t->block_bytes;
    const uint8_t *meta = t->w;
    const int8_t *a_group = t->a + t->g0 * group;

    for (size_t g = 0; g < groups; g++, meta += block_bytes, a_group += group) {
        const uint8_t *nib = meta + codes_at;
        int32x4_t cpair[AQ_NEON_NR / 2];
        for (size_t p = 0; p < AQ_NEON_NR / 2; p++) cpair[p] = vdupq_n_s32(0);
        /* One accumulator per pair and row pair, also in decode: splitting the k
         * halves over two (shorter SMMLA chains) measured slower in both models. */
        int32x4_t macc[PAIRS][AQ_NEON_NR / 2];
        FOR_PAIRS(q) {
            for (size_t p = 0; p < AQ_NEON_NR / 2; p++) macc[q][p] = vdupq_n_s32(0);
        }
        /* 32 k an iteration (groups are 32, 64 or 128): two steps of 16 k in one
         * block, which the compiler schedules together; for groups of 32 (one_step)
         * the group's only iteration, so the group loop carries no loop inside. */
        for (size_t kk = 0; kk < group; kk += 32) {
            if (one_step)
                AQ_MCA_BEGIN_K(mr, "i8mm-g32", "32");
            else
                AQ_MCA_BEGIN_K(mr, "i8mm", "32");
            _Pragma("GCC unroll 2") for (size_t half = 0; half < 32; half += 16) {
                /* A pair's 16 k as SMMLA operands: k..k+7 of both tokens, then
                 * k+8..k+15; an 8-byte load and a load into the upper half each (a
                 * lone token: a load to both halves), no shuffles. */
                int8x16_t a_lo[PAIRS], a_hi[PAIRS];
                FOR_PAIRS(q) {
                    const int64_t *a0 = (const int64_t *)(const void *)(a_group + 2 * q * k + kk + half);
                    if (2 * q + 1 < mr) {
                        const int64_t *a1 = (const int64_t *)(const void *)(a_group + (2 * q + 1) * k + kk + half);
                        a_lo[q] =
                            vreinterpretq_s8_s64(vld1q_lane_s64(a1, vcombine_s64(vld1_s64(a0), vdup_n_s64(0)), 1));
                        a_hi[q] = vreinterpretq_s8_s64(
                            vld1q_lane_s64(a1 + 1, vcombine_s64(vld1_s64(a0 + 1), vdup_n_s64(0)), 1));
                    } else {
                        a_lo[q] = vreinterpretq_s8_s64(vld1q_dup_s64(a0));
                        a_hi[q] = vreinterpretq_s8_s64(vld1q_dup_s64(a0 + 1));
                    }
                }
                /* (An LD1 of four registers in decode, as the dot-product tile does, cost
                 * the in-order A55 model more than it saved in the A57 one here.) */
                uint8x16x4_t packed;
                for (size_t p = 0; p < AQ_NEON_NR / 2; p++) packed.val[p] = vld1q_u8(nib + 16 * p);
                _Pragma("GCC unroll 4") for (size_t p = 0; p < AQ_NEON_NR / 2; p++) {
                    /* 16 q' of k..k+7 (a shift left) and of k+8..k+15 (an AND). */
                    const int8x16_t w_lo = vreinterpretq_s8_u8(vshlq_n_u8(packed.val[p], 4));
                    const int8x16_t w_hi = vreinterpretq_s8_u8(vandq_u8(packed.val[p], high_mask));
                    if (general) {
                        cpair[p] = vmmlaq_s32(cpair[p], one_bytes, w_lo);
                        cpair[p] = vmmlaq_s32(cpair[p], one_bytes, w_hi);
                    }
                    FOR_PAIRS(q) {
                        macc[q][p] = vmmlaq_s32(macc[q][p], a_lo[q], w_lo);
                        macc[q][p] = vmmlaq_s32(macc[q][p], a_hi[q], w_hi);
                    }
                }
                nib += 64;
            }
            AQ_MCA_END(mr);
        }
        float32x4_t scale[2], sp[AQ_NEON_NR / 2];
        aq_neon_block_scales(meta, scale);
        if (mr == 1) {
            /* Decode: the token paired with itself, macc[0][p] holds (r 2p, r 2p + 1)
             * twice; an EXT of two row pairs gives four rows in order, so the float
             * work is the dot-product tile's, on half the lanes of the SMMLA layout. */
            int32x4_t x0 = vextq_s32(macc[0][0], macc[0][1], 2), x1 = vextq_s32(macc[0][2], macc[0][3], 2);
            if (general) {
                int32x4_t zero[2];
                aq_neon_block_zeros_signed(meta, t->asym, zero);
                const int32_t a_term = t->a_term[g], a_zero = t->a_zero[0];
                x0 = vmlsq_n_s32(vmlsq_n_s32(x0, vshlq_n_s32(zero[0], 4), a_term), vextq_s32(cpair[0], cpair[1], 2),
                                 a_zero);
                x1 = vmlsq_n_s32(vmlsq_n_s32(x1, vshlq_n_s32(zero[1], 4), a_term), vextq_s32(cpair[2], cpair[3], 2),
                                 a_zero);
            }
            aq_neon_group_fma(frow, a_scale0, scale, vcvtq_n_f32_s32(x0, 4), vcvtq_n_f32_s32(x1, 4));
            continue;
        }
        sp[0] = pair_lo_f(scale[0]);
        sp[1] = pair_hi_f(scale[0]);
        sp[2] = pair_lo_f(scale[1]);
        sp[3] = pair_hi_f(scale[1]);
        int32x4_t zp16[AQ_NEON_NR / 2];
        if (general) {
            int32x4_t zero[2];
            aq_neon_block_zeros_signed(meta, t->asym, zero);
            zero[0] = vshlq_n_s32(zero[0], 4);
            zero[1] = vshlq_n_s32(zero[1], 4);
            zp16[0] = pair_lo_s(zero[0]);
            zp16[1] = pair_hi_s(zero[0]);
            zp16[2] = pair_lo_s(zero[1]);
            zp16[3] = pair_hi_s(zero[1]);
        }
        FOR_PAIRS(q) {
            int32x4_t tv = vdupq_n_s32(0);
            if (general)
                tv = vcombine_s32(vdup_n_s32(t->a_term[2 * q * groups + g]),
                                  vdup_n_s32(t->a_term[TWIN(q) * groups + g]));
            for (size_t p = 0; p < AQ_NEON_NR / 2; p++) {
                /* 16 isum: 16 S' - 16 (zw - 8) T - za 16 C'. */
                int32x4_t isum = macc[q][p];
                if (general) isum = vmlsq_s32(vmlsq_s32(isum, zp16[p], tv), cpair[p], zav[q]);
                facc[q][p] = vfmaq_f32(facc[q][p], vmulq_f32(sp[p], asc[q]), vcvtq_n_f32_s32(isum, 4));
            }
        }
    }
    if (mr == 1) {
        aq_neon_acc_store(t, 0, frow);
        return;
    }
    FOR_PAIRS(q) {
        const float32x4_t f0[2] = {zip1_64f(facc[q][0], facc[q][1]), zip1_64f(facc[q][2], facc[q][3])};
        aq_neon_acc_store(t, 2 * q, f0);
        if (2 * q + 1 < mr) {
            const float32x4_t f1[2] = {zip2_64f(facc[q][0], facc[q][1]), zip2_64f(facc[q][2], facc[q][3])};
            aq_neon_acc_store(t, 2 * q + 1, f1);
        }
    }
}

AQ_NEON_TILE_SIGNED_AND_STEP(tile, tile_body)

AQ_QD8_QC4W_GEMM_DEFINE(aq_qd8_qc4w_gemm_4x8c8__i8mm, MR, AQ_NEON_NR, tile)
