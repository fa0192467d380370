#include "norm.h"

#include <math.h>
#include <stddef.h>

static void rms_norm_row(float *out, const float *x, const float *weight, int32_t n, float eps) {
    float ss = 0.0f;
    for (int32_t i = 0; i < n; i++) ss += x[i] * x[i];
    float scale = 1.0f / sqrtf(ss / (float)n + eps);
    for (int32_t i = 0; i < n; i++) out[i] = x[i] * scale * weight[i];
}

/* Mean and variance in double: a row's mean can be large beside its spread. */
static void layer_norm_row(float *out, const float *x, const float *weight, const float *bias, int32_t n, float eps) {
    double sum = 0.0;
    for (int32_t i = 0; i < n; i++) sum += x[i];
    float mean = (float)(sum / n);
    double var = 0.0;
    for (int32_t i = 0; i < n; i++) var += (double)(x[i] - mean) * (double)(x[i] - mean);
    float scale = (float)(1.0 / sqrt(var / n + (double)eps));
    for (int32_t i = 0; i < n; i++) out[i] = (x[i] - mean) * scale * weight[i] + (bias ? bias[i] : 0.0f);
}

void aq_norm_rows(aq_norm_kind kind, float *out, const float *x, const float *weight, const float *bias, int32_t rows,
                  int32_t n, float eps) {
    for (size_t t = 0; t < (size_t)rows; t++) {
        const float *xt = x + t * (size_t)n;
        float *ot = out + t * (size_t)n;
        if (kind == AQ_NORM_RMS)
            rms_norm_row(ot, xt, weight, n, eps);
        else
            layer_norm_row(ot, xt, weight, bias, n, eps);
    }
}
