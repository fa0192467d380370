/* What the fuzz harnesses share. Each harness (fuzz_*.c) defines libFuzzer's
 * two entry points; the same file builds two ways:
 *   - with -Dfuzz=true (clang): linked with -fsanitize=fuzzer, a libFuzzer
 *     binary (aq-fuzz-NAME) that tests/fuzz/campaign.sh runs;
 *   - in every build: linked with replay.c's main(), a test that runs the seed
 *     corpus and every regression input once (meson test fuzz-NAME).
 * A harness calls abort() (FUZZ_CHECK) only on a broken invariant of its
 * own; the library itself must never abort or crash on any input. */
#ifndef AQ_FUZZ_H
#define AQ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A file of the source tree ($AQ_SOURCE_ROOT, else the one the build was
 * configured from), read whole; exits with a message if it cannot be read.
 * For the data a harness loads once at start-up. */
uint8_t *fuzz_read_source(const char *relative, size_t *size);

/* Whether $AQ_FUZZ_VERBOSE is set: harnesses then say what each input did. */
int fuzz_verbose(void);

/* A path for a scratch file of this process ($TMPDIR, else /dev/shm or /tmp). */
void fuzz_temp_path(char *out, size_t cap, const char *name);

#define FUZZ_CHECK(cond)                                                                                               \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #cond);                          \
            abort();                                                                                                   \
        }                                                                                                              \
    } while (0)

#endif
