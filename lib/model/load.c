/* Builds an aq_model from a parsed GGUF file: llama.cpp's llama.* keys and
 * tensor names, F32 tensors used in place, F16 and BF16 converted to F32. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "tensor_convert.h"

static aq_error model_error(aq_model *m, aq_error err, const char *fmt, const char *what) {
    return aq_set_error(m->error, err, fmt, what);
}

static aq_error get_dim(aq_model *m, const char *key, int32_t lo, int32_t hi, int32_t *out) {
    uint32_t v;
    if (aq_gguf_get_u32(m->gguf, key, &v) != AQ_OK)
        return model_error(m, AQ_ERR_FORMAT, "missing or malformed key %s", key);
    if (v < (uint32_t)lo || v > (uint32_t)hi)
        return aq_set_error(m->error, AQ_ERR_UNSUPPORTED, "%s = %u is outside [%d, %d]", key, v, lo, hi);
    *out = (int32_t)v;
    return AQ_OK;
}

/* "<family>.<suffix>": a key of the model's family. */
static const char *family_key(const aq_model *m, const char *suffix, char *buf, size_t cap) {
    snprintf(buf, cap, "%s.%s", m->cfg.family->name, suffix);
    return buf;
}

static aq_error get_family_dim(aq_model *m, const char *suffix, int32_t lo, int32_t hi, int32_t *out) {
    char key[128];
    return get_dim(m, family_key(m, suffix, key, sizeof key), lo, hi, out);
}

/* An optional float key of the family; *out keeps its default when absent. */
static aq_error get_family_f32(aq_model *m, const char *suffix, float *out) {
    char key[128];
    family_key(m, suffix, key, sizeof key);
    if (aq_gguf_has_key(m->gguf, key) && aq_gguf_get_f32(m->gguf, key, out) != AQ_OK)
        return model_error(m, AQ_ERR_FORMAT, "malformed key %s", key);
    return AQ_OK;
}

/* RoPE: rotated dimensions, base, and linear scaling (llama.cpp's rope.* keys;
 * YaRN and LongRoPE are refused by name). */
static aq_error read_rope(aq_model *m, aq_config *c) {
    char key[128];
    aq_error err;
    c->rope_dims = c->head_dim;
    if (aq_gguf_has_key(m->gguf, family_key(m, "rope.dimension_count", key, sizeof key)) &&
        (err = get_dim(m, key, 2, c->head_dim, &c->rope_dims)))
        return err;
    if (c->rope_dims % 2 != 0) return aq_set_error(m->error, AQ_ERR_UNSUPPORTED, "%s = %d is odd", key, c->rope_dims);
    c->rope_theta = 10000.0f;
    if ((err = get_family_f32(m, "rope.freq_base", &c->rope_theta))) return err;
    if (!(c->rope_theta > 1.0f && isfinite(c->rope_theta)))
        return aq_set_error(m->error, AQ_ERR_FORMAT, "%s.rope.freq_base = %g is out of range", c->family->name,
                            (double)c->rope_theta);
    bool scaled = true; /* llama.cpp's default scaling type is linear */
    aq_gguf_str type;
    if (aq_gguf_has_key(m->gguf, family_key(m, "rope.scaling.type", key, sizeof key))) {
        if (aq_gguf_get_str(m->gguf, key, &type) != AQ_OK)
            return model_error(m, AQ_ERR_FORMAT, "malformed key %s", key);
        if (type.len == 4 && memcmp(type.ptr, "none", 4) == 0)
            scaled = false;
        else if (type.len != 6 || memcmp(type.ptr, "linear", 6) != 0)
            return aq_set_error(m->error, AQ_ERR_UNSUPPORTED, "%s = '%.*s': only none and linear RoPE scaling run here",
                                key, (int)(type.len > 32 ? 32 : type.len), type.ptr);
    }
    float factor = 0.0f, attn_factor = 1.0f;
    if (aq_gguf_has_key(m->gguf, family_key(m, "rope.scaling.factor", key, sizeof key))) {
        if ((err = get_family_f32(m, "rope.scaling.factor", &factor))) return err;
    } else if ((err = get_family_f32(m, "rope.scale_linear", &factor))) {
        return err;
    }
    if ((err = get_family_f32(m, "rope.scaling.attn_factor", &attn_factor))) return err;
    if (attn_factor != 1.0f)
        return aq_set_error(m->error, AQ_ERR_UNSUPPORTED, "%s.rope.scaling.attn_factor = %g: only 1 runs here",
                            c->family->name, (double)attn_factor);
    if (!(factor >= 0.0f && isfinite(factor)))
        return aq_set_error(m->error, AQ_ERR_FORMAT, "%s.rope.scaling.factor = %g is out of range", c->family->name,
                            (double)factor);
    c->rope_freq_scale = scaled && factor != 0.0f ? 1.0f / factor : 1.0f;
    return AQ_OK;
}

static aq_error read_config(aq_model *m, aq_config *c) {
    aq_gguf_str arch;
    if (aq_gguf_get_str(m->gguf, "general.architecture", &arch) != AQ_OK)
        return model_error(m, AQ_ERR_FORMAT, "missing key %s", "general.architecture");
    c->family = aq_family_find(arch.ptr, arch.len);
    if (!c->family)
        return aq_set_error(m->error, AQ_ERR_UNSUPPORTED, "general.architecture '%.*s' is not one of %s",
                            (int)(arch.len > 64 ? 64 : arch.len), arch.ptr, aq_family_names());
    const aq_family *f = c->family;
    aq_error err;
    if ((err = get_family_dim(m, "embedding_length", 1, 1 << 16, &c->dim)) ||
        (err = get_family_dim(m, "block_count", 1, 1024, &c->n_layers)) ||
        (err = get_family_dim(m, "attention.head_count", 1, 1024, &c->n_heads)) ||
        (err = get_family_dim(m, "feed_forward_length", 1, 1 << 18, &c->ffn_dim)) ||
        (err = get_family_dim(m, "context_length", 1, 1 << 24, &c->context_length)))
        return err;
    char key[128];
    c->n_kv_heads = c->n_heads;
    if (aq_gguf_has_key(m->gguf, family_key(m, "attention.head_count_kv", key, sizeof key)) &&
        (err = get_dim(m, key, 1, c->n_heads, &c->n_kv_heads)))
        return err;
    if (c->dim % c->n_heads != 0 || c->n_heads % c->n_kv_heads != 0)
        return aq_set_error(m->error, AQ_ERR_UNSUPPORTED, "heads (%d, kv %d) do not divide width %d", c->n_heads,
                            c->n_kv_heads, c->dim);
    c->head_dim = c->dim / c->n_heads;
    if (c->head_dim > AQ_MAX_HEAD_DIM)
        return aq_set_error(m->error, AQ_ERR_UNSUPPORTED, "head size %d is larger than %d", c->head_dim,
                            AQ_MAX_HEAD_DIM);
    c->rope_freq_scale = 1.0f;
    if ((f->positions == AQ_POSITIONS_ROPE || f->positions == AQ_POSITIONS_ROPE_NEOX) && (err = read_rope(m, c)))
        return err;
    c->norm = f->norm;
    c->norm_eps = 1e-5f;
    if ((err = get_family_f32(
             m, f->norm == AQ_NORM_RMS ? "attention.layer_norm_rms_epsilon" : "attention.layer_norm_epsilon",
             &c->norm_eps)))
        return err;
    if (!(c->norm_eps > 0.0f && c->norm_eps < 1.0f))
        return aq_set_error(m->error, AQ_ERR_FORMAT, "norm epsilon %g is out of range", (double)c->norm_eps);
    /* A rotated LayerNorm model (docs/FORMAT.md): its norms are RMSNorms without bias. */
    aq_gguf_str norm;
    if (aq_gguf_has_key(m->gguf, "agilequant.norm")) {
        if (aq_gguf_get_str(m->gguf, "agilequant.norm", &norm) != AQ_OK || norm.len != 3 || memcmp(norm.ptr, "rms", 3))
            return model_error(m, AQ_ERR_FORMAT, "malformed key %s (only \"rms\")", "agilequant.norm");
        c->norm = AQ_NORM_RMS;
    }
    if (aq_gguf_has_key(m->gguf, "agilequant.embedding_norm_folded") &&
        aq_gguf_get_bool(m->gguf, "agilequant.embedding_norm_folded", &m->embd_norm_folded) != AQ_OK)
        return model_error(m, AQ_ERR_FORMAT, "malformed key %s", "agilequant.embedding_norm_folded");
    return AQ_OK;
}

static bool has_shape(const aq_gguf_tensor *t, int64_t rows, int64_t cols) {
    int64_t want_dims = rows == 1 ? 1 : 2;
    return t->ne[0] == cols && t->ne[1] == rows && t->ne[2] == 1 && t->ne[3] == 1 && (int64_t)t->n_dims <= want_dims;
}

static aq_error shape_error(aq_model *m, const char *name, const aq_gguf_tensor *t, int64_t rows, int64_t cols) {
    return aq_set_error(m->error, AQ_ERR_FORMAT, "tensor %s has shape [%lld, %lld, %lld, %lld], expected [%lld, %lld]",
                        name, (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2], (long long)t->ne[3],
                        (long long)cols, (long long)rows);
}

static aq_error type_error(aq_model *m, const char *name, uint32_t type) {
    return aq_set_error(m->error, AQ_ERR_UNSUPPORTED, "tensor %s has type %s (%u), which this library does not run",
                        name, aq_tensor_type_name(type), type);
}

/* Finds a tensor of shape (rows, cols) (GGUF ne = {cols, rows}) and returns
 * its data as F32: in place when it is F32, else converted into a buffer the
 * model owns. A 1-D tensor is asked for with rows = 1. */
static aq_error load_f32(aq_model *m, const char *name, int64_t rows, int64_t cols, const float **out) {
    const aq_gguf_tensor *t = aq_gguf_find_tensor(m->gguf, name);
    if (!t) return model_error(m, AQ_ERR_FORMAT, "missing tensor %s", name);
    if (!has_shape(t, rows, cols)) return shape_error(m, name, t, rows, cols);
    size_t count = (size_t)rows * (size_t)cols;
    if (t->type == AQ_TENSOR_F32 && ((uintptr_t)t->data % sizeof(float)) == 0) {
        *out = t->data;
    } else if (t->type == AQ_TENSOR_F32 || aq_block_type_get(t->type)) {
        float *buf = aq_model_own_floats(m, NULL, count);
        if (!buf) return aq_set_error(m->error, AQ_ERR_OUT_OF_MEMORY, "out of memory for tensor %s", name);
        aq_tensor_to_f32(t->type, t->data, count, buf);
        *out = buf;
    } else {
        return type_error(m, name, t->type);
    }
    for (size_t i = 0; i < count; i++)
        if (!isfinite((*out)[i]))
            return aq_set_error(m->error, AQ_ERR_FORMAT, "tensor %s holds %g at %zu", name, (double)(*out)[i], i);
    /* The check read the whole tensor: its pages go back until a forward pass or quantization reads them. */
    aq_gguf_release(m->gguf, t->data, count * sizeof(float));
    return AQ_OK;
}

/* The online rotation of the attention and MLP inputs (rotate-online): signs of +1 or -1, the values
 * aq_hadamard_rotate is specified for. It is full width, as format version 2's rotations: a version-1 file
 * (blocked rotations) with it is refused. */
static aq_error load_input_rotation(aq_model *m) {
    const char *name = "agilequant.input_rotation_signs";
    aq_error err = load_f32(m, name, 1, m->cfg.dim, (const float **)&m->input_rotation_signs);
    for (int32_t i = 0; err == AQ_OK && i < m->cfg.dim; i++)
        if (m->input_rotation_signs[i] != 1.0f && m->input_rotation_signs[i] != -1.0f)
            err = aq_set_error(m->error, AQ_ERR_FORMAT, "tensor %s holds %g at %d, not a sign", name,
                               (double)m->input_rotation_signs[i], (int)i);
    if (err == AQ_OK && m->down_rotation_blocked)
        err = aq_set_error(m->error, AQ_ERR_FORMAT, "tensor %s needs format version 2, not 1", name);
    return err;
}

static const aq_gguf_tensor *find_part(aq_model *m, const char *name, const char *part) {
    char full[128];
    snprintf(full, sizeof full, "%s.%s", name, part);
    return aq_gguf_find_tensor(m->gguf, full);
}

static bool has_type_and_shape(const aq_gguf_tensor *t, uint32_t type, int64_t rows, int64_t cols) {
    return t && t->type == type && t->ne[0] == cols && t->ne[1] == rows && t->ne[2] == 1 && t->ne[3] == 1;
}

/* Our INT4 layout, stored as three tensors: NAME.q4 (bytes, two weights
 * each), NAME.q4scale (f16 per group) and, if asymmetric, NAME.q4zero. */
static aq_error load_q4w(aq_model *m, const char *name, int32_t rows, int32_t cols, aq_matrix *mat) {
    const aq_gguf_tensor *q = find_part(m, name, "q4"), *scale = find_part(m, name, "q4scale");
    const aq_gguf_tensor *zero = find_part(m, name, "q4zero");
    if (!q || !scale) return model_error(m, AQ_ERR_FORMAT, "missing tensor %s", name);
    int64_t groups = scale->ne[0];
    int64_t group = groups > 0 && cols % groups == 0 ? cols / groups : 0;
    if (cols % 2 || !has_type_and_shape(q, AQ_TENSOR_I8, rows, cols / 2) ||
        (group != 32 && group != 64 && group != 128) || !has_type_and_shape(scale, AQ_TENSOR_F16, rows, groups) ||
        (zero && !has_type_and_shape(zero, AQ_TENSOR_I8, rows, groups)))
        return model_error(m, AQ_ERR_FORMAT, "INT4 tensor %s has inconsistent parts", name);
    mat->format = AQ_WEIGHTS_Q4W;
    mat->q4w = (struct aq_q4w){.n_rows = (size_t)rows,
                               .k = (size_t)cols,
                               .group = (size_t)group,
                               .q = (uint8_t *)q->data,
                               .scale = (uint16_t *)scale->data,
                               .zero = zero ? (uint8_t *)zero->data : NULL};
    if (zero)
        for (int64_t i = 0; i < rows * groups; i++)
            if (mat->q4w.zero[i] > 15)
                return model_error(m, AQ_ERR_FORMAT, "INT4 tensor %s has a zero point above 15", name);
    if (!aq_blocks_finite(aq_block_type_get(AQ_TENSOR_F16), scale->data, (size_t)rows * (size_t)groups))
        return model_error(m, AQ_ERR_FORMAT, "INT4 tensor %s has a scale that is not finite", name);
    return AQ_OK;
}

/* Our 3-bit layout: NAME.q3 (the bit planes, AQ_Q3W_ROW_BYTES(cols) bytes a row)
 * and NAME.q3scale (f16 per group), unpacked into the plain aq_q4w (codes 4..11)
 * that the model keeps beside the kernel's packed copy. */
static aq_error load_q3w(aq_model *m, const char *name, int32_t rows, int32_t cols, const aq_gguf_tensor *q,
                         aq_matrix *mat) {
    const aq_gguf_tensor *scale = find_part(m, name, "q3scale");
    int64_t groups = scale ? scale->ne[0] : 0;
    int64_t group = groups > 0 && cols % groups == 0 ? cols / groups : 0;
    if (!scale || cols % 32 || (group != 32 && group != 64 && group != 128) ||
        !has_type_and_shape(q, AQ_TENSOR_I8, rows, (int64_t)AQ_Q3W_ROW_BYTES(cols)) ||
        !has_type_and_shape(scale, AQ_TENSOR_F16, rows, groups))
        return model_error(m, AQ_ERR_FORMAT, "3-bit tensor %s has inconsistent parts", name);
    if (!aq_blocks_finite(aq_block_type_get(AQ_TENSOR_F16), scale->data, (size_t)rows * (size_t)groups))
        return model_error(m, AQ_ERR_FORMAT, "3-bit tensor %s has a scale that is not finite", name);
    size_t q_bytes = (size_t)rows * (size_t)cols / 2;
    uint8_t *codes = (uint8_t *)aq_model_own_floats(m, NULL, (q_bytes + sizeof(float) - 1) / sizeof(float));
    if (!codes) return aq_set_error(m->error, AQ_ERR_OUT_OF_MEMORY, "out of memory for tensor %s", name);
    mat->format = AQ_WEIGHTS_Q4W;
    mat->q3w = true;
    mat->q4w = (struct aq_q4w){.n_rows = (size_t)rows,
                               .k = (size_t)cols,
                               .group = (size_t)group,
                               .q = codes,
                               .scale = (uint16_t *)scale->data,
                               .zero = NULL};
    aq_q3w_from_planes(q->data, &mat->q4w);
    return AQ_OK;
}

static aq_error load_matrix(aq_model *m, const char *name, int32_t rows, int32_t cols, aq_matrix *mat) {
    mat->rows = rows;
    mat->cols = cols;
    const aq_gguf_tensor *t = aq_gguf_find_tensor(m->gguf, name);
    const aq_gguf_tensor *q3 = t ? NULL : find_part(m, name, "q3");
    if (q3) return load_q3w(m, name, rows, cols, q3, mat);
    if (!t) return load_q4w(m, name, rows, cols, mat);
    if (t->type == AQ_TENSOR_F32) return load_f32(m, name, rows, cols, &mat->f32);
    const aq_block_type *bt = aq_block_type_get(t->type);
    if (!bt) return type_error(m, name, t->type);
    if (!has_shape(t, rows, cols)) return shape_error(m, name, t, rows, cols);
    /* The reader checked that rows are whole blocks and that the bytes are in the file. */
    mat->format = AQ_WEIGHTS_BLOCKS;
    mat->block_type = bt;
    mat->row_bytes = (size_t)cols / bt->block_elems * bt->block_bytes;
    mat->blocks = t->data;
    if (!aq_blocks_finite(bt, t->data, (size_t)rows * (size_t)cols))
        return aq_set_error(m->error, AQ_ERR_FORMAT, "tensor %s (%s) has a scale that is not finite", name, bt->name);
    aq_gguf_release(m->gguf, t->data, (size_t)rows * mat->row_bytes);
    return AQ_OK;
}

/* Whether input site of layer i can take its activation group: every INT4
 * matrix reading it has whole activation groups in a row, each holding whole
 * weight groups (the kernels apply one activation scale per weight group). */
static bool act_group_fits(aq_model *m, int32_t i, int site) {
    aq_matrix *mats[AQ_MATRICES_PER_LAYER];
    aq_layer_matrices(&m->layers[i], mats);
    /* wq, wk, wv read the attention input; wo its output; gate and up the MLP input; down its activation. */
    static const int site_of[AQ_MATRICES_PER_LAYER] = {AQ_INPUT_QKV,      AQ_INPUT_QKV,    AQ_INPUT_QKV,
                                                       AQ_INPUT_ATTN_OUT, AQ_INPUT_FFN_UP, AQ_INPUT_FFN_UP,
                                                       AQ_INPUT_FFN_DOWN};
    size_t group = (size_t)m->layers[i].act[site].group;
    for (int j = 0; j < AQ_MATRICES_PER_LAYER; j++) {
        const aq_matrix *w = mats[j];
        if (site_of[j] != site || w->rows == 0 || w->format != AQ_WEIGHTS_Q4W) continue;
        if ((size_t)w->cols % group != 0 || group % w->q4w.group != 0) return false;
    }
    return true;
}

/* blk.N.SITE.act_group_bits (mix8-N): the width of each activation group of a
 * dynamic, grouped 4-bit input, 8 or 4, read in place. */
static aq_error load_group_bits(aq_model *m, int32_t i, int site) {
    static const char *const site_name[AQ_N_LINEAR_INPUTS] = {"attn_qkv", "attn_output", "ffn_up", "ffn_down"};
    char name[96];
    snprintf(name, sizeof name, "blk.%d.%s.act_group_bits", (int)i, site_name[site]);
    const aq_gguf_tensor *t = aq_gguf_find_tensor(m->gguf, name);
    if (!t) return AQ_OK;
    aq_layer *l = &m->layers[i];
    aq_act_quant *a = &l->act[site];
    const aq_matrix *reader = site == AQ_INPUT_QKV        ? &l->wq
                              : site == AQ_INPUT_ATTN_OUT ? &l->wo
                              : site == AQ_INPUT_FFN_UP   ? &l->w_up
                                                          : &l->w_down;
    if (a->bits != 4 || !a->group || reader->cols % a->group)
        return model_error(m, AQ_ERR_FORMAT, "%s for an input that is not 4-bit with activation groups", name);
    int64_t groups = reader->cols / a->group;
    if (!has_type_and_shape(t, AQ_TENSOR_I8, 1, groups))
        return aq_set_error(m->error, AQ_ERR_FORMAT, "%s is not %lld I8 values", name, (long long)groups);
    const uint8_t *bits = t->data;
    for (int64_t g = 0; g < groups; g++)
        if (bits[g] != 4 && bits[g] != 8)
            return aq_set_error(m->error, AQ_ERR_FORMAT, "%s holds %d at %lld (8 or 4)", name, (int)(int8_t)bits[g],
                                (long long)g);
    a->group_bits = bits;
    return AQ_OK;
}

/* The run-time settings of a quantized model (docs/FORMAT.md). */
static aq_error load_quantization(aq_model *m) {
    aq_gguf *g = m->gguf;
    uint32_t version;
    if (!aq_gguf_has_key(g, "agilequant.format_version")) return AQ_OK;
    if (aq_gguf_get_u32(g, "agilequant.format_version", &version) != AQ_OK || (version != 1 && version != 2))
        return model_error(m, AQ_ERR_UNSUPPORTED, "unsupported %s", "agilequant.format_version");
    m->down_rotation_blocked = version == 1;
    aq_gguf_str scheme;
    if (aq_gguf_get_str(g, "agilequant.scheme", &scheme) != AQ_OK || scheme.len == 0 || scheme.len >= sizeof m->scheme)
        return model_error(m, AQ_ERR_FORMAT, "malformed %s", "agilequant.scheme");
    memcpy(m->scheme, scheme.ptr, scheme.len);
    m->scheme[scheme.len] = '\0';
    uint32_t kv_bits = 0;
    if (aq_gguf_has_key(g, "agilequant.kv_bits") &&
        (aq_gguf_get_u32(g, "agilequant.kv_bits", &kv_bits) != AQ_OK || (kv_bits != 8 && kv_bits != 4)))
        return model_error(m, AQ_ERR_FORMAT, "malformed %s (8 or 4)", "agilequant.kv_bits");
    m->kv_bits = (int32_t)kv_bits;
    uint32_t act_group = 0;
    if (aq_gguf_has_key(g, "agilequant.act_group") &&
        (aq_gguf_get_u32(g, "agilequant.act_group", &act_group) != AQ_OK || act_group == 0 || act_group % 32 != 0 ||
         act_group > 4096))
        return model_error(m, AQ_ERR_FORMAT, "malformed %s", "agilequant.act_group");
    uint32_t act_clip = 0;
    if (aq_gguf_has_key(g, "agilequant.act_clip") &&
        (aq_gguf_get_u32(g, "agilequant.act_clip", &act_clip) != AQ_OK || act_clip != 1 || !act_group))
        return model_error(m, AQ_ERR_FORMAT, "malformed %s (1, with agilequant.act_group)", "agilequant.act_clip");
    uint32_t act_asym = 0;
    if (aq_gguf_has_key(g, "agilequant.act_asym") &&
        (aq_gguf_get_u32(g, "agilequant.act_asym", &act_asym) != AQ_OK || act_asym != 1 || !act_group || act_clip))
        return model_error(m, AQ_ERR_FORMAT, "malformed %s (1, with agilequant.act_group, without act_clip)",
                           "agilequant.act_asym");
    size_t n = (size_t)m->cfg.n_layers * AQ_N_LINEAR_INPUTS;
    int32_t *bits = malloc(n * sizeof *bits), *is_static = malloc(n * sizeof *is_static);
    int32_t *zero = malloc(n * sizeof *zero);
    float *scale = malloc(n * sizeof *scale);
    aq_error err = AQ_OK;
    if (!bits || !is_static || !zero || !scale) {
        err = aq_set_error(m->error, AQ_ERR_OUT_OF_MEMORY, "out of memory");
    } else if (aq_gguf_get_arr_i32(g, "agilequant.act_bits", bits, n) ||
               aq_gguf_get_arr_i32(g, "agilequant.act_static", is_static, n) ||
               aq_gguf_get_arr_i32(g, "agilequant.act_zero", zero, n) ||
               aq_gguf_get_arr_f32(g, "agilequant.act_scale", scale, n)) {
        err = model_error(m, AQ_ERR_FORMAT, "missing or malformed %s", "agilequant.act_* arrays");
    } else {
        for (size_t i = 0; i < n && err == AQ_OK; i++) {
            bool ok = (bits[i] == 0 || bits[i] == 4 || bits[i] == 8) &&
                      (!is_static[i] || (bits[i] && scale[i] > 0.0f && isfinite(scale[i]) &&
                                         zero[i] >= -(1 << (bits[i] - 1)) && zero[i] < (1 << (bits[i] - 1))));
            if (!ok) err = model_error(m, AQ_ERR_FORMAT, "bad activation setting in %s", "agilequant.act_*");
            aq_act_quant *a = &m->layers[i / AQ_N_LINEAR_INPUTS].act[i % AQ_N_LINEAR_INPUTS];
            *a = (aq_act_quant){.bits = bits[i], .is_static = is_static[i] != 0, .scale = scale[i], .zero = zero[i]};
            if (bits[i] && !is_static[i])
                a->group = (int32_t)act_group, a->clip = act_clip && act_group, a->asym = act_asym && act_group;
            if (err == AQ_OK && a->group &&
                !act_group_fits(m, (int32_t)(i / AQ_N_LINEAR_INPUTS), (int)(i % AQ_N_LINEAR_INPUTS)))
                err = model_error(m, AQ_ERR_FORMAT, "%s does not fit the INT4 matrices' widths and groups",
                                  "agilequant.act_group");
        }
    }
    for (size_t i = 0; i < n && err == AQ_OK; i++)
        err = load_group_bits(m, (int32_t)(i / AQ_N_LINEAR_INPUTS), (int)(i % AQ_N_LINEAR_INPUTS));
    if (err == AQ_OK && aq_gguf_find_tensor(g, "agilequant.down_rotation_signs"))
        err = load_f32(m, "agilequant.down_rotation_signs", 1, m->cfg.ffn_dim, (const float **)&m->down_rotation_signs);
    if (err == AQ_OK && aq_gguf_find_tensor(g, "agilequant.input_rotation_signs")) err = load_input_rotation(m);
    char name[96];
    for (int32_t i = 0; i < m->cfg.n_layers && err == AQ_OK; i++) {
        snprintf(name, sizeof name, "blk.%d.ffn_down.input_scale", (int)i);
        if (aq_gguf_find_tensor(g, name))
            err = load_f32(m, name, 1, m->cfg.ffn_dim, (const float **)&m->layers[i].down_input_scale);
    }
    free(bits);
    free(is_static);
    free(zero);
    free(scale);
    return err;
}

/* NAME.bias of a linear layer, if the file has it; an error if it is required and absent. */
static aq_error load_bias(aq_model *m, const char *name, bool required, aq_matrix *mat) {
    if (!aq_gguf_find_tensor(m->gguf, name)) {
        mat->bias = NULL;
        return required ? model_error(m, AQ_ERR_FORMAT, "missing tensor %s", name) : AQ_OK;
    }
    return load_f32(m, name, 1, mat->rows, &mat->bias);
}

/* The weight NAME.weight and the bias NAME.bias of a linear layer. */
static aq_error load_linear(aq_model *m, const char *name, int32_t rows, int32_t cols, bool bias_required,
                            aq_matrix *mat) {
    char full[128];
    snprintf(full, sizeof full, "%s.weight", name);
    aq_error err = load_matrix(m, full, rows, cols, mat);
    snprintf(full, sizeof full, "%s.bias", name);
    return err ? err : load_bias(m, full, bias_required, mat);
}

/* Rows [first, first + rows) of a loaded matrix of llama.cpp's formats or
 * F32, as a matrix of its own that shares the memory. */
static aq_matrix matrix_rows(const aq_matrix *w, int32_t first, int32_t rows) {
    aq_matrix part = *w;
    part.rows = rows;
    if (w->f32) part.f32 = w->f32 + (size_t)first * (size_t)w->cols;
    if (w->blocks) part.blocks = (const uint8_t *)w->blocks + (size_t)first * w->row_bytes;
    if (w->bias) part.bias = w->bias + first;
    return part;
}

/* The attention's Q, K and V: one fused attn_qkv (rows [Q; K; V], as
 * llama.cpp's graphs for bloom and gpt2 cut it) split into three views, or
 * three tensors (also what we save for a fused family once its matrices are
 * quantized apart). */
static aq_error load_qkv(aq_model *m, int32_t i, aq_layer *l) {
    const aq_config *c = &m->cfg;
    int32_t q_dim = c->n_heads * c->head_dim, kv_dim = c->n_kv_heads * c->head_dim;
    uint32_t need = c->family->required_biases;
    char name[96], full[128];
    snprintf(name, sizeof name, "blk.%d.attn_qkv", (int)i);
    snprintf(full, sizeof full, "%s.weight", name);
    aq_error err;
    char q_name[96];
    snprintf(q_name, sizeof q_name, "blk.%d.attn_q.weight", (int)i);
    bool separate = aq_gguf_find_tensor(m->gguf, q_name) || find_part(m, q_name, "q4") || find_part(m, q_name, "q3");
    if (aq_gguf_find_tensor(m->gguf, full) || (c->family->fused_qkv && !separate)) {
        aq_matrix qkv = {0};
        if ((err = load_linear(m, name, q_dim + 2 * kv_dim, c->dim, (need & AQ_BIAS_QKV) != 0, &qkv))) return err;
        l->wq = matrix_rows(&qkv, 0, q_dim);
        l->wk = matrix_rows(&qkv, q_dim, kv_dim);
        l->wv = matrix_rows(&qkv, q_dim + kv_dim, kv_dim);
        return AQ_OK;
    }
#define LINEAR(suffix, rows, bit, mat)                                                                                 \
    (snprintf(name, sizeof name, "blk.%d." suffix, (int)i),                                                            \
     load_linear(m, name, rows, c->dim, (need & (bit)) != 0, mat))
    if ((err = LINEAR("attn_q", q_dim, AQ_BIAS_Q, &l->wq)) || (err = LINEAR("attn_k", kv_dim, AQ_BIAS_K, &l->wk)) ||
        (err = LINEAR("attn_v", kv_dim, AQ_BIAS_V, &l->wv)))
        return err;
#undef LINEAR
    return AQ_OK;
}

/* A norm's weight NAME.weight and, for a LayerNorm, its bias NAME.bias. */
static aq_error load_norm(aq_model *m, const char *name, const float **weight, const float **bias) {
    char full[128];
    snprintf(full, sizeof full, "%s.weight", name);
    aq_error err = load_f32(m, full, 1, m->cfg.dim, weight);
    *bias = NULL;
    if (err || m->cfg.norm != AQ_NORM_LAYER) return err;
    snprintf(full, sizeof full, "%s.bias", name);
    return load_f32(m, full, 1, m->cfg.dim, bias);
}

static aq_error load_layer(aq_model *m, int32_t i, aq_layer *l) {
    const aq_config *c = &m->cfg;
    uint32_t need = c->family->required_biases;
    int32_t q_dim = c->n_heads * c->head_dim;
    char name[96];
    aq_error err;
#define NAME(suffix) (snprintf(name, sizeof name, "blk.%d." suffix, (int)i), name)
    if ((err = load_norm(m, NAME("attn_norm"), &l->attn_norm, &l->attn_norm_b)) || (err = load_qkv(m, i, l)) ||
        (err = load_linear(m, NAME("attn_output"), c->dim, q_dim, (need & AQ_BIAS_O) != 0, &l->wo)) ||
        (err = load_norm(m, NAME("ffn_norm"), &l->ffn_norm, &l->ffn_norm_b)) ||
        (c->family->mlp == AQ_MLP_SWIGLU &&
         (err = load_linear(m, NAME("ffn_gate"), c->ffn_dim, c->dim, false, &l->w_gate))) ||
        (err = load_linear(m, NAME("ffn_up"), c->ffn_dim, c->dim, (need & AQ_BIAS_UP) != 0, &l->w_up)))
        return err;
    if ((err = load_matrix(m, NAME("ffn_down.weight"), c->dim, c->ffn_dim, &l->w_down)) ||
        (err = load_bias(m, NAME("ffn_down.bias"), (need & AQ_BIAS_DOWN) != 0, &l->w_down)))
        return err;
#undef NAME
    return AQ_OK;
}

/* The strings of a GGUF string array: pointers into the file, and lengths. */
static aq_error read_strings(aq_model *m, const char *key, uint64_t n, const char ***out, uint64_t **lens) {
    *out = malloc((n ? n : 1) * sizeof **out);
    *lens = malloc((n ? n : 1) * sizeof **lens);
    if (!*out || !*lens) return aq_set_error(m->error, AQ_ERR_OUT_OF_MEMORY, "out of memory");
    for (uint64_t i = 0; i < n; i++) {
        aq_gguf_str s;
        if (aq_gguf_get_arr_str(m->gguf, key, i, &s) != AQ_OK)
            return model_error(m, AQ_ERR_FORMAT, "malformed %s", key);
        (*out)[i] = s.ptr;
        (*lens)[i] = s.len;
    }
    return AQ_OK;
}

static bool str_is(aq_gguf_str s, const char *text) { return s.len == strlen(text) && memcmp(s.ptr, text, s.len) == 0; }

/* Whether text gets a BOS when the file does not say (tokenizer.ggml.add_bos_token):
 * llama.cpp's defaults, SentencePiece yes, byte-level BPE only for Llama 3's vocabulary. */
static bool default_add_bos(aq_tokenizer_kind kind, aq_gguf_str pre) {
    if (kind == AQ_TOKENIZER_SPM) return true;
    return str_is(pre, "llama-bpe") || str_is(pre, "llama3") || str_is(pre, "llama-v3") || str_is(pre, "falcon3");
}

static aq_error load_tokenizer(aq_model *m) {
    aq_gguf *g = m->gguf;
    aq_gguf_str model_name, pre = {.ptr = NULL, .len = 0};
    if (aq_gguf_get_str(g, "tokenizer.ggml.model", &model_name) != AQ_OK)
        return model_error(m, AQ_ERR_FORMAT, "missing key %s", "tokenizer.ggml.model");
    aq_tokenizer_kind kind;
    if (str_is(model_name, "llama"))
        kind = AQ_TOKENIZER_SPM;
    else if (str_is(model_name, "gpt2"))
        kind = AQ_TOKENIZER_BPE;
    else
        return aq_set_error(m->error, AQ_ERR_UNSUPPORTED,
                            "tokenizer model '%.*s' is neither llama (SentencePiece) nor gpt2 (byte-level BPE)",
                            (int)(model_name.len > 64 ? 64 : model_name.len), model_name.ptr);
    if (aq_gguf_has_key(g, "tokenizer.ggml.pre") && aq_gguf_get_str(g, "tokenizer.ggml.pre", &pre) != AQ_OK)
        return model_error(m, AQ_ERR_FORMAT, "malformed %s", "tokenizer.ggml.pre");
    aq_gguf_type elem;
    uint64_t n, n_merges = 0;
    if (aq_gguf_get_arr_info(g, "tokenizer.ggml.tokens", &elem, &n) != AQ_OK || elem != AQ_GGUF_STRING)
        return model_error(m, AQ_ERR_FORMAT, "missing or malformed %s", "tokenizer.ggml.tokens");
    if (n == 0 || n > (1u << 24))
        return model_error(m, AQ_ERR_FORMAT, "vocabulary size out of range in %s", "tokenizer.ggml.tokens");
    if (n != (uint64_t)m->cfg.vocab_size)
        return aq_set_error(m->error, AQ_ERR_FORMAT, "vocabulary has %llu tokens but token_embd has %d rows",
                            (unsigned long long)n, m->cfg.vocab_size);
    if (kind == AQ_TOKENIZER_BPE && (aq_gguf_get_arr_info(g, "tokenizer.ggml.merges", &elem, &n_merges) != AQ_OK ||
                                     elem != AQ_GGUF_STRING || n_merges > (1u << 24)))
        return model_error(m, AQ_ERR_FORMAT, "missing or malformed %s", "tokenizer.ggml.merges");
    const char **pieces = NULL, **merges = NULL;
    uint64_t *lens = NULL, *merge_lens = NULL;
    float *scores = NULL;
    int32_t *types = NULL;
    aq_error err = read_strings(m, "tokenizer.ggml.tokens", n, &pieces, &lens);
    if (err == AQ_OK && kind == AQ_TOKENIZER_BPE)
        err = read_strings(m, "tokenizer.ggml.merges", n_merges, &merges, &merge_lens);
    if (err) goto done;
    if (kind == AQ_TOKENIZER_SPM && aq_gguf_has_key(g, "tokenizer.ggml.scores")) {
        scores = malloc(n * sizeof *scores);
        if (!scores || aq_gguf_get_arr_f32(g, "tokenizer.ggml.scores", scores, n) != AQ_OK) {
            err =
                model_error(m, scores ? AQ_ERR_FORMAT : AQ_ERR_OUT_OF_MEMORY, "malformed %s", "tokenizer.ggml.scores");
            goto done;
        }
    }
    if (aq_gguf_has_key(g, "tokenizer.ggml.token_type")) {
        types = malloc(n * sizeof *types);
        if (!types || aq_gguf_get_arr_i32(g, "tokenizer.ggml.token_type", types, n) != AQ_OK) {
            err = model_error(m, types ? AQ_ERR_FORMAT : AQ_ERR_OUT_OF_MEMORY, "malformed %s",
                              "tokenizer.ggml.token_type");
            goto done;
        }
    }
    /* SentencePiece's conventional ids when the file names none; a BPE vocabulary has none by default. */
    bool spm = kind == AQ_TOKENIZER_SPM;
    aq_tokenizer_spec spec = {.kind = kind,
                              .n_vocab = (int32_t)n,
                              .pieces = pieces,
                              .piece_lens = lens,
                              .types = types,
                              .bos = spm ? 1 : -1,
                              .eos = spm ? 2 : -1,
                              .unk = spm ? 0 : -1,
                              .add_bos = default_add_bos(kind, pre),
                              .scores = scores,
                              .add_space_prefix = spm,
                              .n_merges = (int32_t)n_merges,
                              .merges = merges,
                              .merge_lens = merge_lens,
                              .pre = pre.ptr,
                              .pre_len = pre.len};
    const struct {
        const char *key;
        int32_t *id;
    } ids[] = {
        {"tokenizer.ggml.bos_token_id", &spec.bos},
        {"tokenizer.ggml.eos_token_id", &spec.eos},
        {"tokenizer.ggml.unknown_token_id", &spec.unk},
    };
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        uint32_t v;
        if (!aq_gguf_has_key(g, ids[i].key)) continue;
        if (aq_gguf_get_u32(g, ids[i].key, &v) != AQ_OK || v >= n) {
            err = model_error(m, AQ_ERR_FORMAT, "malformed or out-of-range %s", ids[i].key);
            goto done;
        }
        *ids[i].id = (int32_t)v;
    }
    if (spec.bos >= (int32_t)n) spec.bos = -1;
    if (spec.eos >= (int32_t)n) spec.eos = -1;
    if (spec.unk >= (int32_t)n || !spm) spec.unk = -1;
    const struct {
        const char *key;
        bool *flag;
    } flags[] = {
        {"tokenizer.ggml.add_space_prefix", &spec.add_space_prefix},
        {"tokenizer.ggml.add_bos_token", &spec.add_bos},
    };
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        if (aq_gguf_has_key(g, flags[i].key) && aq_gguf_get_bool(g, flags[i].key, flags[i].flag) != AQ_OK) {
            err = model_error(m, AQ_ERR_FORMAT, "malformed %s", flags[i].key);
            goto done;
        }
    }
    spec.add_bos = spec.add_bos && spec.bos >= 0;
    char msg[AQ_MESSAGE_CAP];
    err = aq_tokenizer_create(&spec, &m->tokenizer, msg, sizeof msg);
    if (err != AQ_OK) aq_set_error(m->error, err, "tokenizer: %s", msg);
    m->bos = spec.bos;
    m->eos = spec.eos;
done:
    free(pieces);
    free(lens);
    free(merges);
    free(merge_lens);
    free(scores);
    free(types);
    return err;
}

void aq_model_describe_update(aq_model *m) {
    const aq_config *c = &m->cfg;
    const char *weights = m->scheme[0] ? m->scheme : aq_tensor_type_name(AQ_TENSOR_F32);
    const aq_gguf_tensor *q = aq_gguf_find_tensor(m->gguf, "blk.0.attn_q.weight");
    if (!q) q = aq_gguf_find_tensor(m->gguf, "blk.0.attn_qkv.weight");
    if (!m->scheme[0] && q) weights = aq_tensor_type_name(q->type);
    static const char *const positions[] = {"RoPE", "NeoX RoPE", "ALiBi", "learned positions"};
    static const char *const mlps[] = {"SwiGLU", "GELU", "ReLU"};
    snprintf(m->description, sizeof m->description,
             "%s: %d layers, width %d, %d heads (%d kv), ffn %d, vocab %d, context %d, %s, %s, %s, weights %s",
             c->family->name, c->n_layers, c->dim, c->n_heads, c->n_kv_heads, c->ffn_dim, c->vocab_size,
             c->context_length, c->norm == AQ_NORM_RMS ? "RMSNorm" : "LayerNorm", positions[c->family->positions],
             mlps[c->family->mlp], weights);
}

/* The angle per position of each rotated pair: base^(-2i / rope_dims), times
 * the linear scaling, divided by Llama 3's frequency factor when the file has
 * rope_freqs.weight (ggml's rope with freq_factors). */
static aq_error load_rope(aq_model *m) {
    const aq_config *c = &m->cfg;
    int32_t half = c->rope_dims / 2;
    aq_error err;
    if (aq_gguf_find_tensor(m->gguf, "rope_freqs.weight") &&
        (err = load_f32(m, "rope_freqs.weight", 1, half, &m->rope_freqs)))
        return err;
    for (int32_t i = 0; m->rope_freqs && i < half; i++)
        if (!(m->rope_freqs[i] > 0.0f))
            return aq_set_error(m->error, AQ_ERR_FORMAT, "tensor rope_freqs.weight holds %g at %d",
                                (double)m->rope_freqs[i], (int)i);
    m->rope_inv_freq = malloc((size_t)half * sizeof(float));
    if (!m->rope_inv_freq) return aq_set_error(m->error, AQ_ERR_OUT_OF_MEMORY, "out of memory");
    for (int32_t i = 0; i < half; i++) {
        double factor = m->rope_freqs ? (double)m->rope_freqs[i] : 1.0;
        m->rope_inv_freq[i] = (float)(pow(c->rope_theta, -2.0 * i / c->rope_dims) * c->rope_freq_scale / factor);
    }
    return AQ_OK;
}

/* The embedding table, learned positions and the embedding norm. */
static aq_error load_embedding(aq_model *m) {
    aq_config *c = &m->cfg;
    const aq_family *f = c->family;
    const aq_gguf_tensor *embd = aq_gguf_find_tensor(m->gguf, "token_embd.weight");
    int64_t width = c->dim;
    /* An INT4 table (a tied head under head-int4) is stored as its parts, two weights a byte. */
    if (!embd && (embd = find_part(m, "token_embd.weight", "q4"))) width = c->dim / 2;
    if (!embd) return model_error(m, AQ_ERR_FORMAT, "missing tensor %s", "token_embd.weight");
    if (embd->ne[1] < 1 || embd->ne[1] > (1 << 24) || embd->ne[0] != width)
        return model_error(m, AQ_ERR_FORMAT, "bad vocabulary size in %s", "token_embd.weight");
    c->vocab_size = (int32_t)embd->ne[1];
    aq_error err = load_matrix(m, "token_embd.weight", c->vocab_size, c->dim, &m->token_embd);
    if (!err && f->positions == AQ_POSITIONS_LEARNED)
        err = load_matrix(m, "position_embd.weight", c->context_length + f->position_offset, c->dim, &m->position_embd);
    if (!err && f->embedding_norm && !m->embd_norm_folded) {
        const aq_norm_kind kept = c->norm;
        c->norm = AQ_NORM_LAYER; /* a LayerNorm, even once rotation made the others RMSNorms */
        err = load_norm(m, "token_embd_norm", &m->embd_norm, &m->embd_norm_b);
        c->norm = kept;
    }
    return err;
}

aq_error aq_model_load_gguf(aq_model *m) {
    aq_config *c = &m->cfg;
    const char *kernels = m->kernels_override[0] ? m->kernels_override : getenv("AQ_KERNELS");
    aq_error err = aq_kernels_select(kernels, &m->kernels);
    if (err) return aq_set_error(m->error, err, "AQ_KERNELS=%s: no such kernels, or the CPU can't run them", kernels);
    if ((err = aq_gguf_check_disjoint(m->gguf, m->error, AQ_MESSAGE_CAP))) return err;
    if ((err = read_config(m, c)) || (err = load_embedding(m)) ||
        (err = load_norm(m, "output_norm", &m->output_norm, &m->output_norm_b)))
        return err;
    if (aq_gguf_find_tensor(m->gguf, "output.weight") || find_part(m, "output.weight", "q4") ||
        find_part(m, "output.weight", "q3")) {
        if ((err = load_linear(m, "output", c->vocab_size, c->dim, false, &m->output))) return err;
    } else {
        m->output = m->token_embd; /* tied embeddings */
        if (aq_gguf_find_tensor(m->gguf, "output.bias") && (err = load_bias(m, "output.bias", true, &m->output)))
            return err;
    }
    m->layers = calloc((size_t)c->n_layers, sizeof *m->layers);
    if (!m->layers) return aq_set_error(m->error, AQ_ERR_OUT_OF_MEMORY, "out of memory");
    for (int32_t i = 0; i < c->n_layers; i++)
        if ((err = load_layer(m, i, &m->layers[i]))) return err;
    if ((c->family->positions == AQ_POSITIONS_ROPE || c->family->positions == AQ_POSITIONS_ROPE_NEOX) &&
        (err = load_rope(m)))
        return err;

    if ((err = load_tokenizer(m)) || (err = load_quantization(m)) || (err = aq_model_pack(m))) return err;
    aq_model_describe_update(m);
    return AQ_OK;
}
