/* Attention in tiles: a tile of query rows of one head against blocks of
 * cached keys, with a running softmax maximum, so there is no score matrix
 * and threads need only stack scratch. */
#include "attention.h"

#include <math.h>
#include <string.h>

#include "alibi.h"
#include "f32-attention.h"
#include "hadamard.h"
#include "kv_cache.h"
#include "prune.h"
#include "rope.h"

typedef struct attention_task {
    aq_context *ctx;
    int32_t layer;
    int32_t first_slot; /* the layer's cache slot of the batch's first row */
    int32_t n_tokens;   /* rows of the batch */
    int32_t row0;       /* the KV head's first query row computed (first_query * group) */
    bool keep_scores;   /* keep what token pruning scores with (prune_score, prune_stats) */
} attention_task;

/* Attention works on tiles of AQ_ATTN_QUERIES queries that share one cached
 * head against blocks of its keys; the kernel of the table (f32-attention.h)
 * folds each block into the tile's running softmax, every query in its own
 * lane. A KV head's queries are its query heads (the group, n_heads / n_kv_heads
 * of them) at each token, token by token: row r of a KV head is the batch's
 * token r / group in query head kv_head * group + r % group. So a decode step
 * (one token) fills a tile's lanes with the group's heads, where a tile of one
 * head's tokens used one lane of eight (grouped-query attention: TinyLlama's 8
 * heads a KV head fill the tile), the block's keys and values are read once for
 * the group, and a prefill's tile stops at its last token's keys. The lanes are
 * independent, so each query's result has the same bits in any tile.
 * Keys per block: AQ_ATTN_KEYS, fewer for heads over 128 floats, so that a
 * quantized cache's rows, dequantized for the block, fit in KV_SCRATCH floats of
 * stack per part. */
#define KV_SCRATCH (AQ_ATTN_KEYS * 128)

/* A tile of queries (rows first_row .. first_row + AQ_ATTN_QUERIES - 1 of the KV
 * head from row0 on, those below n_tokens * group): softmax(q k^T / sqrt(d) + ALiBi bias) v
 * over the cached keys whose position is not after the query's own. */
static void attend(void *arg, size_t tile, size_t kv_head) {
    enum { Q = AQ_ATTN_QUERIES };
    const attention_task *task = arg;
    aq_context *ctx = task->ctx;
    const aq_config *c = &ctx->model->cfg;
    int32_t hd = c->head_dim, q_stride = c->n_heads * hd, group = c->n_heads / c->n_kv_heads;
    const int32_t *kv_pos = ctx->kv_pos + (size_t)task->layer * (size_t)ctx->n_ctx;
    int32_t first_row = task->row0 + (int32_t)tile * Q, rows = task->n_tokens * group;
    int32_t n_rows = rows - first_row < Q ? rows - first_row : Q;
    float scale = 1.0f / sqrtf((float)hd);
    float qt[AQ_MAX_HEAD_DIM * Q], acc[AQ_MAX_HEAD_DIM * Q], bias[AQ_ATTN_KEYS * Q], first_score[Q] = {0};
    float k_rows[KV_SCRATCH], v_rows[KV_SCRATCH];
    const float *keys[AQ_ATTN_KEYS], *values[AQ_ATTN_KEYS];
    float query_pos[Q], slope[Q];
    int32_t pos[Q], last_slot[Q], token[Q], head[Q]; /* a key is visible to query i if at or before both */
    aq_attn_tile t = {.head_dim = (size_t)hd, .qt = qt, .acc = acc};
    for (int32_t i = 0; i < Q; i++) {
        bool real = i < n_rows;
        token[i] = (first_row + i) / group;
        head[i] = (int32_t)kv_head * group + (first_row + i) % group;
        pos[i] = real ? ctx->pos[token[i]] : INT32_MIN; /* padding sees no key */
        query_pos[i] = real ? (float)pos[i] : 0.0f;
        slope[i] = real && ctx->alibi_slopes ? ctx->alibi_slopes[head[i]] : 0.0f;
        last_slot[i] = task->first_slot + token[i];
        t.max_score[i] = -INFINITY, t.denom[i] = 0.0f;
        const float *q = real ? ctx->q + (size_t)token[i] * (size_t)q_stride + (size_t)head[i] * (size_t)hd : NULL;
        for (int32_t d = 0; d < hd; d++) qt[d * Q + i] = real ? q[d] * scale : 0.0f;
    }
    memset(acc, 0, (size_t)hd * Q * sizeof acc[0]);
    const int32_t block_keys = KV_SCRATCH / hd < AQ_ATTN_KEYS ? KV_SCRATCH / hd : AQ_ATTN_KEYS;
    const aq_f32_attention_fn kernel = ctx->model->kernels.attention;
    int32_t n_keys = last_slot[n_rows - 1] + 1; /* causal: no query of the tile sees past its last token */
    for (int32_t block = 0; block < n_keys; block += block_keys) {
        int32_t n = n_keys - block < block_keys ? n_keys - block : block_keys;
        for (int32_t j = 0; j < n; j++) {
            int32_t slot = block + j, key_pos = kv_pos[slot];
            keys[j] = aq_kv_row(ctx, AQ_KV_KEYS, task->layer, slot, (int32_t)kv_head, k_rows + (size_t)j * (size_t)hd);
            values[j] =
                aq_kv_row(ctx, AQ_KV_VALUES, task->layer, slot, (int32_t)kv_head, v_rows + (size_t)j * (size_t)hd);
            for (int32_t i = 0; i < Q; i++)
                bias[j * Q + i] = key_pos > pos[i] || slot > last_slot[i]
                                      ? -INFINITY
                                      : aq_alibi_bias(slope[i], (float)key_pos, query_pos[i]);
        }
        kernel(&t, (size_t)n, keys, values, bias, block == 0 ? first_score : NULL);
    }
    for (int32_t i = 0; i < n_rows; i++) {
        size_t r = (size_t)token[i];
        float *out = ctx->att + r * (size_t)q_stride + (size_t)head[i] * (size_t)hd;
        for (int32_t d = 0; d < hd; d++) out[d] = acc[d * Q + i] / t.denom[i];
        if (task->keep_scores) {
            size_t cell = r * (size_t)c->n_heads + (size_t)head[i];
            ctx->prune_stats[cell * 2] = t.max_score[i];
            ctx->prune_stats[cell * 2 + 1] = t.denom[i];
            ctx->prune_score[cell] = aq_exp_nonpositive(first_score[i] - t.max_score[i]) / t.denom[i]; /* A[h, t, 0] */
        }
    }
}

/* x <- R^T x for each of n rows: R = H D / sqrt(b) with H symmetric, so
 * R^T x = D (H x / sqrt(b)), H x / sqrt(b) being R with all signs +1. */
static void unrotate_heads(float *x, size_t n, size_t hd, const float *signs, const float *ones) {
    aq_hadamard_rotate_rows(x, n, hd, ones);
    for (size_t r = 0; r < n; r++)
        for (size_t d = 0; d < hd; d++) x[r * hd + d] *= signs[d];
}

void aq_attention(aq_context *ctx, int32_t layer, int32_t n_tokens, int32_t first_query) {
    const aq_config *c = &ctx->model->cfg;
    size_t hd = (size_t)c->head_dim, n = (size_t)n_tokens;
    aq_rope_apply(ctx, n_tokens);
    /* The INT4 cache (QuaRot): the same rotation of each head's query and key
     * leaves q.k as it was and spreads a key's few large channels (RoPE pairs
     * that carry most of the norm) over the whole head before 4-bit rounding. */
    if (ctx->kv_signs) {
        aq_hadamard_rotate_rows(ctx->q, n * (size_t)c->n_heads, hd, ctx->kv_signs);
        aq_hadamard_rotate_rows(ctx->k, n * (size_t)c->n_kv_heads, hd, ctx->kv_signs);
        if (ctx->kv_rotate_values) aq_hadamard_rotate_rows(ctx->v, n * (size_t)c->n_kv_heads, hd, ctx->kv_signs);
    }
    int32_t slot = ctx->kv_len[layer];
    aq_kv_append(ctx, layer, n_tokens);
    bool keep_scores = aq_prune_scores_layer(ctx, layer);
    if (keep_scores) first_query = 0;
    int32_t group = c->n_heads / c->n_kv_heads;
    attention_task task = {.ctx = ctx,
                           .layer = layer,
                           .first_slot = slot,
                           .n_tokens = n_tokens,
                           .row0 = first_query * group,
                           .keep_scores = keep_scores};
    size_t rows = (n - (size_t)first_query) * (size_t)group, tiles = (rows + AQ_ATTN_QUERIES - 1) / AQ_ATTN_QUERIES;
    pthreadpool_parallelize_2d(ctx->pool, (pthreadpool_task_2d_t)attend, &task, tiles, (size_t)c->n_kv_heads,
                               PTHREADPOOL_FLAG_DISABLE_DENORMALS);
    /* Rotated values give a rotated output: back to what the output projection reads. */
    if (ctx->kv_rotate_values) {
        float ones[AQ_MAX_HEAD_DIM];
        for (size_t d = 0; d < hd; d++) ones[d] = 1.0f;
        unrotate_heads(ctx->att + (size_t)first_query * (size_t)c->n_heads * hd,
                       (n - (size_t)first_query) * (size_t)c->n_heads, hd, ctx->kv_signs, ones);
    }
}
