#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>

void test_source_path(char *out, size_t cap, const char *relative) {
    const char *root = getenv("AQ_SOURCE_ROOT");
    snprintf(out, cap, "%s/%s", root ? root : ".", relative);
}

char *test_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (size >= 0 && fseek(f, 0, SEEK_SET) == 0) buf = malloc((size_t)size + 1);
    if (buf && fread(buf, 1, (size_t)size, f) != (size_t)size) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (!buf) return NULL;
    buf[size] = '\0';
    *len = (size_t)size;
    return buf;
}

char *test_read_source_file(const char *relative, size_t *len) {
    char path[4096];
    test_source_path(path, sizeof path, relative);
    return test_read_file(path, len);
}
