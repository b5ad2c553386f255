/* fcn.c — FCN-32s / FCN-16s / FCN-8s (Long, Shelhamer, Darrell 2015) on
 * VGG-16, with learnable upsampling (ConvTranspose2d, no bias, initialised
 * bilinear on the class diagonal) and zero-initialised pool scores.
 *
 * Names: the VGG-16 convs under "backbone.features.N" (torchvision, so
 * ImageNet weights load with tools/convert_pth.py --prefix backbone.), then as
 * pytorch-semseg's fcn8s: classifier.0 (fc6, 7x7 conv 4096), classifier.3
 * (fc7, 1x1 4096), classifier.6 (score), score_pool4, score_pool3,
 * upscore2 (x2, 4x4), upscore4 (pool4 -> pool3 x2, 4x4; FCN-8s),
 * upscore8 (x8, 16x16; FCN-8s), upscore16 (x16, 32x32; FCN-16s),
 * upscore (x32, 64x64; FCN-32s). Dropout2d(0.5) after fc6 and fc7.
 *
 * variant "pad100": the original form (pytorch-semseg, Long et al.): conv1_1
 * padded by 100, max-pools with ceil_mode, fc6 unpadded, score maps cropped
 * at the Caffe offsets (pool4 5, pool3 9; output 31 / 27 / 19 for 8s / 16s /
 * 32s). Any input size. Parameter count = pytorch-semseg fcn8s(learned_billinear=True).
 * variant NULL / "same": same padding everywhere (conv1_1 pad 1, fc6 pad 3),
 * ceil_mode pools, upsampling with padding s/2 (output exactly s times the
 * input), each upsampled map cropped to the size of the map it is added to
 * (top-left, nothing when the input is a multiple of 32). Any size >= 32.
 *
 * fcn8spac: pacnet's PacFCN (FCN8sPac): the same-padding FCN-8s with
 * conv3_3/conv4_3/conv5_3 as PacConv2d guided by conv2_2's ReLU output
 * (resized to each layer's input, x 1e-4, so the net starts equal to FCN-8s;
 * same names and shapes, so fcn8s checkpoints load) and a plain bilinear x8
 * output upsampling (upscore8 exists, unused, as in pacnet). */
#include "models_impl.h"

static pixl_tensor *upscore(pixl_ctx *c, const char *name, pixl_tensor *x, int k, int s, int pad)
{
    if (!x) return NULL;
    int K = (int)x->shape[1];
    int64_t ws[4] = {K, K, k, k};
    char wn[PIXL_NAME_LEN];
    snprintf(wn, sizeof wn, "%s.weight", name);
    if (!c->P) {
        pixl__ctx_fail(c, PIXL_ERR_STATE, "fcn: the context has no pixl_params");
        return NULL;
    }
    if (pixl_params_add(c->P, wn, PIXL_PARAM, PIXL_F32, 4, ws, (pixl_init_spec){PIXL_INIT_BILINEAR, 0, 0}) < 0) {
        pixl__ctx_fail(c, pixl_last_status(), "%s", pixl_last_error());
        return NULL;
    }
    return pixl_conv_transpose2d(c, x, pixl_param_ref(c, wn), NULL,
                                 &(pixl_conv2d_opts){.stride = {s, s}, .padding = {pad, pad}});
}

/* 1x1 score conv with zero-initialised weight and bias (FCN's skip scores) */
static pixl_tensor *score_zero(pixl_ctx *c, const char *name, pixl_tensor *x, int K)
{
    if (!x) return NULL;
    char wn[PIXL_NAME_LEN], bn[PIXL_NAME_LEN];
    snprintf(wn, sizeof wn, "%s.weight", name);
    snprintf(bn, sizeof bn, "%s.bias", name);
    int64_t ws[4] = {K, x->shape[1], 1, 1}, bs[1] = {K};
    if (c->P && (pixl_params_add(c->P, wn, PIXL_PARAM, PIXL_F32, 4, ws, (pixl_init_spec){PIXL_INIT_ZEROS, 0, 0}) < 0 ||
                 pixl_params_add(c->P, bn, PIXL_PARAM, PIXL_F32, 1, bs, (pixl_init_spec){PIXL_INIT_ZEROS, 0, 0}) < 0)) {
        pixl__ctx_fail(c, pixl_last_status(), "%s", pixl_last_error());
        return NULL;
    }
    return pixl_nn_conv2d(c, name, x, K, 1, 1, NULL, 1);
}

/* x cropped to h x w starting at (off, off) */
static pixl_tensor *crop(pixl_ctx *c, const char *what, pixl_tensor *x, int off, int64_t h, int64_t w)
{
    if (!x) return NULL;
    if (x->shape[2] < off + h || x->shape[3] < off + w) {
        pixl__ctx_fail(c, PIXL_ERR_SHAPE, "%s: map %s is too small to crop %lldx%lld at offset %d", what,
                      pixl__tshape(x), (long long)h, (long long)w, off);
        return NULL;
    }
    if (off == 0 && x->shape[2] == h && x->shape[3] == w) return x;
    return pixl_crop2d(c, x, off, off, (int)h, (int)w);
}

static pixl_tensor *fcn(pixl_ctx *c, pixl_tensor *x, const pixl_model_opts *o, int kind /* 32, 16, 8 */, int pac)
{
    int pad100 = 0;
    if (o->variant && !strcmp(o->variant, "pad100")) pad100 = 1;
    else if (o->variant && o->variant[0] && strcmp(o->variant, "same")) {
        pixl__ctx_fail(c, PIXL_ERR_ARG, "model fcn%ds: unknown variant '%s' (known: same, pad100)", kind, o->variant);
        return NULL;
    }
    if (!pad100 && (x->shape[2] < 32 || x->shape[3] < 32)) {
        pixl__ctx_fail(c, PIXL_ERR_SHAPE, "model fcn%ds: input %s: height and width must be at least 32", kind,
                      pixl__tshape(x));
        return NULL;
    }
    const char *name = kind == 32 ? "fcn32s" : kind == 16 ? "fcn16s" : pac ? "fcn8spac" : "fcn8s";
    if (pac && pad100) {
        pixl__ctx_fail(c, PIXL_ERR_ARG, "model fcn8spac: the PacFCN has same padding only (no variant pad100)");
        return NULL;
    }
    int K = o->n_classes;
    pixl_backbone_taps taps;
    pixl_tensor *h = pixl__backbone_vgg16_ex(c, "backbone", x, 0, pad100 ? 100 : 1, 1, pac, &taps);
    if (!h) return NULL;
    pixl_tensor *pool3 = pixl__backbone_tap(c, &taps, "features.16"), *pool4 = pixl__backbone_tap(c, &taps, "features.23");
    int p6 = pad100 ? 0 : 3;
    if (h->shape[2] + 2 * p6 < 7 || h->shape[3] + 2 * p6 < 7) {
        pixl__ctx_fail(c, PIXL_ERR_SHAPE, "model %s: input %s is too small (pool5 %s under the 7x7 fc6)", name,
                      pixl__tshape(x), pixl__tshape(h));
        return NULL;
    }
    h = pixl_relu(c, pixl_nn_conv2d(c, "classifier.0", h, 4096, 7, 7, &(pixl_conv2d_opts){.padding = {p6, p6}}, 1));
    h = pixl_dropout2d(c, h, 0.5f);
    h = pixl_relu(c, pixl_nn_conv2d(c, "classifier.3", h, 4096, 1, 1, NULL, 1));
    h = pixl_dropout2d(c, h, 0.5f);
    h = pixl_nn_conv2d(c, "classifier.6", h, K, 1, 1, NULL, 1);
    int64_t H = x->shape[2], W = x->shape[3];
    if (kind == 32) {
        h = upscore(c, "upscore", h, 64, 32, pad100 ? 0 : 16);
        return crop(c, name, h, pad100 ? 19 : 0, H, W);
    }
    h = upscore(c, "upscore2", h, 4, 2, pad100 ? 0 : 1);
    pixl_tensor *s4 = score_zero(c, "score_pool4", pool4, K);
    if (!h || !s4) return NULL;
    if (pad100) s4 = crop(c, name, s4, 5, h->shape[2], h->shape[3]);
    else h = crop(c, name, h, 0, s4->shape[2], s4->shape[3]);
    h = pixl_add(c, h, s4);
    if (kind == 16) {
        h = upscore(c, "upscore16", h, 32, 16, pad100 ? 0 : 8);
        return crop(c, name, h, pad100 ? 27 : 0, H, W);
    }
    h = upscore(c, "upscore4", h, 4, 2, pad100 ? 0 : 1);
    pixl_tensor *s3 = score_zero(c, "score_pool3", pool3, K);
    if (!h || !s3) return NULL;
    if (pad100) s3 = crop(c, name, s3, 9, h->shape[2], h->shape[3]);
    else h = crop(c, name, h, 0, s3->shape[2], s3->shape[3]);
    h = pixl_add(c, h, s3);
    if (pac) { /* pacnet's FCN8sPac: plain bilinear x8; its upscore8 exists but is never used */
        int64_t ws[4] = {K, K, 16, 16};
        if (pixl_params_add(c->P, "upscore8.weight", PIXL_PARAM, PIXL_F32, 4, ws,
                            (pixl_init_spec){PIXL_INIT_BILINEAR, 0, 0}) < 0) {
            pixl__ctx_fail(c, pixl_last_status(), "%s", pixl_last_error());
            return NULL;
        }
        h = pixl_resize(c, h, 8 * (int)h->shape[2], 8 * (int)h->shape[3], PIXL_RESIZE_BILINEAR, 0, 8, 8);
        return crop(c, name, h, 0, H, W);
    }
    h = upscore(c, "upscore8", h, 16, 8, pad100 ? 0 : 4);
    return crop(c, name, h, pad100 ? 31 : 0, H, W);
}

pixl_tensor *pixl__model_fcn32s(pixl_ctx *c, pixl_tensor *x, const pixl_model_opts *o) { return fcn(c, x, o, 32, 0); }
pixl_tensor *pixl__model_fcn16s(pixl_ctx *c, pixl_tensor *x, const pixl_model_opts *o) { return fcn(c, x, o, 16, 0); }
pixl_tensor *pixl__model_fcn8s(pixl_ctx *c, pixl_tensor *x, const pixl_model_opts *o) { return fcn(c, x, o, 8, 0); }
pixl_tensor *pixl__model_fcn8spac(pixl_ctx *c, pixl_tensor *x, const pixl_model_opts *o) { return fcn(c, x, o, 8, 1); }
