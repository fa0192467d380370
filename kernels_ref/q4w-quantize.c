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

bool aq_q4w_quantize_rtn_ref(const float *w, size_t n_rows, size_t k, size_t group, bool asym, struct aq_q4w *out) {
    if (!q4w_shape_is_valid(n_rows, k, group) || asym != (out->zero != NULL)) {
        return false;
    }
    out->n_rows = n_rows;
    out->k = k;
    out->group = group;
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
            /* Element 2j in the low nibble, 2j + 1 in the high nibble. group is
             * even, so a group starts on a byte boundary. */
            uint8_t *packed = packed_row + g * group / 2;
            for (size_t j = 0; j < group / 2; j++) {
                packed[j] = (uint8_t)(codes[2 * j] | (codes[2 * j + 1] << 4));
            }
        }
    }
    return true;
}
