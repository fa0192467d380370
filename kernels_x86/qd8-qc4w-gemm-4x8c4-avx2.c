/* qd8-qc4w-gemm-4x8c4-avx2.c - INT8 activations x INT4 weights with AVX2: up to 4
 * activation rows x 8 weight rows per register tile, 4 k per int32 lane, weights
 * packed by aq_qc4w_packw_8c4_x86 (qc4w-packw.h). Bit-exact twin of
 * aq_qd8_qc4w_gemm_ref; the outer loop is lib/kernels/qd8-qc4w-gemm-loop.c.
 *
 * VPMADDUBSW (u8 codes x s8 activations) adds pairs of products into int16 with
 * saturation, which never triggers here: |code * qa| <= 15 * 128, so a pair is at
 * most 3840, and 8 such results summed with VPADDW stay below 30720 < 32767. So
 * 8 VPMADDUBSW share one VPMADDWD (x 1) that widens to int32: exact. The code sums
 * (codes x bytes of 1) reach 4 * 15 a lane per packed vector, at most 960 for a
 * group of 128: one VPMADDWD per group. */
#include <immintrin.h>
#include <stdint.h>

#include "qc4w-packw.h"
#include "qd8-qc4w-gemm-loop.h"
#include "qd8-tile-avx2.h"

/* gcc (12) without its pre-register-allocation scheduler kept every product of a
 * step live at once and spilled a dozen registers a step; with it (pressure-aware)
 * and the order below, aq-bench-kernels 4 x 8 at m = 64 on TinyLlama ran 1.03-1.17x
 * faster in CPU time (gate_up and down, old/new alternated 4 times on a busy
 * machine). clang schedules this way by itself. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("schedule-insns", "sched-pressure")
#endif
#define MR 4
#define NR 8
/* Software prefetch distance in bytes of packed weights (see tile_body): with it,
 * aq-bench-kernels 1 x 8 on TinyLlama (busy machine, old/new alternated 3 times)
 * ran 1.07-1.31x faster (head 32000 x 2048: 4.6-5.1 -> 4.0-4.5 ms; gate_up
 * 1.13-1.24x), while 4 x 8 (m = 64) went 0.92-1.14x: so decode only (then, 2
 * more rounds: head 1.17-1.18x, gate_up 1.15x, down 0.99-1.07x, m = 64 0.99-1.03x). */
#define PREFETCH_BYTES 2048

/* with_c: some token of the tile has za != 0, so the code sums C are needed.
 * one_step: the group is 32, one step of 32 k, so the int32 sums live only within
 * it (a constant: the compiler keeps no sum across steps).
 * A step (32 k) goes packed vector by vector: each vector's codes unpacked once
 * into 2 registers, then every token's 2 VPMADDUBSW added into its int16 sum, so
 * that only 2 code registers, the mr int16 sums and the float accumulators are live
 * (the earlier order, token by token over the 8 code registers of a step, kept 8
 * codes and the int32 sums live and gcc spilled 5 registers a step to the stack). */
AQ_TILE_INLINE void tile_body(size_t mr, const struct aq_qc4w_tile *t, bool with_c, bool one_step, bool group_scales) {
    const size_t group = one_step ? 32 : t->group, codes_at = NR * aq_qc4w_meta_bytes(t->asym);
    const __m256i low_nibbles = _mm256_set1_epi8(0x0F);
    const __m256i ones = _mm256_set1_epi16(1);
    const __m256i one_bytes = _mm256_set1_epi8(1);
    const uint8_t *block = t->w;
    __m256 acc[MR];
    for (size_t i = 0; i < mr; i++) aq_avx2_acc_start(&acc[i], 1, t, i);
    for (size_t g = 0; g < t->groups; g++, block += t->block_bytes) {
        const uint8_t *q = block + codes_at;
        __m256i isum[MR];
        aq_avx2_qc4w_start(isum, mr, 1, t, block, g);
        __m256i c16 = _mm256_setzero_si256();
        const int8_t *a_group = t->a + (t->g0 + g) * group;
        /* group / 8 is 4, 8 or 16 packed vectors: 8 int16 products per flush. */
        for (size_t p0 = 0; p0 < group / 8; p0 += 4) {
            /* Decode (1 x 8) waited on memory, the hardware prefetcher alone not
             * keeping up: ask for the weights PREFETCH_BYTES on, 2 lines per 128
             * bytes of codes (the groups' scales between them are under 64 bytes, so
             * no line is skipped; past the panel's end, the next panel's, which
             * follows; prefetches never fault). Only at mr = 1 (a constant here): 4
             * tokens per tile did not gain. */
            if (mr == 1) {
                const uintptr_t ahead = (uintptr_t)(q + p0 * NR * 4) + PREFETCH_BYTES;
                _mm_prefetch((const char *)ahead, _MM_HINT_T0);
                _mm_prefetch((const char *)(ahead + 64), _MM_HINT_T0);
            }
            __m256i s16[MR];
            for (size_t c = 0; c < 4; c++) {
                /* vector c: its low nibbles are k 8c..8c+3, its high ones 8c+4..8c+7 */
                const __m256i packed = _mm256_loadu_si256((const __m256i *)(q + (p0 + c) * NR * 4));
                const __m256i lo = _mm256_and_si256(packed, low_nibbles);
                const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(packed, 4), low_nibbles);
                if (with_c)
                    c16 = _mm256_add_epi16(c16, _mm256_add_epi16(_mm256_maddubs_epi16(lo, one_bytes),
                                                                 _mm256_maddubs_epi16(hi, one_bytes)));
                for (size_t i = 0; i < mr; i++) {
                    const int8_t *qa = a_group + i * t->k + 8 * (p0 + c);
                    const __m256i pair =
                        _mm256_add_epi16(_mm256_maddubs_epi16(lo, _mm256_set1_epi32(aq_load_i32(qa))),
                                         _mm256_maddubs_epi16(hi, _mm256_set1_epi32(aq_load_i32(qa + 4))));
                    s16[i] = c == 0 ? pair : _mm256_add_epi16(s16[i], pair);
                }
            }
            for (size_t i = 0; i < mr; i++) isum[i] = _mm256_add_epi32(isum[i], _mm256_madd_epi16(s16[i], ones));
        }
        const __m256i csum = _mm256_madd_epi16(c16, ones);
        const __m256 wscale = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)block));
        for (size_t i = 0; i < mr; i++)
            aq_avx2_group_end(&acc[i], t, i, g, wscale, isum[i], csum, with_c, group_scales);
    }
    for (size_t i = 0; i < mr; i++) aq_avx2_acc_store(t, i, &acc[i], 1);
}

AQ_QC4W_TILE_WITH_C_STEP_AND_SCALES(tile, tile_body)

AQ_QD8_QC4W_GEMM_DEFINE(aq_qd8_qc4w_gemm_4x8c4__avx2, MR, NR, tile)
