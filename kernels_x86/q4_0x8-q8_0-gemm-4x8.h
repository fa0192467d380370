/* q4_0x8-q8_0-gemm-4x8.h - the integer side of llama.cpp Q4_0 weights repacked into
 * groups of 8 rows (q4_0x8.h) with Q8_0 activations, for the x86-64 x8 tile
 * (x8-tile-x86.h), compiled by q4_0x8-q8_0-gemm-4x8-avx2.c, -avxvnni.c and
 * -avx512vnni.c. Per 32-byte chunk c, its low nibbles times a broadcast of the
 * token's elements 4c .. 4c + 3 and its high nibbles times 16 + 4c .. 16 + 4c + 3,
 * each row's 4 products in its own lane (codes 0..15 unsigned, activations signed),
 * minus 8 * sum(y): the exact (code - 8) * y sum. AVX2: VPMADDUBSW pair sums, 8 of
 * them a lane add up to at most 8 * 2 * 15 * 128 = 30720 in magnitude (no
 * saturation, -128 included), then VPMADDWD to int32. VNNI: VPDPBUSD straight into
 * int32, from -8 * sum(y). */
#include "q4_0x8.h"

#define X8_BLOCK block_q4_0x8
#define X8_CODES 8

#include "x8-tile-x86.h"

/* codes[c]: chunk c's low nibbles, codes[4 + c] its high ones. */
static inline void x8_unpack(const void *qs, __m256i codes[X8_CODES]) {
    const __m256i low_nibbles = _mm256_set1_epi8(0x0F);
    for (size_t c = 0; c < 4; c++) {
        const __m256i v = _mm256_loadu_si256((const __m256i *)((const uint8_t *)qs + 32 * c));
        codes[c] = _mm256_and_si256(v, low_nibbles);
        codes[4 + c] = _mm256_and_si256(_mm256_srli_epi16(v, 4), low_nibbles);
    }
}

static inline __m256i x8_isum(const __m256i codes[X8_CODES], const int8_t *y) {
    const __m256i bias = _mm256_slli_epi32(x8_sum32(y), 3);
#if X8_VNNI
    __m256i s = _mm256_sub_epi32(_mm256_setzero_si256(), bias);
    for (size_t c = 0; c < 8; c++) s = x8_dpbusd(s, codes[c], x8_broadcast4(y + 4 * c));
    return s;
#else
    __m256i s16 = _mm256_maddubs_epi16(codes[0], x8_broadcast4(y));
    for (size_t c = 1; c < 8; c++)
        s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(codes[c], x8_broadcast4(y + 4 * c)));
    return _mm256_sub_epi32(_mm256_madd_epi16(s16, _mm256_set1_epi16(1)), bias);
#endif
}

/* Exact for every y. */
static inline bool x8_special(const struct aq_x8_tile *t, size_t mr) {
    (void)t;
    (void)mr;
    return false;
}
static inline __m256i x8_isum_exact(const __m256i codes[X8_CODES], const int8_t *y) { return x8_isum(codes, y); }
