/* unet.c — U-Net (Ronneberger et al. 2015) in the common same-padding form
 * with BatchNorm, as ../shared/anchors/seg_models.py defines it: double
 * [conv3x3 + BN + ReLU] blocks with widths base*2^i (base 32 at width 1),
 * 4 max-pool downsamplings, 2x2 stride-2 transposed-conv up-convolutions,
 * skip concatenation [skip, up], zero padding of the upsampled map when a
 * size is odd, 1x1 classifier. Names: downs.i.{0,1,3,4}, upconvs.i, ups.i, head. */
#include "models_impl.h"

static pixl_tensor *double_conv(pixl_ctx *c, const char *p, pixl_tensor *x, int ch)
{
    pixl_conv2d_opts o = {.padding = {1, 1}};
    x = pixl_nn_conv2d(c, pixl_mname(p, "0"), x, ch, 3, 3, &o, 0);
    x = pixl_relu(c, pixl_nn_batch_norm2d(c, pixl_mname(p, "1"), x, NULL));
    x = pixl_nn_conv2d(c, pixl_mname(p, "3"), x, ch, 3, 3, &o, 0);
    return pixl_relu(c, pixl_nn_batch_norm2d(c, pixl_mname(p, "4"), x, NULL));
}

pixl_tensor *pixl_model_unet(pixl_ctx *c, pixl_tensor *x, const pixl_model_opts *o)
{
    int depth = 4;
    if (o->variant && !strncmp(o->variant, "depth", 5)) depth = atoi(o->variant + 5);
    if (depth < 1 || depth > 6) {
        pixl_ctx_fail(c, PIXL_ERR_ARG, "model unet: variant '%s': depth must be 1..6", o->variant);
        return NULL;
    }
    int base = (int)(32 * o->width + 0.5f);
    if (base < 1) base = 1;
    pixl_tensor *skips[8];
    pixl_tensor *h = x;
    for (int i = 0; i <= depth; i++) {
        h = double_conv(c, pixl_mname("downs", "%d", i), h, base << i);
        if (i < depth) {
            skips[i] = h;
            h = pixl_max_pool2d(c, h, &(pixl_pool2d_opts){.kernel = {2, 2}});
        }
    }
    for (int k = 0; k < depth; k++) {
        int lvl = depth - 1 - k, ch = base << lvl;
        h = pixl_nn_conv_transpose2d(c, pixl_mname("upconvs", "%d", k), h, ch, 2, 2,
                                     &(pixl_conv2d_opts){.stride = {2, 2}}, 1);
        pixl_tensor *s = skips[lvl];
        if (!h || !s) return NULL;
        int dh = (int)(s->shape[2] - h->shape[2]), dw = (int)(s->shape[3] - h->shape[3]);
        if (dh || dw) {
            int pads[4] = {dw / 2, dw - dw / 2, dh / 2, dh - dh / 2};
            h = pixl_pad2d(c, h, pads, PIXL_PAD_ZERO, 0);
        }
        pixl_tensor *parts[2] = {s, h};
        h = double_conv(c, pixl_mname("ups", "%d", k), pixl_concat(c, 2, parts, 1), ch);
    }
    return pixl_nn_conv2d(c, "head", h, o->n_classes, 1, 1, NULL, 1);
}
