/* test_resample.c — tests of pixl_resize (bilinear with and without
 * align_corners, nearest; by size and by scale factor): hand-computed
 * examples, the separable kernels against a direct per-pixel reference
 * (forward and backward), gradient checks, builder errors, bit-identical
 * results for 1 and 2 threads, and a thread count raised after planning. */
#include <stdlib.h>
#include <string.h>

#include "gradcheck.h"
#include "test.h"

typedef struct rspec {
    int64_t shape[4];
    int oh, ow;
    pixl_resize_mode mode;
    int align;
    double sh, sw;
} rspec;

static void describe(const rspec *s, char *buf, size_t n)
{
    snprintf(buf, n, "resize %s x[%lld,%lld,%lld,%lld] -> %dx%d align%d scale %g,%g",
             s->mode == PIXL_RESIZE_BILINEAR ? "bilinear" : "nearest", (long long)s->shape[0], (long long)s->shape[1],
             (long long)s->shape[2], (long long)s->shape[3], s->oh, s->ow, s->align, s->sh, s->sw);
}

static long numel4(const int64_t *s) { return (long)(s[0] * s[1] * s[2] * s[3]); }

/* ------------------------------------------------------------ direct reference */
static void lin_ref(int64_t in, int64_t out, int align, double scale, int64_t i, int64_t *a, int64_t *b, double *l)
{
    double s = align ? (out > 1 ? (double)(in - 1) / (double)(out - 1) : 0) : (scale > 0 ? 1 / scale : (double)in / out);
    double src = align ? s * i : s * (i + 0.5) - 0.5;
    if (src < 0) src = 0;
    *a = (int64_t)floor(src);
    if (*a > in - 1) *a = in - 1;
    *b = *a < in - 1 ? *a + 1 : *a;
    *l = src - *a;
}

static int64_t near_ref(int64_t in, int64_t out, double scale, int64_t i)
{
    float s = scale > 0 ? (float)(1.0 / scale) : (float)in / (float)out;
    int64_t k = (int64_t)floorf((float)i * s);
    return k < in - 1 ? k : in - 1;
}

/* y = resize(x); dx = resize^T(dy), straight from the definition, in double */
static void ref_resize(const rspec *s, const float *x, const float *dy, float *y, float *dx)
{
    int64_t P = s->shape[0] * s->shape[1], H = s->shape[2], W = s->shape[3];
    double *acc = calloc((size_t)(P * H * W), sizeof(double));
    for (int64_t p = 0; p < P; p++)
        for (int64_t i = 0; i < s->oh; i++)
            for (int64_t j = 0; j < s->ow; j++) {
                const float *xp = x + p * H * W;
                double *ap = acc + p * H * W;
                int64_t o = (p * s->oh + i) * s->ow + j;
                if (s->mode == PIXL_RESIZE_NEAREST) {
                    int64_t h = near_ref(H, s->oh, s->sh, i), w = near_ref(W, s->ow, s->sw, j);
                    y[o] = xp[h * W + w];
                    ap[h * W + w] += dy[o];
                } else {
                    int64_t h0, h1, w0, w1;
                    double lh, lw;
                    lin_ref(H, s->oh, s->align, s->sh, i, &h0, &h1, &lh);
                    lin_ref(W, s->ow, s->align, s->sw, j, &w0, &w1, &lw);
                    double v = (1 - lh) * ((1 - lw) * xp[h0 * W + w0] + lw * xp[h0 * W + w1]) +
                               lh * ((1 - lw) * xp[h1 * W + w0] + lw * xp[h1 * W + w1]);
                    y[o] = (float)v;
                    ap[h0 * W + w0] += (1 - lh) * (1 - lw) * dy[o];
                    ap[h0 * W + w1] += (1 - lh) * lw * dy[o];
                    ap[h1 * W + w0] += lh * (1 - lw) * dy[o];
                    ap[h1 * W + w1] += lh * lw * dy[o];
                }
            }
    for (int64_t k = 0; k < P * H * W; k++) dx[k] = (float)acc[k];
    free(acc);
}

/* ------------------------------------------------------------ run helper */
typedef struct run_res { float *y, *dx; long ny, nx; int ok; } run_res;

static run_res run_resize(const rspec *s, const float *x, const float *dy)
{
    run_res r = {0};
    pixl_ctx *ctx = pixl_ctx_new(NULL, dy ? PIXL_MODE_EVAL_GRAD : PIXL_MODE_EVAL);
    pixl_tensor *in = dy ? pixl_input_grad(ctx, "x", 4, s->shape) : pixl_input(ctx, "x", PIXL_F32, 4, s->shape);
    pixl_tensor *y = pixl_resize(ctx, in, s->oh, s->ow, s->mode, s->align, s->sh, s->sw);
    if (!y || pixl_ctx_plan(ctx)) {
        pixl_test_fail(__FILE__, __LINE__, "run_resize: %s", pixl_last_error());
        pixl_ctx_free(ctx);
        return r;
    }
    r.nx = (long)pixl_tensor_numel(in);
    r.ny = (long)pixl_tensor_numel(y);
    memcpy(pixl_tensor_data(in), x, sizeof(float) * (size_t)r.nx);
    CHECK_OK(pixl_forward(ctx));
    r.y = malloc(sizeof(float) * (size_t)r.ny);
    memcpy(r.y, pixl_tensor_data(y), sizeof(float) * (size_t)r.ny);
    if (dy) {
        CHECK_OK(pixl_backward_from(ctx, y, dy));
        r.dx = malloc(sizeof(float) * (size_t)r.nx);
        memcpy(r.dx, pixl_tensor_grad(in), sizeof(float) * (size_t)r.nx);
    }
    r.ok = 1;
    pixl_ctx_free(ctx);
    return r;
}

static void free_res(run_res *r)
{
    free(r->y);
    free(r->dx);
}

/* ------------------------------------------------------------ hand-computed */
PIXL_TEST(resize_bilinear_fixed)
{
    static const float x[4] = {1, 2, 3, 4}; /* 1x1x2x2 -> 4x4: y = 1 + f[j] + 2 f[i] */
    rspec s = {{1, 1, 2, 2}, 4, 4, PIXL_RESIZE_BILINEAR, 0, 0, 0};
    float dy[16];
    for (int i = 0; i < 16; i++) dy[i] = 1;
    run_res r = run_resize(&s, x, dy);
    if (r.ok) {
        static const float f[4] = {0, 0.25f, 0.75f, 1}; /* src -0.25 (clamped to 0), 0.25, 0.75, 1.25 */
        float ey[16];
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++) ey[i * 4 + j] = 1 + f[j] + 2 * f[i];
        CHECK_ALLCLOSE("bilinear half-pixel", r.y, ey, 16, 1e-6, 0);
        static const float edx[4] = {4, 4, 4, 4}; /* each row/col weight sums to 2 */
        CHECK_ALLCLOSE("bilinear half-pixel dx", r.dx, edx, 4, 1e-6, 0);
    }
    free_res(&r);
    s.align = 1;
    r = run_resize(&s, x, dy);
    if (r.ok) {
        static const float f[4] = {0, 1.0f / 3, 2.0f / 3, 1};
        float ey[16];
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++) ey[i * 4 + j] = 1 + f[j] + 2 * f[i];
        CHECK_ALLCLOSE("bilinear align_corners", r.y, ey, 16, 1e-6, 1e-7);
    }
    free_res(&r);
    /* align_corners to a single pixel takes the corner; half-pixel takes the centre */
    rspec one = {{1, 1, 2, 2}, 1, 1, PIXL_RESIZE_BILINEAR, 1, 0, 0};
    r = run_resize(&one, x, NULL);
    if (r.ok) CHECK_NEAR(r.y[0], 1, 0);
    free_res(&r);
    one.align = 0;
    r = run_resize(&one, x, NULL);
    if (r.ok) CHECK_NEAR(r.y[0], 2.5, 1e-6);
    free_res(&r);
    /* a scale factor is used for the coordinate: 3 -> 4 with scale 1.5 reads
     * src = (i+0.5)/1.5 - 0.5 = -1/6, 0.5, 7/6, 11/6 (not 3/4-spaced) */
    static const float x3[3] = {0, 3, 6};
    rspec sc = {{1, 1, 1, 3}, 1, 4, PIXL_RESIZE_BILINEAR, 0, 1.5, 1.5};
    r = run_resize(&sc, x3, NULL);
    if (r.ok) {
        static const float ey[4] = {0, 1.5f, 3.5f, 5.5f};
        CHECK_ALLCLOSE("bilinear by scale", r.y, ey, 4, 1e-6, 1e-6);
    }
    free_res(&r);
}

PIXL_TEST(resize_nearest_fixed)
{
    float x[9];
    for (int i = 0; i < 9; i++) x[i] = (float)i;
    /* 1x1x1x5 -> 1x3: scale 5/3: src 0, 1, 3 */
    rspec s = {{1, 1, 1, 5}, 1, 3, PIXL_RESIZE_NEAREST, 0, 0, 0};
    float dy[18];
    for (int i = 0; i < 18; i++) dy[i] = (float)(1 << (i % 8));
    run_res r = run_resize(&s, x, dy);
    if (r.ok) {
        static const float ey[3] = {0, 1, 3}, edx[5] = {1, 2, 0, 4, 0};
        CHECK_ALLCLOSE("nearest down", r.y, ey, 3, 0, 0);
        CHECK_ALLCLOSE("nearest down dx", r.dx, edx, 5, 0, 0);
    }
    free_res(&r);
    /* 2x2 -> 4x4 */
    rspec u = {{1, 1, 2, 2}, 4, 4, PIXL_RESIZE_NEAREST, 0, 0, 0};
    r = run_resize(&u, x, dy);
    if (r.ok) {
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++) CHECK(r.y[i * 4 + j] == x[(i / 2) * 2 + j / 2]);
    }
    free_res(&r);
    /* the floor rule by scale factor: 9 rows, scale 2.1 -> 18 rows, src = floor(i / 2.1)
     * (PyTorch's NCHW forward; not i >> 1, see resample.c) */
    rspec f = {{1, 1, 9, 1}, 18, 1, PIXL_RESIZE_NEAREST, 0, 2.1, 1};
    r = run_resize(&f, x, NULL);
    if (r.ok) {
        static const float ey[18] = {0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8};
        CHECK_ALLCLOSE("nearest scale 2.1", r.y, ey, 18, 0, 0);
    }
    free_res(&r);
    /* non-integer scale 1.7: 9 -> 15, src = floor(i * (float)(1/1.7)) */
    rspec g = {{1, 1, 9, 1}, 15, 1, PIXL_RESIZE_NEAREST, 0, 1.7, 1};
    r = run_resize(&g, x, NULL);
    if (r.ok) {
        static const float ey[15] = {0, 0, 1, 1, 2, 2, 3, 4, 4, 5, 5, 6, 7, 7, 8};
        CHECK_ALLCLOSE("nearest scale 1.7", r.y, ey, 15, 0, 0);
    }
    free_res(&r);
}

/* ------------------------------------------------------------ against the reference */
static const rspec ref_cases[] = {
    {{2, 3, 9, 11}, 18, 22, PIXL_RESIZE_BILINEAR, 0, 2, 2},
    {{2, 3, 9, 11}, 18, 22, PIXL_RESIZE_BILINEAR, 0, 0, 0},
    {{2, 3, 9, 11}, 17, 23, PIXL_RESIZE_BILINEAR, 1, 0, 0},
    {{1, 2, 13, 11}, 5, 4, PIXL_RESIZE_BILINEAR, 0, 0, 0},
    {{1, 2, 13, 11}, 5, 4, PIXL_RESIZE_BILINEAR, 1, 0, 0},
    {{1, 2, 40, 37}, 7, 5, PIXL_RESIZE_BILINEAR, 0, 0, 0}, /* rows skipped */
    {{1, 2, 9, 11}, 13, 16, PIXL_RESIZE_BILINEAR, 0, 1.5, 1.5},
    {{1, 2, 9, 11}, 15, 6, PIXL_RESIZE_BILINEAR, 0, 1.7, 0.6},
    {{1, 2, 1, 1}, 3, 4, PIXL_RESIZE_BILINEAR, 0, 0, 0},
    {{1, 2, 1, 6}, 5, 1, PIXL_RESIZE_BILINEAR, 1, 0, 0},
    {{1, 1, 45, 60}, 90, 120, PIXL_RESIZE_BILINEAR, 0, 0, 0},
    {{1, 1, 45, 60}, 90, 120, PIXL_RESIZE_BILINEAR, 1, 0, 0},
    {{2, 3, 9, 11}, 18, 22, PIXL_RESIZE_NEAREST, 0, 2, 2},
    {{1, 2, 13, 11}, 5, 4, PIXL_RESIZE_NEAREST, 0, 0, 0},
    {{1, 2, 9, 11}, 15, 18, PIXL_RESIZE_NEAREST, 0, 1.7, 1.7},
    {{1, 2, 9, 11}, 20, 25, PIXL_RESIZE_NEAREST, 0, 0, 0},
    {{1, 2, 9, 11}, 9, 11, PIXL_RESIZE_NEAREST, 0, 0, 0},
};

PIXL_TEST(resize_matches_reference)
{
    for (size_t c = 0; c < sizeof ref_cases / sizeof ref_cases[0]; c++) {
        const rspec *s = &ref_cases[c];
        char desc[256];
        describe(s, desc, sizeof desc);
        long nx = numel4(s->shape), ny = (long)(s->shape[0] * s->shape[1] * s->oh * s->ow);
        float *x = malloc(sizeof(float) * (size_t)nx), *dy = malloc(sizeof(float) * (size_t)ny);
        float *ey = malloc(sizeof(float) * (size_t)ny), *edx = malloc(sizeof(float) * (size_t)nx);
        pixl_test_fill_uniform(x, nx, -1, 1, 60 + c);
        pixl_test_fill_uniform(dy, ny, -1, 1, 70 + c);
        ref_resize(s, x, dy, ey, edx);
        run_res r = run_resize(s, x, dy);
        if (r.ok) {
            CHECK_MSG(r.ny == ny, "%s: %ld outputs, want %ld", desc, r.ny, ny);
            CHECK_ALLCLOSE(desc, r.y, ey, ny, 1e-5, 1e-6);
            CHECK_ALLCLOSE(desc, r.dx, edx, nx, 1e-5, 1e-5);
        }
        free_res(&r);
        free(x), free(dy), free(ey), free(edx);
    }
}

/* ------------------------------------------------------------ gradient checks */
typedef struct { const rspec *s; float *x; } gc_ud;

static pixl_tensor *build_gc(pixl_ctx *ctx, void *ud)
{
    gc_ud *u = ud;
    pixl_tensor *x = gc_input(ctx, "x", 4, u->s->shape, u->x);
    return pixl_resize(ctx, x, u->s->oh, u->s->ow, u->s->mode, u->s->align, u->s->sh, u->s->sw);
}

PIXL_TEST(resize_gradcheck)
{
    static const rspec cases[] = {
        {{1, 2, 5, 6}, 10, 12, PIXL_RESIZE_BILINEAR, 0, 2, 2},
        {{1, 2, 5, 6}, 9, 13, PIXL_RESIZE_BILINEAR, 1, 0, 0},
        {{1, 2, 13, 11}, 5, 4, PIXL_RESIZE_BILINEAR, 1, 0, 0},
        {{1, 2, 13, 11}, 6, 5, PIXL_RESIZE_BILINEAR, 0, 0.5, 0.5},
        {{1, 2, 5, 6}, 8, 7, PIXL_RESIZE_BILINEAR, 0, 1.7, 1.3},
        {{2, 1, 5, 6}, 10, 12, PIXL_RESIZE_NEAREST, 0, 2, 2},
        {{1, 2, 13, 11}, 5, 4, PIXL_RESIZE_NEAREST, 0, 0, 0},
        {{1, 2, 5, 6}, 8, 7, PIXL_RESIZE_NEAREST, 0, 1.7, 1.3},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char desc[256];
        describe(&cases[c], desc, sizeof desc);
        long n = numel4(cases[c].shape);
        float *x = malloc(sizeof(float) * (size_t)n);
        pixl_test_fill_uniform(x, n, -1, 1, 80 + c);
        gc_ud u = {&cases[c], x};
        GRADCHECK(desc, NULL, build_gc, &u, NULL);
        free(x);
    }
}

/* ------------------------------------------------------------ errors */
PIXL_TEST(resize_builder_errors)
{
    int64_t xs[4] = {1, 3, 4, 5}, x3[3] = {3, 4, 5};
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL);
    pixl_tensor *x = pixl_input(ctx, "x", PIXL_F32, 4, xs);
    CHECK(pixl_resize(ctx, x, 8, 10, PIXL_RESIZE_NEAREST, 1, 0, 0) == NULL);
    CHECK_MSG(pixl_ctx_error(ctx) && strstr(pixl_ctx_error(ctx), "resize") && strstr(pixl_ctx_error(ctx), "align_corners") &&
                  strstr(pixl_ctx_error(ctx), "x [1, 3, 4, 5]"),
              "%s", pixl_ctx_error(ctx));
    pixl_ctx_free(ctx);

    struct { const char *what; int oh, ow, mode; double sh; const char *needle; } cases[] = {
        {"zero height", 0, 10, PIXL_RESIZE_BILINEAR, 0, "0x10"},
        {"negative width", 8, -1, PIXL_RESIZE_NEAREST, 0, "8x-1"},
        {"negative scale", 8, 10, PIXL_RESIZE_BILINEAR, -2, "scale"},
        {"bad mode", 8, 10, 7, 0, "mode"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL);
        x = pixl_input(ctx, "x", PIXL_F32, 4, xs);
        pixl_tensor *y = pixl_resize(ctx, x, cases[i].oh, cases[i].ow, (pixl_resize_mode)cases[i].mode, 0, cases[i].sh, 0);
        const char *e = pixl_ctx_error(ctx);
        CHECK_MSG(!y && e && strstr(e, "resize") && strstr(e, "x [1, 3, 4, 5]") && strstr(e, cases[i].needle),
                  "%s: %s", cases[i].what, e ? e : "(no error)");
        pixl_ctx_free(ctx);
    }
    ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL);
    pixl_tensor *c3 = pixl_input(ctx, "chw", PIXL_F32, 3, x3);
    CHECK(pixl_resize(ctx, c3, 8, 10, PIXL_RESIZE_BILINEAR, 0, 0, 0) == NULL);
    CHECK_MSG(pixl_ctx_error(ctx) && strstr(pixl_ctx_error(ctx), "chw [3, 4, 5]"), "%s", pixl_ctx_error(ctx));
    pixl_ctx_free(ctx);
    ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL);
    pixl_tensor *lab = pixl_input(ctx, "lab", PIXL_I32, 4, xs);
    CHECK(pixl_resize(ctx, lab, 8, 10, PIXL_RESIZE_NEAREST, 0, 0, 0) == NULL);
    CHECK_MSG(pixl_ctx_error(ctx) && strstr(pixl_ctx_error(ctx), "lab [1, 3, 4, 5]") && strstr(pixl_ctx_error(ctx), "i32"),
              "%s", pixl_ctx_error(ctx));
    CHECK(pixl_resize(ctx, NULL, 8, 10, PIXL_RESIZE_NEAREST, 0, 0, 0) == NULL);
    pixl_ctx_free(ctx);
}

/* ------------------------------------------------------------ threads */
PIXL_TEST(resize_threads_bit_identical)
{
    static const rspec cases[] = {
        {{1, 8, 45, 60}, 90, 120, PIXL_RESIZE_BILINEAR, 0, 2, 2},
        {{1, 8, 45, 60}, 97, 131, PIXL_RESIZE_BILINEAR, 1, 0, 0},
        {{2, 4, 90, 120}, 33, 47, PIXL_RESIZE_BILINEAR, 0, 0, 0},
        {{1, 8, 45, 60}, 90, 120, PIXL_RESIZE_NEAREST, 0, 2, 2},
        {{2, 4, 90, 120}, 33, 47, PIXL_RESIZE_NEAREST, 0, 0, 0},
    };
    int saved = pixl_num_threads();
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const rspec *s = &cases[c];
        char desc[256];
        describe(s, desc, sizeof desc);
        long nx = numel4(s->shape), ny = (long)(s->shape[0] * s->shape[1] * s->oh * s->ow);
        float *x = malloc(sizeof(float) * (size_t)nx), *dy = malloc(sizeof(float) * (size_t)ny);
        pixl_test_fill_uniform(x, nx, -1, 1, 90 + c);
        pixl_test_fill_uniform(dy, ny, -1, 1, 95 + c);
        pixl_set_num_threads(1);
        run_res a = run_resize(s, x, dy);
        pixl_set_num_threads(2);
        run_res b = run_resize(s, x, dy);
        if (a.ok && b.ok) {
            CHECK_MSG(!memcmp(a.y, b.y, sizeof(float) * (size_t)ny), "%s: y differs 1 vs 2 threads", desc);
            CHECK_MSG(!memcmp(a.dx, b.dx, sizeof(float) * (size_t)nx), "%s: dx differs 1 vs 2 threads", desc);
        }
        free_res(&a);
        free_res(&b);
        free(x), free(dy);
    }
    pixl_set_num_threads(saved);
}

PIXL_TEST(resize_threads_raised_after_plan)
{
    /* scratch is sized for the thread count at planning; more threads later must stay correct */
    int saved = pixl_num_threads();
    rspec s = {{1, 8, 45, 60}, 90, 120, PIXL_RESIZE_BILINEAR, 0, 0, 0};
    long nx = numel4(s.shape), ny = 8L * 90 * 120;
    float *x = malloc(sizeof(float) * (size_t)nx), *dy = malloc(sizeof(float) * (size_t)ny);
    float *ey = malloc(sizeof(float) * (size_t)ny), *edx = malloc(sizeof(float) * (size_t)nx);
    pixl_test_fill_uniform(x, nx, -1, 1, 3);
    pixl_test_fill_uniform(dy, ny, -1, 1, 4);
    ref_resize(&s, x, dy, ey, edx);
    pixl_set_num_threads(1);
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL_GRAD);
    pixl_tensor *in = pixl_input_grad(ctx, "x", 4, s.shape);
    pixl_tensor *y = pixl_resize(ctx, in, s.oh, s.ow, s.mode, 0, 0, 0);
    CHECK_OK(pixl_ctx_plan(ctx));
    pixl_set_num_threads(4);
    if (y) {
        memcpy(pixl_tensor_data(in), x, sizeof(float) * (size_t)nx);
        CHECK_OK(pixl_forward(ctx));
        CHECK_OK(pixl_backward_from(ctx, y, dy));
        CHECK_ALLCLOSE("y", pixl_tensor_data(y), ey, ny, 1e-5, 1e-6);
        CHECK_ALLCLOSE("dx", pixl_tensor_grad(in), edx, nx, 1e-5, 1e-5);
    }
    pixl_ctx_free(ctx);
    pixl_set_num_threads(saved);
    free(x), free(dy), free(ey), free(edx);
}
