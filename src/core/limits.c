/* limits.c — pixl's resource limits (docs/reliability.md, "Limits"): each
 * one a default that an environment variable PIXL_MAX_* overrides, read at
 * each check so that a program (or a test) may change it at run time, and
 * the overflow-checked size arithmetic used wherever sizes come from files. */
#include <ctype.h>
#include <errno.h>
#include <math.h>

#include "pixl_impl.h"

/* "123", "4e9", "2^30", with an optional K/M/G/T suffix (powers of 1024) */
static int parse_limit(const char *s, uint64_t *out)
{
    while (isspace((unsigned char)*s)) s++;
    if (!isdigit((unsigned char)*s)) return 0;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s) return 0;
    if (*end == '^') { /* 2^30 */
        char *e2;
        double p = strtod(end + 1, &e2);
        if (e2 == end + 1 || p < 0 || p > 63) return 0;
        v = pow(v, p);
        end = e2;
    }
    static const char units[] = "KMGT";
    const char *u = *end ? strchr(units, toupper((unsigned char)*end)) : NULL;
    if (u) {
        for (const char *q = units; q <= u; q++) v *= 1024;
        end++;
        if (toupper((unsigned char)*end) == 'I') end++; /* KiB, MiB ... */
        if (toupper((unsigned char)*end) == 'B') end++;
    }
    while (isspace((unsigned char)*end)) end++;
    if (*end || !(v >= 1) || v > 1.8e19) return 0;
    *out = v >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)v;
    return 1;
}

int pixl__limit(const char *env, uint64_t dflt, uint64_t *out)
{
    *out = dflt;
    const char *s = getenv(env);
    if (!s || !*s) return PIXL_OK;
    if (!parse_limit(s, out)) {
        *out = dflt;
        return pixl_set_error(PIXL_ERR_ARG, "environment variable %s='%.40s': expected a positive number such as "
                                            "1000000, 4e9, 2^30 or 8G", env, s);
    }
    return PIXL_OK;
}

bool pixl__mul3_overflows(size_t a, size_t b, size_t c, size_t *out)
{
    size_t ab;
    return pixl__mul_overflows(a, b, &ab) || pixl__mul_overflows(ab, c, out);
}

bool pixl__add_overflows(size_t a, size_t b, size_t *out)
{
    if (b > SIZE_MAX - a) return true;
    *out = a + b;
    return false;
}

int pixl__batch_over_limit(int n, int h, int w, char have[32], char cap[32])
{
    uint64_t lim;
    if (pixl__limit(PIXL_MAX_BATCH_BYTES_ENV, PIXL_MAX_BATCH_BYTES_DEFAULT, &lim)) return PIXL_ERR_ARG;
    double bytes = (double)n * 3.0 * h * w * sizeof(float);
    if (bytes <= (double)lim) return 0;
    pixl__fmt_bytes(have, 32, bytes);
    pixl__fmt_bytes(cap, 32, (double)lim);
    return 1;
}

void pixl__fmt_bytes(char *buf, size_t len, double bytes)
{
    static const char *const u[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    int i = 0;
    while (bytes >= 1024 && i < 6) bytes /= 1024, i++;
    if (i == 0) snprintf(buf, len, "%.0f bytes", bytes);
    else snprintf(buf, len, "%.3g %s", bytes, u[i]);
}
