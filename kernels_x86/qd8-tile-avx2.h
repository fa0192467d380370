/* qd8-tile-avx2.h - what the 256-bit x86 qd8 x qc4w and qd8 x qc3w micro-tiles
 * (AVX2 and AVX-VNNI, 8 weight rows a register, one or two registers a token)
 * share, written once: the accumulators' start, the start of a qc4w group's int32
 * sums, the end of each group and the store. static inline. Internal.
 *
 * The end of a group is the reference's float part, exactly: per group, in order,
 * acc = fma(f32(scale_w) * a_scale, (float) isum, acc), with its two roundings
 * (VMULPS, then VFMADD; VCVTDQ2PS rounds like the int -> float cast). These tiles
 * read the activation scale and zero point only here.
 */
#ifndef AQ_KERNELS_X86_QD8_TILE_AVX2_H
#define AQ_KERNELS_X86_QD8_TILE_AVX2_H

#include <immintrin.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "qc4w-packw.h"
#include "qd8-qc4w-gemm-loop.h"

/* Registers of 8 rows a token, at most (the 16-row tile's two). */
#define AQ_AVX2_TILE_REGS 2

/* Token i's regs accumulators at the start of a chunk of groups: 0, or the first
 * t->nr results an earlier chunk stored in out (the rest 0). */
AQ_TILE_INLINE void aq_avx2_acc_start(__m256 *acc, size_t regs, const struct aq_qc4w_tile *t, size_t i) {
    if (!t->accumulate) {
        for (size_t r = 0; r < regs; r++) acc[r] = _mm256_setzero_ps();
    } else {
        float tmp[8 * AQ_AVX2_TILE_REGS] = {0};
        for (size_t j = 0; j < t->nr; j++) tmp[j] = t->out[i * t->out_stride + j];
        for (size_t r = 0; r < regs; r++) acc[r] = _mm256_loadu_ps(tmp + 8 * r);
    }
}

/* Starts group g's int32 sums of a qc4w tile of 8 * regs rows (block: the group's
 * packed block) from -zw * T, for tokens i < mr: isum[i * regs + r] holds rows
 * 8r..8r+7. Exact modulo 2^32, as every later step. */
AQ_TILE_INLINE void aq_avx2_qc4w_start(__m256i *isum, size_t mr, size_t regs, const struct aq_qc4w_tile *t,
                                       const uint8_t *block, size_t g) {
    if (t->asym) {
        __m256i zw[AQ_AVX2_TILE_REGS];
        for (size_t r = 0; r < regs; r++)
            zw[r] = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(aq_load_i64(block + 16 * regs + 8 * r)));
        for (size_t i = 0; i < mr; i++) {
            const __m256i neg_term = _mm256_set1_epi32(aq_qc4w_negate(t->a_term[i * t->groups + g]));
            for (size_t r = 0; r < regs; r++) isum[i * regs + r] = _mm256_mullo_epi32(zw[r], neg_term);
        }
    } else {
        for (size_t i = 0; i < mr; i++)
            for (size_t r = 0; r < regs; r++)
                isum[i * regs + r] = _mm256_set1_epi32(aq_qc4w_symmetric_start(t->a_term[i * t->groups + g]));
    }
}

/* Adds token i's group g (of the chunk) to one accumulator of 8 rows: isum holds
 * S - zw * T; with_c takes za * C off it first (csum: the code sums C). wscale:
 * the rows' scales; group_scales: as aq_qc4w_a_scale. */
AQ_TILE_INLINE void aq_avx2_group_end(__m256 *acc, const struct aq_qc4w_tile *t, size_t i, size_t g, __m256 wscale,
                                      __m256i isum, __m256i csum, bool with_c, bool group_scales) {
    if (with_c) isum = _mm256_sub_epi32(isum, _mm256_mullo_epi32(csum, _mm256_set1_epi32(t->a_zero[i])));
    const __m256 group_scale = _mm256_mul_ps(wscale, _mm256_set1_ps(aq_qc4w_a_scale(t, i, g, group_scales)));
    *acc = _mm256_fmadd_ps(group_scale, _mm256_cvtepi32_ps(isum), *acc);
}

/* Stores token i's regs accumulators, only the first t->nr results. */
AQ_TILE_INLINE void aq_avx2_acc_store(const struct aq_qc4w_tile *t, size_t i, const __m256 *acc, size_t regs) {
    float *o = t->out + i * t->out_stride;
    if (t->nr == 8 * regs) {
        for (size_t r = 0; r < regs; r++) _mm256_storeu_ps(o + 8 * r, acc[r]);
    } else {
        float tmp[8 * AQ_AVX2_TILE_REGS];
        for (size_t r = 0; r < regs; r++) _mm256_storeu_ps(tmp + 8 * r, acc[r]);
        for (size_t j = 0; j < t->nr; j++) o[j] = tmp[j];
    }
}

#endif /* AQ_KERNELS_X86_QD8_TILE_AVX2_H */
