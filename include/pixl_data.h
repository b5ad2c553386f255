/* pixl_data.h — the data layer of pixl: images (PNG/JPEG load, save, encode,
 * decode, convert, resize; label maps and their colour maps), data sets
 * (CamVid, VOC, Cityscapes, ADE20K, BSDS500, lists and folders, generated
 * sets), augmentation, the batch loader, and PixelPick's label store
 * (sparse labels, VIA import, click logs).
 *
 * CONTRACT
 *   - Owns: images, label maps and decoded samples are returned malloc'ed to
 *     the caller (pixl_image_free() / free()); a dataset owns its file list,
 *     class names and colours; a loader owns its batches (valid until the
 *     next call) and its worker threads, and refers to its dataset (free the
 *     loader first); a label store owns its ids, names and points, and a
 *     dataset with sparse labels its own copy of the store.
 *   - Uses the core only (errors, atomic writes, threads).
 *   - Errors: as in the core; they name the file (and the list file and line
 *     it came from).
 *   - Threads: pixl_dataset_load() is thread-safe; a loader runs n_workers
 *     POSIX threads of its own, and the content of its batches does not
 *     depend on their number.
 *   - Links: build/libpixl_data.a build/libpixl_core.a, -lpng -ljpeg -lmatio
 *     -lpthread (Debian: libpng-dev, libjpeg62-turbo-dev, libmatio-dev) and
 *     the core's system libraries.
 */
#ifndef PIXL_DATA_H
#define PIXL_DATA_H

#include "pixl.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------- images, datasets, loaders */
/* (src/data/) */
/*
 * IMAGES
 *   A pixl_image holds 8- or 16-bit samples interleaved row-major (HWC):
 *   sample (y, x, c) is data[(y*width + x)*channels + c], uint8_t for depth
 *   8, native-endian uint16_t for depth 16. PNG (libpng) and JPEG
 *   (libjpeg-turbo) are read, detected from the bytes, not the name. Every
 *   failure (missing, truncated, corrupt or unsupported file, size above
 *   PIXL_IMAGE_MAX_DIM) returns NULL or a negative status with an error
 *   naming the file. Writers write PATH.tmp.PID.N and rename it over PATH,
 *   so a failed write never leaves a partial PATH.
 *
 * LABEL MAPS
 *   int32_t arrays of height*width values, row-major, malloc'ed: release
 *   them with free(). Datasets map every label into [0, n_classes) or
 *   PIXL_IGNORE_LABEL (255), whatever the raw encoding of the dataset.
 */
#define PIXL_IGNORE_LABEL 255
#define PIXL_IMAGE_MAX_DIM 32768

typedef struct pixl_image {
    int width, height;
    int channels; /* 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA */
    int depth;    /* bits per sample: 8 or 16 */
    void *data;   /* height*width*channels samples, owned by the image */
} pixl_image;

/* A zero-filled image; NULL on bad arguments or no memory. */
pixl_image *pixl_image_new(int width, int height, int channels, int depth);
void pixl_image_free(pixl_image *img);
/* Load a PNG or JPEG.
 *   channels: 0 = as stored (palette -> RGB, or RGBA if it has
 *             transparency), 1 = grey (luma), 3 = RGB (grey replicated,
 *             alpha dropped), 4 = RGBA.
 *   depth:    0 = as stored (16 only for 16-bit PNGs), 8, 16.
 * CMYK/YCCK JPEGs and 12-bit JPEGs are errors naming the file. */
pixl_image *pixl_image_load(const char *path, int channels, int depth);
/* New image with another channel count (as in pixl_image_load) and/or depth
 * (0 = keep). 16 -> 8 bits rounds v*255/65535. */
pixl_image *pixl_image_convert(const pixl_image *img, int channels, int depth);
/* Write any image as PNG (1-4 channels, 8/16 bits). */
int pixl_image_save_png(const pixl_image *img, const char *path);
/* Write an 8-bit grey or RGB image as baseline JPEG; quality 1..100 (0 -> 95),
 * no chroma subsampling. */
int pixl_image_save_jpeg(const pixl_image *img, const char *path, int quality);
/* In-memory PNG and JPEG, for pages, servers and sockets.
 * pixl_image_encode: *out receives a malloc'ed buffer of *n bytes (free()).
 *   PNG: any image (1-4 channels, 8/16 bits), lossless. JPEG: an 8-bit grey
 *   or RGB image, quality 1..100 (0 -> 95), no chroma subsampling.
 *   On failure *out is NULL, *n is 0 and the error says why.
 * pixl_image_decode: PNG or JPEG bytes (detected from the bytes) with
 *   channels/depth as in pixl_image_load(). Empty, truncated, corrupt or
 *   unsupported data returns NULL with an error, never reads past n. */
typedef enum pixl_image_format { PIXL_IMAGE_PNG = 0, PIXL_IMAGE_JPEG = 1 } pixl_image_format;
int pixl_image_encode(const pixl_image *img, pixl_image_format fmt, int quality, uint8_t **out, size_t *n);
pixl_image *pixl_image_decode(const uint8_t *buf, size_t n, int channels, int depth);
/* Bilinear resize to width x height (PyTorch align_corners=False, no
 * antialiasing), any channels/depth. New image, NULL on error. */
pixl_image *pixl_image_resize(const pixl_image *img, int width, int height);
/* Image -> float planes CHW: out[(c*height + y)*width + x] =
 * (v/maxval - mean[c]) / std[c] (mean NULL -> 0, std NULL -> 1).
 * `out` holds channels*height*width floats. */
int pixl_image_to_chw(const pixl_image *img, const float *mean, const float *std, float *out);

/* Raw label map of a PNG: the palette indices of a palette PNG, the grey
 * values of a grey (or grey+alpha, alpha ignored) PNG, 16-bit values kept.
 * RGB label maps and JPEGs are errors naming the file. The result is
 * malloc'ed (free()); width/height are set. */
int32_t *pixl_label_load(const char *path, int *width, int *height);
/* Write an 8-bit label PNG. palette NULL: grey PNG of the values; else a
 * palette PNG whose colour table is `palette` (n_colours RGB triples,
 * n_colours <= 256; indices beyond it get black entries). Values outside
 * 0..255 are an error. */
int pixl_label_save_png(const int32_t *labels, int width, int height, const uint8_t *palette, int n_colours,
                        const char *path);
/* Nearest-neighbour resize (source index floor(dst*in/out)); malloc'ed. */
int32_t *pixl_label_resize(const int32_t *labels, int width, int height, int out_width, int out_height);
/* Resize a sparse label map (a few labelled pixels on PIXL_IGNORE_LABEL,
 * e.g. PixelPick's): each labelled pixel (y, x) moves to the one output
 * pixel that holds its centre, (floor((y+0.5)*out_height/height),
 * floor((x+0.5)*out_width/width)), which is where pixl_image_resize() puts
 * the image content of that spot. No label is duplicated when enlarging
 * or lost when shrinking, except that labels landing on one pixel merge:
 * the pixel keeps their class when they agree and is 255 when they
 * differ. Every value other than 255 is a label. malloc'ed. */
int32_t *pixl_label_resize_sparse(const int32_t *labels, int width, int height, int out_width, int out_height);
/* Colourise a label map into a new 8-bit RGB image: label k in
 * [0, n_colours) gets colours[3k..3k+2]. base NULL: other values (ignore)
 * are black. base (8-bit, same size, grey or RGB(A)): an overlay,
 * out = (1-alpha)*base + alpha*colour, other values keep the base pixel. */
pixl_image *pixl_label_colorize(const int32_t *labels, int width, int height, const uint8_t *colours,
                                int n_colours, const pixl_image *base, float alpha);
/* The default class colours, PASCAL VOC's colour map (the bits of the class
 * index spread over R, G and B, most significant first: 0 black, 1 dark
 * red, 2 dark green, ...): n RGB triples into rgb (3n bytes). Data sets and
 * reports without colours of their own use it. */
void pixl_voc_colours(int n, uint8_t *rgb);

/*
 * DATASETS
 *   A dataset is an indexed list of (image, label map) samples plus class
 *   names, colours and the normalisation mean/std of its images. Files are
 *   listed and checked to exist when the dataset is opened (a missing file
 *   is an error naming it, and the list file and line it came from); they
 *   are decoded by pixl_dataset_load(), which is thread-safe.
 *
 *   kind        root / split / layout                               labels
 *   "synthetic" generated in memory: `width` x `height` (0 -> 64),  5 classes, exact
 *               `count` (0 -> 1024) images, sample i depends only
 *               on (seed, i): textured discs, rectangles, triangles
 *               and rings on textured backgrounds
 *   "list"      `list` (or split + ".txt") under root: lines         v < n_classes kept,
 *               "image label" relative to root; '#' comments;        others -> 255
 *               absolute SegNet-style paths (/SegNet/CamVid/train/x.png)
 *               lose `strip_prefix`, else keep their last two
 *               components; an image missing with its extension
 *               is looked up as .png/.jpg/.jpeg
 *   "folder"    root[/split]/images/<name> paired by file stem with       as "list"
 *               root[/split]/labels/<stem><label_suffix>.png
 *   "camvid"    "list" with split -> root/<split>.txt, CamVid's 11   11 (void) -> 255
 *               classes, colours, mean/std
 *   "voc"       root = VOC2012 (or a folder holding VOCdevkit/VOC2012):  0..20 kept, others -> 255
 *               ImageSets/Segmentation/<split>.txt (or SegmentationAug/,
 *               or root/<split>.txt); a line is an id (JPEGImages/id.jpg,
 *               SegmentationClass/id.png; SegmentationClassAug when split
 *               contains "aug") or an "image label" pair (SBD train_aug)
 *   "cityscapes" leftImg8bit/<split>/<city>/<x>_leftImg8bit.png with      labelIds -> 19 trainIds,
 *               gtFine/<split>/<city>/<x>_gtFine_labelIds.png           others -> 255
 *   "ade20k"    ADEChallengeData2016: images/<training|validation>     0 -> 255, v -> v-1
 *               /<stem>.jpg with annotations/<same>/<stem>.png (split
 *               "train"/"val" accepted)
 *   "bsds500"   BSDS500: images/<split>/<id>.jpg with                 0 no annotator marks the
 *               groundTruth/<split>/<id>.mat (libmatio; every          pixel, 1 a fraction >=
 *               annotator's Boundaries map). Edge task: all maps      edge_consensus (0 -> 0.5)
 *               and the soft target (fraction of annotators, HED's    of them, 255 (ignored) a
 *               average) via pixl_dataset_load_edges()                 smaller fraction (HED/RCF)
 *   "synthetic_normals" generated in memory like "synthetic": ray-cast   0 plane, 1 box, 2 sphere,
 *               rooms of planes, boxes and spheres (textured, shaded;  255 no surface (sky)
 *               exact per-pixel normals and validity mask via
 *               pixl_dataset_load_normals())
 */
typedef struct pixl_dataset pixl_dataset;

typedef struct pixl_dataset_opts {
    const char *kind;         /* see the table; NULL -> "synthetic" */
    const char *root;         /* dataset folder */
    const char *split;        /* "train", "val", ... (NULL -> "train") */
    const char *list;         /* list/camvid/voc: list file, relative to root unless absolute; overrides split */
    const char *strip_prefix; /* list kinds: prefix removed from absolute paths in the list */
    const char *image_dir;    /* folder: "images"; voc: "JPEGImages" */
    const char *label_dir;    /* folder: "labels"; voc: "SegmentationClass" / "SegmentationClassAug" */
    const char *label_suffix; /* folder: label file stem = image stem + suffix (NULL -> "") */
    int unlabeled;            /* list/folder: images only, every label is 255 */
    int n_classes;            /* list/folder: number of classes (or given by class_names) */
    const char *const *class_names; /* list/folder: n_classes names (NULL-terminated if n_classes is 0),
                                     * NULL -> "class0", ... */
    const uint8_t *colours;   /* list/folder: n_classes RGB triples, NULL -> the VOC colour map */
    int reduce_zero_label;    /* list/folder: raw 0 -> 255, v -> v-1 (ADE20K style) */
    float mean[3], std[3];    /* normalisation override, used when std[0] > 0 */
    int limit;                /* keep only the first `limit` samples (0 = all) */
    int width, height, count; /* synthetic, synthetic_normals */
    uint64_t seed;            /* synthetic, synthetic_normals */
    float edge_consensus;     /* bsds500: fraction of annotators making a boundary label (0 -> 0.5; a tiny
                               * value such as 1e-6 gives the union of the annotators, nothing ignored) */
} pixl_dataset_opts;

/* Open a dataset (NULL with an error naming the file/line on failure). */
pixl_dataset *pixl_dataset_open(const pixl_dataset_opts *o);
void pixl_dataset_free(pixl_dataset *ds);
const char *pixl_dataset_kind(const pixl_dataset *ds);
int pixl_dataset_size(const pixl_dataset *ds);
int pixl_dataset_n_classes(const pixl_dataset *ds);
const char *pixl_dataset_class_name(const pixl_dataset *ds, int k); /* NULL if out of range */
const uint8_t *pixl_dataset_colours(const pixl_dataset *ds);        /* n_classes RGB triples */
const float *pixl_dataset_mean(const pixl_dataset *ds);             /* 3 values, images in [0,1] */
const float *pixl_dataset_std(const pixl_dataset *ds);
int pixl_dataset_has_labels(const pixl_dataset *ds);
/* Paths of sample i (owned by ds; NULL for synthetic samples / no labels). */
const char *pixl_dataset_image_path(const pixl_dataset *ds, int i);
const char *pixl_dataset_label_path(const pixl_dataset *ds, int i);
/* Short name of sample i, owned by ds: the image's file stem, or for
 * generated samples "synthetic_000042" / "synthetic_normals_000042". */
const char *pixl_dataset_sample_name(const pixl_dataset *ds, int i);
/* Decode sample i: an 8-bit RGB image and (if `labels` is not NULL) its
 * label map mapped into [0, n_classes) or 255, same size (else an error
 * naming both files). Both malloc'ed: pixl_image_free() / free(). */
int pixl_dataset_load(const pixl_dataset *ds, int i, pixl_image **image, int32_t **labels);
/* Map raw label values of this dataset's encoding in place. */
void pixl_dataset_map_labels(const pixl_dataset *ds, int32_t *labels, int64_t n);

/* What the targets of a dataset are: class labels, boundaries (bsds500) or
 * surface normals (synthetic_normals); every kind still gives label maps. */
typedef enum pixl_task { PIXL_TASK_SEGMENTATION = 0, PIXL_TASK_EDGES = 1, PIXL_TASK_NORMALS = 2 } pixl_task;
int pixl_dataset_task(const pixl_dataset *ds);
/* Edge datasets: sample i's RGB image, soft target (height*width floats: the
 * fraction of annotators marking each pixel) and every annotator's boundary
 * map (*n_maps maps of height*width bytes, 0/1, one after another; the
 * benchmark's ground truth, see pixl_edge_benchmark()). Any output pointer
 * may be NULL; results are malloc'ed (pixl_image_free() / free()). */
int pixl_dataset_load_edges(const pixl_dataset *ds, int i, pixl_image **image, float **soft, uint8_t **maps,
                            int *n_maps);
/* Normal datasets: sample i's RGB image, unit normals (3 planes of
 * height*width floats: x right, y down, z forward from the camera, the
 * OpenCV camera frame; visible surfaces have z < 0) and validity mask
 * (height*width bytes, 1 where a surface was hit; normals are 0 elsewhere).
 * Any output may be NULL; malloc'ed. */
int pixl_dataset_load_normals(const pixl_dataset *ds, int i, pixl_image **image, float **normals, uint8_t **mask);
/* Every annotator's Boundaries map of a BSDS groundTruth .mat file (libmatio):
 * *n_maps maps of height*width bytes (0/1, row-major), malloc'ed. */
int pixl_bsds_read(const char *mat_path, uint8_t **maps, int *n_maps, int *width, int *height);

/*
 * AUGMENTATION
 *   In this order: random scale (image bilinear, labels nearest), crop to
 *   crop_width x crop_height at a random place (centre with center_crop),
 *   padding where the image is smaller (image: `pad` / the mean colour,
 *   labels: 255), colour jitter and blur on the image part, horizontal flip.
 *   Labels are only ever moved, never interpolated; sparse labels
 *   (sparse_labels) are scaled point by point, so each labelled pixel that
 *   stays inside the crop is found exactly once in the output, on its
 *   class. Every random number comes from `seed`; the same draws are made
 *   whatever options are on.
 */
typedef struct pixl_augment_opts {
    float scale_min, scale_max; /* scale factor uniform in [min, max]; 0 -> 1 */
    int crop_width, crop_height; /* 0 = no crop */
    int center_crop;            /* crop in the centre, not at random */
    int hflip;                  /* flip left-right with probability 0.5; 2 = one coin per BATCH (the loader
                                   flips all samples of a batch or none, as torch code flipping the batch
                                   tensor does; pixl_augment alone treats 2 as 1) */
    float brightness, contrast, saturation; /* factors uniform in [1-a, 1+a] (0 = off) */
    float blur_prob;            /* probability of a Gaussian blur ... */
    float blur_sigma_min, blur_sigma_max; /* ... with sigma uniform in this range (pixels) */
    int sparse_labels;          /* the labels are a few labelled pixels on 255 (PixelPick): the scale step
                                   moves each to one pixel (pixl_label_resize_sparse()) instead of a
                                   nearest resize, which duplicates or drops single pixels */
} pixl_augment_opts;

/* Seed of sample `index` in `epoch` for a run seeded with `seed`. */
uint64_t pixl_augment_seed(uint64_t seed, int64_t epoch, int64_t index);
/* Augment an 8-bit image and its labels (labels/out_labels may be NULL).
 * mean: padding colour in [0,1] per channel (NULL -> 0). Outputs are new. */
int pixl_augment(const pixl_augment_opts *o, uint64_t seed, const pixl_image *img, const int32_t *labels,
                 const float *mean, pixl_image **out_img, int32_t **out_labels);

/*
 * LOADER
 *   Batches of float NCHW images normalised with the dataset's mean/std and
 *   int32 (N,H,W) labels. Samples are shuffled per epoch from (seed, epoch)
 *   and decoded + augmented ahead by n_workers background threads; the
 *   content of every batch is the same for any number of workers (0 = work
 *   in the calling thread). Each sample is decoded, resized to
 *   resize_width x resize_height if set (image bilinear, labels nearest),
 *   then augmented if `augment` is set. Batch image size: the crop size,
 *   else the resize size (when augmentation does not rescale), else the
 *   images' own size (then all images of a batch must have the same size:
 *   full-resolution evaluation uses batch_size 1).
 *   With dense_targets (normal datasets) every geometric step (resize,
 *   scale, crop, flip) moves the float targets exactly as the labels:
 *   nearest-neighbour, never interpolated, and a flip negates the normals'
 *   x component (camera frame x right).
 *   A dataset with sparse labels (pixl_dataset_set_sparse_labels()) has its
 *   labels resized with pixl_label_resize_sparse() and augmented with
 *   sparse_labels set: every labelled pixel stays on its class and none is
 *   added.
 *   Batches run on across epochs without a break: batch b of epoch e is
 *   global batch e * pixl_loader_batches_per_epoch() + b (pixl_batch says
 *   which).
 */
typedef struct pixl_loader pixl_loader;

typedef struct pixl_loader_opts {
    int batch_size;         /* 0 -> 1 */
    int shuffle;            /* new order every epoch */
    int drop_last;          /* skip the last incomplete batch */
    uint64_t seed;          /* shuffling and augmentation */
    int n_workers;          /* background threads (0 = none) */
    int prefetch;           /* batches prepared ahead (0 -> 2 * max(1, n_workers)) */
    const pixl_augment_opts *augment; /* NULL = no augmentation (copied) */
    int resize_width, resize_height;  /* resize every sample first (0 = keep its size) */
    int dense_targets;      /* also carry the dataset's float targets per pixel (surface normals:
                               3 channels); labels are then 0 where a pixel has a target, 255 elsewhere */
} pixl_loader_opts;

typedef struct pixl_batch {
    int n, channels, height, width;
    float *images;        /* n*channels*height*width, normalised */
    int32_t *labels;      /* n*height*width, in [0, n_classes) or 255 */
    int target_channels;  /* dense_targets: channels of `targets` (3 for normals), else 0 */
    float *targets;       /* dense_targets: n*target_channels*height*width (0 where labels are 255), else NULL */
    const int *indices;   /* dataset index of each sample */
    int64_t epoch;
    int batch;            /* index of the batch in its epoch */
} pixl_batch;

typedef struct pixl_loader_stats {
    double total_seconds;     /* since creation or the last reset */
    double wait_seconds;      /* time pixl_loader_next() blocked waiting for data */
    double work_seconds;      /* decode + augment time summed over workers */
    int64_t images;           /* samples produced */
    double images_per_second; /* images / total_seconds */
    double capacity_per_second; /* what the workers could produce unthrottled */
} pixl_loader_stats;

/* The loader keeps a pointer to ds: free the loader first. */
pixl_loader *pixl_loader_new(const pixl_dataset *ds, const pixl_loader_opts *o);
void pixl_loader_free(pixl_loader *L);
int pixl_loader_batches_per_epoch(const pixl_loader *L);
/* Fill *b with the next batch: PIXL_OK, or a negative status (a sample
 * that failed to load: the error names its file; the loader then keeps
 * failing). Batch memory is owned by the loader and valid until the next
 * pixl_loader_next() / pixl_loader_set_epoch() / pixl_loader_free(). */
int pixl_loader_next(pixl_loader *L, pixl_batch *b);
/* Continue at batch 0 of `epoch` (resuming a run). Cheap when that is
 * where the loader stands anyway (prefetched batches are kept). */
int pixl_loader_set_epoch(pixl_loader *L, int64_t epoch);
/* The epoch of the batch the next pixl_loader_next() returns. */
int64_t pixl_loader_epoch(const pixl_loader *L);
void pixl_loader_get_stats(const pixl_loader *L, pixl_loader_stats *s);
void pixl_loader_reset_stats(pixl_loader *L);

/* ------------------------------------------------------------- label store */
/* (src/data/label_store*.c, sparse_labels.c, click_log.c) */
/*
 * LABEL STORE (PixelPick: training on a few labelled pixels per image)
 *   The labelled pixels of a set of images, for sparse-label training and
 *   active learning (docs/label_store.md). An image is named by a string
 *   id, the sample name of its dataset (pixl_dataset_sample_name(): the
 *   file stem, "0001TP_006690"), and has a size; each of its points is
 *   (y, x, label, round): a pixel inside the image, a class in
 *   [0, n_classes) and the annotation round that labelled it (>= 0). A
 *   pixel holds at most one point. An image keeps its points in the order
 *   they were added: the order pixl_label_store_points() lists and
 *   pixl_label_store_undo() takes back.
 *
 *   n_classes is 1..255 (255 is PIXL_IGNORE_LABEL, never a class). Class
 *   names are optional; where names are matched (VIA import, click logs,
 *   merging stores, applying a store to a dataset) the comparison ignores
 *   case and every character that is not a letter or digit, so "Sign
 *   symbol", "sign_symbol" and "SignSymbol" are one class.
 *
 *   Threads: any number may read a store at once (pixl_dataset_load() on a
 *   dataset with sparse labels does); a change needs the store alone.
 *
 *   QUICK EXAMPLE
 *     pixl_label_store *s = pixl_label_store_new(11, NULL);
 *     pixl_label_store_add_image(s, "0001TP_006690", 360, 480);
 *     pixl_label_store_add(s, "0001TP_006690", 120, 33, 3, 0);  // road, round 0
 *     if (pixl_label_store_save(s, "labels.json")) fprintf(stderr, "%s\n", pixl_last_error());
 *     pixl_label_store_free(s);
 *     // training: data.sparse_labels: labels.json (docs/config.md)
 *
 *   FILES: JSON (docs/label_store.md: "format": "pixl-label-store",
 *   "version": 1), written atomically (pixl_atomic_begin()): a reader, or
 *   a process killed while writing, finds the old file or the complete
 *   new one. Loading checks everything and names the file and the field
 *   of the first problem: JSON syntax (with the line), format and
 *   version, types, sizes, duplicate ids and pixels, and every point
 *   against its image and the class count.
 */
typedef struct pixl_label_store pixl_label_store;

typedef struct pixl_label_point {
    int32_t y, x;  /* row and column, 0-based, inside the image */
    int32_t label; /* class in [0, n_classes) */
    int32_t round; /* annotation round (>= 0) */
} pixl_label_point;

/* An empty store for n_classes classes (1..255). class_names: NULL (no
 * names) or n_classes non-empty strings, copied. */
pixl_label_store *pixl_label_store_new(int n_classes, const char *const *class_names);
void pixl_label_store_free(pixl_label_store *s);
/* A deep copy. */
pixl_label_store *pixl_label_store_clone(const pixl_label_store *s);
int pixl_label_store_n_classes(const pixl_label_store *s);
/* Name of class k, NULL when the store has no names or k is out of range. */
const char *pixl_label_store_class_name(const pixl_label_store *s, int k);

/* Add image `id` (non-empty) of height x width (1..PIXL_IMAGE_MAX_DIM each)
 * and return its index (>= 0). Adding an id again returns its index when
 * the size is the same; another size is an error (PIXL_ERR_ARG). */
int pixl_label_store_add_image(pixl_label_store *s, const char *id, int height, int width);
/* Index of image `id`, or -1. */
int pixl_label_store_find(const pixl_label_store *s, const char *id);
int pixl_label_store_n_images(const pixl_label_store *s);
/* Image i (0 <= i < n_images, in the order added): its id (owned by the
 * store), and *height, *width, *n_points (each may be NULL). NULL when i
 * is out of range. */
const char *pixl_label_store_image(const pixl_label_store *s, int i, int *height, int *width, int *n_points);
/* The n_points points of image i in the order added (valid until the
 * store changes); NULL when the image has none or i is out of range. */
const pixl_label_point *pixl_label_store_points(const pixl_label_store *s, int i);
/* Points of image `id` (0 when the store does not have it). */
int pixl_label_store_count(const pixl_label_store *s, const char *id);
/* Points of all images. */
int64_t pixl_label_store_total(const pixl_label_store *s);

/* Label pixel (y, x) of image `id` with class `label` in round `round`.
 * Errors, the store unchanged: an image not added (PIXL_ERR_NOT_FOUND), a
 * pixel outside the image, a class outside [0, n_classes) (the ignore
 * label 255 included), a negative round (PIXL_ERR_ARG), and a pixel that
 * holds a point already (PIXL_ERR_STATE, whatever its class: to relabel,
 * pixl_label_store_remove() it first). */
int pixl_label_store_add(pixl_label_store *s, const char *id, int y, int x, int label, int round);
/* 1 and *p (may be NULL) = the point when pixel (y, x) of image `id` is
 * labelled, 0 when not (or no such image), negative on a NULL argument. */
int pixl_label_store_get(const pixl_label_store *s, const char *id, int y, int x, pixl_label_point *p);
/* Remove the point at pixel (y, x) of image `id`; the others keep their
 * order. PIXL_ERR_NOT_FOUND when there is none. */
int pixl_label_store_remove(pixl_label_store *s, const char *id, int y, int x);
/* Remove the point added last to image `id` (an annotator's undo) and
 * return it in *removed (may be NULL). PIXL_ERR_STATE when the image has
 * no point, PIXL_ERR_NOT_FOUND when the store has no such image. */
int pixl_label_store_undo(pixl_label_store *s, const char *id, pixl_label_point *removed);

/* What pixl_label_store_merge() does with a pixel labelled in both stores
 * with different classes. (Same class: one point, the earlier round.) */
typedef enum pixl_label_merge {
    PIXL_MERGE_LATER_ROUND = 0, /* the point of the later round wins (a relabelling); the same round
                                   with two classes is an error */
    PIXL_MERGE_STRICT = 1,      /* any pixel with two classes is an error */
    PIXL_MERGE_OVERWRITE = 2    /* src's point wins */
} pixl_label_merge;
/* Merge src into dst (annotation rounds): an image of src that dst lacks is
 * added with its size, a point of src at a pixel dst has free is appended
 * with its round, a pixel labelled in both follows `rule`. Errors leave dst
 * unchanged: class counts that differ, class names that differ (when both
 * stores have names; dst takes src's names when it has none), an image
 * with two sizes, and the conflicts `rule` refuses (the error names the
 * image, the pixel, both classes and rounds). *n_added: points added;
 * *n_conflicts: pixels labelled with two classes (either may be NULL). */
int pixl_label_store_merge(pixl_label_store *dst, const pixl_label_store *src, pixl_label_merge rule,
                           int64_t *n_added, int64_t *n_conflicts);

/* Write the store to `path` as JSON version 1, atomically. */
int pixl_label_store_save(const pixl_label_store *s, const char *path);
/* Read a store written by pixl_label_store_save() (or by hand, see
 * docs/label_store.md). NULL with an error naming the file and what is
 * wrong on any problem; never reads out of bounds on corrupt input. */
pixl_label_store *pixl_label_store_load(const char *path);

/* Sparse labels of one image, in place: `labels` (height*width, row-major,
 * e.g. the dense map pixl_dataset_load() gives) becomes PIXL_IGNORE_LABEL
 * everywhere except at the points of image `id`, which get their class.
 * An image the store does not have gives a map of 255 only. Returns the
 * number of labelled pixels, or a negative status: PIXL_ERR_SHAPE when the
 * store has the image at another size (the error gives both).
 * n_disagree (may be NULL): points whose class differs from the value the
 * map had there (255 included), e.g. an annotator against ground truth. */
int pixl_label_store_apply(const pixl_label_store *s, const char *id, int height, int width, int32_t *labels,
                           int64_t *n_disagree);

/* Train on a store's points only: from now on pixl_dataset_load() gives for
 * sample i the labels of pixl_label_store_apply() with the sample's name
 * (pixl_dataset_sample_name()): 255 except at the store's points; a sample
 * the store does not name has no label at all, and an image whose size
 * differs from the store's is a load error naming both. A loader on the
 * dataset moves these labels as points (see LOADER). The store is copied
 * (free yours when you like); NULL goes back to the full label maps.
 * Errors, nothing changed: a dataset whose task is not segmentation, a
 * class count or class names that differ from the dataset's, and a store
 * naming images the dataset does not have (the error lists the first of
 * them and how samples are named). */
int pixl_dataset_set_sparse_labels(pixl_dataset *ds, const pixl_label_store *s);
/* The dataset's copy of the store, or NULL. (Loaders made before a change
 * keep the label handling of the time they were made.) */
const pixl_label_store *pixl_dataset_sparse_labels(const pixl_dataset *ds);

/* Import the point regions of a VGG Image Annotator (VIA) JSON file: a VIA
 * 2 project or annotation export (`_via_img_metadata`, or the image
 * entries at the top: per image `filename` and `regions`, each with
 * shape_attributes {"name": "point", "cx", "cy"} and region_attributes
 * holding the class), or a VIA 3 project as PixelPick's VIA tool saves it
 * (`file`, `view`, `metadata` with "xy": [1, x, y] and "av": {attribute
 * id: option id}). Images are matched to the dataset's samples by file
 * stem; their sizes come from the dataset (each image is decoded). The
 * class is the value of region attribute `attribute` (a VIA 2 attribute
 * name, or a VIA 3 attribute id or name; NULL = the only attribute
 * there is); the value, or the text of the option it names, is matched
 * to the dataset's class names. Coordinates are rounded to the nearest
 * pixel. Every point gets round `round`. Points without a class value are
 * skipped and counted in *n_skipped (may be NULL). Errors name the file,
 * the image and the region: not JSON, not VIA, an image the dataset does
 * not have, a region that is not a point, a point outside its image, an
 * unknown class (the error lists the classes), the same pixel twice. */
pixl_label_store *pixl_label_store_import_via(const char *path, const pixl_dataset *ds, const char *attribute,
                                              int round, int *n_skipped);

/* CLICK LOGS: the per-image text file of PixelPick's annotation tool,
 *     loc,label,elapsed_time,total_time
 *     (120, 33),road,1.532,1.532
 *     (48, 301),sky,0.871,2.403
 * loc is (y, x); label the class name in lower case; elapsed_time the
 * seconds the click took, total_time their sum so far. */
typedef struct pixl_click {
    int32_t y, x, label;   /* pixel and class index */
    double seconds, total; /* elapsed_time, total_time */
} pixl_click;
/* Write n rows atomically. class_names: n_classes names (NULL: "class0",
 * "class1", ...); a label outside [0, n_classes) is an error. */
int pixl_click_log_save(const char *path, const pixl_click *rows, int n, int n_classes,
                        const char *const *class_names);
/* Read a log (the seed tool's files too, numpy's "(np.int64(120),
 * np.int64(33))" locations included): *rows malloc'ed (free()), *n rows.
 * Names are matched to class_names as above. Errors name the file and
 * line: no header, a malformed location or number, an unknown class. */
int pixl_click_log_load(const char *path, int n_classes, const char *const *class_names, pixl_click **rows,
                        int *n);

#ifdef __cplusplus
}
#endif
#endif /* PIXL_DATA_H */
