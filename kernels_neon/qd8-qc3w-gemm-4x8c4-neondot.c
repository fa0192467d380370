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

#include "qc3w-unpack-neon.h"
#include "qc4w-packw.h"
#include "qd8-qc3w-gemm-loop.h"
#include "qd8-tile-neon.h"

#define MR 4

/* with_c: some token has za != 0, so the code sums C are counted too;
 * group_scales: as aq_qc4w_a_scale. */
AQ_TILE_INLINE void tile_body(size_t mr, const struct aq_qc4w_tile *t, bool with_c, bool group_scales) {
    const size_t group = t->group, k = t->k;
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
            AQ_MCA_BEGIN(mr, group_scales, "neondot3");
            int8x16_t av[MR][2];
            AQ_FOR_TOKENS(i) {
                av[i][0] = vld1q_s8(a_group + i * k + kk);
                av[i][1] = vld1q_s8(a_group + i * k + kk + 16);
            }
            const struct aq_qc3w_planes_neon planes = aq_qc3w_load_planes_neon(sub);
            /* Code vector s; the SDOT lane must be a constant: eight explicit steps. */
#define STEP(s)                                                                                                        \
    do {                                                                                                               \
        int8x16_t w[2];                                                                                                \
        for (size_t half = 0; half < 2; half++) w[half] = AQ_QC3W_CODES_NEON(planes, s, half);                         \
        if (with_c) {                                                                                                  \
            csum[0] = vdotq_s32(csum[0], w[0], one_bytes);                                                             \
            csum[1] = vdotq_s32(csum[1], w[1], one_bytes);                                                             \
        }                                                                                                              \
        AQ_FOR_TOKENS(i) {                                                                                             \
            dacc[i][0] = vdotq_laneq_s32(dacc[i][0], w[0], av[i][(s) / 4], (s) % 4);                                   \
            dacc[i][1] = vdotq_laneq_s32(dacc[i][1], w[1], av[i][(s) / 4], (s) % 4);                                   \
        }                                                                                                              \
    } while (0)
            STEP(0);
            STEP(1);
            STEP(2);
            STEP(3);
            STEP(4);
            STEP(5);
            STEP(6);
            STEP(7);
#undef STEP
            AQ_MCA_END(mr, group_scales);
        }
        float32x4_t scale[2];
        aq_neon_block_scales(meta, scale);
        AQ_FOR_TOKENS(i) {
            const int32x4_t start = vdupq_n_s32(aq_qc3w_symmetric_start(t->a_term[i * t->groups + g]));
            const int32x4_t isum0 = vaddq_s32(dacc[i][0], start);
            const int32x4_t isum1 = vaddq_s32(dacc[i][1], start);
            aq_neon_group_end(facc[i], t, i, g, scale, isum0, isum1, csum, with_c, group_scales);
        }
    }
    AQ_FOR_TOKENS(i) aq_neon_acc_store(t, i, facc[i]);
}

AQ_QC4W_TILE_WITH_C_AND_SCALES(tile, tile_body)

AQ_QD8_QC3W_GEMM_DEFINE(aq_qd8_qc3w_gemm_4x8c4__neondot, MR, AQ_NEON_NR, tile)
