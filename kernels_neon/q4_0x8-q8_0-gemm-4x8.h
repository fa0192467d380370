/* q4_0x8-q8_0-gemm-4x8.h - the row sums of llama.cpp Q4_0 weights repacked into
 * groups of 8 rows (q4_0x8.h) with Q8_0 activations, for the NEON x8 tile
 * (x8-tile-neon.h), compiled by q4_0x8-q8_0-gemm-4x8-neon.c and -neondot.c.
 *
 * codes[4 c + 2 h + g]: chunk c, low (h 0) or high (h 1) nibbles, rows 4g .. 4g + 3;
 * each 32-bit lane is one row's elements 4c .. 4c + 3 (low nibbles) or 16 + 4c ..
 * (high). The codes 0..15 are non-negative int8, so isum = sum(code * y) -
 * 8 * sum(y), exact. With the dot product extension, SDOT by element c of the
 * activations' half adds each row's 4 products to its own lane. Without it, each
 * 8-byte quarter of a chunk is 2 rows of 4 codes: SMLAL by the 4 elements,
 * repeated, into int16 (8 products of at most 15 * 128 per lane, |sum| <= 15360),
 * and two pairwise adds make a lane per row. */
#include <arm_neon.h>

#include "q4_0x8.h"

#define X8_BLOCK block_q4_0x8

static inline void x8_unpack(const uint8_t *qs, int8x16_t codes[16]) {
    const uint8x16_t low_nibbles = vdupq_n_u8(0x0F);
    for (size_t c = 0; c < 4; c++)
        for (size_t g = 0; g < 2; g++) {
            const uint8x16_t v = vld1q_u8(qs + 32 * c + 16 * g);
            codes[4 * c + g] = vreinterpretq_s8_u8(vandq_u8(v, low_nibbles));
            codes[4 * c + 2 + g] = vreinterpretq_s8_u8(vshrq_n_u8(v, 4));
        }
}

#if defined(__ARM_FEATURE_DOTPROD)
#define CHUNK(s, codes, ylo, yhi, c)                                                                                   \
    do {                                                                                                               \
        s[0] = vdotq_laneq_s32(s[0], codes[4 * (c)], ylo, c);                                                          \
        s[1] = vdotq_laneq_s32(s[1], codes[4 * (c) + 1], ylo, c);                                                      \
        s[0] = vdotq_laneq_s32(s[0], codes[4 * (c) + 2], yhi, c);                                                      \
        s[1] = vdotq_laneq_s32(s[1], codes[4 * (c) + 3], yhi, c);                                                      \
    } while (0)
#define ACC_COUNT 2
#define ACC_TYPE int32x4_t
#define ACC_ZERO vdupq_n_s32(0)
#define ACC_ROWS(s, g) s[g]
#else
/* Quarter q = 2 g + half of codes[4 c + 2 h + g]. */
#define CHUNK(s, codes, ylo, yhi, c)                                                                                   \
    do {                                                                                                               \
        const int8x8_t ya_ = vreinterpret_s8_s32(vdup_laneq_s32(vreinterpretq_s32_s8(ylo), c));                        \
        const int8x8_t yb_ = vreinterpret_s8_s32(vdup_laneq_s32(vreinterpretq_s32_s8(yhi), c));                        \
        for (size_t g_ = 0; g_ < 2; g_++) {                                                                            \
            s[2 * g_] = vmlal_s8(s[2 * g_], vget_low_s8(codes[4 * (c) + g_]), ya_);                                    \
            s[2 * g_ + 1] = vmlal_s8(s[2 * g_ + 1], vget_high_s8(codes[4 * (c) + g_]), ya_);                           \
            s[2 * g_] = vmlal_s8(s[2 * g_], vget_low_s8(codes[4 * (c) + 2 + g_]), yb_);                                \
            s[2 * g_ + 1] = vmlal_s8(s[2 * g_ + 1], vget_high_s8(codes[4 * (c) + 2 + g_]), yb_);                       \
        }                                                                                                              \
    } while (0)
#define ACC_COUNT 4
#define ACC_TYPE int16x8_t
#define ACC_ZERO vdupq_n_s16(0)
#define ACC_ROWS(s, g) vpaddq_s32(vpaddlq_s16(s[2 * (g)]), vpaddlq_s16(s[2 * (g) + 1]))
#endif

static inline void x8_row_sums(const int8x16_t codes[16], int8x16_t ylo, int8x16_t yhi, int32x4_t rows[2]) {
    ACC_TYPE s[ACC_COUNT];
    for (size_t q = 0; q < ACC_COUNT; q++) s[q] = ACC_ZERO;
    CHUNK(s, codes, ylo, yhi, 0);
    CHUNK(s, codes, ylo, yhi, 1);
    CHUNK(s, codes, ylo, yhi, 2);
    CHUNK(s, codes, ylo, yhi, 3);
    const int32x4_t bias = vdupq_n_s32(8 * ((int32_t)vaddlvq_s8(ylo) + (int32_t)vaddlvq_s8(yhi)));
    for (size_t g = 0; g < 2; g++) rows[g] = vsubq_s32(ACC_ROWS(s, g), bias);
}

#include "x8-tile-neon.h"
