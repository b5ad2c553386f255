/* cmd_bench.c — `pixl bench ops`: forward and backward time (median of
 * several runs after warm-up) and GFLOP/s of the core ops on typical
 * segmentation-network shapes, side by side with PyTorch on the same number
 * of threads when /usr/bin/python3 can import torch (bench/bench_torch_ops.py,
 * same op names and shapes, JSON on stdout).
 *
 *   pixl bench ops [--threads N] [--filter STR] [--runs R] [--no-torch]
 *
 * Warm-up: at least 3 runs and 300 ms per op and pass, on both sides.
 * Backward is pixl_backward_from() on the op's output with a fixed upstream
 * gradient: gradients of the input and of every parameter. Its FLOP count
 * for a convolution is twice the forward (data + weight gradients). */
#include <cjson/cJSON.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_args.h"
#include "bench_torch.h"
#include "pixl.h"
#include "bench_util.h"

typedef enum { B_CONV, B_CONVT, B_BN_RELU, B_RESIZE, B_MAXPOOL } bench_kind;

typedef struct bench_op {
    const char *name, *desc;
    bench_kind kind;
    int64_t shape[4]; /* input (N, C, H, W) */
    int out_ch, k, stride, pad, groups, out_pad;
} bench_op;

/* keep names and shapes in step with bench/bench_torch_ops.py */
static const bench_op g_ops[] = {
    {"conv3x3_64_64", "conv2d 3x3 64->64, 1x64x180x240", B_CONV, {1, 64, 180, 240}, 64, 3, 1, 1, 1, 0},
    {"conv3x3_128_128", "conv2d 3x3 128->128, 1x128x90x120", B_CONV, {1, 128, 90, 120}, 128, 3, 1, 1, 1, 0},
    {"conv3x3_s2_64_128", "conv2d 3x3 s2 64->128, 1x64x180x240", B_CONV, {1, 64, 180, 240}, 128, 3, 2, 1, 1, 0},
    {"dwconv3x3_128", "depthwise 3x3, 1x128x90x120", B_CONV, {1, 128, 90, 120}, 128, 3, 1, 1, 128, 0},
    {"conv1x1_256_64", "conv2d 1x1 256->64, 1x256x90x120", B_CONV, {1, 256, 90, 120}, 64, 1, 1, 0, 1, 0},
    {"convT3x3_s2_64", "conv_transpose2d 3x3 s2 op1 64->64, 1x64x90x120", B_CONVT, {1, 64, 90, 120}, 64, 3, 2, 1, 1,
     1},
    {"bn_relu_64", "batch_norm2d(train)+relu, 1x64x180x240", B_BN_RELU, {1, 64, 180, 240}, 0, 0, 0, 0, 0, 0},
    {"resize_bilinear_x2", "bilinear resize x2, 1x64x90x120", B_RESIZE, {1, 64, 90, 120}, 0, 0, 0, 0, 0, 0},
    {"maxpool2x2", "max_pool2d 2x2, 1x64x180x240", B_MAXPOOL, {1, 64, 180, 240}, 0, 0, 0, 0, 0, 0},
};
#define N_OPS (int)(sizeof g_ops / sizeof g_ops[0])

static pixl_tensor *build(pixl_ctx *ctx, const bench_op *op, pixl_tensor *x)
{
    pixl_conv2d_opts o = {.stride = {op->stride, op->stride},
                          .padding = {op->pad, op->pad},
                          .groups = op->groups,
                          .output_padding = {op->out_pad, op->out_pad}};
    switch (op->kind) {
    case B_CONV: return pixl_nn_conv2d(ctx, "op", x, op->out_ch, op->k, op->k, &o, 1);
    case B_CONVT: return pixl_nn_conv_transpose2d(ctx, "op", x, op->out_ch, op->k, op->k, &o, 1);
    case B_BN_RELU: return pixl_relu(ctx, pixl_nn_batch_norm2d(ctx, "op", x, NULL));
    case B_RESIZE:
        return pixl_resize(ctx, x, (int)op->shape[2] * 2, (int)op->shape[3] * 2, PIXL_RESIZE_BILINEAR, 0, 2.0, 2.0);
    case B_MAXPOOL: return pixl_max_pool2d(ctx, x, &(pixl_pool2d_opts){.kernel = {2, 2}});
    }
    return NULL;
}

/* multiply-adds count 2 */
static double flops_of(const bench_op *op, const pixl_tensor *y)
{
    const int64_t *ys = pixl_tensor_shape(y);
    double outs = (double)ys[0] * ys[1] * ys[2] * ys[3];
    if (op->kind == B_CONV) return 2.0 * outs * (double)(op->shape[1] / op->groups) * op->k * op->k;
    if (op->kind == B_CONVT) /* every input element meets out_ch/groups * k*k weights */
        return 2.0 * (double)op->shape[0] * op->shape[1] * op->shape[2] * op->shape[3] * (op->out_ch / op->groups) *
               op->k * op->k;
    return 0;
}

typedef struct result { double fwd, bwd, flops; int ok; } result;

static void fill(float *p, int64_t n, unsigned s)
{
    for (int64_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        p[i] = (float)((s >> 8) * (1.0 / 16777216.0)) * 2.0f - 1.0f;
    }
}

static result run_op(const bench_op *op, int runs)
{
    result r = {0};
    pixl_params *P = pixl_params_new();
    pixl_ctx *ctx = pixl_ctx_new(P, PIXL_MODE_TRAIN);
    pixl_tensor *x = pixl_input_grad(ctx, "x", 4, op->shape);
    pixl_tensor *y = build(ctx, op, x);
    float *g = NULL;
    double *t = malloc(sizeof(double) * (size_t)runs);
    if (!y || pixl_ctx_plan(ctx) || !t) {
        fprintf(stderr, "pixl bench: %s: %s\n", op->name, pixl_ctx_error(ctx) ? pixl_ctx_error(ctx) : pixl_last_error());
        goto done;
    }
    fill(pixl_tensor_data(x), pixl_tensor_numel(x), 1);
    g = malloc(sizeof(float) * (size_t)pixl_tensor_numel(y));
    if (!g) goto done;
    fill(g, pixl_tensor_numel(y), 2);
    r.flops = flops_of(op, y);
    /* warm-up by count and by time (as bench_torch_ops.py) */
    double w0 = pixl_tool_now_ms();
    for (int i = 0; i < 3 || pixl_tool_now_ms() - w0 < 300; i++)
        if (pixl_forward(ctx)) goto fail;
    for (int i = 0; i < runs; i++) {
        double t0 = pixl_tool_now_ms();
        if (pixl_forward(ctx)) goto fail;
        t[i] = pixl_tool_now_ms() - t0;
    }
    r.fwd = pixl_tool_median(t, runs);
    w0 = pixl_tool_now_ms();
    for (int i = 0; i < 3 || pixl_tool_now_ms() - w0 < 300; i++)
        if (pixl_backward_from(ctx, y, g)) goto fail;
    for (int i = 0; i < runs; i++) {
        double t0 = pixl_tool_now_ms();
        if (pixl_backward_from(ctx, y, g)) goto fail;
        t[i] = pixl_tool_now_ms() - t0;
    }
    r.bwd = pixl_tool_median(t, runs);
    r.ok = 1;
    goto done;
fail:
    fprintf(stderr, "pixl bench: %s: %s\n", op->name, pixl_last_error());
done:
    free(g);
    free(t);
    pixl_ctx_free(ctx);
    pixl_params_free(P);
    return r;
}

int cmd_bench_pac(int argc, char **argv); /* cmd_bench_pac.c: pixl bench pac */

/* run the PyTorch side; returns the parsed "ops" object's parent or NULL */
static cJSON *run_torch(int threads, const char *filter, int runs)
{
    char args[512];
    snprintf(args, sizeof args, " --threads %d --runs %d --filter", threads, runs);
    if (pixl_tool_shell_arg(args, sizeof args, filter)) {
        printf("PyTorch: filter '%s' is too long; pixl only\n", filter);
        return NULL;
    }
    return pixl_tool_run_torch("bench_torch_ops.py", "PIXL_BENCH_SCRIPT", args);
}

int cmd_bench_models(int argc, char **argv);   /* cmd_bench_models.c */
int cmd_bench_pixelnet(int argc, char **argv); /* cmd_bench_pixelnet.c */
int cmd_bench_pag(int argc, char **argv);      /* cmd_bench_pag.c */
int cmd_bench_gated(int argc, char **argv);    /* cmd_bench_gated.c */
int cmd_bench_pag_train(int argc, char **argv); /* cmd_bench_pag_train.c */
int cmd_bench_train(int argc, char **argv);    /* cmd_bench_train.c */

/* `pixl bench NAME ...`: one line per benchmark (ops is this file's own) */
static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *usage;
} g_benches[] = {
    {"models", cmd_bench_models, "[--models NAME,...] [--input CxHxW] [--runs R] [--no-torch] [--json FILE]"},
    {"train", cmd_bench_train, "[--models NAME,...] [--batch B] [--input CxHxW] [--runs R] [--no-torch] [--json FILE]"},
    {"pixelnet", cmd_bench_pixelnet, "[--backbone NAME] [--size HxW] [--batch B] [--pixels P,...] [--steps S] [--no-torch]"},
    {"pac", cmd_bench_pac, "[--threads N] [--runs R] [--no-torch]"},
    {"gated", cmd_bench_gated, "[--threads N] [--runs R] [--filter STR] [--sigma S] [--fractions F,...]"},
    {"pag", cmd_bench_pag, "[--threads N] [--width W] [--input HxW] [--runs R] [--fractions F,...] [--model CKPT [--image IMG]] [--profile]"},
    {"pag-train", cmd_bench_pag_train, "[--threads N] [--width W] [--batch B] [--input HxW] [--runs R] [--fractions F,...] [--no-ungated]"},
};

static void usage(void)
{
    fprintf(stderr, "usage: pixl bench ops [--threads N] [--filter STR] [--runs R] [--no-torch]\n");
    for (size_t i = 0; i < sizeof g_benches / sizeof g_benches[0]; i++)
        fprintf(stderr, "       pixl bench %s %s\n", g_benches[i].name, g_benches[i].usage);
}

int cmd_bench(int argc, char **argv)
{
    for (size_t i = 0; argc > 1 && i < sizeof g_benches / sizeof g_benches[0]; i++)
        if (!strcmp(argv[1], g_benches[i].name)) return g_benches[i].fn(argc, argv);
    const char *filter = "";
    int torch = 1, runs = 10, have_ops = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "ops")) have_ops = 1;
        else if (!strcmp(argv[i], "--no-torch")) torch = 0;
        else if (!strcmp(argv[i], "--filter") && i + 1 < argc) filter = argv[++i];
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc) {
            if (pixl_arg_int("bench ops", "--runs", argv[++i], 1, INT_MAX, &runs)) return 2;
        } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            int n;
            if (pixl_arg_int("bench ops", "--threads", argv[++i], 1, PIXL_ARG_MAX_THREADS, &n)) return 2;
            pixl_set_num_threads(n);
        } else {
            usage();
            return 2;
        }
    }
    if (!have_ops || runs < 1) {
        usage();
        return 2;
    }
    int threads = pixl_num_threads();
    /* pixl first, PyTorch afterwards: pixl's idle worker threads must not
     * share the cores with the PyTorch process while it is measured */
    result res[N_OPS];
    for (int i = 0; i < N_OPS; i++) {
        res[i] = (result){0};
        if (filter[0] && !strstr(g_ops[i].name, filter)) continue;
        res[i] = run_op(&g_ops[i], runs);
        if (!res[i].ok) fprintf(stderr, "pixl bench: %s failed: %s\n", g_ops[i].name, pixl_last_error());
    }
    cJSON *tj = torch ? run_torch(threads, filter, runs) : NULL;
    const cJSON *tops = tj ? cJSON_GetObjectItemCaseSensitive(tj, "ops") : NULL;
    const cJSON *tver = tj ? cJSON_GetObjectItemCaseSensitive(tj, "torch") : NULL;
    printf("pixl %s, %d thread%s, median of %d runs%s%s\n", pixl_version(), threads, threads == 1 ? "" : "s", runs,
           tops ? ", PyTorch " : "", tops && cJSON_IsString(tver) ? tver->valuestring : "");
    printf("%-20s %-4s %10s %9s %10s %7s   %s\n", "op", "pass", "pixl ms", "GFLOP/s", "torch ms", "ratio",
           "description");
    int failed = 0;
    for (int i = 0; i < N_OPS; i++) {
        const bench_op *op = &g_ops[i];
        if (filter[0] && !strstr(op->name, filter)) continue;
        result r = res[i];
        if (!r.ok) {
            printf("%-20s  (failed)\n", op->name);
            failed++;
            continue;
        }
        const cJSON *to = tops ? cJSON_GetObjectItemCaseSensitive(tops, op->name) : NULL;
        for (int pass = 0; pass < 2; pass++) {
            double ms = pass ? r.bwd : r.fwd, fl = r.flops * (pass ? 2 : 1);
            char gf[32] = "-", tms[32] = "-", ratio[32] = "-";
            if (fl > 0) snprintf(gf, sizeof gf, "%.1f", fl / ms / 1e6);
            const cJSON *tv = to ? cJSON_GetObjectItemCaseSensitive(to, pass ? "bwd" : "fwd") : NULL;
            if (cJSON_IsNumber(tv) && tv->valuedouble > 0) {
                snprintf(tms, sizeof tms, "%.2f", tv->valuedouble);
                snprintf(ratio, sizeof ratio, "%.2f", ms / tv->valuedouble);
            }
            printf("%-20s %-4s %10.2f %9s %10s %7s   %s\n", op->name, pass ? "bwd" : "fwd", ms, gf, tms, ratio,
                   pass ? "" : op->desc);
        }
    }
    printf("ratio = pixl ms / PyTorch ms (below 1: pixl is faster)\n");
    cJSON_Delete(tj);
    return failed ? 1 : 0;
}
