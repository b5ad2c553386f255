/* deeplabv3plus.c — DeepLabv3+ (Chen et al. 2018) as PixelPick builds it
 * (networks/deeplab.py; seeds-spec 4.4), with torchvision's ASPP module:
 *   encoder: options backbone mobilenet_v2 (default; features 0..17, 320
 *   channels, low level = features.3, 24 channels at stride 4) or a ResNet
 *   (low level = layer1), output_stride 16 (default) or 8.
 *   ASPP on the encoder output: 1x1 conv, three 3x3 atrous convs (rates
 *   6/12/18, doubled at output stride 8) and image pooling (global average,
 *   1x1 conv, broadcast back), each 256 channels + BN + ReLU; concat (1280)
 *   -> 1x1 conv 256 BN ReLU -> Dropout 0.5.
 *   decoder: low level -> 1x1 conv 48 BN ReLU; ASPP output resized to the
 *   low-level size (bilinear, align_corners=True); concat (304) -> 3x3 conv
 *   256 BN ReLU -> Dropout 0.5 -> 3x3 conv 256 BN ReLU -> Dropout 0.2 -> 1x1
 *   conv to n_classes -> bilinear (align_corners=True) to the input size.
 * Names: backbone.* (torchvision), aspp.convs.{0..3}.{0,1}, aspp.convs.4.{1,2},
 * aspp.project.{0,1} (torchvision.models.segmentation ASPP), low_level_conv.{0,1},
 * seg_head.segment_head.{0,1,4,5}, seg_head.classifier (PixelPick). */
#include "models_impl.h"

static pixl_tensor *cbr(pixl_ctx *c, const char *conv, const char *bn, pixl_tensor *x, int ch, int k, int dil)
{
    pixl_conv2d_opts o = {.padding = {dil * (k / 2), dil * (k / 2)}, .dilation = {dil, dil}};
    x = pixl_nn_conv2d(c, conv, x, ch, k, k, &o, 0);
    return pixl_relu(c, pixl_nn_batch_norm2d(c, bn, x, NULL));
}

pixl_tensor *pixl__model_deeplabv3plus(pixl_ctx *c, pixl_tensor *x, const pixl_model_opts *o)
{
    const char *bb = o->backbone ? o->backbone : "mobilenet_v2";
    int os = o->output_stride ? o->output_stride : 16;
    int mobilenet = !strcmp(bb, "mobilenet_v2");
    if (!mobilenet && strncmp(bb, "resnet", 6) != 0) {
        pixl__ctx_fail(c, PIXL_ERR_ARG,
                      "model deeplabv3plus: backbone '%s' (expected mobilenet_v2, resnet18, resnet34, resnet50 or "
                      "resnet101)",
                      bb);
        return NULL;
    }
    if (os != 8 && os != 16) {
        pixl__ctx_fail(c, PIXL_ERR_ARG, "model deeplabv3plus: output_stride %d (expected 8 or 16)", os);
        return NULL;
    }
    int H = (int)x->shape[2], W = (int)x->shape[3];
    pixl_backbone_taps taps;
    pixl_tensor *f = pixl__backbone_build(c, mobilenet ? "mobilenet_v2_320" : bb, "backbone", x, os, &taps);
    if (!f) return NULL;
    pixl_tensor *high = f;
    pixl_tensor *low = pixl__backbone_tap(c, &taps, mobilenet ? "features.3" : "layer1");
    if (!high || !low) return NULL;

    /* ASPP */
    int r = os == 16 ? 6 : 12;
    pixl_tensor *br[5];
    br[0] = cbr(c, "aspp.convs.0.0", "aspp.convs.0.1", high, 256, 1, 1);
    for (int i = 1; i <= 3; i++)
        br[i] = cbr(c, pixl__mname(c, "aspp.convs", "%d.0", i), pixl__mname(c, "aspp.convs", "%d.1", i), high, 256, 3, r * i);
    pixl_tensor *p = pixl_adaptive_avg_pool2d(c, high, 1, 1);
    p = cbr(c, "aspp.convs.4.1", "aspp.convs.4.2", p, 256, 1, 1);
    br[4] = high ? pixl_resize(c, p, (int)high->shape[2], (int)high->shape[3], PIXL_RESIZE_BILINEAR, 0, 0, 0) : NULL;
    pixl_tensor *a = pixl_concat(c, 5, br, 1);
    a = pixl_dropout(c, cbr(c, "aspp.project.0", "aspp.project.1", a, 256, 1, 1), 0.5f);

    /* decoder */
    low = cbr(c, "low_level_conv.0", "low_level_conv.1", low, 48, 1, 1);
    if (!a || !low) return NULL;
    pixl_tensor *parts[2] = {pixl_resize(c, a, (int)low->shape[2], (int)low->shape[3], PIXL_RESIZE_BILINEAR, 1, 0, 0),
                             low};
    pixl_tensor *h = pixl_concat(c, 2, parts, 1);
    h = pixl_dropout(c, cbr(c, "seg_head.segment_head.0", "seg_head.segment_head.1", h, 256, 3, 1), 0.5f);
    /* PixelPick's Monte-Carlo dropout layer (mc_dropout_p 0.2): sampled at inference under pixl_ctx_set_mc_dropout */
    h = pixl_dropout_mc(c, cbr(c, "seg_head.segment_head.4", "seg_head.segment_head.5", h, 256, 3, 1), 0.2f);
    h = pixl_nn_conv2d(c, "seg_head.classifier", h, o->n_classes, 1, 1, NULL, 1);
    return pixl_resize(c, h, H, W, PIXL_RESIZE_BILINEAR, 1, 0, 0);
}
