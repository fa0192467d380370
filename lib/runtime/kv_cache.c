#include "kv_cache.h"

#include <math.h>
#include <string.h>

const float *aq_kv_row(const aq_context *ctx, aq_kv_part part, int32_t layer, int32_t slot, int32_t kv_head,
                       float *scratch) {
    const aq_config *c = &ctx->model->cfg;
    size_t hd = (size_t)c->head_dim;
    size_t row = ((size_t)layer * (size_t)ctx->n_ctx + (size_t)slot) * (size_t)c->n_kv_heads + (size_t)kv_head;
    bool values = part == AQ_KV_VALUES;
    float scale = ctx->kv_bits == 32 ? 0.0f : (values ? ctx->v_scale : ctx->k_scale)[row];
    if (ctx->kv_bits == 4) {
        aq_kv_dequantize_q4((values ? ctx->v_cache_q4 : ctx->k_cache_q4) + row * AQ_KV_Q4_BYTES(hd), hd, scale,
                            (values ? ctx->v_min : ctx->k_min)[row], scratch);
        return scratch;
    }
    if (ctx->kv_bits == 32) return (values ? ctx->v_cache : ctx->k_cache) + row * hd;
    const int8_t *q = (values ? ctx->v_cache_q8 : ctx->k_cache_q8) + row * hd;
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

void aq_kv_quantize_q4(const float *x, size_t n, uint8_t *codes, float *scale, float *min) {
    float lo = INFINITY, hi = -INFINITY;
    bool finite = true;
    for (size_t d = 0; d < n; d++) {
        lo = fminf(lo, x[d]), hi = fmaxf(hi, x[d]);
        finite = finite && isfinite(x[d]);
    }
    float s = finite ? (hi - lo) / 15.0f : NAN;
    *scale = s;
    *min = finite ? lo : NAN;
    memset(codes, 0, AQ_KV_Q4_BYTES(n));
    if (!(s > 0.0f)) return; /* a constant row is its minimum; a NaN one stays NaN */
    for (size_t d = 0; d < n; d++) {
        float q = nearbyintf((x[d] - lo) / s);
        uint8_t code = (uint8_t)(q < 0.0f ? 0.0f : q > 15.0f ? 15.0f : q);
        codes[d / 2] |= (uint8_t)(code << (4 * (d % 2)));
    }
}

void aq_kv_dequantize_q4(const uint8_t *codes, size_t n, float scale, float min, float *out) {
    for (size_t d = 0; d < n; d++) out[d] = min + scale * (float)((codes[d / 2] >> (4 * (d % 2))) & 15);
}

void aq_kv_append(aq_context *ctx, int32_t layer, int32_t n_tokens) {
    const aq_config *c = &ctx->model->cfg;
    int32_t slot = ctx->kv_len[layer];
    size_t hd = (size_t)c->head_dim, rows = (size_t)n_tokens * (size_t)c->n_kv_heads;
    size_t first = ((size_t)layer * (size_t)ctx->n_ctx + (size_t)slot) * (size_t)c->n_kv_heads;
    if (ctx->kv_bits == 8) {
        quantize_rows(ctx->k, rows, hd, ctx->k_cache_q8 + first * hd, ctx->k_scale + first);
        quantize_rows(ctx->v, rows, hd, ctx->v_cache_q8 + first * hd, ctx->v_scale + first);
    } else if (ctx->kv_bits == 4) {
        size_t bytes = AQ_KV_Q4_BYTES(hd);
        for (size_t r = 0; r < rows; r++) {
            aq_kv_quantize_q4(ctx->k + r * hd, hd, ctx->k_cache_q4 + (first + r) * bytes, ctx->k_scale + first + r,
                              ctx->k_min + first + r);
            aq_kv_quantize_q4(ctx->v + r * hd, hd, ctx->v_cache_q4 + (first + r) * bytes, ctx->v_scale + first + r,
                              ctx->v_min + first + r);
        }
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
