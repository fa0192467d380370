/* qd8-qc4w-gemm-4x16c4-avx512vnni.c - INT8 activations x INT4 weights with
 * AVX-512 VNNI: up to 4 activation rows x 16 weight rows per register tile, 4 k per
 * int32 lane (VPDPBUSD), weights packed by aq_qc4w_packw_16c4_x86. Bit-exact twin
 * of aq_qd8_qc4w_gemm_ref: exact int32 group sums, then per group, in order,
 * acc = fma(f32(scale_w) * a_scale, (float) isum, acc). The outer loop is
 * lib/kernels/qd8-qc4w-gemm-loop.c. */
#include <immintrin.h>

#include "qc4w-packw.h"
#include "qd8-qc4w-gemm-loop.h"

#define MR 4
#define NR 16

AQ_TILE_INLINE void tile(size_t mr, const struct aq_qc4w_tile *t) {
    const size_t group = t->group, block_bytes = NR * (AQ_X86_QC4W_META + group / 2);
    const __m512i low_nibbles = _mm512_set1_epi8(0x0F);
    const __mmask16 mask = (__mmask16)((1u << t->nr) - 1u);
    const uint8_t *block = t->w;
    __m512 acc[MR];
    for (size_t i = 0; i < mr; i++)
        acc[i] = t->accumulate ? _mm512_maskz_loadu_ps(mask, t->out + i * t->out_stride) : _mm512_setzero_ps();
    for (size_t g = 0; g < t->groups; g++, block += block_bytes) {
        const __m512i wpair = _mm512_loadu_si512(block);
        /* f16 -> f32 is exact, as is the reference's aq_fp16_to_fp32. */
        const __m512 wscale = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(block + NR * 4)));
        const uint8_t *q = block + NR * AQ_X86_QC4W_META;
        __m512i isum[MR];
        /* The zero-point correction -zw*A - za*wsum starts the sum (exact int32). */
        for (size_t i = 0; i < mr; i++) {
            const int32_t pair = aq_x86_token_pair(t->a_sum[i * t->groups + g], t->a_zero[i]);
            isum[i] = _mm512_madd_epi16(wpair, _mm512_set1_epi32(pair));
        }
        const int8_t *a_group = t->a + (t->g0 + g) * group;
        for (size_t p = 0; p < group / 8; p++) {
            const __m512i packed = _mm512_loadu_si512(q + p * NR * 4);
            const __m512i w_lo = _mm512_and_si512(packed, low_nibbles);
            const __m512i w_hi = _mm512_and_si512(_mm512_srli_epi16(packed, 4), low_nibbles);
            for (size_t i = 0; i < mr; i++) {
                const int8_t *qa = a_group + i * t->k + 8 * p;
                isum[i] = _mm512_dpbusd_epi32(isum[i], w_lo, _mm512_set1_epi32(aq_load_i32(qa)));
                isum[i] = _mm512_dpbusd_epi32(isum[i], w_hi, _mm512_set1_epi32(aq_load_i32(qa + 4)));
            }
        }
        for (size_t i = 0; i < mr; i++) {
            /* The reference's two roundings: the scale product, then the fma. */
            const __m512 group_scale = _mm512_mul_ps(wscale, _mm512_set1_ps(t->a_scale[i]));
            acc[i] = _mm512_fmadd_ps(group_scale, _mm512_cvtepi32_ps(isum[i]), acc[i]);
        }
    }
    for (size_t i = 0; i < mr; i++) _mm512_mask_storeu_ps(t->out + i * t->out_stride, mask, acc[i]);
}

AQ_QD8_QC4W_GEMM_DEFINE(aq_qd8_qc4w_gemm_4x16c4__avx512vnni, MR, NR, AQ_X86_QC4W_META, tile)
