/* Randomized Hadamard rotations (QuaRot-style): R = H D / sqrt(n), with D a
 * diagonal of random signs and H a Hadamard matrix of order n, the Kronecker
 * product of Paley matrices of orders 12 and 20 and a
 * Walsh-Hadamard matrix, so that widths like 576 or 1536 are mixed whole.
 * A width with no such factorization falls back to the blocked rotation. R
 * is orthogonal, so rotating both a weight row and its input leaves their
 * dot product unchanged. Internal. */
#ifndef AQ_HADAMARD_H
#define AQ_HADAMARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* x <- R x, for x of n floats; signs holds n values of +1 or -1. */
void aq_hadamard_rotate(float *x, size_t n, const float *signs);
/* The same for each of rows rows of n floats, one after another in x. */
void aq_hadamard_rotate_rows(float *x, size_t rows, size_t n, const float *signs);
/* Whether aq_hadamard_rotate mixes all n elements (else it is blocked). */
bool aq_hadamard_full_width(size_t n);
/* The rotation of files of format version 1: H is block-diagonal, blocks of
 * the largest power of two dividing n. */
void aq_hadamard_rotate_blocked(float *x, size_t n, const float *signs);
/* n random signs from a seeded generator. */
void aq_random_signs(float *signs, size_t n, uint64_t seed);

#endif
