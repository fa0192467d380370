/* q6_k-q8_k-gemm-4x2-neondot.c - llama.cpp Q6_K weights x Q8_K activations, the
 * dot product extension (SDOT, built with -march=armv8.2-a+dotprod): the tile of
 * q6_k-q8_k-gemm-4x2.h, bit for bit aq_q6_k_q8_k_dot_ref per output. */
#include "q6_k-q8_k-gemm-4x2.h"

AQ_BLOCK_GEMM_DEFINE(aq_q6_k_q8_k_gemm_4x2__neondot, AQ_NEON_LANES, MR, AQ_QK_K, tile)
