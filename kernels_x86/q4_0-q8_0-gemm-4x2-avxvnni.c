/* q4_0-q8_0-gemm-4x2-avxvnni.c - llama.cpp Q4_0 weights x Q8_0 activations, AVX-VNNI
 * (VEX VPDPBUSD / VPDPWSSD): tiles of 4 tokens x 2 rows (1 x 8 in decode), each
 * output bit for bit its reference dot; the tile is q4_0-q8_0-gemm-vnni.h's. */
#include "q4_0-q8_0-gemm-vnni.h"

AQ_BLOCK_GEMM_DEFINE(aq_q4_0_q8_0_gemm_4x2__avxvnni, AQ_VNNI_LANES, AQ_VNNI_MR, AQ_QK4_0, aq_q4_0_q8_0_vnni_tile)
