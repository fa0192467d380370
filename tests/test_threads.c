/* One model shared across threads (agilequant.h, "Threads"). Workers create
 * their contexts from the one model at the same time, tokenize, detokenize,
 * apply the chat template and read its info at the same time, then the main
 * thread frees the model while they still run a prefill (with and without
 * token pruning, dense or INT8 KV cache, one thread or a pool of two),
 * decode and sample (greedy or seeded top-k/top-p). Each must get, bit for
 * bit, the logits, the tokens kept by pruning and the continuation that its
 * setting gives one context alone, and the last context to go frees the model
 * (LeakSanitizer in the ASan build sees it if not). ThreadSanitizer (the
 * 'tsan' stage of scripts/test.sh) checks that nothing is written unguarded. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agilequant.h"
#include "test_util.h"

enum { WORKERS = 4, STEPS = 6, MAX_TOKENS = 64 };

static const char k_prompt[] = "It is a truth universally acknowledged, that a single man in possession";
static const aq_chat_message k_chat[] = {{.role = "user", .content = k_prompt}};

/* What a worker does; the workers' settings differ so that every path runs beside the others. */
typedef struct setting {
    int threads;
    double temperature; /* 0: greedy */
    uint64_t seed;
    double prune_beta; /* 0: no pruning */
    int kv_bits;       /* 0: the model's default */
} setting;

/* Debian's libpthreadpool is not built with ThreadSanitizer: the atomics and
 * futexes with which it hands a task to its threads are invisible to it, so
 * that every task of a pool would be reported as a race with its caller.
 * Under TSan every context therefore computes on its own thread alone (the
 * pool then runs each task on the caller), which is what this test is about:
 * contexts on several threads sharing one model. */
#if defined(__SANITIZE_THREAD__)
#define POOL 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define POOL 1
#endif
#endif
#ifndef POOL
#define POOL 2
#endif

static const setting k_settings[WORKERS] = {
    {.threads = 1, .temperature = 0},
    {.threads = POOL, .temperature = 0.8, .seed = 7, .prune_beta = 0.5},
    {.threads = 1, .temperature = 1.0, .seed = 11, .kv_bits = 8},
    {.threads = POOL, .temperature = 0, .prune_beta = 0.3, .kv_bits = 4},
};

/* What a setting computes: the prompt's last logits, the prompt tokens that
 * reached the output, the continuation. */
typedef struct result {
    float *logits;
    int32_t kept[MAX_TOKENS], n_kept;
    int32_t continuation[STEPS];
} result;

typedef struct shared {
    aq_model *model;
    int64_t vocab, layers;
    int32_t tokens[MAX_TOKENS], n_tokens;
    aq_error chat_err; /* the chat template's answer (AQ_ERR_UNSUPPORTED for a model without one) */
    size_t chat_len;
    result alone[WORKERS];     /* each setting, one context alone */
    pthread_barrier_t created; /* every worker has its context: the model may go */
} shared;

typedef struct worker {
    shared *s;
    int index;
    int ok; /* 1 when everything matched */
    char why[160];
} worker;

static int configure(aq_context *c, const setting *w) {
    /* A short cache: the test needs 64 slots, not the default thousands, and sanitizers are slow. */
    return aq_context_set_param(c, AQ_PARAM_CONTEXT_LENGTH, MAX_TOKENS + STEPS) == AQ_OK &&
           aq_context_set_param(c, AQ_PARAM_THREADS, w->threads) == AQ_OK &&
           aq_context_set_param(c, AQ_PARAM_TEMPERATURE, w->temperature) == AQ_OK &&
           aq_context_set_param(c, AQ_PARAM_SEED, (double)w->seed) == AQ_OK &&
           (!w->kv_bits || aq_context_set_param(c, AQ_PARAM_KV_BITS, w->kv_bits) == AQ_OK) &&
           aq_prune(c, w->prune_beta, -1, AQ_PRUNE_ATTENTION_TO_FIRST, AQ_PRUNE_KEEP_POSITIONS) == AQ_OK;
}

/* Prefill, then STEPS sampled tokens. */
static int run(aq_context *c, const shared *s, result *out) {
    if (aq_forward(c, s->tokens, NULL, s->n_tokens, 0) != AQ_OK) return 0;
    memcpy(out->logits, aq_get_logits(c, -1), (size_t)s->vocab * sizeof *out->logits);
    if (aq_prune_kept(c, (int32_t)s->layers, out->kept, MAX_TOKENS, &out->n_kept) != AQ_OK) return 0;
    for (int i = 0; i < STEPS; i++) {
        int32_t next;
        if (aq_sample(c, -1, &next) != AQ_OK || aq_forward(c, &next, NULL, 1, 0) != AQ_OK) return 0;
        out->continuation[i] = next;
    }
    return 1;
}

/* Reads of the shared model that every worker makes at once. */
static int read_model(const shared *s) {
    int32_t tokens[MAX_TOKENS], n = 0;
    int64_t bos = 0;
    char text[512];
    size_t len = 0;
    size_t chat_len = 0;
    return aq_tokenize(s->model, k_prompt, sizeof k_prompt - 1, 1, tokens, MAX_TOKENS, &n) == AQ_OK &&
           n == s->n_tokens && memcmp(tokens, s->tokens, (size_t)n * sizeof *tokens) == 0 &&
           aq_model_get_info(s->model, AQ_INFO_BOS_TOKEN, &bos) == AQ_OK && tokens[0] == bos &&
           aq_detokenize(s->model, tokens, n, text, sizeof text, &len) == AQ_OK &&
           aq_token_to_piece(s->model, tokens[1], text, sizeof text, &len) == AQ_OK &&
           aq_chat_apply_template(s->model, k_chat, 1, 1, text, sizeof text, &chat_len) == s->chat_err &&
           chat_len == s->chat_len && aq_model_describe(s->model)[0] != '\0' && aq_model_kernels(s->model)[0] != '\0';
}

static void *work(void *arg) {
    worker *w = arg;
    shared *s = w->s;
    const result *want = &s->alone[w->index];
    aq_context *c = aq_context_create(s->model);
    int read_ok = c && read_model(s);
    pthread_barrier_wait(&s->created); /* after this, the model handle is gone: only the context is used */
    result got = {.logits = malloc((size_t)s->vocab * sizeof *got.logits)};
    w->ok = 0;
    if (!read_ok || !got.logits) {
        snprintf(w->why, sizeof w->why, "context, tokenize, template or info failed");
    } else if (!configure(c, &k_settings[w->index]) || !run(c, s, &got)) {
        snprintf(w->why, sizeof w->why, "forward failed: %s", aq_context_error_message(c));
    } else if (memcmp(got.logits, want->logits, (size_t)s->vocab * sizeof *got.logits) != 0) {
        snprintf(w->why, sizeof w->why, "the logits differ from one context alone's");
    } else if (got.n_kept != want->n_kept || memcmp(got.kept, want->kept, (size_t)got.n_kept * sizeof *got.kept)) {
        snprintf(w->why, sizeof w->why, "pruning kept other tokens");
    } else if (memcmp(got.continuation, want->continuation, sizeof got.continuation) != 0) {
        snprintf(w->why, sizeof w->why, "the continuation differs");
    } else {
        w->ok = 1;
    }
    free(got.logits);
    aq_context_free(c); /* the last one frees the model */
    return NULL;
}

static void test_one_model_many_threads(void **state) {
    (void)state;
    char path[1024];
    test_source_path(path, sizeof path, "models/austen-6m.gguf");
    for (int round = 0; round < 2; round++) {
        shared s = {.model = aq_model_create()};
        assert_int_equal(aq_model_load_file(s.model, path), AQ_OK);
        assert_int_equal(aq_model_get_info(s.model, AQ_INFO_VOCAB_SIZE, &s.vocab), AQ_OK);
        assert_int_equal(aq_model_get_info(s.model, AQ_INFO_LAYER_COUNT, &s.layers), AQ_OK);
        assert_int_equal(aq_tokenize(s.model, k_prompt, sizeof k_prompt - 1, 1, s.tokens, MAX_TOKENS, &s.n_tokens),
                         AQ_OK);
        char text[512];
        s.chat_err = aq_chat_apply_template(s.model, k_chat, 1, 1, text, sizeof text, &s.chat_len);
        /* Each setting in one context alone, on this thread: the answers. */
        for (int i = 0; i < WORKERS; i++) {
            result *r = &s.alone[i];
            r->logits = malloc((size_t)s.vocab * sizeof *r->logits);
            assert_non_null(r->logits);
            aq_context *alone = aq_context_create(s.model);
            assert_non_null(alone);
            assert_true(configure(alone, &k_settings[i]));
            assert_true(run(alone, &s, r));
            aq_context_free(alone);
            /* The settings must take their paths, or the test would not exercise them. */
            if (k_settings[i].prune_beta > 0)
                assert_true(r->n_kept < s.n_tokens);
            else
                assert_int_equal(r->n_kept, s.n_tokens);
        }

        assert_int_equal(pthread_barrier_init(&s.created, NULL, WORKERS + 1), 0);
        pthread_t ids[WORKERS];
        worker w[WORKERS];
        for (int i = 0; i < WORKERS; i++) {
            w[i] = (worker){.s = &s, .index = i};
            assert_int_equal(pthread_create(&ids[i], NULL, work, &w[i]), 0);
        }
        pthread_barrier_wait(&s.created);
        aq_model_free(s.model); /* while the workers run: the last context frees it */
        for (int i = 0; i < WORKERS; i++) {
            assert_int_equal(pthread_join(ids[i], NULL), 0);
            if (!w[i].ok) fprintf(stderr, "worker %d: %s\n", i, w[i].why);
            assert_true(w[i].ok);
        }
        pthread_barrier_destroy(&s.created);
        for (int i = 0; i < WORKERS; i++) free(s.alone[i].logits);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_model_many_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
