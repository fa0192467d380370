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

/* The building blocks a model family's forward pass is made of. */
typedef enum aq_norm_kind {
    AQ_NORM_RMS = 0, /* x / sqrt(mean(x^2) + eps) * w */
    AQ_NORM_LAYER    /* (x - mean) / sqrt(var + eps) * w + b */
} aq_norm_kind;

typedef enum aq_position_kind {
    AQ_POSITIONS_ROPE = 0,  /* rotary, consecutive pairs (x[2i], x[2i+1]): llama.cpp's NORM */
    AQ_POSITIONS_ROPE_NEOX, /* rotary, pairs (x[i], x[i + rope_dims/2]): llama.cpp's NEOX */
    AQ_POSITIONS_ALIBI,     /* a per-head linear bias on the attention scores */
    AQ_POSITIONS_LEARNED    /* a learned table added to the token embedding */
} aq_position_kind;

typedef enum aq_mlp_kind {
    AQ_MLP_SWIGLU = 0, /* down(silu(gate x) * up x) */
    AQ_MLP_GELU,       /* down(gelu(up x)), GELU's tanh form */
    AQ_MLP_RELU        /* down(relu(up x)) */
} aq_mlp_kind;

/* Linear layers, as bits of aq_family.required_biases. */
enum {
    AQ_BIAS_Q = 1 << 0,
    AQ_BIAS_K = 1 << 1,
    AQ_BIAS_V = 1 << 2,
    AQ_BIAS_O = 1 << 3,
    AQ_BIAS_UP = 1 << 4,
    AQ_BIAS_DOWN = 1 << 5,
    AQ_BIAS_QKV = AQ_BIAS_Q | AQ_BIAS_K | AQ_BIAS_V,
    AQ_BIAS_ALL = AQ_BIAS_QKV | AQ_BIAS_O | AQ_BIAS_UP | AQ_BIAS_DOWN
};

/* A model family: the tensors its files hold and the building blocks its
 * forward pass uses. One entry of the table in family.c per value of
 * general.architecture; adding a family is adding an entry. */
typedef struct aq_family {
    const char *name;  /* general.architecture, and the prefix of its keys */
    aq_norm_kind norm; /* every norm; LayerNorm's have weight and bias */
    aq_position_kind positions;
    aq_mlp_kind mlp;
    bool fused_qkv;           /* blk.N.attn_qkv: rows [Q; K; V], each head-major */
    bool embedding_norm;      /* token_embd_norm (a LayerNorm) right after the embedding */
    int32_t position_offset;  /* learned positions: position p reads row p + offset */
    float alibi_max_bias;     /* ALiBi: the slopes' maximum bias (llama.cpp's f_max_alibi_bias) */
    uint32_t required_biases; /* AQ_BIAS_* whose .bias tensors must be there (others are optional) */
    bool output_required;     /* llama.cpp needs output.weight (saved even when tied) */
} aq_family;

/* family.c: the family of an architecture name (not NUL-terminated), or NULL. */
const aq_family *aq_family_find(const char *name, size_t len);
/* "llama, qwen2, ...": the names the table knows. */
const char *aq_family_names(void);

typedef struct aq_config {
    const aq_family *family;
    int32_t dim; /* embedding width */
    int32_t n_layers;
    int32_t n_heads;
    int32_t n_kv_heads; /* grouped-query attention: n_heads is a multiple */
    int32_t head_dim;   /* dim / n_heads */
    int32_t ffn_dim;
    int32_t vocab_size;
    int32_t context_length; /* the training context; learned positions: positions below it */
    aq_norm_kind norm;      /* the family's, or RMSNorm once rotation made the residual mean-free */
    float norm_eps;
    int32_t rope_dims; /* dimensions of a head RoPE rotates (the first ones) */
    float rope_theta;
    float rope_freq_scale; /* linear RoPE scaling: positions times this (1 / rope.scaling.factor) */
} aq_config;

typedef enum aq_weight_format {
    AQ_WEIGHTS_F32 = 0,
    AQ_WEIGHTS_Q4W,   /* ours: INT4 group-wise (kernels_ref/quant.h) */
    AQ_WEIGHTS_BLOCKS /* llama.cpp's formats (Q4_0 ... Q6_K, IQ4_*, F16, BF16): rows of blocks */
} aq_weight_format;

/* A weight matrix W of shape (rows, cols) applied as y = W x. */
typedef struct aq_matrix {
    int32_t rows, cols; /* rows 0: absent (w_gate of an MLP without a gate) */
    aq_weight_format format;
    const float *f32;   /* AQ_WEIGHTS_F32: (rows, cols), row-major */
    struct aq_q4w q4w;  /* AQ_WEIGHTS_Q4W, plain layout */
    void *packed;       /* q4w in the chosen kernel's tile layout, or NULL */
    bool q3w;           /* AQ_WEIGHTS_Q4W holding 3-bit codes (quant.h): packed for and run by the qc3w kernels */
    const void *blocks; /* AQ_WEIGHTS_BLOCKS: rows of row_bytes, in place in the file when loaded */
    const aq_block_type *block_type;
    size_t row_bytes;
    /* AQ_WEIGHTS_BLOCKS: rows [0, x8_rows) (a multiple of 8) repacked into groups of 8
     * rows for kernels.block_gemm_x8 (kernels_ref/q4_0x8.h), owned by the model; the
     * rest read from blocks. NULL when the type or the kernels have no such layout. */
    const void *x8;
    size_t x8_rows;
    const float *bias; /* (rows), added to the product, or NULL */
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
    AQ_INPUT_FFN_DOWN, /* MLP activation output: down projection */
    AQ_N_LINEAR_INPUTS
} aq_linear_input;

typedef struct aq_act_quant {
    int32_t bits;   /* 0: float; 8 or 4 */
    bool is_static; /* calibrated per-tensor scale and zero; else dynamic per token */
    float scale;
    int32_t zero;
    int32_t group; /* dynamic: features per activation scale (a multiple of the weight group), 0: one per token */
    /* With group and bits 4: the width of each group, 8 or 4 (width / group entries: Atom's 8-bit outlier
     * groups, chosen on calibration text), owned by the model; NULL: every group at bits. */
    const uint8_t *group_bits;
    bool clip; /* with group: each 4-bit group's scale clipped for the least error (aq_qd8_quantize_grouped_clip_ref) */
    /* with group: each 4-bit group asymmetric, 16 levels from its minimum (aq_qd8_quantize_grouped_asym_ref) */
    bool asym;
} aq_act_quant;

typedef struct aq_layer {
    const float *attn_norm;   /* (dim) */
    const float *attn_norm_b; /* (dim) LayerNorm's bias, or NULL */
    aq_matrix wq;             /* (n_heads * head_dim, dim) */
    aq_matrix wk;             /* (n_kv_heads * head_dim, dim) */
    aq_matrix wv;             /* (n_kv_heads * head_dim, dim); of a fused attn_qkv, the three are views of it */
    aq_matrix wo;             /* (dim, n_heads * head_dim) */
    const float *ffn_norm;    /* (dim) */
    const float *ffn_norm_b;  /* (dim) or NULL */
    aq_matrix w_gate;         /* (ffn_dim, dim); absent (rows 0) unless the MLP is SwiGLU */
    aq_matrix w_up;           /* (ffn_dim, dim) */
    aq_matrix w_down;         /* (dim, ffn_dim) */
    aq_act_quant act[AQ_N_LINEAR_INPUTS];
    float *down_input_scale; /* (ffn_dim) TRIP's power-of-two factors for the down
                              * projection's input, applied at run time; or NULL */
} aq_layer;

/* The layer's weight matrices, in the order wq, wk, wv, wo, w_gate, w_up, w_down
 * (w_gate may be absent: rows 0). */
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
    aq_matrix position_embd; /* learned positions: (context_length + offset, dim), else absent */
    const float *embd_norm;  /* (dim) LayerNorm after the embedding, or NULL */
    const float *embd_norm_b;
    const float *output_norm;    /* (dim) */
    const float *output_norm_b;  /* (dim) or NULL */
    aq_matrix output;            /* (vocab_size, dim); token_embd when the file has no output */
    const float *rope_freqs;     /* (rope_dims / 2) frequency divisors (Llama 3's rope_freqs.weight), or NULL */
    float *rope_inv_freq;        /* (rope_dims / 2) angle per position of each pair; RoPE families only */
    bool embd_norm_folded;       /* rotation folded the embedding norm into token_embd (saved as a key) */
    float *down_rotation_signs;  /* (ffn_dim) random signs of the online Hadamard
                              * rotation of the down projection's input, or NULL */
    bool down_rotation_blocked;  /* a file of format version 1: that rotation is blocked
                                 * (aq_hadamard_rotate_blocked), not full width */
    float *input_rotation_signs; /* (dim) random signs of the online rotation of the attention and MLP
                                  * inputs after their norms (rotate-online), or NULL */
    char scheme[96];             /* the quantization scheme, "" for none */
    int32_t kv_bits;             /* the scheme's KV cache width (8 or 4; 0: float): new contexts take it */
    char kernels_override[32];   /* aq_model_set_kernels, else $AQ_KERNELS, else automatic */
    aq_kernels kernels;
    _Atomic int32_t n_contexts; /* alive contexts (quantizing needs none), plus AQ_MODEL_FREED once
                              * aq_model_free came while some were alive: the last one frees the model */
    aq_progress_fn progress;
    void *progress_user;
    aq_tokenizer *tokenizer;
    int32_t bos, eos; /* -1 if the vocabulary has none */
    aq_gguf *gguf;
    void **owned; /* buffers the model allocated (converted tensors) */
    size_t n_owned;
    char description[AQ_MESSAGE_CAP];
    char error[AQ_MESSAGE_CAP];
};

/* The bit of n_contexts that aq_model_free sets (api.c, runtime/context.c). */
#define AQ_MODEL_FREED (1 << 30)

/* model.c: aq_model_clear, then frees the handle itself. */
void aq_model_destroy(aq_model *model);

static inline bool aq_matrix_present(const aq_matrix *w) { return w->rows > 0; }

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
/* Floats in norms and biases: the parameters that are not matrices. */
int64_t aq_model_vector_floats(const aq_model *model);
/* Hands buf to the model, which frees it with itself; NULL if out of memory
 * (buf is then freed). */
void *aq_model_own(aq_model *model, void *buf);
/* n floats owned by the model, a copy of src unless src is NULL. */
float *aq_model_own_floats(aq_model *model, const float *src, size_t n);
/* Frees a buffer the model owns before the model goes (NULL or not owned: nothing). */
void aq_model_free_owned(aq_model *model, const void *buf);

/* validate.c: whether the n values of a tensor of block type bt have only finite scales. */
bool aq_blocks_finite(const aq_block_type *bt, const void *data, size_t n);

/* pack.c: repacks every INT4 matrix into the layout of the chosen GEMM kernel. */
aq_error aq_model_pack(aq_model *model);
/* The same for layer i alone (quantization packs each layer as it is made). */
aq_error aq_model_pack_layer(aq_model *model, int32_t i);
/* The same for the output head (INT4 with head-int4). */
aq_error aq_model_pack_head(aq_model *model);

/* save.c: writes the model as GGUF (docs/FORMAT.md); msg gets the reason on failure. */
aq_error aq_model_save_gguf(const aq_model *model, const char *path, char *msg);

#endif
