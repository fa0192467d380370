/* block-types.h - the llama.cpp weight types we run, as one table: for each, its
 * block geometry, a dequantizer, the activation type llama.cpp's CPU backend pairs
 * it with (its type_traits' vec_dot_type) and the dot product of one weight row with
 * one activation row of that type. The reference kernels behind it (quant.h) are the
 * portable fallback and the answer key of SIMD twins. F32 has its own path and is
 * not in the table.
 *
 * Alignment: weight rows need only 2-byte alignment (GGUF tensors hold blocks of
 * 18, 20, 22, ... bytes); activation rows need 4-byte alignment for Q8_K (a malloc'd
 * buffer with rows of aq_act_row_bytes() each keeps it). */
#ifndef AQ_KERNELS_REF_BLOCK_TYPES_H
#define AQ_KERNELS_REF_BLOCK_TYPES_H

#include <stddef.h>
#include <stdint.h>

/* Type ids as ggml and GGUF number them (equal to lib/io/gguf.h's AQ_TENSOR_*; the
 * kernels sit below lib/io and cannot include it, tests check they agree). */
enum {
    AQ_GGML_F16 = 1,
    AQ_GGML_Q4_0 = 2,
    AQ_GGML_Q4_1 = 3,
    AQ_GGML_Q5_0 = 6,
    AQ_GGML_Q5_1 = 7,
    AQ_GGML_Q8_0 = 8,
    AQ_GGML_Q8_1 = 9,
    AQ_GGML_Q2_K = 10,
    AQ_GGML_Q3_K = 11,
    AQ_GGML_Q4_K = 12,
    AQ_GGML_Q5_K = 13,
    AQ_GGML_Q6_K = 14,
    AQ_GGML_Q8_K = 15,
    AQ_GGML_IQ4_NL = 20,
    AQ_GGML_IQ4_XS = 23,
    AQ_GGML_BF16 = 30,
};

typedef struct aq_block_type {
    uint32_t type;      /* GGUF type id (AQ_GGML_*, = AQ_TENSOR_*) */
    const char *name;   /* llama.cpp's name: "q4_K", "iq4_nl", ... */
    size_t block_elems; /* elements per block: 32, 256, or 1 for F16/BF16 */
    size_t block_bytes;
    uint32_t act_type; /* the activation type its dot product reads (Q8_0, Q8_1, Q8_K, F16, BF16) */
    void (*dequantize)(const void *blocks, size_t n, float *out);         /* n a multiple of block_elems */
    float (*dot)(size_t n, const void *w_blocks, const void *act_blocks); /* one weight row . one activation row */
} aq_block_type;

/* The entry of a weight type: F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K..Q6_K,
 * IQ4_NL, IQ4_XS. NULL for any other type, including F32 (its own path) and the
 * activation-only Q8_1 and Q8_K. */
const aq_block_type *aq_block_type_get(uint32_t type);

/* The activation side: n floats (a multiple of the act type's block: 32 for Q8_0 and
 * Q8_1, 256 for Q8_K, any n for F16/BF16) into blocks of act_type, as llama.cpp's
 * reference quantizers round them (quant.h). An act_type other than Q8_0, Q8_1,
 * Q8_K, F16, BF16 writes nothing. */
void aq_act_quantize_ref(uint32_t act_type, const float *x, size_t n, void *blocks);

/* Bytes of a row of n activations of act_type; 0 for a type that is not one. */
size_t aq_act_row_bytes(uint32_t act_type, size_t n);

/* The values a row of activation blocks stands for (n as above): what the dot
 * products multiply, except that Q8_1's minimum term reads s = f16(d * sum q).
 * An act_type that is not one writes nothing. */
void aq_act_dequantize_ref(uint32_t act_type, const void *blocks, size_t n, float *out);

#endif /* AQ_KERNELS_REF_BLOCK_TYPES_H */
