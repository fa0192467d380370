/* Randomized Hadamard rotations (QuaRot-style): R = H D / sqrt(b), with D a
 * diagonal of random signs and H the Walsh-Hadamard matrix applied to each
 * block of b consecutive elements, b the largest power of two dividing n (so
 * any width works; the rotation is block-diagonal when n is not a power of
 * two). R is orthogonal, so rotating both a weight row and its input leaves
 * their dot product unchanged. Internal. */
#ifndef AQ_HADAMARD_H
#define AQ_HADAMARD_H

#include <stddef.h>
#include <stdint.h>

/* x <- R x, for x of n floats; signs holds n values of +1 or -1. */
void aq_hadamard_rotate(float *x, size_t n, const float *signs);
/* The same on a strided vector (x[0], x[stride], ...), using scratch of n floats. */
void aq_hadamard_rotate_strided(float *x, size_t n, size_t stride, const float *signs, float *scratch);
/* n random signs from a seeded generator. */
void aq_random_signs(float *signs, size_t n, uint64_t seed);

#endif
