/* trainer_impl.h — private pieces of the trainer (src/train/): its output,
 * a progress bar on a terminal and plain lines otherwise, and log.jsonl
 * (one JSON object per line: "train" records every print_interval steps,
 * "val" records with the task's metrics object). */
#ifndef PIXL_TRAINER_IMPL_H
#define PIXL_TRAINER_IMPL_H

#include "pixl_impl.h"

typedef struct pixl__logger {
    FILE *out;   /* progress and log lines */
    int tty;     /* out is a terminal: a progress bar rewritten in place */
    int quiet;   /* no progress, no step lines */
    FILE *jsonl; /* log.jsonl or NULL */
    int write_failed; /* a write to log.jsonl failed (warned once) */
} pixl__logger;

void pixl__log_init(pixl__logger *lg, FILE *out, int quiet);
/* open log.jsonl (append: a resumed run) */
int pixl__log_open(pixl__logger *lg, const char *path, int append);
void pixl__log_close(pixl__logger *lg);
/* a line of the run's log (clears a progress bar first) */
void pixl__log(pixl__logger *lg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* the progress bar (terminals only) */
void pixl__log_progress(pixl__logger *lg, int64_t epoch, int b, int nb, double eta, double loss, double lr,
                        double ips);
void pixl__log_end_progress(pixl__logger *lg);
/* a training record: mean loss since the last one, learning rate, speed, loader */
void pixl__log_train(pixl__logger *lg, int64_t step, int64_t epoch, double elapsed, double loss, double lr,
                     double ips, const pixl_loader_stats *ls);
/* a validation record; metrics_json is the task's metrics object (NULL: null) */
void pixl__log_val(pixl__logger *lg, int64_t step, int64_t epoch, double elapsed, double train_loss, int best,
                   const char *metrics_json);

/* The error for a data set in which no pixel of the label maps seen has a
 * class: n_seen label maps, classes 0..K-1, `what` ("training set",
 * "evaluation set"); names the data set and its label file when it has one
 * sample, else its first (evaluate.c). Returns PIXL_ERR_FORMAT. */
int pixl__no_labels_error(const pixl_dataset *ds, const char *what, int n_seen, int K, int ignore);

/* PixelNet training on sampled pixels (pixelnet_train.c; used by trainer.c
 * for arch pixelnet). */
typedef struct pixl_pn_train {
    pixl_tensor *pixels;  /* (B*k, 3) int32 input: image, row, column */
    pixl_tensor *labels;  /* (B*k) int32 input: their labels */
    pixl_tensor *logits;  /* (B*k, K): the head at those pixels */
    pixl_sampler_opts so;
    uint64_t seed;
} pixl_pn_train;

/* Build the sampled head on images x (B, C, H, W): inputs for the pixel
 * list and its labels and the PixelNet head at those pixels (its loss is
 * the task's). The sampler draws from `sampler_classes` classes and pads
 * with `empty_label`. Returns the logits or NULL (ctx error). */
pixl_tensor *pixl__pn_train_graph(pixl_ctx *ctx, const pixl_train_config *cfg, const pixl_model_opts *mo,
                                 pixl_tensor *x, int sampler_classes, int empty_label, pixl_pn_train *st);
/* Draw step `step`'s pixels from the batch's labels (B, H, W) into the inputs. */
int pixl__pn_train_sample(pixl_pn_train *st, const int32_t *labels, int B, int H, int W, int64_t step);

#endif
