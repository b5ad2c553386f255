/* test_norm.c — normalisation (src/ops/norm.c): batch norm forward values and
 * running-statistic updates after two forwards (momentum and cumulative
 * average), EVAL using running statistics without updating them, gradient
 * checks in TRAIN and EVAL_GRAD (4-D and 2-D, affine and not, no running
 * statistics), group norm values and gradient checks (groups 1, 2, C, no
 * affine), bit-identical results for 1 and 2 threads, build errors. */
#include <stdlib.h>
#include <string.h>

#include "gradcheck.h"
#include "test.h"

static float *fdata(pixl_tensor *t) { return (float *)pixl_tensor_data(t); }
static void setf(pixl_tensor *t, const float *v) { memcpy(fdata(t), v, sizeof(float) * (size_t)pixl_tensor_numel(t)); }
static float *pdata(pixl_params *P, const char *name) { return pixl_params_data(P, pixl_params_find(P, name)); }

/* x (2,2,1,2): channel 0 holds 1,2 | 3,4; channel 1 holds 10,20 | 30,40 */
static const float bn_x[8] = {1, 2, 10, 20, 3, 4, 30, 40};

PIXL_TEST(norm_bn_train_hand_and_running_stats)
{
    pixl_params *P = pixl_params_new();
    pixl_ctx *ctx = pixl_ctx_new(P, PIXL_MODE_TRAIN);
    int64_t s[4] = {2, 2, 1, 2};
    pixl_tensor *x = pixl_input(ctx, "x", PIXL_F32, 4, s), *y = pixl_nn_batch_norm2d(ctx, "bn", x, NULL);
    CHECK(y != NULL);
    CHECK_OK(pixl_ctx_plan(ctx));
    setf(x, bn_x);
    pdata(P, "bn.weight")[1] = 2;
    pdata(P, "bn.bias")[1] = 0.5f;
    CHECK_OK(pixl_forward(ctx));
    /* channel 0: mean 2.5, biased var 1.25; channel 1: mean 25, var 125 */
    double r0 = 1 / sqrt(1.25 + 1e-5), r1 = 1 / sqrt(125 + 1e-5);
    float want[8] = {(float)(-1.5 * r0), (float)(-0.5 * r0), (float)(-15 * r1 * 2 + 0.5), (float)(-5 * r1 * 2 + 0.5),
                     (float)(0.5 * r0),  (float)(1.5 * r0),  (float)(5 * r1 * 2 + 0.5),   (float)(15 * r1 * 2 + 0.5)};
    CHECK_ALLCLOSE("bn train", fdata(y), want, 8, 1e-6, 1e-6);
    /* running stats, momentum 0.1, unbiased variance (5/3 and 500/3) */
    CHECK_NEAR(pdata(P, "bn.running_mean")[0], 0.25, 1e-7);
    CHECK_NEAR(pdata(P, "bn.running_mean")[1], 2.5, 1e-6);
    CHECK_NEAR(pdata(P, "bn.running_var")[0], 0.9 + 0.1 * 5 / 3.0, 1e-6);
    CHECK_NEAR(pdata(P, "bn.running_var")[1], 0.9 + 0.1 * 500 / 3.0, 1e-5);
    CHECK(*(int64_t *)pixl_params_data(P, pixl_params_find(P, "bn.num_batches_tracked")) == 1);
    CHECK_OK(pixl_forward(ctx));
    CHECK_NEAR(pdata(P, "bn.running_mean")[0], 0.475, 1e-7);
    CHECK_NEAR(pdata(P, "bn.running_mean")[1], 4.75, 1e-6);
    CHECK_NEAR(pdata(P, "bn.running_var")[0], 0.9 * (0.9 + 0.1 * 5 / 3.0) + 0.1 * 5 / 3.0, 1e-6);
    CHECK_NEAR(pdata(P, "bn.running_var")[1], 0.9 * (0.9 + 0.1 * 500 / 3.0) + 0.1 * 500 / 3.0, 1e-5);
    CHECK(*(int64_t *)pixl_params_data(P, pixl_params_find(P, "bn.num_batches_tracked")) == 2);
    pixl_ctx_free(ctx);

    /* EVAL with those statistics: no update, running statistics used */
    float rm0 = pdata(P, "bn.running_mean")[0], rv0 = pdata(P, "bn.running_var")[0];
    ctx = pixl_ctx_new(P, PIXL_MODE_EVAL);
    x = pixl_input(ctx, "x", PIXL_F32, 4, s);
    y = pixl_nn_batch_norm2d(ctx, "bn", x, NULL);
    CHECK_OK(pixl_ctx_plan(ctx));
    setf(x, bn_x);
    CHECK_OK(pixl_forward(ctx));
    CHECK_NEAR(fdata(y)[0], (1 - rm0) / sqrt(rv0 + 1e-5), 1e-6);
    CHECK(pdata(P, "bn.running_mean")[0] == rm0 && pdata(P, "bn.running_var")[0] == rv0);
    CHECK(*(int64_t *)pixl_params_data(P, pixl_params_find(P, "bn.num_batches_tracked")) == 2);
    pixl_ctx_free(ctx);
    pixl_params_free(P);
}

/* momentum < 0: PyTorch's momentum=None (cumulative average) */
PIXL_TEST(norm_bn_cumulative_average)
{
    pixl_params *P = pixl_params_new();
    pixl_ctx *ctx = pixl_ctx_new(P, PIXL_MODE_TRAIN);
    int64_t s[4] = {2, 2, 1, 2};
    pixl_tensor *x = pixl_input(ctx, "x", PIXL_F32, 4, s);
    pixl_bn_opts o = {0, -1};
    pixl_tensor *y = pixl_nn_batch_norm2d(ctx, "bn", x, &o);
    CHECK(y != NULL);
    CHECK_OK(pixl_ctx_plan(ctx));
    setf(x, bn_x);
    CHECK_OK(pixl_forward(ctx));
    float x2[8];
    for (int i = 0; i < 8; i++) x2[i] = bn_x[i] + 1;
    setf(x, x2);
    CHECK_OK(pixl_forward(ctx));
    /* average of the two batch means / unbiased variances */
    CHECK_NEAR(pdata(P, "bn.running_mean")[0], 3.0, 1e-6);
    CHECK_NEAR(pdata(P, "bn.running_mean")[1], 25.5, 1e-5);
    CHECK_NEAR(pdata(P, "bn.running_var")[0], 5 / 3.0, 1e-6);
    CHECK_NEAR(pdata(P, "bn.running_var")[1], 500 / 3.0, 1e-4);
    pixl_ctx_free(ctx);
    pixl_params_free(P);
}

/* ----------------------------------------------------------- gradchecks */
typedef struct {
    int nd;
    int64_t s[4];
    int affine, track; /* track: running statistics given */
    int group_norm, groups;
} norm_case;

static pixl_tensor *build_norm(pixl_ctx *ctx, void *ud)
{
    norm_case *c = ud;
    float v[512];
    long n = 1;
    for (int i = 0; i < c->nd; i++) n *= (long)c->s[i];
    pixl_test_fill_uniform(v, n, -2, 3, 55);
    pixl_tensor *x = gc_input(ctx, "x", c->nd, c->s, v);
    pixl_tensor *w = c->affine ? pixl_param_ref(ctx, "n.weight") : NULL;
    pixl_tensor *b = c->affine ? pixl_param_ref(ctx, "n.bias") : NULL;
    if (c->group_norm) return pixl_group_norm(ctx, x, c->groups, w, b, 1e-5f);
    pixl_tensor *rm = c->track ? pixl_param_ref(ctx, "n.running_mean") : NULL;
    pixl_tensor *rv = c->track ? pixl_param_ref(ctx, "n.running_var") : NULL;
    pixl_tensor *nb = c->track ? pixl_param_ref(ctx, "n.num_batches_tracked") : NULL;
    return pixl_batch_norm2d(ctx, x, w, b, rm, rv, nb, NULL);
}

static pixl_params *norm_params(int64_t C)
{
    pixl_params *P = pixl_params_new();
    int64_t s[1] = {C}, one[1] = {1};
    pixl_params_add(P, "n.weight", PIXL_PARAM, PIXL_F32, 1, s, (pixl_init_spec){PIXL_INIT_UNIFORM, 0.5f, 1.5f});
    pixl_params_add(P, "n.bias", PIXL_PARAM, PIXL_F32, 1, s, (pixl_init_spec){PIXL_INIT_UNIFORM, -0.5f, 0.5f});
    pixl_params_add(P, "n.running_mean", PIXL_BUFFER, PIXL_F32, 1, s, (pixl_init_spec){PIXL_INIT_UNIFORM, -0.5f, 0.5f});
    pixl_params_add(P, "n.running_var", PIXL_BUFFER, PIXL_F32, 1, s, (pixl_init_spec){PIXL_INIT_UNIFORM, 0.5f, 2});
    pixl_params_add(P, "n.num_batches_tracked", PIXL_BUFFER, PIXL_I64, 1, one, (pixl_init_spec){PIXL_INIT_CONST, 0, 0});
    return P;
}

PIXL_TEST(norm_bn_gradcheck)
{
    norm_case cases[] = {
        {4, {2, 3, 4, 5}, 1, 1, 0, 0}, {2, {6, 4}, 1, 1, 0, 0},        {4, {2, 3, 4, 5}, 0, 1, 0, 0},
        {4, {3, 2, 3, 3}, 1, 0, 0, 0}, {3, {2, 3, 7}, 1, 1, 0, 0},
    };
    pixl_mode modes[2] = {PIXL_MODE_TRAIN, PIXL_MODE_EVAL_GRAD};
    for (int m = 0; m < 2; m++)
        for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
            pixl_params *P = norm_params(cases[k].s[1]);
            char what[64];
            snprintf(what, sizeof what, "batch_norm %s case %zu", m ? "EVAL_GRAD" : "TRAIN", k);
            gc_opts o = {.mode = modes[m]};
            GRADCHECK(what, P, build_norm, &cases[k], &o);
            pixl_params_free(P);
        }
}

PIXL_TEST(norm_gn_gradcheck)
{
    norm_case cases[] = {
        {4, {2, 6, 3, 4}, 1, 0, 1, 2}, {4, {2, 6, 3, 4}, 1, 0, 1, 1}, {4, {2, 6, 3, 4}, 1, 0, 1, 6},
        {4, {2, 6, 3, 4}, 0, 0, 1, 3}, {3, {3, 4, 5}, 1, 0, 1, 2},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        pixl_params *P = norm_params(cases[k].s[1]);
        char what[64];
        snprintf(what, sizeof what, "group_norm case %zu", k);
        GRADCHECK(what, P, build_norm, &cases[k], NULL);
        pixl_params_free(P);
    }
}

PIXL_TEST(norm_gn_hand)
{
    /* (1,4,1,2) in 2 groups: group 0 = 1,2,3,4 (mean 2.5, var 1.25), group 1 = 0,0,0,8 (mean 2, var 12) */
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL);
    int64_t s[4] = {1, 4, 1, 2}, cs[1] = {4};
    pixl_tensor *x = pixl_input(ctx, "x", PIXL_F32, 4, s);
    pixl_tensor *w = pixl_constant(ctx, "w", PIXL_F32, 1, cs, (float[]){1, 2, 1, 1});
    pixl_tensor *b = pixl_constant(ctx, "b", PIXL_F32, 1, cs, (float[]){0, 0, 0, 1});
    pixl_tensor *y = pixl_group_norm(ctx, x, 2, w, b, 1e-5f);
    CHECK_OK(pixl_ctx_plan(ctx));
    setf(x, (float[]){1, 2, 3, 4, 0, 0, 0, 8});
    CHECK_OK(pixl_forward(ctx));
    double r0 = 1 / sqrt(1.25 + 1e-5), r1 = 1 / sqrt(12 + 1e-5);
    float want[8] = {(float)(-1.5 * r0), (float)(-0.5 * r0), (float)(1 * r0), (float)(3 * r0),
                     (float)(-2 * r1),   (float)(-2 * r1),   (float)(-2 * r1 + 1), (float)(6 * r1 + 1)};
    CHECK_ALLCLOSE("group norm", fdata(y), want, 8, 1e-6, 1e-6);
    pixl_ctx_free(ctx);
}

/* ------------------------------------------------- threads, performance */
typedef struct { float *y, *dx, *dw, *db, *rm; } bn_run;

static void run_bn_threads(int threads, int gn, int64_t N, int64_t C, int64_t H, int64_t W, bn_run *r)
{
    pixl_set_num_threads(threads);
    pixl_params *P = norm_params(C);
    pixl_ctx *ctx = pixl_ctx_new(P, PIXL_MODE_TRAIN);
    int64_t s[4] = {N, C, H, W};
    pixl_tensor *x = pixl_input_grad(ctx, "x", 4, s);
    pixl_tensor *w = pixl_param_ref(ctx, "n.weight"), *b = pixl_param_ref(ctx, "n.bias");
    pixl_tensor *y = gn ? pixl_group_norm(ctx, x, 4, w, b, 0)
                        : pixl_batch_norm2d(ctx, x, w, b, pixl_param_ref(ctx, "n.running_mean"),
                                            pixl_param_ref(ctx, "n.running_var"), NULL, NULL);
    CHECK_OK(pixl_ctx_plan(ctx));
    long n = (long)(N * C * H * W);
    pixl_test_fill_uniform(fdata(x), n, -1, 3, 8);
    float *g = malloc(sizeof(float) * (size_t)n);
    pixl_test_fill_uniform(g, n, -1, 1, 9);
    pixl_params_zero_grad(P);
    CHECK_OK(pixl_forward(ctx));
    CHECK_OK(pixl_backward_from(ctx, y, g));
    memcpy(r->y, fdata(y), 4 * (size_t)n);
    memcpy(r->dx, pixl_tensor_grad(x), 4 * (size_t)n);
    memcpy(r->dw, pixl_params_grad(P, pixl_params_find(P, "n.weight")), 4 * (size_t)C);
    memcpy(r->db, pixl_params_grad(P, pixl_params_find(P, "n.bias")), 4 * (size_t)C);
    memcpy(r->rm, pdata(P, "n.running_mean"), 4 * (size_t)C);
    free(g);
    pixl_ctx_free(ctx);
    pixl_params_free(P);
}

PIXL_TEST(norm_threads_identical)
{
    int prev = pixl_num_threads();
    enum { N = 2, C = 16, H = 37, W = 41, E = N * C * H * W };
    for (int gn = 0; gn < 2; gn++) {
        bn_run a = {malloc(4 * E), malloc(4 * E), malloc(4 * C), malloc(4 * C), malloc(4 * C)};
        bn_run b = {malloc(4 * E), malloc(4 * E), malloc(4 * C), malloc(4 * C), malloc(4 * C)};
        run_bn_threads(1, gn, N, C, H, W, &a);
        run_bn_threads(2, gn, N, C, H, W, &b);
        CHECK(!memcmp(a.y, b.y, 4 * E));
        CHECK(!memcmp(a.dx, b.dx, 4 * E));
        CHECK(!memcmp(a.dw, b.dw, 4 * C));
        CHECK(!memcmp(a.db, b.db, 4 * C));
        if (!gn) CHECK(!memcmp(a.rm, b.rm, 4 * C));
        free(a.y), free(a.dx), free(a.dw), free(a.db), free(a.rm);
        free(b.y), free(b.dx), free(b.dw), free(b.db), free(b.rm);
    }
    pixl_set_num_threads(prev);
}

/* statistics of data far from zero (mean 1000, std 0.01) stay accurate */
PIXL_TEST(norm_bn_offset_data)
{
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_TRAIN);
    int64_t s[2] = {1000, 1};
    pixl_tensor *x = pixl_input(ctx, "x", PIXL_F32, 2, s);
    pixl_tensor *y = pixl_batch_norm2d(ctx, x, NULL, NULL, NULL, NULL, NULL, &(pixl_bn_opts){1e-9f, 0});
    CHECK_OK(pixl_ctx_plan(ctx));
    for (int i = 0; i < 1000; i++) fdata(x)[i] = 1000.0f + (i % 2 ? 0.0078125f : -0.0078125f);
    CHECK_OK(pixl_forward(ctx));
    CHECK_NEAR(fdata(y)[0], -1, 1e-4);
    CHECK_NEAR(fdata(y)[1], 1, 1e-4);
    pixl_ctx_free(ctx);
}

/* ---------------------------------------------------------------- errors */
PIXL_TEST(norm_errors)
{
    int64_t s[4] = {2, 3, 4, 5}, c4[1] = {4}, c3[1] = {3}, one[4] = {1, 3, 1, 1};
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_TRAIN);
    pixl_tensor *x = pixl_input(ctx, "x", PIXL_F32, 4, s);
    pixl_tensor *w = pixl_input(ctx, "w", PIXL_F32, 1, c4);
    CHECK(pixl_batch_norm2d(ctx, x, w, NULL, NULL, NULL, NULL, NULL) == NULL);
    const char *e = pixl_ctx_error(ctx);
    CHECK(e && strstr(e, "batch_norm2d") && strstr(e, "[4]") && strstr(e, "[2, 3, 4, 5]"));
    pixl_ctx_free(ctx);

    /* channel count of the layer's parameters differs from a second input */
    pixl_params *P = pixl_params_new();
    ctx = pixl_ctx_new(P, PIXL_MODE_TRAIN);
    x = pixl_input(ctx, "x", PIXL_F32, 4, s);
    int64_t s4[4] = {2, 4, 4, 5};
    pixl_tensor *x4 = pixl_input(ctx, "x4", PIXL_F32, 4, s4);
    CHECK(pixl_nn_batch_norm2d(ctx, "bn", x, NULL) != NULL);
    CHECK(pixl_nn_batch_norm2d(ctx, "bn", x4, NULL) == NULL);
    e = pixl_ctx_error(ctx);
    CHECK(e && strstr(e, "bn.weight") && strstr(e, "[3]") && strstr(e, "[4]"));
    pixl_ctx_free(ctx);
    pixl_params_free(P);

    /* one value per channel cannot be normalised with batch statistics */
    ctx = pixl_ctx_new(NULL, PIXL_MODE_TRAIN);
    x = pixl_input(ctx, "x", PIXL_F32, 4, one);
    CHECK(pixl_batch_norm2d(ctx, x, NULL, NULL, NULL, NULL, NULL, NULL) == NULL);
    e = pixl_ctx_error(ctx);
    CHECK(e && strstr(e, "batch_norm2d") && strstr(e, "[1, 3, 1, 1]"));
    pixl_ctx_free(ctx);

    ctx = pixl_ctx_new(NULL, PIXL_MODE_TRAIN);
    x = pixl_input(ctx, "x", PIXL_F32, 4, s);
    pixl_tensor *rm = pixl_input(ctx, "rm", PIXL_F32, 1, c3);
    CHECK(pixl_batch_norm2d(ctx, x, NULL, NULL, rm, NULL, NULL, NULL) == NULL);
    CHECK(pixl_ctx_error(ctx) && strstr(pixl_ctx_error(ctx), "running_var"));
    pixl_ctx_free(ctx);

    ctx = pixl_ctx_new(NULL, PIXL_MODE_TRAIN);
    x = pixl_input(ctx, "x", PIXL_F32, 4, s);
    CHECK(pixl_group_norm(ctx, x, 2, NULL, NULL, 0) == NULL);
    e = pixl_ctx_error(ctx);
    CHECK(e && strstr(e, "group_norm") && strstr(e, "2 groups") && strstr(e, "[2, 3, 4, 5]"));
    pixl_ctx_free(ctx);

    ctx = pixl_ctx_new(NULL, PIXL_MODE_TRAIN);
    x = pixl_input(ctx, "x", PIXL_F32, 4, s);
    w = pixl_input(ctx, "w", PIXL_F32, 1, c4);
    CHECK(pixl_group_norm(ctx, x, 3, w, NULL, 0) == NULL);
    e = pixl_ctx_error(ctx);
    CHECK(e && strstr(e, "group_norm") && strstr(e, "[4]") && strstr(e, "[2, 3, 4, 5]"));
    pixl_ctx_free(ctx);
}
