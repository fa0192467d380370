/* aq_quantize: turns a loaded full-precision model into a quantized one in
 * memory. In order: optional Hadamard rotations folded into the weights;
 * calibration (an FP32 forward pass over training text, observing every
 * linear layer's input); per layer, static activation scales and TRIP
 * factors; then each weight matrix to INT4 by GPTQ or round-to-nearest, and
 * repacking for the chosen kernel. The function of the FP32 model is
 * unchanged by the rotations and TRIP; only the rounding changes it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calibration.h"
#include "gptq.h"
#include "hadamard.h"
#include "model.h"
#include "scheme.h"
#include "trip.h"

#define CALIBRATION_CHUNK 512
#define CALIBRATION_CHUNKS 8
#define CALIBRATION_SAMPLES 1024
#define TRIP_MAX_SHIFT 4
#define ROTATION_SEED 0x5EED

/* ---- mutable copies of the weights (they may live in a read-only mapping) ---- */

static float *owned_copy(aq_model *m, const float *src, size_t n) {
    float *dst = malloc(n * sizeof *dst);
    if (!dst) return NULL;
    if (src) memcpy(dst, src, n * sizeof *dst);
    void **grown = realloc(m->owned, (m->n_owned + 1) * sizeof *grown);
    if (!grown) {
        free(dst);
        return NULL;
    }
    m->owned = grown;
    m->owned[m->n_owned++] = dst;
    return dst;
}

static float *mutable_matrix(aq_model *m, aq_matrix *w) {
    float *copy = owned_copy(m, w->f32, (size_t)w->rows * w->cols);
    if (copy) w->f32 = copy;
    return copy;
}

static float *mutable_vector(aq_model *m, const float **v, size_t n) {
    float *copy = owned_copy(m, *v, n);
    if (copy) *v = copy;
    return copy;
}

static void layer_matrices(aq_layer *l, aq_matrix **out) {
    out[0] = &l->wq, out[1] = &l->wk, out[2] = &l->wv, out[3] = &l->wo;
    out[4] = &l->w_gate, out[5] = &l->w_up, out[6] = &l->w_down;
}
#define MATRICES_PER_LAYER 7

static aq_error make_mutable(aq_model *m) {
    const aq_config *c = &m->cfg;
    /* Each gets its own copy, so folding the norm into a tied output head unties it. */
    if (!mutable_matrix(m, &m->token_embd) || !mutable_matrix(m, &m->output) ||
        !mutable_vector(m, &m->output_norm, (size_t)c->dim))
        return AQ_ERR_OUT_OF_MEMORY;
    for (int32_t i = 0; i < c->n_layers; i++) {
        aq_layer *l = &m->layers[i];
        aq_matrix *mats[MATRICES_PER_LAYER];
        layer_matrices(l, mats);
        for (int j = 0; j < MATRICES_PER_LAYER; j++)
            if (!mutable_matrix(m, mats[j])) return AQ_ERR_OUT_OF_MEMORY;
        if (!mutable_vector(m, &l->attn_norm, (size_t)c->dim) || !mutable_vector(m, &l->ffn_norm, (size_t)c->dim))
            return AQ_ERR_OUT_OF_MEMORY;
    }
    return AQ_OK;
}

/* ---- rotations ---- */

static void scale_columns(aq_matrix *w, const float *factors, bool divide) {
    float *f = (float *)w->f32;
    for (int32_t r = 0; r < w->rows; r++)
        for (int32_t j = 0; j < w->cols; j++)
            f[(size_t)r * w->cols + j] = divide ? f[(size_t)r * w->cols + j] / factors[j]
                                                : f[(size_t)r * w->cols + j] * factors[j];
}

/* A matrix that reads the normalized residual: W' = W diag(g) R^T, i.e.
 * each row scaled by g, then rotated. */
static void fold_reader(aq_matrix *w, const float *norm, const float *signs) {
    scale_columns(w, norm, false);
    for (int32_t r = 0; r < w->rows; r++) aq_hadamard_rotate((float *)w->f32 + (size_t)r * w->cols, (size_t)w->cols, signs);
}

/* A matrix that writes the residual: W' = R W, each column rotated. */
static void fold_writer(aq_matrix *w, const float *signs, float *scratch) {
    for (int32_t j = 0; j < w->cols; j++)
        aq_hadamard_rotate_strided((float *)w->f32 + j, (size_t)w->rows, (size_t)w->cols, signs, scratch);
}

static void set_ones(const float *v, size_t n) {
    for (size_t i = 0; i < n; i++) ((float *)v)[i] = 1.0f;
}

static aq_error rotate(aq_model *m) {
    const aq_config *c = &m->cfg;
    size_t dim = (size_t)c->dim, hd = (size_t)c->head_dim, ffn = (size_t)c->ffn_dim;
    size_t widest = dim > ffn ? dim : ffn;
    float *residual = malloc(dim * sizeof(float)), *head = malloc(hd * sizeof(float));
    float *scratch = malloc(widest * sizeof(float));
    float *down = owned_copy(m, NULL, ffn);
    if (!residual || !head || !scratch || !down) {
        free(residual);
        free(head);
        free(scratch);
        return AQ_ERR_OUT_OF_MEMORY;
    }
    aq_random_signs(residual, dim, ROTATION_SEED);
    aq_random_signs(head, hd, ROTATION_SEED + 1);
    aq_random_signs(down, ffn, ROTATION_SEED + 2);
    for (int32_t r = 0; r < c->vocab_size; r++) aq_hadamard_rotate((float *)m->token_embd.f32 + (size_t)r * dim, dim, residual);
    fold_reader(&m->output, m->output_norm, residual);
    set_ones(m->output_norm, dim);
    for (int32_t i = 0; i < c->n_layers; i++) {
        aq_layer *l = &m->layers[i];
        fold_reader(&l->wq, l->attn_norm, residual);
        fold_reader(&l->wk, l->attn_norm, residual);
        fold_reader(&l->wv, l->attn_norm, residual);
        set_ones(l->attn_norm, dim);
        fold_reader(&l->w_gate, l->ffn_norm, residual);
        fold_reader(&l->w_up, l->ffn_norm, residual);
        set_ones(l->ffn_norm, dim);
        /* Per head, V's output and the output projection's input by R2:
         * V' = R2 V (columns of each head's rows), Wo' = Wo R2^T (each head's segment of each row). */
        for (int32_t h = 0; h < c->n_kv_heads; h++)
            for (int32_t j = 0; j < l->wv.cols; j++)
                aq_hadamard_rotate_strided((float *)l->wv.f32 + (size_t)h * hd * l->wv.cols + j, hd,
                                           (size_t)l->wv.cols, head, scratch);
        for (int32_t r = 0; r < l->wo.rows; r++)
            for (int32_t h = 0; h < c->n_heads; h++)
                aq_hadamard_rotate((float *)l->wo.f32 + (size_t)r * l->wo.cols + (size_t)h * hd, hd, head);
        fold_writer(&l->wo, residual, scratch);
        /* The down projection's input is rotated online (it follows SwiGLU,
         * which no rotation passes through): Wd' = Wd R3^T, each row rotated. */
        for (int32_t r = 0; r < l->w_down.rows; r++)
            aq_hadamard_rotate((float *)l->w_down.f32 + (size_t)r * ffn, ffn, down);
        fold_writer(&l->w_down, residual, scratch);
    }
    m->down_rotation_signs = down;
    free(residual);
    free(head);
    free(scratch);
    return AQ_OK;
}

/* Cross-layer equalization of the MLP (Nagel et al., data-free quantization):
 * the down projection's input is silu(gate x) * (up x), linear in each row
 * of up, so dividing up's row j by s_j and multiplying down's column j by
 * s_j leaves the function unchanged. s_j = sqrt(max|up_j| / max|down_:,j|)
 * gives both the same range, which takes a channel that carries a large
 * activation (a big up row, a small down column) back to the size of the
 * others before rotation and 4-bit quantization see it. */
static void balance_mlp(aq_layer *l) {
    float *up = (float *)l->w_up.f32, *down = (float *)l->w_down.f32;
    int32_t ffn = l->w_up.rows, dim = l->w_up.cols;
    for (int32_t j = 0; j < ffn; j++) {
        float up_max = 0.0f, down_max = 0.0f;
        for (int32_t c = 0; c < dim; c++) up_max = fmaxf(up_max, fabsf(up[(size_t)j * dim + c]));
        for (int32_t r = 0; r < l->w_down.rows; r++) down_max = fmaxf(down_max, fabsf(down[(size_t)r * ffn + j]));
        if (!(up_max > 0.0f) || !(down_max > 0.0f) || !isfinite(up_max) || !isfinite(down_max)) continue;
        float s = sqrtf(up_max / down_max);
        for (int32_t c = 0; c < dim; c++) up[(size_t)j * dim + c] /= s;
        for (int32_t r = 0; r < l->w_down.rows; r++) down[(size_t)r * ffn + j] *= s;
    }
}

/* ---- calibration ---- */

static aq_error calibrate(aq_model *m, const char *text, size_t len, bool hessians, aq_calibration **out) {
    const aq_config *c = &m->cfg;
    int32_t widths[AQ_N_LINEAR_INPUTS] = {c->dim, c->n_heads * c->head_dim, c->dim, c->ffn_dim};
    int32_t chunk = c->context_length < CALIBRATION_CHUNK ? c->context_length : CALIBRATION_CHUNK;
    int32_t n_tokens = 0;
    aq_tokenizer_encode(m->tokenizer, text, len, true, NULL, 0, &n_tokens);
    int32_t n_chunks = n_tokens / chunk < CALIBRATION_CHUNKS ? n_tokens / chunk : CALIBRATION_CHUNKS;
    if (n_chunks < 1)
        return aq_set_error(m->error, AQ_ERR_INVALID_ARGUMENT, "calibration text has %d tokens, fewer than one chunk of %d",
                            n_tokens, chunk);
    int32_t *tokens = malloc((size_t)n_tokens * sizeof *tokens);
    aq_context *ctx = aq_context_create(m);
    aq_error err = AQ_ERR_OUT_OF_MEMORY;
    if (!tokens || !ctx) goto done;
    if ((err = aq_tokenizer_encode(m->tokenizer, text, len, true, tokens, n_tokens, &n_tokens))) goto done;
    int32_t sample_every = n_chunks * chunk / CALIBRATION_SAMPLES;
    if ((err = aq_calibration_create(out, c->n_layers, widths, hessians, CALIBRATION_SAMPLES, sample_every))) goto done;
    ctx->calibration = *out;
    /* Chunks spread over the whole text, each starting with BOS as in evaluation. */
    int32_t stride = n_tokens / n_chunks;
    for (int32_t i = 0; i < n_chunks && err == AQ_OK; i++) {
        int32_t *chunk_tokens = tokens + (size_t)i * stride;
        chunk_tokens[0] = m->bos >= 0 ? m->bos : chunk_tokens[0];
        aq_kv_truncate(ctx, 0);
        err = aq_forward_batch(ctx, chunk_tokens, NULL, chunk, false);
        if (m->progress) m->progress(m->progress_user, 0.5f * (float)(i + 1) / (float)n_chunks, "calibrating");
    }
done:
    aq_context_free(ctx);
    free(tokens);
    if (err == AQ_ERR_OUT_OF_MEMORY) aq_set_error(m->error, err, "out of memory while calibrating");
    return err;
}

/* ---- per-layer quantization ---- */

/* Asymmetric min-max scale and zero point over [qmin, qmax], the range
 * widened to hold 0 so that 0 is exact. */
static void static_scale(float min, float max, int bits, float *scale, int32_t *zero) {
    float qmin = -(float)(1 << (bits - 1)), qmax = (float)((1 << (bits - 1)) - 1);
    min = min < 0.0f ? min : 0.0f;
    max = max > 0.0f ? max : 0.0f;
    *scale = max > min ? (max - min) / (qmax - qmin) : 1.0f;
    float z = qmin - nearbyintf(min / *scale);
    *zero = (int32_t)(z < qmin ? qmin : z > qmax ? qmax : z);
}

/* H' = F H F for inputs scaled by F = diag(factors). */
static void scale_hessian(float *h, const float *factors, int32_t width) {
    if (!h) return;
    for (int32_t i = 0; i < width; i++)
        for (int32_t j = 0; j <= i; j++) h[(size_t)i * width + j] *= factors[i] * factors[j];
}

/* TRIP for one input: choose factors, fold them upstream (or keep them for
 * run time) and into the consumers' columns. */
static aq_error apply_trip(aq_model *m, aq_layer *l, int kind, aq_input_stats *s, const aq_act_quant *act) {
    const aq_config *c = &m->cfg;
    float *f = owned_copy(m, NULL, (size_t)s->width);
    int32_t *kv_channel = NULL;
    if (!f) return AQ_ERR_OUT_OF_MEMORY;
    if (kind == AQ_INPUT_ATTN_OUT) { /* query heads sharing a V head share its factors */
        kv_channel = malloc((size_t)s->width * sizeof *kv_channel);
        if (!kv_channel) return AQ_ERR_OUT_OF_MEMORY;
        int32_t rep = c->n_heads / c->n_kv_heads;
        for (int32_t ch = 0; ch < s->width; ch++)
            kv_channel[ch] = (ch / c->head_dim / rep) * c->head_dim + ch % c->head_dim;
    }
    aq_trip_choose(s->samples, s->n_samples, s->width, act->scale, act->zero, act->bits, TRIP_MAX_SHIFT, kv_channel,
                   c->n_kv_heads * c->head_dim, f);
    switch (kind) {
    case AQ_INPUT_QKV:
        for (int32_t j = 0; j < c->dim; j++) ((float *)l->attn_norm)[j] *= f[j];
        scale_columns(&l->wq, f, true), scale_columns(&l->wk, f, true), scale_columns(&l->wv, f, true);
        break;
    case AQ_INPUT_ATTN_OUT:
        for (int32_t ch = 0; ch < c->n_kv_heads * c->head_dim; ch++) {
            int32_t src = ch / c->head_dim * (c->n_heads / c->n_kv_heads) * c->head_dim + ch % c->head_dim;
            float *row = (float *)l->wv.f32 + (size_t)ch * l->wv.cols;
            for (int32_t j = 0; j < l->wv.cols; j++) row[j] *= f[src];
        }
        scale_columns(&l->wo, f, true);
        break;
    case AQ_INPUT_FFN_UP:
        for (int32_t j = 0; j < c->dim; j++) ((float *)l->ffn_norm)[j] *= f[j];
        scale_columns(&l->w_gate, f, true), scale_columns(&l->w_up, f, true);
        break;
    case AQ_INPUT_FFN_DOWN:
        l->down_input_scale = f;
        scale_columns(&l->w_down, f, true);
        break;
    }
    scale_hessian(s->hessian, f, s->width);
    free(kv_channel);
    return AQ_OK;
}

/* u, dead: GPTQ's factor of the input's inverse Hessian, or NULL for round to nearest. */
static aq_error quantize_matrix(aq_model *m, aq_matrix *w, const aq_scheme *s, const float *u, const bool *dead) {
    size_t rows = (size_t)w->rows, k = (size_t)w->cols, q_bytes, scale_bytes, zero_bytes;
    if (!aq_q4w_sizes(rows, k, (size_t)s->group, s->asym, &q_bytes, &scale_bytes, &zero_bytes))
        return aq_set_error(m->error, AQ_ERR_UNSUPPORTED, "a (%zu, %zu) matrix can't be quantized in groups of %d",
                            rows, k, s->group);
    /* One allocation holds the three arrays, owned by the model. */
    uint8_t *buf = (uint8_t *)owned_copy(m, NULL, (q_bytes + scale_bytes + zero_bytes + 3) / 4 + 1);
    if (!buf) return AQ_ERR_OUT_OF_MEMORY;
    struct aq_q4w q = {.n_rows = rows, .k = k, .group = (size_t)s->group, .scale = (uint16_t *)buf,
                       .q = buf + scale_bytes, .zero = s->asym ? buf + scale_bytes + q_bytes : NULL};
    if (u)
        aq_gptq_quantize((float *)w->f32, rows, k, u, dead, (size_t)s->group, s->asym, &q);
    else if (!aq_q4w_quantize_rtn_ref(w->f32, rows, k, (size_t)s->group, s->asym, &q))
        return aq_set_error(m->error, AQ_ERR_UNSUPPORTED, "cannot quantize a (%zu, %zu) matrix", rows, k);
    w->q4w = q;
    w->format = AQ_WEIGHTS_Q4W;
    return AQ_OK;
}

/* Weights read by each input kind. */
static int consumers(aq_layer *l, int kind, aq_matrix **out) {
    switch (kind) {
    case AQ_INPUT_QKV: out[0] = &l->wq, out[1] = &l->wk, out[2] = &l->wv; return 3;
    case AQ_INPUT_ATTN_OUT: out[0] = &l->wo; return 1;
    case AQ_INPUT_FFN_UP: out[0] = &l->w_gate, out[1] = &l->w_up; return 2;
    default: out[0] = &l->w_down; return 1;
    }
}

static aq_error quantize_layer(aq_model *m, int32_t i, const aq_scheme *s, aq_calibration *cal) {
    aq_layer *l = &m->layers[i];
    for (int kind = 0; kind < AQ_N_LINEAR_INPUTS; kind++) {
        aq_input_stats *stats = cal ? aq_calibration_input(cal, i, kind) : NULL;
        aq_act_quant *act = &l->act[kind];
        *act = (aq_act_quant){.bits = s->act_bits[kind], .is_static = s->act_static && s->act_bits[kind] > 0};
        if (act->is_static) static_scale(stats->min, stats->max, act->bits, &act->scale, &act->zero);
        aq_error err;
        if (s->trip && act->is_static && (err = apply_trip(m, l, kind, stats, act))) return err;
        if (s->weights != AQ_WEIGHTS_Q4W) continue;
        float *u = NULL;
        bool *dead = NULL;
        if (s->gptq && stats) {
            size_t width = (size_t)stats->width;
            u = malloc(width * width * sizeof *u);
            dead = malloc(width * sizeof *dead);
            err = u && dead ? aq_gptq_prepare(stats->hessian, width, u, dead) : AQ_ERR_OUT_OF_MEMORY;
            if (err) {
                free(u);
                free(dead);
                return aq_set_error(m->error, err, "GPTQ: layer %d's input %d has a singular or non-finite Hessian", i, kind);
            }
        }
        aq_matrix *mats[3];
        int n = consumers(l, kind, mats);
        for (int j = 0; j < n && err == AQ_OK; j++) err = quantize_matrix(m, mats[j], s, u, dead);
        free(u);
        free(dead);
        if (err) return err;
    }
    return AQ_OK;
}

static aq_error quantize_blocks(aq_model *m, aq_matrix *w, aq_weight_format format) {
    size_t n = (size_t)w->rows * w->cols, blocks = n / AQ_QK8_0;
    if (w->cols % AQ_QK8_0) return aq_set_error(m->error, AQ_ERR_UNSUPPORTED, "width %d is not a multiple of 32", w->cols);
    size_t bytes = blocks * (format == AQ_WEIGHTS_Q4_0 ? sizeof(block_q4_0) : sizeof(block_q8_0));
    void *buf = owned_copy(m, NULL, bytes / sizeof(float) + 1);
    if (!buf) return AQ_ERR_OUT_OF_MEMORY;
    if (format == AQ_WEIGHTS_Q4_0) aq_q4_0_quantize_ref(w->f32, n, buf);
    else aq_q8_0_quantize_ref(w->f32, n, buf);
    w->blocks = buf;
    w->format = format;
    return AQ_OK;
}

static aq_error pack_for_kernels(aq_model *m) {
    const aq_qc4w_gemm_kernel *kern = &m->kernels.qc4w_gemm;
    if (!kern->packed_size) return AQ_OK;
    for (int32_t i = 0; i < m->cfg.n_layers; i++) {
        aq_matrix *mats[MATRICES_PER_LAYER];
        layer_matrices(&m->layers[i], mats);
        for (int j = 0; j < MATRICES_PER_LAYER; j++) {
            if (mats[j]->format != AQ_WEIGHTS_Q4W) continue;
            void *packed = owned_copy(m, NULL, kern->packed_size(&mats[j]->q4w) / sizeof(float) + 16);
            if (!packed) return AQ_ERR_OUT_OF_MEMORY;
            kern->pack(&mats[j]->q4w, packed);
            mats[j]->packed = packed;
        }
    }
    return AQ_OK;
}

aq_error aq_model_pack(aq_model *m) { return pack_for_kernels(m); }

aq_error aq_quantize_model(aq_model *m, const char *name, const char *text, size_t len) {
    aq_scheme s;
    char msg[AQ_MESSAGE_CAP];
    aq_error err = aq_scheme_parse(name, &s, msg, sizeof msg);
    if (err) return aq_set_error(m->error, err, "%s", msg);
    if (m->scheme[0]) return aq_set_error(m->error, AQ_ERR_STATE, "the model is already quantized (%s)", m->scheme);
    if (m->n_contexts) return aq_set_error(m->error, AQ_ERR_STATE, "free the model's %d contexts first", m->n_contexts);
    if (aq_scheme_needs_calibration(&s) && (!text || len == 0))
        return aq_set_error(m->error, AQ_ERR_INVALID_ARGUMENT, "scheme %s needs calibration text", name);
    for (int32_t i = 0; i < m->cfg.n_layers; i++) {
        aq_matrix *mats[MATRICES_PER_LAYER];
        layer_matrices(&m->layers[i], mats);
        for (int j = 0; j < MATRICES_PER_LAYER; j++)
            if (mats[j]->format != AQ_WEIGHTS_F32)
                return aq_set_error(m->error, AQ_ERR_UNSUPPORTED, "only full-precision weights can be quantized");
    }
    if ((err = make_mutable(m))) return aq_set_error(m->error, err, "out of memory");
    for (int32_t i = 0; s.balance && i < m->cfg.n_layers; i++) balance_mlp(&m->layers[i]);
    if (s.rotate && (err = rotate(m))) return aq_set_error(m->error, err, "out of memory");
    aq_calibration *cal = NULL;
    if (aq_scheme_needs_calibration(&s) && (err = calibrate(m, text, len, s.gptq, &cal))) return err;
    for (int32_t i = 0; i < m->cfg.n_layers && err == AQ_OK; i++) {
        if (s.weights == AQ_WEIGHTS_Q4W || s.weights == AQ_WEIGHTS_F32) {
            err = quantize_layer(m, i, &s, cal);
        } else {
            aq_matrix *mats[MATRICES_PER_LAYER];
            layer_matrices(&m->layers[i], mats);
            for (int j = 0; j < MATRICES_PER_LAYER && err == AQ_OK; j++) err = quantize_blocks(m, mats[j], s.weights);
        }
        if (m->progress) m->progress(m->progress_user, 0.5f + 0.5f * (float)(i + 1) / (float)m->cfg.n_layers, "quantizing");
    }
    aq_calibration_free(cal);
    if (err == AQ_OK) err = pack_for_kernels(m);
    if (err) return err;
    snprintf(m->scheme, sizeof m->scheme, "%s", name);
    aq_model_describe_update(m);
    return AQ_OK;
}
