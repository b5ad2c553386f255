/* test_boxcoder.c — tests of box_encode / box_decode (src/ops/boxes.c,
 * torchvision's BoxCoder): hand-computed deltas and boxes, the encode /
 * decode round trip, finite-difference gradient checks of both ops in both
 * inputs (boxes from 0.3 to 40 wide, several classes, a decode with the
 * dw / dh clamp active), the clamp's zero gradient, builder errors naming
 * the op and the shapes, and the same bits for 1 and 2 threads. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gradcheck.h"
#include "test.h"

static const double g_w_det[4] = {10, 10, 5, 5}, g_w_one[4] = {1, 1, 1, 1}, g_w_odd[4] = {2, 0.5, 3, 1.5};

/* boxes of varied sizes and aspect ratios (0.3 .. 40 wide) */
static const float g_ref[5][4] = {
    {1.5f, 2.0f, 11.5f, 7.0f}, {-3.2f, 4.1f, 0.9f, 44.6f}, {20.0f, 20.0f, 20.3f, 20.7f},
    {5.25f, -6.5f, 45.0f, 1.0f}, {0.1f, 0.2f, 3.3f, 3.4f},
};
static const float g_prop[5][4] = {
    {2.0f, 1.0f, 10.0f, 8.0f}, {-2.5f, 6.0f, 1.6f, 40.0f}, {19.8f, 19.9f, 20.6f, 20.5f},
    {8.0f, -5.0f, 40.0f, 2.5f}, {0.6f, -0.4f, 2.9f, 4.1f},
};

/* ------------------------------------------------------------ run helper */
typedef struct coder_run {
    float *y, *ga, *gb;
    long ny;
    int ok;
} coder_run;

static void coder_run_free(coder_run *r)
{
    free(r->y);
    free(r->ga);
    free(r->gb);
}

/* decode ? box_decode(a (n, 4c), b (n, 4)) : box_encode(a (n, 4), b (n, 4));
 * dy: backward from it (gradients of both inputs) */
static coder_run run_coder(int decode, int64_t n, int64_t c, const float *a, const float *b, const double w[4],
                           const float *dy)
{
    coder_run r = {0};
    pixl_ctx *ctx = pixl_ctx_new(NULL, dy ? PIXL_MODE_TRAIN : PIXL_MODE_EVAL);
    const int64_t as[2] = {n, 4 * c}, bs[2] = {n, 4};
    pixl_tensor *ta = dy ? pixl_input_grad(ctx, "a", 2, as) : pixl_input(ctx, "a", PIXL_F32, 2, as);
    pixl_tensor *tb = dy ? pixl_input_grad(ctx, "b", 2, bs) : pixl_input(ctx, "b", PIXL_F32, 2, bs);
    pixl_tensor *y = pixl_keep(decode ? pixl_box_decode(ctx, ta, tb, w[0], w[1], w[2], w[3])
                                      : pixl_box_encode(ctx, ta, tb, w[0], w[1], w[2], w[3]));
    if (!y || pixl_ctx_plan(ctx)) {
        pixl_test_fail(__FILE__, __LINE__, "run_coder: %s", pixl_last_error());
        pixl_ctx_free(ctx);
        return r;
    }
    r.ny = (long)pixl_tensor_numel(y);
    memcpy(pixl_tensor_data(ta), a, sizeof(float) * (size_t)(n * 4 * c));
    memcpy(pixl_tensor_data(tb), b, sizeof(float) * (size_t)(n * 4));
    CHECK_OK(pixl_forward(ctx));
    r.y = malloc(sizeof(float) * (size_t)r.ny);
    memcpy(r.y, pixl_tensor_data(y), sizeof(float) * (size_t)r.ny);
    if (dy) {
        CHECK_OK(pixl_backward_from(ctx, y, dy));
        r.ga = malloc(sizeof(float) * (size_t)(n * 4 * c));
        r.gb = malloc(sizeof(float) * (size_t)(n * 4));
        memcpy(r.ga, pixl_tensor_grad(ta), sizeof(float) * (size_t)(n * 4 * c));
        memcpy(r.gb, pixl_tensor_grad(tb), sizeof(float) * (size_t)(n * 4));
    }
    r.ok = 1;
    pixl_ctx_free(ctx);
    return r;
}

/* ------------------------------------------------------------ values */
PIXL_TEST(box_coder_values)
{
    /* reference (0, 0, 4, 2): w 4, h 2, centre (2, 1); proposal (1, 1, 3, 5):
     * w 2, h 4, centre (2, 3); weights (10, 10, 5, 5):
     * dx = 10 * 0 / 2 = 0, dy = 10 * (1 - 3) / 4 = -5,
     * dw = 5 * log(4 / 2), dh = 5 * log(2 / 4) */
    const float ref[4] = {0, 0, 4, 2}, prop[4] = {1, 1, 3, 5};
    coder_run e = run_coder(0, 1, 1, ref, prop, g_w_det, NULL);
    if (e.ok) {
        const float want[4] = {0.0f, -5.0f, (float)(5 * log(2.0)), (float)(5 * log(0.5))};
        CHECK_ALLCLOSE("box_encode hand", e.y, want, 4, 1e-6, 1e-6);
    }
    coder_run_free(&e);
    /* decode of codes (10, -5, 5 log 2, 0) and (0, 0, 0, 0) on box (1, 1, 3, 5)
     * with weights (10, 10, 5, 5): dx 1, dy -0.5, dw log 2, dh 0 ->
     * centre (2 + 2, 3 - 2), size (4, 4) -> (2, -1, 6, 3); the zero code gives
     * the box back */
    const float codes[8] = {10.0f, -5.0f, (float)(5 * log(2.0)), 0.0f, 0, 0, 0, 0};
    coder_run d = run_coder(1, 1, 2, codes, prop, g_w_det, NULL);
    if (d.ok) {
        const float want[8] = {2, -1, 6, 3, 1, 1, 3, 5};
        CHECK_ALLCLOSE("box_decode hand", d.y, want, 8, 1e-5, 1e-6);
    }
    coder_run_free(&d);
    /* the clamp: dw = 20 / 1 > log(1000 / 16) -> pred_w = 1000 / 16 * w */
    const float big[4] = {0, 0, 20.0f, -30.0f}, unit[4] = {0, 0, 2, 2};
    coder_run c = run_coder(1, 1, 1, big, unit, g_w_one, NULL);
    if (c.ok) {
        const float want[4] = {1 - 62.5f, 1 - exp(-30.0) , 1 + 62.5f, 1 + exp(-30.0)};
        CHECK_ALLCLOSE("box_decode clamped", c.y, want, 4, 1e-5, 1e-6);
    }
    coder_run_free(&c);
}

/* decode(encode(b, p), p) == b, for each weight set */
PIXL_TEST(box_coder_round_trip)
{
    const double *ws[3] = {g_w_det, g_w_one, g_w_odd};
    for (int k = 0; k < 3; k++) {
        coder_run e = run_coder(0, 5, 1, &g_ref[0][0], &g_prop[0][0], ws[k], NULL);
        if (!e.ok) continue;
        coder_run d = run_coder(1, 5, 1, e.y, &g_prop[0][0], ws[k], NULL);
        if (d.ok) {
            char what[64];
            snprintf(what, sizeof what, "round trip, weights %d", k);
            CHECK_ALLCLOSE(what, d.y, &g_ref[0][0], 20, 1e-5, 1e-5);
        }
        coder_run_free(&d);
        coder_run_free(&e);
    }
}

/* ------------------------------------------------------------ gradients */
typedef struct coder_gc {
    int decode;
    int64_t n, c;
    const float *a, *b;
    const double *w;
} coder_gc;

static pixl_tensor *build_coder_gc(pixl_ctx *ctx, void *ud)
{
    const coder_gc *u = ud;
    const int64_t as[2] = {u->n, 4 * u->c}, bs[2] = {u->n, 4};
    pixl_tensor *ta = gc_input(ctx, u->decode ? "rel_codes" : "reference_boxes", 2, as, u->a);
    pixl_tensor *tb = gc_input(ctx, u->decode ? "boxes" : "proposals", 2, bs, u->b);
    return u->decode ? pixl_box_decode(ctx, ta, tb, u->w[0], u->w[1], u->w[2], u->w[3])
                     : pixl_box_encode(ctx, ta, tb, u->w[0], u->w[1], u->w[2], u->w[3]);
}

PIXL_TEST(box_encode_gradcheck)
{
    /* eps well below the smallest side (0.3) */
    gc_opts o = {.eps = 1e-3};
    const double *ws[3] = {g_w_det, g_w_one, g_w_odd};
    for (int k = 0; k < 3; k++) {
        coder_gc u = {0, 5, 1, &g_ref[0][0], &g_prop[0][0], ws[k]};
        char what[64];
        snprintf(what, sizeof what, "box_encode weights %d", k);
        GRADCHECK(what, NULL, build_coder_gc, &u, &o);
    }
}

PIXL_TEST(box_decode_gradcheck)
{
    /* 3 classes per box, codes in [-1.5, 1.5] (x 5 for the weight-5 dw, dh) */
    float codes[5 * 12];
    pixl_test_fill_uniform(codes, 5 * 12, -1.5f, 1.5f, 31);
    gc_opts o = {.eps = 1e-3};
    const double *ws[3] = {g_w_det, g_w_one, g_w_odd};
    for (int k = 0; k < 3; k++) {
        coder_gc u = {1, 5, 3, codes, &g_prop[0][0], ws[k]};
        char what[64];
        snprintf(what, sizeof what, "box_decode weights %d", k);
        GRADCHECK(what, NULL, build_coder_gc, &u, &o);
    }
    /* the clamp active: dw, dh well above log(1000 / 16) = 4.135 on some
     * entries (and below on others), small boxes so exp(4.135) stays moderate */
    const float small[2][4] = {{0.0f, 0.0f, 0.05f, 0.04f}, {1.0f, 2.0f, 1.03f, 2.06f}};
    const float clamp_codes[2 * 8] = {0.3f, -0.2f, 5.0f, 1.0f,  -0.4f, 0.1f, 2.0f, 6.5f,
                                      0.2f, 0.5f,  4.8f, 5.5f, 0.1f,  -0.3f, -1.0f, 3.9f};
    coder_gc u = {1, 2, 2, clamp_codes, &small[0][0], g_w_one};
    GRADCHECK("box_decode clamp active", NULL, build_coder_gc, &u, &o);
    /* and the clamped entries get exactly 0 */
    float dy[16];
    pixl_test_fill_uniform(dy, 16, -1, 1, 32);
    coder_run r = run_coder(1, 2, 2, clamp_codes, &small[0][0], g_w_one, dy);
    if (r.ok) {
        for (int i = 0; i < 16; i++) {
            if ((i % 4 == 2 || i % 4 == 3) && clamp_codes[i] > 4.14f) {
                CHECK_MSG(r.ga[i] == 0.0f, "clamped code %d: gradient %g, want 0", i, r.ga[i]);
            } else {
                CHECK_MSG(r.ga[i] != 0.0f, "code %d: gradient 0", i);
            }
        }
    }
    coder_run_free(&r);
}

/* ------------------------------------------------------------ errors */
PIXL_TEST(box_coder_errors)
{
    static const struct {
        const char *what;
        int decode;
        int64_t as[2], bs[2];
        double w[4];
        const char *needles[4];
    } cases[] = {
        {"encode N mismatch", 0, {3, 4}, {2, 4}, {1, 1, 1, 1}, {"box_encode", "[3, 4]", "[2, 4]", NULL}},
        {"encode proposals (N, 5)", 0, {2, 4}, {2, 5}, {1, 1, 1, 1}, {"box_encode", "proposals", "[2, 5]", NULL}},
        {"encode reference (N, 3)", 0, {2, 3}, {2, 4}, {1, 1, 1, 1}, {"box_encode", "reference_boxes", "[2, 3]", NULL}},
        {"encode weight 0", 0, {2, 4}, {2, 4}, {1, 0, 1, 1}, {"box_encode", "weights", "[2, 4]", NULL}},
        {"encode weight NaN", 0, {2, 4}, {2, 4}, {1, 1, NAN, 1}, {"box_encode", "weights", "nan", NULL}},
        {"decode N mismatch", 1, {3, 8}, {2, 4}, {1, 1, 1, 1}, {"box_decode", "[3, 8]", "[2, 4]", NULL}},
        {"decode codes (N, 6)", 1, {2, 6}, {2, 4}, {1, 1, 1, 1}, {"box_decode", "rel_codes", "[2, 6]", NULL}},
        {"decode boxes (N, 8)", 1, {2, 8}, {2, 8}, {1, 1, 1, 1}, {"box_decode", "boxes", "[2, 8]", NULL}},
        {"decode weight -1", 1, {2, 8}, {2, 4}, {10, 10, 5, -1}, {"box_decode", "weights", "-1", NULL}},
        {"decode weight inf", 1, {2, 8}, {2, 4}, {INFINITY, 10, 5, 5}, {"box_decode", "weights", "inf", NULL}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL);
        pixl_tensor *a = pixl_input(ctx, cases[i].decode ? "rel_codes" : "reference_boxes", PIXL_F32, 2, cases[i].as);
        pixl_tensor *b = pixl_input(ctx, cases[i].decode ? "boxes" : "proposals", PIXL_F32, 2, cases[i].bs);
        const double *w = cases[i].w;
        pixl_tensor *y = cases[i].decode ? pixl_box_decode(ctx, a, b, w[0], w[1], w[2], w[3])
                                         : pixl_box_encode(ctx, a, b, w[0], w[1], w[2], w[3]);
        CHECK_BUILD_ERROR(cases[i].what, y, ctx, cases[i].needles);
        pixl_ctx_free(ctx);
    }
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL);
    CHECK(pixl_box_encode(ctx, NULL, NULL, 1, 1, 1, 1) == NULL);
    CHECK(pixl_box_decode(ctx, NULL, NULL, 1, 1, 1, 1) == NULL);
    pixl_ctx_free(ctx);
}

/* large enough for the threaded loops: the same bits for 1 and 2 threads */
PIXL_TEST(box_coder_threads_bit_identical)
{
    const int64_t n = 20000, c = 2;
    float *boxes = malloc(sizeof(float) * (size_t)(4 * n)), *codes = malloc(sizeof(float) * (size_t)(8 * n));
    float *dy = malloc(sizeof(float) * (size_t)(8 * n));
    pixl_test_fill_uniform(boxes, 4 * n, 0, 10, 41);
    for (int64_t i = 0; i < n; i++) {
        boxes[4 * i + 2] += boxes[4 * i] + 0.5f;
        boxes[4 * i + 3] += boxes[4 * i + 1] + 0.5f;
    }
    pixl_test_fill_uniform(codes, 8 * n, -2, 2, 42);
    pixl_test_fill_uniform(dy, 8 * n, -1, 1, 43);
    const int saved = pixl_num_threads();
    coder_run r[2];
    for (int t = 0; t < 2; t++) {
        pixl_set_num_threads(t + 1);
        r[t] = run_coder(1, n, c, codes, boxes, g_w_det, dy);
    }
    if (r[0].ok && r[1].ok) {
        CHECK(memcmp(r[0].y, r[1].y, sizeof(float) * (size_t)(8 * n)) == 0);
        CHECK(memcmp(r[0].ga, r[1].ga, sizeof(float) * (size_t)(8 * n)) == 0);
        CHECK(memcmp(r[0].gb, r[1].gb, sizeof(float) * (size_t)(4 * n)) == 0);
    }
    for (int t = 0; t < 2; t++) coder_run_free(&r[t]);
    coder_run enc[2];
    for (int t = 0; t < 2; t++) {
        pixl_set_num_threads(t + 1);
        enc[t] = run_coder(0, n, 1, boxes, boxes, g_w_odd, dy);
    }
    if (enc[0].ok && enc[1].ok) {
        CHECK(memcmp(enc[0].y, enc[1].y, sizeof(float) * (size_t)(4 * n)) == 0);
        CHECK(memcmp(enc[0].ga, enc[1].ga, sizeof(float) * (size_t)(4 * n)) == 0);
        CHECK(memcmp(enc[0].gb, enc[1].gb, sizeof(float) * (size_t)(4 * n)) == 0);
    }
    for (int t = 0; t < 2; t++) coder_run_free(&enc[t]);
    pixl_set_num_threads(saved);
    free(boxes);
    free(codes);
    free(dy);
}
