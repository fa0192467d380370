/* Function-preserving transforms of a full-precision model before
 * quantization. Internal. */
#ifndef AQ_TRANSFORMS_H
#define AQ_TRANSFORMS_H

#include "model.h"

/* Folds Hadamard rotations into the weights and the norms (which become
 * ones, without bias), and sets the model's online rotation of the down
 * projection's input. A LayerNorm model becomes an RMSNorm one first (its
 * residual made mean-free). The weights must be mutable (owned) F32. */
aq_error aq_rotate_model(aq_model *model);

/* Cross-layer equalization of one MLP's up rows against its down columns
 * (SwiGLU and ReLU; a GELU MLP is left as it is). */
void aq_balance_mlp(aq_layer *layer, aq_mlp_kind mlp);

#endif
