/* The context: everything one sequence needs to run a model (threads, the
 * KV cache, activation buffers, pruning state, the sampler). The runtime
 * layer owns it; the model it reads is shared and never written. Internal. */
#ifndef AQ_CONTEXT_H
#define AQ_CONTEXT_H

#include <stdbool.h>
#include <stdint.h>

#include <pthreadpool.h>

#include "model.h"
#include "quant.h"
#include "sampler.h"

/* Called with every linear layer's float input before it is quantized
 * (calibration uses it); layer < 0 is the output head. */
typedef void (*aq_input_observer)(void *user, int32_t layer, aq_linear_input site, const float *x, int32_t n_tokens,
                                  int32_t width);

/* No activation blocks are ready (no GGUF type has this number). */
#define AQ_NO_ACTIVATION_BLOCKS UINT32_MAX

/* Bytes of an INT4 KV cache row of n values: two codes a byte. */
#define AQ_KV_Q4_BYTES(n) (((size_t)(n) + 1) / 2)

/* Which half of a KV cache row. */
typedef enum aq_kv_part { AQ_KV_KEYS = 0, AQ_KV_VALUES } aq_kv_part;

struct aq_context {
    aq_model *model;    /* shared: only n_contexts is written */
    pthreadpool_t pool; /* NULL until the first forward call, and with one thread */
    int32_t n_threads;
    int32_t n_ctx; /* KV cache slots */
    int32_t n_kv;  /* tokens given since the cache was empty (positions consumed); layer 0,
                              * which never loses a token, holds exactly these */
    /* Token pruning leaves deeper layers with fewer cached tokens, so each
     * layer keeps its own slot count and positions; without pruning all
     * layers agree with layer 0. */
    int32_t *kv_len; /* (n_layers) slots in use per layer */
    int32_t *kv_pos; /* (n_layers, n_ctx) RoPE position of each cached token */
    int32_t kv_bits; /* 32: float cache; 8: INT8 rows with a scale per (slot, head); 4: INT4 rows
                      * with a scale and a minimum per (slot, head), keys (and queries) rotated */
    float *k_cache;  /* (n_layers, n_ctx, n_kv_heads * head_dim), float cache */
    float *v_cache;
    int8_t *k_cache_q8; /* (n_layers, n_ctx, n_kv_heads * head_dim), INT8 cache */
    int8_t *v_cache_q8;
    uint8_t *k_cache_q4; /* (n_layers, n_ctx, n_kv_heads, AQ_KV_Q4_BYTES(head_dim)), INT4 cache */
    uint8_t *v_cache_q4;
    float *k_scale; /* (n_layers, n_ctx, n_kv_heads), INT8 and INT4 caches */
    float *v_scale;
    float *k_min; /* (n_layers, n_ctx, n_kv_heads), INT4 cache: the value of code 0 */
    float *v_min;
    /* INT4 cache: the random signs of the Hadamard rotation R of each head
     * (head_dim) applied to queries and keys after RoPE, so q.k is unchanged
     * and a key's outlier channels are spread over the head; NULL otherwise. */
    float *kv_signs;
    /* INT4 cache of a model whose V and output projection carry no folded
     * per-head rotation: values are rotated by R before caching and the
     * attention output rotated back. */
    bool kv_rotate_values;
    int32_t pruned_prefix; /* tokens of the pruned prefill at the start of the cache, 0 if none */

    /* aq_prune settings */
    double prune_beta; /* 0: off */
    int32_t prune_first_layer;
    aq_prune_importance prune_importance;
    aq_prune_positions prune_positions;
    bool pruning;      /* the forward call under way prunes */
    int32_t pos_shift; /* subtracted from the given positions at the current layer */

    /* Activations for a batch of up to batch_cap tokens. */
    int32_t batch_cap;
    float *x;            /* (batch, dim) residual stream */
    float *xn;           /* (batch, dim) normalized input of a linear layer */
    float *q;            /* (batch, n_heads * head_dim) */
    float *k;            /* (batch, n_kv_heads * head_dim) */
    float *v;            /* (batch, n_kv_heads * head_dim) */
    float *att;          /* (batch, n_heads * head_dim) attention output */
    float *gate;         /* (batch, ffn_dim) */
    float *up;           /* (batch, ffn_dim) */
    float *rope;         /* (batch, head_dim / 2, 2) cos, sin */
    float *alibi_slopes; /* (n_heads) ALiBi families, else NULL */
    int32_t *pos;        /* (batch) RoPE position of each row at the current layer */
    /* Pruning state of the last forward call: rows are compacted as tokens
     * are dropped, so these map rows back to the batch. */
    int32_t last_batch;   /* tokens of the last forward call */
    int32_t *kept;        /* (n_layers + 1, batch) batch index of each row at a layer's input */
    int32_t *n_kept;      /* (n_layers + 1) rows at a layer's input */
    float *prune_score;   /* (batch, n_heads) attention paid to the first token */
    float *prune_stats;   /* (batch, n_heads, 2) softmax maximum and denominator */
    float *importance;    /* (batch) */
    int32_t *prune_order; /* (batch) scratch */
    int32_t *logit_row;   /* (batch) logits row of each batch token, -1 if pruned */
    bool logits_pruned;   /* logit_row applies to the last forward's logits */
    struct aq_qd8 qa;     /* quantized linear-layer input (batch, width) */
    void *qa_blocks;      /* the same input as activation blocks, for llama.cpp's formats */
    bool qa_ready;
    uint32_t qa_blocks_type;   /* the activation type qa_blocks holds, or AQ_NO_ACTIVATION_BLOCKS */
    aq_input_observer observe; /* or NULL */
    void *observe_user;

    float *logits;        /* (n_logit_rows, vocab_size) */
    int32_t logits_cap;   /* rows allocated */
    int32_t n_logit_rows; /* rows from the last forward */

    aq_sampler sampler;
    uint64_t seed;
    float *sample_prob;    /* (vocab_size) sampler scratch */
    int32_t *sample_index; /* (vocab_size) */
    char error[AQ_MESSAGE_CAP];
};

/* context.c */
/* A context on a loaded model with one thread per core and the model's
 * context length (at most 4096) of float KV cache; NULL if out of memory.
 * Its thread pool starts at the first forward call. */
aq_context *aq_runtime_context_create(aq_model *model);
/* Frees the context, and its model too if aq_model_free was called while it
 * lived and it was the model's last context. */
void aq_runtime_context_free(aq_context *ctx);
/* Sets the thread count; the pool of that many starts at the next forward
 * call (aq_runtime_reserve, which reports AQ_ERR_THREADS if it cannot). One
 * thread has no pool: pthreadpool runs the tasks on the caller. */
aq_error aq_runtime_set_threads(aq_context *ctx, int32_t n_threads);
/* Reallocates an empty KV cache of n slots per layer of bits 32 (float), 8 or 4. */
aq_error aq_runtime_set_cache(aq_context *ctx, int32_t n, int32_t bits);

/* Grows the batch buffers to n_tokens rows and the logits to logit_rows. */
aq_error aq_runtime_reserve(aq_context *ctx, int32_t n_tokens, int32_t logit_rows);

/* forward.c: runs n_tokens tokens (positions may be NULL: after the cache). */
aq_error aq_runtime_forward(aq_context *ctx, const int32_t *tokens, const int32_t *positions, int32_t n_tokens,
                            bool logits_all);

/* forward.c, for calibration layer by layer (lib/quant/quantize.c): a chunk
 * of n_tokens at positions 0 .. n_tokens - 1, as aq_runtime_forward on an
 * empty cache runs it, but one layer at a time. aq_runtime_embed writes the
 * residual stream's first rows (n_tokens, dim) into x; aq_runtime_forward_layer
 * runs layer on the rows in x, in place, its cache emptied first. Pruning is
 * off (the context's n_kv stays 0). */
aq_error aq_runtime_embed(aq_context *ctx, const int32_t *tokens, int32_t n_tokens, float *x);
aq_error aq_runtime_forward_layer(aq_context *ctx, int32_t layer, float *x, int32_t n_tokens);

/* kv_cache.c: keeps the first n cached tokens. */
aq_error aq_runtime_kv_truncate(aq_context *ctx, int32_t n);

/* prune.c: the logits row of batch token i of the last forward call, -1 if it was pruned. */
int32_t aq_runtime_logit_row(const aq_context *ctx, int32_t i);

#endif
