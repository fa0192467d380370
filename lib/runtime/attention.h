/* Causal grouped-query attention of a batch over a layer's KV cache. Internal. */
#ifndef AQ_ATTENTION_H
#define AQ_ATTENTION_H

#include "context.h"

/* Appends the batch's K and V (RoPE applied) to the layer's cache, then writes
 * softmax(q k^T / sqrt(d) + ALiBi bias) v for each query row of the tokens
 * first_query .. n_tokens - 1 into ctx->att (the rows of earlier tokens are left
 * as they were: a caller that reads only the last token's row passes
 * n_tokens - 1). When token pruning scores this layer, also keeps what it
 * scores with (prune.c), which needs every row: first_query is then 0. */
void aq_attention(aq_context *ctx, int32_t layer, int32_t n_tokens, int32_t first_query);

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
