/* qc4w-packw.c - repacks aq_q4w weights into the 8-row tile layouts of the NEON
 * qd8 x qc4w kernels (qc4w-packw.h): the metadata is the same for all, the code
 * order is each kernel's. Plain C, done once per model. */
#include "qc4w-packw.h"

#include "qd8-qc4w-gemm-loop.h"
#include "ukernels.h"

/* Raw code of element e of row r; 0 for the padding rows past n_rows. */
static inline uint8_t aq_neon_code(const struct aq_q4w *w, size_t r, size_t e) {
    if (r >= w->n_rows) return 0;
    const uint8_t byte = w->q[r * (w->k / 2) + e / 2];
    return (e & 1) ? (uint8_t)(byte >> 4) : (uint8_t)(byte & 0x0F);
}

/* Code of element e of row r minus 8, as a 4-bit two's complement nibble (code XOR 8):
 * the signed layout of the SDOT and SMMLA tiles (qc4w-packw.h). */
static inline uint8_t aq_neon_signed_code(const struct aq_q4w *w, size_t r, size_t e) {
    return (uint8_t)(aq_neon_code(w, r, e) ^ 8);
}

/* Writes the metadata of (tile, group g) at dst; returns the bytes written. */
static inline size_t aq_neon_pack_meta(const struct aq_q4w *w, size_t tile, size_t g, uint8_t *dst) {
    const size_t groups = w->k / w->group;
    uint16_t scale[AQ_NEON_NR];
    uint8_t zero[AQ_NEON_NR];
    for (size_t j = 0; j < AQ_NEON_NR; j++) {
        const size_t r = tile * AQ_NEON_NR + j;
        const size_t gi = r * groups + g;
        scale[j] = r < w->n_rows ? w->scale[gi] : 0;
        zero[j] = r < w->n_rows && w->zero != NULL ? w->zero[gi] : 0;
    }
    memcpy(dst, scale, sizeof scale);
    if (w->zero == NULL) return sizeof scale;
    memcpy(dst + sizeof scale, zero, sizeof zero);
    return sizeof scale + sizeof zero;
}

size_t aq_qc4w_packw_8c4_neon_size(const struct aq_q4w *w) { return aq_qc4w_packed_bytes(w, AQ_NEON_NR); }
size_t aq_qc4w_packw_8c16_neon_size(const struct aq_q4w *w) { return aq_qc4w_packed_bytes(w, AQ_NEON_NR); }
size_t aq_qc4w_packw_8c8_neon_size(const struct aq_q4w *w) { return aq_qc4w_packed_bytes(w, AQ_NEON_NR); }

/* For aq_qd8_qc4w_gemm_4x8c4__neondot (SDOT by lane): per group, per 4 consecutive
 * k, 16 bytes; byte 4j + i holds row j (0..3) at k + i in its low nibble and row
 * j + 4 in its high nibble, signed (code - 8). */
void aq_qc4w_packw_8c4_neon(const struct aq_q4w *w, void *packed) {
    const size_t groups = w->k / w->group;
    const size_t tiles = (w->n_rows + AQ_NEON_NR - 1) / AQ_NEON_NR;
    uint8_t *dst = packed;
    for (size_t t = 0; t < tiles; t++) {
        for (size_t g = 0; g < groups; g++) {
            dst += aq_neon_pack_meta(w, t, g, dst);
            for (size_t k4 = g * w->group; k4 < (g + 1) * w->group; k4 += 4) {
                for (size_t j = 0; j < 4; j++) {
                    for (size_t i = 0; i < 4; i++) {
                        const size_t r = t * AQ_NEON_NR + j;
                        *dst++ =
                            (uint8_t)(aq_neon_signed_code(w, r, k4 + i) | (aq_neon_signed_code(w, r + 4, k4 + i) << 4));
                    }
                }
            }
        }
    }
}

/* For aq_qd8_qc4w_gemm_2x8c16__neon (SMLAL): per group, per 16 consecutive k, four
 * 16-byte blocks, one per row pair p = (2p, 2p + 1); byte i holds row 2p at k + i
 * in its low nibble and row 2p + 1 in its high nibble. */
void aq_qc4w_packw_8c16_neon(const struct aq_q4w *w, void *packed) {
    const size_t groups = w->k / w->group;
    const size_t tiles = (w->n_rows + AQ_NEON_NR - 1) / AQ_NEON_NR;
    uint8_t *dst = packed;
    for (size_t t = 0; t < tiles; t++) {
        for (size_t g = 0; g < groups; g++) {
            dst += aq_neon_pack_meta(w, t, g, dst);
            for (size_t k16 = g * w->group; k16 < (g + 1) * w->group; k16 += 16) {
                for (size_t p = 0; p < AQ_NEON_NR / 2; p++) {
                    const size_t r = t * AQ_NEON_NR + 2 * p;
                    for (size_t i = 0; i < 16; i++) {
                        *dst++ = (uint8_t)(aq_neon_code(w, r, k16 + i) | (aq_neon_code(w, r + 1, k16 + i) << 4));
                    }
                }
            }
        }
    }
}

/* For aq_qd8_qc4w_gemm_8x8c8__i8mm (SMMLA): per group, per 16 consecutive k, four
 * 16-byte blocks, one per row pair p = (2p, 2p + 1); byte 8j + i holds row 2p + j
 * at k + i in its low nibble and at k + 8 + i in its high nibble: the low nibbles
 * are SMMLA's 2 x 8 weight operand of k..k+7, the high ones that of k+8..k+15;
 * signed (code - 8). */
void aq_qc4w_packw_8c8_neon(const struct aq_q4w *w, void *packed) {
    const size_t groups = w->k / w->group;
    const size_t tiles = (w->n_rows + AQ_NEON_NR - 1) / AQ_NEON_NR;
    uint8_t *dst = packed;
    for (size_t t = 0; t < tiles; t++) {
        for (size_t g = 0; g < groups; g++) {
            dst += aq_neon_pack_meta(w, t, g, dst);
            for (size_t k16 = g * w->group; k16 < (g + 1) * w->group; k16 += 16) {
                for (size_t p = 0; p < AQ_NEON_NR / 2; p++) {
                    for (size_t j = 0; j < 2; j++) {
                        const size_t r = t * AQ_NEON_NR + 2 * p + j;
                        for (size_t i = 0; i < 8; i++) {
                            *dst++ = (uint8_t)(aq_neon_signed_code(w, r, k16 + i) |
                                               (aq_neon_signed_code(w, r, k16 + 8 + i) << 4));
                        }
                    }
                }
            }
        }
    }
}
