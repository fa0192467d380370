/* Quantization schemes: a base name plus comma-separated modifiers, e.g.
 * "w4a8", "w4a4-paper", "w4a8,rtn,g128", "w4a4,no-rotate". Internal; the
 * names are documented in docs/FORMAT.md and in aq-quantize --help. */
#ifndef AQ_SCHEME_H
#define AQ_SCHEME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agilequant.h"
#include "model.h"

/* Searched weight scales (aq_q4w_quantize_search_ref): least squared error
 * (clip), or least error weighted by each input channel's mean square on the
 * calibration text (clip-act, as llama.cpp's imatrix weights its search). */
enum { AQ_SEARCH_MSE = 1, AQ_SEARCH_ACT = 2 };

typedef struct aq_scheme {
    aq_weight_format weights; /* F32 (none), Q4W, or BLOCKS of block_type */
    uint32_t block_type;      /* BLOCKS: AQ_TENSOR_Q4_0 or AQ_TENSOR_Q8_0, by our own quantizers */
    int32_t group;            /* Q4W group size: 32, 64 or 128 */
    bool asym;                /* Q4W zero points */
    bool gptq;                /* error-compensating weight quantization (else round to nearest) */
    int32_t weight_search;    /* Q4W group scales: 0 round to nearest's, AQ_SEARCH_MSE or AQ_SEARCH_ACT searched */
    int32_t act_bits[AQ_N_LINEAR_INPUTS]; /* 0 float, 8 or 4 */
    bool act_static;                      /* calibrated per-tensor scales (the paper), else dynamic per token */
    int32_t act_group; /* dynamic: one activation scale per token and run of act_group features; 0: per token */
    bool act_clip;     /* with act_group: 4-bit groups' scales clipped for the least error per token (aclip) */
    bool act_asym;     /* with act_group: 4-bit groups asymmetric, an integer zero point per token and group (aasym) */
    int32_t act_wide;  /* with act_group and 4-bit inputs: this many groups of each input at 8 bits (mix8-N) */
    bool trip;         /* power-of-two channel factors (the paper's TRIP) */
    bool rotate;       /* Hadamard rotations (QuaRot-style) */
    bool rotate_blocked; /* rotations in power-of-two blocks (format version 1), not full width */
    bool rotate_online;  /* the attention and MLP inputs rotated online after their norms, whose gains stay
                          * unfolded; the residual stream is not rotated (rotate-online) */
    bool smooth;         /* with rotate_online: each norm's output channels scaled before that rotation, the readers'
                          * columns by the inverse, from calibration (smooth) */
    bool balance;        /* equalize the MLP's up rows against the down columns (before rotating) */
    bool balance_vo;     /* the same for attention: V's rows against O's columns */
    uint32_t head_type;  /* output head and embedding table: AQ_TENSOR_Q8_0, or 0 to keep them float */
    bool head_q4w;       /* head-int4: the head (and a table tied to it) INT4, its input INT8 */
    bool w3;             /* Q4W on the 3-bit grid (symmetric), run by the qc3w kernels */
    int32_t kv_bits;     /* the KV cache width contexts of the model default to: 4, 8, 0 (float) */
} aq_scheme;

/* Parses name into s; on failure writes a reason into msg. */
aq_error aq_scheme_parse(const char *name, aq_scheme *s, char *msg, size_t msg_cap);
/* Whether the scheme needs calibration text (GPTQ, static scales, TRIP, smoothing). */
bool aq_scheme_needs_calibration(const aq_scheme *s);

#endif
