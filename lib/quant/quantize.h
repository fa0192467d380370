/* aq_quantize's work: a loaded full-precision model to a quantized one, in
 * memory. Internal. */
#ifndef AQ_QUANTIZE_H
#define AQ_QUANTIZE_H

#include <stddef.h>

#include "model.h"

/* Quantizes model by the scheme name (docs/FORMAT.md), calibrating on text
 * when the scheme needs it; on failure model->error says why. */
aq_error aq_quantize_model(aq_model *model, const char *scheme, const char *text, size_t len);

#endif
