/* models_impl.h — helpers shared by the model builders in src/models/. */
#ifndef PIXL_MODELS_IMPL_H
#define PIXL_MODELS_IMPL_H

#include "pixl_impl.h"

/* "prefix.leaf" (no dot when prefix is empty), stored in ctx until it is
 * freed; "" with an error recorded in ctx when memory runs out */
const char *pixl__mname(pixl_ctx *ctx, const char *prefix, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

typedef pixl_tensor *(*pixl_model_fn)(pixl_ctx *ctx, pixl_tensor *x, const pixl_model_opts *o);

pixl_tensor *pixl__model_enet(pixl_ctx *ctx, pixl_tensor *x, const pixl_model_opts *o);
pixl_tensor *pixl__model_unet(pixl_ctx *ctx, pixl_tensor *x, const pixl_model_opts *o);
pixl_tensor *pixl__model_segnet_basic(pixl_ctx *ctx, pixl_tensor *x, const pixl_model_opts *o);
/* heads on pretrained-style encoders: pspnet.c, deeplabv3plus.c, refinenet.c, gfrnet.c */
pixl_tensor *pixl__model_pspnet(pixl_ctx *ctx, pixl_tensor *x, const pixl_model_opts *o);
pixl_tensor *pixl__model_deeplabv3plus(pixl_ctx *ctx, pixl_tensor *x, const pixl_model_opts *o);
pixl_tensor *pixl__model_refinenet(pixl_ctx *ctx, pixl_tensor *x, const pixl_model_opts *o);
pixl_tensor *pixl__model_pag_resnet50(pixl_ctx *ctx, pixl_tensor *x, const pixl_model_opts *o);
/* pag_resnet50's bottlenecks per stage (res2..res5: 3, 4, 6, 3) and the
 * name "resS_B" of block b (0-based) of stage s (0 = res2) */
extern const int pixl__pag_blocks[4];
void pixl__pag_block_name(int stage, int block, char name[8]);
pixl_tensor *pixl__model_gfrnet(pixl_ctx *ctx, pixl_tensor *x, const pixl_model_opts *o);
/* backbones.c: each backbone + 1x1 classifier + bilinear upsampling to the input size */
pixl_tensor *pixl__model_vgg16(pixl_ctx *ctx, pixl_tensor *x, const pixl_model_opts *o);
pixl_tensor *pixl__model_vgg16_bn(pixl_ctx *ctx, pixl_tensor *x, const pixl_model_opts *o);
pixl_tensor *pixl__model_resnet18(pixl_ctx *ctx, pixl_tensor *x, const pixl_model_opts *o);
pixl_tensor *pixl__model_resnet34(pixl_ctx *ctx, pixl_tensor *x, const pixl_model_opts *o);
pixl_tensor *pixl__model_resnet50(pixl_ctx *ctx, pixl_tensor *x, const pixl_model_opts *o);
pixl_tensor *pixl__model_resnet101(pixl_ctx *ctx, pixl_tensor *x, const pixl_model_opts *o);
pixl_tensor *pixl__model_mobilenet_v2(pixl_ctx *ctx, pixl_tensor *x, const pixl_model_opts *o);
/* fcn.c, segnet.c, linknet.c: models on the VGG-16 / ResNet-18 backbones */
pixl_tensor *pixl__model_fcn32s(pixl_ctx *ctx, pixl_tensor *x, const pixl_model_opts *o);
pixl_tensor *pixl__model_fcn16s(pixl_ctx *ctx, pixl_tensor *x, const pixl_model_opts *o);
pixl_tensor *pixl__model_fcn8spac(pixl_ctx *ctx, pixl_tensor *x, const pixl_model_opts *o);
pixl_tensor *pixl__model_fcn8s(pixl_ctx *ctx, pixl_tensor *x, const pixl_model_opts *o);
pixl_tensor *pixl__model_segnet(pixl_ctx *ctx, pixl_tensor *x, const pixl_model_opts *o);
pixl_tensor *pixl__model_linknet(pixl_ctx *ctx, pixl_tensor *x, const pixl_model_opts *o);
pixl_tensor *pixl__model_fc_densenet56(pixl_ctx *ctx, pixl_tensor *x, const pixl_model_opts *o);
pixl_tensor *pixl__model_fc_densenet67(pixl_ctx *ctx, pixl_tensor *x, const pixl_model_opts *o);
pixl_tensor *pixl__model_fc_densenet103(pixl_ctx *ctx, pixl_tensor *x, const pixl_model_opts *o);
pixl_tensor *pixl__model_icnet(pixl_ctx *ctx, pixl_tensor *x, const pixl_model_opts *o);
pixl_tensor *pixl__model_frrn_a(pixl_ctx *ctx, pixl_tensor *x, const pixl_model_opts *o);
pixl_tensor *pixl__model_frrn_b(pixl_ctx *ctx, pixl_tensor *x, const pixl_model_opts *o);
/* Smallest input side the architecture takes (pixl_model_create builds at
 * max(64, this)); 0 for an unknown name. */
int pixl__model_min_size(const char *arch);
/* model options in range (0 = the default), else an error naming the option (model.c) */
int pixl__model_opts_check(const char *arch, const pixl_model_opts *o);
/* "<arch>[frozen]_crf..." (crf_model.c): 1 and the parts when arch has a CRF, else 0 */
int pixl__model_split_crf(const char *arch, char *backbone, size_t blen, int *frozen, const char **crf);
pixl_tensor *pixl__model_with_crf(pixl_ctx *ctx, const char *arch, pixl_tensor *x, const pixl_model_opts *o);
/* the compact name parsed: backbone name, frozen and the CRF's options */
int pixl__model_crf_from_arch(const char *arch, char *backbone, size_t blen, int *frozen, pixl_crf_opts *co);
/* network `backbone` with the PacCRF o->crf (non-NULL) on its logits, o->crf_frozen */
pixl_tensor *pixl__model_crf(pixl_ctx *ctx, const char *backbone, pixl_tensor *x, const pixl_model_opts *o);

/* ---------------------------------------------------------------- backbones
 * Encoders with torchvision's state_dict names under `prefix` ("" for a bare
 * backbone, "backbone" inside a segmentation model): vgg16, vgg16_bn,
 * resnet18/34/50/101, mobilenet_v2 (mobilenet_v2_320: without the last 1x1
 * conv to 1280, ending at the 320-channel features.17 as DeepLab's encoders
 * do). Classifier layers are not built.
 * output_stride 32 (default, 0), 16 or 8 replaces strides by dilation as
 * torchvision's replace_stride_with_dilation does (ResNets; MobileNetV2 as
 * DeepLab uses it). The taps are the feature maps a decoder or a hypercolumn
 * can read, in order of increasing stride, named after the torchvision module
 * that produced them (resnet: "relu" (stride 2), "layer1".."layer4"; vgg:
 * the ReLU before each pool and each pool, e.g. "features.15", "features.16";
 * mobilenet_v2: "features.N" of each stage end). For max-pool indices
 * (SegNet) a model builds its own encoder with the same names. */
#define PIXL_MAX_TAPS 16
typedef struct pixl_backbone_taps {
    int n;
    pixl_tensor *t[PIXL_MAX_TAPS];
    char name[PIXL_MAX_TAPS][32];
    int stride[PIXL_MAX_TAPS];   /* input pixels per feature pixel */
    int channels[PIXL_MAX_TAPS];
} pixl_backbone_taps;

/* Build backbone `name` on x; returns the last feature map (also the last
 * tap) or NULL with a ctx error. taps may be NULL. */
pixl_tensor *pixl__backbone_build(pixl_ctx *ctx, const char *name, const char *prefix, pixl_tensor *x,
                                  int output_stride, pixl_backbone_taps *taps);
/* The tap called `tap`, or NULL (ctx error naming the known taps). */
pixl_tensor *pixl__backbone_tap(pixl_ctx *ctx, const pixl_backbone_taps *taps, const char *tap);
/* The VGG-16 features behind vgg16/vgg16_bn with their names (prefix.features.N),
 * for models that change them: first_pad = padding of the first conv (FCN's
 * pad 100), ceil_mode of the five max-pools (FCN). Taps as above; a model that
 * needs max-pool indices takes pixl_max_pool2d_indices() of the pool taps. */
pixl_tensor *pixl__backbone_vgg16(pixl_ctx *ctx, const char *prefix, pixl_tensor *x, int bn, int first_pad, int ceil_mode,
                                 pixl_backbone_taps *taps);
/* pac = 1 (PacFCN, no BN): conv3_3, conv4_3, conv5_3 (features.14, .21, .28) become PacConv2d (3x3, pad 1,
 * Gaussian kernel) guided by features.8 (conv2_2's ReLU) resized bilinearly to their input size, x 1e-4;
 * same parameter names and shapes as the plain convs. */
pixl_tensor *pixl__backbone_vgg16_ex(pixl_ctx *ctx, const char *prefix, pixl_tensor *x, int bn, int first_pad,
                                    int ceil_mode, int pac, pixl_backbone_taps *taps);

#endif
