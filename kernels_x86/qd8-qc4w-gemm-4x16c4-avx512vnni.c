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

/* with_c: some token of the tile has za != 0, so the code sums C are needed. */
AQ_TILE_INLINE void tile_body(size_t mr, const struct aq_qc4w_tile *t, bool with_c, bool group_scales) {
    const size_t group = t->group, codes_at = NR * aq_qc4w_meta_bytes(t->asym);
    const __m512i low_nibbles = _mm512_set1_epi8(0x0F);
    const __m512i ones = _mm512_set1_epi8(1);
    const __mmask16 mask = (__mmask16)((1u << t->nr) - 1u);
    const uint8_t *block = t->w;
    __m512 acc[MR];
    for (size_t i = 0; i < mr; i++)
        acc[i] = t->accumulate ? _mm512_maskz_loadu_ps(mask, t->out + i * t->out_stride) : _mm512_setzero_ps();
    for (size_t g = 0; g < t->groups; g++, block += t->block_bytes) {
        /* f16 -> f32 is exact, as is the reference's aq_fp16_to_fp32. */
        const __m512 wscale = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)block));
        const uint8_t *q = block + codes_at;
        __m512i isum[MR];
        /* The sum starts from -zw * T (exact modulo 2^32, as every step below). */
        if (t->asym) {
            const __m512i zw = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(block + NR * 2)));
            for (size_t i = 0; i < mr; i++)
                isum[i] = _mm512_mullo_epi32(zw, _mm512_set1_epi32(aq_qc4w_negate(t->a_term[i * t->groups + g])));
        } else {
            for (size_t i = 0; i < mr; i++)
                isum[i] = _mm512_set1_epi32(aq_qc4w_symmetric_start(t->a_term[i * t->groups + g]));
        }
        __m512i csum = _mm512_setzero_si512();
        const int8_t *a_group = t->a + (t->g0 + g) * group;
        for (size_t p = 0; p < group / 8; p++) {
            const __m512i packed = _mm512_loadu_si512(q + p * NR * 4);
            const __m512i w_lo = _mm512_and_si512(packed, low_nibbles);
            const __m512i w_hi = _mm512_and_si512(_mm512_srli_epi16(packed, 4), low_nibbles);
            if (with_c) csum = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(csum, w_lo, ones), w_hi, ones);
            for (size_t i = 0; i < mr; i++) {
                const int8_t *qa = a_group + i * t->k + 8 * p;
                isum[i] = _mm512_dpbusd_epi32(isum[i], w_lo, _mm512_set1_epi32(aq_load_i32(qa)));
                isum[i] = _mm512_dpbusd_epi32(isum[i], w_hi, _mm512_set1_epi32(aq_load_i32(qa + 4)));
            }
        }
        for (size_t i = 0; i < mr; i++) {
            if (with_c) isum[i] = _mm512_sub_epi32(isum[i], _mm512_mullo_epi32(csum, _mm512_set1_epi32(t->a_zero[i])));
            /* The reference's two roundings: the scale product, then the fma. */
            const __m512 group_scale = _mm512_mul_ps(wscale, _mm512_set1_ps(aq_qc4w_a_scale(t, i, g, group_scales)));
            acc[i] = _mm512_fmadd_ps(group_scale, _mm512_cvtepi32_ps(isum[i]), acc[i]);
        }
    }
    for (size_t i = 0; i < mr; i++) _mm512_mask_storeu_ps(t->out + i * t->out_stride, mask, acc[i]);
}

AQ_QC4W_TILE_WITH_C_AND_SCALES(tile, tile_body)

AQ_QD8_QC4W_GEMM_DEFINE(aq_qd8_qc4w_gemm_4x16c4__avx512vnni, MR, NR, tile)
