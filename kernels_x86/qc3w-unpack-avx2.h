/* qc3w-unpack-avx2.h - the unpacking of the 3-bit "8c4" layout
 * (lib/kernels/qd8-qc3w-gemm-loop.h) shared by the x86 qd8 x qc3w tiles (AVX2 and
 * AVX-VNNI, 256-bit VEX), static inline. Internal. */
#ifndef AQ_KERNELS_X86_QC3W_UNPACK_AVX2_H
#define AQ_KERNELS_X86_QC3W_UNPACK_AVX2_H

#include <immintrin.h>
#include <stdint.h>

/* Code vector s (0..7): low bits from plane l (L_{s/4} shifted right by 2 (s % 4)),
 * the high bit (bit s of h) moved to bit 2. The masks keep both arms' shift counts
 * in range (s is a constant). */
#define AQ_QC3W_CODES_AVX2(s, l, h)                                                                                    \
    _mm256_or_si256(                                                                                                   \
        _mm256_and_si256(_mm256_srli_epi16(l, 2 * ((s) % 4)), _mm256_set1_epi8(0x03)),                                 \
        _mm256_and_si256((s) < 2 ? _mm256_slli_epi16(h, (2 - (s)) & 7) : _mm256_srli_epi16(h, ((s)-2) & 7),            \
                         _mm256_set1_epi8(0x04)))

/* The 8 code vectors of the sub-block at sub (96 bytes: L0, L1, H): bytes 0..7 at
 * position 4j + c, code vector s holding element 4s + c of row j. */
static inline __attribute__((always_inline)) void aq_qc3w_unpack_avx2(const uint8_t *sub, __m256i w[8]) {
    const __m256i l0 = _mm256_loadu_si256((const __m256i *)sub);
    const __m256i l1 = _mm256_loadu_si256((const __m256i *)(sub + 32));
    const __m256i h = _mm256_loadu_si256((const __m256i *)(sub + 64));
    w[0] = AQ_QC3W_CODES_AVX2(0, l0, h);
    w[1] = AQ_QC3W_CODES_AVX2(1, l0, h);
    w[2] = AQ_QC3W_CODES_AVX2(2, l0, h);
    w[3] = AQ_QC3W_CODES_AVX2(3, l0, h);
    w[4] = AQ_QC3W_CODES_AVX2(4, l1, h);
    w[5] = AQ_QC3W_CODES_AVX2(5, l1, h);
    w[6] = AQ_QC3W_CODES_AVX2(6, l1, h);
    w[7] = AQ_QC3W_CODES_AVX2(7, l1, h);
}

#endif /* AQ_KERNELS_X86_QC3W_UNPACK_AVX2_H */
