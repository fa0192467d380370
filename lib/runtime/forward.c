/* The forward pass, read top to bottom: embedding (with learned positions and
 * a norm where the family has them); per layer a norm, Q/K/V, attention
 * (RoPE or ALiBi, KV cache), output projection, a norm, the MLP, with
 * residuals; final norm and logits. The family's building blocks (model.h's
 * aq_family: RMSNorm or LayerNorm, the position scheme, SwiGLU/GELU/ReLU,
 * biases) sit in their own files; this one follows the model. A batch of T
 * tokens is processed as (T, width) matrices, so prefill is matrix-matrix
 * work and decode (T = 1) the same code. Token pruning may drop rows after a
 * layer's attention (prune.c), so each layer's cache holds only the tokens
 * present there. */
#include <math.h>
#include <string.h>

#include "activation.h"
#include "attention.h"
#include "hadamard.h"
#include "linear.h"
#include "norm.h"
#include "prune.h"
#include "rope.h"

static void add_into(float *x, const float *y, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] += y[i];
}

/* Rows of the residual stream per task of residual_norm: a 2048-wide row is
 * a few microseconds of work. */
#define RESIDUAL_ROWS_PER_TASK 8

typedef struct residual_task {
    aq_context *ctx;
    bool add;            /* x += xn first */
    const float *weight; /* then xn = norm(x) with this weight and bias, unless NULL */
    const float *bias;
} residual_task;

static void residual_rows(void *arg, size_t t_begin, size_t rows) {
    const residual_task *task = arg;
    aq_context *ctx = task->ctx;
    const aq_config *c = &ctx->model->cfg;
    size_t dim = (size_t)c->dim;
    float *x = ctx->x + t_begin * dim, *xn = ctx->xn + t_begin * dim;
    if (task->add) add_into(x, xn, rows * dim);
    if (!task->weight) return;
    aq_norm_rows(c->norm, xn, x, task->weight, task->bias, (int32_t)rows, c->dim, c->norm_eps);
    /* rotate-online rotated the matrices that read a norm's output, not the
     * residual stream: the rows are rotated here, after their norm. */
    const float *signs = ctx->model->input_rotation_signs;
    if (signs) aq_hadamard_rotate_rows(xn, rows, dim, signs);
}

/* x += xn (add) and then xn = norm(x) (a weight given, rotated online if the
 * model says so) for n_tokens rows, the
 * rows split over the threads (each row's bits as one thread gives them): done
 * by the caller alone, they kept the other threads waiting. */
static void residual_norm(aq_context *ctx, int32_t n_tokens, bool add, const float *weight, const float *bias) {
    residual_task task = {.ctx = ctx, .add = add, .weight = weight, .bias = bias};
    pthreadpool_parallelize_1d_tile_1d(ctx->pool, residual_rows, &task, (size_t)n_tokens, RESIDUAL_ROWS_PER_TASK,
                                       PTHREADPOOL_FLAG_DISABLE_DENORMALS);
}

typedef struct mlp_hidden_task {
    aq_context *ctx;
    const aq_layer *layer;
    size_t unit; /* a part is a whole number of units (mlp_hidden_unit) */
    size_t part; /* elements of a token's row a task does: the row, or in decode a share of it */
} mlp_hidden_task;

/* What a decode step's row is cut into, so that threads share it (one token
 * is one task otherwise, and the others wait): the MLP's activation is element
 * by element, and a blocked rotation acts on each block of the largest power
 * of two dividing ffn alone (aq_hadamard_rotate_blocked), so parts of whole
 * blocks give the row's bits. A full-width rotation mixes the whole row: one
 * part. */
static size_t mlp_hidden_unit(const aq_model *m, size_t ffn) {
    const size_t unrotated_unit = 512;
    if (!m->down_rotation_signs) return unrotated_unit < ffn ? unrotated_unit : ffn;
    if (!m->down_rotation_blocked && aq_hadamard_full_width(ffn)) return ffn;
    return ffn & (~ffn + 1);
}

/* The down projection's input for part p of one token's row: the MLP's
 * activation, then the online Hadamard rotation and TRIP factors when the
 * quantization scheme folded their inverses into the down projection. */
static void mlp_hidden(void *arg, size_t t, size_t p) {
    const mlp_hidden_task *task = arg;
    const aq_model *m = task->ctx->model;
    size_t ffn = (size_t)m->cfg.ffn_dim, begin = p * task->part;
    size_t n = ffn - begin < task->part ? ffn - begin : task->part;
    float *h = task->ctx->gate + t * ffn + begin;
    aq_mlp_activation(m->cfg.family->mlp, h, task->ctx->up + t * ffn + begin, n);
    if (m->down_rotation_signs) {
        if (n == ffn)
            (m->down_rotation_blocked ? aq_hadamard_rotate_blocked : aq_hadamard_rotate)(h, ffn,
                                                                                         m->down_rotation_signs);
        else /* n is a whole number of the blocked rotation's blocks */
            for (size_t b = 0; b < n; b += task->unit)
                aq_hadamard_rotate_blocked(h + b, task->unit, m->down_rotation_signs + begin + b);
    }
    if (task->layer->down_input_scale)
        for (size_t i = 0; i < n; i++) h[i] *= task->layer->down_input_scale[begin + i];
}

/* Moves the last of n_tokens rows of the residual stream and of the attention
 * output to row 0, for a layer whose only reader after attention is the last
 * token's logits. */
static void keep_last_row(aq_context *ctx, int32_t n_tokens) {
    const aq_config *c = &ctx->model->cfg;
    size_t dim = (size_t)c->dim, q_dim = (size_t)c->n_heads * (size_t)c->head_dim, last = (size_t)n_tokens - 1;
    memmove(ctx->x, ctx->x + last * dim, dim * sizeof *ctx->x);
    memmove(ctx->att, ctx->att + last * q_dim, q_dim * sizeof *ctx->att);
}

/* One layer over n_tokens rows; returns the rows left. With last_row_only
 * (the last layer of a forward that returns the last token's logits alone, as
 * llama.cpp's graphs skip the unused outputs' rows at their last layer) every
 * token's K and V are cached, but the attention, the output projection and
 * the MLP run for the last row only, which becomes row 0: the other rows'
 * results would be read by nothing. */
static int32_t layer_forward(aq_context *ctx, int32_t i, int32_t n_tokens, bool last_row_only) {
    const aq_config *c = &ctx->model->cfg;
    const aq_layer *l = &ctx->model->layers[i];
    int32_t q_dim = c->n_heads * c->head_dim;

    residual_norm(ctx, n_tokens, false, l->attn_norm, l->attn_norm_b);
    aq_activations in = aq_linear_input_at(ctx, i, AQ_INPUT_QKV, ctx->xn, n_tokens, c->dim);
    const aq_matrix *qkv[] = {&l->wq, &l->wk, &l->wv};
    float *qkv_out[] = {ctx->q, ctx->k, ctx->v};
    aq_linear_group(ctx, 3, qkv, &in, qkv_out);
    aq_attention(ctx, i, n_tokens, last_row_only ? n_tokens - 1 : 0);
    n_tokens = aq_prune_after_attention(ctx, i, n_tokens);
    if (last_row_only && n_tokens > 1) {
        keep_last_row(ctx, n_tokens);
        n_tokens = 1;
    }

    in = aq_linear_input_at(ctx, i, AQ_INPUT_ATTN_OUT, ctx->att, n_tokens, q_dim);
    aq_linear(ctx, &l->wo, &in, ctx->xn);
    residual_norm(ctx, n_tokens, true, l->ffn_norm, l->ffn_norm_b);
    in = aq_linear_input_at(ctx, i, AQ_INPUT_FFN_UP, ctx->xn, n_tokens, c->dim);
    bool gated = aq_matrix_present(&l->w_gate);
    const aq_matrix *gate_up[] = {gated ? &l->w_gate : &l->w_up, &l->w_up};
    float *gate_up_out[] = {gated ? ctx->gate : ctx->up, ctx->up};
    aq_linear_group(ctx, gated ? 2 : 1, gate_up, &in, gate_up_out);
    size_t ffn = (size_t)c->ffn_dim, threads = ctx->pool ? pthreadpool_get_threads_count(ctx->pool) : 1;
    mlp_hidden_task hidden = {.ctx = ctx, .layer = l, .unit = ffn, .part = ffn};
    if ((size_t)n_tokens < threads) {
        hidden.unit = mlp_hidden_unit(ctx->model, ffn);
        size_t units = (ffn + hidden.unit - 1) / hidden.unit;
        hidden.part = (units + threads - 1) / threads * hidden.unit;
    }
    pthreadpool_parallelize_2d(ctx->pool, mlp_hidden, &hidden, (size_t)n_tokens, (ffn + hidden.part - 1) / hidden.part,
                               PTHREADPOOL_FLAG_DISABLE_DENORMALS);
    in = aq_linear_input_at(ctx, i, AQ_INPUT_FFN_DOWN, ctx->gate, n_tokens, c->ffn_dim);
    aq_linear(ctx, &l->w_down, &in, ctx->xn);
    residual_norm(ctx, n_tokens, true, NULL, NULL);
    return n_tokens;
}

static aq_error check_tokens(aq_context *ctx, const int32_t *tokens, const int32_t *positions, int32_t n_tokens) {
    int32_t vocab = ctx->model->cfg.vocab_size;
    if (n_tokens > ctx->n_ctx - ctx->n_kv)
        return aq_set_error(ctx->error, AQ_ERR_CONTEXT_FULL, "%d tokens do not fit: %d of %d cache slots used",
                            n_tokens, ctx->n_kv, ctx->n_ctx);
    for (int32_t t = 0; t < n_tokens; t++) {
        if (tokens[t] < 0 || tokens[t] >= vocab)
            return aq_set_error(ctx->error, AQ_ERR_OUT_OF_RANGE, "token %d at index %d is outside [0, %d)", tokens[t],
                                t, vocab);
        if (positions && positions[t] < 0)
            return aq_set_error(ctx->error, AQ_ERR_OUT_OF_RANGE, "position %d at index %d is negative", positions[t],
                                t);
    }
    /* A table of learned positions has a row for each position below the training context. */
    if (ctx->model->cfg.family->positions != AQ_POSITIONS_LEARNED || n_tokens == 0) return AQ_OK;
    int32_t last = (ctx->n_kv > 0 ? ctx->kv_pos[ctx->n_kv - 1] + 1 : 0) + n_tokens - 1;
    for (int32_t t = 0; positions && t < n_tokens; t++) last = t == 0 || positions[t] > last ? positions[t] : last;
    if (last >= ctx->model->cfg.context_length)
        return aq_set_error(ctx->error, AQ_ERR_OUT_OF_RANGE, "position %d is past the %d positions the model learned",
                            last, ctx->model->cfg.context_length);
    return AQ_OK;
}

/* The residual stream's first rows: token embeddings, plus learned
 * positions, then the embedding norm where the family has them. */
static void embed(aq_context *ctx, const int32_t *tokens, int32_t n_tokens) {
    const aq_model *m = ctx->model;
    const aq_config *c = &m->cfg;
    size_t dim = (size_t)c->dim;
    float *row = ctx->xn;
    for (int32_t t = 0; t < n_tokens; t++) {
        float *x = ctx->x + (size_t)t * dim;
        aq_matrix_row(&m->token_embd, tokens[t], x);
        if (aq_matrix_present(&m->position_embd)) {
            aq_matrix_row(&m->position_embd, ctx->pos[t] + c->family->position_offset, row);
            add_into(x, row, dim);
        }
    }
    if (m->embd_norm)
        aq_norm_rows(AQ_NORM_LAYER, ctx->x, ctx->x, m->embd_norm, m->embd_norm_b, n_tokens, c->dim, c->norm_eps);
}

/* Positions 0 .. n_tokens - 1, as a forward call on an empty cache gives them. */
static aq_error begin_chunk(aq_context *ctx, int32_t n_tokens) {
    aq_error err = aq_runtime_reserve(ctx, n_tokens, 1);
    for (int32_t t = 0; err == AQ_OK && t < n_tokens; t++) ctx->pos[t] = t;
    return err;
}

aq_error aq_runtime_embed(aq_context *ctx, const int32_t *tokens, int32_t n_tokens, float *x) {
    aq_error err = check_tokens(ctx, tokens, NULL, n_tokens);
    if (err == AQ_OK) err = begin_chunk(ctx, n_tokens);
    if (err) return err;
    embed(ctx, tokens, n_tokens);
    memcpy(x, ctx->x, (size_t)n_tokens * (size_t)ctx->model->cfg.dim * sizeof *x);
    return AQ_OK;
}

aq_error aq_runtime_forward_layer(aq_context *ctx, int32_t layer, float *x, int32_t n_tokens) {
    aq_error err = begin_chunk(ctx, n_tokens);
    if (err) return err;
    size_t bytes = (size_t)n_tokens * (size_t)ctx->model->cfg.dim * sizeof *x;
    memcpy(ctx->x, x, bytes);
    aq_rope_tables(ctx, n_tokens);
    aq_prune_begin(ctx, n_tokens);
    ctx->pruning = false;
    ctx->kv_len[layer] = 0;
    layer_forward(ctx, layer, n_tokens, false);
    memcpy(x, ctx->x, bytes);
    return AQ_OK;
}

aq_error aq_runtime_forward(aq_context *ctx, const int32_t *tokens, const int32_t *positions, int32_t n_tokens,
                            bool logits_all) {
    const aq_model *m = ctx->model;
    const aq_config *c = &m->cfg;
    aq_error err = check_tokens(ctx, tokens, positions, n_tokens);
    if (err == AQ_OK) err = aq_runtime_reserve(ctx, n_tokens, logits_all ? n_tokens : 1);
    if (err) return err;

    int32_t next_pos = ctx->n_kv > 0 ? ctx->kv_pos[ctx->n_kv - 1] + 1 : 0;
    size_t dim = (size_t)c->dim;
    for (int32_t t = 0; t < n_tokens; t++) ctx->pos[t] = positions ? positions[t] : next_pos + t;
    embed(ctx, tokens, n_tokens);
    aq_rope_tables(ctx, n_tokens);
    aq_prune_begin(ctx, n_tokens);
    int32_t n = n_tokens;
    /* An observer (calibration) reads every row's linear inputs. */
    bool last_row_only = !logits_all && !ctx->observe;
    for (int32_t i = 0; i < c->n_layers; i++) n = layer_forward(ctx, i, n, last_row_only && i == c->n_layers - 1);
    ctx->n_kv += n_tokens;

    /* The last token is never pruned, so its row is always the last (and the
     * only one without logits_all). */
    int32_t first_row = logits_all ? 0 : n - 1;
    int32_t rows = n - first_row;
    aq_norm_rows(c->norm, ctx->xn, ctx->x + (size_t)first_row * dim, m->output_norm, m->output_norm_b, rows, c->dim,
                 c->norm_eps);
    aq_activations head = aq_linear_input_at(ctx, -1, AQ_INPUT_QKV, ctx->xn, rows, c->dim);
    aq_linear(ctx, &m->output, &head, ctx->logits);
    ctx->n_logit_rows = logits_all ? n_tokens : 1;
    aq_prune_finish(ctx, n_tokens, n, logits_all);
    return AQ_OK;
}
