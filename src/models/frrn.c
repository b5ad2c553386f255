/* frrn.c — Full-Resolution Residual Networks (Pohlen et al. 2017) as
 * pytorch-semseg's ptsemseg/models/frrn.py builds them (BatchNorm form),
 * under its parameter names:
 *   conv1: conv 5x5 (with bias) 48 -BN-ReLU; 3 residual units (RU: conv3x3
 *   -BN-ReLU-conv3x3-BN + identity, no final ReLU);
 *   split: the pooling stream y (48 ch) and the residual stream z = 1x1
 *   conv -> 32 channels at full resolution;
 *   encoder stages (blocks, channels, scale): frrn_a (3,96,2) (4,192,4)
 *   (2,384,8) (2,384,16); frrn_b adds (2,384,32). Each stage max-pools y by
 *   2, then every FRRU of the stage takes that pooled y (pytorch-semseg
 *   passes the same y_pooled to each block of a stage; only z chains):
 *   FRRU(y, z): [y, maxpool_scale(z)] -> conv3x3-BN-ReLU x2 = y';
 *   z' = z + nearest-upsample_scale(conv1x1(y') -> 32, with bias);
 *   decoder stages frrn_a (2,192,8) (2,192,4) (2,48,2), frrn_b (2,192,16)
 *   (2,192,8) (2,192,4) (2,48,2): y upsampled x2 (bilinear, align_corners)
 *   and the same FRRUs;
 *   merge: [upsample_x2(y) (bilinear, align_corners), z] -> 1x1 conv 48,
 *   3 RUs, 1x1 classifier (bias).
 * Variant "gn": GroupNorm (16 groups) in place of every BatchNorm, as
 * pytorch-semseg's frrn(group_norm=True) (names cgr_unit / cg_unit).
 * The residual stream needs H and W divisible by the largest scale (16 for
 * frrn_a, 32 for frrn_b); other sizes (CamVid's 360 rows) are zero-padded
 * on the bottom/right up to the next multiple and the logits cropped back.
 * Names: conv1.cbr_unit.{0,1}, up_residual_units.i.conv1.cbr_unit /
 * .conv2.cb_unit, split_conv, encoding_frru_<n>_<ch>_<scale>_<block>.{conv1.
 * cbr_unit, conv2.cbr_unit, conv_res}, decoding_frru_..., merge_conv,
 * down_residual_units.i, classif_conv. */
#include "models_impl.h"

typedef struct { int n, ch, scale; } frru_spec;

static const frru_spec enc_a[] = {{3, 96, 2}, {4, 192, 4}, {2, 384, 8}, {2, 384, 16}};
static const frru_spec dec_a[] = {{2, 192, 8}, {2, 192, 4}, {2, 48, 2}};
static const frru_spec enc_b[] = {{3, 96, 2}, {4, 192, 4}, {2, 384, 8}, {2, 384, 16}, {2, 384, 32}};
static const frru_spec dec_b[] = {{2, 192, 16}, {2, 192, 8}, {2, 192, 4}, {2, 48, 2}};

/* conv-norm(-ReLU) under p.<unit>.0 / .1: BatchNorm (cbr_unit / cb_unit) or, with
 * gn, GroupNorm with 16 groups (cgr_unit / cg_unit) as pytorch-semseg's group_norm */
static pixl_tensor *cbn(pixl_ctx *c, const char *p, pixl_tensor *x, int out, int k, int bias, int relu, int gn)
{
    char q[160];
    snprintf(q, sizeof q, "%s.%s", p, gn ? (relu ? "cgr_unit" : "cg_unit") : (relu ? "cbr_unit" : "cb_unit"));
    pixl_conv2d_opts o = {.padding = {k / 2, k / 2}};
    x = pixl_nn_conv2d(c, pixl__mname(c, q, "0"), x, out, k, k, &o, bias);
    x = gn ? pixl_nn_group_norm(c, pixl__mname(c, q, "1"), x, 16, 1e-5f) : pixl_nn_batch_norm2d(c, pixl__mname(c, q, "1"), x, NULL);
    return relu ? pixl_relu(c, x) : x;
}

static pixl_tensor *residual_unit(pixl_ctx *c, const char *p, pixl_tensor *x, int gn)
{
    if (!x) return NULL;
    char q[160];
    snprintf(q, sizeof q, "%s", p);
    int ch = (int)x->shape[1];
    pixl_tensor *h = cbn(c, pixl__mname(c, q, "conv1"), x, ch, 3, 0, 1, gn);
    h = cbn(c, pixl__mname(c, q, "conv2"), h, ch, 3, 0, 0, gn);
    return pixl_add(c, h, x);
}

/* one FRRU; returns y', updates *z */
static pixl_tensor *frru(pixl_ctx *c, const char *p, pixl_tensor *y, pixl_tensor **z, int out, int scale, int gn)
{
    if (!y || !*z) return NULL;
    char q[160];
    snprintf(q, sizeof q, "%s", p);
    pixl_tensor *zp = pixl_max_pool2d(c, *z, &(pixl_pool2d_opts){.kernel = {scale, scale}});
    pixl_tensor *parts[2] = {y, zp};
    pixl_tensor *h = cbn(c, pixl__mname(c, q, "conv1"), pixl_concat(c, 2, parts, 1), out, 3, 0, 1, gn);
    h = cbn(c, pixl__mname(c, q, "conv2"), h, out, 3, 0, 1, gn);
    pixl_tensor *r = pixl_nn_conv2d(c, pixl__mname(c, q, "conv_res"), h, 32, 1, 1, NULL, 1);
    if (!r) return NULL;
    r = pixl_resize(c, r, (int)r->shape[2] * scale, (int)r->shape[3] * scale, PIXL_RESIZE_NEAREST, 0, 0, 0);
    *z = pixl_add(c, *z, r);
    return h;
}

static pixl_tensor *up2(pixl_ctx *c, pixl_tensor *y)
{
    if (!y) return NULL;
    return pixl_resize(c, y, (int)y->shape[2] * 2, (int)y->shape[3] * 2, PIXL_RESIZE_BILINEAR, 1, 0, 0);
}

static pixl_tensor *frrn(pixl_ctx *c, pixl_tensor *x, const pixl_model_opts *o, const frru_spec *enc, int n_enc,
                         const frru_spec *dec, int n_dec, int multiple, const char *arch)
{
    int gn = o->variant && !strcmp(o->variant, "gn");
    if (o->variant && !gn) {
        pixl__ctx_fail(c, PIXL_ERR_ARG, "model %s: unknown variant '%s' (known: gn)", arch, o->variant);
        return NULL;
    }
    int H = (int)x->shape[2], W = (int)x->shape[3];
    int PH = (H + multiple - 1) / multiple * multiple, PW = (W + multiple - 1) / multiple * multiple;
    if (PH != H || PW != W) x = pixl_pad2d(c, x, (int[4]){0, PW - W, 0, PH - H}, PIXL_PAD_ZERO, 0);
    pixl_tensor *h = cbn(c, "conv1", x, 48, 5, 1, 1, gn);
    for (int i = 0; i < 3; i++) h = residual_unit(c, pixl__mname(c, "up_residual_units", "%d", i), h, gn);
    pixl_tensor *y = h, *z = pixl_nn_conv2d(c, "split_conv", h, 32, 1, 1, NULL, 0);
    for (int s = 0; s < n_enc; s++) {
        pixl_tensor *yp = pixl_max_pool2d(c, y, &(pixl_pool2d_opts){.kernel = {2, 2}});
        for (int b = 0; b < enc[s].n; b++)
            y = frru(c, pixl__mname(c, "", "encoding_frru_%d_%d_%d_%d", enc[s].n, enc[s].ch, enc[s].scale, b), yp, &z,
                     enc[s].ch, enc[s].scale, gn);
    }
    for (int s = 0; s < n_dec; s++) {
        pixl_tensor *yu = up2(c, y);
        for (int b = 0; b < dec[s].n; b++)
            y = frru(c, pixl__mname(c, "", "decoding_frru_%d_%d_%d_%d", dec[s].n, dec[s].ch, dec[s].scale, b), yu, &z,
                     dec[s].ch, dec[s].scale, gn);
    }
    pixl_tensor *parts[2] = {up2(c, y), z};
    h = pixl_nn_conv2d(c, "merge_conv", pixl_concat(c, 2, parts, 1), 48, 1, 1, NULL, 0);
    for (int i = 0; i < 3; i++) h = residual_unit(c, pixl__mname(c, "down_residual_units", "%d", i), h, gn);
    h = pixl_nn_conv2d(c, "classif_conv", h, o->n_classes, 1, 1, NULL, 1);
    return PH != H || PW != W ? pixl_crop2d(c, h, 0, 0, H, W) : h;
}

pixl_tensor *pixl__model_frrn_a(pixl_ctx *c, pixl_tensor *x, const pixl_model_opts *o)
{
    return frrn(c, x, o, enc_a, 4, dec_a, 3, 16, "frrn_a");
}

pixl_tensor *pixl__model_frrn_b(pixl_ctx *c, pixl_tensor *x, const pixl_model_opts *o)
{
    return frrn(c, x, o, enc_b, 5, dec_b, 4, 32, "frrn_b");
}
