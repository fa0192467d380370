/* Activation-guided token pruning in prefill (Agile-Quant part 2; docs/PRUNING.md).
 *
 * From first_layer on, each layer scores the tokens still present right after
 * its attention and drops the least important ones, progressively, so that a
 * fraction beta is gone after the last layer. A dropped token has written its
 * K/V for every layer up to and including the one that drops it, and skips
 * that layer's output projection and MLP and all later layers: nothing reads
 * its row again, so skipping the output projection too changes no result.
 * Dropping is a compaction of the activation rows, so the later matrix
 * products and attention run on fewer rows. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "prune.h"

#include "alibi.h"
#include "attention.h"
#include "kv_cache.h"
#include "rope.h"

void aq_prune_begin(aq_context *ctx, int32_t n_tokens) {
    ctx->pruning = ctx->prune_beta > 0.0 && n_tokens > 2 && ctx->n_kv == 0;
    for (int32_t t = 0; t < n_tokens; t++) ctx->kept[t] = t;
    ctx->n_kept[0] = n_tokens;
    ctx->last_batch = n_tokens;
    ctx->pos_shift = 0; /* layer 0 holds every token, so its positions are those given */
}

bool aq_prune_scores_layer(const aq_context *ctx, int32_t layer) {
    return ctx->pruning && layer >= aq_prune_first_layer(ctx);
}

int32_t aq_prune_first_layer(const aq_context *ctx) {
    return ctx->prune_first_layer >= 0 ? ctx->prune_first_layer : ctx->model->cfg.n_layers / 2;
}

int32_t aq_prune_keep_count(int32_t n, double beta, int32_t k, int32_t n_prune_layers) {
    /* From the closed form rather than step by step, so rounding does not
     * drift from the target n (1 - beta) at the last layer. */
    double keep = floor((double)n * pow(1.0 - beta, (double)k / (double)n_prune_layers) + 0.5);
    int32_t kept = keep >= (double)n ? n : (int32_t)keep;
    int32_t floor_count = n < 2 ? n : 2;
    return kept < floor_count ? floor_count : kept;
}

/* Rows to keep after layer's attention in a pruning prefill of n_tokens. */
static int32_t prune_target(const aq_context *ctx, int32_t layer, int32_t n_tokens) {
    int32_t first = aq_prune_first_layer(ctx), n_layers = ctx->model->cfg.n_layers;
    if (layer < first) return n_tokens;
    return aq_prune_keep_count(n_tokens, ctx->prune_beta, layer - first + 1, n_layers - first);
}

typedef struct received_task {
    aq_context *ctx;
    int32_t layer, n_rows;
} received_task;

/* Importance of key row j: the attention it receives, summed over heads and
 * averaged over the rows that may see it (j and later). The softmax maximum
 * and denominator of each (row, head) were kept by the attention, so this is
 * one more pass of q k^T without a score matrix. Rows are cache slots here:
 * a pruning prefill starts at an empty cache. */
static void received_one(void *arg, size_t j) {
    const received_task *task = arg;
    aq_context *ctx = task->ctx;
    const aq_config *c = &ctx->model->cfg;
    int32_t hd = c->head_dim, q_dim = c->n_heads * hd;
    int32_t group = c->n_heads / c->n_kv_heads;
    int32_t key_pos = ctx->kv_pos[(size_t)task->layer * (size_t)ctx->n_ctx + j];
    float scale = 1.0f / sqrtf((float)hd);
    double sum = 0.0;
    int32_t seen_by = 0;
    for (int32_t i = (int32_t)j; i < task->n_rows; i++) {
        if (ctx->pos[i] < key_pos) continue;
        seen_by++;
        for (int32_t h = 0; h < c->n_heads; h++) {
            const float *q = ctx->q + (size_t)i * (size_t)q_dim + (size_t)h * (size_t)hd;
            float k_row[AQ_MAX_HEAD_DIM];
            const float *kj = aq_kv_row(ctx, AQ_KV_KEYS, task->layer, (int32_t)j, h / group, k_row);
            float slope = ctx->alibi_slopes ? ctx->alibi_slopes[h] : 0.0f;
            float s = aq_attention_score(q, kj, hd, scale) + aq_alibi_bias(slope, (float)key_pos, (float)ctx->pos[i]);
            const float *stats = ctx->prune_stats + ((size_t)i * (size_t)c->n_heads + (size_t)h) * 2;
            sum += expf(s - stats[0]) / stats[1];
        }
    }
    ctx->importance[j] = seen_by ? (float)(sum / seen_by) : 0.0f;
}

static void score_rows(aq_context *ctx, int32_t layer, int32_t n_rows) {
    int32_t n_heads = ctx->model->cfg.n_heads;
    if (ctx->prune_importance == AQ_PRUNE_ATTENTION_RECEIVED) {
        received_task task = {.ctx = ctx, .layer = layer, .n_rows = n_rows};
        pthreadpool_parallelize_1d(ctx->pool, received_one, &task, (size_t)n_rows, PTHREADPOOL_FLAG_DISABLE_DENORMALS);
        return;
    }
    for (int32_t t = 0; t < n_rows; t++) {
        float sum = 0.0f;
        for (int32_t h = 0; h < n_heads; h++) sum += ctx->prune_score[(size_t)t * (size_t)n_heads + (size_t)h];
        ctx->importance[t] = sum;
    }
}

/* qsort has no context argument, so the pairs carry their importance. */
typedef struct ranked_row {
    float importance;
    int32_t row;
} ranked_row;

static int by_importance(const void *a, const void *b) {
    const ranked_row *x = a, *y = b;
    if (x->importance != y->importance) return x->importance < y->importance ? -1 : 1;
    return (x->row > y->row) - (x->row < y->row); /* ties: the earlier token goes first, deterministically */
}

/* Scores the n_rows rows present at layer (after its attention), drops all
 * but target of them, and compacts x, att, pos and the kept-index record
 * (layer + 1); renumbers positions if asked. Returns the rows left. */
static int32_t compact(aq_context *ctx, int32_t layer, int32_t n_rows, int32_t target) {
    const aq_config *c = &ctx->model->cfg;
    size_t cap = (size_t)ctx->batch_cap;
    const int32_t *kept_in = ctx->kept + (size_t)layer * cap;
    int32_t *kept_out = ctx->kept + (size_t)(layer + 1) * cap;
    if (target >= n_rows) {
        memcpy(kept_out, kept_in, (size_t)n_rows * sizeof *kept_out);
        ctx->n_kept[layer + 1] = n_rows;
        return n_rows;
    }
    score_rows(ctx, layer, n_rows);
    /* The first row (the first token, which the paper's score refers to) and
     * the last (whose logits the caller needs) are never candidates. */
    int32_t n_candidates = n_rows - 2, n_drop = n_rows - target;
    ranked_row *ranked = (ranked_row *)ctx->prune_stats; /* free now: (batch, n_heads, 2) floats suffice */
    for (int32_t r = 0; r < n_candidates; r++) ranked[r] = (ranked_row){ctx->importance[r + 1], r + 1};
    qsort(ranked, (size_t)n_candidates, sizeof *ranked, by_importance);
    int32_t *drop = ctx->prune_order;
    memset(drop, 0, (size_t)n_rows * sizeof *drop);
    for (int32_t r = 0; r < n_drop; r++) drop[ranked[r].row] = 1;

    size_t dim = (size_t)c->dim, q_dim = (size_t)c->n_heads * (size_t)c->head_dim;
    int32_t out = 0;
    for (int32_t r = 0; r < n_rows; r++) {
        if (drop[r]) continue;
        if (out != r) {
            memcpy(ctx->x + (size_t)out * dim, ctx->x + (size_t)r * dim, dim * sizeof(float));
            memcpy(ctx->att + (size_t)out * q_dim, ctx->att + (size_t)r * q_dim, q_dim * sizeof(float));
            ctx->pos[out] = ctx->pos[r];
        }
        kept_out[out++] = kept_in[r];
    }
    /* The paper's code: positions count the kept tokens only. This layer's
     * cache keeps the positions its keys were rotated with. */
    if (ctx->prune_positions == AQ_PRUNE_RENUMBER)
        for (int32_t r = 0; r < out; r++) ctx->pos[r] = r;
    ctx->n_kept[layer + 1] = out;
    return out;
}

/* What to subtract from a token's position at layer i: after a prompt
 * pruned with renumbered positions, layer i numbers its tokens 0..kept-1, and
 * later tokens continue from there. Zero in every other case, since then all
 * layers cache the same last position. */
static int32_t position_shift(const aq_context *ctx, int32_t i) {
    if (ctx->pruned_prefix == 0 || ctx->n_kv == 0) return 0;
    size_t own_last = (size_t)i * (size_t)ctx->n_ctx + (size_t)ctx->kv_len[i] - 1;
    return ctx->kv_pos[ctx->n_kv - 1] - ctx->kv_pos[own_last];
}

int32_t aq_prune_after_attention(aq_context *ctx, int32_t layer, int32_t n_rows) {
    int32_t target = aq_prune_scores_layer(ctx, layer) ? prune_target(ctx, layer, ctx->last_batch) : n_rows;
    int32_t kept = compact(ctx, layer, n_rows, target);
    bool moved = kept != n_rows; /* rows moved, or were renumbered */
    if (layer + 1 < ctx->model->cfg.n_layers) {
        int32_t shift = position_shift(ctx, layer + 1);
        for (int32_t t = 0; t < kept && shift != ctx->pos_shift; t++) ctx->pos[t] -= shift - ctx->pos_shift;
        moved = moved || shift != ctx->pos_shift;
        ctx->pos_shift = shift;
    }
    if (moved) aq_rope_tables(ctx, kept);
    return kept;
}

void aq_prune_finish(aq_context *ctx, int32_t n_tokens, int32_t n_rows, bool logits_all) {
    int32_t n_layers = ctx->model->cfg.n_layers;
    if (ctx->pruning && ctx->kv_len[n_layers - 1] < ctx->n_kv) ctx->pruned_prefix = n_tokens;
    ctx->logits_pruned = logits_all && n_rows < n_tokens;
    if (!ctx->logits_pruned) return;
    const int32_t *kept = ctx->kept + (size_t)n_layers * (size_t)ctx->batch_cap;
    for (int32_t t = 0; t < n_tokens; t++) ctx->logit_row[t] = -1;
    for (int32_t r = 0; r < n_rows; r++) ctx->logit_row[kept[r]] = r;
}

int32_t aq_runtime_logit_row(const aq_context *ctx, int32_t i) { return ctx->logits_pruned ? ctx->logit_row[i] : i; }
