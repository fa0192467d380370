#include "activation.h"

#include <math.h>

float aq_gelu(float x) {
    const float sqrt_2_over_pi = 0.79788456080286535588f, coef = 0.044715f;
    return 0.5f * x * (1.0f + tanhf(sqrt_2_over_pi * x * (1.0f + coef * x * x)));
}

void aq_mlp_activation(aq_mlp_kind kind, float *h, const float *up, size_t n) {
    switch (kind) {
    case AQ_MLP_SWIGLU:
        for (size_t i = 0; i < n; i++) h[i] = h[i] / (1.0f + expf(-h[i])) * up[i];
        break;
    case AQ_MLP_GELU:
        for (size_t i = 0; i < n; i++) h[i] = aq_gelu(up[i]);
        break;
    case AQ_MLP_RELU:
        for (size_t i = 0; i < n; i++) h[i] = up[i] > 0.0f ? up[i] : 0.0f;
        break;
    }
}
