/* bench_util.h — small pieces shared by the `pixl bench ...` commands. */
#ifndef PIXL_TOOLS_BENCH_UTIL_H
#define PIXL_TOOLS_BENCH_UTIL_H

/* Monotonic wall-clock time in milliseconds. */
double pixl_tool_now_ms(void);

/* "1,0.7,0.3" into out (at most max values, each in [0, 1]; values past max
 * are ignored). Returns the count, or -1 for an entry that is not a number in
 * [0, 1]. */
int pixl_tool_parse_fractions(const char *text, double *out, int max);

#endif
