/* query_select.c — which pixels of an image PixelPick asks for: the
 * candidates (neither labelled nor void) ranked by uncertainty, then the
 * top-n, the diversity rule (n at random from the most uncertain pool) or
 * its reverse (the most uncertain n of a random pool). Contract in
 * pixl_train.h, rules in docs/pixelpick.md.
 *
 * A candidate's rank key is its score, negated when larger scores are more
 * uncertain, so ascending (key, index) order is most uncertain first with
 * ties to the lower index. Random draws are partial Fisher-Yates shuffles
 * whose j-th swap partner is j + hash(key, j) mod (m - j), with the key
 * derived from the seed alone. */
#include <math.h>

#include "active/active_impl.h"

typedef struct {
    float key;   /* score, or -score when larger is more uncertain */
    int32_t idx; /* y * w + x */
} ranked;

static int cmp_ranked(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

static int cmp_i64(const void *a, const void *b)
{
    const int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* bring k uniformly drawn entries of v[0..m) to its front, without replacement */
static void draw_front(ranked *v, int64_t m, int64_t k, uint64_t key)
{
    for (int64_t j = 0; j < k; j++) {
        const int64_t r = j + (int64_t)(pixl__hash64(key, (uint64_t)j) % (uint64_t)(m - j));
        const ranked t = v[j];
        v[j] = v[r];
        v[r] = t;
    }
}

/* n of the first `pool` entries of sorted c at random, listed in rank order */
static int pick_from_top(const ranked *c, int64_t pool, int64_t n, uint64_t key, int32_t *picks)
{
    int64_t *pos = pixl__malloc((size_t)pool * sizeof *pos);
    if (!pos) return PIXL_ERR_NOMEM;
    for (int64_t j = 0; j < pool; j++) pos[j] = j;
    for (int64_t j = 0; j < n; j++) {
        const int64_t r = j + (int64_t)(pixl__hash64(key, (uint64_t)j) % (uint64_t)(pool - j));
        const int64_t t = pos[j];
        pos[j] = pos[r];
        pos[r] = t;
    }
    qsort(pos, (size_t)n, sizeof *pos, cmp_i64);
    for (int64_t j = 0; j < n; j++) picks[j] = c[pos[j]].idx;
    free(pos);
    return PIXL_OK;
}

static int check_opts(const char *fn, const pixl_query_opts *o)
{
    if (o->strategy < PIXL_QUERY_MARGIN || o->strategy > PIXL_QUERY_RANDOM)
        return pixl_set_error(PIXL_ERR_ARG, "%s: unknown strategy %d (valid: 0..3, margin .. random)", fn,
                              (int)o->strategy);
    if (o->selection < PIXL_QUERY_TOP_FRACTION || o->selection > PIXL_QUERY_REVERSE)
        return pixl_set_error(PIXL_ERR_ARG, "%s: unknown selection %d (valid: 0..2, top_fraction, top_n, reverse)", fn,
                              (int)o->selection);
    if (!(o->top_fraction >= 0 && o->top_fraction <= 1))
        return pixl_set_error(PIXL_ERR_ARG, "%s: top_fraction %g is outside [0, 1] (0: the default 0.05)", fn,
                              o->top_fraction);
    return PIXL_OK;
}

int pixl_query_select(const float *score, int h, int w, const uint8_t *labelled, const int32_t *labels,
                      const pixl_query_opts *o, int n, uint64_t seed, int32_t *picks)
{
    static const char fn[] = "pixl_query_select";
    static const pixl_query_opts defaults = {0};
    if (!o) o = &defaults;
    int rc = check_opts(fn, o);
    if (!rc) rc = pixl__query_check_size(fn, h, w);
    if (rc) return rc;
    if (n < 0) return pixl_set_error(PIXL_ERR_ARG, "%s: n is %d, must be >= 0 (image %dx%d)", fn, n, h, w);
    if (!score || (n > 0 && !picks))
        return pixl_set_error(PIXL_ERR_ARG, "%s: %s is NULL (image %dx%d, n %d)", fn, score ? "picks" : "score", h, w,
                              n);
    const int64_t hw = (int64_t)h * w;
    const int32_t void_label = o->ignore_label ? o->ignore_label : PIXL_IGNORE_LABEL;
    const float sign = pixl_query_high_is_uncertain(o->strategy) ? -1.0f : 1.0f;
    ranked *c = pixl__malloc((size_t)hw * sizeof *c);
    if (!c) return PIXL_ERR_NOMEM;
    int64_t m = 0; /* candidates */
    for (int64_t q = 0; q < hw; q++) {
        if ((labelled && labelled[q]) || (labels && labels[q] == void_label)) continue;
        if (!isfinite(score[q])) {
            free(c);
            return pixl_set_error(PIXL_ERR_ARG, "%s: score at y %d, x %d of the %dx%d map is %g", fn, (int)(q / w),
                                  (int)(q % w), h, w, (double)score[q]);
        }
        c[m++] = (ranked){sign * score[q], (int32_t)q};
    }
    const int64_t take = n < m ? n : m;
    const double f = o->top_fraction > 0 ? o->top_fraction : 0.05;
    int64_t pool = (int64_t)floor((double)hw * f); /* PixelPick: int(h * w * top_n_percent) */
    if (pool < n) pool = n;
    if (pool > m) pool = m;
    const uint64_t key = pixl__hash64(seed, 0x7175657279ULL); /* "query" */
    rc = PIXL_OK;
    if (take > 0 && o->selection == PIXL_QUERY_REVERSE) {
        draw_front(c, m, pool, key); /* a random pool of candidates, then its most uncertain */
        qsort(c, (size_t)pool, sizeof *c, cmp_ranked);
        for (int64_t j = 0; j < take; j++) picks[j] = c[j].idx;
    } else if (take > 0) {
        qsort(c, (size_t)m, sizeof *c, cmp_ranked);
        if (o->selection == PIXL_QUERY_TOP_N)
            for (int64_t j = 0; j < take; j++) picks[j] = c[j].idx;
        else
            rc = pick_from_top(c, pool, take, key, picks);
    }
    free(c);
    return rc ? rc : (int)take;
}

int pixl_query_image(const float *prob, int k, int h, int w, const uint8_t *labelled, const int32_t *labels,
                     const pixl_query_opts *o, int n, uint64_t seed, int32_t *picks)
{
    static const pixl_query_opts defaults = {0};
    if (!o) o = &defaults;
    int rc = pixl__query_check_size("pixl_query_image", h, w);
    if (rc) return rc;
    float *score = pixl__malloc((size_t)h * (size_t)w * sizeof *score);
    if (!score) return PIXL_ERR_NOMEM;
    rc = pixl_query_uncertainty(o->strategy, prob, k, h, w, seed, score);
    if (!rc) rc = pixl_query_select(score, h, w, labelled, labels, o, n, seed, picks);
    free(score);
    return rc;
}
