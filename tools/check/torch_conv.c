/* torch_conv.c — conformance builders (PIXL_CHECK_OP) for PyTorch's
 * Conv2d, ConvTranspose2d and Linear modules, from their constructor
 * keyword arguments (in_channels, out_channels, kernel_size int or pair,
 * stride, padding incl. 'valid'/'same', output_padding, dilation, groups,
 * bias, padding_mode; in_features, out_features, bias). Parameters are
 * created unprefixed ("weight", "bias") with pixl_nn_*(). Arguments pixl
 * cannot honour (padding_mode other than 'zeros', unknown keys, an odd
 * total 'same' padding) are reported as errors, never ignored. */
#include <stdio.h>
#include <string.h>

#include "check.h"

static int pair(const check_case *c, const char *key, int out[2], int dflt, char *err, size_t errlen)
{
    if (check_pair(c, key, out, dflt)) {
        snprintf(err, errlen, "%s: malformed '%s'", c->op, key);
        return -1;
    }
    return 0;
}

static int one_input4(check_case *c, char *err, size_t errlen)
{
    if (c->n_inputs != 1 || pixl_tensor_ndim(c->inputs[0]) != 4) {
        snprintf(err, errlen, "%s: needs one 4-D input", c->op);
        return -1;
    }
    return 0;
}

/* shared by Conv2d and ConvTranspose2d */
static int conv_args(check_case *c, int transposed, int *ic, int *oc, int k[2], pixl_conv2d_opts *o, int *bias,
                     char *err, size_t errlen)
{
    static const char *const keys[] = {"in_channels", "out_channels", "kernel_size", "stride", "padding",
                                       "output_padding", "dilation", "groups", "bias", "padding_mode",
                                       "device", "dtype", NULL};
    if (check_only_keys(c, keys, err, errlen) || one_input4(c, err, errlen)) return -1;
    const char *mode = check_str(c, "padding_mode", "zeros");
    if (strcmp(mode, "zeros")) {
        snprintf(err, errlen, "%s: padding_mode '%s' is not supported (only 'zeros')", c->op, mode);
        return -1;
    }
    *ic = check_int(c, "in_channels", -1);
    *oc = check_int(c, "out_channels", -1);
    *bias = check_bool(c, "bias", 1);
    memset(o, 0, sizeof *o);
    o->groups = check_int(c, "groups", 1);
    if (pair(c, "kernel_size", k, -1, err, errlen) || pair(c, "stride", o->stride, 1, err, errlen) ||
        pair(c, "dilation", o->dilation, 1, err, errlen) ||
        pair(c, "output_padding", o->output_padding, 0, err, errlen))
        return -1;
    if (!transposed && check_has(c, "output_padding")) {
        snprintf(err, errlen, "%s: output_padding is not an argument of Conv2d", c->op);
        return -1;
    }
    const char *pad = check_str(c, "padding", NULL);
    if (pad) {
        if (transposed || (strcmp(pad, "valid") && strcmp(pad, "same"))) {
            snprintf(err, errlen, "%s: padding '%s' is not supported", c->op, pad);
            return -1;
        }
        if (!strcmp(pad, "same")) {
            if (o->stride[0] != 1 || o->stride[1] != 1) {
                snprintf(err, errlen, "%s: padding='same' needs stride 1 (as in PyTorch)", c->op);
                return -1;
            }
            for (int i = 0; i < 2; i++) {
                int total = o->dilation[i] * (k[i] - 1);
                if (total % 2) {
                    snprintf(err, errlen, "%s: padding='same' with an odd total padding %d is not supported", c->op,
                             total);
                    return -1;
                }
                o->padding[i] = total / 2;
            }
        }
    } else if (pair(c, "padding", o->padding, 0, err, errlen))
        return -1;
    int64_t xc = pixl_tensor_shape(c->inputs[0])[1];
    if (*ic != xc || *oc < 1 || k[0] < 1 || k[1] < 1) {
        snprintf(err, errlen, "%s: in_channels %d, out_channels %d, kernel %dx%d for input channels %lld", c->op, *ic,
                 *oc, k[0], k[1], (long long)xc);
        return -1;
    }
    return 0;
}

/* Conv2d and ConvTranspose2d differ only in the layer they build */
static int build_conv_any(pixl_ctx *ctx, check_case *c, int transposed, char *err, size_t errlen)
{
    int ic, oc, k[2], bias;
    pixl_conv2d_opts o;
    if (conv_args(c, transposed, &ic, &oc, k, &o, &bias, err, errlen)) return -1;
    pixl_tensor *y = transposed ? pixl_nn_conv_transpose2d(ctx, "", c->inputs[0], oc, k[0], k[1], &o, bias)
                                : pixl_nn_conv2d(ctx, "", c->inputs[0], oc, k[0], k[1], &o, bias);
    return check_output(ctx, c, y, err, errlen);
}

static int build_conv2d(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    return build_conv_any(ctx, c, 0, err, errlen);
}

static int build_conv_transpose2d(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    return build_conv_any(ctx, c, 1, err, errlen);
}

static int build_linear(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    static const char *const keys[] = {"in_features", "out_features", "bias", "device", "dtype", NULL};
    if (check_only_keys(c, keys, err, errlen)) return -1;
    if (c->n_inputs != 1) {
        snprintf(err, errlen, "%s: needs one input", c->op);
        return -1;
    }
    pixl_tensor *x = c->inputs[0];
    int in = check_int(c, "in_features", -1), out = check_int(c, "out_features", -1);
    int nd = pixl_tensor_ndim(x);
    if (nd < 1 || in != pixl_tensor_shape(x)[nd - 1] || out < 1) {
        snprintf(err, errlen, "%s: in_features %d, out_features %d for input with last dim %lld", c->op, in, out,
                 nd ? (long long)pixl_tensor_shape(x)[nd - 1] : 0LL);
        return -1;
    }
    pixl_tensor *y = pixl_nn_linear(ctx, "", x, out, check_bool(c, "bias", 1));
    return check_output(ctx, c, y, err, errlen);
}

PIXL_CHECK_OP("Conv2d", build_conv2d)
PIXL_CHECK_OP("ConvTranspose2d", build_conv_transpose2d)
PIXL_CHECK_OP("Linear", build_linear)
