/* The model: its configuration and weights, as plain structs in the manner
 * of llama2.c. The model layer loads it from GGUF, repacks its weights for
 * the kernels and saves it; the layers above read it. Internal. */
#ifndef AQ_MODEL_H
#define AQ_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "agilequant.h"
#include "block-types.h"
#include "error.h"
#include "gguf.h"
#include "kernels.h"
#include "tokenizer.h"

/* The attention keeps a head's query and accumulators on the stack. */
#define AQ_MAX_HEAD_DIM 512

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
    AQ_WEIGHTS_Q4W,   /* ours: INT4 group-wise (kernels_ref/quant.h) */
    AQ_WEIGHTS_BLOCKS /* llama.cpp's formats (Q4_0 ... Q6_K, IQ4_*, F16, BF16): rows of blocks */
} aq_weight_format;

/* A weight matrix W of shape (rows, cols) applied as y = W x. */
typedef struct aq_matrix {
    int32_t rows, cols;
    aq_weight_format format;
    const float *f32;      /* AQ_WEIGHTS_F32: (rows, cols), row-major */
    struct aq_q4w q4w;     /* AQ_WEIGHTS_Q4W, plain layout */
    void *packed;          /* q4w in the chosen kernel's tile layout, or NULL */
    const void *blocks;    /* AQ_WEIGHTS_BLOCKS: rows of row_bytes, in place in the file when loaded */
    const aq_block_type *block_type;
    size_t row_bytes;
} aq_matrix;

/* Row r of w as cols floats (the embedding lookup). */
void aq_matrix_row(const aq_matrix *w, int32_t r, float *out);
/* Bytes a product with w streams from memory (packed_size: the GEMM kernel's, for packed INT4). */
int64_t aq_matrix_bytes(const aq_matrix *w, size_t (*packed_size)(const struct aq_q4w *w));

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

/* The layer's weight matrices, in the order wq, wk, wv, wo, w_gate, w_up, w_down. */
#define AQ_MATRICES_PER_LAYER 7
static inline void aq_layer_matrices(aq_layer *l, aq_matrix **out) {
    out[0] = &l->wq, out[1] = &l->wk, out[2] = &l->wv, out[3] = &l->wo;
    out[4] = &l->w_gate, out[5] = &l->w_up, out[6] = &l->w_down;
}

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


/* Whether the output head is the embedding table itself (a file without output.weight). */
static inline bool aq_model_head_tied(const aq_model *m) {
    return m->output.format == m->token_embd.format && m->output.f32 == m->token_embd.f32 &&
           m->output.blocks == m->token_embd.blocks && m->output.q4w.q == m->token_embd.q4w.q;
}

/* load.c: fills a created model from model->gguf (opened by the caller). */
aq_error aq_model_load_gguf(aq_model *model);
/* Rewrites model->description after loading or quantizing. */
void aq_model_describe_update(aq_model *model);

/* model.c: frees what a load made and empties the handle, keeping its
 * settings and its last message, so that it can be loaded again. */
void aq_model_clear(aq_model *model);
/* Hands buf to the model, which frees it with itself; NULL if out of memory
 * (buf is then freed). */
void *aq_model_own(aq_model *model, void *buf);
/* n floats owned by the model, a copy of src unless src is NULL. */
float *aq_model_own_floats(aq_model *model, const float *src, size_t n);

/* validate.c: whether the n values of a tensor of block type bt have only finite scales. */
bool aq_blocks_finite(const aq_block_type *bt, const void *data, size_t n);

/* pack.c: repacks every INT4 matrix into the layout of the chosen GEMM kernel. */
aq_error aq_model_pack(aq_model *model);

/* save.c: writes the model as GGUF (docs/FORMAT.md); msg gets the reason on failure. */
aq_error aq_model_save_gguf(const aq_model *model, const char *path, char *msg);

#endif
