/* report_html.c — HTML pieces of the report: escaping, notes, number
 * formats, the style sheet, inline PNG images (base64), the summary cards
 * and Run table, and the folded config.yaml. */
#include <math.h>

#include "report/report_impl.h"

void pixl__esc(FILE *o, const char *s)
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

void pixl__note(FILE *o, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fputs("<p class=\"note\">", o);
    pixl__esc(o, buf);
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
const char *pixl__pct(char *buf, size_t n, double v, int digits)
{
    if (!isfinite(v)) snprintf(buf, n, "—");
    else snprintf(buf, n, "%.*f", digits, 100 * v);
    return buf;
}

const char *pixl__fmt_minutes(char *buf, size_t n, double m)
{
    if (!isfinite(m)) snprintf(buf, n, "—");
    else if (m < 1) snprintf(buf, n, "%.0f s", m * 60);
    else if (m < 60) snprintf(buf, n, "%.1f min", m);
    else snprintf(buf, n, "%d h %02d min", (int)(m / 60), (int)fmod(m, 60));
    return buf;
}

const char *pixl__fmt_count(char *buf, size_t n, double v)
{
    if (!isfinite(v)) snprintf(buf, n, "—");
    else if (fabs(v) >= 1e9) snprintf(buf, n, "%.2f G", v / 1e9);
    else if (fabs(v) >= 1e6) snprintf(buf, n, "%.2f M", v / 1e6);
    else if (fabs(v) >= 1e4) snprintf(buf, n, "%.1f k", v / 1e3);
    else snprintf(buf, n, "%.0f", v);
    return buf;
}

void pixl__report_css(FILE *o)
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
          "figure.cbar{margin:4px 0 8px}figure.cbar figcaption{font-size:12px;color:#5c6778}\n"
          ".prbox{max-width:760px}\n"
          ".gates{display:flex;flex-wrap:wrap;gap:8px}.gates figure{margin:0}"
          ".gates figcaption{font-size:12px;color:#5c6778;max-width:260px}\n"
          ".note{background:#fff8e1;border:1px solid #f0d98a;border-radius:6px;padding:8px 12px;color:#5d4a00}\n"
          "details{background:#fff;border:1px solid #dde3ea;border-radius:8px;padding:8px 12px;margin-top:10px}\n"
          "pre{font-size:12px;overflow-x:auto}footer{color:#8a94a3;font-size:12px;margin-top:30px}\n"
          "</style>\n",
          o);
}

static void card(FILE *o, const char *k, const char *v, const char *d)
{
    fputs("<div class=\"card\"><div class=\"k\">", o);
    pixl__esc(o, k);
    fputs("</div><div class=\"v\">", o);
    pixl__esc(o, v);
    fputs("</div><div class=\"d\">", o);
    pixl__esc(o, d);
    fputs("</div></div>\n", o);
}

static void kv_row(FILE *o, const char *k, const char *v)
{
    fputs("<tr><th>", o);
    pixl__esc(o, k);
    fputs("</th><td>", o);
    pixl__esc(o, v);
    fputs("</td></tr>\n", o);
}

static const char *cfg_str(const pixl__report *R, const char *key, char *buf, size_t n)
{
    if (!R->cfg || pixl_config_get(R->cfg, key, buf, n)) snprintf(buf, n, "—");
    return buf;
}

/* last logged step, epoch and minutes over the train and val records */
static void last_position(const pixl__run_log *L, double *step, double *epoch, double *minutes)
{
    const pixl__val_rec *last_val = L->nva ? &L->va[L->nva - 1] : NULL;
    *step = *epoch = *minutes = NAN;
    if (L->ntr) *step = L->tr[L->ntr - 1].step, *epoch = L->tr[L->ntr - 1].epoch, *minutes = L->tr[L->ntr - 1].minutes;
    if (last_val && !(last_val->step < *step)) {
        *step = last_val->step;
        *epoch = last_val->epoch;
        if (!(last_val->minutes < *minutes)) *minutes = last_val->minutes;
    }
}

static void model_row(FILE *o, const pixl__report *R)
{
    char b1[2600], w[64] = "", ins[64] = "", nk[32] = "";
    const char *arch = R->model ? pixl_model_arch(R->model) : pixl__report_meta(R, "arch");
    if (!arch && R->cfg) arch = R->cfg->model.arch;
    if (R->model) {
        const pixl_model_opts *mo = pixl_model_options(R->model);
        snprintf(w, sizeof w, ", width %g%s%s", mo->width, mo->variant ? ", variant " : "", mo->variant ? mo->variant : "");
    }
    const char *is = pixl__report_meta(R, "input_size");
    if (is && strcmp(is, "0,0")) snprintf(ins, sizeof ins, ", input size %s", is);
    if (R->K > 0) snprintf(nk, sizeof nk, ", %d classes", R->K);
    snprintf(b1, sizeof b1, "%s%s%s%s", arch ? arch : "—", w, nk, ins);
    kv_row(o, "model", b1);
}

static void data_rows(FILE *o, const pixl__report *R)
{
    char b1[2600], b2[600], b3[64], b4[64], b5[64];
    if (!R->cfg) {
        kv_row(o, "config.yaml", R->cfg_err);
        return;
    }
    const pixl_train_config *c = R->cfg;
    snprintf(b1, sizeof b1, "%s%s%s, splits %s / %s", c->data.dataset, c->data.root[0] ? " at " : "", c->data.root,
             c->data.train_split, c->data.val_split);
    if (c->data.img_rows > 0 && c->data.img_cols > 0)
        snprintf(b1 + strlen(b1), sizeof b1 - strlen(b1), ", images %dx%d", c->data.img_cols, c->data.img_rows);
    kv_row(o, "data set", b1);
    snprintf(b1, sizeof b1, "%s, lr %s, %s schedule, batch %d, weight decay %s",
             cfg_str(R, "training.optimizer.name", b2, sizeof b2), cfg_str(R, "training.optimizer.lr", b3, sizeof b3),
             cfg_str(R, "training.lr_schedule.name", b4, sizeof b4), c->training.batch_size,
             cfg_str(R, "training.optimizer.weight_decay", b5, sizeof b5));
    kv_row(o, "optimization", b1);
}

static void last_logged_row(FILE *o, const pixl__run_log *L, double step, double epoch, double minutes)
{
    char b1[600], b2[64];
    double ips = 0, wait = 0;
    int n = 0, nw = 0;
    for (int i = 0; i < L->ntr; i++) {
        if (isfinite(L->tr[i].ips)) ips += L->tr[i].ips, n++;
        if (isfinite(L->tr[i].wait)) wait += L->tr[i].wait, nw++;
    }
    if (!isfinite(step)) return;
    snprintf(b1, sizeof b1, "step %.0f, epoch %.0f, %s", step, epoch, pixl__fmt_minutes(b2, sizeof b2, minutes));
    if (n) snprintf(b1 + strlen(b1), sizeof b1 - strlen(b1), "; %.1f img/s", ips / n);
    if (nw) snprintf(b1 + strlen(b1), sizeof b1 - strlen(b1), ", loader wait %.0f%%", 100 * wait / nw);
    kv_row(o, "last logged", b1);
}

static void log_rows(FILE *o, const pixl__report *R, const pixl__report_summary *s)
{
    const pixl__run_log *L = &R->L;
    char b1[4600];
    snprintf(b1, sizeof b1, "%d training and %d validation records", L->ntr, L->nva);
    if (L->replaced)
        snprintf(b1 + strlen(b1), sizeof b1 - strlen(b1), "; %d earlier records replaced by a resumed run", L->replaced);
    if (L->no_step) snprintf(b1 + strlen(b1), sizeof b1 - strlen(b1), "; %d records without a step skipped", L->no_step);
    if (L->partial_last) snprintf(b1 + strlen(b1), sizeof b1 - strlen(b1), "; an incomplete last line skipped");
    kv_row(o, "log.jsonl", b1);
    if (!R->ckpt_name) {
        kv_row(o, "checkpoint", R->model_err);
        return;
    }
    const char *st = pixl__report_meta(R, "step");
    snprintf(b1, sizeof b1, "%s", R->ckpt_name);
    if (st) snprintf(b1 + strlen(b1), sizeof b1 - strlen(b1), ", step %s", st);
    if (s->ckpt_score) snprintf(b1 + strlen(b1), sizeof b1 - strlen(b1), "%s", s->ckpt_score);
    kv_row(o, "checkpoint", b1);
}

void pixl__report_header(const pixl__report *R, FILE *o, const pixl__report_summary *s)
{
    const pixl__run_log *L = &R->L;
    char b1[2600], b2[600], b3[64];
    double step, epoch, minutes;
    last_position(L, &step, &epoch, &minutes);
    double params = R->model ? (double)pixl_params_total(pixl_model_params(R->model)) : NAN;

    fputs("<div class=\"cards\">\n", o);
    for (int i = 0; i < 2; i++) card(o, s->cards[i].k, s->cards[i].v, s->cards[i].d);
    snprintf(b1, sizeof b1, "%s", pixl__fmt_minutes(b3, sizeof b3, minutes));
    if (isfinite(step)) snprintf(b2, sizeof b2, "%.0f steps, epoch %.0f", step, epoch);
    else snprintf(b2, sizeof b2, "no training records");
    card(o, "training time", b1, b2);
    const char *arch = R->model ? pixl_model_arch(R->model) : pixl__report_meta(R, "arch");
    card(o, "parameters", pixl__fmt_count(b1, sizeof b1, params), arch ? arch : "");
    fputs("</div>\n", o);

    fputs("<h2>Run</h2>\n<table class=\"kv\">\n", o);
    model_row(o, R);
    if (isfinite(params)) {
        snprintf(b1, sizeof b1, "%.0f trainable (%s)", params, pixl__fmt_count(b2, sizeof b2, params));
        kv_row(o, "parameters", b1);
    }
    data_rows(o, R);
    last_logged_row(o, L, step, epoch, minutes);
    if (s->best_row) kv_row(o, "best validation", s->best_row);
    if (s->last_row) kv_row(o, "last validation", s->last_row);
    log_rows(o, R, s);
    fputs("</table>\n", o);
}

int pixl__img_tag(FILE *o, const pixl_image *img, int disp_w, int disp_h, const char *alt)
{
    uint8_t *buf = NULL;
    size_t n = 0;
    if (pixl_image_encode(img, PIXL_IMAGE_PNG, 0, &buf, &n)) {
        pixl_clear_error();
        return -1;
    }
    fprintf(o, "<img class=\"px\" width=\"%d\" height=\"%d\" alt=\"", disp_w, disp_h);
    pixl__esc(o, alt);
    fputs("\" src=\"data:image/png;base64,", o);
    b64(o, buf, n);
    fputs("\">", o);
    free(buf);
    return 0;
}

int pixl__img_tag_fit(FILE *o, const pixl_image *img, int sw, int sh, int disp_w, int disp_h, const char *alt)
{
    pixl_image *s = img && (img->width != sw || img->height != sh) ? pixl_image_resize(img, sw, sh) : NULL;
    int rc = img ? pixl__img_tag(o, s ? s : img, disp_w, disp_h, alt) : -1;
    pixl_image_free(s);
    return rc;
}

void pixl__sample_size(int w, int h, int max_w, int *sw, int *sh, int *dw, int *dh)
{
    *sw = w, *sh = h;
    if (w > max_w) {
        *sw = max_w;
        *sh = (int)lround((double)h * max_w / w);
        if (*sh < 1) *sh = 1;
    }
    int mag = *sw < 180 ? (180 + *sw - 1) / *sw : 1;
    if (mag > 8) mag = 8;
    *dw = *sw * mag, *dh = *sh * mag;
}

void pixl__report_config_text(FILE *o, const pixl__report *R)
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
        pixl__esc(o, buf);
        total += n;
    }
    fclose(f);
    fputs("</pre></details>\n", o);
}

