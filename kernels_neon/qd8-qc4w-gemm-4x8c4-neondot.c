/* qd8-qc4w-gemm-4x8c4-neondot.c - INT8 activations x INT4 weights with SDOT
 * (ARMv8.2 dot product; built with -march=armv8.2-a+dotprod, called only when
 * dispatch found the extension).
 *
 * Tile: 4 tokens x 8 weight rows; one SDOT-by-lane multiplies 4 rows x 4 k of
 * weights with 4 activations of one token. Weights packed by
 * aq_qc4w_packw_8c4_neon: per group, per 4 consecutive k, 16 bytes; byte 4j + i
 * holds row j (0..3), k + i in its low nibble and row j + 4 in its high nibble,
 * both signed (code - 8), so one shift each gives the two SDOT operands of rows
 * 0-3 and rows 4-7. Symmetric weights and activations need no zero-point work;
 * otherwise the zero points are corrected per group (qc4w-packw.h), with the
 * activation term from the outer loop.
 *
 * Float part, exactly aq_qd8_qc4w_gemm_ref's: acc = fma(scale_w * scale_a,
 * (float) isum, acc), groups in order (qd8-tile-neon.h). The outer loop is
 * lib/kernels/qd8-qc4w-gemm-loop.c.
 */
#include <arm_neon.h>

#include "qc4w-packw.h"
#include "qd8-qc4w-gemm-loop.h"
#include "qd8-tile-neon.h"

#define MR 4

/* mr (1..MR) tokens against one 8-row tile; inlined with a constant mr so the
 * token loops unroll and the accumulators stay in registers. general: the zero
 * points are corrected (asymmetric weights, or some za != 0, whose code sums C'
 * are counted with two SDOTs against bytes of 1); else a group's sums are final.
 * group_scales: as aq_qc4w_a_scale. */
AQ_TILE_INLINE void tile_body(size_t mr, const struct aq_qc4w_tile *t, bool general, bool one_step, bool group_scales) {
    const size_t group = one_step ? 32 : t->group, k = t->k;
    const size_t codes_at = AQ_NEON_NR * aq_qc4w_meta_bytes(t->asym);
    const int8x16_t one_bytes = vdupq_n_s8(1);
    float32x4_t facc[MR][2];
    AQ_FOR_TOKENS(i) aq_neon_acc_start(facc[i], t, i);
    /* The tokens' activation scales in one register, taken by lane at the end of a
     * group: one register each left the prefill tile short of registers (a spill
     * in the loop over groups of 32). */
    float a_scale[MR];
    memset(a_scale, 0, sizeof a_scale);
    memcpy(a_scale, t->a_scale, mr * sizeof(float));
    const float32x4_t asv = vld1q_f32(a_scale);
    /* The tile's fields in locals, so that the group loop reloads none of them. */
    const size_t groups = t->groups, block_bytes = t->block_bytes, a_scale_stride = t->a_scale_stride;
    const float *const a_scales = t->a_scale;
    const uint8_t *meta = t->w;
    const int8_t *a_group = t->a + t->g0 * group;

    for (size_t g = 0; g < groups; g++, meta += block_bytes, a_group += group) {
        const int8_t *nib = (const int8_t *)(meta + codes_at);
        int32x4_t csum[2] = {vdupq_n_s32(0), vdupq_n_s32(0)};
        /* dacc[i]: rows 0-3 and 4-7 of token i. Also in decode one pair: splitting
         * the lanes over two (shorter SDOT chains) measured slower in both models
         * once the inner loop covered 32 k. */
        int32x4_t dacc[MR][2];
        AQ_FOR_TOKENS(i) { dacc[i][0] = dacc[i][1] = vdupq_n_s32(0); }
        /* 32 k an iteration (groups are 32, 64 or 128): two steps of 16 k in one
         * block, which the compiler schedules together; for groups of 32 (one_step)
         * the group's only iteration, so the group loop carries no loop inside. */
        for (size_t kk = 0; kk < group; kk += 32) {
            if (one_step)
                AQ_MCA_BEGIN_K(mr, group_scales, "neondot-g32", "32");
            else
                AQ_MCA_BEGIN_K(mr, group_scales, "neondot", "32");
            _Pragma("GCC unroll 2") for (size_t half = 0; half < 32; half += 16) {
                int8x16_t av[MR];
                AQ_FOR_TOKENS(i) av[i] = vld1q_s8(a_group + i * k + kk + half);
                /* Decode: the 64 bytes of codes in one LD1 of four registers, fewer
                 * micro-ops than the pairs of loads the compiler makes otherwise; with
                 * more tokens the separate loads schedule better. */
                int8x16x4_t packed;
                if (mr == 1) {
                    packed = vld1q_s8_x4(nib);
                } else {
                    for (size_t lane = 0; lane < 4; lane++) packed.val[lane] = vld1q_s8(nib + 16 * lane);
                }
                /* The lane index of SDOT must be a constant: four explicit steps.
                 * Rows 0-3 (low nibbles) come out as 16 q' (a shift left), rows 4-7
                 * as q' (an arithmetic shift right). */
#define STEP(lane)                                                                                                     \
    do {                                                                                                               \
        const int8x16_t p = packed.val[lane];                                                                          \
        const int8x16_t w_lo = vshlq_n_s8(p, 4);                                                                       \
        const int8x16_t w_hi = vshrq_n_s8(p, 4);                                                                       \
        if (general) {                                                                                                 \
            csum[0] = vdotq_s32(csum[0], w_lo, one_bytes);                                                             \
            csum[1] = vdotq_s32(csum[1], w_hi, one_bytes);                                                             \
        }                                                                                                              \
        AQ_FOR_TOKENS(i) {                                                                                             \
            dacc[i][0] = vdotq_laneq_s32(dacc[i][0], w_lo, av[i], lane);                                               \
            dacc[i][1] = vdotq_laneq_s32(dacc[i][1], w_hi, av[i], lane);                                               \
        }                                                                                                              \
    } while (0)
                STEP(0);
                STEP(1);
                STEP(2);
                STEP(3);
#undef STEP
                nib += 64;
            }
            AQ_MCA_END(mr, group_scales);
        }
        float32x4_t scale[2];
        aq_neon_block_scales(meta, scale);
        int32x4_t zero16 = vdupq_n_s32(0), zero[2] = {vdupq_n_s32(0), vdupq_n_s32(0)};
        if (general) {
            aq_neon_block_zeros_signed(meta, t->asym, zero);
            zero16 = vshlq_n_s32(zero[0], 4);
        }
        /* The group's activation scales of the tokens, as asv: group scales are a
         * row of 2 or 4 (mr rounded up to even, struct aq_qc4w_tile) per group, one
         * load (read as scalars, one register each, they made clang spill in the
         * prefill tile's group loop: 83.1 cycles a group of 32 in LLVM 14's A57
         * model; 67.1 so, as with per-token scales). */
        float32x4_t gsv = asv;
        if (group_scales) {
            const float *row = a_scales + g * a_scale_stride;
            gsv = mr > 2 ? vld1q_f32(row) : vcombine_f32(vld1_f32(row), vdup_n_f32(0.0f));
        }
        /* Token I's sums into its accumulators, as aq_neon_group_fma does (the lane
         * of gsv must be a literal: written out for each of the MR = 4 tokens). 16
         * isum for rows 0-3, isum for rows 4-7, as the sums are. */
#define GROUP_END(I)                                                                                                   \
    do {                                                                                                               \
        if ((I) < mr) {                                                                                                \
            int32x4_t isum0 = dacc[I][0], isum1 = dacc[I][1];                                                          \
            if (general) {                                                                                             \
                const int32_t a_term = t->a_term[(I)*groups + g];                                                      \
                isum0 = vmlsq_n_s32(vmlsq_n_s32(isum0, zero16, a_term), csum[0], t->a_zero[I]);                        \
                isum1 = vmlsq_n_s32(vmlsq_n_s32(isum1, zero[1], a_term), csum[1], t->a_zero[I]);                       \
            }                                                                                                          \
            facc[I][0] = vfmaq_f32(facc[I][0], vmulq_laneq_f32(scale[0], gsv, I), vcvtq_n_f32_s32(isum0, 4));          \
            facc[I][1] = vfmaq_f32(facc[I][1], vmulq_laneq_f32(scale[1], gsv, I), vcvtq_f32_s32(isum1));               \
        }                                                                                                              \
    } while (0)
        _Static_assert(MR == 4, "GROUP_END is written out for 4 tokens");
        GROUP_END(0);
        GROUP_END(1);
        GROUP_END(2);
        GROUP_END(3);
#undef GROUP_END
    }
    AQ_FOR_TOKENS(i) aq_neon_acc_store(t, i, facc[i]);
}

AQ_NEON_TILE_SIGNED_STEP_AND_SCALES(tile, tile_body)

AQ_QD8_QC4W_GEMM_DEFINE(aq_qd8_qc4w_gemm_4x8c4__neondot, MR, AQ_NEON_NR, tile)
