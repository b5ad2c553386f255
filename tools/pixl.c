/* pixl.c — the `pixl` command: a table of subcommands. Results go to
 * stdout, logs and errors to stderr; an unknown subcommand or option is a
 * usage error (exit 2). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "pixl.h"

int cmd_bench(int argc, char **argv);   /* cmd_bench.c */
int cmd_train(int argc, char **argv);   /* cmd_train.c */
int cmd_eval(int argc, char **argv);    /* cmd_train.c */
int cmd_predict(int argc, char **argv); /* cmd_train.c */
int cmd_demo(int argc, char **argv);    /* cmd_train.c */
int cmd_info(int argc, char **argv);    /* cmd_info.c */
int cmd_report(int argc, char **argv);  /* cmd_report.c */
int cmd_edgebench(int argc, char **argv); /* cmd_edgebench.c */
int cmd_jointup(int argc, char **argv);   /* cmd_jointup.c */
int cmd_annotate(int argc, char **argv);  /* cmd_annotate.c */


static int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("pixl %s\n", pixl_version());
    return 0;
}

static int cmd_check(int argc, char **argv)
{
    int verbose = 0, failed = 0, n = 0, any = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose")) verbose = 1;
        else if (argv[i][0] == '-') {
            fprintf(stderr, "pixl check: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-') continue;
        any = 1;
        size_t l = strlen(argv[i]);
        if (l > 12 && !strcmp(argv[i] + l - 12, ".safetensors")) {
            n++;
            failed += !check_run_file(argv[i], verbose);
        } else {
            failed += check_run_dir(argv[i], verbose) ? 1 : 0;
        }
    }
    if (!any) {
        fprintf(stderr, "usage: pixl check DIR|CASE.safetensors... [--threads N] [-v]\n");
        return 2;
    }
    if (n) printf("%d passed, %d failed\n", n - failed, failed);
    return failed ? 1 : 0;
}

typedef struct { const char *name; int (*fn)(int, char **); const char *help; } command;
static int cmd_help(int argc, char **argv);
static const command g_cmds[] = {
    {"help", cmd_help, "list the subcommands"},
    {"version", cmd_version, "print the version"},
    {"demo", cmd_demo, "the embedded default: train, evaluate, predict and report on synthetic data"},
    {"train", cmd_train, "train from a YAML config: pixl train CONFIG [--set K=V] [--resume RUN]; --print-config"},
    {"eval", cmd_eval, "evaluate a model: pixl eval MODEL --dataset KIND --root DIR [--split val] [--flip]"},
    {"predict", cmd_predict, "label images: pixl predict --model MODEL IMAGE... [--out DIR]"},
    {"info", cmd_info, "a model's parameters, GFLOPs and memory: pixl info MODEL [--input 3x360x480]"},
    {"report", cmd_report, "an HTML report of a training run: pixl report RUN_DIR"},
    {"check", cmd_check, "run reference cases (safetensors case format): pixl check DIR|FILE..."},
    {"jointup", cmd_jointup, "guided upsampling of CamVid labels (PAC): pixl jointup --method pacjointupsample_lite|djif|bilinear|nearest"},
    {"edgebench", cmd_edgebench, "BSDS boundary benchmark (ODS/OIS/AP): pixl edgebench PRED_DIR|--gradient IMG_DIR GT_DIR"},
    {"annotate", cmd_annotate, "label query points in a web page, keyboard only (PixelPick): pixl annotate --images DIR --queries FILE --labels OUT.json"},
    {"bench", cmd_bench, "benchmarks against PyTorch: pixl bench ops|models [--threads N] [--no-torch] (see pixl bench)"},
};
#define N_CMDS (int)(sizeof g_cmds / sizeof g_cmds[0])

static int cmd_help(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("pixl %s — pixel-level prediction on CPUs\n\nusage: pixl <command> [options]\n\n", pixl_version());
    for (int i = 0; i < N_CMDS; i++) printf("  %-10s %s\n", g_cmds[i].name, g_cmds[i].help);
    printf("\nEvery command takes --threads N (default: PIXL_NUM_THREADS, else all cores).\n");
    return 0;
}

/* `--threads N` (or --threads=N) is accepted by every subcommand: take it
 * out of argv and apply it before dispatching. */
static int take_threads(int argc, char **argv)
{
    int out = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            int n = atoi(argv[++i]);
            if (n < 1) {
                fprintf(stderr, "pixl: --threads needs a positive number, got '%s'\n", argv[i]);
                return -1;
            }
            pixl_set_num_threads(n);
        } else if (!strncmp(argv[i], "--threads=", 10)) {
            int n = atoi(argv[i] + 10);
            if (n < 1) {
                fprintf(stderr, "pixl: --threads needs a positive number, got '%s'\n", argv[i] + 10);
                return -1;
            }
            pixl_set_num_threads(n);
        } else {
            argv[out++] = argv[i];
        }
    }
    argv[out] = NULL;
    return out;
}

int main(int argc, char **argv)
{
    argc = take_threads(argc, argv);
    if (argc < 0) return 2;
    if (argc < 2) {
        cmd_help(0, NULL);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) return cmd_help(0, NULL);
    if (!strcmp(argv[1], "--version")) return cmd_version(0, NULL);
    for (int i = 0; i < N_CMDS; i++)
        if (!strcmp(argv[1], g_cmds[i].name)) return g_cmds[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "pixl: unknown command '%s' (see pixl help)\n", argv[1]);
    return 2;
}
