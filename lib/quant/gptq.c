#include "gptq.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "f16.h"

/* Relative damping of the Hessian's diagonal, GPTQ's default. */
#define DAMPING 0.01

/* Rows of the Cholesky factor computed together: each is a dot product that
 * must add its terms in order (the same bits on every compiler and ISA), so a
 * lone one waits on its adds; four independent ones share the loads of row j
 * and overlap. With the row-wise inverse below this made GPTQ's preparation of
 * SmolLM2-135M's 1536-wide down projection input about three times faster. */
#define CHOLESKY_ROWS 4

/* In-place lower Cholesky factor of a (n, n) symmetric positive definite
 * matrix; false if it is not. */
static bool cholesky(double *a, size_t n) {
    for (size_t j = 0; j < n; j++) {
        const double *aj = a + j * n;
        double d = aj[j];
        for (size_t p = 0; p < j; p++) d -= aj[p] * aj[p];
        if (!(d > 0.0)) return false;
        d = sqrt(d);
        a[j * n + j] = d;
        size_t i = j + 1;
        for (; i + CHOLESKY_ROWS <= n; i += CHOLESKY_ROWS) {
            double s[CHOLESKY_ROWS];
            for (size_t r = 0; r < CHOLESKY_ROWS; r++) s[r] = a[(i + r) * n + j];
            for (size_t p = 0; p < j; p++)
                for (size_t r = 0; r < CHOLESKY_ROWS; r++) s[r] -= a[(i + r) * n + p] * aj[p];
            for (size_t r = 0; r < CHOLESKY_ROWS; r++) a[(i + r) * n + j] = s[r] / d;
        }
        for (; i < n; i++) {
            double s = a[i * n + j];
            for (size_t p = 0; p < j; p++) s -= a[i * n + p] * aj[p];
            a[i * n + j] = s / d;
        }
        for (size_t r = 0; r < j; r++) a[r * n + j] = 0.0;
    }
    return true;
}

/* The upper factor U of H^-1 = U^T U, from H's lower Cholesky factor L:
 * H^-1 = L^-T L^-1, then its Cholesky factor, transposed. */
static bool inverse_hessian_factor(double *h, size_t n, double *scratch) {
    if (!cholesky(h, n)) return false;
    double *inv = scratch; /* L^-1, lower triangular */
    memset(inv, 0, n * n * sizeof *inv);
    /* Row i of L^-1 is -(sum over p < i of L[i][p] row p of L^-1) / L[i][i]:
     * rows of inv, read contiguously (a column walk of the 1536-wide factor
     * missed the caches on every term). Entry j still adds p = j, j + 1, ...
     * in order. */
    for (size_t i = 0; i < n; i++) {
        double *row = inv + i * n;
        for (size_t p = 0; p < i; p++) {
            const double l = h[i * n + p], *src = inv + p * n;
            for (size_t j = 0; j <= p; j++) row[j] += l * src[j];
        }
        for (size_t j = 0; j < i; j++) row[j] = -row[j] / h[i * n + i];
        row[i] = 1.0 / h[i * n + i];
    }
    /* h <- L^-T L^-1 = sum over rows p of inv[p]^T inv[p] (row-wise, so the
     * inner loop is contiguous) */
    memset(h, 0, n * n * sizeof *h);
    for (size_t p = 0; p < n; p++) {
        const double *row = inv + p * n;
        for (size_t i = 0; i <= p; i++) {
            double a = row[i];
            double *hi = h + i * n;
            for (size_t j = 0; j <= i; j++) hi[j] += a * row[j];
        }
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++) h[j * n + i] = h[i * n + j];
    if (!cholesky(h, n)) return false;
    /* transpose into the upper triangle */
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            h[i * n + j] = h[j * n + i];
            h[j * n + i] = 0.0;
        }
    return true;
}

static void set_nibble(uint8_t *row, size_t col, int q) {
    uint8_t *b = &row[col / 2];
    *b = (uint8_t)(col % 2 ? (*b & 0x0F) | (q << 4) : (*b & 0xF0) | q);
}

aq_error aq_gptq_prepare(const float *hessian, size_t k, float *u, bool *dead) {
    double *h = malloc(k * k * sizeof *h), *scratch = malloc(k * k * sizeof *scratch);
    aq_error result = AQ_OK;
    if (!h || !scratch) {
        result = AQ_ERR_OUT_OF_MEMORY;
        goto done;
    }
    double mean_diag = 0.0;
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j <= i; j++) h[i * k + j] = h[j * k + i] = hessian[i * k + j];
    for (size_t i = 0; i < k; i++) {
        bool never_fired = h[i * k + i] == 0.0;
        if (never_fired) h[i * k + i] = 1.0;
        if (dead) dead[i] = never_fired;
        mean_diag += h[i * k + i] / (double)k;
    }
    for (size_t i = 0; i < k; i++) h[i * k + i] += DAMPING * mean_diag;
    if (!inverse_hessian_factor(h, k, scratch)) {
        result = AQ_ERR_FORMAT;
        goto done;
    }
    for (size_t i = 0; i < k * k; i++) u[i] = (float)h[i];
done:
    free(h);
    free(scratch);
    return result;
}

/* w3: the 3-bit grid (codes 4..11, symmetric; aq_q3w_quantize_rtn_ref's scales). */
/* search: each group's scale as aq_q4w_quantize_search_ref picks it (importance: k entries or NULL), on the
 * error-updated weights; else as round to nearest picks it. */
static void gptq_quantize(float *w, size_t rows, size_t k, const float *u, const bool *dead, size_t group, bool asym,
                          bool w3, bool search, const float *importance, struct aq_q4w *out) {
    const float code_min = w3 ? (float)AQ_Q3W_CODE_MIN : 0.0f, code_max = w3 ? (float)AQ_Q3W_CODE_MAX : 15.0f;
    out->n_rows = rows;
    out->k = k;
    out->group = group;
    size_t groups = k / group;
    for (size_t r = 0; r < rows; r++) {
        float *wr = w + r * k;
        uint8_t *qr = out->q + r * (k / 2);
        if (dead)
            for (size_t i = 0; i < k; i++) /* an input that is always 0: its weights do not matter */
                if (dead[i]) wr[i] = 0.0f;
        for (size_t g = 0; g < groups; g++) {
            /* Scale and zero point as round-to-nearest would pick them now. */
            struct aq_q4w one = {.q = qr + g * group / 2,
                                 .scale = &out->scale[r * groups + g],
                                 .zero = asym ? &out->zero[r * groups + g] : NULL};
            if (w3)
                aq_q3w_quantize_rtn_ref(wr + g * group, 1, group, group, &one);
            else if (search)
                aq_q4w_quantize_search_ref(wr + g * group, 1, group, group, asym,
                                           importance ? importance + g * group : NULL, &one);
            else
                aq_q4w_quantize_rtn_ref(wr + g * group, 1, group, group, asym, &one);
            float s = aq_fp16_to_fp32(*one.scale);
            int zero = asym ? *one.zero : AQ_Q4W_SYMMETRIC_ZERO;
            for (size_t i = g * group; i < (g + 1) * group; i++) {
                int q = zero;
                if (s != 0.0f) {
                    float level = nearbyintf(wr[i] / s) + (float)zero;
                    q = level < code_min ? (int)code_min : level > code_max ? (int)code_max : (int)level;
                }
                set_nibble(qr, i, q);
                float dequantized = s * (float)(q - zero);
                const float *ui = u + i * k;
                float e = (wr[i] - dequantized) / ui[i];
                for (size_t j = i + 1; j < k; j++) wr[j] -= e * ui[j];
            }
        }
    }
}

void aq_gptq_quantize(float *w, size_t rows, size_t k, const float *u, const bool *dead, size_t group, bool asym,
                      struct aq_q4w *out) {
    gptq_quantize(w, rows, k, u, dead, group, asym, false, false, NULL, out);
}

void aq_gptq_quantize_search(float *w, size_t rows, size_t k, const float *u, const bool *dead, size_t group, bool asym,
                             const float *importance, struct aq_q4w *out) {
    gptq_quantize(w, rows, k, u, dead, group, asym, false, true, importance, out);
}

void aq_gptq_quantize_w3(float *w, size_t rows, size_t k, const float *u, const bool *dead, size_t group,
                         struct aq_q4w *out) {
    gptq_quantize(w, rows, k, u, dead, group, false, true, false, NULL, out);
}
