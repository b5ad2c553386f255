/* linknet.c — LinkNet (Chaurasia & Culurciello 2017) with a ResNet-18
 * encoder (torchvision names under "backbone."). As the paper says, the
 * input of each encoder block is ADDED to the output of its decoder block
 * (pytorch-semseg's linknet does not build this correctly):
 *   d4 = dec4(layer4) + layer3, d3 = dec3(d4) + layer2, d2 = dec2(d3) + layer1,
 *   d1 = dec1(d2) + maxpool output.
 * Decoder block m -> n (decK.0..8 as an nn.Sequential): 1x1 conv m -> m/4,
 * BN, ReLU; 3x3 transposed conv m/4 -> m/4 (x2: stride 2, padding 1,
 * output_padding 1; dec1, whose encoder block keeps the size: stride 1), BN,
 * ReLU; 1x1 conv m/4 -> n, BN, ReLU (convs without bias). Blocks: dec4
 * 512 -> 256, dec3 256 -> 128, dec2 128 -> 64, dec1 64 -> 64.
 * Final block (final.0..6): 3x3 transposed conv x2 64 -> 32, BN, ReLU;
 * 3x3 conv 32 -> 32, BN, ReLU; 2x2 transposed conv x2 32 -> n_classes (bias).
 * Any input size: an upsampled map larger than the map it is added to (or
 * than the input, at the end) is cropped to it at the top-left, so sizes
 * that are not multiples of 32 work (no crop when they are). */
#include "models_impl.h"

static pixl_tensor *bn_relu(pixl_ctx *c, const char *name, pixl_tensor *x)
{
    return pixl_relu(c, pixl_nn_batch_norm2d(c, name, x, NULL));
}

static pixl_tensor *fit(pixl_ctx *c, pixl_tensor *x, int64_t h, int64_t w)
{
    if (!x) return NULL;
    if (x->shape[2] == h && x->shape[3] == w) return x;
    if (x->shape[2] < h || x->shape[3] < w) {
        pixl__ctx_fail(c, PIXL_ERR_SHAPE, "model linknet: decoder map %s smaller than %lldx%lld", pixl__tshape(x),
                      (long long)h, (long long)w);
        return NULL;
    }
    return pixl_crop2d(c, x, 0, 0, (int)h, (int)w);
}

static pixl_tensor *decoder(pixl_ctx *c, const char *name, pixl_tensor *x, int m, int n, int stride)
{
    pixl_tensor *h = bn_relu(c, pixl__mname(c, name, "1"), pixl_nn_conv2d(c, pixl__mname(c, name, "0"), x, m / 4, 1, 1, NULL, 0));
    pixl_conv2d_opts t = {.stride = {stride, stride}, .padding = {1, 1}, .output_padding = {stride - 1, stride - 1}};
    h = bn_relu(c, pixl__mname(c, name, "4"), pixl_nn_conv_transpose2d(c, pixl__mname(c, name, "3"), h, m / 4, 3, 3, &t, 0));
    return bn_relu(c, pixl__mname(c, name, "7"), pixl_nn_conv2d(c, pixl__mname(c, name, "6"), h, n, 1, 1, NULL, 0));
}

pixl_tensor *pixl__model_linknet(pixl_ctx *c, pixl_tensor *x, const pixl_model_opts *o)
{
    pixl_backbone_taps taps;
    if (!pixl__backbone_build(c, "resnet18", "backbone", x, 32, &taps)) return NULL;
    pixl_tensor *e0 = pixl__backbone_tap(c, &taps, "maxpool"), *e1 = pixl__backbone_tap(c, &taps, "layer1"),
                *e2 = pixl__backbone_tap(c, &taps, "layer2"), *e3 = pixl__backbone_tap(c, &taps, "layer3"),
                *e4 = pixl__backbone_tap(c, &taps, "layer4");
    if (!e0 || !e1 || !e2 || !e3 || !e4) return NULL;
    pixl_tensor *d = pixl_add(c, fit(c, decoder(c, "dec4", e4, 512, 256, 2), e3->shape[2], e3->shape[3]), e3);
    d = pixl_add(c, fit(c, decoder(c, "dec3", d, 256, 128, 2), e2->shape[2], e2->shape[3]), e2);
    d = pixl_add(c, fit(c, decoder(c, "dec2", d, 128, 64, 2), e1->shape[2], e1->shape[3]), e1);
    d = pixl_add(c, decoder(c, "dec1", d, 64, 64, 1), e0);
    pixl_conv2d_opts t2 = {.stride = {2, 2}, .padding = {1, 1}, .output_padding = {1, 1}};
    pixl_tensor *y = bn_relu(c, "final.1", pixl_nn_conv_transpose2d(c, "final.0", d, 32, 3, 3, &t2, 0));
    y = bn_relu(c, "final.4", pixl_nn_conv2d(c, "final.3", y, 32, 3, 3, &(pixl_conv2d_opts){.padding = {1, 1}}, 0));
    y = pixl_nn_conv_transpose2d(c, "final.6", y, o->n_classes, 2, 2, &(pixl_conv2d_opts){.stride = {2, 2}}, 1);
    return fit(c, y, x->shape[2], x->shape[3]);
}
