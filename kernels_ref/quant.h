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
bool aq_q4w_sizes(size_t n_rows, size_t k, size_t group, bool asym, size_t *q_bytes, size_t *scale_bytes,
                  size_t *zero_bytes);

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
bool aq_q4w_quantize_rtn_ref(const float *w, size_t n_rows, size_t k, size_t group, bool asym, struct aq_q4w *out);

/* The same format, each group's scale (and zero point) searched for the least
 * weighted squared error sum over the group of importance[i] (w[i] - s (q[i] - zero))^2
 * (importance NULL: every weight 1; else k entries, one per column, e.g. the mean
 * square of the input channel the column reads, as llama.cpp's imatrix). Candidates,
 * in order: round to nearest's own choice (above), then for f = 36/32, 35/32, ...,
 * 20/32 the f16 rounding of f times round to nearest's scale (symmetric: m / -8 * f,
 * zero 8; asymmetric: (hi - lo) f / 15 with the zero point that anchors the range at
 * lo, at hi, or centres it, each clamped to 0..15), each followed by the f16 rounding
 * of the least-squares scale for the codes it gave; q is always the nearest code on
 * the grid of the f16 scale stored. The first candidate of least error wins, so the
 * result's weighted error is never above round to nearest's. Returns false, as
 * aq_q4w_quantize_rtn_ref, for an invalid shape. */
bool aq_q4w_quantize_search_ref(const float *w, size_t n_rows, size_t k, size_t group, bool asym,
                                const float *importance, struct aq_q4w *out);

/* out (n_rows x k, row stride k) = aq_fp16_to_fp32(scale) * (float) (q - zero). */
void aq_q4w_dequantize_ref(const struct aq_q4w *w, float *out);

/* ------------------------------------------------------------------------------
 * 3-bit weights ("qc3w", scheme w3a8): symmetric, group-wise, held in an aq_q4w
 * whose every code lies in AQ_Q3W_CODE_MIN..AQ_Q3W_CODE_MAX (4..11) and whose
 * zero is NULL. The 3-bit code is c = q - 4 (0..7) and the value
 * aq_fp16_to_fp32(scale) * (q - 8) = scale * (c - 4): levels -4..3, the 4-bit
 * grid's middle eight. So every reference of the 4-bit format (dequantizer,
 * GEMMs, GPTQ's update) serves it unchanged, and only the packed layouts of the
 * qc3w kernels (lib/kernels/qd8-qc3w-gemm-loop.h) and the file (docs/FORMAT.md:
 * 3 bits a weight plus the f16 scale, 3.5 a weight for groups of 32) hold 3 bits.
 */
#define AQ_Q3W_CODE_MIN 4
#define AQ_Q3W_CODE_MAX 11

/* Round-to-nearest 3-bit quantization into out (arrays as aq_q4w_sizes() gives for
 * asym false; out->zero must be NULL). Per group, m = the element of largest
 * magnitude (first on ties) with its sign, and the scale is chosen among
 * f16(m / -4 * f) for f = 1, 31/32, 30/32, ..., 20/32 (12 candidates, in this
 * order): the one with the least sum of squared errors sum (w - s * (q - 8))^2 over
 * the group (float, elements in order; the first on ties), where s is the f16-
 * rounded candidate and q = clamp(nearbyintf(w / s) + 8, 4, 11). Clipping the
 * largest element pays at 3 bits: the grid's step is twice the 4-bit one. A group
 * whose scale rounds to 0 stores +0 and codes 8. Returns false, writing nothing,
 * for an invalid shape (as aq_q4w_quantize_rtn_ref) or a non-NULL out->zero. */
bool aq_q3w_quantize_rtn_ref(const float *w, size_t n_rows, size_t k, size_t group, struct aq_q4w *out);

/* Whether w is a valid 3-bit matrix: zero NULL and every code in 4..11. */
bool aq_q3w_codes_valid(const struct aq_q4w *w);

/* The file's 3-bit planes (docs/FORMAT.md), AQ_Q3W_ROW_BYTES(k) bytes a row: first
 * k / 4 bytes of low bits (element 4j + i in bits 2i, 2i + 1 of byte j), then k / 8
 * bytes of high bits (element 8j + i in bit i of byte j), of c = q - 4. k is a
 * multiple of 32. */
#define AQ_Q3W_ROW_BYTES(k) ((k) / 4 + (k) / 8)
void aq_q3w_to_planes(const struct aq_q4w *w, uint8_t *planes);
/* The inverse: w->n_rows and w->k set, w->q allocated (n_rows * k / 2 bytes). */
void aq_q3w_from_planes(const uint8_t *planes, struct aq_q4w *w);

/* ------------------------------------------------------------------------------
 * INT8 (or INT4 held in int8) activations, one scale and zero point per row
 * ("qd8": quantized dynamically per token; a static per-tensor scheme repeats the
 * same scale and zero in every row). a ~= scale * (q - zero). With group > 0 a
 * row has k / group scales, one per run of group consecutive features (Atom's and
 * QServe's group-wise activation scales): a[t][e] ~= scale[t * (k / group) + e /
 * group] * (q - zero[t]).
 */
struct aq_qd8 {
    size_t n_rows; /* tokens */
    size_t k;      /* features */
    int8_t *q;     /* (n_rows, k) in [-128, 127] for 8 bits, [-8, 7] for 4 bits */
    float *scale;  /* (n_rows) when group is 0, else (n_rows, k / group) */
    int32_t *zero; /* (n_rows) */
    size_t group;  /* 0: one scale per row; else features per scale (divides k) */
    /* NULL, or (n_rows, k / 32): each row's sum of codes over each run of 32
     * features (aq_qd8_sum32_ref), which the qd8 x qc4w/qc3w GEMMs then read
     * instead of summing the codes again for every block of weight rows. */
    int32_t *sum32;
};

/* Where in a->scale the scale of token t's feature e is. */
static inline size_t aq_qd8_scale_index(const struct aq_qd8 *a, size_t t, size_t e) {
    return a->group ? t * (a->k / a->group) + e / a->group : t;
}

/* Sizes the caller allocates: q n_rows * k bytes, scale n_rows (times k / group
 * when grouped) and zero n_rows. */

/* Fills a->sum32 for rows [t_begin, t_end) (k / 32 sums a row; features past the
 * last whole 32 are not summed). */
void aq_qd8_sum32_ref(const struct aq_qd8 *a, size_t t_begin, size_t t_end);

/* Dynamic symmetric per-row quantization of n_rows rows of k floats, row i starting
 * at x + i * x_stride (x_stride >= k, in floats). bits 8: levels [-128, 127] with
 * qmax 127; bits 4: levels [-8, 7] with qmax 7. Per row:
 *   amax = max |x|; scale = amax / qmax (IEEE division); zero = 0;
 *   q = clamp(nearbyintf(x / scale), qmin, qmax)  -- a division, not x * (1/scale).
 * If scale is 0 (zero row, or amax so small that amax / qmax underflows) the row
 * gets scale 0 and q 0. Sets out->n_rows and out->k. Returns false (writing
 * nothing) when bits is not 8 or 4. */
bool aq_qd8_quantize_dynamic_ref(const float *x, size_t n_rows, size_t k, size_t x_stride, int bits,
                                 struct aq_qd8 *out);

/* The same per run of group features: each group of each row is quantized as
 * aq_qd8_quantize_dynamic_ref quantizes a row (amax, scale = amax / qmax, the
 * division, the zero-scale case), its scale stored at scale[t * (k / group) + g];
 * zero is 0. Sets out->n_rows, out->k and out->group. Returns false (writing
 * nothing) unless bits is 8 or 4 and group is positive and divides k. */
bool aq_qd8_quantize_grouped_ref(const float *x, size_t n_rows, size_t k, size_t x_stride, int bits, size_t group,
                                 struct aq_qd8 *out);

/* The same with a width per group (Atom's mixed precision: the few groups that
 * hold a layer's outlier channels at 8 bits, the rest at 4): group g of every row
 * is quantized as aq_qd8_quantize_grouped_ref quantizes it with bits
 * group_bits[g] (k / group entries, each 8 or 4). The GEMMs read the codes as
 * any qd8 input: only the range of each group's codes differs. Returns false
 * (writing nothing) unless group is positive and divides k and every entry is 8
 * or 4. */
bool aq_qd8_quantize_grouped_bits_ref(const float *x, size_t n_rows, size_t k, size_t x_stride,
                                      const uint8_t *group_bits, size_t group, struct aq_qd8 *out);

/* The same (group_bits may be NULL: every group at bits), with each 4-bit group's
 * scale clipped (QuaRot clips its 4-bit activations at 0.9 of the largest): of
 * the scales amax * ratio / 7 for ratio 1, 0.95, ..., 0.65 in that order, the
 * one whose codes clamp(nearbyintf(x / scale), -8, 7) give the least sum of
 * (x - scale * q)^2, accumulated in float in element order (the first ratio on
 * ties; a zero amax gives scale 0 and codes 0). 8-bit groups are quantized as
 * aq_qd8_quantize_grouped_ref does. Returns false (writing nothing) unless group
 * is positive and divides k and every width is 8 or 4. */
bool aq_qd8_quantize_grouped_clip_ref(const float *x, size_t n_rows, size_t k, size_t x_stride, int bits,
                                      const uint8_t *group_bits, size_t group, struct aq_qd8 *out);

/* The same (group_bits may be NULL: every group at bits), with each 4-bit group
 * asymmetric (its channels after SiLU * up are skewed): lo = min(0, min x),
 * hi = max(0, max x) (NaNs skipped), scale = (hi - lo) / 15, z =
 * nearbyintf(-lo / scale) (0 where that is NaN: lo = -inf), q = clamp(nearbyintf(
 * x / scale), -z, 15 - z): 16 levels, the integer zero point folded into the codes
 * (in [-15, 15]), so that scale * q is the value and the GEMMs read them as any
 * qd8 codes. A zero range gives scale 0 and codes 0. 8-bit groups are quantized as
 * aq_qd8_quantize_grouped_ref does. Returns false (writing nothing) unless group
 * is positive and divides k and every width is 8 or 4. */
bool aq_qd8_quantize_grouped_asym_ref(const float *x, size_t n_rows, size_t k, size_t x_stride, int bits,
                                      const uint8_t *group_bits, size_t group, struct aq_qd8 *out);

/* Static quantization with a given scale and zero point (from calibration):
 *   q = clamp(nearbyintf(x / scale) + (float) zero, qmin, qmax)
 * computed in float (exact while |x / scale| < 2^24; larger values clamp anyway).
 * Every row gets the same scale and zero. Returns false (writing nothing) unless
 * bits is 8 or 4, scale is finite and > 0, and zero lies in [qmin, qmax]. */
bool aq_qd8_quantize_static_ref(const float *x, size_t n_rows, size_t k, size_t x_stride, float scale, int32_t zero,
                                int bits, struct aq_qd8 *out);

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
 *       acc = fmaf(aq_fp16_to_fp32(scale_w[r][g]) * a_scale, (float) isum, acc);
 *   }
 *   a_scale = a->scale[t] when a->group is 0, else a->scale[t * (k / a->group) +
 *   g * group / a->group]: a->group must then be a multiple of the weight group,
 *   so that each weight group lies in one activation group.
 *   out[t * out_stride + r] = acc;
 *
 * isum is exact (any order of the integer adds gives the same value); (float) isum
 * is exact while |isum| < 2^24, which holds for group <= 128 with 8-bit activations
 * and |qa - za| <= 255 (128 * 15 * 255 < 2^24).
 */
void aq_qd8_qc4w_gemm_ref(size_t m, size_t n_begin, size_t n_end, const struct aq_qd8 *a, const struct aq_q4w *w,
                          float *out, size_t out_stride);

/* qd8 x qc3w: the GEMM above for a 3-bit matrix (aq_q3w_codes_valid), written on
 * the 3-bit codes c = q - 4 with the zero point 4, which is the same arithmetic:
 * isum = sum (c - 4) * (qa - za) per group, then the same fma, groups in order. The
 * answer key of the qc3w kernels. */
void aq_qd8_qc3w_gemm_ref(size_t m, size_t n_begin, size_t n_end, const struct aq_qd8 *a, const struct aq_q4w *w,
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
    uint16_t d; /* IEEE half scale */
    uint8_t qs[AQ_QK4_0 / 2];
} block_q4_0;
_Static_assert(sizeof(block_q4_0) == 2 + AQ_QK4_0 / 2, "block_q4_0 must be 18 bytes, as in GGUF files");

/* 32 values: value = f32(d) * qs[j]. */
typedef struct aq_block_q8_0 {
    uint16_t d; /* IEEE half scale */
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

/* ------------------------------------------------------------------------------
 * The other llama.cpp / GGUF block formats (layouts of ggml-common.h, llama.cpp
 * c392e5094), and the activation formats its CPU dot products read. All fields are
 * little-endian and read as such (every target of the library is little-endian).
 *
 * Alignment: in a GGUF file a tensor starts 32-byte aligned but its blocks are
 * 18, 20, 22, ..., 210 bytes, so a weight block is only 2-byte aligned. Every
 * weight block struct below therefore has alignment 2 (uint8_t / uint16_t members
 * only). The activation formats are our own buffers; block_q8_K holds a float and
 * needs 4-byte alignment (a row of them is 292 * n bytes, so rows stay aligned).
 *
 * Dequantizers compute in float exactly the expressions of llama.cpp's
 * dequantize_row_* (each stated below); they agree bit for bit with llama.cpp's C
 * code and with gguf-py's numpy dequantizers (data/quant-vectors). Every product in
 * them is exact (at most 24 significant bits: an 11-bit half times small integers),
 * so only the add of a minimum (Q4_1, Q5_1, Q2_K, Q4_K, Q5_K) rounds, and a SIMD
 * twin may fuse it into an fma with the same result.
 *
 * Dot products (one weight row . one activation row of n elements, n a multiple
 * of the block) follow one pattern, which every SIMD twin must reproduce:
 *   - per block, integer sums that are exact (int32, no overflow for any input
 *     bytes; bounds are given per type), in any order;
 *   - then per block a float combine in the order stated per type, each operation
 *     rounded once (separate statements, no fma), where "(float) isum" is the
 *     round-to-nearest-even int32 -> float conversion (cvtdq2ps / scvtf), exact
 *     while |isum| < 2^24;
 *   - sumf = sumf + block_term, in block order, starting from sumf = 0.0f.
 * Where llama.cpp's generic C code orders its float operations differently, the
 * result can differ in the last bits; the integer sums are the same.
 */
#define AQ_QK4_1 32
#define AQ_QK5_0 32
#define AQ_QK5_1 32
#define AQ_QK8_1 32
#define AQ_QK4_NL 32
#define AQ_QK_K 256        /* elements of a K-quant (and IQ4_XS, Q8_K) super-block */
#define AQ_K_SCALE_SIZE 12 /* bytes of the packed 6-bit scales of Q3_K, Q4_K, Q5_K */

/* 32 weights; nibbles ordered as Q4_0 (element j low nibble of qs[j], element
 * j + 16 high nibble). value = nibble * f32(d) + f32(m) (product rounded, then
 * the add). */
typedef struct aq_block_q4_1 {
    uint16_t d; /* IEEE half scale */
    uint16_t m; /* IEEE half minimum (the value of code 0) */
    uint8_t qs[AQ_QK4_1 / 2];
} block_q4_1;
_Static_assert(sizeof(block_q4_1) == 4 + AQ_QK4_1 / 2, "block_q4_1 must be 20 bytes, as in GGUF files");

/* 32 weights of 5 bits: low 4 bits ordered as Q4_0; bit i of qh (a little-endian
 * uint32, kept as bytes so the block stays 2-byte aligned) is bit 4 of element i.
 * value = (q - 16) * f32(d), q in [0, 31]. */
typedef struct aq_block_q5_0 {
    uint16_t d;
    uint8_t qh[4];
    uint8_t qs[AQ_QK5_0 / 2];
} block_q5_0;
_Static_assert(sizeof(block_q5_0) == 6 + AQ_QK5_0 / 2, "block_q5_0 must be 22 bytes, as in GGUF files");

/* As Q5_0 with a minimum: value = q * f32(d) + f32(m) (rounded product, then add). */
typedef struct aq_block_q5_1 {
    uint16_t d;
    uint16_t m;
    uint8_t qh[4];
    uint8_t qs[AQ_QK5_1 / 2];
} block_q5_1;
_Static_assert(sizeof(block_q5_1) == 8 + AQ_QK5_1 / 2, "block_q5_1 must be 24 bytes, as in GGUF files");

/* Activations for Q4_1 / Q5_1: 32 values, value = qs[j] * f32(d); s carries
 * f16(d * sum(qs)) for the weights' minimum term. */
typedef struct aq_block_q8_1 {
    uint16_t d;
    uint16_t s;
    int8_t qs[AQ_QK8_1];
} block_q8_1;
_Static_assert(sizeof(block_q8_1) == 4 + AQ_QK8_1, "block_q8_1 must be 36 bytes, as in ggml");

/* 256 weights of 2 bits in 16 sub-blocks of 16. scales[k]: low nibble scale sc_k,
 * high nibble min m_k. Element order: for half h in {0, 1} (q = qs + 32 h), shift
 * s = 2 j for j = 0..3: elements 128 h + 32 j + l (l < 16) are (q[l] >> s) & 3 of
 * sub-block 8 h + 2 j, elements 128 h + 32 j + 16 + l are (q[l + 16] >> s) & 3 of
 * sub-block 8 h + 2 j + 1. value = (f32(d) * sc) * q - f32(dmin) * m. */
typedef struct aq_block_q2_K {
    uint8_t scales[AQ_QK_K / 16];
    uint8_t qs[AQ_QK_K / 4];
    uint16_t d;
    uint16_t dmin;
} block_q2_K;
_Static_assert(sizeof(block_q2_K) == 4 + AQ_QK_K / 16 + AQ_QK_K / 4, "block_q2_K must be 84 bytes, as in GGUF files");

/* 256 weights of 3 bits in 16 sub-blocks of 16. Low 2 bits in qs in Q2_K's order;
 * the high bit of the element that reads byte l of its 32-byte run (l in 0..31) in
 * half h with shift 2 j is bit 4 h + j of hmask[l]: set means q = low bits, clear
 * means q = low bits - 4, so q in [-4, 3]. Sub-block k's 6-bit scale s_k: low 4 bits
 * k < 8 ? scales[k] & 15 : scales[k - 8] >> 4, high 2 bits (scales[8 + k % 4] >>
 * (2 * (k / 4))) & 3. value = (f32(d) * (s_k - 32)) * q. */
typedef struct aq_block_q3_K {
    uint8_t hmask[AQ_QK_K / 8];
    uint8_t qs[AQ_QK_K / 4];
    uint8_t scales[AQ_K_SCALE_SIZE];
    uint16_t d;
} block_q3_K;
_Static_assert(sizeof(block_q3_K) == 2 + AQ_QK_K / 8 + AQ_QK_K / 4 + AQ_K_SCALE_SIZE,
               "block_q3_K must be 110 bytes, as in GGUF files");

/* 256 weights of 4 bits in 8 sub-blocks of 32, each with a 6-bit scale sc_k and a
 * 6-bit min m_k packed in scales[12] (k < 4: scales[k] & 63, scales[k + 4] & 63;
 * k >= 4: (scales[k + 4] & 15) | (scales[k - 4] >> 6) << 4 and
 * (scales[k + 4] >> 4) | (scales[k] >> 6) << 4). Element order: for c = 0..3,
 * the low nibbles of qs[32 c .. 32 c + 31] are elements 64 c + l (sub-block 2 c),
 * the high nibbles elements 64 c + 32 + l (sub-block 2 c + 1).
 * value = (f32(d) * sc) * q - f32(dmin) * m. */
typedef struct aq_block_q4_K {
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[AQ_K_SCALE_SIZE];
    uint8_t qs[AQ_QK_K / 2];
} block_q4_K;
_Static_assert(sizeof(block_q4_K) == 4 + AQ_K_SCALE_SIZE + AQ_QK_K / 2,
               "block_q4_K must be 144 bytes, as in GGUF files");

/* Q4_K plus a fifth bit: element 64 c + l has bit 2 c of qh[l] as its bit 4,
 * element 64 c + 32 + l bit 2 c + 1 of qh[l]; q in [0, 31]. Value as Q4_K. */
typedef struct aq_block_q5_K {
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[AQ_K_SCALE_SIZE];
    uint8_t qh[AQ_QK_K / 8];
    uint8_t qs[AQ_QK_K / 2];
} block_q5_K;
_Static_assert(sizeof(block_q5_K) == 4 + AQ_K_SCALE_SIZE + AQ_QK_K / 8 + AQ_QK_K / 2,
               "block_q5_K must be 176 bytes, as in GGUF files");

/* 256 weights of 6 bits in 16 sub-blocks of 16 with signed 8-bit scales. Halves
 * h = 0, 1 use ql + 64 h, qh + 32 h, scales + 8 h; for l = 0..31 (is = l / 16):
 *   element 128 h + l      = (ql[l] & 15)      | ((qh[l] >> 0) & 3) << 4, scale sc[is]
 *   element 128 h + l + 32 = (ql[l + 32] & 15) | ((qh[l] >> 2) & 3) << 4, scale sc[is + 2]
 *   element 128 h + l + 64 = (ql[l] >> 4)      | ((qh[l] >> 4) & 3) << 4, scale sc[is + 4]
 *   element 128 h + l + 96 = (ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4, scale sc[is + 6]
 * q = that - 32 in [-32, 31]; value = (f32(d) * sc) * q. */
typedef struct aq_block_q6_K {
    uint8_t ql[AQ_QK_K / 2];
    uint8_t qh[AQ_QK_K / 4];
    int8_t scales[AQ_QK_K / 16];
    uint16_t d;
} block_q6_K;
_Static_assert(sizeof(block_q6_K) == 2 + AQ_QK_K / 2 + AQ_QK_K / 4 + AQ_QK_K / 16,
               "block_q6_K must be 210 bytes, as in GGUF files");

/* Activations for the K-quants and IQ4_XS: 256 values, value = d * qs[j] with a
 * float d (not a half); bsums[g] = sum of qs[16 g .. 16 g + 15]. The dot products
 * read bsums for the minimum terms, as llama.cpp's do, so they must be those sums. */
typedef struct aq_block_q8_K {
    float d;
    int8_t qs[AQ_QK_K];
    int16_t bsums[AQ_QK_K / 16];
} block_q8_K;
_Static_assert(sizeof(block_q8_K) == 4 + AQ_QK_K + AQ_QK_K / 8, "block_q8_K must be 292 bytes, as in ggml");

/* 32 weights, nibbles ordered as Q4_0, each an index into AQ_IQ4_NL_VALUES:
 * value = f32(d) * AQ_IQ4_NL_VALUES[nibble]. */
typedef struct aq_block_iq4_nl {
    uint16_t d;
    uint8_t qs[AQ_QK4_NL / 2];
} block_iq4_nl;
_Static_assert(sizeof(block_iq4_nl) == 2 + AQ_QK4_NL / 2, "block_iq4_nl must be 18 bytes, as in GGUF files");

/* llama.cpp's kvalues_iq4nl: the 16 levels of IQ4_NL and IQ4_XS. */
#define AQ_IQ4_NL_VALUES_INIT                                                                                          \
    { -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113 }

/* 256 weights in 8 sub-blocks of 32, each with a 6-bit scale
 * ls_k = ((scales_l[k / 2] >> (4 * (k % 2))) & 15) | ((scales_h >> (2 k)) & 3) << 4.
 * Sub-block k reads qs[16 k .. 16 k + 15]: low nibbles are elements 32 k + j, high
 * nibbles 32 k + 16 + j. value = (f32(d) * (ls_k - 32)) * AQ_IQ4_NL_VALUES[nibble]. */
typedef struct aq_block_iq4_xs {
    uint16_t d;
    uint16_t scales_h;
    uint8_t scales_l[AQ_QK_K / 64];
    uint8_t qs[AQ_QK_K / 2];
} block_iq4_xs;
_Static_assert(sizeof(block_iq4_xs) == 4 + AQ_QK_K / 64 + AQ_QK_K / 2,
               "block_iq4_xs must be 136 bytes, as in GGUF files");

/* Dequantizers: n elements (a multiple of the block) into out, in the float
 * expressions given with each layout above (those of llama.cpp's dequantize_row_*). */
void aq_q4_1_dequantize_ref(const block_q4_1 *in, size_t n, float *out);
void aq_q5_0_dequantize_ref(const block_q5_0 *in, size_t n, float *out);
void aq_q5_1_dequantize_ref(const block_q5_1 *in, size_t n, float *out);
void aq_q2_k_dequantize_ref(const block_q2_K *in, size_t n, float *out);
void aq_q3_k_dequantize_ref(const block_q3_K *in, size_t n, float *out);
void aq_q4_k_dequantize_ref(const block_q4_K *in, size_t n, float *out);
void aq_q5_k_dequantize_ref(const block_q5_K *in, size_t n, float *out);
void aq_q6_k_dequantize_ref(const block_q6_K *in, size_t n, float *out);
void aq_iq4_nl_dequantize_ref(const block_iq4_nl *in, size_t n, float *out);
void aq_iq4_xs_dequantize_ref(const block_iq4_xs *in, size_t n, float *out);
void aq_q8_1_dequantize_ref(const block_q8_1 *in, size_t n, float *out); /* qs * f32(d) */
void aq_q8_k_dequantize_ref(const block_q8_K *in, size_t n, float *out); /* d * qs */

/* F16 / BF16 rows (any n >= 0): widening is exact; narrowing rounds to nearest
 * even (f16.h), as llama.cpp's ggml_fp32_to_fp16_row / ggml_fp32_to_bf16_row do
 * (except that ggml's AVX512-BF16 path flushes subnormals). */
void aq_f16_dequantize_ref(const uint16_t *in, size_t n, float *out);
void aq_bf16_dequantize_ref(const uint16_t *in, size_t n, float *out);
void aq_f16_quantize_ref(const float *x, size_t n, uint16_t *out);
void aq_bf16_quantize_ref(const float *x, size_t n, uint16_t *out);

/* Activation quantizers, copying llama.cpp's reference ones.
 *
 * Q8_0 (for Q4_0, Q5_0, Q8_0, IQ4_NL weights) is aq_q8_0_quantize_ref above
 * (quantize_row_q8_0_ref: d = amax / 127, id = d ? 1 / d : 0, q = roundf(x * id)).
 *
 * Q8_1 (quantize_row_q8_1_ref): d and qs exactly as Q8_0; then
 * s = f16((float) sum(qs) * d) with the unrounded float d. */
void aq_q8_1_quantize_ref(const float *x, size_t n, block_q8_1 *out);

/* Q8_K (quantize_row_q8_K_ref): max = the element of largest |x| with its sign (the
 * first one on ties); if |max| is 0, d = 0 and qs, bsums = 0 (ggml leaves bsums
 * unwritten there). Else iscale = -127.0f / max (IEEE division);
 * q = min(127, nearbyintf(iscale * x)) -- round half to EVEN (ggml's nearest_int
 * magic-number add, identical for |iscale * x| < 2^22), unlike Q8_0's roundf;
 * d = 1.0f / iscale = about -max / 127 (the element of largest magnitude always
 * becomes -127, so d has the opposite sign of max);
 * bsums[g] = sum of qs[16 g .. 16 g + 15]. */
void aq_q8_k_quantize_ref(const float *x, size_t n, block_q8_K *out);

/* Dot products of one weight row and one activation row (n elements). Each
 * follows the pattern above: exact per-block ints, then, per block b,
 *
 *  Q5_0 x Q8_0, IQ4_NL x Q8_0 (as Q4_0 x Q8_0 and Q8_0 x Q8_0 above):
 *    isum = sum (q - 16) * qa  |  sum AQ_IQ4_NL_VALUES[nibble] * qa   (|isum| <= 32*127*128)
 *    term = (f32(dx) * f32(dy)) * (float) isum
 *      (f32(dx) * f32(dy) is exact: two 11-bit significands)
 *  Q4_1 x Q8_1, Q5_1 x Q8_1:
 *    isum = sum q * qa  (q unsigned 0..15 / 0..31)
 *    term = (f32(dx) * f32(dy)) * (float) isum + f32(mx) * f32(sy)
 *      i.e. t1 = dd * (float) isum; t2 = mx * sy; term = t1 + t2.
 *      The minimum enters through the activation's f16 s, not through sum(a).
 *  K-quants and IQ4_XS x Q8_K, with D = f32(x.d) * y.d, Dmin = f32(x.dmin) * y.d
 *  (float products, rounded):
 *    Q2_K: isum = sum_k sc_k * sum_{sub-block k} q * qa        (|isum| < 2^21)
 *          msum = sum_{g=0..15} m_g * y.bsums[g]
 *          term = D * (float) isum - Dmin * (float) msum  (two rounded products, then -)
 *    Q3_K: isum = sum_k (s_k - 32) * sum q * qa  (q in [-4, 3])  (|isum| < 2^23)
 *          term = D * (float) isum
 *    Q4_K, Q5_K: isum = sum_k sc_k * sum_{sub-block k of 32} q * qa  (|isum| < 2^26)
 *          msum = sum_{g=0..15} m_{g/2} * y.bsums[g]
 *          term = D * (float) isum - Dmin * (float) msum
 *    Q6_K: isum = sum_k sc_k * sum (q - 32) * qa   (|isum| < 2^28)
 *          term = D * (float) isum
 *    IQ4_XS: isum = sum_k (ls_k - 32) * sum AQ_IQ4_NL_VALUES[nibble] * qa  (|isum| < 2^28)
 *          term = D * (float) isum
 *      (llama.cpp's generic C code orders the floats differently: IQ4_XS adds a
 *      float term per sub-block, Q3_K..Q6_K keep 8 float lanes.)
 *  The integer bounds hold for any bytes in the blocks, including qa = -128 and
 *  bsums of any int16 value. */
float aq_q4_1_q8_1_dot_ref(size_t n, const block_q4_1 *x, const block_q8_1 *y);
float aq_q5_0_q8_0_dot_ref(size_t n, const block_q5_0 *x, const block_q8_0 *y);
float aq_q5_1_q8_1_dot_ref(size_t n, const block_q5_1 *x, const block_q8_1 *y);
float aq_iq4_nl_q8_0_dot_ref(size_t n, const block_iq4_nl *x, const block_q8_0 *y);
float aq_q2_k_q8_k_dot_ref(size_t n, const block_q2_K *x, const block_q8_K *y);
float aq_q3_k_q8_k_dot_ref(size_t n, const block_q3_K *x, const block_q8_K *y);
float aq_q4_k_q8_k_dot_ref(size_t n, const block_q4_K *x, const block_q8_K *y);
float aq_q5_k_q8_k_dot_ref(size_t n, const block_q5_K *x, const block_q8_K *y);
float aq_q6_k_q8_k_dot_ref(size_t n, const block_q6_K *x, const block_q8_K *y);
float aq_iq4_xs_q8_k_dot_ref(size_t n, const block_iq4_xs *x, const block_q8_K *y);

/* F16 x F16 and BF16 x BF16, any n. Every product p_i = f32(x_i) * f32(y_i) is a
 * float multiply (exact for F16: 22-bit significands within float's normal range;
 * for BF16 exact unless it overflows or falls below 2^-126). The sum uses 16 float
 * lanes, the shape of one AVX-512, two AVX2 or four NEON registers:
 *   lane[l] = 0.0f, then lane[l] = lane[l] + p_i for i = l, l + 16, l + 32, ... < n;
 *   then for w = 8, 4, 2, 1: lane[l] = lane[l] + lane[l + w] for l < w;
 *   result lane[0].
 * A tail of fewer than 16 may be padded with +0 products (adding +0 leaves every
 * lane unchanged: a lane that starts at +0 never becomes -0). Because the F16
 * products are exact, an F16 twin may fuse the multiply into the add; a BF16 twin
 * may only where the products stay exact. (llama.cpp accumulates F16 lanes as
 * well, then reduces into a double; its scalar code sums in double.) */
float aq_f16_f16_dot_ref(size_t n, const uint16_t *x, const uint16_t *y);
float aq_bf16_bf16_dot_ref(size_t n, const uint16_t *x, const uint16_t *y);

#endif /* AQ_KERNELS_REF_QUANT_H */
