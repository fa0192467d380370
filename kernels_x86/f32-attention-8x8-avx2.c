/* f32-attention-8x8-avx2.c - the attention step (f32-attention.h) with the tile's
 * 8 queries in the 8 lanes of a register and 8 keys per pass, bit for bit
 * aq_f32_attention_ref: a key's element, broadcast, multiplies all queries at once,
 * so every score and every accumulator is the reference's sum in the reference's
 * order, one lane each. Products and sums are separate VMULPS and VADDPS, never
 * FMA, which rounds once where the reference rounds twice; on the AMD cores this
 * targets they issue on separate pipes, so this costs no throughput. */
#include <immintrin.h>
#include <math.h>

#include "ukernels.h"

#define Q AQ_ATTN_QUERIES
#define G 8 /* keys per pass */

/* aq_exp_nonpositive in lanes, operation for operation. */
static __m256 exp_nonpositive(__m256 x) {
    const __m256 zero = _mm256_setzero_ps(), low = _mm256_set1_ps(-87.0f);
    /* x >= -87 ? (x <= 0 ? x : 0) : -87, a NaN taking -87 as in the reference. */
    const __m256 upper = _mm256_blendv_ps(zero, x, _mm256_cmp_ps(x, zero, _CMP_LE_OQ));
    const __m256 clamped = _mm256_blendv_ps(low, upper, _mm256_cmp_ps(x, low, _CMP_GE_OQ));
    const __m256 round = _mm256_set1_ps(12582912.0f);
    const __m256 n = _mm256_sub_ps(_mm256_add_ps(_mm256_mul_ps(clamped, _mm256_set1_ps(1.44269504f)), round), round);
    const __m256 r = _mm256_sub_ps(_mm256_sub_ps(clamped, _mm256_mul_ps(n, _mm256_set1_ps(0.693145752f))),
                                   _mm256_mul_ps(n, _mm256_set1_ps(1.42860677e-6f)));
    __m256 poly = _mm256_set1_ps(1.0f / 5040.0f);
    poly = _mm256_add_ps(_mm256_mul_ps(poly, r), _mm256_set1_ps(1.0f / 720.0f));
    poly = _mm256_add_ps(_mm256_mul_ps(poly, r), _mm256_set1_ps(1.0f / 120.0f));
    poly = _mm256_add_ps(_mm256_mul_ps(poly, r), _mm256_set1_ps(1.0f / 24.0f));
    poly = _mm256_add_ps(_mm256_mul_ps(poly, r), _mm256_set1_ps(1.0f / 6.0f));
    poly = _mm256_add_ps(_mm256_mul_ps(poly, r), _mm256_set1_ps(0.5f));
    poly = _mm256_add_ps(_mm256_mul_ps(poly, r), _mm256_set1_ps(1.0f));
    poly = _mm256_add_ps(_mm256_mul_ps(poly, r), _mm256_set1_ps(1.0f));
    const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvttps_epi32(n), _mm256_set1_epi32(127)), 23);
    const __m256 y = _mm256_mul_ps(poly, _mm256_castsi256_ps(bits));
    /* x < -87 ? 0 : x <= 0 ? y : NaN */
    const __m256 in_range = _mm256_blendv_ps(_mm256_set1_ps(NAN), y, _mm256_cmp_ps(x, zero, _CMP_LE_OQ));
    return _mm256_blendv_ps(in_range, zero, _mm256_cmp_ps(x, low, _CMP_LT_OQ));
}

/* Scores of keys[0..n-1] into p (and key 0's into first, unless NULL); a
 * group past n repeats keys[0], its scores dropped. */
static void score_keys(size_t hd, const float *qt, const float *const *keys, size_t n, const float *bias, float *p,
                       float *first) {
    const float *k[G];
    for (size_t g = 0; g < G; g++) k[g] = g < n ? keys[g] : keys[0];
    __m256 s[G];
    for (size_t g = 0; g < G; g++) s[g] = _mm256_setzero_ps();
    for (size_t d = 0; d < hd; d++) {
        const __m256 q = _mm256_loadu_ps(qt + d * Q);
        for (size_t g = 0; g < G; g++) s[g] = _mm256_add_ps(s[g], _mm256_mul_ps(q, _mm256_broadcast_ss(k[g] + d)));
    }
    /* Every group row is written (p has room: AQ_ATTN_KEYS is a multiple of G), so
     * that the scores stay in registers; rows past n are never read. */
    const __m256 masked = _mm256_set1_ps(-INFINITY);
    for (size_t g = 0; g < G; g++) {
        const __m256 b = g < n ? _mm256_loadu_ps(bias + g * Q) : masked;
        const __m256 score = _mm256_blendv_ps(_mm256_add_ps(s[g], b), masked, _mm256_cmp_ps(b, masked, _CMP_EQ_OQ));
        _mm256_storeu_ps(p + g * Q, score);
        if (first && g == 0) _mm256_storeu_ps(first, score);
    }
}

/* acc += the weighted values of n <= G keys, each lane's sum in key order, a zero
 * weight skipped (the reference's select): lanes whose weights are all non-zero or
 * all zero take one pass and one final select; a lane mixing both (a query on the
 * causal diagonal) goes key by key. */
static inline void add_values(size_t hd, float *acc, const float *const *values, size_t n, const float *p) {
    const __m256 zero = _mm256_setzero_ps();
    __m256 w[G];
    int any_zero = 0, all_zero = 0xFF;
    for (size_t g = 0; g < G; g++) {
        w[g] = g < n ? _mm256_loadu_ps(p + g * Q) : zero;
        const int z = _mm256_movemask_ps(_mm256_cmp_ps(w[g], zero, _CMP_EQ_OQ));
        if (g < n) any_zero |= z, all_zero &= z;
    }
    if (any_zero == all_zero) {
        const float *v[G];
        for (size_t g = 0; g < G; g++) v[g] = g < n ? values[g] : values[0]; /* times a zero weight, dropped */
        const __m256 keep = _mm256_castsi256_ps(_mm256_cmpeq_epi32(
            _mm256_and_si256(_mm256_set1_epi32(all_zero), _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128)),
            _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128)));
        /* Four elements at a time: each lane's sum is a chain of n dependent adds, so
         * four chains side by side keep the adders busy. */
        size_t d = 0;
        for (; d + 4 <= hd; d += 4) {
            __m256 a0[4], a[4];
            for (size_t e = 0; e < 4; e++) a0[e] = a[e] = _mm256_loadu_ps(acc + (d + e) * Q);
            for (size_t g = 0; g < n; g++)
                for (size_t e = 0; e < 4; e++)
                    a[e] = _mm256_add_ps(a[e], _mm256_mul_ps(w[g], _mm256_broadcast_ss(v[g] + d + e)));
            for (size_t e = 0; e < 4; e++)
                _mm256_storeu_ps(acc + (d + e) * Q, all_zero ? _mm256_blendv_ps(a[e], a0[e], keep) : a[e]);
        }
        for (; d < hd; d++) {
            const __m256 a0 = _mm256_loadu_ps(acc + d * Q);
            __m256 a = a0;
            for (size_t g = 0; g < n; g++) a = _mm256_add_ps(a, _mm256_mul_ps(w[g], _mm256_broadcast_ss(v[g] + d)));
            _mm256_storeu_ps(acc + d * Q, all_zero ? _mm256_blendv_ps(a, a0, keep) : a);
        }
        return;
    }
    for (size_t g = 0; g < n; g++) {
        const __m256 skip = _mm256_cmp_ps(w[g], zero, _CMP_EQ_OQ);
        for (size_t d = 0; d < hd; d++) {
            const __m256 a = _mm256_loadu_ps(acc + d * Q);
            const __m256 sum = _mm256_add_ps(a, _mm256_mul_ps(w[g], _mm256_broadcast_ss(values[g] + d)));
            _mm256_storeu_ps(acc + d * Q, _mm256_blendv_ps(sum, a, skip));
        }
    }
}

void aq_f32_attention_8x8__avx2(aq_attn_tile *t, size_t n_keys, const float *const *keys, const float *const *values,
                                const float *bias, float *first_score) {
    const size_t hd = t->head_dim;
    float p[AQ_ATTN_KEYS * Q];
    for (size_t j0 = 0; j0 < n_keys; j0 += G)
        score_keys(hd, t->qt, keys + j0, n_keys - j0 < G ? n_keys - j0 : G, bias + j0 * Q, p + j0 * Q,
                   j0 == 0 ? first_score : NULL);
    const __m256 old_max = _mm256_loadu_ps(t->max_score), none = _mm256_set1_ps(-INFINITY);
    __m256 block_max = old_max;
    /* VMAXPS(a, b) is a > b ? a : b, the reference's comparison. */
    for (size_t j = 0; j < n_keys; j++) block_max = _mm256_max_ps(_mm256_loadu_ps(p + j * Q), block_max);
    const __m256 empty = _mm256_cmp_ps(block_max, none, _CMP_EQ_OQ);
    const __m256 rescale =
        _mm256_blendv_ps(exp_nonpositive(_mm256_sub_ps(old_max, block_max)), _mm256_set1_ps(1.0f), empty);
    __m256 denom = _mm256_mul_ps(_mm256_loadu_ps(t->denom), rescale);
    _mm256_storeu_ps(t->max_score, block_max);
    if (_mm256_movemask_ps(_mm256_cmp_ps(rescale, _mm256_set1_ps(1.0f), _CMP_NEQ_UQ)))
        for (size_t d = 0; d < hd; d++)
            _mm256_storeu_ps(t->acc + d * Q, _mm256_mul_ps(_mm256_loadu_ps(t->acc + d * Q), rescale));
    const __m256 shift = _mm256_blendv_ps(block_max, _mm256_setzero_ps(), empty);
    for (size_t j = 0; j < n_keys; j++) {
        const __m256 w = exp_nonpositive(_mm256_sub_ps(_mm256_loadu_ps(p + j * Q), shift));
        _mm256_storeu_ps(p + j * Q, w);
        denom = _mm256_add_ps(denom, w);
    }
    _mm256_storeu_ps(t->denom, denom);
    /* Whole groups apart, so that their loops over G keys unroll, weights in registers. */
    size_t j0 = 0;
    for (; j0 + G <= n_keys; j0 += G) add_values(hd, t->acc, values + j0, G, p + j0 * Q);
    if (j0 < n_keys) add_values(hd, t->acc, values + j0, n_keys - j0, p + j0 * Q);
}
