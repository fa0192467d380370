/* GGUF reader and writer: round trips, hand-built files, hostile input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gguf.h"
#include "test_util.h"

/* ---- helpers ---- */

/* A hand-built file; fixed capacity is plenty for the small files here. */
typedef struct tbuf {
    uint8_t bytes[4096];
    size_t len;
} tbuf;

static void put(tbuf *b, const void *src, size_t n) {
    assert_true(b->len + n <= sizeof b->bytes);
    memcpy(b->bytes + b->len, src, n);
    b->len += n;
}
static void put_u8(tbuf *b, uint8_t v) { put(b, &v, 1); }
static void put_u32(tbuf *b, uint32_t v) { put(b, &v, 4); }
static void put_u64(tbuf *b, uint64_t v) { put(b, &v, 8); }
static void put_str(tbuf *b, const char *s) {
    put_u64(b, strlen(s));
    put(b, s, strlen(s));
}
static void put_header(tbuf *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    put(b, "GGUF", 4);
    put_u32(b, version);
    put_u64(b, n_tensors);
    put_u64(b, n_kv);
}
static void put_kv_u32(tbuf *b, const char *key, uint32_t v) {
    put_str(b, key);
    put_u32(b, AQ_GGUF_UINT32);
    put_u32(b, v);
}
static void put_tensor_info(tbuf *b, const char *name, uint32_t n_dims, const int64_t *ne, uint32_t type,
                            uint64_t offset) {
    put_str(b, name);
    put_u32(b, n_dims);
    for (uint32_t d = 0; d < n_dims; d++) put_u64(b, (uint64_t)ne[d]);
    put_u32(b, type);
    put_u64(b, offset);
}
static void pad_to(tbuf *b, size_t alignment) {
    while (b->len % alignment != 0) put_u8(b, 0);
}
static void put_fill(tbuf *b, size_t n, uint8_t start) {
    for (size_t i = 0; i < n; i++) put_u8(b, (uint8_t)(start + i));
}

/* Parses a copy in a buffer of exactly the file's size, so that AddressSanitizer
 * catches any read past the end. The copy is returned for the caller to free
 * after closing. */
static aq_error parse_copy(const uint8_t *bytes, size_t len, aq_gguf **out, uint8_t **copy, char *msg, size_t cap) {
    *copy = malloc(len > 0 ? len : 1);
    assert_non_null(*copy);
    if (len > 0) memcpy(*copy, bytes, len);
    return aq_gguf_open_memory(*copy, len, out, msg, cap);
}

static void expect_error_bytes(const uint8_t *bytes, size_t len, aq_error expected) {
    char msg[256];
    memset(msg, 'x', sizeof msg);
    aq_gguf *g = (aq_gguf *)(uintptr_t)1;
    uint8_t *copy;
    aq_error err = parse_copy(bytes, len, &g, &copy, msg, sizeof msg);
    if (err != expected) fprintf(stderr, "expected %d, got %d (%s)\n", expected, err, msg);
    assert_int_equal(err, expected);
    assert_null(g);
    assert_non_null(memchr(msg, '\0', sizeof msg));
    assert_true(strlen(msg) > 0);
    free(copy);
}

static void expect_error(const tbuf *b, aq_error expected) { expect_error_bytes(b->bytes, b->len, expected); }

static void temp_path(char *out, size_t cap) {
    snprintf(out, cap, "/tmp/aq_test_gguf_XXXXXX");
    int fd = mkstemp(out);
    assert_true(fd >= 0);
    close(fd);
}

static uint8_t *read_whole_file(const char *path, size_t *len) {
    uint8_t *bytes = (uint8_t *)test_read_file(path, len);
    assert_non_null(bytes);
    assert_true(*len > 0);
    return bytes;
}

/* ---- a writer file with every KV type and several tensor types ---- */

enum { N_F32 = 6, N_F16 = 5, N_BF16 = 6, N_Q4_0_BYTES = 2 * 2 * 18 };

typedef struct fixture_data {
    float f32[N_F32];
    uint16_t f16[N_F16];
    uint16_t bf16[N_BF16];
    uint8_t q4_0[N_Q4_0_BYTES];
} fixture_data;

static const uint8_t k_u8s[] = {0, 1, 255};
static const int8_t k_i8s[] = {-128, 0, 127};
static const uint16_t k_u16s[] = {0, 65535};
static const int16_t k_i16s[] = {-32768, 32767};
static const uint32_t k_u32s[] = {0, 7, 2147483647u};
static const int32_t k_i32s[] = {INT32_MIN, -1, INT32_MAX};
static const float k_f32s[] = {1.5f, -2.25f, 0.0f};
static const uint8_t k_bools[] = {1, 0, 1};
static const uint64_t k_u64s[] = {5, 18446744073709551615u};
static const int64_t k_i64s[] = {-3, 4};
static const double k_f64s[] = {0.5, -1e30};
static const int64_t k_small_i64s[] = {-7, 2147483647};

static void fill_fixture(fixture_data *d) {
    for (int i = 0; i < N_F32; i++) d->f32[i] = (float)i * 0.5f - 1.0f;
    for (int i = 0; i < N_F16; i++) d->f16[i] = (uint16_t)(0x3c00 + i);
    for (int i = 0; i < N_BF16; i++) d->bf16[i] = (uint16_t)(0x3f80 + i);
    for (int i = 0; i < N_Q4_0_BYTES; i++) d->q4_0[i] = (uint8_t)(i * 7 + 3);
}

static void write_fixture(const char *path, const fixture_data *d, uint32_t alignment) {
    aq_gguf_writer *w = aq_gguf_writer_create();
    assert_non_null(w);
    if (alignment != 32) assert_int_equal(aq_gguf_writer_set_u32(w, "general.alignment", alignment), AQ_OK);
    assert_int_equal(aq_gguf_writer_set_str(w, "general.architecture", "llama", 5), AQ_OK);
    assert_int_equal(aq_gguf_writer_set_u32(w, "u32", 4000000000u), AQ_OK);
    assert_int_equal(aq_gguf_writer_set_i32(w, "i32", -5), AQ_OK);
    assert_int_equal(aq_gguf_writer_set_i32(w, "i32.positive", 12345), AQ_OK);
    assert_int_equal(aq_gguf_writer_set_f32(w, "f32", 0.125f), AQ_OK);
    assert_int_equal(aq_gguf_writer_set_bool(w, "bool.true", true), AQ_OK);
    assert_int_equal(aq_gguf_writer_set_bool(w, "bool.false", false), AQ_OK);
    assert_int_equal(aq_gguf_writer_set_str(w, "str.empty", NULL, 0), AQ_OK);
    assert_int_equal(aq_gguf_writer_set_arr(w, "arr.u8", AQ_GGUF_UINT8, k_u8s, 3), AQ_OK);
    assert_int_equal(aq_gguf_writer_set_arr(w, "arr.i8", AQ_GGUF_INT8, k_i8s, 3), AQ_OK);
    assert_int_equal(aq_gguf_writer_set_arr(w, "arr.u16", AQ_GGUF_UINT16, k_u16s, 2), AQ_OK);
    assert_int_equal(aq_gguf_writer_set_arr(w, "arr.i16", AQ_GGUF_INT16, k_i16s, 2), AQ_OK);
    assert_int_equal(aq_gguf_writer_set_arr(w, "arr.u32", AQ_GGUF_UINT32, k_u32s, 3), AQ_OK);
    assert_int_equal(aq_gguf_writer_set_arr(w, "arr.i32", AQ_GGUF_INT32, k_i32s, 3), AQ_OK);
    assert_int_equal(aq_gguf_writer_set_arr(w, "arr.f32", AQ_GGUF_FLOAT32, k_f32s, 3), AQ_OK);
    assert_int_equal(aq_gguf_writer_set_arr(w, "arr.bool", AQ_GGUF_BOOL, k_bools, 3), AQ_OK);
    assert_int_equal(aq_gguf_writer_set_arr(w, "arr.u64", AQ_GGUF_UINT64, k_u64s, 2), AQ_OK);
    assert_int_equal(aq_gguf_writer_set_arr(w, "arr.i64", AQ_GGUF_INT64, k_i64s, 2), AQ_OK);
    assert_int_equal(aq_gguf_writer_set_arr(w, "arr.f64", AQ_GGUF_FLOAT64, k_f64s, 2), AQ_OK);
    assert_int_equal(aq_gguf_writer_set_arr(w, "arr.i64.small", AQ_GGUF_INT64, k_small_i64s, 2), AQ_OK);
    assert_int_equal(aq_gguf_writer_set_arr(w, "arr.empty", AQ_GGUF_INT32, NULL, 0), AQ_OK);
    const aq_gguf_str strs[] = {{"hello", 5}, {"", 0}, {"w\0rld", 5}};
    assert_int_equal(aq_gguf_writer_set_arr_str(w, "arr.str", strs, 3), AQ_OK);
    /* Setting a key again replaces it rather than writing it twice. */
    assert_int_equal(aq_gguf_writer_set_u32(w, "replaced", 1), AQ_OK);
    assert_int_equal(aq_gguf_writer_set_u32(w, "replaced", 2), AQ_OK);

    const int64_t ne_f32[] = {3, 2}, ne_f16[] = {5}, ne_bf16[] = {2, 1, 3, 1}, ne_q4[] = {64, 2};
    assert_int_equal(aq_gguf_writer_add_tensor(w, "t.f32", AQ_TENSOR_F32, 2, ne_f32, d->f32, sizeof d->f32), AQ_OK);
    assert_int_equal(aq_gguf_writer_add_tensor(w, "t.f16", AQ_TENSOR_F16, 1, ne_f16, d->f16, sizeof d->f16), AQ_OK);
    assert_int_equal(aq_gguf_writer_add_tensor(w, "t.bf16", AQ_TENSOR_BF16, 4, ne_bf16, d->bf16, sizeof d->bf16),
                     AQ_OK);
    assert_int_equal(aq_gguf_writer_add_tensor(w, "t.q4_0", AQ_TENSOR_Q4_0, 2, ne_q4, d->q4_0, sizeof d->q4_0), AQ_OK);
    assert_int_equal(aq_gguf_writer_write_file(w, path), AQ_OK);
    aq_gguf_writer_free(w);
}

static void check_tensor(const aq_gguf *g, const char *name, uint32_t type, uint32_t n_dims, const int64_t *ne,
                         const void *data, uint64_t n_bytes) {
    const aq_gguf_tensor *t = aq_gguf_find_tensor(g, name);
    assert_non_null(t);
    assert_int_equal(t->name.len, strlen(name));
    assert_memory_equal(t->name.ptr, name, strlen(name));
    assert_int_equal(t->type, type);
    assert_int_equal(t->n_dims, n_dims);
    for (uint32_t d = 0; d < 4; d++) assert_int_equal(t->ne[d], d < n_dims ? ne[d] : 1);
    assert_int_equal(t->n_bytes, n_bytes);
    assert_int_equal(t->offset % aq_gguf_alignment(g), 0);
    assert_int_equal((uintptr_t)t->data % aq_gguf_alignment(g), 0);
    assert_memory_equal(t->data, data, (size_t)n_bytes);
}

static void check_fixture(const aq_gguf *g, const fixture_data *d, uint32_t alignment) {
    assert_int_equal(aq_gguf_version(g), 3);
    assert_int_equal(aq_gguf_alignment(g), alignment);
    assert_int_equal(aq_gguf_has_key(g, "general.alignment"), alignment != 32);

    aq_gguf_str s;
    assert_int_equal(aq_gguf_get_str(g, "general.architecture", &s), AQ_OK);
    assert_int_equal(s.len, 5);
    assert_memory_equal(s.ptr, "llama", 5);
    assert_int_equal(aq_gguf_get_str(g, "str.empty", &s), AQ_OK);
    assert_int_equal(s.len, 0);

    uint32_t u = 0;
    assert_int_equal(aq_gguf_get_u32(g, "u32", &u), AQ_OK);
    assert_int_equal(u, 4000000000u);
    assert_int_equal(aq_gguf_get_u32(g, "i32.positive", &u), AQ_OK);
    assert_int_equal(u, 12345);
    assert_int_equal(aq_gguf_get_u32(g, "replaced", &u), AQ_OK);
    assert_int_equal(u, 2);
    float f = 0;
    assert_int_equal(aq_gguf_get_f32(g, "f32", &f), AQ_OK);
    assert_true(f == 0.125f);
    bool b = false;
    assert_int_equal(aq_gguf_get_bool(g, "bool.true", &b), AQ_OK);
    assert_true(b);
    assert_int_equal(aq_gguf_get_bool(g, "bool.false", &b), AQ_OK);
    assert_false(b);

    static const struct {
        const char *key;
        aq_gguf_type type;
        uint64_t n;
    } arrays[] = {{"arr.u8", AQ_GGUF_UINT8, 3},    {"arr.i8", AQ_GGUF_INT8, 3},     {"arr.u16", AQ_GGUF_UINT16, 2},
                  {"arr.i16", AQ_GGUF_INT16, 2},   {"arr.u32", AQ_GGUF_UINT32, 3},  {"arr.i32", AQ_GGUF_INT32, 3},
                  {"arr.f32", AQ_GGUF_FLOAT32, 3}, {"arr.bool", AQ_GGUF_BOOL, 3},   {"arr.u64", AQ_GGUF_UINT64, 2},
                  {"arr.i64", AQ_GGUF_INT64, 2},   {"arr.f64", AQ_GGUF_FLOAT64, 2}, {"arr.str", AQ_GGUF_STRING, 3},
                  {"arr.empty", AQ_GGUF_INT32, 0}};
    for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++) {
        aq_gguf_type type;
        uint64_t n;
        assert_int_equal(aq_gguf_get_arr_info(g, arrays[i].key, &type, &n), AQ_OK);
        assert_int_equal(type, arrays[i].type);
        assert_int_equal(n, arrays[i].n);
    }

    int32_t ints[3];
    assert_int_equal(aq_gguf_get_arr_i32(g, "arr.u8", ints, 3), AQ_OK);
    assert_int_equal(ints[0], 0);
    assert_int_equal(ints[1], 1);
    assert_int_equal(ints[2], 255);
    assert_int_equal(aq_gguf_get_arr_i32(g, "arr.i8", ints, 3), AQ_OK);
    assert_int_equal(ints[0], -128);
    assert_int_equal(ints[2], 127);
    assert_int_equal(aq_gguf_get_arr_i32(g, "arr.u16", ints, 2), AQ_OK);
    assert_int_equal(ints[1], 65535);
    assert_int_equal(aq_gguf_get_arr_i32(g, "arr.i16", ints, 2), AQ_OK);
    assert_int_equal(ints[0], -32768);
    assert_int_equal(ints[1], 32767);
    assert_int_equal(aq_gguf_get_arr_i32(g, "arr.u32", ints, 3), AQ_OK);
    assert_int_equal(ints[2], 2147483647);
    assert_int_equal(aq_gguf_get_arr_i32(g, "arr.i32", ints, 3), AQ_OK);
    assert_int_equal(ints[0], INT32_MIN);
    assert_int_equal(ints[1], -1);
    assert_int_equal(ints[2], INT32_MAX);
    assert_int_equal(aq_gguf_get_arr_i32(g, "arr.i64", ints, 2), AQ_OK);
    assert_int_equal(ints[0], -3);
    assert_int_equal(ints[1], 4);
    assert_int_equal(aq_gguf_get_arr_i32(g, "arr.i64.small", ints, 2), AQ_OK);
    assert_int_equal(ints[0], -7);
    assert_int_equal(ints[1], 2147483647);
    /* A value that does not fit, or a non-integer element type. */
    ints[0] = 99;
    assert_int_equal(aq_gguf_get_arr_i32(g, "arr.u64", ints, 2), AQ_ERR_FORMAT);
    assert_int_equal(ints[0], 99);
    assert_int_equal(aq_gguf_get_arr_i32(g, "arr.f32", ints, 3), AQ_ERR_FORMAT);
    assert_int_equal(aq_gguf_get_arr_i32(g, "arr.bool", ints, 3), AQ_ERR_FORMAT);
    assert_int_equal(aq_gguf_get_arr_i32(g, "arr.str", ints, 3), AQ_ERR_FORMAT);
    assert_int_equal(aq_gguf_get_arr_i32(g, "arr.empty", NULL, 0), AQ_OK);

    float floats[3];
    assert_int_equal(aq_gguf_get_arr_f32(g, "arr.f32", floats, 3), AQ_OK);
    assert_true(floats[0] == 1.5f && floats[1] == -2.25f && floats[2] == 0.0f);
    assert_int_equal(aq_gguf_get_arr_f32(g, "arr.f64", floats, 2), AQ_OK);
    assert_true(floats[0] == 0.5f && floats[1] == (float)-1e30);
    assert_int_equal(aq_gguf_get_arr_f32(g, "arr.i32", floats, 3), AQ_ERR_FORMAT);
    assert_int_equal(aq_gguf_get_arr_f32(g, "arr.f32", floats, 2), AQ_ERR_INVALID_ARGUMENT);

    assert_int_equal(aq_gguf_get_arr_str(g, "arr.str", 0, &s), AQ_OK);
    assert_int_equal(s.len, 5);
    assert_memory_equal(s.ptr, "hello", 5);
    assert_int_equal(aq_gguf_get_arr_str(g, "arr.str", 1, &s), AQ_OK);
    assert_int_equal(s.len, 0);
    assert_int_equal(aq_gguf_get_arr_str(g, "arr.str", 2, &s), AQ_OK);
    assert_int_equal(s.len, 5);
    assert_memory_equal(s.ptr, "w\0rld", 5);
    assert_int_equal(aq_gguf_get_arr_str(g, "arr.str", 3, &s), AQ_ERR_OUT_OF_RANGE);

    assert_int_equal(aq_gguf_n_tensors(g), 4);
    const int64_t ne_f32[] = {3, 2}, ne_f16[] = {5}, ne_bf16[] = {2, 1, 3, 1}, ne_q4[] = {64, 2};
    check_tensor(g, "t.f32", AQ_TENSOR_F32, 2, ne_f32, d->f32, sizeof d->f32);
    check_tensor(g, "t.f16", AQ_TENSOR_F16, 1, ne_f16, d->f16, sizeof d->f16);
    check_tensor(g, "t.bf16", AQ_TENSOR_BF16, 4, ne_bf16, d->bf16, sizeof d->bf16);
    check_tensor(g, "t.q4_0", AQ_TENSOR_Q4_0, 2, ne_q4, d->q4_0, sizeof d->q4_0);
    /* Tensors keep file order. */
    assert_memory_equal(aq_gguf_tensor_at(g, 0)->name.ptr, "t.f32", 5);
    assert_memory_equal(aq_gguf_tensor_at(g, 3)->name.ptr, "t.q4_0", 6);
    assert_null(aq_gguf_tensor_at(g, 4));
    assert_null(aq_gguf_find_tensor(g, "t.f3"));
    assert_null(aq_gguf_find_tensor(g, "t.f32x"));
}

/* ---- tests ---- */

static void test_type_table(void **state) {
    (void)state;
    uint32_t elems = 0, bytes = 0;
    static const struct {
        uint32_t type, elems, bytes;
        const char *name;
    } expected[] = {
        {AQ_TENSOR_F32, 1, 4, "f32"},
        {AQ_TENSOR_F16, 1, 2, "f16"},
        {AQ_TENSOR_BF16, 1, 2, "bf16"},
        {AQ_TENSOR_Q4_0, 32, 18, "q4_0"},
        {AQ_TENSOR_Q4_1, 32, 20, "q4_1"},
        {AQ_TENSOR_Q5_0, 32, 22, "q5_0"},
        {AQ_TENSOR_Q5_1, 32, 24, "q5_1"},
        {AQ_TENSOR_Q8_0, 32, 34, "q8_0"},
        {AQ_TENSOR_Q8_1, 32, 36, "q8_1"},
        {AQ_TENSOR_Q2_K, 256, 84, "q2_K"},
        {AQ_TENSOR_Q3_K, 256, 110, "q3_K"},
        {AQ_TENSOR_Q4_K, 256, 144, "q4_K"},
        {AQ_TENSOR_Q5_K, 256, 176, "q5_K"},
        {AQ_TENSOR_Q6_K, 256, 210, "q6_K"},
        {AQ_TENSOR_Q8_K, 256, 292, "q8_K"},
        {AQ_TENSOR_I8, 1, 1, "i8"},
        {AQ_TENSOR_I16, 1, 2, "i16"},
        {AQ_TENSOR_I32, 1, 4, "i32"},
        {AQ_TENSOR_I64, 1, 8, "i64"},
        {AQ_TENSOR_F64, 1, 8, "f64"},
        /* ggml-common.h's static_asserts: 2-byte f16 d, then the codes and scales */
        {AQ_TENSOR_IQ2_XXS, 256, 2 + 64, "iq2_xxs"},
        {AQ_TENSOR_IQ2_XS, 256, 2 + 64 + 8, "iq2_xs"},
        {AQ_TENSOR_IQ2_S, 256, 2 + 64 + 16, "iq2_s"},
        {AQ_TENSOR_IQ3_XXS, 256, 2 + 96, "iq3_xxs"},
        {AQ_TENSOR_IQ3_S, 256, 2 + 13 * 8 + 4, "iq3_s"},
        {AQ_TENSOR_IQ1_S, 256, 2 + 32 + 16, "iq1_s"},
        {AQ_TENSOR_IQ1_M, 256, 32 + 16 + 8, "iq1_m"},
        {AQ_TENSOR_IQ4_NL, 32, 2 + 16, "iq4_nl"},
        {AQ_TENSOR_IQ4_XS, 256, 2 + 2 + 4 + 128, "iq4_xs"},
        {AQ_TENSOR_TQ1_0, 256, 2 + 4 + 48, "tq1_0"},
        {AQ_TENSOR_TQ2_0, 256, 2 + 64, "tq2_0"},
    };
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
        assert_true(aq_tensor_type_block(expected[i].type, &elems, &bytes));
        assert_int_equal(elems, expected[i].elems);
        assert_int_equal(bytes, expected[i].bytes);
        assert_string_equal(aq_tensor_type_name(expected[i].type), expected[i].name);
    }
    assert_true(aq_tensor_type_block(AQ_TENSOR_F32, NULL, NULL));
    assert_false(aq_tensor_type_block(4, &elems, &bytes));
    assert_false(aq_tensor_type_block(AQ_TENSOR_OWN_FIRST, &elems, &bytes));
    assert_false(aq_tensor_type_block(UINT32_MAX, &elems, &bytes));
    assert_string_equal(aq_tensor_type_name(4), "unknown");
    assert_string_equal(aq_tensor_type_name(AQ_TENSOR_OWN_FIRST), "unknown");
}

static void test_round_trip(void **state) {
    (void)state;
    fixture_data d;
    fill_fixture(&d);
    char path[64];
    temp_path(path, sizeof path);
    write_fixture(path, &d, 32);

    char msg[256];
    aq_gguf *g = NULL;
    assert_int_equal(aq_gguf_open_file(path, &g, msg, sizeof msg), AQ_OK);
    assert_non_null(g);
    assert_string_equal(msg, "");
    check_fixture(g, &d, 32);
    aq_gguf_close(g);

    /* The same bytes through the in-memory path; the file ends with the last
     * tensor's data, with no trailing padding. */
    size_t len;
    uint8_t *bytes = read_whole_file(path, &len);
    assert_memory_equal(bytes, "GGUF\3\0\0\0", 8);
    uint64_t n_tensors, n_kv;
    memcpy(&n_tensors, bytes + 8, 8);
    memcpy(&n_kv, bytes + 16, 8);
    assert_int_equal(n_tensors, 4);
    assert_int_equal(n_kv, 23);
    assert_memory_equal(bytes + len - sizeof d.q4_0, d.q4_0, sizeof d.q4_0);
    /* Copied into memory aligned like a mapping, so the data alignment holds. */
    uint8_t *aligned = aligned_alloc(64, (len + 63) / 64 * 64);
    assert_non_null(aligned);
    memcpy(aligned, bytes, len);
    assert_int_equal(aq_gguf_open_memory(aligned, len, &g, NULL, 0), AQ_OK);
    check_fixture(g, &d, 32);
    aq_gguf_close(g);
    free(aligned);
    free(bytes);
    assert_int_equal(unlink(path), 0);
}

static void test_round_trip_alignment_64(void **state) {
    (void)state;
    fixture_data d;
    fill_fixture(&d);
    char path[64];
    temp_path(path, sizeof path);
    write_fixture(path, &d, 64);
    aq_gguf *g = NULL;
    assert_int_equal(aq_gguf_open_file(path, &g, NULL, 0), AQ_OK);
    check_fixture(g, &d, 64);
    uint32_t a = 0;
    assert_int_equal(aq_gguf_get_u32(g, "general.alignment", &a), AQ_OK);
    assert_int_equal(a, 64);
    assert_int_equal(aq_gguf_tensor_at(g, 1)->offset, 64);
    aq_gguf_close(g);
    assert_int_equal(unlink(path), 0);
}

/* A small valid v3 file with one F32 tensor [4] whose data ends the file. */
static void build_small(tbuf *b, uint32_t version) {
    b->len = 0;
    put_header(b, version, 1, 2);
    put_kv_u32(b, "a.count", 7);
    put_str(b, "a.name");
    put_u32(b, AQ_GGUF_STRING);
    put_str(b, "tiny");
    const int64_t ne[] = {4};
    put_tensor_info(b, "w", 1, ne, AQ_TENSOR_F32, 0);
    pad_to(b, 32);
    put_fill(b, 16, 1);
}

static void test_v2_file(void **state) {
    (void)state;
    tbuf b;
    build_small(&b, 2);
    aq_gguf *g = NULL;
    uint8_t *copy;
    assert_int_equal(parse_copy(b.bytes, b.len, &g, &copy, NULL, 0), AQ_OK);
    assert_int_equal(aq_gguf_version(g), 2);
    assert_int_equal(aq_gguf_alignment(g), 32);
    uint32_t v = 0;
    assert_int_equal(aq_gguf_get_u32(g, "a.count", &v), AQ_OK);
    assert_int_equal(v, 7);
    aq_gguf_str s;
    assert_int_equal(aq_gguf_get_str(g, "a.name", &s), AQ_OK);
    assert_int_equal(s.len, 4);
    assert_memory_equal(s.ptr, "tiny", 4);
    const aq_gguf_tensor *t = aq_gguf_find_tensor(g, "w");
    assert_non_null(t);
    assert_int_equal(t->n_bytes, 16);
    assert_ptr_equal(t->data, copy + b.len - 16);
    assert_int_equal(((const uint8_t *)t->data)[0], 1);
    assert_int_equal(((const uint8_t *)t->data)[15], 16);
    aq_gguf_close(g);
    free(copy);
}

static void test_every_truncation(void **state) {
    (void)state;
    tbuf b;
    build_small(&b, 3);
    for (size_t len = 0; len < b.len; len++) expect_error_bytes(b.bytes, len, AQ_ERR_FORMAT);

    /* And the writer's larger file, with every KV type. */
    fixture_data d;
    fill_fixture(&d);
    char path[64];
    temp_path(path, sizeof path);
    write_fixture(path, &d, 32);
    size_t len;
    uint8_t *bytes = read_whole_file(path, &len);
    for (size_t n = 0; n < len; n++) expect_error_bytes(bytes, n, AQ_ERR_FORMAT);
    free(bytes);
    assert_int_equal(unlink(path), 0);
}

static void test_bad_magic_and_version(void **state) {
    (void)state;
    tbuf b;
    build_small(&b, 3);
    b.bytes[0] = 'X';
    expect_error(&b, AQ_ERR_FORMAT);

    build_small(&b, 1);
    expect_error(&b, AQ_ERR_UNSUPPORTED);
    build_small(&b, 4);
    expect_error(&b, AQ_ERR_UNSUPPORTED);
    build_small(&b, 0);
    expect_error(&b, AQ_ERR_UNSUPPORTED);
    build_small(&b, 0x03000000u); /* version 3 written big-endian */
    expect_error(&b, AQ_ERR_UNSUPPORTED);
    char msg[128];
    aq_gguf *g;
    uint8_t *copy;
    assert_int_equal(parse_copy(b.bytes, b.len, &g, &copy, msg, sizeof msg), AQ_ERR_UNSUPPORTED);
    assert_non_null(strstr(msg, "big-endian"));
    free(copy);
}

static void test_huge_counts(void **state) {
    (void)state;
    tbuf b = {.len = 0};
    put_header(&b, 3, (uint64_t)1 << 60, 0);
    expect_error(&b, AQ_ERR_FORMAT);

    b.len = 0;
    put_header(&b, 3, 0, (uint64_t)1 << 60);
    put_kv_u32(&b, "k", 1);
    expect_error(&b, AQ_ERR_FORMAT);

    b.len = 0;
    put_header(&b, 3, UINT64_MAX, UINT64_MAX);
    expect_error(&b, AQ_ERR_FORMAT);

    /* Key length 2^63 and 2^64 - 1. */
    b.len = 0;
    put_header(&b, 3, 0, 1);
    put_u64(&b, (uint64_t)1 << 63);
    put(&b, "abcdefgh", 8);
    put_u32(&b, AQ_GGUF_UINT8);
    expect_error(&b, AQ_ERR_FORMAT);
    b.len = 0;
    put_header(&b, 3, 0, 1);
    put_u64(&b, UINT64_MAX);
    put(&b, "abcdefgh", 8);
    expect_error(&b, AQ_ERR_FORMAT);

    /* String value length past the end. */
    b.len = 0;
    put_header(&b, 3, 0, 1);
    put_str(&b, "s");
    put_u32(&b, AQ_GGUF_STRING);
    put_u64(&b, 100);
    put(&b, "short", 5);
    expect_error(&b, AQ_ERR_FORMAT);

    /* An array whose count times element size overflows 64 bits. */
    b.len = 0;
    put_header(&b, 3, 0, 1);
    put_str(&b, "arr");
    put_u32(&b, AQ_GGUF_ARRAY);
    put_u32(&b, AQ_GGUF_UINT64);
    put_u64(&b, ((uint64_t)1 << 61) + 1);
    put_fill(&b, 64, 0);
    expect_error(&b, AQ_ERR_FORMAT);

    /* A string array claiming 2^60 strings. */
    b.len = 0;
    put_header(&b, 3, 0, 1);
    put_str(&b, "arr");
    put_u32(&b, AQ_GGUF_ARRAY);
    put_u32(&b, AQ_GGUF_STRING);
    put_u64(&b, (uint64_t)1 << 60);
    put_str(&b, "one");
    expect_error(&b, AQ_ERR_FORMAT);

    /* Tensor name length huge. */
    b.len = 0;
    put_header(&b, 3, 1, 0);
    put_u64(&b, (uint64_t)1 << 62);
    put_fill(&b, 40, 0);
    expect_error(&b, AQ_ERR_FORMAT);
}

static void test_bad_values(void **state) {
    (void)state;
    tbuf b = {.len = 0};
    /* Unknown value type. */
    put_header(&b, 3, 0, 1);
    put_str(&b, "k");
    put_u32(&b, 13);
    put_u32(&b, 0);
    expect_error(&b, AQ_ERR_FORMAT);
    /* Unknown array element type. */
    b.len = 0;
    put_header(&b, 3, 0, 1);
    put_str(&b, "k");
    put_u32(&b, AQ_GGUF_ARRAY);
    put_u32(&b, 99);
    put_u64(&b, 1);
    put_u32(&b, 0);
    expect_error(&b, AQ_ERR_FORMAT);
    /* Nested arrays. */
    b.len = 0;
    put_header(&b, 3, 0, 1);
    put_str(&b, "k");
    put_u32(&b, AQ_GGUF_ARRAY);
    put_u32(&b, AQ_GGUF_ARRAY);
    put_u64(&b, 1);
    put_u32(&b, AQ_GGUF_UINT8);
    put_u64(&b, 1);
    put_u8(&b, 5);
    expect_error(&b, AQ_ERR_UNSUPPORTED);
    /* Duplicate key. */
    b.len = 0;
    put_header(&b, 3, 0, 3);
    put_kv_u32(&b, "dup", 1);
    put_kv_u32(&b, "other", 1);
    put_kv_u32(&b, "dup", 2);
    expect_error(&b, AQ_ERR_FORMAT);
    /* A file of KVs only and no tensors is valid, even without padding. */
    b.len = 0;
    put_header(&b, 3, 0, 2);
    put_kv_u32(&b, "dup", 1);
    put_kv_u32(&b, "dupe", 1);
    aq_gguf *g = NULL;
    uint8_t *copy;
    assert_int_equal(parse_copy(b.bytes, b.len, &g, &copy, NULL, 0), AQ_OK);
    assert_int_equal(aq_gguf_n_tensors(g), 0);
    assert_null(aq_gguf_find_tensor(g, "dup"));
    assert_null(aq_gguf_tensor_at(g, 0));
    aq_gguf_close(g);
    free(copy);
}

static void test_bad_alignment(void **state) {
    (void)state;
    static const uint32_t bad[] = {0, 3, 48, 0x80000001u};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tbuf b = {.len = 0};
        put_header(&b, 3, 0, 1);
        put_kv_u32(&b, "general.alignment", bad[i]);
        expect_error(&b, AQ_ERR_FORMAT);
    }
    /* Wrong type for the alignment key. */
    tbuf b = {.len = 0};
    put_header(&b, 3, 0, 1);
    put_str(&b, "general.alignment");
    put_u32(&b, AQ_GGUF_UINT64);
    put_u64(&b, 32);
    expect_error(&b, AQ_ERR_FORMAT);
    /* A huge alignment pushes the data section past the end. */
    b.len = 0;
    put_header(&b, 3, 1, 1);
    put_kv_u32(&b, "general.alignment", 0x80000000u);
    const int64_t ne[] = {1};
    put_tensor_info(&b, "w", 1, ne, AQ_TENSOR_F32, 0);
    put_fill(&b, 64, 0);
    expect_error(&b, AQ_ERR_FORMAT);
    /* Alignment 8 honoured: offset 8 is fine. */
    b.len = 0;
    put_header(&b, 3, 2, 1);
    put_kv_u32(&b, "general.alignment", 8);
    put_tensor_info(&b, "a", 1, ne, AQ_TENSOR_F32, 0);
    put_tensor_info(&b, "b", 1, ne, AQ_TENSOR_F32, 8);
    pad_to(&b, 8);
    put_fill(&b, 12, 0);
    aq_gguf *g = NULL;
    uint8_t *copy;
    assert_int_equal(parse_copy(b.bytes, b.len, &g, &copy, NULL, 0), AQ_OK);
    assert_int_equal(aq_gguf_alignment(g), 8);
    assert_int_equal(aq_gguf_find_tensor(g, "b")->offset, 8);
    aq_gguf_close(g);
    free(copy);
}

/* One tensor with the given shape, type and offset, followed by data_bytes. */
static void build_tensor_file(tbuf *b, uint32_t n_dims, const int64_t *ne, uint32_t type, uint64_t offset,
                              size_t data_bytes) {
    b->len = 0;
    put_header(b, 3, 1, 0);
    put_tensor_info(b, "t", n_dims, ne, type, offset);
    pad_to(b, 32);
    put_fill(b, data_bytes, 0);
}

static void test_bad_tensors(void **state) {
    (void)state;
    tbuf b;
    const int64_t ne5[] = {1, 1, 1, 1, 1};
    build_tensor_file(&b, 5, ne5, AQ_TENSOR_F32, 0, 4);
    expect_error(&b, AQ_ERR_FORMAT);
    const int64_t zero[] = {4, 0};
    build_tensor_file(&b, 2, zero, AQ_TENSOR_F32, 0, 64);
    expect_error(&b, AQ_ERR_FORMAT);
    const int64_t negative[] = {-4};
    build_tensor_file(&b, 1, negative, AQ_TENSOR_F32, 0, 64);
    expect_error(&b, AQ_ERR_FORMAT);
    const int64_t overflow[] = {(int64_t)1 << 32, (int64_t)1 << 32};
    build_tensor_file(&b, 2, overflow, AQ_TENSOR_I8, 0, 64);
    expect_error(&b, AQ_ERR_FORMAT);
    /* Elements fit int64 but bytes overflow. */
    const int64_t byte_overflow[] = {(int64_t)1 << 62};
    build_tensor_file(&b, 1, byte_overflow, AQ_TENSOR_F64, 0, 64);
    expect_error(&b, AQ_ERR_FORMAT);
    /* Past the end by one byte. */
    const int64_t four[] = {4};
    build_tensor_file(&b, 1, four, AQ_TENSOR_F32, 0, 15);
    expect_error(&b, AQ_ERR_FORMAT);
    build_tensor_file(&b, 1, four, AQ_TENSOR_F32, 32, 47);
    expect_error(&b, AQ_ERR_FORMAT);
    build_tensor_file(&b, 1, four, AQ_TENSOR_F32, (uint64_t)1 << 63, 64);
    expect_error(&b, AQ_ERR_FORMAT);
    /* Misaligned offset. */
    build_tensor_file(&b, 1, four, AQ_TENSOR_F32, 4, 64);
    expect_error(&b, AQ_ERR_FORMAT);
    /* A row that is not a whole number of blocks. */
    const int64_t q_row[] = {33, 1};
    build_tensor_file(&b, 2, q_row, AQ_TENSOR_Q4_0, 0, 64);
    expect_error(&b, AQ_ERR_FORMAT);

    /* Exactly fitting is fine. */
    build_tensor_file(&b, 1, four, AQ_TENSOR_F32, 32, 48);
    aq_gguf *g = NULL;
    uint8_t *copy;
    assert_int_equal(parse_copy(b.bytes, b.len, &g, &copy, NULL, 0), AQ_OK);
    assert_int_equal(aq_gguf_tensor_at(g, 0)->n_bytes, 16);
    aq_gguf_close(g);
    free(copy);

    /* Duplicate tensor names; overlapping tensors are allowed. */
    b.len = 0;
    put_header(&b, 3, 2, 0);
    put_tensor_info(&b, "same", 1, four, AQ_TENSOR_F32, 0);
    put_tensor_info(&b, "same", 1, four, AQ_TENSOR_F32, 0);
    pad_to(&b, 32);
    put_fill(&b, 16, 0);
    expect_error(&b, AQ_ERR_FORMAT);
    b.len = 0;
    put_header(&b, 3, 2, 0);
    put_tensor_info(&b, "x", 1, four, AQ_TENSOR_F32, 0);
    put_tensor_info(&b, "y", 1, four, AQ_TENSOR_F32, 0);
    pad_to(&b, 32);
    put_fill(&b, 16, 0);
    assert_int_equal(parse_copy(b.bytes, b.len, &g, &copy, NULL, 0), AQ_OK);
    assert_ptr_equal(aq_gguf_find_tensor(g, "x")->data, aq_gguf_find_tensor(g, "y")->data);
    aq_gguf_close(g);
    free(copy);
}

static void test_unknown_tensor_type(void **state) {
    (void)state;
    static const uint32_t types[] = {4, 31, AQ_TENSOR_OWN_FIRST, UINT32_MAX};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        tbuf b;
        const int64_t ne[] = {7, 3};
        build_tensor_file(&b, 2, ne, types[i], 0, 8);
        aq_gguf *g = NULL;
        uint8_t *copy;
        assert_int_equal(parse_copy(b.bytes, b.len, &g, &copy, NULL, 0), AQ_OK);
        const aq_gguf_tensor *t = aq_gguf_find_tensor(g, "t");
        assert_non_null(t);
        assert_int_equal(t->type, types[i]);
        assert_int_equal(t->n_bytes, 0);
        assert_ptr_equal(t->data, copy + b.len - 8);
        aq_gguf_close(g);
        free(copy);
    }
}

static void test_wrong_type_getters(void **state) {
    (void)state;
    tbuf b = {.len = 0};
    put_header(&b, 3, 0, 8);
    put_kv_u32(&b, "u32", 5);
    put_str(&b, "neg");
    put_u32(&b, AQ_GGUF_INT32);
    put_u32(&b, (uint32_t)-1);
    put_str(&b, "big");
    put_u32(&b, AQ_GGUF_UINT64);
    put_u64(&b, (uint64_t)1 << 32);
    put_str(&b, "flag");
    put_u32(&b, AQ_GGUF_BOOL);
    put_u8(&b, 1);
    put_str(&b, "name");
    put_u32(&b, AQ_GGUF_STRING);
    put_str(&b, "x");
    put_str(&b, "f64");
    put_u32(&b, AQ_GGUF_FLOAT64);
    double d = 2.5;
    put(&b, &d, 8);
    put_str(&b, "f64.huge");
    put_u32(&b, AQ_GGUF_FLOAT64);
    d = 1e300;
    put(&b, &d, 8);
    put_str(&b, "i16");
    put_u32(&b, AQ_GGUF_INT16);
    put_u8(&b, 0x2c);
    put_u8(&b, 0x01);
    aq_gguf *g = NULL;
    uint8_t *copy;
    assert_int_equal(parse_copy(b.bytes, b.len, &g, &copy, NULL, 0), AQ_OK);

    uint32_t u = 77;
    float f = 0;
    bool flag = false;
    aq_gguf_str s;
    aq_gguf_type type;
    uint64_t n;
    assert_int_equal(aq_gguf_get_u32(g, "missing", &u), AQ_ERR_FORMAT);
    assert_int_equal(aq_gguf_get_u32(g, "neg", &u), AQ_ERR_FORMAT);
    assert_int_equal(aq_gguf_get_u32(g, "big", &u), AQ_ERR_FORMAT);
    assert_int_equal(aq_gguf_get_u32(g, "flag", &u), AQ_ERR_FORMAT);
    assert_int_equal(aq_gguf_get_u32(g, "name", &u), AQ_ERR_FORMAT);
    assert_int_equal(aq_gguf_get_u32(g, "f64", &u), AQ_ERR_FORMAT);
    assert_int_equal(u, 77);
    assert_int_equal(aq_gguf_get_u32(g, "i16", &u), AQ_OK);
    assert_int_equal(u, 300);
    assert_int_equal(aq_gguf_get_f32(g, "u32", &f), AQ_ERR_FORMAT);
    assert_int_equal(aq_gguf_get_f32(g, "f64.huge", &f), AQ_ERR_FORMAT);
    assert_int_equal(aq_gguf_get_f32(g, "f64", &f), AQ_OK);
    assert_true(f == 2.5f);
    assert_int_equal(aq_gguf_get_bool(g, "u32", &flag), AQ_ERR_FORMAT);
    assert_int_equal(aq_gguf_get_bool(g, "flag", &flag), AQ_OK);
    assert_true(flag);
    assert_int_equal(aq_gguf_get_str(g, "u32", &s), AQ_ERR_FORMAT);
    assert_int_equal(aq_gguf_get_str(g, "missing", &s), AQ_ERR_FORMAT);
    assert_int_equal(aq_gguf_get_arr_info(g, "u32", &type, &n), AQ_ERR_FORMAT);
    assert_int_equal(aq_gguf_get_arr_str(g, "name", 0, &s), AQ_ERR_FORMAT);
    int32_t ints[1];
    float floats[1];
    assert_int_equal(aq_gguf_get_arr_i32(g, "u32", ints, 1), AQ_ERR_FORMAT);
    assert_int_equal(aq_gguf_get_arr_f32(g, "f64", floats, 1), AQ_ERR_FORMAT);
    assert_int_equal(aq_gguf_get_arr_f32(g, "missing", floats, 1), AQ_ERR_FORMAT);
    assert_false(aq_gguf_has_key(g, "missing"));
    assert_false(aq_gguf_has_key(g, "u3"));
    assert_true(aq_gguf_has_key(g, "u32"));
    aq_gguf_close(g);
    free(copy);
}

static void test_null_arguments(void **state) {
    (void)state;
    tbuf b;
    build_small(&b, 3);
    aq_gguf *g = NULL;
    char msg[64];
    assert_int_equal(aq_gguf_open_memory(NULL, 10, &g, msg, sizeof msg), AQ_ERR_INVALID_ARGUMENT);
    assert_null(g);
    assert_true(strlen(msg) > 0);
    assert_int_equal(aq_gguf_open_memory(b.bytes, b.len, NULL, msg, sizeof msg), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_gguf_open_file(NULL, &g, NULL, 0), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_gguf_open_file("/tmp", NULL, NULL, 0), AQ_ERR_INVALID_ARGUMENT);
    aq_gguf_close(NULL);
    assert_int_equal(aq_gguf_version(NULL), 0);
    assert_int_equal(aq_gguf_alignment(NULL), 0);
    assert_int_equal(aq_gguf_n_tensors(NULL), 0);
    assert_null(aq_gguf_tensor_at(NULL, 0));
    assert_null(aq_gguf_find_tensor(NULL, "w"));
    assert_false(aq_gguf_has_key(NULL, "a.count"));

    uint8_t *copy;
    assert_int_equal(parse_copy(b.bytes, b.len, &g, &copy, NULL, 0), AQ_OK);
    uint32_t u;
    float f;
    bool flag;
    aq_gguf_str s;
    aq_gguf_type type;
    uint64_t n;
    int32_t ints[1];
    assert_int_equal(aq_gguf_get_u32(NULL, "a.count", &u), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_gguf_get_u32(g, NULL, &u), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_gguf_get_u32(g, "a.count", NULL), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_gguf_get_f32(g, "a.count", NULL), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_gguf_get_f32(NULL, "a.count", &f), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_gguf_get_bool(g, NULL, &flag), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_gguf_get_str(g, "a.name", NULL), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_gguf_get_arr_info(g, "a.name", NULL, &n), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_gguf_get_arr_info(g, "a.name", &type, NULL), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_gguf_get_arr_str(g, "a.name", 0, NULL), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_gguf_get_arr_str(NULL, "a.name", 0, &s), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_gguf_get_arr_i32(g, "a.name", NULL, 1), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_gguf_get_arr_i32(NULL, "a.name", ints, 1), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_gguf_get_arr_f32(g, NULL, NULL, 0), AQ_ERR_INVALID_ARGUMENT);
    assert_false(aq_gguf_has_key(g, NULL));
    assert_null(aq_gguf_find_tensor(g, NULL));
    aq_gguf_close(g);
    free(copy);

    /* Writer. */
    aq_gguf_writer_free(NULL);
    const int64_t ne[] = {1};
    const float one = 1.0f;
    assert_int_equal(aq_gguf_writer_set_u32(NULL, "k", 1), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_gguf_writer_set_str(NULL, "k", "v", 1), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_gguf_writer_add_tensor(NULL, "t", AQ_TENSOR_F32, 1, ne, &one, 4), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_gguf_writer_write_file(NULL, "/tmp/x"), AQ_ERR_INVALID_ARGUMENT);
    aq_gguf_writer *w = aq_gguf_writer_create();
    assert_non_null(w);
    assert_int_equal(aq_gguf_writer_set_u32(w, NULL, 1), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_gguf_writer_set_i32(w, NULL, 1), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_gguf_writer_set_f32(w, NULL, 1), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_gguf_writer_set_bool(w, NULL, 1), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_gguf_writer_set_str(w, "k", NULL, 3), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_gguf_writer_set_arr(w, "k", AQ_GGUF_INT32, NULL, 3), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_gguf_writer_set_arr_str(w, "k", NULL, 3), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_gguf_writer_add_tensor(w, NULL, AQ_TENSOR_F32, 1, ne, &one, 4), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_gguf_writer_add_tensor(w, "t", AQ_TENSOR_F32, 1, NULL, &one, 4), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_gguf_writer_add_tensor(w, "t", AQ_TENSOR_F32, 1, ne, NULL, 4), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_gguf_writer_write_file(w, NULL), AQ_ERR_INVALID_ARGUMENT);
    aq_gguf_writer_free(w);
}

static void test_writer_rejects(void **state) {
    (void)state;
    aq_gguf_writer *w = aq_gguf_writer_create();
    assert_non_null(w);
    const int64_t ne[] = {4, 2};
    const float data[8] = {0};
    assert_int_equal(aq_gguf_writer_add_tensor(w, "t", AQ_TENSOR_F32, 2, ne, data, 31), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_gguf_writer_add_tensor(w, "t", AQ_TENSOR_F32, 0, ne, data, 32), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_gguf_writer_add_tensor(w, "t", AQ_TENSOR_F32, 5, ne, data, 32), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_gguf_writer_add_tensor(w, "t", 4, 2, ne, data, 32), AQ_ERR_UNSUPPORTED);
    assert_int_equal(aq_gguf_writer_add_tensor(w, "t", AQ_TENSOR_Q4_0, 2, ne, data, 32), AQ_ERR_INVALID_ARGUMENT);
    const int64_t bad_ne[] = {4, -2};
    assert_int_equal(aq_gguf_writer_add_tensor(w, "t", AQ_TENSOR_F32, 2, bad_ne, data, 32), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_gguf_writer_add_tensor(w, "t", AQ_TENSOR_F32, 2, ne, data, 32), AQ_OK);
    assert_int_equal(aq_gguf_writer_add_tensor(w, "t", AQ_TENSOR_F32, 2, ne, data, 32), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_gguf_writer_set_u32(w, "general.alignment", 3), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_gguf_writer_set_u32(w, "general.alignment", 0), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_gguf_writer_set_i32(w, "general.alignment", 32), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_gguf_writer_set_str(w, "general.alignment", "32", 2), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_gguf_writer_set_arr(w, "k", AQ_GGUF_STRING, data, 1), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_gguf_writer_set_arr(w, "k", AQ_GGUF_ARRAY, data, 1), AQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(aq_gguf_writer_write_file(w, "/nonexistent-dir/x.gguf"), AQ_ERR_IO);
    aq_gguf_writer_free(w);
}

static void test_paths(void **state) {
    (void)state;
    aq_gguf *g = (aq_gguf *)(uintptr_t)1;
    char msg[128];
    assert_int_equal(aq_gguf_open_file("/nonexistent/file.gguf", &g, msg, sizeof msg), AQ_ERR_IO);
    assert_null(g);
    assert_true(strlen(msg) > 0);
    assert_int_equal(aq_gguf_open_file("/tmp", &g, msg, sizeof msg), AQ_ERR_IO);
    assert_null(g);
    char path[64];
    temp_path(path, sizeof path); /* an empty file */
    assert_int_equal(aq_gguf_open_file(path, &g, msg, sizeof msg), AQ_ERR_FORMAT);
    assert_null(g);
    /* A garbage non-empty file goes through the mapping and is unmapped. */
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs("definitely not GGUF", f);
    fclose(f);
    assert_int_equal(aq_gguf_open_file(path, &g, msg, sizeof msg), AQ_ERR_FORMAT);
    assert_null(g);
    assert_int_equal(unlink(path), 0);
}

static void test_message_capacity(void **state) {
    (void)state;
    tbuf b;
    build_small(&b, 3);
    b.bytes[0] = 'X';
    char msg[8];
    memset(msg, 'x', sizeof msg);
    aq_gguf *g;
    assert_int_equal(aq_gguf_open_memory(b.bytes, b.len, &g, msg, sizeof msg), AQ_ERR_FORMAT);
    assert_int_equal(strlen(msg), sizeof msg - 1);
    msg[0] = 'x';
    assert_int_equal(aq_gguf_open_memory(b.bytes, b.len, &g, msg, 0), AQ_ERR_FORMAT);
    assert_int_equal(msg[0], 'x');
    assert_int_equal(aq_gguf_open_memory(b.bytes, b.len, &g, NULL, 100), AQ_ERR_FORMAT);
}

/* Touches everything a successfully parsed file exposes, so that
 * AddressSanitizer sees any pointer that escaped the buffer. */
static unsigned touch_everything(const aq_gguf *g) {
    unsigned sum = 0;
    for (uint64_t i = 0; i < aq_gguf_n_tensors(g); i++) {
        const aq_gguf_tensor *t = aq_gguf_tensor_at(g, i);
        for (uint64_t j = 0; j < t->name.len; j++) sum += (uint8_t)t->name.ptr[j];
        for (uint64_t j = 0; j < t->n_bytes; j++) sum += ((const uint8_t *)t->data)[j];
    }
    static const char *const keys[] = {
        "general.architecture", "u32", "f32", "bool.true", "arr.str", "arr.u8", "arr.f64", "arr.i64", "arr.u64"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        uint32_t u;
        float f;
        bool b;
        aq_gguf_str s;
        aq_gguf_type type;
        uint64_t n;
        if (aq_gguf_get_u32(g, keys[k], &u) == AQ_OK) sum += u;
        if (aq_gguf_get_f32(g, keys[k], &f) == AQ_OK) sum += f == f;
        if (aq_gguf_get_bool(g, keys[k], &b) == AQ_OK) sum += b;
        if (aq_gguf_get_str(g, keys[k], &s) == AQ_OK) {
            for (uint64_t j = 0; j < s.len; j++) sum += (uint8_t)s.ptr[j];
        }
        if (aq_gguf_get_arr_info(g, keys[k], &type, &n) == AQ_OK && n <= 16) {
            int32_t ints[16];
            float floats[16];
            if (aq_gguf_get_arr_i32(g, keys[k], ints, n) == AQ_OK) sum += (unsigned)n;
            if (aq_gguf_get_arr_f32(g, keys[k], floats, n) == AQ_OK) sum += (unsigned)n;
            for (uint64_t j = 0; j < n; j++) {
                if (aq_gguf_get_arr_str(g, keys[k], j, &s) != AQ_OK) break;
                for (uint64_t c = 0; c < s.len; c++) sum += (uint8_t)s.ptr[c];
            }
        }
    }
    return sum;
}

static void test_byte_flip_fuzz(void **state) {
    (void)state;
    fixture_data d;
    fill_fixture(&d);
    char path[64];
    temp_path(path, sizeof path);
    write_fixture(path, &d, 32);
    size_t len;
    uint8_t *original = read_whole_file(path, &len);
    assert_int_equal(unlink(path), 0);

    uint64_t rng = 0x9e3779b97f4a7c15ull;
    int n_ok = 0, n_failed = 0;
    for (int iter = 0; iter < 4000; iter++) {
        uint8_t *copy = malloc(len);
        assert_non_null(copy);
        memcpy(copy, original, len);
        int n_flips = 1 + (int)(aq_splitmix64(&rng) % 8);
        for (int k = 0; k < n_flips; k++) {
            /* Bias towards the header, KVs and tensor infos, where flips matter. */
            size_t limit = (aq_splitmix64(&rng) % 4 != 0) ? (len < 900 ? len : 900) : len;
            size_t at = (size_t)(aq_splitmix64(&rng) % limit);
            uint64_t r = aq_splitmix64(&rng);
            copy[at] = (r & 0x100) ? (uint8_t)r : (uint8_t)(copy[at] ^ (1u << (r % 8)));
        }
        aq_gguf *g = NULL;
        char msg[128];
        aq_error err = aq_gguf_open_memory(copy, len, &g, msg, sizeof msg);
        if (err == AQ_OK) {
            assert_non_null(g);
            (void)touch_everything(g);
            aq_gguf_close(g);
            n_ok++;
        } else {
            assert_null(g);
            assert_non_null(memchr(msg, '\0', sizeof msg));
            n_failed++;
        }
        free(copy);
    }
    /* Both outcomes must occur, or the fuzzing is not exercising anything. */
    assert_true(n_ok > 0);
    assert_true(n_failed > 0);
    free(original);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type_table),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_round_trip_alignment_64),
        cmocka_unit_test(test_v2_file),
        cmocka_unit_test(test_every_truncation),
        cmocka_unit_test(test_bad_magic_and_version),
        cmocka_unit_test(test_huge_counts),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_bad_alignment),
        cmocka_unit_test(test_bad_tensors),
        cmocka_unit_test(test_unknown_tensor_type),
        cmocka_unit_test(test_wrong_type_getters),
        cmocka_unit_test(test_null_arguments),
        cmocka_unit_test(test_writer_rejects),
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_message_capacity),
        cmocka_unit_test(test_byte_flip_fuzz),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
