/* edge_bench.c — the BSDS boundary benchmark: edge non-maximum suppression,
 * morphological thinning, minimum-cost correspondence of boundary pixels and
 * the ODS / OIS / AP summaries.
 *
 * Protocol (as the BSDS500 benchmark and Dollar's edgesEvalImg/edgesEvalDir):
 *   1. NMS of the soft edge map E (pixl_edge_nms: the edgesNms recipe HED
 *      and RCF evaluate with).
 *   2. For each threshold t_k = k/(K+1), k = 1..K: B = E >= max(eps, t_k),
 *      thinned to one-pixel lines (pixl_edge_thin, bwmorph 'thin' Inf).
 *   3. For each human map G_g: a minimum-cost assignment of B's pixels to
 *      G_g's pixels (pixl_edge_correspond); a pair may match only within
 *      max_dist * image diagonal; an unmatched pixel costs outlier_cost *
 *      max_dist. cnt_r += matched pixels of G_g, sum_r += pixels of G_g;
 *      a pixel of B is correct when it matched some human: cnt_p counts
 *      them once, sum_p = pixels of B.
 *   4. ODS: R, P of the counts summed over images at each threshold, best F
 *      along the linear interpolation between neighbouring thresholds (100
 *      steps). OIS: each image's best threshold (no interpolation), counts
 *      summed over images at those thresholds. AP: precision interpolated
 *      linearly at recall 0, 0.01, .., 1 over the recall range reached, sum
 *      / 100. The correspondence is in
 * edge_match.c, NMS and thinning in edge_nms.c. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "metrics/edge_impl.h"


/* ------------------------------------------------------------ benchmark */

#define PIXL_EDGE_MAX_DIST 0.25      /* max_dist, a fraction of the diagonal */
#define PIXL_EDGE_MAX_DIST_PX 1000.0 /* the same in pixels on one image (the matcher's neighbourhood) */

/* the options with their defaults for 0; a value that makes no sense
 * (negative, NaN, a tolerance whose radius would not fit the matcher's
 * indices) is an error naming the option, never the default */
static int resolve_opts(const pixl_edge_bench_opts *o, int *K, double *md, double *oc, int *nms, int *thin)
{
    *K = o && o->n_thresholds ? o->n_thresholds : 99;
    *md = o && o->max_dist != 0 ? o->max_dist : 0.0075;
    *oc = o && o->outlier_cost != 0 ? o->outlier_cost : 100;
    *nms = !(o && o->no_nms);
    *thin = !(o && o->no_thin);
    if (!(*md > 0 && *md <= PIXL_EDGE_MAX_DIST))
        return pixl_set_error(PIXL_ERR_ARG, "edge benchmark: max_dist %g outside (0, %g] (a fraction of the image "
                                            "diagonal; 0 = the default 0.0075)",
                              *md, PIXL_EDGE_MAX_DIST);
    if (!(*oc > 1 && *oc <= 1e6))
        return pixl_set_error(PIXL_ERR_ARG, "edge benchmark: outlier_cost %g outside (1, 1e6] (0 = the default 100)",
                              *oc);
    return PIXL_OK;
}

static int check_sample(const pixl_edge_sample *s, int i)
{
    if (!s->pred || !s->gt || s->width < 1 || s->height < 1 || s->n_gt < 1 || s->width > PIXL_IMAGE_MAX_DIM ||
        s->height > PIXL_IMAGE_MAX_DIM)
        return pixl_set_error(PIXL_ERR_ARG, "edge benchmark: sample %d is %dx%d with %d human map(s)%s", i,
                              s->width, s->height, s->n_gt, !s->pred || !s->gt ? " and a NULL map" : "");
    return PIXL_OK;
}

/* counts of one image at thresholds thr[k0..k1) from its (NMS'd) map E */
static int eval_thresholds(const pixl_edge_sample *s, const float *E, const double *thr, int k0, int k1, double md_frac,
                           double oc, int thin, pixl_edge_counts *out)
{
    const int w = s->width, h = s->height;
    const size_t n = (size_t)w * h;
    double md = md_frac * sqrt((double)w * w + (double)h * h);
    if (md > PIXL_EDGE_MAX_DIST_PX)
        return pixl_set_error(PIXL_ERR_ARG, "edge benchmark: max_dist %g is %.0f pixels on a %dx%d image, above %.0f",
                              md_frac, md, w, h, PIXL_EDGE_MAX_DIST_PX);
    pixl__edge_matcher *m = pixl__edge_matcher_new(w, h, md, oc);
    uint8_t *B = pixl__malloc(n * 2);
    int32_t *list = pixl__malloc(sizeof(int32_t) * n * 2);
    int rc = PIXL_OK;
    if (!m || !B || !list) rc = PIXL_ERR_NOMEM;
    uint8_t *hit = B ? B + n : NULL;
    int64_t *gt_count = rc ? NULL : calloc((size_t)s->n_gt, sizeof(int64_t));
    if (!rc && !gt_count) rc = pixl_set_error(PIXL_ERR_NOMEM, "edge benchmark: out of memory");
    for (int g = 0; !rc && g < s->n_gt; g++) {
        const uint8_t *G = s->gt + (size_t)g * n;
        for (size_t p = 0; p < n; p++) gt_count[g] += G[p] != 0;
    }
    for (int k = k0; !rc && k < k1; k++) {
        double t = thr[k] > 2.220446049250313e-16 ? thr[k] : 2.220446049250313e-16;
        int cnt = 0;
        for (size_t p = 0; p < n; p++) {
            B[p] = (double)E[p] >= t;
            if (B[p]) list[cnt++] = (int32_t)p;
            hit[p] = 0;
        }
        if (thin && cnt) cnt = pixl__edge_thin_list(B, w, h, list, cnt, list + n);
        pixl_edge_counts c = {0, 0, 0, cnt};
        for (int g = 0; !rc && g < s->n_gt; g++) {
            int64_t mt = 0;
            if (cnt) rc = pixl__edge_matcher_run(m, B, s->gt + (size_t)g * n, NULL, NULL, hit, &mt, NULL, md, oc);
            c.cnt_r += mt;
            c.sum_r += gt_count[g];
        }
        for (int i = 0; i < cnt; i++) c.cnt_p += hit[list[i]];
        out[k] = c;
    }
    free(gt_count);
    free(B), free(list);
    pixl__edge_matcher_free(m);
    return rc;
}

int pixl_edge_thresholds(int n, double *thr)
{
    if (n < 1 || n > PIXL_EDGE_MAX_THRESHOLDS || !thr)
        return pixl_set_error(PIXL_ERR_ARG, "edge benchmark: %d thresholds (1..%d)", n, PIXL_EDGE_MAX_THRESHOLDS);
    for (int k = 0; k < n; k++) thr[k] = (double)(k + 1) / (n + 1);
    return PIXL_OK;
}

int pixl_edge_eval_image(const pixl_edge_sample *s, const pixl_edge_bench_opts *o, pixl_edge_counts *counts)
{
    if (!s || !counts) return pixl_set_error(PIXL_ERR_ARG, "pixl_edge_eval_image: NULL argument");
    int K, nms, thin;
    double md, oc;
    int rc = resolve_opts(o, &K, &md, &oc, &nms, &thin);
    if (rc) return rc;
    double thr[PIXL_EDGE_MAX_THRESHOLDS];
    rc = pixl_edge_thresholds(K, thr);
    if (rc || (rc = check_sample(s, 0))) return rc;
    size_t n = (size_t)s->width * s->height;
    float *E = pixl__malloc(sizeof(float) * n);
    if (!E) return PIXL_ERR_NOMEM;
    if (nms) rc = pixl_edge_nms(s->pred, s->width, s->height, E);
    else memcpy(E, s->pred, sizeof(float) * n);
    if (!rc) rc = eval_thresholds(s, E, thr, 0, K, md, oc, thin, counts);
    free(E);
    return rc;
}

static double fmeas(double p, double r) { return 2 * p * r / (p + r > 2.220446049250313e-16 ? p + r : 2.220446049250313e-16); }
static double ratio(int64_t a, int64_t b) { return (double)a / (b > 0 ? (double)b : 2.220446049250313e-16); }

int pixl_edge_scores(const pixl_edge_counts *counts, int n_images, int n_thresholds, pixl_edge_bench_result *res)
{
    if (!counts || !res || n_images < 1 || n_thresholds < 1 || n_thresholds > PIXL_EDGE_MAX_THRESHOLDS)
        return pixl_set_error(PIXL_ERR_ARG, "pixl_edge_scores: %d images, %d thresholds (1..%d)%s", n_images,
                              n_thresholds, PIXL_EDGE_MAX_THRESHOLDS, !counts || !res ? ", NULL pointer" : "");
    const int K = n_thresholds;
    double seconds = res->seconds;
    memset(res, 0, sizeof *res);
    res->seconds = seconds;
    res->n_images = n_images;
    res->n_thresholds = K;
    pixl_edge_thresholds(K, res->thresholds);
    pixl_edge_counts ois = {0, 0, 0, 0};
    for (int i = 0; i < n_images; i++) {
        const pixl_edge_counts *c = counts + (size_t)i * K;
        int best = 0;
        double bf = -1;
        for (int k = 0; k < K; k++) {
            res->total[k].cnt_r += c[k].cnt_r, res->total[k].sum_r += c[k].sum_r;
            res->total[k].cnt_p += c[k].cnt_p, res->total[k].sum_p += c[k].sum_p;
            double f = fmeas(ratio(c[k].cnt_p, c[k].sum_p), ratio(c[k].cnt_r, c[k].sum_r));
            if (f > bf) bf = f, best = k;
        }
        ois.cnt_r += c[best].cnt_r, ois.sum_r += c[best].sum_r;
        ois.cnt_p += c[best].cnt_p, ois.sum_p += c[best].sum_p;
    }
    res->ois_r = ratio(ois.cnt_r, ois.sum_r);
    res->ois_p = ratio(ois.cnt_p, ois.sum_p);
    res->ois_f = fmeas(res->ois_p, res->ois_r);
    double R[PIXL_EDGE_MAX_THRESHOLDS], P[PIXL_EDGE_MAX_THRESHOLDS];
    for (int k = 0; k < K; k++) {
        R[k] = ratio(res->total[k].cnt_r, res->total[k].sum_r);
        P[k] = ratio(res->total[k].cnt_p, res->total[k].sum_p);
    }
    /* ODS: best F along the segments between neighbouring thresholds */
    if (K == 1) {
        res->ods_r = R[0], res->ods_p = P[0], res->ods_t = res->thresholds[0], res->ods_f = fmeas(P[0], R[0]);
    } else {
        double bf = -1;
        for (int j = 1; j < K; j++)
            for (int i = 0; i < 100; i++) {
                double a = i / 99.0, b = 1 - a;
                double r = R[j] * a + R[j - 1] * b, p = P[j] * a + P[j - 1] * b;
                double t = res->thresholds[j] * a + res->thresholds[j - 1] * b;
                double f = fmeas(p, r);
                if (f > bf) bf = f, res->ods_f = f, res->ods_r = r, res->ods_p = p, res->ods_t = t;
            }
    }
    /* AP: precision at recall 0:0.01:1 by linear interpolation over the
     * distinct recalls (for repeated recalls the highest threshold's
     * precision, as MATLAB's legacy unique), NaN outside the range dropped */
    double ur[PIXL_EDGE_MAX_THRESHOLDS], up[PIXL_EDGE_MAX_THRESHOLDS];
    int nu = 0;
    for (int k = K - 1; k >= 0; k--) { /* R is non-increasing in k: walk upward in recall */
        if (nu > 0 && R[k] == ur[nu - 1]) continue; /* keep the highest threshold of a repeated recall */
        ur[nu] = R[k], up[nu] = P[k], nu++;
    }
    /* sort by recall (insertion; nearly sorted already) */
    for (int i = 1; i < nu; i++) {
        double r = ur[i], p = up[i];
        int j = i - 1;
        while (j >= 0 && ur[j] > r) ur[j + 1] = ur[j], up[j + 1] = up[j], j--;
        ur[j + 1] = r, up[j + 1] = p;
    }
    double ap = 0;
    if (nu > 1)
        for (int i = 0; i <= 100; i++) {
            double r = i / 100.0;
            if (r < ur[0] || r > ur[nu - 1]) continue;
            int j = 0;
            while (j < nu - 2 && ur[j + 1] < r) j++;
            double p = ur[j + 1] > ur[j] ? up[j] + (up[j + 1] - up[j]) * (r - ur[j]) / (ur[j + 1] - ur[j]) : up[j];
            ap += p;
        }
    res->ap = ap / 100;
    return PIXL_OK;
}

int pixl_edge_benchmark(const pixl_edge_sample *samples, int n, const pixl_edge_bench_opts *o,
                        pixl_edge_bench_result *res)
{
    if (!samples || !res || n < 1)
        return pixl_set_error(PIXL_ERR_ARG, "pixl_edge_benchmark: %d samples%s", n,
                              !samples || !res ? ", NULL pointer" : "");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int K, nms, thin;
    double md, oc;
    int rc = resolve_opts(o, &K, &md, &oc, &nms, &thin);
    if (rc) return rc;
    double thr[PIXL_EDGE_MAX_THRESHOLDS];
    rc = pixl_edge_thresholds(K, thr);
    for (int i = 0; !rc && i < n; i++) rc = check_sample(&samples[i], i);
    if (rc) return rc;
    float **E = calloc((size_t)n, sizeof(float *));
    pixl_edge_counts *counts = calloc((size_t)n * K, sizeof *counts);
    if (!E || !counts) {
        free(E), free(counts);
        return pixl_set_error(PIXL_ERR_NOMEM, "pixl_edge_benchmark: out of memory");
    }
    int nt = pixl_num_threads();
    char first_err[512] = "";
    int *status = calloc((size_t)n * K + n, sizeof(int));
    if (!status) {
        free(E), free(counts);
        return pixl_set_error(PIXL_ERR_NOMEM, "pixl_edge_benchmark: out of memory");
    }
    /* NMS per image */
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
    for (int i = 0; i < n; i++) {
        size_t np = (size_t)samples[i].width * samples[i].height;
        E[i] = malloc(sizeof(float) * np);
        if (!E[i]) status[i] = pixl_set_error(PIXL_ERR_NOMEM, "pixl_edge_benchmark: out of memory");
        else if (nms) status[i] = pixl_edge_nms(samples[i].pred, samples[i].width, samples[i].height, E[i]);
        else memcpy(E[i], samples[i].pred, sizeof(float) * np);
        if (status[i]) {
#pragma omp critical(pixl_edge_bench_err)
            if (!first_err[0]) snprintf(first_err, sizeof first_err, "%s", pixl_last_error());
        }
    }
    for (int i = 0; !rc && i < n; i++) rc = status[i];
    /* one task per (image, block of thresholds); each writes its own slots */
    const int blk = 4;
    const int nb = (K + blk - 1) / blk;
    if (!rc) {
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
        for (int task = 0; task < n * nb; task++) {
            int i = task / nb, b = task % nb;
            int k0 = b * blk, k1 = k0 + blk < K ? k0 + blk : K;
            status[n + task] = eval_thresholds(&samples[i], E[i], thr, k0, k1, md, oc, thin, counts + (size_t)i * K);
            if (status[n + task]) {
#pragma omp critical(pixl_edge_bench_err)
                if (!first_err[0]) snprintf(first_err, sizeof first_err, "%s", pixl_last_error());
            }
        }
        for (int t = 0; !rc && t < n * nb; t++) rc = status[n + t];
    }
    if (rc) /* the message was recorded on a worker thread */
        pixl_set_error(rc, "pixl_edge_benchmark: %s", first_err[0] ? first_err : pixl_status_name(rc));
    for (int i = 0; i < n; i++) free(E[i]);
    free(E), free(status);
    if (!rc) {
        clock_gettime(CLOCK_MONOTONIC, &t1);
        res->seconds = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        rc = pixl_edge_scores(counts, n, K, res);
    }
    free(counts);
    return rc;
}

/* the scores; with_counts adds the run time and the per-threshold counts */
static char *scores_json(const pixl_edge_bench_result *r, int with_counts, const char *what)
{
    if (!r) {
        pixl_set_error(PIXL_ERR_ARG, "%s: NULL result", what);
        return NULL;
    }
    pixl_json j = {0};
    pixl_json_begin_object(&j, NULL);
    pixl_json_int(&j, "n_images", r->n_images);
    pixl_json_int(&j, "n_thresholds", r->n_thresholds);
    pixl_json_num(&j, "ods_f", r->ods_f);
    pixl_json_num(&j, "ods_p", r->ods_p);
    pixl_json_num(&j, "ods_r", r->ods_r);
    pixl_json_num(&j, "ods_t", r->ods_t);
    pixl_json_num(&j, "ois_f", r->ois_f);
    pixl_json_num(&j, "ois_p", r->ois_p);
    pixl_json_num(&j, "ois_r", r->ois_r);
    pixl_json_num(&j, "ap", r->ap);
    if (with_counts) {
        pixl_json_num(&j, "seconds", r->seconds);
        pixl_json_begin_array(&j, "thresholds");
        for (int k = 0; k < r->n_thresholds; k++) {
            pixl_json_begin_object(&j, NULL);
            pixl_json_num(&j, "t", r->thresholds[k]);
            pixl_json_int(&j, "cnt_r", r->total[k].cnt_r);
            pixl_json_int(&j, "sum_r", r->total[k].sum_r);
            pixl_json_int(&j, "cnt_p", r->total[k].cnt_p);
            pixl_json_int(&j, "sum_p", r->total[k].sum_p);
            pixl_json_end_object(&j);
        }
        pixl_json_end_array(&j);
    }
    pixl_json_end_object(&j);
    return pixl_json_finish(&j, what);
}

char *pixl_edge_scores_json(const pixl_edge_bench_result *r) { return scores_json(r, 0, "pixl_edge_scores_json"); }
char *pixl_edge_bench_json(const pixl_edge_bench_result *r) { return scores_json(r, 1, "pixl_edge_bench_json"); }
