#include "tensor_convert.h"

#include <string.h>

#include "f16.h"
#include "gguf.h"

void aq_tensor_to_f32(uint32_t type, const void *data, size_t count, float *out) {
    const unsigned char *bytes = data;
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
