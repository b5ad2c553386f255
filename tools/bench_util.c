/* bench_util.c — see bench_util.h. */
#include "bench_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double pixl_tool_now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

int pixl_tool_parse_fractions(const char *text, double *out, int max)
{
    const char *s = text;
    char *e;
    int n = 0;
    while (*s && n < max) {
        double v = strtod(s, &e);
        if (e == s || !(v >= 0 && v <= 1)) return -1;
        out[n++] = v;
        s = *e == ',' ? e + 1 : e;
    }
    return n;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double pixl_tool_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

void pixl_tool_split_model_name(const char *name, char *buf, size_t len, const char **arch, const char **variant,
                                const char **backbone)
{
    snprintf(buf, len, "%s", name);
    char *at = strchr(buf, '@'), *colon = strchr(buf, ':');
    *backbone = at ? at + 1 : NULL;
    if (at) *at = 0;
    *variant = colon ? colon + 1 : NULL;
    if (colon) *colon = 0;
    *arch = buf;
}
