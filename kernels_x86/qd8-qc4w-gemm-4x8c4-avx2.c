/* qd8-qc4w-gemm-4x8c4-avx2.c - INT8 activations x INT4 weights with AVX2: up to 4
 * activation rows x 8 weight rows per register tile, 4 k per int32 lane, weights
 * packed by aq_qc4w_packw_8c4. Bit-exact twin of aq_qd8_qc4w_gemm_ref.
 *
 * VPMADDUBSW (u8 codes x s8 activations) adds pairs of products into int16 with
 * saturation, which never triggers here: |code * qa| <= 15 * 128, so a pair is at
 * most 3840, and 8 such results summed with VPADDW stay below 30720 < 32767. So
 * 8 VPMADDUBSW share one VPMADDWD (x 1) that widens to int32: exact. */
#include <immintrin.h>

#include "kernels_x86.h"
#include "qd8-qc4w-common.h"

#define NR 8

static inline __attribute__((always_inline)) void tile(size_t mr, const int8_t *const *a_rows,
                                                       const float *a_scale, const int32_t *pairs,
                                                       const uint8_t *block, size_t group, size_t g0,
                                                       size_t chunk, bool first, size_t nr, float *out,
                                                       size_t out_stride) {
    const size_t block_bytes = NR * 4 + NR * 2 + NR * group / 2;
    const __m256i low_nibbles = _mm256_set1_epi8(0x0F);
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[AQ_QC4W_MR];
    for (size_t t = 0; t < mr; t++) {
        if (first) {
            acc[t] = _mm256_setzero_ps();
        } else {
            float tmp[NR] = {0};
            for (size_t j = 0; j < nr; j++) tmp[j] = out[t * out_stride + j];
            acc[t] = _mm256_loadu_ps(tmp);
        }
    }
    for (size_t g = 0; g < chunk; g++, block += block_bytes) {
        const __m256i wpair = _mm256_loadu_si256((const __m256i *) block);
        const __m256 wscale = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *) (block + NR * 4)));
        const uint8_t *q = block + NR * 6;
        __m256i isum[AQ_QC4W_MR];
        for (size_t t = 0; t < mr; t++)
            isum[t] = _mm256_madd_epi16(wpair, _mm256_set1_epi32(pairs[t * chunk + g]));
        const size_t e0 = (g0 + g) * group;
        /* group / 8 is 4, 8 or 16 packed vectors: 8 int16 products per flush. */
        for (size_t p0 = 0; p0 < group / 8; p0 += 4) {
            __m256i s16[AQ_QC4W_MR];
            for (size_t t = 0; t < mr; t++) s16[t] = _mm256_setzero_si256();
            for (size_t p = p0; p < p0 + 4; p++) {
                const __m256i packed = _mm256_loadu_si256((const __m256i *) (q + p * NR * 4));
                const __m256i w_lo = _mm256_and_si256(packed, low_nibbles);
                const __m256i w_hi = _mm256_and_si256(_mm256_srli_epi16(packed, 4), low_nibbles);
                for (size_t t = 0; t < mr; t++) {
                    const int8_t *qa = a_rows[t] + e0 + 8 * p;
                    s16[t] = _mm256_add_epi16(s16[t],
                                              _mm256_maddubs_epi16(w_lo, _mm256_set1_epi32(aq_load_i32(qa))));
                    s16[t] = _mm256_add_epi16(
                        s16[t], _mm256_maddubs_epi16(w_hi, _mm256_set1_epi32(aq_load_i32(qa + 4))));
                }
            }
            for (size_t t = 0; t < mr; t++) isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(s16[t], ones));
        }
        for (size_t t = 0; t < mr; t++) {
            const __m256 group_scale = _mm256_mul_ps(wscale, _mm256_set1_ps(a_scale[t]));
            acc[t] = _mm256_fmadd_ps(group_scale, _mm256_cvtepi32_ps(isum[t]), acc[t]);
        }
    }
    for (size_t t = 0; t < mr; t++) {
        if (nr == NR) {
            _mm256_storeu_ps(out + t * out_stride, acc[t]);
        } else {
            float tmp[NR];
            _mm256_storeu_ps(tmp, acc[t]);
            for (size_t j = 0; j < nr; j++) out[t * out_stride + j] = tmp[j];
        }
    }
}

void aq_qd8_qc4w_gemm_4x8c4__avx2(size_t m, size_t n_begin, size_t n_end, const struct aq_qd8 *a,
                                  const struct aq_q4w *w, const void *packed, float *out, size_t out_stride) {
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
                    const uint8_t *block = (const uint8_t *) packed + ((n0 / NR) * groups + g0) * block_bytes;
                    float *o = out + t0 * out_stride + n0;
                    const float *s = a->scale + t0;
                    switch (mr) {
                    case 4: tile(4, a_rows, s, pairs, block, group, g0, chunk, g0 == 0, nr, o, out_stride); break;
                    case 3: tile(3, a_rows, s, pairs, block, group, g0, chunk, g0 == 0, nr, o, out_stride); break;
                    case 2: tile(2, a_rows, s, pairs, block, group, g0, chunk, g0 == 0, nr, o, out_stride); break;
                    default: tile(1, a_rows, s, pairs, block, group, g0, chunk, g0 == 0, nr, o, out_stride); break;
                    }
                }
            }
        }
    }
}
