/* ALiBi (Press et al.): instead of encoding positions, attention adds
 * slope[h] * (key position - query position) to head h's scores, a penalty
 * growing with distance. Internal. */
#ifndef AQ_ALIBI_H
#define AQ_ALIBI_H

#include <stdint.h>

/* The slopes of n_heads heads as ggml's soft_max computes them: with
 * n = 2^floor(log2(n_heads)), m0 = 2^(-max_bias / n) and m1 = 2^(-max_bias / 2n),
 * head h < n gets m0^(h + 1), and the heads beyond a power of two
 * m1^(2 (h - n) + 1), interleaving between the first ones' slopes. */
void aq_alibi_slopes(int32_t n_heads, float max_bias, float *slopes);

/* The bias of a visible key (key_pos <= query_pos); slope 0 (no ALiBi) adds 0.
 * llama.cpp writes -|key_pos - query_pos| into the mask, the same there. */
static inline float aq_alibi_bias(float slope, float key_pos, float query_pos) { return slope * (key_pos - query_pos); }

#endif
