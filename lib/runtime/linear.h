/* Linear layers: y = W x for a batch, in whatever format W has, with the
 * input quantized the way the layer's policy says, once for all the
 * matrices that read it. Internal. */
#ifndef AQ_LINEAR_H
#define AQ_LINEAR_H

#include "context.h"

/* The input of the next linear layers: a float matrix and how to quantize it. */
typedef struct aq_activations {
    const float *x; /* (n_tokens, width) */
    int32_t n_tokens, width;
    const aq_act_quant *policy; /* NULL: float */
} aq_activations;

/* The input at a site of a layer (layer < 0: the output head, float
 * activations unless the head is INT4). Shows it to the context's observer,
 * and marks any earlier quantized input stale. */
aq_activations aq_linear_input_at(aq_context *ctx, int32_t layer, aq_linear_input site, const float *x,
                                  int32_t n_tokens, int32_t width);

/* out (n_tokens, w->rows) = in (n_tokens, w->cols) W^T (+ w->bias), over the thread pool. */
void aq_linear(aq_context *ctx, const aq_matrix *w, const aq_activations *in, float *out);

#define AQ_LINEAR_GROUP_MAX 3

/* out[i] = in W[i]^T (+ bias) for n matrices that read the same input (Q, K, V;
 * gate and up): up to AQ_LINEAR_GROUP_MAX of them in one parallel region, so
 * decode waits on the pool once, not n times. */
void aq_linear_group(aq_context *ctx, size_t n, const aq_matrix *const *w, const aq_activations *in, float *const *out);

#endif
