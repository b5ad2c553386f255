/* query_stats.c — statistics of a round's picks (PixelPick's QueryStats):
 * label histogram, mean entropy of the picks, distinct labels per image,
 * mean pairwise distance ("spatial coverage"). Contract in pixl_train.h.
 *
 * Differences from PixelPick: a label outside [0, n_classes) is counted in
 * other_labels (PixelPick's dictionary has no key for it), and an image with
 * fewer than two picks is left out of the mean distance (PixelPick's NaN
 * for it makes the whole round's mean NaN). */
#include <math.h>

#include "active/active_impl.h"

struct pixl_query_stats {
    int n_classes;
    int64_t *hist; /* n_classes */
    int64_t images, picks, other, entropy_picks, distance_images;
    double sum_entropy, sum_distinct, sum_distance;
};

pixl_query_stats *pixl_query_stats_new(int n_classes)
{
    if (n_classes < 1) {
        pixl_set_error(PIXL_ERR_ARG, "pixl_query_stats_new: %d classes, need at least 1", n_classes);
        return NULL;
    }
    pixl_query_stats *s = pixl__calloc(1, sizeof *s);
    if (s) s->hist = pixl__calloc((size_t)n_classes, sizeof *s->hist);
    if (!s || !s->hist) {
        free(s);
        return NULL;
    }
    s->n_classes = n_classes;
    return s;
}

void pixl_query_stats_free(pixl_query_stats *s)
{
    if (!s) return;
    free(s->hist);
    free(s);
}

static int cmp_i32(const void *a, const void *b)
{
    const int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* distinct label values among the n picks (sorts `tmp`, n entries) */
static int64_t distinct_labels(const int32_t *picks, int n, const int32_t *labels, int32_t *tmp)
{
    for (int j = 0; j < n; j++) tmp[j] = labels[picks[j]];
    qsort(tmp, (size_t)n, sizeof *tmp, cmp_i32);
    int64_t d = 0;
    for (int j = 0; j < n; j++) d += j == 0 || tmp[j] != tmp[j - 1];
    return d;
}

/* mean Euclidean distance over the n(n-1)/2 pairs of picks, n >= 2 */
static double mean_distance(const int32_t *picks, int n, int w)
{
    double sum = 0;
    for (int a = 0; a < n; a++)
        for (int b = a + 1; b < n; b++) {
            const double dy = picks[a] / w - picks[b] / w, dx = picks[a] % w - picks[b] % w;
            sum += sqrt(dy * dy + dx * dx);
        }
    return sum / ((double)n * (n - 1) / 2);
}

int pixl_query_stats_add(pixl_query_stats *s, const int32_t *picks, int n, int h, int w, const int32_t *labels,
                         const float *prob)
{
    static const char fn[] = "pixl_query_stats_add";
    int rc = pixl__query_check_size(fn, h, w);
    if (rc) return rc;
    if (!s || !labels || n < 0 || (n > 0 && !picks))
        return pixl_set_error(PIXL_ERR_ARG, "%s: %s (image %dx%d, n %d)", fn,
                              !s ? "stats is NULL" : !labels ? "labels is NULL" : n < 0 ? "n < 0" : "picks is NULL", h,
                              w, n);
    const int64_t hw = (int64_t)h * w;
    for (int j = 0; j < n; j++)
        if (picks[j] < 0 || picks[j] >= hw)
            return pixl_set_error(PIXL_ERR_ARG, "%s: pick %d is pixel %d, outside the %dx%d image", fn, j, picks[j],
                                  h, w);
    if (prob && (rc = pixl__query_check_prob(fn, "prob", prob, s->n_classes, h, w))) return rc;
    int32_t *tmp = pixl__malloc((size_t)(n ? n : 1) * sizeof *tmp);
    if (!tmp) return PIXL_ERR_NOMEM;
    for (int j = 0; j < n; j++) {
        const int32_t l = labels[picks[j]];
        if (l >= 0 && l < s->n_classes) s->hist[l]++;
        else s->other++;
        if (prob) s->sum_entropy += pixl__query_entropy(prob + picks[j], hw, s->n_classes);
    }
    if (prob) s->entropy_picks += n;
    s->sum_distinct += (double)distinct_labels(picks, n, labels, tmp);
    free(tmp);
    if (n >= 2) {
        s->sum_distance += mean_distance(picks, n, w);
        s->distance_images++;
    }
    s->images++;
    s->picks += n;
    return PIXL_OK;
}

int pixl_query_stats_summary(const pixl_query_stats *s, pixl_query_summary *out)
{
    if (!s || !out) return pixl_set_error(PIXL_ERR_ARG, "pixl_query_stats_summary: NULL %s", s ? "output" : "stats");
    *out = (pixl_query_summary){
        .images = s->images,
        .picks = s->picks,
        .other_labels = s->other,
        .mean_entropy = s->entropy_picks ? s->sum_entropy / (double)s->entropy_picks : NAN,
        .mean_distinct_labels = s->images ? s->sum_distinct / (double)s->images : NAN,
        .mean_pairwise_distance = s->distance_images ? s->sum_distance / (double)s->distance_images : NAN,
        .distance_images = s->distance_images,
    };
    return PIXL_OK;
}

const int64_t *pixl_query_stats_histogram(const pixl_query_stats *s) { return s ? s->hist : NULL; }

char *pixl_query_stats_json(const pixl_query_stats *s)
{
    pixl_query_summary sum;
    if (pixl_query_stats_summary(s, &sum)) return NULL;
    pixl_json j = {0};
    pixl_json_begin_object(&j, NULL);
    pixl_json_int(&j, "images", sum.images);
    pixl_json_int(&j, "picks", sum.picks);
    pixl_json_begin_array(&j, "label_histogram");
    for (int c = 0; c < s->n_classes; c++) pixl_json_int(&j, NULL, s->hist[c]);
    pixl_json_end_array(&j);
    pixl_json_int(&j, "other_labels", sum.other_labels);
    pixl_json_num(&j, "mean_entropy", sum.mean_entropy);
    pixl_json_num(&j, "mean_distinct_labels", sum.mean_distinct_labels);
    pixl_json_num(&j, "mean_pairwise_distance", sum.mean_pairwise_distance);
    pixl_json_int(&j, "distance_images", sum.distance_images);
    pixl_json_end_object(&j);
    return pixl_json_finish(&j, "pixl_query_stats_json");
}
