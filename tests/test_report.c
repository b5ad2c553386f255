/* test_report.c — `pixl report` (tools/cmd_report.c) on small fake run
 * directories: a full run (config.yaml for the synthetic set, a log.jsonl
 * written by hand with a NaN, a resume and a null IoU, a U-Net checkpoint)
 * gives one self-contained HTML page with charts, class names, the
 * confusion matrix and decodable inline PNGs; degraded runs (one log line,
 * no config, no checkpoint) still give a page; bad input (missing folder,
 * missing log, corrupt line, bad options) fails with the file and line
 * named and leaves no page behind. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "pixl_train.h"

int cmd_report(int argc, char **argv); /* tools/cmd_report.c */

static const char *const g_names[5] = {"background", "disc", "rectangle", "triangle", "ring"};

static char *path_join(char *buf, size_t n, const char *dir, const char *name)
{
    snprintf(buf, n, "%s/%s", dir, name);
    return buf;
}

static int write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fputs(text, f);
    return fclose(f);
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        s = NULL;
    }
    if (s) s[n] = 0;
    fclose(f);
    return s;
}

static int count_of(const char *s, const char *needle)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

static char *make_dir(const char *name)
{
    static char buf[8][512];
    static int k;
    char *d = buf[k++ & 7];
    snprintf(d, 512, "%s/%s", pixl_test_tmpdir(), name);
    mkdir(d, 0755);
    return d;
}

/* a val record with the metrics of a 5-class confusion matrix */
static void val_line(FILE *f, int step, int epoch, double minutes, const int64_t cm[25], int best)
{
    pixl_confusion *c = pixl_confusion_new(5, PIXL_IGNORE_LABEL);
    pixl_confusion_set_counts(c, cm);
    char *js = pixl_metrics_json(c, g_names, 1);
    fprintf(f, "{\"type\":\"val\",\"step\":%d,\"epoch\":%d,\"minutes\":%.4f,\"train_loss\":0.5,\"best\":%s,"
               "\"metrics\":%s}\n",
            step, epoch, minutes, best ? "true" : "false", js ? js : "null");
    free(js);
    pixl_confusion_free(c);
}

static void train_line(FILE *f, int step, int epoch, double minutes, const char *loss, double lr)
{
    fprintf(f, "{\"type\":\"train\",\"step\":%d,\"epoch\":%d,\"minutes\":%.4f,\"loss\":%s,\"lr\":%g,"
               "\"img_per_s\":%.1f,\"loader_wait\":0.05,\"loader_capacity_img_per_s\":400}\n",
            step, epoch, minutes, loss, lr, 100.0 + step);
}

/* config.yaml for the synthetic set at 32x32 */
static void write_config(const char *dir)
{
    pixl_train_config *cfg = calloc(1, sizeof *cfg);
    char p[1024];
    CHECK_OK(pixl_config_defaults(cfg));
    CHECK_OK(pixl_config_set(cfg, "model.arch", "unet"));
    CHECK_OK(pixl_config_set(cfg, "model.options.width", "0.25"));
    CHECK_OK(pixl_config_set(cfg, "data.dataset", "synthetic"));
    CHECK_OK(pixl_config_set(cfg, "data.img_rows", "32"));
    CHECK_OK(pixl_config_set(cfg, "data.img_cols", "32"));
    CHECK_OK(pixl_config_set(cfg, "training.epochs", "2"));
    CHECK_OK(pixl_config_set(cfg, "output.run_dir", dir));
    CHECK_OK(pixl_config_validate(cfg));
    CHECK_OK(pixl_config_save(cfg, path_join(p, sizeof p, dir, "config.yaml")));
    free(cfg);
}

static void write_checkpoint(const char *dir, const char *name)
{
    static const uint8_t colours[15] = {40, 40, 40, 230, 25, 75, 60, 180, 75, 255, 225, 25, 0, 130, 200};
    pixl_model *m = pixl_model_create("unet", &(pixl_model_opts){.n_classes = 5, .width = 0.25f}, 7);
    CHECK(m != NULL);
    if (!m) return;
    CHECK_OK(pixl_model_set_classes(m, g_names, colours));
    const char *k[] = {"val_miou", "step", "minutes"}, *v[] = {"0.41", "40", "0.2"};
    char p[1024];
    CHECK_OK(pixl_model_save(m, path_join(p, sizeof p, dir, name), 3, k, v));
    pixl_model_free(m);
}

/* cmd_report with stderr captured into *err (malloc'ed) */
static int run_report(int argc, const char **args, char **err)
{
    char *argv[16];
    for (int i = 0; i < argc && i < 15; i++) argv[i] = (char *)args[i];
    argv[argc] = NULL;
    char ep[600];
    snprintf(ep, sizeof ep, "%s/stderr.txt", pixl_test_tmpdir());
    fflush(stderr);
    int saved = dup(2), fd = open(ep, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) dup2(fd, 2);
    int rc = cmd_report(argc, argv);
    fflush(stderr);
    if (saved >= 0) dup2(saved, 2);
    if (saved >= 0) close(saved);
    if (fd >= 0) close(fd);
    fflush(stdout);
    if (err) *err = read_text(ep);
    return rc;
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* decode the first 8 bytes after `p` (base64) */
static void b64_head(const char *p, unsigned char out[8])
{
    uint32_t acc = 0;
    int bits = 0, n = 0;
    for (; *p && n < 8; p++) {
        int v = b64_value(*p);
        if (v < 0) break;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (unsigned char)(acc >> bits);
        }
    }
}

static void no_temp_files(const char *dir)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "ls %s | grep -q '\\.tmp\\.'", dir);
    CHECK_MSG(system(cmd) != 0, "a temporary file was left in %s", dir);
}

PIXL_TEST(report_full_run)
{
    const char *dir = make_dir("run_full");
    char p[1024], *err = NULL;
    write_config(dir);
    write_checkpoint(dir, "best.safetensors");
    FILE *f = fopen(path_join(p, sizeof p, dir, "log.jsonl"), "w");
    CHECK(f != NULL);
    if (!f) return;
    const int64_t cm1[25] = {900, 10, 5, 5, 0, 40, 30, 0, 0, 0, 50, 0, 20, 0, 0, 30, 0, 0, 10, 0, 0, 0, 0, 0, 0};
    const int64_t cm2[25] = {950, 5, 5, 0, 0, 10, 60, 0, 0, 0, 10, 0, 60, 0, 0, 5, 0, 0, 35, 0, 0, 0, 0, 0, 0};
    train_line(f, 20, 0, 0.05, "1.2", 0.003);
    train_line(f, 40, 1, 0.10, "nan", 0.0025); /* printf's NaN: read as a gap in the curve */
    val_line(f, 40, 2, 0.11, cm1, 1);
    train_line(f, 60, 2, 0.15, "0.8", 0.002);
    /* a resumed run logs from step 40 again: the old 60 is replaced */
    train_line(f, 60, 2, 0.16, "0.7", 0.002);
    train_line(f, 80, 3, 0.20, "0.6", 0.0015);
    val_line(f, 80, 4, 0.21, cm2, 1);
    fputs("\n{\"type\":\"note\",\"text\":\"other record types are ignored\"}\n", f);
    fclose(f);

    const char *args[] = {"report", dir};
    int rc = run_report(2, args, &err);
    CHECK_MSG(rc == 0, "pixl report failed: %s", err ? err : "");
    free(err);
    char *html = read_text(path_join(p, sizeof p, dir, "report.html"));
    CHECK(html != NULL);
    if (!html) return;
    CHECK(!strncmp(html, "<!DOCTYPE html>", 15));
    CHECK(strstr(html, "</html>") != NULL);
    CHECK(count_of(html, "<svg") >= 4);
    for (int k = 0; k < 5; k++) CHECK_MSG(strstr(html, g_names[k]) != NULL, "class %s missing", g_names[k]);
    CHECK(strstr(html, "Confusion matrix") != NULL);
    CHECK(strstr(html, "unet") != NULL);
    CHECK(strstr(html, "synthetic") != NULL);
    /* best val record: step 80; IoU of "disc" there = 60/(70+65-60) = 80.00 % */
    CHECK(strstr(html, "step 80") != NULL);
    CHECK(strstr(html, "80.00") != NULL);
    /* the "ring" class is absent: its IoU is undefined */
    CHECK(strstr(html, "—") != NULL);
    /* 4 samples x (input, ground truth, prediction) */
    CHECK_MSG(count_of(html, "data:image/png;base64,") == 12, "%d inline PNGs",
              count_of(html, "data:image/png;base64,"));
    const char *b = strstr(html, "data:image/png;base64,");
    if (b) {
        unsigned char head[8] = {0};
        b64_head(b + strlen("data:image/png;base64,"), head);
        CHECK(!memcmp(head, "\x89PNG\r\n\x1a\n", 8));
    }
    CHECK(strstr(html, "http://") == NULL);
    CHECK(strstr(html, "https://") == NULL);
    CHECK(strstr(html, "<script") == NULL);
    CHECK(strstr(html, ">nan") == NULL && strstr(html, ">-nan") == NULL);
    free(html);
    no_temp_files(dir);
}

PIXL_TEST(report_options)
{
    const char *dir = make_dir("run_opts");
    char p[1024], out[1024];
    write_config(dir);
    write_checkpoint(dir, "last.safetensors"); /* no best: the last checkpoint is used */
    FILE *f = fopen(path_join(p, sizeof p, dir, "log.jsonl"), "w");
    if (!f) return;
    train_line(f, 10, 0, 0.01, "1.0", 0.001);
    fclose(f);
    snprintf(out, sizeof out, "%s/custom.html", pixl_test_tmpdir());
    const char *args[] = {"report", dir, "--out", out, "--samples", "1"};
    CHECK(run_report(6, args, NULL) == 0);
    char *html = read_text(out);
    CHECK(html != NULL);
    if (html) {
        CHECK(count_of(html, "data:image/png;base64,") == 3);
        CHECK(strstr(html, "last.safetensors") != NULL);
        CHECK(strstr(html, "no validation records") != NULL);
    }
    free(html);
    CHECK(access(path_join(p, sizeof p, dir, "report.html"), F_OK) != 0);
    const char *args0[] = {"report", dir, "--out", out, "--samples", "0"};
    CHECK(run_report(6, args0, NULL) == 0);
    html = read_text(out);
    if (html) CHECK(strstr(html, "data:image/png;base64,") == NULL);
    free(html);
}

/* one train line, nothing else: the page says what is missing */
PIXL_TEST(report_degraded_run)
{
    const char *dir = make_dir("run_min");
    char p[1024], *err = NULL;
    write_text(path_join(p, sizeof p, dir, "log.jsonl"), "{\"type\":\"train\",\"step\":1,\"loss\":2.5,\"lr\":0.01}");
    const char *args[] = {"report", dir};
    int rc = run_report(2, args, &err);
    CHECK_MSG(rc == 0, "pixl report failed: %s", err ? err : "");
    free(err);
    char *html = read_text(path_join(p, sizeof p, dir, "report.html"));
    CHECK(html != NULL);
    if (html) {
        CHECK(strstr(html, "<svg") != NULL);
        CHECK(strstr(html, "<circle") != NULL); /* the single point is drawn */
        CHECK(strstr(html, "No predictions") != NULL);
        CHECK(strstr(html, "No validation record") != NULL);
        CHECK(strstr(html, "config.yaml") != NULL);
        CHECK(strstr(html, "data:image/png;base64,") == NULL);
        CHECK(strstr(html, "http://") == NULL && strstr(html, "https://") == NULL);
    }
    free(html);
    /* an empty log and an unknown data set: still a page */
    write_text(path_join(p, sizeof p, dir, "log.jsonl"), "");
    write_checkpoint(dir, "best.safetensors");
    write_text(path_join(p, sizeof p, dir, "config.yaml"), "data:\n  dataset: nosuchkind\n");
    CHECK(run_report(2, args, NULL) == 0);
    html = read_text(path_join(p, sizeof p, dir, "report.html"));
    if (html) CHECK(strstr(html, "No predictions") != NULL);
    free(html);
    /* a corrupt checkpoint */
    write_text(path_join(p, sizeof p, dir, "best.safetensors"), "garbage");
    CHECK(run_report(2, args, NULL) == 0);
    html = read_text(path_join(p, sizeof p, dir, "report.html"));
    if (html) CHECK(strstr(html, "No predictions") != NULL);
    free(html);
    /* a half-written last line (a run still logging) is skipped */
    write_text(path_join(p, sizeof p, dir, "log.jsonl"), "{\"type\":\"train\",\"step\":1,\"loss\":2.5}\n{\"type\":\"tr");
    CHECK(run_report(2, args, NULL) == 0);
    no_temp_files(dir);
}

PIXL_TEST(report_errors)
{
    char p[1024], *err = NULL;
    /* no such folder */
    char missing[600];
    snprintf(missing, sizeof missing, "%s/no_such_run", pixl_test_tmpdir());
    const char *a1[] = {"report", missing};
    CHECK(run_report(2, a1, &err) == 1);
    CHECK(err && strstr(err, "no_such_run"));
    free(err);
    /* no log.jsonl */
    const char *dir = make_dir("run_nolog");
    const char *a2[] = {"report", dir};
    CHECK(run_report(2, a2, &err) == 1);
    CHECK(err && strstr(err, "log.jsonl"));
    free(err);
    /* a corrupt line: named with its number, no page written */
    write_text(path_join(p, sizeof p, dir, "log.jsonl"),
               "{\"type\":\"train\",\"step\":1,\"loss\":2.5}\n\n{\"type\":\"train\",\"step\":2,\"loss\":}\n"
               "{\"type\":\"train\",\"step\":3,\"loss\":2}\n");
    CHECK(run_report(2, a2, &err) == 1);
    CHECK_MSG(err && strstr(err, "log.jsonl:3"), "message: %s", err ? err : "");
    free(err);
    CHECK(access(path_join(p, sizeof p, dir, "report.html"), F_OK) != 0);
    no_temp_files(dir);
    /* not an object */
    write_text(path_join(p, sizeof p, dir, "log.jsonl"), "[1, 2]\n");
    CHECK(run_report(2, a2, &err) == 1);
    CHECK(err && strstr(err, "log.jsonl:1"));
    free(err);
    /* a NUL byte inside a line, named with the line */
    {
        FILE *f = fopen(path_join(p, sizeof p, dir, "log.jsonl"), "wb");
        CHECK(f != NULL);
        if (f) {
            static const char nul[] = "{\"type\":\"train\",\"step\":1,\"loss\":2.5}\n{\"type\":\0\"train\"}\n";
            fwrite(nul, 1, sizeof nul - 1, f);
            fclose(f);
        }
        CHECK(run_report(2, a2, &err) == 1);
        CHECK_MSG(err && strstr(err, "log.jsonl:2: NUL byte"), "message: %s", err ? err : "");
        free(err);
    }
    /* a line of 65 MiB: refused before the reader holds more than its 64 MiB limit */
    {
        FILE *f = fopen(path_join(p, sizeof p, dir, "log.jsonl"), "wb");
        CHECK(f != NULL);
        if (f) {
            char *big = malloc(1 << 20);
            CHECK(big != NULL);
            if (big) {
                memset(big, ' ', 1 << 20);
                fputs("{\"type\":\"train\",\"step\":1,\"loss\":2.5}\n", f);
                for (int i = 0; i < 65; i++) fwrite(big, 1, 1 << 20, f);
                fputs("{}\n", f);
                free(big);
            }
            fclose(f);
        }
        CHECK(run_report(2, a2, &err) == 1);
        CHECK_MSG(err && strstr(err, "log.jsonl:2: a line longer than 64 MiB"), "message: %s", err ? err : "");
        free(err);
    }
    /* usage errors */
    const char *a3[] = {"report"};
    CHECK(run_report(1, a3, NULL) == 2);
    const char *a4[] = {"report", dir, "--samples", "-3"};
    CHECK(run_report(4, a4, NULL) == 2);
    const char *a5[] = {"report", dir, "--bogus"};
    CHECK(run_report(3, a5, NULL) == 2);
    /* an output folder that does not exist */
    write_text(path_join(p, sizeof p, dir, "log.jsonl"), "{\"type\":\"train\",\"step\":1,\"loss\":2.5}\n");
    char badout[700];
    snprintf(badout, sizeof badout, "%s/no/such/dir/r.html", pixl_test_tmpdir());
    const char *a6[] = {"report", dir, "--out", badout};
    CHECK(run_report(4, a6, &err) == 1);
    CHECK(err && strstr(err, "no/such/dir"));
    free(err);
}

/* ------------------------------------------------ edge and normal runs */

/* a short real training run into dir; kv: "key=value" overrides */
static int short_run(const char *dir, const char *const *kv, int n)
{
    pixl_train_config *cfg = calloc(1, sizeof *cfg);
    CHECK_OK(pixl_config_defaults(cfg));
    CHECK_CONFIG_SET(cfg, kv, n);
    snprintf(cfg->output.run_dir, sizeof cfg->output.run_dir, "%s", dir);
    FILE *devnull = fopen("/dev/null", "w");
    pixl_train_hooks h = {.log = devnull, .quiet = 1};
    int rc = pixl_train(cfg, &h);
    CHECK_MSG(rc == 0, "training failed: %s", pixl_last_error());
    if (devnull) fclose(devnull);
    free(cfg);
    return rc;
}

static int b64_decode(const char *p, uint8_t **out, size_t *n)
{
    size_t len = 0;
    while (b64_value(p[len]) >= 0) len++;
    uint8_t *o = malloc(len * 3 / 4 + 4);
    if (!o) return -1;
    uint32_t acc = 0;
    int bits = 0;
    size_t k = 0;
    for (size_t i = 0; i < len; i++) {
        acc = acc << 6 | (uint32_t)b64_value(p[i]);
        bits += 6;
        if (bits >= 8) bits -= 8, o[k++] = (uint8_t)(acc >> bits);
    }
    *out = o, *n = k;
    return 0;
}

/* decode every inline PNG of the page; returns how many decoded, *bad those that did not */
static int decode_images(const char *html, int *bad)
{
    static const char tag[] = "data:image/png;base64,";
    int good = 0;
    *bad = 0;
    for (const char *p = strstr(html, tag); p; p = strstr(p + 1, tag)) {
        uint8_t *buf = NULL;
        size_t n = 0;
        pixl_image *im = NULL;
        if (!b64_decode(p + strlen(tag), &buf, &n)) im = pixl_image_decode(buf, n, 0, 8);
        if (im && im->width > 0 && im->height > 0) good++;
        else (*bad)++;
        pixl_image_free(im);
        free(buf);
    }
    return good;
}

/* `pixl report DIR --samples N`, then the page's text (NULL after a failed check) */
static char *report_of(const char *dir, const char *samples)
{
    char p[1024], *err = NULL;
    const char *args[] = {"report", dir, "--samples", samples};
    int rc = run_report(4, args, &err);
    CHECK_MSG(rc == 0, "pixl report failed: %s", err ? err : "");
    free(err);
    char *html = rc ? NULL : read_text(path_join(p, sizeof p, dir, "report.html"));
    CHECK(rc || html != NULL);
    return html;
}

PIXL_TEST(report_normals_run)
{
    const char *dir = make_dir("run_normals");
    static const char *const kv[] = {
        "model.arch=pixelnet", "model.options.backbone=pixelnet_tiny", "model.options.mlp=[32, 32]",
        "data.dataset=synthetic_normals", "data.img_rows=32", "data.img_cols=32", "data.n_workers=0",
        "training.loss.name=normal", "training.sampling.pixels_per_image=200", "training.batch_size=2",
        "training.epochs=0", "training.max_iters=6", "validation.every_epochs=0", "validation.every_minutes=0.0001",
        "validation.limit=2"};
    if (short_run(dir, kv, (int)(sizeof kv / sizeof *kv))) return;
    char *html = report_of(dir, "3");
    if (!html) return;
    CHECK(strstr(html, "best val mean angle") != NULL);
    CHECK(strstr(html, "Angular error vs step") != NULL);
    CHECK(strstr(html, "Within an angle vs step") != NULL);
    CHECK(strstr(html, "within_11_25") == NULL); /* labels, not keys */
    CHECK(strstr(html, "&lt; 11.25°") != NULL && strstr(html, "&lt; 30°") != NULL);
    CHECK(count_of(html, "<svg") >= 9); /* 8 charts and the colour bar */
    CHECK(count_of(html, "<polyline") >= 5);
    CHECK(strstr(html, "angular error (degrees)") != NULL);
    CHECK(strstr(html, "Confusion matrix") == NULL);
    /* 3 samples x (image, true normals, predicted normals, error) */
    CHECK_MSG(count_of(html, "data:image/png;base64,") == 12, "%d inline PNGs", count_of(html, "data:image/png;base64,"));
    CHECK(count_of(html, "alt=\"angular error\"") == 3 && count_of(html, "alt=\"predicted normals\"") == 3);
    int bad, good = decode_images(html, &bad);
    CHECK_MSG(good == 12 && bad == 0, "%d images decoded, %d not", good, bad);
    CHECK(strstr(html, "http://") == NULL && strstr(html, "https://") == NULL && strstr(html, "<script") == NULL);
    CHECK(strstr(html, ">nan") == NULL && strstr(html, ">-nan") == NULL);
    free(html);
    no_temp_files(dir);
}

#define BSDS_ROOT "../shared/datasets/bsds500"

PIXL_TEST(report_edges_run)
{
    if (access(BSDS_ROOT "/images/val", F_OK)) {
        printf("skip: %s not found\n", BSDS_ROOT);
        return;
    }
    const char *dir = make_dir("run_edges");
    static const char *const kv[] = {
        "model.arch=pixelnet", "model.options.backbone=pixelnet_tiny", "model.options.mlp=[32, 32]",
        "data.dataset=bsds500", "data.root=" BSDS_ROOT, "data.crop=[64, 64]", "data.n_workers=0",
        "training.loss.name=balanced_bce", "training.sampling.strategy=edge_balanced",
        "training.sampling.pixels_per_image=200", "training.batch_size=2", "training.epochs=0", "training.max_iters=2",
        "validation.every_epochs=0", "validation.every_minutes=0.0001", "validation.limit=2",
        "validation.edge_thresholds=9", "validation.batch_size=1"};
    if (short_run(dir, kv, (int)(sizeof kv / sizeof *kv))) return;
    char *html = report_of(dir, "2");
    if (!html) return;
    CHECK(strstr(html, "best val ODS F") != NULL);
    CHECK(strstr(html, "OIS F") != NULL && strstr(html, ">AP<") != NULL);
    CHECK(strstr(html, "Precision-recall curve") != NULL);
    CHECK_MSG(strstr(html, "No precision-recall curve") == NULL, "%s", strstr(html, "No precision-recall curve"));
    CHECK(strstr(html, "on the first 2 validation images with 9 thresholds") != NULL);
    /* the PR curve: a polyline in its colour with a point per threshold that predicted pixels */
    const char *prfig = strstr(html, "aria-label=\"Precision-recall\"");
    const char *pr = prfig ? strstr(prfig, "stroke=\"#c0504d\" stroke-width=\"1.8\" stroke-linejoin=\"round\" points=\"") : NULL;
    CHECK(prfig != NULL && pr != NULL && pr < strstr(prfig, "</svg>"));
    /* the page's benchmark of best.safetensors on the validation images reproduces the logged best ODS F */
    const char *mine = strstr(html, "thresholds (as the run's validation): ODS F ");
    const char *logged = strstr(html, "The best validation record");
    logged = logged ? strstr(logged, "logged ODS F ") : NULL;
    CHECK(mine != NULL && logged != NULL);
    if (mine && logged) {
        double a = atof(mine + strlen("thresholds (as the run's validation): ODS F ")), b = atof(logged + strlen("logged ODS F "));
        CHECK_MSG(a == b && a > 0, "the page's ODS F %.4f, the log's %.4f", a, b);
    }
    CHECK(strstr(html, ">recall<") != NULL && strstr(html, ">precision<") != NULL);
    CHECK(count_of(html, "stroke=\"#dfe4ea\"") == 9); /* the iso-F lines */
    CHECK(strstr(html, ">ODS F 0.") != NULL);           /* the ODS point */
    CHECK(strstr(html, "Per-class results") == NULL);
    /* 2 samples x (image, ground truth, probability, edges at ODS) */
    CHECK_MSG(count_of(html, "data:image/png;base64,") == 8, "%d inline PNGs", count_of(html, "data:image/png;base64,"));
    CHECK(count_of(html, "alt=\"boundary probability\"") == 2);
    int bad, good = decode_images(html, &bad);
    CHECK_MSG(good == 8 && bad == 0, "%d images decoded, %d not", good, bad);
    CHECK(strstr(html, "http://") == NULL && strstr(html, "https://") == NULL && strstr(html, "<script") == NULL);
    free(html);
    /* without the data set: still a page, the curve's absence explained */
    char cfgp[1100];
    path_join(cfgp, sizeof cfgp, dir, "config.yaml");
    char *cfg = read_text(cfgp);
    if (cfg) {
        char *r = strstr(cfg, BSDS_ROOT);
        if (r) memcpy(r, "../shared/datasets/nonexis", strlen(BSDS_ROOT)); /* same length */
        write_text(cfgp, cfg);
        free(cfg);
        html = report_of(dir, "2");
        if (html) CHECK(strstr(html, "No predictions") != NULL || strstr(html, "No precision-recall curve") != NULL);
        free(html);
    }
}
