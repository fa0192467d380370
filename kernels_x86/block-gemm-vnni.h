/* block-gemm-vnni.h - the VNNI block GEMMs of llama.cpp's formats (kernels_x86/
 * <w>-<a>-gemm-vnni.h, each tile written once) for the two ISAs that have
 * VPDPBUSD and VPDPWSSD on 256-bit vectors: a file built with -mavxvnni gets
 * AVX-VNNI's VEX forms and 8 lanes a tile (block-gemm-avx2.h: 16 registers, tiles
 * 4 x 2); one built with AVX-512 F/BW/VL/VNNI gets the EVEX forms and 16 lanes a
 * tile (32 registers hold 16 lane sums: tiles 4 x 4, 1 x 16 in decode), their
 * float side in one 512-bit vector.
 *
 * VPDPBUSD multiplies unsigned bytes by signed bytes, four products into each
 * int32, without saturation; VPDPWSSD does the same with int16 pairs. Every
 * caller's bounds keep those sums far inside int32, so the integer dot products
 * are exact, whatever their order; the float side (the helpers below: exact
 * widenings and moves, then the tile's own mul / add per lane, in block order) is
 * the AVX2 tiles', which is the reference's. */
#ifndef AQ_BLOCK_GEMM_VNNI_H
#define AQ_BLOCK_GEMM_VNNI_H

#include "block-gemm-avx2.h"

#if defined(__AVX512VNNI__) && defined(__AVX512VL__) && defined(__AVX512F__) && defined(__AVX512BW__)

#define AQ_VNNI_LANES 16
#define aq_dpbusd(acc, u8, s8) _mm256_dpbusd_epi32(acc, u8, s8)
#define aq_dpwssd(acc, a, b) _mm256_dpwssd_epi32(acc, a, b)

typedef __m512 aq_vnni_ps;
static inline aq_vnni_ps aq_vnni_zero(void) { return _mm512_setzero_ps(); }
static inline aq_vnni_ps aq_vnni_add(aq_vnni_ps a, aq_vnni_ps b) { return _mm512_add_ps(a, b); }
static inline aq_vnni_ps aq_vnni_sub(aq_vnni_ps a, aq_vnni_ps b) { return _mm512_sub_ps(a, b); }
static inline aq_vnni_ps aq_vnni_mul(aq_vnni_ps a, aq_vnni_ps b) { return _mm512_mul_ps(a, b); }

/* Lane i = (float) the sum of the eight int32 of s[i]. */
static inline aq_vnni_ps aq_vnni_reduce_cvt(const __m256i s[16]) {
    const __m512i sums = _mm512_inserti64x4(_mm512_castsi256_si512(aq_avx2_reduce8(s)), aq_avx2_reduce8(s + 8), 1);
    return _mm512_cvtepi32_ps(sums);
}

/* Lane l of the vector of lanes t * nr + r (nr a power of two): index r (by_row)
 * or t (!by_row). Constant where nr is. */
static inline __m512i aq_vnni_lane_index(size_t nr, int by_row) {
    const __m512i lane = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    return by_row ? _mm512_and_si512(lane, _mm512_set1_epi32((int)nr - 1))
                  : _mm512_srlv_epi32(lane, _mm512_set1_epi32(__builtin_ctzll(nr)));
}

/* Lane t * nr + r = f32(row[r]) (by_row) or f32(token[t]) (!by_row), from halves:
 * the nr (or 16 / nr) halves there are, loaded under a mask, moved into place (a
 * plain load or a broadcast where that is all it takes: decode's 1 x 16). */
static inline aq_vnni_ps aq_vnni_f16_lanes(const uint16_t *h, size_t nr, int by_row) {
    const size_t n = by_row ? nr : 16 / nr;
    if (n == 1) return _mm512_set1_ps(_cvtsh_ss(h[0]));
    if (n == 16) return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)h));
    const __m512 v = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16((__mmask16)((1u << n) - 1), h));
    return _mm512_permutexvar_ps(aq_vnni_lane_index(nr, by_row), v);
}

/* Lane t * nr + r = token[t], from floats. */
static inline aq_vnni_ps aq_vnni_f32_token_lanes(const float *f, size_t nr) {
    if (nr == 16) return _mm512_set1_ps(f[0]);
    const __m512 v = _mm512_maskz_loadu_ps((__mmask16)((1u << (16 / nr)) - 1), f);
    return _mm512_permutexvar_ps(aq_vnni_lane_index(nr, 0), v);
}

/* Stores lane t * nr + r to out[t * out_stride + r] for t < mr, r < t->nr. */
static inline void aq_vnni_store_lanes(aq_vnni_ps acc, size_t mr, size_t nr, const struct aq_block_tile *t) {
    float lanes[16];
    _mm512_storeu_ps(lanes, acc);
    for (size_t i = 0; i < mr; i++)
        for (size_t r = 0; r < t->nr; r++) t->out[i * t->out_stride + r] = lanes[i * nr + r];
}

#elif defined(__AVXVNNI__)

#define AQ_VNNI_LANES AQ_AVX2_LANES
#define aq_dpbusd(acc, u8, s8) _mm256_dpbusd_avx_epi32(acc, u8, s8)
#define aq_dpwssd(acc, a, b) _mm256_dpwssd_avx_epi32(acc, a, b)

typedef __m256 aq_vnni_ps;
static inline aq_vnni_ps aq_vnni_zero(void) { return _mm256_setzero_ps(); }
static inline aq_vnni_ps aq_vnni_add(aq_vnni_ps a, aq_vnni_ps b) { return _mm256_add_ps(a, b); }
static inline aq_vnni_ps aq_vnni_sub(aq_vnni_ps a, aq_vnni_ps b) { return _mm256_sub_ps(a, b); }
static inline aq_vnni_ps aq_vnni_mul(aq_vnni_ps a, aq_vnni_ps b) { return _mm256_mul_ps(a, b); }
static inline aq_vnni_ps aq_vnni_reduce_cvt(const __m256i s[8]) { return _mm256_cvtepi32_ps(aq_avx2_reduce8(s)); }
static inline aq_vnni_ps aq_vnni_f16_lanes(const uint16_t *h, size_t nr, int by_row) {
    return aq_avx2_f16_lanes(h, nr, by_row);
}
static inline aq_vnni_ps aq_vnni_f32_token_lanes(const float *f, size_t nr) { return aq_avx2_f32_token_lanes(f, nr); }
static inline void aq_vnni_store_lanes(aq_vnni_ps acc, size_t mr, size_t nr, const struct aq_block_tile *t) {
    aq_avx2_store_lanes(acc, mr, nr, t);
}

#else
#error "block-gemm-vnni.h: build with -mavxvnni, or with -mavx512f -mavx512bw -mavx512vl -mavx512vnni"
#endif

/* MR 4 in both: prefill's tiles are 4 tokens x AQ_VNNI_LANES / 4 rows. */
#define AQ_VNNI_MR 4

#endif /* AQ_BLOCK_GEMM_VNNI_H */
