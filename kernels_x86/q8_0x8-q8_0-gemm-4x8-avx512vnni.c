/* q8_0x8-q8_0-gemm-4x8-avx512vnni.c - llama.cpp Q8_0 weights repacked into groups of
 * 8 rows (q8_0x8.h) x Q8_0 activations, AVX-512 VNNI on 256-bit vectors (EVEX
 * VPDPBUSD, for CPUs with AVX-512 VNNI but no AVX-VNNI): the tile of
 * q8_0x8-q8_0-gemm-4x8.h, bit for bit aq_q8_0_q8_0_dot_ref per output. */
#include "q8_0x8-q8_0-gemm-4x8.h"

AQ_BLOCK_GEMM_X8_DEFINE(aq_q8_0x8_q8_0_gemm_4x8__avx512vnni, MR, AQ_QK8_0, tile)
