/* normals.c — the surface-normal task: three outputs per pixel (a
 * direction), validated by angular errors (the lowest mean angle picks the
 * best checkpoint). The loader carries the true normals per pixel
 * (dense_targets), moved with the image by every augmentation; a pixel
 * counts where it has one (label 0; 255 elsewhere). Two losses, at the
 * sampled pixels of a PixelNet head (P, 3) or on a dense model's output
 * (B, 3, H, W), both on the L2-normalised prediction:
 *   normal      PixelNet's normal loss, mean (1 - cos) = 1/2 ||u - t||^2
 *               (pixl_normal_loss);
 *   l2_angular  PAG's demo (obj_normalEst + obj_normalEst_acosLoss, weight 1
 *               each): that L2 term plus the mean angle in radians
 *               (pixl_angular_loss), normalised with max(||x||, 1e-5). The
 *               seed divides both sums by 3 x all pixels, pixl takes means
 *               over the counted pixels: the same two terms in the same
 *               ratio, scaled by 3 / (fraction of pixels counted). */
#include "tasks/task.h"

typedef struct {
    pixl_tensor *target, *valid; /* normals (P, 3) / (B, 3, H, W) and validity (P) / (B, H, W) */
    const pixl_ctx *ctx;
} normal_state;

static const char *const xyz[3] = {"normal_x", "normal_y", "normal_z"};

static int normal_setup(pixl__task *t, const pixl_train_config *cfg, const pixl_dataset *train)
{
    if (cfg->training.loss.class_weights != PIXL_CLASS_WEIGHTS_NONE)
        return pixl_set_error(PIXL_ERR_ARG, "training.loss.name %s: class_weights do not apply (set none)",
                              pixl__loss_name((int)cfg->training.loss.name));
    t->n_outputs = 3;
    t->output_names = xyz;
    t->dense_targets = 1;
    t->sampler_classes = 1; /* label 0: the pixel has a normal */
    return PIXL_OK;
}

static pixl_tensor *normal_loss(pixl__task *t, pixl_ctx *ctx, pixl_tensor *logits, pixl_tensor *labels)
{
    normal_state *s = t->state;
    if (s->ctx != ctx) {
        if (t->sampled) {
            int64_t ts[2] = {logits->shape[0], 3}, ls[1] = {logits->shape[0]};
            s->target = pixl_input(ctx, "sampled_normals", PIXL_F32, 2, ts);
            s->valid = pixl_input(ctx, "sampled_valid", PIXL_I32, 1, ls);
        } else {
            if (logits->ndim != 4 || logits->shape[1] != 3 || labels->ndim != 3 ||
                labels->shape[0] != logits->shape[0] || labels->shape[1] != logits->shape[2] ||
                labels->shape[2] != logits->shape[3]) {
                pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "normals task: output %s and labels %s do not fit (B, 3, H, W)",
                              pixl__tshape(logits), pixl__tshape(labels));
                return NULL;
            }
            s->target = pixl_input(ctx, "normals", PIXL_F32, 4, logits->shape);
            s->valid = pixl_input(ctx, "normals_valid", PIXL_I32, 3, labels->shape);
        }
        s->ctx = ctx;
    }
    if (t->cfg->training.loss.name == PIXL_LOSS_L2_ANGULAR)
        return pixl_add(ctx, pixl_normal_loss(ctx, logits, s->target, s->valid, 1e-5f),
                        pixl_angular_loss(ctx, logits, s->target, s->valid, 1e-5f));
    return pixl_normal_loss(ctx, logits, s->target, s->valid, 0);
}

/* the true normal of each sampled pixel, or of every pixel, from the batch's targets (B, 3, H, W) */
static int normal_prepare(pixl__task *t, const pixl_batch *b, const pixl__samples *smp)
{
    normal_state *s = t->state;
    if (!b->targets || b->target_channels != 3)
        return pixl_set_error(PIXL_ERR_ARG, "normals task: the batch has no per-pixel normals");
    const int64_t W = b->width, hw = (int64_t)b->height * b->width;
    float *tg = pixl_tensor_data(s->target);
    int32_t *valid = pixl_tensor_data(s->valid);
    if (!smp) {
        if (pixl_tensor_numel(s->valid) != b->n * hw)
            return pixl_set_error(PIXL_ERR_SHAPE, "normals task: a batch of %d x %dx%d, the loss takes %lld pixels",
                                  b->n, b->height, b->width, (long long)pixl_tensor_numel(s->valid));
        memcpy(tg, b->targets, sizeof(float) * 3 * (size_t)(b->n * hw));
        for (int64_t p = 0; p < b->n * hw; p++) valid[p] = b->labels[p] == 0;
        return PIXL_OK;
    }
    for (int64_t r = 0; r < smp->n; r++) {
        const int32_t *px = smp->pixels + 3 * r;
        const float *src = b->targets + (int64_t)px[0] * 3 * hw + (int64_t)px[1] * W + px[2];
        valid[r] = smp->labels[r] == 0;
        for (int c = 0; c < 3; c++) tg[3 * r + c] = valid[r] ? src[c * hw] : 0;
    }
    return PIXL_OK;
}

static int normal_validate(pixl__task *t, pixl_model *m, const pixl_dataset *val, const pixl_train_config *cfg,
                           pixl__task_val *out)
{
    pixl_eval_opts eo = {.limit = cfg->validation.limit};
    pixl_normal_metrics *acc = pixl_normal_metrics_new();
    if (!acc) return PIXL_ERR_NOMEM;
    pixl_normal_scores s;
    int rc = pixl_evaluate_normals(m, val, &eo, acc);
    if (!rc) rc = pixl_normal_metrics_scores(acc, &s);
    pixl_normal_metrics_free(acc);
    if (rc) return rc;
    out->score = s.mean;
    snprintf(out->line, sizeof out->line, "mean %.2f  median %.2f deg  within 11.25/22.5/30: %.1f/%.1f/%.1f%%", s.mean,
             s.median, 100 * s.within_11_25, 100 * s.within_22_5, 100 * s.within_30);
    out->json = pixl_normal_scores_json(&s);
    return PIXL_OK;
}

static void normal_format(double score, char *buf, size_t n) { snprintf(buf, n, "mean angle %.2f deg", score); }

const pixl__task_def pixl__task_normals = {
    .name = "normals",
    .dataset_task = PIXL_TASK_NORMALS,
    .needs = "surface normals (synthetic_normals)",
    .losses = {PIXL_LOSS_NORMAL, PIXL_LOSS_L2_ANGULAR, -1},
    .score_key = "val_mean_angle_deg",
    .higher_is_better = 0,
    .state_bytes = sizeof(normal_state),
    .setup = normal_setup,
    .loss = normal_loss,
    .prepare = normal_prepare,
    .validate = normal_validate,
    .format_score = normal_format,
    .report_section = pixl__report_section_normals,
};
