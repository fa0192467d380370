/* Rotary position embedding in llama.cpp's NORM (LLaMA) and NEOX (Qwen2)
 * pairings; nothing for families without RoPE. Internal. */
#ifndef AQ_ROPE_H
#define AQ_ROPE_H

#include "context.h"

/* Fills ctx->rope (cos, sin per pair) for the positions ctx->pos of n_tokens rows. */
void aq_rope_tables(aq_context *ctx, int32_t n_tokens);
/* Rotates the rows of ctx->q and ctx->k by the tables. */
void aq_rope_apply(aq_context *ctx, int32_t n_tokens);

#endif
