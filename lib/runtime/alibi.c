#include "alibi.h"

#include <math.h>

void aq_alibi_slopes(int32_t n_heads, float max_bias, float *slopes) {
    int32_t n = 1;
    while (n * 2 <= n_heads) n *= 2;
    const float m0 = powf(2.0f, -max_bias / (float)n), m1 = powf(2.0f, -(max_bias / 2.0f) / (float)n);
    for (int32_t h = 0; h < n_heads; h++)
        slopes[h] = h < n ? powf(m0, (float)(h + 1)) : powf(m1, (float)(2 * (h - n) + 1));
}
