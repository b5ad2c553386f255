/* segnet.c — SegNet (Badrinarayanan, Kendall, Cipolla 2017): the 13 convs of
 * VGG-16-BN as encoder with torchvision's vgg16_bn names under "backbone."
 * (ImageNet weights load with tools/convert_pth.py --prefix backbone.
 * --drop classifier), 2x2 max-pools whose argmax indices are kept; a mirrored
 * decoder: max-unpool with those indices to the pre-pool size, then
 * conv3x3-BN-ReLU blocks (dec5: 512,512,512; dec4: 512,512,256; dec3:
 * 256,256,128; dec2: 128,64; dec1: 64), and a final 3x3 conv to n_classes
 * with no BN and no ReLU (the logits are not rectified, unlike
 * pytorch-semseg's segnet). Decoder names as torch nn.Sequential:
 * decN.{0,3,6} convs, decN.{1,4,7} BatchNorms; dec1.3 is the classifier.
 * Any input of at least 32x32 (odd sizes unpool to the pre-pool size). */
#include "models_impl.h"

pixl_tensor *pixl__model_segnet(pixl_ctx *c, pixl_tensor *x, const pixl_model_opts *o)
{
    if (x->shape[2] < 32 || x->shape[3] < 32) {
        pixl__ctx_fail(c, PIXL_ERR_SHAPE, "model segnet: input %s: height and width must be at least 32",
                      pixl__tshape(x));
        return NULL;
    }
    pixl_backbone_taps taps;
    pixl_tensor *h = pixl__backbone_vgg16(c, "backbone", x, 1, 1, 0, &taps);
    if (!h || taps.n != 10) return NULL;
    /* taps: (pre-pool ReLU, pool) for the 5 stages */
    static const int dec_ch[5][3] = {{64, 0, 0}, {128, 64, 0}, {256, 256, 128}, {512, 512, 256}, {512, 512, 512}};
    pixl_conv2d_opts p1 = {.padding = {1, 1}};
    for (int s = 4; s >= 0; s--) {
        pixl_tensor *pre = taps.t[2 * s], *pool = taps.t[2 * s + 1];
        pixl_tensor *idx = pixl_max_pool2d_indices(c, pool);
        h = pixl_max_unpool2d(c, h, idx, (int)pre->shape[2], (int)pre->shape[3]);
        char dn[16];
        snprintf(dn, sizeof dn, "dec%d", s + 1);
        for (int j = 0; j < 3 && dec_ch[s][j]; j++) {
            h = pixl_nn_conv2d(c, pixl__mname(c, dn, "%d", 3 * j), h, dec_ch[s][j], 3, 3, &p1, 1);
            h = pixl_relu(c, pixl_nn_batch_norm2d(c, pixl__mname(c, dn, "%d", 3 * j + 1), h, NULL));
        }
    }
    return pixl_nn_conv2d(c, "dec1.3", h, o->n_classes, 3, 3, &p1, 1);
}
