/* The MLP's activation: SwiGLU, GELU or ReLU on one token's hidden row, in
 * float. Internal. */
#ifndef AQ_ACTIVATION_H
#define AQ_ACTIVATION_H

#include <stddef.h>

#include "model.h"

/* GELU's tanh form, 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))): what
 * BLOOM and GPT-2 were trained with and what ggml_gelu computes (ggml looks
 * it up in a table of f16 inputs; this is the formula it tabulates). */
float aq_gelu(float x);

/* h (n) becomes the down projection's input: SwiGLU silu(h) * up (h holds
 * the gate's output), GELU gelu(up), ReLU max(up, 0). */
void aq_mlp_activation(aq_mlp_kind kind, float *h, const float *up, size_t n);

#endif
