/* The model handle's own memory: the buffers a load or a quantization made
 * (converted tensors, quantized weights, packed tiles) live in one list and
 * go with the model. */
#include <stdlib.h>
#include <string.h>

#include "model.h"

void aq_model_clear(aq_model *m) {
    for (size_t i = 0; i < m->n_owned; i++) free(m->owned[i]);
    free(m->owned);
    free(m->layers);
    free(m->rope_inv_freq);
    aq_tokenizer_free(m->tokenizer);
    aq_gguf_close(m->gguf);
    /* the settings and the message outlive a failed load */
    aq_model kept = {.progress = m->progress, .progress_user = m->progress_user};
    memcpy(kept.error, m->error, sizeof kept.error);
    memcpy(kept.kernels_override, m->kernels_override, sizeof kept.kernels_override);
    *m = kept;
}

void *aq_model_own(aq_model *m, void *buf) {
    if (!buf) return NULL;
    void **grown = realloc(m->owned, (m->n_owned + 1) * sizeof *grown);
    if (!grown) {
        free(buf);
        return NULL;
    }
    m->owned = grown;
    m->owned[m->n_owned++] = buf;
    return buf;
}

float *aq_model_own_floats(aq_model *m, const float *src, size_t n) {
    float *dst = aq_model_own(m, malloc(n * sizeof *dst));
    if (dst && src) memcpy(dst, src, n * sizeof *dst);
    return dst;
}
