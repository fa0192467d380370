#include "tensor_convert.h"

#include <string.h>

#include "block-types.h"
#include "gguf.h"

void aq_tensor_to_f32(uint32_t type, const void *data, size_t count, float *out) {
    if (type == AQ_TENSOR_F32) {
        memcpy(out, data, count * sizeof(float)); /* the data may be unaligned */
        return;
    }
    const aq_block_type *bt = aq_block_type_get(type);
    if (bt)
        bt->dequantize(data, count, out);
    else
        memset(out, 0, count * sizeof(float));
}
