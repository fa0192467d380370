#include "error.h"

#include <stdarg.h>
#include <stdio.h>

aq_error aq_set_error(char *buf, aq_error err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, AQ_MESSAGE_CAP, fmt, ap);
    va_end(ap);
    return err;
}

void aq_format_message(char *msg, size_t msg_cap, const char *fmt, ...) {
    if (msg == NULL || msg_cap == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, msg_cap, fmt, ap);
    va_end(ap);
}
