/* qd8-qc4w-gemm-2x8c16-neon.c - INT8 activations x INT4 weights on baseline
 * ARMv8-A NEON (no dot product: Cortex-A72 / Raspberry Pi 4, Cortex-A53).
 *
 * Tile: 2 tokens x 8 weight rows, 16 k per step, weights packed by
 * aq_qc4w_packw_8c16_neon: per group, per 16 consecutive k, four 16-byte blocks,
 * one per row pair p; byte i holds row 2p, k + i in its low nibble and row 2p + 1
 * in its high nibble. One AND / one shift give the 16 int8 codes of a row,
 * multiplied with the 16 activations by SMLAL + SMLAL2 into int16 lanes.
 *
 * Why int16 accumulation is exact: raw codes are 0..15 and activations
 * -128..127, so |product| <= 15 * 128 = 1920; a lane gets 2 products per step,
 * group / 8 <= 16 per group, |sum| <= 30720 < 32768. Each group's int16 lanes are
 * then widened (SADDLP) and reduced; the zero-point correction (qc4w-packw.h)
 * takes the activation term from the outer loop. The code sums, when a token has
 * za != 0, add each row's 16 codes into uint8 lanes: at most 8 steps of 15 per
 * group of 128, 120 < 256. Float part as in
 * aq_qd8_qc4w_gemm_ref (qd8-tile-neon.h). The outer loop is
 * lib/kernels/qd8-qc4w-gemm-loop.c.
 */
#include <arm_neon.h>

#include "qc4w-packw.h"
#include "qd8-qc4w-gemm-loop.h"
#include "qd8-tile-neon.h"

#define MR 2

/* Sums the 8 lanes of each of four int16 accumulators into one int32 per row:
 * [sum r0, sum r1, sum r2, sum r3]. */
static inline int32x4_t reduce4(int16x8_t r0, int16x8_t r1, int16x8_t r2, int16x8_t r3) {
    const int32x4_t s01 = vpaddq_s32(vpaddlq_s16(r0), vpaddlq_s16(r1));
    const int32x4_t s23 = vpaddq_s32(vpaddlq_s16(r2), vpaddlq_s16(r3));
    return vpaddq_s32(s01, s23);
}

/* with_c: some token has za != 0, so the code sums C are counted too;
 * group_scales: as aq_qc4w_a_scale. */
AQ_TILE_INLINE void tile_body(size_t mr, const struct aq_qc4w_tile *t, bool with_c, bool group_scales) {
    const size_t group = t->group, k = t->k;
    const size_t codes_at = AQ_NEON_NR * aq_qc4w_meta_bytes(t->asym);
    const uint8x16_t low_mask = vdupq_n_u8(0x0F);
    float32x4_t facc[MR][2];
    AQ_FOR_TOKENS(i) aq_neon_acc_start(facc[i], t, i);

    for (size_t g = 0; g < t->groups; g++) {
        const uint8_t *meta = t->w + g * t->block_bytes;
        const uint8_t *nib = meta + codes_at;
        uint8x16_t c8[AQ_NEON_NR];
        for (size_t j = 0; j < AQ_NEON_NR; j++) c8[j] = vdupq_n_u8(0);
        int16x8_t acc[MR][AQ_NEON_NR];
        AQ_FOR_TOKENS(i) {
            for (size_t j = 0; j < AQ_NEON_NR; j++) acc[i][j] = vdupq_n_s16(0);
        }
        const int8_t *a_group = t->a + (t->g0 + g) * group;
        for (size_t kk = 0; kk < group; kk += 16) {
            AQ_MCA_BEGIN(mr, group_scales, "neon");
            int8x16_t av[MR];
            AQ_FOR_TOKENS(i) av[i] = vld1q_s8(a_group + i * k + kk);
            /* The four row pairs written out: clang -O2 keeps a looped version's
             * accumulators in memory (seen with bench/mca). */
#define STEP(p)                                                                                                        \
    do {                                                                                                               \
        const uint8x16_t b = vld1q_u8(nib + 16 * (p));                                                                 \
        const int8x16_t w0 = vreinterpretq_s8_u8(vandq_u8(b, low_mask));                                               \
        const int8x16_t w1 = vreinterpretq_s8_u8(vshrq_n_u8(b, 4));                                                    \
        if (with_c) {                                                                                                  \
            c8[2 * (p)] = vaddq_u8(c8[2 * (p)], vreinterpretq_u8_s8(w0));                                              \
            c8[2 * (p) + 1] = vaddq_u8(c8[2 * (p) + 1], vreinterpretq_u8_s8(w1));                                      \
        }                                                                                                              \
        AQ_FOR_TOKENS(i) {                                                                                             \
            acc[i][2 * (p)] = vmlal_s8(acc[i][2 * (p)], vget_low_s8(w0), vget_low_s8(av[i]));                          \
            acc[i][2 * (p)] = vmlal_high_s8(acc[i][2 * (p)], w0, av[i]);                                               \
            acc[i][2 * (p) + 1] = vmlal_s8(acc[i][2 * (p) + 1], vget_low_s8(w1), vget_low_s8(av[i]));                  \
            acc[i][2 * (p) + 1] = vmlal_high_s8(acc[i][2 * (p) + 1], w1, av[i]);                                       \
        }                                                                                                              \
    } while (0)
            STEP(0);
            STEP(1);
            STEP(2);
            STEP(3);
#undef STEP
            nib += 64;
            AQ_MCA_END(mr, group_scales);
        }
        float32x4_t scale[2];
        int32x4_t zero[2], csum[2];
        aq_neon_block_scales(meta, scale);
        aq_neon_block_zeros(meta, t->asym, zero);
        if (with_c) {
            int16x8_t c16[AQ_NEON_NR];
            for (size_t j = 0; j < AQ_NEON_NR; j++) c16[j] = vreinterpretq_s16_u16(vpaddlq_u8(c8[j]));
            csum[0] = reduce4(c16[0], c16[1], c16[2], c16[3]);
            csum[1] = reduce4(c16[4], c16[5], c16[6], c16[7]);
        }
        AQ_FOR_TOKENS(i) {
            const int32x4_t d0 = reduce4(acc[i][0], acc[i][1], acc[i][2], acc[i][3]);
            const int32x4_t d1 = reduce4(acc[i][4], acc[i][5], acc[i][6], acc[i][7]);
            const int32_t a_term = t->a_term[i * t->groups + g];
            const int32x4_t isum0 = vmlsq_n_s32(d0, zero[0], a_term);
            const int32x4_t isum1 = vmlsq_n_s32(d1, zero[1], a_term);
            aq_neon_group_end(facc[i], t, i, g, scale, isum0, isum1, csum, with_c, group_scales);
        }
    }
    AQ_FOR_TOKENS(i) aq_neon_acc_store(t, i, facc[i]);
}

AQ_QC4W_TILE_WITH_C_AND_SCALES(tile, tile_body)

AQ_QD8_QC4W_GEMM_DEFINE(aq_qd8_qc4w_gemm_2x8c16__neon, MR, AQ_NEON_NR, tile)
