/* block-unpack.h - the packed fields of llama.cpp's block formats that more than
 * one kernel reads (a dequantizer and a dot product): the 6-bit sub-block scales
 * of Q3_K, Q4_K / Q5_K and IQ4_XS, Q5_0 / Q5_1's fifth bits, and the IQ4 levels.
 * Layouts are described in quant.h. Private to kernels_ref. */
#ifndef AQ_KERNELS_REF_BLOCK_UNPACK_H
#define AQ_KERNELS_REF_BLOCK_UNPACK_H

#include <stddef.h>
#include <stdint.h>

#include "quant.h"

static const int8_t aq_iq4_nl_values[16] = AQ_IQ4_NL_VALUES_INIT;

/* Q5_0 / Q5_1: qh as the little-endian uint32 whose bit i is bit 4 of element i.
 * Assembled from bytes: the field sits at an offset that is only 2-byte aligned. */
static inline uint32_t aq_q5_high_bits(const uint8_t qh[4]) {
    return (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 | (uint32_t)qh[3] << 24;
}

/* Q3_K: the 6-bit scale s_k (0..63) of sub-block k (0..15); the weight's scale is
 * s_k - 32. */
static inline int32_t aq_q3_k_scale(const uint8_t scales[AQ_K_SCALE_SIZE], size_t k) {
    const uint32_t low = k < 8 ? scales[k] & 0x0Fu : (uint32_t)scales[k - 8] >> 4;
    const uint32_t high = ((uint32_t)scales[8 + k % 4] >> (2 * (k / 4))) & 3u;
    return (int32_t)(low | high << 4);
}

/* Q4_K / Q5_K: the 6-bit scale and min (0..63) of sub-block k (0..7). */
static inline void aq_q4_k_scale_min(const uint8_t scales[AQ_K_SCALE_SIZE], size_t k, int32_t *scale, int32_t *min) {
    if (k < 4) {
        *scale = scales[k] & 63;
        *min = scales[k + 4] & 63;
    } else {
        *scale = (scales[k + 4] & 0x0F) | (scales[k - 4] >> 6) << 4;
        *min = (scales[k + 4] >> 4) | (scales[k] >> 6) << 4;
    }
}

/* IQ4_XS: the 6-bit scale ls_k (0..63) of sub-block k (0..7); the weight's scale
 * is ls_k - 32. */
static inline int32_t aq_iq4_xs_scale(const block_iq4_xs *block, size_t k) {
    const uint32_t low = ((uint32_t)block->scales_l[k / 2] >> (4 * (k % 2))) & 0x0Fu;
    const uint32_t high = ((uint32_t)block->scales_h >> (2 * k)) & 3u;
    return (int32_t)(low | high << 4);
}

#endif /* AQ_KERNELS_REF_BLOCK_UNPACK_H */
