/* The kernel table: one entry per kernel family, filled once at start-up by
 * aq_kernels_select() with the best variant the CPU runs (cpuinfo), the
 * reference kernels last. Kernels never test CPU features themselves. */
#ifndef AQ_KERNELS_H
#define AQ_KERNELS_H

#include <stdbool.h>
#include <stddef.h>

#include "agilequant.h"
#include "f32-gemm.h"
#include "quant.h"

/* INT8 (or INT4-range) activations times INT4 group-wise weights, with the
 * arithmetic of aq_qd8_qc4w_gemm_ref, bit for bit. Weights are repacked once
 * into the layout the kernel wants; packed_size == NULL means the kernel
 * reads the plain aq_q4w and needs no packing. */
typedef struct aq_qc4w_gemm_kernel {
    const char *name;
    size_t (*packed_size)(const struct aq_q4w *w);
    void (*pack)(const struct aq_q4w *w, void *packed);
    /* Rows [n_begin, n_end) of out for m activation rows; n_begin is a
     * multiple of n_tile (n_end may be w->n_rows). */
    void (*gemm)(size_t m, size_t n_begin, size_t n_end, const struct aq_qd8 *a, const struct aq_q4w *w,
                 const void *packed, float *out, size_t out_stride);
    size_t n_tile;
} aq_qc4w_gemm_kernel;

/* FP32 activations times INT4 group-wise weights (weight-only quantization,
 * W4A16): out[t][r] = sum over groups of f32(scale) * sum_e (q - zero) * x,
 * dequantized on the fly. Same family shape as the FP32 GEMM. */
typedef void (*aq_f32_qc4w_gemm_fn)(size_t m, size_t n_begin, size_t n_end, const float *x, size_t x_stride,
                                    const struct aq_q4w *w, float *out, size_t out_stride);

/* llama.cpp's formats: one dot product of n elements (n % 32 == 0). */
typedef float (*aq_q4_0_q8_0_dot_fn)(size_t n, const block_q4_0 *x, const block_q8_0 *y);
typedef float (*aq_q8_0_q8_0_dot_fn)(size_t n, const block_q8_0 *x, const block_q8_0 *y);

typedef struct aq_kernels {
    char name[64]; /* the chosen variants, e.g. "avx512vnni+avx2" */
    aq_f32_gemm_fn f32_gemm;
    aq_f32_qc4w_gemm_fn f32_qc4w_gemm;
    aq_qc4w_gemm_kernel qc4w_gemm;
    aq_q4_0_q8_0_dot_fn q4_0_q8_0_dot;
    aq_q8_0_q8_0_dot_fn q8_0_q8_0_dot;
} aq_kernels;

/* Fills k with the best kernels this CPU runs. override (NULL or "" for
 * automatic; else "ref" or a variant name such as "avx2") forces a path: an
 * unknown name or one the CPU cannot run gives AQ_ERR_UNSUPPORTED. */
aq_error aq_kernels_select(const char *override, aq_kernels *k);

void aq_f32_qc4w_gemm_ref(size_t m, size_t n_begin, size_t n_end, const float *x, size_t x_stride,
                          const struct aq_q4w *w, float *out, size_t out_stride);

#endif
