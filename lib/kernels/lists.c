/* lists.c - the kernel list of each family (kernels.h): the entries of this
 * architecture's <family>.inc, best first, then the portable reference. */
#include "block-types.h"
#include "kernels.h"
#include "ukernels.h"

/* The qd8 x qc4w and qd8 x qc3w families share the kernel struct: one entry macro,
 * and for each reference, which reads the plain aq_q4w (no packing), a wrapper
 * with the family's signature and its entry. */
#define QC4W_GEMM_ENTRY(isa_, mr_, nr_, kr_, gemm_, packw_)                                                            \
    {.name = #gemm_,                                                                                                   \
     .packed_size = packw_##_size,                                                                                     \
     .pack = packw_,                                                                                                   \
     .gemm = gemm_,                                                                                                    \
     .n_tile = nr_,                                                                                                    \
     .m_tile = mr_,                                                                                                    \
     .k_tile = kr_,                                                                                                    \
     .isa = isa_},
#define QC4W_GEMM_REF(ref_)                                                                                            \
    static void ref_##_unpacked(size_t m, size_t n_begin, size_t n_end, const struct aq_qd8 *a,                        \
                                const struct aq_q4w *w, const void *packed, float *out, size_t out_stride) {           \
        (void)packed;                                                                                                  \
        ref_(m, n_begin, n_end, a, w, out, out_stride);                                                                \
    }
#define QC4W_GEMM_REF_ENTRY(ref_)                                                                                      \
    { .name = #ref_, .gemm = ref_##_unpacked, .n_tile = 1, .m_tile = 1, .k_tile = 1, .isa = AQ_CPU_NONE }

QC4W_GEMM_REF(aq_qd8_qc4w_gemm_ref)
QC4W_GEMM_REF(aq_qd8_qc3w_gemm_ref)

#define COUNT(list) (sizeof(list) / sizeof((list)[0]))

const aq_qc4w_gemm_kernel aq_qd8_qc4w_gemm_list[] = {
#if AQ_ARCH_KERNELS
#define AQ_QD8_QC4W_GEMM QC4W_GEMM_ENTRY
#include "qd8-qc4w-gemm.inc"
#undef AQ_QD8_QC4W_GEMM
#endif
    QC4W_GEMM_REF_ENTRY(aq_qd8_qc4w_gemm_ref),
};
const size_t aq_qd8_qc4w_gemm_list_size = COUNT(aq_qd8_qc4w_gemm_list);

const aq_qc4w_gemm_kernel aq_qd8_qc3w_gemm_list[] = {
#if AQ_ARCH_KERNELS
#define AQ_QD8_QC3W_GEMM QC4W_GEMM_ENTRY
#include "qd8-qc3w-gemm.inc"
#undef AQ_QD8_QC3W_GEMM
#endif
    QC4W_GEMM_REF_ENTRY(aq_qd8_qc3w_gemm_ref),
};
const size_t aq_qd8_qc3w_gemm_list_size = COUNT(aq_qd8_qc3w_gemm_list);
#undef QC4W_GEMM_REF_ENTRY
#undef QC4W_GEMM_REF
#undef QC4W_GEMM_ENTRY

const aq_f32_gemm_kernel aq_f32_gemm_list[] = {
#if AQ_ARCH_KERNELS
#define AQ_F32_GEMM(isa_, mr_, nr_, fn_) {.name = #fn_, .fn = fn_, .m_tile = mr_, .n_tile = nr_, .isa = isa_},
#include "f32-gemm.inc"
#undef AQ_F32_GEMM
#endif
    {.name = "aq_f32_gemm_ref", .fn = aq_f32_gemm_ref, .m_tile = 4, .n_tile = 1, .isa = AQ_CPU_NONE},
};
const size_t aq_f32_gemm_list_size = COUNT(aq_f32_gemm_list);

const aq_f32_qc4w_gemm_kernel aq_f32_qc4w_gemm_list[] = {
#if AQ_ARCH_KERNELS
#define AQ_F32_QC4W_GEMM(isa_, mr_, nr_, fn_) {.name = #fn_, .fn = fn_, .m_tile = mr_, .n_tile = nr_, .isa = isa_},
#include "f32-qc4w-gemm.inc"
#undef AQ_F32_QC4W_GEMM
#endif
    {.name = "aq_f32_qc4w_gemm_ref", .fn = aq_f32_qc4w_gemm_ref, .m_tile = 1, .n_tile = 1, .isa = AQ_CPU_NONE},
};
const size_t aq_f32_qc4w_gemm_list_size = COUNT(aq_f32_qc4w_gemm_list);

const aq_q4_0_q8_0_dot_kernel aq_q4_0_q8_0_dot_list[] = {
#if AQ_ARCH_KERNELS
#define AQ_Q4_0_Q8_0_DOT(isa_, fn_) {.name = #fn_, .fn = fn_, .isa = isa_},
#include "q4_0-q8_0-dot.inc"
#undef AQ_Q4_0_Q8_0_DOT
#endif
    {.name = "aq_q4_0_q8_0_dot_ref", .fn = aq_q4_0_q8_0_dot_ref, .isa = AQ_CPU_NONE},
};
const size_t aq_q4_0_q8_0_dot_list_size = COUNT(aq_q4_0_q8_0_dot_list);

const aq_q8_0_q8_0_dot_kernel aq_q8_0_q8_0_dot_list[] = {
#if AQ_ARCH_KERNELS
#define AQ_Q8_0_Q8_0_DOT(isa_, fn_) {.name = #fn_, .fn = fn_, .isa = isa_},
#include "q8_0-q8_0-dot.inc"
#undef AQ_Q8_0_Q8_0_DOT
#endif
    {.name = "aq_q8_0_q8_0_dot_ref", .fn = aq_q8_0_q8_0_dot_ref, .isa = AQ_CPU_NONE},
};
const size_t aq_q8_0_q8_0_dot_list_size = COUNT(aq_q8_0_q8_0_dot_list);

/* The reference of every weight type: its reference dot (block-types.c) per
 * output, the answer key of the SIMD tiles. */
static void block_gemm_ref(uint32_t type, size_t m, size_t n_begin, size_t n_end, size_t k, const void *w,
                           size_t w_row_bytes, const void *a, size_t a_row_bytes, float *out, size_t out_stride) {
    const aq_block_type *bt = aq_block_type_get(type);
    for (size_t t = 0; t < m; t++)
        for (size_t r = n_begin; r < n_end; r++)
            out[t * out_stride + r] =
                bt->dot(k, (const uint8_t *)w + r * w_row_bytes, (const uint8_t *)a + t * a_row_bytes);
}

#define BLOCK_GEMM_REF(tag, type_)                                                                                     \
    static void tag##_ref(size_t m, size_t n_begin, size_t n_end, size_t k, const void *w, size_t w_row_bytes,         \
                          const void *a, size_t a_row_bytes, float *out, size_t out_stride) {                          \
        block_gemm_ref(type_, m, n_begin, n_end, k, w, w_row_bytes, a, a_row_bytes, out, out_stride);                  \
    }
BLOCK_GEMM_REF(f16_f16_gemm, AQ_GGML_F16)
BLOCK_GEMM_REF(bf16_bf16_gemm, AQ_GGML_BF16)
BLOCK_GEMM_REF(q4_0_q8_0_gemm, AQ_GGML_Q4_0)
BLOCK_GEMM_REF(q4_1_q8_1_gemm, AQ_GGML_Q4_1)
BLOCK_GEMM_REF(q5_0_q8_0_gemm, AQ_GGML_Q5_0)
BLOCK_GEMM_REF(q5_1_q8_1_gemm, AQ_GGML_Q5_1)
BLOCK_GEMM_REF(q8_0_q8_0_gemm, AQ_GGML_Q8_0)
BLOCK_GEMM_REF(q2_k_q8_k_gemm, AQ_GGML_Q2_K)
BLOCK_GEMM_REF(q3_k_q8_k_gemm, AQ_GGML_Q3_K)
BLOCK_GEMM_REF(q4_k_q8_k_gemm, AQ_GGML_Q4_K)
BLOCK_GEMM_REF(q5_k_q8_k_gemm, AQ_GGML_Q5_K)
BLOCK_GEMM_REF(q6_k_q8_k_gemm, AQ_GGML_Q6_K)
BLOCK_GEMM_REF(iq4_nl_q8_0_gemm, AQ_GGML_IQ4_NL)
BLOCK_GEMM_REF(iq4_xs_q8_k_gemm, AQ_GGML_IQ4_XS)
#undef BLOCK_GEMM_REF

#define BLOCK_GEMM_REF_ENTRY(tag, type_)                                                                               \
    { .name = "aq_" #tag "_ref", .type = type_, .fn = tag##_ref, .m_tile = 1, .n_tile = 1, .isa = AQ_CPU_NONE }

const aq_block_gemm_kernel aq_block_gemm_list[] = {
#if AQ_ARCH_KERNELS
#define AQ_BLOCK_GEMM(isa_, type_, mr_, nr_, fn_)                                                                      \
    {.name = #fn_, .type = type_, .fn = fn_, .m_tile = mr_, .n_tile = nr_, .isa = isa_},
#include "block-gemm.inc"
#undef AQ_BLOCK_GEMM
#endif
    BLOCK_GEMM_REF_ENTRY(f16_f16_gemm, AQ_GGML_F16),        BLOCK_GEMM_REF_ENTRY(bf16_bf16_gemm, AQ_GGML_BF16),
    BLOCK_GEMM_REF_ENTRY(q4_0_q8_0_gemm, AQ_GGML_Q4_0),     BLOCK_GEMM_REF_ENTRY(q4_1_q8_1_gemm, AQ_GGML_Q4_1),
    BLOCK_GEMM_REF_ENTRY(q5_0_q8_0_gemm, AQ_GGML_Q5_0),     BLOCK_GEMM_REF_ENTRY(q5_1_q8_1_gemm, AQ_GGML_Q5_1),
    BLOCK_GEMM_REF_ENTRY(q8_0_q8_0_gemm, AQ_GGML_Q8_0),     BLOCK_GEMM_REF_ENTRY(q2_k_q8_k_gemm, AQ_GGML_Q2_K),
    BLOCK_GEMM_REF_ENTRY(q3_k_q8_k_gemm, AQ_GGML_Q3_K),     BLOCK_GEMM_REF_ENTRY(q4_k_q8_k_gemm, AQ_GGML_Q4_K),
    BLOCK_GEMM_REF_ENTRY(q5_k_q8_k_gemm, AQ_GGML_Q5_K),     BLOCK_GEMM_REF_ENTRY(q6_k_q8_k_gemm, AQ_GGML_Q6_K),
    BLOCK_GEMM_REF_ENTRY(iq4_nl_q8_0_gemm, AQ_GGML_IQ4_NL), BLOCK_GEMM_REF_ENTRY(iq4_xs_q8_k_gemm, AQ_GGML_IQ4_XS),
};
const size_t aq_block_gemm_list_size = COUNT(aq_block_gemm_list);
#undef BLOCK_GEMM_REF_ENTRY

const aq_block_gemm_x8_kernel aq_block_gemm_x8_list[] = {
#if AQ_ARCH_KERNELS
#define AQ_BLOCK_GEMM_X8(isa_, type_, mr_, fn_, pack_)                                                                 \
    {.name = #fn_, .type = type_, .pack = pack_, .fn = fn_, .m_tile = mr_, .isa = isa_},
#include "block-gemm-x8.inc"
#undef AQ_BLOCK_GEMM_X8
#endif
    {.name = "aq_q4_0x8_q8_0_gemm_ref",
     .type = AQ_GGML_Q4_0,
     .pack = aq_q4_0x8_pack_ref,
     .fn = aq_q4_0x8_q8_0_gemm_ref,
     .m_tile = 1,
     .isa = AQ_CPU_NONE},
    {.name = "aq_q8_0x8_q8_0_gemm_ref",
     .type = AQ_GGML_Q8_0,
     .pack = aq_q8_0x8_pack_ref,
     .fn = aq_q8_0x8_q8_0_gemm_ref,
     .m_tile = 1,
     .isa = AQ_CPU_NONE},
    {.name = "aq_q4_kx8_q8_k_gemm_ref",
     .type = AQ_GGML_Q4_K,
     .pack = aq_q4_kx8_pack_ref,
     .fn = aq_q4_kx8_q8_k_gemm_ref,
     .m_tile = 1,
     .isa = AQ_CPU_NONE},
    {.name = "aq_q5_kx8_q8_k_gemm_ref",
     .type = AQ_GGML_Q5_K,
     .pack = aq_q5_kx8_pack_ref,
     .fn = aq_q5_kx8_q8_k_gemm_ref,
     .m_tile = 1,
     .isa = AQ_CPU_NONE},
    {.name = "aq_q6_kx8_q8_k_gemm_ref",
     .type = AQ_GGML_Q6_K,
     .pack = aq_q6_kx8_pack_ref,
     .fn = aq_q6_kx8_q8_k_gemm_ref,
     .m_tile = 1,
     .isa = AQ_CPU_NONE},
};
const size_t aq_block_gemm_x8_list_size = COUNT(aq_block_gemm_x8_list);

/* The activation quantizers' references (quant.h), with the family's signature. */
static void q8_0_quantize_ref(const float *x, size_t n, void *blocks) { aq_q8_0_quantize_ref(x, n, blocks); }
static void q8_1_quantize_ref(const float *x, size_t n, void *blocks) { aq_q8_1_quantize_ref(x, n, blocks); }
static void q8_k_quantize_ref(const float *x, size_t n, void *blocks) { aq_q8_k_quantize_ref(x, n, blocks); }

const aq_act_quantize_kernel aq_act_quantize_list[] = {
#if AQ_ARCH_KERNELS
#define AQ_ACT_QUANTIZE(isa_, type_, fn_) {.name = #fn_, .type = type_, .fn = fn_, .isa = isa_},
#include "act-quantize.inc"
#undef AQ_ACT_QUANTIZE
#endif
    {.name = "aq_q8_0_quantize_ref", .type = AQ_GGML_Q8_0, .fn = q8_0_quantize_ref, .isa = AQ_CPU_NONE},
    {.name = "aq_q8_1_quantize_ref", .type = AQ_GGML_Q8_1, .fn = q8_1_quantize_ref, .isa = AQ_CPU_NONE},
    {.name = "aq_q8_k_quantize_ref", .type = AQ_GGML_Q8_K, .fn = q8_k_quantize_ref, .isa = AQ_CPU_NONE},
};
const size_t aq_act_quantize_list_size = COUNT(aq_act_quantize_list);

const aq_qd8_quantize_kernel aq_qd8_quantize_list[] = {
#if AQ_ARCH_KERNELS
#define AQ_QD8_QUANTIZE(isa_, fn_) {.name = #fn_, .fn = fn_, .isa = isa_},
#include "qd8-quantize.inc"
#undef AQ_QD8_QUANTIZE
#endif
    {.name = "aq_qd8_quantize_ref", .fn = aq_qd8_quantize_dynamic_ref, .isa = AQ_CPU_NONE},
};
const size_t aq_qd8_quantize_list_size = COUNT(aq_qd8_quantize_list);

#define AQ_QD8_QUANTIZE_GROUPED(isa_, fn_) {.name = #fn_, .fn = fn_, .isa = isa_},
const aq_qd8_quantize_grouped_kernel aq_qd8_quantize_grouped_list[] = {
#if AQ_ARCH_KERNELS
#include "qd8-quantize-grouped.inc"
#endif
    {.name = "aq_qd8_quantize_grouped_ref", .fn = aq_qd8_quantize_grouped_ref, .isa = AQ_CPU_NONE},
};
const size_t aq_qd8_quantize_grouped_list_size = COUNT(aq_qd8_quantize_grouped_list);

/* The asymmetric reference, every group at bits, with the family's signature. */
static bool qd8_quantize_grouped_asym_ref(const float *x, size_t n_rows, size_t k, size_t x_stride, int bits,
                                          size_t group, struct aq_qd8 *out) {
    return aq_qd8_quantize_grouped_asym_ref(x, n_rows, k, x_stride, bits, NULL, group, out);
}

const aq_qd8_quantize_grouped_kernel aq_qd8_quantize_grouped_asym_list[] = {
#if AQ_ARCH_KERNELS
#include "qd8-quantize-grouped-asym.inc"
#endif
    {.name = "aq_qd8_quantize_grouped_asym_ref", .fn = qd8_quantize_grouped_asym_ref, .isa = AQ_CPU_NONE},
};
const size_t aq_qd8_quantize_grouped_asym_list_size = COUNT(aq_qd8_quantize_grouped_asym_list);
#undef AQ_QD8_QUANTIZE_GROUPED

const aq_f32_attention_kernel aq_f32_attention_list[] = {
#if AQ_ARCH_KERNELS
#define AQ_F32_ATTENTION(isa_, fn_) {.name = #fn_, .fn = fn_, .isa = isa_},
#include "f32-attention.inc"
#undef AQ_F32_ATTENTION
#endif
    {.name = "aq_f32_attention_ref", .fn = aq_f32_attention_ref, .isa = AQ_CPU_NONE},
};
const size_t aq_f32_attention_list_size = COUNT(aq_f32_attention_list);
