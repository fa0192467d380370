#include "calibration.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

aq_input_stats *aq_calibration_input(aq_calibration *c, int32_t layer, int32_t kind) {
    return &c->inputs[(size_t)layer * AQ_N_LINEAR_INPUTS + (size_t)kind];
}

void aq_calibration_free(aq_calibration *c) {
    if (!c) return;
    for (int32_t i = 0; i < c->n_layers * AQ_N_LINEAR_INPUTS; i++) {
        free(c->inputs[i].hessian);
        free(c->inputs[i].sum_sq);
        free(c->inputs[i].samples);
    }
    free(c->inputs);
    free(c);
}

aq_error aq_calibration_create(aq_calibration **out, int32_t n_layers, const int32_t *widths, bool hessians,
                               int32_t max_samples, int32_t sample_every) {
    aq_calibration *c = calloc(1, sizeof *c);
    if (!c) return AQ_ERR_OUT_OF_MEMORY;
    c->n_layers = n_layers;
    c->sample_every = sample_every < 1 ? 1 : sample_every;
    c->inputs = calloc((size_t)n_layers * AQ_N_LINEAR_INPUTS, sizeof *c->inputs);
    if (!c->inputs) {
        free(c);
        return AQ_ERR_OUT_OF_MEMORY;
    }
    for (int32_t l = 0; l < n_layers; l++) {
        for (int32_t k = 0; k < AQ_N_LINEAR_INPUTS; k++) {
            aq_input_stats *s = aq_calibration_input(c, l, k);
            size_t w = (size_t)widths[k];
            s->width = widths[k];
            s->min = FLT_MAX;
            s->max = -FLT_MAX;
            s->samples_cap = max_samples;
            s->samples = malloc((size_t)max_samples * w * sizeof(float));
            s->sum_sq = calloc(w, sizeof(float));
            if (hessians) s->hessian = calloc(w * w, sizeof(float));
            if (!s->samples || !s->sum_sq || (hessians && !s->hessian)) {
                aq_calibration_free(c);
                return AQ_ERR_OUT_OF_MEMORY;
            }
        }
    }
    *out = c;
    return AQ_OK;
}

/* Tokens added per pass over H. One pass a token made the accumulation
 * memory-bound (H is up to 1536 x 1536 floats, beyond the caches): it was the
 * largest part of GPTQ's quantizing (perf, aq-quantize --scheme w4a16 of
 * SmolLM2-135M: 39% of the time, ahead of the forward pass and the Cholesky
 * factors). */
#define HESSIAN_TOKENS 8
/* Entries of a row of H kept in registers across those tokens (a fixed count,
 * so that the compiler vectorizes the update at -O2). */
#define HESSIAN_COLS 8

/* H += x x^T for each row, lower triangle only (mirrored by the consumer).
 * Each entry still adds the tokens one at a time, in order, so the sums are
 * the same bits as a pass per token. */
static void accumulate_hessian(float *h, const float *x, int32_t n_tokens, int32_t width) {
    const size_t w = (size_t)width;
    for (int32_t t0 = 0; t0 < n_tokens; t0 += HESSIAN_TOKENS) {
        const int32_t nt = n_tokens - t0 < HESSIAN_TOKENS ? n_tokens - t0 : HESSIAN_TOKENS;
        const float *rows = x + (size_t)t0 * w;
        for (size_t i = 0; i < w; i++) {
            float *hi = h + i * w;
            size_t j = 0;
            for (; j + HESSIAN_COLS <= i + 1; j += HESSIAN_COLS) {
                float acc[HESSIAN_COLS];
                for (size_t c = 0; c < HESSIAN_COLS; c++) acc[c] = hi[j + c];
                for (int32_t t = 0; t < nt; t++) {
                    const float *row = rows + (size_t)t * w;
                    const float xi = row[i];
                    for (size_t c = 0; c < HESSIAN_COLS; c++) acc[c] += xi * row[j + c];
                }
                for (size_t c = 0; c < HESSIAN_COLS; c++) hi[j + c] = acc[c];
            }
            for (; j <= i; j++) {
                float acc = hi[j];
                for (int32_t t = 0; t < nt; t++) acc += rows[(size_t)t * w + i] * rows[(size_t)t * w + j];
                hi[j] = acc;
            }
        }
    }
}

void aq_calibration_observe(void *calibration, int32_t layer, aq_linear_input site, const float *x, int32_t n_tokens,
                            int32_t width) {
    aq_calibration *c = calibration;
    if (layer < 0 || layer >= c->n_layers) return;
    aq_input_stats *s = aq_calibration_input(c, layer, (int32_t)site);
    for (size_t i = 0; i < (size_t)n_tokens * (size_t)width; i++) {
        s->min = x[i] < s->min ? x[i] : s->min;
        s->max = x[i] > s->max ? x[i] : s->max;
    }
    for (size_t t = 0; t < (size_t)n_tokens; t++)
        for (size_t j = 0; j < (size_t)width; j++) s->sum_sq[j] += x[t * (size_t)width + j] * x[t * (size_t)width + j];
    if (s->hessian) accumulate_hessian(s->hessian, x, n_tokens, width);
    for (int32_t t = 0; t < n_tokens; t++) {
        if ((s->n_tokens + t) % c->sample_every == 0 && s->n_samples < s->samples_cap)
            memcpy(s->samples + (size_t)s->n_samples++ * (size_t)width, x + (size_t)t * (size_t)width,
                   (size_t)width * sizeof(float));
    }
    s->n_tokens += n_tokens;
}
