/* qc4w-packw.c - repacks aq_q4w weights into the "NRc4" tile layout of the x86
 * qd8 x qc4w kernels (qc4w-packw.h). Plain C, done once per model. */
#include <string.h>

#include "qc4w-packw.h"
#include "ukernels.h"

static size_t block_bytes(size_t nr, size_t group) { return nr * (AQ_X86_QC4W_META + group / 2); }

static size_t packed_size(const struct aq_q4w *w, size_t nr) {
    const size_t tiles = (w->n_rows + nr - 1) / nr;
    return tiles * (w->k / w->group) * block_bytes(nr, w->group);
}

static int code_at(const struct aq_q4w *w, size_t r, size_t e) {
    const uint8_t byte = w->q[r * (w->k / 2) + e / 2];
    return (e & 1) ? byte >> 4 : byte & 0x0F;
}

static void pack(const struct aq_q4w *w, size_t nr, void *packed) {
    const size_t group = w->group, groups = w->k / group;
    const size_t tiles = (w->n_rows + nr - 1) / nr;
    uint8_t *dst = packed;
    /* Padding rows are all zero (zw 0, wsum 0, scale +0, codes 0): they compute 0
     * and are never stored. */
    memset(dst, 0, packed_size(w, nr));
    for (size_t tile = 0; tile < tiles; tile++) {
        for (size_t g = 0; g < groups; g++) {
            uint8_t *pair = dst, *scale = dst + nr * sizeof(int32_t), *q = scale + nr * sizeof(uint16_t);
            for (size_t j = 0; j < nr; j++) {
                const size_t r = tile * nr + j;
                if (r >= w->n_rows) break;
                const size_t gi = r * groups + g;
                const int32_t zw = w->zero ? w->zero[gi] : AQ_Q4W_SYMMETRIC_ZERO;
                int32_t wsum = 0;
                for (size_t e = g * group; e < (g + 1) * group; e++) wsum += code_at(w, r, e) - zw;
                /* Both fit int16: zw <= 15, |wsum| <= 15 * 128. */
                const uint32_t p = (uint32_t)(uint16_t)zw | (uint32_t)(uint16_t)wsum << 16;
                memcpy(pair + j * sizeof p, &p, sizeof p);
                memcpy(scale + j * sizeof(uint16_t), &w->scale[gi], sizeof(uint16_t));
                for (size_t p8 = 0; p8 < group / 8; p8++) {
                    for (size_t c = 0; c < 4; c++) {
                        const size_t e = g * group + 8 * p8 + c;
                        q[(p8 * nr + j) * 4 + c] = (uint8_t)(code_at(w, r, e) | code_at(w, r, e + 4) << 4);
                    }
                }
            }
            dst += block_bytes(nr, group);
        }
    }
}

size_t aq_qc4w_packw_8c4_x86_size(const struct aq_q4w *w) { return packed_size(w, 8); }
void aq_qc4w_packw_8c4_x86(const struct aq_q4w *w, void *packed) { pack(w, 8, packed); }
size_t aq_qc4w_packw_16c4_x86_size(const struct aq_q4w *w) { return packed_size(w, 16); }
void aq_qc4w_packw_16c4_x86(const struct aq_q4w *w, void *packed) { pack(w, 16, packed); }
