/* aq-bench: llama-bench-style speed rows for libagilequant, plus the memory
 * bandwidth roofline of token generation.
 *
 *   pp<P>  prompt processing: P tokens in ONE aq_forward batch, KV cache
 *          cleared before each repetition;
 *   tg<N>  generation: N single-token forwards after an empty cache, the first
 *          one the BOS token (as llama-bench does).
 * Each test runs once untimed (warm-up: page faults, thread pool start) and
 * then REPS times; t/s is reported as mean ± sample standard deviation.
 *
 * Decode reads every weight once per token, so its speed limit is
 *   memory bandwidth / weight bytes read per token.
 * The bandwidth is measured here (a multi-threaded streaming read of a buffer
 * much larger than the caches), and each tg row gets its roofline fraction.
 *
 * The weight bytes are counted from the model's own matrices: this tool links
 * the library's internal static library for that, because the public
 * AQ_INFO_WEIGHT_BYTES counted 4 bytes per parameter whatever the format. */
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agilequant.h"
#include "args.h"
#include "model.h"

#define TOOL "aq-bench"

#define MAX_THREAD_COUNTS 16

static void usage(FILE *out) {
    fprintf(out, "usage: aq-bench -m MODEL.gguf [-p 512] [-n 128] [-t 1,2] [-r 3] [--scheme NAME]\n"
                 "                [--kernels NAME] [--prune BETA] [--prune-layer L] [--bw-mib 1024] [--no-header]\n"
                 "       aq-bench --bandwidth [-t 1,2] [-r 5] [--bw-mib 1024]\n"
                 "  -p N        prompt-processing test ppN (0 skips it)\n"
                 "  -n N        generation test tgN (0 skips it)\n"
                 "  -t LIST     thread counts, comma-separated: one row per count\n"
                 "  -r REPS     timed repetitions per test (default 3)\n"
                 "  --scheme S  quantize in memory first, e.g. w4a8,rtn or w4a4,rtn. Use the RTN\n"
                 "              variants for synthetic models (no calibration text is given):\n"
                 "              GPTQ and RTN give the same formats, so the same speed.\n"
                 "  --kernels K force a kernel family: ref, avx2, avxvnni, avx512vnni, neon, ...\n"
                 "  --prune B   token pruning (aq_prune) with ratio B in [0, 1) in prefills; importance:\n"
                 "              attention to the first token, positions kept; affects pp rows only\n"
                 "  --prune-layer L  first pruning layer (default -1: n_layers / 2, the paper's middle layer)\n"
                 "  --bw-mib M  size of the bandwidth probe's buffer; 0 skips the probe\n"
                 "  --bandwidth only measure the memory bandwidth (GB/s) at each thread count\n");
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void mean_sd(const double *v, int n, double *mean, double *sd) {
    double s = 0.0, ss = 0.0;
    for (int i = 0; i < n; i++) s += v[i];
    *mean = s / n;
    for (int i = 0; i < n; i++) ss += (v[i] - *mean) * (v[i] - *mean);
    *sd = n > 1 ? sqrt(ss / (n - 1)) : 0.0;
}

/* ---- memory bandwidth probe ----
 * Each thread sums its own contiguous slice as 64-bit integers: integer adds
 * are associative, so the compiler vectorizes the loop (a float sum would need
 * -ffast-math), and four independent accumulators keep the adds off the
 * critical path, so the loop is limited by the loads alone. */
typedef struct bw_slice {
    const uint64_t *p;
    size_t n;
    uint64_t sum;
    pthread_barrier_t *start;
} bw_slice;

static void *bw_read(void *arg) {
    bw_slice *s = arg;
    pthread_barrier_wait(s->start);
    uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    size_t i = 0;
    for (; i + 4 <= s->n; i += 4) {
        a0 += s->p[i];
        a1 += s->p[i + 1];
        a2 += s->p[i + 2];
        a3 += s->p[i + 3];
    }
    for (; i < s->n; i++) a0 += s->p[i];
    s->sum = a0 + a1 + a2 + a3;
    return NULL;
}

/* GB/s (10^9 bytes per second) of one streaming read of buf by `threads` threads. */
static double bw_once(const uint64_t *buf, size_t words, int threads, uint64_t *checksum) {
    pthread_t tid[256];
    bw_slice slice[256];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)threads + 1);
    size_t per = words / (size_t)threads;
    for (int t = 0; t < threads; t++) {
        slice[t] = (bw_slice){
            .p = buf + (size_t)t * per, .n = t == threads - 1 ? words - (size_t)t * per : per, .start = &start};
        pthread_create(&tid[t], NULL, bw_read, &slice[t]);
    }
    /* Threads are created before the clock starts: only the read is timed. */
    pthread_barrier_wait(&start);
    double t0 = now_s();
    for (int t = 0; t < threads; t++) pthread_join(tid[t], NULL);
    double dt = now_s() - t0;
    pthread_barrier_destroy(&start);
    for (int t = 0; t < threads; t++) *checksum += slice[t].sum;
    return (double)(words * sizeof(uint64_t)) / dt * 1e-9;
}

/* Mean and sd of `reps` reads after one warm-up read; false if out of memory. */
static bool bandwidth(size_t mib, int threads, int reps, double *mean, double *sd) {
    size_t words = mib * (1u << 20) / sizeof(uint64_t);
    uint64_t *buf = malloc(words * sizeof *buf);
    if (!buf) return false;
    /* Touch every page first so page faults are not timed. */
    for (size_t i = 0; i < words; i++) buf[i] = i;
    uint64_t checksum = 0;
    double v[64];
    if (reps > 64) reps = 64;
    bw_once(buf, words, threads, &checksum);
    for (int r = 0; r < reps; r++) v[r] = bw_once(buf, words, threads, &checksum);
    mean_sd(v, reps, mean, sd);
    free(buf);
    /* The checksum is printed nowhere but kept live so the reads can't be elided. */
    return checksum != 1;
}

/* ---- weight bytes read per generated token ----
 * Every matrix but the token embedding (one row of it is copied per token).
 * For INT4 weights the kernel reads the packed copy when there is one (codes,
 * plus per row-group the f16 scale and a 4-byte (zero, wsum) pair), else the
 * plain q4w arrays (codes, f16 scales, zero points if asymmetric). */
static int64_t matrix_bytes(const aq_model *m, const aq_matrix *w) {
    return aq_matrix_bytes(w, m->kernels.qc4w_gemm.packed_size);
}

static int64_t weight_bytes_per_token(const aq_model *m) {
    const aq_config *c = &m->cfg;
    int64_t bytes = matrix_bytes(m, &m->output) + (int64_t)c->dim * (int64_t)sizeof(float);
    for (int32_t i = 0; i < c->n_layers; i++) {
        const aq_layer *l = &m->layers[i];
        const aq_matrix *mats[] = {&l->wq, &l->wk, &l->wv, &l->wo, &l->w_gate, &l->w_up, &l->w_down};
        for (size_t j = 0; j < sizeof mats / sizeof mats[0]; j++) bytes += matrix_bytes(m, mats[j]);
        bytes += 2 * (int64_t)c->dim * (int64_t)sizeof(float); /* the two norms */
    }
    return bytes;
}

/* Token pruning (aq_prune) acts on prefills only: pp rows measure it, tg rows
 * start from an empty cache plus BOS and are unaffected. Importance and
 * positions are the paper's defaults, which decide which tokens go, not how
 * many: the speed depends on the ratio and the first layer only. */
static aq_error apply_prune(aq_context *ctx, double beta, int32_t first_layer) {
    return aq_prune(ctx, beta, first_layer, AQ_PRUNE_ATTENTION_TO_FIRST, AQ_PRUNE_KEEP_POSITIONS);
}

/* The last pruned prefill's row count at each layer's input and at the output
 * (aq_prune_kept), so that scripts can relate the speed-up to the work removed
 * without a copy of the pruning schedule. */
static void print_kept_rows(const aq_context *ctx, int32_t n_layers) {
    fprintf(stderr, "prune: rows at each layer's input, then at the output:");
    for (int32_t layer = 0; layer <= n_layers; layer++) {
        int32_t kept = 0;
        aq_prune_kept(ctx, layer, NULL, 0, &kept);
        fprintf(stderr, " %d", (int)kept);
    }
    fputc('\n', stderr);
}

/* ---- the speed tests ---- */

static uint64_t lcg_state = 42;

/* A fixed pseudo-random token stream: speed does not depend on the ids, but
 * repeating one id could flatter caches in the embedding lookup. */
static int32_t next_token(int32_t vocab) {
    lcg_state = lcg_state * 6364136223846793005ull + 1442695040888963407ull;
    return (int32_t)((lcg_state >> 33) % (uint64_t)vocab);
}

static bool run_pp(aq_context *ctx, const int32_t *tokens, int32_t n, double *seconds) {
    if (aq_kv_truncate(ctx, 0) != AQ_OK) return false;
    double t0 = now_s();
    aq_error err = aq_forward(ctx, tokens, NULL, n, 0);
    *seconds = now_s() - t0;
    return err == AQ_OK;
}

static bool run_tg(aq_context *ctx, int32_t bos, int32_t vocab, int32_t n, double *seconds) {
    if (aq_kv_truncate(ctx, 0) != AQ_OK) return false;
    int32_t tok = bos >= 0 ? bos : 0;
    double t0 = now_s();
    for (int32_t i = 0; i < n; i++) {
        if (aq_forward(ctx, &tok, NULL, 1, 0) != AQ_OK) return false;
        tok = next_token(vocab);
    }
    *seconds = now_s() - t0;
    return true;
}

static int parse_list(const char *s, int *out, int cap) {
    int n = 0;
    while (*s && n < cap) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 1 || v > 256) return 0;
        out[n++] = (int)v;
        s = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') return 0;
    }
    return n;
}

int main(int argc, char **argv) {
    const char *path = NULL, *scheme = NULL, *kernels = NULL;
    int32_t n_prompt = 512, n_gen = 128;
    int threads[MAX_THREAD_COUNTS] = {2}, n_threads = 1;
    int32_t reps = 3;
    size_t bw_mib = 1024;
    double prune = -1.0;
    int32_t prune_layer = -1;
    bool header = true, bw_only = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--no-header")) {
            header = false;
            continue;
        }
        if (!strcmp(a, "--bandwidth")) {
            bw_only = true;
            continue;
        }
        if (!(v = args_value(TOOL, argc, argv, &i))) return 2;
        bool ok = true;
        int32_t mib = 0;
        if (!strcmp(a, "-m"))
            path = v;
        else if (!strcmp(a, "-p"))
            ok = args_int(TOOL, a, v, 0, 1 << 20, &n_prompt);
        else if (!strcmp(a, "-n"))
            ok = args_int(TOOL, a, v, 0, 1 << 20, &n_gen);
        else if (!strcmp(a, "-r"))
            ok = args_int(TOOL, a, v, 1, 64, &reps);
        else if (!strcmp(a, "-t")) {
            n_threads = parse_list(v, threads, MAX_THREAD_COUNTS);
            if (!(ok = n_threads > 0))
                fprintf(stderr, TOOL ": -t: '%s' is not a list of thread counts in [1, 256] (e.g. 1,2,4)\n", v);
        } else if (!strcmp(a, "--scheme"))
            scheme = v;
        else if (!strcmp(a, "--kernels"))
            kernels = v;
        else if (!strcmp(a, "--prune"))
            ok = args_double(TOOL, a, v, 0.0, 0.999, &prune);
        else if (!strcmp(a, "--prune-layer"))
            ok = args_int(TOOL, a, v, -1, 1 << 20, &prune_layer);
        else if (!strcmp(a, "--bw-mib")) {
            if ((ok = args_int(TOOL, a, v, 0, 1 << 20, &mib))) bw_mib = (size_t)mib;
        } else
            return args_unknown(TOOL, a);
        if (!ok) return 2;
    }
    if (!bw_only && !path) return args_missing(TOOL, "-m MODEL.gguf");

    double bw[MAX_THREAD_COUNTS] = {0};
    if (bw_mib > 0) {
        if (bw_only && header) printf("| threads | buffer | read GB/s |\n| ---: | ---: | ---: |\n");
        for (int ti = 0; ti < n_threads; ti++) {
            double sd;
            if (!bandwidth(bw_mib, threads[ti], bw_only ? reps : 5, &bw[ti], &sd)) {
                fprintf(stderr, "aq-bench: no memory for a %zu MiB bandwidth buffer\n", bw_mib);
                return 1;
            }
            if (bw_only)
                printf("| %d | %zu MiB | %.2f ± %.2f |\n", threads[ti], bw_mib, bw[ti], sd);
            else
                fprintf(stderr, "bandwidth, %d threads: %.2f ± %.2f GB/s\n", threads[ti], bw[ti], sd);
        }
    }
    if (bw_only) return 0;

    aq_model *model = aq_model_create();
    if (!model) return 1;
    aq_error err = kernels ? aq_model_set_kernels(model, kernels) : AQ_OK;
    if (err == AQ_OK) err = aq_model_load_file(model, path);
    if (err == AQ_OK && scheme) err = aq_quantize(model, scheme, NULL, 0);
    if (err != AQ_OK) {
        fprintf(stderr, "aq-bench: %s: %s: %s\n", path, aq_error_name(err), aq_model_error_message(model));
        aq_model_free(model);
        return 1;
    }
    int64_t params = 0, api_bytes = 0, vocab = 0, bos = -1, layers = 0;
    aq_model_get_info(model, AQ_INFO_PARAMETER_COUNT, &params);
    aq_model_get_info(model, AQ_INFO_WEIGHT_BYTES, &api_bytes);
    aq_model_get_info(model, AQ_INFO_VOCAB_SIZE, &vocab);
    aq_model_get_info(model, AQ_INFO_BOS_TOKEN, &bos);
    aq_model_get_info(model, AQ_INFO_LAYER_COUNT, &layers);
    int64_t bytes = weight_bytes_per_token(model);
    /* Size: everything read per token plus the embedding table, as llama-bench
     * reports the whole model. */
    int64_t size = bytes;
    if (!aq_model_head_tied(model)) size += matrix_bytes(model, &model->token_embd);
    const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    char scheme_col[128];
    snprintf(scheme_col, sizeof scheme_col, "%s", aq_model_scheme(model)[0] ? aq_model_scheme(model) : "fp32");
    if (prune > 0.0) {
        size_t len = strlen(scheme_col);
        if (prune_layer < 0)
            snprintf(scheme_col + len, sizeof scheme_col - len, " prune %.2f", prune);
        else
            snprintf(scheme_col + len, sizeof scheme_col - len, " prune %.2f from layer %d", prune, (int)prune_layer);
    }
    /* The kernels column: the INT4 GEMM's variant for quantized models, else the f32 one. */
    char kern_col[32];
    const char *kname = aq_model_kernels(model);
    const char *field = strstr(kname, aq_model_scheme(model)[0] ? "qc4w:" : "f32:");
    snprintf(kern_col, sizeof kern_col, "%s", field ? strchr(field, ':') + 1 : kname);
    char *space = strchr(kern_col, ' ');
    if (space) *space = '\0';
    fprintf(stderr, "%s\nkernels: %s\nweight bytes per token: %.1f MB (AQ_INFO_WEIGHT_BYTES says %.1f MB)\n",
            aq_model_describe(model), kname, (double)bytes * 1e-6, (double)api_bytes * 1e-6);

    int32_t *prompt = malloc((size_t)(n_prompt > 0 ? n_prompt : 1) * sizeof *prompt);
    if (!prompt) return 1;
    for (int32_t i = 0; i < n_prompt; i++) prompt[i] = next_token((int32_t)vocab);
    if (n_prompt > 0 && bos >= 0) prompt[0] = (int32_t)bos;

    if (header) {
        printf("| model | size | params | scheme | kernels | threads | test | t/s | GB/token | roofline |\n");
        printf("| --- | ---: | ---: | --- | --- | ---: | --- | ---: | ---: | ---: |\n");
    }
    int rc = 0;
    for (int ti = 0; ti < n_threads && rc == 0; ti++) {
        aq_context *ctx = aq_context_create(model);
        if (!ctx) {
            rc = 1;
            break;
        }
        int32_t need = (n_prompt > n_gen ? n_prompt : n_gen) + 1;
        if (aq_context_set_param(ctx, AQ_PARAM_THREADS, threads[ti]) != AQ_OK ||
            aq_context_set_param(ctx, AQ_PARAM_CONTEXT_LENGTH, need) != AQ_OK ||
            (prune > 0.0 && apply_prune(ctx, prune, prune_layer) != AQ_OK)) {
            fprintf(stderr, "aq-bench: %s\n", aq_context_error_message(ctx));
            aq_context_free(ctx);
            rc = 1;
            break;
        }
        for (int test = 0; test < 2 && rc == 0; test++) {
            int32_t n = test == 0 ? n_prompt : n_gen;
            if (n == 0) continue;
            double t[64], tps[64], secs, mean, sd;
            /* Warm-up, as llama-bench: the prefill at full length (its first run also
             * touches every batch buffer), a few tokens of generation. */
            bool ok = test == 0 ? run_pp(ctx, prompt, n, &secs)
                                : run_tg(ctx, (int32_t)bos, (int32_t)vocab, n < 4 ? n : 4, &secs);
            for (int r = 0; r < reps && ok; r++) {
                ok = test == 0 ? run_pp(ctx, prompt, n, &t[r]) : run_tg(ctx, (int32_t)bos, (int32_t)vocab, n, &t[r]);
                tps[r] = n / t[r];
            }
            if (!ok) {
                fprintf(stderr, "aq-bench: forward failed: %s\n", aq_context_error_message(ctx));
                rc = 1;
                break;
            }
            if (test == 0 && prune > 0.0) print_kept_rows(ctx, (int32_t)layers);
            mean_sd(tps, reps, &mean, &sd);
            char roof[32] = "";
            if (test == 1 && bw[ti] > 0)
                snprintf(roof, sizeof roof, "%.0f%%", 100.0 * mean * (double)bytes * 1e-9 / bw[ti]);
            printf("| %s | %.2f GiB | %.2f B | %s | %s | %d | %s%d | %.2f ± %.2f | %.3f | %s |\n", name,
                   (double)size / (double)(1u << 30), (double)params * 1e-9, scheme_col, kern_col, threads[ti],
                   test == 0 ? "pp" : "tg", (int)n, mean, sd, (double)bytes * 1e-9, roof);
            fflush(stdout);
        }
        aq_context_free(ctx);
    }
    if (bw_mib > 0 && n_gen > 0 && rc == 0)
        for (int ti = 0; ti < n_threads; ti++)
            fprintf(stderr, "roofline, %d threads: %.2f GB/s / %.3f GB per token = %.1f t/s at most\n", threads[ti],
                    bw[ti], (double)bytes * 1e-9, bw[ti] / ((double)bytes * 1e-9));
    free(prompt);
    aq_model_free(model);
    return rc;
}
