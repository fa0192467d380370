/* TRIP (the paper's "Two-Refine Improved by Pruning"): a tensor quantized
 * with one static scale and zero point gives each input channel a factor
 * 2^k, k in [0, max_shift], chosen on calibration samples to minimize that
 * channel's squared quantization error; the activation is multiplied by 2^k
 * (folded upstream) and the weight column divided by it. Internal. */
#ifndef AQ_TRIP_H
#define AQ_TRIP_H

#include <stdint.h>

/* samples: (n_samples, width). channel_group maps each channel to the group
 * that must share one factor (NULL: every channel its own), groups < width.
 * factors: one per channel, powers of two. */
void aq_trip_choose(const float *samples, int32_t n_samples, int32_t width, float scale, int32_t zero, int bits,
                    int max_shift, const int32_t *channel_group, int32_t n_groups, float *factors);

#endif
