/* q8_0x8-q8_0-gemm-4x8.h - the integer side of llama.cpp Q8_0 weights repacked into
 * groups of 8 rows (q8_0x8.h) with Q8_0 activations, for the x86-64 x8 tile
 * (x8-tile-x86.h), compiled by q8_0x8-q8_0-gemm-4x8-avx2.c, -avxvnni.c and
 * -avx512vnni.c. A 32-byte chunk c holds elements 4c .. 4c + 3 of each row, a row
 * a 32-bit lane, so every sum below stays in its row's lane.
 *
 * AVX2: VPMADDUBSW wants one unsigned operand: |x| (VPSIGNB; -128 gives 0x80, 128
 * as unsigned) times y with x's sign (VPSIGNB of y by x), pair sums into int16, then
 * VPMADDWD by 1 into int32: no widening, no shuffle across 128-bit halves. Exact
 * where no y is -128 (VPSIGNB cannot negate it): |x| <= 128 and |y| <= 127 keep
 * each product within [-16256, 16256] and each pair sum within int16, unsaturated.
 * The activation quantizer never writes -128 (|round(x * 127 / amax)| <= 127), but
 * a tile whose tokens hold one anywhere takes the exact widening path: both
 * operands sign-extended to int16 (VPMOVSXBW) and VPMADDWD, exact for every pair.
 * VNNI: VPDPBUSD wants one unsigned operand: the codes x are moved to x + 128
 * (0..255, a flip of the sign bit) once for the tile's tokens, and the sums start
 * from -128 * sum(y) (exact: at most 32 * 255 * 128 + 128 * 4096 in magnitude). */
#include "q8_0x8.h"

#define X8_BLOCK block_q8_0x8
#define X8_CODES 16
/* Decode waited on memory, the hardware prefetcher alone not keeping up: with
 * weights prefetched 2 KiB ahead, aq-bench-kernels 1 x 8 on TinyLlama (busy
 * machine, old/new alternated 3 times) ran 1.16-1.60x faster (head 32000 x 2048:
 * 7.7-9.5 -> 6.3-7.0 ms), m = 64 1.00-1.20x. Q4_0 (half the bytes) gained less
 * and lost up to 9% at m = 64, so it does not prefetch. */
#define X8_PREFETCH_BYTES 2048

#include "x8-tile-x86.h"

/* AVX2: codes[2 c] = |x| of chunk c, codes[2 c + 1] = x. VNNI: codes[c] = x + 128 of
 * chunk c, as unsigned bytes. */
static inline void x8_unpack(const void *qs, __m256i codes[X8_CODES]) {
    for (size_t c = 0; c < 8; c++) {
        const __m256i v = _mm256_loadu_si256((const __m256i *)((const int8_t *)qs + 32 * c));
#if X8_VNNI
        codes[c] = _mm256_xor_si256(v, _mm256_set1_epi8((char)0x80));
#else
        codes[2 * c] = _mm256_sign_epi8(v, v);
        codes[2 * c + 1] = v;
#endif
    }
}

static inline __m256i x8_isum(const __m256i codes[X8_CODES], const int8_t *y) {
#if X8_VNNI
    __m256i s = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(x8_sum32(y), 7));
    for (size_t c = 0; c < 8; c++) s = x8_dpbusd(s, codes[c], x8_broadcast4(y + 4 * c));
    return s;
#else
    const __m256i ones = _mm256_set1_epi16(1);
    /* Two sums: the chunks' chains interleave. */
    __m256i s[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
    for (size_t c = 0; c < 8; c++) {
        const __m256i signed_y = _mm256_sign_epi8(x8_broadcast4(y + 4 * c), codes[2 * c + 1]);
        s[c % 2] = _mm256_add_epi32(s[c % 2], _mm256_madd_epi16(_mm256_maddubs_epi16(codes[2 * c], signed_y), ones));
    }
    return _mm256_add_epi32(s[0], s[1]);
#endif
}

/* VNNI: exact for every y. AVX2: whether any of the tile's activations is -128. */
static inline bool x8_special(const struct aq_x8_tile *t, size_t mr) {
#if X8_VNNI
    (void)t;
    (void)mr;
    return false;
#else
    const __m256i minimum = _mm256_set1_epi8((char)0x80);
    __m256i found = _mm256_setzero_si256();
    for (size_t i = 0; i < mr; i++)
        for (size_t b = 0; b < t->n_blocks; b++) {
            const block_q8_0 *y = (const block_q8_0 *)t->a[i] + b;
            found = _mm256_or_si256(found, _mm256_cmpeq_epi8(_mm256_loadu_si256((const __m256i *)y->qs), minimum));
        }
    return _mm256_movemask_epi8(found) != 0;
#endif
}

/* AVX2, exact for any y: chunk c's rows 0..3 and 4..7 as int16 times elements 4c ..
 * 4c + 3, repeated, as int16: two int32 lanes a row, joined at the end. */
static inline __m256i x8_isum_exact(const __m256i codes[X8_CODES], const int8_t *y) {
#if X8_VNNI
    return x8_isum(codes, y);
#else
    __m256i s[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
    for (size_t c = 0; c < 8; c++) {
        const __m256i yc = _mm256_cvtepi8_epi16(_mm256_castsi256_si128(x8_broadcast4(y + 4 * c)));
        const __m256i x = codes[2 * c + 1];
        s[0] = _mm256_add_epi32(s[0], _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm256_castsi256_si128(x)), yc));
        s[1] = _mm256_add_epi32(s[1], _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm256_extracti128_si256(x, 1)), yc));
    }
    /* Halves [r0 r1 r4 r5 | r2 r3 r6 r7], then rows in order. */
    return _mm256_permute4x64_epi64(_mm256_hadd_epi32(s[0], s[1]), 0xD8);
#endif
}
