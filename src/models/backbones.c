/* backbones.c — ImageNet encoders with torchvision's state_dict names
 * (vgg16, vgg16_bn, resnet18/34/50/101, mobilenet_v2; see models_impl.h),
 * and each of them as a plain zoo model: backbone + 1x1 "classifier" conv to
 * n_classes + bilinear upsampling (align_corners=False) to the input size.
 *
 * Dilation (output_stride 16 / 8), as torchvision's
 * replace_stride_with_dilation: a stage whose stride would take the network
 * past output_stride runs at stride 1; its first block keeps the previous
 * dilation and the others use dilation *= stride. For ResNets that is
 * torchvision exactly (layer4 for 16, layer3+layer4 for 8); BasicBlock
 * networks (resnet18/34), which torchvision refuses to dilate, use the
 * block's dilation in both 3x3 convs. MobileNetV2 follows the same rule per
 * inverted-residual stage on the depthwise convs (TF-slim's DeepLab
 * MobileNetV2). VGG runs at output stride 32 only. */
#include "models_impl.h"

static void tap_add(pixl_ctx *c, pixl_backbone_taps *t, const char *name, pixl_tensor *x, int stride)
{
    if (!t || !x) return;
    if (t->n >= PIXL_MAX_TAPS) {
        pixl__ctx_fail(c, PIXL_ERR_ARG, "backbone: more than %d taps", PIXL_MAX_TAPS);
        return;
    }
    t->t[t->n] = x;
    snprintf(t->name[t->n], sizeof t->name[0], "%s", name);
    t->stride[t->n] = stride;
    t->channels[t->n] = (int)x->shape[1];
    t->n++;
}

static pixl_tensor *conv_bn(pixl_ctx *c, const char *conv, const char *bn, pixl_tensor *x, int out, int k,
                            int stride, int dil, int groups)
{
    int pad = dil * (k - 1) / 2;
    pixl_conv2d_opts o = {.stride = {stride, stride}, .padding = {pad, pad}, .dilation = {dil, dil}, .groups = groups};
    return pixl_nn_batch_norm2d(c, bn, pixl_nn_conv2d(c, conv, x, out, k, k, &o, 0), NULL);
}

/* ------------------------------------------------------------------ VGG */
/* torchvision cfg "D": 13 convs (3x3, pad 1), a max-pool 2x2 after each group */
static const int vgg16_cfg[] = {64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0};

pixl_tensor *pixl__backbone_vgg16(pixl_ctx *c, const char *prefix, pixl_tensor *x, int bn, int first_pad, int ceil_mode,
                                 pixl_backbone_taps *taps)
{
    return pixl__backbone_vgg16_ex(c, prefix, x, bn, first_pad, ceil_mode, 0, taps);
}

pixl_tensor *pixl__backbone_vgg16_ex(pixl_ctx *c, const char *prefix, pixl_tensor *x, int bn, int first_pad,
                                    int ceil_mode, int pac, pixl_backbone_taps *taps)
{
    pixl_tensor *guide2 = NULL; /* PacFCN: conv2_2's ReLU output */
    if (taps) taps->n = 0;
    if (!c || !x) return NULL;
    int idx = 0, stride = 1, first = 1;
    pixl_tensor *h = x;
    for (size_t i = 0; i < sizeof vgg16_cfg / sizeof vgg16_cfg[0]; i++) {
        if (!h) return NULL;
        int ch = vgg16_cfg[i];
        if (ch == 0) {
            char nm[32];
            snprintf(nm, sizeof nm, "features.%d", idx - 1); /* the ReLU before the pool */
            tap_add(c, taps, nm, h, stride);
            h = pixl_max_pool2d(c, h, &(pixl_pool2d_opts){.kernel = {2, 2}, .ceil_mode = ceil_mode});
            stride *= 2;
            snprintf(nm, sizeof nm, "features.%d", idx);
            tap_add(c, taps, nm, h, stride);
            idx++;
            continue;
        }
        int pad = first ? first_pad : 1;
        first = 0;
        /* PacFCN: the last conv of stages 3, 4, 5 (the one before a pool) */
        int pac_here = pac && guide2 && i + 1 < sizeof vgg16_cfg / sizeof vgg16_cfg[0] && vgg16_cfg[i + 1] == 0;
        if (pac_here) {
            pixl_tensor *g = pixl_resize(c, guide2, (int)h->shape[2], (int)h->shape[3], PIXL_RESIZE_BILINEAR, 0, 0, 0);
            pixl_pac_opts po = {.kernel = {3, 3}, .padding = {1, 1}};
            h = pixl_nn_pacconv2d(c, pixl__mname(c, prefix, "features.%d", idx), h, pixl_scale(c, g, 1e-4f), NULL, ch, &po,
                                  1);
        } else {
            h = pixl_nn_conv2d(c, pixl__mname(c, prefix, "features.%d", idx), h, ch, 3, 3,
                               &(pixl_conv2d_opts){.padding = {pad, pad}}, 1);
        }
        if (bn) h = pixl_nn_batch_norm2d(c, pixl__mname(c, prefix, "features.%d", idx + 1), h, NULL);
        h = pixl_relu(c, h);
        if (pac && idx == 7 && !bn) guide2 = h; /* features.8: the ReLU of conv2_2 */
        idx += bn ? 3 : 2;
    }
    return h;
}

/* --------------------------------------------------------------- ResNet */
typedef struct {
    pixl_ctx *c;
    const char *prefix;
    int bottleneck;
    int inplanes, dilation;
} resnet_state;

static pixl_tensor *res_block(resnet_state *s, const char *blk, pixl_tensor *x, int planes, int stride, int dil,
                              int downsample)
{
    pixl_ctx *c = s->c;
    const char *p = pixl__mname(c, s->prefix, "%s", blk);
    char b[8][160];
    const char *leaf[8] = {"conv1", "bn1", "conv2", "bn2", "conv3", "bn3", "downsample.0", "downsample.1"};
    for (int i = 0; i < 8; i++) snprintf(b[i], sizeof b[i], "%s.%s", p, leaf[i]);
    int out = s->bottleneck ? planes * 4 : planes;
    pixl_tensor *h;
    if (s->bottleneck) {
        h = pixl_relu(c, conv_bn(c, b[0], b[1], x, planes, 1, 1, 1, 1));
        h = pixl_relu(c, conv_bn(c, b[2], b[3], h, planes, 3, stride, dil, 1));
        h = conv_bn(c, b[4], b[5], h, out, 1, 1, 1, 1);
    } else {
        h = pixl_relu(c, conv_bn(c, b[0], b[1], x, planes, 3, stride, dil, 1));
        h = conv_bn(c, b[2], b[3], h, planes, 3, 1, dil, 1);
    }
    pixl_tensor *id = downsample ? conv_bn(c, b[6], b[7], x, out, 1, stride, 1, 1) : x;
    return pixl_relu(c, pixl_add(c, h, id));
}

static pixl_tensor *res_layer(resnet_state *s, int li, pixl_tensor *x, int planes, int blocks, int stride, int dilate)
{
    int prev = s->dilation;
    if (dilate) {
        s->dilation *= stride;
        stride = 1;
    }
    int out = s->bottleneck ? planes * 4 : planes;
    char nm[32];
    snprintf(nm, sizeof nm, "layer%d.0", li);
    x = res_block(s, nm, x, planes, stride, prev, stride != 1 || s->inplanes != out);
    s->inplanes = out;
    for (int i = 1; i < blocks; i++) {
        snprintf(nm, sizeof nm, "layer%d.%d", li, i);
        x = res_block(s, nm, x, planes, 1, s->dilation, 0);
    }
    return x;
}

static pixl_tensor *resnet(pixl_ctx *c, const char *prefix, pixl_tensor *x, const int *blocks, int bottleneck, int os,
                           pixl_backbone_taps *taps)
{
    resnet_state s = {c, prefix, bottleneck, 64, 1};
    pixl_tensor *h = conv_bn(c, pixl__mname(c, prefix, "conv1"), pixl__mname(c, prefix, "bn1"), x, 64, 7, 2, 1, 1);
    /* conv_bn pads 3 for k 7: torchvision's conv1 (7x7, stride 2, pad 3) */
    h = pixl_relu(c, h);
    tap_add(c, taps, "relu", h, 2);
    h = pixl_max_pool2d(c, h, &(pixl_pool2d_opts){.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}});
    tap_add(c, taps, "maxpool", h, 4);
    int stride = 4;
    static const int planes[4] = {64, 128, 256, 512};
    for (int l = 0; l < 4; l++) {
        int st = l == 0 ? 1 : 2;
        /* dilate the stages that would exceed the output stride */
        int dilate = st == 2 && stride * 2 > os;
        h = res_layer(&s, l + 1, h, planes[l], blocks[l], st, dilate);
        if (st == 2 && !dilate) stride *= 2;
        char nm[32];
        snprintf(nm, sizeof nm, "layer%d", l + 1);
        tap_add(c, taps, nm, h, stride);
    }
    return h;
}

/* ---------------------------------------------------------- MobileNetV2 */
static pixl_tensor *inverted_residual(pixl_ctx *c, const char *prefix, int idx, pixl_tensor *x, int inp, int oup,
                                      int stride, int dil, int t, int residual)
{
    const char *p = pixl__mname(c, prefix, "features.%d.conv", idx);
    char a[160], b[160];
    int hidden = inp * t, k = 0;
    pixl_tensor *h = x;
    if (t != 1) {
        snprintf(a, sizeof a, "%s.0.0", p);
        snprintf(b, sizeof b, "%s.0.1", p);
        h = pixl_relu6(c, conv_bn(c, a, b, h, hidden, 1, 1, 1, 1));
        k = 1;
    }
    snprintf(a, sizeof a, "%s.%d.0", p, k);
    snprintf(b, sizeof b, "%s.%d.1", p, k);
    h = pixl_relu6(c, conv_bn(c, a, b, h, hidden, 3, stride, dil, hidden));
    snprintf(a, sizeof a, "%s.%d", p, k + 1);
    snprintf(b, sizeof b, "%s.%d", p, k + 2);
    h = conv_bn(c, a, b, h, oup, 1, 1, 1, 1);
    return residual ? pixl_add(c, x, h) : h;
}

static pixl_tensor *mobilenet_v2(pixl_ctx *c, const char *prefix, pixl_tensor *x, int os, int last_conv,
                                  pixl_backbone_taps *taps)
{
    static const int cfg[7][4] = {{1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 4, 2},
                                  {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
    pixl_tensor *h = pixl_relu6(c, conv_bn(c, pixl__mname(c, prefix, "features.0.0"), pixl__mname(c, prefix, "features.0.1"),
                                           x, 32, 3, 2, 1, 1));
    int inp = 32, idx = 1, cur = 2, rate = 1;
    for (int s = 0; s < 7; s++) {
        int t = cfg[s][0], ch = cfg[s][1], n = cfg[s][2], st = cfg[s][3];
        int first_stride, first_dil;
        if (st > 1 && cur >= os) { /* at the output stride: dilate instead */
            first_stride = 1;
            first_dil = rate;
            rate *= st;
        } else {
            first_stride = st;
            first_dil = rate;
            cur *= st;
        }
        for (int i = 0; i < n; i++) {
            int stride = i == 0 ? first_stride : 1, dil = i == 0 ? first_dil : rate;
            h = inverted_residual(c, prefix, idx, h, inp, ch, stride, dil, t, stride == 1 && inp == ch && i > 0);
            inp = ch;
            idx++;
        }
        char nm[32];
        snprintf(nm, sizeof nm, "features.%d", idx - 1);
        tap_add(c, taps, nm, h, cur);
    }
    if (!last_conv) return h; /* mobilenet_v2_320: DeepLab's encoder ends at the 320-channel features.17 */
    h = pixl_relu6(c, conv_bn(c, pixl__mname(c, prefix, "features.18.0"), pixl__mname(c, prefix, "features.18.1"), h, 1280, 1,
                              1, 1, 1));
    tap_add(c, taps, "features.18", h, cur);
    return h;
}

/* ------------------------------------------------------------ dispatch */
static const char *const known_backbones =
    "vgg16, vgg16_bn, resnet18, resnet34, resnet50, resnet101, mobilenet_v2, mobilenet_v2_320";

pixl_tensor *pixl__backbone_build(pixl_ctx *ctx, const char *name, const char *prefix, pixl_tensor *x,
                                  int output_stride, pixl_backbone_taps *taps)
{
    if (taps) taps->n = 0;
    if (!ctx || !x) return NULL;
    if (!name) name = "(null)";
    int os = output_stride ? output_stride : 32;
    if (os != 8 && os != 16 && os != 32) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "backbone %s: output_stride %d (expected 8, 16 or 32)", name, output_stride);
        return NULL;
    }
    if (x->ndim != 4 || x->dtype != PIXL_F32) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "backbone %s: input %s, expected float (N, C, H, W)", name, pixl__tshape(x));
        return NULL;
    }
    pixl_tensor *y = NULL;
    static const int r18[4] = {2, 2, 2, 2}, r34[4] = {3, 4, 6, 3}, r101[4] = {3, 4, 23, 3};
    if (!strcmp(name, "vgg16") || !strcmp(name, "vgg16_bn")) {
        if (os != 32) {
            pixl__ctx_fail(ctx, PIXL_ERR_UNSUPPORTED, "backbone %s: output_stride %d (VGG runs at 32 only)", name, os);
            return NULL;
        }
        y = pixl__backbone_vgg16(ctx, prefix, x, name[5] == '_', 1, 0, taps);
    } else if (!strcmp(name, "resnet18")) y = resnet(ctx, prefix, x, r18, 0, os, taps);
    else if (!strcmp(name, "resnet34")) y = resnet(ctx, prefix, x, r34, 0, os, taps);
    else if (!strcmp(name, "resnet50")) y = resnet(ctx, prefix, x, r34, 1, os, taps);
    else if (!strcmp(name, "resnet101")) y = resnet(ctx, prefix, x, r101, 1, os, taps);
    else if (!strcmp(name, "mobilenet_v2")) y = mobilenet_v2(ctx, prefix, x, os, 1, taps);
    else if (!strcmp(name, "mobilenet_v2_320")) y = mobilenet_v2(ctx, prefix, x, os, 0, taps);
    else {
        pixl__ctx_fail(ctx, PIXL_ERR_NOT_FOUND, "unknown backbone '%s' (known: %s)", name, known_backbones);
        return NULL;
    }
    if (!y) {
        if (!pixl_ctx_error(ctx))
            pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "backbone %s: cannot take input %s", name, pixl__tshape(x));
        return NULL;
    }
    return y;
}

pixl_tensor *pixl__backbone_tap(pixl_ctx *ctx, const pixl_backbone_taps *taps, const char *tap)
{
    if (!ctx || !taps || !tap) return NULL;
    for (int i = 0; i < taps->n; i++)
        if (!strcmp(taps->name[i], tap)) return taps->t[i];
    char known[512] = "";
    for (int i = 0; i < taps->n; i++)
        snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i ? ", " : "", taps->name[i]);
    pixl__ctx_fail(ctx, PIXL_ERR_NOT_FOUND, "backbone has no tap '%s' (taps: %s)", tap, known[0] ? known : "none");
    return NULL;
}

/* --------------------------------------------------------- zoo models */
static pixl_tensor *classify(pixl_ctx *c, const char *bb, pixl_tensor *x, const pixl_model_opts *o)
{
    pixl_tensor *h = pixl__backbone_build(c, bb, "backbone", x, o->output_stride, NULL);
    h = pixl_nn_conv2d(c, "classifier", h, o->n_classes, 1, 1, NULL, 1);
    if (!h) return NULL;
    return pixl_resize(c, h, (int)x->shape[2], (int)x->shape[3], PIXL_RESIZE_BILINEAR, 0, 0, 0);
}

#define BB_MODEL(fn, nm) \
    pixl_tensor *fn(pixl_ctx *c, pixl_tensor *x, const pixl_model_opts *o) { return classify(c, nm, x, o); }
BB_MODEL(pixl__model_vgg16, "vgg16")
BB_MODEL(pixl__model_vgg16_bn, "vgg16_bn")
BB_MODEL(pixl__model_resnet18, "resnet18")
BB_MODEL(pixl__model_resnet34, "resnet34")
BB_MODEL(pixl__model_resnet50, "resnet50")
BB_MODEL(pixl__model_resnet101, "resnet101")
BB_MODEL(pixl__model_mobilenet_v2, "mobilenet_v2")
