/* cmd_bench_train.c — `pixl bench train`: one training step of the model zoo
 * (parameter gradients zeroed, forward, cross-entropy on random labels,
 * backward, SGD with momentum 0.9), at batch B (default 4) and 3x360x480,
 * next to PyTorch doing the same step on the same number of threads
 * (bench/bench_torch_train.py: zero_grad, forward, CrossEntropyLoss,
 * backward, SGD(lr 0.01, momentum 0.9).step(), the faster of NCHW and
 * channels_last). Also the peak resident memory of each side.
 *
 * Each model runs in a child process of its own (fork), so that its peak
 * RSS (getrusage ru_maxrss) is the step's and not an earlier model's;
 * PyTorch's script does the same with a subprocess per model and
 * configuration. The RSS includes each runtime's baseline (pixl: the
 * executable and its libraries; PyTorch: the interpreter and libtorch),
 * printed separately.
 *
 * Timing: one warm-up step, then R steps (default 3); the median is
 * reported (and the fastest). BatchNorm runs in training mode on both sides.
 *
 *   pixl bench train [--models NAME,...] [--batch B] [--input CxHxW] [--classes K] [--runs R]
 *                    [--no-torch] [--json FILE] */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_torch.h"
#include "bench_util.h"
#include "cli_args.h"
#include "pixl.h"
#include "pixl_models.h"

typedef struct tr_result {
    int ok;
    double ms, min_ms, rss_mib, base_mib;
    long long params;
    char error[200];
} tr_result;

static double rss_now_mib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double v = 0;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6)) v = atof(line + 6) / 1024.0; /* kB, written by the kernel */
    if (f) fclose(f);
    return v;
}

/* in the child: build, step, measure; the result goes back through the pipe */
static void step_model(const char *name, int B, int C, int H, int W, int K, int runs, tr_result *r)
{
    char buf[256];
    const char *arch, *variant, *backbone;
    pixl_tool_split_model_name(name, buf, sizeof buf, &arch, &variant, &backbone);
    r->base_mib = rss_now_mib();
    pixl_model_opts o = {.n_classes = K, .in_channels = C, .variant = variant, .backbone = backbone};
    pixl_model *m = pixl_model_create(arch, &o, 1);
    pixl_ctx *ctx = NULL;
    pixl_optim *opt = NULL;
    double *t = NULL;
    if (!m) goto fail;
    ctx = pixl_ctx_new(pixl_model_params(m), PIXL_MODE_TRAIN);
    const int64_t xs[4] = {B, C, H, W}, ls[3] = {B, H, W};
    pixl_tensor *x = pixl_input(ctx, "input", PIXL_F32, 4, xs);
    pixl_tensor *lab = pixl_input(ctx, "labels", PIXL_I32, 3, ls);
    pixl_tensor *y = pixl_model_build(ctx, arch, x, pixl_model_options(m));
    pixl_tensor *loss = y ? pixl_cross_entropy(ctx, y, lab, NULL, &(pixl_ce_opts){.ignore = 1, .ignore_index = 255})
                          : NULL;
    if (!loss || pixl_ctx_plan(ctx)) {
        snprintf(r->error, sizeof r->error, "%s", pixl_ctx_error(ctx) ? pixl_ctx_error(ctx) : pixl_last_error());
        goto out;
    }
    opt = pixl_optim_new(pixl_model_params(m),
                         &(pixl_optim_opts){.kind = PIXL_OPTIM_SGD, .lr = 0.01f, .momentum = 0.9f});
    t = malloc(sizeof *t * (size_t)runs);
    if (!opt || !t) goto fail;
    r->params = pixl_params_total(pixl_model_params(m));
    float *xd = pixl_tensor_data(x);
    int32_t *ld = pixl_tensor_data(lab);
    uint32_t s = 12345u;
    for (int64_t i = 0; i < pixl_tensor_numel(x); i++) {
        s = s * 1664525u + 1013904223u;
        xd[i] = (float)((s >> 8) * (1.0 / 16777216.0)) * 2.0f - 1.0f;
    }
    for (int64_t i = 0; i < pixl_tensor_numel(lab); i++) {
        s = s * 1664525u + 1013904223u;
        ld[i] = (int32_t)((s >> 8) % (uint32_t)K);
    }
    for (int i = -1; i < runs; i++) { /* i = -1: the warm-up */
        double t0 = pixl_tool_now_ms();
        pixl_params_zero_grad(pixl_model_params(m));
        if (pixl_forward(ctx) || pixl_backward(ctx, loss) || pixl_optim_step(opt)) goto fail;
        if (i >= 0) t[i] = pixl_tool_now_ms() - t0;
    }
    r->ms = pixl_tool_median(t, runs);
    r->min_ms = t[0];
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    r->rss_mib = ru.ru_maxrss / 1024.0; /* kB on Linux */
    r->ok = 1;
    goto out;
fail:
    snprintf(r->error, sizeof r->error, "%s", pixl_last_error());
out:
    free(t);
    pixl_optim_free(opt);
    pixl_ctx_free(ctx);
    pixl_model_free(m);
}

/* the model in a child process; its result read back whole, or an error naming how the child ended */
static void bench_child(const char *name, int B, int C, int H, int W, int K, int runs, tr_result *r)
{
    memset(r, 0, sizeof *r);
    int fd[2];
    if (pipe(fd)) {
        snprintf(r->error, sizeof r->error, "pipe failed");
        return;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fd[0]), close(fd[1]);
        snprintf(r->error, sizeof r->error, "fork failed");
        return;
    }
    if (pid == 0) {
        close(fd[0]);
        tr_result c = {0};
        step_model(name, B, C, H, W, K, runs, &c);
        ssize_t w = write(fd[1], &c, sizeof c);
        _exit(w == (ssize_t)sizeof c ? 0 : 1);
    }
    close(fd[1]);
    size_t got = 0;
    while (got < sizeof *r) {
        ssize_t n = read(fd[0], (char *)r + got, sizeof *r - got);
        if (n <= 0) break;
        got += (size_t)n;
    }
    close(fd[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    if (got != sizeof *r) {
        memset(r, 0, sizeof *r);
        if (WIFSIGNALED(st))
            snprintf(r->error, sizeof r->error, "the step's process ended on signal %d%s", WTERMSIG(st),
                     WTERMSIG(st) == 9 ? " (out of memory?)" : "");
        else
            snprintf(r->error, sizeof r->error, "the step's process exited with %d", WEXITSTATUS(st));
    }
}

static void usage(void)
{
    fprintf(stderr, "usage: pixl bench train [--models NAME,...] [--batch B] [--input CxHxW] [--classes K] [--runs R]\n"
                    "                        [--no-torch] [--json FILE]\n"
                    "  NAME = ARCH[:VARIANT][@BACKBONE]; default: every registered model\n");
}

static const cJSON *jget(const cJSON *o, const char *k) { return o ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL; }
static double jnum(const cJSON *o, const char *k)
{
    const cJSON *v = jget(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

int cmd_bench_train(int argc, char **argv)
{
    const char *cmd = "bench train";
    int C = 3, H = 360, W = 480, K = 11, runs = 3, B = 4, torch = 1;
    const char *json_path = NULL;
    char list[4096] = "";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "train")) continue;
        if (!strcmp(a, "--no-torch")) torch = 0;
        else if (!v) {
            usage();
            return 2;
        } else if (!strcmp(a, "--models")) snprintf(list, sizeof list, "%s", v), i++;
        else if (!strcmp(a, "--json")) json_path = v, i++;
        else if (!strcmp(a, "--input")) {
            i++;
            int d[3];
            if (pixl_arg_dims(cmd, a, v, 3, 1, 65536, d)) return 2;
            C = d[0], H = d[1], W = d[2];
        } else if (!strcmp(a, "--batch")) {
            if (pixl_arg_int(cmd, a, v, 1, 1024, &B)) return 2;
            i++;
        } else if (!strcmp(a, "--classes")) {
            if (pixl_arg_int(cmd, a, v, 1, 255, &K)) return 2;
            i++;
        } else if (!strcmp(a, "--runs")) {
            if (pixl_arg_int(cmd, a, v, 1, 1000, &runs)) return 2;
            i++;
        } else {
            usage();
            return 2;
        }
    }
    if (!list[0])
        for (int i = 0; i < pixl_model_count(); i++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? "," : "", pixl_model_name(i));
    int n = 1;
    for (const char *c = list; *c; c++) n += *c == ',';
    tr_result *res = calloc((size_t)n, sizeof *res);
    char **names = calloc((size_t)n, sizeof *names);
    if (!res || !names) return 1;
    int threads = pixl_num_threads(), k = 0;
    char tmp[sizeof list];
    snprintf(tmp, sizeof tmp, "%s", list);
    for (char *save = NULL, *tok = strtok_r(tmp, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        fprintf(stderr, "pixl bench train: %s ...\n", tok);
        names[k] = tok;
        bench_child(tok, B, C, H, W, K, runs, &res[k]);
        if (!res[k].ok) fprintf(stderr, "pixl bench train: %s failed: %s\n", tok, res[k].error);
        k++;
    }
    n = k;
    cJSON *tj = NULL;
    if (torch) {
        char args[4600] = "";
        snprintf(args, sizeof args, " --batch %d --input %dx%dx%d --classes %d --threads %d --runs %d --models", B, C,
                 H, W, K, threads, runs);
        if (pixl_tool_shell_arg(args, sizeof args, list) == 0) tj = pixl_tool_run_torch("bench_torch_train.py", "PIXL_BENCH_TRAIN_SCRIPT", args);
    }
    const cJSON *tm = jget(tj, "models"), *tver = jget(tj, "torch");
    printf("pixl %s, %d thread%s, training step at batch %d, input %dx%dx%d, %d classes, median of %d steps%s%s\n",
           pixl_version(), threads, threads == 1 ? "" : "s", B, C, H, W, K, runs, tm ? ", PyTorch " : "",
           tm && cJSON_IsString(tver) ? tver->valuestring : "");
    printf("%-24s %12s %10s %10s %7s %10s %10s %7s  %s\n", "model", "params", "pixl ms", "torch ms", "ratio",
           "pixl MiB", "torch MiB", "ratio", "torch config");
    pixl_json out = {0};
    pixl_json_set_layout(&out, PIXL_JSON_PRETTY);
    pixl_json_begin_object(&out, NULL);
    pixl_json_begin_array(&out, "models");
    int failed = 0;
    for (int i = 0; i < n; i++) {
        const tr_result *r = &res[i];
        const cJSON *to = jget(tm, names[i]), *tcfg = jget(to, "config"), *terr = jget(to, "error");
        const double tms = jnum(to, "ms"), trss = jnum(to, "rss_mib");
        pixl_json_begin_object(&out, NULL);
        pixl_json_str(&out, "model", names[i]);
        if (!r->ok) {
            printf("%-24s  (pixl failed: %s)\n", names[i], r->error);
            pixl_json_str(&out, "error", r->error);
            failed++;
        } else {
            char ts[32] = "-", tr[32] = "-", ms[32] = "-", mr[32] = "-";
            if (tms > 0) snprintf(ts, sizeof ts, "%.0f", tms), snprintf(tr, sizeof tr, "%.2f", r->ms / tms);
            if (trss > 0) snprintf(ms, sizeof ms, "%.0f", trss), snprintf(mr, sizeof mr, "%.2f", r->rss_mib / trss);
            printf("%-24s %12lld %10.0f %10s %7s %10.0f %10s %7s  %s\n", names[i], r->params, r->ms, ts, tr, r->rss_mib,
                   ms, mr, cJSON_IsString(tcfg) ? tcfg->valuestring : (cJSON_IsString(terr) ? terr->valuestring : "-"));
            pixl_json_int(&out, "params", r->params);
            pixl_json_num(&out, "pixl_ms", r->ms);
            pixl_json_num(&out, "pixl_min_ms", r->min_ms);
            pixl_json_num(&out, "pixl_rss_mib", r->rss_mib);
            pixl_json_num(&out, "pixl_base_mib", r->base_mib);
        }
        if (tms > 0) {
            pixl_json_num(&out, "torch_ms", tms);
            pixl_json_num(&out, "torch_min_ms", jnum(to, "min_ms"));
            pixl_json_num(&out, "torch_rss_mib", trss);
            pixl_json_num(&out, "torch_base_mib", jnum(to, "base_mib"));
            if (cJSON_IsString(tcfg)) pixl_json_str(&out, "torch_config", tcfg->valuestring);
        } else if (cJSON_IsString(terr))
            pixl_json_str(&out, "torch_error", terr->valuestring);
        pixl_json_end_object(&out);
    }
    pixl_json_end_array(&out);
    pixl_json_str(&out, "pixl", pixl_version());
    pixl_json_int(&out, "threads", threads);
    pixl_json_int(&out, "batch", B);
    char inp[64];
    snprintf(inp, sizeof inp, "%dx%dx%d", C, H, W);
    pixl_json_str(&out, "input", inp);
    pixl_json_int(&out, "classes", K);
    pixl_json_int(&out, "runs", runs);
    if (tm && cJSON_IsString(tver)) pixl_json_str(&out, "torch", tver->valuestring);
    pixl_json_end_object(&out);
    printf("ratio = pixl / PyTorch (below 1: pixl is faster or smaller); MiB = peak RSS of the step's process\n");
    char *s = pixl_json_finish(&out, "pixl bench train");
    if (json_path && (!s || pixl_atomic_write(json_path, s, strlen(s)))) {
        fprintf(stderr, "pixl bench train: cannot write %s: %s\n", json_path, pixl_last_error());
        failed++;
    }
    free(s);
    cJSON_Delete(tj);
    free(names);
    free(res);
    return failed ? 1 : 0;
}
