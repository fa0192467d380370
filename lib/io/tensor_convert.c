#include "tensor_convert.h"

#include <string.h>

#include "f16.h"
#include "gguf.h"
#include "quant.h"

void aq_tensor_to_f32(uint32_t type, const void *data, size_t count, float *out) {
    const unsigned char *bytes = data;
    /* Block formats are dequantized a block at a time: copied first, as the data may be unaligned. */
    if (type == AQ_TENSOR_Q4_0 || type == AQ_TENSOR_Q8_0) {
        for (size_t b = 0; b < count / AQ_QK8_0; b++) {
            if (type == AQ_TENSOR_Q4_0) {
                block_q4_0 blk;
                memcpy(&blk, bytes + b * sizeof blk, sizeof blk);
                aq_q4_0_dequantize_ref(&blk, AQ_QK4_0, out + b * AQ_QK4_0);
            } else {
                block_q8_0 blk;
                memcpy(&blk, bytes + b * sizeof blk, sizeof blk);
                aq_q8_0_dequantize_ref(&blk, AQ_QK8_0, out + b * AQ_QK8_0);
            }
        }
        return;
    }
    for (size_t i = 0; i < count; i++) {
        uint16_t h;
        switch (type) {
        case AQ_TENSOR_F32: memcpy(&out[i], bytes + i * 4, 4); break;
        case AQ_TENSOR_F16: memcpy(&h, bytes + i * 2, 2); out[i] = aq_fp16_to_fp32(h); break;
        case AQ_TENSOR_BF16: memcpy(&h, bytes + i * 2, 2); out[i] = aq_bf16_to_fp32(h); break;
        default: out[i] = 0.0f; break;
        }
    }
}
