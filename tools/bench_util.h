/* bench_util.h — small pieces shared by the `pixl bench ...` commands. */
#ifndef PIXL_TOOLS_BENCH_UTIL_H
#define PIXL_TOOLS_BENCH_UTIL_H

#include <stddef.h>

/* Monotonic wall-clock time in milliseconds. */
double pixl_tool_now_ms(void);

/* "1,0.7,0.3" into out (at most max values, each in [0, 1]; values past max
 * are ignored). Returns the count, or -1 for an entry that is not a number in
 * [0, 1]. */
int pixl_tool_parse_fractions(const char *text, double *out, int max);

/* The median of v[0..n-1] (n >= 1), sorting v ascending in place: v[0] is
 * then the fastest run. */
double pixl_tool_median(double *v, int n);

/* A bench model name "arch[:variant][@backbone]" split into its parts, which
 * point into buf (len bytes; variant and backbone NULL when absent). */
void pixl_tool_split_model_name(const char *name, char *buf, size_t len, const char **arch, const char **variant,
                                const char **backbone);

#endif
