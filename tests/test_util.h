/* What every test shares: files of the source tree and seeded random data. */
#ifndef AQ_TEST_UTIL_H
#define AQ_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "prng.h"

/* $AQ_SOURCE_ROOT/relative (tests/meson.build sets the variable; "." if unset). */
void test_source_path(char *out, size_t cap, const char *relative);

/* The whole file, NUL-terminated (so text can be used as a string), or NULL
 * if it cannot be read; *len gets its size. The caller frees it. */
char *test_read_file(const char *path, size_t *len);

/* test_read_file of a file of the source tree. */
char *test_read_source_file(const char *relative, size_t *len);

#endif
