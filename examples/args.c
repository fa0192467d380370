/* Checked command-line values for the aq-* tools (args.h). */
#include "args.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

const char *args_value(const char *tool, int argc, char **argv, int *i) {
    if (*i + 1 >= argc) {
        fprintf(stderr, "%s: %s needs a value (--help lists the options)\n", tool, argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

bool args_int(const char *tool, const char *option, const char *value, int64_t min, int64_t max, int32_t *out) {
    char *end;
    errno = 0;
    long long v = strtoll(value, &end, 10);
    if (end == value || *end != '\0' || errno == ERANGE) {
        fprintf(stderr, "%s: %s: '%s' is not an integer\n", tool, option, value);
        return false;
    }
    if (v < min || v > max) {
        fprintf(stderr, "%s: %s: %lld is outside [%lld, %lld]\n", tool, option, v, (long long)min, (long long)max);
        return false;
    }
    *out = (int32_t)v;
    return true;
}

bool args_double(const char *tool, const char *option, const char *value, double min, double max, double *out) {
    char *end;
    double v = strtod(value, &end);
    if (end == value || *end != '\0' || !isfinite(v)) {
        fprintf(stderr, "%s: %s: '%s' is not a number\n", tool, option, value);
        return false;
    }
    if (v < min || v > max) {
        fprintf(stderr, "%s: %s: %g is outside [%g, %g]\n", tool, option, v, min, max);
        return false;
    }
    *out = v;
    return true;
}

bool args_param(const char *tool, const char *option, const char *value, aq_param param, double *out) {
    double min = 0, max = 0;
    aq_param_bounds(param, &min, &max);
    if (!args_double(tool, option, value, min, max, out)) return false;
    if (param != AQ_PARAM_TEMPERATURE && param != AQ_PARAM_TOP_P && *out != floor(*out)) {
        fprintf(stderr, "%s: %s: '%s' is not an integer\n", tool, option, value);
        return false;
    }
    return true;
}

int args_unknown(const char *tool, const char *option) {
    fprintf(stderr, "%s: unknown option '%s' (--help lists the options)\n", tool, option);
    return 2;
}

int args_missing(const char *tool, const char *option) {
    fprintf(stderr, "%s: %s is required (--help lists the options)\n", tool, option);
    return 2;
}
