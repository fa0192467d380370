/* qd8-qc4w-gemm-4x16c4-avx2.c - INT8 activations x INT4 weights with AVX2, 16 weight
 * rows per tile in two ymm registers: up to 4 activation rows x 16 weight rows, 4 k
 * per int32 lane, in the 16-row layout of the AVX-512 kernel (aq_qc4w_packw_16c4_x86),
 * so each 4-byte activation broadcast feeds 16 rows. Bit-exact twin of
 * aq_qd8_qc4w_gemm_ref; the outer loop is lib/kernels/qd8-qc4w-gemm-loop.c.
 *
 * Exactness as in the 4x8c4 AVX2 kernel: VPMADDUBSW (u8 codes x s8 activations)
 * gives int16 pairs of at most 15 * 128 * 2 = 3840 in magnitude; the low- and
 * high-nibble pairs are added (7680 < 32767, no saturation) and widened by one
 * VPMADDWD with ones into the int32 sums at each step. The code sums (codes x bytes
 * of 1) stay below 960 in int16 over a group of 128: one VPMADDWD per group. */
#include <immintrin.h>

#include "qc4w-packw.h"
#include "qd8-qc4w-gemm-loop.h"
#include "qd8-tile-avx2.h"

#define MR 4
#define NR 16

/* with_c: some token of the tile has za != 0, so the code sums C are needed. */
AQ_TILE_INLINE void tile_body(size_t mr, const struct aq_qc4w_tile *t, bool with_c) {
    const size_t group = t->group, codes_at = NR * aq_qc4w_meta_bytes(t->asym);
    const __m256i low_nibbles = _mm256_set1_epi8(0x0F);
    const __m256i ones = _mm256_set1_epi16(1);
    const __m256i one_bytes = _mm256_set1_epi8(1);
    const uint8_t *block = t->w;
    __m256 acc[MR][2];
    for (size_t i = 0; i < mr; i++) aq_avx2_acc_start(acc[i], 2, t, i);
    for (size_t g = 0; g < t->groups; g++, block += t->block_bytes) {
        /* Rows 0-7 in the first register of each pair, rows 8-15 in the second. */
        const __m256 wscale[2] = {_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)block)),
                                  _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(block + 16)))};
        const uint8_t *q = block + codes_at;
        __m256i isum[MR][2];
        aq_avx2_qc4w_start(isum[0], mr, 2, t, block, g);
        __m256i c16[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
        const int8_t *a_group = t->a + (t->g0 + g) * group;
        for (size_t p = 0; p < group / 8; p++) {
            __m256i w_lo[2], w_hi[2];
            for (size_t h = 0; h < 2; h++) {
                const __m256i packed = _mm256_loadu_si256((const __m256i *)(q + p * NR * 4 + h * 32));
                w_lo[h] = _mm256_and_si256(packed, low_nibbles);
                w_hi[h] = _mm256_and_si256(_mm256_srli_epi16(packed, 4), low_nibbles);
                if (with_c)
                    c16[h] = _mm256_add_epi16(c16[h], _mm256_add_epi16(_mm256_maddubs_epi16(w_lo[h], one_bytes),
                                                                       _mm256_maddubs_epi16(w_hi[h], one_bytes)));
            }
            for (size_t i = 0; i < mr; i++) {
                const int8_t *qa = a_group + i * t->k + 8 * p;
                const __m256i a_lo = _mm256_set1_epi32(aq_load_i32(qa));
                const __m256i a_hi = _mm256_set1_epi32(aq_load_i32(qa + 4));
                for (size_t h = 0; h < 2; h++) {
                    const __m256i s16 =
                        _mm256_add_epi16(_mm256_maddubs_epi16(w_lo[h], a_lo), _mm256_maddubs_epi16(w_hi[h], a_hi));
                    isum[i][h] = _mm256_add_epi32(isum[i][h], _mm256_madd_epi16(s16, ones));
                }
            }
        }
        const __m256i csum[2] = {_mm256_madd_epi16(c16[0], ones), _mm256_madd_epi16(c16[1], ones)};
        for (size_t i = 0; i < mr; i++)
            for (size_t h = 0; h < 2; h++) aq_avx2_group_end(&acc[i][h], t, i, wscale[h], isum[i][h], csum[h], with_c);
    }
    for (size_t i = 0; i < mr; i++) aq_avx2_acc_store(t, i, acc[i], 2);
}

AQ_QC4W_TILE_WITH_C(tile, tile_body)

AQ_QD8_QC4W_GEMM_DEFINE(aq_qd8_qc4w_gemm_4x16c4__avx2, MR, NR, tile)
