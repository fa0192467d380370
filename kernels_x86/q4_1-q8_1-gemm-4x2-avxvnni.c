/* q4_1-q8_1-gemm-4x2-avxvnni.c - llama.cpp Q4_1 weights x Q8_1 activations, AVX-VNNI
 * (VEX VPDPBUSD / VPDPWSSD): tiles of 4 tokens x 2 rows (1 x 8 in decode), each
 * output bit for bit its reference dot; the tile is q4_1-q8_1-gemm-vnni.h's. */
#include "q4_1-q8_1-gemm-vnni.h"

AQ_BLOCK_GEMM_DEFINE(aq_q4_1_q8_1_gemm_4x2__avxvnni, AQ_VNNI_LANES, AQ_VNNI_MR, AQ_QK4_1, aq_q4_1_q8_1_vnni_tile)
