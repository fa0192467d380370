/* f16.h - portable conversions between fp32 and the two 16-bit float formats.
 *
 * IEEE binary16 ("half", the scale type of GGUF Q4_0/Q8_0 blocks and of our INT4
 * weight groups) and bfloat16 (the top half of an fp32). Everything is done with
 * integer bit manipulation on values copied through memcpy, so the result does not
 * depend on the compiler, the FPU rounding mode, F16C or NEON fp16 support: the
 * SIMD kernels may use hardware conversions only where those give the same bits
 * (F16C's VCVTPS2PH with round-to-nearest-even and VCVTPH2PS do).
 *
 * fp32 -> fp16 and fp32 -> bf16 round to nearest, ties to even. Overflow gives
 * +-inf, underflow gives half subnormals or +-0, NaN stays NaN (made quiet, sign
 * and the top payload bits kept). fp16 -> fp32 and bf16 -> fp32 are exact.
 */
#ifndef AQ_KERNELS_REF_F16_H
#define AQ_KERNELS_REF_F16_H

#include <stdint.h>
#include <string.h>

static inline uint32_t aq_fp32_to_bits(float f) {
    uint32_t bits;
    memcpy(&bits, &f, sizeof(bits));
    return bits;
}

static inline float aq_fp32_from_bits(uint32_t bits) {
    float f;
    memcpy(&f, &bits, sizeof(f));
    return f;
}

/* binary16: 1 sign bit, 5 exponent bits (bias 15), 10 mantissa bits. */
static inline float aq_fp16_to_fp32(uint16_t h) {
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    const uint32_t exponent = (h >> 10) & 0x1Fu;
    const uint32_t mantissa = h & 0x3FFu;
    if (exponent == 0) {
        /* Zero or subnormal: mantissa * 2^-24, exact in fp32 (at most 10 bits). */
        const float magnitude = (float)mantissa * 0x1p-24f;
        return aq_fp32_from_bits(sign | aq_fp32_to_bits(magnitude));
    }
    if (exponent == 0x1F) {
        /* Inf (mantissa 0) or NaN (payload moved to the top of the fp32 mantissa). */
        return aq_fp32_from_bits(sign | 0x7F800000u | (mantissa << 13));
    }
    /* Normal: rebias the exponent from 15 to 127 (difference 112). */
    return aq_fp32_from_bits(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

static inline uint16_t aq_fp32_to_fp16(float f) {
    const uint32_t bits = aq_fp32_to_bits(f);
    const uint16_t sign = (uint16_t)((bits >> 16) & 0x8000u);
    const uint32_t magnitude = bits & 0x7FFFFFFFu;

    if (magnitude >= 0x7F800000u) {
        if (magnitude == 0x7F800000u) {
            return (uint16_t)(sign | 0x7C00u);
        }
        /* NaN: keep the top 10 payload bits and set the quiet bit, which also makes
         * sure the mantissa is not zero (that would read back as infinity). */
        return (uint16_t)(sign | 0x7E00u | ((magnitude >> 13) & 0x3FFu));
    }
    /* 65520 = 65504 + half an ulp there: from it on, nearest-even rounds to inf
     * (65504 has an odd mantissa, so the tie at 65520 goes up too). */
    if (magnitude >= 0x477FF000u) {
        return (uint16_t)(sign | 0x7C00u);
    }
    if (magnitude >= 0x38800000u) {
        /* Normal half (>= 2^-14): rebias the exponent, then round the 13 dropped
         * mantissa bits to nearest even. A carry out of the mantissa correctly bumps
         * the exponent (the overflow to inf was excluded above). */
        const uint32_t rebiased = magnitude - (112u << 23);
        const uint32_t round_bias = 0x0FFFu + ((rebiased >> 13) & 1u);
        return (uint16_t)(sign | ((rebiased + round_bias) >> 13));
    }
    /* Below 2^-14: a half subnormal, round(value / 2^-24). fp32 values this small
     * that are themselves subnormal (< 2^-126) are far below 2^-25 and give 0. */
    const uint32_t exponent = magnitude >> 23;
    if (exponent < 102) {
        return sign; /* below 2^-25: rounds to zero (2^-25 itself is handled below) */
    }
    const uint32_t mantissa = (magnitude & 0x7FFFFFu) | 0x800000u; /* 24 bits with the implicit 1 */
    /* value = mantissa * 2^(exponent - 150); in units of 2^-24 that is
     * mantissa >> (126 - exponent), shift in [14, 24] here. */
    const uint32_t shift = 126u - exponent;
    uint32_t quotient = mantissa >> shift;
    const uint32_t remainder = mantissa & ((1u << shift) - 1u);
    const uint32_t halfway = 1u << (shift - 1u);
    if (remainder > halfway || (remainder == halfway && (quotient & 1u))) {
        quotient += 1; /* may become 0x400, the smallest normal: still the right encoding */
    }
    return (uint16_t)(sign | quotient);
}

/* bfloat16: the top 16 bits of an fp32, so widening is a shift. */
static inline float aq_bf16_to_fp32(uint16_t b) { return aq_fp32_from_bits((uint32_t)b << 16); }

static inline uint16_t aq_fp32_to_bf16(float f) {
    const uint32_t bits = aq_fp32_to_bits(f);
    if ((bits & 0x7FFFFFFFu) > 0x7F800000u) {
        /* NaN: truncating could clear every payload bit left and give inf; set the
         * quiet bit instead. */
        return (uint16_t)((bits >> 16) | 0x0040u);
    }
    /* Round to nearest even on the 16 dropped bits; a carry into the exponent is
     * right, including the overflow of the largest finite values to inf. */
    const uint32_t round_bias = 0x7FFFu + ((bits >> 16) & 1u);
    return (uint16_t)((bits + round_bias) >> 16);
}

#endif /* AQ_KERNELS_REF_F16_H */
