/* qd8-quantize-avx2.c - dynamic per-row INT8/INT4 activation quantization with AVX2,
 * bit for bit aq_qd8_quantize_dynamic_ref: amax = max |x| (a NaN skipped; max is
 * exact, so the lanes' order does not matter), scale = amax / qmax, each code
 * nearbyintf(x / scale) (VROUNDPS in the current rounding mode, as nearbyintf),
 * clamped to [qmin, qmax] with a NaN going to qmin (VMAXPS returns its second
 * operand when the first is NaN, as the reference's comparison does). */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "act-quantize-avx2.h"
#include "quant.h"

/* The reference's clamp, for the tail. */
static int8_t clamp_code(float level, float lo, float hi) {
    const float above = level > lo ? level : lo;
    return (int8_t)(above < hi ? above : hi);
}

static __m256 code_lanes(const float *x, __m256 scale, __m256 lo, __m256 hi) {
    const __m256 level =
        _mm256_round_ps(_mm256_div_ps(_mm256_loadu_ps(x), scale), _MM_FROUND_CUR_DIRECTION | _MM_FROUND_NO_EXC);
    return _mm256_min_ps(_mm256_max_ps(level, lo), hi);
}

bool aq_qd8_quantize__avx2(const float *x, size_t n_rows, size_t k, size_t x_stride, int bits, struct aq_qd8 *out) {
    if (bits != 8 && bits != 4) return false;
    const float lo = bits == 8 ? -128.0f : -8.0f, hi = bits == 8 ? 127.0f : 7.0f;
    out->n_rows = n_rows;
    out->k = k;
    for (size_t t = 0; t < n_rows; t++) {
        const float *row = x + t * x_stride;
        int8_t *q = out->q + t * k;
        const __m256 sign = _mm256_set1_ps(-0.0f);
        __m256 amax8 = _mm256_setzero_ps();
        size_t i = 0;
        for (; i + 8 <= k; i += 8) amax8 = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(row + i)), amax8);
        float amax = aq_avx2_hmax(amax8);
        for (; i < k; i++) {
            const float magnitude = fabsf(row[i]);
            amax = magnitude > amax ? magnitude : amax;
        }
        const float scale = amax / hi;
        out->scale[t] = scale;
        out->zero[t] = 0;
        if (scale == 0.0f) {
            memset(q, 0, k);
            continue;
        }
        const __m256 scale8 = _mm256_set1_ps(scale), lo8 = _mm256_set1_ps(lo), hi8 = _mm256_set1_ps(hi);
        for (i = 0; i + 32 <= k; i += 32) {
            const __m256i codes =
                aq_avx2_pack_i8(code_lanes(row + i, scale8, lo8, hi8), code_lanes(row + i + 8, scale8, lo8, hi8),
                                code_lanes(row + i + 16, scale8, lo8, hi8), code_lanes(row + i + 24, scale8, lo8, hi8));
            _mm256_storeu_si256((__m256i *)(q + i), codes);
        }
        for (; i < k; i++) q[i] = clamp_code(nearbyintf(row[i] / scale), lo, hi);
    }
    return true;
}
