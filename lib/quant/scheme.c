#include "scheme.h"

#include <stdio.h>
#include <string.h>

typedef struct base_scheme {
    const char *name;
    aq_scheme scheme;
} base_scheme;

#define ALL_INPUTS(b)                                                                                                  \
    { b, b, b, b }

/* Each w4 name is our best setting at that width (docs/ACCURACY.md); the
 * -paper names follow the paper: static per-tensor scales with TRIP. Every
 * INT4 scheme stores the output head and the embedding table as Q8_0: in FP32
 * the head alone was 28% of the bytes a generated token reads (1.1B shape). */
static const base_scheme bases[] = {
    {"fp32", {.weights = AQ_WEIGHTS_F32}},
    {"w4a16", {.weights = AQ_WEIGHTS_Q4W, .group = 32, .gptq = true, .head_type = AQ_TENSOR_Q8_0}},
    {"w4a8",
     {.weights = AQ_WEIGHTS_Q4W,
      .group = 32,
      .gptq = true,
      .head_type = AQ_TENSOR_Q8_0,
      .act_bits = ALL_INPUTS(8),
      .rotate = true,
      .balance = true,
      .balance_vo = true}},
    {"w4a4",
     {.weights = AQ_WEIGHTS_Q4W,
      .group = 32,
      .gptq = true,
      .head_type = AQ_TENSOR_Q8_0,
      .act_bits = ALL_INPUTS(4),
      .rotate = true,
      .balance = true,
      .balance_vo = true}},
    /* w4a4 or w4a8 with a 4-bit KV cache (QuaRot's W4A4KV4): rotation is what
     * makes 4-bit keys and values work (the values' per-head rotation is folded
     * into V and the output projection; the keys' is applied at run time).
     * V/O balancing is on, as in w4a4 and w4a8: a model whose V rows carry
     * outliers puts them in the 4-bit cache as they are without it (worst of
     * five seeded outlier variants, tools/outliers_table.py --chunks 2 --seeds 5:
     * llama +8.37%, bloom +8.30%, opt +1.23% without it, +0.68%, +0.78%,
     * +0.27% with it; target +3%), and costs nothing on the shipped models
     * (docs/ACCURACY.md's families section: aq-perplexity on held-out
     * Austen, --ctx 512 --chunks 4, calibration data/austen-train.txt,
     * against FP32, without it / with it: w4a4kv4 llama +0.16% / -0.00%,
     * opt +0.26% / +0.14%, bloom +0.92% / +0.59%; w4a8kv4 +0.01% / -0.14%,
     * +0.03% / +0.05%, +0.06% / -0.02%). It leaves
     * the cached values' channels less even on the unplanted model
     * (test_kv_cache: w4a8kv4,rtn's logit error against the float cache 0.020
     * without it, 0.052 with it), which perplexity does not show. */
    {"w4a4kv4",
     {.weights = AQ_WEIGHTS_Q4W,
      .group = 32,
      .gptq = true,
      .head_type = AQ_TENSOR_Q8_0,
      .act_bits = ALL_INPUTS(4),
      .rotate = true,
      .balance = true,
      .balance_vo = true,
      .kv_bits = 4}},
    {"w4a8kv4",
     {.weights = AQ_WEIGHTS_Q4W,
      .group = 32,
      .gptq = true,
      .head_type = AQ_TENSOR_Q8_0,
      .act_bits = ALL_INPUTS(8),
      .rotate = true,
      .balance = true,
      .balance_vo = true,
      .kv_bits = 4}},
    {"w4a8-paper",
     {.weights = AQ_WEIGHTS_Q4W,
      .group = 32,
      .gptq = true,
      .head_type = AQ_TENSOR_Q8_0,
      .act_bits = ALL_INPUTS(8),
      .act_static = true,
      .asym = false,
      .trip = true}},
    {"w4a4-paper",
     {.weights = AQ_WEIGHTS_Q4W,
      .group = 32,
      .gptq = true,
      .head_type = AQ_TENSOR_Q8_0,
      .act_bits = ALL_INPUTS(4),
      .act_static = true,
      .trip = true}},
    /* 3 bits: the w4a8 recipe on the 3-bit grid (docs/ACCURACY.md). */
    {"w3a8",
     {.weights = AQ_WEIGHTS_Q4W,
      .group = 32,
      .gptq = true,
      .head_type = AQ_TENSOR_Q8_0,
      .act_bits = ALL_INPUTS(8),
      .rotate = true,
      .balance = true,
      .w3 = true}},
    /* w4a4o and w4a8o hold a real pre-trained model's own outliers (docs/OUTLIERS.md:
     * SmolLM2-135M-Instruct, where w4a4 costs several times what it costs the
     * shipped models): the inputs rotated online after their norms, smoothed
     * first at 4 bits, V/O balancing, activations in groups of 32, scales searched
     * against the activations; at 4 bits zero points on both sides. They are
     * w4a4,rotate-online,smooth,no-balance,balance-vo,ag32,clip-act,asym,aasym and
     * w4a8,rotate-online,no-balance,ag32,clip-act under a name of their own; not
     * the defaults, since w4a4o reads a zero point per weight group more. */
    {"w4a4o",
     {.weights = AQ_WEIGHTS_Q4W,
      .group = 32,
      .asym = true,
      .gptq = true,
      .weight_search = AQ_SEARCH_ACT,
      .head_type = AQ_TENSOR_Q8_0,
      .act_bits = ALL_INPUTS(4),
      .act_group = 32,
      .act_asym = true,
      .rotate = true,
      .rotate_online = true,
      .smooth = true,
      .balance_vo = true}},
    {"w4a8o",
     {.weights = AQ_WEIGHTS_Q4W,
      .group = 32,
      .gptq = true,
      .weight_search = AQ_SEARCH_ACT,
      .head_type = AQ_TENSOR_Q8_0,
      .act_bits = ALL_INPUTS(8),
      .act_group = 32,
      .rotate = true,
      .rotate_online = true}},
    {"q4_0", {.weights = AQ_WEIGHTS_BLOCKS, .block_type = AQ_TENSOR_Q4_0}},
    {"q8_0", {.weights = AQ_WEIGHTS_BLOCKS, .block_type = AQ_TENSOR_Q8_0}},
};

bool aq_scheme_needs_calibration(const aq_scheme *s) {
    return (s->weights == AQ_WEIGHTS_Q4W &&
            (s->gptq || s->act_static || s->trip || s->weight_search == AQ_SEARCH_ACT)) ||
           s->act_wide > 0 || s->smooth;
}

/* only-qkv, only-o, only-up, only-down: that input's activations quantized,
 * the others float (to see which input loses most). */
static bool only_site(aq_scheme *s, const char *mod) {
    static const char *const sites[AQ_N_LINEAR_INPUTS] = {"only-qkv", "only-o", "only-up", "only-down"};
    for (int k = 0; k < AQ_N_LINEAR_INPUTS; k++) {
        if (strcmp(mod, sites[k])) continue;
        for (int j = 0; j < AQ_N_LINEAR_INPUTS; j++)
            if (j != k) s->act_bits[j] = 0;
        return true;
    }
    return false;
}

/* mix8-N: N groups (1 to 64) of each 4-bit input at 8 bits, the ones whose 4-bit error costs the layer's output most
 * on the calibration text. */
static bool wide_groups(aq_scheme *s, const char *n) {
    int v = 0;
    for (; *n >= '0' && *n <= '9' && v <= 64; n++) v = v * 10 + (*n - '0');
    if (*n || v < 1 || v > 64) return false;
    s->act_wide = v;
    return true;
}

static bool apply_modifier(aq_scheme *s, const char *mod) {
    if (!strcmp(mod, "rtn"))
        s->gptq = false;
    else if (!strcmp(mod, "gptq"))
        s->gptq = true;
    else if (!strcmp(mod, "clip"))
        s->weight_search = AQ_SEARCH_MSE;
    else if (!strcmp(mod, "clip-act"))
        s->weight_search = AQ_SEARCH_ACT;
    else if (!strcmp(mod, "no-clip"))
        s->weight_search = 0;
    else if (!strcmp(mod, "g32"))
        s->group = 32;
    else if (!strcmp(mod, "g64"))
        s->group = 64;
    else if (!strcmp(mod, "g128"))
        s->group = 128;
    else if (!strcmp(mod, "sym"))
        s->asym = false;
    else if (!strcmp(mod, "asym"))
        s->asym = true;
    else if (!strcmp(mod, "rotate"))
        s->rotate = true;
    else if (!strcmp(mod, "no-rotate"))
        s->rotate = s->rotate_online = false;
    else if (!strcmp(mod, "balance"))
        s->balance = true;
    else if (!strcmp(mod, "no-balance"))
        s->balance = s->balance_vo = false;
    else if (!strcmp(mod, "balance-vo"))
        s->balance_vo = true;
    else if (!strcmp(mod, "no-balance-vo"))
        s->balance_vo = false;
    else if (!strcmp(mod, "rotate-blocked"))
        s->rotate = s->rotate_blocked = true;
    else if (!strcmp(mod, "rotate-online"))
        s->rotate = s->rotate_online = true;
    else if (!strcmp(mod, "smooth"))
        s->smooth = true;
    else if (!strcmp(mod, "trip"))
        s->trip = true;
    else if (!strcmp(mod, "no-trip"))
        s->trip = false;
    else if (!strcmp(mod, "static"))
        s->act_static = true;
    else if (!strcmp(mod, "dynamic"))
        s->act_static = false;
    else if (!strcmp(mod, "a8") || !strcmp(mod, "a4"))
        for (int k = 0; k < AQ_N_LINEAR_INPUTS; k++) s->act_bits[k] = mod[1] - '0';
    else if (!strcmp(mod, "ag32"))
        s->act_group = 32;
    else if (!strcmp(mod, "ag64"))
        s->act_group = 64;
    else if (!strcmp(mod, "ag128"))
        s->act_group = 128;
    else if (!strcmp(mod, "aclip"))
        s->act_clip = true;
    else if (!strcmp(mod, "aasym"))
        s->act_asym = true;
    else if (!strncmp(mod, "mix8-", 5))
        return wide_groups(s, mod + 5);
    else if (!strcmp(mod, "down8"))
        s->act_bits[AQ_INPUT_FFN_DOWN] = 8;
    else if (!strcmp(mod, "head-q8_0"))
        s->head_type = AQ_TENSOR_Q8_0, s->head_q4w = false;
    else if (!strcmp(mod, "head-f32"))
        s->head_type = 0, s->head_q4w = false;
    else if (!strcmp(mod, "head-int4"))
        s->head_type = AQ_TENSOR_Q8_0, s->head_q4w = true;
    else
        return only_site(s, mod);
    return true;
}

aq_error aq_scheme_parse(const char *name, aq_scheme *s, char *msg, size_t msg_cap) {
    if (!name) return AQ_ERR_INVALID_ARGUMENT;
    char buf[96];
    if (strlen(name) >= sizeof buf) {
        snprintf(msg, msg_cap, "scheme name too long");
        return AQ_ERR_INVALID_ARGUMENT;
    }
    strcpy(buf, name);
    char *save = NULL, *base = strtok_r(buf, ",", &save);
    const base_scheme *found = NULL;
    for (size_t i = 0; base && i < sizeof bases / sizeof bases[0]; i++)
        if (!strcmp(base, bases[i].name)) found = &bases[i];
    if (!found) {
        snprintf(msg, msg_cap,
                 "unknown scheme '%s' (fp32, w4a16, w4a8, w4a4, w4a8o, w4a4o, w4a4kv4, w4a8kv4, w4a8-paper, "
                 "w4a4-paper, w3a8, q4_0, q8_0)",
                 base ? base : "");
        return AQ_ERR_INVALID_ARGUMENT;
    }
    *s = found->scheme;
    for (char *mod = strtok_r(NULL, ",", &save); mod; mod = strtok_r(NULL, ",", &save)) {
        /* fp32 takes only the function-preserving transforms (so that tests can check they are) and quantized
         * activations (to measure their error alone) */
        bool head = !strcmp(mod, "head-q8_0") || !strcmp(mod, "head-f32");
        /* The 3-bit layout has no zero points, and its round to nearest searches its scales already. */
        bool allowed =
            (s->weights == AQ_WEIGHTS_Q4W &&
             !(s->w3 && (!strcmp(mod, "asym") || !strcmp(mod, "clip") || !strcmp(mod, "clip-act")))) ||
            (s->weights == AQ_WEIGHTS_BLOCKS && head) ||
            (s->weights == AQ_WEIGHTS_F32 &&
             (!strcmp(mod, "rotate") || !strcmp(mod, "balance") || !strcmp(mod, "balance-vo") ||
              !strcmp(mod, "smooth") || !strcmp(mod, "rotate-blocked") || !strcmp(mod, "rotate-online") ||
              !strncmp(mod, "ag", 2) || !strcmp(mod, "a8") || !strcmp(mod, "a4") || !strncmp(mod, "only-", 5) ||
              !strncmp(mod, "mix8-", 5) || !strcmp(mod, "aclip") || !strcmp(mod, "aasym")));
        if (!allowed || !apply_modifier(s, mod)) {
            snprintf(
                msg, msg_cap,
                "unknown modifier '%s' for scheme %s (rtn, gptq, clip, clip-act, no-clip, g32, g64, g128, sym, asym, "
                "rotate, rotate-blocked, rotate-online, smooth, no-rotate, balance, no-balance, balance-vo, "
                "no-balance-vo, "
                "trip, no-trip, "
                "static, dynamic, a8, a4, ag32, ag64, ag128, mix8-N, aclip, aasym, down8, only-qkv, only-o, only-up, "
                "only-down, "
                "head-q8_0, "
                "head-f32, head-int4)",
                mod, found->name);
            return AQ_ERR_INVALID_ARGUMENT;
        }
    }
    /* The kernels apply one activation scale per weight group. */
    if (s->act_group && (s->act_static || s->act_group % (s->group ? s->group : 32) != 0)) {
        snprintf(msg, msg_cap, "activation groups (ag%d) need dynamic scales and a multiple of the weight group (g%d)",
                 (int)s->act_group, (int)s->group);
        return AQ_ERR_INVALID_ARGUMENT;
    }
    /* The online rotation of the attention and MLP inputs is format version 2's (full width where the width
     * allows); TRIP scales the norms' outputs, which that rotation then mixes. */
    if (s->rotate_online && (s->rotate_blocked || s->trip)) {
        snprintf(msg, msg_cap, "rotate-online excludes rotate-blocked and trip");
        return AQ_ERR_INVALID_ARGUMENT;
    }
    /* The folded rotation turns the residual stream before any norm: no channel of a norm's output is left to
     * scale before it. */
    if (s->smooth && !s->rotate_online) {
        snprintf(msg, msg_cap, "smooth needs rotate-online");
        return AQ_ERR_INVALID_ARGUMENT;
    }
    if (s->act_clip && !s->act_group) {
        snprintf(msg, msg_cap, "clipped activation groups (aclip) need activation groups (ag32, ag64, ag128)");
        return AQ_ERR_INVALID_ARGUMENT;
    }
    if (s->act_asym && (!s->act_group || s->act_clip)) {
        snprintf(msg, msg_cap,
                 "asymmetric activation groups (aasym) need activation groups (ag32, ag64, ag128) and no aclip");
        return AQ_ERR_INVALID_ARGUMENT;
    }
    if (s->act_wide && !s->act_group) {
        snprintf(msg, msg_cap, "8-bit activation groups (mix8-%d) need activation groups (ag32, ag64, ag128)",
                 (int)s->act_wide);
        return AQ_ERR_INVALID_ARGUMENT;
    }
    return AQ_OK;
}
