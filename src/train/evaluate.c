/* evaluate.c — evaluating a model on a segmentation dataset (confusion
 * matrix, batches from a loader), an edge dataset (BSDS benchmark) or a
 * surface-normal dataset (angular error metrics), image by image at the
 * image's own resolution. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train/trainer_impl.h"

int pixl__no_labels_error(const pixl_dataset *ds, const char *what, int n_seen, int K, int ignore)
{
    const char *lp = pixl_dataset_size(ds) > 0 ? pixl_dataset_label_path(ds, 0) : NULL;
    char files[1200] = "";
    if (lp && pixl_dataset_size(ds) == 1) snprintf(files, sizeof files, " (label map '%s')", lp);
    else if (lp) snprintf(files, sizeof files, " (label maps like '%s')", lp);
    char ign[48] = "";
    if (ignore >= 0) snprintf(ign, sizeof ign, "%d is ignored, ", ignore);
    return pixl_set_error(PIXL_ERR_FORMAT,
                          "%s '%s'%s: no pixel of the %d label map%s seen has a class in 0..%d (%sothers are outside "
                          "the classes): nothing to learn or score; check the data set's root and label files, "
                          "its class mapping and the ignore index",
                          what, pixl_dataset_kind(ds), files, n_seen, n_seen == 1 ? "" : "s", K - 1, ign);
}

/* segmentation: predicted labels into the confusion matrix */
int pixl_evaluate(pixl_model *m, const pixl_dataset *ds, const pixl_eval_opts *oin, pixl_confusion *conf)
{
    pixl_eval_opts o = oin ? *oin : (pixl_eval_opts){0};
    if (!m || !ds || !conf) return pixl_set_error(PIXL_ERR_ARG, "pixl_evaluate: NULL argument");
    if (pixl_confusion_n_classes(conf) != pixl_model_n_classes(m))
        return pixl_set_error(PIXL_ERR_ARG, "pixl_evaluate: confusion matrix has %d classes, the model %d",
                              pixl_confusion_n_classes(conf), pixl_model_n_classes(m));
    pixl_loader_opts lo = {.batch_size = o.batch_size > 0 ? o.batch_size : 1, .n_workers = o.n_workers};
    pixl_loader *L = pixl_loader_new(ds, &lo);
    if (!L) return pixl_last_status();
    int nb = pixl_loader_batches_per_epoch(L), rc = PIXL_OK, done = 0;
    const int64_t counted0 = pixl_confusion_total(conf);
    int32_t *pred = NULL;
    size_t cap = 0;
    for (int b = 0; b < nb && rc == PIXL_OK; b++) {
        pixl_batch B;
        if ((rc = pixl_loader_next(L, &B))) break;
        size_t need = (size_t)B.n * B.height * B.width;
        if (need > cap) {
            free(pred);
            pred = pixl__malloc(need * sizeof *pred);
            cap = pred ? need : 0;
            if (!pred) {
                rc = PIXL_ERR_NOMEM;
                break;
            }
        }
        rc = pixl_model_predict(m, B.images, B.n, B.height, B.width, o.flip, NULL, pred);
        if (!rc) rc = pixl_confusion_update(conf, pred, B.labels, (int64_t)need);
        done += B.n;
        if (o.limit > 0 && done >= o.limit) break;
    }
    free(pred);
    pixl_loader_free(L);
    /* a data set without a single labelled pixel has no scores (mean IoU
     * would be null): an error naming it, not a silent null */
    if (!rc && done > 0 && pixl_confusion_total(conf) == counted0)
        rc = pixl__no_labels_error(ds, "evaluation set", done, pixl_confusion_n_classes(conf),
                                   pixl_confusion_ignore_index(conf));
    return rc;
}

/* logits (K, h, w) of one image, the image decoded by the caller */
static int predict_one(pixl_model *m, const pixl_image *img, int flip, float **logits)
{
    const int h = img->height, w = img->width, K = pixl_model_n_classes(m);
    const size_t np = (size_t)h * w;
    float *x = pixl__malloc(sizeof(float) * 3 * np);
    float *y = pixl__malloc(sizeof(float) * (size_t)K * np);
    int rc = !x || !y ? PIXL_ERR_NOMEM : pixl_image_to_chw(img, pixl_model_mean(m), pixl_model_std(m), x);
    if (!rc) rc = pixl_model_predict(m, x, 1, h, w, flip, y, NULL);
    free(x);
    if (rc) {
        free(y);
        return rc;
    }
    *logits = y;
    return PIXL_OK;
}

int pixl_evaluate_edges(pixl_model *m, const pixl_dataset *ds, const pixl_eval_opts *o, const pixl_edge_bench_opts *bo,
                        pixl_edge_bench_result *res)
{
    if (!m || !ds || !res) return pixl_set_error(PIXL_ERR_ARG, "pixl_evaluate_edges: NULL argument");
    const int K = pixl_model_n_classes(m);
    if (pixl_dataset_task(ds) != PIXL_TASK_EDGES)
        return pixl_set_error(PIXL_ERR_ARG, "pixl_evaluate_edges: the %s dataset has no boundary maps",
                              pixl_dataset_kind(ds));
    if (K != 1 && K != 2)
        return pixl_set_error(PIXL_ERR_SHAPE,
                              "pixl_evaluate_edges: an edge model has 1 output (sigmoid) or 2 (softmax), this one %d", K);
    int n = pixl_dataset_size(ds);
    if (o && o->limit > 0 && o->limit < n) n = o->limit;
    if (n < 1) return pixl_set_error(PIXL_ERR_ARG, "pixl_evaluate_edges: empty dataset");
    pixl_edge_sample *s = pixl__calloc((size_t)n, sizeof *s);
    if (!s) return PIXL_ERR_NOMEM;
    int rc = PIXL_OK;
    for (int i = 0; i < n && !rc; i++) {
        pixl_image *img;
        uint8_t *maps;
        int nm;
        rc = pixl_dataset_load_edges(ds, i, &img, NULL, &maps, &nm);
        if (rc) break;
        float *y = NULL;
        rc = predict_one(m, img, o ? o->flip : 0, &y);
        const size_t np = (size_t)img->width * img->height;
        if (!rc) { /* edge probability into the first plane */
            for (size_t p = 0; p < np; p++)
                y[p] = K == 1 ? 1.0f / (1.0f + expf(-y[p])) : 1.0f / (1.0f + expf(y[p] - y[np + p]));
        }
        s[i] = (pixl_edge_sample){img->width, img->height, y, nm, maps};
        pixl_image_free(img);
        if (rc) free(y), free(maps), s[i].pred = NULL, s[i].gt = NULL;
    }
    if (!rc) rc = pixl_edge_benchmark(s, n, bo, res);
    for (int i = 0; i < n; i++) free((void *)s[i].pred), free((void *)s[i].gt);
    free(s);
    return rc;
}

int pixl_evaluate_normals(pixl_model *m, const pixl_dataset *ds, const pixl_eval_opts *o, pixl_normal_metrics *acc)
{
    if (!m || !ds || !acc) return pixl_set_error(PIXL_ERR_ARG, "pixl_evaluate_normals: NULL argument");
    if (pixl_dataset_task(ds) != PIXL_TASK_NORMALS)
        return pixl_set_error(PIXL_ERR_ARG, "pixl_evaluate_normals: the %s dataset has no surface normals",
                              pixl_dataset_kind(ds));
    if (pixl_model_n_classes(m) != 3)
        return pixl_set_error(PIXL_ERR_SHAPE, "pixl_evaluate_normals: a normal model has 3 outputs, this one %d",
                              pixl_model_n_classes(m));
    if (o && o->flip)
        return pixl_set_error(PIXL_ERR_UNSUPPORTED,
                              "pixl_evaluate_normals: flip averaging would need the x component negated; not supported");
    int n = pixl_dataset_size(ds);
    if (o && o->limit > 0 && o->limit < n) n = o->limit;
    int rc = PIXL_OK;
    for (int i = 0; i < n && !rc; i++) {
        pixl_image *img;
        float *gt, *y = NULL;
        uint8_t *mask;
        rc = pixl_dataset_load_normals(ds, i, &img, &gt, &mask);
        if (rc) break;
        rc = predict_one(m, img, o ? o->flip : 0, &y);
        /* the metric normalises the prediction itself (direction only) */
        if (!rc) rc = pixl_normal_metrics_update(acc, y, gt, mask, (int64_t)img->width * img->height);
        pixl_image_free(img), free(gt), free(mask), free(y);
    }
    return rc;
}
