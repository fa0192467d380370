/* q4_1-q8_1-gemm-vnni.h - the tile of the VNNI Q4_1 x Q8_1 block GEMMs
 * (q4_1-q8_1-gemm-4x2-avxvnni.c, q4_1-q8_1-gemm-4x4-avx512vnni.c; ISA and lanes
 * from block-gemm-vnni.h), each output bit for bit aq_q4_1_q8_1_dot_ref. Per
 * block: each row's 32 codes (0..15) unpacked once for the tile's tokens, one
 * VPDPBUSD of codes by y per lane (exact int32 partial sums), reduced into the
 * lanes; then per lane, as the reference: t1 = (f32(dx) * f32(dy)) * (float) isum,
 * t2 = f32(mx) * f32(sy), term = t1 + t2, sum = sum + term, in block order (no
 * fma). */
#ifndef AQ_Q4_1_Q8_1_GEMM_VNNI_H
#define AQ_Q4_1_Q8_1_GEMM_VNNI_H

#include "block-gemm-vnni.h"
#include "quant.h"

AQ_TILE_INLINE void aq_q4_1_q8_1_vnni_tile(size_t mr, const struct aq_block_tile *t) {
    const size_t nr = AQ_VNNI_LANES / mr;
    const __m256i zero = _mm256_setzero_si256();
    aq_vnni_ps acc = aq_vnni_zero();
    for (size_t b = 0; b < t->n_blocks; b++) {
        __m256i y[AQ_VNNI_MR], s[AQ_VNNI_LANES];
        uint16_t dx[AQ_VNNI_LANES], mx[AQ_VNNI_LANES], dy[AQ_VNNI_MR], sy[AQ_VNNI_MR];
        for (size_t i = 0; i < mr; i++) {
            const block_q8_1 *a = (const block_q8_1 *)t->a[i] + b;
            y[i] = _mm256_loadu_si256((const __m256i *)a->qs);
            dy[i] = a->d;
            sy[i] = a->s;
        }
        for (size_t r = 0; r < nr; r++) {
            const block_q4_1 *x = (const block_q4_1 *)t->w[r] + b;
            const __m256i codes = aq_q4_codes_avx2(x->qs);
            dx[r] = x->d;
            mx[r] = x->m;
            for (size_t i = 0; i < mr; i++) s[i * nr + r] = aq_dpbusd(zero, codes, y[i]);
        }
        const aq_vnni_ps scale = aq_vnni_mul(aq_vnni_f16_lanes(dx, nr, 1), aq_vnni_f16_lanes(dy, nr, 0));
        const aq_vnni_ps scaled = aq_vnni_mul(scale, aq_vnni_reduce_cvt(s));
        const aq_vnni_ps offset = aq_vnni_mul(aq_vnni_f16_lanes(mx, nr, 1), aq_vnni_f16_lanes(sy, nr, 0));
        acc = aq_vnni_add(acc, aq_vnni_add(scaled, offset));
    }
    aq_vnni_store_lanes(acc, mr, nr, t);
}

#endif
