/* qd8-quantize-grouped-asym-avx2.c - group-wise activation quantization with AVX2,
 * each 4-bit group asymmetric, bit for bit aq_qd8_quantize_grouped_asym_ref with
 * every group at bits (8-bit groups symmetric, as there): lo = min(0, min x) and
 * hi = max(0, max x), VMINPS(x, lo) = x < lo ? x : lo and VMAXPS(x, hi) = x > hi ?
 * x : hi, the reference's comparisons with its operand order, so a NaN is skipped
 * (min and max are exact: the lanes' order does not matter); then the reference's
 * scalar scale and zero point and the codes (qd8-group-avx2.h). */
#include "qd8-group-avx2.h"
#include "quant.h"
#include "ukernels.h"

/* The smallest of the eight floats of v (none NaN). */
static float hmin(__m256 v) {
    __m128 m = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_min_ps(m, _mm_movehl_ps(m, m));
    m = _mm_min_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

/* A 4-bit group of n values, as the reference's quantize_run_asym. Each lane of
 * lo8 (hi8) is +0 or negative (positive): a -0 never replaces +0, so no lane
 * order can turn up a zero of another sign than the reference's. */
static float group_asym(const float *x, size_t n, int8_t *q) {
    __m256 lo8 = _mm256_setzero_ps(), hi8 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        lo8 = _mm256_min_ps(v, lo8);
        hi8 = _mm256_max_ps(v, hi8);
    }
    float lo = hmin(lo8), hi = aq_avx2_hmax(hi8);
    for (; i < n; i++) {
        lo = x[i] < lo ? x[i] : lo;
        hi = x[i] > hi ? x[i] : hi;
    }
    const float scale = (hi - lo) / 15.0f;
    if (scale == 0.0f) {
        memset(q, 0, n);
        return scale;
    }
    const float rounded_zero = nearbyintf(-lo / scale);
    const float zero = rounded_zero > 0.0f ? rounded_zero : 0.0f;
    aq_avx2_group_codes(x, n, scale, -zero, 15.0f - zero, q);
    return scale;
}

bool aq_qd8_quantize_grouped_asym__avx2(const float *x, size_t n_rows, size_t k, size_t x_stride, int bits,
                                        size_t group, struct aq_qd8 *out) {
    if ((bits != 8 && bits != 4) || group == 0 || k % group != 0) return false;
    const size_t groups = k / group;
    out->n_rows = n_rows;
    out->k = k;
    out->group = group;
    for (size_t t = 0; t < n_rows; t++) {
        for (size_t g = 0; g < groups; g++) {
            const float *run = x + t * x_stride + g * group;
            int8_t *codes = out->q + t * k + g * group;
            out->scale[t * groups + g] =
                bits == 4 ? group_asym(run, group, codes) : aq_avx2_group_sym(run, group, -128.0f, 127.0f, codes);
        }
        out->zero[t] = 0;
    }
    return true;
}
