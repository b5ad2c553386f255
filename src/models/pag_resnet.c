/* pag_resnet.c — "pag_resnet50": a ResNet-50 with pixel-wise attentional
 * gates (PAG, Kong & Fowlkes 2019) on its bottlenecks and MultiPool on res5,
 * as the seed's demo model Res5ScaleAttention_pG2345 (docs/pag.md).
 *
 * The bottleneck is the seed's (MatConvNet / Caffe ResNet): the stride sits
 * on the 1x1 reduce conv, so h1 = ReLU(BN(conv1x1/s(x))) has the block's
 * output size, and the gate, a 1x1 conv on the block input x at the same
 * stride, chooses per pixel between h1 ("skip") and h2 = ReLU(BN(conv3x3(h1)))
 * ("compute"); the mix z feeds the expand conv, then the residual add:
 *
 *   x -> conv1 (1x1, /s) -> bn1 -> ReLU = h1 ----------------+
 *   x -> gate (1x1 -> 2, /s) -> Gumbel (train) / argmax (eval)-> z -> conv3 -> bn3 -> + id -> ReLU
 *                            h1 -> conv2 (3x3) -> bn2 -> ReLU -+
 *
 * At inference the 3x3 conv runs only at the gated-on pixels
 * (pixl_nn_gated_conv3x3), and in training too with
 * model.options.pag.train_skip (hard straight-through gates,
 * pixl_gated_conv3x3_train). Width scales every stage (model.options.width;
 * 0.25 trains from scratch on a CPU); output stride 16 (default: res5
 * dilated 2) or 8 (res4 dilated 2, res5 4) or 32. The head is a 1x1
 * classifier and bilinear upsampling to the input size. In training graphs
 * the model registers its budget losses (pixl_ctx_add_loss) and, in every
 * graph, the gates as probes "gate.resX_Y" and MultiPool's attention as
 * "multipool". Parameter names follow torchvision's ResNet ("layer1.0.conv1")
 * plus "layerS.B.gate", "multipool.*" and "classifier". */
#include "models_impl.h"

const int pixl__pag_blocks[4] = {3, 4, 6, 3};

void pixl__pag_block_name(int stage, int block, char name[8])
{
    snprintf(name, 8, "res%u_%u", (unsigned)(stage + 2) % 10u, (unsigned)(block + 1) % 10u);
}

static pixl_tensor *conv_bn(pixl_ctx *c, const char *conv, const char *bn, pixl_tensor *x, int out, int k, int stride,
                            int dil)
{
    int pad = dil * (k - 1) / 2;
    pixl_conv2d_opts o = {.stride = {stride, stride}, .padding = {pad, pad}, .dilation = {dil, dil}};
    return pixl_nn_batch_norm2d(c, bn, pixl_nn_conv2d(c, conv, x, out, k, k, &o, 0), NULL);
}

static int gate_index(const pixl_pag_opts *p, int stage, int block)
{
    char nm[8];
    pixl__pag_block_name(stage, block, nm);
    for (int i = 0; i < p->n_gates; i++)
        if (!strcmp(p->gates[i], nm)) return i;
    return -1;
}

pixl_tensor *pixl__model_pag_resnet50(pixl_ctx *c, pixl_tensor *x, const pixl_model_opts *o)
{
    const pixl_pag_opts def = pixl_pag_defaults();
    const pixl_pag_opts *p = o->pag ? o->pag : &def;
    if (pixl_pag_check(p)) {
        pixl__ctx_fail(c, PIXL_ERR_ARG, "pag_resnet50: %s", pixl_last_error());
        return NULL;
    }
    int os = o->output_stride ? o->output_stride : 16;
    if (os != 8 && os != 16 && os != 32) {
        pixl__ctx_fail(c, PIXL_ERR_ARG, "pag_resnet50: output_stride %d must be 8, 16 or 32", os);
        return NULL;
    }
    const int train = pixl_ctx_mode(c) == PIXL_MODE_TRAIN;
    int stem = (int)(64 * o->width + 0.5f);
    if (stem < 4) stem = 4;
    pixl_tensor *h = pixl_relu(c, conv_bn(c, "conv1", "bn1", x, stem, 7, 2, 1));
    h = pixl_max_pool2d(c, h, &(pixl_pool2d_opts){.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}});
    int inplanes = stem, stride_now = 4, dilation = 1;
    pixl_tensor *gates[PIXL_PAG_MAX_GATES] = {0};
    for (int s = 0; s < 4 && h; s++) {
        int planes = (int)(64 * (1 << s) * o->width + 0.5f);
        if (planes < 4) planes = 4;
        int out = planes * 4, stride = s ? 2 : 1, prev_dil = dilation;
        if (stride == 2 && stride_now >= os) { /* dilate this stage instead of striding */
            dilation *= 2;
            stride = 1;
        }
        stride_now *= stride;
        for (int b = 0; b < pixl__pag_blocks[s] && h; b++) {
            char nm[8][48];
            const char *leaf[8] = {"conv1", "bn1", "conv2", "bn2", "conv3", "bn3", "downsample.0", "downsample.1"};
            for (int i = 0; i < 8; i++) snprintf(nm[i], sizeof nm[i], "layer%d.%d.%s", s + 1, b, leaf[i]);
            int bs = b ? 1 : stride, dil = b ? dilation : prev_dil;
            pixl_tensor *h1 = pixl_relu(c, conv_bn(c, nm[0], nm[1], h, planes, 1, bs, 1)), *z;
            int gi = gate_index(p, s, b);
            if (gi >= 0) {
                char gname[48], probe[16];
                snprintf(gname, sizeof gname, "layer%d.%d.gate", s + 1, b);
                pixl_gate_opts go = {.soft = p->softmax, .t = p->t_start, .blur = p->blur, .stride = bs,
                                     .train_skip = p->train_skip, .init_on = p->gate_init};
                pixl_tensor *g = pixl_nn_gate(c, gname, h, &go);
                char prefix[56];
                snprintf(prefix, sizeof prefix, "%s.", gname);
                if (g) pixl_params_set_lr_mult(pixl_ctx_params(c), prefix, p->gate_lr_mult, 1.0f);
                gates[gi] = g;
                snprintf(probe, sizeof probe, "gate.%s", p->gates[gi]);
                if (g && pixl_ctx_add_probe(c, probe, g)) {
                    pixl__ctx_fail(c, PIXL_ERR_ARG, "pag_resnet50: %s", pixl_last_error());
                    return NULL;
                }
                if (p->dense && !train) /* the seed's way: h2 everywhere, mixed by the hard gate */
                    z = pixl_mask_gating(c, g, h1, pixl_relu(c, conv_bn(c, nm[2], nm[3], h1, planes, 3, 1, dil)),
                                         p->grad_rule);
                else
                    z = pixl_nn_gated_conv3x3(c, nm[2], nm[3], h1, g, dil, p->grad_rule);
            } else {
                z = pixl_relu(c, conv_bn(c, nm[2], nm[3], h1, planes, 3, 1, dil));
            }
            pixl_tensor *y = conv_bn(c, nm[4], nm[5], z, out, 1, 1, 1);
            pixl_tensor *id = (b == 0 && (bs != 1 || inplanes != out)) ? conv_bn(c, nm[6], nm[7], h, out, 1, bs, 1) : h;
            h = pixl_relu(c, pixl_add(c, y, id));
            inplanes = out;
        }
    }
    if (!h) return NULL;
    if (p->n_scales) {
        pixl_multipool_opts mo = {.n_scales = p->n_scales, .t = p->t_start, .dense = p->dense};
        for (int k = 0; k < p->n_scales; k++) mo.scales[k] = p->scales[k];
        pixl_tensor *att = NULL;
        h = pixl_nn_multipool(c, "multipool", h, &mo, &att);
        if (h && att && pixl_ctx_add_probe(c, "multipool", att)) {
            pixl__ctx_fail(c, PIXL_ERR_ARG, "pag_resnet50: %s", pixl_last_error());
            return NULL;
        }
    }
    /* the budget losses: training graphs only */
    if (train && p->n_gates && p->loss != PIXL_PAG_LOSS_NONE) {
        if (p->loss == PIXL_PAG_LOSS_COMBINED) {
            pixl_tensor *l = pixl_gate_kl_combined_loss(c, gates, p->n_gates, p->lambda);
            if (l && pixl_ctx_add_loss(c, l, p->weight)) {
                pixl__ctx_fail(c, PIXL_ERR_ARG, "pag_resnet50: %s", pixl_last_error());
                return NULL;
            }
        } else {
            for (int i = 0; i < p->n_gates; i++) {
                pixl_tensor *l = p->loss == PIXL_PAG_LOSS_MILD ? pixl_gate_mild_loss(c, gates[i], p->lambda)
                                                               : pixl_gate_kl_loss(c, gates[i], p->lambda);
                float w = p->weight * (p->n_weights ? p->weights[i] : 1.0f);
                if (l && pixl_ctx_add_loss(c, l, w)) {
                    pixl__ctx_fail(c, PIXL_ERR_ARG, "pag_resnet50: %s", pixl_last_error());
                    return NULL;
                }
            }
        }
    }
    h = pixl_nn_conv2d(c, "classifier", h, o->n_classes, 1, 1, NULL, 1);
    return pixl_resize(c, h, (int)x->shape[2], (int)x->shape[3], PIXL_RESIZE_BILINEAR, 0, 0, 0);
}
