/* torch_norm_act.c — conformance builders (PIXL_CHECK_OP) for PyTorch's
 * normalisation and activation modules: BatchNorm2d / BatchNorm1d
 * (num_features, eps, momentum incl. None, affine, track_running_stats),
 * GroupNorm, ReLU, LeakyReLU, PReLU, ELU, Sigmoid, Tanh, Softmax,
 * LogSoftmax; and pixl's own cases (tests/ref/elem, made by
 * scripts/ref/make_elem_ref.py) named after the torch functions: "cat",
 * "pad" (F.pad), "add", "mul", "slice", "crop2d", "reshape", "sum", "reciprocal",
 * "normalize" (F.normalize). Parameters pixl cannot honour are reported. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"

static const cJSON *param(const check_case *c, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->params, key);
    return v && !cJSON_IsNull(v) ? v : NULL;
}

static int need_inputs(check_case *c, int n, char *err, size_t errlen)
{
    if (c->n_inputs < n) {
        snprintf(err, errlen, "%s: needs %d input(s), the case has %d", c->op, n, c->n_inputs);
        return -1;
    }
    return 0;
}

static int one_output(check_case *c, pixl_tensor *y)
{
    c->outputs[0] = y;
    c->n_outputs = 1;
    return 0;
}

/* find or create a parameter/buffer under `name` and return its leaf */
static pixl_tensor *buffer(pixl_ctx *ctx, const char *name, pixl_param_kind kind, pixl_dtype dt, int64_t n,
                           pixl_init_spec init)
{
    int64_t s[1] = {n};
    if (pixl_params_add(pixl_ctx_params(ctx), name, kind, dt, 1, s, init) < 0) return NULL;
    return pixl_param_ref(ctx, name);
}

/* ------------------------------------------------------------ batch norm */
static int build_batch_norm(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    if (need_inputs(c, 1, err, errlen)) return -1;
    pixl_tensor *x = c->inputs[0];
    int nd = pixl_tensor_ndim(x);
    int want4 = !strcmp(c->op, "BatchNorm2d");
    if (want4 ? nd != 4 : (nd != 2 && nd != 3)) {
        snprintf(err, errlen, "%s: input has %d dims", c->op, nd);
        return -1;
    }
    int C = check_int(c, "num_features", -1);
    if (C != (int)pixl_tensor_shape(x)[1]) {
        snprintf(err, errlen, "%s: num_features %d does not match input channels %lld", c->op, C,
                 (long long)pixl_tensor_shape(x)[1]);
        return -1;
    }
    pixl_bn_opts o = {(float)check_num(c, "eps", 1e-5), 0.1f};
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(c->params, "momentum");
    if (m && cJSON_IsNull(m)) o.momentum = -1; /* None: cumulative moving average */
    else if (m && cJSON_IsNumber(m)) {
        o.momentum = (float)m->valuedouble;
        if (o.momentum == 0) {
            snprintf(err, errlen, "%s: momentum 0 is not expressible (pixl maps 0 to the default 0.1)", c->op);
            return -1;
        }
    }
    int affine = check_bool(c, "affine", 1), track = check_bool(c, "track_running_stats", 1);
    if (affine && track) return one_output(c, pixl_nn_batch_norm2d(ctx, "", x, &o));
    pixl_tensor *w = NULL, *b = NULL, *rm = NULL, *rv = NULL, *nb = NULL;
    if (affine) {
        w = buffer(ctx, "weight", PIXL_PARAM, PIXL_F32, C, (pixl_init_spec){PIXL_INIT_ONES, 0, 0});
        b = buffer(ctx, "bias", PIXL_PARAM, PIXL_F32, C, (pixl_init_spec){PIXL_INIT_ZEROS, 0, 0});
        if (!w || !b) goto fail;
    }
    if (track) {
        rm = buffer(ctx, "running_mean", PIXL_BUFFER, PIXL_F32, C, (pixl_init_spec){PIXL_INIT_ZEROS, 0, 0});
        rv = buffer(ctx, "running_var", PIXL_BUFFER, PIXL_F32, C, (pixl_init_spec){PIXL_INIT_ONES, 0, 0});
        nb = buffer(ctx, "num_batches_tracked", PIXL_BUFFER, PIXL_I64, 1, (pixl_init_spec){PIXL_INIT_CONST, 0, 0});
        if (!rm || !rv || !nb) goto fail;
    }
    return one_output(c, pixl_batch_norm2d(ctx, x, w, b, rm, rv, nb, &o));
fail:
    snprintf(err, errlen, "%s: %s", c->op, pixl_last_error());
    return -1;
}

static int build_group_norm(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    if (need_inputs(c, 1, err, errlen)) return -1;
    pixl_tensor *x = c->inputs[0];
    int G = check_int(c, "num_groups", -1), C = check_int(c, "num_channels", -1);
    if (pixl_tensor_ndim(x) < 2 || C != (int)pixl_tensor_shape(x)[1] || G <= 0) {
        snprintf(err, errlen, "GroupNorm: num_groups %d / num_channels %d do not fit the input", G, C);
        return -1;
    }
    float eps = (float)check_num(c, "eps", 1e-5);
    if (check_bool(c, "affine", 1)) return one_output(c, pixl_nn_group_norm(ctx, "", x, G, eps));
    return one_output(c, pixl_group_norm(ctx, x, G, NULL, NULL, eps));
}

/* ------------------------------------------------------------ activations */
static int build_relu(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    if (need_inputs(c, 1, err, errlen)) return -1;
    return one_output(c, pixl_relu(ctx, c->inputs[0]));
}

static int build_leaky_relu(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    if (need_inputs(c, 1, err, errlen)) return -1;
    return one_output(c, pixl_leaky_relu(ctx, c->inputs[0], (float)check_num(c, "negative_slope", 0.01)));
}

static int build_prelu(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    if (need_inputs(c, 1, err, errlen)) return -1;
    int np = check_int(c, "num_parameters", 1);
    pixl_tensor *w = buffer(ctx, "weight", PIXL_PARAM, PIXL_F32, np,
                            (pixl_init_spec){PIXL_INIT_CONST, (float)check_num(c, "init", 0.25), 0});
    if (!w) {
        snprintf(err, errlen, "PReLU: %s", pixl_last_error());
        return -1;
    }
    return one_output(c, pixl_prelu(ctx, c->inputs[0], w));
}

static int build_elu(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    if (need_inputs(c, 1, err, errlen)) return -1;
    return one_output(c, pixl_elu(ctx, c->inputs[0], (float)check_num(c, "alpha", 1.0)));
}

static int build_sigmoid(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    if (need_inputs(c, 1, err, errlen)) return -1;
    return one_output(c, pixl_sigmoid(ctx, c->inputs[0]));
}

static int build_tanh(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    if (need_inputs(c, 1, err, errlen)) return -1;
    return one_output(c, pixl_tanh(ctx, c->inputs[0]));
}

/* dim must name the channel dimension (1, or 1 - ndim) */
static int channel_dim(check_case *c, int dflt_ok, char *err, size_t errlen)
{
    int nd = pixl_tensor_ndim(c->inputs[0]);
    if (!param(c, "dim")) {
        if (dflt_ok) return 0;
        snprintf(err, errlen, "%s: dim must be given", c->op);
        return -1;
    }
    int d = check_int(c, "dim", 1);
    if (nd < 2 || (d != 1 && d != 1 - nd)) {
        snprintf(err, errlen, "%s: dim %d of a %d-d input is not supported (only the channel dim 1)", c->op, d, nd);
        return -1;
    }
    return 0;
}

static int build_softmax(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    if (need_inputs(c, 1, err, errlen) || channel_dim(c, 0, err, errlen)) return -1;
    pixl_tensor *x = c->inputs[0];
    return one_output(c, strcmp(c->op, "Softmax") ? pixl_log_softmax(ctx, x) : pixl_softmax(ctx, x));
}

/* -------------------------------------------------- pixl's own elem cases */
static int build_normalize(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    if (need_inputs(c, 1, err, errlen) || channel_dim(c, 1, err, errlen)) return -1;
    if (check_num(c, "p", 2.0) != 2.0) {
        snprintf(err, errlen, "normalize: only p = 2 is supported");
        return -1;
    }
    return one_output(c, pixl_l2_normalize(ctx, c->inputs[0], (float)check_num(c, "eps", 1e-12)));
}

static int build_cat(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    if (need_inputs(c, 1, err, errlen)) return -1;
    return one_output(c, pixl_concat(ctx, c->n_inputs, c->inputs, check_int(c, "dim", 0)));
}

static int build_pad(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    if (need_inputs(c, 1, err, errlen)) return -1;
    const cJSON *p = param(c, "pad");
    int pads[4] = {0, 0, 0, 0}, np = cJSON_IsArray(p) ? cJSON_GetArraySize(p) : 0;
    if (np != 2 && np != 4) {
        snprintf(err, errlen, "pad: 'pad' must list 2 or 4 numbers");
        return -1;
    }
    for (int i = 0; i < np; i++)
        if (!cJSON_IsNumber(cJSON_GetArrayItem(p, i)) || check_as_int(cJSON_GetArrayItem(p, i)->valuedouble, &pads[i])) {
            snprintf(err, errlen, "pad: 'pad' must list 2 or 4 whole numbers");
            return -1;
        }
    const char *mode = check_str(c, "mode", "constant");
    pixl_pad_mode m;
    if (!strcmp(mode, "constant")) m = PIXL_PAD_ZERO;
    else if (!strcmp(mode, "reflect")) m = PIXL_PAD_REFLECT;
    else if (!strcmp(mode, "replicate")) m = PIXL_PAD_REPLICATE;
    else {
        snprintf(err, errlen, "pad: mode '%s' is not supported (constant, reflect, replicate)", mode);
        return -1;
    }
    return one_output(c, pixl_pad2d(ctx, c->inputs[0], pads, m, (float)check_num(c, "value", 0)));
}

static int build_add(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    if (need_inputs(c, 2, err, errlen)) return -1;
    return one_output(c, strcmp(c->op, "add") ? pixl_mul(ctx, c->inputs[0], c->inputs[1])
                                              : pixl_add(ctx, c->inputs[0], c->inputs[1]));
}

static int build_slice(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    if (need_inputs(c, 1, err, errlen)) return -1;
    if (!param(c, "dim") || !param(c, "start") || !param(c, "end")) {
        snprintf(err, errlen, "slice: dim, start and end are required");
        return -1;
    }
    return one_output(c, pixl_slice(ctx, c->inputs[0], check_int(c, "dim", 0), check_int(c, "start", 0),
                                    check_int(c, "end", 0)));
}

static int build_crop(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    if (need_inputs(c, 1, err, errlen)) return -1;
    return one_output(c, pixl_crop2d(ctx, c->inputs[0], check_int(c, "top", 0), check_int(c, "left", 0),
                                     check_int(c, "height", 0), check_int(c, "width", 0)));
}

static int build_reshape(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    if (need_inputs(c, 1, err, errlen)) return -1;
    const cJSON *s = param(c, "shape");
    int n = cJSON_IsArray(s) ? cJSON_GetArraySize(s) : 0;
    if (n < 1 || n > PIXL_MAX_DIMS) {
        snprintf(err, errlen, "reshape: 'shape' must list 1 to %d numbers", PIXL_MAX_DIMS);
        return -1;
    }
    int64_t sh[PIXL_MAX_DIMS];
    for (int i = 0; i < n; i++) {
        const cJSON *e = cJSON_GetArrayItem(s, i);
        int d = 0;
        if (!cJSON_IsNumber(e) || check_as_int(e->valuedouble, &d)) {
            snprintf(err, errlen, "reshape: 'shape' must list whole numbers");
            return -1;
        }
        sh[i] = d;
    }
    return one_output(c, pixl_reshape(ctx, c->inputs[0], n, sh));
}

static int build_reciprocal(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    if (need_inputs(c, 1, err, errlen)) return -1;
    return one_output(c, pixl_reciprocal(ctx, c->inputs[0]));
}

static int build_sum(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    if (need_inputs(c, 1, err, errlen)) return -1;
    return one_output(c, pixl_sum(ctx, c->inputs[0]));
}

/* one registration per function name */
static int build_batch_norm1d(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    return build_batch_norm(ctx, c, err, errlen);
}
static int build_log_softmax(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    return build_softmax(ctx, c, err, errlen);
}
static int build_mul(pixl_ctx *ctx, check_case *c, char *err, size_t errlen) { return build_add(ctx, c, err, errlen); }

PIXL_CHECK_OP("BatchNorm2d", build_batch_norm)
PIXL_CHECK_OP("BatchNorm1d", build_batch_norm1d)
PIXL_CHECK_OP("GroupNorm", build_group_norm)
PIXL_CHECK_OP("ReLU", build_relu)
PIXL_CHECK_OP("LeakyReLU", build_leaky_relu)
PIXL_CHECK_OP("PReLU", build_prelu)
PIXL_CHECK_OP("ELU", build_elu)
PIXL_CHECK_OP("Sigmoid", build_sigmoid)
PIXL_CHECK_OP("Tanh", build_tanh)
PIXL_CHECK_OP("Softmax", build_softmax)
PIXL_CHECK_OP("LogSoftmax", build_log_softmax)
PIXL_CHECK_OP("normalize", build_normalize)
PIXL_CHECK_OP("cat", build_cat)
PIXL_CHECK_OP("pad", build_pad)
PIXL_CHECK_OP("add", build_add)
PIXL_CHECK_OP("mul", build_mul)
PIXL_CHECK_OP("slice", build_slice)
PIXL_CHECK_OP("crop2d", build_crop)
PIXL_CHECK_OP("reshape", build_reshape)
PIXL_CHECK_OP("sum", build_sum)
PIXL_CHECK_OP("reciprocal", build_reciprocal)
