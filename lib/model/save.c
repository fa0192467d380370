/* Writes a model as GGUF in llama.cpp's conventions, plus our own keys and
 * tensors for quantized models (docs/FORMAT.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

typedef struct saver {
    aq_gguf_writer *w;
    aq_error err;
    char *msg;
    void **temps; /* buffers the writer reads until the file is written */
    size_t n_temps;
} saver;

/* A buffer of n bytes that lives until the file is written; NULL if out of memory. */
static void *temp(saver *s, size_t n) {
    void **grown = realloc(s->temps, (s->n_temps + 1) * sizeof *grown);
    void *buf = malloc(n ? n : 1);
    if (grown) s->temps = grown;
    if (!grown || !buf) {
        free(buf);
        if (s->err == AQ_OK) s->err = aq_set_error(s->msg, AQ_ERR_OUT_OF_MEMORY, "out of memory");
        return NULL;
    }
    s->temps[s->n_temps++] = buf;
    return buf;
}

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
    char part[192];
    switch (w->format) {
    case AQ_WEIGHTS_F32:
        tensor(s, name, AQ_TENSOR_F32, w->rows, w->cols, w->f32, rows * cols * sizeof(float));
        break;
    case AQ_WEIGHTS_BLOCKS:
        tensor(s, name, w->block_type->type, w->rows, w->cols, w->blocks, rows * w->row_bytes);
        break;
    case AQ_WEIGHTS_Q4W: {
        size_t groups = cols / w->q4w.group;
        if (w->q3w) { /* 3-bit: the bit planes (3 bits a weight) and the scales */
            uint8_t *planes = temp(s, rows * AQ_Q3W_ROW_BYTES(cols));
            if (!planes) break;
            aq_q3w_to_planes(&w->q4w, planes);
            snprintf(part, sizeof part, "%s.q3", name);
            tensor(s, part, AQ_TENSOR_I8, w->rows, (int64_t)AQ_Q3W_ROW_BYTES(cols), planes,
                   rows * AQ_Q3W_ROW_BYTES(cols));
            snprintf(part, sizeof part, "%s.q3scale", name);
            tensor(s, part, AQ_TENSOR_F16, w->rows, (int64_t)groups, w->q4w.scale, rows * groups * 2);
            break;
        }
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

/* The family's keys, llama.cpp's names under the family's prefix. */
static void config_keys(saver *s, const aq_model *m) {
    const aq_config *c = &m->cfg;
    const aq_family *f = c->family;
    aq_gguf_writer *w = s->w;
    char key[128];
#define KEY(suffix) (snprintf(key, sizeof key, "%s." suffix, f->name), key)
    check(s, aq_gguf_writer_set_str(w, "general.architecture", f->name, strlen(f->name)), "general.architecture");
    aq_gguf_str name;
    if (aq_gguf_get_str(m->gguf, "general.name", &name) == AQ_OK)
        check(s, aq_gguf_writer_set_str(w, "general.name", name.ptr, name.len), "general.name");
    bool rope = f->positions == AQ_POSITIONS_ROPE || f->positions == AQ_POSITIONS_ROPE_NEOX;
    const struct {
        const char *suffix;
        int32_t v;
        bool write;
    } dims[] = {
        {"context_length", c->context_length, true},
        {"embedding_length", c->dim, true},
        {"block_count", c->n_layers, true},
        {"feed_forward_length", c->ffn_dim, true},
        {"rope.dimension_count", c->rope_dims, rope},
        {"attention.head_count", c->n_heads, true},
        {"attention.head_count_kv", c->n_kv_heads, true},
        {"vocab_size", c->vocab_size, true},
    };
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++) {
        if (!dims[i].write) continue;
        snprintf(key, sizeof key, "%s.%s", f->name, dims[i].suffix);
        check(s, aq_gguf_writer_set_u32(w, key, (uint32_t)dims[i].v), key);
    }
    if (f->norm == AQ_NORM_RMS)
        check(s, aq_gguf_writer_set_f32(w, KEY("attention.layer_norm_rms_epsilon"), c->norm_eps), key);
    else
        check(s, aq_gguf_writer_set_f32(w, KEY("attention.layer_norm_epsilon"), c->norm_eps), key);
    if (rope) check(s, aq_gguf_writer_set_f32(w, KEY("rope.freq_base"), c->rope_theta), key);
    if (rope && c->rope_freq_scale != 1.0f) {
        check(s, aq_gguf_writer_set_str(w, KEY("rope.scaling.type"), "linear", 6), key);
        check(s, aq_gguf_writer_set_f32(w, KEY("rope.scaling.factor"), 1.0f / c->rope_freq_scale), key);
    }
#undef KEY
}

/* The vocabulary's keys, copied from the file the model came from. */
static void tokenizer_keys(saver *s, const aq_model *m) {
    const aq_gguf *g = m->gguf;
    aq_gguf_type elem;
    uint64_t n = 0, n_merges = 0;
    aq_gguf_get_arr_info(g, "tokenizer.ggml.tokens", &elem, &n);
    if (aq_gguf_get_arr_info(g, "tokenizer.ggml.merges", &elem, &n_merges) != AQ_OK || elem != AQ_GGUF_STRING)
        n_merges = 0;
    uint64_t n_strings = n > n_merges ? n : n_merges;
    aq_gguf_str *strings = malloc((n_strings ? n_strings : 1) * sizeof *strings);
    float *scores = malloc((n ? n : 1) * sizeof *scores);
    int32_t *types = malloc((n ? n : 1) * sizeof *types);
    const char *strs[] = {"tokenizer.ggml.model", "tokenizer.ggml.pre"};
    for (size_t i = 0; i < 2; i++) {
        aq_gguf_str v;
        if (aq_gguf_get_str(g, strs[i], &v) == AQ_OK)
            check(s, aq_gguf_writer_set_str(s->w, strs[i], v.ptr, v.len), strs[i]);
    }
    if (!strings || !scores || !types) {
        check(s, AQ_ERR_OUT_OF_MEMORY, "the vocabulary");
    } else {
        for (uint64_t i = 0; i < n; i++) aq_gguf_get_arr_str(g, "tokenizer.ggml.tokens", i, &strings[i]);
        check(s, aq_gguf_writer_set_arr_str(s->w, "tokenizer.ggml.tokens", strings, n), "tokens");
        if (aq_gguf_get_arr_f32(g, "tokenizer.ggml.scores", scores, n) == AQ_OK)
            check(s, aq_gguf_writer_set_arr(s->w, "tokenizer.ggml.scores", AQ_GGUF_FLOAT32, scores, n), "scores");
        if (aq_gguf_get_arr_i32(g, "tokenizer.ggml.token_type", types, n) == AQ_OK)
            check(s, aq_gguf_writer_set_arr(s->w, "tokenizer.ggml.token_type", AQ_GGUF_INT32, types, n), "types");
        if (n_merges) {
            for (uint64_t i = 0; i < n_merges; i++) aq_gguf_get_arr_str(g, "tokenizer.ggml.merges", i, &strings[i]);
            check(s, aq_gguf_writer_set_arr_str(s->w, "tokenizer.ggml.merges", strings, n_merges), "merges");
        }
    }
    free(strings);
    free(scores);
    free(types);
    const char *ids[] = {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
                         "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.padding_token_id",
                         "tokenizer.ggml.eot_token_id"};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        uint32_t v;
        if (aq_gguf_get_u32(g, ids[i], &v) == AQ_OK) check(s, aq_gguf_writer_set_u32(s->w, ids[i], v), ids[i]);
    }
    const char *flags[] = {"tokenizer.ggml.add_bos_token", "tokenizer.ggml.add_eos_token",
                           "tokenizer.ggml.add_space_prefix"};
    for (size_t i = 0; i < 3; i++) {
        bool v;
        if (aq_gguf_get_bool(g, flags[i], &v) == AQ_OK) check(s, aq_gguf_writer_set_bool(s->w, flags[i], v), flags[i]);
    }
    aq_gguf_str chat;
    if (aq_gguf_get_str(g, "tokenizer.chat_template", &chat) == AQ_OK)
        check(s, aq_gguf_writer_set_str(s->w, "tokenizer.chat_template", chat.ptr, chat.len),
              "tokenizer.chat_template");
}

static void quantization_keys(saver *s, const aq_model *m, int32_t *bits, int32_t *is_static, float *scale,
                              int32_t *zero) {
    int32_t n = m->cfg.n_layers * AQ_N_LINEAR_INPUTS;
    for (int32_t i = 0; i < n; i++) {
        const aq_act_quant *a = &m->layers[i / AQ_N_LINEAR_INPUTS].act[i % AQ_N_LINEAR_INPUTS];
        bits[i] = a->bits, is_static[i] = a->is_static, scale[i] = a->scale, zero[i] = a->zero;
    }
    /* Version 2: the online rotation of the down projection's input is full width (hadamard.h). */
    check(s, aq_gguf_writer_set_u32(s->w, "agilequant.format_version", m->down_rotation_blocked ? 1 : 2),
          "format version");
    check(s, aq_gguf_writer_set_str(s->w, "agilequant.scheme", m->scheme, strlen(m->scheme)), "scheme");
    check(s, aq_gguf_writer_set_arr(s->w, "agilequant.act_bits", AQ_GGUF_INT32, bits, (uint64_t)n), "act_bits");
    check(s, aq_gguf_writer_set_arr(s->w, "agilequant.act_static", AQ_GGUF_INT32, is_static, (uint64_t)n),
          "act_static");
    check(s, aq_gguf_writer_set_arr(s->w, "agilequant.act_scale", AQ_GGUF_FLOAT32, scale, (uint64_t)n), "act_scale");
    check(s, aq_gguf_writer_set_arr(s->w, "agilequant.act_zero", AQ_GGUF_INT32, zero, (uint64_t)n), "act_zero");
    if (m->kv_bits) check(s, aq_gguf_writer_set_u32(s->w, "agilequant.kv_bits", (uint32_t)m->kv_bits), "kv_bits");
    /* One group size for every dynamic input (aq_quantize_model sets them so). */
    int32_t act_group = 0;
    for (int32_t i = 0; i < n; i++) {
        const aq_act_quant *a = &m->layers[i / AQ_N_LINEAR_INPUTS].act[i % AQ_N_LINEAR_INPUTS];
        if (a->group) act_group = a->group;
    }
    if (act_group) check(s, aq_gguf_writer_set_u32(s->w, "agilequant.act_group", (uint32_t)act_group), "act_group");
    bool act_clip = false;
    for (int32_t i = 0; i < n; i++) act_clip |= m->layers[i / AQ_N_LINEAR_INPUTS].act[i % AQ_N_LINEAR_INPUTS].clip;
    if (act_clip) check(s, aq_gguf_writer_set_u32(s->w, "agilequant.act_clip", 1), "act_clip");
    bool act_asym = false;
    for (int32_t i = 0; i < n; i++) act_asym |= m->layers[i / AQ_N_LINEAR_INPUTS].act[i % AQ_N_LINEAR_INPUTS].asym;
    if (act_asym) check(s, aq_gguf_writer_set_u32(s->w, "agilequant.act_asym", 1), "act_asym");
    if (m->down_rotation_signs) vector(s, "agilequant.down_rotation_signs", m->down_rotation_signs, m->cfg.ffn_dim);
    if (m->input_rotation_signs) vector(s, "agilequant.input_rotation_signs", m->input_rotation_signs, m->cfg.dim);
    /* A rotated LayerNorm model: RMSNorms without bias, the embedding norm in the table. */
    if (m->cfg.norm != m->cfg.family->norm) check(s, aq_gguf_writer_set_str(s->w, "agilequant.norm", "rms", 3), "norm");
    if (m->embd_norm_folded)
        check(s, aq_gguf_writer_set_bool(s->w, "agilequant.embedding_norm_folded", true), "embedding_norm_folded");
}

/* NAME.weight and, if the layer has one, NAME.bias. */
static void linear(saver *s, const char *name, const aq_matrix *w) {
    char full[128];
    snprintf(full, sizeof full, "%s.weight", name);
    matrix(s, full, w);
    snprintf(full, sizeof full, "%s.bias", name);
    if (w->bias) vector(s, full, w->bias, w->rows);
}

/* NAME.weight and, for a LayerNorm, NAME.bias. */
static void norm(saver *s, const char *name, const float *weight, const float *bias, int32_t dim) {
    char full[128];
    snprintf(full, sizeof full, "%s.weight", name);
    vector(s, full, weight, dim);
    snprintf(full, sizeof full, "%s.bias", name);
    if (bias) vector(s, full, bias, dim);
}

static const uint8_t *matrix_data(const aq_matrix *w) {
    return w->format == AQ_WEIGHTS_F32 ? (const uint8_t *)(const void *)w->f32 : (const uint8_t *)w->blocks;
}

/* The rows of the three parts (bytes_per_row each, at data[j]) one after
 * the other: in place when they already follow each other in memory (as
 * loaded: views of one tensor), else a copy; NULL if out of memory. */
static const void *concatenated(saver *s, const aq_matrix *const *parts, const uint8_t *const *data,
                                size_t bytes_per_row) {
    bool in_place = true;
    for (int j = 1; j < 3; j++)
        in_place = in_place && data[j] == data[j - 1] + (size_t)parts[j - 1]->rows * bytes_per_row;
    if (in_place) return data[0];
    size_t rows = (size_t)parts[0]->rows + (size_t)parts[1]->rows + (size_t)parts[2]->rows;
    uint8_t *out = temp(s, rows * bytes_per_row), *p = out;
    for (int j = 0; out && j < 3; j++) {
        memcpy(p, data[j], (size_t)parts[j]->rows * bytes_per_row);
        p += (size_t)parts[j]->rows * bytes_per_row;
    }
    return out;
}

/* A fused family's Q, K and V as one attn_qkv, rows [Q; K; V], when they are
 * float or of one llama.cpp type (else, INT4, as three tensors). */
static void qkv(saver *s, int32_t i, const aq_layer *l) {
    const aq_matrix *const parts[3] = {&l->wq, &l->wk, &l->wv};
    char name[96];
    bool same = true;
    for (int j = 1; j < 3; j++)
        same = same && parts[j]->format == l->wq.format && parts[j]->block_type == l->wq.block_type &&
               (parts[j]->bias != NULL) == (l->wq.bias != NULL);
    if (!same || l->wq.format == AQ_WEIGHTS_Q4W) {
        const char *suffix[3] = {"attn_q", "attn_k", "attn_v"};
        for (int j = 0; j < 3; j++) {
            snprintf(name, sizeof name, "blk.%d.%s", (int)i, suffix[j]);
            linear(s, name, parts[j]);
        }
        return;
    }
    size_t row_bytes = l->wq.format == AQ_WEIGHTS_F32 ? (size_t)l->wq.cols * sizeof(float) : l->wq.row_bytes;
    const uint8_t *weights[3] = {matrix_data(parts[0]), matrix_data(parts[1]), matrix_data(parts[2])};
    aq_matrix fused = l->wq;
    fused.rows = l->wq.rows + l->wk.rows + l->wv.rows;
    const void *w = concatenated(s, parts, weights, row_bytes), *b = NULL;
    if (l->wq.bias) {
        const uint8_t *biases[3] = {(const uint8_t *)(const void *)l->wq.bias,
                                    (const uint8_t *)(const void *)l->wk.bias,
                                    (const uint8_t *)(const void *)l->wv.bias};
        if (!(b = concatenated(s, parts, biases, sizeof(float)))) return;
    }
    if (!w) return;
    if (fused.format == AQ_WEIGHTS_F32)
        fused.f32 = w;
    else
        fused.blocks = w;
    fused.bias = b;
    snprintf(name, sizeof name, "blk.%d.attn_qkv", (int)i);
    linear(s, name, &fused);
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
    if (aq_matrix_present(&m->position_embd)) matrix(&s, "position_embd.weight", &m->position_embd);
    if (m->embd_norm) norm(&s, "token_embd_norm", m->embd_norm, m->embd_norm_b, c->dim);
    char name[96];
    for (int32_t i = 0; i < c->n_layers; i++) {
        const aq_layer *l = &m->layers[i];
#define NAME(suffix) (snprintf(name, sizeof name, "blk.%d." suffix, (int)i), name)
        norm(&s, NAME("attn_norm"), l->attn_norm, l->attn_norm_b, c->dim);
        if (c->family->fused_qkv) {
            qkv(&s, i, l);
        } else {
            linear(&s, NAME("attn_q"), &l->wq);
            linear(&s, NAME("attn_k"), &l->wk);
            linear(&s, NAME("attn_v"), &l->wv);
        }
        linear(&s, NAME("attn_output"), &l->wo);
        norm(&s, NAME("ffn_norm"), l->ffn_norm, l->ffn_norm_b, c->dim);
        if (aq_matrix_present(&l->w_gate)) linear(&s, NAME("ffn_gate"), &l->w_gate);
        linear(&s, NAME("ffn_up"), &l->w_up);
        linear(&s, NAME("ffn_down"), &l->w_down);
        if (l->down_input_scale) vector(&s, NAME("ffn_down.input_scale"), l->down_input_scale, c->ffn_dim);
        static const char *const site_bits[AQ_N_LINEAR_INPUTS] = {
            "blk.%d.attn_qkv.act_group_bits", "blk.%d.attn_output.act_group_bits", "blk.%d.ffn_up.act_group_bits",
            "blk.%d.ffn_down.act_group_bits"};
        const aq_matrix *reader[AQ_N_LINEAR_INPUTS] = {&l->wq, &l->wo, &l->w_up, &l->w_down};
        for (int k = 0; k < AQ_N_LINEAR_INPUTS; k++) {
            if (!l->act[k].group_bits) continue;
            snprintf(name, sizeof name, site_bits[k], (int)i);
            int64_t groups = reader[k]->cols / l->act[k].group;
            tensor(&s, name, AQ_TENSOR_I8, 1, groups, l->act[k].group_bits, (uint64_t)groups);
        }
#undef NAME
    }
    norm(&s, "output_norm", m->output_norm, m->output_norm_b, c->dim);
    /* A tied head is token_embd itself; bloom and gpt2 files carry a copy, as llama.cpp needs. */
    if (!aq_model_head_tied(m) || c->family->output_required) matrix(&s, "output.weight", &m->output);
    if (m->output.bias) vector(&s, "output.bias", m->output.bias, c->vocab_size);
    if (m->rope_freqs) vector(&s, "rope_freqs.weight", m->rope_freqs, c->rope_dims / 2);
    if (s.err == AQ_OK) check(&s, aq_gguf_writer_write_file(s.w, path), path);
    aq_gguf_writer_free(s.w);
    for (size_t i = 0; i < s.n_temps; i++) free(s.temps[i]);
    free(s.temps);
    free(bits);
    free(is_static);
    free(zero);
    free(scale);
    return s.err;
}
