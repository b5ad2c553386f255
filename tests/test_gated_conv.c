/* test_gated_conv.c — pixl_gated_conv3x3 and its general form pixl_gated_conv3x3_ex against the dense computation
 * (conv2d, then the affine and ReLU on the host, selected by the mask) for
 * many masks, channel counts, dilations and batch sizes; the same bits on 1
 * and 2 threads; readable errors for bad inputs. */
#include <stdlib.h>
#include <string.h>

#include "test.h"

enum { M_ON, M_OFF, M_CHECKER, M_RAND30, M_RAND70, M_RAND90, M_PIXEL, M_MIXED };

typedef struct gcase {
    int N, C, H, W, dil;
    int mask;
    int py, px; /* M_PIXEL: the active pixel */
    int bias, bn, relu;
} gcase;

static float mask_at(const gcase *g, int n, int y, int x, unsigned *rng)
{
    int kind = g->mask;
    if (kind == M_MIXED) kind = n % 4 == 0 ? M_OFF : n % 4 == 1 ? M_RAND30 : n % 4 == 2 ? M_ON : M_RAND90;
    *rng = *rng * 1103515245u + 12345u;
    float u = (float)((*rng >> 8) & 0xffff) / 65536.0f;
    switch (kind) {
    case M_ON: return 1;
    case M_OFF: return 0;
    case M_CHECKER: return (float)((y + x + n) % 2);
    case M_RAND30: return u < 0.3f;
    case M_RAND70: return u < 0.7f;
    case M_RAND90: return u < 0.9f;
    case M_PIXEL: return y == g->py && x == g->px;
    }
    return 0;
}

/* run the case on `threads` threads; returns z (malloc'ed) and checks it
 * against the dense computation; NULL on a build failure (reported) */
static float *run_case(const gcase *g, int threads)
{
    pixl_set_num_threads(threads);
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL);
    int64_t xs[4] = {g->N, g->C, g->H, g->W}, ms[4] = {g->N, 1, g->H, g->W}, ws[4] = {g->C, g->C, 3, 3};
    int64_t vs[1] = {g->C};
    pixl_tensor *h1 = pixl_input(ctx, "h1", PIXL_F32, 4, xs), *m = pixl_input(ctx, "mask", PIXL_F32, 4, ms);
    pixl_tensor *w = pixl_input(ctx, "w", PIXL_F32, 4, ws);
    pixl_tensor *b = g->bias ? pixl_input(ctx, "b", PIXL_F32, 1, vs) : NULL;
    pixl_tensor *sc = g->bn ? pixl_input(ctx, "scale", PIXL_F32, 1, vs) : NULL;
    pixl_tensor *sh = g->bn ? pixl_input(ctx, "shift", PIXL_F32, 1, vs) : NULL;
    pixl_conv2d_opts o = {.padding = {g->dil, g->dil}, .dilation = {g->dil, g->dil}};
    pixl_tensor *y = pixl_conv2d(ctx, h1, w, b, &o);
    pixl_tensor *z = pixl_gated_conv3x3(ctx, h1, m, w, b, sc, sh, g->dil, g->relu);
    if (!y || !z || pixl_ctx_plan(ctx)) {
        CHECK_MSG(0, "build: %s", pixl_last_error());
        pixl_ctx_free(ctx);
        return NULL;
    }
    const long nx = (long)pixl_tensor_numel(h1), L = (long)g->H * g->W;
    pixl_test_fill_uniform(pixl_tensor_data(h1), nx, -1, 1, 11);
    pixl_test_fill_uniform(pixl_tensor_data(w), (long)pixl_tensor_numel(w), -0.3f, 0.3f, 12);
    if (b) pixl_test_fill_uniform(pixl_tensor_data(b), g->C, -0.5f, 0.5f, 13);
    if (sc) pixl_test_fill_uniform(pixl_tensor_data(sc), g->C, 0.5f, 1.5f, 14);
    if (sh) pixl_test_fill_uniform(pixl_tensor_data(sh), g->C, -0.5f, 0.5f, 15);
    float *md = pixl_tensor_data(m);
    unsigned rng = 7u + (unsigned)g->mask;
    for (int n = 0; n < g->N; n++)
        for (int yy = 0; yy < g->H; yy++)
            for (int xx = 0; xx < g->W; xx++) md[((long)n * g->H + yy) * g->W + xx] = mask_at(g, n, yy, xx, &rng);
    CHECK_OK(pixl_forward(ctx));
    const float *hd = pixl_tensor_data(h1), *yd = pixl_tensor_data(y), *zd = pixl_tensor_data(z);
    const float *bs = sc ? pixl_tensor_data(sc) : NULL, *bt = sh ? pixl_tensor_data(sh) : NULL;
    float *ref = malloc(sizeof(float) * (size_t)nx);
    double big = 0;
    for (long i = 0; i < nx; i++) {
        long n = i / (g->C * L), c = (i / L) % g->C, p = i % L;
        float v = yd[i];
        if (bs) v *= bs[c];
        if (bt) v += bt[c];
        if (g->relu) v = v > 0 ? v : 0;
        ref[i] = md[n * L + p] != 0 ? v : hd[i];
        if (fabs(ref[i]) > big) big = fabs(ref[i]);
    }
    char what[160];
    snprintf(what, sizeof what, "gated N%d C%d %dx%d dil %d mask %d (%d,%d) bias %d bn %d relu %d threads %d", g->N,
             g->C, g->H, g->W, g->dil, g->mask, g->py, g->px, g->bias, g->bn, g->relu, threads);
    CHECK_ALLCLOSE(what, zd, ref, nx, 1e-5, 1e-5 * (big > 1 ? big : 1));
    /* inactive pixels are h1 exactly */
    long bad = 0;
    for (long i = 0; i < nx; i++) {
        long n = i / (g->C * L), p = i % L;
        if (md[n * L + p] == 0 && zd[i] != hd[i]) bad++;
    }
    CHECK_MSG(bad == 0, "%s: %ld inactive outputs differ from h1", what, bad);
    float *out = malloc(sizeof(float) * (size_t)nx);
    memcpy(out, zd, sizeof(float) * (size_t)nx);
    free(ref);
    pixl_ctx_free(ctx);
    return out;
}

/* every case on 1 and 2 threads: both equal to the dense computation and to each other bit for bit */
static void run_both(const gcase *g)
{
    int saved = pixl_num_threads();
    float *a = run_case(g, 1), *b = run_case(g, 2);
    if (a && b) {
        size_t n = (size_t)g->N * g->C * g->H * g->W;
        CHECK_MSG(!memcmp(a, b, n * sizeof(float)), "gated N%d C%d %dx%d dil %d mask %d: 1 and 2 threads differ",
                  g->N, g->C, g->H, g->W, g->dil, g->mask);
    }
    free(a);
    free(b);
    pixl_set_num_threads(saved);
}

PIXL_TEST(gated_conv_masks)
{
    const int kinds[] = {M_ON, M_OFF, M_CHECKER, M_RAND30, M_RAND70, M_RAND90};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        run_both(&(gcase){.N = 1, .C = 8, .H = 13, .W = 11, .dil = 1, .mask = kinds[k], .bias = 1, .bn = 1, .relu = 1});
        run_both(&(gcase){.N = 2, .C = 5, .H = 9, .W = 16, .dil = 2, .mask = kinds[k], .bias = 0, .bn = 1, .relu = 0});
        run_both(&(gcase){.N = 1, .C = 64, .H = 20, .W = 23, .dil = 1, .mask = kinds[k], .bias = 1, .bn = 1, .relu = 1});
    }
}

PIXL_TEST(gated_conv_single_pixels)
{
    const int H = 7, W = 10;
    const int at[][2] = {{0, 0}, {0, W - 1}, {H - 1, 0}, {H - 1, W - 1}, {0, 4}, {3, 0}, {H - 1, 5}, {2, W - 1}, {3, 4}};
    /* 6 channels: each pixel is a window; 64: a gathered column block (taps outside the image are 0) */
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++)
        for (int dil = 1; dil <= 3; dil += 2)
            for (int C = 6; C <= 64; C += 58)
                run_both(&(gcase){.N = 1, .C = C, .H = H, .W = W, .dil = dil, .mask = M_PIXEL, .py = at[i][0],
                                  .px = at[i][1], .bias = 1, .bn = 1, .relu = 1});
}

PIXL_TEST(gated_conv_shapes)
{
    /* channel counts, dilations (one larger than the image: every tap but the centre is outside), batches with
     * images on different paths (empty, sparse, dense, dense with a few inactive pixels) */
    const int Cs[] = {1, 3, 16, 33};
    for (size_t i = 0; i < sizeof Cs / sizeof Cs[0]; i++)
        for (int dil = 1; dil <= 4; dil++)
            run_both(&(gcase){.N = 4, .C = Cs[i], .H = 9, .W = 12, .dil = dil == 4 ? 12 : dil, .mask = M_MIXED,
                              .bias = (int)i % 2, .bn = dil % 2, .relu = 1});
    run_both(&(gcase){.N = 3, .C = 32, .H = 40, .W = 37, .dil = 2, .mask = M_RAND30, .bias = 1, .bn = 1, .relu = 1});
    /* rows narrower than a window (8 pixels): a window spans several rows */
    for (int W = 1; W <= 7; W += 2)
        for (int C = 8; C <= 64; C += 56) {
            run_both(&(gcase){.N = 2, .C = C, .H = 6, .W = W, .dil = 1, .mask = M_RAND70, .bias = 1, .bn = 1, .relu = 1});
            run_both(&(gcase){.N = 1, .C = C, .H = 5, .W = W, .dil = 2, .mask = M_ON, .bias = 1, .bn = 0, .relu = 0});
        }
    run_both(&(gcase){.N = 1, .C = 4, .H = 1, .W = 1, .dil = 1, .mask = M_ON, .bias = 1, .bn = 0, .relu = 0});
}

static int fails_with(pixl_ctx *ctx, pixl_tensor *t, const char *needle)
{
    const char *e = pixl_last_error();
    int ok = t == NULL && e && strstr(e, needle) != NULL;
    if (!ok) fprintf(stderr, "    expected an error with '%s', got '%s'\n", needle, e ? e : "(none)");
    pixl_ctx_free(ctx);
    return ok;
}

PIXL_TEST(gated_conv_errors)
{
    int64_t xs[4] = {2, 4, 6, 7}, ms[4] = {2, 1, 6, 7}, ws[4] = {4, 4, 3, 3}, v4[1] = {4};
#define NEW_CTX(mode)                                                                                      \
    pixl_ctx *ctx = pixl_ctx_new(NULL, mode);                                                              \
    pixl_tensor *h1 = pixl_input(ctx, "h1", PIXL_F32, 4, xs), *m = pixl_input(ctx, "mask", PIXL_F32, 4, ms); \
    pixl_tensor *w = pixl_input(ctx, "w", PIXL_F32, 4, ws)
    {
        NEW_CTX(PIXL_MODE_EVAL);
        int64_t bad[4] = {2, 1, 6, 8};
        pixl_tensor *m2 = pixl_input(ctx, "mask2", PIXL_F32, 4, bad);
        (void)m;
        CHECK(fails_with(ctx, pixl_gated_conv3x3(ctx, h1, m2, w, NULL, NULL, NULL, 1, 1), "mask mask2"));
    }
    {
        NEW_CTX(PIXL_MODE_EVAL);
        int64_t bad[4] = {8, 4, 3, 3};
        pixl_tensor *w2 = pixl_input(ctx, "w2", PIXL_F32, 4, bad);
        (void)w;
        CHECK(fails_with(ctx, pixl_gated_conv3x3(ctx, h1, m, w2, NULL, NULL, NULL, 1, 1), "C_out must equal C"));
    }
    {
        NEW_CTX(PIXL_MODE_EVAL);
        int64_t bad[4] = {4, 4, 5, 5};
        pixl_tensor *w2 = pixl_input(ctx, "w2", PIXL_F32, 4, bad);
        (void)w;
        CHECK(fails_with(ctx, pixl_gated_conv3x3(ctx, h1, m, w2, NULL, NULL, NULL, 1, 1), "(C_out, C, 3, 3)"));
    }
    {
        NEW_CTX(PIXL_MODE_EVAL);
        int64_t b3[1] = {3};
        pixl_tensor *sc = pixl_input(ctx, "scale", PIXL_F32, 1, b3);
        CHECK(fails_with(ctx, pixl_gated_conv3x3(ctx, h1, m, w, NULL, sc, NULL, 1, 1), "bn_scale scale"));
    }
    {
        NEW_CTX(PIXL_MODE_EVAL);
        CHECK(fails_with(ctx, pixl_gated_conv3x3(ctx, h1, m, w, NULL, NULL, NULL, -2, 1), "dilation -2"));
    }
    {
        NEW_CTX(PIXL_MODE_EVAL_GRAD);
        pixl_tensor *b = pixl_input_grad(ctx, "b", 1, v4);
        CHECK(fails_with(ctx, pixl_gated_conv3x3(ctx, h1, m, w, b, NULL, NULL, 1, 1), "forward only"));
    }
    {
        /* a mask value other than 0 and 1 fails the forward, naming it */
        NEW_CTX(PIXL_MODE_EVAL);
        pixl_tensor *z = pixl_gated_conv3x3(ctx, h1, m, w, NULL, NULL, NULL, 1, 1);
        CHECK(z && pixl_ctx_plan(ctx) == PIXL_OK);
        if (z) {
            float *md = pixl_tensor_data(m);
            memset(md, 0, sizeof(float) * 2 * 6 * 7);
            md[6 * 7 + 2 * 7 + 3] = 0.5f;
            CHECK(pixl_forward(ctx) != PIXL_OK);
            CHECK_MSG(strstr(pixl_last_error(), "must be 0 or 1, got 0.5 at image 1, pixel (2, 3)") != NULL, "got '%s'",
                      pixl_last_error());
        }
        pixl_ctx_free(ctx);
    }
#undef NEW_CTX
}

/* ------------------------------------------------------------------ the general form
 * pixl_gated_conv3x3_ex against the same values from the graph's own ops:
 * conv2d (+ bias) -> batch_norm2d (EVAL, running statistics) -> relu, or the
 * affine on the host when there are no statistics, selected by the chosen
 * channel of a one-hot gate, the other pixels from `pass` (or x). */

enum { G_ON, G_OFF, G_CHECKER, G_RAND30, G_RAND70, G_RAND90, G_BLOBS };

typedef struct excase {
    int N, C, CO, H, W, dil, KG, ch;
    int mask;
    int pass, bias, bnw, bnb, bnm, bnv, relu;
    float eps;
} excase;

/* is channel `ch` on at (n, y, x); the off pixels pick another channel */
static int gate_on(const excase *g, int n, int y, int x, unsigned *rng)
{
    *rng = *rng * 1103515245u + 12345u;
    float u = (float)((*rng >> 8) & 0xffff) / 65536.0f;
    switch (g->mask) {
    case G_ON: return 1;
    case G_OFF: return 0;
    case G_CHECKER: return (y + x + n) % 2;
    case G_RAND30: return u < 0.3f;
    case G_RAND70: return u < 0.7f;
    case G_RAND90: return u < 0.9f;
    case G_BLOBS: { /* three discs per image, radius about a fifth of the side */
        int on = 0;
        for (int k = 0; k < 3; k++) {
            int cy = (n * 7 + k * 5) % g->H, cx = (n * 3 + k * 11) % g->W, r = 1 + (g->H + g->W) / 10;
            if ((y - cy) * (y - cy) + (x - cx) * (x - cx) <= r * r) on = 1;
        }
        return on;
    }
    }
    return 0;
}

static void fill_gate(const excase *g, float *gd)
{
    unsigned rng = 99u + (unsigned)g->mask;
    const long L = (long)g->H * g->W;
    memset(gd, 0, sizeof(float) * (size_t)g->N * g->KG * L);
    for (int n = 0; n < g->N; n++)
        for (int y = 0; y < g->H; y++)
            for (int x = 0; x < g->W; x++) {
                int c = gate_on(g, n, y, x, &rng) ? g->ch : g->KG > 1 ? (g->ch + 1 + (y * 7 + x) % (g->KG - 1)) % g->KG : -1;
                if (c >= 0) gd[((long)n * g->KG + c) * L + (long)y * g->W + x] = 1.0f;
            }
}

static float *run_ex(const excase *g, int threads)
{
    pixl_set_num_threads(threads);
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL);
    int64_t xs[4] = {g->N, g->C, g->H, g->W}, gs[4] = {g->N, g->KG, g->H, g->W}, ws[4] = {g->CO, g->C, 3, 3};
    int64_t zs[4] = {g->N, g->CO, g->H, g->W}, vs[1] = {g->CO};
    pixl_tensor *x = pixl_input(ctx, "x", PIXL_F32, 4, xs), *gate = pixl_input(ctx, "gate", PIXL_F32, 4, gs);
    pixl_tensor *w = pixl_input(ctx, "w", PIXL_F32, 4, ws);
    pixl_tensor *ps = g->pass ? pixl_input(ctx, "pass", PIXL_F32, 4, zs) : NULL;
    pixl_tensor *b = g->bias ? pixl_input(ctx, "b", PIXL_F32, 1, vs) : NULL;
    pixl_tensor *bw = g->bnw ? pixl_input(ctx, "bn_w", PIXL_F32, 1, vs) : NULL;
    pixl_tensor *bb = g->bnb ? pixl_input(ctx, "bn_b", PIXL_F32, 1, vs) : NULL;
    pixl_tensor *bm = g->bnm ? pixl_input(ctx, "bn_m", PIXL_F32, 1, vs) : NULL;
    pixl_tensor *bv = g->bnv ? pixl_input(ctx, "bn_v", PIXL_F32, 1, vs) : NULL;
    pixl_gated_conv_opts o = {.dilation = g->dil, .relu = g->relu, .pass = ps, .bias = b, .bn_weight = bw,
                              .bn_bias = bb, .bn_mean = bm, .bn_var = bv, .bn_eps = g->eps};
    pixl_tensor *z = pixl_keep(pixl_gated_conv3x3_ex(ctx, x, gate, g->ch, w, &o));
    /* the reference: conv2d (+ bias), then batch_norm2d when there are statistics */
    pixl_conv2d_opts co = {.padding = {g->dil, g->dil}, .dilation = {g->dil, g->dil}};
    pixl_tensor *y = pixl_conv2d(ctx, x, w, b, &co);
    const int stats = g->bnm && g->bnv;
    if (stats) {
        pixl_bn_opts bo = {.eps = g->eps};
        y = pixl_batch_norm2d(ctx, y, bw, bb, bm, bv, NULL, &bo);
    }
    if (g->relu && stats) y = pixl_relu(ctx, y);
    pixl_keep(y);
    char what[200];
    snprintf(what, sizeof what,
             "gated_ex N%d C%d->%d %dx%d dil %d gate %d/%d mask %d pass %d bias %d bn %d%d%d%d relu %d threads %d",
             g->N, g->C, g->CO, g->H, g->W, g->dil, g->ch, g->KG, g->mask, g->pass, g->bias, g->bnw, g->bnb, g->bnm,
             g->bnv, g->relu, threads);
    if (!z || !y || pixl_ctx_plan(ctx)) {
        CHECK_MSG(0, "%s: build: %s", what, pixl_last_error());
        pixl_ctx_free(ctx);
        return NULL;
    }
    const long nx = (long)pixl_tensor_numel(x), nz = (long)pixl_tensor_numel(z), L = (long)g->H * g->W;
    pixl_test_fill_uniform(pixl_tensor_data(x), nx, -1, 1, 21);
    pixl_test_fill_uniform(pixl_tensor_data(w), (long)pixl_tensor_numel(w), -0.3f, 0.3f, 22);
    if (ps) pixl_test_fill_uniform(pixl_tensor_data(ps), nz, -2, 2, 23);
    if (b) pixl_test_fill_uniform(pixl_tensor_data(b), g->CO, -0.5f, 0.5f, 24);
    if (bw) pixl_test_fill_uniform(pixl_tensor_data(bw), g->CO, 0.5f, 1.5f, 25);
    if (bb) pixl_test_fill_uniform(pixl_tensor_data(bb), g->CO, -0.5f, 0.5f, 26);
    if (bm) pixl_test_fill_uniform(pixl_tensor_data(bm), g->CO, -0.5f, 0.5f, 27);
    if (bv) pixl_test_fill_uniform(pixl_tensor_data(bv), g->CO, 0.2f, 2.0f, 28);
    fill_gate(g, pixl_tensor_data(gate));
    CHECK_OK(pixl_forward(ctx));
    const float *xd = pixl_tensor_data(x), *gd = pixl_tensor_data(gate), *yd = pixl_tensor_data(y);
    const float *zd = pixl_tensor_data(z), *pd = ps ? pixl_tensor_data(ps) : xd;
    float *ref = malloc(sizeof(float) * (size_t)nz);
    double big = 0;
    long bad_pass = 0;
    for (long i = 0; i < nz; i++) {
        long n = i / (g->CO * L), c = (i / L) % g->CO, p = i % L;
        float v = yd[i];
        if (!stats) { /* the affine of the weight and bias given, without statistics */
            const float *vw = bw ? pixl_tensor_data(bw) : NULL, *vb = bb ? pixl_tensor_data(bb) : NULL;
            const float *vm = bm ? pixl_tensor_data(bm) : NULL, *vv = bv ? pixl_tensor_data(bv) : NULL;
            double eps = g->eps > 0 ? g->eps : 1e-5;
            double sc = (vw ? vw[c] : 1.0) / (vv ? sqrt(vv[c] + eps) : 1.0);
            double sh = (vb ? vb[c] : 0.0) - (vm ? vm[c] : 0.0) * (double)(float)sc;
            if (vw || vv) v = v * (float)sc;
            if (vb || vm) v = v + (float)sh;
            if (g->relu) v = v > 0 ? v : 0;
        }
        int on = gd[(n * g->KG + g->ch) * L + p] == 1.0f;
        ref[i] = on ? v : pd[i];
        if (!on && zd[i] != pd[i]) bad_pass++;
        if (fabs(ref[i]) > big) big = fabs(ref[i]);
    }
    CHECK_ALLCLOSE(what, zd, ref, nz, 1e-5, 1e-5 * (big > 1 ? big : 1));
    CHECK_MSG(bad_pass == 0, "%s: %ld inactive outputs differ from pass", what, bad_pass);
    float *out = malloc(sizeof(float) * (size_t)nz);
    memcpy(out, zd, sizeof(float) * (size_t)nz);
    free(ref);
    pixl_ctx_free(ctx);
    return out;
}

static void run_ex_both(const excase *g)
{
    int saved = pixl_num_threads();
    float *a = run_ex(g, 1), *b = run_ex(g, 2);
    if (a && b)
        CHECK_MSG(!memcmp(a, b, sizeof(float) * (size_t)g->N * g->CO * g->H * g->W),
                  "gated_ex C%d->%d %dx%d dil %d gate %d/%d mask %d: 1 and 2 threads differ", g->C, g->CO, g->H, g->W,
                  g->dil, g->ch, g->KG, g->mask);
    free(a);
    free(b);
    pixl_set_num_threads(saved);
}

PIXL_TEST(gated_conv_ex_gates)
{
    /* gates of 2 and 5 channels (channel 1 and 3), every mask kind; BatchNorm with statistics (the fold
     * against batch_norm2d in EVAL), ReLU */
    const int kinds[] = {G_ON, G_OFF, G_CHECKER, G_RAND30, G_RAND70, G_RAND90, G_BLOBS};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        run_ex_both(&(excase){.N = 2, .C = 8, .CO = 8, .H = 13, .W = 17, .dil = 1, .KG = 2, .ch = 1,
                              .mask = kinds[k], .bias = 1, .bnw = 1, .bnb = 1, .bnm = 1, .bnv = 1, .relu = 1});
        run_ex_both(&(excase){.N = 1, .C = 16, .CO = 16, .H = 20, .W = 31, .dil = 2, .KG = 5, .ch = 3,
                              .mask = kinds[k], .bias = 0, .bnw = 1, .bnb = 1, .bnm = 1, .bnv = 1, .relu = 1,
                              .eps = 1e-3f});
        run_ex_both(&(excase){.N = 1, .C = 64, .CO = 64, .H = 19, .W = 24, .dil = 1, .KG = 5, .ch = 0,
                              .mask = kinds[k], .bias = 1, .bnm = 1, .bnv = 1, .relu = 0});
    }
}

PIXL_TEST(gated_conv_ex_pass_and_affine)
{
    /* pass given, C_out != C; every subset of the affine's parts; wide reductions (column blocks gathered in
     * chunks: C*9 > 1152) and channel counts that leave a partial register tile */
    const int kinds[] = {G_ON, G_CHECKER, G_RAND30, G_RAND90, G_BLOBS};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        run_ex_both(&(excase){.N = 2, .C = 6, .CO = 10, .H = 11, .W = 14, .dil = 1, .KG = 2, .ch = 1,
                              .mask = kinds[k], .pass = 1, .bias = 1, .bnw = 1, .bnb = 1, .relu = 1});
        run_ex_both(&(excase){.N = 1, .C = 144, .CO = 20, .H = 9, .W = 21, .dil = 3, .KG = 3, .ch = 2,
                              .mask = kinds[k], .pass = 1, .bias = 1, .bnw = 1, .bnb = 1, .bnm = 1, .bnv = 1,
                              .relu = 1});
        run_ex_both(&(excase){.N = 1, .C = 4, .CO = 4, .H = 40, .W = 64, .dil = 1, .KG = 2, .ch = 0,
                              .mask = kinds[k], .bnv = 1, .relu = 0});
        /* many output channels: sparse pixels are gathered into column blocks, here in two chunks */
        run_ex_both(&(excase){.N = 1, .C = 144, .CO = 140, .H = 10, .W = 13, .dil = 2, .KG = 2, .ch = 1,
                              .mask = kinds[k], .pass = 1, .bias = 1, .bnm = 1, .bnv = 1, .relu = 1});
    }
    for (int parts = 0; parts < 32; parts++)
        run_ex_both(&(excase){.N = 1, .C = 5, .CO = 7, .H = 8, .W = 9, .dil = 2, .KG = 2, .ch = 1, .mask = G_RAND70,
                              .pass = 1, .bias = parts & 1, .bnw = parts >> 1 & 1, .bnb = parts >> 2 & 1,
                              .bnm = parts >> 3 & 1, .bnv = parts >> 4 & 1, .relu = parts % 3 == 0});
}

/* MultiPool at evaluation: out = x; for each dilated branch k, out = ex(x, a, k, w_k, pass = out) with a
 * one-hot attention a (N, K+1, H, W) (channel 0: x itself) -- equal to sum_k a_k * branch_k computed densely */
static void multipool_chain(int N, int C, int H, int W, int nbranch, const int *dil, int mask, int threads,
                            float **out)
{
    pixl_set_num_threads(threads);
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL);
    int64_t xs[4] = {N, C, H, W}, as[4] = {N, nbranch + 1, H, W}, ws[4] = {C, C, 3, 3}, vs[1] = {C};
    pixl_tensor *x = pixl_input(ctx, "x", PIXL_F32, 4, xs), *a = pixl_input(ctx, "a", PIXL_F32, 4, as);
    pixl_tensor *w[8], *gam[8], *bet[8], *br[8];
    pixl_tensor *z = x;
    for (int k = 0; k < nbranch; k++) {
        char nm[32];
        snprintf(nm, sizeof nm, "w%d", k);
        w[k] = pixl_input(ctx, nm, PIXL_F32, 4, ws);
        snprintf(nm, sizeof nm, "gamma%d", k);
        gam[k] = pixl_input(ctx, nm, PIXL_F32, 1, vs);
        snprintf(nm, sizeof nm, "beta%d", k);
        bet[k] = pixl_input(ctx, nm, PIXL_F32, 1, vs);
        pixl_gated_conv_opts o = {.dilation = dil[k], .relu = 1, .pass = z, .bn_weight = gam[k], .bn_bias = bet[k]};
        z = pixl_gated_conv3x3_ex(ctx, x, a, k + 1, w[k], &o);
        pixl_conv2d_opts co = {.padding = {dil[k], dil[k]}, .dilation = {dil[k], dil[k]}};
        br[k] = pixl_keep(pixl_conv2d(ctx, x, w[k], NULL, &co));
    }
    pixl_keep(z);
    *out = NULL;
    if (!z || pixl_ctx_plan(ctx)) {
        CHECK_MSG(0, "multipool chain: build: %s", pixl_last_error());
        pixl_ctx_free(ctx);
        return;
    }
    const long L = (long)H * W, nx = (long)N * C * L;
    pixl_test_fill_uniform(pixl_tensor_data(x), nx, -1, 1, 31);
    for (int k = 0; k < nbranch; k++) {
        pixl_test_fill_uniform(pixl_tensor_data(w[k]), (long)C * C * 9, -0.3f, 0.3f, 32 + (unsigned)k);
        pixl_test_fill_uniform(pixl_tensor_data(gam[k]), C, 0.5f, 1.5f, 40 + (unsigned)k);
        pixl_test_fill_uniform(pixl_tensor_data(bet[k]), C, -0.5f, 0.5f, 48 + (unsigned)k);
    }
    float *ad = pixl_tensor_data(a);
    memset(ad, 0, sizeof(float) * (size_t)N * (nbranch + 1) * L);
    unsigned rng = 5;
    for (int n = 0; n < N; n++)
        for (int y = 0; y < H; y++)
            for (int xx = 0; xx < W; xx++) {
                rng = rng * 1103515245u + 12345u;
                int c = mask == G_BLOBS ? (y * (nbranch + 1) / H + xx * 2 / W + n) % (nbranch + 1)
                                        : (int)((rng >> 8) % (unsigned)(nbranch + 1));
                ad[((long)n * (nbranch + 1) + c) * L + (long)y * W + xx] = 1.0f;
            }
    CHECK_OK(pixl_forward(ctx));
    /* dense: sum_k a_k * branch_k, branch_0 = x, branch_k = relu(gamma_k * conv_k(x) + beta_k) */
    const float *xd = pixl_tensor_data(x), *zd = pixl_tensor_data(z);
    float *ref = calloc((size_t)nx, sizeof(float));
    double big = 0;
    for (long i = 0; i < nx; i++) {
        long n = i / (C * L), c = (i / L) % C, p = i % L;
        double s = ad[(n * (nbranch + 1)) * L + p] * xd[i];
        for (int k = 0; k < nbranch; k++) {
            float v = ((const float *)pixl_tensor_data(br[k]))[i] * ((const float *)pixl_tensor_data(gam[k]))[c] +
                      ((const float *)pixl_tensor_data(bet[k]))[c];
            s += ad[(n * (nbranch + 1) + k + 1) * L + p] * (v > 0 ? v : 0);
        }
        ref[i] = (float)s;
        if (fabs(s) > big) big = fabs(s);
    }
    char what[120];
    snprintf(what, sizeof what, "multipool chain N%d C%d %dx%d %d branches mask %d threads %d", N, C, H, W, nbranch,
             mask, threads);
    CHECK_ALLCLOSE(what, zd, ref, nx, 1e-5, 1e-5 * (big > 1 ? big : 1));
    *out = malloc(sizeof(float) * (size_t)nx);
    memcpy(*out, zd, sizeof(float) * (size_t)nx);
    free(ref);
    pixl_ctx_free(ctx);
}

PIXL_TEST(gated_conv_ex_multipool_chain)
{
    int saved = pixl_num_threads();
    const int dil3[] = {1, 2, 3}, dil4[] = {1, 2, 4, 8};
    struct { int N, C, H, W, nb; const int *dil; int mask; } cs[] = {
        {2, 8, 15, 18, 3, dil3, G_RAND30}, {1, 32, 23, 30, 3, dil3, G_BLOBS}, {1, 64, 12, 20, 4, dil4, G_RAND30},
        /* maps smaller than the dilation (MultiPool on a small res5) */
        {1, 10, 6, 6, 4, dil4, G_RAND30}, {2, 8, 3, 4, 3, dil3, G_RAND30}, {1, 16, 5, 9, 4, dil4, G_BLOBS},
        {2, 6, 6, 5, 4, dil4, G_RAND30}, {2, 5, 5, 4, 1, dil3, G_RAND30}};
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
        float *a = NULL, *b = NULL;
        multipool_chain(cs[i].N, cs[i].C, cs[i].H, cs[i].W, cs[i].nb, cs[i].dil, cs[i].mask, 1, &a);
        multipool_chain(cs[i].N, cs[i].C, cs[i].H, cs[i].W, cs[i].nb, cs[i].dil, cs[i].mask, 2, &b);
        if (a && b)
            CHECK_MSG(!memcmp(a, b, sizeof(float) * (size_t)cs[i].N * cs[i].C * cs[i].H * cs[i].W),
                      "multipool chain case %zu: 1 and 2 threads differ", i);
        free(a);
        free(b);
    }
    pixl_set_num_threads(saved);
}

PIXL_TEST(gated_conv_ex_errors)
{
    int64_t xs[4] = {2, 4, 6, 7}, gs[4] = {2, 3, 6, 7}, ws[4] = {4, 4, 3, 3}, v4[1] = {4};
#define NEW_EX(mode)                                                                                        \
    pixl_ctx *ctx = pixl_ctx_new(NULL, mode);                                                               \
    pixl_tensor *x = pixl_input(ctx, "x", PIXL_F32, 4, xs), *g = pixl_input(ctx, "gate", PIXL_F32, 4, gs);  \
    pixl_tensor *w = pixl_input(ctx, "w", PIXL_F32, 4, ws)
    {
        NEW_EX(PIXL_MODE_EVAL);
        CHECK(fails_with(ctx, pixl_gated_conv3x3_ex(ctx, x, g, 3, w, NULL), "channel 3 is outside gate gate"));
    }
    {
        NEW_EX(PIXL_MODE_EVAL);
        CHECK(fails_with(ctx, pixl_gated_conv3x3_ex(ctx, x, g, -1, w, NULL), "channel -1"));
    }
    {
        NEW_EX(PIXL_MODE_EVAL);
        int64_t bad[4] = {2, 3, 6, 8};
        pixl_tensor *g2 = pixl_input(ctx, "gate2", PIXL_F32, 4, bad);
        (void)g;
        CHECK(fails_with(ctx, pixl_gated_conv3x3_ex(ctx, x, g2, 0, w, NULL), "gate gate2 [2, 3, 6, 8]"));
    }
    {
        NEW_EX(PIXL_MODE_EVAL);
        int64_t w6[4] = {6, 4, 3, 3};
        pixl_tensor *w2 = pixl_input(ctx, "w6", PIXL_F32, 4, w6);
        (void)w;
        CHECK(fails_with(ctx, pixl_gated_conv3x3_ex(ctx, x, g, 0, w2, NULL), "C_out must equal C"));
    }
    {
        NEW_EX(PIXL_MODE_EVAL);
        int64_t w6[4] = {6, 4, 3, 3}, p4[4] = {2, 4, 6, 7};
        pixl_tensor *w2 = pixl_input(ctx, "w6", PIXL_F32, 4, w6), *p = pixl_input(ctx, "p", PIXL_F32, 4, p4);
        (void)w;
        pixl_gated_conv_opts o = {.pass = p};
        CHECK(fails_with(ctx, pixl_gated_conv3x3_ex(ctx, x, g, 0, w2, &o), "pass p [2, 4, 6, 7]"));
    }
    {
        NEW_EX(PIXL_MODE_EVAL);
        int64_t v3[1] = {3};
        pixl_tensor *m = pixl_input(ctx, "mean", PIXL_F32, 1, v3);
        pixl_gated_conv_opts o = {.bn_mean = m};
        CHECK(fails_with(ctx, pixl_gated_conv3x3_ex(ctx, x, g, 0, w, &o), "bn_mean mean [3]"));
    }
    {
        NEW_EX(PIXL_MODE_EVAL);
        pixl_gated_conv_opts o = {.bn_eps = -1};
        CHECK(fails_with(ctx, pixl_gated_conv3x3_ex(ctx, x, g, 0, w, &o), "bn_eps -1"));
    }
    {
        NEW_EX(PIXL_MODE_EVAL_GRAD);
        pixl_tensor *bv = pixl_input_grad(ctx, "var", 1, v4);
        pixl_gated_conv_opts o = {.bn_var = bv};
        CHECK(fails_with(ctx, pixl_gated_conv3x3_ex(ctx, x, g, 0, w, &o), "forward only"));
    }
    {
        /* a value other than 0 and 1 in the chosen channel fails the forward, naming it; other channels
         * are not read */
        NEW_EX(PIXL_MODE_EVAL);
        pixl_tensor *z = pixl_gated_conv3x3_ex(ctx, x, g, 2, w, NULL);
        CHECK(z && pixl_ctx_plan(ctx) == PIXL_OK);
        if (z) {
            float *gd = pixl_tensor_data(g);
            for (int i = 0; i < 2 * 3 * 6 * 7; i++) gd[i] = 0.25f; /* channels 0 and 1: anything */
            for (int n = 0; n < 2; n++) memset(gd + (n * 3 + 2) * 42, 0, sizeof(float) * 42);
            CHECK_OK(pixl_forward(ctx));
            gd[(1 * 3 + 2) * 42 + 4 * 7 + 5] = 2.0f;
            CHECK(pixl_forward(ctx) != PIXL_OK);
            CHECK_MSG(strstr(pixl_last_error(), "gate gate [2, 3, 6, 7] channel 2 must be 0 or 1, got 2 at image 1, "
                                                "pixel (4, 5)") != NULL,
                      "got '%s'", pixl_last_error());
        }
        pixl_ctx_free(ctx);
    }
#undef NEW_EX
}

/* every map size up to 9 x 40 with batches of 1-3 images (narrow maps take a direct loop) */
PIXL_TEST(gated_conv_ex_map_sizes_batches)
{
    const int dil3[] = {1, 2, 3};
    for (int N = 1; N <= 3; N++)
        for (int H = 1; H <= 9; H += 2)
            for (int W = 1; W <= 40; W += 3) {
                float *a = NULL;
                multipool_chain(N, 5, H, W, 1, dil3, G_RAND30, 1, &a);
                free(a);
                if (pixl_test_failed()) {
                    printf("    first failing size: N%d H%d W%d\n", N, H, W);
                    return;
                }
            }
}
