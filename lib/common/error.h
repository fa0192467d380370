/* Error messages of the handles: every layer writes its reason into the
 * caller's buffer and returns the code, so the message travels up with it. */
#ifndef AQ_ERROR_H
#define AQ_ERROR_H

#include "agilequant.h"

/* Size of every message buffer a handle or a layer fills. */
#define AQ_MESSAGE_CAP 256

/* Formats a message into buf (AQ_MESSAGE_CAP bytes) and returns err. */
aq_error aq_set_error(char *buf, aq_error err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
