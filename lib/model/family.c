/* The model families this library runs, one entry per value of
 * general.architecture: which tensors a file holds and which building
 * blocks the forward pass uses. The keys are the family's name followed by
 * llama.cpp's suffixes (embedding_length, block_count, ...). The facts are
 * llama.cpp's (src/llama-arch.cpp, llama-model.cpp and its graph builders),
 * except opt, which llama.cpp lacks (tools/OPT_FORMAT.md). */
#include <string.h>

#include "model.h"

static const aq_family k_families[] = {
    /* LLaMA 1-3 and the many models shaped like it: optional biases on every
     * linear layer, optional rope_freqs.weight (Llama 3's frequency factors). */
    {.name = "llama", .norm = AQ_NORM_RMS, .positions = AQ_POSITIONS_ROPE, .mlp = AQ_MLP_SWIGLU},
    /* Qwen2 and Qwen2.5: biases on Q, K and V (none on the output projection), NeoX RoPE. */
    {.name = "qwen2",
     .norm = AQ_NORM_RMS,
     .positions = AQ_POSITIONS_ROPE_NEOX,
     .mlp = AQ_MLP_SWIGLU,
     .required_biases = AQ_BIAS_QKV},
    /* BLOOM: a LayerNorm on the embedding, fused QKV, ALiBi (llama.cpp fixes its maximum bias at 8). */
    {.name = "bloom",
     .norm = AQ_NORM_LAYER,
     .positions = AQ_POSITIONS_ALIBI,
     .mlp = AQ_MLP_GELU,
     .fused_qkv = true,
     .embedding_norm = true,
     .alibi_max_bias = 8.0f,
     .required_biases = AQ_BIAS_ALL,
     .output_required = true},
    /* GPT-2: learned absolute positions, fused QKV. */
    {.name = "gpt2",
     .norm = AQ_NORM_LAYER,
     .positions = AQ_POSITIONS_LEARNED,
     .mlp = AQ_MLP_GELU,
     .fused_qkv = true,
     .required_biases = AQ_BIAS_ALL,
     .output_required = true},
    /* OPT (pre-norm): learned positions read at p + 2, ReLU, separate Q/K/V. */
    {.name = "opt",
     .norm = AQ_NORM_LAYER,
     .positions = AQ_POSITIONS_LEARNED,
     .mlp = AQ_MLP_RELU,
     .position_offset = 2,
     .required_biases = AQ_BIAS_ALL},
};

const aq_family *aq_family_find(const char *name, size_t len) {
    for (size_t i = 0; i < sizeof k_families / sizeof k_families[0]; i++)
        if (strlen(k_families[i].name) == len && memcmp(k_families[i].name, name, len) == 0) return &k_families[i];
    return NULL;
}

const char *aq_family_names(void) { return "llama, qwen2, bloom, gpt2, opt"; }
