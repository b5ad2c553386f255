/* zoo_fill.h — deterministic parameter values shared by pixl's model parity
 * tests and scripts/ref/zoo_fill.py, so that reference outputs of large
 * networks can be committed without their weights.
 *
 * For parameter/buffer named `name` with n elements, element i gets
 *   u = mix32(fnv1a32(name) ^ (i * 0x9E3779B1)) / 2^32            in [0, 1)
 * and the value by the name's last component and rank:
 *   running_var                -> 0.5 + u
 *   running_mean               -> 0.2 * (2u - 1)
 *   num_batches_tracked        -> 0 (int64, untouched)
 *   rank 1 ending in "weight"  -> 1 + 0.2 * (2u - 1)   (norm scales, PReLU slopes: see below)
 *   rank 1 other (biases ...)  -> 0.1 * (2u - 1)
 *   rank >= 2 (conv/linear)    -> (2u - 1) * sqrt(3 / fan_in),
 *       fan_in = n / shape[0]  (so the variance is 1/fan_in)
 * PReLU slopes (name ends in "weight" and the module is a PReLU) follow the
 * rank-1 weight rule too. mix32 is the murmur3 finaliser. */
#ifndef PIXL_TESTS_ZOO_FILL_H
#define PIXL_TESTS_ZOO_FILL_H
#include "pixl.h"

/* Fill every float parameter and buffer of P; returns the number filled. */
int pixl_test_zoo_fill(pixl_params *P);
/* The same value as the python reference, for one element (exposed for tests). */
float pixl_test_zoo_value(const char *name, int ndim, const int64_t *shape, int64_t i);

#endif
