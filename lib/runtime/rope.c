/* Rotary position embedding: pair i of a head turns by pos * inv_freq[i]
 * (load.c: base^(-2i / rope_dims), linear scaling, Llama 3's frequency
 * factors). Two pairings, as llama.cpp's rope: NORM pairs consecutive
 * values (x[2i], x[2i+1]), NEOX pairs the halves (x[i], x[i + rope_dims/2]).
 * Values past rope_dims are left as they are (partial rotary). */
#include "rope.h"

#include <math.h>

static bool has_rope(const aq_model *m) {
    aq_position_kind p = m->cfg.family->positions;
    return p == AQ_POSITIONS_ROPE || p == AQ_POSITIONS_ROPE_NEOX;
}

void aq_rope_tables(aq_context *ctx, int32_t n_tokens) {
    const aq_model *m = ctx->model;
    if (!has_rope(m)) return;
    size_t half = (size_t)m->cfg.rope_dims / 2, stride = (size_t)m->cfg.head_dim;
    for (size_t t = 0; t < (size_t)n_tokens; t++) {
        for (size_t i = 0; i < half; i++) {
            double angle = (double)ctx->pos[t] * (double)m->rope_inv_freq[i];
            ctx->rope[t * stride + i * 2] = (float)cos(angle);
            ctx->rope[t * stride + i * 2 + 1] = (float)sin(angle);
        }
    }
}

/* Pair i of each head: NORM (v[2i], v[2i+1]), NEOX (v[i], v[i + half]). */
static void rotate_heads(float *vec, int32_t n_heads, size_t head_dim, size_t half, bool neox, const float *table) {
    size_t pair_stride = neox ? 1 : 2, partner = neox ? half : 1;
    for (size_t h = 0; h < (size_t)n_heads; h++) {
        float *v = vec + h * head_dim;
        for (size_t i = 0; i < half; i++) {
            float c = table[2 * i], s = table[2 * i + 1];
            float *a = v + i * pair_stride, *b = a + partner;
            float x0 = *a, x1 = *b;
            *a = x0 * c - x1 * s;
            *b = x0 * s + x1 * c;
        }
    }
}

/* Tokens per task of aq_rope_apply: a token's heads are a few microseconds. */
#define ROPE_TOKENS_PER_TASK 8

static void rope_tokens(void *arg, size_t t_begin, size_t n) {
    aq_context *ctx = arg;
    const aq_config *c = &ctx->model->cfg;
    bool neox = c->family->positions == AQ_POSITIONS_ROPE_NEOX;
    size_t hd = (size_t)c->head_dim, half = (size_t)c->rope_dims / 2;
    size_t q_dim = (size_t)c->n_heads * hd, kv_dim = (size_t)c->n_kv_heads * hd;
    for (size_t t = t_begin; t < t_begin + n; t++) {
        const float *table = ctx->rope + t * hd;
        rotate_heads(ctx->q + t * q_dim, c->n_heads, hd, half, neox, table);
        rotate_heads(ctx->k + t * kv_dim, c->n_kv_heads, hd, half, neox, table);
    }
}

/* Tokens are independent: threads split them (done by the caller alone, the
 * rotation of a prompt kept the other threads waiting). */
void aq_rope_apply(aq_context *ctx, int32_t n_tokens) {
    if (!has_rope(ctx->model)) return;
    pthreadpool_parallelize_1d_tile_1d(ctx->pool, rope_tokens, ctx, (size_t)n_tokens, ROPE_TOKENS_PER_TASK,
                                       PTHREADPOOL_FLAG_DISABLE_DENORMALS);
}
