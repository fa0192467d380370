/* The soak run of tools/soak.sh: quantizes a model with one scheme, then
 * generates TOKENS tokens with the KV cache kept full (llama.cpp's context
 * shift, as aq-chat does: keep the first token, drop the older half of the
 * rest, feed the kept ones again), and prints the process's resident memory
 * (VmRSS, VmHWM from /proc/self/status) after 1,000 tokens and at the end.
 * Any error stops it with exit status 1: the run must never need one. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agilequant.h"

enum { FIRST_REPORT = 1000 };

/* VmRSS, VmHWM and the anonymous part of VmRSS (RssAnon) in kB; 0 when
 * /proc cannot say. A leak grows RssAnon; the file-backed rest (the model's
 * mapping, the libraries) may shrink whenever the kernel reclaims it. */
static void memory_kb(long *rss, long *hwm, long *anon) {
    *rss = *hwm = *anon = 0;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        sscanf(line, "VmRSS: %ld", rss);
        sscanf(line, "VmHWM: %ld", hwm);
        sscanf(line, "RssAnon: %ld", anon);
    }
    fclose(f);
}

static char *read_prefix(const char *path, size_t cap, size_t *len) {
    FILE *f = fopen(path, "rb");
    char *buf = f ? malloc(cap) : NULL;
    *len = buf ? fread(buf, 1, cap, f) : 0;
    if (f) fclose(f);
    return buf;
}

static int fail(const char *what, const char *message) {
    fprintf(stderr, "soak: %s: %s\n", what, message);
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 7) {
        fprintf(stderr, "usage: soak MODEL SCHEME CALIBRATION_TEXT CALIBRATION_BYTES TOKENS CONTEXT\n");
        return 2;
    }
    const char *model_path = argv[1], *scheme = argv[2];
    long calib_cap = atol(argv[4]), total = atol(argv[5]);
    int32_t n_ctx = (int32_t)atol(argv[6]);
    if (calib_cap <= 0 || total < FIRST_REPORT || n_ctx < 4) return fail("arguments", "out of range");

    aq_model *model = aq_model_create();
    if (!model) return fail("model", "out of memory");
    if (aq_model_load_file(model, model_path) != AQ_OK) return fail(model_path, aq_model_error_message(model));
    size_t calib_len = 0;
    char *calib = read_prefix(argv[3], (size_t)calib_cap, &calib_len);
    if (!calib) return fail(argv[3], "cannot read");
    if (aq_quantize(model, scheme, calib, calib_len) != AQ_OK) return fail(scheme, aq_model_error_message(model));
    free(calib);

    aq_context *ctx = aq_context_create(model);
    int32_t *kv = malloc((size_t)n_ctx * sizeof *kv);
    int64_t bos = 0;
    if (!ctx || !kv) return fail("context", "out of memory");
    /* A seeded sampler, not greedy decoding, so that the text does not settle into a loop of a few tokens. */
    if (aq_context_set_param(ctx, AQ_PARAM_THREADS, 1) != AQ_OK ||
        aq_context_set_param(ctx, AQ_PARAM_CONTEXT_LENGTH, n_ctx) != AQ_OK ||
        aq_context_set_param(ctx, AQ_PARAM_SEED, 1) != AQ_OK ||
        aq_model_get_info(model, AQ_INFO_BOS_TOKEN, &bos) != AQ_OK)
        return fail("parameters", aq_context_error_message(ctx));
    kv[0] = (int32_t)bos;
    int32_t n_kv = 1;
    if (aq_forward(ctx, kv, NULL, 1, 0) != AQ_OK) return fail("forward", aq_context_error_message(ctx));

    long shifts = 0, rss_first = 0, hwm_first = 0, anon_first = 0;
    for (long generated = 0; generated < total;) {
        int32_t next;
        if (aq_sample(ctx, -1, &next) != AQ_OK) return fail("sample", aq_context_error_message(ctx));
        if (n_kv == n_ctx) {
            int32_t discard = (n_kv - 1) / 2;
            memmove(kv + 1, kv + 1 + discard, (size_t)(n_kv - 1 - discard) * sizeof *kv);
            n_kv -= discard;
            if (aq_kv_truncate(ctx, 0) != AQ_OK || aq_forward(ctx, kv, NULL, n_kv, 0) != AQ_OK)
                return fail("context shift", aq_context_error_message(ctx));
            shifts++;
        }
        kv[n_kv++] = next;
        if (aq_forward(ctx, &next, NULL, 1, 0) != AQ_OK) return fail("forward", aq_context_error_message(ctx));
        if (++generated == FIRST_REPORT) memory_kb(&rss_first, &hwm_first, &anon_first);
    }
    long rss = 0, hwm = 0, anon = 0;
    memory_kb(&rss, &hwm, &anon);
    printf("%-12s tokens %ld  shifts %ld  after %d: VmRSS %ld kB VmHWM %ld kB RssAnon %ld kB  after %ld: VmRSS %ld kB"
           " VmHWM %ld kB RssAnon %ld kB  RSS change %+.2f%%  RssAnon change %+.2f%%\n",
           scheme, total, shifts, FIRST_REPORT, rss_first, hwm_first, anon_first, total, rss, hwm, anon,
           rss_first ? 100.0 * (double)(rss - rss_first) / (double)rss_first : 0.0,
           anon_first ? 100.0 * (double)(anon - anon_first) / (double)anon_first : 0.0);
    free(kv);
    aq_context_free(ctx);
    aq_model_free(model);
    return 0;
}
