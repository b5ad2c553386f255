/* test_metrics.c — confusion matrix and segmentation scores against hand-
 * computed examples (arithmetic in the comments) and pytorch-semseg's
 * runningScore run by numpy; ignore handling, bad predictions, merging,
 * thread-count invariance, channel argmax, JSON and table output. */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "test.h"
#include "pixl_metrics.h"

static pixl_confusion *conf_from(int k, int ignore, const int32_t *pred, const int32_t *label, int64_t n)
{
    pixl_confusion *c = pixl_confusion_new(k, ignore);
    CHECK(c != NULL);
    if (c) CHECK_OK(pixl_confusion_update(c, pred, label, n));
    return c;
}

/* K = 3, ignore 255.
 *   label 0 0 1 1 2 2 255 0
 *   pred  0 1 1 1 2 0   2 0
 * valid pairs (t,p): (0,0) (0,1) (1,1) (1,1) (2,2) (2,0) (0,0); pixel 6 ignored.
 *          p0 p1 p2 | row
 *   t0 [    2  1  0 ]  3
 *   t1 [    0  2  0 ]  2
 *   t2 [    1  0  1 ]  2
 *   col     3  3  1    sum 7, trace 5
 * overall acc = 5/7
 * class acc   = 2/3, 2/2, 1/2          -> mean (2/3 + 1 + 1/2)/3 = 13/18
 * IoU         = 2/(3+3-2) = 1/2, 2/(2+3-2) = 2/3, 1/(2+1-1) = 1/2 -> mean (5/3)/3 = 5/9
 * freq        = 3/7, 2/7, 2/7
 * fw IoU      = 3/7*1/2 + 2/7*2/3 + 2/7*1/2 = (3/2 + 4/3 + 1)/7 = (23/6)/7 = 23/42 */
PIXL_TEST(metrics_hand_example)
{
    const int32_t label[8] = {0, 0, 1, 1, 2, 2, 255, 0}, pred[8] = {0, 1, 1, 1, 2, 0, 2, 0};
    pixl_confusion *c = conf_from(3, 255, pred, label, 8);
    if (!c) return;
    const int64_t want[9] = {2, 1, 0, 0, 2, 0, 1, 0, 1};
    const int64_t *m = pixl_confusion_counts(c);
    for (int i = 0; i < 9; i++) CHECK_MSG(m[i] == want[i], "count %d: %lld want %lld", i, (long long)m[i], (long long)want[i]);
    CHECK(pixl_confusion_total(c) == 7);
    CHECK(pixl_confusion_ignored(c) == 1);
    pixl_seg_scores s;
    double iou[3], acc[3];
    CHECK_OK(pixl_confusion_scores(c, &s, iou, acc));
    CHECK_NEAR(s.overall_acc, 5.0 / 7, 1e-15);
    CHECK_NEAR(s.mean_acc, 13.0 / 18, 1e-15);
    CHECK_NEAR(s.mean_iou, 5.0 / 9, 1e-15);
    CHECK_NEAR(s.freq_weighted_iou, 23.0 / 42, 1e-15);
    CHECK_NEAR(iou[0], 0.5, 1e-15);
    CHECK_NEAR(iou[1], 2.0 / 3, 1e-15);
    CHECK_NEAR(iou[2], 0.5, 1e-15);
    CHECK_NEAR(acc[0], 2.0 / 3, 1e-15);
    CHECK_NEAR(acc[1], 1.0, 1e-15);
    CHECK_NEAR(acc[2], 0.5, 1e-15);
    CHECK(s.n_classes == 3 && s.n_pixels == 7 && s.n_ignored == 1 && s.n_present == 3);
    pixl_confusion_free(c);
}

/* K = 4: class 2 only predicted, class 3 absent from both.
 *   label 0 0 1 1
 *   pred  0 2 1 1
 *   t0 [1 0 1 0]  row 2      cols: 1 2 1 0
 *   t1 [0 2 0 0]  row 2
 *   t2, t3 empty rows
 * overall acc = 3/4
 * class acc   = 1/2, 1, NaN, NaN       -> mean 3/4
 * IoU         = 1/(2+1-1) = 1/2, 2/(2+2-2) = 1, 0/(0+1-0) = 0, NaN (0/0: excluded)
 *             -> mean (1/2 + 1 + 0)/3 = 1/2 (class 2 counts as 0, class 3 is skipped)
 * fw IoU      = 2/4*1/2 + 2/4*1 = 3/4 */
PIXL_TEST(metrics_absent_class)
{
    const int32_t label[4] = {0, 0, 1, 1}, pred[4] = {0, 2, 1, 1};
    pixl_confusion *c = conf_from(4, 255, pred, label, 4);
    if (!c) return;
    pixl_seg_scores s;
    double iou[4], acc[4];
    CHECK_OK(pixl_confusion_scores(c, &s, iou, acc));
    CHECK_NEAR(s.overall_acc, 0.75, 1e-15);
    CHECK_NEAR(s.mean_acc, 0.75, 1e-15);
    CHECK_NEAR(s.mean_iou, 0.5, 1e-15);
    CHECK_NEAR(s.freq_weighted_iou, 0.75, 1e-15);
    CHECK(iou[2] == 0.0);
    CHECK(isnan(iou[3]));
    CHECK(isnan(acc[2]) && isnan(acc[3]));
    CHECK(s.n_present == 2);
    pixl_confusion_free(c);
}

/* every pixel ignored: numpy gives NaN for acc, mean acc and mean IoU (0/0,
 * nanmean of all-NaN) and 0 for the frequency-weighted IoU (empty sum) */
PIXL_TEST(metrics_all_ignored)
{
    const int32_t label[5] = {255, 255, 255, 255, 255}, pred[5] = {0, 1, 0, 1, 1};
    pixl_confusion *c = conf_from(2, 255, pred, label, 5);
    if (!c) return;
    pixl_seg_scores s;
    double iou[2], acc[2];
    CHECK_OK(pixl_confusion_scores(c, &s, iou, acc));
    CHECK(s.n_pixels == 0 && s.n_ignored == 5 && s.n_present == 0);
    CHECK(isnan(s.overall_acc) && isnan(s.mean_acc) && isnan(s.mean_iou));
    CHECK(s.freq_weighted_iou == 0.0);
    CHECK(isnan(iou[0]) && isnan(iou[1]) && isnan(acc[0]) && isnan(acc[1]));
    char *js = pixl_metrics_json(c, NULL, 0);
    CHECK(js != NULL);
    if (js) {
        CHECK_MSG(strstr(js, "\"mean_iou\": null") != NULL, "%s", js);
        CHECK_MSG(strstr(js, "\"freq_weighted_iou\": 0") != NULL, "%s", js);
        cJSON *j = cJSON_Parse(js);
        CHECK_MSG(j != NULL, "not JSON: %s", js);
        cJSON_Delete(j);
        free(js);
    }
    pixl_confusion_free(c);
}

/* labels outside [0, K) that are not the ignore value are skipped as well
 * (pytorch-semseg's mask (t >= 0) & (t < K)); ignore_index inside [0, K)
 * removes that class */
PIXL_TEST(metrics_label_range)
{
    const int32_t label[6] = {0, 7, -3, 1, 1, 255}, pred[6] = {0, 0, 1, 1, 0, 1};
    pixl_confusion *c = conf_from(2, 255, pred, label, 6);
    if (!c) return;
    const int64_t *m = pixl_confusion_counts(c);
    /* counted: (0,0) (1,1) (1,0) */
    CHECK(m[0] == 1 && m[1] == 0 && m[2] == 1 && m[3] == 1);
    CHECK(pixl_confusion_ignored(c) == 3);
    pixl_confusion_free(c);

    c = conf_from(2, 0, pred, label, 6); /* label 0 ignored: (1,1) (1,0) */
    if (!c) return;
    m = pixl_confusion_counts(c);
    CHECK(m[0] == 0 && m[1] == 0 && m[2] == 1 && m[3] == 1);
    pixl_confusion_free(c);
}

PIXL_TEST(metrics_bad_prediction)
{
    const int32_t label[4] = {0, 1, 255, 1}, pred[4] = {0, 1, 2, -1};
    pixl_confusion *c = pixl_confusion_new(2, 255);
    if (!c) return;
    const int32_t ok_l[1] = {1}, ok_p[1] = {1};
    CHECK_OK(pixl_confusion_update(c, ok_p, ok_l, 1));
    /* pixel 2 has prediction 2 (even though its label is ignored) */
    CHECK(pixl_confusion_update(c, pred, label, 4) == PIXL_ERR_ARG);
    CHECK_MSG(strstr(pixl_last_error(), "prediction 2 at pixel 2 is outside [0, 2)") != NULL, "%s", pixl_last_error());
    /* unchanged */
    CHECK(pixl_confusion_total(c) == 1 && pixl_confusion_counts(c)[3] == 1 && pixl_confusion_ignored(c) == 0);
    CHECK(pixl_confusion_new(0, 255) == NULL);
    CHECK(pixl_confusion_new(5000, 255) == NULL);
    pixl_confusion *c3 = pixl_confusion_new(3, 255);
    CHECK(pixl_confusion_merge(c, c3) == PIXL_ERR_SHAPE);
    CHECK(pixl_confusion_update(c, NULL, label, 4) == PIXL_ERR_ARG);
    CHECK_OK(pixl_confusion_update(c, NULL, NULL, 0));
    pixl_confusion_free(c3);
    pixl_confusion_free(c);
    pixl_confusion_free(NULL);
}

/* 31-bit LCG shared with the numpy reference (see the script in the comment
 * of metrics_numpy_reference) */
static uint32_t lcg(uint32_t *x)
{
    *x = (uint32_t)(((uint64_t)*x * 1103515245u + 12345u) % (1u << 31));
    return *x >> 8;
}

static void gen(int n, int32_t *label, int32_t *pred)
{
    uint32_t x = 12345;
    for (int i = 0; i < n; i++) {
        uint32_t r = lcg(&x);
        int32_t t = (int32_t)(r % 5);
        if (t == 4) t = 255;
        uint32_t r2 = lcg(&x);
        int32_t p = ((r2 % 10) < 6 && t != 255) ? t : (int32_t)((r2 >> 4) % 5);
        label[i] = t;
        pred[i] = p;
    }
}

/* Expected values from pytorch-semseg's runningScore (ptsemseg/metrics.py)
 * run by numpy 1.24 (/usr/bin/python3) on the same 1000 pixels, K = 6:
 *
 *   def gen(n):
 *       x = 12345; labels, preds = [], []
 *       for i in range(n):
 *           x = (x * 1103515245 + 12345) % (1 << 31); r = x >> 8
 *           t = r % 5; t = 255 if t == 4 else t
 *           x = (x * 1103515245 + 12345) % (1 << 31); r2 = x >> 8
 *           p = t if (r2 % 10) < 6 and t != 255 else (r2 >> 4) % 5
 *           labels.append(t); preds.append(p)
 *       return np.array(labels), np.array(preds)
 *   rs = runningScore(6); rs.update([lab], [pred]); rs.get_scores()
 *
 * Class 4 is only ever predicted (IoU 0), class 5 never occurs (IoU NaN). */
PIXL_TEST(metrics_numpy_reference)
{
    enum { N = 1000 };
    int32_t label[N], pred[N];
    gen(N, label, pred);
    pixl_confusion *c = conf_from(6, 255, pred, label, N);
    if (!c) return;
    static const int64_t want[6][6] = {{134, 20, 16, 13, 12, 0}, {12, 125, 13, 18, 18, 0}, {9, 29, 136, 9, 26, 0},
                                       {8, 26, 13, 133, 24, 0},  {0, 0, 0, 0, 0, 0},       {0, 0, 0, 0, 0, 0}};
    const int64_t *m = pixl_confusion_counts(c);
    for (int i = 0; i < 36; i++) CHECK_MSG(m[i] == want[i / 6][i % 6], "count [%d][%d]", i / 6, i % 6);
    CHECK(pixl_confusion_ignored(c) == 206);
    pixl_seg_scores s;
    double iou[6];
    CHECK_OK(pixl_confusion_scores(c, &s, iou, NULL));
    CHECK_NEAR(s.overall_acc, 0.6649874055415617, 1e-15);
    CHECK_NEAR(s.mean_acc, 0.6654752463987957, 1e-15);
    CHECK_NEAR(s.freq_weighted_iou, 0.5417783308366779, 1e-15);
    CHECK_NEAR(s.mean_iou, 0.4328112250630487, 1e-15);
    const double want_iou[5] = {0.5982142857142857, 0.4789272030651341, 0.5418326693227091, 0.5450819672131147, 0.0};
    for (int i = 0; i < 5; i++) CHECK_NEAR(iou[i], want_iou[i], 1e-15);
    CHECK(isnan(iou[5]));
    pixl_confusion_free(c);
}

/* the counts do not depend on how pixels are split: between calls, between
 * matrices (merge), between threads */
PIXL_TEST(metrics_merge_and_threads)
{
    const int64_t n = 400000; /* > 2 * 65536: several private matrices */
    int32_t *label = malloc(sizeof(int32_t) * n), *pred = malloc(sizeof(int32_t) * n);
    uint64_t x = 7;
    int64_t ref[49] = {0};
    for (int64_t i = 0; i < n; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        label[i] = (int32_t)((x >> 33) % 8);                       /* 7 = ignored */
        pred[i] = (int32_t)(((x >> 40) % 3 == 0) ? (x >> 50) % 7 : label[i] % 7);
        if (label[i] != 7) ref[label[i] * 7 + pred[i]]++;
    }
    int saved = pixl_num_threads();
    pixl_set_num_threads(1);
    pixl_confusion *one = conf_from(7, 7, pred, label, n);
    pixl_set_num_threads(2);
    pixl_confusion *two = conf_from(7, 7, pred, label, n);
    pixl_confusion *a = conf_from(7, 7, pred, label, 123457);
    pixl_confusion *b = conf_from(7, 7, pred + 123457, label + 123457, n - 123457);
    if (one && two && a && b) {
        CHECK_OK(pixl_confusion_merge(a, b));
        CHECK(memcmp(pixl_confusion_counts(one), ref, sizeof ref) == 0);
        CHECK(memcmp(pixl_confusion_counts(two), ref, sizeof ref) == 0);
        CHECK(memcmp(pixl_confusion_counts(a), ref, sizeof ref) == 0);
        CHECK(pixl_confusion_ignored(a) == pixl_confusion_ignored(one));
        /* the first bad prediction is reported whatever the split */
        pred[300000] = 9;
        pred[350000] = -2;
        CHECK(pixl_confusion_update(two, pred, label, n) == PIXL_ERR_ARG);
        CHECK_MSG(strstr(pixl_last_error(), "prediction 9 at pixel 300000") != NULL, "%s", pixl_last_error());
        CHECK(memcmp(pixl_confusion_counts(two), ref, sizeof ref) == 0);
        pixl_confusion_reset(two);
        CHECK(pixl_confusion_total(two) == 0 && pixl_confusion_ignored(two) == 0);
        CHECK_OK(pixl_confusion_set_counts(two, ref));
        CHECK(pixl_confusion_total(two) == pixl_confusion_total(one));
    }
    pixl_set_num_threads(saved);
    pixl_confusion_free(one);
    pixl_confusion_free(two);
    pixl_confusion_free(a);
    pixl_confusion_free(b);
    free(label);
    free(pred);
}

/* logits (N=2, K=3, H=1, W=2); pixel values listed per channel:
 *   n0 px0: 0.1  0.5  0.2  -> 1        n0 px1: 3  3  1   -> 0 (tie: first)
 *   n1 px0: -1  -2  NaN    -> 2 (NaN)  n1 px1: -5 -4 -4  -> 1 (tie: first) */
PIXL_TEST(metrics_argmax)
{
    const float logits[12] = {0.1f, 3, 0.5f, 3, 0.2f, 1, /* n0: ch0 (px0 px1), ch1, ch2 */
                              -1, -5, -2, -4, NAN, -4};
    int32_t out[4] = {-9, -9, -9, -9};
    CHECK_OK(pixl_argmax_channels(logits, 2, 3, 1, 2, out));
    CHECK(out[0] == 1 && out[1] == 0 && out[2] == 2 && out[3] == 1);
    CHECK(pixl_argmax_channels(logits, 2, 0, 1, 2, out) == PIXL_ERR_ARG);
    /* a larger case over threads against a serial loop */
    enum { B = 2, K = 5, HW = 100 * 100 };
    float *x = malloc(sizeof(float) * B * K * HW);
    int32_t *got = malloc(sizeof(int32_t) * B * HW);
    pixl_test_fill_uniform(x, B * K * HW, -1, 1, 3);
    CHECK_OK(pixl_argmax_channels(x, B, K, 100, 100, got));
    int bad = 0;
    for (int b = 0; b < B; b++)
        for (int q = 0; q < HW; q++) {
            int bi = 0;
            for (int c = 1; c < K; c++)
                if (x[(b * K + c) * HW + q] > x[(b * K + bi) * HW + q]) bi = c;
            bad += got[b * HW + q] != bi;
        }
    CHECK(bad == 0);
    free(x);
    free(got);
}

PIXL_TEST(metrics_json_and_table)
{
    const int32_t label[8] = {0, 0, 1, 1, 2, 2, 255, 0}, pred[8] = {0, 1, 1, 1, 2, 0, 2, 0};
    pixl_confusion *c = conf_from(3, 255, pred, label, 8);
    if (!c) return;
    const char *names[3] = {"sky", "road \"main\"", NULL};
    char *js = pixl_metrics_json(c, names, 1);
    CHECK(js != NULL);
    if (js) {
        cJSON *j = cJSON_Parse(js);
        CHECK_MSG(j != NULL, "not JSON: %s", js);
        if (j) {
            CHECK(cJSON_GetObjectItem(j, "n_classes")->valueint == 3);
            CHECK(cJSON_GetObjectItem(j, "pixels")->valuedouble == 7);
            CHECK(cJSON_GetObjectItem(j, "ignored")->valuedouble == 1);
            /* the printed numbers read back to exactly the computed scores */
            pixl_seg_scores s;
            CHECK_OK(pixl_confusion_scores(c, &s, NULL, NULL));
            CHECK(cJSON_GetObjectItem(j, "overall_acc")->valuedouble == s.overall_acc);
            CHECK(cJSON_GetObjectItem(j, "mean_iou")->valuedouble == s.mean_iou);
            CHECK(cJSON_GetObjectItem(j, "mean_acc")->valuedouble == s.mean_acc);
            CHECK(cJSON_GetObjectItem(j, "freq_weighted_iou")->valuedouble == s.freq_weighted_iou);
            CHECK_NEAR(cJSON_GetObjectItem(j, "mean_iou")->valuedouble, 5.0 / 9, 1e-15);
            cJSON *ci = cJSON_GetObjectItem(j, "class_iou");
            CHECK(ci && cJSON_GetObjectItem(ci, "sky") && cJSON_GetObjectItem(ci, "sky")->valuedouble == 0.5);
            CHECK(ci && cJSON_GetObjectItem(ci, "road \"main\"") &&
                  cJSON_GetObjectItem(ci, "road \"main\"")->valuedouble == 2.0 / 3);
            CHECK(ci && cJSON_GetObjectItem(ci, "2") && cJSON_GetObjectItem(ci, "2")->valuedouble == 0.5);
            cJSON *cm = cJSON_GetObjectItem(j, "confusion");
            CHECK(cm && cJSON_GetArraySize(cm) == 3 && cJSON_GetArrayItem(cJSON_GetArrayItem(cm, 2), 0)->valueint == 1);
            cJSON_Delete(j);
        }
        free(js);
    }
    js = pixl_metrics_json(c, NULL, 0);
    if (js) {
        CHECK(strstr(js, "confusion") == NULL);
        CHECK(strstr(js, "\"class_iou\": {\"0\": 0.5, \"1\": 0.6666666666666666, \"2\": 0.5}") != NULL);
        free(js);
    }
    char path[512];
    snprintf(path, sizeof path, "%s/metrics_table.txt", pixl_test_tmpdir());
    FILE *f = fopen(path, "w+");
    CHECK(f != NULL);
    if (f) {
        CHECK_OK(pixl_metrics_print(f, c, names));
        rewind(f);
        char text[4096] = {0};
        size_t got = fread(text, 1, sizeof text - 1, f);
        (void)got;
        fclose(f);
        /* 5/9 = 55.56 %, 5/7 = 71.43 %, 13/18 = 72.22 %, 23/42 = 54.76 % */
        CHECK_MSG(strstr(text, "mean IoU 55.56%  overall acc 71.43%  mean acc 72.22%  freq-weighted IoU 54.76%") != NULL,
                  "%s", text);
        CHECK_MSG(strstr(text, "   0  sky") != NULL && strstr(text, "50.00") != NULL && strstr(text, "66.67") != NULL,
                  "%s", text);
    }
    pixl_confusion_free(c);
}
