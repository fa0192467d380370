/* q6_kx8-q8_k-gemm-4x8-avx2.c - llama.cpp Q6_K weights repacked into groups of 8
 * rows (q6_kx8.h) x Q8_K activations, AVX2 + F16C: tiles of up to 4 tokens x the
 * group's 8 rows (1 x 8 in decode), each output bit for bit aq_q6_k_q8_k_dot_ref.
 * Lane r of every vector is row r, so a super-block's integer sums need no
 * horizontal reduction. Per unit j of 32 elements, 6 loads (4 ql, 2 qh chunks)
 * give the 8 quads' codes 0..63 of all 8 rows, unpacked once for the tile's
 * tokens; each quad times a broadcast of the token's 4 elements (VPMADDUBSW:
 * codes unsigned, activations signed) gives int16 pair sums of at most
 * 2 * 63 * 128 = 16128 in magnitude, two quads added stay within int16 (32256),
 * and VPMADDWD by the row's sub-block scale (in both halves of its lane) gives
 * exact int32 sums of sc * code * y. The offset: minus 32 * sum_k sc_k * Y_k per
 * row, Y_k the sub-block sums of the token's codes (computed here, not read from
 * bsums, as the reference dot). Then per lane f32(d) * y.d, times (float) isum,
 * added in super-block order: the reference's roundings (no fma). */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "block-gemm-x8-loop.h"
#include "quant.h"

#define MR 4
#define PREFETCH_AHEAD 2

static inline __m256i broadcast4(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, sizeof v);
    return _mm256_set1_epi32(v);
}

/* The 16 sub-block sums of a token's codes, as int16 in order (|Y| <= 2048). */
static inline void sub_block_sums(const int8_t *qs, int16_t y16[AQ_QK_K / 16]) {
    const __m256i ones8 = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1);
    __m256i t[8]; /* vector v: lanes 0..3 sums of 4 codes of sub-block 2v, 4..7 of 2v + 1 */
    for (size_t v = 0; v < 8; v++) {
        const __m256i y = _mm256_loadu_si256((const __m256i *)(qs + 32 * v));
        t[v] = _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, y), ones16);
    }
    /* Two rounds of VPHADDD: [Y0 Y2 Y4 Y6 | Y1 Y3 Y5 Y7] and the same for 8..15. */
    const __m256i q0 = _mm256_hadd_epi32(_mm256_hadd_epi32(t[0], t[1]), _mm256_hadd_epi32(t[2], t[3]));
    const __m256i q1 = _mm256_hadd_epi32(_mm256_hadd_epi32(t[4], t[5]), _mm256_hadd_epi32(t[6], t[7]));
    const __m256i p = _mm256_packs_epi32(q0, q1); /* [Y0 Y2 .. Y14 | Y1 Y3 .. Y15] */
    const __m128i even = _mm256_castsi256_si128(p), odd = _mm256_extracti128_si256(p, 1);
    _mm_storeu_si128((__m128i *)y16, _mm_unpacklo_epi16(even, odd));
    _mm_storeu_si128((__m128i *)(y16 + 8), _mm_unpackhi_epi16(even, odd));
}

AQ_TILE_INLINE void tile(size_t mr, const struct aq_x8_tile *t) {
    const __m256i low_nibbles = _mm256_set1_epi8(0x0F), high_bits = _mm256_set1_epi8(0x30);
    const block_q6_Kx8 *x = (const block_q6_Kx8 *)t->w;
    __m256 acc[MR];
    for (size_t i = 0; i < mr; i++) acc[i] = _mm256_setzero_ps();
    for (size_t b = 0; b < t->n_blocks; b++) {
        const block_q8_K *y[MR];
        int16_t ysum[MR][AQ_QK_K / 16];
        __m256i isum[MR], bias[MR];
        for (size_t i = 0; i < mr; i++) {
            y[i] = (const block_q8_K *)t->a[i] + b;
            sub_block_sums(y[i]->qs, ysum[i]);
            isum[i] = _mm256_setzero_si256();
            bias[i] = _mm256_setzero_si256();
        }
        /* The hardware prefetcher alone left decode waiting on memory (1 x 8 on
         * TinyLlama's 32000 x 2048 head: 16.2 ms CPU time without this, 6.6 ms with,
         * aq-bench-kernels on the busy machine): ask for the super-block
         * PREFETCH_AHEAD on (past a row's end, the next group's first ones, which
         * follow in the buffer), 256 bytes of it per unit. Prefetches never fault. */
        const uintptr_t ahead = (uintptr_t)&x[b] + PREFETCH_AHEAD * sizeof(block_q6_Kx8);
        for (size_t j = 0; j < 8; j++) {
            for (size_t c = 0; c < 4; c++) _mm_prefetch((const char *)(ahead + 256 * j + 64 * c), _MM_HINT_T0);
            /* Sub-blocks 2j, 2j + 1: each row's scale in both int16 halves of its
             * lane (dup0, dup1), and per lane the pair (sc_2j, sc_2j+1) for the offset. */
            const __m128i sc = _mm_loadu_si128((const __m128i *)(x[b].scales + 16 * j));
            const __m256i dup0 = _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(sc, sc));
            const __m256i dup1 = _mm256_cvtepi8_epi16(_mm_unpackhi_epi8(sc, sc));
            const __m256i pair = _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(sc, _mm_srli_si128(sc, 8)));
            const __m256i h0 = _mm256_loadu_si256((const __m256i *)(x[b].qh + 32 * (2 * j)));
            const __m256i h1 = _mm256_loadu_si256((const __m256i *)(x[b].qh + 32 * (2 * j + 1)));
            __m256i codes[8]; /* quad i = elements 32 j + 4 i .. + 3 of each row */
            for (size_t u = 0; u < 4; u++) {
                const __m256i l = _mm256_loadu_si256((const __m256i *)(x[b].ql + 32 * (4 * j + u)));
                /* Bits 2u, 2u + 1 of a qh byte to bits 4, 5. */
                const __m256i hi0 = u == 0   ? _mm256_slli_epi16(h0, 4)
                                    : u == 1 ? _mm256_slli_epi16(h0, 2)
                                    : u == 2 ? h0
                                             : _mm256_srli_epi16(h0, 2);
                const __m256i hi1 = u == 0   ? _mm256_slli_epi16(h1, 4)
                                    : u == 1 ? _mm256_slli_epi16(h1, 2)
                                    : u == 2 ? h1
                                             : _mm256_srli_epi16(h1, 2);
                codes[u] = _mm256_or_si256(_mm256_and_si256(l, low_nibbles), _mm256_and_si256(hi0, high_bits));
                codes[4 + u] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l, 4), low_nibbles),
                                               _mm256_and_si256(hi1, high_bits));
            }
            for (size_t i = 0; i < mr; i++) {
                const int8_t *q = y[i]->qs + 32 * j;
                __m256i p[4];
                for (size_t h = 0; h < 4; h++)
                    p[h] = _mm256_add_epi16(_mm256_maddubs_epi16(codes[2 * h], broadcast4(q + 8 * h)),
                                            _mm256_maddubs_epi16(codes[2 * h + 1], broadcast4(q + 8 * h + 4)));
                const __m256i s0 = _mm256_add_epi32(_mm256_madd_epi16(p[0], dup0), _mm256_madd_epi16(p[1], dup0));
                const __m256i s1 = _mm256_add_epi32(_mm256_madd_epi16(p[2], dup1), _mm256_madd_epi16(p[3], dup1));
                isum[i] = _mm256_add_epi32(isum[i], _mm256_add_epi32(s0, s1));
                int32_t ypair;
                memcpy(&ypair, &ysum[i][2 * j], sizeof ypair);
                bias[i] = _mm256_add_epi32(bias[i], _mm256_madd_epi16(pair, _mm256_set1_epi32(ypair)));
            }
        }
        for (size_t i = 0; i < mr; i++) isum[i] = _mm256_sub_epi32(isum[i], _mm256_slli_epi32(bias[i], 5));
        const __m256 dx = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)x[b].d));
        for (size_t i = 0; i < mr; i++) {
            const __m256 scale = _mm256_mul_ps(dx, _mm256_set1_ps(y[i]->d));
            const __m256 term = _mm256_mul_ps(scale, _mm256_cvtepi32_ps(isum[i]));
            acc[i] = _mm256_add_ps(acc[i], term);
        }
    }
    for (size_t i = 0; i < mr; i++) _mm256_storeu_ps(t->out + i * t->out_stride, acc[i]);
}

AQ_BLOCK_GEMM_X8_DEFINE(aq_q6_kx8_q8_k_gemm_4x8__avx2, MR, AQ_QK_K, tile)
