/* pspnet.c — PSPNet (Zhao et al. 2017) with the head of hszhao/semseg's
 * PSPNet on a torchvision ResNet (options backbone: resnet50 (default),
 * resnet101, resnet18/34; output_stride 8 (default) or 16):
 *   layer4 -> pyramid pooling module: for bins 1, 2, 3, 6 an adaptive average
 *   pool, 1x1 conv (no bias) to C/4, BN, ReLU, bilinear upsampling back
 *   (align_corners=True); concat [x, 4 branches] (2C) -> 3x3 conv 512 BN ReLU
 *   -> Dropout2d 0.1 -> 1x1 conv to n_classes -> bilinear upsampling to the
 *   input (align_corners=True).
 *   aux: layer3 -> 3x3 conv 256 BN ReLU -> Dropout2d 0.1 -> 1x1 conv,
 *   registered with loss weight 0.4.
 * Names: backbone.* (torchvision), ppm.features.{0..3}.{1,2}, cls.{0,1,4},
 * aux.{0,1,4} — semseg's names with torchvision's stem (semseg's own ResNet
 * has a deep 3-conv stem, so counts are those of its head on torchvision
 * ResNets: 46,587,467 parameters at 11 classes for ResNet-50). */
#include "models_impl.h"

static pixl_tensor *cbr(pixl_ctx *c, const char *conv, const char *bn, pixl_tensor *x, int ch, int k)
{
    pixl_conv2d_opts o = {.padding = {k / 2, k / 2}};
    x = pixl_nn_conv2d(c, conv, x, ch, k, k, &o, 0);
    return pixl_relu(c, pixl_nn_batch_norm2d(c, bn, x, NULL));
}

pixl_tensor *pixl__model_pspnet(pixl_ctx *c, pixl_tensor *x, const pixl_model_opts *o)
{
    const char *bb = o->backbone ? o->backbone : "resnet50";
    int os = o->output_stride ? o->output_stride : 8;
    if (strncmp(bb, "resnet", 6) != 0) {
        pixl__ctx_fail(c, PIXL_ERR_ARG, "model pspnet: backbone '%s' (expected resnet18, resnet34, resnet50 or resnet101)",
                      bb);
        return NULL;
    }
    if (os != 8 && os != 16) {
        pixl__ctx_fail(c, PIXL_ERR_ARG, "model pspnet: output_stride %d (expected 8 or 16)", os);
        return NULL;
    }
    int H = (int)x->shape[2], W = (int)x->shape[3];
    pixl_backbone_taps taps;
    pixl_tensor *f = pixl__backbone_build(c, bb, "backbone", x, os, &taps);
    pixl_tensor *l3 = f ? pixl__backbone_tap(c, &taps, "layer3") : NULL;
    if (!f || !l3) return NULL;
    int C = (int)f->shape[1], fh = (int)f->shape[2], fw = (int)f->shape[3];
    static const int bins[4] = {1, 2, 3, 6};
    pixl_tensor *parts[5] = {f};
    for (int i = 0; i < 4; i++) {
        pixl_tensor *p = pixl_adaptive_avg_pool2d(c, f, bins[i], bins[i]);
        p = cbr(c, pixl__mname(c, "ppm.features", "%d.1", i), pixl__mname(c, "ppm.features", "%d.2", i), p, C / 4, 1);
        parts[i + 1] = pixl_resize(c, p, fh, fw, PIXL_RESIZE_BILINEAR, 1, 0, 0);
    }
    pixl_tensor *h = pixl_concat(c, 5, parts, 1);
    h = pixl_dropout2d(c, cbr(c, "cls.0", "cls.1", h, 512, 3), 0.1f);
    h = pixl_nn_conv2d(c, "cls.4", h, o->n_classes, 1, 1, NULL, 1);
    if (o->aux) {
        pixl_tensor *a = pixl_dropout2d(c, cbr(c, "aux.0", "aux.1", l3, 256, 3), 0.1f);
        a = pixl_nn_conv2d(c, "aux.4", a, o->n_classes, 1, 1, NULL, 1);
        if (!a) return NULL;
        if (pixl_ctx_add_aux(c, a, 0.4f) != PIXL_OK) {
            pixl__ctx_fail(c, pixl_last_status(), "model pspnet: %s", pixl_last_error());
            return NULL;
        }
    }
    return pixl_resize(c, h, H, W, PIXL_RESIZE_BILINEAR, 1, 0, 0);
}
