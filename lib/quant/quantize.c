/* aq_quantize: turns a loaded full-precision model into a quantized one in
 * memory, a layer at a time, so that only one layer is ever F32: what is
 * outside the layers (embedding, output head) is made F32 and rotated first
 * and the calibration text embedded; then per layer, its weights are
 * dequantized from the file, balanced and rotated (folded into its norms),
 * the calibration activations run through it in FP32 (observing its linear
 * layers' inputs, and becoming the next layer's input), static activation
 * scales and TRIP factors chosen, each weight matrix quantized to INT4 by
 * GPTQ or round-to-nearest and repacked for the chosen kernel, its F32 copy
 * freed and the file's pages of it given back. The activations pass through
 * the FP32 layer, not the quantized one, so every layer is calibrated on the
 * full-precision model's activations, as when the whole model was
 * calibrated in one forward pass (the result is the same bit for bit). The
 * function of the FP32 model is unchanged by the rotations and TRIP; only
 * the rounding changes it. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calibration.h"
#include "context.h"
#include "gptq.h"
#include "quantize.h"
#include "scheme.h"
#include "transforms.h"
#include "trip.h"

#define CALIBRATION_CHUNK 512
#define CALIBRATION_CHUNKS 8
#define CALIBRATION_SAMPLES 1024
#define TRIP_MAX_SHIFT 4

/* ---- mutable copies of the weights (they may live in a read-only mapping) ---- */

/* Every row of w (of llama.cpp's blocks) as floats, into out (rows x cols). */
static void dequantize_rows(const aq_matrix *w, float *out) {
    for (int32_t r = 0; r < w->rows; r++) aq_matrix_row(w, r, out + (size_t)r * (size_t)w->cols);
}

/* An F32 copy of a matrix's weights, made with malloc (*copy) so that it can
 * be freed once the matrix is quantized; a matrix of llama.cpp's formats is
 * dequantized: a model from a Q4_K_M file is quantized by our schemes from
 * what that file holds. Its bias, if any, is copied too, into the model's
 * own memory; an absent matrix (no gate) stays absent. The file's pages of
 * the matrix are given back. */
static bool mutable_matrix(aq_model *m, aq_matrix *w, float **copy) {
    *copy = NULL;
    if (!aq_matrix_present(w)) return true;
    size_t n = (size_t)w->rows * (size_t)w->cols;
    if (w->bias && !(w->bias = aq_model_own_floats(m, w->bias, (size_t)w->rows))) return false;
    float *f = malloc(n * sizeof *f);
    if (!f) return false;
    if (w->format == AQ_WEIGHTS_BLOCKS) {
        dequantize_rows(w, f);
        aq_gguf_release(m->gguf, w->blocks, (size_t)w->rows * w->row_bytes);
        w->format = AQ_WEIGHTS_F32;
        w->blocks = NULL;
        w->block_type = NULL;
        /* The repacked copy of the old blocks goes with them (the matrix may come back as other blocks). */
        aq_model_free_owned(m, w->x8);
        w->x8 = NULL;
        w->x8_rows = 0;
    } else {
        memcpy(f, w->f32, n * sizeof *f);
        aq_gguf_release(m->gguf, w->f32, n * sizeof *f);
    }
    w->f32 = *copy = f;
    return true;
}

/* After quantizing: the copy becomes the model's when it is the matrix's
 * weights (kept F32), else it is freed. After an error the model keeps them
 * all (aq_quantize's caller frees a part-way quantized model). */
static bool settle_matrix(aq_model *m, aq_matrix *w, float *copy, bool failed) {
    if (!copy) return true;
    if (failed || (w->format == AQ_WEIGHTS_F32 && w->f32 == copy)) return aq_model_own(m, copy) != NULL;
    free(copy);
    return true;
}

/* A copy of a vector the model owns (NULL stays NULL). */
static bool mutable_vector(aq_model *m, const float **v, size_t n) {
    if (!*v) return true;
    float *copy = aq_model_own_floats(m, *v, n);
    if (copy) *v = copy;
    return copy != NULL;
}

/* What is outside the layers; copies: token_embd's, output's, position_embd's.
 * Each gets its own copy, so folding the norm into a tied output head unties it. */
static aq_error mutable_outside_layers(aq_model *m, float **copies) {
    size_t dim = (size_t)m->cfg.dim;
    if (!mutable_matrix(m, &m->token_embd, &copies[0]) || !mutable_matrix(m, &m->output, &copies[1]) ||
        !mutable_matrix(m, &m->position_embd, &copies[2]) || !mutable_vector(m, &m->output_norm, dim) ||
        !mutable_vector(m, &m->output_norm_b, dim) || !mutable_vector(m, &m->embd_norm, dim) ||
        !mutable_vector(m, &m->embd_norm_b, dim))
        return AQ_ERR_OUT_OF_MEMORY;
    return AQ_OK;
}

/* copies: one per matrix, in aq_layer_matrices' order. */
static aq_error mutable_layer(aq_model *m, aq_layer *l, float **copies) {
    size_t dim = (size_t)m->cfg.dim;
    aq_matrix *mats[AQ_MATRICES_PER_LAYER];
    aq_layer_matrices(l, mats);
    for (int j = 0; j < AQ_MATRICES_PER_LAYER; j++)
        if (!mutable_matrix(m, mats[j], &copies[j])) return AQ_ERR_OUT_OF_MEMORY;
    if (!mutable_vector(m, &l->attn_norm, dim) || !mutable_vector(m, &l->ffn_norm, dim) ||
        !mutable_vector(m, &l->attn_norm_b, dim) || !mutable_vector(m, &l->ffn_norm_b, dim))
        return AQ_ERR_OUT_OF_MEMORY;
    return AQ_OK;
}

/* A quantized matrix no longer points at its freed F32 copy. */
static void forget_f32(aq_matrix *w) {
    if (w->format != AQ_WEIGHTS_F32) w->f32 = NULL;
}

/* ---- every weight finite ---- */

static bool all_finite(const float *v, size_t n) {
    for (size_t i = 0; v && i < n; i++)
        if (!isfinite(v[i])) return false;
    return true;
}

static bool matrix_finite(const aq_matrix *w) {
    if (!aq_matrix_present(w)) return true;
    if (!all_finite(w->bias, (size_t)w->rows)) return false;
    return w->format != AQ_WEIGHTS_F32 || all_finite(w->f32, (size_t)w->rows * (size_t)w->cols);
}

/* Folding norms, rotations and balancing factors into the weights can
 * overflow (a file's weights may be large and still finite): such a model
 * would compute NaN, and no loader takes back the file it saves. */
static aq_error check_outside_layers(aq_model *m, const char *stage) {
    size_t dim = (size_t)m->cfg.dim;
    const char *what = NULL;
    if (!matrix_finite(&m->token_embd) || !matrix_finite(&m->output) || !matrix_finite(&m->position_embd))
        what = "the embedding or the output head";
    else if (!all_finite(m->output_norm, dim) || !all_finite(m->output_norm_b, dim) || !all_finite(m->embd_norm, dim) ||
             !all_finite(m->embd_norm_b, dim))
        what = "a norm";
    if (!what) return AQ_OK;
    return aq_set_error(m->error, AQ_ERR_NUMERIC, "%s overflowed: %s came out NaN or infinite", stage, what);
}

static aq_error check_layer(aq_model *m, aq_layer *l, const char *stage) {
    size_t dim = (size_t)m->cfg.dim;
    const char *what = NULL;
    aq_matrix *mats[AQ_MATRICES_PER_LAYER];
    aq_layer_matrices(l, mats);
    for (int j = 0; j < AQ_MATRICES_PER_LAYER; j++)
        if (!matrix_finite(mats[j])) what = "a layer's weights";
    if (!all_finite(l->attn_norm, dim) || !all_finite(l->attn_norm_b, dim) || !all_finite(l->ffn_norm, dim) ||
        !all_finite(l->ffn_norm_b, dim))
        what = "a layer's norms";
    if (!what) return AQ_OK;
    return aq_set_error(m->error, AQ_ERR_NUMERIC, "%s overflowed: %s came out NaN or infinite", stage, what);
}

/* ---- calibration, a layer at a time ---- */

/* The calibration text's chunks as the residual stream at the current
 * layer's input: the FP32 model's activations. */
typedef struct calibration_run {
    aq_context *ctx;
    int32_t n_chunks, chunk;
    int32_t widths[AQ_N_LINEAR_INPUTS];
    int32_t sample_every;
    float *x; /* (n_chunks, chunk, dim) */
} calibration_run;

static void calibration_end(calibration_run *run) {
    aq_runtime_context_free(run->ctx);
    free(run->x);
    *run = (calibration_run){0};
}

/* Below about 2^26 multiply-adds a chunk, calibration runs on one thread: a
 * pool hands every linear layer, the attention and the MLP to its threads,
 * which costs microseconds a hand-off on an idle machine and a time slice on
 * a busy one, more than a small model's chunk takes on one core (the
 * roundtrip fuzz harness, on tiny models, spent 84% of its time waiting in
 * the pool). The result is the same on any number of threads. */
static int32_t calibration_threads(const aq_config *c, int32_t chunk, int32_t threads) {
    double q_dim = (double)c->n_heads * c->head_dim, kv_dim = (double)c->n_kv_heads * c->head_dim;
    double per_token = (double)c->n_layers * c->dim * (2.0 * q_dim + 2.0 * kv_dim + 3.0 * c->ffn_dim);
    return per_token * chunk < (double)(1 << 26) ? 1 : threads;
}

/* Tokenizes the text and embeds its chunks (spread over the whole text, each
 * starting with BOS as in evaluation). */
static aq_error calibration_begin(aq_model *m, const char *text, size_t len, calibration_run *run) {
    const aq_config *c = &m->cfg;
    *run = (calibration_run){.widths = {c->dim, c->n_heads * c->head_dim, c->dim, c->ffn_dim}};
    int32_t chunk = c->context_length < CALIBRATION_CHUNK ? c->context_length : CALIBRATION_CHUNK;
    int32_t n_tokens = 0;
    bool add_bos = aq_tokenizer_add_bos(m->tokenizer);
    aq_tokenizer_encode(m->tokenizer, text, len, add_bos, NULL, 0, &n_tokens);
    int32_t n_chunks = n_tokens / chunk < CALIBRATION_CHUNKS ? n_tokens / chunk : CALIBRATION_CHUNKS;
    if (n_chunks < 1)
        return aq_set_error(m->error, AQ_ERR_INVALID_ARGUMENT,
                            "calibration text has %d tokens, fewer than one chunk of %d", n_tokens, chunk);
    int32_t *tokens = malloc((size_t)n_tokens * sizeof *tokens);
    run->ctx = aq_runtime_context_create(m);
    run->x = malloc((size_t)n_chunks * (size_t)chunk * (size_t)c->dim * sizeof *run->x);
    run->n_chunks = n_chunks;
    run->chunk = chunk;
    run->sample_every = n_chunks * chunk / CALIBRATION_SAMPLES;
    aq_error err = AQ_ERR_OUT_OF_MEMORY;
    if (!tokens || !run->ctx || !run->x) goto done;
    aq_runtime_set_threads(run->ctx, calibration_threads(c, chunk, run->ctx->n_threads));
    if ((err = aq_tokenizer_encode(m->tokenizer, text, len, add_bos, tokens, n_tokens, &n_tokens))) goto done;
    int32_t stride = n_tokens / n_chunks;
    for (int32_t i = 0; i < n_chunks && err == AQ_OK; i++) {
        int32_t *chunk_tokens = tokens + (size_t)i * (size_t)stride;
        chunk_tokens[0] = m->bos >= 0 ? m->bos : chunk_tokens[0];
        err = aq_runtime_embed(run->ctx, chunk_tokens, chunk, run->x + (size_t)i * (size_t)chunk * (size_t)c->dim);
    }
done:
    free(tokens);
    if (err) calibration_end(run);
    if (err == AQ_ERR_OUT_OF_MEMORY) aq_set_error(m->error, err, "out of memory while calibrating");
    return err;
}

/* Statistics of one layer's inputs: the observer sees every layer's, keeps layer's. */
typedef struct layer_observer {
    aq_calibration *cal; /* of one layer */
    int32_t layer;
} layer_observer;

static void observe_layer(void *user, int32_t layer, aq_linear_input site, const float *x, int32_t n_tokens,
                          int32_t width) {
    layer_observer *o = user;
    if (layer == o->layer) aq_calibration_observe(o->cal, 0, site, x, n_tokens, width);
}

/* Runs the chunks through layer i (F32), gathering its inputs' statistics
 * into *out (a calibration of one layer). */
static aq_error calibrate_layer(aq_model *m, calibration_run *run, int32_t i, bool hessians, aq_calibration **out) {
    aq_error err = aq_calibration_create(out, 1, run->widths, hessians, CALIBRATION_SAMPLES, run->sample_every);
    layer_observer observer = {.cal = *out, .layer = i};
    run->ctx->observe = observe_layer;
    run->ctx->observe_user = &observer;
    size_t rows = (size_t)run->chunk * (size_t)m->cfg.dim;
    for (int32_t c = 0; c < run->n_chunks && err == AQ_OK; c++)
        err = aq_runtime_forward_layer(run->ctx, i, run->x + (size_t)c * rows, run->chunk);
    run->ctx->observe = NULL;
    run->ctx->observe_user = NULL;
    if (err == AQ_ERR_OUT_OF_MEMORY) aq_set_error(m->error, err, "out of memory while calibrating");
    return err;
}

/* Layer l with its llama.cpp blocks dequantized into F32 copies (*float_layer's
 * matrices point at copies[j]; F32 matrices are shared), the file's blocks left
 * in place for the pass that quantizes: the statistics are the float model's,
 * not those of the file's block products. */
static aq_error float_view(const aq_layer *l, aq_layer *float_layer, float **copies) {
    *float_layer = *l;
    aq_matrix *mats[AQ_MATRICES_PER_LAYER];
    aq_layer_matrices(float_layer, mats);
    for (int j = 0; j < AQ_MATRICES_PER_LAYER; j++) {
        aq_matrix *w = mats[j];
        copies[j] = NULL;
        if (!aq_matrix_present(w) || w->format != AQ_WEIGHTS_BLOCKS) continue;
        if (!(copies[j] = malloc((size_t)w->rows * (size_t)w->cols * sizeof *copies[j]))) return AQ_ERR_OUT_OF_MEMORY;
        dequantize_rows(w, copies[j]);
        *w = (aq_matrix){.rows = w->rows, .cols = w->cols, .format = AQ_WEIGHTS_F32, .f32 = copies[j], .bias = w->bias};
    }
    return AQ_OK;
}

/* SmoothQuant's migration strength: half of each input channel's range (in
 * log scale) moves into the weights. */
#define SMOOTH_ALPHA 0.5

/* The smoothing factors of every layer's two norm outputs and of its down
 * projection's input (at factors + i * (2 dim + ffn): attention's, the MLP's,
 * the down projection's): s_j = rms_j^-alpha, the channel's
 * root mean square over the calibration chunks run through the float model,
 * scaled to a geometric mean of 1 (so the weights' overall size stays), 1 for
 * a channel that is always 0. The model must not be rotated yet: the
 * statistics are of the channels before rotate-online's rotation. */
static aq_error smoothing_factors(aq_model *m, const char *text, size_t len, float **out) {
    const size_t dim = (size_t)m->cfg.dim, per_layer = 2 * dim + (size_t)m->cfg.ffn_dim;
    calibration_run run;
    aq_error err = calibration_begin(m, text, len, &run);
    if (err) return err;
    float *factors = malloc((size_t)m->cfg.n_layers * per_layer * sizeof *factors);
    aq_calibration *cal = NULL;
    err = factors ? AQ_OK : AQ_ERR_OUT_OF_MEMORY;
    for (int32_t i = 0; i < m->cfg.n_layers && err == AQ_OK; i++) {
        aq_layer file_layer = m->layers[i];
        float *copies[AQ_MATRICES_PER_LAYER] = {0};
        err = float_view(&file_layer, &m->layers[i], copies);
        if (err == AQ_OK) err = calibrate_layer(m, &run, i, false, &cal);
        m->layers[i] = file_layer;
        for (int j = 0; j < AQ_MATRICES_PER_LAYER; j++) free(copies[j]);
        if (err) break;
        static const aq_linear_input sites[3] = {AQ_INPUT_QKV, AQ_INPUT_FFN_UP, AQ_INPUT_FFN_DOWN};
        for (int k = 0; k < 3; k++) {
            const aq_input_stats *st = aq_calibration_input(cal, 0, (int32_t)sites[k]);
            float *s = factors + (size_t)i * per_layer + (size_t)k * dim;
            const size_t width = (size_t)st->width;
            double log_sum = 0.0;
            size_t live = 0;
            for (size_t j = 0; j < width; j++) {
                double ms = (double)st->sum_sq[j] / (double)st->n_tokens;
                s[j] = ms > 0.0 && isfinite(ms) ? (float)pow(ms, -SMOOTH_ALPHA / 2.0) : 1.0f;
                if (s[j] != 1.0f) log_sum += log((double)s[j]), live++;
            }
            float mean = live ? (float)exp(log_sum / (double)live) : 1.0f;
            for (size_t j = 0; j < width; j++)
                if (s[j] != 1.0f) s[j] /= mean;
        }
        aq_calibration_free(cal);
        cal = NULL;
    }
    calibration_end(&run);
    if (err) {
        free(factors);
        if (err == AQ_ERR_OUT_OF_MEMORY) aq_set_error(m->error, err, "out of memory while smoothing");
        return err;
    }
    *out = factors;
    return AQ_OK;
}

/* ---- per-layer quantization ---- */

/* Asymmetric min-max scale and zero point over [qmin, qmax], the range
 * widened to hold 0 so that 0 is exact. False for a range wider than a float
 * holds (its scale would be infinite). A range so narrow that its scale is
 * subnormal (zero where denormals are off, as in the pool's tasks) takes
 * scale 1: its values quantize to the zero point. The roundtrip fuzz harness
 * found the latter: activations of at most 7e-45 gave a scale of 0 and a zero
 * point of 0/0, cast to int. */
static bool static_scale(float min, float max, int bits, float *scale, int32_t *zero) {
    float qmin = -(float)(1 << (bits - 1)), qmax = (float)((1 << (bits - 1)) - 1);
    min = min < 0.0f ? min : 0.0f;
    max = max > 0.0f ? max : 0.0f;
    *scale = max > min ? (max - min) / (qmax - qmin) : 1.0f;
    if (!isfinite(*scale)) return false;
    if (*scale < FLT_MIN) *scale = 1.0f;
    float z = qmin - nearbyintf(min / *scale);
    *zero = (int32_t)(z < qmin ? qmin : z > qmax ? qmax : z);
    return true;
}

/* v' = v * factors, elementwise (a norm's weight or bias; NULL stays NULL). */
static void scale_vector(const float *v, const float *factors, int32_t n) {
    for (int32_t j = 0; v && j < n; j++) ((float *)v)[j] *= factors[j];
}

/* W' = W diag(1 / factors): the consumer of an input scaled by the factors. */
static void divide_columns(aq_matrix *w, const float *factors) {
    if (!aq_matrix_present(w)) return;
    float *f = (float *)w->f32;
    size_t cols = (size_t)w->cols;
    for (size_t r = 0; r < (size_t)w->rows; r++)
        for (size_t j = 0; j < cols; j++) f[r * cols + j] = f[r * cols + j] / factors[j];
}

/* H' = F H F for inputs scaled by F = diag(factors). */
static void scale_hessian(float *h, const float *factors, int32_t width) {
    if (!h) return;
    for (int32_t i = 0; i < width; i++)
        for (int32_t j = 0; j <= i; j++) h[(size_t)i * (size_t)width + (size_t)j] *= factors[i] * factors[j];
}

/* TRIP for one input: choose factors, fold them upstream (or keep them for
 * run time) and into the consumers' columns. */
static aq_error apply_trip(aq_model *m, aq_layer *l, int kind, aq_input_stats *s, const aq_act_quant *act) {
    const aq_config *c = &m->cfg;
    float *f = aq_model_own_floats(m, NULL, (size_t)s->width);
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
    case AQ_INPUT_QKV: /* the norm's output times f: its weight and bias */
        scale_vector(l->attn_norm, f, c->dim), scale_vector(l->attn_norm_b, f, c->dim);
        divide_columns(&l->wq, f), divide_columns(&l->wk, f), divide_columns(&l->wv, f);
        break;
    case AQ_INPUT_ATTN_OUT: /* V's output times f: its rows and bias */
        for (int32_t ch = 0; ch < c->n_kv_heads * c->head_dim; ch++) {
            int32_t src = ch / c->head_dim * (c->n_heads / c->n_kv_heads) * c->head_dim + ch % c->head_dim;
            float *row = (float *)l->wv.f32 + (size_t)ch * (size_t)l->wv.cols;
            for (int32_t j = 0; j < l->wv.cols; j++) row[j] *= f[src];
            if (l->wv.bias) ((float *)l->wv.bias)[ch] *= f[src];
        }
        divide_columns(&l->wo, f);
        break;
    case AQ_INPUT_FFN_UP:
        scale_vector(l->ffn_norm, f, c->dim), scale_vector(l->ffn_norm_b, f, c->dim);
        divide_columns(&l->w_gate, f), divide_columns(&l->w_up, f);
        break;
    case AQ_INPUT_FFN_DOWN:
        l->down_input_scale = f;
        divide_columns(&l->w_down, f);
        break;
    }
    scale_hessian(s->hessian, f, s->width);
    for (int32_t j = 0; j < s->width; j++) s->sum_sq[j] *= f[j] * f[j];
    free(kv_channel);
    return AQ_OK;
}

/* u, dead: GPTQ's factor of the input's inverse Hessian, or NULL for round to nearest. importance: the input
 * channels' weights in the scale search (s->weight_search), or NULL for none. */
static aq_error quantize_matrix(aq_model *m, aq_matrix *w, const aq_scheme *s, const float *u, const bool *dead,
                                const float *importance) {
    size_t rows = (size_t)w->rows, k = (size_t)w->cols, q_bytes, scale_bytes, zero_bytes;
    if (!aq_q4w_sizes(rows, k, (size_t)s->group, s->asym, &q_bytes, &scale_bytes, &zero_bytes))
        return aq_set_error(m->error, AQ_ERR_UNSUPPORTED, "a (%zu, %zu) matrix can't be quantized in groups of %d",
                            rows, k, s->group);
    /* One allocation holds the three arrays, owned by the model. */
    uint8_t *buf = (uint8_t *)aq_model_own_floats(m, NULL, (q_bytes + scale_bytes + zero_bytes + 3) / 4 + 1);
    if (!buf) return AQ_ERR_OUT_OF_MEMORY;
    struct aq_q4w q = {.n_rows = rows,
                       .k = k,
                       .group = (size_t)s->group,
                       .scale = (uint16_t *)buf,
                       .q = buf + scale_bytes,
                       .zero = s->asym ? buf + scale_bytes + q_bytes : NULL};
    bool search = s->weight_search && !s->w3, ok = true;
    if (u && s->w3)
        aq_gptq_quantize_w3((float *)w->f32, rows, k, u, dead, (size_t)s->group, &q);
    else if (u && search)
        aq_gptq_quantize_search((float *)w->f32, rows, k, u, dead, (size_t)s->group, s->asym, importance, &q);
    else if (u)
        aq_gptq_quantize((float *)w->f32, rows, k, u, dead, (size_t)s->group, s->asym, &q);
    else if (s->w3)
        ok = aq_q3w_quantize_rtn_ref(w->f32, rows, k, (size_t)s->group, &q);
    else if (search)
        ok = aq_q4w_quantize_search_ref(w->f32, rows, k, (size_t)s->group, s->asym, importance, &q);
    else
        ok = aq_q4w_quantize_rtn_ref(w->f32, rows, k, (size_t)s->group, s->asym, &q);
    if (!ok) return aq_set_error(m->error, AQ_ERR_UNSUPPORTED, "cannot quantize a (%zu, %zu) matrix", rows, k);
    w->q4w = q;
    w->q3w = s->w3;
    w->format = AQ_WEIGHTS_Q4W;
    return AQ_OK;
}

/* Weights read by each input kind. */
static int consumers(aq_layer *l, int kind, aq_matrix **out) {
    switch (kind) {
    case AQ_INPUT_QKV:
        out[0] = &l->wq, out[1] = &l->wk, out[2] = &l->wv;
        return 3;
    case AQ_INPUT_ATTN_OUT:
        out[0] = &l->wo;
        return 1;
    case AQ_INPUT_FFN_UP:
        if (!aq_matrix_present(&l->w_gate)) return out[0] = &l->w_up, 1;
        out[0] = &l->w_gate, out[1] = &l->w_up;
        return 2;
    default:
        out[0] = &l->w_down;
        return 1;
    }
}

/* mix8-N: the n_wide activation groups of input kind whose 4-bit rounding costs the layer's outputs most on the
 * calibration samples go to 8 bits (Atom keeps its outlier channels at 8 bits the same way). An error e in input
 * channel c costs e^2 times the squared norm of column c of the weights that read it: the expected squared output
 * error when the channels' errors are uncorrelated. Ties go to the first group. */
static aq_error choose_wide_groups(aq_model *m, aq_layer *l, int kind, const aq_input_stats *st, int32_t n_wide,
                                   aq_act_quant *act) {
    const size_t width = (size_t)st->width, group = (size_t)act->group, groups = width / group;
    const size_t n = (size_t)st->n_samples;
    aq_matrix *mats[3];
    int n_mats = consumers(l, kind, mats);
    double *col_sq = calloc(width, sizeof *col_sq), *cost = calloc(groups, sizeof *cost);
    float *scale = malloc((n * groups + 1) * sizeof *scale);
    int8_t *q = malloc(n * width + 1);
    int32_t *zero = malloc((n + 1) * sizeof *zero);
    uint8_t *bits = (uint8_t *)aq_model_own_floats(m, NULL, groups / sizeof(float) + 1);
    aq_error err = AQ_ERR_OUT_OF_MEMORY;
    if (!col_sq || !cost || !scale || !q || !zero || !bits) goto done;
    for (int j = 0; j < n_mats; j++)
        for (size_t r = 0; r < (size_t)mats[j]->rows; r++)
            for (size_t c = 0; c < width; c++) {
                double v = mats[j]->f32[r * width + c];
                col_sq[c] += v * v;
            }
    struct aq_qd8 a = {.q = q, .scale = scale, .zero = zero};
    /* aq_quantize_model checked that group divides the width. */
    if (n) aq_qd8_quantize_grouped_ref(st->samples, n, width, width, 4, group, &a);
    for (size_t t = 0; t < n; t++)
        for (size_t c = 0; c < width; c++) {
            double e = (double)st->samples[t * width + c] - (double)scale[t * groups + c / group] * q[t * width + c];
            cost[c / group] += e * e * col_sq[c];
        }
    memset(bits, 4, groups);
    for (int32_t k = 0; k < n_wide && (size_t)k < groups; k++) {
        size_t best = groups;
        for (size_t g = 0; g < groups; g++)
            if (bits[g] == 4 && (best == groups || cost[g] > cost[best])) best = g;
        bits[best] = 8;
    }
    act->group_bits = bits;
    err = AQ_OK;
done:
    free(col_sq);
    free(cost);
    free(scale);
    free(q);
    free(zero);
    if (err == AQ_ERR_OUT_OF_MEMORY) aq_set_error(m->error, err, "out of memory");
    return err;
}

/* cal: layer i's statistics (a calibration of one layer), or NULL. */
static aq_error quantize_layer(aq_model *m, int32_t i, const aq_scheme *s, aq_calibration *cal) {
    aq_layer *l = &m->layers[i];
    /* Every input's scales and TRIP factors come before any weight is
     * quantized: the attention output's factors fold into V's rows, which
     * the QKV input quantizes. */
    for (int kind = 0; kind < AQ_N_LINEAR_INPUTS; kind++) {
        aq_input_stats *stats = cal ? aq_calibration_input(cal, 0, kind) : NULL;
        aq_act_quant *act = &l->act[kind];
        *act = (aq_act_quant){.bits = s->act_bits[kind], .is_static = s->act_static && s->act_bits[kind] > 0};
        if (act->bits && !act->is_static)
            act->group = s->act_group, act->clip = s->act_clip && s->act_group, act->asym = s->act_asym && s->act_group;
        aq_error err;
        if (s->act_wide && act->bits == 4 && act->group && stats &&
            (err = choose_wide_groups(m, l, kind, stats, s->act_wide, act)))
            return err;
        if (act->is_static && !static_scale(stats->min, stats->max, act->bits, &act->scale, &act->zero))
            return aq_set_error(m->error, AQ_ERR_NUMERIC,
                                "calibration overflowed: layer %d's input %d spans more than a float holds", i, kind);
        if (s->trip && act->is_static && (err = apply_trip(m, l, kind, stats, act))) return err;
    }
    for (int kind = 0; kind < AQ_N_LINEAR_INPUTS && s->weights == AQ_WEIGHTS_Q4W; kind++) {
        aq_input_stats *stats = cal ? aq_calibration_input(cal, 0, kind) : NULL;
        aq_error err = AQ_OK;
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
                return aq_set_error(m->error, err, "GPTQ: layer %d's input %d has a singular or non-finite Hessian", i,
                                    kind);
            }
        }
        aq_matrix *mats[3];
        int n = consumers(l, kind, mats);
        const float *importance = s->weight_search == AQ_SEARCH_ACT && stats ? stats->sum_sq : NULL;
        for (int j = 0; j < n && err == AQ_OK; j++) err = quantize_matrix(m, mats[j], s, u, dead, importance);
        free(u);
        free(dead);
        if (err) return err;
    }
    return AQ_OK;
}

/* Our own Q4_0 / Q8_0 quantizers (the q4_0 and q8_0 schemes). */
static aq_error quantize_blocks(aq_model *m, aq_matrix *w, uint32_t type) {
    if (!aq_matrix_present(w)) return AQ_OK;
    size_t n = (size_t)w->rows * (size_t)w->cols;
    if (w->cols % AQ_QK8_0)
        return aq_set_error(m->error, AQ_ERR_UNSUPPORTED, "width %d is not a multiple of 32", w->cols);
    const aq_block_type *bt = aq_block_type_get(type);
    size_t row_bytes = (size_t)w->cols / bt->block_elems * bt->block_bytes;
    void *buf = aq_model_own_floats(m, NULL, (size_t)w->rows * row_bytes / sizeof(float) + 1);
    if (!buf) return AQ_ERR_OUT_OF_MEMORY;
    if (type == AQ_TENSOR_Q4_0)
        aq_q4_0_quantize_ref(w->f32, n, buf);
    else
        aq_q8_0_quantize_ref(w->f32, n, buf);
    /* A block scale above f16's range would be infinite: a file no loader takes (ggml writes it). */
    if (!aq_blocks_finite(bt, buf, n)) {
        float amax = 0.0f;
        for (size_t i = 0; i < n; i++) amax = fmaxf(amax, fabsf(w->f32[i]));
        return aq_set_error(m->error, AQ_ERR_UNSUPPORTED, "a weight of magnitude %g overflows %s's f16 block scale",
                            (double)amax, bt->name);
    }
    w->blocks = buf;
    w->block_type = bt;
    w->row_bytes = row_bytes;
    w->format = AQ_WEIGHTS_BLOCKS;
    return AQ_OK;
}

/* The output head and the embedding table as s->head_type blocks, or with
 * head-int4 the head as INT4 (round to nearest: calibration ran layer by
 * layer and has no statistics of the head's input) and the table as
 * s->head_type. A head tied to the table (a file without output.weight) stays
 * tied when the transforms left the two equal: one table, quantized once,
 * saved once; an INT4 table still gives the embedding its rows. */
static aq_error quantize_head(aq_model *m, const aq_scheme *s, bool tied) {
    if (!s->head_type) return AQ_OK;
    size_t bytes = (size_t)m->output.rows * (size_t)m->output.cols * sizeof(float);
    tied = tied && m->output.format == AQ_WEIGHTS_F32 && m->token_embd.format == AQ_WEIGHTS_F32 && !m->output.bias &&
           m->output.rows == m->token_embd.rows && m->output.cols == m->token_embd.cols &&
           !memcmp(m->output.f32, m->token_embd.f32, bytes);
    aq_scheme head = *s;
    head.w3 = false; /* 3-bit weights keep a 4-bit head */
    aq_error err = s->head_q4w && tied ? quantize_matrix(m, &m->token_embd, &head, NULL, NULL, NULL)
                                       : quantize_blocks(m, &m->token_embd, s->head_type);
    if (err == AQ_OK && tied)
        m->output = m->token_embd;
    else if (err == AQ_OK)
        err = s->head_q4w ? quantize_matrix(m, &m->output, &head, NULL, NULL, NULL)
                          : quantize_blocks(m, &m->output, s->head_type);
    if (err == AQ_OK) err = aq_model_pack_head(m);
    return err;
}

/* Layer i from the file to quantized and packed, through F32. */
static aq_error layer_step(aq_model *m, int32_t i, const aq_scheme *s, const aq_rotation *rotation, const float *smooth,
                           calibration_run *run) {
    aq_layer *l = &m->layers[i];
    float *copies[AQ_MATRICES_PER_LAYER] = {0};
    aq_calibration *cal = NULL;
    aq_error err = mutable_layer(m, l, copies);
    if (err) aq_set_error(m->error, err, "out of memory");
    const size_t dim = (size_t)m->cfg.dim, per_layer = 2 * dim + (size_t)m->cfg.ffn_dim;
    const float *factors = smooth ? smooth + (size_t)i * per_layer : NULL;
    if (err == AQ_OK && smooth && (err = aq_smooth_inputs(m, l, factors, factors + dim, factors + 2 * dim)))
        aq_set_error(m->error, err, "out of memory");
    if (err == AQ_OK && s->balance) aq_balance_mlp(l, m->cfg.family->mlp);
    if (err == AQ_OK && s->balance_vo) aq_balance_attention(l, &m->cfg);
    if (err == AQ_OK && s->rotate && (err = aq_rotate_layer(m, rotation, l)))
        aq_set_error(m->error, err, "out of memory");
    if (err == AQ_OK && (s->rotate || s->balance || s->balance_vo || smooth))
        err = check_layer(m, l, "folding the rotations and the balancing");
    if (err == AQ_OK && run->ctx) err = calibrate_layer(m, run, i, s->gptq, &cal);
    if (err == AQ_OK && (s->weights == AQ_WEIGHTS_Q4W || s->weights == AQ_WEIGHTS_F32)) {
        err = quantize_layer(m, i, s, cal);
    } else if (err == AQ_OK) {
        aq_matrix *mats[AQ_MATRICES_PER_LAYER];
        aq_layer_matrices(l, mats);
        for (int j = 0; j < AQ_MATRICES_PER_LAYER && err == AQ_OK; j++)
            err = quantize_blocks(m, mats[j], s->block_type);
    }
    aq_calibration_free(cal);
    if (err == AQ_OK) err = check_layer(m, l, "quantizing");
    if (err == AQ_OK) err = aq_model_pack_layer(m, i);
    aq_matrix *mats[AQ_MATRICES_PER_LAYER];
    aq_layer_matrices(l, mats);
    for (int j = 0; j < AQ_MATRICES_PER_LAYER; j++) {
        if (!settle_matrix(m, mats[j], copies[j], err != AQ_OK) && err == AQ_OK)
            err = aq_set_error(m->error, AQ_ERR_OUT_OF_MEMORY, "out of memory");
        if (err == AQ_OK) forget_f32(mats[j]);
    }
    return err;
}

aq_error aq_quantize_model(aq_model *m, const char *name, const char *text, size_t len) {
    aq_scheme s;
    char msg[AQ_MESSAGE_CAP];
    aq_error err = aq_scheme_parse(name, &s, msg, sizeof msg);
    if (err) return aq_set_error(m->error, err, "%s", msg);
    if (m->scheme[0]) return aq_set_error(m->error, AQ_ERR_STATE, "the model is already quantized (%s)", m->scheme);
    if (m->n_contexts) return aq_set_error(m->error, AQ_ERR_STATE, "free the model's %d contexts first", m->n_contexts);
    const aq_config *c = &m->cfg;
    if (s.act_group && (c->dim % s.act_group || (c->n_heads * c->head_dim) % s.act_group || c->ffn_dim % s.act_group))
        return aq_set_error(m->error, AQ_ERR_INVALID_ARGUMENT,
                            "activation groups of %d do not divide the model's widths (%d, %d, %d)", (int)s.act_group,
                            (int)c->dim, (int)(c->n_heads * c->head_dim), (int)c->ffn_dim);
    if (aq_scheme_needs_calibration(&s) && (!text || len == 0))
        return aq_set_error(m->error, AQ_ERR_INVALID_ARGUMENT, "scheme %s needs calibration text", name);
    for (int32_t i = 0; i < m->cfg.n_layers; i++) {
        aq_matrix *mats[AQ_MATRICES_PER_LAYER];
        aq_layer_matrices(&m->layers[i], mats);
        for (int j = 0; j < AQ_MATRICES_PER_LAYER; j++)
            if (mats[j]->format == AQ_WEIGHTS_Q4W)
                return aq_set_error(m->error, AQ_ERR_UNSUPPORTED, "the model's weights are INT4 already");
    }
    bool tied = aq_model_head_tied(m);
    aq_matrix *outside[] = {&m->token_embd, &m->output, &m->position_embd};
    float *copies[3] = {0};
    aq_rotation rotation = {0};
    calibration_run run = {0};
    float *smooth = NULL;
    if ((err = mutable_outside_layers(m, copies))) {
        aq_set_error(m->error, err, "out of memory");
        goto done;
    }
    if (s.smooth && (err = smoothing_factors(m, text, len, &smooth))) goto done;
    if (s.rotate && (err = aq_rotate_begin(m, &rotation, s.rotate_blocked, s.rotate_online))) {
        aq_set_error(m->error, err, "out of memory");
        goto done;
    }
    if ((s.rotate || s.balance) && (err = check_outside_layers(m, "folding the rotations and the balancing")))
        goto done;
    if (aq_scheme_needs_calibration(&s) && (err = calibration_begin(m, text, len, &run))) goto done;
    for (int32_t i = 0; i < m->cfg.n_layers && err == AQ_OK; i++) {
        err = layer_step(m, i, &s, &rotation, smooth, &run);
        if (m->progress) m->progress(m->progress_user, (float)(i + 1) / (float)m->cfg.n_layers, "quantizing");
    }
    calibration_end(&run);
    if (err == AQ_OK) err = check_outside_layers(m, "quantizing");
    if (err == AQ_OK) err = quantize_head(m, &s, tied);
done:
    aq_rotation_free(&rotation);
    calibration_end(&run);
    free(smooth);
    for (size_t j = 0; j < 3; j++)
        if (!settle_matrix(m, outside[j], copies[j], err != AQ_OK) && err == AQ_OK)
            err = aq_set_error(m->error, AQ_ERR_OUT_OF_MEMORY, "out of memory");
    for (size_t j = 0; j < 3 && err == AQ_OK; j++) forget_f32(outside[j]);
    if (err) return err;
    snprintf(m->scheme, sizeof m->scheme, "%s", name);
    m->kv_bits = s.kv_bits;
    aq_model_describe_update(m);
    return AQ_OK;
}
