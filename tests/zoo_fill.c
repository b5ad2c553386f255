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
    /* the same values as pixl_test_zoo_value, with the per-tensor work
     * (name hash, rule, fan-in) hoisted out of the element loop, in parallel
     * (each element depends only on its index: any thread count) */
    int filled = 0;
    for (int p = 0; p < pixl_params_count(P); p++) {
        if (pixl_params_dtype(P, p) != PIXL_F32) continue;
        const char *name = pixl_params_name(P, p);
        float *d = pixl_params_data(P, p);
        int64_t n = pixl_params_numel(P, p);
        int ndim = pixl_params_ndim(P, p);
        const int64_t *shape = pixl_params_shape(P, p);
        uint32_t h = fnv1a32(name);
        /* value = base + scale * (2u - 1), or 0.5 + u for running_var */
        double base = 0, scale;
        int var = ends_with(name, "running_var");
        if (ends_with(name, "running_mean")) scale = 0.2;
        else if (ndim <= 1) {
            int w = ends_with(name, "weight");
            base = w ? 1 : 0;
            scale = w ? 0.2 : 0.1;
        } else scale = sqrt(3.0 / ((double)n / (double)shape[0]));
#pragma omp parallel for schedule(static) if (n > 65536)
        for (int64_t i = 0; i < n; i++) {
            double u = mix32(h ^ (uint32_t)((uint64_t)i * 0x9E3779B1u)) / 4294967296.0;
            d[i] = var ? (float)(0.5 + u) : (float)(base + scale * (2 * u - 1));
        }
        filled++;
    }
    return filled;
}
