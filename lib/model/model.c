/* The model handle's own memory: the buffers a load or a quantization made
 * (converted tensors, quantized weights, packed tiles) live in one list and
 * go with the model. */
#include <stdlib.h>
#include <string.h>

#include "model.h"

void aq_matrix_row(const aq_matrix *w, int32_t r, float *out) {
    size_t cols = (size_t)w->cols;
    switch (w->format) {
    case AQ_WEIGHTS_F32:
        memcpy(out, w->f32 + (size_t)r * cols, cols * sizeof(float));
        break;
    case AQ_WEIGHTS_BLOCKS:
        w->block_type->dequantize((const uint8_t *)w->blocks + (size_t)r * w->row_bytes, cols, out);
        break;
    case AQ_WEIGHTS_Q4W: {
        /* An INT4 table (a tied head under head-int4): a one-row view of the plain layout. */
        size_t groups = cols / w->q4w.group;
        struct aq_q4w row = w->q4w;
        row.n_rows = 1;
        row.q = w->q4w.q + (size_t)r * cols / 2;
        row.scale = w->q4w.scale + (size_t)r * groups;
        row.zero = w->q4w.zero ? w->q4w.zero + (size_t)r * groups : NULL;
        aq_q4w_dequantize_ref(&row, out);
        break;
    }
    }
}

int64_t aq_matrix_bytes(const aq_matrix *w, size_t (*packed_size)(const struct aq_q4w *w)) {
    int64_t n = (int64_t)w->rows * w->cols;
    switch (w->format) {
    case AQ_WEIGHTS_F32:
        return n * (int64_t)sizeof(float);
    case AQ_WEIGHTS_BLOCKS:
        return (int64_t)w->rows * (int64_t)w->row_bytes;
    case AQ_WEIGHTS_Q4W:
        /* 3-bit: the codes' planes and the f16 scales (the packed layout pads only the last tile). */
        if (w->q3w) return n * 3 / 8 + n / (int64_t)w->q4w.group * 2;
        if (w->packed && packed_size) return (int64_t)packed_size(&w->q4w);
        return n / 2 + n / (int64_t)w->q4w.group * (w->q4w.zero ? 3 : 2);
    }
    return 0;
}

int64_t aq_model_vector_floats(const aq_model *m) {
    const aq_config *c = &m->cfg;
    int64_t n = 0, dim = c->dim;
    const float *norms[] = {m->embd_norm, m->embd_norm_b, m->output_norm, m->output_norm_b};
    for (size_t i = 0; i < sizeof norms / sizeof norms[0]; i++) n += norms[i] ? dim : 0;
    n += m->output.bias ? c->vocab_size : 0;
    for (int32_t i = 0; i < c->n_layers; i++) {
        aq_layer *l = &m->layers[i];
        n += dim * (2 + (l->attn_norm_b != NULL) + (l->ffn_norm_b != NULL));
        aq_matrix *mats[AQ_MATRICES_PER_LAYER];
        aq_layer_matrices(l, mats);
        for (int j = 0; j < AQ_MATRICES_PER_LAYER; j++) n += mats[j]->bias ? mats[j]->rows : 0;
    }
    return n;
}

void aq_model_clear(aq_model *m) {
    for (size_t i = 0; i < m->n_owned; i++) free(m->owned[i]);
    free(m->owned);
    free(m->layers);
    free(m->rope_inv_freq);
    aq_tokenizer_free(m->tokenizer);
    aq_gguf_close(m->gguf);
    /* the settings and the message outlive a failed load */
    aq_model kept = {.progress = m->progress, .progress_user = m->progress_user};
    memcpy(kept.error, m->error, sizeof kept.error);
    memcpy(kept.kernels_override, m->kernels_override, sizeof kept.kernels_override);
    *m = kept;
}

void aq_model_destroy(aq_model *m) {
    aq_model_clear(m);
    free(m);
}

void *aq_model_own(aq_model *m, void *buf) {
    if (!buf) return NULL;
    void **grown = realloc(m->owned, (m->n_owned + 1) * sizeof *grown);
    if (!grown) {
        free(buf);
        return NULL;
    }
    m->owned = grown;
    m->owned[m->n_owned++] = buf;
    return buf;
}

void aq_model_free_owned(aq_model *m, const void *buf) {
    for (size_t i = 0; buf && i < m->n_owned; i++)
        if (m->owned[i] == buf) {
            free(m->owned[i]);
            m->owned[i] = m->owned[--m->n_owned];
            return;
        }
}

float *aq_model_own_floats(aq_model *m, const float *src, size_t n) {
    float *dst = aq_model_own(m, malloc(n * sizeof *dst));
    if (dst && src) memcpy(dst, src, n * sizeof *dst);
    return dst;
}
