/* q5_kx8-q8_k-gemm-4x8-neon.c - llama.cpp Q5_K weights repacked into groups of
 * 8 rows (q4_kx8.h) x Q8_K activations, plain NEON (SMLAL into int16; no dot product
 * extension): the tile of q4_kx8-q8_k-gemm-4x8.h, bit for
 * bit aq_q5_k_q8_k_dot_ref per output. */
#define AQ_Q5_K
#include "q4_kx8-q8_k-gemm-4x8.h"

AQ_BLOCK_GEMM_X8_DEFINE(aq_q5_kx8_q8_k_gemm_4x8__neon, MR, AQ_QK_K, tile)
