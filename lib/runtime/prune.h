/* Activation-guided token pruning in prefill (Agile-Quant part 2): which
 * layers prune, how many rows each keeps, and the compaction of the batch.
 * The forward pass calls aq_prune_begin before its layers,
 * aq_prune_after_attention in each, and aq_prune_finish after the head.
 * Internal; the public verbs are aq_prune and aq_prune_kept. */
#ifndef AQ_PRUNE_H
#define AQ_PRUNE_H

#include <stdbool.h>
#include <stdint.h>

#include "context.h"

/* Starts a forward call of n_tokens: decides whether it prunes (pruning on,
 * more than two tokens, an empty cache: a prefill), records every token as
 * present at layer 0. */
void aq_prune_begin(aq_context *ctx, int32_t n_tokens);
/* Whether the attention of layer keeps the scores pruning needs. */
bool aq_prune_scores_layer(const aq_context *ctx, int32_t layer);
/* After layer's attention on n_rows rows: drops the rows pruning drops and
 * compacts the batch, then sets the positions (and RoPE tables) the next
 * layer's attention uses. Returns the rows left. */
int32_t aq_prune_after_attention(aq_context *ctx, int32_t layer, int32_t n_rows);
/* After the output head: records a pruned prefix in the cache and which
 * logits row each of the n_tokens batch tokens got (n_rows survived). */
void aq_prune_finish(aq_context *ctx, int32_t n_tokens, int32_t n_rows, bool logits_all);

/* The first pruning layer, with -1 resolved to n_layers / 2. */
int32_t aq_prune_first_layer(const aq_context *ctx);
/* Tokens of a prefill of n that remain after pruning layer number k
 * (1..n_prune_layers): round(n (1 - beta)^(k / n_prune_layers)), at least 2,
 * so that each layer removes a fraction gamma of what is left and the last
 * leaves n (1 - beta). */
int32_t aq_prune_keep_count(int32_t n, double beta, int32_t k, int32_t n_prune_layers);

#endif
