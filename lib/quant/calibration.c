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
            if (hessians) s->hessian = calloc(w * w, sizeof(float));
            if (!s->samples || (hessians && !s->hessian)) {
                aq_calibration_free(c);
                return AQ_ERR_OUT_OF_MEMORY;
            }
        }
    }
    *out = c;
    return AQ_OK;
}

/* H += x x^T for each row, lower triangle only (mirrored by the consumer):
 * the inner loop over j is contiguous and vectorizes. */
static void accumulate_hessian(float *h, const float *x, int32_t n_tokens, int32_t width) {
    for (int32_t t = 0; t < n_tokens; t++) {
        const float *row = x + (size_t)t * (size_t)width;
        for (int32_t i = 0; i < width; i++) {
            float xi = row[i];
            float *hi = h + (size_t)i * (size_t)width;
            for (int32_t j = 0; j <= i; j++) hi[j] += xi * row[j];
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
    if (s->hessian) accumulate_hessian(s->hessian, x, n_tokens, width);
    for (int32_t t = 0; t < n_tokens; t++) {
        if ((s->n_tokens + t) % c->sample_every == 0 && s->n_samples < s->samples_cap)
            memcpy(s->samples + (size_t)s->n_samples++ * (size_t)width, x + (size_t)t * (size_t)width,
                   (size_t)width * sizeof(float));
    }
    s->n_tokens += n_tokens;
}
