/* lists.c - the kernel list of each family (kernels.h): the entries of this
 * architecture's <family>.inc, best first, then the portable reference. */
#include "kernels.h"
#include "ukernels.h"

/* The reference reads the plain aq_q4w: no packing. */
static void qd8_qc4w_gemm_ref_unpacked(size_t m, size_t n_begin, size_t n_end, const struct aq_qd8 *a,
                                       const struct aq_q4w *w, const void *packed, float *out, size_t out_stride) {
    (void) packed;
    aq_qd8_qc4w_gemm_ref(m, n_begin, n_end, a, w, out, out_stride);
}

#define COUNT(list) (sizeof(list) / sizeof((list)[0]))

const aq_qc4w_gemm_kernel aq_qd8_qc4w_gemm_list[] = {
#if AQ_ARCH_KERNELS
#define AQ_QD8_QC4W_GEMM(isa_, mr_, nr_, kr_, gemm_, packw_)                                            \
    {.name = #gemm_, .packed_size = packw_##_size, .pack = packw_, .gemm = gemm_, .n_tile = nr_,      \
     .m_tile = mr_, .k_tile = kr_, .isa = isa_},
#include "qd8-qc4w-gemm.inc"
#undef AQ_QD8_QC4W_GEMM
#endif
    {.name = "aq_qd8_qc4w_gemm_ref", .gemm = qd8_qc4w_gemm_ref_unpacked, .n_tile = 1, .m_tile = 1, .k_tile = 1,
     .isa = AQ_CPU_NONE},
};
const size_t aq_qd8_qc4w_gemm_list_size = COUNT(aq_qd8_qc4w_gemm_list);

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
