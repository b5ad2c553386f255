/* pixelnet_impl.h — private interface of src/pixelnet/ (PixelNet model). */
#ifndef PIXL_PIXELNET_IMPL_H
#define PIXL_PIXELNET_IMPL_H

#include "pixl_impl.h"

/* The zoo entry: dense logits (N, K, H, W), inference graphs only. */
pixl_tensor *pixl__model_pixelnet(pixl_ctx *ctx, pixl_tensor *x, const pixl_model_opts *o);

/* Training on sampled pixels (src/train/trainer.c for arch pixelnet). */
typedef struct pixl_pn_train {
    pixl_tensor *pixels;  /* (B*k, 3) int32 input: image, row, column */
    pixl_tensor *labels;  /* (B*k) int32 input: their labels */
    pixl_tensor *logits;  /* (B*k, K): the head at those pixels */
    pixl_sampler_opts so;
    uint64_t seed;
} pixl_pn_train;

/* Build the sampled head on images x (B, C, H, W): inputs for the pixel
 * list and its labels and the PixelNet head at those pixels (its loss is
 * the task's). The sampler draws from `sampler_classes` classes and pads
 * with `empty_label`. Returns the logits or NULL (ctx error). */
pixl_tensor *pixl__pn_train_graph(pixl_ctx *ctx, const pixl_train_config *cfg, const pixl_model_opts *mo,
                                 pixl_tensor *x, int sampler_classes, int empty_label, pixl_pn_train *st);
/* Draw step `step`'s pixels from the batch's labels (B, H, W) into the inputs. */
int pixl__pn_train_sample(pixl_pn_train *st, const int32_t *labels, int B, int H, int W, int64_t step);

#endif
