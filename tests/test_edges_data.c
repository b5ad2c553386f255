/* test_edges_data.c — the bsds500 and synthetic_normals dataset kinds and
 * the surface-normal metrics. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "test.h"
#include "pixl_train.h"

#define BSDS_ROOT "../shared/datasets/bsds500"

PIXL_TEST(bsds500_dataset)
{
    if (access(BSDS_ROOT "/groundTruth/val", R_OK)) {
        printf("  skip: %s not found\n", BSDS_ROOT);
        return;
    }
    pixl_dataset *ds = pixl_dataset_open(&(pixl_dataset_opts){.kind = "bsds500", .root = BSDS_ROOT, .split = "val", .limit = 2});
    CHECK(ds != NULL);
    if (!ds) return;
    CHECK(pixl_dataset_size(ds) == 2 && pixl_dataset_n_classes(ds) == 2);
    CHECK(pixl_dataset_task(ds) == PIXL_TASK_EDGES);
    pixl_image *img;
    float *soft;
    uint8_t *maps;
    int n;
    CHECK(pixl_dataset_load_edges(ds, 0, &img, &soft, &maps, &n) == PIXL_OK);
    CHECK(n >= 4 && n <= 9);
    CHECK((img->width == 481 && img->height == 321) || (img->width == 321 && img->height == 481));
    size_t np = (size_t)img->width * img->height;
    int32_t *lab;
    pixl_image *img2;
    CHECK(pixl_dataset_load(ds, 0, &img2, &lab) == PIXL_OK);
    int64_t pos = 0, ign = 0, any = 0, bad = 0;
    for (size_t p = 0; p < np; p++) {
        int c = 0;
        for (int g = 0; g < n; g++) c += maps[(size_t)g * np + p];
        bad += soft[p] != (float)c / n;
        int want = c == 0 ? 0 : 2 * c >= n ? 1 : 255;
        bad += lab[p] != want;
        pos += lab[p] == 1, ign += lab[p] == 255, any += c > 0;
    }
    CHECK(bad == 0);
    CHECK(pos > 100 && ign > 100 && pos + ign == any);
    /* .mat is column-major: the boundaries must line up with image edges, i.e.
     * the boundary maps are not transposed (a transposed map would not fit) */
    CHECK(img2->width == img->width);
    pixl_image_free(img), pixl_image_free(img2), free(soft), free(maps), free(lab);
    pixl_dataset_free(ds);
    /* union of the annotators: nothing ignored */
    ds = pixl_dataset_open(&(pixl_dataset_opts){.kind = "bsds500", .root = BSDS_ROOT, .split = "val", .limit = 1, .edge_consensus = 1e-6f});
    CHECK(ds && pixl_dataset_load(ds, 0, &img, &lab) == PIXL_OK);
    if (ds) {
        int64_t ign2 = 0, pos2 = 0;
        for (size_t p = 0; p < np; p++) ign2 += lab[p] == 255, pos2 += lab[p] == 1;
        CHECK(ign2 == 0 && pos2 == any);
        pixl_image_free(img), free(lab);
    }
    pixl_dataset_free(ds);
    /* errors */
    CHECK(pixl_dataset_open(&(pixl_dataset_opts){.kind = "bsds500", .root = BSDS_ROOT, .split = "nope"}) == NULL);
    CHECK(strstr(pixl_last_error(), "nope") != NULL);
    CHECK(pixl_dataset_open(&(pixl_dataset_opts){.kind = "bsds500", .root = BSDS_ROOT, .edge_consensus = 2}) == NULL);
}

PIXL_TEST(bsds_read_errors)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/garbage.mat", pixl_test_tmpdir());
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    fputs("this is not a MAT-file at all, just some text of more than 128 bytes ......................................"
          "...............................................",
          f);
    fclose(f);
    uint8_t *maps = (uint8_t *)1;
    int n, w, h;
    CHECK(pixl_bsds_read(path, &maps, &n, &w, &h) < 0);
    CHECK(maps == NULL && strstr(pixl_last_error(), "garbage.mat") != NULL);
    CHECK(pixl_bsds_read("/nonexistent/x.mat", &maps, &n, &w, &h) == PIXL_ERR_NOT_FOUND);
    pixl_dataset *ds = pixl_dataset_open(NULL); /* synthetic: no boundary maps */
    CHECK(ds && pixl_dataset_load_edges(ds, 0, NULL, NULL, &maps, &n) == PIXL_ERR_ARG);
    CHECK(ds && pixl_dataset_load_normals(ds, 0, NULL, NULL, NULL) == PIXL_ERR_ARG);
    pixl_dataset_free(ds);
}

PIXL_TEST(synthetic_normals_dataset)
{
    enum { W = 48, H = 40 };
    pixl_dataset *ds = pixl_dataset_open(&(pixl_dataset_opts){.kind = "synthetic_normals", .width = W, .height = H, .count = 12, .seed = 7});
    CHECK(ds != NULL);
    if (!ds) return;
    CHECK(pixl_dataset_task(ds) == PIXL_TASK_NORMALS && pixl_dataset_n_classes(ds) == 3);
    const size_t np = (size_t)W * H;
    int64_t sky = 0, kinds[3] = {0, 0, 0};
    for (int i = 0; i < 12; i++) {
        pixl_image *img, *img2;
        float *nrm, *nrm2;
        uint8_t *mask;
        int32_t *lab;
        CHECK(pixl_dataset_load_normals(ds, i, &img, &nrm, &mask) == PIXL_OK);
        CHECK(pixl_dataset_load_normals(ds, i, &img2, &nrm2, NULL) == PIXL_OK);
        CHECK(!memcmp(img->data, img2->data, np * 3) && !memcmp(nrm, nrm2, np * 3 * sizeof(float))); /* deterministic */
        pixl_image_free(img2);
        CHECK(pixl_dataset_load(ds, i, &img2, &lab) == PIXL_OK);
        CHECK(!memcmp(img->data, img2->data, np * 3));
        int bad_unit = 0, bad_face = 0, bad_mask = 0;
        for (size_t p = 0; p < np; p++) {
            double x = nrm[p], y = nrm[np + p], z = nrm[2 * np + p];
            int valid = mask[p] != 0;
            bad_mask += valid != (lab[p] != 255);
            if (!valid) {
                bad_unit += x != 0 || y != 0 || z != 0;
                sky++;
                continue;
            }
            kinds[lab[p]]++;
            bad_unit += fabs(x * x + y * y + z * z - 1) > 1e-5;
            /* facing the camera: the normal points against the ray through the
             * pixel centre, whatever the focal length in the renderer's range
             * (field of view 50..70 degrees: f in [0.71 W, 1.08 W]) */
            double rx = (p % W + 0.5 - W / 2.0), ry = (p / W + 0.5 - H / 2.0);
            bad_face += rx * x + ry * y + 0.71 * W * z > 1e-6 && rx * x + ry * y + 1.08 * W * z > 1e-6;
        }
        CHECK_MSG(bad_unit == 0 && bad_mask == 0 && bad_face == 0, "sample %d: %d non-unit, %d mask/label, %d back-facing",
                  i, bad_unit, bad_mask, bad_face);
        pixl_image_free(img), free(nrm), free(nrm2), free(mask), free(lab);
        pixl_image_free(img2);
    }
    CHECK(sky > 0 && kinds[0] > 0 && kinds[1] > 0 && kinds[2] > 0);
    /* another seed gives other scenes */
    pixl_dataset *ds2 = pixl_dataset_open(&(pixl_dataset_opts){.kind = "synthetic_normals", .width = W, .height = H, .count = 2, .seed = 8});
    pixl_image *a, *b;
    CHECK(ds2 && pixl_dataset_load(ds, 0, &a, NULL) == PIXL_OK && pixl_dataset_load(ds2, 0, &b, NULL) == PIXL_OK);
    if (ds2) {
        CHECK(memcmp(a->data, b->data, np * 3) != 0);
        pixl_image_free(a), pixl_image_free(b);
    }
    CHECK(strcmp(pixl_dataset_sample_name(ds, 3), "synthetic_normals_000003") == 0);
    pixl_dataset_free(ds2);
    pixl_dataset_free(ds);
}

/* a unit vector at angle `deg` from (0, 0, -1) */
static void at_angle(double deg, float *v)
{
    double a = deg * M_PI / 180;
    v[0] = (float)sin(a), v[1] = 0, v[2] = (float)-cos(a);
}

PIXL_TEST(normal_metrics_known_answers)
{
    enum { N = 9 };
    const double ang[N] = {0, 10, 20, 45, 90, 180, 5, 0, 0};
    float pred[3 * N], gt[3 * N];
    uint8_t mask[N] = {1, 1, 1, 1, 1, 1, 0, 1, 1}; /* pixel 6 masked out */
    for (int p = 0; p < N; p++) {
        float v[3], g[3] = {0, 0, -1};
        at_angle(ang[p], v);
        for (int c = 0; c < 3; c++) pred[c * N + p] = v[c] * 2.5f, gt[c * N + p] = g[c]; /* length does not matter */
    }
    for (int c = 0; c < 3; c++) gt[c * N + 7] = 0;   /* no true normal: skipped */
    for (int c = 0; c < 3; c++) pred[c * N + 8] = 0; /* no prediction: 90 degrees */
    /* counted: 0, 10, 20, 45, 90, 180, 90 */
    pixl_normal_scores s;
    CHECK(pixl_normal_scores_exact(pred, gt, mask, N, &s) == PIXL_OK);
    CHECK(s.n_pixels == 7);
    CHECK_NEAR(s.mean, (0 + 10 + 20 + 45 + 90 + 180 + 90) / 7.0, 1e-4);
    CHECK_NEAR(s.median, 45, 1e-4);
    CHECK_NEAR(s.rmse, sqrt((100 + 400 + 2025 + 8100 + 32400 + 8100) / 7.0), 1e-3);
    CHECK_NEAR(s.within_11_25, 2 / 7.0, 1e-12);
    CHECK_NEAR(s.within_22_5, 3 / 7.0, 1e-12);
    CHECK_NEAR(s.within_30, 3 / 7.0, 1e-12);
    float deg[N];
    CHECK(pixl_normal_angles(pred, gt, mask, N, deg) == PIXL_OK);
    CHECK(isnan(deg[6]) && isnan(deg[7]) && fabsf(deg[8] - 90) < 1e-4f && fabsf(deg[5] - 180) < 1e-3f);
    /* the accumulator over two updates (histogram median, even count) */
    pixl_normal_metrics *m = pixl_normal_metrics_new();
    CHECK(m != NULL);
    if (!m) return;
    CHECK(pixl_normal_metrics_update(m, pred, gt, mask, N) == PIXL_OK);
    const float one_p[3] = {0, 0, -1}, one_g[3] = {0, 0, -3};
    CHECK(pixl_normal_metrics_update(m, one_p, one_g, NULL, 1) == PIXL_OK); /* one more 0-degree pixel */
    pixl_normal_scores t;
    CHECK(pixl_normal_metrics_scores(m, &t) == PIXL_OK);
    CHECK(t.n_pixels == 8);
    CHECK_NEAR(t.median, (20 + 45) / 2.0, 1e-3);
    CHECK_NEAR(t.within_11_25, 3 / 8.0, 1e-12);
    char *js = pixl_normal_scores_json(&t);
    cJSON *o = js ? cJSON_Parse(js) : NULL;
    CHECK_MSG(o != NULL, "not JSON: %s", js ? js : "(null)");
    CHECK(o && cJSON_GetObjectItem(o, "pixels")->valuedouble == 8);
    CHECK(o && fabs(cJSON_GetObjectItem(o, "median")->valuedouble - t.median) < 1e-6);
    CHECK(o && fabs(cJSON_GetObjectItem(o, "within_11_25")->valuedouble - 0.375) < 1e-6);
    cJSON_Delete(o);
    free(js);
    pixl_normal_metrics_reset(m);
    CHECK(pixl_normal_metrics_scores(m, &t) == PIXL_OK && t.n_pixels == 0 && isnan(t.mean));
    js = pixl_normal_scores_json(&t); /* no pixel: NaN scores are null, still valid JSON */
    o = js ? cJSON_Parse(js) : NULL;
    CHECK_MSG(o && cJSON_IsNull(cJSON_GetObjectItem(o, "mean")), "%s", js ? js : "(null)");
    cJSON_Delete(o);
    free(js);
    CHECK(pixl_normal_scores_json(NULL) == NULL);
    pixl_normal_metrics_free(m);
    CHECK(pixl_normal_metrics_update(NULL, pred, gt, NULL, N) == PIXL_ERR_ARG);
}

PIXL_TEST(normal_metrics_threads)
{
    /* the synthetic set's exact normals against a perturbed copy: same sums for 1 and 2 threads */
    pixl_dataset *ds = pixl_dataset_open(&(pixl_dataset_opts){.kind = "synthetic_normals", .width = 320, .height = 240, .count = 1});
    float *gt;
    uint8_t *mask;
    CHECK(ds && pixl_dataset_load_normals(ds, 0, NULL, &gt, &mask) == PIXL_OK);
    if (!ds) return;
    const int64_t n = 320 * 240;
    float *pred = malloc(sizeof(float) * 3 * n);
    for (int64_t i = 0; i < 3 * n; i++) pred[i] = gt[i] + 0.3f * sinf((float)i * 0.37f);
    pixl_normal_scores a, b;
    pixl_set_num_threads(1);
    CHECK(pixl_normal_scores_exact(pred, gt, mask, n, &a) == PIXL_OK);
    pixl_set_num_threads(2);
    CHECK(pixl_normal_scores_exact(pred, gt, mask, n, &b) == PIXL_OK);
    CHECK(!memcmp(&a, &b, sizeof a));
    CHECK(a.n_pixels > 0 && a.mean > 1 && a.mean < 60);
    /* exact predictions: zero error everywhere */
    CHECK(pixl_normal_scores_exact(gt, gt, mask, n, &a) == PIXL_OK);
    CHECK(a.mean < 1e-2 && a.within_11_25 == 1.0);
    free(pred), free(gt), free(mask);
    pixl_dataset_free(ds);
}

PIXL_TEST(evaluate_normals_and_edges)
{
    pixl_dataset *ds = pixl_dataset_open(&(pixl_dataset_opts){.kind = "synthetic_normals", .width = 32, .height = 32, .count = 2});
    pixl_model *m3 = pixl_model_create("unet", &(pixl_model_opts){.n_classes = 3, .width = 0.25f}, 3);
    pixl_model *m1 = pixl_model_create("unet", &(pixl_model_opts){.n_classes = 1, .width = 0.25f}, 3);
    pixl_normal_metrics *acc = pixl_normal_metrics_new();
    CHECK(ds && m3 && m1 && acc);
    if (!ds || !m3 || !m1 || !acc) goto done;
    CHECK(pixl_evaluate_normals(m3, ds, NULL, acc) == PIXL_OK);
    pixl_normal_scores s;
    CHECK(pixl_normal_metrics_scores(acc, &s) == PIXL_OK);
    int64_t valid = 0;
    for (int i = 0; i < 2; i++) {
        uint8_t *mask;
        CHECK(pixl_dataset_load_normals(ds, i, NULL, NULL, &mask) == PIXL_OK);
        for (int p = 0; p < 32 * 32; p++) valid += mask[p];
        free(mask);
    }
    CHECK(s.n_pixels == valid && s.mean >= 0 && s.mean <= 180);
    CHECK(pixl_evaluate_normals(m1, ds, NULL, acc) == PIXL_ERR_SHAPE);
    pixl_edge_bench_result *r = calloc(1, sizeof *r);
    CHECK(pixl_evaluate_edges(m1, ds, NULL, NULL, r) == PIXL_ERR_ARG); /* no boundary maps */
    if (!access(BSDS_ROOT "/groundTruth/val", R_OK)) {
        pixl_dataset *bs = pixl_dataset_open(&(pixl_dataset_opts){.kind = "bsds500", .root = BSDS_ROOT, .split = "val", .limit = 1});
        CHECK(bs && pixl_evaluate_edges(m3, bs, NULL, NULL, r) == PIXL_ERR_SHAPE);
        pixl_edge_bench_opts bo = {.n_thresholds = 3};
        pixl_model_set_input_size(m1, 48, 64); /* small network pass, logits resized back */
        CHECK(bs && pixl_evaluate_edges(m1, bs, NULL, &bo, r) == PIXL_OK);
        CHECK(r->n_images == 1 && r->n_thresholds == 3 && r->total[0].sum_r > 1000);
        CHECK(r->ods_f >= 0 && r->ods_f <= 1 && r->ap >= 0 && r->ap <= 1);
        pixl_dataset_free(bs);
    }
    free(r);
done:
    pixl_normal_metrics_free(acc);
    pixl_model_free(m1), pixl_model_free(m3);
    pixl_dataset_free(ds);
}

PIXL_TEST(config_edge_normal_kinds)
{
    pixl_train_config cfg;
    CHECK(pixl_config_load_string("data:\n  dataset: synthetic_normals\n  img_rows: 24\n  img_cols: 32\n", "t.yaml", &cfg) ==
          PIXL_OK);
    pixl_dataset *tr = pixl_config_open_split(&cfg, "train", 0), *va = pixl_config_open_split(&cfg, NULL, 0);
    CHECK(tr && va && pixl_dataset_task(va) == PIXL_TASK_NORMALS && !strcmp(pixl_dataset_kind(va), "synthetic_normals"));
    pixl_image *a = NULL, *b = NULL;
    CHECK(tr && va && pixl_dataset_load(tr, 0, &a, NULL) == PIXL_OK && pixl_dataset_load(va, 0, &b, NULL) == PIXL_OK);
    CHECK(a && b && a->width == 32 && a->height == 24 && memcmp(a->data, b->data, 32 * 24 * 3) != 0); /* disjoint seeds */
    pixl_image_free(a), pixl_image_free(b);
    pixl_dataset_free(tr), pixl_dataset_free(va);
    if (!access(BSDS_ROOT "/groundTruth/val", R_OK)) {
        CHECK(pixl_config_load_string("data:\n  dataset: bsds500\n  root: " BSDS_ROOT "\n", "t.yaml", &cfg) == PIXL_OK);
        va = pixl_config_open_split(&cfg, NULL, 3);
        CHECK(va && pixl_dataset_size(va) == 3 && pixl_dataset_task(va) == PIXL_TASK_EDGES);
        pixl_dataset_free(va);
    }
}
