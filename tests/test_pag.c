/* test_pag.c — pixel-wise attentional gating ops (src/ops/pag.c): Gumbel
 * softmax (relaxed, straight-through and hard), mask gating with both
 * gate-gradient rules, and the budget losses: values against direct
 * formulas, finite-difference gradients, thread-count invariance, limits
 * and errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gradcheck.h"
#include "test.h"

/* ============================================================ Gumbel softmax */

typedef struct {
    int64_t shape[4];
    const float *x, *u;
    float t;
    int noise_grad; /* 1: the noise is a differentiable input */
} gs_case;

static pixl_tensor *build_gs(pixl_ctx *ctx, void *ud)
{
    gs_case *c = ud;
    pixl_tensor *x = gc_input(ctx, "x", 4, c->shape, c->x);
    pixl_tensor *u = c->noise_grad ? gc_input(ctx, "u", 4, c->shape, c->u)
                                   : pixl_constant(ctx, "u", PIXL_F32, 4, c->shape, c->u);
    return pixl_gumbel_softmax(ctx, x, u, c->t);
}

/* the definition, in double */
static void gs_ref(const gs_case *c, double *y)
{
    const int64_t N = c->shape[0], K = c->shape[1], HW = c->shape[2] * c->shape[3];
    for (int64_t b = 0; b < N; b++)
        for (int64_t q = 0; q < HW; q++) {
            double mx = -INFINITY, S = 0, z[16], zm = -INFINITY, Z = 0;
            for (int64_t k = 0; k < K; k++) mx = fmax(mx, c->x[(b * K + k) * HW + q]);
            for (int64_t k = 0; k < K; k++) S += exp(c->x[(b * K + k) * HW + q] - mx);
            for (int64_t k = 0; k < K; k++) {
                const int64_t i = (b * K + k) * HW + q;
                double p = (exp(c->x[i] - mx) / S + 0.001) / 1.001, up = (c->u[i] + 1e-5) / 1.001;
                z[k] = (log(p) - log(-log(up))) / c->t;
                zm = fmax(zm, z[k]);
            }
            for (int64_t k = 0; k < K; k++) Z += exp(z[k] - zm);
            for (int64_t k = 0; k < K; k++) y[(b * K + k) * HW + q] = exp(z[k] - zm) / Z;
        }
}

static float *run_gs(const gs_case *c, pixl_mode mode, int with_noise, int threads)
{
    pixl_ctx *ctx = pixl_ctx_new(NULL, mode);
    pixl_ctx_set_threads(ctx, threads);
    pixl_tensor *x = pixl_input(ctx, "x", PIXL_F32, 4, c->shape);
    pixl_tensor *u = with_noise ? pixl_constant(ctx, "u", PIXL_F32, 4, c->shape, c->u) : NULL;
    pixl_tensor *y = pixl_keep(pixl_gumbel_softmax(ctx, x, u, c->t));
    int64_t n = c->shape[0] * c->shape[1] * c->shape[2] * c->shape[3];
    float *out = NULL;
    if (y && pixl_ctx_plan(ctx) == PIXL_OK) {
        memcpy(pixl_tensor_data(x), c->x, sizeof(float) * (size_t)n);
        pixl_ctx_set_seed(ctx, 7);
        if (pixl_forward(ctx) == PIXL_OK) {
            out = malloc(sizeof(float) * (size_t)n);
            memcpy(out, pixl_tensor_data(y), sizeof(float) * (size_t)n);
        }
    }
    CHECK_MSG(out != NULL, "%s", pixl_last_error());
    pixl_ctx_free(ctx);
    return out;
}

PIXL_TEST(pag_gumbel_softmax_forward)
{
    enum { N = 2, K = 3, H = 3, W = 5, NUM = N * K * H * W };
    float x[NUM], u[NUM];
    double ref[NUM];
    pixl_test_fill_uniform(x, NUM, -2, 2, 11);
    pixl_test_fill_uniform(u, NUM, 0, 1, 12);
    u[0] = 0.0f; /* the ends of [0, 1) stay finite */
    u[1] = 0.99999994f;
    const float temps[] = {0.1f, 0.5f, 1.0f, 3.0f};
    for (int ti = 0; ti < 4; ti++) {
        gs_case c = {{N, K, H, W}, x, u, temps[ti], 0};
        gs_ref(&c, ref);
        float *y = run_gs(&c, PIXL_MODE_TRAIN, 1, 1);
        if (!y) return;
        float fr[NUM];
        for (int i = 0; i < NUM; i++) fr[i] = (float)ref[i];
        CHECK_ALLCLOSE("gumbel softmax forward", y, fr, NUM, 1e-5, 1e-6);
        free(y);
    }
}

static const gc_opts gs_opts = {.eps = 1e-3, .mode = PIXL_MODE_TRAIN};

PIXL_TEST(pag_gumbel_softmax_gradcheck)
{
    enum { N = 2, K = 3, H = 2, W = 3, NUM = N * K * H * W };
    float x[NUM], u[NUM];
    pixl_test_fill_uniform(x, NUM, -1.5f, 1.5f, 21);
    pixl_test_fill_uniform(u, NUM, 0.05f, 0.95f, 22);
    const float temps[] = {0.3f, 1.0f, 2.5f};
    for (int ti = 0; ti < 3; ti++)
        for (int ng = 0; ng < 2; ng++) {
            gs_case c = {{N, K, H, W}, x, u, temps[ti], ng};
            char what[64];
            snprintf(what, sizeof what, "gumbel softmax t=%g noise_grad=%d", temps[ti], ng);
            GRADCHECK(what, NULL, build_gs, &c, &gs_opts);
        }
    /* two channels (the gates' case) and a 1x1 map */
    gs_case c2 = {{3, 2, 1, 1}, x, u, 0.7f, 1};
    GRADCHECK("gumbel softmax K=2", NULL, build_gs, &c2, &gs_opts);
}

PIXL_TEST(pag_gumbel_softmax_eval_hard)
{
    enum { N = 2, K = 4, H = 3, W = 3, NUM = N * K * H * W, HW = H * W };
    float x[NUM], u[NUM];
    pixl_test_fill_uniform(x, NUM, -2, 2, 31);
    pixl_test_fill_uniform(u, NUM, 0, 1, 32);
    x[HW * 1 + 4] = x[HW * 2 + 4] = 5.0f; /* a tie at pixel 4 of image 0: the first channel (1) wins */
    gs_case c = {{N, K, H, W}, x, u, 0.5f, 0};
    for (int wn = 0; wn < 2; wn++) {
        float *y = run_gs(&c, PIXL_MODE_EVAL, wn, 1);
        if (!y) return;
        for (int b = 0; b < N; b++)
            for (int q = 0; q < HW; q++) {
                int best = 0;
                for (int k = 1; k < K; k++)
                    if (x[(b * K + k) * HW + q] > x[(b * K + best) * HW + q]) best = k;
                for (int k = 0; k < K; k++) CHECK(y[(b * K + k) * HW + q] == (k == best ? 1.0f : 0.0f));
            }
        CHECK(y[HW * 1 + 4] == 1.0f && y[HW * 2 + 4] == 0.0f);
        free(y);
    }
    /* EVAL_GRAD is an evaluation mode too: hard, and no gradient reaches x */
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL_GRAD);
    pixl_tensor *xi = pixl_input_grad(ctx, "x", 4, c.shape);
    pixl_tensor *y = pixl_gumbel_softmax(ctx, xi, NULL, 1.0f);
    pixl_tensor *L = pixl_sum(ctx, y);
    CHECK_OK(pixl_ctx_plan(ctx));
    memcpy(pixl_tensor_data(xi), x, sizeof x);
    CHECK_OK(pixl_forward(ctx));
    CHECK_NEAR(((float *)pixl_tensor_data(L))[0], N * H * W, 0);
    CHECK(pixl_backward(ctx, L) != PIXL_OK); /* nothing differentiable reaches the sum */
    CHECK(strstr(pixl_last_error(), "does not depend") != NULL);
    pixl_ctx_free(ctx);
}

PIXL_TEST(pag_gumbel_softmax_drawn_noise_threads)
{
    enum { N = 2, K = 3, H = 64, W = 80, NUM = N * K * H * W };
    float *x = malloc(sizeof(float) * NUM), *u = malloc(sizeof(float) * NUM);
    pixl_test_fill_uniform(x, NUM, -2, 2, 41);
    pixl_test_fill_uniform(u, NUM, 0, 1, 42);
    for (int wn = 0; wn < 2; wn++) {
        gs_case c = {{N, K, H, W}, x, u, 0.2f, 0};
        float *a = run_gs(&c, PIXL_MODE_TRAIN, wn, 1), *b = run_gs(&c, PIXL_MODE_TRAIN, wn, 2);
        if (a && b) {
            CHECK(memcmp(a, b, sizeof(float) * NUM) == 0);
            double worst = 0;
            for (int i = 0; i < N * H * W; i++) {
                int bb = i / (H * W), q = i % (H * W);
                double s = 0;
                for (int k = 0; k < K; k++) {
                    float v = a[(bb * K + k) * H * W + q];
                    CHECK(v >= 0 && v <= 1);
                    s += v;
                }
                worst = fmax(worst, fabs(s - 1));
            }
            CHECK(worst < 1e-5);
        }
        free(a);
        free(b);
    }
    free(x);
    free(u);
}

/* ============================================ straight-through Gumbel softmax */

/* the relaxed (st = 0) or straight-through (st = 1) op on x (K channels),
 * noise u (NULL: drawn), forward and backward with upstream gradient dy;
 * set_t > 0: pixl_ctx_set_temperature after planning. out, gx, gu (gu only
 * with u) receive the output and gradients; returns 0 on failure */
static int run_gs_op(int st, const int64_t *shape, const float *x, const float *u, const float *dy, float t,
                     float set_t, int threads, float *out, float *gx, float *gu)
{
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_TRAIN);
    pixl_ctx_set_threads(ctx, threads);
    pixl_tensor *xi = pixl_input_grad(ctx, "x", 4, shape), *ui = u ? pixl_input_grad(ctx, "u", 4, shape) : NULL;
    pixl_tensor *y = st ? pixl_gumbel_softmax_st(ctx, xi, ui, t) : pixl_gumbel_softmax(ctx, xi, ui, t);
    const size_t n = (size_t)(shape[0] * shape[1] * shape[2] * shape[3]);
    int ok = 0;
    if (y && pixl_ctx_plan(ctx) == PIXL_OK && (set_t <= 0 || pixl_ctx_set_temperature(ctx, set_t) == 1)) {
        memcpy(pixl_tensor_data(xi), x, n * sizeof(float));
        if (ui) memcpy(pixl_tensor_data(ui), u, n * sizeof(float));
        pixl_ctx_set_seed(ctx, 7);
        if (pixl_forward(ctx) == PIXL_OK && pixl_backward_from(ctx, y, dy) == PIXL_OK) {
            memcpy(out, pixl_tensor_data(y), n * sizeof(float));
            memcpy(gx, pixl_tensor_grad(xi), n * sizeof(float));
            if (ui) memcpy(gu, pixl_tensor_grad(ui), n * sizeof(float));
            ok = 1;
        }
    }
    CHECK_MSG(ok, "%s: %s", st ? "gumbel_softmax_st" : "gumbel_softmax",
              pixl_ctx_error(ctx) ? pixl_ctx_error(ctx) : pixl_last_error());
    pixl_ctx_free(ctx);
    return ok;
}

/* y (N, K, HW) is the one-hot of the first maximum of the relaxed r over the
 * channels (pixels whose top two of r are closer than `gap` are skipped, with
 * a count of them); returns the pixels that disagree */
static int one_hot_of(const float *y, const double *rd, const float *rf, int64_t N, int64_t K, int64_t HW, double gap,
                      int *close)
{
    int bad = 0;
    for (int64_t b = 0; b < N; b++)
        for (int64_t q = 0; q < HW; q++) {
            int64_t best = 0;
            double v1 = -INFINITY, v2 = -INFINITY;
            for (int64_t k = 0; k < K; k++) {
                const double v = rd ? rd[(b * K + k) * HW + q] : rf[(b * K + k) * HW + q];
                if (v > v1) v2 = v1, v1 = v, best = k;
                else if (v > v2) v2 = v;
            }
            if (v1 - v2 < gap) {
                (*close)++;
                continue;
            }
            for (int64_t k = 0; k < K; k++) bad += y[(b * K + k) * HW + q] != (k == best ? 1.0f : 0.0f);
        }
    return bad;
}

PIXL_TEST(pag_gumbel_softmax_st)
{
    enum { N = 2, K = 3, H = 4, W = 5, NUM = N * K * H * W, HW = H * W };
    const int64_t shape[4] = {N, K, H, W}, s2[4] = {3, 2, 2, 3};
    float x[NUM], u[NUM], dy[NUM], ya[NUM], yb[NUM], gxa[NUM], gxb[NUM], gua[NUM], gub[NUM];
    double ref[NUM];
    pixl_test_fill_uniform(x, NUM, -2, 2, 81);
    pixl_test_fill_uniform(u, NUM, 0, 1, 82);
    pixl_test_fill_uniform(dy, NUM, -1, 1, 83);
    u[0] = 0.0f;
    u[1] = 0.99999994f;
    const float temps[] = {0.1f, 0.5f, 1.0f, 3.0f};
    for (int ti = 0; ti < 4; ti++) {
        /* forward: the one-hot of the argmax of the relaxed y of the definition */
        gs_case c = {{N, K, H, W}, x, u, temps[ti], 0};
        gs_ref(&c, ref);
        if (!run_gs_op(1, shape, x, u, dy, temps[ti], 0, 1, ya, gxa, gua) ||
            !run_gs_op(0, shape, x, u, dy, temps[ti], 0, 1, yb, gxb, gub))
            return;
        int close = 0;
        CHECK_MSG(one_hot_of(ya, ref, NULL, N, K, HW, 1e-5, &close) == 0, "t %g: not the one-hot of the relaxed argmax",
                  temps[ti]);
        CHECK(close < 3);
        /* backward: the relaxed op's gradient (the same expression at the same y), bit for bit */
        CHECK_MSG(!memcmp(gxa, gxb, sizeof gxa) && !memcmp(gua, gub, sizeof gua),
                  "t %g: straight-through backward differs from the relaxed one", temps[ti]);
        double gs = 0;
        for (int i = 0; i < NUM; i++) gs += fabs(gxa[i]);
        CHECK(gs > 0);
    }
    /* the two-channel gate shape, noise drawn from the ctx stream: the same y as the relaxed op's draw */
    float x2[36], d2[36], y2a[36], y2b[36], g2a[36], g2b[36];
    pixl_test_fill_uniform(x2, 36, -1, 1, 84);
    pixl_test_fill_uniform(d2, 36, -1, 1, 85);
    for (int th = 1; th <= 2; th++) {
        if (!run_gs_op(1, s2, x2, NULL, d2, 0.7f, 0, th, y2a, g2a, NULL) ||
            !run_gs_op(0, s2, x2, NULL, d2, 0.7f, 0, th, y2b, g2b, NULL))
            return;
        int close = 0;
        CHECK(one_hot_of(y2a, NULL, y2b, 3, 2, 6, 0, &close) == 0);
        CHECK(!memcmp(g2a, g2b, sizeof g2a));
    }
    /* pixl_ctx_set_temperature reaches the straight-through node: the result at t = 0.25 */
    if (!run_gs_op(1, shape, x, u, dy, 2.0f, 0.25f, 1, ya, gxa, gua) ||
        !run_gs_op(0, shape, x, u, dy, 0.25f, 0, 1, yb, gxb, gub))
        return;
    gs_case c = {{N, K, H, W}, x, u, 0.25f, 0};
    gs_ref(&c, ref);
    int close = 0;
    CHECK(one_hot_of(ya, ref, NULL, N, K, HW, 1e-5, &close) == 0);
    CHECK(!memcmp(gxa, gxb, sizeof gxa) && !memcmp(gua, gub, sizeof gua));
}

PIXL_TEST(pag_gumbel_softmax_st_eval)
{
    /* evaluation modes: the hard one-hot of the logits, as pixl_gumbel_softmax */
    enum { N = 2, K = 2, H = 3, W = 3, NUM = N * K * H * W };
    float x[NUM];
    pixl_test_fill_uniform(x, NUM, -2, 2, 91);
    const int64_t shape[4] = {N, K, H, W};
    float *out[2] = {0};
    for (int st = 0; st < 2; st++) {
        pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL);
        pixl_tensor *xi = pixl_input(ctx, "x", PIXL_F32, 4, shape);
        pixl_tensor *y = pixl_keep(st ? pixl_gumbel_softmax_st(ctx, xi, NULL, 0.5f) : pixl_gumbel_softmax(ctx, xi, NULL, 0.5f));
        if (y && pixl_ctx_plan(ctx) == PIXL_OK) {
            memcpy(pixl_tensor_data(xi), x, sizeof x);
            if (pixl_forward(ctx) == PIXL_OK) {
                out[st] = malloc(sizeof x);
                memcpy(out[st], pixl_tensor_data(y), sizeof x);
            }
        }
        CHECK_MSG(out[st] != NULL, "%s", pixl_last_error());
        CHECK(pixl_ctx_set_temperature(ctx, 0.3f) == 1);
        pixl_ctx_free(ctx);
    }
    if (out[0] && out[1]) CHECK(!memcmp(out[0], out[1], sizeof x));
    free(out[0]);
    free(out[1]);
    /* errors name the op */
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_TRAIN);
    CHECK(pixl_gumbel_softmax_st(ctx, pixl_input(ctx, "x", PIXL_F32, 4, shape), NULL, 0.0f) == NULL);
    CHECK(strstr(pixl_ctx_error(ctx), "gumbel_softmax_st: temperature t = 0") != NULL);
    pixl_ctx_free(ctx);
}

/* ============================================================== mask gating */

typedef struct {
    int64_t gs[4], hs[4];
    const float *g, *h1, *h2;
    pixl_gate_grad_rule rule;
    int gate_const;
} mg_case;

static pixl_tensor *build_mg(pixl_ctx *ctx, void *ud)
{
    mg_case *c = ud;
    pixl_tensor *g = c->gate_const ? pixl_constant(ctx, "g", PIXL_F32, 4, c->gs, c->g) : gc_input(ctx, "g", 4, c->gs, c->g);
    return pixl_mask_gating(ctx, g, gc_input(ctx, "h1", 4, c->hs, c->h1), gc_input(ctx, "h2", 4, c->hs, c->h2),
                            c->rule);
}

/* forward and all gradients with upstream gradient dz */
static int run_mg(const mg_case *c, const float *dz, float *z, float *gg, float *g1, float *g2, int threads)
{
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL_GRAD);
    pixl_ctx_set_threads(ctx, threads);
    pixl_tensor *g = pixl_input_grad(ctx, "g", 4, c->gs), *a = pixl_input_grad(ctx, "h1", 4, c->hs),
                *b = pixl_input_grad(ctx, "h2", 4, c->hs);
    pixl_tensor *y = pixl_mask_gating(ctx, g, a, b, c->rule);
    int ok = 0;
    const size_t ng = (size_t)(c->gs[0] * c->gs[1] * c->gs[2] * c->gs[3]),
                 nh = (size_t)(c->hs[0] * c->hs[1] * c->hs[2] * c->hs[3]);
    if (y && pixl_ctx_plan(ctx) == PIXL_OK) {
        memcpy(pixl_tensor_data(g), c->g, ng * sizeof(float));
        memcpy(pixl_tensor_data(a), c->h1, nh * sizeof(float));
        memcpy(pixl_tensor_data(b), c->h2, nh * sizeof(float));
        if (pixl_forward(ctx) == PIXL_OK && pixl_backward_from(ctx, y, dz) == PIXL_OK) {
            memcpy(z, pixl_tensor_data(y), nh * sizeof(float));
            memcpy(gg, pixl_tensor_grad(g), ng * sizeof(float));
            memcpy(g1, pixl_tensor_grad(a), nh * sizeof(float));
            memcpy(g2, pixl_tensor_grad(b), nh * sizeof(float));
            ok = 1;
        }
    }
    CHECK_MSG(ok, "%s", pixl_last_error());
    pixl_ctx_free(ctx);
    return ok;
}

PIXL_TEST(pag_mask_gating)
{
    enum { N = 2, C = 5, H = 3, W = 4, HW = H * W, NG = N * 2 * HW, NH = N * C * HW };
    float g[NG], h1[NH], h2[NH], dz[NH], z[NH], gg[NG], g1[NH], g2[NH], ggm[NG], g1m[NH], g2m[NH], zm[NH];
    pixl_test_fill_uniform(g, NG, 0, 1, 51);
    pixl_test_fill_uniform(h1, NH, -1, 1, 52);
    pixl_test_fill_uniform(h2, NH, -1, 1, 53);
    pixl_test_fill_uniform(dz, NH, -1, 1, 54);
    mg_case c = {{N, 2, H, W}, {N, C, H, W}, g, h1, h2, PIXL_GATE_GRAD_TRUE, 0};
    if (!run_mg(&c, dz, z, gg, g1, g2, 1)) return;
    for (int b = 0; b < N; b++)
        for (int q = 0; q < HW; q++) {
            double s0 = 0, s1 = 0;
            for (int k = 0; k < C; k++) {
                int i = (b * C + k) * HW + q;
                CHECK_NEAR(z[i], g[b * 2 * HW + q] * h1[i] + g[b * 2 * HW + HW + q] * h2[i], 1e-6);
                CHECK_NEAR(g1[i], g[b * 2 * HW + q] * dz[i], 1e-6);
                CHECK_NEAR(g2[i], g[b * 2 * HW + HW + q] * dz[i], 1e-6);
                s0 += (double)h1[i] * dz[i];
                s1 += (double)h2[i] * dz[i];
            }
            CHECK_NEAR(gg[b * 2 * HW + q], s0, 1e-5);
            CHECK_NEAR(gg[b * 2 * HW + HW + q], s1, 1e-5);
        }
    GRADCHECK("mask gating true gradient", NULL, build_mg, &c, &(gc_opts){.eps = 1e-3});
    /* the channel-mean rule: the same z and h gradients, the gate's is 1/C of the true one */
    c.rule = PIXL_GATE_GRAD_CHANNEL_MEAN;
    if (!run_mg(&c, dz, zm, ggm, g1m, g2m, 1)) return;
    CHECK(memcmp(z, zm, sizeof z) == 0 && memcmp(g1, g1m, sizeof g1) == 0 && memcmp(g2, g2m, sizeof g2) == 0);
    float scaled[NG];
    for (int i = 0; i < NG; i++) scaled[i] = gg[i] / C;
    CHECK_ALLCLOSE("channel-mean gate gradient", ggm, scaled, NG, 1e-6, 1e-7);
    c.gate_const = 1; /* h gradients still exact under the channel-mean rule */
    GRADCHECK("mask gating channel mean (h)", NULL, build_mg, &c, &(gc_opts){.eps = 1e-3});
    /* all-zero gates: z = 0, finite gradients */
    float zero[NG] = {0};
    mg_case c0 = {{N, 2, H, W}, {N, C, H, W}, zero, h1, h2, PIXL_GATE_GRAD_TRUE, 0};
    if (!run_mg(&c0, dz, z, gg, g1, g2, 1)) return;
    for (int i = 0; i < NH; i++) CHECK(z[i] == 0 && g1[i] == 0 && g2[i] == 0);
}

PIXL_TEST(pag_mask_gating_threads)
{
    enum { N = 2, C = 16, H = 40, W = 48, NG = N * 2 * H * W, NH = N * C * H * W };
    float *buf = malloc(sizeof(float) * (size_t)(2 * NG + 10 * NH));
    float *g = buf, *h1 = g + NG, *h2 = h1 + NH, *dz = h2 + NH, *z[2], *gg[2], *g1[2], *g2[2];
    float *p = dz + NH;
    for (int r = 0; r < 2; r++) {
        z[r] = p, g1[r] = p + NH, g2[r] = p + 2 * NH, p += 3 * NH;
    }
    gg[0] = p, gg[1] = p + NG;
    pixl_test_fill_uniform(g, NG, 0, 1, 61);
    pixl_test_fill_uniform(h1, NH, -1, 1, 62);
    pixl_test_fill_uniform(h2, NH, -1, 1, 63);
    pixl_test_fill_uniform(dz, NH, -1, 1, 64);
    mg_case c = {{N, 2, H, W}, {N, C, H, W}, g, h1, h2, PIXL_GATE_GRAD_CHANNEL_MEAN, 0};
    if (run_mg(&c, dz, z[0], gg[0], g1[0], g2[0], 1) && run_mg(&c, dz, z[1], gg[1], g1[1], g2[1], 2)) {
        CHECK(memcmp(z[0], z[1], sizeof(float) * NH) == 0);
        CHECK(memcmp(gg[0], gg[1], sizeof(float) * NG) == 0);
        CHECK(memcmp(g1[0], g1[1], sizeof(float) * NH) == 0 && memcmp(g2[0], g2[1], sizeof(float) * NH) == 0);
    }
    free(buf);
}

/* ============================================================ budget losses */

enum { L_KL = 0, L_KL_COMBINED = 1, L_MILD = 2 };
typedef struct {
    int kind, n;
    int64_t shape[4][4];
    const float *g[4];
    float lambda;
} gl_case;

static pixl_tensor *build_gl(pixl_ctx *ctx, void *ud)
{
    gl_case *c = ud;
    pixl_tensor *g[4];
    for (int i = 0; i < c->n; i++) {
        char nm[16];
        snprintf(nm, sizeof nm, "g%d", i);
        g[i] = gc_input(ctx, nm, 4, c->shape[i], c->g[i]);
    }
    if (c->kind == L_KL) return pixl_gate_kl_loss(ctx, g[0], c->lambda);
    if (c->kind == L_MILD) return pixl_gate_mild_loss(ctx, g[0], c->lambda);
    return pixl_gate_kl_combined_loss(ctx, g, c->n, c->lambda);
}

static double xlogy_over(double a, double m) { return a > 0 ? a * log(a / m) : 0; }

/* direct formula: L and dL/dm1, dL/dm2 */
static double gl_ref(const gl_case *c, double *m1o, double *m2o, double *cnt)
{
    double s1 = 0, s2 = 0, n = 0;
    for (int i = 0; i < c->n; i++) {
        const int64_t *s = c->shape[i], hw = s[2] * s[3];
        for (int64_t b = 0; b < s[0]; b++)
            for (int64_t q = 0; q < hw; q++) {
                s1 += c->g[i][b * 2 * hw + q];
                s2 += c->g[i][b * 2 * hw + hw + q];
            }
        n += (double)(s[0] * hw);
    }
    double m1 = s1 / n, m2 = s2 / n, l = c->lambda;
    *m1o = m1, *m2o = m2, *cnt = n;
    if (c->kind == L_MILD) return log(1 + pow(m1 - (1 - l), 2)) + log(1 + pow(m2 - l, 2));
    return xlogy_over(l, m2) + xlogy_over(1 - l, 1 - m2) + xlogy_over(1 - l, m1) + xlogy_over(l, 1 - m1);
}

static float run_gl(gl_case *c, float **grads)
{
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL_GRAD);
    pixl_tensor *g[4];
    for (int i = 0; i < c->n; i++) g[i] = pixl_input_grad(ctx, "g", 4, c->shape[i]);
    pixl_tensor *L = c->kind == L_KL     ? pixl_gate_kl_loss(ctx, g[0], c->lambda)
                     : c->kind == L_MILD ? pixl_gate_mild_loss(ctx, g[0], c->lambda)
                                         : pixl_gate_kl_combined_loss(ctx, g, c->n, c->lambda);
    float v = NAN;
    if (L && pixl_ctx_plan(ctx) == PIXL_OK) {
        for (int i = 0; i < c->n; i++)
            memcpy(pixl_tensor_data(g[i]), c->g[i], sizeof(float) * (size_t)pixl_tensor_numel(g[i]));
        if (pixl_forward(ctx) == PIXL_OK && pixl_backward(ctx, L) == PIXL_OK) {
            v = ((float *)pixl_tensor_data(L))[0];
            for (int i = 0; grads && i < c->n; i++)
                memcpy(grads[i], pixl_tensor_grad(g[i]), sizeof(float) * (size_t)pixl_tensor_numel(g[i]));
        }
    }
    CHECK_MSG(!isnan(v), "%s", pixl_last_error());
    pixl_ctx_free(ctx);
    return v;
}

/* gates that are a softmax of random logits (sum to 1 per pixel), or free values in (0.05, 0.95) */
static void fill_gate(float *g, int64_t N, int64_t HW, unsigned long long seed, int normalised)
{
    pixl_test_fill_uniform(g, (long)(N * 2 * HW), 0.05f, 0.95f, seed);
    if (!normalised) return;
    for (int64_t b = 0; b < N; b++)
        for (int64_t q = 0; q < HW; q++) g[b * 2 * HW + HW + q] = 1.0f - g[b * 2 * HW + q];
}

PIXL_TEST(pag_budget_losses)
{
    float a[2 * 2 * 3 * 4], b[1 * 2 * 5 * 2], c3[3 * 2 * 1 * 1];
    const float lambdas[] = {0.7f, 0.8f, 0.25f, 1.0f};
    for (int norm = 0; norm < 2; norm++) {
        fill_gate(a, 2, 12, 71 + norm, norm);
        fill_gate(b, 1, 10, 73 + norm, norm);
        fill_gate(c3, 3, 1, 75 + norm, norm);
        for (int li = 0; li < 4; li++)
            for (int kind = 0; kind < 3; kind++) {
                gl_case c = {kind, kind == L_KL_COMBINED ? 3 : 1,
                             {{2, 2, 3, 4}, {1, 2, 5, 2}, {3, 2, 1, 1}}, {a, b, c3}, lambdas[li]};
                double m1, m2, cnt, ref = gl_ref(&c, &m1, &m2, &cnt);
                float ga[48], gb[20], gc[6], *grads[3] = {ga, gb, gc};
                float v = run_gl(&c, grads);
                char what[96];
                snprintf(what, sizeof what, "%s lambda=%g normalised=%d",
                         kind == L_KL ? "kl" : kind == L_MILD ? "mild" : "kl combined", lambdas[li], norm);
                CHECK_MSG(fabs(v - ref) <= 1e-5 * fmax(1, fabs(ref)), "%s: %.9g vs %.9g", what, v, ref);
                /* uniform spreading: every element of channel k has the same gradient */
                for (int i = 0; i < c.n; i++) {
                    const int64_t *s = c.shape[i], hw = s[2] * s[3], hw0 = c.shape[0][2] * c.shape[0][3];
                    for (int64_t bb = 0; bb < s[0]; bb++)
                        for (int64_t q = 0; q < hw; q++) {
                            CHECK(grads[i][bb * 2 * hw + q] == grads[0][0]);
                            CHECK(grads[i][bb * 2 * hw + hw + q] == grads[0][hw0]);
                        }
                }
                GRADCHECK(what, NULL, build_gl, &c, &(gc_opts){.eps = 1e-3});
            }
    }
    /* the combined loss of one gate is the KL loss; lambda = 1 drops the (1-lambda) terms */
    gl_case k1 = {L_KL, 1, {{2, 2, 3, 4}}, {a}, 1.0f}, kc = {L_KL_COMBINED, 1, {{2, 2, 3, 4}}, {a}, 1.0f};
    double m1, m2, cnt;
    gl_ref(&k1, &m1, &m2, &cnt);
    CHECK(run_gl(&k1, NULL) == run_gl(&kc, NULL));
    CHECK_NEAR(run_gl(&k1, NULL), -log(m2) - log(1 - m1), 1e-5);
}

PIXL_TEST(pag_budget_losses_zero_gates)
{
    float z[2 * 2 * 3 * 3] = {0}, gz[36];
    for (int kind = 0; kind < 3; kind++)
        for (int li = 0; li < 2; li++) {
            gl_case c = {kind, 1, {{2, 2, 3, 3}}, {z}, li ? 1.0f : 0.7f};
            float *grads[1] = {gz};
            float v = run_gl(&c, grads);
            CHECK_MSG(isfinite(v) && v >= 0, "kind %d: loss %g", kind, v);
            for (int i = 0; i < 36; i++) CHECK(isfinite(gz[i]));
            /* the budget pushes the computing channel open */
            CHECK(gz[9] < 0);
        }
    /* mild: exact value at m = 0 */
    gl_case c = {L_MILD, 1, {{2, 2, 3, 3}}, {z}, 0.7f};
    CHECK_NEAR(run_gl(&c, NULL), log(1 + 0.3 * 0.3) + log(1 + 0.7 * 0.7), 1e-6);
}

/* =================================================================== errors */

PIXL_TEST(pag_errors)
{
    int64_t s4[4] = {2, 4, 3, 3}, g2[4] = {2, 2, 3, 3}, g3[4] = {2, 3, 3, 3}, h[4] = {2, 5, 3, 3},
            h_bad[4] = {2, 5, 3, 4}, u_bad[4] = {2, 4, 3, 4};
    struct { const char *want; } cases[] = {{"temperature t = 0"},        {"temperature t = -0.5"},
                                             {"temperature t = nan"},      {"noise"},
                                             {"lambda = 0 "},              {"lambda = 1.5"},
                                             {"lambda = -0.2"},            {"gate"},
                                             {"h1"},                       {"gradient rule"},
                                             {"gate 1"},                   {"0 gates"}};
    for (int i = 0; i < (int)(sizeof cases / sizeof cases[0]); i++) {
        pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_TRAIN);
        pixl_tensor *x = pixl_input(ctx, "x", PIXL_F32, 4, s4), *g = pixl_input(ctx, "g", PIXL_F32, 4, g2);
        pixl_tensor *r = NULL;
        const char *op = "";
        switch (i) {
        case 0: r = pixl_gumbel_softmax(ctx, x, NULL, 0.0f), op = "gumbel_softmax"; break;
        case 1: r = pixl_gumbel_softmax(ctx, x, NULL, -0.5f), op = "gumbel_softmax"; break;
        case 2: r = pixl_gumbel_softmax(ctx, x, NULL, NAN), op = "gumbel_softmax"; break;
        case 3: r = pixl_gumbel_softmax(ctx, x, pixl_input(ctx, "u", PIXL_F32, 4, u_bad), 1), op = "gumbel_softmax"; break;
        case 4: r = pixl_gate_kl_loss(ctx, g, 0.0f), op = "gate_kl_loss"; break;
        case 5: r = pixl_gate_mild_loss(ctx, g, 1.5f), op = "gate_mild_loss"; break;
        case 6: r = pixl_gate_kl_combined_loss(ctx, &g, 1, -0.2f), op = "gate_kl_combined_loss"; break;
        case 7:
            r = pixl_mask_gating(ctx, pixl_input(ctx, "g3", PIXL_F32, 4, g3), pixl_input(ctx, "h1", PIXL_F32, 4, h),
                                 pixl_input(ctx, "h2", PIXL_F32, 4, h), PIXL_GATE_GRAD_TRUE);
            op = "mask_gating";
            break;
        case 8:
            r = pixl_mask_gating(ctx, g, pixl_input(ctx, "h1", PIXL_F32, 4, h), pixl_input(ctx, "h2", PIXL_F32, 4, h_bad),
                                 PIXL_GATE_GRAD_TRUE);
            op = "mask_gating";
            break;
        case 9:
            r = pixl_mask_gating(ctx, g, pixl_input(ctx, "h1", PIXL_F32, 4, h), pixl_input(ctx, "h2", PIXL_F32, 4, h),
                                 (pixl_gate_grad_rule)7);
            op = "mask_gating";
            break;
        case 10: {
            pixl_tensor *gs[2] = {g, pixl_input(ctx, "g3", PIXL_F32, 4, g3)};
            r = pixl_gate_kl_combined_loss(ctx, gs, 2, 0.5f), op = "gate_kl_combined_loss";
            break;
        }
        case 11: r = pixl_gate_kl_combined_loss(ctx, &g, 0, 0.5f), op = "gate_kl_combined_loss"; break;
        }
        const char *e = pixl_ctx_error(ctx);
        CHECK_MSG(r == NULL && e && strstr(e, op) && strstr(e, cases[i].want), "case %d: %s", i, e ? e : "(none)");
        pixl_ctx_free(ctx);
    }
}
