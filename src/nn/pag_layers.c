/* pag_layers.c — the layers of pixel-wise attentional gating (PAG, Kong &
 * Fowlkes 2019): the gate unit of a bottleneck, the gated 3x3 conv that the
 * gate switches per pixel, and MultiPool's per-pixel choice of a pooling
 * field. Built from existing ops (conv2d, batch_norm2d, avg_pool2d,
 * softmax, pixl_gumbel_softmax, pixl_mask_gating, slice, mul, add); the
 * contracts are in include/pixl.h.
 *
 * MODES. Parameters are created first, identically in every mode, so a
 * checkpoint trained in TRAIN runs in EVAL. Then:
 *   TRAIN      relaxed gates (softmax, or the Gumbel softmax with noise from
 *              the options or the ctx stream), dense branches, true
 *              gradients (the gated conv's gate gradient by its rule);
 *              with train_skip, hard straight-through Gumbel gates and the
 *              gated conv computed only at the active pixels
 *              (pixl_gated_conv3x3_train: BN statistics over those pixels,
 *              the gate gradient approximated at the others);
 *   EVAL_GRAD  the same dense computation with hard one-hot gates (no
 *              gradient into the gates) and BN on running statistics;
 *   EVAL       hard gates, and the 3x3 convs computed only at the pixels
 *              whose gate selects them (pixl_gated_conv3x3_ex).
 *
 * THE BLUR of the gate logits (the seed's GaussianBlurFlag) is a fixed conv
 * of ones/9 with padding 1 on each logit map: a 3x3 mean where zeros
 * outside the map count, i.e. avg_pool2d(3, stride 1, pad 1,
 * count_include_pad). */
#include <math.h>

#include "pixl_impl.h"

#define PAG_BN_EPS 1e-5f

static pixl_tensor *param(pixl_ctx *ctx, const char *layer, const char *leaf, pixl_param_kind kind, int ndim,
                          const int64_t *shape, pixl_init_spec init)
{
    return pixl__nn_param(ctx, layer, leaf, kind, PIXL_F32, ndim, shape, init, NULL);
}

/* "name.suffix", or "suffix" for the name "" */
static const char *sub(char *buf, size_t n, const char *name, const char *fmt, int k)
{
    char s[64];
    snprintf(s, sizeof s, fmt, k);
    if (name && name[0]) snprintf(buf, n, "%s.%s", name, s);
    else snprintf(buf, n, "%s", s);
    return buf;
}

static int check_map(pixl_ctx *ctx, const char *op, const char *name, const char *what, const pixl_tensor *x)
{
    if (x->dtype == PIXL_F32 && x->ndim == 4 && x->shape[1] > 0) return 0;
    pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "%s '%s': %s %s (%s) must be f32 (N, C, H, W)", op, name ? name : "", what,
                  pixl__tshape(x), pixl_dtype_name(x->dtype));
    return -1;
}

/* v (C) as (C, 1, 1): broadcast over (N, C, H, W) */
static pixl_tensor *per_channel(pixl_ctx *ctx, pixl_tensor *v)
{
    int64_t s[3] = {v->shape[0], 1, 1};
    return pixl_reshape(ctx, v, 3, s);
}

/* ============================================================ gate unit */

pixl_tensor *pixl_nn_gate(pixl_ctx *ctx, const char *name, pixl_tensor *x, const pixl_gate_opts *o)
{
    const char *op = "gate";
    if (!ctx || !x) return NULL;
    const pixl_gate_opts d = o ? *o : (pixl_gate_opts){0};
    if (check_map(ctx, op, name, "input", x)) return NULL;
    if (d.stride < 0) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "%s '%s': stride %d (>= 1, or 0 for 1)", op, name, d.stride);
        return NULL;
    }
    if (d.soft && d.train_skip) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG,
                      "%s '%s': train_skip needs hard straight-through Gumbel gates; it does not apply to softmax "
                      "gates (soft)",
                      op, name);
        return NULL;
    }
    const int s = d.stride > 0 ? d.stride : 1;
    const float t = d.t == 0 ? 1.0f : d.t;
    if (!(d.init_on >= 0 && d.init_on <= 20)) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "%s '%s': init_on %g (0 or a bias in (0, 20])", op, name, (double)d.init_on);
        return NULL;
    }
    const int64_t ws[4] = {2, x->shape[1], 1, 1}, bs[1] = {2};
    pixl_tensor *w = param(ctx, name, "weight", PIXL_PARAM, 4, ws,
                           (pixl_init_spec){PIXL_INIT_NORMAL, 0, d.init_on > 0 ? 0.01f : 1.0f});
    float *bias_new;
    pixl_tensor *b = pixl__nn_param(ctx, name, "bias", PIXL_PARAM, PIXL_F32, 1, bs,
                                   (pixl_init_spec){PIXL_INIT_ZEROS, 0, 0}, &bias_new);
    if (!w || !b) return NULL;
    if (bias_new && d.init_on > 0) bias_new[1] = d.init_on; /* channel 1 = compute: on from the start */
    pixl_tensor *logits = pixl_conv2d(ctx, x, w, b, &(pixl_conv2d_opts){.stride = {s, s}});
    if (d.blur)
        logits = pixl_avg_pool2d(ctx, logits,
                                 &(pixl_pool2d_opts){.kernel = {3, 3}, .stride = {1, 1}, .padding = {1, 1}});
    if (pixl_ctx_mode(ctx) != PIXL_MODE_TRAIN) /* the hard one-hot of the argmax; t plays no part */
        return pixl_gumbel_softmax(ctx, logits, NULL, d.soft ? 1.0f : t);
    if (d.soft) return pixl_softmax(ctx, logits);
    if (d.train_skip) return pixl_gumbel_softmax_st(ctx, logits, d.noise, t);
    return pixl_gumbel_softmax(ctx, logits, d.noise, t);
}

/* ====================================================== gated 3x3 conv */

pixl_tensor *pixl_nn_gated_conv3x3(pixl_ctx *ctx, const char *conv, const char *bn, pixl_tensor *h1, pixl_tensor *g,
                                   int dilation, pixl_gate_grad_rule rule)
{
    const char *op = "gated_conv3x3";
    if (!ctx || pixl__any_null(2, h1, g)) return NULL;
    if (check_map(ctx, op, conv, "h1", h1)) return NULL;
    if (dilation < 0 || (rule != PIXL_GATE_GRAD_TRUE && rule != PIXL_GATE_GRAD_CHANNEL_MEAN)) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "%s '%s': dilation %d (>= 1, or 0 for 1), gradient rule %d", op, conv,
                      dilation, (int)rule);
        return NULL;
    }
    const int dil = dilation > 0 ? dilation : 1, C = (int)h1->shape[1];
    pixl_tensor *w, *p[5];
    if (pixl__nn_conv2d_params(ctx, conv, C, C, 3, 3, 1, 0, &w, NULL) || pixl__nn_batch_norm2d_params(ctx, bn, C, p))
        return NULL;
    if (pixl_ctx_mode(ctx) == PIXL_MODE_EVAL) {
        const pixl_gated_conv_opts go = {.dilation = dil, .relu = 1, .bn_weight = p[0], .bn_bias = p[1],
                                         .bn_mean = p[2], .bn_var = p[3], .bn_eps = PAG_BN_EPS};
        return pixl_gated_conv3x3_ex(ctx, h1, g, 1, w, &go);
    }
    if (pixl_ctx_mode(ctx) == PIXL_MODE_TRAIN && pixl__is_st_gate(g)) /* train_skip: h2 at the active pixels only */
        return pixl_gated_conv3x3_train(ctx, h1, g, w, p[0], p[1], p[2], p[3], &(pixl_bn_opts){PAG_BN_EPS, 0.1f}, dil,
                                        rule);
    pixl_tensor *h2 =
        pixl_conv2d(ctx, h1, w, NULL, &(pixl_conv2d_opts){.padding = {dil, dil}, .dilation = {dil, dil}});
    h2 = pixl_relu(ctx, pixl_batch_norm2d(ctx, h2, p[0], p[1], p[2], p[3], p[4], &(pixl_bn_opts){PAG_BN_EPS, 0.1f}));
    return pixl_mask_gating(ctx, g, h1, h2, rule);
}

/* ============================================================= MultiPool */

/* conv (no bias unless bias) -> BN -> ReLU of the attention head */
static pixl_tensor *att_conv_bn_relu(pixl_ctx *ctx, const char *name, int conv_i, pixl_tensor *x, int out, int k)
{
    char cn[PIXL_NAME_LEN * 2], bn[PIXL_NAME_LEN * 2];
    sub(cn, sizeof cn, name, "att.%d", conv_i);
    sub(bn, sizeof bn, name, "att.%d", conv_i + 1);
    pixl_tensor *w, *p[5];
    if (pixl__nn_conv2d_params(ctx, cn, (int)x->shape[1], out, k, k, 1, 0, &w, NULL) ||
        pixl__nn_batch_norm2d_params(ctx, bn, out, p))
        return NULL;
    const int pad = k / 2;
    pixl_tensor *y = pixl_conv2d(ctx, x, w, NULL, &(pixl_conv2d_opts){.padding = {pad, pad}});
    return pixl_relu(ctx, pixl_batch_norm2d(ctx, y, p[0], p[1], p[2], p[3], p[4], &(pixl_bn_opts){PAG_BN_EPS, 0.1f}));
}

pixl_tensor *pixl_nn_multipool(pixl_ctx *ctx, const char *name, pixl_tensor *x, const pixl_multipool_opts *o,
                               pixl_tensor **attention)
{
    const char *op = "multipool";
    if (attention) *attention = NULL;
    if (!ctx || !x) return NULL;
    if (!o || o->n_scales < 1 || o->n_scales > PIXL_MULTIPOOL_MAX) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "%s '%s': n_scales %d (1..%d dilated branches)", op, name, o ? o->n_scales : 0,
                      PIXL_MULTIPOOL_MAX);
        return NULL;
    }
    if (check_map(ctx, op, name, "input", x)) return NULL;
    const int K = o->n_scales, C = (int)x->shape[1];
    for (int k = 0; k < K; k++)
        if (o->scales[k] < 1) {
            pixl__ctx_fail(ctx, PIXL_ERR_ARG, "%s '%s': scale %d of branch %d (dilations are >= 1)", op, name,
                          o->scales[k], k + 1);
            return NULL;
        }
    if (o->hidden[0] < 0 || o->hidden[1] < 0) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "%s '%s': attention widths %d, %d (>= 1, or 0 for 128, 32)", op, name,
                      o->hidden[0], o->hidden[1]);
        return NULL;
    }
    const int h0 = o->hidden[0] > 0 ? o->hidden[0] : 128, h1 = o->hidden[1] > 0 ? o->hidden[1] : 32;
    const float t = o->t == 0 ? 1.0f : o->t;
    const pixl_mode mode = pixl_ctx_mode(ctx);

    /* the dilated branches' parameters */
    pixl_tensor *bw[PIXL_MULTIPOOL_MAX], *bg[PIXL_MULTIPOOL_MAX], *bb[PIXL_MULTIPOOL_MAX];
    const int64_t ws[4] = {C, C, 3, 3}, cs[1] = {C};
    for (int k = 0; k < K; k++) {
        char ln[PIXL_NAME_LEN * 2];
        bw[k] = param(ctx, sub(ln, sizeof ln, name, "branch%d", k + 1), "weight", PIXL_PARAM, 4, ws,
                      (pixl_init_spec){PIXL_INIT_NORMAL, 0, (float)sqrt(2.0 / C)});
        sub(ln, sizeof ln, name, "branch%d.affine", k + 1);
        bg[k] = param(ctx, ln, "weight", PIXL_PARAM, 1, cs, (pixl_init_spec){PIXL_INIT_ONES, 0, 0});
        bb[k] = param(ctx, ln, "bias", PIXL_PARAM, 1, cs, (pixl_init_spec){PIXL_INIT_ZEROS, 0, 0});
        if (!bw[k] || !bg[k] || !bb[k]) return NULL;
    }

    /* the attention a (N, K+1, H, W) */
    pixl_tensor *z = att_conv_bn_relu(ctx, name, 0, x, h0, 1);
    z = z ? att_conv_bn_relu(ctx, name, 3, z, h1, 3) : NULL;
    if (!z) return NULL;
    char ln[PIXL_NAME_LEN * 2];
    pixl_tensor *aw, *ab;
    if (pixl__nn_conv2d_params(ctx, sub(ln, sizeof ln, name, "att.%d", 6), h1, K + 1, 1, 1, 1, 1, &aw, &ab))
        return NULL;
    pixl_tensor *a = pixl_gumbel_softmax(ctx, pixl_conv2d(ctx, z, aw, ab, NULL), mode == PIXL_MODE_TRAIN ? o->noise : NULL,
                                         t);
    if (!a) return NULL;
    if (attention) *attention = a;

    if (mode == PIXL_MODE_EVAL && !o->dense) { /* each branch only where it was chosen; elsewhere the previous result */
        pixl_tensor *y = NULL;
        for (int k = 0; k < K && (k == 0 || y); k++) {
            const pixl_gated_conv_opts go = {.dilation = o->scales[k], .relu = 1, .pass = y, .bn_weight = bg[k],
                                             .bn_bias = bb[k]};
            y = pixl_gated_conv3x3_ex(ctx, x, a, k + 1, bw[k], &go);
        }
        return y;
    }
    pixl_tensor *out = pixl_mul(ctx, pixl_slice(ctx, a, 1, 0, 1), x);
    for (int k = 0; k < K; k++) {
        const int d = o->scales[k];
        pixl_tensor *br =
            pixl_conv2d(ctx, x, bw[k], NULL, &(pixl_conv2d_opts){.padding = {d, d}, .dilation = {d, d}});
        br = pixl_relu(ctx, pixl_add(ctx, pixl_mul(ctx, br, per_channel(ctx, bg[k])), per_channel(ctx, bb[k])));
        out = pixl_add(ctx, out, pixl_mul(ctx, pixl_slice(ctx, a, 1, k + 1, k + 2), br));
    }
    return out;
}
