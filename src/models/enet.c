/* enet.c — ENet (Paszke et al. 2016) as the published table describes it,
 * with the parameter names of the PyTorch reference in
 * ../shared/anchors/seg_models.py (initial.*, b10.*, stage1.0.*, ...):
 * initial block (conv3x3 s2 13ch || maxpool -> 16, BN, PReLU); bottlenecks
 * (1x1 or 2x2-s2 projection, regular / dilated / asymmetric 5x1+1x5 main
 * conv, 1x1 expansion, spatial dropout, PReLU); downsampling bottlenecks keep
 * max-pool indices for the decoder's max-unpool; final 2x2 s2 transposed conv. */
#include "models_impl.h"

typedef enum { REGULAR, DOWN, ASYM } bkind;

static pixl_tensor *bn_prelu(pixl_ctx *c, const char *p, int bn_i, int act_i, pixl_tensor *x, int ch)
{
    x = pixl_nn_batch_norm2d(c, pixl__mname(c, p, "%d", bn_i), x, NULL);
    return act_i >= 0 ? pixl_nn_prelu(c, pixl__mname(c, p, "%d", act_i), x, ch) : x;
}

/* returns the block output; for DOWN also the pooling indices */
static pixl_tensor *bottleneck(pixl_ctx *c, const char *name, pixl_tensor *x, int cin, int cout, bkind kind,
                               int dilation, float drop, pixl_tensor **indices)
{
    if (!x) return NULL;
    int mid = cin / 4;
    char ext[128];
    snprintf(ext, sizeof ext, "%s.ext", name);
    pixl_tensor *e;
    if (kind == DOWN) e = pixl_nn_conv2d(c, pixl__mname(c, ext, "0"), x, mid, 2, 2, &(pixl_conv2d_opts){.stride = {2, 2}}, 0);
    else e = pixl_nn_conv2d(c, pixl__mname(c, ext, "0"), x, mid, 1, 1, NULL, 0);
    e = bn_prelu(c, ext, 1, 2, e, mid);
    if (kind == ASYM) {
        e = pixl_nn_conv2d(c, pixl__mname(c, ext, "3.0"), e, mid, 5, 1, &(pixl_conv2d_opts){.padding = {2, 0}}, 0);
        e = pixl_nn_conv2d(c, pixl__mname(c, ext, "3.1"), e, mid, 1, 5, &(pixl_conv2d_opts){.padding = {0, 2}}, 0);
    } else {
        pixl_conv2d_opts o = {.padding = {dilation, dilation}, .dilation = {dilation, dilation}};
        e = pixl_nn_conv2d(c, pixl__mname(c, ext, "3"), e, mid, 3, 3, &o, 0);
    }
    e = bn_prelu(c, ext, 4, 5, e, mid);
    e = pixl_nn_conv2d(c, pixl__mname(c, ext, "6"), e, cout, 1, 1, NULL, 0);
    e = bn_prelu(c, ext, 7, -1, e, cout);
    e = pixl_dropout2d(c, e, drop);
    pixl_tensor *m = x;
    if (kind == DOWN) {
        m = pixl_max_pool2d(c, x, &(pixl_pool2d_opts){.kernel = {2, 2}});
        *indices = pixl_max_pool2d_indices(c, m);
        if (m && cout > cin) {
            int64_t zs[4] = {m->shape[0], cout - cin, m->shape[2], m->shape[3]};
            pixl_tensor *z = pixl_constant(c, "zeros", PIXL_F32, 4, zs, NULL);
            pixl_tensor *parts[2] = {m, z};
            m = pixl_concat(c, 2, parts, 1);
        }
    }
    return pixl_nn_prelu(c, pixl__mname(c, name, "act"), pixl_add(c, m, e), cout);
}

static pixl_tensor *up_bottleneck(pixl_ctx *c, const char *name, pixl_tensor *x, int cin, int cout,
                                  pixl_tensor *indices, pixl_tensor *like, float drop)
{
    if (!x || !indices || !like) return NULL;
    int mid = cin / 4;
    char ext[128], mainp[128];
    snprintf(ext, sizeof ext, "%s.ext", name);
    snprintf(mainp, sizeof mainp, "%s.main", name);
    pixl_tensor *m = pixl_nn_conv2d(c, pixl__mname(c, mainp, "0"), x, cout, 1, 1, NULL, 0);
    m = pixl_nn_batch_norm2d(c, pixl__mname(c, mainp, "1"), m, NULL);
    m = pixl_max_unpool2d(c, m, indices, (int)like->shape[2], (int)like->shape[3]);
    pixl_tensor *e = pixl_nn_conv2d(c, pixl__mname(c, ext, "0"), x, mid, 1, 1, NULL, 0);
    e = bn_prelu(c, ext, 1, 2, e, mid);
    pixl_conv2d_opts t = {.stride = {2, 2}, .padding = {1, 1}, .output_padding = {1, 1}};
    e = pixl_nn_conv_transpose2d(c, pixl__mname(c, ext, "3"), e, mid, 3, 3, &t, 0);
    e = bn_prelu(c, ext, 4, 5, e, mid);
    e = pixl_nn_conv2d(c, pixl__mname(c, ext, "6"), e, cout, 1, 1, NULL, 0);
    e = bn_prelu(c, ext, 7, -1, e, cout);
    e = pixl_dropout2d(c, e, drop);
    return pixl_nn_prelu(c, pixl__mname(c, name, "act"), pixl_add(c, m, e), cout);
}

pixl_tensor *pixl__model_enet(pixl_ctx *c, pixl_tensor *x, const pixl_model_opts *o)
{
    int in = o->in_channels;
    if (x->shape[2] % 8 || x->shape[3] % 8) {
        pixl__ctx_fail(c, PIXL_ERR_SHAPE, "model enet: input %s: height and width must be multiples of 8",
                      pixl__tshape(x));
        return NULL;
    }
    /* initial block */
    pixl_tensor *cv = pixl_nn_conv2d(c, "initial.conv", x, 16 - in, 3, 3,
                                     &(pixl_conv2d_opts){.stride = {2, 2}, .padding = {1, 1}}, 0);
    pixl_tensor *mp = pixl_max_pool2d(c, x, &(pixl_pool2d_opts){.kernel = {2, 2}});
    pixl_tensor *parts[2] = {cv, mp};
    pixl_tensor *h = pixl_concat(c, 2, parts, 1);
    h = pixl_nn_batch_norm2d(c, "initial.bn", h, NULL);
    h = pixl_nn_prelu(c, "initial.act", h, 16);
    pixl_tensor *s1 = h, *i1 = NULL, *i2 = NULL;
    h = bottleneck(c, "b10", h, 16, 64, DOWN, 1, 0.01f, &i1);
    for (int i = 0; i < 4; i++) h = bottleneck(c, pixl__mname(c, "stage1", "%d", i), h, 64, 64, REGULAR, 1, 0.01f, NULL);
    pixl_tensor *s2 = h;
    h = bottleneck(c, "b20", h, 64, 128, DOWN, 1, 0.1f, &i2);
    static const struct { bkind k; int d; } s23[8] = {{REGULAR, 1}, {REGULAR, 2}, {ASYM, 1}, {REGULAR, 4},
                                                       {REGULAR, 1}, {REGULAR, 8}, {ASYM, 1}, {REGULAR, 16}};
    for (int s = 2; s <= 3; s++)
        for (int i = 0; i < 8; i++)
            h = bottleneck(c, pixl__mname(c, s == 2 ? "stage2" : "stage3", "%d", i), h, 128, 128, s23[i].k, s23[i].d, 0.1f,
                           NULL);
    h = up_bottleneck(c, "b40", h, 128, 64, i2, s2, 0.1f);
    for (int i = 0; i < 2; i++) h = bottleneck(c, pixl__mname(c, "stage4", "%d", i), h, 64, 64, REGULAR, 1, 0.1f, NULL);
    h = up_bottleneck(c, "b50", h, 64, 16, i1, s1, 0.1f);
    h = bottleneck(c, "stage5.0", h, 16, 16, REGULAR, 1, 0.1f, NULL);
    return pixl_nn_conv_transpose2d(c, "fullconv", h, o->n_classes, 2, 2, &(pixl_conv2d_opts){.stride = {2, 2}}, 1);
}
