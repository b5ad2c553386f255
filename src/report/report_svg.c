/* report_svg.c — inline-SVG line charts for the report (nice axis ticks,
 * gaps at missing values, a circled best point, tooltips) and the Curves
 * section built from them: the training records and any metric keys of
 * the validation records. */
#include <math.h>

#include "report/report_impl.h"

/* ------------------------------------------------------------ SVG charts */
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

/* the styles of the chart classes, for an SVG file of its own (the page has them in its CSS) */
static const char svg_style[] =
    "<style>.ct{font:600 15px sans-serif;fill:#1d2430}.lg{font:12px sans-serif;fill:#3a4556}"
    ".tk{font:11px sans-serif;fill:#5c6778}.al{font:12px sans-serif;fill:#3a4556}"
    ".grid{stroke:#e6eaf0;stroke-width:1}.frame{fill:none;stroke:#b8c1cc;stroke-width:1}"
    ".empty{font:14px sans-serif;fill:#8a94a3}.best{font:600 11px sans-serif;fill:#1d2430}</style>\n";

/* A line chart of ns series; x_int: x is a count (ticks at integers).
 * standalone: a complete SVG document (namespace, styles, white ground)
 * instead of a <figure> of the page. */
static void chart(FILE *o, int standalone, const char *title, const char *xlabel, const char *ylabel,
                  const pixl__series *S, int ns, int x_int, double ylo_clamp, double yhi_clamp, const char *empty_msg)
{
    const char *end = standalone ? "</svg>\n" : "</svg></figure>\n";
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
    if (standalone)
        fprintf(o, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
                   "role=\"img\" aria-label=\"",
                CW, CH, CW, CH);
    else
        fprintf(o, "<figure class=\"chart\"><svg viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"", CW, CH);
    pixl__esc(o, title);
    fputs("\">\n", o);
    if (standalone) fprintf(o, "%s<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n", svg_style, CW, CH);
    fprintf(o, "<text x=\"%d\" y=\"22\" class=\"ct\">", ML);
    pixl__esc(o, title);
    fputs("</text>\n", o);
    /* legend */
    if (any && (ns > 1 || (ns == 1 && S[0].label))) {
        double lx = CW - MR;
        for (int k = ns - 1; k >= 0; k--) {
            if (!S[k].label && ns > 1) continue;
            const char *lab = S[k].label ? S[k].label : "";
            double w = 7.0 * (double)strlen(lab) + 22;
            lx -= w;
            fprintf(o, "<rect x=\"%.1f\" y=\"14\" width=\"12\" height=\"4\" fill=\"%s\"/><text x=\"%.1f\" y=\"20\" "
                       "class=\"lg\">",
                    lx, S[k].colour, lx + 16);
            pixl__esc(o, lab);
            fputs("</text>\n", o);
        }
    }
    fprintf(o, "<rect x=\"%d\" y=\"%d\" width=\"%.0f\" height=\"%.0f\" class=\"frame\"/>\n", ML, MT, pw, ph);
    if (!any) {
        fprintf(o, "<text x=\"%.1f\" y=\"%.1f\" class=\"empty\" text-anchor=\"middle\">", ML + pw / 2, MT + ph / 2);
        pixl__esc(o, empty_msg ? empty_msg : "no data");
        fputs("</text>", o);
        fputs(end, o);
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
    pixl__esc(o, xlabel);
    fprintf(o, "</text>\n<text transform=\"translate(16 %.1f) rotate(-90)\" class=\"al\" text-anchor=\"middle\">",
            MT + ph / 2);
    pixl__esc(o, ylabel);
    fputs("</text>\n", o);
    /* data: one polyline per run of finite points */
    fputs("<g>\n", o);
    for (int k = 0; k < ns; k++) {
        const pixl__series *s = &S[k];
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
                       "<text x=\"%.1f\" y=\"%.1f\" class=\"best\" text-anchor=\"%s\">",
                    bx, by, s->colour, bx + (bx > ML + pw * 0.8 ? -10 : 10), by + (by < MT + 20 ? 18 : -10),
                    bx > ML + pw * 0.8 ? "end" : "start");
            if (s->best_label) pixl__esc(o, s->best_label);
            else fprintf(o, "best %.*f", s->best_digits > 0 ? s->best_digits : 1, SY(s, s->best));
            fputs("</text>\n", o);
        }
    }
    fputs("</g>", o);
    fputs(end, o);
#undef PX
#undef PY
}

void pixl__chart(FILE *o, const char *title, const char *xlabel, const char *ylabel, const pixl__series *S, int ns,
                 int x_int, double ylo_clamp, double yhi_clamp, const char *empty_msg)
{
    chart(o, 0, title, xlabel, ylabel, S, ns, x_int, ylo_clamp, yhi_clamp, empty_msg);
}

void pixl__chart_svg(FILE *o, const char *title, const char *xlabel, const char *ylabel, const pixl__series *S,
                     int ns, int x_int, double ylo_clamp, double yhi_clamp, const char *empty_msg)
{
    chart(o, 1, title, xlabel, ylabel, S, ns, x_int, ylo_clamp, yhi_clamp, empty_msg);
}

/* ------------------------------------------------------------- curves */

/* a val chart: x and y of each metric in arrays of their own */
static void val_chart(pixl__report *R, FILE *o, const pixl__val_chart *c)
{
    const int n = R->L.nva, nm = c->n < 4 ? c->n : 4;
    double *buf = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1) * (1 + nm));
    static const double none = NAN;
    pixl__series S[4];
    for (int k = 0; k < nm; k++) {
        double *x = buf, *y = buf ? buf + (size_t)n * (1 + k) : NULL;
        for (int i = 0; buf && i < n; i++) {
            x[i] = c->vs_minutes ? R->L.va[i].minutes : R->L.va[i].step;
            y[i] = pixl__report_val(R, i, c->m[k].key);
        }
        S[k] = (pixl__series){.x = buf ? x : &none, .y = buf ? y : &none, .stride = 1, .n = buf ? n : 0,
                              .yscale = c->m[k].scale, .colour = c->m[k].colour, .label = c->m[k].label,
                              .markers = 1, .best = k == 0 ? R->best : -1, .best_digits = c->best_digits};
    }
    pixl__chart(o, c->title, c->vs_minutes ? "minutes" : "step", c->ylabel, S, nm, !c->vs_minutes, c->ylo, c->yhi,
                "no validation records in log.jsonl");
    free(buf);
}

void pixl__report_curves(pixl__report *R, FILE *o, const pixl__val_chart *vc, int nvc)
{
    const pixl__run_log *L = &R->L;
    const int ts = sizeof(pixl__train_rec) / sizeof(double);
    _Static_assert(sizeof(pixl__train_rec) == 7 * sizeof(double), "pixl__train_rec is a row of doubles");
    const pixl__train_rec *t = L->tr;
    static const double none = NAN;
    const int few = L->ntr <= 40;
    fputs("<h2>Curves</h2>\n<div class=\"grid2\">\n", o);
    pixl__series s1 = {t ? &t->step : &none, t ? &t->loss : &none, ts, L->ntr, 1, "#3b6fb6", "train loss", few, -1, 0, NULL};
    pixl__chart(o, "Training loss", "step", "loss (mean over the log interval)", &s1, 1, 1, 0, INFINITY,
                "no training records in log.jsonl");
    pixl__series s2 = {t ? &t->step : &none, t ? &t->lr : &none, ts, L->ntr, 1, "#7a4fb0", "learning rate", few, -1, 0, NULL};
    pixl__chart(o, "Learning rate", "step", "learning rate", &s2, 1, 1, 0, INFINITY, "no training records in log.jsonl");
    for (int i = 0; i < nvc; i++) val_chart(R, o, &vc[i]);
    pixl__series s5 = {t ? &t->step : &none, t ? &t->ips : &none, ts, L->ntr, 1, "#3b6fb6", "img/s", few, -1, 0, NULL};
    pixl__chart(o, "Training throughput", "step", "images / second", &s5, 1, 1, 0, INFINITY,
                "no training records in log.jsonl");
    pixl__series s6 = {t ? &t->step : &none, t ? &t->wait : &none, ts, L->ntr, 100, "#8a6d3b", "loader wait", few, -1, 0, NULL};
    pixl__chart(o, "Time spent waiting for data", "step", "% of wall-clock time", &s6, 1, 1, 0, 100,
                "no training records in log.jsonl");
    fputs("</div>\n", o);
}
