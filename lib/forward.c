/* The forward pass, read top to bottom: embedding; per layer RMSNorm, Q/K/V,
 * RoPE, causal grouped-query attention over the KV cache, output projection,
 * RMSNorm, SwiGLU MLP, with residuals; final norm and logits. A batch of T
 * tokens is processed as (T, width) matrices, so prefill is matrix-matrix
 * work and decode (T = 1) the same code. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "f32-gemm.h"
#include "model.h"

/* Output rows handed to one thread at a time: enough to amortize the
 * dispatch, few enough to balance two to eight threads. */
#define GEMM_ROWS_PER_TASK 16

typedef struct gemm_task {
    const aq_matrix *w;
    const float *x;
    float *out;
    size_t m;
} gemm_task;

static void gemm_rows(void *arg, size_t row_begin, size_t rows) {
    const gemm_task *t = arg;
    aq_f32_gemm_ref(t->m, row_begin, row_begin + rows, (size_t)t->w->cols, t->x, (size_t)t->w->cols,
                    t->w->f32, t->out, (size_t)t->w->rows);
}

/* out (m, w->rows) = x (m, w->cols) W^T */
static void matmul(aq_context *ctx, const aq_matrix *w, const float *x, float *out, int32_t m) {
    gemm_task task = {.w = w, .x = x, .out = out, .m = (size_t)m};
    pthreadpool_parallelize_1d_tile_1d(ctx->pool, gemm_rows, &task, (size_t)w->rows, GEMM_ROWS_PER_TASK,
                                       PTHREADPOOL_FLAG_DISABLE_DENORMALS);
}

static void rmsnorm(float *out, const float *x, const float *weight, int32_t n, float eps) {
    float ss = 0.0f;
    for (int32_t i = 0; i < n; i++) ss += x[i] * x[i];
    float scale = 1.0f / sqrtf(ss / (float)n + eps);
    for (int32_t i = 0; i < n; i++) out[i] = x[i] * scale * weight[i];
}

static void rmsnorm_rows(float *out, const float *x, const float *weight, int32_t rows, int32_t n, float eps) {
    for (int32_t t = 0; t < rows; t++) rmsnorm(out + (size_t)t * n, x + (size_t)t * n, weight, n, eps);
}

/* llama.cpp's LLAMA convention: consecutive pairs (x[2i], x[2i+1]) rotate by
 * pos * theta^(-2i / head_dim). */
static void rope_tables(aq_context *ctx, int32_t n_tokens) {
    const aq_model *m = ctx->model;
    int32_t half = m->cfg.head_dim / 2;
    for (int32_t t = 0; t < n_tokens; t++) {
        for (int32_t i = 0; i < half; i++) {
            double angle = (double)ctx->pos[t] * (double)m->rope_inv_freq[i];
            ctx->rope[((size_t)t * half + i) * 2] = (float)cos(angle);
            ctx->rope[((size_t)t * half + i) * 2 + 1] = (float)sin(angle);
        }
    }
}

static void rope_apply(float *vec, int32_t n_heads, int32_t head_dim, const float *table) {
    for (int32_t h = 0; h < n_heads; h++) {
        float *v = vec + (size_t)h * head_dim;
        for (int32_t i = 0; i < head_dim / 2; i++) {
            float c = table[2 * i], s = table[2 * i + 1];
            float x0 = v[2 * i], x1 = v[2 * i + 1];
            v[2 * i] = x0 * c - x1 * s;
            v[2 * i + 1] = x0 * s + x1 * c;
        }
    }
}

typedef struct attention_task {
    aq_context *ctx;
    int32_t layer;
    int32_t first_slot; /* cache slot of the batch's first token */
} attention_task;

/* One (token, head): softmax(q k^T / sqrt(d)) v over the cached tokens whose
 * position is not after the token's own, in one pass with a running maximum
 * (no score buffer, so threads need no scratch). */
static void attend(void *arg, size_t t, size_t h) {
    const attention_task *task = arg;
    aq_context *ctx = task->ctx;
    const aq_config *c = &ctx->model->cfg;
    int32_t hd = c->head_dim, kv_dim = c->n_kv_heads * hd;
    int32_t kv_head = (int32_t)h / (c->n_heads / c->n_kv_heads);
    const float *q = ctx->q + t * (size_t)(c->n_heads * hd) + h * (size_t)hd;
    const float *k_layer = ctx->k_cache + (size_t)task->layer * ctx->n_ctx * kv_dim + (size_t)kv_head * hd;
    const float *v_layer = ctx->v_cache + (size_t)task->layer * ctx->n_ctx * kv_dim + (size_t)kv_head * hd;
    float *out = ctx->att + t * (size_t)(c->n_heads * hd) + h * (size_t)hd;
    int32_t pos = ctx->pos[t];
    int32_t last_slot = task->first_slot + (int32_t)t;
    float scale = 1.0f / sqrtf((float)hd);
    float acc[512];
    float max_score = -INFINITY, denom = 0.0f;
    for (int32_t d = 0; d < hd; d++) acc[d] = 0.0f;
    for (int32_t j = 0; j <= last_slot; j++) {
        if (ctx->kv_pos[j] > pos) continue;
        const float *kj = k_layer + (size_t)j * kv_dim;
        float s = 0.0f;
        for (int32_t d = 0; d < hd; d++) s += q[d] * kj[d];
        s *= scale;
        if (s > max_score) {
            float rescale = expf(max_score - s);
            denom *= rescale;
            for (int32_t d = 0; d < hd; d++) acc[d] *= rescale;
            max_score = s;
        }
        float p = expf(s - max_score);
        denom += p;
        const float *vj = v_layer + (size_t)j * kv_dim;
        for (int32_t d = 0; d < hd; d++) acc[d] += p * vj[d];
    }
    for (int32_t d = 0; d < hd; d++) out[d] = acc[d] / denom;
}

static void attention(aq_context *ctx, int32_t layer, int32_t n_tokens) {
    const aq_config *c = &ctx->model->cfg;
    size_t kv_dim = (size_t)c->n_kv_heads * c->head_dim;
    size_t half = (size_t)c->head_dim / 2;
    for (int32_t t = 0; t < n_tokens; t++) {
        const float *table = ctx->rope + (size_t)t * half * 2;
        rope_apply(ctx->q + (size_t)t * c->n_heads * c->head_dim, c->n_heads, c->head_dim, table);
        rope_apply(ctx->k + (size_t)t * kv_dim, c->n_kv_heads, c->head_dim, table);
    }
    size_t first = (size_t)layer * ctx->n_ctx * kv_dim + (size_t)ctx->n_kv * kv_dim;
    memcpy(ctx->k_cache + first, ctx->k, (size_t)n_tokens * kv_dim * sizeof(float));
    memcpy(ctx->v_cache + first, ctx->v, (size_t)n_tokens * kv_dim * sizeof(float));
    attention_task task = {.ctx = ctx, .layer = layer, .first_slot = ctx->n_kv};
    pthreadpool_parallelize_2d(ctx->pool, (pthreadpool_task_2d_t)attend, &task, (size_t)n_tokens,
                               (size_t)c->n_heads, PTHREADPOOL_FLAG_DISABLE_DENORMALS);
}

static void swiglu(float *gate, const float *up, size_t n) {
    for (size_t i = 0; i < n; i++) gate[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
}

static void add_into(float *x, const float *y, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] += y[i];
}

static void layer_forward(aq_context *ctx, int32_t i, int32_t n_tokens) {
    const aq_config *c = &ctx->model->cfg;
    const aq_layer *l = &ctx->model->layers[i];
    size_t residual = (size_t)n_tokens * c->dim;

    rmsnorm_rows(ctx->xn, ctx->x, l->attn_norm, n_tokens, c->dim, c->norm_eps);
    matmul(ctx, &l->wq, ctx->xn, ctx->q, n_tokens);
    matmul(ctx, &l->wk, ctx->xn, ctx->k, n_tokens);
    matmul(ctx, &l->wv, ctx->xn, ctx->v, n_tokens);
    attention(ctx, i, n_tokens);
    matmul(ctx, &l->wo, ctx->att, ctx->xn, n_tokens);
    add_into(ctx->x, ctx->xn, residual);

    rmsnorm_rows(ctx->xn, ctx->x, l->ffn_norm, n_tokens, c->dim, c->norm_eps);
    matmul(ctx, &l->w_gate, ctx->xn, ctx->gate, n_tokens);
    matmul(ctx, &l->w_up, ctx->xn, ctx->up, n_tokens);
    swiglu(ctx->gate, ctx->up, (size_t)n_tokens * c->ffn_dim);
    matmul(ctx, &l->w_down, ctx->gate, ctx->xn, n_tokens);
    add_into(ctx->x, ctx->xn, residual);
}

static aq_error ensure_batch(aq_context *ctx, int32_t n_tokens) {
    if (n_tokens <= ctx->batch_cap) return AQ_OK;
    const aq_config *c = &ctx->model->cfg;
    size_t n = (size_t)n_tokens, q_dim = (size_t)c->n_heads * c->head_dim;
    size_t kv_dim = (size_t)c->n_kv_heads * c->head_dim;
    struct { float **buf; size_t floats; } bufs[] = {
        {&ctx->x, n * c->dim}, {&ctx->xn, n * c->dim}, {&ctx->q, n * q_dim}, {&ctx->k, n * kv_dim},
        {&ctx->v, n * kv_dim}, {&ctx->att, n * q_dim}, {&ctx->gate, n * c->ffn_dim},
        {&ctx->up, n * c->ffn_dim}, {&ctx->rope, n * c->head_dim},
    };
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
        float *grown = realloc(*bufs[i].buf, bufs[i].floats * sizeof(float));
        if (!grown) return aq_set_error(ctx->error, AQ_ERR_OUT_OF_MEMORY, "out of memory for a batch of %d", n_tokens);
        *bufs[i].buf = grown;
    }
    int32_t *pos = realloc(ctx->pos, n * sizeof *pos);
    if (!pos) return aq_set_error(ctx->error, AQ_ERR_OUT_OF_MEMORY, "out of memory for a batch of %d", n_tokens);
    ctx->pos = pos;
    ctx->batch_cap = n_tokens;
    return AQ_OK;
}

static aq_error ensure_logits(aq_context *ctx, int32_t rows) {
    if (rows <= ctx->logits_cap) return AQ_OK;
    float *grown = realloc(ctx->logits, (size_t)rows * ctx->model->cfg.vocab_size * sizeof(float));
    if (!grown) return aq_set_error(ctx->error, AQ_ERR_OUT_OF_MEMORY, "out of memory for %d rows of logits", rows);
    ctx->logits = grown;
    ctx->logits_cap = rows;
    return AQ_OK;
}

aq_error aq_forward_batch(aq_context *ctx, const int32_t *tokens, const int32_t *positions,
                          int32_t n_tokens, bool logits_all) {
    const aq_model *m = ctx->model;
    const aq_config *c = &m->cfg;
    if (n_tokens > ctx->n_ctx - ctx->n_kv)
        return aq_set_error(ctx->error, AQ_ERR_CONTEXT_FULL, "%d tokens do not fit: %d of %d cache slots used",
                            n_tokens, ctx->n_kv, ctx->n_ctx);
    for (int32_t t = 0; t < n_tokens; t++) {
        if (tokens[t] < 0 || tokens[t] >= c->vocab_size)
            return aq_set_error(ctx->error, AQ_ERR_OUT_OF_RANGE, "token %d at index %d is outside [0, %d)",
                                tokens[t], t, c->vocab_size);
        if (positions && positions[t] < 0)
            return aq_set_error(ctx->error, AQ_ERR_OUT_OF_RANGE, "position %d at index %d is negative",
                                positions[t], t);
    }
    aq_error err = ensure_batch(ctx, n_tokens);
    if (err == AQ_OK) err = ensure_logits(ctx, logits_all ? n_tokens : 1);
    if (err) return err;

    int32_t next_pos = ctx->n_kv > 0 ? ctx->kv_pos[ctx->n_kv - 1] + 1 : 0;
    for (int32_t t = 0; t < n_tokens; t++) {
        ctx->pos[t] = positions ? positions[t] : next_pos + t;
        memcpy(ctx->x + (size_t)t * c->dim, m->token_embd.f32 + (size_t)tokens[t] * c->dim,
               (size_t)c->dim * sizeof(float));
    }
    rope_tables(ctx, n_tokens);
    memcpy(ctx->kv_pos + ctx->n_kv, ctx->pos, (size_t)n_tokens * sizeof(int32_t));
    for (int32_t i = 0; i < c->n_layers; i++) layer_forward(ctx, i, n_tokens);
    ctx->n_kv += n_tokens;

    int32_t first_row = logits_all ? 0 : n_tokens - 1;
    int32_t rows = n_tokens - first_row;
    const float *last = ctx->x + (size_t)first_row * c->dim;
    rmsnorm_rows(ctx->xn, last, m->output_norm, rows, c->dim, c->norm_eps);
    matmul(ctx, &m->output, ctx->xn, ctx->logits, rows);
    ctx->n_logit_rows = rows;
    return AQ_OK;
}
