/* The per-layer KV cache, float or INT8 with a scale per (slot, head). Internal. */
#ifndef AQ_KV_CACHE_H
#define AQ_KV_CACHE_H

#include "context.h"

/* Row (slot, kv_head) of a layer's keys or values as floats: a pointer into
 * the float cache, or the INT8 row dequantized into scratch (head_dim floats). */
const float *aq_kv_row(const aq_context *ctx, aq_kv_part part, int32_t layer, int32_t slot, int32_t kv_head,
                       float *scratch);

/* Appends the batch's n_tokens rows of ctx->k and ctx->v, at positions
 * ctx->pos, to a layer's cache. */
void aq_kv_append(aq_context *ctx, int32_t layer, int32_t n_tokens);

#endif
