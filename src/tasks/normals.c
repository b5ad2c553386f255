/* normals.c — the surface-normal task: three outputs per pixel (a
 * direction), trained by PixelNet's normal loss (mean 1 - cos of the
 * unit-normalised prediction) at sampled pixels that see a surface;
 * validated by angular errors (the lowest mean angle picks the best
 * checkpoint). The loader carries the true normals per pixel
 * (dense_targets), moved with the image by every augmentation. */
#include "tasks/task.h"

typedef struct {
    pixl_tensor *target, *valid; /* (P, 3) normals and (P) validity at the sampled pixels */
    const pixl_ctx *ctx;
} normal_state;

static const char *const xyz[3] = {"normal_x", "normal_y", "normal_z"};

static int normal_setup(pixl__task *t, const pixl_train_config *cfg, const pixl_dataset *train)
{
    if (!t->sampled)
        return pixl_set_error(PIXL_ERR_UNSUPPORTED,
                              "the normals task trains at sampled pixels: model.arch %s is dense, only model.arch "
                              "pixelnet trains normals so far (its head and loss at sampled pixels); dense models "
                              "would need the loss over (N, 3, H, W)",
                              cfg->model.arch);
    if (cfg->training.loss.class_weights != PIXL_CLASS_WEIGHTS_NONE)
        return pixl_set_error(PIXL_ERR_ARG, "training.loss.name normal: class_weights do not apply (set none)");
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
        int64_t ts[2] = {logits->shape[0], 3}, ls[1] = {logits->shape[0]};
        s->target = pixl_input(ctx, "sampled_normals", PIXL_F32, 2, ts);
        s->valid = pixl_input(ctx, "sampled_valid", PIXL_I32, 1, ls);
        s->ctx = ctx;
    }
    return pixl_normal_loss(ctx, logits, s->target, s->valid, 0);
}

/* the true normal of each sampled pixel from the batch's targets (B, 3, H, W) */
static int normal_prepare(pixl__task *t, const pixl_batch *b, const pixl__samples *smp)
{
    normal_state *s = t->state;
    if (!smp || !b->targets || b->target_channels != 3)
        return pixl_set_error(PIXL_ERR_ARG, "normals task: the batch has no per-pixel normals");
    const int64_t W = b->width, hw = (int64_t)b->height * b->width;
    float *tg = pixl_tensor_data(s->target);
    int32_t *valid = pixl_tensor_data(s->valid);
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
    .losses = {PIXL_LOSS_NORMAL, -1},
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
