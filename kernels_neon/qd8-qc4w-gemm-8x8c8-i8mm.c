/* qd8-qc4w-gemm-8x8c8-i8mm.c - INT8 activations x INT4 weights with SMMLA
 * (Armv8.6 int8 matrix multiply, optional from Armv8.2; built with
 * -march=armv8.2-a+dotprod+i8mm, called only when dispatch found i8mm).
 *
 * SMMLA multiplies a 2 x 8 int8 block (two tokens, 8 consecutive k) by the
 * transpose of another (two weight rows, the same 8 k) into a 2 x 2 int32 block:
 * 32 multiply-adds an instruction where SDOT by lane does 16, so a prefill tile
 * needs half the multiply instructions of the dot-product tile.
 *
 * Two tiles, both over 8 weight rows (4 row pairs): up to 4 tokens (2 token
 * pairs), all 8 rows at once (tile_4: decode and short tails), and 5 to 8 tokens
 * (4 token pairs) in two passes of 4 rows each (tile_8: prefill). The passes
 * exist because 8 rows x 8 tokens of integer and float accumulators would take
 * all 32 vector registers; with 4 rows a pass holds 8 + 8 of them, and each
 * weight load's nibble unpacks and scale conversion serve 8 tokens instead of 4,
 * which is what bounded the 4-token tile (docs/ARM.md). Each pass loads the
 * activations again: loads alone, no vector work.
 *
 * Weights packed by aq_qc4w_packw_8c8_neon: per group, per 16 consecutive k, one
 * 16-byte block per row pair p; byte 8j + i holds row 2p + j at k + i in its low
 * nibble and at k + 8 + i in its high nibble, so one AND and one shift give the
 * SMMLA operands of k..k+7 and k+8..k+15. Activations come with token pairs
 * interleaved by 8 k, as SMMLA reads two tokens (t->a_pairs, made by the paired
 * loop once per activation tile for all its weight tiles), so an operand is one
 * 16-byte load with no address arithmetic: interleaving in registers, with a load
 * to a lane per 8 k of the second token, left the tile of 8 tokens bound by the
 * A57 model's 3-wide dispatch (its loads and address arithmetic). An odd last
 * token pairs with itself; its twin's results are never stored. The codes are
 * signed (code - 8) and the zero points are corrected per group (qc4w-packw.h),
 * exactly as in the dot-product tile.
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

#define MR 8
/* Token pairs of tile_4 and tile_8. */
#define PAIRS_4 2
#define PAIRS_8 4
/* Row pairs of a pass of tile_8. */
#define PASS_PAIRS 2

/* Loop over the tile's first `pairs` token pairs q (tokens 2q, 2q + 1) that hold
 * a token; see AQ_FOR_TOKENS for why the bound is a constant. */
#define FOR_PAIRS(q, pairs) _Pragma("GCC unroll 4") for (size_t q = 0; q < (pairs); q++) if (2 * q < mr)

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
/* Token pairs of mr tokens: the stride of t->a_pairs is 32 * PAIRS(mr) per 16 k. */
#define PAIRS(mr) (((mr) + 1) / 2)

/* Token pair q's activation scales from a group's row of group scales (struct
 * aq_qc4w_tile: a pair's two adjacent, the twin's included), laid out as SMMLA's
 * results are: (t0, t0, t1, t1); one load of 8 bytes and a ZIP1 (a scalar load
 * and three lane inserts a pair took the A57 model's group of 32 of the prefill
 * tile to 66.2 cycles, 56.1 so; per-token scales: 47.2). */
AQ_TILE_INLINE float32x4_t pair_group_scales(const float *row, size_t q) {
    const float32x4_t two = vcombine_f32(vld1_f32(row + 2 * q), vdup_n_f32(0.0f));
    return vzip1q_f32(two, two);
}

/* mr (1..4) tokens against one 8-row tile; inlined with a constant mr. general:
 * the zero points are corrected (asymmetric weights, or some za != 0, whose code
 * sums C' are counted with SMMLA against bytes of 1); else a group's sums are
 * final. group_scales: as aq_qc4w_a_scale; per-token scales are laid out once,
 * group scales at each group's end.
 *
 * Everything stays in SMMLA's layout: macc[q][p] and facc[q][p] hold tokens 2q,
 * 2q + 1 x rows 2p, 2p + 1 as (t0 r0, t0 r1, t1 r0, t1 r1), the group's scales are
 * laid out so (sp[p]: rows 2p, 2p + 1, twice) and the activation scales too (asc[q]:
 * t0, t0, t1, t1), so a group ends with the float work alone; the rows are put
 * back in order once, at the store. */
AQ_TILE_INLINE void tile_4(size_t mr, const struct aq_qc4w_tile *t, bool general, bool one_step, bool group_scales) {
    const size_t group = one_step ? 32 : t->group;
    const size_t codes_at = AQ_NEON_NR * aq_qc4w_meta_bytes(t->asym);
    const uint8x16_t high_mask = vdupq_n_u8(0xF0);
    const int8x16_t one_bytes = vdupq_n_s8(1);
    float32x4_t facc[PAIRS_4][AQ_NEON_NR / 2], asc[PAIRS_4];
    int32x4_t zav[PAIRS_4];
    FOR_PAIRS(q, PAIRS_4) {
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
    const size_t groups = t->groups, block_bytes = t->block_bytes, a_scale_stride = t->a_scale_stride;
    const float *const a_scales = t->a_scale;
    const uint8_t *meta = t->w;
    const int8_t *pair_group = t->a_pairs;

    for (size_t g = 0; g < groups; g++, meta += block_bytes, pair_group += PAIRS(mr) * 2 * group) {
        const uint8_t *nib = meta + codes_at;
        int32x4_t cpair[AQ_NEON_NR / 2];
        for (size_t p = 0; p < AQ_NEON_NR / 2; p++) cpair[p] = vdupq_n_s32(0);
        /* One accumulator per pair and row pair, also in decode: splitting the k
         * halves over two (shorter SMMLA chains) measured slower in both models. */
        int32x4_t macc[PAIRS_4][AQ_NEON_NR / 2];
        FOR_PAIRS(q, PAIRS_4) {
            for (size_t p = 0; p < AQ_NEON_NR / 2; p++) macc[q][p] = vdupq_n_s32(0);
        }
        /* 32 k an iteration (groups are 32, 64 or 128): two steps of 16 k in one
         * block, which the compiler schedules together; for groups of 32 (one_step)
         * the group's only iteration, so the group loop carries no loop inside. */
        for (size_t kk = 0; kk < group; kk += 32) {
            if (one_step)
                AQ_MCA_BEGIN_K(mr, group_scales, "i8mm-g32", "32");
            else
                AQ_MCA_BEGIN_K(mr, group_scales, "i8mm", "32");
            _Pragma("GCC unroll 2") for (size_t half = 0; half < 32; half += 16) {
                /* A pair's 16 k as SMMLA operands, k..k+7 of both tokens then
                 * k+8..k+15: 32 bytes of t->a_pairs. */
                int8x16_t a_lo[PAIRS_4], a_hi[PAIRS_4];
                FOR_PAIRS(q, PAIRS_4) {
                    const int8_t *pair = pair_group + PAIRS(mr) * 2 * (kk + half) + 32 * q;
                    a_lo[q] = vld1q_s8(pair);
                    /* Decode's lone token holds each 8 k twice, so k+8..k+15 can be an
                     * LD1R of 8 bytes; then no two 16-byte loads are adjacent for the
                     * compiler to merge into an LDP of q registers, which LLVM's
                     * Cortex-A55 model charges 6 load cycles (two LDR q: 2); groups of
                     * 64 and 128, A55 / A57 model: 58 / 21.1 -> 51 / 21.1 cycles an
                     * iteration. The step of groups of 32 keeps the LDP: 66 / 28.1
                     * there, 63 / 29.2 with the LD1R. */
                    if (mr == 1 && !one_step)
                        a_hi[q] = vreinterpretq_s8_s64(vld1q_dup_s64((const int64_t *)(const void *)(pair + 16)));
                    else
                        a_hi[q] = vld1q_s8(pair + 16);
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
                    FOR_PAIRS(q, PAIRS_4) {
                        macc[q][p] = vmmlaq_s32(macc[q][p], a_lo[q], w_lo);
                        macc[q][p] = vmmlaq_s32(macc[q][p], a_hi[q], w_hi);
                    }
                }
                nib += 64;
            }
            AQ_MCA_END(mr, group_scales);
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
            aq_neon_group_fma(frow, group_scales ? a_scales[g * a_scale_stride] : a_scale0, scale,
                              vcvtq_n_f32_s32(x0, 4), vcvtq_n_f32_s32(x1, 4));
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
        FOR_PAIRS(q, PAIRS_4) {
            int32x4_t tv = vdupq_n_s32(0);
            if (general)
                tv = vcombine_s32(vdup_n_s32(t->a_term[2 * q * groups + g]),
                                  vdup_n_s32(t->a_term[TWIN(q) * groups + g]));
            const float32x4_t a_sc = group_scales ? pair_group_scales(a_scales + g * a_scale_stride, q) : asc[q];
            for (size_t p = 0; p < AQ_NEON_NR / 2; p++) {
                /* 16 isum: 16 S' - 16 (zw - 8) T - za 16 C'. */
                int32x4_t isum = macc[q][p];
                if (general) isum = vmlsq_s32(vmlsq_s32(isum, zp16[p], tv), cpair[p], zav[q]);
                facc[q][p] = vfmaq_f32(facc[q][p], vmulq_f32(sp[p], a_sc), vcvtq_n_f32_s32(isum, 4));
            }
        }
    }
    if (mr == 1) {
        aq_neon_acc_store(t, 0, frow);
        return;
    }
    FOR_PAIRS(q, PAIRS_4) {
        const float32x4_t f0[2] = {zip1_64f(facc[q][0], facc[q][1]), zip1_64f(facc[q][2], facc[q][3])};
        aq_neon_acc_store(t, 2 * q, f0);
        if (2 * q + 1 < mr) {
            const float32x4_t f1[2] = {zip2_64f(facc[q][0], facc[q][1]), zip2_64f(facc[q][2], facc[q][3])};
            aq_neon_acc_store(t, 2 * q + 1, f1);
        }
    }
}

/* Token i's accumulators of the pass's rows 4 pass .. 4 pass + 3, as
 * aq_neon_acc_start: 0, or what an earlier chunk stored (of the t->nr rows). */
AQ_TILE_INLINE float32x4_t pass_acc_start(const struct aq_qc4w_tile *t, size_t i, size_t pass) {
    if (!t->accumulate) return vdupq_n_f32(0.0f);
    const size_t rows = t->nr - 4 * pass < 4 ? t->nr - 4 * pass : 4;
    float row[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    memcpy(row, t->out + i * t->out_stride + 4 * pass, rows * sizeof(float));
    return vld1q_f32(row);
}

/* Stores token i's results of the pass's rows, those below t->nr. */
AQ_TILE_INLINE void pass_acc_store(const struct aq_qc4w_tile *t, size_t i, size_t pass, float32x4_t acc) {
    float *out = t->out + i * t->out_stride + 4 * pass;
    if (t->nr >= 4 * pass + 4) {
        vst1q_f32(out, acc);
    } else {
        float row[4];
        vst1q_f32(row, acc);
        memcpy(out, row, (t->nr - 4 * pass) * sizeof(float));
    }
}

/* mr (5..8) tokens against one 8-row tile, in two passes of 4 rows (row pairs
 * 2 pass, 2 pass + 1) over all the groups; a pass whose rows are all padding
 * (t->nr <= 4) is skipped. Layouts, corrections and scales as in tile_4, per pass. */
AQ_TILE_INLINE void tile_8(size_t mr, const struct aq_qc4w_tile *t, bool general, bool one_step, bool group_scales) {
    const size_t group = one_step ? 32 : t->group;
    const size_t codes_at = AQ_NEON_NR * aq_qc4w_meta_bytes(t->asym);
    const uint8x16_t high_mask = vdupq_n_u8(0xF0);
    const int8x16_t one_bytes = vdupq_n_s8(1);
    const size_t groups = t->groups, block_bytes = t->block_bytes, a_scale_stride = t->a_scale_stride;
    const float *const a_scales = t->a_scale;
    float32x4_t asc[PAIRS_8];
    int32x4_t zav[PAIRS_8];
    FOR_PAIRS(q, PAIRS_8) {
        asc[q] = vcombine_f32(vdup_n_f32(t->a_scale[2 * q]), vdup_n_f32(t->a_scale[TWIN(q)]));
        zav[q] = vcombine_s32(vdup_n_s32(t->a_zero[2 * q]), vdup_n_s32(t->a_zero[TWIN(q)]));
    }
    for (size_t pass = 0; pass < 2 && 4 * pass < t->nr; pass++) {
        float32x4_t facc[PAIRS_8][PASS_PAIRS];
        FOR_PAIRS(q, PAIRS_8) {
            const float32x4_t f0 = pass_acc_start(t, 2 * q, pass), f1 = pass_acc_start(t, TWIN(q), pass);
            facc[q][0] = zip1_64f(f0, f1);
            facc[q][1] = zip2_64f(f0, f1);
        }
        const uint8_t *meta = t->w;
        const int8_t *pair_group = t->a_pairs;
        for (size_t g = 0; g < groups; g++, meta += block_bytes, pair_group += PAIRS(mr) * 2 * group) {
            /* The pass's two row pairs: one half of each 64-byte step of 16 k. */
            const uint8_t *nib = meta + codes_at + 16 * PASS_PAIRS * pass;
            int32x4_t cpair[PASS_PAIRS], macc[PAIRS_8][PASS_PAIRS];
            for (size_t p = 0; p < PASS_PAIRS; p++) cpair[p] = vdupq_n_s32(0);
            FOR_PAIRS(q, PAIRS_8) {
                for (size_t p = 0; p < PASS_PAIRS; p++) macc[q][p] = vdupq_n_s32(0);
            }
            for (size_t kk = 0; kk < group; kk += 32) {
                if (one_step)
                    AQ_MCA_BEGIN_KR(mr, group_scales, "i8mm-g32", "32", "4");
                else
                    AQ_MCA_BEGIN_KR(mr, group_scales, "i8mm", "32", "4");
                _Pragma("GCC unroll 2") for (size_t half = 0; half < 32; half += 16) {
                    int8x16_t w_lo[PASS_PAIRS], w_hi[PASS_PAIRS];
                    for (size_t p = 0; p < PASS_PAIRS; p++) {
                        const uint8x16_t packed = vld1q_u8(nib + 16 * p);
                        w_lo[p] = vreinterpretq_s8_u8(vshlq_n_u8(packed, 4));
                        w_hi[p] = vreinterpretq_s8_u8(vandq_u8(packed, high_mask));
                        if (general) {
                            cpair[p] = vmmlaq_s32(cpair[p], one_bytes, w_lo[p]);
                            cpair[p] = vmmlaq_s32(cpair[p], one_bytes, w_hi[p]);
                        }
                    }
                    /* The pairs' operands first, then the products of k..k+7 of every
                     * pair, then those of k+8..k+15: no two SMMLAs into one
                     * accumulator in a row; cheaper in both models (bench/mca) than a
                     * pair's four products together. */
                    int8x16_t a_lo[PAIRS_8], a_hi[PAIRS_8];
                    FOR_PAIRS(q, PAIRS_8) {
                        a_lo[q] = vld1q_s8(pair_group + PAIRS(mr) * 2 * (kk + half) + 32 * q);
                        a_hi[q] = vld1q_s8(pair_group + PAIRS(mr) * 2 * (kk + half) + 32 * q + 16);
                    }
                    FOR_PAIRS(q, PAIRS_8) {
                        for (size_t p = 0; p < PASS_PAIRS; p++) macc[q][p] = vmmlaq_s32(macc[q][p], a_lo[q], w_lo[p]);
                    }
                    FOR_PAIRS(q, PAIRS_8) {
                        for (size_t p = 0; p < PASS_PAIRS; p++) macc[q][p] = vmmlaq_s32(macc[q][p], a_hi[q], w_hi[p]);
                    }
                    nib += 64;
                }
                AQ_MCA_END(mr, group_scales);
            }
            uint16_t h[4];
            memcpy(h, meta + 4 * sizeof(uint16_t) * pass, sizeof h);
            const float32x4_t scale = vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(h)));
            const float32x4_t sp[PASS_PAIRS] = {pair_lo_f(scale), pair_hi_f(scale)};
            int32x4_t zp16[PASS_PAIRS];
            if (general) {
                int32x4_t zero[2];
                aq_neon_block_zeros_signed(meta, t->asym, zero);
                const int32x4_t z16 = vshlq_n_s32(zero[pass], 4);
                zp16[0] = pair_lo_s(z16);
                zp16[1] = pair_hi_s(z16);
            }
            int32x4_t tv[PAIRS_8];
            float32x4_t a_sc[PAIRS_8];
            FOR_PAIRS(q, PAIRS_8) {
                tv[q] = vdupq_n_s32(0);
                if (general)
                    tv[q] = vcombine_s32(vdup_n_s32(t->a_term[2 * q * groups + g]),
                                         vdup_n_s32(t->a_term[TWIN(q) * groups + g]));
                a_sc[q] = group_scales ? pair_group_scales(a_scales + g * a_scale_stride, q) : asc[q];
            }
            /* Row pair by row pair, all token pairs: the same operations as token
             * pair by token pair, which the compiler scheduled a cycle slower in the
             * A57 model (bench/mca, groups of 32: 48.2 -> 47.2 cycles an iteration;
             * A55 100 -> 99). */
            for (size_t p = 0; p < PASS_PAIRS; p++) {
                FOR_PAIRS(q, PAIRS_8) {
                    /* 16 isum: 16 S' - 16 (zw - 8) T - za 16 C'. */
                    int32x4_t isum = macc[q][p];
                    if (general) isum = vmlsq_s32(vmlsq_s32(isum, zp16[p], tv[q]), cpair[p], zav[q]);
                    facc[q][p] = vfmaq_f32(facc[q][p], vmulq_f32(sp[p], a_sc[q]), vcvtq_n_f32_s32(isum, 4));
                }
            }
        }
        FOR_PAIRS(q, PAIRS_8) {
            pass_acc_store(t, 2 * q, pass, zip1_64f(facc[q][0], facc[q][1]));
            if (2 * q + 1 < mr) pass_acc_store(t, 2 * q + 1, pass, zip2_64f(facc[q][0], facc[q][1]));
        }
    }
}

/* Up to 4 tokens all 8 rows at once (decode's one token pairs with itself); more
 * in passes of 4 rows. */
AQ_TILE_INLINE void tile_body(size_t mr, const struct aq_qc4w_tile *t, bool general, bool one_step, bool group_scales) {
    if (mr <= 2 * PAIRS_4)
        tile_4(mr, t, general, one_step, group_scales);
    else
        tile_8(mr, t, general, one_step, group_scales);
}

AQ_NEON_TILE_SIGNED_STEP_AND_SCALES(tile, tile_body)

AQ_QD8_QC4W_GEMM_DEFINE_PAIRED(aq_qd8_qc4w_gemm_8x8c8__i8mm, MR, AQ_NEON_NR, tile)
