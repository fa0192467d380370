/* qd8-qc4w-common.h - what the three qd8 x qc4w GEMM kernels share: the per-token
 * correction pairs and the block geometry of the NRc4 layout (kernels_x86.h).
 * Plain C, static inline. Internal. */
#ifndef AQ_QD8_QC4W_COMMON_H
#define AQ_QD8_QC4W_COMMON_H

#include <stdint.h>
#include <string.h>

#include "quant.h"

/* Register tile height: activation rows per pass over a weight tile. */
#define AQ_QC4W_MR 4
/* Groups whose token pairs are computed at once: bounds the stack buffer
 * (AQ_QC4W_MR * 512 * 4 bytes = 8 KiB). Longer rows are done in chunks, the float
 * accumulators going through out between chunks (an exact store and reload). */
#define AQ_QC4W_GROUP_CHUNK 512

/* pairs[t * chunk + (g - g0)] for tokens t < mr (rows a_rows[t]) and groups
 * [g0, g0 + chunk): low 16 bits -A (A = sum of the group's qa), high 16 bits -za,
 * so that VPMADDWD with the weight pair (zw, wsum) gives -zw*A - za*wsum. |A| <=
 * 128 * 128 and |za| <= 32767 fit int16. */
static inline void aq_qc4w_token_pairs(size_t mr, const int8_t *const *a_rows, const int32_t *za, size_t group,
                                       size_t g0, size_t chunk, int32_t *pairs) {
    for (size_t t = 0; t < mr; t++) {
        for (size_t g = 0; g < chunk; g++) {
            const int8_t *q = a_rows[t] + (g0 + g) * group;
            int32_t sum = 0;
            for (size_t e = 0; e < group; e++) sum += q[e];
            const uint32_t p = (uint32_t) (uint16_t) (-sum) | (uint32_t) (uint16_t) (-za[t]) << 16;
            pairs[t * chunk + g] = (int32_t) p;
        }
    }
}

/* Target size of a block of packed weight rows (kept in L2 across token tiles). */
#define AQ_QC4W_BLOCK_BYTES (256 * 1024)

/* Rows per block: a multiple of nr, at least nr. */
static inline size_t aq_qc4w_rows_per_block(size_t bytes_per_row, size_t nr) {
    const size_t rows = AQ_QC4W_BLOCK_BYTES / bytes_per_row / nr * nr;
    return rows > nr ? rows : nr;
}

static inline int32_t aq_load_i32(const void *p) {
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

#endif /* AQ_QD8_QC4W_COMMON_H */
