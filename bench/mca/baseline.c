/* baseline.c - the llvm-mca baseline: the reference kernel's inner loop
 * (aq_qd8_qc4w_gemm_ref, one weight row against one token, zero points
 * subtracted per element) as plain C, left to clang's auto-vectorizer. The
 * vectorization factor is pinned (16 weight bytes = 32 weights per iteration)
 * so run.sh knows how many weights one loop iteration covers. Not built by
 * meson; bench/mca/run.sh compiles it. */
#include <stddef.h>
#include <stdint.h>

int32_t aq_mca_baseline_group(const uint8_t *restrict qw, const int8_t *restrict qa, size_t n_bytes, int32_t zw,
                              int32_t za) {
    int32_t isum = 0;
    __asm volatile("# LLVM-MCA-LOOP baseline");
#pragma clang loop vectorize_width(16) interleave_count(1)
    for (size_t j = 0; j < n_bytes; j++) {
        const int32_t lo = (int32_t) (qw[j] & 0x0F) - zw;
        const int32_t hi = (int32_t) (qw[j] >> 4) - zw;
        isum += lo * ((int32_t) qa[2 * j] - za) + hi * ((int32_t) qa[2 * j + 1] - za);
    }
    return isum;
}
