/* test_conv.c — conv2d, conv_transpose2d and linear: fast paths against
 * the naive direct references (fixed and random shapes), finite-difference
 * gradient checks of every input and parameter, shape errors, bit
 * equality between 1 and 2 threads. The PyTorch reference cases of
 * tests/ref/conv run through `pixl check` (make test). */
#include <stdlib.h>
#include <string.h>

#include "gradcheck.h"
#include "kernels/im2col.h"
#include "test.h"

/* one convolution case */
typedef struct cv {
    int transposed;
    int N, IC, H, W, OC, KH, KW;
    int sh, sw, ph, pw, dh, dw, G, oph, opw;
    int bias;
} cv;

static pixl_conv2d_opts opts_of(const cv *c)
{
    return (pixl_conv2d_opts){.stride = {c->sh, c->sw},
                              .padding = {c->ph, c->pw},
                              .dilation = {c->dh, c->dw},
                              .groups = c->G,
                              .output_padding = {c->oph, c->opw}};
}

static void cv_desc(const cv *c, char *buf, size_t len)
{
    snprintf(buf, len, "%s N%d IC%d %dx%d OC%d k%dx%d s%d,%d p%d,%d d%d,%d g%d op%d,%d%s",
             c->transposed ? "convT" : "conv", c->N, c->IC, c->H, c->W, c->OC, c->KH, c->KW, c->sh, c->sw, c->ph,
             c->pw, c->dh, c->dw, c->G, c->oph, c->opw, c->bias ? " bias" : "");
}

static float *rnd(long n, unsigned long long seed)
{
    float *p = malloc(sizeof(float) * (size_t)(n ? n : 1));
    pixl_test_fill_uniform(p, n, -1, 1, seed);
    return p;
}

/* Build the op on grad inputs x, w, b; run forward and backward with a
 * random upstream gradient; compare everything with the naive reference. */
static void fast_vs_naive(const cv *c, unsigned long long seed)
{
    char desc[256];
    cv_desc(c, desc, sizeof desc);
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL_GRAD);
    int G = c->G ? c->G : 1;
    int64_t xs[4] = {c->N, c->IC, c->H, c->W};
    int64_t ws[4] = {c->transposed ? c->IC : c->OC, c->transposed ? c->OC / G : c->IC / G, c->KH, c->KW};
    int64_t bs[1] = {c->OC};
    pixl_tensor *x = pixl_input_grad(ctx, "x", 4, xs), *w = pixl_input_grad(ctx, "w", 4, ws);
    pixl_tensor *b = c->bias ? pixl_input_grad(ctx, "b", 1, bs) : NULL;
    pixl_conv2d_opts o = opts_of(c);
    pixl_tensor *y = c->transposed ? pixl_conv_transpose2d(ctx, x, w, b, &o) : pixl_conv2d(ctx, x, w, b, &o);
    CHECK_MSG(y != NULL, "%s: build failed: %s", desc, pixl_ctx_error(ctx));
    if (!y) {
        pixl_ctx_free(ctx);
        return;
    }
    CHECK_OK(pixl_ctx_plan(ctx));
    long nx = (long)pixl_tensor_numel(x), nw = (long)pixl_tensor_numel(w), ny = (long)pixl_tensor_numel(y);
    pixl_test_fill_uniform(pixl_tensor_data(x), nx, -1, 1, seed);
    pixl_test_fill_uniform(pixl_tensor_data(w), nw, -1, 1, seed + 1);
    if (b) pixl_test_fill_uniform(pixl_tensor_data(b), c->OC, -1, 1, seed + 2);
    float *dy = rnd(ny, seed + 3);
    CHECK_OK(pixl_forward(ctx));
    CHECK_OK(pixl_backward_from(ctx, y, dy));

    const int64_t *ys = pixl_tensor_shape(y);
    pixl_conv_shape s = {.N = c->N, .KH = c->KH, .KW = c->KW, .sh = c->sh ? c->sh : 1, .sw = c->sw ? c->sw : 1,
                         .ph = c->ph, .pw = c->pw, .dh = c->dh ? c->dh : 1, .dw = c->dw ? c->dw : 1, .G = G};
    if (c->transposed) {
        s.Cs = c->IC, s.OH = c->H, s.OW = c->W, s.Cb = ys[1], s.H = ys[2], s.W = ys[3];
    } else {
        s.Cb = c->IC, s.H = c->H, s.W = c->W, s.Cs = ys[1], s.OH = ys[2], s.OW = ys[3];
    }
    float *ry = malloc(sizeof(float) * (size_t)ny), *rdx = malloc(sizeof(float) * (size_t)nx);
    float *rdw = malloc(sizeof(float) * (size_t)nw), *rdb = malloc(sizeof(float) * (size_t)c->OC);
    const float *xv = pixl_tensor_data(x), *wv = pixl_tensor_data(w), *bv = b ? pixl_tensor_data(b) : NULL;
    if (c->transposed) {
        pixl__conv_transpose2d_naive(&s, xv, wv, bv, ry);
        pixl__conv_transpose2d_bwd_naive(&s, xv, wv, dy, rdx, rdw, rdb);
    } else {
        pixl__conv2d_naive(&s, xv, wv, bv, ry);
        pixl__conv2d_bwd_naive(&s, xv, wv, dy, rdx, rdw, rdb);
    }
    char what[300];
    snprintf(what, sizeof what, "%s y", desc);
    CHECK_ALLCLOSE(what, pixl_tensor_data(y), ry, ny, 1e-4, 1e-4);
    snprintf(what, sizeof what, "%s dx", desc);
    CHECK_ALLCLOSE(what, pixl_tensor_grad(x), rdx, nx, 1e-4, 1e-4);
    snprintf(what, sizeof what, "%s dw", desc);
    CHECK_ALLCLOSE(what, pixl_tensor_grad(w), rdw, nw, 1e-4, 2e-4);
    if (b) {
        snprintf(what, sizeof what, "%s db", desc);
        CHECK_ALLCLOSE(what, pixl_tensor_grad(b), rdb, c->OC, 1e-4, 2e-4);
    }
    free(ry), free(rdx), free(rdw), free(rdb), free(dy);
    pixl_ctx_free(ctx);
}

static const cv fixed_cases[] = {
    /* T  N IC  H   W OC KH KW sh sw ph pw dh dw G  oph opw bias */
    {0, 2, 3, 9, 11, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1},      /* plain 3x3 */
    {0, 2, 4, 9, 11, 6, 3, 3, 2, 2, 1, 1, 1, 1, 1, 0, 0, 1},      /* strided */
    {0, 1, 4, 10, 13, 4, 3, 3, 1, 1, 2, 2, 2, 2, 1, 0, 0, 0},     /* dilated */
    {0, 2, 6, 9, 11, 6, 3, 3, 1, 1, 1, 1, 1, 1, 6, 0, 0, 1},      /* depthwise */
    {0, 1, 4, 9, 11, 8, 3, 3, 2, 1, 1, 0, 1, 2, 4, 0, 0, 1},      /* depthwise x2 multiplier, rect stride */
    {0, 2, 4, 9, 11, 8, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0, 0, 0},      /* 1x1 */
    {0, 2, 4, 9, 11, 6, 1, 1, 1, 1, 0, 0, 1, 1, 2, 0, 0, 1},      /* 1x1 grouped */
    {0, 1, 4, 9, 11, 4, 1, 1, 2, 2, 0, 0, 1, 1, 1, 0, 0, 1},      /* 1x1 strided */
    {0, 2, 4, 9, 11, 4, 5, 1, 1, 1, 2, 0, 1, 1, 1, 0, 0, 1},      /* rectangular */
    {0, 1, 4, 9, 11, 6, 7, 7, 1, 1, 3, 3, 1, 1, 1, 0, 0, 0},      /* 7x7 */
    {0, 2, 4, 12, 13, 6, 3, 5, 2, 3, 2, 1, 2, 1, 2, 0, 0, 1},     /* everything at once */
    {0, 1, 6, 7, 8, 9, 2, 3, 3, 2, 0, 2, 3, 1, 3, 0, 0, 1},       /* even kernel, odd strides */
    {0, 1, 2, 3, 3, 3, 3, 3, 1, 1, 0, 0, 1, 1, 1, 0, 0, 1},       /* output 1x1 */
    {1, 2, 4, 5, 6, 3, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1},       /* transposed, output_padding */
    {1, 2, 4, 5, 6, 4, 4, 4, 2, 2, 1, 1, 1, 1, 1, 0, 0, 1},       /* 4x4 stride 2 */
    {1, 2, 4, 5, 6, 2, 2, 2, 2, 2, 0, 0, 1, 1, 1, 0, 0, 0},       /* 2x2 stride 2 no bias */
    {1, 2, 3, 5, 6, 3, 3, 3, 1, 1, 2, 2, 2, 2, 1, 0, 0, 1},       /* dilated */
    {1, 1, 4, 5, 7, 6, 3, 3, 2, 3, 1, 0, 2, 2, 2, 1, 1, 1},       /* groups, dilation + output_padding */
    {1, 2, 6, 5, 6, 6, 3, 3, 2, 2, 1, 1, 1, 1, 6, 1, 0, 1},       /* depthwise transposed */
    {1, 1, 4, 6, 5, 8, 1, 1, 1, 1, 0, 0, 1, 1, 2, 0, 0, 1},       /* 1x1 transposed grouped */
    {1, 1, 2, 4, 4, 3, 3, 2, 1, 2, 0, 1, 1, 1, 1, 0, 1, 1},       /* rect */
};

PIXL_TEST(conv_fast_vs_naive_fixed)
{
    for (size_t i = 0; i < sizeof fixed_cases / sizeof fixed_cases[0]; i++) fast_vs_naive(&fixed_cases[i], 10 + i);
}

static int rint_in(unsigned long long *s, int lo, int hi)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return lo + (int)((*s >> 33) % (unsigned long long)(hi - lo + 1));
}

PIXL_TEST(conv_fast_vs_naive_random)
{
    unsigned long long st = 12345;
    int done = 0;
    for (int it = 0; it < 400 && done < 60; it++) {
        cv c = {0};
        c.transposed = rint_in(&st, 0, 2) == 0;
        c.G = rint_in(&st, 0, 3) == 0 ? rint_in(&st, 2, 3) : 1;
        int dwise = rint_in(&st, 0, 4) == 0;
        c.N = rint_in(&st, 1, 2);
        c.IC = c.G * rint_in(&st, 1, 4);
        c.OC = c.G * rint_in(&st, 1, 4);
        if (dwise) c.G = c.IC, c.OC = c.IC * rint_in(&st, 1, 2);
        if (dwise && c.transposed) c.OC = c.IC;
        c.H = rint_in(&st, 1, 13), c.W = rint_in(&st, 1, 13);
        c.KH = rint_in(&st, 1, 5), c.KW = rint_in(&st, 1, 5);
        c.sh = rint_in(&st, 1, 3), c.sw = rint_in(&st, 1, 3);
        c.dh = rint_in(&st, 1, 2), c.dw = rint_in(&st, 1, 2);
        c.ph = rint_in(&st, 0, 3), c.pw = rint_in(&st, 0, 3);
        c.bias = rint_in(&st, 0, 1);
        if (c.transposed) {
            c.oph = rint_in(&st, 0, 1), c.opw = rint_in(&st, 0, 1);
            if (c.oph >= c.sh && c.oph >= c.dh) c.oph = 0;
            if (c.opw >= c.sw && c.opw >= c.dw) c.opw = 0;
            if ((c.H - 1) * c.sh - 2 * c.ph + c.dh * (c.KH - 1) + c.oph + 1 < 1) continue;
            if ((c.W - 1) * c.sw - 2 * c.pw + c.dw * (c.KW - 1) + c.opw + 1 < 1) continue;
        } else {
            if (c.dh * (c.KH - 1) + 1 > c.H + 2 * c.ph || c.dw * (c.KW - 1) + 1 > c.W + 2 * c.pw) continue;
        }
        fast_vs_naive(&c, 1000 + it);
        done++;
        if (pixl_test_failed()) break;
    }
    CHECK(done >= 40);
}

/* A shape whose column blocks split the output rows (several im2col blocks)
 * and that engages every thread. */
PIXL_TEST(conv_fast_vs_naive_large)
{
    cv a = {0, 1, 24, 70, 90, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1};
    fast_vs_naive(&a, 5);
    cv b = {1, 1, 16, 33, 41, 12, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1};
    fast_vs_naive(&b, 6);
    cv d = {0, 2, 32, 40, 41, 32, 3, 3, 2, 2, 1, 1, 1, 1, 32, 0, 0, 1};
    fast_vs_naive(&d, 7);
    /* reductions longer than 4608 (600 x 3x3) run in chunks: forward (e) and
     * stride-1 data gradient (f); odd channel, row and column counts */
    cv e = {0, 1, 600, 11, 70, 13, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1};
    fast_vs_naive(&e, 8);
    cv f = {0, 1, 13, 11, 70, 600, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1};
    fast_vs_naive(&f, 9);
}

/* ------------------------------------------------------------ gradchecks */

typedef struct gc_conv {
    cv c;
    float *x;
} gc_conv;

static pixl_tensor *build_conv(pixl_ctx *ctx, void *ud)
{
    gc_conv *g = ud;
    const cv *c = &g->c;
    int64_t xs[4] = {c->N, c->IC, c->H, c->W};
    pixl_tensor *x = gc_input(ctx, "x", 4, xs, g->x);
    pixl_conv2d_opts o = opts_of(c);
    return c->transposed ? pixl_nn_conv_transpose2d(ctx, "conv", x, c->OC, c->KH, c->KW, &o, c->bias)
                         : pixl_nn_conv2d(ctx, "conv", x, c->OC, c->KH, c->KW, &o, c->bias);
}

static void gradcheck_conv(const cv *c)
{
    char desc[256];
    cv_desc(c, desc, sizeof desc);
    gc_conv g = {*c, rnd((long)c->N * c->IC * c->H * c->W, 77)};
    pixl_params *P = pixl_params_new();
    pixl_params_seed(P, 3);
    GRADCHECK(desc, P, build_conv, &g, NULL);
    int nparams = pixl_params_count(P);
    CHECK_MSG(nparams == (c->bias ? 2 : 1), "%s: %d parameters", desc, nparams);
    pixl_params_free(P);
    free(g.x);
}

PIXL_TEST(conv2d_gradcheck)
{
    static const cv cases[] = {
        {0, 2, 3, 7, 8, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1}, /* plain */
        {0, 1, 3, 9, 8, 4, 3, 3, 2, 2, 1, 1, 1, 1, 1, 0, 0, 1}, /* strided */
        {0, 1, 2, 9, 9, 3, 3, 3, 1, 1, 2, 2, 2, 2, 1, 0, 0, 1}, /* dilated */
        {0, 1, 4, 7, 6, 6, 3, 3, 1, 1, 1, 1, 1, 1, 2, 0, 0, 1}, /* grouped */
        {0, 2, 4, 7, 6, 4, 3, 3, 1, 1, 1, 1, 1, 1, 4, 0, 0, 1}, /* depthwise */
        {0, 1, 3, 8, 7, 3, 5, 2, 2, 1, 2, 1, 1, 1, 1, 0, 0, 1}, /* rectangular */
        {0, 2, 3, 6, 7, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0}, /* no bias */
        {0, 1, 4, 5, 6, 3, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0, 0, 1}, /* 1x1 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) gradcheck_conv(&cases[i]);
}

PIXL_TEST(conv_transpose2d_gradcheck)
{
    static const cv cases[] = {
        {1, 2, 3, 4, 5, 2, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1}, /* output_padding */
        {1, 1, 2, 4, 4, 3, 3, 3, 1, 1, 2, 2, 2, 2, 1, 0, 0, 1}, /* dilated */
        {1, 1, 4, 4, 5, 6, 3, 3, 2, 2, 1, 1, 1, 1, 2, 1, 0, 1}, /* grouped */
        {1, 1, 2, 3, 4, 2, 3, 3, 1, 2, 0, 1, 2, 1, 1, 1, 1, 0}, /* dilation + output_padding, no bias */
        {1, 1, 4, 4, 4, 4, 3, 3, 2, 2, 1, 1, 1, 1, 4, 1, 1, 1}, /* depthwise */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) gradcheck_conv(&cases[i]);
}

typedef struct gc_lin {
    int ndim;
    int64_t xs[3];
    int out, bias;
    float *x;
} gc_lin;

static pixl_tensor *build_linear(pixl_ctx *ctx, void *ud)
{
    gc_lin *g = ud;
    pixl_tensor *x = gc_input(ctx, "x", g->ndim, g->xs, g->x);
    return pixl_nn_linear(ctx, "fc", x, g->out, g->bias);
}

PIXL_TEST(linear_gradcheck)
{
    gc_lin cases[] = {{2, {5, 7}, 4, 1, NULL}, {3, {2, 3, 6}, 5, 0, NULL}, {1, {6}, 3, 1, NULL}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gc_lin *g = &cases[i];
        long n = 1;
        for (int d = 0; d < g->ndim; d++) n *= (long)g->xs[d];
        g->x = rnd(n, 5 + i);
        pixl_params *P = pixl_params_new();
        GRADCHECK("linear", P, build_linear, g, NULL);
        pixl_params_free(P);
        free(g->x);
    }
}

PIXL_TEST(linear_matches_naive)
{
    /* x (2, 3, 9) -> (2, 3, 4) against a direct double loop */
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL_GRAD);
    int64_t xs[3] = {2, 3, 9}, ws[2] = {4, 9}, bs[1] = {4};
    pixl_tensor *x = pixl_input_grad(ctx, "x", 3, xs), *w = pixl_input_grad(ctx, "w", 2, ws);
    pixl_tensor *b = pixl_input_grad(ctx, "b", 1, bs);
    pixl_tensor *y = pixl_linear(ctx, x, w, b);
    CHECK(y && pixl_tensor_ndim(y) == 3 && pixl_tensor_shape(y)[2] == 4);
    CHECK_OK(pixl_ctx_plan(ctx));
    float *xv = pixl_tensor_data(x), *wv = pixl_tensor_data(w), *bv = pixl_tensor_data(b);
    pixl_test_fill_uniform(xv, 54, -1, 1, 1);
    pixl_test_fill_uniform(wv, 36, -1, 1, 2);
    pixl_test_fill_uniform(bv, 4, -1, 1, 3);
    float dy[24], ry[24], rdx[54] = {0}, rdw[36] = {0}, rdb[4] = {0};
    pixl_test_fill_uniform(dy, 24, -1, 1, 4);
    CHECK_OK(pixl_forward(ctx));
    CHECK_OK(pixl_backward_from(ctx, y, dy));
    for (int i = 0; i < 6; i++)
        for (int o = 0; o < 4; o++) {
            double s = bv[o];
            for (int k = 0; k < 9; k++) {
                s += (double)xv[i * 9 + k] * wv[o * 9 + k];
                rdx[i * 9 + k] += dy[i * 4 + o] * wv[o * 9 + k];
                rdw[o * 9 + k] += dy[i * 4 + o] * xv[i * 9 + k];
            }
            ry[i * 4 + o] = (float)s;
            rdb[o] += dy[i * 4 + o];
        }
    CHECK_ALLCLOSE("linear y", pixl_tensor_data(y), ry, 24, 1e-5, 1e-5);
    CHECK_ALLCLOSE("linear dx", pixl_tensor_grad(x), rdx, 54, 1e-5, 1e-5);
    CHECK_ALLCLOSE("linear dw", pixl_tensor_grad(w), rdw, 36, 1e-5, 1e-5);
    CHECK_ALLCLOSE("linear db", pixl_tensor_grad(b), rdb, 4, 1e-5, 1e-5);
    pixl_ctx_free(ctx);
}

/* ------------------------------------------------------------------ errors */

/* the builder must return NULL and the error must name op and shapes */
static void expect_error(pixl_tensor *y, pixl_ctx *ctx, const char *op, const char *s1, const char *s2, int line)
{
    const char *e = pixl_ctx_error(ctx);
    if (y) pixl_test_fail(__FILE__, line, "%s: expected NULL", op);
    if (!e) {
        pixl_test_fail(__FILE__, line, "%s: no ctx error", op);
        return;
    }
    if (!strstr(e, op) || (s1 && !strstr(e, s1)) || (s2 && !strstr(e, s2)))
        pixl_test_fail(__FILE__, line, "error \"%s\" lacks %s / %s / %s", e, op, s1 ? s1 : "", s2 ? s2 : "");
    if (!strstr(pixl_last_error(), op)) pixl_test_fail(__FILE__, line, "pixl_last_error \"%s\"", pixl_last_error());
}

#define EXPECT_ERROR(y, ctx, op, s1, s2) expect_error(y, ctx, op, s1, s2, __LINE__)

PIXL_TEST(conv_shape_errors)
{
    int64_t xs[4] = {2, 3, 9, 11}, ws_bad[4] = {5, 4, 3, 3}, ws[4] = {5, 3, 3, 3}, big[4] = {5, 3, 13, 3};
    int64_t wg[4] = {6, 1, 3, 3}, bs_bad[1] = {4};
    pixl_ctx *ctx;
    pixl_tensor *x, *w;

    ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL); /* channels */
    x = pixl_input(ctx, "x", PIXL_F32, 4, xs);
    w = pixl_input(ctx, "w", PIXL_F32, 4, ws_bad);
    EXPECT_ERROR(pixl_conv2d(ctx, x, w, NULL, NULL), ctx, "conv2d", "[2, 3, 9, 11]", "[5, 4, 3, 3]");
    pixl_ctx_free(ctx);

    ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL); /* kernel larger than padded input */
    x = pixl_input(ctx, "x", PIXL_F32, 4, xs);
    w = pixl_input(ctx, "w", PIXL_F32, 4, big);
    EXPECT_ERROR(pixl_conv2d(ctx, x, w, NULL, &(pixl_conv2d_opts){.padding = {1, 1}}), ctx, "conv2d",
                 "[2, 3, 9, 11]", "[5, 3, 13, 3]");
    pixl_ctx_free(ctx);

    ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL); /* groups that do not divide */
    x = pixl_input(ctx, "x", PIXL_F32, 4, xs);
    w = pixl_input(ctx, "w", PIXL_F32, 4, wg);
    EXPECT_ERROR(pixl_conv2d(ctx, x, w, NULL, &(pixl_conv2d_opts){.groups = 2}), ctx, "conv2d", "[2, 3, 9, 11]",
                 "[6, 1, 3, 3]");
    pixl_ctx_free(ctx);

    ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL); /* negative groups */
    x = pixl_input(ctx, "x", PIXL_F32, 4, xs);
    w = pixl_input(ctx, "w", PIXL_F32, 4, ws);
    EXPECT_ERROR(pixl_conv2d(ctx, x, w, NULL, &(pixl_conv2d_opts){.groups = -3}), ctx, "conv2d", "groups -3", NULL);
    pixl_ctx_free(ctx);

    ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL); /* bias */
    x = pixl_input(ctx, "x", PIXL_F32, 4, xs);
    w = pixl_input(ctx, "w", PIXL_F32, 4, ws);
    pixl_tensor *b = pixl_input(ctx, "b", PIXL_F32, 1, bs_bad);
    EXPECT_ERROR(pixl_conv2d(ctx, x, w, b, NULL), ctx, "conv2d", "[4]", "[5, 3, 3, 3]");
    pixl_ctx_free(ctx);

    ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL); /* 3-D input */
    int64_t x3[3] = {3, 9, 11};
    x = pixl_input(ctx, "x", PIXL_F32, 3, x3);
    w = pixl_input(ctx, "w", PIXL_F32, 4, ws);
    EXPECT_ERROR(pixl_conv2d(ctx, x, w, NULL, NULL), ctx, "conv2d", "[3, 9, 11]", NULL);
    pixl_ctx_free(ctx);

    ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL); /* transposed: weight rows != input channels */
    x = pixl_input(ctx, "x", PIXL_F32, 4, xs);
    w = pixl_input(ctx, "w", PIXL_F32, 4, ws_bad);
    EXPECT_ERROR(pixl_conv_transpose2d(ctx, x, w, NULL, NULL), ctx, "conv_transpose2d", "[2, 3, 9, 11]",
                 "[5, 4, 3, 3]");
    pixl_ctx_free(ctx);

    ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL); /* transposed: output_padding too large */
    int64_t wt[4] = {3, 2, 3, 3};
    x = pixl_input(ctx, "x", PIXL_F32, 4, xs);
    w = pixl_input(ctx, "w", PIXL_F32, 4, wt);
    EXPECT_ERROR(pixl_conv_transpose2d(ctx, x, w, NULL, &(pixl_conv2d_opts){.stride = {2, 2}, .output_padding = {2, 0}}),
                 ctx, "conv_transpose2d", "output_padding (2, 0)", NULL);
    pixl_ctx_free(ctx);

    ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL); /* transposed: empty output */
    int64_t x1[4] = {1, 3, 1, 1};
    x = pixl_input(ctx, "x", PIXL_F32, 4, x1);
    w = pixl_input(ctx, "w", PIXL_F32, 4, wt);
    EXPECT_ERROR(pixl_conv_transpose2d(ctx, x, w, NULL, &(pixl_conv2d_opts){.padding = {2, 2}}), ctx,
                 "conv_transpose2d", "[1, 3, 1, 1]", "[3, 2, 3, 3]");
    pixl_ctx_free(ctx);

    ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL); /* linear */
    int64_t lx[2] = {4, 7}, lw[2] = {3, 6};
    x = pixl_input(ctx, "x", PIXL_F32, 2, lx);
    w = pixl_input(ctx, "w", PIXL_F32, 2, lw);
    EXPECT_ERROR(pixl_linear(ctx, x, w, NULL), ctx, "linear", "[4, 7]", "[3, 6]");
    pixl_ctx_free(ctx);

    /* NULL input: NULL without overwriting the first error */
    ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL);
    CHECK(pixl_conv2d(ctx, NULL, NULL, NULL, NULL) == NULL);
    CHECK(pixl_ctx_error(ctx) == NULL);
    pixl_ctx_free(ctx);
}

/* ---------------------------------------------------------- thread counts */

typedef struct run_out { float *y, *dx, *dw, *db; long ny, nx, nw, nb; } run_out;

static run_out run_once(const cv *c, int threads)
{
    pixl_set_num_threads(threads);
    run_out r = {0};
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL_GRAD);
    int G = c->G ? c->G : 1;
    int64_t xs[4] = {c->N, c->IC, c->H, c->W};
    int64_t ws[4] = {c->transposed ? c->IC : c->OC, c->transposed ? c->OC / G : c->IC / G, c->KH, c->KW};
    int64_t bs[1] = {c->OC};
    pixl_tensor *x = pixl_input_grad(ctx, "x", 4, xs), *w = pixl_input_grad(ctx, "w", 4, ws);
    pixl_tensor *b = pixl_input_grad(ctx, "b", 1, bs);
    pixl_conv2d_opts o = opts_of(c);
    pixl_tensor *y = c->transposed ? pixl_conv_transpose2d(ctx, x, w, b, &o) : pixl_conv2d(ctx, x, w, b, &o);
    if (!y || pixl_ctx_plan(ctx)) {
        pixl_ctx_free(ctx);
        return r;
    }
    r.nx = (long)pixl_tensor_numel(x), r.nw = (long)pixl_tensor_numel(w), r.ny = (long)pixl_tensor_numel(y);
    r.nb = c->OC;
    pixl_test_fill_uniform(pixl_tensor_data(x), r.nx, -1, 1, 1);
    pixl_test_fill_uniform(pixl_tensor_data(w), r.nw, -1, 1, 2);
    pixl_test_fill_uniform(pixl_tensor_data(b), r.nb, -1, 1, 3);
    float *dy = rnd(r.ny, 4);
    pixl_forward(ctx);
    pixl_backward_from(ctx, y, dy);
    r.y = malloc(sizeof(float) * (size_t)r.ny), r.dx = malloc(sizeof(float) * (size_t)r.nx);
    r.dw = malloc(sizeof(float) * (size_t)r.nw), r.db = malloc(sizeof(float) * (size_t)r.nb);
    memcpy(r.y, pixl_tensor_data(y), sizeof(float) * (size_t)r.ny);
    memcpy(r.dx, pixl_tensor_grad(x), sizeof(float) * (size_t)r.nx);
    memcpy(r.dw, pixl_tensor_grad(w), sizeof(float) * (size_t)r.nw);
    memcpy(r.db, pixl_tensor_grad(b), sizeof(float) * (size_t)r.nb);
    free(dy);
    pixl_ctx_free(ctx);
    return r;
}

PIXL_TEST(conv_threads_bit_identical)
{
    static const cv cases[] = {
        {0, 2, 32, 45, 67, 48, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1},  /* 3x3 */
        {0, 1, 64, 36, 40, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1},  /* 3x3, 64 channels */
        {0, 1, 24, 45, 67, 40, 3, 3, 2, 2, 1, 1, 1, 1, 1, 0, 0, 1},  /* strided */
        {0, 2, 32, 45, 67, 32, 3, 3, 1, 1, 2, 2, 2, 2, 32, 0, 0, 1}, /* depthwise dilated */
        {0, 1, 64, 45, 67, 32, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0, 0, 1},  /* 1x1 */
        {0, 1, 32, 45, 67, 32, 3, 3, 1, 1, 1, 1, 1, 1, 4, 0, 0, 1},  /* grouped */
        {1, 1, 32, 30, 41, 24, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1},  /* transposed */
        {0, 1, 600, 11, 70, 13, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1}, /* chunked reduction (K 5400) */
    };
    int saved = pixl_num_threads();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char desc[256];
        cv_desc(&cases[i], desc, sizeof desc);
        run_out a = run_once(&cases[i], 1), b = run_once(&cases[i], 2);
        CHECK_MSG(a.y && b.y, "%s: run failed", desc);
        if (a.y && b.y) {
            CHECK_MSG(!memcmp(a.y, b.y, sizeof(float) * (size_t)a.ny), "%s: y differs 1 vs 2 threads", desc);
            CHECK_MSG(!memcmp(a.dx, b.dx, sizeof(float) * (size_t)a.nx), "%s: dx differs", desc);
            CHECK_MSG(!memcmp(a.dw, b.dw, sizeof(float) * (size_t)a.nw), "%s: dw differs", desc);
            CHECK_MSG(!memcmp(a.db, b.db, sizeof(float) * (size_t)a.nb), "%s: db differs", desc);
        }
        free(a.y), free(a.dx), free(a.dw), free(a.db), free(b.y), free(b.dx), free(b.dw), free(b.db);
    }
    pixl_set_num_threads(saved);
}


PIXL_TEST(linear_threads_bit_identical)
{
    int saved = pixl_num_threads();
    float *res[2][3];
    long n[3];
    for (int t = 0; t < 2; t++) {
        pixl_set_num_threads(t + 1);
        pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL_GRAD);
        int64_t xs[3] = {4, 1500, 48}, ws[2] = {40, 48}, bs[1] = {40};
        pixl_tensor *x = pixl_input_grad(ctx, "x", 3, xs), *w = pixl_input_grad(ctx, "w", 2, ws);
        pixl_tensor *b = pixl_input_grad(ctx, "b", 1, bs);
        pixl_tensor *y = pixl_linear(ctx, x, w, b);
        CHECK_OK(pixl_ctx_plan(ctx));
        pixl_test_fill_uniform(pixl_tensor_data(x), 4 * 1500 * 48, -1, 1, 1);
        pixl_test_fill_uniform(pixl_tensor_data(w), 40 * 48, -1, 1, 2);
        pixl_test_fill_uniform(pixl_tensor_data(b), 40, -1, 1, 3);
        float *dy = rnd(4 * 1500 * 40, 4);
        CHECK_OK(pixl_forward(ctx));
        CHECK_OK(pixl_backward_from(ctx, y, dy));
        pixl_tensor *ts[3] = {y, x, w};
        for (int k = 0; k < 3; k++) {
            n[k] = (long)pixl_tensor_numel(ts[k]);
            res[t][k] = malloc(sizeof(float) * (size_t)n[k]);
            memcpy(res[t][k], k ? pixl_tensor_grad(ts[k]) : pixl_tensor_data(ts[k]), sizeof(float) * (size_t)n[k]);
        }
        free(dy);
        pixl_ctx_free(ctx);
    }
    CHECK_MSG(!memcmp(res[0][0], res[1][0], sizeof(float) * (size_t)n[0]), "linear y differs 1 vs 2 threads");
    CHECK_MSG(!memcmp(res[0][1], res[1][1], sizeof(float) * (size_t)n[1]), "linear dx differs 1 vs 2 threads");
    CHECK_MSG(!memcmp(res[0][2], res[1][2], sizeof(float) * (size_t)n[2]), "linear dw differs 1 vs 2 threads");
    for (int t = 0; t < 2; t++)
        for (int k = 0; k < 3; k++) free(res[t][k]);
    pixl_set_num_threads(saved);
}
