/* Attention in tiles: a tile of query rows of one head against blocks of
 * cached keys, with a running softmax maximum, so there is no score matrix
 * and threads need only stack scratch. */
#include "attention.h"

#include <math.h>
#include <string.h>

#include "alibi.h"
#include "hadamard.h"
#include "kv_cache.h"
#include "prune.h"
#include "rope.h"

typedef struct attention_task {
    aq_context *ctx;
    int32_t layer;
    int32_t first_slot; /* the layer's cache slot of the batch's first row */
    int32_t n_tokens;   /* rows of the batch */
    bool keep_scores;   /* keep what token pruning scores with (prune_score, prune_stats) */
} attention_task;

/* Attention works on tiles of ATTENTION_QUERIES query tokens of one head
 * against blocks of ATTENTION_KEYS cached keys. The tile's queries sit
 * transposed in registers' order (query index fastest), so one key row,
 * broadcast element by element, scores all of them with full-width FMAs and
 * no horizontal sums; the running maximum and the rescaling of the
 * accumulators happen once per block, not once per key. */
#define ATTENTION_QUERIES 8
#define ATTENTION_KEYS 64
/* Keys are scored, and values summed, a few at a time: KEY_GROUP keys give
 * independent dot products to overlap, and each pass over the accumulators
 * adds VALUE_GROUP values, so they load and store once per group, not per key.
 * Both divide ATTENTION_KEYS. */
#define KEY_GROUP 4
#define VALUE_GROUP 8

/* e^x for x <= 0, to ~2 ulp: a loop of it vectorizes (expf is a library call).
 * Below -87 (a masked key, or a score far under the maximum) it returns 0; a
 * NaN or a positive x (scores that overflowed) gives NaN, never undefined
 * behaviour: the exponent is computed from a value clamped into [-87, 0]. */
static inline float exp_nonpositive(float x) {
    const float clamped = x >= -87.0f ? (x <= 0.0f ? x : 0.0f) : -87.0f; /* NaN -> -87 */
    /* Round clamped * log2(e) to an integer n by the 1.5 * 2^23 trick. */
    const float n = (clamped * 1.44269504f + 12582912.0f) - 12582912.0f;
    const float r = (clamped - n * 0.693145752f) - n * 1.42860677e-6f; /* ln 2 in two parts */
    float poly = 1.0f / 5040.0f;
    poly = poly * r + 1.0f / 720.0f;
    poly = poly * r + 1.0f / 120.0f;
    poly = poly * r + 1.0f / 24.0f;
    poly = poly * r + 1.0f / 6.0f;
    poly = poly * r + 0.5f;
    poly = poly * r + 1.0f;
    poly = poly * r + 1.0f;
    const int32_t bits = ((int32_t)n + 127) << 23; /* 2^n, n in [-126, 0] */
    float two_n;
    memcpy(&two_n, &bits, sizeof two_n);
    return x < -87.0f ? 0.0f : x <= 0.0f ? poly * two_n : NAN; /* NaN in, NaN out */
}

/* A tile of queries (rows first_row .. first_row + n_rows - 1 of the batch) of
 * one head: softmax(q k^T / sqrt(d) + ALiBi bias) v over the cached keys whose
 * position is not after the query's own, with a running maximum per query (no score
 * matrix, so threads need only stack scratch). */
static void attend(void *arg, size_t tile, size_t h) {
    enum { Q = ATTENTION_QUERIES, B = ATTENTION_KEYS };
    const attention_task *task = arg;
    aq_context *ctx = task->ctx;
    const aq_config *c = &ctx->model->cfg;
    int32_t hd = c->head_dim, q_stride = c->n_heads * hd;
    int32_t kv_head = (int32_t)h / (c->n_heads / c->n_kv_heads);
    const int32_t *kv_pos = ctx->kv_pos + (size_t)task->layer * (size_t)ctx->n_ctx;
    int32_t first_row = (int32_t)tile * Q;
    int32_t n_rows = task->n_tokens - first_row < Q ? task->n_tokens - first_row : Q;
    float scale = 1.0f / sqrtf((float)hd);
    float qt[AQ_MAX_HEAD_DIM * Q], acc[Q][AQ_MAX_HEAD_DIM], scores[B][Q], k_rows[KEY_GROUP][AQ_MAX_HEAD_DIM],
        v_rows[VALUE_GROUP][AQ_MAX_HEAD_DIM];
    float max_score[Q], denom[Q], first_score[Q], query_pos[Q];
    float slope = ctx->alibi_slopes ? ctx->alibi_slopes[h] : 0.0f;
    int32_t pos[Q], last_slot[Q]; /* a key is visible to query i if at or before both */
    for (int32_t i = 0; i < Q; i++) {
        bool real = i < n_rows;
        pos[i] = real ? ctx->pos[first_row + i] : INT32_MIN; /* padding sees no key */
        query_pos[i] = real ? (float)pos[i] : 0.0f;
        last_slot[i] = task->first_slot + first_row + i;
        max_score[i] = -INFINITY, denom[i] = 0.0f, first_score[i] = -INFINITY;
        const float *q = real ? ctx->q + (size_t)(first_row + i) * (size_t)q_stride + h * (size_t)hd : NULL;
        for (int32_t d = 0; d < hd; d++) qt[d * Q + i] = real ? q[d] * scale : 0.0f;
        for (int32_t d = 0; d < hd; d++) acc[i][d] = 0.0f;
    }
    int32_t n_keys = task->first_slot + first_row + n_rows; /* causal: no query of the tile sees past this */
    for (int32_t block = 0; block < n_keys; block += B) {
        int32_t n = n_keys - block < B ? n_keys - block : B;
        for (int32_t j0 = 0; j0 < n; j0 += KEY_GROUP) {
            /* Past the block's end a group repeats its first key; those scores are dropped. */
            const float *k[KEY_GROUP];
            for (int32_t g = 0; g < KEY_GROUP; g++)
                k[g] = j0 + g < n ? aq_kv_row(ctx, AQ_KV_KEYS, task->layer, block + j0 + g, kv_head, k_rows[g]) : k[0];
            float s[KEY_GROUP][Q] = {{0}};
            for (int32_t d = 0; d < hd; d++)
                for (int32_t g = 0; g < KEY_GROUP; g++)
                    for (int32_t i = 0; i < Q; i++) s[g][i] += qt[d * Q + i] * k[g][d];
            for (int32_t g = 0; g < KEY_GROUP && j0 + g < n; g++) {
                int32_t key_pos = kv_pos[block + j0 + g], slot = block + j0 + g;
                for (int32_t i = 0; i < Q; i++)
                    scores[j0 + g][i] = key_pos > pos[i] || slot > last_slot[i]
                                            ? -INFINITY
                                            : s[g][i] + aq_alibi_bias(slope, (float)key_pos, query_pos[i]);
            }
        }
        if (block == 0)
            for (int32_t i = 0; i < Q; i++) first_score[i] = scores[0][i];
        float block_max[Q], rescale[Q];
        for (int32_t i = 0; i < Q; i++) block_max[i] = max_score[i];
        for (int32_t j = 0; j < n; j++)
            for (int32_t i = 0; i < Q; i++) block_max[i] = scores[j][i] > block_max[i] ? scores[j][i] : block_max[i];
        for (int32_t i = 0; i < Q; i++) {
            /* Still no visible key: keep everything at zero (and -inf - -inf away from exp). */
            rescale[i] = block_max[i] == -INFINITY ? 1.0f : exp_nonpositive(max_score[i] - block_max[i]);
            denom[i] *= rescale[i];
            max_score[i] = block_max[i];
        }
        for (int32_t i = 0; i < n_rows; i++)
            if (rescale[i] != 1.0f)
                for (int32_t d = 0; d < hd; d++) acc[i][d] *= rescale[i];
        float shift[Q]; /* a finite maximum, so that a masked score (-inf) gives e^-inf = 0, never NaN */
        for (int32_t i = 0; i < Q; i++) shift[i] = max_score[i] == -INFINITY ? 0.0f : max_score[i];
        for (int32_t j = 0; j < n; j++)
            for (int32_t i = 0; i < Q; i++) scores[j][i] = exp_nonpositive(scores[j][i] - shift[i]);
        for (int32_t j = 0; j < n; j++)
            for (int32_t i = 0; i < Q; i++) denom[i] += scores[j][i];
        for (int32_t j0 = 0; j0 < n; j0 += VALUE_GROUP) {
            const float *v[VALUE_GROUP];
            float p[VALUE_GROUP][Q];
            for (int32_t g = 0; g < VALUE_GROUP; g++) {
                bool real = j0 + g < n;
                v[g] = real ? aq_kv_row(ctx, AQ_KV_VALUES, task->layer, block + j0 + g, kv_head, v_rows[g]) : v[0];
                for (int32_t i = 0; i < Q; i++) p[g][i] = real ? scores[j0 + g][i] : 0.0f;
            }
            /* Keys in order, so each sum is the one a key-at-a-time loop gives. A zero
             * weight (masked) is skipped, not multiplied, so that a masked key's
             * non-finite value cannot leak; only then does a row go key by key. */
            for (int32_t i = 0; i < n_rows; i++) {
                bool all_weighted = true;
                for (int32_t g = 0; g < VALUE_GROUP; g++) all_weighted = all_weighted && p[g][i] != 0.0f;
                if (all_weighted)
                    for (int32_t d = 0; d < hd; d++) {
                        float a = acc[i][d];
                        for (int32_t g = 0; g < VALUE_GROUP; g++) a += p[g][i] * v[g][d];
                        acc[i][d] = a;
                    }
                else
                    for (int32_t g = 0; g < VALUE_GROUP; g++)
                        if (p[g][i] != 0.0f)
                            for (int32_t d = 0; d < hd; d++) acc[i][d] += p[g][i] * v[g][d];
            }
        }
    }
    for (int32_t i = 0; i < n_rows; i++) {
        size_t t = (size_t)(first_row + i);
        float *out = ctx->att + t * (size_t)q_stride + h * (size_t)hd;
        for (int32_t d = 0; d < hd; d++) out[d] = acc[i][d] / denom[i];
        if (task->keep_scores) {
            size_t cell = t * (size_t)c->n_heads + h;
            ctx->prune_stats[cell * 2] = max_score[i];
            ctx->prune_stats[cell * 2 + 1] = denom[i];
            ctx->prune_score[cell] = exp_nonpositive(first_score[i] - max_score[i]) / denom[i]; /* A[h, t, 0] */
        }
    }
}

/* x <- R x for each of n rows of head_dim floats. */
static void rotate_heads(float *x, size_t n, size_t hd, const float *signs) {
    for (size_t r = 0; r < n; r++) aq_hadamard_rotate(x + r * hd, hd, signs);
}

/* x <- R^T x for each of n rows: R = H D / sqrt(b) with H symmetric, so
 * R^T x = D (H x / sqrt(b)), H x / sqrt(b) being R with all signs +1. */
static void unrotate_heads(float *x, size_t n, size_t hd, const float *signs, const float *ones) {
    for (size_t r = 0; r < n; r++) {
        aq_hadamard_rotate(x + r * hd, hd, ones);
        for (size_t d = 0; d < hd; d++) x[r * hd + d] *= signs[d];
    }
}

void aq_attention(aq_context *ctx, int32_t layer, int32_t n_tokens) {
    const aq_config *c = &ctx->model->cfg;
    size_t hd = (size_t)c->head_dim, n = (size_t)n_tokens;
    aq_rope_apply(ctx, n_tokens);
    /* The INT4 cache (QuaRot): the same rotation of each head's query and key
     * leaves q.k as it was and spreads a key's few large channels (RoPE pairs
     * that carry most of the norm) over the whole head before 4-bit rounding. */
    if (ctx->kv_signs) {
        rotate_heads(ctx->q, n * (size_t)c->n_heads, hd, ctx->kv_signs);
        rotate_heads(ctx->k, n * (size_t)c->n_kv_heads, hd, ctx->kv_signs);
        if (ctx->kv_rotate_values) rotate_heads(ctx->v, n * (size_t)c->n_kv_heads, hd, ctx->kv_signs);
    }
    int32_t slot = ctx->kv_len[layer];
    aq_kv_append(ctx, layer, n_tokens);
    attention_task task = {.ctx = ctx,
                           .layer = layer,
                           .first_slot = slot,
                           .n_tokens = n_tokens,
                           .keep_scores = aq_prune_scores_layer(ctx, layer)};
    size_t tiles = ((size_t)n_tokens + ATTENTION_QUERIES - 1) / ATTENTION_QUERIES;
    pthreadpool_parallelize_2d(ctx->pool, (pthreadpool_task_2d_t)attend, &task, tiles, (size_t)c->n_heads,
                               PTHREADPOOL_FLAG_DISABLE_DENORMALS);
    /* Rotated values give a rotated output: back to what the output projection reads. */
    if (ctx->kv_rotate_values) {
        float ones[AQ_MAX_HEAD_DIM];
        for (size_t d = 0; d < hd; d++) ones[d] = 1.0f;
        unrotate_heads(ctx->att, n * (size_t)c->n_heads, hd, ctx->kv_signs, ones);
    }
}
