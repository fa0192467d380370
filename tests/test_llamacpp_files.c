/* Files written by llama.cpp's own llama-quantize (data/llamacpp/, made by
 * tools/make_llamacpp_fixtures.sh): one per weight type users meet, default
 * mixes and tied heads. Each must load, give llama.cpp's logits for fixed
 * tokens and its perplexity on a slice (the goldens in MANIFEST.tsv come from
 * llama.cpp itself), and its damaged copies must get errors, not crashes. */
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
#include "gguf.h"
#include "model.h"
#include "test_util.h"

#define N_TOKENS 64
#define VOCAB 512
#define PPL_CTX 128
#define PPL_CHUNKS 4

typedef struct fixture_file {
    const char *name;
    /* Largest |our logit - llama.cpp's| allowed: llama.cpp keeps the KV cache
     * and attention in F16, so float weights differ by ~1e-3; quantized types
     * add the rounding of activations that fall on the other side of a level. */
    float logit_tolerance;
} fixture_file;

static const fixture_file k_files[] = {
    {"austen-l1-f32", 0.01f},      {"austen-l1-f16", 0.02f},     {"austen-l1-bf16", 0.05f},
    {"austen-l1-q4_0", 0.2f},      {"austen-l1-q4_1", 0.2f},     {"austen-l1-q5_0", 0.2f},
    {"austen-l1-q5_1", 0.2f},      {"austen-l1-q8_0", 0.2f},     {"austen-l1-q2_k", 0.2f},
    {"austen-l1-q3_k", 0.2f},      {"austen-l1-q4_k", 0.2f},     {"austen-l1-q5_k", 0.2f},
    {"austen-l1-q6_k", 0.2f},      {"austen-l1-iq4_nl", 0.2f},   {"austen-l1-iq4_xs", 0.2f},
    {"austen-l1-q4_k_m", 0.2f},    {"austen-l1-q4_0-mix", 0.2f}, {"austen-l1-tied-q4_0", 0.2f},
    {"austen-l1-tied-q6_k", 0.2f},
};

/* Whitespace-separated integers of a file of the source tree. */
static int32_t read_ids(const char *relative, int32_t *ids, int32_t cap) {
    size_t len = 0;
    char *text = test_read_source_file(relative, &len);
    assert_non_null(text);
    int32_t n = 0;
    char *p = text, *end;
    for (long v = strtol(p, &end, 10); end != p && n < cap; v = strtol(p, &end, 10)) {
        ids[n++] = (int32_t)v;
        p = end;
    }
    free(text);
    return n;
}

/* llama-perplexity's estimate for file, from MANIFEST.tsv. */
static double manifest_ppl(const char *file) {
    size_t len = 0;
    char *text = test_read_source_file("data/llamacpp/MANIFEST.tsv", &len);
    assert_non_null(text);
    double ppl = -1.0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char *tab = strchr(line, '\t');
        if (!tab || (size_t)(tab - line) != strlen(file) || strncmp(line, file, strlen(file)) != 0) continue;
        char *field = line;
        for (int column = 0; column < 4 && field; column++) field = strchr(field + 1, '\t');
        if (field) ppl = strtod(field + 1, NULL);
    }
    free(text);
    return ppl;
}

static aq_model *load(const char *name) {
    char path[1024], relative[256];
    snprintf(relative, sizeof relative, "data/llamacpp/%s.gguf", name);
    test_source_path(path, sizeof path, relative);
    aq_model *m = aq_model_create();
    assert_non_null(m);
    aq_error err = aq_model_load_file(m, path);
    if (err != AQ_OK) fail_msg("%s: %s: %s", name, aq_error_name(err), aq_model_error_message(m));
    return m;
}

static void test_logits_match_llamacpp(void **state) {
    (void)state;
    int32_t tokens[N_TOKENS];
    assert_int_equal(read_ids("data/llamacpp/tokens.txt", tokens, N_TOKENS), N_TOKENS);
    for (size_t f = 0; f < sizeof k_files / sizeof k_files[0]; f++) {
        aq_model *m = load(k_files[f].name);
        aq_context *ctx = aq_context_create(m);
        assert_non_null(ctx);
        assert_int_equal(aq_context_set_param(ctx, AQ_PARAM_THREADS, 1), AQ_OK);
        assert_int_equal(aq_forward(ctx, tokens, NULL, N_TOKENS, 1), AQ_OK);
        char relative[256];
        snprintf(relative, sizeof relative, "data/llamacpp/%s.logits", k_files[f].name);
        size_t len = 0;
        float *golden = (float *)(void *)test_read_source_file(relative, &len);
        assert_non_null(golden);
        assert_int_equal(len, (size_t)N_TOKENS * VOCAB * sizeof(float));
        double worst = 0.0;
        int same_argmax = 0;
        for (int32_t t = 0; t < N_TOKENS; t++) {
            const float *ours = aq_get_logits(ctx, t), *theirs = golden + (size_t)t * VOCAB;
            assert_non_null(ours);
            int32_t best_ours = 0, best_theirs = 0;
            for (int32_t v = 0; v < VOCAB; v++) {
                double d = fabs((double)ours[v] - (double)theirs[v]);
                worst = d > worst ? d : worst;
                if (ours[v] > ours[best_ours]) best_ours = v;
                if (theirs[v] > theirs[best_theirs]) best_theirs = v;
            }
            same_argmax += best_ours == best_theirs;
        }
        print_message("%-22s max |logit - llama.cpp| %.5f, argmax agrees at %d of %d\n", k_files[f].name, worst,
                      same_argmax, N_TOKENS);
        if (worst > k_files[f].logit_tolerance)
            fail_msg("%s: logits differ from llama.cpp's by %g", k_files[f].name, worst);
        assert_true(same_argmax >= N_TOKENS - 2);
        free(golden);
        aq_context_free(ctx);
        aq_model_free(m);
    }
}

/* All logits of a prefill of n - 2 tokens, then of two decode steps. */
static float *run_logits(aq_model *m, const int32_t *tokens, int32_t n, int threads) {
    aq_context *ctx = aq_context_create(m);
    assert_non_null(ctx);
    assert_int_equal(aq_context_set_param(ctx, AQ_PARAM_THREADS, threads), AQ_OK);
    float *all = malloc((size_t)n * VOCAB * sizeof(float));
    assert_non_null(all);
    assert_int_equal(aq_forward(ctx, tokens, NULL, n - 2, 1), AQ_OK);
    for (int32_t t = 0; t < n - 2; t++) memcpy(all + (size_t)t * VOCAB, aq_get_logits(ctx, t), VOCAB * sizeof(float));
    for (int32_t t = n - 2; t < n; t++) {
        assert_int_equal(aq_forward(ctx, tokens + t, NULL, 1, 0), AQ_OK);
        memcpy(all + (size_t)t * VOCAB, aq_get_logits(ctx, 0), VOCAB * sizeof(float));
    }
    aq_context_free(ctx);
    return all;
}

/* Q4_0, Q8_0, Q4_K, Q5_K and Q6_K matrices repacked at load into groups of 8 rows
 * (kernels_ref/q4_0x8.h, q8_0x8.h, q4_kx8.h, q6_kx8.h) give the same logits, bit for bit,
 * as the reference path that reads the file's layout, in prefill and decode, on 1 and 3 threads (3 cuts the rows
 * at other places). Where this CPU has a repacked kernel the test checks that
 * the model did repack (the Q4_0 and Q4_K_M mixes' heads are Q6_K, as in llama.cpp's
 * default Q4_0, Q4_K_M and Q5_K_M files; Q4_K_M's attn_v and ffn_down too), and runs once more with the last group of two
 * matrices handed back to the plain path, as the rows of a matrix whose row count
 * is not a multiple of 8 are. */
static void test_repacked_same_logits(void **state) {
    (void)state;
    int32_t tokens[N_TOKENS];
    assert_int_equal(read_ids("data/llamacpp/tokens.txt", tokens, N_TOKENS), N_TOKENS);
    const char *names[] = {"austen-l1-q4_0", "austen-l1-q4_0-mix",  "austen-l1-tied-q4_0",
                           "austen-l1-q8_0", "austen-l1-q4_k",      "austen-l1-q5_k",
                           "austen-l1-q6_k", "austen-l1-tied-q6_k", "austen-l1-q4_k_m"};
    const uint32_t types[] = {AQ_GGML_Q4_0, AQ_GGML_Q4_0, AQ_GGML_Q4_0, AQ_GGML_Q8_0, AQ_GGML_Q4_K,
                              AQ_GGML_Q5_K, AQ_GGML_Q6_K, AQ_GGML_Q6_K, AQ_GGML_Q4_K};
    for (size_t f = 0; f < sizeof names / sizeof names[0]; f++) {
        aq_model *ref = aq_model_create();
        assert_non_null(ref);
        assert_int_equal(aq_model_set_kernels(ref, "ref"), AQ_OK);
        char path[1024], relative[256];
        snprintf(relative, sizeof relative, "data/llamacpp/%s.gguf", names[f]);
        test_source_path(path, sizeof path, relative);
        assert_int_equal(aq_model_load_file(ref, path), AQ_OK);
        assert_null(ref->layers[0].wq.x8);
        aq_model *m = load(names[f]);
        const aq_block_gemm_x8_kernel *x8 = m->kernels.block_gemm_x8[types[f]];
        const bool repacks = x8 && x8->isa != AQ_CPU_NONE;
        aq_matrix *wq = &m->layers[0].wq, *head = &m->output;
        if (repacks && wq->format == AQ_WEIGHTS_BLOCKS && wq->block_type->type == types[f]) assert_non_null(wq->x8);
        const aq_block_gemm_x8_kernel *head_x8 =
            head->format == AQ_WEIGHTS_BLOCKS ? m->kernels.block_gemm_x8[head->block_type->type] : NULL;
        if (head_x8 && head_x8->isa != AQ_CPU_NONE) assert_non_null(head->x8);
        print_message("%-22s repacked: %s, head %s\n", names[f], repacks ? x8->name : "no (reference kernels)",
                      head->x8 ? head_x8->name : "not repacked");
        for (int round = 0; round < (repacks || head->x8 ? 2 : 1); round++) {
            if (round == 1) {
                if (wq->x8) wq->x8_rows -= AQ_X8_ROWS;
                if (head->x8) head->x8_rows -= AQ_X8_ROWS;
            }
            for (int threads = 1; threads <= 3; threads += 2) {
                float *want = run_logits(ref, tokens, N_TOKENS, threads);
                float *got = run_logits(m, tokens, N_TOKENS, threads);
                if (memcmp(want, got, (size_t)N_TOKENS * VOCAB * sizeof(float)) != 0)
                    fail_msg("%s: logits differ from the reference path (round %d, %d threads)", names[f], round,
                             threads);
                free(want);
                free(got);
            }
        }
        aq_model_free(m);
        aq_model_free(ref);
    }
}

/* A model whose Q8_0 matrices were repacked at load, then quantized in memory to
 * q4_0: the repacked copies go with the blocks they were made from (a stale one
 * would be read as the new blocks' layout), and the logits are, bit for bit,
 * those of the same file loaded from memory (never repacked) and quantized. */
static void test_repacked_then_quantized(void **state) {
    (void)state;
    static const char text[] = "It is a truth universally acknowledged, that a single man in possession of a good "
                               "fortune, must be in want of a wife. However little known the feelings or views of "
                               "such a man may be on his first entering a neighbourhood, this truth is so well fixed.";
    int32_t tokens[N_TOKENS];
    assert_int_equal(read_ids("data/llamacpp/tokens.txt", tokens, N_TOKENS), N_TOKENS);
    size_t len = 0;
    char *bytes = test_read_source_file("data/llamacpp/austen-l1-q8_0.gguf", &len);
    assert_non_null(bytes);
    aq_model *plain = aq_model_create();
    assert_non_null(plain);
    assert_int_equal(aq_model_load_memory(plain, bytes, len), AQ_OK);
    assert_null(plain->layers[0].wq.x8);
    aq_model *m = load("austen-l1-q8_0");
    const aq_block_gemm_x8_kernel *x8 = m->kernels.block_gemm_x8[AQ_GGML_Q8_0];
    if (x8 && x8->isa != AQ_CPU_NONE) assert_non_null(m->layers[0].wq.x8);
    for (aq_model **p = (aq_model *[]){plain, m, NULL}; *p; p++) {
        aq_error err = aq_quantize(*p, "q4_0", text, sizeof text - 1);
        if (err != AQ_OK) fail_msg("q4_0: %s: %s", aq_error_name(err), aq_model_error_message(*p));
        assert_int_equal((*p)->layers[0].wq.block_type->type, AQ_GGML_Q4_0);
        assert_null((*p)->layers[0].wq.x8);
    }
    float *want = run_logits(plain, tokens, N_TOKENS, 1), *got = run_logits(m, tokens, N_TOKENS, 1);
    if (memcmp(want, got, (size_t)N_TOKENS * VOCAB * sizeof(float)) != 0)
        fail_msg("quantized after repacking: logits differ from the model never repacked");
    free(want);
    free(got);
    aq_model_free(m);
    aq_model_free(plain);
    free(bytes);
}

/* Each of the model's block matrices replaced by an F32 copy of what it holds
 * (copies[]: the test's, freed after the model). */
static int dequantize_layers(aq_model *m, float **copies) {
    int n = 0;
    for (int32_t i = 0; i < m->cfg.n_layers; i++) {
        aq_matrix *mats[AQ_MATRICES_PER_LAYER];
        aq_layer_matrices(&m->layers[i], mats);
        for (int j = 0; j < AQ_MATRICES_PER_LAYER; j++) {
            aq_matrix *w = mats[j];
            if (!aq_matrix_present(w) || w->format != AQ_WEIGHTS_BLOCKS) continue;
            float *f = malloc((size_t)w->rows * (size_t)w->cols * sizeof *f);
            assert_non_null(f);
            for (int32_t r = 0; r < w->rows; r++) aq_matrix_row(w, r, f + (size_t)r * (size_t)w->cols);
            *w = (aq_matrix){.rows = w->rows, .cols = w->cols, .format = AQ_WEIGHTS_F32, .f32 = f, .bias = w->bias};
            copies[n++] = f;
        }
    }
    return n;
}

/* Calibration reads the float model: a scheme gives, bit for bit, the same model
 * from llama.cpp's Q4_1 file as from the same weights dequantized to F32 first,
 * GPTQ (which calibrates each layer after making it float) and smoothing (whose
 * statistics pass once went through the file's Q4_1 x Q8_1 products: the two
 * differed). */
static void test_calibration_reads_float_layers(void **state) {
    (void)state;
    int32_t tokens[N_TOKENS];
    assert_int_equal(read_ids("data/llamacpp/tokens.txt", tokens, N_TOKENS), N_TOKENS);
    size_t len = 0;
    char *text = test_read_source_file("data/austen-train.txt", &len);
    assert_non_null(text);
    for (const char *const *scheme =
             (const char *const[]){"w4a8", "w4a4,rtn,rotate-online,smooth,no-balance,ag32,aasym", NULL};
         *scheme; scheme++) {
        aq_model *blocks = load("austen-l1-q4_1"), *floats = load("austen-l1-q4_1");
        float *copies[64];
        assert_true(floats->cfg.n_layers * AQ_MATRICES_PER_LAYER <= 64);
        int n_copies = dequantize_layers(floats, copies);
        assert_true(n_copies > 0);
        for (aq_model **p = (aq_model *[]){blocks, floats, NULL}; *p; p++) {
            aq_error err = aq_quantize(*p, *scheme, text, len);
            if (err != AQ_OK) fail_msg("%s: %s: %s", *scheme, aq_error_name(err), aq_model_error_message(*p));
        }
        float *want = run_logits(floats, tokens, N_TOKENS, 1), *got = run_logits(blocks, tokens, N_TOKENS, 1);
        if (memcmp(want, got, (size_t)N_TOKENS * VOCAB * sizeof(float)) != 0)
            fail_msg("%s from the Q4_1 file: logits differ from its weights dequantized first", *scheme);
        free(want);
        free(got);
        aq_model_free(blocks);
        aq_model_free(floats);
        for (int i = 0; i < n_copies; i++) free(copies[i]);
    }
    free(text);
}

/* llama-perplexity's method: chunk k is tokens [k c, (k + 1) c) with BOS first,
 * from an empty cache; the second half of each chunk is scored. */
static double perplexity(aq_model *m, const int32_t *text_tokens) {
    aq_context *ctx = aq_context_create(m);
    assert_non_null(ctx);
    assert_int_equal(aq_context_set_param(ctx, AQ_PARAM_THREADS, 1), AQ_OK);
    int64_t bos = 1;
    assert_int_equal(aq_model_get_info(m, AQ_INFO_BOS_TOKEN, &bos), AQ_OK);
    double nll = 0.0;
    int count = 0;
    for (int32_t k = 0; k < PPL_CHUNKS; k++) {
        int32_t chunk[PPL_CTX];
        memcpy(chunk, text_tokens + k * PPL_CTX, sizeof chunk);
        chunk[0] = (int32_t)bos;
        assert_int_equal(aq_kv_truncate(ctx, 0), AQ_OK);
        assert_int_equal(aq_forward(ctx, chunk, NULL, PPL_CTX, 1), AQ_OK);
        for (int32_t i = PPL_CTX / 2; i < PPL_CTX - 1; i++) {
            const float *logits = aq_get_logits(ctx, i);
            double max = logits[0], sum = 0.0;
            for (int32_t v = 1; v < VOCAB; v++) max = logits[v] > max ? logits[v] : max;
            for (int32_t v = 0; v < VOCAB; v++) sum += exp((double)logits[v] - max);
            nll += -((double)logits[chunk[i + 1]] - max - log(sum));
            count++;
        }
    }
    aq_context_free(ctx);
    return exp(nll / count);
}

static void test_perplexity_matches_llamacpp(void **state) {
    (void)state;
    int32_t text_tokens[PPL_CTX * PPL_CHUNKS];
    assert_int_equal(read_ids("data/llamacpp/ppl-tokens.txt", text_tokens, PPL_CTX * PPL_CHUNKS), PPL_CTX * PPL_CHUNKS);
    for (size_t f = 0; f < sizeof k_files / sizeof k_files[0]; f++) {
        char file[256];
        snprintf(file, sizeof file, "%s.gguf", k_files[f].name);
        double theirs = manifest_ppl(file);
        assert_true(theirs > 1.0);
        aq_model *m = load(k_files[f].name);
        double ours = perplexity(m, text_tokens);
        print_message("%-22s perplexity %.4f, llama.cpp %.4f (%+.3f%%)\n", k_files[f].name, ours, theirs,
                      100.0 * (ours / theirs - 1.0));
        if (fabs(ours / theirs - 1.0) > 0.003) fail_msg("%s: perplexity %g vs llama.cpp's %g", file, ours, theirs);
        aq_model_free(m);
    }
}

/* Every prefix of a file is refused with an error (a crash or a sanitizer
 * report fails the test). */
static void test_truncated_files_are_refused(void **state) {
    (void)state;
    const char *names[] = {"austen-l1-q4_k_m", "austen-l1-iq4_xs", "austen-l1-q2_k", "austen-l1-bf16"};
    for (size_t f = 0; f < sizeof names / sizeof names[0]; f++) {
        char relative[256];
        snprintf(relative, sizeof relative, "data/llamacpp/%s.gguf", names[f]);
        size_t len = 0;
        char *bytes = test_read_source_file(relative, &len);
        assert_non_null(bytes);
        for (size_t cut = 0; cut < len; cut += cut < 4096 ? 61 : 7919) {
            aq_model *m = aq_model_create();
            void *copy = malloc(cut ? cut : 1);
            memcpy(copy, bytes, cut);
            aq_error err = aq_model_load_memory(m, copy, cut);
            assert_int_not_equal(err, AQ_OK);
            assert_true(strlen(aq_model_error_message(m)) > 0);
            aq_model_free(m);
            free(copy);
        }
        free(bytes);
    }
}

/* A scale set to infinity or NaN, in a block of each kind, is caught at load with the tensor's name. */
static void test_non_finite_scales_are_refused(void **state) {
    (void)state;
    const struct {
        const char *name;
        size_t scale_offset; /* of an f16 scale within a block (ggml-common.h's layouts) */
    } cases[] = {{"austen-l1-q4_0", 0},
                 {"austen-l1-q6_k", 208},
                 {"austen-l1-q2_k", 82},
                 {"austen-l1-iq4_xs", 0},
                 {"austen-l1-f16", 0}};
    const uint16_t bad[] = {0x7C00, 0xFE00}; /* +inf, a NaN */
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (size_t b = 0; b < 2; b++) {
            char relative[256];
            snprintf(relative, sizeof relative, "data/llamacpp/%s.gguf", cases[c].name);
            size_t len = 0;
            char *bytes = test_read_source_file(relative, &len);
            assert_non_null(bytes);
            aq_gguf *g = NULL;
            char msg[256];
            assert_int_equal(aq_gguf_open_memory(bytes, len, &g, msg, sizeof msg), AQ_OK);
            const aq_gguf_tensor *t = aq_gguf_find_tensor(g, "blk.0.ffn_up.weight");
            assert_non_null(t);
            size_t at = (size_t)((const char *)t->data - bytes) + cases[c].scale_offset;
            aq_gguf_close(g);
            memcpy(bytes + at, &bad[b], 2);
            aq_model *m = aq_model_create();
            assert_int_equal(aq_model_load_memory(m, bytes, len), AQ_ERR_FORMAT);
            assert_non_null(strstr(aq_model_error_message(m), "blk.0.ffn_up.weight"));
            aq_model_free(m);
            free(bytes);
        }
    }
}

/* A type the library does not run (here IQ2_XXS, written over a tensor's
 * type) is refused at load with the tensor's name and the type's. */
static void test_unsupported_type_is_named(void **state) {
    (void)state;
    size_t len = 0;
    char *bytes = test_read_source_file("data/llamacpp/austen-l1-q4_k.gguf", &len);
    assert_non_null(bytes);
    const char *name = "blk.0.ffn_up.weight";
    size_t n = strlen(name), info = 0;
    for (size_t i = 8; i + n < len && !info; i++) {
        uint64_t name_len;
        memcpy(&name_len, bytes + i - 8, 8);
        if (name_len == n && memcmp(bytes + i, name, n) == 0) info = i + n;
    }
    assert_true(info > 0);
    uint32_t n_dims, iq2_xxs = 16;
    memcpy(&n_dims, bytes + info, 4);
    memcpy(bytes + info + 4 + 8 * (size_t)n_dims, &iq2_xxs, 4);
    aq_model *m = aq_model_create();
    assert_int_equal(aq_model_load_memory(m, bytes, len), AQ_ERR_UNSUPPORTED);
    assert_non_null(strstr(aq_model_error_message(m), name));
    assert_non_null(strstr(aq_model_error_message(m), "iq2_xxs"));
    aq_model_free(m);
    free(bytes);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_logits_match_llamacpp),       cmocka_unit_test(test_perplexity_matches_llamacpp),
        cmocka_unit_test(test_truncated_files_are_refused), cmocka_unit_test(test_non_finite_scales_are_refused),
        cmocka_unit_test(test_unsupported_type_is_named),   cmocka_unit_test(test_repacked_same_logits),
        cmocka_unit_test(test_repacked_then_quantized),     cmocka_unit_test(test_calibration_reads_float_layers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
