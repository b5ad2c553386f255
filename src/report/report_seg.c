/* report_seg.c — the segmentation section of the report: summary cards
 * (best mIoU, pixel accuracy), validation mIoU and pixel accuracy over
 * steps and minutes, the per-class table and the row-normalised confusion
 * matrix of the best validation record (highest mean_iou), and sample
 * predictions (input | ground truth | prediction, colourised). */
#include <math.h>

#include "report/report_impl.h"

/* class names/colours: the model's, else the checkpoint's metadata, else defaults */
static int set_classes(pixl__report *R, int K, const cJSON *class_iou)
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
    }
    pixl_voc_colours(K, R->colours);
    if (R->model && pixl_model_n_classes(R->model) == K && pixl_model_colours(R->model))
        memcpy(R->colours, pixl_model_colours(R->model), (size_t)K * 3);
    return 0;
}

static void swatch(FILE *o, const uint8_t *c)
{
    fprintf(o, "<span class=\"sw\" style=\"background:rgb(%d,%d,%d)\"></span>", c[0], c[1], c[2]);
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

static void class_table(FILE *o, const pixl__report *R, const cJSON *m, const double *cm)
{
    fprintf(o, "<h2>Per-class results <small>(best validation, step %.0f)</small></h2>\n", R->L.va[R->best].step);
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
        pixl__esc(o, R->names[k]);
        fprintf(o, "</td><td>%s</td><td class=\"barbox\"><span class=\"bar\" style=\"width:%.1fpx\"></span></td>"
                   "<td>%s</td><td>%s</td><td>%s</td></tr>\n",
                pixl__pct(b1, sizeof b1, u, 2), isfinite(u) ? 160 * fmin(fmax(u, 0), 1) : 0.0, pixl__pct(b2, sizeof b2, a, 2),
                isfinite(gt) ? (snprintf(b3, sizeof b3, "%.0f", gt), b3) : "—",
                isfinite(pr) ? (snprintf(b4, sizeof b4, "%.0f", pr), b4) : "—");
        if (ii) ii = ii->next;
        if (ai) ai = ai->next;
    }
    double mi = pixl__jnum(m, "mean_iou"), ma = pixl__jnum(m, "mean_acc"), px = pixl__jnum(m, "pixels");
    fprintf(o, "<tr class=\"mean\"><td></td><td class=\"n\">mean</td><td>%s</td><td class=\"barbox\">"
               "<span class=\"bar\" style=\"width:%.1fpx\"></span></td><td>%s</td><td>%s</td><td></td></tr>\n",
            pixl__pct(b1, sizeof b1, mi, 2), isfinite(mi) ? 160 * fmin(fmax(mi, 0), 1) : 0.0, pixl__pct(b2, sizeof b2, ma, 2),
            isfinite(px) ? (snprintf(b3, sizeof b3, "%.0f", px), b3) : "");
    fputs("</table>\n", o);
    char fw[64], oa[64];
    fprintf(o, "<p>Overall pixel accuracy %s %%, frequency-weighted IoU %s %%. \"—\": the class is absent from both "
               "ground truth and prediction (IoU) or from the ground truth (acc); means skip those classes.</p>\n",
            pixl__pct(oa, sizeof oa, pixl__jnum(m, "overall_acc"), 2), pixl__pct(fw, sizeof fw, pixl__jnum(m, "freq_weighted_iou"), 2));
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

static void confusion_table(FILE *o, const pixl__report *R, const double *cm)
{
    int K = R->K, dense = K > 30;
    fputs("<h2>Confusion matrix</h2>\n<p>Rows: ground truth; columns: prediction; each row normalised to 100 % "
          "of its ground-truth pixels (hover a cell for the pixel count). The diagonal is outlined.</p>\n",
          o);
    fprintf(o, "<div class=\"cmwrap\"><table class=\"cm%s\"><tr><th class=\"corner\">truth \\ predicted</th>",
            dense ? " dense" : "");
    for (int j = 0; j < K; j++) {
        fputs("<th class=\"c\">", o);
        pixl__esc(o, R->names[j]);
        fputs("</th>", o);
    }
    fputs("<th class=\"c\">pixels</th></tr>\n", o);
    for (int i = 0; i < K; i++) {
        double row = 0;
        for (int j = 0; j < K; j++) row += cm[(size_t)i * K + j];
        fputs("<tr><th class=\"r\">", o);
        swatch(o, R->colours + 3 * i);
        pixl__esc(o, R->names[i]);
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
            pixl__esc(o, R->names[i]);
            fputs(" → ", o);
            pixl__esc(o, R->names[j]);
            fprintf(o, ": %.0f pixels (%.2f %%)\">", c, 100 * f);
            if (!dense) fprintf(o, f >= 0.0995 ? "%.0f" : "%.1f", 100 * f);
            fputs("</td>", o);
        }
        fprintf(o, "<td class=\"tot\">%.0f</td></tr>\n", row);
    }
    fputs("</table></div>\n", o);
}

/* one row of the samples table: input, ground truth, prediction; 0 or -1 with msg set */
static int seg_sample_row(FILE *o, pixl__report *R, int i, const uint8_t *col, int K, char *msg, size_t msg_n)
{
    pixl_image *img = NULL, *small = NULL, *gt = NULL, *pr = NULL;
    int32_t *lab = NULL, *pred = NULL, *slab = NULL, *spred = NULL;
    float *x = NULL;
    int rc = -1;
    if (pixl_dataset_load(R->val, i, &img, &lab)) goto done;
    const int w = img->width, h = img->height;
    x = malloc(sizeof(float) * 3 * (size_t)w * h);
    pred = malloc(sizeof(int32_t) * (size_t)w * h);
    if (!x || !pred) {
        pixl_set_error(PIXL_ERR_NOMEM, "out of memory");
        goto done;
    }
    if (pixl_image_to_chw(img, pixl_model_mean(R->model), pixl_model_std(R->model), x) ||
        pixl_model_predict(R->model, x, 1, h, w, 0, NULL, pred))
        goto done;
    int64_t good = 0, counted = 0;
    for (int64_t p = 0; p < (int64_t)w * h; p++)
        if (lab[p] >= 0 && lab[p] < K) counted++, good += pred[p] == lab[p];
    int sw, sh, dw, dh;
    pixl__sample_size(w, h, PIXL__REPORT_SAMPLE_MAX_W, &sw, &sh, &dw, &dh);
    if (sw != w || sh != h) {
        small = pixl_image_resize(img, sw, sh);
        slab = pixl_label_resize(lab, w, h, sw, sh);
        spred = pixl_label_resize(pred, w, h, sw, sh);
        if (!small || !slab || !spred) goto done;
    }
    gt = pixl_label_colorize(slab ? slab : lab, sw, sh, col, K, NULL, 1.0f);
    pr = pixl_label_colorize(spred ? spred : pred, sw, sh, col, K, NULL, 1.0f);
    if (!gt || !pr) goto done;
    const char *name = pixl_dataset_sample_name(R->val, i);
    fputs("<tr><td class=\"meta\">", o);
    pixl__esc(o, name ? name : "");
    fprintf(o, "<br>%dx%d", w, h);
    if (counted) fprintf(o, "<br>pixel acc %.1f %%", 100.0 * (double)good / (double)counted);
    fputs("</td><td>", o);
    int bad = pixl__img_tag(o, small ? small : img, dw, dh, "input");
    fputs("</td><td>", o);
    bad |= pixl__img_tag(o, gt, dw, dh, "ground truth");
    fputs("</td><td>", o);
    bad |= pixl__img_tag(o, pr, dw, dh, "prediction");
    if (bad) fputs("<br>(an image could not be encoded)", o);
    fputs("</td></tr>\n", o);
    rc = 0;
done:
    if (rc) snprintf(msg, msg_n, "%s", pixl_last_error());
    pixl_image_free(img);
    pixl_image_free(small);
    pixl_image_free(gt);
    pixl_image_free(pr);
    free(lab);
    free(pred);
    free(slab);
    free(spred);
    free(x);
    return rc;
}

static void seg_samples(FILE *o, pixl__report *R)
{
    if (R->nsamples <= 0) return;
    fputs("<h2>Sample predictions</h2>\n", o);
    if (!pixl__report_samples_ready(R, o)) return;
    int K = pixl_model_n_classes(R->model);
    if (pixl_dataset_n_classes(R->val) != K) {
        pixl__note(o, "No predictions: the model has %d classes, data set '%s' %d.", K, R->cfg->data.dataset,
                   pixl_dataset_n_classes(R->val));
        return;
    }
    /* colours for the label maps: the model's, else the data set's */
    const uint8_t *col = pixl_model_colours(R->model) ? pixl_model_colours(R->model) : pixl_dataset_colours(R->val);
    int n = pixl_dataset_size(R->val) < R->nsamples ? pixl_dataset_size(R->val) : R->nsamples;
    fprintf(o, "<p>%s on the first %d image%s of the validation split '", R->ckpt_name, n, n == 1 ? "" : "s");
    pixl__esc(o, R->cfg->data.val_split);
    fputs("' (ground-truth pixels marked ignore are black).</p>\n<div class=\"legend\">", o);
    for (int k = 0; k < K; k++) {
        fputs("<span class=\"it\">", o);
        swatch(o, col + 3 * k);
        const char *nm = pixl_model_class_name(R->model, k);
        pixl__esc(o, nm ? nm : pixl_dataset_class_name(R->val, k));
        fputs("</span>", o);
    }
    fputs("</div>\n<div class=\"smpwrap\"><table class=\"smp\"><tr><th>sample</th><th>input</th><th>ground truth</th>"
          "<th>prediction</th></tr>\n",
          o);
    for (int i = 0; i < n; i++) {
        char err[1024] = "";
        if (seg_sample_row(o, R, i, col, K, err, sizeof err)) {
            fprintf(o, "<tr><td colspan=\"4\">");
            pixl__note(o, "sample %d: %s", i, err);
            fputs("</td></tr>\n", o);
            pixl_clear_error();
        }
    }
    fputs("</table></div>\n", o);
    if (n == 0) pixl__note(o, "The validation split is empty.");
}

/* the cards and Run rows of the best and last val records */
static void seg_header(pixl__report *R, FILE *o)
{
    const pixl__run_log *L = &R->L;
    char v1[64], d1[600], v2[64], d2[600], best[600], last[600], ck[64], b3[64], b4[64], b5[64];
    pixl__report_summary s = {{{"best val mIoU", "—", L->nva ? "no defined mIoU in the val records" : "no validation records"},
                               {"pixel accuracy", "—", ""}},
                              NULL, NULL, NULL};
    const int b = R->best, l = L->nva - 1;
    if (b >= 0) {
        const pixl__val_rec *r = &L->va[b];
        snprintf(v1, sizeof v1, "%s %%", pixl__pct(b5, sizeof b5, pixl__report_val(R, b, "mean_iou"), 2));
        snprintf(d1, sizeof d1, "at step %.0f, epoch %.0f, %s", r->step, r->epoch,
                 pixl__fmt_minutes(b3, sizeof b3, r->minutes));
        snprintf(v2, sizeof v2, "%s %%", pixl__pct(b5, sizeof b5, pixl__report_val(R, b, "overall_acc"), 2));
        snprintf(d2, sizeof d2, "mean class acc %s %%", pixl__pct(b5, sizeof b5, pixl__report_val(R, b, "mean_acc"), 2));
        s.cards[0] = (pixl__card){"best val mIoU", v1, d1};
        s.cards[1] = (pixl__card){"pixel accuracy (best)", v2, d2};
        snprintf(best, sizeof best, "mIoU %s %% at step %.0f (epoch %.0f, %s), pixel acc %s %%",
                 pixl__pct(b5, sizeof b5, pixl__report_val(R, b, "mean_iou"), 2), r->step, r->epoch,
                 pixl__fmt_minutes(b3, sizeof b3, r->minutes), pixl__pct(b4, sizeof b4, pixl__report_val(R, b, "overall_acc"), 2));
        s.best_row = best;
    }
    if (l >= 0 && l != b) {
        snprintf(last, sizeof last, "mIoU %s %% at step %.0f, pixel acc %s %%",
                 pixl__pct(b5, sizeof b5, pixl__report_val(R, l, "mean_iou"), 2), L->va[l].step,
                 pixl__pct(b4, sizeof b4, pixl__report_val(R, l, "overall_acc"), 2));
        s.last_row = last;
    }
    const char *vm = pixl__report_meta(R, "val_miou");
    if (vm) {
        snprintf(ck, sizeof ck, ", val mIoU %.2f %%", 100 * atof(vm));
        s.ckpt_score = ck;
    }
    pixl__report_header(R, o, &s);
}

int pixl__report_section_seg(pixl__report *R, FILE *o)
{
    R->best = pixl__report_best(R, "mean_iou", 1);
    cJSON *root = NULL;
    double *cm = NULL;
    const cJSON *m = R->best >= 0 ? pixl__report_metrics(R, R->best, &root) : NULL;
    const cJSON *ciou = cJSON_GetObjectItemCaseSensitive(m, "class_iou");
    int K = cJSON_IsObject(ciou) ? cJSON_GetArraySize(ciou) : 0;
    if (K <= 0 && R->model) K = pixl_model_n_classes(R->model);
    if (K > 0 && set_classes(R, K, cJSON_IsObject(ciou) ? ciou : NULL)) {
        cJSON_Delete(root);
        return pixl_set_error(PIXL_ERR_NOMEM, "out of memory");
    }
    if (m && K > 0) cm = confusion_of(m, K);

    seg_header(R, o);
    static const pixl__metric vm[2] = {{"mean_iou", "mIoU", "#2a9d5c", 100}, {"overall_acc", "pixel acc", "#c0504d", 100}};
    const pixl__val_chart vc[2] = {{"Validation vs step", "%", 0, vm, 2, 0, 100, 1},
                                   {"Validation vs wall-clock time", "%", 1, vm, 2, 0, 100, 1}};
    pixl__report_curves(R, o, vc, 2);
    if (!m) {
        fputs("<h2>Per-class results</h2>\n", o);
        pixl__note(o, R->L.nva ? "The validation records have no usable metrics."
                               : "No validation record in log.jsonl: no per-class results or confusion matrix.");
    } else {
        class_table(o, R, m, cm);
        if (cm) confusion_table(o, R, cm);
        else {
            fputs("<h2>Confusion matrix</h2>\n", o);
            pixl__note(o, "The best validation record has no confusion matrix.");
        }
    }
    seg_samples(o, R);
    free(cm);
    cJSON_Delete(root);
    return 0;
}
