/* pac.c — conformance builders for NVlabs/pacnet's layers (op names of
 * ../shared/golden/pac): pacconv2d (PacConv2d), pacconv_transpose2d
 * (PacConvTranspose2d), pacpool2d (PacPool2d), from their constructor
 * arguments: kernel_size, stride, padding, dilation, output_padding,
 * kernel_type, smooth_kernel_type, normalize_kernel, shared_filters,
 * filler, in_channels, out_channels, bias, channel_wise (pool),
 * native_impl (accepted, both paths compute the same). Inputs: input,
 * guide[, mask]. Unknown arguments and combinations pixl cannot honour are
 * errors, never ignored. Parameters are unprefixed (weight, bias,
 * inv_alpha, inv_lambda, smooth_kernel). */
#include <stdio.h>
#include <string.h>

#include "check.h"

static int fail_ctx(pixl_ctx *ctx, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s", pixl_ctx_error(ctx) ? pixl_ctx_error(ctx) : pixl_last_error());
    return -1;
}

/* common geometry / kernel arguments into o */
static int pac_args(check_case *c, int transposed, pixl_pac_opts *o, char *err, size_t errlen)
{
    memset(o, 0, sizeof *o);
    int k[2];
    if (check_pair(c, "kernel_size", k, -1) || check_pair(c, "stride", o->stride, 1) ||
        check_pair(c, "padding", o->padding, 0) || check_pair(c, "dilation", o->dilation, 1) ||
        check_pair(c, "output_padding", o->output_padding, 0)) {
        snprintf(err, errlen, "%s: malformed kernel_size/stride/padding/dilation/output_padding", c->op);
        return -1;
    }
    if (!transposed && check_has(c, "output_padding")) {
        snprintf(err, errlen, "%s: output_padding is not an argument of this layer", c->op);
        return -1;
    }
    o->kernel[0] = k[0];
    o->kernel[1] = k[1];
    if (pixl_pac_parse_kernel_type(check_str(c, "kernel_type", "gaussian"), o) ||
        pixl_pac_parse_smooth(check_str(c, "smooth_kernel_type", "none"), o) ||
        pixl_pac_parse_filler(check_str(c, "filler", "uniform"), o)) {
        snprintf(err, errlen, "%s: %s", c->op, pixl_last_error());
        return -1;
    }
    o->normalize = check_bool(c, "normalize_kernel", 0);
    o->shared_filters = check_bool(c, "shared_filters", 0);
    o->channel_wise = check_bool(c, "channel_wise", 0);
    if (c->n_inputs < 2 || c->n_inputs > 3) {
        snprintf(err, errlen, "%s: expects inputs (input, guide[, mask])", c->op);
        return -1;
    }
    for (int i = 0; i < c->n_inputs; i++)
        if (pixl_tensor_ndim(c->inputs[i]) != 4 || pixl_tensor_dtype(c->inputs[i]) != PIXL_F32) {
            snprintf(err, errlen, "%s: input '%s' must be a 4-D float tensor", c->op, c->input_names[i]);
            return -1;
        }
    return 0;
}

static pixl_tensor *mask_of(check_case *c) { return c->n_inputs > 2 ? c->inputs[2] : NULL; }

static int build_conv_any(pixl_ctx *ctx, check_case *c, int transposed, char *err, size_t errlen)
{
    static const char *const keys[] = {"in_channels", "out_channels", "kernel_size", "stride", "padding",
                                       "output_padding", "dilation", "bias", "kernel_type", "smooth_kernel_type",
                                       "normalize_kernel", "shared_filters", "filler", "native_impl", NULL};
    if (check_only_keys(c, keys, err, errlen)) return -1;
    pixl_pac_opts o;
    if (pac_args(c, transposed, &o, err, errlen)) return -1;
    pixl_tensor *x = c->inputs[0], *guide = c->inputs[1];
    int ic = check_int(c, "in_channels", -1), oc = check_int(c, "out_channels", -1);
    if (ic != pixl_tensor_shape(x)[1]) {
        snprintf(err, errlen, "%s: in_channels %d for input with %lld channels", c->op, ic,
                 (long long)pixl_tensor_shape(x)[1]);
        return -1;
    }
    pixl_tensor *y;
    if (mask_of(c)) { /* the layer with an explicit mask: kernel first, then the conv on it */
        pixl_pac_opts ko = o;
        ko.transposed = transposed;
        pixl_tensor *k = pixl_nn_packernel2d(ctx, "", guide, mask_of(c), oc, &ko);
        y = transposed ? pixl_nn_pacconv_transpose2d(ctx, "", x, NULL, k, oc, &o, check_bool(c, "bias", 1))
                       : pixl_nn_pacconv2d(ctx, "", x, NULL, k, oc, &o, check_bool(c, "bias", 1));
        if (y) {
            c->outputs[1] = pixl_packernel2d_mask(ctx, k);
            c->n_outputs = 2;
        }
    } else {
        y = transposed ? pixl_nn_pacconv_transpose2d(ctx, "", x, guide, NULL, oc, &o, check_bool(c, "bias", 1))
                       : pixl_nn_pacconv2d(ctx, "", x, guide, NULL, oc, &o, check_bool(c, "bias", 1));
        c->n_outputs = 1;
    }
    if (!y) return fail_ctx(ctx, err, errlen);
    c->outputs[0] = y;
    return 0;
}

static int build_pacconv2d(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    return build_conv_any(ctx, c, 0, err, errlen);
}

static int build_pacconv_transpose2d(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    return build_conv_any(ctx, c, 1, err, errlen);
}

static int build_pacpool2d(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    static const char *const keys[] = {"kernel_size", "stride", "padding", "dilation", "kernel_type",
                                       "smooth_kernel_type", "channel_wise", "normalize_kernel", "out_channels",
                                       "channels", "native_impl", NULL};
    if (check_only_keys(c, keys, err, errlen)) return -1;
    pixl_pac_opts o;
    if (pac_args(c, 0, &o, err, errlen)) return -1;
    pixl_tensor *x = c->inputs[0], *guide = c->inputs[1];
    int64_t C = pixl_tensor_shape(x)[1];
    int oc = check_int(c, "out_channels", -1), ch = check_int(c, "channels", -1);
    if ((oc > 0 && oc != C) || (ch > 0 && ch != C)) {
        snprintf(err, errlen, "%s: out_channels %d / channels %d for input with %lld channels", c->op, oc, ch,
                 (long long)C);
        return -1;
    }
    pixl_tensor *y;
    if (mask_of(c)) {
        pixl_tensor *k = pixl_nn_packernel2d(ctx, "", guide, mask_of(c), (int)C, &o);
        y = pixl_nn_pacpool2d(ctx, "", x, NULL, k, &o);
        if (y) {
            c->outputs[1] = pixl_packernel2d_mask(ctx, k);
            c->n_outputs = 2;
        }
    } else {
        y = pixl_nn_pacpool2d(ctx, "", x, guide, NULL, &o);
        c->n_outputs = 1;
    }
    if (!y) return fail_ctx(ctx, err, errlen);
    c->outputs[0] = y;
    return 0;
}

PIXL_CHECK_OP("pacconv2d", build_pacconv2d)
PIXL_CHECK_OP("pacconv_transpose2d", build_pacconv_transpose2d)
PIXL_CHECK_OP("pacpool2d", build_pacpool2d)
