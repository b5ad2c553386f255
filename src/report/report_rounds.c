/* report_rounds.c — what `pixl pixelpick` shows of its rounds, made from
 * DIR/summary.json (docs/pixelpick.md, "Rounds"): summary.md (the table of
 * the rounds: pixels per image, labelled pixels, validation mIoU of the
 * last and the best epoch, training minutes), miou.svg (mIoU against the
 * labelled pixels per image, the fully supervised baseline as a flat line)
 * and the HTML page pixl_report_write() writes for such a directory. */
#include <errno.h>
#include <math.h>
#include <sys/stat.h>
#include <time.h>

#include "report/report_impl.h"

typedef struct {
    double round, ppi, labelled, last, best, minutes;
} rounds_row;

typedef struct {
    cJSON *root;
    rounds_row *rows;
    int n;
    int has_full;
    rounds_row full;
    char what[1024];  /* one line: data set, model, strategy, ... */
    char split[64];   /* the split of the mIoU */
} rounds_summary;

static double num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static const char *str(const cJSON *o, const char *key, const char *dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : dflt;
}

static void summary_free(rounds_summary *S)
{
    cJSON_Delete(S->root);
    free(S->rows);
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        pixl_set_error(errno == ENOENT ? PIXL_ERR_NOT_FOUND : PIXL_ERR_IO, "cannot read %s: %s", path,
                       strerror(errno));
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        s = NULL;
    }
    fclose(f);
    if (!s) {
        pixl_set_error(PIXL_ERR_IO, "cannot read %s", path);
        return NULL;
    }
    s[n] = 0;
    return s;
}

static int summary_read(const char *dir, rounds_summary *S)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/summary.json", dir);
    *S = (rounds_summary){0};
    char *text = read_text(path);
    if (!text) return pixl_last_status();
    S->root = cJSON_Parse(text);
    free(text);
    if (!S->root || !cJSON_IsObject(S->root) || strcmp(str(S->root, "format", ""), "pixl-pixelpick"))
        return pixl_set_error(PIXL_ERR_FORMAT, "%s: not a summary of pixl pixelpick (\"format\": \"pixl-pixelpick\")",
                              path);
    const cJSON *rounds = cJSON_GetObjectItemCaseSensitive(S->root, "rounds");
    if (!cJSON_IsArray(rounds)) return pixl_set_error(PIXL_ERR_FORMAT, "%s: \"rounds\" is not an array", path);
    int n = cJSON_GetArraySize(rounds);
    S->rows = calloc((size_t)(n > 0 ? n : 1), sizeof *S->rows);
    if (!S->rows) return PIXL_ERR_NOMEM;
    const cJSON *r;
    cJSON_ArrayForEach(r, rounds)
    {
        if (!cJSON_IsObject(r)) return pixl_set_error(PIXL_ERR_FORMAT, "%s: rounds[%d] is not an object", path, S->n);
        S->rows[S->n++] = (rounds_row){num(r, "round"), num(r, "pixels_per_image"), num(r, "labelled_pixels"),
                                       num(r, "val_miou_last"), num(r, "val_miou_best"), num(r, "train_minutes")};
    }
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(S->root, "full");
    if (cJSON_IsObject(f)) {
        S->has_full = 1;
        S->full = (rounds_row){NAN, NAN, NAN, num(f, "val_miou_last"), num(f, "val_miou_best"), num(f, "train_minutes")};
    }
    snprintf(S->split, sizeof S->split, "%s", str(S->root, "metric_split", "val"));
    const int warm = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(S->root, "warm_start"));
    const double mc = num(S->root, "mc_dropout");
    char mcs[64] = "";
    if (mc > 0) snprintf(mcs, sizeof mcs, ", MC dropout %g passes (%s)", mc, str(S->root, "mc_vote", "?"));
    snprintf(S->what, sizeof S->what,
             "%s, %s; %s queries (%s %g), %g pixels per image a round up to %g; queries by the %s-epoch model%s; "
             "labels from %s; training.epochs %g per round, %s; %g training images; mIoU on the %s split",
             str(S->root, "dataset", "?"), str(S->root, "arch", "?"), str(S->root, "strategy", "?"),
             str(S->root, "selection", "?"), num(S->root, "top_fraction"), num(S->root, "per_round"),
             num(S->root, "budget"), str(S->root, "query_model", "?"), mcs,
             strcmp(str(S->root, "oracle", "gt"), "human") ? "the ground truth" : "a person",
             num(S->root, "epochs_per_round"), warm ? "each starting from the previous round's model"
                                                   : "each from a fresh initialisation",
             num(S->root, "train_images"), S->split);
    return PIXL_OK;
}

static const char *fmt(char *buf, size_t n, double v, const char *f)
{
    if (isfinite(v)) snprintf(buf, n, f, v);
    else snprintf(buf, n, "—");
    return buf;
}

/* the chart: mIoU (%) against pixels per image */
static void rounds_chart(FILE *o, const rounds_summary *S, int standalone)
{
    double *xy = malloc(sizeof(double) * (size_t)(S->n > 0 ? S->n : 1) * 3);
    static const double none = NAN;
    double fx[2] = {NAN, NAN}, fy[2] = {NAN, NAN};
    int n = xy ? S->n : 0;
    for (int i = 0; i < n; i++) {
        xy[i] = S->rows[i].ppi;
        xy[n + i] = S->rows[i].last;
        xy[2 * n + i] = S->rows[i].best;
        fx[0] = i == 0 ? xy[i] : fmin(fx[0], xy[i]);
        fx[1] = i == 0 ? xy[i] : fmax(fx[1], xy[i]);
    }
    pixl__series s[3];
    int ns = 0;
    char ylabel[96], title[160];
    snprintf(ylabel, sizeof ylabel, "%s mIoU (%%)", S->split);
    snprintf(title, sizeof title, "PixelPick rounds");
    s[ns++] = (pixl__series){.x = n ? xy : &none, .y = n ? xy + n : &none, .stride = 1, .n = n, .yscale = 100,
                             .colour = "#3b6fb6", .label = "last epoch", .markers = 1, .best = -1};
    s[ns++] = (pixl__series){.x = n ? xy : &none, .y = n ? xy + 2 * n : &none, .stride = 1, .n = n, .yscale = 100,
                             .colour = "#d2691e", .label = "best epoch", .markers = 1, .best = -1};
    if (S->has_full && isfinite(S->full.last) && n > 0) {
        fy[0] = fy[1] = S->full.last;
        if (!(fx[1] > fx[0])) fx[1] = fx[0] + 1;
        s[ns++] = (pixl__series){.x = fx, .y = fy, .stride = 1, .n = 2, .yscale = 100, .colour = "#6b7280",
                                 .label = "full labels", .markers = 0, .best = -1};
    }
    if (standalone)
        pixl__chart_svg(o, title, "labelled pixels per image", ylabel, s, ns, 1, 0, 100, "no round finished yet");
    else
        pixl__chart(o, title, "labelled pixels per image", ylabel, s, ns, 1, 0, 100, "no round finished yet");
    free(xy);
}

static int write_md(FILE *o, const char *dir, const rounds_summary *S)
{
    char a[64], b[64], c[64], d[64], e[64], f[64];
    fprintf(o, "# PixelPick rounds: %s\n\n%s.\n\n", dir, S->what);
    fprintf(o, "| round | pixels per image | labelled pixels | %s mIoU, last epoch (%%) | %s mIoU, best epoch (%%) | "
               "training minutes |\n|---:|---:|---:|---:|---:|---:|\n",
            S->split, S->split);
    for (int i = 0; i < S->n; i++) {
        const rounds_row *r = &S->rows[i];
        fprintf(o, "| %s | %s | %s | %s | %s | %s |\n", fmt(a, sizeof a, r->round, "%.0f"),
                fmt(b, sizeof b, r->ppi, "%.0f"), fmt(c, sizeof c, r->labelled, "%.0f"),
                fmt(d, sizeof d, 100 * r->last, "%.2f"), fmt(e, sizeof e, 100 * r->best, "%.2f"),
                fmt(f, sizeof f, r->minutes, "%.1f"));
    }
    if (S->has_full)
        fprintf(o, "| full | all | all | %s | %s | %s |\n", fmt(d, sizeof d, 100 * S->full.last, "%.2f"),
                fmt(e, sizeof e, 100 * S->full.best, "%.2f"), fmt(a, sizeof a, S->full.minutes, "%.1f"));
    fputs("\n![mIoU against labelled pixels per image](miou.svg)\n\n"
          "The best epoch is chosen on the same split whose mIoU it shows (an optimistic number); the last\n"
          "epoch's model is the one PixelPick queries with. Each round's training run is round_RR/train\n"
          "(`pixl report DIR/round_RR/train` for its curves).\n",
          o);
    return ferror(o) ? pixl_set_error(PIXL_ERR_IO, "writing %s/summary.md failed", dir) : PIXL_OK;
}

static int write_atomic(const char *path, int (*fn)(FILE *, const char *, const rounds_summary *), const char *dir,
                        const rounds_summary *S)
{
    pixl_atomic_file *af = pixl_atomic_begin(path);
    if (!af) return pixl_last_status();
    int rc = fn(pixl_atomic_stream(af), dir, S);
    if (rc) pixl_atomic_abort(af);
    else rc = pixl_atomic_commit(af);
    return rc;
}

static int write_svg(FILE *o, const char *dir, const rounds_summary *S)
{
    rounds_chart(o, S, 1);
    return ferror(o) ? pixl_set_error(PIXL_ERR_IO, "writing %s/miou.svg failed", dir) : PIXL_OK;
}

int pixl_report_rounds(const char *dir)
{
    if (!dir) return pixl_set_error(PIXL_ERR_ARG, "pixl_report_rounds: dir is NULL");
    if (strlen(dir) > 4000) return pixl_set_error(PIXL_ERR_ARG, "pixl_report_rounds: path too long");
    rounds_summary S;
    int rc = summary_read(dir, &S);
    char path[4200];
    if (!rc) rc = write_atomic((snprintf(path, sizeof path, "%s/summary.md", dir), path), write_md, dir, &S);
    if (!rc) rc = write_atomic((snprintf(path, sizeof path, "%s/miou.svg", dir), path), write_svg, dir, &S);
    summary_free(&S);
    return rc;
}

int pixl__report_rounds_is_dir(const char *dir)
{
    char a[4200], b[4200];
    struct stat st;
    snprintf(a, sizeof a, "%s/summary.json", dir);
    snprintf(b, sizeof b, "%s/log.jsonl", dir);
    return stat(a, &st) == 0 && stat(b, &st) != 0;
}

static int write_page(FILE *o, const char *dir, const rounds_summary *S)
{
    char when[64], a[64], b[64], c[64], d[64], e[64], f[64];
    time_t now = time(NULL);
    struct tm tmv;
    strftime(when, sizeof when, "%Y-%m-%d %H:%M", localtime_r(&now, &tmv));
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>pixl PixelPick rounds: ",
          o);
    pixl__esc(o, dir);
    fputs("</title>\n", o);
    pixl__report_css(o);
    fputs("</head><body><main>\n<h1>PixelPick rounds</h1>\n<p class=\"sub\">", o);
    pixl__esc(o, dir);
    fprintf(o, " · generated %s by pixl %s</p>\n<p>", when, pixl_version());
    pixl__esc(o, S->what);
    fputs(".</p>\n<h2>Rounds</h2>\n<table class=\"cls\"><tr><th class=\"n\">round</th><th>pixels per image</th>"
          "<th>labelled pixels</th>",
          o);
    fprintf(o, "<th>%s mIoU, last epoch</th><th>%s mIoU, best epoch</th><th>training minutes</th><th class=\"n\">"
               "run directory</th></tr>\n",
            S->split, S->split);
    for (int i = 0; i < S->n; i++) {
        const rounds_row *r = &S->rows[i];
        fprintf(o, "<tr><td class=\"n\">%s</td><td>%s</td><td>%s</td><td>%s %%</td><td>%s %%</td><td>%s</td>"
                   "<td class=\"n\">round_%02d/train</td></tr>\n",
                fmt(a, sizeof a, r->round, "%.0f"), fmt(b, sizeof b, r->ppi, "%.0f"),
                fmt(c, sizeof c, r->labelled, "%.0f"), fmt(d, sizeof d, 100 * r->last, "%.2f"),
                fmt(e, sizeof e, 100 * r->best, "%.2f"), fmt(f, sizeof f, r->minutes, "%.1f"),
                isfinite(r->round) ? (int)r->round : 0);
    }
    if (S->has_full)
        fprintf(o, "<tr><td class=\"n\">full</td><td>all</td><td>all</td><td>%s %%</td><td>%s %%</td><td>%s</td>"
                   "<td class=\"n\">full/train</td></tr>\n",
                fmt(d, sizeof d, 100 * S->full.last, "%.2f"), fmt(e, sizeof e, 100 * S->full.best, "%.2f"),
                fmt(a, sizeof a, S->full.minutes, "%.1f"));
    fputs("</table>\n<h2>mIoU against labelled pixels</h2>\n<div class=\"grid2\">\n", o);
    rounds_chart(o, S, 0);
    fputs("</div>\n", o);
    pixl__note(o, "The best epoch is chosen on the split whose mIoU it shows, an optimistic number; the last "
                  "epoch's model is the one PixelPick queries with. pixl report DIR/round_RR/train makes the "
                  "page of one round's training.");
    fputs("<footer>A self-contained page: every chart is inline SVG.</footer>\n</main></body></html>\n", o);
    return ferror(o) ? pixl_set_error(PIXL_ERR_IO, "writing the page of %s failed", dir) : PIXL_OK;
}

int pixl__report_rounds_page(const char *dir, const char *out_html)
{
    rounds_summary S;
    int rc = summary_read(dir, &S);
    char path[4200];
    if (out_html) snprintf(path, sizeof path, "%s", out_html);
    else snprintf(path, sizeof path, "%s/report.html", dir);
    if (!rc) rc = write_atomic(path, write_page, dir, &S);
    summary_free(&S);
    return rc;
}
