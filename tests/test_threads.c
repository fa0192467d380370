/* One model shared across threads (agilequant.h: a model may be shared by
 * several contexts; a context belongs to one thread at a time). Workers create
 * their contexts from the one model at the same time, tokenize and read its
 * info at the same time, then the main thread frees the model while they still
 * run: each must get, bit for bit, the logits and the greedy continuation that
 * one context alone gets, and the last context to go frees the model
 * (LeakSanitizer in the ASan build sees it if not). ThreadSanitizer (a
 * -Db_sanitize=thread build) checks that nothing is written unguarded. */
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

typedef struct shared {
    aq_model *model;
    int64_t vocab;
    float *logits;               /* the prompt's last logits, one context alone */
    int32_t continuation[STEPS]; /* its greedy continuation */
    pthread_barrier_t created;   /* every worker has its context: the model may go */
} shared;

typedef struct worker {
    shared *s;
    int threads;
    int ok; /* 1 when everything matched */
    char why[128];
} worker;

/* Prompt, then STEPS greedy tokens; the logits of the prompt's last token into out. */
static int run(aq_context *c, const int32_t *tokens, int32_t n, int64_t vocab, float *out, int32_t *continuation) {
    if (aq_forward(c, tokens, NULL, n, 0) != AQ_OK) return 0;
    memcpy(out, aq_get_logits(c, -1), (size_t)vocab * sizeof *out);
    for (int i = 0; i < STEPS; i++) {
        int32_t next;
        if (aq_sample(c, -1, &next) != AQ_OK || aq_forward(c, &next, NULL, 1, 0) != AQ_OK) return 0;
        continuation[i] = next;
    }
    return 1;
}

static void *work(void *arg) {
    worker *w = arg;
    shared *s = w->s;
    aq_context *c = aq_context_create(s->model);
    int32_t tokens[MAX_TOKENS], n = 0, bos = 0;
    int64_t info = 0;
    /* Reads of the shared model, all workers at once. */
    int read_ok = c && aq_tokenize(s->model, k_prompt, sizeof k_prompt - 1, 1, tokens, MAX_TOKENS, &n) == AQ_OK &&
                  aq_model_get_info(s->model, AQ_INFO_BOS_TOKEN, &info) == AQ_OK && tokens[0] == (bos = (int32_t)info);
    char text[256];
    size_t len = 0;
    read_ok = read_ok && aq_detokenize(s->model, tokens, n, text, sizeof text, &len) == AQ_OK;
    pthread_barrier_wait(&s->created); /* after this, the model handle is gone: only the context is used */
    float *logits = malloc((size_t)s->vocab * sizeof *logits);
    int32_t continuation[STEPS];
    w->ok = 0;
    if (!read_ok || !logits) {
        snprintf(w->why, sizeof w->why, "context, tokenize or info failed");
    } else if (aq_context_set_param(c, AQ_PARAM_THREADS, w->threads) != AQ_OK ||
               aq_context_set_param(c, AQ_PARAM_TEMPERATURE, 0) != AQ_OK ||
               !run(c, tokens, n, s->vocab, logits, continuation)) {
        snprintf(w->why, sizeof w->why, "forward failed: %s", aq_context_error_message(c));
    } else if (memcmp(logits, s->logits, (size_t)s->vocab * sizeof *logits) != 0) {
        snprintf(w->why, sizeof w->why, "the logits differ from one context alone's");
    } else if (memcmp(continuation, s->continuation, sizeof continuation) != 0) {
        snprintf(w->why, sizeof w->why, "the continuation differs");
    } else {
        w->ok = 1;
    }
    free(logits);
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
        s.logits = malloc((size_t)s.vocab * sizeof *s.logits);
        assert_non_null(s.logits);
        /* One context alone, on one thread: the answer. */
        aq_context *alone = aq_context_create(s.model);
        int32_t tokens[MAX_TOKENS], n = 0;
        assert_int_equal(aq_tokenize(s.model, k_prompt, sizeof k_prompt - 1, 1, tokens, MAX_TOKENS, &n), AQ_OK);
        assert_int_equal(aq_context_set_param(alone, AQ_PARAM_THREADS, 1), AQ_OK);
        assert_int_equal(aq_context_set_param(alone, AQ_PARAM_TEMPERATURE, 0), AQ_OK);
        assert_true(run(alone, tokens, n, s.vocab, s.logits, s.continuation));
        aq_context_free(alone);

        assert_int_equal(pthread_barrier_init(&s.created, NULL, WORKERS + 1), 0);
        pthread_t ids[WORKERS];
        worker w[WORKERS];
        for (int i = 0; i < WORKERS; i++) {
            w[i] = (worker){.s = &s, .threads = 1 + i % 2}; /* some with a pool of two */
            assert_int_equal(pthread_create(&ids[i], NULL, work, &w[i]), 0);
        }
        pthread_barrier_wait(&s.created);
        aq_model_free(s.model); /* while the workers run: the last context frees it */
        for (int i = 0; i < WORKERS; i++) {
            assert_int_equal(pthread_join(ids[i], NULL), 0);
            if (!w[i].ok) fprintf(stderr, "worker %d (%d threads): %s\n", i, w[i].threads, w[i].why);
            assert_true(w[i].ok);
        }
        pthread_barrier_destroy(&s.created);
        free(s.logits);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_model_many_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
