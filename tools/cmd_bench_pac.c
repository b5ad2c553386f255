/* cmd_bench_pac.c — `pixl bench pac`: PacConv2d 64->64 5x5 (guidance 3
 * channels, input 1x64x180x240) and PacConvTranspose2d 64->64 5x5 stride 2
 * (input 1x64x90x120, guidance at 180x240) against pixl's plain conv2d /
 * conv_transpose2d of the same shapes and against pacnet's native PyTorch
 * path (bench/bench_pac.py: unfold, multiply, einsum) on the same number of
 * threads. Reports forward (EVAL context) and forward+backward (TRAIN
 * context: gradients of input, guidance, weight, bias) medians and the
 * planned arena bytes (pixl_ctx_arena_bytes) of both contexts, then the
 * targets: >= 5x faster than PyTorch native, <= 3x plain conv time, arena
 * <= 2x plain conv. Also PacCRF (11 classes, 5 mean-field steps, one 4d 5x5
 * term, 1x11x180x240) against the same native path.
 *
 *   pixl bench pac [--threads N] [--runs R] [--no-torch] */
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

typedef struct pac_case {
    const char *name, *desc;
    int pac, transposed; /* pac 2: PacCRF (x = unary, g = edge features) */
    int64_t xs[4], gs[4];
    int plain;           /* index of the plain layer it is compared with, or -1 */
} pac_case;

static const pac_case g_cases[] = {
    {"pacconv5x5_64_64", "PacConv2d 5x5 p2 64->64, x 1x64x180x240, guide 3ch", 1, 0, {1, 64, 180, 240},
     {1, 3, 180, 240}, 1},
    {"conv5x5_64_64", "conv2d 5x5 p2 64->64, x 1x64x180x240", 0, 0, {1, 64, 180, 240}, {0}, -1},
    {"pacconvT5x5_s2_64_64", "PacConvTranspose2d 5x5 s2 p2 op1 64->64, x 1x64x90x120, guide 3x180x240", 1, 1,
     {1, 64, 90, 120}, {1, 3, 180, 240}, 3},
    {"convT5x5_s2_64_64", "conv_transpose2d 5x5 s2 p2 op1 64->64, x 1x64x90x120", 0, 1, {1, 64, 90, 120}, {0}, -1},
    {"paccrf11_5steps", "PacCRF 11 classes, 5 steps, one '4d' 5x5 term, unary 1x11x180x240, edge features 5ch (YXRGB)",
     2, 0, {1, 11, 180, 240}, {1, 5, 180, 240}, -1},
};
#define N_CASES (int)(sizeof g_cases / sizeof g_cases[0])

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void fill(float *p, int64_t n, unsigned s, float scale)
{
    for (int64_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        p[i] = ((float)((s >> 8) * (1.0 / 16777216.0)) * 2.0f - 1.0f) * scale;
    }
}

typedef struct res { double fwd, fwdbwd; size_t arena_eval, arena_train; int ok; } res;

static pixl_tensor *build(pixl_ctx *ctx, const pac_case *c, pixl_tensor *x, pixl_tensor *g)
{
    if (c->pac == 2) { /* pacnet's README example CRF */
        pixl_crf_opts o = pixl_crf_defaults();
        if (pixl_crf_add_term(&o, 5, 1, 1, PIXL_CRF_4D, 1, 1.0f)) return NULL;
        return pixl_nn_paccrf(ctx, "crf", x, 1, &g, &o);
    }
    if (c->pac) {
        pixl_pac_opts o = {.kernel = {5, 5}, .padding = {2, 2}};
        if (c->transposed) {
            o.stride[0] = o.stride[1] = 2;
            o.output_padding[0] = o.output_padding[1] = 1;
            return pixl_nn_pacconv_transpose2d(ctx, "op", x, g, NULL, 64, &o, 1);
        }
        return pixl_nn_pacconv2d(ctx, "op", x, g, NULL, 64, &o, 1);
    }
    pixl_conv2d_opts o = {.padding = {2, 2}};
    if (c->transposed) {
        o.stride[0] = o.stride[1] = 2;
        o.output_padding[0] = o.output_padding[1] = 1;
        return pixl_nn_conv_transpose2d(ctx, "op", x, 64, 5, 5, &o, 1);
    }
    return pixl_nn_conv2d(ctx, "op", x, 64, 5, 5, &o, 1);
}

/* time `runs` calls of forward (train = 0) or forward+backward (train = 1) */
static int g_profile; /* --profile: per-op time of one extra pass (stderr) */

static int measure(const pac_case *c, int train, int runs, double *ms, size_t *arena)
{
    pixl_params *P = pixl_params_new();
    pixl_params_seed(P, 1);
    pixl_ctx *ctx = pixl_ctx_new(P, train ? PIXL_MODE_TRAIN : PIXL_MODE_EVAL);
    pixl_tensor *x = train ? pixl_input_grad(ctx, "x", 4, c->xs) : pixl_input(ctx, "x", PIXL_F32, 4, c->xs);
    pixl_tensor *g = NULL;
    if (c->pac) g = train ? pixl_input_grad(ctx, "g", 4, c->gs) : pixl_input(ctx, "g", PIXL_F32, 4, c->gs);
    pixl_tensor *y = build(ctx, c, x, g);
    double *t = malloc(sizeof(double) * (size_t)runs);
    float *go = NULL;
    int rc = -1;
    if (!y || pixl_ctx_plan(ctx) || !t) {
        fprintf(stderr, "pixl bench pac: %s: %s\n", c->name, pixl_ctx_error(ctx) ? pixl_ctx_error(ctx) : pixl_last_error());
        goto done;
    }
    *arena = pixl_ctx_arena_bytes(ctx);
    fill(pixl_tensor_data(x), pixl_tensor_numel(x), 1, 1.0f);
    if (g) fill(pixl_tensor_data(g), pixl_tensor_numel(g), 2, 1.0f);
    go = malloc(sizeof(float) * (size_t)pixl_tensor_numel(y));
    if (!go) goto done;
    fill(go, pixl_tensor_numel(y), 3, 1.0f);
    double w0 = pixl_tool_now_ms();
    for (int i = 0; i < 2 || pixl_tool_now_ms() - w0 < 300; i++)
        if (pixl_forward(ctx) || (train && pixl_backward_from(ctx, y, go))) goto done;
    for (int i = 0; i < runs; i++) {
        double t0 = pixl_tool_now_ms();
        if (pixl_forward(ctx) || (train && pixl_backward_from(ctx, y, go))) goto done;
        t[i] = pixl_tool_now_ms() - t0;
    }
    if (g_profile) { /* separate pass: the timings above carry no profiling cost */
        pixl_ctx_profile(ctx, 1);
        if (pixl_forward(ctx) || (train && pixl_backward_from(ctx, y, go))) goto done;
        fprintf(stderr, "%s %s:\n", c->name, train ? "forward + backward" : "forward");
        pixl_ctx_profile_print(ctx, stderr, 0);
        pixl_ctx_profile(ctx, 0);
    }
    qsort(t, (size_t)runs, sizeof *t, cmp_d);
    *ms = runs % 2 ? t[runs / 2] : 0.5 * (t[runs / 2 - 1] + t[runs / 2]);
    rc = 0;
done:
    if (rc && y) fprintf(stderr, "pixl bench pac: %s: %s\n", c->name, pixl_last_error());
    free(go);
    free(t);
    pixl_ctx_free(ctx);
    pixl_params_free(P);
    return rc;
}

static cJSON *run_torch(int threads, int runs)
{
    char args[128];
    snprintf(args, sizeof args, " --threads %d --runs %d", threads, runs);
    return pixl_tool_run_torch("bench_pac.py", "PIXL_BENCH_PAC_SCRIPT", args);
}

static double torch_ms(const cJSON *ops, const char *name, const char *key)
{
    const cJSON *o = ops ? cJSON_GetObjectItemCaseSensitive(ops, name) : NULL;
    const cJSON *v = o ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

int cmd_bench_pac(int argc, char **argv)
{
    int runs = 5, torch = 1;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--no-torch")) torch = 0;
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc) {
            if (pixl_arg_int("bench pac", "--runs", argv[++i], 1, INT_MAX, &runs)) return 2;
        } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            int n;
            if (pixl_arg_int("bench pac", "--threads", argv[++i], 1, PIXL_ARG_MAX_THREADS, &n)) return 2;
            pixl_set_num_threads(n);
        } else if (!strcmp(argv[i], "--profile")) g_profile = 1;
        else {
            fprintf(stderr, "usage: pixl bench pac [--threads N] [--runs R] [--no-torch] [--profile]\n");
            return 2;
        }
    }
    if (runs < 1) runs = 1;
    int threads = pixl_num_threads(), failed = 0;
    res r[N_CASES];
    for (int i = 0; i < N_CASES; i++) {
        r[i] = (res){0};
        r[i].ok = !measure(&g_cases[i], 0, runs, &r[i].fwd, &r[i].arena_eval) &&
                  !measure(&g_cases[i], 1, runs, &r[i].fwdbwd, &r[i].arena_train);
        failed += !r[i].ok;
    }
    cJSON *tj = torch ? run_torch(threads, runs) : NULL; /* after pixl: no idle pixl threads around */
    const cJSON *tops = tj ? cJSON_GetObjectItemCaseSensitive(tj, "ops") : NULL;
    printf("pixl %s, %d thread%s, median of %d runs; torch = pacnet's native_impl path in PyTorch (bench/bench_pac.py)\n",
           pixl_version(), threads, threads == 1 ? "" : "s", runs);
    printf("%-22s %9s %11s %9s %11s %11s %11s   %s\n", "op", "fwd ms", "fwd+bwd ms", "torch fwd", "torch f+b",
           "arena eval", "arena train", "description");
    for (int i = 0; i < N_CASES; i++) {
        const pac_case *c = &g_cases[i];
        if (!r[i].ok) {
            printf("%-22s (failed)\n", c->name);
            continue;
        }
        double tf = torch_ms(tops, c->name, "fwd"), tb = torch_ms(tops, c->name, "fwdbwd");
        char a[32] = "-", b[32] = "-";
        if (tf > 0) snprintf(a, sizeof a, "%.1f", tf);
        if (tb > 0) snprintf(b, sizeof b, "%.1f", tb);
        printf("%-22s %9.1f %11.1f %9s %11s %9.1fMB %9.1fMB   %s\n", c->name, r[i].fwd, r[i].fwdbwd, a, b,
               r[i].arena_eval / 1048576.0, r[i].arena_train / 1048576.0, c->desc);
    }
    printf("targets (PAC vs its plain layer; vs PyTorch native):\n");
    for (int i = 0; i < N_CASES; i++) {
        const res *p = &r[i];
        if (!g_cases[i].pac || !p->ok) continue;
        double tf = torch_ms(tops, g_cases[i].name, "fwd"), tb = torch_ms(tops, g_cases[i].name, "fwdbwd");
        printf("  %-22s", g_cases[i].name);
        int j = g_cases[i].plain;
        if (j >= 0 && r[j].ok)
            printf(" time/plain: fwd %.2fx, fwd+bwd %.2fx (target <= 3)   arena/plain: eval %.2fx, train %.2fx "
                   "(target <= 2)",
                   p->fwd / r[j].fwd, p->fwdbwd / r[j].fwdbwd, (double)p->arena_eval / r[j].arena_eval,
                   (double)p->arena_train / r[j].arena_train);
        if (tf > 0 && tb > 0)
            printf("   speed-up vs torch: fwd %.1fx, fwd+bwd %.1fx (target >= 5)", tf / p->fwd, tb / p->fwdbwd);
        printf("\n");
    }
    printf("(timings on a shared machine are noisy)\n");
    cJSON_Delete(tj);
    return failed ? 1 : 0;
}
