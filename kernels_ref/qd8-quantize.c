/* qd8-quantize.c - per-row INT8/INT4 activation quantization, dynamic (per token,
 * symmetric) and static (calibrated scale and zero point). Reference kernels; the
 * arithmetic is specified in quant.h. */
#include <math.h>

#include "quant.h"

struct code_range {
    float min;
    float max;
};

/* bits 8 -> [-128, 127]; bits 4 -> [-8, 7]. Returns false for other widths. */
static bool code_range_for_bits(int bits, struct code_range *range) {
    if (bits == 8) {
        *range = (struct code_range){-128.0f, 127.0f};
        return true;
    }
    if (bits == 4) {
        *range = (struct code_range){-8.0f, 7.0f};
        return true;
    }
    return false;
}

/* Clamps an already rounded level into the code range. A NaN fails the first
 * comparison and goes to range.min, so the conversion to int8 is always defined.
 * Comparisons, not fminf/fmaxf: those are library calls on baseline x86-64. */
static int8_t clamp_to_code(float level, struct code_range range) {
    const float above_min = level > range.min ? level : range.min;
    return (int8_t)(above_min < range.max ? above_min : range.max);
}

/* Quantizes n values of x onto levels symmetric about 0 with one scale: amax
 * maps onto qmax (127 or 7), so -qmax..qmax are used, qmin stays free, and +amax
 * and -amax are both exact levels. Returns the scale. */
static float quantize_run(const float *x, size_t n, struct code_range range, int8_t *q) {
    float amax = 0.0f;
    for (size_t i = 0; i < n; i++) {
        const float magnitude = fabsf(x[i]);
        amax = magnitude > amax ? magnitude : amax; /* a NaN is skipped, as fmaxf would */
    }
    const float scale = amax / range.max;
    if (scale == 0.0f) {
        for (size_t i = 0; i < n; i++) {
            q[i] = 0; /* nothing to divide by, and every level would be 0 anyway */
        }
        return scale;
    }
    for (size_t i = 0; i < n; i++) {
        q[i] = clamp_to_code(nearbyintf(x[i] / scale), range);
    }
    return scale;
}

bool aq_qd8_quantize_dynamic_ref(const float *x, size_t n_rows, size_t k, size_t x_stride, int bits,
                                 struct aq_qd8 *out) {
    struct code_range range;
    if (!code_range_for_bits(bits, &range)) {
        return false;
    }
    out->n_rows = n_rows;
    out->k = k;
    for (size_t t = 0; t < n_rows; t++) {
        out->scale[t] = quantize_run(x + t * x_stride, k, range, out->q + t * k);
        out->zero[t] = 0;
    }
    return true;
}

/* The clipping ratios aq_qd8_quantize_grouped_clip_ref tries, in order. */
static const float clip_ratios[] = {1.0f, 0.95f, 0.9f, 0.85f, 0.8f, 0.75f, 0.7f, 0.65f};

/* quantize_run with the scale amax * ratio / qmax, ratio the one of clip_ratios
 * whose codes give the least squared error (the first on ties). */
static float quantize_run_clipped(const float *x, size_t n, struct code_range range, int8_t *q) {
    float amax = 0.0f;
    for (size_t i = 0; i < n; i++) {
        const float magnitude = fabsf(x[i]);
        amax = magnitude > amax ? magnitude : amax;
    }
    float best_scale = amax / range.max, best_err = INFINITY;
    for (size_t r = 0; r < sizeof clip_ratios / sizeof clip_ratios[0] && best_scale != 0.0f; r++) {
        const float scale = amax * clip_ratios[r] / range.max;
        float err = 0.0f;
        for (size_t i = 0; i < n; i++) {
            const float d = x[i] - scale * (float)clamp_to_code(nearbyintf(x[i] / scale), range);
            err += d * d;
        }
        if (err < best_err) {
            best_err = err;
            best_scale = scale;
        }
    }
    if (best_scale == 0.0f) {
        for (size_t i = 0; i < n; i++) {
            q[i] = 0;
        }
        return best_scale;
    }
    for (size_t i = 0; i < n; i++) {
        q[i] = clamp_to_code(nearbyintf(x[i] / best_scale), range);
    }
    return best_scale;
}

/* The 16 levels of an asymmetric 4-bit run: the range [min(x, 0), max(x, 0)] in
 * 15 steps, level l at scale * (l - z) for an integer zero point z in [0, 15].
 * The codes are stored shifted, l - z in [-15, 15] (int8 lanes, as every qd8
 * code): the GEMMs' sum of codes times weights times the scale is then the
 * dequantized product, unchanged. Returns the scale. */
static float quantize_run_asym(const float *x, size_t n, int8_t *q) {
    float lo = 0.0f, hi = 0.0f;
    for (size_t i = 0; i < n; i++) {
        lo = x[i] < lo ? x[i] : lo; /* a NaN fails both comparisons and is skipped */
        hi = x[i] > hi ? x[i] : hi;
    }
    const float scale = (hi - lo) / 15.0f;
    if (scale == 0.0f) {
        for (size_t i = 0; i < n; i++) {
            q[i] = 0;
        }
        return scale;
    }
    /* lo = -inf makes the quotient inf / inf, a NaN, and every code NaN, whose
     * conversion to int8 is undefined: the comparison maps it to 0. */
    const float rounded_zero = nearbyintf(-lo / scale);
    const float zero = rounded_zero > 0.0f ? rounded_zero : 0.0f;
    const struct code_range range = {-zero, 15.0f - zero};
    for (size_t i = 0; i < n; i++) {
        q[i] = clamp_to_code(nearbyintf(x[i] / scale), range);
    }
    return scale;
}

enum group_mode { GROUP_PLAIN, GROUP_CLIP, GROUP_ASYM };

/* The group-wise quantizers' one body: group g of every token at group_bits[g]
 * bits (at bits for all when group_bits is NULL); a 4-bit group's scale is the
 * least-error clipped one with GROUP_CLIP, its levels asymmetric with
 * GROUP_ASYM. */
static bool quantize_grouped(const float *x, size_t n_rows, size_t k, size_t x_stride, int bits,
                             const uint8_t *group_bits, size_t group, enum group_mode mode, struct aq_qd8 *out) {
    struct code_range uniform = {0.0f, 0.0f}, range;
    if (group == 0 || k % group != 0 || (!group_bits && !code_range_for_bits(bits, &uniform))) {
        return false;
    }
    const size_t groups = k / group;
    for (size_t g = 0; group_bits && g < groups; g++) {
        if (!code_range_for_bits(group_bits[g], &range)) {
            return false;
        }
    }
    out->n_rows = n_rows;
    out->k = k;
    out->group = group;
    for (size_t t = 0; t < n_rows; t++) {
        for (size_t g = 0; g < groups; g++) {
            const int width = group_bits ? group_bits[g] : bits;
            range = uniform;
            if (group_bits) {
                code_range_for_bits(width, &range);
            }
            const float *run = x + t * x_stride + g * group;
            int8_t *codes = out->q + t * k + g * group;
            out->scale[t * groups + g] = width != 4           ? quantize_run(run, group, range, codes)
                                         : mode == GROUP_CLIP ? quantize_run_clipped(run, group, range, codes)
                                         : mode == GROUP_ASYM ? quantize_run_asym(run, group, codes)
                                                              : quantize_run(run, group, range, codes);
        }
        out->zero[t] = 0;
    }
    return true;
}

bool aq_qd8_quantize_grouped_ref(const float *x, size_t n_rows, size_t k, size_t x_stride, int bits, size_t group,
                                 struct aq_qd8 *out) {
    return quantize_grouped(x, n_rows, k, x_stride, bits, NULL, group, GROUP_PLAIN, out);
}

bool aq_qd8_quantize_grouped_bits_ref(const float *x, size_t n_rows, size_t k, size_t x_stride,
                                      const uint8_t *group_bits, size_t group, struct aq_qd8 *out) {
    return quantize_grouped(x, n_rows, k, x_stride, 0, group_bits, group, GROUP_PLAIN, out);
}

bool aq_qd8_quantize_grouped_clip_ref(const float *x, size_t n_rows, size_t k, size_t x_stride, int bits,
                                      const uint8_t *group_bits, size_t group, struct aq_qd8 *out) {
    return quantize_grouped(x, n_rows, k, x_stride, bits, group_bits, group, GROUP_CLIP, out);
}

bool aq_qd8_quantize_grouped_asym_ref(const float *x, size_t n_rows, size_t k, size_t x_stride, int bits,
                                      const uint8_t *group_bits, size_t group, struct aq_qd8 *out) {
    return quantize_grouped(x, n_rows, k, x_stride, bits, group_bits, group, GROUP_ASYM, out);
}

bool aq_qd8_quantize_static_ref(const float *x, size_t n_rows, size_t k, size_t x_stride, float scale, int32_t zero,
                                int bits, struct aq_qd8 *out) {
    struct code_range range;
    if (!code_range_for_bits(bits, &range)) {
        return false;
    }
    if (!(scale > 0.0f) || isinf(scale) || zero < (int32_t)range.min || zero > (int32_t)range.max) {
        return false;
    }
    out->n_rows = n_rows;
    out->k = k;
    const float zero_level = (float)zero;
    for (size_t t = 0; t < n_rows; t++) {
        const float *row = x + t * x_stride;
        int8_t *q = out->q + t * k;
        out->scale[t] = scale;
        out->zero[t] = zero;
        for (size_t i = 0; i < k; i++) {
            /* Round first, then shift by the integer zero point: the sum of two
             * integer-valued floats is exact below 2^24 and clamps above it. */
            const float level = nearbyintf(row[i] / scale);
            q[i] = clamp_to_code(level + zero_level, range);
        }
    }
    return true;
}

void aq_qd8_sum32_ref(const struct aq_qd8 *a, size_t t_begin, size_t t_end) {
    const size_t runs = a->k / 32;
    for (size_t t = t_begin; t < t_end; t++)
        for (size_t r = 0; r < runs; r++) {
            const int8_t *q = a->q + t * a->k + r * 32;
            int32_t sum = 0;
            for (size_t e = 0; e < 32; e++) sum += q[e];
            a->sum32[t * runs + r] = sum;
        }
}
