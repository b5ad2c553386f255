/* cli_args.c — see cli_args.h. */
#include "cli_args.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* a value that could be a number at all: not NULL, not empty, no leading blank */
static int plausible(const char *v) { return v && *v && !isspace((unsigned char)*v); }

int pixl_arg_int(const char *cmd, const char *opt, const char *v, long lo, long hi, int *out)
{
    if (hi > INT_MAX) hi = INT_MAX;
    if (lo < INT_MIN) lo = INT_MIN;
    if (plausible(v)) {
        char *end;
        errno = 0;
        long n = strtol(v, &end, 10);
        if (!errno && end != v && !*end && n >= lo && n <= hi) {
            *out = (int)n;
            return 0;
        }
    }
    if (!cmd) return -1;
    const char *sp = *cmd ? " " : "", *got = v ? v : "";
    if (hi == INT_MAX) fprintf(stderr, "pixl%s%s: %s takes an integer >= %ld, got '%s'\n", sp, cmd, opt, lo, got);
    else fprintf(stderr, "pixl%s%s: %s takes an integer in [%ld, %ld], got '%s'\n", sp, cmd, opt, lo, hi, got);
    return -1;
}

int pixl_arg_u64(const char *cmd, const char *opt, const char *v, unsigned long long *out)
{
    if (plausible(v) && *v != '-' && *v != '+') { /* strtoull would wrap "-1" around */
        char *end;
        errno = 0;
        unsigned long long n = strtoull(v, &end, 10);
        if (!errno && end != v && !*end) {
            *out = n;
            return 0;
        }
    }
    if (cmd)
        fprintf(stderr, "pixl%s%s: %s takes an integer in [0, %llu], got '%s'\n", *cmd ? " " : "", cmd, opt, ULLONG_MAX,
                v ? v : "");
    return -1;
}

static int arg_num(const char *cmd, const char *opt, const char *v, double lo, int lo_open, double hi, double *out)
{
    if (plausible(v)) {
        char *end;
        double d = strtod(v, &end);
        if (end != v && !*end && isfinite(d) && (lo_open ? d > lo : d >= lo) && d <= hi) {
            *out = d;
            return 0;
        }
    }
    if (!cmd) return -1;
    const char *sp = *cmd ? " " : "", *got = v ? v : "";
    if (hi >= FLT_MAX) /* unbounded */
        fprintf(stderr, "pixl%s%s: %s takes a number %s %g, got '%s'\n", sp, cmd, opt, lo_open ? ">" : ">=", lo, got);
    else
        fprintf(stderr, "pixl%s%s: %s takes a number in %c%g, %g], got '%s'\n", sp, cmd, opt, lo_open ? '(' : '[', lo,
                hi, got);
    return -1;
}

int pixl_arg_num(const char *cmd, const char *opt, const char *v, double lo, double hi, double *out)
{
    return arg_num(cmd, opt, v, lo, 0, hi, out);
}

int pixl_arg_num_above(const char *cmd, const char *opt, const char *v, double lo, double hi, double *out)
{
    return arg_num(cmd, opt, v, lo, 1, hi, out);
}

int pixl_arg_float_above(const char *cmd, const char *opt, const char *v, double lo, double hi, float *out)
{
    double d;
    if (hi > FLT_MAX) hi = FLT_MAX;
    if (arg_num(cmd, opt, v, lo, 1, hi, &d)) return -1;
    *out = (float)d;
    return 0;
}

int pixl_arg_dims(const char *cmd, const char *opt, const char *v, int n, long lo, long hi, int *out)
{
    int tmp[8];
    int ok = plausible(v) && n >= 1 && n <= 8;
    const char *p = v;
    for (int k = 0; ok && k < n; k++) {
        if (!isdigit((unsigned char)*p)) { /* no sign, no blank: digits only */
            ok = 0;
            break;
        }
        char *end;
        errno = 0;
        long d = strtol(p, &end, 10);
        ok = !errno && d >= lo && d <= hi && d <= INT_MAX && (k + 1 < n ? *end == 'x' : *end == 0);
        if (ok) tmp[k] = (int)d;
        p = end + (k + 1 < n);
    }
    if (ok) {
        for (int k = 0; k < n; k++) out[k] = tmp[k];
        return 0;
    }
    if (cmd) {
        static const char *const form[] = {"N", "HxW", "CxHxW", "NxCxHxW"};
        fprintf(stderr, "pixl%s%s: %s takes %s (%d whole numbers in [%ld, %ld] joined by 'x'), got '%s'\n",
                *cmd ? " " : "", cmd, opt, n >= 1 && n <= 4 ? form[n - 1] : "AxB...", n, lo, hi, v ? v : "");
    }
    return -1;
}
