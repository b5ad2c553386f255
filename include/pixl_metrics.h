/* pixl_metrics.h — the metrics layer of pixl: the confusion matrix and the
 * segmentation scores of pytorch-semseg with their JSON and table printers,
 * the BSDS boundary benchmark (ODS/OIS/AP) and surface-normal angle metrics.
 *
 * CONTRACT
 *   - Works on plain arrays (predictions, labels, edge maps, normals); uses
 *     the core only (errors, threads, the JSON writer). Accumulators
 *     (pixl_confusion, pixl_normal_metrics) are owned by the caller.
 *   - Errors: as in the core.
 *   - Threads: OpenMP with the process default (pixl_set_num_threads());
 *     every result is identical for any thread count. An accumulator must
 *     not be updated by two threads at once.
 *   - Links: build/libpixl_metrics.a build/libpixl_core.a and the core's
 *     system libraries.
 */
#ifndef PIXL_METRICS_H
#define PIXL_METRICS_H

#include "pixl.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- metrics */
/* (src/metrics/; stdio.h comes with pixl.h: FILE for the printers) */

/* SEGMENTATION METRICS
 *
 *     pixl_confusion *cm = pixl_confusion_new(11, 11);   // 11 classes, label 11 = void
 *     for each batch:
 *         pixl_argmax_channels(logits, N, 11, H, W, pred); // (N,K,H,W) -> (N,H,W)
 *         pixl_confusion_update(cm, pred, labels, N * H * W);
 *     pixl_seg_scores s;
 *     pixl_confusion_scores(cm, &s, iou, NULL);          // s.mean_iou ...
 *     pixl_metrics_print(stdout, cm, names);
 *     char *js = pixl_metrics_json(cm, names, 0); ... free(js);
 *
 * The matrix is K x K with exact 64-bit counts, row = ground-truth class,
 * column = predicted class. A pixel counts when its label != ignore_index
 * and 0 <= label < K; other pixels are skipped (and counted as ignored).
 * Scores follow pytorch-semseg's runningScore exactly:
 *   overall_acc       = trace / sum
 *   class acc_i       = m[i][i] / row_i                  (NaN if row_i == 0)
 *   mean_acc          = mean of the non-NaN class acc
 *   IoU_i             = m[i][i] / (row_i + col_i - m[i][i])
 *                       (NaN if row_i + col_i == 0: the class is absent from
 *                        both ground truth and prediction)
 *   mean_iou          = mean of the non-NaN IoU
 *   freq_weighted_iou = sum over classes with row_i > 0 of (row_i/sum) * IoU_i
 * With no counted pixel every score is NaN except freq_weighted_iou (0). */
typedef struct pixl_confusion pixl_confusion;

/* n_classes in [1, 4096]. ignore_index may be any value (e.g. 255, or -1 for none). */
pixl_confusion *pixl_confusion_new(int n_classes, int ignore_index);
void pixl_confusion_free(pixl_confusion *c);
void pixl_confusion_reset(pixl_confusion *c); /* all counts to 0 */
int pixl_confusion_n_classes(const pixl_confusion *c);
int pixl_confusion_ignore_index(const pixl_confusion *c);
/* K*K counts, counts[truth * K + pred]; valid until the matrix is freed. */
const int64_t *pixl_confusion_counts(const pixl_confusion *c);
/* Replace every count (K*K values, none negative), e.g. from a saved report. */
int pixl_confusion_set_counts(pixl_confusion *c, const int64_t *counts);
int64_t pixl_confusion_total(const pixl_confusion *c);   /* counted pixels */
int64_t pixl_confusion_ignored(const pixl_confusion *c); /* skipped pixels */
/* Count n pixels: pred and label are int32 arrays of n values (any layout,
 * e.g. (N,H,W)). A prediction outside [0, K) anywhere is an error naming
 * the first such pixel; the matrix is then unchanged. OpenMP-parallel with
 * per-thread matrices; the result is exact for any thread count. */
int pixl_confusion_update(pixl_confusion *c, const int32_t *pred, const int32_t *label, int64_t n);
/* dst += src (same K). */
int pixl_confusion_merge(pixl_confusion *dst, const pixl_confusion *src);

typedef struct pixl_seg_scores {
    double overall_acc, mean_acc, freq_weighted_iou, mean_iou;
    int n_classes;
    int n_present;     /* classes with at least one ground-truth pixel */
    int64_t n_pixels;  /* counted pixels */
    int64_t n_ignored; /* skipped pixels */
} pixl_seg_scores;

/* Scores; class_iou and class_acc (K doubles each, NaN where undefined) may be NULL. */
int pixl_confusion_scores(const pixl_confusion *c, pixl_seg_scores *s, double *class_iou, double *class_acc);

/* Every score as a JSON object (malloc'ed string, free() it, NULL on failure):
 *   {"n_classes": K, "pixels": .., "ignored": .., "overall_acc": .., "mean_acc": ..,
 *    "freq_weighted_iou": .., "mean_iou": .., "class_iou": {"<name>": .., ...},
 *    "class_acc": {...}[, "confusion": [[..], ..]]}
 * Keys of class_iou/class_acc are class_names[i] (when class_names and the
 * entry are non-NULL) or "i". Undefined (NaN) values are null. Numbers are
 * printed with enough digits to read back exactly. */
char *pixl_metrics_json(const pixl_confusion *c, const char *const *class_names, int with_confusion);
/* A per-class table (id, name, IoU %, acc %, ground-truth pixels) and a
 * summary line; "-" marks undefined values. */
int pixl_metrics_print(FILE *f, const pixl_confusion *c, const char *const *class_names);

/* EDGE DETECTION: THE BSDS BOUNDARY BENCHMARK (src/metrics/edge_bench.c)
 *
 *     pixl_edge_sample s[N];   // per image: soft edge map in [0,1] + human boundary maps
 *     pixl_edge_bench_result r;
 *     pixl_edge_benchmark(s, N, NULL, &r);   // r.ods_f, r.ois_f, r.ap
 *
 * The protocol of the BSDS500 benchmark (and of Dollar's edgesEval used by
 * HED, RCF, PixelNet):
 *   1. Non-maximum suppression (pixl_edge_nms).
 *   2. For each threshold t_k = k/(K+1), k = 1..K (K = 99): the binary map
 *      pred >= max(eps, t_k), thinned to 1-pixel lines (pixl_edge_thin).
 *   3. For each human: a minimum-cost assignment of the binary map's pixels
 *      to the human's boundary pixels within max_dist * image diagonal
 *      (pixl_edge_correspond). cnt_r += the human's matched pixels, sum_r +=
 *      the human's pixels (recall is summed over humans); cnt_p = pixels of
 *      the binary map matched to at least one human, sum_p = its pixels.
 *   4. ODS: P/R from the counts summed over images; the best F on the lines
 *      between neighbouring thresholds (100 steps each). OIS: each image's
 *      best-F threshold, counts summed over images at those, then F. AP:
 *      precision interpolated linearly at recall 0, 0.01, .., 1 inside the
 *      recall range reached (MATLAB interp1 over the distinct recalls), /100.
 * All functions return PIXL_OK or a negative status with a message. */
#define PIXL_EDGE_MAX_THRESHOLDS 256

typedef struct pixl_edge_sample {
    int width, height;
    const float *pred;  /* height*width soft edge map, row-major, values in [0,1] */
    int n_gt;           /* number of human annotations (>= 1) */
    const uint8_t *gt;  /* n_gt maps of height*width, one after another; non-zero = boundary */
} pixl_edge_sample;

typedef struct pixl_edge_bench_opts {
    int n_thresholds;    /* 0 -> 99 */
    double max_dist;     /* tolerance as a fraction of the image diagonal; 0 -> 0.0075 */
    double outlier_cost; /* cost of an unmatched pixel as a multiple of the tolerance; 0 -> 100 */
    int no_nms;          /* 1: pred is already thinned; skip pixl_edge_nms */
    int no_thin;         /* 1: skip the per-threshold thinning */
} pixl_edge_bench_opts;

typedef struct pixl_edge_counts {
    int64_t cnt_r, sum_r; /* matched human pixels, human pixels (summed over humans) */
    int64_t cnt_p, sum_p; /* predicted pixels matched to any human, predicted pixels */
} pixl_edge_counts;

typedef struct pixl_edge_bench_result {
    int n_images, n_thresholds;
    double thresholds[PIXL_EDGE_MAX_THRESHOLDS];
    pixl_edge_counts total[PIXL_EDGE_MAX_THRESHOLDS]; /* summed over images, per threshold */
    double ods_f, ods_p, ods_r, ods_t;                /* optimal dataset scale */
    double ois_f, ois_p, ois_r;                       /* optimal image scale */
    double ap;                                        /* average precision */
    double seconds;                                   /* wall time of pixl_edge_benchmark */
} pixl_edge_bench_result;

/* Edge NMS as the edgesNms recipe of HED/RCF evaluations: E = convTri(pred, 1);
 * orientation O = mod(atan(Oyy*sign(-Oxy)/(Oxx+1e-5)), pi) from the second
 * derivatives of convTri(E, 4) (MATLAB-style gradients); a pixel is zeroed
 * when 1.01*E is below E bilinearly interpolated at distance 1 on either
 * side along (cos O, sin O); values within 5 pixels of the border are faded
 * linearly to 0. out (height*width) receives the result. */
int pixl_edge_nms(const float *pred, int width, int height, float *out);
/* Thin a binary map (non-zero = on) in place to 1-pixel lines: MATLAB's
 * bwmorph(bw, 'thin', Inf) (Lam-Lee-Suen two-subiteration parallel
 * thinning, repeated until nothing changes). Output values are 0/1. */
int pixl_edge_thin(uint8_t *bw, int width, int height);
/* Minimum-cost correspondence of the on-pixels of a and b (as the
 * benchmark's correspondPixels, max_dist in PIXELS here): pairs within
 * max_dist_px cost their distance (rint(100 d)/100, the benchmark's integer
 * costs), an unmatched pixel costs outlier_cost*max_dist_px. The
 * assignment is exact (sparse Hungarian method per connected component).
 * match_a / match_b (height*width int32, may be NULL): 1 + the row-major
 * index of the partner pixel, 0 if unmatched. cost (may be NULL): total
 * distance of the pairs + outlier cost of every unmatched pixel. */
int pixl_edge_correspond(const uint8_t *a, const uint8_t *b, int width, int height, double max_dist_px,
                         double outlier_cost, int32_t *match_a, int32_t *match_b, double *cost);
/* thr[k] = (k+1)/(n+1), k < n (n in 1..PIXL_EDGE_MAX_THRESHOLDS). */
int pixl_edge_thresholds(int n, double *thr);
/* Counts of one image at each threshold (o->n_thresholds or 99 entries). */
int pixl_edge_eval_image(const pixl_edge_sample *s, const pixl_edge_bench_opts *o, pixl_edge_counts *counts);
/* ODS/OIS/AP from per-image counts (n_images x n_thresholds, image-major). */
int pixl_edge_scores(const pixl_edge_counts *counts, int n_images, int n_thresholds, pixl_edge_bench_result *res);
/* The whole benchmark, OpenMP over images and thresholds (results do not
 * depend on the thread count). */
int pixl_edge_benchmark(const pixl_edge_sample *samples, int n, const pixl_edge_bench_opts *o,
                        pixl_edge_bench_result *res);
/* The scores as one JSON object (malloc'd, caller frees; NULL on error):
 * n_images, n_thresholds, ods_f, ods_p, ods_r, ods_t, ois_f, ois_p, ois_r, ap.
 * The format of `pixl eval` on edge data and of the training log. */
char *pixl_edge_scores_json(const pixl_edge_bench_result *res);
/* The same object plus "seconds" and "thresholds": [{t, cnt_r, sum_r,
 * cnt_p, sum_p}, ...] (`pixl edgebench --json`). */
char *pixl_edge_bench_json(const pixl_edge_bench_result *res);

/* SURFACE-NORMAL METRICS (src/metrics/normals.c)
 *   Per pixel the angle between predicted and true normal in degrees,
 *   acos(clamp(p.g / (|p||g|), -1, 1)); pixels with mask 0 or a zero-length
 *   true normal are skipped; a zero-length prediction counts as 90 degrees.
 *   Normals are 3 planes of n floats (x, y, z: one CHW image, n = H*W).
 *   Scores: mean, median and RMSE of the angle; fractions of pixels with
 *   angle < 11.25, < 22.5, < 30 degrees. The accumulator's median comes from
 *   a 0.001-degree histogram (bin centre); pixl_normal_scores_exact() sorts.
 *   Sums use a fixed decomposition: identical for any thread count. */
typedef struct pixl_normal_scores {
    int64_t n_pixels;
    double mean, median, rmse;                     /* degrees (NaN with no pixel) */
    double within_11_25, within_22_5, within_30;   /* fractions in [0, 1] */
} pixl_normal_scores;
typedef struct pixl_normal_metrics pixl_normal_metrics;
pixl_normal_metrics *pixl_normal_metrics_new(void);
void pixl_normal_metrics_free(pixl_normal_metrics *m);
void pixl_normal_metrics_reset(pixl_normal_metrics *m);
/* Add one image (mask may be NULL: every pixel with a true normal counts). */
int pixl_normal_metrics_update(pixl_normal_metrics *m, const float *pred, const float *gt, const uint8_t *mask,
                               int64_t n);
int pixl_normal_metrics_scores(const pixl_normal_metrics *m, pixl_normal_scores *s);
/* Scores of one image with the exact median. */
int pixl_normal_scores_exact(const float *pred, const float *gt, const uint8_t *mask, int64_t n, pixl_normal_scores *s);
/* Angle of every pixel in degrees (NaN where skipped) into deg (n floats). */
int pixl_normal_angles(const float *pred, const float *gt, const uint8_t *mask, int64_t n, float *deg);
/* The scores as one JSON object (malloc'd, caller frees; NULL on error):
 * pixels, mean, median, rmse (degrees), within_11_25, within_22_5,
 * within_30 (fractions); a NaN score (no pixel) is null. The format of
 * `pixl eval` on normal data and of the training log. */
char *pixl_normal_scores_json(const pixl_normal_scores *s);

#ifdef __cplusplus
}
#endif
#endif /* PIXL_METRICS_H */
