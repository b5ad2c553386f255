/* data_impl.h — private helpers shared by the data layer (src/data/):
 * file reading, path handling, 8-bit resampling kernels, the synthetic
 * renderer and the augmentation core used by the loader. */
#ifndef PIXL_DATA_IMPL_H
#define PIXL_DATA_IMPL_H

#include "pixl_impl.h"

/* Read a whole file (at most `max_bytes`) into a malloc'ed buffer.
 * `what` names the file's role in error messages ("image", "list"). */
int pixl__read_file(const char *path, const char *what, size_t max_bytes, unsigned char **buf, size_t *len);
/* Does a regular file / directory exist at path? */
int pixl__is_file(const char *path);
int pixl__is_dir(const char *path);
/* malloc'ed "a/b" (b returned as is when absolute or a is NULL/empty) */
char *pixl__join(const char *a, const char *b);
/* sorted names (malloc'ed array of malloc'ed strings) of the entries of
 * `dir` that are regular files (want_dirs = 0) or directories (1); hidden
 * entries skipped. Returns count or negative status. */
int pixl__list_dir(const char *dir, int want_dirs, char ***names);
void pixl__free_strings(char **s, int n);

/* Size check for images: 1..PIXL_IMAGE_MAX_DIM per side, bytes fit size_t. */
int pixl__check_dims(const char *path, long width, long height, int channels, int depth);

/* PIXL_OK for a well-formed image, else PIXL_ERR_ARG with "fn: invalid image". */
int pixl__image_valid(const pixl_image *img, const char *fn);
/* sample i (interleaved index) of an 8- or 16-bit image */
static inline unsigned pixl__image_sample(const pixl_image *img, size_t i)
{
    return img->depth == 8 ? ((const uint8_t *)img->data)[i] : ((const uint16_t *)img->data)[i];
}

/* 8-bit interleaved bilinear resize (half-pixel centres, align_corners=False). */
void pixl__resize_bilinear_u8(const uint8_t *src, int sw, int sh, int c, uint8_t *dst, int dw, int dh);
/* nearest-neighbour resize of int32 label maps: src index floor(d*in/out). */
void pixl__resize_nearest_i32(const int32_t *src, int sw, int sh, int32_t *dst, int dw, int dh);

/* Sparse label maps (labels on 255): each labelled pixel moves to the
 * destination pixel holding its centre; labels that meet on one pixel keep
 * it when they agree, else it becomes 255 (pixl_label_resize_sparse). */
void pixl__resize_sparse_i32(const int32_t *src, int sw, int sh, int32_t *dst, int dw, int dh);

/* Class names (label_store.c): equal ignoring case and every character
 * that is not a letter or digit ("Sign symbol" == "SignSymbol"); the index
 * of `name` among n names (NULL names: "class0", "class1", ...), an exact
 * match preferred, else -1; the names as "a, b, c" for error messages. */
int pixl__class_name_eq(const char *a, const char *b);
int pixl__class_index(const char *name, int n, const char *const *names);
void pixl__class_list(char *out, size_t len, int n, const char *const *names);

/* JSON files (label_store_json.c): parse len bytes of buf, all of it one
 * JSON value (cJSON), or NULL with "WHAT 'PATH':LINE:COL: ..."; the kind of
 * a value for messages ("a string", "missing", ...). */
struct cJSON;
struct cJSON *pixl__json_parse(const char *what, const char *path, const char *buf, size_t len);
const char *pixl__json_type(const struct cJSON *v);

/* Synthetic dataset: render sample `index` of (seed) at w x h into rgb
 * (w*h*3) and labels (w*h). */
#define PIXL_SYNTH_CLASSES 5
extern const char *const pixl__synth_names[PIXL_SYNTH_CLASSES];
extern const uint8_t pixl__synth_colours[PIXL_SYNTH_CLASSES * 3];
extern const float pixl__synth_mean[3], pixl__synth_std[3];
void pixl__synthetic_render(int w, int h, uint64_t seed, int64_t index, uint8_t *rgb, int32_t *labels);

/* BSDS500 ground truth (bsds.c): every annotator's Boundaries map of a .mat
 * file, row-major, 0/1, n_maps*height*width bytes (malloc'ed). */
int pixl__bsds_read_mat(const char *path, uint8_t **maps, int *n_maps, int *width, int *height);
/* Targets from n_maps maps of np pixels: soft = fraction of annotators;
 * labels = 0 (nobody), 1 (fraction >= consensus), 255 (some, fewer). Either may be NULL. */
void pixl__bsds_targets(const uint8_t *maps, int n_maps, size_t np, float consensus, float *soft, int32_t *labels);

/* Synthetic surface normals (synthetic_normals.c): sample `index` of (seed)
 * at w x h: rgb (w*h*3), normals (3*w*h planes x, y, z; camera frame), mask
 * (w*h, 1 = a surface), labels (w*h: 0 plane, 1 box, 2 sphere, 255 none).
 * Any output but rgb may be NULL. Returns PIXL_OK or PIXL_ERR_NOMEM. */
#define PIXL_SYNTH_NORMAL_CLASSES 3
extern const char *const pixl__synth_normal_names[PIXL_SYNTH_NORMAL_CLASSES];
extern const uint8_t pixl__synth_normal_colours[PIXL_SYNTH_NORMAL_CLASSES * 3];
extern const float pixl__synth_normal_mean[3], pixl__synth_normal_std[3];
int pixl__synthetic_normals_render(int w, int h, uint64_t seed, int64_t index, uint8_t *rgb, float *normals,
                                   uint8_t *mask, int32_t *labels);

/* Augmentation on an 8-bit image (any channel count) + optional labels.
 * `pad` holds the padding value of each channel. */
/* mirror an 8-bit image (and its labels, may be NULL) left-right in place */
void pixl__hflip(pixl_image *im, int32_t *labels);
/* *flipped (may be NULL) says whether the sample was mirrored. */
int pixl__augment(const pixl_augment_opts *o, uint64_t seed, const pixl_image *img, const int32_t *labels,
                  const uint8_t *pad, pixl_image **out_img, int32_t **out_labels, int *flipped);

#endif
