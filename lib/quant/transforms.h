/* Function-preserving transforms of a full-precision model before
 * quantization. Internal. */
#ifndef AQ_TRANSFORMS_H
#define AQ_TRANSFORMS_H

#include "model.h"

/* Folds Hadamard rotations into the weights and the norms (which become
 * ones, without bias), and sets the model's online rotation of the down
 * projection's input. A LayerNorm model becomes an RMSNorm one first (its
 * residual made mean-free). The weights must be mutable (owned) F32. blocked:
 * every rotation in power-of-two blocks (aq_hadamard_rotate_blocked), as
 * files of format version 1 have it. online (rotate-online, not with blocked):
 * the residual stream stays as it is, and the attention and MLP inputs are
 * rotated online after their norms instead (aq_model.input_rotation_signs):
 * the norms keep their gains and biases, the matrices that read them are
 * rotated without them, and no writer changes. */
aq_error aq_rotate_model(aq_model *model, bool blocked, bool online);

/* The same, a layer at a time, for a model whose layers are made F32 one by
 * one (quantize.c): aq_rotate_begin rotates what is outside the layers (the
 * embedding and positions, the output head and its norm; the online signs),
 * then aq_rotate_layer each layer, in any order; aq_rotate_model is the two.
 * Each layer touches only its own weights and norms. */
typedef struct aq_rotation {
    float *residual, *head; /* random signs of the residual's and the heads' rotations */
    float *scratch;         /* (max(dim, ffn_dim)) */
    bool centre;            /* a LayerNorm model: each layer's writers are centred first */
    bool blocked;           /* rotations in power-of-two blocks (format version 1) */
    bool online;            /* the residual unrotated, the readers' inputs rotated online (rotate-online) */
} aq_rotation;
aq_error aq_rotate_begin(aq_model *model, aq_rotation *r, bool blocked, bool online);
aq_error aq_rotate_layer(aq_model *model, const aq_rotation *r, aq_layer *layer);
void aq_rotation_free(aq_rotation *r); /* accepts a zeroed or freed one */

/* Cross-layer equalization of one MLP's up rows against its down columns
 * (SwiGLU and ReLU; a GELU MLP is left as it is). */
void aq_balance_mlp(aq_layer *layer, aq_mlp_kind mlp);

/* The same for attention: V's rows against the output projection's columns
 * that read them. */
void aq_balance_attention(aq_layer *layer, const aq_config *cfg);

/* Scales channel j of the attention norm's output by attn[j] and of the MLP
 * norm's by ffn[j] (the gains and biases, in copies the model owns), and the
 * columns j of the matrices that read them by the inverse: the same function.
 * Before rotate-online's rotation, this is SmoothQuant's migration of an
 * activation's range into the weights. Where the MLP's activation is
 * positively homogeneous (SwiGLU, ReLU), channel j of the down projection's
 * input is scaled by down[j] too (up's row j and bias, down's column j by the
 * inverse), as aq_balance_mlp does with factors from the weights alone. */
aq_error aq_smooth_inputs(aq_model *model, aq_layer *layer, const float *attn, const float *ffn, const float *down);

#endif
