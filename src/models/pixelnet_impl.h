/* pixelnet_impl.h — private interface of the PixelNet model (src/models/pixelnet.c). */
#ifndef PIXL_PIXELNET_IMPL_H
#define PIXL_PIXELNET_IMPL_H

#include "pixl_impl.h"

/* The zoo entry: dense logits (N, K, H, W), inference graphs only. */
pixl_tensor *pixl__model_pixelnet(pixl_ctx *ctx, pixl_tensor *x, const pixl_model_opts *o);

#endif
