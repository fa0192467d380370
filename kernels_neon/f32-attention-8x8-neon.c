/* f32-attention-8x8-neon.c - the attention step (f32-attention.h) with the tile's
 * 8 queries in the lanes of two 4-lane registers and 8 keys per pass, bit for bit
 * aq_f32_attention_ref, as the AVX2 twin (f32-attention-8x8-avx2.c): a key's
 * element, as a lane operand, multiplies all queries at once, so every score and
 * every accumulator is the reference's sum in the reference's order, one lane
 * each. Products and sums are separate FMUL and FADD, never FMLA, which rounds once
 * where the reference rounds twice (lib/kernels/meson.build keeps the compiler from
 * fusing the reference's own a + b * c). Maxima are compare-and-select, not FMAX,
 * which returns a NaN operand where the reference's a > b ? a : b returns b. */
#include <arm_neon.h>
#include <math.h>
#include <stdbool.h>

#include "ukernels.h"

#define Q AQ_ATTN_QUERIES
#define G 8 /* keys per pass */

/* The tile's 8 queries: lanes 0-3 and 4-7. */
typedef struct {
    float32x4_t lo, hi;
} v8;
typedef struct {
    uint32x4_t lo, hi;
} m8;

static inline v8 v8_load(const float *p) { return (v8){vld1q_f32(p), vld1q_f32(p + 4)}; }
static inline void v8_store(float *p, v8 a) {
    vst1q_f32(p, a.lo);
    vst1q_f32(p + 4, a.hi);
}
static inline v8 v8_dup(float x) { return (v8){vdupq_n_f32(x), vdupq_n_f32(x)}; }
static inline v8 v8_add(v8 a, v8 b) { return (v8){vaddq_f32(a.lo, b.lo), vaddq_f32(a.hi, b.hi)}; }
static inline v8 v8_sub(v8 a, v8 b) { return (v8){vsubq_f32(a.lo, b.lo), vsubq_f32(a.hi, b.hi)}; }
static inline v8 v8_mul(v8 a, v8 b) { return (v8){vmulq_f32(a.lo, b.lo), vmulq_f32(a.hi, b.hi)}; }
/* a times lane l of v (a constant) */
#define V8_MUL_LANE(a, v, l) ((v8){vmulq_laneq_f32((a).lo, v, l), vmulq_laneq_f32((a).hi, v, l)})
/* m ? a : b, lane by lane */
static inline v8 v8_sel(m8 m, v8 a, v8 b) { return (v8){vbslq_f32(m.lo, a.lo, b.lo), vbslq_f32(m.hi, a.hi, b.hi)}; }
static inline m8 v8_le(v8 a, v8 b) { return (m8){vcleq_f32(a.lo, b.lo), vcleq_f32(a.hi, b.hi)}; }
static inline m8 v8_ge(v8 a, v8 b) { return (m8){vcgeq_f32(a.lo, b.lo), vcgeq_f32(a.hi, b.hi)}; }
static inline m8 v8_lt(v8 a, v8 b) { return (m8){vcltq_f32(a.lo, b.lo), vcltq_f32(a.hi, b.hi)}; }
static inline m8 v8_gt(v8 a, v8 b) { return (m8){vcgtq_f32(a.lo, b.lo), vcgtq_f32(a.hi, b.hi)}; }
static inline m8 v8_eq(v8 a, v8 b) { return (m8){vceqq_f32(a.lo, b.lo), vceqq_f32(a.hi, b.hi)}; }
static inline m8 m8_and(m8 a, m8 b) { return (m8){vandq_u32(a.lo, b.lo), vandq_u32(a.hi, b.hi)}; }
static inline m8 m8_or(m8 a, m8 b) { return (m8){vorrq_u32(a.lo, b.lo), vorrq_u32(a.hi, b.hi)}; }
static inline bool m8_any(m8 m) { return vmaxvq_u32(vorrq_u32(m.lo, m.hi)) != 0; }

/* aq_exp_nonpositive in lanes, operation for operation. */
static v8 exp_nonpositive(v8 x) {
    const v8 zero = v8_dup(0.0f), low = v8_dup(-87.0f);
    /* x >= -87 ? (x <= 0 ? x : 0) : -87, a NaN taking -87 as in the reference. */
    const v8 clamped = v8_sel(v8_ge(x, low), v8_sel(v8_le(x, zero), x, zero), low);
    const v8 round = v8_dup(12582912.0f);
    const v8 n = v8_sub(v8_add(v8_mul(clamped, v8_dup(1.44269504f)), round), round);
    const v8 r = v8_sub(v8_sub(clamped, v8_mul(n, v8_dup(0.693145752f))), v8_mul(n, v8_dup(1.42860677e-6f)));
    v8 poly = v8_dup(1.0f / 5040.0f);
    poly = v8_add(v8_mul(poly, r), v8_dup(1.0f / 720.0f));
    poly = v8_add(v8_mul(poly, r), v8_dup(1.0f / 120.0f));
    poly = v8_add(v8_mul(poly, r), v8_dup(1.0f / 24.0f));
    poly = v8_add(v8_mul(poly, r), v8_dup(1.0f / 6.0f));
    poly = v8_add(v8_mul(poly, r), v8_dup(0.5f));
    poly = v8_add(v8_mul(poly, r), v8_dup(1.0f));
    poly = v8_add(v8_mul(poly, r), v8_dup(1.0f));
    const int32x4_t bias = vdupq_n_s32(127);
    const v8 two_n = {vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n.lo), bias), 23)),
                      vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n.hi), bias), 23))};
    /* x < -87 ? 0 : x <= 0 ? y : NaN */
    const v8 in_range = v8_sel(v8_le(x, zero), v8_mul(poly, two_n), v8_dup(NAN));
    return v8_sel(v8_lt(x, low), zero, in_range);
}

/* Scores of keys[0..n-1] into p (and key 0's into first, unless NULL); a key
 * past n repeats keys[0], its scores dropped. Four elements of each key per load,
 * each taken as a lane operand. */
static void score_keys(size_t hd, const float *qt, const float *const *keys, size_t n, const float *bias, float *p,
                       float *first) {
    const float *k[G];
    for (size_t g = 0; g < G; g++) k[g] = g < n ? keys[g] : keys[0];
    v8 s[G];
    for (size_t g = 0; g < G; g++) s[g] = v8_dup(0.0f);
    size_t d = 0;
    for (; d + 4 <= hd; d += 4) {
        const v8 q0 = v8_load(qt + d * Q), q1 = v8_load(qt + (d + 1) * Q), q2 = v8_load(qt + (d + 2) * Q),
                 q3 = v8_load(qt + (d + 3) * Q);
        for (size_t g = 0; g < G; g++) {
            const float32x4_t kv = vld1q_f32(k[g] + d);
            s[g] = v8_add(s[g], V8_MUL_LANE(q0, kv, 0));
            s[g] = v8_add(s[g], V8_MUL_LANE(q1, kv, 1));
            s[g] = v8_add(s[g], V8_MUL_LANE(q2, kv, 2));
            s[g] = v8_add(s[g], V8_MUL_LANE(q3, kv, 3));
        }
    }
    for (; d < hd; d++) {
        const v8 q = v8_load(qt + d * Q);
        for (size_t g = 0; g < G; g++) s[g] = v8_add(s[g], v8_mul(q, v8_dup(k[g][d])));
    }
    const v8 masked = v8_dup(-INFINITY);
    for (size_t g = 0; g < G && g < n; g++) {
        const v8 b = v8_load(bias + g * Q);
        const v8 score = v8_sel(v8_eq(b, masked), masked, v8_add(s[g], b));
        v8_store(p + g * Q, score);
        if (first && g == 0) v8_store(first, score);
    }
}

/* acc += the weighted values of n <= G keys, each lane's sum in key order, a zero
 * weight skipped (the reference's select): lanes whose weights are all non-zero or
 * all zero take one pass and one final select; a lane mixing both (a query on the
 * causal diagonal) goes key by key. */
static inline void add_values(size_t hd, float *acc, const float *const *values, size_t n, const float *p) {
    const v8 zero = v8_dup(0.0f);
    v8 w[G];
    m8 any_zero = {vdupq_n_u32(0), vdupq_n_u32(0)}, all_zero = {vdupq_n_u32(~0u), vdupq_n_u32(~0u)};
    for (size_t g = 0; g < n; g++) {
        w[g] = v8_load(p + g * Q);
        const m8 z = v8_eq(w[g], zero);
        any_zero = m8_or(any_zero, z), all_zero = m8_and(all_zero, z);
    }
    const m8 mixed = {veorq_u32(any_zero.lo, all_zero.lo), veorq_u32(any_zero.hi, all_zero.hi)};
    if (!m8_any(mixed)) {
        const bool keep_some = m8_any(all_zero);
        /* Four elements at a time, each value's four loaded together and taken as
         * lane operands: four chains of n dependent adds side by side. The lanes
         * to keep (all weights zero) reload their old sums from acc. */
        size_t d = 0;
        for (; d + 4 <= hd; d += 4) {
            v8 a[4];
            for (size_t e = 0; e < 4; e++) a[e] = v8_load(acc + (d + e) * Q);
            for (size_t g = 0; g < n; g++) {
                const float32x4_t v = vld1q_f32(values[g] + d);
                a[0] = v8_add(a[0], V8_MUL_LANE(w[g], v, 0));
                a[1] = v8_add(a[1], V8_MUL_LANE(w[g], v, 1));
                a[2] = v8_add(a[2], V8_MUL_LANE(w[g], v, 2));
                a[3] = v8_add(a[3], V8_MUL_LANE(w[g], v, 3));
            }
            for (size_t e = 0; e < 4; e++) {
                float *at = acc + (d + e) * Q;
                v8_store(at, keep_some ? v8_sel(all_zero, v8_load(at), a[e]) : a[e]);
            }
        }
        for (; d < hd; d++) {
            v8 a = v8_load(acc + d * Q);
            for (size_t g = 0; g < n; g++) a = v8_add(a, v8_mul(w[g], v8_dup(values[g][d])));
            v8_store(acc + d * Q, keep_some ? v8_sel(all_zero, v8_load(acc + d * Q), a) : a);
        }
        return;
    }
    for (size_t g = 0; g < n; g++) {
        const m8 skip = v8_eq(w[g], zero);
        for (size_t d = 0; d < hd; d++) {
            const v8 a = v8_load(acc + d * Q);
            v8_store(acc + d * Q, v8_sel(skip, a, v8_add(a, v8_mul(w[g], v8_dup(values[g][d])))));
        }
    }
}

void aq_f32_attention_8x8__neon(aq_attn_tile *t, size_t n_keys, const float *const *keys, const float *const *values,
                                const float *bias, float *first_score) {
    const size_t hd = t->head_dim;
    float p[AQ_ATTN_KEYS * Q];
    for (size_t j0 = 0; j0 < n_keys; j0 += G)
        score_keys(hd, t->qt, keys + j0, n_keys - j0 < G ? n_keys - j0 : G, bias + j0 * Q, p + j0 * Q,
                   j0 == 0 ? first_score : NULL);
    const v8 old_max = v8_load(t->max_score), none = v8_dup(-INFINITY), one = v8_dup(1.0f);
    v8 block_max = old_max;
    for (size_t j = 0; j < n_keys; j++) {
        const v8 s = v8_load(p + j * Q);
        block_max = v8_sel(v8_gt(s, block_max), s, block_max);
    }
    const m8 empty = v8_eq(block_max, none);
    const v8 rescale = v8_sel(empty, one, exp_nonpositive(v8_sub(old_max, block_max)));
    v8 denom = v8_mul(v8_load(t->denom), rescale);
    v8_store(t->max_score, block_max);
    /* rescale != 1, a NaN included */
    const m8 is_one = v8_eq(rescale, one);
    if (vminvq_u32(vandq_u32(is_one.lo, is_one.hi)) == 0)
        for (size_t d = 0; d < hd; d++) v8_store(t->acc + d * Q, v8_mul(v8_load(t->acc + d * Q), rescale));
    const v8 shift = v8_sel(empty, v8_dup(0.0f), block_max);
    for (size_t j = 0; j < n_keys; j++) {
        const v8 w = exp_nonpositive(v8_sub(v8_load(p + j * Q), shift));
        v8_store(p + j * Q, w);
        denom = v8_add(denom, w);
    }
    v8_store(t->denom, denom);
    /* Whole groups apart, so that their loops over G keys unroll, weights in registers. */
    size_t j0 = 0;
    for (; j0 + G <= n_keys; j0 += G) add_values(hd, t->acc, values + j0, G, p + j0 * Q);
    if (j0 < n_keys) add_values(hd, t->acc, values + j0, n_keys - j0, p + j0 * Q);
}
