/* pixelnet_train.c — PixelNet in `pixl train`: the sampled training graph
 * (pixel list and label inputs, head at the sampled pixels, cross-entropy)
 * and the per-step sampling from the batch's label maps (training.sampling).
 * The pixels of step s are drawn with seed hash(training.seed, s), so a
 * resumed run samples exactly as an uninterrupted one. */
#include "pixelnet_impl.h"

pixl_tensor *pixl_pn_train_graph(pixl_ctx *ctx, const pixl_train_config *cfg, const pixl_model_opts *mo,
                                 pixl_tensor *x, pixl_tensor *weight, int ignore_index, pixl_pn_train *st)
{
    if (!ctx || !cfg || !mo || !x || !st) return NULL;
    memset(st, 0, sizeof *st);
    const int64_t B = x->shape[0], k = cfg->training.sampling.pixels_per_image, P = B * k;
    const int ign = ignore_index >= 0 ? ignore_index : PIXL_IGNORE_LABEL;
    const int bce = cfg->training.loss.name == PIXL_LOSS_BALANCED_BCE;
    /* the labels' classes: balanced_bce's single output stands for labels 0 and 1 */
    st->so = (pixl_sampler_opts){.kind = (pixl_sample_kind)cfg->training.sampling.strategy, .per_image = (int)k,
                                 .n_classes = bce ? 2 : mo->n_classes, .pos_fraction = (float)cfg->training.sampling.pos_fraction,
                                 .empty_label = ign};
    st->seed = (uint64_t)cfg->training.seed;
    if (k < 1 || P > INT32_MAX) {
        pixl_ctx_fail(ctx, PIXL_ERR_ARG, "pixelnet: %lld pixels per image x batch %lld", (long long)k, (long long)B);
        return NULL;
    }
    int64_t ps[2] = {P, 3}, ls[1] = {P};
    st->pixels = pixl_input(ctx, "pixels", PIXL_I32, 2, ps);
    st->labels = pixl_input(ctx, "sampled_labels", PIXL_I32, 1, ls);
    st->logits = pixl_pixelnet_sampled(ctx, x, st->pixels, mo);
    st->ignore = ign;
    if (bce) {
        int64_t ts[2] = {P, 1};
        st->target = pixl_input(ctx, "sampled_target", PIXL_F32, 2, ts);
        st->mask = pixl_input(ctx, "sampled_mask", PIXL_F32, 2, ts);
        return pixl_balanced_bce_with_logits(ctx, st->logits, st->target, st->mask, PIXL_REDUCE_MEAN);
    }
    pixl_ce_opts ceo = {.ignore = 1, .ignore_index = ign};
    return pixl_cross_entropy(ctx, st->logits, st->labels, weight, &ceo);
}

int pixl_pn_train_sample(pixl_pn_train *st, const int32_t *labels, int B, int H, int W, int64_t step)
{
    int64_t got = pixl_sample_pixels(&st->so, pixl_hash64(st->seed ^ 0x5049584e45ULL, (uint64_t)step), labels, B, H,
                                     W, pixl_tensor_data(st->pixels), pixl_tensor_data(st->labels));
    if (got < 0) return (int)got;
    if (st->target) pixl_labels_to_binary(pixl_tensor_data(st->labels), pixl_tensor_numel(st->labels), st->ignore,
                                          pixl_tensor_data(st->target), pixl_tensor_data(st->mask));
    return PIXL_OK;
}
