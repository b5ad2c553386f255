/* cmd_report.c — `pixl report RUN_DIR [--out FILE] [--samples N]`: one
 * self-contained HTML page about a training run (no external URLs, no
 * JavaScript): a header from config.yaml, log.jsonl and the checkpoint's
 * metadata; inline-SVG curves (training loss and learning rate vs step,
 * validation mIoU / pixel accuracy vs step and vs minutes, throughput); the
 * per-class IoU table and the row-normalised confusion matrix of the best
 * validation record; and sample predictions of best.safetensors on the
 * first N validation images (input | ground truth | prediction, inline
 * base64 PNGs).
 *
 * Input handling
 *   - A missing run directory, a missing/unreadable log.jsonl or a complete
 *     log line that is not JSON are errors (file and line named, exit 1).
 *     A last line without its newline (a run still writing) is skipped with
 *     a note. Bare nan/inf tokens are read as null.
 *   - When a resumed run re-logs steps (log.jsonl is appended to), records
 *     at or after the step where the log jumps back are replaced by the
 *     newer ones, so curves never zigzag.
 *   - A missing or unreadable config.yaml, checkpoint or data set only
 *     leaves a note in the page where the section would be.
 *   - The page is written to FILE.tmp.XXXXXX, fsync'd and renamed over FILE. */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pixl.h"

int cmd_report(int argc, char **argv);

#define MAX_SAMPLES 64
#define SAMPLE_MAX_W 320 /* wider images are shown downscaled */

/* ------------------------------------------------------------------ log */
typedef struct {
    double step, epoch, minutes, loss, lr, ips, wait;
} train_rec;

typedef struct {
    double step, epoch, minutes, train_loss, miou, acc, macc;
    double line;   /* 1-based line in log.jsonl */
    double offset; /* byte offset of the line, to read its metrics again */
} val_rec;

typedef struct {
    train_rec *tr;
    int ntr, ctr;
    val_rec *va;
    int nva, cva;
    int partial_last; /* skipped an unterminated last line */
    int no_step;      /* train/val records without a numeric step (skipped) */
    int replaced;     /* records dropped because a resumed run logged them again */
} run_log;

static double jnum(const cJSON *o, const char *key)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(it) ? it->valuedouble : NAN;
}

/* Copy of s with bare nan/inf/infinity tokens (any case, optional sign)
 * outside strings replaced by null: C's printf writes them for non-finite
 * numbers, JSON has no word for them. */
static char *nan_to_null(const char *s)
{
    size_t n = strlen(s);
    char *out = malloc(n + 1 + n / 2 + 8), *o = out;
    if (!out) return NULL;
    int in_str = 0;
    for (size_t i = 0; i < n;) {
        char c = s[i];
        if (in_str) {
            *o++ = c;
            if (c == '\\' && i + 1 < n) *o++ = s[++i];
            else if (c == '"') in_str = 0;
            i++;
            continue;
        }
        if (c == '"') {
            in_str = 1;
            *o++ = c;
            i++;
            continue;
        }
        size_t j = i + ((c == '-' || c == '+') ? 1 : 0);
        size_t len = 0;
        if (!strncasecmp(s + j, "infinity", 8)) len = 8;
        else if (!strncasecmp(s + j, "inf", 3) || !strncasecmp(s + j, "nan", 3)) len = 3;
        int word_before = i > 0 && (isalnum((unsigned char)s[i - 1]) || s[i - 1] == '_' || s[i - 1] == '.');
        if (len && !word_before && !isalnum((unsigned char)s[j + len])) {
            memcpy(o, "null", 4);
            o += 4;
            i = j + len;
            const char *close = s[i] == '(' ? strchr(s + i, ')') : NULL; /* glibc's "nan(0x...)" */
            if (close) i = (size_t)(close - s) + 1;
            continue;
        }
        *o++ = c;
        i++;
    }
    *o = 0;
    return out;
}

/* Parse one log line; NULL when it is not a JSON object. */
static cJSON *parse_line(const char *line)
{
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithOpts(line, &end, 1);
    if (!j) {
        char *fixed = nan_to_null(line);
        if (fixed) j = cJSON_ParseWithOpts(fixed, &end, 1);
        free(fixed);
    }
    if (j && !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        j = NULL;
    }
    return j;
}

/* A resumed run appends records for steps it logged before: drop the
 * earlier records from `step` on. */
static void drop_from(run_log *L, double step)
{
    int n = 0;
    for (int i = 0; i < L->ntr; i++)
        if (L->tr[i].step < step) L->tr[n++] = L->tr[i];
    L->replaced += L->ntr - n;
    L->ntr = n;
    n = 0;
    for (int i = 0; i < L->nva; i++)
        if (L->va[i].step < step) L->va[n++] = L->va[i];
    L->replaced += L->nva - n;
    L->nva = n;
}

/* 0 on success; on failure a message naming the file (and line) is printed. */
static int read_log(const char *path, run_log *L)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "pixl report: %s: %s\n", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long lineno = 0, offset = 0;
    int rc = 0;
    while ((len = getline(&line, &cap, f)) > 0) {
        long here = offset;
        offset += (long)len;
        lineno++;
        int terminated = line[len - 1] == '\n';
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        const char *p = line;
        while (*p == ' ' || *p == '\t') p++;
        if (!*p) continue;
        if (strlen(p) != (size_t)(len - (p - line))) {
            fprintf(stderr, "pixl report: %s:%ld: NUL byte in the line\n", path, lineno);
            rc = -1;
            break;
        }
        cJSON *j = parse_line(p);
        if (!j) {
            if (!terminated) { /* the last line of a run still writing */
                L->partial_last = 1;
                break;
            }
            fprintf(stderr, "pixl report: %s:%ld: not a JSON object: %.60s%s\n", path, lineno, p,
                    strlen(p) > 60 ? "..." : "");
            rc = -1;
            break;
        }
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(j, "type");
        const char *t = cJSON_IsString(type) ? type->valuestring : "";
        int is_train = !strcmp(t, "train"), is_val = !strcmp(t, "val");
        double step = jnum(j, "step");
        if ((is_train || is_val) && !isfinite(step)) {
            L->no_step++;
        } else if (is_train) {
            if (L->ntr && step <= L->tr[L->ntr - 1].step) drop_from(L, step);
            if (L->ntr == L->ctr) {
                int nc = L->ctr ? 2 * L->ctr : 256;
                train_rec *nt = realloc(L->tr, sizeof *nt * (size_t)nc);
                if (!nt) {
                    cJSON_Delete(j);
                    fprintf(stderr, "pixl report: out of memory\n");
                    rc = -1;
                    break;
                }
                L->tr = nt;
                L->ctr = nc;
            }
            L->tr[L->ntr++] = (train_rec){step, jnum(j, "epoch"), jnum(j, "minutes"), jnum(j, "loss"),
                                          jnum(j, "lr"), jnum(j, "img_per_s"), jnum(j, "loader_wait")};
        } else if (is_val) {
            if (L->nva && step <= L->va[L->nva - 1].step) drop_from(L, step);
            if (L->nva == L->cva) {
                int nc = L->cva ? 2 * L->cva : 64;
                val_rec *nv = realloc(L->va, sizeof *nv * (size_t)nc);
                if (!nv) {
                    cJSON_Delete(j);
                    fprintf(stderr, "pixl report: out of memory\n");
                    rc = -1;
                    break;
                }
                L->va = nv;
                L->cva = nc;
            }
            const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "metrics");
            L->va[L->nva++] = (val_rec){step,
                                        jnum(j, "epoch"),
                                        jnum(j, "minutes"),
                                        jnum(j, "train_loss"),
                                        jnum(m, "mean_iou"),
                                        jnum(m, "overall_acc"),
                                        jnum(m, "mean_acc"),
                                        (double)lineno,
                                        (double)here};
        }
        cJSON_Delete(j);
    }
    if (!rc && ferror(f)) {
        fprintf(stderr, "pixl report: %s: read error\n", path);
        rc = -1;
    }
    free(line);
    fclose(f);
    return rc;
}

/* The metrics object of the val record at `offset` (the root is returned in *root). */
static const cJSON *read_metrics(const char *path, double offset, cJSON **root)
{
    *root = NULL;
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    char *line = NULL;
    size_t cap = 0;
    if (!fseek(f, (long)offset, SEEK_SET) && getline(&line, &cap, f) > 0) *root = parse_line(line);
    free(line);
    fclose(f);
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(*root, "metrics");
    return cJSON_IsObject(m) ? m : NULL;
}

/* ------------------------------------------------------------ HTML output */
static void esc(FILE *o, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", o); break;
        case '<': fputs("&lt;", o); break;
        case '>': fputs("&gt;", o); break;
        case '"': fputs("&quot;", o); break;
        case '\'': fputs("&#39;", o); break;
        default:
            if ((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t') fputc('?', o);
            else fputc(*s, o);
        }
    }
}

static void note(FILE *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(FILE *o, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fputs("<p class=\"note\">", o);
    esc(o, buf);
    fputs("</p>\n", o);
}

static void b64(FILE *o, const unsigned char *p, size_t n)
{
    static const char T[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char q[4];
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n) v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n) v |= p[i + 2];
        q[0] = T[v >> 18 & 63];
        q[1] = T[v >> 12 & 63];
        q[2] = i + 1 < n ? T[v >> 6 & 63] : '=';
        q[3] = i + 2 < n ? T[v & 63] : '=';
        fwrite(q, 1, 4, o);
    }
}

/* "12.34" for a fraction, "—" when undefined */
static const char *pct(char *buf, size_t n, double v, int digits)
{
    if (!isfinite(v)) snprintf(buf, n, "—");
    else snprintf(buf, n, "%.*f", digits, 100 * v);
    return buf;
}

static const char *fmt_minutes(char *buf, size_t n, double m)
{
    if (!isfinite(m)) snprintf(buf, n, "—");
    else if (m < 1) snprintf(buf, n, "%.0f s", m * 60);
    else if (m < 60) snprintf(buf, n, "%.1f min", m);
    else snprintf(buf, n, "%d h %02d min", (int)(m / 60), (int)fmod(m, 60));
    return buf;
}

static const char *fmt_count(char *buf, size_t n, double v)
{
    if (!isfinite(v)) snprintf(buf, n, "—");
    else if (fabs(v) >= 1e9) snprintf(buf, n, "%.2f G", v / 1e9);
    else if (fabs(v) >= 1e6) snprintf(buf, n, "%.2f M", v / 1e6);
    else if (fabs(v) >= 1e4) snprintf(buf, n, "%.1f k", v / 1e3);
    else snprintf(buf, n, "%.0f", v);
    return buf;
}

/* ------------------------------------------------------------ SVG charts */
typedef struct {
    const double *x, *y; /* strided arrays (stride in doubles) */
    int stride, n;
    double yscale;       /* multiply y (100 for percentages) */
    const char *colour, *label;
    int markers;         /* circles with tooltips at every point */
    int best;            /* index to highlight, -1 none */
} series;

#define SX(s, i) ((s)->x[(size_t)(i) * (s)->stride])
#define SY(s, i) ((s)->y[(size_t)(i) * (s)->stride] * (s)->yscale)

static double nice_step(double range, int target)
{
    double raw = range / target;
    if (!(raw > 0) || !isfinite(raw)) return 1;
    double p = pow(10, floor(log10(raw))), f = raw / p;
    return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * p;
}

static void fmt_tick(char *buf, size_t n, double v, double st)
{
    if (fabs(v) < st * 1e-6) v = 0;
    if (fabs(v) >= 1e6 || st < 1e-4) snprintf(buf, n, "%.3g", v);
    else snprintf(buf, n, "%.*f", st >= 1 ? 0 : (int)ceil(-log10(st) - 1e-9), v);
}

/* nice axis [a, b] with tick step *st covering [lo, hi] */
static void axis(double lo, double hi, double clamp_lo, double clamp_hi, double *a, double *b, double *st)
{
    if (!(hi > lo)) {
        double d = fabs(lo) > 0 ? fabs(lo) * 0.1 : 1;
        lo -= d;
        hi += d;
    }
    *st = nice_step(hi - lo, 5);
    *a = floor(lo / *st + 1e-9) * *st;
    *b = ceil(hi / *st - 1e-9) * *st;
    if (*a < clamp_lo) *a = clamp_lo;
    if (*b > clamp_hi) *b = clamp_hi;
    if (!(*b > *a)) *b = *a + *st;
}

enum { CW = 600, CH = 300, ML = 66, MR = 18, MT = 38, MB = 46 };

/* A line chart of ns series; x_int: x is a count (ticks at integers). */
static void chart(FILE *o, const char *title, const char *xlabel, const char *ylabel, const series *S, int ns,
                  int x_int, double ylo_clamp, double yhi_clamp, const char *empty_msg)
{
    const double pw = CW - ML - MR, ph = CH - MT - MB;
    double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
    int any = 0;
    for (int k = 0; k < ns; k++)
        for (int i = 0; i < S[k].n; i++) {
            double x = SX(&S[k], i), y = SY(&S[k], i);
            if (!isfinite(x) || !isfinite(y)) continue;
            any = 1;
            xmin = fmin(xmin, x), xmax = fmax(xmax, x);
            ymin = fmin(ymin, y), ymax = fmax(ymax, y);
        }
    fprintf(o, "<figure class=\"chart\"><svg viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"",
            CW, CH);
    esc(o, title);
    fprintf(o, "\">\n<text x=\"%d\" y=\"22\" class=\"ct\">", ML);
    esc(o, title);
    fputs("</text>\n", o);
    /* legend */
    if (any && (ns > 1 || (ns == 1 && S[0].label))) {
        double lx = CW - MR;
        for (int k = ns - 1; k >= 0; k--) {
            const char *lab = S[k].label ? S[k].label : "";
            double w = 7.0 * (double)strlen(lab) + 22;
            lx -= w;
            fprintf(o, "<rect x=\"%.1f\" y=\"14\" width=\"12\" height=\"4\" fill=\"%s\"/><text x=\"%.1f\" y=\"20\" "
                       "class=\"lg\">",
                    lx, S[k].colour, lx + 16);
            esc(o, lab);
            fputs("</text>\n", o);
        }
    }
    fprintf(o, "<rect x=\"%d\" y=\"%d\" width=\"%.0f\" height=\"%.0f\" class=\"frame\"/>\n", ML, MT, pw, ph);
    if (!any) {
        fprintf(o, "<text x=\"%.1f\" y=\"%.1f\" class=\"empty\" text-anchor=\"middle\">", ML + pw / 2, MT + ph / 2);
        esc(o, empty_msg ? empty_msg : "no data");
        fputs("</text></svg></figure>\n", o);
        return;
    }
    double xa, xb, xs, ya, yb, ys;
    axis(xmin, xmax, xmin >= 0 ? 0 : -INFINITY, INFINITY, &xa, &xb, &xs);
    if (x_int && xs < 1) { /* whole steps only */
        xs = 1;
        xa = floor(xmin);
        xb = ceil(xmax);
        if (xb - xa < 2) xa -= 1, xb += 1;
        if (xmin >= 0 && xa < 0) xb -= xa, xa = 0;
    }
    axis(ymin, ymax, ylo_clamp, yhi_clamp, &ya, &yb, &ys);
#define PX(v) (ML + ((v) - xa) / (xb - xa) * pw)
#define PY(v) (MT + ph - ((v) - ya) / (yb - ya) * ph)
    char tb[64];
    /* grid and tick labels */
    for (int i = 0; i < 60; i++) {
        double v = ceil(ya / ys - 1e-9) * ys + i * ys;
        if (v > yb + ys * 1e-6) break;
        fmt_tick(tb, sizeof tb, v, ys);
        fprintf(o, "<line x1=\"%d\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>"
                   "<text x=\"%d\" y=\"%.1f\" class=\"tk\" text-anchor=\"end\">%s</text>\n",
                ML, ML + pw, PY(v), PY(v), ML - 6, PY(v) + 4, tb);
    }
    for (int i = 0; i < 60; i++) {
        double v = ceil(xa / xs - 1e-9) * xs + i * xs;
        if (v > xb + xs * 1e-6) break;
        fmt_tick(tb, sizeof tb, v, xs);
        fprintf(o, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%.1f\" class=\"grid\"/>"
                   "<text x=\"%.1f\" y=\"%.1f\" class=\"tk\" text-anchor=\"middle\">%s</text>\n",
                PX(v), PX(v), MT, MT + ph, PX(v), MT + ph + 16, tb);
    }
    fprintf(o, "<text x=\"%.1f\" y=\"%d\" class=\"al\" text-anchor=\"middle\">", ML + pw / 2, CH - 8);
    esc(o, xlabel);
    fprintf(o, "</text>\n<text transform=\"translate(16 %.1f) rotate(-90)\" class=\"al\" text-anchor=\"middle\">",
            MT + ph / 2);
    esc(o, ylabel);
    fputs("</text>\n", o);
    /* data: one polyline per run of finite points */
    fputs("<g>\n", o);
    for (int k = 0; k < ns; k++) {
        const series *s = &S[k];
        int i = 0;
        while (i < s->n) {
            while (i < s->n && !(isfinite(SX(s, i)) && isfinite(SY(s, i)))) i++;
            int j = i;
            while (j < s->n && isfinite(SX(s, j)) && isfinite(SY(s, j))) j++;
            if (j - i >= 2) {
                fprintf(o, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.8\" stroke-linejoin=\"round\" "
                           "points=\"",
                        s->colour);
                for (int q = i; q < j; q++) fprintf(o, "%.1f,%.1f ", PX(SX(s, q)), PY(SY(s, q)));
                fputs("\"/>\n", o);
            }
            for (int q = i; q < j; q++)
                if (s->markers || j - i == 1) {
                    fmt_tick(tb, sizeof tb, SY(s, q), ys / 100);
                    fprintf(o, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"><title>%s: %s at %s %g</title>"
                               "</circle>\n",
                            PX(SX(s, q)), PY(SY(s, q)), s->colour, s->label ? s->label : ylabel, tb, xlabel,
                            SX(s, q));
                }
            i = j;
        }
        if (s->best >= 0 && s->best < s->n && isfinite(SX(s, s->best)) && isfinite(SY(s, s->best))) {
            double bx = PX(SX(s, s->best)), by = PY(SY(s, s->best));
            fprintf(o, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"7\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"/>"
                       "<text x=\"%.1f\" y=\"%.1f\" class=\"best\" text-anchor=\"%s\">best %.1f</text>\n",
                    bx, by, s->colour, bx + (bx > ML + pw * 0.8 ? -10 : 10), by + (by < MT + 20 ? 18 : -10),
                    bx > ML + pw * 0.8 ? "end" : "start", SY(s, s->best));
        }
    }
    fputs("</g></svg></figure>\n", o);
#undef PX
#undef PY
}

/* ------------------------------------------------------------ the report */
typedef struct {
    const char *dir;
    char log_path[4200], cfg_path[4200], ckpt_path[4200];
    const char *ckpt_name; /* "best.safetensors" / "last.safetensors" / NULL */
    run_log L;
    int best;              /* index into L.va of the best mIoU, -1 none */
    pixl_train_config *cfg;
    char cfg_err[4400];
    pixl_model *model;
    char model_err[4400];
    pixl_st_file *st;      /* metadata of the checkpoint */
    int K;                 /* classes (best val record, else the model) */
    char **names;          /* K class names */
    uint8_t *colours;      /* K RGB triples */
    int nsamples;
    char tmpdir[256];      /* for PNG encoding */
} report;

static const char *meta(const report *R, const char *key)
{
    return R->st ? pixl_st_meta(R->st, key) : NULL;
}

static void default_colour(int k, uint8_t *c) /* PASCAL VOC's bit-interleaved colour map */
{
    c[0] = c[1] = c[2] = 0;
    for (int b = 7, v = k; b >= 0 && v; b--, v >>= 3) {
        c[0] |= (uint8_t)(((v >> 0) & 1) << b);
        c[1] |= (uint8_t)(((v >> 1) & 1) << b);
        c[2] |= (uint8_t)(((v >> 2) & 1) << b);
    }
}

/* class names/colours: the model's, else the checkpoint's metadata, else defaults */
static int set_classes(report *R, int K, const cJSON *class_iou)
{
    R->K = K;
    R->names = calloc((size_t)K, sizeof *R->names);
    R->colours = calloc((size_t)K, 3);
    if (!R->names || !R->colours) return -1;
    const cJSON *it = class_iou ? class_iou->child : NULL;
    for (int k = 0; k < K; k++) {
        const char *nm = NULL;
        if (R->model && pixl_model_n_classes(R->model) == K) nm = pixl_model_class_name(R->model, k);
        if ((!nm || !*nm) && it && it->string) nm = it->string;
        char num[32];
        snprintf(num, sizeof num, "%d", k);
        R->names[k] = strdup(nm && *nm ? nm : num);
        if (!R->names[k]) return -1;
        if (it) it = it->next;
        default_colour(k, R->colours + 3 * k);
    }
    if (R->model && pixl_model_n_classes(R->model) == K && pixl_model_colours(R->model))
        memcpy(R->colours, pixl_model_colours(R->model), (size_t)K * 3);
    return 0;
}

static void swatch(FILE *o, const uint8_t *c)
{
    fprintf(o, "<span class=\"sw\" style=\"background:rgb(%d,%d,%d)\"></span>", c[0], c[1], c[2]);
}

static void css(FILE *o)
{
    fputs("<style>\n"
          "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;color:#1d2430;"
          "background:#f4f6f9;margin:0}\n"
          "main{max-width:1240px;margin:0 auto;padding:18px 20px 40px}\n"
          "h1{font-size:24px;margin:4px 0 2px}h2{font-size:18px;margin:28px 0 10px;border-bottom:1px solid #d5dbe3;"
          "padding-bottom:4px}\n"
          ".sub{color:#5c6778;margin:0 0 14px;word-break:break-all}\n"
          ".cards{display:grid;grid-template-columns:repeat(4,1fr);gap:12px}\n"
          ".card{background:#fff;border:1px solid #dde3ea;border-radius:8px;padding:10px 14px}\n"
          ".card .v{font-size:24px;font-weight:600}.card .k{color:#5c6778;font-size:12px;text-transform:uppercase;"
          "letter-spacing:.04em}.card .d{color:#5c6778;font-size:12px}\n"
          "table{border-collapse:collapse}\n"
          "table.kv{background:#fff;border:1px solid #dde3ea;border-radius:8px;width:100%}\n"
          "table.kv th{text-align:left;width:170px;color:#5c6778;font-weight:500;vertical-align:top}\n"
          "table.kv th,table.kv td{padding:5px 12px;border-bottom:1px solid #eef1f5}\n"
          ".grid2{display:grid;grid-template-columns:1fr 1fr;gap:12px}\n"
          "figure.chart{margin:0;background:#fff;border:1px solid #dde3ea;border-radius:8px;padding:4px}\n"
          "figure.chart svg{width:100%;height:auto;display:block}\n"
          "svg .ct{font-size:15px;font-weight:600;fill:#1d2430}svg .lg{font-size:12px;fill:#3a4556}\n"
          "svg .tk{font-size:11px;fill:#5c6778}svg .al{font-size:12px;fill:#3a4556}\n"
          "svg .grid{stroke:#e6eaf0;stroke-width:1}svg .frame{fill:none;stroke:#b8c1cc;stroke-width:1}\n"
          "svg .empty{font-size:14px;fill:#8a94a3}svg .best{font-size:11px;font-weight:600;fill:#1d2430}\n"
          "table.cls{background:#fff;border:1px solid #dde3ea}\n"
          "table.cls th,table.cls td{padding:4px 10px;border-bottom:1px solid #eef1f5;text-align:right}\n"
          "table.cls th{background:#eef1f5;font-weight:600}table.cls td.n,table.cls th.n{text-align:left}\n"
          "table.cls tr.mean td{font-weight:600;border-top:2px solid #d5dbe3}\n"
          ".bar{display:inline-block;height:10px;background:#3b6fb6;border-radius:2px;vertical-align:middle}\n"
          "table.cls td.barbox,table.cls th.barbox{width:160px;text-align:left}\n"
          ".sw{display:inline-block;width:12px;height:12px;border:1px solid #0003;border-radius:2px;"
          "vertical-align:-1px;margin-right:6px}\n"
          ".cmwrap{overflow-x:auto;background:#fff;border:1px solid #dde3ea;border-radius:8px;padding:10px}\n"
          "table.cm td{min-width:40px;height:26px;text-align:center;font-size:11px;border:1px solid #fff;background:#fff;"
          "font-variant-numeric:tabular-nums}\n"
          "table.cm td.diag{outline:2px solid #1d2430;outline-offset:-2px}\n"
          "table.cm th{font-weight:normal;font-size:12px;white-space:nowrap}\n"
          "table.cm th.c{writing-mode:vertical-rl;transform:rotate(180deg);text-align:left;padding:4px 0;"
          "vertical-align:bottom}\n"
          "table.cm th.r{text-align:right;padding-right:8px}\n"
          "table.cm td.tot{color:#5c6778;text-align:right;padding-left:8px;background:#fff}\n"
          "table.cm th.corner{text-align:right;vertical-align:bottom;color:#5c6778;font-size:11px;padding:4px 8px}\n"
          "table.cm.dense td{min-width:9px;height:9px;font-size:0}table.cm.dense th{font-size:9px}\n"
          "table.cm.dense td.diag{outline-width:1px;outline-offset:-1px}\n"
          ".legend{margin:6px 0 10px}.legend span.it{margin-right:14px;white-space:nowrap}\n"
          "table.smp{background:#fff;border:1px solid #dde3ea}\n"
          "table.smp td,table.smp th{padding:6px 10px;text-align:center;vertical-align:middle}\n"
          ".smpwrap{overflow-x:auto}table.smp td.meta{max-width:140px;word-break:break-all}\n"
          "table.smp th{background:#eef1f5}table.smp td.meta{text-align:left;font-size:12px;color:#3a4556}\n"
          "img.px{image-rendering:pixelated;image-rendering:crisp-edges;display:block}\n"
          ".note{background:#fff8e1;border:1px solid #f0d98a;border-radius:6px;padding:8px 12px;color:#5d4a00}\n"
          "details{background:#fff;border:1px solid #dde3ea;border-radius:8px;padding:8px 12px;margin-top:10px}\n"
          "pre{font-size:12px;overflow-x:auto}footer{color:#8a94a3;font-size:12px;margin-top:30px}\n"
          "</style>\n",
          o);
}

static void card(FILE *o, const char *k, const char *v, const char *d)
{
    fputs("<div class=\"card\"><div class=\"k\">", o);
    esc(o, k);
    fputs("</div><div class=\"v\">", o);
    esc(o, v);
    fputs("</div><div class=\"d\">", o);
    esc(o, d);
    fputs("</div></div>\n", o);
}

static void kv_row(FILE *o, const char *k, const char *v)
{
    fputs("<tr><th>", o);
    esc(o, k);
    fputs("</th><td>", o);
    esc(o, v);
    fputs("</td></tr>\n", o);
}

static const char *cfg_str(const report *R, const char *key, char *buf, size_t n)
{
    if (!R->cfg || pixl_config_get(R->cfg, key, buf, n)) snprintf(buf, n, "—");
    return buf;
}

static void header(FILE *o, const report *R)
{
    const run_log *L = &R->L;
    char b1[2600], b2[600], b3[64], b4[64], b5[64];
    const val_rec *best = R->best >= 0 ? &L->va[R->best] : NULL;
    const val_rec *last_val = L->nva ? &L->va[L->nva - 1] : NULL;
    /* last logged position */
    double step = NAN, epoch = NAN, minutes = NAN;
    if (L->ntr) step = L->tr[L->ntr - 1].step, epoch = L->tr[L->ntr - 1].epoch, minutes = L->tr[L->ntr - 1].minutes;
    if (last_val && !(last_val->step < step)) {
        step = last_val->step;
        epoch = last_val->epoch;
        if (!(last_val->minutes < minutes)) minutes = last_val->minutes;
    }
    double params = R->model ? (double)pixl_params_total(pixl_model_params(R->model)) : NAN;

    fputs("<div class=\"cards\">\n", o);
    if (best) {
        snprintf(b1, sizeof b1, "%s %%", pct(b5, sizeof b5, best->miou, 2));
        snprintf(b2, sizeof b2, "at step %.0f, epoch %.0f, %s", best->step, best->epoch,
                 fmt_minutes(b3, sizeof b3, best->minutes));
        card(o, "best val mIoU", b1, b2);
        snprintf(b1, sizeof b1, "%s %%", pct(b5, sizeof b5, best->acc, 2));
        snprintf(b2, sizeof b2, "mean class acc %s %%", pct(b5, sizeof b5, best->macc, 2));
        card(o, "pixel accuracy (best)", b1, b2);
    } else {
        card(o, "best val mIoU", "—", L->nva ? "no defined mIoU in the val records" : "no validation records");
        card(o, "pixel accuracy", "—", "");
    }
    snprintf(b1, sizeof b1, "%s", fmt_minutes(b3, sizeof b3, minutes));
    if (isfinite(step)) snprintf(b2, sizeof b2, "%.0f steps, epoch %.0f", step, epoch);
    else snprintf(b2, sizeof b2, "no training records");
    card(o, "training time", b1, b2);
    snprintf(b2, sizeof b2, "%s", R->model ? pixl_model_arch(R->model) : meta(R, "arch") ? meta(R, "arch") : "");
    card(o, "parameters", fmt_count(b1, sizeof b1, params), b2);
    fputs("</div>\n", o);

    fputs("<h2>Run</h2>\n<table class=\"kv\">\n", o);
    /* model */
    const char *arch = R->model ? pixl_model_arch(R->model) : meta(R, "arch");
    if (!arch && R->cfg) arch = R->cfg->model.arch;
    {
        char w[64] = "", ins[64] = "";
        if (R->model) {
            const pixl_model_opts *mo = pixl_model_options(R->model);
            snprintf(w, sizeof w, ", width %g%s%s", mo->width, mo->variant ? ", variant " : "",
                     mo->variant ? mo->variant : "");
        }
        const char *is = meta(R, "input_size");
        if (is && strcmp(is, "0,0")) snprintf(ins, sizeof ins, ", input size %s", is);
        char nk[32] = "";
        if (R->K > 0) snprintf(nk, sizeof nk, ", %d classes", R->K);
        snprintf(b1, sizeof b1, "%s%s%s%s", arch ? arch : "—", w, nk, ins);
        kv_row(o, "model", b1);
    }
    if (isfinite(params)) {
        snprintf(b1, sizeof b1, "%.0f trainable (%s)", params, fmt_count(b2, sizeof b2, params));
        kv_row(o, "parameters", b1);
    }
    if (R->cfg) {
        const pixl_train_config *c = R->cfg;
        snprintf(b1, sizeof b1, "%s%s%s, splits %s / %s", c->data.dataset, c->data.root[0] ? " at " : "",
                 c->data.root, c->data.train_split, c->data.val_split);
        if (c->data.img_rows > 0 && c->data.img_cols > 0)
            snprintf(b1 + strlen(b1), sizeof b1 - strlen(b1), ", images %dx%d", c->data.img_cols, c->data.img_rows);
        kv_row(o, "data set", b1);
        snprintf(b1, sizeof b1, "%s, lr %s, %s schedule, batch %d, weight decay %s",
                 cfg_str(R, "training.optimizer.name", b2, sizeof b2), cfg_str(R, "training.optimizer.lr", b3, sizeof b3),
                 cfg_str(R, "training.lr_schedule.name", b4, sizeof b4), c->training.batch_size,
                 cfg_str(R, "training.optimizer.weight_decay", b5, sizeof b5));
        kv_row(o, "optimization", b1);
    } else {
        kv_row(o, "config.yaml", R->cfg_err);
    }
    {
        double ips = 0, wait = 0;
        int n = 0, nw = 0;
        for (int i = 0; i < L->ntr; i++) {
            if (isfinite(L->tr[i].ips)) ips += L->tr[i].ips, n++;
            if (isfinite(L->tr[i].wait)) wait += L->tr[i].wait, nw++;
        }
        if (isfinite(step)) {
            snprintf(b1, sizeof b1, "step %.0f, epoch %.0f, %s", step, epoch, fmt_minutes(b2, sizeof b2, minutes));
            if (n) snprintf(b1 + strlen(b1), sizeof b1 - strlen(b1), "; %.1f img/s", ips / n);
            if (nw) snprintf(b1 + strlen(b1), sizeof b1 - strlen(b1), ", loader wait %.0f%%", 100 * wait / nw);
            kv_row(o, "last logged", b1);
        }
    }
    if (best) {
        snprintf(b1, sizeof b1, "mIoU %s %% at step %.0f (epoch %.0f, %s), pixel acc %s %%",
                 pct(b2, sizeof b2, best->miou, 2), best->step, best->epoch, fmt_minutes(b3, sizeof b3, best->minutes),
                 pct(b4, sizeof b4, best->acc, 2));
        kv_row(o, "best validation", b1);
    }
    if (last_val && last_val != best) {
        snprintf(b1, sizeof b1, "mIoU %s %% at step %.0f, pixel acc %s %%", pct(b2, sizeof b2, last_val->miou, 2),
                 last_val->step, pct(b4, sizeof b4, last_val->acc, 2));
        kv_row(o, "last validation", b1);
    }
    snprintf(b1, sizeof b1, "%d training and %d validation records", L->ntr, L->nva);
    if (L->replaced)
        snprintf(b1 + strlen(b1), sizeof b1 - strlen(b1), "; %d earlier records replaced by a resumed run",
                 L->replaced);
    if (L->no_step) snprintf(b1 + strlen(b1), sizeof b1 - strlen(b1), "; %d records without a step skipped", L->no_step);
    if (L->partial_last) snprintf(b1 + strlen(b1), sizeof b1 - strlen(b1), "; an incomplete last line skipped");
    kv_row(o, "log.jsonl", b1);
    if (R->ckpt_name) {
        const char *vm = meta(R, "val_miou"), *st = meta(R, "step");
        snprintf(b1, sizeof b1, "%s", R->ckpt_name);
        if (st) snprintf(b1 + strlen(b1), sizeof b1 - strlen(b1), ", step %s", st);
        if (vm) snprintf(b1 + strlen(b1), sizeof b1 - strlen(b1), ", val mIoU %.2f %%", 100 * atof(vm));
        kv_row(o, "checkpoint", b1);
    } else {
        kv_row(o, "checkpoint", R->model_err);
    }
    fputs("</table>\n", o);
}

static void curves(FILE *o, const report *R)
{
    const run_log *L = &R->L;
    const int ts = sizeof(train_rec) / sizeof(double), vs = sizeof(val_rec) / sizeof(double);
    _Static_assert(sizeof(train_rec) == 7 * sizeof(double), "train_rec is a row of doubles");
    _Static_assert(sizeof(val_rec) == 9 * sizeof(double), "val_rec is a row of doubles");
    const train_rec *t = L->tr;
    const val_rec *v = L->va;
    static const double none = NAN;
    fputs("<h2>Curves</h2>\n<div class=\"grid2\">\n", o);
    series s1 = {t ? &t->step : &none, t ? &t->loss : &none, ts, L->ntr, 1, "#3b6fb6", "train loss", L->ntr <= 40, -1};
    chart(o, "Training loss", "step", "loss (mean over the log interval)", &s1, 1, 1, 0, INFINITY,
          "no training records in log.jsonl");
    series s2 = {t ? &t->step : &none, t ? &t->lr : &none, ts, L->ntr, 1, "#7a4fb0", "learning rate", L->ntr <= 40, -1};
    chart(o, "Learning rate", "step", "learning rate", &s2, 1, 1, 0, INFINITY, "no training records in log.jsonl");
    series s3[2] = {
        {v ? &v->step : &none, v ? &v->miou : &none, vs, L->nva, 100, "#2a9d5c", "mIoU", 1, R->best},
        {v ? &v->step : &none, v ? &v->acc : &none, vs, L->nva, 100, "#c0504d", "pixel acc", 1, -1},
    };
    chart(o, "Validation vs step", "step", "%", s3, 2, 1, 0, 100, "no validation records in log.jsonl");
    series s4[2] = {
        {v ? &v->minutes : &none, v ? &v->miou : &none, vs, L->nva, 100, "#2a9d5c", "mIoU", 1, R->best},
        {v ? &v->minutes : &none, v ? &v->acc : &none, vs, L->nva, 100, "#c0504d", "pixel acc", 1, -1},
    };
    chart(o, "Validation vs wall-clock time", "minutes", "%", s4, 2, 0, 0, 100, "no validation records in log.jsonl");
    series s5 = {t ? &t->step : &none, t ? &t->ips : &none, ts, L->ntr, 1, "#3b6fb6", "img/s", L->ntr <= 40, -1};
    chart(o, "Training throughput", "step", "images / second", &s5, 1, 1, 0, INFINITY,
          "no training records in log.jsonl");
    series s6 = {t ? &t->step : &none, t ? &t->wait : &none, ts, L->ntr, 100, "#8a6d3b", "loader wait",
                 L->ntr <= 40, -1};
    chart(o, "Time spent waiting for data", "step", "% of wall-clock time", &s6, 1, 1, 0, 100,
          "no training records in log.jsonl");
    fputs("</div>\n", o);
}

/* the K x K counts of metrics.confusion, NULL if absent or malformed */
static double *confusion_of(const cJSON *m, int K)
{
    const cJSON *cm = cJSON_GetObjectItemCaseSensitive(m, "confusion");
    if (!cJSON_IsArray(cm) || cJSON_GetArraySize(cm) != K) return NULL;
    double *c = calloc((size_t)K * K, sizeof *c);
    if (!c) return NULL;
    int i = 0;
    for (const cJSON *row = cm->child; row; row = row->next, i++) {
        if (!cJSON_IsArray(row) || cJSON_GetArraySize(row) != K) {
            free(c);
            return NULL;
        }
        int j = 0;
        for (const cJSON *x = row->child; x; x = x->next, j++) {
            if (!cJSON_IsNumber(x) || !(x->valuedouble >= 0)) {
                free(c);
                return NULL;
            }
            c[(size_t)i * K + j] = x->valuedouble;
        }
    }
    return c;
}

static void class_table(FILE *o, const report *R, const cJSON *m, const double *cm)
{
    const val_rec *b = &R->L.va[R->best];
    fprintf(o, "<h2>Per-class results <small>(best validation, step %.0f)</small></h2>\n", b->step);
    const cJSON *iou = cJSON_GetObjectItemCaseSensitive(m, "class_iou");
    const cJSON *acc = cJSON_GetObjectItemCaseSensitive(m, "class_acc");
    fputs("<table class=\"cls\"><tr><th>#</th><th class=\"n\">class</th><th>IoU %</th><th class=\"barbox\"></th>"
          "<th>acc %</th><th>ground-truth pixels</th><th>predicted pixels</th></tr>\n",
          o);
    const cJSON *ii = iou ? iou->child : NULL, *ai = acc ? acc->child : NULL;
    char b1[64], b2[64], b3[64], b4[64];
    for (int k = 0; k < R->K; k++) {
        double u = cJSON_IsNumber(ii) ? ii->valuedouble : NAN, a = cJSON_IsNumber(ai) ? ai->valuedouble : NAN;
        double gt = NAN, pr = NAN;
        if (cm) {
            gt = pr = 0;
            for (int j = 0; j < R->K; j++) gt += cm[(size_t)k * R->K + j], pr += cm[(size_t)j * R->K + k];
        }
        fprintf(o, "<tr><td>%d</td><td class=\"n\">", k);
        swatch(o, R->colours + 3 * k);
        esc(o, R->names[k]);
        fprintf(o, "</td><td>%s</td><td class=\"barbox\"><span class=\"bar\" style=\"width:%.1fpx\"></span></td>"
                   "<td>%s</td><td>%s</td><td>%s</td></tr>\n",
                pct(b1, sizeof b1, u, 2), isfinite(u) ? 160 * fmin(fmax(u, 0), 1) : 0.0, pct(b2, sizeof b2, a, 2),
                isfinite(gt) ? (snprintf(b3, sizeof b3, "%.0f", gt), b3) : "—",
                isfinite(pr) ? (snprintf(b4, sizeof b4, "%.0f", pr), b4) : "—");
        if (ii) ii = ii->next;
        if (ai) ai = ai->next;
    }
    double mi = jnum(m, "mean_iou"), ma = jnum(m, "mean_acc"), px = jnum(m, "pixels");
    fprintf(o, "<tr class=\"mean\"><td></td><td class=\"n\">mean</td><td>%s</td><td class=\"barbox\">"
               "<span class=\"bar\" style=\"width:%.1fpx\"></span></td><td>%s</td><td>%s</td><td></td></tr>\n",
            pct(b1, sizeof b1, mi, 2), isfinite(mi) ? 160 * fmin(fmax(mi, 0), 1) : 0.0, pct(b2, sizeof b2, ma, 2),
            isfinite(px) ? (snprintf(b3, sizeof b3, "%.0f", px), b3) : "");
    fputs("</table>\n", o);
    char fw[64], oa[64];
    fprintf(o, "<p>Overall pixel accuracy %s %%, frequency-weighted IoU %s %%. \"—\": the class is absent from both "
               "ground truth and prediction (IoU) or from the ground truth (acc); means skip those classes.</p>\n",
            pct(oa, sizeof oa, jnum(m, "overall_acc"), 2), pct(fw, sizeof fw, jnum(m, "freq_weighted_iou"), 2));
}

static void heat_colour(double f, int *r, int *g, int *b)
{
    /* white -> #08306b through #6baed6 */
    static const double stops[3][3] = {{255, 255, 255}, {107, 174, 214}, {8, 48, 107}};
    f = fmin(fmax(f, 0), 1);
    int s = f < 0.5 ? 0 : 1;
    double t = f < 0.5 ? f / 0.5 : (f - 0.5) / 0.5;
    *r = (int)lround(stops[s][0] + t * (stops[s + 1][0] - stops[s][0]));
    *g = (int)lround(stops[s][1] + t * (stops[s + 1][1] - stops[s][1]));
    *b = (int)lround(stops[s][2] + t * (stops[s + 1][2] - stops[s][2]));
}

static void confusion_table(FILE *o, const report *R, const double *cm)
{
    int K = R->K, dense = K > 30;
    fputs("<h2>Confusion matrix</h2>\n<p>Rows: ground truth; columns: prediction; each row normalised to 100 % "
          "of its ground-truth pixels (hover a cell for the pixel count). The diagonal is outlined.</p>\n",
          o);
    fprintf(o, "<div class=\"cmwrap\"><table class=\"cm%s\"><tr><th class=\"corner\">truth \\ predicted</th>",
            dense ? " dense" : "");
    for (int j = 0; j < K; j++) {
        fputs("<th class=\"c\">", o);
        esc(o, R->names[j]);
        fputs("</th>", o);
    }
    fputs("<th class=\"c\">pixels</th></tr>\n", o);
    for (int i = 0; i < K; i++) {
        double row = 0;
        for (int j = 0; j < K; j++) row += cm[(size_t)i * K + j];
        fputs("<tr><th class=\"r\">", o);
        swatch(o, R->colours + 3 * i);
        esc(o, R->names[i]);
        fputs("</th>", o);
        for (int j = 0; j < K; j++) {
            double c = cm[(size_t)i * K + j], f = row > 0 ? c / row : 0;
            if (c <= 0) { /* most cells of a big matrix: keep them short */
                fputs(i == j ? "<td class=\"diag\"></td>" : "<td></td>", o);
                continue;
            }
            int r, g, b;
            heat_colour(f, &r, &g, &b);
            fprintf(o, "<td%s style=\"background:rgb(%d,%d,%d);color:%s\" title=\"", i == j ? " class=\"diag\"" : "",
                    r, g, b, f > 0.45 ? "#fff" : "#1d2430");
            esc(o, R->names[i]);
            fputs(" → ", o);
            esc(o, R->names[j]);
            fprintf(o, ": %.0f pixels (%.2f %%)\">", c, 100 * f);
            if (!dense) fprintf(o, f >= 0.0995 ? "%.0f" : "%.1f", 100 * f);
            fputs("</td>", o);
        }
        fprintf(o, "<td class=\"tot\">%.0f</td></tr>\n", row);
    }
    fputs("</table></div>\n", o);
}

/* ----------------------------------------------------------- sample images */
/* <img> of an 8-bit image as an inline base64 PNG; 0 on success */
static int img_tag(FILE *o, const report *R, const pixl_image *img, int disp_w, int disp_h, const char *alt)
{
    char path[400];
    snprintf(path, sizeof path, "%s/img.png", R->tmpdir);
    if (pixl_image_save_png(img, path)) return -1;
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    unsigned char *buf = NULL;
    long n = -1;
    if (!fseek(f, 0, SEEK_END) && (n = ftell(f)) > 0 && !fseek(f, 0, SEEK_SET)) {
        buf = malloc((size_t)n);
        if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) n = -1;
    }
    fclose(f);
    unlink(path);
    if (!buf || n <= 0) {
        free(buf);
        pixl_clear_error();
        return -1;
    }
    fprintf(o, "<img class=\"px\" width=\"%d\" height=\"%d\" alt=\"", disp_w, disp_h);
    esc(o, alt);
    fputs("\" src=\"data:image/png;base64,", o);
    b64(o, buf, (size_t)n);
    fputs("\">", o);
    free(buf);
    return 0;
}

static void samples(FILE *o, report *R)
{
    if (R->nsamples <= 0) return;
    fputs("<h2>Sample predictions</h2>\n", o);
    if (!R->model) {
        note(o, "No predictions: %s", R->model_err);
        return;
    }
    if (!R->cfg) {
        note(o, "No predictions: the data set is unknown (%s).", R->cfg_err);
        return;
    }
    pixl_dataset *ds = pixl_config_open_split(R->cfg, NULL, R->nsamples);
    if (!ds) {
        note(o, "No predictions: cannot open the validation split '%s' of data set '%s': %s", R->cfg->data.val_split,
             R->cfg->data.dataset, pixl_last_error());
        pixl_clear_error();
        return;
    }
    int K = pixl_model_n_classes(R->model);
    if (pixl_dataset_n_classes(ds) != K) {
        note(o, "No predictions: the model has %d classes, data set '%s' %d.", K, R->cfg->data.dataset,
             pixl_dataset_n_classes(ds));
        pixl_dataset_free(ds);
        return;
    }
    snprintf(R->tmpdir, sizeof R->tmpdir, "%s/pixl-report-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (strlen(R->tmpdir) > 200 || !mkdtemp(R->tmpdir)) {
        snprintf(R->tmpdir, sizeof R->tmpdir, "/tmp/pixl-report-XXXXXX");
        if (!mkdtemp(R->tmpdir)) {
            note(o, "No predictions: cannot create a temporary folder: %s", strerror(errno));
            R->tmpdir[0] = 0;
            pixl_dataset_free(ds);
            return;
        }
    }
    /* colours for the label maps: the model's, else the data set's */
    uint8_t *col = malloc((size_t)K * 3);
    if (!col) {
        pixl_dataset_free(ds);
        return;
    }
    memcpy(col, pixl_model_colours(R->model) ? pixl_model_colours(R->model) : pixl_dataset_colours(ds), (size_t)K * 3);
    int n = pixl_dataset_size(ds) < R->nsamples ? pixl_dataset_size(ds) : R->nsamples;
    fprintf(o, "<p>%s on the first %d image%s of the validation split '", R->ckpt_name, n, n == 1 ? "" : "s");
    esc(o, R->cfg->data.val_split);
    fputs("' (ground-truth pixels marked ignore are black).</p>\n<div class=\"legend\">", o);
    for (int k = 0; k < K; k++) {
        fputs("<span class=\"it\">", o);
        swatch(o, col + 3 * k);
        esc(o, pixl_model_class_name(R->model, k) ? pixl_model_class_name(R->model, k) : pixl_dataset_class_name(ds, k));
        fputs("</span>", o);
    }
    fputs("</div>\n<div class=\"smpwrap\"><table class=\"smp\"><tr><th>sample</th><th>input</th><th>ground truth</th>"
          "<th>prediction</th></tr>\n",
          o);
    int shown = 0;
    for (int i = 0; i < n; i++) {
        pixl_image *img = NULL, *small = NULL, *gt = NULL, *pr = NULL;
        int32_t *lab = NULL, *pred = NULL, *slab = NULL, *spred = NULL;
        float *x = NULL;
        char err[1024] = "";
        if (pixl_dataset_load(ds, i, &img, &lab)) {
            snprintf(err, sizeof err, "%s", pixl_last_error());
            goto next;
        }
        int w = img->width, h = img->height;
        x = malloc(sizeof(float) * 3 * (size_t)w * h);
        pred = malloc(sizeof(int32_t) * (size_t)w * h);
        if (!x || !pred) {
            snprintf(err, sizeof err, "out of memory");
            goto next;
        }
        if (pixl_image_to_chw(img, pixl_model_mean(R->model), pixl_model_std(R->model), x) ||
            pixl_model_predict(R->model, x, 1, h, w, 0, NULL, pred)) {
            snprintf(err, sizeof err, "%s", pixl_last_error());
            goto next;
        }
        int64_t good = 0, counted = 0;
        for (int64_t p = 0; p < (int64_t)w * h; p++)
            if (lab[p] >= 0 && lab[p] < K) counted++, good += pred[p] == lab[p];
        /* display size: downscale wide images, magnify tiny ones (pixelated) */
        int sw = w, sh = h;
        if (w > SAMPLE_MAX_W) {
            sw = SAMPLE_MAX_W;
            sh = (int)lround((double)h * SAMPLE_MAX_W / w);
            if (sh < 1) sh = 1;
            small = pixl_image_resize(img, sw, sh);
            slab = pixl_label_resize(lab, w, h, sw, sh);
            spred = pixl_label_resize(pred, w, h, sw, sh);
            if (!small || !slab || !spred) {
                snprintf(err, sizeof err, "%s", pixl_last_error());
                goto next;
            }
        }
        int mag = sw < 180 ? (180 + sw - 1) / sw : 1;
        if (mag > 8) mag = 8;
        int dw = sw * mag, dh = sh * mag;
        gt = pixl_label_colorize(slab ? slab : lab, sw, sh, col, K, NULL, 1.0f);
        pr = pixl_label_colorize(spred ? spred : pred, sw, sh, col, K, NULL, 1.0f);
        if (!gt || !pr) {
            snprintf(err, sizeof err, "%s", pixl_last_error());
            goto next;
        }
        const char *name = pixl_dataset_sample_name(ds, i);
        fputs("<tr><td class=\"meta\">", o);
        esc(o, name ? name : "");
        fprintf(o, "<br>%dx%d", w, h);
        if (counted) fprintf(o, "<br>pixel acc %.1f %%", 100.0 * (double)good / (double)counted);
        fputs("</td><td>", o);
        int bad = img_tag(o, R, small ? small : img, dw, dh, "input");
        fputs("</td><td>", o);
        bad |= img_tag(o, R, gt, dw, dh, "ground truth");
        fputs("</td><td>", o);
        bad |= img_tag(o, R, pr, dw, dh, "prediction");
        if (bad) fputs("<br>(an image could not be encoded)", o);
        fputs("</td></tr>\n", o);
        shown++;
    next:
        if (err[0]) {
            fprintf(o, "<tr><td colspan=\"4\">");
            note(o, "sample %d: %s", i, err);
            fputs("</td></tr>\n", o);
            pixl_clear_error();
        }
        pixl_image_free(img);
        pixl_image_free(small);
        pixl_image_free(gt);
        pixl_image_free(pr);
        free(lab);
        free(pred);
        free(slab);
        free(spred);
        free(x);
    }
    fputs("</table></div>\n", o);
    if (!shown && n == 0) note(o, "The validation split is empty.");
    free(col);
    pixl_dataset_free(ds);
    rmdir(R->tmpdir);
}

static void config_text(FILE *o, const report *R)
{
    FILE *f = fopen(R->cfg_path, "r");
    if (!f) return;
    fputs("<details><summary>config.yaml</summary><pre>", o);
    char buf[4096];
    size_t n, total = 0;
    while ((n = fread(buf, 1, sizeof buf - 1, f)) > 0 && total < (1u << 20)) {
        buf[n] = 0;
        for (size_t i = 0; i < n; i++)
            if (!buf[i]) buf[i] = '?';
        esc(o, buf);
        total += n;
    }
    fclose(f);
    fputs("</pre></details>\n", o);
}

static int write_html(FILE *o, report *R)
{
    const cJSON *m = NULL;
    cJSON *root = NULL;
    double *cm = NULL;
    if (R->best >= 0) m = read_metrics(R->log_path, R->L.va[R->best].offset, &root);
    const cJSON *ciou = cJSON_GetObjectItemCaseSensitive(m, "class_iou");
    int K = cJSON_IsObject(ciou) ? cJSON_GetArraySize(ciou) : 0;
    if (K <= 0 && R->model) K = pixl_model_n_classes(R->model);
    if (K > 0 && set_classes(R, K, cJSON_IsObject(ciou) ? ciou : NULL)) {
        cJSON_Delete(root);
        fprintf(stderr, "pixl report: out of memory\n");
        return -1;
    }
    if (m && K > 0) cm = confusion_of(m, K);

    char when[64];
    time_t now = time(NULL);
    struct tm tmv;
    strftime(when, sizeof when, "%Y-%m-%d %H:%M", localtime_r(&now, &tmv));
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>pixl report: ",
          o);
    esc(o, R->dir);
    fputs("</title>\n", o);
    css(o);
    fputs("</head><body><main>\n<h1>pixl training report</h1>\n<p class=\"sub\">", o);
    esc(o, R->dir);
    fprintf(o, " · generated %s by pixl %s</p>\n", when, pixl_version());
    header(o, R);
    curves(o, R);
    if (!m) {
        fputs("<h2>Per-class results</h2>\n", o);
        note(o, R->L.nva ? "The validation records have no usable metrics."
                         : "No validation record in log.jsonl: no per-class results or confusion matrix.");
    } else {
        class_table(o, R, m, cm);
        if (cm) confusion_table(o, R, cm);
        else {
            fputs("<h2>Confusion matrix</h2>\n", o);
            note(o, "The best validation record has no confusion matrix.");
        }
    }
    samples(o, R);
    config_text(o, R);
    fputs("<footer>A self-contained page: every chart is inline SVG, every image an inline PNG.</footer>\n"
          "</main></body></html>\n",
          o);
    free(cm);
    cJSON_Delete(root);
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: pixl report RUN_DIR [--out FILE] [--samples N]\n"
                    "Writes one self-contained HTML page (default RUN_DIR/report.html) with the run's curves,\n"
                    "per-class IoU, confusion matrix and predictions of best.safetensors on N (default 4)\n"
                    "validation images.\n");
}

static void report_free(report *R)
{
    free(R->L.tr);
    free(R->L.va);
    free(R->cfg);
    pixl_model_free(R->model);
    pixl_st_close(R->st);
    for (int k = 0; R->names && k < R->K; k++) free(R->names[k]);
    free(R->names);
    free(R->colours);
}

int cmd_report(int argc, char **argv)
{
    const char *dir = NULL, *out = NULL;
    int nsamples = 4;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
        else if (!strcmp(argv[i], "--samples") && i + 1 < argc) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end || end == argv[i] || v < 0 || v > MAX_SAMPLES) {
                fprintf(stderr, "pixl report: --samples takes 0..%d, got '%s'\n", MAX_SAMPLES, argv[i]);
                return 2;
            }
            nsamples = (int)v;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage();
            return 0;
        } else if (argv[i][0] != '-' && !dir) dir = argv[i];
        else {
            fprintf(stderr, "pixl report: unexpected argument '%s'\n", argv[i]);
            usage();
            return 2;
        }
    }
    if (!dir) {
        usage();
        return 2;
    }
    struct stat st;
    if (stat(dir, &st)) {
        fprintf(stderr, "pixl report: %s: %s\n", dir, strerror(errno));
        return 1;
    }
    if (!S_ISDIR(st.st_mode)) {
        fprintf(stderr, "pixl report: %s: not a directory\n", dir);
        return 1;
    }
    if (strlen(dir) > 4000 || (out && strlen(out) > 4000)) {
        fprintf(stderr, "pixl report: path too long\n");
        return 1;
    }
    report R = {.dir = dir, .best = -1, .nsamples = nsamples};
    snprintf(R.log_path, sizeof R.log_path, "%s/log.jsonl", dir);
    snprintf(R.cfg_path, sizeof R.cfg_path, "%s/config.yaml", dir);
    if (read_log(R.log_path, &R.L)) {
        report_free(&R);
        return 1;
    }
    for (int i = 0; i < R.L.nva; i++)
        if (isfinite(R.L.va[i].miou) && (R.best < 0 || R.L.va[i].miou > R.L.va[R.best].miou)) R.best = i;

    /* config */
    R.cfg = calloc(1, sizeof *R.cfg);
    if (!R.cfg) {
        report_free(&R);
        return 1;
    }
    if (access(R.cfg_path, F_OK)) {
        snprintf(R.cfg_err, sizeof R.cfg_err, "%s: %s", R.cfg_path, strerror(errno));
        free(R.cfg);
        R.cfg = NULL;
    } else if (pixl_config_load(R.cfg_path, R.cfg)) {
        snprintf(R.cfg_err, sizeof R.cfg_err, "%s", pixl_last_error());
        free(R.cfg);
        R.cfg = NULL;
        pixl_clear_error();
    }

    /* checkpoint: best, else last */
    static const char *const ckpts[] = {"best.safetensors", "last.safetensors"};
    snprintf(R.model_err, sizeof R.model_err, "no best.safetensors or last.safetensors in %s", dir);
    for (int c = 0; c < 2 && !R.model; c++) {
        snprintf(R.ckpt_path, sizeof R.ckpt_path, "%s/%s", dir, ckpts[c]);
        if (access(R.ckpt_path, F_OK)) continue;
        R.model = pixl_model_load(R.ckpt_path);
        if (!R.model) {
            snprintf(R.model_err, sizeof R.model_err, "%s", pixl_last_error());
            pixl_clear_error();
            continue;
        }
        R.ckpt_name = ckpts[c];
        R.st = pixl_st_open(R.ckpt_path);
        if (!R.st) pixl_clear_error();
    }

    /* written atomically: a failure leaves an old report intact */
    char outp[4200];
    if (out) snprintf(outp, sizeof outp, "%s", out);
    else snprintf(outp, sizeof outp, "%s/report.html", dir);
    pixl_clear_error();
    pixl_atomic_file *af = pixl_atomic_begin(outp);
    int rc = af ? write_html(pixl_atomic_stream(af), &R) : -1;
    if (af && rc) pixl_atomic_abort(af);
    else if (af) rc = pixl_atomic_commit(af);
    if (rc && pixl_last_status()) fprintf(stderr, "pixl report: %s\n", pixl_last_error());
    if (!rc) printf("report: %s\n", outp);
    report_free(&R);
    return rc ? 1 : 0;
}
