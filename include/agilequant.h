/*
 * libagilequant: run LLaMA-family models on edge CPUs with activation-guided
 * quantization (Agile-Quant).
 *
 * The ABI is stable: handles are opaque, settings go through setters with
 * bounds, errors travel in return values. A model (read-only weights) may be
 * shared by several contexts; a context (KV cache, logits, sampler state)
 * belongs to one thread at a time.
 *
 * Threads, precisely:
 * - A loaded model may be used by any number of threads at once through the
 *   calls that only read it: aq_model_get_info, aq_model_describe,
 *   aq_model_kernels, aq_model_scheme, aq_model_chat_template_name,
 *   aq_tokenize, aq_tokenize_special, aq_detokenize, aq_token_to_piece,
 *   aq_chat_apply_template, and aq_context_create. They leave no message in
 *   the model.
 * - The calls that change a model need it to themselves, with no other call
 *   on it running: aq_model_load_file, aq_model_load_memory,
 *   aq_model_set_kernels, aq_model_set_progress, aq_quantize (also with no
 *   context of it alive) and aq_model_save; aq_model_error_message reads the
 *   message they leave, so it belongs to the same thread.
 * - aq_model_free may run on any thread while contexts of the model run on
 *   others (the last aq_context_free then frees it); no call on the model
 *   handle may run at the same time or follow.
 * - A context, and what its calls return (aq_get_logits, messages), is used
 *   by one thread at a time; calls on it from several threads must be
 *   serialised by the caller. Its thread pool (AQ_PARAM_THREADS) is its own.
 *   Contexts of one model do not touch each other: run side by side, each
 *   computes bit for bit what it computes alone (prefill with or without
 *   pruning, decoding, sampling; tests/test_threads.c, under ThreadSanitizer).
 * - aq_version_number, aq_version_string, aq_error_name and aq_param_bounds
 *   are safe anywhere. The progress callback runs on aq_quantize's thread.
 *
 * Typical use:
 *   aq_model *m = aq_model_create();
 *   if (aq_model_load_file(m, "model.gguf") != AQ_OK) puts(aq_model_error_message(m));
 *   aq_context *c = aq_context_create(m);
 *   aq_tokenize(m, text, len, 1, toks, cap, &n);
 *   aq_forward(c, toks, NULL, n, 0);
 *   aq_sample(c, -1, &next);
 *   aq_context_free(c); aq_model_free(m);
 */
#ifndef AGILEQUANT_H
#define AGILEQUANT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(AQ_BUILDING_LIBRARY) && defined(__GNUC__)
#define AQ_API __attribute__((visibility("default")))
#else
#define AQ_API
#endif

#define AQ_VERSION_MAJOR 0
#define AQ_VERSION_MINOR 1
#define AQ_VERSION_RELEASE 0
#define AQ_VERSION_NUMBER (AQ_VERSION_MAJOR * 10000 + AQ_VERSION_MINOR * 100 + AQ_VERSION_RELEASE)

AQ_API unsigned aq_version_number(void);
AQ_API const char *aq_version_string(void);

/* Error codes are stable: new ones are only ever appended. */
typedef enum aq_error {
    AQ_OK = 0,
    AQ_ERR_INVALID_ARGUMENT = 1, /* NULL where a pointer is required, bad size */
    AQ_ERR_OUT_OF_RANGE = 2,     /* parameter or token id outside its bounds */
    AQ_ERR_IO = 3,               /* file cannot be opened, read or mapped */
    AQ_ERR_FORMAT = 4,           /* malformed, truncated or hostile file */
    AQ_ERR_UNSUPPORTED = 5,      /* well-formed but not something we run */
    AQ_ERR_OUT_OF_MEMORY = 6,
    AQ_ERR_STATE = 7,            /* call made in the wrong order */
    AQ_ERR_BUFFER_TOO_SMALL = 8, /* the size needed is reported through the out-count */
    AQ_ERR_CONTEXT_FULL = 9,     /* the KV cache has no room for these tokens */
    AQ_ERR_THREADS = 10,         /* the thread pool could not be created */
    AQ_ERR_NUMERIC = 11          /* the computation gave a NaN or an infinity (aq_forward's logits) */
} aq_error;

/* "AQ_OK", "AQ_ERR_FORMAT", ...; "AQ_ERR_UNKNOWN" for a value not in the enum. */
AQ_API const char *aq_error_name(aq_error err);

typedef struct aq_model aq_model;
typedef struct aq_context aq_context;

/* ---- model: read-only weights, shared by contexts ---- */

/* Returns NULL only when memory is exhausted. */
AQ_API aq_model *aq_model_create(void);
/* Accepts NULL. Contexts made from the model may outlive the call: the model
 * then stays in memory, and the last of them to be freed (aq_context_free)
 * frees it. Either way the handle must not be used after this call, except
 * through those contexts. Any thread may free the model or its contexts. */
AQ_API void aq_model_free(aq_model *model);
/* The message of the last failed call on this model ("" if none). */
AQ_API const char *aq_model_error_message(const aq_model *model);

/* Load a GGUF file (memory-mapped). A model can be loaded once. */
AQ_API aq_error aq_model_load_file(aq_model *model, const char *path);
/* Load from a caller's buffer, which must stay valid and unchanged until
 * aq_model_free: weights are used in place where their type allows. */
AQ_API aq_error aq_model_load_memory(aq_model *model, const void *data, size_t size);

/* Forces a kernel family before loading: "ref" (portable C) or a variant
 * name ("avx2", "avx512vnni", "avxvnni", "neon", "neondot"); NULL or
 * "" chooses automatically. Without a call, $AQ_KERNELS is honoured. */
AQ_API aq_error aq_model_set_kernels(aq_model *model, const char *name);
/* The kernels chosen at load, e.g. "qc4w:avx512vnni f32:avx2". */
AQ_API const char *aq_model_kernels(const aq_model *model);

/* ---- quantize: a full-precision model to INT4 weights and INT8/INT4 activations ---- */

/* Called during aq_quantize with the fraction done and the stage's name. */
typedef void (*aq_progress_fn)(void *user, float fraction, const char *stage);
AQ_API aq_error aq_model_set_progress(aq_model *model, aq_progress_fn fn, void *user);

/* Quantizes a loaded full-precision model in place. scheme: "w4a16", "w4a8",
 * "w4a4" (our best setting at each width on the shipped models), "w4a8o",
 * "w4a4o" (for a real model's own outliers), "w4a8-paper", "w4a4-paper" (the
 * paper's static per-tensor scales with TRIP), "w3a8" (3-bit weights, the
 * w4a8 recipe on a 3-bit grid), "q4_0", "q8_0" (llama.cpp's
 * formats), "fp32", optionally followed by modifiers such as ",rtn", ",g128",
 * ",asym", ",no-rotate", ",no-trip" (docs/FORMAT.md). Schemes that calibrate
 * (GPTQ, static scales, TRIP) read calibration_text: use training text,
 * never evaluation text, at least one chunk of 512 tokens (or of the
 * model's context length, if shorter); up to 8 chunks are read, spread over
 * the text. Shorter text gives AQ_ERR_INVALID_ARGUMENT and leaves the model
 * unquantized. Every context of the model must be freed first.
 * AQ_ERR_NUMERIC: folding the rotations into weights that large overflowed;
 * AQ_ERR_UNSUPPORTED also for weights too large for q4_0/q8_0's f16 scales.
 * After an error past the argument checks the model may be part-way
 * quantized: free it. */
AQ_API aq_error aq_quantize(aq_model *model, const char *scheme, const char *calibration_text, size_t length);
/* The scheme the model was quantized with ("" for none). */
AQ_API const char *aq_model_scheme(const aq_model *model);
/* Saves the model (quantized or not) as GGUF; docs/FORMAT.md. */
AQ_API aq_error aq_model_save(aq_model *model, const char *path);

typedef enum aq_model_info {
    AQ_INFO_VOCAB_SIZE = 0,
    AQ_INFO_CONTEXT_LENGTH = 1, /* the training context length */
    AQ_INFO_EMBEDDING_LENGTH = 2,
    AQ_INFO_LAYER_COUNT = 3,
    AQ_INFO_HEAD_COUNT = 4,
    AQ_INFO_HEAD_COUNT_KV = 5,
    AQ_INFO_FEED_FORWARD_LENGTH = 6,
    AQ_INFO_BOS_TOKEN = 7,
    AQ_INFO_EOS_TOKEN = 8,
    AQ_INFO_PARAMETER_COUNT = 9,
    AQ_INFO_WEIGHT_BYTES = 10, /* bytes of weights read per forward token */
    AQ_INFO_ADD_BOS = 11,      /* 1 if the vocabulary puts BOS before a text (pass it as aq_tokenize's add_bos) */
    AQ_INFO_EOT_TOKEN = 12     /* the token that ends a turn of a chat: tokenizer.ggml.eot_token_id, else the
                                 * chat template's end-of-turn token ("<|im_end|>", "<|eot_id|>",
                                 * "<end_of_turn>"), else EOS; -1 if none. Stop generating at it or at EOS. */
} aq_model_info;

/* Writes the value to *value; AQ_ERR_STATE before a successful load. Reads
 * the model only (as do aq_tokenize, aq_tokenize_special, aq_detokenize and
 * aq_token_to_piece), so it leaves no message in it: the error code says it
 * all, and any number of threads may call these on one model at once. */
AQ_API aq_error aq_model_get_info(const aq_model *model, aq_model_info what, int64_t *value);
/* A one-line human description: architecture, size, weight types. */
AQ_API const char *aq_model_describe(const aq_model *model);

/* ---- tokenizer (the model's own vocabulary) ---- */

/* Encodes len bytes of UTF-8 text. On AQ_ERR_BUFFER_TOO_SMALL, *n_tokens holds
 * the count needed. */
AQ_API aq_error aq_tokenize(const aq_model *model, const char *text, size_t len, int add_bos, int32_t *tokens,
                            int32_t capacity, int32_t *n_tokens);
/* Text of one token as it appears inside a stream (a leading-space marker
 * becomes a space, a byte token becomes its byte, control tokens are empty). */
AQ_API aq_error aq_token_to_piece(const aq_model *model, int32_t token, char *buf, size_t capacity, size_t *length);
/* Decodes a token sequence; drops the space the tokenizer added in front, so
 * that detokenize(tokenize(text)) == text. Not NUL-terminated; on
 * AQ_ERR_BUFFER_TOO_SMALL, *length holds the size needed. */
AQ_API aq_error aq_detokenize(const aq_model *model, const int32_t *tokens, int32_t n_tokens, char *buf,
                              size_t capacity, size_t *length);
/* As aq_tokenize, but where the text holds the text of one of the
 * vocabulary's control tokens ("<|im_start|>", "<s>", "<start_of_turn>"), that
 * token is put in its place, as llama.cpp does with parse_special. For text a
 * program made, such as a prompt from aq_chat_apply_template (pass add_bos 0:
 * the template writes the BOS it wants); what a user typed belongs in
 * aq_tokenize, where "<|im_end|>" stays text. */
AQ_API aq_error aq_tokenize_special(const aq_model *model, const char *text, size_t len, int add_bos, int32_t *tokens,
                                    int32_t capacity, int32_t *n_tokens);

/* ---- chat: the prompt a chat model was trained on ---- */

/* One message of a conversation. */
typedef struct aq_chat_message {
    const char *role;    /* "system", "user" or "assistant" */
    const char *content; /* UTF-8, NUL-terminated */
} aq_chat_message;

/* The family the model's chat template (the GGUF key tokenizer.chat_template)
 * was recognised as: "chatml" (SmolLM2, Qwen), "llama3", "llama2", "mistral"
 * or "gemma"; "" if the file has no template, one of another family, or the
 * model is not loaded. */
AQ_API const char *aq_model_chat_template_name(const aq_model *model);

/* Writes the prompt of a conversation in the model's chat template: the
 * string Hugging Face transformers' apply_chat_template(messages,
 * tokenize=False, add_generation_prompt=add_assistant_prefix) renders from
 * the same template, special tokens as text (BOS too, where the template
 * writes one). add_assistant_prefix: end with the header of the assistant's
 * reply, so that the model writes the reply next. Tokenize the prompt with
 * aq_tokenize_special and add_bos 0. Not NUL-terminated; on
 * AQ_ERR_BUFFER_TOO_SMALL, *length holds the size needed.
 * AQ_ERR_UNSUPPORTED: the model has no template of a family we know
 * (aq_model_chat_template_name returns ""); AQ_ERR_INVALID_ARGUMENT: a NULL
 * pointer, a message with a NULL role or content. Reads the model only, like
 * aq_tokenize, so it leaves no message in it. */
AQ_API aq_error aq_chat_apply_template(const aq_model *model, const aq_chat_message *messages, size_t n_messages,
                                       int add_assistant_prefix, char *buf, size_t capacity, size_t *length);

/* ---- context: per-session state and the KV cache ---- */

/* Returns NULL if model is NULL or not loaded, or memory is exhausted. */
AQ_API aq_context *aq_context_create(aq_model *model);
AQ_API void aq_context_free(aq_context *ctx);
AQ_API const char *aq_context_error_message(const aq_context *ctx);

typedef enum aq_param {
    AQ_PARAM_THREADS = 0,        /* [1, 256], default: the number of cores; they start at the next
                                  * aq_forward (AQ_ERR_THREADS there if they cannot) */
    AQ_PARAM_CONTEXT_LENGTH = 1, /* [1, 1<<20] KV cache slots; default min(model's, 4096); clears the cache */
    AQ_PARAM_TEMPERATURE = 2,    /* [0, 100], default 0.8; 0 samples greedily */
    AQ_PARAM_TOP_K = 3,          /* [0, 1<<30], default 40; 0 disables */
    AQ_PARAM_TOP_P = 4,          /* [0, 1], default 0.95; 1 disables */
    AQ_PARAM_SEED = 5,           /* [0, 2^53], default 0; resets the sampler's generator */
    AQ_PARAM_KV_INT8 = 6,        /* [0, 1], default 0; 1 stores the KV cache as INT8 (a scale per
                                  * token and head: a quarter of the memory), 0 as float; clears the
                                  * cache; reads 1 only for an INT8 cache */
    AQ_PARAM_KV_BITS = 7         /* 32, 8 or 4: the KV cache as float, INT8 (as AQ_PARAM_KV_INT8) or
                                  * INT4 (a scale and a minimum per token and head, keys and queries
                                  * rotated per head: an eighth of the memory); default 32, or what
                                  * the model's scheme records (w4a4kv4: 4); clears the cache */
} aq_param;

AQ_API aq_error aq_param_bounds(aq_param param, double *min_value, double *max_value);
AQ_API aq_error aq_context_set_param(aq_context *ctx, aq_param param, double value);
AQ_API aq_error aq_context_get_param(const aq_context *ctx, aq_param param, double *value);

/* Runs n_tokens tokens through the model and appends them to the KV cache.
 * positions: each token's RoPE position, or NULL for consecutive positions
 * after the last cached one. Every token attends to the cached tokens and the
 * earlier tokens of the batch. logits_all: nonzero keeps the logits of every
 * token, zero only of the last. AQ_ERR_NUMERIC: a logit came out NaN or
 * infinite (the weights or the activations overflowed); the tokens are then
 * dropped from the cache again and there are no logits to read. */
AQ_API aq_error aq_forward(aq_context *ctx, const int32_t *tokens, const int32_t *positions, int32_t n_tokens,
                           int logits_all);
/* Logits (vocab_size floats) of row i of the last forward: i counts the
 * batch's tokens with logits_all, else only i = 0 or -1 (the last) is valid.
 * NULL if there is no such row. */
AQ_API const float *aq_get_logits(const aq_context *ctx, int32_t i);
/* Number of tokens in the KV cache. */
AQ_API int32_t aq_kv_length(const aq_context *ctx);
/* Keeps the first n cached tokens and forgets the rest (0 clears it). */
AQ_API aq_error aq_kv_truncate(aq_context *ctx, int32_t n);

/* Draws the next token from row i of the last logits (as aq_get_logits) with
 * the context's temperature, top-k, top-p and seeded generator. */
AQ_API aq_error aq_sample(aq_context *ctx, int32_t i, int32_t *token);

/* ---- activation-guided token pruning in prefill (docs/PRUNING.md) ---- */

/* How a token's importance is scored at a pruning layer; the least important
 * tokens are dropped. */
typedef enum aq_prune_importance {
    AQ_PRUNE_ATTENTION_TO_FIRST = 0, /* the paper's: attention the token pays to the first token of
                                      * the sequence, summed over heads (sum_h A[h, i, 0]) */
    AQ_PRUNE_ATTENTION_RECEIVED = 1  /* mean attention the token receives from the tokens that see
                                      * it (itself and later ones), summed over heads */
} aq_prune_importance;

/* The RoPE positions of the tokens that remain. */
typedef enum aq_prune_positions {
    AQ_PRUNE_KEEP_POSITIONS = 0, /* each token keeps its original position (default) */
    AQ_PRUNE_RENUMBER = 1        /* the paper's code: kept tokens renumbered 0..kept-1 after each
                                  * pruning layer; later tokens continue from the count kept */
} aq_prune_positions;

/* Enables token pruning for prefills: a forward call of more than two tokens
 * that starts at an empty KV cache. Layers first_layer..n_layers-1 each drop a
 * fraction gamma = 1 - (1 - beta)^(1 / (n_layers - first_layer)) of the tokens
 * still present, right after their attention, so that a fraction beta is gone
 * after the last layer. The first and the last token are never dropped.
 * beta in [0, 1), 0 disables; first_layer in [0, n_layers), -1 means
 * n_layers / 2. Decoding afterwards attends, layer by layer, to the tokens
 * present at that layer. With logits_all, aq_get_logits returns NULL for a
 * pruned token. aq_kv_length still counts the tokens given; after a pruned
 * prefill, aq_kv_truncate accepts n = 0 (clears) or n >= the prefill's length
 * (forgets later tokens), and refuses other n with AQ_ERR_STATE.
 * AQ_ERR_OUT_OF_RANGE for a bad value (settings unchanged). */
AQ_API aq_error aq_prune(aq_context *ctx, double beta, int32_t first_layer, aq_prune_importance importance,
                         aq_prune_positions positions);
/* The batch indices (ascending) of the tokens present at the input of layer
 * `layer` in the last forward call; layer = n_layers gives the tokens that
 * reached the output. On AQ_ERR_BUFFER_TOO_SMALL, *n_kept holds the count.
 * AQ_ERR_STATE before any forward call. Reads the context only: it leaves no
 * message in it. */
AQ_API aq_error aq_prune_kept(const aq_context *ctx, int32_t layer, int32_t *indices, int32_t capacity,
                              int32_t *n_kept);

#ifdef __cplusplus
}
#endif
#endif /* AGILEQUANT_H */
