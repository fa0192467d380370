/* qd8-qc3w-gemm-4x8c4-neondot.c - INT8 activations x 3-bit weights with SDOT
 * (ARMv8.2 dot product; built with -march=armv8.2-a+dotprod, called only when
 * dispatch found the extension).
 *
 * Tile: 4 tokens x 8 weight rows, as the 4-bit SDOT tile
 * (qd8-qc4w-gemm-4x8c4-neondot.c): one SDOT-by-lane multiplies 4 rows x 4 k of
 * weights with 4 activations of one token. Weights packed by aq_qc3w_packw_8c4
 * (lib/kernels/qd8-qc3w-gemm-loop.h): per sub-block of 32 k, the planes L0, L1, H,
 * each two registers (rows 0-3, rows 4-7); code vector s unpacks with two shifts,
 * two ANDs and an OR into the bytes 0..7 of 4 rows x k 4s..4s+3, the SDOT operand
 * against lane s % 4 of the activations k 16 (s / 4) ... The codes stay raw and
 * the zero point 4 is corrected per group from the activation term.
 *
 * Float part, exactly aq_qd8_qc3w_gemm_ref's: acc = fma(scale_w * scale_a,
 * (float) isum, acc), groups in order (qd8-tile-neon.h). The outer loop is
 * lib/kernels/qd8-qc4w-gemm-loop.c.
 */
#include <arm_neon.h>

#include "qc4w-packw.h"
#include "qd8-qc3w-gemm-loop.h"
#include "qd8-tile-neon.h"

#define MR 4

/* with_c: some token has za != 0, so the code sums C are counted too. */
AQ_TILE_INLINE void tile_body(size_t mr, const struct aq_qc4w_tile *t, bool with_c) {
    const size_t group = t->group, k = t->k;
    const uint8x16_t two_bits = vdupq_n_u8(0x03), bit2 = vdupq_n_u8(0x04);
    const int8x16_t one_bytes = vdupq_n_s8(1);
    float32x4_t facc[MR][2];
    AQ_FOR_TOKENS(i) aq_neon_acc_start(facc[i], t, i);

    for (size_t g = 0; g < t->groups; g++) {
        const uint8_t *meta = t->w + g * t->block_bytes;
        const uint8_t *sub = meta + AQ_NEON_NR * sizeof(uint16_t);
        int32x4_t csum[2] = {vdupq_n_s32(0), vdupq_n_s32(0)};
        int32x4_t dacc[MR][2];
        AQ_FOR_TOKENS(i) { dacc[i][0] = dacc[i][1] = vdupq_n_s32(0); }
        const int8_t *a_group = t->a + (t->g0 + g) * group;
        for (size_t kk = 0; kk < group; kk += AQ_QC3W_SUB, sub += AQ_QC3W_SUB_BYTES) {
            AQ_MCA_BEGIN(mr, "neondot3");
            int8x16_t av[MR][2];
            AQ_FOR_TOKENS(i) {
                av[i][0] = vld1q_s8(a_group + i * k + kk);
                av[i][1] = vld1q_s8(a_group + i * k + kk + 16);
            }
            /* [half]: rows 0-3, rows 4-7 */
            const uint8x16_t l0[2] = {vld1q_u8(sub), vld1q_u8(sub + 16)};
            const uint8x16_t l1[2] = {vld1q_u8(sub + 32), vld1q_u8(sub + 48)};
            const uint8x16_t h[2] = {vld1q_u8(sub + 64), vld1q_u8(sub + 80)};
            /* Code vector s; the SDOT lane must be a constant: eight explicit steps. */
/* USHL by a signed count (negative: right), constant here: one shift or none. */
#define HIGH(s, x) vshlq_u8(x, vdupq_n_s8(2 - (s)))
#define LOW(s, x) vshlq_u8(x, vdupq_n_s8(-2 * ((s) % 4)))
#define STEP(s, l)                                                                                                     \
    do {                                                                                                               \
        int8x16_t w[2];                                                                                                \
        for (size_t half = 0; half < 2; half++)                                                                        \
            w[half] =                                                                                                  \
                vreinterpretq_s8_u8(vorrq_u8(vandq_u8(LOW(s, l[half]), two_bits), vandq_u8(HIGH(s, h[half]), bit2)));  \
        if (with_c) {                                                                                                  \
            csum[0] = vdotq_s32(csum[0], w[0], one_bytes);                                                             \
            csum[1] = vdotq_s32(csum[1], w[1], one_bytes);                                                             \
        }                                                                                                              \
        AQ_FOR_TOKENS(i) {                                                                                             \
            dacc[i][0] = vdotq_laneq_s32(dacc[i][0], w[0], av[i][(s) / 4], (s) % 4);                                   \
            dacc[i][1] = vdotq_laneq_s32(dacc[i][1], w[1], av[i][(s) / 4], (s) % 4);                                   \
        }                                                                                                              \
    } while (0)
            STEP(0, l0);
            STEP(1, l0);
            STEP(2, l0);
            STEP(3, l0);
            STEP(4, l1);
            STEP(5, l1);
            STEP(6, l1);
            STEP(7, l1);
#undef STEP
#undef LOW
#undef HIGH
            AQ_MCA_END(mr);
        }
        float32x4_t scale[2];
        aq_neon_block_scales(meta, scale);
        AQ_FOR_TOKENS(i) {
            const int32x4_t start = vdupq_n_s32(aq_qc3w_symmetric_start(t->a_term[i * t->groups + g]));
            const int32x4_t isum0 = vaddq_s32(dacc[i][0], start);
            const int32x4_t isum1 = vaddq_s32(dacc[i][1], start);
            aq_neon_group_end(facc[i], t, i, scale, isum0, isum1, csum, with_c);
        }
    }
    AQ_FOR_TOKENS(i) aq_neon_acc_store(t, i, facc[i]);
}

AQ_QC4W_TILE_WITH_C(tile, tile_body)

AQ_QD8_QC3W_GEMM_DEFINE(aq_qd8_qc3w_gemm_4x8c4__neondot, MR, AQ_NEON_NR, tile)
