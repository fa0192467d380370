/* Activation-guided token pruning in prefill (Agile-Quant part 2): which
 * layers prune, how many rows each keeps, and the compaction of the batch.
 * Internal; the public verbs are aq_prune and aq_prune_kept. */
#ifndef AQ_PRUNE_H
#define AQ_PRUNE_H

#include <stdbool.h>
#include <stdint.h>

#include "model.h"

/* Whether a forward call of n_tokens prunes: pruning on, more than two tokens
 * (the first and last are kept) and an empty cache (a prefill). */
bool aq_prune_active(const aq_context *ctx, int32_t n_tokens);
/* The first pruning layer, with -1 resolved to n_layers / 2. */
int32_t aq_prune_first_layer(const aq_context *ctx);
/* Tokens of a prefill of n that remain after pruning layer number k
 * (1..n_prune_layers): round(n (1 - beta)^(k / n_prune_layers)), at least 2,
 * so that each layer removes a fraction gamma of what is left and the last
 * leaves n (1 - beta). */
int32_t aq_prune_keep_count(int32_t n, double beta, int32_t k, int32_t n_prune_layers);
/* Rows to keep after layer's attention in a pruning prefill of n_tokens. */
int32_t aq_prune_target(const aq_context *ctx, int32_t layer, int32_t n_tokens);
/* Scores the n_rows rows present at layer (after its attention), drops all
 * but target of them, and compacts x, att, pos and the kept-index record
 * (layer + 1); renumbers positions if asked. Returns the rows left. */
int32_t aq_prune_compact(aq_context *ctx, int32_t layer, int32_t n_rows, int32_t target);

#endif
