/* q4_1-q8_1-gemm-4x2-neon.c - llama.cpp Q4_1 weights x Q8_1 activations, plain
 * NEON (SMULL + SADALP: every AArch64 CPU): the tile of q4_1-q8_1-gemm-4x2.h, bit
 * for bit aq_q4_1_q8_1_dot_ref per output. */
#include "q4_1-q8_1-gemm-4x2.h"

AQ_BLOCK_GEMM_DEFINE(aq_q4_1_q8_1_gemm_4x2__neon, AQ_NEON_LANES, MR, AQ_QK4_1, tile)
