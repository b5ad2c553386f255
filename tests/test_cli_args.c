/* test_cli_args.c — the numbers of command-line options are parsed
 * strictly (tools/cli_args.h): the whole value, within the option's range,
 * finite, and sizes such as --input 3x64x64 with nothing after them; a bad
 * one is refused with a message naming the option and the value, and the
 * commands (info, bench, eval, demo, jointup, report, edgebench, pixelpick)
 * stop with their usage status before doing any work. */
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"
#include "cli_args.h"

int cmd_info(int argc, char **argv);      /* tools/cmd_info.c */
int cmd_bench(int argc, char **argv);     /* tools/cmd_bench.c */
int cmd_eval(int argc, char **argv);      /* tools/cmd_train.c */
int cmd_demo(int argc, char **argv);      /* tools/cmd_train.c */
int cmd_jointup(int argc, char **argv);   /* tools/cmd_jointup.c */
int cmd_report(int argc, char **argv);    /* tools/cmd_report.c */
int cmd_edgebench(int argc, char **argv); /* tools/cmd_edgebench.c */
int cmd_pixelpick(int argc, char **argv); /* tools/cmd_pixelpick.c */

/* fn(args...) with stderr and stdout in a file; its text in out (NUL-terminated, truncated) */
static int run_captured(int (*fn)(int, char **), const char *const *args, char *out, size_t cap)
{
    char *argv[32];
    int argc = 0;
    for (; args[argc] && argc < 31; argc++) argv[argc] = (char *)args[argc];
    argv[argc] = NULL;
    char log[1024];
    snprintf(log, sizeof log, "%s/cli_args.log", pixl_test_tmpdir());
    fflush(stderr);
    fflush(stdout);
    int saved_err = dup(2), saved_out = dup(1), fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 2);
    dup2(fd, 1);
    close(fd);
    int rc = fn(argc, argv);
    fflush(stderr);
    fflush(stdout);
    dup2(saved_err, 2);
    dup2(saved_out, 1);
    close(saved_err);
    close(saved_out);
    out[0] = 0;
    FILE *f = fopen(log, "r");
    if (f) {
        size_t n = fread(out, 1, cap - 1, f);
        out[n] = 0;
        fclose(f);
    }
    return rc;
}

/* fn(args...) returns `want` and says every one of the NULL-terminated msgs */
static void refuses(int line, int (*fn)(int, char **), const char *const *args, int want, const char *const *msgs)
{
    char text[8192];
    int rc = run_captured(fn, args, text, sizeof text);
    if (rc != want) pixl_test_fail(__FILE__, line, "%s ... returned %d, expected %d; said: %s", args[0], rc, want, text);
    for (int i = 0; msgs[i]; i++)
        if (!strstr(text, msgs[i])) pixl_test_fail(__FILE__, line, "%s ...: no '%s' in: %s", args[0], msgs[i], text);
}
#define REFUSES(fn, want, args, ...)                                                                    \
    do {                                                                                                \
        const char *const a_[] = {args, NULL};                                                          \
        const char *const m_[] = {__VA_ARGS__, NULL};                                                   \
        refuses(__LINE__, fn, a_, want, m_);                                                            \
    } while (0)
#define ARGS(...) __VA_ARGS__

PIXL_TEST(cli_arg_int_accepts_whole_integers_in_range)
{
    int v = -7;
    CHECK(pixl_arg_int(NULL, "--n", "4", 1, 10, &v) == 0 && v == 4);
    CHECK(pixl_arg_int(NULL, "--n", "+3", 1, 10, &v) == 0 && v == 3);
    CHECK(pixl_arg_int(NULL, "--n", "-5", -10, 10, &v) == 0 && v == -5);
    CHECK(pixl_arg_int(NULL, "--n", "1", 1, 10, &v) == 0 && v == 1);   /* the bounds belong to the range */
    CHECK(pixl_arg_int(NULL, "--n", "10", 1, 10, &v) == 0 && v == 10);
    CHECK(pixl_arg_int(NULL, "--n", "2147483647", 0, LONG_MAX, &v) == 0 && v == INT_MAX);
    CHECK(pixl_arg_int(NULL, "--n", "007", 0, 10, &v) == 0 && v == 7); /* base 10, not octal */
}

PIXL_TEST(cli_arg_int_refuses_the_rest)
{
    const char *bad[] = {"", "abc", "4x", "x4", "1e99", "1.5", " 4", "4 ", "0x10", "--", "99999999999999999999",
                         "-99999999999999999999", "2147483648"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int v = -7;
        CHECK_MSG(pixl_arg_int(NULL, "--n", bad[i], INT_MIN, INT_MAX, &v) == -1 && v == -7, "'%s' accepted as %d",
                  bad[i], v);
    }
    int v = -7;
    CHECK(pixl_arg_int(NULL, "--n", NULL, 0, 10, &v) == -1 && v == -7);
    CHECK(pixl_arg_int(NULL, "--n", "0", 1, 10, &v) == -1 && v == -7);  /* out of range */
    CHECK(pixl_arg_int(NULL, "--n", "11", 1, 10, &v) == -1 && v == -7);
    CHECK(pixl_arg_int(NULL, "--n", "-1", 0, INT_MAX, &v) == -1 && v == -7);
}

PIXL_TEST(cli_arg_u64_takes_seeds)
{
    unsigned long long u = 7;
    CHECK(pixl_arg_u64(NULL, "--seed", "0", &u) == 0 && u == 0);
    CHECK(pixl_arg_u64(NULL, "--seed", "18446744073709551615", &u) == 0 && u == 18446744073709551615ull);
    const char *bad[] = {"", "-1", "+1", " 1", "1x", "18446744073709551616", "abc", NULL};
    for (int i = 0; bad[i]; i++) {
        u = 7;
        CHECK_MSG(pixl_arg_u64(NULL, "--seed", bad[i], &u) == -1 && u == 7, "'%s' accepted as %llu", bad[i], u);
    }
}

PIXL_TEST(cli_arg_dims_takes_sizes_joined_by_x)
{
    int d[3] = {7, 7, 7};
    CHECK(pixl_arg_dims(NULL, "--input", "3x360x480", 3, 1, 65536, d) == 0 && d[0] == 3 && d[1] == 360 &&
          d[2] == 480);
    CHECK(pixl_arg_dims(NULL, "--input", "32x65536", 2, 32, 65536, d) == 0 && d[0] == 32 && d[1] == 65536);
    const char *bad[] = {"",       "3x360",   "3x360x480x1", "3x360x480px", "3x-4x5",       "3x+4x5", " 3x4x5",
                         "3x 4x5", "3xx4x5",  "x3x4",        "3x4x",        "3x0x5",        "3x4x65537",
                         "3x99999999999x5",   "3x4.5x5",     "abc",         NULL};
    for (int i = 0; bad[i]; i++) {
        d[0] = d[1] = d[2] = 7;
        CHECK_MSG(pixl_arg_dims(NULL, "--input", bad[i], 3, 1, 65536, d) == -1 && d[0] == 7 && d[1] == 7 && d[2] == 7,
                  "'%s' accepted as %dx%dx%d", bad[i], d[0], d[1], d[2]);
    }
    CHECK(pixl_arg_dims(NULL, "--input", "16x64", 2, 32, 65536, d) == -1);
}

PIXL_TEST(cli_arg_num_accepts_finite_numbers_in_range)
{
    double d = -7;
    float f = -7;
    CHECK(pixl_arg_num(NULL, "--x", "0.25", 0, 1, &d) == 0 && d == 0.25);
    CHECK(pixl_arg_num(NULL, "--x", "1e-3", 0, 1, &d) == 0 && d == 1e-3);
    CHECK(pixl_arg_num(NULL, "--x", "0", 0, 1, &d) == 0 && d == 0);    /* [lo, hi]: lo belongs */
    CHECK(pixl_arg_num(NULL, "--x", "1", 0, 1, &d) == 0 && d == 1);
    CHECK(pixl_arg_num(NULL, "--x", "-2.5", -HUGE_VAL, HUGE_VAL, &d) == 0 && d == -2.5);
    CHECK(pixl_arg_num_above(NULL, "--x", "1", 0, 1, &d) == 0 && d == 1);
    CHECK(pixl_arg_float_above(NULL, "--x", "0.5", 0, 64, &f) == 0 && f == 0.5f);
    CHECK(pixl_arg_float_above(NULL, "--x", "1e30", 0, HUGE_VAL, &f) == 0 && f == 1e30f);
}

PIXL_TEST(cli_arg_num_refuses_the_rest)
{
    const char *bad[] = {"", "abc", "0.5x", " 0.5", "nan", "NaN", "-nan", "inf", "-inf", "infinity", "1e999", "-1e999",
                         ".", "e5"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        double d = -7;
        CHECK_MSG(pixl_arg_num(NULL, "--x", bad[i], -HUGE_VAL, HUGE_VAL, &d) == -1 && d == -7, "'%s' accepted as %g",
                  bad[i], d);
    }
    double d = -7;
    float f = -7;
    CHECK(pixl_arg_num(NULL, "--x", NULL, 0, 1, &d) == -1 && d == -7);
    CHECK(pixl_arg_num(NULL, "--x", "1.01", 0, 1, &d) == -1 && d == -7);
    CHECK(pixl_arg_num(NULL, "--x", "-0.01", 0, 1, &d) == -1 && d == -7);
    CHECK(pixl_arg_num_above(NULL, "--x", "0", 0, 1, &d) == -1 && d == -7); /* (lo, hi]: lo does not */
    CHECK(pixl_arg_float_above(NULL, "--x", "0", 0, 64, &f) == -1 && f == -7);
    CHECK(pixl_arg_float_above(NULL, "--x", "65", 0, 64, &f) == -1 && f == -7);
    CHECK(pixl_arg_float_above(NULL, "--x", "1e300", 0, HUGE_VAL, &f) == -1 && f == -7); /* not a float */
}

static int arg_int_main(int argc, char **argv)
{
    (void)argc;
    int v;
    return pixl_arg_int(argv[0], argv[1], argv[2], atol(argv[3]), atol(argv[4]), &v) ? 2 : 0;
}

static int arg_num_main(int argc, char **argv)
{
    (void)argc;
    double d;
    return (argv[3][0] == '(' ? pixl_arg_num_above : pixl_arg_num)(argv[0], argv[1], argv[2], 0, strtod(argv[4], NULL), &d)
               ? 2
               : 0;
}

static int quiet_main(int argc, char **argv)
{
    (void)argc;
    int v;
    double d;
    return pixl_arg_int(NULL, argv[1], argv[2], 0, 10, &v) && pixl_arg_num(NULL, argv[1], argv[2], 0, 1, &d) ? 2 : 0;
}

PIXL_TEST(cli_arg_messages_name_the_command_option_range_and_value)
{
    REFUSES(arg_int_main, 2, ARGS("bench gated", "--runs", "abc", "1", "2147483647"),
            "pixl bench gated: --runs takes an integer >= 1, got 'abc'");
    REFUSES(arg_int_main, 2, ARGS("report", "--samples", "4x", "0", "16"),
            "pixl report: --samples takes an integer in [0, 16], got '4x'");
    REFUSES(arg_int_main, 2, ARGS("", "--threads", "0", "1", "4096"), "pixl: --threads takes an integer in [1, 4096], got '0'");
    REFUSES(arg_num_main, 2, ARGS("info", "--width", "nan", "(", "64"), "pixl info: --width takes a number in (0, 64], got 'nan'");
    REFUSES(arg_num_main, 2, ARGS("demo", "--minutes", "inf", "(", "inf"), "pixl demo: --minutes takes a number > 0, got 'inf'");
    REFUSES(arg_num_main, 2, ARGS("x", "--sigma", "2", "[", "1"), "pixl x: --sigma takes a number in [0, 1], got '2'");
    /* and nothing at all with a NULL command */
    char text[256];
    CHECK(run_captured(quiet_main, (const char *const[]){"x", "--n", "abc", NULL}, text, sizeof text) == 2);
    CHECK_MSG(!text[0], "a NULL command printed: %s", text);
}

PIXL_TEST(cli_commands_refuse_bad_numbers)
{
    REFUSES(cmd_info, 2, ARGS("info", "unet", "--width", "nan"), "--width", "'nan'");
    REFUSES(cmd_info, 2, ARGS("info", "unet", "--width", "0"), "--width", "'0'");
    REFUSES(cmd_info, 2, ARGS("info", "unet", "--classes", "11x"), "--classes", "'11x'");
    REFUSES(cmd_info, 2, ARGS("info", "pag_resnet50", "--lambda", "1.5"), "--lambda", "(0, 1]", "'1.5'");
    REFUSES(cmd_info, 2, ARGS("info", "unet", "--output-stride", "-8"), "--output-stride", "'-8'");
    REFUSES(cmd_bench, 2, ARGS("bench", "gated", "--runs", "abc"), "pixl bench gated: --runs", "'abc'");
    REFUSES(cmd_bench, 2, ARGS("bench", "gated", "--sigma", "nan"), "--sigma", "'nan'");
    REFUSES(cmd_bench, 2, ARGS("bench", "ops", "--runs", "0"), "--runs", "'0'");
    REFUSES(cmd_bench, 2, ARGS("bench", "pag", "--width", "-1"), "pixl bench pag: --width", "'-1'");
    REFUSES(cmd_bench, 2, ARGS("bench", "pag-train", "--batch", "0"), "--batch", "'0'");
    REFUSES(cmd_bench, 2, ARGS("bench", "pixelnet", "--classes", "1"), "--classes", "'1'");
    REFUSES(cmd_bench, 2, ARGS("bench", "models", "--profile", "many"), "--profile", "'many'");
    REFUSES(cmd_bench, 2, ARGS("bench", "pac", "--threads", "4x"), "--threads", "'4x'");
    REFUSES(cmd_eval, 2, ARGS("eval", "none.safetensors", "--batch", "0"), "pixl eval: --batch", "'0'");
    REFUSES(cmd_eval, 2, ARGS("eval", "none.safetensors", "--batch", "x"), "pixl eval: --batch", "'x'");
    REFUSES(cmd_eval, 2, ARGS("eval", "none.safetensors", "--limit", "-1"), "--limit", "'-1'");
    REFUSES(cmd_eval, 2, ARGS("eval", "none.safetensors", "--workers", "two"), "--workers", "'two'");
    REFUSES(cmd_demo, 2, ARGS("demo", "--minutes", "abc"), "pixl demo: --minutes", "'abc'");
    REFUSES(cmd_demo, 2, ARGS("demo", "--minutes", "0"), "--minutes", "'0'");
    REFUSES(cmd_jointup, 2, ARGS("jointup", "--factor", "abc"), "pixl jointup: --factor", "'abc'");
    REFUSES(cmd_jointup, 2, ARGS("jointup", "--lr", "nan"), "--lr", "'nan'");
    REFUSES(cmd_jointup, 2, ARGS("jointup", "--iters", "1e3"), "--iters", "'1e3'");
    REFUSES(cmd_jointup, 2, ARGS("jointup", "--seed", "-1"), "pixl jointup: --seed", "'-1'");
    REFUSES(cmd_info, 2, ARGS("info", "unet", "--input", "3x64x64px"), "--input");
    REFUSES(cmd_bench, 2, ARGS("bench", "pixelnet", "--size", "64x64px"), "--size takes HxW");
    REFUSES(cmd_bench, 2, ARGS("bench", "models", "--input", "3x99999999999x64", "--no-torch"), "--input takes CxHxW");
    REFUSES(cmd_bench, 2, ARGS("bench", "train", "--input", "3x-4x64", "--no-torch"), "--input takes CxHxW");
    REFUSES(cmd_bench, 2, ARGS("bench", "pixelnet", "--pixels", "500,abc"), "--pixels", "'abc'");
    REFUSES(cmd_report, 2, ARGS("report", "nowhere", "--samples", "4x"), "pixl report: --samples", "'4x'");
    REFUSES(cmd_edgebench, 2, ARGS("edgebench", "a", "b", "--max-dist", "nan"), "pixl edgebench: --max-dist", "'nan'");
    REFUSES(cmd_edgebench, 2, ARGS("edgebench", "a", "b", "--thresholds", "0"), "--thresholds", "'0'");
    REFUSES(cmd_edgebench, 2, ARGS("edgebench", "a", "b", "--limit", "x"), "--limit", "'x'");
    REFUSES(cmd_pixelpick, 2, ARGS("pixelpick", "none.yaml", "--run", "none", "--top-fraction", "0"),
            "pixl pixelpick: --top-fraction", "(0, 1]", "'0'");
    REFUSES(cmd_pixelpick, 2, ARGS("pixelpick", "none.yaml", "--run", "none", "--per-round", "5x"),
            "pixl pixelpick: --per-round takes an integer in [1, 1048576], got '5x'");
}
