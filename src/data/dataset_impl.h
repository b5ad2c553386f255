/* dataset_impl.h — the dataset object and the registry of dataset kinds
 * (src/data/dataset.c). A kind is one file with one
 * `const pixl__dataset_kind pixl__dataset_NAME = {"NAME", open_fn};` and one
 * X(NAME) line in PIXL_DATASET_KINDS below. Its open function sets the
 * classes, label mapping, statistics and task, and lists the samples (or
 * sets n for generated data); dataset.c does the rest (options common to
 * all kinds, limits, loading). */
#ifndef PIXL_DATASET_IMPL_H
#define PIXL_DATASET_IMPL_H

#include "data/data_impl.h"

/* the registered kinds, in the order error messages list them */
#define PIXL_DATASET_KINDS(X) \
    X(synthetic) X(synthetic_normals) X(list) X(folder) X(camvid) X(voc) X(cityscapes) X(ade20k) X(bsds500)

enum { PIXL__MAP_RANGE = 0, PIXL__MAP_REDUCE_ZERO, PIXL__MAP_LUT, PIXL__MAP_NONE };

struct pixl_dataset {
    char kind[32];
    int n, cap;
    char **images, **labels, **names; /* full paths (labels NULL when unlabeled), stems */
    char *gen_names;      /* generated data: n names of gen_stride bytes ("synthetic_000003") */
    size_t gen_stride;
    int has_labels;
    int n_classes;
    char **class_names;
    uint8_t *colours;
    float mean[3], std[3];
    int map;              /* PIXL__MAP_* */
    int16_t lut[256];     /* PIXL__MAP_LUT: raw 0..255 -> label; larger raw values -> 255 */
    /* synthetic */
    int synth_w, synth_h;
    uint64_t synth_seed;
    int task;             /* PIXL_TASK_* */
    float edge_consensus; /* bsds500 */
    pixl_label_store *sparse; /* pixl_dataset_set_sparse_labels: labels only at its points, or NULL */
};

typedef struct pixl__dataset_kind {
    const char *name;
    /* split is o->split or "train"; ds->kind is set, has_labels = 1, ImageNet statistics */
    int (*open)(pixl_dataset *ds, const pixl_dataset_opts *o, const char *split);
} pixl__dataset_kind;

#define PIXL__DECLARE_DATASET_KIND(k) extern const pixl__dataset_kind pixl__dataset_##k;
PIXL_DATASET_KINDS(PIXL__DECLARE_DATASET_KIND)

/* class names (NULL entries: "classN") and colours (NULL: the VOC colour map) */
int pixl__dataset_set_classes(pixl_dataset *ds, int k, const char *const *names, const uint8_t *colours);
/* the Pascal VOC colour of class i */
/* a generated data set of count samples of w x h, named "PREFIX_000123" */
int pixl__dataset_generated(pixl_dataset *ds, const pixl_dataset_opts *o, const char *prefix);

/* sparse labels (sparse_labels.c): sample i's label map (width x height)
 * becomes 255 except at the points of ds->sparse; errors name the sample */
int pixl__dataset_sparsify(const pixl_dataset *ds, int i, int width, int height, int32_t *labels);

/* sample lists and folders (dataset_files.c) */
/* ROOT/(o->list or SPLIT.txt): lines "image label" */
int pixl__dataset_open_list(pixl_dataset *ds, const pixl_dataset_opts *o, const char *split);
/* voc_mode: a single token is an id (image_dir/id.jpg + label_dir/id.png) */
int pixl__dataset_parse_list(pixl_dataset *ds, const char *root, const char *list_path, const char *strip,
                             int voc_mode, const char *image_dir, const char *label_dir);
/* images of dir paired with labels in ldir: <stem minus strip_tail><suffix>.png (.mat for edges) */
int pixl__dataset_pair_folder(pixl_dataset *ds, const char *dir, const char *ldir, const char *suffix,
                              const char *strip_tail);
/* images in ROOT/what_dir and labels in ROOT/label_dir: a folder pair, with errors naming both */
int pixl__dataset_open_pair(pixl_dataset *ds, const char *root, const char *image_rel, const char *label_rel,
                            const char *label_what);

#endif
