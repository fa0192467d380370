/* qc3w-unpack-neon.h - the unpacking of the 3-bit "8c4" layout
 * (lib/kernels/qd8-qc3w-gemm-loop.h) shared by the NEON qd8 x qc3w tiles (SDOT and
 * plain NEON), as qc3w-unpack-avx2.h is for the x86 ones. Internal. */
#ifndef AQ_KERNELS_NEON_QC3W_UNPACK_NEON_H
#define AQ_KERNELS_NEON_QC3W_UNPACK_NEON_H

#include <arm_neon.h>
#include <stdint.h>

/* The planes of one sub-block of 32 k: l[0] = L0, l[1] = L1, h = H, each in two
 * halves ([half]: rows 0-3, rows 4-7). */
struct aq_qc3w_planes_neon {
    uint8x16_t l[2][2], h[2];
};

static inline __attribute__((always_inline)) struct aq_qc3w_planes_neon aq_qc3w_load_planes_neon(const uint8_t *sub) {
    struct aq_qc3w_planes_neon p;
    p.l[0][0] = vld1q_u8(sub);
    p.l[0][1] = vld1q_u8(sub + 16);
    p.l[1][0] = vld1q_u8(sub + 32);
    p.l[1][1] = vld1q_u8(sub + 48);
    p.h[0] = vld1q_u8(sub + 64);
    p.h[1] = vld1q_u8(sub + 80);
    return p;
}

/* Code vector s (0..7, a constant) of one half of the planes p: the bytes 0..7 of
 * 4 rows x k 4s..4s+3 (byte 4j + c: row j, element 4s + c), the SDOT / SMLAL
 * operand. Low bits: L_{s/4} shifted right by 2 (s % 4); high bit: bit s of H,
 * moved to bit 2. USHL by a signed count (negative: right), constant here: one
 * shift or none. */
#define AQ_QC3W_CODES_NEON(p, s, half)                                                                                 \
    vreinterpretq_s8_u8(                                                                                               \
        vorrq_u8(vandq_u8(vshlq_u8((p).l[(s) / 4][half], vdupq_n_s8(-2 * ((s) % 4))), vdupq_n_u8(0x03)),               \
                 vandq_u8(vshlq_u8((p).h[half], vdupq_n_s8(2 - (s))), vdupq_n_u8(0x04))))

#endif /* AQ_KERNELS_NEON_QC3W_UNPACK_NEON_H */
