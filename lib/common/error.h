/* Error messages of the handles: every layer writes its reason into the
 * caller's buffer and returns the code, so the message travels up with it. */
#ifndef AQ_ERROR_H
#define AQ_ERROR_H

#include "agilequant.h"

#include <stddef.h>

/* Size of every message buffer a handle or a layer fills. */
#define AQ_MESSAGE_CAP 256

/* Formats a message into buf (AQ_MESSAGE_CAP bytes) and returns err. */
aq_error aq_set_error(char *buf, aq_error err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Formats a message into a caller's buffer of msg_cap bytes; msg may be NULL
 * (or msg_cap 0) where the caller wants no message. */
void aq_format_message(char *msg, size_t msg_cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
