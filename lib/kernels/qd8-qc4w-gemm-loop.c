/* qd8-qc4w-gemm-loop.c - the outer loop of the qd8 x qc4w GEMM kernels (see
 * qd8-qc4w-gemm-loop.h). Plain C: the ISA code is all in the micro-tiles. */
#include "qd8-qc4w-gemm-loop.h"

#include <string.h>

#include "qd8-qc3w-gemm-loop.h"

/* Activation rows per tile, at most (the largest MR AQ_TILE_FOR_MR instantiates). */
#define MR_LIMIT 8

/* a_term[t * chunk + g] = sum of row t's codes over group g0 + g, minus group * za,
 * for rows t < mr (modulo 2^32, so that no za overflows; the kernels' int32 lanes
 * wrap the same way). The sums come from a->sum32 when the caller computed them
 * (once per input, where this loop would sum every activation tile's codes again
 * for each block of weight rows: 4% of a W4A8 prefill's samples), else from the
 * codes. */
static void activation_terms(size_t mr, const struct aq_qd8 *a, size_t t0, size_t group, size_t g0, size_t chunk,
                             int32_t *a_term) {
    const size_t k = a->k;
    for (size_t t = 0; t < mr; t++) {
        const uint32_t zero_sum = (uint32_t)group * (uint32_t)a->zero[t0 + t];
        for (size_t g = 0; g < chunk; g++) {
            int32_t sum = 0;
            if (a->sum32 && group % 32 == 0) {
                const int32_t *s = a->sum32 + (t0 + t) * (k / 32) + (g0 + g) * (group / 32);
                for (size_t r = 0; r < group / 32; r++) sum += s[r];
            } else {
                const int8_t *q = a->q + (t0 + t) * k + (g0 + g) * group;
                for (size_t e = 0; e < group; e++) sum += q[e];
            }
            a_term[t * chunk + g] = (int32_t)((uint32_t)sum - zero_sum);
        }
    }
}

/* t->a_pairs of the tile's mr rows and the chunk's kc elements from k0
 * (qd8-qc4w-gemm-loop.h); kc is a multiple of 16. */
static void pair_tokens(size_t mr, const int8_t *a, size_t k, size_t k0, size_t kc, int8_t *pairs) {
    const size_t n_pairs = (mr + 1) / 2;
    for (size_t q = 0; q < n_pairs; q++) {
        const int8_t *first = a + 2 * q * k + k0, *second = a + (2 * q + 1 < mr ? 2 * q + 1 : 2 * q) * k + k0;
        for (size_t e = 0; e < kc; e += 16) {
            int8_t *o = pairs + 2 * e * n_pairs + 32 * q;
            memcpy(o, first + e, 8);
            memcpy(o + 8, second + e, 8);
            memcpy(o + 16, first + e + 8, 8);
            memcpy(o + 24, second + e + 8, 8);
        }
    }
}

size_t aq_qc4w_packed_bytes(const struct aq_q4w *w, size_t nr) {
    const size_t tiles = (w->n_rows + nr - 1) / nr;
    return tiles * (w->k / w->group) * nr * (aq_qc4w_meta_bytes(w->zero != NULL) + w->group / 2);
}

/* The loop of both layouts: block_bytes per tile and group (qc4w or qc3w);
 * pairs: NULL, or room for the tiles' a_pairs (MR_LIMIT * AQ_QC4W_PAIRED_K). */
static void gemm_loop(size_t mr_max, size_t nr, aq_qc4w_tile_fn token_tile, aq_qc4w_tile_fn group_tile, size_t m,
                      size_t n_begin, size_t n_end, const struct aq_qd8 *a, const struct aq_q4w *w, const void *packed,
                      float *out, size_t out_stride, size_t block_bytes, int8_t *pairs) {
    const size_t k = w->k, group = w->group, groups = k / group;
    const bool asym = w->zero != NULL;
    int32_t a_term[MR_LIMIT * AQ_QC4W_GROUP_CHUNK];
    size_t chunk_max = AQ_QC4W_GROUP_CHUNK;
    if (pairs && chunk_max * group > AQ_QC4W_PAIRED_K) chunk_max = AQ_QC4W_PAIRED_K / group;
    /* Group-wise activation scales (a->group, a multiple of the weight group): the
     * group tile reads each weight group's scale from chunk_scale, a row of at most
     * MR_LIMIT per group of the chunk. */
    const aq_qc4w_tile_fn tile = a->group ? group_tile : token_tile;
    float chunk_scale[MR_LIMIT * AQ_QC4W_GROUP_CHUNK];
    /* Rows per block of about AQ_QC4W_BLOCK_BYTES: a multiple of nr, at least nr. */
    size_t rows_per_block = AQ_QC4W_BLOCK_BYTES / (groups * block_bytes / nr) / nr * nr;
    if (rows_per_block < nr) rows_per_block = nr;
    if (mr_max > MR_LIMIT) mr_max = MR_LIMIT;
    for (size_t nb0 = n_begin; nb0 < n_end; nb0 += rows_per_block) {
        const size_t nb1 = n_end - nb0 < rows_per_block ? n_end : nb0 + rows_per_block;
        for (size_t t0 = 0; t0 < m; t0 += mr_max) {
            const size_t mr = m - t0 < mr_max ? m - t0 : mr_max;
            bool za_any = false;
            for (size_t i = 0; i < mr; i++) za_any = za_any || a->zero[t0 + i] != 0;
            struct aq_qc4w_tile t = {
                .a = a->q + t0 * k,
                .k = k,
                .a_scale = a->scale + t0,
                .a_scale_stride = 1,
                .a_zero = a->zero + t0,
                .za_any = za_any,
                .a_term = a_term,
                .block_bytes = block_bytes,
                .asym = asym,
                .group = group,
                .out_stride = out_stride,
            };
            for (size_t g0 = 0; g0 < groups; g0 += chunk_max) {
                const size_t chunk = groups - g0 < chunk_max ? groups - g0 : chunk_max;
                /* Groups of 32, no za and the whole row in one chunk: T is the sum
                 * itself, and sum32's rows are laid out as a_term's, so the tiles
                 * read it in place. */
                if (a->sum32 && group == 32 && !za_any && chunk * group == k) {
                    t.a_term = a->sum32 + t0 * chunk;
                } else {
                    activation_terms(mr, a, t0, group, g0, chunk, a_term);
                    t.a_term = a_term;
                }
                if (a->group) {
                    /* Group by group, the tokens' scales in a row of mr rounded up to
                     * even, an odd mr's last token twice: a paired tile loads a token
                     * pair's two with one load (the last, odd token paired with itself). */
                    const size_t stride = mr + mr % 2, scales_per_row = k / a->group;
                    for (size_t g = 0; g < chunk; g++) {
                        const float *scale = a->scale + t0 * scales_per_row + (g0 + g) * group / a->group;
                        for (size_t i = 0; i < stride; i++)
                            chunk_scale[g * stride + i] = scale[(i < mr ? i : mr - 1) * scales_per_row];
                    }
                    t.a_scale = chunk_scale;
                    t.a_scale_stride = stride;
                }
                if (pairs) {
                    pair_tokens(mr, t.a, k, g0 * group, chunk * group, pairs);
                    t.a_pairs = pairs;
                }
                t.g0 = g0;
                t.groups = chunk;
                t.accumulate = g0 > 0;
                for (size_t n0 = nb0; n0 < nb1; n0 += nr) {
                    t.nr = nb1 - n0 < nr ? nb1 - n0 : nr;
                    t.w = (const uint8_t *)packed + ((n0 / nr) * groups + g0) * block_bytes;
                    t.out = out + t0 * out_stride + n0;
                    tile(mr, &t);
                }
            }
        }
    }
}

void aq_qd8_qc4w_gemm_loop(size_t mr_max, size_t nr, aq_qc4w_tile_fn token_tile, aq_qc4w_tile_fn group_tile, size_t m,
                           size_t n_begin, size_t n_end, const struct aq_qd8 *a, const struct aq_q4w *w,
                           const void *packed, float *out, size_t out_stride) {
    const size_t block_bytes = nr * (aq_qc4w_meta_bytes(w->zero != NULL) + w->group / 2);
    gemm_loop(mr_max, nr, token_tile, group_tile, m, n_begin, n_end, a, w, packed, out, out_stride, block_bytes, NULL);
}

void aq_qd8_qc4w_gemm_loop_paired(size_t mr_max, size_t nr, aq_qc4w_tile_fn token_tile, aq_qc4w_tile_fn group_tile,
                                  size_t m, size_t n_begin, size_t n_end, const struct aq_qd8 *a,
                                  const struct aq_q4w *w, const void *packed, float *out, size_t out_stride) {
    const size_t block_bytes = nr * (aq_qc4w_meta_bytes(w->zero != NULL) + w->group / 2);
    int8_t pairs[MR_LIMIT * AQ_QC4W_PAIRED_K];
    gemm_loop(mr_max, nr, token_tile, group_tile, m, n_begin, n_end, a, w, packed, out, out_stride, block_bytes, pairs);
}

size_t aq_qc3w_packed_bytes(const struct aq_q4w *w, size_t nr) {
    const size_t tiles = (w->n_rows + nr - 1) / nr;
    return tiles * (w->k / w->group) * nr * (sizeof(uint16_t) + 3 * w->group / 8);
}

void aq_qd8_qc3w_gemm_loop(size_t mr_max, size_t nr, aq_qc4w_tile_fn token_tile, aq_qc4w_tile_fn group_tile, size_t m,
                           size_t n_begin, size_t n_end, const struct aq_qd8 *a, const struct aq_q4w *w,
                           const void *packed, float *out, size_t out_stride) {
    const size_t block_bytes = nr * (sizeof(uint16_t) + 3 * w->group / 8);
    gemm_loop(mr_max, nr, token_tile, group_tile, m, n_begin, n_end, a, w, packed, out, out_stride, block_bytes, NULL);
}
