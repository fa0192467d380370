/* Chat templates (lib/text/chat_template.c, aq_chat_apply_template,
 * aq_tokenize_special) against what Hugging Face transformers renders from
 * the same templates: data/chat_templates/, made by
 * tools/chat_template_expected.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "chat_template.h"
#include "gguf.h"
#include "test_util.h"

#define MAX_MESSAGES 16
#define MAX_CASES 32
#define MAX_TEMPLATES 32

typedef struct conversation {
    char *name;
    aq_chat_message messages[MAX_MESSAGES];
    size_t n;
} conversation;

typedef struct template_entry {
    char *name, *family, *bos, *eos;
    char *text;
    size_t len;
} template_entry;

static conversation conversations[MAX_CASES];
static size_t n_conversations;
static template_entry templates[MAX_TEMPLATES];
static size_t n_templates;

/* Undoes the \n \t \\ escapes of the data files, in place. */
static char *unescape(char *s) {
    char *out = s;
    for (char *p = s; *p; p++) {
        if (*p == '\\' && p[1]) {
            p++;
            *out++ = *p == 'n' ? '\n' : *p == 't' ? '\t' : *p;
        } else {
            *out++ = *p;
        }
    }
    *out = '\0';
    return s;
}

/* Splits a line at tabs into at most n fields; returns the count. */
static size_t split_tabs(char *line, char **fields, size_t n) {
    size_t k = 0;
    fields[k++] = line;
    for (char *p = line; *p && k < n; p++)
        if (*p == '\t') *p = '\0', fields[k++] = p + 1;
    return k;
}

static char *next_line(char **cursor) {
    if (!*cursor || !**cursor) return NULL;
    char *line = *cursor, *nl = strchr(line, '\n');
    if (nl)
        *nl = '\0', *cursor = nl + 1;
    else
        *cursor = line + strlen(line);
    return line;
}

static int load_data(void **state) {
    (void)state;
    size_t len;
    char *text = test_read_source_file("data/chat_templates/conversations.txt", &len), *cur = text, *line;
    if (!text) return -1;
    while ((line = next_line(&cur))) {
        if (!*line || *line == '#') continue;
        if (!strncmp(line, "= ", 2)) {
            if (n_conversations == MAX_CASES) return -1;
            conversations[n_conversations++].name = line + 2;
            continue;
        }
        char *f[2] = {NULL, NULL};
        conversation *c = &conversations[n_conversations - 1];
        if (n_conversations == 0 || split_tabs(line, f, 2) != 2 || c->n == MAX_MESSAGES) return -1;
        c->messages[c->n++] = (aq_chat_message){f[0], unescape(f[1])};
    }
    char *manifest = test_read_source_file("data/chat_templates/MANIFEST.tsv", &len);
    if (!manifest) return -1;
    cur = manifest;
    while ((line = next_line(&cur))) {
        char *f[5] = {NULL, NULL, NULL, NULL, NULL};
        if (!*line || *line == '#') continue;
        if (split_tabs(line, f, 5) != 5 || n_templates == MAX_TEMPLATES) return -1;
        template_entry *t = &templates[n_templates++];
        *t = (template_entry){f[0], f[1], f[2], f[3], NULL, 0};
        char path[256];
        snprintf(path, sizeof path, "data/chat_templates/%s.jinja", t->name);
        if (!(t->text = test_read_source_file(path, &t->len))) return -1;
    }
    return n_conversations > 0 && n_templates > 0 ? 0 : -1; /* the buffers live as long as the test */
}

static const conversation *find_conversation(const char *name) {
    for (size_t i = 0; i < n_conversations; i++)
        if (!strcmp(conversations[i].name, name)) return &conversations[i];
    return NULL;
}

static const template_entry *find_template(const char *name) {
    for (size_t i = 0; i < n_templates; i++)
        if (!strcmp(templates[i].name, name)) return &templates[i];
    return NULL;
}

/* Today as transformers' strftime_now("%d %b %Y") writes it. */
static void today(char *out, size_t cap) {
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    snprintf(out, cap, "%02d %s %d", tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900);
}

/* expected with @TODAY@ replaced, in a new buffer. */
static char *with_today(const char *expected) {
    char date[32];
    today(date, sizeof date);
    char *out = malloc(strlen(expected) + 64), *o = out;
    for (const char *p = expected; *p;) {
        if (!strncmp(p, "@TODAY@", 7)) {
            o += sprintf(o, "%s", date);
            p += 7;
        } else {
            *o++ = *p++;
        }
    }
    *o = '\0';
    return out;
}

static char *render(const template_entry *t, const conversation *c, bool add_prefix, aq_error *err) {
    aq_chat_template tmpl;
    aq_chat_template_parse(t->text, t->len, &tmpl);
    aq_chat_specials sp = {{t->bos, strlen(t->bos)}, {t->eos, strlen(t->eos)}};
    size_t len = 0;
    char msg[128];
    *err = aq_chat_template_apply(&tmpl, &sp, c->messages, c->n, add_prefix, NULL, 0, &len, msg, sizeof msg);
    if (*err != AQ_ERR_BUFFER_TOO_SMALL && *err != AQ_OK) return NULL;
    char *buf = malloc(len + 1);
    *err = aq_chat_template_apply(&tmpl, &sp, c->messages, c->n, add_prefix, buf, len, &len, msg, sizeof msg);
    buf[len] = '\0';
    return buf;
}

/* Whether every message's text (trimmed of spaces, tabs and newlines) is in the prompt. */
static bool has_every_message(const char *prompt, const conversation *c) {
    for (size_t i = 0; i < c->n; i++) {
        const char *s = c->messages[i].content, *e = s + strlen(s);
        while (*s == ' ' || *s == '\t' || *s == '\n') s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n')) e--;
        bool found = false;
        for (const char *p = prompt; *p && !found; p++) found = !strncmp(p, s, (size_t)(e - s));
        if (!found && e > s) return false;
    }
    return true;
}

/* Every rendering transformers made, string for string. Where the template
 * raised an error, our fallback must still write every message. */
static void test_expected_outputs(void **state) {
    (void)state;
    int compared = 0, fallbacks = 0;
    for (size_t k = 0; k < n_templates; k++) {
        const template_entry *t = &templates[k];
        aq_chat_template tmpl;
        aq_chat_template_parse(t->text, t->len, &tmpl);
        if (strcmp(tmpl.name, t->family) != 0)
            fail_msg("%s: recognised as '%s', not %s", t->name, tmpl.name, t->family);
        char path[256];
        size_t len;
        snprintf(path, sizeof path, "data/chat_templates/expected/%s.txt", t->name);
        char *text = test_read_source_file(path, &len), *cur = text, *line;
        assert_non_null(text);
        while ((line = next_line(&cur))) {
            char *f[3] = {NULL, NULL, NULL};
            if (!*line || *line == '#') continue;
            assert_int_equal(split_tabs(line, f, 3), 3);
            const conversation *c = find_conversation(f[0]);
            assert_non_null(c);
            bool add_prefix = f[1][0] == '1';
            aq_error err;
            char *got = render(t, c, add_prefix, &err);
            assert_int_equal(err, AQ_OK);
            if (f[2][0] == '!') {
                if (!has_every_message(got, c)) fail_msg("%s / %s: fallback lost a message: %s", t->name, f[0], got);
                fallbacks++;
            } else {
                char *want = with_today(unescape(f[2]));
                if (strcmp(got, want) != 0)
                    fail_msg("%s / %s / add_generation_prompt=%d\n  want: %s\n  got:  %s", t->name, f[0], add_prefix,
                             want, got);
                free(want);
                compared++;
            }
            free(got);
        }
        free(text);
    }
    print_message("%d renderings equal to transformers', %d fallbacks where the template raises\n", compared,
                  fallbacks);
    assert_true(compared >= 200);
}

/* Gemma 1 and 2 refuse a system message; we write it as Gemma 3 does. */
static void test_gemma_system_fallback(void **state) {
    (void)state;
    const char *cases[] = {"system", "multi", "system-reply", "newlines"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        aq_error err;
        char *g3 = render(find_template("gemma3"), find_conversation(cases[i]), true, &err);
        char *g2 = render(find_template("gemma2"), find_conversation(cases[i]), true, &err);
        char *g1 = render(find_template("gemma"), find_conversation(cases[i]), true, &err);
        assert_string_equal(g2, g3);
        assert_string_equal(g1, g3);
        free(g1), free(g2), free(g3);
    }
}

static aq_chat_family family_of(const char *text) {
    aq_chat_template t;
    return aq_chat_template_parse(text, strlen(text), &t);
}

static void test_detection(void **state) {
    (void)state;
    aq_chat_template t;
    assert_int_equal(aq_chat_template_parse(NULL, 0, &t), AQ_CHAT_NONE);
    assert_string_equal(t.name, "");
    assert_int_equal(aq_chat_template_parse("", 0, &t), AQ_CHAT_NONE);
    /* others' formats: Phi-3, Phi-4 (ChatML with <|im_sep|>), Zephyr, Mistral v7, plain text */
    assert_int_equal(family_of("{{'<|user|>\n' + message['content'] + '<|end|>\n<|assistant|>\n'}}"), AQ_CHAT_NONE);
    assert_int_equal(family_of("{{'<|im_start|>' + message['role'] + '<|im_sep|>' + message['content']}}"),
                     AQ_CHAT_NONE);
    assert_int_equal(family_of("{{ '<|user|>\n' + message['content'] + eos_token }}<|endoftext|>"), AQ_CHAT_NONE);
    assert_int_equal(family_of("{{ '[SYSTEM_PROMPT] ' + m + '[/SYSTEM_PROMPT]' }}{{ '[INST] ' + c + '[/INST]' }}"),
                     AQ_CHAT_NONE);
    assert_int_equal(family_of("{% for message in messages %}{{ message['content'] }}{% endfor %}"), AQ_CHAT_NONE);
    /* the bare markers are enough */
    assert_int_equal(family_of("<|im_start|>"), AQ_CHAT_CHATML);
    assert_int_equal(family_of("<|start_header_id|>x<|end_header_id|>"), AQ_CHAT_LLAMA3);
    assert_int_equal(family_of("[INST] <<SYS>>"), AQ_CHAT_LLAMA2);
    assert_int_equal(family_of("[INST]"), AQ_CHAT_MISTRAL);
    assert_int_equal(family_of("<start_of_turn>"), AQ_CHAT_GEMMA);
    /* the default system message of SmolLM2 (a raw newline) and Qwen 2.5 (the escape \n) */
    assert_int_equal(aq_chat_template_parse(find_template("smollm2")->text, find_template("smollm2")->len, &t),
                     AQ_CHAT_CHATML);
    assert_int_equal(t.default_system.len,
                     strlen("You are a helpful AI assistant named SmolLM, trained by Hugging Face"));
    aq_chat_template_parse(find_template("qwen2.5")->text, find_template("qwen2.5")->len, &t);
    assert_int_equal(t.default_system.len,
                     strlen("You are Qwen, created by Alibaba Cloud. You are a helpful assistant."));
    aq_chat_template_parse(find_template("qwen3")->text, find_template("qwen3")->len, &t);
    assert_int_equal(t.default_system.len, 0);
    assert_true(t.think);
    aq_chat_template_parse(find_template("llama3")->text, find_template("llama3")->len, &t);
    assert_true(t.always_prefix); /* Llama 3's first template ignores add_generation_prompt */
    assert_string_equal(aq_chat_template_end_of_turn(AQ_CHAT_CHATML), "<|im_end|>");
    assert_null(aq_chat_template_end_of_turn(AQ_CHAT_MISTRAL));
}

static void test_buffers_and_arguments(void **state) {
    (void)state;
    const template_entry *te = find_template("smollm2");
    aq_chat_template t;
    aq_chat_template_parse(te->text, te->len, &t);
    aq_chat_specials sp = {{"", 0}, {"", 0}};
    aq_chat_message m[2] = {{"user", "Hello"}, {"assistant", "Hi"}};
    char buf[512], small[10], msg[128];
    size_t len = 0, len2 = 0;
    assert_int_equal(aq_chat_template_apply(&t, &sp, m, 2, true, buf, sizeof buf, &len, msg, sizeof msg), AQ_OK);
    assert_int_equal(aq_chat_template_apply(&t, &sp, m, 2, true, small, sizeof small, &len2, msg, sizeof msg),
                     AQ_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(len2, len);
    assert_memory_equal(small, buf, sizeof small);
    assert_int_equal(aq_chat_template_apply(&t, &sp, m, 2, true, NULL, 0, &len2, msg, sizeof msg),
                     AQ_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(len2, len);
    aq_chat_message bad[1] = {{"user", NULL}};
    assert_int_equal(aq_chat_template_apply(&t, &sp, bad, 1, true, buf, sizeof buf, &len, msg, sizeof msg),
                     AQ_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(msg, "message 0"));
    assert_int_equal(aq_chat_template_apply(&t, &sp, NULL, 1, true, buf, sizeof buf, &len, NULL, 0),
                     AQ_ERR_INVALID_ARGUMENT);
    /* no messages: the assistant's header alone */
    assert_int_equal(aq_chat_template_apply(&t, &sp, NULL, 0, true, buf, sizeof buf, &len, NULL, 0), AQ_OK);
    assert_int_equal(len, strlen("<|im_start|>assistant\n"));
    aq_chat_template none;
    aq_chat_template_parse("plain", 5, &none);
    assert_int_equal(aq_chat_template_apply(&none, &sp, m, 2, true, buf, sizeof buf, &len, msg, sizeof msg),
                     AQ_ERR_UNSUPPORTED);
}

/* ---- through the public API: a one-layer model with a real vocabulary ---- */

static aq_error copy_key(aq_gguf_writer *w, const aq_gguf *g, const char *key) {
    aq_gguf_type elem;
    uint64_t n;
    aq_gguf_str s;
    uint32_t u;
    bool b;
    if (!aq_gguf_has_key(g, key)) return AQ_OK;
    if (aq_gguf_get_arr_info(g, key, &elem, &n) == AQ_OK) {
        if (elem == AQ_GGUF_STRING) {
            aq_gguf_str *strs = malloc(n * sizeof *strs);
            for (uint64_t i = 0; i < n; i++) aq_gguf_get_arr_str(g, key, i, &strs[i]);
            aq_error err = aq_gguf_writer_set_arr_str(w, key, strs, n);
            free(strs);
            return err;
        }
        int32_t *v = malloc(n * sizeof *v);
        aq_gguf_get_arr_i32(g, key, v, n);
        aq_error err = aq_gguf_writer_set_arr(w, key, AQ_GGUF_INT32, v, n);
        free(v);
        return err;
    }
    if (aq_gguf_get_str(g, key, &s) == AQ_OK) return aq_gguf_writer_set_str(w, key, s.ptr, s.len);
    if (aq_gguf_get_u32(g, key, &u) == AQ_OK) return aq_gguf_writer_set_u32(w, key, u);
    if (aq_gguf_get_bool(g, key, &b) == AQ_OK) return aq_gguf_writer_set_bool(w, key, b);
    return AQ_ERR_FORMAT;
}

/* A model file of one tiny layer with the vocabulary of a vocabulary-only
 * GGUF and a chat template (NULL: none), written to path. */
static void write_model(const char *vocab_gguf, const char *template_text, const char *path) {
    char full[512];
    test_source_path(full, sizeof full, vocab_gguf);
    aq_gguf *g = NULL;
    char msg[256];
    assert_int_equal(aq_gguf_open_file(full, &g, msg, sizeof msg), AQ_OK);
    aq_gguf_type elem;
    uint64_t vocab;
    assert_int_equal(aq_gguf_get_arr_info(g, "tokenizer.ggml.tokens", &elem, &vocab), AQ_OK);
    enum { DIM = 8, FFN = 16, HEADS = 2 };
    aq_gguf_writer *w = aq_gguf_writer_create();
    const char *keys[] = {"tokenizer.ggml.model",        "tokenizer.ggml.pre",          "tokenizer.ggml.tokens",
                          "tokenizer.ggml.token_type",   "tokenizer.ggml.merges",       "tokenizer.ggml.bos_token_id",
                          "tokenizer.ggml.eos_token_id", "tokenizer.ggml.add_bos_token"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) assert_int_equal(copy_key(w, g, keys[i]), AQ_OK);
    assert_int_equal(aq_gguf_writer_set_str(w, "general.architecture", "llama", 5), AQ_OK);
    const struct {
        const char *key;
        uint32_t v;
    } dims[] = {{"llama.context_length", 64},
                {"llama.embedding_length", DIM},
                {"llama.block_count", 1},
                {"llama.feed_forward_length", FFN},
                {"llama.attention.head_count", HEADS},
                {"llama.attention.head_count_kv", HEADS},
                {"llama.rope.dimension_count", DIM / HEADS}};
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++)
        assert_int_equal(aq_gguf_writer_set_u32(w, dims[i].key, dims[i].v), AQ_OK);
    assert_int_equal(aq_gguf_writer_set_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f), AQ_OK);
    assert_int_equal(aq_gguf_writer_set_f32(w, "llama.rope.freq_base", 10000.0f), AQ_OK);
    if (template_text)
        assert_int_equal(aq_gguf_writer_set_str(w, "tokenizer.chat_template", template_text, strlen(template_text)),
                         AQ_OK);
    float *embd = calloc(vocab * DIM, sizeof *embd), ones[FFN], mat[FFN * DIM];
    for (size_t i = 0; i < FFN; i++) ones[i] = 1.0f;
    for (size_t i = 0; i < FFN * DIM; i++) mat[i] = 0.01f * (float)(i % 7);
    int64_t ne_embd[2] = {DIM, (int64_t)vocab}, ne_dim[1] = {DIM}, ne_sq[2] = {DIM, DIM};
    int64_t ne_up[2] = {DIM, FFN}, ne_down[2] = {FFN, DIM};
    assert_int_equal(
        aq_gguf_writer_add_tensor(w, "token_embd.weight", AQ_TENSOR_F32, 2, ne_embd, embd, vocab * DIM * sizeof *embd),
        AQ_OK);
    assert_int_equal(aq_gguf_writer_add_tensor(w, "output_norm.weight", AQ_TENSOR_F32, 1, ne_dim, ones, DIM * 4),
                     AQ_OK);
    const struct {
        const char *name;
        const int64_t *ne;
        uint32_t n_dims;
        size_t n;
    } t[] = {
        {"blk.0.attn_norm.weight", ne_dim, 1, DIM},       {"blk.0.ffn_norm.weight", ne_dim, 1, DIM},
        {"blk.0.attn_q.weight", ne_sq, 2, DIM * DIM},     {"blk.0.attn_k.weight", ne_sq, 2, DIM * DIM},
        {"blk.0.attn_v.weight", ne_sq, 2, DIM * DIM},     {"blk.0.attn_output.weight", ne_sq, 2, DIM * DIM},
        {"blk.0.ffn_gate.weight", ne_up, 2, FFN * DIM},   {"blk.0.ffn_up.weight", ne_up, 2, FFN * DIM},
        {"blk.0.ffn_down.weight", ne_down, 2, FFN * DIM},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        assert_int_equal(aq_gguf_writer_add_tensor(w, t[i].name, AQ_TENSOR_F32, t[i].n_dims, t[i].ne,
                                                   t[i].n_dims == 1 ? ones : mat, t[i].n * sizeof(float)),
                         AQ_OK);
    assert_int_equal(aq_gguf_writer_write_file(w, path), AQ_OK);
    aq_gguf_writer_free(w);
    free(embd);
    aq_gguf_close(g);
}

static aq_model *load_model(const char *vocab_gguf, const char *template_name) {
    char path[] = "/tmp/aq_chat_template_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    write_model(vocab_gguf, template_name ? find_template(template_name)->text : NULL, path);
    aq_model *m = aq_model_create();
    aq_error err = aq_model_load_file(m, path);
    unlink(path); /* mapped: the file may go */
    if (err != AQ_OK) fail_msg("%s: %s", vocab_gguf, aq_model_error_message(m));
    return m;
}

static char *api_render(const aq_model *m, const conversation *c, int add_prefix, size_t *len) {
    assert_int_equal(aq_chat_apply_template(m, c->messages, c->n, add_prefix, NULL, 0, len), AQ_ERR_BUFFER_TOO_SMALL);
    char *buf = malloc(*len + 1);
    assert_int_equal(aq_chat_apply_template(m, c->messages, c->n, add_prefix, buf, *len, len), AQ_OK);
    buf[*len] = '\0';
    return buf;
}

/* aq_chat_apply_template and aq_tokenize_special with Llama 3's and Qwen 3's
 * vocabularies and templates, against transformers' text and the ids of the
 * models' own tokenizer.json. */
static void check_ids(const char *vocab_gguf, const char *template_name, const char *eot_text) {
    aq_model *m = load_model(vocab_gguf, template_name);
    assert_string_equal(aq_model_chat_template_name(m), find_template(template_name)->family);
    char path[256];
    size_t len;
    snprintf(path, sizeof path, "data/chat_templates/expected/%s.ids", template_name);
    char *text = test_read_source_file(path, &len), *cur = text, *line;
    assert_non_null(text);
    int checked = 0;
    while ((line = next_line(&cur))) {
        char *f[2] = {NULL, NULL};
        if (!*line || *line == '#') continue;
        assert_int_equal(split_tabs(line, f, 2), 2);
        const conversation *c = find_conversation(f[0]);
        char *prompt = api_render(m, c, 1, &len);
        int32_t n = 0;
        assert_int_equal(aq_tokenize_special(m, prompt, len, 0, NULL, 0, &n), len ? AQ_ERR_BUFFER_TOO_SMALL : AQ_OK);
        int32_t *ids = malloc((size_t)n * sizeof *ids + 1);
        assert_int_equal(aq_tokenize_special(m, prompt, len, 0, ids, n, &n), AQ_OK);
        char *p = f[1];
        for (int32_t i = 0; i < n; i++) {
            char *end;
            long want = strtol(p, &end, 10);
            if (end == p || want != ids[i])
                fail_msg("%s / %s: token %d is %d, want %ld", template_name, f[0], i, ids[i], want);
            p = end;
        }
        while (*p == ' ') p++;
        if (*p) fail_msg("%s / %s: %d tokens, want more: %s", template_name, f[0], n, p);
        /* aq_tokenize keeps the markers as text */
        int32_t n_plain = 0;
        aq_tokenize(m, prompt, len, 0, NULL, 0, &n_plain);
        assert_true(n_plain > n);
        free(ids);
        free(prompt);
        checked++;
    }
    assert_true(checked >= 10);
    int64_t eot = -1;
    int32_t want_eot = -1, n = 0;
    assert_int_equal(aq_model_get_info(m, AQ_INFO_EOT_TOKEN, &eot), AQ_OK);
    assert_int_equal(aq_tokenize_special(m, eot_text, strlen(eot_text), 0, &want_eot, 1, &n), AQ_OK);
    assert_int_equal(n, 1);
    assert_int_equal(eot, want_eot);
    free(text);
    aq_model_free(m);
}

static void test_api_llama3(void **state) {
    (void)state;
    check_ids("data/tokenizers/llama3.gguf", "llama3", "<|eot_id|>");
}

static void test_api_qwen3(void **state) {
    (void)state;
    check_ids("data/tokenizers/qwen3.gguf", "qwen3", "<|im_end|>");
}

/* SmolLM2 (the model aq-chat is tried with): its template through the API. */
static void test_api_smollm2(void **state) {
    (void)state;
    aq_model *m = load_model("data/tokenizers/smollm2.gguf", "smollm2");
    assert_string_equal(aq_model_chat_template_name(m), "chatml");
    size_t len;
    char *got = api_render(m, find_conversation("multi-nosys"), 1, &len);
    assert_non_null(strstr(got, "<|im_start|>system\nYou are a helpful AI assistant named SmolLM"));
    int32_t ids[256], n = 0;
    const char *start = "<|im_start|>user\nHi<|im_end|>\n";
    assert_int_equal(aq_tokenize_special(m, start, strlen(start), 0, ids, 256, &n), AQ_OK);
    assert_true(n >= 4);
    assert_int_equal(ids[0], 1);     /* <|im_start|> */
    assert_int_equal(ids[n - 2], 2); /* <|im_end|> */
    int64_t eot;
    assert_int_equal(aq_model_get_info(m, AQ_INFO_EOT_TOKEN, &eot), AQ_OK);
    assert_int_equal(eot, 2);
    assert_int_equal(aq_chat_apply_template(m, NULL, 1, 1, NULL, 0, &len), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_chat_apply_template(NULL, NULL, 0, 1, NULL, 0, &len), AQ_ERR_INVALID_ARGUMENT);
    free(got);
    aq_model_free(m);
    /* the same vocabulary without a template */
    m = load_model("data/tokenizers/smollm2.gguf", NULL);
    assert_string_equal(aq_model_chat_template_name(m), "");
    aq_chat_message hi = {"user", "Hi"};
    assert_int_equal(aq_chat_apply_template(m, &hi, 1, 1, NULL, 0, &len), AQ_ERR_UNSUPPORTED);
    assert_int_equal(aq_model_get_info(m, AQ_INFO_EOT_TOKEN, &eot), AQ_OK);
    assert_int_equal(eot, 2); /* EOS */
    aq_model_free(m);
    aq_model *empty = aq_model_create();
    assert_string_equal(aq_model_chat_template_name(empty), "");
    assert_int_equal(aq_chat_apply_template(empty, &hi, 1, 1, NULL, 0, &len), AQ_ERR_STATE);
    aq_model_free(empty);
}

/* SentencePiece: each stretch between control tokens is tokenized on its
 * own, with the space prefix again (llama.cpp's parse_special). */
static void test_spm_special(void **state) {
    (void)state;
    char path[512];
    test_source_path(path, sizeof path, "models/austen-6m.gguf");
    aq_model *m = aq_model_create();
    assert_int_equal(aq_model_load_file(m, path), AQ_OK);
    int64_t bos, eos;
    aq_model_get_info(m, AQ_INFO_BOS_TOKEN, &bos);
    aq_model_get_info(m, AQ_INFO_EOS_TOKEN, &eos);
    const char *text = "<s>Emma said</s> no";
    int32_t got[64], want[64], n = 0, k = 0, part = 0;
    assert_int_equal(aq_tokenize_special(m, text, strlen(text), 0, got, 64, &n), AQ_OK);
    want[k++] = (int32_t)bos;
    assert_int_equal(aq_tokenize(m, "Emma said", 9, 0, want + k, 64 - k, &part), AQ_OK);
    k += part;
    want[k++] = (int32_t)eos;
    assert_int_equal(aq_tokenize(m, " no", 3, 0, want + k, 64 - k, &part), AQ_OK);
    k += part;
    assert_int_equal(n, k);
    assert_memory_equal(got, want, (size_t)k * sizeof *got);
    /* with add_bos, and without special parsing "<s>" is text */
    assert_int_equal(aq_tokenize_special(m, text, strlen(text), 1, got, 64, &n), AQ_OK);
    assert_int_equal(got[0], bos);
    assert_int_equal(got[1], bos);
    assert_int_equal(aq_tokenize(m, text, strlen(text), 0, got, 64, &n), AQ_OK);
    for (int32_t i = 0; i < n; i++) assert_true(got[i] != bos && got[i] != eos);
    /* a buffer too small reports the count */
    assert_int_equal(aq_tokenize_special(m, text, strlen(text), 0, got, 2, &n), AQ_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(n, k);
    assert_string_equal(aq_model_chat_template_name(m), "");
    aq_chat_message hi = {"user", "Hi"};
    size_t len;
    assert_int_equal(aq_chat_apply_template(m, &hi, 1, 1, NULL, 0, &len), AQ_ERR_UNSUPPORTED);
    aq_model_free(m);
}

/* aq_context_set_param's messages name the parameter. */
static void test_param_messages(void **state) {
    (void)state;
    char path[512];
    test_source_path(path, sizeof path, "models/austen-6m.gguf");
    aq_model *m = aq_model_create();
    assert_int_equal(aq_model_load_file(m, path), AQ_OK);
    aq_context *ctx = aq_context_create(m);
    assert_int_equal(aq_context_set_param(ctx, AQ_PARAM_THREADS, 100000), AQ_ERR_OUT_OF_RANGE);
    assert_string_equal(aq_context_error_message(ctx), "AQ_PARAM_THREADS = 100000 is outside [1, 256]");
    assert_int_equal(aq_context_set_param(ctx, AQ_PARAM_TOP_K, 2.5), AQ_ERR_OUT_OF_RANGE);
    assert_string_equal(aq_context_error_message(ctx), "AQ_PARAM_TOP_K = 2.5 must be an integer");
    aq_context_free(ctx);
    aq_model_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expected_outputs), cmocka_unit_test(test_gemma_system_fallback),
        cmocka_unit_test(test_detection),        cmocka_unit_test(test_buffers_and_arguments),
        cmocka_unit_test(test_api_llama3),       cmocka_unit_test(test_api_qwen3),
        cmocka_unit_test(test_api_smollm2),      cmocka_unit_test(test_spm_special),
        cmocka_unit_test(test_param_messages),
    };
    return cmocka_run_group_tests(tests, load_data, NULL);
}
