/* A model quantized, saved and loaded back (aq_quantize, aq_model_save,
 * aq_model_load_file): the file we write must load, describe the same model
 * and give the same logits, bit for bit. The input is a model (the seeds are
 * tiny ones); its last byte (and its size) picks the scheme, so that a
 * mutation of the weights can change it without breaking the file. */
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "agilequant.h"
#include "fuzz.h"

static const char *const k_schemes[] = {
    "fp32",
    "q8_0",
    "q4_0",
    "w4a16,rtn",
    "w4a8,rtn",
    "w4a4,rtn,no-rotate,asym",
    "w4a8-paper,rtn",
    "w4a16",
    "fp32,rotate,balance",
    "w4a4-paper,rtn,down8",
};
#define N_SCHEMES (sizeof k_schemes / sizeof k_schemes[0])

/* Enough tokens for a calibration chunk (64) with any of the seeds' vocabularies. */
static const char k_calibration[] =
    "the cat sat on the mat. he ran up the hill, and the sun came in. once upon a time there lived a little "
    "cat in a house on the hill; the cat liked the sun, and the sun liked the cat. the end of the tale.";
static char g_path[4096];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fuzz_temp_path(g_path, sizeof g_path, "roundtrip.gguf");
    return 0;
}

/* The logits of a short prompt, on one thread; NULL if the model does not run it. */
static float *logits(aq_model *m, int64_t vocab) {
    static const char prompt[] = "the cat ran";
    int32_t tokens[32], n = 0;
    if (aq_tokenize(m, prompt, sizeof prompt - 1, 1, tokens, 32, &n) != AQ_OK || n == 0) return NULL;
    aq_context *c = aq_context_create(m);
    float *out = NULL;
    if (c && aq_context_set_param(c, AQ_PARAM_THREADS, 1) == AQ_OK &&
        aq_context_set_param(c, AQ_PARAM_CONTEXT_LENGTH, 32) == AQ_OK && aq_forward(c, tokens, NULL, n, 0) == AQ_OK) {
        out = malloc((size_t)vocab * sizeof *out);
        FUZZ_CHECK(out != NULL);
        memcpy(out, aq_get_logits(c, -1), (size_t)vocab * sizeof *out);
    }
    aq_context_free(c);
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    aq_model *m = aq_model_create();
    FUZZ_CHECK(m != NULL);
    const char *scheme = k_schemes[(data[size - 1] + size / 64) % N_SCHEMES];
    aq_error err = aq_model_load_memory(m, data, size);
    if (err == AQ_OK) err = aq_quantize(m, scheme, k_calibration, sizeof k_calibration - 1);
    if (fuzz_verbose()) printf("%s: %s %s\n", scheme, aq_error_name(err), aq_model_error_message(m));
    if (err != AQ_OK) {
        aq_model_free(m);
        return 0;
    }
    err = aq_model_save(m, g_path);
    if (err != AQ_OK) fprintf(stderr, "save: %s\n", aq_model_error_message(m));
    FUZZ_CHECK(err == AQ_OK);
    aq_model *back = aq_model_create();
    FUZZ_CHECK(back != NULL);
    err = aq_model_load_file(back, g_path);
    if (err != AQ_OK) fprintf(stderr, "%s: the saved model does not load: %s\n", scheme, aq_model_error_message(back));
    FUZZ_CHECK(err == AQ_OK);
    unlink(g_path); /* the mapping keeps the data */
    FUZZ_CHECK(strcmp(aq_model_scheme(m), aq_model_scheme(back)) == 0);
    FUZZ_CHECK(strcmp(aq_model_describe(m), aq_model_describe(back)) == 0);
    for (int i = 0; i <= AQ_INFO_EOT_TOKEN; i++) {
        int64_t a, b;
        FUZZ_CHECK(aq_model_get_info(m, (aq_model_info)i, &a) == AQ_OK);
        FUZZ_CHECK(aq_model_get_info(back, (aq_model_info)i, &b) == AQ_OK);
        if (a != b) fprintf(stderr, "%s: info %d: %lld, then %lld\n", scheme, i, (long long)a, (long long)b);
        FUZZ_CHECK(a == b || i == AQ_INFO_WEIGHT_BYTES);
    }
    int64_t vocab;
    FUZZ_CHECK(aq_model_get_info(m, AQ_INFO_VOCAB_SIZE, &vocab) == AQ_OK);
    float *before = logits(m, vocab), *after = logits(back, vocab);
    FUZZ_CHECK((before == NULL) == (after == NULL));
    bool same = !before || memcmp(before, after, (size_t)vocab * sizeof *before) == 0;
    if (!same) fprintf(stderr, "%s: the logits changed in the round trip\n", scheme);
    FUZZ_CHECK(same);
    free(before);
    free(after);
    aq_model_free(back);
    aq_model_free(m);
    return 0;
}
