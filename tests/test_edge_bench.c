/* test_edge_bench.c — the BSDS boundary benchmark: correspondence (exact,
 * shifted, greedy-vs-optimal, brute force on random instances), thinning,
 * NMS, ODS/OIS/AP on hand-computed counts, the whole pipeline. */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "test.h"
#include "pixl_metrics.h"

static int64_t count_nonzero_i32(const int32_t *m, int n)
{
    int64_t c = 0;
    for (int i = 0; i < n; i++) c += m[i] != 0;
    return c;
}

PIXL_TEST(edge_correspond_exact_and_shifted)
{
    enum { W = 20, H = 12 };
    uint8_t a[W * H] = {0}, b[W * H] = {0};
    int32_t ma[W * H], mb[W * H];
    for (int y = 2; y < 10; y++) a[y * W + 5] = 1, b[y * W + 5] = 1;
    double cost = -1;
    CHECK(pixl_edge_correspond(a, b, W, H, 2.0, 100, ma, mb, &cost) == PIXL_OK);
    CHECK(count_nonzero_i32(ma, W * H) == 8 && count_nonzero_i32(mb, W * H) == 8);
    for (int y = 2; y < 10; y++) CHECK(ma[y * W + 5] == y * W + 5 + 1);
    CHECK_NEAR(cost, 0.0, 1e-12);
    /* b shifted by 2 columns: inside a tolerance of 2.5, outside 1.5 */
    memset(b, 0, sizeof b);
    for (int y = 2; y < 10; y++) b[y * W + 7] = 1;
    CHECK(pixl_edge_correspond(a, b, W, H, 2.5, 100, ma, mb, &cost) == PIXL_OK);
    CHECK(count_nonzero_i32(ma, W * H) == 8);
    for (int y = 2; y < 10; y++) CHECK(ma[y * W + 5] == y * W + 7 + 1 && mb[y * W + 7] == y * W + 5 + 1);
    CHECK_NEAR(cost, 16.0, 1e-9);
    CHECK(pixl_edge_correspond(a, b, W, H, 1.5, 100, ma, mb, &cost) == PIXL_OK);
    CHECK(count_nonzero_i32(ma, W * H) == 0 && count_nonzero_i32(mb, W * H) == 0);
    CHECK_NEAR(cost, 16 * 100 * 1.5, 1e-9);
    /* exactly at the tolerance counts (d <= max_dist) */
    CHECK(pixl_edge_correspond(a, b, W, H, 2.0, 100, ma, NULL, NULL) == PIXL_OK);
    CHECK(count_nonzero_i32(ma, W * H) == 8);
    /* empty maps */
    memset(a, 0, sizeof a);
    CHECK(pixl_edge_correspond(a, b, W, H, 2.0, 100, ma, mb, &cost) == PIXL_OK);
    CHECK(count_nonzero_i32(mb, W * H) == 0);
    CHECK_NEAR(cost, 8 * 100 * 2.0, 1e-9);
}

PIXL_TEST(edge_correspond_optimal_not_greedy)
{
    /* one row: predictions at x = 12, 15; truth at x = 10, 13; tolerance 3.
     * Greedy nearest-first pairs 12-13 (distance 1) and leaves 15 and 10
     * alone; the assignment pairs 12-10 and 15-13 (two matches). */
    enum { W = 20, H = 3 };
    uint8_t a[W * H] = {0}, b[W * H] = {0};
    int32_t ma[W * H], mb[W * H];
    a[W + 12] = a[W + 15] = 1;
    b[W + 10] = b[W + 13] = 1;
    double cost;
    CHECK(pixl_edge_correspond(a, b, W, H, 3.0, 100, ma, mb, &cost) == PIXL_OK);
    CHECK(ma[W + 12] == W + 10 + 1 && ma[W + 15] == W + 13 + 1);
    CHECK(mb[W + 10] == W + 12 + 1 && mb[W + 13] == W + 15 + 1);
    CHECK_NEAR(cost, 4.0, 1e-12);
    /* among equal-size matchings the cheapest: a = {1, 4}, b = {2, 3}, tolerance 2:
     * 1-2 + 4-3 costs 2, 1-3 + 4-2 costs 4 */
    memset(a, 0, sizeof a), memset(b, 0, sizeof b);
    a[W + 1] = a[W + 4] = 1;
    b[W + 2] = b[W + 3] = 1;
    CHECK(pixl_edge_correspond(a, b, W, H, 2.0, 100, ma, mb, &cost) == PIXL_OK);
    CHECK(ma[W + 1] == W + 2 + 1 && ma[W + 4] == W + 3 + 1);
    CHECK_NEAR(cost, 2.0, 1e-12);
}

/* exhaustive minimum of sum over pairs (rint(100 d) - OW) */
static int64_t brute(const int *ax, const int *ay, int na, const int *bx, const int *by, int nb, double md, int64_t ow,
                     int i, unsigned used)
{
    if (i == na) return 0;
    int64_t best = brute(ax, ay, na, bx, by, nb, md, ow, i + 1, used); /* a[i] unmatched */
    for (int j = 0; j < nb; j++) {
        if (used >> j & 1) continue;
        double dx = ax[i] - bx[j], dy = ay[i] - by[j];
        if (dx * dx + dy * dy > md * md) continue;
        int64_t c = (int64_t)rint(sqrt(dx * dx + dy * dy) * 100) - ow +
                    brute(ax, ay, na, bx, by, nb, md, ow, i + 1, used | 1u << j);
        if (c < best) best = c;
    }
    return best;
}

PIXL_TEST(edge_correspond_matches_brute_force)
{
    enum { W = 9, H = 7 };
    uint32_t s = 12345;
    for (int trial = 0; trial < 300; trial++) {
        uint8_t a[W * H] = {0}, b[W * H] = {0};
        int ax[8], ay[8], bx[8], by[8], na = 0, nb = 0;
        s = s * 1664525u + 1013904223u;
        int want_a = 1 + (s >> 24) % 7, want_b = 1 + (s >> 16) % 7;
        while (na < want_a) {
            s = s * 1664525u + 1013904223u;
            int p = (int)((s >> 8) % (W * H));
            if (!a[p]) a[p] = 1, ax[na] = p % W, ay[na] = p / W, na++;
        }
        while (nb < want_b) {
            s = s * 1664525u + 1013904223u;
            int p = (int)((s >> 8) % (W * H));
            if (!b[p]) b[p] = 1, bx[nb] = p % W, by[nb] = p / W, nb++;
        }
        /* a raster-ordered copy of the coordinates (the matcher's order does not matter) */
        double md = trial % 3 == 0 ? 1.5 : trial % 3 == 1 ? 2.0 : 3.2;
        /* a small outlier cost makes distance trade against cardinality */
        double oc = trial % 2 ? 100 : 1.2;
        int64_t ow = (int64_t)ceil(oc * md * 100);
        int32_t ma[W * H], mb[W * H];
        double cost;
        CHECK(pixl_edge_correspond(a, b, W, H, md, oc, ma, mb, &cost) == PIXL_OK);
        int64_t got = 0;
        int consistent = 1;
        for (int p = 0; p < W * H; p++) {
            if (!ma[p]) continue;
            int q = ma[p] - 1;
            consistent &= a[p] && b[q] && mb[q] == p + 1;
            double dx = p % W - q % W, dy = p / W - q / W;
            consistent &= dx * dx + dy * dy <= md * md;
            got += (int64_t)rint(sqrt(dx * dx + dy * dy) * 100) - ow;
        }
        CHECK_MSG(consistent, "trial %d: inconsistent matching", trial);
        int64_t want = brute(ax, ay, na, bx, by, nb, md, ow, 0, 0);
        CHECK_MSG(got == want, "trial %d: assignment objective %lld, optimum %lld", trial, (long long)got,
                  (long long)want);
    }
}

PIXL_TEST(edge_thin)
{
    enum { W = 12, H = 7 };
    uint8_t bw[W * H] = {0};
    /* a one-pixel line is left alone */
    for (int x = 2; x < 10; x++) bw[3 * W + x] = 1;
    uint8_t ref[W * H];
    memcpy(ref, bw, sizeof bw);
    CHECK(pixl_edge_thin(bw, W, H) == PIXL_OK);
    CHECK(!memcmp(ref, bw, sizeof bw));
    /* a 3-pixel-thick bar becomes a connected one-pixel-thick line on its middle row */
    memset(bw, 0, sizeof bw);
    for (int y = 2; y <= 4; y++)
        for (int x = 1; x <= 10; x++) bw[y * W + x] = 1;
    CHECK(pixl_edge_thin(bw, W, H) == PIXL_OK);
    int on = 0, mid = 0;
    for (int p = 0; p < W * H; p++) on += bw[p], mid += bw[p] && p / W == 3;
    CHECK(on == mid && mid >= 6);
    for (int x = 1; x <= 10; x++)
        if (bw[3 * W + x]) {
            /* contiguous run */
            int x1 = x;
            while (x1 + 1 <= 10 && bw[3 * W + x1 + 1]) x1++;
            CHECK(x1 - x + 1 == mid);
            break;
        }
    /* a solid 2x2 square keeps a single pixel; an isolated pixel stays */
    memset(bw, 0, sizeof bw);
    bw[1 * W + 1] = bw[1 * W + 2] = bw[2 * W + 1] = bw[2 * W + 2] = 1;
    bw[5 * W + 9] = 1;
    CHECK(pixl_edge_thin(bw, W, H) == PIXL_OK);
    CHECK(bw[1 * W + 1] + bw[1 * W + 2] + bw[2 * W + 1] + bw[2 * W + 2] == 1);
    CHECK(bw[5 * W + 9] == 1);
    CHECK(pixl_edge_thin(NULL, W, H) == PIXL_ERR_ARG);
}

PIXL_TEST(edge_nms_line_and_ramp)
{
    enum { W = 32, H = 24 };
    float e[W * H], out[W * H];
    /* a soft vertical line centred on column 15 */
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) e[y * W + x] = expf(-(float)((x - 15) * (x - 15)) / 4.0f);
    CHECK(pixl_edge_nms(e, W, H, out) == PIXL_OK);
    for (int y = 5; y < H - 5; y++)
        for (int x = 0; x < W; x++) {
            if (x == 15) CHECK_MSG(out[y * W + x] > 0.5f, "line lost at (%d,%d): %g", x, y, out[y * W + x]);
            else CHECK_MSG(out[y * W + x] == 0, "(%d,%d) not suppressed: %g", x, y, out[y * W + x]);
        }
    /* near the border the response fades linearly: row 2 keeps 2/5 */
    CHECK(out[0 * W + 15] == 0);
    CHECK_NEAR(out[2 * W + 15] / out[10 * W + 15], 0.4, 1e-5);
    /* a horizontal ramp (every pixel below its right neighbour by > 1%) has no maximum */
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) e[y * W + x] = 0.1f + 0.025f * x;
    CHECK(pixl_edge_nms(e, W, H, out) == PIXL_OK);
    for (int p = 0; p < W * H; p++) CHECK_MSG(out[p] == 0, "ramp pixel %d kept: %g", p, out[p]);
    CHECK(pixl_edge_nms(e, 0, H, out) == PIXL_ERR_ARG);
}

PIXL_TEST(edge_scores_hand_computed)
{
    /* two images, thresholds 1/4, 1/2, 3/4 (counts: cnt_r, sum_r, cnt_p, sum_p) */
    const pixl_edge_counts c[6] = {
        {8, 10, 8, 16}, {6, 10, 6, 8}, {2, 10, 2, 2}, /* image A: best F at t = 1/2 */
        {5, 10, 5, 10}, {4, 10, 4, 5}, {0, 10, 0, 0}, /* image B: best F at t = 1/2 */
    };
    pixl_edge_bench_result r;
    memset(&r, 0, sizeof r);
    CHECK(pixl_edge_scores(c, 2, 3, &r) == PIXL_OK);
    CHECK(r.total[0].cnt_r == 13 && r.total[0].sum_p == 26 && r.total[2].sum_p == 2);
    /* OIS: (6+4)/20 recall, (6+4)/(8+5) precision -> F = 20/33 */
    CHECK_NEAR(r.ois_r, 0.5, 1e-12);
    CHECK_NEAR(r.ois_p, 10.0 / 13, 1e-12);
    CHECK_NEAR(r.ois_f, 20.0 / 33, 1e-12);
    /* ODS on the interpolated curve (values from the MATLAB formula in numpy) */
    CHECK_NEAR(r.ods_f, 0.6089026685859815, 1e-12);
    CHECK_NEAR(r.ods_r, 0.5318181818181817, 1e-12);
    CHECK_NEAR(r.ods_p, 0.7121212121212122, 1e-12);
    CHECK_NEAR(r.ods_t, 0.446969696969697, 1e-12);
    /* AP: recall points 0.10 .. 0.65 over (0.1, 1), (0.5, 10/13), (0.65, 0.5) */
    CHECK_NEAR(r.ap, 0.4565384615384616, 1e-12);
    {
        char *js = pixl_edge_scores_json(&r);
        cJSON *o = js ? cJSON_Parse(js) : NULL;
        CHECK_MSG(o != NULL, "not JSON: %s", js ? js : "(null)");
        CHECK(o && cJSON_GetObjectItem(o, "n_images")->valueint == 2 && cJSON_GetObjectItem(o, "n_thresholds")->valueint == 3);
        CHECK(o && fabs(cJSON_GetObjectItem(o, "ods_f")->valuedouble - r.ods_f) < 1e-6);
        CHECK(o && fabs(cJSON_GetObjectItem(o, "ois_r")->valuedouble - r.ois_r) < 1e-6);
        CHECK(o && fabs(cJSON_GetObjectItem(o, "ap")->valuedouble - r.ap) < 1e-6);
        cJSON_Delete(o);
        free(js);
    }
    CHECK(pixl_edge_scores(c, 0, 3, &r) == PIXL_ERR_ARG);
}

PIXL_TEST(edge_benchmark_pipeline)
{
    enum { W = 40, H = 30, N = 3 };
    static float pred[N][W * H];
    static uint8_t gt[N][2 * W * H];
    pixl_edge_sample s[N];
    for (int i = 0; i < N; i++) {
        memset(gt[i], 0, sizeof gt[i]);
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                int on = x == 10 + i || y == 12;
                gt[i][y * W + x] = (uint8_t)on;                     /* human 1 */
                gt[i][W * H + y * W + x] = (uint8_t)(x == 11 + i); /* human 2: only the vertical line, shifted */
                pred[i][y * W + x] = on ? 0.9f : x == 30 ? 0.3f : 0;
            }
        s[i] = (pixl_edge_sample){W, H, pred[i], 2, gt[i]};
    }
    pixl_edge_bench_opts o = {.n_thresholds = 9, .no_nms = 1};
    pixl_edge_bench_result r1, r2;
    pixl_set_num_threads(1);
    CHECK(pixl_edge_benchmark(s, N, &o, &r1) == PIXL_OK);
    pixl_set_num_threads(2);
    CHECK(pixl_edge_benchmark(s, N, &o, &r2) == PIXL_OK);
    CHECK(!memcmp(r1.total, r2.total, sizeof r1.total));
    CHECK(r1.n_thresholds == 9 && r1.n_images == N);
    /* thresholds above 0.3: the prediction is exactly human 1, and human 2's line
     * is one pixel away (tolerance 0.0075*50 = 0.375 px: unmatched) except where
     * it crosses the predicted horizontal line (one pixel per image) */
    int64_t g1 = 0, g2 = 0, px = 0;
    for (int i = 0; i < N; i++)
        for (int p = 0; p < W * H; p++) g1 += gt[i][p], g2 += gt[i][W * H + p], px += pred[i][p] > 0.5f;
    const pixl_edge_counts *hi = &r1.total[4]; /* t = 0.5 */
    CHECK(hi->sum_p == px && hi->cnt_p == px && hi->sum_r == g1 + g2 && hi->cnt_r == g1 + N);
    /* t = 0.1: the distractor column adds unmatched predictions (it crosses the line once) */
    CHECK(r1.total[0].sum_p == px + N * (H - 1) && r1.total[0].cnt_p == px);
    CHECK(r1.total[8].sum_p == 0 && r1.total[8].cnt_r == 0); /* t = 0.9 > 0.9f */
    /* with a 2-pixel tolerance human 2 is matched too */
    o.max_dist = 2.0 / 50;
    CHECK(pixl_edge_benchmark(s, N, &o, &r2) == PIXL_OK);
    CHECK(r2.total[4].cnt_r == g1 + g2 && r2.total[4].cnt_p == px);
    CHECK_NEAR(r2.ods_f, 1.0, 1e-12);
    CHECK_NEAR(r2.ois_f, 1.0, 1e-12);
    /* errors name the sample */
    s[1].n_gt = 0;
    CHECK(pixl_edge_benchmark(s, N, &o, &r2) == PIXL_ERR_ARG);
    CHECK(strstr(pixl_last_error(), "sample 1") != NULL);
    o.n_thresholds = 100000;
    s[1].n_gt = 2;
    CHECK(pixl_edge_benchmark(s, N, &o, &r2) == PIXL_ERR_ARG);
}
