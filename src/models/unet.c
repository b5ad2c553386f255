/* unet.c — U-Net (Ronneberger et al. 2015) in the common same-padding form
 * with BatchNorm, as ../shared/anchors/seg_models.py defines it: double
 * [conv3x3 + BN + ReLU] blocks with widths base*2^i (base 32 at width 1),
 * 4 max-pool downsamplings, 2x2 stride-2 transposed-conv up-convolutions,
 * skip concatenation [skip, up], zero padding of the upsampled map when a
 * size is odd, 1x1 classifier. Names: downs.i.{0,1,3,4}, upconvs.i, ups.i, head.
 *
 * Variant "valid" is the paper's own form (Ronneberger et al. 2015, Fig. 1):
 * unpadded 3x3 convolutions with bias and ReLU, no normalisation, 4 max-pool
 * levels with widths int(64*2^i*width) (64..1024 at width 1), 2x2 stride-2
 * up-convolutions halving the channels, concat [cropped skip, up] and a 1x1
 * classifier. It is pytorch-semseg's `unet` with is_deconv=True,
 * is_batchnorm=False and feature_scale = 1/width, under its parameter names
 * (conv1..conv4, center, up_concat4..1.{up,conv}, final); "valid_bn" is
 * pytorch-semseg's default is_batchnorm=True (BN after the encoder and
 * centre convolutions only). A valid U-Net maps an input of 16k+124 pixels
 * to one of 16k-60; to give a prediction for every pixel pixl extrapolates
 * the missing context by mirroring the input as the paper does (reflect
 * padding of 92 pixels on top/left and up to the next valid size on the
 * bottom/right, repeated when the image is smaller than the pad) and crops
 * the output back to H x W. */
#include "models_impl.h"

static pixl_tensor *double_conv(pixl_ctx *c, const char *p, pixl_tensor *x, int ch)
{
    pixl_conv2d_opts o = {.padding = {1, 1}};
    x = pixl_nn_conv2d(c, pixl__mname(c, p, "0"), x, ch, 3, 3, &o, 0);
    x = pixl_relu(c, pixl_nn_batch_norm2d(c, pixl__mname(c, p, "1"), x, NULL));
    x = pixl_nn_conv2d(c, pixl__mname(c, p, "3"), x, ch, 3, 3, &o, 0);
    return pixl_relu(c, pixl_nn_batch_norm2d(c, pixl__mname(c, p, "4"), x, NULL));
}

/* pytorch-semseg unetConv2: two valid 3x3 conv (+BN) + ReLU; names p.conv1.{0,1}, p.conv2.{0,1} */
static pixl_tensor *valid_conv2(pixl_ctx *c, const char *p, pixl_tensor *x, int ch, int bn)
{
    for (int i = 1; i <= 2; i++) {
        x = pixl_nn_conv2d(c, pixl__mname(c, p, "conv%d.0", i), x, ch, 3, 3, NULL, 1);
        if (bn) x = pixl_nn_batch_norm2d(c, pixl__mname(c, p, "conv%d.1", i), x, NULL);
        x = pixl_relu(c, x);
    }
    return x;
}

/* reflect-pad by pads {left, right, top, bottom}, in steps smaller than the current size */
static pixl_tensor *mirror_pad(pixl_ctx *c, pixl_tensor *x, const int pads[4])
{
    int rest[4] = {pads[0], pads[1], pads[2], pads[3]};
    while (x && (rest[0] || rest[1] || rest[2] || rest[3])) {
        int H = (int)x->shape[2], W = (int)x->shape[3];
        if (H < 2 || W < 2) {
            pixl__ctx_fail(c, PIXL_ERR_SHAPE, "model unet (valid): input %s is too small to mirror", pixl__tshape(x));
            return NULL;
        }
        int step[4];
        for (int i = 0; i < 4; i++) {
            int lim = (i < 2 ? W : H) - 1;
            step[i] = rest[i] < lim ? rest[i] : lim;
            rest[i] -= step[i];
        }
        x = pixl_pad2d(c, x, step, PIXL_PAD_REFLECT, 0);
    }
    return x;
}

static pixl_tensor *unet_valid(pixl_ctx *c, pixl_tensor *x, const pixl_model_opts *o, int bn)
{
    int f[5];
    for (int i = 0; i < 5; i++) {
        f[i] = (int)(64.0 * (1 << i) * o->width + 1e-4);
        if (f[i] < 1) {
            pixl__ctx_fail(c, PIXL_ERR_ARG, "model unet (valid): width %g leaves level %d without channels",
                          (double)o->width, i);
            return NULL;
        }
    }
    /* valid sizes are 16k+124 (k >= 4); the output is 184 smaller, offset by 92 */
    int H = (int)x->shape[2], W = (int)x->shape[3], PH, PW;
    for (PH = 188; PH < H + 184; PH += 16) {}
    for (PW = 188; PW < W + 184; PW += 16) {}
    int pads[4] = {92, PW - W - 92, 92, PH - H - 92};
    pixl_tensor *h = mirror_pad(c, x, pads), *skips[4];
    for (int i = 0; i < 4; i++) {
        char name[16];
        snprintf(name, sizeof name, "conv%d", i + 1);
        h = valid_conv2(c, name, h, f[i], bn);
        skips[i] = h;
        h = pixl_max_pool2d(c, h, &(pixl_pool2d_opts){.kernel = {2, 2}});
    }
    h = valid_conv2(c, "center", h, f[4], bn);
    for (int lvl = 3; lvl >= 0; lvl--) {
        char pre[32];
        snprintf(pre, sizeof pre, "up_concat%d", lvl + 1);
        h = pixl_nn_conv_transpose2d(c, pixl__mname(c, pre, "up"), h, f[lvl], 2, 2, &(pixl_conv2d_opts){.stride = {2, 2}},
                                     1);
        pixl_tensor *s = skips[lvl];
        if (!h || !s) return NULL;
        /* the skip is larger by an even amount: crop its centre */
        int dh = (int)(s->shape[2] - h->shape[2]) / 2, dw = (int)(s->shape[3] - h->shape[3]) / 2;
        s = pixl_crop2d(c, s, dh, dw, (int)h->shape[2], (int)h->shape[3]);
        pixl_tensor *parts[2] = {s, h};
        h = valid_conv2(c, pixl__mname(c, pre, "conv"), pixl_concat(c, 2, parts, 1), f[lvl], 0);
    }
    h = pixl_nn_conv2d(c, "final", h, o->n_classes, 1, 1, NULL, 1);
    return pixl_crop2d(c, h, 0, 0, H, W);
}

pixl_tensor *pixl__model_unet(pixl_ctx *c, pixl_tensor *x, const pixl_model_opts *o)
{
    if (o->variant && !strcmp(o->variant, "valid")) return unet_valid(c, x, o, 0);
    if (o->variant && !strcmp(o->variant, "valid_bn")) return unet_valid(c, x, o, 1);
    int depth = 4;
    if (o->variant && o->variant[0]) { /* exactly "depth" and one digit 1..6; any other variant is an error */
        const char *d = o->variant + 5;
        depth = !strncmp(o->variant, "depth", 5) && d[0] >= '1' && d[0] <= '6' && !d[1] ? d[0] - '0' : 0;
    }
    if (depth < 1 || depth > 6) {
        pixl__ctx_fail(c, PIXL_ERR_ARG, "model unet: variant '%s': expected depthN (N = 1..6), valid or valid_bn", o->variant);
        return NULL;
    }
    int base = (int)(32 * o->width + 0.5f);
    if (base < 1) base = 1;
    pixl_tensor *skips[8];
    pixl_tensor *h = x;
    for (int i = 0; i <= depth; i++) {
        h = double_conv(c, pixl__mname(c, "downs", "%d", i), h, base << i);
        if (i < depth) {
            skips[i] = h;
            h = pixl_max_pool2d(c, h, &(pixl_pool2d_opts){.kernel = {2, 2}});
        }
    }
    for (int k = 0; k < depth; k++) {
        int lvl = depth - 1 - k, ch = base << lvl;
        h = pixl_nn_conv_transpose2d(c, pixl__mname(c, "upconvs", "%d", k), h, ch, 2, 2,
                                     &(pixl_conv2d_opts){.stride = {2, 2}}, 1);
        pixl_tensor *s = skips[lvl];
        if (!h || !s) return NULL;
        int dh = (int)(s->shape[2] - h->shape[2]), dw = (int)(s->shape[3] - h->shape[3]);
        if (dh || dw) {
            int pads[4] = {dw / 2, dw - dw / 2, dh / 2, dh - dh / 2};
            h = pixl_pad2d(c, h, pads, PIXL_PAD_ZERO, 0);
        }
        pixl_tensor *parts[2] = {s, h};
        h = double_conv(c, pixl__mname(c, "ups", "%d", k), pixl_concat(c, 2, parts, 1), ch);
    }
    return pixl_nn_conv2d(c, "head", h, o->n_classes, 1, 1, NULL, 1);
}
