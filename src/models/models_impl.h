/* models_impl.h — helpers shared by the model builders in src/models/. */
#ifndef PIXL_MODELS_IMPL_H
#define PIXL_MODELS_IMPL_H

#include "pixl_impl.h"

/* "prefix.leaf" into a small rotating per-thread buffer */
const char *pixl_mname(const char *prefix, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

typedef pixl_tensor *(*pixl_model_fn)(pixl_ctx *ctx, pixl_tensor *x, const pixl_model_opts *o);

pixl_tensor *pixl_model_enet(pixl_ctx *ctx, pixl_tensor *x, const pixl_model_opts *o);
pixl_tensor *pixl_model_unet(pixl_ctx *ctx, pixl_tensor *x, const pixl_model_opts *o);
pixl_tensor *pixl_model_segnet_basic(pixl_ctx *ctx, pixl_tensor *x, const pixl_model_opts *o);

#endif
