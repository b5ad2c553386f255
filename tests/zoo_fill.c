/* zoo_fill.c — see zoo_fill.h. */
#include "zoo_fill.h"

#include <math.h>
#include <string.h>

static uint32_t fnv1a32(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

static uint32_t mix32(uint32_t h)
{
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

static int ends_with(const char *s, const char *t)
{
    size_t a = strlen(s), b = strlen(t);
    return a >= b && !strcmp(s + a - b, t);
}

float pixl_test_zoo_value(const char *name, int ndim, const int64_t *shape, int64_t i)
{
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) n *= shape[d];
    double u = mix32(fnv1a32(name) ^ (uint32_t)((uint64_t)i * 0x9E3779B1u)) / 4294967296.0;
    if (ends_with(name, "running_var")) return (float)(0.5 + u);
    if (ends_with(name, "running_mean")) return (float)(0.2 * (2 * u - 1));
    if (ndim <= 1) return ends_with(name, "weight") ? (float)(1 + 0.2 * (2 * u - 1)) : (float)(0.1 * (2 * u - 1));
    double fan_in = (double)n / (double)shape[0];
    return (float)((2 * u - 1) * sqrt(3.0 / fan_in));
}

int pixl_test_zoo_fill(pixl_params *P)
{
    int filled = 0;
    for (int p = 0; p < pixl_params_count(P); p++) {
        if (pixl_params_dtype(P, p) != PIXL_F32) continue;
        const char *name = pixl_params_name(P, p);
        float *d = pixl_params_data(P, p);
        int64_t n = pixl_params_numel(P, p);
        for (int64_t i = 0; i < n; i++)
            d[i] = pixl_test_zoo_value(name, pixl_params_ndim(P, p), pixl_params_shape(P, p), i);
        filled++;
    }
    return filled;
}
