#include "hadamard.h"

#include <math.h>

#include "prng.h"

static size_t block_size(size_t n) { return n & (~n + 1); } /* largest power of two dividing n */

/* In-place fast Walsh-Hadamard transform of b elements (b a power of two). */
static void fwht(float *x, size_t b) {
    for (size_t h = 1; h < b; h *= 2) {
        for (size_t i = 0; i < b; i += 2 * h) {
            for (size_t j = i; j < i + h; j++) {
                float a = x[j], c = x[j + h];
                x[j] = a + c;
                x[j + h] = a - c;
            }
        }
    }
}

void aq_hadamard_rotate(float *x, size_t n, const float *signs) {
    size_t b = block_size(n);
    float norm = 1.0f / sqrtf((float)b);
    for (size_t i = 0; i < n; i++) x[i] *= signs[i];
    for (size_t start = 0; start < n; start += b) fwht(x + start, b);
    for (size_t i = 0; i < n; i++) x[i] *= norm;
}

void aq_hadamard_rotate_strided(float *x, size_t n, size_t stride, const float *signs, float *scratch) {
    for (size_t i = 0; i < n; i++) scratch[i] = x[i * stride];
    aq_hadamard_rotate(scratch, n, signs);
    for (size_t i = 0; i < n; i++) x[i * stride] = scratch[i];
}

void aq_random_signs(float *signs, size_t n, uint64_t seed) {
    uint64_t state = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++) {
        signs[i] = (aq_splitmix64(&state) >> 63) ? -1.0f : 1.0f;
    }
}
