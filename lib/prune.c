/* Activation-guided token pruning in prefill (PAPER.md part 2, docs/PRUNING.md).
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

aq_error aq_prune(aq_context *ctx, double beta, int32_t first_layer, aq_prune_importance importance,
                  aq_prune_positions positions) {
    if (!ctx) return AQ_ERR_INVALID_ARGUMENT;
    int32_t n_layers = ctx->model->cfg.n_layers;
    if (!(beta >= 0.0 && beta < 1.0))
        return aq_set_error(ctx->error, AQ_ERR_OUT_OF_RANGE, "prune beta %g is outside [0, 1)", beta);
    if (first_layer < -1 || first_layer >= n_layers)
        return aq_set_error(ctx->error, AQ_ERR_OUT_OF_RANGE, "prune first layer %d is outside [0, %d) (or -1)",
                            first_layer, n_layers);
    if ((unsigned)importance > AQ_PRUNE_ATTENTION_RECEIVED)
        return aq_set_error(ctx->error, AQ_ERR_OUT_OF_RANGE, "unknown prune importance %d", (int)importance);
    if ((unsigned)positions > AQ_PRUNE_RENUMBER)
        return aq_set_error(ctx->error, AQ_ERR_OUT_OF_RANGE, "unknown prune positions %d", (int)positions);
    ctx->prune_beta = beta;
    ctx->prune_first_layer = first_layer;
    ctx->prune_importance = importance;
    ctx->prune_positions = positions;
    return AQ_OK;
}

aq_error aq_prune_kept(const aq_context *ctx, int32_t layer, int32_t *indices, int32_t capacity, int32_t *n_kept) {
    if (!ctx || !n_kept || capacity < 0 || (!indices && capacity > 0)) return AQ_ERR_INVALID_ARGUMENT;
    if (layer < 0 || layer > ctx->model->cfg.n_layers) return AQ_ERR_OUT_OF_RANGE;
    if (ctx->last_batch == 0) return AQ_ERR_STATE;
    int32_t n = ctx->n_kept[layer];
    *n_kept = n;
    if (capacity < n) return AQ_ERR_BUFFER_TOO_SMALL;
    memcpy(indices, ctx->kept + (size_t)layer * ctx->batch_cap, (size_t)n * sizeof *indices);
    return AQ_OK;
}

int32_t aq_logit_row(const aq_context *ctx, int32_t i) { return ctx->logits_pruned ? ctx->logit_row[i] : i; }

bool aq_prune_active(const aq_context *ctx, int32_t n_tokens) {
    return ctx->prune_beta > 0.0 && n_tokens > 2 && ctx->n_kv == 0;
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

int32_t aq_prune_target(const aq_context *ctx, int32_t layer, int32_t n_tokens) {
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
    int32_t key_pos = ctx->kv_pos[(size_t)task->layer * ctx->n_ctx + j];
    float scale = 1.0f / sqrtf((float)hd);
    double sum = 0.0;
    int32_t seen_by = 0;
    for (int32_t i = (int32_t)j; i < task->n_rows; i++) {
        if (ctx->pos[i] < key_pos) continue;
        seen_by++;
        for (int32_t h = 0; h < c->n_heads; h++) {
            const float *q = ctx->q + (size_t)i * q_dim + (size_t)h * hd;
            float k_row[512];
            const float *kj = aq_kv_row(ctx, false, task->layer, (int32_t)j, h / group, k_row);
            float s = aq_attention_score(q, kj, hd, scale);
            const float *stats = ctx->prune_stats + ((size_t)i * c->n_heads + h) * 2;
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
        for (int32_t h = 0; h < n_heads; h++) sum += ctx->prune_score[(size_t)t * n_heads + h];
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

int32_t aq_prune_compact(aq_context *ctx, int32_t layer, int32_t n_rows, int32_t target) {
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

    size_t dim = (size_t)c->dim, q_dim = (size_t)c->n_heads * c->head_dim;
    int32_t out = 0;
    for (int32_t r = 0; r < n_rows; r++) {
        if (drop[r]) continue;
        if (out != r) {
            memcpy(ctx->x + out * dim, ctx->x + r * dim, dim * sizeof(float));
            memcpy(ctx->att + out * q_dim, ctx->att + r * q_dim, q_dim * sizeof(float));
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
