/* act-quantize-avx2.h - the block of 32 that the AVX2 Q8_0 and Q8_1 activation
 * quantizers share (q8_0-quantize-avx2.c, q8_1-quantize-avx2.c): bit for bit
 * llama.cpp's reference rounding as aq_q8_0_quantize_ref does it. */
#ifndef AQ_ACT_QUANTIZE_AVX2_H
#define AQ_ACT_QUANTIZE_AVX2_H

#include <immintrin.h>
#include <stdint.h>

/* The largest of the eight floats of v (max is exact, so any order is). */
static inline float aq_avx2_hmax(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

/* roundf(v) per lane, half away from zero: truncate, then step away from zero
 * where the dropped fraction (exact: v - trunc(v)) is at least 1/2. */
static inline __m256 aq_avx2_round_away(__m256 v) {
    const __m256 sign = _mm256_set1_ps(-0.0f), half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f);
    const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m256 frac = _mm256_andnot_ps(sign, _mm256_sub_ps(v, t));
    const __m256 step = _mm256_or_ps(_mm256_and_ps(v, sign), one);
    return _mm256_add_ps(t, _mm256_and_ps(_mm256_cmp_ps(frac, half, _CMP_GE_OQ), step));
}

/* Four vectors of 8 integral floats in [-128, 127] to 32 int8 in order. */
static inline __m256i aq_avx2_pack_i8(__m256 a, __m256 b, __m256 c, __m256 d) {
    const __m256i ab = _mm256_packs_epi32(_mm256_cvtps_epi32(a), _mm256_cvtps_epi32(b));
    const __m256i cd = _mm256_packs_epi32(_mm256_cvtps_epi32(c), _mm256_cvtps_epi32(d));
    /* The packs interleave 128-bit lanes: a0..3 b0..3 c0..3 d0..3 | a4..7 b4..7 ... */
    return _mm256_permutevar8x32_epi32(_mm256_packs_epi16(ab, cd), _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/* One block of 32 as quantize_row_q8_0_ref: amax = max |x|; d = amax / 127;
 * id = d ? 1 / d : 0; qs = clamp(roundf(x * id), -127, 127). Returns d (float,
 * unrounded); writes qs. */
static inline float aq_avx2_q8_block32(const float *x, int8_t *qs) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 v[4];
    __m256 amax = _mm256_setzero_ps();
    for (int i = 0; i < 4; i++) {
        v[i] = _mm256_loadu_ps(x + 8 * i);
        amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign, v[i]));
    }
    const float d = aq_avx2_hmax(amax) / 127.0f;
    const float inverse_d = d != 0.0f ? 1.0f / d : 0.0f;
    const __m256 id = _mm256_set1_ps(inverse_d), lo = _mm256_set1_ps(-127.0f), hi = _mm256_set1_ps(127.0f);
    for (int i = 0; i < 4; i++)
        v[i] = _mm256_min_ps(_mm256_max_ps(aq_avx2_round_away(_mm256_mul_ps(v[i], id)), lo), hi);
    _mm256_storeu_si256((__m256i *)qs, aq_avx2_pack_i8(v[0], v[1], v[2], v[3]));
    return d;
}

#endif /* AQ_ACT_QUANTIZE_AVX2_H */
