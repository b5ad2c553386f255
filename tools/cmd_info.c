/* cmd_info.c — `pixl info MODEL|CHECKPOINT [--input CxHxW]`: the graph of a
 * model as a table (node, op, output shape, parameters, FLOPs) with totals:
 * parameters, GFLOPs (2 x multiply-adds of convolutions and linear layers,
 * the convention of ../shared/anchors/seg_models.py) and planned memory.
 * A model with PAG gates also gets a table of its gates: the dense FLOPs of
 * each gated 3x3 conv, the expected FLOPs when a fraction lambda of pixels
 * computes (--lambda, default the model's), and MultiPool's branches
 * (dense: every branch at every pixel; gated: one branch per pixel at
 * most, the identity costing nothing). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_args.h"
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
    if (!strcmp(op, "gated_conv3x3") && t->n_src >= 3) /* counted dense: out * C*9 */
        return (double)t->numel * (double)(t->src[2]->numel / t->src[2]->shape[0]);
    if (!strcmp(op, "hypercolumn_mlp_dense")) { /* PixelNet's head at every pixel: pixels * sum in*out (nominal) */
        double per_pixel = 0;
        for (int k = 0; k < t->n_src; k++)
            if (t->src[k]->ndim == 2 && (t->src[k]->flags & PIXL_FLAG_PARAM)) per_pixel += (double)t->src[k]->numel;
        return (double)(t->numel / t->shape[1]) * per_pixel;
    }
    return 0;
}

/* multiply-adds of the 3x3 conv a gate controls: its output pixels x the weight's C_out*C*9 */
static double gate_conv_macs(pixl_ctx *ctx, const pixl_tensor *g, const char *conv_weight)
{
    int i = pixl_params_find(ctx->P, conv_weight);
    if (i < 0) return 0;
    int64_t n = 1;
    int nd = pixl_params_ndim(ctx->P, i);
    const int64_t *sh = pixl_params_shape(ctx->P, i);
    for (int k = 0; k < nd; k++) n *= sh[k];
    return (double)(g->shape[0] * g->shape[2] * g->shape[3]) * (double)n;
}

/* the PAG table: per gate and for MultiPool, dense and expected GFLOPs */
static void info_gates(pixl_ctx *ctx, const pixl_model_opts *mo, float lambda, double total_macs)
{
    const pixl_pag_opts def = pixl_pag_defaults(), *p = mo->pag ? mo->pag : &def;
    if (lambda < 0) lambda = p->lambda;
    double dense = 0, expect = 0;
    printf("\ngates       %d (lambda %.2f: the expected fraction of pixels whose 3x3 conv computes)\n", p->n_gates,
           (double)lambda);
    printf("  %-10s %-18s %12s %14s\n", "gate", "map", "dense MFLOPs", "expected MFLOPs");
    for (int i = 0; i < pixl_ctx_probe_count(ctx); i++) {
        const char *name;
        pixl_tensor *g = pixl_ctx_probe(ctx, i, &name);
        char w[64], sh[64];
        int s, b;
        if (sscanf(name, "gate.res%d_%d", &s, &b) != 2) continue;
        snprintf(w, sizeof w, "layer%d.%d.conv2.weight", s - 1, b - 1);
        double mc = gate_conv_macs(ctx, g, w);
        dense += mc;
        expect += lambda * mc;
        pixl_shape_str(g->ndim, g->shape, sh, sizeof sh);
        printf("  %-10s %-18s %12.1f %14.1f\n", name + 5, sh, 2 * mc / 1e6, 2 * lambda * mc / 1e6);
    }
    pixl_tensor *a = pixl_ctx_probe_find(ctx, "multipool");
    double mp = 0;
    for (int k = 1; a && k < a->shape[1]; k++) {
        char w[64];
        snprintf(w, sizeof w, "multipool.branch%d.weight", k);
        mp += gate_conv_macs(ctx, a, w);
    }
    if (a) {
        int K = (int)a->shape[1] - 1;
        printf("  %-10s %-18s %12.1f %14.1f  (%d dilated branches + identity; one per pixel)\n", "multipool", "",
               2 * mp / 1e6, 2 * mp / K / 1e6, K);
    }
    double mp_exp = a ? mp / (double)(a->shape[1] - 1) : 0;
    printf("GFLOPs      dense %.2f (every branch computed, the seed's way), expected at lambda %.2f: %.2f (%.1f%%)\n",
           2 * total_macs / 1e9, (double)lambda, 2 * (total_macs - dense + expect - mp + mp_exp) / 1e9,
           100 * (total_macs - dense + expect - mp + mp_exp) / total_macs);
}

int cmd_info(int argc, char **argv)
{
    const char *what = NULL;
    int C = 3, H = 360, W = 480, verbose = 0, K = 11;
    unsigned load_flags = 0;
    const char *variant = NULL, *backbone = NULL;
    int output_stride = 0;
    float width = 0, lambda = -1;
    pixl_pag_opts pag = pixl_pag_defaults();
    int pag_given = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--input") && i + 1 < argc) {
            int d[3];
            if (pixl_arg_dims("info", "--input", argv[++i], 3, 1, 65536, d)) return 2;
            C = d[0], H = d[1], W = d[2];
        } else if (!strcmp(argv[i], "--classes") && i + 1 < argc) {
            if (pixl_arg_int("info", "--classes", argv[++i], 1, 65536, &K)) return 2;
        } else if (!strcmp(argv[i], "--variant") && i + 1 < argc) variant = argv[++i];
        else if (!strcmp(argv[i], "--backbone") && i + 1 < argc) backbone = argv[++i];
        else if (!strcmp(argv[i], "--output-stride") && i + 1 < argc) {
            if (pixl_arg_int("info", "--output-stride", argv[++i], 1, 64, &output_stride)) return 2;
        } else if (!strcmp(argv[i], "--width") && i + 1 < argc) {
            if (pixl_arg_float_above("info", "--width", argv[++i], 0, 64, &width)) return 2;
        } else if (!strcmp(argv[i], "--lambda") && i + 1 < argc) { /* the fraction of pixels that compute */
            if (pixl_arg_float_above("info", "--lambda", argv[++i], 0, 1, &lambda)) return 2;
        } else if (!strcmp(argv[i], "--pag") && i + 1 < argc) { /* KEY=VALUE of pixl_pag_set */
            char kv[512];
            snprintf(kv, sizeof kv, "%s", argv[++i]);
            char *eq = strchr(kv, '=');
            if (!eq) {
                fprintf(stderr, "pixl info: --pag takes KEY=VALUE, e.g. lambda=0.5\n");
                return 2;
            }
            *eq = 0;
            if (pixl_pag_set(&pag, kv, eq + 1)) {
                fprintf(stderr, "pixl info: %s\n", pixl_last_error());
                return 2;
            }
            pag_given = 1;
        }
        else if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--layers")) verbose = 1;
        else if (!strcmp(argv[i], "--allow-nonfinite")) load_flags |= PIXL_LOAD_ALLOW_NONFINITE;
        else if (argv[i][0] != '-' && !what) what = argv[i];
        else {
            what = NULL;
            break;
        }
    }
    if (!what) {
        fprintf(stderr, "usage: pixl info MODEL|CHECKPOINT.safetensors [--input CxHxW] [--classes K] [--variant V]\n"
                        "                 [--backbone B] [--output-stride N] [--width W] [--layers]\n"
                        "                 [--allow-nonfinite]  (a checkpoint holding NaN/Inf values)\n"
                        "                 [--lambda L] [--pag KEY=VALUE ...]  (pag_resnet50: gates, docs/pag.md)\n"
                        "models:");
        for (int i = 0; i < pixl_model_count(); i++) fprintf(stderr, " %s", pixl_model_name(i));
        fprintf(stderr, "\n");
        return 2;
    }
    size_t l = strlen(what);
    pixl_model *m = l > 12 && !strcmp(what + l - 12, ".safetensors")
                        ? pixl_model_load_ex(what, load_flags)
                        : pixl_model_create(what,
                                            &(pixl_model_opts){.n_classes = K, .in_channels = C, .variant = variant,
                                                               .backbone = backbone, .output_stride = output_stride,
                                                               .width = width, .pag = pag_given ? &pag : NULL},
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
            char op[64];
            if (t->fused_into) snprintf(op, sizeof op, "+%s (in %d)", t->unfused_def->name, t->fused_into->id);
            else snprintf(op, sizeof op, "%s", t->def->name);
            printf("%5d  %-20s %-24s %12lld %10.1f\n", i, op, sh, (long long)np, 2 * mc / 1e6);
        }
    }
    char sh[96];
    pixl_shape_str(y->ndim, y->shape, sh, sizeof sh);
    printf("model       %s\n", pixl_model_arch(m));
    printf("input       1x%dx%dx%d\n", C, H, W);
    printf("output      %s\n", sh);
    printf("ops         %d", n_ops);
    if (pixl_ctx_fused_count(ctx))
        printf(" (%d of them fused into the convolution before them: PIXL_FUSION, pixl.h)", pixl_ctx_fused_count(ctx));
    printf("\n");
    printf("parameters  %lld\n", (long long)pixl_params_total(pixl_model_params(m)));
    printf("GFLOPs      %.2f  (2 x multiply-adds of conv and linear layers)\n", 2 * macs / 1e9);
    printf("memory      %.1f MB planned for inference (%.1f MB without reuse)\n", pixl_ctx_arena_bytes(ctx) / 1e6,
           pixl_ctx_unplanned_bytes(ctx) / 1e6);
    if (pixl_ctx_probe_count(ctx)) info_gates(ctx, pixl_model_options(m), lambda, macs);
    pixl_ctx_free(ctx);
    pixl_model_free(m);
    return 0;
}
