/* qc4w-gemm-neon.h - the NEON INT4-weight GEMMs: one list for the dispatcher
 * (lib/dispatch_arm.c), the tests and the llvm-mca harness. Internal.
 *
 * Each qd8 kernel is a (packed_size, pack, gemm) triple of the aq_qc4w_gemm_kernel
 * family (lib/kernels.h) and reproduces aq_qd8_qc4w_gemm_ref bit for bit. Which
 * ISA each needs is in its name; none of them tests CPU features.
 */
#ifndef AQ_KERNELS_NEON_QC4W_GEMM_NEON_H
#define AQ_KERNELS_NEON_QC4W_GEMM_NEON_H

#include <stddef.h>

#include "quant.h"

/* Every NEON kernel uses the 8-row tile layout of qc4w-pack.h (same size, kernel
 * specific nibble order), so they share one size function. */
size_t aq_qc4w_packed_size_x8__neon(const struct aq_q4w *w);

/* Plain NEON (baseline ARMv8-A): SMLAL into int16, SADALP into int32. 2 tokens x 8 rows, 16 k per step. */
void aq_qc4w_pack_x8c16__neon(const struct aq_q4w *w, void *packed);
void aq_qd8_qc4w_gemm_2x8c16__neon(size_t m, size_t n_begin, size_t n_end, const struct aq_qd8 *a,
                                   const struct aq_q4w *w, const void *packed, float *out, size_t out_stride);

/* ARMv8.2 dot product: SDOT by lane. 4 tokens x 8 rows, 4 k per SDOT. */
void aq_qc4w_pack_x8c4__neondot(const struct aq_q4w *w, void *packed);
void aq_qd8_qc4w_gemm_4x8c4__neondot(size_t m, size_t n_begin, size_t n_end, const struct aq_qd8 *a,
                                     const struct aq_q4w *w, const void *packed, float *out, size_t out_stride);

/* W4A4 on plain NEON, the Agile-Quant packed multiplier: two 4-bit products per
 * 16-bit lane. Activations are packed INT4 (aq_qd4), so this one has the
 * signature of aq_qd4_qc4w_gemm_ref plus the packed weights, and matches that
 * reference bit for bit. lib/kernels.h has no qd4 family yet, so it is not in
 * the kernel table; tests and benchmarks call it directly. */
void aq_qc4w_pack_x8c16__neonmul16(const struct aq_q4w *w, void *packed);
void aq_qd4_qc4w_gemm_2x8c16__neonmul16(size_t m, size_t n_begin, size_t n_end, const struct aq_qd4 *a,
                                        const struct aq_q4w *w, const void *packed, float *out,
                                        size_t out_stride);

#endif
