/* The weight formats on arbitrary bytes: every llama.cpp block type of the
 * table (kernels_ref/block-types.h) dequantized and dotted with an activation
 * row, and the activation quantizers (llama.cpp's Q8_0, Q8_1, Q8_K, F16, BF16;
 * our INT8/INT4 per token and static) on arbitrary floats, NaN and infinity
 * included; our INT4 (q4w) dequantized and multiplied. Nothing is compared:
 * the sanitizers are the oracle (no read out of bounds, no float-to-int
 * conversion of a value out of range, no shift into the sign bit).
 * Input: a selector byte (the type, or ours), then the bytes of the weight
 * blocks and, after them, of the activation row (or floats to quantize). */
#include <string.h>

#include "block-types.h"
#include "fuzz.h"
#include "quant.h"

static const uint32_t k_types[] = {
    AQ_GGML_F16,  AQ_GGML_BF16, AQ_GGML_Q4_0, AQ_GGML_Q4_1, AQ_GGML_Q5_0, AQ_GGML_Q5_1,   AQ_GGML_Q8_0,
    AQ_GGML_Q2_K, AQ_GGML_Q3_K, AQ_GGML_Q4_K, AQ_GGML_Q5_K, AQ_GGML_Q6_K, AQ_GGML_IQ4_NL, AQ_GGML_IQ4_XS,
};
#define N_TYPES (sizeof k_types / sizeof k_types[0])
#define MAX_BLOCKS 8

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    return 0;
}

static volatile float g_sink;

/* Exact-size heap copies, so that ASan sees any read past them. */
static void *copy(const uint8_t *src, size_t n) {
    void *p = malloc(n ? n : 1);
    FUZZ_CHECK(p != NULL);
    if (n) memcpy(p, src, n);
    return p;
}

static void block_type(const aq_block_type *bt, bool quantize_act, const uint8_t *data, size_t size) {
    size_t n_blocks = size / bt->block_bytes, most = bt->block_elems == 1 ? 256 : MAX_BLOCKS;
    if (n_blocks > most) n_blocks = most;
    size_t n = n_blocks * bt->block_elems, w_bytes = n_blocks * bt->block_bytes;
    if (n == 0) return;
    void *w = copy(data, w_bytes);
    float *x = malloc(n * sizeof *x);
    FUZZ_CHECK(x != NULL);
    bt->dequantize(w, n, x);
    size_t act_bytes = aq_act_row_bytes(bt->act_type, n);
    FUZZ_CHECK(act_bytes > 0);
    void *act;
    if (quantize_act || size - w_bytes < act_bytes) {
        /* The activations from what the weights decode to: arbitrary floats, NaN and infinity included. */
        act = malloc(act_bytes);
        FUZZ_CHECK(act != NULL);
        aq_act_quantize_ref(bt->act_type, x, n, act);
    } else {
        act = copy(data + w_bytes, act_bytes);
    }
    g_sink = bt->dot(n, w, act);
    aq_act_dequantize_ref(bt->act_type, act, n, x);
    free(act);
    free(x);
    free(w);
}

/* Our INT8/INT4 activation quantizers on floats as they come, then our INT4 weights. */
static void ours(const uint8_t *data, size_t size, uint8_t sel) {
    size_t k = 32 * (size_t)(1 + (sel & 3)), rows = size / (k * sizeof(float));
    if (rows == 0) return;
    if (rows > 4) rows = 4;
    float *x = copy(data, rows * k * sizeof(float));
    int8_t *q = malloc(rows * k);
    float *scale = malloc(rows * sizeof *scale);
    int32_t *zero = malloc(rows * sizeof *zero);
    FUZZ_CHECK(q && scale && zero);
    struct aq_qd8 a = {.q = q, .scale = scale, .zero = zero};
    int bits = sel & 4 ? 4 : 8;
    FUZZ_CHECK(aq_qd8_quantize_dynamic_ref(x, rows, k, k, bits, &a));
    float s;
    int32_t z;
    memcpy(&s, data, sizeof s);
    memcpy(&z, data + 4, sizeof z);
    (void)aq_qd8_quantize_static_ref(x, rows, k, k, s, z, bits, &a);
    /* INT4 weights from the same bytes: rows x k nibbles, an f16 scale and a zero point per group. */
    size_t group = 32, groups = k / group;
    size_t need = rows * k / 2 + rows * groups * 3;
    if (size >= need) {
        uint8_t *wq = copy(data, rows * k / 2);
        uint16_t *ws = copy(data + rows * k / 2, rows * groups * 2);
        uint8_t *wz = copy(data + rows * k / 2 + rows * groups * 2, rows * groups);
        for (size_t i = 0; i < rows * groups; i++) wz[i] &= 15; /* the loader refuses others */
        struct aq_q4w w = {.n_rows = rows, .k = k, .group = group, .q = wq, .scale = ws, .zero = sel & 8 ? wz : NULL};
        float *out = malloc(rows * k * sizeof *out), *y = malloc(rows * rows * sizeof *y);
        FUZZ_CHECK(out && y);
        aq_q4w_dequantize_ref(&w, out);
        aq_qd8_qc4w_gemm_ref(rows, 0, rows, &a, &w, y, rows);
        aq_f32_qc4w_gemm_ref(rows, 0, rows, x, k, &w, y, rows);
        g_sink = y[0];
        free(out), free(y), free(wq), free(ws), free(wz);
    }
    free(x), free(q), free(scale), free(zero);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    uint8_t sel = data[0];
    if (sel % (N_TYPES + 1) == N_TYPES) {
        ours(data + 1, size - 1, (uint8_t)(sel / (N_TYPES + 1)));
        return 0;
    }
    const aq_block_type *bt = aq_block_type_get(k_types[sel % (N_TYPES + 1)]);
    FUZZ_CHECK(bt != NULL);
    block_type(bt, (sel / (N_TYPES + 1)) & 1, data + 1, size - 1);
    return 0;
}
