/* qd8-qc4w-gemm-4x16c4-avx512vnni.c - INT8 activations x INT4 weights with
 * AVX-512 VNNI: up to 4 activation rows x 16 weight rows per register tile, 4 k per
 * int32 lane (VPDPBUSD), weights packed by aq_qc4w_packw_16c4. Bit-exact twin of
 * aq_qd8_qc4w_gemm_ref: exact int32 group sums, then per group, in order,
 * acc = fma(f32(scale_w) * a_scale, (float) isum, acc). */
#include <immintrin.h>

#include "kernels_x86.h"
#include "qd8-qc4w-common.h"

#define NR 16

/* One 16-row weight tile, groups [g0, g0 + chunk), for mr (compile-time constant
 * after inlining) activation rows. first: start from 0, else continue from out. */
static inline __attribute__((always_inline)) void tile(size_t mr, const int8_t *const *a_rows,
                                                       const float *a_scale, const int32_t *pairs,
                                                       const uint8_t *block, size_t group, size_t g0,
                                                       size_t chunk, bool first, __mmask16 store_mask,
                                                       float *out, size_t out_stride) {
    const size_t block_bytes = NR * 4 + NR * 2 + NR * group / 2;
    const __m512i low_nibbles = _mm512_set1_epi8(0x0F);
    __m512 acc[AQ_QC4W_MR];
    for (size_t t = 0; t < mr; t++)
        acc[t] = first ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(store_mask, out + t * out_stride);
    for (size_t g = 0; g < chunk; g++, block += block_bytes) {
        const __m512i wpair = _mm512_loadu_si512(block);
        /* f16 -> f32 is exact, as is the reference's aq_fp16_to_fp32. */
        const __m512 wscale = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *) (block + NR * 4)));
        const uint8_t *q = block + NR * 6;
        __m512i isum[AQ_QC4W_MR];
        /* The zero-point correction -zw*A - za*wsum starts the sum (exact int32). */
        for (size_t t = 0; t < mr; t++)
            isum[t] = _mm512_madd_epi16(wpair, _mm512_set1_epi32(pairs[t * chunk + g]));
        const size_t e0 = (g0 + g) * group;
        for (size_t p = 0; p < group / 8; p++) {
            const __m512i packed = _mm512_loadu_si512(q + p * NR * 4);
            const __m512i w_lo = _mm512_and_si512(packed, low_nibbles);
            const __m512i w_hi = _mm512_and_si512(_mm512_srli_epi16(packed, 4), low_nibbles);
            for (size_t t = 0; t < mr; t++) {
                const int8_t *qa = a_rows[t] + e0 + 8 * p;
                isum[t] = _mm512_dpbusd_epi32(isum[t], w_lo, _mm512_set1_epi32(aq_load_i32(qa)));
                isum[t] = _mm512_dpbusd_epi32(isum[t], w_hi, _mm512_set1_epi32(aq_load_i32(qa + 4)));
            }
        }
        for (size_t t = 0; t < mr; t++) {
            /* The reference's two roundings: the scale product, then the fma. */
            const __m512 group_scale = _mm512_mul_ps(wscale, _mm512_set1_ps(a_scale[t]));
            acc[t] = _mm512_fmadd_ps(group_scale, _mm512_cvtepi32_ps(isum[t]), acc[t]);
        }
    }
    for (size_t t = 0; t < mr; t++) _mm512_mask_storeu_ps(out + t * out_stride, store_mask, acc[t]);
}

void aq_qd8_qc4w_gemm_4x16c4__avx512vnni(size_t m, size_t n_begin, size_t n_end, const struct aq_qd8 *a,
                                         const struct aq_q4w *w, const void *packed, float *out,
                                         size_t out_stride) {
    const size_t k = w->k, group = w->group, groups = k / group;
    const size_t block_bytes = NR * 4 + NR * 2 + NR * group / 2;
    int32_t pairs[AQ_QC4W_MR * AQ_QC4W_GROUP_CHUNK];
    /* Rows in blocks of about AQ_QC4W_BLOCK_BYTES of packed weights, so that for
     * m > 4 the block stays in L2 while every activation tile passes over it. */
    const size_t rows_per_block = aq_qc4w_rows_per_block(groups * block_bytes / NR, NR);
    for (size_t nb0 = n_begin; nb0 < n_end; nb0 += rows_per_block) {
        const size_t nb1 = n_end - nb0 < rows_per_block ? n_end : nb0 + rows_per_block;
        for (size_t t0 = 0; t0 < m; t0 += AQ_QC4W_MR) {
            const size_t mr = m - t0 < AQ_QC4W_MR ? m - t0 : AQ_QC4W_MR;
            const int8_t *a_rows[AQ_QC4W_MR];
            for (size_t t = 0; t < mr; t++) a_rows[t] = a->q + (t0 + t) * k;
            for (size_t g0 = 0; g0 < groups; g0 += AQ_QC4W_GROUP_CHUNK) {
                const size_t chunk = groups - g0 < AQ_QC4W_GROUP_CHUNK ? groups - g0 : AQ_QC4W_GROUP_CHUNK;
                aq_qc4w_token_pairs(mr, a_rows, a->zero + t0, group, g0, chunk, pairs);
                for (size_t n0 = nb0; n0 < nb1; n0 += NR) {
                    const size_t nr = nb1 - n0 < NR ? nb1 - n0 : NR;
                    const __mmask16 mask = (__mmask16) ((1u << nr) - 1u);
                    const uint8_t *block = (const uint8_t *) packed + ((n0 / NR) * groups + g0) * block_bytes;
                    float *o = out + t0 * out_stride + n0;
                    const float *s = a->scale + t0;
                    /* Constant mr per call, so each gets its own fully unrolled body. */
                    switch (mr) {
                    case 4: tile(4, a_rows, s, pairs, block, group, g0, chunk, g0 == 0, mask, o, out_stride); break;
                    case 3: tile(3, a_rows, s, pairs, block, group, g0, chunk, g0 == 0, mask, o, out_stride); break;
                    case 2: tile(2, a_rows, s, pairs, block, group, g0, chunk, g0 == 0, mask, o, out_stride); break;
                    default: tile(1, a_rows, s, pairs, block, group, g0, chunk, g0 == 0, mask, o, out_stride); break;
                    }
                }
            }
        }
    }
}
