/* report.c — pixl_report_write(): one self-contained HTML page about a
 * training run. Reads the run directory (log.jsonl, config.yaml, the best
 * or last checkpoint, the training and validation splits opened as the
 * trainer opens them), writes the page frame and lets the run's task write
 * the body (report_task.c). The page is written to OUT.tmp.XXXXXX, fsync'd
 * and renamed over OUT, so a failed run leaves the old page intact. */
#include <errno.h>
#include <math.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "report/report_impl.h"

#define MAX_SAMPLES 64

static void report_free(pixl__report *R)
{
    pixl__report_log_free(&R->L);
    free(R->cfg);
    pixl_model_free(R->model);
    pixl_st_close(R->st);
    pixl_dataset_free(R->val);
    for (int k = 0; R->names && k < R->K; k++) free(R->names[k]);
    free(R->names);
    free(R->colours);
}

/* config.yaml; a missing or invalid one leaves cfg NULL and cfg_err set */
static void load_config(pixl__report *R)
{
    R->cfg = calloc(1, sizeof *R->cfg);
    if (!R->cfg) {
        snprintf(R->cfg_err, sizeof R->cfg_err, "out of memory");
    } else if (access(R->cfg_path, F_OK)) {
        snprintf(R->cfg_err, sizeof R->cfg_err, "%s: %s", R->cfg_path, strerror(errno));
        free(R->cfg);
        R->cfg = NULL;
    } else if (pixl_config_load(R->cfg_path, R->cfg)) {
        snprintf(R->cfg_err, sizeof R->cfg_err, "%s", pixl_last_error());
        free(R->cfg);
        R->cfg = NULL;
        pixl_clear_error();
    }
}

/* the checkpoint: best, else last */
static void load_model(pixl__report *R)
{
    static const char *const ckpts[] = {"best.safetensors", "last.safetensors"};
    snprintf(R->model_err, sizeof R->model_err, "no best.safetensors or last.safetensors in %s", R->dir);
    for (int c = 0; c < 2 && !R->model; c++) {
        snprintf(R->ckpt_path, sizeof R->ckpt_path, "%s/%s", R->dir, ckpts[c]);
        if (access(R->ckpt_path, F_OK)) continue;
        R->model = pixl_model_load(R->ckpt_path);
        if (!R->model) {
            snprintf(R->model_err, sizeof R->model_err, "%s", pixl_last_error());
            pixl_clear_error();
            continue;
        }
        R->ckpt_name = ckpts[c];
        R->st = pixl_st_open(R->ckpt_path);
        if (!R->st) pixl_clear_error();
    }
}

/* the task from the training split; the validation split for the samples */
static void open_data(pixl__report *R)
{
    R->task = -1;
    if (!R->cfg) {
        snprintf(R->val_err, sizeof R->val_err, "the data set is unknown (%.4300s).", R->cfg_err);
        return;
    }
    pixl_dataset *train = pixl_config_open_split(R->cfg, R->cfg->data.train_split, 1);
    if (train) R->task = pixl_dataset_task(train);
    pixl_dataset_free(train);
    pixl_clear_error();
    R->val = pixl_config_open_split(R->cfg, NULL, 0);
    if (!R->val) {
        snprintf(R->val_err, sizeof R->val_err, "cannot open the validation split '%s' of data set '%s': %s",
                 R->cfg->data.val_split, R->cfg->data.dataset, pixl_last_error());
        pixl_clear_error();
    } else if (R->task < 0) {
        R->task = pixl_dataset_task(R->val);
    }
}

int pixl__report_samples_ready(pixl__report *R, FILE *o)
{
    if (!R->model) pixl__note(o, "No predictions: %s", R->model_err);
    else if (!R->val) pixl__note(o, "No predictions: %s", R->val_err);
    return R->model && R->val;
}

static int write_page(FILE *o, pixl__report *R)
{
    char when[64];
    time_t now = time(NULL);
    struct tm tmv;
    strftime(when, sizeof when, "%Y-%m-%d %H:%M", localtime_r(&now, &tmv));
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>pixl report: ",
          o);
    pixl__esc(o, R->dir);
    fputs("</title>\n", o);
    pixl__report_css(o);
    fputs("</head><body><main>\n<h1>pixl training report</h1>\n<p class=\"sub\">", o);
    pixl__esc(o, R->dir);
    fprintf(o, " · generated %s by pixl %s</p>\n", when, pixl_version());
    int rc = pixl__report_task_section(R, o);
    if (!rc) rc = pixl__report_gates_section(R, o);
    if (rc) return rc;
    pixl__report_config_text(o, R);
    fputs("<footer>A self-contained page: every chart is inline SVG, every image an inline PNG.</footer>\n"
          "</main></body></html>\n",
          o);
    return 0;
}

/* write the page to OUT.tmp.XXXXXX, fsync, rename over OUT */
static int write_html_file(const char *out, pixl__report *R)
{
    pixl_atomic_file *af = pixl_atomic_begin(out);
    if (!af) return pixl_last_status();
    int rc = write_page(pixl_atomic_stream(af), R);
    if (rc) pixl_atomic_abort(af);
    else rc = pixl_atomic_commit(af);
    return rc;
}

static int check_args(const char *run_dir, const char *out_html, const pixl_report_opts *opts)
{
    struct stat st;
    if (!run_dir) return pixl_set_error(PIXL_ERR_ARG, "pixl_report_write: run_dir is NULL");
    if (opts && opts->n_samples > MAX_SAMPLES)
        return pixl_set_error(PIXL_ERR_ARG, "pixl_report_write: %d samples (at most %d)", opts->n_samples, MAX_SAMPLES);
    if (stat(run_dir, &st)) return pixl_set_error(PIXL_ERR_NOT_FOUND, "%s: %s", run_dir, strerror(errno));
    if (!S_ISDIR(st.st_mode)) return pixl_set_error(PIXL_ERR_ARG, "%s: not a directory", run_dir);
    if (strlen(run_dir) > 4000 || (out_html && strlen(out_html) > 4000))
        return pixl_set_error(PIXL_ERR_ARG, "pixl_report_write: path too long");
    return PIXL_OK;
}

int pixl_report_write(const char *run_dir, const char *out_html, const pixl_report_opts *opts)
{
    int rc = check_args(run_dir, out_html, opts);
    if (rc) return rc;
    if (pixl__report_rounds_is_dir(run_dir)) return pixl__report_rounds_page(run_dir, out_html); /* pixl pixelpick */
    int ns = !opts || opts->n_samples == 0 ? PIXL__REPORT_DEFAULT_SAMPLES : opts->n_samples < 0 ? 0 : opts->n_samples;
    pixl__report R = {.dir = run_dir, .best = -1, .task = -1, .nsamples = ns};
    snprintf(R.log_path, sizeof R.log_path, "%s/log.jsonl", run_dir);
    snprintf(R.cfg_path, sizeof R.cfg_path, "%s/config.yaml", run_dir);
    rc = pixl__report_read_log(R.log_path, &R.L);
    if (!rc) {
        load_config(&R);
        load_model(&R);
        open_data(&R);
        char outp[4200];
        if (out_html) snprintf(outp, sizeof outp, "%s", out_html);
        else snprintf(outp, sizeof outp, "%s/report.html", run_dir);
        rc = write_html_file(outp, &R);
    }
    report_free(&R);
    return rc;
}
