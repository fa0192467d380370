/* f32-attention-8x8-avx512vnni.c - the attention step (f32-attention.h) with
 * 512-bit registers, bit for bit aq_f32_attention_ref. A tile has only 8 queries,
 * so a register holds each query twice: lane 2i + b is query i with key b of a
 * pair of keys (scores), or with element b of a pair of a value's elements (the
 * weighted sum). Every instruction then does two of the AVX2 kernel's, and every
 * lane's sum is still the reference's, in its order, products and sums apart
 * (never FMA). The element pairs come straight from memory (one 64-bit broadcast);
 * key pairs are interleaved into a small buffer first. Uses AVX-512 F and VL only:
 * the list's AVX-512 level. */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "ukernels.h"

#define Q AQ_ATTN_QUERIES
#define PAIRS 4       /* key pairs per scoring pass: 8 keys, as the AVX2 kernel */
#define CHUNK_DIMS 64 /* key elements interleaved at a time */
#define VALUE_PAIRS 8 /* element pairs of the accumulators held in registers */

/* aq_exp_nonpositive in lanes, operation for operation. */
static __m512 exp_nonpositive(__m512 x) {
    const __m512 zero = _mm512_setzero_ps(), low = _mm512_set1_ps(-87.0f);
    const __mmask16 nonpositive = _mm512_cmp_ps_mask(x, zero, _CMP_LE_OQ);
    /* x >= -87 ? (x <= 0 ? x : 0) : -87, a NaN taking -87 as in the reference. */
    const __m512 upper = _mm512_mask_blend_ps(nonpositive, zero, x);
    const __m512 clamped = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, low, _CMP_GE_OQ), low, upper);
    const __m512 round = _mm512_set1_ps(12582912.0f);
    const __m512 n = _mm512_sub_ps(_mm512_add_ps(_mm512_mul_ps(clamped, _mm512_set1_ps(1.44269504f)), round), round);
    const __m512 r = _mm512_sub_ps(_mm512_sub_ps(clamped, _mm512_mul_ps(n, _mm512_set1_ps(0.693145752f))),
                                   _mm512_mul_ps(n, _mm512_set1_ps(1.42860677e-6f)));
    __m512 poly = _mm512_set1_ps(1.0f / 5040.0f);
    poly = _mm512_add_ps(_mm512_mul_ps(poly, r), _mm512_set1_ps(1.0f / 720.0f));
    poly = _mm512_add_ps(_mm512_mul_ps(poly, r), _mm512_set1_ps(1.0f / 120.0f));
    poly = _mm512_add_ps(_mm512_mul_ps(poly, r), _mm512_set1_ps(1.0f / 24.0f));
    poly = _mm512_add_ps(_mm512_mul_ps(poly, r), _mm512_set1_ps(1.0f / 6.0f));
    poly = _mm512_add_ps(_mm512_mul_ps(poly, r), _mm512_set1_ps(0.5f));
    poly = _mm512_add_ps(_mm512_mul_ps(poly, r), _mm512_set1_ps(1.0f));
    poly = _mm512_add_ps(_mm512_mul_ps(poly, r), _mm512_set1_ps(1.0f));
    const __m512i bits = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvttps_epi32(n), _mm512_set1_epi32(127)), 23);
    const __m512 y = _mm512_mul_ps(poly, _mm512_castsi512_ps(bits));
    /* x < -87 ? 0 : x <= 0 ? y : NaN */
    const __m512 in_range = _mm512_mask_blend_ps(nonpositive, _mm512_set1_ps(NAN), y);
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, low, _CMP_LT_OQ), in_range, zero);
}

static __m256 exp_nonpositive_8(__m256 x) { return _mm512_castps512_ps256(exp_nonpositive(_mm512_zextps256_ps512(x))); }

/* Two floats from memory in every lane pair: lanes 2i, 2i + 1 = f[0], f[1]. */
static inline __m512 broadcast_pair(const float *f) {
    double pair;
    memcpy(&pair, f, sizeof pair);
    return _mm512_castpd_ps(_mm512_set1_pd(pair));
}

/* The 8 lanes of x, each twice: lane 2i + b = x[i]. */
static inline __m512 each_twice(__m256 x) {
    const __m512i twice = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
    return _mm512_permutexvar_ps(twice, _mm512_castps256_ps512(x));
}

/* x in both halves (AVX-512 F has no VBROADCASTF32X8: its 64-bit twin). */
static inline __m512 both_halves(__m256 x) { return _mm512_castpd_ps(_mm512_broadcast_f64x4(_mm256_castps_pd(x))); }

/* Lane 2i + b to lane 8b + i, and back: from pairs of keys (or elements) per
 * query to the tile's layout, 8 queries of one key (or element), then the next. */
static inline __m512 pairs_to_halves(__m512 x) {
    return _mm512_permutexvar_ps(_mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15), x);
}
static inline __m512 halves_to_pairs(__m512 x) {
    return _mm512_permutexvar_ps(_mm512_setr_epi32(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15), x);
}

/* out[2e + b] = (b ? second : first)[e], e < n. */
static void interleave(const float *first, const float *second, size_t n, float *out) {
    const __m512i low = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i high = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    size_t e = 0;
    for (; e + 16 <= n; e += 16) {
        const __m512 a = _mm512_loadu_ps(first + e), b = _mm512_loadu_ps(second + e);
        _mm512_storeu_ps(out + 2 * e, _mm512_permutex2var_ps(a, low, b));
        _mm512_storeu_ps(out + 2 * e + 16, _mm512_permutex2var_ps(a, high, b));
    }
    for (; e < n; e++) out[2 * e] = first[e], out[2 * e + 1] = second[e];
}

/* Scores of keys[0..n-1] (n <= 2 * PAIRS) into p (and key 0's into first, unless
 * NULL); a pair past n repeats keys[0], its scores masked. */
static void score_keys(size_t hd, const float *qt, const float *const *keys, size_t n, const float *bias, float *p,
                       float *first) {
    const float *k[2 * PAIRS];
    for (size_t g = 0; g < 2 * PAIRS; g++) k[g] = g < n ? keys[g] : keys[0];
    __m512 s[PAIRS];
    for (size_t g = 0; g < PAIRS; g++) s[g] = _mm512_setzero_ps();
    float kp[PAIRS][2 * CHUNK_DIMS];
    for (size_t d0 = 0; d0 < hd; d0 += CHUNK_DIMS) {
        const size_t dims = hd - d0 < CHUNK_DIMS ? hd - d0 : CHUNK_DIMS;
        for (size_t g = 0; g < PAIRS; g++) interleave(k[2 * g] + d0, k[2 * g + 1] + d0, dims, kp[g]);
        for (size_t d = 0; d < dims; d++) {
            const __m512 q = each_twice(_mm256_loadu_ps(qt + (d0 + d) * Q));
            for (size_t g = 0; g < PAIRS; g++)
                s[g] = _mm512_add_ps(s[g], _mm512_mul_ps(q, broadcast_pair(kp[g] + 2 * d)));
        }
    }
    /* Every pair's rows are written (p has room: AQ_ATTN_KEYS is a multiple of
     * 2 * PAIRS), masked past n; rows past n are never read. */
    const __m512 masked = _mm512_set1_ps(-INFINITY);
    for (size_t g = 0; g < PAIRS; g++) {
        const __mmask16 present = (2 * g < n ? 0x00FFu : 0u) | (2 * g + 1 < n ? 0xFF00u : 0u);
        const __m512 b = _mm512_mask_loadu_ps(masked, present, bias + 2 * g * Q);
        const __m512 score = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(b, masked, _CMP_EQ_OQ),
                                                  _mm512_add_ps(pairs_to_halves(s[g]), b), masked);
        _mm512_storeu_ps(p + 2 * g * Q, score);
    }
    if (first) memcpy(first, p, Q * sizeof *first);
}

/* acc[d * Q + i] for d in [2 m0, 2 (m0 + count)) += the weighted values of the n keys,
 * each lane's sum in key order, a zero weight skipped (the reference's select). */
static inline void add_values(size_t m0, size_t count, float *acc, const float *const *values, size_t n,
                              const float *weights, const __mmask16 *nonzero, bool rescaled, __m512 rescale) {
    __m512 a[VALUE_PAIRS];
    for (size_t e = 0; e < count; e++) {
        const __m512 old = _mm512_loadu_ps(acc + 2 * (m0 + e) * Q);
        a[e] = halves_to_pairs(rescaled ? _mm512_mul_ps(old, rescale) : old);
    }
    for (size_t j = 0; j < n; j++) {
        const __m512 w = _mm512_loadu_ps(weights + j * 2 * Q);
        for (size_t e = 0; e < count; e++)
            a[e] =
                _mm512_mask_add_ps(a[e], nonzero[j], a[e], _mm512_mul_ps(w, broadcast_pair(values[j] + 2 * (m0 + e))));
    }
    for (size_t e = 0; e < count; e++) _mm512_storeu_ps(acc + 2 * (m0 + e) * Q, pairs_to_halves(a[e]));
}

void aq_f32_attention_8x8__avx512vnni(aq_attn_tile *t, size_t n_keys, const float *const *keys,
                                      const float *const *values, const float *bias, float *first_score) {
    const size_t hd = t->head_dim;
    float p[AQ_ATTN_KEYS * Q];
    for (size_t j0 = 0; j0 < n_keys; j0 += 2 * PAIRS)
        score_keys(hd, t->qt, keys + j0, n_keys - j0 < 2 * PAIRS ? n_keys - j0 : 2 * PAIRS, bias + j0 * Q, p + j0 * Q,
                   j0 == 0 ? first_score : NULL);
    const __m256 old_max = _mm256_loadu_ps(t->max_score), none = _mm256_set1_ps(-INFINITY);
    __m256 block_max = old_max;
    /* VMAXPS(a, b) is a > b ? a : b, the reference's comparison. */
    for (size_t j = 0; j < n_keys; j++) block_max = _mm256_max_ps(_mm256_loadu_ps(p + j * Q), block_max);
    const __mmask8 empty = _mm256_cmp_ps_mask(block_max, none, _CMP_EQ_OQ);
    const __m256 rescale =
        _mm256_mask_blend_ps(empty, exp_nonpositive_8(_mm256_sub_ps(old_max, block_max)), _mm256_set1_ps(1.0f));
    __m256 denom = _mm256_mul_ps(_mm256_loadu_ps(t->denom), rescale);
    _mm256_storeu_ps(t->max_score, block_max);
    const bool rescaled = _mm256_cmp_ps_mask(rescale, _mm256_set1_ps(1.0f), _CMP_NEQ_UQ) != 0;
    /* Two keys a register: rows past n_keys (in p, never read) are computed too. */
    const __m512 shift = both_halves(_mm256_mask_blend_ps(empty, block_max, _mm256_setzero_ps()));
    for (size_t j = 0; j < n_keys; j += 2)
        _mm512_storeu_ps(p + j * Q, exp_nonpositive(_mm512_sub_ps(_mm512_loadu_ps(p + j * Q), shift)));
    for (size_t j = 0; j < n_keys; j++) denom = _mm256_add_ps(denom, _mm256_loadu_ps(p + j * Q));
    _mm256_storeu_ps(t->denom, denom);

    float weights[AQ_ATTN_KEYS * 2 * Q]; /* key j's weights, each twice */
    __mmask16 nonzero[AQ_ATTN_KEYS];
    for (size_t j = 0; j < n_keys; j++) {
        const __m512 w = each_twice(_mm256_loadu_ps(p + j * Q));
        _mm512_storeu_ps(weights + j * 2 * Q, w);
        nonzero[j] = _mm512_cmp_ps_mask(w, _mm512_setzero_ps(), _CMP_NEQ_UQ); /* NaN != 0, as in C */
    }
    const __m512 rescale_halves = both_halves(rescale);
    const size_t pairs = hd / 2;
    size_t m0 = 0;
    for (; m0 + VALUE_PAIRS <= pairs; m0 += VALUE_PAIRS)
        add_values(m0, VALUE_PAIRS, t->acc, values, n_keys, weights, nonzero, rescaled, rescale_halves);
    for (; m0 < pairs; m0++) add_values(m0, 1, t->acc, values, n_keys, weights, nonzero, rescaled, rescale_halves);
    if (hd % 2) { /* the last element alone: 8 lanes */
        float *acc = t->acc + (hd - 1) * Q;
        __m256 a = _mm256_loadu_ps(acc);
        if (rescaled) a = _mm256_mul_ps(a, rescale);
        for (size_t j = 0; j < n_keys; j++) {
            const __m256 w = _mm256_loadu_ps(p + j * Q);
            a = _mm256_mask_add_ps(a, _mm256_cmp_ps_mask(w, _mm256_setzero_ps(), _CMP_NEQ_UQ), a,
                                   _mm256_mul_ps(w, _mm256_broadcast_ss(values[j] + hd - 1)));
        }
        _mm256_storeu_ps(acc, a);
    }
}
