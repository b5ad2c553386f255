/* test_trainer.c — training runs end to end on the embedded synthetic set:
 * a run writes its directory (config, log, best/last checkpoints), learns,
 * and a run stopped half-way and resumed ends bit-identical to an
 * uninterrupted one (same schedule, step count, data order, dropout masks
 * and optimizer state). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "pixl_train.h"

static void small_config(pixl_train_config *cfg, const char *dir, int iters)
{
    pixl_config_defaults(cfg);
    const char *kv[] = {"model.arch=enet", "data.dataset=synthetic", "data.img_rows=32", "data.img_cols=32",
                        "data.flip=true", "data.scale=[0.8, 1.2]", "data.crop=[32, 32]", "data.n_workers=2",
                        "training.batch_size=4", "training.epochs=0", "training.optimizer.name=adam",
                        "training.optimizer.lr=0.002", "training.lr_schedule.name=poly",
                        "validation.every_epochs=0", "validation.every_minutes=0", "training.print_interval=5"};
    CHECK_CONFIG_SET(cfg, kv, (int)(sizeof kv / sizeof *kv));
    char n[32];
    snprintf(n, sizeof n, "%d", iters);
    CHECK_OK(pixl_config_set(cfg, "training.max_iters", n));
    snprintf(cfg->output.run_dir, sizeof cfg->output.run_dir, "%s", dir);
}

static float *read_params(const char *path, int64_t *n)
{
    pixl_model *m = pixl_model_load(path);
    if (!m) return NULL;
    int64_t k;
    float *flat = pixl_params_data_flat(pixl_model_params(m), &k), *copy = malloc(sizeof(float) * (size_t)k);
    memcpy(copy, flat, sizeof(float) * (size_t)k);
    *n = k;
    pixl_model_free(m);
    return copy;
}

PIXL_TEST(trainer_run_writes_directory_and_resumes_identically)
{
    char a[512], b[512], p[600];
    snprintf(a, sizeof a, "%s/run_a", pixl_test_tmpdir());
    snprintf(b, sizeof b, "%s/run_b", pixl_test_tmpdir());
    pixl_train_config *cfg = calloc(1, sizeof *cfg);
    FILE *devnull = fopen("/dev/null", "w");
    pixl_train_hooks h = {.log = devnull, .quiet = 1};
    /* uninterrupted: 150 iterations (the synthetic training set is 512 images:
     * 128 batches of 4 an epoch) */
    small_config(cfg, a, 150);
    CHECK_OK(pixl_train(cfg, &h));
    const char *files[] = {"config.yaml", "log.jsonl", "last.safetensors", "last.optim.safetensors",
                           "best.safetensors"};
    struct stat st;
    for (int i = 0; i < 5; i++) {
        snprintf(p, sizeof p, "%s/%s", a, files[i]);
        CHECK_MSG(stat(p, &st) == 0 && st.st_size > 0, "run directory lacks %s", files[i]);
    }
    /* the same run stopped exactly at the end of the first epoch, then resumed */
    small_config(cfg, b, 150);
    pixl_train_hooks h_stop = h;
    h_stop.stop_after = 128;
    CHECK_OK(pixl_train(cfg, &h_stop));
    snprintf(cfg->training.resume, sizeof cfg->training.resume, "%s/last.safetensors", b);
    CHECK_OK(pixl_train(cfg, &h));
    int64_t na = 0, nb = 0;
    snprintf(p, sizeof p, "%s/last.safetensors", a);
    float *pa = read_params(p, &na);
    snprintf(p, sizeof p, "%s/last.safetensors", b);
    float *pb = read_params(p, &nb);
    CHECK(pa && pb && na == nb && na > 0);
    if (pa && pb && na == nb) CHECK_MSG(memcmp(pa, pb, sizeof(float) * (size_t)na) == 0, "resumed run differs");
    char *step = pixl_checkpoint_meta(p, "step");
    CHECK(step && !strcmp(step, "150"));
    free(step);
    free(pa);
    free(pb);
    fclose(devnull);
    free(cfg);
}

PIXL_TEST(trainer_reports_bad_config)
{
    pixl_train_config *cfg = calloc(1, sizeof *cfg);
    char d[512];
    snprintf(d, sizeof d, "%s/run_bad", pixl_test_tmpdir());
    small_config(cfg, d, 5);
    CHECK_OK(pixl_config_set(cfg, "model.arch", "enet9"));
    FILE *devnull = fopen("/dev/null", "w");
    pixl_train_hooks h = {.log = devnull, .quiet = 1};
    CHECK(pixl_train(cfg, &h) != 0);
    CHECK_MSG(strstr(pixl_last_error(), "enet9") != NULL, "error: %s", pixl_last_error());
    fclose(devnull);
    free(cfg);
}

/* training.optimizer.backbone_lr_mult: the encoder's parameters (named
 * backbone.*) learn at that fraction of the rate (PixelPick: 0.1), the rest
 * at the full rate; a model without such parameters is an error naming the
 * key and the model. */
PIXL_TEST(trainer_backbone_lr_mult)
{
    pixl_train_config *cfg = calloc(1, sizeof *cfg);
    char d[512];
    snprintf(d, sizeof d, "%s/run_backbone_lr", pixl_test_tmpdir());
    small_config(cfg, d, 1);
    CHECK_OK(pixl_config_set(cfg, "model.arch", "deeplabv3plus"));
    CHECK_OK(pixl_config_set(cfg, "training.optimizer.backbone_lr_mult", "0.1"));
    FILE *devnull = fopen("/dev/null", "w");
    pixl_train_hooks h = {.log = devnull, .quiet = 1};
    pixl_trainer *t = pixl_trainer_new(cfg, &h);
    CHECK_MSG(t != NULL, "%s", pixl_last_error());
    if (t) {
        pixl_params *P = pixl_trainer_params(t);
        int enc = 0, rest = 0, bad = 0;
        for (int i = 0; i < pixl_params_count(P); i++) {
            if (pixl_params_kind(P, i) != PIXL_PARAM) continue;
            int in_backbone = !strncmp(pixl_params_name(P, i), "backbone.", 9);
            float want = in_backbone ? 0.1f : 1.0f;
            enc += in_backbone, rest += !in_backbone;
            bad += fabsf(pixl_params_lr_mult(P, i) - want) > 1e-7f || pixl_params_wd_mult(P, i) != 1.0f;
        }
        CHECK(enc > 50 && rest > 10 && bad == 0);
        pixl_trainer_free(t);
    }
    CHECK_OK(pixl_config_set(cfg, "model.arch", "enet"));
    CHECK(pixl_trainer_new(cfg, &h) == NULL);
    CHECK_MSG(strstr(pixl_last_error(), "backbone_lr_mult") && strstr(pixl_last_error(), "enet"), "error: %s",
              pixl_last_error());
    fclose(devnull);
    free(cfg);
}

/* Edge models through `pixl train` (BSDS500 from ../shared; skipped without
 * it): balanced_bce trains one sigmoid output, densely (a small U-Net) and at
 * edge-balanced sampled pixels (PixelNet); validation is the BSDS benchmark
 * and best.safetensors is chosen by ODS F. A segmentation set with
 * balanced_bce is an error naming the loss. */
#define BSDS_ROOT "../shared/datasets/bsds500"
/* surface normals through pixl_train: PixelNet with the normal loss at
 * sampled surface pixels of synthetic_normals (flip and rescale on: the
 * targets move with the image); validation by angular error keeps the best
 * (lowest mean); trained beats untrained by a wide margin; wrong pairings of
 * loss and data set are readable errors. A dense model (ENet) trains with
 * PAG's l2_angular loss over every pixel with a normal, PixelNet with it at
 * its sampled pixels. */
static double train_normals_with(pixl_train_config *cfg, const char *dir, int iters, pixl_train_hooks *h,
                                 const char *arch, const char *loss)
{
    small_config(cfg, dir, iters);
    const char *kv[][2] = {{"model.arch", arch}, {"data.dataset", "synthetic_normals"},
                           {"training.loss.name", loss}, {"validation.limit", "8"}, {"training.seed", "3"}};
    for (size_t i = 0; i < sizeof kv / sizeof *kv; i++)
        CHECK_MSG(pixl_config_set(cfg, kv[i][0], kv[i][1]) == 0, "%s: %s", kv[i][0], pixl_last_error());
    if (!strcmp(arch, "pixelnet")) {
        CHECK_OK(pixl_config_set(cfg, "model.options", "{backbone: pixelnet_tiny, mlp: \"[32]\", dropout: 0}"));
        CHECK_OK(pixl_config_set(cfg, "training.sampling.pixels_per_image", "200"));
    }
    int rc = pixl_train(cfg, h);
    CHECK_MSG(rc == 0, "%s", pixl_last_error());
    char p[600];
    snprintf(p, sizeof p, "%s/best.safetensors", dir);
    pixl_model *m = rc ? NULL : pixl_model_load(p);
    CHECK(rc || (m && pixl_model_n_classes(m) == 3));
    pixl_model_free(m);
    char *v = rc ? NULL : pixl_checkpoint_meta(p, "val_mean_angle_deg");
    double mean = v ? atof(v) : -1;
    free(v);
    return mean;
}

static double train_normals(pixl_train_config *cfg, const char *dir, int iters, pixl_train_hooks *h)
{
    return train_normals_with(cfg, dir, iters, h, "pixelnet", "normal");
}

PIXL_TEST(trainer_normals_pixelnet)
{
    pixl_train_config *cfg = calloc(1, sizeof *cfg);
    FILE *devnull = fopen("/dev/null", "w");
    pixl_train_hooks h = {.log = devnull, .quiet = 1};
    char d[512];
    snprintf(d, sizeof d, "%s/run_normals_bad", pixl_test_tmpdir());
    struct { const char *key, *val, *want; } bad[] = {
        {"training.loss.name", "normal", "needs a data set with surface normals"},
        {"training.loss.name", "l2_angular", "needs a data set with surface normals"},
        {"data.dataset", "synthetic_normals", "set training.loss.name to one of: normal, l2_angular"},
    };
    for (int i = 0; i < 3; i++) {
        small_config(cfg, d, 2);
        CHECK_OK(pixl_config_set(cfg, bad[i].key, bad[i].val));
        CHECK(pixl_train(cfg, &h) != 0);
        CHECK_MSG(strstr(pixl_last_error(), bad[i].want) != NULL, "error: %s", pixl_last_error());
    }
    /* PAG's loss, dense (ENet) and at sampled pixels (PixelNet) */
    const char *archs[2] = {"enet", "pixelnet"};
    for (int a = 0; a < 2; a++) {
        snprintf(d, sizeof d, "%s/run_normals_l2_angular_%s_1", pixl_test_tmpdir(), archs[a]);
        double u = train_normals_with(cfg, d, 1, &h, archs[a], "l2_angular");
        snprintf(d, sizeof d, "%s/run_normals_l2_angular_%s_60", pixl_test_tmpdir(), archs[a]);
        double tr = train_normals_with(cfg, d, 60, &h, archs[a], "l2_angular");
        printf("    %s, l2_angular: val mean angular error %.2f deg after 1 step, %.2f after 60\n", archs[a], u, tr);
        CHECK_MSG(u > 0 && tr > 0 && tr < u, "%s, l2_angular: 1 step %.2f deg, 60 steps %.2f deg", archs[a], u, tr);
    }

    snprintf(d, sizeof d, "%s/run_normals_1", pixl_test_tmpdir());
    double untrained = train_normals(cfg, d, 1, &h);
    snprintf(d, sizeof d, "%s/run_normals_150", pixl_test_tmpdir());
    double trained = train_normals(cfg, d, 150, &h);
    printf("    val mean angular error: %.2f deg after 1 step, %.2f after 150\n", untrained, trained);
    CHECK_MSG(untrained > 0 && trained > 0 && trained < untrained - 10,
              "val mean angular error: 1 step %.2f deg, 150 steps %.2f deg", untrained, trained);
    fclose(devnull);
    free(cfg);
}

PIXL_TEST(trainer_edges_balanced_bce)
{
    pixl_train_config *cfg = calloc(1, sizeof *cfg);
    FILE *devnull = fopen("/dev/null", "w");
    pixl_train_hooks h = {.log = devnull, .quiet = 1};
    char d[512];
    snprintf(d, sizeof d, "%s/run_bce_bad", pixl_test_tmpdir());
    small_config(cfg, d, 2);
    CHECK_OK(pixl_config_set(cfg, "training.loss.name", "balanced_bce"));
    CHECK(pixl_train(cfg, &h) != 0);
    CHECK_MSG(strstr(pixl_last_error(), "balanced_bce") != NULL, "error: %s", pixl_last_error());
    if (access(BSDS_ROOT "/groundTruth/val", R_OK)) {
        printf("  skip: %s not found\n", BSDS_ROOT);
        goto done;
    }
    const char *arch[2] = {"unet", "pixelnet"};
    for (int a = 0; a < 2; a++) {
        snprintf(d, sizeof d, "%s/run_bce_%s", pixl_test_tmpdir(), arch[a]);
        small_config(cfg, d, 3);
        const char *kv[][2] = {{"model.arch", arch[a]}, {"data.dataset", "bsds500"}, {"data.root", BSDS_ROOT},
                               {"data.img_rows", "0"}, {"data.img_cols", "0"}, {"data.scale", "[1.0, 1.0]"},
                               {"data.crop", "[64, 64]"}, {"training.batch_size", "2"},
                               {"training.loss.name", "balanced_bce"}, {"training.sampling.strategy", "edge_balanced"},
                               {"training.sampling.pixels_per_image", "300"}, {"validation.limit", "1"},
                               {"validation.edge_thresholds", "5"}, {"training.print_interval", "1"}};
        for (size_t i = 0; i < sizeof kv / sizeof *kv; i++)
            CHECK_MSG(pixl_config_set(cfg, kv[i][0], kv[i][1]) == 0, "%s: %s", kv[i][0], pixl_last_error());
        if (a == 0) CHECK_OK(pixl_config_set(cfg, "model.options", "{width: 0.125}"));
        else CHECK_OK(pixl_config_set(cfg, "model.options", "{backbone: pixelnet_tiny, mlp: \"[16]\"}"));
        int rc = pixl_train(cfg, &h);
        CHECK_MSG(rc == 0, "%s: %s", arch[a], pixl_last_error());
        char p[600];
        /* the loss sees positives and negatives (a crop without a boundary pixel gives 0, so the largest of the
         * logged steps is tested): at 50/50 sampled pixels an untrained net's balanced BCE is about ln 2 / 2;
         * densely, with about 1% positives, it is about 2 ln 2 x 1%: only > 0 is certain */
        snprintf(p, sizeof p, "%s/log.jsonl", d);
        FILE *lf = fopen(p, "r");
        char line[1024];
        double top = -1;
        while (lf && fgets(line, sizeof line, lf)) {
            const char *q = strstr(line, "\"loss\":");
            if (strstr(line, "\"type\": \"train\"") && q && atof(q + 7) > top) top = atof(q + 7);
        }
        if (lf) fclose(lf);
        CHECK_MSG(rc || (a == 1 ? top > 0.1 && top < 1.0 : top > 0 && top < 1.0), "%s: largest training loss %g",
                  arch[a], top);
        snprintf(p, sizeof p, "%s/best.safetensors", d);
        pixl_model *m = rc ? NULL : pixl_model_load(p);
        CHECK(rc || (m && pixl_model_n_classes(m) == 1));
        char *ods = m ? pixl_checkpoint_meta(p, "val_ods_f") : NULL;
        CHECK(rc || (ods && atof(ods) >= 0 && atof(ods) <= 1));
        free(ods);
        pixl_model_free(m);
    }
done:
    fclose(devnull);
    free(cfg);
}

/* The trainer as an object: 12 pixl_trainer_step() calls and a save give
 * the parameters of pixl_train() with max_iters 12, bit for bit; the hooks
 * run once per step, after_backward sees the step's gradients in the flat
 * buffer before the optimizer changes the parameters; a failing hook ends
 * the step with its status; resume after a step is refused. */
typedef struct {
    int backward, step, validate;
    double grad_sq, score;
    int fail_at; /* after_step fails at this step (0 = never) */
    float param0_at_backward, param0_at_step;
} hook_counts;

static int hk_backward(pixl_trainer *t, void *u)
{
    hook_counts *c = u;
    int64_t n = 0;
    const float *g = pixl_params_grad_flat(pixl_trainer_params(t), &n);
    c->grad_sq = 0;
    for (int64_t i = 0; i < n; i++) c->grad_sq += (double)g[i] * g[i];
    c->param0_at_backward = pixl_params_data_flat(pixl_trainer_params(t), &n)[0];
    c->backward++;
    return 0;
}

static int hk_step(pixl_trainer *t, void *u)
{
    hook_counts *c = u;
    int64_t n = 0;
    c->param0_at_step = pixl_params_data_flat(pixl_trainer_params(t), &n)[0];
    c->step++;
    if (c->fail_at && pixl_trainer_steps(t) == c->fail_at) {
        pixl_set_error(PIXL_ERR_STATE, "hook says stop at %d", c->fail_at);
        return PIXL_ERR_STATE;
    }
    return 0;
}

static int hk_validate(pixl_trainer *t, double score, int best, const char *json, void *u)
{
    hook_counts *c = u;
    c->validate++;
    c->score = score;
    return json && strstr(json, "mean_iou") ? 0 : PIXL_ERR_FORMAT;
}

PIXL_TEST(trainer_object_steps_hooks)
{
    char a[512], b[512], p[600];
    snprintf(a, sizeof a, "%s/run_obj_a", pixl_test_tmpdir());
    snprintf(b, sizeof b, "%s/run_obj_b", pixl_test_tmpdir());
    snprintf(p, sizeof p, "%s/last.safetensors", a);
    pixl_train_config *cfg = calloc(1, sizeof *cfg);
    FILE *devnull = fopen("/dev/null", "w");
    pixl_train_hooks h = {.log = devnull, .quiet = 1};
    small_config(cfg, a, 12);
    CHECK_OK(pixl_config_set(cfg, "validation.limit", "8"));
    CHECK_OK(pixl_train(cfg, &h));

    small_config(cfg, b, 12);
    CHECK_OK(pixl_config_set(cfg, "validation.limit", "8"));
    hook_counts hc = {0};
    pixl_train_hooks h2 = {.log = devnull, .quiet = 1, .user = &hc, .after_backward = hk_backward,
                           .after_step = hk_step, .after_validate = hk_validate};
    pixl_trainer *t = pixl_trainer_new(cfg, &h2);
    memset(cfg, 0, sizeof *cfg); /* the trainer has its own copy */
    CHECK_MSG(t != NULL, "%s", pixl_last_error());
    if (!t) goto done;
    CHECK(!strcmp(pixl_trainer_task(t), "segmentation"));
    CHECK(isnan(pixl_trainer_loss(t)));
    int rc = 0;
    for (int i = 0; i < 12 && !rc; i++) {
        rc = pixl_trainer_step(t);
        if (i == 0) { /* the optimizer ran after the hook saw the gradients */
            CHECK(hc.grad_sq > 0 && hc.param0_at_backward != hc.param0_at_step);
            CHECK(pixl_trainer_resume(t, p) == PIXL_ERR_STATE);
        }
    }
    CHECK_MSG(rc == 0, "%s", pixl_last_error());
    CHECK(hc.backward == 12 && hc.step == 12 && pixl_trainer_steps(t) == 12);
    CHECK(isfinite(pixl_trainer_loss(t)) && pixl_trainer_loss(t) > 0);
    double score = -1;
    CHECK_OK(pixl_trainer_validate(t, &score));
    CHECK(hc.validate == 1 && score == hc.score && score >= 0 && score <= 1);
    CHECK_OK(pixl_trainer_save(t));
    /* a failing hook ends the step with its status and message */
    hc.fail_at = 13;
    CHECK(pixl_trainer_step(t) == PIXL_ERR_STATE && strstr(pixl_last_error(), "hook says stop") != NULL);
    pixl_trainer_free(t);

    int64_t na = 0, nb = 0;
    snprintf(p, sizeof p, "%s/last.safetensors", a);
    float *pa = read_params(p, &na);
    snprintf(p, sizeof p, "%s/last.safetensors", b);
    float *pb = read_params(p, &nb);
    CHECK(pa && pb && na == nb && na > 0);
    if (pa && pb && na == nb)
        CHECK_MSG(memcmp(pa, pb, sizeof(float) * (size_t)na) == 0, "stepping the object differs from pixl_train");
    free(pa);
    free(pb);
done:
    CHECK(pixl_trainer_new(NULL, NULL) == NULL && strstr(pixl_last_error(), "NULL") != NULL);
    CHECK(pixl_trainer_step(NULL) == PIXL_ERR_ARG);
    fclose(devnull);
    free(cfg);
}

/* Class weights of the segmentation task, against the definitions computed
 * here from the labels: ENet's 1/ln(1.02 + p_c) and median frequency
 * median(f) / f_c with f_c = pixels of c / pixels of the images holding c. */
#include "tasks/task.h"

PIXL_TEST(trainer_class_weights_definitions)
{
    pixl_dataset_opts o = {.kind = "synthetic", .count = 12, .seed = 5, .width = 48, .height = 40};
    pixl_dataset *ds = pixl_dataset_open(&o);
    CHECK_MSG(ds != NULL, "%s", pixl_last_error());
    if (!ds) return;
    const int K = pixl_dataset_n_classes(ds);
    double cnt[64] = {0}, img_px[64] = {0}, total = 0;
    CHECK(K > 1 && K <= 64);
    for (int i = 0; i < pixl_dataset_size(ds) && K <= 64; i++) {
        pixl_image *img = NULL;
        int32_t *lab = NULL;
        CHECK_OK(pixl_dataset_load(ds, i, &img, &lab));
        if (!img) break;
        double here[64] = {0}, valid = 0;
        for (int p = 0; p < img->width * img->height; p++)
            if (lab[p] >= 0 && lab[p] < K) here[lab[p]]++, valid++;
        for (int k = 0; k < K; k++) cnt[k] += here[k], img_px[k] += here[k] > 0 ? valid : 0;
        total += valid;
        pixl_image_free(img);
        free(lab);
    }
    pixl_train_config *cfg = calloc(1, sizeof *cfg);
    pixl_config_defaults(cfg);
    float w[64];
    CHECK_OK(pixl_config_set(cfg, "training.loss.class_weights", "enet"));
    CHECK_OK(pixl__class_weights(cfg, ds, K, w));
    for (int k = 0; k < K; k++)
        CHECK_MSG(fabs(w[k] - 1.0 / log(1.02 + cnt[k] / total)) < 1e-4 * w[k], "enet weight %d: %g", k, w[k]);
    CHECK_OK(pixl_config_set(cfg, "training.loss.class_weights", "median_freq"));
    CHECK_OK(pixl__class_weights(cfg, ds, K, w));
    double f[64], s[64];
    int nf = 0;
    for (int k = 0; k < K; k++)
        if ((f[k] = img_px[k] > 0 ? cnt[k] / img_px[k] : 0) > 0) s[nf++] = f[k];
    for (int i = 0; i < nf; i++) /* selection sort: a second, independent ordering */
        for (int j = i + 1; j < nf; j++)
            if (s[j] < s[i]) { double t = s[i]; s[i] = s[j]; s[j] = t; }
    double med = nf % 2 ? s[nf / 2] : 0.5 * (s[nf / 2 - 1] + s[nf / 2]);
    for (int k = 0; k < K; k++)
        CHECK_MSG(f[k] > 0 ? fabs(w[k] - med / f[k]) < 1e-4 * w[k] : w[k] == 0, "median-frequency weight %d: %g", k,
                  w[k]);
    char line[640];
    pixl__class_weights_line(w, K, line, sizeof line); /* every weight */
    CHECK_MSG(!strncmp(line, "class weights: ", 15) && !strstr(line, "..."), "%s", line);
    pixl__class_weights_line(w, K, line, 48); /* too short for all: stops between numbers, ends with the count */
    char want[32];
    snprintf(want, sizeof want, " ... (%d classes)", K);
    CHECK_MSG(strlen(line) < 48 && strlen(line) > strlen(want) &&
                  !strcmp(line + strlen(line) - strlen(want), want) && line[strlen(line) - strlen(want) - 1] != ' ',
              "%s", line);
    free(cfg);
    pixl_dataset_free(ds);
}
