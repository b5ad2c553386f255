/* cmd_bench_models.c — `pixl bench models`: inference latency of the model
 * zoo at batch 1 (median of R runs after warm-up), next to PyTorch running
 * the same networks on the same number of threads (bench/bench_torch_models.py:
 * eval mode, torch.no_grad(), the fastest of eager and jit.trace + jit.freeze, each NCHW and channels_last).
 *
 *   pixl bench models [--models NAME,...] [--input CxHxW] [--classes K]
 *                     [--runs R] [--no-torch] [--json FILE]
 *
 * A model name is ARCH[:VARIANT][@BACKBONE] ("unet:valid",
 * "deeplabv3plus@resnet50"); the default list is every architecture of the
 * registry with its defaults. Parameters and GFLOPs (2 x multiply-adds of
 * convolutions and linear layers, as `pixl info`) come from pixl's graph.
 * Warm-up: at least one run and 300 ms per model, on both sides; pixl runs
 * first, PyTorch afterwards so that the two never share the cores.
 * --json writes every number, also the fastest run of each side (less
 * sensitive to other load on a shared machine); scripts/bench/models_md.py
 * turns the medians into the table of docs/models.md. */
#include <cjson/cJSON.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_args.h"
#include "bench_torch.h"
#include "pixl_impl.h"
#include "bench_util.h"

double info_node_macs(const pixl_tensor *t); /* cmd_info.c */

typedef struct bm_result {
    char name[128];
    int ok;
    int64_t params;
    double gflops, ms, min_ms;
    char error[256];
} bm_result;

static void bench_one(const char *name, int C, int H, int W, int K, int runs, int profile, bm_result *r)
{
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", name);
    char buf[128];
    const char *arch, *variant, *backbone;
    pixl_tool_split_model_name(name, buf, sizeof buf, &arch, &variant, &backbone);
    pixl_model_opts o = {.n_classes = K, .in_channels = C, .variant = variant, .backbone = backbone};
    pixl_model *m = pixl_model_create(arch, &o, 1);
    pixl_ctx *ctx = NULL;
    double *t = NULL;
    if (!m) {
        snprintf(r->error, sizeof r->error, "%s", pixl_last_error());
        return;
    }
    ctx = pixl_ctx_new(pixl_model_params(m), PIXL_MODE_EVAL);
    int64_t s[4] = {1, C, H, W};
    pixl_tensor *x = pixl_input(ctx, "input", PIXL_F32, 4, s);
    pixl_tensor *y = pixl_keep(pixl_model_build(ctx, arch, x, pixl_model_options(m)));
    t = malloc(sizeof(double) * (size_t)runs);
    if (!y || pixl_ctx_plan(ctx) || !t) {
        snprintf(r->error, sizeof r->error, "%s", pixl_ctx_error(ctx) ? pixl_ctx_error(ctx) : pixl_last_error());
        goto done;
    }
    double macs = 0;
    for (int i = 0; i < ctx->n_nodes; i++) macs += info_node_macs(ctx->nodes[i]);
    r->gflops = 2 * macs / 1e9;
    r->params = pixl_params_total(pixl_model_params(m));
    float *xd = pixl_tensor_data(x);
    unsigned st = 12345;
    for (int64_t i = 0; i < pixl_tensor_numel(x); i++) {
        st = st * 1664525u + 1013904223u;
        xd[i] = (float)((st >> 8) * (1.0 / 16777216.0)) * 2.0f - 1.0f;
    }
    double w0 = pixl_tool_now_ms();
    for (int i = 0; i < 1 || pixl_tool_now_ms() - w0 < 300; i++)
        if (pixl_forward(ctx)) goto fail;
    for (int i = 0; i < runs; i++) {
        double t0 = pixl_tool_now_ms();
        if (pixl_forward(ctx)) goto fail;
        t[i] = pixl_tool_now_ms() - t0;
    }
    if (profile) { /* separate passes, so the timing above carries no profiling cost */
        pixl_ctx_profile(ctx, 1);
        for (int i = 0; i < runs; i++)
            if (pixl_forward(ctx)) goto fail;
        fprintf(stderr, "%s: ", name);
        pixl_ctx_profile_print(ctx, stderr, profile);
    }
    r->ms = pixl_tool_median(t, runs);
    r->min_ms = t[0]; /* (in the JSON: less sensitive to other load on a shared machine) */
    r->ok = 1;
    goto done;
fail:
    snprintf(r->error, sizeof r->error, "%s", pixl_last_error());
done:
    free(t);
    pixl_ctx_free(ctx);
    pixl_model_free(m);
}

static cJSON *run_torch(const char *models, int C, int H, int W, int K, int runs, int threads)
{
    char args[4096];
    snprintf(args, sizeof args, " --threads %d --runs %d --input %dx%dx%d --classes %d --models", threads, runs, C, H,
             W, K);
    if (pixl_tool_shell_arg(args, sizeof args, models)) {
        printf("PyTorch: model list too long; pixl only\n");
        return NULL;
    }
    return pixl_tool_run_torch("bench_torch_models.py", "PIXL_BENCH_MODELS_SCRIPT", args);
}

static void usage(void)
{
    fprintf(stderr, "usage: pixl bench models [--models NAME,...] [--input CxHxW] [--classes K] [--runs R] "
                    "[--no-torch] [--json FILE] [--profile N] [--list]\n  NAME = ARCH[:VARIANT][@BACKBONE]; default: every registered model\n"
                    "  --profile N: time per op type and the N slowest layers of pixl's forward (stderr)\n");
}

int cmd_bench_models(int argc, char **argv)
{
    int C = 3, H = 360, W = 480, K = 11, runs = 5, torch = 1, profile = 0;
    const char *json_path = NULL;
    char list[4096] = "";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "models")) continue;
        if (!strcmp(argv[i], "--models") && i + 1 < argc) snprintf(list, sizeof list, "%s", argv[++i]);
        else if (!strcmp(argv[i], "--input") && i + 1 < argc) {
            int d[3];
            if (pixl_arg_dims("bench models", "--input", argv[++i], 3, 1, 65536, d)) return 2;
            C = d[0], H = d[1], W = d[2];
        } else if (!strcmp(argv[i], "--classes") && i + 1 < argc) {
            if (pixl_arg_int("bench models", "--classes", argv[++i], 1, 65536, &K)) return 2;
        } else if (!strcmp(argv[i], "--runs") && i + 1 < argc) {
            if (pixl_arg_int("bench models", "--runs", argv[++i], 1, INT_MAX, &runs)) return 2;
        } else if (!strcmp(argv[i], "--no-torch")) torch = 0;
        else if (!strcmp(argv[i], "--list")) {
            for (int k = 0; k < pixl_model_count(); k++) printf("%s\n", pixl_model_name(k));
            return 0;
        }
        else if (!strcmp(argv[i], "--profile") && i + 1 < argc) {
            if (pixl_arg_int("bench models", "--profile", argv[++i], 0, INT_MAX, &profile)) return 2;
        }
        else if (!strcmp(argv[i], "--json") && i + 1 < argc) json_path = argv[++i];
        else {
            usage();
            return 2;
        }
    }
    if (runs < 1 || K < 1) {
        usage();
        return 2;
    }
    if (!list[0])
        for (int i = 0; i < pixl_model_count(); i++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? "," : "", pixl_model_name(i));
    int n = 1;
    for (const char *c = list; *c; c++) n += *c == ',';
    bm_result *res = calloc((size_t)n, sizeof *res);
    if (!res) return 1;
    int threads = pixl_num_threads(), k = 0;
    char tmp[sizeof list];
    snprintf(tmp, sizeof tmp, "%s", list);
    for (char *save = NULL, *tok = strtok_r(tmp, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        fprintf(stderr, "pixl bench models: %s ...\n", tok);
        bench_one(tok, C, H, W, K, runs, profile, &res[k]);
        if (!res[k].ok) fprintf(stderr, "pixl bench models: %s failed: %s\n", tok, res[k].error);
        k++;
    }
    n = k;
    cJSON *tj = torch ? run_torch(list, C, H, W, K, runs, threads) : NULL;
    const cJSON *tm = tj ? cJSON_GetObjectItemCaseSensitive(tj, "models") : NULL;
    const cJSON *tver = tj ? cJSON_GetObjectItemCaseSensitive(tj, "torch") : NULL;
    printf("pixl %s, %d thread%s, input 1x%dx%dx%d, %d classes, median of %d runs%s%s\n", pixl_version(), threads,
           threads == 1 ? "" : "s", C, H, W, K, runs, tm ? ", PyTorch " : "",
           tm && cJSON_IsString(tver) ? tver->valuestring : "");
    printf("%-24s %12s %8s %10s %10s %7s  %s\n", "model", "params", "GFLOPs", "pixl ms", "torch ms", "ratio",
           "torch config");
    /* --json: {"models": [one object per model], "pixl", "threads", "input", "classes", "runs", "torch"} */
    pixl_json out = {0};
    pixl_json_set_layout(&out, PIXL_JSON_PRETTY);
    pixl_json_begin_object(&out, NULL);
    pixl_json_begin_array(&out, "models");
    int failed = 0;
    for (int i = 0; i < n; i++) {
        const bm_result *r = &res[i];
        const cJSON *to = tm ? cJSON_GetObjectItemCaseSensitive(tm, r->name) : NULL;
        const cJSON *tms = to ? cJSON_GetObjectItemCaseSensitive(to, "ms") : NULL;
        const cJSON *tcfg = to ? cJSON_GetObjectItemCaseSensitive(to, "config") : NULL;
        const cJSON *terr = to ? cJSON_GetObjectItemCaseSensitive(to, "error") : NULL;
        double tv = cJSON_IsNumber(tms) ? tms->valuedouble : 0;
        pixl_json_begin_object(&out, NULL);
        pixl_json_str(&out, "model", r->name);
        if (!r->ok) {
            printf("%-24s  (pixl failed: %s)\n", r->name, r->error);
            pixl_json_str(&out, "error", r->error);
            failed++;
        } else {
            char ts[32] = "-", ratio[32] = "-";
            if (tv > 0) {
                snprintf(ts, sizeof ts, "%.1f", tv);
                snprintf(ratio, sizeof ratio, "%.2f", r->ms / tv);
            }
            printf("%-24s %12lld %8.2f %10.1f %10s %7s  %s\n", r->name, (long long)r->params, r->gflops, r->ms, ts, ratio,
                   cJSON_IsString(tcfg) ? tcfg->valuestring : (cJSON_IsString(terr) ? terr->valuestring : "-"));
            pixl_json_int(&out, "params", r->params);
            pixl_json_num(&out, "gflops", r->gflops);
            pixl_json_num(&out, "pixl_ms", r->ms);
            pixl_json_num(&out, "pixl_min_ms", r->min_ms);
        }
        if (tv > 0) {
            pixl_json_num(&out, "torch_ms", tv);
            if (cJSON_IsString(tcfg)) pixl_json_str(&out, "torch_config", tcfg->valuestring);
            const cJSON *tmin = cJSON_GetObjectItemCaseSensitive(to, "min_ms");
            if (cJSON_IsNumber(tmin)) pixl_json_num(&out, "torch_min_ms", tmin->valuedouble);
            const cJSON *tp = cJSON_GetObjectItemCaseSensitive(to, "params");
            if (cJSON_IsNumber(tp)) pixl_json_num(&out, "torch_params", tp->valuedouble);
        } else if (cJSON_IsString(terr))
            pixl_json_str(&out, "torch_error", terr->valuestring);
        pixl_json_end_object(&out);
    }
    pixl_json_end_array(&out);
    pixl_json_str(&out, "pixl", pixl_version());
    pixl_json_int(&out, "threads", threads);
    char inp[64];
    snprintf(inp, sizeof inp, "%dx%dx%d", C, H, W);
    pixl_json_str(&out, "input", inp);
    pixl_json_int(&out, "classes", K);
    pixl_json_int(&out, "runs", runs);
    if (tm && cJSON_IsString(tver)) pixl_json_str(&out, "torch", tver->valuestring);
    pixl_json_end_object(&out);
    printf("ratio = pixl ms / PyTorch ms (below 1: pixl is faster)\n");
    char *s = pixl_json_finish(&out, "pixl bench models");
    if (json_path && (!s || pixl_atomic_write(json_path, s, strlen(s)))) {
        fprintf(stderr, "pixl bench models: cannot write %s: %s\n", json_path, pixl_last_error());
        failed++;
    }
    free(s);
    cJSON_Delete(tj);
    free(res);
    return failed ? 1 : 0;
}
