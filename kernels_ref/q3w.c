/* q3w.c - 3-bit symmetric group-wise weights (reference): round-to-nearest with a
 * clipping search, and the file's bit planes. The format is specified in quant.h. */
#include <math.h>

#include "f16.h"
#include "quant.h"

#define AQ_FP16_MAX 65504.0f
#define Q3W_SYMMETRIC_ZERO 8 /* of the nibble q; the 3-bit code's is 4 */
#define CLIP_STEPS 12        /* f = 1, 31/32, ..., 20/32 */

static uint8_t q3_code(float value_over_scale) {
    const float level = nearbyintf(value_over_scale) + (float)Q3W_SYMMETRIC_ZERO;
    return (uint8_t)fminf(fmaxf(level, (float)AQ_Q3W_CODE_MIN), (float)AQ_Q3W_CODE_MAX);
}

/* Squared error of the group on the grid of s (an f16-rounded, nonzero scale). */
static float group_error(const float *w, size_t group, float s) {
    float err = 0.0f;
    for (size_t i = 0; i < group; i++) {
        /* Separate statements: no compiler may fuse them, so the choice is the same everywhere. */
        const float v = s * (float)(q3_code(w[i] / s) - Q3W_SYMMETRIC_ZERO);
        const float d = w[i] - v;
        const float d2 = d * d;
        err = err + d2;
    }
    return err;
}

static uint16_t quantize_group(const float *w, size_t group, uint8_t *codes) {
    float amax = 0.0f, signed_max = 0.0f;
    for (size_t i = 0; i < group; i++) {
        if (amax < fabsf(w[i])) {
            amax = fabsf(w[i]);
            signed_max = w[i];
        }
    }
    uint16_t best = 0;
    float best_err = INFINITY;
    for (int step = 0; step < CLIP_STEPS; step++) {
        const float f = (float)(32 - step) / 32.0f;
        const float candidate = fmaxf(fminf(signed_max / -4.0f * f, AQ_FP16_MAX), -AQ_FP16_MAX);
        const uint16_t h = aq_fp32_to_fp16(candidate);
        const float s = aq_fp16_to_fp32(h);
        if (s == 0.0f) break; /* smaller factors round to 0 as well */
        const float err = group_error(w, group, s);
        if (err < best_err) {
            best_err = err;
            best = h;
        }
    }
    const float s = aq_fp16_to_fp32(best);
    for (size_t i = 0; i < group; i++) codes[i] = s == 0.0f ? Q3W_SYMMETRIC_ZERO : q3_code(w[i] / s);
    return s == 0.0f ? 0 : best;
}

bool aq_q3w_quantize_rtn_ref(const float *w, size_t n_rows, size_t k, size_t group, struct aq_q4w *out) {
    size_t q_bytes, scale_bytes, zero_bytes;
    if (out->zero != NULL || !aq_q4w_sizes(n_rows, k, group, false, &q_bytes, &scale_bytes, &zero_bytes)) return false;
    out->n_rows = n_rows;
    out->k = k;
    out->group = group;
    const size_t groups = k / group;
    uint8_t codes[128];
    for (size_t r = 0; r < n_rows; r++) {
        for (size_t g = 0; g < groups; g++) {
            out->scale[r * groups + g] = quantize_group(w + r * k + g * group, group, codes);
            uint8_t *packed = out->q + r * (k / 2) + g * group / 2;
            for (size_t j = 0; j < group / 2; j++) packed[j] = (uint8_t)(codes[2 * j] | (codes[2 * j + 1] << 4));
        }
    }
    return true;
}

bool aq_q3w_codes_valid(const struct aq_q4w *w) {
    if (w->zero != NULL) return false;
    for (size_t i = 0; i < w->n_rows * (w->k / 2); i++) {
        const int lo = w->q[i] & 0x0F, hi = w->q[i] >> 4;
        if (lo < AQ_Q3W_CODE_MIN || lo > AQ_Q3W_CODE_MAX || hi < AQ_Q3W_CODE_MIN || hi > AQ_Q3W_CODE_MAX) return false;
    }
    return true;
}

static int code3_at(const struct aq_q4w *w, size_t r, size_t e) {
    const uint8_t byte = w->q[r * (w->k / 2) + e / 2];
    return ((e & 1) ? byte >> 4 : byte & 0x0F) - AQ_Q3W_CODE_MIN;
}

void aq_q3w_to_planes(const struct aq_q4w *w, uint8_t *planes) {
    const size_t k = w->k;
    for (size_t r = 0; r < w->n_rows; r++) {
        uint8_t *low = planes + r * AQ_Q3W_ROW_BYTES(k), *high = low + k / 4;
        for (size_t j = 0; j < k / 4; j++) low[j] = 0;
        for (size_t j = 0; j < k / 8; j++) high[j] = 0;
        for (size_t e = 0; e < k; e++) {
            const int c = code3_at(w, r, e) & 7;
            low[e / 4] |= (uint8_t)((c & 3) << (2 * (e % 4)));
            high[e / 8] |= (uint8_t)((c >> 2) << (e % 8));
        }
    }
}

void aq_q3w_from_planes(const uint8_t *planes, struct aq_q4w *w) {
    const size_t k = w->k;
    for (size_t r = 0; r < w->n_rows; r++) {
        const uint8_t *low = planes + r * AQ_Q3W_ROW_BYTES(k), *high = low + k / 4;
        uint8_t *q = w->q + r * (k / 2);
        for (size_t e = 0; e < k; e += 2) {
            int nib[2];
            for (size_t i = 0; i < 2; i++) {
                const size_t x = e + i;
                const int c = ((low[x / 4] >> (2 * (x % 4))) & 3) | (((high[x / 8] >> (x % 8)) & 1) << 2);
                nib[i] = c + AQ_Q3W_CODE_MIN;
            }
            q[e / 2] = (uint8_t)(nib[0] | (nib[1] << 4));
        }
    }
}
