/* refinenet.c — RefineNet-4-cascade (Lin et al. 2017) as the widely used
 * PyTorch implementation DrSleep/refinenet-pytorch (rf101) builds it, on a
 * torchvision ResNet with bare names (conv1, bn1, layer1..layer4; option
 * backbone: resnet101 (default), resnet50, resnet18/34; output stride 32):
 *   RCU block (residual conv unit) = [ReLU, 3x3 conv (bias), ReLU, 3x3 conv
 *   (no bias)] + identity; "adapt" = 2 RCUs, "output" = 3 RCUs.
 *   CRP (chained residual pooling) = x + sum_i t_i, t_i = 3x3 conv(5x5/1 max
 *   pool(t_{i-1})), t_0 = x, 4 stages.
 *   RefineNet-4 (layer4): 3x3 conv to 512, 2 RCUs, ReLU, CRP, 3 RCUs, 3x3 conv
 *   to 256, bilinear (align_corners=True) to layer3's size.
 *   RefineNet-3..1 (layer3, layer2, layer1): 3x3 conv to 256, 2 RCUs, 3x3
 *   conv (multi-resolution fusion) + the upsampled path, ReLU, CRP, 3 RCUs,
 *   then (except for RefineNet-1) 3x3 conv and upsampling to the next size.
 *   Dropout 0.5 on layer4, layer3 and before the classifier (3x3 conv with
 *   bias, at stride 4), then bilinear (align_corners=False) to the input.
 * Names as in rf101: p_ims1d2_outl{1..4}_dimred, adapt_stage{g}_b.0.{i}_conv,
 * .{i}_conv_relu_varout_dimred, mflow_conv_g{g}_pool.0.{i}_outvar_dimred,
 * mflow_conv_g{g}_b..., clf_conv: 118,029,387 parameters at 11 classes. */
#include "models_impl.h"

static pixl_tensor *conv3(pixl_ctx *c, const char *name, pixl_tensor *x, int ch, int bias)
{
    return pixl_nn_conv2d(c, name, x, ch, 3, 3, &(pixl_conv2d_opts){.padding = {1, 1}}, bias);
}

static pixl_tensor *rcu(pixl_ctx *c, const char *prefix, pixl_tensor *x, int ch, int n_blocks)
{
    for (int i = 1; i <= n_blocks; i++) {
        pixl_tensor *r = x;
        x = conv3(c, pixl__mname(c, prefix, "%d_conv", i), pixl_relu(c, x), ch, 1);
        x = conv3(c, pixl__mname(c, prefix, "%d_conv_relu_varout_dimred", i), pixl_relu(c, x), ch, 0);
        x = pixl_add(c, x, r);
    }
    return x;
}

static pixl_tensor *crp(pixl_ctx *c, const char *prefix, pixl_tensor *x, int ch)
{
    pixl_pool2d_opts po = {.kernel = {5, 5}, .stride = {1, 1}, .padding = {2, 2}};
    pixl_tensor *top = x;
    for (int i = 1; i <= 4; i++) {
        top = conv3(c, pixl__mname(c, prefix, "%d_outvar_dimred", i), pixl_max_pool2d(c, top, &po), ch, 0);
        x = pixl_add(c, x, top);
    }
    return x;
}

static pixl_tensor *up_to(pixl_ctx *c, pixl_tensor *x, const pixl_tensor *like)
{
    if (!x || !like) return NULL;
    return pixl_resize(c, x, (int)like->shape[2], (int)like->shape[3], PIXL_RESIZE_BILINEAR, 1, 0, 0);
}

pixl_tensor *pixl__model_refinenet(pixl_ctx *c, pixl_tensor *x, const pixl_model_opts *o)
{
    const char *bb = o->backbone ? o->backbone : "resnet101";
    if (strncmp(bb, "resnet", 6) != 0) {
        pixl__ctx_fail(c, PIXL_ERR_ARG, "model refinenet: backbone '%s' (expected resnet18, resnet34, resnet50 or resnet101)",
                      bb);
        return NULL;
    }
    if (o->output_stride && o->output_stride != 32) {
        pixl__ctx_fail(c, PIXL_ERR_ARG, "model refinenet: output_stride %d (RefineNet runs its encoder at 32)",
                      o->output_stride);
        return NULL;
    }
    int H = (int)x->shape[2], W = (int)x->shape[3];
    pixl_backbone_taps taps;
    if (!pixl__backbone_build(c, bb, "", x, 32, &taps)) return NULL;
    pixl_tensor *l[4];
    for (int i = 0; i < 4; i++)
        if (!(l[i] = pixl__backbone_tap(c, &taps, pixl__mname(c, NULL, "layer%d", i + 1)))) return NULL;
    pixl_tensor *l4 = pixl_dropout(c, l[3], 0.5f), *l3 = pixl_dropout(c, l[2], 0.5f);

    /* RefineNet-4 */
    pixl_tensor *y = rcu(c, "adapt_stage1_b.0", conv3(c, "p_ims1d2_outl1_dimred", l4, 512, 0), 512, 2);
    y = rcu(c, "mflow_conv_g1_b.0", crp(c, "mflow_conv_g1_pool.0", pixl_relu(c, y), 512), 512, 3);
    y = up_to(c, conv3(c, "mflow_conv_g1_b3_joint_varout_dimred", y, 256, 0), l3);

    /* RefineNet-3, -2, -1 */
    pixl_tensor *in[3] = {l3, l[1], l[0]};
    for (int g = 2; g <= 4; g++) {
        char pre[64];
        pixl_tensor *z = conv3(c, pixl__mname(c, NULL, "p_ims1d2_outl%d_dimred", g), in[g - 2], 256, 0);
        snprintf(pre, sizeof pre, "adapt_stage%d_b.0", g);
        z = rcu(c, pre, z, 256, 2);
        z = conv3(c, pixl__mname(c, NULL, "adapt_stage%d_b2_joint_varout_dimred", g), z, 256, 0);
        z = pixl_relu(c, pixl_add(c, z, y));
        snprintf(pre, sizeof pre, "mflow_conv_g%d_pool.0", g);
        z = crp(c, pre, z, 256);
        snprintf(pre, sizeof pre, "mflow_conv_g%d_b.0", g);
        z = rcu(c, pre, z, 256, 3);
        y = g < 4 ? up_to(c, conv3(c, pixl__mname(c, NULL, "mflow_conv_g%d_b3_joint_varout_dimred", g), z, 256, 0), in[g - 1])
                  : z;
    }
    y = conv3(c, "clf_conv", pixl_dropout(c, y, 0.5f), o->n_classes, 1);
    return y ? pixl_resize(c, y, H, W, PIXL_RESIZE_BILINEAR, 0, 0, 0) : NULL;
}
