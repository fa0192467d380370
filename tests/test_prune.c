/* Token pruning in prefill (aq_prune) on the shipped model: pruning that
 * removes nothing is bit-for-bit the plain forward; the kept sets follow the
 * progressive schedule; prefill logits and generation after a pruned prompt
 * match an independent reference forward with explicit per-layer masks; and
 * misuse is refused. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agilequant.h"
#include "model.h"
#include "prune.h"
#include "test_util.h"

/* The reference sums in another order than the library; logits of this
 * model are O(10), as in test_model.c. */
#define LOGIT_TOLERANCE 2e-3f

typedef struct fixture {
    aq_model *model;
    int32_t tokens[512];
    int32_t n_tokens;
} fixture;

static int setup(void **state) {
    char path[1024];
    test_source_path(path, sizeof path, "models/austen-6m.gguf");
    fixture *fx = calloc(1, sizeof *fx);
    fx->model = aq_model_create();
    if (aq_model_load_file(fx->model, path) != AQ_OK) {
        fprintf(stderr, "load %s: %s\n", path, aq_model_error_message(fx->model));
        aq_model_free(fx->model);
        free(fx);
        return -1;
    }
    /* 30 tokens: every schedule below still drops tokens at each pruning layer (0.9 from layer 1 keeps 3).
     * The reference forward (doubles, a matrix-vector product a token) is most of this test's time: the
     * paragraph's 86 tokens took minutes under qemu. */
    const char *text =
        "It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in "
        "want of a wife.";
    if (aq_tokenize(fx->model, text, strlen(text), 1, fx->tokens, 512, &fx->n_tokens) != AQ_OK) return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state) {
    fixture *fx = *state;
    aq_model_free(fx->model);
    free(fx);
    return 0;
}

static aq_context *new_context(aq_model *m) {
    aq_context *ctx = aq_context_create(m);
    assert_non_null(ctx);
    assert_int_equal(aq_context_set_param(ctx, AQ_PARAM_THREADS, 1), AQ_OK);
    return ctx;
}

static int32_t layer_count(const aq_model *m) {
    int64_t v = 0;
    aq_model_get_info(m, AQ_INFO_LAYER_COUNT, &v);
    return (int32_t)v;
}

static int32_t vocab_size(const aq_model *m) {
    int64_t v = 0;
    aq_model_get_info(m, AQ_INFO_VOCAB_SIZE, &v);
    return (int32_t)v;
}

static int32_t argmax(const float *x, int32_t n) {
    int32_t best = 0;
    for (int32_t i = 1; i < n; i++) best = x[i] > x[best] ? i : best;
    return best;
}

/* Prefill, one more batch of three, and two decode steps: with pruning set
 * but removing nothing, every logit equals the plain forward's bit for bit. */
static void run_and_compare_bitwise(fixture *fx, double beta, int32_t first_layer, aq_prune_importance imp,
                                    aq_prune_positions positions) {
    int32_t n = fx->n_tokens - 5, vocab = vocab_size(fx->model);
    aq_context *plain = new_context(fx->model), *pruned = new_context(fx->model);
    assert_int_equal(aq_prune(pruned, beta, first_layer, imp, positions), AQ_OK);
    const int32_t sizes[] = {n, 3, 1, 1};
    int32_t at = 0;
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        assert_int_equal(aq_forward(plain, fx->tokens + at, NULL, sizes[s], 1), AQ_OK);
        assert_int_equal(aq_forward(pruned, fx->tokens + at, NULL, sizes[s], 1), AQ_OK);
        for (int32_t t = 0; t < sizes[s]; t++) {
            const float *a = aq_get_logits(plain, t), *b = aq_get_logits(pruned, t);
            assert_non_null(b);
            assert_memory_equal(a, b, (size_t)vocab * sizeof(float));
        }
        at += sizes[s];
    }
    assert_int_equal(aq_kv_length(pruned), at);
    aq_context_free(plain);
    aq_context_free(pruned);
}

static void test_no_removal_is_bit_exact(void **state) {
    fixture *fx = *state;
    /* beta = 0: off */
    run_and_compare_bitwise(fx, 0.0, -1, AQ_PRUNE_ATTENTION_TO_FIRST, AQ_PRUNE_KEEP_POSITIONS);
    /* on, scoring at every layer, but the schedule rounds to zero removals */
    assert_int_equal(aq_prune_keep_count(fx->n_tokens - 5, 1e-4, 6, 6), fx->n_tokens - 5);
    run_and_compare_bitwise(fx, 1e-4, 0, AQ_PRUNE_ATTENTION_TO_FIRST, AQ_PRUNE_RENUMBER);
    run_and_compare_bitwise(fx, 1e-4, 0, AQ_PRUNE_ATTENTION_RECEIVED, AQ_PRUNE_KEEP_POSITIONS);
}

/* The kept sets: counts per layer follow gamma, first and last always kept,
 * each layer's set inside the previous one, pruned tokens without logits. */
static void check_bookkeeping(fixture *fx, double beta, int32_t first_layer, aq_prune_importance imp,
                              aq_prune_positions positions) {
    int32_t n = fx->n_tokens, n_layers = layer_count(fx->model);
    int32_t first = first_layer < 0 ? n_layers / 2 : first_layer, n_prune = n_layers - first;
    double gamma = 1.0 - pow(1.0 - beta, 1.0 / n_prune);
    aq_context *ctx = new_context(fx->model);
    assert_int_equal(aq_prune(ctx, beta, first_layer, imp, positions), AQ_OK);
    assert_int_equal(aq_forward(ctx, fx->tokens, NULL, n, 1), AQ_OK);
    int32_t prev[512], cur[512], n_prev = 0, n_cur = 0;
    for (int32_t l = 0; l <= n_layers; l++) {
        assert_int_equal(aq_prune_kept(ctx, l, cur, 512, &n_cur), AQ_OK);
        int32_t expect = l <= first ? n : aq_prune_keep_count(n, beta, l - first, n_prune);
        assert_int_equal(n_cur, expect);
        if (l > first) {
            /* each pruning layer removes about gamma of what it was given */
            double removed = 1.0 - (double)n_cur / n_prev;
            assert_true(fabs(removed - gamma) < 1.5 / n_prev + 1e-9);
        }
        assert_int_equal(cur[0], 0);
        assert_int_equal(cur[n_cur - 1], n - 1);
        for (int32_t i = 1; i < n_cur; i++) assert_true(cur[i] > cur[i - 1]);
        if (l > 0) { /* a subset: both ascending, walk them together */
            int32_t j = 0;
            for (int32_t i = 0; i < n_cur; i++) {
                while (j < n_prev && prev[j] < cur[i]) j++;
                assert_true(j < n_prev && prev[j] == cur[i]);
            }
        }
        memcpy(prev, cur, (size_t)n_cur * sizeof *cur);
        n_prev = n_cur;
    }
    assert_int_equal(n_cur, (int32_t)floor(n * (1.0 - beta) + 0.5));
    /* logits: the kept tokens have them, the pruned ones NULL, the last always */
    bool kept[512] = {false};
    for (int32_t i = 0; i < n_cur; i++) kept[cur[i]] = true;
    for (int32_t t = 0; t < n; t++) assert_true((aq_get_logits(ctx, t) != NULL) == kept[t]);
    assert_ptr_equal(aq_get_logits(ctx, -1), aq_get_logits(ctx, n - 1));
    int32_t token;
    assert_int_equal(aq_sample(ctx, -1, &token), AQ_OK);
    /* the cache: one slot per token present at each layer */
    for (int32_t l = 0; l < n_layers; l++) {
        assert_int_equal(aq_prune_kept(ctx, l, cur, 512, &n_cur), AQ_OK);
        assert_int_equal(ctx->kv_len[l], n_cur);
    }
    assert_int_equal(aq_kv_length(ctx), n);
    /* without logits_all only the last row exists */
    assert_int_equal(aq_kv_truncate(ctx, 0), AQ_OK);
    assert_int_equal(aq_forward(ctx, fx->tokens, NULL, n, 0), AQ_OK);
    assert_non_null(aq_get_logits(ctx, -1));
    assert_null(aq_get_logits(ctx, 1));
    aq_context_free(ctx);
}

static void test_kept_bookkeeping(void **state) {
    fixture *fx = *state;
    check_bookkeeping(fx, 0.5, -1, AQ_PRUNE_ATTENTION_TO_FIRST, AQ_PRUNE_KEEP_POSITIONS);
    check_bookkeeping(fx, 0.25, 0, AQ_PRUNE_ATTENTION_RECEIVED, AQ_PRUNE_KEEP_POSITIONS);
    check_bookkeeping(fx, 0.75, 5, AQ_PRUNE_ATTENTION_TO_FIRST, AQ_PRUNE_RENUMBER);
    check_bookkeeping(fx, 0.9, 1, AQ_PRUNE_ATTENTION_RECEIVED, AQ_PRUNE_RENUMBER);
}

/* ---- reference: a plain float forward of a whole sequence in which token t
 * takes part in layer l iff present[l][t]; it attends to the earlier tokens
 * present at that layer, at position pos_at(l, t). Written from the model's
 * definition, independently of lib/forward.c. ---- */

typedef struct reference {
    const aq_model *m;
    int32_t n_seq;    /* tokens in the sequence */
    int32_t n_prompt; /* the pruned prefill's length */
    bool renumber;
    bool present[8][600]; /* (n_layers, n_seq) */
    int32_t rank[8][600]; /* index of a token among those present at layer l */
    int32_t score_layer;  /* record the paper's importance at this layer, or -1 */
    float score[600];     /* sum over heads of the attention token t pays to token 0 */
} reference;

static void matvec(const aq_matrix *w, const float *x, float *y) {
    for (int32_t r = 0; r < w->rows; r++) {
        double s = 0.0;
        for (int32_t c = 0; c < w->cols; c++) s += (double)w->f32[(size_t)r * w->cols + c] * x[c];
        y[r] = (float)s;
    }
}

static void ref_rmsnorm(float *out, const float *x, const float *w, int32_t n, float eps) {
    double ss = 0.0;
    for (int32_t i = 0; i < n; i++) ss += (double)x[i] * x[i];
    float scale = (float)(1.0 / sqrt(ss / n + eps));
    for (int32_t i = 0; i < n; i++) out[i] = x[i] * scale * w[i];
}

static void ref_rope(float *v, int32_t n_heads, int32_t hd, int32_t pos, const float *inv_freq) {
    for (int32_t h = 0; h < n_heads; h++)
        for (int32_t i = 0; i < hd / 2; i++) {
            double a = (double)pos * inv_freq[i];
            float c = (float)cos(a), s = (float)sin(a), *p = v + h * hd + 2 * i;
            float x0 = p[0], x1 = p[1];
            p[0] = x0 * c - x1 * s;
            p[1] = x0 * s + x1 * c;
        }
}

/* Position of token t at layer l: its own, or with renumbering its rank among
 * the tokens present at l (prompt tokens) / after them (later tokens). */
static int32_t pos_at(const reference *r, int32_t l, int32_t t) { return r->renumber ? r->rank[l][t] : t; }

/* Logits of tokens first_logit..n_seq-1 into logits (rows, vocab). */
static void reference_forward(reference *r, const int32_t *tokens, int32_t first_logit, float *logits) {
    const aq_model *m = r->m;
    const aq_config *c = &m->cfg;
    int32_t dim = c->dim, hd = c->head_dim, q_dim = c->n_heads * hd, kv_dim = c->n_kv_heads * hd;
    int32_t n = r->n_seq, group = c->n_heads / c->n_kv_heads;
    float *x = calloc((size_t)n * dim, sizeof(float)), *k = calloc((size_t)n * kv_dim, sizeof(float));
    float *v = calloc((size_t)n * kv_dim, sizeof(float)), *q = calloc((size_t)n * q_dim, sizeof(float));
    float *xn = malloc(sizeof(float) * (size_t)c->ffn_dim), *att = malloc(sizeof(float) * (size_t)q_dim);
    float *g = malloc(sizeof(float) * (size_t)c->ffn_dim), *u = malloc(sizeof(float) * (size_t)c->ffn_dim);
    float *o = malloc(sizeof(float) * (size_t)dim), *score = malloc(sizeof(float) * (size_t)n);
    for (int32_t t = 0; t < n; t++)
        memcpy(x + (size_t)t * dim, m->token_embd.f32 + (size_t)tokens[t] * dim, sizeof(float) * dim);
    for (int32_t l = 0; l < c->n_layers; l++) {
        const aq_layer *L = &m->layers[l];
        for (int32_t t = 0; t < n; t++) {
            if (!r->present[l][t]) continue;
            ref_rmsnorm(xn, x + (size_t)t * dim, L->attn_norm, dim, c->norm_eps);
            matvec(&L->wq, xn, q + (size_t)t * q_dim);
            matvec(&L->wk, xn, k + (size_t)t * kv_dim);
            matvec(&L->wv, xn, v + (size_t)t * kv_dim);
            ref_rope(q + (size_t)t * q_dim, c->n_heads, hd, pos_at(r, l, t), m->rope_inv_freq);
            ref_rope(k + (size_t)t * kv_dim, c->n_kv_heads, hd, pos_at(r, l, t), m->rope_inv_freq);
        }
        for (int32_t t = 0; t < n; t++) {
            /* only the tokens that go on need this layer's output */
            bool goes_on = l + 1 < c->n_layers ? r->present[l + 1][t] : r->present[l][t] && t >= first_logit;
            if (!goes_on && l != r->score_layer) continue;
            for (int32_t h = 0; h < c->n_heads; h++) {
                const float *qh = q + (size_t)t * q_dim + h * hd;
                double max = -INFINITY, den = 0.0;
                for (int32_t j = 0; j <= t; j++) {
                    if (!r->present[l][j]) continue;
                    const float *kj = k + (size_t)j * kv_dim + (h / group) * hd;
                    double s = 0.0;
                    for (int32_t d = 0; d < hd; d++) s += (double)qh[d] * kj[d];
                    score[j] = (float)(s / sqrt((double)hd));
                    max = score[j] > max ? score[j] : max;
                }
                for (int32_t d = 0; d < hd; d++) att[h * hd + d] = 0.0f;
                for (int32_t j = 0; j <= t; j++) {
                    if (!r->present[l][j]) continue;
                    double p = exp(score[j] - max);
                    den += p;
                    const float *vj = v + (size_t)j * kv_dim + (h / group) * hd;
                    for (int32_t d = 0; d < hd; d++) att[h * hd + d] += (float)p * vj[d];
                }
                for (int32_t d = 0; d < hd; d++) att[h * hd + d] /= (float)den;
                if (l == r->score_layer) r->score[t] += (float)(exp(score[0] - max) / den);
            }
            float *xt = x + (size_t)t * dim;
            matvec(&L->wo, att, o);
            for (int32_t i = 0; i < dim; i++) xt[i] += o[i];
            ref_rmsnorm(xn, xt, L->ffn_norm, dim, c->norm_eps);
            matvec(&L->w_gate, xn, g);
            matvec(&L->w_up, xn, u);
            for (int32_t i = 0; i < c->ffn_dim; i++) g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
            matvec(&L->w_down, g, o);
            for (int32_t i = 0; i < dim; i++) xt[i] += o[i];
        }
    }
    for (int32_t t = first_logit; t < n; t++) {
        ref_rmsnorm(xn, x + (size_t)t * dim, m->output_norm, dim, c->norm_eps);
        matvec(&m->output, xn, logits + (size_t)(t - first_logit) * c->vocab_size);
    }
    free(x), free(k), free(v), free(q), free(xn), free(att), free(g), free(u), free(o), free(score);
}

/* A pruned prompt, then greedy generation token by token: the prompt's kept
 * logits and every generated token's logits match the reference built from
 * the kept sets the library chose. */
static void check_generation(fixture *fx, double beta, int32_t first_layer, aq_prune_importance imp,
                             aq_prune_positions positions) {
    enum { GENERATE = 6 };
    const aq_model *m = fx->model;
    int32_t n = fx->n_tokens, n_layers = layer_count(m), vocab = vocab_size(m);
    assert_true(n_layers <= 8 && n + GENERATE <= 600);
    aq_context *ctx = new_context(fx->model);
    assert_int_equal(aq_prune(ctx, beta, first_layer, imp, positions), AQ_OK);
    assert_int_equal(aq_forward(ctx, fx->tokens, NULL, n, 1), AQ_OK);

    reference *r = calloc(1, sizeof *r);
    r->m = m;
    r->n_prompt = n;
    r->n_seq = n + GENERATE;
    r->renumber = positions == AQ_PRUNE_RENUMBER;
    r->score_layer = -1;
    int32_t kept[512], n_kept = 0;
    for (int32_t l = 0; l < n_layers; l++) {
        assert_int_equal(aq_prune_kept(ctx, l, kept, 512, &n_kept), AQ_OK);
        for (int32_t i = 0; i < n_kept; i++) {
            r->present[l][kept[i]] = true;
            r->rank[l][kept[i]] = i;
        }
        for (int32_t t = n; t < r->n_seq; t++) {
            r->present[l][t] = true;
            r->rank[l][t] = n_kept + (t - n);
        }
    }
    int32_t seq[600];
    memcpy(seq, fx->tokens, sizeof(int32_t) * n);
    float *lib = malloc(sizeof(float) * (size_t)(GENERATE + 1) * vocab);
    memcpy(lib, aq_get_logits(ctx, n - 1), sizeof(float) * vocab);
    for (int32_t g = 0; g < GENERATE; g++) {
        seq[n + g] = argmax(lib + (size_t)g * vocab, vocab);
        assert_int_equal(aq_forward(ctx, &seq[n + g], NULL, 1, 0), AQ_OK);
        memcpy(lib + (size_t)(g + 1) * vocab, aq_get_logits(ctx, -1), sizeof(float) * vocab);
    }
    assert_int_equal(aq_kv_length(ctx), n + GENERATE);

    /* the reference over prompt and generated tokens; logits from the last
     * prompt token on */
    float *ref = malloc(sizeof(float) * (size_t)(GENERATE + 1) * vocab);
    reference_forward(r, seq, n - 1, ref);
    for (int32_t g = 0; g <= GENERATE; g++) {
        const float *a = lib + (size_t)g * vocab, *b = ref + (size_t)g * vocab;
        float worst = 0.0f;
        for (int32_t i = 0; i < vocab; i++) worst = fmaxf(worst, fabsf(a[i] - b[i]));
        if (worst >= LOGIT_TOLERANCE) fprintf(stderr, "step %d: logits differ by %g\n", g, worst);
        assert_true(worst < LOGIT_TOLERANCE);
    }
    free(ref);
    free(lib);
    free(r);
    aq_context_free(ctx);
}

static void test_generation_after_pruned_prompt_matches_reference(void **state) {
    fixture *fx = *state;
    check_generation(fx, 0.0, -1, AQ_PRUNE_ATTENTION_TO_FIRST, AQ_PRUNE_KEEP_POSITIONS); /* the oracle itself */
    check_generation(fx, 0.5, -1, AQ_PRUNE_ATTENTION_TO_FIRST, AQ_PRUNE_KEEP_POSITIONS);
    check_generation(fx, 0.6, 1, AQ_PRUNE_ATTENTION_RECEIVED, AQ_PRUNE_KEEP_POSITIONS);
    check_generation(fx, 0.5, 2, AQ_PRUNE_ATTENTION_TO_FIRST, AQ_PRUNE_RENUMBER);
}

/* The dropped tokens are the least important by the paper's score, which
 * the reference recomputes. Pruning at the last layer only, so every token
 * reaches it with the same inputs as unpruned. */
static void test_dropped_tokens_pay_least_attention_to_first(void **state) {
    fixture *fx = *state;
    const aq_model *m = fx->model;
    int32_t n = fx->n_tokens, n_layers = layer_count(m), n_heads = m->cfg.n_heads;
    aq_context *ctx = new_context(fx->model);
    assert_int_equal(aq_prune(ctx, 0.5, n_layers - 1, AQ_PRUNE_ATTENTION_TO_FIRST, AQ_PRUNE_KEEP_POSITIONS), AQ_OK);
    assert_int_equal(aq_forward(ctx, fx->tokens, NULL, n, 0), AQ_OK);
    int32_t kept[512], n_kept = 0;
    assert_int_equal(aq_prune_kept(ctx, n_layers, kept, 512, &n_kept), AQ_OK);
    assert_true(n_kept < n);

    reference *r = calloc(1, sizeof *r);
    r->m = m;
    r->n_seq = r->n_prompt = n;
    r->score_layer = n_layers - 1;
    for (int32_t l = 0; l < n_layers; l++)
        for (int32_t t = 0; t < n; t++) r->present[l][t] = true, r->rank[l][t] = t;
    float *logits = malloc(sizeof(float) * (size_t)m->cfg.vocab_size);
    reference_forward(r, fx->tokens, n - 1, logits);
    bool survived[512] = {false};
    for (int32_t i = 0; i < n_kept; i++) survived[kept[i]] = true;
    float worst_dropped = -INFINITY, best_kept_loser = INFINITY;
    for (int32_t t = 1; t < n - 1; t++) {
        float lib = 0.0f;
        for (int32_t h = 0; h < n_heads; h++) lib += ctx->prune_score[(size_t)t * n_heads + h];
        assert_true(fabsf(lib - r->score[t]) < 1e-4f);
        if (survived[t])
            best_kept_loser = fminf(best_kept_loser, r->score[t]);
        else
            worst_dropped = fmaxf(worst_dropped, r->score[t]);
    }
    /* LOW attention to the first token means dropped */
    assert_true(worst_dropped <= best_kept_loser + 1e-4f);
    free(logits);
    free(r);
    aq_context_free(ctx);
}

static void test_misuse(void **state) {
    fixture *fx = *state;
    int32_t n_layers = layer_count(fx->model), kept[4], n_kept;
    aq_context *ctx = new_context(fx->model);
    assert_int_equal(aq_prune_kept(ctx, 0, kept, 4, &n_kept), AQ_ERR_STATE);
    assert_int_equal(aq_prune(NULL, 0.5, -1, AQ_PRUNE_ATTENTION_TO_FIRST, AQ_PRUNE_KEEP_POSITIONS),
                     AQ_ERR_INVALID_ARGUMENT);
    const double bad_beta[] = {-0.1, 1.0, 1.5, NAN};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(aq_prune(ctx, bad_beta[i], -1, AQ_PRUNE_ATTENTION_TO_FIRST, AQ_PRUNE_KEEP_POSITIONS),
                         AQ_ERR_OUT_OF_RANGE);
    assert_int_equal(aq_prune(ctx, 0.5, n_layers, AQ_PRUNE_ATTENTION_TO_FIRST, AQ_PRUNE_KEEP_POSITIONS),
                     AQ_ERR_OUT_OF_RANGE);
    assert_int_equal(aq_prune(ctx, 0.5, -2, AQ_PRUNE_ATTENTION_TO_FIRST, AQ_PRUNE_KEEP_POSITIONS), AQ_ERR_OUT_OF_RANGE);
    assert_int_equal(aq_prune(ctx, 0.5, -1, (aq_prune_importance)7, AQ_PRUNE_KEEP_POSITIONS), AQ_ERR_OUT_OF_RANGE);
    assert_int_equal(aq_prune(ctx, 0.5, -1, AQ_PRUNE_ATTENTION_TO_FIRST, (aq_prune_positions)7), AQ_ERR_OUT_OF_RANGE);
    /* a refused call leaves pruning off */
    assert_true(ctx->prune_beta == 0.0);

    /* truncation after a pruned prefill: all, or nothing of the prefill */
    int32_t n = fx->n_tokens;
    assert_int_equal(aq_prune(ctx, 0.5, n_layers - 2, AQ_PRUNE_ATTENTION_TO_FIRST, AQ_PRUNE_KEEP_POSITIONS), AQ_OK);
    assert_int_equal(aq_forward(ctx, fx->tokens, NULL, n, 0), AQ_OK);
    assert_int_equal(aq_kv_length(ctx), n);
    assert_int_equal(aq_prune_kept(ctx, n_layers + 1, kept, 4, &n_kept), AQ_ERR_OUT_OF_RANGE);
    assert_int_equal(aq_prune_kept(ctx, n_layers, kept, 4, &n_kept), AQ_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(n_kept, (int32_t)floor(n * 0.5 + 0.5));
    int32_t next = 42;
    assert_int_equal(aq_forward(ctx, &next, NULL, 1, 0), AQ_OK);
    assert_int_equal(aq_kv_truncate(ctx, n / 2), AQ_ERR_STATE);
    assert_int_equal(aq_kv_length(ctx), n + 1);
    assert_int_equal(aq_kv_truncate(ctx, n), AQ_OK); /* forgets the decoded token only */
    assert_int_equal(ctx->kv_len[n_layers - 2], n);  /* it dropped after caching */
    assert_int_equal(ctx->kv_len[n_layers - 1], aq_prune_keep_count(n, 0.5, 1, 2));
    assert_int_equal(aq_kv_truncate(ctx, 0), AQ_OK);
    assert_int_equal(aq_kv_truncate(ctx, 0), AQ_OK);
    /* a decode step or a batch that does not start at an empty cache never prunes */
    assert_int_equal(aq_forward(ctx, fx->tokens, NULL, 1, 0), AQ_OK);
    assert_int_equal(aq_forward(ctx, fx->tokens + 1, NULL, 10, 1), AQ_OK);
    assert_int_equal(aq_prune_kept(ctx, n_layers, kept, 4, &n_kept), AQ_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(n_kept, 10);
    aq_context_free(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_removal_is_bit_exact),
        cmocka_unit_test(test_kept_bookkeeping),
        cmocka_unit_test(test_generation_after_pruned_prompt_matches_reference),
        cmocka_unit_test(test_dropped_tokens_pay_least_attention_to_first),
        cmocka_unit_test(test_misuse),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
