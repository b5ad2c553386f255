/* gfrnet.c — G-FRNet, the Gated Feedback Refinement Network (Islam et al.
 * 2017), as the authors' CamVid network (mrochan/gfrnet,
 * models/camvid/test_camvid_gate.prototxt) defines it, with layer names from
 * that prototxt:
 *   encoder: VGG-16 with BN (torchvision vgg16_bn features; option backbone
 *   vgg16 for the plain one); Dropout 0.5 on pool5 (the prototxt's encdrop3/4
 *   inside the encoder are left out: the encoder is torchvision's).
 *   conv6, conv7: 3x3 conv 1024 (bias) BN ReLU Dropout 0.5; pred_1: 3x3 conv
 *   to K classes (the coarse label map at stride 32).
 *   Stage s = 2..6 on the encoder level L = conv5_3, conv4_3, conv3_3,
 *   conv2_2, conv1_2 (the ReLU outputs before the pools):
 *     f_s  = BN(3x3 conv(L) to K)                  (L_feature_sS[_bn])
 *     gate = BN(f_s * up(f_{s-1}))                  (gate_sS[_bn]; f_1 =
 *            3x3 conv(pool5) to K, pool5_feature_s2)
 *     pred_s = 3x3 conv(concat(gate, up(pred_{s-1}))) to K  (stage 5 concats
 *            [up(pred_4), gate], as the prototxt; stage 6's is "prediction")
 *   up = bilinear, align_corners=True (Caffe's Interp), to the size of f_s.
 *   Deep supervision: with opts.aux, pred_1 .. pred_5 are auxiliary outputs
 *   of weight 1 (the prototxt's losses l1..l5 next to l6 on "prediction").
 * The output "prediction" is at input resolution: 29,194,090 parameters at
 * 11 classes. Input sides must be at least 32 (five 2x2 max-pools). */
#include "models_impl.h"

static pixl_tensor *conv3(pixl_ctx *c, const char *name, pixl_tensor *x, int ch)
{
    return pixl_nn_conv2d(c, name, x, ch, 3, 3, &(pixl_conv2d_opts){.padding = {1, 1}}, 1);
}

static pixl_tensor *up_to(pixl_ctx *c, pixl_tensor *x, const pixl_tensor *like)
{
    if (!x || !like) return NULL;
    return pixl_resize(c, x, (int)like->shape[2], (int)like->shape[3], PIXL_RESIZE_BILINEAR, 1, 0, 0);
}

pixl_tensor *pixl__model_gfrnet(pixl_ctx *c, pixl_tensor *x, const pixl_model_opts *o)
{
    const char *bb = o->backbone ? o->backbone : "vgg16_bn";
    if (strcmp(bb, "vgg16_bn") != 0 && strcmp(bb, "vgg16") != 0) {
        pixl__ctx_fail(c, PIXL_ERR_ARG, "model gfrnet: backbone '%s' (expected vgg16_bn or vgg16)", bb);
        return NULL;
    }
    if (o->output_stride && o->output_stride != 32) {
        pixl__ctx_fail(c, PIXL_ERR_ARG, "model gfrnet: output_stride %d (the VGG encoder runs at 32)", o->output_stride);
        return NULL;
    }
    if (x->shape[2] < 32 || x->shape[3] < 32) {
        pixl__ctx_fail(c, PIXL_ERR_SHAPE, "model gfrnet: input %s: height and width must be at least 32", pixl__tshape(x));
        return NULL;
    }
    int K = o->n_classes;
    pixl_backbone_taps taps;
    if (!pixl__backbone_build(c, bb, "backbone", x, 32, &taps)) return NULL;
    /* taps: the ReLU before each of the five pools and each pool, in order */
    if (taps.n != 10) {
        pixl__ctx_fail(c, PIXL_ERR_STATE, "model gfrnet: backbone %s gave %d taps, expected 10", bb, taps.n);
        return NULL;
    }
    pixl_tensor *pool5 = pixl_dropout(c, taps.t[9], 0.5f);
    pixl_tensor *h = conv3(c, "conv6", pool5, 1024);
    h = pixl_dropout(c, pixl_relu(c, pixl_nn_batch_norm2d(c, "conv6_bn", h, NULL)), 0.5f);
    h = conv3(c, "conv7", h, 1024);
    h = pixl_dropout(c, pixl_relu(c, pixl_nn_batch_norm2d(c, "conv7_bn", h, NULL)), 0.5f);
    pixl_tensor *pred = conv3(c, "pred_1", h, K);
    pixl_tensor *prev = conv3(c, "pool5_feature_s2", pool5, K);
    static const char *const lvl[5] = {"conv5_3", "conv4_3", "conv3_3", "conv2_2", "conv1_2"};
    for (int s = 2; s <= 6; s++) {
        if (o->aux && pred && pixl_ctx_add_aux(c, pred, 1.0f) != PIXL_OK) {
            pixl__ctx_fail(c, pixl_last_status(), "model gfrnet: %s", pixl_last_error());
            return NULL;
        }
        char fname[64], bname[64], gname[32];
        snprintf(fname, sizeof fname, "%s_feature_s%d", lvl[s - 2], s);
        snprintf(bname, sizeof bname, "%s_feature_s%d_bn", lvl[s - 2], s);
        snprintf(gname, sizeof gname, "gate_s%d_bn", s);
        pixl_tensor *fe = pixl_nn_batch_norm2d(c, bname, conv3(c, fname, taps.t[2 * (6 - s)], K), NULL);
        pixl_tensor *gate = pixl_nn_batch_norm2d(c, gname, pixl_mul(c, fe, up_to(c, prev, fe)), NULL);
        pixl_tensor *pu = up_to(c, pred, fe);
        pixl_tensor *parts[2] = {s == 5 ? pu : gate, s == 5 ? gate : pu};
        pred = conv3(c, s < 6 ? pixl__mname(c, NULL, "pred_%d", s) : "prediction", pixl_concat(c, 2, parts, 1), K);
        prev = fe;
    }
    return pred;
}
