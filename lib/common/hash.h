/* Hash of the tokenizers' string tables. */
#ifndef AQ_HASH_H
#define AQ_HASH_H

#include <stddef.h>
#include <stdint.h>

/* FNV-1a: short pieces of text spread well enough for an open-addressing table. */
static inline uint64_t aq_hash_bytes(const char *text, size_t len) {
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)text[i];
        h *= 1099511628211ull;
    }
    return h;
}

#endif
