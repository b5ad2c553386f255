/* cmd_report.c — `pixl report RUN_DIR [--out FILE] [--samples N]`: the
 * command around pixl_report_write() (src/report/): options, messages and
 * exit codes (0 written, 1 failed, 2 usage). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_args.h"
#include "pixl_train.h"

int cmd_report(int argc, char **argv);

#define MAX_SAMPLES 64

static void usage(void)
{
    fprintf(stderr, "usage: pixl report RUN_DIR [--out FILE] [--samples N]\n"
                    "Writes one self-contained HTML page (default RUN_DIR/report.html) about a training run: curves\n"
                    "and, by the run's task, per-class IoU and the confusion matrix (segmentation), ODS/OIS/AP and the\n"
                    "precision-recall curve (edges) or the angle metrics (normals), with predictions of\n"
                    "best.safetensors on N (default 4) validation images.\n");
}

int cmd_report(int argc, char **argv)
{
    const char *dir = NULL, *out = NULL;
    int nsamples = 4;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
        else if (!strcmp(argv[i], "--samples") && i + 1 < argc) {
            if (pixl_arg_int("report", "--samples", argv[++i], 0, MAX_SAMPLES, &nsamples)) return 2;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage();
            return 0;
        } else if (argv[i][0] != '-' && !dir) dir = argv[i];
        else {
            fprintf(stderr, "pixl report: unexpected argument '%s'\n", argv[i]);
            usage();
            return 2;
        }
    }
    if (!dir) {
        usage();
        return 2;
    }
    pixl_report_opts o = {.n_samples = nsamples ? nsamples : -1};
    if (pixl_report_write(dir, out, &o)) {
        fprintf(stderr, "pixl report: %s\n", pixl_last_error());
        return 1;
    }
    if (out) printf("report: %s\n", out);
    else printf("report: %s/report.html\n", dir);
    return 0;
}
