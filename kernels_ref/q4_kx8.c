/* q4_kx8.c - the repacked Q4_K and Q5_K layouts (q4_kx8.h): their packers and
 * their reference GEMMs, which read the layouts back element by element and do
 * the integer sums and float operations of aq_q4_k_q8_k_dot_ref /
 * aq_q5_k_q8_k_dot_ref in their order. One body serves both: Q5_K is Q4_K plus
 * the fifth bits (qh). */
#include "q4_kx8.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "block-unpack.h"
#include "f16.h"

/* Byte offsets of a group's fields, and of a source row's, per type. */
struct kx8_fields {
    size_t block_bytes, qh, qs;       /* the packed super-block */
    size_t src_bytes, src_qh, src_qs; /* the file's block */
    bool has_qh;
};

static const struct kx8_fields q4_k_fields = {.block_bytes = sizeof(block_q4_Kx8),
                                              .qs = offsetof(block_q4_Kx8, qs),
                                              .src_bytes = sizeof(block_q4_K),
                                              .src_qs = offsetof(block_q4_K, qs)};
static const struct kx8_fields q5_k_fields = {.block_bytes = sizeof(block_q5_Kx8),
                                              .qh = offsetof(block_q5_Kx8, qh),
                                              .qs = offsetof(block_q5_Kx8, qs),
                                              .src_bytes = sizeof(block_q5_K),
                                              .src_qh = offsetof(block_q5_K, qh),
                                              .src_qs = offsetof(block_q5_K, qs),
                                              .has_qh = true};

/* 64 values of 6 bits into 48 bytes (layout in q4_kx8.h). */
static void put_6bit(const uint8_t v[64], uint8_t out[48]) {
    for (size_t i = 0; i < 32; i++) out[i] = (uint8_t)((v[i] & 0x0F) | (v[32 + i] & 0x0F) << 4);
    for (size_t i = 0; i < 16; i++) {
        uint8_t high = 0;
        for (size_t f = 0; f < 4; f++) high |= (uint8_t)((v[16 * f + i] >> 4) << (2 * f));
        out[32 + i] = high;
    }
}

static int32_t get_6bit(const uint8_t in[48], size_t v) {
    const int32_t low = (in[v % 32] >> (4 * (v / 32))) & 0x0F;
    const int32_t high = (in[32 + v % 16] >> (2 * (v / 16))) & 3;
    return low | high << 4;
}

static void pack(const struct kx8_fields *f, size_t n_rows, size_t n_blocks, const void *w, size_t w_row_bytes,
                 void *out) {
    for (size_t g = 0; g < n_rows / AQ_X8_ROWS; g++)
        for (size_t b = 0; b < n_blocks; b++) {
            uint8_t *x = (uint8_t *)out + (g * n_blocks + b) * f->block_bytes;
            uint8_t scales[64], mins[64];
            for (size_t r = 0; r < AQ_X8_ROWS; r++) {
                /* Rows of a GGUF file are only 2-byte aligned: bytes, never the struct in place. */
                const uint8_t *src = (const uint8_t *)w + (g * AQ_X8_ROWS + r) * w_row_bytes + b * f->src_bytes;
                memcpy(x + 2 * r, src, 2);                    /* d */
                memcpy(x + 2 * (AQ_X8_ROWS + r), src + 2, 2); /* dmin */
                for (size_t k = 0; k < AQ_QK_K / 32; k++) {
                    int32_t scale, min;
                    aq_q4_k_scale_min(src + 4, k, &scale, &min);
                    scales[aq_kx8_sm_index(k, r)] = (uint8_t)scale;
                    mins[aq_kx8_sm_index(k, r)] = (uint8_t)min;
                }
                for (size_t c = 0; c < 4; c++)
                    for (size_t j = 0; j < 8; j++)
                        memcpy(x + f->qs + 256 * c + 32 * j + 4 * r, src + f->src_qs + 32 * c + 4 * j, 4);
                if (f->has_qh)
                    for (size_t j = 0; j < 8; j++) memcpy(x + f->qh + 32 * j + 4 * r, src + f->src_qh + 4 * j, 4);
            }
            put_6bit(scales, x + 4 * AQ_X8_ROWS);
            put_6bit(mins, x + 4 * AQ_X8_ROWS + 48);
        }
}

void aq_q4_kx8_pack_ref(size_t n_rows, size_t n_blocks, const void *w, size_t w_row_bytes, void *out) {
    pack(&q4_k_fields, n_rows, n_blocks, w, w_row_bytes, out);
}

void aq_q5_kx8_pack_ref(size_t n_rows, size_t n_blocks, const void *w, size_t w_row_bytes, void *out) {
    pack(&q5_k_fields, n_rows, n_blocks, w, w_row_bytes, out);
}

static void gemm(const struct kx8_fields *f, size_t m, size_t n_begin, size_t n_end, size_t k, const void *w,
                 size_t w_row_bytes, const void *a, size_t a_row_bytes, float *out, size_t out_stride) {
    const size_t n_blocks = k / AQ_QK_K;
    for (size_t t = 0; t < m; t++) {
        const block_q8_K *y = (const block_q8_K *)((const uint8_t *)a + t * a_row_bytes);
        for (size_t g = n_begin / AQ_X8_ROWS; g < n_end / AQ_X8_ROWS; g++) {
            const uint8_t *group = (const uint8_t *)w + g * AQ_X8_ROWS * w_row_bytes;
            for (size_t r = 0; r < AQ_X8_ROWS; r++) {
                float sumf = 0.0f;
                for (size_t b = 0; b < n_blocks; b++) {
                    const uint8_t *x = group + b * f->block_bytes;
                    const uint8_t *sm = x + 4 * AQ_X8_ROWS;
                    int32_t isum = 0, msum = 0;
                    for (size_t sub = 0; sub < AQ_QK_K / 32; sub++) {
                        const size_t c = sub / 2;
                        const unsigned shift = 4 * (unsigned)(sub % 2);
                        int32_t s = 0;
                        for (size_t l = 0; l < 32; l++) {
                            const size_t at = 32 * (l / 4) + 4 * r + l % 4;
                            int32_t level = (x[f->qs + 256 * c + at] >> shift) & 0x0F;
                            if (f->has_qh) level |= ((x[f->qh + at] >> sub) & 1) << 4;
                            s += level * y[b].qs[32 * sub + l];
                        }
                        isum += get_6bit(sm, aq_kx8_sm_index(sub, r)) * s;
                        msum += get_6bit(sm + 48, aq_kx8_sm_index(sub, r)) *
                                (y[b].bsums[2 * sub] + y[b].bsums[2 * sub + 1]);
                    }
                    uint16_t d, dmin;
                    memcpy(&d, x + 2 * r, sizeof d);
                    memcpy(&dmin, x + 2 * (AQ_X8_ROWS + r), sizeof dmin);
                    /* Separate statements, as in the reference dot: no fused multiply-add. */
                    const float scale_all = aq_fp16_to_fp32(d) * y[b].d;
                    const float scale_min = aq_fp16_to_fp32(dmin) * y[b].d;
                    const float scaled = scale_all * (float)isum;
                    const float offset = scale_min * (float)msum;
                    const float term = scaled - offset;
                    sumf = sumf + term;
                }
                out[t * out_stride + g * AQ_X8_ROWS + r] = sumf;
            }
        }
    }
}

void aq_q4_kx8_q8_k_gemm_ref(size_t m, size_t n_begin, size_t n_end, size_t k, const void *w, size_t w_row_bytes,
                             const void *a, size_t a_row_bytes, float *out, size_t out_stride) {
    gemm(&q4_k_fields, m, n_begin, n_end, k, w, w_row_bytes, a, a_row_bytes, out, out_stride);
}

void aq_q5_kx8_q8_k_gemm_ref(size_t m, size_t n_begin, size_t n_end, size_t k, const void *w, size_t w_row_bytes,
                             const void *a, size_t a_row_bytes, float *out, size_t out_stride) {
    gemm(&q5_k_fields, m, n_begin, n_end, k, w, w_row_bytes, a, a_row_bytes, out, out_stride);
}
