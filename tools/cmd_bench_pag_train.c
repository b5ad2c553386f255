/* cmd_bench_pag_train.c — `pixl bench pag-train`: the time of one training
 * step (parameter gradients zeroed, forward, backward; no optimizer step)
 * of pag_resnet50 with model.options.pag.train_skip (hard straight-through
 * gates, each gated 3x3 conv computed at its active pixels only) against
 * the default dense training (relaxed gates, every 3x3 conv at every pixel),
 * at several fractions of computing pixels. Both graphs share one set of
 * parameters; the loss is the cross-entropy on synthetic labels plus the
 * model's budget losses, as the trainer builds it. MultiPool is off (scales
 * []), the other PAG options are the defaults.
 *
 * The fractions: in training a hard gate is the argmax of log p + Gumbel
 * noise with p = (softmax(l) + 0.001) / 1.001, so a pixel whose logit
 * difference is d computes with probability about (sigmoid(d) + 0.001) /
 * 1.002, whatever the temperature (about: the noise's u is clipped). Gate after gate in network
 * order, the gate's bias is shifted so that the mean of that probability
 * over its pixels is the target (the gates keep the spatial structure of
 * their logits). The table prints the measured active fraction (the mean
 * over the timed steps of every gate), the fraction of the dense network's
 * conv multiply-adds that remain (the same for forward and backward), and
 * the times: min over runs. The biases of every row are calibrated first;
 * then each round steps every row (train_skip, then dense) and the ungated
 * ResNet once, so that other load on the machine spreads over all of them.
 *
 *   pixl bench pag-train [--threads N] [--width W] [--batch B] [--input HxW] [--runs R] [--fractions F,...]
 *                        [--no-ungated] [--profile]
 *
 * --profile prints the time of each op type of both networks over all the
 * rows (stderr). */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_args.h"
#include "pixl_impl.h"
#include "pixl_models.h"
#include "bench_util.h"

double info_node_macs(const pixl_tensor *t); /* cmd_info.c */

typedef struct tnet {
    pixl_ctx *ctx;
    pixl_tensor *x, *labels, *y, *loss;
} tnet;

static int tnet_build(tnet *n, pixl_params *P, const pixl_model_opts *mo, int B, int H, int W, const float *img,
                      const int32_t *lab)
{
    n->ctx = pixl_ctx_new(P, PIXL_MODE_TRAIN);
    const int64_t xs[4] = {B, 3, H, W}, ls[3] = {B, H, W};
    n->x = pixl_input(n->ctx, "x", PIXL_F32, 4, xs);
    n->labels = pixl_input(n->ctx, "labels", PIXL_I32, 3, ls);
    n->y = pixl_model_build(n->ctx, "pag_resnet50", n->x, mo);
    n->loss = n->y ? pixl_cross_entropy(n->ctx, n->y, n->labels, NULL, &(pixl_ce_opts){.ignore = 1, .ignore_index = 255})
                   : NULL;
    for (int i = 0; n->loss && i < pixl_ctx_loss_count(n->ctx); i++) { /* the budget losses */
        float w = 0;
        pixl_tensor *l = pixl_ctx_loss(n->ctx, i, &w);
        n->loss = pixl_add(n->ctx, n->loss, pixl_scale(n->ctx, l, w));
    }
    for (int i = 0; n->loss && i < pixl_ctx_probe_count(n->ctx); i++) { /* the gates and their logits */
        pixl_tensor *g = pixl_ctx_probe(n->ctx, i, NULL);
        pixl_keep(g);
        if (g->n_src >= 1) pixl_keep(g->src[0]);
    }
    if (!n->loss || pixl_ctx_plan(n->ctx)) {
        fprintf(stderr, "pixl bench pag-train: %s\n", pixl_ctx_error(n->ctx) ? pixl_ctx_error(n->ctx) : pixl_last_error());
        return -1;
    }
    memcpy(pixl_tensor_data(n->x), img, sizeof(float) * (size_t)B * 3 * H * W);
    memcpy(pixl_tensor_data(n->labels), lab, sizeof(int32_t) * (size_t)B * H * W);
    return 0;
}

/* one training step without the optimizer; its time in ms (NAN on failure) */
static double tnet_step(tnet *n)
{
    double t0 = pixl_tool_now_ms();
    pixl_params_zero_grad(n->ctx->P);
    if (pixl_forward(n->ctx) || pixl_backward(n->ctx, n->loss)) {
        fprintf(stderr, "pixl bench pag-train: %s\n", pixl_last_error());
        return NAN;
    }
    return pixl_tool_now_ms() - t0;
}

/* after a forward: the active fraction of every gate, and of all (pixel-weighted) */
static double active_fraction(const tnet *n, double *per_gate, int *n_gates)
{
    double on = 0, all = 0;
    int k = 0;
    for (int i = 0; i < pixl_ctx_probe_count(n->ctx); i++) {
        const char *name;
        pixl_tensor *g = pixl_ctx_probe(n->ctx, i, &name);
        if (strncmp(name, "gate.", 5)) continue;
        const float *d = pixl_tensor_data(g);
        const int64_t N = g->shape[0], HW = g->shape[2] * g->shape[3];
        double c = 0;
        for (int64_t b = 0; b < N; b++)
            for (int64_t q = 0; q < HW; q++) c += d[(b * 2 + 1) * HW + q];
        if (per_gate) per_gate[k] = c / (double)(N * HW);
        k++;
        on += c;
        all += (double)(N * HW);
    }
    if (n_gates) *n_gates = k;
    return all > 0 ? on / all : 1.0;
}

/* the expected computing fraction of a gate with logit differences d shifted by s */
static double expected_on(const float *l0, const float *l1, int64_t n, double s)
{
    double f = 0;
    for (int64_t i = 0; i < n; i++) {
        const double d = (double)l1[i] - (double)l0[i] + s, s1 = 1.0 / (1.0 + exp(-d));
        f += (s1 + 0.001) / 1.002;
    }
    return f / (double)n;
}

/* shift the gate biases, gate after gate, so that each gate computes a fraction f in expectation */
static int calibrate(tnet *n, pixl_params *P, double f)
{
    for (int i = 0; i < pixl_ctx_probe_count(n->ctx); i++) {
        const char *name;
        pixl_tensor *g = pixl_ctx_probe(n->ctx, i, &name);
        int s, b;
        if (sscanf(name, "gate.res%d_%d", &s, &b) != 2 || g->n_src < 1) continue;
        char bn[64];
        snprintf(bn, sizeof bn, "layer%d.%d.gate.bias", s - 1, b - 1);
        int pi = pixl_params_find(P, bn);
        if (pi < 0) return pixl_set_error(PIXL_ERR_NOT_FOUND, "no parameter %s", bn);
        float *bias = pixl_params_data(P, pi);
        if (pixl_forward(n->ctx)) return -1;
        const pixl_tensor *lg = g->src[0]; /* the logits under the straight-through gate */
        const int64_t N = lg->shape[0], HW = lg->shape[2] * lg->shape[3];
        float *l0 = malloc(sizeof(float) * (size_t)(N * HW)), *l1 = malloc(sizeof(float) * (size_t)(N * HW));
        if (!l0 || !l1) {
            free(l0);
            free(l1);
            return pixl_set_error(PIXL_ERR_NOMEM, "out of memory");
        }
        const float *d = pixl_tensor_data((pixl_tensor *)lg);
        for (int64_t bb = 0; bb < N; bb++)
            for (int64_t q = 0; q < HW; q++) {
                l0[bb * HW + q] = d[(bb * 2) * HW + q];
                l1[bb * HW + q] = d[(bb * 2 + 1) * HW + q];
            }
        double shift, dmax = 0;
        for (int64_t q = 0; q < N * HW; q++) dmax = fmax(dmax, fabs((double)l1[q] - (double)l0[q]));
        if (f >= 0.999) shift = 1e4 - (bias[1] - bias[0]); /* as many as the epsilons of p allow (0.999) */
        else if (f <= 0.001) shift = -1e4 - (bias[1] - bias[0]);
        else {
            double lo = -dmax - 100, hi = dmax + 100;
            for (int it = 0; it < 80; it++) {
                const double mid = 0.5 * (lo + hi);
                if (expected_on(l0, l1, N * HW, mid) < f) lo = mid;
                else hi = mid;
            }
            shift = 0.5 * (lo + hi);
        }
        bias[1] = (float)((double)bias[1] + shift);
        free(l0);
        free(l1);
    }
    return pixl_forward(n->ctx);
}

/* a smooth synthetic batch (each image shifted) and blocky labels */
static void synthetic_batch(float *img, int32_t *lab, int B, int H, int W)
{
    for (int n = 0; n < B; n++)
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++) {
                    const int xx = x + 17 * n, yy = y + 11 * n;
                    double v = sin(0.021 * xx * (c + 1) + 0.7 * c) * cos(0.017 * yy * (3 - c)) +
                               0.5 * sin(0.005 * (xx + 2 * yy) + c) + 0.3 * (((xx / 40) + (yy / 30)) % 2);
                    img[(((size_t)n * 3 + c) * H + y) * W + x] = (float)v;
                    if (c == 0) lab[((size_t)n * H + y) * W + x] = (xx / 24 + 3 * (yy / 20)) % 11;
                }
}

/* multiply-adds of the dense network's convs, and those of its gated 3x3 convs per gate */
static double conv_macs(const tnet *n, pixl_params *P, double *gated, int max)
{
    double m = 0;
    for (int i = 0; i < n->ctx->n_nodes; i++) m += info_node_macs(n->ctx->nodes[i]);
    int k = 0;
    for (int i = 0; i < pixl_ctx_probe_count(n->ctx) && k < max; i++) {
        const char *name;
        pixl_tensor *g = pixl_ctx_probe(n->ctx, i, &name);
        int s, b;
        if (sscanf(name, "gate.res%d_%d", &s, &b) != 2) continue;
        char w[64];
        snprintf(w, sizeof w, "layer%d.%d.conv2.weight", s - 1, b - 1);
        int pi = pixl_params_find(P, w);
        gated[k++] = pi < 0 ? 0 : (double)(g->shape[0] * g->shape[2] * g->shape[3]) * (double)pixl_params_numel(P, pi);
    }
    return m;
}

int cmd_bench_pag_train(int argc, char **argv)
{
    int B = 8, H = 176, W = 240, runs = 5, ungated = 1, profile = 0;
    float width = 0.25f;
    double fr[16] = {1.0, 0.7, 0.5, 0.3};
    int nf = 4;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            int n;
            if (pixl_arg_int("bench pag-train", "--threads", argv[++i], 1, PIXL_ARG_MAX_THREADS, &n)) return 2;
            pixl_set_num_threads(n);
        } else if (!strcmp(argv[i], "--width") && i + 1 < argc) {
            if (pixl_arg_float_above("bench pag-train", "--width", argv[++i], 0, 64, &width)) return 2;
        } else if (!strcmp(argv[i], "--batch") && i + 1 < argc) {
            if (pixl_arg_int("bench pag-train", "--batch", argv[++i], 1, 65536, &B)) return 2;
        } else if (!strcmp(argv[i], "--runs") && i + 1 < argc) {
            if (pixl_arg_int("bench pag-train", "--runs", argv[++i], 1, INT_MAX, &runs)) return 2;
        } else if (!strcmp(argv[i], "--no-ungated")) ungated = 0;
        else if (!strcmp(argv[i], "--profile")) profile = 1;
        else if (!strcmp(argv[i], "--input") && i + 1 < argc) {
            int d[2];
            if (pixl_arg_dims("bench pag-train", "--input", argv[++i], 2, 32, 65536, d)) return 2;
            H = d[0], W = d[1];
        } else if (!strcmp(argv[i], "--fractions") && i + 1 < argc) {
            nf = pixl_tool_parse_fractions(argv[++i], fr, 16);
            if (nf < 0) {
                fprintf(stderr, "pixl bench pag-train: --fractions takes numbers in [0, 1], e.g. 1,0.7,0.3\n");
                return 2;
            }
        } else {
            fprintf(stderr, "usage: pixl bench pag-train [--threads N] [--width W] [--batch B] [--input HxW] [--runs R]\n"
                            "                            [--fractions F,...] [--no-ungated] [--profile]\n");
            return 2;
        }
    }
    if (runs < 1) runs = 1;
    if (B < 1) B = 1;

    float *img = malloc(sizeof(float) * (size_t)B * 3 * H * W);
    int32_t *lab = malloc(sizeof(int32_t) * (size_t)B * H * W);
    if (!img || !lab) {
        free(img);
        free(lab);
        return 1;
    }
    synthetic_batch(img, lab, B, H, W);
    pixl_pag_opts pag = pixl_pag_defaults();
    pag.n_scales = 0;
    pixl_pag_opts ps = pag, pu = pag;
    ps.train_skip = 1;
    pu.n_gates = 0;
    pixl_model_opts mo = {.n_classes = 11, .width = width, .pag = &pag}, mos = mo, mou = mo;
    mos.pag = &ps;
    mou.pag = &pu;
    pixl_model *m = pixl_model_create("pag_resnet50", &mo, 1);
    if (!m) {
        fprintf(stderr, "pixl bench pag-train: %s\n", pixl_last_error());
        free(img);
        free(lab);
        return 1;
    }
    pixl_params *P = pixl_model_params(m);
    tnet sk = {0}, de = {0}, un = {0};
    int rc = 1;
    printf("pag_resnet50 width %g, output stride 16, %d gates, no MultiPool, TRAIN, input %dx3x%dx%d, %d threads\n"
           "one step = zero the gradients, forward, backward (cross-entropy + budget losses); min of %d rounds,\n"
           "each round every row and network in turn\n",
           width, pag.n_gates, B, H, W, pixl_num_threads(), runs);
    if (tnet_build(&sk, P, &mos, B, H, W, img, lab) || tnet_build(&de, P, &mo, B, H, W, img, lab) ||
        (ungated && tnet_build(&un, P, &mou, B, H, W, img, lab)))
        goto done;
    double gated[PIXL_PAG_MAX_GATES] = {0}, per[PIXL_PAG_MAX_GATES];
    const double total = conv_macs(&de, P, gated, PIXL_PAG_MAX_GATES);
    printf("dense network: %.2f GFLOPs of convs in the forward%s\n\n", 2 * total / 1e9,
           ungated ? "; ungated: the plain ResNet-50 (gates: []), measured in the same rounds" : "");
    printf("%7s %7s | %9s | %9s %9s %9s | %13s | %10s\n", "target", "active", "FLOP frac", "skip ms", "dense ms",
           "time frac", "saved t/FLOPs", "ungated ms");
    /* the gate biases of every row, calibrated once, row after row */
    int bi[PIXL_PAG_MAX_GATES], nb = 0;
    for (int i = 0; i < pixl_ctx_probe_count(sk.ctx) && nb < PIXL_PAG_MAX_GATES; i++) {
        const char *name;
        int st, bl;
        pixl_ctx_probe(sk.ctx, i, &name);
        char bn[64];
        if (sscanf(name, "gate.res%d_%d", &st, &bl) != 2) continue;
        snprintf(bn, sizeof bn, "layer%d.%d.gate.bias", st - 1, bl - 1);
        if ((bi[nb++] = pixl_params_find(P, bn)) < 0) goto done;
    }
    float (*bias)[PIXL_PAG_MAX_GATES][2] = calloc((size_t)nf, sizeof *bias);
    double(*res)[5] = calloc((size_t)nf, sizeof *res); /* skip, dense, ungated ms (min), active, skipped MACs (mean) */
    if (!bias || !res) {
        free(bias);
        free(res);
        goto done;
    }
    for (int k = 0; k < nf; k++) {
        if (calibrate(&sk, P, fr[k])) {
            fprintf(stderr, "pixl bench pag-train: calibrating the gates: %s\n", pixl_last_error());
            free(bias);
            free(res);
            goto done;
        }
        for (int g = 0; g < nb; g++) memcpy(bias[k][g], pixl_params_data(P, bi[g]), 2 * sizeof(float));
        res[k][0] = res[k][1] = res[k][2] = INFINITY;
    }
    /* rounds: every row once per round, so that load on the machine spreads over the rows */
    tnet_step(&sk); /* warm-up */
    tnet_step(&de);
    if (ungated) tnet_step(&un);
    if (profile) pixl_ctx_profile(sk.ctx, 1), pixl_ctx_profile(de.ctx, 1);
    double tu = INFINITY;
    for (int r = 0; r < runs; r++) {
        for (int k = 0; k < nf; k++) {
            for (int g = 0; g < nb; g++) memcpy(pixl_params_data(P, bi[g]), bias[k][g], 2 * sizeof(float));
            int ng = 0;
            const double a = tnet_step(&sk);
            res[k][3] += active_fraction(&sk, per, &ng) / runs;
            for (int g = 0; g < ng; g++) res[k][4] += (1.0 - per[g]) * gated[g] / runs;
            const double b = tnet_step(&de);
            if (isnan(a) || isnan(b)) {
                free(bias);
                free(res);
                goto done;
            }
            res[k][0] = fmin(res[k][0], a);
            res[k][1] = fmin(res[k][1], b);
        }
        if (ungated) tu = fmin(tu, tnet_step(&un));
    }
    for (int k = 0; k < nf; k++) {
        const double ts = res[k][0], td = res[k][1], ff = (total - res[k][4]) / total, tf = ts / td;
        char ratio[32] = "-", tus[32] = "-";
        if (ff < 0.995) snprintf(ratio, sizeof ratio, "%.2f", (1 - tf) / (1 - ff));
        if (ungated && k == 0) snprintf(tus, sizeof tus, "%.1f", tu);
        printf("%7.2f %7.3f | %9.3f | %9.1f %9.1f %9.3f | %13s | %10s\n", fr[k], res[k][3], ff, ts, td, tf, ratio, tus);
    }
    if (profile) {
        fprintf(stderr, "train_skip, all rows: ");
        pixl_ctx_profile_print(sk.ctx, stderr, 0);
        fprintf(stderr, "dense, all rows: ");
        pixl_ctx_profile_print(de.ctx, stderr, 0);
    }
    free(bias);
    free(res);
    rc = 0;
done:
    pixl_ctx_free(sk.ctx);
    pixl_ctx_free(de.ctx);
    pixl_ctx_free(un.ctx);
    pixl_model_free(m);
    free(img);
    free(lab);
    return rc;
}
