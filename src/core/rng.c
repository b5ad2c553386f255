/* rng.c — counter-based hashing (thread-count independent random streams)
 * and a sequential generator for parameter initialisation. */
#include <math.h>

#include "pixl_impl.h"

static inline uint64_t splitmix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t pixl__hash64(uint64_t key, uint64_t counter) { return splitmix64(splitmix64(key) ^ counter); }

uint64_t pixl__rng_next(uint64_t *s)
{
    *s += 0x9e3779b97f4a7c15ULL;
    uint64_t z = *s;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

double pixl__rng_uniform(uint64_t *s) { return (double)(pixl__rng_next(s) >> 11) * (1.0 / 9007199254740992.0); }

double pixl__rng_normal(uint64_t *s)
{
    double u1 = pixl__rng_uniform(s), u2 = pixl__rng_uniform(s);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

uint64_t pixl__node_rng_key(const pixl_tensor *n)
{
    return pixl__hash64(n->ctx->seed ^ 0x5851f42d4c957f2dULL, ((uint64_t)n->id << 32) ^ n->ctx->step);
}
