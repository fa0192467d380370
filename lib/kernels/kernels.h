/* kernels.h - the kernel table the library runs with, the kernel lists it is chosen
 * from, and the one call that chooses. Internal.
 *
 * Kernel families, one signature each. Each family has ONE list, best first:
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
 *
 * The same three edits add a block GEMM of llama.cpp's formats: the file
 * kernels_x86/<w>-<a>-gemm-<mr>x<nr>-<isa>.c (e.g. q4_k-q8_k-gemm-4x2-avx2.c) with
 * its micro-tile and AQ_BLOCK_GEMM_DEFINE (block-gemm-loop.h), its meson line, and
 * one line AQ_BLOCK_GEMM(isa, type, mr, nr, fn) in kernels_x86/block-gemm.inc among
 * the entries of its weight type. The two families that serve several types (block
 * GEMMs and activation quantizers) are chosen per type.
 */
#ifndef AQ_KERNELS_H
#define AQ_KERNELS_H

#include <stdbool.h>
#include <stddef.h>

#include "agilequant.h"
#include "block-types.h"
#include "cpu_features.h"
#include "f32-attention.h"
#include "f32-gemm.h"
#include "q4_0x8.h"
#include "q4_kx8.h"
#include "q6_kx8.h"
#include "q8_0x8.h"
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

/* llama.cpp's formats, matrix times matrix: out[t * out_stride + r] = the dot
 * product of weight row r (blocks of the entry's weight type, rows w_row_bytes
 * apart) with activation row t (blocks of that type's activation type,
 * aq_block_type.act_type, rows a_row_bytes apart), for t < m and r in [n_begin,
 * n_end); k elements per row. Each output is bit for bit the reference dot
 * (aq_block_type.dot, quant.h), whatever the tile; m = 1 is decode's matrix-vector
 * product. One list for every weight type: per type, its kernels best first, and
 * every type's reference (a loop over its reference dot) at the end. */
typedef void (*aq_block_gemm_fn)(size_t m, size_t n_begin, size_t n_end, size_t k, const void *w, size_t w_row_bytes,
                                 const void *a, size_t a_row_bytes, float *out, size_t out_stride);
typedef struct aq_block_gemm_kernel {
    const char *name; /* "aq_q4_k_q8_k_gemm_4x2__avx2": types, tile (tokens x rows), ISA */
    uint32_t type;    /* the weight type, AQ_GGML_* (block-types.h) */
    aq_block_gemm_fn fn;
    size_t m_tile; /* activation rows per register tile, at most */
    size_t n_tile; /* weight rows per register tile when m >= m_tile (more when m is smaller) */
    aq_cpu_feature isa;
} aq_block_gemm_kernel;

/* llama.cpp's formats repacked at load into groups of 8 rows interleaved
 * (q4_0x8.h), so that a tile's 8 rows sit in the lanes of one vector: per source
 * weight type, its kernels best first, then its reference. fn has the block GEMM's
 * signature and contract (each output the reference dot's bits) on the packed
 * buffer: group g of 8 rows at w + g * 8 * w_row_bytes (w_row_bytes: the source
 * row's bytes), n_begin and n_end multiples of 8. pack writes rows [0, n_rows -
 * n_rows % 8) of the source into that buffer, (n_rows / 8) * 8 * w_row_bytes bytes:
 * the layouts keep the file's size, so repacking moves memory, never adds to it
 * once the file's pages are released. The rows left over run the plain list. */
typedef void (*aq_block_pack_x8_fn)(size_t n_rows, size_t n_blocks, const void *w, size_t w_row_bytes, void *out);
typedef struct aq_block_gemm_x8_kernel {
    const char *name; /* "aq_q4_0x8_q8_0_gemm_4x8__avx2": types, tile (tokens x rows), ISA */
    uint32_t type;    /* the source weight type, AQ_GGML_* */
    aq_block_pack_x8_fn pack;
    aq_block_gemm_fn fn;
    size_t m_tile; /* activation rows per register tile, at most (8 weight rows each) */
    aq_cpu_feature isa;
} aq_block_gemm_x8_kernel;

/* The activation side of llama.cpp's formats: n floats (a multiple of the block)
 * into blocks of the entry's type (Q8_0, Q8_1, Q8_K), bit for bit as
 * aq_act_quantize_ref (llama.cpp's reference rounding). One list for the three
 * types, references last. */
typedef void (*aq_act_quantize_fn)(const float *x, size_t n, void *blocks);
typedef struct aq_act_quantize_kernel {
    const char *name; /* "aq_q8_k_quantize__avx2" */
    uint32_t type;    /* the activation type, AQ_GGML_Q8_0 / Q8_1 / Q8_K */
    aq_act_quantize_fn fn;
    aq_cpu_feature isa;
} aq_act_quantize_kernel;

/* The activation side of our INT4 kernels: dynamic per-row INT8 (or INT4-range)
 * quantization, with aq_qd8_quantize_dynamic_ref's signature and bits (quant.h). */
typedef bool (*aq_qd8_quantize_fn)(const float *x, size_t n_rows, size_t k, size_t x_stride, int bits,
                                   struct aq_qd8 *out);
typedef struct aq_qd8_quantize_kernel {
    const char *name; /* "aq_qd8_quantize__avx2" */
    aq_qd8_quantize_fn fn;
    aq_cpu_feature isa;
} aq_qd8_quantize_kernel;

/* The same per run of `group` features, every group at bits (8 or 4), with
 * aq_qd8_quantize_grouped_ref's signature. Two lists: the symmetric levels, bit
 * for bit aq_qd8_quantize_grouped_ref, and the asymmetric 4-bit ones, bit for bit
 * aq_qd8_quantize_grouped_asym_ref with group_bits NULL. */
typedef bool (*aq_qd8_quantize_grouped_fn)(const float *x, size_t n_rows, size_t k, size_t x_stride, int bits,
                                           size_t group, struct aq_qd8 *out);
typedef struct aq_qd8_quantize_grouped_kernel {
    const char *name; /* "aq_qd8_quantize_grouped__avx2", "aq_qd8_quantize_grouped_asym__avx2" */
    aq_qd8_quantize_grouped_fn fn;
    aq_cpu_feature isa;
} aq_qd8_quantize_grouped_kernel;

/* One step of attention (f32-attention.h): a tile of 8 queries against a block of
 * keys, bit for bit aq_f32_attention_ref. */
typedef struct aq_f32_attention_kernel {
    const char *name; /* "aq_f32_attention_8x8__avx2": queries x keys per pass, ISA */
    aq_f32_attention_fn fn;
    aq_cpu_feature isa;
} aq_f32_attention_kernel;

/* Slots of the per-type tables below: GGUF type ids are smaller. */
#define AQ_BLOCK_TYPE_SLOTS 32

/* ------------------------------------------------------------------------------
 * The lists, best first; the last entry of each is the reference (isa AQ_CPU_NONE). */
extern const aq_qc4w_gemm_kernel aq_qd8_qc4w_gemm_list[];
extern const size_t aq_qd8_qc4w_gemm_list_size;
/* qd8 x qc3w: 3-bit weights (kernels_ref/quant.h) in the same signature and
 * contract, each entry's gemm bit for bit aq_qd8_qc3w_gemm_ref. */
extern const aq_qc4w_gemm_kernel aq_qd8_qc3w_gemm_list[];
extern const size_t aq_qd8_qc3w_gemm_list_size;
extern const aq_f32_gemm_kernel aq_f32_gemm_list[];
extern const size_t aq_f32_gemm_list_size;
extern const aq_f32_qc4w_gemm_kernel aq_f32_qc4w_gemm_list[];
extern const size_t aq_f32_qc4w_gemm_list_size;
extern const aq_q4_0_q8_0_dot_kernel aq_q4_0_q8_0_dot_list[];
extern const size_t aq_q4_0_q8_0_dot_list_size;
extern const aq_q8_0_q8_0_dot_kernel aq_q8_0_q8_0_dot_list[];
extern const size_t aq_q8_0_q8_0_dot_list_size;
/* Per type, the references last (one per type, isa AQ_CPU_NONE). */
extern const aq_block_gemm_kernel aq_block_gemm_list[];
extern const size_t aq_block_gemm_list_size;
extern const aq_block_gemm_x8_kernel aq_block_gemm_x8_list[];
extern const size_t aq_block_gemm_x8_list_size;
extern const aq_act_quantize_kernel aq_act_quantize_list[];
extern const size_t aq_act_quantize_list_size;
extern const aq_qd8_quantize_kernel aq_qd8_quantize_list[];
extern const size_t aq_qd8_quantize_list_size;
extern const aq_qd8_quantize_grouped_kernel aq_qd8_quantize_grouped_list[];
extern const size_t aq_qd8_quantize_grouped_list_size;
extern const aq_qd8_quantize_grouped_kernel aq_qd8_quantize_grouped_asym_list[];
extern const size_t aq_qd8_quantize_grouped_asym_list_size;
extern const aq_f32_attention_kernel aq_f32_attention_list[];
extern const size_t aq_f32_attention_list_size;

/* ------------------------------------------------------------------------------
 * The table: one kernel per family. */
typedef struct aq_kernels {
    char name[224]; /* e.g. "qc4w:avx512vnni f32:avx2 w4a16:avx2 q4_0:avx2 q8_0:avx2 blocks:avx2+avxvnni
                     * actq:avx2 qc3w:avx2 attn:avx2", or "ref" */
    aq_f32_gemm_fn f32_gemm;
    aq_f32_qc4w_gemm_fn f32_qc4w_gemm;
    aq_qc4w_gemm_kernel qc4w_gemm;
    aq_qc4w_gemm_kernel qc3w_gemm; /* for 3-bit weights (aq_matrix.q3w) */
    aq_q4_0_q8_0_dot_fn q4_0_q8_0_dot;
    aq_q8_0_q8_0_dot_fn q8_0_q8_0_dot;
    /* Indexed by weight type (AQ_GGML_*): the chosen entry of aq_block_gemm_list, NULL
     * for a type the list does not have. */
    const aq_block_gemm_kernel *block_gemm[AQ_BLOCK_TYPE_SLOTS];
    /* Indexed by weight type: the chosen entry of aq_block_gemm_x8_list, NULL for a
     * type it does not have. The model repacks a type's matrices only when this is
     * a SIMD entry (the reference path reads the file's layout). */
    const aq_block_gemm_x8_kernel *block_gemm_x8[AQ_BLOCK_TYPE_SLOTS];
    /* Indexed by activation type (AQ_GGML_Q8_0, Q8_1, Q8_K): the chosen entry of
     * aq_act_quantize_list, NULL for the others. */
    const aq_act_quantize_kernel *act_quantize[AQ_BLOCK_TYPE_SLOTS];
    aq_qd8_quantize_fn qd8_quantize;
    aq_qd8_quantize_grouped_fn qd8_quantize_grouped;
    aq_qd8_quantize_grouped_fn qd8_quantize_grouped_asym;
    aq_f32_attention_fn attention;
} aq_kernels;

/* Fills k, per family (per type for the block GEMMs and the activation quantizers),
 * with the first list entry this CPU runs. override NULL or
 * "": that automatic choice. "ref": the reference kernels. Another feature name
 * (aq_cpu_feature_name: "avx2", "avxvnni", "avx512vnni", "neon", "neondot"): per
 * family the first entry for exactly that feature, the reference where the family
 * has none; AQ_ERR_UNSUPPORTED when the CPU lacks the feature or no list has an
 * entry for it (unknown names too). */
aq_error aq_kernels_select(const char *override, aq_kernels *k);

#endif /* AQ_KERNELS_H */
