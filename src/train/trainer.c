/* trainer.c — a training run as an object (pixl_train.h, "training runs"): from a
 * config, the data sets and loader, the run's task (src/tasks/), the model
 * and its training graph, the optimizer and schedule; then steps, periodic
 * validation, the JSON log, atomic checkpoints, resume, and a clean stop on
 * request (Ctrl-C). Nothing here depends on what is learned: the task owns
 * the loss, the metric and the score. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tasks/task.h"
#include "train/trainer_impl.h"

struct pixl_trainer {
    pixl_train_config cfg;  /* a copy: the caller may free theirs */
    pixl_train_hooks hooks;
    pixl__task *task;
    pixl_model *model;
    pixl_dataset *train, *val;
    pixl_loader *loader;
    pixl_optim *opt;
    pixl_ctx *ctx;
    pixl_tensor *x, *y, *loss;
    int sampled;            /* the model's output is at sampled pixels (PixelNet) */
    pixl_pn_train pn;
    pixl__logger lg;
    int B, TH, TW, nb;      /* batch, training input size, batches per epoch */
    int64_t step, epoch;
    float temperature;      /* PAG: the Gumbel temperature set in the graph (0: none yet) */
    int batch_in_epoch;
    int epoch_ended;        /* the last step finished an epoch */
    int stepped;            /* steps were taken (resume is then too late) */
    double elapsed0;        /* seconds trained before a resume */
    double t_start;         /* clock at "elapsed 0" */
    int64_t max_steps;      /* INT64_MAX: a time budget only */
    double budget;          /* seconds, INFINITY: none */
    double best;            /* the best score so far, as "higher is better" (-mean angle for normals) */
    /* progress between log lines */
    double loss_acc, last_loss, t_log, lr;
    int loss_n;
    int64_t imgs;
    /* segmentation: labelled pixels (a class in 0..K-1) since the start of
     * the first epoch begun in this run; a whole epoch without one is an error */
    int64_t labelled;
    int labelled_maps;
    int labels_state; /* 0: counting from an epoch's start, 1: checked, 2: not from an epoch's start */
};

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
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

/* dir/name into buf */
static const char *path_in(char *buf, size_t n, const char *dir, const char *name)
{
    snprintf(buf, n, "%s/%s", dir, name);
    return buf;
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

/* ------------------------------------------------------------ checkpoints */
/* fsync a folder, so that a rename in it is durable (EINVAL/EROFS: a file
 * system without folder syncs; the rename stands) */
static int sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = PIXL_OK;
    if (fd < 0 || (fsync(fd) && errno != EINVAL && errno != EROFS))
        rc = pixl_set_error(PIXL_ERR_IO, "cannot sync folder %s: %s", dir, strerror(errno));
    if (fd >= 0) close(fd);
    return rc;
}

/* A model whose weights or statistics went NaN or infinite is not saved:
 * the last good checkpoint stays (and pixl_checkpoint_load refuses such a
 * file anyway). */
static int check_finite(pixl_trainer *t, const char *file)
{
    pixl_params *P = pixl_model_params(t->model);
    for (int i = 0; i < pixl_params_count(P); i++) {
        if (pixl_params_dtype(P, i) != PIXL_F32) continue;
        const float *d = pixl_params_data(P, i);
        for (int64_t k = 0, n = pixl_params_numel(P, i); k < n; k++)
            if (!isfinite(d[k]))
                return pixl_set_error(PIXL_ERR_STATE,
                                      "training diverged: '%s' has %s at element %lld after step %lld; %s not "
                                      "written, the last checkpoint is kept (lower the learning rate)",
                                      pixl_params_name(P, i), isnan(d[k]) ? "a NaN" : "an infinity", (long long)k,
                                      (long long)t->step, file);
    }
    return PIXL_OK;
}

/* The checkpoint is a pair, last.safetensors and last.optim.safetensors, and
 * a resumed run needs both of the same step. Each file is written atomically
 * (temporary name, fsync, rename), and the pair is committed in three steps:
 *   1. the optimizer state to last.optim.next.safetensors,
 *   2. the model to last.safetensors: the commit point,
 *   3. last.optim.next.safetensors renamed to last.optim.safetensors.
 * A crash before 2 leaves the old pair (and a .next file of a later step,
 * which resume ignores); a crash between 2 and 3 leaves the new model and
 * its state in the .next file, which resume renames into place because its
 * step matches (optim_path). A failed write (a full disk) removes the .next
 * file: the old pair stands. */
int pixl_trainer_save(pixl_trainer *t)
{
    if (!t) return pixl_set_error(PIXL_ERR_ARG, "pixl_trainer_save: NULL trainer");
    char s[64], e[64], b[64], el[64], bm[64], p[PIXL_CFG_PATH_LEN + 64], on[PIXL_CFG_PATH_LEN + 64],
        op[PIXL_CFG_PATH_LEN + 64];
    snprintf(s, sizeof s, "%lld", (long long)t->step);
    snprintf(e, sizeof e, "%lld", (long long)t->epoch);
    snprintf(b, sizeof b, "%d", t->batch_in_epoch);
    snprintf(el, sizeof el, "%.3f", now_s() - t->t_start);
    snprintf(bm, sizeof bm, "%.9g", t->best);
    /* the best score is stored under its old name "best_miou" so older checkpoints still resume */
    const char *k[] = {"step", "epoch", "batch_in_epoch", "elapsed_seconds", "best_miou"};
    const char *v[] = {s, e, b, el, bm};
    const char *dir = t->cfg.output.run_dir;
    path_in(on, sizeof on, dir, "last.optim.next.safetensors");
    path_in(op, sizeof op, dir, "last.optim.safetensors");
    int rc = check_finite(t, "last.safetensors");
    if (rc) return rc;
    rc = pixl_optim_save(t->opt, on);
    if (!rc) rc = pixl_model_save(t->model, path_in(p, sizeof p, dir, "last.safetensors"), 5, k, v);
    if (rc) {
        unlink(on); /* the old pair stands */
        return rc;
    }
    pixl__test_commit_sleep(); /* crash tests only: between the commit point and the rename */
    if (rename(on, op)) return pixl_set_error(PIXL_ERR_IO, "cannot rename %s to %s: %s", on, op, strerror(errno));
    return sync_dir(dir);
}

/* the optimizer state of checkpoint `rp` (X.safetensors) at step `step`:
 * X.optim.next.safetensors when its step is that (a save stopped between its
 * commit and the final rename), else X.optim.safetensors, which must be of
 * that step. The stopped save is finished first: the .next file is renamed
 * to X.optim.safetensors, because the next save of the run overwrites the
 * .next file before its commit point, and a crash then would leave no
 * optimizer state of the checkpoint's step. */
static int optim_path(pixl_trainer *t, const char *rp, const char *step, char *out, size_t n)
{
    const int stem = (int)(strlen(rp) - (strlen(rp) > 12 ? 12 : 0)); /* without ".safetensors" */
    char next[PIXL_CFG_PATH_LEN + 32];
    snprintf(next, sizeof next, "%.*s.optim.next.safetensors", stem, rp);
    snprintf(out, n, "%.*s.optim.safetensors", stem, rp);
    if (!access(next, F_OK)) {
        char *ns = pixl_checkpoint_meta(next, "step");
        int same = ns && !strcmp(ns, step);
        free(ns);
        pixl_clear_error();
        if (same) {
            char dir[PIXL_CFG_PATH_LEN + 32];
            snprintf(dir, sizeof dir, "%s", rp);
            char *slash = strrchr(dir, '/');
            if (slash) *slash = 0;
            else snprintf(dir, sizeof dir, ".");
            if (!rename(next, out)) {
                if (sync_dir(dir)) pixl_clear_error(); /* the rename stands; the next save syncs again */
                pixl__log(&t->lg, "finished the interrupted checkpoint of step %s: %s renamed to %s\n", step, next,
                          out);
                return PIXL_OK;
            }
            /* a folder we cannot write: read the state where it is */
            pixl__log(&t->lg, "note: cannot rename %s to %s (%s); reading it where it is\n", next, out,
                      strerror(errno));
            snprintf(out, n, "%s", next);
            return PIXL_OK;
        }
    }
    char *os = pixl_checkpoint_meta(out, "step");
    if (!os) return pixl_set_error(PIXL_ERR_FORMAT, "cannot resume: %s", pixl_last_error());
    int rc = PIXL_OK;
    if (strcmp(os, step))
        rc = pixl_set_error(PIXL_ERR_FORMAT,
                            "cannot resume: %s holds the optimizer state of step %s but %s is of step %s "
                            "(files of two different runs or saves?)",
                            out, os, rp, step);
    free(os);
    return rc;
}

/* A process killed while writing leaves its temporary files (NAME.tmp.PID.N,
 * pixl_atomic_begin()) behind: remove those of processes that no longer run. */
static void remove_stale_tmp(pixl_trainer *t)
{
    const char *dir = t->cfg.output.run_dir;
    DIR *d = opendir(dir);
    if (!d) return;
    int removed = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *tmp = strstr(de->d_name, ".tmp."), *q;
        if (!tmp || tmp == de->d_name) continue;
        long pid = strtol(tmp + 5, (char **)&q, 10);
        if (q == tmp + 5 || *q != '.' || pid <= 0 || !q[1]) continue;
        char *end;
        strtoul(q + 1, &end, 10);
        if (*end || (pid != getpid() && (kill((pid_t)pid, 0) == 0 || errno != ESRCH))) continue;
        char p[PIXL_CFG_PATH_LEN + 300];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        removed += unlink(p) == 0;
    }
    closedir(d);
    if (removed) pixl__log(&t->lg, "removed %d temporary file%s of an interrupted run from %s\n", removed,
                           removed > 1 ? "s" : "", dir);
}

/* best.safetensors with the task's score, the step and the minutes */
static int save_best(pixl_trainer *t, double score, double elapsed)
{
    char bm[64], st[64], mn[64], p[PIXL_CFG_PATH_LEN + 64];
    snprintf(bm, sizeof bm, "%.9g", score);
    snprintf(st, sizeof st, "%lld", (long long)t->step);
    snprintf(mn, sizeof mn, "%.4f", elapsed / 60);
    const char *k[] = {t->task->def->score_key, "step", "minutes"};
    const char *v[] = {bm, st, mn};
    int rc = check_finite(t, "best.safetensors");
    if (rc) return rc;
    return pixl_model_save(t->model, path_in(p, sizeof p, t->cfg.output.run_dir, "best.safetensors"), 3, k, v);
}

int pixl_trainer_resume(pixl_trainer *t, const char *rp)
{
    if (!t || !rp) return pixl_set_error(PIXL_ERR_ARG, "pixl_trainer_resume: NULL argument");
    if (t->stepped) return pixl_set_error(PIXL_ERR_STATE, "pixl_trainer_resume: the run has taken steps already");
    char *s = pixl_checkpoint_meta(rp, "step"), *e = pixl_checkpoint_meta(rp, "epoch"),
         *bi = pixl_checkpoint_meta(rp, "batch_in_epoch"), *el = pixl_checkpoint_meta(rp, "elapsed_seconds"),
         *bm = pixl_checkpoint_meta(rp, "best_miou");
    int rc = PIXL_OK;
    /* the run's position, parsed whole first: a negative step or a NaN time
     * would shift the schedule or disable the time budget silently */
    double v[5] = {0, 0, 0, 0, -1e300};
    const char *const txt[5] = {s, e, bi, el, bm},
                      *const key[5] = {"step", "epoch", "batch_in_epoch", "elapsed_seconds", "best_miou"};
    if (!s || !e || !bi)
        rc = pixl_set_error(PIXL_ERR_FORMAT, "%s: not a pixl training checkpoint (no step/epoch metadata)", rp);
    for (int i = 0; i < 5 && !rc; i++) {
        if (!txt[i]) continue;
        char *end;
        v[i] = strtod(txt[i], &end);
        int whole = i < 3;
        if (end == txt[i] || *end || !isfinite(v[i]) || (i < 4 && v[i] < 0) || (whole && v[i] != floor(v[i])) ||
            (whole && v[i] > 9e15))
            rc = pixl_set_error(PIXL_ERR_FORMAT, "%s: metadata '%s': '%.40s' is not a%s number%s", rp, key[i], txt[i],
                                whole ? " whole" : " finite", i < 4 ? " >= 0" : "");
    }
    if (!rc && !(rc = pixl_checkpoint_load_ex(pixl_model_params(t->model), rp,
                                              t->cfg.training.resume_allow_nonfinite ? PIXL_LOAD_ALLOW_NONFINITE : 0))) {
        char op[PIXL_CFG_PATH_LEN + 32];
        if (!(rc = optim_path(t, rp, s, op, sizeof op)))
            rc = pixl_optim_load_ex(t->opt, op, t->cfg.training.resume_allow_nonfinite ? PIXL_LOAD_ALLOW_NONFINITE : 0);
        t->step = (int64_t)v[0];
        t->epoch = (int64_t)v[1];
        t->batch_in_epoch = v[2] > INT_MAX ? INT_MAX : (int)v[2];
        t->elapsed0 = v[3];
        t->best = v[4];
    }
    free(s);
    free(e);
    free(bi);
    free(el);
    free(bm);
    if (rc) return rc;
    pixl__log(&t->lg, "resumed from %s at step %lld (epoch %lld, batch %d)\n", rp, (long long)t->step,
              (long long)t->epoch, t->batch_in_epoch);
    if (t->batch_in_epoch >= t->nb) {
        t->epoch++;
        t->batch_in_epoch = 0;
    }
    t->t_start = now_s() - t->elapsed0;
    if ((rc = pixl_loader_set_epoch(t->loader, t->epoch))) return rc;
    for (int b = 0; b < t->batch_in_epoch; b++) { /* same data order as an uninterrupted run */
        pixl_batch skip;
        if ((rc = pixl_loader_next(t->loader, &skip))) return rc;
    }
    return PIXL_OK;
}

/* ------------------------------------------------------------- validation */
int pixl_trainer_validate(pixl_trainer *t, double *score)
{
    if (!t) return pixl_set_error(PIXL_ERR_ARG, "pixl_trainer_validate: NULL trainer");
    const pixl__task_def *d = t->task->def;
    pixl__task_val v = {0};
    const double t0 = now_s(), elapsed = t0 - t->t_start;
    int rc = d->validate(t->task, t->model, t->val, &t->cfg, &v);
    if (rc) return rc;
    const double s = d->higher_is_better ? v.score : -v.score;
    const int best = s > t->best;
    if (best) t->best = s;
    pixl__log(&t->lg, "val  step %lld epoch %lld  %.1f min  %s  (%.1f s)%s\n", (long long)t->step,
              (long long)t->epoch, elapsed / 60, v.line, now_s() - t0, best ? "  best" : "");
    pixl__log_val(&t->lg, t->step, t->epoch, elapsed, t->last_loss, best, v.json);
    if (best && t->cfg.output.keep_best) rc = save_best(t, v.score, elapsed);
    if (!rc && t->hooks.after_validate) rc = t->hooks.after_validate(t, v.score, best, v.json, t->hooks.user);
    free(v.json);
    if (score) *score = v.score;
    return rc;
}

/* ------------------------------------------------------------------ setup */
/* training input size: crop, else the resize size, else the first image's */
static int input_size(pixl_trainer *t)
{
    const pixl_train_config *cfg = &t->cfg;
    t->TH = cfg->data.crop[0];
    t->TW = cfg->data.crop[1];
    if (!t->TH || !t->TW) {
        t->TH = cfg->data.img_rows;
        t->TW = cfg->data.img_cols;
    }
    if (t->TH && t->TW) return PIXL_OK;
    pixl_image *img = NULL;
    int32_t *lab = NULL;
    int rc = pixl_dataset_load(t->train, 0, &img, &lab);
    if (rc) return rc;
    t->TH = img->height;
    t->TW = img->width;
    pixl_image_free(img);
    free(lab);
    return PIXL_OK;
}

/* the model of the config, with the task's outputs, the data's normalisation and names */
static int make_model(pixl_trainer *t, pixl_model_opts *mo)
{
    const pixl_train_config *cfg = &t->cfg;
    const pixl__task *task = t->task;
    const char *pretrained = NULL;
    /* width, variant, backbone, output_stride, aux and the PixelNet head of model.options */
    int rc = pixl_config_model_opts(cfg, mo, &pretrained);
    if (rc) return rc;
    mo->n_classes = task->n_outputs;
    t->model = pixl_model_create(cfg->model.arch, mo, (uint64_t)cfg->training.seed);
    if (!t->model) return pixl_last_status();
    if (pretrained) { /* e.g. ImageNet weights from tools/convert_pth.py --prefix backbone. */
        int n = pixl_checkpoint_load_subset(pixl_model_params(t->model), pretrained);
        if (n < 0) return n;
        pixl__log(&t->lg, "initialised %d tensors from %s\n", n, pretrained);
    }
    pixl_model_set_norm(t->model, pixl_dataset_mean(t->train), pixl_dataset_std(t->train));
    const int K = task->n_outputs;
    const char **names = pixl__calloc((size_t)K, sizeof *names);
    if (!names) return PIXL_ERR_NOMEM;
    for (int k = 0; k < K; k++)
        names[k] = task->output_names ? task->output_names[k] : pixl_dataset_class_name(t->train, k);
    rc = pixl_model_set_classes(t->model, names, task->colours ? task->colours : pixl_dataset_colours(t->train));
    free(names);
    if (rc) return rc;
    if (cfg->data.img_rows > 0 && cfg->data.img_cols > 0)
        pixl_model_set_input_size(t->model, cfg->data.img_rows, cfg->data.img_cols);
    pixl_model_set_threads(t->model, cfg->training.threads); /* validation's graphs */
    return PIXL_OK;
}

/* the dense model's output at the training size */
static pixl_tensor *at_input_size(pixl_trainer *t, pixl_tensor *o)
{
    if (o && (o->shape[2] != t->TH || o->shape[3] != t->TW))
        o = pixl_resize(t->ctx, o, t->TH, t->TW, PIXL_RESIZE_BILINEAR, 0, 0, 0);
    return o;
}

/* images and labels in, the task's loss out (plus weighted auxiliary losses: deep supervision) */
static int build_graph(pixl_trainer *t, const pixl_model_opts *mo)
{
    const pixl_train_config *cfg = &t->cfg;
    pixl__task *task = t->task;
    t->ctx = pixl_ctx_new(pixl_model_params(t->model), PIXL_MODE_TRAIN);
    if (!t->ctx) return pixl_last_status();
    int rc = pixl_ctx_set_threads(t->ctx, cfg->training.threads); /* 0: the process default */
    if (rc) return rc;
    int64_t xs[4] = {t->B, 3, t->TH, t->TW}, ys[3] = {t->B, t->TH, t->TW};
    t->x = pixl_input(t->ctx, "images", PIXL_F32, 4, xs);
    t->y = pixl_input(t->ctx, "labels", PIXL_I32, 3, ys);
    /* mo->aux (model.options.aux, on by default) adds the model's auxiliary heads to this graph */
    if (t->sampled) {
        pixl_tensor *lg = pixl__pn_train_graph(t->ctx, cfg, mo, t->x, task->sampler_classes, task->ignore_label,
                                              &t->pn);
        t->loss = lg ? task->def->loss(task, t->ctx, lg, t->pn.labels) : NULL;
    } else {
        pixl_tensor *lg = at_input_size(t, pixl_model_build(t->ctx, cfg->model.arch, t->x, mo));
        t->loss = lg ? task->def->loss(task, t->ctx, lg, t->y) : NULL;
    }
    for (int i = 0; t->loss && i < pixl_ctx_aux_count(t->ctx); i++) {
        float aw = 0;
        pixl_tensor *al = at_input_size(t, pixl_ctx_aux(t->ctx, i, &aw));
        pixl_tensor *l = al ? task->def->loss(task, t->ctx, al, t->y) : NULL;
        t->loss = l ? pixl_add(t->ctx, t->loss, pixl_scale(t->ctx, l, aw)) : NULL;
    }
    /* the model's own loss terms (PAG's budget losses) */
    for (int i = 0; t->loss && i < pixl_ctx_loss_count(t->ctx); i++) {
        float w = 0;
        pixl_tensor *l = pixl_ctx_loss(t->ctx, i, &w);
        t->loss = pixl_add(t->ctx, t->loss, pixl_scale(t->ctx, l, w));
    }
    if (!t->loss || pixl_ctx_plan(t->ctx))
        return pixl_set_error(PIXL_ERR_SHAPE, "training graph: %s",
                              pixl_ctx_error(t->ctx) ? pixl_ctx_error(t->ctx) : pixl_last_error());
    return PIXL_OK;
}

static int make_loader(pixl_trainer *t)
{
    const pixl_train_config *cfg = &t->cfg;
    pixl_augment_opts ao = {.scale_min = (float)cfg->data.scale[0], .scale_max = (float)cfg->data.scale[1],
                            .crop_width = cfg->data.crop[1], .crop_height = cfg->data.crop[0],
                            .hflip = cfg->data.flip ? (cfg->data.flip_per_batch ? 2 : 1) : 0,
                            .brightness = (float)cfg->data.color_jitter, .contrast = (float)cfg->data.color_jitter,
                            .saturation = (float)cfg->data.color_jitter, .blur_prob = (float)cfg->data.blur,
                            .blur_sigma_min = 0.1f, .blur_sigma_max = 1.5f};
    pixl_loader_opts lo = {.batch_size = t->B, .shuffle = 1, .drop_last = 1, .seed = (uint64_t)cfg->training.seed,
                           .n_workers = cfg->data.n_workers, .augment = &ao,
                           .resize_width = cfg->data.img_cols, .resize_height = cfg->data.img_rows,
                           .dense_targets = t->task->dense_targets};
    t->loader = pixl_loader_new(t->train, &lo);
    if (!t->loader) return pixl_last_status();
    t->nb = pixl_loader_batches_per_epoch(t->loader);
    if (t->nb < 1)
        return pixl_set_error(PIXL_ERR_ARG, "training set has %d images, fewer than one batch of %d",
                              pixl_dataset_size(t->train), t->B);
    return PIXL_OK;
}

/* step and time limits of the config */
static int limits(pixl_trainer *t)
{
    const pixl_train_config *cfg = &t->cfg;
    t->max_steps = INT64_MAX;
    if (cfg->training.max_iters > 0) t->max_steps = cfg->training.max_iters;
    if (cfg->training.epochs > 0 && (int64_t)cfg->training.epochs * t->nb < t->max_steps)
        t->max_steps = (int64_t)cfg->training.epochs * t->nb;
    t->budget = cfg->training.max_minutes > 0 ? cfg->training.max_minutes * 60 : INFINITY;
    if (t->max_steps == INT64_MAX && !isfinite(t->budget))
        return pixl_set_error(PIXL_ERR_ARG, "training: set epochs, max_iters or max_minutes");
    return PIXL_OK;
}

/* data.sparse_labels: the training set gives labels at the store's points only */
static int apply_sparse_labels(pixl_trainer *t)
{
    const char *path = t->cfg.data.sparse_labels;
    pixl_label_store *s = pixl_label_store_load(path);
    int rc = s ? pixl_dataset_set_sparse_labels(t->train, s) : pixl_last_status();
    if (rc) rc = pixl_set_error(rc, "data.sparse_labels '%s': %s", path, pixl_last_error());
    pixl_label_store_free(s);
    return rc;
}

/* training.optimizer.backbone_lr_mult: the encoder (parameters named
 * backbone.*) learns at that fraction of the rate; other multipliers a model
 * sets on them are multiplied, not replaced */
static int backbone_lr(pixl_trainer *t)
{
    const double mult = t->cfg.training.optimizer.backbone_lr_mult;
    if (mult == 1.0) return PIXL_OK;
    pixl_params *P = pixl_model_params(t->model);
    int n = 0;
    for (int i = 0; i < pixl_params_count(P); i++) {
        const char *name = pixl_params_name(P, i);
        if (strncmp(name, "backbone.", 9) || pixl_params_kind(P, i) != PIXL_PARAM) continue;
        pixl_params_set_lr_mult(P, name, pixl_params_lr_mult(P, i) * (float)mult, pixl_params_wd_mult(P, i));
        n++;
    }
    if (!n)
        return pixl_set_error(PIXL_ERR_ARG,
                              "training.optimizer.backbone_lr_mult is %g but model %s has no parameters named "
                              "backbone.* (an encoder of its own, e.g. model.options.backbone)",
                              mult, t->cfg.model.arch);
    pixl__log(&t->lg, "backbone learning rate: x%g on %d parameter tensors named backbone.*\n", mult, n);
    return PIXL_OK;
}

static int trainer_init(pixl_trainer *t)
{
    const pixl_train_config *cfg = &t->cfg;
    char p[PIXL_CFG_PATH_LEN + 64];
    int rc = pixl_config_validate(cfg);
    if (rc) return rc;
    const char *dir = cfg->output.run_dir;
    if (!dir[0]) return pixl_set_error(PIXL_ERR_ARG, "output.run_dir is empty");
    if (mkdir_p(dir)) return pixl_set_error(PIXL_ERR_IO, "cannot create run directory %s: %s", dir, strerror(errno));
    remove_stale_tmp(t);
    if (!(t->train = pixl_config_open_split(cfg, cfg->data.train_split, 0))) return pixl_last_status();
    if (cfg->data.sparse_labels[0] && (rc = apply_sparse_labels(t))) return rc;
    if (!(t->val = pixl_config_open_split(cfg, cfg->data.val_split, 0))) return pixl_last_status();
    t->sampled = !strcmp(cfg->model.arch, "pixelnet");
    if (!(t->task = pixl__task_new(cfg, t->train, t->sampled))) return pixl_last_status();
    if (cfg->model.n_classes > 0 && cfg->model.n_classes != t->task->n_outputs)
        return pixl_set_error(PIXL_ERR_ARG,
                              "model.n_classes is %d but the %s task with training.loss.name %s on data set '%s' "
                              "has %d outputs",
                              cfg->model.n_classes, t->task->def->name, pixl__loss_name(cfg->training.loss.name),
                              cfg->data.dataset, t->task->n_outputs);
    t->B = cfg->training.batch_size;
    pixl_model_opts mo;
    if ((rc = input_size(t)) || (rc = make_model(t, &mo)) || (rc = build_graph(t, &mo)) ||
        (rc = backbone_lr(t)))
        return rc;
    pixl_optim_opts oo;
    pixl_config_optim_opts(cfg, &oo);
    oo.threads = cfg->training.threads;
    if (!(t->opt = pixl_optim_new(pixl_model_params(t->model), &oo))) return pixl_last_status();
    if ((rc = make_loader(t))) return rc;
    t->t_start = now_s();
    if (cfg->training.resume[0]) rc = pixl_trainer_resume(t, cfg->training.resume);
    else rc = pixl_loader_set_epoch(t->loader, 0);
    if (rc) return rc;
    if ((rc = pixl_config_save(cfg, path_in(p, sizeof p, dir, "config.yaml")))) return rc; /* a full disk: now, not at the first checkpoint */
    if ((rc = pixl__log_open(&t->lg, path_in(p, sizeof p, dir, "log.jsonl"), cfg->training.resume[0] != 0)))
        return rc;
    pixl__log(&t->lg,
              "train %s (%s) on %s: %d images (%d batches of %d at %dx%d), %lld parameters, %d threads, run %s\n",
              cfg->model.arch, t->task->def->name, cfg->data.dataset, pixl_dataset_size(t->train), t->nb, t->B, t->TH,
              t->TW, (long long)pixl_params_total(pixl_model_params(t->model)), pixl_ctx_threads(t->ctx), dir);
    const pixl_label_store *sparse = pixl_dataset_sparse_labels(t->train);
    if (sparse)
        pixl__log(&t->lg, "sparse labels: %lld labelled pixels on %d of %d training images (%s)\n",
                  (long long)pixl_label_store_total(sparse), pixl_label_store_n_images(sparse),
                  pixl_dataset_size(t->train), cfg->data.sparse_labels);
    if (t->task->note[0]) pixl__log(&t->lg, "%s\n", t->task->note);
    if ((rc = limits(t))) return rc;
    t->t_log = now_s();
    pixl_loader_reset_stats(t->loader);
    return PIXL_OK;
}

pixl_trainer *pixl_trainer_new(const pixl_train_config *cfg, const pixl_train_hooks *hooks)
{
    if (!cfg) {
        pixl_set_error(PIXL_ERR_ARG, "pixl_trainer_new: NULL config");
        return NULL;
    }
    pixl_trainer *t = pixl__calloc(1, sizeof *t);
    if (!t) return NULL;
    t->cfg = *cfg;
    if (hooks) t->hooks = *hooks;
    t->best = -1e300;
    t->last_loss = NAN;
    pixl__log_init(&t->lg, t->hooks.log, t->hooks.quiet);
    int rc = trainer_init(t);
    if (rc) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", pixl_last_error());
        pixl_trainer_free(t);
        pixl_set_error(rc, "%s", msg);
        return NULL;
    }
    return t;
}

void pixl_trainer_free(pixl_trainer *t)
{
    if (!t) return;
    pixl_ctx_free(t->ctx);
    pixl_optim_free(t->opt);
    pixl_loader_free(t->loader);
    pixl_model_free(t->model);
    pixl__task_free(t->task);
    pixl_dataset_free(t->train);
    pixl_dataset_free(t->val);
    pixl__log_close(&t->lg);
    free(t);
}

/* the gates' fraction of computing pixels in the last step (channel 1 of
 * each "gate.*" probe; pixel-weighted mean and the per-gate values) */
static void log_gates(pixl_trainer *t)
{
    char line[1024];
    size_t o = 0;
    double on = 0, all = 0;
    for (int i = 0; i < pixl_ctx_probe_count(t->ctx); i++) {
        const char *name;
        pixl_tensor *g = pixl_ctx_probe(t->ctx, i, &name);
        if (strncmp(name, "gate.", 5) || g->ndim != 4 || g->shape[1] != 2) continue;
        const float *d = pixl_tensor_data(g);
        int64_t HW = g->shape[2] * g->shape[3];
        double s = 0;
        for (int64_t n = 0; n < g->shape[0]; n++)
            for (int64_t k = 0; k < HW; k++) s += d[(n * 2 + 1) * HW + k];
        on += s;
        all += (double)(g->shape[0] * HW);
        if (o < sizeof line - 32) o += (size_t)snprintf(line + o, sizeof line - o, " %s %.2f", name + 5, s / (double)(g->shape[0] * HW));
    }
    if (all > 0)
        pixl__log(&t->lg, "gates step %lld  computing %.3f  t %.3g |%s\n", (long long)t->step, on / all,
                  (double)t->temperature, line);
}

/* ------------------------------------------------------------------- step */
int pixl_trainer_step(pixl_trainer *t)
{
    if (!t) return pixl_set_error(PIXL_ERR_ARG, "pixl_trainer_step: NULL trainer");
    const pixl_train_config *cfg = &t->cfg;
    const int B = t->B, TH = t->TH, TW = t->TW;
    double elapsed = now_s() - t->t_start;
    /* schedule horizon: exact for step/epoch limits, estimated for time limits */
    int64_t horizon = t->max_steps;
    if (horizon == INT64_MAX) {
        double spent = elapsed - t->elapsed0;
        horizon = spent > 1 && t->step > 10 ? (int64_t)((double)t->step * t->budget / elapsed) : t->step + 1000000;
    }
    pixl_sched sch;
    pixl_config_sched(cfg, horizon, &sch);
    t->lr = pixl_sched_lr(&sch, (float)cfg->training.optimizer.lr, t->step);
    pixl_optim_set_lr(t->opt, (float)t->lr);

    pixl_batch bt;
    int rc = pixl_loader_next(t->loader, &bt);
    if (rc) return rc;
    t->stepped = 1;
    if (bt.n != B || bt.height != TH || bt.width != TW)
        return pixl_set_error(PIXL_ERR_SHAPE, "loader gave a batch of %d x %dx%d, the graph takes %d x %dx%d", bt.n,
                              bt.height, bt.width, B, TH, TW);
    memcpy(pixl_tensor_data(t->x), bt.images, sizeof(float) * (size_t)B * 3 * TH * TW);
    memcpy(pixl_tensor_data(t->y), bt.labels, sizeof(int32_t) * (size_t)B * TH * TW);
    const pixl__task_def *d = t->task->def;
    if (t->labels_state != 1 && d->dataset_task == PIXL_TASK_SEGMENTATION) {
        /* until the first labelled pixel: counted from an epoch's start (a
         * resumed run starting mid-epoch counts from the next one) */
        if (bt.batch == 0) t->labels_state = 0, t->labelled_maps = 0;
        else if (!t->labelled_maps) t->labels_state = 2;
        const int K = pixl_dataset_n_classes(t->train), ign = t->task->ignore_label;
        const size_t np = (size_t)B * TH * TW;
        for (size_t p = 0; p < np && !t->labelled; p++)
            t->labelled += bt.labels[p] >= 0 && bt.labels[p] < K && bt.labels[p] != ign;
        t->labelled_maps += B;
        if (t->labelled) t->labels_state = 1;
        else if (t->labels_state == 0 && bt.batch + 1 >= t->nb) /* a whole epoch without one */
            return pixl__no_labels_error(t->train, "training set", t->labelled_maps, K, ign);
    }
    if (t->sampled) {
        if ((rc = pixl__pn_train_sample(&t->pn, bt.labels, B, TH, TW, t->step))) return rc;
        pixl__samples s = {pixl_tensor_data(t->pn.pixels), pixl_tensor_data(t->pn.labels),
                           pixl_tensor_numel(t->pn.labels)};
        if (d->prepare && (rc = d->prepare(t->task, &bt, &s))) return rc;
    } else if (d->prepare && (rc = d->prepare(t->task, &bt, NULL))) {
        return rc;
    }
    pixl_ctx_set_seed(t->ctx, pixl__hash64((uint64_t)cfg->training.seed, (uint64_t)t->step));
    const pixl_pag_opts *pag = pixl_model_options(t->model)->pag;
    if (pag) { /* the Gumbel temperature of this epoch (PAG's annealing schedule) */
        int epochs = (int)((horizon + t->nb - 1) / t->nb);
        float temp = pixl_pag_temperature(pag, (int)t->epoch, epochs);
        if (temp != t->temperature && (rc = pixl_ctx_set_temperature(t->ctx, temp)) < 0) return rc;
        t->temperature = temp;
    }
    pixl_params *P = pixl_model_params(t->model);
    if ((rc = pixl_forward(t->ctx))) return rc;
    pixl_params_zero_grad(P);
    if ((rc = pixl_backward(t->ctx, t->loss))) return rc;
    if (t->hooks.after_backward && (rc = t->hooks.after_backward(t, t->hooks.user))) return rc;
    if ((rc = pixl_optim_step(t->opt))) return rc;
    t->last_loss = ((float *)pixl_tensor_data(t->loss))[0];
    if (!isfinite(t->last_loss))
        return pixl_set_error(PIXL_ERR_STATE, "training diverged: loss %g at step %lld (lower the learning rate)",
                              t->last_loss, (long long)t->step);
    t->loss_acc += t->last_loss;
    t->loss_n++;
    t->imgs += B;
    t->step++;
    t->batch_in_epoch = bt.batch + 1;
    elapsed = now_s() - t->t_start;
    const double ips = (double)t->imgs / (now_s() - t->t_log + 1e-9);
    const double eta = t->max_steps != INT64_MAX ? (double)(t->max_steps - t->step) * (elapsed - t->elapsed0) /
                                                       fmax(1.0, (double)t->imgs / B)
                                                 : t->budget - elapsed;
    pixl__log_progress(&t->lg, t->epoch, bt.batch, t->nb, eta, t->last_loss, t->lr, ips);
    const int pi = cfg->training.print_interval > 0 ? cfg->training.print_interval : 50;
    if (t->step % pi == 0) {
        pixl_loader_stats ls;
        pixl_loader_get_stats(t->loader, &ls);
        pixl__log_train(&t->lg, t->step, t->epoch, elapsed, t->loss_acc / t->loss_n, t->lr, ips, &ls);
        log_gates(t);
        t->loss_acc = 0;
        t->loss_n = 0;
    }
    t->epoch_ended = t->batch_in_epoch >= t->nb;
    if (t->epoch_ended) {
        t->epoch++;
        t->batch_in_epoch = 0;
        if ((rc = pixl_loader_set_epoch(t->loader, t->epoch))) return rc;
    }
    if (t->hooks.after_step && (rc = t->hooks.after_step(t, t->hooks.user))) return rc;
    return PIXL_OK;
}

/* -------------------------------------------------------------------- run */
int pixl_trainer_run(pixl_trainer *t)
{
    if (!t) return pixl_set_error(PIXL_ERR_ARG, "pixl_trainer_run: NULL trainer");
    const pixl_train_config *cfg = &t->cfg;
    const pixl_train_hooks *h = &t->hooks;
    double next_val_time = INFINITY;
    if (cfg->validation.every_minutes > 0) {
        double per = cfg->validation.every_minutes * 60;
        next_val_time = (floor((now_s() - t->t_start) / per) + 1) * per;
    }
    int rc = PIXL_OK, stopped = 0;
    for (;;) {
        double elapsed = now_s() - t->t_start;
        if (t->step >= t->max_steps || elapsed >= t->budget) break;
        if ((h->stop && *h->stop) || (h->stop_after > 0 && t->step >= h->stop_after)) {
            stopped = 1;
            break;
        }
        if ((rc = pixl_trainer_step(t))) break;
        elapsed = now_s() - t->t_start;
        int val_now = t->epoch_ended && cfg->validation.every_epochs > 0 && t->epoch % cfg->validation.every_epochs == 0;
        if (elapsed >= next_val_time) {
            val_now = 1;
            while (next_val_time <= elapsed) next_val_time += cfg->validation.every_minutes * 60;
        }
        if (val_now && t->step < t->max_steps && elapsed < t->budget) {
            if ((rc = pixl_trainer_validate(t, NULL)) || (rc = pixl_trainer_save(t))) break;
        }
    }
    pixl__log_end_progress(&t->lg);
    if (rc) return rc;
    if (t->labels_state != 1 && t->labelled_maps > 0)
        pixl__log(&t->lg, "warning: no pixel of the %d training label maps seen has a class (the loss was 0 at every "
                          "step)\n", t->labelled_maps);
    const double elapsed = now_s() - t->t_start;
    if (!stopped) rc = pixl_trainer_validate(t, NULL);
    if (!rc) rc = pixl_trainer_save(t);
    pixl_loader_stats ls;
    pixl_loader_get_stats(t->loader, &ls);
    char best[96] = "no validation yet", sc[64];
    if (t->best > -1e299) {
        t->task->def->format_score(t->task->def->higher_is_better ? t->best : -t->best, sc, sizeof sc);
        snprintf(best, sizeof best, "best val %s", sc);
    }
    pixl__log(&t->lg, "%s at step %lld (%.1f min): %s; loader waited %.1f%% of the time (capacity %.1f img/s)\n",
              stopped ? "stopped" : "done", (long long)t->step, elapsed / 60, best,
              ls.total_seconds > 0 ? 100 * ls.wait_seconds / ls.total_seconds : 0, ls.capacity_per_second);
    return rc;
}

int pixl_train(const pixl_train_config *cfg, const pixl_train_hooks *hooks)
{
    pixl_trainer *t = pixl_trainer_new(cfg, hooks);
    if (!t) return pixl_last_status();
    int rc = pixl_trainer_run(t);
    if (rc) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", pixl_last_error());
        pixl_trainer_free(t);
        return pixl_set_error(rc, "%s", msg);
    }
    pixl_trainer_free(t);
    return PIXL_OK;
}

/* -------------------------------------------------------------- accessors */
int64_t pixl_trainer_steps(const pixl_trainer *t) { return t ? t->step : 0; }
int64_t pixl_trainer_epoch(const pixl_trainer *t) { return t ? t->epoch : 0; }
float pixl_trainer_loss(const pixl_trainer *t) { return t ? (float)t->last_loss : NAN; }
pixl_model *pixl_trainer_model(pixl_trainer *t) { return t ? t->model : NULL; }
pixl_params *pixl_trainer_params(pixl_trainer *t) { return t ? pixl_model_params(t->model) : NULL; }
const pixl_dataset *pixl_trainer_dataset(const pixl_trainer *t, int val) { return t ? (val ? t->val : t->train) : NULL; }
const char *pixl_trainer_task(const pixl_trainer *t) { return t ? t->task->def->name : NULL; }
const char *pixl_trainer_run_dir(const pixl_trainer *t) { return t ? t->cfg.output.run_dir : NULL; }
