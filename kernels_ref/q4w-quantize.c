/* q4w-quantize.c - round-to-nearest INT4 group-wise weight quantization (reference).
 * The scheme and its rounding are specified in quant.h. */
#include <math.h>

#include "f16.h"
#include "quant.h"

/* Largest finite half: scales are clamped to it so that no group gets an inf
 * scale (inf * 0 would dequantize to NaN). */
#define AQ_FP16_MAX 65504.0f

static bool q4w_shape_is_valid(size_t n_rows, size_t k, size_t group) {
    if (n_rows == 0 || k == 0) {
        return false;
    }
    if (group != 32 && group != 64 && group != 128) {
        return false;
    }
    return k % group == 0; /* also makes k even, as the nibble packing needs */
}

bool aq_q4w_sizes(size_t n_rows, size_t k, size_t group, bool asym, size_t *q_bytes, size_t *scale_bytes,
                  size_t *zero_bytes) {
    if (!q4w_shape_is_valid(n_rows, k, group)) {
        return false;
    }
    const size_t n_groups = n_rows * (k / group);
    *q_bytes = n_rows * (k / 2);
    *scale_bytes = n_groups * sizeof(uint16_t);
    *zero_bytes = asym ? n_groups * sizeof(uint8_t) : 0;
    return true;
}

static float clamp_scale_to_fp16_range(float scale) { return fmaxf(fminf(scale, AQ_FP16_MAX), -AQ_FP16_MAX); }

/* nearbyintf(value) + zero clamped to the 4-bit code range. fminf/fmaxf map a NaN
 * to the bound instead of leaving it for an undefined float-to-int conversion. */
static uint8_t q4_code(float value_over_scale, float zero) {
    const float level = nearbyintf(value_over_scale) + zero;
    return (uint8_t)fminf(fmaxf(level, 0.0f), 15.0f);
}

/* Quantizes one group; returns its f16 scale and writes its codes and zero point. */
static uint16_t quantize_group(const float *w, size_t group, bool asym, uint8_t *codes, uint8_t *zero_out) {
    float stored_scale;
    if (asym) {
        float lo = 0.0f;
        float hi = 0.0f;
        for (size_t i = 0; i < group; i++) {
            lo = fminf(lo, w[i]);
            hi = fmaxf(hi, w[i]);
        }
        stored_scale = clamp_scale_to_fp16_range((hi - lo) / 15.0f);
        const uint16_t scale_f16 = aq_fp32_to_fp16(stored_scale);
        const float s = aq_fp16_to_fp32(scale_f16);
        if (s == 0.0f) {
            *zero_out = AQ_Q4W_SYMMETRIC_ZERO;
            for (size_t i = 0; i < group; i++) {
                codes[i] = AQ_Q4W_SYMMETRIC_ZERO;
            }
            return 0; /* +0, even if the division underflowed to a signed zero */
        }
        const uint8_t zero = q4_code(-lo / s, 0.0f);
        *zero_out = zero;
        for (size_t i = 0; i < group; i++) {
            codes[i] = q4_code(w[i] / s, (float)zero);
        }
        return scale_f16;
    }

    /* Symmetric: the signed element of largest magnitude lands exactly on -8. */
    float amax = 0.0f;
    float signed_max = 0.0f;
    for (size_t i = 0; i < group; i++) {
        if (amax < fabsf(w[i])) {
            amax = fabsf(w[i]);
            signed_max = w[i];
        }
    }
    stored_scale = clamp_scale_to_fp16_range(signed_max / -8.0f);
    const uint16_t scale_f16 = aq_fp32_to_fp16(stored_scale);
    const float s = aq_fp16_to_fp32(scale_f16);
    if (s == 0.0f) {
        for (size_t i = 0; i < group; i++) {
            codes[i] = AQ_Q4W_SYMMETRIC_ZERO;
        }
        return 0;
    }
    for (size_t i = 0; i < group; i++) {
        codes[i] = q4_code(w[i] / s, (float)AQ_Q4W_SYMMETRIC_ZERO);
    }
    return scale_f16;
}

/* One group's codes and weighted squared error on the grid (s, zero); s != 0. */
static float group_error(const float *w, const float *importance, size_t group, float s, float zero, uint8_t *codes) {
    float err = 0.0f;
    for (size_t i = 0; i < group; i++) {
        codes[i] = q4_code(w[i] / s, zero);
        const float e = w[i] - s * ((float)codes[i] - zero);
        err += (importance ? importance[i] : 1.0f) * e * e;
    }
    return err;
}

/* The weighted least-squares scale for fixed codes: sum p w c / sum p c^2, c = code - zero. */
static float least_squares_scale(const float *w, const float *importance, size_t group, const uint8_t *codes,
                                 float zero) {
    float num = 0.0f;
    float den = 0.0f;
    for (size_t i = 0; i < group; i++) {
        const float p = importance ? importance[i] : 1.0f;
        const float c = (float)codes[i] - zero;
        num += p * w[i] * c;
        den += p * c * c;
    }
    return den > 0.0f ? num / den : 0.0f;
}

typedef struct group_choice {
    float err;
    uint16_t scale_f16;
    uint8_t zero;
    uint8_t codes[128];
} group_choice;

/* Tries the f16 rounding of scale with zero point zero, and then the least-squares scale of the codes it gives;
 * keeps whichever beats *best (strictly: the earlier candidate wins ties). */
static void try_scale(const float *w, const float *importance, size_t group, float scale, uint8_t zero,
                      group_choice *best) {
    group_choice c;
    for (int refine = 0; refine < 2; refine++) {
        c.scale_f16 = aq_fp32_to_fp16(clamp_scale_to_fp16_range(scale));
        const float s = aq_fp16_to_fp32(c.scale_f16);
        if (s == 0.0f || !isfinite(s)) {
            return;
        }
        c.zero = zero;
        c.err = group_error(w, importance, group, s, (float)zero, c.codes);
        if (c.err < best->err) {
            *best = c;
        }
        scale = least_squares_scale(w, importance, group, c.codes, (float)zero);
    }
}

/* Clipping ratios tried, in 32nds of the round-to-nearest range: 36/32 (a coarser grid that may round the rest
 * better) down to 20/32 (the largest element clipped to 5/8 of itself). */
#define SEARCH_RATIO_MAX 36
#define SEARCH_RATIO_MIN 20

static void search_group(const float *w, const float *importance, size_t group, bool asym, group_choice *best) {
    /* Round to nearest first: the search can only improve on it. */
    uint8_t zero = AQ_Q4W_SYMMETRIC_ZERO;
    best->scale_f16 = quantize_group(w, group, asym, best->codes, &zero);
    best->zero = zero;
    const float s0 = aq_fp16_to_fp32(best->scale_f16);
    if (s0 == 0.0f) {
        return;
    }
    best->err = group_error(w, importance, group, s0, (float)zero, best->codes);
    float lo = 0.0f;
    float hi = 0.0f;
    float signed_max = 0.0f;
    for (size_t i = 0; i < group; i++) {
        lo = fminf(lo, w[i]);
        hi = fmaxf(hi, w[i]);
        if (fabsf(signed_max) < fabsf(w[i])) {
            signed_max = w[i];
        }
    }
    for (int r = SEARCH_RATIO_MAX; r >= SEARCH_RATIO_MIN; r--) {
        const float f = (float)r / 32.0f;
        if (!asym) {
            try_scale(w, importance, group, signed_max / -8.0f * f, AQ_Q4W_SYMMETRIC_ZERO, best);
            continue;
        }
        /* The shrunk range anchored at its low end, at its high end, and centred. */
        const float s = (hi - lo) * f / 15.0f;
        const float anchors[3] = {-lo / s, 15.0f - hi / s, 7.5f - (lo + hi) / (2.0f * s)};
        for (int a = 0; a < 3; a++) {
            try_scale(w, importance, group, s, (uint8_t)fminf(fmaxf(nearbyintf(anchors[a]), 0.0f), 15.0f), best);
        }
    }
}

/* The checks and header fields both quantizers share: a valid shape, and zero points exactly when asym. */
static bool q4w_start(size_t n_rows, size_t k, size_t group, bool asym, struct aq_q4w *out) {
    if (!q4w_shape_is_valid(n_rows, k, group) || asym != (out->zero != NULL)) {
        return false;
    }
    out->n_rows = n_rows;
    out->k = k;
    out->group = group;
    return true;
}

static void pack_group(const uint8_t *codes, size_t group, uint8_t *packed) {
    /* Element 2j in the low nibble, 2j + 1 in the high nibble. group is even, so a group starts on a byte
     * boundary. */
    for (size_t j = 0; j < group / 2; j++) {
        packed[j] = (uint8_t)(codes[2 * j] | (codes[2 * j + 1] << 4));
    }
}

bool aq_q4w_quantize_search_ref(const float *w, size_t n_rows, size_t k, size_t group, bool asym,
                                const float *importance, struct aq_q4w *out) {
    if (!q4w_start(n_rows, k, group, asym, out)) {
        return false;
    }
    const size_t groups_per_row = k / group;
    group_choice best;
    for (size_t r = 0; r < n_rows; r++) {
        for (size_t g = 0; g < groups_per_row; g++) {
            search_group(w + r * k + g * group, importance ? importance + g * group : NULL, group, asym, &best);
            out->scale[r * groups_per_row + g] = best.scale_f16;
            if (asym) {
                out->zero[r * groups_per_row + g] = best.zero;
            }
            pack_group(best.codes, group, out->q + r * (k / 2) + g * group / 2);
        }
    }
    return true;
}

bool aq_q4w_quantize_rtn_ref(const float *w, size_t n_rows, size_t k, size_t group, bool asym, struct aq_q4w *out) {
    if (!q4w_start(n_rows, k, group, asym, out)) {
        return false;
    }
    const size_t groups_per_row = k / group;
    uint8_t codes[128]; /* one group's codes before packing; group <= 128 */
    for (size_t r = 0; r < n_rows; r++) {
        const float *row = w + r * k;
        uint8_t *packed_row = out->q + r * (k / 2);
        for (size_t g = 0; g < groups_per_row; g++) {
            uint8_t zero = AQ_Q4W_SYMMETRIC_ZERO;
            out->scale[r * groups_per_row + g] = quantize_group(row + g * group, group, asym, codes, &zero);
            if (asym) {
                out->zero[r * groups_per_row + g] = zero;
            }
            pack_group(codes, group, packed_row + g * group / 2);
        }
    }
    return true;
}
