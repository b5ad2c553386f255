/* test_roi.c — tests of the detection ops (src/ops/roi.c, src/ops/boxes.c):
 * gradient checks of roi_align (aligned both ways, adaptive and fixed
 * sampling, boxes partly or wholly outside the map) and roi_pool,
 * hand-computed values, builder and forward errors naming the op, the same
 * bits for 1 and 2 threads, box_iou / generalized_box_iou on hand-made
 * boxes and their gradient checks, and NMS (empty input, everything suppressed, equal scores,
 * categories, the -1-padded graph output and pixl_nms_count). */
#include <stdlib.h>
#include <string.h>

#include "gradcheck.h"
#include "test.h"

/* (batch, x1, y1, x2, y2) on a 2 x C x 9 x 11 map: inside, partly outside
 * each border, wholly outside, a degenerate one and one of batch 1 */
static const float g_boxes[][5] = {
    {0, 1.3f, 0.7f, 6.2f, 5.9f},  {1, -2.4f, -1.6f, 3.1f, 4.2f}, {0, 7.5f, 5.2f, 13.7f, 11.4f},
    {1, 0.4f, 6.1f, 10.6f, 8.9f}, {0, 12.5f, -3.0f, 15.0f, 2.0f}, {1, 4.0f, 4.0f, 4.3f, 4.1f},
    {0, -0.6f, 2.2f, 11.4f, 9.5f},
};
#define N_BOXES ((int64_t)(sizeof g_boxes / sizeof g_boxes[0]))

typedef struct roi_spec {
    int pool; /* 0 roi_align, 1 roi_pool */
    int oh, ow;
    double scale;
    int sampling, aligned;
} roi_spec;

static pixl_tensor *apply(pixl_ctx *ctx, const roi_spec *s, pixl_tensor *x, pixl_tensor *b)
{
    return s->pool ? pixl_roi_pool(ctx, x, b, s->oh, s->ow, s->scale)
                   : pixl_roi_align(ctx, x, b, s->oh, s->ow, s->scale, s->sampling, s->aligned);
}

static void describe(const roi_spec *s, char *buf, size_t n)
{
    snprintf(buf, n, "%s out %dx%d scale %g sampling %d aligned %d", s->pool ? "roi_pool" : "roi_align", s->oh, s->ow,
             s->scale, s->sampling, s->aligned);
}

static const int64_t g_xs[4] = {2, 3, 9, 11};
static const int64_t g_bs[2] = {N_BOXES, 5};

typedef struct { const roi_spec *s; const float *x; } gc_ud;

static pixl_tensor *build_gc(pixl_ctx *ctx, void *ud)
{
    gc_ud *u = ud;
    pixl_tensor *x = gc_input(ctx, "x", 4, g_xs, u->x);
    pixl_tensor *b = pixl_constant(ctx, "boxes", PIXL_F32, 2, g_bs, g_boxes);
    return apply(ctx, u->s, x, b);
}

static void gradcheck_spec(const roi_spec *s)
{
    char desc[160];
    describe(s, desc, sizeof desc);
    const long n = (long)(g_xs[0] * g_xs[1] * g_xs[2] * g_xs[3]);
    float *x = malloc(sizeof(float) * (size_t)n);
    gc_opts o = {0};
    if (s->pool) { /* distinct values, eps well below their spacing: no maximum changes */
        pixl_test_fill_spaced(x, n, 21);
        double step = 4.0 / (double)n;
        if (step > 0.05) step = 0.05;
        o.eps = step / 5;
        o.atol = 5e-3;
    } else {
        pixl_test_fill_uniform(x, n, -1, 1, 22);
    }
    gc_ud u = {s, x};
    GRADCHECK(desc, NULL, build_gc, &u, &o);
    free(x);
}

static const roi_spec gc_specs[] = {
    {0, 3, 3, 1.0, 2, 0}, {0, 3, 3, 1.0, 2, 1}, {0, 4, 2, 1.0, 0, 0}, {0, 4, 2, 1.0, 0, 1},
    {0, 2, 5, 0.5, 0, 1}, {0, 5, 3, 0.5, 2, 0}, {0, 7, 7, 1.0, 1, 1}, {0, 2, 2, 2.0, 0, 0},
};

PIXL_TEST(roi_align_gradcheck)
{
    for (size_t i = 0; i < sizeof gc_specs / sizeof gc_specs[0]; i++) gradcheck_spec(&gc_specs[i]);
}

PIXL_TEST(roi_pool_gradcheck)
{
    static const roi_spec specs[] = {{1, 3, 3, 1.0, 0, 0}, {1, 2, 4, 0.5, 0, 0}, {1, 4, 4, 1.0, 0, 0}};
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) gradcheck_spec(&specs[i]);
}

/* ------------------------------------------------------------ run helper */
typedef struct run_res { float *y, *dx; long ny, nx; int ok; } run_res;

static void free_res(run_res *r)
{
    free(r->y);
    free(r->dx);
}

static run_res run_roi(const roi_spec *s, const int64_t xs[4], const float *x, int64_t k, const float *boxes,
                       const float *dy)
{
    run_res r = {0};
    pixl_ctx *ctx = pixl_ctx_new(NULL, dy ? PIXL_MODE_TRAIN : PIXL_MODE_EVAL);
    pixl_tensor *in = dy ? pixl_input_grad(ctx, "x", 4, xs) : pixl_input(ctx, "x", PIXL_F32, 4, xs);
    const int64_t bs[2] = {k, 5};
    pixl_tensor *b = pixl_constant(ctx, "boxes", PIXL_F32, 2, bs, boxes);
    pixl_tensor *y = pixl_keep(apply(ctx, s, in, b));
    if (!y || pixl_ctx_plan(ctx)) {
        pixl_test_fail(__FILE__, __LINE__, "run_roi: %s", pixl_last_error());
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

/* ------------------------------------------------------------ hand-computed */
PIXL_TEST(roi_align_values)
{
    /* v(h, w) = 10 h + w is linear: bilinear samples are exact inside the
     * map, so a bin is v at the mean of its sample positions */
    const int64_t xs[4] = {1, 1, 6, 8};
    float x[48];
    for (int h = 0; h < 6; h++)
        for (int w = 0; w < 8; w++) x[h * 8 + w] = (float)(10 * h + w);
    const float boxes[3][5] = {
        {0, 1.5f, 2.5f, 3.5f, 4.5f},  /* aligned: roi (1, 2)..(3, 4): one bin centred at (3, 2) */
        {0, 20, 20, 30, 30},          /* wholly outside: 0 */
        {0, -3.0f, 1.0f, -1.5f, 2.0f} /* x samples below -1: 0 */
    };
    roi_spec s = {0, 1, 1, 1.0, 2, 1};
    run_res r = run_roi(&s, xs, x, 3, &boxes[0][0], NULL);
    if (r.ok) {
        CHECK_NEAR(r.y[0], 32.0, 1e-5);
        CHECK_NEAR(r.y[1], 0.0, 0);
        CHECK_NEAR(r.y[2], 0.0, 0);
    }
    free_res(&r);
    /* not aligned, 2x2 bins, 1 sample: bin (i, j) samples at start + (i + 0.5) * bin */
    roi_spec s2 = {0, 2, 2, 1.0, 1, 0};
    const float b2[5] = {0, 2, 1, 6, 3}; /* bins 2 wide, 1 high: samples x 3, 5; y 1.5, 2.5 */
    r = run_roi(&s2, xs, x, 1, b2, NULL);
    if (r.ok) {
        const float want[4] = {18, 20, 28, 30};
        CHECK_ALLCLOSE("roi_align 2x2", r.y, want, 4, 1e-6, 1e-5);
    }
    free_res(&r);
    /* the last row/column clamp: a sample at y = 5.5 (past the last row, < H) reads row 5 */
    const float b3[5] = {0, 7.0f, 5.0f, 8.0f, 6.0f};
    r = run_roi(&s2, xs, x, 1, b3, NULL);
    if (r.ok) {
        CHECK_NEAR(r.y[0], 57.0, 1e-5); /* samples (5.25, 7.25) ... (5.75, 7.75) all read v(5, 7) */
        CHECK_NEAR(r.y[3], 57.0, 1e-5);
    }
    free_res(&r);
}

PIXL_TEST(roi_pool_values)
{
    const int64_t xs[4] = {1, 2, 4, 5};
    float x[40];
    for (int i = 0; i < 40; i++) x[i] = (float)((i * 7) % 40) - 20.0f;
    /* box (1, 0)..(3, 2) rounded: 3x3 cells, one bin = their max; an empty one past the map = 0 */
    const float boxes[2][5] = {{0, 0.6f, -0.4f, 2.6f, 2.4f}, {0, 9, 9, 12, 12}};
    roi_spec s = {1, 1, 1, 1.0, 0, 0};
    float dy[4] = {1, 2, 3, 4};
    run_res r = run_roi(&s, xs, x, 2, &boxes[0][0], dy);
    if (r.ok) {
        for (int c = 0; c < 2; c++) {
            float m = -1e30f;
            int mi = -1;
            for (int h = 0; h < 3; h++)
                for (int w = 1; w < 4; w++)
                    if (x[c * 20 + h * 5 + w] > m) {
                        m = x[c * 20 + h * 5 + w];
                        mi = h * 5 + w;
                    }
            CHECK_NEAR(r.y[c], m, 0);
            CHECK_NEAR(r.dx[c * 20 + mi], dy[c], 0);
        }
        CHECK_NEAR(r.y[2], 0.0, 0);
        CHECK_NEAR(r.y[3], 0.0, 0);
        double s_dx = 0;
        for (int i = 0; i < 40; i++) s_dx += r.dx[i];
        CHECK_NEAR(s_dx, 3.0, 0); /* the empty bins send nothing */
    }
    free_res(&r);
}

/* ------------------------------------------------------------ errors */
PIXL_TEST(roi_builder_errors)
{
    for (int pool = 0; pool < 2; pool++) {
        const char *op = pool ? "roi_pool" : "roi_align";
        struct {
            const char *what;
            int64_t xs[4], bs[2];
            int xnd, oh, ow;
            double scale;
            const char *needle;
        } cases[] = {
            {"boxes (K, 4)", {1, 3, 8, 8}, {2, 4}, 4, 2, 2, 1.0, "[2, 4]"},
            {"boxes 1-d", {1, 3, 8, 8}, {5, 0}, 4, 2, 2, 1.0, "(K, 5)"},
            {"output size 0", {1, 3, 8, 8}, {2, 5}, 4, 0, 2, 1.0, "0x2"},
            {"negative spatial_scale", {1, 3, 8, 8}, {2, 5}, 4, 2, 2, -0.5, "spatial_scale"},
            {"zero spatial_scale", {1, 3, 8, 8}, {2, 5}, 4, 2, 2, 0.0, "spatial_scale"},
            {"3-d input", {3, 8, 8, 0}, {2, 5}, 3, 2, 2, 1.0, "[3, 8, 8]"},
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_TRAIN);
            pixl_tensor *x = pixl_input_grad(ctx, "x", cases[i].xnd, cases[i].xs);
            pixl_tensor *b = pixl_input(ctx, "boxes", PIXL_F32, cases[i].bs[1] ? 2 : 1, cases[i].bs);
            roi_spec s = {pool, cases[i].oh, cases[i].ow, cases[i].scale, 0, 1};
            const char *needles[] = {op, cases[i].needle, NULL};
            char what[128];
            snprintf(what, sizeof what, "%s: %s", op, cases[i].what);
            CHECK_BUILD_ERROR(what, apply(ctx, &s, x, b), ctx, needles);
            pixl_ctx_free(ctx);
        }
        /* NULL inputs: NULL, no crash */
        pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL);
        roi_spec s = {pool, 2, 2, 1.0, 0, 0};
        CHECK(apply(ctx, &s, NULL, NULL) == NULL);
        pixl_ctx_free(ctx);
    }
}

/* data errors surface at forward (and backward never runs on them) */
PIXL_TEST(roi_forward_errors)
{
    const int64_t xs[4] = {2, 2, 6, 6};
    static const struct {
        const char *what;
        float box[5];
        const char *needle;
    } cases[] = {
        {"batch index 2 of 2", {2, 0, 0, 3, 3}, "batch index 2"},
        {"negative batch index", {-1, 0, 0, 3, 3}, "batch index -1"},
        {"NaN corner", {0, 0, NAN, 3, 3}, "non-finite"},
        {"infinite corner", {0, 0, 0, INFINITY, 3}, "non-finite"},
    };
    float x[144];
    pixl_test_fill_uniform(x, 144, -1, 1, 3);
    for (int pool = 0; pool < 2; pool++)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_TRAIN);
            pixl_tensor *in = pixl_input_grad(ctx, "x", 4, xs);
            const int64_t bs[2] = {2, 5};
            pixl_tensor *b = pixl_input(ctx, "boxes", PIXL_F32, 2, bs);
            roi_spec s = {pool, 2, 2, 1.0, 0, 0};
            pixl_tensor *y = apply(ctx, &s, in, b);
            CHECK(y != NULL);
            if (!y || pixl_ctx_plan(ctx)) {
                pixl_ctx_free(ctx);
                continue;
            }
            memcpy(pixl_tensor_data(in), x, sizeof x);
            float *bd = pixl_tensor_data(b);
            const float ok[5] = {1, 0.5f, 0.5f, 4, 4};
            memcpy(bd, ok, sizeof ok);
            memcpy(bd + 5, cases[i].box, sizeof cases[i].box);
            int rc = pixl_forward(ctx);
            CHECK_MSG(rc != PIXL_OK, "%s: forward passed", cases[i].what);
            const char *e = pixl_last_error();
            CHECK_MSG(strstr(e, pool ? "roi_pool" : "roi_align") && strstr(e, "box 1") && strstr(e, cases[i].needle),
                      "%s: \"%s\"", cases[i].what, e);
            pixl_ctx_free(ctx);
        }
    /* an adaptive grid too large to run, and a roi_pool box beyond 2^30 */
    for (int pool = 0; pool < 2; pool++) {
        pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL);
        pixl_tensor *in = pixl_input(ctx, "x", PIXL_F32, 4, xs);
        const int64_t bs[2] = {1, 5};
        pixl_tensor *b = pixl_input(ctx, "boxes", PIXL_F32, 2, bs);
        roi_spec s = {pool, 1, 1, 1.0, 0, 1};
        pixl_tensor *y = apply(ctx, &s, in, b);
        if (!y || pixl_ctx_plan(ctx)) {
            CHECK(0);
            pixl_ctx_free(ctx);
            continue;
        }
        memcpy(pixl_tensor_data(in), x, sizeof x);
        const float huge[5] = {0, -1e30f, 0, 1e30f, 3};
        memcpy(pixl_tensor_data(b), huge, sizeof huge);
        CHECK(pixl_forward(ctx) != PIXL_OK);
        CHECK_MSG(strstr(pixl_last_error(), pool ? "roi_pool" : "sampling grid"), "\"%s\"", pixl_last_error());
        pixl_ctx_free(ctx);
    }
}

/* ------------------------------------------------------------ threads */
PIXL_TEST(roi_threads_bit_identical)
{
    const int64_t xs[4] = {2, 24, 37, 41};
    const long n = (long)(xs[0] * xs[1] * xs[2] * xs[3]);
    float *x = malloc(sizeof(float) * (size_t)n);
    pixl_test_fill_uniform(x, n, -1, 1, 7);
    float boxes[40][5];
    float r[160];
    pixl_test_fill_uniform(r, 160, 0, 1, 8);
    for (int k = 0; k < 40; k++) {
        boxes[k][0] = (float)(k % 2);
        boxes[k][1] = r[4 * k] * 50 - 5;
        boxes[k][2] = r[4 * k + 1] * 45 - 5;
        boxes[k][3] = boxes[k][1] + r[4 * k + 2] * 30;
        boxes[k][4] = boxes[k][2] + r[4 * k + 3] * 30;
    }
    static const roi_spec specs[] = {{0, 7, 7, 1.0, 0, 1}, {0, 7, 7, 0.5, 2, 0}, {1, 7, 7, 1.0, 0, 0}};
    int saved = pixl_num_threads();
    for (size_t c = 0; c < sizeof specs / sizeof specs[0]; c++) {
        char desc[160];
        describe(&specs[c], desc, sizeof desc);
        const long ny = 40L * xs[1] * 49;
        float *dy = malloc(sizeof(float) * (size_t)ny);
        pixl_test_fill_uniform(dy, ny, -1, 1, 9 + c);
        pixl_set_num_threads(1);
        run_res a = run_roi(&specs[c], xs, x, 40, &boxes[0][0], dy);
        pixl_set_num_threads(2);
        run_res b = run_roi(&specs[c], xs, x, 40, &boxes[0][0], dy);
        if (a.ok && b.ok) {
            CHECK_MSG(!memcmp(a.y, b.y, sizeof(float) * (size_t)a.ny), "%s: y differs 1 vs 2 threads", desc);
            CHECK_MSG(!memcmp(a.dx, b.dx, sizeof(float) * (size_t)a.nx), "%s: dx differs 1 vs 2 threads", desc);
        } else CHECK_MSG(0, "%s: run failed", desc);
        free_res(&a);
        free_res(&b);
        free(dy);
    }
    pixl_set_num_threads(saved);
    free(x);
}

/* ------------------------------------------------------------ box_iou */
PIXL_TEST(box_iou_values)
{
    const float a[2][4] = {{0, 0, 2, 2}, {1, 1, 3, 4}};
    const float b[3][4] = {{1, 1, 3, 3}, {5, 5, 6, 6}, {0, 0, 2, 2}};
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL);
    const int64_t as[2] = {2, 4}, bs[2] = {3, 4};
    pixl_tensor *ta = pixl_constant(ctx, "a", PIXL_F32, 2, as, a), *tb = pixl_constant(ctx, "b", PIXL_F32, 2, bs, b);
    pixl_tensor *iou = pixl_keep(pixl_box_iou(ctx, ta, tb)), *giou = pixl_keep(pixl_generalized_box_iou(ctx, ta, tb));
    CHECK(iou && giou);
    if (iou && giou && !pixl_ctx_plan(ctx) && !pixl_forward(ctx)) {
        /* a0 vs b0: inter 1, union 7; enclosing (0,0)-(3,3) = 9 */
        const float want_iou[6] = {1.0f / 7, 0, 1, 4.0f / 6, 0, 1.0f / 9};
        const float want_giou[6] = {1.0f / 7 - 2.0f / 9, -(36.0f - 5) / 36, 1, 4.0f / 6 - 0, -(25.0f - 7) / 25,
                                    1.0f / 9 - (12.0f - 9) / 12};
        CHECK_ALLCLOSE("box_iou", pixl_tensor_data(iou), want_iou, 6, 1e-6, 1e-6);
        CHECK_ALLCLOSE("generalized_box_iou", pixl_tensor_data(giou), want_giou, 6, 1e-6, 1e-6);
    } else CHECK_MSG(0, "box_iou: %s", pixl_last_error());
    pixl_ctx_free(ctx);
    /* shape errors name the op and both shapes */
    ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL);
    const int64_t bad[2] = {3, 5};
    ta = pixl_input(ctx, "a", PIXL_F32, 2, as);
    tb = pixl_input(ctx, "b", PIXL_F32, 2, bad);
    const char *needles[] = {"generalized_box_iou", "[3, 5]", "[2, 4]", NULL};
    CHECK_BUILD_ERROR("giou (3, 5)", pixl_generalized_box_iou(ctx, ta, tb), ctx, needles);
    pixl_ctx_free(ctx);
}

/* ------------------------------------------------------------ nms */
static int64_t nms_plain(const float (*boxes)[4], const float *scores, const int64_t *idxs, int64_t n, double thr,
                         int64_t *keep)
{
    return pixl_nms_f32(n ? &boxes[0][0] : NULL, n ? scores : NULL, idxs, n, thr, keep);
}

PIXL_TEST(nms_hand_made)
{
    int64_t keep[8];
    /* empty input */
    CHECK(nms_plain(NULL, NULL, NULL, 0, 0.5, NULL) == 0);
    /* four copies of one box: all but the best suppressed */
    const float same[4][4] = {{0, 0, 4, 4}, {0, 0, 4, 4}, {0, 0, 4, 4}, {0, 0, 4, 4}};
    const float s1[4] = {0.2f, 0.9f, 0.5f, 0.1f};
    int64_t k = nms_plain(same, s1, NULL, 4, 0.5, keep);
    CHECK(k == 1 && keep[0] == 1);
    /* equal scores: index order decides (a stable sort) */
    const float eq[4] = {0.5f, 0.5f, 0.5f, 0.5f};
    k = nms_plain(same, eq, NULL, 4, 0.5, keep);
    CHECK(k == 1 && keep[0] == 0);
    /* disjoint boxes, equal scores: all kept, in index order */
    const float apart[4][4] = {{0, 0, 1, 1}, {2, 2, 3, 3}, {4, 4, 5, 5}, {6, 6, 7, 7}};
    k = nms_plain(apart, eq, NULL, 4, 0.5, keep);
    CHECK(k == 4 && keep[0] == 0 && keep[1] == 1 && keep[2] == 2 && keep[3] == 3);
    /* a chain: 0 overlaps 1 (IoU 0.6), 1 overlaps 2, 0 does not overlap 2:
     * 1 is suppressed by 0, so 2 survives */
    const float chain[3][4] = {{0, 0, 8, 10}, {2, 0, 10, 10}, {9, 0, 17, 10}};
    const float s2[3] = {0.9f, 0.8f, 0.7f};
    k = nms_plain(chain, s2, NULL, 3, 0.5, keep);
    CHECK(k == 2 && keep[0] == 0 && keep[1] == 2);
    /* the threshold is strict: IoU 0.6 is not > 0.6 */
    k = nms_plain(chain, s2, NULL, 3, 0.6, keep);
    CHECK(k == 3);
    /* categories: the copies of one box in different categories all stay */
    const int64_t cat[4] = {0, 1, 0, 2};
    k = nms_plain(same, s1, cat, 4, 0.5, keep);
    CHECK(k == 3 && keep[0] == 1 && keep[1] == 2 && keep[2] == 3);
    /* a NaN threshold is an error */
    CHECK(nms_plain(same, s1, NULL, 4, NAN, keep) < 0 && strstr(pixl_last_error(), "nms"));
}

PIXL_TEST(nms_graph_padded)
{
    const float boxes[5][4] = {{0, 0, 4, 4}, {0, 0, 4, 4.2f}, {10, 10, 12, 12}, {0.1f, 0, 4, 4}, {10, 10, 12, 12.5f}};
    const float scores[5] = {0.3f, 0.8f, 0.6f, 0.5f, 0.6f};
    const int32_t cat[5] = {0, 0, 1, 1, 2};
    const int64_t bs[2] = {5, 4}, ss[1] = {5};
    for (int batched = 0; batched < 2; batched++) {
        pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL);
        pixl_tensor *b = pixl_constant(ctx, "boxes", PIXL_F32, 2, bs, boxes);
        pixl_tensor *s = pixl_constant(ctx, "scores", PIXL_F32, 1, ss, scores);
        pixl_tensor *c = pixl_constant(ctx, "idxs", PIXL_I32, 1, ss, cat);
        pixl_tensor *keep = pixl_keep(batched ? pixl_batched_nms(ctx, b, s, c, 0.5) : pixl_nms(ctx, b, s, 0.5));
        CHECK(keep && pixl_tensor_dtype(keep) == PIXL_I64 && pixl_tensor_numel(keep) == 5);
        if (!keep || pixl_ctx_plan(ctx) || pixl_forward(ctx)) {
            CHECK_MSG(0, "nms graph: %s", pixl_last_error());
            pixl_ctx_free(ctx);
            continue;
        }
        const int64_t *kv = pixl_tensor_data(keep);
        /* order: 1 (0.8), 2 and 4 (0.6, index order), 3 (0.5), 0 (0.3) */
        const int64_t want_plain[5] = {1, 2, -1, -1, -1};       /* 4 overlaps 2; 3 and 0 overlap 1 */
        const int64_t want_batched[5] = {1, 2, 4, 3, -1};       /* 3 is alone in category 1 after 2 */
        const int64_t *want = batched ? want_batched : want_plain;
        for (int i = 0; i < 5; i++) CHECK_MSG(kv[i] == want[i], "batched %d: keep[%d] = %lld, want %lld", batched, i,
                                               (long long)kv[i], (long long)want[i]);
        CHECK(pixl_nms_count(keep) == (batched ? 4 : 2));
        CHECK(pixl_nms_count(b) < 0);
        pixl_ctx_free(ctx);
    }
    /* shape errors */
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL);
    const int64_t s4[1] = {4};
    pixl_tensor *b = pixl_input(ctx, "boxes", PIXL_F32, 2, bs);
    pixl_tensor *s = pixl_input(ctx, "scores", PIXL_F32, 1, s4);
    const char *needles[] = {"nms", "[4]", "[5, 4]", NULL};
    CHECK_BUILD_ERROR("nms scores of 4 for 5 boxes", pixl_nms(ctx, b, s, 0.5), ctx, needles);
    pixl_ctx_free(ctx);
    ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL);
    b = pixl_input(ctx, "boxes", PIXL_F32, 2, bs);
    s = pixl_input(ctx, "scores", PIXL_F32, 1, ss);
    pixl_tensor *c = pixl_input(ctx, "idxs", PIXL_F32, 1, ss);
    const char *n2[] = {"batched_nms", "idxs", NULL};
    CHECK_BUILD_ERROR("batched_nms f32 idxs", pixl_batched_nms(ctx, b, s, c, 0.5), ctx, n2);
    pixl_ctx_free(ctx);
}

/* (G)IoU gradients with respect to both box sets: overlapping, disjoint in
 * one axis or both, no coordinate within 0.4 of another (no kinks) */
static pixl_tensor *build_iou_gc(pixl_ctx *ctx, void *ud)
{
    static const float a[3][4] = {{0.0f, 0.3f, 4.1f, 5.2f}, {2.2f, 1.1f, 6.7f, 3.9f}, {7.4f, 6.3f, 9.6f, 9.8f}};
    static const float b[4][4] = {
        {1.3f, 2.4f, 5.5f, 7.6f}, {0.5f, 0.7f, 3.2f, 2.9f}, {8.1f, -1.9f, 10.8f, 1.6f}, {3.6f, 4.5f, 8.9f, 8.7f}};
    const int64_t as[2] = {3, 4}, bs[2] = {4, 4};
    pixl_tensor *ta = gc_input(ctx, "boxes1", 2, as, &a[0][0]), *tb = gc_input(ctx, "boxes2", 2, bs, &b[0][0]);
    return *(const int *)ud ? pixl_generalized_box_iou(ctx, ta, tb) : pixl_box_iou(ctx, ta, tb);
}

PIXL_TEST(box_iou_gradcheck)
{
    gc_opts o = {.eps = 1e-3};
    for (int giou = 0; giou < 2; giou++)
        GRADCHECK(giou ? "generalized_box_iou" : "box_iou", NULL, build_iou_gc, &giou, &o);
}
