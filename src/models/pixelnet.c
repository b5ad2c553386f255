/* pixelnet.c — the PixelNet model (Bansal et al. 2017): a trunk from the
 * backbone registry (or the tiny test trunk below), taps read through an
 * optional BatchNorm side branch (PixelNet's lin_bn: affine=False, running
 * statistics), hypercolumns at sampled pixels, and an MLP head.
 *
 *   sampled (training):  trunk -> taps [-> BN] -> pixl_hypercolumn(pixels)
 *                        [-> Dropout] -> (Linear -> ReLU [-> Dropout])* -> Linear   => (P, K)
 *   dense (inference):   trunk -> taps [-> BN] -> pixl_hypercolumn_mlp_dense       => (N, K, H, W)
 *
 * Both build the same parameters in the same order (trunk, tap BN buffers,
 * head), so a model created through the zoo (dense) trains with the sampled
 * graph and vice versa. Head names follow a torch nn.Sequential in which
 * every module (Dropout, Linear, ReLU) takes an index: with hc_dropout 0,
 * mlp=512,512 and dropout 0.5 the linears are head.0, head.3 and head.6.
 * Initialisation is PyTorch's Linear default (Kaiming-uniform a=sqrt(5),
 * bias U(+-1/sqrt(fan_in))), not PixelNet's Gaussian(0.001). */
#include <math.h>

#include "models_impl.h"
#include "pixelnet_impl.h"

/* ----------------------------------------------------------------- trunk */
/* pixelnet_tiny: conv3x3(16w)-ReLU | pool | conv3x3(32w)-ReLU | pool |
 * conv3x3(64w)-ReLU, VGG's features.N numbering; taps after each ReLU. */
static pixl_tensor *tiny_trunk(pixl_ctx *c, pixl_tensor *x, float width, pixl_backbone_taps *t)
{
    static const int ch[3] = {16, 32, 64};
    pixl_tensor *h = x;
    int idx = 0;
    t->n = 0;
    for (int s = 0; s < 3; s++) {
        if (s) {
            h = pixl_max_pool2d(c, h, &(pixl_pool2d_opts){.kernel = {2, 2}});
            idx++;
        }
        int oc = (int)lrintf((float)ch[s] * width);
        h = pixl_nn_conv2d(c, pixl__mname(c, "backbone", "features.%d", idx), h, oc < 1 ? 1 : oc, 3, 3,
                           &(pixl_conv2d_opts){.padding = {1, 1}}, 1);
        h = pixl_relu(c, h);
        if (!h) return NULL;
        snprintf(t->name[t->n], sizeof t->name[0], "features.%d", idx + 1);
        t->t[t->n] = h;
        t->stride[t->n] = 1 << s;
        t->channels[t->n] = (int)h->shape[1];
        t->n++;
        idx += 2;
    }
    return h;
}

/* trunk + chosen taps (+ BN side branch): maps, strides, offsets; returns the count or -1 */
static int build_taps(pixl_ctx *ctx, pixl_tensor *x, const pixl_model_opts *o, const pixl_pn_head_opts *s,
                      pixl_tensor **maps, float *stride, float *offset)
{
    pixl_backbone_taps taps;
    memset(&taps, 0, sizeof taps);
    const char *bb = o->backbone ? o->backbone : "vgg16";
    pixl_tensor *top = !strcmp(bb, "pixelnet_tiny") ? tiny_trunk(ctx, x, o->width > 0 ? o->width : 1, &taps)
                                                   : pixl__backbone_build(ctx, bb, "backbone", x, o->output_stride, &taps);
    if (!top) {
        if (!pixl_ctx_error(ctx)) pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "pixelnet: backbone %s failed", bb);
        return -1;
    }
    int n = 0;
    if (s->n_taps) {
        for (int i = 0; i < s->n_taps; i++) {
            pixl_tensor *t = pixl__backbone_tap(ctx, &taps, s->taps[i]);
            if (!t) return -1;
            int k = 0;
            while (taps.t[k] != t) k++;
            maps[n] = t;
            stride[n++] = (float)taps.stride[k];
        }
    } else { /* default: the last tap of each stride */
        for (int i = 0; i < taps.n; i++) {
            if (i + 1 < taps.n && taps.stride[i + 1] == taps.stride[i]) continue;
            if (n == PIXL_HYPERCOLUMN_MAX_MAPS) {
                pixl__ctx_fail(ctx, PIXL_ERR_ARG, "pixelnet: backbone %s has more than %d strides; name the taps", bb,
                              PIXL_HYPERCOLUMN_MAX_MAPS);
                return -1;
            }
            maps[n] = taps.t[i];
            stride[n++] = (float)taps.stride[i];
        }
    }
    for (int i = 0; i < n; i++) {
        offset[i] = s->align == PIXL_PN_ALIGN_CORNER ? 0.0f : 0.5f * (stride[i] - 1);
        if (s->bn) {
            int64_t cs[1] = {maps[i]->shape[1]}, one[1] = {1};
            pixl_init_spec zero = {PIXL_INIT_ZEROS, 0, 0}, ones = {PIXL_INIT_ONES, 0, 0};
            const char *rm = pixl__mname(ctx, "tap_bn", "%d.running_mean", i), *rv = pixl__mname(ctx, "tap_bn", "%d.running_var", i),
                       *nb = pixl__mname(ctx, "tap_bn", "%d.num_batches_tracked", i);
            if (!ctx->P || pixl_params_add(ctx->P, rm, PIXL_BUFFER, PIXL_F32, 1, cs, zero) < 0 ||
                pixl_params_add(ctx->P, rv, PIXL_BUFFER, PIXL_F32, 1, cs, ones) < 0 ||
                pixl_params_add(ctx->P, nb, PIXL_BUFFER, PIXL_I64, 1, one, zero) < 0) {
                pixl__ctx_fail(ctx, PIXL_ERR_ARG, "pixelnet: tap BN %d: %s", i,
                              ctx->P ? pixl_last_error() : "the context has no parameters");
                return -1;
            }
            maps[i] = pixl_batch_norm2d(ctx, maps[i], NULL, NULL, pixl_param_ref(ctx, rm), pixl_param_ref(ctx, rv),
                                        pixl_param_ref(ctx, nb), NULL);
            if (!maps[i]) return -1;
        }
    }
    return n;
}

/* the head's parameters (created in order), and the Sequential index of each Linear */
static int head_params(pixl_ctx *ctx, const pixl_pn_head_opts *s, int64_t D, int K, pixl_tensor **W, pixl_tensor **B,
                       int *seq)
{
    int j = s->hc_dropout > 0 ? 1 : 0, L = s->n_mlp + 1;
    int64_t in = D;
    for (int l = 0; l < L; l++) {
        int64_t out = l < s->n_mlp ? s->mlp[l] : K;
        int64_t ws[2] = {out, in}, bs[1] = {out};
        const char *wn = pixl__mname(ctx, "head", "%d.weight", j), *bn = pixl__mname(ctx, "head", "%d.bias", j);
        if (!ctx->P ||
            pixl_params_add(ctx->P, wn, PIXL_PARAM, PIXL_F32, 2, ws,
                            (pixl_init_spec){PIXL_INIT_KAIMING_UNIFORM, 2.2360679775f, 0}) < 0 ||
            pixl_params_add(ctx->P, bn, PIXL_PARAM, PIXL_F32, 1, bs,
                            (pixl_init_spec){PIXL_INIT_FAN_IN_UNIFORM, (float)in, 0}) < 0) {
            pixl__ctx_fail(ctx, PIXL_ERR_ARG, "pixelnet: head layer %d: %s", j,
                          ctx->P ? pixl_last_error() : "the context has no parameters");
            return -1;
        }
        W[l] = pixl_param_ref(ctx, wn);
        B[l] = pixl_param_ref(ctx, bn);
        if (!W[l] || !B[l]) return -1;
        seq[l] = j;
        j += l < s->n_mlp ? (s->dropout > 0 ? 3 : 2) : 1;
        in = out;
    }
    return L;
}

/* the typed head when given, else the variant string parsed into one */
static int spec_of(pixl_ctx *ctx, const pixl_model_opts *o, pixl_pn_head_opts *s)
{
    if (o->head) {
        *s = *o->head;
        return 0;
    }
    if (pixl_pn_head_parse(o->variant, s)) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "%s", pixl_last_error());
        return -1;
    }
    return 0;
}

static int64_t width_of(pixl_tensor *const *maps, int n)
{
    int64_t D = 0;
    for (int i = 0; i < n; i++) D += maps[i]->shape[1];
    return D;
}

pixl_tensor *pixl_pixelnet_sampled(pixl_ctx *ctx, pixl_tensor *x, pixl_tensor *pixels, const pixl_model_opts *oin)
{
    if (!ctx || !x || !pixels) return NULL;
    pixl_model_opts o = oin ? *oin : (pixl_model_opts){0};
    if (o.n_classes <= 0) o.n_classes = 11;
    pixl_pn_head_opts s;
    if (spec_of(ctx, &o, &s)) return NULL;
    pixl_tensor *maps[PIXL_HYPERCOLUMN_MAX_MAPS];
    float stride[PIXL_HYPERCOLUMN_MAX_MAPS], offset[PIXL_HYPERCOLUMN_MAX_MAPS];
    int n = build_taps(ctx, x, &o, &s, maps, stride, offset);
    if (n < 0) return NULL;
    pixl_tensor *W[PIXL_PN_MAX_MLP + 1], *B[PIXL_PN_MAX_MLP + 1];
    int seq[PIXL_PN_MAX_MLP + 1];
    int L = head_params(ctx, &s, width_of(maps, n), o.n_classes, W, B, seq);
    if (L < 0) return NULL;
    pixl_tensor *h = pixl_hypercolumn(ctx, n, maps, stride, offset, pixels);
    if (s.hc_dropout > 0) h = pixl_dropout(ctx, h, s.hc_dropout);
    for (int l = 0; l < L; l++) {
        h = pixl_linear(ctx, h, W[l], B[l]);
        if (l + 1 < L) {
            h = pixl_relu(ctx, h);
            if (s.dropout > 0) h = pixl_dropout(ctx, h, s.dropout);
        }
    }
    return h;
}

pixl_tensor *pixl__model_pixelnet(pixl_ctx *ctx, pixl_tensor *x, const pixl_model_opts *o)
{
    if (!ctx || !x) return NULL;
    if (ctx->mode != PIXL_MODE_EVAL) {
        pixl__ctx_fail(ctx, PIXL_ERR_UNSUPPORTED,
                      "pixelnet: the dense graph is inference-only (PIXL_MODE_EVAL); training runs the head at "
                      "sampled pixels (pixl_pixelnet_sampled, training.sampling in pixl train)");
        return NULL;
    }
    pixl_pn_head_opts s;
    if (spec_of(ctx, o, &s)) return NULL;
    pixl_tensor *maps[PIXL_HYPERCOLUMN_MAX_MAPS];
    float stride[PIXL_HYPERCOLUMN_MAX_MAPS], offset[PIXL_HYPERCOLUMN_MAX_MAPS];
    int n = build_taps(ctx, x, o, &s, maps, stride, offset);
    if (n < 0) return NULL;
    pixl_tensor *W[PIXL_PN_MAX_MLP + 1], *B[PIXL_PN_MAX_MLP + 1];
    int seq[PIXL_PN_MAX_MLP + 1];
    int L = head_params(ctx, &s, width_of(maps, n), o->n_classes, W, B, seq);
    if (L < 0) return NULL;
    return pixl_hypercolumn_mlp_dense(ctx, n, maps, stride, offset, (int)x->shape[2], (int)x->shape[3], L, W, B,
                                      s.chunk);
}
