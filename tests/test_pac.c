/* test_pac.c — PAC layers (src/ops/pac.c, src/nn/pac_layers.c):
 * finite-difference gradient checks of every input (x, guidance, a
 * precomputed kernel) and parameter (weight, bias, inv_alpha, inv_lambda,
 * smooth_kernel) for pacconv2d, pacconv_transpose2d, pacpool2d and
 * packernel2d in its variants; the fused row-block path (several blocks)
 * against a naive double-precision reference, forward and backward; bit
 * equality between 1 and 2 threads; pacnet's documented non-equivalences
 * asserted (K == 1: pacconv2d == conv2d, pacconv_transpose2d == conv_transpose2d
 * with the FLIPPED weight, pacpool2d == k*k * avg_pool2d); fillers; errors.
 * PyTorch parity: tests/ref/pac and ../shared/golden/pac through `pixl check`. */
#include <stdlib.h>
#include <string.h>

#include "gradcheck.h"
#include "test.h"

static float *rnd(long n, float lo, float hi, unsigned long long seed)
{
    float *p = malloc(sizeof(float) * (size_t)(n ? n : 1));
    pixl_test_fill_uniform(p, n, lo, hi, seed);
    return p;
}

/* ------------------------------------------------------------ gradchecks */

typedef struct gpac {
    int kind; /* 0 conv, 1 convT, 2 pool */
    int B, C, H, W, O, Cf, GH, GW;
    pixl_pac_opts o;
    int bias;
    int mask;      /* a fixed 0/1 mask of shape (B, 1, mask geometry) */
    int mh, mw;
    int kernel_in; /* differentiate w.r.t. a precomputed kernel instead of guidance */
    int KC;        /* kernel channels for kernel_in */
    int KT, KOH, KOW;
    float *x, *g, *m, *k;
} gpac;

static pixl_tensor *build_pac(pixl_ctx *ctx, void *ud)
{
    gpac *c = ud;
    int64_t xs[4] = {c->B, c->C, c->H, c->W}, gs[4] = {c->B, c->Cf, c->GH, c->GW};
    pixl_tensor *x = gc_input(ctx, "x", 4, xs, c->x), *guide = NULL, *kernel = NULL;
    if (c->kernel_in) {
        int64_t ks[5] = {c->B, c->KC, c->KT, c->KOH, c->KOW};
        kernel = gc_input(ctx, "kernel", 5, ks, c->k);
    } else {
        guide = gc_input(ctx, "guide", 4, gs, c->g);
        if (c->mask) {
            int64_t ms[4] = {c->B, 1, c->mh, c->mw};
            pixl_tensor *m = pixl_constant(ctx, "mask", PIXL_F32, 4, ms, c->m);
            pixl_pac_opts ko = c->o;
            ko.transposed = c->kind == 1;
            kernel = pixl_nn_packernel2d(ctx, "pac", guide, m, c->C, &ko);
            guide = NULL;
        }
    }
    if (c->kind == 0) return pixl_nn_pacconv2d(ctx, "pac", x, guide, kernel, c->O, &c->o, c->bias);
    if (c->kind == 1) return pixl_nn_pacconv_transpose2d(ctx, "pac", x, guide, kernel, c->O, &c->o, c->bias);
    return pixl_nn_pacpool2d(ctx, "pac", x, guide, kernel, &c->o);
}

static void run_gc(const char *what, gpac *c, int expect_params, double gscale)
{
    long nx = (long)c->B * c->C * c->H * c->W, ng = (long)c->B * c->Cf * c->GH * c->GW;
    c->x = rnd(nx, -1, 1, 11);
    c->g = rnd(ng, (float)-gscale, (float)gscale, 12);
    c->m = NULL;
    c->k = NULL;
    if (c->mask) {
        long nm = (long)c->B * c->mh * c->mw;
        c->m = rnd(nm, 0, 1, 13);
        for (long i = 0; i < nm; i++) c->m[i] = c->m[i] > 0.3f ? 1.0f : 0.0f;
    }
    if (c->kernel_in) c->k = rnd((long)c->B * c->KC * c->KT * c->KOH * c->KOW, 0.1f, 1, 14);
    pixl_params *P = pixl_params_new();
    pixl_params_seed(P, 5);
    gc_opts go = {.eps = 3e-3, .rtol = 3e-2, .atol = 3e-3};
    GRADCHECK(what, P, build_pac, c, &go);
    if (expect_params >= 0) {
        int np = 0;
        for (int i = 0; i < pixl_params_count(P); i++) np += pixl_params_kind(P, i) == PIXL_PARAM;
        CHECK_MSG(np == expect_params, "%s: %d trainable parameters, expected %d", what, np, expect_params);
    }
    pixl_params_free(P);
    free(c->x);
    free(c->g);
    free(c->m);
    free(c->k);
}

PIXL_TEST(pac_gradcheck_conv)
{
    /* gaussian, no smoothing: x, guide, weight, bias */
    gpac a = {.kind = 0, .B = 2, .C = 2, .H = 5, .W = 6, .O = 3, .Cf = 3, .GH = 5, .GW = 6, .bias = 1,
              .o = {.kernel = {3, 3}, .padding = {1, 1}}};
    run_gc("pacconv2d gaussian", &a, 2, 1.0);
    /* strided, normalized, inv with full smoothing: + inv_alpha, inv_lambda, smooth_kernel */
    gpac b = {.kind = 0, .B = 1, .C = 2, .H = 7, .W = 6, .O = 2, .Cf = 2, .GH = 7, .GW = 6, .bias = 1,
              .o = {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .normalize = 1}};
    CHECK_OK(pixl_pac_parse_kernel_type("inv_0.5_-1", &b.o));
    CHECK_OK(pixl_pac_parse_smooth("full_3", &b.o));
    run_gc("pacconv2d inv full_3 normalize s2", &b, 5, 2.0);
    /* asym with smoothing average, dilation 1, rectangular kernel */
    gpac c = {.kind = 0, .B = 1, .C = 2, .H = 6, .W = 7, .O = 2, .Cf = 2, .GH = 6, .GW = 7, .bias = 0,
              .o = {.kernel = {3, 5}, .padding = {1, 2}}};
    CHECK_OK(pixl_pac_parse_kernel_type("inv_1_2_asym", &c.o));
    CHECK_OK(pixl_pac_parse_smooth("gaussian", &c.o));
    run_gc("pacconv2d inv asym smooth gaussian 3x5", &c, 3, 2.0);
    /* dilated, padding beyond the window centre */
    gpac d = {.kind = 0, .B = 1, .C = 2, .H = 6, .W = 6, .O = 2, .Cf = 2, .GH = 6, .GW = 6, .bias = 1,
              .o = {.kernel = {3, 3}, .padding = {3, 3}, .dilation = {2, 2}}};
    run_gc("pacconv2d dilated pad3", &d, 2, 1.0);
    /* shared filters with a mask (no normalize: partial-window rescaling) */
    gpac e = {.kind = 0, .B = 2, .C = 3, .H = 5, .W = 5, .O = 3, .Cf = 2, .GH = 5, .GW = 5, .bias = 1,
              .o = {.kernel = {3, 3}, .padding = {1, 1}, .shared_filters = 1}, .mask = 1, .mh = 5, .mw = 5};
    run_gc("pacconv2d shared filters + mask", &e, 2, 1.0);
}

PIXL_TEST(pac_gradcheck_conv_transpose)
{
    gpac a = {.kind = 1, .B = 1, .C = 2, .H = 3, .W = 4, .O = 3, .Cf = 2, .GH = 6, .GW = 8, .bias = 1,
              .o = {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .output_padding = {1, 1}, .normalize = 1}};
    run_gc("pacconv_transpose2d s2 op1 normalize", &a, 2, 1.0);
    gpac b = {.kind = 1, .B = 2, .C = 2, .H = 3, .W = 3, .O = 2, .Cf = 2, .GH = 5, .GW = 5, .bias = 0,
              .o = {.kernel = {5, 5}, .stride = {2, 2}, .padding = {2, 2}}};
    CHECK_OK(pixl_pac_parse_kernel_type("inv_0.5_-1", &b.o));
    CHECK_OK(pixl_pac_parse_smooth("average_3", &b.o));
    run_gc("pacconv_transpose2d k5 s2 inv average_3", &b, 3, 2.0);
    gpac c = {.kind = 1, .B = 1, .C = 2, .H = 3, .W = 3, .O = 2, .Cf = 2, .GH = 6, .GW = 6, .bias = 1,
              .o = {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .output_padding = {1, 1},
                    .shared_filters = 1},
              .mask = 1, .mh = 3, .mw = 3};
    run_gc("pacconv_transpose2d shared + mask", &c, 2, 1.0);
}

PIXL_TEST(pac_gradcheck_pool)
{
    gpac a = {.kind = 2, .B = 2, .C = 2, .H = 5, .W = 6, .Cf = 3, .GH = 5, .GW = 6,
              .o = {.kernel = {3, 3}, .padding = {1, 1}}};
    run_gc("pacpool2d gaussian", &a, 0, 1.0);
    gpac b = {.kind = 2, .B = 1, .C = 3, .H = 7, .W = 6, .Cf = 3, .GH = 7, .GW = 6,
              .o = {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .channel_wise = 1, .normalize = 1}};
    /* (negative lambda is singular near D = 0, too curved for finite differences of a
     * single-channel D; tests/ref/pac case 13 checks it against PyTorch's autograd) */
    CHECK_OK(pixl_pac_parse_kernel_type("inv_0.3_3", &b.o));
    run_gc("pacpool2d channel_wise inv (per-channel alpha/lambda) normalize", &b, 2, 2.0);
    gpac c = {.kind = 2, .B = 1, .C = 2, .H = 6, .W = 6, .Cf = 2, .GH = 6, .GW = 6,
              .o = {.kernel = {3, 3}, .padding = {2, 2}, .dilation = {2, 2}, .normalize = 1}, .mask = 1, .mh = 6,
              .mw = 6};
    run_gc("pacpool2d dilated mask normalize", &c, 0, 1.0);
}

/* with a precomputed kernel input: d/dkernel of each consumer */
PIXL_TEST(pac_gradcheck_kernel_input)
{
    gpac a = {.kind = 0, .B = 2, .C = 2, .H = 5, .W = 6, .O = 3, .bias = 1, .kernel_in = 1, .KC = 1, .KT = 9,
              .KOH = 3, .KOW = 2, .o = {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 0}}};
    run_gc("pacconv2d kernel input", &a, 2, 1.0);
    gpac b = {.kind = 0, .B = 1, .C = 3, .H = 5, .W = 5, .O = 3, .bias = 0, .kernel_in = 1, .KC = 1, .KT = 9,
              .KOH = 5, .KOW = 5, .o = {.kernel = {3, 3}, .padding = {1, 1}, .shared_filters = 1}};
    run_gc("pacconv2d shared kernel input", &b, 1, 1.0);
    gpac c = {.kind = 1, .B = 1, .C = 2, .H = 3, .W = 3, .O = 2, .bias = 1, .kernel_in = 1, .KC = 1, .KT = 9,
              .KOH = 6, .KOW = 6, .o = {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .output_padding = {1, 1}}};
    run_gc("pacconv_transpose2d kernel input", &c, 2, 1.0);
    gpac d = {.kind = 2, .B = 1, .C = 2, .H = 5, .W = 5, .kernel_in = 1, .KC = 2, .KT = 9, .KOH = 5, .KOW = 5,
              .o = {.kernel = {3, 3}, .padding = {1, 1}}};
    run_gc("pacpool2d per-channel kernel input", &d, 0, 1.0);
}

/* ---------------------------------------------- fused path vs naive double */

/* y[b,o,p] = sum_{c,t} W[o,c,t] K[b,t,p] x[b,c,src] (+bias), plain or transposed geometry */
typedef struct nv {
    int B, C, O, H, W, OH, OW, k, s, p, op, d, transposed;
} nv;

static long src_idx(const nv *g, long oy, long ox, int i, int j, long *sy, long *sx)
{
    long vy, vx;
    if (!g->transposed) {
        vy = oy * g->s - g->p + i * g->d;
        vx = ox * g->s - g->p + j * g->d;
        *sy = vy;
        *sx = vx;
        return vy >= 0 && vy < g->H && vx >= 0 && vx < g->W;
    }
    long P = (long)(g->k - 1) * g->d - g->p;
    vy = oy - P + i * g->d;
    vx = ox - P + j * g->d;
    if (vy < 0 || vx < 0 || vy % g->s || vx % g->s) return 0;
    *sy = vy / g->s;
    *sx = vx / g->s;
    return *sy < g->H && *sx < g->W;
}

static void naive_pac(const nv *g, const float *x, const float *K, const float *w, const float *dy, double *y,
                      double *dx, double *dK, double *dW)
{
    long T = (long)g->k * g->k, OHW = (long)g->OH * g->OW, HW = (long)g->H * g->W;
    for (long b = 0; b < g->B; b++)
        for (long o = 0; o < g->O; o++)
            for (long oy = 0; oy < g->OH; oy++)
                for (long ox = 0; ox < g->OW; ox++) {
                    long pix = oy * g->OW + ox;
                    double acc = 0, gy = dy[(b * g->O + o) * OHW + pix];
                    for (long c = 0; c < g->C; c++)
                        for (int i = 0; i < g->k; i++)
                            for (int j = 0; j < g->k; j++) {
                                long sy, sx, t = i * g->k + j;
                                if (!src_idx(g, oy, ox, i, j, &sy, &sx)) continue;
                                double wv = g->transposed ? w[(c * g->O + o) * T + t] : w[(o * g->C + c) * T + t];
                                double kv = K[(b * T + t) * OHW + pix], xv = x[(b * g->C + c) * HW + sy * g->W + sx];
                                acc += wv * kv * xv;
                                dx[(b * g->C + c) * HW + sy * g->W + sx] += wv * kv * gy;
                                dK[(b * T + t) * OHW + pix] += wv * xv * gy;
                                if (g->transposed) dW[(c * g->O + o) * T + t] += kv * xv * gy;
                                else dW[(o * g->C + c) * T + t] += kv * xv * gy;
                            }
                    y[(b * g->O + o) * OHW + pix] = acc;
                }
}

static void fused_vs_naive(nv g, int threads_compare)
{
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL_GRAD);
    long T = (long)g.k * g.k;
    if (g.transposed) {
        g.OH = (g.H - 1) * g.s - 2 * g.p + g.d * (g.k - 1) + g.op + 1;
        g.OW = (g.W - 1) * g.s - 2 * g.p + g.d * (g.k - 1) + g.op + 1;
    } else {
        g.OH = (g.H + 2 * g.p - g.d * (g.k - 1) - 1) / g.s + 1;
        g.OW = (g.W + 2 * g.p - g.d * (g.k - 1) - 1) / g.s + 1;
    }
    int64_t xs[4] = {g.B, g.C, g.H, g.W}, ks[5] = {g.B, 1, T, g.OH, g.OW};
    int64_t ws[4] = {g.transposed ? g.C : g.O, g.transposed ? g.O : g.C, g.k, g.k};
    pixl_tensor *x = pixl_input_grad(ctx, "x", 4, xs), *K = pixl_input_grad(ctx, "K", 5, ks),
                *w = pixl_input_grad(ctx, "w", 4, ws);
    pixl_pac_opts o = {.stride = {g.s, g.s}, .padding = {g.p, g.p}, .dilation = {g.d, g.d},
                       .output_padding = {g.op, g.op}};
    pixl_tensor *y = g.transposed ? pixl_pacconv_transpose2d(ctx, x, K, w, NULL, &o) : pixl_pacconv2d(ctx, x, K, w, NULL, &o);
    CHECK_MSG(y != NULL, "build: %s", pixl_ctx_error(ctx));
    if (!y) {
        pixl_ctx_free(ctx);
        return;
    }
    CHECK_OK(pixl_ctx_plan(ctx));
    long nx = pixl_tensor_numel(x), nk = pixl_tensor_numel(K), nw = pixl_tensor_numel(w), ny = pixl_tensor_numel(y);
    pixl_test_fill_uniform(pixl_tensor_data(x), nx, -1, 1, 21);
    pixl_test_fill_uniform(pixl_tensor_data(K), nk, 0, 1, 22);
    pixl_test_fill_uniform(pixl_tensor_data(w), nw, -1, 1, 23);
    float *dy = rnd(ny, -1, 1, 24);
    CHECK_OK(pixl_forward(ctx));
    CHECK_OK(pixl_backward_from(ctx, y, dy));
    double *ry = calloc((size_t)ny, sizeof(double)), *rdx = calloc((size_t)nx, sizeof(double));
    double *rdk = calloc((size_t)nk, sizeof(double)), *rdw = calloc((size_t)nw, sizeof(double));
    naive_pac(&g, pixl_tensor_data(x), pixl_tensor_data(K), pixl_tensor_data(w), dy, ry, rdx, rdk, rdw);
    float *f = malloc(sizeof(float) * (size_t)(nx > ny ? (nx > nk ? (nx > nw ? nx : nw) : (nk > nw ? nk : nw))
                                                       : (ny > nk ? (ny > nw ? ny : nw) : (nk > nw ? nk : nw))));
#define CMP(name, ours, ref, n)                                                        \
    do {                                                                               \
        for (long i_ = 0; i_ < (n); i_++) f[i_] = (float)(ref)[i_];                    \
        CHECK_ALLCLOSE(name, ours, f, n, 1e-4, 1e-4);                                  \
    } while (0)
    CMP("y", (float *)pixl_tensor_data(y), ry, ny);
    CMP("dx", pixl_tensor_grad(x), rdx, nx);
    CMP("dK", pixl_tensor_grad(K), rdk, nk);
    CMP("dW", pixl_tensor_grad(w), rdw, nw);
#undef CMP
    if (threads_compare) { /* same bits with 1 thread (the node was planned for 2) */
        float *y2 = malloc(sizeof(float) * (size_t)ny), *g2[3];
        long nn[3] = {nx, nk, nw};
        pixl_tensor *tt[3] = {x, K, w};
        memcpy(y2, pixl_tensor_data(y), sizeof(float) * (size_t)ny);
        for (int i = 0; i < 3; i++) {
            g2[i] = malloc(sizeof(float) * (size_t)nn[i]);
            memcpy(g2[i], pixl_tensor_grad(tt[i]), sizeof(float) * (size_t)nn[i]);
            memset(pixl_tensor_grad(tt[i]), 0, sizeof(float) * (size_t)nn[i]);
        }
        int nt = pixl_num_threads();
        pixl_set_num_threads(1);
        CHECK_OK(pixl_forward(ctx));
        CHECK_OK(pixl_backward_from(ctx, y, dy));
        pixl_set_num_threads(nt);
        CHECK_MSG(!memcmp(y2, pixl_tensor_data(y), sizeof(float) * (size_t)ny), "y differs between thread counts");
        for (int i = 0; i < 3; i++) {
            CHECK_MSG(!memcmp(g2[i], pixl_tensor_grad(tt[i]), sizeof(float) * (size_t)nn[i]),
                      "gradient %d differs between thread counts", i);
            free(g2[i]);
        }
        free(y2);
    }
    free(f);
    free(dy);
    free(ry);
    free(rdx);
    free(rdk);
    free(rdw);
    pixl_ctx_free(ctx);
}

PIXL_TEST(pac_fused_blocks_vs_naive)
{
    /* C*k*k*OW large enough that forward and backward split the rows into several blocks */
    int nt = pixl_num_threads();
    pixl_set_num_threads(2);
    fused_vs_naive((nv){.B = 2, .C = 16, .O = 8, .H = 90, .W = 64, .k = 5, .s = 1, .p = 2, .d = 1}, 1);
    fused_vs_naive((nv){.B = 1, .C = 16, .O = 6, .H = 70, .W = 80, .k = 5, .s = 2, .p = 3, .d = 2}, 0);
    fused_vs_naive((nv){.B = 1, .C = 16, .O = 5, .H = 40, .W = 40, .k = 5, .s = 2, .p = 2, .op = 1, .d = 1,
                        .transposed = 1},
                   1);
    /* wide rows with many channels (C*k*k*OW > 256K floats): the implicit-gemm forward with a long reduction,
     * and the transposed phases with one row per column block */
    fused_vs_naive((nv){.B = 1, .C = 64, .O = 3, .H = 4, .W = 200, .k = 5, .s = 1, .p = 2, .d = 1}, 1);
    fused_vs_naive((nv){.B = 1, .C = 48, .O = 2, .H = 2, .W = 620, .k = 5, .s = 2, .p = 2, .op = 1, .d = 1,
                        .transposed = 1},
                   1);
    pixl_set_num_threads(nt);
}

/* the whole layer (kernel from guidance + conv) is bit-identical for 1 and 2 threads */
PIXL_TEST(pac_layer_threads_bit_identical)
{
    int nt0 = pixl_num_threads();
    float *out[2], *gg[2], *gw[2];
    long ny = 0, ng = 0, nw = 0;
    float *xv = rnd(2L * 8 * 30 * 34, -1, 1, 31), *gv = rnd(2L * 3 * 30 * 34, -2, 2, 32);
    for (int r = 0; r < 2; r++) {
        pixl_set_num_threads(2);
        pixl_params *P = pixl_params_new();
        pixl_params_seed(P, 9);
        pixl_ctx *ctx = pixl_ctx_new(P, PIXL_MODE_TRAIN);
        int64_t xs[4] = {2, 8, 30, 34}, gs[4] = {2, 3, 30, 34};
        pixl_tensor *x = pixl_input(ctx, "x", PIXL_F32, 4, xs), *g = pixl_input_grad(ctx, "g", 4, gs);
        pixl_pac_opts o = {.kernel = {5, 5}, .padding = {2, 2}};
        CHECK_OK(pixl_pac_parse_smooth("full_3", &o));
        CHECK_OK(pixl_pac_parse_kernel_type("inv_0.5_-1", &o));
        pixl_tensor *y = pixl_nn_pacconv2d(ctx, "pac", x, g, NULL, 8, &o, 1);
        CHECK_OK(pixl_ctx_plan(ctx));
        memcpy(pixl_tensor_data(x), xv, sizeof(float) * 2 * 8 * 30 * 34);
        memcpy(pixl_tensor_data(g), gv, sizeof(float) * 2 * 3 * 30 * 34);
        pixl_set_num_threads(r == 0 ? 1 : 2);
        ny = pixl_tensor_numel(y);
        float *dy = rnd(ny, -1, 1, 33);
        pixl_params_zero_grad(P);
        CHECK_OK(pixl_forward(ctx));
        CHECK_OK(pixl_backward_from(ctx, y, dy));
        ng = pixl_tensor_numel(g);
        int wi = pixl_params_find(P, "pac.weight");
        nw = pixl_params_numel(P, wi);
        out[r] = malloc(sizeof(float) * (size_t)ny);
        gg[r] = malloc(sizeof(float) * (size_t)ng);
        gw[r] = malloc(sizeof(float) * (size_t)nw);
        memcpy(out[r], pixl_tensor_data(y), sizeof(float) * (size_t)ny);
        memcpy(gg[r], pixl_tensor_grad(g), sizeof(float) * (size_t)ng);
        memcpy(gw[r], pixl_params_grad(P, wi), sizeof(float) * (size_t)nw);
        free(dy);
        pixl_ctx_free(ctx);
        pixl_params_free(P);
    }
    CHECK(!memcmp(out[0], out[1], sizeof(float) * (size_t)ny));
    CHECK(!memcmp(gg[0], gg[1], sizeof(float) * (size_t)ng));
    CHECK(!memcmp(gw[0], gw[1], sizeof(float) * (size_t)nw));
    for (int r = 0; r < 2; r++) {
        free(out[r]);
        free(gg[r]);
        free(gw[r]);
    }
    free(xv);
    free(gv);
    pixl_set_num_threads(nt0);
}

/* --------------------------------------------- pacnet's const-kernel relations */

/* guidance == 1 everywhere gives K == 1: compare with the standard ops */
static void const_kernel_case(int kind)
{
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL);
    int B = 2, C = 3, O = 4, H = kind == 1 ? 5 : 11, W = kind == 1 ? 6 : 10, k = 5, s = 2, p = kind == 0 ? 4 : 2,
        d = kind == 0 ? 2 : 1, op = kind == 1 ? 1 : 0;
    int OH, OW;
    if (kind == 1) {
        OH = (H - 1) * s - 2 * p + d * (k - 1) + op + 1;
        OW = (W - 1) * s - 2 * p + d * (k - 1) + op + 1;
    } else {
        OH = (H + 2 * p - d * (k - 1) - 1) / s + 1;
        OW = (W + 2 * p - d * (k - 1) - 1) / s + 1;
    }
    int64_t xs[4] = {B, C, H, W}, gs[4] = {B, 2, kind == 1 ? OH : H, kind == 1 ? OW : W};
    int64_t ws[4] = {kind == 1 ? C : O, kind == 1 ? O : C, k, k}, bs[1] = {O};
    pixl_tensor *x = pixl_input(ctx, "x", PIXL_F32, 4, xs), *g = pixl_input(ctx, "g", PIXL_F32, 4, gs);
    pixl_tensor *w = pixl_input(ctx, "w", PIXL_F32, 4, ws), *wf = pixl_input(ctx, "wf", PIXL_F32, 4, ws);
    pixl_tensor *b = pixl_input(ctx, "b", PIXL_F32, 1, bs);
    pixl_pac_opts o = {.kernel = {k, k}, .stride = {s, s}, .padding = {p, p}, .dilation = {d, d},
                       .output_padding = {op, op}, .transposed = kind == 1};
    pixl_tensor *K = pixl_packernel2d(ctx, g, NULL, NULL, NULL, NULL, &o), *ya, *yb;
    pixl_conv2d_opts co = {.stride = {s, s}, .padding = {p, p}, .dilation = {d, d}, .output_padding = {op, op}};
    if (kind == 0) {
        ya = pixl_pacconv2d(ctx, x, K, w, b, &o);
        yb = pixl_conv2d(ctx, x, w, b, &co);
    } else if (kind == 1) {
        ya = pixl_pacconv_transpose2d(ctx, x, K, w, b, &o);
        yb = pixl_conv_transpose2d(ctx, x, wf, b, &co); /* the flipped weight */
    } else {
        ya = pixl_pacpool2d(ctx, x, K, &o);
        yb = pixl_scale(ctx, pixl_avg_pool2d(ctx, x, &(pixl_pool2d_opts){.kernel = {k, k}, .stride = {s, s},
                                                                        .padding = {p, p}}),
                        (float)(k * k));
    }
    pixl_keep(ya);
    pixl_keep(yb);
    CHECK_MSG(ya && yb, "build: %s", pixl_ctx_error(ctx));
    if (!ya || !yb || pixl_ctx_plan(ctx)) {
        pixl_ctx_free(ctx);
        return;
    }
    pixl_test_fill_uniform(pixl_tensor_data(x), pixl_tensor_numel(x), -1, 1, 41);
    float *gd = pixl_tensor_data(g);
    for (long i = 0; i < pixl_tensor_numel(g); i++) gd[i] = 1.0f;
    pixl_test_fill_uniform(pixl_tensor_data(w), pixl_tensor_numel(w), -1, 1, 42);
    pixl_test_fill_uniform(pixl_tensor_data(b), O, -1, 1, 43);
    float *wv = pixl_tensor_data(w), *wfv = pixl_tensor_data(wf);
    for (long q = 0; q < ws[0] * ws[1]; q++)
        for (int i = 0; i < k; i++)
            for (int j = 0; j < k; j++) wfv[(q * k + i) * k + j] = wv[(q * k + (k - 1 - i)) * k + (k - 1 - j)];
    CHECK_OK(pixl_forward(ctx));
    CHECK_ALLCLOSE(kind == 0 ? "pacconv2d K=1 vs conv2d" : kind == 1 ? "pacconv_transpose2d K=1 vs flipped convT"
                                                                      : "pacpool2d K=1 vs k*k*avgpool",
                   pixl_tensor_data(ya), pixl_tensor_data(yb), pixl_tensor_numel(ya), 1e-5, 1e-5);
    pixl_ctx_free(ctx);
}

PIXL_TEST(pac_const_kernel_equivalences)
{
    const_kernel_case(0);
    const_kernel_case(1);
    const_kernel_case(2);
}

/* ----------------------------------------------------------------- fillers */

PIXL_TEST(pac_fillers)
{
    pixl_params *P = pixl_params_new();
    pixl_ctx *ctx = pixl_ctx_new(P, PIXL_MODE_EVAL);
    int64_t xs[4] = {1, 2, 4, 4}, gs[4] = {1, 3, 8, 8}, xs3[4] = {1, 3, 8, 8};
    pixl_tensor *x = pixl_input(ctx, "x", PIXL_F32, 4, xs), *g = pixl_input(ctx, "g", PIXL_F32, 4, gs);
    pixl_tensor *x3 = pixl_input(ctx, "x3", PIXL_F32, 4, xs3);
    /* linear, normalize: tent [1 2 1]/2 padded to 5 times the tap counts (k=5, s=2: 2 3 2 3 2... ) */
    pixl_pac_opts lo = {.kernel = {5, 5}, .stride = {2, 2}, .padding = {2, 2}, .output_padding = {1, 1},
                        .filler = PIXL_PAC_FILL_LINEAR, .normalize = 1};
    CHECK(pixl_nn_pacconv_transpose2d(ctx, "up", x, g, NULL, 2, &lo, 1) != NULL);
    int wi = pixl_params_find(P, "up.weight");
    CHECK(wi >= 0);
    if (wi >= 0) {
        const float *w = pixl_params_data(P, wi);
        double t1[5] = {0, 0.5, 1, 0.5, 0}, cnt[5];
        for (int j = 0; j < 5; j++) cnt[j] = (5 - j - 1) / 2 + j / 2 + 1;
        for (int i = 0; i < 5; i++)
            for (int j = 0; j < 5; j++) {
                CHECK_NEAR(w[(0 * 2 + 0) * 25 + i * 5 + j], t1[i] * cnt[i] * t1[j] * cnt[j], 1e-6);
                CHECK_NEAR(w[(0 * 2 + 1) * 25 + i * 5 + j], 0.0, 0);
            }
        CHECK_NEAR(w[(1 * 2 + 1) * 25 + 2 * 5 + 2], 1.0 * 3 * 1.0 * 3, 1e-6);
    }
    /* crf: (1-I) x Gaussian(sigma k/4) normalised to sum k*k, centre 0 */
    pixl_pac_opts co = {.kernel = {3, 3}, .padding = {1, 1}, .filler = PIXL_PAC_FILL_CRF};
    CHECK(pixl_nn_pacconv2d(ctx, "crf", x3, g, NULL, 3, &co, 0) != NULL);
    wi = pixl_params_find(P, "crf.weight");
    if (wi >= 0) {
        const float *w = pixl_params_data(P, wi);
        double e = exp(-0.5 / (0.75 * 0.75)), sum = (1 + 2 * e) * (1 + 2 * e);
        CHECK_NEAR(w[(0 * 3 + 1) * 9 + 0], e * e / sum * 9, 1e-6);
        CHECK_NEAR(w[(0 * 3 + 1) * 9 + 1], e / sum * 9, 1e-6);
        CHECK_NEAR(w[(0 * 3 + 1) * 9 + 4], 0.0, 0);
        CHECK_NEAR(w[(2 * 3 + 2) * 9 + 1], 0.0, 0);
    }
    /* crf_pool: shared, a BUFFER of ones with centre 0 */
    pixl_pac_opts po = {.kernel = {3, 3}, .padding = {1, 1}, .shared_filters = 1, .filler = PIXL_PAC_FILL_CRF_POOL};
    CHECK(pixl_nn_pacconv2d(ctx, "pool", x3, g, NULL, 3, &po, 0) != NULL);
    wi = pixl_params_find(P, "pool.weight");
    CHECK(wi >= 0 && pixl_params_kind(P, wi) == PIXL_BUFFER);
    if (wi >= 0) {
        const float *w = pixl_params_data(P, wi);
        CHECK(w[0] == 1.0f && w[4] == 0.0f && w[8] == 1.0f);
    }
    /* state_dict names of the kernel parameters */
    pixl_pac_opts io = {.kernel = {3, 3}, .padding = {1, 1}};
    CHECK_OK(pixl_pac_parse_kernel_type("inv_0.2_-2_fixed", &io));
    CHECK_OK(pixl_pac_parse_smooth("gaussian", &io));
    CHECK(pixl_nn_pacconv2d(ctx, "k", x3, g, NULL, 2, &io, 1) != NULL);
    int ia = pixl_params_find(P, "k.inv_alpha"), il = pixl_params_find(P, "k.inv_lambda"),
        is = pixl_params_find(P, "k.smooth_kernel");
    CHECK(ia >= 0 && il >= 0 && is >= 0);
    if (ia >= 0 && il >= 0 && is >= 0) {
        CHECK(pixl_params_kind(P, ia) == PIXL_BUFFER && pixl_params_kind(P, is) == PIXL_BUFFER);
        CHECK_NEAR(((float *)pixl_params_data(P, ia))[0], 0.2, 1e-7);
        CHECK_NEAR(((float *)pixl_params_data(P, il))[0], -2.0, 0);
        CHECK_NEAR(((float *)pixl_params_data(P, is))[4], 0.25, 0);
        CHECK_NEAR(((float *)pixl_params_data(P, is))[0], 0.0625, 0);
    }
    pixl_ctx_free(ctx);
    pixl_params_free(P);
}

/* ------------------------------------------------------------------ errors */

PIXL_TEST(pac_errors)
{
    pixl_params *P = pixl_params_new();
    int64_t xs[4] = {1, 3, 8, 8}, gs[4] = {1, 2, 8, 8}, gbad[4] = {1, 2, 7, 8}, k5[5] = {1, 1, 9, 4, 4};
    struct {
        const char *want;
        int which;
    } cases[] = {{"odd", 0}, {"dilation", 1}, {"kernel", 2}, {"shared_filters", 3}, {"kernel_type", 4},
                 {"smooth", 5}, {"not a ConvTranspose2d output", 6}, {"guidance", 7}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        pixl_ctx *ctx = pixl_ctx_new(P, PIXL_MODE_EVAL);
        pixl_tensor *x = pixl_input(ctx, "x", PIXL_F32, 4, xs), *g = pixl_input(ctx, "g", PIXL_F32, 4, gs), *y = NULL;
        pixl_pac_opts o = {.kernel = {3, 3}, .padding = {1, 1}};
        int rc = 0;
        switch (cases[c].which) {
        case 0: o.kernel[0] = 4; y = pixl_nn_pacconv2d(ctx, "a", x, g, NULL, 2, &o, 1); break;
        case 1: /* pacnet's smoothing ignores dilation: sizes would not match */
            o.dilation[0] = o.dilation[1] = 2;
            o.padding[0] = o.padding[1] = 2;
            pixl_pac_parse_smooth("average_3", &o);
            y = pixl_nn_pacconv2d(ctx, "b", x, g, NULL, 2, &o, 1);
            break;
        case 2: y = pixl_pacpool2d(ctx, x, pixl_input(ctx, "k", PIXL_F32, 5, k5), &o); break;
        case 3: o.shared_filters = 1; y = pixl_nn_pacconv2d(ctx, "c", x, g, NULL, 2, &o, 1); break;
        case 4: rc = pixl_pac_parse_kernel_type("inv_x_2", &o); break;
        case 5: rc = pixl_pac_parse_smooth("average_4", &o); break;
        case 6:
            o.transposed = 1;
            o.stride[0] = o.stride[1] = 2;
            y = pixl_packernel2d(ctx, pixl_input(ctx, "gb", PIXL_F32, 4, gbad), NULL, NULL, NULL, NULL, &o);
            if (y) { /* 7 rows can be an output of stride 2 (output_padding 0): then ask for 1 */
                pixl_ctx_free(ctx);
                ctx = pixl_ctx_new(P, PIXL_MODE_EVAL);
                o.output_padding[0] = 1;
                y = pixl_packernel2d(ctx, pixl_input(ctx, "gb", PIXL_F32, 4, gbad), NULL, NULL, NULL, NULL, &o);
            }
            break;
        case 7: y = pixl_nn_pacconv2d(ctx, "d", x, NULL, NULL, 2, &o, 1); break;
        }
        const char *msg = cases[c].which == 4 || cases[c].which == 5 ? pixl_last_error() : pixl_ctx_error(ctx);
        if (cases[c].which == 4 || cases[c].which == 5) CHECK_MSG(rc != 0, "case %zu accepted", c);
        else CHECK_MSG(y == NULL, "case %zu (%s) built", c, cases[c].want);
        CHECK_MSG(msg && strstr(msg, cases[c].want), "case %zu: message '%s' lacks '%s'", c, msg ? msg : "(null)",
                  cases[c].want);
        pixl_ctx_free(ctx);
    }
    pixl_params_free(P);
}
