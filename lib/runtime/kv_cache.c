#include "kv_cache.h"

#include <math.h>
#include <string.h>

const float *aq_kv_row(const aq_context *ctx, aq_kv_part part, int32_t layer, int32_t slot, int32_t kv_head,
                       float *scratch) {
    const aq_config *c = &ctx->model->cfg;
    size_t hd = (size_t)c->head_dim;
    size_t row = ((size_t)layer * (size_t)ctx->n_ctx + (size_t)slot) * (size_t)c->n_kv_heads + (size_t)kv_head;
    if (!ctx->kv_int8) return (part == AQ_KV_VALUES ? ctx->v_cache : ctx->k_cache) + row * hd;
    const int8_t *q = (part == AQ_KV_VALUES ? ctx->v_cache_q8 : ctx->k_cache_q8) + row * hd;
    float scale = (part == AQ_KV_VALUES ? ctx->v_scale : ctx->k_scale)[row];
    for (size_t d = 0; d < hd; d++) scratch[d] = scale * (float)q[d];
    return scratch;
}

/* Symmetric INT8 per (token, head) row: scale = max |x| / 127. A row that
 * holds a NaN or an infinity gets a NaN scale and zero codes: it reads back
 * as NaN, as it came, with no float-to-int conversion of a NaN. */
static void quantize_rows(const float *src, size_t rows, size_t hd, int8_t *dst, float *scales) {
    for (size_t r = 0; r < rows; r++) {
        float amax = 0.0f;
        bool finite = true;
        for (size_t d = 0; d < hd; d++) {
            amax = fmaxf(amax, fabsf(src[r * hd + d]));
            finite = finite && isfinite(src[r * hd + d]);
        }
        float scale = finite ? amax / 127.0f : NAN;
        scales[r] = scale;
        for (size_t d = 0; d < hd; d++)
            dst[r * hd + d] = (int8_t)(scale > 0.0f ? nearbyintf(src[r * hd + d] / scale) : 0.0f);
    }
}

void aq_kv_append(aq_context *ctx, int32_t layer, int32_t n_tokens) {
    const aq_config *c = &ctx->model->cfg;
    int32_t slot = ctx->kv_len[layer];
    size_t hd = (size_t)c->head_dim, rows = (size_t)n_tokens * (size_t)c->n_kv_heads;
    size_t first = ((size_t)layer * (size_t)ctx->n_ctx + (size_t)slot) * (size_t)c->n_kv_heads;
    if (ctx->kv_int8) {
        quantize_rows(ctx->k, rows, hd, ctx->k_cache_q8 + first * hd, ctx->k_scale + first);
        quantize_rows(ctx->v, rows, hd, ctx->v_cache_q8 + first * hd, ctx->v_scale + first);
    } else {
        memcpy(ctx->k_cache + first * hd, ctx->k, rows * hd * sizeof(float));
        memcpy(ctx->v_cache + first * hd, ctx->v, rows * hd * sizeof(float));
    }
    memcpy(ctx->kv_pos + (size_t)layer * (size_t)ctx->n_ctx + (size_t)slot, ctx->pos,
           (size_t)n_tokens * sizeof(int32_t));
    ctx->kv_len[layer] += n_tokens;
}

aq_error aq_runtime_kv_truncate(aq_context *ctx, int32_t n) {
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
