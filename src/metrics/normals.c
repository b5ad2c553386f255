/* normals.c — surface-normal metrics: angular error between predicted and
 * ground-truth normals (degrees), mean, median, RMSE and the fraction of
 * pixels within 11.25, 22.5 and 30 degrees (the NYUDv2 protocol). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pixl_impl.h"

#define HIST_BINS 180001 /* 0.001-degree bins over [0, 180] */
#define CHUNKS 64        /* fixed decomposition: sums identical for any thread count */

struct pixl_normal_metrics {
    int64_t n, w11, w22, w30;
    double sum, sum2;
    int64_t *hist;
};

static double angle_deg(const float *pred, const float *gt, int64_t n, int64_t p, int *valid)
{
    double px = pred[p], py = pred[n + p], pz = pred[2 * n + p];
    double gx = gt[p], gy = gt[n + p], gz = gt[2 * n + p];
    double gn = sqrt(gx * gx + gy * gy + gz * gz), pn = sqrt(px * px + py * py + pz * pz);
    *valid = gn > 0 && isfinite(gn);
    if (!*valid) return NAN;
    if (!(pn > 0) || !isfinite(pn)) return 90.0; /* no direction predicted: orthogonal to everything */
    double c = (px * gx + py * gy + pz * gz) / (pn * gn);
    c = c > 1 ? 1 : c < -1 ? -1 : c;
    return acos(c) * (180.0 / 3.14159265358979323846);
}

int pixl_normal_angles(const float *pred, const float *gt, const uint8_t *mask, int64_t n, float *deg)
{
    if (!pred || !gt || !deg || n < 0)
        return pixl_set_error(PIXL_ERR_ARG, "pixl_normal_angles: %s", n < 0 ? "negative pixel count" : "NULL argument");
#pragma omp parallel for num_threads(pixl_num_threads()) schedule(static) if (n > 65536)
    for (int64_t p = 0; p < n; p++) {
        int valid;
        double a = angle_deg(pred, gt, n, p, &valid);
        deg[p] = mask && !mask[p] ? NAN : (float)a;
    }
    return PIXL_OK;
}

pixl_normal_metrics *pixl_normal_metrics_new(void)
{
    pixl_normal_metrics *m = pixl__calloc(1, sizeof *m);
    if (!m) return NULL;
    m->hist = pixl__calloc(HIST_BINS, sizeof(int64_t));
    if (!m->hist) {
        free(m);
        return NULL;
    }
    return m;
}

void pixl_normal_metrics_free(pixl_normal_metrics *m)
{
    if (!m) return;
    free(m->hist);
    free(m);
}

void pixl_normal_metrics_reset(pixl_normal_metrics *m)
{
    if (!m) return;
    int64_t *h = m->hist;
    memset(m, 0, sizeof *m);
    m->hist = h;
    memset(h, 0, sizeof(int64_t) * HIST_BINS);
}

int pixl_normal_metrics_update(pixl_normal_metrics *m, const float *pred, const float *gt, const uint8_t *mask,
                               int64_t n)
{
    if (!m || !pred || !gt || n < 0)
        return pixl_set_error(PIXL_ERR_ARG, "pixl_normal_metrics_update: %s",
                              n < 0 ? "negative pixel count" : "NULL argument");
    double sum[CHUNKS] = {0}, sum2[CHUNKS] = {0};
    int64_t cnt[CHUNKS] = {0}, w11[CHUNKS] = {0}, w22[CHUNKS] = {0}, w30[CHUNKS] = {0};
    int64_t *hist = m->hist;
#pragma omp parallel for num_threads(pixl_num_threads()) schedule(static) if (n > 65536)
    for (int c = 0; c < CHUNKS; c++) {
        int64_t p0 = n * c / CHUNKS, p1 = n * (c + 1) / CHUNKS;
        for (int64_t p = p0; p < p1; p++) {
            if (mask && !mask[p]) continue;
            int valid;
            double a = angle_deg(pred, gt, n, p, &valid);
            if (!valid) continue;
            cnt[c]++;
            sum[c] += a;
            sum2[c] += a * a;
            w11[c] += a < 11.25;
            w22[c] += a < 22.5;
            w30[c] += a < 30;
            int b = (int)(a * 1000);
            if (b >= HIST_BINS) b = HIST_BINS - 1;
#pragma omp atomic
            hist[b]++;
        }
    }
    for (int c = 0; c < CHUNKS; c++) {
        m->n += cnt[c], m->sum += sum[c], m->sum2 += sum2[c];
        m->w11 += w11[c], m->w22 += w22[c], m->w30 += w30[c];
    }
    return PIXL_OK;
}

static double hist_rank(const int64_t *h, int64_t k) /* centre of the bin of the k-th (0-based) smallest value */
{
    int64_t acc = 0;
    for (int b = 0; b < HIST_BINS; b++) {
        acc += h[b];
        if (acc > k) return (b + 0.5) / 1000.0;
    }
    return 180.0;
}

int pixl_normal_metrics_scores(const pixl_normal_metrics *m, pixl_normal_scores *s)
{
    if (!m || !s) return pixl_set_error(PIXL_ERR_ARG, "pixl_normal_metrics_scores: NULL argument");
    memset(s, 0, sizeof *s);
    s->n_pixels = m->n;
    if (m->n == 0) {
        s->mean = s->median = s->rmse = s->within_11_25 = s->within_22_5 = s->within_30 = NAN;
        return PIXL_OK;
    }
    double n = (double)m->n;
    s->mean = m->sum / n;
    s->rmse = sqrt(m->sum2 / n);
    s->median = m->n & 1 ? hist_rank(m->hist, m->n / 2)
                         : 0.5 * (hist_rank(m->hist, m->n / 2 - 1) + hist_rank(m->hist, m->n / 2));
    s->within_11_25 = (double)m->w11 / n;
    s->within_22_5 = (double)m->w22 / n;
    s->within_30 = (double)m->w30 / n;
    return PIXL_OK;
}

static int cmp_f(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

int pixl_normal_scores_exact(const float *pred, const float *gt, const uint8_t *mask, int64_t n, pixl_normal_scores *s)
{
    if (!s) return pixl_set_error(PIXL_ERR_ARG, "pixl_normal_scores_exact: NULL argument");
    pixl_normal_metrics *m = pixl_normal_metrics_new();
    float *a = pixl__malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
    int rc = !m || !a ? PIXL_ERR_NOMEM : pixl_normal_metrics_update(m, pred, gt, mask, n);
    if (!rc) rc = pixl_normal_metrics_scores(m, s);
    if (!rc) rc = pixl_normal_angles(pred, gt, mask, n, a);
    if (!rc && s->n_pixels > 0) {
        int64_t k = 0;
        for (int64_t p = 0; p < n; p++)
            if (!isnan(a[p])) a[k++] = a[p];
        qsort(a, (size_t)k, sizeof(float), cmp_f);
        s->median = k & 1 ? a[k / 2] : 0.5 * ((double)a[k / 2 - 1] + (double)a[k / 2]);
    }
    pixl_normal_metrics_free(m);
    free(a);
    return rc;
}

char *pixl_normal_scores_json(const pixl_normal_scores *s)
{
    if (!s) {
        pixl_set_error(PIXL_ERR_ARG, "pixl_normal_scores_json: NULL scores");
        return NULL;
    }
    pixl_json j = {0};
    pixl_json_begin_object(&j, NULL);
    pixl_json_int(&j, "pixels", s->n_pixels);
    pixl_json_num(&j, "mean", s->mean);
    pixl_json_num(&j, "median", s->median);
    pixl_json_num(&j, "rmse", s->rmse);
    pixl_json_num(&j, "within_11_25", s->within_11_25);
    pixl_json_num(&j, "within_22_5", s->within_22_5);
    pixl_json_num(&j, "within_30", s->within_30);
    pixl_json_end_object(&j);
    return pixl_json_finish(&j, "pixl_normal_scores_json");
}
