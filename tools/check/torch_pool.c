/* torch_pool.c — conformance builders (PIXL_CHECK_OP) for PyTorch's pooling
 * and resampling modules: MaxPool2d (return_indices -> output.1),
 * MaxUnpool2d, AvgPool2d, AdaptiveAvgPool2d, Upsample, and "interpolate"
 * (F.interpolate's keywords; used by pixl's own cases in tests/ref/pool).
 * Parameters are the PyTorch constructor keywords; anything pixl cannot
 * honour is reported instead of silently ignored. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"

static const cJSON *param(const check_case *c, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->params, key);
    return v && !cJSON_IsNull(v) ? v : NULL;
}

/* kernel_size / stride (None -> kernel) / padding / dilation */
static int pool_opts(check_case *c, pixl_pool2d_opts *o, int with_dilation, char *err, size_t errlen)
{
    memset(o, 0, sizeof *o);
    if (!check_has(c, "kernel_size") || check_pair(c, "kernel_size", o->kernel, 0) ||
        check_pair(c, "stride", o->stride, 0) || check_pair(c, "padding", o->padding, 0) ||
        (with_dilation && check_pair(c, "dilation", o->dilation, 1))) {
        snprintf(err, errlen, "%s: kernel_size, stride, padding or dilation missing or malformed", c->op);
        return -1;
    }
    if (!check_has(c, "stride")) o->stride[0] = o->stride[1] = 0; /* None -> kernel_size */
    o->ceil_mode = check_bool(c, "ceil_mode", 0);
    return 0;
}

static int input_x(check_case *c, char *err, size_t errlen)
{
    if (c->n_inputs < 1) {
        snprintf(err, errlen, "%s: the case has no input", c->op);
        return -1;
    }
    return 0;
}

static int build_max_pool(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    pixl_pool2d_opts o;
    if (input_x(c, err, errlen) || pool_opts(c, &o, 1, err, errlen)) return -1;
    c->outputs[0] = pixl_max_pool2d(ctx, c->inputs[0], &o);
    c->n_outputs = 1;
    if (check_bool(c, "return_indices", 0)) {
        c->outputs[1] = pixl_max_pool2d_indices(ctx, c->outputs[0]);
        c->n_outputs = 2;
    }
    return 0;
}

/* output_size: [h, w] or [n, c, h, w] */
static int unpool_size(const check_case *c, int *oh, int *ow)
{
    const cJSON *v = param(c, "output_size");
    if (!cJSON_IsArray(v)) return -1;
    int n = cJSON_GetArraySize(v);
    if (n != 2 && n != 4) return -1;
    const cJSON *a = cJSON_GetArrayItem(v, n - 2), *b = cJSON_GetArrayItem(v, n - 1);
    if (!cJSON_IsNumber(a) || !cJSON_IsNumber(b)) return -1;
    return check_as_int(a->valuedouble, oh) || check_as_int(b->valuedouble, ow) ? -1 : 0;
}

static int build_max_unpool(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    pixl_pool2d_opts o;
    if (pool_opts(c, &o, 0, err, errlen)) return -1;
    if (c->n_inputs < 2) {
        snprintf(err, errlen, "MaxUnpool2d: needs inputs 'input' and 'indices', the case has %d", c->n_inputs);
        return -1;
    }
    int sh = o.stride[0] ? o.stride[0] : o.kernel[0], sw = o.stride[1] ? o.stride[1] : o.kernel[1];
    const int64_t *xs = pixl_tensor_shape(c->inputs[0]);
    int nd = pixl_tensor_ndim(c->inputs[0]);
    if (nd < 2) {
        snprintf(err, errlen, "MaxUnpool2d: input has %d dims", nd);
        return -1;
    }
    int oh, ow;
    if (check_has(c, "output_size")) {
        if (unpool_size(c, &oh, &ow)) {
            snprintf(err, errlen, "MaxUnpool2d: output_size must be [h, w] or [n, c, h, w]");
            return -1;
        }
    } else { /* PyTorch's default: (in - 1) * stride - 2 * pad + kernel */
        oh = (int)((xs[nd - 2] - 1) * sh - 2 * o.padding[0] + o.kernel[0]);
        ow = (int)((xs[nd - 1] - 1) * sw - 2 * o.padding[1] + o.kernel[1]);
    }
    c->outputs[0] = pixl_max_unpool2d(ctx, c->inputs[0], c->inputs[1], oh, ow);
    c->n_outputs = 1;
    return 0;
}

static int build_avg_pool(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    pixl_pool2d_opts o;
    if (input_x(c, err, errlen) || pool_opts(c, &o, 0, err, errlen)) return -1;
    if (param(c, "divisor_override")) {
        snprintf(err, errlen, "AvgPool2d: divisor_override is not supported");
        return -1;
    }
    o.exclude_pad = !check_bool(c, "count_include_pad", 1);
    c->outputs[0] = pixl_avg_pool2d(ctx, c->inputs[0], &o);
    c->n_outputs = 1;
    return 0;
}

static int build_adaptive_avg(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    int os[2];
    if (input_x(c, err, errlen)) return -1;
    if (!check_has(c, "output_size") || check_pair(c, "output_size", os, 0)) {
        snprintf(err, errlen, "AdaptiveAvgPool2d: output_size must be an int or [h, w] (None entries unsupported)");
        return -1;
    }
    c->outputs[0] = pixl_adaptive_avg_pool2d(ctx, c->inputs[0], os[0], os[1]);
    c->n_outputs = 1;
    return 0;
}

/* a number or a list of 1 or 2 numbers */
static int num_pair(const cJSON *v, double out[2])
{
    if (cJSON_IsNumber(v)) {
        out[0] = out[1] = v->valuedouble;
        return 0;
    }
    if (!cJSON_IsArray(v)) return -1;
    int n = cJSON_GetArraySize(v);
    if (n < 1 || n > 2) return -1;
    for (int i = 0; i < n; i++)
        if (!cJSON_IsNumber(cJSON_GetArrayItem(v, i))) return -1;
    out[0] = cJSON_GetArrayItem(v, 0)->valuedouble;
    out[1] = cJSON_GetArrayItem(v, n - 1)->valuedouble;
    return 0;
}

/* nn.Upsample and F.interpolate: size or scale_factor, mode, align_corners,
 * recompute_scale_factor */
static int build_upsample(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    if (input_x(c, err, errlen)) return -1;
    const char *mode = check_str(c, "mode", "nearest");
    pixl_resize_mode m;
    if (!strcmp(mode, "bilinear")) m = PIXL_RESIZE_BILINEAR;
    else if (!strcmp(mode, "nearest")) m = PIXL_RESIZE_NEAREST;
    else {
        snprintf(err, errlen, "%s: mode '%s' is not supported (bilinear, nearest)", c->op, mode);
        return -1;
    }
    if (check_bool(c, "antialias", 0)) {
        snprintf(err, errlen, "%s: antialias is not supported", c->op);
        return -1;
    }
    int align = check_bool(c, "align_corners", 0);
    const int64_t *xs = pixl_tensor_shape(c->inputs[0]);
    int nd = pixl_tensor_ndim(c->inputs[0]);
    if (nd != 4) {
        snprintf(err, errlen, "%s: input must be 4-d (N,C,H,W), got %d dims", c->op, nd);
        return -1;
    }
    int oh, ow;
    double sc[2] = {0, 0};
    const cJSON *size = param(c, "size"), *scale = param(c, "scale_factor");
    if ((size != NULL) == (scale != NULL)) {
        snprintf(err, errlen, "%s: exactly one of size and scale_factor must be given", c->op);
        return -1;
    }
    if (size) {
        int s[2];
        if (check_pair(c, "size", s, 0)) {
            snprintf(err, errlen, "%s: size must be an int or [h, w]", c->op);
            return -1;
        }
        oh = s[0];
        ow = s[1];
    } else {
        if (num_pair(scale, sc) || !(sc[0] > 0) || !(sc[1] > 0)) {
            snprintf(err, errlen, "%s: scale_factor must be a positive number or [sh, sw]", c->op);
            return -1;
        }
        oh = (int)floor((double)xs[2] * sc[0]);
        ow = (int)floor((double)xs[3] * sc[1]);
        if (check_bool(c, "recompute_scale_factor", 0)) sc[0] = sc[1] = 0; /* torch uses in/out then */
    }
    c->outputs[0] = pixl_resize(ctx, c->inputs[0], oh, ow, m, align, sc[0], sc[1]);
    c->n_outputs = 1;
    return 0;
}

PIXL_CHECK_OP("MaxPool2d", build_max_pool)
PIXL_CHECK_OP("MaxUnpool2d", build_max_unpool)
PIXL_CHECK_OP("AvgPool2d", build_avg_pool)
PIXL_CHECK_OP("AdaptiveAvgPool2d", build_adaptive_avg)
PIXL_CHECK_OP("Upsample", build_upsample)

static int build_interpolate(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    return build_upsample(ctx, c, err, errlen);
}
PIXL_CHECK_OP("interpolate", build_interpolate)
