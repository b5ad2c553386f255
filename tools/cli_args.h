/* cli_args.h — strict parsing of the numbers given to pixl's command-line
 * options. The whole value must be the number: "", "abc", "4x", " 4" and,
 * for an integer, "1e99" or one past LONG_MAX are refused, and so are
 * "nan" and "inf" for a number, where atoi/atof would have read 0, 4 or
 * NaN and gone on.
 *
 *   int runs;
 *   if (pixl_arg_int("bench gated", "--runs", argv[++i], 1, INT_MAX, &runs)) return 2;
 *
 * On a bad value each function prints one line to stderr naming the
 * command, the option, the accepted range and the value,
 *   pixl bench gated: --runs takes an integer >= 1, got 'abc'
 * ("pixl: ..." for cmd ""), and returns -1 with *out untouched; 0 on
 * success. A NULL cmd checks without printing (values that are not
 * command-line options, such as the port of an HTTP Host header). */
#ifndef PIXL_TOOLS_CLI_ARGS_H
#define PIXL_TOOLS_CLI_ARGS_H

/* --threads N and PIXL_NUM_THREADS take 1..PIXL_ARG_MAX_THREADS, the bounds
 * src/core/threads.c reads PIXL_NUM_THREADS with */
#define PIXL_ARG_MAX_THREADS 4096

/* A base-10 integer (strtol: optional sign, digits, nothing after) in
 * [lo, hi], with hi capped at INT_MAX. hi = INT_MAX (or LONG_MAX) prints as
 * "an integer >= lo". */
int pixl_arg_int(const char *cmd, const char *opt, const char *v, long lo, long hi, int *out);

/* A base-10 unsigned 64-bit integer, 0..UINT64_MAX (seeds); no sign. */
int pixl_arg_u64(const char *cmd, const char *opt, const char *v, unsigned long long *out);

/* n sizes joined by 'x' ("3x360x480" for n = 3), each whole digits (no
 * sign, no blank) in [lo, hi] (hi capped at INT_MAX), nothing after: out[0..n-1],
 * or -1 with "pixl CMD: OPT takes CxHxW (3 whole numbers in [lo, hi] joined
 * by 'x'), got 'V'" (out untouched). */
int pixl_arg_dims(const char *cmd, const char *opt, const char *v, int n, long lo, long hi, int *out);

/* A finite number (strtod, nothing after) in [lo, hi]. hi = HUGE_VAL (any
 * hi >= FLT_MAX) prints as "a number >= lo". */
int pixl_arg_num(const char *cmd, const char *opt, const char *v, double lo, double hi, double *out);

/* The same in (lo, hi]: lo itself refused (widths > 0, fractions in (0, 1]). */
int pixl_arg_num_above(const char *cmd, const char *opt, const char *v, double lo, double hi, double *out);

/* pixl_arg_num_above into a float (widths, lambdas, learning rates), with
 * hi capped at FLT_MAX. */
int pixl_arg_float_above(const char *cmd, const char *opt, const char *v, double lo, double hi, float *out);

#endif
