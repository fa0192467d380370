/* Statistics of the linear layers' inputs on calibration text, gathered by
 * the forward pass while quantizing: range per tensor and per channel, the
 * Hessian X^T X that GPTQ needs, and a sample of rows for TRIP. Internal. */
#ifndef AQ_CALIBRATION_H
#define AQ_CALIBRATION_H

#include <stdbool.h>
#include <stdint.h>

#include "agilequant.h"
#include "model.h"

typedef struct aq_input_stats {
    int32_t width;
    float min, max;   /* over the whole tensor */
    float *hessian;   /* (width, width) sum of x x^T, or NULL when not wanted */
    float *sum_sq;    /* (width) sum of x^2 per channel: the diagonal of the Hessian, always kept */
    int64_t n_tokens; /* rows observed */
    float *samples;   /* (n_samples, width): every sample_every-th row */
    int32_t n_samples, samples_cap;
} aq_input_stats;

typedef struct aq_calibration {
    int32_t n_layers;
    aq_input_stats *inputs; /* (n_layers, AQ_N_LINEAR_INPUTS) */
    int32_t sample_every;
} aq_calibration;

/* widths: the width of each input kind. */
aq_error aq_calibration_create(aq_calibration **out, int32_t n_layers, const int32_t *widths, bool hessians,
                               int32_t max_samples, int32_t sample_every);
void aq_calibration_free(aq_calibration *c);
aq_input_stats *aq_calibration_input(aq_calibration *c, int32_t layer, int32_t kind);
/* An aq_input_observer for the forward pass (calibration is the user
 * pointer); layer < 0 (the output head) is ignored. */
void aq_calibration_observe(void *calibration, int32_t layer, aq_linear_input site, const float *x, int32_t n_tokens,
                            int32_t width);

#endif
