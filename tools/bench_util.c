/* bench_util.c — see bench_util.h. */
#include "bench_util.h"

#include <stdlib.h>
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
