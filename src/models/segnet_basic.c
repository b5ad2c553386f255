/* segnet_basic.c — SegNet-Basic, the SegNet-Tutorial CamVid model
 * (Badrinarayanan et al.): 4 x [conv7x7-64 + BN + ReLU + maxpool 2x2 with
 * indices], 4 x [max-unpool + conv7x7-64 + BN] (no ReLU in the decoder, as
 * the published Caffe model), 1x1 classifier. The input LRN is omitted.
 * Names as ../shared/anchors/seg_models.py: enc.i.{0,1}, dec.i.{0,1}, classifier. */
#include "models_impl.h"

pixl_tensor *pixl__model_segnet_basic(pixl_ctx *c, pixl_tensor *x, const pixl_model_opts *o)
{
    int w = (int)(64 * o->width + 0.5f);
    pixl_conv2d_opts cv = {.padding = {3, 3}};
    pixl_tensor *idx[4], *pre[4], *h = x;
    for (int i = 0; i < 4; i++) {
        h = pixl_nn_conv2d(c, pixl__mname(c, "enc", "%d.0", i), h, w, 7, 7, &cv, 1);
        h = pixl_relu(c, pixl_nn_batch_norm2d(c, pixl__mname(c, "enc", "%d.1", i), h, NULL));
        pre[i] = h;
        h = pixl_max_pool2d(c, h, &(pixl_pool2d_opts){.kernel = {2, 2}});
        idx[i] = pixl_max_pool2d_indices(c, h);
    }
    for (int i = 0; i < 4; i++) {
        pixl_tensor *like = pre[3 - i];
        if (!like || !h) return NULL;
        h = pixl_max_unpool2d(c, h, idx[3 - i], (int)like->shape[2], (int)like->shape[3]);
        h = pixl_nn_conv2d(c, pixl__mname(c, "dec", "%d.0", i), h, w, 7, 7, &cv, 1);
        h = pixl_nn_batch_norm2d(c, pixl__mname(c, "dec", "%d.1", i), h, NULL);
    }
    return pixl_nn_conv2d(c, "classifier", h, o->n_classes, 1, 1, NULL, 1);
}
