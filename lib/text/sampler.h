/* Token sampling: greedy, temperature, top-k, top-p, from a seeded
 * generator. Internal. */
#ifndef AQ_SAMPLER_H
#define AQ_SAMPLER_H

#include <stdint.h>

typedef struct aq_sampler {
    float temperature; /* 0: greedy (argmax, lowest index on ties) */
    int32_t top_k;     /* 0: off */
    float top_p;       /* 1: off */
    uint64_t rng[2];   /* generator state */
} aq_sampler;

void aq_sampler_init(aq_sampler *s, uint64_t seed); /* default settings, seeded */
void aq_sampler_seed(aq_sampler *s, uint64_t seed);
/* Uniform in [0, 1). */
double aq_sampler_uniform(aq_sampler *s);
/* Draws a token from n logits. scratch holds n floats and n int32s (the
 * caller owns it, so sampling never allocates). */
int32_t aq_sampler_sample(aq_sampler *s, const float *logits, int32_t n, float *scratch_prob, int32_t *scratch_index);

#endif
