/* qd4-pack.c - packs INT4 activations held in int8 into signed nibbles (reference). */
#include "quant.h"

bool aq_qd4_pack_ref(const struct aq_qd8 *in, struct aq_qd4 *out) {
    if (in->k % 2 != 0) {
        return false;
    }
    /* Check everything first so that a failure leaves out untouched. */
    const size_t n_values = in->n_rows * in->k;
    for (size_t i = 0; i < n_values; i++) {
        if (in->q[i] < -8 || in->q[i] > 7) {
            return false;
        }
    }
    out->n_rows = in->n_rows;
    out->k = in->k;
    for (size_t t = 0; t < in->n_rows; t++) {
        out->scale[t] = in->scale[t];
        out->zero[t] = in->zero[t];
    }
    for (size_t i = 0; i < n_values / 2; i++) {
        /* Two's complement nibbles: the low 4 bits of the int8 value. */
        const uint8_t even = (uint8_t) in->q[2 * i] & 0x0F;
        const uint8_t odd = (uint8_t) in->q[2 * i + 1] & 0x0F;
        out->q[i] = (uint8_t) (even | (odd << 4));
    }
    return true;
}
