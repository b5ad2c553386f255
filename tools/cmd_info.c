/* cmd_info.c — `pixl info MODEL|CHECKPOINT [--input CxHxW]`: the graph of a
 * model as a table (node, op, output shape, parameters, FLOPs) with totals:
 * parameters, GFLOPs (2 x multiply-adds of convolutions and linear layers,
 * the convention of ../shared/anchors/seg_models.py) and planned memory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pixl_impl.h"

/* multiply-adds of a node, from shapes only (also used by cmd_bench_models.c) */
/* multiply-adds of a node: conv, linear, PAC convolutions (the kernel product not counted), PixelNet's dense head */
double info_node_macs(const pixl_tensor *t);
double info_node_macs(const pixl_tensor *t)
{
    if (!t->def) return 0;
    const char *op = t->def->name;
    if (!strcmp(op, "conv2d") && t->n_src >= 2) /* out * IC/g*KH*KW */
        return (double)t->numel * (double)(t->src[1]->numel / t->src[1]->shape[0]);
    if (!strcmp(op, "conv_transpose2d") && t->n_src >= 2) /* in * OC/g*KH*KW */
        return (double)t->src[0]->numel * (double)(t->src[1]->numel / t->src[1]->shape[0]);
    if (!strcmp(op, "linear") && t->n_src >= 2) return (double)t->numel * (double)t->src[1]->shape[1];
    if (!strcmp(op, "pacconv2d") && t->n_src >= 3) { /* out * IC*KH*KW (shared filters: out * KH*KW) */
        const pixl_tensor *w = t->src[2];
        double taps = (double)(w->shape[2] * w->shape[3]);
        return (double)t->numel * taps * (w->shape[0] == 1 && w->shape[1] == 1 ? 1.0 : (double)t->src[0]->shape[1]);
    }
    if (!strcmp(op, "pacconv_transpose2d") && t->n_src >= 3) { /* in * OC*KH*KW, like conv_transpose2d */
        const pixl_tensor *w = t->src[2];
        double taps = (double)(w->shape[2] * w->shape[3]);
        return (double)t->src[0]->numel * taps * (w->shape[0] == 1 && w->shape[1] == 1 ? 1.0 : (double)t->shape[1]);
    }
    if (!strcmp(op, "hypercolumn_mlp_dense")) { /* PixelNet's head at every pixel: pixels * sum in*out (nominal) */
        double per_pixel = 0;
        for (int k = 0; k < t->n_src; k++)
            if (t->src[k]->ndim == 2 && (t->src[k]->flags & PIXL_FLAG_PARAM)) per_pixel += (double)t->src[k]->numel;
        return (double)(t->numel / t->shape[1]) * per_pixel;
    }
    return 0;
}

int cmd_info(int argc, char **argv)
{
    const char *what = NULL;
    int C = 3, H = 360, W = 480, verbose = 0, K = 11;
    const char *variant = NULL, *backbone = NULL;
    int output_stride = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--input") && i + 1 < argc) {
            if (sscanf(argv[++i], "%dx%dx%d", &C, &H, &W) != 3 || C < 1 || H < 1 || W < 1) {
                fprintf(stderr, "pixl info: --input takes CxHxW, e.g. 3x360x480\n");
                return 2;
            }
        } else if (!strcmp(argv[i], "--classes") && i + 1 < argc) K = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--variant") && i + 1 < argc) variant = argv[++i];
        else if (!strcmp(argv[i], "--backbone") && i + 1 < argc) backbone = argv[++i];
        else if (!strcmp(argv[i], "--output-stride") && i + 1 < argc) output_stride = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--layers")) verbose = 1;
        else if (argv[i][0] != '-' && !what) what = argv[i];
        else {
            what = NULL;
            break;
        }
    }
    if (!what) {
        fprintf(stderr, "usage: pixl info MODEL|CHECKPOINT.safetensors [--input CxHxW] [--classes K] [--variant V]\n"
                        "                 [--backbone B] [--output-stride N] [--layers]\n"
                        "models:");
        for (int i = 0; i < pixl_model_count(); i++) fprintf(stderr, " %s", pixl_model_name(i));
        fprintf(stderr, "\n");
        return 2;
    }
    size_t l = strlen(what);
    pixl_model *m = l > 12 && !strcmp(what + l - 12, ".safetensors")
                        ? pixl_model_load(what)
                        : pixl_model_create(what,
                                            &(pixl_model_opts){.n_classes = K, .in_channels = C, .variant = variant,
                                                               .backbone = backbone, .output_stride = output_stride},
                                            0);
    if (!m) {
        fprintf(stderr, "pixl info: %s\n", pixl_last_error());
        return 1;
    }
    pixl_ctx *ctx = pixl_ctx_new(pixl_model_params(m), PIXL_MODE_EVAL);
    int64_t s[4] = {1, C, H, W};
    pixl_tensor *x = pixl_input(ctx, "input", PIXL_F32, 4, s);
    pixl_tensor *y = pixl_model_build(ctx, pixl_model_arch(m), x, pixl_model_options(m));
    if (!y || pixl_ctx_plan(ctx)) {
        fprintf(stderr, "pixl info: %s\n", pixl_ctx_error(ctx) ? pixl_ctx_error(ctx) : pixl_last_error());
        pixl_ctx_free(ctx);
        pixl_model_free(m);
        return 1;
    }
    double macs = 0;
    int n_ops = 0;
    if (verbose) printf("%5s  %-20s %-24s %12s %10s\n", "node", "op", "output", "params", "MFLOPs");
    for (int i = 0; i < ctx->n_nodes; i++) {
        pixl_tensor *t = ctx->nodes[i];
        if (!t->def) continue;
        n_ops++;
        double mc = info_node_macs(t);
        macs += mc;
        if (verbose) {
            int64_t np = 0;
            for (int k = 0; k < t->n_src; k++)
                if (t->src[k] && (t->src[k]->flags & PIXL_FLAG_PARAM) &&
                    pixl_params_kind(ctx->P, t->src[k]->param_index) == PIXL_PARAM)
                    np += t->src[k]->numel;
            char sh[96];
            pixl_shape_str(t->ndim, t->shape, sh, sizeof sh);
            printf("%5d  %-20s %-24s %12lld %10.1f\n", i, t->def->name, sh, (long long)np, 2 * mc / 1e6);
        }
    }
    char sh[96];
    pixl_shape_str(y->ndim, y->shape, sh, sizeof sh);
    printf("model       %s\n", pixl_model_arch(m));
    printf("input       1x%dx%dx%d\n", C, H, W);
    printf("output      %s\n", sh);
    printf("ops         %d\n", n_ops);
    printf("parameters  %lld\n", (long long)pixl_params_total(pixl_model_params(m)));
    printf("GFLOPs      %.2f  (2 x multiply-adds of conv and linear layers)\n", 2 * macs / 1e9);
    printf("memory      %.1f MB planned for inference (%.1f MB without reuse)\n", pixl_ctx_arena_bytes(ctx) / 1e6,
           pixl_ctx_unplanned_bytes(ctx) / 1e6);
    pixl_ctx_free(ctx);
    pixl_model_free(m);
    return 0;
}
