/* q4_0-q8_0-gemm-4x2-neon.c - llama.cpp Q4_0 weights x Q8_0 activations, plain
 * NEON (SMULL + SADALP: every AArch64 CPU): the tile of q4_0-q8_0-gemm-4x2.h, bit
 * for bit aq_q4_0_q8_0_dot_ref per output. */
#include "q4_0-q8_0-gemm-4x2.h"

AQ_BLOCK_GEMM_DEFINE(aq_q4_0_q8_0_gemm_4x2__neon, AQ_NEON_LANES, MR, AQ_QK4_0, tile)
