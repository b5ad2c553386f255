/* fc_densenet.c — FC-DenseNet / "Tiramisu" (Jégou et al. 2017, "The One
 * Hundred Layers Tiramisu"), from scratch for CamVid:
 *   first conv 3x3 -> 48;
 *   down path: dense block (layers of BN-ReLU-conv3x3(growth k)-dropout 0.2,
 *     each layer's output concatenated to its input), skip, transition down
 *     (BN-ReLU-conv1x1 same channels-dropout 0.2-maxpool 2x2);
 *   bottleneck dense block, of which only the NEW feature maps go up;
 *   up path: transition up = 3x3 stride-2 transposed conv of the new maps of
 *     the previous block (output 2h+1, cropped to the skip's size from the
 *     top-left as the reference crops centred: (2h+1-H)//2 = 0 for H = 2h or
 *     2h+1), concat [up, skip], dense block (again only its new maps go up,
 *     except for the last one whose whole stack feeds the 1x1 classifier).
 * Variants by name: fc_densenet56 (4 layers per block, k = 12),
 * fc_densenet67 (5 per block, k = 16), fc_densenet103 ((4,5,7,10,12),
 * bottleneck 15, k = 16). Convolutions have biases (Lasagne's default in the
 * authors' code). Parameter names follow the common PyTorch port
 * (bfortuner/pytorch_tiramisu): firstconv, denseBlocksDown.i.layers.j.{norm,
 * conv}, transDownBlocks.i.{norm,conv}, bottleneck.bottleneck.layers.j,
 * transUpBlocks.i.convTrans, denseBlocksUp.i.layers.j, finalConv. The
 * PyTorch definition used for the parameter count and forward parity is in
 * scripts/ref/make_zoo_plain_ref.py. Any input size >= 32 works (odd sizes
 * included: pooling floors, the transposed conv covers 2h+1). */
#include "models_impl.h"

typedef struct {
    int n_blocks;        /* down blocks (= up blocks) */
    int down[5], bottleneck, up[5];
    int growth, first;
} tiramisu_spec;

static const tiramisu_spec k56 = {5, {4, 4, 4, 4, 4}, 4, {4, 4, 4, 4, 4}, 12, 48};
static const tiramisu_spec k67 = {5, {5, 5, 5, 5, 5}, 5, {5, 5, 5, 5, 5}, 16, 48};
static const tiramisu_spec k103 = {5, {4, 5, 7, 10, 12}, 15, {12, 10, 7, 5, 4}, 16, 48};

/* BN-ReLU-conv(k x k, out)-dropout; names p.norm, p.conv */
static pixl_tensor *brc(pixl_ctx *c, const char *name, pixl_tensor *x, int out, int k)
{
    char p[160]; /* (name may live in pixl__mname's ring) */
    snprintf(p, sizeof p, "%s", name);
    x = pixl_relu(c, pixl_nn_batch_norm2d(c, pixl__mname(c, p, "norm"), x, NULL));
    pixl_conv2d_opts o = {.padding = {k / 2, k / 2}};
    x = pixl_nn_conv2d(c, pixl__mname(c, p, "conv"), x, out, k, k, &o, 1);
    return pixl_dropout(c, x, 0.2f);
}

/* A dense block of n layers on x. Returns the whole stack [x, new...] when
 * `whole`, else the concatenation of the new maps only. */
static pixl_tensor *dense_block(pixl_ctx *c, const char *name, pixl_tensor *x, int n, int k, int whole)
{
    if (!x) return NULL;
    char p[160];
    snprintf(p, sizeof p, "%s", name);
    pixl_tensor *stack = x, *fresh[32];
    for (int i = 0; i < n; i++) {
        fresh[i] = brc(c, pixl__mname(c, p, "layers.%d", i), stack, k, 3);
        pixl_tensor *parts[2] = {stack, fresh[i]};
        if (whole || i + 1 < n) stack = pixl_concat(c, 2, parts, 1);
    }
    return whole ? stack : pixl_concat(c, n, fresh, 1);
}

static pixl_tensor *tiramisu(pixl_ctx *c, pixl_tensor *x, const pixl_model_opts *o, const tiramisu_spec *s,
                             const char *arch)
{
    if (x->shape[2] < 32 || x->shape[3] < 32) {
        pixl__ctx_fail(c, PIXL_ERR_SHAPE, "model %s: input %s: height and width must be at least 32 (5 poolings)",
                      arch, pixl__tshape(x));
        return NULL;
    }
    int k = s->growth, ch = s->first;
    pixl_tensor *h = pixl_nn_conv2d(c, "firstconv", x, ch, 3, 3, &(pixl_conv2d_opts){.padding = {1, 1}}, 1);
    pixl_tensor *skips[5];
    for (int i = 0; i < s->n_blocks; i++) {
        h = dense_block(c, pixl__mname(c, "denseBlocksDown", "%d", i), h, s->down[i], k, 1);
        ch += k * s->down[i];
        skips[i] = h;
        h = brc(c, pixl__mname(c, "transDownBlocks", "%d", i), h, ch, 1);
        h = pixl_max_pool2d(c, h, &(pixl_pool2d_opts){.kernel = {2, 2}});
    }
    h = dense_block(c, "bottleneck.bottleneck", h, s->bottleneck, k, 0);
    int prev = k * s->bottleneck;
    for (int i = 0; i < s->n_blocks; i++) {
        pixl_tensor *skip = skips[s->n_blocks - 1 - i];
        h = pixl_nn_conv_transpose2d(c, pixl__mname(c, "transUpBlocks", "%d.convTrans", i), h, prev, 3, 3,
                                     &(pixl_conv2d_opts){.stride = {2, 2}}, 1);
        if (!h || !skip) return NULL;
        /* (2h+1) -> the skip's size, centred crop as the reference: offset (2h+1-H)//2 = 0 */
        int top = (int)(h->shape[2] - skip->shape[2]) / 2, left = (int)(h->shape[3] - skip->shape[3]) / 2;
        h = pixl_crop2d(c, h, top, left, (int)skip->shape[2], (int)skip->shape[3]);
        pixl_tensor *parts[2] = {h, skip};
        int last = i == s->n_blocks - 1;
        h = dense_block(c, pixl__mname(c, "denseBlocksUp", "%d", i), pixl_concat(c, 2, parts, 1), s->up[i], k, last);
        prev = k * s->up[i];
    }
    return pixl_nn_conv2d(c, "finalConv", h, o->n_classes, 1, 1, NULL, 1);
}

pixl_tensor *pixl__model_fc_densenet56(pixl_ctx *c, pixl_tensor *x, const pixl_model_opts *o)
{
    return tiramisu(c, x, o, &k56, "fc_densenet56");
}
pixl_tensor *pixl__model_fc_densenet67(pixl_ctx *c, pixl_tensor *x, const pixl_model_opts *o)
{
    return tiramisu(c, x, o, &k67, "fc_densenet67");
}
pixl_tensor *pixl__model_fc_densenet103(pixl_ctx *c, pixl_tensor *x, const pixl_model_opts *o)
{
    return tiramisu(c, x, o, &k103, "fc_densenet103");
}
