/* test_loss.c — loss ops (src/ops/loss.c): hand-computed values, gradient
 * checks of every loss and input (class weights, ignore_index, masks,
 * pos_weight, target gradients), the all-ignored / all-masked cases,
 * runtime errors for out-of-range targets, build errors for mismatched
 * shapes, sparse labels, and bit-identical results for 1 and 2 threads. */
#include <stdlib.h>
#include <string.h>

#include "gradcheck.h"
#include "test.h"

/* declared here until pixl.h exposes it (defined in src/ops/loss.c) */

/* ------------------------------------------------------------------ helpers */

/* Run forward + backward of a one-graph loss; returns the loss (NAN on error). */
typedef struct {
    pixl_ctx *ctx;
    pixl_tensor *x, *t, *loss;
} run1;

static int run_fwd_bwd(run1 *r, const float *xv, const float *tv_f32, const int32_t *tv_i32)
{
    if (!r->loss || pixl_ctx_plan(r->ctx)) return -100;
    memcpy(pixl_tensor_data(r->x), xv, sizeof(float) * (size_t)pixl_tensor_numel(r->x));
    if (tv_f32) memcpy(pixl_tensor_data(r->t), tv_f32, sizeof(float) * (size_t)pixl_tensor_numel(r->t));
    if (tv_i32) memcpy(pixl_tensor_data(r->t), tv_i32, sizeof(int32_t) * (size_t)pixl_tensor_numel(r->t));
    int rc = pixl_forward(r->ctx);
    if (rc) return rc;
    return pixl_backward(r->ctx, r->loss);
}

static float loss_value(pixl_tensor *L) { return ((float *)pixl_tensor_data(L))[0]; }

/* -------------------------------------------------- cross entropy: by hand */

/* logits [1,2,3], target 2:
 *   lse = 3 + log(e^-2 + e^-1 + 1) = 3 + log(1.503214724) = 3.407605964
 *   loss = lse - 3 = 0.407605964
 *   grad = softmax - onehot = [0.090030573, 0.244728471, 0.665240956 - 1] */
PIXL_TEST(loss_ce_hand_2d)
{
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_TRAIN);
    int64_t xs[2] = {1, 3}, ts[1] = {1};
    run1 r = {ctx, pixl_input_grad(ctx, "x", 2, xs), pixl_input(ctx, "t", PIXL_I32, 1, ts), NULL};
    r.loss = pixl_cross_entropy(ctx, r.x, r.t, NULL, NULL);
    float x[3] = {1, 2, 3};
    int32_t t[1] = {2};
    CHECK_OK(run_fwd_bwd(&r, x, NULL, t));
    CHECK_NEAR(loss_value(r.loss), 0.407605964, 1e-6);
    float want[3] = {0.090030573f, 0.244728471f, -0.334759044f};
    CHECK_ALLCLOSE("ce grad", pixl_tensor_grad(r.x), want, 3, 1e-5, 1e-6);
    pixl_ctx_free(ctx);
}

/* logits [[1,2,3],[0,0,0]], targets [2,0], class weights [2,1,0.5]:
 *   l0 = 0.407605964 (weight 0.5), l1 = log 3 = 1.098612289 (weight 2)
 *   MEAN = (0.5*l0 + 2*l1) / (0.5 + 2) = 2.401027560 / 2.5 = 0.960411024
 *   SUM  = 2.401027560
 *   ignore_index 0 drops sample 1: MEAN = 0.5*l0/0.5 = l0, SUM = 0.5*l0
 *   MEAN grad of sample 1 (weight 2/2.5 = 0.8): 0.8*[1/3-1, 1/3, 1/3] */
PIXL_TEST(loss_ce_hand_weights_ignore_sum)
{
    struct { pixl_reduction red; int ignore, no_ignore; double want; } cases[] = {
        {PIXL_REDUCE_MEAN, -100, 0, 0.960411024},
        {PIXL_REDUCE_SUM, -100, 0, 2.401027560},
        {PIXL_REDUCE_MEAN, 0, 0, 0.407605964},
        {PIXL_REDUCE_SUM, 0, 0, 0.203802982},
        {PIXL_REDUCE_MEAN, 0, 1, 0.960411024}, /* .ignore = 0: only -100 is skipped */
    };
    for (int k = 0; k < 5; k++) {
        pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_TRAIN);
        int64_t xs[2] = {2, 3}, ts[1] = {2}, ws[1] = {3};
        float wv[3] = {2, 1, 0.5f};
        pixl_tensor *w = pixl_constant(ctx, "w", PIXL_F32, 1, ws, wv);
        run1 r = {ctx, pixl_input_grad(ctx, "x", 2, xs), pixl_input(ctx, "t", PIXL_I32, 1, ts), NULL};
        pixl_ce_opts o = {.ignore = !cases[k].no_ignore, .ignore_index = cases[k].ignore, .reduction = cases[k].red};
        r.loss = pixl_cross_entropy(ctx, r.x, r.t, w, &o);
        float x[6] = {1, 2, 3, 0, 0, 0};
        int32_t t[2] = {2, 0};
        CHECK_OK(run_fwd_bwd(&r, x, NULL, t));
        CHECK_NEAR(loss_value(r.loss), cases[k].want, 2e-6);
        if (k == 0) {
            const float *g = pixl_tensor_grad(r.x);
            CHECK_NEAR(g[3], 0.8 * (1.0 / 3 - 1), 1e-6);
            CHECK_NEAR(g[4], 0.8 / 3, 1e-6);
            CHECK_NEAR(g[2], 0.2 * (0.665240956 - 1), 1e-6);
        }
        if (k == 2) CHECK_NEAR(pixl_tensor_grad(r.x)[3], 0.0, 0.0); /* ignored row gets nothing */
        pixl_ctx_free(ctx);
    }
}

/* The same two pixels as an NCHW image (1,3,1,2): x[c][s] = {1,0 | 2,0 | 3,0},
 * targets [2,0], no weights: MEAN = (0.407605964 + 1.098612289)/2 = 0.753109127 */
PIXL_TEST(loss_ce_hand_nchw)
{
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_TRAIN);
    int64_t xs[4] = {1, 3, 1, 2}, ts[3] = {1, 1, 2};
    run1 r = {ctx, pixl_input_grad(ctx, "x", 4, xs), pixl_input(ctx, "t", PIXL_I32, 3, ts), NULL};
    r.loss = pixl_cross_entropy(ctx, r.x, r.t, NULL, &(pixl_ce_opts){.ignore = 1, .ignore_index = 255});
    float x[6] = {1, 0, 2, 0, 3, 0};
    int32_t t[2] = {2, 0};
    CHECK_OK(run_fwd_bwd(&r, x, NULL, t));
    CHECK_NEAR(loss_value(r.loss), 0.753109127, 1e-6);
    const float *g = pixl_tensor_grad(r.x);
    float want[6] = {0.5f * 0.090030573f, 0.5f * (1.0f / 3 - 1), 0.5f * 0.244728471f, 0.5f / 3,
                     0.5f * (0.665240956f - 1), 0.5f / 3};
    CHECK_ALLCLOSE("ce nchw grad", g, want, 6, 1e-5, 1e-6);
    pixl_ctx_free(ctx);
}

/* Large logits must not overflow (stable log-softmax): [1000, 0, -1000], t 1 -> 1000 */
PIXL_TEST(loss_ce_stable)
{
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_TRAIN);
    int64_t xs[2] = {1, 3}, ts[1] = {1};
    run1 r = {ctx, pixl_input_grad(ctx, "x", 2, xs), pixl_input(ctx, "t", PIXL_I32, 1, ts), NULL};
    r.loss = pixl_cross_entropy(ctx, r.x, r.t, NULL, NULL);
    float x[3] = {1000, 0, -1000};
    int32_t t[1] = {1};
    CHECK_OK(run_fwd_bwd(&r, x, NULL, t));
    CHECK_NEAR(loss_value(r.loss), 1000.0, 1e-3);
    float want[3] = {1, -1, 0};
    CHECK_ALLCLOSE("ce stable grad", pixl_tensor_grad(r.x), want, 3, 0, 1e-6);
    pixl_ctx_free(ctx);
}

/* ----------------------------------------------- cross entropy: gradcheck */

typedef struct {
    int ndim;
    int64_t xs[4];
    const float *x;
    const int32_t *t;
    const float *w; /* NULL: no class weights */
    pixl_ce_opts o;
} ce_case;

static pixl_tensor *build_ce(pixl_ctx *ctx, void *ud)
{
    ce_case *c = ud;
    int64_t ts[3];
    ts[0] = c->xs[0];
    for (int d = 2; d < c->ndim; d++) ts[d - 1] = c->xs[d];
    pixl_tensor *x = gc_input(ctx, "logits", c->ndim, c->xs, c->x);
    pixl_tensor *t = pixl_constant(ctx, "target", PIXL_I32, c->ndim - 1, ts, c->t);
    pixl_tensor *w = c->w ? pixl_constant(ctx, "weight", PIXL_F32, 1, &c->xs[1], c->w) : NULL;
    return pixl_cross_entropy(ctx, x, t, w, &c->o);
}

PIXL_TEST(loss_ce_gradcheck)
{
    enum { N = 2, C = 5, H = 4, W = 3, P = N * H * W };
    float x[N * C * H * W], w[C] = {0.7f, 1.3f, 0.4f, 2.0f, 1.1f};
    int32_t t[P];
    pixl_test_fill_uniform(x, N * C * H * W, -2, 2, 1);
    for (int i = 0; i < P; i++) t[i] = (i * 7) % 6 == 5 ? 255 : (i * 3) % C; /* some 255 = ignored */
    pixl_reduction reds[2] = {PIXL_REDUCE_MEAN, PIXL_REDUCE_SUM};
    for (int r = 0; r < 2; r++)
        for (int use_w = 0; use_w < 2; use_w++) {
            ce_case c = {4, {N, C, H, W}, x, t, use_w ? w : NULL, {.ignore = 1, .ignore_index = 255, .reduction = reds[r]}};
            char what[64];
            snprintf(what, sizeof what, "ce nchw red=%d weights=%d", r, use_w);
            GRADCHECK(what, NULL, build_ce, &c, NULL);
        }
    /* 2-D logits, default ignore (-100) */
    int32_t t2[N * H] = {0, 4, 2, 1, 3, 3, 0, 2};
    float x2[N * H * C];
    pixl_test_fill_uniform(x2, N * H * C, -3, 3, 2);
    ce_case c2 = {2, {N * H, C}, x2, t2, w, {.ignore = 0}};
    GRADCHECK("ce 2d default-ignore weights", NULL, build_ce, &c2, NULL);
    /* 3-D logits (N,C,L) */
    ce_case c3 = {3, {N, C, H * W}, x, t, NULL, {.ignore = 1, .ignore_index = 255}};
    GRADCHECK("ce 3d", NULL, build_ce, &c3, NULL);
}

/* All pixels ignored: PyTorch's MEAN gives NaN; pixl gives 0 and zero grads. */
PIXL_TEST(loss_ce_all_ignored)
{
    for (int r = 0; r < 2; r++)
        for (int use_w = 0; use_w < 2; use_w++) {
            pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_TRAIN);
            int64_t xs[4] = {2, 3, 2, 2}, ts[3] = {2, 2, 2}, ws[1] = {3};
            float wv[3] = {1, 2, 3};
            pixl_tensor *w = use_w ? pixl_constant(ctx, "w", PIXL_F32, 1, ws, wv) : NULL;
            run1 rr = {ctx, pixl_input_grad(ctx, "x", 4, xs), pixl_input(ctx, "t", PIXL_I32, 3, ts), NULL};
            rr.loss = pixl_cross_entropy(ctx, rr.x, rr.t, w,
                                         &(pixl_ce_opts){.ignore = 1, .ignore_index = -1, .reduction = (pixl_reduction)r});
            float x[24];
            int32_t t[8];
            pixl_test_fill_uniform(x, 24, -1, 1, 3);
            for (int i = 0; i < 8; i++) t[i] = -1;
            CHECK_OK(run_fwd_bwd(&rr, x, NULL, t));
            CHECK(loss_value(rr.loss) == 0.0f);
            const float *g = pixl_tensor_grad(rr.x);
            int nz = 0;
            for (int i = 0; i < 24; i++) nz += g[i] != 0.0f;
            CHECK_MSG(nz == 0, "%d nonzero gradients with every pixel ignored", nz);
            pixl_ctx_free(ctx);
        }
}

/* Class weights summing to 0 over the counted pixels: also 0, not NaN. */
PIXL_TEST(loss_ce_zero_weight_sum)
{
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_TRAIN);
    int64_t xs[2] = {2, 3}, ts[1] = {2}, ws[1] = {3};
    float wv[3] = {0, 1, 1};
    pixl_tensor *w = pixl_constant(ctx, "w", PIXL_F32, 1, ws, wv);
    run1 r = {ctx, pixl_input_grad(ctx, "x", 2, xs), pixl_input(ctx, "t", PIXL_I32, 1, ts), NULL};
    r.loss = pixl_cross_entropy(ctx, r.x, r.t, w, NULL);
    float x[6] = {1, 2, 3, 4, 5, 6};
    int32_t t[2] = {0, 0};
    CHECK_OK(run_fwd_bwd(&r, x, NULL, t));
    CHECK(loss_value(r.loss) == 0.0f);
    for (int i = 0; i < 6; i++) CHECK(pixl_tensor_grad(r.x)[i] == 0.0f);
    pixl_ctx_free(ctx);
}

/* A target outside [0,C) is a runtime error of pixl_forward, naming value and position. */
PIXL_TEST(loss_ce_bad_target)
{
    struct { int32_t bad; int no_ignore; const char *pos; } cases[] = {
        {7, 0, "[1, 0, 1]"}, {-1, 0, "[1, 0, 1]"}, {3, 0, "[1, 0, 1]"}, {255, 1, "[1, 0, 1]"}};
    for (int k = 0; k < 4; k++) {
        pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_TRAIN);
        int64_t xs[4] = {2, 3, 2, 2}, ts[3] = {2, 2, 2};
        run1 r = {ctx, pixl_input_grad(ctx, "x", 4, xs), pixl_input(ctx, "t", PIXL_I32, 3, ts), NULL};
        r.loss = pixl_cross_entropy(ctx, r.x, r.t, NULL,
                                    &(pixl_ce_opts){.ignore = !cases[k].no_ignore, .ignore_index = 255});
        CHECK_OK(pixl_ctx_plan(ctx));
        float x[24] = {0};
        int32_t t[8] = {0, 1, 2, cases[k].no_ignore ? 0 : 255, 0, cases[k].bad, 1, 2};
        memcpy(pixl_tensor_data(r.x), x, sizeof x);
        memcpy(pixl_tensor_data(r.t), t, sizeof t);
        int rc = pixl_forward(ctx);
        CHECK(rc == PIXL_ERR_ARG);
        char val[32];
        snprintf(val, sizeof val, "value %d", (int)cases[k].bad);
        CHECK_MSG(strstr(pixl_last_error(), val) && strstr(pixl_last_error(), cases[k].pos) &&
                      strstr(pixl_last_error(), "cross_entropy"),
                  "error message: %s", pixl_last_error());
        pixl_ctx_free(ctx);
    }
    /* NULL (or zeroed) options skip -100 as PyTorch does */
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL);
    int64_t xs[2] = {2, 3}, ts[1] = {2};
    pixl_tensor *x = pixl_input(ctx, "x", PIXL_F32, 2, xs), *t = pixl_input(ctx, "t", PIXL_I32, 1, ts);
    pixl_tensor *L = pixl_cross_entropy(ctx, x, t, NULL, NULL);
    CHECK_OK(pixl_ctx_plan(ctx));
    float xv[6] = {1, 2, 3, 0, 0, 0};
    int32_t tv[2] = {2, -100};
    memcpy(pixl_tensor_data(x), xv, sizeof xv);
    memcpy(pixl_tensor_data(t), tv, sizeof tv);
    CHECK_OK(pixl_forward(ctx));
    CHECK_NEAR(loss_value(L), 0.407605964, 1e-6);
    pixl_ctx_free(ctx);
}

PIXL_TEST(loss_ce_shape_errors)
{
    int64_t xs[4] = {2, 3, 4, 5}, bad_ts[3] = {2, 4, 6}, ts[3] = {2, 4, 5}, ws[1] = {4};
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_TRAIN);
    pixl_tensor *x = pixl_input_grad(ctx, "logits", 4, xs);
    pixl_tensor *tb = pixl_input(ctx, "target", PIXL_I32, 3, bad_ts);
    CHECK(pixl_cross_entropy(ctx, x, tb, NULL, NULL) == NULL);
    const char *e = pixl_ctx_error(ctx);
    CHECK_MSG(e && strstr(e, "cross_entropy") && strstr(e, "[2, 4, 6]") && strstr(e, "[2, 3, 4, 5]"), "error: %s",
              e ? e : "(none)");
    pixl_ctx_free(ctx);

    ctx = pixl_ctx_new(NULL, PIXL_MODE_TRAIN);
    x = pixl_input_grad(ctx, "logits", 4, xs);
    pixl_tensor *t = pixl_input(ctx, "target", PIXL_I32, 3, ts);
    pixl_tensor *w = pixl_constant(ctx, "w", PIXL_F32, 1, ws, NULL);
    CHECK(pixl_cross_entropy(ctx, x, t, w, NULL) == NULL);
    e = pixl_ctx_error(ctx);
    CHECK_MSG(e && strstr(e, "cross_entropy") && strstr(e, "[4]"), "error: %s", e ? e : "(none)");
    pixl_ctx_free(ctx);

    ctx = pixl_ctx_new(NULL, PIXL_MODE_TRAIN);
    x = pixl_input_grad(ctx, "logits", 4, xs);
    t = pixl_input(ctx, "target", PIXL_F32, 3, ts); /* float targets */
    CHECK(pixl_cross_entropy(ctx, x, t, NULL, NULL) == NULL);
    CHECK(pixl_ctx_error(ctx) && strstr(pixl_ctx_error(ctx), "int32"));
    /* NULL input: NULL without overwriting the first error */
    CHECK(pixl_cross_entropy(ctx, NULL, t, NULL, NULL) == NULL);
    CHECK(strstr(pixl_ctx_error(ctx), "int32"));
    pixl_ctx_free(ctx);

    /* class weights that want a gradient */
    ctx = pixl_ctx_new(NULL, PIXL_MODE_TRAIN);
    int64_t ws3[1] = {3};
    x = pixl_input_grad(ctx, "logits", 4, xs);
    t = pixl_input(ctx, "target", PIXL_I32, 3, ts);
    w = pixl_input_grad(ctx, "w", 1, ws3);
    CHECK(pixl_cross_entropy(ctx, x, t, w, NULL) == NULL);
    CHECK(pixl_ctx_error(ctx) && strstr(pixl_ctx_error(ctx), "gradient"));
    pixl_ctx_free(ctx);
}

/* Mostly-ignored labels (PixelPick-style) give the same result as a plain
 * double-precision reference over the few labelled pixels. */
PIXL_TEST(loss_ce_sparse_labels)
{
    enum { N = 2, C = 7, H = 37, W = 29, S = H * W };
    float *x = malloc(sizeof(float) * N * C * S), wv[C] = {1, 2, 0.5f, 1, 1.5f, 0.25f, 3};
    int32_t *t = malloc(sizeof(int32_t) * N * S);
    pixl_test_fill_uniform(x, N * C * S, -4, 4, 5);
    int labelled = 0;
    for (int i = 0; i < N * S; i++) {
        t[i] = (i * 2654435761u) % 53 == 0 ? (int32_t)(i % C) : 255;
        labelled += t[i] != 255;
    }
    CHECK(labelled > 10 && labelled < N * S / 20);
    double num = 0, den = 0;
    for (int i = 0; i < N * S; i++) {
        if (t[i] == 255) continue;
        int n = i / S, s = i % S;
        double m = -INFINITY, z = 0;
        for (int c = 0; c < C; c++) m = fmax(m, x[(n * C + c) * S + s]);
        for (int c = 0; c < C; c++) z += exp(x[(n * C + c) * S + s] - m);
        num += wv[t[i]] * (m + log(z) - x[(n * C + t[i]) * S + s]);
        den += wv[t[i]];
    }
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_TRAIN);
    int64_t xs[4] = {N, C, H, W}, ts[3] = {N, H, W}, ws[1] = {C};
    run1 r = {ctx, pixl_input_grad(ctx, "x", 4, xs), pixl_input(ctx, "t", PIXL_I32, 3, ts), NULL};
    r.loss = pixl_cross_entropy(ctx, r.x, r.t, pixl_constant(ctx, "w", PIXL_F32, 1, ws, wv),
                                &(pixl_ce_opts){.ignore = 1, .ignore_index = 255});
    CHECK_OK(run_fwd_bwd(&r, x, NULL, t));
    CHECK_NEAR(loss_value(r.loss), num / den, 1e-5 * fabs(num / den));
    /* gradient is zero exactly at ignored pixels and sums to 0 over classes elsewhere */
    const float *g = pixl_tensor_grad(r.x);
    int bad = 0;
    for (int i = 0; i < N * S; i++) {
        int n = i / S, s = i % S;
        double sum = 0, nz = 0;
        for (int c = 0; c < C; c++) {
            sum += g[(n * C + c) * S + s];
            nz += g[(n * C + c) * S + s] != 0;
        }
        if (t[i] == 255 ? nz != 0 : fabs(sum) > 1e-7) bad++;
    }
    CHECK_MSG(bad == 0, "%d pixels with a wrong gradient pattern", bad);
    pixl_ctx_free(ctx);
    free(x);
    free(t);
}

/* int64 targets are accepted too */
PIXL_TEST(loss_ce_int64_target)
{
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL);
    int64_t xs[2] = {2, 3}, ts[1] = {2};
    pixl_tensor *x = pixl_input(ctx, "x", PIXL_F32, 2, xs), *t = pixl_input(ctx, "t", PIXL_I64, 1, ts);
    pixl_tensor *L = pixl_cross_entropy(ctx, x, t, NULL, NULL);
    CHECK_OK(pixl_ctx_plan(ctx));
    float xv[6] = {1, 2, 3, 0, 0, 0};
    int64_t tv[2] = {2, 0};
    memcpy(pixl_tensor_data(x), xv, sizeof xv);
    memcpy(pixl_tensor_data(t), tv, sizeof tv);
    CHECK_OK(pixl_forward(ctx));
    CHECK_NEAR(loss_value(L), 0.753109127, 1e-6);
    pixl_ctx_free(ctx);
}

/* ---------------------------------------------- BCE with logits: by hand */

/* (N,C) = (2,1), x = [0, 2], t = [1, 0], pos_weight [3]:
 *   x=0,t=1: l = (1+2*1)*softplus(0) = 3 log 2 = 2.079441542
 *   x=2,t=0: l = 2 + softplus(-2) = 2 + log(1+e^-2) = 2.126928011
 *   MEAN = 2.103184776
 *   d/dx: (1-t) - (1+(pw-1)t)*sigmoid(-x): -1.5 and sigmoid(2) = 0.880797078, /2
 *   d/dt: (pw-1)*softplus(-x) - x: 2 log 2 = 1.386294361 and 2*0.126928011 - 2, /2 */
PIXL_TEST(loss_bce_hand)
{
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_TRAIN);
    int64_t xs[2] = {2, 1}, ps[1] = {1};
    float pw = 3;
    pixl_tensor *x = pixl_input_grad(ctx, "x", 2, xs), *t = pixl_input_grad(ctx, "t", 2, xs);
    run1 r = {ctx, x, t, pixl_bce_with_logits(ctx, x, t, pixl_constant(ctx, "pw", PIXL_F32, 1, ps, &pw),
                                              PIXL_REDUCE_MEAN)};
    float xv[2] = {0, 2}, tv[2] = {1, 0};
    CHECK_OK(run_fwd_bwd(&r, xv, tv, NULL));
    CHECK_NEAR(loss_value(r.loss), 2.103184776, 1e-6);
    float gx[2] = {-0.75f, 0.440398539f}, gt[2] = {0.693147181f, (2 * 0.126928011f - 2) / 2};
    CHECK_ALLCLOSE("bce dx", pixl_tensor_grad(x), gx, 2, 1e-5, 1e-6);
    CHECK_ALLCLOSE("bce dt", pixl_tensor_grad(t), gt, 2, 1e-5, 1e-6);
    pixl_ctx_free(ctx);

    /* stability: x = +-100 with matching targets -> ~0 loss, no NaN */
    ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL);
    pixl_tensor *x2 = pixl_input(ctx, "x", PIXL_F32, 2, xs), *t2 = pixl_input(ctx, "t", PIXL_F32, 2, xs);
    pixl_tensor *L = pixl_bce_with_logits(ctx, x2, t2, NULL, PIXL_REDUCE_SUM);
    CHECK_OK(pixl_ctx_plan(ctx));
    float xv2[2] = {100, -100}, tv2[2] = {1, 0};
    memcpy(pixl_tensor_data(x2), xv2, sizeof xv2);
    memcpy(pixl_tensor_data(t2), tv2, sizeof tv2);
    CHECK_OK(pixl_forward(ctx));
    CHECK(isfinite(loss_value(L)) && loss_value(L) >= 0 && loss_value(L) < 1e-30);
    pixl_ctx_free(ctx);
}

/* -------------------------------------------- regression losses: by hand */

/* x = [1,2,3], t = [1.5,2,1], d = [-0.5, 0, 2]
 *   L1:  |d| = .5,0,2           MEAN 2.5/3 = 0.833333333   dx = sign(d)/3 = [-1,0,1]/3
 *   MSE: d^2 = .25,0,4          MEAN 4.25/3 = 1.416666667  dx = 2d/3 = [-1,0,4]/3
 *   SmoothL1 beta 1: .125,0,1.5 MEAN 1.625/3 = 0.541666667 dx = [-0.5,0,1]/3
 *   SmoothL1 beta .5: .25,0,1.75 SUM 2.0                   dx = [-1,0,1]
 *   SmoothL1 beta 0 == L1
 *   mask [1,0,1]: L1 MEAN = 2.5/2 = 1.25, dx = [-0.5, 0, 0.5] */
typedef struct { int kind; float beta; pixl_reduction red; int use_mask; double want; float dx[3]; } reg_case;

static pixl_tensor *reg_loss(pixl_ctx *ctx, int kind, pixl_tensor *x, pixl_tensor *t, pixl_tensor *m,
                             pixl_reduction red, float beta)
{
    switch (kind) {
    case 0: return pixl_l1_loss(ctx, x, t, m, red);
    case 1: return pixl_mse_loss(ctx, x, t, m, red);
    default: return pixl_smooth_l1_loss(ctx, x, t, m, red, beta);
    }
}

PIXL_TEST(loss_regression_hand)
{
    const float third = 1.0f / 3;
    reg_case cases[] = {
        {0, 0, PIXL_REDUCE_MEAN, 0, 0.833333333, {-third, 0, third}},
        {1, 0, PIXL_REDUCE_MEAN, 0, 1.416666667, {-third, 0, 4 * third}},
        {2, 1, PIXL_REDUCE_MEAN, 0, 0.541666667, {-0.5f * third, 0, third}},
        {2, 0.5f, PIXL_REDUCE_SUM, 0, 2.0, {-1, 0, 1}},
        {2, 0, PIXL_REDUCE_MEAN, 0, 0.833333333, {-third, 0, third}},
        {0, 0, PIXL_REDUCE_MEAN, 1, 1.25, {-0.5f, 0, 0.5f}},
        {1, 0, PIXL_REDUCE_SUM, 1, 4.25, {-1, 0, 4}},
    };
    for (int k = 0; k < (int)(sizeof cases / sizeof cases[0]); k++) {
        reg_case *c = &cases[k];
        pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_TRAIN);
        int64_t s[1] = {3};
        float mv[3] = {1, 0, 1};
        pixl_tensor *x = pixl_input_grad(ctx, "x", 1, s), *t = pixl_input_grad(ctx, "t", 1, s);
        pixl_tensor *m = c->use_mask ? pixl_constant(ctx, "m", PIXL_F32, 1, s, mv) : NULL;
        run1 r = {ctx, x, t, reg_loss(ctx, c->kind, x, t, m, c->red, c->beta)};
        float xv[3] = {1, 2, 3}, tv[3] = {1.5f, 2, 1};
        CHECK_OK(run_fwd_bwd(&r, xv, tv, NULL));
        CHECK_MSG(fabs(loss_value(r.loss) - c->want) < 1e-6, "case %d: loss %.9g want %.9g", k, loss_value(r.loss),
                  c->want);
        float ndx[3] = {-c->dx[0], -c->dx[1], -c->dx[2]};
        CHECK_ALLCLOSE("regression dx", pixl_tensor_grad(x), c->dx, 3, 1e-6, 1e-7);
        CHECK_ALLCLOSE("regression dt", pixl_tensor_grad(t), ndx, 3, 1e-6, 1e-7);
        pixl_ctx_free(ctx);
    }
}

/* ---------------------------------------- elementwise losses: gradcheck */

typedef struct {
    int kind; /* 0 l1, 1 mse, 2 smooth l1, 3 bce, 4 bce_ex */
    float beta;
    pixl_reduction red;
    const float *x, *t, *mask, *pw, *w;
    int64_t pw_n;
    int w_full;
    int target_grad;
} ew_case;

static pixl_tensor *build_ew(pixl_ctx *ctx, void *ud)
{
    ew_case *c = ud;
    int64_t s[4] = {2, 3, 4, 5}, cs[1] = {c->pw_n ? c->pw_n : 3};
    pixl_tensor *x = gc_input(ctx, "x", 4, s, c->x);
    pixl_tensor *t = c->target_grad ? gc_input(ctx, "target", 4, s, c->t)
                                    : pixl_constant(ctx, "target", PIXL_F32, 4, s, c->t);
    pixl_tensor *m = c->mask ? pixl_constant(ctx, "mask", PIXL_F32, 4, s, c->mask) : NULL;
    pixl_tensor *pw = c->pw ? pixl_constant(ctx, "pw", PIXL_F32, 1, cs, c->pw) : NULL;
    pixl_tensor *w = NULL;
    if (c->w) w = c->w_full ? pixl_constant(ctx, "w", PIXL_F32, 4, s, c->w) : pixl_constant(ctx, "w", PIXL_F32, 1, cs, c->w);
    switch (c->kind) {
    case 3: return pixl_bce_with_logits(ctx, x, t, pw, c->red);
    case 4: return pixl_bce_with_logits_ex(ctx, x, t, pw, w, m, c->red);
    default: return reg_loss(ctx, c->kind, x, t, m, c->red, c->beta);
    }
}

PIXL_TEST(loss_elementwise_gradcheck)
{
    enum { E = 2 * 3 * 4 * 5 };
    float x[E], off[E], t[E], tb[E], mask[E], wfull[E], pw[3] = {0.5f, 2, 4}, wc[3] = {1.5f, 0.2f, 1};
    pixl_test_fill_uniform(x, E, -2, 2, 11);
    pixl_test_fill_spaced(off, E, 12); /* |x - t| >= 0.025: away from the L1 kink */
    for (int i = 0; i < E; i++) {
        t[i] = x[i] + off[i] * 1.5f;
        mask[i] = (float)((i * 5) % 7 < 4);
        /* smooth L1 (beta 0.5): keep |d| away from beta where the 2nd derivative jumps */
        if (fabs(fabs(t[i] - x[i]) - 0.5) < 0.03) t[i] += 0.1f;
    }
    pixl_test_fill_uniform(tb, E, 0, 1, 13);
    pixl_test_fill_uniform(wfull, E, 0.1f, 2, 14);
    const char *names[] = {"l1", "mse", "smooth_l1", "bce", "bce_ex"};
    for (int kind = 0; kind < 5; kind++)
        for (int r = 0; r < 2; r++)
            for (int use_mask = 0; use_mask < 2; use_mask++) {
                if (kind == 3 && use_mask) continue; /* the public BCE has no mask */
                ew_case c = {.kind = kind, .beta = 0.5f, .red = (pixl_reduction)r, .x = x, .t = kind >= 3 ? tb : t,
                             .mask = use_mask ? mask : NULL, .pw = kind >= 3 ? pw : NULL, .pw_n = 3,
                             .target_grad = 1};
                if (kind == 4) {
                    c.w = r ? wc : wfull; /* per-channel and elementwise weights */
                    c.w_full = !r;
                }
                char what[80];
                snprintf(what, sizeof what, "%s red=%d mask=%d", names[kind], r, use_mask);
                GRADCHECK(what, NULL, build_ew, &c, NULL);
            }
    /* BCE with a single pos_weight, target without gradient */
    float pw1 = 2.5f;
    ew_case c = {.kind = 3, .red = PIXL_REDUCE_MEAN, .x = x, .t = tb, .pw = &pw1, .pw_n = 1};
    GRADCHECK("bce pos_weight[1]", NULL, build_ew, &c, NULL);
    /* smooth L1 with beta 0 behaves as L1 */
    ew_case c0 = {.kind = 2, .beta = 0, .red = PIXL_REDUCE_MEAN, .x = x, .t = t, .mask = mask, .target_grad = 1};
    GRADCHECK("smooth_l1 beta=0", NULL, build_ew, &c0, NULL);
}

/* Everything masked out: loss 0 and zero gradients; NaN under the mask does not leak. */
PIXL_TEST(loss_masked_out)
{
    for (int kind = 0; kind < 4; kind++) { /* l1, mse, smooth l1, bce_ex */
        pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_TRAIN);
        int64_t s[2] = {2, 4};
        float zero[8] = {0};
        pixl_tensor *x = pixl_input_grad(ctx, "x", 2, s), *t = pixl_input_grad(ctx, "t", 2, s);
        pixl_tensor *m0 = pixl_constant(ctx, "m0", PIXL_F32, 2, s, zero);
        pixl_tensor *m1 = pixl_constant(ctx, "m1", PIXL_U8, 2, s, NULL); /* u8 mask, one element on */
        ((uint8_t *)pixl_tensor_data(m1))[1] = 1;
        pixl_tensor *L0 = kind == 3 ? pixl_bce_with_logits_ex(ctx, x, t, NULL, NULL, m0, PIXL_REDUCE_MEAN)
                                    : reg_loss(ctx, kind, x, t, m0, PIXL_REDUCE_MEAN, 1);
        pixl_tensor *L1 = kind == 3 ? pixl_bce_with_logits_ex(ctx, x, t, NULL, NULL, m1, PIXL_REDUCE_SUM)
                                    : reg_loss(ctx, kind, x, t, m1, PIXL_REDUCE_SUM, 1);
        CHECK(L0 && L1);
        CHECK_OK(pixl_ctx_plan(ctx));
        float xv[8] = {NAN, 0.5f, 1, 2, 3, 4, 5, 6}, tv[8] = {0, 0.25f, 0, 0, 0, 0, 0, 0};
        memcpy(pixl_tensor_data(x), xv, sizeof xv);
        memcpy(pixl_tensor_data(t), tv, sizeof tv);
        CHECK_OK(pixl_forward(ctx));
        CHECK(loss_value(L0) == 0.0f);
        CHECK(isfinite(loss_value(L1)) && loss_value(L1) > 0);
        CHECK_OK(pixl_backward(ctx, L0));
        for (int i = 0; i < 8; i++) CHECK(pixl_tensor_grad(x)[i] == 0.0f && pixl_tensor_grad(t)[i] == 0.0f);
        CHECK_OK(pixl_backward(ctx, L1));
        for (int i = 0; i < 8; i++) CHECK(i == 1 ? pixl_tensor_grad(x)[i] != 0.0f : pixl_tensor_grad(x)[i] == 0.0f);
        pixl_ctx_free(ctx);
    }
}

PIXL_TEST(loss_elementwise_shape_errors)
{
    int64_t a[4] = {2, 3, 4, 5}, b[4] = {2, 3, 5, 4}, c3[1] = {4};
    for (int kind = 0; kind < 4; kind++) {
        static const char *ops[] = {"l1_loss", "mse_loss", "smooth_l1_loss", "bce_with_logits"};
        pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_TRAIN);
        pixl_tensor *x = pixl_input_grad(ctx, "x", 4, a), *t = pixl_input(ctx, "target", PIXL_F32, 4, b);
        pixl_tensor *L = kind == 3 ? pixl_bce_with_logits(ctx, x, t, NULL, PIXL_REDUCE_MEAN)
                                   : reg_loss(ctx, kind, x, t, NULL, PIXL_REDUCE_MEAN, 1);
        CHECK(L == NULL);
        const char *e = pixl_ctx_error(ctx);
        CHECK_MSG(e && strstr(e, ops[kind]) && strstr(e, "[2, 3, 4, 5]") && strstr(e, "[2, 3, 5, 4]"), "error: %s",
                  e ? e : "(none)");
        pixl_ctx_free(ctx);
    }
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_TRAIN);
    pixl_tensor *x = pixl_input_grad(ctx, "x", 4, a), *t = pixl_input(ctx, "target", PIXL_F32, 4, a);
    pixl_tensor *m = pixl_input(ctx, "mask", PIXL_F32, 4, b);
    CHECK(pixl_l1_loss(ctx, x, t, m, PIXL_REDUCE_MEAN) == NULL);
    CHECK(pixl_ctx_error(ctx) && strstr(pixl_ctx_error(ctx), "mask [2, 3, 5, 4]"));
    pixl_ctx_free(ctx);
    ctx = pixl_ctx_new(NULL, PIXL_MODE_TRAIN);
    x = pixl_input_grad(ctx, "x", 4, a);
    t = pixl_input(ctx, "target", PIXL_F32, 4, a);
    pixl_tensor *pw = pixl_input(ctx, "pw", PIXL_F32, 1, c3);
    CHECK(pixl_bce_with_logits(ctx, x, t, pw, PIXL_REDUCE_MEAN) == NULL);
    CHECK(pixl_ctx_error(ctx) && strstr(pixl_ctx_error(ctx), "pos_weight pw [4]"));
    pixl_ctx_free(ctx);
    ctx = pixl_ctx_new(NULL, PIXL_MODE_TRAIN);
    x = pixl_input_grad(ctx, "x", 4, a);
    t = pixl_input(ctx, "target", PIXL_F32, 4, a);
    CHECK(pixl_smooth_l1_loss(ctx, x, t, NULL, PIXL_REDUCE_MEAN, -1) == NULL);
    CHECK(pixl_ctx_error(ctx) && strstr(pixl_ctx_error(ctx), "beta"));
    pixl_ctx_free(ctx);
}

/* ------------------------------------------------------ thread invariance */

typedef struct { float loss; float *gx, *gt; } tres;

static tres run_threads(int threads, int which, const float *x, const float *tf, const int32_t *ti, const float *mask,
                        int64_t n, int64_t c, int64_t h, int64_t w)
{
    pixl_set_num_threads(threads);
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_TRAIN);
    int64_t xs[4] = {n, c, h, w}, ts[3] = {n, h, w};
    tres r = {0};
    pixl_tensor *xt = pixl_input_grad(ctx, "x", 4, xs), *tt, *L;
    if (which == 0) {
        tt = pixl_input(ctx, "t", PIXL_I32, 3, ts);
        L = pixl_cross_entropy(ctx, xt, tt, NULL, &(pixl_ce_opts){.ignore = 1, .ignore_index = 255});
    } else {
        tt = pixl_input_grad(ctx, "t", 4, xs);
        pixl_tensor *m = pixl_constant(ctx, "m", PIXL_F32, 4, xs, mask);
        L = which == 1 ? pixl_mse_loss(ctx, xt, tt, m, PIXL_REDUCE_MEAN)
                       : pixl_bce_with_logits(ctx, xt, tt, NULL, PIXL_REDUCE_MEAN);
    }
    run1 rr = {ctx, xt, tt, L};
    if (run_fwd_bwd(&rr, x, which ? tf : NULL, which ? NULL : ti) == 0) {
        size_t bytes = sizeof(float) * (size_t)(n * c * h * w);
        r.loss = loss_value(L);
        r.gx = malloc(bytes);
        memcpy(r.gx, pixl_tensor_grad(xt), bytes);
        if (which) {
            r.gt = malloc(bytes);
            memcpy(r.gt, pixl_tensor_grad(tt), bytes);
        }
    }
    pixl_ctx_free(ctx);
    return r;
}

PIXL_TEST(loss_threads_identical)
{
    enum { N = 3, C = 6, H = 41, W = 53, E = N * C * H * W };
    int saved = pixl_num_threads();
    float *x = malloc(sizeof(float) * E), *tf = malloc(sizeof(float) * E), *mask = malloc(sizeof(float) * E);
    int32_t *ti = malloc(sizeof(int32_t) * N * H * W);
    pixl_test_fill_uniform(x, E, -5, 5, 21);
    pixl_test_fill_uniform(tf, E, 0, 1, 22);
    for (int i = 0; i < E; i++) mask[i] = (float)(i % 3 != 0);
    for (int i = 0; i < N * H * W; i++) ti[i] = i % 11 == 0 ? 255 : (int32_t)((i * 7) % C);
    for (int which = 0; which < 3; which++) {
        tres a = run_threads(1, which, x, tf, ti, mask, N, C, H, W);
        tres b = run_threads(2, which, x, tf, ti, mask, N, C, H, W);
        CHECK(a.gx && b.gx);
        if (a.gx && b.gx) {
            CHECK_MSG(memcmp(&a.loss, &b.loss, sizeof a.loss) == 0, "loss %d: %.9g vs %.9g", which, a.loss, b.loss);
            CHECK_MSG(memcmp(a.gx, b.gx, sizeof(float) * E) == 0, "grad x differs between 1 and 2 threads (%d)", which);
            if (which) CHECK(memcmp(a.gt, b.gt, sizeof(float) * E) == 0);
        }
        free(a.gx);
        free(a.gt);
        free(b.gx);
        free(b.gt);
    }
    pixl_set_num_threads(saved);
    free(x);
    free(tf);
    free(mask);
    free(ti);
}
