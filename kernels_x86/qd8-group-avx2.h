/* qd8-group-avx2.h - what the AVX2 group-wise qd8 quantizers share
 * (qd8-quantize-grouped-avx2.c, qd8-quantize-grouped-asym-avx2.c): a group's codes
 * from its scale and code range, and a symmetric group whole, each bit for bit the
 * reference's (kernels_ref/qd8-quantize.c). Groups of any length: 32 lanes at a
 * time, then 8, then the reference's own scalar arithmetic. */
#ifndef AQ_QD8_GROUP_AVX2_H
#define AQ_QD8_GROUP_AVX2_H

#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "act-quantize-avx2.h"

/* The reference's clamp, for the tails. */
static inline int8_t aq_avx2_clamp_code(float level, float lo, float hi) {
    const float above = level > lo ? level : lo;
    return (int8_t)(above < hi ? above : hi);
}

/* clamp(nearbyintf(x / scale), lo, hi) per lane: a true division, VROUNDPS in the
 * current rounding mode as nearbyintf, then VMAXPS(level, lo) = level > lo ? level
 * : lo and VMINPS(above, hi) = above < hi ? above : hi, the reference's comparisons
 * with its operand order (a NaN level goes to lo, as there). */
static inline __m256 aq_avx2_group_levels(const float *x, __m256 scale, __m256 lo, __m256 hi) {
    const __m256 level =
        _mm256_round_ps(_mm256_div_ps(_mm256_loadu_ps(x), scale), _MM_FROUND_CUR_DIRECTION | _MM_FROUND_NO_EXC);
    return _mm256_min_ps(_mm256_max_ps(level, lo), hi);
}

/* The n codes clamp(nearbyintf(x / scale), lo, hi) of a group into q. */
static inline void aq_avx2_group_codes(const float *x, size_t n, float scale, float lo, float hi, int8_t *q) {
    const __m256 scale8 = _mm256_set1_ps(scale), lo8 = _mm256_set1_ps(lo), hi8 = _mm256_set1_ps(hi);
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        const __m256i codes = aq_avx2_pack_i8(
            aq_avx2_group_levels(x + i, scale8, lo8, hi8), aq_avx2_group_levels(x + i + 8, scale8, lo8, hi8),
            aq_avx2_group_levels(x + i + 16, scale8, lo8, hi8), aq_avx2_group_levels(x + i + 24, scale8, lo8, hi8));
        _mm256_storeu_si256((__m256i *)(q + i), codes);
    }
    for (; i + 8 <= n; i += 8) {
        const __m256i codes = _mm256_cvtps_epi32(aq_avx2_group_levels(x + i, scale8, lo8, hi8));
        const __m128i words = _mm_packs_epi32(_mm256_castsi256_si128(codes), _mm256_extracti128_si256(codes, 1));
        _mm_storel_epi64((__m128i *)(q + i), _mm_packs_epi16(words, words));
    }
    for (; i < n; i++) q[i] = aq_avx2_clamp_code(nearbyintf(x[i] / scale), lo, hi);
}

/* A symmetric group of n values, as the reference's quantize_run: amax = max |x|
 * (VMAXPS(magnitude, amax) keeps amax where the magnitude is NaN, as the
 * reference's comparison; max is exact, so the lanes' order does not matter),
 * scale = amax / hi (IEEE division), the codes, all 0 where the scale is 0.
 * Returns the scale. */
static inline float aq_avx2_group_sym(const float *x, size_t n, float lo, float hi, int8_t *q) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 amax8 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) amax8 = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + i)), amax8);
    float amax = aq_avx2_hmax(amax8);
    for (; i < n; i++) {
        const float magnitude = fabsf(x[i]);
        amax = magnitude > amax ? magnitude : amax;
    }
    const float scale = amax / hi;
    if (scale == 0.0f)
        memset(q, 0, n);
    else
        aq_avx2_group_codes(x, n, scale, lo, hi, q);
    return scale;
}

#endif /* AQ_QD8_GROUP_AVX2_H */
