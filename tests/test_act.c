/* test_act.c — activations (src/ops/act.c): hand-computed values, gradient
 * checks of relu, leaky_relu, prelu (per-channel and shared weight), elu,
 * sigmoid, tanh, softmax, log_softmax, l2_normalize, dropout and dropout2d
 * (TRAIN, fixed seed); dropout keep rate and scaling, identity in EVAL, the
 * same mask for 1 and 2 threads, new masks each step, whole channels for
 * dropout2d; numerical stability of softmax; build errors. */
#include <stdlib.h>
#include <string.h>

#include "gradcheck.h"
#include "test.h"

static float *fdata(pixl_tensor *t) { return (float *)pixl_tensor_data(t); }
static void setf(pixl_tensor *t, const float *v) { memcpy(fdata(t), v, sizeof(float) * (size_t)pixl_tensor_numel(t)); }

/* ---------------------------------------------------------- hand values */
typedef pixl_tensor *(*unary_fn)(pixl_ctx *, pixl_tensor *);

/* y = f(x) on a 1-D x, and dx for upstream gradient 1 */
static void unary_hand(const char *what, pixl_tensor *(*build)(pixl_ctx *, pixl_tensor *, const void *),
                       const void *ud, int n, const float *x, const float *want_y, const float *want_dx, double tol)
{
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_TRAIN);
    int64_t s[1] = {n};
    pixl_tensor *in = pixl_input_grad(ctx, "x", 1, s), *y = build(ctx, in, ud);
    CHECK(y != NULL);
    CHECK_OK(pixl_ctx_plan(ctx));
    setf(in, x);
    CHECK_OK(pixl_forward(ctx));
    CHECK_ALLCLOSE(what, fdata(y), want_y, n, tol, tol);
    float ones[16];
    for (int i = 0; i < n; i++) ones[i] = 1;
    CHECK_OK(pixl_backward_from(ctx, y, ones));
    CHECK_ALLCLOSE(what, pixl_tensor_grad(in), want_dx, n, tol, tol);
    pixl_ctx_free(ctx);
}

static pixl_tensor *b_relu(pixl_ctx *c, pixl_tensor *x, const void *u) { return pixl_relu(c, x); }
static pixl_tensor *b_leaky(pixl_ctx *c, pixl_tensor *x, const void *u) { return pixl_leaky_relu(c, x, *(const float *)u); }
static pixl_tensor *b_elu(pixl_ctx *c, pixl_tensor *x, const void *u) { return pixl_elu(c, x, *(const float *)u); }
static pixl_tensor *b_sigmoid(pixl_ctx *c, pixl_tensor *x, const void *u) { return pixl_sigmoid(c, x); }
static pixl_tensor *b_tanh(pixl_ctx *c, pixl_tensor *x, const void *u) { return pixl_tanh(c, x); }

PIXL_TEST(act_hand_values)
{
    const float x[4] = {-2, -0.5f, 0.5f, 3};
    unary_hand("relu", b_relu, NULL, 4, x, (float[]){0, 0, 0.5f, 3}, (float[]){0, 0, 1, 1}, 0);
    float slope = 0.1f;
    unary_hand("leaky", b_leaky, &slope, 4, x, (float[]){-0.2f, -0.05f, 0.5f, 3}, (float[]){0.1f, 0.1f, 1, 1},
               1e-7);
    /* elu alpha 0.5: 0.5*(e^-2 - 1) = -0.432332358, 0.5*(e^-0.5 - 1) = -0.196734670;
     * grads 0.5*e^-2 = 0.067667642, 0.5*e^-0.5 = 0.303265330 */
    float alpha = 0.5f;
    unary_hand("elu", b_elu, &alpha, 4, x, (float[]){-0.432332358f, -0.196734670f, 0.5f, 3},
               (float[]){0.067667642f, 0.303265330f, 1, 1}, 1e-6);
    /* sigmoid(-2) = 0.119202922, sigmoid(-0.5) = 0.377540669, s' = s(1-s) */
    unary_hand("sigmoid", b_sigmoid, NULL, 4, x, (float[]){0.119202922f, 0.377540669f, 0.622459331f, 0.952574127f},
               (float[]){0.104993585f, 0.235003712f, 0.235003712f, 0.045176660f}, 1e-6);
    /* tanh(-2) = -0.964027580, tanh(0.5) = 0.462117157, t' = 1 - t^2 */
    unary_hand("tanh", b_tanh, NULL, 4, x, (float[]){-0.964027580f, -0.462117157f, 0.462117157f, 0.995054754f},
               (float[]){0.070650825f, 0.786447733f, 0.786447733f, 0.009866037f}, 1e-6);
}

/* softmax over channels of a (1,3,1,2) tensor: position 0 holds [1,2,3],
 * position 1 holds [1000,1000,1000] (must not overflow) */
PIXL_TEST(act_softmax_hand)
{
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_TRAIN);
    int64_t s[4] = {1, 3, 1, 2};
    pixl_tensor *x = pixl_input_grad(ctx, "x", 4, s);
    pixl_tensor *y = pixl_softmax(ctx, x), *l = pixl_log_softmax(ctx, x);
    CHECK_OK(pixl_ctx_plan(ctx));
    setf(x, (float[]){1, 1000, 2, 1000, 3, 1000});
    CHECK_OK(pixl_forward(ctx));
    const float third = 1.0f / 3;
    CHECK_ALLCLOSE("softmax", fdata(y), ((float[]){0.090030573f, third, 0.244728471f, third, 0.665240956f, third}),
                   6, 1e-6, 1e-7);
    CHECK_ALLCLOSE("log_softmax", fdata(l),
                   ((float[]){-2.407605964f, -1.098612289f, -1.407605964f, -1.098612289f, -0.407605964f,
                              -1.098612289f}),
                   6, 1e-6, 1e-6);
    /* upstream gradient e_2 at position 0: softmax grad = y_2 (e_2 - y) */
    float g[6] = {0, 0, 0, 0, 1, 0};
    CHECK_OK(pixl_backward_from(ctx, y, g));
    float y0 = 0.090030573f, y1 = 0.244728471f, y2 = 0.665240956f;
    CHECK_ALLCLOSE("softmax grad", pixl_tensor_grad(x), ((float[]){-y2 * y0, 0, -y2 * y1, 0, y2 * (1 - y2), 0}), 6,
                   1e-5, 1e-7);
    CHECK_OK(pixl_backward_from(ctx, l, g));
    /* log_softmax grad = e_2 - y */
    CHECK_ALLCLOSE("log_softmax grad", pixl_tensor_grad(x), ((float[]){-y0, 0, -y1, 0, 1 - y2, 0}), 6, 1e-5, 1e-7);
    pixl_ctx_free(ctx);
}

PIXL_TEST(act_l2_normalize_hand)
{
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_TRAIN);
    int64_t s[3] = {1, 2, 2};
    pixl_tensor *x = pixl_input_grad(ctx, "x", 3, s), *y = pixl_l2_normalize(ctx, x, 0);
    CHECK_OK(pixl_ctx_plan(ctx));
    setf(x, (float[]){3, 0, 4, 0}); /* position 0: [3,4]; position 1: zero vector */
    CHECK_OK(pixl_forward(ctx));
    CHECK_ALLCLOSE("l2n", fdata(y), ((float[]){0.6f, 0, 0.8f, 0}), 4, 1e-6, 0);
    /* dy = e_0 at position 0: (e_0 - y*y_0)/5 = [(1-0.36)/5, -0.48/5] */
    CHECK_OK(pixl_backward_from(ctx, y, (float[]){1, 0, 0, 0}));
    CHECK_ALLCLOSE("l2n grad", pixl_tensor_grad(x), ((float[]){0.128f, 0, -0.096f, 0}), 4, 1e-5, 1e-7);
    pixl_ctx_free(ctx);
}

/* ---------------------------------------------------------- gradchecks */
typedef struct { int kind; float a; int nd; int64_t s[4]; int wn; } act_case;
enum { K_RELU, K_LEAKY, K_PRELU, K_ELU, K_SIGMOID, K_TANH, K_SOFTMAX, K_LOGSOFTMAX, K_L2N, K_DROPOUT, K_DROPOUT2D };

static pixl_tensor *build_act(pixl_ctx *ctx, void *ud)
{
    act_case *c = ud;
    float v[512];
    long n = 1;
    for (int i = 0; i < c->nd; i++) n *= (long)c->s[i];
    pixl_test_fill_spaced(v, n, 77); /* no values at the kinks */
    pixl_tensor *x = gc_input(ctx, "x", c->nd, c->s, v);
    switch (c->kind) {
    case K_RELU: return pixl_relu(ctx, x);
    case K_LEAKY: return pixl_leaky_relu(ctx, x, c->a);
    case K_PRELU: return pixl_nn_prelu(ctx, "act", x, c->wn);
    case K_ELU: return pixl_elu(ctx, x, c->a);
    case K_SIGMOID: return pixl_sigmoid(ctx, x);
    case K_TANH: return pixl_tanh(ctx, x);
    case K_SOFTMAX: return pixl_softmax(ctx, x);
    case K_LOGSOFTMAX: return pixl_log_softmax(ctx, x);
    case K_L2N: return pixl_l2_normalize(ctx, x, 1e-12f);
    case K_DROPOUT: return pixl_dropout(ctx, x, c->a);
    case K_DROPOUT2D: return pixl_dropout2d(ctx, x, c->a);
    }
    return NULL;
}

PIXL_TEST(act_gradcheck)
{
    act_case cases[] = {
        {K_RELU, 0, 4, {2, 3, 4, 5}, 0},       {K_LEAKY, 0.2f, 4, {2, 3, 4, 5}, 0},
        {K_ELU, 1.0f, 4, {2, 3, 4, 5}, 0},     {K_ELU, 0.5f, 3, {2, 3, 7}, 0},
        {K_SIGMOID, 0, 4, {2, 3, 4, 5}, 0},    {K_TANH, 0, 4, {2, 3, 4, 5}, 0},
        {K_SOFTMAX, 0, 4, {2, 5, 3, 4}, 0},    {K_SOFTMAX, 0, 2, {6, 7}, 0},
        {K_SOFTMAX, 0, 3, {2, 3, 70}, 0},      {K_LOGSOFTMAX, 0, 4, {2, 5, 3, 4}, 0},
        {K_LOGSOFTMAX, 0, 2, {6, 7}, 0},       {K_L2N, 0, 4, {2, 4, 3, 3}, 0},
        {K_L2N, 0, 2, {5, 6}, 0},              {K_DROPOUT, 0.3f, 4, {2, 3, 4, 5}, 0},
        {K_DROPOUT2D, 0.5f, 4, {2, 4, 3, 3}, 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char what[48];
        snprintf(what, sizeof what, "activation kind %d case %zu", cases[k].kind, k);
        gc_opts o = {.mode = cases[k].kind >= K_DROPOUT ? PIXL_MODE_TRAIN : PIXL_MODE_EVAL_GRAD};
        GRADCHECK(what, NULL, build_act, &cases[k], &o);
    }
}

PIXL_TEST(act_prelu_gradcheck)
{
    for (int wn = 1; wn <= 3; wn += 2) {
        pixl_params *P = pixl_params_new();
        int64_t ws[1] = {wn};
        pixl_params_add(P, "act.weight", PIXL_PARAM, PIXL_F32, 1, ws, (pixl_init_spec){PIXL_INIT_UNIFORM, 0.1f, 0.6f});
        act_case c = {K_PRELU, 0, 4, {2, 3, 4, 5}, wn};
        GRADCHECK(wn == 1 ? "prelu shared" : "prelu per channel", P, build_act, &c, NULL);
        pixl_params_free(P);
    }
}

/* --------------------------------------------------------------- dropout */
typedef struct { float *y, *dx; } drop_out;

static void run_dropout(int threads, int per_channel, float p, int64_t N, int64_t C, int64_t HW, int steps,
                        drop_out *out)
{
    pixl_set_num_threads(threads);
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_TRAIN);
    int64_t s[3] = {N, C, HW};
    pixl_tensor *x = pixl_input_grad(ctx, "x", 3, s);
    pixl_tensor *y = per_channel ? pixl_dropout2d(ctx, x, p) : pixl_dropout(ctx, x, p);
    CHECK(y && y != x);
    CHECK_OK(pixl_ctx_plan(ctx));
    pixl_ctx_set_seed(ctx, 1234);
    long n = (long)(N * C * HW);
    pixl_test_fill_uniform(fdata(x), n, 1, 2, 3); /* never zero */
    float *g = malloc(sizeof(float) * (size_t)n);
    for (long i = 0; i < n; i++) g[i] = 1;
    for (int k = 0; k < steps; k++) CHECK_OK(pixl_forward(ctx));
    CHECK_OK(pixl_backward_from(ctx, y, g));
    memcpy(out->y, fdata(y), sizeof(float) * (size_t)n);
    memcpy(out->dx, pixl_tensor_grad(x), sizeof(float) * (size_t)n);
    /* kept values are x/(1-p); the gradient uses the forward's mask */
    long bad = 0;
    for (long i = 0; i < n; i++) {
        float xi = fdata(x)[i], yi = out->y[i];
        if (yi != 0 && fabsf(yi - xi / (1 - p)) > 1e-6f * yi) bad++;
        if ((yi != 0) != (out->dx[i] != 0)) bad++;
        if (out->dx[i] != 0 && fabsf(out->dx[i] - 1 / (1 - p)) > 1e-6f) bad++;
    }
    CHECK_MSG(bad == 0, "dropout: %ld elements with wrong scale or mask", bad);
    free(g);
    pixl_ctx_free(ctx);
}

PIXL_TEST(act_dropout_rate_threads_steps)
{
    int prev = pixl_num_threads();
    enum { N = 2, C = 8, HW = 20000, E = N * C * HW };
    drop_out a = {malloc(4 * E), malloc(4 * E)}, b = {malloc(4 * E), malloc(4 * E)}, c = {malloc(4 * E), malloc(4 * E)};
    run_dropout(1, 0, 0.3f, N, C, HW, 1, &a);
    run_dropout(2, 0, 0.3f, N, C, HW, 1, &b);
    CHECK(!memcmp(a.y, b.y, 4 * E));
    CHECK(!memcmp(a.dx, b.dx, 4 * E));
    long kept = 0;
    for (long i = 0; i < E; i++) kept += a.y[i] != 0;
    CHECK_NEAR((double)kept / E, 0.7, 0.01);
    /* the next step draws another mask */
    run_dropout(2, 0, 0.3f, N, C, HW, 2, &c);
    long same = 0;
    for (long i = 0; i < E; i++) same += (a.y[i] != 0) == (c.y[i] != 0);
    CHECK((double)same / E < 0.7);
    /* dropout2d: whole (n, c) planes, 1 vs 2 threads identical */
    run_dropout(1, 1, 0.5f, N, C, HW, 1, &a);
    run_dropout(2, 1, 0.5f, N, C, HW, 1, &b);
    CHECK(!memcmp(a.y, b.y, 4 * E));
    int planes_kept = 0;
    for (int pl = 0; pl < N * C; pl++) {
        long nz = 0;
        for (long i = 0; i < HW; i++) nz += a.y[pl * HW + i] != 0;
        CHECK(nz == 0 || nz == HW);
        planes_kept += nz == HW;
    }
    CHECK(planes_kept > 0 && planes_kept < N * C);
    pixl_set_num_threads(prev);
    free(a.y), free(a.dx), free(b.y), free(b.dx), free(c.y), free(c.dx);
}

PIXL_TEST(act_dropout_eval_identity_and_edges)
{
    int64_t s[2] = {4, 5};
    for (int mode = 0; mode < 3; mode += 2) { /* EVAL, EVAL_GRAD */
        pixl_ctx *ctx = pixl_ctx_new(NULL, (pixl_mode)mode);
        pixl_tensor *x = pixl_input(ctx, "x", PIXL_F32, 2, s);
        CHECK(pixl_dropout(ctx, x, 0.5f) == x);
        CHECK(pixl_dropout2d(ctx, x, 0.5f) == x);
        pixl_ctx_free(ctx);
    }
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_TRAIN);
    pixl_tensor *x = pixl_input(ctx, "x", PIXL_F32, 2, s);
    CHECK(pixl_dropout(ctx, x, 0) == x);
    pixl_tensor *all = pixl_dropout(ctx, x, 1); /* p = 1 drops everything, as PyTorch */
    CHECK_OK(pixl_ctx_plan(ctx));
    for (int i = 0; i < 20; i++) fdata(x)[i] = 1;
    CHECK_OK(pixl_forward(ctx));
    for (int i = 0; i < 20; i++) CHECK(fdata(all)[i] == 0);
    pixl_ctx_free(ctx);
}

/* Monte-Carlo dropout: off in EVAL unless the ctx asks; then only pixl_dropout_mc samples, a new mask each
 * forward, at rate p with the 1/(1-p) scale */
PIXL_TEST(act_dropout_mc_eval)
{
    enum { E = 40000 };
    int64_t s[1] = {E};
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL);
    pixl_tensor *x = pixl_input(ctx, "x", PIXL_F32, 1, s);
    CHECK(pixl_dropout_mc(ctx, x, 0.2f) == x); /* not asked for: identity */
    pixl_ctx_free(ctx);

    ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL);
    CHECK_OK(pixl_ctx_set_mc_dropout(ctx, 1));
    x = pixl_input(ctx, "x", PIXL_F32, 1, s);
    CHECK(pixl_dropout(ctx, x, 0.5f) == x); /* the other dropouts keep their inference behaviour */
    pixl_tensor *y = pixl_keep(pixl_dropout_mc(ctx, x, 0.2f));
    CHECK(y != x);
    CHECK_OK(pixl_ctx_plan(ctx));
    CHECK(pixl_ctx_set_mc_dropout(ctx, 0) == PIXL_ERR_STATE);
    for (int i = 0; i < E; i++) fdata(x)[i] = 1;
    static float first[E];
    long kept = 0, bad = 0, same = 0;
    CHECK_OK(pixl_forward(ctx));
    for (int i = 0; i < E; i++) {
        first[i] = fdata(y)[i];
        kept += first[i] != 0;
        bad += first[i] != 0 && fabsf(first[i] - 1.25f) > 1e-6f;
    }
    CHECK_NEAR((double)kept / E, 0.8, 0.01);
    CHECK(bad == 0);
    CHECK_OK(pixl_forward(ctx)); /* the next pass draws another mask */
    for (int i = 0; i < E; i++) same += (first[i] != 0) == (fdata(y)[i] != 0);
    CHECK((double)same / E < 0.75);
    pixl_ctx_free(ctx);
    /* EVAL_GRAD and TRAIN keep their behaviour */
    ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL_GRAD);
    CHECK_OK(pixl_ctx_set_mc_dropout(ctx, 1));
    x = pixl_input(ctx, "x", PIXL_F32, 1, s);
    CHECK(pixl_dropout_mc(ctx, x, 0.2f) == x);
    pixl_ctx_free(ctx);
    CHECK(pixl_ctx_set_mc_dropout(NULL, 1) == PIXL_ERR_ARG);
}

/* ---------------------------------------------------------------- errors */
PIXL_TEST(act_errors)
{
    int64_t s[4] = {2, 3, 4, 4}, ws[1] = {4}, s1[1] = {7};
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_TRAIN);
    pixl_tensor *x = pixl_input(ctx, "x", PIXL_F32, 4, s);
    CHECK(pixl_dropout(ctx, x, 1.5f) == NULL);
    CHECK(pixl_ctx_error(ctx) && strstr(pixl_ctx_error(ctx), "dropout") && strstr(pixl_ctx_error(ctx), "1.5"));
    pixl_ctx_free(ctx);

    ctx = pixl_ctx_new(NULL, PIXL_MODE_TRAIN);
    x = pixl_input(ctx, "x", PIXL_F32, 4, s);
    pixl_tensor *w = pixl_input(ctx, "w", PIXL_F32, 1, ws);
    CHECK(pixl_prelu(ctx, x, w) == NULL);
    CHECK(pixl_ctx_error(ctx) && strstr(pixl_ctx_error(ctx), "prelu") && strstr(pixl_ctx_error(ctx), "[4]") &&
          strstr(pixl_ctx_error(ctx), "[2, 3, 4, 4]"));
    pixl_ctx_free(ctx);

    ctx = pixl_ctx_new(NULL, PIXL_MODE_TRAIN);
    x = pixl_input(ctx, "x", PIXL_F32, 1, s1);
    CHECK(pixl_softmax(ctx, x) == NULL);
    CHECK(pixl_ctx_error(ctx) && strstr(pixl_ctx_error(ctx), "softmax") && strstr(pixl_ctx_error(ctx), "[7]"));
    pixl_ctx_free(ctx);

    ctx = pixl_ctx_new(NULL, PIXL_MODE_TRAIN);
    x = pixl_input(ctx, "x", PIXL_I32, 4, s);
    CHECK(pixl_relu(ctx, x) == NULL);
    CHECK(pixl_ctx_error(ctx) && strstr(pixl_ctx_error(ctx), "relu") && strstr(pixl_ctx_error(ctx), "i32"));
    pixl_ctx_free(ctx);
}

/* ------------------------------------------------------------- threads */
/* every activation gives the same bits for 1 and 2 threads (also where the
 * split between threads moves the vector/scalar boundary) */
static void run_acts_threads(int threads, float *out, float *grad, long n)
{
    pixl_set_num_threads(threads);
    pixl_params *P = pixl_params_new();
    pixl_ctx *ctx = pixl_ctx_new(P, PIXL_MODE_TRAIN);
    int64_t s[4] = {2, 7, 61, 83};
    pixl_tensor *x = pixl_input_grad(ctx, "x", 4, s);
    pixl_tensor *h = pixl_sigmoid(ctx, x);
    h = pixl_add(ctx, h, pixl_elu(ctx, x, 0.7f));
    h = pixl_add(ctx, h, pixl_tanh(ctx, x));
    h = pixl_add(ctx, h, pixl_leaky_relu(ctx, x, 0.1f));
    h = pixl_add(ctx, h, pixl_nn_prelu(ctx, "p", x, 7));
    h = pixl_add(ctx, h, pixl_softmax(ctx, x));
    h = pixl_add(ctx, h, pixl_log_softmax(ctx, x));
    h = pixl_add(ctx, h, pixl_l2_normalize(ctx, x, 0));
    pixl_tensor *y = pixl_relu(ctx, h);
    CHECK_OK(pixl_ctx_plan(ctx));
    pixl_test_fill_uniform(fdata(x), n, -6, 6, 17);
    float *g = malloc(sizeof(float) * (size_t)n);
    pixl_test_fill_uniform(g, n, -1, 1, 18);
    CHECK_OK(pixl_forward(ctx));
    CHECK_OK(pixl_backward_from(ctx, y, g));
    memcpy(out, fdata(y), sizeof(float) * (size_t)n);
    memcpy(grad, pixl_tensor_grad(x), sizeof(float) * (size_t)n);
    free(g);
    pixl_ctx_free(ctx);
    pixl_params_free(P);
}

PIXL_TEST(act_threads_identical)
{
    int prev = pixl_num_threads();
    long n = 2L * 7 * 61 * 83;
    float *a = malloc(4 * n), *b = malloc(4 * n), *ga = malloc(4 * n), *gb = malloc(4 * n);
    run_acts_threads(1, a, ga, n);
    run_acts_threads(2, b, gb, n);
    CHECK(!memcmp(a, b, 4 * n));
    CHECK(!memcmp(ga, gb, 4 * n));
    pixl_set_num_threads(prev);
    free(a), free(b), free(ga), free(gb);
}
