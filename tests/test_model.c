/* End-to-end tests of the public API on the shipped model: logits against
 * PyTorch's (tools/golden.py), perplexity of a held-out slice, incremental
 * decoding, loading from memory, tokenizer round trips, and misuse. */
#include <math.h>
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

/* PyTorch and this library sum in different orders; logits of this model
 * are O(10), float32 rounding over a few hundred terms gives ~1e-5. */
#define LOGIT_TOLERANCE 2e-3f

typedef struct fixture {
    aq_model *model;
    char root[1024];
} fixture;

static int setup(void **state) {
    fixture *fx = calloc(1, sizeof *fx);
    char path[1024];
    test_source_path(path, sizeof path, "models/austen-6m.gguf");
    fx->model = aq_model_create();
    if (aq_model_load_file(fx->model, path) != AQ_OK) {
        fprintf(stderr, "load %s: %s\n", path, aq_model_error_message(fx->model));
        aq_model_free(fx->model);
        free(fx);
        return -1;
    }
    *state = fx;
    return 0;
}

static int teardown(void **state) {
    fixture *fx = *state;
    aq_model_free(fx->model);
    free(fx);
    return 0;
}

static aq_context *new_context(aq_model *m, int threads) {
    aq_context *ctx = aq_context_create(m);
    assert_non_null(ctx);
    assert_int_equal(aq_context_set_param(ctx, AQ_PARAM_THREADS, threads), AQ_OK);
    return ctx;
}

/* golden-logits.bin: u32 n_cases, u32 n_vocab; per case u32 n, i32 tokens[n], f32 logits[n][vocab] */
static void test_logits_match_pytorch(void **state) {
    fixture *fx = *state;
    size_t len;
    char *blob = test_read_source_file("data/golden-logits.bin", &len);
    assert_non_null(blob);
    uint32_t n_cases, n_vocab;
    memcpy(&n_cases, blob, 4);
    memcpy(&n_vocab, blob + 4, 4);
    int64_t vocab;
    assert_int_equal(aq_model_get_info(fx->model, AQ_INFO_VOCAB_SIZE, &vocab), AQ_OK);
    assert_int_equal(vocab, n_vocab);
    size_t off = 8;
    for (uint32_t c = 0; c < n_cases; c++) {
        uint32_t n;
        memcpy(&n, blob + off, 4);
        off += 4;
        int32_t *tokens = malloc(n * sizeof *tokens);
        float *golden = malloc((size_t)n * n_vocab * sizeof *golden);
        memcpy(tokens, blob + off, n * 4);
        off += n * 4;
        memcpy(golden, blob + off, (size_t)n * n_vocab * 4);
        off += (size_t)n * n_vocab * 4;
        assert_true(off <= len);
        for (int threads = 1; threads <= 2; threads++) {
            aq_context *ctx = new_context(fx->model, threads);
            assert_int_equal(aq_forward(ctx, tokens, NULL, (int32_t)n, 1), AQ_OK);
            float max_diff = 0.0f;
            for (uint32_t t = 0; t < n; t++) {
                const float *row = aq_get_logits(ctx, (int32_t)t);
                assert_non_null(row);
                for (uint32_t v = 0; v < n_vocab; v++)
                    max_diff = fmaxf(max_diff, fabsf(row[v] - golden[(size_t)t * n_vocab + v]));
            }
            assert_true(max_diff < LOGIT_TOLERANCE);
            aq_context_free(ctx);
        }
        free(tokens);
        free(golden);
    }
    free(blob);
}

/* Token-by-token decoding must reproduce the batched prefill's logits. */
static void test_incremental_decode_matches_prefill(void **state) {
    fixture *fx = *state;
    const char *text = " Mr. Darcy walked into the room, and every eye was upon him.";
    int32_t tokens[64], n = 0;
    assert_int_equal(aq_tokenize(fx->model, text, strlen(text), 1, tokens, 64, &n), AQ_OK);
    aq_context *batch = new_context(fx->model, 2), *step = new_context(fx->model, 1);
    assert_int_equal(aq_forward(batch, tokens, NULL, n, 1), AQ_OK);
    int64_t vocab;
    aq_model_get_info(fx->model, AQ_INFO_VOCAB_SIZE, &vocab);
    for (int32_t t = 0; t < n; t++) {
        assert_int_equal(aq_forward(step, &tokens[t], NULL, 1, 0), AQ_OK);
        const float *a = aq_get_logits(batch, t), *b = aq_get_logits(step, -1);
        for (int64_t v = 0; v < vocab; v++) assert_true(fabsf(a[v] - b[v]) < 1e-3f);
    }
    assert_int_equal(aq_kv_length(step), n);
    /* Truncating and replaying the last token gives the same logits again. */
    float last = aq_get_logits(step, -1)[7];
    assert_int_equal(aq_kv_truncate(step, n - 1), AQ_OK);
    assert_int_equal(aq_forward(step, &tokens[n - 1], NULL, 1, 0), AQ_OK);
    assert_true(aq_get_logits(step, -1)[7] == last);
    aq_context_free(batch);
    aq_context_free(step);
}

/* A prefill asked for the last token's logits alone skips the last layer's
 * other rows after attention: its logits, and those of the decode step after
 * it (which reads every row's cached K and V), are those of a prefill that
 * computes every row, bit for bit, in FP32 and in W4A8. */
static void expect_last_row_prefill_as_full(aq_model *m) {
    const char *text = " Mr. Darcy walked into the room, and every eye was upon him.";
    int32_t tokens[64], n = 0;
    assert_int_equal(aq_tokenize(m, text, strlen(text), 1, tokens, 64, &n), AQ_OK);
    int64_t vocab;
    assert_int_equal(aq_model_get_info(m, AQ_INFO_VOCAB_SIZE, &vocab), AQ_OK);
    size_t bytes = (size_t)vocab * sizeof(float);
    aq_context *all = new_context(m, 2), *last = new_context(m, 2);
    assert_int_equal(aq_forward(all, tokens, NULL, n - 1, 1), AQ_OK);
    assert_int_equal(aq_forward(last, tokens, NULL, n - 1, 0), AQ_OK);
    assert_memory_equal(aq_get_logits(all, n - 2), aq_get_logits(last, -1), bytes);
    assert_int_equal(aq_forward(all, &tokens[n - 1], NULL, 1, 0), AQ_OK);
    assert_int_equal(aq_forward(last, &tokens[n - 1], NULL, 1, 0), AQ_OK);
    assert_memory_equal(aq_get_logits(all, -1), aq_get_logits(last, -1), bytes);
    aq_context_free(all);
    aq_context_free(last);
}

static void test_last_row_prefill_matches_full(void **state) {
    fixture *fx = *state;
    expect_last_row_prefill_as_full(fx->model);
    char path[1024];
    test_source_path(path, sizeof path, "models/austen-6m.gguf");
    aq_model *q = aq_model_create();
    assert_int_equal(aq_model_load_file(q, path), AQ_OK);
    assert_int_equal(aq_quantize(q, "w4a8,rtn", NULL, 0), AQ_OK);
    expect_last_row_prefill_as_full(q);
    aq_model_free(q);
}

/* The first chunks of the held-out text, scored as llama-perplexity does, against PyTorch's figure. */
static void test_perplexity_slice_matches_pytorch(void **state) {
    fixture *fx = *state;
    size_t len, golden_len;
    char *text = test_read_source_file("data/austen-test.txt", &len);
    char *golden = test_read_source_file("data/golden-ppl.txt", &golden_len);
    assert_non_null(text);
    assert_non_null(golden);
    int n_ctx = 0, n_chunks = 0;
    double want = 0;
    const char *line = strstr(golden, "\nctx 128 ");
    assert_non_null(line);
    assert_int_equal(sscanf(line, "\nctx %d chunks %d ppl %lf", &n_ctx, &n_chunks, &want), 3);
    int32_t n_tokens = 0;
    aq_tokenize(fx->model, text, len, 1, NULL, 0, &n_tokens);
    int32_t *tokens = malloc((size_t)n_tokens * sizeof *tokens);
    assert_int_equal(aq_tokenize(fx->model, text, len, 1, tokens, n_tokens, &n_tokens), AQ_OK);
    aq_context *ctx = new_context(fx->model, 2);
    int64_t vocab, bos;
    aq_model_get_info(fx->model, AQ_INFO_VOCAB_SIZE, &vocab);
    aq_model_get_info(fx->model, AQ_INFO_BOS_TOKEN, &bos);
    double nll = 0;
    int count = 0;
    for (int c = 0; c < n_chunks; c++) {
        int32_t *chunk = tokens + (size_t)c * n_ctx;
        int32_t first = chunk[0];
        chunk[0] = (int32_t)bos;
        assert_int_equal(aq_kv_truncate(ctx, 0), AQ_OK);
        assert_int_equal(aq_forward(ctx, chunk, NULL, n_ctx, 1), AQ_OK);
        chunk[0] = first;
        for (int j = n_ctx / 2; j < n_ctx - 1; j++) {
            const float *row = aq_get_logits(ctx, j);
            double max = row[0], sum = 0;
            for (int64_t v = 1; v < vocab; v++) max = row[v] > max ? row[v] : max;
            for (int64_t v = 0; v < vocab; v++) sum += exp(row[v] - max);
            nll += log(sum) - (row[chunk[j + 1]] - max);
            count++;
        }
    }
    double ppl = exp(nll / count);
    /* Float rounding only: agreement to 1e-4 relative is expected, 0.5% is the bound. */
    assert_true(fabs(ppl / want - 1.0) < 1e-3);
    aq_context_free(ctx);
    free(tokens);
    free(text);
    free(golden);
}

static void test_load_from_memory_gives_same_logits(void **state) {
    fixture *fx = *state;
    size_t len;
    char *blob = test_read_source_file("models/austen-6m.gguf", &len);
    assert_non_null(blob);
    aq_model *m = aq_model_create();
    assert_int_equal(aq_model_load_memory(m, blob, len), AQ_OK);
    int32_t tokens[] = {1, 300, 400, 500};
    aq_context *a = new_context(fx->model, 1), *b = new_context(m, 1);
    assert_int_equal(aq_forward(a, tokens, NULL, 4, 0), AQ_OK);
    assert_int_equal(aq_forward(b, tokens, NULL, 4, 0), AQ_OK);
    int64_t vocab;
    aq_model_get_info(m, AQ_INFO_VOCAB_SIZE, &vocab);
    assert_memory_equal(aq_get_logits(a, -1), aq_get_logits(b, -1), (size_t)vocab * sizeof(float));
    aq_context_free(a);
    aq_context_free(b);
    aq_model_free(m);
    /* A truncated copy is refused with a message, never a crash. */
    m = aq_model_create();
    assert_int_equal(aq_model_load_memory(m, blob, len / 2), AQ_ERR_FORMAT);
    assert_true(strlen(aq_model_error_message(m)) > 0);
    aq_model_free(m);
    free(blob);
}

static void test_detokenize_round_trips_held_out_text(void **state) {
    fixture *fx = *state;
    size_t len;
    char *text = test_read_source_file("data/austen-test.txt", &len);
    assert_non_null(text);
    size_t cap = 20000;
    size_t slice = len < cap ? len : cap;
    while (slice > 0 && ((unsigned char)text[slice] & 0xC0) == 0x80) slice--; /* whole characters */
    int32_t n = 0;
    assert_int_equal(aq_tokenize(fx->model, text, slice, 0, NULL, 0, &n), AQ_ERR_BUFFER_TOO_SMALL);
    int32_t *tokens = malloc((size_t)n * sizeof *tokens);
    assert_int_equal(aq_tokenize(fx->model, text, slice, 0, tokens, n, &n), AQ_OK);
    char *back = malloc(slice + 16);
    size_t back_len = 0;
    assert_int_equal(aq_detokenize(fx->model, tokens, n, back, slice + 16, &back_len), AQ_OK);
    assert_int_equal(back_len, slice);
    assert_memory_equal(back, text, slice);
    free(back);
    free(tokens);
    free(text);
}

static void test_generation_is_seeded(void **state) {
    fixture *fx = *state;
    int32_t out[2][16];
    for (int run = 0; run < 2; run++) {
        aq_context *ctx = new_context(fx->model, 2);
        assert_int_equal(aq_context_set_param(ctx, AQ_PARAM_SEED, 42), AQ_OK);
        assert_int_equal(aq_context_set_param(ctx, AQ_PARAM_TEMPERATURE, 1.0), AQ_OK);
        int32_t tok = 1;
        for (int i = 0; i < 16; i++) {
            assert_int_equal(aq_forward(ctx, &tok, NULL, 1, 0), AQ_OK);
            assert_int_equal(aq_sample(ctx, -1, &tok), AQ_OK);
            out[run][i] = tok;
        }
        aq_context_free(ctx);
    }
    assert_memory_equal(out[0], out[1], sizeof out[0]);
}

/* The INT8 KV cache stays close to the float one, prefill and decode alike,
 * and decoding after it still matches its own prefill. */
static void test_int8_kv_cache_close_to_float(void **state) {
    fixture *fx = *state;
    const char *text =
        " Elizabeth could not help smiling at his easy manners; they were so very different from his sister's.";
    int32_t tokens[64], n = 0;
    assert_int_equal(aq_tokenize(fx->model, text, strlen(text), 1, tokens, 64, &n), AQ_OK);
    int64_t vocab;
    aq_model_get_info(fx->model, AQ_INFO_VOCAB_SIZE, &vocab);
    aq_context *f = new_context(fx->model, 2), *q = new_context(fx->model, 2), *step = new_context(fx->model, 1);
    assert_int_equal(aq_context_set_param(q, AQ_PARAM_KV_INT8, 1), AQ_OK);
    assert_int_equal(aq_context_set_param(step, AQ_PARAM_KV_INT8, 1), AQ_OK);
    double v;
    assert_int_equal(aq_context_get_param(q, AQ_PARAM_KV_INT8, &v), AQ_OK);
    assert_true(v == 1.0);
    assert_int_equal(aq_context_set_param(q, AQ_PARAM_KV_INT8, 2), AQ_ERR_OUT_OF_RANGE);
    assert_int_equal(aq_forward(f, tokens, NULL, n, 1), AQ_OK);
    assert_int_equal(aq_forward(q, tokens, NULL, n, 1), AQ_OK);
    double err = 0, ref = 0;
    for (int32_t t = 0; t < n; t++) {
        const float *a = aq_get_logits(f, t), *b = aq_get_logits(q, t);
        for (int64_t i = 0; i < vocab; i++) {
            err += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
            ref += (double)a[i] * a[i];
        }
        /* decode with the INT8 cache reproduces the INT8 prefill: same rounding of the same rows */
        assert_int_equal(aq_forward(step, &tokens[t], NULL, 1, 0), AQ_OK);
        const float *c = aq_get_logits(step, -1);
        for (int64_t i = 0; i < vocab; i++) assert_true(fabsf(b[i] - c[i]) < 1e-3f);
    }
    /* INT8 rows with a per-row scale: about 0.4% relative error per value, a few times less in the logits */
    print_message("INT8 KV cache: relative RMS logit error %.5f\n", sqrt(err / ref));
    assert_true(sqrt(err / ref) < 0.02);
    assert_true(err > 0);
    aq_context_free(f);
    aq_context_free(q);
    aq_context_free(step);
}

static void test_api_misuse_returns_errors(void **state) {
    fixture *fx = *state;
    aq_model *unloaded = aq_model_create();
    int64_t v;
    int32_t tok = 1, n;
    size_t len;
    char buf[8];
    double lo, hi;
    assert_int_equal(aq_model_get_info(unloaded, AQ_INFO_VOCAB_SIZE, &v), AQ_ERR_STATE);
    assert_null(aq_context_create(unloaded));
    assert_null(aq_context_create(NULL));
    assert_int_equal(aq_tokenize(unloaded, "a", 1, 1, &tok, 1, &n), AQ_ERR_STATE);
    assert_int_equal(aq_model_load_file(unloaded, NULL), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_model_load_file(unloaded, "/nonexistent/model.gguf"), AQ_ERR_IO);
    assert_true(strlen(aq_model_error_message(unloaded)) > 0);
    assert_int_equal(aq_model_load_file(NULL, "x"), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_model_load_memory(unloaded, NULL, 10), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_model_load_memory(unloaded, "GGUF", 4), AQ_ERR_FORMAT);
    aq_model_free(unloaded);
    aq_model_free(NULL);
    aq_context_free(NULL);

    char path[1024];
    test_source_path(path, sizeof path, "models/austen-6m.gguf");
    assert_int_equal(aq_model_load_file(fx->model, path), AQ_ERR_STATE);
    assert_int_equal(aq_model_get_info(fx->model, (aq_model_info)99, &v), AQ_ERR_OUT_OF_RANGE);
    assert_int_equal(aq_model_get_info(fx->model, AQ_INFO_VOCAB_SIZE, NULL), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_tokenize(fx->model, NULL, 3, 1, &tok, 1, &n), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_token_to_piece(fx->model, -1, buf, sizeof buf, &len), AQ_ERR_OUT_OF_RANGE);
    assert_int_equal(aq_token_to_piece(fx->model, 1 << 30, buf, sizeof buf, &len), AQ_ERR_OUT_OF_RANGE);
    assert_int_equal(aq_detokenize(fx->model, NULL, 2, buf, sizeof buf, &len), AQ_ERR_INVALID_ARGUMENT);

    aq_context *ctx = new_context(fx->model, 1);
    assert_int_equal(aq_sample(ctx, -1, &tok), AQ_ERR_STATE); /* no forward yet */
    assert_null(aq_get_logits(ctx, 0));
    assert_int_equal(aq_forward(ctx, NULL, NULL, 1, 0), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_forward(ctx, &tok, NULL, 0, 0), AQ_ERR_INVALID_ARGUMENT);
    int32_t bad = 1 << 20;
    assert_int_equal(aq_forward(ctx, &bad, NULL, 1, 0), AQ_ERR_OUT_OF_RANGE);
    bad = -1;
    assert_int_equal(aq_forward(ctx, &bad, NULL, 1, 0), AQ_ERR_OUT_OF_RANGE);
    int32_t neg_pos = -5;
    assert_int_equal(aq_forward(ctx, &tok, &neg_pos, 1, 0), AQ_ERR_OUT_OF_RANGE);
    assert_int_equal(aq_kv_length(ctx), 0);
    assert_int_equal(aq_context_set_param(ctx, AQ_PARAM_THREADS, 0), AQ_ERR_OUT_OF_RANGE);
    assert_int_equal(aq_context_set_param(ctx, AQ_PARAM_THREADS, 1.5), AQ_ERR_OUT_OF_RANGE);
    assert_int_equal(aq_context_set_param(ctx, AQ_PARAM_TOP_P, 1.5), AQ_ERR_OUT_OF_RANGE);
    assert_int_equal(aq_context_set_param(ctx, AQ_PARAM_TEMPERATURE, NAN), AQ_ERR_OUT_OF_RANGE);
    assert_int_equal(aq_context_set_param(ctx, (aq_param)77, 1), AQ_ERR_OUT_OF_RANGE);
    assert_int_equal(aq_context_set_param(NULL, AQ_PARAM_THREADS, 1), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_param_bounds(AQ_PARAM_TOP_P, &lo, &hi), AQ_OK);
    assert_true(lo == 0.0 && hi == 1.0);
    assert_int_equal(aq_param_bounds((aq_param)77, &lo, &hi), AQ_ERR_OUT_OF_RANGE);

    /* A full cache refuses more tokens and keeps its state. */
    assert_int_equal(aq_context_set_param(ctx, AQ_PARAM_CONTEXT_LENGTH, 4), AQ_OK);
    int32_t five[5] = {1, 5, 6, 7, 8};
    assert_int_equal(aq_forward(ctx, five, NULL, 5, 0), AQ_ERR_CONTEXT_FULL);
    assert_int_equal(aq_forward(ctx, five, NULL, 4, 1), AQ_OK);
    assert_int_equal(aq_forward(ctx, five, NULL, 1, 0), AQ_ERR_CONTEXT_FULL);
    assert_int_equal(aq_kv_length(ctx), 4);
    assert_non_null(aq_get_logits(ctx, 3));
    assert_null(aq_get_logits(ctx, 4));
    assert_int_equal(aq_kv_truncate(ctx, 5), AQ_ERR_OUT_OF_RANGE);
    assert_true(strlen(aq_context_error_message(ctx)) > 0);
    aq_context_free(ctx);

    assert_string_equal(aq_error_name(AQ_ERR_FORMAT), "AQ_ERR_FORMAT");
    assert_string_equal(aq_error_name((aq_error)1234), "AQ_ERR_UNKNOWN");
    assert_int_equal(aq_version_number(), AQ_VERSION_NUMBER);
    char version[32];
    snprintf(version, sizeof version, "%d.%d.%d", AQ_VERSION_MAJOR, AQ_VERSION_MINOR, AQ_VERSION_RELEASE);
    assert_string_equal(aq_version_string(), version);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_logits_match_pytorch),
        cmocka_unit_test(test_incremental_decode_matches_prefill),
        cmocka_unit_test(test_last_row_prefill_matches_full),
        cmocka_unit_test(test_perplexity_slice_matches_pytorch),
        cmocka_unit_test(test_load_from_memory_gives_same_logits),
        cmocka_unit_test(test_detokenize_round_trips_held_out_text),
        cmocka_unit_test(test_generation_is_seeded),
        cmocka_unit_test(test_int8_kv_cache_close_to_float),
        cmocka_unit_test(test_api_misuse_returns_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
