/* Command-line values for the aq-* tools: each option's value is checked in
 * full (no atoi), and a bad one is reported with the option's name, e.g.
 *   aq-chat: -n: 'abc' is not an integer
 *   aq-chat: -t: 300 is outside [1, 256]
 * The tools then exit with status 2, as they do for a usage error. */
#ifndef AQ_EXAMPLES_ARGS_H
#define AQ_EXAMPLES_ARGS_H

#include <stdbool.h>
#include <stdint.h>

#include "agilequant.h"

/* argv[*i]'s value argv[*i + 1], advancing *i; NULL (and a message) when it is missing. */
const char *args_value(const char *tool, int argc, char **argv, int *i);
/* value as an integer in [min, max]. */
bool args_int(const char *tool, const char *option, const char *value, int64_t min, int64_t max, int32_t *out);
/* value as a finite number in [min, max]. */
bool args_double(const char *tool, const char *option, const char *value, double min, double max, double *out);
/* value as a setting of a context: within aq_param_bounds(param), an integer
 * where the parameter takes only integers. */
bool args_param(const char *tool, const char *option, const char *value, aq_param param, double *out);
/* Reports an option the tool does not know; returns 2, the exit status. */
int args_unknown(const char *tool, const char *option);
/* Reports a required option that is missing; returns 2. */
int args_missing(const char *tool, const char *option);

#endif
