/* q5_k-q8_k-gemm-4x2-avx2.c - llama.cpp Q5_K weights x Q8_K activations, AVX2 +
 * F16C: the tile of q4_k-q8_k-gemm-avx2.h, bit for bit aq_q5_k_q8_k_dot_ref per
 * output. */
#define AQ_Q5_K
#include "q4_k-q8_k-gemm-avx2.h"

AQ_BLOCK_GEMM_DEFINE(aq_q5_k_q8_k_gemm_4x2__avx2, AQ_AVX2_LANES, MR, AQ_QK_K, tile)
