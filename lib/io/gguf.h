/* GGUF reader (versions 2 and 3) and writer. Internal to the library.
 *
 * The reader checks every count, length, offset and shape against the size of
 * the buffer before using it, so a truncated or hostile file yields
 * AQ_ERR_FORMAT and a message, never an out-of-bounds read. Strings point into
 * the buffer (they are not NUL-terminated). */
#ifndef AQ_GGUF_H
#define AQ_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agilequant.h"

typedef enum aq_gguf_type {
    AQ_GGUF_UINT8 = 0,
    AQ_GGUF_INT8 = 1,
    AQ_GGUF_UINT16 = 2,
    AQ_GGUF_INT16 = 3,
    AQ_GGUF_UINT32 = 4,
    AQ_GGUF_INT32 = 5,
    AQ_GGUF_FLOAT32 = 6,
    AQ_GGUF_BOOL = 7,
    AQ_GGUF_STRING = 8,
    AQ_GGUF_ARRAY = 9,
    AQ_GGUF_UINT64 = 10,
    AQ_GGUF_INT64 = 11,
    AQ_GGUF_FLOAT64 = 12
} aq_gguf_type;

/* Bytes of one value of a fixed-size type; 0 for STRING, ARRAY and unknown. */
size_t aq_gguf_scalar_size(uint32_t type);

/* Tensor element types, numbered as ggml numbers them. Our own quantized
 * types (docs/FORMAT.md) take numbers from AQ_TENSOR_OWN_FIRST up. */
typedef enum aq_tensor_type {
    AQ_TENSOR_F32 = 0,
    AQ_TENSOR_F16 = 1,
    AQ_TENSOR_Q4_0 = 2,
    AQ_TENSOR_Q4_1 = 3,
    AQ_TENSOR_Q5_0 = 6,
    AQ_TENSOR_Q5_1 = 7,
    AQ_TENSOR_Q8_0 = 8,
    AQ_TENSOR_Q8_1 = 9,
    AQ_TENSOR_Q2_K = 10,
    AQ_TENSOR_Q3_K = 11,
    AQ_TENSOR_Q4_K = 12,
    AQ_TENSOR_Q5_K = 13,
    AQ_TENSOR_Q6_K = 14,
    AQ_TENSOR_Q8_K = 15,
    AQ_TENSOR_IQ2_XXS = 16,
    AQ_TENSOR_IQ2_XS = 17,
    AQ_TENSOR_IQ3_XXS = 18,
    AQ_TENSOR_IQ1_S = 19,
    AQ_TENSOR_IQ4_NL = 20,
    AQ_TENSOR_IQ3_S = 21,
    AQ_TENSOR_IQ2_S = 22,
    AQ_TENSOR_IQ4_XS = 23,
    AQ_TENSOR_I8 = 24,
    AQ_TENSOR_I16 = 25,
    AQ_TENSOR_I32 = 26,
    AQ_TENSOR_I64 = 27,
    AQ_TENSOR_F64 = 28,
    AQ_TENSOR_IQ1_M = 29,
    AQ_TENSOR_BF16 = 30,
    AQ_TENSOR_TQ1_0 = 34,
    AQ_TENSOR_TQ2_0 = 35,
    AQ_TENSOR_OWN_FIRST = 1000
} aq_tensor_type;

/* Block geometry of a tensor type: a row of n elements (n a multiple of
 * block_elems) takes n / block_elems * block_bytes bytes. Returns false for
 * a type we do not know. */
bool aq_tensor_type_block(uint32_t type, uint32_t *block_elems, uint32_t *block_bytes);
const char *aq_tensor_type_name(uint32_t type); /* "f32", "q4_0", ..., "unknown" */

typedef struct aq_gguf_str {
    const char *ptr;
    uint64_t len;
} aq_gguf_str;

typedef struct aq_gguf_tensor {
    aq_gguf_str name;
    uint32_t n_dims;
    int64_t ne[4];    /* ne[0] is the contiguous (row) dimension; unused dims are 1 */
    uint32_t type;    /* aq_tensor_type */
    uint64_t offset;  /* from the start of the data section */
    const void *data; /* into the buffer; aligned as the file's general.alignment */
    uint64_t n_bytes;
} aq_gguf_tensor;

typedef struct aq_gguf aq_gguf;

/* Opens and memory-maps a file (read-only). On failure *out is NULL and msg
 * holds a NUL-terminated reason (msg may be NULL). */
aq_error aq_gguf_open_file(const char *path, aq_gguf **out, char *msg, size_t msg_cap);
/* Parses a caller's buffer in place; it must outlive the handle. */
aq_error aq_gguf_open_memory(const void *data, size_t size, aq_gguf **out, char *msg, size_t msg_cap);
void aq_gguf_close(aq_gguf *gguf); /* accepts NULL */
/* Gives back the resident pages wholly inside [data, data + n) when they lie
 * in the file mapping the handle owns (read again from the file if touched
 * later): a model quantized layer by layer then holds the source file's
 * pages of one layer at a time. Anything else (a caller's buffer) is left as it is. */
void aq_gguf_release(const aq_gguf *gguf, const void *data, size_t n);
/* Whether the n bytes at data lie in the file mapping the handle owns (not in a
 * caller's buffer, nor in memory the model made): those aq_gguf_release can give back. */
bool aq_gguf_in_mapping(const aq_gguf *gguf, const void *data, size_t n);
/* AQ_ERR_FORMAT (and a message) if two tensors share bytes. The reader lets
 * them (each is a read-only view); a model loader refuses them: llama.cpp
 * reads tensors one after the other and so never accepts such a file, and
 * one region seen as many tensors (a thousand layers in a small file) would
 * multiply what the load allocates and computes. */
aq_error aq_gguf_check_disjoint(const aq_gguf *gguf, char *msg, size_t msg_cap);

uint32_t aq_gguf_version(const aq_gguf *gguf);
uint32_t aq_gguf_alignment(const aq_gguf *gguf);

/* Key lookups. Each returns AQ_ERR_FORMAT if the key is absent ("missing")
 * or has an incompatible type; the integer getter accepts any integer type
 * whose value fits, the float getter float32 or float64. */
bool aq_gguf_has_key(const aq_gguf *gguf, const char *key);
aq_error aq_gguf_get_u32(const aq_gguf *gguf, const char *key, uint32_t *out);
aq_error aq_gguf_get_f32(const aq_gguf *gguf, const char *key, float *out);
aq_error aq_gguf_get_bool(const aq_gguf *gguf, const char *key, bool *out);
aq_error aq_gguf_get_str(const aq_gguf *gguf, const char *key, aq_gguf_str *out);
/* Arrays: element type and count. */
aq_error aq_gguf_get_arr_info(const aq_gguf *gguf, const char *key, aq_gguf_type *elem_type, uint64_t *n);
/* Element i of a string array, O(1). */
aq_error aq_gguf_get_arr_str(const aq_gguf *gguf, const char *key, uint64_t i, aq_gguf_str *out);
/* Copies a numeric array, converting: to float from float32/float64; to
 * int32 from any integer type whose values fit. n must equal the count. */
aq_error aq_gguf_get_arr_f32(const aq_gguf *gguf, const char *key, float *out, uint64_t n);
aq_error aq_gguf_get_arr_i32(const aq_gguf *gguf, const char *key, int32_t *out, uint64_t n);

uint64_t aq_gguf_n_tensors(const aq_gguf *gguf);
const aq_gguf_tensor *aq_gguf_tensor_at(const aq_gguf *gguf, uint64_t i);
const aq_gguf_tensor *aq_gguf_find_tensor(const aq_gguf *gguf, const char *name); /* NULL if absent */

/* ---- writer: builds a GGUF v3 file in memory, then writes it out ---- */
typedef struct aq_gguf_writer aq_gguf_writer;
aq_gguf_writer *aq_gguf_writer_create(void);
void aq_gguf_writer_free(aq_gguf_writer *w);
/* Keys are copied; keys are written in the order added. */
aq_error aq_gguf_writer_set_u32(aq_gguf_writer *w, const char *key, uint32_t v);
aq_error aq_gguf_writer_set_i32(aq_gguf_writer *w, const char *key, int32_t v);
aq_error aq_gguf_writer_set_f32(aq_gguf_writer *w, const char *key, float v);
aq_error aq_gguf_writer_set_bool(aq_gguf_writer *w, const char *key, bool v);
aq_error aq_gguf_writer_set_str(aq_gguf_writer *w, const char *key, const char *s, size_t len);
/* Numeric array of n elements of elem_type (not STRING or ARRAY); data is copied. */
aq_error aq_gguf_writer_set_arr(aq_gguf_writer *w, const char *key, aq_gguf_type elem_type, const void *data,
                                uint64_t n);
aq_error aq_gguf_writer_set_arr_str(aq_gguf_writer *w, const char *key, const aq_gguf_str *strs, uint64_t n);
/* Adds a tensor; data (n_bytes, which must match the shape and type) is
 * referenced, not copied, and must live until the file is written. */
aq_error aq_gguf_writer_add_tensor(aq_gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                                   const int64_t *ne, const void *data, uint64_t n_bytes);
/* Writes with alignment 32. */
aq_error aq_gguf_writer_write_file(const aq_gguf_writer *w, const char *path);

#endif
