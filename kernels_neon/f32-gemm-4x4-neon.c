/* f32-gemm-4x4-neon.c - FP32 GEMM, out = x W^T with W (n, k) row-major, NEON FMLA.
 * A register tile is up to 4 rows of x by 4 rows of W: 16 accumulators of 4 lanes
 * along k, so each W load feeds 4 FMAs and each x load 4, with 8 of the 32
 * registers for operands. At the end of k, pairwise adds turn a row's 4
 * accumulators into one register of its 4 outputs. The last k % 4 floats go
 * through a zero-padded copy (NEON has no masked load, and a row may end at the
 * end of its buffer). Not bit-exact with aq_f32_gemm_ref (another summation
 * order, and fused multiply-adds); agrees to float tolerance, as the AVX2 twin.
 * The outer loop is lib/kernels/f32-gemm-loop.c. */
#include <arm_neon.h>
#include <string.h>

#include "f32-gemm-loop.h"

#define MR 4
#define NR 4

/* mr is a compile-time constant after inlining; W rows past nr repeat the last
 * valid one (computed, not stored), so the body has no row branches. */
AQ_TILE_INLINE void tile(size_t mr, const struct aq_f32_gemm_tile *t) {
    const size_t nr = t->nr, k = t->k, x_stride = t->x_stride, out_stride = t->out_stride;
    const float *x = t->x, *w = t->w;
    float *out = t->out;
    const float *xr[MR], *wr[NR];
    for (size_t i = 0; i < mr; i++) xr[i] = x + i * x_stride;
    for (size_t j = 0; j < NR; j++) wr[j] = w + (j < nr ? j : nr - 1) * k;
    float32x4_t acc[MR][NR];
    for (size_t i = 0; i < mr; i++)
        for (size_t j = 0; j < NR; j++) acc[i][j] = vdupq_n_f32(0.0f);
    size_t kk = 0;
    for (; kk + 4 <= k; kk += 4) {
        const float32x4_t w0 = vld1q_f32(wr[0] + kk), w1 = vld1q_f32(wr[1] + kk), w2 = vld1q_f32(wr[2] + kk),
                          w3 = vld1q_f32(wr[3] + kk);
        for (size_t i = 0; i < mr; i++) {
            const float32x4_t xv = vld1q_f32(xr[i] + kk);
            acc[i][0] = vfmaq_f32(acc[i][0], xv, w0);
            acc[i][1] = vfmaq_f32(acc[i][1], xv, w1);
            acc[i][2] = vfmaq_f32(acc[i][2], xv, w2);
            acc[i][3] = vfmaq_f32(acc[i][3], xv, w3);
        }
    }
    if (kk < k) {
        float wt[NR][4] = {{0}}, xt[MR][4] = {{0}};
        for (size_t j = 0; j < NR; j++) memcpy(wt[j], wr[j] + kk, (k - kk) * sizeof(float));
        for (size_t i = 0; i < mr; i++) memcpy(xt[i], xr[i] + kk, (k - kk) * sizeof(float));
        for (size_t i = 0; i < mr; i++) {
            const float32x4_t xv = vld1q_f32(xt[i]);
            for (size_t j = 0; j < NR; j++) acc[i][j] = vfmaq_f32(acc[i][j], xv, vld1q_f32(wt[j]));
        }
    }
    for (size_t i = 0; i < mr; i++) {
        const float32x4_t sums = vpaddq_f32(vpaddq_f32(acc[i][0], acc[i][1]), vpaddq_f32(acc[i][2], acc[i][3]));
        float *o = out + i * out_stride;
        if (nr == NR) {
            vst1q_f32(o, sums);
        } else {
            float s[NR];
            vst1q_f32(s, sums);
            memcpy(o, s, nr * sizeof(float));
        }
    }
}

AQ_F32_GEMM_DEFINE(aq_f32_gemm_4x4__neon, MR, NR, tile)
