/* qd8-qc3w-gemm-2x8c4-neon.c - INT8 activations x 3-bit weights on baseline
 * ARMv8-A NEON (no dot product: Cortex-A72 / Raspberry Pi 4, Cortex-A53).
 *
 * Tile: 2 tokens x 8 weight rows. Weights packed by aq_qc3w_packw_8c4 (the layout
 * of the SDOT tile, lib/kernels/qd8-qc3w-gemm-loop.h): code vector s of a sub-block
 * of 32 k unpacks, per half (rows 0-3, rows 4-7), into 16 bytes 0..7, 4 rows x
 * 4 k; SMULL / SMLAL2 against the token's 4 activations repeated 4 times give
 * int16 lanes (row, k) of rows 0-1 and rows 2-3.
 *
 * Why int16 accumulation is exact: |code * qa| <= 7 * 128 = 896 and a lane gets one
 * product per code vector, group / 4 <= 32 per group: |sum| <= 28672 < 32768.
 * Each group's lanes are then widened (SADDLP) and reduced per row. The code sums,
 * when a token has za != 0, add the codes into uint8 lanes: at most 32 steps of 7
 * per group of 128, 224 < 256. Float part as in aq_qd8_qc3w_gemm_ref
 * (qd8-tile-neon.h). The outer loop is lib/kernels/qd8-qc4w-gemm-loop.c.
 */
#include <arm_neon.h>

#include "qc3w-unpack-neon.h"
#include "qc4w-packw.h"
#include "qd8-qc3w-gemm-loop.h"
#include "qd8-tile-neon.h"

#define MR 2

/* Rows 0-1 (lanes 4 each) and rows 2-3 of one half: [sum r0, sum r1, sum r2, sum r3]. */
static inline int32x4_t reduce_half(int16x8_t r01, int16x8_t r23) {
    return vpaddq_s32(vpaddlq_s16(r01), vpaddlq_s16(r23));
}

/* with_c: some token has za != 0, so the code sums C are counted too;
 * group_scales: as aq_qc4w_a_scale. */
AQ_TILE_INLINE void tile_body(size_t mr, const struct aq_qc4w_tile *t, bool with_c, bool group_scales) {
    const size_t group = t->group, k = t->k;
    float32x4_t facc[MR][2];
    AQ_FOR_TOKENS(i) aq_neon_acc_start(facc[i], t, i);

    for (size_t g = 0; g < t->groups; g++) {
        const uint8_t *meta = t->w + g * t->block_bytes;
        const uint8_t *sub = meta + AQ_NEON_NR * sizeof(uint16_t);
        uint8x16_t c8[2] = {vdupq_n_u8(0), vdupq_n_u8(0)};
        /* acc[i][2 half + 0]: rows 4 half + 0, 1; acc[i][2 half + 1]: rows 4 half + 2, 3 */
        int16x8_t acc[MR][4];
        AQ_FOR_TOKENS(i) { acc[i][0] = acc[i][1] = acc[i][2] = acc[i][3] = vdupq_n_s16(0); }
        const int8_t *a_group = t->a + (t->g0 + g) * group;
        for (size_t kk = 0; kk < group; kk += AQ_QC3W_SUB, sub += AQ_QC3W_SUB_BYTES) {
            AQ_MCA_BEGIN(mr, group_scales, "neon3");
            const struct aq_qc3w_planes_neon planes = aq_qc3w_load_planes_neon(sub);
#define STEP(s)                                                                                                        \
    do {                                                                                                               \
        int8x16_t av[MR];                                                                                              \
        AQ_FOR_TOKENS(i) {                                                                                             \
            int32_t four;                                                                                              \
            memcpy(&four, a_group + i * k + kk + 4 * (s), sizeof four);                                                \
            av[i] = vreinterpretq_s8_s32(vdupq_n_s32(four));                                                           \
        }                                                                                                              \
        for (size_t half = 0; half < 2; half++) {                                                                      \
            const int8x16_t w = AQ_QC3W_CODES_NEON(planes, s, half);                                                   \
            if (with_c) c8[half] = vaddq_u8(c8[half], vreinterpretq_u8_s8(w));                                         \
            AQ_FOR_TOKENS(i) {                                                                                         \
                acc[i][2 * half] = vmlal_s8(acc[i][2 * half], vget_low_s8(w), vget_low_s8(av[i]));                     \
                acc[i][2 * half + 1] = vmlal_high_s8(acc[i][2 * half + 1], w, av[i]);                                  \
            }                                                                                                          \
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
        int32x4_t csum[2];
        if (with_c)
            for (size_t half = 0; half < 2; half++)
                csum[half] = vreinterpretq_s32_u32(vpaddlq_u16(vpaddlq_u8(c8[half])));
        AQ_FOR_TOKENS(i) {
            const int32x4_t start = vdupq_n_s32(aq_qc3w_symmetric_start(t->a_term[i * t->groups + g]));
            const int32x4_t isum0 = vaddq_s32(reduce_half(acc[i][0], acc[i][1]), start);
            const int32x4_t isum1 = vaddq_s32(reduce_half(acc[i][2], acc[i][3]), start);
            aq_neon_group_end(facc[i], t, i, g, scale, isum0, isum1, csum, with_c, group_scales);
        }
    }
    AQ_FOR_TOKENS(i) aq_neon_acc_store(t, i, facc[i]);
}

AQ_QC4W_TILE_WITH_C_AND_SCALES(tile, tile_body)

AQ_QD8_QC3W_GEMM_DEFINE(aq_qd8_qc3w_gemm_2x8c4__neon, MR, AQ_NEON_NR, tile)
