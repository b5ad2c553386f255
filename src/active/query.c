/* query.c — PixelPick's uncertainty scores of one image (entropy, least
 * confidence, margin, random), the MC-dropout combination of several
 * probability maps, and the names of the options. Contract in pixl_train.h,
 * formulas in docs/pixelpick.md.
 *
 * Every pixel is scored on its own (its k probabilities lie h*w apart), so
 * the loops split by pixel and give the same bits for any thread count;
 * sums run in double, in class order and then in pass order. */
#include <math.h>

#include "active/active_impl.h"

#define PAR_MIN 65536 /* below this many values a loop runs on one thread */
#define PROB_TOL 1e-4f

/* ------------------------------------------------------------------ names */

static const char *const strategy_names[] = {"margin", "entropy", "least_confidence", "random"};
static const char *const selection_names[] = {"top_fraction", "top_n", "reverse"};
static const char *const vote_names[] = {"soft", "hard", "mean_score"};
#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const char *name_of(const char *const *names, int n, int v) { return v >= 0 && v < n ? names[v] : "?"; }

static int parse_name(const char *fn, const char *what, const char *s, const char *const *names, int n, int *out)
{
    for (int i = 0; s && i < n; i++)
        if (!strcmp(s, names[i])) {
            *out = i;
            return PIXL_OK;
        }
    char valid[128] = "";
    for (int i = 0; i < n; i++)
        snprintf(valid + strlen(valid), sizeof valid - strlen(valid), "%s%s", i ? ", " : "", names[i]);
    return pixl_set_error(PIXL_ERR_ARG, "%s: unknown %s '%s' (valid: %s)", fn, what, s ? s : "(null)", valid);
}

const char *pixl_query_strategy_name(pixl_query_strategy s) { return name_of(strategy_names, COUNT(strategy_names), s); }
const char *pixl_query_selection_name(pixl_query_selection s)
{
    return name_of(selection_names, COUNT(selection_names), s);
}
const char *pixl_mc_vote_name(pixl_mc_vote v) { return name_of(vote_names, COUNT(vote_names), v); }

int pixl_query_strategy_parse(const char *name, pixl_query_strategy *out)
{
    int v = 0;
    if (!out) return pixl_set_error(PIXL_ERR_ARG, "pixl_query_strategy_parse: NULL output");
    if (name && !strcmp(name, "margin_sampling")) name = "margin"; /* PixelPick's name */
    int rc = parse_name("pixl_query_strategy_parse", "strategy", name, strategy_names, COUNT(strategy_names), &v);
    if (!rc) *out = (pixl_query_strategy)v;
    return rc;
}

int pixl_query_selection_parse(const char *name, pixl_query_selection *out)
{
    int v = 0;
    if (!out) return pixl_set_error(PIXL_ERR_ARG, "pixl_query_selection_parse: NULL output");
    int rc = parse_name("pixl_query_selection_parse", "selection", name, selection_names, COUNT(selection_names), &v);
    if (!rc) *out = (pixl_query_selection)v;
    return rc;
}

int pixl_mc_vote_parse(const char *name, pixl_mc_vote *out)
{
    int v = 0;
    if (!out) return pixl_set_error(PIXL_ERR_ARG, "pixl_mc_vote_parse: NULL output");
    int rc = parse_name("pixl_mc_vote_parse", "vote", name, vote_names, COUNT(vote_names), &v);
    if (!rc) *out = (pixl_mc_vote)v;
    return rc;
}

int pixl_query_high_is_uncertain(pixl_query_strategy s)
{
    return s == PIXL_QUERY_ENTROPY || s == PIXL_QUERY_LEAST_CONFIDENCE;
}

uint64_t pixl_query_seed(uint64_t seed, int round, int image)
{
    return pixl__hash64(pixl__hash64(seed, (uint64_t)(uint32_t)round), (uint64_t)(uint32_t)image);
}

/* ----------------------------------------------------------------- checks */

int pixl__query_check_size(const char *fn, int h, int w)
{
    if (h < 1 || w < 1) return pixl_set_error(PIXL_ERR_ARG, "%s: image size %dx%d is empty", fn, h, w);
    if ((int64_t)h * w > INT32_MAX)
        return pixl_set_error(PIXL_ERR_ARG, "%s: image size %dx%d has more than INT32_MAX pixels", fn, h, w);
    return PIXL_OK;
}

int pixl__query_check_prob(const char *fn, const char *what, const float *p, int k, int h, int w)
{
    if (!p) return pixl_set_error(PIXL_ERR_ARG, "%s: %s is NULL", fn, what);
    if (k < 2) return pixl_set_error(PIXL_ERR_ARG, "%s: %d classes in %s, need at least 2", fn, k, what);
    const int64_t hw = (int64_t)h * w, n = hw * k;
    for (int64_t i = 0; i < n; i++)
        if (!(p[i] >= 0.0f && p[i] <= 1.0f + PROB_TOL)) {
            const int64_t q = i % hw;
            return pixl_set_error(PIXL_ERR_ARG,
                                  "%s: %s (%d, %d, %d) at class %d, y %d, x %d is %g, not a probability in [0, 1] "
                                  "(softmax not applied?)",
                                  fn, what, k, h, w, (int)(i / hw), (int)(q / w), (int)(q % w), (double)p[i]);
        }
    return PIXL_OK;
}

double pixl__query_entropy(const float *p, int64_t stride, int k)
{
    double e = 0;
    for (int c = 0; c < k; c++) {
        const double v = p[(int64_t)c * stride];
        if (v > 0) e -= v * log(v);
    }
    return e;
}

/* ------------------------------------------------------------------ scores */

/* the score of one pixel whose k probabilities are p[0], p[hw], ... */
static float pixel_score(pixl_query_strategy s, const float *p, int64_t hw, int k)
{
    if (s == PIXL_QUERY_ENTROPY) return (float)pixl__query_entropy(p, hw, k);
    float m1 = -1.0f, m2 = -1.0f; /* the largest and second largest */
    for (int c = 0; c < k; c++) {
        const float v = p[(int64_t)c * hw];
        if (v > m1) {
            m2 = m1;
            m1 = v;
        } else if (v > m2) {
            m2 = v;
        }
    }
    return s == PIXL_QUERY_LEAST_CONFIDENCE ? 1.0f - m1 : m1 - m2;
}

static void score_map(pixl_query_strategy s, const float *prob, int k, int64_t hw, float *score)
{
#pragma omp parallel for num_threads(pixl_num_threads()) schedule(static) if (hw * k >= PAR_MIN)
    for (int64_t q = 0; q < hw; q++) score[q] = pixel_score(s, prob + q, hw, k);
}

static void random_map(uint64_t seed, int64_t hw, float *score)
{
    const uint64_t key = pixl__hash64(seed, 0x72616e646f6dULL); /* "random" */
    for (int64_t q = 0; q < hw; q++) score[q] = pixl_uniform01(key, (uint64_t)q);
}

static int check_strategy(const char *fn, pixl_query_strategy s)
{
    if (s < PIXL_QUERY_MARGIN || s > PIXL_QUERY_RANDOM)
        return pixl_set_error(PIXL_ERR_ARG, "%s: unknown strategy %d (valid: 0..3, margin .. random)", fn, (int)s);
    return PIXL_OK;
}

int pixl_query_uncertainty(pixl_query_strategy s, const float *prob, int k, int h, int w, uint64_t seed, float *score)
{
    static const char fn[] = "pixl_query_uncertainty";
    int rc = check_strategy(fn, s);
    if (!rc) rc = pixl__query_check_size(fn, h, w);
    if (rc) return rc;
    if (!score) return pixl_set_error(PIXL_ERR_ARG, "%s: score is NULL (image %dx%d)", fn, h, w);
    const int64_t hw = (int64_t)h * w;
    if (s == PIXL_QUERY_RANDOM) {
        random_map(seed, hw, score);
        return PIXL_OK;
    }
    if ((rc = pixl__query_check_prob(fn, "prob", prob, k, h, w))) return rc;
    score_map(s, prob, k, hw, score);
    return PIXL_OK;
}

/* ---------------------------------------------------------- MC dropout */

static int check_maps(const char *fn, const float *const *probs, int t, int k, int h, int w)
{
    int rc = pixl__query_check_size(fn, h, w);
    if (rc) return rc;
    if (!probs || t < 1)
        return pixl_set_error(PIXL_ERR_ARG, "%s: %s (%d maps of %dx%d), need at least 1", fn,
                              probs ? "no maps" : "probs is NULL", t, h, w);
    for (int i = 0; i < t; i++) {
        char what[32];
        snprintf(what, sizeof what, "probs[%d]", i);
        if ((rc = pixl__query_check_prob(fn, what, probs[i], k, h, w))) return rc;
    }
    return PIXL_OK;
}

static void combine(const float *const *probs, int t, int k, int64_t hw, pixl_mc_vote vote, float *prob)
{
#pragma omp parallel for num_threads(pixl_num_threads()) schedule(static) if (hw * k * t >= PAR_MIN)
    for (int64_t q = 0; q < hw; q++) {
        if (vote == PIXL_MC_SOFT) {
            for (int c = 0; c < k; c++) {
                double sum = 0;
                for (int i = 0; i < t; i++) sum += probs[i][(int64_t)c * hw + q];
                prob[(int64_t)c * hw + q] = (float)(sum / t);
            }
            continue;
        }
        for (int c = 0; c < k; c++) prob[(int64_t)c * hw + q] = 0.0f;
        for (int i = 0; i < t; i++) { /* argmax of pass i: the lowest class among equal maxima */
            int best = 0;
            for (int c = 1; c < k; c++)
                if (probs[i][(int64_t)c * hw + q] > probs[i][(int64_t)best * hw + q]) best = c;
            prob[(int64_t)best * hw + q] += 1.0f; /* counts up to t: exact in float */
        }
        for (int c = 0; c < k; c++) prob[(int64_t)c * hw + q] /= (float)t;
    }
}

int pixl_query_mc_combine(const float *const *probs, int t, int k, int h, int w, pixl_mc_vote vote, float *prob)
{
    static const char fn[] = "pixl_query_mc_combine";
    if (vote != PIXL_MC_SOFT && vote != PIXL_MC_HARD)
        return pixl_set_error(PIXL_ERR_ARG, "%s: vote %s (%d) gives no single probability map; use soft or hard", fn,
                              pixl_mc_vote_name(vote), (int)vote);
    int rc = check_maps(fn, probs, t, k, h, w);
    if (rc) return rc;
    if (!prob) return pixl_set_error(PIXL_ERR_ARG, "%s: output prob is NULL (%d, %d, %d)", fn, k, h, w);
    combine(probs, t, k, (int64_t)h * w, vote, prob);
    return PIXL_OK;
}

int pixl_query_mc_uncertainty(pixl_query_strategy s, const float *const *probs, int t, int k, int h, int w,
                              pixl_mc_vote vote, uint64_t seed, float *score)
{
    static const char fn[] = "pixl_query_mc_uncertainty";
    int rc = check_strategy(fn, s);
    if (rc) return rc;
    if (s == PIXL_QUERY_RANDOM) return pixl_query_uncertainty(s, NULL, k, h, w, seed, score);
    if (vote < PIXL_MC_SOFT || vote > PIXL_MC_MEAN_SCORE)
        return pixl_set_error(PIXL_ERR_ARG, "%s: unknown vote %d (valid: soft, hard, mean_score)", fn, (int)vote);
    if ((rc = check_maps(fn, probs, t, k, h, w))) return rc;
    if (!score) return pixl_set_error(PIXL_ERR_ARG, "%s: score is NULL (image %dx%d)", fn, h, w);
    const int64_t hw = (int64_t)h * w;
    if (vote != PIXL_MC_MEAN_SCORE) {
        float *prob = pixl__malloc((size_t)(hw * k) * sizeof *prob);
        if (!prob) return PIXL_ERR_NOMEM;
        combine(probs, t, k, hw, vote, prob);
        score_map(s, prob, k, hw, score);
        free(prob);
        return PIXL_OK;
    }
    double *sum = pixl__calloc((size_t)hw, sizeof *sum);
    if (!sum) return PIXL_ERR_NOMEM;
    for (int i = 0; i < t; i++) { /* score is the scratch map of pass i */
        score_map(s, probs[i], k, hw, score);
        for (int64_t q = 0; q < hw; q++) sum[q] += score[q];
    }
    for (int64_t q = 0; q < hw; q++) score[q] = (float)(sum[q] / t);
    free(sum);
    return PIXL_OK;
}
