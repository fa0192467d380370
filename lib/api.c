/* The public API, the only file that defines exported functions: argument
 * checks, handles and parameters, then a call into the layer that does the
 * work (model/ loads and saves, quant/ quantizes, runtime/ runs). */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "context.h"
#include "model.h"
#include "quantize.h"

#define AQ_STRINGIFY2(x) #x
#define AQ_STRINGIFY(x) AQ_STRINGIFY2(x)

unsigned aq_version_number(void) { return AQ_VERSION_NUMBER; }

const char *aq_version_string(void) {
    return AQ_STRINGIFY(AQ_VERSION_MAJOR) "." AQ_STRINGIFY(AQ_VERSION_MINOR) "." AQ_STRINGIFY(AQ_VERSION_RELEASE);
}

const char *aq_error_name(aq_error err) {
    static const char *const names[] = {
        "AQ_OK",
        "AQ_ERR_INVALID_ARGUMENT",
        "AQ_ERR_OUT_OF_RANGE",
        "AQ_ERR_IO",
        "AQ_ERR_FORMAT",
        "AQ_ERR_UNSUPPORTED",
        "AQ_ERR_OUT_OF_MEMORY",
        "AQ_ERR_STATE",
        "AQ_ERR_BUFFER_TOO_SMALL",
        "AQ_ERR_CONTEXT_FULL",
        "AQ_ERR_THREADS",
        "AQ_ERR_NUMERIC",
    };
    if ((unsigned)err >= sizeof names / sizeof names[0]) return "AQ_ERR_UNKNOWN";
    return names[err];
}

/* ---- model ---- */

aq_model *aq_model_create(void) { return calloc(1, sizeof(aq_model)); }

void aq_model_free(aq_model *model) {
    if (!model) return;
    /* With contexts alive, the last aq_context_free frees the model (runtime/context.c). */
    if (atomic_fetch_or(&model->n_contexts, AQ_MODEL_FREED) == 0) aq_model_destroy(model);
}

const char *aq_model_error_message(const aq_model *model) { return model ? model->error : "model is NULL"; }

static aq_error finish_load(aq_model *model, aq_error err, const char *msg) {
    if (err != AQ_OK) return aq_set_error(model->error, err, "%s", msg);
    err = aq_model_load_gguf(model);
    if (err != AQ_OK) {
        aq_model_clear(model); /* keeps the message; the handle can be loaded again */
        return err;
    }
    model->loaded = true;
    model->error[0] = '\0';
    return AQ_OK;
}

aq_error aq_model_load_file(aq_model *model, const char *path) {
    if (!model) return AQ_ERR_INVALID_ARGUMENT;
    if (!path) return aq_set_error(model->error, AQ_ERR_INVALID_ARGUMENT, "path is NULL");
    if (model->loaded) return aq_set_error(model->error, AQ_ERR_STATE, "the model is already loaded");
    char msg[AQ_MESSAGE_CAP] = "";
    aq_error err = aq_gguf_open_file(path, &model->gguf, msg, sizeof msg);
    return finish_load(model, err, msg);
}

aq_error aq_model_load_memory(aq_model *model, const void *data, size_t size) {
    if (!model) return AQ_ERR_INVALID_ARGUMENT;
    if (!data || size == 0) return aq_set_error(model->error, AQ_ERR_INVALID_ARGUMENT, "buffer is NULL or empty");
    if (model->loaded) return aq_set_error(model->error, AQ_ERR_STATE, "the model is already loaded");
    char msg[AQ_MESSAGE_CAP] = "";
    aq_error err = aq_gguf_open_memory(data, size, &model->gguf, msg, sizeof msg);
    return finish_load(model, err, msg);
}

aq_error aq_model_set_kernels(aq_model *model, const char *name) {
    if (!model) return AQ_ERR_INVALID_ARGUMENT;
    if (model->loaded) return aq_set_error(model->error, AQ_ERR_STATE, "set the kernels before loading");
    if (name && strlen(name) >= sizeof model->kernels_override)
        return aq_set_error(model->error, AQ_ERR_INVALID_ARGUMENT, "kernel name too long");
    snprintf(model->kernels_override, sizeof model->kernels_override, "%s", name ? name : "");
    return AQ_OK;
}

const char *aq_model_kernels(const aq_model *model) {
    if (!model) return "model is NULL";
    return model->loaded ? model->kernels.name : "not loaded";
}

aq_error aq_model_set_progress(aq_model *model, aq_progress_fn fn, void *user) {
    if (!model) return AQ_ERR_INVALID_ARGUMENT;
    model->progress = fn;
    model->progress_user = user;
    return AQ_OK;
}

aq_error aq_quantize(aq_model *model, const char *scheme, const char *calibration_text, size_t length) {
    if (!model) return AQ_ERR_INVALID_ARGUMENT;
    if (!scheme) return aq_set_error(model->error, AQ_ERR_INVALID_ARGUMENT, "scheme is NULL");
    if (!model->loaded) return aq_set_error(model->error, AQ_ERR_STATE, "load a model before quantizing it");
    return aq_quantize_model(model, scheme, calibration_text, calibration_text ? length : 0);
}

const char *aq_model_scheme(const aq_model *model) { return model ? model->scheme : ""; }

aq_error aq_model_save(aq_model *model, const char *path) {
    if (!model) return AQ_ERR_INVALID_ARGUMENT;
    if (!path) return aq_set_error(model->error, AQ_ERR_INVALID_ARGUMENT, "path is NULL");
    if (!model->loaded) return aq_set_error(model->error, AQ_ERR_STATE, "nothing to save: the model is not loaded");
    return aq_model_save_gguf(model, path, model->error);
}

static int64_t matrix_params(const aq_matrix *w) { return (int64_t)w->rows * w->cols; }

static int64_t matrix_bytes(const aq_model *m, const aq_matrix *w) {
    return aq_matrix_bytes(w, m->kernels.qc4w_gemm.packed_size);
}

aq_error aq_model_get_info(const aq_model *model, aq_model_info what, int64_t *value) {
    if (!model || !value) return AQ_ERR_INVALID_ARGUMENT;
    if (!model->loaded) return AQ_ERR_STATE;
    const aq_config *c = &model->cfg;
    bool tied = aq_model_head_tied(model);
    /* norms and biases; the embedding tables are only indexed, one row a token */
    int64_t vectors = aq_model_vector_floats(model);
    int64_t params = matrix_params(&model->token_embd) + matrix_params(&model->position_embd) + vectors;
    int64_t bytes = matrix_bytes(model, &model->output) + vectors * 4;
    if (!tied) params += matrix_params(&model->output);
    for (int32_t i = 0; i < c->n_layers; i++) {
        const aq_layer *l = &model->layers[i];
        const aq_matrix *mats[] = {&l->wq, &l->wk, &l->wv, &l->wo, &l->w_gate, &l->w_up, &l->w_down};
        for (size_t j = 0; j < sizeof mats / sizeof mats[0]; j++) {
            params += matrix_params(mats[j]);
            bytes += matrix_bytes(model, mats[j]);
        }
    }
    switch (what) {
    case AQ_INFO_VOCAB_SIZE:
        *value = c->vocab_size;
        break;
    case AQ_INFO_CONTEXT_LENGTH:
        *value = c->context_length;
        break;
    case AQ_INFO_EMBEDDING_LENGTH:
        *value = c->dim;
        break;
    case AQ_INFO_LAYER_COUNT:
        *value = c->n_layers;
        break;
    case AQ_INFO_HEAD_COUNT:
        *value = c->n_heads;
        break;
    case AQ_INFO_HEAD_COUNT_KV:
        *value = c->n_kv_heads;
        break;
    case AQ_INFO_FEED_FORWARD_LENGTH:
        *value = c->ffn_dim;
        break;
    case AQ_INFO_BOS_TOKEN:
        *value = model->bos;
        break;
    case AQ_INFO_EOS_TOKEN:
        *value = model->eos;
        break;
    case AQ_INFO_ADD_BOS:
        *value = aq_tokenizer_add_bos(model->tokenizer);
        break;
    case AQ_INFO_EOT_TOKEN:
        *value = aq_model_eot_token(model);
        break;
    case AQ_INFO_PARAMETER_COUNT:
        *value = params;
        break;
    case AQ_INFO_WEIGHT_BYTES:
        *value = bytes;
        break; /* the embedding table is only indexed, one row a token */
    default:
        return AQ_ERR_OUT_OF_RANGE;
    }
    return AQ_OK;
}

const char *aq_model_describe(const aq_model *model) {
    if (!model) return "model is NULL";
    return model->loaded ? model->description : "not loaded";
}

/* ---- tokenizer ---- */

aq_error aq_tokenize(const aq_model *model, const char *text, size_t len, int add_bos, int32_t *tokens,
                     int32_t capacity, int32_t *n_tokens) {
    if (!model || (!text && len > 0) || !n_tokens || capacity < 0 || (!tokens && capacity > 0))
        return AQ_ERR_INVALID_ARGUMENT;
    if (!model->loaded) return AQ_ERR_STATE;
    return aq_tokenizer_encode(model->tokenizer, text ? text : "", len, add_bos != 0, tokens, capacity, n_tokens);
}

aq_error aq_token_to_piece(const aq_model *model, int32_t token, char *buf, size_t capacity, size_t *length) {
    if (!model || !length || (!buf && capacity > 0)) return AQ_ERR_INVALID_ARGUMENT;
    if (!model->loaded) return AQ_ERR_STATE;
    return aq_tokenizer_piece(model->tokenizer, token, buf, capacity, length);
}

aq_error aq_detokenize(const aq_model *model, const int32_t *tokens, int32_t n_tokens, char *buf, size_t capacity,
                       size_t *length) {
    if (!model || !length || n_tokens < 0 || (!tokens && n_tokens > 0) || (!buf && capacity > 0))
        return AQ_ERR_INVALID_ARGUMENT;
    if (!model->loaded) return AQ_ERR_STATE;
    return aq_tokenizer_decode(model->tokenizer, tokens, n_tokens, buf, capacity, length);
}

aq_error aq_tokenize_special(const aq_model *model, const char *text, size_t len, int add_bos, int32_t *tokens,
                             int32_t capacity, int32_t *n_tokens) {
    if (!model || (!text && len > 0) || !n_tokens || capacity < 0 || (!tokens && capacity > 0))
        return AQ_ERR_INVALID_ARGUMENT;
    if (!model->loaded) return AQ_ERR_STATE;
    return aq_tokenizer_encode_special(model->tokenizer, text ? text : "", len, add_bos != 0, tokens, capacity,
                                       n_tokens);
}

/* ---- chat ---- */

const char *aq_model_chat_template_name(const aq_model *model) {
    return model && model->loaded ? aq_model_chat_family_name(model) : "";
}

aq_error aq_chat_apply_template(const aq_model *model, const aq_chat_message *messages, size_t n_messages,
                                int add_assistant_prefix, char *buf, size_t capacity, size_t *length) {
    if (length) *length = 0;
    if (!model || !length || (!messages && n_messages > 0) || (!buf && capacity > 0)) return AQ_ERR_INVALID_ARGUMENT;
    if (!model->loaded) return AQ_ERR_STATE;
    return aq_model_chat_apply(model, messages, n_messages, add_assistant_prefix != 0, buf, capacity, length);
}

/* ---- context ---- */

static const struct {
    double min, max;
} param_bounds[] = {
    [AQ_PARAM_THREADS] = {1, 256},     [AQ_PARAM_CONTEXT_LENGTH] = {1, 1 << 20},
    [AQ_PARAM_TEMPERATURE] = {0, 100}, [AQ_PARAM_TOP_K] = {0, 1 << 30},
    [AQ_PARAM_TOP_P] = {0, 1},         [AQ_PARAM_SEED] = {0, 9007199254740992.0},
    [AQ_PARAM_KV_INT8] = {0, 1},       [AQ_PARAM_KV_BITS] = {4, 32},
};
#define N_PARAMS ((int)(sizeof param_bounds / sizeof param_bounds[0]))
static const char *const param_names[] = {
    [AQ_PARAM_THREADS] = "AQ_PARAM_THREADS",
    [AQ_PARAM_CONTEXT_LENGTH] = "AQ_PARAM_CONTEXT_LENGTH",
    [AQ_PARAM_TEMPERATURE] = "AQ_PARAM_TEMPERATURE",
    [AQ_PARAM_TOP_K] = "AQ_PARAM_TOP_K",
    [AQ_PARAM_TOP_P] = "AQ_PARAM_TOP_P",
    [AQ_PARAM_SEED] = "AQ_PARAM_SEED",
    [AQ_PARAM_KV_INT8] = "AQ_PARAM_KV_INT8",
    [AQ_PARAM_KV_BITS] = "AQ_PARAM_KV_BITS",
};
_Static_assert(sizeof param_names / sizeof param_names[0] == N_PARAMS, "a name for every parameter");

aq_error aq_param_bounds(aq_param param, double *min_value, double *max_value) {
    if ((unsigned)param >= N_PARAMS) return AQ_ERR_OUT_OF_RANGE;
    if (min_value) *min_value = param_bounds[param].min;
    if (max_value) *max_value = param_bounds[param].max;
    return AQ_OK;
}

aq_context *aq_context_create(aq_model *model) {
    if (!model || !model->loaded) return NULL;
    return aq_runtime_context_create(model);
}

void aq_context_free(aq_context *ctx) { aq_runtime_context_free(ctx); }

const char *aq_context_error_message(const aq_context *ctx) { return ctx ? ctx->error : "context is NULL"; }

aq_error aq_context_set_param(aq_context *ctx, aq_param param, double value) {
    if (!ctx) return AQ_ERR_INVALID_ARGUMENT;
    if ((unsigned)param >= N_PARAMS)
        return aq_set_error(ctx->error, AQ_ERR_OUT_OF_RANGE, "unknown parameter %d", (int)param);
    if (!(value >= param_bounds[param].min && value <= param_bounds[param].max))
        return aq_set_error(ctx->error, AQ_ERR_OUT_OF_RANGE, "%s = %g is outside [%g, %g]", param_names[param], value,
                            param_bounds[param].min, param_bounds[param].max);
    bool integral = param != AQ_PARAM_TEMPERATURE && param != AQ_PARAM_TOP_P;
    if (integral && value != floor(value))
        return aq_set_error(ctx->error, AQ_ERR_OUT_OF_RANGE, "%s = %g must be an integer", param_names[param], value);
    switch (param) {
    case AQ_PARAM_THREADS:
        return aq_runtime_set_threads(ctx, (int32_t)value);
    case AQ_PARAM_CONTEXT_LENGTH:
        return aq_runtime_set_cache(ctx, (int32_t)value, ctx->kv_bits);
    case AQ_PARAM_KV_INT8:
        return aq_runtime_set_cache(ctx, ctx->n_ctx, value != 0 ? 8 : 32);
    case AQ_PARAM_KV_BITS:
        if (value != 4 && value != 8 && value != 32)
            return aq_set_error(ctx->error, AQ_ERR_OUT_OF_RANGE, "AQ_PARAM_KV_BITS = %g is not 4, 8 or 32", value);
        return aq_runtime_set_cache(ctx, ctx->n_ctx, (int32_t)value);
    case AQ_PARAM_TEMPERATURE:
        ctx->sampler.temperature = (float)value;
        break;
    case AQ_PARAM_TOP_K:
        ctx->sampler.top_k = (int32_t)value;
        break;
    case AQ_PARAM_TOP_P:
        ctx->sampler.top_p = (float)value;
        break;
    case AQ_PARAM_SEED:
        ctx->seed = (uint64_t)value;
        aq_sampler_seed(&ctx->sampler, ctx->seed);
        break;
    }
    return AQ_OK;
}

aq_error aq_context_get_param(const aq_context *ctx, aq_param param, double *value) {
    if (!ctx || !value) return AQ_ERR_INVALID_ARGUMENT;
    switch (param) {
    case AQ_PARAM_THREADS:
        *value = ctx->n_threads;
        break;
    case AQ_PARAM_CONTEXT_LENGTH:
        *value = ctx->n_ctx;
        break;
    case AQ_PARAM_TEMPERATURE:
        *value = ctx->sampler.temperature;
        break;
    case AQ_PARAM_TOP_K:
        *value = ctx->sampler.top_k;
        break;
    case AQ_PARAM_TOP_P:
        *value = ctx->sampler.top_p;
        break;
    case AQ_PARAM_SEED:
        *value = (double)ctx->seed;
        break;
    case AQ_PARAM_KV_INT8:
        *value = ctx->kv_bits == 8;
        break;
    case AQ_PARAM_KV_BITS:
        *value = ctx->kv_bits;
        break;
    default:
        return AQ_ERR_OUT_OF_RANGE;
    }
    return AQ_OK;
}

aq_error aq_forward(aq_context *ctx, const int32_t *tokens, const int32_t *positions, int32_t n_tokens,
                    int logits_all) {
    if (!ctx) return AQ_ERR_INVALID_ARGUMENT;
    if (!tokens || n_tokens <= 0)
        return aq_set_error(ctx->error, AQ_ERR_INVALID_ARGUMENT, "tokens is NULL or n_tokens %d <= 0", n_tokens);
    int32_t n_kv = ctx->n_kv;
    aq_error err = aq_runtime_forward(ctx, tokens, positions, n_tokens, logits_all != 0);
    if (err) return err;
    /* Logits that are not finite would sample garbage: refuse them, and forget the batch. */
    for (int32_t i = 0; i < ctx->n_logit_rows; i++) {
        const float *row = aq_get_logits(ctx, i);
        for (int32_t j = 0; row && j < ctx->model->cfg.vocab_size; j++) {
            if (isfinite(row[j])) continue;
            aq_runtime_kv_truncate(ctx, n_kv); /* allowed: at most a prefill this call pruned is undone */
            ctx->n_logit_rows = 0;
            return aq_set_error(ctx->error, AQ_ERR_NUMERIC,
                                "logit %d of token %d is %g: the weights or activations "
                                "overflowed",
                                j, i, (double)row[j]);
        }
    }
    return AQ_OK;
}

const float *aq_get_logits(const aq_context *ctx, int32_t i) {
    if (!ctx || ctx->n_logit_rows == 0) return NULL;
    if (i == -1) i = ctx->n_logit_rows - 1;
    if (i < 0 || i >= ctx->n_logit_rows) return NULL;
    int32_t row = aq_runtime_logit_row(ctx, i); /* -1: the token was pruned */
    return row < 0 ? NULL : ctx->logits + (size_t)row * (size_t)ctx->model->cfg.vocab_size;
}

int32_t aq_kv_length(const aq_context *ctx) { return ctx ? ctx->n_kv : 0; }

aq_error aq_kv_truncate(aq_context *ctx, int32_t n) {
    if (!ctx) return AQ_ERR_INVALID_ARGUMENT;
    return aq_runtime_kv_truncate(ctx, n);
}

aq_error aq_sample(aq_context *ctx, int32_t i, int32_t *token) {
    if (!ctx || !token) return AQ_ERR_INVALID_ARGUMENT;
    const float *logits = aq_get_logits(ctx, i);
    if (!logits) return aq_set_error(ctx->error, AQ_ERR_STATE, "no logits row %d: run aq_forward first", i);
    *token = aq_sampler_sample(&ctx->sampler, logits, ctx->model->cfg.vocab_size, ctx->sample_prob, ctx->sample_index);
    return AQ_OK;
}

/* ---- token pruning ---- */

aq_error aq_prune(aq_context *ctx, double beta, int32_t first_layer, aq_prune_importance importance,
                  aq_prune_positions positions) {
    if (!ctx) return AQ_ERR_INVALID_ARGUMENT;
    int32_t n_layers = ctx->model->cfg.n_layers;
    if (!(beta >= 0.0 && beta < 1.0))
        return aq_set_error(ctx->error, AQ_ERR_OUT_OF_RANGE, "prune beta %g is outside [0, 1)", beta);
    if (first_layer < -1 || first_layer >= n_layers)
        return aq_set_error(ctx->error, AQ_ERR_OUT_OF_RANGE, "prune first layer %d is outside [0, %d) (or -1)",
                            first_layer, n_layers);
    if ((unsigned)importance > AQ_PRUNE_ATTENTION_RECEIVED)
        return aq_set_error(ctx->error, AQ_ERR_OUT_OF_RANGE, "unknown prune importance %d", (int)importance);
    if ((unsigned)positions > AQ_PRUNE_RENUMBER)
        return aq_set_error(ctx->error, AQ_ERR_OUT_OF_RANGE, "unknown prune positions %d", (int)positions);
    ctx->prune_beta = beta;
    ctx->prune_first_layer = first_layer;
    ctx->prune_importance = importance;
    ctx->prune_positions = positions;
    return AQ_OK;
}

aq_error aq_prune_kept(const aq_context *ctx, int32_t layer, int32_t *indices, int32_t capacity, int32_t *n_kept) {
    if (!ctx || !n_kept || capacity < 0 || (!indices && capacity > 0)) return AQ_ERR_INVALID_ARGUMENT;
    if (layer < 0 || layer > ctx->model->cfg.n_layers) return AQ_ERR_OUT_OF_RANGE;
    if (ctx->last_batch == 0) return AQ_ERR_STATE;
    int32_t n = ctx->n_kept[layer];
    *n_kept = n;
    if (capacity < n) return AQ_ERR_BUFFER_TOO_SMALL;
    memcpy(indices, ctx->kept + (size_t)layer * (size_t)ctx->batch_cap, (size_t)n * sizeof *indices);
    return AQ_OK;
}
