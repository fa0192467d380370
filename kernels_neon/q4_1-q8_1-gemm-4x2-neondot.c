/* q4_1-q8_1-gemm-4x2-neondot.c - llama.cpp Q4_1 weights x Q8_1 activations, the
 * dot product extension (SDOT, built with -march=armv8.2-a+dotprod): the tile of
 * q4_1-q8_1-gemm-4x2.h, bit for bit aq_q4_1_q8_1_dot_ref per output. */
#include "q4_1-q8_1-gemm-4x2.h"

AQ_BLOCK_GEMM_DEFINE(aq_q4_1_q8_1_gemm_4x2__neondot, AQ_NEON_LANES, MR, AQ_QK4_1, tile)
