/* layers.c — layers with parameters: create (or reuse) parameters under a
 * PyTorch-style name with PyTorch's default initialisation, then apply the
 * op. The name "" gives unprefixed names ("weight", "bias"). */
#include "pixl_impl.h"

static void pname(char *buf, size_t len, const char *layer, const char *leaf)
{
    if (layer && layer[0]) snprintf(buf, len, "%s.%s", layer, leaf);
    else snprintf(buf, len, "%s", leaf);
}

pixl_tensor *pixl__nn_param(pixl_ctx *ctx, const char *layer, const char *leaf, pixl_param_kind kind, pixl_dtype dt,
                           int ndim, const int64_t *shape, pixl_init_spec init, float **data_if_new)
{
    char name[PIXL_NAME_LEN * 2];
    pname(name, sizeof name, layer, leaf);
    if (data_if_new) *data_if_new = NULL;
    if (!ctx->P) {
        pixl__ctx_fail(ctx, PIXL_ERR_STATE, "layer '%s': the context has no pixl_params", layer);
        return NULL;
    }
    int existed = pixl_params_find(ctx->P, name) >= 0;
    int i = pixl_params_add(ctx->P, name, kind, dt, ndim, shape, init);
    if (i < 0) {
        pixl__ctx_fail(ctx, pixl_last_status(), "%s", pixl_last_error());
        return NULL;
    }
    if (data_if_new && !existed) *data_if_new = pixl_params_data(ctx->P, i);
    return pixl_param_ref(ctx, name);
}

static pixl_tensor *param(pixl_ctx *ctx, const char *layer, const char *leaf, pixl_param_kind kind, pixl_dtype dt,
                          int ndim, const int64_t *shape, pixl_init_spec init)
{
    return pixl__nn_param(ctx, layer, leaf, kind, dt, ndim, shape, init, NULL);
}

static int channels_of(pixl_ctx *ctx, const char *what, const char *layer, pixl_tensor *x)
{
    if (x->ndim < 2) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "%s '%s': input %s has no channel dimension", what, layer, pixl__tshape(x));
        return -1;
    }
    return (int)x->shape[1];
}

int pixl__nn_conv2d_params(pixl_ctx *ctx, const char *name, int in_ch, int out_ch, int kh, int kw, int groups,
                           int bias, pixl_tensor **w, pixl_tensor **b)
{
    const int g = groups > 0 ? groups : 1;
    *w = NULL;
    if (b) *b = NULL;
    if (in_ch % g || out_ch % g || out_ch <= 0 || kh <= 0 || kw <= 0) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "conv2d '%s': in %d, out %d, kernel %dx%d, groups %d do not fit", name,
                      in_ch, out_ch, kh, kw, g);
        return -1;
    }
    int64_t ws[4] = {out_ch, in_ch / g, kh, kw}, bs[1] = {out_ch};
    *w = param(ctx, name, "weight", PIXL_PARAM, PIXL_F32, 4, ws,
               (pixl_init_spec){PIXL_INIT_KAIMING_UNIFORM, 2.2360679775f, 0});
    if (bias)
        *b = param(ctx, name, "bias", PIXL_PARAM, PIXL_F32, 1, bs,
                   (pixl_init_spec){PIXL_INIT_FAN_IN_UNIFORM, (float)(in_ch / g * kh * kw), 0});
    return !*w || (bias && !*b) ? -1 : 0;
}

pixl_tensor *pixl_nn_conv2d(pixl_ctx *ctx, const char *name, pixl_tensor *x, int out_ch, int kh, int kw,
                            const pixl_conv2d_opts *o, int bias)
{
    if (!ctx || !x) return NULL;
    int ic = channels_of(ctx, "conv2d", name, x);
    pixl_tensor *w, *b;
    if (ic < 0 || pixl__nn_conv2d_params(ctx, name, ic, out_ch, kh, kw, o ? o->groups : 1, bias, &w, &b)) return NULL;
    return pixl_conv2d(ctx, x, w, b, o);
}

pixl_tensor *pixl_nn_conv_transpose2d(pixl_ctx *ctx, const char *name, pixl_tensor *x, int out_ch, int kh, int kw,
                                      const pixl_conv2d_opts *o, int bias)
{
    if (!ctx || !x) return NULL;
    int ic = channels_of(ctx, "conv_transpose2d", name, x), g = o && o->groups > 0 ? o->groups : 1;
    if (ic < 0) return NULL;
    if (ic % g || out_ch % g || out_ch <= 0 || kh <= 0 || kw <= 0) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "conv_transpose2d '%s': in %d, out %d, kernel %dx%d, groups %d do not fit",
                      name, ic, out_ch, kh, kw, g);
        return NULL;
    }
    int64_t ws[4] = {ic, out_ch / g, kh, kw}, bs[1] = {out_ch};
    /* PyTorch: fan_in is computed from weight.size(1) * kh * kw */
    pixl_tensor *w = param(ctx, name, "weight", PIXL_PARAM, PIXL_F32, 4, ws,
                           (pixl_init_spec){PIXL_INIT_KAIMING_UNIFORM, 2.2360679775f, 0});
    pixl_tensor *b = bias ? param(ctx, name, "bias", PIXL_PARAM, PIXL_F32, 1, bs,
                                  (pixl_init_spec){PIXL_INIT_FAN_IN_UNIFORM, (float)(out_ch / g * kh * kw), 0})
                          : NULL;
    if (!w || (bias && !b)) return NULL;
    return pixl_conv_transpose2d(ctx, x, w, b, o);
}

pixl_tensor *pixl_nn_linear(pixl_ctx *ctx, const char *name, pixl_tensor *x, int out_features, int bias)
{
    if (!ctx || !x) return NULL;
    int in = (int)x->shape[x->ndim - 1];
    int64_t ws[2] = {out_features, in}, bs[1] = {out_features};
    pixl_tensor *w = param(ctx, name, "weight", PIXL_PARAM, PIXL_F32, 2, ws,
                           (pixl_init_spec){PIXL_INIT_KAIMING_UNIFORM, 2.2360679775f, 0});
    pixl_tensor *b = bias ? param(ctx, name, "bias", PIXL_PARAM, PIXL_F32, 1, bs,
                                  (pixl_init_spec){PIXL_INIT_FAN_IN_UNIFORM, (float)in, 0})
                          : NULL;
    if (!w || (bias && !b)) return NULL;
    return pixl_linear(ctx, x, w, b);
}

int pixl__nn_batch_norm2d_params(pixl_ctx *ctx, const char *name, int c, pixl_tensor *p[5])
{
    int64_t s[1] = {c}, one[1] = {1};
    p[0] = param(ctx, name, "weight", PIXL_PARAM, PIXL_F32, 1, s, (pixl_init_spec){PIXL_INIT_ONES, 0, 0});
    p[1] = param(ctx, name, "bias", PIXL_PARAM, PIXL_F32, 1, s, (pixl_init_spec){PIXL_INIT_ZEROS, 0, 0});
    p[2] = param(ctx, name, "running_mean", PIXL_BUFFER, PIXL_F32, 1, s, (pixl_init_spec){PIXL_INIT_ZEROS, 0, 0});
    p[3] = param(ctx, name, "running_var", PIXL_BUFFER, PIXL_F32, 1, s, (pixl_init_spec){PIXL_INIT_ONES, 0, 0});
    /* PyTorch stores num_batches_tracked as a 0-dim int64; pixl as shape [1] */
    p[4] = param(ctx, name, "num_batches_tracked", PIXL_BUFFER, PIXL_I64, 1, one,
                 (pixl_init_spec){PIXL_INIT_CONST, 0, 0});
    return p[0] && p[1] && p[2] && p[3] && p[4] ? 0 : -1;
}

pixl_tensor *pixl_nn_batch_norm2d(pixl_ctx *ctx, const char *name, pixl_tensor *x, const pixl_bn_opts *o)
{
    if (!ctx || !x) return NULL;
    int c = channels_of(ctx, "batch_norm2d", name, x);
    pixl_tensor *p[5];
    if (c < 0 || pixl__nn_batch_norm2d_params(ctx, name, c, p)) return NULL;
    return pixl_batch_norm2d(ctx, x, p[0], p[1], p[2], p[3], p[4], o);
}

pixl_tensor *pixl_nn_group_norm(pixl_ctx *ctx, const char *name, pixl_tensor *x, int groups, float eps)
{
    if (!ctx || !x) return NULL;
    int c = channels_of(ctx, "group_norm", name, x);
    if (c < 0) return NULL;
    int64_t s[1] = {c};
    pixl_tensor *w = param(ctx, name, "weight", PIXL_PARAM, PIXL_F32, 1, s, (pixl_init_spec){PIXL_INIT_ONES, 0, 0});
    pixl_tensor *b = param(ctx, name, "bias", PIXL_PARAM, PIXL_F32, 1, s, (pixl_init_spec){PIXL_INIT_ZEROS, 0, 0});
    if (!w || !b) return NULL;
    return pixl_group_norm(ctx, x, groups, w, b, eps);
}

pixl_tensor *pixl_nn_prelu(pixl_ctx *ctx, const char *name, pixl_tensor *x, int num_parameters)
{
    if (!ctx || !x) return NULL;
    int64_t s[1] = {num_parameters > 0 ? num_parameters : 1};
    pixl_tensor *w =
        param(ctx, name, "weight", PIXL_PARAM, PIXL_F32, 1, s, (pixl_init_spec){PIXL_INIT_CONST, 0.25f, 0});
    if (!w) return NULL;
    return pixl_prelu(ctx, x, w);
}
