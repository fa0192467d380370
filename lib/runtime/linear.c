#include "linear.h"

/* Output rows handed to one thread at a time: enough to amortize the
 * dispatch, few enough to balance two to eight threads. */
#define GEMM_ROWS_PER_TASK 16
/* Batches of at most this many tokens are split by DECODE_TASKS_PER_THREAD. */
#define DECODE_TOKENS 4
#define DECODE_TASKS_PER_THREAD 4

typedef struct linear_task {
    const aq_kernels *kernels;
    const aq_matrix *w;
    const float *x;           /* float input (F32 weights, or weight-only quantization) */
    const struct aq_qd8 *qa;  /* quantized input, for INT4 weights with quantized activations */
    const uint8_t *qa_blocks; /* quantized input, for llama.cpp's formats: rows of qa_row_bytes */
    size_t qa_row_bytes;
    float *out;
    size_t m;
} linear_task;

/* Rows [row_begin, row_end) of llama.cpp's formats, in the file's layout, times
 * the task's m activation rows: the kernel table's block GEMM for the type (tiles
 * of tokens x rows, each output the reference dot's bits), else the reference dot. */
static void block_gemm_plain(const linear_task *t, size_t row_begin, size_t row_end) {
    const aq_matrix *w = t->w;
    const size_t k = (size_t)w->cols, ld = (size_t)w->rows;
    const aq_block_type *bt = w->block_type;
    const aq_block_gemm_kernel *g = bt->type < AQ_BLOCK_TYPE_SLOTS ? t->kernels->block_gemm[bt->type] : NULL;
    if (g) {
        g->fn(t->m, row_begin, row_end, k, w->blocks, w->row_bytes, t->qa_blocks, t->qa_row_bytes, t->out, ld);
        return;
    }
    for (size_t tok = 0; tok < t->m; tok++)
        for (size_t r = row_begin; r < row_end; r++)
            t->out[tok * ld + r] =
                bt->dot(k, (const uint8_t *)w->blocks + r * w->row_bytes, t->qa_blocks + tok * t->qa_row_bytes);
}

/* The same, where the model repacked the matrix's rows into groups of 8
 * (aq_matrix.x8): the whole groups in [row_begin, row_end) run the repacked
 * kernel (the same bits), the rows around them the plain path. */
static void block_gemm(const linear_task *t, size_t row_begin, size_t row_end) {
    const aq_matrix *w = t->w;
    const size_t k = (size_t)w->cols, ld = (size_t)w->rows;
    const aq_block_type *bt = w->block_type;
    const size_t x8_begin = (row_begin + AQ_X8_ROWS - 1) / AQ_X8_ROWS * AQ_X8_ROWS;
    const size_t x8_end = (row_end < w->x8_rows ? row_end : w->x8_rows) / AQ_X8_ROWS * AQ_X8_ROWS;
    if (w->x8 && x8_begin < x8_end) {
        t->kernels->block_gemm_x8[bt->type]->fn(t->m, x8_begin, x8_end, k, w->x8, w->row_bytes, t->qa_blocks,
                                                t->qa_row_bytes, t->out, ld);
        if (row_begin < x8_begin) block_gemm_plain(t, row_begin, x8_begin);
        if (x8_end < row_end) block_gemm_plain(t, x8_end, row_end);
        return;
    }
    block_gemm_plain(t, row_begin, row_end);
}

static void linear_rows(void *arg, size_t row_begin, size_t rows) {
    const linear_task *t = arg;
    const aq_matrix *w = t->w;
    size_t row_end = row_begin + rows, k = (size_t)w->cols, ld = (size_t)w->rows;
    switch (w->format) {
    case AQ_WEIGHTS_F32:
        t->kernels->f32_gemm(t->m, row_begin, row_end, k, t->x, k, w->f32, t->out, ld);
        break;
    case AQ_WEIGHTS_Q4W:
        if (t->qa)
            (w->q3w ? &t->kernels->qc3w_gemm : &t->kernels->qc4w_gemm)
                ->gemm(t->m, row_begin, row_end, t->qa, &w->q4w, w->packed, t->out, ld);
        else
            t->kernels->f32_qc4w_gemm(t->m, row_begin, row_end, t->x, k, &w->q4w, t->out, ld);
        break;
    case AQ_WEIGHTS_BLOCKS:
        block_gemm(t, row_begin, row_end);
        break;
    }
    if (w->bias)
        for (size_t tok = 0; tok < t->m; tok++)
            for (size_t r = row_begin; r < row_end; r++) t->out[tok * ld + r] += w->bias[r];
}

aq_activations aq_linear_input_at(aq_context *ctx, int32_t layer, aq_linear_input site, const float *x,
                                  int32_t n_tokens, int32_t width) {
    if (ctx->observe) ctx->observe(ctx->observe_user, layer, site, x, n_tokens, width);
    ctx->qa_ready = false;
    ctx->qa_blocks_type = AQ_NO_ACTIVATION_BLOCKS;
    /* An INT4 output head (head-int4) reads INT8 per token, through the qd8-qc4w kernels. */
    static const aq_act_quant head_int8 = {.bits = 8};
    const aq_act_quant *policy = layer >= 0                                    ? &ctx->model->layers[layer].act[site]
                                 : ctx->model->output.format == AQ_WEIGHTS_Q4W ? &head_int8
                                                                               : NULL;
    return (aq_activations){
        .x = x, .n_tokens = n_tokens, .width = width, .policy = policy && policy->bits ? policy : NULL};
}

/* What the quantized input is for: our INT4 kernels read per-token INT8
 * (or INT4-range) rows, llama.cpp's formats read rows of the activation
 * blocks their dot product pairs them with (Q8_0, Q8_1, Q8_K, F16, BF16). */
typedef enum act_format { ACT_QD8, ACT_BLOCKS } act_format;

typedef struct quantize_task {
    aq_context *ctx;
    const aq_activations *in;
    act_format format;
    uint32_t block_type; /* ACT_BLOCKS: the activation type */
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
        size_t scales = p->group ? k / (size_t)p->group : 1;
        struct aq_qd8 rows_view = {.k = k,
                                   .q = ctx->qa.q + t_begin * k,
                                   .scale = ctx->qa.scale + t_begin * scales,
                                   .zero = ctx->qa.zero + t_begin,
                                   .sum32 = ctx->qa.sum32 + t_begin * (k / 32)};
        /* The table has kernels for groups all of one width; the clipped scales and
         * Atom's per-group widths run on the references. */
        if (p->clip)
            aq_qd8_quantize_grouped_clip_ref(x, rows, k, k, p->bits, p->group_bits, (size_t)p->group, &rows_view);
        else if (p->asym && p->group_bits)
            aq_qd8_quantize_grouped_asym_ref(x, rows, k, k, p->bits, p->group_bits, (size_t)p->group, &rows_view);
        else if (p->asym)
            ctx->model->kernels.qd8_quantize_grouped_asym(x, rows, k, k, p->bits, (size_t)p->group, &rows_view);
        else if (p->group_bits)
            aq_qd8_quantize_grouped_bits_ref(x, rows, k, k, p->group_bits, (size_t)p->group, &rows_view);
        else if (p->group)
            ctx->model->kernels.qd8_quantize_grouped(x, rows, k, k, p->bits, (size_t)p->group, &rows_view);
        else if (p->is_static)
            aq_qd8_quantize_static_ref(x, rows, k, k, p->scale, p->zero, p->bits, &rows_view);
        else
            ctx->model->kernels.qd8_quantize(x, rows, k, k, p->bits, &rows_view);
        /* Once here, not per block of weight rows in every GEMM that reads the input. */
        aq_qd8_sum32_ref(&rows_view, 0, rows);
    } else {
        size_t row_bytes = aq_act_row_bytes(task->block_type, k);
        const aq_act_quantize_kernel *q =
            task->block_type < AQ_BLOCK_TYPE_SLOTS ? ctx->model->kernels.act_quantize[task->block_type] : NULL;
        for (size_t t = 0; t < rows; t++) {
            void *dst = (uint8_t *)ctx->qa_blocks + (t_begin + t) * row_bytes;
            if (q) /* Q8_0, Q8_1, Q8_K: the table's quantizer, bit for bit the reference */
                q->fn(x + t * k, k, dst);
            else
                aq_act_quantize_ref(task->block_type, x + t * k, k, dst);
        }
    }
}

static void quantize_input(aq_context *ctx, const aq_activations *in, act_format format, uint32_t block_type) {
    quantize_task task = {.ctx = ctx, .in = in, .format = format, .block_type = block_type};
    pthreadpool_parallelize_1d_tile_1d(ctx->pool, quantize_rows, &task, (size_t)in->n_tokens, 4,
                                       PTHREADPOOL_FLAG_DISABLE_DENORMALS);
    if (format == ACT_QD8) {
        ctx->qa.n_rows = (size_t)in->n_tokens;
        ctx->qa.k = (size_t)in->width;
        ctx->qa.group = (size_t)in->policy->group;
    }
}

/* Whether a's input, prepared for w, also serves b: the same format and,
 * for llama.cpp's formats, the same activation type. */
static bool same_input(const aq_matrix *a, const aq_matrix *b) {
    if (a->format != b->format) return false;
    return a->format != AQ_WEIGHTS_BLOCKS || a->block_type->act_type == b->block_type->act_type;
}

/* The quantized input as floats, into ctx->qa_blocks: what float weights read
 * when only the activations are quantized (the fp32 scheme with a8 or a4). */
static void dequantize_input(aq_context *ctx) {
    const struct aq_qd8 *a = &ctx->qa;
    float *x = ctx->qa_blocks;
    for (size_t t = 0; t < a->n_rows; t++)
        for (size_t e = 0; e < a->k; e++)
            x[t * a->k + e] = a->scale[aq_qd8_scale_index(a, t, e)] * (float)((int32_t)a->q[t * a->k + e] - a->zero[t]);
}

/* Prepares the input w reads (quantized once for every matrix of a site) and
 * returns the task for w. */
static linear_task prepare(aq_context *ctx, const aq_matrix *w, const aq_activations *in, float *out) {
    linear_task task = {.kernels = &ctx->model->kernels, .w = w, .x = in->x, .out = out, .m = (size_t)in->n_tokens};
    if (w->format == AQ_WEIGHTS_F32 && in->policy) {
        if (!ctx->qa_ready) {
            quantize_input(ctx, in, ACT_QD8, 0);
            dequantize_input(ctx);
        }
        ctx->qa_ready = true;
        task.x = ctx->qa_blocks;
    } else if (w->format == AQ_WEIGHTS_Q4W && in->policy) {
        if (!ctx->qa_ready) quantize_input(ctx, in, ACT_QD8, 0);
        ctx->qa_ready = true;
        task.qa = &ctx->qa;
    } else if (w->format == AQ_WEIGHTS_BLOCKS) {
        /* Matrices of one input may differ in type (Q4_K beside Q6_K): requantize only when the activation type changes. */
        uint32_t act_type = w->block_type->act_type;
        if (ctx->qa_blocks_type != act_type) quantize_input(ctx, in, ACT_BLOCKS, act_type);
        ctx->qa_blocks_type = act_type;
        task.qa_blocks = ctx->qa_blocks;
        task.qa_row_bytes = aq_act_row_bytes(act_type, (size_t)in->width);
    }
    return task;
}

/* Rows per task. Prefill: GEMM_ROWS_PER_TASK. A few tokens, and INT4 weights
 * with quantized input at any m: about DECODE_TASKS_PER_THREAD tasks a thread,
 * since every task pays the kernel loop's set-up (the activation terms of every
 * token's whole row, for INT4 weights: in prefill, 16-row tasks spent 16% of the
 * time there) and a matrix-vector task of 16 rows is too small to amortize it;
 * long tasks also let the loop keep its blocks of weight rows in L2. */
static size_t rows_per_task(const aq_context *ctx, const linear_task *task) {
    const aq_matrix *w = task->w;
    const size_t m = task->m;
    size_t tile = GEMM_ROWS_PER_TASK;
    if (m <= DECODE_TOKENS || task->qa) {
        size_t threads = ctx->pool ? pthreadpool_get_threads_count(ctx->pool) : 1;
        size_t even = ((size_t)w->rows + threads * DECODE_TASKS_PER_THREAD - 1) / (threads * DECODE_TASKS_PER_THREAD);
        tile = even > tile ? even : tile;
    }
    size_t n_tile = (w->q3w ? ctx->model->kernels.qc3w_gemm : ctx->model->kernels.qc4w_gemm).n_tile;
    if (w->format == AQ_WEIGHTS_Q4W && n_tile > 1) tile = (tile + n_tile - 1) / n_tile * n_tile;
    /* Repacked rows: whole groups of 8 a task, so that only a matrix's last rows take the plain path. */
    if (w->format == AQ_WEIGHTS_BLOCKS && w->x8) tile = (tile + AQ_X8_ROWS - 1) / AQ_X8_ROWS * AQ_X8_ROWS;
    return tile;
}

/* Matrices that read one input, run as one parallel region. */
typedef struct linear_group {
    linear_task task[AQ_LINEAR_GROUP_MAX];
    size_t tile[AQ_LINEAR_GROUP_MAX];
    size_t tasks[AQ_LINEAR_GROUP_MAX]; /* tasks of each matrix */
    size_t n;
} linear_group;

static void group_rows(void *arg, size_t index) {
    const linear_group *g = arg;
    size_t i = 0;
    while (index >= g->tasks[i]) index -= g->tasks[i++];
    size_t rows = (size_t)g->task[i].w->rows, begin = index * g->tile[i];
    linear_rows((void *)&g->task[i], begin, rows - begin < g->tile[i] ? rows - begin : g->tile[i]);
}

void aq_linear_group(aq_context *ctx, size_t n, const aq_matrix *const *w, const aq_activations *in,
                     float *const *out) {
    linear_group g = {.n = 0};
    size_t total = 0;
    bool fused[AQ_LINEAR_GROUP_MAX] = {false};
    for (size_t i = 0; i < n && i < AQ_LINEAR_GROUP_MAX; i++) {
        /* A matrix whose input differs from the first one's runs on its own, after the others. */
        if (i > 0 && !same_input(w[0], w[i])) continue;
        fused[i] = true;
        size_t j = g.n++;
        g.task[j] = prepare(ctx, w[i], in, out[i]);
        g.tile[j] = rows_per_task(ctx, &g.task[j]);
        g.tasks[j] = ((size_t)w[i]->rows + g.tile[j] - 1) / g.tile[j];
        total += g.tasks[j];
    }
    pthreadpool_parallelize_1d(ctx->pool, group_rows, &g, total, PTHREADPOOL_FLAG_DISABLE_DENORMALS);
    for (size_t i = 1; i < n; i++)
        if (i >= AQ_LINEAR_GROUP_MAX || !fused[i]) aq_linear(ctx, w[i], in, out[i]);
}

void aq_linear(aq_context *ctx, const aq_matrix *w, const aq_activations *in, float *out) {
    aq_linear_group(ctx, 1, &w, in, &out);
}
