/* FP32 matrix products: out (m, n) = x (m, k) times W^T, W (n, k) row-major. */
#ifndef AQ_F32_GEMM_H
#define AQ_F32_GEMM_H

#include <stddef.h>

/* Computes output columns [n_begin, n_end) for all m rows. */
typedef void (*aq_f32_gemm_fn)(size_t m, size_t n_begin, size_t n_end, size_t k, const float *x, size_t x_stride,
                               const float *w, float *out, size_t out_stride);

void aq_f32_gemm_ref(size_t m, size_t n_begin, size_t n_end, size_t k, const float *x, size_t x_stride, const float *w,
                     float *out, size_t out_stride);

#endif
