/* test_main.c — runs the registered tests. Usage: pixl_tests [FILTER...] */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "test.h"
#include "pixl_train.h"

typedef struct { const char *name, *file; pixl_test_fn fn; } test_entry;
static test_entry g_tests[4096];
static int g_n;
static int g_cur_failed;
static char g_tmp[256];

void pixl_test_register(const char *name, const char *file, pixl_test_fn fn)
{
    if (g_n < (int)(sizeof g_tests / sizeof g_tests[0])) g_tests[g_n++] = (test_entry){name, file, fn};
}

void pixl_test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "    %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    g_cur_failed++;
}

int pixl_test_failed(void) { return g_cur_failed; }

void pixl_test_config_set(pixl_train_config *cfg, const char *const *kv, int n, const char *file, int line)
{
    for (int i = 0; i < n; i++) {
        char key[128];
        const char *eq = strchr(kv[i], '=');
        if (!eq || (size_t)(eq - kv[i]) >= sizeof key) {
            pixl_test_fail(file, line, "'%s' is not key=value", kv[i]);
            continue;
        }
        snprintf(key, sizeof key, "%.*s", (int)(eq - kv[i]), kv[i]);
        if (pixl_config_set(cfg, key, eq + 1)) pixl_test_fail(file, line, "%s: %s", kv[i], pixl_last_error());
    }
}

const char *pixl_test_tmpdir(void)
{
    if (!g_tmp[0]) {
        snprintf(g_tmp, sizeof g_tmp, "/tmp/pixl-test-%d", (int)getpid());
        mkdir(g_tmp, 0700);
    }
    return g_tmp;
}

int pixl_test_allclose(const char *what, const float *a, const float *b, long n, double rtol, double atol,
                       const char *file, int line)
{
    long worst = -1;
    double worst_ratio = 0;
    for (long i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]), lim = atol + rtol * fabs((double)b[i]);
        double r = d / lim;
        if (!(d <= lim) && (worst < 0 || r > worst_ratio || isnan(d))) {
            worst = i;
            worst_ratio = isnan(d) ? INFINITY : r;
        }
    }
    if (worst >= 0) {
        pixl_test_fail(file, line, "%s: element %ld of %ld: got %.9g want %.9g (%.1f%% of tolerance)", what, worst, n,
                       a[worst], b[worst], 100 * worst_ratio);
        return 0;
    }
    return 1;
}

void pixl_test_fill_uniform(float *x, long n, float lo, float hi, unsigned long long seed)
{
    unsigned long long s = seed * 2862933555777941757ULL + 3037000493ULL;
    for (long i = 0; i < n; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        x[i] = lo + (hi - lo) * (float)((s >> 40) / 16777216.0);
    }
}

void pixl_test_expect_build_error(const char *what, pixl_tensor *t, pixl_ctx *ctx, const char *const *needles,
                                  const char *file, int line)
{
    if (t != NULL) pixl_test_fail(file, line, "%s: expected NULL", what);
    const char *e = pixl_ctx_error(ctx);
    if (e == NULL) pixl_test_fail(file, line, "%s: no ctx error", what);
    for (int i = 0; e && needles[i]; i++)
        if (strstr(e, needles[i]) == NULL) pixl_test_fail(file, line, "%s: '%s' not in \"%s\"", what, needles[i], e);
    if (pixl_last_status() == PIXL_OK) pixl_test_fail(file, line, "%s: no status", what);
}

void pixl_test_fill_spaced(float *x, long n, unsigned long long seed)
{
    /* a permutation of k*0.05 + 0.025 - n*0.025 : distinct, >= 0.025 from zero */
    long *perm = malloc(sizeof(long) * (size_t)(n ? n : 1));
    for (long i = 0; i < n; i++) perm[i] = i;
    unsigned long long s = seed + 1;
    for (long i = n - 1; i > 0; i--) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        long j = (long)((s >> 33) % (unsigned long long)(i + 1));
        long t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    double step = 4.0 / (double)(n > 1 ? n : 1);
    if (step > 0.05) step = 0.05;
    for (long i = 0; i < n; i++) x[i] = (float)((perm[i] - n / 2) * step + step / 2);
    free(perm);
}

int main(int argc, char **argv)
{
    int passed = 0, failed = 0;
    struct timespec t0, t1;
    for (int i = 0; i < g_n; i++) {
        int run = argc < 2;
        for (int k = 1; k < argc; k++)
            if (strstr(g_tests[i].name, argv[k])) run = 1;
        if (!run) continue;
        g_cur_failed = 0;
        pixl_clear_error();
        clock_gettime(CLOCK_MONOTONIC, &t0);
        g_tests[i].fn();
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
        if (g_cur_failed) {
            failed++;
            printf("FAIL %-40s %8.1f ms  (%s)\n", g_tests[i].name, ms, g_tests[i].file);
        } else {
            passed++;
            printf("ok   %-40s %8.1f ms\n", g_tests[i].name, ms);
        }
        fflush(stdout);
    }
    if (g_tmp[0]) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf %s", g_tmp);
        if (system(cmd)) { /* best effort */
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
