/* cmd_train.c — `pixl train`, `pixl eval`, `pixl predict` and `pixl demo`:
 * the command-line face of src/train/trainer.c and pixl_model. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli_args.h"
#include "pixl_train.h"

int cmd_report(int argc, char **argv); /* cmd_report.c */

/* SIGINT (Ctrl-C) and SIGTERM (what batch schedulers and `kill` send): the
 * first stops the run after its step with a checkpoint; a second exits at
 * once, which leaves every file whole: each is written to a temporary name
 * and renamed (pixl_atomic_begin), and the next run removes the leftovers */
static volatile int g_stop;
static volatile sig_atomic_t g_signal;
static void on_stop_signal(int sig)
{
    if (g_stop) _Exit(128 + sig);
    g_signal = sig;
    g_stop = 1;
}

/* --set KEY=VALUE overrides, shared by train and demo */
static int apply_set(pixl_train_config *cfg, const char *kv)
{
    char key[256];
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv || (size_t)(eq - kv) >= sizeof key) {
        fprintf(stderr, "pixl: --set takes KEY=VALUE, got '%s'\n", kv);
        return -1;
    }
    memcpy(key, kv, (size_t)(eq - kv));
    key[eq - kv] = 0;
    if (pixl_config_set(cfg, key, eq + 1)) {
        fprintf(stderr, "pixl: --set %s: %s\n", kv, pixl_last_error());
        return -1;
    }
    return 0;
}

static void restore_signals(void)
{
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGXFSZ, SIG_DFL);
}

static int run_training(pixl_train_config *cfg)
{
    struct sigaction sa = {0};
    sa.sa_handler = on_stop_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* a file-size limit (ulimit -f) then fails the write with EFBIG, reported
     * with the file's name, instead of killing the process */
    signal(SIGXFSZ, SIG_IGN);
    pixl_train_hooks h = {.stop = &g_stop};
    /* a config whose parts do not fit (a loss the data set's task does not
     * take, a model without that many outputs ...) is a usage error: 2 */
    pixl_trainer *t = pixl_trainer_new(cfg, &h);
    if (!t) {
        restore_signals();
        fprintf(stderr, "pixl train: %s\n", pixl_last_error());
        return pixl_last_status() == PIXL_ERR_ARG ? 2 : 1;
    }
    int rc = pixl_trainer_run(t);
    const long long steps = (long long)pixl_trainer_steps(t);
    if (rc) fprintf(stderr, "pixl train: %s\n", pixl_last_error());
    pixl_trainer_free(t);
    restore_signals();
    if (rc) return 1;
    if (!g_stop) return 0;
    const int sig = g_signal ? (int)g_signal : SIGINT;
    fprintf(stderr, "pixl train: stopped by %s at step %lld; checkpoint %s/last.safetensors (continue with --resume %s)\n",
            sig == SIGTERM ? "SIGTERM" : "SIGINT", steps, cfg->output.run_dir, cfg->output.run_dir);
    return 128 + sig;
}

static void train_usage(void)
{
    fprintf(stderr,
            "usage: pixl train CONFIG.yaml [--set KEY=VALUE]... [--resume RUN_DIR|CKPT [--allow-nonfinite]]\n"
            "                  [--threads N]\n"
            "       pixl train --print-config      every key with its default and meaning\n");
}

int cmd_train(int argc, char **argv)
{
    const char *path = NULL, *resume = NULL;
    int allow_nonfinite = 0;
    pixl_train_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg) return 1;
    pixl_config_defaults(cfg);
    int rc = 0;
    /* the config first, so that --set applies on top of it */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--print-config")) {
            pixl_config_print_defaults(stdout);
            free(cfg);
            return 0;
        }
        if ((!strcmp(argv[i], "--set") || !strcmp(argv[i], "--resume")) && i + 1 < argc) i++;
        else if (!strcmp(argv[i], "--allow-nonfinite")) continue;
        else if (argv[i][0] != '-' && !path) path = argv[i];
        else if (argv[i][0] != '-' || (strcmp(argv[i], "--set") && strcmp(argv[i], "--resume"))) {
            fprintf(stderr, "pixl train: unexpected argument '%s'\n", argv[i]);
            train_usage();
            free(cfg);
            return 2;
        }
    }
    if (!path) {
        train_usage();
        free(cfg);
        return 2;
    }
    const char **sets = calloc((size_t)argc, sizeof *sets);
    int n_set = 0;
    for (int i = 1; sets && i < argc; i++) {
        if (!strcmp(argv[i], "--set") && i + 1 < argc) sets[n_set++] = argv[++i];
        else if (!strcmp(argv[i], "--resume") && i + 1 < argc) resume = argv[++i];
        else if (!strcmp(argv[i], "--allow-nonfinite")) allow_nonfinite = 1;
    }
    if (!sets || pixl_config_load_ex(path, cfg, n_set, sets)) {
        fprintf(stderr, "pixl train: %s\n", sets ? pixl_last_error() : "out of memory");
        /* a bad config or --set (unknown key, bad value, missing file) is a usage error */
        rc = !sets || pixl_last_status() == PIXL_ERR_NOMEM || pixl_last_status() == PIXL_ERR_IO ? 1 : 2;
        free(sets);
        free(cfg);
        return rc;
    }
    free(sets);
    if (resume) {
        char buf[PIXL_CFG_PATH_LEN];
        struct stat st;
        if (!stat(resume, &st) && S_ISDIR(st.st_mode)) snprintf(buf, sizeof buf, "%s/last.safetensors", resume);
        else snprintf(buf, sizeof buf, "%s", resume);
        snprintf(cfg->training.resume, sizeof cfg->training.resume, "%s", buf);
    }
    if (allow_nonfinite) cfg->training.resume_allow_nonfinite = 1;
    rc = run_training(cfg);
    free(cfg);
    return rc;
}

/* ------------------------------------------------------------------ eval */
static pixl_dataset *open_dataset_args(const char *kind, const char *root, const char *split, const char *list,
                                       int limit)
{
    pixl_dataset_opts o = {.kind = kind, .root = root, .split = split, .list = list, .limit = limit};
    pixl_dataset *ds = pixl_dataset_open(&o);
    if (!ds) fprintf(stderr, "pixl: %s\n", pixl_last_error());
    return ds;
}

/* pixl eval on an edge or normal dataset: scores as JSON on stdout */
static int eval_task(pixl_model *m, const pixl_dataset *ds, int flip, int limit)
{
    pixl_eval_opts eo = {.flip = flip, .limit = limit};
    if (pixl_dataset_task(ds) == PIXL_TASK_EDGES) {
        pixl_edge_bench_result *r = calloc(1, sizeof *r);
        if (!r || pixl_evaluate_edges(m, ds, &eo, NULL, r)) {
            fprintf(stderr, "pixl eval: %s\n", r ? pixl_last_error() : "out of memory");
            free(r);
            return 1;
        }
        char *js = pixl_edge_scores_json(r);
        printf("%s\n", js ? js : "null");
        free(js);
        fprintf(stderr, "BSDS benchmark: ODS F %.4f, OIS F %.4f, AP %.4f (%d images, %.1f s)\n", r->ods_f, r->ois_f,
                r->ap, r->n_images, r->seconds);
        free(r);
        return 0;
    }
    pixl_normal_metrics *acc = pixl_normal_metrics_new();
    pixl_normal_scores s;
    if (!acc || pixl_evaluate_normals(m, ds, &eo, acc) || pixl_normal_metrics_scores(acc, &s)) {
        fprintf(stderr, "pixl eval: %s\n", pixl_last_error());
        pixl_normal_metrics_free(acc);
        return 1;
    }
    char *js = pixl_normal_scores_json(&s);
    printf("%s\n", js ? js : "null");
    free(js);
    fprintf(stderr, "normals: mean %.2f, median %.2f degrees; within 11.25/22.5/30: %.1f / %.1f / %.1f %%\n", s.mean,
            s.median, 100 * s.within_11_25, 100 * s.within_22_5, 100 * s.within_30);
    pixl_normal_metrics_free(acc);
    return 0;
}

int cmd_eval(int argc, char **argv)
{
    const char *model_path = NULL, *kind = "camvid", *root = NULL, *split = "val", *list = NULL, *config = NULL;
    int flip = 0, limit = 0, batch = 1, workers = 2;
    unsigned load_flags = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(a, "--model") && more) model_path = argv[++i];
        else if (!strcmp(a, "--dataset") && more) kind = argv[++i];
        else if (!strcmp(a, "--config") && more) config = argv[++i];
        else if (!strcmp(a, "--root") && more) root = argv[++i];
        else if (!strcmp(a, "--split") && more) split = argv[++i];
        else if (!strcmp(a, "--list") && more) list = argv[++i];
        else if (!strcmp(a, "--limit") && more) { /* 0: the whole split */
            if (pixl_arg_int("eval", a, argv[++i], 0, INT_MAX, &limit)) return 2;
        } else if (!strcmp(a, "--batch") && more) { /* the bounds of validation.batch_size and data.n_workers */
            if (pixl_arg_int("eval", a, argv[++i], 1, 65536, &batch)) return 2;
        } else if (!strcmp(a, "--workers") && more) {
            if (pixl_arg_int("eval", a, argv[++i], 0, 256, &workers)) return 2;
        }
        else if (!strcmp(a, "--flip")) flip = 1;
        else if (!strcmp(a, "--allow-nonfinite")) load_flags |= PIXL_LOAD_ALLOW_NONFINITE;
        else if (a[0] != '-' && !model_path) model_path = a;
        else {
            fprintf(stderr,
                    "usage: pixl eval MODEL.safetensors --dataset KIND --root DIR [--split val] [--list FILE]\n"
                    "                 [--flip] [--limit N] [--batch N] [--workers N] [--allow-nonfinite]\n"
                    "       pixl eval MODEL.safetensors --config TRAIN.yaml [--split val] [...]\n"
                    "                 (the data set and split exactly as that training config opens them)\n"
                    "Metrics as JSON on stdout, a per-class table on stderr. A checkpoint holding NaN or\n"
                    "infinite values is refused unless --allow-nonfinite.\n");
            return 2;
        }
    }
    if (!model_path) {
        fprintf(stderr, "pixl eval: no model given (see pixl eval --help)\n");
        return 2;
    }
    pixl_model *m = pixl_model_load_ex(model_path, load_flags);
    if (!m) {
        fprintf(stderr, "pixl eval: %s\n", pixl_last_error());
        return 1;
    }
    pixl_dataset *ds = NULL;
    if (config) {
        pixl_train_config *cfg = malloc(sizeof *cfg);
        if (cfg && !pixl_config_load(config, cfg)) {
            ds = pixl_config_open_split(cfg, split, limit);
            if (ds) kind = pixl_dataset_kind(ds);
        }
        if (!ds) fprintf(stderr, "pixl eval: %s\n", cfg ? pixl_last_error() : "out of memory");
        free(cfg);
    } else {
        ds = open_dataset_args(kind, root, split, list, limit);
    }
    if (!ds) {
        pixl_model_free(m);
        return 1;
    }
    if (pixl_dataset_task(ds) != PIXL_TASK_SEGMENTATION) { /* edges: BSDS benchmark; normals: angular errors */
        int trc = eval_task(m, ds, flip, limit);
        pixl_dataset_free(ds);
        pixl_model_free(m);
        return trc;
    }
    int K = pixl_model_n_classes(m), rc = 0;
    if (pixl_dataset_n_classes(ds) != K) {
        fprintf(stderr, "pixl eval: the model has %d classes, data set '%s' %d\n", K, kind,
                pixl_dataset_n_classes(ds));
        rc = 1;
    }
    pixl_confusion *conf = rc ? NULL : pixl_confusion_new(K, PIXL_IGNORE_LABEL);
    pixl_eval_opts eo = {.flip = flip, .batch_size = batch, .n_workers = workers, .limit = limit};
    if (!rc && pixl_evaluate(m, ds, &eo, conf)) {
        fprintf(stderr, "pixl eval: %s\n", pixl_last_error());
        rc = 1;
    }
    if (!rc) {
        const char **names = calloc((size_t)K, sizeof *names);
        for (int k = 0; names && k < K; k++) names[k] = pixl_model_class_name(m, k);
        char *js = pixl_metrics_json(conf, names, 0);
        printf("%s\n", js ? js : "{}");
        free(js);
        pixl_metrics_print(stderr, conf, names);
        free(names);
    }
    pixl_confusion_free(conf);
    pixl_dataset_free(ds);
    pixl_model_free(m);
    return rc;
}

/* --------------------------------------------------------------- predict */
static const char *stem_of(const char *path, char *buf, size_t len)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    snprintf(buf, len, "%s", b);
    char *dot = strrchr(buf, '.');
    if (dot && dot != buf) *dot = 0;
    return buf;
}

int pixl_predict_files(pixl_model *m, int n, char **images, const char *out_dir, int flip, int quiet)
{
    if (mkdir(out_dir, 0755) && errno != EEXIST) {
        fprintf(stderr, "pixl predict: cannot create %s: %s\n", out_dir, strerror(errno));
        return 1;
    }
    int K = pixl_model_n_classes(m), failed = 0;
    for (int i = 0; i < n; i++) {
        pixl_image *img = pixl_image_load(images[i], 3, 8);
        if (!img) {
            fprintf(stderr, "pixl predict: %s\n", pixl_last_error());
            failed++;
            continue;
        }
        int h = img->height, w = img->width;
        float *x = malloc(sizeof(float) * 3 * (size_t)h * w);
        int32_t *lab = malloc(sizeof(int32_t) * (size_t)h * w);
        int rc = !x || !lab ? PIXL_ERR_NOMEM : pixl_image_to_chw(img, pixl_model_mean(m), pixl_model_std(m), x);
        if (!rc) rc = pixl_model_predict(m, x, 1, h, w, flip, NULL, lab);
        char stem[256], p1[1200], p2[1200], p3[1200];
        stem_of(images[i], stem, sizeof stem);
        snprintf(p1, sizeof p1, "%s/%s_labels.png", out_dir, stem);
        snprintf(p2, sizeof p2, "%s/%s_color.png", out_dir, stem);
        snprintf(p3, sizeof p3, "%s/%s_overlay.png", out_dir, stem);
        if (!rc) rc = pixl_label_save_png(lab, w, h, NULL, 0, p1);
        uint8_t voc[256 * 3]; /* a model without colours of its own: the default map */
        pixl_voc_colours(K < 256 ? K : 256, voc);
        const uint8_t *pal = pixl_model_colours(m) ? pixl_model_colours(m) : voc;
        int npal = pixl_model_colours(m) ? K : K < 256 ? K : 256;
        pixl_image *col = rc ? NULL : pixl_label_colorize(lab, w, h, pal, npal, NULL, 1.0f);
        pixl_image *ov = rc ? NULL : pixl_label_colorize(lab, w, h, pal, npal, img, 0.5f);
        if (!rc && (!col || !ov)) rc = pixl_last_status() ? pixl_last_status() : PIXL_ERR_NOMEM;
        if (!rc) rc = pixl_image_save_png(col, p2);
        if (!rc) rc = pixl_image_save_png(ov, p3);
        if (rc) {
            fprintf(stderr, "pixl predict: %s: %s\n", images[i], pixl_last_error());
            failed++;
        } else if (!quiet) {
            printf("%s -> %s, %s, %s\n", images[i], p1, p2, p3);
        }
        pixl_image_free(col);
        pixl_image_free(ov);
        pixl_image_free(img);
        free(x);
        free(lab);
    }
    return failed ? 1 : 0;
}

int cmd_predict(int argc, char **argv)
{
    const char *model_path = NULL, *out = "predictions";
    int flip = 0, n = 0;
    unsigned load_flags = 0;
    char **imgs = calloc((size_t)argc, sizeof *imgs);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--model") && i + 1 < argc) model_path = argv[++i];
        else if (!strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
        else if (!strcmp(argv[i], "--flip")) flip = 1;
        else if (!strcmp(argv[i], "--allow-nonfinite")) load_flags |= PIXL_LOAD_ALLOW_NONFINITE;
        else if (argv[i][0] == '-') {
            fprintf(stderr, "pixl predict: unknown option %s\n", argv[i]);
            free(imgs);
            return 2;
        } else imgs[n++] = argv[i];
    }
    if (!model_path || !n) {
        fprintf(stderr, "usage: pixl predict --model MODEL.safetensors IMAGE... [--out DIR] [--flip] [--allow-nonfinite]\n"
                        "Writes DIR/<name>_labels.png (class indices), _color.png and _overlay.png.\n"
                        "A checkpoint holding NaN or infinite values is refused unless --allow-nonfinite.\n");
        free(imgs);
        return 2;
    }
    pixl_model *m = pixl_model_load_ex(model_path, load_flags);
    if (!m) {
        fprintf(stderr, "pixl predict: %s\n", pixl_last_error());
        free(imgs);
        return 1;
    }
    int rc = pixl_predict_files(m, n, imgs, out, flip, 0);
    pixl_model_free(m);
    free(imgs);
    return rc;
}

/* ------------------------------------------------------------------ demo */
int cmd_demo(int argc, char **argv)
{
    const char *dir = "runs/demo";
    double minutes = 1.5;
    pixl_train_config *cfg = calloc(1, sizeof *cfg);
    pixl_config_defaults(cfg);
    /* the embedded default: synthetic shapes, a small U-Net, Adam */
    const char *defaults[] = {"model.arch=unet", "data.dataset=synthetic", "data.img_rows=64", "data.img_cols=64",
                              "data.flip=true", "data.n_workers=2", "training.batch_size=16",
                              "training.optimizer.name=adam", "training.optimizer.lr=0.003",
                              "training.lr_schedule.name=poly", "validation.every_epochs=2", "training.epochs=12",
                              "training.print_interval=20"};
    for (size_t i = 0; i < sizeof defaults / sizeof *defaults; i++)
        if (apply_set(cfg, defaults[i])) {
            free(cfg);
            return 1;
        }
    pixl_config_set(cfg, "model.options.width", "0.5");
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--out") && i + 1 < argc) dir = argv[++i];
        else if (!strcmp(argv[i], "--minutes") && i + 1 < argc) {
            if (pixl_arg_num_above("demo", "--minutes", argv[++i], 0, HUGE_VAL, &minutes)) {
                free(cfg);
                return 2;
            }
        }
        else if (!strcmp(argv[i], "--set") && i + 1 < argc) {
            if (apply_set(cfg, argv[++i])) {
                free(cfg);
                return 2;
            }
        } else {
            fprintf(stderr, "usage: pixl demo [--out DIR] [--minutes M] [--set KEY=VALUE]...\n"
                            "Trains on the embedded synthetic data set, evaluates, predicts and writes a report.\n");
            free(cfg);
            return 2;
        }
    }
    char buf[64];
    snprintf(buf, sizeof buf, "%g", minutes);
    pixl_config_set(cfg, "training.max_minutes", buf);
    snprintf(cfg->output.run_dir, sizeof cfg->output.run_dir, "%s", dir);
    printf("pixl demo: training a U-Net on synthetic shapes for up to %.1f minutes in %s\n", minutes, dir);
    fflush(stdout);
    int rc = run_training(cfg);
    if (rc) {
        free(cfg);
        return rc;
    }
    /* evaluate the best checkpoint, predict a few validation images, report */
    char best[1100];
    snprintf(best, sizeof best, "%s/best.safetensors", dir);
    pixl_model *m = pixl_model_load(best);
    if (!m) {
        fprintf(stderr, "pixl demo: %s\n", pixl_last_error());
        free(cfg);
        return 1;
    }
    pixl_dataset *val = pixl_config_open_split(cfg, NULL, 0);
    free(cfg);
    pixl_confusion *conf = pixl_confusion_new(pixl_model_n_classes(m), PIXL_IGNORE_LABEL);
    if (!val || !conf || pixl_evaluate(m, val, &(pixl_eval_opts){.batch_size = 8}, conf)) {
        fprintf(stderr, "pixl demo: %s\n", pixl_last_error());
        rc = 1;
    } else {
        const char **names = calloc((size_t)pixl_model_n_classes(m), sizeof *names);
        for (int k = 0; names && k < pixl_model_n_classes(m); k++) names[k] = pixl_model_class_name(m, k);
        pixl_metrics_print(stdout, conf, names);
        free(names);
        /* predictions for three validation images, written as PNG files first */
        char *paths[3], pbuf[3][1200], pred_dir[1100];
        for (int i = 0; i < 3 && !rc; i++) {
            pixl_image *img = NULL;
            int32_t *lab = NULL;
            snprintf(pbuf[i], sizeof pbuf[i], "%s/val_%d.png", dir, i);
            rc = pixl_dataset_load(val, i, &img, &lab) || pixl_image_save_png(img, pbuf[i]);
            paths[i] = pbuf[i];
            pixl_image_free(img);
            free(lab);
        }
        snprintf(pred_dir, sizeof pred_dir, "%s/predictions", dir);
        if (!rc) rc = pixl_predict_files(m, 3, paths, pred_dir, 0, 0);
        if (!rc) {
            char *rargv[] = {"report", (char *)dir, NULL};
            rc = cmd_report(2, rargv);
        }
    }
    pixl_confusion_free(conf);
    pixl_dataset_free(val);
    pixl_model_free(m);
    return rc;
}
