/* edges.c — the edge task: boundary probability per pixel on an edge data
 * set (labels 0/1, BSDS500). Trained by the class-balanced sigmoid
 * cross-entropy of one output (balanced_bce, HED/PixelNet) or by
 * cross-entropy over two outputs; validated by the BSDS benchmark (ODS F
 * picks the best checkpoint). */
#include "tasks/task.h"

typedef struct {
    int bce;                        /* balanced_bce: one output */
    const char *name[1];            /* its name: the data set's class 1 */
    float *w;                       /* cross_entropy: class weights (2) or NULL */
    pixl_tensor *wt, *target, *mask; /* inputs of the loss in the training graph */
    const pixl_ctx *ctx;
} edge_state;

static int edge_setup(pixl__task *t, const pixl_train_config *cfg, const pixl_dataset *train)
{
    edge_state *s = t->state;
    const int K = pixl_dataset_n_classes(train);
    s->bce = cfg->training.loss.name == PIXL_LOSS_BALANCED_BCE;
    if (K != 2)
        return pixl_set_error(PIXL_ERR_ARG, "the edge task needs labels 0/1 (2 classes); data set '%s' has %d",
                              cfg->data.dataset, K);
    t->sampler_classes = 2;
    t->n_outputs = s->bce ? 1 : 2;
    if (s->bce && cfg->training.loss.class_weights != PIXL_CLASS_WEIGHTS_NONE)
        return pixl_set_error(PIXL_ERR_ARG, "training.loss.class_weights does not apply to training.loss.name "
                                            "balanced_bce (it weighs boundary and other pixels by their shares "
                                            "itself): set class_weights: none");
    if (s->bce) { /* the single output is the data set's class 1 ("boundary") */
        s->name[0] = pixl_dataset_class_name(train, 1);
        t->output_names = s->name;
        t->colours = pixl_dataset_colours(train) + 3;
        return PIXL_OK;
    }
    return pixl__task_class_weights(t, train, 2, &s->w);
}

static pixl_tensor *edge_loss(pixl__task *t, pixl_ctx *ctx, pixl_tensor *logits, pixl_tensor *labels)
{
    edge_state *s = t->state;
    if (s->ctx != ctx) { /* the loss's own inputs, once per graph */
        s->ctx = ctx;
        s->wt = s->target = s->mask = NULL;
        if (s->bce) {
            s->target = pixl_input(ctx, t->sampled ? "sampled_target" : "bce_target", PIXL_F32, logits->ndim,
                                   logits->shape);
            s->mask = pixl_input(ctx, t->sampled ? "sampled_mask" : "bce_mask", PIXL_F32, logits->ndim, logits->shape);
        } else if (s->w) {
            int64_t ws[1] = {2};
            s->wt = pixl_constant(ctx, "class_weights", PIXL_F32, 1, ws, s->w);
        }
    }
    if (s->bce) return pixl_balanced_bce_with_logits(ctx, logits, s->target, s->mask, PIXL_REDUCE_MEAN);
    pixl_ce_opts o = pixl__task_ce_opts(t);
    return pixl_cross_entropy(ctx, logits, labels, s->wt, &o);
}

/* balanced_bce: binary targets and the mask of counted pixels from the labels */
static int edge_prepare(pixl__task *t, const pixl_batch *b, const pixl__samples *smp)
{
    edge_state *s = t->state;
    if (!s->bce) return PIXL_OK;
    const int32_t *lab = smp ? smp->labels : b->labels;
    const int64_t n = smp ? smp->n : (int64_t)b->n * b->height * b->width;
    if (n != pixl_tensor_numel(s->target))
        return pixl_set_error(PIXL_ERR_SHAPE, "edge task: %lld labels for a target of %lld", (long long)n,
                              (long long)pixl_tensor_numel(s->target));
    pixl__labels_to_binary(lab, n, t->ignore_label, pixl_tensor_data(s->target), pixl_tensor_data(s->mask));
    return PIXL_OK;
}

static int edge_validate(pixl__task *t, pixl_model *m, const pixl_dataset *val, const pixl_train_config *cfg,
                         pixl__task_val *out)
{
    pixl_eval_opts eo = {.flip = cfg->validation.flip, .batch_size = 1, .n_workers = cfg->data.n_workers,
                         .limit = cfg->validation.limit};
    pixl_edge_bench_opts bo = {.n_thresholds = cfg->validation.edge_thresholds};
    pixl_edge_bench_result *res = pixl__calloc(1, sizeof *res);
    if (!res) return PIXL_ERR_NOMEM;
    int rc = pixl_evaluate_edges(m, val, &eo, &bo, res);
    if (!rc) {
        out->score = res->ods_f;
        snprintf(out->line, sizeof out->line, "ODS F %.4f  OIS F %.4f  AP %.4f  %d images", res->ods_f, res->ois_f,
                 res->ap, res->n_images);
        out->json = pixl_edge_scores_json(res);
    }
    free(res);
    return rc;
}

static void edge_format(double score, char *buf, size_t n) { snprintf(buf, n, "ODS F %.4f", score); }

static void edge_free(pixl__task *t) { free(((edge_state *)t->state)->w); }

const pixl__task_def pixl__task_edges = {
    .name = "edges",
    .dataset_task = PIXL_TASK_EDGES,
    .needs = "boundary maps, labels 0/1 (bsds500)",
    .losses = {PIXL_LOSS_BALANCED_BCE, PIXL_LOSS_CROSS_ENTROPY, -1},
    .score_key = "val_ods_f",
    .higher_is_better = 1,
    .state_bytes = sizeof(edge_state),
    .setup = edge_setup,
    .loss = edge_loss,
    .prepare = edge_prepare,
    .validate = edge_validate,
    .format_score = edge_format,
    .report_section = pixl__report_section_edges,
    .free = edge_free,
};
