/* dispatch.c - chooses the kernels once, at model load: per family, the first entry
 * of its list (lists.c) that the CPU runs (cpu_features.c). The only code that asks
 * about CPU features on the run path; it knows no kernel or ISA by name. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "kernels.h"

/* The entry of a family's list to use: the first with aq_cpu_has(isa) when want is
 * AQ_CPU_FEATURE_COUNT (automatic), else the first for exactly want; the reference
 * (the last entry) when none is. *found is set when a non-reference entry matched. */
static size_t pick(const void *list, size_t count, size_t entry_size, size_t isa_offset, aq_cpu_feature want,
                   bool *found) {
    for (size_t i = 0; i + 1 < count; i++) {
        aq_cpu_feature isa;
        memcpy(&isa, (const char *)list + i * entry_size + isa_offset, sizeof isa);
        if (want == AQ_CPU_FEATURE_COUNT ? aq_cpu_has(isa) : isa == want) {
            *found = true;
            return i;
        }
    }
    return count - 1;
}

/* The families that serve several types: per type (table[type]), the first entry
 * of that type that pick() would take; the type's reference (isa AQ_CPU_NONE,
 * after every other entry of the list) where none is. Sets *isas bit isa for each
 * non-reference entry taken. */
#define PICK_PER_TYPE(list, table, want, found, isas)                                                                  \
    do {                                                                                                               \
        for (size_t i_ = 0; i_ < list##_size; i_++) {                                                                  \
            const uint32_t type_ = list[i_].type;                                                                      \
            const aq_cpu_feature isa_ = list[i_].isa;                                                                  \
            if (type_ >= AQ_BLOCK_TYPE_SLOTS || table[type_]) continue;                                                \
            if (isa_ == AQ_CPU_NONE) {                                                                                 \
                table[type_] = &list[i_];                                                                              \
            } else if ((want) == AQ_CPU_FEATURE_COUNT ? aq_cpu_has(isa_) : isa_ == (want)) {                           \
                table[type_] = &list[i_];                                                                              \
                *(found) = true;                                                                                       \
                *(isas) |= 1u << isa_;                                                                                 \
            }                                                                                                          \
        }                                                                                                              \
    } while (0)

/* "avx2+avxvnni": the features of isas, in the order of aq_cpu_feature; "ref" for none. */
static void isa_names(unsigned isas, char *buf, size_t cap) {
    size_t len = 0;
    buf[0] = '\0';
    for (unsigned f = AQ_CPU_NONE + 1; f < AQ_CPU_FEATURE_COUNT; f++) {
        if (!(isas & (1u << f))) continue;
        const int n = snprintf(buf + len, cap - len, "%s%s", len ? "+" : "", aq_cpu_feature_name((aq_cpu_feature)f));
        if (n < 0 || (size_t)n >= cap - len) break;
        len += (size_t)n;
    }
    if (!len) snprintf(buf, cap, "ref");
}

#define PICK(type, list, want, found) (&list[pick(list, list##_size, sizeof(type), offsetof(type, isa), want, found)])

aq_error aq_kernels_select(const char *override, aq_kernels *k) {
    if (!k) return AQ_ERR_INVALID_ARGUMENT;
    aq_cpu_feature want = AQ_CPU_FEATURE_COUNT; /* automatic */
    if (override && *override) {
        want = aq_cpu_feature_from_name(override);
        if (want == AQ_CPU_FEATURE_COUNT || !aq_cpu_has(want)) return AQ_ERR_UNSUPPORTED;
    }
    bool found = false;
    const aq_qc4w_gemm_kernel *qc4w = PICK(aq_qc4w_gemm_kernel, aq_qd8_qc4w_gemm_list, want, &found);
    const aq_qc4w_gemm_kernel *qc3w = PICK(aq_qc4w_gemm_kernel, aq_qd8_qc3w_gemm_list, want, &found);
    const aq_f32_gemm_kernel *f32 = PICK(aq_f32_gemm_kernel, aq_f32_gemm_list, want, &found);
    const aq_f32_qc4w_gemm_kernel *w4a16 = PICK(aq_f32_qc4w_gemm_kernel, aq_f32_qc4w_gemm_list, want, &found);
    const aq_q4_0_q8_0_dot_kernel *q4_0 = PICK(aq_q4_0_q8_0_dot_kernel, aq_q4_0_q8_0_dot_list, want, &found);
    const aq_q8_0_q8_0_dot_kernel *q8_0 = PICK(aq_q8_0_q8_0_dot_kernel, aq_q8_0_q8_0_dot_list, want, &found);
    const aq_qd8_quantize_kernel *qd8q = PICK(aq_qd8_quantize_kernel, aq_qd8_quantize_list, want, &found);
    const aq_qd8_quantize_grouped_kernel *qd8g =
        PICK(aq_qd8_quantize_grouped_kernel, aq_qd8_quantize_grouped_list, want, &found);
    const aq_qd8_quantize_grouped_kernel *qd8ga =
        PICK(aq_qd8_quantize_grouped_kernel, aq_qd8_quantize_grouped_asym_list, want, &found);
    const aq_f32_attention_kernel *attn = PICK(aq_f32_attention_kernel, aq_f32_attention_list, want, &found);
    aq_kernels chosen;
    memset(&chosen, 0, sizeof chosen);
    unsigned block_isas = 0, act_isas = 0;
    PICK_PER_TYPE(aq_block_gemm_list, chosen.block_gemm, want, &found, &block_isas);
    PICK_PER_TYPE(aq_block_gemm_x8_list, chosen.block_gemm_x8, want, &found, &block_isas);
    PICK_PER_TYPE(aq_act_quantize_list, chosen.act_quantize, want, &found, &act_isas);
    /* A feature no list has a kernel for (e.g. "avx512vnni" on aarch64) is not a choice. */
    if (want != AQ_CPU_FEATURE_COUNT && want != AQ_CPU_NONE && !found) return AQ_ERR_UNSUPPORTED;

    *k = chosen;
    k->qc4w_gemm = *qc4w;
    k->qc3w_gemm = *qc3w;
    k->f32_gemm = f32->fn;
    k->f32_qc4w_gemm = w4a16->fn;
    k->q4_0_q8_0_dot = q4_0->fn;
    k->q8_0_q8_0_dot = q8_0->fn;
    k->qd8_quantize = qd8q->fn;
    k->qd8_quantize_grouped = qd8g->fn;
    k->qd8_quantize_grouped_asym = qd8ga->fn;
    k->attention = attn->fn;
    if (!found) {
        strcpy(k->name, "ref");
    } else {
        /* Feature names have at most 10 characters: at most 55 + 7 * 10 + 2 * 47 in all. */
        char blocks[48], act[48];
        isa_names(block_isas, blocks, sizeof blocks);
        isa_names(act_isas, act, sizeof act);
        snprintf(k->name, sizeof k->name, "qc4w:%s f32:%s w4a16:%s q4_0:%s q8_0:%s blocks:%s actq:%s qc3w:%s attn:%s",
                 aq_cpu_feature_name(qc4w->isa), aq_cpu_feature_name(f32->isa), aq_cpu_feature_name(w4a16->isa),
                 aq_cpu_feature_name(q4_0->isa), aq_cpu_feature_name(q8_0->isa), blocks, act,
                 aq_cpu_feature_name(qc3w->isa), aq_cpu_feature_name(attn->isa));
    }
    return AQ_OK;
}
