/* GGUF reader, versions 2 and 3, little-endian.
 *
 * Layout (ggml docs/gguf.md): "GGUF", u32 version, u64 tensor_count,
 * u64 kv_count, the KVs, the tensor infos, padding to general.alignment, then
 * the data section that tensor offsets are relative to. Versions 2 and 3 share
 * this layout; version 3 only added the (here unsupported) big-endian variant.
 *
 * The input may be hostile: every count and length is compared with the bytes
 * that remain before it is used or allocated for, so parsing never reads out
 * of bounds and never allocates more than a small multiple of the file size. */
#include "gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the GGUF reader decodes file values with memcpy and needs a little-endian host"
#endif

enum {
    GGUF_DEFAULT_ALIGNMENT = 32,
    GGUF_MAX_DIMS = 4,
    GGUF_STRING_LEN_BYTES = 8,
    /* The smallest possible encodings, used to bound counts by the bytes
     * left before anything is allocated for them: a KV is at least an empty
     * key, a type and a one-byte value; a tensor info at least an empty name,
     * n_dims, type and offset. */
    GGUF_MIN_KV_BYTES = 8 + 4 + 1,
    GGUF_MIN_TENSOR_INFO_BYTES = 8 + 4 + 4 + 8,
};

static const char k_alignment_key[] = "general.alignment";

/* ---- tensor types ---- */

typedef struct tensor_type_info {
    uint32_t type;
    const char *name;
    uint32_t block_elems;
    uint32_t block_bytes;
} tensor_type_info;

/* THE table of tensor types this library knows the size of: every type a
 * GGUF file of llama.cpp can hold, so that a file parses and the loader can
 * name the tensor whose type it does not run. Block sizes are ggml's (QK_K =
 * 256 for the K- and most IQ-quants). */
static const tensor_type_info k_tensor_types[] = {
    {AQ_TENSOR_F32, "f32", 1, 4},
    {AQ_TENSOR_F16, "f16", 1, 2},
    {AQ_TENSOR_Q4_0, "q4_0", 32, 18},
    {AQ_TENSOR_Q4_1, "q4_1", 32, 20},
    {AQ_TENSOR_Q5_0, "q5_0", 32, 22},
    {AQ_TENSOR_Q5_1, "q5_1", 32, 24},
    {AQ_TENSOR_Q8_0, "q8_0", 32, 34},
    {AQ_TENSOR_Q8_1, "q8_1", 32, 36},
    {AQ_TENSOR_Q2_K, "q2_K", 256, 84},
    {AQ_TENSOR_Q3_K, "q3_K", 256, 110},
    {AQ_TENSOR_Q4_K, "q4_K", 256, 144},
    {AQ_TENSOR_Q5_K, "q5_K", 256, 176},
    {AQ_TENSOR_Q6_K, "q6_K", 256, 210},
    {AQ_TENSOR_Q8_K, "q8_K", 256, 292},
    {AQ_TENSOR_IQ2_XXS, "iq2_xxs", 256, 66},
    {AQ_TENSOR_IQ2_XS, "iq2_xs", 256, 74},
    {AQ_TENSOR_IQ3_XXS, "iq3_xxs", 256, 98},
    {AQ_TENSOR_IQ1_S, "iq1_s", 256, 50},
    {AQ_TENSOR_IQ4_NL, "iq4_nl", 32, 18},
    {AQ_TENSOR_IQ3_S, "iq3_s", 256, 110},
    {AQ_TENSOR_IQ2_S, "iq2_s", 256, 82},
    {AQ_TENSOR_IQ4_XS, "iq4_xs", 256, 136},
    {AQ_TENSOR_I8, "i8", 1, 1},
    {AQ_TENSOR_I16, "i16", 1, 2},
    {AQ_TENSOR_I32, "i32", 1, 4},
    {AQ_TENSOR_I64, "i64", 1, 8},
    {AQ_TENSOR_F64, "f64", 1, 8},
    {AQ_TENSOR_IQ1_M, "iq1_m", 256, 56},
    {AQ_TENSOR_BF16, "bf16", 1, 2},
    {AQ_TENSOR_TQ1_0, "tq1_0", 256, 54},
    {AQ_TENSOR_TQ2_0, "tq2_0", 256, 66},
};

static const tensor_type_info *find_tensor_type(uint32_t type) {
    for (size_t i = 0; i < sizeof k_tensor_types / sizeof k_tensor_types[0]; i++) {
        if (k_tensor_types[i].type == type) return &k_tensor_types[i];
    }
    return NULL;
}

bool aq_tensor_type_block(uint32_t type, uint32_t *block_elems, uint32_t *block_bytes) {
    const tensor_type_info *info = find_tensor_type(type);
    if (info == NULL) return false;
    if (block_elems != NULL) *block_elems = info->block_elems;
    if (block_bytes != NULL) *block_bytes = info->block_bytes;
    return true;
}

const char *aq_tensor_type_name(uint32_t type) {
    const tensor_type_info *info = find_tensor_type(type);
    return info != NULL ? info->name : "unknown";
}

/* ---- the handle ---- */

typedef struct gguf_kv {
    aq_gguf_str key;
    uint32_t type;
    const uint8_t *value; /* the scalar's bytes, or an array's first element */
    aq_gguf_str str;      /* type STRING */
    uint32_t elem_type;   /* type ARRAY */
    uint64_t count;       /* type ARRAY */
    aq_gguf_str *strs;    /* arrays of strings: count entries, for O(1) access */
} gguf_kv;

/* Names sorted for duplicate detection and binary-search lookup; carrying
 * the pointer and length lets qsort/bsearch work without a context. */
typedef struct name_index {
    const char *ptr;
    uint64_t len;
    size_t index;
} name_index;

struct aq_gguf {
    const uint8_t *base;
    size_t size;
    void *mapping; /* non-NULL when the handle owns an mmap of the file */
    size_t mapping_size;
    uint32_t version;
    uint32_t alignment;
    size_t n_kv;
    gguf_kv *kvs;
    name_index *kv_by_name;
    size_t n_tensors;
    aq_gguf_tensor *tensors;
    name_index *tensor_by_name;
};

/* ---- parsing ---- */

typedef struct parser {
    const uint8_t *buf;
    size_t size;
    size_t pos;
    char *msg;
    size_t msg_cap;
} parser;

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static aq_error
report(char *msg, size_t msg_cap, aq_error err, const char *fmt, ...) {
    if (msg != NULL && msg_cap > 0) {
        va_list args;
        va_start(args, fmt);
        vsnprintf(msg, msg_cap, fmt, args);
        va_end(args);
    }
    return err;
}

#define PARSE_FAIL(p, err, ...) report((p)->msg, (p)->msg_cap, (err), __VA_ARGS__)

static size_t bytes_left(const parser *p) { return p->size - p->pos; }

static aq_error take(parser *p, uint64_t n, const uint8_t **out, const char *what) {
    if (n > bytes_left(p)) {
        return PARSE_FAIL(p, AQ_ERR_FORMAT, "truncated file: %s at offset %zu needs %" PRIu64 " bytes, %zu remain",
                          what, p->pos, n, bytes_left(p));
    }
    *out = p->buf + p->pos;
    p->pos += (size_t)n;
    return AQ_OK;
}

static aq_error read_u32(parser *p, uint32_t *out, const char *what) {
    const uint8_t *bytes = NULL;
    aq_error err = take(p, sizeof *out, &bytes, what);
    if (err == AQ_OK) memcpy(out, bytes, sizeof *out);
    return err;
}

static aq_error read_u64(parser *p, uint64_t *out, const char *what) {
    const uint8_t *bytes = NULL;
    aq_error err = take(p, sizeof *out, &bytes, what);
    if (err == AQ_OK) memcpy(out, bytes, sizeof *out);
    return err;
}

static aq_error read_str(parser *p, aq_gguf_str *out, const char *what) {
    uint64_t len;
    aq_error err = read_u64(p, &len, what);
    if (err != AQ_OK) return err;
    if (len > bytes_left(p)) {
        return PARSE_FAIL(p, AQ_ERR_FORMAT, "%s at offset %zu: length %" PRIu64 " exceeds the %zu bytes left", what,
                          p->pos - GGUF_STRING_LEN_BYTES, len, bytes_left(p));
    }
    const uint8_t *bytes = NULL;
    err = take(p, len, &bytes, what);
    if (err != AQ_OK) return err;
    out->ptr = (const char *)bytes;
    out->len = len;
    return AQ_OK;
}

size_t aq_gguf_scalar_size(uint32_t type) {
    switch (type) {
    case AQ_GGUF_UINT8:
    case AQ_GGUF_INT8:
    case AQ_GGUF_BOOL:
        return 1;
    case AQ_GGUF_UINT16:
    case AQ_GGUF_INT16:
        return 2;
    case AQ_GGUF_UINT32:
    case AQ_GGUF_INT32:
    case AQ_GGUF_FLOAT32:
        return 4;
    case AQ_GGUF_UINT64:
    case AQ_GGUF_INT64:
    case AQ_GGUF_FLOAT64:
        return 8;
    default:
        return 0;
    }
}

static bool is_integer_type(uint32_t type) {
    switch (type) {
    case AQ_GGUF_UINT8:
    case AQ_GGUF_INT8:
    case AQ_GGUF_UINT16:
    case AQ_GGUF_INT16:
    case AQ_GGUF_UINT32:
    case AQ_GGUF_INT32:
    case AQ_GGUF_UINT64:
    case AQ_GGUF_INT64:
        return true;
    default:
        return false;
    }
}

static aq_error parse_array(parser *p, gguf_kv *kv) {
    aq_error err = read_u32(p, &kv->elem_type, "array element type");
    if (err != AQ_OK) return err;
    err = read_u64(p, &kv->count, "array length");
    if (err != AQ_OK) return err;
    if (kv->elem_type == AQ_GGUF_ARRAY) {
        return PARSE_FAIL(p, AQ_ERR_UNSUPPORTED, "key '%.*s': nested arrays are not supported", (int)kv->key.len,
                          kv->key.ptr);
    }
    kv->value = p->buf + p->pos;
    if (kv->elem_type == AQ_GGUF_STRING) {
        if (kv->count > bytes_left(p) / GGUF_STRING_LEN_BYTES) {
            return PARSE_FAIL(p, AQ_ERR_FORMAT, "key '%.*s': %" PRIu64 " strings cannot fit in %zu bytes",
                              (int)kv->key.len, kv->key.ptr, kv->count, bytes_left(p));
        }
        if (kv->count == 0) return AQ_OK;
        kv->strs = malloc((size_t)kv->count * sizeof *kv->strs);
        if (kv->strs == NULL) return PARSE_FAIL(p, AQ_ERR_OUT_OF_MEMORY, "out of memory for a string array");
        for (uint64_t i = 0; i < kv->count; i++) {
            err = read_str(p, &kv->strs[i], "array string");
            if (err != AQ_OK) return err;
        }
        return AQ_OK;
    }
    size_t elem_size = aq_gguf_scalar_size(kv->elem_type);
    if (elem_size == 0) {
        return PARSE_FAIL(p, AQ_ERR_FORMAT, "key '%.*s': unknown array element type %" PRIu32, (int)kv->key.len,
                          kv->key.ptr, kv->elem_type);
    }
    if (kv->count > bytes_left(p) / elem_size) {
        return PARSE_FAIL(p, AQ_ERR_FORMAT, "key '%.*s': %" PRIu64 " elements of %zu bytes exceed the %zu bytes left",
                          (int)kv->key.len, kv->key.ptr, kv->count, elem_size, bytes_left(p));
    }
    const uint8_t *ignored = NULL;
    return take(p, kv->count * elem_size, &ignored, "array");
}

static aq_error parse_kv(parser *p, gguf_kv *kv) {
    aq_error err = read_str(p, &kv->key, "key");
    if (err != AQ_OK) return err;
    err = read_u32(p, &kv->type, "value type");
    if (err != AQ_OK) return err;
    if (kv->type == AQ_GGUF_STRING) {
        kv->value = p->buf + p->pos;
        return read_str(p, &kv->str, "string value");
    }
    if (kv->type == AQ_GGUF_ARRAY) return parse_array(p, kv);
    size_t size = aq_gguf_scalar_size(kv->type);
    if (size == 0) {
        return PARSE_FAIL(p, AQ_ERR_FORMAT, "key '%.*s': unknown value type %" PRIu32, (int)kv->key.len, kv->key.ptr,
                          kv->type);
    }
    return take(p, size, &kv->value, "value");
}

static int compare_names(const void *a, const void *b) {
    const name_index *x = a, *y = b;
    uint64_t common = x->len < y->len ? x->len : y->len;
    int c = common > 0 ? memcmp(x->ptr, y->ptr, (size_t)common) : 0;
    if (c != 0) return c;
    return (x->len > y->len) - (x->len < y->len);
}

/* Sorts the names and reports the first duplicate; what says "key" or "tensor". */
static aq_error index_names(parser *p, name_index *index, size_t n, const char *what) {
    if (n > 1) qsort(index, n, sizeof *index, compare_names);
    for (size_t i = 1; i < n; i++) {
        if (compare_names(&index[i - 1], &index[i]) == 0) {
            return PARSE_FAIL(p, AQ_ERR_FORMAT, "duplicate %s name '%.*s'", what, (int)index[i].len, index[i].ptr);
        }
    }
    return AQ_OK;
}

static const name_index *lookup_name(const name_index *index, size_t n, const char *name) {
    if (index == NULL || n == 0 || name == NULL) return NULL;
    name_index probe = {name, strlen(name), 0};
    return bsearch(&probe, index, n, sizeof *index, compare_names);
}

static const gguf_kv *find_kv(const aq_gguf *g, const char *key) {
    if (g == NULL) return NULL;
    const name_index *hit = lookup_name(g->kv_by_name, g->n_kv, key);
    return hit != NULL ? &g->kvs[hit->index] : NULL;
}

static aq_error parse_header_and_kvs(parser *p, aq_gguf *g, uint64_t *n_tensors_out) {
    const uint8_t *magic = NULL;
    aq_error err = take(p, 4, &magic, "magic");
    if (err != AQ_OK) return err;
    if (memcmp(magic, "GGUF", 4) != 0) return PARSE_FAIL(p, AQ_ERR_FORMAT, "not a GGUF file (bad magic)");
    err = read_u32(p, &g->version, "version");
    if (err != AQ_OK) return err;
    uint32_t swapped =
        (g->version >> 24) | ((g->version >> 8) & 0xff00u) | ((g->version << 8) & 0xff0000u) | (g->version << 24);
    if (g->version != 2 && g->version != 3 && swapped >= 1 && swapped <= 3) {
        return PARSE_FAIL(p, AQ_ERR_UNSUPPORTED, "big-endian GGUF files are not supported");
    }
    if (g->version != 2 && g->version != 3) {
        return PARSE_FAIL(p, AQ_ERR_UNSUPPORTED, "GGUF version %" PRIu32 " is not supported (only 2 and 3)",
                          g->version);
    }
    uint64_t n_tensors, n_kv;
    err = read_u64(p, &n_tensors, "tensor count");
    if (err != AQ_OK) return err;
    err = read_u64(p, &n_kv, "KV count");
    if (err != AQ_OK) return err;
    /* Each bound is at most size / 13, so the sum below cannot overflow. */
    if (n_kv > bytes_left(p) / GGUF_MIN_KV_BYTES || n_tensors > bytes_left(p) / GGUF_MIN_TENSOR_INFO_BYTES ||
        n_kv * GGUF_MIN_KV_BYTES + n_tensors * GGUF_MIN_TENSOR_INFO_BYTES > bytes_left(p)) {
        return PARSE_FAIL(p, AQ_ERR_FORMAT, "%" PRIu64 " KVs and %" PRIu64 " tensors cannot fit in the %zu bytes left",
                          n_kv, n_tensors, bytes_left(p));
    }
    *n_tensors_out = n_tensors;

    if (n_kv > 0) {
        g->kvs = calloc((size_t)n_kv, sizeof *g->kvs);
        g->kv_by_name = malloc((size_t)n_kv * sizeof *g->kv_by_name);
        if (g->kvs == NULL || g->kv_by_name == NULL)
            return PARSE_FAIL(p, AQ_ERR_OUT_OF_MEMORY, "out of memory for KVs");
        /* Counted as parsed so that aq_gguf_close frees the string arrays
         * of KVs parsed before a failure. */
        g->n_kv = (size_t)n_kv;
    }
    for (size_t i = 0; i < g->n_kv; i++) {
        err = parse_kv(p, &g->kvs[i]);
        if (err != AQ_OK) return err;
        g->kv_by_name[i] = (name_index){g->kvs[i].key.ptr, g->kvs[i].key.len, i};
    }
    err = index_names(p, g->kv_by_name, g->n_kv, "key");
    if (err != AQ_OK) return err;

    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    const gguf_kv *align_kv = find_kv(g, k_alignment_key);
    if (align_kv != NULL) {
        if (align_kv->type != AQ_GGUF_UINT32) {
            return PARSE_FAIL(p, AQ_ERR_FORMAT, "%s must be a uint32 (type %" PRIu32 ")", k_alignment_key,
                              align_kv->type);
        }
        memcpy(&g->alignment, align_kv->value, sizeof g->alignment);
        if (g->alignment == 0 || (g->alignment & (g->alignment - 1)) != 0) {
            return PARSE_FAIL(p, AQ_ERR_FORMAT, "%s %" PRIu32 " is not a power of two", k_alignment_key, g->alignment);
        }
    }
    return AQ_OK;
}

static aq_error parse_tensor_info(parser *p, aq_gguf_tensor *t) {
    aq_error err = read_str(p, &t->name, "tensor name");
    if (err != AQ_OK) return err;
    err = read_u32(p, &t->n_dims, "tensor n_dims");
    if (err != AQ_OK) return err;
    if (t->n_dims > GGUF_MAX_DIMS) {
        return PARSE_FAIL(p, AQ_ERR_FORMAT, "tensor '%.*s' has %" PRIu32 " dimensions (at most %d)", (int)t->name.len,
                          t->name.ptr, t->n_dims, GGUF_MAX_DIMS);
    }
    int64_t n_elements = 1;
    for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) {
        t->ne[d] = 1;
        if (d >= t->n_dims) continue;
        uint64_t raw;
        err = read_u64(p, &raw, "tensor dimension");
        if (err != AQ_OK) return err;
        if (raw == 0 || raw > (uint64_t)INT64_MAX) {
            return PARSE_FAIL(p, AQ_ERR_FORMAT, "tensor '%.*s': dimension %" PRIu32 " is %" PRId64 " (must be > 0)",
                              (int)t->name.len, t->name.ptr, d, (int64_t)raw);
        }
        t->ne[d] = (int64_t)raw;
        if (t->ne[d] > INT64_MAX / n_elements) {
            return PARSE_FAIL(p, AQ_ERR_FORMAT, "tensor '%.*s': element count overflows", (int)t->name.len,
                              t->name.ptr);
        }
        n_elements *= t->ne[d];
    }
    err = read_u32(p, &t->type, "tensor type");
    if (err != AQ_OK) return err;
    return read_u64(p, &t->offset, "tensor offset");
}

/* Places a tensor in the data section and computes its size; a type we do
 * not know gets size 0 so that the caller can still list it and reject it. */
static aq_error place_tensor(parser *p, aq_gguf_tensor *t, uint32_t alignment, const uint8_t *data,
                             uint64_t data_size) {
    if (t->offset % alignment != 0) {
        return PARSE_FAIL(p, AQ_ERR_FORMAT, "tensor '%.*s': offset %" PRIu64 " is not a multiple of %" PRIu32,
                          (int)t->name.len, t->name.ptr, t->offset, alignment);
    }
    if (t->offset > data_size) {
        return PARSE_FAIL(p, AQ_ERR_FORMAT,
                          "tensor '%.*s': offset %" PRIu64 " is past the end of the data (%" PRIu64 " bytes)",
                          (int)t->name.len, t->name.ptr, t->offset, data_size);
    }
    t->n_bytes = 0;
    const tensor_type_info *info = find_tensor_type(t->type);
    if (info != NULL) {
        if (t->ne[0] % info->block_elems != 0) {
            return PARSE_FAIL(p, AQ_ERR_FORMAT,
                              "tensor '%.*s': row of %" PRId64 " is not a multiple of the %s block (%" PRIu32 ")",
                              (int)t->name.len, t->name.ptr, t->ne[0], info->name, info->block_elems);
        }
        uint64_t blocks = (uint64_t)(t->ne[0] / info->block_elems);
        uint64_t rows = (uint64_t)(t->ne[1] * t->ne[2] * t->ne[3]); /* cannot overflow: checked when parsed */
        if (blocks > UINT64_MAX / info->block_bytes || blocks * info->block_bytes > UINT64_MAX / rows) {
            return PARSE_FAIL(p, AQ_ERR_FORMAT, "tensor '%.*s': byte size overflows", (int)t->name.len, t->name.ptr);
        }
        t->n_bytes = blocks * info->block_bytes * rows;
        if (t->n_bytes > data_size - t->offset) {
            return PARSE_FAIL(p, AQ_ERR_FORMAT,
                              "tensor '%.*s': %" PRIu64 " bytes at offset %" PRIu64
                              " run past the end of the data (%" PRIu64 " bytes)",
                              (int)t->name.len, t->name.ptr, t->n_bytes, t->offset, data_size);
        }
    }
    t->data = data + t->offset;
    return AQ_OK;
}

typedef struct extent {
    uint64_t offset, n_bytes;
    size_t index;
} extent;

static int compare_extents(const void *a, const void *b) {
    const extent *x = a, *y = b;
    return (x->offset > y->offset) - (x->offset < y->offset);
}

aq_error aq_gguf_check_disjoint(const aq_gguf *g, char *msg, size_t msg_cap) {
    if (g == NULL || g->n_tensors == 0) return AQ_OK;
    parser p0 = {g->base, g->size, 0, msg, msg_cap}, *p = &p0;
    extent *e = malloc(g->n_tensors * sizeof *e);
    if (e == NULL) return PARSE_FAIL(p, AQ_ERR_OUT_OF_MEMORY, "out of memory for tensor infos");
    size_t n = 0;
    for (size_t i = 0; i < g->n_tensors; i++)
        if (g->tensors[i].n_bytes > 0) e[n++] = (extent){g->tensors[i].offset, g->tensors[i].n_bytes, i};
    if (n > 1) qsort(e, n, sizeof *e, compare_extents);
    aq_error err = AQ_OK;
    for (size_t i = 1; i < n && err == AQ_OK; i++) {
        if (e[i].offset - e[i - 1].offset >= e[i - 1].n_bytes) continue; /* placed: no overflow */
        const aq_gguf_tensor *a = &g->tensors[e[i - 1].index], *b = &g->tensors[e[i].index];
        err = PARSE_FAIL(p, AQ_ERR_FORMAT, "tensors '%.*s' and '%.*s' overlap (offsets %" PRIu64 " and %" PRIu64 ")",
                         (int)a->name.len, a->name.ptr, (int)b->name.len, b->name.ptr, a->offset, b->offset);
    }
    free(e);
    return err;
}

static aq_error parse_tensors(parser *p, aq_gguf *g, uint64_t n_tensors) {
    if (n_tensors == 0) return AQ_OK;
    g->tensors = calloc((size_t)n_tensors, sizeof *g->tensors);
    g->tensor_by_name = malloc((size_t)n_tensors * sizeof *g->tensor_by_name);
    if (g->tensors == NULL || g->tensor_by_name == NULL) {
        return PARSE_FAIL(p, AQ_ERR_OUT_OF_MEMORY, "out of memory for tensor infos");
    }
    g->n_tensors = (size_t)n_tensors;
    for (size_t i = 0; i < g->n_tensors; i++) {
        aq_error err = parse_tensor_info(p, &g->tensors[i]);
        if (err != AQ_OK) return err;
        g->tensor_by_name[i] = (name_index){g->tensors[i].name.ptr, g->tensors[i].name.len, i};
    }
    aq_error err = index_names(p, g->tensor_by_name, g->n_tensors, "tensor");
    if (err != AQ_OK) return err;

    size_t padding = (g->alignment - p->pos % g->alignment) % g->alignment;
    if (padding > bytes_left(p)) {
        return PARSE_FAIL(p, AQ_ERR_FORMAT,
                          "truncated file: the data section (aligned to %" PRIu32 ") starts past the end",
                          g->alignment);
    }
    const uint8_t *data = p->buf + p->pos + padding;
    uint64_t data_size = bytes_left(p) - padding;
    for (size_t i = 0; i < g->n_tensors; i++) {
        err = place_tensor(p, &g->tensors[i], g->alignment, data, data_size);
        if (err != AQ_OK) return err;
    }
    return AQ_OK;
}

static aq_error parse(aq_gguf *g, char *msg, size_t msg_cap) {
    parser p = {g->base, g->size, 0, msg, msg_cap};
    uint64_t n_tensors = 0;
    aq_error err = parse_header_and_kvs(&p, g, &n_tensors);
    if (err != AQ_OK) return err;
    return parse_tensors(&p, g, n_tensors);
}

static aq_error open_parsed(aq_gguf *g, aq_gguf **out, char *msg, size_t msg_cap) {
    aq_error err = parse(g, msg, msg_cap);
    if (err != AQ_OK) {
        aq_gguf_close(g);
        return err;
    }
    if (msg != NULL && msg_cap > 0) msg[0] = '\0';
    *out = g;
    return AQ_OK;
}

aq_error aq_gguf_open_memory(const void *data, size_t size, aq_gguf **out, char *msg, size_t msg_cap) {
    if (out == NULL) return report(msg, msg_cap, AQ_ERR_INVALID_ARGUMENT, "out is NULL");
    *out = NULL;
    if (data == NULL) return report(msg, msg_cap, AQ_ERR_INVALID_ARGUMENT, "data is NULL");
    aq_gguf *g = calloc(1, sizeof *g);
    if (g == NULL) return report(msg, msg_cap, AQ_ERR_OUT_OF_MEMORY, "out of memory");
    g->base = data;
    g->size = size;
    return open_parsed(g, out, msg, msg_cap);
}

aq_error aq_gguf_open_file(const char *path, aq_gguf **out, char *msg, size_t msg_cap) {
    if (out == NULL) return report(msg, msg_cap, AQ_ERR_INVALID_ARGUMENT, "out is NULL");
    *out = NULL;
    if (path == NULL) return report(msg, msg_cap, AQ_ERR_INVALID_ARGUMENT, "path is NULL");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return report(msg, msg_cap, AQ_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        aq_error err = report(msg, msg_cap, AQ_ERR_IO, "cannot stat '%s': %s", path, strerror(errno));
        close(fd);
        return err;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return report(msg, msg_cap, AQ_ERR_IO, "'%s' is not a regular file", path);
    }
    if (st.st_size == 0) {
        close(fd);
        return report(msg, msg_cap, AQ_ERR_FORMAT, "'%s' is empty", path);
    }
    if ((uintmax_t)st.st_size > SIZE_MAX) {
        close(fd);
        return report(msg, msg_cap, AQ_ERR_IO, "'%s' is too large to map", path);
    }
    size_t size = (size_t)st.st_size;
    void *mapping = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int map_errno = errno;
    close(fd); /* the mapping keeps the file alive */
    if (mapping == MAP_FAILED) return report(msg, msg_cap, AQ_ERR_IO, "cannot map '%s': %s", path, strerror(map_errno));
    aq_gguf *g = calloc(1, sizeof *g);
    if (g == NULL) {
        munmap(mapping, size);
        return report(msg, msg_cap, AQ_ERR_OUT_OF_MEMORY, "out of memory");
    }
    g->base = mapping;
    g->size = size;
    g->mapping = mapping;
    g->mapping_size = size;
    return open_parsed(g, out, msg, msg_cap);
}

void aq_gguf_close(aq_gguf *gguf) {
    if (gguf == NULL) return;
    for (size_t i = 0; i < gguf->n_kv; i++) free(gguf->kvs[i].strs);
    free(gguf->kvs);
    free(gguf->kv_by_name);
    free(gguf->tensors);
    free(gguf->tensor_by_name);
    if (gguf->mapping != NULL) munmap(gguf->mapping, gguf->mapping_size);
    free(gguf);
}

bool aq_gguf_in_mapping(const aq_gguf *gguf, const void *data, size_t n) {
    if (gguf == NULL || gguf->mapping == NULL || data == NULL) return false;
    uintptr_t map = (uintptr_t)gguf->mapping, start = (uintptr_t)data;
    return start >= map && start - map <= gguf->mapping_size && n <= gguf->mapping_size - (start - map);
}

void aq_gguf_release(const aq_gguf *gguf, const void *data, size_t n) {
    if (!aq_gguf_in_mapping(gguf, data, n)) return;
    uintptr_t start = (uintptr_t)data;
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0) return;
    uintptr_t first = (start + (uintptr_t)page - 1) / (uintptr_t)page * (uintptr_t)page;
    uintptr_t end = (start + n) / (uintptr_t)page * (uintptr_t)page;
    /* The mapping is private and never written: its pages come back unchanged from the file. */
    if (end > first) madvise((void *)first, end - first, MADV_DONTNEED);
}

uint32_t aq_gguf_version(const aq_gguf *gguf) { return gguf != NULL ? gguf->version : 0; }
uint32_t aq_gguf_alignment(const aq_gguf *gguf) { return gguf != NULL ? gguf->alignment : 0; }

/* ---- key lookups ---- */

bool aq_gguf_has_key(const aq_gguf *gguf, const char *key) { return find_kv(gguf, key) != NULL; }

/* The getters' shared checks: NULL arguments, then an absent key. */
static aq_error lookup(const aq_gguf *g, const char *key, const void *out, const gguf_kv **kv_out) {
    if (g == NULL || key == NULL || out == NULL) return AQ_ERR_INVALID_ARGUMENT;
    *kv_out = find_kv(g, key);
    return *kv_out != NULL ? AQ_OK : AQ_ERR_FORMAT;
}

/* Reads an integer of any width and signedness and checks it lies in
 * [min, max]; min <= 0 <= max for every caller. */
static bool integer_in_range(uint32_t type, const uint8_t *p, int64_t min, uint64_t max, int64_t *out) {
    uint64_t u = 0;
    int64_t s = 0;
    bool is_signed = true;
    switch (type) {
    case AQ_GGUF_UINT8: {
        uint8_t v;
        memcpy(&v, p, sizeof v);
        u = v;
        is_signed = false;
        break;
    }
    case AQ_GGUF_UINT16: {
        uint16_t v;
        memcpy(&v, p, sizeof v);
        u = v;
        is_signed = false;
        break;
    }
    case AQ_GGUF_UINT32: {
        uint32_t v;
        memcpy(&v, p, sizeof v);
        u = v;
        is_signed = false;
        break;
    }
    case AQ_GGUF_UINT64: {
        memcpy(&u, p, sizeof u);
        is_signed = false;
        break;
    }
    case AQ_GGUF_INT8: {
        int8_t v;
        memcpy(&v, p, sizeof v);
        s = v;
        break;
    }
    case AQ_GGUF_INT16: {
        int16_t v;
        memcpy(&v, p, sizeof v);
        s = v;
        break;
    }
    case AQ_GGUF_INT32: {
        int32_t v;
        memcpy(&v, p, sizeof v);
        s = v;
        break;
    }
    case AQ_GGUF_INT64: {
        memcpy(&s, p, sizeof s);
        break;
    }
    default:
        return false;
    }
    if (!is_signed) {
        if (u > max) return false;
        *out = (int64_t)u;
        return true;
    }
    if (s < min || (s > 0 && (uint64_t)s > max)) return false;
    *out = s;
    return true;
}

/* float64 values outside float's range are rejected: the conversion would
 * be undefined. Infinities and NaNs carry over. */
static bool double_to_float(double d, float *out) {
    if (isfinite(d) && (d > FLT_MAX || d < -FLT_MAX)) return false;
    *out = (float)d;
    return true;
}

static bool float_value(uint32_t type, const uint8_t *p, float *out) {
    if (type == AQ_GGUF_FLOAT32) {
        memcpy(out, p, sizeof *out);
        return true;
    }
    if (type == AQ_GGUF_FLOAT64) {
        double d;
        memcpy(&d, p, sizeof d);
        return double_to_float(d, out);
    }
    return false;
}

aq_error aq_gguf_get_u32(const aq_gguf *gguf, const char *key, uint32_t *out) {
    const gguf_kv *kv;
    aq_error err = lookup(gguf, key, out, &kv);
    if (err != AQ_OK) return err;
    int64_t v;
    if (!integer_in_range(kv->type, kv->value, 0, UINT32_MAX, &v)) return AQ_ERR_FORMAT;
    *out = (uint32_t)v;
    return AQ_OK;
}

aq_error aq_gguf_get_f32(const aq_gguf *gguf, const char *key, float *out) {
    const gguf_kv *kv;
    aq_error err = lookup(gguf, key, out, &kv);
    if (err != AQ_OK) return err;
    return float_value(kv->type, kv->value, out) ? AQ_OK : AQ_ERR_FORMAT;
}

aq_error aq_gguf_get_bool(const aq_gguf *gguf, const char *key, bool *out) {
    const gguf_kv *kv;
    aq_error err = lookup(gguf, key, out, &kv);
    if (err != AQ_OK) return err;
    if (kv->type != AQ_GGUF_BOOL) return AQ_ERR_FORMAT;
    *out = kv->value[0] != 0;
    return AQ_OK;
}

aq_error aq_gguf_get_str(const aq_gguf *gguf, const char *key, aq_gguf_str *out) {
    const gguf_kv *kv;
    aq_error err = lookup(gguf, key, out, &kv);
    if (err != AQ_OK) return err;
    if (kv->type != AQ_GGUF_STRING) return AQ_ERR_FORMAT;
    *out = kv->str;
    return AQ_OK;
}

aq_error aq_gguf_get_arr_info(const aq_gguf *gguf, const char *key, aq_gguf_type *elem_type, uint64_t *n) {
    if (elem_type == NULL) return AQ_ERR_INVALID_ARGUMENT;
    const gguf_kv *kv;
    aq_error err = lookup(gguf, key, n, &kv);
    if (err != AQ_OK) return err;
    if (kv->type != AQ_GGUF_ARRAY) return AQ_ERR_FORMAT;
    *elem_type = (aq_gguf_type)kv->elem_type;
    *n = kv->count;
    return AQ_OK;
}

aq_error aq_gguf_get_arr_str(const aq_gguf *gguf, const char *key, uint64_t i, aq_gguf_str *out) {
    const gguf_kv *kv;
    aq_error err = lookup(gguf, key, out, &kv);
    if (err != AQ_OK) return err;
    if (kv->type != AQ_GGUF_ARRAY || kv->elem_type != AQ_GGUF_STRING) return AQ_ERR_FORMAT;
    if (i >= kv->count) return AQ_ERR_OUT_OF_RANGE;
    *out = kv->strs[i];
    return AQ_OK;
}

/* Shared checks of the numeric array getters: out may be NULL only for n 0. */
static aq_error lookup_array(const aq_gguf *g, const char *key, const void *out, uint64_t n, const gguf_kv **kv) {
    if (g == NULL || key == NULL || (out == NULL && n > 0)) return AQ_ERR_INVALID_ARGUMENT;
    *kv = find_kv(g, key);
    if (*kv == NULL) return AQ_ERR_FORMAT;
    if ((*kv)->type != AQ_GGUF_ARRAY) return AQ_ERR_FORMAT;
    if ((*kv)->count != n) return AQ_ERR_INVALID_ARGUMENT;
    return AQ_OK;
}

aq_error aq_gguf_get_arr_f32(const aq_gguf *gguf, const char *key, float *out, uint64_t n) {
    const gguf_kv *kv;
    aq_error err = lookup_array(gguf, key, out, n, &kv);
    if (err != AQ_OK) return err;
    if (kv->elem_type != AQ_GGUF_FLOAT32 && kv->elem_type != AQ_GGUF_FLOAT64) return AQ_ERR_FORMAT;
    size_t elem_size = aq_gguf_scalar_size(kv->elem_type);
    for (uint64_t i = 0; i < n; i++) {
        float v;
        if (!float_value(kv->elem_type, kv->value + i * elem_size, &v)) return AQ_ERR_FORMAT;
        out[i] = v;
    }
    return AQ_OK;
}

aq_error aq_gguf_get_arr_i32(const aq_gguf *gguf, const char *key, int32_t *out, uint64_t n) {
    const gguf_kv *kv;
    aq_error err = lookup_array(gguf, key, out, n, &kv);
    if (err != AQ_OK) return err;
    if (!is_integer_type(kv->elem_type)) return AQ_ERR_FORMAT;
    size_t elem_size = aq_gguf_scalar_size(kv->elem_type);
    /* Checked in full first so that a failed call leaves out untouched. */
    for (uint64_t i = 0; i < n; i++) {
        int64_t v;
        if (!integer_in_range(kv->elem_type, kv->value + i * elem_size, INT32_MIN, INT32_MAX, &v)) return AQ_ERR_FORMAT;
    }
    for (uint64_t i = 0; i < n; i++) {
        int64_t v = 0;
        integer_in_range(kv->elem_type, kv->value + i * elem_size, INT32_MIN, INT32_MAX, &v);
        out[i] = (int32_t)v;
    }
    return AQ_OK;
}

/* ---- tensors ---- */

uint64_t aq_gguf_n_tensors(const aq_gguf *gguf) { return gguf != NULL ? gguf->n_tensors : 0; }

const aq_gguf_tensor *aq_gguf_tensor_at(const aq_gguf *gguf, uint64_t i) {
    if (gguf == NULL || i >= gguf->n_tensors) return NULL;
    return &gguf->tensors[i];
}

const aq_gguf_tensor *aq_gguf_find_tensor(const aq_gguf *gguf, const char *name) {
    if (gguf == NULL) return NULL;
    const name_index *hit = lookup_name(gguf->tensor_by_name, gguf->n_tensors, name);
    return hit != NULL ? &gguf->tensors[hit->index] : NULL;
}
