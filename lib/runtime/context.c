/* Creating and sizing a context: its thread pool, KV cache and sampler
 * scratch. The batch buffers grow on demand in forward.c. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alibi.h"
#include "context.h"
#include "hadamard.h"

/* The KV cache of a new context covers the model's context, up to this. */
#define DEFAULT_CONTEXT 4096
#define MAX_THREADS 256

/* A pool of n threads; none for one thread: pthreadpool runs every task on
 * the caller with a NULL pool, flags included, as a pool of one does. */
static aq_error make_pool(aq_context *ctx, int32_t n, pthreadpool_t *out) {
    *out = NULL;
    if (n <= 1) return AQ_OK;
    *out = pthreadpool_create((size_t)n);
    return *out ? AQ_OK : aq_set_error(ctx->error, AQ_ERR_THREADS, "cannot create a pool of %d threads", n);
}

aq_error aq_runtime_set_threads(aq_context *ctx, int32_t n) {
    pthreadpool_destroy(ctx->pool);
    ctx->pool = NULL; /* the next forward call starts n threads (aq_runtime_reserve) */
    ctx->n_threads = n;
    return AQ_OK;
}

static void free_cache(aq_context *ctx) {
    free(ctx->k_cache), free(ctx->v_cache), free(ctx->k_cache_q8), free(ctx->v_cache_q8);
    free(ctx->k_cache_q4), free(ctx->v_cache_q4), free(ctx->k_min), free(ctx->v_min), free(ctx->kv_signs);
    free(ctx->k_scale), free(ctx->v_scale), free(ctx->kv_pos), free(ctx->kv_len);
}

/* The signs of the INT4 cache's per-head rotation: any fixed choice works, as
 * queries and keys take the same one. */
#define KV_ROTATION_SEED 0x4B56

aq_error aq_runtime_set_cache(aq_context *ctx, int32_t n, int32_t bits) {
    const aq_config *c = &ctx->model->cfg;
    size_t rows = (size_t)c->n_layers * (size_t)n * (size_t)c->n_kv_heads, values = rows * (size_t)c->head_dim;
    aq_context fresh = {.kv_bits = bits};
    bool ok = true;
    if (bits == 8) {
        fresh.k_cache_q8 = malloc(values), fresh.v_cache_q8 = malloc(values);
        ok = fresh.k_cache_q8 && fresh.v_cache_q8;
    } else if (bits == 4) {
        size_t bytes = rows * AQ_KV_Q4_BYTES(c->head_dim);
        fresh.k_cache_q4 = malloc(bytes), fresh.v_cache_q4 = malloc(bytes);
        fresh.k_min = malloc(rows * sizeof(float)), fresh.v_min = malloc(rows * sizeof(float));
        fresh.kv_signs = malloc((size_t)c->head_dim * sizeof(float));
        ok = fresh.k_cache_q4 && fresh.v_cache_q4 && fresh.k_min && fresh.v_min && fresh.kv_signs;
        if (fresh.kv_signs) aq_random_signs(fresh.kv_signs, (size_t)c->head_dim, KV_ROTATION_SEED);
    } else {
        fresh.k_cache = malloc(values * sizeof(float)), fresh.v_cache = malloc(values * sizeof(float));
        ok = fresh.k_cache && fresh.v_cache;
    }
    if (bits == 8 || bits == 4) {
        fresh.k_scale = malloc(rows * sizeof(float)), fresh.v_scale = malloc(rows * sizeof(float));
        ok = ok && fresh.k_scale && fresh.v_scale;
    }
    fresh.kv_pos = malloc((size_t)c->n_layers * (size_t)n * sizeof(int32_t));
    fresh.kv_len = calloc((size_t)c->n_layers, sizeof(int32_t));
    if (!ok || !fresh.kv_pos || !fresh.kv_len) {
        free_cache(&fresh);
        return aq_set_error(ctx->error, AQ_ERR_OUT_OF_MEMORY, "out of memory for a KV cache of %d tokens", n);
    }
    free_cache(ctx);
    ctx->kv_bits = bits;
    ctx->k_cache = fresh.k_cache, ctx->v_cache = fresh.v_cache;
    ctx->k_cache_q8 = fresh.k_cache_q8, ctx->v_cache_q8 = fresh.v_cache_q8;
    ctx->k_cache_q4 = fresh.k_cache_q4, ctx->v_cache_q4 = fresh.v_cache_q4;
    ctx->k_scale = fresh.k_scale, ctx->v_scale = fresh.v_scale;
    ctx->k_min = fresh.k_min, ctx->v_min = fresh.v_min;
    ctx->kv_signs = fresh.kv_signs;
    /* aq_rotate_model folds a per-head rotation into V and the output
     * projection, and always leaves the down projection's online signs. */
    ctx->kv_rotate_values = bits == 4 && !ctx->model->down_rotation_signs;
    ctx->kv_pos = fresh.kv_pos;
    ctx->kv_len = fresh.kv_len;
    ctx->n_ctx = n;
    ctx->n_kv = 0;
    ctx->pruned_prefix = 0;
    ctx->n_logit_rows = 0;
    return AQ_OK;
}

static aq_error reserve_batch(aq_context *ctx, int32_t n_tokens) {
    if (n_tokens <= ctx->batch_cap) return AQ_OK;
    const aq_config *c = &ctx->model->cfg;
    size_t n = (size_t)n_tokens, q_dim = (size_t)c->n_heads * (size_t)c->head_dim;
    size_t kv_dim = (size_t)c->n_kv_heads * (size_t)c->head_dim;
    struct {
        float **buf;
        size_t floats;
    } bufs[] = {
        {&ctx->x, n * (size_t)c->dim},
        {&ctx->xn, n * (size_t)c->dim},
        {&ctx->q, n * q_dim},
        {&ctx->k, n * kv_dim},
        {&ctx->v, n * kv_dim},
        {&ctx->att, n * q_dim},
        {&ctx->gate, n * (size_t)c->ffn_dim},
        {&ctx->up, n * (size_t)c->ffn_dim},
        {&ctx->rope, n * (size_t)c->head_dim},
        {&ctx->prune_score, n * (size_t)c->n_heads},
        {&ctx->prune_stats, n * (size_t)c->n_heads * 2},
        {&ctx->importance, n},
    };
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
        float *grown = realloc(*bufs[i].buf, bufs[i].floats * sizeof(float));
        if (!grown) return aq_set_error(ctx->error, AQ_ERR_OUT_OF_MEMORY, "out of memory for a batch of %d", n_tokens);
        *bufs[i].buf = grown;
    }
    size_t width = (size_t)c->dim > q_dim ? (size_t)c->dim : q_dim;
    width = width > (size_t)c->ffn_dim ? width : (size_t)c->ffn_dim;
    int32_t *pos = realloc(ctx->pos, n * sizeof *pos);
    if (pos) ctx->pos = pos;
    int8_t *qa = realloc(ctx->qa.q, n * width);
    if (qa) ctx->qa.q = qa;
    /* Group-wise activation scales: at most one per weight group (32 features), plus the per-token one. */
    float *qa_scale = realloc(ctx->qa.scale, n * (width / 32 + 1) * sizeof(float));
    if (qa_scale) ctx->qa.scale = qa_scale;
    int32_t *qa_zero = realloc(ctx->qa.zero, n * sizeof(int32_t));
    if (qa_zero) ctx->qa.zero = qa_zero;
    int32_t *qa_sum32 = realloc(ctx->qa.sum32, n * (width / 32) * sizeof(int32_t));
    if (qa_sum32) ctx->qa.sum32 = qa_sum32;
    /* Activation rows of llama.cpp's formats take at most 2 bytes an element (F16, BF16); float
     * weights with quantized activations (to measure the activations' error alone) read them back
     * as floats from the same buffer. */
    size_t row_bytes = aq_act_row_bytes(AQ_TENSOR_F16, width);
    for (int32_t i = 0; i < c->n_layers; i++)
        for (int k = 0; k < AQ_N_LINEAR_INPUTS; k++)
            if (ctx->model->layers[i].act[k].bits && ctx->model->layers[i].wq.format == AQ_WEIGHTS_F32)
                row_bytes = width * sizeof(float);
    void *blocks = realloc(ctx->qa_blocks, n * row_bytes);
    if (blocks) ctx->qa_blocks = blocks;
    size_t layers = (size_t)c->n_layers + 1;
    int32_t *kept = realloc(ctx->kept, layers * n * sizeof *kept);
    if (kept) ctx->kept = kept;
    int32_t *n_kept = ctx->n_kept ? ctx->n_kept : calloc(layers, sizeof *n_kept);
    if (n_kept) ctx->n_kept = n_kept;
    int32_t *order = realloc(ctx->prune_order, n * sizeof *order);
    if (order) ctx->prune_order = order;
    int32_t *logit_row = realloc(ctx->logit_row, n * sizeof *logit_row);
    if (logit_row) ctx->logit_row = logit_row;
    if (!pos || !qa || !qa_scale || !qa_zero || !qa_sum32 || !blocks || !kept || !n_kept || !order || !logit_row)
        return aq_set_error(ctx->error, AQ_ERR_OUT_OF_MEMORY, "out of memory for a batch of %d", n_tokens);
    ctx->batch_cap = n_tokens;
    return AQ_OK;
}

static aq_error reserve_logits(aq_context *ctx, int32_t rows) {
    if (rows <= ctx->logits_cap) return AQ_OK;
    float *grown = realloc(ctx->logits, (size_t)rows * (size_t)ctx->model->cfg.vocab_size * sizeof(float));
    if (!grown) return aq_set_error(ctx->error, AQ_ERR_OUT_OF_MEMORY, "out of memory for %d rows of logits", rows);
    ctx->logits = grown;
    ctx->logits_cap = rows;
    return AQ_OK;
}

aq_error aq_runtime_reserve(aq_context *ctx, int32_t n_tokens, int32_t logit_rows) {
    /* Threads start here, at the first forward call after the context was
     * made or AQ_PARAM_THREADS set, so that setting up costs none. */
    aq_error err = ctx->pool || ctx->n_threads <= 1 ? AQ_OK : make_pool(ctx, ctx->n_threads, &ctx->pool);
    if (!err) err = reserve_batch(ctx, n_tokens);
    return err ? err : reserve_logits(ctx, logit_rows);
}

aq_context *aq_runtime_context_create(aq_model *model) {
    aq_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return NULL;
    ctx->model = model;
    model->n_contexts++;
    size_t vocab = (size_t)model->cfg.vocab_size;
    ctx->sample_prob = malloc(vocab * sizeof(float));
    ctx->sample_index = malloc(vocab * sizeof(int32_t));
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int32_t threads = cores < 1 ? 1 : cores > MAX_THREADS ? MAX_THREADS : (int32_t)cores;
    int32_t n_ctx = model->cfg.context_length < DEFAULT_CONTEXT ? model->cfg.context_length : DEFAULT_CONTEXT;
    if (model->cfg.family->positions == AQ_POSITIONS_ALIBI) {
        ctx->alibi_slopes = malloc((size_t)model->cfg.n_heads * sizeof(float));
        if (ctx->alibi_slopes)
            aq_alibi_slopes(model->cfg.n_heads, model->cfg.family->alibi_max_bias, ctx->alibi_slopes);
    }
    bool slopes_ok = ctx->alibi_slopes || model->cfg.family->positions != AQ_POSITIONS_ALIBI;
    ctx->n_threads = threads; /* the pool starts at the first forward call (aq_runtime_reserve) */
    if (!slopes_ok || !ctx->sample_prob || !ctx->sample_index ||
        aq_runtime_set_cache(ctx, n_ctx, model->kv_bits ? model->kv_bits : 32) != AQ_OK) {
        aq_runtime_context_free(ctx);
        return NULL;
    }
    ctx->qa_blocks_type = AQ_NO_ACTIVATION_BLOCKS;
    aq_sampler_init(&ctx->sampler, 0);
    return ctx;
}

void aq_runtime_context_free(aq_context *ctx) {
    if (!ctx) return;
    aq_model *model = ctx->model;
    pthreadpool_destroy(ctx->pool);
    free_cache(ctx);
    float *bufs[] = {ctx->x,      ctx->xn,          ctx->q,           ctx->k,           ctx->v,
                     ctx->att,    ctx->gate,        ctx->up,          ctx->rope,        ctx->alibi_slopes,
                     ctx->logits, ctx->sample_prob, ctx->prune_score, ctx->prune_stats, ctx->importance};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
    free(ctx->kept);
    free(ctx->n_kept);
    free(ctx->prune_order);
    free(ctx->logit_row);
    free(ctx->pos);
    free(ctx->qa.q);
    free(ctx->qa.scale);
    free(ctx->qa.zero);
    free(ctx->qa.sum32);
    free(ctx->qa_blocks);
    free(ctx->sample_index);
    free(ctx);
    /* The last context of a model that aq_model_free has already been called on frees it. */
    if (atomic_fetch_sub(&model->n_contexts, 1) == (AQ_MODEL_FREED | 1)) aq_model_destroy(model);
}
