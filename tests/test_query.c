/* test_query.c — PixelPick's query strategies (src/active/): the four
 * uncertainty scores on a hand-made map, exclusion of labelled and void
 * pixels, top-n / top-fraction diversity / reverse selection, MC-dropout
 * votes, round statistics, and bad input. */
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "pixl_train.h"

enum { H = 4, W = 5, K = 3, HW = H * W };
enum { PA = 7, PB = 12, PC = 16 }; /* the three uncertain pixels of the hand-made map */

/* A 4x5 map of 3 classes: every pixel (0.8, 0.1, 0.1) except
 *   A = 7  (0.40, 0.30, 0.30): the largest entropy,
 *   B = 12 (0.45, 0.45, 0.10): the smallest margin (0),
 *   C = 16 (0.25, 0.38, 0.37): the least confidence (0.62). */
static void make_map(float *p)
{
    for (int q = 0; q < HW; q++) {
        p[q] = 0.8f;
        p[HW + q] = 0.1f;
        p[2 * HW + q] = 0.1f;
    }
    const float a[3] = {0.40f, 0.30f, 0.30f}, b[3] = {0.45f, 0.45f, 0.10f}, c[3] = {0.25f, 0.38f, 0.37f};
    for (int k = 0; k < K; k++) {
        p[k * HW + PA] = a[k];
        p[k * HW + PB] = b[k];
        p[k * HW + PC] = c[k];
    }
}

static int contains(const int32_t *v, int n, int32_t x)
{
    for (int i = 0; i < n; i++)
        if (v[i] == x) return 1;
    return 0;
}

static int distinct(const int32_t *v, int n)
{
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (v[i] == v[j]) return 0;
    return 1;
}

PIXL_TEST(query_scores)
{
    float p[K * HW], s[HW];
    make_map(p);
    CHECK_OK(pixl_query_uncertainty(PIXL_QUERY_ENTROPY, p, K, H, W, 0, s));
    CHECK_NEAR(s[PA], -(0.4 * log(0.4) + 0.6 * log(0.3)), 1e-6);
    CHECK_NEAR(s[PC], -(0.25 * log(0.25) + 0.38 * log(0.38) + 0.37 * log(0.37)), 1e-6);
    CHECK_NEAR(s[0], -(0.8 * log(0.8) + 0.2 * log(0.1)), 1e-6);
    CHECK_OK(pixl_query_uncertainty(PIXL_QUERY_LEAST_CONFIDENCE, p, K, H, W, 0, s));
    CHECK_NEAR(s[PC], 0.62, 1e-6);
    CHECK_NEAR(s[PA], 0.60, 1e-6);
    CHECK_NEAR(s[0], 0.20, 1e-6);
    CHECK_OK(pixl_query_uncertainty(PIXL_QUERY_MARGIN, p, K, H, W, 0, s));
    CHECK(s[PB] == 0.0f); /* the largest value twice */
    CHECK_NEAR(s[PC], 0.01, 1e-6);
    CHECK_NEAR(s[PA], 0.10, 1e-6);
    CHECK_NEAR(s[0], 0.70, 1e-6);
    /* 0 ln 0 = 0: a one-hot pixel has entropy 0, not NaN */
    float onehot[2] = {1.0f, 0.0f}, e;
    CHECK_OK(pixl_query_uncertainty(PIXL_QUERY_ENTROPY, onehot, 2, 1, 1, 0, &e));
    CHECK(e == 0.0f);
    CHECK(pixl_query_high_is_uncertain(PIXL_QUERY_ENTROPY) && pixl_query_high_is_uncertain(PIXL_QUERY_LEAST_CONFIDENCE));
    CHECK(!pixl_query_high_is_uncertain(PIXL_QUERY_MARGIN) && !pixl_query_high_is_uncertain(PIXL_QUERY_RANDOM));
}

/* each strategy's top-n on the hand-made map; ties (the plain pixels) go to the lower index */
PIXL_TEST(query_top_n_per_strategy)
{
    float p[K * HW];
    make_map(p);
    const struct { pixl_query_strategy s; int32_t want[6]; } cases[] = {
        {PIXL_QUERY_MARGIN, {PB, PC, PA, 0, 1, 2}},
        {PIXL_QUERY_ENTROPY, {PA, PC, PB, 0, 1, 2}},
        {PIXL_QUERY_LEAST_CONFIDENCE, {PC, PA, PB, 0, 1, 2}},
    };
    for (int i = 0; i < 3; i++) {
        pixl_query_opts o = {.strategy = cases[i].s, .selection = PIXL_QUERY_TOP_N};
        int32_t picks[6] = {-1, -1, -1, -1, -1, -1};
        CHECK(pixl_query_image(p, K, H, W, NULL, NULL, &o, 6, 3, picks) == 6);
        for (int j = 0; j < 6; j++)
            CHECK_MSG(picks[j] == cases[i].want[j], "%s: pick %d is %d, want %d", pixl_query_strategy_name(cases[i].s),
                      j, picks[j], cases[i].want[j]);
    }
    /* random: scores in [0, 1) from the seed; the smallest is picked */
    float r[HW], r2[HW];
    CHECK_OK(pixl_query_uncertainty(PIXL_QUERY_RANDOM, NULL, 0, H, W, 5, r));
    CHECK_OK(pixl_query_uncertainty(PIXL_QUERY_RANDOM, p, K, H, W, 5, r2));
    CHECK(!memcmp(r, r2, sizeof r));
    int argmin = 0;
    for (int q = 0; q < HW; q++) {
        CHECK(r[q] >= 0.0f && r[q] < 1.0f);
        if (r[q] < r[argmin]) argmin = q;
    }
    CHECK_OK(pixl_query_uncertainty(PIXL_QUERY_RANDOM, NULL, 0, H, W, 6, r2));
    CHECK(memcmp(r, r2, sizeof r) != 0);
    pixl_query_opts o = {.strategy = PIXL_QUERY_RANDOM, .selection = PIXL_QUERY_TOP_N};
    int32_t one = -1;
    CHECK(pixl_query_image(NULL, 0, H, W, NULL, NULL, &o, 1, 5, &one) == 1);
    CHECK(one == argmin);
}

/* labelled and void pixels are never picked, under every strategy and selection */
PIXL_TEST(query_exclusion)
{
    float p[K * HW];
    make_map(p);
    uint8_t labelled[HW] = {0};
    int32_t labels[HW] = {0};
    labelled[PB] = 1;
    labels[PC] = PIXL_IGNORE_LABEL;
    pixl_query_opts o = {.strategy = PIXL_QUERY_MARGIN, .selection = PIXL_QUERY_TOP_N};
    int32_t picks[HW];
    CHECK(pixl_query_image(p, K, H, W, labelled, labels, &o, 3, 1, picks) == 3);
    CHECK(picks[0] == PA && picks[1] == 0 && picks[2] == 1);
    /* a dataset's own void value */
    labels[PC] = 11;
    o.ignore_label = 11;
    CHECK(pixl_query_image(p, K, H, W, labelled, labels, &o, 1, 1, picks) == 1 && picks[0] == PA);
    o.ignore_label = 0; /* 255 again: 11 is a class now */
    CHECK(pixl_query_image(p, K, H, W, labelled, labels, &o, 1, 1, picks) == 1 && picks[0] == PC);
    labels[PC] = PIXL_IGNORE_LABEL;
    /* all strategies x selections x seeds: exclusions hold, picks distinct */
    for (int s = 0; s < 4; s++)
        for (int sel = 0; sel < 3; sel++)
            for (uint64_t seed = 0; seed < 8; seed++) {
                pixl_query_opts oo = {.strategy = s, .selection = sel, .top_fraction = 0.25};
                int got = pixl_query_image(p, K, H, W, labelled, labels, &oo, 6, seed, picks);
                CHECK_MSG(got == 6, "%s/%s: %d picks", pixl_query_strategy_name(s), pixl_query_selection_name(sel), got);
                CHECK(distinct(picks, got) && !contains(picks, got, PB) && !contains(picks, got, PC));
            }
    /* fewer candidates than n: all of them, most uncertain first, no error */
    for (int q = 0; q < HW; q++) labelled[q] = q != 3 && q != PA;
    for (int sel = 0; sel < 3; sel++) {
        pixl_query_opts oo = {.strategy = PIXL_QUERY_ENTROPY, .selection = sel};
        CHECK(pixl_query_image(p, K, H, W, labelled, labels, &oo, 5, 9, picks) == 2);
        CHECK(picks[0] == PA && picks[1] == 3);
    }
    memset(labelled, 1, sizeof labelled);
    CHECK(pixl_query_image(p, K, H, W, labelled, labels, &o, 5, 9, picks) == 0);
    CHECK(pixl_query_image(p, K, H, W, NULL, NULL, &o, 0, 9, NULL) == 0); /* n = 0 */
}

/* a 20x20 score map with distinct values: score(q) = ((37 q) mod 400) / 400 */
enum { DH = 20, DW = 20, DHW = DH * DW, POOL = 20 }; /* 5% of 400 */
static void make_scores(float *s)
{
    for (int q = 0; q < DHW; q++) s[q] = (float)((37 * q) % DHW) / DHW;
}
static int in_top(const float *s, int32_t q, int top, int high) /* among the `top` most uncertain */
{
    const int rank = high ? DHW - 1 - (int)(s[q] * DHW + 0.5f) : (int)(s[q] * DHW + 0.5f);
    return rank < top;
}
static int ranked_order(const float *s, const int32_t *picks, int n, int high)
{
    for (int j = 1; j < n; j++)
        if (high ? s[picks[j]] > s[picks[j - 1]] : s[picks[j]] < s[picks[j - 1]]) return 0;
    return 1;
}

PIXL_TEST(query_top_fraction_diversity)
{
    float s[DHW];
    make_scores(s);
    for (int high = 0; high < 2; high++) {
        pixl_query_opts o = {.strategy = high ? PIXL_QUERY_ENTROPY : PIXL_QUERY_MARGIN}; /* TOP_FRACTION, 5% */
        int32_t a[5], b[5], top[5];
        CHECK(pixl_query_select(s, DH, DW, NULL, NULL, &o, 5, 42, a) == 5);
        for (int j = 0; j < 5; j++) CHECK_MSG(in_top(s, a[j], POOL, high), "pick %d (score %g) outside the top 5%%", a[j], s[a[j]]);
        CHECK(distinct(a, 5) && ranked_order(s, a, 5, high));
        CHECK(pixl_query_select(s, DH, DW, NULL, NULL, &o, 5, 42, b) == 5);
        CHECK(!memcmp(a, b, sizeof a)); /* same seed, same picks */
        int differs = 0;
        for (uint64_t seed = 43; seed < 53; seed++) {
            CHECK(pixl_query_select(s, DH, DW, NULL, NULL, &o, 5, seed, b) == 5);
            differs += memcmp(a, b, sizeof a) != 0;
        }
        CHECK(differs > 0);
        /* every pool member is drawn sometimes, nothing else ever */
        int hits[DHW] = {0};
        for (uint64_t seed = 0; seed < 200; seed++) {
            pixl_query_select(s, DH, DW, NULL, NULL, &o, 5, seed, b);
            for (int j = 0; j < 5; j++) hits[b[j]]++;
        }
        for (int q = 0; q < DHW; q++) CHECK_MSG(in_top(s, q, POOL, high) == (hits[q] > 0), "pixel %d drawn %d times", q, hits[q]);
        /* top-n: exactly the 5 most uncertain, in order */
        o.selection = PIXL_QUERY_TOP_N;
        CHECK(pixl_query_select(s, DH, DW, NULL, NULL, &o, 5, 42, top) == 5);
        for (int j = 0; j < 5; j++) CHECK(in_top(s, top[j], j + 1, high) && !in_top(s, top[j], j, high));
        /* a pool smaller than n grows to n: top_fraction 1% of 400 = 4 < 5 gives the top 5 */
        o.selection = PIXL_QUERY_TOP_FRACTION;
        o.top_fraction = 0.01;
        CHECK(pixl_query_select(s, DH, DW, NULL, NULL, &o, 5, 42, b) == 5);
        CHECK(!memcmp(b, top, sizeof top));
    }
}

PIXL_TEST(query_reverse_order)
{
    float s[DHW];
    make_scores(s);
    pixl_query_opts o = {.strategy = PIXL_QUERY_ENTROPY, .selection = PIXL_QUERY_REVERSE}; /* 5% pool */
    int32_t a[5], b[5], top[5];
    CHECK(pixl_query_select(s, DH, DW, NULL, NULL, &o, 5, 42, a) == 5);
    CHECK(distinct(a, 5) && ranked_order(s, a, 5, 1));
    CHECK(pixl_query_select(s, DH, DW, NULL, NULL, &o, 5, 42, b) == 5 && !memcmp(a, b, sizeof a));
    int differs = 0, outside = 0;
    for (uint64_t seed = 0; seed < 20; seed++) {
        CHECK(pixl_query_select(s, DH, DW, NULL, NULL, &o, 5, seed, b) == 5);
        CHECK(distinct(b, 5) && ranked_order(s, b, 5, 1));
        differs += memcmp(a, b, sizeof a) != 0;
        for (int j = 0; j < 5; j++) outside += !in_top(s, b[j], POOL, 1);
    }
    CHECK(differs > 0);
    CHECK(outside > 0); /* a random pool: picks are not confined to the global top 5% */
    /* 21 candidates, a pool of 20: one random candidate is left out and the picks are
     * the 5 best of the rest, so they lie within the 6 best candidates (the 6th
     * only when one of the 5 best is the one left out) */
    uint8_t few[DHW];
    int32_t best6[6];
    for (int q = 0; q < DHW; q++) few[q] = !(q % 19 == 0 && q <= 380); /* candidates 0, 19, ..., 380 */
    pixl_query_opts t6 = {.strategy = PIXL_QUERY_ENTROPY, .selection = PIXL_QUERY_TOP_N};
    CHECK(pixl_query_select(s, DH, DW, few, NULL, &t6, 6, 0, best6) == 6);
    int sixth = 0;
    for (uint64_t seed = 0; seed < 40; seed++) {
        CHECK(pixl_query_select(s, DH, DW, few, NULL, &o, 5, seed, b) == 5);
        for (int j = 0; j < 5; j++) CHECK_MSG(contains(best6, 6, b[j]), "seed %d: pick %d outside the best 6", (int)seed, b[j]);
        sixth += contains(b, 5, best6[5]);
    }
    CHECK(sixth > 0 && sixth < 40);
    /* the pool is every candidate: reverse = top-n */
    pixl_query_opts t = {.strategy = PIXL_QUERY_ENTROPY, .selection = PIXL_QUERY_TOP_N};
    CHECK(pixl_query_select(s, DH, DW, NULL, NULL, &t, 5, 1, top) == 5);
    o.top_fraction = 1.0;
    CHECK(pixl_query_select(s, DH, DW, NULL, NULL, &o, 5, 7, b) == 5 && !memcmp(b, top, sizeof top));
    /* the pool is n pixels: n random candidates (all of them picked), each seed its own */
    o.top_fraction = 0.01;
    uint8_t labelled[DHW] = {0};
    for (int q = 0; q < DHW; q += 2) labelled[q] = 1;
    CHECK(pixl_query_select(s, DH, DW, labelled, NULL, &o, 5, 3, b) == 5);
    for (int j = 0; j < 5; j++) CHECK(b[j] % 2 == 1);
}

/* MC dropout: three passes of a 1x2 image with 3 classes */
PIXL_TEST(query_mc_dropout_votes)
{
    enum { Q = 2 };
    const float p0[K * Q] = {0.6f, 0.5f, 0.3f, 0.5f, 0.1f, 0.0f}; /* (class, pixel) */
    const float p1[K * Q] = {0.2f, 0.1f, 0.5f, 0.1f, 0.3f, 0.8f};
    const float p2[K * Q] = {0.5f, 0.3f, 0.4f, 0.3f, 0.1f, 0.4f};
    const float *maps[3] = {p0, p1, p2};
    float c[K * Q];
    CHECK_OK(pixl_query_mc_combine(maps, 3, K, 1, Q, PIXL_MC_SOFT, c));
    const double soft[K * Q] = {1.3 / 3, 0.3, 0.4, 0.3, 0.5 / 3, 0.4};
    for (int i = 0; i < K * Q; i++) CHECK_NEAR(c[i], soft[i], 1e-6);
    /* hard: argmaxes pixel 0: 0, 1, 0; pixel 1: 0 (0.5 = 0.5: the lower class), 2, 2 */
    CHECK_OK(pixl_query_mc_combine(maps, 3, K, 1, Q, PIXL_MC_HARD, c));
    const double hard[K * Q] = {2.0 / 3, 1.0 / 3, 1.0 / 3, 0.0, 0.0, 2.0 / 3};
    for (int i = 0; i < K * Q; i++) CHECK_NEAR(c[i], hard[i], 1e-6);
    /* one map: soft is the map itself */
    CHECK_OK(pixl_query_mc_combine(maps, 1, K, 1, Q, PIXL_MC_SOFT, c));
    CHECK(!memcmp(c, p0, sizeof c));
    float s[Q];
    CHECK_OK(pixl_query_mc_uncertainty(PIXL_QUERY_MARGIN, maps, 3, K, 1, Q, PIXL_MC_SOFT, 0, s));
    CHECK_NEAR(s[0], 0.1 / 3, 1e-6);
    CHECK_NEAR(s[1], 0.1, 1e-6);
    CHECK_OK(pixl_query_mc_uncertainty(PIXL_QUERY_ENTROPY, maps, 3, K, 1, Q, PIXL_MC_HARD, 0, s));
    const double h23 = -(2.0 / 3 * log(2.0 / 3) + 1.0 / 3 * log(1.0 / 3)); /* a zero share adds 0 */
    CHECK_NEAR(s[0], h23, 1e-6);
    CHECK_NEAR(s[1], h23, 1e-6);
    /* mean of the per-pass scores (PixelPick's path): margins 0.3, 0.2, 0.1 and 0, 0.7, 0.1 */
    CHECK_OK(pixl_query_mc_uncertainty(PIXL_QUERY_MARGIN, maps, 3, K, 1, Q, PIXL_MC_MEAN_SCORE, 0, s));
    CHECK_NEAR(s[0], 0.2, 1e-6);
    CHECK_NEAR(s[1], 0.8 / 3, 1e-6);
    /* random ignores the maps: the plain random map of the seed */
    float r[Q];
    CHECK_OK(pixl_query_mc_uncertainty(PIXL_QUERY_RANDOM, maps, 3, K, 1, Q, PIXL_MC_HARD, 9, s));
    CHECK_OK(pixl_query_uncertainty(PIXL_QUERY_RANDOM, NULL, 0, 1, Q, 9, r));
    CHECK(!memcmp(s, r, sizeof s));
}

/* statistics: image 1 picks (0,0), (0,4), (3,4) labelled 1, 1, void, entropy ln 2
 * each; image 2 one pick labelled 0, entropy 0; image 3 no picks */
PIXL_TEST(query_stats)
{
    pixl_query_stats *st = pixl_query_stats_new(K);
    CHECK(st != NULL);
    if (!st) return;
    int32_t labels[HW] = {0};
    float p[K * HW];
    for (int q = 0; q < HW; q++) {
        p[q] = p[HW + q] = 0.5f;
        p[2 * HW + q] = 0.0f;
    }
    labels[0] = labels[4] = 1;
    labels[19] = PIXL_IGNORE_LABEL;
    const int32_t picks1[3] = {0, 4, 19};
    CHECK_OK(pixl_query_stats_add(st, picks1, 3, H, W, labels, p));
    for (int q = 0; q < HW; q++) {
        p[q] = 1.0f;
        p[HW + q] = 0.0f;
        labels[q] = 0;
    }
    const int32_t picks2[1] = {6};
    CHECK_OK(pixl_query_stats_add(st, picks2, 1, H, W, labels, p));
    CHECK_OK(pixl_query_stats_add(st, NULL, 0, H, W, labels, NULL));
    pixl_query_summary sum;
    CHECK_OK(pixl_query_stats_summary(st, &sum));
    CHECK(sum.images == 3 && sum.picks == 4 && sum.other_labels == 1 && sum.distance_images == 1);
    const int64_t *hist = pixl_query_stats_histogram(st);
    CHECK(hist[0] == 1 && hist[1] == 2 && hist[2] == 0);
    CHECK_NEAR(sum.mean_entropy, 3 * log(2.0) / 4, 1e-7);
    CHECK_NEAR(sum.mean_distinct_labels, (2 + 1 + 0) / 3.0, 1e-12);
    CHECK_NEAR(sum.mean_pairwise_distance, (4 + 5 + 3) / 3.0, 1e-12); /* 0-4: 4, 0-19: 5, 4-19: 3 */
    char *js = pixl_query_stats_json(st);
    CHECK(js && strstr(js, "\"label_histogram\": [1, 2, 0]") && strstr(js, "\"mean_pairwise_distance\": 4") &&
          strstr(js, "\"other_labels\": 1"));
    free(js);
    /* a bad pick leaves the statistics unchanged */
    const int32_t bad[2] = {3, HW};
    CHECK(pixl_query_stats_add(st, bad, 2, H, W, labels, NULL) == PIXL_ERR_ARG);
    CHECK(strstr(pixl_last_error(), "pixl_query_stats_add") && strstr(pixl_last_error(), "outside the 4x5 image"));
    CHECK_OK(pixl_query_stats_summary(st, &sum));
    CHECK(sum.images == 3 && sum.picks == 4);
    pixl_query_stats_free(st);
    /* nothing added: NaN means, written as null */
    st = pixl_query_stats_new(2);
    CHECK_OK(pixl_query_stats_summary(st, &sum));
    CHECK(isnan(sum.mean_entropy) && isnan(sum.mean_pairwise_distance) && sum.images == 0);
    js = pixl_query_stats_json(st);
    CHECK(js && strstr(js, "\"mean_entropy\": null"));
    free(js);
    pixl_query_stats_free(st);
    pixl_query_stats_free(NULL);
}

PIXL_TEST(query_names)
{
    pixl_query_strategy s = PIXL_QUERY_ENTROPY;
    CHECK_OK(pixl_query_strategy_parse("margin_sampling", &s));
    CHECK(s == PIXL_QUERY_MARGIN);
    for (int i = 0; i < 4; i++) {
        CHECK_OK(pixl_query_strategy_parse(pixl_query_strategy_name(i), &s));
        CHECK(s == (pixl_query_strategy)i);
    }
    CHECK(pixl_query_strategy_parse("entropie", &s) == PIXL_ERR_ARG && s == PIXL_QUERY_RANDOM);
    CHECK(strstr(pixl_last_error(), "'entropie'") && strstr(pixl_last_error(), "least_confidence"));
    pixl_query_selection sel;
    CHECK_OK(pixl_query_selection_parse("reverse", &sel));
    CHECK(sel == PIXL_QUERY_REVERSE);
    pixl_mc_vote v;
    CHECK_OK(pixl_mc_vote_parse("hard", &v));
    CHECK(v == PIXL_MC_HARD);
    CHECK(pixl_mc_vote_parse(NULL, &v) == PIXL_ERR_ARG);
    CHECK(!strcmp(pixl_query_selection_name((pixl_query_selection)9), "?"));
    CHECK(pixl_query_seed(1, 0, 0) != pixl_query_seed(1, 0, 1) && pixl_query_seed(1, 0, 1) != pixl_query_seed(1, 1, 0));
}

#define CHECK_ERR(expr, text)                                                                              \
    do {                                                                                                   \
        int rc_ = (expr);                                                                                  \
        CHECK_MSG(rc_ == PIXL_ERR_ARG, "%s -> %d, want PIXL_ERR_ARG", #expr, rc_);                         \
        CHECK_MSG(strstr(pixl_last_error(), text) != NULL, "%s: message '%s' lacks '%s'", #expr,            \
                  pixl_last_error(), text);                                                                \
    } while (0)

PIXL_TEST(query_bad_input)
{
    float p[K * HW], s[HW];
    make_map(p);
    int32_t picks[4];
    CHECK_ERR(pixl_query_uncertainty(PIXL_QUERY_ENTROPY, p, 1, H, W, 0, s), "1 classes in prob, need at least 2");
    CHECK_ERR(pixl_query_uncertainty(PIXL_QUERY_MARGIN, NULL, K, H, W, 0, s), "pixl_query_uncertainty: prob is NULL");
    CHECK_ERR(pixl_query_uncertainty(PIXL_QUERY_MARGIN, p, K, H, W, 0, NULL), "score is NULL");
    CHECK_ERR(pixl_query_uncertainty(PIXL_QUERY_MARGIN, p, K, 0, W, 0, s), "image size 0x5 is empty");
    CHECK_ERR(pixl_query_uncertainty(PIXL_QUERY_MARGIN, p, K, 70000, 70000, 0, s), "more than INT32_MAX");
    CHECK_ERR(pixl_query_uncertainty((pixl_query_strategy)7, p, K, H, W, 0, s), "unknown strategy 7");
    p[HW + 8] = 3.5f; /* a logit */
    CHECK_ERR(pixl_query_uncertainty(PIXL_QUERY_ENTROPY, p, K, H, W, 0, s), "class 1, y 1, x 3 is 3.5");
    p[HW + 8] = NAN;
    CHECK_ERR(pixl_query_image(p, K, H, W, NULL, NULL, NULL, 2, 0, picks), "not a probability");
    make_map(p);
    CHECK_OK(pixl_query_uncertainty(PIXL_QUERY_MARGIN, p, K, H, W, 0, s));
    CHECK_ERR(pixl_query_select(s, H, W, NULL, NULL, NULL, -1, 0, picks), "n is -1");
    CHECK_ERR(pixl_query_select(NULL, H, W, NULL, NULL, NULL, 2, 0, picks), "score is NULL");
    CHECK_ERR(pixl_query_select(s, H, W, NULL, NULL, NULL, 2, 0, NULL), "picks is NULL");
    pixl_query_opts o = {.top_fraction = 1.5};
    CHECK_ERR(pixl_query_select(s, H, W, NULL, NULL, &o, 2, 0, picks), "top_fraction 1.5");
    o = (pixl_query_opts){.selection = (pixl_query_selection)5};
    CHECK_ERR(pixl_query_select(s, H, W, NULL, NULL, &o, 2, 0, picks), "unknown selection 5");
    /* a NaN score: an error at a candidate, ignored at an excluded pixel */
    s[9] = NAN;
    CHECK_ERR(pixl_query_select(s, H, W, NULL, NULL, NULL, 2, 0, picks), "y 1, x 4");
    uint8_t labelled[HW] = {0};
    labelled[9] = 1;
    CHECK(pixl_query_select(s, H, W, labelled, NULL, NULL, 2, 0, picks) == 2);
    /* MC */
    const float *maps[2] = {p, NULL};
    float c[K * HW];
    CHECK_ERR(pixl_query_mc_combine(maps, 2, K, H, W, PIXL_MC_SOFT, c), "probs[1] is NULL");
    CHECK_ERR(pixl_query_mc_combine(maps, 0, K, H, W, PIXL_MC_SOFT, c), "no maps");
    CHECK_ERR(pixl_query_mc_combine(maps, 1, K, H, W, PIXL_MC_MEAN_SCORE, c), "mean_score");
    CHECK_ERR(pixl_query_mc_combine(maps, 1, 1, H, W, PIXL_MC_HARD, c), "1 classes in probs[0]");
    CHECK_ERR(pixl_query_mc_uncertainty(PIXL_QUERY_MARGIN, maps, 1, K, H, W, (pixl_mc_vote)4, 0, s), "unknown vote 4");
    CHECK_ERR(pixl_query_mc_uncertainty(PIXL_QUERY_MARGIN, NULL, 1, K, H, W, PIXL_MC_SOFT, 0, s), "probs is NULL");
    /* statistics */
    CHECK(pixl_query_stats_new(0) == NULL && strstr(pixl_last_error(), "0 classes"));
    pixl_query_stats *st = pixl_query_stats_new(K);
    int32_t labels[HW] = {0};
    CHECK_ERR(pixl_query_stats_add(st, picks, -2, H, W, labels, NULL), "n < 0");
    CHECK_ERR(pixl_query_stats_add(st, picks, 1, H, W, NULL, NULL), "labels is NULL");
    CHECK_ERR(pixl_query_stats_add(NULL, picks, 1, H, W, labels, NULL), "stats is NULL");
    picks[0] = -1;
    CHECK_ERR(pixl_query_stats_add(st, picks, 1, H, W, labels, NULL), "pick 0 is pixel -1");
    picks[0] = 0;
    p[2 * HW + 3] = -0.25f;
    CHECK_ERR(pixl_query_stats_add(st, picks, 1, H, W, labels, p), "class 2, y 0, x 3 is -0.25");
    pixl_query_stats_free(st);
}

/* the same bits for 1 and 2 threads on a map large enough to run in parallel */
PIXL_TEST(query_threads)
{
    enum { BH = 150, BW = 160, BK = 4 };
    float *p = malloc(sizeof(float) * BK * BH * BW), *a = malloc(sizeof(float) * BH * BW * 2), *b = a + BH * BW;
    pixl_test_fill_uniform(p, BK * BH * BW, 0.0f, 1.0f, 11);
    const float *maps[2] = {p, p};
    const int prev = pixl_num_threads();
    for (int s = 0; s < 3; s++) {
        pixl_set_num_threads(1);
        CHECK_OK(pixl_query_mc_uncertainty(s, maps, 2, BK, BH, BW, PIXL_MC_HARD, 0, a));
        pixl_set_num_threads(2);
        CHECK_OK(pixl_query_mc_uncertainty(s, maps, 2, BK, BH, BW, PIXL_MC_HARD, 0, b));
        CHECK(!memcmp(a, b, sizeof(float) * BH * BW));
    }
    pixl_set_num_threads(prev);
    free(p);
    free(a);
}
