/* Checks that a tensor of llama.cpp's formats read from a file has no
 * infinite or NaN scale, reading only the scales: the f16 fields of each
 * block (ggml-common.h's layouts), or every value of an F16 / BF16 tensor. */
#include <string.h>

#include "model.h"

typedef struct scale_fields {
    uint32_t type;
    size_t offset; /* of the first f16 scale in the block */
    size_t count;  /* consecutive f16 scales */
} scale_fields;

static const scale_fields k_scale_fields[] = {
    {AQ_TENSOR_Q4_0, 0, 1}, {AQ_TENSOR_Q4_1, 0, 2},   {AQ_TENSOR_Q5_0, 0, 1},   {AQ_TENSOR_Q5_1, 0, 2},
    {AQ_TENSOR_Q8_0, 0, 1}, {AQ_TENSOR_Q2_K, 80, 2},  {AQ_TENSOR_Q3_K, 108, 1}, {AQ_TENSOR_Q4_K, 0, 2},
    {AQ_TENSOR_Q5_K, 0, 2}, {AQ_TENSOR_Q6_K, 208, 1}, {AQ_TENSOR_IQ4_NL, 0, 1}, {AQ_TENSOR_IQ4_XS, 0, 1},
    {AQ_TENSOR_F16, 0, 1},
};

static bool f16_finite(uint16_t h) { return (h & 0x7C00u) != 0x7C00u; }
static bool bf16_finite(uint16_t h) { return (h & 0x7F80u) != 0x7F80u; }

bool aq_blocks_finite(const aq_block_type *bt, const void *data, size_t n) {
    const uint8_t *bytes = data;
    size_t blocks = n / bt->block_elems;
    uint16_t h;
    if (bt->type == AQ_TENSOR_BF16) {
        for (size_t i = 0; i < n; i++) {
            memcpy(&h, bytes + 2 * i, 2);
            if (!bf16_finite(h)) return false;
        }
        return true;
    }
    for (size_t t = 0; t < sizeof k_scale_fields / sizeof k_scale_fields[0]; t++) {
        const scale_fields *f = &k_scale_fields[t];
        if (f->type != bt->type) continue;
        for (size_t b = 0; b < blocks; b++) {
            for (size_t j = 0; j < f->count; j++) {
                memcpy(&h, bytes + b * bt->block_bytes + f->offset + 2 * j, 2);
                if (!f16_finite(h)) return false;
            }
        }
        return true;
    }
    return true; /* a type without f16 scales */
}
