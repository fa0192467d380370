/* q6_kx8-q8_k-gemm-4x8-neondot.c - llama.cpp Q6_K weights repacked into groups of
 * 8 rows (q6_kx8.h) x Q8_K activations, the dot product extension (SDOT): the tile
 * of q6_kx8-q8_k-gemm-4x8.h, bit for bit aq_q6_k_q8_k_dot_ref per output. */
#include "q6_kx8-q8_k-gemm-4x8.h"

AQ_BLOCK_GEMM_X8_DEFINE(aq_q6_kx8_q8_k_gemm_4x8__neondot, MR, AQ_QK_K, tile)
