/* test_pag_layers.c — the PAG layers (src/nn/pag_layers.c): the gate unit,
 * the gated 3x3 conv of a bottleneck and MultiPool. Parameter names and
 * shapes equal in every mode, finite-difference gradients (softmax and
 * Gumbel gates with fixed noise, blur, stride 2; both gate-gradient rules;
 * MultiPool with fixed noise) w.r.t. inputs and parameters, the sparse EVAL
 * path against the dense EVAL_GRAD computation with the same hard gates,
 * and build errors. PyTorch parity is in tests/ref/pag (pixl check). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gradcheck.h"
#include "test.h"

/* every parameter and buffer of P filled with spread values (running_var
 * positive, num_batches_tracked left alone) */
static void perturb_params(pixl_params *P, unsigned long long seed)
{
    for (int i = 0; i < pixl_params_count(P); i++) {
        if (pixl_params_dtype(P, i) != PIXL_F32) continue;
        const char *nm = pixl_params_name(P, i);
        float *d = pixl_params_data(P, i);
        long n = (long)pixl_params_numel(P, i);
        if (strstr(nm, "running_var")) pixl_test_fill_uniform(d, n, 0.5f, 1.5f, seed + (unsigned)i);
        else if (strstr(nm, "running_mean")) pixl_test_fill_uniform(d, n, -0.3f, 0.3f, seed + (unsigned)i);
        else if (strstr(nm, ".weight") && pixl_params_ndim(P, i) == 1) /* BN / affine scales */
            pixl_test_fill_uniform(d, n, 0.6f, 1.4f, seed + (unsigned)i);
        else pixl_test_fill_uniform(d, n, -0.5f, 0.5f, seed + (unsigned)i);
    }
}

/* ======================================================= parameter names */

static void build_all(pixl_ctx *ctx, int64_t C)
{
    int64_t xs[4] = {1, C, 6, 6};
    pixl_tensor *x = pixl_input(ctx, "x", PIXL_F32, 4, xs);
    pixl_tensor *g = pixl_nn_gate(ctx, "res2_1.gate", x, &(pixl_gate_opts){.blur = 1});
    pixl_tensor *z = pixl_nn_gated_conv3x3(ctx, "res2_1.conv2", "res2_1.bn2", x, g, 1, PIXL_GATE_GRAD_CHANNEL_MEAN);
    pixl_multipool_opts mo = {.n_scales = 3, .scales = {1, 2, 4}, .hidden = {8, 4}};
    pixl_tensor *a = NULL, *y = pixl_nn_multipool(ctx, "mp", z, &mo, &a);
    CHECK_MSG(y && a, "%s", pixl_ctx_error(ctx) ? pixl_ctx_error(ctx) : "");
}

PIXL_TEST(pag_layers_params_same_in_every_mode)
{
    const pixl_mode modes[3] = {PIXL_MODE_TRAIN, PIXL_MODE_EVAL_GRAD, PIXL_MODE_EVAL};
    pixl_params *P[3];
    for (int m = 0; m < 3; m++) {
        P[m] = pixl_params_new();
        pixl_ctx *ctx = pixl_ctx_new(P[m], modes[m]);
        build_all(ctx, 5);
        pixl_ctx_free(ctx);
    }
    static const char *const want[] = {
        "res2_1.gate.weight", "res2_1.gate.bias", "res2_1.conv2.weight", "res2_1.bn2.weight",
        "res2_1.bn2.bias", "res2_1.bn2.running_mean", "res2_1.bn2.running_var", "res2_1.bn2.num_batches_tracked",
        "mp.branch1.weight", "mp.branch1.affine.weight", "mp.branch1.affine.bias", "mp.branch2.weight",
        "mp.branch2.affine.weight", "mp.branch2.affine.bias", "mp.branch3.weight", "mp.branch3.affine.weight",
        "mp.branch3.affine.bias", "mp.att.0.weight", "mp.att.1.weight", "mp.att.1.bias", "mp.att.1.running_mean",
        "mp.att.1.running_var", "mp.att.1.num_batches_tracked", "mp.att.3.weight", "mp.att.4.weight",
        "mp.att.4.bias", "mp.att.4.running_mean", "mp.att.4.running_var", "mp.att.4.num_batches_tracked",
        "mp.att.6.weight", "mp.att.6.bias"};
    const int nw = (int)(sizeof want / sizeof want[0]);
    for (int m = 0; m < 3; m++) {
        CHECK_MSG(pixl_params_count(P[m]) == nw, "mode %d: %d parameters, want %d", m, pixl_params_count(P[m]), nw);
        for (int i = 0; i < nw && i < pixl_params_count(P[m]); i++) {
            CHECK_MSG(!strcmp(pixl_params_name(P[m], i), want[i]), "mode %d: parameter %d is %s, want %s", m, i,
                      pixl_params_name(P[m], i), want[i]);
            CHECK(pixl_params_ndim(P[m], i) == pixl_params_ndim(P[0], i));
            CHECK(!memcmp(pixl_params_shape(P[m], i), pixl_params_shape(P[0], i),
                          sizeof(int64_t) * (size_t)pixl_params_ndim(P[0], i)));
            /* the same initial values: the same initialisers in the same order */
            if (pixl_params_dtype(P[m], i) == PIXL_F32)
                CHECK(!memcmp(pixl_params_data(P[m], i), pixl_params_data(P[0], i),
                              sizeof(float) * (size_t)pixl_params_numel(P[0], i)));
        }
    }
    /* shapes that matter */
    int i = pixl_params_find(P[0], "res2_1.gate.weight");
    CHECK(i >= 0 && pixl_params_shape(P[0], i)[0] == 2 && pixl_params_shape(P[0], i)[1] == 5);
    i = pixl_params_find(P[0], "mp.att.6.weight");
    CHECK(i >= 0 && pixl_params_shape(P[0], i)[0] == 4 && pixl_params_shape(P[0], i)[1] == 4);
    i = pixl_params_find(P[0], "mp.att.3.weight");
    CHECK(i >= 0 && pixl_params_shape(P[0], i)[0] == 4 && pixl_params_shape(P[0], i)[1] == 8 &&
          pixl_params_shape(P[0], i)[2] == 3);
    /* the gate's init: N(0, 1) weights (spread well beyond the default conv init), zero bias */
    i = pixl_params_find(P[0], "res2_1.gate.weight");
    double ss = 0;
    const float *w = pixl_params_data(P[0], i);
    for (int k = 0; k < 10; k++) ss += (double)w[k] * w[k];
    CHECK(ss / 10 > 0.2);
    i = pixl_params_find(P[0], "res2_1.gate.bias");
    CHECK(((float *)pixl_params_data(P[0], i))[0] == 0 && ((float *)pixl_params_data(P[0], i))[1] == 0);
    for (int m = 0; m < 3; m++) pixl_params_free(P[m]);
}

/* ================================================================ gate unit */

typedef struct {
    int64_t xs[4];
    const float *x, *u;
    pixl_gate_opts o;
} gate_case;

static pixl_tensor *build_gate(pixl_ctx *ctx, void *ud)
{
    gate_case *c = ud;
    pixl_tensor *x = gc_input(ctx, "x", 4, c->xs, c->x);
    pixl_gate_opts o = c->o;
    if (!o.soft) {
        const int s = o.stride > 0 ? o.stride : 1;
        int64_t us[4] = {c->xs[0], 2, (c->xs[2] - 1) / s + 1, (c->xs[3] - 1) / s + 1};
        o.noise = pixl_constant(ctx, "u", PIXL_F32, 4, us, c->u);
    }
    return pixl_nn_gate(ctx, "gate", x, &o);
}

PIXL_TEST(pag_layers_gate_gradcheck)
{
    enum { N = 2, C = 3, H = 5, W = 6, NX = N * C * H * W };
    float x[NX], u[N * 2 * H * W];
    pixl_test_fill_uniform(x, NX, -1, 1, 101);
    pixl_test_fill_uniform(u, N * 2 * H * W, 0.05f, 0.95f, 102);
    for (int soft = 0; soft < 2; soft++)
        for (int blur = 0; blur < 2; blur++)
            for (int stride = 1; stride <= 2; stride++) {
                gate_case c = {{N, C, H, W}, x, u, {.soft = soft, .t = 0.7f, .blur = blur, .stride = stride}};
                char what[96];
                snprintf(what, sizeof what, "gate soft=%d blur=%d stride=%d", soft, blur, stride);
                pixl_params *P = pixl_params_new();
                const gc_opts go = {.eps = 1e-3, .mode = PIXL_MODE_TRAIN};
                GRADCHECK(what, P, build_gate, &c, &go);
                /* the weights reached the gradcheck: the gate's two parameters exist */
                CHECK(pixl_params_count(P) == 2);
                pixl_params_free(P);
            }
}

/* the gate's values against the definition (conv1x1 -> blur -> softmax) */
PIXL_TEST(pag_layers_gate_values)
{
    enum { N = 1, C = 2, H = 4, W = 5, HW = H * W };
    float x[N * C * HW];
    pixl_test_fill_uniform(x, N * C * HW, -1, 1, 111);
    for (int mode = 0; mode < 2; mode++) {
        pixl_params *P = pixl_params_new();
        pixl_ctx *ctx = pixl_ctx_new(P, mode ? PIXL_MODE_TRAIN : PIXL_MODE_EVAL);
        int64_t xs[4] = {N, C, H, W};
        pixl_tensor *xi = pixl_input(ctx, "x", PIXL_F32, 4, xs);
        pixl_tensor *g = pixl_keep(pixl_nn_gate(ctx, "g", xi, &(pixl_gate_opts){.soft = 1, .blur = 1}));
        CHECK_OK(pixl_ctx_plan(ctx));
        float *w = pixl_params_data(P, pixl_params_find(P, "g.weight")), *b = pixl_params_data(P, pixl_params_find(P, "g.bias"));
        b[0] = 0.1f, b[1] = -0.2f;
        memcpy(pixl_tensor_data(xi), x, sizeof x);
        CHECK_OK(pixl_forward(ctx));
        const float *y = pixl_tensor_data(g);
        double lg[2][HW];
        for (int k = 0; k < 2; k++)
            for (int q = 0; q < HW; q++) lg[k][q] = b[k] + (double)w[k * 2] * x[q] + (double)w[k * 2 + 1] * x[HW + q];
        for (int r = 0; r < H; r++)
            for (int c = 0; c < W; c++) {
                double z[2];
                for (int k = 0; k < 2; k++) {
                    double s = 0;
                    for (int dr = -1; dr <= 1; dr++)
                        for (int dc = -1; dc <= 1; dc++)
                            if (r + dr >= 0 && r + dr < H && c + dc >= 0 && c + dc < W) s += lg[k][(r + dr) * W + c + dc];
                    z[k] = s / 9; /* zeros outside count */
                }
                double p1 = 1 / (1 + exp(z[0] - z[1]));
                const int q = r * W + c;
                if (mode) {
                    CHECK_NEAR(y[HW + q], p1, 1e-6);
                    CHECK_NEAR(y[q], 1 - p1, 1e-6);
                } else {
                    CHECK(y[HW + q] == (z[1] > z[0] ? 1.0f : 0.0f) && y[q] == 1.0f - y[HW + q]);
                }
            }
        pixl_ctx_free(ctx);
        pixl_params_free(P);
    }
}

/* init_on: a new gate starts computing nearly everywhere; an existing one
 * (a loaded checkpoint's) keeps its values */
PIXL_TEST(pag_layers_gate_init_on)
{
    enum { N = 2, C = 64, H = 6, W = 7, NX = N * C * H * W };
    static float x[NX];
    pixl_test_fill_uniform(x, NX, 0, 2, 131); /* ReLU-like features */
    for (int on = 0; on < 2; on++) {
        pixl_params *P = pixl_params_new();
        pixl_params_seed(P, 7);
        pixl_ctx *ctx = pixl_ctx_new(P, PIXL_MODE_EVAL);
        int64_t xs[4] = {N, C, H, W};
        pixl_tensor *xi = pixl_input(ctx, "x", PIXL_F32, 4, xs);
        pixl_tensor *g = pixl_keep(pixl_nn_gate(ctx, "g", xi, &(pixl_gate_opts){.init_on = on ? 3.0f : 0}));
        CHECK_OK(pixl_ctx_plan(ctx));
        const float *b = pixl_params_data(P, pixl_params_find(P, "g.bias"));
        CHECK(b[0] == 0 && b[1] == (on ? 3.0f : 0.0f));
        memcpy(pixl_tensor_data(xi), x, sizeof x);
        CHECK_OK(pixl_forward(ctx));
        double f = 0;
        for (int n = 0; n < N; n++)
            for (int q = 0; q < H * W; q++) f += ((const float *)pixl_tensor_data(g))[(n * 2 + 1) * H * W + q];
        f /= N * H * W;
        if (on) CHECK_MSG(f == 1.0, "init_on 3: %.3f of the pixels compute", f);
        const float *w = pixl_params_data(P, pixl_params_find(P, "g.weight"));
        double ss = 0;
        for (int i = 0; i < 2 * C; i++) ss += (double)w[i] * w[i];
        const double sd = sqrt(ss / (2 * C)), want = on ? 0.01 : 1.0; /* N(0, 0.01^2) or the seed's N(0, 1) */
        CHECK_MSG(sd > 0.7 * want && sd < 1.3 * want, "init_on %d: weight sd %.4f", on, sd);
        pixl_ctx_free(ctx);
        /* a second build (the next step, or after loading a checkpoint) does not re-initialise */
        float *bw = pixl_params_data(P, pixl_params_find(P, "g.bias"));
        bw[1] = -1.5f;
        ctx = pixl_ctx_new(P, PIXL_MODE_EVAL);
        xi = pixl_input(ctx, "x", PIXL_F32, 4, xs);
        CHECK(pixl_nn_gate(ctx, "g", xi, &(pixl_gate_opts){.init_on = 3.0f}) != NULL);
        CHECK(bw[1] == -1.5f);
        pixl_ctx_free(ctx);
        pixl_params_free(P);
    }
}

/* ========================================================== gated 3x3 conv */

typedef struct {
    int64_t hs[4], gs[4];
    const float *h1, *g;
    int dilation, gate_const;
    pixl_gate_grad_rule rule;
} gconv_case;

static pixl_tensor *build_gconv(pixl_ctx *ctx, void *ud)
{
    gconv_case *c = ud;
    pixl_tensor *h1 = gc_input(ctx, "h1", 4, c->hs, c->h1);
    pixl_tensor *g = c->gate_const ? pixl_constant(ctx, "g", PIXL_F32, 4, c->gs, c->g) : gc_input(ctx, "g", 4, c->gs, c->g);
    return pixl_nn_gated_conv3x3(ctx, "conv", "bn", h1, g, c->dilation, c->rule);
}

PIXL_TEST(pag_layers_gated_conv_gradcheck)
{
    enum { N = 2, C = 3, H = 5, W = 4, HW = H * W };
    float h1[N * C * HW], g[N * 2 * HW];
    pixl_test_fill_uniform(h1, N * C * HW, -1, 1, 121);
    pixl_test_fill_uniform(g, N * 2 * HW, 0.05f, 0.95f, 122);
    for (int b = 0; b < N; b++)
        for (int q = 0; q < HW; q++) g[b * 2 * HW + HW + q] = 1 - g[b * 2 * HW + q];
    for (int dil = 1; dil <= 2; dil++)
        for (int mode = 0; mode < 2; mode++) {
            gconv_case c = {{N, C, H, W}, {N, 2, H, W}, h1, g, dil, 0, PIXL_GATE_GRAD_TRUE};
            pixl_params *P = pixl_params_new();
            pixl_mode m = mode ? PIXL_MODE_TRAIN : PIXL_MODE_EVAL_GRAD;
            char what[64];
            snprintf(what, sizeof what, "gated conv dil=%d mode=%d true rule", dil, (int)m);
            if (m == PIXL_MODE_EVAL_GRAD) { /* running statistics away from 0 / 1 */
                pixl_ctx *c0 = pixl_ctx_new(P, m);
                build_gconv(c0, &c);
                pixl_ctx_free(c0);
                perturb_params(P, 123);
            }
            const gc_opts go = {.eps = 1e-3, .mode = m};
            GRADCHECK(what, P, build_gconv, &c, &go);
            /* the channel-mean rule: exact gradients everywhere but the gate's */
            c.rule = PIXL_GATE_GRAD_CHANNEL_MEAN;
            c.gate_const = 1;
            snprintf(what, sizeof what, "gated conv dil=%d mode=%d channel mean", dil, (int)m);
            GRADCHECK(what, P, build_gconv, &c, &go);
            pixl_params_free(P);
        }
}

/* ================================================================ MultiPool */

typedef struct {
    int64_t xs[4];
    const float *x, *u;
    pixl_multipool_opts o;
} mp_case;

static pixl_tensor *build_mp(pixl_ctx *ctx, void *ud)
{
    mp_case *c = ud;
    pixl_tensor *x = gc_input(ctx, "x", 4, c->xs, c->x);
    pixl_multipool_opts o = c->o;
    int64_t us[4] = {c->xs[0], o.n_scales + 1, c->xs[2], c->xs[3]};
    o.noise = pixl_constant(ctx, "u", PIXL_F32, 4, us, c->u);
    pixl_tensor *a = NULL, *y = pixl_nn_multipool(ctx, "mp", x, &o, &a);
    CHECK(!y || a);
    return y;
}

PIXL_TEST(pag_layers_multipool_gradcheck)
{
    enum { N = 2, C = 3, H = 5, W = 5, NX = N * C * H * W };
    float x[NX], u[N * 5 * H * W];
    pixl_test_fill_uniform(x, NX, -1, 1, 131);
    pixl_test_fill_uniform(u, N * 5 * H * W, 0.05f, 0.95f, 132);
    const int scales[2][4] = {{1, 2}, {1, 2, 3, 4}};
    for (int s = 0; s < 2; s++) {
        mp_case c = {{N, C, H, W}, x, u, {.n_scales = s ? 4 : 2, .hidden = {4, 3}, .t = 1.0f}};
        memcpy(c.o.scales, scales[s], sizeof scales[s]);
        pixl_params *P = pixl_params_new();
        char what[64];
        snprintf(what, sizeof what, "multipool K=%d", c.o.n_scales);
        /* a small step: the attention head's BN normalises each channel over only
         * N*H*W = 50 values, so a step of 1e-3 in a conv weight moves some value
         * across its ReLU kink; the atol covers float32 rounding at that step.
         * (tests/ref/pag checks these gradients against PyTorch in float64.) */
        const gc_opts go = {.eps = 1e-4, .rtol = 2e-2, .atol = 1e-2, .mode = PIXL_MODE_TRAIN};
        GRADCHECK(what, P, build_mp, &c, &go);
        pixl_params_free(P);
    }
}

/* ======================================== sparse EVAL = dense EVAL_GRAD */

typedef struct {
    float *z, *y, *g, *a;
} pag_run;

/* a small PAG piece: gate on x -> gated conv on x (as h1) -> MultiPool; outputs kept */
static int run_piece(pixl_params *P, pixl_mode mode, const float *x, const int64_t *xs, int stride, int dil,
                     const pixl_multipool_opts *mo, pag_run *r, int threads)
{
    pixl_ctx *ctx = pixl_ctx_new(P, mode);
    pixl_ctx_set_threads(ctx, threads);
    pixl_tensor *xi = pixl_input(ctx, "x", PIXL_F32, 4, xs);
    pixl_tensor *h1 = stride > 1 ? pixl_avg_pool2d(ctx, xi, &(pixl_pool2d_opts){.kernel = {stride, stride}}) : xi;
    pixl_tensor *g = pixl_keep(pixl_nn_gate(ctx, "gate", xi, &(pixl_gate_opts){.stride = stride, .blur = 1}));
    pixl_tensor *z = pixl_keep(pixl_nn_gated_conv3x3(ctx, "conv", "bn", h1, g, dil, PIXL_GATE_GRAD_TRUE));
    pixl_tensor *a = NULL, *y = pixl_keep(pixl_nn_multipool(ctx, "mp", z, mo, &a));
    pixl_keep(a);
    int ok = 0;
    if (y && pixl_ctx_plan(ctx) == PIXL_OK) {
        if (r->z) { /* the first build created the parameters: spread them now */
            memcpy(pixl_tensor_data(xi), x, sizeof(float) * (size_t)pixl_tensor_numel(xi));
            if (pixl_forward(ctx) == PIXL_OK) {
                memcpy(r->z, pixl_tensor_data(z), sizeof(float) * (size_t)pixl_tensor_numel(z));
                memcpy(r->y, pixl_tensor_data(y), sizeof(float) * (size_t)pixl_tensor_numel(y));
                memcpy(r->g, pixl_tensor_data(g), sizeof(float) * (size_t)pixl_tensor_numel(g));
                memcpy(r->a, pixl_tensor_data(a), sizeof(float) * (size_t)pixl_tensor_numel(a));
                ok = 1;
            }
        } else ok = 1;
    }
    CHECK_MSG(ok, "%s", pixl_ctx_error(ctx) ? pixl_ctx_error(ctx) : pixl_last_error());
    pixl_ctx_free(ctx);
    return ok;
}

PIXL_TEST(pag_layers_eval_sparse_equals_dense)
{
    enum { N = 2, C = 6, H = 12, W = 10 };
    float x[N * C * H * W];
    pixl_test_fill_uniform(x, N * C * H * W, -1, 1, 141);
    for (int v = 0; v < 2; v++) {
        const int stride = v ? 2 : 1, dil = v ? 2 : 1, oh = (H - 1) / stride + 1, ow = (W - 1) / stride + 1;
        const int64_t xs[4] = {N, C, H, W};
        pixl_multipool_opts mo = {.n_scales = v ? 4 : 2, .scales = {1, 2, 4, 8}, .hidden = {8, 4}};
        const long nz = (long)N * C * oh * ow, ng = (long)N * 2 * oh * ow, na = (long)N * (mo.n_scales + 1) * oh * ow;
        pixl_params *P = pixl_params_new();
        pag_run none = {0};
        if (!run_piece(P, PIXL_MODE_TRAIN, x, xs, stride, dil, &mo, &none, 1)) return;
        perturb_params(P, 150 + (unsigned)v);
        pag_run r[3];
        for (int k = 0; k < 3; k++) {
            r[k].z = malloc(sizeof(float) * (size_t)nz);
            r[k].y = malloc(sizeof(float) * (size_t)nz);
            r[k].g = malloc(sizeof(float) * (size_t)ng);
            r[k].a = malloc(sizeof(float) * (size_t)na);
        }
        if (run_piece(P, PIXL_MODE_EVAL_GRAD, x, xs, stride, dil, &mo, &r[0], 1) &&
            run_piece(P, PIXL_MODE_EVAL, x, xs, stride, dil, &mo, &r[1], 1) &&
            run_piece(P, PIXL_MODE_EVAL, x, xs, stride, dil, &mo, &r[2], 2)) {
            CHECK(!memcmp(r[0].g, r[1].g, sizeof(float) * (size_t)ng));
            CHECK(!memcmp(r[0].a, r[1].a, sizeof(float) * (size_t)na));
            CHECK_ALLCLOSE("gated conv: sparse eval vs dense", r[1].z, r[0].z, nz, 1e-5, 1e-5);
            CHECK_ALLCLOSE("multipool: sparse eval vs dense", r[1].y, r[0].y, nz, 1e-5, 1e-5);
            CHECK(!memcmp(r[1].z, r[2].z, sizeof(float) * (size_t)nz) && !memcmp(r[1].y, r[2].y, sizeof(float) * (size_t)nz));
            /* both gate choices and several pooling fields occur, so both paths were exercised */
            long on = 0, used[PIXL_MULTIPOOL_MAX + 1] = {0};
            for (long i = 0; i < ng / 2; i++) on += r[1].g[(i / (oh * ow)) * 2 * oh * ow + oh * ow + i % (oh * ow)] == 1;
            for (long i = 0; i < na; i++)
                if (r[1].a[i] == 1) used[(i / (oh * ow)) % (mo.n_scales + 1)]++;
            int kinds = 0;
            for (int k = 0; k <= mo.n_scales; k++) kinds += used[k] > 0;
            CHECK_MSG(on > 0 && on < ng / 2, "gate on at %ld of %ld pixels", on, ng / 2);
            CHECK_MSG(kinds >= 2, "MultiPool chose %d different fields", kinds);
            /* a one-hot attention */
            for (long i = 0; i < na; i++) CHECK(r[1].a[i] == 0 || r[1].a[i] == 1);
        }
        for (int k = 0; k < 3; k++) free(r[k].z), free(r[k].y), free(r[k].g), free(r[k].a);
        pixl_params_free(P);
    }
}

/* TRAIN mode draws the Gumbel noise from the ctx stream when none is given:
 * the relaxed gates differ between steps and sum to 1 */
PIXL_TEST(pag_layers_drawn_noise)
{
    enum { N = 1, C = 3, H = 4, W = 4, HW = H * W };
    float x[N * C * HW], first[2 * HW];
    pixl_test_fill_uniform(x, N * C * HW, -1, 1, 161);
    pixl_params *P = pixl_params_new();
    pixl_ctx *ctx = pixl_ctx_new(P, PIXL_MODE_TRAIN);
    int64_t xs[4] = {N, C, H, W};
    pixl_tensor *xi = pixl_input(ctx, "x", PIXL_F32, 4, xs);
    pixl_tensor *g = pixl_nn_gate(ctx, "g", xi, &(pixl_gate_opts){.t = 0.5f});
    CHECK_OK(pixl_ctx_plan(ctx));
    memcpy(pixl_tensor_data(xi), x, sizeof x);
    pixl_ctx_set_seed(ctx, 3);
    CHECK_OK(pixl_forward(ctx));
    memcpy(first, pixl_tensor_data(g), sizeof first);
    CHECK_OK(pixl_forward(ctx));
    CHECK(memcmp(first, pixl_tensor_data(g), sizeof first) != 0);
    for (int q = 0; q < HW; q++) CHECK_NEAR(first[q] + first[HW + q], 1, 1e-6);
    pixl_ctx_free(ctx);
    pixl_params_free(P);
}

/* train_skip: the gate unit gives the straight-through one-hot and the gated
 * conv runs pixl_gated_conv3x3_train on it: the same output and gradients,
 * bit for bit, as those two ops built by hand on the same parameters */
static int run_skip_piece(pixl_params *P, int by_hand, const float *x, const float *u, const float *dz, float *z,
                          float *dx)
{
    enum { N = 2, C = 4, H = 6, W = 5 };
    const int64_t xs[4] = {N, C, H, W}, gs[4] = {N, 2, H, W};
    pixl_ctx *ctx = pixl_ctx_new(P, PIXL_MODE_TRAIN);
    pixl_tensor *xi = pixl_input_grad(ctx, "x", 4, xs), *ui = pixl_input(ctx, "u", PIXL_F32, 4, gs), *out = NULL;
    if (!by_hand) {
        pixl_tensor *g = pixl_nn_gate(ctx, "gate", xi, &(pixl_gate_opts){.t = 0.6f, .noise = ui, .train_skip = 1});
        out = pixl_nn_gated_conv3x3(ctx, "conv", "bn", xi, g, 1, PIXL_GATE_GRAD_CHANNEL_MEAN);
    } else {
        pixl_tensor *w = pixl_param_ref(ctx, "gate.weight"), *b = pixl_param_ref(ctx, "gate.bias");
        pixl_tensor *g = pixl_gumbel_softmax_st(ctx, pixl_conv2d(ctx, xi, w, b, NULL), ui, 0.6f);
        out = pixl_gated_conv3x3_train(ctx, xi, g, pixl_param_ref(ctx, "conv.weight"),
                                       pixl_param_ref(ctx, "bn.weight"), pixl_param_ref(ctx, "bn.bias"),
                                       pixl_param_ref(ctx, "bn.running_mean"), pixl_param_ref(ctx, "bn.running_var"),
                                       &(pixl_bn_opts){1e-5f, 0.1f}, 1, PIXL_GATE_GRAD_CHANNEL_MEAN);
    }
    int ok = 0;
    if (out && pixl_ctx_plan(ctx) == PIXL_OK) {
        memcpy(pixl_tensor_data(xi), x, sizeof(float) * N * C * H * W);
        memcpy(pixl_tensor_data(ui), u, sizeof(float) * N * 2 * H * W);
        pixl_params_zero_grad(P);
        if (pixl_forward(ctx) == PIXL_OK && pixl_backward_from(ctx, out, dz) == PIXL_OK) {
            memcpy(z, pixl_tensor_data(out), sizeof(float) * N * C * H * W);
            memcpy(dx, pixl_tensor_grad(xi), sizeof(float) * N * C * H * W);
            ok = 1;
        }
    }
    CHECK_MSG(ok, "train_skip piece (by hand %d): %s", by_hand,
              pixl_ctx_error(ctx) ? pixl_ctx_error(ctx) : pixl_last_error());
    pixl_ctx_free(ctx);
    return ok;
}

PIXL_TEST(pag_layers_train_skip)
{
    enum { N = 2, C = 4, H = 6, W = 5, NX = N * C * H * W, NG = N * 2 * H * W };
    float x[NX], u[NG], dz[NX], z[2][NX], dx[2][NX];
    pixl_test_fill_uniform(x, NX, -1, 1, 171);
    pixl_test_fill_uniform(u, NG, 0, 1, 172);
    pixl_test_fill_uniform(dz, NX, -1, 1, 173);
    pixl_params *P = pixl_params_new();
    { /* the parameters, created by the layers */
        pixl_ctx *ctx = pixl_ctx_new(P, PIXL_MODE_TRAIN);
        pixl_tensor *xi = pixl_input(ctx, "x", PIXL_F32, 4, (int64_t[4]){N, C, H, W});
        pixl_nn_gated_conv3x3(ctx, "conv", "bn", xi, pixl_nn_gate(ctx, "gate", xi, NULL), 1, PIXL_GATE_GRAD_TRUE);
        pixl_ctx_free(ctx);
    }
    perturb_params(P, 174);
    const int nparams = pixl_params_count(P);
    float *grads[2][16] = {{0}}, *rm[2] = {0};
    int ib = pixl_params_find(P, "bn.running_mean");
    float rm0[C];
    memcpy(rm0, pixl_params_data(P, ib), sizeof rm0);
    for (int r = 0; r < 2; r++) {
        memcpy(pixl_params_data(P, ib), rm0, sizeof rm0);
        if (!run_skip_piece(P, r, x, u, dz, z[r], dx[r])) goto done;
        for (int i = 0; i < nparams && i < 16; i++)
            if (pixl_params_kind(P, i) == PIXL_PARAM) {
                grads[r][i] = malloc(sizeof(float) * (size_t)pixl_params_numel(P, i));
                memcpy(grads[r][i], pixl_params_grad(P, i), sizeof(float) * (size_t)pixl_params_numel(P, i));
            }
        rm[r] = malloc(sizeof rm0);
        memcpy(rm[r], pixl_params_data(P, ib), sizeof rm0);
    }
    CHECK(!memcmp(z[0], z[1], sizeof z[0]) && !memcmp(dx[0], dx[1], sizeof dx[0]) && !memcmp(rm[0], rm[1], sizeof rm0));
    CHECK(memcmp(rm[0], rm0, sizeof rm0) != 0); /* the running statistics moved */
    double gate_grad = 0;
    for (int i = 0; i < nparams && i < 16; i++)
        if (grads[0][i]) {
            CHECK_MSG(!memcmp(grads[0][i], grads[1][i], sizeof(float) * (size_t)pixl_params_numel(P, i)), "%s",
                      pixl_params_name(P, i));
            if (!strcmp(pixl_params_name(P, i), "gate.weight"))
                for (int64_t k = 0; k < pixl_params_numel(P, i); k++) gate_grad += fabs(grads[0][i][k]);
        }
    CHECK(gate_grad > 0); /* the straight-through gate learns */
    /* the gate is one-hot: every output is h1 or a ReLU output (>= 0) */
    int mixed = 0, on = 0;
    for (int n = 0; n < N; n++)
        for (int q = 0; q < H * W; q++) {
            int same = 1;
            for (int c = 0; c < C; c++) same &= z[0][(n * C + c) * H * W + q] == x[(n * C + c) * H * W + q];
            if (!same) {
                on++;
                for (int c = 0; c < C; c++) mixed += z[0][(n * C + c) * H * W + q] < 0;
            }
        }
    CHECK(mixed == 0 && on > 0 && on < N * H * W);
done:
    for (int r = 0; r < 2; r++) {
        for (int i = 0; i < 16; i++) free(grads[r][i]);
        free(rm[r]);
    }
    pixl_params_free(P);
}

/* =================================================================== errors */

PIXL_TEST(pag_layers_errors)
{
    int64_t xs[4] = {1, 4, 5, 5}, x3[3] = {4, 5, 5}, gbad[4] = {1, 3, 5, 5};
    const char *want[] = {"stride -1",       "must be f32 (N, C, H, W)", "n_scales 0", "n_scales 9",
                          "scale 0 of branch 2", "gradient rule 5",       "dilation -2", "attention widths",
                          "gate",           "train_skip",               "init_on 30"};
    for (int i = 0; i < (int)(sizeof want / sizeof want[0]); i++) {
        pixl_params *P = pixl_params_new();
        pixl_ctx *ctx = pixl_ctx_new(P, PIXL_MODE_TRAIN);
        pixl_tensor *x = pixl_input(ctx, "x", PIXL_F32, 4, xs), *r = NULL;
        pixl_tensor *g = pixl_input(ctx, "g", PIXL_F32, 4, (int64_t[4]){1, 2, 5, 5});
        pixl_multipool_opts mo = {.n_scales = 2, .scales = {1, 2}};
        switch (i) {
        case 0: r = pixl_nn_gate(ctx, "g", x, &(pixl_gate_opts){.stride = -1}); break;
        case 1: r = pixl_nn_gate(ctx, "g", pixl_input(ctx, "x3", PIXL_F32, 3, x3), NULL); break;
        case 2: mo.n_scales = 0, r = pixl_nn_multipool(ctx, "mp", x, &mo, NULL); break;
        case 3: mo.n_scales = 9, r = pixl_nn_multipool(ctx, "mp", x, &mo, NULL); break;
        case 4: mo.scales[1] = 0, r = pixl_nn_multipool(ctx, "mp", x, &mo, NULL); break;
        case 5: r = pixl_nn_gated_conv3x3(ctx, "c", "b", x, g, 1, (pixl_gate_grad_rule)5); break;
        case 6: r = pixl_nn_gated_conv3x3(ctx, "c", "b", x, g, -2, PIXL_GATE_GRAD_TRUE); break;
        case 7: mo.hidden[0] = -1, r = pixl_nn_multipool(ctx, "mp", x, &mo, NULL); break;
        case 8:
            r = pixl_nn_gated_conv3x3(ctx, "c", "b", x, pixl_input(ctx, "g3", PIXL_F32, 4, gbad), 1,
                                      PIXL_GATE_GRAD_TRUE);
            break;
        case 9: r = pixl_nn_gate(ctx, "g", x, &(pixl_gate_opts){.soft = 1, .train_skip = 1}); break;
        case 10: r = pixl_nn_gate(ctx, "g", x, &(pixl_gate_opts){.init_on = 30}); break;
        }
        const char *e = pixl_ctx_error(ctx);
        CHECK_MSG(r == NULL && e && strstr(e, want[i]), "case %d: %s", i, e ? e : "(none)");
        pixl_ctx_free(ctx);
        pixl_params_free(P);
    }
}
