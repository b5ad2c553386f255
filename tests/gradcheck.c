/* gradcheck.c — see gradcheck.h */
#include "gradcheck.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

#define GC_MAX_INPUTS 16
static struct { pixl_tensor *t; float *v; } g_in[GC_MAX_INPUTS];
static int g_nin;

pixl_tensor *gc_input(pixl_ctx *ctx, const char *name, int ndim, const int64_t *shape, const float *values)
{
    pixl_tensor *t = pixl_input_grad(ctx, name, ndim, shape);
    if (!t || g_nin == GC_MAX_INPUTS) return t;
    long n = (long)pixl_tensor_numel(t);
    g_in[g_nin].t = t;
    g_in[g_nin].v = malloc(sizeof(float) * (size_t)n);
    memcpy(g_in[g_nin].v, values, sizeof(float) * (size_t)n);
    g_nin++;
    return t;
}

static double project(pixl_tensor *out, const float *R)
{
    const float *y = pixl_tensor_data(out);
    double s = 0;
    for (int64_t i = 0; i < pixl_tensor_numel(out); i++) s += (double)y[i] * R[i];
    return s;
}

static void pick(long n, int ndim, const int64_t *shape, long max, long *idx, long *m, unsigned long long seed)
{
    if (n <= max) {
        for (long i = 0; i < n; i++) idx[i] = i;
        *m = n;
        return;
    }
    long k = 0;
    long H = ndim >= 2 ? (long)shape[ndim - 2] : 1, W = ndim >= 1 ? (long)shape[ndim - 1] : 1;
    for (long i = 0; i < n && k < max / 2; i++) { /* borders first */
        long w = i % W, h = (i / W) % H;
        if (h == 0 || h == H - 1 || w == 0 || w == W - 1) idx[k++] = i;
    }
    unsigned long long s = seed;
    while (k < max) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        idx[k++] = (long)((s >> 17) % (unsigned long long)n);
    }
    *m = k;
}

typedef struct { pixl_ctx *ctx; pixl_tensor *out; const float *R; } evalctx;

static double eval(evalctx *e)
{
    pixl_ctx_set_seed(e->ctx, 42);
    if (pixl_forward(e->ctx)) return NAN;
    return project(e->out, e->R);
}

static int check_tensor(const char *what, const char *tname, float *v, const float *ana, long n, int ndim,
                        const int64_t *shape, evalctx *e, const gc_opts *o, const char *file, int line)
{
    long *idx = malloc(sizeof(long) * (size_t)(n < o->max_elems ? n : o->max_elems));
    long m;
    pick(n, ndim, shape, o->max_elems, idx, &m, 7);
    int ok = 1;
    long bad = 0;
    for (long k = 0; k < m; k++) {
        long i = idx[k];
        float save = v[i];
        v[i] = (float)(save + o->eps);
        double lp = eval(e);
        v[i] = (float)(save - o->eps);
        double lm = eval(e);
        v[i] = save;
        double num = (lp - lm) / (2 * o->eps), a = ana[i];
        double lim = o->atol + o->rtol * fmax(fabs(num), fabs(a));
        if (!(fabs(num - a) <= lim)) {
            if (bad < 3)
                pixl_test_fail(file, line, "gradcheck %s: d/d%s[%ld] analytic %.7g numeric %.7g", what, tname, i, a,
                               num);
            bad++;
            ok = 0;
        }
    }
    if (bad > 3) pixl_test_fail(file, line, "gradcheck %s: %ld of %ld elements of %s disagree", what, bad, m, tname);
    free(idx);
    eval(e);
    return ok;
}

int gradcheck_at(const char *what, pixl_params *P, gc_build_fn fn, void *ud, const gc_opts *oin, const char *file,
                 int line)
{
    gc_opts o = oin ? *oin : (gc_opts){0};
    if (o.eps == 0) o.eps = 1e-2;
    if (o.rtol == 0) o.rtol = 2e-2;
    if (o.atol == 0) o.atol = 2e-3;
    if (o.max_elems == 0) o.max_elems = 3000;
    if (o.mode == PIXL_MODE_EVAL) o.mode = PIXL_MODE_EVAL_GRAD;
    /* inputs a builder registered outside a check (e.g. a warm-up forward) */
    for (int i = 0; i < g_nin; i++) free(g_in[i].v);
    g_nin = 0;
    pixl_ctx *ctx = pixl_ctx_new(P, o.mode);
    pixl_tensor *out = fn(ctx, ud);
    int ok = 1;
    if (!out || pixl_ctx_plan(ctx)) {
        pixl_test_fail(file, line, "gradcheck %s: building failed: %s", what,
                       pixl_ctx_error(ctx) ? pixl_ctx_error(ctx) : pixl_last_error());
        ok = 0;
        goto done;
    }
    for (int i = 0; i < g_nin; i++)
        memcpy(pixl_tensor_data(g_in[i].t), g_in[i].v, sizeof(float) * (size_t)pixl_tensor_numel(g_in[i].t));
    long no = (long)pixl_tensor_numel(out);
    float *R = malloc(sizeof(float) * (size_t)no);
    pixl_test_fill_uniform(R, no, -1, 1, 99);
    evalctx e = {ctx, out, R};
    if (isnan(eval(&e))) {
        pixl_test_fail(file, line, "gradcheck %s: forward failed: %s", what, pixl_last_error());
        ok = 0;
        free(R);
        goto done;
    }
    if (P) pixl_params_zero_grad(P);
    if (pixl_backward_from(ctx, out, R)) {
        pixl_test_fail(file, line, "gradcheck %s: backward failed: %s", what, pixl_last_error());
        ok = 0;
        free(R);
        goto done;
    }
    for (int i = 0; i < g_nin; i++) {
        pixl_tensor *t = g_in[i].t;
        long n = (long)pixl_tensor_numel(t);
        float *ana = malloc(sizeof(float) * (size_t)n);
        memcpy(ana, pixl_tensor_grad(t), sizeof(float) * (size_t)n);
        ok &= check_tensor(what, pixl_tensor_name(t), pixl_tensor_data(t), ana, n, pixl_tensor_ndim(t),
                           pixl_tensor_shape(t), &e, &o, file, line);
        free(ana);
    }
    for (int i = 0; P && i < pixl_params_count(P); i++) {
        if (pixl_params_kind(P, i) != PIXL_PARAM || pixl_params_frozen(P, i)) continue;
        long n = (long)pixl_params_numel(P, i);
        float *ana = malloc(sizeof(float) * (size_t)n);
        memcpy(ana, pixl_params_grad(P, i), sizeof(float) * (size_t)n);
        ok &= check_tensor(what, pixl_params_name(P, i), pixl_params_data(P, i), ana, n, pixl_params_ndim(P, i),
                           pixl_params_shape(P, i), &e, &o, file, line);
        free(ana);
    }
    free(R);
done:
    for (int i = 0; i < g_nin; i++) free(g_in[i].v);
    g_nin = 0;
    pixl_ctx_free(ctx);
    return ok;
}
