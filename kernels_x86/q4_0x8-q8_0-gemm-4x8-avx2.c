/* q4_0x8-q8_0-gemm-4x8-avx2.c - llama.cpp Q4_0 weights repacked into groups of 8
 * rows (q4_0x8.h) x Q8_0 activations, AVX2 + F16C: tiles of up to 4 tokens x the
 * group's 8 rows (1 x 8 in decode), each output bit for bit aq_q4_0_q8_0_dot_ref.
 * Lane r of every vector is row r, so a block's integer sums need no horizontal
 * reduction: per 32-byte chunk c, its low nibbles times a broadcast of the token's
 * elements 4c .. 4c + 3 and its high nibbles times 16 + 4c .. 16 + 4c + 3 (VPMADDUBSW:
 * codes 0..15 unsigned, activations signed), 8 such int16 pair sums per lane add
 * up to at most 8 * 2 * 15 * 128 = 30720 in magnitude (no saturation, -128 included),
 * then VPMADDWD to int32 and minus 8 * sum(y) gives the exact (code - 8) * y sum.
 * Then per lane f32(dx) * f32(dy), times (float) isum, added to the lane's sum, in
 * block order: the reference's roundings (no fma). The codes of a block are
 * unpacked once for the tile's tokens. */
#include <immintrin.h>
#include <string.h>

#include "block-gemm-x8-loop.h"
#include "quant.h"

#define MR 4

/* Lanes = 8 * sum of the 32 codes of y (exact: at most 8 * 32 * 128). */
static inline __m256i bias8(const int8_t *qs) {
    const __m256i y = _mm256_loadu_si256((const __m256i *)qs);
    __m256i s = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), y), _mm256_set1_epi16(1));
    s = _mm256_add_epi32(s, _mm256_permute2x128_si256(s, s, 0x01));
    s = _mm256_add_epi32(s, _mm256_shuffle_epi32(s, 0x4E));
    s = _mm256_add_epi32(s, _mm256_shuffle_epi32(s, 0xB1));
    return _mm256_slli_epi32(s, 3);
}

static inline __m256i broadcast4(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, sizeof v);
    return _mm256_set1_epi32(v);
}

AQ_TILE_INLINE void tile(size_t mr, const struct aq_x8_tile *t) {
    const __m256i low_nibbles = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);
    const block_q4_0x8 *x = (const block_q4_0x8 *)t->w;
    __m256 acc[MR];
    for (size_t i = 0; i < mr; i++) acc[i] = _mm256_setzero_ps();
    for (size_t b = 0; b < t->n_blocks; b++) {
        __m256i codes[8]; /* chunk c: [c] its low nibbles, [4 + c] its high ones */
        for (size_t c = 0; c < 4; c++) {
            const __m256i v = _mm256_loadu_si256((const __m256i *)(x[b].qs + 32 * c));
            codes[c] = _mm256_and_si256(v, low_nibbles);
            codes[4 + c] = _mm256_and_si256(_mm256_srli_epi16(v, 4), low_nibbles);
        }
        const __m256 dx = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)x[b].d));
        for (size_t i = 0; i < mr; i++) {
            const block_q8_0 *y = (const block_q8_0 *)t->a[i] + b;
            __m256i s16 = _mm256_maddubs_epi16(codes[0], broadcast4(y->qs));
            for (size_t c = 1; c < 4; c++)
                s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(codes[c], broadcast4(y->qs + 4 * c)));
            for (size_t c = 0; c < 4; c++)
                s16 =
                    _mm256_add_epi16(s16, _mm256_maddubs_epi16(codes[4 + c], broadcast4(y->qs + AQ_QK8_0 / 2 + 4 * c)));
            const __m256i isum = _mm256_sub_epi32(_mm256_madd_epi16(s16, ones), bias8(y->qs));
            const __m256 scale = _mm256_mul_ps(dx, _mm256_set1_ps(_cvtsh_ss(y->d)));
            const __m256 term = _mm256_mul_ps(scale, _mm256_cvtepi32_ps(isum));
            acc[i] = _mm256_add_ps(acc[i], term);
        }
    }
    for (size_t i = 0; i < mr; i++) _mm256_storeu_ps(t->out + i * t->out_stride, acc[i]);
}

AQ_BLOCK_GEMM_X8_DEFINE(aq_q4_0x8_q8_0_gemm_4x8__avx2, MR, AQ_QK4_0, tile)
