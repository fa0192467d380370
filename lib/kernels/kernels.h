/* kernels.h - the kernel table the library runs with, the kernel lists it is chosen
 * from, and the one call that chooses. Internal.
 *
 * Five kernel families, one signature each. Each family has ONE list, best first:
 * the entries of kernels_x86/<family>.inc or kernels_neon/<family>.inc (whichever
 * architecture this build is for), then the portable reference of kernels_ref/.
 * Every entry names the CPU feature it needs (cpu_features.h). The same list feeds
 * the declarations (ukernels.h), the dispatcher (aq_kernels_select takes the first
 * entry the CPU runs), the kernel tests and the microbenchmarks (both walk every
 * entry and skip, at run time, the ones this CPU cannot run). Kernels never test
 * CPU features themselves.
 *
 * Adding a kernel (e.g. a qd8 x qc4w GEMM): one file named after it,
 * kernels_x86/qd8-qc4w-gemm-<mr>x<nr>c<kr>-<isa>.c, holding only its micro-tile
 * and AQ_QD8_QC4W_GEMM_DEFINE (qd8-qc4w-gemm-loop.h: the outer loop is shared);
 * one line in lib/kernels/meson.build (the files of its ISA); one line in
 * kernels_x86/qd8-qc4w-gemm.inc, at its place in the order of preference. A new
 * packed layout adds a packer to qc4w-packw.c; a new ISA adds a feature to
 * cpu_features.{h,c} and a static library (its -march flags) to meson.build.
 */
#ifndef AQ_KERNELS_H
#define AQ_KERNELS_H

#include <stdbool.h>
#include <stddef.h>

#include "agilequant.h"
#include "cpu_features.h"
#include "f32-gemm.h"
#include "quant.h"

/* ------------------------------------------------------------------------------
 * qd8 x qc4w GEMM: INT8 (or INT4-range) activations times INT4 group-wise weights,
 * with the arithmetic of aq_qd8_qc4w_gemm_ref, bit for bit. Weights are repacked
 * once into the layout the kernel wants; packed_size == NULL means the kernel reads
 * the plain aq_q4w and needs no packing (the reference). */
typedef struct aq_qc4w_gemm_kernel {
    const char *name; /* the function's name, e.g. "aq_qd8_qc4w_gemm_4x8c4__avx2" */
    size_t (*packed_size)(const struct aq_q4w *w);
    void (*pack)(const struct aq_q4w *w, void *packed);
    /* Rows [n_begin, n_end) of out for m activation rows; n_begin is a
     * multiple of n_tile (n_end may be w->n_rows). */
    void (*gemm)(size_t m, size_t n_begin, size_t n_end, const struct aq_qd8 *a, const struct aq_q4w *w,
                 const void *packed, float *out, size_t out_stride);
    size_t n_tile;      /* NR: weight rows per packed tile */
    size_t m_tile;      /* MR: activation rows per register tile */
    size_t k_tile;      /* KR: consecutive k per lane (the "c4" of 4x8c4) */
    aq_cpu_feature isa; /* what the CPU must run */
} aq_qc4w_gemm_kernel;

/* ------------------------------------------------------------------------------
 * FP32 GEMM (aq_f32_gemm_fn, f32-gemm.h): out = x W^T, W (n, k) row-major. SIMD
 * twins agree with aq_f32_gemm_ref to float tolerance (another summation order). */
typedef struct aq_f32_gemm_kernel {
    const char *name;
    aq_f32_gemm_fn fn;
    size_t m_tile, n_tile;
    aq_cpu_feature isa;
} aq_f32_gemm_kernel;

/* FP32 activations times INT4 group-wise weights (weight-only quantization,
 * W4A16): out[t][r] = sum over groups of f32(scale) * sum_e (q - zero) * x,
 * dequantized on the fly. Same shape as the FP32 GEMM; float tolerance. */
typedef void (*aq_f32_qc4w_gemm_fn)(size_t m, size_t n_begin, size_t n_end, const float *x, size_t x_stride,
                                    const struct aq_q4w *w, float *out, size_t out_stride);
typedef struct aq_f32_qc4w_gemm_kernel {
    const char *name;
    aq_f32_qc4w_gemm_fn fn;
    size_t m_tile, n_tile;
    aq_cpu_feature isa;
} aq_f32_qc4w_gemm_kernel;

/* llama.cpp's formats: one dot product of n elements (n % 32 == 0), bit-exact
 * twins of the references. */
typedef float (*aq_q4_0_q8_0_dot_fn)(size_t n, const block_q4_0 *x, const block_q8_0 *y);
typedef float (*aq_q8_0_q8_0_dot_fn)(size_t n, const block_q8_0 *x, const block_q8_0 *y);
typedef struct aq_q4_0_q8_0_dot_kernel {
    const char *name;
    aq_q4_0_q8_0_dot_fn fn;
    aq_cpu_feature isa;
} aq_q4_0_q8_0_dot_kernel;
typedef struct aq_q8_0_q8_0_dot_kernel {
    const char *name;
    aq_q8_0_q8_0_dot_fn fn;
    aq_cpu_feature isa;
} aq_q8_0_q8_0_dot_kernel;

/* ------------------------------------------------------------------------------
 * The lists, best first; the last entry of each is the reference (isa AQ_CPU_NONE). */
extern const aq_qc4w_gemm_kernel aq_qd8_qc4w_gemm_list[];
extern const size_t aq_qd8_qc4w_gemm_list_size;
extern const aq_f32_gemm_kernel aq_f32_gemm_list[];
extern const size_t aq_f32_gemm_list_size;
extern const aq_f32_qc4w_gemm_kernel aq_f32_qc4w_gemm_list[];
extern const size_t aq_f32_qc4w_gemm_list_size;
extern const aq_q4_0_q8_0_dot_kernel aq_q4_0_q8_0_dot_list[];
extern const size_t aq_q4_0_q8_0_dot_list_size;
extern const aq_q8_0_q8_0_dot_kernel aq_q8_0_q8_0_dot_list[];
extern const size_t aq_q8_0_q8_0_dot_list_size;

/* ------------------------------------------------------------------------------
 * The table: one kernel per family. */
typedef struct aq_kernels {
    char name[64]; /* e.g. "qc4w:avx512vnni f32:avx2 w4a16:avx2 q4_0:avx2 q8_0:avx2", or "ref" */
    aq_f32_gemm_fn f32_gemm;
    aq_f32_qc4w_gemm_fn f32_qc4w_gemm;
    aq_qc4w_gemm_kernel qc4w_gemm;
    aq_q4_0_q8_0_dot_fn q4_0_q8_0_dot;
    aq_q8_0_q8_0_dot_fn q8_0_q8_0_dot;
} aq_kernels;

/* Fills k, per family, with the first list entry this CPU runs. override NULL or
 * "": that automatic choice. "ref": the reference kernels. Another feature name
 * (aq_cpu_feature_name: "avx2", "avxvnni", "avx512vnni", "neon", "neondot"): per
 * family the first entry for exactly that feature, the reference where the family
 * has none; AQ_ERR_UNSUPPORTED when the CPU lacks the feature or no list has an
 * entry for it (unknown names too). */
aq_error aq_kernels_select(const char *override, aq_kernels *k);

#endif /* AQ_KERNELS_H */
