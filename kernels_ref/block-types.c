/* block-types.c - the table of llama.cpp weight types (block-types.h): adapters
 * from the table's untyped signatures to the typed reference kernels of quant.h. */
#include "block-types.h"

#include "quant.h"

/* Calling a function through a pointer of another type is undefined, so each
 * kernel gets a thin adapter with the table's signature. */
#define AQ_BLOCK_ADAPTERS(tag, block_t, act_t, dequantize_fn, dot_fn)                                                  \
    static void tag##_dequantize(const void *blocks, size_t n, float *out) {                                           \
        dequantize_fn((const block_t *)blocks, n, out);                                                                \
    }                                                                                                                  \
    static float tag##_dot(size_t n, const void *w_blocks, const void *act_blocks) {                                   \
        return dot_fn(n, (const block_t *)w_blocks, (const act_t *)act_blocks);                                        \
    }

AQ_BLOCK_ADAPTERS(f16, uint16_t, uint16_t, aq_f16_dequantize_ref, aq_f16_f16_dot_ref)
AQ_BLOCK_ADAPTERS(bf16, uint16_t, uint16_t, aq_bf16_dequantize_ref, aq_bf16_bf16_dot_ref)
AQ_BLOCK_ADAPTERS(q4_0, block_q4_0, block_q8_0, aq_q4_0_dequantize_ref, aq_q4_0_q8_0_dot_ref)
AQ_BLOCK_ADAPTERS(q4_1, block_q4_1, block_q8_1, aq_q4_1_dequantize_ref, aq_q4_1_q8_1_dot_ref)
AQ_BLOCK_ADAPTERS(q5_0, block_q5_0, block_q8_0, aq_q5_0_dequantize_ref, aq_q5_0_q8_0_dot_ref)
AQ_BLOCK_ADAPTERS(q5_1, block_q5_1, block_q8_1, aq_q5_1_dequantize_ref, aq_q5_1_q8_1_dot_ref)
AQ_BLOCK_ADAPTERS(q8_0, block_q8_0, block_q8_0, aq_q8_0_dequantize_ref, aq_q8_0_q8_0_dot_ref)
AQ_BLOCK_ADAPTERS(q2_k, block_q2_K, block_q8_K, aq_q2_k_dequantize_ref, aq_q2_k_q8_k_dot_ref)
AQ_BLOCK_ADAPTERS(q3_k, block_q3_K, block_q8_K, aq_q3_k_dequantize_ref, aq_q3_k_q8_k_dot_ref)
AQ_BLOCK_ADAPTERS(q4_k, block_q4_K, block_q8_K, aq_q4_k_dequantize_ref, aq_q4_k_q8_k_dot_ref)
AQ_BLOCK_ADAPTERS(q5_k, block_q5_K, block_q8_K, aq_q5_k_dequantize_ref, aq_q5_k_q8_k_dot_ref)
AQ_BLOCK_ADAPTERS(q6_k, block_q6_K, block_q8_K, aq_q6_k_dequantize_ref, aq_q6_k_q8_k_dot_ref)
AQ_BLOCK_ADAPTERS(iq4_nl, block_iq4_nl, block_q8_0, aq_iq4_nl_dequantize_ref, aq_iq4_nl_q8_0_dot_ref)
AQ_BLOCK_ADAPTERS(iq4_xs, block_iq4_xs, block_q8_K, aq_iq4_xs_dequantize_ref, aq_iq4_xs_q8_k_dot_ref)

#define AQ_BLOCK_ENTRY(id, name, tag, elems, block_t, act)                                                             \
    { id, name, elems, sizeof(block_t), act, tag##_dequantize, tag##_dot }

/* Pairings as llama.cpp's ggml-cpu.c type_traits_cpu[].vec_dot_type (c392e5094). */
static const aq_block_type k_block_types[] = {
    AQ_BLOCK_ENTRY(AQ_GGML_F16, "f16", f16, 1, uint16_t, AQ_GGML_F16),
    AQ_BLOCK_ENTRY(AQ_GGML_BF16, "bf16", bf16, 1, uint16_t, AQ_GGML_BF16),
    AQ_BLOCK_ENTRY(AQ_GGML_Q4_0, "q4_0", q4_0, AQ_QK4_0, block_q4_0, AQ_GGML_Q8_0),
    AQ_BLOCK_ENTRY(AQ_GGML_Q4_1, "q4_1", q4_1, AQ_QK4_1, block_q4_1, AQ_GGML_Q8_1),
    AQ_BLOCK_ENTRY(AQ_GGML_Q5_0, "q5_0", q5_0, AQ_QK5_0, block_q5_0, AQ_GGML_Q8_0),
    AQ_BLOCK_ENTRY(AQ_GGML_Q5_1, "q5_1", q5_1, AQ_QK5_1, block_q5_1, AQ_GGML_Q8_1),
    AQ_BLOCK_ENTRY(AQ_GGML_Q8_0, "q8_0", q8_0, AQ_QK8_0, block_q8_0, AQ_GGML_Q8_0),
    AQ_BLOCK_ENTRY(AQ_GGML_Q2_K, "q2_K", q2_k, AQ_QK_K, block_q2_K, AQ_GGML_Q8_K),
    AQ_BLOCK_ENTRY(AQ_GGML_Q3_K, "q3_K", q3_k, AQ_QK_K, block_q3_K, AQ_GGML_Q8_K),
    AQ_BLOCK_ENTRY(AQ_GGML_Q4_K, "q4_K", q4_k, AQ_QK_K, block_q4_K, AQ_GGML_Q8_K),
    AQ_BLOCK_ENTRY(AQ_GGML_Q5_K, "q5_K", q5_k, AQ_QK_K, block_q5_K, AQ_GGML_Q8_K),
    AQ_BLOCK_ENTRY(AQ_GGML_Q6_K, "q6_K", q6_k, AQ_QK_K, block_q6_K, AQ_GGML_Q8_K),
    AQ_BLOCK_ENTRY(AQ_GGML_IQ4_NL, "iq4_nl", iq4_nl, AQ_QK4_NL, block_iq4_nl, AQ_GGML_Q8_0),
    AQ_BLOCK_ENTRY(AQ_GGML_IQ4_XS, "iq4_xs", iq4_xs, AQ_QK_K, block_iq4_xs, AQ_GGML_Q8_K),
};

const aq_block_type *aq_block_type_get(uint32_t type) {
    for (size_t i = 0; i < sizeof(k_block_types) / sizeof(k_block_types[0]); i++) {
        if (k_block_types[i].type == type) {
            return &k_block_types[i];
        }
    }
    return NULL;
}

void aq_act_quantize_ref(uint32_t act_type, const float *x, size_t n, void *blocks) {
    switch (act_type) {
    case AQ_GGML_Q8_0:
        aq_q8_0_quantize_ref(x, n, (block_q8_0 *)blocks);
        break;
    case AQ_GGML_Q8_1:
        aq_q8_1_quantize_ref(x, n, (block_q8_1 *)blocks);
        break;
    case AQ_GGML_Q8_K:
        aq_q8_k_quantize_ref(x, n, (block_q8_K *)blocks);
        break;
    case AQ_GGML_F16:
        aq_f16_quantize_ref(x, n, (uint16_t *)blocks);
        break;
    case AQ_GGML_BF16:
        aq_bf16_quantize_ref(x, n, (uint16_t *)blocks);
        break;
    default:
        break;
    }
}

size_t aq_act_row_bytes(uint32_t act_type, size_t n) {
    switch (act_type) {
    case AQ_GGML_Q8_0:
        return n / AQ_QK8_0 * sizeof(block_q8_0);
    case AQ_GGML_Q8_1:
        return n / AQ_QK8_1 * sizeof(block_q8_1);
    case AQ_GGML_Q8_K:
        return n / AQ_QK_K * sizeof(block_q8_K);
    case AQ_GGML_F16:
    case AQ_GGML_BF16:
        return n * sizeof(uint16_t);
    default:
        return 0;
    }
}

void aq_act_dequantize_ref(uint32_t act_type, const void *blocks, size_t n, float *out) {
    switch (act_type) {
    case AQ_GGML_Q8_0:
        aq_q8_0_dequantize_ref((const block_q8_0 *)blocks, n, out);
        break;
    case AQ_GGML_Q8_1:
        aq_q8_1_dequantize_ref((const block_q8_1 *)blocks, n, out);
        break;
    case AQ_GGML_Q8_K:
        aq_q8_k_dequantize_ref((const block_q8_K *)blocks, n, out);
        break;
    case AQ_GGML_F16:
        aq_f16_dequantize_ref((const uint16_t *)blocks, n, out);
        break;
    case AQ_GGML_BF16:
        aq_bf16_dequantize_ref((const uint16_t *)blocks, n, out);
        break;
    default:
        break;
    }
}
