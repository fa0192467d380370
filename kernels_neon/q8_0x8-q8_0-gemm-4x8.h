/* q8_0x8-q8_0-gemm-4x8.h - the row sums of llama.cpp Q8_0 weights repacked into
 * groups of 8 rows (q8_0x8.h) with Q8_0 activations, for the NEON x8 tile
 * (x8-tile-neon.h), compiled by q8_0x8-q8_0-gemm-4x8-neon.c and -neondot.c.
 *
 * codes[2 c + g]: chunk c, rows 4g .. 4g + 3; each 32-bit lane is one row's
 * elements 4c .. 4c + 3. With the dot product extension, SDOT by element c % 4 of
 * the activations' half c / 4 adds each row's 4 products to its own lane (exact for
 * every int8 pair). Without it, each 8-byte quarter of a chunk is 2 rows of 4
 * codes: SMULL by the 4 elements, repeated, gives int16 products (|x y| <= 16384,
 * exact), SADALP adds their pairs into int32 (2 lanes a row), and one pairwise add
 * a block gives a lane per row. */
#include <arm_neon.h>

#include "q8_0x8.h"

#define X8_BLOCK block_q8_0x8

static inline void x8_unpack(const int8_t *qs, int8x16_t codes[16]) {
    for (size_t c = 0; c < 8; c++) {
        codes[2 * c] = vld1q_s8(qs + 32 * c);
        codes[2 * c + 1] = vld1q_s8(qs + 32 * c + 16);
    }
}

#if defined(__ARM_FEATURE_DOTPROD)
#define CHUNK(s, codes, yv, c)                                                                                         \
    do {                                                                                                               \
        s[0] = vdotq_laneq_s32(s[0], codes[2 * (c)], yv, (c) % 4);                                                     \
        s[1] = vdotq_laneq_s32(s[1], codes[2 * (c) + 1], yv, (c) % 4);                                                 \
    } while (0)
#define ACC_COUNT 2
#define ACC_ROWS(s, g) s[g]
#else
/* Quarter q = 2 g + half of codes[2 c + g]. */
#define CHUNK(s, codes, yv, c)                                                                                         \
    do {                                                                                                               \
        const int8x8_t y4_ = vreinterpret_s8_s32(vdup_laneq_s32(vreinterpretq_s32_s8(yv), (c) % 4));                   \
        for (size_t g_ = 0; g_ < 2; g_++) {                                                                            \
            s[2 * g_] = vpadalq_s16(s[2 * g_], vmull_s8(vget_low_s8(codes[2 * (c) + g_]), y4_));                       \
            s[2 * g_ + 1] = vpadalq_s16(s[2 * g_ + 1], vmull_s8(vget_high_s8(codes[2 * (c) + g_]), y4_));              \
        }                                                                                                              \
    } while (0)
#define ACC_COUNT 4
#define ACC_ROWS(s, g) vpaddq_s32(s[2 * (g)], s[2 * (g) + 1])
#endif

static inline void x8_row_sums(const int8x16_t codes[16], int8x16_t ylo, int8x16_t yhi, int32x4_t rows[2]) {
    int32x4_t s[ACC_COUNT];
    for (size_t q = 0; q < ACC_COUNT; q++) s[q] = vdupq_n_s32(0);
    CHUNK(s, codes, ylo, 0);
    CHUNK(s, codes, ylo, 1);
    CHUNK(s, codes, ylo, 2);
    CHUNK(s, codes, ylo, 3);
    CHUNK(s, codes, yhi, 4);
    CHUNK(s, codes, yhi, 5);
    CHUNK(s, codes, yhi, 6);
    CHUNK(s, codes, yhi, 7);
    for (size_t g = 0; g < 2; g++) rows[g] = ACC_ROWS(s, g);
}

#include "x8-tile-neon.h"
