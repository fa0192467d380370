/* Repacking of INT4 weights into the tile layout of the GEMM kernel that
 * dispatch chose, once, at load or after quantization. */
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

aq_error aq_model_pack_layer(aq_model *m, int32_t i) {
    aq_error err = AQ_OK;
    aq_matrix *mats[AQ_MATRICES_PER_LAYER];
    aq_layer_matrices(&m->layers[i], mats);
    for (int j = 0; j < AQ_MATRICES_PER_LAYER && err == AQ_OK; j++) err = pack_matrix(m, mats[j]);
    return err;
}

aq_error aq_model_pack_head(aq_model *m) { return pack_matrix(m, &m->output); }

aq_error aq_model_pack(aq_model *m) {
    aq_error err = AQ_OK;
    for (int32_t i = 0; i < m->cfg.n_layers && err == AQ_OK; i++) err = aq_model_pack_layer(m, i);
    return err == AQ_OK ? aq_model_pack_head(m) : err;
}
