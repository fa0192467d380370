/* The GGUF reader on raw bytes (lib/io/gguf.h): open, then every getter on
 * the keys a loader asks for, and every tensor's first and last byte (ASan
 * sees a tensor that does not lie inside the buffer). */
#include <string.h>

#include "fuzz.h"
#include "gguf.h"

static const char *const k_keys[] = {
    "general.architecture",
    "general.alignment",
    "general.name",
    "general.file_type",
    "llama.context_length",
    "llama.embedding_length",
    "llama.block_count",
    "llama.feed_forward_length",
    "llama.attention.head_count",
    "llama.attention.head_count_kv",
    "llama.rope.dimension_count",
    "llama.rope.freq_base",
    "llama.attention.layer_norm_rms_epsilon",
    "llama.rope.scaling.type",
    "tokenizer.ggml.model",
    "tokenizer.ggml.pre",
    "tokenizer.ggml.tokens",
    "tokenizer.ggml.scores",
    "tokenizer.ggml.token_type",
    "tokenizer.ggml.merges",
    "tokenizer.ggml.bos_token_id",
    "tokenizer.ggml.add_bos_token",
    "tokenizer.chat_template",
    "agilequant.format_version",
    "agilequant.scheme",
    "agilequant.act_bits",
    "agilequant.act_scale",
    "",
};

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    return 0;
}

static volatile uint32_t g_sink;

static void exercise_key(const aq_gguf *g, const char *key) {
    uint32_t u;
    float f;
    bool b;
    aq_gguf_str s;
    aq_gguf_type elem;
    uint64_t n;
    if (aq_gguf_get_u32(g, key, &u) == AQ_OK) g_sink += u;
    if (aq_gguf_get_f32(g, key, &f) == AQ_OK) g_sink += f == f;
    if (aq_gguf_get_bool(g, key, &b) == AQ_OK) g_sink += b;
    if (aq_gguf_get_str(g, key, &s) == AQ_OK && s.len > 0) g_sink += (uint8_t)(s.ptr[0] ^ s.ptr[s.len - 1]);
    if (!aq_gguf_has_key(g, key)) /* an absent key: every getter says so */
        FUZZ_CHECK(aq_gguf_get_u32(g, key, &u) == AQ_ERR_FORMAT && aq_gguf_get_str(g, key, &s) == AQ_ERR_FORMAT &&
                   aq_gguf_get_arr_info(g, key, &elem, &n) == AQ_ERR_FORMAT);
    if (aq_gguf_get_arr_info(g, key, &elem, &n) != AQ_OK) return;
    if (elem == AQ_GGUF_STRING && n > 0) {
        uint64_t probe[] = {0, n / 2, n - 1};
        for (size_t i = 0; i < 3; i++) {
            FUZZ_CHECK(aq_gguf_get_arr_str(g, key, probe[i], &s) == AQ_OK);
            if (s.len > 0) g_sink += (uint8_t)(s.ptr[0] ^ s.ptr[s.len - 1]);
        }
        FUZZ_CHECK(aq_gguf_get_arr_str(g, key, n, &s) == AQ_ERR_OUT_OF_RANGE);
    }
    if (n > 0 && n <= (1u << 16)) {
        float *fv = malloc(n * sizeof *fv);
        int32_t *iv = malloc(n * sizeof *iv);
        if (fv && aq_gguf_get_arr_f32(g, key, fv, n) == AQ_OK) g_sink += fv[n - 1] == fv[n - 1];
        if (iv && aq_gguf_get_arr_i32(g, key, iv, n) == AQ_OK) g_sink += (uint32_t)iv[n - 1];
        free(fv);
        free(iv);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    aq_gguf *g = NULL;
    char msg[256];
    memset(msg, 'x', sizeof msg);
    aq_error err = aq_gguf_open_memory(data, size, &g, msg, sizeof msg);
    FUZZ_CHECK(memchr(msg, '\0', sizeof msg) != NULL); /* a message, always terminated */
    if (err != AQ_OK) {
        FUZZ_CHECK(g == NULL && msg[0] != '\0');
        return 0;
    }
    FUZZ_CHECK(aq_gguf_version(g) == 2 || aq_gguf_version(g) == 3);
    uint32_t align = aq_gguf_alignment(g);
    FUZZ_CHECK(align != 0 && (align & (align - 1)) == 0);
    for (size_t i = 0; i < sizeof k_keys / sizeof k_keys[0]; i++) exercise_key(g, k_keys[i]);
    uint64_t n = aq_gguf_n_tensors(g);
    for (uint64_t i = 0; i < n; i++) {
        const aq_gguf_tensor *t = aq_gguf_tensor_at(g, i);
        FUZZ_CHECK(t != NULL && t->n_dims <= 4);
        const uint8_t *bytes = t->data;
        FUZZ_CHECK(bytes >= data && bytes <= data + size);
        FUZZ_CHECK(t->n_bytes <= (uint64_t)(data + size - bytes));
        if (t->n_bytes > 0) g_sink += (uint32_t)(bytes[0] ^ bytes[t->n_bytes - 1]);
        char name[128];
        if (t->name.len < sizeof name) {
            memcpy(name, t->name.ptr, t->name.len);
            name[t->name.len] = '\0';
            if (!memchr(name, '\0', t->name.len)) FUZZ_CHECK(aq_gguf_find_tensor(g, name) == t);
        }
        uint32_t elems, block;
        if (aq_tensor_type_block(t->type, &elems, &block)) {
            FUZZ_CHECK(t->ne[0] % elems == 0);
        } else {
            FUZZ_CHECK(strcmp(aq_tensor_type_name(t->type), "unknown") == 0);
        }
    }
    FUZZ_CHECK(aq_gguf_tensor_at(g, n) == NULL);
    aq_gguf_close(g);
    return 0;
}
