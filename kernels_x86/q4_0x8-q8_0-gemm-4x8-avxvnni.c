/* q4_0x8-q8_0-gemm-4x8-avxvnni.c - llama.cpp Q4_0 weights repacked into groups of 8
 * rows (q4_0x8.h) x Q8_0 activations, AVX-VNNI (VEX VPDPBUSD): the tile of
 * q4_0x8-q8_0-gemm-4x8.h, bit for bit aq_q4_0_q8_0_dot_ref per output. */
#include "q4_0x8-q8_0-gemm-4x8.h"

AQ_BLOCK_GEMM_X8_DEFINE(aq_q4_0x8_q8_0_gemm_4x8__avxvnni, MR, AQ_QK4_0, tile)
