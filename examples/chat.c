/* aq-chat: continue a prompt (-p), or talk in a loop (no -p): each line you
 * type is appended to the conversation and the model continues it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agilequant.h"

typedef struct options {
    const char *model_path;
    const char *prompt;
    int32_t n_predict;
    double temperature;
    double seed;
    int32_t threads;
} options;

static void usage(void) {
    fprintf(stderr, "usage: aq-chat -m MODEL [-p PROMPT] [-n N] [--temp T] [--seed S] [-t THREADS]\n");
}

static int parse(int argc, char **argv, options *o) {
    *o = (options){.n_predict = 128, .temperature = 0.8, .seed = 0, .threads = 0};
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) return -1;
        if (!strcmp(a, "-m")) o->model_path = v;
        else if (!strcmp(a, "-p")) o->prompt = v;
        else if (!strcmp(a, "-n")) o->n_predict = atoi(v);
        else if (!strcmp(a, "--temp")) o->temperature = atof(v);
        else if (!strcmp(a, "--seed")) o->seed = atof(v);
        else if (!strcmp(a, "-t")) o->threads = atoi(v);
        else return -1;
    }
    return o->model_path && o->n_predict >= 0 ? 0 : -1;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void print_piece(const aq_model *model, int32_t token) {
    char piece[256];
    size_t len = 0;
    if (aq_token_to_piece(model, token, piece, sizeof piece, &len) == AQ_OK) fwrite(piece, 1, len, stdout);
    fflush(stdout);
}

typedef struct timing {
    int32_t prompt_tokens, generated;
    double prompt_seconds, generate_seconds;
} timing;

/* Feeds text (tokenized, with BOS when the cache is empty), then samples up
 * to n_predict tokens, stopping at EOS or, in interactive mode, a newline. */
static aq_error continue_text(aq_context *ctx, const aq_model *model, const char *text, int32_t n_predict,
                              int stop_at_newline, timing *tm) {
    int32_t n = 0;
    int64_t vocab_adds_bos = 1;
    aq_model_get_info(model, AQ_INFO_ADD_BOS, &vocab_adds_bos);
    int add_bos = aq_kv_length(ctx) == 0 && vocab_adds_bos;
    aq_tokenize(model, text, strlen(text), add_bos, NULL, 0, &n);
    int32_t *tokens = malloc((size_t)(n > 0 ? n : 1) * sizeof *tokens);
    if (!tokens) return AQ_ERR_OUT_OF_MEMORY;
    aq_error err = aq_tokenize(model, text, strlen(text), add_bos, tokens, n, &n);
    int64_t eos = -1;
    aq_model_get_info(model, AQ_INFO_EOS_TOKEN, &eos);
    double t0 = now_seconds();
    if (err == AQ_OK && n > 0) err = aq_forward(ctx, tokens, NULL, n, 0);
    free(tokens);
    if (err != AQ_OK) return err;
    double t1 = now_seconds();
    tm->prompt_tokens += n;
    tm->prompt_seconds += t1 - t0;
    for (int32_t i = 0; i < n_predict; i++) {
        int32_t next;
        if ((err = aq_sample(ctx, -1, &next)) != AQ_OK) return err;
        if (next == eos) break;
        print_piece(model, next);
        if (stop_at_newline) {
            char piece[8];
            size_t len = 0;
            aq_token_to_piece(model, next, piece, sizeof piece, &len);
            if (len == 1 && piece[0] == '\n') break;
        }
        if ((err = aq_forward(ctx, &next, NULL, 1, 0)) != AQ_OK) return err;
        tm->generated++;
    }
    tm->generate_seconds += now_seconds() - t1;
    return AQ_OK;
}

int main(int argc, char **argv) {
    options o;
    if (parse(argc, argv, &o) != 0) {
        usage();
        return 2;
    }
    aq_model *model = aq_model_create();
    if (!model) return 1;
    if (aq_model_load_file(model, o.model_path) != AQ_OK) {
        fprintf(stderr, "aq-chat: %s\n", aq_model_error_message(model));
        aq_model_free(model);
        return 1;
    }
    aq_context *ctx = aq_context_create(model);
    if (!ctx || aq_context_set_param(ctx, AQ_PARAM_TEMPERATURE, o.temperature) != AQ_OK ||
        aq_context_set_param(ctx, AQ_PARAM_SEED, o.seed) != AQ_OK ||
        (o.threads > 0 && aq_context_set_param(ctx, AQ_PARAM_THREADS, o.threads) != AQ_OK)) {
        fprintf(stderr, "aq-chat: %s\n", ctx ? aq_context_error_message(ctx) : "cannot create a context");
        aq_context_free(ctx);
        aq_model_free(model);
        return 1;
    }
    fprintf(stderr, "%s\n", aq_model_describe(model));
    timing tm = {0};
    aq_error err = AQ_OK;
    if (o.prompt) {
        fputs(o.prompt, stdout);
        err = continue_text(ctx, model, o.prompt, o.n_predict, 0, &tm);
        printf("\n");
        fflush(stdout); /* the text before the timing line on stderr */
    } else {
        char line[4096];
        fprintf(stderr, "Type a line and press Enter; an empty line or end of input quits.\n> ");
        while (err == AQ_OK && fgets(line, sizeof line, stdin) && line[0] != '\n') {
            err = continue_text(ctx, model, line, o.n_predict, 1, &tm);
            if (err == AQ_ERR_CONTEXT_FULL) { /* start the conversation afresh */
                aq_kv_truncate(ctx, 0);
                err = AQ_OK;
            }
            fprintf(stderr, "\n> ");
        }
    }
    if (err != AQ_OK) fprintf(stderr, "aq-chat: %s: %s\n", aq_error_name(err), aq_context_error_message(ctx));
    fprintf(stderr, "prompt: %d tokens, %.1f tokens/s; generation: %d tokens, %.1f tokens/s\n", tm.prompt_tokens,
            tm.prompt_seconds > 0 ? tm.prompt_tokens / tm.prompt_seconds : 0.0, tm.generated,
            tm.generate_seconds > 0 ? tm.generated / tm.generate_seconds : 0.0);
    aq_context_free(ctx);
    aq_model_free(model);
    return err == AQ_OK ? 0 : 1;
}
