/* GGUF v3 writer: collects KVs and tensors in memory, then writes the file
 * in one pass (header, KVs, tensor infos, padding, data). Each KV's type and
 * value are encoded when set, so writing is a plain copy. */
#include "gguf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the GGUF writer encodes values with memcpy and needs a little-endian host"
#endif

enum { GGUF_WRITE_VERSION = 3, GGUF_DEFAULT_ALIGNMENT = 32, GGUF_MAX_DIMS = 4 };

static const char k_alignment_key[] = "general.alignment";

typedef struct byte_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
    bool failed; /* an append ran out of memory; later appends do nothing */
} byte_buf;

typedef struct writer_kv {
    char *key;
    size_t key_len;
    byte_buf encoded; /* u32 type, then the value */
} writer_kv;

typedef struct writer_tensor {
    char *name;
    size_t name_len;
    uint32_t type;
    uint32_t n_dims;
    int64_t ne[GGUF_MAX_DIMS];
    const void *data;
    uint64_t n_bytes;
} writer_tensor;

struct aq_gguf_writer {
    writer_kv *kvs;
    size_t n_kv, kv_cap;
    writer_tensor *tensors;
    size_t n_tensors, tensor_cap;
    uint32_t alignment; /* follows general.alignment when that key is set */
};

static void buf_append(byte_buf *b, const void *src, size_t n) {
    if (b->failed || n == 0) return;
    if (n > SIZE_MAX - b->len) {
        b->failed = true;
        return;
    }
    if (b->len + n > b->cap) {
        size_t cap = b->cap > 0 ? b->cap : 64;
        while (cap < b->len + n) cap = cap > SIZE_MAX / 2 ? b->len + n : cap * 2;
        uint8_t *grown = realloc(b->data, cap);
        if (grown == NULL) {
            b->failed = true;
            return;
        }
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, src, n);
    b->len += n;
}

static void buf_u32(byte_buf *b, uint32_t v) { buf_append(b, &v, sizeof v); }
static void buf_u64(byte_buf *b, uint64_t v) { buf_append(b, &v, sizeof v); }

static void buf_str(byte_buf *b, const char *s, uint64_t len) {
    buf_u64(b, len);
    buf_append(b, s, (size_t)len);
}

aq_gguf_writer *aq_gguf_writer_create(void) {
    aq_gguf_writer *w = calloc(1, sizeof *w);
    if (w != NULL) w->alignment = GGUF_DEFAULT_ALIGNMENT;
    return w;
}

void aq_gguf_writer_free(aq_gguf_writer *w) {
    if (w == NULL) return;
    for (size_t i = 0; i < w->n_kv; i++) {
        free(w->kvs[i].key);
        free(w->kvs[i].encoded.data);
    }
    for (size_t i = 0; i < w->n_tensors; i++) free(w->tensors[i].name);
    free(w->kvs);
    free(w->tensors);
    free(w);
}

static bool grow(void **items, size_t *cap, size_t n, size_t item_size) {
    if (n < *cap) return true;
    size_t new_cap = *cap > 0 ? *cap * 2 : 16;
    if (new_cap > SIZE_MAX / item_size) return false;
    void *grown = realloc(*items, new_cap * item_size);
    if (grown == NULL) return false;
    *items = grown;
    *cap = new_cap;
    return true;
}

/* Takes ownership of encoded. Setting a key again replaces its value in place,
 * so a key is never written twice (readers reject duplicates). */
static aq_error store_kv(aq_gguf_writer *w, const char *key, byte_buf *encoded) {
    if (encoded->failed) {
        free(encoded->data);
        return AQ_ERR_OUT_OF_MEMORY;
    }
    size_t key_len = strlen(key);
    for (size_t i = 0; i < w->n_kv; i++) {
        if (w->kvs[i].key_len == key_len && memcmp(w->kvs[i].key, key, key_len) == 0) {
            free(w->kvs[i].encoded.data);
            w->kvs[i].encoded = *encoded;
            return AQ_OK;
        }
    }
    if (!grow((void **)&w->kvs, &w->kv_cap, w->n_kv, sizeof *w->kvs)) {
        free(encoded->data);
        return AQ_ERR_OUT_OF_MEMORY;
    }
    char *copy = malloc(key_len + 1);
    if (copy == NULL) {
        free(encoded->data);
        return AQ_ERR_OUT_OF_MEMORY;
    }
    memcpy(copy, key, key_len + 1);
    w->kvs[w->n_kv++] = (writer_kv){copy, key_len, *encoded};
    return AQ_OK;
}

/* Scalars all go through here. general.alignment decides the layout, so it
 * may only be set as a uint32 power of two, and is then honoured. */
static aq_error set_scalar(aq_gguf_writer *w, const char *key, aq_gguf_type type, const void *value) {
    if (w == NULL || key == NULL) return AQ_ERR_INVALID_ARGUMENT;
    bool is_alignment = strcmp(key, k_alignment_key) == 0;
    uint32_t alignment = 0;
    if (is_alignment) {
        if (type != AQ_GGUF_UINT32) return AQ_ERR_INVALID_ARGUMENT;
        memcpy(&alignment, value, sizeof alignment);
        if (alignment == 0 || (alignment & (alignment - 1)) != 0) return AQ_ERR_INVALID_ARGUMENT;
    }
    byte_buf encoded = {0};
    buf_u32(&encoded, (uint32_t)type);
    buf_append(&encoded, value, aq_gguf_scalar_size(type));
    aq_error err = store_kv(w, key, &encoded);
    if (err == AQ_OK && is_alignment) w->alignment = alignment;
    return err;
}

aq_error aq_gguf_writer_set_u32(aq_gguf_writer *w, const char *key, uint32_t v) {
    return set_scalar(w, key, AQ_GGUF_UINT32, &v);
}

aq_error aq_gguf_writer_set_i32(aq_gguf_writer *w, const char *key, int32_t v) {
    return set_scalar(w, key, AQ_GGUF_INT32, &v);
}

aq_error aq_gguf_writer_set_f32(aq_gguf_writer *w, const char *key, float v) {
    return set_scalar(w, key, AQ_GGUF_FLOAT32, &v);
}

aq_error aq_gguf_writer_set_bool(aq_gguf_writer *w, const char *key, bool v) {
    uint8_t byte = v ? 1 : 0;
    return set_scalar(w, key, AQ_GGUF_BOOL, &byte);
}

/* Non-scalar values may not take the alignment key either. */
static bool key_ok_for_non_scalar(const aq_gguf_writer *w, const char *key) {
    return w != NULL && key != NULL && strcmp(key, k_alignment_key) != 0;
}

aq_error aq_gguf_writer_set_str(aq_gguf_writer *w, const char *key, const char *s, size_t len) {
    if (!key_ok_for_non_scalar(w, key) || (s == NULL && len > 0)) return AQ_ERR_INVALID_ARGUMENT;
    byte_buf encoded = {0};
    buf_u32(&encoded, AQ_GGUF_STRING);
    buf_str(&encoded, s, len);
    return store_kv(w, key, &encoded);
}

aq_error aq_gguf_writer_set_arr(aq_gguf_writer *w, const char *key, aq_gguf_type elem_type, const void *data,
                                uint64_t n) {
    if (!key_ok_for_non_scalar(w, key) || (data == NULL && n > 0)) return AQ_ERR_INVALID_ARGUMENT;
    size_t elem_size = aq_gguf_scalar_size(elem_type);
    if (elem_size == 0 || n > SIZE_MAX / elem_size) return AQ_ERR_INVALID_ARGUMENT;
    byte_buf encoded = {0};
    buf_u32(&encoded, AQ_GGUF_ARRAY);
    buf_u32(&encoded, (uint32_t)elem_type);
    buf_u64(&encoded, n);
    buf_append(&encoded, data, (size_t)n * elem_size);
    return store_kv(w, key, &encoded);
}

aq_error aq_gguf_writer_set_arr_str(aq_gguf_writer *w, const char *key, const aq_gguf_str *strs, uint64_t n) {
    if (!key_ok_for_non_scalar(w, key) || (strs == NULL && n > 0)) return AQ_ERR_INVALID_ARGUMENT;
    for (uint64_t i = 0; i < n; i++) {
        if (strs[i].ptr == NULL && strs[i].len > 0) return AQ_ERR_INVALID_ARGUMENT;
        if (strs[i].len > SIZE_MAX) return AQ_ERR_INVALID_ARGUMENT;
    }
    byte_buf encoded = {0};
    buf_u32(&encoded, AQ_GGUF_ARRAY);
    buf_u32(&encoded, AQ_GGUF_STRING);
    buf_u64(&encoded, n);
    for (uint64_t i = 0; i < n; i++) buf_str(&encoded, strs[i].ptr, strs[i].len);
    return store_kv(w, key, &encoded);
}

aq_error aq_gguf_writer_add_tensor(aq_gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                                   const int64_t *ne, const void *data, uint64_t n_bytes) {
    if (w == NULL || name == NULL || ne == NULL || data == NULL) return AQ_ERR_INVALID_ARGUMENT;
    if (n_dims == 0 || n_dims > GGUF_MAX_DIMS) return AQ_ERR_INVALID_ARGUMENT;
    uint32_t block_elems, block_bytes;
    if (!aq_tensor_type_block(type, &block_elems, &block_bytes)) return AQ_ERR_UNSUPPORTED;
    int64_t n_elements = 1;
    for (uint32_t d = 0; d < n_dims; d++) {
        if (ne[d] <= 0 || ne[d] > INT64_MAX / n_elements) return AQ_ERR_INVALID_ARGUMENT;
        n_elements *= ne[d];
    }
    if (ne[0] % block_elems != 0) return AQ_ERR_INVALID_ARGUMENT;
    /* The same overflow-checked size the reader computes. */
    uint64_t blocks = (uint64_t)(ne[0] / block_elems);
    uint64_t rows = (uint64_t)(n_elements / ne[0]);
    if (blocks > UINT64_MAX / block_bytes || blocks * block_bytes > UINT64_MAX / rows) return AQ_ERR_INVALID_ARGUMENT;
    if (blocks * block_bytes * rows != n_bytes) return AQ_ERR_INVALID_ARGUMENT;

    size_t name_len = strlen(name);
    for (size_t i = 0; i < w->n_tensors; i++) {
        if (w->tensors[i].name_len == name_len && memcmp(w->tensors[i].name, name, name_len) == 0) {
            return AQ_ERR_INVALID_ARGUMENT;
        }
    }
    if (!grow((void **)&w->tensors, &w->tensor_cap, w->n_tensors, sizeof *w->tensors)) return AQ_ERR_OUT_OF_MEMORY;
    char *copy = malloc(name_len + 1);
    if (copy == NULL) return AQ_ERR_OUT_OF_MEMORY;
    memcpy(copy, name, name_len + 1);
    writer_tensor *t = &w->tensors[w->n_tensors++];
    *t = (writer_tensor){
        .name = copy, .name_len = name_len, .type = type, .n_dims = n_dims, .data = data, .n_bytes = n_bytes};
    for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) t->ne[d] = d < n_dims ? ne[d] : 1;
    return AQ_OK;
}

/* ---- output ---- */

typedef struct out_file {
    FILE *f;
    uint64_t pos;
    bool failed;
} out_file;

static void out_bytes(out_file *o, const void *src, size_t n) {
    if (o->failed || n == 0) return;
    if (fwrite(src, 1, n, o->f) != n) {
        o->failed = true;
        return;
    }
    o->pos += n;
}

static void out_u32(out_file *o, uint32_t v) { out_bytes(o, &v, sizeof v); }
static void out_u64(out_file *o, uint64_t v) { out_bytes(o, &v, sizeof v); }

static void out_pad_to(out_file *o, uint64_t target) {
    static const uint8_t zeros[256] = {0};
    while (!o->failed && o->pos < target) {
        uint64_t n = target - o->pos < sizeof zeros ? target - o->pos : sizeof zeros;
        out_bytes(o, zeros, (size_t)n);
    }
}

static bool align_up(uint64_t v, uint32_t alignment, uint64_t *out) {
    uint64_t rem = v % alignment;
    if (rem == 0) {
        *out = v;
        return true;
    }
    if (v > UINT64_MAX - (alignment - rem)) return false;
    *out = v + (alignment - rem);
    return true;
}

/* Writes the whole file through f; returns false on any write error. */
static bool write_contents(const aq_gguf_writer *w, FILE *f, const uint64_t *offsets) {
    out_file o = {f, 0, false};
    out_bytes(&o, "GGUF", 4);
    out_u32(&o, GGUF_WRITE_VERSION);
    out_u64(&o, w->n_tensors);
    out_u64(&o, w->n_kv);
    for (size_t i = 0; i < w->n_kv; i++) {
        out_u64(&o, w->kvs[i].key_len);
        out_bytes(&o, w->kvs[i].key, w->kvs[i].key_len);
        out_bytes(&o, w->kvs[i].encoded.data, w->kvs[i].encoded.len);
    }
    for (size_t i = 0; i < w->n_tensors; i++) {
        const writer_tensor *t = &w->tensors[i];
        out_u64(&o, t->name_len);
        out_bytes(&o, t->name, t->name_len);
        out_u32(&o, t->n_dims);
        for (uint32_t d = 0; d < t->n_dims; d++) out_u64(&o, (uint64_t)t->ne[d]);
        out_u32(&o, t->type);
        out_u64(&o, offsets[i]);
    }
    if (w->n_tensors == 0) return !o.failed;
    uint64_t data_start;
    if (!align_up(o.pos, w->alignment, &data_start)) return false;
    out_pad_to(&o, data_start);
    for (size_t i = 0; i < w->n_tensors; i++) {
        out_pad_to(&o, data_start + offsets[i]);
        /* fwrite takes a size_t; large tensors go in pieces. */
        const uint8_t *src = w->tensors[i].data;
        for (uint64_t left = w->tensors[i].n_bytes; left > 0 && !o.failed;) {
            size_t chunk = left > ((size_t)1 << 30) ? ((size_t)1 << 30) : (size_t)left;
            out_bytes(&o, src, chunk);
            src += chunk;
            left -= chunk;
        }
    }
    return !o.failed;
}

aq_error aq_gguf_writer_write_file(const aq_gguf_writer *w, const char *path) {
    if (w == NULL || path == NULL) return AQ_ERR_INVALID_ARGUMENT;
    uint64_t *offsets = NULL;
    if (w->n_tensors > 0) {
        offsets = malloc(w->n_tensors * sizeof *offsets);
        if (offsets == NULL) return AQ_ERR_OUT_OF_MEMORY;
    }
    /* No padding after the last tensor: the file ends with its data. */
    uint64_t end = 0;
    for (size_t i = 0; i < w->n_tensors; i++) {
        if (!align_up(end, w->alignment, &offsets[i]) || w->tensors[i].n_bytes > UINT64_MAX - offsets[i]) {
            free(offsets);
            return AQ_ERR_OUT_OF_RANGE;
        }
        end = offsets[i] + w->tensors[i].n_bytes;
    }

    /* Written beside the target and renamed over it, so that a failed write
     * never leaves a truncated file under the real name. */
    static const char suffix[] = ".tmp";
    size_t path_len = strlen(path);
    char *tmp_path = malloc(path_len + sizeof suffix);
    if (tmp_path == NULL) {
        free(offsets);
        return AQ_ERR_OUT_OF_MEMORY;
    }
    memcpy(tmp_path, path, path_len);
    memcpy(tmp_path + path_len, suffix, sizeof suffix);

    aq_error err = AQ_OK;
    FILE *f = fopen(tmp_path, "wb");
    if (f == NULL) {
        err = AQ_ERR_IO;
    } else {
        bool written = write_contents(w, f, offsets);
        bool closed = fclose(f) == 0;
        if (!written || !closed || rename(tmp_path, path) != 0) {
            remove(tmp_path);
            err = AQ_ERR_IO;
        }
    }
    free(tmp_path);
    free(offsets);
    return err;
}
