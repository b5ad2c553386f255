/* cmd_bench_gated.c — `pixl bench gated`: the gated 3x3 conv of PAG
 * (pixl_gated_conv3x3_ex: conv bias, eval BatchNorm, ReLU, computed at the
 * active pixels of a one-hot gate) against the dense computation of the same
 * output: the conv2d forward kernel (pixl__conv2d_fwd), then one pass of the
 * same epilogue over every pixel (bias, folded BatchNorm, ReLU, and the
 * select by the gate: the input where it is off).
 *
 * Shapes: the 3x3 convs of a ResNet-50 bottleneck at a 360x480 input with
 * output stride 16 (res2 64ch 90x120, res3 128ch 45x60, res4 256ch 23x30,
 * res5 512ch 23x30 dilation 2), res4 at output stride 8 (256ch 45x60
 * dilation 2), and the same at width 0.25 (16, 32, 64, 128 channels).
 * For each active fraction f, two masks with exactly round(f*H*W) active
 * pixels: "blobs" (a Gaussian-smoothed white noise field, sigma = --sigma
 * times the width, thresholded: spatially coherent, as trained gates are)
 * and "random" (independent pixels).
 *
 * Timing: two warm-up rounds, then R rounds over every case of a shape, each
 * case a dense run followed by a gated run. The cores may be shared with
 * other work: both sides and every case see the same conditions, and a
 * stretch of load does not fall on all the runs of one case. Times are
 * minima (the dense one over all runs of the shape).
 *
 * Printed per shape, fraction and mask: the FLOP fraction (active pixels /
 * all), the time fraction (gated / dense) and the ratio time saved / FLOPs
 * saved. The target: time fraction <= 1 - 0.8 (1 - f) (ratio >= 0.8) for
 * f < 1, within 3% of dense at f = 1; "ok" / "MISS" says which.
 *
 *   pixl bench gated [--threads N] [--runs R] [--filter STR] [--sigma S] [--fractions F,F,...]
 *                    [--masks blobs|random|both] */
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_args.h"
#include "kernels/im2col.h"
#include "pixl_impl.h"
#include "bench_util.h"

typedef struct gshape {
    const char *name;
    int C, H, W, dil;
} gshape;

static const gshape g_shapes[] = {
    {"res2", 64, 90, 120, 1},      {"res3", 128, 45, 60, 1},     {"res4", 256, 23, 30, 1},
    {"res4_os8", 256, 45, 60, 2},  {"res5", 512, 23, 30, 2},     {"res2_w.25", 16, 90, 120, 1},
    {"res3_w.25", 32, 45, 60, 1},  {"res4_w.25", 64, 23, 30, 1}, {"res4_os8_w.25", 64, 45, 60, 2},
    {"res5_w.25", 128, 23, 30, 2},
};
#define N_SHAPES (int)(sizeof g_shapes / sizeof g_shapes[0])

static unsigned lcg(unsigned *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

static void fill(float *p, int64_t n, unsigned s, float lo, float hi)
{
    for (int64_t i = 0; i < n; i++) p[i] = lo + (hi - lo) * (float)(lcg(&s) * (1.0 / 16777216.0));
}

typedef struct keyed {
    float v;
    int i;
} keyed;

static int cmp_keyed(const void *a, const void *b)
{
    const keyed *x = a, *y = b;
    if (x->v != y->v) return x->v > y->v ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

/* m (H*W) = 1 at the `count` pixels of largest field value, else 0 */
static void threshold(const float *field, int H, int W, int64_t count, float *m)
{
    keyed *k = malloc(sizeof(keyed) * (size_t)H * W);
    if (!k) return;
    for (int i = 0; i < H * W; i++) k[i] = (keyed){field[i], i};
    qsort(k, (size_t)H * W, sizeof *k, cmp_keyed);
    for (int i = 0; i < H * W; i++) m[k[i].i] = i < count ? 1.0f : 0.0f;
    free(k);
}

/* a white noise field, smoothed by a Gaussian of sigma pixels (separable, borders clamped) when sigma > 0 */
static void noise_field(float *f, int H, int W, double sigma, unsigned seed)
{
    fill(f, (int64_t)H * W, seed, 0, 1);
    if (sigma <= 0) return;
    int r = (int)ceil(3 * sigma);
    double *k = malloc(sizeof(double) * (size_t)(2 * r + 1)), s = 0;
    float *t = malloc(sizeof(float) * (size_t)H * W);
    if (!k || !t) goto out;
    for (int i = -r; i <= r; i++) s += k[i + r] = exp(-0.5 * i * i / (sigma * sigma));
    for (int i = 0; i <= 2 * r; i++) k[i] /= s;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            double a = 0;
            for (int i = -r; i <= r; i++) {
                int xx = x + i < 0 ? 0 : x + i >= W ? W - 1 : x + i;
                a += k[i + r] * f[y * W + xx];
            }
            t[y * W + x] = (float)a;
        }
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            double a = 0;
            for (int i = -r; i <= r; i++) {
                int yy = y + i < 0 ? 0 : y + i >= H ? H - 1 : y + i;
                a += k[i + r] * t[yy * W + x];
            }
            f[y * W + x] = (float)a;
        }
out:
    free(k);
    free(t);
}

/* the dense computation of the same output: conv2d forward, then one pass over every pixel:
 * z = gate ? relu((y + b) * sc + sh) : x */
typedef struct dense {
    pixl_conv_shape s;
    const float *x, *w, *b, *sc, *sh, *gate; /* gate: the chosen channel (H, W) */
    float *y, *z, *work;
} dense;

static void dense_run(const dense *D)
{
    const int64_t C = D->s.Cs, L = D->s.OH * D->s.OW;
    pixl__conv2d_fwd(&D->s, D->x, D->w, D->y, D->work);
#pragma omp parallel for schedule(static) num_threads(pixl_num_threads())
    for (int64_t c = 0; c < C; c++) {
        const float *r = D->y + c * L, *xc = D->x + c * L, *g = D->gate;
        float *zc = D->z + c * L;
        const float b = D->b[c], sc = D->sc[c], sh = D->sh[c];
        for (int64_t i = 0; i < L; i++) {
            float v = (r[i] + b) * sc + sh;
            zc[i] = g[i] == 1.0f ? (v > 0.0f ? v : 0.0f) : xc[i];
        }
    }
}

static int bench_shape(const gshape *g, const double *fr, int nfr, int runs, double sigma, int kinds, int *misses)
{
    const int C = g->C, H = g->H, W = g->W, d = g->dil;
    int64_t xs[4] = {1, C, H, W}, gs[4] = {1, 2, H, W}, ws[4] = {C, C, 3, 3}, vs[1] = {C};
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL);
    pixl_tensor *x = pixl_input(ctx, "x", PIXL_F32, 4, xs), *gate = pixl_input(ctx, "gate", PIXL_F32, 4, gs);
    pixl_tensor *w = pixl_input(ctx, "w", PIXL_F32, 4, ws), *b = pixl_input(ctx, "b", PIXL_F32, 1, vs);
    pixl_tensor *bw = pixl_input(ctx, "bn_w", PIXL_F32, 1, vs), *bb = pixl_input(ctx, "bn_b", PIXL_F32, 1, vs);
    pixl_tensor *bm = pixl_input(ctx, "bn_m", PIXL_F32, 1, vs), *bv = pixl_input(ctx, "bn_v", PIXL_F32, 1, vs);
    pixl_gated_conv_opts o = {.dilation = d, .relu = 1, .bias = b, .bn_weight = bw, .bn_bias = bb, .bn_mean = bm,
                              .bn_var = bv};
    pixl_tensor *z = pixl_keep(pixl_gated_conv3x3_ex(ctx, x, gate, 1, w, &o));
    dense D = {.s = {.N = 1, .Cb = C, .H = H, .W = W, .Cs = C, .OH = H, .OW = W, .KH = 3, .KW = 3, .sh = 1, .sw = 1,
                     .ph = d, .pw = d, .dh = d, .dw = d, .G = 1}};
    float *y = NULL, *zz = NULL, *work = NULL, *sc = malloc(sizeof(float) * (size_t)C),
          *sh = malloc(sizeof(float) * (size_t)C);
    float *field = malloc(sizeof(float) * (size_t)H * W), *masks = NULL;
    size_t wf = pixl__conv2d_fwd_floats(&D.s) + 16;
    int rc = -1;
    if (!z || pixl_ctx_plan(ctx) || !sc || !sh || !field || posix_memalign((void **)&y, 64, sizeof(float) * (size_t)C * H * W) ||
        posix_memalign((void **)&zz, 64, sizeof(float) * (size_t)C * H * W) ||
        posix_memalign((void **)&work, 64, sizeof(float) * wf)) {
        fprintf(stderr, "pixl bench gated: %s: %s\n", g->name, pixl_last_error());
        goto done;
    }
    fill(pixl_tensor_data(x), (int64_t)C * H * W, 1, -1, 1);
    fill(pixl_tensor_data(w), (int64_t)C * C * 9, 2, -0.05f, 0.05f);
    fill(pixl_tensor_data(b), C, 3, -0.1f, 0.1f);
    fill(pixl_tensor_data(bw), C, 4, 0.5f, 1.5f);
    fill(pixl_tensor_data(bb), C, 5, -0.1f, 0.1f);
    fill(pixl_tensor_data(bm), C, 6, -0.1f, 0.1f);
    fill(pixl_tensor_data(bv), C, 7, 0.5f, 1.5f);
    {
        const float *bwd = pixl_tensor_data(bw), *bbd = pixl_tensor_data(bb), *bmd = pixl_tensor_data(bm),
                    *bvd = pixl_tensor_data(bv);
        for (int c = 0; c < C; c++) {
            double rs = 1.0 / sqrt((double)bvd[c] + 1e-5);
            sc[c] = (float)(bwd[c] * rs);
            sh[c] = (float)(bbd[c] - bmd[c] * (double)sc[c]);
        }
    }
    D.x = pixl_tensor_data(x), D.w = pixl_tensor_data(w), D.b = pixl_tensor_data(b), D.sc = sc, D.sh = sh;
    D.y = y, D.z = zz, D.work = work, D.gate = (const float *)pixl_tensor_data(gate) + (int64_t)H * W;
    double td = 1e30;
    /* the gates of every case, then `runs` rounds over all cases: each a dense run and a gated run (min of
     * each), so that a stretch of load from other work on the cores does not fall on every run of one case */
    float *gd = pixl_tensor_data(gate);
    const int64_t L = (int64_t)H * W;
    double res[2][16];
    int64_t counts[16];
    int ncase = 0, ck[32], ci[32];
    masks = malloc(sizeof(float) * (size_t)(2 * nfr) * 2 * L);
    if (!masks) goto done;
    for (int i = 0; i < nfr; i++) counts[i] = (int64_t)llround(fr[i] * H * W);
    for (int kind = 0; kind < 2; kind++)
        for (int i = 0; i < nfr; i++) {
            res[kind][i] = 1e30;
            if (!(kinds >> kind & 1)) continue;
            float *m = masks + (size_t)ncase * 2 * L; /* (2, H, W): channel 1 on at the chosen pixels */
            noise_field(field, H, W, kind == 0 ? sigma * W : 0, 100u + (unsigned)i);
            threshold(field, H, W, counts[i], m + L);
            for (int64_t q = 0; q < L; q++) m[q] = 1.0f - m[L + q];
            ck[ncase] = kind, ci[ncase++] = i;
        }
    for (int r = -2; r < runs; r++) /* two rounds of warm-up */
        for (int c = 0; c < ncase; c++) {
            memcpy(gd, masks + (size_t)c * 2 * L, sizeof(float) * 2 * (size_t)L);
            double t0 = pixl_tool_now_ms();
            dense_run(&D);
            double t1 = pixl_tool_now_ms();
            if (pixl_forward(ctx)) {
                fprintf(stderr, "pixl bench gated: %s: %s\n", g->name, pixl_last_error());
                goto done;
            }
            double t2 = pixl_tool_now_ms();
            if (r < 0) continue;
            if (t1 - t0 < td) td = t1 - t0;
            if (t2 - t1 < res[ck[c]][ci[c]]) res[ck[c]][ci[c]] = t2 - t1;
        }
    const double gflop = 2.0 * C * C * 9.0 * H * W / 1e9;
    printf("%-14s C %3d %3dx%-3d dil %d   dense %8.3f ms (%.0f GFLOP/s)\n", g->name, C, H, W, d, td, gflop / td * 1e3);
    for (int i = 0; i < nfr; i++) {
        double ff = (double)counts[i] / ((double)H * W);
        printf("  f %.2f", ff);
        for (int kind = 0; kind < 2; kind++) {
            if (!(kinds >> kind & 1)) continue;
            double tf = res[kind][i] / td;
            int ok;
            char ratio[32];
            if (counts[i] == (int64_t)H * W) {
                ok = tf <= 1.03;
                snprintf(ratio, sizeof ratio, "%s", "-");
            } else {
                ok = tf <= 1 - 0.8 * (1 - ff) + 1e-9;
                snprintf(ratio, sizeof ratio, "%.2f", (1 - tf) / (1 - ff));
            }
            printf("   %s %7.3f ms time %.3f ratio %5s %-4s", kind ? "random" : "blobs ", res[kind][i], tf, ratio,
                   ok ? "ok" : "MISS");
            if (!ok) misses[kind]++;
        }
        printf("\n");
    }
    rc = 0;
done:
    free(y);
    free(zz);
    free(work);
    free(sc);
    free(sh);
    free(field);
    free(masks);
    pixl_ctx_free(ctx);
    return rc;
}

int cmd_bench_gated(int argc, char **argv)
{
    const char *filter = "";
    int runs = 15;
    double sigma = 0.05;
    double fr[16] = {1.0, 0.9, 0.7, 0.5, 0.3};
    int nfr = 5, kinds = 3;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            int n;
            if (pixl_arg_int("bench gated", "--threads", argv[++i], 1, PIXL_ARG_MAX_THREADS, &n)) return 2;
            pixl_set_num_threads(n);
        } else if (!strcmp(argv[i], "--runs") && i + 1 < argc) {
            if (pixl_arg_int("bench gated", "--runs", argv[++i], 1, INT_MAX, &runs)) return 2;
        } else if (!strcmp(argv[i], "--filter") && i + 1 < argc) filter = argv[++i];
        else if (!strcmp(argv[i], "--sigma") && i + 1 < argc) {
            /* of the blobs' smoothing, as a fraction of the width; 0: unsmoothed noise */
            if (pixl_arg_num("bench gated", "--sigma", argv[++i], 0, 1, &sigma)) return 2;
        } else if (!strcmp(argv[i], "--masks") && i + 1 < argc) {
            const char *m = argv[++i];
            kinds = !strcmp(m, "blobs") ? 1 : !strcmp(m, "random") ? 2 : !strcmp(m, "both") ? 3 : 0;
            if (!kinds) nfr = 0;
        }
        else if (!strcmp(argv[i], "--fractions") && i + 1 < argc) {
            nfr = pixl_tool_parse_fractions(argv[++i], fr, 16);
            if (nfr < 0) nfr = 0;
        } else
            nfr = 0;
        if (nfr == 0) break;
    }
    if (runs < 1 || nfr == 0) {
        fprintf(stderr, "usage: pixl bench gated [--threads N] [--runs R] [--filter STR] [--sigma S] "
                        "[--fractions F,F,...]\n");
        return 2;
    }
    printf("pixl %s, %d thread%s, min of %d runs; blobs: smoothed noise, sigma %.3g x width; "
           "target: time <= 1 - 0.8 (1 - f), f = 1 within 3%%\n",
           pixl_version(), pixl_num_threads(), pixl_num_threads() == 1 ? "" : "s", runs, sigma);
    int misses[2] = {0, 0}, failed = 0;
    for (int i = 0; i < N_SHAPES; i++) {
        if (filter[0] && !strstr(g_shapes[i].name, filter)) continue;
        if (bench_shape(&g_shapes[i], fr, nfr, runs, sigma, kinds, misses)) failed++;
    }
    printf("misses: blobs %d, random %d (ratio = time saved / FLOPs saved)\n", misses[0], misses[1]);
    return failed ? 1 : 0;
}
