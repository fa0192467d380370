/* f32-attention.c - the reference attention step (f32-attention.h): the answer key
 * of the SIMD twins, and the kernel where there is none. Keys are scored, and
 * values summed, a few at a time: KEY_GROUP keys give independent dot products to
 * overlap, and each pass over the accumulators adds VALUE_GROUP values, so they
 * load and store once per group, not per key; each sum keeps the key-by-key order. */
#include "f32-attention.h"

#include <math.h>
#include <stdbool.h>

#define KEY_GROUP 4
#define VALUE_GROUP 8
#define Q AQ_ATTN_QUERIES

void aq_f32_attention_ref(aq_attn_tile *t, size_t n_keys, const float *const *keys, const float *const *values,
                          const float *bias, float *first_score) {
    const size_t hd = t->head_dim;
    const float *qt = t->qt;
    float *acc = t->acc;
    float p[AQ_ATTN_KEYS][Q]; /* the scores, then their weights e^(score - max) */
    for (size_t j0 = 0; j0 < n_keys; j0 += KEY_GROUP) {
        /* Past the end a group repeats its first key; those scores are dropped. */
        const float *k[KEY_GROUP];
        for (size_t g = 0; g < KEY_GROUP; g++) k[g] = j0 + g < n_keys ? keys[j0 + g] : keys[j0];
        float s[KEY_GROUP][Q] = {{0}};
        for (size_t d = 0; d < hd; d++)
            for (size_t g = 0; g < KEY_GROUP; g++)
                for (size_t i = 0; i < Q; i++) s[g][i] += qt[d * Q + i] * k[g][d];
        for (size_t g = 0; g < KEY_GROUP && j0 + g < n_keys; g++)
            for (size_t i = 0; i < Q; i++) {
                const float b = bias[(j0 + g) * Q + i];
                p[j0 + g][i] = b == -INFINITY ? -INFINITY : s[g][i] + b;
            }
    }
    if (first_score)
        for (size_t i = 0; i < Q; i++) first_score[i] = p[0][i];
    float block_max[Q], rescale[Q], shift[Q];
    for (size_t i = 0; i < Q; i++) block_max[i] = t->max_score[i];
    for (size_t j = 0; j < n_keys; j++)
        for (size_t i = 0; i < Q; i++) block_max[i] = p[j][i] > block_max[i] ? p[j][i] : block_max[i];
    bool rescaled = false;
    for (size_t i = 0; i < Q; i++) {
        /* Still no visible key: keep everything at zero (and -inf - -inf away from exp). */
        rescale[i] = block_max[i] == -INFINITY ? 1.0f : aq_exp_nonpositive(t->max_score[i] - block_max[i]);
        rescaled = rescaled || rescale[i] != 1.0f;
        t->denom[i] *= rescale[i];
        t->max_score[i] = block_max[i];
        /* A finite maximum, so that a masked score (-inf) gives e^-inf = 0, never NaN. */
        shift[i] = block_max[i] == -INFINITY ? 0.0f : block_max[i];
    }
    if (rescaled)
        for (size_t d = 0; d < hd; d++)
            for (size_t i = 0; i < Q; i++) acc[d * Q + i] *= rescale[i];
    for (size_t j = 0; j < n_keys; j++)
        for (size_t i = 0; i < Q; i++) p[j][i] = aq_exp_nonpositive(p[j][i] - shift[i]);
    for (size_t j = 0; j < n_keys; j++)
        for (size_t i = 0; i < Q; i++) t->denom[i] += p[j][i];
    for (size_t j0 = 0; j0 < n_keys; j0 += VALUE_GROUP) {
        const size_t n = n_keys - j0 < VALUE_GROUP ? n_keys - j0 : VALUE_GROUP;
        /* A zero weight (a masked key, or one far under the maximum) is skipped, not
         * multiplied, so that a masked key's non-finite value cannot leak. */
        for (size_t d = 0; d < hd; d++)
            for (size_t i = 0; i < Q; i++) {
                float a = acc[d * Q + i];
                for (size_t g = 0; g < n; g++) {
                    const float w = p[j0 + g][i], sum = a + w * values[j0 + g][d];
                    a = w != 0.0f ? sum : a;
                }
                acc[d * Q + i] = a;
            }
    }
}
