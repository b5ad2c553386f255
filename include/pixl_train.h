/* pixl_train.h — the training layer of pixl, everything `pixl train`,
 * `pixl eval` and `pixl report` do: the YAML training configuration
 * (pixl_train_config), evaluation of a model on a data set, the trainer
 * object and pixl_train(), PixelNet's pixel samplers, PixelPick's query
 * strategies (which pixels to label next), and the HTML report of a run
 * directory. It includes every other header (pixl.h, pixl_models.h,
 * pixl_data.h, pixl_metrics.h): a program that includes this one sees the
 * whole public API.
 *
 * CONTRACT
 *   - Owns: a pixl_trainer owns its model, data sets, loaders, graph and
 *     optimizer; pixl_train_config is plain data (copy it with =). A run
 *     directory's files are written atomically.
 *   - Errors: as in the core; config errors name "file:line" and the key.
 *   - Threads: the trainer's kernels, model and optimizer use
 *     training.threads (0: the process default); its loaders run their own
 *     worker threads; hooks are called on the thread that calls
 *     pixl_trainer_step()/_validate().
 *   - Links: build/libpixl_train.a build/libpixl_models.a
 *     build/libpixl_data.a build/libpixl_metrics.a build/libpixl_core.a (or
 *     build/libpixl.a alone), -lyaml (Debian: libyaml-dev) and the system
 *     libraries of the data layer and the core.
 */
#ifndef PIXL_TRAIN_H
#define PIXL_TRAIN_H

#include "pixl_models.h"
#include "pixl_data.h"
#include "pixl_metrics.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------- configuration */
/* (src/config/) */

/* TRAINING CONFIGURATION (YAML)
 *
 *     pixl_train_config cfg;
 *     if (pixl_config_load("camvid.yaml", &cfg) != PIXL_OK ||       // defaults + file
 *         pixl_config_set(&cfg, "training.optimizer.lr", "0.01") != PIXL_OK ||
 *         pixl_config_validate(&cfg) != PIXL_OK)
 *         fprintf(stderr, "%s\n", pixl_last_error());
 *
 * A config file has the sections model, data, training (with optimizer,
 * lr_schedule and loss), validation and output; every key is optional and
 * has a default (pixl_config_print_defaults() prints them all, with a one-
 * line doc each, as a valid config file; docs/config.md lists them).
 * Errors name the file and line: "run.yaml:3: unknown key 'trainig' (did
 * you mean 'training'?)", "run.yaml:7: training.batch_size: expected an
 * integer, got 'eight'", duplicate keys, values out of range, YAML syntax.
 * The struct is plain data (fixed-size strings and arrays): copy it with =,
 * no free needed. */
#define PIXL_CFG_NAME_LEN 64      /* capacity of names (arch, dataset, splits, option keys) */
#define PIXL_CFG_PATH_LEN 1024    /* capacity of paths */
#define PIXL_CFG_OPTION_LEN 256   /* capacity of model.options.variant */
#define PIXL_CFG_MAX_CLASSES 1024 /* model.n_classes and class_weights entries */
#define PIXL_CFG_MAX_MILESTONES 16
#define PIXL_CFG_INHERIT INT32_MIN /* training.loss.ignore_index: use data.ignore_index */

/* cross_entropy: softmax over the classes; balanced_bce: one sigmoid output
 * trained with pixl_balanced_bce_with_logits on a two-class dataset (labels
 * 0/1, the ignore label masked; boundaries of bsds500) */
typedef enum pixl_loss_kind {
    PIXL_LOSS_CROSS_ENTROPY = 0,
    PIXL_LOSS_BALANCED_BCE = 1, /* edges: one sigmoid output */
    PIXL_LOSS_NORMAL = 2,       /* surface normals: 3 outputs, mean (1 - cos) (pixl_normal_loss) */
    PIXL_LOSS_L2_ANGULAR = 3    /* surface normals, PAG's demo: that L2 term + the mean angle (pixl_angular_loss) */
} pixl_loss_kind;

typedef enum pixl_class_weighting {
    PIXL_CLASS_WEIGHTS_NONE = 0,   /* every class weighs 1 */
    PIXL_CLASS_WEIGHTS_LIST = 1,   /* the values given in class_weight_values */
    PIXL_CLASS_WEIGHTS_ENET = 2,   /* 1 / ln(1.02 + p_c), p_c = share of class c among valid training pixels */
    PIXL_CLASS_WEIGHTS_MEDIAN_FREQ = 3 /* median_c(f_c) / f_c, f_c = pixels of c / pixels of the
                                          training images that contain c (SegNet) */
} pixl_class_weighting;

/* model.options.crf: a PacCRF on the network's logits (pixl_model_opts.crf). */
typedef struct pixl_cfg_crf {
    int given;          /* 1: model.options.crf is a mapping (null: no CRF) */
    int frozen;         /* freeze the network under the CRF (pacnet's first stage) */
    pixl_crf_opts opts; /* steps, loose, output, perturbed_init, fixed_weighting, unary_weight, terms */
} pixl_cfg_crf;

/* model.options.pag: the gates of pag_resnet50 (pixl_model_opts.pag). */
typedef struct pixl_cfg_pag {
    int given;          /* 1: model.options.pag is a mapping */
    pixl_pag_opts opts; /* lambda, loss, weight, weights, gates, softmax, t_start, t_end, anneal, blur, grad_rule, scales */
} pixl_cfg_pag;

/* model.options: typed; an unknown key is an error (docs/config.md). */
typedef struct pixl_cfg_model_options {
    float width;                             /* channel multiplier; 0 = the model's default (1) */
    char variant[PIXL_CFG_OPTION_LEN];       /* model-specific variant; pixelnet: "key=value;..." of the head */
    char backbone[PIXL_CFG_NAME_LEN];        /* encoder name; "" = the model's default */
    int output_stride;                       /* dilated encoders: 8, 16, 32; 0 = the model's default */
    int aux;                                 /* auxiliary (deep-supervision) heads in training */
    char pretrained[PIXL_CFG_PATH_LEN];      /* checkpoint whose matching tensors initialise the model */
    pixl_pn_head_opts head;                  /* pixelnet: taps, mlp, dropout, hc_dropout, bn, align, chunk */
    pixl_cfg_crf crf;                        /* a PacCRF on the logits, or not given */
    pixl_cfg_pag pag;                        /* pag_resnet50's gates, or not given (its defaults) */
} pixl_cfg_model_options;

typedef struct pixl_train_config {
    struct {
        char arch[PIXL_CFG_NAME_LEN]; /* network name */
        int n_classes;                /* 0: from the dataset */
        pixl_cfg_model_options options;
    } model;
    struct {
        char dataset[PIXL_CFG_NAME_LEN]; /* dataset kind */
        char root[PIXL_CFG_PATH_LEN];
        char train_split[PIXL_CFG_NAME_LEN], val_split[PIXL_CFG_NAME_LEN];
        char sparse_labels[PIXL_CFG_PATH_LEN]; /* label store of the training split ("": full labels) */
        int img_rows, img_cols; /* 0, 0: native size */
        int crop[2];            /* rows, cols; 0, 0: no crop */
        double scale[2];        /* random rescale range [min, max] */
        int flip;               /* random horizontal flip */
        int flip_per_batch;     /* one flip decision per batch instead of per image */
        double color_jitter;    /* brightness/contrast/saturation strength, 0 = off */
        double blur;            /* probability of a Gaussian blur */
        int n_workers;
        int ignore_index;       /* -1: none */
    } data;
    struct {
        int epochs;             /* limits: the run stops at the first one reached; 0 = no limit */
        double max_minutes;
        int64_t max_iters;
        int batch_size;
        struct {
            pixl_optim_kind name;
            double lr, momentum;
            int nesterov;
            double weight_decay;
            double betas[2];
            double eps;
            double backbone_lr_mult; /* learning-rate multiplier of the parameters named backbone.* */
        } optimizer;
        struct {
            pixl_sched_kind name;
            int64_t step_size;  /* iterations */
            double gamma;
            int n_milestones;
            int64_t milestones[PIXL_CFG_MAX_MILESTONES]; /* iterations */
            double power, min_lr;
            int64_t warmup_iters;
            double warmup_start;
        } lr_schedule;
        struct {
            pixl_loss_kind name;
            pixl_class_weighting class_weights;
            int n_class_weights; /* PIXL_CLASS_WEIGHTS_LIST */
            double class_weight_values[PIXL_CFG_MAX_CLASSES];
            int ignore_index;    /* PIXL_CFG_INHERIT: data.ignore_index */
        } loss;
        struct {                 /* pixels with a loss (model.arch pixelnet) */
            int pixels_per_image;
            int strategy;        /* pixl_sample_kind: uniform, class_balanced, edge_balanced, all */
            double pos_fraction; /* edge_balanced: share of positives */
        } sampling;
        int64_t seed;
        int threads;             /* 0: PIXL_NUM_THREADS or all cores */
        int print_interval;      /* iterations between log lines */
        char resume[PIXL_CFG_PATH_LEN]; /* "" = start fresh */
        int resume_allow_nonfinite;     /* resume even from NaN/Inf values (PIXL_LOAD_ALLOW_NONFINITE) */
    } training;
    struct {
        int every_epochs;        /* 0 = not by epochs */
        double every_minutes;    /* 0 = not by time */
        int flip;                /* average with the prediction of the flipped image */
        int batch_size;
        int limit;               /* first `limit` validation images only (0 = all) */
        int edge_thresholds;     /* edge datasets: thresholds of the BSDS benchmark (99) */
    } validation;
    struct {
        char run_dir[PIXL_CFG_PATH_LEN];
        int keep_best, keep_last;
    } output;
} pixl_train_config;

/* Every key to its default. */
int pixl_config_defaults(pixl_train_config *cfg);
/* cfg = defaults + the keys of the YAML file, then pixl_config_validate().
 * On failure cfg is unchanged and the error names "path:line". */
int pixl_config_load(const char *path, pixl_train_config *cfg);
/* The same with n_set "KEY=VALUE" overrides (pixl_config_set) applied after
 * the file and before validation, so a file completed by its overrides loads. */
int pixl_config_load_ex(const char *path, pixl_train_config *cfg, int n_set, const char *const *set);
/* The same from YAML text; `name` stands for the file name in errors. */
int pixl_config_load_string(const char *yaml, const char *name, pixl_train_config *cfg);
/* Set one key from text, with the same checks as the file ("training.optimizer.lr",
 * "0.01"; lists as "[100, 200]"; "model.options.width" adds an option; a
 * section takes a flow mapping: "training.optimizer", "{name: sgd, lr: 0.1}").
 * String keys take the text verbatim. cfg is unchanged on failure. Cross-key
 * rules are checked by pixl_config_validate(), after all overrides. */
int pixl_config_set(pixl_train_config *cfg, const char *key, const char *value);
/* A key's value as YAML text into buf ("0.01", "[0.9, 0.999]", "adam"). */
int pixl_config_get(const pixl_train_config *cfg, const char *key, char *buf, size_t len);
/* Rules between keys (a training limit is set, scale min <= max, step_size
 * for the step schedule, increasing milestones, class-weight count ...). */
int pixl_config_validate(const pixl_train_config *cfg);
/* 1 when a and b differ, with the dotted name of the first key whose values
 * differ in key (len bytes; may be NULL); 0 when equal; < 0 on error. */
int pixl_config_diff(const pixl_train_config *a, const pixl_train_config *b, char *key, size_t len);
/* The model options of a config (model.options) for pixl_model_create():
 * width, variant, backbone, output_stride, aux, the PixelNet head (for
 * model.arch pixelnet: the head keys, or the variant string parsed into
 * the same struct) and the CRF (model.options.crf: crf, crf_frozen). mo's strings and head point into cfg; n_classes and
 * in_channels are left 0 for the caller. *pretrained (may be NULL) is
 * model.options.pretrained or NULL when empty. */
int pixl_config_model_opts(const pixl_train_config *cfg, pixl_model_opts *mo, const char **pretrained);
/* The loss's ignore index with PIXL_CFG_INHERIT resolved to data.ignore_index. */
int pixl_config_loss_ignore_index(const pixl_train_config *cfg);
/* Optimizer options of training.optimizer. */
void pixl_config_optim_opts(const pixl_train_config *cfg, pixl_optim_opts *o);
/* Schedule of training.lr_schedule for a run of max_steps iterations. */
void pixl_config_sched(const pixl_train_config *cfg, int64_t max_steps, pixl_sched *s);
/* The whole config as YAML that loads back to an equal struct, one doc comment per key. */
int pixl_config_print(FILE *f, const pixl_train_config *cfg);
/* pixl_config_print() of the defaults (`pixl train --print-config`). */
int pixl_config_print_defaults(FILE *f);
/* Write the config to path atomically (pixl_atomic_begin/commit). */
int pixl_config_save(const pixl_train_config *cfg, const char *path);
/* Markdown reference of every key (docs/config.md). */
int pixl_config_write_docs(FILE *f);

/* ---------------------------------------------------------- training runs */

typedef struct pixl_eval_opts {
    int flip;       /* average with the mirrored prediction */
    int batch_size; /* 0 -> 1 (images of one batch must share a size) */
    int n_workers;  /* background decoding threads */
    int limit;      /* evaluate only the first `limit` images (0 = all) */
} pixl_eval_opts;

/* Predict every image of ds at its own resolution (the model's input size
 * applies inside) and add to conf (created by the caller with the model's
 * class count and PIXL_IGNORE_LABEL). */
int pixl_evaluate(pixl_model *m, const pixl_dataset *ds, const pixl_eval_opts *o, pixl_confusion *conf);
/* Edge models (1 output: sigmoid; 2 outputs: softmax of class 1) on an
 * edge dataset (bsds500): the BSDS benchmark (pixl_edge_benchmark, options
 * bo may be NULL) of the predicted boundary probabilities against every
 * annotator. src/train/evaluate.c */
int pixl_evaluate_edges(pixl_model *m, const pixl_dataset *ds, const pixl_eval_opts *o, const pixl_edge_bench_opts *bo,
                        pixl_edge_bench_result *res);
/* Normal models (3 outputs; only the direction counts) on a normal dataset
 * (synthetic_normals): every image's valid pixels added to acc. */
int pixl_evaluate_normals(pixl_model *m, const pixl_dataset *ds, const pixl_eval_opts *o, pixl_normal_metrics *acc);

/* A training run as an object. pixl_train() is pixl_trainer_new() +
 * pixl_trainer_run() + pixl_trainer_free(); a C program can instead drive
 * the same loop itself:
 *
 *     pixl_trainer *t = pixl_trainer_new(cfg, &hooks);   // data, task, model, graph, optimizer, resume
 *     if (!t) fprintf(stderr, "%s\n", pixl_last_error());
 *     for (int i = 0; i < 100; i++)
 *         if (pixl_trainer_step(t)) break;                // one batch: forward, backward, optimizer
 *     double score;
 *     pixl_trainer_validate(t, &score);                   // the task's metric; best.safetensors
 *     pixl_trainer_save(t);                               // last.safetensors (+ optimizer state)
 *     ...                                                 // e.g. ask for new labels, then step on
 *     pixl_trainer_free(t);
 *
 * What is learned is the run's task, chosen by the training set's kind
 * (segmentation, edges, normals; pixl_trainer_task()): its loss, its
 * metric and the direction of its score. Hooks are called on the thread
 * that calls pixl_trainer_step()/_validate(); a hook returning non-zero
 * ends the step (or validation) with that status (set a message with
 * pixl_set_error-like care: pixl_last_error() is then the caller's). */
typedef struct pixl_trainer pixl_trainer;

typedef struct pixl_train_hooks {
    volatile int *stop; /* polled every step by pixl_trainer_run: non-zero saves a checkpoint and returns */
    FILE *log;          /* progress and log lines (NULL -> stderr) */
    int quiet;          /* no progress bar, only validation lines */
    int64_t stop_after; /* > 0: pixl_trainer_run stops (saving, as on *stop) once this many steps are done */
    void *user;         /* passed to the callbacks */
    /* gradients of the step are in pixl_params_grad_flat(pixl_trainer_params(t)), the optimizer has not
     * run yet: the place to all-reduce them across processes (data-parallel training) */
    int (*after_backward)(pixl_trainer *t, void *user);
    /* after the optimizer step (pixl_trainer_steps() counts it already) */
    int (*after_step)(pixl_trainer *t, void *user);
    /* after a validation: the task's score, whether it is the best so far, the metrics as JSON */
    int (*after_validate)(pixl_trainer *t, double score, int best, const char *metrics_json, void *user);
} pixl_train_hooks;

/* Everything a run needs from `cfg` (copied; the caller may free it): the
 * run directory, data sets and loader, the task, the model (initialised
 * from model.options.pretrained if set), the training graph (memory
 * planned here), the optimizer, and with training.resume the state of a
 * checkpoint. NULL with pixl_last_error() naming what does not fit (a
 * loss, data set or model that do not go together names both sides). */
pixl_trainer *pixl_trainer_new(const pixl_train_config *cfg, const pixl_train_hooks *hooks);
/* One optimizer step on the next batch: learning rate from the schedule,
 * forward, backward, after_backward, optimizer, after_step; progress and
 * log.jsonl lines every training.print_interval steps. The step limits of
 * the config are pixl_trainer_run()'s business, not this function's. */
int pixl_trainer_step(pixl_trainer *t);
/* The task's validation on the validation split; a "val" line in the log
 * and log.jsonl; best.safetensors when the score is the best so far (and
 * output.keep_best). *score (may be NULL): mIoU, ODS F or mean angle. */
int pixl_trainer_validate(pixl_trainer *t, double *score);
/* last.safetensors and last.optim.safetensors in the run directory, with
 * step, epoch, position in the epoch, time and best score: what resume reads.
 * Crash-safe as a pair: the optimizer state is written (atomically) to
 * last.optim.next.safetensors, then the model replaces last.safetensors, then
 * the state is renamed to last.optim.safetensors; a crash at any point leaves
 * a model and an optimizer state of the same step (docs/reliability.md). On
 * an error (a full disk) the previous pair stays as it was. */
int pixl_trainer_save(pixl_trainer *t);
/* Continue from a checkpoint written by pixl_trainer_save(): parameters,
 * optimizer state (CKPT.optim.next.safetensors when it is of the
 * checkpoint's step, else CKPT.optim.safetensors, which must be), step,
 * epoch, data order, time, best score. Only before the first step. A
 * checkpoint holding NaN/Inf values is refused unless
 * training.resume_allow_nonfinite. */
int pixl_trainer_resume(pixl_trainer *t, const char *checkpoint);
/* The loop of `pixl train`: steps until training.epochs / max_iters /
 * max_minutes or a stop (hooks), validation every validation.every_epochs
 * or every_minutes and at the end, checkpoints, a summary line. */
int pixl_trainer_run(pixl_trainer *t);
void pixl_trainer_free(pixl_trainer *t);

int64_t pixl_trainer_steps(const pixl_trainer *t);   /* optimizer steps done (including before a resume) */
int64_t pixl_trainer_epoch(const pixl_trainer *t);   /* the epoch the next batch belongs to */
float pixl_trainer_loss(const pixl_trainer *t);      /* the loss of the last step (NaN before the first) */
pixl_model *pixl_trainer_model(pixl_trainer *t);     /* the model being trained (owned by t) */
pixl_params *pixl_trainer_params(pixl_trainer *t);   /* its parameters: flat values and gradients */
const pixl_dataset *pixl_trainer_dataset(const pixl_trainer *t, int val); /* the training (0) or validation (1) set */
const char *pixl_trainer_task(const pixl_trainer *t); /* "segmentation", "edges", "normals" */
const char *pixl_trainer_run_dir(const pixl_trainer *t);

/* Train as `cfg` says: datasets, model, loss, optimizer and schedule, data
 * loading on background threads, validation, and a run directory
 * (output.run_dir) with config.yaml, log.jsonl (one JSON object per log
 * line), last.safetensors (+ last.optim.safetensors) and best.safetensors
 * (by the task's validation score), all written atomically. With
 * training.resume = RUN_DIR/last.safetensors it continues with the same
 * schedule, step count and data order. */
int pixl_train(const pixl_train_config *cfg, const pixl_train_hooks *hooks);

/* The data set of a config's split (NULL = data.val_split) as training opens
 * it; for the embedded synthetic set the splits are disjoint, seeded from
 * training.seed. limit > 0 keeps the first `limit` samples. */
pixl_dataset *pixl_config_open_split(const pixl_train_config *cfg, const char *split, int limit);

/* REPORTS (src/report/)
 * One self-contained HTML page about a run directory written by
 * pixl_train(): inline-SVG charts and inline PNG images, no scripts, no
 * external URLs. The page shows the run's summary and curves from
 * log.jsonl, config.yaml and the checkpoint, and then what belongs to the
 * task of the run's data set:
 *   segmentation  validation mIoU / pixel accuracy over time, per-class IoU
 *                 table and confusion matrix of the best validation record,
 *                 input | ground truth | prediction samples;
 *   edges         ODS / OIS / AP over time, the precision-recall curve of
 *                 the best checkpoint (BSDS benchmark on the first
 *                 validation images), image | boundaries | probability samples;
 *   normals       mean / median angle and within 11.25 / 22.5 / 30 degrees
 *                 over time, image | true | predicted normals | angular
 *                 error samples.
 * Samples use best.safetensors (else last.safetensors) on the first
 * validation images, opened as pixl_config_open_split() does. Errors: a
 * missing run_dir or log.jsonl, a complete log line that is not a JSON
 * object (the message names file and line), an unwritable output; then no
 * page is written. A missing config, checkpoint or data set only leaves a
 * note in the page. The page is written to OUT.tmp.XXXXXX and renamed
 * over OUT (default RUN_DIR/report.html). */
typedef struct pixl_report_opts {
    int n_samples; /* validation images with predictions: 0 -> 4, negative -> none, at most 64 */
} pixl_report_opts;
int pixl_report_write(const char *run_dir, const char *out_html, const pixl_report_opts *opts);
/* PixelPick's rounds (`pixl pixelpick`, docs/pixelpick.md "Rounds"): from
 * DIR/summary.json ("format": "pixl-pixelpick": the options and one row per
 * finished round), DIR/summary.md (the table: round, pixels per image,
 * labelled pixels, mIoU of the last and of the best epoch, training
 * minutes, and the fully supervised baseline when there is one) and
 * DIR/miou.svg (mIoU against labelled pixels per image), both atomically.
 * pixl_report_write() on such a directory (summary.json, no log.jsonl)
 * writes the same table and chart as the page. Errors name the file. */
int pixl_report_rounds(const char *dir);

/* ------------------------------------------------------- PixelNet sampling */
/* (src/train/sampler.c) Which pixels of a batch get a loss when training
 * PixelNet (pixl_pixelnet_sampled() in pixl_models.h): pixel lists as there,
 * (P, 3) rows (n, y, x). */

typedef enum pixl_sample_kind {
    PIXL_SAMPLE_UNIFORM = 0,        /* uniform over the valid pixels (PixelNet's released code) */
    PIXL_SAMPLE_CLASS_BALANCED = 1, /* the same count from each class present in the image */
    PIXL_SAMPLE_EDGE_BALANCED = 2,  /* positives (label > 0) and negatives (label 0) in a fixed ratio */
    PIXL_SAMPLE_ALL = 3             /* every pixel in raster order (per_image = h*w): the all-pixel baseline */
} pixl_sample_kind;

typedef struct pixl_sampler_opts {
    pixl_sample_kind kind;
    int per_image;      /* pixels drawn from each image, > 0 */
    int n_classes;      /* a pixel is valid when 0 <= label < n_classes; 0: label >= 0 and != PIXL_IGNORE_LABEL */
    float pos_fraction; /* EDGE_BALANCED: share of positives, 0 -> 0.5 */
    int empty_label;    /* label written for the rows of an image without valid pixels, 0 -> PIXL_IGNORE_LABEL */
} pixl_sampler_opts;

/* Draw o->per_image pixels from each of the n label maps (n, h, w) int32:
 * rows [i*per_image, (i+1)*per_image) of `pixels` ((n*per_image, 3) int32)
 * belong to image i, `sampled_labels` (may be NULL) receives the label at
 * each row. Within a group (the image, a class, positives, negatives)
 * pixels are drawn uniformly WITHOUT replacement; when the group has fewer
 * pixels than requested every pixel is taken floor(k/m) times and the
 * remainder drawn without replacement (PixelNet tiles the candidate list).
 * CLASS_BALANCED splits per_image equally over the classes present (the
 * first classes, in label order, take the remainder); EDGE_BALANCED takes
 * round(per_image * pos_fraction) positives unless the image has none (then
 * all negatives, and vice versa). An image without valid pixels gets rows
 * (i, 0, 0) labelled empty_label (make the loss ignore that label).
 * ALL lists every pixel of each image in raster order (per_image must be
 * h*w) and labels the invalid ones empty_label: training on all pixels
 * through the same sampled graph, the baseline the samplers are measured by.
 * The result depends only on (seed, image index, labels, options), not on
 * the thread count; images are sampled in parallel. Returns the number of
 * rows that point at valid pixels, or a negative status. */
int64_t pixl_sample_pixels(const pixl_sampler_opts *o, uint64_t seed, const int32_t *labels, int n, int h, int w,
                           int32_t *pixels, int32_t *sampled_labels);

/* ------------------------------------------------ PixelPick: query strategies */
/* (src/active/; docs/pixelpick.md, "Query strategies") Which pixels of an
 * image are labelled next in PixelPick's active learning: a score per pixel
 * from the network's class probabilities, then n pixels chosen among the
 * most uncertain ones, never a pixel that is labelled already or void.
 *
 *     float *score = malloc((size_t)h * w * sizeof *score);
 *     int32_t picks[10];
 *     pixl_query_opts o = {0};   // margin; the 5% most uncertain, then 10 of them at random
 *     pixl_query_uncertainty(o.strategy, prob, K, h, w, 0, score);        // prob: (K, h, w) softmax
 *     int got = pixl_query_select(score, h, w, labelled, gt, &o, 10, pixl_query_seed(seed, round, i), picks);
 *     // or both steps at once: pixl_query_image(prob, K, h, w, labelled, gt, &o, 10, ..., picks)
 *
 * Everything works on one image. PIXEL INDICES are y * w + x (int32), the
 * position in a row-major (h, w) map. Probability maps are (K, h, w) floats,
 * class-major (the layout of one image of a (N, K, H, W) softmax), values
 * in [0, 1] (a map with values outside [0, 1 + 1e-4], e.g. logits, is an
 * error naming the first such value). Results depend on the inputs and the
 * seed only, not on the thread count. */

/* The uncertainty score of a pixel with class probabilities p (PixelPick's
 * query.py). Which end of the score is uncertain differs: see
 * pixl_query_high_is_uncertain(). */
typedef enum pixl_query_strategy {
    PIXL_QUERY_MARGIN = 0,           /* p(1) - p(2), the two largest (0 when the largest occurs twice);
                                      * SMALLEST is most uncertain (PixelPick's default) */
    PIXL_QUERY_ENTROPY = 1,          /* -sum_k p_k ln p_k (0 ln 0 = 0); largest is most uncertain */
    PIXL_QUERY_LEAST_CONFIDENCE = 2, /* 1 - max_k p_k; largest is most uncertain */
    PIXL_QUERY_RANDOM = 3            /* U[0, 1) per pixel from the seed; smallest "is most uncertain" */
} pixl_query_strategy;

/* How n pixels are chosen from the candidates (the pixels neither labelled
 * nor void) ranked by uncertainty. pool = min(candidates, max(n,
 * floor(h * w * top_fraction))): the 5% of PixelPick's top_n_percent, grown
 * to n when 5% of the image is fewer than n pixels. */
typedef enum pixl_query_selection {
    PIXL_QUERY_TOP_FRACTION = 0, /* the `pool` most uncertain candidates, then n of them uniformly at random
                                  * without replacement (PixelPick's default diversity rule) */
    PIXL_QUERY_TOP_N = 1,        /* the n most uncertain candidates (PixelPick's top_n_percent = 0) */
    PIXL_QUERY_REVERSE = 2       /* `pool` candidates uniformly at random, then the n most uncertain of them
                                  * (PixelPick's reverse_order) */
} pixl_query_selection;

typedef struct pixl_query_opts {
    pixl_query_strategy strategy;   /* which end of the score is uncertain (select); the score (image) */
    pixl_query_selection selection;
    double top_fraction;            /* share of the image's pixels in the pool, (0, 1]; 0 -> 0.05 */
    int32_t ignore_label;           /* void label of the `labels` map; 0 -> PIXL_IGNORE_LABEL (255) */
} pixl_query_opts;

/* Names: "margin" (parse also takes PixelPick's "margin_sampling"),
 * "entropy", "least_confidence", "random"; "top_fraction", "top_n",
 * "reverse"; "soft", "hard", "mean_score" (votes, below). *_name() returns
 * "?" for a value out of range; *_parse() sets *out, or fails with
 * PIXL_ERR_ARG naming the text and the valid names (*out unchanged). */
const char *pixl_query_strategy_name(pixl_query_strategy s);
int pixl_query_strategy_parse(const char *name, pixl_query_strategy *out);
const char *pixl_query_selection_name(pixl_query_selection s);
int pixl_query_selection_parse(const char *name, pixl_query_selection *out);
/* 1 when a larger score is more uncertain (entropy, least confidence), 0
 * when a smaller one is (margin, random). */
int pixl_query_high_is_uncertain(pixl_query_strategy s);

/* A seed for one image of one round from a run's seed: a hash of the three,
 * so images and rounds draw independent streams. */
uint64_t pixl_query_seed(uint64_t seed, int round, int image);

/* The uncertainty map of one image: score (h, w) of strategy s from prob
 * (k, h, w). RANDOM reads no probabilities (prob may be NULL, k is not
 * checked) and draws every pixel's score from `seed`; the others ignore it.
 * Errors (PIXL_ERR_ARG, naming the function and the values): NULL
 * pointers, k < 2, h or w < 1, h * w > INT32_MAX, an unknown strategy,
 * probabilities outside [0, 1]. */
int pixl_query_uncertainty(pixl_query_strategy s, const float *prob, int k, int h, int w, uint64_t seed, float *score);

/* Choose up to n pixels (n >= 0) from score (h, w), made by strategy
 * o->strategy, into picks (room for n indices): returns how many were
 * chosen, or a negative status. A pixel is a candidate unless labelled[q]
 * != 0 (labelled may be NULL) or labels[q] == o->ignore_label (labels may
 * be NULL); other pixels are never chosen. With fewer than n candidates
 * every candidate is chosen and the count is smaller than n (0 for an image
 * without candidates): no error. Picks are distinct and listed most
 * uncertain first; equal scores rank the lower index first. The random
 * draws of TOP_FRACTION and REVERSE come from `seed` alone (same seed, same
 * picks). o NULL: the defaults (margin, TOP_FRACTION, 5%, void 255).
 * Errors: n < 0, NULL score (or picks with n > 0), h or w < 1, a
 * top_fraction outside [0, 1], unknown strategy or selection, a candidate's
 * score that is NaN or infinite. */
int pixl_query_select(const float *score, int h, int w, const uint8_t *labelled, const int32_t *labels,
                      const pixl_query_opts *o, int n, uint64_t seed, int32_t *picks);

/* pixl_query_uncertainty() with o->strategy (RANDOM from `seed`) and then
 * pixl_query_select() with the same seed: the picks of one image. */
int pixl_query_image(const float *prob, int k, int h, int w, const uint8_t *labelled, const int32_t *labels,
                     const pixl_query_opts *o, int n, uint64_t seed, int32_t *picks);

/* MC DROPOUT. PixelPick's --use_mc_dropout runs the network T times with
 * dropout on (20 passes at p 0.2) and averages the T uncertainty maps (its
 * released code fails there on a misspelt name; the intent is the mean);
 * its --vote_type soft|hard is parsed but unused. pixl offers the three:
 *   SOFT        the mean of the T probability maps, then the score;
 *   HARD        per pixel, the share of passes whose argmax (the lowest
 *               class among equal maxima) is each class, then the score of
 *               that vote distribution;
 *   MEAN_SCORE  the score of each pass, then their mean (PixelPick's path).
 * The T maps come from the caller: T forward passes of an inference graph
 * built after pixl_ctx_set_mc_dropout() (pixl.h), as `pixl pixelpick
 * --mc-dropout T` runs them. */
typedef enum pixl_mc_vote { PIXL_MC_SOFT = 0, PIXL_MC_HARD = 1, PIXL_MC_MEAN_SCORE = 2 } pixl_mc_vote;
const char *pixl_mc_vote_name(pixl_mc_vote v);
int pixl_mc_vote_parse(const char *name, pixl_mc_vote *out);

/* The SOFT or HARD combination of t >= 1 maps probs[0..t-1], each (k, h, w),
 * into prob (k, h, w). MEAN_SCORE has no single map: PIXL_ERR_ARG. Errors as
 * pixl_query_uncertainty() (each map checked), plus t < 1 and a NULL map
 * (named by its index). */
int pixl_query_mc_combine(const float *const *probs, int t, int k, int h, int w, pixl_mc_vote vote, float *prob);
/* The uncertainty map (h, w) of strategy s over the t maps combined by
 * `vote`. RANDOM ignores the maps and the vote: the same map as
 * pixl_query_uncertainty() with `seed`. */
int pixl_query_mc_uncertainty(pixl_query_strategy s, const float *const *probs, int t, int k, int h, int w,
                              pixl_mc_vote vote, uint64_t seed, float *score);

/* QUERY STATISTICS of a round (PixelPick's QueryStats): add each image's
 * picks with its true labels, then read the summary. */
typedef struct pixl_query_stats pixl_query_stats;
typedef struct pixl_query_summary {
    int64_t images;                /* images added */
    int64_t picks;                 /* pixels added, over all images */
    int64_t other_labels;          /* picks whose label is outside [0, n_classes) (void) */
    double mean_entropy;           /* mean over the picks of -sum_k p_k ln p_k (NaN: no prob given) */
    double mean_distinct_labels;   /* mean over the images of the number of distinct label values among its
                                    * picks (0 for an image without picks; a void value counts as one) */
    double mean_pairwise_distance; /* mean over the images with >= 2 picks of the mean Euclidean distance in
                                    * pixels between two of its picks (NaN: no such image) */
    int64_t distance_images;       /* images with >= 2 picks */
} pixl_query_summary;
/* Statistics for labels in [0, n_classes) (n_classes >= 1); NULL on error. */
pixl_query_stats *pixl_query_stats_new(int n_classes);
void pixl_query_stats_free(pixl_query_stats *s);
/* Add one image (h, w): its n picks, its labels (h, w), required, and its
 * probability map (n_classes, h, w) or NULL (no entropy then). Errors:
 * NULL s or labels, n < 0, a pick outside [0, h * w) (named), a bad
 * probability map; s is unchanged then. */
int pixl_query_stats_add(pixl_query_stats *s, const int32_t *picks, int n, int h, int w, const int32_t *labels,
                         const float *prob);
int pixl_query_stats_summary(const pixl_query_stats *s, pixl_query_summary *out);
/* Picks per label, n_classes counts (owned by s); NULL for NULL s. */
const int64_t *pixl_query_stats_histogram(const pixl_query_stats *s);
/* The summary and histogram as one JSON object (malloc'ed; free() it):
 * {"images", "picks", "label_histogram": [...], "other_labels",
 * "mean_entropy", "mean_distinct_labels", "mean_pairwise_distance",
 * "distance_images"}; NaN is written as null. NULL with an error. */
char *pixl_query_stats_json(const pixl_query_stats *s);

#ifdef __cplusplus
}
#endif
#endif /* PIXL_TRAIN_H */
