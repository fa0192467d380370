/* Weight quantization to INT4 group-wise (kernels_ref/quant.h's aq_q4w), by
 * GPTQ (Frantar et al. 2022): columns are quantized in order and each one's
 * rounding error is spread over the not-yet-quantized columns, weighted by
 * the inverse Hessian of the layer's inputs, so the layer's output on the
 * calibration data moves as little as possible. Internal. */
#ifndef AQ_GPTQ_H
#define AQ_GPTQ_H

#include <stdbool.h>
#include <stddef.h>

#include "agilequant.h"
#include "quant.h"

/* From hessian (k, k; the lower triangle of sum x x^T, the upper ignored),
 * damped, the upper Cholesky factor U of its inverse, (k, k) into u; shared
 * by every matrix that reads the same input. Columns that never fired get a
 * unit diagonal, and dead[i] set (dead may be NULL). AQ_ERR_FORMAT if the
 * matrix is not positive definite (non-finite activations). */
aq_error aq_gptq_prepare(const float *hessian, size_t k, float *u, bool *dead);

/* w: (rows, k) row-major, overwritten (it holds the error-updated weights
 * afterwards). out: arrays allocated as aq_q4w_sizes() says. Group scales are
 * chosen as round-to-nearest chooses them, on the updated weights. */
void aq_gptq_quantize(float *w, size_t rows, size_t k, const float *u, const bool *dead, size_t group, bool asym,
                      struct aq_q4w *out);

/* The same with each group's scale searched (aq_q4w_quantize_search_ref, quant.h) on the updated weights,
 * weighted by importance (k entries, or NULL for none). */
void aq_gptq_quantize_search(float *w, size_t rows, size_t k, const float *u, const bool *dead, size_t group, bool asym,
                             const float *importance, struct aq_q4w *out);

/* The same on the 3-bit grid (codes 4..11 of a symmetric aq_q4w, quant.h); out
 * as aq_q4w_sizes() says for asym false, out->zero NULL. */
void aq_gptq_quantize_w3(float *w, size_t rows, size_t k, const float *u, const bool *dead, size_t group,
                         struct aq_q4w *out);

#endif
