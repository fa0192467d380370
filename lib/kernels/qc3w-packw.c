/* qc3w-packw.c - repacks 3-bit aq_q4w weights (codes 4..11, kernels_ref/quant.h)
 * into the "8c4" layout of the qd8 x qc3w kernels (qd8-qc3w-gemm-loop.h), the same
 * bytes for x86 and NEON. Plain C, done once per model. */
#include <string.h>

#include "qd8-qc3w-gemm-loop.h"
#include "ukernels.h"

/* The 3-bit code of element e of row r (its nibble - 4; a nibble outside 4..11,
 * which the loader and the quantizer never leave, wraps into 0..7). */
static unsigned code3(const struct aq_q4w *w, size_t r, size_t e) {
    const uint8_t byte = w->q[r * (w->k / 2) + e / 2];
    return ((unsigned)((e & 1) ? byte >> 4 : byte & 0x0F) - AQ_Q3W_CODE_MIN) & 7u;
}

size_t aq_qc3w_packw_8c4_size(const struct aq_q4w *w) { return aq_qc3w_packed_bytes(w, AQ_QC3W_NR); }

void aq_qc3w_packw_8c4(const struct aq_q4w *w, void *packed) {
    const size_t nr = AQ_QC3W_NR, group = w->group, groups = w->k / group;
    const size_t tiles = (w->n_rows + nr - 1) / nr;
    uint8_t *dst = packed;
    /* Padding rows stay all zero: scale +0 and code 0. */
    memset(dst, 0, aq_qc3w_packed_bytes(w, nr));
    for (size_t tile = 0; tile < tiles; tile++) {
        for (size_t g = 0; g < groups; g++) {
            uint8_t *sub = dst + nr * sizeof(uint16_t);
            for (size_t j = 0; j < nr; j++) {
                const size_t r = tile * nr + j;
                if (r >= w->n_rows) break;
                memcpy(dst + j * sizeof(uint16_t), &w->scale[r * groups + g], sizeof(uint16_t));
                for (size_t b = 0; b < group / AQ_QC3W_SUB; b++) {
                    uint8_t *low = sub + b * AQ_QC3W_SUB_BYTES, *high = low + 64;
                    for (size_t s = 0; s < 8; s++) {
                        for (size_t c = 0; c < 4; c++) {
                            const unsigned code = code3(w, r, g * group + b * AQ_QC3W_SUB + 4 * s + c);
                            low[(s / 4) * 32 + 4 * j + c] |= (uint8_t)((code & 3u) << (2 * (s % 4)));
                            high[4 * j + c] |= (uint8_t)((code >> 2) << s);
                        }
                    }
                }
            }
            dst += nr * (sizeof(uint16_t) + 3 * group / 8);
        }
    }
}
