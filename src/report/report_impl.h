/* report_impl.h — private parts of the HTML run report (src/report/).
 *
 * pixl_report_write() (report.c) reads the run directory into a
 * pixl__report, writes the page frame (head, styles, title, the folded
 * config.yaml, footer) and lets the run's task write everything between
 * the title and the config through ONE dispatch function,
 * pixl__report_task_section() (report_task.c), which calls the report_section
 * of the run's task (src/tasks/). A task section (report_seg.c,
 * report_edges.c, report_normals.c) picks the best validation record, then
 * composes its part from the shared pieces declared here: the summary
 * cards and Run table (report_html.c), the curves over time from metric
 * keys of the val records (report_svg.c), inline images and notes. */
#ifndef PIXL_REPORT_IMPL_H
#define PIXL_REPORT_IMPL_H

#include <cjson/cJSON.h>

#include "pixl_impl.h"
#include "tasks/task.h"

#define PIXL__REPORT_DEFAULT_SAMPLES 4
#define PIXL__REPORT_SAMPLE_MAX_W 320 /* wider sample images are shown downscaled */
#define PIXL__REPORT_SAMPLE_MAX_W4 240 /* the same for rows of four images */

/* ------------------------------------------------------------ log.jsonl */
/* a "train" record: a row of doubles (charts read it with a stride) */
typedef struct {
    double step, epoch, minutes, loss, lr, ips, wait;
} pixl__train_rec;

/* a "val" record */
typedef struct {
    double step, epoch, minutes, train_loss;
    long line;      /* 1-based line in log.jsonl */
    long offset;    /* byte offset of the line, to read its whole metrics again */
    cJSON *scalars; /* the numbers of its "metrics" object (null for a missing value), or NULL */
} pixl__val_rec;

typedef struct {
    pixl__train_rec *tr;
    int ntr, ctr;
    pixl__val_rec *va;
    int nva, cva;
    int partial_last; /* skipped an unterminated last line */
    int no_step;      /* train/val records without a numeric step (skipped) */
    int replaced;     /* records dropped because a resumed run logged them again */
} pixl__run_log;

/* ------------------------------------------------------------ the report */
typedef struct pixl__report {
    const char *dir;
    char log_path[4200], cfg_path[4200], ckpt_path[4200];
    const char *ckpt_name;   /* "best.safetensors" / "last.safetensors" / NULL */
    pixl__run_log L;
    int best;                /* index into L.va of the best record (chosen by the task section), -1 none */
    pixl_train_config *cfg;  /* NULL: cfg_err says why */
    char cfg_err[4400];
    pixl_model *model;       /* best, else last checkpoint; NULL: model_err says why */
    char model_err[4400];
    pixl_st_file *st;        /* metadata of that checkpoint (may be NULL) */
    int task;                /* pixl_task of the run's train set; -1 when it cannot be opened */
    pixl_dataset *val;       /* validation split opened as the trainer opens it (NULL: val_err) */
    char val_err[4400];
    int nsamples;            /* validation images shown with predictions (0 = none) */
    int K;                   /* segmentation: classes; names and colours (report_seg.c) */
    char **names;
    uint8_t *colours;
} pixl__report;

/* the gate maps of a PAG model on the first validation image, after any task's part (report_gates.c) */
int pixl__report_gates_section(pixl__report *R, FILE *o);
/* the one place that knows which task writes the page (report_task.c) */
int pixl__report_task_section(pixl__report *R, FILE *o);
/* the task sections (report_seg.c, report_edges.c, report_normals.c) are
 * declared in tasks/task.h: each task's table points at its own */

/* ---------------------------------------------- log reading (report_log.c) */
/* 0, or a status with an error naming the file and line */
int pixl__report_read_log(const char *path, pixl__run_log *L);
void pixl__report_log_free(pixl__run_log *L);
/* value of metrics key `key` of val record i (NaN if missing or null) */
double pixl__report_val(const pixl__report *R, int i, const char *key);
/* index of the val record with the highest (maximise) or lowest finite
 * value of `key`; the first one on ties; -1 if none */
int pixl__report_best(const pixl__report *R, const char *key, int maximise);
/* the whole metrics object of val record i, read again from the log (the
 * parsed line is returned in *root: cJSON_Delete it); NULL if unreadable */
const cJSON *pixl__report_metrics(const pixl__report *R, int i, cJSON **root);
double pixl__jnum(const cJSON *o, const char *key);
/* checkpoint metadata value or NULL */
const char *pixl__report_meta(const pixl__report *R, const char *key);

/* ------------------------------------------------ HTML pieces (report_html.c) */
void pixl__esc(FILE *o, const char *s);
void pixl__note(FILE *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "12.34" for 100*v with `digits` decimals, "—" when undefined */
const char *pixl__pct(char *buf, size_t n, double v, int digits);
const char *pixl__fmt_minutes(char *buf, size_t n, double m);
const char *pixl__fmt_count(char *buf, size_t n, double v);
void pixl__report_css(FILE *o);
/* <img> of an image as an inline base64 PNG, shown at disp_w x disp_h; 0 on success */
int pixl__img_tag(FILE *o, const pixl_image *img, int disp_w, int disp_h, const char *alt);
/* the same, resized to sw x sh first when it has another size; img NULL: -1 */
int pixl__img_tag_fit(FILE *o, const pixl_image *img, int sw, int sh, int disp_w, int disp_h, const char *alt);
/* display size of a w x h sample: downscaled to *sw x *sh when wider than
 * max_w (PIXL__REPORT_SAMPLE_MAX_W for three images a row, less for more),
 * shown at *dw x *dh (tiny ones magnified) */
void pixl__sample_size(int w, int h, int max_w, int *sw, int *sh, int *dw, int *dh);
/* 1 when sample predictions can be made (model and validation split at
 * hand); else 0 after a note saying why (report.c) */
int pixl__report_samples_ready(pixl__report *R, FILE *o);
/* the folded config.yaml */
void pixl__report_config_text(FILE *o, const pixl__report *R);

/* the task's part of the summary */
typedef struct {
    const char *k, *v, *d; /* title, value, detail */
} pixl__card;
typedef struct {
    pixl__card cards[2];           /* shown before "training time" and "parameters" */
    const char *best_row;          /* Run table "best validation" (NULL: no row) */
    const char *last_row;          /* Run table "last validation" (NULL: no row) */
    const char *ckpt_score;        /* appended to the checkpoint row, e.g. ", val mIoU 41.00 %" */
} pixl__report_summary;
/* the summary cards and the Run table */
void pixl__report_header(const pixl__report *R, FILE *o, const pixl__report_summary *s);

/* ----------------------------------------------------- charts (report_svg.c) */
typedef struct {
    const double *x, *y; /* strided arrays (stride in doubles) */
    int stride, n;
    double yscale;       /* multiply y (100 for percentages) */
    const char *colour, *label; /* label NULL: not in the legend */
    int markers;         /* circles with tooltips at every point */
    int best;            /* index to highlight, -1 none */
    int best_digits;     /* decimals of the "best" label (0 -> 1) */
    const char *best_label; /* text next to the best point instead of "best <y>" (NULL: that) */
} pixl__series;

/* A line chart of ns series; x_int: x is a count (ticks at integers). */
void pixl__chart(FILE *o, const char *title, const char *xlabel, const char *ylabel, const pixl__series *S, int ns,
                 int x_int, double ylo_clamp, double yhi_clamp, const char *empty_msg);

/* The same chart as a complete SVG document (an .svg file of its own). */
void pixl__chart_svg(FILE *o, const char *title, const char *xlabel, const char *ylabel, const pixl__series *S,
                     int ns, int x_int, double ylo_clamp, double yhi_clamp, const char *empty_msg);

/* PixelPick's rounds (report_rounds.c): the page pixl_report_write() makes
 * of a `pixl pixelpick` directory (one with summary.json and no log.jsonl) */
int pixl__report_rounds_is_dir(const char *dir);
int pixl__report_rounds_page(const char *dir, const char *out_html);

/* a chart of metric keys of the val records */
typedef struct {
    const char *key, *label, *colour;
    double scale; /* 100: a fraction shown in % */
} pixl__metric;
typedef struct {
    const char *title, *ylabel;
    int vs_minutes;             /* x: minutes (else step) */
    const pixl__metric *m;
    int n;                      /* metrics (at most 4) */
    double ylo, yhi;            /* y clamp */
    int best_digits;
} pixl__val_chart;
/* The Curves section: training loss and learning rate, the task's val
 * charts (the first metric's R->best point circled), throughput and
 * loader wait. */
void pixl__report_curves(pixl__report *R, FILE *o, const pixl__val_chart *vc, int nvc);

#endif /* PIXL_REPORT_IMPL_H */
