/* test_normal_losses.c — the losses on pixel vectors of src/ops/pixel_loss.c
 * in both layouts, rows (P, C) and dense (N, C, H, W): the angular loss
 * (values against the definition, gradients of pred and target, the clamp,
 * masks, thread counts, errors) and the normal loss's dense layout (equal to
 * the rows of the same pixels). PyTorch parity: tests/ref/pixelnet. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gradcheck.h"
#include "test.h"

typedef struct {
    int ndim;
    int64_t shape[4];
    const float *x, *t, *mask;
    int angular, target_grad;
    float eps;
} nl_case;

static int64_t rows_of(const nl_case *c) { return c->ndim == 4 ? c->shape[0] * c->shape[2] * c->shape[3] : c->shape[0]; }
static int64_t numel_of(const nl_case *c) { return rows_of(c) * c->shape[1]; }

static pixl_tensor *build_nl(pixl_ctx *ctx, void *ud)
{
    nl_case *c = ud;
    pixl_tensor *x = gc_input(ctx, "pred", c->ndim, c->shape, c->x);
    pixl_tensor *t = c->target_grad ? gc_input(ctx, "target", c->ndim, c->shape, c->t)
                                    : pixl_constant(ctx, "target", PIXL_F32, c->ndim, c->shape, c->t);
    int64_t ms[1] = {rows_of(c)};
    pixl_tensor *m = c->mask ? pixl_constant(ctx, "mask", PIXL_F32, 1, ms, c->mask) : NULL;
    return c->angular ? pixl_angular_loss(ctx, x, t, m, c->eps) : pixl_normal_loss(ctx, x, t, m, c->eps);
}

/* the value and gradient of pred (may be NULL) with `threads` threads */
static float run_nl(const nl_case *c, float *gx, int threads)
{
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL_GRAD);
    pixl_ctx_set_threads(ctx, threads);
    pixl_tensor *x = pixl_input_grad(ctx, "pred", c->ndim, c->shape);
    pixl_tensor *t = pixl_constant(ctx, "target", PIXL_F32, c->ndim, c->shape, c->t);
    int64_t ms[1] = {rows_of(c)};
    pixl_tensor *m = c->mask ? pixl_constant(ctx, "mask", PIXL_F32, 1, ms, c->mask) : NULL;
    pixl_tensor *L = c->angular ? pixl_angular_loss(ctx, x, t, m, c->eps) : pixl_normal_loss(ctx, x, t, m, c->eps);
    float v = NAN;
    if (L && pixl_ctx_plan(ctx) == PIXL_OK) {
        memcpy(pixl_tensor_data(x), c->x, sizeof(float) * (size_t)numel_of(c));
        if (pixl_forward(ctx) == PIXL_OK && pixl_backward(ctx, L) == PIXL_OK) {
            v = ((float *)pixl_tensor_data(L))[0];
            if (gx) memcpy(gx, pixl_tensor_grad(x), sizeof(float) * (size_t)numel_of(c));
        }
    }
    CHECK_MSG(!isnan(v), "%s", pixl_ctx_error(ctx) ? pixl_ctx_error(ctx) : pixl_last_error());
    pixl_ctx_free(ctx);
    return v;
}

/* the definition in double: rows (n, s), channel stride S */
static double nl_ref(const nl_case *c)
{
    const int64_t C = c->shape[1], S = c->ndim == 4 ? c->shape[2] * c->shape[3] : 1;
    double sum = 0, M = 0;
    for (int64_t r = 0; r < rows_of(c); r++) {
        if (c->mask && c->mask[r] == 0) continue;
        const int64_t o = (r / S) * C * S + r % S;
        double nn = 0, dot = 0, d2 = 0;
        for (int64_t k = 0; k < C; k++) nn += (double)c->x[o + k * S] * c->x[o + k * S];
        const double d = fmax(sqrt(nn), c->eps > 0 ? c->eps : 1e-12);
        for (int64_t k = 0; k < C; k++) {
            const double u = c->x[o + k * S] / d;
            dot += u * c->t[o + k * S];
            d2 += (u - c->t[o + k * S]) * (u - c->t[o + k * S]);
        }
        sum += c->angular ? acos(fmin(fmax(dot, -1 + 1e-6), 1 - 1e-6)) : 0.5 * d2;
        M += 1;
    }
    return M > 0 ? sum / M : 0;
}

/* unit targets and predictions at moderate angles to them (no cosine near +-1) */
static void fill_normals(float *x, float *t, int64_t R, int64_t C, int64_t S, unsigned long long seed)
{
    pixl_test_fill_uniform(t, R * C, -1, 1, seed);
    pixl_test_fill_uniform(x, R * C, -1, 1, seed + 1);
    for (int64_t r = 0; r < R; r++) {
        const int64_t o = (r / S) * C * S + r % S;
        double nn = 0;
        for (int64_t k = 0; k < C; k++) nn += (double)t[o + k * S] * t[o + k * S];
        for (int64_t k = 0; k < C; k++) {
            t[o + k * S] = (float)(t[o + k * S] / sqrt(nn));
            x[o + k * S] = 1.5f * t[o + k * S] + x[o + k * S]; /* not anti-aligned either */
        }
    }
}

PIXL_TEST(angular_loss_values_and_gradients)
{
    enum { N = 2, C = 3, H = 3, W = 4, R = N * H * W };
    float x[R * C], t[R * C], mask[R];
    for (int dense = 0; dense < 2; dense++) {
        fill_normals(x, t, R, C, dense ? H * W : 1, 201 + (unsigned)dense);
        pixl_test_fill_uniform(mask, R, 0, 1, 203);
        for (int i = 0; i < R; i++) mask[i] = mask[i] > 0.3f;
        for (int angular = 0; angular < 2; angular++)
            for (int masked = 0; masked < 2; masked++) {
                nl_case c = {dense ? 4 : 2, {dense ? N : R, C, H, W}, x, t, masked ? mask : NULL, angular, 1, 1e-5f};
                char what[64];
                snprintf(what, sizeof what, "%s loss dense=%d masked=%d", angular ? "angular" : "normal", dense,
                         masked);
                CHECK_NEAR(run_nl(&c, NULL, 1), nl_ref(&c), 1e-6);
                const gc_opts go = {.eps = 1e-3};
                GRADCHECK(what, NULL, build_nl, &c, &go);
            }
    }
}

/* the dense layout is the rows layout of the same pixels */
PIXL_TEST(normal_losses_dense_equals_rows)
{
    enum { N = 2, C = 3, H = 5, W = 7, HW = H * W, R = N * HW };
    float xd[R * C], td[R * C], xr[R * C], tr[R * C], mask[R], gd[R * C], gr[R * C];
    fill_normals(xd, td, R, C, HW, 211);
    pixl_test_fill_uniform(mask, R, 0, 1, 212);
    for (int i = 0; i < R; i++) mask[i] = mask[i] > 0.5f;
    for (int n = 0; n < N; n++)
        for (int k = 0; k < C; k++)
            for (int s = 0; s < HW; s++) {
                xr[(n * HW + s) * C + k] = xd[(n * C + k) * HW + s];
                tr[(n * HW + s) * C + k] = td[(n * C + k) * HW + s];
            }
    for (int angular = 0; angular < 2; angular++) {
        nl_case d = {4, {N, C, H, W}, xd, td, mask, angular, 0, 0}, r = {2, {R, C}, xr, tr, mask, angular, 0, 0};
        const float vd = run_nl(&d, gd, 1), vr = run_nl(&r, gr, 1);
        CHECK_NEAR(vd, vr, 1e-6 * fabs(vr));
        int bad = 0;
        for (int n = 0; n < N; n++)
            for (int k = 0; k < C; k++)
                for (int s = 0; s < HW; s++)
                    bad += fabsf(gd[(n * C + k) * HW + s] - gr[(n * HW + s) * C + k]) > 1e-7f;
        CHECK_MSG(bad == 0, "angular=%d: %d gradient elements differ", angular, bad);
    }
}

PIXL_TEST(angular_loss_limits)
{
    /* aligned and opposite rows sit at the clamp: angle acos(1 - 1e-6) and pi - that, no gradient;
     * a zero prediction is divided by eps (finite); everything masked: 0 */
    float x[4 * 3] = {0, 0, 2, 0, 0, -3, 0, 0, 0, 1, 2, 2}, t[4 * 3] = {0, 0, 1, 0, 0, 1, 0, 1, 0, 0, 0.6f, 0.8f};
    float g[12], m0[4] = {0};
    nl_case c = {2, {4, 3}, x, t, NULL, 1, 0, 1e-5f};
    const float v = run_nl(&c, g, 1);
    const double lo = acos(1 - 1e-6), inner = acos((2 * 0.6 + 2 * 0.8) / 3.0);
    CHECK_NEAR(v, (lo + (M_PI - lo) + M_PI / 2 + inner) / 4, 1e-6);
    for (int k = 0; k < 6; k++) CHECK(g[k] == 0);
    for (int k = 6; k < 12; k++) CHECK(isfinite(g[k]));
    CHECK(g[7] < 0); /* the zero prediction is pulled towards its target (0, 1, 0) */
    nl_case c0 = {2, {4, 3}, x, t, m0, 1, 0, 1e-5f};
    CHECK(run_nl(&c0, g, 1) == 0);
    for (int k = 0; k < 12; k++) CHECK(g[k] == 0);
}

PIXL_TEST(angular_loss_threads)
{
    enum { N = 2, C = 3, H = 64, W = 80, R = N * H * W };
    float *x = malloc(sizeof(float) * R * C), *t = malloc(sizeof(float) * R * C), *g1 = malloc(sizeof(float) * R * C),
          *g2 = malloc(sizeof(float) * R * C);
    fill_normals(x, t, R, C, H * W, 221);
    for (int angular = 0; angular < 2; angular++) {
        nl_case c = {4, {N, C, H, W}, x, t, NULL, angular, 0, 1e-5f};
        const float a = run_nl(&c, g1, 1), b = run_nl(&c, g2, 2);
        CHECK(a == b && !memcmp(g1, g2, sizeof(float) * R * C));
    }
    free(x), free(t), free(g1), free(g2);
}

PIXL_TEST(angular_loss_errors)
{
    int64_t a[2] = {4, 3}, b[2] = {4, 2}, d3[3] = {2, 3, 4}, d4[4] = {2, 3, 4, 5}, m[1] = {5};
    for (int i = 0; i < 4; i++) {
        pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL);
        pixl_tensor *r = NULL;
        const char *want = "must be f32 (P, C) or (N, C, H, W)";
        switch (i) {
        case 0: r = pixl_angular_loss(ctx, pixl_input(ctx, "x", PIXL_F32, 2, a), pixl_input(ctx, "t", PIXL_F32, 2, b), NULL, 0); break;
        case 1: r = pixl_angular_loss(ctx, pixl_input(ctx, "x", PIXL_F32, 3, d3), pixl_input(ctx, "t", PIXL_F32, 3, d3), NULL, 0); break;
        case 2:
            r = pixl_angular_loss(ctx, pixl_input(ctx, "x", PIXL_F32, 4, d4), pixl_input(ctx, "t", PIXL_F32, 4, d4),
                                  pixl_input(ctx, "m", PIXL_F32, 1, m), 0);
            want = "mask";
            break;
        case 3:
            r = pixl_angular_loss(ctx, pixl_input(ctx, "x", PIXL_F32, 2, a), pixl_input(ctx, "t", PIXL_F32, 2, a), NULL, -1);
            want = "invalid eps";
            break;
        }
        const char *e = pixl_ctx_error(ctx);
        CHECK_MSG(!r && e && strstr(e, "angular_loss") && strstr(e, want), "case %d: %s", i, e ? e : "(none)");
        pixl_ctx_free(ctx);
    }
}
