/* confusion.c — semantic-segmentation metrics: a K x K confusion matrix with
 * exact 64-bit counts (rows = ground truth, columns = prediction), the scores
 * of pytorch-semseg's runningScore computed from it, a JSON report and a
 * per-class table. (The argmax over the channels of logits that feeds it,
 * pixl_argmax_channels, is in the core: src/ops/argmax.c.)
 *
 * DEFINITIONS (pytorch-semseg ptsemseg/metrics.py, runningScore.get_scores)
 *   hist = confusion matrix, row_i = sum_j hist[i][j], col_j = sum_i hist[i][j]
 *   overall acc   = trace / sum
 *   class acc_i   = hist[i][i] / row_i           (NaN when row_i == 0)
 *   mean acc      = nanmean(class acc)
 *   IoU_i         = hist[i][i] / (row_i + col_i - hist[i][i])
 *                   (NaN when row_i + col_i == 0: class absent from both)
 *   mean IoU      = nanmean(IoU)
 *   freq_i        = row_i / sum
 *   freq-weighted = sum over i with freq_i > 0 of freq_i * IoU_i
 *   With no valid pixel at all, every score is NaN except freq-weighted IoU,
 *   which is 0 (an empty sum), exactly as numpy computes it.
 *
 * Valid pixels: label != ignore_index and 0 <= label < K (pytorch-semseg's
 * mask also drops labels outside [0, K)). A prediction outside [0, K) is an
 * error and leaves the matrix unchanged.
 *
 * Threads: the update splits pixels into one contiguous chunk per thread,
 * each counting into a private matrix; the private matrices are summed in
 * thread order. Counts are integers, so the result is exact for any thread
 * count. */
#include <math.h>
#include <omp.h>

#include "pixl_impl.h"

#define PIXL_CONF_MAX_CLASSES 4096

struct pixl_confusion {
    int k;
    int ignore_index;
    int64_t *m;        /* k*k counts, m[t*k + p] */
    int64_t n_ignored; /* pixels skipped (ignore_index or label outside [0, k)) */
};

pixl_confusion *pixl_confusion_new(int n_classes, int ignore_index)
{
    if (n_classes < 1 || n_classes > PIXL_CONF_MAX_CLASSES) {
        pixl_set_error(PIXL_ERR_ARG, "pixl_confusion_new: n_classes %d outside [1, %d]", n_classes,
                       PIXL_CONF_MAX_CLASSES);
        return NULL;
    }
    pixl_confusion *c = pixl__calloc(1, sizeof *c);
    if (!c) return NULL;
    c->m = pixl__calloc((size_t)n_classes * (size_t)n_classes, sizeof(int64_t));
    if (!c->m) {
        pixl__free(c);
        return NULL;
    }
    c->k = n_classes;
    c->ignore_index = ignore_index;
    return c;
}

void pixl_confusion_free(pixl_confusion *c)
{
    if (!c) return;
    pixl__free(c->m);
    pixl__free(c);
}

void pixl_confusion_reset(pixl_confusion *c)
{
    if (!c) return;
    memset(c->m, 0, sizeof(int64_t) * (size_t)c->k * (size_t)c->k);
    c->n_ignored = 0;
}

int pixl_confusion_n_classes(const pixl_confusion *c) { return c ? c->k : 0; }
int pixl_confusion_ignore_index(const pixl_confusion *c) { return c ? c->ignore_index : 0; }
const int64_t *pixl_confusion_counts(const pixl_confusion *c) { return c ? c->m : NULL; }
int64_t pixl_confusion_ignored(const pixl_confusion *c) { return c ? c->n_ignored : 0; }

int64_t pixl_confusion_total(const pixl_confusion *c)
{
    if (!c) return 0;
    int64_t s = 0;
    for (int64_t i = 0; i < (int64_t)c->k * c->k; i++) s += c->m[i];
    return s;
}

int pixl_confusion_set_counts(pixl_confusion *c, const int64_t *counts)
{
    if (!c || !counts) return pixl_set_error(PIXL_ERR_ARG, "pixl_confusion_set_counts: NULL argument");
    int64_t kk = (int64_t)c->k * c->k;
    for (int64_t i = 0; i < kk; i++)
        if (counts[i] < 0)
            return pixl_set_error(PIXL_ERR_ARG, "pixl_confusion_set_counts: negative count %lld at [%lld][%lld]",
                                  (long long)counts[i], (long long)(i / c->k), (long long)(i % c->k));
    memcpy(c->m, counts, sizeof(int64_t) * (size_t)kk);
    return PIXL_OK;
}

/* count pixels [lo, hi) into m (k*k, zeroed by the caller); returns the
 * index of the first bad prediction in the range or -1, and the number of
 * skipped pixels in *skipped. */
static int64_t count_range(const int32_t *pred, const int32_t *label, int64_t lo, int64_t hi, int k, int ignore,
                           int64_t *m, int64_t *skipped)
{
    int64_t sk = 0;
    for (int64_t i = lo; i < hi; i++) {
        int32_t p = pred[i], t = label[i];
        if (p < 0 || p >= k) {
            *skipped = sk;
            return i;
        }
        if (t == ignore || t < 0 || t >= k) {
            sk++;
            continue;
        }
        m[(int64_t)t * k + p]++;
    }
    *skipped = sk;
    return -1;
}

int pixl_confusion_update(pixl_confusion *c, const int32_t *pred, const int32_t *label, int64_t n)
{
    if (!c || (n > 0 && (!pred || !label)))
        return pixl_set_error(PIXL_ERR_ARG, "pixl_confusion_update: NULL argument");
    if (n < 0) return pixl_set_error(PIXL_ERR_ARG, "pixl_confusion_update: negative pixel count %lld", (long long)n);
    if (n == 0) return PIXL_OK;
    const int k = c->k;
    const int64_t kk = (int64_t)k * k;
    /* one thread per ~64K pixels at least, and never more private matrices
     * than pixels justify */
    int nt = pixl_num_threads();
    int64_t by_size = n / 65536 + 1;
    if (nt > by_size) nt = (int)by_size;
    if (nt < 1) nt = 1;

    /* nt private matrices, then nt first-bad-pixel indices and nt skip counts */
    int64_t *priv = pixl__calloc((size_t)nt * ((size_t)kk + 2), sizeof(int64_t));
    if (!priv) return PIXL_ERR_NOMEM;
    int64_t *bad = priv + (int64_t)nt * kk, *skipped = bad + nt;
    if (nt == 1) {
        bad[0] = count_range(pred, label, 0, n, k, c->ignore_index, priv, &skipped[0]);
    } else {
#pragma omp parallel num_threads(nt)
        {
            int t = omp_get_thread_num(), T = omp_get_num_threads();
            /* the team may be smaller than asked: threads cover chunks t, t+T, ... */
            for (int ch = t; ch < nt; ch += T) {
                int64_t lo = n * ch / nt, hi = n * (ch + 1) / nt;
                bad[ch] = count_range(pred, label, lo, hi, k, c->ignore_index, priv + (int64_t)ch * kk, &skipped[ch]);
            }
        }
    }
    for (int t = 0; t < nt; t++) {
        if (bad[t] >= 0) { /* chunks are in pixel order: the first bad chunk has the first bad pixel */
            int64_t i = bad[t];
            pixl__free(priv);
            return pixl_set_error(PIXL_ERR_ARG,
                                  "pixl_confusion_update: prediction %d at pixel %lld is outside [0, %d) "
                                  "(label there: %d)",
                                  (int)pred[i], (long long)i, k, (int)label[i]);
        }
    }
    for (int t = 0; t < nt; t++) {
        const int64_t *src = priv + (int64_t)t * kk;
        for (int64_t i = 0; i < kk; i++) c->m[i] += src[i];
        c->n_ignored += skipped[t];
    }
    pixl__free(priv);
    return PIXL_OK;
}

int pixl_confusion_merge(pixl_confusion *dst, const pixl_confusion *src)
{
    if (!dst || !src) return pixl_set_error(PIXL_ERR_ARG, "pixl_confusion_merge: NULL argument");
    if (dst->k != src->k)
        return pixl_set_error(PIXL_ERR_SHAPE, "pixl_confusion_merge: %d classes vs %d classes", dst->k, src->k);
    for (int64_t i = 0; i < (int64_t)dst->k * dst->k; i++) dst->m[i] += src->m[i];
    dst->n_ignored += src->n_ignored;
    return PIXL_OK;
}

/* ------------------------------------------------------------------ scores */

int pixl_confusion_scores(const pixl_confusion *c, pixl_seg_scores *s, double *class_iou, double *class_acc)
{
    if (!c || !s) return pixl_set_error(PIXL_ERR_ARG, "pixl_confusion_scores: NULL argument");
    const int k = c->k;
    const int64_t *m = c->m;
    double *row = pixl__calloc((size_t)k * 2, sizeof(double));
    if (!row) return PIXL_ERR_NOMEM;
    double *col = row + k;
    int64_t total = 0, trace = 0;
    for (int i = 0; i < k; i++) {
        int64_t r = 0;
        for (int j = 0; j < k; j++) {
            r += m[(int64_t)i * k + j];
            col[j] += (double)m[(int64_t)i * k + j];
        }
        row[i] = (double)r;
        total += r;
        trace += m[(int64_t)i * k + i];
    }
    /* counts below 2^53 convert to double exactly; sums are over exact values */
    double sum = (double)total;
    double acc_sum = 0, iou_sum = 0, fw = 0;
    int acc_n = 0, iou_n = 0, present = 0;
    for (int i = 0; i < k; i++) {
        double d = (double)m[(int64_t)i * k + i];
        double acc = row[i] > 0 ? d / row[i] : NAN;
        double den = row[i] + col[i] - d;
        double iou = row[i] + col[i] > 0 ? d / den : NAN;
        if (class_acc) class_acc[i] = acc;
        if (class_iou) class_iou[i] = iou;
        if (!isnan(acc)) acc_sum += acc, acc_n++;
        if (!isnan(iou)) iou_sum += iou, iou_n++;
        if (row[i] > 0) {
            fw += row[i] / sum * iou;
            present++;
        }
    }
    s->n_classes = k;
    s->n_pixels = total;
    s->n_present = present;
    s->n_ignored = c->n_ignored;
    s->overall_acc = total > 0 ? (double)trace / sum : NAN;
    s->mean_acc = acc_n ? acc_sum / acc_n : NAN;
    s->mean_iou = iou_n ? iou_sum / iou_n : NAN;
    s->freq_weighted_iou = fw;
    pixl__free(row);
    return PIXL_OK;
}

/* ------------------------------------------------------------- reporting */

/* per-class numbers as an object keyed by class name (or index) */
static void class_object(pixl_json *j, const char *key, const char *const *names, const double *v, int k)
{
    pixl_json_begin_object(j, key);
    for (int i = 0; i < k; i++) {
        char idx[16];
        snprintf(idx, sizeof idx, "%d", i);
        pixl_json_num(j, names && names[i] ? names[i] : idx, v[i]);
    }
    pixl_json_end_object(j);
}

char *pixl_metrics_json(const pixl_confusion *c, const char *const *class_names, int with_confusion)
{
    if (!c) {
        pixl_set_error(PIXL_ERR_ARG, "pixl_metrics_json: NULL confusion matrix");
        return NULL;
    }
    const int k = c->k;
    double *iou = pixl__malloc(sizeof(double) * 2 * (size_t)k);
    if (!iou) return NULL;
    double *acc = iou + k;
    pixl_seg_scores s;
    if (pixl_confusion_scores(c, &s, iou, acc) != PIXL_OK) {
        pixl__free(iou);
        return NULL;
    }
    pixl_json j = {0};
    pixl_json_begin_object(&j, NULL);
    pixl_json_int(&j, "n_classes", k);
    pixl_json_int(&j, "pixels", s.n_pixels);
    pixl_json_int(&j, "ignored", s.n_ignored);
    pixl_json_num(&j, "overall_acc", s.overall_acc);
    pixl_json_num(&j, "mean_acc", s.mean_acc);
    pixl_json_num(&j, "freq_weighted_iou", s.freq_weighted_iou);
    pixl_json_num(&j, "mean_iou", s.mean_iou);
    class_object(&j, "class_iou", class_names, iou, k);
    class_object(&j, "class_acc", class_names, acc, k);
    if (with_confusion) {
        pixl_json_begin_array(&j, "confusion");
        for (int i = 0; i < k; i++) {
            pixl_json_begin_array(&j, NULL);
            for (int jj = 0; jj < k; jj++) pixl_json_int(&j, NULL, c->m[(int64_t)i * k + jj]);
            pixl_json_end_array(&j);
        }
        pixl_json_end_array(&j);
    }
    pixl_json_end_object(&j);
    pixl__free(iou);
    return pixl_json_finish(&j, "pixl_metrics_json");
}

static void pct(char *buf, size_t len, double v)
{
    if (isnan(v)) snprintf(buf, len, "%s", "-");
    else snprintf(buf, len, "%.2f", 100.0 * v);
}

int pixl_metrics_print(FILE *f, const pixl_confusion *c, const char *const *class_names)
{
    if (!f || !c) return pixl_set_error(PIXL_ERR_ARG, "pixl_metrics_print: NULL argument");
    const int k = c->k;
    double *iou = pixl__malloc(sizeof(double) * 2 * (size_t)k);
    if (!iou) return PIXL_ERR_NOMEM;
    double *acc = iou + k;
    pixl_seg_scores s;
    int rc = pixl_confusion_scores(c, &s, iou, acc);
    if (rc != PIXL_OK) {
        pixl__free(iou);
        return rc;
    }
    int wname = 5;
    for (int i = 0; class_names && i < k; i++)
        if (class_names[i] && (int)strlen(class_names[i]) > wname) wname = (int)strlen(class_names[i]);
    if (wname > 32) wname = 32;
    fprintf(f, "%4s  %-*s  %7s  %7s  %12s\n", "id", wname, "class", "IoU %", "acc %", "gt pixels");
    for (int i = 0; i < k; i++) {
        int64_t row = 0;
        for (int j = 0; j < k; j++) row += c->m[(int64_t)i * k + j];
        char a[32], u[32], nm[16];
        pct(u, sizeof u, iou[i]);
        pct(a, sizeof a, acc[i]);
        snprintf(nm, sizeof nm, "%d", i);
        const char *name = class_names && class_names[i] ? class_names[i] : nm;
        fprintf(f, "%4d  %-*.*s  %7s  %7s  %12lld\n", i, wname, wname, name, u, a, (long long)row);
    }
    char mi[32], oa[32], ma[32], fw[32];
    pct(mi, sizeof mi, s.mean_iou);
    pct(oa, sizeof oa, s.overall_acc);
    pct(ma, sizeof ma, s.mean_acc);
    pct(fw, sizeof fw, s.freq_weighted_iou);
    fprintf(f, "mean IoU %s%%  overall acc %s%%  mean acc %s%%  freq-weighted IoU %s%%  (%lld pixels, %lld ignored)\n",
            mi, oa, ma, fw, (long long)s.n_pixels, (long long)s.n_ignored);
    pixl__free(iou);
    return ferror(f) ? pixl_set_error(PIXL_ERR_IO, "pixl_metrics_print: write failed") : PIXL_OK;
}
