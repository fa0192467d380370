/* Writes a model as GGUF in llama.cpp's conventions, plus our own keys and
 * tensors for quantized models (docs/FORMAT.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

#define AQ_FORMAT_VERSION 1

typedef struct saver {
    aq_gguf_writer *w;
    aq_error err;
    char *msg;
} saver;

static void check(saver *s, aq_error err, const char *what) {
    if (err != AQ_OK && s->err == AQ_OK) {
        s->err = err;
        aq_set_error(s->msg, err, "cannot write %s", what);
    }
}

static void tensor(saver *s, const char *name, uint32_t type, int64_t rows, int64_t cols, const void *data,
                   uint64_t bytes) {
    int64_t ne[2] = {cols, rows};
    check(s, aq_gguf_writer_add_tensor(s->w, name, type, rows == 1 ? 1 : 2, ne, data, bytes), name);
}

static void vector(saver *s, const char *name, const float *v, int64_t n) {
    tensor(s, name, AQ_TENSOR_F32, 1, n, v, (uint64_t)n * sizeof(float));
}

static void matrix(saver *s, const char *name, const aq_matrix *w) {
    size_t rows = (size_t)w->rows, cols = (size_t)w->cols;
    char part[128];
    switch (w->format) {
    case AQ_WEIGHTS_F32:
        tensor(s, name, AQ_TENSOR_F32, w->rows, w->cols, w->f32, rows * cols * sizeof(float));
        break;
    case AQ_WEIGHTS_BLOCKS:
        tensor(s, name, w->block_type->type, w->rows, w->cols, w->blocks, rows * w->row_bytes);
        break;
    case AQ_WEIGHTS_Q4W: {
        size_t groups = cols / w->q4w.group;
        snprintf(part, sizeof part, "%s.q4", name);
        tensor(s, part, AQ_TENSOR_I8, w->rows, (int64_t)cols / 2, w->q4w.q, rows * cols / 2);
        snprintf(part, sizeof part, "%s.q4scale", name);
        tensor(s, part, AQ_TENSOR_F16, w->rows, (int64_t)groups, w->q4w.scale, rows * groups * 2);
        if (w->q4w.zero) {
            snprintf(part, sizeof part, "%s.q4zero", name);
            tensor(s, part, AQ_TENSOR_I8, w->rows, (int64_t)groups, w->q4w.zero, rows * groups);
        }
        break;
    }
    }
}

static void config_keys(saver *s, const aq_model *m) {
    const aq_config *c = &m->cfg;
    aq_gguf_writer *w = s->w;
    check(s, aq_gguf_writer_set_str(w, "general.architecture", "llama", 5), "general.architecture");
    aq_gguf_str name;
    if (aq_gguf_get_str(m->gguf, "general.name", &name) == AQ_OK)
        check(s, aq_gguf_writer_set_str(w, "general.name", name.ptr, name.len), "general.name");
    const struct { const char *key; int32_t v; } dims[] = {
        {"llama.context_length", c->context_length}, {"llama.embedding_length", c->dim},
        {"llama.block_count", c->n_layers}, {"llama.feed_forward_length", c->ffn_dim},
        {"llama.rope.dimension_count", c->head_dim}, {"llama.attention.head_count", c->n_heads},
        {"llama.attention.head_count_kv", c->n_kv_heads}, {"llama.vocab_size", c->vocab_size},
    };
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++)
        check(s, aq_gguf_writer_set_u32(w, dims[i].key, (uint32_t)dims[i].v), dims[i].key);
    check(s, aq_gguf_writer_set_f32(w, "llama.attention.layer_norm_rms_epsilon", c->norm_eps), "epsilon");
    check(s, aq_gguf_writer_set_f32(w, "llama.rope.freq_base", c->rope_theta), "rope base");
}

static void tokenizer_keys(saver *s, const aq_model *m) {
    const aq_gguf *g = m->gguf;
    aq_gguf_type elem;
    uint64_t n = 0;
    aq_gguf_get_arr_info(g, "tokenizer.ggml.tokens", &elem, &n);
    aq_gguf_str *pieces = malloc(n * sizeof *pieces);
    float *scores = malloc(n * sizeof *scores);
    int32_t *types = malloc(n * sizeof *types);
    if (!pieces || !scores || !types) {
        check(s, AQ_ERR_OUT_OF_MEMORY, "the vocabulary");
    } else {
        for (uint64_t i = 0; i < n; i++) aq_gguf_get_arr_str(g, "tokenizer.ggml.tokens", i, &pieces[i]);
        check(s, aq_gguf_writer_set_str(s->w, "tokenizer.ggml.model", "llama", 5), "tokenizer.ggml.model");
        check(s, aq_gguf_writer_set_arr_str(s->w, "tokenizer.ggml.tokens", pieces, n), "tokens");
        if (aq_gguf_get_arr_f32(g, "tokenizer.ggml.scores", scores, n) == AQ_OK)
            check(s, aq_gguf_writer_set_arr(s->w, "tokenizer.ggml.scores", AQ_GGUF_FLOAT32, scores, n), "scores");
        if (aq_gguf_get_arr_i32(g, "tokenizer.ggml.token_type", types, n) == AQ_OK)
            check(s, aq_gguf_writer_set_arr(s->w, "tokenizer.ggml.token_type", AQ_GGUF_INT32, types, n), "types");
    }
    free(pieces);
    free(scores);
    free(types);
    const char *ids[] = {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id", "tokenizer.ggml.unknown_token_id"};
    for (size_t i = 0; i < 3; i++) {
        uint32_t v;
        if (aq_gguf_get_u32(g, ids[i], &v) == AQ_OK) check(s, aq_gguf_writer_set_u32(s->w, ids[i], v), ids[i]);
    }
    const char *flags[] = {"tokenizer.ggml.add_bos_token", "tokenizer.ggml.add_eos_token", "tokenizer.ggml.add_space_prefix"};
    for (size_t i = 0; i < 3; i++) {
        bool v;
        if (aq_gguf_get_bool(g, flags[i], &v) == AQ_OK) check(s, aq_gguf_writer_set_bool(s->w, flags[i], v), flags[i]);
    }
}

static void quantization_keys(saver *s, const aq_model *m, int32_t *bits, int32_t *is_static, float *scale,
                              int32_t *zero) {
    int32_t n = m->cfg.n_layers * AQ_N_LINEAR_INPUTS;
    for (int32_t i = 0; i < n; i++) {
        const aq_act_quant *a = &m->layers[i / AQ_N_LINEAR_INPUTS].act[i % AQ_N_LINEAR_INPUTS];
        bits[i] = a->bits, is_static[i] = a->is_static, scale[i] = a->scale, zero[i] = a->zero;
    }
    check(s, aq_gguf_writer_set_u32(s->w, "agilequant.format_version", AQ_FORMAT_VERSION), "format version");
    check(s, aq_gguf_writer_set_str(s->w, "agilequant.scheme", m->scheme, strlen(m->scheme)), "scheme");
    check(s, aq_gguf_writer_set_arr(s->w, "agilequant.act_bits", AQ_GGUF_INT32, bits, (uint64_t)n), "act_bits");
    check(s, aq_gguf_writer_set_arr(s->w, "agilequant.act_static", AQ_GGUF_INT32, is_static, (uint64_t)n), "act_static");
    check(s, aq_gguf_writer_set_arr(s->w, "agilequant.act_scale", AQ_GGUF_FLOAT32, scale, (uint64_t)n), "act_scale");
    check(s, aq_gguf_writer_set_arr(s->w, "agilequant.act_zero", AQ_GGUF_INT32, zero, (uint64_t)n), "act_zero");
    if (m->down_rotation_signs) vector(s, "agilequant.down_rotation_signs", m->down_rotation_signs, m->cfg.ffn_dim);
}

aq_error aq_model_save_gguf(const aq_model *m, const char *path, char *msg) {
    saver s = {.w = aq_gguf_writer_create(), .err = AQ_OK, .msg = msg};
    if (!s.w) return aq_set_error(msg, AQ_ERR_OUT_OF_MEMORY, "out of memory");
    const aq_config *c = &m->cfg;
    size_t n_act = (size_t)c->n_layers * AQ_N_LINEAR_INPUTS;
    int32_t *bits = malloc(n_act * sizeof *bits), *is_static = malloc(n_act * sizeof *is_static);
    int32_t *zero = malloc(n_act * sizeof *zero);
    float *scale = malloc(n_act * sizeof *scale);
    if (!bits || !is_static || !zero || !scale) check(&s, AQ_ERR_OUT_OF_MEMORY, "the quantization settings");
    config_keys(&s, m);
    tokenizer_keys(&s, m);
    if (m->scheme[0] && s.err == AQ_OK) quantization_keys(&s, m, bits, is_static, scale, zero);
    matrix(&s, "token_embd.weight", &m->token_embd);
    char name[96];
    for (int32_t i = 0; i < c->n_layers; i++) {
        const aq_layer *l = &m->layers[i];
        const struct { const char *suffix; const aq_matrix *w; } mats[] = {
            {"attn_q", &l->wq}, {"attn_k", &l->wk}, {"attn_v", &l->wv}, {"attn_output", &l->wo},
            {"ffn_gate", &l->w_gate}, {"ffn_up", &l->w_up}, {"ffn_down", &l->w_down},
        };
        snprintf(name, sizeof name, "blk.%d.attn_norm.weight", (int)i);
        vector(&s, name, l->attn_norm, c->dim);
        snprintf(name, sizeof name, "blk.%d.ffn_norm.weight", (int)i);
        vector(&s, name, l->ffn_norm, c->dim);
        for (size_t j = 0; j < sizeof mats / sizeof mats[0]; j++) {
            snprintf(name, sizeof name, "blk.%d.%s.weight", (int)i, mats[j].suffix);
            matrix(&s, name, mats[j].w);
        }
        if (l->down_input_scale) {
            snprintf(name, sizeof name, "blk.%d.ffn_down.input_scale", (int)i);
            vector(&s, name, l->down_input_scale, c->ffn_dim);
        }
    }
    vector(&s, "output_norm.weight", m->output_norm, c->dim);
    if (m->output.f32 != m->token_embd.f32 || m->output.format != AQ_WEIGHTS_F32) matrix(&s, "output.weight", &m->output);
    if (s.err == AQ_OK) check(&s, aq_gguf_writer_write_file(s.w, path), path);
    aq_gguf_writer_free(s.w);
    free(bits);
    free(is_static);
    free(zero);
    free(scale);
    return s.err;
}
