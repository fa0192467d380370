/* Token sampling. The generator is xoroshiro128+ seeded through splitmix64,
 * so a seed fully determines the sequence on every platform.
 *
 * Sampling order: softmax(logits / T), keep the top_k most probable tokens,
 * then the smallest most-probable prefix of those whose mass, renormalised
 * over the top-k survivors (as llama.cpp's top-p does), reaches top_p; draw
 * from what is left in proportion to its probability. Ties in probability
 * rank the lower token id first, which makes top_k = 1 and a tiny top_p agree
 * with greedy decoding. */
#include "sampler.h"

#include <math.h>
#include <stdbool.h>
#include <stddef.h>

#include "prng.h"

void aq_sampler_seed(aq_sampler *s, uint64_t seed) {
    uint64_t state = seed;
    s->rng[0] = aq_splitmix64(&state);
    s->rng[1] = aq_splitmix64(&state);
    if (s->rng[0] == 0 && s->rng[1] == 0) s->rng[1] = 1; /* the all-zero state would stay zero forever */
}

void aq_sampler_init(aq_sampler *s, uint64_t seed) {
    s->temperature = 0.8f;
    s->top_k = 40;
    s->top_p = 0.95f;
    aq_sampler_seed(s, seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

double aq_sampler_uniform(aq_sampler *s) {
    uint64_t s0 = s->rng[0], s1 = s->rng[1];
    uint64_t result = s0 + s1;
    s1 ^= s0;
    s->rng[0] = rotl(s0, 24) ^ s1 ^ (s1 << 16);
    s->rng[1] = rotl(s1, 37);
    /* The top 53 bits are the well-mixed ones of a "+" generator. */
    return (double)(result >> 11) * 0x1.0p-53;
}

/* Lowest index of the largest non-NaN logit; -1 if all are NaN. */
static int32_t argmax(const float *logits, int32_t n) {
    int32_t best = -1;
    for (int32_t i = 0; i < n; i++) {
        if (isnan(logits[i])) continue;
        if (best < 0 || logits[i] > logits[best]) best = i;
    }
    return best;
}

/* Ranking of candidates: more probable first, then the lower id. */
static bool ranks_above(const float *prob, int32_t a, int32_t b) {
    return prob[a] > prob[b] || (prob[a] == prob[b] && a < b);
}

/* Min-heap on rank (the worst-ranked candidate at the root). */
static void sift_down(const float *prob, int32_t *heap, int32_t count, int32_t i) {
    int32_t item = heap[i];
    for (;;) {
        int32_t child = 2 * i + 1;
        if (child >= count) break;
        if (child + 1 < count && ranks_above(prob, heap[child], heap[child + 1])) child++;
        if (!ranks_above(prob, item, heap[child])) break;
        heap[i] = heap[child];
        i = child;
    }
    heap[i] = item;
}

/* Moves the k best-ranked of index[0..m) to index[0..k), best first:
 * O(m log k), no allocation. */
static void select_best_sorted(const float *prob, int32_t *index, int32_t m, int32_t k) {
    for (int32_t i = k / 2 - 1; i >= 0; i--) sift_down(prob, index, k, i);
    for (int32_t j = k; j < m; j++) {
        if (ranks_above(prob, index[j], index[0])) {
            index[0] = index[j];
            sift_down(prob, index, k, 0);
        }
    }
    /* Heapsort: taking the worst to the back leaves the best in front. */
    for (int32_t end = k - 1; end > 0; end--) {
        int32_t worst = index[0];
        index[0] = index[end];
        index[end] = worst;
        sift_down(prob, index, end, 0);
    }
}

int32_t aq_sampler_sample(aq_sampler *s, const float *logits, int32_t n, float *scratch_prob, int32_t *scratch_index) {
    if (s == NULL || logits == NULL || n <= 0 || scratch_prob == NULL || scratch_index == NULL) return -1;
    int32_t best = argmax(logits, n);
    /* NaN temperature counts as 0; top_k = 1 is greedy whatever the temperature. */
    if (best < 0 || !(s->temperature > 0.0f) || s->top_k == 1) return best;
    const float max_logit = logits[best];
    if (max_logit == -INFINITY) return best; /* no token has any probability; greedy is the only answer */

    /* Unnormalised probabilities of the candidates (zero-probability tokens
     * are left out). Infinite logits share the whole mass equally. */
    int32_t m = 0;
    const float inv_t = 1.0f / s->temperature;
    for (int32_t i = 0; i < n; i++) {
        float l = logits[i];
        if (isnan(l) || l == -INFINITY) continue;
        float p;
        if (max_logit == INFINITY)
            p = l == INFINITY ? 1.0f : 0.0f;
        else
            p = expf((l - max_logit) * inv_t); /* <= 1: no overflow */
        if (!(p > 0.0f)) continue;
        scratch_prob[i] = p;
        scratch_index[m++] = i;
    }
    if (m == 0) return best; /* everything but the maximum underflowed, and it too (inv_t = inf) */

    int32_t k = (s->top_k > 0 && s->top_k < m) ? s->top_k : m;
    bool use_top_p = s->top_p < 1.0f;
    if (k < m || use_top_p) select_best_sorted(scratch_prob, scratch_index, m, k);

    double mass = 0.0;
    for (int32_t j = 0; j < k; j++) mass += scratch_prob[scratch_index[j]];
    int32_t kept = k;
    if (use_top_p) {
        double target = (double)s->top_p * mass;
        double cumulative = 0.0;
        for (kept = 0; kept < k;) {
            cumulative += scratch_prob[scratch_index[kept++]];
            if (cumulative >= target) break;
        }
        mass = cumulative;
    }

    double u = aq_sampler_uniform(s) * mass;
    double cumulative = 0.0;
    for (int32_t j = 0; j < kept; j++) {
        cumulative += scratch_prob[scratch_index[j]];
        if (u < cumulative) return scratch_index[j];
    }
    return scratch_index[kept - 1]; /* rounding left u at the very top */
}
