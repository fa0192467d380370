/* isoc23.c - the two glibc 2.38 names bochscpu-python 0.4.0's wheel calls, for an
 * older glibc (Debian 12 has 2.36): run.sh preloads it only where the import fails
 * without it. C23's strtoull and sscanf differ from C11's only on "0b" prefixes,
 * which Bochs' parameter parsing does not use. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

unsigned long long __isoc23_strtoull(const char *s, char **end, int base);
int __isoc23_sscanf(const char *s, const char *format, ...);

unsigned long long __isoc23_strtoull(const char *s, char **end, int base) { return strtoull(s, end, base); }

int __isoc23_sscanf(const char *s, const char *format, ...) {
    va_list ap;
    va_start(ap, format);
    const int r = vsscanf(s, format, ap);
    va_end(ap);
    return r;
}
