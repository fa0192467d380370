/* Repacking of INT4 weights into the tile layout of the GEMM kernel that
 * dispatch chose, once, at load or after quantization; and of llama.cpp's
 * blocks into groups of 8 rows where the chosen kernels have such a layout
 * for the type (kernels_ref/q4_0x8.h). */
#include <stdlib.h>

#include "model.h"

static aq_error pack_matrix(aq_model *m, aq_matrix *w) {
    const aq_qc4w_gemm_kernel *kernel = w->q3w ? &m->kernels.qc3w_gemm : &m->kernels.qc4w_gemm;
    if (w->format != AQ_WEIGHTS_Q4W || !kernel->packed_size) return AQ_OK;
    /* The 3-bit layout has no zero points and 3 bits a code: anything else would be packed wrong. */
    if (w->q3w && !aq_q3w_codes_valid(&w->q4w))
        return aq_set_error(m->error, AQ_ERR_FORMAT, "3-bit weights with a zero point or a code outside 4..11");
    /* Rounded up to whole floats, plus slack for the kernels' vector loads. */
    size_t floats = kernel->packed_size(&w->q4w) / sizeof(float) + 16;
    void *packed = aq_model_own_floats(m, NULL, floats);
    if (!packed) return aq_set_error(m->error, AQ_ERR_OUT_OF_MEMORY, "out of memory while packing weights");
    kernel->pack(&w->q4w, packed);
    w->packed = packed;
    return AQ_OK;
}

/* Rows [0, rows - rows % 8) into a buffer the model owns: as many bytes as the
 * file holds for them (the layouts keep the file's bytes a block), after which
 * the file's pages of the tensor are given back, so the weights are resident once
 * (a forward pass faults back in only the pages of the rows left over). Only
 * blocks in the file mapping: a model loaded from a caller's buffer, or quantized
 * in memory, would hold its weights twice. Only for a SIMD entry: the reference
 * reads the file's layout as well as its own. */
static aq_error pack_blocks_x8(aq_model *m, aq_matrix *w) {
    if (w->format != AQ_WEIGHTS_BLOCKS || w->x8 || w->rows < AQ_X8_ROWS) return AQ_OK;
    const uint32_t type = w->block_type->type;
    const aq_block_gemm_x8_kernel *g = type < AQ_BLOCK_TYPE_SLOTS ? m->kernels.block_gemm_x8[type] : NULL;
    if (!g || g->isa == AQ_CPU_NONE) return AQ_OK;
    const size_t rows = (size_t)w->rows / AQ_X8_ROWS * AQ_X8_ROWS, bytes = rows * w->row_bytes;
    if (!aq_gguf_in_mapping(m->gguf, w->blocks, bytes)) return AQ_OK;
    void *packed = aq_model_own_floats(m, NULL, (bytes + sizeof(float) - 1) / sizeof(float));
    if (!packed) return aq_set_error(m->error, AQ_ERR_OUT_OF_MEMORY, "out of memory while repacking weights");
    g->pack(rows, (size_t)w->cols / w->block_type->block_elems, w->blocks, w->row_bytes, packed);
    w->x8 = packed;
    w->x8_rows = rows;
    aq_gguf_release(m->gguf, w->blocks, bytes);
    return AQ_OK;
}

aq_error aq_model_pack_layer(aq_model *m, int32_t i) {
    aq_error err = AQ_OK;
    aq_matrix *mats[AQ_MATRICES_PER_LAYER];
    aq_layer_matrices(&m->layers[i], mats);
    for (int j = 0; j < AQ_MATRICES_PER_LAYER && err == AQ_OK; j++)
        if ((err = pack_matrix(m, mats[j])) == AQ_OK) err = pack_blocks_x8(m, mats[j]);
    return err;
}

aq_error aq_model_pack_head(aq_model *m) {
    aq_error err = pack_matrix(m, &m->output);
    /* A head tied to the embedding is a copy of its matrix: the embedding's lookups keep reading the file. */
    return err == AQ_OK ? pack_blocks_x8(m, &m->output) : err;
}

aq_error aq_model_pack(aq_model *m) {
    aq_error err = AQ_OK;
    for (int32_t i = 0; i < m->cfg.n_layers && err == AQ_OK; i++) err = aq_model_pack_layer(m, i);
    return err == AQ_OK ? aq_model_pack_head(m) : err;
}
