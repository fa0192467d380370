/* Causal grouped-query attention of a batch over a layer's KV cache. Internal. */
#ifndef AQ_ATTENTION_H
#define AQ_ATTENTION_H

#include "context.h"

/* Appends the batch's K and V (RoPE applied) to the layer's cache, then writes
 * softmax(q k^T / sqrt(d) + ALiBi bias) v for each query row into ctx->att. When token
 * pruning scores this layer, also keeps what it scores with (prune.c). */
void aq_attention(aq_context *ctx, int32_t layer, int32_t n_tokens);

/* The attention score of a query and a key: (q * scale) . k, summed in order
 * (OPT scales q, the others the product: the same up to rounding).
 * aq_attention computes exactly this for eight queries at once, one per
 * vector lane; token pruning recomputes scores with it. */
static inline float aq_attention_score(const float *q, const float *k, int32_t n, float scale) {
    float s = 0.0f;
    for (int32_t d = 0; d < n; d++) s += q[d] * scale * k[d];
    return s;
}

#endif
