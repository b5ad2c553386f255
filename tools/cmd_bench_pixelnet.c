/* cmd_bench_pixelnet.c — `pixl bench pixelnet`: training throughput of
 * PixelNet with the head and loss at P sampled pixels per image against the
 * same network with the head at every pixel (the dense baseline: the
 * hypercolumn of all H*W pixels, so the same parameters and arithmetic per
 * pixel as the sampled head, only more pixels).
 *
 *   pixl bench pixelnet [--backbone NAME] [--size HxW] [--batch B] [--classes K]
 *                       [--pixels P,P,...] [--mlp W,W] [--taps a,b] [--steps S]
 *                       [--threads N] [--no-dense]
 *
 * Defaults: backbone vgg16, 224x224, batch 5, 21 classes, P = 500,2000,8000,
 * PixelNet's head mlp 4096,4096 is not the default: 512,512 (pixl's). One
 * training step = draw the pixels (uniform sampler, random labels) + forward
 * + backward + SGD update, timed after one warm-up step; the median of S
 * steps is reported as images/s, with the planned memory of each graph. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pixelnet/pixelnet_impl.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct bench_cfg {
    const char *backbone;
    int H, W, B, K, steps;
    char variant[512];
} bench_cfg;

/* one configuration: P pixels per image (P == H*W with dense = every pixel in order) */
static int run_one(const bench_cfg *bc, int64_t P, int dense, double *ips, double *ms, double *mb)
{
    pixl_model_opts mo = {.n_classes = bc->K, .in_channels = 3, .backbone = bc->backbone, .variant = bc->variant};
    pixl_params *Pm = pixl_params_new();
    pixl_params_seed(Pm, 1);
    pixl_ctx *ctx = pixl_ctx_new(Pm, PIXL_MODE_TRAIN);
    int64_t xs[4] = {bc->B, 3, bc->H, bc->W}, ps[2] = {bc->B * P, 3}, ls[1] = {bc->B * P};
    pixl_tensor *x = pixl_input(ctx, "images", PIXL_F32, 4, xs);
    pixl_tensor *pix = pixl_input(ctx, "pixels", PIXL_I32, 2, ps);
    pixl_tensor *lab = pixl_input(ctx, "labels", PIXL_I32, 1, ls);
    pixl_tensor *logits = pixl_pixelnet_sampled(ctx, x, pix, &mo);
    pixl_tensor *loss = pixl_cross_entropy(ctx, logits, lab, NULL, &(pixl_ce_opts){.ignore = 1, .ignore_index = 255});
    int rc = PIXL_OK;
    if (!loss || (rc = pixl_ctx_plan(ctx))) {
        fprintf(stderr, "pixl bench pixelnet: %s\n", pixl_ctx_error(ctx) ? pixl_ctx_error(ctx) : pixl_last_error());
        pixl_ctx_free(ctx);
        pixl_params_free(Pm);
        return rc ? rc : PIXL_ERR_ARG;
    }
    *mb = (double)pixl_ctx_arena_bytes(ctx) / (1 << 20);
    pixl_optim *opt = pixl_optim_new(Pm, &(pixl_optim_opts){.kind = PIXL_OPTIM_SGD, .lr = 1e-4f, .momentum = 0.9f});
    const int64_t HW = (int64_t)bc->H * bc->W;
    int32_t *labels = malloc(sizeof(int32_t) * (size_t)(bc->B * HW));
    float *img = pixl_tensor_data(x);
    for (int64_t i = 0; i < bc->B * HW; i++) labels[i] = (int32_t)(pixl_hash64(7, (uint64_t)i) % (uint64_t)bc->K);
    for (int64_t i = 0; i < bc->B * 3 * HW; i++) img[i] = (float)(pixl_hash64(9, (uint64_t)i) % 1000) / 500.0f - 1.0f;
    if (dense) { /* every pixel, raster order */
        int32_t *pp = pixl_tensor_data(pix), *pl = pixl_tensor_data(lab);
        for (int64_t b = 0, r = 0; b < bc->B; b++)
            for (int64_t q = 0; q < HW; q++, r++) {
                pp[3 * r] = (int32_t)b;
                pp[3 * r + 1] = (int32_t)(q / bc->W);
                pp[3 * r + 2] = (int32_t)(q % bc->W);
                pl[r] = labels[b * HW + q];
            }
    }
    pixl_sampler_opts so = {.kind = PIXL_SAMPLE_UNIFORM, .per_image = (int)P, .n_classes = bc->K};
    double *t = malloc(sizeof(double) * (size_t)(bc->steps + 1));
    for (int s = 0; s <= bc->steps && !rc; s++) {
        double t0 = now_s();
        if (!dense) {
            int64_t got = pixl_sample_pixels(&so, (uint64_t)s, labels, bc->B, bc->H, bc->W, pixl_tensor_data(pix),
                                             pixl_tensor_data(lab));
            if (got < 0) rc = (int)got;
        }
        pixl_params_zero_grad(Pm);
        if (!rc) rc = pixl_forward(ctx);
        if (!rc) rc = pixl_backward(ctx, loss);
        if (!rc) rc = pixl_optim_step(opt);
        t[s] = now_s() - t0;
    }
    if (!rc) {
        qsort(t + 1, (size_t)bc->steps, sizeof(double), cmp_d); /* step 0 is the warm-up */
        double med = t[1 + bc->steps / 2];
        *ms = 1000 * med;
        *ips = bc->B / med;
    } else {
        fprintf(stderr, "pixl bench pixelnet: %s\n", pixl_last_error());
    }
    free(t);
    free(labels);
    pixl_optim_free(opt);
    pixl_ctx_free(ctx);
    pixl_params_free(Pm);
    return rc;
}

static void usage(void)
{
    fprintf(stderr, "usage: pixl bench pixelnet [--backbone NAME] [--size HxW] [--batch B] [--classes K]\n"
                    "                           [--pixels P,P,...] [--mlp W,W] [--taps a,b] [--steps S] [--threads N]\n"
                    "                           [--no-dense]\n");
}

int cmd_bench_pixelnet(int argc, char **argv)
{
    bench_cfg bc = {.backbone = "vgg16", .H = 224, .W = 224, .B = 5, .K = 21, .steps = 5};
    const char *pixels = "500,2000,8000", *mlp = NULL, *taps = NULL;
    int dense = 1;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--no-dense")) dense = 0;
        else if (!v) {
            usage();
            return 2;
        } else if (!strcmp(a, "--backbone")) bc.backbone = v, i++;
        else if (!strcmp(a, "--size") && sscanf(v, "%dx%d", &bc.H, &bc.W) == 2) i++;
        else if (!strcmp(a, "--batch")) bc.B = atoi(v), i++;
        else if (!strcmp(a, "--classes")) bc.K = atoi(v), i++;
        else if (!strcmp(a, "--pixels")) pixels = v, i++;
        else if (!strcmp(a, "--mlp")) mlp = v, i++;
        else if (!strcmp(a, "--taps")) taps = v, i++;
        else if (!strcmp(a, "--steps")) bc.steps = atoi(v), i++;
        else if (!strcmp(a, "--threads")) pixl_set_num_threads(atoi(v)), i++;
        else {
            usage();
            return 2;
        }
    }
    if (bc.H < 1 || bc.W < 1 || bc.B < 1 || bc.K < 2 || bc.steps < 1) {
        usage();
        return 2;
    }
    int o = 0;
    if (mlp) o += snprintf(bc.variant + o, sizeof bc.variant - (size_t)o, "mlp=%s;", mlp);
    if (taps) o += snprintf(bc.variant + o, sizeof bc.variant - (size_t)o, "taps=%s;", taps);
    printf("PixelNet training throughput: backbone %s, %dx%d, batch %d, %d classes, %s, %d threads, median of %d "
           "steps\n",
           bc.backbone, bc.H, bc.W, bc.B, bc.K, bc.variant[0] ? bc.variant : "default head", pixl_num_threads(),
           bc.steps);
    printf("%-22s %12s %10s %10s %10s\n", "pixels per image", "share", "ms/step", "images/s", "arena MB");
    char list[256];
    snprintf(list, sizeof list, "%s", pixels);
    int failed = 0;
    for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int64_t P = atoll(tok);
        double ips = 0, ms = 0, mb = 0;
        if (P < 1) continue;
        if (run_one(&bc, P, 0, &ips, &ms, &mb)) {
            failed++;
            continue;
        }
        printf("%-22lld %11.2f%% %10.1f %10.2f %10.1f\n", (long long)P, 100.0 * (double)P / ((double)bc.H * bc.W),
               ms, ips, mb);
        fflush(stdout);
    }
    if (dense) {
        double ips = 0, ms = 0, mb = 0;
        if (run_one(&bc, (int64_t)bc.H * bc.W, 1, &ips, &ms, &mb)) failed++;
        else
            printf("%-22s %11.2f%% %10.1f %10.2f %10.1f\n", "dense (every pixel)", 100.0, ms, ips, mb);
    }
    return failed ? 1 : 0;
}
