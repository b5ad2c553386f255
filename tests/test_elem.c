/* test_elem.c — elementwise and shape ops (src/ops/elem.c): hand-computed
 * values and gradient checks of add/mul with broadcasting (both operands),
 * scale, concat (several dims, more inputs than a node holds), slice,
 * crop2d, pad2d in every mode incl. negative pads, reshape (aliasing view,
 * -1 inference, EVAL-mode liveness), sum; bit-identical results for 1 and
 * 2 threads; build errors naming the op and the shapes. The PyTorch
 * reference cases of tests/ref/elem run through `pixl check` (make test). */
#include <stdlib.h>
#include <string.h>

#include "gradcheck.h"
#include "test.h"

/* the build error of ctx contains every needle */
static void expect_error_at(pixl_ctx *ctx, pixl_tensor *t, const char *const *needles, int n, const char *file,
                            int line)
{
    if (t) pixl_test_fail(file, line, "expected NULL, got a tensor");
    const char *e = pixl_ctx_error(ctx);
    if (!e) {
        pixl_test_fail(file, line, "no error recorded in the ctx");
        return;
    }
    for (int i = 0; i < n; i++)
        if (!strstr(e, needles[i])) pixl_test_fail(file, line, "error '%s' lacks '%s'", e, needles[i]);
}
#define EXPECT_ERROR(ctx, t, ...)                                                                           \
    do {                                                                                                    \
        const char *nd_[] = {__VA_ARGS__};                                                                  \
        expect_error_at(ctx, t, nd_, (int)(sizeof nd_ / sizeof nd_[0]), __FILE__, __LINE__);                \
    } while (0)

static float *fdata(pixl_tensor *t) { return (float *)pixl_tensor_data(t); }

static void setf(pixl_tensor *t, const float *v) { memcpy(fdata(t), v, sizeof(float) * (size_t)pixl_tensor_numel(t)); }

/* ------------------------------------------------------------- add / mul */
PIXL_TEST(elem_add_mul_broadcast_hand)
{
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_TRAIN);
    int64_t as[2] = {2, 1}, bs[1] = {3};
    pixl_tensor *a = pixl_input_grad(ctx, "a", 2, as), *b = pixl_input_grad(ctx, "b", 1, bs);
    pixl_tensor *y = pixl_add(ctx, a, b), *z = pixl_mul(ctx, a, b);
    pixl_tensor *s = pixl_sum(ctx, pixl_add(ctx, y, z));
    CHECK(s && pixl_tensor_ndim(y) == 2 && pixl_tensor_shape(y)[0] == 2 && pixl_tensor_shape(y)[1] == 3);
    CHECK_OK(pixl_ctx_plan(ctx));
    setf(a, (float[]){1, 2});
    setf(b, (float[]){10, 20, 30});
    CHECK_OK(pixl_forward(ctx));
    CHECK_ALLCLOSE("add", fdata(y), ((float[]){11, 21, 31, 12, 22, 32}), 6, 0, 0);
    CHECK_ALLCLOSE("mul", fdata(z), ((float[]){10, 20, 30, 20, 40, 60}), 6, 0, 0);
    CHECK_NEAR(fdata(s)[0], 129 + 180, 0);
    CHECK_OK(pixl_backward(ctx, s));
    /* d/da_i = sum_j (1 + b_j) = 63; d/db_j = sum_i (1 + a_i) = 5 */
    CHECK_ALLCLOSE("da", pixl_tensor_grad(a), ((float[]){63, 63}), 2, 0, 0);
    CHECK_ALLCLOSE("db", pixl_tensor_grad(b), ((float[]){5, 5, 5}), 3, 0, 0);
    pixl_ctx_free(ctx);
}

typedef struct {
    int op; /* 0 add, 1 mul */
    int na, nb;
    int64_t as[5], bs[5];
} bin_case;

static pixl_tensor *build_bin(pixl_ctx *ctx, void *ud)
{
    bin_case *c = ud;
    static float va[1024], vb[1024];
    pixl_test_fill_uniform(va, 1024, -2, 2, 3);
    pixl_test_fill_uniform(vb, 1024, -2, 2, 4);
    pixl_tensor *a = gc_input(ctx, "a", c->na, c->as, va), *b = gc_input(ctx, "b", c->nb, c->bs, vb);
    return c->op ? pixl_mul(ctx, a, b) : pixl_add(ctx, a, b);
}

PIXL_TEST(elem_add_mul_gradcheck)
{
    bin_case cases[] = {
        {0, 4, 4, {2, 3, 4, 5}, {2, 3, 4, 5}},
        {0, 4, 4, {2, 3, 4, 5}, {1, 3, 1, 1}},
        {0, 3, 2, {3, 1, 5}, {4, 1}},
        {0, 1, 4, {1}, {2, 3, 2, 2}},
        {0, 4, 4, {2, 1, 4, 1}, {1, 3, 1, 5}},
        {1, 4, 4, {2, 3, 4, 5}, {2, 3, 4, 5}},
        {1, 4, 4, {2, 3, 4, 5}, {2, 1, 4, 5}},
        {1, 4, 1, {2, 3, 4, 5}, {5}},
        {1, 4, 4, {2, 3, 4, 5}, {1, 3, 1, 1}},
        {1, 3, 2, {3, 1, 5}, {4, 1}},
        {1, 4, 4, {2, 1, 4, 1}, {1, 3, 1, 5}},
        {1, 4, 4, {1, 3, 1, 70}, {2, 1, 4, 70}}, /* rows longer than one 64-block */
        {0, 4, 4, {2, 1, 4, 70}, {1, 3, 1, 70}},
        {1, 2, 2, {1, 1}, {3, 4}},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char what[64];
        snprintf(what, sizeof what, "%s case %zu", cases[k].op ? "mul" : "add", k);
        GRADCHECK(what, NULL, build_bin, &cases[k], NULL);
    }
}

/* add/mul of a (N,C,H,W) tensor with a (1,C,1,1) and a (N,1,H,W) one:
 * outputs and gradients bit-identical for 1 and 2 threads */
static void run_bcast_threads(int threads, float *out, float *ga, float *gb, float *gc)
{
    pixl_set_num_threads(threads);
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_TRAIN);
    int64_t as[4] = {2, 16, 48, 64}, bs[4] = {1, 16, 1, 1}, cs[4] = {2, 1, 48, 64};
    pixl_tensor *a = pixl_input_grad(ctx, "a", 4, as), *b = pixl_input_grad(ctx, "b", 4, bs),
                *c = pixl_input_grad(ctx, "c", 4, cs);
    pixl_tensor *y = pixl_mul(ctx, pixl_add(ctx, a, b), c);
    CHECK_OK(pixl_ctx_plan(ctx));
    pixl_test_fill_uniform(fdata(a), pixl_tensor_numel(a), -1, 1, 1);
    pixl_test_fill_uniform(fdata(b), pixl_tensor_numel(b), -1, 1, 2);
    pixl_test_fill_uniform(fdata(c), pixl_tensor_numel(c), -1, 1, 3);
    long n = (long)pixl_tensor_numel(y);
    float *g = malloc(sizeof(float) * (size_t)n);
    pixl_test_fill_uniform(g, n, -1, 1, 4);
    CHECK_OK(pixl_forward(ctx));
    CHECK_OK(pixl_backward_from(ctx, y, g));
    memcpy(out, fdata(y), sizeof(float) * (size_t)n);
    memcpy(ga, pixl_tensor_grad(a), sizeof(float) * (size_t)pixl_tensor_numel(a));
    memcpy(gb, pixl_tensor_grad(b), sizeof(float) * 16);
    memcpy(gc, pixl_tensor_grad(c), sizeof(float) * (size_t)pixl_tensor_numel(c));
    free(g);
    pixl_ctx_free(ctx);
}

PIXL_TEST(elem_broadcast_threads_identical)
{
    int prev = pixl_num_threads();
    enum { NA = 2 * 16 * 48 * 64, NC = 2 * 48 * 64 };
    float *o1 = malloc(4 * NA), *o2 = malloc(4 * NA), *a1 = malloc(4 * NA), *a2 = malloc(4 * NA);
    float b1[16], b2[16], *c1 = malloc(4 * NC), *c2 = malloc(4 * NC);
    run_bcast_threads(1, o1, a1, b1, c1);
    run_bcast_threads(2, o2, a2, b2, c2);
    CHECK(!memcmp(o1, o2, 4 * NA));
    CHECK(!memcmp(a1, a2, 4 * NA));
    CHECK(!memcmp(b1, b2, sizeof b1));
    CHECK(!memcmp(c1, c2, 4 * NC));
    pixl_set_num_threads(prev);
    free(o1), free(o2), free(a1), free(a2), free(c1), free(c2);
}

PIXL_TEST(elem_add_mul_errors)
{
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_TRAIN);
    int64_t as[2] = {2, 3}, bs[2] = {4, 3};
    pixl_tensor *a = pixl_input(ctx, "a", PIXL_F32, 2, as), *b = pixl_input(ctx, "b", PIXL_F32, 2, bs);
    EXPECT_ERROR(ctx, pixl_add(ctx, a, b), "add", "[2, 3]", "[4, 3]");
    pixl_ctx_free(ctx);
    ctx = pixl_ctx_new(NULL, PIXL_MODE_TRAIN);
    int64_t cs[3] = {2, 3, 5}, ds[1] = {3};
    pixl_tensor *c = pixl_input(ctx, "c", PIXL_F32, 3, cs), *d = pixl_input(ctx, "d", PIXL_F32, 1, ds);
    EXPECT_ERROR(ctx, pixl_mul(ctx, c, d), "mul", "[2, 3, 5]", "[3]");
    /* a NULL input returns NULL without overwriting the first error */
    CHECK(pixl_add(ctx, NULL, c) == NULL);
    CHECK(strstr(pixl_ctx_error(ctx), "mul") != NULL);
    pixl_ctx_free(ctx);
}

/* ----------------------------------------------------------------- scale */
static pixl_tensor *build_scale(pixl_ctx *ctx, void *ud)
{
    float v[24];
    pixl_test_fill_uniform(v, 24, -2, 2, 5);
    int64_t s[3] = {2, 3, 4};
    return pixl_scale(ctx, gc_input(ctx, "x", 3, s, v), -1.5f);
}

PIXL_TEST(elem_scale)
{
    GRADCHECK("scale", NULL, build_scale, NULL, NULL);
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL);
    int64_t s[1] = {3};
    pixl_tensor *x = pixl_input(ctx, "x", PIXL_F32, 1, s), *y = pixl_scale(ctx, x, 2.5f);
    CHECK_OK(pixl_ctx_plan(ctx));
    setf(x, (float[]){1, -2, 4});
    CHECK_OK(pixl_forward(ctx));
    CHECK_ALLCLOSE("scale", fdata(y), ((float[]){2.5f, -5, 10}), 3, 0, 0);
    pixl_ctx_free(ctx);
}

/* ------------------------------------------------------------ reciprocal */
static pixl_tensor *build_reciprocal(pixl_ctx *ctx, void *ud)
{
    float v[24];
    pixl_test_fill_uniform(v, 24, 0.5f, 2, 6);
    for (int i = 0; i < 24; i += 3) v[i] = -v[i];
    int64_t s[3] = {2, 3, 4};
    return pixl_reciprocal(ctx, gc_input(ctx, "x", 3, s, v));
}

PIXL_TEST(elem_reciprocal)
{
    GRADCHECK("reciprocal", NULL, build_reciprocal, NULL, NULL);
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL);
    int64_t s[1] = {3};
    pixl_tensor *x = pixl_input(ctx, "x", PIXL_F32, 1, s), *y = pixl_reciprocal(ctx, x);
    CHECK_OK(pixl_ctx_plan(ctx));
    setf(x, (float[]){4, -0.5f, 30});
    CHECK_OK(pixl_forward(ctx));
    CHECK_ALLCLOSE("reciprocal", fdata(y), ((float[]){0.25f, -2, 1.0f / 30}), 3, 0, 0);
    pixl_ctx_free(ctx);
}

/* ---------------------------------------------------------------- concat */
PIXL_TEST(elem_concat_hand)
{
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL);
    int64_t as[3] = {2, 1, 2}, bs[3] = {2, 2, 2};
    pixl_tensor *a = pixl_input(ctx, "a", PIXL_F32, 3, as), *b = pixl_input(ctx, "b", PIXL_F32, 3, bs);
    pixl_tensor *xs[2] = {a, b};
    pixl_tensor *y = pixl_keep(pixl_concat(ctx, 2, xs, 1));
    pixl_tensor *ys[2] = {b, b};
    pixl_tensor *z = pixl_keep(pixl_concat(ctx, 2, ys, -1));
    CHECK(y && pixl_tensor_shape(y)[1] == 3 && z && pixl_tensor_shape(z)[2] == 4);
    CHECK_OK(pixl_ctx_plan(ctx));
    setf(a, (float[]){1, 2, 3, 4});
    setf(b, (float[]){10, 11, 12, 13, 14, 15, 16, 17});
    CHECK_OK(pixl_forward(ctx));
    CHECK_ALLCLOSE("cat dim 1", fdata(y), ((float[]){1, 2, 10, 11, 12, 13, 3, 4, 14, 15, 16, 17}), 12, 0, 0);
    CHECK_ALLCLOSE("cat dim -1", fdata(z),
                   ((float[]){10, 11, 10, 11, 12, 13, 12, 13, 14, 15, 14, 15, 16, 17, 16, 17}), 16, 0, 0);
    pixl_ctx_free(ctx);
}

PIXL_TEST(elem_concat_many_inputs)
{
    /* 11 inputs of one element each along dim 0 (more than a node holds) */
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_TRAIN);
    int64_t s[1] = {1};
    pixl_tensor *xs[11];
    for (int i = 0; i < 11; i++) xs[i] = pixl_input_grad(ctx, "x", 1, s);
    pixl_tensor *y = pixl_concat(ctx, 11, xs, 0);
    CHECK(y && pixl_tensor_numel(y) == 11);
    float w[11];
    for (int i = 0; i < 11; i++) w[i] = (float)(i + 1);
    CHECK_OK(pixl_ctx_plan(ctx));
    for (int i = 0; i < 11; i++) fdata(xs[i])[0] = (float)(100 + i);
    CHECK_OK(pixl_forward(ctx));
    for (int i = 0; i < 11; i++) CHECK_NEAR(fdata(y)[i], 100 + i, 0);
    CHECK_OK(pixl_backward_from(ctx, y, w));
    for (int i = 0; i < 11; i++) CHECK_NEAR(pixl_tensor_grad(xs[i])[0], i + 1, 0);
    pixl_ctx_free(ctx);
}

typedef struct { int dim, n; } cat_case;
static pixl_tensor *build_cat(pixl_ctx *ctx, void *ud)
{
    cat_case *c = ud;
    pixl_tensor *xs[3];
    for (int i = 0; i < c->n; i++) {
        int64_t s[4] = {2, 3, 2, 3};
        s[c->dim < 0 ? c->dim + 4 : c->dim] = i + 1;
        float v[64];
        pixl_test_fill_uniform(v, 64, -1, 1, 10 + i);
        xs[i] = gc_input(ctx, "x", 4, s, v);
    }
    return pixl_concat(ctx, c->n, xs, c->dim);
}

PIXL_TEST(elem_concat_gradcheck)
{
    cat_case cases[] = {{0, 2}, {1, 3}, {2, 2}, {3, 3}, {-3, 2}};
    for (int k = 0; k < 5; k++) {
        char what[32];
        snprintf(what, sizeof what, "concat dim %d", cases[k].dim);
        GRADCHECK(what, NULL, build_cat, &cases[k], NULL);
    }
}

PIXL_TEST(elem_concat_errors)
{
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_TRAIN);
    int64_t as[4] = {1, 3, 4, 4}, bs[4] = {1, 2, 5, 4};
    pixl_tensor *xs[2] = {pixl_input(ctx, "a", PIXL_F32, 4, as), pixl_input(ctx, "b", PIXL_F32, 4, bs)};
    EXPECT_ERROR(ctx, pixl_concat(ctx, 2, xs, 1), "concat", "[1, 3, 4, 4]", "[1, 2, 5, 4]");
    pixl_ctx_free(ctx);
    ctx = pixl_ctx_new(NULL, PIXL_MODE_TRAIN);
    pixl_tensor *ys[2] = {pixl_input(ctx, "a", PIXL_F32, 4, as), pixl_input(ctx, "b", PIXL_F32, 3, bs)};
    EXPECT_ERROR(ctx, pixl_concat(ctx, 2, ys, 1), "concat", "[1, 3, 4, 4]", "[1, 2, 5]");
    pixl_ctx_free(ctx);
    ctx = pixl_ctx_new(NULL, PIXL_MODE_TRAIN);
    pixl_tensor *zs[2] = {pixl_input(ctx, "a", PIXL_F32, 4, as), pixl_input(ctx, "b", PIXL_F32, 4, as)};
    EXPECT_ERROR(ctx, pixl_concat(ctx, 2, zs, 4), "concat", "dim 4", "[1, 3, 4, 4]");
    pixl_ctx_free(ctx);
}

/* ----------------------------------------------------------------- slice */
PIXL_TEST(elem_slice_hand)
{
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_TRAIN);
    int64_t s[2] = {3, 4};
    pixl_tensor *x = pixl_input_grad(ctx, "x", 2, s);
    pixl_tensor *a = pixl_slice(ctx, x, 1, 1, 3), *b = pixl_slice(ctx, x, 0, -2, 3);
    CHECK(pixl_slice(ctx, x, 1, 0, 4) == x); /* the whole range is the input itself */
    pixl_tensor *y = pixl_sum(ctx, pixl_add(ctx, pixl_sum(ctx, a), pixl_scale(ctx, pixl_sum(ctx, b), 10)));
    CHECK_OK(pixl_ctx_plan(ctx));
    float v[12];
    for (int i = 0; i < 12; i++) v[i] = (float)i;
    setf(x, v);
    CHECK_OK(pixl_forward(ctx));
    CHECK_ALLCLOSE("slice dim 1", fdata(a), ((float[]){1, 2, 5, 6, 9, 10}), 6, 0, 0);
    CHECK_ALLCLOSE("slice dim 0 negative", fdata(b), ((float[]){4, 5, 6, 7, 8, 9, 10, 11}), 8, 0, 0);
    CHECK_OK(pixl_backward(ctx, y));
    CHECK_ALLCLOSE("slice grad", pixl_tensor_grad(x), ((float[]){0, 1, 1, 0, 10, 11, 11, 10, 10, 11, 11, 10}), 12,
                   0, 0);
    pixl_ctx_free(ctx);
}

typedef struct { int dim; int64_t start, end; } slice_case;
static pixl_tensor *build_slice(pixl_ctx *ctx, void *ud)
{
    slice_case *c = ud;
    int64_t s[4] = {2, 4, 3, 5};
    float v[120];
    pixl_test_fill_uniform(v, 120, -1, 1, 21);
    return pixl_slice(ctx, gc_input(ctx, "x", 4, s, v), c->dim, c->start, c->end);
}

PIXL_TEST(elem_slice_gradcheck_and_errors)
{
    slice_case cases[] = {{0, 1, 2}, {1, 1, 3}, {3, 2, 5}, {-1, 0, -1}};
    for (int k = 0; k < 4; k++) GRADCHECK("slice", NULL, build_slice, &cases[k], NULL);
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_TRAIN);
    int64_t s[3] = {2, 4, 6};
    pixl_tensor *x = pixl_input(ctx, "x", PIXL_F32, 3, s);
    EXPECT_ERROR(ctx, pixl_slice(ctx, x, 1, 3, 3), "slice", "[3, 3)", "[2, 4, 6]");
    pixl_ctx_free(ctx);
    ctx = pixl_ctx_new(NULL, PIXL_MODE_TRAIN);
    x = pixl_input(ctx, "x", PIXL_F32, 3, s);
    EXPECT_ERROR(ctx, pixl_slice(ctx, x, 2, 2, 7), "slice", "[2, 7)", "[2, 4, 6]");
    pixl_ctx_free(ctx);
    ctx = pixl_ctx_new(NULL, PIXL_MODE_TRAIN);
    x = pixl_input(ctx, "x", PIXL_F32, 3, s);
    EXPECT_ERROR(ctx, pixl_slice(ctx, x, 2, 4, 1), "slice", "[4, 1)");
    pixl_ctx_free(ctx);
    ctx = pixl_ctx_new(NULL, PIXL_MODE_TRAIN);
    x = pixl_input(ctx, "x", PIXL_F32, 3, s);
    EXPECT_ERROR(ctx, pixl_slice(ctx, x, 3, 0, 1), "slice", "dim 3", "[2, 4, 6]");
    pixl_ctx_free(ctx);
    ctx = pixl_ctx_new(NULL, PIXL_MODE_TRAIN);
    x = pixl_input(ctx, "x", PIXL_F32, 3, s);
    EXPECT_ERROR(ctx, pixl_slice(ctx, x, 0, -3, 1), "slice", "[-3, 1)");
    pixl_ctx_free(ctx);
}

/* ------------------------------------------------------------ pad / crop */
/* x = 1..9 in a 3x3 plane */
static void pad_case(const int pads[4], pixl_pad_mode mode, float value, int oh, int ow, const float *want)
{
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL);
    int64_t s[4] = {1, 1, 3, 3};
    pixl_tensor *x = pixl_input(ctx, "x", PIXL_F32, 4, s), *y = pixl_pad2d(ctx, x, pads, mode, value);
    CHECK_MSG(y, "pad2d failed: %s", pixl_ctx_error(ctx) ? pixl_ctx_error(ctx) : "");
    if (!y) {
        pixl_ctx_free(ctx);
        return;
    }
    CHECK(pixl_tensor_shape(y)[2] == oh && pixl_tensor_shape(y)[3] == ow);
    CHECK_OK(pixl_ctx_plan(ctx));
    setf(x, (float[]){1, 2, 3, 4, 5, 6, 7, 8, 9});
    CHECK_OK(pixl_forward(ctx));
    CHECK_ALLCLOSE("pad2d", fdata(y), want, oh * ow, 0, 0);
    pixl_ctx_free(ctx);
}

PIXL_TEST(elem_pad2d_hand)
{
    /* constant 0.5: left 1, right 0, top 0, bottom 1 */
    pad_case((int[]){1, 0, 0, 1}, PIXL_PAD_ZERO, 0.5f, 4, 4,
             (float[]){0.5f, 1, 2, 3, 0.5f, 4, 5, 6, 0.5f, 7, 8, 9, 0.5f, 0.5f, 0.5f, 0.5f});
    /* reflect: left 2, right 1, top 1, bottom 0 */
    pad_case((int[]){2, 1, 1, 0}, PIXL_PAD_REFLECT, 0, 4, 6,
             (float[]){6, 5, 4, 5, 6, 5, 3, 2, 1, 2, 3, 2, 6, 5, 4, 5, 6, 5, 9, 8, 7, 8, 9, 8});
    /* replicate: left 1, right 2, top 0, bottom 1 */
    pad_case((int[]){1, 2, 0, 1}, PIXL_PAD_REPLICATE, 0, 4, 6,
             (float[]){1, 1, 2, 3, 3, 3, 4, 4, 5, 6, 6, 6, 7, 7, 8, 9, 9, 9, 7, 7, 8, 9, 9, 9});
    /* negative pads crop: left -1, right 1 (zero), top -2, bottom 0 */
    pad_case((int[]){-1, 1, -2, 0}, PIXL_PAD_ZERO, 0, 1, 3, (float[]){8, 9, 0});
    /* reflect with a crop on the left: left -1, right 2, top 0, bottom -1 */
    pad_case((int[]){-1, 2, 0, -1}, PIXL_PAD_REFLECT, 0, 2, 4, (float[]){2, 3, 2, 1, 5, 6, 5, 4});
    /* replicate with crop */
    pad_case((int[]){1, -2, -1, 1}, PIXL_PAD_REPLICATE, 0, 3, 2, (float[]){4, 4, 7, 7, 7, 7});
}

typedef struct { int pads[4]; pixl_pad_mode mode; } padg_case;
static pixl_tensor *build_pad(pixl_ctx *ctx, void *ud)
{
    padg_case *c = ud;
    int64_t s[4] = {2, 2, 4, 5};
    float v[80];
    pixl_test_fill_uniform(v, 80, -1, 1, 31);
    return pixl_pad2d(ctx, gc_input(ctx, "x", 4, s, v), c->pads, c->mode, 0.25f);
}

PIXL_TEST(elem_pad2d_gradcheck)
{
    padg_case cases[] = {
        {{1, 2, 3, 0}, PIXL_PAD_ZERO},      {{-1, 2, 1, -2}, PIXL_PAD_ZERO},     {{3, 4, 3, 2}, PIXL_PAD_REFLECT},
        {{-2, 3, 2, -1}, PIXL_PAD_REFLECT}, {{4, 1, 5, 2}, PIXL_PAD_REPLICATE}, {{-1, 2, 0, 3}, PIXL_PAD_REPLICATE},
    };
    for (int k = 0; k < 6; k++) {
        char what[32];
        snprintf(what, sizeof what, "pad2d case %d", k);
        GRADCHECK(what, NULL, build_pad, &cases[k], NULL);
    }
}

PIXL_TEST(elem_pad2d_errors)
{
    int64_t s[4] = {1, 2, 3, 4};
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_TRAIN);
    pixl_tensor *x = pixl_input(ctx, "x", PIXL_F32, 4, s);
    /* PyTorch forbids a reflect pad >= the dim */
    EXPECT_ERROR(ctx, pixl_pad2d(ctx, x, (int[]){4, 0, 0, 0}, PIXL_PAD_REFLECT, 0), "pad2d", "reflect", "[1, 2, 3, 4]");
    pixl_ctx_free(ctx);
    ctx = pixl_ctx_new(NULL, PIXL_MODE_TRAIN);
    x = pixl_input(ctx, "x", PIXL_F32, 4, s);
    EXPECT_ERROR(ctx, pixl_pad2d(ctx, x, (int[]){0, 0, 0, 3}, PIXL_PAD_REFLECT, 0), "pad2d", "[1, 2, 3, 4]");
    pixl_ctx_free(ctx);
    ctx = pixl_ctx_new(NULL, PIXL_MODE_TRAIN);
    x = pixl_input(ctx, "x", PIXL_F32, 4, s);
    EXPECT_ERROR(ctx, pixl_pad2d(ctx, x, (int[]){-2, -2, 0, 0}, PIXL_PAD_ZERO, 0), "pad2d", "[1, 2, 3, 4]");
    pixl_ctx_free(ctx);
    ctx = pixl_ctx_new(NULL, PIXL_MODE_TRAIN);
    x = pixl_input(ctx, "x", PIXL_F32, 4, s);
    EXPECT_ERROR(ctx, pixl_crop2d(ctx, x, 1, 1, 3, 2), "crop2d", "[1, 2, 3, 4]");
    pixl_ctx_free(ctx);
}

PIXL_TEST(elem_crop2d)
{
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_TRAIN);
    int64_t s[4] = {1, 1, 3, 4};
    pixl_tensor *x = pixl_input_grad(ctx, "x", 4, s), *y = pixl_crop2d(ctx, x, 1, 2, 2, 2);
    CHECK(pixl_crop2d(ctx, x, 0, 0, 3, 4) == x);
    CHECK_OK(pixl_ctx_plan(ctx));
    float v[12];
    for (int i = 0; i < 12; i++) v[i] = (float)i;
    setf(x, v);
    CHECK_OK(pixl_forward(ctx));
    CHECK_ALLCLOSE("crop", fdata(y), ((float[]){6, 7, 10, 11}), 4, 0, 0);
    CHECK_OK(pixl_backward_from(ctx, y, (float[]){1, 2, 3, 4}));
    CHECK_ALLCLOSE("crop grad", pixl_tensor_grad(x), ((float[]){0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 3, 4}), 12, 0, 0);
    pixl_ctx_free(ctx);
    /* crop of an int32 label map */
    ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL);
    int64_t ls[3] = {1, 3, 3};
    pixl_tensor *l = pixl_input(ctx, "labels", PIXL_I32, 3, ls), *lc = pixl_crop2d(ctx, l, 1, 0, 2, 2);
    CHECK(lc && pixl_tensor_dtype(lc) == PIXL_I32);
    CHECK_OK(pixl_ctx_plan(ctx));
    int32_t lv[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    memcpy(pixl_tensor_data(l), lv, sizeof lv);
    CHECK_OK(pixl_forward(ctx));
    int32_t *o = pixl_tensor_data(lc);
    CHECK(o[0] == 4 && o[1] == 5 && o[2] == 7 && o[3] == 8);
    pixl_ctx_free(ctx);
}

static pixl_tensor *build_crop_reshape(pixl_ctx *ctx, void *ud)
{
    int64_t s[4] = {2, 3, 5, 6}, r[3] = {3, -1, 4};
    float v[180];
    pixl_test_fill_uniform(v, 180, -1, 1, 51);
    pixl_tensor *x = gc_input(ctx, "x", 4, s, v);
    pixl_tensor *c = pixl_crop2d(ctx, x, 1, 2, 4, 4);          /* (2,3,4,4) */
    return pixl_mul(ctx, pixl_reshape(ctx, c, 3, r), pixl_reshape(ctx, c, 3, r)); /* (3,8,4): squares */
}

PIXL_TEST(elem_crop_reshape_gradcheck) { GRADCHECK("crop2d + reshape", NULL, build_crop_reshape, NULL, NULL); }

/* --------------------------------------------------------------- reshape */
PIXL_TEST(elem_reshape)
{
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_TRAIN);
    int64_t s[4] = {2, 3, 2, 2}, r[2] = {-1, 4};
    pixl_tensor *x = pixl_input_grad(ctx, "x", 4, s), *h = pixl_scale(ctx, x, 2);
    pixl_tensor *y = pixl_reshape(ctx, h, 2, r);
    CHECK(y && pixl_tensor_shape(y)[0] == 6 && pixl_tensor_shape(y)[1] == 4);
    pixl_tensor *z = pixl_mul(ctx, y, y);
    CHECK_OK(pixl_ctx_plan(ctx));
    CHECK(pixl_tensor_data(y) == pixl_tensor_data(h)); /* a view */
    float v[24];
    pixl_test_fill_uniform(v, 24, -1, 1, 5);
    setf(x, v);
    CHECK_OK(pixl_forward(ctx));
    float ones[24], want[24];
    for (int i = 0; i < 24; i++) {
        ones[i] = 1;
        want[i] = 8 * v[i]; /* d/dx (2x)^2 */
    }
    CHECK_OK(pixl_backward_from(ctx, z, ones));
    CHECK_ALLCLOSE("reshape grad", pixl_tensor_grad(x), want, 24, 1e-6, 0);
    int64_t bad[2] = {5, -1}, bad2[2] = {4, 5};
    EXPECT_ERROR(ctx, pixl_reshape(ctx, x, 2, bad), "reshape"); /* after plan: error too */
    pixl_ctx_free(ctx);
    ctx = pixl_ctx_new(NULL, PIXL_MODE_TRAIN);
    x = pixl_input(ctx, "x", PIXL_F32, 4, s);
    EXPECT_ERROR(ctx, pixl_reshape(ctx, x, 2, bad), "reshape", "[5, -1]", "[2, 3, 2, 2]");
    pixl_ctx_free(ctx);
    ctx = pixl_ctx_new(NULL, PIXL_MODE_TRAIN);
    x = pixl_input(ctx, "x", PIXL_F32, 4, s);
    EXPECT_ERROR(ctx, pixl_reshape(ctx, x, 2, bad2), "reshape", "[4, 5]", "[2, 3, 2, 2]");
    pixl_ctx_free(ctx);
}

/* EVAL mode: an intermediate's memory must stay alive while its view is read */
PIXL_TEST(elem_reshape_eval_liveness)
{
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL);
    int64_t s[2] = {4, 8}, r[1] = {32};
    pixl_tensor *x = pixl_input(ctx, "x", PIXL_F32, 2, s);
    pixl_tensor *h = pixl_scale(ctx, x, 3);
    pixl_tensor *v = pixl_reshape(ctx, h, 1, r);
    pixl_tensor *t = pixl_scale(ctx, x, 5); /* allocated while h is alive */
    pixl_tensor *u = pixl_scale(ctx, t, 1);
    pixl_tensor *y = pixl_add(ctx, v, pixl_reshape(ctx, u, 1, r));
    CHECK_OK(pixl_ctx_plan(ctx));
    float xv[32], want[32];
    for (int i = 0; i < 32; i++) {
        xv[i] = (float)i;
        want[i] = 8.0f * (float)i;
    }
    setf(x, xv);
    CHECK_OK(pixl_forward(ctx));
    CHECK_ALLCLOSE("eval reshape", fdata(y), want, 32, 0, 0);
    pixl_ctx_free(ctx);
}

/* ------------------------------------------------------------------- sum */
static pixl_tensor *build_sum(pixl_ctx *ctx, void *ud)
{
    float v[60];
    pixl_test_fill_uniform(v, 60, -1, 1, 41);
    int64_t s[3] = {3, 4, 5};
    return pixl_sum(ctx, gc_input(ctx, "x", 3, s, v));
}

static float big_sum(int threads)
{
    pixl_set_num_threads(threads);
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL);
    int64_t s[1] = {1000003};
    pixl_tensor *x = pixl_input(ctx, "x", PIXL_F32, 1, s), *y = pixl_sum(ctx, x);
    CHECK_OK(pixl_ctx_plan(ctx));
    pixl_test_fill_uniform(fdata(x), s[0], -1, 2, 9);
    CHECK_OK(pixl_forward(ctx));
    float r = fdata(y)[0];
    pixl_ctx_free(ctx);
    return r;
}

PIXL_TEST(elem_sum)
{
    GRADCHECK("sum", NULL, build_sum, NULL, NULL);
    int prev = pixl_num_threads();
    float a = big_sum(1), b = big_sum(2);
    CHECK(memcmp(&a, &b, sizeof a) == 0);
    CHECK_NEAR(a, 500000, 3000); /* mean 0.5 */
    pixl_set_num_threads(prev);
}

