/* The norms of the forward pass: RMSNorm and LayerNorm, one row at a time,
 * in float (as the paper keeps them). Internal. */
#ifndef AQ_NORM_H
#define AQ_NORM_H

#include <stdint.h>

#include "model.h"

/* out[t] = norm(x[t]) * weight (+ bias) for rows t < rows of width n.
 * RMSNorm: x / sqrt(mean(x^2) + eps); LayerNorm: (x - mean) / sqrt(var + eps)
 * with the biased variance, as ggml_norm and PyTorch compute it. bias may be
 * NULL (RMSNorm never has one). */
void aq_norm_rows(aq_norm_kind kind, float *out, const float *x, const float *weight, const float *bias, int32_t rows,
                  int32_t n, float eps);

#endif
