/* The forward pass, read top to bottom: embedding; per layer RMSNorm, Q/K/V,
 * RoPE, causal grouped-query attention over the KV cache, output projection,
 * RMSNorm, SwiGLU MLP, with residuals; final norm and logits. A batch of T
 * tokens is processed as (T, width) matrices, so prefill is matrix-matrix
 * work and decode (T = 1) the same code. With token pruning on, a prefill
 * drops rows between a layer's attention and the rest of it (prune.c), so
 * each layer's KV cache holds only the tokens present at that layer. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "calibration.h"
#include "hadamard.h"
#include "model.h"
#include "prune.h"

/* Output rows handed to one thread at a time: enough to amortize the
 * dispatch, few enough to balance two to eight threads. */
#define GEMM_ROWS_PER_TASK 16

typedef struct linear_task {
    const aq_kernels *kernels;
    const aq_matrix *w;
    const float *x;             /* float input (F32 weights, or weight-only quantization) */
    const struct aq_qd8 *qa;    /* quantized input, for INT4 weights with quantized activations */
    const block_q8_0 *qa_blocks;/* quantized input, for llama.cpp's formats */
    float *out;
    size_t m;
} linear_task;

static void linear_rows(void *arg, size_t row_begin, size_t rows) {
    const linear_task *t = arg;
    const aq_matrix *w = t->w;
    size_t row_end = row_begin + rows, k = (size_t)w->cols, ld = (size_t)w->rows, blocks = k / AQ_QK8_0;
    switch (w->format) {
    case AQ_WEIGHTS_F32:
        t->kernels->f32_gemm(t->m, row_begin, row_end, k, t->x, k, w->f32, t->out, ld);
        break;
    case AQ_WEIGHTS_Q4W:
        if (t->qa)
            t->kernels->qc4w_gemm.gemm(t->m, row_begin, row_end, t->qa, &w->q4w, w->packed, t->out, ld);
        else
            t->kernels->f32_qc4w_gemm(t->m, row_begin, row_end, t->x, k, &w->q4w, t->out, ld);
        break;
    case AQ_WEIGHTS_Q4_0:
        for (size_t tok = 0; tok < t->m; tok++)
            for (size_t r = row_begin; r < row_end; r++)
                t->out[tok * ld + r] = t->kernels->q4_0_q8_0_dot(k, (const block_q4_0 *)w->blocks + r * blocks,
                                                                 t->qa_blocks + tok * blocks);
        break;
    case AQ_WEIGHTS_Q8_0:
        for (size_t tok = 0; tok < t->m; tok++)
            for (size_t r = row_begin; r < row_end; r++)
                t->out[tok * ld + r] = t->kernels->q8_0_q8_0_dot(k, (const block_q8_0 *)w->blocks + r * blocks,
                                                                 t->qa_blocks + tok * blocks);
        break;
    }
}

/* The input of the next linear layers: a float matrix and how to quantize
 * it. It is quantized lazily, once, for all the matrices that read it. */
typedef struct linear_input {
    const float *x;
    int32_t n_tokens, width;
    const aq_act_quant *policy; /* NULL: float */
} linear_input;

static linear_input prepare_input(aq_context *ctx, int32_t layer, aq_linear_input kind, const float *x,
                                  int32_t n_tokens, int32_t width) {
    if (ctx->calibration) aq_calibration_observe(ctx->calibration, layer, kind, x, n_tokens, width);
    ctx->qa_ready = ctx->qa_blocks_ready = false;
    const aq_act_quant *policy = layer >= 0 ? &ctx->model->layers[layer].act[kind] : NULL;
    return (linear_input){.x = x, .n_tokens = n_tokens, .width = width,
                          .policy = policy && policy->bits ? policy : NULL};
}

/* out (n_tokens, w->rows) = in (n_tokens, w->cols) W^T */
typedef struct quantize_task {
    aq_context *ctx;
    const linear_input *in;
} quantize_task;

/* Quantizes rows [t_begin, t_begin + rows) of a linear input: the formats
 * are per row, so threads split the tokens and the result is the same. */
static void quantize_rows(void *arg, size_t t_begin, size_t rows) {
    const quantize_task *task = arg;
    aq_context *ctx = task->ctx;
    const linear_input *in = task->in;
    size_t k = (size_t)in->width;
    const float *x = in->x + t_begin * k;
    if (in->policy) {
        const aq_act_quant *p = in->policy;
        struct aq_qd8 rows_view = {.q = ctx->qa.q + t_begin * k, .scale = ctx->qa.scale + t_begin,
                                   .zero = ctx->qa.zero + t_begin};
        if (p->is_static)
            aq_qd8_quantize_static_ref(x, rows, k, k, p->scale, p->zero, p->bits, &rows_view);
        else
            aq_qd8_quantize_dynamic_ref(x, rows, k, k, p->bits, &rows_view);
    } else {
        for (size_t t = 0; t < rows; t++)
            aq_q8_0_quantize_ref(x + t * k, k, (block_q8_0 *)ctx->qa_blocks + (t_begin + t) * (k / AQ_QK8_0));
    }
}

static void quantize_input(aq_context *ctx, const linear_input *in, bool blocks) {
    linear_input what = *in;
    if (blocks) what.policy = NULL;
    quantize_task task = {.ctx = ctx, .in = &what};
    pthreadpool_parallelize_1d_tile_1d(ctx->pool, quantize_rows, &task, (size_t)in->n_tokens, 4,
                                       PTHREADPOOL_FLAG_DISABLE_DENORMALS);
    if (!blocks) {
        ctx->qa.n_rows = (size_t)in->n_tokens;
        ctx->qa.k = (size_t)in->width;
    }
}

static void linear(aq_context *ctx, const aq_matrix *w, const linear_input *in, float *out) {
    linear_task task = {.kernels = &ctx->model->kernels, .w = w, .x = in->x, .out = out, .m = (size_t)in->n_tokens};
    if (w->format == AQ_WEIGHTS_Q4W && in->policy) {
        if (!ctx->qa_ready) quantize_input(ctx, in, false);
        ctx->qa_ready = true;
        task.qa = &ctx->qa;
    } else if (w->format == AQ_WEIGHTS_Q4_0 || w->format == AQ_WEIGHTS_Q8_0) {
        if (!ctx->qa_blocks_ready) quantize_input(ctx, in, true);
        ctx->qa_blocks_ready = true;
        task.qa_blocks = ctx->qa_blocks;
    }
    size_t tile = GEMM_ROWS_PER_TASK;
    size_t n_tile = ctx->model->kernels.qc4w_gemm.n_tile;
    if (w->format == AQ_WEIGHTS_Q4W && n_tile > 1) tile = (tile + n_tile - 1) / n_tile * n_tile;
    pthreadpool_parallelize_1d_tile_1d(ctx->pool, linear_rows, &task, (size_t)w->rows, tile,
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
    int32_t first_slot; /* the layer's cache slot of the batch's first row */
    int32_t n_tokens;   /* rows of the batch */
    bool score;         /* keep what token pruning scores with (prune_score, prune_stats) */
} attention_task;

const float *aq_kv_row(const aq_context *ctx, bool value, int32_t layer, int32_t slot, int32_t kv_head, float *scratch) {
    const aq_config *c = &ctx->model->cfg;
    size_t row = ((size_t)layer * ctx->n_ctx + (size_t)slot) * c->n_kv_heads + (size_t)kv_head;
    if (!ctx->kv_int8) return (value ? ctx->v_cache : ctx->k_cache) + row * c->head_dim;
    const int8_t *q = (value ? ctx->v_cache_q8 : ctx->k_cache_q8) + row * c->head_dim;
    float scale = (value ? ctx->v_scale : ctx->k_scale)[row];
    for (int32_t d = 0; d < c->head_dim; d++) scratch[d] = scale * (float)q[d];
    return scratch;
}

/* Appends n_tokens rows of K and V to a layer's cache at slot, quantizing
 * each (token, head) row symmetrically for the INT8 cache. */
static void kv_store(aq_context *ctx, int32_t layer, int32_t slot, int32_t n_tokens) {
    const aq_config *c = &ctx->model->cfg;
    size_t hd = (size_t)c->head_dim, rows = (size_t)n_tokens * c->n_kv_heads;
    size_t first = ((size_t)layer * ctx->n_ctx + (size_t)slot) * c->n_kv_heads;
    if (!ctx->kv_int8) {
        memcpy(ctx->k_cache + first * hd, ctx->k, rows * hd * sizeof(float));
        memcpy(ctx->v_cache + first * hd, ctx->v, rows * hd * sizeof(float));
        return;
    }
    for (int which = 0; which < 2; which++) {
        const float *src = which ? ctx->v : ctx->k;
        int8_t *dst = (which ? ctx->v_cache_q8 : ctx->k_cache_q8) + first * hd;
        float *scales = (which ? ctx->v_scale : ctx->k_scale) + first;
        for (size_t r = 0; r < rows; r++) {
            float amax = 0.0f;
            for (size_t d = 0; d < hd; d++) amax = fmaxf(amax, fabsf(src[r * hd + d]));
            float scale = amax / 127.0f;
            scales[r] = scale;
            for (size_t d = 0; d < hd; d++)
                dst[r * hd + d] = (int8_t)(scale > 0.0f ? nearbyintf(src[r * hd + d] / scale) : 0.0f);
        }
    }
}

/* Attention works on tiles of ATTENTION_QUERIES query tokens of one head
 * against blocks of ATTENTION_KEYS cached keys. The tile's queries sit
 * transposed in registers' order (query index fastest), so one key row,
 * broadcast element by element, scores all of them with full-width FMAs and
 * no horizontal sums; the running maximum and the rescaling of the
 * accumulators happen once per block, not once per key. */
#define ATTENTION_QUERIES 8
#define ATTENTION_KEYS 64

/* e^x for x <= 0, to ~2 ulp: a loop of it vectorizes (expf is a library call).
 * Below -87 (a masked key, or a score far under the maximum) it returns 0. */
static inline float exp_nonpositive(float x) {
    const float clamped = x < -87.0f ? -87.0f : x;
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
    return x < -87.0f ? 0.0f : poly * two_n;
}

/* A tile of queries (rows first_row .. first_row + n_rows - 1 of the batch) of
 * one head: softmax(q k^T / sqrt(d)) v over the cached keys whose position is
 * not after the query's own, with a running maximum per query (no score
 * matrix, so threads need only stack scratch). */
static void attend(void *arg, size_t tile, size_t h) {
    enum { Q = ATTENTION_QUERIES, B = ATTENTION_KEYS };
    const attention_task *task = arg;
    aq_context *ctx = task->ctx;
    const aq_config *c = &ctx->model->cfg;
    int32_t hd = c->head_dim, q_stride = c->n_heads * hd;
    int32_t kv_head = (int32_t)h / (c->n_heads / c->n_kv_heads);
    const int32_t *kv_pos = ctx->kv_pos + (size_t)task->layer * ctx->n_ctx;
    int32_t first_row = (int32_t)tile * Q;
    int32_t n_rows = task->n_tokens - first_row < Q ? task->n_tokens - first_row : Q;
    float scale = 1.0f / sqrtf((float)hd);
    float qt[512 * Q], acc[Q][512], scores[B][Q], k_row[512], v_row[512];
    float max_score[Q], denom[Q], first_score[Q];
    int32_t pos[Q], last_slot[Q]; /* a key is visible to query i if at or before both */
    for (int32_t i = 0; i < Q; i++) {
        bool real = i < n_rows;
        pos[i] = real ? ctx->pos[first_row + i] : INT32_MIN; /* padding sees no key */
        last_slot[i] = task->first_slot + first_row + i;
        max_score[i] = -INFINITY, denom[i] = 0.0f, first_score[i] = -INFINITY;
        const float *q = real ? ctx->q + (size_t)(first_row + i) * q_stride + h * (size_t)hd : NULL;
        for (int32_t d = 0; d < hd; d++) qt[d * Q + i] = real ? q[d] * scale : 0.0f;
        for (int32_t d = 0; d < hd; d++) acc[i][d] = 0.0f;
    }
    int32_t n_keys = task->first_slot + first_row + n_rows; /* causal: no query of the tile sees past this */
    for (int32_t block = 0; block < n_keys; block += B) {
        int32_t n = n_keys - block < B ? n_keys - block : B;
        for (int32_t j = 0; j < n; j++) {
            const float *k = aq_kv_row(ctx, false, task->layer, block + j, kv_head, k_row);
            float s[Q] = {0};
            for (int32_t d = 0; d < hd; d++)
                for (int32_t i = 0; i < Q; i++) s[i] += qt[d * Q + i] * k[d];
            int32_t key_pos = kv_pos[block + j], slot = block + j;
            for (int32_t i = 0; i < Q; i++) scores[j][i] = key_pos > pos[i] || slot > last_slot[i] ? -INFINITY : s[i];
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
        for (int32_t j = 0; j < n; j++) {
            const float *v = aq_kv_row(ctx, true, task->layer, block + j, kv_head, v_row);
            for (int32_t i = 0; i < n_rows; i++) {
                float p = scores[j][i];
                if (p == 0.0f) continue; /* masked */
                for (int32_t d = 0; d < hd; d++) acc[i][d] += p * v[d];
            }
        }
    }
    for (int32_t i = 0; i < n_rows; i++) {
        size_t t = (size_t)(first_row + i);
        float *out = ctx->att + t * (size_t)q_stride + h * (size_t)hd;
        for (int32_t d = 0; d < hd; d++) out[d] = acc[i][d] / denom[i];
        if (task->score) {
            size_t cell = t * (size_t)c->n_heads + h;
            ctx->prune_stats[cell * 2] = max_score[i];
            ctx->prune_stats[cell * 2 + 1] = denom[i];
            ctx->prune_score[cell] = exp_nonpositive(first_score[i] - max_score[i]) / denom[i]; /* A[h, t, 0] */
        }
    }
}

static void attention(aq_context *ctx, int32_t layer, int32_t n_tokens, bool score) {
    const aq_config *c = &ctx->model->cfg;
    size_t kv_dim = (size_t)c->n_kv_heads * c->head_dim;
    size_t half = (size_t)c->head_dim / 2;
    for (int32_t t = 0; t < n_tokens; t++) {
        const float *table = ctx->rope + (size_t)t * half * 2;
        rope_apply(ctx->q + (size_t)t * c->n_heads * c->head_dim, c->n_heads, c->head_dim, table);
        rope_apply(ctx->k + (size_t)t * kv_dim, c->n_kv_heads, c->head_dim, table);
    }
    int32_t slot = ctx->kv_len[layer];
    kv_store(ctx, layer, slot, n_tokens);
    memcpy(ctx->kv_pos + (size_t)layer * ctx->n_ctx + slot, ctx->pos, (size_t)n_tokens * sizeof(int32_t));
    ctx->kv_len[layer] += n_tokens;
    attention_task task = {.ctx = ctx, .layer = layer, .first_slot = slot, .n_tokens = n_tokens, .score = score};
    size_t tiles = ((size_t)n_tokens + ATTENTION_QUERIES - 1) / ATTENTION_QUERIES;
    pthreadpool_parallelize_2d(ctx->pool, (pthreadpool_task_2d_t)attend, &task, tiles, (size_t)c->n_heads,
                               PTHREADPOOL_FLAG_DISABLE_DENORMALS);
}

static void add_into(float *x, const float *y, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] += y[i];
}

typedef struct mlp_hidden_task {
    aq_context *ctx;
    const aq_layer *layer;
} mlp_hidden_task;

/* The down projection's input for one token: SiLU(gate) * up, then the
 * online Hadamard rotation and TRIP factors when the quantization scheme
 * folded their inverses into the down projection. */
static void mlp_hidden(void *arg, size_t t) {
    const mlp_hidden_task *task = arg;
    const aq_model *m = task->ctx->model;
    size_t ffn = (size_t)m->cfg.ffn_dim;
    float *h = task->ctx->gate + t * ffn;
    const float *up = task->ctx->up + t * ffn;
    for (size_t i = 0; i < ffn; i++) h[i] = h[i] / (1.0f + expf(-h[i])) * up[i];
    if (m->down_rotation_signs) aq_hadamard_rotate(h, ffn, m->down_rotation_signs);
    if (task->layer->down_input_scale)
        for (size_t i = 0; i < ffn; i++) h[i] *= task->layer->down_input_scale[i];
}


/* One layer on n_tokens rows; returns the rows left for the next layer.
 * prune: this is a pruning prefill, and rows may be dropped after the
 * attention (prune.c): a dropped token's K/V is cached for this layer, and
 * nothing reads its row again, so it skips this layer's output projection and
 * MLP as well as every later layer. */
static int32_t layer_forward(aq_context *ctx, int32_t i, int32_t n_tokens, bool prune) {
    const aq_config *c = &ctx->model->cfg;
    const aq_layer *l = &ctx->model->layers[i];
    int32_t q_dim = c->n_heads * c->head_dim;

    rmsnorm_rows(ctx->xn, ctx->x, l->attn_norm, n_tokens, c->dim, c->norm_eps);
    linear_input in = prepare_input(ctx, i, AQ_INPUT_QKV, ctx->xn, n_tokens, c->dim);
    linear(ctx, &l->wq, &in, ctx->q);
    linear(ctx, &l->wk, &in, ctx->k);
    linear(ctx, &l->wv, &in, ctx->v);
    bool pruning_layer = prune && i >= aq_prune_first_layer(ctx);
    attention(ctx, i, n_tokens, pruning_layer);
    int32_t target = pruning_layer ? aq_prune_target(ctx, i, ctx->last_batch) : n_tokens;
    int32_t kept = aq_prune_compact(ctx, i, n_tokens, target);
    if (kept != n_tokens) rope_tables(ctx, kept); /* rows moved, or were renumbered */
    n_tokens = kept;
    size_t residual = (size_t)n_tokens * c->dim;

    in = prepare_input(ctx, i, AQ_INPUT_ATTN_OUT, ctx->att, n_tokens, q_dim);
    linear(ctx, &l->wo, &in, ctx->xn);
    add_into(ctx->x, ctx->xn, residual);

    rmsnorm_rows(ctx->xn, ctx->x, l->ffn_norm, n_tokens, c->dim, c->norm_eps);
    in = prepare_input(ctx, i, AQ_INPUT_FFN_UP, ctx->xn, n_tokens, c->dim);
    linear(ctx, &l->w_gate, &in, ctx->gate);
    linear(ctx, &l->w_up, &in, ctx->up);
    mlp_hidden_task hidden = {.ctx = ctx, .layer = l};
    pthreadpool_parallelize_1d(ctx->pool, mlp_hidden, &hidden, (size_t)n_tokens, PTHREADPOOL_FLAG_DISABLE_DENORMALS);
    in = prepare_input(ctx, i, AQ_INPUT_FFN_DOWN, ctx->gate, n_tokens, c->ffn_dim);
    linear(ctx, &l->w_down, &in, ctx->xn);
    add_into(ctx->x, ctx->xn, residual);
    return n_tokens;
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
        {&ctx->prune_score, n * c->n_heads}, {&ctx->prune_stats, n * c->n_heads * 2}, {&ctx->importance, n},
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
    float *qa_scale = realloc(ctx->qa.scale, n * sizeof(float));
    if (qa_scale) ctx->qa.scale = qa_scale;
    int32_t *qa_zero = realloc(ctx->qa.zero, n * sizeof(int32_t));
    if (qa_zero) ctx->qa.zero = qa_zero;
    void *blocks = realloc(ctx->qa_blocks, n * (width / AQ_QK8_0 + 1) * sizeof(block_q8_0));
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
    if (!pos || !qa || !qa_scale || !qa_zero || !blocks || !kept || !n_kept || !order || !logit_row)
        return aq_set_error(ctx->error, AQ_ERR_OUT_OF_MEMORY, "out of memory for a batch of %d", n_tokens);
    ctx->batch_cap = n_tokens;
    return AQ_OK;
}

/* What to subtract from a token's position at layer i: after a prompt
 * pruned with renumbered positions, layer i numbers its tokens 0..kept-1, and
 * later tokens continue from there. Zero in every other case, since then all
 * layers cache the same last position. */
static int32_t position_shift(const aq_context *ctx, int32_t i) {
    if (ctx->pruned_prefix == 0 || ctx->n_kv == 0) return 0;
    return ctx->kv_pos[ctx->n_kv - 1] - ctx->kv_pos[(size_t)i * ctx->n_ctx + ctx->kv_len[i] - 1];
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

    /* Layer 0 never loses a token, so its positions are those given. */
    int32_t next_pos = ctx->n_kv > 0 ? ctx->kv_pos[ctx->n_kv - 1] + 1 : 0;
    for (int32_t t = 0; t < n_tokens; t++) {
        ctx->pos[t] = positions ? positions[t] : next_pos + t;
        memcpy(ctx->x + (size_t)t * c->dim, m->token_embd.f32 + (size_t)tokens[t] * c->dim,
               (size_t)c->dim * sizeof(float));
        ctx->kept[t] = t;
    }
    ctx->n_kept[0] = n_tokens;
    ctx->last_batch = n_tokens;
    rope_tables(ctx, n_tokens);
    bool prune = aq_prune_active(ctx, n_tokens);
    int32_t n = n_tokens, shift = 0;
    for (int32_t i = 0; i < c->n_layers; i++) {
        int32_t layer_shift = position_shift(ctx, i);
        if (layer_shift != shift) {
            for (int32_t t = 0; t < n; t++) ctx->pos[t] -= layer_shift - shift;
            shift = layer_shift;
            rope_tables(ctx, n);
        }
        n = layer_forward(ctx, i, n, prune);
    }
    ctx->n_kv += n_tokens;
    if (prune && ctx->kv_len[c->n_layers - 1] < ctx->n_kv) ctx->pruned_prefix = n_tokens;

    /* The last token is never pruned, so its row is always the last. */
    int32_t first_row = logits_all ? 0 : n - 1;
    int32_t rows = n - first_row;
    const float *last = ctx->x + (size_t)first_row * c->dim;
    rmsnorm_rows(ctx->xn, last, m->output_norm, rows, c->dim, c->norm_eps);
    linear_input head = prepare_input(ctx, -1, AQ_INPUT_QKV, ctx->xn, rows, c->dim);
    linear(ctx, &m->output, &head, ctx->logits);
    ctx->n_logit_rows = logits_all ? n_tokens : 1;
    ctx->logits_pruned = logits_all && n < n_tokens;
    if (ctx->logits_pruned) {
        const int32_t *kept = ctx->kept + (size_t)c->n_layers * ctx->batch_cap;
        for (int32_t t = 0; t < n_tokens; t++) ctx->logit_row[t] = -1;
        for (int32_t r = 0; r < n; r++) ctx->logit_row[kept[r]] = r;
    }
    return AQ_OK;
}

aq_error aq_kv_keep(aq_context *ctx, int32_t n) {
    if (n < 0 || n > ctx->n_kv)
        return aq_set_error(ctx->error, AQ_ERR_OUT_OF_RANGE, "cannot keep %d of %d cached tokens", n, ctx->n_kv);
    /* Tokens of a pruned prefill are cached at some layers only; cutting
     * inside it would leave layers whose slots match no token count. */
    if (n > 0 && n < ctx->pruned_prefix)
        return aq_set_error(ctx->error, AQ_ERR_STATE,
                            "the first %d tokens were a pruned prefill: keep 0 or at least %d tokens",
                            ctx->pruned_prefix, ctx->pruned_prefix);
    /* Tokens after the prefill are cached at every layer. */
    for (int32_t l = 0; l < ctx->model->cfg.n_layers; l++) ctx->kv_len[l] = n ? ctx->kv_len[l] - (ctx->n_kv - n) : 0;
    if (n == 0) ctx->pruned_prefix = 0;
    ctx->n_kv = n;
    return AQ_OK;
}
