#include "hadamard.h"

#include <math.h>
#include <string.h>

#include "prng.h"

/* Paley's construction gives a Hadamard matrix of order q + 1 for every prime
 * q = 3 mod 4; we use it for q = 4p - 1 with p an odd prime, so that the
 * order 4p times a power of two covers widths like 576 = 12 x 12 x 4
 * (SmolLM2), 1536 = 12 x 128 and 320 = 20 x 16. */
/* Orders 12 and 20 only: 44 would mix TinyLlama's 5632 = 44 x 128 whole but
 * made its online rotation about 4 times as slow as the blocked one (a
 * dense 44 x 44 factor), which decode speed cannot spare. */
#define MAX_ORDER 20
#define CHUNK 64 /* elements of the inner axis transformed together (vectorized) */
#define MAX_FACTORS 8

typedef struct plan {
    size_t pow2;    /* the Walsh-Hadamard factor (the innermost, contiguous axis) */
    size_t n_dense; /* Paley factors, outermost first */
    size_t order[MAX_FACTORS];
} plan;

static bool is_prime(size_t q) {
    if (q < 2) return false;
    for (size_t d = 2; d * d <= q; d++)
        if (q % d == 0) return false;
    return true;
}

/* n = order[0] x ... x pow2 with every order 4p (p an odd prime, 4p - 1
 * prime, 4p <= MAX_ORDER); false if n has no such factorization. */
static bool make_plan(size_t n, plan *p) {
    size_t odd = n, pow2 = 1;
    while (odd && odd % 2 == 0) odd /= 2, pow2 *= 2;
    p->n_dense = 0;
    for (size_t f = 3; odd > 1; f += 2) {
        while (odd % f == 0) {
            if (!is_prime(4 * f - 1) || 4 * f > MAX_ORDER || pow2 % 4 || p->n_dense == MAX_FACTORS) return false;
            p->order[p->n_dense++] = 4 * f;
            pow2 /= 4;
            odd /= f;
        }
    }
    p->pow2 = pow2;
    return true;
}

/* Paley I: H = I + [[0, 1^T], [-1, Q]] with Q[i][j] the Legendre symbol of
 * j - i modulo q (Q is antisymmetric as q = 3 mod 4); H H^T = (q + 1) I. */
static void paley(size_t order, float *h) {
    size_t q = order - 1;
    bool square[MAX_ORDER] = {false};
    for (size_t i = 1; i < q; i++) square[i * i % q] = true;
    for (size_t i = 0; i < order; i++) {
        for (size_t j = 0; j < order; j++) {
            int s; /* the skew-symmetric part */
            if (i == j)
                s = 0;
            else if (i == 0)
                s = 1;
            else if (j == 0)
                s = -1;
            else
                s = square[(j - i + q) % q] ? 1 : -1;
            h[i * order + j] = (float)(s + (i == j ? 1 : 0));
        }
    }
}

/* The stages h = 1, 2, 4 of fwht on 8 elements, in registers: the same sums and
 * differences of the same operands as three passes over memory would take. */
static void fwht8(float *x) {
    const float a0 = x[0] + x[1], a1 = x[0] - x[1], a2 = x[2] + x[3], a3 = x[2] - x[3];
    const float a4 = x[4] + x[5], a5 = x[4] - x[5], a6 = x[6] + x[7], a7 = x[6] - x[7];
    const float b0 = a0 + a2, b1 = a1 + a3, b2 = a0 - a2, b3 = a1 - a3;
    const float b4 = a4 + a6, b5 = a5 + a7, b6 = a4 - a6, b7 = a5 - a7;
    x[0] = b0 + b4, x[1] = b1 + b5, x[2] = b2 + b6, x[3] = b3 + b7;
    x[4] = b0 - b4, x[5] = b1 - b5, x[6] = b2 - b6, x[7] = b3 - b7;
}

/* In-place fast Walsh-Hadamard transform of b elements (b a power of two). The
 * first three stages pair elements closer than a vector's width, so they run on
 * blocks of 8; every later stage's inner loop is over contiguous elements. */
static void fwht(float *x, size_t b) {
    size_t h = 1;
    if (b >= 8) {
        for (size_t i = 0; i < b; i += 8) fwht8(x + i);
        h = 8;
    }
    for (; h < b; h *= 2) {
        for (size_t i = 0; i < b; i += 2 * h) {
            for (size_t j = i; j < i + h; j++) {
                float a = x[j], c = x[j + h];
                x[j] = a + c;
                x[j + h] = a - c;
            }
        }
    }
}

/* x viewed as [outer][order][inner]: x <- H x along the middle axis, CHUNK
 * inner elements at a time so that the innermost loop runs over contiguous
 * floats, each output's LANES sums kept in registers over the order's terms
 * (summed into memory, they cost a store and a reload a term: 15% of a
 * SmolLM2 decode's samples). in[j] is zero beyond w, up to a whole number of
 * LANES, so the last lanes of an inner axis shorter than LANES (576 = 12 x 12
 * x 4 ends in 4) read zeros; each output is the same sum in the same order. */
#define LANES 8
static void dense_axis(float *x, size_t n, size_t order, size_t inner, const float *h) {
    float in[MAX_ORDER][CHUNK];
    for (size_t o = 0; o < n; o += order * inner) {
        for (size_t b0 = 0; b0 < inner; b0 += CHUNK) {
            const size_t w = inner - b0 < CHUNK ? inner - b0 : CHUNK, padded = (w + LANES - 1) / LANES * LANES;
            float *v = x + o + b0;
            for (size_t j = 0; j < order; j++) {
                memcpy(in[j], v + j * inner, w * sizeof(float));
                memset(in[j] + w, 0, (padded - w) * sizeof(float));
            }
            for (size_t i = 0; i < order; i++) {
                for (size_t b = 0; b < padded; b += LANES) {
                    float acc[LANES] = {0};
                    for (size_t j = 0; j < order; j++) {
                        const float hij = h[i * order + j];
                        for (size_t l = 0; l < LANES; l++) acc[l] += hij * in[j][b + l];
                    }
                    memcpy(v + i * inner + b, acc, (w - b < LANES ? w - b : LANES) * sizeof(float));
                }
            }
        }
    }
}

static size_t block_size(size_t n) { return n & (~n + 1); } /* largest power of two dividing n */

void aq_hadamard_rotate_blocked(float *x, size_t n, const float *signs) {
    size_t b = block_size(n);
    float norm = 1.0f / sqrtf((float)b);
    for (size_t i = 0; i < n; i++) x[i] *= signs[i];
    for (size_t start = 0; start < n; start += b) fwht(x + start, b);
    for (size_t i = 0; i < n; i++) x[i] *= norm;
}

bool aq_hadamard_full_width(size_t n) {
    plan p;
    return n > 0 && make_plan(n, &p);
}

/* The plan and its Paley matrices once for all rows: remade per row, they
 * were a cost of their own beside a small row's products. */
void aq_hadamard_rotate_rows(float *x, size_t rows, size_t n, const float *signs) {
    plan p;
    if (!make_plan(n, &p)) {
        for (size_t r = 0; r < rows; r++) aq_hadamard_rotate_blocked(x + r * n, n, signs);
        return;
    }
    float h[MAX_FACTORS][MAX_ORDER * MAX_ORDER];
    for (size_t f = 0; f < p.n_dense; f++) paley(p.order[f], h[f]);
    const float norm = 1.0f / sqrtf((float)n);
    for (size_t r = 0; r < rows; r++) {
        float *row = x + r * n;
        for (size_t i = 0; i < n; i++) row[i] *= signs[i];
        size_t inner = n;
        for (size_t f = 0; f < p.n_dense; f++) {
            inner /= p.order[f];
            dense_axis(row, n, p.order[f], inner, h[f]);
        }
        for (size_t start = 0; start < n; start += p.pow2) fwht(row + start, p.pow2);
        for (size_t i = 0; i < n; i++) row[i] *= norm;
    }
}

void aq_hadamard_rotate(float *x, size_t n, const float *signs) { aq_hadamard_rotate_rows(x, 1, n, signs); }

void aq_random_signs(float *signs, size_t n, uint64_t seed) {
    uint64_t state = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++) {
        signs[i] = (aq_splitmix64(&state) >> 63) ? -1.0f : 1.0f;
    }
}
