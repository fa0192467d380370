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

/* The low (zip1) or high (zip2) 64-bit halves of a and b: from two 2 x 2 SMMLA
 * results of row pairs p and p + 1, one token's four rows. */
static inline int32x4_t zip1_64(int32x4_t a, int32x4_t b) {
    return vreinterpretq_s32_s64(vzip1q_s64(vreinterpretq_s64_s32(a), vreinterpretq_s64_s32(b)));
}
static inline int32x4_t zip2_64(int32x4_t a, int32x4_t b) {
    return vreinterpretq_s32_s64(vzip2q_s64(vreinterpretq_s64_s32(a), vreinterpretq_s64_s32(b)));
}

/* mr (1..MR) tokens against one 8-row tile; inlined with a constant mr. with_c:
 * some token has za != 0, so the code sums C are counted too (SMMLA with bytes of
 * 1 as the activations: each row pair's two sums, twice). */
AQ_TILE_INLINE void tile_body(size_t mr, const struct aq_qc4w_tile *t, bool with_c) {
    const size_t group = t->group, k = t->k;
    const size_t codes_at = AQ_NEON_NR * aq_qc4w_meta_bytes(t->asym);
    const uint8x16_t low_mask = vdupq_n_u8(0x0F);
    const int8x16_t one_bytes = vdupq_n_s8(1);
    float32x4_t facc[MR][2];
    AQ_FOR_TOKENS(i) aq_neon_acc_start(facc[i], t, i);

    for (size_t g = 0; g < t->groups; g++) {
        const uint8_t *meta = t->w + g * t->block_bytes;
        const uint8_t *nib = meta + codes_at;
        int32x4_t cpair[AQ_NEON_NR / 2];
        for (size_t p = 0; p < AQ_NEON_NR / 2; p++) cpair[p] = vdupq_n_s32(0);
        /* macc[q][p][0]: tokens of pair q x rows 2p, 2p + 1 as (t0 r0, t0 r1, t1 r0,
         * t1 r1); macc[q][p][1] takes the k + 8 half when mr <= 2, which halves the
         * SMMLA dependency chains of the decode loop; with two pairs the chains of
         * the other pair interleave already. */
        int32x4_t macc[PAIRS][AQ_NEON_NR / 2][2];
        FOR_PAIRS(q) {
            for (size_t p = 0; p < AQ_NEON_NR / 2; p++) macc[q][p][0] = macc[q][p][1] = vdupq_n_s32(0);
        }
        const int8_t *a_group = t->a + (t->g0 + g) * group;
        for (size_t kk = 0; kk < group; kk += 16) {
            AQ_MCA_BEGIN(mr, "i8mm");
            int8x16_t a_lo[PAIRS], a_hi[PAIRS];
            FOR_PAIRS(q) {
                const int8_t *a0 = a_group + 2 * q * k + kk;
                const int64x2_t x0 = vreinterpretq_s64_s8(vld1q_s8(a0));
                const int64x2_t x1 = vreinterpretq_s64_s8(vld1q_s8(2 * q + 1 < mr ? a0 + k : a0));
                a_lo[q] = vreinterpretq_s8_s64(vzip1q_s64(x0, x1));
                a_hi[q] = vreinterpretq_s8_s64(vzip2q_s64(x0, x1));
            }
            _Pragma("GCC unroll 4") for (size_t p = 0; p < AQ_NEON_NR / 2; p++) {
                const uint8x16_t b = vld1q_u8(nib + 16 * p);
                const int8x16_t w_lo = vreinterpretq_s8_u8(vandq_u8(b, low_mask));
                const int8x16_t w_hi = vreinterpretq_s8_u8(vshrq_n_u8(b, 4));
                if (with_c) {
                    cpair[p] = vmmlaq_s32(cpair[p], one_bytes, w_lo);
                    cpair[p] = vmmlaq_s32(cpair[p], one_bytes, w_hi);
                }
                FOR_PAIRS(q) {
                    const size_t set = mr <= 2 ? 1 : 0;
                    macc[q][p][0] = vmmlaq_s32(macc[q][p][0], a_lo[q], w_lo);
                    macc[q][p][set] = vmmlaq_s32(macc[q][p][set], a_hi[q], w_hi);
                }
            }
            nib += 64;
            AQ_MCA_END(mr);
        }
        /* Back to the dot-product tile's form: per token, rows 0-3 and 4-7. */
        int32x4_t dacc[MR][2], csum[2];
        csum[0] = zip1_64(cpair[0], cpair[1]);
        csum[1] = zip1_64(cpair[2], cpair[3]);
        FOR_PAIRS(q) {
            int32x4_t s[AQ_NEON_NR / 2];
            for (size_t p = 0; p < AQ_NEON_NR / 2; p++)
                s[p] = mr <= 2 ? vaddq_s32(macc[q][p][0], macc[q][p][1]) : macc[q][p][0];
            dacc[2 * q][0] = zip1_64(s[0], s[1]);
            dacc[2 * q][1] = zip1_64(s[2], s[3]);
            if (2 * q + 1 < mr) {
                dacc[2 * q + 1][0] = zip2_64(s[0], s[1]);
                dacc[2 * q + 1][1] = zip2_64(s[2], s[3]);
            }
        }
        float32x4_t scale[2];
        int32x4_t zero[2];
        aq_neon_block_scales(meta, scale);
        aq_neon_block_zeros(meta, t->asym, zero);
        AQ_FOR_TOKENS(i) {
            const int32_t a_term = t->a_term[i * t->groups + g];
            const int32x4_t isum0 = vmlsq_n_s32(dacc[i][0], zero[0], a_term);
            const int32x4_t isum1 = vmlsq_n_s32(dacc[i][1], zero[1], a_term);
            aq_neon_group_end(facc[i], t, i, scale, isum0, isum1, csum, with_c);
        }
    }
    AQ_FOR_TOKENS(i) aq_neon_acc_store(t, i, facc[i]);
}

AQ_QC4W_TILE_WITH_C(tile, tile_body)

AQ_QD8_QC4W_GEMM_DEFINE(aq_qd8_qc4w_gemm_4x8c8__i8mm, MR, AQ_NEON_NR, tile)
