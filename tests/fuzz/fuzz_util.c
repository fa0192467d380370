/* Start-up helpers of the fuzz harnesses (fuzz.h). */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"

#ifndef AQ_FUZZ_SOURCE_ROOT
#define AQ_FUZZ_SOURCE_ROOT "."
#endif

uint8_t *fuzz_read_source(const char *relative, size_t *size) {
    const char *root = getenv("AQ_SOURCE_ROOT");
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", root ? root : AQ_FUZZ_SOURCE_ROOT, relative);
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long n = -1;
    if (f && fseek(f, 0, SEEK_END) == 0) n = ftell(f);
    if (n >= 0 && fseek(f, 0, SEEK_SET) == 0) buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    if (f) fclose(f);
    if (!buf) {
        fprintf(stderr, "fuzz: cannot read %s (set AQ_SOURCE_ROOT to the source tree)\n", path);
        exit(2);
    }
    *size = (size_t)n;
    return buf;
}

void fuzz_temp_path(char *out, size_t cap, const char *name) {
    const char *dir = getenv("TMPDIR");
    struct stat st;
    if (!dir || !*dir) dir = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp";
    snprintf(out, cap, "%s/aq-fuzz-%ld-%s", dir, (long)getpid(), name);
}

int fuzz_verbose(void) {
    static int verbose = -1;
    if (verbose < 0) verbose = getenv("AQ_FUZZ_VERBOSE") != NULL;
    return verbose;
}
