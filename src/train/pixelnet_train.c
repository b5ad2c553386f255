/* pixelnet_train.c — PixelNet's sampled head in `pixl train`: the pixel
 * list and label inputs, the head at those pixels, and the per-step
 * sampling from the batch's label maps (training.sampling). The loss on
 * the sampled logits is the task's (src/tasks/). The pixels of step s are
 * drawn with seed hash(training.seed, s), so a resumed run samples exactly
 * as an uninterrupted one. */
#include "train/trainer_impl.h"

pixl_tensor *pixl__pn_train_graph(pixl_ctx *ctx, const pixl_train_config *cfg, const pixl_model_opts *mo,
                                 pixl_tensor *x, int sampler_classes, int empty_label, pixl_pn_train *st)
{
    if (!ctx || !cfg || !mo || !x || !st) return NULL;
    memset(st, 0, sizeof *st);
    const int all = cfg->training.sampling.strategy == PIXL_SAMPLE_ALL;
    const int64_t B = x->shape[0], k = all ? x->shape[2] * x->shape[3] : cfg->training.sampling.pixels_per_image,
                  P = B * k;
    st->so = (pixl_sampler_opts){.kind = (pixl_sample_kind)cfg->training.sampling.strategy, .per_image = (int)k,
                                 .n_classes = sampler_classes,
                                 .pos_fraction = (float)cfg->training.sampling.pos_fraction,
                                 .empty_label = empty_label};
    st->seed = (uint64_t)cfg->training.seed;
    if (k < 1 || P > INT32_MAX) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "pixelnet: %lld pixels per image x batch %lld", (long long)k, (long long)B);
        return NULL;
    }
    int64_t ps[2] = {P, 3}, ls[1] = {P};
    st->pixels = pixl_input(ctx, "pixels", PIXL_I32, 2, ps);
    st->labels = pixl_input(ctx, "sampled_labels", PIXL_I32, 1, ls);
    st->logits = pixl_pixelnet_sampled(ctx, x, st->pixels, mo);
    return st->logits;
}

int pixl__pn_train_sample(pixl_pn_train *st, const int32_t *labels, int B, int H, int W, int64_t step)
{
    int64_t got = pixl_sample_pixels(&st->so, pixl__hash64(st->seed ^ 0x5049584e45ULL, (uint64_t)step), labels, B, H,
                                     W, pixl_tensor_data(st->pixels), pixl_tensor_data(st->labels));
    return got < 0 ? (int)got : PIXL_OK;
}
