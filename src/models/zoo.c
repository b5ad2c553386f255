/* zoo.c — the model registry: architectures buildable by name. */
#include "models_impl.h"
#include "pixelnet_impl.h"

typedef struct { const char *name; pixl_model_fn fn; const char *doc; } model_entry;

static const model_entry g_models[] = {
    {"pixelnet", pixl__model_pixelnet, "PixelNet (Bansal et al. 2017): backbone taps -> hypercolumns -> MLP, trained on sampled pixels (training.sampling), dense chunked inference; options taps/mlp/dropout/bn/align (pixl_models.h)"},
    {"enet", pixl__model_enet, "ENet (Paszke et al. 2016): initial block, bottlenecks, max-unpool decoder"},
    {"unet", pixl__model_unet, "U-Net with same padding and BatchNorm; width 32 at 1.0 (variant 'depthN'); variant "
                              "'valid': the paper's form (valid convs, crop-and-concat, no BN, width 64 at 1.0, "
                              "mirrored input border) = pytorch-semseg unet(is_batchnorm=False), 'valid_bn' its BN default"},
    {"segnet_basic", pixl__model_segnet_basic, "SegNet-Basic (CamVid): 4 x conv7x7-64, max-unpool decoder"},
    {"pspnet", pixl__model_pspnet, "PSPNet (Zhao et al. 2017), semseg head: dilated ResNet (backbone resnet50|resnet101, "
                                  "output_stride 8|16), pyramid pooling 1/2/3/6, aux head on layer3 (weight 0.4)"},
    {"deeplabv3plus", pixl__model_deeplabv3plus, "DeepLabv3+ as PixelPick: backbone mobilenet_v2 (default) or resnet50, "
                                                "output_stride 16|8, ASPP 6/12/18 + image pooling, 48-ch low-level decoder"},
    {"refinenet", pixl__model_refinenet, "RefineNet-4-cascade (Lin et al. 2017) as refinenet-pytorch rf101: ResNet-101, "
                                        "RCU, multi-resolution fusion, chained residual pooling"},
    {"gfrnet", pixl__model_gfrnet, "G-FRNet (Islam et al. 2017) as the authors' CamVid prototxt: VGG-16-BN, gate units, "
                                  "gated refinement, deep supervision pred_1..5 (aux)"},
    {"pag_resnet50", pixl__model_pag_resnet50, "PAG (Kong & Fowlkes 2019): ResNet-50 (stride on the 1x1 reduce, output_stride 16|8|32, "
                                              "width) with pixel-wise gates on the 3x3 convs of res2-res5 (the seed's 15), MultiPool on res5, "
                                              "computed only where gated on at inference; model.options.pag (docs/pag.md)"},
    {"vgg16", pixl__model_vgg16, "VGG-16 features (torchvision names under backbone.) + 1x1 classifier + bilinear x32 up"},
    {"vgg16_bn", pixl__model_vgg16_bn, "VGG-16-BN features + 1x1 classifier + bilinear x32 up"},
    {"resnet18", pixl__model_resnet18, "ResNet-18 (torchvision, output_stride 8/16/32) + 1x1 classifier + bilinear up"},
    {"resnet34", pixl__model_resnet34, "ResNet-34 (torchvision, output_stride 8/16/32) + 1x1 classifier + bilinear up"},
    {"resnet50", pixl__model_resnet50, "ResNet-50 (torchvision, output_stride 8/16/32) + 1x1 classifier + bilinear up"},
    {"resnet101", pixl__model_resnet101, "ResNet-101 (torchvision, output_stride 8/16/32) + 1x1 classifier + bilinear up"},
    {"mobilenet_v2", pixl__model_mobilenet_v2, "MobileNetV2 features (torchvision, output_stride 8/16/32) + 1x1 classifier + bilinear up"},
    {"fcn32s", pixl__model_fcn32s, "FCN-32s (Long et al. 2015) on VGG-16, learned x32 upsampling (bilinear init); variant 'pad100' = the original pad-100-and-crop form, default same padding"},
    {"fcn16s", pixl__model_fcn16s, "FCN-16s: FCN-32s + pool4 scores, learned x2 and x16 upsampling; variant 'pad100' or same padding"},
    {"fcn8spac", pixl__model_fcn8spac, "PacFCN (Su et al. 2019, pacnet's FCN8sPac) = fcn8s (same padding) with conv3_3, conv4_3, conv5_3 "
                                      "as PacConv2d guided by conv2_2's ReLU x 1e-4 (hot-swap: fcn8s weights load), "
                                      "final x8 bilinear"},
    {"fcn8s", pixl__model_fcn8s, "FCN-8s: + pool3 scores, learned x2, x2, x8 upsampling; variant 'pad100' = pytorch-semseg fcn8s (learned_billinear), default same padding"},
    {"segnet", pixl__model_segnet, "SegNet (Badrinarayanan et al. 2017): VGG-16-BN encoder (torchvision names), max-unpool with stored indices, mirrored conv-BN-ReLU decoder, unrectified logits"},
    {"linknet", pixl__model_linknet, "LinkNet (Chaurasia & Culurciello 2017): ResNet-18 encoder, decoder blocks added to the encoder block inputs as in the paper"},
    {"fc_densenet56", pixl__model_fc_densenet56, "FC-DenseNet56 / Tiramisu (Jegou et al. 2017): 4 layers per dense block, growth 12"},
    {"fc_densenet67", pixl__model_fc_densenet67, "FC-DenseNet67 / Tiramisu: 5 layers per dense block, growth 16"},
    {"fc_densenet103", pixl__model_fc_densenet103, "FC-DenseNet103 / Tiramisu: blocks 4,5,7,10,12 | 15 | 12,10,7,5,4, growth 16"},
    {"icnet", pixl__model_icnet, "ICNet (Zhao et al. 2018) as pytorch-semseg's icnetBN: 3-resolution cascade, CFF aux heads "
                                "(weights 0.4, 0.16); input >= 161"},
    {"frrn_a", pixl__model_frrn_a, "FRRN A (Pohlen et al. 2017) as pytorch-semseg: full-res residual stream, 4 pooling "
                                  "stages (sizes padded to a multiple of 16); variant 'gn': GroupNorm"},
    {"frrn_b", pixl__model_frrn_b, "FRRN B as pytorch-semseg: 5 pooling stages (sizes padded to a multiple of 32); variant 'gn'"},
};
#define N_MODELS (int)(sizeof g_models / sizeof g_models[0])

int pixl_model_count(void) { return N_MODELS; }
const char *pixl_model_name(int i) { return i >= 0 && i < N_MODELS ? g_models[i].name : NULL; }
const char *pixl_model_doc(int i) { return i >= 0 && i < N_MODELS ? g_models[i].doc : NULL; }
/* architectures that cannot take a 64x64 input */
static const struct { const char *name; int side; } g_min_sizes[] = {{"icnet", 161}};

int pixl__model_min_size(const char *arch)
{
    char bb[PIXL_NAME_LEN];
    int frozen;
    const char *crf;
    if (pixl__model_split_crf(arch, bb, sizeof bb, &frozen, &crf)) return pixl__model_min_size(bb);
    for (int i = 0; arch && i < (int)(sizeof g_min_sizes / sizeof g_min_sizes[0]); i++)
        if (!strcmp(arch, g_min_sizes[i].name)) return g_min_sizes[i].side;
    return 0;
}

const char *pixl__mname(pixl_ctx *ctx, const char *prefix, const char *fmt, ...)
{
    char leaf[200], full[PIXL_NAME_LEN + 200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(leaf, sizeof leaf, fmt, ap);
    va_end(ap);
    if (prefix && prefix[0]) snprintf(full, sizeof full, "%s.%s", prefix, leaf);
    else snprintf(full, sizeof full, "%s", leaf);
    char *name = ctx ? pixl__ctx_own(ctx, pixl__strdup(full)) : NULL;
    if (!name) {
        if (ctx) pixl__ctx_fail(ctx, PIXL_ERR_NOMEM, "model: out of memory naming '%s'", full);
        return "";
    }
    return name;
}

pixl_tensor *pixl_model_build(pixl_ctx *ctx, const char *arch, pixl_tensor *x, const pixl_model_opts *o)
{
    if (!ctx || !x) return NULL;
    if (pixl__model_opts_check(arch, o)) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "%s", pixl_last_error());
        return NULL;
    }
    pixl_model_opts d = o ? *o : (pixl_model_opts){0};
    if (d.n_classes <= 0) d.n_classes = 11;
    if (d.in_channels <= 0) d.in_channels = 3;
    if (d.width <= 0) d.width = 1;
    if (x->ndim != 4 || x->shape[1] != d.in_channels) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "model %s: input %s, expected (N, %d, H, W)", arch ? arch : "?",
                      pixl__tshape(x), d.in_channels);
        return NULL;
    }
    for (int i = 0; arch && i < N_MODELS; i++)
        if (!strcmp(arch, g_models[i].name)) return d.crf ? pixl__model_crf(ctx, arch, x, &d) : g_models[i].fn(ctx, x, &d);
    if (arch && strstr(arch, "_crf")) return pixl__model_with_crf(ctx, arch, x, &d);
    char known[512] = "";
    for (int i = 0; i < N_MODELS; i++)
        snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i ? ", " : "", g_models[i].name);
    pixl__ctx_fail(ctx, PIXL_ERR_NOT_FOUND,
                  "unknown model '%s' (known: %s; each also as NAME[frozen]_crf... with a PacCRF, see pixl_crf_parse)",
                  arch ? arch : "(null)", known);
    return NULL;
}
