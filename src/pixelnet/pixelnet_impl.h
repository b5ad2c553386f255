/* pixelnet_impl.h — private interface of src/pixelnet/ (PixelNet model). */
#ifndef PIXL_PIXELNET_IMPL_H
#define PIXL_PIXELNET_IMPL_H

#include "pixl_impl.h"

#define PIXL_PN_MAX_MLP 6

/* A parsed PixelNet variant string (pixl.h, pixl_pixelnet_sampled). */
typedef struct pixl_pn_spec {
    int n_taps;                          /* 0 = the backbone's default taps */
    char taps[PIXL_HYPERCOLUMN_MAX_MAPS][32];
    int n_mlp;
    int mlp[PIXL_PN_MAX_MLP];            /* hidden widths */
    float dropout, hc_dropout;
    int bn;                              /* BatchNorm side branch on the taps */
    int align_corner;                    /* offsets 0 instead of (stride-1)/2 */
    int chunk;                           /* dense inference chunk (pixels) */
} pixl_pn_spec;

/* Parse `variant` (NULL or "" = defaults). Returns 0, or -1 with the reason in err. */
int pixl_pn_parse(const char *variant, pixl_pn_spec *s, char *err, size_t errlen);

/* Variant string of a config: model.options.variant when given, else the
 * PixelNet keys (taps, mlp, dropout, hc_dropout, bn, align, chunk) found in
 * model.options, joined as "key=value;...". Returns 0 or -1 (too long). */
int pixl_pn_variant_from_config(const pixl_train_config *cfg, char *buf, size_t len);

/* The zoo entry: dense logits (N, K, H, W), inference graphs only. */
pixl_tensor *pixl_model_pixelnet(pixl_ctx *ctx, pixl_tensor *x, const pixl_model_opts *o);

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
pixl_tensor *pixl_pn_train_graph(pixl_ctx *ctx, const pixl_train_config *cfg, const pixl_model_opts *mo,
                                 pixl_tensor *x, int sampler_classes, int empty_label, pixl_pn_train *st);
/* Draw step `step`'s pixels from the batch's labels (B, H, W) into the inputs. */
int pixl_pn_train_sample(pixl_pn_train *st, const int32_t *labels, int B, int H, int W, int64_t step);

#endif
