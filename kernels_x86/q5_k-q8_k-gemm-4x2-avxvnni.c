/* q5_k-q8_k-gemm-4x2-avxvnni.c - llama.cpp Q5_K weights x Q8_K activations, AVX-VNNI
 * (VEX VPDPBUSD / VPDPWSSD): tiles of 4 tokens x 2 rows (1 x 8 in decode), each
 * output bit for bit its reference dot; the tile is q4_k-q8_k-gemm-vnni.h's (AQ_Q5_K). */
#define AQ_Q5_K
#include "q4_k-q8_k-gemm-vnni.h"

AQ_BLOCK_GEMM_DEFINE(aq_q5_k_q8_k_gemm_4x2__avxvnni, AQ_VNNI_LANES, AQ_VNNI_MR, AQ_QK_K, aq_q4_k_q8_k_vnni_tile)
