/* cmd_jointup.c — `pixl jointup`: guided upsampling of segmentation
 * (PAC's joint-upsampling experiment). A CamVid label map is subsampled x factor (pacnet's
 * `center` subsampling: the pixel at (f-1)/2 of every f x f block) and
 * one-hot encoded (void = all zeros); a method recovers the full-resolution
 * labels, guided by the full-resolution image where it learns:
 *
 *   nearest, bilinear            upsample the one-hot map, argmax
 *   pacjointupsample[_lite], djif  (pixl_nn_joint_upsample) trained on CamVid
 *                                train: random crops, flip, Adam, cross-entropy
 *                                of the upsampled channels as logits, Adam with
 *                                poly decay (power 0.9) over the iterations
 *   jbu_K_SC_SS                  joint bilateral upsampling (fixed; tune its
 *                                scales with --eval-split train)
 *
 * A network's options may also be given as keys (pixl_jointup_set, the same
 * parser the compact names go through): `--method jbu --opt kernel=17
 * --opt scale_color=2 --opt scale_space=0.25` is jbu_17_2_0.25; --opt also
 * adjusts a named network (`--method djif --opt guide_channels=3`). The
 * factor is --factor's (it also sets the subsampling). An unknown key or a
 * bad value exits with 2, naming the key and the valid ones.
 *
 * and reports val mIoU (11 classes, void ignored) against the full-resolution
 * ground truth. The training budget is a number of iterations (not minutes),
 * so a result does not depend on the machine's load.
 *
 *   pixl jointup [--method NAME] [--opt KEY=VALUE]... [--factor 8] [--root ../shared/datasets/camvid]
 *                [--iters 1000] [--batch 4] [--crop 128] [--lr 1e-3] [--seed 0]
 *                [--val-limit N] [--eval-split val|train] [--json FILE] [--save FILE]
 *                [--profile N]
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_args.h"
#include "pixl_models.h"
#include "pixl_data.h"
#include "pixl_metrics.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* one-hot of the centre-subsampled labels: (n, K, h/f, w/f) */
static void lowres_onehot(const int32_t *lab, int n, int h, int w, int f, int K, float *out)
{
    int lh = h / f, lw = w / f, c = (f - 1) / 2;
    memset(out, 0, sizeof(float) * (size_t)n * K * lh * lw);
    for (int i = 0; i < n; i++)
        for (int y = 0; y < lh; y++)
            for (int x = 0; x < lw; x++) {
                int32_t v = lab[((int64_t)i * h + y * f + c) * w + x * f + c];
                if (v >= 0 && v < K) out[(((int64_t)i * K + v) * lh + y) * lw + x] = 1.0f;
            }
}

static void argmax(const float *logits, int n, int K, int64_t hw, int32_t *pred)
{
    for (int i = 0; i < n; i++)
        for (int64_t p = 0; p < hw; p++) {
            const float *l = logits + (int64_t)i * K * hw + p;
            int best = 0;
            for (int k = 1; k < K; k++)
                if (l[k * hw] > l[best * hw]) best = k;
            pred[(int64_t)i * hw + p] = best;
        }
}

#define MAX_OPTS 16
typedef struct args {
    const char *method, *root, *json, *save, *eval_split;
    const char *opts[MAX_OPTS]; /* --opt KEY=VALUE */
    int n_opts;
    int factor, iters, batch, crop, val_limit, profile;
    float lr;
    uint64_t seed;
} args;

/* a network of pixl_nn_joint_upsample (else a fixed interpolation) */
static int network(const char *m) { return strcmp(m, "nearest") && strcmp(m, "bilinear"); }

/* the method's graph on target t (n,K,h/f,w/f) and guide x (n,3,h,w) */
static pixl_tensor *build(pixl_ctx *ctx, const args *a, const pixl_jointup_opts *jo, pixl_tensor *t, pixl_tensor *x)
{
    int H = (int)pixl_tensor_shape(x)[2], W = (int)pixl_tensor_shape(x)[3];
    if (!strcmp(a->method, "nearest")) return pixl_resize(ctx, t, H, W, PIXL_RESIZE_NEAREST, 0, 0, 0);
    if (!strcmp(a->method, "bilinear")) return pixl_resize(ctx, t, H, W, PIXL_RESIZE_BILINEAR, 0, 0, 0);
    return pixl_nn_joint_upsample(ctx, "", t, x, jo);
}

static int train(const args *a, pixl_params *P, const pixl_jointup_opts *jo, pixl_dataset *ds, int K, double *secs)
{
    pixl_augment_opts aug = {.crop_width = a->crop, .crop_height = a->crop, .hflip = 1};
    pixl_loader_opts lo = {.batch_size = a->batch, .shuffle = 1, .drop_last = 1, .seed = a->seed, .n_workers = 1,
                           .augment = &aug};
    pixl_loader *L = pixl_loader_new(ds, &lo);
    pixl_ctx *ctx = pixl_ctx_new(P, PIXL_MODE_TRAIN);
    int64_t xs[4] = {a->batch, 3, a->crop, a->crop}, ts[4] = {a->batch, K, a->crop / a->factor, a->crop / a->factor},
            ys[3] = {a->batch, a->crop, a->crop};
    pixl_tensor *x = pixl_input(ctx, "guide", PIXL_F32, 4, xs), *t = pixl_input(ctx, "target", PIXL_F32, 4, ts),
                *y = pixl_input(ctx, "labels", PIXL_I32, 3, ys);
    pixl_tensor *out = build(ctx, a, jo, t, x);
    pixl_tensor *loss = out ? pixl_cross_entropy(ctx, out, y, NULL, &(pixl_ce_opts){.ignore = 1, .ignore_index = 255})
                            : NULL;
    pixl_optim *opt = pixl_optim_new(P, &(pixl_optim_opts){.kind = PIXL_OPTIM_ADAM, .lr = a->lr});
    int rc = -1;
    if (!L || !loss || pixl_ctx_plan(ctx) || !opt) {
        fprintf(stderr, "pixl jointup: %s\n", pixl_ctx_error(ctx) ? pixl_ctx_error(ctx) : pixl_last_error());
        goto done;
    }
    fprintf(stderr, "pixl jointup: training %s x%d, %lld parameters, %d iterations of %d crops %dx%d\n", a->method,
            a->factor, (long long)pixl_params_total(P), a->iters, a->batch, a->crop, a->crop);
    double t0 = now_s(), acc = 0;
    int acc_n = 0;
    for (int it = 1; it <= a->iters; it++) {
        pixl_batch b;
        if (pixl_loader_next(L, &b)) goto done;
        memcpy(pixl_tensor_data(x), b.images, sizeof(float) * (size_t)pixl_tensor_numel(x));
        memcpy(pixl_tensor_data(y), b.labels, sizeof(int32_t) * (size_t)pixl_tensor_numel(y));
        lowres_onehot(b.labels, b.n, b.height, b.width, a->factor, K, pixl_tensor_data(t));
        pixl_params_zero_grad(P);
        /* poly decay of the learning rate over the iteration budget (power 0.9) */
        pixl_optim_set_lr(opt, a->lr * (float)pow(1.0 - (double)(it - 1) / a->iters, 0.9));
        if (pixl_forward(ctx) || pixl_backward(ctx, loss) || pixl_optim_step(opt)) {
            fprintf(stderr, "pixl jointup: %s\n", pixl_last_error());
            goto done;
        }
        acc += ((float *)pixl_tensor_data(loss))[0];
        acc_n++;
        if (it % 50 == 0 || it == a->iters) {
            double el = now_s() - t0;
            fprintf(stderr, "iter %d/%d  loss %.4f  %.1f img/s\n", it, a->iters, acc / acc_n, it * a->batch / el);
            acc = 0, acc_n = 0;
        }
        if (a->profile > 0 && it == 2) { /* one profiled step (forward + backward) after the warm-up */
            pixl_ctx_profile(ctx, 1);
            if (pixl_forward(ctx) || pixl_backward(ctx, loss)) goto done;
            pixl_ctx_profile_print(ctx, stderr, a->profile);
            pixl_ctx_profile(ctx, 0);
            pixl_params_zero_grad(P);
        }
    }
    *secs = now_s() - t0;
    rc = 0;
done:
    pixl_optim_free(opt);
    pixl_ctx_free(ctx);
    pixl_loader_free(L);
    return rc;
}

static int evaluate(const args *a, pixl_params *P, const pixl_jointup_opts *jo, pixl_dataset *ds, int K,
                    pixl_confusion *cm)
{
    pixl_loader_opts lo = {.batch_size = 1, .seed = a->seed};
    pixl_loader *L = pixl_loader_new(ds, &lo);
    pixl_ctx *ctx = NULL;
    int n = pixl_dataset_size(ds), rc = -1, h = 0, w = 0;
    if (a->val_limit > 0 && a->val_limit < n) n = a->val_limit;
    pixl_tensor *x = NULL, *t = NULL, *out = NULL;
    int32_t *pred = NULL;
    for (int i = 0; i < n; i++) {
        pixl_batch b;
        if (!L || pixl_loader_next(L, &b)) goto done;
        if (b.height % a->factor || b.width % a->factor) {
            fprintf(stderr, "pixl jointup: image %dx%d is not a multiple of the factor %d\n", b.height, b.width,
                    a->factor);
            goto done;
        }
        if (!ctx || b.height != h || b.width != w) {
            pixl_ctx_free(ctx);
            h = b.height, w = b.width;
            ctx = pixl_ctx_new(P, PIXL_MODE_EVAL);
            int64_t xs[4] = {1, 3, h, w}, ts[4] = {1, K, h / a->factor, w / a->factor};
            x = pixl_input(ctx, "guide", PIXL_F32, 4, xs);
            t = pixl_input(ctx, "target", PIXL_F32, 4, ts);
            out = pixl_keep(build(ctx, a, jo, t, x));
            free(pred);
            pred = malloc(sizeof(int32_t) * (size_t)h * w);
            if (!out || !pred || pixl_ctx_plan(ctx)) {
                fprintf(stderr, "pixl jointup: %s\n", pixl_ctx_error(ctx) ? pixl_ctx_error(ctx) : pixl_last_error());
                goto done;
            }
        }
        memcpy(pixl_tensor_data(x), b.images, sizeof(float) * (size_t)pixl_tensor_numel(x));
        lowres_onehot(b.labels, 1, h, w, a->factor, K, pixl_tensor_data(t));
        if (pixl_forward(ctx)) goto done;
        argmax(pixl_tensor_data(out), 1, K, (int64_t)h * w, pred);
        if (pixl_confusion_update(cm, pred, b.labels, (int64_t)h * w)) goto done;
    }
    rc = 0;
done:
    if (rc) fprintf(stderr, "pixl jointup: evaluation failed: %s\n", pixl_last_error());
    free(pred);
    pixl_ctx_free(ctx);
    pixl_loader_free(L);
    return rc;
}

/* The network's options: a network's name ("jbu", "djif", ...) is arch and
 * --factor, a compact name ("jbu_17_2_0.25") is parsed, then each --opt is
 * set; all through pixl_jointup_set. label: the method's name for the
 * report (the compact name of a typed JBU). Errors are printed. */
static int network_opts(const args *a, pixl_jointup_opts *jo, char *label, size_t len)
{
    snprintf(label, len, "%s", a->method);
    if (!network(a->method)) {
        if (a->n_opts) fprintf(stderr, "pixl jointup: --opt: method %s has no options\n", a->method);
        return a->n_opts ? -1 : 0;
    }
    static const char *const archs[] = {"pacjointupsample", "pacjointupsample_lite", "djif", "jbu"};
    int typed = 0;
    for (int i = 0; i < 4; i++) typed |= !strcmp(a->method, archs[i]);
    char num[16];
    snprintf(num, sizeof num, "%d", a->factor);
    *jo = pixl_jointup_defaults();
    int rc;
    if (typed) {
        rc = pixl_jointup_set(jo, "arch", a->method) || pixl_jointup_set(jo, "factor", num);
    } else {
        char spec[160];
        snprintf(spec, sizeof spec, "%s_x%d", a->method, a->factor);
        rc = pixl_jointup_parse(spec, jo);
    }
    for (int i = 0; !rc && i < a->n_opts; i++) {
        const char *eq = strchr(a->opts[i], '=');
        char key[64];
        if (!eq || eq == a->opts[i] || (size_t)(eq - a->opts[i]) >= sizeof key) {
            fprintf(stderr, "pixl jointup: --opt '%s': expected KEY=VALUE\n", a->opts[i]);
            return -1;
        }
        snprintf(key, sizeof key, "%.*s", (int)(eq - a->opts[i]), a->opts[i]);
        if (!strcmp(key, "arch") || !strcmp(key, "factor")) {
            fprintf(stderr, "pixl jointup: --opt %s: given by --%s\n", key, !strcmp(key, "arch") ? "method" : "factor");
            return -1;
        }
        rc = pixl_jointup_set(jo, key, eq + 1);
    }
    if (!rc) rc = pixl_jointup_check(jo);
    if (rc) {
        fprintf(stderr, "pixl jointup: %s\n", pixl_last_error());
        return -1;
    }
    if (jo->arch == PIXL_JU_JBU && (typed || a->n_opts))
        snprintf(label, len, "jbu_%d_%g_%g", jo->jbu_kernel, (double)jo->jbu_scale_color, (double)jo->jbu_scale_space);
    return 0;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: pixl jointup [--method nearest|bilinear|pacjointupsample|pacjointupsample_lite|djif|jbu|jbu_K_SC_SS]\n"
            "                    [--opt KEY=VALUE]... (kernel, scale_color, scale_space, guide_channels)\n"
            "                    [--factor 8] [--eval-split val|train]\n"
            "                    [--root DIR] [--iters N] [--batch B] [--crop S] [--lr LR] [--seed S] [--val-limit N]\n"
            "                    [--json FILE] [--save FILE] [--profile N]\n"
            "  guided upsampling of CamVid labels subsampled x factor; prints val mIoU\n");
}

int cmd_jointup(int argc, char **argv)
{
    args a = {.method = "pacjointupsample_lite", .root = "../shared/datasets/camvid", .factor = 8, .iters = 1000,
              .batch = 4, .crop = 128, .lr = 1e-3f, .eval_split = "val"};
    for (int i = 1; i < argc; i += 2) { /* every option takes a value */
        const char *s = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            usage();
            return 2;
        }
        if (!strcmp(s, "--method")) a.method = v;
        else if (!strcmp(s, "--opt")) {
            if (a.n_opts == MAX_OPTS) {
                fprintf(stderr, "pixl jointup: at most %d --opt\n", MAX_OPTS);
                return 2;
            }
            a.opts[a.n_opts++] = v;
        }
        else if (!strcmp(s, "--root")) a.root = v;
        else if (!strcmp(s, "--json")) a.json = v;
        else if (!strcmp(s, "--save")) a.save = v;
        else if (!strcmp(s, "--eval-split")) a.eval_split = v;
        else if (!strcmp(s, "--factor")) {
            if (pixl_arg_int("jointup", s, v, 2, 1024, &a.factor)) return 2;
        } else if (!strcmp(s, "--iters")) {
            if (pixl_arg_int("jointup", s, v, 1, INT_MAX, &a.iters)) return 2;
        } else if (!strcmp(s, "--profile")) {
            if (pixl_arg_int("jointup", s, v, 0, INT_MAX, &a.profile)) return 2;
        } else if (!strcmp(s, "--batch")) {
            if (pixl_arg_int("jointup", s, v, 1, 65536, &a.batch)) return 2;
        } else if (!strcmp(s, "--crop")) {
            if (pixl_arg_int("jointup", s, v, 1, 65536, &a.crop)) return 2;
        } else if (!strcmp(s, "--val-limit")) { /* 0: the whole split */
            if (pixl_arg_int("jointup", s, v, 0, INT_MAX, &a.val_limit)) return 2;
        } else if (!strcmp(s, "--lr")) {
            if (pixl_arg_float_above("jointup", s, v, 0, HUGE_VAL, &a.lr)) return 2;
        }
        else if (!strcmp(s, "--seed")) {
            unsigned long long seed;
            if (pixl_arg_u64("jointup", s, v, &seed)) return 2;
            a.seed = seed;
        }
        else {
            usage();
            return 2;
        }
    }
    if (a.factor < 2 || a.iters < 1 || a.batch < 1 || a.crop < a.factor || a.crop % a.factor) {
        fprintf(stderr, "pixl jointup: factor >= 2, iterations and batch >= 1, crop a multiple of the factor\n");
        return 2;
    }
    pixl_jointup_opts jo = {0};
    char label[128];
    if (network_opts(&a, &jo, label, sizeof label)) return 2;
    a.method = label;
    pixl_dataset *tr = pixl_dataset_open(&(pixl_dataset_opts){.kind = "camvid", .root = a.root, .split = "train"});
    if (strcmp(a.eval_split, "val") && strcmp(a.eval_split, "train")) {
        fprintf(stderr, "pixl jointup: --eval-split is train or val, not '%s'\n", a.eval_split);
        return 2;
    }
    /* --eval-split train: tune fixed methods (JBU's scales) without looking at val */
    pixl_dataset *va =
        pixl_dataset_open(&(pixl_dataset_opts){.kind = "camvid", .root = a.root, .split = a.eval_split});
    if (!tr || !va) {
        fprintf(stderr, "pixl jointup: %s\n", pixl_last_error());
        pixl_dataset_free(tr);
        pixl_dataset_free(va);
        return 1;
    }
    int K = pixl_dataset_n_classes(tr), rc = 1;
    int learned = 0; /* a network with something to learn (JBU has fixed identity weights) */
    if (network(a.method)) {
        jo.channels = K;
        learned = jo.arch != PIXL_JU_JBU;
    }
    pixl_params *P = pixl_params_new();
    pixl_params_seed(P, a.seed);
    pixl_confusion *cm = pixl_confusion_new(K, 255);
    double secs = 0;
    if (learned && train(&a, P, &jo, tr, K, &secs)) goto free_all;
    if (a.save && learned && pixl_checkpoint_save(P, a.save, 0, NULL, NULL))
        fprintf(stderr, "pixl jointup: %s\n", pixl_last_error());
    if (evaluate(&a, P, &jo, va, K, cm)) goto free_all;
    pixl_seg_scores sc;
    double *iou = malloc(sizeof(double) * (size_t)K);
    pixl_confusion_scores(cm, &sc, iou, NULL);
    printf("jointup %s x%d: %s mIoU %.2f%%, pixel acc %.2f%% (%d images%s)\n", a.method, a.factor, a.eval_split,
           100 * sc.mean_iou, 100 * sc.overall_acc, a.val_limit > 0 ? a.val_limit : pixl_dataset_size(va),
           learned ? "" : ", no training");
    if (learned)
        printf("  trained %d iterations x %d crops %dx%d in %.1f min (%.1f img/s), %lld parameters\n", a.iters, a.batch,
               a.crop, a.crop, secs / 60, a.iters * a.batch / (secs > 0 ? secs : 1), (long long)pixl_params_total(P));
    if (a.json) {
        pixl_json j = {0};
        pixl_json_begin_object(&j, NULL);
        pixl_json_str(&j, "method", a.method);
        pixl_json_str(&j, "eval_split", a.eval_split);
        pixl_json_int(&j, "factor", a.factor);
        pixl_json_int(&j, "iters", learned ? a.iters : 0);
        pixl_json_int(&j, "batch", a.batch);
        pixl_json_int(&j, "crop", a.crop);
        pixl_json_f32(&j, "lr", a.lr);
        pixl_json_num(&j, "train_seconds", secs);
        pixl_json_int(&j, "params", pixl_params_total(P));
        pixl_json_num(&j, "mean_iou", sc.mean_iou);
        pixl_json_num(&j, "overall_acc", sc.overall_acc);
        pixl_json_begin_array(&j, "class_iou");
        for (int k = 0; k < K; k++) pixl_json_num(&j, NULL, iou[k]);
        pixl_json_end_array(&j);
        pixl_json_end_object(&j);
        char *text = pixl_json_finish(&j, "pixl jointup --json");
        if (!text || pixl_atomic_write(a.json, text, strlen(text)))
            fprintf(stderr, "pixl jointup: %s\n", pixl_last_error());
        free(text);
    }
    free(iou);
    rc = 0;
free_all:
    pixl_confusion_free(cm);
    pixl_params_free(P);
    pixl_dataset_free(tr);
    pixl_dataset_free(va);
    return rc;
}
