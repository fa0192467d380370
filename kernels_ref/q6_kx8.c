/* q6_kx8.c - the repacked Q6_K layout (q6_kx8.h): its packer and its reference
 * GEMM, which reads the layout back element by element and does the integer sums
 * and float operations of aq_q6_k_q8_k_dot_ref in its order. */
#include "q6_kx8.h"

#include <string.h>

#include "f16.h"

/* Where element e of row r lives in the layout: its ql byte and nibble shift,
 * its qh byte and bit shift. */
struct x8_place {
    size_t ql, qh;
    unsigned ql_shift, qh_shift;
};

static struct x8_place place(size_t r, size_t e) {
    const size_t j = e / 32, quad = e % 32 / 4, n = e % 4;
    const size_t u = quad % 4, v = quad / 4, s = quad % 4;
    return (struct x8_place){.ql = 32 * (4 * j + u) + 4 * r + n,
                             .qh = 32 * (2 * j + v) + 4 * r + n,
                             .ql_shift = 4 * (unsigned)v,
                             .qh_shift = 2 * (unsigned)s};
}

static uint32_t load32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Unit j of a row comes from one half h = j / 4 and one quarter q = j % 4 of the
 * source (aq_q6_k_dequantize_ref's walk): element l of the unit is the nibble
 * 4 (q / 2) of ql[64 h + 32 (q % 2) + l] and bits 2 q of qh[32 h + l]. A quad's
 * 4 bytes at a time, each byte's bits kept in its byte by the masks (so on either
 * byte order): the model packs every Q6_K matrix at load. */
void aq_q6_kx8_pack_ref(size_t n_rows, size_t n_blocks, const void *w, size_t w_row_bytes, void *out) {
    block_q6_Kx8 *dst = out;
    for (size_t g = 0; g < n_rows / AQ_X8_ROWS; g++)
        for (size_t b = 0; b < n_blocks; b++) {
            block_q6_Kx8 *x = &dst[g * n_blocks + b];
            for (size_t r = 0; r < AQ_X8_ROWS; r++) {
                block_q6_K src;
                /* Rows of a GGUF file are only 2-byte aligned. */
                memcpy(&src, (const uint8_t *)w + (g * AQ_X8_ROWS + r) * w_row_bytes + b * sizeof src, sizeof src);
                x->d[r] = src.d;
                for (size_t k = 0; k < AQ_QK_K / 16; k++) x->scales[AQ_X8_ROWS * k + r] = src.scales[k];
                for (size_t j = 0; j < AQ_QK_K / 32; j++) {
                    const size_t h = j / 4, q = j % 4;
                    const uint8_t *ql = src.ql + 64 * h + 32 * (q % 2), *qh = src.qh + 32 * h;
                    const unsigned ql_shift = 4 * (unsigned)(q / 2), qh_shift = 2 * (unsigned)q;
                    for (size_t u = 0; u < 4; u++) {
                        const uint32_t lo = (load32(ql + 4 * u) >> ql_shift) & 0x0F0F0F0Fu;
                        const uint32_t hi = (load32(ql + 16 + 4 * u) >> ql_shift) & 0x0F0F0F0Fu;
                        const uint32_t v = lo | hi << 4;
                        memcpy(&x->ql[32 * (4 * j + u) + 4 * r], &v, sizeof v);
                    }
                    for (size_t v = 0; v < 2; v++) {
                        uint32_t bits = 0;
                        for (size_t s = 0; s < 4; s++)
                            bits |= ((load32(qh + 16 * v + 4 * s) >> qh_shift) & 0x03030303u) << (2 * s);
                        memcpy(&x->qh[32 * (2 * j + v) + 4 * r], &bits, sizeof bits);
                    }
                }
            }
        }
}

void aq_q6_kx8_q8_k_gemm_ref(size_t m, size_t n_begin, size_t n_end, size_t k, const void *w, size_t w_row_bytes,
                             const void *a, size_t a_row_bytes, float *out, size_t out_stride) {
    const size_t n_blocks = k / AQ_QK_K;
    for (size_t t = 0; t < m; t++) {
        const block_q8_K *y = (const block_q8_K *)((const uint8_t *)a + t * a_row_bytes);
        for (size_t g = n_begin / AQ_X8_ROWS; g < n_end / AQ_X8_ROWS; g++) {
            const block_q6_Kx8 *x = (const block_q6_Kx8 *)((const uint8_t *)w + g * AQ_X8_ROWS * w_row_bytes);
            for (size_t r = 0; r < AQ_X8_ROWS; r++) {
                float sumf = 0.0f;
                for (size_t b = 0; b < n_blocks; b++) {
                    int32_t sub[AQ_QK_K / 16] = {0};
                    for (size_t e = 0; e < AQ_QK_K; e++) {
                        const struct x8_place p = place(r, e);
                        const int32_t code =
                            ((x[b].ql[p.ql] >> p.ql_shift) & 0x0F) | ((x[b].qh[p.qh] >> p.qh_shift) & 3) << 4;
                        sub[e / 16] += (code - 32) * y[b].qs[e];
                    }
                    int32_t isum = 0;
                    for (size_t s = 0; s < AQ_QK_K / 16; s++) isum += (int32_t)x[b].scales[AQ_X8_ROWS * s + r] * sub[s];
                    /* Separate statements, as in the reference dot: no fused multiply-add. */
                    const float scale = aq_fp16_to_fp32(x[b].d[r]) * y[b].d;
                    const float term = scale * (float)isum;
                    sumf = sumf + term;
                }
                out[t * out_stride + g * AQ_X8_ROWS + r] = sumf;
            }
        }
    }
}
