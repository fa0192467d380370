/* Chooses kernels once: the reference kernels first, then whatever the
 * architecture's dispatcher (dispatch_x86.c, dispatch_arm.c) finds better. */
#include <string.h>

#include "dispatch_arch.h"
#include "kernels.h"

static void qc4w_gemm_ref_unpacked(size_t m, size_t n_begin, size_t n_end, const struct aq_qd8 *a,
                                   const struct aq_q4w *w, const void *packed, float *out, size_t out_stride) {
    (void)packed;
    aq_qd8_qc4w_gemm_ref(m, n_begin, n_end, a, w, out, out_stride);
}

void aq_kernels_set_reference(aq_kernels *k) {
    memset(k, 0, sizeof *k);
    strcpy(k->name, "ref");
    k->f32_gemm = aq_f32_gemm_ref;
    k->f32_qc4w_gemm = aq_f32_qc4w_gemm_ref;
    k->qc4w_gemm = (aq_qc4w_gemm_kernel){.name = "ref", .gemm = qc4w_gemm_ref_unpacked, .n_tile = 1};
    k->q4_0_q8_0_dot = aq_q4_0_q8_0_dot_ref;
    k->q8_0_q8_0_dot = aq_q8_0_q8_0_dot_ref;
}

aq_error aq_kernels_select(const char *override, aq_kernels *k) {
    if (!k) return AQ_ERR_INVALID_ARGUMENT;
    aq_kernels_set_reference(k);
    if (override && strcmp(override, "ref") == 0) return AQ_OK;
    return aq_kernels_select_arch(override && *override ? override : NULL, k);
}
