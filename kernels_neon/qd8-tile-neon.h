/* qd8-tile-neon.h - the float side of the NEON qd8 x qc4w and qd8 x qc3w
 * micro-tiles (8 weight rows, two float32x4_t accumulators a token: rows 0-3 and
 * 4-7), written once: the accumulators' start, the end of each group, the store.
 * static inline. Internal.
 *
 * The end of a group is the reference's float part, exactly: per group, in order,
 * acc = fma(scale_w * scale_a, (float) isum, acc); vmulq rounds like the C
 * multiply, vcvtq_f32_s32 like the int -> float cast, vfmaq like fmaf. The NEON
 * tiles (qc4w: i8mm, SDOT, plain NEON; qc3w: SDOT, plain NEON) read the activation
 * scale and zero point only here.
 */
#ifndef AQ_KERNELS_NEON_QD8_TILE_NEON_H
#define AQ_KERNELS_NEON_QD8_TILE_NEON_H

#include <arm_neon.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "qc4w-packw.h"
#include "qd8-qc4w-gemm-loop.h"

/* Token i's accumulators at the start of a chunk of groups: 0, or the first t->nr
 * results an earlier chunk stored in out (the rest 0). */
AQ_TILE_INLINE void aq_neon_acc_start(float32x4_t facc[2], const struct aq_qc4w_tile *t, size_t i) {
    if (t->accumulate) {
        float row[AQ_NEON_NR];
        memset(row, 0, sizeof row);
        memcpy(row, t->out + i * t->out_stride, t->nr * sizeof(float));
        facc[0] = vld1q_f32(row);
        facc[1] = vld1q_f32(row + 4);
    } else {
        facc[0] = facc[1] = vdupq_n_f32(0.0f);
    }
}

/* Adds a group to a token's accumulators given the sums as floats (x0, x1: rows
 * 0-3, 4-7, each (float) isum exactly as the reference rounds it); a_scale: the
 * token's activation scale of the group; scale: the group's weight scales. The signed-layout tiles (qc4w-packw.h) convert their
 * scaled sums themselves. */
AQ_TILE_INLINE void aq_neon_group_fma(float32x4_t facc[2], float a_scale, const float32x4_t scale[2], float32x4_t x0,
                                      float32x4_t x1) {
    facc[0] = vfmaq_f32(facc[0], vmulq_n_f32(scale[0], a_scale), x0);
    facc[1] = vfmaq_f32(facc[1], vmulq_n_f32(scale[1], a_scale), x1);
}

/* Adds token i's group g (of the chunk) to its accumulators: isum0 / isum1 (rows
 * 0-3 / 4-7) hold S - zw * T; with_c takes za * C off them first (csum: the code
 * sums C). scale: the group's weight scales (aq_neon_block_scales); group_scales:
 * as aq_qc4w_a_scale. */
AQ_TILE_INLINE void aq_neon_group_end(float32x4_t facc[2], const struct aq_qc4w_tile *t, size_t i, size_t g,
                                      const float32x4_t scale[2], int32x4_t isum0, int32x4_t isum1,
                                      const int32x4_t csum[2], bool with_c, bool group_scales) {
    if (with_c) {
        isum0 = vmlsq_n_s32(isum0, csum[0], t->a_zero[i]);
        isum1 = vmlsq_n_s32(isum1, csum[1], t->a_zero[i]);
    }
    aq_neon_group_fma(facc, aq_qc4w_a_scale(t, i, g, group_scales), scale, vcvtq_f32_s32(isum0), vcvtq_f32_s32(isum1));
}

/* Stores token i's results, only the first t->nr of the 8. */
AQ_TILE_INLINE void aq_neon_acc_store(const struct aq_qc4w_tile *t, size_t i, const float32x4_t facc[2]) {
    if (t->nr == AQ_NEON_NR) {
        vst1q_f32(t->out + i * t->out_stride, facc[0]);
        vst1q_f32(t->out + i * t->out_stride + 4, facc[1]);
    } else {
        float row[AQ_NEON_NR];
        vst1q_f32(row, facc[0]);
        vst1q_f32(row + 4, facc[1]);
        memcpy(t->out + i * t->out_stride, row, t->nr * sizeof(float));
    }
}

#endif /* AQ_KERNELS_NEON_QD8_TILE_NEON_H */
