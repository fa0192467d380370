/* qd8-qc4w-gemm-4x16c4-avx2.c - INT8 activations x INT4 weights with AVX2, 16 weight
 * rows per tile in two ymm registers (rows 0-7, rows 8-15), in the 16-row layout of
 * the AVX-512 kernel (aq_qc4w_packw_16c4_x86). Bit-exact twin of
 * aq_qd8_qc4w_gemm_ref; the outer loop is lib/kernels/qd8-qc4w-gemm-loop.c.
 *
 * Decode (one token) takes all 16 rows at once, so each 4-byte activation broadcast
 * feeds 2 VPMADDUBSW: per 256 multiply-adds 4 broadcasts instead of the 8-row tile's
 * 8. With 2 to 4 tokens, 16 rows would keep 8 int16 sums, 4 code registers and 8
 * accumulators live, more than AVX2's 16 registers (gcc spilled 60 and more a
 * step): the tile then does the two halves of 8 rows one after the other, each as
 * the 8-row tile does (qd8-qc4w-gemm-4x8c4-avx2.c), reading every other 32 bytes.
 *
 * Exactness as in the 4x8c4 AVX2 kernel: VPMADDUBSW (u8 codes x s8 activations)
 * gives int16 pairs of at most 15 * 128 * 2 = 3840 in magnitude; 8 of them added
 * stay below 30720 < 32767 (no saturation) and one VPMADDWD with ones widens them
 * into the int32 sums every 32 k. The code sums (codes x bytes of 1) stay below 960
 * in int16 over a group of 128: one VPMADDWD per group. */
#include <immintrin.h>
#include <stdint.h>

#include "qc4w-packw.h"
#include "qd8-qc4w-gemm-loop.h"
#include "qd8-tile-avx2.h"

/* gcc (12) without its pre-register-allocation scheduler keeps every product of a
 * step live at once and spills (as in the 4x8c4 AVX2 tile); clang schedules this
 * way by itself. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("schedule-insns", "sched-pressure")
#endif
#define MR 4
#define NR 16
/* Software prefetch distance in decode, in bytes of packed weights: that of the
 * 8-row tile, whose stream of weights this one reads at the same pace. */
#define PREFETCH_BYTES 2048

/* Rows 8h..8h + 7 (regs = 1) or all 16 (regs = 2, h = 0) of the tile for tokens
 * i < mr. with_c: some token of the tile has za != 0, so the code sums C are
 * needed. one_step: the group is 32, one step of 32 k (a constant: no int32 sum is
 * kept across steps). A step goes 8 k at a time: the codes of the rows unpacked
 * once (2 registers per 8 rows), every token's 2 broadcasts feeding them, the
 * products added into the token's int16 sums, widened once a step. */
AQ_TILE_INLINE void tile_rows(size_t mr, const struct aq_qc4w_tile *t, bool with_c, bool one_step, bool group_scales,
                              size_t regs, size_t h) {
    const size_t group = one_step ? 32 : t->group, codes_at = NR * aq_qc4w_meta_bytes(t->asym);
    const __m256i low_nibbles = _mm256_set1_epi8(0x0F);
    const __m256i ones = _mm256_set1_epi16(1);
    const __m256i one_bytes = _mm256_set1_epi8(1);
    /* The half's results: out from column 8h, at most the rows of the tile there are. */
    struct aq_qc4w_tile th = *t;
    th.out = t->out + 8 * h;
    th.nr = regs == 2 ? t->nr : (t->nr - 8 * h < 8 ? t->nr - 8 * h : 8);
    const uint8_t *block = t->w;
    __m256 acc[MR][2];
    for (size_t i = 0; i < mr; i++) aq_avx2_acc_start(acc[i], regs, &th, i);
    for (size_t g = 0; g < t->groups; g++, block += t->block_bytes) {
        const uint8_t *q = block + codes_at + 32 * h;
        __m256i isum[MR][2];
        if (regs == 2) {
            aq_avx2_qc4w_start(isum[0], mr, 2, t, block, g);
        } else {
            /* Both halves' starts (the zero points of all 16 rows are in one array), this half's kept. */
            __m256i both[MR][2];
            aq_avx2_qc4w_start(both[0], mr, 2, t, block, g);
            for (size_t i = 0; i < mr; i++) isum[i][0] = both[i][h];
        }
        __m256i c16[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
        const int8_t *a_group = t->a + (t->g0 + g) * group;
        for (size_t p0 = 0; p0 < group / 8; p0 += 4) {
            if (mr == 1) {
                /* As in the 8-row tile: the hardware prefetcher alone fell behind in decode. */
                const uintptr_t ahead = (uintptr_t)(q + p0 * NR * 4) + PREFETCH_BYTES;
                for (size_t line = 0; line < 4; line++) _mm_prefetch((const char *)(ahead + 64 * line), _MM_HINT_T0);
            }
            __m256i s16[MR][2];
            for (size_t p = p0; p < p0 + 4; p++) {
                __m256i lo[2], hi[2];
                for (size_t r = 0; r < regs; r++) {
                    const __m256i packed = _mm256_loadu_si256((const __m256i *)(q + p * NR * 4 + 32 * r));
                    lo[r] = _mm256_and_si256(packed, low_nibbles);
                    hi[r] = _mm256_and_si256(_mm256_srli_epi16(packed, 4), low_nibbles);
                    if (with_c)
                        c16[r] = _mm256_add_epi16(c16[r], _mm256_add_epi16(_mm256_maddubs_epi16(lo[r], one_bytes),
                                                                           _mm256_maddubs_epi16(hi[r], one_bytes)));
                }
                for (size_t i = 0; i < mr; i++) {
                    const int8_t *qa = a_group + i * t->k + 8 * p;
                    const __m256i a_lo = _mm256_set1_epi32(aq_load_i32(qa));
                    const __m256i a_hi = _mm256_set1_epi32(aq_load_i32(qa + 4));
                    for (size_t r = 0; r < regs; r++) {
                        const __m256i pair =
                            _mm256_add_epi16(_mm256_maddubs_epi16(lo[r], a_lo), _mm256_maddubs_epi16(hi[r], a_hi));
                        s16[i][r] = p == p0 ? pair : _mm256_add_epi16(s16[i][r], pair);
                    }
                }
            }
            for (size_t i = 0; i < mr; i++)
                for (size_t r = 0; r < regs; r++)
                    isum[i][r] = _mm256_add_epi32(isum[i][r], _mm256_madd_epi16(s16[i][r], ones));
        }
        for (size_t r = 0; r < regs; r++) {
            /* Rows 8(h + r)..: their f16 scales. */
            const __m256 wscale = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(block + 16 * (h + r))));
            const __m256i csum = _mm256_madd_epi16(c16[r], ones);
            for (size_t i = 0; i < mr; i++)
                aq_avx2_group_end(&acc[i][r], t, i, g, wscale, isum[i][r], csum, with_c, group_scales);
        }
    }
    for (size_t i = 0; i < mr; i++) aq_avx2_acc_store(&th, i, acc[i], regs);
}

/* One token: all 16 rows at once; more: the halves in turn (the second only when
 * the tile has rows there). */
AQ_TILE_INLINE void tile_body(size_t mr, const struct aq_qc4w_tile *t, bool with_c, bool one_step, bool group_scales) {
    if (mr == 1) {
        tile_rows(mr, t, with_c, one_step, group_scales, 2, 0);
    } else {
        tile_rows(mr, t, with_c, one_step, group_scales, 1, 0);
        if (t->nr > 8) tile_rows(mr, t, with_c, one_step, group_scales, 1, 1);
    }
}

AQ_QC4W_TILE_WITH_C_STEP_AND_SCALES(tile, tile_body)

AQ_QD8_QC4W_GEMM_DEFINE(aq_qd8_qc4w_gemm_4x16c4__avx2, MR, NR, tile)
