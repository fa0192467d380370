#include "dispatch_arch.h"

aq_error aq_kernels_select_arch(const char *override, aq_kernels *k) {
    (void)k;
    return override ? AQ_ERR_UNSUPPORTED : AQ_OK;
}
