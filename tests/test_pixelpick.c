/* test_pixelpick.c — `pixl pixelpick`, PixelPick's rounds, end to end on a
 * small CamVid-layout data set made from pixl's embedded synthetic images
 * (with void pixels added): labels grow by N per image a round, the new
 * ones are the ground truth's, never a pixel twice, never a void one; a
 * rerun after deleting round markers writes the same files again, and an
 * unfinished training resumes; warm start begins a round from the last
 * round's model where re-initialisation begins from a fresh one; with
 * --oracle human the command stops for labels and goes on once they are
 * there; MC dropout; bad options and a changed rerun are errors. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "test.h"
#include "pixl_train.h"

int cmd_pixelpick(int argc, char **argv); /* tools/cmd_pixelpick.c */

#define N_TRAIN 12
#define N_VAL 4
#define IMG_H 32
#define IMG_W 48

static const char *tpath(const char *fmt, const char *a)
{
    static char buf[8][1024];
    static int k;
    k = (k + 1) & 7;
    char name[512];
    snprintf(name, sizeof name, fmt, a);
    snprintf(buf[k], sizeof buf[k], "%s/pp/%s", pixl_test_tmpdir(), name);
    return buf[k];
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)len + 1);
    size_t n = fread(b, 1, (size_t)len, f);
    b[n] = 0;
    fclose(f);
    return b;
}

static int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static void remove_tree(const char *dir)
{
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

/* The data set: synthetic images (5 classes on CamVid's 11) whose top 4
 * rows and a 6x6 block are void (CamVid's 11), in CamVid's layout. */
static const char *make_dataset(void)
{
    static char root[1024];
    snprintf(root, sizeof root, "%s/pp/camvid_mini", pixl_test_tmpdir());
    if (exists(root)) return root;
    const char *split[2] = {"train", "val"};
    const int count[2] = {N_TRAIN, N_VAL};
    for (int s = 0; s < 2; s++) {
        char dir[1100], ann[1100], list[1100];
        snprintf(dir, sizeof dir, "%s/%s", root, split[s]);
        snprintf(ann, sizeof ann, "%s/%sannot", root, split[s]);
        snprintf(list, sizeof list, "%s/%s.txt", root, split[s]);
        char cmd[2400];
        snprintf(cmd, sizeof cmd, "mkdir -p '%s' '%s'", dir, ann);
        CHECK(system(cmd) == 0);
        pixl_dataset_opts o = {.kind = "synthetic", .count = count[s], .seed = 41 + (uint64_t)s, .width = IMG_W,
                               .height = IMG_H};
        pixl_dataset *ds = pixl_dataset_open(&o);
        CHECK(ds != NULL);
        FILE *lf = fopen(list, "w");
        for (int i = 0; ds && lf && i < count[s]; i++) {
            pixl_image *img = NULL;
            int32_t *lab = NULL;
            CHECK_OK(pixl_dataset_load(ds, i, &img, &lab));
            if (!img) continue;
            for (int y = 0; y < IMG_H; y++)
                for (int x = 0; x < IMG_W; x++)
                    if (y < 4 || (y >= 10 + i % 8 && y < 16 + i % 8 && x >= 20 && x < 26)) lab[y * IMG_W + x] = 11;
            char ip[1300], lp[1300];
            snprintf(ip, sizeof ip, "%s/%c%03d.png", dir, split[s][0], i);
            snprintf(lp, sizeof lp, "%s/%c%03d.png", ann, split[s][0], i);
            CHECK_OK(pixl_image_save_png(img, ip));
            CHECK_OK(pixl_label_save_png(lab, IMG_W, IMG_H, NULL, 0, lp));
            fprintf(lf, "%s/%c%03d.png %sannot/%c%03d.png\n", split[s], split[s][0], i, split[s], split[s][0], i);
            pixl_image_free(img);
            free(lab);
        }
        if (lf) fclose(lf);
        pixl_dataset_free(ds);
    }
    return root;
}

/* the config file (malloc'ed path) */
static char *make_config(const char *name, const char *arch)
{
    const char *root = make_dataset();
    const char *path = tpath("%s.yaml", name);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return strdup(path);
    fprintf(f,
            "model: {arch: %s}\n"
            "data: {dataset: camvid, root: '%s', scale: [0.75, 1.25], crop: [%d, %d], flip: true, n_workers: 0}\n"
            "training: {epochs: 1, batch_size: 4, seed: 3, print_interval: 100, threads: 1,\n"
            "           optimizer: {name: adam, lr: 0.005, eps: 1.0e-7}}\n"
            "validation: {every_epochs: 1, batch_size: 4}\n",
            arch, root, IMG_H, IMG_W);
    fclose(f);
    return strdup(path);
}

/* cmd_pixelpick with argv, its messages in <tmp>/pp/<name>.log (printed when rc is not `want`) */
static int run_cmd(const char *name, int want, const char *const *args)
{
    char *argv[64];
    int argc = 0;
    argv[argc++] = "pixelpick";
    for (int i = 0; args[i] && argc < 63; i++) argv[argc++] = (char *)args[i];
    argv[argc] = NULL;
    const char *log = tpath("%s.log", name);
    fflush(stderr);
    fflush(stdout);
    int saved_err = dup(2), saved_out = dup(1), fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, 2);
    dup2(fd, 1);
    close(fd);
    int rc = cmd_pixelpick(argc, argv);
    fflush(stderr);
    fflush(stdout);
    dup2(saved_err, 2);
    dup2(saved_out, 1);
    close(saved_err);
    close(saved_out);
    if (rc != want) {
        char *text = read_all(log);
        size_t n = text ? strlen(text) : 0;
        fprintf(stderr, "    pixl pixelpick returned %d, expected %d; its last messages:\n%s\n", rc, want,
                text ? text + (n > 3000 ? n - 3000 : 0) : "(none)");
        free(text);
    }
    return rc;
}

static int log_has(const char *name, const char *what)
{
    char *text = read_all(tpath("%s.log", name));
    int has = text && strstr(text, what);
    free(text);
    return has;
}

/* the training split's label maps (void 255), as the command reads them */
static int32_t *gt_maps(pixl_dataset **out)
{
    pixl_dataset_opts o = {.kind = "camvid", .root = make_dataset(), .split = "train"};
    pixl_dataset *ds = pixl_dataset_open(&o);
    CHECK(ds != NULL && pixl_dataset_size(ds) == N_TRAIN);
    int32_t *all = calloc((size_t)N_TRAIN * IMG_H * IMG_W, sizeof *all);
    for (int i = 0; ds && i < N_TRAIN; i++) {
        pixl_image *img;
        int32_t *lab;
        CHECK_OK(pixl_dataset_load(ds, i, &img, &lab));
        memcpy(all + (size_t)i * IMG_H * IMG_W, lab, sizeof(int32_t) * IMG_H * IMG_W);
        pixl_image_free(img);
        free(lab);
    }
    *out = ds;
    return all;
}

static pixl_label_store *load_store(const char *run, int r)
{
    char p[1200];
    snprintf(p, sizeof p, "%s/round_%02d/labels.json", run, r);
    pixl_label_store *s = pixl_label_store_load(p);
    CHECK_MSG(s != NULL, "%s", pixl_last_error());
    return s;
}

/* round r's store: n points per image, each on its ground-truth class and
 * never void; it holds the previous store's points; the new ones carry round r */
static void check_store(const pixl_label_store *s, const pixl_label_store *prev, int r, int n, const int32_t *gt,
                        const pixl_dataset *ds)
{
    CHECK(pixl_label_store_n_images(s) == N_TRAIN);
    CHECK_MSG(pixl_label_store_total(s) == (int64_t)N_TRAIN * n, "round %d: %lld labelled pixels, expected %d", r,
              (long long)pixl_label_store_total(s), N_TRAIN * n);
    for (int i = 0; i < N_TRAIN; i++) {
        const char *id = pixl_dataset_sample_name(ds, i);
        int idx = pixl_label_store_find(s, id), h = 0, w = 0, np = 0;
        CHECK(idx >= 0);
        if (idx < 0) continue;
        pixl_label_store_image(s, idx, &h, &w, &np);
        CHECK(h == IMG_H && w == IMG_W && np == n);
        const pixl_label_point *pt = pixl_label_store_points(s, idx);
        int news = 0, bad = 0;
        for (int k = 0; k < np; k++) {
            int32_t g = gt[(size_t)i * IMG_H * IMG_W + pt[k].y * IMG_W + pt[k].x];
            bad += g == PIXL_IGNORE_LABEL || g != pt[k].label;
            pixl_label_point old;
            int had = prev ? pixl_label_store_get(prev, id, pt[k].y, pt[k].x, &old) : 0;
            if (had) bad += old.label != pt[k].label || old.round != pt[k].round;
            else news += pt[k].round == r;
        }
        CHECK_MSG(bad == 0, "round %d, image %s: %d points off the ground truth, void or changed", r, id, bad);
        CHECK_MSG(news == (prev ? n - pixl_label_store_count(prev, id) : n), "round %d, image %s: %d new points", r,
                  id, news);
    }
}

/* round r's queries.json: per image `n` pixels, none labelled in round r's store, none void */
static void check_queries(const char *run, int r, int n, const pixl_label_store *s, const int32_t *gt,
                          const pixl_dataset *ds)
{
    char p[1200];
    snprintf(p, sizeof p, "%s/round_%02d/queries.json", run, r);
    char *text = read_all(p);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    free(text);
    CHECK_MSG(j != NULL, "%s missing or not JSON", p);
    if (!j) return;
    CHECK(!strcmp(cJSON_GetObjectItem(j, "format")->valuestring, "pixl-query-set"));
    CHECK(cJSON_GetObjectItem(j, "round")->valueint == r + 1);
    const cJSON *imgs = cJSON_GetObjectItem(j, "images"), *im;
    CHECK(cJSON_GetArraySize(imgs) == N_TRAIN);
    int i = 0, bad = 0;
    cJSON_ArrayForEach(im, imgs)
    {
        const char *id = cJSON_GetObjectItem(im, "id")->valuestring;
        CHECK(!strcmp(id, pixl_dataset_sample_name(ds, i)));
        const cJSON *pts = cJSON_GetObjectItem(im, "points"), *pt;
        CHECK(cJSON_GetArraySize(pts) == n);
        cJSON_ArrayForEach(pt, pts)
        {
            int y = cJSON_GetArrayItem(pt, 0)->valueint, x = cJSON_GetArrayItem(pt, 1)->valueint;
            bad += pixl_label_store_get(s, id, y, x, NULL) != 0;
            bad += gt[(size_t)i * IMG_H * IMG_W + y * IMG_W + x] == PIXL_IGNORE_LABEL;
        }
        i++;
    }
    CHECK_MSG(bad == 0, "round %d: %d queried pixels are labelled already or void", r, bad);
    cJSON_Delete(j);
}

static char *file_of(const char *run, const char *name)
{
    char p[1200];
    snprintf(p, sizeof p, "%s/%s", run, name);
    return read_all(p);
}

PIXL_TEST(pixelpick_rounds_oracle_resume)
{
    char *cfg = make_config("oracle", "enet");
    char run[1024];
    snprintf(run, sizeof run, "%s", tpath("%s", "run_oracle"));
    remove_tree(run);
    const char *args[] = {cfg, "--run", run, "--per-round", "5", "--budget", "15", "--full", NULL};
    CHECK(run_cmd("oracle", 0, args) == 0);
    pixl_dataset *ds = NULL;
    int32_t *gt = gt_maps(&ds);
    pixl_label_store *prev = NULL;
    for (int r = 0; r < 3; r++) {
        pixl_label_store *s = load_store(run, r);
        if (!s) break;
        check_store(s, prev, r, 5 * (r + 1), gt, ds);
        if (r < 2) check_queries(run, r, 5, s, gt, ds);
        pixl_label_store_free(prev);
        prev = s;
    }
    pixl_label_store_free(prev);
    static const char *const files[] = {"round_00/round.json", "round_01/round.json", "round_02/round.json",
                                        "round_00/query_stats.json", "round_01/train.json",
                                        "round_02/train/best.safetensors", "full/train.json", "summary.json",
                                        "summary.md", "miou.svg", "report.html", "config.yaml", "pixelpick.json"};
    for (size_t k = 0; k < sizeof files / sizeof *files; k++) {
        char p[1200];
        snprintf(p, sizeof p, "%s/%s", run, files[k]);
        CHECK_MSG(exists(p), "%s missing", p);
    }
    CHECK(!exists(tpath("%s", "run_oracle/round_02/queries.json"))); /* the last round asks for nothing */
    char *md = file_of(run, "summary.md"), *svg = file_of(run, "miou.svg"), *html = file_of(run, "report.html");
    CHECK(md && strstr(md, "| 2 | 15 | 180 |") && strstr(md, "| full | all |"));
    CHECK(svg && strstr(svg, "<svg xmlns=") && strstr(svg, "last epoch") && strstr(svg, "full labels"));
    CHECK(html && strstr(html, "PixelPick rounds") && strstr(html, "<svg"));
    free(md), free(svg), free(html);
    char *stats = file_of(run, "round_01/query_stats.json");
    CHECK(stats && strstr(stats, "\"picks\": 60"));
    free(stats);

    /* a rerun of a finished run changes nothing; deleting the last round's marker writes the same files */
    static const char *const same[] = {"round_01/queries.json", "round_01/query_stats.json", "round_02/labels.json",
                                       "round_01/round.json", "round_02/round.json", "summary.json", "summary.md",
                                       "miou.svg"};
    enum { NS = sizeof same / sizeof *same };
    char *before[NS];
    for (int k = 0; k < NS; k++) before[k] = file_of(run, same[k]);
    CHECK(run_cmd("oracle", 0, args) == 0);
    unlink(tpath("%s", "run_oracle/round_02/round.json"));
    CHECK(run_cmd("oracle", 0, args) == 0);
    for (int k = 0; k < NS; k++) {
        char *after = file_of(run, same[k]);
        CHECK_MSG(before[k] && after && !strcmp(before[k], after), "%s differs after the rerun", same[k]);
        free(after);
    }
    /* without round 1's marker and round 2's labels, round 1 queries again: the same pixels (its
     * round.json differs only by the time the queries took) */
    unlink(tpath("%s", "run_oracle/round_01/round.json"));
    unlink(tpath("%s", "run_oracle/round_02/round.json"));
    unlink(tpath("%s", "run_oracle/round_02/labels.json"));
    CHECK(run_cmd("oracle", 0, args) == 0);
    for (int k = 0; k < 3; k++) {
        char *after = file_of(run, same[k]);
        CHECK_MSG(before[k] && after && !strcmp(before[k], after), "%s differs after the query is made again", same[k]);
        free(after);
    }
    char *r1 = file_of(run, "round_01/round.json");
    cJSON *x = before[3] ? cJSON_Parse(before[3]) : NULL, *y = r1 ? cJSON_Parse(r1) : NULL;
    cJSON_DeleteItemFromObject(x, "query_minutes");
    cJSON_DeleteItemFromObject(y, "query_minutes");
    CHECK_MSG(x && y && cJSON_Compare(x, y, 1), "round_01/round.json differs after the query is made again");
    cJSON_Delete(x), cJSON_Delete(y);
    free(r1);
    /* a training without its train.json resumes from last.safetensors (here at its end: validation only) */
    char *round2 = file_of(run, "round_02/round.json");
    unlink(tpath("%s", "run_oracle/round_02/round.json"));
    unlink(tpath("%s", "run_oracle/round_02/train.json"));
    CHECK(run_cmd("oracle", 0, args) == 0);
    CHECK(log_has("oracle", "resuming the training"));
    char *again = file_of(run, "round_02/round.json");
    cJSON *a = round2 ? cJSON_Parse(round2) : NULL, *b = again ? cJSON_Parse(again) : NULL;
    CHECK(a && b);
    if (a && b) {
        CHECK(cJSON_GetObjectItem(a, "val_miou_last")->valuedouble == cJSON_GetObjectItem(b, "val_miou_last")->valuedouble);
        CHECK(cJSON_GetObjectItem(a, "steps")->valueint == cJSON_GetObjectItem(b, "steps")->valueint);
        CHECK(cJSON_GetObjectItem(a, "labelled_pixels")->valueint == 180);
    }
    cJSON_Delete(a), cJSON_Delete(b);
    free(round2), free(again);
    /* a larger budget goes on from the last round: it queries with round 2's model first */
    const char *more[] = {cfg, "--run", run, "--per-round", "5", "--budget", "20", NULL};
    CHECK(run_cmd("oracle", 0, more) == 0);
    pixl_label_store *s2 = load_store(run, 2), *s3 = load_store(run, 3);
    if (s2 && s3) check_store(s3, s2, 3, 20, gt, ds);
    pixl_label_store_free(s2), pixl_label_store_free(s3);
    /* another strategy on the same directory is an error naming the option */
    const char *other[] = {cfg, "--run", run, "--per-round", "5", "--budget", "20", "--strategy", "entropy", NULL};
    CHECK(run_cmd("oracle", 2, other) == 2);
    CHECK(log_has("oracle", "--strategy \"margin\"") && log_has("oracle", "\"entropy\""));
    const char *changed[] = {cfg, "--run", run, "--per-round", "5", "--budget", "20", "--set",
                             "training.optimizer.lr=0.01", NULL};
    CHECK(run_cmd("oracle", 2, changed) == 2);
    CHECK(log_has("oracle", "training.optimizer.lr"));
    const char *faster[] = {cfg, "--run", run, "--per-round", "5", "--budget", "20", "--set", "training.threads=2",
                            "--set", "data.n_workers=1", NULL}; /* speed only: allowed */
    CHECK(run_cmd("oracle", 0, faster) == 0);
    for (int k = 0; k < NS; k++) free(before[k]);
    free(gt);
    pixl_dataset_free(ds);
    free(cfg);
}

static float *params_of(const char *path, int64_t *n)
{
    pixl_model *m = pixl_model_load(path);
    CHECK_MSG(m != NULL, "%s", pixl_last_error());
    if (!m) return NULL;
    float *flat = pixl_params_data_flat(pixl_model_params(m), n), *copy = malloc(sizeof(float) * (size_t)*n);
    memcpy(copy, flat, sizeof(float) * (size_t)*n);
    pixl_model_free(m);
    return copy;
}

/* the trainable values a round's training starts from: its config.yaml
 * (with the run's model.options.pretrained) through a new trainer */
static float *initial_params(const char *run, int r, int64_t *n)
{
    char p[1200];
    snprintf(p, sizeof p, "%s/round_%02d/train/config.yaml", run, r);
    pixl_train_config *cfg = malloc(sizeof *cfg);
    CHECK_OK(pixl_config_load(p, cfg));
    snprintf(cfg->output.run_dir, sizeof cfg->output.run_dir, "%s/probe", run);
    cfg->training.resume[0] = 0;
    FILE *devnull = fopen("/dev/null", "w");
    pixl_train_hooks h = {.log = devnull, .quiet = 1};
    pixl_trainer *t = pixl_trainer_new(cfg, &h);
    CHECK_MSG(t != NULL, "%s", pixl_last_error());
    float *copy = NULL;
    if (t) {
        float *flat = pixl_params_data_flat(pixl_trainer_params(t), n);
        copy = malloc(sizeof(float) * (size_t)*n);
        memcpy(copy, flat, sizeof(float) * (size_t)*n);
        pixl_trainer_free(t);
    }
    fclose(devnull);
    free(cfg);
    return copy;
}

PIXL_TEST(pixelpick_warm_start_and_reinit)
{
    char *cfg = make_config("warm", "enet");
    char cold[1024], warm[1024];
    snprintf(cold, sizeof cold, "%s", tpath("%s", "run_cold"));
    snprintf(warm, sizeof warm, "%s", tpath("%s", "run_warm"));
    remove_tree(cold);
    remove_tree(warm);
    const char *a1[] = {cfg, "--run", cold, "--per-round", "5", "--budget", "10", "--strategy", "entropy", NULL};
    const char *a2[] = {cfg, "--run", warm, "--per-round", "5", "--budget", "10", "--strategy", "entropy",
                        "--warm-start", NULL};
    CHECK(run_cmd("warm", 0, a1) == 0);
    CHECK(run_cmd("warm", 0, a2) == 0);
    char p[1200];
    int64_t n0c = 0, n0w = 0, n1c = 0, n1w = 0, nic = 0, niw = 0;
    snprintf(p, sizeof p, "%s/round_00/train/last.safetensors", cold);
    float *r0c = params_of(p, &n0c);
    snprintf(p, sizeof p, "%s/round_00/train/last.safetensors", warm);
    float *r0w = params_of(p, &n0w);
    snprintf(p, sizeof p, "%s/round_01/train/last.safetensors", cold);
    float *r1c = params_of(p, &n1c);
    snprintf(p, sizeof p, "%s/round_01/train/last.safetensors", warm);
    float *r1w = params_of(p, &n1w);
    float *i1c = initial_params(cold, 1, &nic), *i1w = initial_params(warm, 1, &niw);
    CHECK(r0c && r0w && r1c && r1w && i1c && i1w && n0c == n0w && n0c == n1c && n0c == n1w && n0c == nic &&
          n0c == niw);
    if (r0c && r0w && r1c && r1w && i1c && i1w && n0c == n0w && n0c == n1c && n0c == n1w && n0c == nic &&
        n0c == niw) {
        size_t bytes = sizeof(float) * (size_t)n0c;
        CHECK_MSG(!memcmp(r0c, r0w, bytes), "round 0 differs between the two runs");
        CHECK_MSG(!memcmp(i1w, r0w, bytes), "warm start: round 1 does not start from round 0's model");
        CHECK_MSG(memcmp(i1c, r0c, bytes), "re-initialisation: round 1 starts from round 0's model");
        CHECK_MSG(memcmp(r1c, r1w, bytes), "round 1 is the same with and without warm start");
    }
    /* re-initialised rounds start from the same fresh weights */
    int64_t ni0 = 0;
    float *i0c = initial_params(cold, 0, &ni0);
    CHECK(i0c && i1c && ni0 == nic && !memcmp(i0c, i1c, sizeof(float) * (size_t)ni0));
    char *sj = file_of(warm, "round_01/train.json");
    CHECK(sj && strstr(sj, "round_00/train/last.safetensors"));
    free(sj);
    free(r0c), free(r0w), free(r1c), free(r1w), free(i1c), free(i1w), free(i0c);
    free(cfg);
}

/* a round's training stopped half-way (as by Ctrl-C) continues where it
 * stopped and ends with the weights of an uninterrupted run */
PIXL_TEST(pixelpick_interrupted_training_resumes)
{
    char *cfg = make_config("resume", "enet");
    char run[1024], p[1200], saved[1200];
    snprintf(run, sizeof run, "%s", tpath("%s", "run_resume"));
    remove_tree(run);
    const char *args[] = {cfg, "--run", run, "--per-round", "5", "--budget", "10", "--set", "training.epochs=2", NULL};
    CHECK(run_cmd("resume", 0, args) == 0);
    int64_t na = 0, nb = 0;
    snprintf(p, sizeof p, "%s/round_01/train/last.safetensors", run);
    float *whole = params_of(p, &na);
    /* round 1 again: its training stopped after 2 of its 6 steps */
    snprintf(p, sizeof p, "%s/round_01/train/config.yaml", run);
    snprintf(saved, sizeof saved, "%s/round_01_config.yaml", run);
    CHECK(rename(p, saved) == 0);
    unlink(tpath("%s", "run_resume/round_01/round.json"));
    unlink(tpath("%s", "run_resume/round_01/train.json"));
    snprintf(p, sizeof p, "%s/round_01/train", run);
    remove_tree(p);
    pixl_train_config *c = malloc(sizeof *c);
    CHECK_OK(pixl_config_load(saved, c));
    FILE *devnull = fopen("/dev/null", "w");
    pixl_train_hooks h = {.log = devnull, .quiet = 1, .stop_after = 2};
    CHECK_OK(pixl_train(c, &h));
    fclose(devnull);
    free(c);
    snprintf(p, sizeof p, "%s/round_01/train/last.safetensors", run);
    char *step = pixl_checkpoint_meta(p, "step");
    CHECK(step && !strcmp(step, "2"));
    free(step);
    CHECK(run_cmd("resume", 0, args) == 0);
    CHECK(log_has("resume", "resuming the training"));
    float *resumed = params_of(p, &nb);
    CHECK(whole && resumed && na == nb && !memcmp(whole, resumed, sizeof(float) * (size_t)na));
    char *tj = file_of(run, "round_01/train.json");
    CHECK(tj && strstr(tj, "\"steps\": 6"));
    free(tj), free(whole), free(resumed);
    free(cfg);
}

PIXL_TEST(pixelpick_human_oracle)
{
    char *cfg = make_config("human", "enet");
    char run[1024];
    snprintf(run, sizeof run, "%s", tpath("%s", "run_human"));
    remove_tree(run);
    const char *args[] = {cfg, "--run", run, "--per-round", "4", "--budget", "8", "--oracle", "human", NULL};
    CHECK(run_cmd("human", 3, args) == 3);
    CHECK(log_has("human", "pixl annotate --images TRAIN_IMAGES --queries") && log_has("human", "round_00/human_labels.json"));
    CHECK(exists(tpath("%s", "run_human/round_00/round.json")));
    CHECK(!exists(tpath("%s", "run_human/round_01/labels.json")));
    CHECK(run_cmd("human", 3, args) == 3); /* still waiting */
    pixl_dataset *ds = NULL;
    int32_t *gt = gt_maps(&ds);
    pixl_label_store *r0 = load_store(run, 0);
    if (r0) check_queries(run, 0, 4, r0, gt, ds);
    /* the person's labels: class 1 at every query but the first of each image */
    char *text = file_of(run, "round_00/queries.json");
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    free(text);
    pixl_label_store *hum = pixl_label_store_new(11, NULL);
    const cJSON *im;
    const cJSON *images = j ? cJSON_GetObjectItem(j, "images") : NULL;
    cJSON_ArrayForEach(im, images)
    {
        const char *id = cJSON_GetObjectItem(im, "id")->valuestring;
        pixl_label_store_add_image(hum, id, IMG_H, IMG_W);
        const cJSON *pt;
        int k = 0;
        cJSON_ArrayForEach(pt, cJSON_GetObjectItem(im, "points"))
        if (k++ > 0) CHECK_OK(pixl_label_store_add(hum, id, cJSON_GetArrayItem(pt, 0)->valueint,
                                                   cJSON_GetArrayItem(pt, 1)->valueint, 1, 1));
    }
    cJSON_Delete(j);
    CHECK_OK(pixl_label_store_save(hum, tpath("%s", "run_human/round_00/human_labels.json")));
    CHECK(run_cmd("human", 0, args) == 0);
    pixl_label_store *r1 = load_store(run, 1);
    CHECK(r0 && r1 && pixl_label_store_total(r1) == pixl_label_store_total(r0) + N_TRAIN * 3);
    int64_t added = -1;
    pixl_label_store *m = r0 ? pixl_label_store_clone(r0) : NULL;
    CHECK(m && pixl_label_store_merge(m, hum, PIXL_MERGE_STRICT, &added, NULL) == 0 && added == N_TRAIN * 3);
    CHECK(m && r1 && pixl_label_store_total(m) == pixl_label_store_total(r1));
    CHECK(exists(tpath("%s", "run_human/round_01/round.json")) && exists(tpath("%s", "run_human/summary.md")));
    pixl_label_store_free(m), pixl_label_store_free(r1), pixl_label_store_free(r0), pixl_label_store_free(hum);
    free(gt);
    pixl_dataset_free(ds);
    free(cfg);
}

PIXL_TEST(pixelpick_mc_dropout_and_errors)
{
    char *cfg = make_config("mc", "deeplabv3plus");
    char run[1024];
    snprintf(run, sizeof run, "%s", tpath("%s", "run_mc"));
    remove_tree(run);
    const char *args[] = {cfg, "--run", run, "--per-round", "3", "--budget", "6", "--mc-dropout", "3",
                          "--mc-vote", "soft", "--set", "validation.every_epochs=0", NULL};
    CHECK(run_cmd("mc", 0, args) == 0);
    CHECK(!log_has("mc", "identical")); /* deeplabv3plus samples its head's dropout */
    pixl_dataset *ds = NULL;
    int32_t *gt = gt_maps(&ds);
    pixl_label_store *r0 = load_store(run, 0), *r1 = load_store(run, 1);
    if (r0 && r1) {
        check_store(r1, r0, 1, 6, gt, ds);
        check_queries(run, 0, 3, r0, gt, ds);
    }
    char *q = file_of(run, "round_00/queries.json");
    CHECK(q && strstr(q, "\"mc_dropout\": 3"));
    free(q);
    pixl_label_store_free(r0), pixl_label_store_free(r1);
    free(gt);
    pixl_dataset_free(ds);
    /* a model without an MC-dropout layer: a warning */
    char *ecfg = make_config("mc_enet", "enet");
    char erun[1024], nosuch[1024];
    snprintf(erun, sizeof erun, "%s", tpath("%s", "run_mc_enet"));
    snprintf(nosuch, sizeof nosuch, "%s", tpath("%s", "no_such.yaml"));
    remove_tree(erun);
    const char *eargs[] = {ecfg, "--run", erun, "--per-round", "3", "--budget", "6", "--mc-dropout", "2", NULL};
    CHECK(run_cmd("mc", 0, eargs) == 0);
    CHECK(log_has("mc", "no Monte-Carlo dropout layer"));
    /* usage errors */
    const char *b1[] = {ecfg, "--run", erun, "--per-round", "4", "--budget", "10", NULL};
    CHECK(run_cmd("errors", 2, b1) == 2 && log_has("errors", "multiple of --per-round 4"));
    const char *b2[] = {ecfg, "--per-round", "4", NULL};
    CHECK(run_cmd("errors", 2, b2) == 2 && log_has("errors", "--run DIR is required"));
    const char *b3[] = {ecfg, "--run", erun, "--strategy", "confidence", NULL};
    CHECK(run_cmd("errors", 2, b3) == 2 && log_has("errors", "confidence"));
    const char *b4[] = {nosuch, "--run", erun, NULL};
    CHECK(run_cmd("errors", 1, b4) == 1 && log_has("errors", "no_such.yaml"));
    const char *b5[] = {ecfg, "--run", erun, "--set", "data.sparse_labels=x.json", NULL};
    CHECK(run_cmd("errors", 2, b5) == 2 && log_has("errors", "data.sparse_labels"));
    free(cfg);
    free(ecfg);
}

/* --schedule: the pixels per image after each round (3 random, then 2 and 6
 * queried); it may grow on a rerun, but the rounds two schedules share must
 * agree; --per-round/--budget describe the same thing and exclude it */
PIXL_TEST(pixelpick_schedule)
{
    char *cfg = make_config("sched", "enet");
    char run[1024];
    snprintf(run, sizeof run, "%s", tpath("%s", "run_sched"));
    remove_tree(run);
    const char *args[] = {cfg, "--run", run, "--schedule", "3,5,11", NULL};
    CHECK(run_cmd("sched", 0, args) == 0);
    pixl_dataset *ds = NULL;
    int32_t *gt = gt_maps(&ds);
    static const int sched[] = {3, 5, 11, 14};
    pixl_label_store *prev = NULL;
    for (int r = 0; r < 3; r++) {
        pixl_label_store *s = load_store(run, r);
        CHECK_MSG(s != NULL, "round %d: no labels.json", r);
        if (!s) break;
        check_store(s, prev, r, sched[r], gt, ds);
        if (r < 2) check_queries(run, r, sched[r + 1] - sched[r], s, gt, ds);
        char name[64];
        snprintf(name, sizeof name, "round_%02d/round.json", r);
        char *text = file_of(run, name);
        cJSON *j = text ? cJSON_Parse(text) : NULL;
        CHECK(j && cJSON_GetObjectItem(j, "pixels_per_image")->valueint == sched[r]);
        cJSON_Delete(j);
        free(text);
        pixl_label_store_free(prev);
        prev = s;
    }
    /* one more round: the first three are kept, round 2's model asks for 3 more */
    const char *more[] = {cfg, "--run", run, "--schedule", "3,5,11,14", NULL};
    CHECK(run_cmd("sched", 0, more) == 0);
    pixl_label_store *s3 = load_store(run, 3);
    CHECK(s3 != NULL);
    if (s3 && prev) check_store(s3, prev, 3, 14, gt, ds);
    pixl_label_store_free(s3);
    pixl_label_store_free(prev);
    char *summary = file_of(run, "summary.md");
    CHECK(summary && strstr(summary, "| 14 |"));
    free(summary);
    /* a schedule that disagrees on a finished round, or the same run as --per-round */
    const char *other[] = {cfg, "--run", run, "--schedule", "3,6", NULL};
    CHECK(run_cmd("sched_err", 2, other) == 2);
    CHECK(log_has("sched_err", "[3,5,11,14]") && log_has("sched_err", "[3,6]"));
    const char *uniform[] = {cfg, "--run", run, "--per-round", "3", "--budget", "9", NULL};
    CHECK(run_cmd("sched_err", 2, uniform) == 2 && log_has("sched_err", "[3,6,9]"));
    const char *both[] = {cfg, "--run", run, "--schedule", "3,5", "--budget", "9", NULL};
    CHECK(run_cmd("sched_err", 2, both) == 2 && log_has("sched_err", "--schedule and --budget"));
    static const char *const bad[] = {"5,3", "0,4", "3,,5", "3,x", "", "3,5,"};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        const char *b[] = {cfg, "--run", run, "--schedule", bad[k], NULL};
        CHECK_MSG(run_cmd("sched_err", 2, b) == 2, "--schedule '%s' accepted", bad[k]);
    }
    CHECK(log_has("sched_err", "increasing integers"));
    free(gt);
    pixl_dataset_free(ds);
    free(cfg);
}
