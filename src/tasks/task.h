/* task.h — tasks as objects: what differs between kinds of training.
 *
 * The trainer (src/train/trainer.c) knows how to load batches, build the
 * model's graph, step the optimizer, schedule validation, write logs and
 * checkpoints. It does not know what is being learned. A task does: which
 * targets the loader produces, how many outputs the model has and what they
 * are called, the loss on the model's output, the per-step inputs of that
 * loss, the evaluation and its metrics JSON, the score that picks the best
 * checkpoint, its log line, and its section of the HTML report.
 *
 * A task is one `pixl__task_def` (a table of functions) defined at the
 * bottom of its own file in src/tasks/, plus one line in the table of
 * src/tasks/registry.c. The trainer picks the task whose `dataset_task`
 * matches the training set's kind (pixl_dataset_task()).
 *
 * Two forms of model output reach a task's loss:
 *   dense    logits (B, K, H, W) against labels (B, H, W), once for the
 *            main output and once per auxiliary output (deep supervision);
 *   sampled  logits (P, K) at P sampled pixels (PixelNet) against their
 *            labels (P); the trainer draws the pixels each step with the
 *            config's sampler, whose classes the task defines
 *            (`sampler_classes`).
 * A task keeps whatever extra inputs its loss needs (binary targets,
 * normals) in its state and fills them in prepare(), called every step
 * after the labels (and sampled pixels) are in place. */
#ifndef PIXL_TASK_H
#define PIXL_TASK_H

#include "pixl_impl.h"

typedef struct pixl__task pixl__task;
typedef struct pixl__report pixl__report; /* src/report/ */

/* The pixels of one step of a sampled (PixelNet) head. */
typedef struct pixl__samples {
    const int32_t *pixels; /* (P, 3): image, row, column */
    const int32_t *labels; /* (P) the label of each pixel */
    int64_t n;             /* P */
} pixl__samples;

/* One validation's outcome, filled by def->validate. */
typedef struct pixl__task_val {
    double score;     /* the value that picks the best checkpoint (see def->higher_is_better) */
    char line[256];   /* the metrics part of the log's "val" line */
    char *json;       /* the metrics object for log.jsonl (malloc'd; NULL = null) */
} pixl__task_val;

typedef struct pixl__task_def {
    const char *name;     /* "segmentation", "edges", "normals" */
    pixl_task dataset_task; /* the kind of data set it trains on */
    const char *needs;      /* what such a data set has, for messages: "surface normals (synthetic_normals)" */
    /* the training.loss.name values it takes (the first is its default), ends with -1 */
    int losses[4];
    const char *score_key;  /* checkpoint metadata of best.safetensors: "val_miou" ... */
    int higher_is_better;
    /* state bytes after the pixl__task header (zeroed) */
    size_t state_bytes;

    /* Check the config against the training set and settle the outputs:
     * t->n_outputs, t->output_names, t->colours, t->dense_targets,
     * t->sampler_classes, t->note. A mismatch names both sides. */
    int (*setup)(pixl__task *t, const pixl_train_config *cfg, const pixl_dataset *train);
    /* The loss of one output (dense: (B, K, H, W) with labels (B, H, W);
     * t->sampled: (P, K) with labels (P)); called once per output, with the
     * same shapes each time. NULL on failure (ctx error). */
    pixl_tensor *(*loss)(pixl__task *t, pixl_ctx *ctx, pixl_tensor *logits, pixl_tensor *labels);
    /* Fill the loss's own inputs for this batch (NULL = nothing to do);
     * s is NULL for dense outputs. */
    int (*prepare)(pixl__task *t, const pixl_batch *b, const pixl__samples *s);
    /* Evaluate the model on the validation set. */
    int (*validate)(pixl__task *t, pixl_model *m, const pixl_dataset *val, const pixl_train_config *cfg,
                    pixl__task_val *out);
    /* "mIoU 55.20%": the score as people read it */
    void (*format_score)(double score, char *buf, size_t n);
    /* Its section of the HTML report (NULL: the metric curves only). */
    int (*report_section)(pixl__report *R, FILE *o);
    void (*free)(pixl__task *t); /* NULL: nothing beyond the state */
} pixl__task_def;

struct pixl__task {
    const pixl__task_def *def;
    const pixl_train_config *cfg;
    int sampled;                /* the model's output is (P, K) at sampled pixels */
    /* set by setup */
    int n_outputs;
    const char *const *output_names; /* n_outputs names, NULL = the data set's class names */
    const uint8_t *colours;          /* n_outputs RGB triples, NULL = the data set's colours */
    int dense_targets;          /* the loader carries float targets per pixel (pixl_batch.targets) */
    int sampler_classes;        /* classes of the sampler (sampled heads) */
    int ignore_label;           /* the label no loss sees (training.loss.ignore_index, else void; set before setup) */
    char note[640];             /* a line for the run's header (e.g. the class weights), or "" */
    void *state;                /* def->state_bytes, zeroed */
};

/* The task for a config and its training set: picks by data set kind,
 * checks the loss belongs to it (naming both sides if not) and runs setup.
 * NULL with the error set. */
pixl__task *pixl__task_new(const pixl_train_config *cfg, const pixl_dataset *train, int sampled);
void pixl__task_free(pixl__task *t);
/* the task that trains on a data set kind, or NULL */
const pixl__task_def *pixl__task_find(pixl_task dataset_task);
/* name of a training.loss.name value */
const char *pixl__loss_name(int loss);

/* The report sections of the tasks here (src/report/report_<task>.c):
 * 0, or -1 after printing nothing useful (out of memory; error set). */
int pixl__report_section_seg(pixl__report *R, FILE *o);
int pixl__report_section_edges(pixl__report *R, FILE *o);
int pixl__report_section_normals(pixl__report *R, FILE *o);

/* For the tasks with class labels: the class weights of the config for K
 * classes into *w (malloc'd; NULL when training.loss.class_weights is
 * none) with their line in t->note; and the cross-entropy options of t's
 * outputs (dense: the config's ignore index if any; sampled: always the
 * ignored label, which pads the sampler's list). */
int pixl__task_class_weights(pixl__task *t, const pixl_dataset *train, int K, float **w);
pixl_ce_opts pixl__task_ce_opts(const pixl__task *t);

/* Class weights of the config (training.loss.class_weights) for K classes
 * over the training labels, into w[K] (shared by the tasks with labels). */
int pixl__class_weights(const pixl_train_config *cfg, const pixl_dataset *ds, int K, float *w);
/* "class weights: 0.1 2.3 ... (N classes)" into buf, at most n bytes */
void pixl__class_weights_line(const float *w, int K, char *buf, size_t n);

#endif
