/* One implementation per architecture, chosen by meson: dispatch_x86.c,
 * dispatch_arm.c, or dispatch_none.c for the rest. Internal. */
#ifndef AQ_DISPATCH_ARCH_H
#define AQ_DISPATCH_ARCH_H

#include "kernels.h"

/* k holds the reference kernels on entry. override NULL: replace each family
 * with the best variant the CPU runs (cpuinfo) and name them in k->name.
 * override a variant name: use exactly that variant, or AQ_ERR_UNSUPPORTED if
 * it is unknown or the CPU can't run it. */
aq_error aq_kernels_select_arch(const char *override, aq_kernels *k);

void aq_kernels_set_reference(aq_kernels *k);

#endif
