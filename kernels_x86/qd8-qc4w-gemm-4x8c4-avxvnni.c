/* qd8-qc4w-gemm-4x8c4-avxvnni.c - INT8 activations x INT4 weights with AVX-VNNI
 * (the VEX-encoded 256-bit VPDPBUSD of Alder Lake / Zen 5): up to 4 activation rows
 * x 8 weight rows per register tile, 4 k per int32 lane, the same packed layout as
 * the AVX2 kernel (aq_qc4w_packw_8c4_x86). Bit-exact twin of aq_qd8_qc4w_gemm_ref;
 * the outer loop is lib/kernels/qd8-qc4w-gemm-loop.c. */
#include <immintrin.h>

#include "qc4w-packw.h"
#include "qd8-qc4w-gemm-loop.h"
#include "qd8-tile-avx2.h"

#define MR 4
#define NR 8

/* with_c: some token of the tile has za != 0, so the code sums C are needed. */
AQ_TILE_INLINE void tile_body(size_t mr, const struct aq_qc4w_tile *t, bool with_c, bool group_scales) {
    const size_t group = t->group, codes_at = NR * aq_qc4w_meta_bytes(t->asym);
    const __m256i low_nibbles = _mm256_set1_epi8(0x0F);
    const __m256i ones = _mm256_set1_epi8(1);
    const uint8_t *block = t->w;
    __m256 acc[MR];
    for (size_t i = 0; i < mr; i++) aq_avx2_acc_start(&acc[i], 1, t, i);
    for (size_t g = 0; g < t->groups; g++, block += t->block_bytes) {
        const __m256 wscale = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)block));
        const uint8_t *q = block + codes_at;
        __m256i isum[MR];
        aq_avx2_qc4w_start(isum, mr, 1, t, block, g);
        __m256i csum = _mm256_setzero_si256();
        const int8_t *a_group = t->a + (t->g0 + g) * group;
        for (size_t p = 0; p < group / 8; p++) {
            const __m256i packed = _mm256_loadu_si256((const __m256i *)(q + p * NR * 4));
            const __m256i w_lo = _mm256_and_si256(packed, low_nibbles);
            const __m256i w_hi = _mm256_and_si256(_mm256_srli_epi16(packed, 4), low_nibbles);
            if (with_c) csum = _mm256_dpbusd_avx_epi32(_mm256_dpbusd_avx_epi32(csum, w_lo, ones), w_hi, ones);
            for (size_t i = 0; i < mr; i++) {
                const int8_t *qa = a_group + i * t->k + 8 * p;
                isum[i] = _mm256_dpbusd_avx_epi32(isum[i], w_lo, _mm256_set1_epi32(aq_load_i32(qa)));
                isum[i] = _mm256_dpbusd_avx_epi32(isum[i], w_hi, _mm256_set1_epi32(aq_load_i32(qa + 4)));
            }
        }
        for (size_t i = 0; i < mr; i++)
            aq_avx2_group_end(&acc[i], t, i, g, wscale, isum[i], csum, with_c, group_scales);
    }
    for (size_t i = 0; i < mr; i++) aq_avx2_acc_store(t, i, &acc[i], 1);
}

AQ_QC4W_TILE_WITH_C_AND_SCALES(tile, tile_body)

AQ_QD8_QC4W_GEMM_DEFINE(aq_qd8_qc4w_gemm_4x8c4__avxvnni, MR, NR, tile)
