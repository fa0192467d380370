/* splitmix64 (Steele, Lea and Flood 2014): the one seeded stream behind the
 * library's random signs, the sampler's seeding and the tests' data, so the
 * same seed gives the same numbers everywhere. */
#ifndef AQ_PRNG_H
#define AQ_PRNG_H

#include <stdint.h>

static inline uint64_t aq_splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

#endif
