/* dataset.c — datasets: the registry of kinds (dataset_impl.h; one file
 * per kind: dataset_camvid.c, dataset_voc.c, ..., synthetic.c), their class
 * names, colours, label mappings into [0, K) + 255 and normalisation
 * statistics; thread-safe sample decoding (pixl_dataset_load), with the
 * labels reduced to a label store's points when the dataset has one
 * (sparse_labels.c). */
#include <math.h>

#include "data/dataset_impl.h"

static const float imagenet_mean[3] = {0.485f, 0.456f, 0.406f}, imagenet_std[3] = {0.229f, 0.224f, 0.225f};

#define PIXL__KIND_ENTRY(k) &pixl__dataset_##k,
static const pixl__dataset_kind *const g_kinds[] = {PIXL_DATASET_KINDS(PIXL__KIND_ENTRY)};

/* ---------------------------------------------------------------- basics */

void pixl_dataset_free(pixl_dataset *ds)
{
    if (!ds) return;
    if (ds->images)
        for (int i = 0; i < ds->n; i++) {
            free(ds->images[i]);
            free(ds->labels[i]);
            free(ds->names[i]);
        }
    free(ds->images), free(ds->labels), free(ds->names), free(ds->gen_names);
    pixl__free_strings(ds->class_names, ds->n_classes);
    free(ds->colours);
    pixl_label_store_free(ds->sparse);
    free(ds);
}

int pixl__dataset_set_classes(pixl_dataset *ds, int k, const char *const *names, const uint8_t *colours)
{
    if (k < 1 || k > 255)
        return pixl_set_error(PIXL_ERR_ARG, "%s dataset: %d classes (1..255; 255 is the ignore label)", ds->kind, k);
    ds->n_classes = k;
    ds->class_names = pixl__calloc((size_t)k, sizeof(char *));
    ds->colours = pixl__malloc((size_t)k * 3);
    if (!ds->class_names || !ds->colours) return PIXL_ERR_NOMEM;
    if (!colours) pixl_voc_colours(k, ds->colours);
    for (int i = 0; i < k; i++) {
        char buf[32];
        snprintf(buf, sizeof buf, "class%d", i);
        if (!(ds->class_names[i] = pixl__strdup(names && names[i] ? names[i] : buf))) return PIXL_ERR_NOMEM;
        if (colours) memcpy(ds->colours + 3 * i, colours + 3 * i, 3);
    }
    return PIXL_OK;
}

int pixl__dataset_generated(pixl_dataset *ds, const pixl_dataset_opts *o, const char *prefix)
{
    ds->synth_w = o->width ? o->width : 64;
    ds->synth_h = o->height ? o->height : 64;
    ds->synth_seed = o->seed;
    ds->map = PIXL__MAP_NONE;
    int count = o->count ? o->count : 1024;
    if (count < 0 || pixl__check_dims(prefix, ds->synth_w, ds->synth_h, 3, 8))
        return pixl_set_error(PIXL_ERR_ARG, "%s dataset: bad size %dx%d or count %d", prefix, o->width, o->height,
                              o->count);
    ds->gen_stride = strlen(prefix) + 16; /* "_" and up to 10 digits */
    if (!(ds->gen_names = pixl__malloc(ds->gen_stride * (size_t)(count ? count : 1)))) return PIXL_ERR_NOMEM;
    for (int i = 0; i < count; i++) snprintf(ds->gen_names + ds->gen_stride * i, ds->gen_stride, "%s_%06d", prefix, i);
    ds->n = count;
    return PIXL_OK;
}

/* ----------------------------------------------------------------- open */

static int open_kind(pixl_dataset *ds, const pixl_dataset_opts *o, const char *kind, const char *split)
{
    int nk = (int)(sizeof g_kinds / sizeof g_kinds[0]);
    for (int k = 0; k < nk; k++)
        if (!strcmp(kind, g_kinds[k]->name)) return g_kinds[k]->open(ds, o, split);
    char names[512] = "";
    for (int k = 0, used = 0; k < nk && used < (int)sizeof names; k++)
        used += snprintf(names + used, sizeof names - (size_t)used, "%s%s", k ? ", " : "", g_kinds[k]->name);
    return pixl_set_error(PIXL_ERR_ARG, "unknown dataset kind '%s' (%s)", kind, names);
}

pixl_dataset *pixl_dataset_open(const pixl_dataset_opts *o)
{
    static const pixl_dataset_opts defaults;
    if (!o) o = &defaults;
    const char *kind = o->kind ? o->kind : "synthetic";
    const char *split = o->split ? o->split : "train";
    pixl_dataset *ds = pixl__calloc(1, sizeof *ds);
    if (!ds) return NULL;
    snprintf(ds->kind, sizeof ds->kind, "%s", kind);
    ds->has_labels = 1;
    memcpy(ds->mean, imagenet_mean, sizeof ds->mean);
    memcpy(ds->std, imagenet_std, sizeof ds->std);
    int rc = open_kind(ds, o, kind, split);
    if (!rc && o->std[0] > 0) {
        for (int c = 0; c < 3; c++) {
            if (!(o->std[c] > 0)) {
                rc = pixl_set_error(PIXL_ERR_ARG, "%s dataset: std[%d] = %g must be > 0", kind, c, (double)o->std[c]);
                break;
            }
            ds->mean[c] = o->mean[c];
            ds->std[c] = o->std[c];
        }
    }
    if (!rc && o->limit < 0) rc = pixl_set_error(PIXL_ERR_ARG, "%s dataset: limit %d < 0", kind, o->limit);
    if (rc) {
        pixl_dataset_free(ds);
        return NULL;
    }
    if (o->limit > 0 && o->limit < ds->n) {
        if (ds->images)
            for (int i = o->limit; i < ds->n; i++) {
                free(ds->images[i]), free(ds->names[i]);
                if (ds->labels) free(ds->labels[i]);
            }
        ds->n = o->limit;
    }
    return ds;
}

/* ----------------------------------------------------------- accessors */

const char *pixl_dataset_kind(const pixl_dataset *ds) { return ds ? ds->kind : NULL; }
int pixl_dataset_size(const pixl_dataset *ds) { return ds ? ds->n : 0; }
int pixl_dataset_n_classes(const pixl_dataset *ds) { return ds ? ds->n_classes : 0; }
const char *pixl_dataset_class_name(const pixl_dataset *ds, int k)
{
    return ds && k >= 0 && k < ds->n_classes ? ds->class_names[k] : NULL;
}
const uint8_t *pixl_dataset_colours(const pixl_dataset *ds) { return ds ? ds->colours : NULL; }
const float *pixl_dataset_mean(const pixl_dataset *ds) { return ds ? ds->mean : NULL; }
const float *pixl_dataset_std(const pixl_dataset *ds) { return ds ? ds->std : NULL; }
int pixl_dataset_has_labels(const pixl_dataset *ds) { return ds ? ds->has_labels : 0; }
const char *pixl_dataset_image_path(const pixl_dataset *ds, int i)
{
    return ds && ds->images && i >= 0 && i < ds->n ? ds->images[i] : NULL;
}
const char *pixl_dataset_label_path(const pixl_dataset *ds, int i)
{
    return ds && ds->labels && i >= 0 && i < ds->n ? ds->labels[i] : NULL;
}
const char *pixl_dataset_sample_name(const pixl_dataset *ds, int i)
{
    if (!ds || i < 0 || i >= ds->n) return NULL;
    return ds->names ? ds->names[i] : ds->gen_names + ds->gen_stride * (size_t)i;
}

void pixl_dataset_map_labels(const pixl_dataset *ds, int32_t *lab, int64_t n)
{
    if (!ds || !lab) return;
    const int K = ds->n_classes;
    switch (ds->map) {
    case PIXL__MAP_NONE: return;
    case PIXL__MAP_RANGE:
        for (int64_t i = 0; i < n; i++)
            if (lab[i] < 0 || lab[i] >= K) lab[i] = PIXL_IGNORE_LABEL;
        return;
    case PIXL__MAP_REDUCE_ZERO:
        for (int64_t i = 0; i < n; i++) {
            int32_t v = lab[i] - 1;
            lab[i] = v < 0 || v >= K ? PIXL_IGNORE_LABEL : v;
        }
        return;
    case PIXL__MAP_LUT:
        for (int64_t i = 0; i < n; i++) lab[i] = lab[i] >= 0 && lab[i] < 256 ? ds->lut[lab[i]] : PIXL_IGNORE_LABEL;
        return;
    }
}

/* the image and its full label map */
static int load_dense(const pixl_dataset *ds, int i, pixl_image **image, int32_t **labels)
{
    if (i < 0 || i >= ds->n)
        return pixl_set_error(PIXL_ERR_ARG, "pixl_dataset_load: index %d outside the %s dataset (%d samples)", i,
                              ds->kind, ds->n);
    if (!ds->images) { /* synthetic */
        pixl_image *img = pixl_image_new(ds->synth_w, ds->synth_h, 3, 8);
        int32_t *lab = pixl__malloc(sizeof *lab * (size_t)ds->synth_w * ds->synth_h);
        if (!img || !lab) {
            pixl_image_free(img), free(lab);
            return PIXL_ERR_NOMEM;
        }
        if (ds->task == PIXL_TASK_NORMALS) {
            int rc = pixl__synthetic_normals_render(ds->synth_w, ds->synth_h, ds->synth_seed, i, img->data, NULL, NULL, lab);
            if (rc) {
                pixl_image_free(img), free(lab);
                return rc;
            }
        } else {
            pixl__synthetic_render(ds->synth_w, ds->synth_h, ds->synth_seed, i, img->data, lab);
        }
        *image = img;
        if (labels) *labels = lab;
        else free(lab);
        return PIXL_OK;
    }
    pixl_image *img = pixl_image_load(ds->images[i], 3, 8);
    if (!img) return pixl_last_status();
    if (!labels) {
        *image = img;
        return PIXL_OK;
    }
    size_t np = (size_t)img->width * img->height;
    int32_t *lab;
    if (ds->task == PIXL_TASK_EDGES) {
        uint8_t *maps;
        int n, w, h;
        int rc = pixl__bsds_read_mat(ds->labels[i], &maps, &n, &w, &h);
        if (!rc && (w != img->width || h != img->height))
            rc = pixl_set_error(PIXL_ERR_SHAPE, "bsds500 dataset sample %d: image '%s' is %dx%d but ground truth '%s' is %dx%d",
                                i, ds->images[i], img->width, img->height, ds->labels[i], w, h);
        lab = rc ? NULL : pixl__malloc(sizeof *lab * np);
        if (!lab) {
            free(maps);
            pixl_image_free(img);
            return rc ? rc : PIXL_ERR_NOMEM;
        }
        pixl__bsds_targets(maps, n, np, ds->edge_consensus, NULL, lab);
        free(maps);
    } else if (!ds->has_labels) {
        lab = pixl__malloc(sizeof *lab * np);
        if (!lab) {
            pixl_image_free(img);
            return PIXL_ERR_NOMEM;
        }
        for (size_t p = 0; p < np; p++) lab[p] = PIXL_IGNORE_LABEL;
    } else {
        int w, h;
        lab = pixl_label_load(ds->labels[i], &w, &h);
        if (!lab) {
            pixl_image_free(img);
            return pixl_last_status();
        }
        if (w != img->width || h != img->height) {
            int rc = pixl_set_error(PIXL_ERR_SHAPE, "%s dataset sample %d: image '%s' is %dx%d but label map '%s' is %dx%d",
                                    ds->kind, i, ds->images[i], img->width, img->height, ds->labels[i], w, h);
            pixl_image_free(img), free(lab);
            return rc;
        }
        pixl_dataset_map_labels(ds, lab, (int64_t)np);
    }
    *image = img;
    *labels = lab;
    return PIXL_OK;
}

int pixl_dataset_load(const pixl_dataset *ds, int i, pixl_image **image, int32_t **labels)
{
    if (image) *image = NULL;
    if (labels) *labels = NULL;
    if (!ds || !image) return pixl_set_error(PIXL_ERR_ARG, "pixl_dataset_load: NULL argument");
    if (!labels || !ds->sparse) return load_dense(ds, i, image, labels);
    /* sparse labels: the store's points replace the whole label map, which is therefore not read */
    int rc = load_dense(ds, i, image, NULL);
    const size_t np = rc ? 0 : (size_t)(*image)->width * (*image)->height;
    int32_t *lab = rc ? NULL : pixl__malloc(sizeof *lab * np);
    if (!rc && !lab) rc = PIXL_ERR_NOMEM;
    if (!rc) rc = pixl__dataset_sparsify(ds, i, (*image)->width, (*image)->height, lab);
    if (rc) {
        pixl_image_free(*image), free(lab);
        *image = NULL;
        return rc;
    }
    *labels = lab;
    return PIXL_OK;
}

/* ------------------------------------------------------- edges, normals */

int pixl_dataset_task(const pixl_dataset *ds) { return ds ? ds->task : PIXL_TASK_SEGMENTATION; }

int pixl_dataset_load_edges(const pixl_dataset *ds, int i, pixl_image **image, float **soft, uint8_t **maps,
                            int *n_maps)
{
    if (image) *image = NULL;
    if (soft) *soft = NULL;
    if (maps) *maps = NULL;
    if (n_maps) *n_maps = 0;
    if (!ds) return pixl_set_error(PIXL_ERR_ARG, "pixl_dataset_load_edges: NULL dataset");
    if (ds->task != PIXL_TASK_EDGES)
        return pixl_set_error(PIXL_ERR_ARG, "pixl_dataset_load_edges: the %s dataset has no boundary maps (bsds500 has)",
                              ds->kind);
    if (i < 0 || i >= ds->n)
        return pixl_set_error(PIXL_ERR_ARG, "pixl_dataset_load_edges: index %d outside the %s dataset (%d samples)", i,
                              ds->kind, ds->n);
    uint8_t *m;
    int n, w, h;
    int rc = pixl__bsds_read_mat(ds->labels[i], &m, &n, &w, &h);
    if (rc) return rc;
    pixl_image *img = NULL;
    float *s = NULL;
    if (image) {
        img = pixl_image_load(ds->images[i], 3, 8);
        if (!img) rc = pixl_last_status();
        else if (img->width != w || img->height != h)
            rc = pixl_set_error(PIXL_ERR_SHAPE, "bsds500 dataset sample %d: image '%s' is %dx%d but ground truth '%s' is %dx%d",
                                i, ds->images[i], img->width, img->height, ds->labels[i], w, h);
    }
    if (!rc && soft) {
        s = pixl__malloc(sizeof(float) * (size_t)w * h);
        if (!s) rc = PIXL_ERR_NOMEM;
        else pixl__bsds_targets(m, n, (size_t)w * h, ds->edge_consensus, s, NULL);
    }
    if (rc) {
        pixl_image_free(img), free(s), free(m);
        return rc;
    }
    if (image) *image = img;
    if (soft) *soft = s;
    if (maps) *maps = m;
    else free(m);
    if (n_maps) *n_maps = n;
    return PIXL_OK;
}

int pixl_dataset_load_normals(const pixl_dataset *ds, int i, pixl_image **image, float **normals, uint8_t **mask)
{
    if (image) *image = NULL;
    if (normals) *normals = NULL;
    if (mask) *mask = NULL;
    if (!ds) return pixl_set_error(PIXL_ERR_ARG, "pixl_dataset_load_normals: NULL dataset");
    if (ds->task != PIXL_TASK_NORMALS)
        return pixl_set_error(PIXL_ERR_ARG, "pixl_dataset_load_normals: the %s dataset has no surface normals", ds->kind);
    if (i < 0 || i >= ds->n)
        return pixl_set_error(PIXL_ERR_ARG, "pixl_dataset_load_normals: index %d outside the %s dataset (%d samples)", i,
                              ds->kind, ds->n);
    size_t np = (size_t)ds->synth_w * ds->synth_h;
    pixl_image *img = pixl_image_new(ds->synth_w, ds->synth_h, 3, 8);
    float *nrm = normals ? pixl__malloc(sizeof(float) * 3 * np) : NULL;
    uint8_t *msk = mask ? pixl__malloc(np) : NULL;
    int rc = !img || (normals && !nrm) || (mask && !msk) ? PIXL_ERR_NOMEM : PIXL_OK;
    if (!rc) rc = pixl__synthetic_normals_render(ds->synth_w, ds->synth_h, ds->synth_seed, i, img->data, nrm, msk, NULL);
    if (rc) {
        pixl_image_free(img), free(nrm), free(msk);
        return rc;
    }
    if (image) *image = img;
    else pixl_image_free(img);
    if (normals) *normals = nrm;
    if (mask) *mask = msk;
    return PIXL_OK;
}
