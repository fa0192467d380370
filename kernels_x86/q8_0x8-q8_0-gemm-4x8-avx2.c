/* q8_0x8-q8_0-gemm-4x8-avx2.c - llama.cpp Q8_0 weights repacked into groups of 8
 * rows (q8_0x8.h) x Q8_0 activations, AVX2 + F16C: tiles of up to 4 tokens x the
 * group's 8 rows (1 x 8 in decode), each output bit for bit aq_q8_0_q8_0_dot_ref.
 * A 32-byte chunk (4 elements of each row) is sign-extended to int16 as rows 0..3
 * and rows 4..7, once for the tile's tokens, and multiplied by the token's 4
 * elements, repeated, with VPMADDWD: exact for every int8 pair, -128 * -128
 * included, two int32 lanes a row. After the block's 8 chunks one VPHADDD and one
 * permutation give a lane per row (the only step across lanes, once a block, not
 * once a row). Then per lane f32(dx) * f32(dy), times (float) isum, added in block
 * order (the reference's roundings, no fma). */
#include <immintrin.h>

#include "block-gemm-x8-loop.h"
#include "quant.h"

#define MR 4

#define MADD_CHUNK(s, codes, y16, c)                                                                                   \
    do {                                                                                                               \
        const __m256i yc_ = _mm256_permute4x64_epi64(y16[(c) / 4], ((c) % 4) * 0x55);                                  \
        s[0] = _mm256_add_epi32(s[0], _mm256_madd_epi16(codes[c][0], yc_));                                            \
        s[1] = _mm256_add_epi32(s[1], _mm256_madd_epi16(codes[c][1], yc_));                                            \
    } while (0)

AQ_TILE_INLINE void tile(size_t mr, const struct aq_x8_tile *t) {
    const block_q8_0x8 *x = (const block_q8_0x8 *)t->w;
    __m256 acc[MR];
    for (size_t i = 0; i < mr; i++) acc[i] = _mm256_setzero_ps();
    for (size_t b = 0; b < t->n_blocks; b++) {
        __m256i codes[8][2]; /* chunk c: rows 0..3, rows 4..7, as int16 */
        for (size_t c = 0; c < 8; c++) {
            codes[c][0] = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(x[b].qs + 32 * c)));
            codes[c][1] = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(x[b].qs + 32 * c + 16)));
        }
        const __m256 dx = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)x[b].d));
        for (size_t i = 0; i < mr; i++) {
            const block_q8_0 *y = (const block_q8_0 *)t->a[i] + b;
            /* Elements 0..15 and 16..31 as int16; chunk c multiplies their 64-bit unit c % 4, broadcast. */
            const __m256i y16[2] = {_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)y->qs)),
                                    _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(y->qs + 16)))};
            __m256i s[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
            MADD_CHUNK(s, codes, y16, 0);
            MADD_CHUNK(s, codes, y16, 1);
            MADD_CHUNK(s, codes, y16, 2);
            MADD_CHUNK(s, codes, y16, 3);
            MADD_CHUNK(s, codes, y16, 4);
            MADD_CHUNK(s, codes, y16, 5);
            MADD_CHUNK(s, codes, y16, 6);
            MADD_CHUNK(s, codes, y16, 7);
            /* Halves [r0 r1 r4 r5 | r2 r3 r6 r7], then rows in order. */
            const __m256i isum = _mm256_permute4x64_epi64(_mm256_hadd_epi32(s[0], s[1]), 0xD8);
            const __m256 scale = _mm256_mul_ps(dx, _mm256_set1_ps(_cvtsh_ss(y->d)));
            const __m256 term = _mm256_mul_ps(scale, _mm256_cvtepi32_ps(isum));
            acc[i] = _mm256_add_ps(acc[i], term);
        }
    }
    for (size_t i = 0; i < mr; i++) _mm256_storeu_ps(t->out + i * t->out_stride, acc[i]);
}

AQ_BLOCK_GEMM_X8_DEFINE(aq_q8_0x8_q8_0_gemm_4x8__avx2, MR, AQ_QK8_0, tile)
