/* test_gated_conv_train.c — pixl_gated_conv3x3_train (PAG's gated 3x3 conv
 * in training, computed at the active pixels only): forward, running
 * statistics and every gradient against a host reference in double that
 * takes BN's statistics over the active pixels (all-on, all-off,
 * checkerboard, random, single-pixel and mixed masks; dilations; both gate
 * rules); the all-on case against the dense graph of existing ops
 * (conv2d + batch_norm2d + relu + mask_gating), where the two computations
 * are the same; the same bits on 1 and 2 threads (tasks of several blocks
 * of pixels and channels); finite differences; and errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gradcheck.h"
#include "pixl_impl.h" /* pixl__gated_conv_train_force */
#include "test.h"

enum { M_ON, M_OFF, M_CHECKER, M_RAND30, M_RAND70, M_PIXEL, M_MIXED };

typedef struct tcase {
    int N, C, H, W, dil, mask, rule;
    int py, px; /* M_PIXEL */
} tcase;

static float mask_at(const tcase *t, int n, int y, int x, unsigned *rng)
{
    int kind = t->mask;
    if (kind == M_MIXED) kind = n % 3 == 0 ? M_OFF : n % 3 == 1 ? M_RAND30 : M_ON;
    *rng = *rng * 1103515245u + 12345u;
    float u = (float)((*rng >> 8) & 0xffff) / 65536.0f;
    switch (kind) {
    case M_ON: return 1;
    case M_OFF: return 0;
    case M_CHECKER: return (float)((y + x + n) % 2);
    case M_RAND30: return u < 0.3f;
    case M_RAND70: return u < 0.7f;
    case M_PIXEL: return y == t->py && x == t->px;
    }
    return 0;
}

/* the data of a case: inputs, upstream gradient, and results */
typedef struct tdata {
    long nx, ng, nw, L;
    float *h1, *g, *w, *bw, *bb, *rm, *rv, *dz;
    /* results */
    float *z, *dh1, *dg, *dw, *dbw, *dbb, *rm_after, *rv_after;
} tdata;

static float *fa(long n) { return calloc((size_t)n, sizeof(float)); }

static void data_new(const tcase *t, tdata *d, unsigned long long seed)
{
    d->L = (long)t->H * t->W;
    d->nx = (long)t->N * t->C * d->L;
    d->ng = (long)t->N * 2 * d->L;
    d->nw = (long)t->C * t->C * 9;
    d->h1 = fa(d->nx), d->g = fa(d->ng), d->w = fa(d->nw), d->bw = fa(t->C), d->bb = fa(t->C), d->rm = fa(t->C),
    d->rv = fa(t->C), d->dz = fa(d->nx);
    pixl_test_fill_uniform(d->h1, d->nx, -1, 1, seed);
    pixl_test_fill_uniform(d->w, d->nw, -0.3f, 0.3f, seed + 1);
    pixl_test_fill_uniform(d->bw, t->C, 0.6f, 1.4f, seed + 2);
    pixl_test_fill_uniform(d->bb, t->C, -0.3f, 0.3f, seed + 3);
    pixl_test_fill_uniform(d->rm, t->C, -0.3f, 0.3f, seed + 4);
    pixl_test_fill_uniform(d->rv, t->C, 0.5f, 1.5f, seed + 5);
    pixl_test_fill_uniform(d->dz, d->nx, -1, 1, seed + 6);
    unsigned rng = 7u + (unsigned)t->mask * 31u + (unsigned)seed;
    for (int n = 0; n < t->N; n++)
        for (int y = 0; y < t->H; y++)
            for (int x = 0; x < t->W; x++) {
                float m = mask_at(t, n, y, x, &rng);
                d->g[(long)n * 2 * d->L + d->L + y * t->W + x] = m;
                d->g[(long)n * 2 * d->L + y * t->W + x] = 1 - m;
            }
}

/* result buffers in r for the sizes of d */
static void results_new(const tcase *t, const tdata *d, tdata *r)
{
    r->z = fa(d->nx), r->dh1 = fa(d->nx), r->dg = fa(d->ng), r->dw = fa(d->nw), r->dbw = fa(t->C),
    r->dbb = fa(t->C), r->rm_after = fa(t->C), r->rv_after = fa(t->C);
}

static void results_free(tdata *d)
{
    float *p[] = {d->z, d->dh1, d->dg, d->dw, d->dbw, d->dbb, d->rm_after, d->rv_after};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) free(p[i]);
}

static void data_free(tdata *d)
{
    float *p[] = {d->h1, d->g, d->w, d->bw, d->bb, d->rm, d->rv, d->dz};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) free(p[i]);
}

/* the host reference, in double: BN statistics over the active pixels */
static void reference(const tcase *t, const tdata *d, tdata *r)
{
    const int N = t->N, C = t->C, H = t->H, W = t->W, dil = t->dil;
    const long L = d->L;
    results_new(t, d, r);
    long P = 0;
    int *pn = malloc(sizeof(int) * (size_t)N * L), *pi = malloc(sizeof(int) * (size_t)N * L);
    for (int n = 0; n < N; n++)
        for (long i = 0; i < L; i++)
            if (d->g[(long)n * 2 * L + L + i] == 1) pn[P] = n, pi[P] = (int)i, P++;
    double *y = calloc((size_t)(C * P + 1), sizeof(double)), *dy = calloc((size_t)(C * P + 1), sizeof(double));
#define H1(n, c, yy, xx) d->h1[(((long)(n) * C + (c)) * H + (yy)) * W + (xx)]
    for (long j = 0; j < P; j++)
        for (int c = 0; c < C; c++) {
            double s = 0;
            for (int ci = 0; ci < C; ci++)
                for (int kh = 0; kh < 3; kh++)
                    for (int kw = 0; kw < 3; kw++) {
                        int yy = pi[j] / W + (kh - 1) * dil, xx = pi[j] % W + (kw - 1) * dil;
                        if (yy < 0 || yy >= H || xx < 0 || xx >= W) continue;
                        s += (double)d->w[((c * C + ci) * 3 + kh) * 3 + kw] * H1(pn[j], ci, yy, xx);
                    }
            y[c * P + j] = s;
        }
    memcpy(r->z, d->h1, sizeof(float) * (size_t)d->nx);
    memcpy(r->rm_after, d->rm, sizeof(float) * (size_t)C);
    memcpy(r->rv_after, d->rv, sizeof(float) * (size_t)C);
    for (long i = 0; i < d->nx; i++) { /* dz at the inactive pixels */
        long n = i / (C * L), q = i % L;
        if (d->g[n * 2 * L + L + q] == 0) r->dh1[i] = d->dz[i];
    }
    double *h2 = calloc((size_t)(C * P + 1), sizeof(double));
    for (int c = 0; P > 0 && c < C; c++) {
        double m = 0, v = 0;
        for (long j = 0; j < P; j++) m += y[c * P + j];
        m /= (double)P;
        for (long j = 0; j < P; j++) v += (y[c * P + j] - m) * (y[c * P + j] - m);
        v /= (double)P;
        const double rs = 1 / sqrt(v + 1e-5);
        r->rm_after[c] = (float)(0.9 * d->rm[c] + 0.1 * m);
        r->rv_after[c] = (float)(0.9 * d->rv[c] + 0.1 * (P > 1 ? v * P / (P - 1) : v));
        double sdy = 0, sdyx = 0;
        for (long j = 0; j < P; j++) {
            const double xh = (y[c * P + j] - m) * rs, o = xh * d->bw[c] + d->bb[c];
            const long zi = ((long)pn[j] * C + c) * L + pi[j];
            h2[c * P + j] = o > 0 ? o : 0;
            r->z[zi] = (float)h2[c * P + j];
            const double g = o > 0 ? d->dz[zi] : 0;
            dy[c * P + j] = g;
            sdy += g;
            sdyx += g * xh;
        }
        r->dbw[c] = (float)sdyx;
        r->dbb[c] = (float)sdy;
        for (long j = 0; j < P; j++) {
            const double xh = (y[c * P + j] - m) * rs;
            dy[c * P + j] = d->bw[c] * rs * (dy[c * P + j] - sdy / P - xh * sdyx / P);
        }
    }
    /* the conv's gradients */
    double *dw = calloc((size_t)d->nw, sizeof(double)), *dh = calloc((size_t)d->nx, sizeof(double));
    for (long j = 0; j < P; j++)
        for (int c = 0; c < C; c++)
            for (int ci = 0; ci < C; ci++)
                for (int kh = 0; kh < 3; kh++)
                    for (int kw = 0; kw < 3; kw++) {
                        int yy = pi[j] / W + (kh - 1) * dil, xx = pi[j] % W + (kw - 1) * dil;
                        if (yy < 0 || yy >= H || xx < 0 || xx >= W) continue;
                        const long wi = ((c * C + ci) * 3 + kh) * 3 + kw;
                        dw[wi] += dy[c * P + j] * H1(pn[j], ci, yy, xx);
                        dh[(((long)pn[j] * C + ci) * H + yy) * W + xx] += d->w[wi] * dy[c * P + j];
                    }
#undef H1
    for (long i = 0; i < d->nw; i++) r->dw[i] = (float)dw[i];
    for (long i = 0; i < d->nx; i++) r->dh1[i] = (float)(r->dh1[i] + dh[i]);
    /* the gate: h2 at the active pixels, h1 (the approximation) at the others */
    const double sc = t->rule == PIXL_GATE_GRAD_CHANNEL_MEAN ? 1.0 / C : 1.0;
    for (int n = 0; n < N; n++)
        for (long q = 0; q < L; q++) {
            double s0 = 0, s1 = 0;
            for (int c = 0; c < C; c++) {
                const long i = ((long)n * C + c) * L + q;
                s0 += (double)d->h1[i] * d->dz[i];
                s1 += (double)r->z[i] * d->dz[i];
            }
            r->dg[(long)n * 2 * L + q] = (float)(s0 * sc);
            r->dg[(long)n * 2 * L + L + q] = (float)(s1 * sc);
        }
    free(pn), free(pi), free(y), free(dy), free(h2), free(dw), free(dh);
}

/* pixl_gated_conv3x3_train (dense = 0) or the dense graph of existing ops
 * (dense = 1: conv2d + batch_norm2d + relu + mask_gating), forward and
 * backward on `threads` threads; 0 on failure (reported) */
static int run(const tcase *t, const tdata *d, tdata *r, int dense, int threads)
{
    int saved = pixl_num_threads();
    pixl_set_num_threads(threads);
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_TRAIN);
    int64_t xs[4] = {t->N, t->C, t->H, t->W}, gs[4] = {t->N, 2, t->H, t->W}, ws[4] = {t->C, t->C, 3, 3},
            vs[1] = {t->C};
    pixl_tensor *h1 = pixl_input_grad(ctx, "h1", 4, xs), *g = pixl_input_grad(ctx, "gate", 4, gs),
                *w = pixl_input_grad(ctx, "w", 4, ws), *bw = pixl_input_grad(ctx, "bn_weight", 1, vs),
                *bb = pixl_input_grad(ctx, "bn_bias", 1, vs), *rm = pixl_input(ctx, "rm", PIXL_F32, 1, vs),
                *rv = pixl_input(ctx, "rv", PIXL_F32, 1, vs);
    const pixl_bn_opts bo = {1e-5f, 0.1f};
    pixl_tensor *z;
    if (dense) {
        pixl_tensor *y =
            pixl_conv2d(ctx, h1, w, NULL, &(pixl_conv2d_opts){.padding = {t->dil, t->dil}, .dilation = {t->dil, t->dil}});
        z = pixl_mask_gating(ctx, g, h1, pixl_relu(ctx, pixl_batch_norm2d(ctx, y, bw, bb, rm, rv, NULL, &bo)),
                             (pixl_gate_grad_rule)t->rule);
    } else {
        z = pixl_gated_conv3x3_train(ctx, h1, g, w, bw, bb, rm, rv, &bo, t->dil, (pixl_gate_grad_rule)t->rule);
    }
    int ok = 0;
    if (z && pixl_ctx_plan(ctx) == PIXL_OK) {
        memcpy(pixl_tensor_data(h1), d->h1, sizeof(float) * (size_t)d->nx);
        memcpy(pixl_tensor_data(g), d->g, sizeof(float) * (size_t)d->ng);
        memcpy(pixl_tensor_data(w), d->w, sizeof(float) * (size_t)d->nw);
        memcpy(pixl_tensor_data(bw), d->bw, sizeof(float) * (size_t)t->C);
        memcpy(pixl_tensor_data(bb), d->bb, sizeof(float) * (size_t)t->C);
        memcpy(pixl_tensor_data(rm), d->rm, sizeof(float) * (size_t)t->C);
        memcpy(pixl_tensor_data(rv), d->rv, sizeof(float) * (size_t)t->C);
        if (pixl_forward(ctx) == PIXL_OK && pixl_backward_from(ctx, z, d->dz) == PIXL_OK) {
            results_new(t, d, r);
            memcpy(r->z, pixl_tensor_data(z), sizeof(float) * (size_t)d->nx);
            memcpy(r->dh1, pixl_tensor_grad(h1), sizeof(float) * (size_t)d->nx);
            memcpy(r->dg, pixl_tensor_grad(g), sizeof(float) * (size_t)d->ng);
            memcpy(r->dw, pixl_tensor_grad(w), sizeof(float) * (size_t)d->nw);
            memcpy(r->dbw, pixl_tensor_grad(bw), sizeof(float) * (size_t)t->C);
            memcpy(r->dbb, pixl_tensor_grad(bb), sizeof(float) * (size_t)t->C);
            memcpy(r->rm_after, pixl_tensor_data(rm), sizeof(float) * (size_t)t->C);
            memcpy(r->rv_after, pixl_tensor_data(rv), sizeof(float) * (size_t)t->C);
            ok = 1;
        }
    }
    CHECK_MSG(ok, "gated_conv3x3_train (dense %d): %s", dense,
              pixl_ctx_error(ctx) ? pixl_ctx_error(ctx) : pixl_last_error());
    pixl_ctx_free(ctx);
    pixl_set_num_threads(saved);
    return ok;
}

static double absmax(const float *a, long n)
{
    double m = 0;
    for (long i = 0; i < n; i++) m = fmax(m, fabs(a[i]));
    return m;
}

/* a against b: relative 1e-5 of each element, and 1e-5 of the tensor's scale for elements near 0 */
static void compare(const char *what, const tcase *t, const tdata *d, const tdata *a, const tdata *b)
{
    struct { const char *nm; const float *x, *y; long n; } f[] = {
        {"z", a->z, b->z, d->nx},           {"dh1", a->dh1, b->dh1, d->nx},
        {"dgate", a->dg, b->dg, d->ng},     {"dw", a->dw, b->dw, d->nw},
        {"dbn_weight", a->dbw, b->dbw, t->C}, {"dbn_bias", a->dbb, b->dbb, t->C},
        {"running_mean", a->rm_after, b->rm_after, t->C}, {"running_var", a->rv_after, b->rv_after, t->C}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        char w[200];
        snprintf(w, sizeof w, "%s N%d C%d %dx%d dil %d mask %d rule %d: %s", what, t->N, t->C, t->H, t->W, t->dil,
                 t->mask, t->rule, f[i].nm);
        double s = absmax(f[i].y, f[i].n);
        CHECK_ALLCLOSE(w, f[i].x, f[i].y, f[i].n, 1e-5, 1e-5 * (s > 1 ? s : 1));
    }
}

static int same_bits(const tdata *d, const tcase *t, const tdata *a, const tdata *b)
{
    return !memcmp(a->z, b->z, sizeof(float) * (size_t)d->nx) && !memcmp(a->dh1, b->dh1, sizeof(float) * (size_t)d->nx) &&
           !memcmp(a->dg, b->dg, sizeof(float) * (size_t)d->ng) && !memcmp(a->dw, b->dw, sizeof(float) * (size_t)d->nw) &&
           !memcmp(a->dbw, b->dbw, sizeof(float) * (size_t)t->C) && !memcmp(a->dbb, b->dbb, sizeof(float) * (size_t)t->C) &&
           !memcmp(a->rm_after, b->rm_after, sizeof(float) * (size_t)t->C) &&
           !memcmp(a->rv_after, b->rv_after, sizeof(float) * (size_t)t->C);
}

/* against the reference on 1 and 2 threads (the same bits), and for an
 * all-on mask against the dense graph of existing ops; on both paths of the
 * op (the dense conv kernels, the gathered columns) */
static void run_case_path(const tcase *t, unsigned long long seed);
static void run_case(const tcase *t, unsigned long long seed)
{
    for (int path = -1; path <= 1; path += 2) {
        pixl__gated_conv_train_force(path);
        run_case_path(t, seed);
    }
    pixl__gated_conv_train_force(0);
}

static void run_case_path(const tcase *t, unsigned long long seed)
{
    tdata d = {0}, ref = {0}, a = {0}, b = {0}, dn = {0};
    data_new(t, &d, seed);
    reference(t, &d, &ref);
    if (run(t, &d, &a, 0, 1) && run(t, &d, &b, 0, 2)) {
        compare("train op vs reference", t, &d, &a, &ref);
        CHECK_MSG(same_bits(&d, t, &a, &b), "N%d C%d %dx%d dil %d mask %d: 1 and 2 threads differ", t->N, t->C, t->H,
                  t->W, t->dil, t->mask);
        /* inactive pixels pass h1 through exactly */
        long bad = 0;
        for (long i = 0; i < d.nx; i++) {
            long n = i / (t->C * d.L), q = i % d.L;
            if (d.g[n * 2 * d.L + d.L + q] == 0 && a.z[i] != d.h1[i]) bad++;
            if (!isfinite(a.z[i]) || !isfinite(a.dh1[i])) bad++;
        }
        CHECK_MSG(bad == 0, "mask %d: %ld inactive outputs differ from h1 or are not finite", t->mask, bad);
    }
    if (t->mask == M_ON && run(t, &d, &dn, 1, 1)) compare("train op vs dense ops", t, &d, &a, &dn);
    results_free(&ref), results_free(&a), results_free(&b), results_free(&dn);
    data_free(&d);
}

PIXL_TEST(gated_conv_train_masks)
{
    const int kinds[] = {M_ON, M_OFF, M_CHECKER, M_RAND30, M_RAND70, M_MIXED};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
        for (int rule = 0; rule < 2; rule++) {
            run_case(&(tcase){.N = 2, .C = 5, .H = 7, .W = 9, .dil = 1, .mask = kinds[k], .rule = rule}, 100 + k);
            run_case(&(tcase){.N = 3, .C = 4, .H = 9, .W = 6, .dil = 2, .mask = kinds[k], .rule = rule}, 200 + k);
        }
    /* large enough for the parallel paths */
    run_case(&(tcase){.N = 2, .C = 16, .H = 20, .W = 24, .dil = 1, .mask = M_RAND70, .rule = 0}, 301);
    run_case(&(tcase){.N = 2, .C = 24, .H = 17, .W = 22, .dil = 2, .mask = M_RAND30, .rule = 1}, 302);
    run_case(&(tcase){.N = 1, .C = 16, .H = 20, .W = 24, .dil = 1, .mask = M_ON, .rule = 0}, 303);
    /* several blocks of pixels in the backward, an odd channel count (a last task of one channel) */
    run_case(&(tcase){.N = 2, .C = 7, .H = 48, .W = 50, .dil = 1, .mask = M_RAND70, .rule = 0}, 304);
}

PIXL_TEST(gated_conv_train_single_pixel)
{
    /* P = 1: zero batch variance, BN output = beta; corners and a dilation past the map */
    const int at[][2] = {{0, 0}, {4, 7}, {2, 3}};
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++)
        for (int dil = 1; dil <= 9; dil += 8)
            run_case(&(tcase){.N = 1, .C = 3, .H = 5, .W = 8, .dil = dil, .mask = M_PIXEL, .py = at[i][0],
                              .px = at[i][1]},
                     400 + i);
}

PIXL_TEST(gated_conv_train_all_off)
{
    /* no active pixel: z = h1 bit for bit, running statistics untouched, no parameter gradient, no NaN */
    tcase t = {.N = 2, .C = 6, .H = 5, .W = 7, .dil = 1, .mask = M_OFF};
    tdata d = {0}, a = {0};
    data_new(&t, &d, 500);
    if (run(&t, &d, &a, 0, 2)) {
        CHECK(!memcmp(a.z, d.h1, sizeof(float) * (size_t)d.nx));
        CHECK(!memcmp(a.dh1, d.dz, sizeof(float) * (size_t)d.nx));
        CHECK(!memcmp(a.rm_after, d.rm, sizeof(float) * 6) && !memcmp(a.rv_after, d.rv, sizeof(float) * 6));
        for (long i = 0; i < d.nw; i++) CHECK(a.dw[i] == 0);
        for (int c = 0; c < 6; c++) CHECK(a.dbw[c] == 0 && a.dbb[c] == 0);
        for (long i = 0; i < d.ng; i++) CHECK(isfinite(a.dg[i]));
        for (long q = 0; q < d.L; q++) CHECK(a.dg[q] == a.dg[d.L + q]); /* h2 taken as h1 */
    }
    results_free(&a);
    data_free(&d);
}

/* finite differences of h1, w, bn weight and bias (gate and running statistics fixed) */
typedef struct { tcase t; tdata d; } gc_case;

static pixl_tensor *build_gct(pixl_ctx *ctx, void *ud)
{
    gc_case *c = ud;
    const tcase *t = &c->t;
    int64_t xs[4] = {t->N, t->C, t->H, t->W}, gs[4] = {t->N, 2, t->H, t->W}, ws[4] = {t->C, t->C, 3, 3},
            vs[1] = {t->C};
    return pixl_gated_conv3x3_train(ctx, gc_input(ctx, "h1", 4, xs, c->d.h1),
                                    pixl_constant(ctx, "gate", PIXL_F32, 4, gs, c->d.g),
                                    gc_input(ctx, "w", 4, ws, c->d.w), gc_input(ctx, "bn_weight", 1, vs, c->d.bw),
                                    gc_input(ctx, "bn_bias", 1, vs, c->d.bb),
                                    pixl_constant(ctx, "rm", PIXL_F32, 1, vs, c->d.rm),
                                    pixl_constant(ctx, "rv", PIXL_F32, 1, vs, c->d.rv), NULL, t->dil,
                                    (pixl_gate_grad_rule)t->rule);
}

PIXL_TEST(gated_conv_train_gradcheck)
{
    const int kinds[] = {M_RAND70, M_CHECKER, M_ON};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        gc_case c = {.t = {.N = 2, .C = 3, .H = 5, .W = 4, .dil = 1 + (int)k % 2, .mask = kinds[k]}};
        data_new(&c.t, &c.d, 600 + k);
        char what[64];
        snprintf(what, sizeof what, "gated_conv3x3_train mask %d", kinds[k]);
        const gc_opts o = {.eps = 1e-3, .mode = PIXL_MODE_TRAIN};
        for (int path = -1; path <= 1; path += 2) {
            pixl__gated_conv_train_force(path);
            GRADCHECK(what, NULL, build_gct, &c, &o);
        }
        pixl__gated_conv_train_force(0);
        data_free(&c.d);
    }
}

static int fails_with(pixl_ctx *ctx, pixl_tensor *t, const char *needle)
{
    const char *e = pixl_ctx_error(ctx);
    int ok = t == NULL && e && strstr(e, needle) != NULL;
    if (!ok) fprintf(stderr, "    expected an error with '%s', got '%s'\n", needle, e ? e : "(none)");
    pixl_ctx_free(ctx);
    return ok;
}

PIXL_TEST(gated_conv_train_errors)
{
    int64_t xs[4] = {2, 4, 6, 7}, gs[4] = {2, 2, 6, 7}, ws[4] = {4, 4, 3, 3}, v4[1] = {4}, v3[1] = {3};
#define NEW_CTX(mode)                                                                                          \
    pixl_ctx *ctx = pixl_ctx_new(NULL, mode);                                                                  \
    pixl_tensor *h1 = pixl_input(ctx, "h1", PIXL_F32, 4, xs), *g = pixl_input(ctx, "gate", PIXL_F32, 4, gs); \
    pixl_tensor *w = pixl_input(ctx, "w", PIXL_F32, 4, ws)
    {
        NEW_CTX(PIXL_MODE_EVAL);
        CHECK(fails_with(ctx, pixl_gated_conv3x3_train(ctx, h1, g, w, NULL, NULL, NULL, NULL, NULL, 1, 0),
                         "PIXL_MODE_TRAIN only"));
    }
    {
        NEW_CTX(PIXL_MODE_TRAIN);
        int64_t bad[4] = {2, 1, 6, 7};
        (void)g;
        CHECK(fails_with(ctx,
                         pixl_gated_conv3x3_train(ctx, h1, pixl_input(ctx, "g1", PIXL_F32, 4, bad), w, NULL, NULL,
                                                  NULL, NULL, NULL, 1, 0),
                         "gate g1"));
    }
    {
        NEW_CTX(PIXL_MODE_TRAIN);
        int64_t bad[4] = {8, 4, 3, 3};
        (void)w;
        CHECK(fails_with(ctx,
                         pixl_gated_conv3x3_train(ctx, h1, g, pixl_input(ctx, "w8", PIXL_F32, 4, bad), NULL, NULL,
                                                  NULL, NULL, NULL, 1, 0),
                         "(C, C, 3, 3)"));
    }
    {
        NEW_CTX(PIXL_MODE_TRAIN);
        CHECK(fails_with(ctx,
                         pixl_gated_conv3x3_train(ctx, h1, g, w, pixl_input(ctx, "gamma", PIXL_F32, 1, v3), NULL, NULL,
                                                  NULL, NULL, 1, 0),
                         "bn_weight gamma"));
    }
    {
        NEW_CTX(PIXL_MODE_TRAIN);
        CHECK(fails_with(ctx,
                         pixl_gated_conv3x3_train(ctx, h1, g, w, NULL, NULL, pixl_input(ctx, "rm", PIXL_F32, 1, v4),
                                                  NULL, NULL, 1, 0),
                         "both"));
    }
    {
        NEW_CTX(PIXL_MODE_TRAIN);
        CHECK(fails_with(ctx, pixl_gated_conv3x3_train(ctx, h1, g, w, NULL, NULL, NULL, NULL, &(pixl_bn_opts){0, -1}, 1, 0),
                         "momentum"));
    }
    {
        NEW_CTX(PIXL_MODE_TRAIN);
        CHECK(fails_with(ctx, pixl_gated_conv3x3_train(ctx, h1, g, w, NULL, NULL, NULL, NULL, NULL, -1, 0), "dilation -1"));
    }
    {
        NEW_CTX(PIXL_MODE_TRAIN);
        CHECK(fails_with(ctx, pixl_gated_conv3x3_train(ctx, h1, g, w, NULL, NULL, NULL, NULL, NULL, 1, 5),
                         "gradient rule 5"));
    }
    {
        /* a gate that is not one-hot fails the forward, naming the pixel */
        NEW_CTX(PIXL_MODE_TRAIN);
        pixl_tensor *z = pixl_gated_conv3x3_train(ctx, h1, g, w, NULL, NULL, NULL, NULL, NULL, 1, 0);
        CHECK(z && pixl_ctx_plan(ctx) == PIXL_OK);
        if (z) {
            float *gd = pixl_tensor_data(g);
            for (int i = 0; i < 2 * 2 * 42; i++) gd[i] = (i / 42) % 2 ? 0.0f : 1.0f;
            gd[2 * 42 + 42 + 2 * 7 + 3] = 0.7f; /* image 1, channel 1, pixel (2, 3) */
            gd[2 * 42 + 2 * 7 + 3] = 0.3f;
            CHECK(pixl_forward(ctx) != PIXL_OK);
            CHECK_MSG(strstr(pixl_last_error(), "got (0.3, 0.7) at image 1, pixel (2, 3)") != NULL, "got '%s'",
                      pixl_last_error());
        }
        pixl_ctx_free(ctx);
    }
#undef NEW_CTX
}
