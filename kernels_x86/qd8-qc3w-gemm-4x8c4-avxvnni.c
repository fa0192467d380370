/* qd8-qc3w-gemm-4x8c4-avxvnni.c - INT8 activations x 3-bit weights with AVX-VNNI
 * (the VEX-encoded 256-bit VPDPBUSD of Alder Lake / Zen 5): up to 4 activation rows
 * x 8 weight rows per register tile, 4 k per int32 lane, the layout of the AVX2
 * tile (aq_qc3w_packw_8c4, unpacked by qc3w-unpack-avx2.h). VPDPBUSD adds the four
 * u8 code x s8 activation products of a lane straight into int32: exact, no int16
 * stage. Bit-exact twin of aq_qd8_qc3w_gemm_ref; the outer loop is
 * lib/kernels/qd8-qc4w-gemm-loop.c. */
#include <immintrin.h>

#include "qc3w-unpack-avx2.h"
#include "qc4w-packw.h"
#include "qd8-qc3w-gemm-loop.h"
#include "qd8-tile-avx2.h"

#define MR 4
#define NR AQ_QC3W_NR

/* with_c: some token of the tile has za != 0, so the code sums C are needed. */
AQ_TILE_INLINE void tile_body(size_t mr, const struct aq_qc4w_tile *t, bool with_c, bool group_scales) {
    const size_t group = t->group;
    const __m256i ones = _mm256_set1_epi8(1);
    const uint8_t *block = t->w;
    __m256 acc[MR];
    for (size_t i = 0; i < mr; i++) aq_avx2_acc_start(&acc[i], 1, t, i);
    for (size_t g = 0; g < t->groups; g++, block += t->block_bytes) {
        const __m256 wscale = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)block));
        const uint8_t *sub = block + NR * sizeof(uint16_t);
        __m256i isum[MR];
        for (size_t i = 0; i < mr; i++)
            isum[i] = _mm256_set1_epi32(aq_qc3w_symmetric_start(t->a_term[i * t->groups + g]));
        __m256i csum = _mm256_setzero_si256();
        const int8_t *a_group = t->a + (t->g0 + g) * group;
        for (size_t b = 0; b < group / AQ_QC3W_SUB; b++, sub += AQ_QC3W_SUB_BYTES) {
            __m256i w[8];
            aq_qc3w_unpack_avx2(sub, w);
            if (with_c)
                for (size_t s = 0; s < 8; s++) csum = _mm256_dpbusd_avx_epi32(csum, w[s], ones);
            const int8_t *a_sub = a_group + b * AQ_QC3W_SUB;
            for (size_t i = 0; i < mr; i++) {
                const int8_t *qa = a_sub + i * t->k;
                for (size_t s = 0; s < 8; s++)
                    isum[i] = _mm256_dpbusd_avx_epi32(isum[i], w[s], _mm256_set1_epi32(aq_load_i32(qa + 4 * s)));
            }
        }
        for (size_t i = 0; i < mr; i++)
            aq_avx2_group_end(&acc[i], t, i, g, wscale, isum[i], csum, with_c, group_scales);
    }
    for (size_t i = 0; i < mr; i++) aq_avx2_acc_store(t, i, &acc[i], 1);
}

AQ_QC4W_TILE_WITH_C_AND_SCALES(tile, tile_body)

AQ_QD8_QC3W_GEMM_DEFINE(aq_qd8_qc3w_gemm_4x8c4__avxvnni, MR, NR, tile)
