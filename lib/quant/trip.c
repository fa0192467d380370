#include "trip.h"

#include <math.h>
#include <stdlib.h>

#define MAX_SHIFT 8

static float fake_quantize(float x, float scale, int32_t zero, float qmin, float qmax) {
    float level = nearbyintf(x / scale) + (float)zero;
    level = level < qmin ? qmin : level > qmax ? qmax : level;
    return scale * (level - (float)zero);
}

void aq_trip_choose(const float *samples, int32_t n_samples, int32_t width, float scale, int32_t zero, int bits,
                    int max_shift, const int32_t *channel_group, int32_t n_groups, float *factors) {
    if (max_shift > MAX_SHIFT) max_shift = MAX_SHIFT;
    float qmin = -(float)(1 << (bits - 1)), qmax = (float)((1 << (bits - 1)) - 1);
    int32_t groups = channel_group ? n_groups : width;
    double *err = calloc((size_t)groups * (MAX_SHIFT + 1), sizeof *err);
    if (!err) { /* no factors is always a valid choice */
        for (int32_t c = 0; c < width; c++) factors[c] = 1.0f;
        return;
    }
    for (int32_t c = 0; c < width; c++) {
        int32_t g = channel_group ? channel_group[c] : c;
        for (int shift = 0; shift <= max_shift; shift++) {
            float f = ldexpf(1.0f, shift);
            double e = 0.0;
            for (int32_t t = 0; t < n_samples; t++) {
                float x = samples[(size_t)t * (size_t)width + (size_t)c];
                float d = x - fake_quantize(x * f, scale, zero, qmin, qmax) / f;
                e += (double)d * d;
            }
            err[(size_t)g * (MAX_SHIFT + 1) + (size_t)shift] += e;
        }
    }
    for (int32_t c = 0; c < width; c++) {
        int32_t g = channel_group ? channel_group[c] : c;
        const double *eg = err + (size_t)g * (MAX_SHIFT + 1);
        int best = 0;
        for (int shift = 1; shift <= max_shift; shift++)
            if (eg[shift] < eg[best]) best = shift;
        factors[c] = ldexpf(1.0f, best);
    }
    free(err);
}
