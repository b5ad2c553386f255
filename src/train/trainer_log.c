/* trainer_log.c — what a training run prints and logs (trainer_impl.h). */
#include <errno.h>
#include <math.h>
#include <unistd.h>

#include "train/trainer_impl.h"

/* one line of log.jsonl, flushed: a reader sees whole records */
static void write_record(pixl__logger *lg, pixl_json *j)
{
    char *line = pixl_json_finish(j, "log.jsonl");
    if (line) fprintf(lg->jsonl, "%s\n", line);
    /* a full disk: said once; the run goes on (its checkpoints fail on their own, naming the file) */
    if ((fflush(lg->jsonl) || ferror(lg->jsonl)) && !lg->write_failed) {
        lg->write_failed = 1;
        pixl__log(lg, "warning: cannot write log.jsonl: %s; its records are incomplete from here\n", strerror(errno));
    }
    free(line);
}

void pixl__log_init(pixl__logger *lg, FILE *out, int quiet)
{
    lg->out = out ? out : stderr;
    lg->quiet = quiet;
    lg->tty = !quiet && isatty(fileno(lg->out));
    lg->jsonl = NULL;
    lg->write_failed = 0;
}

/* the length of f up to and including its last newline: a run killed (or
 * stopped by a full disk) while writing a record leaves a partial last line,
 * which a resumed run cuts off before appending */
static long complete_length(FILE *f)
{
    if (fseek(f, 0, SEEK_END)) return -1;
    long end = ftell(f), pos = end;
    char buf[4096];
    while (pos > 0) {
        long n = pos < (long)sizeof buf ? pos : (long)sizeof buf;
        if (fseek(f, pos - n, SEEK_SET) || fread(buf, 1, (size_t)n, f) != (size_t)n) return -1;
        for (long i = n - 1; i >= 0; i--)
            if (buf[i] == '\n') return pos - n + i + 1;
        pos -= n;
    }
    return 0;
}

int pixl__log_open(pixl__logger *lg, const char *path, int append)
{
    if (!(lg->jsonl = fopen(path, append ? "a+" : "w")))
        return pixl_set_error(PIXL_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    if (append) {
        long end = -1, keep = complete_length(lg->jsonl);
        if (!fseek(lg->jsonl, 0, SEEK_END)) end = ftell(lg->jsonl);
        if (keep < 0 || (keep < end && ftruncate(fileno(lg->jsonl), keep))) {
            int rc = pixl_set_error(PIXL_ERR_IO, "cannot repair the last line of %s: %s", path, strerror(errno));
            fclose(lg->jsonl);
            lg->jsonl = NULL;
            return rc;
        }
        fseek(lg->jsonl, 0, SEEK_END); /* the next write goes after the last complete line */
    }
    return PIXL_OK;
}

void pixl__log_close(pixl__logger *lg)
{
    if (lg->jsonl) fclose(lg->jsonl);
    lg->jsonl = NULL;
}

void pixl__log(pixl__logger *lg, const char *fmt, ...)
{
    va_list ap;
    if (lg->tty) fprintf(lg->out, "\r\033[K");
    va_start(ap, fmt);
    vfprintf(lg->out, fmt, ap);
    va_end(ap);
    fflush(lg->out);
}

void pixl__log_progress(pixl__logger *lg, int64_t epoch, int b, int nb, double eta, double loss, double lr,
                        double ips)
{
    if (!lg->tty || lg->quiet) return;
    char bar[21];
    int fill = nb ? (int)(20.0 * (b + 1) / nb) : 0;
    for (int i = 0; i < 20; i++) bar[i] = i < fill ? '#' : '.';
    bar[20] = 0;
    int e = eta > 0 ? (int)eta : 0;
    fprintf(lg->out, "\r\033[Kepoch %lld [%s] %d/%d  ETA %02d:%02d:%02d  loss %.4f  lr %.2e  %.1f img/s",
            (long long)epoch, bar, b + 1, nb, e / 3600, e / 60 % 60, e % 60, loss, lr, ips);
    fflush(lg->out);
}

void pixl__log_end_progress(pixl__logger *lg)
{
    if (lg->tty) fprintf(lg->out, "\n");
}

void pixl__log_train(pixl__logger *lg, int64_t step, int64_t epoch, double elapsed, double loss, double lr,
                     double ips, const pixl_loader_stats *ls)
{
    const double wait = ls->total_seconds > 0 ? ls->wait_seconds / ls->total_seconds : 0;
    if (!lg->tty && !lg->quiet)
        pixl__log(lg, "step %lld epoch %lld  loss %.4f  lr %.3g  %.1f img/s  loader wait %.0f%%\n", (long long)step,
                  (long long)epoch, loss, lr, ips, 100 * wait);
    if (!lg->jsonl) return;
    pixl_json j = {0};
    pixl_json_begin_object(&j, NULL);
    pixl_json_str(&j, "type", "train");
    pixl_json_int(&j, "step", step);
    pixl_json_int(&j, "epoch", epoch);
    pixl_json_num(&j, "minutes", elapsed / 60);
    pixl_json_num(&j, "loss", loss);
    pixl_json_num(&j, "lr", lr);
    pixl_json_num(&j, "img_per_s", ips);
    pixl_json_num(&j, "loader_wait", wait);
    pixl_json_num(&j, "loader_capacity_img_per_s", ls->capacity_per_second);
    pixl_json_end_object(&j);
    write_record(lg, &j);
}

void pixl__log_val(pixl__logger *lg, int64_t step, int64_t epoch, double elapsed, double train_loss, int best,
                   const char *metrics_json)
{
    if (!lg->jsonl) return;
    pixl_json j = {0};
    pixl_json_begin_object(&j, NULL);
    pixl_json_str(&j, "type", "val");
    pixl_json_int(&j, "step", step);
    pixl_json_int(&j, "epoch", epoch);
    pixl_json_num(&j, "minutes", elapsed / 60);
    pixl_json_num(&j, "train_loss", train_loss); /* NaN before the first step: null */
    pixl_json_bool(&j, "best", best);
    pixl_json_raw(&j, "metrics", metrics_json);
    pixl_json_end_object(&j);
    write_record(lg, &j);
}
