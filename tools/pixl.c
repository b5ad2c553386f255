/* pixl.c — the `pixl` command: a table of subcommands (tools/commands.h). Results go to
 * stdout, logs and errors to stderr; an unknown subcommand or option is a
 * usage error (exit 2). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cli_args.h"
#include "pixl.h"

/* the subcommands of tools/commands.h: their declarations */
#define PIXL_COMMAND(name, help) int cmd_##name(int argc, char **argv);
#include "commands.h"
#undef PIXL_COMMAND

static int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("pixl %s\n", pixl_version());
    return 0;
}

int cmd_check(int argc, char **argv)
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
#define PIXL_COMMAND(name, help) {#name, cmd_##name, help},
#include "commands.h"
#undef PIXL_COMMAND
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
        const char *v = !strcmp(argv[i], "--threads") && i + 1 < argc ? argv[++i]
                        : !strncmp(argv[i], "--threads=", 10)     ? argv[i] + 10
                                                                  : NULL;
        if (!v) {
            argv[out++] = argv[i];
            continue;
        }
        int n;
        if (pixl_arg_int("", "--threads", v, 1, PIXL_ARG_MAX_THREADS, &n)) return -1;
        pixl_set_num_threads(n);
    }
    argv[out] = NULL;
    return out;
}

int main(int argc, char **argv)
{
    /* the library ignores a PIXL_NUM_THREADS it cannot read (threads.c); a
     * user who set it hears about it here */
    const char *env = getenv("PIXL_NUM_THREADS");
    int n_env;
    if (env && pixl_arg_int(NULL, NULL, env, 1, PIXL_ARG_MAX_THREADS, &n_env)) {
        fprintf(stderr, "pixl: PIXL_NUM_THREADS must be an integer in [1, %d], got '%s'\n", PIXL_ARG_MAX_THREADS, env);
        return 2;
    }
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
