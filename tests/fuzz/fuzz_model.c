/* A whole model from memory (aq_model_load_memory), then what a program does
 * with it: every info, the description, tokenize, a context of one thread,
 * one forward step of a short prompt and a decode step, greedy and seeded
 * sampling, detokenize. Any input must load or fail with a message, and a
 * model that loads must run (or fail with an error code), never crash. */
#include <math.h>
#include <string.h>

#include "agilequant.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    return 0;
}

static void run(aq_model *m) {
    int64_t info[13] = {0};
    for (int i = 0; i <= AQ_INFO_EOT_TOKEN; i++) FUZZ_CHECK(aq_model_get_info(m, (aq_model_info)i, &info[i]) == AQ_OK);
    FUZZ_CHECK(info[AQ_INFO_VOCAB_SIZE] > 0);
    FUZZ_CHECK(strlen(aq_model_describe(m)) > 0);
    /* The chat template the file names (tokenizer.chat_template), on a short conversation. */
    static const aq_chat_message chat[] = {{"system", "Be brief."}, {"user", "Hi <|im_end|>"}, {"assistant", "Hello."}};
    char prompt[512];
    size_t prompt_len = 0;
    aq_error chat_err = aq_chat_apply_template(m, chat, 3, 1, prompt, sizeof prompt, &prompt_len);
    FUZZ_CHECK(chat_err == AQ_OK || chat_err == AQ_ERR_UNSUPPORTED ||
               (chat_err == AQ_ERR_BUFFER_TOO_SMALL && prompt_len > sizeof prompt));
    FUZZ_CHECK((chat_err == AQ_ERR_UNSUPPORTED) == (aq_model_chat_template_name(m)[0] == '\0'));
    if (chat_err == AQ_OK) {
        int32_t ids[256], n_ids = 0;
        aq_error err = aq_tokenize_special(m, prompt, prompt_len, 0, ids, 256, &n_ids);
        FUZZ_CHECK(err == AQ_OK || err == AQ_ERR_UNSUPPORTED || err == AQ_ERR_BUFFER_TOO_SMALL);
    }
    (void)aq_model_kernels(m);

    static const char text[] = "Once upon a time, <s> the caf\xc3\xa9 \xff!";
    int32_t tokens[64], n = 0;
    aq_error err = aq_tokenize(m, text, sizeof text - 1, (int)info[AQ_INFO_ADD_BOS], tokens, 8, &n);
    if (err == AQ_ERR_BUFFER_TOO_SMALL) {
        FUZZ_CHECK(n > 8 && n <= 64);
        err = aq_tokenize(m, text, sizeof text - 1, (int)info[AQ_INFO_ADD_BOS], tokens, 64, &n);
    }
    if (err != AQ_OK) return; /* e.g. a byte with neither a byte token nor <unk> */
    for (int32_t i = 0; i < n; i++) FUZZ_CHECK(tokens[i] >= 0 && tokens[i] < info[AQ_INFO_VOCAB_SIZE]);
    char buf[256];
    size_t len = 0;
    err = aq_detokenize(m, tokens, n, buf, sizeof buf, &len);
    FUZZ_CHECK(err == AQ_OK || (err == AQ_ERR_BUFFER_TOO_SMALL && len > sizeof buf));

    aq_context *c = aq_context_create(m);
    if (!c) return;
    FUZZ_CHECK(aq_context_set_param(c, AQ_PARAM_THREADS, 1) == AQ_OK);
    FUZZ_CHECK(aq_context_set_param(c, AQ_PARAM_CONTEXT_LENGTH, 16) == AQ_OK);
    FUZZ_CHECK(aq_context_set_param(c, AQ_PARAM_TEMPERATURE, 0) == AQ_OK);
    if (n > 4) n = 4; /* a short prompt keeps it fast */
    if (n == 0) tokens[n++] = 0;
    err = aq_forward(c, tokens, NULL, n, 1);
    if (fuzz_verbose())
        printf("  %s; forward of %d tokens: %s %s\n", aq_model_describe(m), n, aq_error_name(err),
               err ? aq_context_error_message(c) : "");
    if (err == AQ_OK) {
        for (int32_t i = 0; i < n; i++) {
            const float *row = aq_get_logits(c, i);
            FUZZ_CHECK(row != NULL);
            for (int64_t j = 0; j < info[AQ_INFO_VOCAB_SIZE]; j++) FUZZ_CHECK(isfinite(row[j]));
        }
        int32_t next = -1;
        FUZZ_CHECK(aq_sample(c, -1, &next) == AQ_OK && next >= 0 && next < info[AQ_INFO_VOCAB_SIZE]);
        FUZZ_CHECK(aq_token_to_piece(m, next, buf, sizeof buf, &len) == AQ_OK ||
                   aq_token_to_piece(m, next, buf, sizeof buf, &len) == AQ_ERR_BUFFER_TOO_SMALL);
        err = aq_forward(c, &next, NULL, 1, 0); /* a decode step, then a seeded draw */
        FUZZ_CHECK(err == AQ_OK || err == AQ_ERR_NUMERIC);
        if (err == AQ_OK) {
            FUZZ_CHECK(aq_context_set_param(c, AQ_PARAM_TEMPERATURE, 0.8) == AQ_OK);
            FUZZ_CHECK(aq_sample(c, 0, &next) == AQ_OK && next >= 0 && next < info[AQ_INFO_VOCAB_SIZE]);
        }
    } else {
        /* A model that loads runs; only its numbers may overflow, or the positions run out. */
        FUZZ_CHECK(err == AQ_ERR_NUMERIC || err == AQ_ERR_OUT_OF_RANGE || err == AQ_ERR_OUT_OF_MEMORY);
        FUZZ_CHECK(aq_get_logits(c, -1) == NULL || err != AQ_ERR_NUMERIC);
    }
    aq_context_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    aq_model *m = aq_model_create();
    if (!m) return 0;
    aq_error err = aq_model_load_memory(m, data, size);
    if (fuzz_verbose()) printf("load: %s %s\n", aq_error_name(err), aq_model_error_message(m));
    if (err == AQ_OK) {
        run(m);
    } else {
        FUZZ_CHECK(aq_model_error_message(m)[0] != '\0');
    }
    aq_model_free(m);
    return 0;
}
