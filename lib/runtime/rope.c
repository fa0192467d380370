/* Consecutive pairs (x[2i], x[2i+1]) rotate by pos * theta^(-2i / head_dim). */
#include "rope.h"

#include <math.h>

void aq_rope_tables(aq_context *ctx, int32_t n_tokens) {
    const aq_model *m = ctx->model;
    size_t half = (size_t)m->cfg.head_dim / 2;
    for (size_t t = 0; t < (size_t)n_tokens; t++) {
        for (size_t i = 0; i < half; i++) {
            double angle = (double)ctx->pos[t] * (double)m->rope_inv_freq[i];
            ctx->rope[(t * half + i) * 2] = (float)cos(angle);
            ctx->rope[(t * half + i) * 2 + 1] = (float)sin(angle);
        }
    }
}

static void rotate_heads(float *vec, int32_t n_heads, size_t head_dim, const float *table) {
    for (size_t h = 0; h < (size_t)n_heads; h++) {
        float *v = vec + h * head_dim;
        for (size_t i = 0; i < head_dim / 2; i++) {
            float c = table[2 * i], s = table[2 * i + 1];
            float x0 = v[2 * i], x1 = v[2 * i + 1];
            v[2 * i] = x0 * c - x1 * s;
            v[2 * i + 1] = x0 * s + x1 * c;
        }
    }
}

void aq_rope_apply(aq_context *ctx, int32_t n_tokens) {
    const aq_config *c = &ctx->model->cfg;
    size_t hd = (size_t)c->head_dim;
    size_t q_dim = (size_t)c->n_heads * hd, kv_dim = (size_t)c->n_kv_heads * hd;
    for (size_t t = 0; t < (size_t)n_tokens; t++) {
        const float *table = ctx->rope + t * hd;
        rotate_heads(ctx->q + t * q_dim, c->n_heads, hd, table);
        rotate_heads(ctx->k + t * kv_dim, c->n_kv_heads, hd, table);
    }
}
