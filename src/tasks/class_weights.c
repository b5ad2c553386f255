/* class_weights.c — per-class loss weights of a config
 * (training.loss.class_weights: none, a list, ENet's 1/ln(1.02 + p), or
 * median frequency) over the training labels, for the tasks with labels. */
#include <math.h>

#include "tasks/task.h"
#include "train/trainer_impl.h"

int pixl__class_weights(const pixl_train_config *cfg, const pixl_dataset *ds, int K, float *w)
{
    for (int k = 0; k < K; k++) w[k] = 1;
    pixl_class_weighting kind = cfg->training.loss.class_weights;
    if (kind == PIXL_CLASS_WEIGHTS_NONE) return PIXL_OK;
    if (kind == PIXL_CLASS_WEIGHTS_LIST) {
        if (cfg->training.loss.n_class_weights != K)
            return pixl_set_error(PIXL_ERR_ARG, "training.loss.class_weights: %d values for %d classes",
                                  cfg->training.loss.n_class_weights, K);
        for (int k = 0; k < K; k++) w[k] = (float)cfg->training.loss.class_weight_values[k];
        return PIXL_OK;
    }
    /* frequencies over the training labels */
    int64_t *cnt = pixl__calloc((size_t)K, sizeof *cnt), *img_px = pixl__calloc((size_t)K, sizeof *img_px),
            *here = pixl__calloc((size_t)K, sizeof *here);
    if (!cnt || !img_px || !here) {
        free(cnt);
        free(img_px);
        free(here);
        return pixl_set_error(PIXL_ERR_NOMEM, "class weights of %d classes: out of memory", K);
    }
    int64_t total = 0;
    for (int i = 0; i < pixl_dataset_size(ds); i++) {
        pixl_image *img = NULL;
        int32_t *lab = NULL;
        int rc = pixl_dataset_load(ds, i, &img, &lab);
        if (rc) {
            free(cnt);
            free(img_px);
            free(here);
            return rc;
        }
        int64_t n = (int64_t)img->width * img->height, valid = 0;
        memset(here, 0, sizeof(int64_t) * (size_t)K);
        for (int64_t p = 0; p < n; p++)
            if (lab[p] >= 0 && lab[p] < K) {
                here[lab[p]]++;
                valid++;
            }
        for (int k = 0; k < K; k++) {
            cnt[k] += here[k];
            if (here[k]) img_px[k] += valid;
        }
        total += valid;
        pixl_image_free(img);
        free(lab);
    }
    free(here);
    if (total == 0 && pixl_dataset_size(ds) > 0) { /* no weights to compute and nothing to learn */
        free(cnt);
        free(img_px);
        return pixl__no_labels_error(ds, "training set", pixl_dataset_size(ds), K, PIXL_IGNORE_LABEL);
    }
    if (kind == PIXL_CLASS_WEIGHTS_ENET) {
        for (int k = 0; k < K; k++) w[k] = (float)(1.0 / log(1.02 + (total ? (double)cnt[k] / (double)total : 0)));
    } else { /* median frequency */
        double *f = pixl__calloc(2 * (size_t)K, sizeof *f), *sorted = f + K;
        if (!f) {
            free(cnt);
            free(img_px);
            return pixl_set_error(PIXL_ERR_NOMEM, "class weights of %d classes: out of memory", K);
        }
        int nf = 0;
        for (int k = 0; k < K; k++) {
            f[k] = img_px[k] ? (double)cnt[k] / (double)img_px[k] : 0;
            if (f[k] > 0) sorted[nf++] = f[k];
        }
        for (int i = 1; i < nf; i++)
            for (int j = i; j > 0 && sorted[j] < sorted[j - 1]; j--) {
                double t = sorted[j];
                sorted[j] = sorted[j - 1];
                sorted[j - 1] = t;
            }
        double med = nf ? (nf % 2 ? sorted[nf / 2] : 0.5 * (sorted[nf / 2 - 1] + sorted[nf / 2])) : 1;
        for (int k = 0; k < K; k++) w[k] = f[k] > 0 ? (float)(med / f[k]) : 0;
        free(f);
    }
    free(cnt);
    free(img_px);
    return PIXL_OK;
}

int pixl__task_class_weights(pixl__task *t, const pixl_dataset *train, int K, float **w)
{
    *w = NULL;
    if (t->cfg->training.loss.class_weights == PIXL_CLASS_WEIGHTS_NONE) return PIXL_OK;
    if (!(*w = pixl__calloc((size_t)K, sizeof **w)))
        return pixl_set_error(PIXL_ERR_NOMEM, "class weights of %d classes: out of memory", K);
    int rc = pixl__class_weights(t->cfg, train, K, *w);
    if (!rc) pixl__class_weights_line(*w, K, t->note, sizeof t->note);
    return rc;
}

pixl_ce_opts pixl__task_ce_opts(const pixl__task *t)
{
    if (t->sampled) return (pixl_ce_opts){.ignore = 1, .ignore_index = t->ignore_label};
    const int ign = pixl_config_loss_ignore_index(t->cfg);
    return (pixl_ce_opts){.ignore = ign >= 0, .ignore_index = ign >= 0 ? ign : -100};
}

void pixl__class_weights_line(const float *w, int K, char *buf, size_t n)
{
    if (n < 32) {
        if (n) buf[0] = 0;
        return;
    }
    size_t at = (size_t)snprintf(buf, n, "class weights:");
    for (int k = 0; k < K; k++) {
        if (at + 24 > n) { /* room for " ... (N classes)" */
            snprintf(buf + at, n - at, " ... (%d classes)", K);
            break;
        }
        at += (size_t)snprintf(buf + at, n - at, " %.4g", w[k]);
    }
}
