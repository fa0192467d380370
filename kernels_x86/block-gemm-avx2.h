/* block-gemm-avx2.h - what the AVX2 block GEMM tiles share (kernels_x86/
 * *-gemm-*-avx2.c and the VNNI ones): the 8 lanes of a tile are the dot products
 * (token t, row r) at lane t * nr + r (block-gemm-loop.h); these helpers move
 * per-row and per-token values into those lanes, reduce per-lane integer partial
 * sums, and store the lanes. Every helper is exact (integer sums, f16 -> f32
 * widening, moves), so the float order stays the kernel's own. */
#ifndef AQ_BLOCK_GEMM_AVX2_H
#define AQ_BLOCK_GEMM_AVX2_H

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "block-gemm-loop.h"
#include "quant.h"

#define AQ_AVX2_LANES 8

/* Lane i = the sum of the eight int32 of s[i] (exact: the callers' bounds keep
 * every partial sum in int32). */
static inline __m256i aq_avx2_reduce8(const __m256i s[8]) {
    const __m256i h01 = _mm256_hadd_epi32(s[0], s[1]), h23 = _mm256_hadd_epi32(s[2], s[3]);
    const __m256i h45 = _mm256_hadd_epi32(s[4], s[5]), h67 = _mm256_hadd_epi32(s[6], s[7]);
    const __m256i h0123 = _mm256_hadd_epi32(h01, h23), h4567 = _mm256_hadd_epi32(h45, h67);
    return _mm256_add_epi32(_mm256_permute2x128_si256(h0123, h4567, 0x20),
                            _mm256_permute2x128_si256(h0123, h4567, 0x31));
}

/* Lane t * nr + r = f32(row[r]) (by_row) or f32(token[t]) (!by_row), from halves. */
static inline __m256 aq_avx2_f16_lanes(const uint16_t *h, size_t nr, int by_row) {
    uint16_t lanes[AQ_AVX2_LANES];
    for (size_t l = 0; l < AQ_AVX2_LANES; l++) lanes[l] = h[by_row ? l % nr : l / nr];
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)lanes));
}

/* Lane t * nr + r = token[t], from floats. */
static inline __m256 aq_avx2_f32_token_lanes(const float *f, size_t nr) {
    float lanes[AQ_AVX2_LANES];
    for (size_t l = 0; l < AQ_AVX2_LANES; l++) lanes[l] = f[l / nr];
    return _mm256_loadu_ps(lanes);
}

/* A half at byte offset `offset` of a block (weight blocks are only 2-byte aligned). */
static inline uint16_t aq_load_u16(const uint8_t *block, size_t offset) {
    uint16_t h;
    memcpy(&h, block + offset, sizeof h);
    return h;
}

/* Stores lane t * nr + r to out[t * out_stride + r] for t < mr, r < t->nr. */
static inline void aq_avx2_store_lanes(__m256 acc, size_t mr, size_t nr, const struct aq_block_tile *t) {
    float lanes[AQ_AVX2_LANES];
    _mm256_storeu_ps(lanes, acc);
    for (size_t i = 0; i < mr; i++)
        for (size_t r = 0; r < t->nr; r++) t->out[i * t->out_stride + r] = lanes[i * nr + r];
}

/* Q4_0 / Q4_1 codes (AVX2 and VNNI tiles): the 32 codes 0..15 of a block's 16 bytes
 * qs, elements 0..15 from the low nibbles, 16..31 from the high ones. */
static inline __m256i aq_q4_codes_avx2(const uint8_t *qs) {
    const __m128i low_nibbles = _mm_set1_epi8(0x0F);
    const __m128i v = _mm_loadu_si128((const __m128i *)qs);
    return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(v, 4), low_nibbles), _mm_and_si128(v, low_nibbles));
}

/* Q4_K and Q5_K (AVX2 and VNNI tiles): the mins' side of super-block a[i] x row r,
 * msum[i * nr + r] = int32 lanes summing to sum_k min_k * (bsums[2 k] + bsums[2 k + 1]),
 * with row r's 8 unpacked mins at sm + 16 r + 8 (aq_q4_k_unpack_scales). */
static inline void aq_q4_k_min_sums_avx2(__m256i *msum, const uint8_t *sm, const block_q8_K *const *a, size_t mr,
                                         size_t nr) {
    for (size_t r = 0; r < nr; r++) {
        /* [m0, m0, m1, m1, ..., m7, m7]: min k meets bsums 2 k and 2 k + 1. */
        const __m128i m8 = _mm_loadl_epi64((const __m128i *)(sm + 16 * r + 8));
        const __m256i mins = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m8, m8));
        for (size_t i = 0; i < mr; i++)
            msum[i * nr + r] = _mm256_madd_epi16(mins, _mm256_loadu_si256((const __m256i *)a[i]->bsums));
    }
}

/* Q5_K (AVX2 and VNNI tiles): the fifth bit of the codes of sub-block k, 16 in each
 * byte l where bit k of qh[l] is set (bit: 1 << k in every byte), else 0. */
static inline __m256i aq_q5_k_high_avx2(__m256i qh, __m256i bit) {
    return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(qh, bit), bit), _mm256_set1_epi8(16));
}

/* Q6_K codes (AVX2 and VNNI tiles): codes of run j (0..3) of a half: elements 32 j + l, l < 32 (layout in quant.h). */
static inline __m256i aq_q6_k_codes_avx2(const uint8_t *ql, __m256i qh, size_t j) {
    const __m256i low_nibbles = _mm256_set1_epi8(0x0F), high_bits = _mm256_set1_epi8(0x30);
    const __m256i v = _mm256_loadu_si256((const __m256i *)(ql + 32 * (j % 2)));
    const __m256i low =
        j < 2 ? _mm256_and_si256(v, low_nibbles) : _mm256_and_si256(_mm256_srli_epi16(v, 4), low_nibbles);
    /* Bits 2 j, 2 j + 1 of qh[l] to bits 4, 5. */
    __m256i high;
    switch (j) {
    case 0:
        high = _mm256_slli_epi16(qh, 4);
        break;
    case 1:
        high = _mm256_slli_epi16(qh, 2);
        break;
    case 2:
        high = qh;
        break;
    default:
        high = _mm256_srli_epi16(qh, 2);
        break;
    }
    return _mm256_or_si256(low, _mm256_and_si256(high, high_bits));
}

#endif /* AQ_BLOCK_GEMM_AVX2_H */
