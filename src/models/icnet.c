/* icnet.c — ICNet (Zhao et al. 2018, "ICNet for Real-Time Semantic
 * Segmentation on High-Resolution Images") as pytorch-semseg's
 * ptsemseg/models/icnet.py builds it with is_batchnorm=True ("icnetBN"),
 * under its parameter names:
 *   sub2 (1/2 image, bilinear align_corners, size (H-1)//2+1): conv 3x3 s2
 *     32, 3x3 32, 3x3 64 (conv-BN-ReLU), max-pool 3 s2 p1, PSP bottleneck
 *     blocks res_block2 (3 x 128) and res_block3_conv (256, stride 2);
 *   sub4 (resize to (h-1)//2+1): res_block3_identity (3 blocks),
 *     res_block4 (6 x 512, dilation 2), res_block5 (3 x 1024, dilation 4),
 *     pyramid pooling by summation (avg-pool kernel = stride = int(h/b),
 *     int(w/b) for bins 6, 3, 2, 1, bilinear align_corners back, added to
 *     the input), conv5_4_k1 1x1 -> 256;
 *   sub1 (full image): three conv 3x3 s2 (32, 32, 64);
 *   cascade feature fusion cff_sub24(sub4, sub2), cff_sub12(., sub1): the
 *     low branch upsampled (align_corners) to the high branch's size, dilated
 *     3x3 conv-BN (low) + 1x1 conv-BN (high), sum, ReLU; its classifier on
 *     the upsampled low branch (low_classifier_conv) gives the auxiliary
 *     logits;
 *   x2 upsampling (size 2h-1), classification 1x1, bilinear align_corners
 *     resize to the input size.
 * With opts->aux the two CFF classifier outputs are registered with the
 * weights of pytorch-semseg's multi_scale_cross_entropy2d: 0.4 (sub24) and
 * 0.16 (sub4); the main output weighs 1.
 * Deviations from pytorch-semseg, all of which only matter where its code
 * cannot run: (1) its eval-mode pyramid pooling uses fixed kernels for
 * 1025x2049 inputs; pixl uses the training-mode rule int(h/b) at every size;
 * (2) it upsamples the low CFF branch to (h-1)*2+1 and the final logits to
 * (h-1)*4+1, which equal the high branch / input size only when
 * H = 32k+1 (e.g. 1025): pixl resizes to the actual sizes (identical at
 * those sizes, and 360x480 works); (3) the four 1x1 convolutions that its
 * pyramidPooling module creates but never calls for icnet are not created
 * (4 x 1024*256 weights + BN: the parameter count differs by exactly those
 * unused tensors; scripts/ref/make_zoo_plain_ref.py asserts it).
 * Smallest input: 161x161 (the 1/32 feature map must be at least 6x6 for
 * the 6-bin pooling). */
#include "models_impl.h"

/* conv-BN(-ReLU): names p.0 (conv, no bias), p.1 (BN) */
static pixl_tensor *cb(pixl_ctx *c, const char *p, pixl_tensor *x, int out, int k, int stride, int pad, int dil,
                       int relu)
{
    pixl_conv2d_opts o = {.stride = {stride, stride}, .padding = {pad, pad}, .dilation = {dil, dil}};
    char q[160];
    snprintf(q, sizeof q, "%s", p);
    x = pixl_nn_conv2d(c, pixl__mname(c, q, "0"), x, out, k, k, &o, 0);
    x = pixl_nn_batch_norm2d(c, pixl__mname(c, q, "1"), x, NULL);
    return relu ? pixl_relu(c, x) : x;
}

static pixl_tensor *cbr_named(pixl_ctx *c, const char *p, pixl_tensor *x, int out, int k, int stride, int pad,
                              int dil)
{
    return cb(c, pixl__mname(c, p, "cbr_unit"), x, out, k, stride, pad, dil, 1);
}

/* pytorch-semseg bottleNeckPSP (conv block, projection shortcut) */
static pixl_tensor *psp_conv_block(pixl_ctx *c, const char *p, pixl_tensor *x, int mid, int out, int stride, int dil)
{
    char q[160];
    snprintf(q, sizeof q, "%s", p);
    pixl_tensor *h = cbr_named(c, pixl__mname(c, q, "cbr1"), x, mid, 1, 1, 0, 1);
    h = cbr_named(c, pixl__mname(c, q, "cbr2"), h, mid, 3, stride, dil, dil);
    h = cb(c, pixl__mname(c, q, "cb3.cb_unit"), h, out, 1, 1, 0, 1, 0);
    pixl_tensor *r = cb(c, pixl__mname(c, q, "cb4.cb_unit"), x, out, 1, stride, 0, 1, 0);
    return pixl_relu(c, pixl_add(c, h, r));
}

/* bottleNeckIdentifyPSP */
static pixl_tensor *psp_identity_block(pixl_ctx *c, const char *p, pixl_tensor *x, int mid, int dil)
{
    if (!x) return NULL;
    char q[160];
    snprintf(q, sizeof q, "%s", p);
    pixl_tensor *h = cbr_named(c, pixl__mname(c, q, "cbr1"), x, mid, 1, 1, 0, 1);
    h = cbr_named(c, pixl__mname(c, q, "cbr2"), h, mid, 3, 1, dil, dil);
    h = cb(c, pixl__mname(c, q, "cb3.cb_unit"), h, (int)x->shape[1], 1, 1, 0, 1, 0);
    return pixl_relu(c, pixl_add(c, h, x));
}

typedef enum { RB_ALL, RB_CONV, RB_IDENTITY } rb_range;

/* residualBlockPSP: layers.0 = conv block, layers.1..n-1 identity blocks (dilation > 1 forces stride 1) */
static pixl_tensor *psp_res_block(pixl_ctx *c, const char *name, pixl_tensor *x, int n, int mid, int out, int stride,
                                  int dil, rb_range range)
{
    if (dil > 1) stride = 1;
    int li = 0;
    if (range != RB_IDENTITY) x = psp_conv_block(c, pixl__mname(c, name, "layers.%d", li++), x, mid, out, stride, dil);
    if (range != RB_CONV)
        for (int i = 0; i < n - 1; i++) x = psp_identity_block(c, pixl__mname(c, name, "layers.%d", li++), x, mid, dil);
    return x;
}

static pixl_tensor *resize_ac(pixl_ctx *c, pixl_tensor *x, int64_t h, int64_t w)
{
    if (!x) return NULL;
    if (x->shape[2] == h && x->shape[3] == w) return x;
    return pixl_resize(c, x, (int)h, (int)w, PIXL_RESIZE_BILINEAR, 1, 0, 0);
}

static pixl_tensor *pyramid_sum(pixl_ctx *c, pixl_tensor *x)
{
    if (!x) return NULL;
    static const int bins[4] = {6, 3, 2, 1};
    int h = (int)x->shape[2], w = (int)x->shape[3];
    pixl_tensor *sum = x;
    for (int i = 0; i < 4; i++) {
        int kh = h / bins[i], kw = w / bins[i];
        pixl_pool2d_opts po = {.kernel = {kh, kw}, .stride = {kh, kw}};
        pixl_tensor *p = pixl_avg_pool2d(c, x, &po);
        sum = pixl_add(c, sum, resize_ac(c, p, h, w));
    }
    return sum;
}

/* the parameters of a 1x1 conv with bias that only training graphs use (as PyTorch creates them) */
static int train_only_conv_params(pixl_ctx *c, const char *name, int in, int out)
{
    char w[160], b[160];
    snprintf(w, sizeof w, "%s.weight", name);
    snprintf(b, sizeof b, "%s.bias", name);
    int64_t ws[4] = {out, in, 1, 1}, bs[1] = {out};
    if (!c->P) {
        pixl__ctx_fail(c, PIXL_ERR_STATE, "layer '%s': the context has no pixl_params", name);
        return -1;
    }
    if (pixl_params_add(c->P, w, PIXL_PARAM, PIXL_F32, 4, ws, (pixl_init_spec){PIXL_INIT_KAIMING_UNIFORM, 2.2360679775f, 0}) < 0 ||
        pixl_params_add(c->P, b, PIXL_PARAM, PIXL_F32, 1, bs, (pixl_init_spec){PIXL_INIT_FAN_IN_UNIFORM, (float)in, 0}) < 0) {
        pixl__ctx_fail(c, pixl_last_status(), "%s", pixl_last_error());
        return -1;
    }
    return 0;
}

/* cascadeFeatureFusion; *cls gets the auxiliary logits when aux */
static pixl_tensor *cff(pixl_ctx *c, const char *name, pixl_tensor *low, pixl_tensor *high, int n_classes, int out,
                        int aux, pixl_tensor **cls)
{
    if (!low || !high) return NULL;
    char q[64];
    snprintf(q, sizeof q, "%s", name);
    pixl_tensor *up = resize_ac(c, low, high->shape[2], high->shape[3]);
    int low_ch = (int)low->shape[1];
    if (aux) *cls = pixl_nn_conv2d(c, pixl__mname(c, q, "low_classifier_conv"), up, n_classes, 1, 1, NULL, 1);
    else if (train_only_conv_params(c, pixl__mname(c, q, "low_classifier_conv"), low_ch, n_classes)) return NULL;
    pixl_tensor *lf = cb(c, pixl__mname(c, q, "low_dilated_conv_bn.cb_unit"), up, out, 3, 1, 2, 2, 0);
    pixl_tensor *hf = cb(c, pixl__mname(c, q, "high_proj_conv_bn.cb_unit"), high, out, 1, 1, 0, 1, 0);
    return pixl_relu(c, pixl_add(c, lf, hf));
}

pixl_tensor *pixl__model_icnet(pixl_ctx *c, pixl_tensor *x, const pixl_model_opts *o)
{
    int64_t H = x->shape[2], W = x->shape[3];
    /* the 1/32 map: ((H-1)//2 + 1) -> three more halvings (stride-2 convs/pool) -> (h-1)//2 + 1 */
    int64_t h = (H - 1) / 2 + 1, w = (W - 1) / 2 + 1;
    for (int i = 0; i < 3; i++) {
        h = (h - 1) / 2 + 1;
        w = (w - 1) / 2 + 1;
    }
    h = (h - 1) / 2 + 1;
    w = (w - 1) / 2 + 1;
    if (h < 6 || w < 6) {
        pixl__ctx_fail(c, PIXL_ERR_SHAPE,
                      "model icnet: input %s is too small: the 1/32 feature map is %lldx%lld, the 6-bin pyramid "
                      "pooling needs at least 6x6 (input at least 161x161)",
                      pixl__tshape(x), (long long)h, (long long)w);
        return NULL;
    }
    pixl_tensor *s2 = resize_ac(c, x, (H - 1) / 2 + 1, (W - 1) / 2 + 1);
    s2 = cbr_named(c, "convbnrelu1_1", s2, 32, 3, 2, 1, 1);
    s2 = cbr_named(c, "convbnrelu1_2", s2, 32, 3, 1, 1, 1);
    s2 = cbr_named(c, "convbnrelu1_3", s2, 64, 3, 1, 1, 1);
    s2 = pixl_max_pool2d(c, s2, &(pixl_pool2d_opts){.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}});
    s2 = psp_res_block(c, "res_block2", s2, 3, 32, 128, 1, 1, RB_ALL);
    s2 = psp_res_block(c, "res_block3_conv", s2, 4, 64, 256, 2, 1, RB_CONV);
    if (!s2) return NULL;
    pixl_tensor *s4 = resize_ac(c, s2, (s2->shape[2] - 1) / 2 + 1, (s2->shape[3] - 1) / 2 + 1);
    s4 = psp_res_block(c, "res_block3_identity", s4, 4, 64, 256, 2, 1, RB_IDENTITY);
    s4 = psp_res_block(c, "res_block4", s4, 6, 128, 512, 1, 2, RB_ALL);
    s4 = psp_res_block(c, "res_block5", s4, 3, 256, 1024, 1, 4, RB_ALL);
    s4 = pyramid_sum(c, s4);
    s4 = cbr_named(c, "conv5_4_k1", s4, 256, 1, 1, 0, 1);

    pixl_tensor *s1 = cbr_named(c, "convbnrelu1_sub1", x, 32, 3, 2, 1, 1);
    s1 = cbr_named(c, "convbnrelu2_sub1", s1, 32, 3, 2, 1, 1);
    s1 = cbr_named(c, "convbnrelu3_sub1", s1, 64, 3, 2, 1, 1);

    pixl_tensor *cls4 = NULL, *cls24 = NULL;
    pixl_tensor *s24 = cff(c, "cff_sub24", s4, s2, o->n_classes, 128, o->aux, &cls4);
    pixl_tensor *s12 = cff(c, "cff_sub12", s24, s1, o->n_classes, 128, o->aux, &cls24);
    if (!s12) return NULL;
    s12 = resize_ac(c, s12, 2 * s12->shape[2] - 1, 2 * s12->shape[3] - 1);
    pixl_tensor *y = pixl_nn_conv2d(c, "classification", s12, o->n_classes, 1, 1, NULL, 1);
    y = resize_ac(c, y, H, W);
    if (y && o->aux) {
        if (!cls24 || !cls4 || pixl_ctx_add_aux(c, cls24, 0.4f) || pixl_ctx_add_aux(c, cls4, 0.16f)) return NULL;
    }
    return y;
}
