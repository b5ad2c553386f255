/* report_edges.c — the edge-detection section of the report: summary cards
 * (best ODS F, OIS F and AP), ODS / OIS / AP over time, the precision-recall
 * curve of the checkpoint (the BSDS benchmark, pixl_edge_benchmark(), on the
 * first validation images with the run's validation settings, iso-F lines
 * and the ODS point), and sample maps: image, ground-truth boundaries (the
 * share of annotators), predicted boundary probability and the thinned
 * edges at the ODS threshold. The best validation record is the one with
 * the highest ODS F. */
#include <math.h>

#include "report/report_impl.h"

#define PR_MAX_IMAGES 10 /* images of the report's own benchmark run */

typedef struct {
    int n;                  /* images predicted (max of the benchmark's and the samples') */
    int n_bench;            /* images in the benchmark */
    pixl_image **img;
    float **prob, **soft;   /* boundary probability, share of annotators */
    uint8_t **maps;
    int *n_maps;
    pixl_edge_bench_result res;
    int have_res;
    int n_done;             /* images loaded and predicted */
    char err[4500];
} edge_eval;

static void edge_eval_free(edge_eval *E)
{
    for (int i = 0; i < E->n; i++) {
        if (E->img) pixl_image_free(E->img[i]);
        if (E->prob) free(E->prob[i]);
        if (E->soft) free(E->soft[i]);
        if (E->maps) free(E->maps[i]);
    }
    free(E->img), free(E->prob), free(E->soft), free(E->maps), free(E->n_maps);
}

/* boundary probability of one image (1 output: sigmoid; 2: softmax of class 1) */
static float *edge_prob(pixl_model *m, const pixl_image *img, int flip)
{
    const int h = img->height, w = img->width, K = pixl_model_n_classes(m);
    const size_t np = (size_t)h * w;
    float *x = malloc(sizeof(float) * 3 * np), *y = malloc(sizeof(float) * (size_t)K * np);
    int rc = !x || !y ? pixl_set_error(PIXL_ERR_NOMEM, "out of memory")
                      : pixl_image_to_chw(img, pixl_model_mean(m), pixl_model_std(m), x);
    if (!rc) rc = pixl_model_predict(m, x, 1, h, w, flip, y, NULL);
    free(x);
    if (rc) {
        free(y);
        return NULL;
    }
    for (size_t p = 0; p < np; p++)
        y[p] = K == 1 ? 1.0f / (1.0f + expf(-y[p])) : 1.0f / (1.0f + expf(y[p] - y[np + p]));
    return y;
}

/* predict the first images and run the benchmark on the first n_bench of them */
static int edge_evaluate(pixl__report *R, edge_eval *E)
{
    const pixl_train_config *c = R->cfg;
    int size = pixl_dataset_size(R->val);
    int nb = c->validation.limit > 0 && c->validation.limit < PR_MAX_IMAGES ? c->validation.limit : PR_MAX_IMAGES;
    E->n_bench = nb < size ? nb : size;
    E->n = E->n_bench > R->nsamples ? E->n_bench : (R->nsamples < size ? R->nsamples : size);
    E->img = calloc((size_t)E->n + 1, sizeof *E->img);
    E->prob = calloc((size_t)E->n + 1, sizeof *E->prob);
    E->soft = calloc((size_t)E->n + 1, sizeof *E->soft);
    E->maps = calloc((size_t)E->n + 1, sizeof *E->maps);
    E->n_maps = calloc((size_t)E->n + 1, sizeof *E->n_maps);
    if (!E->img || !E->prob || !E->soft || !E->maps || !E->n_maps) return pixl_set_error(PIXL_ERR_NOMEM, "out of memory");
    for (int i = 0; i < E->n; i++) {
        if (pixl_dataset_load_edges(R->val, i, &E->img[i], &E->soft[i], &E->maps[i], &E->n_maps[i])) return -1;
        if (!(E->prob[i] = edge_prob(R->model, E->img[i], c->validation.flip))) return -1;
        E->n_done = i + 1;
    }
    if (E->n_bench < 1) return 0;
    pixl_edge_sample *s = calloc((size_t)E->n_bench, sizeof *s);
    if (!s) return pixl_set_error(PIXL_ERR_NOMEM, "out of memory");
    for (int i = 0; i < E->n_bench; i++)
        s[i] = (pixl_edge_sample){E->img[i]->width, E->img[i]->height, E->prob[i], E->n_maps[i], E->maps[i]};
    pixl_edge_bench_opts bo = {.n_thresholds = c->validation.edge_thresholds};
    int rc = pixl_edge_benchmark(s, E->n_bench, &bo, &E->res);
    free(s);
    E->have_res = !rc;
    return rc;
}

static double ratio(int64_t a, int64_t b) { return b > 0 ? (double)a / (double)b : NAN; }

/* the precision-recall curve with iso-F lines and the ODS point */
static void pr_chart(pixl__report *R, FILE *o, const edge_eval *E)
{
    const pixl_edge_bench_result *r = &E->res;
    enum { NISO = 9, NPT = 60 };
    double pr[2][PIXL_EDGE_MAX_THRESHOLDS], iso[NISO][2][NPT], ods[2] = {r->ods_r, r->ods_p};
    int n = 0;
    for (int k = 0; k < r->n_thresholds; k++) {
        double rec = ratio(r->total[k].cnt_r, r->total[k].sum_r), prec = ratio(r->total[k].cnt_p, r->total[k].sum_p);
        if (r->total[k].sum_p == 0) continue; /* nothing predicted at this threshold: no precision */
        pr[0][n] = rec, pr[1][n] = prec, n++;
    }
    pixl__series S[NISO + 2];
    for (int f = 0; f < NISO; f++) { /* F = 0.1 .. 0.9: p = F r / (2 r - F) for r in (F/2, 1] */
        double F = 0.1 * (f + 1);
        for (int i = 0; i < NPT; i++) {
            double rr = F / 2 + (1 - F / 2) * (i + 1) / NPT, pp = F * rr / (2 * rr - F);
            iso[f][0][i] = rr, iso[f][1][i] = pp <= 1 ? pp : NAN;
        }
        S[f] = (pixl__series){iso[f][0], iso[f][1], 1, NPT, 1, "#dfe4ea", NULL, 0, -1, 0, NULL};
    }
    S[NISO] = (pixl__series){pr[0], pr[1], 1, n, 1, "#c0504d", "precision-recall", 1, -1, 0, NULL};
    char lab[64];
    snprintf(lab, sizeof lab, "ODS F %.3f", r->ods_f);
    S[NISO + 1] = (pixl__series){&ods[0], &ods[1], 1, 1, 1, "#1d2430", "ODS", 1, 0, 3, lab};
    fputs("<div class=\"prbox\">", o);
    pixl__chart(o, "Precision-recall", "recall", "precision", S, NISO + 2, 0, 0, 1, "no thresholds with predicted pixels");
    fputs("</div>\n", o);
}

static void pr_section(pixl__report *R, FILE *o, const edge_eval *E)
{
    fputs("<h2>Precision-recall curve</h2>\n", o);
    if (!E->have_res) {
        pixl__note(o, "No precision-recall curve: %s", E->err[0] ? E->err : "no validation images.");
        return;
    }
    const pixl_edge_bench_result *r = &E->res;
    fprintf(o, "<p>The BSDS benchmark of %s on the first %d validation image%s with %d thresholds%s (as the run's "
               "validation): ODS F %.4f (precision %.3f, recall %.3f at threshold %.3f), OIS F %.4f, AP %.4f.",
            R->ckpt_name, r->n_images, r->n_images == 1 ? "" : "s", r->n_thresholds,
            R->cfg->validation.flip ? ", averaged with the mirrored image" : "", r->ods_f, r->ods_p, r->ods_r,
            r->ods_t, r->ois_f, r->ap);
    fputs(" Grey: lines of equal F (0.1 .. 0.9).", o);
    if (R->best >= 0)
        fprintf(o, " The best validation record (step %.0f, %.0f images) logged ODS F %.4f.", R->L.va[R->best].step,
                pixl__report_val(R, R->best, "n_images"), pixl__report_val(R, R->best, "ods_f"));
    fputs("</p>\n", o);
    pr_chart(R, o, E);
}

/* 8-bit grey image of 255 * (1 - v): boundaries dark on white */
static pixl_image *dark_on_white(const float *v, int w, int h)
{
    pixl_image *im = pixl_image_new(w, h, 1, 8);
    if (!im) return NULL;
    uint8_t *d = im->data;
    for (size_t p = 0; p < (size_t)w * h; p++) d[p] = (uint8_t)lroundf(255 * (1 - fminf(fmaxf(v[p], 0), 1)));
    return im;
}

/* edges after NMS at threshold t, thinned */
static pixl_image *edges_at(const float *prob, int w, int h, double t)
{
    const size_t np = (size_t)w * h;
    float *e = malloc(sizeof(float) * np);
    uint8_t *b = malloc(np);
    pixl_image *im = NULL;
    if (e && b && !pixl_edge_nms(prob, w, h, e)) {
        for (size_t p = 0; p < np; p++) b[p] = e[p] >= fmax(t, 2.220446049250313e-16);
        if (!pixl_edge_thin(b, w, h) && (im = pixl_image_new(w, h, 1, 8)))
            for (size_t p = 0; p < np; p++) ((uint8_t *)im->data)[p] = b[p] ? 0 : 255;
    }
    free(e), free(b);
    return im;
}

static void edge_row(pixl__report *R, FILE *o, const edge_eval *E, int i, double t)
{
    const pixl_image *img = E->img[i];
    const int w = img->width, h = img->height;
    pixl_image *gt = dark_on_white(E->soft[i], w, h), *pb = dark_on_white(E->prob[i], w, h);
    pixl_image *th = edges_at(E->prob[i], w, h, t);
    int sw, sh, dw, dh;
    pixl__sample_size(w, h, PIXL__REPORT_SAMPLE_MAX_W4, &sw, &sh, &dw, &dh);
    const char *name = pixl_dataset_sample_name(R->val, i);
    fputs("<tr><td class=\"meta\">", o);
    pixl__esc(o, name ? name : "");
    fprintf(o, "<br>%dx%d<br>%d annotators", w, h, E->n_maps[i]);
    fputs("</td><td>", o);
    int bad = pixl__img_tag_fit(o, img, sw, sh, dw, dh, "image");
    fputs("</td><td>", o);
    bad |= pixl__img_tag_fit(o, gt, sw, sh, dw, dh, "ground-truth boundaries");
    fputs("</td><td>", o);
    bad |= pixl__img_tag_fit(o, pb, sw, sh, dw, dh, "boundary probability");
    fputs("</td><td>", o);
    bad |= pixl__img_tag_fit(o, th, sw, sh, dw, dh, "edges at the ODS threshold");
    if (bad) fputs("<br>(an image could not be made)", o);
    fputs("</td></tr>\n", o);
    pixl_image_free(gt), pixl_image_free(pb), pixl_image_free(th);
    pixl_clear_error();
}

static void edge_samples(pixl__report *R, FILE *o, const edge_eval *E)
{
    int n = E->n_done < R->nsamples ? E->n_done : R->nsamples;
    double t = E->have_res ? E->res.ods_t : 0.5;
    fprintf(o, "<p>%s on the first %d image%s of the validation split '", R->ckpt_name, n, n == 1 ? "" : "s");
    pixl__esc(o, R->cfg->data.val_split);
    fprintf(o, "': the share of annotators marking a boundary, the predicted boundary probability (dark = 1), and "
               "the edges after non-maximum suppression and thinning at the ODS threshold %.3f.</p>\n", t);
    fputs("<div class=\"smpwrap\"><table class=\"smp\"><tr><th>sample</th><th>image</th><th>ground truth</th>"
          "<th>probability</th><th>edges at ODS</th></tr>\n",
          o);
    for (int i = 0; i < n; i++) edge_row(R, o, E, i, t);
    fputs("</table></div>\n", o);
    if (n == 0) pixl__note(o, "The validation split is empty.");
}

static void edges_header(pixl__report *R, FILE *o)
{
    const pixl__run_log *L = &R->L;
    char v1[64], d1[600], v2[64], d2[200], best[800], last[400], ck[96], t[64];
    pixl__report_summary s = {{{"best val ODS F", "—", L->nva ? "no defined ODS F in the val records" : "no validation records"},
                               {"OIS F / AP", "—", ""}},
                              NULL, NULL, NULL};
    const int bi = R->best, li = L->nva - 1;
    if (bi >= 0) {
        const pixl__val_rec *r = &L->va[bi];
        snprintf(v1, sizeof v1, "%.4f", pixl__report_val(R, bi, "ods_f"));
        snprintf(d1, sizeof d1, "at step %.0f, epoch %.0f, %s", r->step, r->epoch, pixl__fmt_minutes(t, sizeof t, r->minutes));
        snprintf(v2, sizeof v2, "%.4f / %.4f", pixl__report_val(R, bi, "ois_f"), pixl__report_val(R, bi, "ap"));
        snprintf(d2, sizeof d2, "ODS precision %.3f, recall %.3f, threshold %.3f", pixl__report_val(R, bi, "ods_p"),
                 pixl__report_val(R, bi, "ods_r"), pixl__report_val(R, bi, "ods_t"));
        s.cards[0] = (pixl__card){"best val ODS F", v1, d1};
        s.cards[1] = (pixl__card){"OIS F / AP (best)", v2, d2};
        snprintf(best, sizeof best, "ODS F %.4f, OIS F %.4f, AP %.4f at step %.0f (epoch %.0f, %s) on %.0f images",
                 pixl__report_val(R, bi, "ods_f"), pixl__report_val(R, bi, "ois_f"), pixl__report_val(R, bi, "ap"),
                 r->step, r->epoch, t, pixl__report_val(R, bi, "n_images"));
        s.best_row = best;
    }
    if (li >= 0 && li != bi) {
        snprintf(last, sizeof last, "ODS F %.4f, OIS F %.4f, AP %.4f at step %.0f", pixl__report_val(R, li, "ods_f"),
                 pixl__report_val(R, li, "ois_f"), pixl__report_val(R, li, "ap"), L->va[li].step);
        s.last_row = last;
    }
    const char *vm = pixl__report_meta(R, "val_ods_f");
    if (vm) {
        snprintf(ck, sizeof ck, ", val ODS F %.4f", atof(vm));
        s.ckpt_score = ck;
    }
    pixl__report_header(R, o, &s);
}

int pixl__report_section_edges(pixl__report *R, FILE *o)
{
    R->best = pixl__report_best(R, "ods_f", 1);
    edges_header(R, o);
    static const pixl__metric vm[3] = {{"ods_f", "ODS F", "#2a9d5c", 1}, {"ois_f", "OIS F", "#3b6fb6", 1}, {"ap", "AP", "#c0504d", 1}};
    const pixl__val_chart vc[2] = {{"Validation vs step", "score", 0, vm, 3, 0, 1, 3},
                                   {"Validation vs wall-clock time", "score", 1, vm, 3, 0, 1, 3}};
    pixl__report_curves(R, o, vc, 2);
    edge_eval E = {0};
    int ready = 1;
    if (!R->model || !R->val) {
        snprintf(E.err, sizeof E.err, "%s", !R->model ? R->model_err : R->val_err);
        ready = 0;
    } else if (pixl_dataset_task(R->val) != PIXL_TASK_EDGES || pixl_model_n_classes(R->model) > 2) {
        snprintf(E.err, sizeof E.err, "the model has %d outputs (an edge model has 1 or 2) and data set '%s' %s.",
                 pixl_model_n_classes(R->model), pixl_dataset_kind(R->val),
                 pixl_dataset_task(R->val) == PIXL_TASK_EDGES ? "has boundaries" : "has no boundary maps");
        ready = 0;
    } else if (edge_evaluate(R, &E)) {
        snprintf(E.err, sizeof E.err, "%s", pixl_last_error());
        pixl_clear_error();
    }
    pr_section(R, o, &E);
    if (R->nsamples > 0) {
        fputs("<h2>Sample predictions</h2>\n", o);
        if (!ready) pixl__note(o, "No predictions: %s", E.err);
        else if (E.err[0] && !E.n_done) pixl__note(o, "No predictions: %s", E.err);
        else edge_samples(R, o, &E);
    }
    edge_eval_free(&E);
    return 0;
}
