/* aq-chat: continue a prompt (-p), or talk in a loop (no -p).
 *
 * In the loop, with a model whose GGUF carries a chat template we recognise
 * (aq_model_chat_template_name), each line you type is a user message: the
 * conversation is kept, and only the new part of its templated prompt is fed
 * to the model, which then writes the assistant's reply until its end-of-turn
 * token. With a model without a template, each line is appended to the text
 * and the model continues it up to a newline.
 *
 * When the KV cache is full, the context is shifted as llama.cpp does: the
 * first token is kept, the older half of the rest is dropped, and the tokens
 * kept are fed again; generation goes on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agilequant.h"
#include "args.h"

#define TOOL "aq-chat"

typedef struct options {
    const char *model_path;
    const char *prompt;
    const char *system;
    int32_t n_predict;
    double temperature, top_k, top_p, seed, threads, ctx;
    int no_template;
} options;

static void usage(FILE *out) {
    fprintf(out,
            "usage: aq-chat -m MODEL [-p PROMPT] [options]\n"
            "Continues PROMPT (-p) and exits; without -p, talks with you: type a line and press Enter,\n"
            "an empty line or end of input quits. A model with a chat template (SmolLM2, Qwen, Llama 3,\n"
            "Llama 2, Mistral, Gemma) answers as an assistant; any other model continues your text.\n"
            "\n"
            "  -m, --model FILE     the GGUF model (required)\n"
            "  -p, --prompt TEXT    text to continue; without it, the chat loop\n"
            "  -n, --n-predict N    tokens to generate per reply or continuation (default 128, 0..1000000)\n"
            "  -s, --system TEXT    a system message opening the conversation (chat template only)\n"
            "      --no-template    chat by plain continuation even if the model has a template\n"
            "      --temp T         sampling temperature, 0 picks the likeliest token (default 0.8, 0..100)\n"
            "      --top-k K        sample among the K likeliest tokens, 0 for all (default 40)\n"
            "      --top-p P        sample among the likeliest tokens of total probability P (default 0.95, 0..1)\n"
            "      --seed S         the sampler's seed (default 0)\n"
            "  -t, --threads N      threads (default: one per core, 1..256)\n"
            "  -c, --ctx N          KV cache length in tokens (default: the model's context, at most 4096);\n"
            "                       when it is full, the older half is dropped and generation goes on\n"
            "  -h, --help           this text\n"
            "Prints the model, the kernels chosen and, at the end, tokens per second on stderr.\n");
}

/* 0: parsed; 1: --help (exit 0); 2: error (reported). */
static int parse(int argc, char **argv, options *o) {
    *o = (options){.n_predict = 128, .temperature = 0.8, .top_k = 40, .top_p = 0.95, .seed = 0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return 1;
        if (!strcmp(a, "--no-template")) {
            o->no_template = 1;
            continue;
        }
        bool ok = true;
        if (!strcmp(a, "-m") || !strcmp(a, "--model"))
            ok = (o->model_path = args_value(TOOL, argc, argv, &i)) != NULL;
        else if (!strcmp(a, "-p") || !strcmp(a, "--prompt"))
            ok = (o->prompt = args_value(TOOL, argc, argv, &i)) != NULL;
        else if (!strcmp(a, "-s") || !strcmp(a, "--system"))
            ok = (o->system = args_value(TOOL, argc, argv, &i)) != NULL;
        else if (!strcmp(a, "-n") || !strcmp(a, "--n-predict"))
            ok = (v = args_value(TOOL, argc, argv, &i)) && args_int(TOOL, a, v, 0, 1000000, &o->n_predict);
        else if (!strcmp(a, "--temp"))
            ok =
                (v = args_value(TOOL, argc, argv, &i)) && args_param(TOOL, a, v, AQ_PARAM_TEMPERATURE, &o->temperature);
        else if (!strcmp(a, "--top-k"))
            ok = (v = args_value(TOOL, argc, argv, &i)) && args_param(TOOL, a, v, AQ_PARAM_TOP_K, &o->top_k);
        else if (!strcmp(a, "--top-p"))
            ok = (v = args_value(TOOL, argc, argv, &i)) && args_param(TOOL, a, v, AQ_PARAM_TOP_P, &o->top_p);
        else if (!strcmp(a, "--seed"))
            ok = (v = args_value(TOOL, argc, argv, &i)) && args_param(TOOL, a, v, AQ_PARAM_SEED, &o->seed);
        else if (!strcmp(a, "-t") || !strcmp(a, "--threads"))
            ok = (v = args_value(TOOL, argc, argv, &i)) && args_param(TOOL, a, v, AQ_PARAM_THREADS, &o->threads);
        else if (!strcmp(a, "-c") || !strcmp(a, "--ctx"))
            ok = (v = args_value(TOOL, argc, argv, &i)) && args_param(TOOL, a, v, AQ_PARAM_CONTEXT_LENGTH, &o->ctx);
        else
            return args_unknown(TOOL, a);
        if (!ok) return 2;
    }
    if (!o->model_path) return args_missing(TOOL, "-m MODEL");
    return 0;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- a session: the context, the tokens in its KV cache, the timings ---- */

typedef struct session {
    aq_context *ctx;
    const aq_model *model;
    int32_t n_ctx;
    int32_t *kv; /* the tokens in the KV cache, for a context shift */
    int32_t n_kv, cap;
    int32_t eos, eot;
    /* timings */
    int32_t prompt_tokens, generated, shifts, refed;
    double prompt_seconds, generate_seconds, shift_seconds;
} session;

/* llama.cpp's context shift: keep the first token, drop the older half of
 * the rest, and feed the tokens kept again at their new positions. */
static aq_error shift(session *s) {
    int32_t keep = s->n_kv > 0 ? 1 : 0, discard = (s->n_kv - keep) / 2;
    if (discard == 0) discard = s->n_kv - keep;
    memmove(s->kv + keep, s->kv + keep + discard, (size_t)(s->n_kv - keep - discard) * sizeof *s->kv);
    s->n_kv -= discard;
    double t0 = now_seconds();
    aq_error err = aq_kv_truncate(s->ctx, 0);
    if (err == AQ_OK && s->n_kv > 0) err = aq_forward(s->ctx, s->kv, NULL, s->n_kv, 0);
    s->shift_seconds += now_seconds() - t0;
    s->shifts++;
    s->refed += s->n_kv;
    return err;
}

/* Appends n tokens to the KV cache, shifting the context when it is full. */
static aq_error feed(session *s, const int32_t *tokens, int32_t n) {
    if (s->n_kv + n > s->cap) {
        int32_t cap = s->n_kv + n > s->n_ctx ? s->n_kv + n : s->n_ctx;
        int32_t *grown = realloc(s->kv, (size_t)cap * sizeof *grown);
        if (!grown) return AQ_ERR_OUT_OF_MEMORY;
        s->kv = grown, s->cap = cap;
    }
    while (n > 0) {
        aq_error err;
        if (s->n_kv == s->n_ctx && (err = shift(s)) != AQ_OK) return err;
        int32_t chunk = n < s->n_ctx - s->n_kv ? n : s->n_ctx - s->n_kv;
        if ((err = aq_forward(s->ctx, tokens, NULL, chunk, 0)) != AQ_OK) return err;
        memcpy(s->kv + s->n_kv, tokens, (size_t)chunk * sizeof *tokens);
        s->n_kv += chunk, tokens += chunk, n -= chunk;
    }
    return AQ_OK;
}

/* Tokenizes text (special: control-token texts become tokens) and feeds it
 * as prompt. */
static aq_error feed_text(session *s, const char *text, size_t len, int add_bos, int special) {
    int32_t n = 0;
    aq_error err = special ? aq_tokenize_special(s->model, text, len, add_bos, NULL, 0, &n)
                           : aq_tokenize(s->model, text, len, add_bos, NULL, 0, &n);
    if (err != AQ_OK && err != AQ_ERR_BUFFER_TOO_SMALL) return err;
    if (n == 0) return AQ_OK;
    int32_t *tokens = malloc((size_t)n * sizeof *tokens);
    if (!tokens) return AQ_ERR_OUT_OF_MEMORY;
    err = special ? aq_tokenize_special(s->model, text, len, add_bos, tokens, n, &n)
                  : aq_tokenize(s->model, text, len, add_bos, tokens, n, &n);
    double t0 = now_seconds(), shift_seconds = s->shift_seconds;
    if (err == AQ_OK) err = feed(s, tokens, n);
    free(tokens);
    s->prompt_tokens += n;
    s->prompt_seconds += now_seconds() - t0 - (s->shift_seconds - shift_seconds);
    return err;
}

/* Appends to a growing string. */
typedef struct text {
    char *ptr;
    size_t len, cap;
} text;

static int text_put(text *t, const char *p, size_t n) {
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 256;
        while (cap < t->len + n + 1) cap *= 2;
        char *grown = realloc(t->ptr, cap);
        if (!grown) return 0;
        t->ptr = grown, t->cap = cap;
    }
    memcpy(t->ptr + t->len, p, n);
    t->len += n;
    t->ptr[t->len] = '\0';
    return 1;
}

/* Samples up to n_predict tokens and prints them, stopping at EOS or the
 * end-of-turn token, or (stop_at_newline) after a newline. The text goes to
 * reply when it is not NULL. */
static aq_error generate(session *s, int32_t n_predict, int stop_at_newline, text *reply) {
    double t0 = now_seconds(), shift_seconds = s->shift_seconds;
    aq_error err = AQ_OK;
    for (int32_t i = 0; i < n_predict && err == AQ_OK; i++) {
        int32_t next;
        if ((err = aq_sample(s->ctx, -1, &next)) != AQ_OK) break;
        if (next == s->eos || next == s->eot) break;
        char piece[256];
        size_t len = 0;
        if (aq_token_to_piece(s->model, next, piece, sizeof piece, &len) != AQ_OK) len = 0;
        fwrite(piece, 1, len, stdout);
        fflush(stdout);
        if (reply && !text_put(reply, piece, len)) err = AQ_ERR_OUT_OF_MEMORY;
        s->generated++;
        if (stop_at_newline && len == 1 && piece[0] == '\n') break;
        if (err == AQ_OK) err = feed(s, &next, 1);
    }
    s->generate_seconds += now_seconds() - t0 - (s->shift_seconds - shift_seconds);
    return err;
}

/* ---- the chat loop with a template ---- */

typedef struct conversation {
    aq_chat_message *messages;
    size_t n, cap;
    text fed;         /* the templated text the KV cache holds (before any shift) */
    int32_t reply_kv; /* KV length and fed length where the last reply started */
    size_t reply_text;
    int32_t reply_shifts;
} conversation;

static int add_message(conversation *c, const char *role, const char *content, size_t len) {
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 8;
        aq_chat_message *grown = realloc(c->messages, cap * sizeof *grown);
        if (!grown) return 0;
        c->messages = grown, c->cap = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy) return 0;
    memcpy(copy, content, len);
    copy[len] = '\0';
    c->messages[c->n++] = (aq_chat_message){role, copy};
    return 1;
}

/* Feeds the part of the conversation's templated prompt the model has not
 * seen. The prompt normally extends what was fed; where the template writes
 * the last reply differently (it trims it, or drops a <think> block), the
 * cache goes back to where the reply started, or to the start. */
static aq_error feed_conversation(session *s, conversation *c) {
    size_t len = 0;
    aq_error err = aq_chat_apply_template(s->model, c->messages, c->n, 1, NULL, 0, &len);
    if (err != AQ_OK && err != AQ_ERR_BUFFER_TOO_SMALL) return err;
    char *prompt = malloc(len + 1);
    if (!prompt) return AQ_ERR_OUT_OF_MEMORY;
    if ((err = aq_chat_apply_template(s->model, c->messages, c->n, 1, prompt, len, &len)) != AQ_OK) {
        free(prompt);
        return err;
    }
    size_t same = 0;
    while (same < c->fed.len && same < len && c->fed.ptr[same] == prompt[same]) same++;
    size_t from = same;
    if (same < c->fed.len) {
        if (same >= c->reply_text && c->reply_shifts == s->shifts) { /* back to the reply's start */
            err = aq_kv_truncate(s->ctx, c->reply_kv);
            s->n_kv = c->reply_kv;
            from = c->reply_text;
        } else { /* start over */
            err = aq_kv_truncate(s->ctx, 0);
            s->n_kv = 0;
            from = 0;
        }
    }
    if (err == AQ_OK) err = feed_text(s, prompt + from, len - from, 0, 1);
    c->fed.len = 0;
    if (err == AQ_OK && !text_put(&c->fed, prompt, len)) err = AQ_ERR_OUT_OF_MEMORY;
    free(prompt);
    return err;
}

static aq_error chat_turn(session *s, conversation *c, const char *line, size_t len, int32_t n_predict) {
    if (!add_message(c, "user", line, len)) return AQ_ERR_OUT_OF_MEMORY;
    aq_error err = feed_conversation(s, c);
    if (err != AQ_OK) return err;
    c->reply_kv = s->n_kv, c->reply_text = c->fed.len, c->reply_shifts = s->shifts;
    size_t start = c->fed.len;
    err = generate(s, n_predict, 0, &c->fed);
    if (err == AQ_OK && !add_message(c, "assistant", c->fed.ptr + start, c->fed.len - start))
        err = AQ_ERR_OUT_OF_MEMORY;
    return err;
}

static void conversation_free(conversation *c) {
    for (size_t i = 0; i < c->n; i++) free((char *)c->messages[i].content);
    free(c->messages);
    free(c->fed.ptr);
}

/* ---- main ---- */

static int set_params(aq_context *ctx, const options *o) {
    return aq_context_set_param(ctx, AQ_PARAM_TEMPERATURE, o->temperature) == AQ_OK &&
           aq_context_set_param(ctx, AQ_PARAM_TOP_K, o->top_k) == AQ_OK &&
           aq_context_set_param(ctx, AQ_PARAM_TOP_P, o->top_p) == AQ_OK &&
           aq_context_set_param(ctx, AQ_PARAM_SEED, o->seed) == AQ_OK &&
           (o->threads <= 0 || aq_context_set_param(ctx, AQ_PARAM_THREADS, o->threads) == AQ_OK) &&
           (o->ctx <= 0 || aq_context_set_param(ctx, AQ_PARAM_CONTEXT_LENGTH, o->ctx) == AQ_OK);
}

int main(int argc, char **argv) {
    options o;
    int parsed = parse(argc, argv, &o);
    if (parsed == 1) {
        usage(stdout);
        return 0;
    }
    if (parsed != 0) return 2;
    aq_model *model = aq_model_create();
    if (!model) return 1;
    if (aq_model_load_file(model, o.model_path) != AQ_OK) {
        fprintf(stderr, TOOL ": %s: %s\n", o.model_path, aq_model_error_message(model));
        aq_model_free(model);
        return 1;
    }
    aq_context *ctx = aq_context_create(model);
    if (!ctx || !set_params(ctx, &o)) {
        fprintf(stderr, TOOL ": %s\n", ctx ? aq_context_error_message(ctx) : "cannot create a context");
        aq_context_free(ctx);
        aq_model_free(model);
        return 1;
    }
    const char *tmpl = o.no_template ? "" : aq_model_chat_template_name(model);
    double n_ctx = 0;
    aq_context_get_param(ctx, AQ_PARAM_CONTEXT_LENGTH, &n_ctx);
    int64_t eos = -1, eot = -1, add_bos = 1;
    aq_model_get_info(model, AQ_INFO_EOS_TOKEN, &eos);
    aq_model_get_info(model, AQ_INFO_EOT_TOKEN, &eot);
    aq_model_get_info(model, AQ_INFO_ADD_BOS, &add_bos);
    fprintf(stderr, "%s\nkernels: %s\ncontext: %d tokens; chat template: %s\n", aq_model_describe(model),
            aq_model_kernels(model), (int)n_ctx, tmpl[0] ? tmpl : "none (plain continuation)");
    session s = {.ctx = ctx, .model = model, .n_ctx = (int32_t)n_ctx, .eos = (int32_t)eos, .eot = (int32_t)eot};
    aq_error err = AQ_OK;
    if (o.prompt) {
        fputs(o.prompt, stdout);
        err = feed_text(&s, o.prompt, strlen(o.prompt), (int)add_bos, 0);
        if (err == AQ_OK) err = generate(&s, o.n_predict, 0, NULL);
        printf("\n");
    } else {
        conversation c = {0};
        if (tmpl[0] && o.system && !add_message(&c, "system", o.system, strlen(o.system))) err = AQ_ERR_OUT_OF_MEMORY;
        if (!tmpl[0] && o.system) fprintf(stderr, TOOL ": -s ignored: no chat template\n");
        char line[4096];
        fprintf(stderr, "Type a line and press Enter; an empty line or end of input quits.\n> ");
        while (err == AQ_OK && fgets(line, sizeof line, stdin) && line[0] != '\n') {
            size_t len = strlen(line);
            if (tmpl[0]) {
                if (len > 0 && line[len - 1] == '\n') line[--len] = '\0';
                err = chat_turn(&s, &c, line, len, o.n_predict);
            } else {
                err = feed_text(&s, line, len, s.n_kv == 0 && add_bos, 0);
                if (err == AQ_OK) err = generate(&s, o.n_predict, 1, NULL);
            }
            fputc('\n', stdout); /* the reply's line ends on stdout, the prompt goes to stderr */
            fflush(stdout);
            fprintf(stderr, "> ");
        }
        fprintf(stderr, "\n");
        conversation_free(&c);
    }
    fflush(stdout); /* the text before the timing lines on stderr */
    if (err != AQ_OK) fprintf(stderr, TOOL ": %s: %s\n", aq_error_name(err), aq_context_error_message(ctx));
    fprintf(stderr, "prompt: %d tokens, %.1f tokens/s; generation: %d tokens, %.1f tokens/s\n", s.prompt_tokens,
            s.prompt_seconds > 0 ? s.prompt_tokens / s.prompt_seconds : 0.0, s.generated,
            s.generate_seconds > 0 ? s.generated / s.generate_seconds : 0.0);
    if (s.shifts > 0)
        fprintf(stderr, "context shifts: %d (%d tokens fed again, %.2f s)\n", s.shifts, s.refed, s.shift_seconds);
    free(s.kv);
    aq_context_free(ctx);
    aq_model_free(model);
    return err == AQ_OK ? 0 : 1;
}
