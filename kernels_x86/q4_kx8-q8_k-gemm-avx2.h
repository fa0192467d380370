/* q4_kx8-q8_k-gemm-avx2.h - the tile of the AVX2 + F16C GEMMs of llama.cpp Q4_K
 * weights (q4_kx8-q8_k-gemm-4x8-avx2.c) and, with AQ_Q5_K defined, Q5_K weights
 * (q5_kx8-q8_k-gemm-4x8-avx2.c), repacked into groups of 8 rows (q4_kx8.h), x Q8_K
 * activations: tiles of up to 4 tokens x the group's 8 rows (1 x 8 in decode),
 * each output bit for bit aq_q4_k_q8_k_dot_ref / aq_q5_k_q8_k_dot_ref.
 * Lane r of every vector is row r. Per super-block, the 6-bit scales and mins of
 * all 8 rows are unpacked at once (two loads, shifts and masks), then per
 * sub-block k one byte shuffle puts (sc, sc) and (min, min) of row r, as int16,
 * in lane r. Per 32-byte chunk of codes (Q5_K: plus 16 where the chunk's qh has
 * bit k), VPMADDUBSW with a broadcast of the token's 4 elements; the int16 pair
 * sums of up to 8 chunks (Q4_K: 8 * 2 * 15 * 128 = 30720) or 4 (Q5_K: 4 * 2 * 31 *
 * 128 = 31744) stay below 2^15 in magnitude, then VPMADDWD by the lane's (sc, sc)
 * gives exact int32 sums of sc * code * y. The mins meet the token's bsums pair
 * (2 k, 2 k + 1) in VPMADDWD. Then per lane, as the reference: D = f32(d) * y.d,
 * Dmin = f32(dmin) * y.d, term = D * (float) isum - Dmin * (float) msum, sum =
 * sum + term (no fma). The codes of a chunk are unpacked once for the tile's tokens. */
#ifndef AQ_Q4_KX8_Q8_K_GEMM_AVX2_H
#define AQ_Q4_KX8_Q8_K_GEMM_AVX2_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "block-gemm-x8-loop.h"
#include "q4_kx8.h"

#define MR 4
/* Software prefetch distance in bytes of packed weights (see tile): with it,
 * aq-bench-kernels Q4_K 1 x 8 on TinyLlama's head 32000 x 2048 (busy machine,
 * old/new alternated 3 times) ran 1.21-1.40x faster (5.8-6.8 -> 4.8-4.9 ms),
 * gate_up 1.04-1.22x, down 0.95-1.24x, m = 64 0.98-1.16x; Q5_K (2 rounds) head
 * 1.21-1.23x, gate_up 1.16-1.27x, down 1.13-1.24x, m = 64 1.02-1.07x. */
#define PREFETCH_BYTES 2048

#ifdef AQ_Q5_K
typedef block_q5_Kx8 aq_kx8_block;
#define CHUNKS_INT16 4
#else
typedef block_q4_Kx8 aq_kx8_block;
#define CHUNKS_INT16 8
#endif

/* The 64 six-bit values at p (q4_kx8.h): values 0..31 in *v0, 32..63 in *v1. */
static inline void unpack_6bit(const uint8_t *p, __m256i *v0, __m256i *v1) {
    const __m256i low_nibbles = _mm256_set1_epi8(0x0F), bits45 = _mm256_set1_epi8(0x30);
    const __m256i low = _mm256_loadu_si256((const __m256i *)p);
    const __m256i high = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(p + 32)));
    /* Bits 2 f, 2 f + 1 to bits 4, 5: f = 0, 1 in v0's halves, 2, 3 in v1's. */
    const __m256i high0 = _mm256_sllv_epi32(high, _mm256_setr_epi32(4, 4, 4, 4, 2, 2, 2, 2));
    const __m256i high1 = _mm256_srlv_epi32(high, _mm256_setr_epi32(0, 0, 0, 0, 2, 2, 2, 2));
    *v0 = _mm256_or_si256(_mm256_and_si256(low, low_nibbles), _mm256_and_si256(high0, bits45));
    *v1 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(low, 4), low_nibbles), _mm256_and_si256(high1, bits45));
}

/* Lane r = (v, v) as int16, v the unpacked value of sub-block k of row r, from the
 * vector holding k (k % 4 = q): bytes 4 q + r % 4 of lane r's 128-bit half. */
static inline __m256i pair_lanes(__m256i values, size_t q) {
    const __m256i base = _mm256_setr_epi8(0, -128, 0, -128, 1, -128, 1, -128, 2, -128, 2, -128, 3, -128, 3, -128, 0,
                                          -128, 0, -128, 1, -128, 1, -128, 2, -128, 2, -128, 3, -128, 3, -128);
    /* 0x80 + 4 q keeps its top bit: those bytes stay zero. */
    return _mm256_shuffle_epi8(values, _mm256_add_epi8(base, _mm256_set1_epi8((char)(4 * q))));
}

static inline __m256i broadcast4(const void *p) {
    int32_t v;
    memcpy(&v, p, sizeof v);
    return _mm256_set1_epi32(v);
}

AQ_TILE_INLINE void tile(size_t mr, const struct aq_x8_tile *t) {
    const __m256i low_nibbles = _mm256_set1_epi8(0x0F);
    const aq_kx8_block *x = (const aq_kx8_block *)t->w;
    __m256 acc[MR];
    for (size_t i = 0; i < mr; i++) acc[i] = _mm256_setzero_ps();
    for (size_t b = 0; b < t->n_blocks; b++) {
        const block_q8_K *y[MR];
        __m256i isum[MR], msum[MR];
        for (size_t i = 0; i < mr; i++) {
            y[i] = (const block_q8_K *)t->a[i] + b;
            isum[i] = _mm256_setzero_si256();
            msum[i] = _mm256_setzero_si256();
        }
        __m256i scales[2], mins[2];
        unpack_6bit(x[b].sm, &scales[0], &scales[1]);
        unpack_6bit(x[b].sm + 48, &mins[0], &mins[1]);
        /* Decode (1 x 8) waited on memory, the hardware prefetcher alone not
         * keeping up: ask for the weights PREFETCH_BYTES on, an eighth of a
         * super-block's bytes per sub-block k (past the group's end, the next
         * group's, which follows; prefetches never fault). */
        const uintptr_t ahead = (uintptr_t)&x[b] + PREFETCH_BYTES;
        const size_t slice = sizeof(aq_kx8_block) / (AQ_QK_K / 32);
        for (size_t k = 0; k < AQ_QK_K / 32; k++) {
            for (size_t o = k * slice; o < (k + 1) * slice; o += 64)
                _mm_prefetch((const char *)(ahead + o), _MM_HINT_T0);
            const __m256i scale = pair_lanes(scales[k / 4], k % 4);
            const uint8_t *qs = x[b].qs + 256 * (k / 2);
            for (size_t j0 = 0; j0 < 8; j0 += CHUNKS_INT16) {
                __m256i s16[MR];
                for (size_t j = j0; j < j0 + CHUNKS_INT16; j++) {
                    __m256i v = _mm256_loadu_si256((const __m256i *)(qs + 32 * j));
                    if (k % 2) v = _mm256_srli_epi16(v, 4);
                    __m256i codes = _mm256_and_si256(v, low_nibbles);
#ifdef AQ_Q5_K
                    /* Bit k of each qh byte to bit 4 (shifts of at most 4: no bit crosses a byte). */
                    const __m256i qh = _mm256_loadu_si256((const __m256i *)(x[b].qh + 32 * j));
                    const __m256i h = k < 4 ? _mm256_slli_epi16(qh, (int)(4 - k)) : _mm256_srli_epi16(qh, (int)(k - 4));
                    codes = _mm256_or_si256(codes, _mm256_and_si256(h, _mm256_set1_epi8(0x10)));
#endif
                    for (size_t i = 0; i < mr; i++) {
                        const __m256i p = _mm256_maddubs_epi16(codes, broadcast4(y[i]->qs + 32 * k + 4 * j));
                        s16[i] = j == j0 ? p : _mm256_add_epi16(s16[i], p);
                    }
                }
                for (size_t i = 0; i < mr; i++) isum[i] = _mm256_add_epi32(isum[i], _mm256_madd_epi16(s16[i], scale));
            }
        }
        for (size_t k = 0; k < AQ_QK_K / 32; k++) {
            const __m256i min = pair_lanes(mins[k / 4], k % 4);
            for (size_t i = 0; i < mr; i++)
                msum[i] = _mm256_add_epi32(msum[i], _mm256_madd_epi16(min, broadcast4(y[i]->bsums + 2 * k)));
        }
        const __m256 dx = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)x[b].d));
        const __m256 dmin = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)x[b].dmin));
        for (size_t i = 0; i < mr; i++) {
            const __m256 yd = _mm256_set1_ps(y[i]->d);
            const __m256 scaled = _mm256_mul_ps(_mm256_mul_ps(dx, yd), _mm256_cvtepi32_ps(isum[i]));
            const __m256 offset = _mm256_mul_ps(_mm256_mul_ps(dmin, yd), _mm256_cvtepi32_ps(msum[i]));
            acc[i] = _mm256_add_ps(acc[i], _mm256_sub_ps(scaled, offset));
        }
    }
    for (size_t i = 0; i < mr; i++) _mm256_storeu_ps(t->out + i * t->out_stride, acc[i]);
}

#endif /* AQ_Q4_KX8_Q8_K_GEMM_AVX2_H */
