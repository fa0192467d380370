/* aq-perplexity: perplexity of a model on a text file, computed as
 * llama.cpp's llama-perplexity does by default, so figures compare directly:
 * the text is tokenized once with a leading BOS and cut into non-overlapping
 * chunks of N tokens; each chunk's first token is replaced by BOS, and the
 * predictions of tokens after position N/2 are scored (N - 1 - N/2 a chunk).
 *
 * With --prune BETA (token pruning, docs/PRUNING.md) each chunk runs as two
 * batches: its first N/2 tokens as a pruned prefill, then its other N - N/2
 * tokens as one unpruned batch over that cache, whose logits score exactly
 * the same predictions as above. --prune 0 takes the same two-batch path and
 * gives the same figure as without --prune. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agilequant.h"
#include "args.h"

#define TOOL "aq-perplexity"

static void usage(FILE *out) {
    fprintf(out, "usage: aq-perplexity -m MODEL -f TEXT [--ctx N] [--chunks N] [-t THREADS]\n"
                 "                     [--scheme NAME --calib TRAINING_TEXT]\n"
                 "  --scheme quantizes MODEL in memory first (w4a16, w4a8, w4a4, w4a8o, w4a4o, w4a8-paper,\n"
                 "  w4a4-paper, w4a4kv4, w4a8kv4, w3a8, q4_0, q8_0, with modifiers: see docs/FORMAT.md); --calib is\n"
                 "  the text it calibrates on.\n"
                 "  [--prune BETA [--prune-layer L] [--prune-importance first|received] [--prune-renumber]]\n"
                 "  [--kv8 | --kv-bits 32|8|4]\n"
                 "  --kv8 (--kv-bits 8) keeps the KV cache in INT8 (a scale per token and head), --kv-bits 4 in\n"
                 "  INT4 (a scale and a minimum per token and head, keys rotated), --kv-bits 32 in float;\n"
                 "  default: what the model's scheme records (w4a4kv4: 4), else float.\n"
                 "  --prune: token pruning (docs/PRUNING.md). Each chunk of N tokens is run as a prefill of\n"
                 "  its first N/2 tokens, pruned so that a fraction BETA of them is gone after the last layer\n"
                 "  (layers L.. prune, default n_layers/2), then its last N - N/2 tokens as one unpruned batch\n"
                 "  that attends, layer by layer, to the prompt tokens left there. The predictions scored are\n"
                 "  the same as without --prune: those of tokens N/2+1 .. N-1, made by tokens N/2 .. N-2, all\n"
                 "  in the second batch. --prune 0 gives the figure without --prune. The prefill's time per\n"
                 "  chunk is printed to stderr.\n");
}

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 1 << 20;
            char *grown = realloc(buf, cap);
            if (!grown) {
                n = 0;
                break;
            }
            buf = grown;
        }
        size_t want = cap - n, got = fread(buf + n, 1, want, f);
        n += got;
        if (got < want) break;
    }
    int failed = ferror(f) || (n == 0 && cap == 0);
    fclose(f);
    if (failed) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

/* -log softmax(logits)[target], in double for a stable sum over many tokens */
static double negative_log_likelihood(const float *logits, int32_t n_vocab, int32_t target) {
    double max = logits[0];
    for (int32_t i = 1; i < n_vocab; i++) max = logits[i] > max ? logits[i] : max;
    double sum = 0.0;
    for (int32_t i = 0; i < n_vocab; i++) sum += exp((double)logits[i] - max);
    return log(sum) - ((double)logits[target] - max);
}

int main(int argc, char **argv) {
    const char *model_path = NULL, *text_path = NULL, *scheme = NULL, *calib_path = NULL;
    int32_t n_ctx = 512, max_chunks = -1, threads = 0, prune_layer = -1, kv_bits = 0;
    double prune_beta = -1.0; /* < 0: one batch a chunk, no pruning */
    aq_prune_importance prune_importance = AQ_PRUNE_ATTENTION_TO_FIRST;
    aq_prune_positions prune_positions = AQ_PRUNE_KEEP_POSITIONS;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--prune-renumber")) {
            prune_positions = AQ_PRUNE_RENUMBER;
            continue;
        }
        if (!strcmp(a, "--kv8")) {
            kv_bits = 8;
            continue;
        }
        if (!(v = args_value(TOOL, argc, argv, &i))) return 2;
        bool ok = true;
        if (!strcmp(a, "-m"))
            model_path = v;
        else if (!strcmp(a, "-f"))
            text_path = v;
        else if (!strcmp(a, "--ctx") || !strcmp(a, "-c"))
            ok = args_int(TOOL, a, v, 4, 1 << 20, &n_ctx);
        else if (!strcmp(a, "--chunks"))
            ok = args_int(TOOL, a, v, 1, INT32_MAX, &max_chunks);
        else if (!strcmp(a, "-t"))
            ok = args_int(TOOL, a, v, 1, 256, &threads);
        else if (!strcmp(a, "--scheme"))
            scheme = v;
        else if (!strcmp(a, "--kv-bits"))
            ok = args_int(TOOL, a, v, 4, 32, &kv_bits);
        else if (!strcmp(a, "--calib"))
            calib_path = v;
        else if (!strcmp(a, "--prune"))
            ok = args_double(TOOL, a, v, 0.0, 0.999, &prune_beta);
        else if (!strcmp(a, "--prune-layer"))
            ok = args_int(TOOL, a, v, -1, 1 << 20, &prune_layer);
        else if (!strcmp(a, "--prune-importance")) {
            ok = !strcmp(v, "first") || !strcmp(v, "received");
            if (ok)
                prune_importance = !strcmp(v, "first") ? AQ_PRUNE_ATTENTION_TO_FIRST : AQ_PRUNE_ATTENTION_RECEIVED;
            else
                fprintf(stderr, TOOL ": %s: '%s' is neither first nor received\n", a, v);
        } else
            return args_unknown(TOOL, a);
        if (!ok) return 2;
    }
    if (!model_path) return args_missing(TOOL, "-m MODEL");
    if (!text_path) return args_missing(TOOL, "-f TEXT");

    aq_model *model = aq_model_create();
    if (!model) return 1;
    if (aq_model_load_file(model, model_path) != AQ_OK) {
        fprintf(stderr, "aq-perplexity: %s: %s\n", model_path, aq_model_error_message(model));
        aq_model_free(model);
        return 1;
    }
    if (scheme) {
        size_t calib_len = 0;
        char *calib = calib_path ? read_file(calib_path, &calib_len) : NULL;
        if (calib_path && !calib) {
            fprintf(stderr, "aq-perplexity: cannot read %s\n", calib_path);
            aq_model_free(model);
            return 1;
        }
        aq_error err = aq_quantize(model, scheme, calib, calib_len);
        free(calib);
        if (err != AQ_OK) {
            fprintf(stderr, "aq-perplexity: %s\n", aq_model_error_message(model));
            aq_model_free(model);
            return 1;
        }
    }
    size_t text_len = 0;
    char *text = read_file(text_path, &text_len);
    if (!text) {
        fprintf(stderr, "aq-perplexity: cannot read %s\n", text_path);
        aq_model_free(model);
        return 1;
    }
    /* As llama-perplexity: BOS first, and first in each chunk, only where the vocabulary adds it. */
    int64_t add_bos = 1;
    aq_model_get_info(model, AQ_INFO_ADD_BOS, &add_bos);
    int32_t n_tokens = 0;
    aq_tokenize(model, text, text_len, (int)add_bos, NULL, 0, &n_tokens);
    int32_t *tokens = malloc((size_t)n_tokens * sizeof *tokens);
    aq_context *ctx = aq_context_create(model);
    int rc = 1;
    if (!tokens || !ctx || aq_tokenize(model, text, text_len, (int)add_bos, tokens, n_tokens, &n_tokens) != AQ_OK) {
        fprintf(stderr, "aq-perplexity: cannot tokenize or create a context\n");
        goto out;
    }
    if ((threads > 0 && aq_context_set_param(ctx, AQ_PARAM_THREADS, threads) != AQ_OK) ||
        aq_context_set_param(ctx, AQ_PARAM_CONTEXT_LENGTH, n_ctx) != AQ_OK ||
        (kv_bits && aq_context_set_param(ctx, AQ_PARAM_KV_BITS, kv_bits) != AQ_OK)) {
        fprintf(stderr, "aq-perplexity: %s\n", aq_context_error_message(ctx));
        goto out;
    }
    if (prune_beta >= 0.0 && aq_prune(ctx, prune_beta, prune_layer, prune_importance, prune_positions) != AQ_OK) {
        fprintf(stderr, "aq-perplexity: %s\n", aq_context_error_message(ctx));
        goto out;
    }
    int32_t n_chunks = n_tokens / n_ctx;
    if (max_chunks >= 0 && max_chunks < n_chunks) n_chunks = max_chunks;
    if (n_chunks == 0) {
        fprintf(stderr, "aq-perplexity: %d tokens are fewer than one chunk of %d\n", n_tokens, n_ctx);
        goto out;
    }
    int64_t bos = 1, n_vocab = 0;
    aq_model_get_info(model, AQ_INFO_BOS_TOKEN, &bos);
    aq_model_get_info(model, AQ_INFO_VOCAB_SIZE, &n_vocab);
    fprintf(stderr, "%s\nkernels: %s\n%d tokens, %d chunks of %d\n", aq_model_describe(model), aq_model_kernels(model),
            n_tokens, n_chunks, n_ctx);

    int32_t first = n_ctx / 2;
    double nll = 0.0, nll2 = 0.0, prefill_seconds = 0.0;
    int64_t count = 0;
    int32_t *chunk = malloc((size_t)n_ctx * sizeof *chunk);
    if (!chunk) goto out;
    for (int32_t c = 0; c < n_chunks; c++) {
        memcpy(chunk, tokens + (size_t)c * (size_t)n_ctx, (size_t)n_ctx * sizeof *chunk);
        if (add_bos && bos >= 0) chunk[0] = (int32_t)bos;
        aq_kv_truncate(ctx, 0);
        /* row_of_first: the logits row of token `first` */
        int32_t row_of_first = first;
        aq_error err;
        if (prune_beta < 0.0) {
            err = aq_forward(ctx, chunk, NULL, n_ctx, 1);
        } else {
            struct timespec t0, t1;
            clock_gettime(CLOCK_MONOTONIC, &t0);
            err = aq_forward(ctx, chunk, NULL, first, 0);
            clock_gettime(CLOCK_MONOTONIC, &t1);
            prefill_seconds += (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
            if (err == AQ_OK) err = aq_forward(ctx, chunk + first, NULL, n_ctx - first, 1);
            row_of_first = 0;
        }
        if (err != AQ_OK) {
            fprintf(stderr, "aq-perplexity: %s\n", aq_context_error_message(ctx));
            free(chunk);
            goto out;
        }
        for (int32_t j = first; j < n_ctx - 1; j++) {
            double v = negative_log_likelihood(aq_get_logits(ctx, j - first + row_of_first), (int32_t)n_vocab,
                                               tokens[(size_t)c * (size_t)n_ctx + (size_t)j + 1]);
            nll += v;
            nll2 += v * v;
            count++;
        }
        fprintf(stderr, "[%d]%.4f%s", c + 1, exp(nll / (double)count), c + 1 == n_chunks ? "\n" : ",");
    }
    free(chunk);
    if (prune_beta >= 0.0)
        fprintf(stderr, "prefill of %d tokens: %.3f ms a chunk\n", first, 1e3 * prefill_seconds / n_chunks);
    double mean = nll / (double)count, ppl = exp(mean);
    double var = count > 1 ? (nll2 / (double)count - mean * mean) / (double)(count - 1) : 0.0;
    printf("Final estimate: PPL = %.4f +/- %.5f\n", ppl, ppl * sqrt(var > 0 ? var : 0));
    rc = 0;
out:
    aq_context_free(ctx);
    free(tokens);
    free(text);
    aq_model_free(model);
    return rc;
}
