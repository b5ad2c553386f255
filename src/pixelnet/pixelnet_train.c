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
    const int all = cfg->training.sampling.strategy == PIXL_SAMPLE_ALL;
    const int64_t B = x->shape[0], k = all ? x->shape[2] * x->shape[3] : cfg->training.sampling.pixels_per_image,
                  P = B * k;
    const int ign = ignore_index >= 0 ? ignore_index : PIXL_IGNORE_LABEL;
    const int bce = cfg->training.loss.name == PIXL_LOSS_BALANCED_BCE, nrm = cfg->training.loss.name == PIXL_LOSS_NORMAL;
    /* the labels' classes: balanced_bce's single output stands for labels 0 and 1; normal: label 0 = has a target */
    st->so = (pixl_sampler_opts){.kind = (pixl_sample_kind)cfg->training.sampling.strategy, .per_image = (int)k,
                                 .n_classes = bce ? 2 : nrm ? 1 : mo->n_classes,
                                 .pos_fraction = (float)cfg->training.sampling.pos_fraction, .empty_label = ign};
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
    st->normals = nrm;
    if (nrm) {
        int64_t ts[2] = {P, 3};
        st->target = pixl_input(ctx, "sampled_normals", PIXL_F32, 2, ts);
        st->mask = pixl_input(ctx, "sampled_valid", PIXL_I32, 1, ls);
        return pixl_normal_loss(ctx, st->logits, st->target, st->mask, 0);
    }
    if (bce) {
        int64_t ts[2] = {P, 1};
        st->target = pixl_input(ctx, "sampled_target", PIXL_F32, 2, ts);
        st->mask = pixl_input(ctx, "sampled_mask", PIXL_F32, 2, ts);
        return pixl_balanced_bce_with_logits(ctx, st->logits, st->target, st->mask, PIXL_REDUCE_MEAN);
    }
    pixl_ce_opts ceo = {.ignore = 1, .ignore_index = ign};
    return pixl_cross_entropy(ctx, st->logits, st->labels, weight, &ceo);
}

int pixl_pn_train_sample(pixl_pn_train *st, const int32_t *labels, const float *targets, int B, int H, int W,
                         int64_t step)
{
    int64_t got = pixl_sample_pixels(&st->so, pixl_hash64(st->seed ^ 0x5049584e45ULL, (uint64_t)step), labels, B, H,
                                     W, pixl_tensor_data(st->pixels), pixl_tensor_data(st->labels));
    if (got < 0) return (int)got;
    if (st->normals) {
        if (!targets) return pixl_set_error(PIXL_ERR_ARG, "pixelnet: the normal loss needs the batch's normals");
        const int32_t *pix = pixl_tensor_data(st->pixels), *lab = pixl_tensor_data(st->labels);
        float *t = pixl_tensor_data(st->target);
        int32_t *valid = pixl_tensor_data(st->mask);
        const int64_t P = pixl_tensor_numel(st->labels), hw = (int64_t)H * W;
        for (int64_t r = 0; r < P; r++) {
            const int64_t q = (int64_t)pix[3 * r + 1] * W + pix[3 * r + 2];
            const float *src = targets + (int64_t)pix[3 * r] * 3 * hw + q;
            valid[r] = lab[r] == 0;
            for (int c = 0; c < 3; c++) t[3 * r + c] = valid[r] ? src[c * hw] : 0;
        }
        return PIXL_OK;
    }
    if (st->target) pixl_labels_to_binary(pixl_tensor_data(st->labels), pixl_tensor_numel(st->labels), st->ignore,
                                          pixl_tensor_data(st->target), pixl_tensor_data(st->mask));
    return PIXL_OK;
}
