/* Function-preserving transforms applied before quantization: Hadamard
 * rotations folded into the weights (QuaRot-style) and MLP balancing. The
 * FP32 model computes the same function after them; only the ranges that
 * 4-bit quantization sees change. */
#include <math.h>
#include <stdlib.h>

#include "hadamard.h"
#include "transforms.h"

#define ROTATION_SEED 0x5EED

/* W' = W diag(factors) */
static void multiply_columns(aq_matrix *w, const float *factors) {
    float *f = (float *)w->f32;
    size_t cols = (size_t)w->cols;
    for (size_t r = 0; r < (size_t)w->rows; r++)
        for (size_t j = 0; j < cols; j++) f[r * cols + j] = f[r * cols + j] * factors[j];
}

/* A matrix that reads the normalized residual: W' = W diag(g) R^T, i.e.
 * each row scaled by g, then rotated. */
static void fold_reader(aq_matrix *w, const float *norm, const float *signs) {
    multiply_columns(w, norm);
    for (int32_t r = 0; r < w->rows; r++)
        aq_hadamard_rotate((float *)w->f32 + (size_t)r * (size_t)w->cols, (size_t)w->cols, signs);
}

/* A matrix that writes the residual: W' = R W, each column rotated. */
static void fold_writer(aq_matrix *w, const float *signs, float *scratch) {
    for (int32_t j = 0; j < w->cols; j++)
        aq_hadamard_rotate_strided((float *)w->f32 + j, (size_t)w->rows, (size_t)w->cols, signs, scratch);
}

static void set_ones(const float *v, size_t n) {
    for (size_t i = 0; i < n; i++) ((float *)v)[i] = 1.0f;
}

aq_error aq_rotate_model(aq_model *m) {
    const aq_config *c = &m->cfg;
    size_t dim = (size_t)c->dim, hd = (size_t)c->head_dim, ffn = (size_t)c->ffn_dim;
    size_t widest = dim > ffn ? dim : ffn;
    float *residual = malloc(dim * sizeof(float)), *head = malloc(hd * sizeof(float));
    float *scratch = malloc(widest * sizeof(float));
    float *down = aq_model_own_floats(m, NULL, ffn);
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
                aq_hadamard_rotate_strided((float *)l->wv.f32 + (size_t)h * hd * (size_t)l->wv.cols + j, hd,
                                           (size_t)l->wv.cols, head, scratch);
        for (int32_t r = 0; r < l->wo.rows; r++)
            for (int32_t h = 0; h < c->n_heads; h++)
                aq_hadamard_rotate((float *)l->wo.f32 + (size_t)r * (size_t)l->wo.cols + (size_t)h * hd, hd, head);
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
void aq_balance_mlp(aq_layer *l) {
    float *up = (float *)l->w_up.f32, *down = (float *)l->w_down.f32;
    size_t ffn = (size_t)l->w_up.rows, dim = (size_t)l->w_up.cols, down_rows = (size_t)l->w_down.rows;
    for (size_t j = 0; j < ffn; j++) {
        float up_max = 0.0f, down_max = 0.0f;
        for (size_t c = 0; c < dim; c++) up_max = fmaxf(up_max, fabsf(up[j * dim + c]));
        for (size_t r = 0; r < down_rows; r++) down_max = fmaxf(down_max, fabsf(down[r * ffn + j]));
        if (!(up_max > 0.0f) || !(down_max > 0.0f) || !isfinite(up_max) || !isfinite(down_max)) continue;
        float s = sqrtf(up_max / down_max);
        for (size_t c = 0; c < dim; c++) up[j * dim + c] /= s;
        for (size_t r = 0; r < down_rows; r++) down[r * ffn + j] *= s;
    }
}

