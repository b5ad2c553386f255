/* test_pool.c — tests of max_pool2d (+ indices), max_unpool2d, avg_pool2d and
 * adaptive_avg_pool2d: hand-computed examples, PyTorch's tie/NaN/ceil rules,
 * the 2x2 fast path against a naive reference, gradient checks of every op,
 * builder errors (op name and shapes in the message), EVAL mode without
 * saved indices, and bit-identical results for 1 and 2 threads. */
#include <stdlib.h>
#include <string.h>

#include "gradcheck.h"
#include "test.h"

enum { OP_MAX, OP_AVG, OP_ADAPT, OP_MAX_UNPOOL };

typedef struct pspec {
    int op;
    int64_t shape[4];
    pixl_pool2d_opts o;
    int oh, ow; /* adaptive / unpool output size */
} pspec;

static pixl_tensor *apply(pixl_ctx *ctx, const pspec *s, pixl_tensor *x)
{
    switch (s->op) {
    case OP_MAX: return pixl_max_pool2d(ctx, x, &s->o);
    case OP_AVG: return pixl_avg_pool2d(ctx, x, &s->o);
    case OP_ADAPT: return pixl_adaptive_avg_pool2d(ctx, x, s->oh, s->ow);
    default: { /* SegNet pattern: pool, then unpool with its indices to the input size */
        pixl_tensor *p = pixl_max_pool2d(ctx, x, &s->o);
        return pixl_max_unpool2d(ctx, p, pixl_max_pool2d_indices(ctx, p), (int)s->shape[2], (int)s->shape[3]);
    }
    }
}

static void describe(const pspec *s, char *buf, size_t n)
{
    static const char *names[] = {"max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "max_pool+unpool"};
    snprintf(buf, n, "%s x[%lld,%lld,%lld,%lld] k%dx%d s%dx%d p%dx%d d%dx%d ceil%d excl%d out%dx%d", names[s->op],
             (long long)s->shape[0], (long long)s->shape[1], (long long)s->shape[2], (long long)s->shape[3],
             s->o.kernel[0], s->o.kernel[1], s->o.stride[0], s->o.stride[1], s->o.padding[0], s->o.padding[1],
             s->o.dilation[0], s->o.dilation[1], s->o.ceil_mode, s->o.exclude_pad, s->oh, s->ow);
}

static long numel4(const int64_t *s) { return (long)(s[0] * s[1] * s[2] * s[3]); }

/* ------------------------------------------------------------ gradient checks */
typedef struct { const pspec *s; float *x; } gc_ud;

static pixl_tensor *build_gc(pixl_ctx *ctx, void *ud)
{
    gc_ud *u = ud;
    pixl_tensor *x = gc_input(ctx, "x", 4, u->s->shape, u->x);
    return apply(ctx, u->s, x);
}

static void gradcheck_spec(const pspec *s)
{
    char desc[256];
    describe(s, desc, sizeof desc);
    long n = numel4(s->shape);
    float *x = malloc(sizeof(float) * (size_t)n);
    gc_opts o = {0};
    if (s->op == OP_MAX || s->op == OP_MAX_UNPOOL) {
        /* distinct values >= step apart; eps well below step/2 so no max changes */
        pixl_test_fill_spaced(x, n, 11);
        double step = 4.0 / (double)n;
        if (step > 0.05) step = 0.05;
        o.eps = step / 5;
        o.atol = 5e-3;
    } else {
        pixl_test_fill_uniform(x, n, -1, 1, 12);
    }
    gc_ud u = {s, x};
    GRADCHECK(desc, NULL, build_gc, &u, &o);
    free(x);
}

#define K(a, b) {a, b}
static const pspec gc_cases[] = {
    {OP_MAX, {2, 2, 8, 10}, {.kernel = K(2, 2)}, 0, 0},
    {OP_MAX, {1, 2, 9, 11}, {.kernel = K(2, 2), .ceil_mode = 1}, 0, 0},
    {OP_MAX, {2, 2, 9, 11}, {.kernel = K(3, 3), .stride = K(2, 2), .padding = K(1, 1)}, 0, 0},
    {OP_MAX, {1, 3, 11, 9}, {.kernel = K(3, 3), .stride = K(2, 2), .padding = K(1, 1), .dilation = K(2, 2)}, 0, 0},
    {OP_MAX, {1, 2, 9, 12}, {.kernel = K(2, 3), .stride = K(1, 2), .padding = K(1, 1), .dilation = K(2, 1), .ceil_mode = 1}, 0, 0},
    {OP_MAX, {1, 2, 7, 8}, {.kernel = K(3, 3), .stride = K(1, 1), .padding = K(1, 1)}, 0, 0},
    {OP_AVG, {2, 2, 8, 10}, {.kernel = K(2, 2)}, 0, 0},
    {OP_AVG, {2, 2, 9, 11}, {.kernel = K(3, 3), .stride = K(2, 2), .padding = K(1, 1), .ceil_mode = 1}, 0, 0},
    {OP_AVG, {1, 3, 10, 12}, {.kernel = K(3, 3), .stride = K(2, 2), .padding = K(1, 1), .ceil_mode = 1, .exclude_pad = 1}, 0, 0},
    {OP_AVG, {1, 2, 9, 11}, {.kernel = K(3, 2), .stride = K(2, 1), .padding = K(1, 0)}, 0, 0},
    {OP_AVG, {1, 2, 9, 11}, {.kernel = K(3, 3), .stride = K(1, 1), .padding = K(1, 1), .exclude_pad = 1}, 0, 0},
    {OP_ADAPT, {2, 2, 13, 11}, {.ceil_mode = 0}, 7, 5},
    {OP_ADAPT, {1, 2, 13, 11}, {.ceil_mode = 0}, 1, 1},
    {OP_ADAPT, {1, 2, 3, 4}, {.ceil_mode = 0}, 5, 8},
    {OP_ADAPT, {1, 2, 12, 12}, {.ceil_mode = 0}, 6, 4},
    {OP_MAX_UNPOOL, {1, 2, 8, 10}, {.kernel = K(2, 2)}, 0, 0},
    /* non-overlapping windows only: with overlapping ones an input can be the
     * argmax of two windows, and unpool's gather backward (PyTorch's) then
     * differs from the derivative of its last-write-wins forward */
    {OP_MAX_UNPOOL, {1, 2, 9, 11}, {.kernel = K(3, 3), .padding = K(1, 1), .ceil_mode = 1}, 0, 0},
};

PIXL_TEST(pool_gradcheck_all)
{
    for (size_t i = 0; i < sizeof gc_cases / sizeof gc_cases[0]; i++) gradcheck_spec(&gc_cases[i]);
}

/* unpool with fixed (constant) indices: gradient w.r.t. x only */
static pixl_tensor *build_unpool_const(pixl_ctx *ctx, void *ud)
{
    (void)ud;
    static const int64_t xs[4] = {1, 2, 2, 3};
    static const float xv[12] = {0.3f, -0.7f, 1.1f, 0.2f, -0.4f, 0.9f, 0.5f, 0.6f, -0.8f, 0.1f, 0.7f, -0.2f};
    static const int32_t iv[12] = {0, 3, 5, 7, 10, 19, 1, 2, 14, 8, 11, 16}; /* (duplicates: pool_unpool_fixed) */
    pixl_tensor *x = gc_input(ctx, "x", 4, xs, xv);
    pixl_tensor *idx = pixl_constant(ctx, "idx", PIXL_I32, 4, xs, iv);
    return pixl_max_unpool2d(ctx, x, idx, 4, 5);
}

PIXL_TEST(pool_unpool_gradcheck_const_indices) { GRADCHECK("max_unpool2d const indices", NULL, build_unpool_const, NULL, NULL); }

/* ------------------------------------------------------------ run helper */
typedef struct run_res {
    float *y, *dx;
    int32_t *idx;
    long ny, nx;
    int64_t oshape[4];
    int ok;
} run_res;

static void free_res(run_res *r)
{
    free(r->y);
    free(r->dx);
    free(r->idx);
}

/* forward (+ backward with dy, when dy) of one op on data x; indices copied for max */
static run_res run_op(const pspec *s, const float *x, const float *dy_or_null, pixl_mode mode)
{
    run_res r = {0};
    pixl_ctx *ctx = pixl_ctx_new(NULL, mode);
    pixl_tensor *in = mode == PIXL_MODE_EVAL ? pixl_input(ctx, "x", PIXL_F32, 4, s->shape)
                                             : pixl_input_grad(ctx, "x", 4, s->shape);
    pixl_tensor *y = apply(ctx, s, in);
    pixl_tensor *ix = s->op == OP_MAX ? pixl_max_pool2d_indices(ctx, y) : NULL;
    if (!y || (s->op == OP_MAX && !ix) || pixl_ctx_plan(ctx)) {
        pixl_test_fail(__FILE__, __LINE__, "run_op: %s", pixl_last_error());
        pixl_ctx_free(ctx);
        return r;
    }
    r.nx = (long)pixl_tensor_numel(in);
    r.ny = (long)pixl_tensor_numel(y);
    memcpy(r.oshape, pixl_tensor_shape(y), sizeof r.oshape);
    memcpy(pixl_tensor_data(in), x, sizeof(float) * (size_t)r.nx);
    CHECK_OK(pixl_forward(ctx));
    r.y = malloc(sizeof(float) * (size_t)r.ny);
    memcpy(r.y, pixl_tensor_data(y), sizeof(float) * (size_t)r.ny);
    if (ix) {
        r.idx = malloc(sizeof(int32_t) * (size_t)r.ny);
        memcpy(r.idx, pixl_tensor_data(ix), sizeof(int32_t) * (size_t)r.ny);
    }
    if (dy_or_null) {
        CHECK_OK(pixl_backward_from(ctx, y, dy_or_null));
        r.dx = malloc(sizeof(float) * (size_t)r.nx);
        memcpy(r.dx, pixl_tensor_grad(in), sizeof(float) * (size_t)r.nx);
    }
    r.ok = 1;
    pixl_ctx_free(ctx);
    return r;
}

/* ------------------------------------------------------------ hand-computed */
PIXL_TEST(pool_max_small_fixed)
{
    /* 1x1x4x5, 2x2 stride 2, floor: output 2x2; ceil: 2x3 */
    static const float x[20] = {1, 5, 2, 0, 9,  /* row 0 */
                                3, 4, 8, 7, 1,  /* row 1 */
                                6, 2, 1, 1, -3, /* row 2 */
                                0, 7, 3, 2, -1};
    pspec s = {OP_MAX, {1, 1, 4, 5}, {.kernel = {2, 2}}, 0, 0};
    float dy[6] = {1, 2, 3, 4, 5, 6};
    run_res r = run_op(&s, x, dy, PIXL_MODE_TRAIN);
    if (r.ok) {
        CHECK(r.oshape[2] == 2 && r.oshape[3] == 2);
        static const float ey[4] = {5, 8, 7, 3};
        static const int32_t ei[4] = {1, 7, 16, 17};
        CHECK_ALLCLOSE("y", r.y, ey, 4, 0, 0);
        for (int i = 0; i < 4; i++) CHECK_MSG(r.idx[i] == ei[i], "idx[%d] = %d, want %d", i, r.idx[i], ei[i]);
        float edx[20] = {0};
        edx[1] = 1, edx[7] = 2, edx[16] = 3, edx[17] = 4;
        CHECK_ALLCLOSE("dx", r.dx, edx, 20, 0, 0);
    }
    free_res(&r);
    s.o.ceil_mode = 1; /* last column window [4,6) starts inside: kept, clipped */
    r = run_op(&s, x, dy, PIXL_MODE_TRAIN);
    if (r.ok) {
        CHECK(r.oshape[2] == 2 && r.oshape[3] == 3);
        static const float ey[6] = {5, 8, 9, 7, 3, -1};
        static const int32_t ei[6] = {1, 7, 4, 16, 17, 19};
        CHECK_ALLCLOSE("y ceil", r.y, ey, 6, 0, 0);
        for (int i = 0; i < 6; i++) CHECK_MSG(r.idx[i] == ei[i], "ceil idx[%d] = %d, want %d", i, r.idx[i], ei[i]);
    }
    free_res(&r);
}

PIXL_TEST(pool_max_ties_and_nan)
{
    /* ties: the first maximum in row-major window order wins; NaN propagates */
    float x[16] = {2, 2, 1, 1,  /* */
                   2, 2, 1, 1,  /* */
                   0, 3, 0, 0,  /* */
                   3, 0, 0, 0};
    x[10] = NAN;
    x[15] = NAN; /* two NaNs in one window: PyTorch keeps the last */
    pspec s = {OP_MAX, {1, 1, 4, 4}, {.kernel = {2, 2}}, 0, 0};
    run_res r = run_op(&s, x, NULL, PIXL_MODE_EVAL);
    if (r.ok) {
        CHECK(r.y[0] == 2 && r.idx[0] == 0);
        CHECK(r.y[1] == 1 && r.idx[1] == 2);
        CHECK(r.y[2] == 3 && r.idx[2] == 9);
        CHECK(isnan(r.y[3]) && r.idx[3] == 15);
    }
    free_res(&r);
    /* generic path (3x3 stride 1 pad 1) has the same rules */
    pspec g = {OP_MAX, {1, 1, 4, 4}, {.kernel = {3, 3}, .stride = {1, 1}, .padding = {1, 1}}, 0, 0};
    r = run_op(&g, x, NULL, PIXL_MODE_EVAL);
    if (r.ok) {
        CHECK(r.y[0] == 2 && r.idx[0] == 0); /* window rows -1..1, cols -1..1: first 2 at (0,0) */
        CHECK(isnan(r.y[5]) && r.idx[5] == 10);
        CHECK(isnan(r.y[15]) && r.idx[15] == 15);
        CHECK(r.y[12] == 3 && r.idx[12] == 9); /* window rows 2..3 cols 0..1: 3 at (2,1) before (3,0) */
    }
    free_res(&r);
}

PIXL_TEST(pool_avg_small_fixed)
{
    /* 1x1x3x3, kernel 2 stride 2 pad 1 ceil: output 2x2 (PyTorch: 2x2), divisors */
    static const float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    pspec s = {OP_AVG, {1, 1, 3, 3}, {.kernel = {2, 2}, .stride = {2, 2}, .padding = {1, 1}}, 0, 0};
    float dy[4] = {1, 1, 1, 1};
    run_res r = run_op(&s, x, dy, PIXL_MODE_TRAIN);
    if (r.ok) {
        CHECK(r.oshape[2] == 2 && r.oshape[3] == 2);
        /* windows: rows {-1,0},{1,2}; cols {-1,0},{1,2}; count_include_pad: each divides by 4 */
        static const float ey[4] = {1.0f / 4, 5.0f / 4, 11.0f / 4, 28.0f / 4};
        CHECK_ALLCLOSE("avg incl pad", r.y, ey, 4, 1e-6, 0);
        static const float edx[9] = {0.25f, 0.25f, 0.25f, 0.25f, 0.25f, 0.25f, 0.25f, 0.25f, 0.25f};
        CHECK_ALLCLOSE("avg incl pad dx", r.dx, edx, 9, 1e-6, 0);
    }
    free_res(&r);
    s.o.exclude_pad = 1;
    r = run_op(&s, x, dy, PIXL_MODE_TRAIN);
    if (r.ok) {
        static const float ey[4] = {1, 2.5f, 5.5f, 7};
        CHECK_ALLCLOSE("avg excl pad", r.y, ey, 4, 1e-6, 0);
        static const float edx[9] = {1, 0.5f, 0.5f, 0.5f, 0.25f, 0.25f, 0.5f, 0.25f, 0.25f};
        CHECK_ALLCLOSE("avg excl pad dx", r.dx, edx, 9, 1e-6, 0);
    }
    free_res(&r);
    /* ceil_mode window clipped at the padded border: 1x1x4x4, k3 s2 p1 ceil -> 3x3?
     * PyTorch: (4+2-3+1)/2+1 = 3, last start 2*2-1 = 3 < 4+1: kept.
     * window of output (2,2): rows 3..5 clipped to padded end 5 -> 3,4 (2 rows),
     * pool size counts 2x2 = 4 with padding; only (3,3) is real */
    float x16[16];
    for (int i = 0; i < 16; i++) x16[i] = (float)(i + 1);
    pspec c = {OP_AVG, {1, 1, 4, 4}, {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .ceil_mode = 1}, 0, 0};
    r = run_op(&c, x16, NULL, PIXL_MODE_EVAL);
    if (r.ok) {
        CHECK(r.oshape[2] == 3 && r.oshape[3] == 3);
        CHECK_NEAR(r.y[8], 16.0f / 4, 1e-6);
        CHECK_NEAR(r.y[0], (1 + 2 + 5 + 6) / 9.0f, 1e-6);
        CHECK_NEAR(r.y[2], (4 + 8) / 6.0f, 1e-6); /* rows -1..1 (3), cols 3..4 (2): 6 */
    }
    free_res(&r);
}

PIXL_TEST(pool_adaptive_small_fixed)
{
    /* 1x1x5x3 -> 3x2: rows [0,2),[1,4),[3,5); cols [0,2),[1,3) */
    float x[15];
    for (int i = 0; i < 15; i++) x[i] = (float)i;
    pspec s = {OP_ADAPT, {1, 1, 5, 3}, {.ceil_mode = 0}, 3, 2};
    float dy[6] = {1, 1, 1, 1, 1, 1};
    run_res r = run_op(&s, x, dy, PIXL_MODE_TRAIN);
    if (r.ok) {
        static const float ey[6] = {(0 + 1 + 3 + 4) / 4.0f, (1 + 2 + 4 + 5) / 4.0f, (3 + 4 + 6 + 7 + 9 + 10) / 6.0f,
                                    (4 + 5 + 7 + 8 + 10 + 11) / 6.0f, (9 + 10 + 12 + 13) / 4.0f,
                                    (10 + 11 + 13 + 14) / 4.0f};
        CHECK_ALLCLOSE("adaptive", r.y, ey, 6, 1e-6, 0);
        /* element (1,1) (=4) is in windows (0,0),(0,1),(1,0),(1,1): 1/4+1/4+1/6+1/6 */
        CHECK_NEAR(r.dx[4], 0.5 + 1.0 / 3, 1e-6);
        CHECK_NEAR(r.dx[0], 0.25, 1e-6);
    }
    free_res(&r);
}

PIXL_TEST(pool_unpool_fixed)
{
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL_GRAD);
    int64_t xs[4] = {1, 1, 2, 2};
    pixl_tensor *x = pixl_input_grad(ctx, "x", 4, xs);
    static const int32_t iv[4] = {0, 5, 5, 11}; /* duplicate 5: the later write wins */
    pixl_tensor *idx = pixl_constant(ctx, "idx", PIXL_I32, 4, xs, iv);
    pixl_tensor *y = pixl_max_unpool2d(ctx, x, idx, 3, 4);
    CHECK(y && pixl_ctx_plan(ctx) == PIXL_OK);
    if (y && pixl_tensor_data(x)) {
        float *xd = pixl_tensor_data(x);
        xd[0] = 1, xd[1] = 2, xd[2] = 3, xd[3] = 4;
        CHECK_OK(pixl_forward(ctx));
        float ey[12] = {1, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 4};
        CHECK_ALLCLOSE("unpool y", pixl_tensor_data(y), ey, 12, 0, 0);
        float dy[12];
        for (int i = 0; i < 12; i++) dy[i] = (float)(i + 1);
        CHECK_OK(pixl_backward_from(ctx, y, dy));
        float edx[4] = {1, 6, 6, 12}; /* gather: both duplicates read dy[5] */
        CHECK_ALLCLOSE("unpool dx", pixl_tensor_grad(x), edx, 4, 0, 0);
    }
    pixl_ctx_free(ctx);

    /* an index outside the output plane fails forward with a message */
    ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL);
    x = pixl_input(ctx, "x", PIXL_F32, 4, xs);
    static const int32_t bad[4] = {0, 1, 12, 2};
    idx = pixl_constant(ctx, "idx", PIXL_I32, 4, xs, bad);
    y = pixl_max_unpool2d(ctx, x, idx, 3, 4);
    CHECK(y && pixl_ctx_plan(ctx) == PIXL_OK);
    if (y) {
        memset(pixl_tensor_data(x), 0, 16);
        CHECK(pixl_forward(ctx) != PIXL_OK);
        CHECK_MSG(strstr(pixl_last_error(), "max_unpool2d") && strstr(pixl_last_error(), "12") &&
                      strstr(pixl_last_error(), "3x4"),
                  "message: %s", pixl_last_error());
    }
    pixl_ctx_free(ctx);
}

/* ------------------------------------------------------------ naive reference */
static void naive_max(const pspec *s, const float *x, int64_t OH, int64_t OW, float *y, int32_t *idx)
{
    int64_t P = s->shape[0] * s->shape[1], H = s->shape[2], W = s->shape[3];
    int kh = s->o.kernel[0], kw = s->o.kernel[1];
    int sh = s->o.stride[0] ? s->o.stride[0] : kh, sw = s->o.stride[1] ? s->o.stride[1] : kw;
    int dh = s->o.dilation[0] ? s->o.dilation[0] : 1, dw = s->o.dilation[1] ? s->o.dilation[1] : 1;
    for (int64_t p = 0; p < P; p++)
        for (int64_t oh = 0; oh < OH; oh++)
            for (int64_t ow = 0; ow < OW; ow++) {
                float m = -INFINITY;
                int64_t mi = -1;
                for (int i = 0; i < kh; i++)
                    for (int j = 0; j < kw; j++) {
                        int64_t h = oh * sh - s->o.padding[0] + i * dh, w = ow * sw - s->o.padding[1] + j * dw;
                        if (h < 0 || h >= H || w < 0 || w >= W) continue;
                        float v = x[p * H * W + h * W + w];
                        if (mi < 0 || v > m) {
                            m = v;
                            mi = h * W + w;
                        }
                    }
                y[(p * OH + oh) * OW + ow] = m;
                idx[(p * OH + oh) * OW + ow] = (int32_t)mi;
            }
}

PIXL_TEST(pool_max_matches_naive)
{
    static const pspec cases[] = {
        {OP_MAX, {2, 3, 32, 48}, {.kernel = {2, 2}}, 0, 0},
        {OP_MAX, {2, 3, 33, 47}, {.kernel = {2, 2}}, 0, 0},
        {OP_MAX, {2, 3, 33, 47}, {.kernel = {2, 2}, .ceil_mode = 1}, 0, 0},
        {OP_MAX, {1, 2, 1, 7}, {.kernel = {1, 2}}, 0, 0},
        {OP_MAX, {1, 4, 31, 29}, {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .ceil_mode = 1}, 0, 0},
        {OP_MAX, {1, 4, 31, 29}, {.kernel = {3, 2}, .stride = {1, 3}, .padding = {1, 1}, .dilation = {3, 2}}, 0, 0},
        {OP_MAX, {1, 2, 20, 21}, {.kernel = {5, 5}, .stride = {3, 2}, .padding = {2, 2}, .ceil_mode = 1}, 0, 0},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const pspec *s = &cases[c];
        char desc[256];
        describe(s, desc, sizeof desc);
        long n = numel4(s->shape);
        float *x = malloc(sizeof(float) * (size_t)n);
        pixl_test_fill_uniform(x, n, -1, 1, 30 + c);
        run_res r = run_op(s, x, NULL, PIXL_MODE_EVAL);
        if (r.ok) {
            float *ey = malloc(sizeof(float) * (size_t)r.ny);
            int32_t *ei = malloc(sizeof(int32_t) * (size_t)r.ny);
            naive_max(s, x, r.oshape[2], r.oshape[3], ey, ei);
            CHECK_MSG(!memcmp(r.y, ey, sizeof(float) * (size_t)r.ny), "%s: values differ from naive", desc);
            CHECK_MSG(!memcmp(r.idx, ei, sizeof(int32_t) * (size_t)r.ny), "%s: indices differ from naive", desc);
            free(ey);
            free(ei);
        }
        free_res(&r);
        free(x);
    }
}

/* ------------------------------------------------------------ EVAL mode */
PIXL_TEST(pool_max_eval_without_indices)
{
    /* in EVAL mode without an indices view no argmax is saved; the values stay the same */
    pspec s = {OP_MAX, {2, 3, 17, 19}, {.kernel = {2, 2}, .ceil_mode = 1}, 0, 0};
    long n = numel4(s.shape);
    float *x = malloc(sizeof(float) * (size_t)n);
    pixl_test_fill_uniform(x, n, -1, 1, 5);
    run_res with = run_op(&s, x, NULL, PIXL_MODE_EVAL); /* has an indices view */
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL);
    pixl_tensor *in = pixl_input(ctx, "x", PIXL_F32, 4, s.shape);
    pixl_tensor *y = pixl_max_pool2d(ctx, in, &s.o);
    CHECK(y && pixl_ctx_plan(ctx) == PIXL_OK);
    /* the same graph with an indices view plans an int32 per output more */
    pixl_ctx *ctx2 = pixl_ctx_new(NULL, PIXL_MODE_EVAL);
    pixl_tensor *y2 = pixl_max_pool2d(ctx2, pixl_input(ctx2, "x", PIXL_F32, 4, s.shape), &s.o);
    pixl_keep(pixl_max_pool2d_indices(ctx2, y2));
    CHECK_OK(pixl_ctx_plan(ctx2));
    if (y)
        CHECK_MSG(pixl_ctx_arena_bytes(ctx2) >= pixl_ctx_arena_bytes(ctx) + 4 * (size_t)pixl_tensor_numel(y),
                  "arena %zu with indices, %zu without", pixl_ctx_arena_bytes(ctx2), pixl_ctx_arena_bytes(ctx));
    pixl_ctx_free(ctx2);
    if (y && with.ok) {
        memcpy(pixl_tensor_data(in), x, sizeof(float) * (size_t)n);
        CHECK_OK(pixl_forward(ctx));
        CHECK_MSG(!memcmp(pixl_tensor_data(y), with.y, sizeof(float) * (size_t)with.ny), "values differ");
    }
    pixl_ctx_free(ctx);
    free_res(&with);
    free(x);
}

/* stride-1 windows without saved indices take the separable kernel (column
 * max, then row max): values equal the naive reference, across the
 * 256-column chunks, with -inf and NaN (a NaN in the window gives NaN) */
PIXL_TEST(pool_max_stride1_separable_matches_naive)
{
    static const pspec cases[] = {
        {OP_MAX, {1, 3, 23, 31}, {.kernel = {5, 5}, .stride = {1, 1}, .padding = {2, 2}}, 0, 0},
        {OP_MAX, {2, 2, 9, 300}, {.kernel = {5, 5}, .stride = {1, 1}, .padding = {2, 2}}, 0, 0},
        {OP_MAX, {1, 2, 11, 13}, {.kernel = {3, 2}, .stride = {1, 1}, .padding = {1, 0}}, 0, 0},
        {OP_MAX, {1, 2, 6, 520}, {.kernel = {1, 7}, .stride = {1, 1}, .padding = {0, 3}}, 0, 0},
        {OP_MAX, {1, 1, 4, 5}, {.kernel = {4, 4}, .stride = {1, 1}, .ceil_mode = 1}, 0, 0},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const pspec *s = &cases[c];
        char desc[256];
        describe(s, desc, sizeof desc);
        long n = numel4(s->shape);
        float *x = malloc(sizeof(float) * (size_t)n);
        pixl_test_fill_uniform(x, n, -1, 1, 70 + c);
        x[n / 3] = -INFINITY;
        pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL);
        pixl_tensor *in = pixl_input(ctx, "x", PIXL_F32, 4, s->shape);
        pixl_tensor *y = pixl_max_pool2d(ctx, in, &s->o);
        CHECK_MSG(y && pixl_ctx_plan(ctx) == PIXL_OK, "%s: %s", desc, pixl_ctx_error(ctx));
        if (y) {
            const int64_t *os = pixl_tensor_shape(y);
            long ny = (long)pixl_tensor_numel(y);
            float *ey = malloc(sizeof(float) * (size_t)ny);
            int32_t *ei = malloc(sizeof(int32_t) * (size_t)ny);
            naive_max(s, x, os[2], os[3], ey, ei);
            memcpy(pixl_tensor_data(in), x, sizeof(float) * (size_t)n);
            CHECK_OK(pixl_forward(ctx));
            CHECK_MSG(!memcmp(pixl_tensor_data(y), ey, sizeof(float) * (size_t)ny), "%s: values differ from naive",
                      desc);
            /* a NaN reaches exactly the outputs whose window holds it */
            long k = n / 2;
            float *xd = pixl_tensor_data(in);
            xd[k] = NAN;
            CHECK_OK(pixl_forward(ctx));
            int64_t H = s->shape[2], W = s->shape[3], pl = k / (H * W), kh = k % (H * W) / W, kw = k % W;
            const float *yd = pixl_tensor_data(y);
            for (int64_t oh = 0; oh < os[2]; oh++)
                for (int64_t ow = 0; ow < os[3]; ow++) {
                    int64_t h0 = oh - s->o.padding[0], w0 = ow - s->o.padding[1];
                    int in_win = kh >= h0 && kh < h0 + s->o.kernel[0] && kw >= w0 && kw < w0 + s->o.kernel[1];
                    float v = yd[(pl * os[2] + oh) * os[3] + ow];
                    CHECK_MSG(in_win == (v != v), "%s: NaN at (%lld,%lld): output %g", desc, (long long)oh,
                              (long long)ow, v);
                }
            free(ey);
            free(ei);
        }
        pixl_ctx_free(ctx);
        free(x);
    }
}

/* ------------------------------------------------------------ errors */
PIXL_TEST(pool_builder_errors)
{
    int64_t xs[4] = {1, 3, 4, 5};
    struct {
        const char *what;
        int op;
        pixl_pool2d_opts o;
        const char *needles[4];
    } cases[] = {
        {"kernel larger than padded input", OP_MAX, {.kernel = {7, 7}, .padding = {1, 1}}, {"max_pool2d", "[1, 3, 4, 5]", "7x7", NULL}},
        {"kernel larger than input (avg)", OP_AVG, {.kernel = {5, 6}}, {"avg_pool2d", "[1, 3, 4, 5]", "too small", NULL}},
        {"dilated kernel too large", OP_MAX, {.kernel = {3, 3}, .dilation = {2, 3}}, {"max_pool2d", "[1, 3, 4, 5]", NULL}},
        {"padding > kernel/2", OP_MAX, {.kernel = {3, 3}, .padding = {2, 1}}, {"max_pool2d", "[1, 3, 4, 5]", "half", NULL}},
        {"padding > kernel/2 (avg)", OP_AVG, {.kernel = {2, 2}, .padding = {0, 2}}, {"avg_pool2d", "[1, 3, 4, 5]", "padding", NULL}},
        {"zero kernel", OP_MAX, {.kernel = {0, 2}}, {"max_pool2d", "[1, 3, 4, 5]", NULL}},
        {"negative stride", OP_AVG, {.kernel = {2, 2}, .stride = {-1, 1}}, {"avg_pool2d", "[1, 3, 4, 5]", NULL}},
        {"negative padding", OP_MAX, {.kernel = {2, 2}, .padding = {-1, 0}}, {"max_pool2d", "[1, 3, 4, 5]", NULL}},
        {"avg dilation", OP_AVG, {.kernel = {2, 2}, .dilation = {2, 2}}, {"avg_pool2d", "dilation", "[1, 3, 4, 5]", NULL}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL);
        pixl_tensor *x = pixl_input(ctx, "x", PIXL_F32, 4, xs);
        pixl_tensor *y = cases[i].op == OP_MAX ? pixl_max_pool2d(ctx, x, &cases[i].o) : pixl_avg_pool2d(ctx, x, &cases[i].o);
        CHECK_BUILD_ERROR(cases[i].what, y, ctx, cases[i].needles);
        pixl_ctx_free(ctx);
    }
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL);
    pixl_tensor *x = pixl_input(ctx, "x", PIXL_F32, 4, xs);
    {
        const char *n[] = {"max_pool2d", "NULL", NULL};
        CHECK_BUILD_ERROR("NULL opts", pixl_max_pool2d(ctx, x, NULL), ctx, n);
    }
    pixl_ctx_free(ctx);

    /* adaptive: zero-size output */
    ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL);
    x = pixl_input(ctx, "x", PIXL_F32, 4, xs);
    {
        const char *n[] = {"adaptive_avg_pool2d", "[1, 3, 4, 5]", "0x2", NULL};
        CHECK_BUILD_ERROR("adaptive 0x2", pixl_adaptive_avg_pool2d(ctx, x, 0, 2), ctx, n);
    }
    pixl_ctx_free(ctx);

    /* wrong input rank / dtype */
    ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL);
    int64_t s2[2] = {4, 5};
    pixl_tensor *x2 = pixl_input(ctx, "flat", PIXL_F32, 2, s2);
    {
        const char *n[] = {"max_pool2d", "flat [4, 5]", NULL};
        CHECK_BUILD_ERROR("2-d input", pixl_max_pool2d(ctx, x2, &(pixl_pool2d_opts){.kernel = {2, 2}}), ctx, n);
    }
    pixl_ctx_free(ctx);
    ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL);
    pixl_tensor *xi = pixl_input(ctx, "lab", PIXL_I32, 4, xs);
    {
        const char *n[] = {"avg_pool2d", "lab [1, 3, 4, 5]", "i32", NULL};
        CHECK_BUILD_ERROR("i32 input", pixl_avg_pool2d(ctx, xi, &(pixl_pool2d_opts){.kernel = {2, 2}}), ctx, n);
    }
    pixl_ctx_free(ctx);

    /* NULL input: NULL without overwriting the first error */
    ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL);
    x = pixl_input(ctx, "x", PIXL_F32, 4, xs);
    CHECK(pixl_max_pool2d(ctx, x, &(pixl_pool2d_opts){.kernel = {9, 9}}) == NULL);
    CHECK(pixl_avg_pool2d(ctx, NULL, &(pixl_pool2d_opts){.kernel = {2, 2}}) == NULL);
    CHECK(pixl_max_pool2d_indices(ctx, NULL) == NULL);
    CHECK(pixl_ctx_error(ctx) && strstr(pixl_ctx_error(ctx), "max_pool2d"));
    CHECK(pixl_ctx_plan(ctx) != PIXL_OK);
    pixl_ctx_free(ctx);
}

PIXL_TEST(pool_unpool_errors)
{
    int64_t xs[4] = {1, 2, 3, 4}, other[4] = {1, 2, 4, 3};
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL);
    pixl_tensor *x = pixl_input(ctx, "x", PIXL_F32, 4, xs);
    pixl_tensor *fidx = pixl_input(ctx, "fidx", PIXL_F32, 4, xs);
    pixl_tensor *i64 = pixl_input(ctx, "lidx", PIXL_I64, 4, xs);
    pixl_tensor *ishape = pixl_input(ctx, "sidx", PIXL_I32, 4, other);
    pixl_tensor *ok = pixl_input(ctx, "idx", PIXL_I32, 4, xs);
    {
        const char *n[] = {"max_unpool2d", "fidx [1, 2, 3, 4]", "f32", "i32", NULL};
        CHECK_BUILD_ERROR("f32 indices", pixl_max_unpool2d(ctx, x, fidx, 6, 8), ctx, n);
    }
    pixl_ctx_free(ctx);
    ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL);
    x = pixl_input(ctx, "x", PIXL_F32, 4, xs);
    i64 = pixl_input(ctx, "lidx", PIXL_I64, 4, xs);
    {
        const char *n[] = {"max_unpool2d", "lidx [1, 2, 3, 4]", "i64", NULL};
        CHECK_BUILD_ERROR("i64 indices", pixl_max_unpool2d(ctx, x, i64, 6, 8), ctx, n);
    }
    pixl_ctx_free(ctx);
    ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL);
    x = pixl_input(ctx, "x", PIXL_F32, 4, xs);
    ishape = pixl_input(ctx, "sidx", PIXL_I32, 4, other);
    {
        const char *n[] = {"max_unpool2d", "sidx [1, 2, 4, 3]", "x [1, 2, 3, 4]", NULL};
        CHECK_BUILD_ERROR("index shape", pixl_max_unpool2d(ctx, x, ishape, 6, 8), ctx, n);
    }
    pixl_ctx_free(ctx);
    ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL);
    x = pixl_input(ctx, "x", PIXL_F32, 4, xs);
    ok = pixl_input(ctx, "idx", PIXL_I32, 4, xs);
    {
        const char *n[] = {"max_unpool2d", "x [1, 2, 3, 4]", "0x8", NULL};
        CHECK_BUILD_ERROR("zero output", pixl_max_unpool2d(ctx, x, ok, 0, 8), ctx, n);
    }
    pixl_ctx_free(ctx);
    /* indices of something that is not a max pool */
    ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL);
    x = pixl_input(ctx, "x", PIXL_F32, 4, xs);
    pixl_tensor *a = pixl_avg_pool2d(ctx, x, &(pixl_pool2d_opts){.kernel = {2, 2}});
    {
        const char *n[] = {"max_pool2d_indices", "avg_pool2d [1, 2, 1, 2]", NULL};
        CHECK_BUILD_ERROR("indices of avg", pixl_max_pool2d_indices(ctx, a), ctx, n);
    }
    pixl_ctx_free(ctx);
    (void)fidx;
}

/* ------------------------------------------------------------ threads */
PIXL_TEST(pool_threads_bit_identical)
{
    static const pspec cases[] = {
        {OP_MAX, {2, 8, 65, 93}, {.kernel = {2, 2}, .ceil_mode = 1}, 0, 0},
        {OP_MAX, {1, 6, 95, 73}, {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}}, 0, 0},
        {OP_AVG, {2, 5, 65, 93}, {.kernel = {3, 3}, .stride = {1, 1}, .padding = {1, 1}, .exclude_pad = 1}, 0, 0},
        {OP_AVG, {1, 7, 95, 73}, {.kernel = {2, 2}}, 0, 0},
        {OP_ADAPT, {2, 5, 65, 93}, {.ceil_mode = 0}, 6, 7},
        {OP_MAX_UNPOOL, {1, 6, 96, 74}, {.kernel = {2, 2}}, 0, 0},
    };
    /* (tensors above the one-thread size threshold of the kernels) */
    int saved = pixl_num_threads();
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const pspec *s = &cases[c];
        char desc[256];
        describe(s, desc, sizeof desc);
        long n = numel4(s->shape);
        float *x = malloc(sizeof(float) * (size_t)n);
        pixl_test_fill_uniform(x, n, -1, 1, 40 + c);
        /* output size from a dry run */
        pixl_set_num_threads(1);
        run_res probe = run_op(s, x, NULL, PIXL_MODE_EVAL);
        long ny = probe.ny;
        free_res(&probe);
        float *dy = malloc(sizeof(float) * (size_t)(ny ? ny : 1));
        pixl_test_fill_uniform(dy, ny, -1, 1, 50 + c);
        run_res a = run_op(s, x, dy, PIXL_MODE_TRAIN);
        pixl_set_num_threads(2);
        run_res b = run_op(s, x, dy, PIXL_MODE_TRAIN);
        if (a.ok && b.ok) {
            CHECK_MSG(!memcmp(a.y, b.y, sizeof(float) * (size_t)a.ny), "%s: y differs 1 vs 2 threads", desc);
            CHECK_MSG(!memcmp(a.dx, b.dx, sizeof(float) * (size_t)a.nx), "%s: dx differs 1 vs 2 threads", desc);
            if (a.idx) CHECK_MSG(!memcmp(a.idx, b.idx, sizeof(int32_t) * (size_t)a.ny), "%s: idx differs", desc);
        } else CHECK_MSG(0, "%s: run failed", desc);
        free_res(&a);
        free_res(&b);
        free(dy);
        free(x);
    }
    pixl_set_num_threads(saved);
}
