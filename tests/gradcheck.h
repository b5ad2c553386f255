/* gradcheck.h — finite-difference gradient checks for any graph.
 *
 * A builder makes the graph from inputs created with gc_input() (differentiable)
 * or pixl_constant() (fixed data such as labels), and parameters in P. The
 * output is reduced through a fixed random projection R: L = sum(out * R).
 * Analytic gradients come from pixl_backward_from(out, R); numeric ones from
 * central differences (L(v+eps) - L(v-eps)) / 2eps on every element of every
 * differentiable input and trainable parameter (or, for large tensors, every
 * border element plus a random sample). Each forward resets the ctx seed, so
 * dropout masks are the same in every evaluation. */
#ifndef PIXL_GRADCHECK_H
#define PIXL_GRADCHECK_H

#include "pixl.h"

typedef pixl_tensor *(*gc_build_fn)(pixl_ctx *ctx, void *ud);

typedef struct gc_opts {
    double eps;       /* 0 -> 1e-2 */
    double rtol;      /* 0 -> 2e-2 */
    double atol;      /* 0 -> 2e-3 */
    long max_elems;   /* per tensor; 0 -> 3000 */
    pixl_mode mode;   /* ctx mode; 0 (EVAL) is promoted to EVAL_GRAD */
} gc_opts;

/* A differentiable input with the given values (copied). */
pixl_tensor *gc_input(pixl_ctx *ctx, const char *name, int ndim, const int64_t *shape, const float *values);

/* Returns 1 when every checked element agrees; reports failures through the
 * test harness (file/line of the caller). */
int gradcheck_at(const char *what, pixl_params *P, gc_build_fn fn, void *ud, const gc_opts *o, const char *file,
                 int line);
#define GRADCHECK(what, P, fn, ud, o) gradcheck_at(what, P, fn, ud, o, __FILE__, __LINE__)

#endif
