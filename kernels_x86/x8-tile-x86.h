/* x8-tile-x86.h - the x86-64 micro-tile of llama.cpp blocks repacked into groups of
 * 8 rows (kernels_ref/x8.h): up to MR tokens x the group's 8 rows (1 x 8 in
 * decode), lane r of every vector row r, each output bit for bit the layout's plain
 * reference dot product. A layout's header (q4_0x8-q8_0-gemm-4x8.h,
 * q8_0x8-q8_0-gemm-4x8.h, compiled once per ISA by its -avx2.c, -avxvnni.c and
 * -avx512vnni.c) defines X8_BLOCK (the packed block: uint16_t d[8], then qs) and
 * X8_CODES (and, optionally, X8_PREFETCH_BYTES: software prefetch distance),
 * includes this file, then defines the functions declared below: a
 * layout whose fast integer path is exact only for most activations says when the
 * tile's are not (x8_special) and gives an exact path for them (x8_isum_exact).
 *
 * Built with AVX-VNNI, or AVX-512 VNNI with VL, X8_VNNI is 1 and x8_dpbusd is
 * VPDPBUSD on 256-bit vectors (VEX or EVEX): unsigned bytes times signed bytes,
 * four products into each int32 lane, no saturation. The float part is common:
 * per lane f32(dx) * f32(dy), times (float) isum, added in block order (the
 * reference's roundings, no fma). */
#ifndef AQ_X8_TILE_X86_H
#define AQ_X8_TILE_X86_H

#include <immintrin.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "block-gemm-x8-loop.h"
#include "quant.h"

#define MR 4

#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
#define X8_VNNI 1
#define x8_dpbusd(acc, u8, s8) _mm256_dpbusd_epi32(acc, u8, s8)
#elif defined(__AVXVNNI__)
#define X8_VNNI 1
#define x8_dpbusd(acc, u8, s8) _mm256_dpbusd_avx_epi32(acc, u8, s8)
#else
#define X8_VNNI 0
#endif

/* Every lane = the 4 bytes at p, as one int32. */
static inline __m256i x8_broadcast4(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, sizeof v);
    return _mm256_set1_epi32(v);
}

/* Every lane = the sum of the 32 codes at qs (exact: |sum| <= 4096). */
static inline __m256i x8_sum32(const int8_t *qs) {
    const __m256i y = _mm256_loadu_si256((const __m256i *)qs);
    __m256i s = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), y), _mm256_set1_epi16(1));
    s = _mm256_add_epi32(s, _mm256_permute2x128_si256(s, s, 0x01));
    s = _mm256_add_epi32(s, _mm256_shuffle_epi32(s, 0x4E));
    return _mm256_add_epi32(s, _mm256_shuffle_epi32(s, 0xB1));
}

/* A block's quants (after its scales) into X8_CODES vectors, once for the tile's tokens. */
static inline void x8_unpack(const void *qs, __m256i codes[X8_CODES]);
/* Lane r = the exact int32 dot product of row r's block with a token's 32 Q8_0 codes
 * y, where x8_special(t, mr) is false (for every y, x8_isum_exact). */
static inline __m256i x8_isum(const __m256i codes[X8_CODES], const int8_t *y);
static inline bool x8_special(const struct aq_x8_tile *t, size_t mr);
static inline __m256i x8_isum_exact(const __m256i codes[X8_CODES], const int8_t *y);

/* The tile's loop over blocks, with x8_isum or (exact) x8_isum_exact. */
AQ_TILE_INLINE void tile_blocks(size_t mr, const struct aq_x8_tile *t, bool exact) {
    const X8_BLOCK *x = (const X8_BLOCK *)t->w;
    __m256 acc[MR];
    for (size_t i = 0; i < mr; i++) acc[i] = _mm256_setzero_ps();
    for (size_t b = 0; b < t->n_blocks; b++) {
#ifdef X8_PREFETCH_BYTES
        /* A layout that measured faster with it asks for the weights
         * X8_PREFETCH_BYTES on, one line per 64 bytes of a block (past the group's
         * end, the next group's, which follows; prefetches never fault). */
        const uintptr_t ahead = (uintptr_t)&x[b] + X8_PREFETCH_BYTES;
        for (size_t o = 0; o < sizeof(X8_BLOCK); o += 64) _mm_prefetch((const char *)(ahead + o), _MM_HINT_T0);
#endif
        __m256i codes[X8_CODES];
        x8_unpack(x[b].qs, codes);
        const __m256 dx = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)x[b].d));
        for (size_t i = 0; i < mr; i++) {
            const block_q8_0 *y = (const block_q8_0 *)t->a[i] + b;
            const __m256i isum = exact ? x8_isum_exact(codes, y->qs) : x8_isum(codes, y->qs);
            const __m256 scale = _mm256_mul_ps(dx, _mm256_set1_ps(_cvtsh_ss(y->d)));
            const __m256 term = _mm256_mul_ps(scale, _mm256_cvtepi32_ps(isum));
            acc[i] = _mm256_add_ps(acc[i], term);
        }
    }
    for (size_t i = 0; i < mr; i++) _mm256_storeu_ps(t->out + i * t->out_stride, acc[i]);
}

/* One test a call, over all the tile's activation blocks, so that the usual loop
 * has no branch. */
AQ_TILE_INLINE void tile(size_t mr, const struct aq_x8_tile *t) {
    if (__builtin_expect(x8_special(t, mr), 0))
        tile_blocks(mr, t, true);
    else
        tile_blocks(mr, t, false);
}

#endif /* AQ_X8_TILE_X86_H */
