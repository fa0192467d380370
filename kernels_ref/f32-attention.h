/* Attention of a tile of AQ_ATTN_QUERIES queries of one head against one block of
 * keys, with a running softmax maximum (no score matrix): the inner step of
 * lib/runtime/attention.c, which owns the tiling, the cache and the mask. */
#ifndef AQ_F32_ATTENTION_H
#define AQ_F32_ATTENTION_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Queries per tile: one float lane each in an AVX2 register. Keys per call: at
 * most AQ_ATTN_KEYS, so that the kernels keep the block's scores on the stack. */
#define AQ_ATTN_QUERIES 8
#define AQ_ATTN_KEYS 64

/* A tile's running state, query index fastest everywhere: qt[d * 8 + i] is
 * element d of query i (already times 1 / sqrt(head_dim)), acc[d * 8 + i] the
 * weighted sum of values so far. Start: acc 0, max_score -inf, denom 0. */
typedef struct aq_attn_tile {
    size_t head_dim;
    const float *qt; /* head_dim * AQ_ATTN_QUERIES floats */
    float *acc;      /* head_dim * AQ_ATTN_QUERIES floats */
    float max_score[AQ_ATTN_QUERIES], denom[AQ_ATTN_QUERIES];
} aq_attn_tile;

/* Folds n_keys (1..AQ_ATTN_KEYS) keys into the tile: key j (keys[j], values[j]: head_dim floats)
 * scores s = q . k + bias[j * 8 + i] for query i, where bias -inf means query i
 * does not see key j (its score is -inf whatever q . k is, and a zero weight
 * never multiplies its value); any other bias must be finite. The maximum is
 * updated once per call, the accumulators rescaled, and e^(s - max) added to denom
 * and, times the value, to acc. first_score, unless NULL, receives key 0's scores.
 * Every kernel of the list gives the reference's bits: each sum is taken in the
 * reference's order, with no fused multiply-add. */
typedef void (*aq_f32_attention_fn)(aq_attn_tile *t, size_t n_keys, const float *const *keys,
                                    const float *const *values, const float *bias, float *first_score);

void aq_f32_attention_ref(aq_attn_tile *t, size_t n_keys, const float *const *keys, const float *const *values,
                          const float *bias, float *first_score);

/* e^x for x <= 0, to ~2 ulp, in operations a SIMD twin repeats one for one (expf
 * is a library call). Below -87 (a masked key, or a score far under the maximum)
 * it returns 0; a NaN or a positive x (scores that overflowed) gives NaN, never
 * undefined behaviour: the exponent is computed from a value clamped into [-87, 0]. */
static inline float aq_exp_nonpositive(float x) {
    const float clamped = x >= -87.0f ? (x <= 0.0f ? x : 0.0f) : -87.0f; /* NaN -> -87 */
    /* Round clamped * log2(e) to an integer n by the 1.5 * 2^23 trick. */
    const float n = (clamped * 1.44269504f + 12582912.0f) - 12582912.0f;
    const float r = (clamped - n * 0.693145752f) - n * 1.42860677e-6f; /* ln 2 in two parts */
    float poly = 1.0f / 5040.0f;
    poly = poly * r + 1.0f / 720.0f;
    poly = poly * r + 1.0f / 120.0f;
    poly = poly * r + 1.0f / 24.0f;
    poly = poly * r + 1.0f / 6.0f;
    poly = poly * r + 0.5f;
    poly = poly * r + 1.0f;
    poly = poly * r + 1.0f;
    const int32_t bits = ((int32_t)n + 127) << 23; /* 2^n, n in [-126, 0] */
    float two_n;
    memcpy(&two_n, &bits, sizeof two_n);
    return x < -87.0f ? 0.0f : x <= 0.0f ? poly * two_n : NAN; /* NaN in, NaN out */
}

#endif
