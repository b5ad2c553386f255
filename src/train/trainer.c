/* trainer.c — a training run from a config: datasets and loaders, the
 * model, class-weighted cross-entropy, optimizer and schedule, periodic
 * validation (mean IoU), progress output, JSON log, atomic checkpoints,
 * resume, and a clean stop on request (Ctrl-C). Also pixl_evaluate(). */
#include <errno.h>
#include <math.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pixelnet/pixelnet_impl.h"
#include "pixl_impl.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ------------------------------------------------------------- evaluation */
int pixl_evaluate(pixl_model *m, const pixl_dataset *ds, const pixl_eval_opts *oin, pixl_confusion *conf)
{
    pixl_eval_opts o = oin ? *oin : (pixl_eval_opts){0};
    if (!m || !ds || !conf) return pixl_set_error(PIXL_ERR_ARG, "pixl_evaluate: NULL argument");
    if (pixl_confusion_n_classes(conf) != pixl_model_n_classes(m))
        return pixl_set_error(PIXL_ERR_ARG, "pixl_evaluate: confusion matrix has %d classes, the model %d",
                              pixl_confusion_n_classes(conf), pixl_model_n_classes(m));
    pixl_loader_opts lo = {.batch_size = o.batch_size > 0 ? o.batch_size : 1, .n_workers = o.n_workers};
    pixl_loader *L = pixl_loader_new(ds, &lo);
    if (!L) return pixl_last_status();
    int nb = pixl_loader_batches_per_epoch(L), rc = PIXL_OK, done = 0;
    int32_t *pred = NULL;
    size_t cap = 0;
    for (int b = 0; b < nb && rc == PIXL_OK; b++) {
        pixl_batch B;
        if ((rc = pixl_loader_next(L, &B))) break;
        size_t need = (size_t)B.n * B.height * B.width;
        if (need > cap) {
            free(pred);
            pred = pixl_malloc(need * sizeof *pred);
            cap = pred ? need : 0;
            if (!pred) {
                rc = PIXL_ERR_NOMEM;
                break;
            }
        }
        rc = pixl_model_predict(m, B.images, B.n, B.height, B.width, o.flip, NULL, pred);
        if (!rc) rc = pixl_confusion_update(conf, pred, B.labels, (int64_t)need);
        done += B.n;
        if (o.limit > 0 && done >= o.limit) break;
    }
    free(pred);
    pixl_loader_free(L);
    return rc;
}

/* ----------------------------------------------------------- class weights */
static int class_weights(const pixl_train_config *cfg, const pixl_dataset *ds, int K, float *w)
{
    for (int k = 0; k < K; k++) w[k] = 1;
    pixl_class_weighting kind = cfg->training.loss.class_weights;
    if (kind == PIXL_CLASS_WEIGHTS_NONE) return PIXL_OK;
    if (kind == PIXL_CLASS_WEIGHTS_LIST) {
        if (cfg->training.loss.n_class_weights != K)
            return pixl_set_error(PIXL_ERR_ARG, "training.loss.class_weights: %d values for %d classes",
                                  cfg->training.loss.n_class_weights, K);
        for (int k = 0; k < K; k++) w[k] = (float)cfg->training.loss.class_weight_values[k];
        return PIXL_OK;
    }
    /* frequencies over the training labels */
    int64_t *cnt = pixl_calloc((size_t)K, sizeof *cnt), *img_px = pixl_calloc((size_t)K, sizeof *img_px);
    if (!cnt || !img_px) {
        free(cnt);
        free(img_px);
        return PIXL_ERR_NOMEM;
    }
    int64_t total = 0;
    int64_t *here = pixl_calloc((size_t)K, sizeof *here);
    for (int i = 0; i < pixl_dataset_size(ds); i++) {
        pixl_image *img = NULL;
        int32_t *lab = NULL;
        int rc = pixl_dataset_load(ds, i, &img, &lab);
        if (rc) {
            free(cnt);
            free(img_px);
            free(here);
            return rc;
        }
        int64_t n = (int64_t)img->width * img->height, valid = 0;
        memset(here, 0, sizeof(int64_t) * (size_t)K);
        for (int64_t p = 0; p < n; p++)
            if (lab[p] >= 0 && lab[p] < K) {
                here[lab[p]]++;
                valid++;
            }
        for (int k = 0; k < K; k++) {
            cnt[k] += here[k];
            if (here[k]) img_px[k] += valid;
        }
        total += valid;
        pixl_image_free(img);
        free(lab);
    }
    free(here);
    if (kind == PIXL_CLASS_WEIGHTS_ENET) {
        for (int k = 0; k < K; k++) w[k] = (float)(1.0 / log(1.02 + (total ? (double)cnt[k] / (double)total : 0)));
    } else { /* median frequency */
        double f[4096], sorted[4096];
        int nf = 0;
        for (int k = 0; k < K; k++) {
            f[k] = img_px[k] ? (double)cnt[k] / (double)img_px[k] : 0;
            if (f[k] > 0) sorted[nf++] = f[k];
        }
        for (int i = 1; i < nf; i++)
            for (int j = i; j > 0 && sorted[j] < sorted[j - 1]; j--) {
                double t = sorted[j];
                sorted[j] = sorted[j - 1];
                sorted[j - 1] = t;
            }
        double med = nf ? (nf % 2 ? sorted[nf / 2] : 0.5 * (sorted[nf / 2 - 1] + sorted[nf / 2])) : 1;
        for (int k = 0; k < K; k++) w[k] = f[k] > 0 ? (float)(med / f[k]) : 0;
    }
    free(cnt);
    free(img_px);
    return PIXL_OK;
}

/* ------------------------------------------------------------------ output */
typedef struct {
    FILE *out;
    int tty, quiet;
    FILE *jsonl;
} logger;

static void logf_(logger *lg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(logger *lg, const char *fmt, ...)
{
    va_list ap;
    if (lg->tty) fprintf(lg->out, "\r\033[K");
    va_start(ap, fmt);
    vfprintf(lg->out, fmt, ap);
    va_end(ap);
    fflush(lg->out);
}

static void progress(logger *lg, int64_t epoch, int b, int nb, double eta, double loss, double lr, double ips)
{
    if (!lg->tty || lg->quiet) return;
    char bar[21];
    int fill = nb ? (int)(20.0 * (b + 1) / nb) : 0;
    for (int i = 0; i < 20; i++) bar[i] = i < fill ? '#' : '.';
    bar[20] = 0;
    int e = eta > 0 ? (int)eta : 0;
    fprintf(lg->out, "\r\033[Kepoch %lld [%s] %d/%d  ETA %02d:%02d:%02d  loss %.4f  lr %.2e  %.1f img/s",
            (long long)epoch, bar, b + 1, nb, e / 3600, e / 60 % 60, e % 60, loss, lr, ips);
    fflush(lg->out);
}

static int mkdir_p(const char *dir)
{
    char buf[PIXL_CFG_PATH_LEN];
    snprintf(buf, sizeof buf, "%s", dir);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(buf, 0755) && errno != EEXIST) return -1;
            *p = '/';
        }
    if (mkdir(buf, 0755) && errno != EEXIST) return -1;
    return 0;
}

static const char *path_in(const char *dir, const char *name)
{
    static _Thread_local char buf[4][PIXL_CFG_PATH_LEN + 64];
    static _Thread_local int k;
    char *b = buf[k++ & 3];
    snprintf(b, PIXL_CFG_PATH_LEN + 64, "%s/%s", dir, name);
    return b;
}

/* --------------------------------------------------------------- the run */
typedef struct {
    const pixl_train_config *cfg;
    pixl_model *model;
    pixl_dataset *train, *val;
    pixl_loader *loader;
    pixl_optim *opt;
    pixl_ctx *ctx;
    pixl_tensor *x, *y, *loss;
    pixl_tensor *bce_target, *bce_mask; /* balanced_bce, dense models: (B, 1, H, W) from the labels */
    int pixelnet;      /* arch pixelnet: head and loss at sampled pixels */
    int edges;         /* edge dataset: validation by the BSDS benchmark, best by ODS F */
    int normals;       /* normal dataset: normal loss, validation by angular errors, best by mean error */
    int ignore;        /* the loss's ignored label */
    pixl_pn_train pn;
    logger lg;
    int K;
    int64_t step, epoch;
    int batch_in_epoch;
    double elapsed0; /* seconds trained before a resume */
    double best_score; /* best validation score, higher is better: mIoU, ODS F, or -mean angle (normals) */
} run;

static int save_last(run *r, double elapsed)
{
    char s[64], e[64], b[64], t[64], bm[64];
    snprintf(s, sizeof s, "%lld", (long long)r->step);
    snprintf(e, sizeof e, "%lld", (long long)r->epoch);
    snprintf(b, sizeof b, "%d", r->batch_in_epoch);
    snprintf(t, sizeof t, "%.3f", elapsed);
    snprintf(bm, sizeof bm, "%.9g", r->best_score);
    /* best_score is stored under its old name "best_miou" so older checkpoints still resume */
    const char *k[] = {"step", "epoch", "batch_in_epoch", "elapsed_seconds", "best_miou"};
    const char *v[] = {s, e, b, t, bm};
    const char *dir = r->cfg->output.run_dir;
    int rc = pixl_model_save(r->model, path_in(dir, "last.safetensors"), 5, k, v);
    if (!rc) rc = pixl_optim_save(r->opt, path_in(dir, "last.optim.safetensors"));
    return rc;
}

/* one "val" line of log.jsonl; metrics_json is the metrics object (or "null") */
static void log_val_record(run *r, double elapsed, double train_loss, int best, const char *metrics_json)
{
    if (!r->lg.jsonl) return;
    fprintf(r->lg.jsonl,
            "{\"type\":\"val\",\"step\":%lld,\"epoch\":%lld,\"minutes\":%.4f,\"train_loss\":%.6g,\"best\":%s,"
            "\"metrics\":%s}\n",
            (long long)r->step, (long long)r->epoch, elapsed / 60, train_loss, best ? "true" : "false", metrics_json);
    fflush(r->lg.jsonl);
}

/* best.safetensors with the score under `key` (val_miou, val_ods_f), the step and the minutes */
static int save_best(run *r, const char *key, double score, double elapsed)
{
    char bm[64], st[64], mn[64];
    snprintf(bm, sizeof bm, "%.9g", score);
    snprintf(st, sizeof st, "%lld", (long long)r->step);
    snprintf(mn, sizeof mn, "%.4f", elapsed / 60);
    const char *k[] = {key, "step", "minutes"};
    const char *v[] = {bm, st, mn};
    return pixl_model_save(r->model, path_in(r->cfg->output.run_dir, "best.safetensors"), 3, k, v);
}

/* edge datasets: the BSDS benchmark of the model's boundary probabilities; the score is ODS F */
static int validate_edges(run *r, double elapsed, double train_loss)
{
    const pixl_train_config *cfg = r->cfg;
    pixl_eval_opts eo = {.flip = cfg->validation.flip, .batch_size = 1, .n_workers = cfg->data.n_workers,
                         .limit = cfg->validation.limit};
    pixl_edge_bench_opts bo = {.n_thresholds = cfg->validation.edge_thresholds};
    pixl_edge_bench_result res;
    double t0 = now_s();
    int rc = pixl_evaluate_edges(r->model, r->val, &eo, &bo, &res);
    if (rc) return rc;
    int best = res.ods_f > r->best_score;
    if (best) r->best_score = res.ods_f;
    logf_(&r->lg, "val  step %lld epoch %lld  %.1f min  ODS F %.4f  OIS F %.4f  AP %.4f  (%d images, %.1f s)%s\n",
          (long long)r->step, (long long)r->epoch, elapsed / 60, res.ods_f, res.ois_f, res.ap, res.n_images,
          now_s() - t0, best ? "  best" : "");
    char *js = pixl_edge_scores_json(&res);
    log_val_record(r, elapsed, train_loss, best, js ? js : "null");
    free(js);
    if (best && cfg->output.keep_best) rc = save_best(r, "val_ods_f", res.ods_f, elapsed);
    return rc;
}

/* normal datasets: angular errors of the predicted normals; the best is the lowest mean error */
static int validate_normals(run *r, double elapsed, double train_loss)
{
    pixl_eval_opts eo = {.limit = r->cfg->validation.limit};
    pixl_normal_metrics *acc = pixl_normal_metrics_new();
    if (!acc) return PIXL_ERR_NOMEM;
    pixl_normal_scores s;
    double t0 = now_s();
    int rc = pixl_evaluate_normals(r->model, r->val, &eo, acc);
    if (!rc) rc = pixl_normal_metrics_scores(acc, &s);
    pixl_normal_metrics_free(acc);
    if (rc) return rc;
    int best = -s.mean > r->best_score;
    if (best) r->best_score = -s.mean;
    logf_(&r->lg,
          "val  step %lld epoch %lld  %.1f min  mean %.2f  median %.2f deg  within 11.25/22.5/30: %.1f/%.1f/%.1f%%  "
          "(%.1f s)%s\n",
          (long long)r->step, (long long)r->epoch, elapsed / 60, s.mean, s.median, 100 * s.within_11_25,
          100 * s.within_22_5, 100 * s.within_30, now_s() - t0, best ? "  best" : "");
    char *js = pixl_normal_scores_json(&s);
    log_val_record(r, elapsed, train_loss, best, js ? js : "null");
    free(js);
    if (best && r->cfg->output.keep_best) rc = save_best(r, "val_mean_angle_deg", s.mean, elapsed);
    return rc;
}

static int validate(run *r, double elapsed, double train_loss)
{
    const pixl_train_config *cfg = r->cfg;
    if (r->edges) return validate_edges(r, elapsed, train_loss);
    if (r->normals) return validate_normals(r, elapsed, train_loss);
    pixl_confusion *conf = pixl_confusion_new(r->K, PIXL_IGNORE_LABEL);
    if (!conf) return pixl_last_status();
    pixl_eval_opts eo = {.flip = cfg->validation.flip, .batch_size = cfg->validation.batch_size,
                         .n_workers = cfg->data.n_workers, .limit = cfg->validation.limit};
    double t0 = now_s();
    int rc = pixl_evaluate(r->model, r->val, &eo, conf);
    if (rc) {
        pixl_confusion_free(conf);
        return rc;
    }
    pixl_seg_scores sc;
    double *iou = pixl_calloc((size_t)r->K, sizeof(double));
    pixl_confusion_scores(conf, &sc, iou, NULL);
    int best = sc.mean_iou > r->best_score;
    if (best) r->best_score = sc.mean_iou;
    logf_(&r->lg, "val  step %lld epoch %lld  %.1f min  mIoU %.2f%%  acc %.2f%%  (%.1f s)%s\n", (long long)r->step,
          (long long)r->epoch, elapsed / 60, 100 * sc.mean_iou, 100 * sc.overall_acc, now_s() - t0,
          best ? "  best" : "");
    if (r->lg.jsonl) {
        const char **names = calloc((size_t)r->K, sizeof *names);
        for (int k = 0; names && k < r->K; k++) names[k] = pixl_model_class_name(r->model, k);
        char *js = pixl_metrics_json(conf, names, 1);
        free(names);
        log_val_record(r, elapsed, train_loss, best, js ? js : "null");
        free(js);
    }
    if (best && cfg->output.keep_best) rc = save_best(r, "val_miou", sc.mean_iou, elapsed);
    free(iou);
    pixl_confusion_free(conf);
    return rc;
}

static void cleanup(run *r)
{
    pixl_ctx_free(r->ctx);
    pixl_optim_free(r->opt);
    pixl_loader_free(r->loader);
    pixl_model_free(r->model);
    pixl_dataset_free(r->train);
    pixl_dataset_free(r->val);
    if (r->lg.jsonl) fclose(r->lg.jsonl);
}

pixl_dataset *pixl_config_open_split(const pixl_train_config *cfg, const char *split, int limit)
{
    if (!split) split = cfg->data.val_split;
    pixl_dataset_opts o = {.kind = cfg->data.dataset, .root = cfg->data.root[0] ? cfg->data.root : NULL,
                           .split = split, .seed = (uint64_t)cfg->training.seed};
    if (!strcmp(cfg->data.dataset, "synthetic") || !strcmp(cfg->data.dataset, "synthetic_normals")) {
        /* the embedded data sets: disjoint seeds for the splits */
        o.seed = (uint64_t)cfg->training.seed * 2 + (strcmp(split, "train") ? 1 : 0) + 1000;
        o.count = strcmp(split, "train") ? 64 : 512;
        o.width = cfg->data.img_cols > 0 ? cfg->data.img_cols : 0;
        o.height = cfg->data.img_rows > 0 ? cfg->data.img_rows : 0;
    } else {
        o.limit = limit; /* synthetic samples do not depend on the count */
    }
    return pixl_dataset_open(&o);
}

int pixl_train(const pixl_train_config *cfg, const pixl_train_hooks *hooks)
{
    run r = {0};
    r.cfg = cfg;
    r.best_score = -1e300;
    r.lg.out = hooks && hooks->log ? hooks->log : stderr;
    r.lg.quiet = hooks && hooks->quiet;
    r.lg.tty = !r.lg.quiet && isatty(fileno(r.lg.out));
    volatile int *stop = hooks ? hooks->stop : NULL;
    int rc = pixl_config_validate(cfg);
    if (rc) return rc;
    if (cfg->training.threads > 0) pixl_set_num_threads(cfg->training.threads);
    const char *dir = cfg->output.run_dir;
    if (!dir[0]) return pixl_set_error(PIXL_ERR_ARG, "output.run_dir is empty");
    if (mkdir_p(dir)) return pixl_set_error(PIXL_ERR_IO, "cannot create run directory %s: %s", dir, strerror(errno));

    /* data */
    r.train = pixl_config_open_split(cfg, cfg->data.train_split, 0);
    if (!r.train) return pixl_last_status();
    r.val = pixl_config_open_split(cfg, cfg->data.val_split, 0);
    if (!r.val) {
        cleanup(&r);
        return pixl_last_status();
    }
    const int bce = cfg->training.loss.name == PIXL_LOSS_BALANCED_BCE, nrm = cfg->training.loss.name == PIXL_LOSS_NORMAL;
    /* balanced_bce: one sigmoid output; normal: the 3 components */
    const int dsK = pixl_dataset_n_classes(r.train), wantK = bce ? 1 : nrm ? 3 : dsK;
    r.edges = pixl_dataset_task(r.train) == PIXL_TASK_EDGES;
    r.normals = pixl_dataset_task(r.train) == PIXL_TASK_NORMALS;
    r.K = cfg->model.n_classes > 0 ? cfg->model.n_classes : wantK;
    if (nrm != r.normals || (nrm && strcmp(cfg->model.arch, "pixelnet")) ||
        (nrm && cfg->training.loss.class_weights != PIXL_CLASS_WEIGHTS_NONE)) {
        rc = pixl_set_error(PIXL_ERR_ARG, "%s",
                            !nrm ? "the data set has surface normals: set training.loss.name: normal"
                            : !r.normals
                                ? "training.loss.name normal needs a data set with surface normals (synthetic_normals)"
                            : strcmp(cfg->model.arch, "pixelnet")
                                ? "training.loss.name normal: only model.arch pixelnet trains normals so far (its head "
                                  "and loss at sampled pixels); dense models would need the loss over (N, 3, H, W)"
                                : "training.loss.name normal: class_weights do not apply (set none)");
        cleanup(&r);
        return rc;
    }
    if (bce && (dsK != 2 || !r.edges)) {
        rc = pixl_set_error(PIXL_ERR_ARG,
                            "training.loss.name balanced_bce trains edge models: it needs an edge data set with labels "
                            "0/1 (bsds500); '%s' has %d classes%s",
                            cfg->data.dataset, dsK, r.edges ? "" : " and no boundary maps");
        cleanup(&r);
        return rc;
    }
    if (r.K != wantK) {
        rc = pixl_set_error(PIXL_ERR_ARG, "model.n_classes is %d but data set '%s' has %d classes%s", r.K,
                            cfg->data.dataset, dsK,
                            bce ? " (balanced_bce: model.n_classes 1)" : nrm ? " (normal: model.n_classes 3)" : "");
        cleanup(&r);
        return rc;
    }
    if (r.edges && r.K > 2) {
        rc = pixl_set_error(PIXL_ERR_ARG, "an edge model has 1 output (balanced_bce) or 2 (cross_entropy), not %d", r.K);
        cleanup(&r);
        return rc;
    }
    /* training input size: crop, else the resize size, else the first image's */
    int TH = cfg->data.crop[0], TW = cfg->data.crop[1];
    if (!TH || !TW) {
        TH = cfg->data.img_rows;
        TW = cfg->data.img_cols;
    }
    if (!TH || !TW) {
        pixl_image *img = NULL;
        int32_t *lab = NULL;
        if ((rc = pixl_dataset_load(r.train, 0, &img, &lab))) {
            cleanup(&r);
            return rc;
        }
        TH = img->height;
        TW = img->width;
        pixl_image_free(img);
        free(lab);
    }

    /* model */
    pixl_model_opts mo; /* width, variant, backbone, output_stride, aux and the PixelNet head of model.options */
    const char *pretrained = NULL;
    pixl_config_model_opts(cfg, &mo, &pretrained);
    mo.n_classes = r.K;
    r.pixelnet = !strcmp(cfg->model.arch, "pixelnet");
    r.model = pixl_model_create(cfg->model.arch, &mo, (uint64_t)cfg->training.seed);
    if (!r.model) {
        rc = pixl_last_status();
        cleanup(&r);
        return rc;
    }
    if (pretrained && pretrained[0]) { /* e.g. ImageNet weights from tools/convert_pth.py --prefix backbone. */
        int n = pixl_checkpoint_load_subset(pixl_model_params(r.model), pretrained);
        if (n < 0) {
            cleanup(&r);
            return n;
        }
        logf_(&r.lg, "initialised %d tensors from %s\n", n, pretrained);
    }
    pixl_model_set_norm(r.model, pixl_dataset_mean(r.train), pixl_dataset_std(r.train));
    {
        const char **names = calloc((size_t)r.K, sizeof *names);
        /* balanced_bce: the single output is the dataset's class 1; normal: the components */
        static const char *const xyz[3] = {"normal_x", "normal_y", "normal_z"};
        for (int k = 0; names && k < r.K; k++) names[k] = nrm ? xyz[k] : pixl_dataset_class_name(r.train, bce ? 1 : k);
        pixl_model_set_classes(r.model, names, pixl_dataset_colours(r.train) + (bce ? 3 : 0));
        free(names);
    }
    if (cfg->data.img_rows > 0 && cfg->data.img_cols > 0)
        pixl_model_set_input_size(r.model, cfg->data.img_rows, cfg->data.img_cols);
    pixl_params *P = pixl_model_params(r.model);

    /* training graph */
    int B = cfg->training.batch_size;
    float *cw = pixl_calloc((size_t)r.K, sizeof(float));
    if (!cw || (rc = class_weights(cfg, r.train, r.K, cw))) {
        free(cw);
        rc = rc ? rc : PIXL_ERR_NOMEM;
        cleanup(&r);
        return rc;
    }
    r.ctx = pixl_ctx_new(P, PIXL_MODE_TRAIN);
    int64_t xs[4] = {B, 3, TH, TW}, ys[3] = {B, TH, TW}, ws[1] = {r.K};
    r.x = pixl_input(r.ctx, "images", PIXL_F32, 4, xs);
    r.y = pixl_input(r.ctx, "labels", PIXL_I32, 3, ys);
    pixl_model_opts tmo = mo; /* tmo.aux: model.options.aux (auxiliary heads on by default) */
    pixl_tensor *logits = r.pixelnet ? NULL : pixl_model_build(r.ctx, cfg->model.arch, r.x, &tmo);
    if (logits && (logits->shape[2] != TH || logits->shape[3] != TW))
        logits = pixl_resize(r.ctx, logits, TH, TW, PIXL_RESIZE_BILINEAR, 0, 0, 0);
    pixl_tensor *wt = cfg->training.loss.class_weights == PIXL_CLASS_WEIGHTS_NONE
                          ? NULL
                          : pixl_constant(r.ctx, "class_weights", PIXL_F32, 1, ws, cw);
    int ign = pixl_config_loss_ignore_index(cfg);
    r.ignore = ign >= 0 ? ign : PIXL_IGNORE_LABEL;
    pixl_ce_opts ceo = {.ignore = ign >= 0, .ignore_index = ign >= 0 ? ign : -100};
    if (bce && !r.pixelnet) {
        int64_t ts[4] = {B, 1, TH, TW};
        r.bce_target = pixl_input(r.ctx, "bce_target", PIXL_F32, 4, ts);
        r.bce_mask = pixl_input(r.ctx, "bce_mask", PIXL_F32, 4, ts);
    }
#define DENSE_LOSS(lg)                                                                                         \
    (bce ? pixl_balanced_bce_with_logits(r.ctx, lg, r.bce_target, r.bce_mask, PIXL_REDUCE_MEAN)               \
         : pixl_cross_entropy(r.ctx, lg, r.y, wt, &ceo))
    r.loss = r.pixelnet ? pixl_pn_train_graph(r.ctx, cfg, &tmo, r.x, wt, ign, &r.pn) : DENSE_LOSS(logits);
    /* deep supervision: + weight * loss of each auxiliary output the model registered */
    for (int i = 0; r.loss && i < pixl_ctx_aux_count(r.ctx); i++) {
        float aw = 0;
        pixl_tensor *al = pixl_ctx_aux(r.ctx, i, &aw);
        if (al && (al->shape[2] != TH || al->shape[3] != TW))
            al = pixl_resize(r.ctx, al, TH, TW, PIXL_RESIZE_BILINEAR, 0, 0, 0);
        pixl_tensor *l = al ? DENSE_LOSS(al) : NULL;
        r.loss = l ? pixl_add(r.ctx, r.loss, pixl_scale(r.ctx, l, aw)) : NULL;
    }
#undef DENSE_LOSS
    /* printed with the run's header below (cw is freed here); at most what fits a line of 640 */
    char cwline[640] = "";
    if (cfg->training.loss.class_weights != PIXL_CLASS_WEIGHTS_NONE) {
        size_t at = (size_t)snprintf(cwline, sizeof cwline, "class weights:");
        for (int k = 0; k < r.K; k++) {
            if (at + 24 > sizeof cwline) { /* room for " ... (N classes)" */
                snprintf(cwline + at, sizeof cwline - at, " ... (%d classes)", r.K);
                break;
            }
            at += (size_t)snprintf(cwline + at, sizeof cwline - at, " %.4g", cw[k]);
        }
    }
    free(cw);
    if (!r.loss || pixl_ctx_plan(r.ctx)) {
        rc = pixl_set_error(PIXL_ERR_SHAPE, "training graph: %s",
                            pixl_ctx_error(r.ctx) ? pixl_ctx_error(r.ctx) : pixl_last_error());
        cleanup(&r);
        return rc;
    }

    /* optimizer, loader */
    pixl_optim_opts oo;
    pixl_config_optim_opts(cfg, &oo);
    r.opt = pixl_optim_new(P, &oo);
    pixl_augment_opts ao = {.scale_min = (float)cfg->data.scale[0], .scale_max = (float)cfg->data.scale[1],
                            .crop_width = cfg->data.crop[1], .crop_height = cfg->data.crop[0], .hflip = cfg->data.flip ? (cfg->data.flip_per_batch ? 2 : 1) : 0,
                            .brightness = (float)cfg->data.color_jitter, .contrast = (float)cfg->data.color_jitter,
                            .saturation = (float)cfg->data.color_jitter, .blur_prob = (float)cfg->data.blur,
                            .blur_sigma_min = 0.1f, .blur_sigma_max = 1.5f};
    pixl_loader_opts lo = {.batch_size = B, .shuffle = 1, .drop_last = 1, .seed = (uint64_t)cfg->training.seed,
                           .n_workers = cfg->data.n_workers, .augment = &ao,
                           .resize_width = cfg->data.img_cols, .resize_height = cfg->data.img_rows,
                           .dense_targets = r.normals};
    r.loader = pixl_loader_new(r.train, &lo);
    if (!r.opt || !r.loader) {
        rc = pixl_last_status();
        cleanup(&r);
        return rc;
    }
    int nb = pixl_loader_batches_per_epoch(r.loader);
    if (nb < 1) {
        rc = pixl_set_error(PIXL_ERR_ARG, "training set has %d images, fewer than one batch of %d",
                            pixl_dataset_size(r.train), B);
        cleanup(&r);
        return rc;
    }

    /* resume */
    if (cfg->training.resume[0]) {
        const char *rp = cfg->training.resume;
        char *s = pixl_checkpoint_meta(rp, "step"), *e = pixl_checkpoint_meta(rp, "epoch"),
             *bi = pixl_checkpoint_meta(rp, "batch_in_epoch"), *el = pixl_checkpoint_meta(rp, "elapsed_seconds"),
             *bm = pixl_checkpoint_meta(rp, "best_miou");
        if (!s || !e || !bi) {
            rc = pixl_set_error(PIXL_ERR_FORMAT, "%s: not a pixl training checkpoint (no step/epoch metadata)", rp);
        } else if (!(rc = pixl_checkpoint_load(P, rp, 0))) {
            char op[PIXL_CFG_PATH_LEN + 32];
            snprintf(op, sizeof op, "%.*s", (int)(strlen(rp) - (strlen(rp) > 12 ? 12 : 0)), rp);
            strcat(op, ".optim.safetensors");
            rc = pixl_optim_load(r.opt, op);
            r.step = atoll(s);
            r.epoch = atoll(e);
            r.batch_in_epoch = atoi(bi);
            r.elapsed0 = el ? atof(el) : 0;
            r.best_score = bm ? atof(bm) : -1e300;
        }
        free(s);
        free(e);
        free(bi);
        free(el);
        free(bm);
        if (rc) {
            cleanup(&r);
            return rc;
        }
        logf_(&r.lg, "resumed from %s at step %lld (epoch %lld, batch %d)\n", rp, (long long)r.step,
              (long long)r.epoch, r.batch_in_epoch);
    }
    if (cfg->training.resume[0] && r.batch_in_epoch >= nb) {
        r.epoch++;
        r.batch_in_epoch = 0;
    }
    pixl_loader_set_epoch(r.loader, r.epoch);
    for (int b = 0; b < r.batch_in_epoch; b++) { /* same data order as an uninterrupted run */
        pixl_batch skip;
        if ((rc = pixl_loader_next(r.loader, &skip))) {
            cleanup(&r);
            return rc;
        }
    }

    /* files */
    pixl_config_save(cfg, path_in(dir, "config.yaml"));
    r.lg.jsonl = fopen(path_in(dir, "log.jsonl"), cfg->training.resume[0] ? "a" : "w");
    logf_(&r.lg, "train %s on %s: %d images (%d batches of %d at %dx%d), %lld parameters, %d threads, run %s\n",
          cfg->model.arch, cfg->data.dataset, pixl_dataset_size(r.train), nb, B, TH, TW,
          (long long)pixl_params_total(P), pixl_num_threads(), dir);
    if (cwline[0]) logf_(&r.lg, "%s\n", cwline);

    /* limits and schedule */
    int64_t max_steps = INT64_MAX;
    if (cfg->training.max_iters > 0) max_steps = cfg->training.max_iters;
    if (cfg->training.epochs > 0 && (int64_t)cfg->training.epochs * nb < max_steps)
        max_steps = (int64_t)cfg->training.epochs * nb;
    double budget = cfg->training.max_minutes > 0 ? cfg->training.max_minutes * 60 : INFINITY;
    if (max_steps == INT64_MAX && !isfinite(budget)) {
        rc = pixl_set_error(PIXL_ERR_ARG, "training: set epochs, max_iters or max_minutes");
        cleanup(&r);
        return rc;
    }
    double t_start = now_s() - r.elapsed0, next_val_time = INFINITY;
    if (cfg->validation.every_minutes > 0) {
        double per = cfg->validation.every_minutes * 60;
        next_val_time = (floor(r.elapsed0 / per) + 1) * per;
    }
    double loss_acc = 0, last_loss = 0;
    int loss_n = 0, stopped = 0;
    int64_t imgs = 0;
    double t_log = now_s();
    pixl_loader_reset_stats(r.loader);

    while (rc == PIXL_OK) {
        double elapsed = now_s() - t_start;
        if (r.step >= max_steps || elapsed >= budget) break;
        if ((stop && *stop) || (hooks && hooks->stop_after > 0 && r.step >= hooks->stop_after)) {
            stopped = 1;
            break;
        }
        /* schedule horizon: exact for step/epoch limits, estimated for time limits */
        int64_t horizon = max_steps;
        if (horizon == INT64_MAX) {
            double spent = elapsed - r.elapsed0;
            int64_t done = r.step;
            horizon = spent > 1 && done > 10 ? (int64_t)((double)done * budget / elapsed) : done + 1000000;
        }
        pixl_sched sch;
        pixl_config_sched(cfg, horizon, &sch);
        float lr = pixl_sched_lr(&sch, (float)cfg->training.optimizer.lr, r.step);
        pixl_optim_set_lr(r.opt, lr);

        pixl_batch bt;
        if ((rc = pixl_loader_next(r.loader, &bt))) break;
        if (bt.n != B || bt.height != TH || bt.width != TW) {
            rc = pixl_set_error(PIXL_ERR_SHAPE, "loader gave a batch of %d x %dx%d, the graph takes %d x %dx%d", bt.n,
                                bt.height, bt.width, B, TH, TW);
            break;
        }
        memcpy(pixl_tensor_data(r.x), bt.images, sizeof(float) * (size_t)B * 3 * TH * TW);
        memcpy(pixl_tensor_data(r.y), bt.labels, sizeof(int32_t) * (size_t)B * TH * TW);
        if (r.pixelnet && (rc = pixl_pn_train_sample(&r.pn, bt.labels, bt.targets, B, TH, TW, r.step))) break;
        if (r.bce_target)
            pixl_labels_to_binary(bt.labels, (int64_t)B * TH * TW, r.ignore, pixl_tensor_data(r.bce_target),
                                  pixl_tensor_data(r.bce_mask));
        pixl_ctx_set_seed(r.ctx, pixl_hash64((uint64_t)cfg->training.seed, (uint64_t)r.step));
        if ((rc = pixl_forward(r.ctx))) break;
        pixl_params_zero_grad(P);
        if ((rc = pixl_backward(r.ctx, r.loss))) break;
        if ((rc = pixl_optim_step(r.opt))) break;
        last_loss = ((float *)pixl_tensor_data(r.loss))[0];
        if (!isfinite(last_loss)) {
            rc = pixl_set_error(PIXL_ERR_STATE, "training diverged: loss %g at step %lld (lower the learning rate)",
                                last_loss, (long long)r.step);
            break;
        }
        loss_acc += last_loss;
        loss_n++;
        imgs += B;
        r.step++;
        r.batch_in_epoch = bt.batch + 1;
        elapsed = now_s() - t_start;
        double ips = imgs / (now_s() - t_log + 1e-9);
        double eta_steps = max_steps != INT64_MAX ? (double)(max_steps - r.step) * (elapsed - r.elapsed0) /
                                                        fmax(1.0, (double)imgs / B)
                                                  : budget - elapsed;
        progress(&r.lg, r.epoch, bt.batch, nb, eta_steps, last_loss, lr, ips);
        int pi = cfg->training.print_interval > 0 ? cfg->training.print_interval : 50;
        if (r.step % pi == 0) {
            pixl_loader_stats ls;
            pixl_loader_get_stats(r.loader, &ls);
            double wait = ls.total_seconds > 0 ? ls.wait_seconds / ls.total_seconds : 0;
            if (!r.lg.tty && !r.lg.quiet)
                logf_(&r.lg, "step %lld epoch %lld  loss %.4f  lr %.3g  %.1f img/s  loader wait %.0f%%\n",
                      (long long)r.step, (long long)r.epoch, loss_acc / loss_n, lr, ips, 100 * wait);
            if (r.lg.jsonl)
                fprintf(r.lg.jsonl,
                        "{\"type\":\"train\",\"step\":%lld,\"epoch\":%lld,\"minutes\":%.4f,\"loss\":%.6g,\"lr\":%.6g,"
                        "\"img_per_s\":%.3f,\"loader_wait\":%.4f,\"loader_capacity_img_per_s\":%.2f}\n",
                        (long long)r.step, (long long)r.epoch, elapsed / 60, loss_acc / loss_n, lr, ips, wait,
                        ls.capacity_per_second);
            loss_acc = 0;
            loss_n = 0;
        }
        int end_of_epoch = r.batch_in_epoch >= nb;
        int val_now = 0;
        if (end_of_epoch) {
            r.epoch++;
            r.batch_in_epoch = 0;
            pixl_loader_set_epoch(r.loader, r.epoch);
            if (cfg->validation.every_epochs > 0 && r.epoch % cfg->validation.every_epochs == 0) val_now = 1;
        }
        if (elapsed >= next_val_time) {
            val_now = 1;
            while (next_val_time <= elapsed) next_val_time += cfg->validation.every_minutes * 60;
        }
        if (val_now && r.step < max_steps && elapsed < budget) {
            if ((rc = validate(&r, elapsed, last_loss))) break;
            if ((rc = save_last(&r, now_s() - t_start))) break;
        }
    }
    if (r.lg.tty) fprintf(r.lg.out, "\n");
    if (rc == PIXL_OK) {
        double elapsed = now_s() - t_start;
        if (!stopped) rc = validate(&r, elapsed, last_loss);
        if (!rc) rc = save_last(&r, elapsed);
        pixl_loader_stats ls;
        pixl_loader_get_stats(r.loader, &ls);
        char best[64] = "no validation yet";
        if (r.normals && r.best_score > -1e30) snprintf(best, sizeof best, "best val mean angle %.2f deg", -r.best_score);
        else if (r.best_score >= 0 && r.edges) snprintf(best, sizeof best, "best val ODS F %.4f", r.best_score);
        else if (r.best_score >= 0) snprintf(best, sizeof best, "best val mIoU %.2f%%", 100 * r.best_score);
        logf_(&r.lg, "%s at step %lld (%.1f min): %s; loader waited %.1f%% of the time "
                     "(capacity %.1f img/s)\n",
              stopped ? "stopped" : "done", (long long)r.step, elapsed / 60, best,
              ls.total_seconds > 0 ? 100 * ls.wait_seconds / ls.total_seconds : 0, ls.capacity_per_second);
    }
    if (rc) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", pixl_last_error());
        cleanup(&r);
        return pixl_set_error(rc, "%s", msg);
    }
    cleanup(&r);
    return PIXL_OK;
}
