/* Names and numbers from outside: scheme names (lib/quant/scheme.h:
 * aq_scheme_parse), then aq_context_set_param / aq_context_get_param,
 * aq_param_bounds and aq_prune on a context of a tiny model loaded once.
 * Input: a line (the scheme name, up to the first '\n'), then records of a
 * 4-byte parameter id and an 8-byte double. A value accepted must read back
 * as set; one refused must leave the parameter as it was. */
#include <math.h>
#include <string.h>

#include "agilequant.h"
#include "fuzz.h"
#include "scheme.h"

static aq_model *g_model;
static aq_context *g_ctx;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    size_t size;
    uint8_t *file = fuzz_read_source("tests/fuzz/corpus/model/llama-f16-spm.gguf", &size);
    g_model = aq_model_create();
    if (!g_model || aq_model_load_memory(g_model, file, size) != AQ_OK) {
        fprintf(stderr, "fuzz_params: cannot load the tiny model: %s\n", aq_model_error_message(g_model));
        exit(2);
    }
    return 0; /* the file stays: the model reads it in place */
}

static void scheme(const char *name) {
    aq_scheme s;
    char msg[256];
    memset(msg, 'x', sizeof msg);
    aq_error err = aq_scheme_parse(name, &s, msg, sizeof msg);
    if (err != AQ_OK) {
        FUZZ_CHECK(memchr(msg, '\0', sizeof msg) != NULL && msg[0] != '\0');
        return;
    }
    FUZZ_CHECK(s.weights == AQ_WEIGHTS_F32 || s.weights == AQ_WEIGHTS_Q4W || s.weights == AQ_WEIGHTS_BLOCKS);
    if (s.weights == AQ_WEIGHTS_Q4W) FUZZ_CHECK(s.group == 32 || s.group == 64 || s.group == 128);
    for (int i = 0; i < AQ_N_LINEAR_INPUTS; i++)
        FUZZ_CHECK(s.act_bits[i] == 0 || s.act_bits[i] == 4 || s.act_bits[i] == 8);
    (void)aq_scheme_needs_calibration(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *nl = memchr(data, '\n', size);
    size_t name_len = nl ? (size_t)(nl - data) : size;
    char *name = malloc(name_len + 1);
    FUZZ_CHECK(name != NULL);
    memcpy(name, data, name_len);
    name[name_len] = '\0';
    scheme(name);
    free(name);
    if (!nl) return 0;

    /* A fresh context each time: what one input sets does not leak into the next. */
    g_ctx = aq_context_create(g_model);
    FUZZ_CHECK(g_ctx != NULL);
    const uint8_t *p = nl + 1, *end = data + size;
    for (; end - p >= 12; p += 12) {
        int32_t id;
        double value, before, after, lo, hi;
        memcpy(&id, p, 4);
        memcpy(&value, p + 4, 8);
        aq_param param = (aq_param)id;
        bool known = aq_param_bounds(param, &lo, &hi) == AQ_OK;
        FUZZ_CHECK(known == (aq_context_get_param(g_ctx, param, &before) == AQ_OK));
        aq_error err = aq_context_set_param(g_ctx, param, value);
        if (!known) {
            FUZZ_CHECK(err == AQ_ERR_OUT_OF_RANGE);
            continue;
        }
        FUZZ_CHECK(aq_context_get_param(g_ctx, param, &after) == AQ_OK);
        if (err == AQ_OK) {
            FUZZ_CHECK(value >= lo && value <= hi);
            bool is_float = param == AQ_PARAM_TEMPERATURE || param == AQ_PARAM_TOP_P;
            FUZZ_CHECK(after == (is_float ? (double)(float)value : value));
        } else {
            FUZZ_CHECK(err == AQ_ERR_OUT_OF_RANGE || err == AQ_ERR_OUT_OF_MEMORY || err == AQ_ERR_THREADS);
            FUZZ_CHECK(aq_context_error_message(g_ctx)[0] != '\0');
            if (err == AQ_ERR_OUT_OF_RANGE) FUZZ_CHECK(after == before || (isnan(after) && isnan(before)));
        }
        /* The same record as pruning settings. */
        (void)aq_prune(g_ctx, value, id % 4 - 1, (aq_prune_importance)(id & 3), (aq_prune_positions)((id >> 2) & 3));
    }
    /* The settings must still run: one token through the model. */
    int32_t token = 1, next;
    double length;
    FUZZ_CHECK(aq_context_get_param(g_ctx, AQ_PARAM_CONTEXT_LENGTH, &length) == AQ_OK && length >= 1);
    FUZZ_CHECK(aq_context_set_param(g_ctx, AQ_PARAM_THREADS, 1) == AQ_OK);
    aq_error err = aq_forward(g_ctx, &token, NULL, 1, 0);
    FUZZ_CHECK(err == AQ_OK);
    FUZZ_CHECK(aq_sample(g_ctx, -1, &next) == AQ_OK);
    aq_context_free(g_ctx);
    g_ctx = NULL;
    return 0;
}
