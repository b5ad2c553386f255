/* segmentation.c — the segmentation task: a class per pixel, trained by
 * cross-entropy (class weights from training.loss.class_weights, the
 * ignored label skipped), densely or at sampled pixels; validated by the
 * confusion matrix (mean IoU picks the best checkpoint). */
#include <time.h>

#include "tasks/task.h"

typedef struct {
    float *w;           /* class weights (K) */
    pixl_tensor *wt;    /* their constant in the training graph */
    const pixl_ctx *ctx; /* the graph wt belongs to */
} seg_state;

static int seg_setup(pixl__task *t, const pixl_train_config *cfg, const pixl_dataset *train)
{
    seg_state *s = t->state;
    const int K = pixl_dataset_n_classes(train);
    t->n_outputs = K;
    t->sampler_classes = K;
    return pixl__task_class_weights(t, train, K, &s->w);
}

static pixl_tensor *seg_loss(pixl__task *t, pixl_ctx *ctx, pixl_tensor *logits, pixl_tensor *labels)
{
    seg_state *s = t->state;
    if (s->w && s->ctx != ctx) {
        int64_t ws[1] = {logits->shape[1]};
        s->wt = pixl_constant(ctx, "class_weights", PIXL_F32, 1, ws, s->w);
        s->ctx = ctx;
    }
    pixl_ce_opts o = pixl__task_ce_opts(t);
    return pixl_cross_entropy(ctx, logits, labels, s->w ? s->wt : NULL, &o);
}

static int seg_validate(pixl__task *t, pixl_model *m, const pixl_dataset *val, const pixl_train_config *cfg,
                        pixl__task_val *out)
{
    const int K = pixl_model_n_classes(m);
    pixl_confusion *conf = pixl_confusion_new(K, PIXL_IGNORE_LABEL);
    if (!conf) return pixl_last_status();
    pixl_eval_opts eo = {.flip = cfg->validation.flip, .batch_size = cfg->validation.batch_size,
                         .n_workers = cfg->data.n_workers, .limit = cfg->validation.limit};
    int rc = pixl_evaluate(m, val, &eo, conf);
    if (rc) {
        pixl_confusion_free(conf);
        return rc;
    }
    pixl_seg_scores sc;
    pixl_confusion_scores(conf, &sc, NULL, NULL);
    out->score = sc.mean_iou;
    snprintf(out->line, sizeof out->line, "mIoU %.2f%%  acc %.2f%%", 100 * sc.mean_iou, 100 * sc.overall_acc);
    const char **names = pixl__calloc((size_t)K, sizeof *names);
    for (int k = 0; names && k < K; k++) names[k] = pixl_model_class_name(m, k);
    out->json = names ? pixl_metrics_json(conf, names, 1) : NULL;
    free(names);
    pixl_confusion_free(conf);
    return PIXL_OK;
}

static void seg_format(double score, char *buf, size_t n) { snprintf(buf, n, "mIoU %.2f%%", 100 * score); }

static void seg_free(pixl__task *t) { free(((seg_state *)t->state)->w); }

const pixl__task_def pixl__task_segmentation = {
    .name = "segmentation",
    .dataset_task = PIXL_TASK_SEGMENTATION,
    .needs = "class labels per pixel (camvid, synthetic, folders)",
    .losses = {PIXL_LOSS_CROSS_ENTROPY, -1},
    .score_key = "val_miou",
    .higher_is_better = 1,
    .state_bytes = sizeof(seg_state),
    .setup = seg_setup,
    .loss = seg_loss,
    .validate = seg_validate,
    .format_score = seg_format,
    .report_section = pixl__report_section_seg,
    .free = seg_free,
};
