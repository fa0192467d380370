/* The per-layer KV cache: float, INT8 with a scale per (slot, head), or INT4
 * with a scale and a minimum per (slot, head). Internal. */
#ifndef AQ_KV_CACHE_H
#define AQ_KV_CACHE_H

#include "context.h"

/* Row (slot, kv_head) of a layer's keys or values as floats: a pointer into
 * the float cache, or the INT8 or INT4 row dequantized into scratch (head_dim floats). */
const float *aq_kv_row(const aq_context *ctx, aq_kv_part part, int32_t layer, int32_t slot, int32_t kv_head,
                       float *scratch);

/* Appends the batch's n_tokens rows of ctx->k and ctx->v, at positions
 * ctx->pos, to a layer's cache. */
void aq_kv_append(aq_context *ctx, int32_t layer, int32_t n_tokens);

/* Asymmetric INT4 of n values (one head of one token): scale = (max - min) / 15,
 * code = round((x - min) / scale) in 0..15, two codes a byte (element 2j in the
 * low nibble of byte j; AQ_KV_Q4_BYTES(n) bytes). Asymmetric: on the w4a4
 * llama, OPT and BLOOM models it gave a lower perplexity than symmetric codes
 * (scale max |x| / 7), by 0.01-0.25% (the commit that added this cache has the
 * figures). A constant row has scale 0 and zero codes; a row holding a NaN or
 * an infinity has a NaN scale and minimum: it reads back as NaN. */
void aq_kv_quantize_q4(const float *x, size_t n, uint8_t *codes, float *scale, float *min);
/* out[d] = min + scale * code[d]. */
void aq_kv_dequantize_q4(const uint8_t *codes, size_t n, float scale, float min, float *out);

#endif
