/* test.h — pixl's tiny test harness.
 *
 *   PIXL_TEST(conv2d_forward) { CHECK(x == 1); CHECK_NEAR(a, b, 1e-5); }
 *
 * Tests register themselves at load time; `pixl_tests [FILTER]` runs those
 * whose name contains FILTER and ends with the line "N passed, N failed".
 * A test fails when any CHECK fails; the process exits non-zero then. */
#ifndef PIXL_TEST_H
#define PIXL_TEST_H

#include <math.h>
#include <stdio.h>

#include "pixl.h"

typedef void (*pixl_test_fn)(void);
void pixl_test_register(const char *name, const char *file, pixl_test_fn fn);
void pixl_test_fail(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int pixl_test_failed(void); /* has the current test failed so far */
/* Apply n "key=value" overrides to a training config (pixl_config_set),
 * failing the test at the caller's line with the key's error. */
struct pixl_train_config;
void pixl_test_config_set(struct pixl_train_config *cfg, const char *const *kv, int n, const char *file, int line);
#define CHECK_CONFIG_SET(cfg, kv, n) pixl_test_config_set((cfg), (kv), (n), __FILE__, __LINE__)
/* directory for temporary files of the current run (created) */
const char *pixl_test_tmpdir(void);

#define PIXL_TEST(name)                                                                   \
    static void test_##name(void);                                                        \
    __attribute__((constructor)) static void register_##name(void)                        \
    {                                                                                     \
        pixl_test_register(#name, __FILE__, test_##name);                                 \
    }                                                                                     \
    static void test_##name(void)

#define CHECK(cond)                                                                       \
    do {                                                                                  \
        if (!(cond)) pixl_test_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);              \
    } while (0)
#define CHECK_MSG(cond, ...)                                                              \
    do {                                                                                  \
        if (!(cond)) pixl_test_fail(__FILE__, __LINE__, __VA_ARGS__);                     \
    } while (0)
#define CHECK_NEAR(a, b, tol)                                                             \
    do {                                                                                  \
        double a_ = (double)(a), b_ = (double)(b);                                        \
        if (!(fabs(a_ - b_) <= (tol)))                                                    \
            pixl_test_fail(__FILE__, __LINE__, "%s = %.9g, %s = %.9g (tol %g)", #a, a_, #b, b_, (double)(tol)); \
    } while (0)
/* a pixl call that must succeed */
#define CHECK_OK(expr)                                                                    \
    do {                                                                                  \
        int rc_ = (expr);                                                                 \
        if (rc_ != 0) pixl_test_fail(__FILE__, __LINE__, "%s -> %d: %s", #expr, rc_, pixl_last_error()); \
    } while (0)

/* compare arrays: |a-b| <= atol + rtol*|b|; reports the worst element */
int pixl_test_allclose(const char *what, const float *a, const float *b, long n, double rtol, double atol,
                       const char *file, int line);
#define CHECK_ALLCLOSE(what, a, b, n, rtol, atol) pixl_test_allclose(what, a, b, (long)(n), rtol, atol, __FILE__, __LINE__)

/* a builder that must fail: t is NULL, ctx holds an error containing every string of the NULL-terminated
 * needles, and the thread's status is an error; failures reported at the caller's line */
void pixl_test_expect_build_error(const char *what, pixl_tensor *t, pixl_ctx *ctx, const char *const *needles,
                                  const char *file, int line);
#define CHECK_BUILD_ERROR(what, t, ctx, needles) pixl_test_expect_build_error(what, t, ctx, needles, __FILE__, __LINE__)

/* deterministic test data */
void pixl_test_fill_uniform(float *x, long n, float lo, float hi, unsigned long long seed);
/* distinct values spaced apart (for max/relu-like ops: no ties, none near 0) */
void pixl_test_fill_spaced(float *x, long n, unsigned long long seed);

#endif
