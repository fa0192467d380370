/* qc4w-packw.c - repacks aq_q4w weights into the "NRc4" tile layout of the x86
 * qd8 x qc4w kernels (qc4w-packw.h). Plain C, done once per model. */
#include <string.h>

#include "qc4w-packw.h"
#include "qd8-qc4w-gemm-loop.h"
#include "ukernels.h"

static int code_at(const struct aq_q4w *w, size_t r, size_t e) {
    const uint8_t byte = w->q[r * (w->k / 2) + e / 2];
    return (e & 1) ? byte >> 4 : byte & 0x0F;
}

static void pack(const struct aq_q4w *w, size_t nr, void *packed) {
    const size_t group = w->group, groups = w->k / group;
    const size_t tiles = (w->n_rows + nr - 1) / nr;
    const size_t meta = aq_qc4w_meta_bytes(w->zero != NULL);
    uint8_t *dst = packed;
    /* Padding rows are all zero (scale +0, zero point 0, codes 0): they compute 0
     * and are never stored. */
    memset(dst, 0, aq_qc4w_packed_bytes(w, nr));
    for (size_t tile = 0; tile < tiles; tile++) {
        for (size_t g = 0; g < groups; g++) {
            uint8_t *scale = dst, *zero = dst + nr * sizeof(uint16_t), *q = dst + nr * meta;
            for (size_t j = 0; j < nr; j++) {
                const size_t r = tile * nr + j;
                if (r >= w->n_rows) break;
                const size_t gi = r * groups + g;
                memcpy(scale + j * sizeof(uint16_t), &w->scale[gi], sizeof(uint16_t));
                if (w->zero) zero[j] = w->zero[gi];
                for (size_t p8 = 0; p8 < group / 8; p8++) {
                    for (size_t c = 0; c < 4; c++) {
                        const size_t e = g * group + 8 * p8 + c;
                        q[(p8 * nr + j) * 4 + c] = (uint8_t)(code_at(w, r, e) | code_at(w, r, e + 4) << 4);
                    }
                }
            }
            dst += nr * (meta + group / 2);
        }
    }
}

size_t aq_qc4w_packw_8c4_x86_size(const struct aq_q4w *w) { return aq_qc4w_packed_bytes(w, 8); }
void aq_qc4w_packw_8c4_x86(const struct aq_q4w *w, void *packed) { pack(w, 8, packed); }
size_t aq_qc4w_packw_16c4_x86_size(const struct aq_q4w *w) { return aq_qc4w_packed_bytes(w, 16); }
void aq_qc4w_packw_16c4_x86(const struct aq_q4w *w, void *packed) { pack(w, 16, packed); }
