/* cmd_bench_pag.c — `pixl bench pag`: the inference time of pag_resnet50
 * with hard gates, computed sparsely (each gated 3x3 conv only at its
 * gated-on pixels), against the same network with the gates computed
 * densely and masked (the seed's way, model.options.pag.dense) and against
 * the ungated ResNet (no gates), at 360x480 by default.
 *
 * Gate table (MultiPool off): for each target active fraction f the gate
 * biases are set, gate after gate in network order, so that exactly a
 * fraction f of each gate's pixels computes on the input (the gate maps keep
 * the spatial structure of their logits); the row prints the measured
 * fraction, the mean length of the runs of computing pixels along a row
 * (pixel-weighted over the gates: how coherent the gate maps are; 1/(1-f)
 * for independent pixels), the FLOP fraction and the time fraction of the
 * sparse network
 * against the dense-gated one, and time saved / FLOPs saved (the target:
 * >= 0.8 for f <= 0.7), and the sparse network against the ungated ResNet
 * (target at f = 1.0: within 5%).
 *
 * MultiPool table: the network with MultiPool on res5 (scales 1, 2, 4, 8),
 * each pixel's branch as its attention head chooses it, sparse against dense.
 *
 * --model CKPT [--image IMG]: a trained checkpoint, its own gates on the
 * image (default: a smooth synthetic one), sparse against dense.
 *
 * --profile: after the gate table, the time per op type of one forward of
 * the ungated, the dense-gated and the sparse network (at the last fraction)
 * on stderr: where the time the FLOPs do not account for goes.
 *
 * The networks of a row take turns run by run and each keeps its minimum, so
 * that a drift of the machine's speed reaches them alike.
 *
 *   pixl bench pag [--threads N] [--width W] [--input HxW] [--runs R] [--fractions F,...] [--profile] */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_args.h"
#include "pixl_data.h"
#include "pixl_impl.h"
#include "pixl_models.h"
#include "bench_util.h"

double info_node_macs(const pixl_tensor *t); /* cmd_info.c */

typedef struct net {
    pixl_ctx *ctx;
    pixl_tensor *x, *y;
} net;

static int net_build(net *n, pixl_params *P, const pixl_model_opts *mo, int H, int W, const float *img)
{
    n->ctx = pixl_ctx_new(P, PIXL_MODE_EVAL);
    int64_t s[4] = {1, 3, H, W};
    n->x = pixl_input(n->ctx, "x", PIXL_F32, 4, s);
    n->y = pixl_model_build(n->ctx, "pag_resnet50", n->x, mo);
    for (int i = 0; n->y && i < pixl_ctx_probe_count(n->ctx); i++) { /* the gate logits, read by calibrate() */
        pixl_tensor *g = pixl_ctx_probe(n->ctx, i, NULL);
        if (g->n_src >= 1) pixl_keep(g->src[0]);
    }
    if (!n->y || pixl_ctx_plan(n->ctx)) {
        fprintf(stderr, "pixl bench pag: %s\n", pixl_ctx_error(n->ctx) ? pixl_ctx_error(n->ctx) : pixl_last_error());
        return -1;
    }
    memcpy(pixl_tensor_data(n->x), img, sizeof(float) * 3 * (size_t)H * W);
    return 0;
}

/* min over runs of the forward time of each of the k networks, after one
 * warm-up each; the networks take turns run by run, so that a drift of the
 * machine's speed (clock, other load) reaches all of them alike */
static int nets_time(net **nv, int k, int runs, double *best)
{
    for (int j = 0; j < k; j++) {
        best[j] = INFINITY;
        if (pixl_forward(nv[j]->ctx)) {
            fprintf(stderr, "pixl bench pag: %s\n", pixl_last_error());
            return -1;
        }
    }
    for (int r = 0; r < runs; r++)
        for (int j = 0; j < k; j++) {
            double t0 = pixl_tool_now_ms();
            pixl_forward(nv[j]->ctx);
            double t = pixl_tool_now_ms() - t0;
            if (t < best[j]) best[j] = t;
        }
    return 0;
}

/* sparse and dense, taking turns */
static int pair_time(net *sp, net *de, int runs, double *ts, double *td)
{
    net *nv[2] = {sp, de};
    double t[2];
    if (nets_time(nv, 2, runs, t)) return -1;
    *ts = t[0], *td = t[1];
    return 0;
}

/* per-op-type time of one forward (stderr); the timed runs carry no profiling cost */
static void net_profile(net *n, const char *what)
{
    pixl_ctx_profile(n->ctx, 1);
    pixl_forward(n->ctx);
    fprintf(stderr, "\n--- %s\n", what);
    pixl_ctx_profile_print(n->ctx, stderr, 40);
    pixl_ctx_profile(n->ctx, 0);
}

static double net_macs(const net *n)
{
    double m = 0;
    for (int i = 0; i < n->ctx->n_nodes; i++) m += info_node_macs(n->ctx->nodes[i]);
    return m;
}

/* multiply-adds of the 3x3 conv gated by probe g (weight `w`) at every pixel */
static double conv_macs(pixl_params *P, const pixl_tensor *g, const char *w)
{
    int i = pixl_params_find(P, w);
    if (i < 0) return 0;
    return (double)(g->shape[0] * g->shape[2] * g->shape[3]) * (double)pixl_params_numel(P, i);
}

/* after a forward: the FLOPs the sparse network skips (gated-off pixels of
 * each gated conv, unchosen MultiPool branches) and the computing fraction */
static double skipped_macs(const net *n, pixl_params *P, double *frac, double *run)
{
    double skip = 0, on = 0, all = 0, runs = 0;
    for (int i = 0; i < pixl_ctx_probe_count(n->ctx); i++) {
        const char *name;
        pixl_tensor *g = pixl_ctx_probe(n->ctx, i, &name);
        const float *d = pixl_tensor_data(g);
        int64_t K = g->shape[1], HW = g->shape[2] * g->shape[3];
        int s, b;
        char w[64];
        if (sscanf(name, "gate.res%d_%d", &s, &b) == 2) {
            double c = 0;
            const int64_t W = g->shape[3];
            for (int64_t k = 0; k < HW; k++) {
                c += d[HW + k];
                runs += d[HW + k] == 1.0f && (k % W == 0 || d[HW + k - 1] != 1.0f); /* a run of computing pixels starts */
            }
            on += c;
            all += (double)HW;
            snprintf(w, sizeof w, "layer%d.%d.conv2.weight", s - 1, b - 1);
            skip += (1.0 - c / (double)HW) * conv_macs(P, g, w);
        } else if (!strcmp(name, "multipool")) {
            for (int64_t k = 1; k < K; k++) {
                double c = 0;
                for (int64_t p = 0; p < HW; p++) c += d[k * HW + p];
                snprintf(w, sizeof w, "multipool.branch%lld.weight", (long long)k);
                skip += (1.0 - c / (double)HW) * conv_macs(P, g, w);
            }
        }
    }
    if (frac) *frac = all > 0 ? on / all : 1.0;
    if (run) *run = runs > 0 ? on / runs : 0.0;
    return skip;
}

static int cmp_f(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* set the gate biases so that a fraction f of every gate's pixels computes */
static int calibrate(net *n, pixl_params *P, double f)
{
    for (int i = 0; i < pixl_ctx_probe_count(n->ctx); i++) {
        const char *name;
        pixl_tensor *g = pixl_ctx_probe(n->ctx, i, &name);
        int s, b;
        if (sscanf(name, "gate.res%d_%d", &s, &b) != 2) continue;
        char bn[64];
        snprintf(bn, sizeof bn, "layer%d.%d.gate.bias", s - 1, b - 1);
        int pi = pixl_params_find(P, bn);
        if (pi < 0 || g->n_src < 1) return -1;
        float *bias = pixl_params_data(P, pi);
        if (pixl_forward(n->ctx)) return -1;
        const pixl_tensor *lg = g->src[0]; /* the logits under the hard argmax */
        const float *l = pixl_tensor_data((pixl_tensor *)lg);
        int64_t HW = lg->shape[2] * lg->shape[3];
        float *dv = malloc(sizeof(float) * (size_t)HW);
        if (!dv) return -1;
        for (int64_t k = 0; k < HW; k++) dv[k] = l[HW + k] - l[k];
        qsort(dv, (size_t)HW, sizeof(float), cmp_f);
        int64_t off = HW - (int64_t)llround(f * (double)HW); /* pixels that skip */
        float thr = off <= 0 ? dv[0] - 1.0f : off >= HW ? dv[HW - 1] + 1.0f : 0.5f * (dv[off - 1] + dv[off]);
        bias[1] -= thr; /* compute where l1 - l0 > thr */
        free(dv);
    }
    return pixl_forward(n->ctx);
}

static void smooth_image(float *img, int H, int W)
{
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                double v = sin(0.021 * x * (c + 1) + 0.7 * c) * cos(0.017 * y * (3 - c)) +
                           0.5 * sin(0.005 * (x + 2 * y) + c) + 0.3 * (((x / 40) + (y / 30)) % 2);
                img[((size_t)c * H + y) * W + x] = (float)v;
            }
}

static int load_image(const char *path, const pixl_model *m, float *img, int H, int W)
{
    pixl_image *im = pixl_image_load(path, 3, 8);
    pixl_image *r = im ? pixl_image_resize(im, W, H) : NULL;
    pixl_image_free(im);
    if (!r) {
        fprintf(stderr, "pixl bench pag: %s\n", pixl_last_error());
        return -1;
    }
    int rc = pixl_image_to_chw(r, pixl_model_mean(m), pixl_model_std(m), img);
    pixl_image_free(r);
    if (rc) fprintf(stderr, "pixl bench pag: %s: %s\n", path, pixl_last_error());
    return rc ? -1 : 0;
}

static int bench_checkpoint(const char *ckpt, const char *image, int H, int W, int runs)
{
    pixl_model *m = pixl_model_load(ckpt);
    if (!m) {
        fprintf(stderr, "pixl bench pag: %s\n", pixl_last_error());
        return 1;
    }
    if (strcmp(pixl_model_arch(m), "pag_resnet50")) {
        fprintf(stderr, "pixl bench pag: %s is a %s, not a pag_resnet50\n", ckpt, pixl_model_arch(m));
        pixl_model_free(m);
        return 1;
    }
    float *img = malloc(sizeof(float) * 3 * (size_t)H * W);
    if (!img || (image ? load_image(image, m, img, H, W) : (smooth_image(img, H, W), 0))) {
        free(img);
        pixl_model_free(m);
        return 1;
    }
    pixl_model_opts mo = *pixl_model_options(m);
    pixl_pag_opts pag = mo.pag ? *mo.pag : pixl_pag_defaults(), pd = pag;
    pd.dense = 1;
    pixl_model_opts mod = mo;
    mo.pag = &pag;
    mod.pag = &pd;
    net sp = {0}, de = {0};
    int rc = 1;
    if (!net_build(&sp, pixl_model_params(m), &mo, H, W, img) && !net_build(&de, pixl_model_params(m), &mod, H, W, img)) {
        double ts, td, frac, run;
        if (pair_time(&sp, &de, runs, &ts, &td)) goto out;
        double total = net_macs(&de), skip = skipped_macs(&sp, pixl_model_params(m), &frac, &run);
        printf("%s at %dx%d, %d threads (%s)\n", ckpt, H, W, pixl_num_threads(), image ? image : "synthetic image");
        printf("  gates computing %.3f (lambda %.2f), mean run %.1f pixels  GFLOPs dense %.2f, sparse %.2f (%.3f)\n",
               frac, (double)pag.lambda, run, 2 * total / 1e9, 2 * (total - skip) / 1e9, (total - skip) / total);
        printf("  time: sparse %.1f ms, dense %.1f ms (%.3f)\n", ts, td, ts / td);
        rc = 0;
    }
out:
    pixl_ctx_free(sp.ctx);
    pixl_ctx_free(de.ctx);
    free(img);
    pixl_model_free(m);
    return rc;
}

int cmd_bench_pag(int argc, char **argv)
{
    int H = 360, W = 480, runs = 5;
    float width = 0.25f;
    double fr[16] = {1.0, 0.9, 0.7, 0.5, 0.3};
    int nf = 5, profile = 0;
    const char *ckpt = NULL, *image = NULL;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            int n;
            if (pixl_arg_int("bench pag", "--threads", argv[++i], 1, PIXL_ARG_MAX_THREADS, &n)) return 2;
            pixl_set_num_threads(n);
        } else if (!strcmp(argv[i], "--width") && i + 1 < argc) {
            if (pixl_arg_float_above("bench pag", "--width", argv[++i], 0, 64, &width)) return 2;
        } else if (!strcmp(argv[i], "--runs") && i + 1 < argc) {
            if (pixl_arg_int("bench pag", "--runs", argv[++i], 1, INT_MAX, &runs)) return 2;
        } else if (!strcmp(argv[i], "--model") && i + 1 < argc) ckpt = argv[++i];
        else if (!strcmp(argv[i], "--image") && i + 1 < argc) image = argv[++i];
        else if (!strcmp(argv[i], "--profile")) profile = 1;
        else if (!strcmp(argv[i], "--input") && i + 1 < argc) {
            int d[2];
            if (pixl_arg_dims("bench pag", "--input", argv[++i], 2, 32, 65536, d)) return 2;
            H = d[0], W = d[1];
        } else if (!strcmp(argv[i], "--fractions") && i + 1 < argc) {
            nf = pixl_tool_parse_fractions(argv[++i], fr, 16);
            if (nf < 0) {
                fprintf(stderr, "pixl bench pag: --fractions takes numbers in [0, 1], e.g. 1,0.7,0.3\n");
                return 2;
            }
        } else {
            fprintf(stderr, "usage: pixl bench pag [--threads N] [--width W] [--input HxW] [--runs R] [--fractions F,...]\n"
                            "                      [--model CKPT [--image IMG]] [--profile]\n");
            return 2;
        }
    }
    if (runs < 1) runs = 1;
    if (ckpt) return bench_checkpoint(ckpt, image, H, W, runs);

    float *img = malloc(sizeof(float) * 3 * (size_t)H * W);
    if (!img) return 1;
    smooth_image(img, H, W);
    /* the gate table: MultiPool off */
    pixl_pag_opts pag = pixl_pag_defaults();
    pag.n_scales = 0;
    pixl_pag_opts pd = pag, pu = pag;
    pd.dense = 1;
    pu.n_gates = 0;
    pixl_model_opts mo = {.n_classes = 11, .width = width, .pag = &pag}, mod = mo, mou = mo;
    mod.pag = &pd;
    mou.pag = &pu;
    pixl_model *m = pixl_model_create("pag_resnet50", &mo, 1);
    if (!m) {
        fprintf(stderr, "pixl bench pag: %s\n", pixl_last_error());
        free(img);
        return 1;
    }
    pixl_params *P = pixl_model_params(m);
    net sp = {0}, de = {0}, un = {0};
    int rc = 1;
    if (net_build(&sp, P, &mo, H, W, img) || net_build(&de, P, &mod, H, W, img) || net_build(&un, P, &mou, H, W, img))
        goto done;
    double tu = INFINITY, total = net_macs(&de), total_u = net_macs(&un);
    printf("pag_resnet50 width %g, output stride 16, %d gates, input 1x3x%dx%d, %d threads, min of %d runs\n", width,
           pag.n_gates, H, W, pixl_num_threads(), runs);
    printf("ungated ResNet: %.2f GFLOPs; dense-gated: %.2f GFLOPs; per row the sparse, dense and ungated networks take\n"
           "turns run by run\n\n", 2 * total_u / 1e9, 2 * total / 1e9);
    printf("%8s %8s %8s | %9s %9s | %9s %9s %9s | %13s | %11s\n", "target", "active", "mean run", "FLOP frac", "GFLOPs",
           "sparse ms", "dense ms", "time frac", "saved t/FLOPs", "vs ungated");
    for (int k = 0; k < nf; k++) {
        if (calibrate(&sp, P, fr[k])) {
            fprintf(stderr, "pixl bench pag: calibrating the gates: %s\n", pixl_last_error());
            goto done;
        }
        double frac, run, skip = skipped_macs(&sp, P, &frac, &run);
        net *nv[3] = {&sp, &de, &un};
        double t3[3];
        if (nets_time(nv, 3, runs, t3)) goto done;
        double ts = t3[0], td = t3[1];
        if (t3[2] < tu) tu = t3[2];
        double ff = (total - skip) / total, tf = ts / td;
        char ratio[32] = "-";
        if (ff < 0.995) snprintf(ratio, sizeof ratio, "%.2f", (1 - tf) / (1 - ff));
        printf("%8.2f %8.3f %8.1f | %9.3f %9.2f | %9.1f %9.1f %9.3f | %13s | %11.3f\n", fr[k], frac, run, ff,
               2 * (total - skip) / 1e9, ts, td, tf, ratio, ts / t3[2]);
    }
    printf("ungated ResNet: %.1f ms (min over all rows)\n", tu);
    if (profile) {
        char what[64];
        net_profile(&un, "ungated ResNet");
        net_profile(&de, "dense-gated");
        snprintf(what, sizeof what, "sparse at target %.2f", fr[nf - 1]);
        net_profile(&sp, what);
    }
    pixl_ctx_free(sp.ctx);
    pixl_ctx_free(de.ctx);
    sp.ctx = de.ctx = NULL;

    /* MultiPool: each pixel's branch as the attention head picks it */
    pag = pixl_pag_defaults();
    pag.n_gates = 0;
    pd = pag;
    pd.dense = 1;
    pixl_model *m2 = pixl_model_create("pag_resnet50", &mo, 2);
    if (!m2) goto done;
    if (!net_build(&sp, pixl_model_params(m2), &mo, H, W, img) &&
        !net_build(&de, pixl_model_params(m2), &mod, H, W, img)) {
        double ts, td;
        if (pair_time(&sp, &de, runs, &ts, &td)) {
            pixl_ctx_free(sp.ctx);
            pixl_ctx_free(de.ctx);
            sp.ctx = de.ctx = NULL;
            pixl_model_free(m2);
            goto done;
        }
        double t2 = net_macs(&de), skip = skipped_macs(&sp, pixl_model_params(m2), NULL, NULL);
        pixl_tensor *a = pixl_ctx_probe_find(sp.ctx, "multipool");
        printf("\nMultiPool (scales 1,2,4,8 on res5 %lldx%lld, no gates): branch shares",
               (long long)a->shape[2], (long long)a->shape[3]);
        int64_t HW = a->shape[2] * a->shape[3];
        const float *d = pixl_tensor_data(a);
        for (int64_t k = 0; k < a->shape[1]; k++) {
            double c = 0;
            for (int64_t p = 0; p < HW; p++) c += d[k * HW + p];
            printf(" %.2f", c / (double)HW);
        }
        printf("\n  FLOP frac %.3f (%.2f of %.2f GFLOPs), time: sparse %.1f ms, dense %.1f ms, frac %.3f, saved t/FLOPs %.2f\n",
               (t2 - skip) / t2, 2 * (t2 - skip) / 1e9, 2 * t2 / 1e9, ts, td, ts / td,
               (1 - ts / td) / (1 - (t2 - skip) / t2));
    }
    pixl_ctx_free(sp.ctx);
    pixl_ctx_free(de.ctx);
    sp.ctx = de.ctx = NULL;
    pixl_model_free(m2);
    rc = 0;
done:
    pixl_ctx_free(sp.ctx);
    pixl_ctx_free(de.ctx);
    pixl_ctx_free(un.ctx);
    pixl_model_free(m);
    free(img);
    return rc;
}
