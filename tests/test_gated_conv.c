/* test_gated_conv.c — pixl_gated_conv3x3 against the dense computation
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
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++)
        for (int dil = 1; dil <= 3; dil += 2)
            run_both(&(gcase){.N = 1, .C = 6, .H = H, .W = W, .dil = dil, .mask = M_PIXEL, .py = at[i][0],
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
