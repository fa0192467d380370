/* qd8-qc4w-gemm-4x8c4-neondot.c - INT8 activations x INT4 weights with SDOT
 * (ARMv8.2 dot product; built with -march=armv8.2-a+dotprod, called only when
 * dispatch found the extension).
 *
 * Tile: 4 tokens x 8 weight rows; one SDOT-by-lane multiplies 4 rows x 4 k of
 * weights with 4 activations of one token. Nibble order (pack): per group, per
 * 4 consecutive k, 16 bytes; byte 4j + i holds row j (0..3), k + i in its low
 * nibble and row j + 4 in its high nibble, so one AND and one shift give the
 * two SDOT operands of rows 0-3 and rows 4-7. The codes stay raw (0..15, no
 * zero point subtracted) and the zero points are corrected per group
 * (qc4w-pack.h). The activation sum needed there is one more SDOT against
 * ones, shared by the 8 rows.
 *
 * Float part, exactly aq_qd8_qc4w_gemm_ref's: acc = fma(scale_w * scale_a,
 * (float) isum, acc), groups in order; vmulq rounds like the C multiply,
 * vcvtq_f32_s32 like the int -> float cast, vfmaq like fmaf.
 */
#include <arm_neon.h>

#include "qc4w-gemm-neon.h"
#include "qc4w-pack.h"

#define MR 4

void aq_qc4w_pack_x8c4__neondot(const struct aq_q4w *w, void *packed) {
    const size_t groups = w->k / w->group;
    const size_t tiles = (w->n_rows + AQ_NEON_NR - 1) / AQ_NEON_NR;
    uint8_t *dst = packed;
    for (size_t t = 0; t < tiles; t++) {
        for (size_t g = 0; g < groups; g++) {
            aq_neon_pack_meta(w, t, g, dst);
            dst += AQ_NEON_META_BYTES;
            for (size_t k4 = g * w->group; k4 < (g + 1) * w->group; k4 += 4) {
                for (size_t j = 0; j < 4; j++) {
                    for (size_t i = 0; i < 4; i++) {
                        const size_t r = t * AQ_NEON_NR + j;
                        *dst++ = (uint8_t) (aq_neon_code(w, r, k4 + i) | (aq_neon_code(w, r + 4, k4 + i) << 4));
                    }
                }
            }
        }
    }
}

/* mr (1..MR) tokens against one 8-row tile; inlined with a constant mr so the
 * token loops unroll and the accumulators stay in registers. */
static inline __attribute__((always_inline)) void tile_gemm(size_t mr, const uint8_t *tile, size_t groups,
                                                            size_t group, const int8_t *qa, size_t k,
                                                            const float *a_scale, const int32_t *a_zero,
                                                            float *out, size_t out_stride, size_t n_valid) {
    const uint8x16_t low_mask = vdupq_n_u8(0x0F);
    const int8x16_t ones = vdupq_n_s8(1);
    float32x4_t facc[MR][2];
    AQ_FOR_TOKENS(i) facc[i][0] = facc[i][1] = vdupq_n_f32(0.0f);

    for (size_t g = 0; g < groups; g++) {
        const uint8_t *meta = tile + g * aq_neon_group_bytes(group);
        const uint8_t *nib = meta + AQ_NEON_META_BYTES;
        /* dacc[i][0..1]: lanes 0 and 2 of each 16-k step; dacc[i][2..3]: lanes 1 and
         * 3 when mr <= 2, which halves the SDOT dependency chains (latency 4) that
         * bound the decode loop on in-order cores; with more tokens the chains of
         * the other tokens already interleave and the registers are needed. */
        int32x4_t dacc[MR][4];
        int32x4_t asum[MR];
        AQ_FOR_TOKENS(i) {
            dacc[i][0] = dacc[i][1] = dacc[i][2] = dacc[i][3] = asum[i] = vdupq_n_s32(0);
        }
        const int8_t *a_group = qa + g * group;
        for (size_t kk = 0; kk < group; kk += 16) {
            AQ_MCA_BEGIN(mr, "neondot");
            int8x16_t av[MR];
            AQ_FOR_TOKENS(i) {
                av[i] = vld1q_s8(a_group + i * k + kk);
                asum[i] = vdotq_s32(asum[i], av[i], ones);
            }
            /* The lane index of SDOT must be a constant: four explicit steps. */
#define STEP(lane)                                                                        \
    do {                                                                                  \
        const uint8x16_t p = vld1q_u8(nib + 16 * (lane));                                 \
        const int8x16_t w_lo = vreinterpretq_s8_u8(vandq_u8(p, low_mask));               \
        const int8x16_t w_hi = vreinterpretq_s8_u8(vshrq_n_u8(p, 4));                     \
        AQ_FOR_TOKENS(i) {                                                 \
            const size_t set = mr <= 2 && ((lane) & 1) ? 2 : 0;                          \
            dacc[i][set] = vdotq_laneq_s32(dacc[i][set], w_lo, av[i], lane);             \
            dacc[i][set + 1] = vdotq_laneq_s32(dacc[i][set + 1], w_hi, av[i], lane);     \
        }                                                                                 \
    } while (0)
            STEP(0);
            STEP(1);
            STEP(2);
            STEP(3);
#undef STEP
            nib += 64;
            AQ_MCA_END(mr);
        }
        const float32x4_t scale0 = vld1q_f32((const float *) (const void *) meta);
        const float32x4_t scale1 = vld1q_f32((const float *) (const void *) meta + 4);
        const int32x4_t zero0 = vld1q_s32((const int32_t *) (const void *) (meta + 32));
        const int32x4_t zero1 = vld1q_s32((const int32_t *) (const void *) (meta + 48));
        const int32x4_t csum0 = vld1q_s32((const int32_t *) (const void *) (meta + 64));
        const int32x4_t csum1 = vld1q_s32((const int32_t *) (const void *) (meta + 80));
        AQ_FOR_TOKENS(i) {
            const int32_t za = a_zero[i];
            const int32_t act_term = aq_neon_act_term(vaddvq_s32(asum[i]), group, za);
            const int32x4_t d0 = mr <= 2 ? vaddq_s32(dacc[i][0], dacc[i][2]) : dacc[i][0];
            const int32x4_t d1 = mr <= 2 ? vaddq_s32(dacc[i][1], dacc[i][3]) : dacc[i][1];
            const int32x4_t isum0 = vmlsq_n_s32(vmlsq_n_s32(d0, zero0, act_term), csum0, za);
            const int32x4_t isum1 = vmlsq_n_s32(vmlsq_n_s32(d1, zero1, act_term), csum1, za);
            facc[i][0] = vfmaq_f32(facc[i][0], vmulq_n_f32(scale0, a_scale[i]), vcvtq_f32_s32(isum0));
            facc[i][1] = vfmaq_f32(facc[i][1], vmulq_n_f32(scale1, a_scale[i]), vcvtq_f32_s32(isum1));
        }
    }
    AQ_FOR_TOKENS(i) {
        if (n_valid == AQ_NEON_NR) {
            vst1q_f32(out + i * out_stride, facc[i][0]);
            vst1q_f32(out + i * out_stride + 4, facc[i][1]);
        } else {
            float row[AQ_NEON_NR];
            vst1q_f32(row, facc[i][0]);
            vst1q_f32(row + 4, facc[i][1]);
            aq_neon_store_row(out + i * out_stride, row, n_valid);
        }
    }
}

void aq_qd8_qc4w_gemm_4x8c4__neondot(size_t m, size_t n_begin, size_t n_end, const struct aq_qd8 *a,
                                     const struct aq_q4w *w, const void *packed, float *out, size_t out_stride) {
    const size_t k = w->k;
    const size_t groups = k / w->group;
    const size_t tile_bytes = aq_neon_tile_bytes(w);
    for (size_t r = n_begin; r < n_end; r += AQ_NEON_NR) {
        const uint8_t *tile = (const uint8_t *) packed + r / AQ_NEON_NR * tile_bytes;
        const size_t n_valid = n_end - r < AQ_NEON_NR ? n_end - r : AQ_NEON_NR;
        for (size_t t = 0; t < m;) {
            const int8_t *qa = a->q + t * k;
            float *o = out + t * out_stride + r;
            switch (m - t) {
            case 1:
                tile_gemm(1, tile, groups, w->group, qa, k, a->scale + t, a->zero + t, o, out_stride, n_valid);
                t += 1;
                break;
            case 2:
                tile_gemm(2, tile, groups, w->group, qa, k, a->scale + t, a->zero + t, o, out_stride, n_valid);
                t += 2;
                break;
            case 3:
                tile_gemm(3, tile, groups, w->group, qa, k, a->scale + t, a->zero + t, o, out_stride, n_valid);
                t += 3;
                break;
            default:
                tile_gemm(MR, tile, groups, w->group, qa, k, a->scale + t, a->zero + t, o, out_stride, n_valid);
                t += MR;
                break;
            }
        }
    }
}
