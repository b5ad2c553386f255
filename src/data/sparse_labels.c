/* sparse_labels.c — training on a label store's points (PixelPick): the
 * point-exact resize of sparse label maps used by augmentation and the
 * loader, and the store attached to a dataset (pixl_dataset_load() then
 * gives 255 except at the store's points). */
#include "data/dataset_impl.h"

#define CONFLICT INT32_MIN /* two classes met on one pixel (then 255) */

void pixl__resize_sparse_i32(const int32_t *src, int sw, int sh, int32_t *dst, int dw, int dh)
{
    for (size_t p = 0; p < (size_t)dw * dh; p++) dst[p] = PIXL_IGNORE_LABEL;
    int conflicts = 0;
    for (int y = 0; y < sh; y++) {
        const int32_t *row = src + (size_t)y * sw;
        /* the destination pixel holding the centre (y + 0.5) of the source pixel */
        const int dy = (int)((2 * (int64_t)y + 1) * dh / (2 * (int64_t)sh));
        for (int x = 0; x < sw; x++) {
            if (row[x] == PIXL_IGNORE_LABEL) continue;
            int32_t *d = dst + (size_t)dy * dw + (2 * (int64_t)x + 1) * dw / (2 * (int64_t)sw);
            if (*d == PIXL_IGNORE_LABEL) *d = row[x];
            else if (*d != row[x]) *d = CONFLICT, conflicts = 1;
        }
    }
    if (conflicts)
        for (size_t p = 0; p < (size_t)dw * dh; p++)
            if (dst[p] == CONFLICT) dst[p] = PIXL_IGNORE_LABEL;
}

int32_t *pixl_label_resize_sparse(const int32_t *labels, int width, int height, int out_width, int out_height)
{
    if (!labels || pixl__check_dims("(labels)", width, height, 1, 8) ||
        pixl__check_dims("(labels)", out_width, out_height, 1, 8)) {
        pixl_set_error(PIXL_ERR_ARG, "pixl_label_resize_sparse: bad arguments (%dx%d -> %dx%d)", width, height,
                       out_width, out_height);
        return NULL;
    }
    int32_t *out = pixl__malloc(sizeof *out * (size_t)out_width * out_height);
    if (out) pixl__resize_sparse_i32(labels, width, height, out, out_width, out_height);
    return out;
}

/* ------------------------------------------------------------ datasets */

/* every image of s is a sample of ds; else an error listing the first few */
static int check_images(const pixl_dataset *ds, const pixl_label_store *s)
{
    pixl_label_store *names = pixl_label_store_new(1, NULL); /* the sample names, as a hash set */
    for (int i = 0; names && i < ds->n; i++)
        if (pixl_label_store_add_image(names, pixl_dataset_sample_name(ds, i), 1, 1) < 0) {
            pixl_label_store_free(names);
            return pixl_last_status();
        }
    if (!names) return pixl_last_status();
    char list[512] = "";
    size_t o = 0;
    int missing = 0;
    for (int i = 0; i < pixl_label_store_n_images(s); i++) {
        const char *id = pixl_label_store_image(s, i, NULL, NULL, NULL);
        if (pixl_label_store_find(names, id) >= 0) continue;
        if (missing++ < 5 && o < sizeof list)
            o += (size_t)snprintf(list + o, sizeof list - o, "%s'%s'", missing > 1 ? ", " : "", id);
    }
    pixl_label_store_free(names);
    if (!missing) return PIXL_OK;
    return pixl_set_error(PIXL_ERR_NOT_FOUND,
                          "the label store names %d image%s that the %s dataset (%d samples) does not have: %s%s; "
                          "samples are named by file stem, e.g. '%s'",
                          missing, missing > 1 ? "s" : "", ds->kind, ds->n, list, missing > 5 ? ", ..." : "",
                          ds->n ? pixl_dataset_sample_name(ds, 0) : "(none)");
}

int pixl_dataset_set_sparse_labels(pixl_dataset *ds, const pixl_label_store *s)
{
    if (!ds) return pixl_set_error(PIXL_ERR_ARG, "pixl_dataset_set_sparse_labels: NULL dataset");
    if (s) {
        if (ds->task != PIXL_TASK_SEGMENTATION)
            return pixl_set_error(PIXL_ERR_ARG, "sparse labels: the %s dataset is not a segmentation dataset", ds->kind);
        int K = pixl_label_store_n_classes(s);
        if (K != ds->n_classes)
            return pixl_set_error(PIXL_ERR_ARG, "sparse labels: the label store has %d classes, the %s dataset %d", K,
                                  ds->kind, ds->n_classes);
        for (int k = 0; k < K; k++) {
            const char *a = pixl_label_store_class_name(s, k), *b = pixl_dataset_class_name(ds, k);
            if (a && !pixl__class_name_eq(a, b))
                return pixl_set_error(PIXL_ERR_ARG, "sparse labels: class %d is '%s' in the label store but '%s' in the %s dataset",
                                      k, a, b, ds->kind);
        }
        int rc = check_images(ds, s);
        if (rc) return rc;
    }
    pixl_label_store *copy = s ? pixl_label_store_clone(s) : NULL;
    if (s && !copy) return pixl_last_status();
    pixl_label_store_free(ds->sparse);
    ds->sparse = copy;
    return PIXL_OK;
}

const pixl_label_store *pixl_dataset_sparse_labels(const pixl_dataset *ds) { return ds ? ds->sparse : NULL; }

int pixl__dataset_sparsify(const pixl_dataset *ds, int i, int width, int height, int32_t *labels)
{
    const char *name = pixl_dataset_sample_name(ds, i);
    int n = pixl_label_store_apply(ds->sparse, name, height, width, labels, NULL);
    if (n < 0)
        return pixl_set_error(n, "%s dataset sample %d (%s): %s", ds->kind, i,
                              ds->images ? ds->images[i] : name, pixl_last_error());
    return PIXL_OK;
}
