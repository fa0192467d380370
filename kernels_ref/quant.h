/* quant.h - quantized formats and the reference (portable C) quantization kernels.
 *
 * These kernels are both the portable fallback and the answer key: every SIMD twin
 * (AVX2, AVX-512 VNNI, NEON dotprod) must produce the same bits. So each kernel's
 * comment states its arithmetic, including the order of the float operations and
 * the rounding functions, and the code does exactly that:
 *   - rounding to integer is nearbyintf() in the default rounding mode, i.e. round
 *     half to even (_mm256_round_ps(_MM_FROUND_TO_NEAREST_INT), vcvtnq_s32_f32),
 *     except in the llama.cpp block quantizers, which copy ggml's own rounding;
 *   - x / scale is a true IEEE division, never a multiply by a reciprocal;
 *   - fmaf() is used exactly where the spec says fma; elsewhere multiply and add
 *     are separate statements so no compiler may fuse them (-std=c11 on GCC means
 *     -ffp-contract=off; clang's default "on" only fuses within one expression).
 * NaN inputs give defined but unspecified results (no UB); SIMD twins need not
 * match them.
 */
#ifndef AQ_KERNELS_REF_QUANT_H
#define AQ_KERNELS_REF_QUANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------------------
 * INT4 weights, quantized group-wise along k ("qc4w").
 *
 * A weight matrix of n_rows x k (one row per output feature; y = W x). Row r is cut
 * into k / group groups of `group` consecutive elements, each with its own scale
 * and zero point. Dequantized value: w = aq_fp16_to_fp32(scale) * (q - zero).
 */
struct aq_q4w {
    size_t n_rows;   /* output features */
    size_t k;        /* input features; even and a multiple of group */
    size_t group;    /* 32, 64 or 128 */
    uint8_t *q;      /* (n_rows, k / 2): byte j of a row holds element 2j in its low
                      * nibble and element 2j + 1 in its high nibble, unsigned 0..15 */
    uint16_t *scale; /* (n_rows, k / group) IEEE half; may be negative (symmetric) */
    uint8_t *zero;   /* (n_rows, k / group) zero points 0..15 (asymmetric), or NULL
                      * for symmetric, where every zero point is AQ_Q4W_SYMMETRIC_ZERO */
};

#define AQ_Q4W_SYMMETRIC_ZERO 8

/* Byte sizes of the three arrays of an aq_q4w of this shape (zero_bytes is 0 when
 * !asym). Returns false, writing nothing, when the shape is invalid: n_rows or k
 * zero, group not 32/64/128, or k not a multiple of group. */
bool aq_q4w_sizes(size_t n_rows, size_t k, size_t group, bool asym,
                  size_t *q_bytes, size_t *scale_bytes, size_t *zero_bytes);

/* Round-to-nearest quantization of a row-major n_rows x k float matrix (row stride
 * k) into out, whose arrays the caller allocated with aq_q4w_sizes() (out->zero
 * must be non-NULL iff asym). Sets out->n_rows, k, group. Returns false, writing
 * nothing, for an invalid shape or a zero array that does not match asym.
 *
 * Per group, with s = aq_fp16_to_fp32(stored scale), i.e. always the f16-ROUNDED
 * scale, so that the stored q are the nearest levels of the grid actually used:
 *   symmetric (ggml Q4_0's choice): m = the element of largest magnitude (the first
 *     one on ties), keeping its sign; scale = f16(m / -8), so m itself maps to
 *     level -8 and the full range [-8, 7] is used, the far side reaching 7 |s|.
 *     q = clamp(nearbyintf(w / s) + 8, 0, 15).
 *   asymmetric: lo = min(min(w), 0), hi = max(max(w), 0) (the range always holds 0,
 *     as in GPTQ, so the zero point fits in 0..15 and 0 is exact);
 *     scale = f16((hi - lo) / 15); zero = clamp(nearbyintf(-lo / s), 0, 15);
 *     q = clamp(nearbyintf(w / s) + zero, 0, 15).
 *   A scale whose magnitude would exceed 65504 is clamped to 65504 (no inf). A group
 *   whose scale rounds to 0 (all zeros, or values below the f16 range) stores
 *   scale +0 and q = zero point (8; in the asymmetric case zero is stored as 8). */
bool aq_q4w_quantize_rtn_ref(const float *w, size_t n_rows, size_t k, size_t group,
                             bool asym, struct aq_q4w *out);

/* out (n_rows x k, row stride k) = aq_fp16_to_fp32(scale) * (float) (q - zero). */
void aq_q4w_dequantize_ref(const struct aq_q4w *w, float *out);

/* ------------------------------------------------------------------------------
 * INT8 (or INT4 held in int8) activations, one scale and zero point per row
 * ("qd8": quantized dynamically per token; a static per-tensor scheme repeats the
 * same scale and zero in every row). a ~= scale * (q - zero).
 */
struct aq_qd8 {
    size_t n_rows;  /* tokens */
    size_t k;       /* features */
    int8_t *q;      /* (n_rows, k) in [-128, 127] for 8 bits, [-8, 7] for 4 bits */
    float *scale;   /* (n_rows) */
    int32_t *zero;  /* (n_rows) */
};

/* Sizes the caller allocates: q n_rows * k bytes, scale and zero n_rows each. */

/* Dynamic symmetric per-row quantization of n_rows rows of k floats, row i starting
 * at x + i * x_stride (x_stride >= k, in floats). bits 8: levels [-128, 127] with
 * qmax 127; bits 4: levels [-8, 7] with qmax 7. Per row:
 *   amax = max |x|; scale = amax / qmax (IEEE division); zero = 0;
 *   q = clamp(nearbyintf(x / scale), qmin, qmax)  -- a division, not x * (1/scale).
 * If scale is 0 (zero row, or amax so small that amax / qmax underflows) the row
 * gets scale 0 and q 0. Sets out->n_rows and out->k. Returns false (writing
 * nothing) when bits is not 8 or 4. */
bool aq_qd8_quantize_dynamic_ref(const float *x, size_t n_rows, size_t k, size_t x_stride,
                                 int bits, struct aq_qd8 *out);

/* Static quantization with a given scale and zero point (from calibration):
 *   q = clamp(nearbyintf(x / scale) + (float) zero, qmin, qmax)
 * computed in float (exact while |x / scale| < 2^24; larger values clamp anyway).
 * Every row gets the same scale and zero. Returns false (writing nothing) unless
 * bits is 8 or 4, scale is finite and > 0, and zero lies in [qmin, qmax]. */
bool aq_qd8_quantize_static_ref(const float *x, size_t n_rows, size_t k, size_t x_stride,
                                float scale, int32_t zero, int bits, struct aq_qd8 *out);

/* ------------------------------------------------------------------------------
 * GEMM: out[t][r] = sum_k a[t][k] * w[r][k] for activation rows t in [0, m) and
 * weight rows r in [n_begin, n_end) (so threads can split the columns). Only those
 * out entries are written. Preconditions: a->k == w->k, m <= a->n_rows,
 * n_end <= w->n_rows, out_stride >= n_end. The arithmetic, which every SIMD twin
 * must reproduce bit for bit:
 *
 *   float acc = 0.0f;
 *   for (g = 0; g < k / group; g++) {                 // groups in order
 *       int32_t isum = sum over the group's elements e of
 *                      (int32_t) (qw[r][e] - zw[r][g]) * (int32_t) (qa[t][e] - za[t]);
 *       acc = fmaf(aq_fp16_to_fp32(scale_w[r][g]) * a->scale[t], (float) isum, acc);
 *   }
 *   out[t * out_stride + r] = acc;
 *
 * isum is exact (any order of the integer adds gives the same value); (float) isum
 * is exact while |isum| < 2^24, which holds for group <= 128 with 8-bit activations
 * and |qa - za| <= 255 (128 * 15 * 255 < 2^24).
 */
void aq_qd8_qc4w_gemm_ref(size_t m, size_t n_begin, size_t n_end,
                          const struct aq_qd8 *a, const struct aq_q4w *w,
                          float *out, size_t out_stride);

/* FP32 activations x INT4 weights (weight-only quantization, W4A16), rows of x
 * x_stride floats apart: out[t][r] = sum over groups of sum_e (f32(scale) *
 * (float) (q - zero)) * x[t][e], each group's products summed in order into a
 * partial sum that is then added to out (the SIMD twins agree to float
 * tolerance, not bit for bit). Same preconditions as the GEMM above. */
void aq_f32_qc4w_gemm_ref(size_t m, size_t n_begin, size_t n_end, const float *x, size_t x_stride,
                          const struct aq_q4w *w, float *out, size_t out_stride);

/* ------------------------------------------------------------------------------
 * llama.cpp / GGUF block formats (same layout as ggml-common.h), kept so GGUF Q4_0
 * and Q8_0 models can be run and checked against llama.cpp.
 */
#define AQ_QK4_0 32
#define AQ_QK8_0 32

/* 32 weights: element j (j < 16) in the low nibble of qs[j], element j + 16 in its
 * high nibble; value = f32(d) * (nibble - 8). */
typedef struct aq_block_q4_0 {
    uint16_t d;                /* IEEE half scale */
    uint8_t qs[AQ_QK4_0 / 2];
} block_q4_0;
_Static_assert(sizeof(block_q4_0) == 2 + AQ_QK4_0 / 2, "block_q4_0 must be 18 bytes, as in GGUF files");

/* 32 values: value = f32(d) * qs[j]. */
typedef struct aq_block_q8_0 {
    uint16_t d;                /* IEEE half scale */
    int8_t qs[AQ_QK8_0];
} block_q8_0;
_Static_assert(sizeof(block_q8_0) == 2 + AQ_QK8_0, "block_q8_0 must be 34 bytes, as in GGUF files");

/* n is the number of elements, a multiple of 32 (n / 32 blocks).
 *
 * Q4_0 quantization copies ggml's quantize_row_q4_0_ref: per block, m = element of
 * largest magnitude (first on ties) with its sign; d = m / -8; id = d ? 1 / d : 0
 * computed from the UNROUNDED d; stored d = f16(d); nibble = min(15, (int) (x * id
 * + 8.5f)), i.e. round half up via truncation. */
void aq_q4_0_quantize_ref(const float *x, size_t n, block_q4_0 *out);
void aq_q4_0_dequantize_ref(const block_q4_0 *in, size_t n, float *out);

/* Q8_0 quantization copies ggml's quantize_row_q8_0_ref: amax = max |x|;
 * d = amax / 127; id = d ? 1 / d : 0 (unrounded d); qs = roundf(x * id), i.e.
 * ties away from zero. */
void aq_q8_0_quantize_ref(const float *x, size_t n, block_q8_0 *out);
void aq_q8_0_dequantize_ref(const block_q8_0 *in, size_t n, float *out);

/* Dot products over n elements (a multiple of 32). Per block b, in block order:
 *   int32_t isum = sum of (nibble - 8) * q8 (Q4_0) or q8 * q8 (Q8_0), exact;
 *   float block_scale = f32(dx) * f32(dy);
 *   sumf = sumf + block_scale * (float) isum;      // not fused
 * ggml's generic vec_dot computes sumi * dx * dy, i.e. (isum * dx) * dy, which can
 * differ from this order in the last bit of a block's term. */
float aq_q4_0_q8_0_dot_ref(size_t n, const block_q4_0 *x, const block_q8_0 *y);
float aq_q8_0_q8_0_dot_ref(size_t n, const block_q8_0 *x, const block_q8_0 *y);

#endif /* AQ_KERNELS_REF_QUANT_H */
