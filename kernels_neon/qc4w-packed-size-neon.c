/* qc4w-packed-size-neon.c - byte size of the 8-row tile layout (qc4w-pack.h). */
#include "qc4w-gemm-neon.h"
#include "qc4w-pack.h"

size_t aq_qc4w_packed_size_x8__neon(const struct aq_q4w *w) {
    return aq_neon_qc4w_packed_size(w);
}
