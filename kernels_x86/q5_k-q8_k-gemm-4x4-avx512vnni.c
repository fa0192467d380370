/* q5_k-q8_k-gemm-4x4-avx512vnni.c - llama.cpp Q5_K weights x Q8_K activations,
 * AVX-512 VL/VNNI (EVEX VPDPBUSD / VPDPWSSD on 256 bits, 32 registers, the float
 * side on 512): tiles of 4 tokens x 4 rows (1 x 16 in decode), each output bit
 * for bit its reference dot; the tile is q4_k-q8_k-gemm-vnni.h's (AQ_Q5_K). */
#define AQ_Q5_K
#include "q4_k-q8_k-gemm-vnni.h"

AQ_BLOCK_GEMM_DEFINE(aq_q5_k_q8_k_gemm_4x4__avx512vnni, AQ_VNNI_LANES, AQ_VNNI_MR, AQ_QK_K, aq_q4_k_q8_k_vnni_tile)
