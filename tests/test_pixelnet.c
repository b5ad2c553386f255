/* test_pixelnet.c — PixelNet: samplers (validity, no repeats, tiling, class
 * and edge balance, seed determinism, thread independence), the hypercolumn
 * op against a direct reference written from RandBI's formula (floor/ceil,
 * clamping), its gradient check and thread-independent backward, the
 * sampled losses (values and gradient checks), and the model: dense chunked
 * inference equals the sampled graph at the same pixels, for any chunk size;
 * model-level parity with the network written in PyTorch
 * (scripts/ref/make_pixelnet_model_ref.py, tests/ref/pixelnet_model: tiny
 * trunk with gradients of every parameter, VGG-16 with PixelNet's c12345
 * taps); sampled training through pixl_train.
 * PyTorch parity of the ops: tests/ref/pixelnet through `pixl check`. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "gradcheck.h"
#include "models/pixelnet_impl.h"
#include "test.h"
#include "zoo_fill.h"
#include "pixl_train.h"

/* ================================================================ samplers */

static int32_t *make_labels(int n, int h, int w, int K, unsigned long long seed)
{
    int32_t *l = malloc(sizeof(int32_t) * (size_t)n * h * w);
    float *u = malloc(sizeof(float) * (size_t)n * h * w);
    pixl_test_fill_uniform(u, (long)n * h * w, 0, 1, seed);
    for (long i = 0; i < (long)n * h * w; i++) l[i] = u[i] < 0.15f ? 255 : (int32_t)(u[i] * u[i] * K) % K;
    free(u);
    return l;
}

PIXL_TEST(pixelnet_sampler_uniform)
{
    enum { N = 3, H = 9, W = 11, K = 4, PER = 40 };
    int32_t *lab = make_labels(N, H, W, K, 5);
    for (int i = 0; i < H * W; i++) lab[2 * H * W + i] = 255; /* image 2: nothing valid */
    int32_t pix[N * PER * 3], pl[N * PER], pix2[N * PER * 3], pl2[N * PER];
    pixl_sampler_opts o = {.kind = PIXL_SAMPLE_UNIFORM, .per_image = PER, .n_classes = K};
    int64_t got = pixl_sample_pixels(&o, 7, lab, N, H, W, pix, pl);
    CHECK(got == 2 * PER);
    for (int i = 0; i < 2; i++) {
        char seen[H * W] = {0};
        for (int j = 0; j < PER; j++) {
            const int32_t *r = pix + 3 * (i * PER + j);
            CHECK(r[0] == i && r[1] >= 0 && r[1] < H && r[2] >= 0 && r[2] < W);
            int q = r[1] * W + r[2];
            CHECK_MSG(!seen[q], "image %d: pixel %d drawn twice", i, q);
            seen[q] = 1;
            CHECK(lab[i * H * W + q] != 255 && pl[i * PER + j] == lab[i * H * W + q]);
        }
    }
    for (int j = 0; j < PER; j++) { /* the empty image: (2,0,0), ignore label */
        CHECK(pix[3 * (2 * PER + j)] == 2 && pix[3 * (2 * PER + j) + 1] == 0 && pl[2 * PER + j] == 255);
    }
    /* same seed: same draw, for 1 and 2 threads; another seed: another draw */
    int prev = pixl_num_threads();
    pixl_set_num_threads(1);
    CHECK(pixl_sample_pixels(&o, 7, lab, N, H, W, pix2, pl2) == got);
    pixl_set_num_threads(prev);
    CHECK(!memcmp(pix, pix2, sizeof pix) && !memcmp(pl, pl2, sizeof pl));
    pixl_sample_pixels(&o, 8, lab, N, H, W, pix2, pl2);
    CHECK(memcmp(pix, pix2, sizeof pix) != 0);
    /* errors */
    pixl_sampler_opts bad = o;
    bad.per_image = 0;
    CHECK(pixl_sample_pixels(&bad, 7, lab, N, H, W, pix, pl) == PIXL_ERR_ARG);
    CHECK(strstr(pixl_last_error(), "per_image") != NULL);
    bad = o;
    bad.kind = (pixl_sample_kind)9;
    CHECK(pixl_sample_pixels(&bad, 7, lab, N, H, W, pix, pl) == PIXL_ERR_ARG);
    CHECK(pixl_sample_pixels(&o, 7, NULL, N, H, W, pix, pl) == PIXL_ERR_ARG);
    free(lab);
}

/* fewer valid pixels than requested: every pixel floor(k/m) or ceil(k/m) times */
PIXL_TEST(pixelnet_sampler_tiles)
{
    enum { H = 4, W = 5, PER = 23 };
    int32_t lab[H * W];
    for (int i = 0; i < H * W; i++) lab[i] = i % 3 == 0 ? 1 : 255; /* 7 valid pixels */
    int32_t pix[PER * 3];
    pixl_sampler_opts o = {.kind = PIXL_SAMPLE_UNIFORM, .per_image = PER}; /* n_classes 0: any label but 255 */
    CHECK(pixl_sample_pixels(&o, 1, lab, 1, H, W, pix, NULL) == PER);
    int cnt[H * W] = {0};
    for (int j = 0; j < PER; j++) cnt[pix[3 * j + 1] * W + pix[3 * j + 2]]++;
    for (int q = 0; q < H * W; q++) {
        if (lab[q] == 255) CHECK(cnt[q] == 0);
        else CHECK_MSG(cnt[q] == 23 / 7 || cnt[q] == 23 / 7 + 1, "pixel %d drawn %d times", q, cnt[q]);
    }
}

/* ALL: every pixel in raster order, invalid ones labelled empty_label */
PIXL_TEST(pixelnet_sampler_all)
{
    enum { N = 2, H = 5, W = 7, K = 4 };
    int32_t *lab = make_labels(N, H, W, K, 11);
    lab[3] = 9; /* out of range for K = 4: invalid as well */
    int32_t pix[N * H * W * 3], pl[N * H * W];
    pixl_sampler_opts o = {.kind = PIXL_SAMPLE_ALL, .per_image = H * W, .n_classes = K, .empty_label = 77};
    int n_valid = 0;
    for (int r = 0; r < N * H * W; r++) n_valid += lab[r] >= 0 && lab[r] < K;
    CHECK(n_valid < N * H * W && pixl_sample_pixels(&o, 3, lab, N, H, W, pix, pl) == n_valid);
    for (int r = 0; r < N * H * W; r++) {
        int i = r / (H * W), q = r % (H * W);
        CHECK(pix[3 * r] == i && pix[3 * r + 1] == q / W && pix[3 * r + 2] == q % W);
        int32_t l = lab[r];
        CHECK_MSG(pl[r] == (l >= 0 && l < K ? l : 77), "row %d: label %d for %d", r, pl[r], l);
    }
    o.per_image = H * W - 1; /* ALL takes the whole map */
    CHECK(pixl_sample_pixels(&o, 3, lab, N, H, W, pix, pl) == PIXL_ERR_ARG);
    CHECK(strstr(pixl_last_error(), "every pixel") != NULL);
    free(lab);
}

PIXL_TEST(pixelnet_sampler_balanced)
{
    enum { H = 20, W = 20, PER = 30 };
    int32_t lab[H * W];
    /* class 0 everywhere, class 2 in 5 pixels, class 3 in 40, some ignore */
    for (int i = 0; i < H * W; i++) lab[i] = i < 5 ? 2 : i < 45 ? 3 : i % 17 == 0 ? 255 : 0;
    int32_t pix[PER * 3], pl[PER];
    pixl_sampler_opts o = {.kind = PIXL_SAMPLE_CLASS_BALANCED, .per_image = PER, .n_classes = 4};
    CHECK(pixl_sample_pixels(&o, 3, lab, 1, H, W, pix, pl) == PER);
    int cnt[4] = {0};
    for (int j = 0; j < PER; j++) {
        CHECK(pl[j] >= 0 && pl[j] < 4 && pl[j] == lab[pix[3 * j + 1] * W + pix[3 * j + 2]]);
        if (pl[j] >= 0 && pl[j] < 4) cnt[pl[j]]++;
    }
    CHECK(cnt[0] == 10 && cnt[1] == 0 && cnt[2] == 10 && cnt[3] == 10);
    /* 31 = 11 + 10 + 10: the first class present takes the remainder */
    int32_t pix3[31 * 3], pl3[31];
    o.per_image = 31;
    pixl_sample_pixels(&o, 3, lab, 1, H, W, pix3, pl3);
    int c3[4] = {0};
    for (int j = 0; j < 31; j++) c3[pl3[j]]++;
    CHECK(c3[0] == 11 && c3[2] == 10 && c3[3] == 10);

    /* edges: label > 0 positive, 0 negative; 1/4 positives */
    for (int i = 0; i < H * W; i++) lab[i] = i % 13 == 0 ? 1 : i % 29 == 0 ? 255 : 0;
    pixl_sampler_opts e = {.kind = PIXL_SAMPLE_EDGE_BALANCED, .per_image = 40, .pos_fraction = 0.25f};
    int32_t pe[40 * 3], le[40];
    CHECK(pixl_sample_pixels(&e, 4, lab, 1, H, W, pe, le) == 40);
    int pos = 0;
    for (int j = 0; j < 40; j++) {
        CHECK(le[j] == 0 || le[j] == 1);
        pos += le[j] == 1;
    }
    CHECK(pos == 10);
    /* no positives at all: every draw negative */
    for (int i = 0; i < H * W; i++) lab[i] = i % 29 == 0 ? 255 : 0;
    CHECK(pixl_sample_pixels(&e, 4, lab, 1, H, W, pe, le) == 40);
    pos = 0;
    for (int j = 0; j < 40; j++) pos += le[j] != 0;
    CHECK(pos == 0);
    e.pos_fraction = 1.5f;
    CHECK(pixl_sample_pixels(&e, 4, lab, 1, H, W, pe, le) == PIXL_ERR_ARG);
}

/* ============================================================ hypercolumn */

/* RandBI's formula as written in the Caffe layer (floor/ceil of the cell
 * coordinate, negative ones to 0, degenerate cases), with an upper clamp */
static double ref_interp(const float *F, int H, int W, double y, double x, double s, double off)
{
    double tx = (x - off) / s, ty = (y - off) / s;
    if (tx > W - 1) tx = W - 1;
    if (ty > H - 1) ty = H - 1;
    int x1 = (int)floor(tx), x2 = (int)ceil(tx), y1 = (int)floor(ty), y2 = (int)ceil(ty);
    x1 = x1 > 0 ? x1 : 0;
    x2 = x2 > 0 ? x2 : 0;
    y1 = y1 > 0 ? y1 : 0;
    y2 = y2 > 0 ? y2 : 0;
    double rx = tx - x1, ry = ty - y1;
    if (x1 == x2) rx = 0;
    if (y1 == y2) ry = 0;
    return (F[y1 * W + x1] * (1 - ry) + F[y2 * W + x1] * ry) * (1 - rx) +
           (F[y1 * W + x2] * (1 - ry) + F[y2 * W + x2] * ry) * rx;
}

typedef struct hc_case {
    int n_maps, N, P;
    int C[3], H[3], W[3];
    float stride[3];
    float *maps[3];
    int32_t *pix;
} hc_case;

static pixl_tensor *build_hc(pixl_ctx *ctx, void *ud)
{
    hc_case *c = ud;
    pixl_tensor *m[3];
    for (int b = 0; b < c->n_maps; b++) {
        int64_t s[4] = {c->N, c->C[b], c->H[b], c->W[b]};
        char nm[16];
        snprintf(nm, sizeof nm, "map%d", b);
        m[b] = gc_input(ctx, nm, 4, s, c->maps[b]);
    }
    int64_t ps[2] = {c->P, 3};
    pixl_tensor *px = pixl_constant(ctx, "pixels", PIXL_I32, 2, ps, c->pix);
    return pixl_hypercolumn(ctx, c->n_maps, m, c->stride, NULL, px);
}

static void hc_case_init(hc_case *c)
{
    static const int C[3] = {3, 5, 4}, H[3] = {12, 6, 3}, W[3] = {10, 5, 3};
    c->n_maps = 3;
    c->N = 2;
    c->P = 37;
    for (int b = 0; b < 3; b++) {
        c->C[b] = C[b];
        c->H[b] = H[b];
        c->W[b] = W[b];
        c->stride[b] = (float)(1 << (2 * b)); /* 1, 4, 16 */
        long n = (long)c->N * C[b] * H[b] * W[b];
        c->maps[b] = malloc(sizeof(float) * (size_t)n);
        pixl_test_fill_uniform(c->maps[b], n, -1, 1, 10 + (unsigned long long)b);
    }
    c->pix = malloc(sizeof(int32_t) * 3 * (size_t)c->P);
    float u[3 * 37];
    pixl_test_fill_uniform(u, 3 * c->P, 0, 1, 99);
    for (int p = 0; p < c->P; p++) {
        c->pix[3 * p] = u[3 * p] < 0.5f ? 0 : 1;
        c->pix[3 * p + 1] = (int32_t)(u[3 * p + 1] * 14) - 1; /* -1 .. 12: off the border too */
        c->pix[3 * p + 2] = (int32_t)(u[3 * p + 2] * 12) - 1;
    }
    c->pix[0] = 1, c->pix[1] = 11, c->pix[2] = 9; /* exact last cell */
}

static void hc_case_free(hc_case *c)
{
    for (int b = 0; b < c->n_maps; b++) free(c->maps[b]);
    free(c->pix);
}

PIXL_TEST(pixelnet_hypercolumn_forward)
{
    hc_case c;
    hc_case_init(&c);
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL);
    pixl_tensor *m[3];
    for (int b = 0; b < 3; b++) {
        int64_t s[4] = {c.N, c.C[b], c.H[b], c.W[b]};
        m[b] = pixl_input(ctx, "map", PIXL_F32, 4, s);
    }
    int64_t ps[2] = {c.P, 3};
    pixl_tensor *px = pixl_input(ctx, "pixels", PIXL_I32, 2, ps);
    pixl_tensor *y = pixl_keep(pixl_hypercolumn(ctx, 3, m, c.stride, NULL, px));
    CHECK(y && pixl_tensor_shape(y)[0] == c.P && pixl_tensor_shape(y)[1] == 12);
    CHECK_OK(pixl_ctx_plan(ctx));
    for (int b = 0; b < 3; b++)
        memcpy(pixl_tensor_data(m[b]), c.maps[b], sizeof(float) * (size_t)pixl_tensor_numel(m[b]));
    memcpy(pixl_tensor_data(px), c.pix, sizeof(int32_t) * 3 * (size_t)c.P);
    CHECK_OK(pixl_forward(ctx));
    const float *out = pixl_tensor_data(y);
    double worst = 0;
    for (int p = 0; p < c.P; p++) {
        int n = c.pix[3 * p], col = 0;
        double yy = c.pix[3 * p + 1], xx = c.pix[3 * p + 2];
        for (int b = 0; b < 3; b++)
            for (int ch = 0; ch < c.C[b]; ch++, col++) {
                const float *F = c.maps[b] + ((long)n * c.C[b] + ch) * c.H[b] * c.W[b];
                double r = ref_interp(F, c.H[b], c.W[b], yy, xx, c.stride[b], 0.5 * (c.stride[b] - 1));
                double e = fabs(r - out[p * 12 + col]);
                if (e > worst) worst = e;
            }
    }
    CHECK_MSG(worst < 2e-6, "hypercolumn vs RandBI reference: worst error %g", worst);
    /* a row naming an image outside the batch fails forward with its row */
    ((int32_t *)pixl_tensor_data(px))[3 * 5] = 2;
    CHECK(pixl_forward(ctx) == PIXL_ERR_ARG);
    CHECK_MSG(strstr(pixl_last_error(), "row 5") != NULL, "%s", pixl_last_error());
    pixl_ctx_free(ctx);

    /* build errors: pixel shape, batch mismatch, stride */
    ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL);
    int64_t s4[4] = {2, 3, 4, 4}, s4b[4] = {3, 3, 4, 4}, bad[2] = {5, 2};
    pixl_tensor *a = pixl_input(ctx, "a", PIXL_F32, 4, s4), *b2 = pixl_input(ctx, "b", PIXL_F32, 4, s4b);
    pixl_tensor *pb = pixl_input(ctx, "p", PIXL_I32, 2, bad), *pg = pixl_input(ctx, "p", PIXL_I32, 2, ps);
    float st[2] = {1, 2}, st0[1] = {0};
    CHECK(pixl_hypercolumn(ctx, 1, &a, st, NULL, pb) == NULL);
    CHECK(strstr(pixl_ctx_error(ctx), "(P, 3)") != NULL);
    pixl_ctx_free(ctx);
    ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL);
    a = pixl_input(ctx, "a", PIXL_F32, 4, s4);
    b2 = pixl_input(ctx, "b", PIXL_F32, 4, s4b);
    pg = pixl_input(ctx, "p", PIXL_I32, 2, ps);
    pixl_tensor *ab[2] = {a, b2};
    CHECK(pixl_hypercolumn(ctx, 2, ab, st, NULL, pg) == NULL);
    CHECK(strstr(pixl_ctx_error(ctx), "batch size") != NULL);
    pixl_ctx_free(ctx);
    ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL);
    a = pixl_input(ctx, "a", PIXL_F32, 4, s4);
    pg = pixl_input(ctx, "p", PIXL_I32, 2, ps);
    CHECK(pixl_hypercolumn(ctx, 1, &a, st0, NULL, pg) == NULL);
    CHECK(strstr(pixl_ctx_error(ctx), "stride") != NULL);
    pixl_ctx_free(ctx);
    hc_case_free(&c);
}

PIXL_TEST(pixelnet_hypercolumn_gradcheck)
{
    hc_case c;
    hc_case_init(&c);
    GRADCHECK("hypercolumn 3 maps", NULL, build_hc, &c, &(gc_opts){.eps = 1e-2});
    hc_case_free(&c);
}

/* backward scatters by (map, image, channel block): same bits for 1 and 2 threads */
static void hc_grads(hc_case *c, int threads, float **g)
{
    int prev = pixl_num_threads();
    pixl_set_num_threads(threads);
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL_GRAD);
    pixl_tensor *m[3];
    for (int b = 0; b < 3; b++) {
        int64_t s[4] = {c->N, c->C[b], c->H[b], c->W[b]};
        m[b] = pixl_input_grad(ctx, "map", 4, s);
    }
    int64_t ps[2] = {c->P, 3};
    pixl_tensor *px = pixl_input(ctx, "pixels", PIXL_I32, 2, ps);
    pixl_tensor *y = pixl_hypercolumn(ctx, 3, m, c->stride, NULL, px);
    CHECK_OK(pixl_ctx_plan(ctx));
    for (int b = 0; b < 3; b++)
        memcpy(pixl_tensor_data(m[b]), c->maps[b], sizeof(float) * (size_t)pixl_tensor_numel(m[b]));
    memcpy(pixl_tensor_data(px), c->pix, sizeof(int32_t) * 3 * (size_t)c->P);
    float *dy = malloc(sizeof(float) * (size_t)pixl_tensor_numel(y));
    pixl_test_fill_uniform(dy, (long)pixl_tensor_numel(y), -1, 1, 3);
    CHECK_OK(pixl_forward(ctx));
    CHECK_OK(pixl_backward_from(ctx, y, dy));
    for (int b = 0; b < 3; b++) {
        g[b] = malloc(sizeof(float) * (size_t)pixl_tensor_numel(m[b]));
        memcpy(g[b], pixl_tensor_grad(m[b]), sizeof(float) * (size_t)pixl_tensor_numel(m[b]));
    }
    free(dy);
    pixl_ctx_free(ctx);
    pixl_set_num_threads(prev);
}

PIXL_TEST(pixelnet_hypercolumn_threads)
{
    /* many pixels on few cells so that additions collide */
    hc_case c;
    hc_case_init(&c);
    free(c.pix);
    c.P = 4000;
    c.C[0] = 40; /* several channel blocks */
    free(c.maps[0]);
    long n0 = (long)c.N * c.C[0] * c.H[0] * c.W[0];
    c.maps[0] = malloc(sizeof(float) * (size_t)n0);
    pixl_test_fill_uniform(c.maps[0], n0, -1, 1, 4);
    c.pix = malloc(sizeof(int32_t) * 3 * (size_t)c.P);
    for (int p = 0; p < c.P; p++) {
        c.pix[3 * p] = (p * 7) % 2;
        c.pix[3 * p + 1] = (p * 13) % 12;
        c.pix[3 * p + 2] = (p * 5) % 10;
    }
    float *g1[3], *g2[3];
    hc_grads(&c, 1, g1);
    hc_grads(&c, 2, g2);
    for (int b = 0; b < 3; b++) {
        long n = (long)c.N * c.C[b] * c.H[b] * c.W[b];
        CHECK_MSG(!memcmp(g1[b], g2[b], sizeof(float) * (size_t)n), "map %d: gradients differ between 1 and 2 threads",
                  b);
        free(g1[b]);
        free(g2[b]);
    }
    hc_case_free(&c);
}

/* ================================================================== losses */

typedef struct { int P, C; float *x, *t; float *mask; int red; pixl_tensor *xin, *tin; int plain; } loss_case;

/* a differentiable input: registered with the gradient check, or plain (filled by run_scalar) */
static pixl_tensor *lc_input(pixl_ctx *ctx, const loss_case *c, const char *name, const int64_t *s, const float *v)
{
    return c->plain ? pixl_input_grad(ctx, name, 2, s) : gc_input(ctx, name, 2, s, v);
}

static pixl_tensor *build_normal(pixl_ctx *ctx, void *ud)
{
    loss_case *c = ud;
    int64_t s[2] = {c->P, c->C}, ms[1] = {c->P};
    pixl_tensor *x = lc_input(ctx, c, "pred", s, c->x), *t = lc_input(ctx, c, "target", s, c->t);
    c->xin = x;
    c->tin = t;
    pixl_tensor *m = c->mask ? pixl_constant(ctx, "mask", PIXL_F32, 1, ms, c->mask) : NULL;
    return pixl_normal_loss(ctx, x, t, m, 0);
}

static pixl_tensor *build_bbce(pixl_ctx *ctx, void *ud)
{
    loss_case *c = ud;
    int64_t s[2] = {c->P, c->C};
    pixl_tensor *x = lc_input(ctx, c, "logits", s, c->x);
    pixl_tensor *t = pixl_constant(ctx, "target", PIXL_F32, 2, s, c->t);
    pixl_tensor *m = c->mask ? pixl_constant(ctx, "mask", PIXL_F32, 2, s, c->mask) : NULL;
    c->xin = x;
    c->tin = NULL;
    return pixl_balanced_bce_with_logits(ctx, x, t, m, (pixl_reduction)c->red);
}

/* the loss value with the case's data (gc_input leaves filling to the gradient check) */
static float run_scalar(pixl_tensor *(*fn)(pixl_ctx *, void *), loss_case *c)
{
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL_GRAD);
    c->plain = 1;
    pixl_tensor *L = fn(ctx, c);
    c->plain = 0;
    float v = NAN;
    if (L && pixl_ctx_plan(ctx) == PIXL_OK) {
        memcpy(pixl_tensor_data(c->xin), c->x, sizeof(float) * (size_t)c->P * c->C);
        if (c->tin) memcpy(pixl_tensor_data(c->tin), c->t, sizeof(float) * (size_t)c->P * c->C);
        if (pixl_forward(ctx) == PIXL_OK) v = ((float *)pixl_tensor_data(L))[0];
    }
    pixl_ctx_free(ctx);
    return v;
}

PIXL_TEST(pixelnet_normal_loss)
{
    enum { P = 17, C = 3 };
    float x[P * C], t[P * C], mask[P];
    pixl_test_fill_uniform(x, P * C, -1, 1, 1);
    pixl_test_fill_uniform(t, P * C, -1, 1, 2);
    for (int p = 0; p < P; p++) { /* unit targets */
        double n = sqrt(t[3 * p] * t[3 * p] + t[3 * p + 1] * t[3 * p + 1] + t[3 * p + 2] * t[3 * p + 2]);
        for (int c = 0; c < C; c++) t[3 * p + c] = (float)(t[3 * p + c] / n);
        mask[p] = p % 4 == 1 ? 0.0f : 1.0f;
    }
    /* value: mean over counted rows of 1 - cos */
    double s = 0;
    int m = 0;
    for (int p = 0; p < P; p++) {
        if (!mask[p]) continue;
        double d = 0, nx = 0;
        for (int c = 0; c < C; c++) {
            d += (double)x[3 * p + c] * t[3 * p + c];
            nx += (double)x[3 * p + c] * x[3 * p + c];
        }
        s += 1 - d / sqrt(nx);
        m++;
    }
    loss_case lc = {P, C, x, t, mask, 0, NULL, NULL, 0};
    CHECK_NEAR(run_scalar(build_normal, &lc), s / m, 1e-6);
    GRADCHECK("normal loss masked", NULL, build_normal, &lc, &(gc_opts){.eps = 1e-3});
    lc.mask = NULL;
    GRADCHECK("normal loss", NULL, build_normal, &lc, &(gc_opts){.eps = 1e-3});
    /* shape errors */
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL);
    int64_t a[2] = {4, 3}, b[2] = {4, 2};
    CHECK(pixl_normal_loss(ctx, pixl_input(ctx, "x", PIXL_F32, 2, a), pixl_input(ctx, "t", PIXL_F32, 2, b), NULL, 0) ==
          NULL);
    CHECK(strstr(pixl_ctx_error(ctx), "normal_loss") != NULL);
    pixl_ctx_free(ctx);
}

PIXL_TEST(pixelnet_balanced_bce)
{
    enum { P = 23, C = 2 };
    float x[P * C], t[P * C], mask[P * C];
    pixl_test_fill_uniform(x, P * C, -3, 3, 5);
    for (int i = 0; i < P * C; i++) {
        t[i] = i % 5 == 0 ? 1.0f : 0.0f;
        mask[i] = i % 7 == 3 ? 0.0f : 1.0f;
    }
    for (int use_mask = 0; use_mask < 2; use_mask++)
        for (int red = 0; red < 2; red++) {
            double sp = 0, sn = 0, np = 0, nn = 0;
            for (int i = 0; i < P * C; i++) {
                if (use_mask && !mask[i]) continue;
                double l = fmax(x[i], 0) - x[i] * t[i] + log1p(exp(-fabs(x[i])));
                if (t[i] > 0.5) sp += l, np++;
                else sn += l, nn++;
            }
            double ref = (nn / (np + nn)) * sp + (np / (np + nn)) * sn;
            if (red == PIXL_REDUCE_MEAN) ref /= np + nn;
            loss_case lc = {P, C, x, t, use_mask ? mask : NULL, red, NULL, NULL, 0};
            CHECK_NEAR(run_scalar(build_bbce, &lc), ref, 1e-5 * fmax(1, fabs(ref)));
            char what[64];
            snprintf(what, sizeof what, "balanced bce mask=%d red=%d", use_mask, red);
            GRADCHECK(what, NULL, build_bbce, &lc, &(gc_opts){.eps = 1e-3});
        }
}

/* =================================================================== model */

static void fill_params(pixl_params *P, unsigned long long seed)
{
    for (int i = 0; i < pixl_params_count(P); i++) {
        if (pixl_params_dtype(P, i) != PIXL_F32) continue;
        float *d = pixl_params_data(P, i);
        long n = (long)pixl_params_numel(P, i);
        const char *nm = pixl_params_name(P, i);
        if (strstr(nm, "running_var")) pixl_test_fill_uniform(d, n, 0.5f, 2.0f, seed + (unsigned long long)i);
        else if (strstr(nm, "running_mean")) pixl_test_fill_uniform(d, n, -0.2f, 0.2f, seed + (unsigned long long)i);
    }
}

/* dense logits of the model at every pixel vs the sampled graph at a pixel list */
static void dense_vs_sampled(const char *variant, int chunk_override)
{
    enum { N = 2, H = 24, W = 20, K = 4 };
    char var[256];
    snprintf(var, sizeof var, "%s%schunk=%d", variant, variant[0] ? ";" : "", chunk_override);
    pixl_model_opts o = {.n_classes = K, .in_channels = 3, .width = 0.5f, .backbone = "pixelnet_tiny", .variant = var};
    pixl_params *P = pixl_params_new();
    pixl_params_seed(P, 11);
    pixl_ctx *dc = pixl_ctx_new(P, PIXL_MODE_EVAL);
    int64_t xs[4] = {N, 3, H, W};
    pixl_tensor *x = pixl_input(dc, "x", PIXL_F32, 4, xs);
    pixl_tensor *y = pixl_keep(pixl__model_pixelnet(dc, x, &o));
    CHECK_MSG(y != NULL, "%s", pixl_ctx_error(dc));
    if (!y) {
        pixl_ctx_free(dc);
        pixl_params_free(P);
        return;
    }
    CHECK(pixl_tensor_shape(y)[1] == K && pixl_tensor_shape(y)[2] == H && pixl_tensor_shape(y)[3] == W);
    CHECK_OK(pixl_ctx_plan(dc));
    fill_params(P, 77);
    float *img = malloc(sizeof(float) * N * 3 * H * W);
    pixl_test_fill_uniform(img, N * 3 * H * W, -1, 1, 21);
    memcpy(pixl_tensor_data(x), img, sizeof(float) * N * 3 * H * W);
    CHECK_OK(pixl_forward(dc));
    const float *dense = pixl_tensor_data(y);

    /* sampled graph over a pixel list: every pixel of image 1, some of image 0 */
    enum { NP = H * W + 25 };
    int32_t pix[NP * 3];
    for (int q = 0; q < H * W; q++) pix[3 * q] = 1, pix[3 * q + 1] = q / W, pix[3 * q + 2] = q % W;
    for (int j = 0; j < 25; j++)
        pix[3 * (H * W + j)] = 0, pix[3 * (H * W + j) + 1] = (j * 7) % H, pix[3 * (H * W + j) + 2] = (j * 3) % W;
    int npar = pixl_params_count(P);
    pixl_ctx *sc = pixl_ctx_new(P, PIXL_MODE_EVAL);
    pixl_tensor *sx = pixl_input(sc, "x", PIXL_F32, 4, xs);
    int64_t ps[2] = {NP, 3};
    pixl_tensor *sp = pixl_input(sc, "pixels", PIXL_I32, 2, ps);
    pixl_tensor *sy = pixl_keep(pixl_pixelnet_sampled(sc, sx, sp, &o));
    CHECK_MSG(sy != NULL, "%s", pixl_ctx_error(sc));
    CHECK_MSG(pixl_params_count(P) == npar, "sampled graph created %d new parameters", pixl_params_count(P) - npar);
    if (sy) {
        CHECK(pixl_tensor_shape(sy)[0] == NP && pixl_tensor_shape(sy)[1] == K);
        CHECK_OK(pixl_ctx_plan(sc));
        memcpy(pixl_tensor_data(sx), img, sizeof(float) * N * 3 * H * W);
        memcpy(pixl_tensor_data(sp), pix, sizeof pix);
        CHECK_OK(pixl_forward(sc));
        const float *s = pixl_tensor_data(sy);
        double worst = 0, mag = 0;
        for (int r = 0; r < NP; r++)
            for (int k = 0; k < K; k++) {
                double d = dense[((pix[3 * r] * K + k) * H + pix[3 * r + 1]) * W + pix[3 * r + 2]];
                double e = fabs(d - s[r * K + k]);
                if (e > worst) worst = e;
                if (fabs(d) > mag) mag = fabs(d);
            }
        CHECK_MSG(worst <= 1e-5 * fmax(1, mag), "%s: dense vs sampled worst %g (|logit| up to %g)", var, worst, mag);
        CHECK(mag > 1e-3); /* not a trivial all-zero output */
    }
    pixl_ctx_free(sc);
    free(img);
    pixl_ctx_free(dc);
    pixl_params_free(P);
}

PIXL_TEST(pixelnet_dense_equals_sampled)
{
    /* 24x20 input, width 0.5: taps features.1 (8 ch, stride 1), .4 (16, 2), .7 (32, 4); the dense op
     * projects the stride-4 map through layer 0 when h1 <= 64 */
    dense_vs_sampled("", 16384);                          /* defaults: 3 taps, BN, mlp 512,512: no projection */
    dense_vs_sampled("mlp=24,16;bn=0;align=corner", 37); /* projection; chunks that do not divide the image */
    dense_vs_sampled("taps=features.4,features.1;mlp=", 7); /* linear head, two taps, reordered */
    dense_vs_sampled("taps=features.7,features.1;mlp=;bn=0", 100); /* linear head on a projected map */
}

PIXL_TEST(pixelnet_variant_errors)
{
    pixl_pn_head_opts s;
    CHECK_OK(pixl_pn_head_parse("mlp=64,32;dropout=0.2;taps=a,b", &s));
    CHECK(s.n_mlp == 2 && s.mlp[1] == 32 && s.n_taps == 2 && !strcmp(s.taps[1], "b") && s.dropout == 0.2f);
    CHECK(pixl_pn_head_parse("mpl=3", &s) == PIXL_ERR_NOT_FOUND &&
          strstr(pixl_last_error(), "unknown key 'pixelnet.mpl' (did you mean 'mlp'? valid keys: taps, mlp,"));
    CHECK(s.n_mlp == 2 && s.mlp[1] == 32); /* unchanged on failure */
    CHECK(pixl_pn_head_parse("dropout=1.5", &s) == PIXL_ERR_ARG &&
          strstr(pixl_last_error(), "pixelnet.dropout: value must be in [0, 0.99], got 1.5"));
    CHECK(pixl_pn_head_parse("align=middle", &s) == PIXL_ERR_ARG &&
          strstr(pixl_last_error(), "expected one of center,corner, got 'middle'"));
    /* an unknown tap names the known ones */
    pixl_params *P = pixl_params_new();
    pixl_ctx *ctx = pixl_ctx_new(P, PIXL_MODE_EVAL);
    int64_t xs[4] = {1, 3, 8, 8};
    pixl_model_opts o = {.n_classes = 3, .backbone = "pixelnet_tiny", .variant = "taps=features.9"};
    CHECK(pixl__model_pixelnet(ctx, pixl_input(ctx, "x", PIXL_F32, 4, xs), &o) == NULL);
    CHECK_MSG(strstr(pixl_ctx_error(ctx), "features.4") != NULL, "%s", pixl_ctx_error(ctx));
    pixl_ctx_free(ctx);
    /* the dense graph refuses training mode */
    ctx = pixl_ctx_new(P, PIXL_MODE_TRAIN);
    o.variant = NULL;
    CHECK(pixl__model_pixelnet(ctx, pixl_input(ctx, "x", PIXL_F32, 4, xs), &o) == NULL);
    CHECK(strstr(pixl_ctx_error(ctx), "inference-only") != NULL);
    pixl_ctx_free(ctx);
    pixl_params_free(P);
}

/* ================================================================ training */

/* pixl train with arch pixelnet: sampled training learns (the logged loss
 * falls), the run's checkpoint loads as a pixl_model with the PixelNet names,
 * the tap BN statistics moved, and dense prediction runs on it. */
PIXL_TEST(pixelnet_train_sampled)
{
    pixl_train_config *cfg = calloc(1, sizeof *cfg);
    char dir[512], p[600];
    snprintf(dir, sizeof dir, "%s/run_pixelnet", pixl_test_tmpdir());
    pixl_config_defaults(cfg);
    const char *kv[] = {"model.arch=pixelnet", "model.options.backbone=pixelnet_tiny", "model.options.width=1",
                        "model.options.mlp=[64]", "model.options.dropout=0.1", "data.dataset=synthetic",
                        "data.img_rows=32", "data.img_cols=32", "data.n_workers=1", "training.batch_size=4",
                        "training.epochs=0", "training.max_iters=50", "training.optimizer.name=adam",
                        "training.optimizer.lr=0.005", "training.sampling.pixels_per_image=300",
                        "training.sampling.strategy=uniform", "validation.every_epochs=0",
                        "training.print_interval=10", "training.seed=3",
                        "training.threads=1"}; /* one thread: many tiny parallel regions cost most on a busy machine */
    CHECK_CONFIG_SET(cfg, kv, (int)(sizeof kv / sizeof *kv));
    snprintf(cfg->output.run_dir, sizeof cfg->output.run_dir, "%s", dir);
    FILE *devnull = fopen("/dev/null", "w");
    pixl_train_hooks h = {.log = devnull, .quiet = 1};
    CHECK_OK(pixl_train(cfg, &h)); /* training.threads applies to the run's own objects only */
    /* the logged training loss falls */
    snprintf(p, sizeof p, "%s/log.jsonl", dir);
    FILE *f = fopen(p, "r");
    double first = -1, last = -1;
    char line[8192];
    while (f && fgets(line, sizeof line, f)) {
        const char *l = strstr(line, "\"type\": \"train\"") ? strstr(line, "\"loss\":") : NULL;
        if (!l) continue;
        double v = atof(l + 7);
        if (first < 0) first = v;
        last = v;
    }
    if (f) fclose(f);
    CHECK_MSG(first > 0 && last > 0 && last < 0.7 * first, "loss %g -> %g", first, last);
    /* the checkpoint is a pixelnet model */
    snprintf(p, sizeof p, "%s/last.safetensors", dir);
    pixl_model *m = pixl_model_load(p);
    CHECK_MSG(m != NULL, "%s", pixl_last_error());
    if (m) {
        pixl_params *P = pixl_model_params(m);
        CHECK(!strcmp(pixl_model_arch(m), "pixelnet"));
        CHECK(pixl_params_find(P, "backbone.features.0.weight") >= 0 && pixl_params_find(P, "head.0.weight") >= 0 &&
              pixl_params_find(P, "head.3.weight") >= 0);
        int bi = pixl_params_find(P, "tap_bn.2.running_mean");
        CHECK(bi >= 0);
        if (bi >= 0) {
            const float *rm = pixl_params_data(P, bi);
            double s = 0;
            for (int64_t i = 0; i < pixl_params_numel(P, bi); i++) s += fabs(rm[i]);
            CHECK_MSG(s > 0, "tap BN running mean never updated");
        }
        enum { H = 20, W = 24 };
        float *img = malloc(sizeof(float) * 3 * H * W), *logits = malloc(sizeof(float) * 5 * H * W);
        int32_t lab[H * W];
        pixl_test_fill_uniform(img, 3 * H * W, -1, 1, 8);
        CHECK_OK(pixl_model_predict(m, img, 1, H, W, 1, logits, lab));
        for (int i = 0; i < H * W; i++) CHECK(lab[i] >= 0 && lab[i] < 5);
        free(img);
        free(logits);
        pixl_model_free(m);
    }
    fclose(devnull);
    free(cfg);
}

/* dense inference memory: the chunk bounds the scratch; a single chunk of
 * every pixel pays at least the whole hypercolumn matrix on top (what a
 * head that materialises it would hold) */
static size_t dense_arena(int H, int W, int chunk)
{
    char var[64];
    snprintf(var, sizeof var, "mlp=64,64;chunk=%d", chunk);
    pixl_model_opts o = {.n_classes = 5, .in_channels = 3, .backbone = "pixelnet_tiny", .variant = var};
    pixl_params *P = pixl_params_new();
    pixl_ctx *ctx = pixl_ctx_new(P, PIXL_MODE_EVAL);
    int64_t xs[4] = {1, 3, H, W};
    pixl_tensor *y = pixl__model_pixelnet(ctx, pixl_input(ctx, "x", PIXL_F32, 4, xs), &o);
    size_t b = y && pixl_ctx_plan(ctx) == PIXL_OK ? pixl_ctx_arena_bytes(ctx) : 0;
    pixl_ctx_free(ctx);
    pixl_params_free(P);
    return b;
}

PIXL_TEST(pixelnet_dense_memory_bounded)
{
    enum { H = 256, W = 256, D = 16 + 32 + 64 };
    size_t small = dense_arena(H, W, 1024), big = dense_arena(H, W, H * W);
    const size_t hypercolumns = (size_t)H * W * D * sizeof(float);
    CHECK(small > 0 && big > 0);
    CHECK_MSG(small < big, "chunk 1024: %zu bytes, one chunk: %zu", small, big);
    CHECK_MSG(small + hypercolumns <= big, "chunk 1024: %zu bytes, one chunk %zu, every hypercolumn: %zu", small, big,
              hypercolumns);
}

/* ================================================== PyTorch model parity */

static double max_abs(const float *a, int64_t n)
{
    double m = 0;
    for (int64_t i = 0; i < n; i++) m = fmax(m, fabs(a[i]));
    return m;
}

/* ours vs the file's tensor `name`: |d| <= rel * max|ref| everywhere */
static void compare_ref(pixl_st_file *f, const char *what, const char *name, const float *ours, int64_t n, double rel)
{
    int k = pixl_st_find(f, name);
    CHECK_MSG(k >= 0 && pixl_st_numel(f, k) == n, "%s: '%s' missing or of another size", what, name);
    if (k < 0 || pixl_st_numel(f, k) != n) return;
    float *ref = malloc(sizeof(float) * (size_t)n);
    pixl_st_read_f32(f, k, ref);
    double m = max_abs(ref, n), worst = 0;
    int64_t at = 0;
    for (int64_t i = 0; i < n; i++) {
        double e = fabs((double)ours[i] - ref[i]);
        if (e > worst) worst = e, at = i;
    }
    CHECK_MSG(m > 0 && worst <= rel * m, "%s: %s worst error %g at %lld (max |ref| %g)", what, name, worst,
              (long long)at, m);
    free(ref);
}

static void model_parity(const char *file)
{
    char path[256];
    snprintf(path, sizeof path, "tests/ref/pixelnet_model/%s.safetensors", file);
    pixl_st_file *f = pixl_st_open(path);
    CHECK_MSG(f != NULL, "%s", pixl_last_error());
    if (!f) return;
    pixl_model_opts o = {.n_classes = atoi(pixl_st_meta(f, "n_classes")), .in_channels = 3,
                         .width = strtof(pixl_st_meta(f, "width"), NULL), .backbone = pixl_st_meta(f, "backbone"),
                         .variant = pixl_st_meta(f, "variant")};
    int kx = pixl_st_find(f, "x"), kp = pixl_st_find(f, "pixels");
    const int64_t *xs = pixl_st_shape(f, kx), *ps = pixl_st_shape(f, kp);
    const int64_t P = ps[0], K = o.n_classes;
    pixl_params *Pm = pixl_params_new();
    /* sampled graph with gradients (eval behaviour: BN running statistics, no dropout) */
    pixl_ctx *ctx = pixl_ctx_new(Pm, PIXL_MODE_EVAL_GRAD);
    pixl_tensor *x = pixl_input(ctx, "x", PIXL_F32, 4, xs), *pix = pixl_input(ctx, "pixels", PIXL_I32, 2, ps);
    pixl_tensor *y = pixl_keep(pixl_pixelnet_sampled(ctx, x, pix, &o));
    CHECK_MSG(y != NULL, "%s: %s", file, pixl_ctx_error(ctx));
    if (y && pixl_ctx_plan(ctx) == PIXL_OK) {
        /* the same names and shapes as the PyTorch state_dict, and no others */
        cJSON *names = cJSON_Parse(pixl_st_meta(f, "names"));
        int n = 0;
        cJSON *e;
        cJSON_ArrayForEach(e, names)
        {
            const char *nm = cJSON_GetArrayItem(e, 0)->valuestring;
            int k = pixl_params_find(Pm, nm);
            CHECK_MSG(k >= 0, "%s: pixl has no '%s'", file, nm);
            n++;
        }
        CHECK_MSG(n == pixl_params_count(Pm), "%s: PyTorch has %d tensors, pixl %d", file, n, pixl_params_count(Pm));
        cJSON_Delete(names);
        pixl_test_zoo_fill(Pm);
        pixl_st_read_f32(f, kx, pixl_tensor_data(x));
        pixl_st_read_i32(f, kp, pixl_tensor_data(pix));
        CHECK_OK(pixl_forward(ctx));
        compare_ref(f, file, "sampled", pixl_tensor_data(y), P * K, 1e-4);
        int kg = pixl_st_find(f, "grad_output");
        if (kg >= 0) {
            float *gy = malloc(sizeof(float) * (size_t)(P * K));
            pixl_st_read_f32(f, kg, gy);
            pixl_params_zero_grad(Pm);
            CHECK_OK(pixl_backward_from(ctx, y, gy));
            int ng = 0;
            for (int i = 0; i < pixl_st_count(f); i++) {
                const char *nm = pixl_st_name(f, i);
                if (strncmp(nm, "grad.", 5)) continue;
                int k = pixl_params_find(Pm, nm + 5);
                CHECK_MSG(k >= 0 && pixl_params_grad(Pm, k), "%s: no gradient for %s", file, nm + 5);
                if (k >= 0 && pixl_params_grad(Pm, k)) compare_ref(f, file, nm, pixl_params_grad(Pm, k), pixl_params_numel(Pm, k), 1e-3);
                ng++;
            }
            CHECK(ng > 0);
            free(gy);
        }
    }
    pixl_ctx_free(ctx);
    /* dense inference on the same parameters */
    ctx = pixl_ctx_new(Pm, PIXL_MODE_EVAL);
    x = pixl_input(ctx, "x", PIXL_F32, 4, xs);
    y = pixl_keep(pixl__model_pixelnet(ctx, x, &o));
    CHECK_MSG(y != NULL, "%s: %s", file, pixl_ctx_error(ctx));
    if (y && pixl_ctx_plan(ctx) == PIXL_OK) {
        pixl_st_read_f32(f, kx, pixl_tensor_data(x));
        CHECK_OK(pixl_forward(ctx));
        compare_ref(f, file, "dense", pixl_tensor_data(y), pixl_tensor_numel(y), 1e-4);
    }
    pixl_ctx_free(ctx);
    pixl_params_free(Pm);
    pixl_st_close(f);
}

PIXL_TEST(pixelnet_torch_model_tiny) { model_parity("tiny"); }
PIXL_TEST(pixelnet_torch_model_vgg16) { model_parity("vgg16_c12345"); }

/* a pixelnet model with a long variant string saves and loads back whole */
PIXL_TEST(pixelnet_model_save_load)
{
    const char *var = "taps=features.7,features.1,features.4;mlp=24,16;dropout=0.25;hc_dropout=0.1;bn=1;align=center;"
                      "chunk=5000";
    pixl_model_opts o = {.n_classes = 3, .width = 0.5f, .backbone = "pixelnet_tiny", .variant = var};
    pixl_model *m = pixl_model_create("pixelnet", &o, 5);
    CHECK_MSG(m != NULL, "%s", pixl_last_error());
    if (!m) return;
    CHECK(!strcmp(pixl_model_options(m)->variant, var));
    char path[600];
    snprintf(path, sizeof path, "%s/pixelnet_long.safetensors", pixl_test_tmpdir());
    CHECK_OK(pixl_model_save(m, path, 0, NULL, NULL));
    pixl_model *l = pixl_model_load(path);
    CHECK_MSG(l != NULL, "%s", pixl_last_error());
    if (l) {
        CHECK(!strcmp(pixl_model_options(l)->variant, var));
        CHECK(pixl_params_count(pixl_model_params(l)) == pixl_params_count(pixl_model_params(m)));
        CHECK(pixl_params_find(pixl_model_params(l), "head.1.weight") >= 0); /* hc dropout is head.0 */
        enum { H = 11, W = 9 };
        float img[3 * H * W], a[3 * H * W], b[3 * H * W];
        pixl_test_fill_uniform(img, 3 * H * W, -1, 1, 2);
        CHECK_OK(pixl_model_predict(m, img, 1, H, W, 0, a, NULL));
        CHECK_OK(pixl_model_predict(l, img, 1, H, W, 0, b, NULL));
        CHECK(!memcmp(a, b, sizeof a));
        pixl_model_free(l);
    }
    pixl_model_free(m);
}

/* Surface normals through the API: PixelNet with 3 outputs trained on pixels
 * sampled where the synthetic_normals set has a surface, with the normal loss
 * (Normalize + Euclidean); the mean angular loss (1 - cos) falls. */
PIXL_TEST(pixelnet_normals_sampled_training)
{
    enum { N = 4, H = 32, W = 32, PER = 150, STEPS = 60 };
    pixl_dataset *ds = pixl_dataset_open(
        &(pixl_dataset_opts){.kind = "synthetic_normals", .width = W, .height = H, .count = N, .seed = 4});
    CHECK_MSG(ds != NULL, "%s", pixl_last_error());
    if (!ds) return;
    float *img = malloc(sizeof(float) * N * 3 * H * W), *nrm = malloc(sizeof(float) * N * 3 * H * W);
    int32_t *valid = malloc(sizeof(int32_t) * N * H * W);
    for (int i = 0; i < N; i++) {
        pixl_image *im = NULL;
        float *nm = NULL;
        uint8_t *mask = NULL;
        CHECK_OK(pixl_dataset_load_normals(ds, i, &im, &nm, &mask));
        if (!im || !nm || !mask) break;
        pixl_image_to_chw(im, pixl_dataset_mean(ds), pixl_dataset_std(ds), img + (size_t)i * 3 * H * W);
        memcpy(nrm + (size_t)i * 3 * H * W, nm, sizeof(float) * 3 * H * W);
        for (int q = 0; q < H * W; q++) valid[i * H * W + q] = mask[q] ? 0 : 255;
        pixl_image_free(im);
        free(nm);
        free(mask);
    }
    pixl_model_opts o = {.n_classes = 3, .backbone = "pixelnet_tiny", .variant = "mlp=64;dropout=0"};
    pixl_params *P = pixl_params_new();
    pixl_params_seed(P, 2);
    int prev_threads = pixl_num_threads();
    pixl_set_num_threads(1); /* tiny steps: thread wake-ups would dominate on a busy machine */
    pixl_ctx *ctx = pixl_ctx_new(P, PIXL_MODE_TRAIN);
    int64_t xs[4] = {N, 3, H, W}, ps[2] = {N * PER, 3}, ts[2] = {N * PER, 3}, ms[1] = {N * PER};
    pixl_tensor *x = pixl_input(ctx, "x", PIXL_F32, 4, xs), *pix = pixl_input(ctx, "pixels", PIXL_I32, 2, ps);
    pixl_tensor *tgt = pixl_input(ctx, "normals", PIXL_F32, 2, ts), *msk = pixl_input(ctx, "mask", PIXL_I32, 1, ms);
    pixl_tensor *L = pixl_normal_loss(ctx, pixl_pixelnet_sampled(ctx, x, pix, &o), tgt, msk, 0);
    CHECK_MSG(L != NULL, "%s", pixl_ctx_error(ctx));
    if (L && pixl_ctx_plan(ctx) == PIXL_OK) {
        pixl_optim *opt = pixl_optim_new(P, &(pixl_optim_opts){.kind = PIXL_OPTIM_ADAM, .lr = 0.003f});
        memcpy(pixl_tensor_data(x), img, sizeof(float) * N * 3 * H * W);
        pixl_sampler_opts so = {.kind = PIXL_SAMPLE_UNIFORM, .per_image = PER, .n_classes = 1};
        double first = 0, last = 0;
        for (int s = 0; s < STEPS; s++) {
            int32_t *pp = pixl_tensor_data(pix), *lab = pixl_tensor_data(msk);
            CHECK(pixl_sample_pixels(&so, (uint64_t)s, valid, N, H, W, pp, lab) > 0);
            float *t = pixl_tensor_data(tgt);
            for (int r = 0; r < N * PER; r++) {
                lab[r] = lab[r] == 0; /* sampled label 0 = surface -> counts; 255 (empty image) -> masked out */
                for (int c = 0; c < 3; c++) t[3 * r + c] = nrm[((size_t)pp[3 * r] * 3 + c) * H * W + pp[3 * r + 1] * W + pp[3 * r + 2]];
            }
            pixl_params_zero_grad(P);
            CHECK_OK(pixl_forward(ctx));
            CHECK_OK(pixl_backward(ctx, L));
            CHECK_OK(pixl_optim_step(opt));
            double v = ((float *)pixl_tensor_data(L))[0];
            if (s < 5) first += v / 5;
            if (s >= STEPS - 5) last += v / 5;
        }
        CHECK_MSG(first > 0.05 && last < 0.3 * first, "normal loss (1 - cos) %g -> %g", first, last);
        pixl_optim_free(opt);
    }
    pixl_set_num_threads(prev_threads);
    pixl_ctx_free(ctx);
    pixl_params_free(P);
    free(img);
    free(nrm);
    free(valid);
    pixl_dataset_free(ds);
}
