/* f16-f16-dot.c - dot product of two F16 rows (reference), in the 16-lane order
 * specified in quant.h. */
#include "f16.h"
#include "quant.h"

#define LANES 16

float aq_f16_f16_dot_ref(size_t n, const uint16_t *x, const uint16_t *y) {
    float lane[LANES] = {0};
    for (size_t i = 0; i < n; i++) {
        /* Exact: 11-bit significands, product within float's normal range. */
        const float product = aq_fp16_to_fp32(x[i]) * aq_fp16_to_fp32(y[i]);
        lane[i % LANES] = lane[i % LANES] + product;
    }
    /* The fixed halving tree: lanes l and l + w for w = 8, 4, 2, 1. */
    for (size_t width = LANES / 2; width > 0; width /= 2) {
        for (size_t l = 0; l < width; l++) {
            lane[l] = lane[l] + lane[l + width];
        }
    }
    return lane[0];
}
