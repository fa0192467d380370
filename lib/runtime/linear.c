#include "linear.h"

/* Output rows handed to one thread at a time: enough to amortize the
 * dispatch, few enough to balance two to eight threads. */
#define GEMM_ROWS_PER_TASK 16

typedef struct linear_task {
    const aq_kernels *kernels;
    const aq_matrix *w;
    const float *x;             /* float input (F32 weights, or weight-only quantization) */
    const struct aq_qd8 *qa;    /* quantized input, for INT4 weights with quantized activations */
    const block_q8_0 *qa_blocks;/* quantized input, for llama.cpp's formats */
    float *out;
    size_t m;
} linear_task;

static void linear_rows(void *arg, size_t row_begin, size_t rows) {
    const linear_task *t = arg;
    const aq_matrix *w = t->w;
    size_t row_end = row_begin + rows, k = (size_t)w->cols, ld = (size_t)w->rows, blocks = k / AQ_QK8_0;
    switch (w->format) {
    case AQ_WEIGHTS_F32:
        t->kernels->f32_gemm(t->m, row_begin, row_end, k, t->x, k, w->f32, t->out, ld);
        break;
    case AQ_WEIGHTS_Q4W:
        if (t->qa)
            t->kernels->qc4w_gemm.gemm(t->m, row_begin, row_end, t->qa, &w->q4w, w->packed, t->out, ld);
        else
            t->kernels->f32_qc4w_gemm(t->m, row_begin, row_end, t->x, k, &w->q4w, t->out, ld);
        break;
    case AQ_WEIGHTS_Q4_0:
        for (size_t tok = 0; tok < t->m; tok++)
            for (size_t r = row_begin; r < row_end; r++)
                t->out[tok * ld + r] = t->kernels->q4_0_q8_0_dot(k, (const block_q4_0 *)w->blocks + r * blocks,
                                                                 t->qa_blocks + tok * blocks);
        break;
    case AQ_WEIGHTS_Q8_0:
        for (size_t tok = 0; tok < t->m; tok++)
            for (size_t r = row_begin; r < row_end; r++)
                t->out[tok * ld + r] = t->kernels->q8_0_q8_0_dot(k, (const block_q8_0 *)w->blocks + r * blocks,
                                                                 t->qa_blocks + tok * blocks);
        break;
    }
}

aq_activations aq_linear_input_at(aq_context *ctx, int32_t layer, aq_linear_input site, const float *x,
                                  int32_t n_tokens, int32_t width) {
    if (ctx->observe) ctx->observe(ctx->observe_user, layer, site, x, n_tokens, width);
    ctx->qa_ready = ctx->qa_blocks_ready = false;
    const aq_act_quant *policy = layer >= 0 ? &ctx->model->layers[layer].act[site] : NULL;
    return (aq_activations){.x = x, .n_tokens = n_tokens, .width = width,
                            .policy = policy && policy->bits ? policy : NULL};
}

/* What the quantized input is for: our INT4 kernels read per-token INT8
 * (or INT4-range) rows, llama.cpp's block formats read Q8_0 blocks. */
typedef enum act_format { ACT_QD8, ACT_Q8_0_BLOCKS } act_format;

typedef struct quantize_task {
    aq_context *ctx;
    const aq_activations *in;
    act_format format;
} quantize_task;

/* Quantizes rows [t_begin, t_begin + rows) of a linear input: the formats
 * are per row, so threads split the tokens and the result is the same. */
static void quantize_rows(void *arg, size_t t_begin, size_t rows) {
    const quantize_task *task = arg;
    aq_context *ctx = task->ctx;
    const aq_activations *in = task->in;
    size_t k = (size_t)in->width;
    const float *x = in->x + t_begin * k;
    if (task->format == ACT_QD8) {
        const aq_act_quant *p = in->policy;
        struct aq_qd8 rows_view = {.q = ctx->qa.q + t_begin * k, .scale = ctx->qa.scale + t_begin,
                                   .zero = ctx->qa.zero + t_begin};
        if (p->is_static)
            aq_qd8_quantize_static_ref(x, rows, k, k, p->scale, p->zero, p->bits, &rows_view);
        else
            aq_qd8_quantize_dynamic_ref(x, rows, k, k, p->bits, &rows_view);
    } else {
        for (size_t t = 0; t < rows; t++)
            aq_q8_0_quantize_ref(x + t * k, k, (block_q8_0 *)ctx->qa_blocks + (t_begin + t) * (k / AQ_QK8_0));
    }
}

static void quantize_input(aq_context *ctx, const aq_activations *in, act_format format) {
    quantize_task task = {.ctx = ctx, .in = in, .format = format};
    pthreadpool_parallelize_1d_tile_1d(ctx->pool, quantize_rows, &task, (size_t)in->n_tokens, 4,
                                       PTHREADPOOL_FLAG_DISABLE_DENORMALS);
    if (format == ACT_QD8) {
        ctx->qa.n_rows = (size_t)in->n_tokens;
        ctx->qa.k = (size_t)in->width;
    }
}

void aq_linear(aq_context *ctx, const aq_matrix *w, const aq_activations *in, float *out) {
    linear_task task = {.kernels = &ctx->model->kernels, .w = w, .x = in->x, .out = out, .m = (size_t)in->n_tokens};
    if (w->format == AQ_WEIGHTS_Q4W && in->policy) {
        if (!ctx->qa_ready) quantize_input(ctx, in, ACT_QD8);
        ctx->qa_ready = true;
        task.qa = &ctx->qa;
    } else if (w->format == AQ_WEIGHTS_Q4_0 || w->format == AQ_WEIGHTS_Q8_0) {
        if (!ctx->qa_blocks_ready) quantize_input(ctx, in, ACT_Q8_0_BLOCKS);
        ctx->qa_blocks_ready = true;
        task.qa_blocks = ctx->qa_blocks;
    }
    size_t tile = GEMM_ROWS_PER_TASK;
    size_t n_tile = ctx->model->kernels.qc4w_gemm.n_tile;
    if (w->format == AQ_WEIGHTS_Q4W && n_tile > 1) tile = (tile + n_tile - 1) / n_tile * n_tile;
    pthreadpool_parallelize_1d_tile_1d(ctx->pool, linear_rows, &task, (size_t)w->rows, tile,
                                       PTHREADPOOL_FLAG_DISABLE_DENORMALS);
}

