/* Conversion of stored tensor elements to F32. Internal. */
#ifndef AQ_TENSOR_CONVERT_H
#define AQ_TENSOR_CONVERT_H

#include <stddef.h>
#include <stdint.h>

/* type is AQ_TENSOR_F32 or a type aq_block_type_get knows (count a multiple of
 * its block); data may be unaligned. Any other type gives zeros. */
void aq_tensor_to_f32(uint32_t type, const void *data, size_t count, float *out);

#endif
