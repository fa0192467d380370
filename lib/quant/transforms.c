/* Function-preserving transforms applied before quantization: Hadamard
 * rotations folded into the weights (QuaRot-style) and MLP balancing. The
 * FP32 model computes the same function after them; only the ranges that
 * 4-bit quantization sees change.
 *
 * A rotation R of the residual stream commutes with RMSNorm (it keeps the
 * mean square) but not with LayerNorm (it moves the mean). So a LayerNorm
 * model is first made an RMSNorm one, as QuaRot does: every writer of the
 * residual (the embedding, learned positions, the output and down
 * projections with their biases) is centred, so that the residual is
 * mean-free and LayerNorm(x) = RMSNorm(x) exactly; each norm's weight and
 * bias move into the matrices that read it (a bias becomes b + W beta). BLOOM
 * normalizes the embedding itself, whose output is not mean-free: that norm
 * is a function of the token alone, so it is folded into the table row by
 * row (docs/ACCURACY.md). */
#include <math.h>
#include <stdlib.h>

#include "hadamard.h"
#include "norm.h"
#include "transforms.h"

#define ROTATION_SEED 0x5EED

/* x <- R x, R blocked as in files of format version 1 or full width. */
static void rotate(float *x, size_t n, const float *signs, bool blocked) {
    (blocked ? aq_hadamard_rotate_blocked : aq_hadamard_rotate)(x, n, signs);
}

/* The same on a strided vector (x[0], x[stride], ...), using scratch of n floats. */
static void rotate_strided(float *x, size_t n, size_t stride, const float *signs, bool blocked, float *scratch) {
    for (size_t i = 0; i < n; i++) scratch[i] = x[i * stride];
    rotate(scratch, n, signs, blocked);
    for (size_t i = 0; i < n; i++) x[i * stride] = scratch[i];
}

/* W' = W diag(factors) */
static void multiply_columns(aq_matrix *w, const float *factors) {
    float *f = (float *)w->f32;
    size_t cols = (size_t)w->cols;
    for (size_t r = 0; r < (size_t)w->rows; r++)
        for (size_t j = 0; j < cols; j++) f[r * cols + j] = f[r * cols + j] * factors[j];
}

/* The matrix's bias, made (zeros) if it has none; NULL if out of memory. */
static float *writable_bias(aq_model *m, aq_matrix *w) {
    if (!w->bias) {
        float *zeros = aq_model_own_floats(m, NULL, (size_t)w->rows);
        for (int32_t r = 0; zeros && r < w->rows; r++) zeros[r] = 0.0f;
        w->bias = zeros;
    }
    return (float *)w->bias;
}

/* A matrix that reads the normalized residual g * n + beta (beta NULL for
 * RMSNorm): W' = W diag(g) R^T, each row scaled by g, then rotated; the bias
 * becomes b + W beta. */
static aq_error fold_reader(aq_model *m, aq_matrix *w, const float *norm, const float *beta, const float *signs,
                            bool blocked) {
    if (!aq_matrix_present(w)) return AQ_OK;
    size_t cols = (size_t)w->cols;
    if (beta) {
        float *b = writable_bias(m, w);
        if (!b) return AQ_ERR_OUT_OF_MEMORY;
        for (size_t r = 0; r < (size_t)w->rows; r++) {
            double dot = 0.0;
            for (size_t j = 0; j < cols; j++) dot += (double)w->f32[r * cols + j] * (double)beta[j];
            b[r] = (float)((double)b[r] + dot);
        }
    }
    multiply_columns(w, norm);
    for (int32_t r = 0; r < w->rows; r++) rotate((float *)w->f32 + (size_t)r * cols, cols, signs, blocked);
    return AQ_OK;
}

/* A matrix that writes the residual: W' = R W, each column rotated; b' = R b. */
static void fold_writer(aq_matrix *w, const float *signs, bool blocked, float *scratch) {
    for (int32_t j = 0; j < w->cols; j++)
        rotate_strided((float *)w->f32 + j, (size_t)w->rows, (size_t)w->cols, signs, blocked, scratch);
    if (w->bias) rotate((float *)w->bias, (size_t)w->rows, signs, blocked);
}

/* Each row x of w made R x: the rows of a table added to the residual (embedding, positions), or of a matrix
 * whose input is rotated online (W' = W R^T). */
static void rotate_rows(aq_matrix *w, const float *signs, bool blocked) {
    for (int32_t r = 0; aq_matrix_present(w) && r < w->rows; r++)
        rotate((float *)w->f32 + (size_t)r * (size_t)w->cols, (size_t)w->cols, signs, blocked);
}

static void subtract_mean(float *v, size_t n, size_t stride) {
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) sum += v[i * stride];
    float mean = (float)(sum / (double)n);
    for (size_t i = 0; i < n; i++) v[i * stride] -= mean;
}

/* A writer of the residual made mean-free: W' = C W, b' = C b, with
 * C = I - 1 1^T / dim (each column and the bias lose their mean). */
static void centre_writer(aq_matrix *w) {
    for (int32_t j = 0; j < w->cols; j++) subtract_mean((float *)w->f32 + j, (size_t)w->rows, (size_t)w->cols);
    if (w->bias) subtract_mean((float *)w->bias, (size_t)w->rows, 1);
}

/* The rows of a table added to the residual, made mean-free. */
static void centre_rows(aq_matrix *w) {
    for (int32_t r = 0; aq_matrix_present(w) && r < w->rows; r++)
        subtract_mean((float *)w->f32 + (size_t)r * (size_t)w->cols, (size_t)w->cols, 1);
}

static void set_ones(const float *v, size_t n) {
    for (size_t i = 0; i < n; i++) ((float *)v)[i] = 1.0f;
}

/* The embedding norm folded into the table and the tables centred: the part
 * of making a LayerNorm model an RMSNorm one (see the top) that is not in a
 * layer; aq_rotate_layer centres each layer's writers. The norms' weights and
 * biases stay, for the rotation to fold into the readers. */
static void centre_embedding(aq_model *m) {
    aq_config *c = &m->cfg;
    if (m->embd_norm) {
        float *table = (float *)m->token_embd.f32;
        aq_norm_rows(AQ_NORM_LAYER, table, table, m->embd_norm, m->embd_norm_b, m->token_embd.rows, c->dim,
                     c->norm_eps);
        m->embd_norm = m->embd_norm_b = NULL;
        m->embd_norm_folded = true;
    }
    centre_rows(&m->token_embd);
    centre_rows(&m->position_embd);
    c->norm = AQ_NORM_RMS;
}

void aq_rotation_free(aq_rotation *r) {
    free(r->residual);
    free(r->head);
    free(r->scratch);
    *r = (aq_rotation){0};
}

aq_error aq_rotate_begin(aq_model *m, aq_rotation *r, bool blocked, bool online) {
    const aq_config *c = &m->cfg;
    size_t dim = (size_t)c->dim, hd = (size_t)c->head_dim, ffn = (size_t)c->ffn_dim;
    size_t widest = dim > ffn ? dim : ffn;
    *r = (aq_rotation){.residual = malloc(dim * sizeof(float)),
                       .head = malloc(hd * sizeof(float)),
                       .scratch = malloc(widest * sizeof(float)),
                       .centre = c->norm == AQ_NORM_LAYER && !online,
                       .blocked = blocked,
                       .online = online};
    float *down = aq_model_own_floats(m, NULL, ffn);
    aq_error err = AQ_ERR_OUT_OF_MEMORY;
    if (!r->residual || !r->head || !r->scratch || !down) goto fail;
    aq_random_signs(r->residual, dim, ROTATION_SEED);
    aq_random_signs(r->head, hd, ROTATION_SEED + 1);
    aq_random_signs(down, ffn, ROTATION_SEED + 2);
    if (online) {
        float *inputs = aq_model_own_floats(m, NULL, dim);
        if (!inputs) goto fail;
        for (size_t i = 0; i < dim; i++) inputs[i] = r->residual[i];
        m->input_rotation_signs = inputs;
        m->down_rotation_signs = down;
        m->down_rotation_blocked = false;
        return AQ_OK;
    }
    if (r->centre) centre_embedding(m);
    rotate_rows(&m->token_embd, r->residual, blocked);
    rotate_rows(&m->position_embd, r->residual, blocked);
    if ((err = fold_reader(m, &m->output, m->output_norm, m->output_norm_b, r->residual, blocked))) goto fail;
    set_ones(m->output_norm, dim);
    m->output_norm_b = NULL;
    m->down_rotation_signs = down;
    m->down_rotation_blocked = blocked;
    return AQ_OK;
fail:
    aq_rotation_free(r);
    return err;
}

aq_error aq_rotate_layer(aq_model *m, const aq_rotation *r, aq_layer *l) {
    const aq_config *c = &m->cfg;
    size_t dim = (size_t)c->dim, hd = (size_t)c->head_dim, ffn = (size_t)c->ffn_dim;
    const float *residual = r->residual, *head = r->head, *down = m->down_rotation_signs;
    float *scratch = r->scratch;
    bool blocked = r->blocked;
    aq_error err;
    if (r->centre) {
        centre_writer(&l->wo);
        centre_writer(&l->w_down);
    }
    aq_matrix *readers[] = {&l->wq, &l->wk, &l->wv, &l->w_gate, &l->w_up};
    for (size_t j = 0; j < 5 && r->online; j++) rotate_rows(readers[j], m->input_rotation_signs, false);
    for (size_t j = 0; j < 5 && !r->online; j++) {
        const float *g = j < 3 ? l->attn_norm : l->ffn_norm, *beta = j < 3 ? l->attn_norm_b : l->ffn_norm_b;
        if ((err = fold_reader(m, readers[j], g, beta, residual, blocked))) return err;
    }
    if (!r->online) {
        set_ones(l->attn_norm, dim);
        set_ones(l->ffn_norm, dim);
        l->attn_norm_b = l->ffn_norm_b = NULL;
    }
    /* Per head, V's output and the output projection's input by R2:
     * V' = R2 V (columns of each head's rows, and the bias), Wo' = Wo R2^T
     * (each head's segment of each row). */
    for (int32_t h = 0; h < c->n_kv_heads; h++) {
        for (int32_t j = 0; j < l->wv.cols; j++)
            rotate_strided((float *)l->wv.f32 + (size_t)h * hd * (size_t)l->wv.cols + j, hd, (size_t)l->wv.cols, head,
                           blocked, scratch);
        if (l->wv.bias) rotate((float *)l->wv.bias + (size_t)h * hd, hd, head, blocked);
    }
    for (int32_t row = 0; row < l->wo.rows; row++)
        for (int32_t h = 0; h < c->n_heads; h++)
            rotate((float *)l->wo.f32 + (size_t)row * (size_t)l->wo.cols + (size_t)h * hd, hd, head, blocked);
    if (!r->online) fold_writer(&l->wo, residual, blocked, scratch);
    /* The down projection's input is rotated online (it follows the MLP's
     * activation, which no rotation passes through): Wd' = Wd R3^T, each row rotated. */
    for (int32_t row = 0; row < l->w_down.rows; row++)
        rotate((float *)l->w_down.f32 + (size_t)row * ffn, ffn, down, blocked);
    if (!r->online) fold_writer(&l->w_down, residual, blocked, scratch);
    return AQ_OK;
}

aq_error aq_rotate_model(aq_model *m, bool blocked, bool online) {
    aq_rotation r;
    aq_error err = aq_rotate_begin(m, &r, blocked, online);
    for (int32_t i = 0; err == AQ_OK && i < m->cfg.n_layers; i++) err = aq_rotate_layer(m, &r, &m->layers[i]);
    aq_rotation_free(&r);
    return err;
}

/* Cross-layer equalization of the MLP (Nagel et al., data-free quantization):
 * the down projection's input is silu(gate x) * (up x + b) or relu(up x + b),
 * positively homogeneous in each row of up and its bias, so dividing them by
 * s_j > 0 and multiplying down's column j by s_j leaves the function
 * unchanged. s_j = sqrt(max|up_j| / max|down_:,j|) gives both the same range,
 * which takes a channel that carries a large activation (a big up row, a
 * small down column) back to the size of the others before rotation and
 * 4-bit quantization see it. GELU is not homogeneous: its MLPs are left alone. */
void aq_balance_mlp(aq_layer *l, aq_mlp_kind mlp) {
    if (mlp == AQ_MLP_GELU) return;
    float *up = (float *)l->w_up.f32, *down = (float *)l->w_down.f32, *up_bias = (float *)l->w_up.bias;
    size_t ffn = (size_t)l->w_up.rows, dim = (size_t)l->w_up.cols, down_rows = (size_t)l->w_down.rows;
    for (size_t j = 0; j < ffn; j++) {
        float up_max = 0.0f, down_max = 0.0f;
        for (size_t c = 0; c < dim; c++) up_max = fmaxf(up_max, fabsf(up[j * dim + c]));
        for (size_t r = 0; r < down_rows; r++) down_max = fmaxf(down_max, fabsf(down[r * ffn + j]));
        if (!(up_max > 0.0f) || !(down_max > 0.0f) || !isfinite(up_max) || !isfinite(down_max)) continue;
        float s = sqrtf(up_max / down_max);
        for (size_t c = 0; c < dim; c++) up[j * dim + c] /= s;
        if (up_bias) up_bias[j] /= s;
        for (size_t r = 0; r < down_rows; r++) down[r * ffn + j] *= s;
    }
}

/* The same equalization for attention: its output is sum_t a_t (V x_t + b)
 * with weights a_t that do not depend on V, so it is linear in each row of V
 * and its bias. Dividing V's row j by s_j and multiplying by s_j the output
 * projection's columns that read channel j (one per query head sharing the
 * KV head) leaves the function unchanged; s_j = sqrt(max|V_j| / max|O_:,j|)
 * gives both the same range. This takes a large value channel (QuaRot's and
 * SpinQuant's V/O site) back to the size of the others before the per-head
 * rotation spreads what is left over the head. */
void aq_balance_attention(aq_layer *l, const aq_config *c) {
    if (!aq_matrix_present(&l->wv) || !aq_matrix_present(&l->wo)) return;
    float *v = (float *)l->wv.f32, *o = (float *)l->wo.f32, *v_bias = (float *)l->wv.bias;
    size_t v_cols = (size_t)l->wv.cols, o_rows = (size_t)l->wo.rows, o_cols = (size_t)l->wo.cols;
    size_t hd = (size_t)c->head_dim, rep = (size_t)(c->n_heads / c->n_kv_heads);
    for (size_t ch = 0; ch < (size_t)c->n_kv_heads * hd; ch++) {
        size_t first = ch / hd * rep * hd + ch % hd; /* O's column for the first query head on this KV head */
        float v_max = 0.0f, o_max = 0.0f;
        for (size_t j = 0; j < v_cols; j++) v_max = fmaxf(v_max, fabsf(v[ch * v_cols + j]));
        for (size_t h = 0; h < rep; h++)
            for (size_t r = 0; r < o_rows; r++) o_max = fmaxf(o_max, fabsf(o[r * o_cols + first + h * hd]));
        if (!(v_max > 0.0f) || !(o_max > 0.0f) || !isfinite(v_max) || !isfinite(o_max)) continue;
        float s = sqrtf(v_max / o_max);
        for (size_t j = 0; j < v_cols; j++) v[ch * v_cols + j] /= s;
        if (v_bias) v_bias[ch] /= s;
        for (size_t h = 0; h < rep; h++)
            for (size_t r = 0; r < o_rows; r++) o[r * o_cols + first + h * hd] *= s;
    }
}

/* One norm and its readers: g' = g s, beta' = beta s, W' = W diag(1 / s). */
static aq_error smooth_norm(aq_model *m, const float **norm, const float **beta, aq_matrix *const *readers,
                            size_t n_readers, const float *s) {
    size_t dim = (size_t)m->cfg.dim;
    float *g = aq_model_own_floats(m, *norm, dim), *b = *beta ? aq_model_own_floats(m, *beta, dim) : NULL;
    float *inverse = malloc(dim * sizeof *inverse);
    if (!g || (*beta && !b) || !inverse) {
        free(inverse);
        return AQ_ERR_OUT_OF_MEMORY;
    }
    for (size_t j = 0; j < dim; j++) {
        g[j] *= s[j];
        if (b) b[j] *= s[j];
        inverse[j] = 1.0f / s[j];
    }
    for (size_t r = 0; r < n_readers; r++)
        if (aq_matrix_present(readers[r])) multiply_columns(readers[r], inverse);
    free(inverse);
    *norm = g;
    if (b) *beta = b;
    return AQ_OK;
}

aq_error aq_smooth_inputs(aq_model *m, aq_layer *l, const float *attn, const float *ffn, const float *down) {
    aq_matrix *attn_readers[] = {&l->wq, &l->wk, &l->wv}, *ffn_readers[] = {&l->w_gate, &l->w_up};
    aq_error err = smooth_norm(m, &l->attn_norm, &l->attn_norm_b, attn_readers, 3, attn);
    if (!err) err = smooth_norm(m, &l->ffn_norm, &l->ffn_norm_b, ffn_readers, 2, ffn);
    if (err || m->cfg.family->mlp == AQ_MLP_GELU) return err;
    float *up = (float *)l->w_up.f32, *down_w = (float *)l->w_down.f32, *up_bias = (float *)l->w_up.bias;
    size_t ffn_dim = (size_t)l->w_up.rows, dim = (size_t)l->w_up.cols, down_rows = (size_t)l->w_down.rows;
    for (size_t j = 0; j < ffn_dim; j++) {
        for (size_t c = 0; c < dim; c++) up[j * dim + c] *= down[j];
        if (up_bias) up_bias[j] *= down[j];
        for (size_t r = 0; r < down_rows; r++) down_w[r * ffn_dim + j] /= down[j];
    }
    return AQ_OK;
}
