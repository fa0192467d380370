/* The model (config, weights) and the context (run state, KV cache), as
 * plain structs in the manner of llama2.c. Internal. */
#ifndef AQ_MODEL_H
#define AQ_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include <pthreadpool.h>

#include "agilequant.h"
#include "gguf.h"
#include "kernels.h"
#include "sampler.h"
#include "tokenizer.h"

#define AQ_MESSAGE_CAP 256

typedef struct aq_config {
    int32_t dim;            /* embedding width */
    int32_t n_layers;
    int32_t n_heads;
    int32_t n_kv_heads;     /* grouped-query attention: n_heads is a multiple */
    int32_t head_dim;       /* dim / n_heads */
    int32_t ffn_dim;
    int32_t vocab_size;
    int32_t context_length; /* the training context */
    float norm_eps;
    float rope_theta;
} aq_config;

typedef enum aq_weight_format {
    AQ_WEIGHTS_F32 = 0,
    AQ_WEIGHTS_Q4W,  /* ours: INT4 group-wise (kernels_ref/quant.h) */
    AQ_WEIGHTS_Q4_0, /* llama.cpp's block formats */
    AQ_WEIGHTS_Q8_0
} aq_weight_format;

/* A weight matrix W of shape (rows, cols) applied as y = W x. */
typedef struct aq_matrix {
    int32_t rows, cols;
    aq_weight_format format;
    const float *f32;      /* AQ_WEIGHTS_F32: (rows, cols), row-major */
    struct aq_q4w q4w;     /* AQ_WEIGHTS_Q4W, plain layout */
    void *packed;          /* q4w in the chosen kernel's tile layout, or NULL */
    const void *blocks;    /* AQ_WEIGHTS_Q4_0 / Q8_0: (rows, cols / 32) blocks */
} aq_matrix;

/* The inputs of the linear layers, each quantized once for the matrices
 * that read it. */
typedef enum aq_linear_input {
    AQ_INPUT_QKV = 0,  /* attention norm output: Q, K, V projections */
    AQ_INPUT_ATTN_OUT, /* attention output: output projection */
    AQ_INPUT_FFN_UP,   /* MLP norm output: gate and up projections */
    AQ_INPUT_FFN_DOWN, /* SwiGLU output: down projection */
    AQ_N_LINEAR_INPUTS
} aq_linear_input;

typedef struct aq_act_quant {
    int32_t bits;      /* 0: float; 8 or 4 */
    bool is_static;    /* calibrated per-tensor scale and zero; else dynamic per token */
    float scale;
    int32_t zero;
} aq_act_quant;

typedef struct aq_layer {
    const float *attn_norm; /* (dim) */
    aq_matrix wq;           /* (n_heads * head_dim, dim) */
    aq_matrix wk;           /* (n_kv_heads * head_dim, dim) */
    aq_matrix wv;           /* (n_kv_heads * head_dim, dim) */
    aq_matrix wo;           /* (dim, n_heads * head_dim) */
    const float *ffn_norm;  /* (dim) */
    aq_matrix w_gate;       /* (ffn_dim, dim) */
    aq_matrix w_up;         /* (ffn_dim, dim) */
    aq_matrix w_down;       /* (dim, ffn_dim) */
    aq_act_quant act[AQ_N_LINEAR_INPUTS];
    float *down_input_scale; /* (ffn_dim) TRIP's power-of-two factors for the down
                              * projection's input, applied at run time; or NULL */
} aq_layer;

struct aq_model {
    bool loaded;
    aq_config cfg;
    aq_layer *layers;        /* (n_layers) */
    aq_matrix token_embd;    /* (vocab_size, dim) */
    const float *output_norm;/* (dim) */
    aq_matrix output;        /* (vocab_size, dim); token_embd when the file has no output */
    float *rope_inv_freq;    /* (head_dim / 2) */
    float *down_rotation_signs; /* (ffn_dim) random signs of the online Hadamard
                              * rotation of the down projection's input, or NULL */
    char scheme[96];         /* the quantization scheme, "" for none */
    char kernels_override[32]; /* aq_model_set_kernels, else $AQ_KERNELS, else automatic */
    aq_kernels kernels;
    int32_t n_contexts;      /* alive contexts: quantizing needs none */
    aq_progress_fn progress;
    void *progress_user;
    aq_tokenizer *tokenizer;
    int32_t bos, eos;        /* -1 if the vocabulary has none */
    aq_gguf *gguf;
    void **owned;            /* buffers the model allocated (converted tensors) */
    size_t n_owned;
    char description[AQ_MESSAGE_CAP];
    char error[AQ_MESSAGE_CAP];
};

struct aq_context {
    aq_model *model;
    pthreadpool_t pool;
    int32_t n_threads;
    int32_t n_ctx;           /* KV cache slots */
    int32_t n_kv;            /* tokens given since the cache was empty (positions consumed); layer 0,
                              * which never loses a token, holds exactly these */
    /* Token pruning leaves deeper layers with fewer cached tokens, so each
     * layer keeps its own slot count and positions; without pruning all
     * layers agree with layer 0. */
    int32_t *kv_len;         /* (n_layers) slots in use per layer */
    int32_t *kv_pos;         /* (n_layers, n_ctx) RoPE position of each cached token */
    bool kv_int8;            /* the cache holds INT8 rows with a scale per (slot, head) */
    float *k_cache;          /* (n_layers, n_ctx, n_kv_heads * head_dim), float cache */
    float *v_cache;
    int8_t *k_cache_q8;      /* (n_layers, n_ctx, n_kv_heads * head_dim), INT8 cache */
    int8_t *v_cache_q8;
    float *k_scale;          /* (n_layers, n_ctx, n_kv_heads), INT8 cache */
    float *v_scale;
    int32_t pruned_prefix;   /* tokens of the pruned prefill at the start of the cache, 0 if none */

    /* aq_prune settings (prune.c) */
    double prune_beta;       /* 0: off */
    int32_t prune_first_layer;
    aq_prune_importance prune_importance;
    aq_prune_positions prune_positions;

    /* Activations for a batch of up to batch_cap tokens. */
    int32_t batch_cap;
    float *x;                /* (batch, dim) residual stream */
    float *xn;               /* (batch, dim) normalized input of a linear layer */
    float *q;                /* (batch, n_heads * head_dim) */
    float *k;                /* (batch, n_kv_heads * head_dim) */
    float *v;                /* (batch, n_kv_heads * head_dim) */
    float *att;              /* (batch, n_heads * head_dim) attention output */
    float *gate;             /* (batch, ffn_dim) */
    float *up;               /* (batch, ffn_dim) */
    float *rope;             /* (batch, head_dim / 2, 2) cos, sin */
    int32_t *pos;            /* (batch) RoPE position of each row at the current layer */
    /* Pruning state of the last forward call: rows are compacted as tokens
     * are dropped, so these map rows back to the batch. */
    int32_t last_batch;      /* tokens of the last forward call */
    int32_t *kept;           /* (n_layers + 1, batch) batch index of each row at a layer's input */
    int32_t *n_kept;         /* (n_layers + 1) rows at a layer's input */
    float *prune_score;      /* (batch, n_heads) attention paid to the first token */
    float *prune_stats;      /* (batch, n_heads, 2) softmax maximum and denominator */
    float *importance;       /* (batch) */
    int32_t *prune_order;    /* (batch) scratch */
    int32_t *logit_row;      /* (batch) logits row of each batch token, -1 if pruned */
    bool logits_pruned;      /* logit_row applies to the last forward's logits */
    struct aq_qd8 qa;        /* quantized linear-layer input (batch, width) */
    void *qa_blocks;         /* the same input as Q8_0 blocks, for llama.cpp's formats */
    bool qa_ready, qa_blocks_ready;
    struct aq_calibration *calibration; /* observes linear inputs while quantizing, or NULL */

    float *logits;           /* (n_logit_rows, vocab_size) */
    int32_t logits_cap;      /* rows allocated */
    int32_t n_logit_rows;    /* rows from the last forward */

    aq_sampler sampler;
    uint64_t seed;
    float *sample_prob;      /* (vocab_size) sampler scratch */
    int32_t *sample_index;   /* (vocab_size) */
    char error[AQ_MESSAGE_CAP];
};

aq_error aq_model_load_gguf(aq_model *model); /* from model->gguf, in model.c */
void aq_model_describe_update(aq_model *model);  /* model.c */
aq_error aq_quantize_model(aq_model *model, const char *scheme, const char *text, size_t len); /* quantize.c */
aq_error aq_model_pack(aq_model *model);       /* repack INT4 weights for the kernels, quantize.c */
aq_error aq_model_save_gguf(const aq_model *model, const char *path, char *msg); /* model_save.c */
aq_error aq_kv_keep(aq_context *ctx, int32_t n); /* aq_kv_truncate, forward.c */
int32_t aq_logit_row(const aq_context *ctx, int32_t i); /* batch index to logits row, -1 if pruned; prune.c */
aq_error aq_forward_batch(aq_context *ctx, const int32_t *tokens, const int32_t *positions,
                          int32_t n_tokens, bool logits_all); /* forward.c */

/* Row (slot, kv_head) of layer's K or V cache as floats: a pointer into the
 * float cache, or the INT8 row dequantized into scratch (head_dim floats). */
const float *aq_kv_row(const aq_context *ctx, bool value, int32_t layer, int32_t slot, int32_t kv_head, float *scratch);

/* The attention score of a query and a key: (q * scale) . k, summed in order.
 * The attention (forward.c) computes exactly this for eight queries at once,
 * one per vector lane; token pruning (prune.c) recomputes scores with it. */
static inline float aq_attention_score(const float *q, const float *k, int32_t n, float scale) {
    float s = 0.0f;
    for (int32_t d = 0; d < n; d++) s += q[d] * scale * k[d];
    return s;
}

/* Formats a message into a handle's error buffer and returns err. */
aq_error aq_set_error(char *buf, aq_error err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
