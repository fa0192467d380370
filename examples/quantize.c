/* aq-quantize: quantize a full-precision GGUF model and save it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agilequant.h"
#include "args.h"

#define TOOL "aq-quantize"

static void usage(FILE *out) {
    fprintf(out, "usage: aq-quantize -m IN.gguf -o OUT.gguf --scheme NAME [--calib TRAINING_TEXT]\n"
                 "  schemes: w4a16 w4a8 w4a4 (our best at each width on the shipped models), w4a8o w4a4o\n"
                 "  (for a real model's own outliers), w4a8-paper w4a4-paper (static\n"
                 "  per-tensor scales with TRIP), w3a8 (3-bit weights), q4_0 q8_0 (llama.cpp's formats);\n"
                 "  modifiers after commas:\n"
                 "  rtn gptq g32 g64 g128 sym asym rotate no-rotate trip no-trip static dynamic down8\n"
                 "  clip (weight scales searched for least error) clip-act (weighted by calibration)\n"
                 "  ag32 ag64 ag128 (activation scales per token and group of features)\n"
                 "  mix8-N (with ag*: N activation groups of each input at 8 bits, the rest at 4)\n"
                 "  aclip (with ag*: 4-bit activation groups' scales clipped for least error)\n"
                 "  aasym (with ag*, not aclip: 4-bit activation groups asymmetric, a zero point each)\n"
                 "  head-q8_0 (default: output head and embedding as Q8_0) head-f32\n"
                 "  head-int4 (output head as INT4 with INT8 input; a tied embedding table too)\n"
                 "  (docs/FORMAT.md). --calib: text to calibrate on; use training text, never test text.\n");
}

/* Whether the progress bar's line is unfinished (an error then starts a new line). */
static int bar_open;

static void progress_bar(void *user, float fraction, const char *stage) {
    (void)user;
    bar_open = fraction < 1.0f;
    int filled = (int)(fraction * 40.0f + 0.5f);
    fprintf(stderr, "\r%-12s [%.*s%*s] %3d%%", stage, filled, "########################################", 40 - filled,
            "", (int)(fraction * 100.0f + 0.5f));
    if (fraction >= 1.0f) fputc('\n', stderr);
    fflush(stderr);
}

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long size = ftell(f);
        if (size >= 0 && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)size + 1)) != NULL) {
            *len = fread(buf, 1, (size_t)size, f);
            if (*len != (size_t)size) {
                free(buf);
                buf = NULL;
            }
        }
    }
    fclose(f);
    return buf;
}

int main(int argc, char **argv) {
    const char *in = NULL, *out = NULL, *scheme = NULL, *calib_path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        if (!(v = args_value(TOOL, argc, argv, &i))) return 2;
        if (!strcmp(a, "-m"))
            in = v;
        else if (!strcmp(a, "-o"))
            out = v;
        else if (!strcmp(a, "--scheme"))
            scheme = v;
        else if (!strcmp(a, "--calib"))
            calib_path = v;
        else
            return args_unknown(TOOL, a);
    }
    if (!in) return args_missing(TOOL, "-m IN.gguf");
    if (!out) return args_missing(TOOL, "-o OUT.gguf");
    if (!scheme) return args_missing(TOOL, "--scheme NAME");
    size_t calib_len = 0;
    char *calib = NULL;
    if (calib_path && !(calib = read_file(calib_path, &calib_len))) {
        fprintf(stderr, "aq-quantize: cannot read %s\n", calib_path);
        return 1;
    }
    aq_model *model = aq_model_create();
    int rc = 1;
    if (!model) goto out;
    aq_model_set_progress(model, progress_bar, NULL);
    if (aq_model_load_file(model, in) != AQ_OK) {
        fprintf(stderr, TOOL ": %s: %s\n", in, aq_model_error_message(model));
        goto out;
    }
    if (aq_quantize(model, scheme, calib, calib_len) != AQ_OK || aq_model_save(model, out) != AQ_OK) {
        fprintf(stderr, "%s" TOOL ": %s\n", bar_open ? "\n" : "", aq_model_error_message(model));
        goto out;
    }
    fprintf(stderr, "%s\nkernels: %s\nwrote %s\n", aq_model_describe(model), aq_model_kernels(model), out);
    rc = 0;
out:
    aq_model_free(model);
    free(calib);
    return rc;
}
