/* cmd_bench_pixelnet.c — `pixl bench pixelnet`: training throughput of
 * PixelNet with the head and loss at P sampled pixels per image against the
 * same network with the head at every pixel (the dense baseline: the
 * hypercolumn of all H*W pixels, so the same parameters and arithmetic per
 * pixel as the sampled head, only more pixels), and the same steps in
 * PyTorch side by side.
 *
 *   pixl bench pixelnet [--backbone NAME] [--size HxW] [--batch B] [--classes K]
 *                       [--pixels P,P,...] [--mlp W,W] [--taps a,b] [--steps S]
 *                       [--threads N] [--no-dense] [--no-torch]
 *
 * Defaults: backbone vgg16, 224x224, batch 5, 21 classes, P = 500,2000,8000,
 * 5 steps; the head is pixl's default mlp 512,512 (not PixelNet's 4096,4096).
 * One training step = draw the pixels (uniform sampler, random labels) +
 * forward + backward + SGD update (lr 1e-4, momentum 0.9), timed after one
 * warm-up step; the median of S steps is reported as ms/step and images/s,
 * with the planned memory of each graph.
 *
 * The reference (unless --no-torch): after the pixl runs,
 * /usr/bin/python3 bench/bench_pixelnet.py (PIXL_BENCH_PIXELNET_SCRIPT, or
 * ../bench/ next to the executable) with the same backbone, size, batch,
 * classes, pixels, mlp, taps, steps and pixl's thread count: the same network
 * in PyTorch (torchvision trunk, pixl's taps through BatchNorm2d(affine=False),
 * the hypercolumn as F.embedding_bag over the taps' rows with the four
 * bilinear neighbours, the MLP head, cross-entropy, SGD) timed the same way.
 * Its ms/step and the speed-up (torch ms / pixl ms) are added per row. When
 * torch, the script or its tap list (it exits nonzero if it cannot match
 * pixl's taps) is missing, the table is pixl's only. */
#include <cjson/cJSON.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli_args.h"
#include "bench_torch.h"
#include "models/pixelnet_impl.h"
#include "pixl_train.h"

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
    for (int64_t i = 0; i < bc->B * HW; i++) labels[i] = (int32_t)(pixl__hash64(7, (uint64_t)i) % (uint64_t)bc->K);
    for (int64_t i = 0; i < bc->B * 3 * HW; i++) img[i] = (float)(pixl__hash64(9, (uint64_t)i) % 1000) / 500.0f - 1.0f;
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

/* PyTorch reference: bench/bench_pixelnet.py's JSON, or NULL (the reason printed) */
static cJSON *run_torch(const bench_cfg *bc, const char *pixels, const char *mlp, const char *taps, int dense,
                        int threads)
{
    char args[2048];
    snprintf(args, sizeof args, " --size %dx%d --batch %d --classes %d --steps %d --threads %d%s --backbone", bc->H,
             bc->W, bc->B, bc->K, bc->steps, threads, dense ? "" : " --no-dense");
    int bad = pixl_tool_shell_arg(args, sizeof args, bc->backbone);
    strncat(args, " --pixels", sizeof args - strlen(args) - 1);
    bad |= pixl_tool_shell_arg(args, sizeof args, pixels);
    if (mlp) {
        strncat(args, " --mlp", sizeof args - strlen(args) - 1);
        bad |= pixl_tool_shell_arg(args, sizeof args, mlp);
    }
    if (taps) {
        strncat(args, " --taps", sizeof args - strlen(args) - 1);
        bad |= pixl_tool_shell_arg(args, sizeof args, taps);
    }
    if (bad) {
        printf("PyTorch: options too long for the script's command line; pixl only\n");
        return NULL;
    }
    return pixl_tool_run_torch("bench_pixelnet.py", "PIXL_BENCH_PIXELNET_SCRIPT", args);
}

static double torch_ms(const cJSON *j, const char *key)
{
    const cJSON *c = j ? cJSON_GetObjectItemCaseSensitive(j, "configs") : NULL;
    const cJSON *v = c ? cJSON_GetObjectItemCaseSensitive(c, key) : NULL;
    return cJSON_IsNumber(v) && v->valuedouble > 0 ? v->valuedouble : 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: pixl bench pixelnet [--backbone NAME] [--size HxW] [--batch B] [--classes K]\n"
                    "                           [--pixels P,P,...] [--mlp W,W] [--taps a,b] [--steps S] [--threads N]\n"
                    "                           [--no-dense] [--no-torch]\n");
}

typedef struct bench_row {
    char key[24];     /* the torch script's configuration name: P or "dense" */
    int64_t P;
    int ok;
    double ips, ms, mb;
} bench_row;

int cmd_bench_pixelnet(int argc, char **argv)
{
    bench_cfg bc = {.backbone = "vgg16", .H = 224, .W = 224, .B = 5, .K = 21, .steps = 5};
    const char *pixels = "500,2000,8000", *mlp = NULL, *taps = NULL;
    int dense = 1, torch = 1;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--no-dense")) dense = 0;
        else if (!strcmp(a, "--no-torch")) torch = 0;
        else if (!v) {
            usage();
            return 2;
        } else if (!strcmp(a, "--backbone")) bc.backbone = v, i++;
        else if (!strcmp(a, "--size")) {
            int d[2];
            if (pixl_arg_dims("bench pixelnet", a, v, 2, 1, 65536, d)) return 2;
            bc.H = d[0], bc.W = d[1];
            i++;
        }
        else if (!strcmp(a, "--batch")) {
            if (pixl_arg_int("bench pixelnet", a, v, 1, 65536, &bc.B)) return 2;
            i++;
        } else if (!strcmp(a, "--classes")) {
            if (pixl_arg_int("bench pixelnet", a, v, 2, 65536, &bc.K)) return 2;
            i++;
        }
        else if (!strcmp(a, "--pixels")) pixels = v, i++;
        else if (!strcmp(a, "--mlp")) mlp = v, i++;
        else if (!strcmp(a, "--taps")) taps = v, i++;
        else if (!strcmp(a, "--steps")) {
            if (pixl_arg_int("bench pixelnet", a, v, 1, INT_MAX, &bc.steps)) return 2;
            i++;
        } else if (!strcmp(a, "--threads")) {
            int n;
            if (pixl_arg_int("bench pixelnet", a, v, 1, PIXL_ARG_MAX_THREADS, &n)) return 2;
            pixl_set_num_threads(n);
            i++;
        } else {
            usage();
            return 2;
        }
    }
    if (bc.H < 1 || bc.W < 1 || bc.B < 1 || bc.K < 2 || bc.steps < 1) {
        usage();
        return 2;
    }
    char chk[256]; /* --pixels: counts >= 1 (the first 255 characters, as below) */
    snprintf(chk, sizeof chk, "%s", pixels);
    for (char *save = NULL, *tok = strtok_r(chk, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int p;
        if (pixl_arg_int("bench pixelnet", "--pixels", tok, 1, INT_MAX, &p)) return 2;
    }
    int o = 0;
    if (mlp) o += snprintf(bc.variant + o, sizeof bc.variant - (size_t)o, "mlp=%s;", mlp);
    if (taps) o += snprintf(bc.variant + o, sizeof bc.variant - (size_t)o, "taps=%s;", taps);
    const int threads = pixl_num_threads();
    printf("PixelNet training throughput: backbone %s, %dx%d, batch %d, %d classes, %s, %d threads, median of %d "
           "steps\n",
           bc.backbone, bc.H, bc.W, bc.B, bc.K, bc.variant[0] ? bc.variant : "default head", threads, bc.steps);
    fflush(stdout);
    /* the pixl runs first, then the reference (no idle pixl threads around), then the table */
    char list[256];
    snprintf(list, sizeof list, "%s", pixels);
    int n_rows = 1;
    for (const char *c = list; *c; c++) n_rows += *c == ',';
    bench_row *rows = calloc((size_t)n_rows + 1, sizeof *rows);
    if (!rows) {
        fprintf(stderr, "pixl bench pixelnet: out of memory\n");
        return 1;
    }
    int n = 0, failed = 0;
    for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok && n < n_rows; tok = strtok_r(NULL, ",", &save)) {
        bench_row *r = &rows[n];
        r->P = strtoll(tok, NULL, 10); /* checked above */
        snprintf(r->key, sizeof r->key, "%lld", (long long)r->P);
        r->ok = !run_one(&bc, r->P, 0, &r->ips, &r->ms, &r->mb);
        failed += !r->ok;
        n++;
    }
    if (dense) {
        bench_row *r = &rows[n++];
        r->P = (int64_t)bc.H * bc.W;
        snprintf(r->key, sizeof r->key, "dense");
        r->ok = !run_one(&bc, r->P, 1, &r->ips, &r->ms, &r->mb);
        failed += !r->ok;
    }
    cJSON *tj = torch ? run_torch(&bc, pixels, mlp, taps, dense, threads) : NULL;
    if (tj) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(tj, "torch"), *tl = cJSON_GetObjectItemCaseSensitive(tj, "taps");
        printf("torch = the same steps in PyTorch %s (bench/bench_pixelnet.py), %d threads; its taps:",
               cJSON_IsString(v) ? v->valuestring : "?", threads);
        const cJSON *t;
        cJSON_ArrayForEach(t, tl)
        {
            const cJSON *nm = cJSON_GetArrayItem(t, 0), *st = cJSON_GetArrayItem(t, 1);
            if (cJSON_IsString(nm) && cJSON_IsNumber(st)) printf(" %s/%d", nm->valuestring, st->valueint);
        }
        printf("\n");
        printf("%-22s %12s %10s %10s %10s %14s %9s\n", "pixels per image", "share", "ms/step", "images/s", "arena MB",
               "torch ms/step", "speed-up");
    } else {
        printf("%-22s %12s %10s %10s %10s\n", "pixels per image", "share", "ms/step", "images/s", "arena MB");
    }
    for (int i = 0; i < n; i++) {
        const bench_row *r = &rows[i];
        char label[32];
        if (strcmp(r->key, "dense")) snprintf(label, sizeof label, "%lld", (long long)r->P);
        else snprintf(label, sizeof label, "dense (every pixel)");
        if (!r->ok) {
            printf("%-22s (failed)\n", label);
            continue;
        }
        printf("%-22s %11.2f%% %10.1f %10.2f %10.1f", label, 100.0 * (double)r->P / ((double)bc.H * bc.W), r->ms,
               r->ips, r->mb);
        if (tj) {
            double t = torch_ms(tj, r->key);
            if (t > 0) printf(" %14.1f %8.2fx", t, t / r->ms);
            else printf(" %14s %9s", "-", "-");
        }
        printf("\n");
    }
    cJSON_Delete(tj);
    free(rows);
    return failed ? 1 : 0;
}
