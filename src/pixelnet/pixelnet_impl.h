/* pixelnet_impl.h — private interface of src/pixelnet/ (PixelNet model). */
#ifndef PIXL_PIXELNET_IMPL_H
#define PIXL_PIXELNET_IMPL_H

#include "pixl_impl.h"

/* The zoo entry: dense logits (N, K, H, W), inference graphs only. */
pixl_tensor *pixl_model_pixelnet(pixl_ctx *ctx, pixl_tensor *x, const pixl_model_opts *o);

/* Training on sampled pixels (used by src/train/trainer.c for arch pixelnet). */
typedef struct pixl_pn_train {
    pixl_tensor *pixels;  /* (B*k, 3) int32 input */
    pixl_tensor *labels;  /* (B*k) int32 input */
    pixl_tensor *logits;  /* (B*k, K) */
    pixl_tensor *target, *mask; /* balanced_bce: (B*k, 1) float inputs from the sampled labels;
                                   normal: (B*k, 3) float normals and (B*k) int32 validity */
    int ignore;           /* the ignored label (balanced_bce) */
    int normals;          /* training.loss.name normal */
    pixl_sampler_opts so;
    uint64_t seed;
} pixl_pn_train;

/* Build the sampled training graph on images x (B, C, H, W): inputs for the
 * pixel list and its labels, the PixelNet head at those pixels and the
 * cross-entropy (class weights `weight` or NULL; labels equal to
 * `ignore_index` skipped, -1: PIXL_IGNORE_LABEL), or with training.loss.name
 * balanced_bce (mo->n_classes 1) the class-balanced sigmoid cross-entropy
 * of label 1 against the rest, or with normal (mo->n_classes 3) the normal
 * loss at sampled pixels with a target (label 0; batches of a loader with
 * dense_targets). Returns the loss or NULL (ctx error). */
pixl_tensor *pixl_pn_train_graph(pixl_ctx *ctx, const pixl_train_config *cfg, const pixl_model_opts *mo,
                                 pixl_tensor *x, pixl_tensor *weight, int ignore_index, pixl_pn_train *st);
/* Draw this step's pixels from the batch's labels (B, H, W) into the inputs;
 * with the normal loss also their targets from `targets` (B, 3, H, W). */
int pixl_pn_train_sample(pixl_pn_train *st, const int32_t *labels, const float *targets, int B, int H, int W,
                         int64_t step);

#endif
