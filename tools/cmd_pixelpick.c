/* cmd_pixelpick.c — `pixl pixelpick`: PixelPick's active-learning rounds
 * (seeds-spec §4.3) as one resumable command. Round 0 labels N random
 * non-void pixels per training image from the ground truth; each round
 * then trains on the labels so far (data.sparse_labels), scores every
 * training image with the chosen model (src/active/: uncertainty, MC
 * dropout, selection), labels N new pixels per image (the ground truth, or
 * a person through queries.json and `pixl annotate`) and merges them into
 * the next round's label store. docs/pixelpick.md, "Rounds".
 *
 * Files under --run DIR (each written atomically):
 *   config.yaml, pixelpick.json   the config and options of the run (a rerun must match them)
 *   round_RR/labels.json          the label store this round trains on
 *   round_RR/train/               the round's training run (pixl train's run directory)
 *   round_RR/train.json           written when that training has finished
 *   round_RR/queries.json         the pixels the round's model asks for (pixl-query format)
 *   round_RR/query_stats.json     pixl_query_stats_json() of those picks
 *   round_RR/human_labels.json    (--oracle human) the person's labels of queries.json
 *   round_RR/round.json           the round is finished (its row of the table)
 *   full/train/, full/train.json  (--full) the fully supervised baseline
 *   summary.json, summary.md, miou.svg, report.html
 * A rerun continues at the first round without round.json; a training
 * without train.json resumes from its last.safetensors.
 *
 * Exit status: 0 every round done, 1 error, 2 usage, 3 waiting for a
 * person's labels (--oracle human), 130 interrupted (Ctrl-C). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli_args.h"
#include "pixl_train.h"

#define PP_PATH 4096
#define PP_WAITING 3
#define PP_MAX_ROUNDS 256
#define PP_STOPPED 130

static volatile int g_stop;
/* SIGINT (Ctrl-C) and SIGTERM (a batch scheduler): stop after the step and save */
static void on_sigint(int sig)
{
    if (g_stop) _Exit(128 + sig); /* a second one does not wait: every file is written atomically */
    g_stop = 1;
}

typedef struct pp_opts {
    const char *config, *run;
    const char **sets;
    int n_set;
    pixl_query_opts q; /* strategy, selection, top_fraction */
    int per_round, budget;
    int sched[PP_MAX_ROUNDS]; /* pixels per image after round 0, 1, ...: --schedule, or N, 2N, ..., MAX */
    int n_sched;
    int explicit_sched;       /* --schedule was given */
    int warm_start;
    int mc_passes;     /* 0: no MC dropout */
    pixl_mc_vote vote;
    int human;         /* --oracle human */
    int select_on_train;
    int query_best;    /* --query-model best */
    int full;          /* also train the fully supervised baseline */
    int quiet;
} pp_opts;

typedef struct pp_run {
    pp_opts o;
    pixl_train_config *cfg; /* the config with --set, validation split as --select-on says */
    pixl_dataset *train;    /* the training split with its full label maps (the oracle) */
    int K, R;               /* classes, rounds planned */
    const char **names;     /* K class names */
    uint64_t seed;
    FILE *log;              /* the trainer's output */
} pp_run;

/* labelled pixels per image after round r, and the new ones round r adds (round 0: all of them) */
static int px_after(const pp_run *P, int r)
{
    return P->o.sched[r];
}

static int px_new(const pp_run *P, int r)
{
    return r ? P->o.sched[r] - P->o.sched[r - 1] : P->o.sched[0];
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static int make_dir(const char *dir)
{
    char buf[PP_PATH];
    snprintf(buf, sizeof buf, "%s", dir);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(buf, 0755) && errno != EEXIST) break;
            *p = '/';
        }
    if (mkdir(buf, 0755) && errno != EEXIST)
        return pixl_set_error(PIXL_ERR_IO, "cannot create directory %s: %s", dir, strerror(errno));
    return PIXL_OK;
}

/* a path into buf (PP_PATH bytes); --run is at most PP_RUN_MAX bytes long, so nothing is cut */
#define PP_RUN_MAX 3000
static const char *pathf(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static const char *pathf(char *buf, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, n, fmt, ap);
    va_end(ap);
    return buf;
}

static const char *round_dir(const pp_run *P, int r, char *buf, size_t n)
{
    return pathf(buf, n, "%s/round_%02d", P->o.run, r);
}

static const char *in_dir(char *buf, size_t n, const char *dir, const char *name)
{
    return pathf(buf, n, "%s/%s", dir, name);
}

/* a whole text file (malloc'ed) or NULL with an error naming it */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        pixl_set_error(PIXL_ERR_IO, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *s = malloc(cap);
    for (size_t k; s && (k = fread(s + n, 1, cap - n - 1, f)) > 0;) {
        n += k;
        if (cap - n < 2) {
            char *t = realloc(s, cap *= 2);
            if (!t) free(s);
            s = t;
        }
    }
    fclose(f);
    if (!s) {
        pixl_set_error(PIXL_ERR_NOMEM, "out of memory reading %s", path);
        return NULL;
    }
    s[n] = 0;
    return s;
}

/* a JSON object file, or NULL with an error naming it */
static cJSON *read_json(const char *path)
{
    char *s = slurp(path);
    if (!s) return NULL;
    cJSON *j = cJSON_Parse(s);
    free(s);
    if (!j || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        pixl_set_error(PIXL_ERR_FORMAT, "%s: not a JSON object (delete it to compute it again)", path);
        return NULL;
    }
    return j;
}

static double jnum(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* a growing text */
typedef struct pp_text {
    char *p;
    size_t n, cap;
    int err;
} pp_text;

static void text_add(pp_text *t, const char *s)
{
    size_t k = strlen(s);
    if (t->err) return;
    if (t->n + k + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 4096;
        while (cap < t->n + k + 1) cap *= 2;
        char *q = realloc(t->p, cap);
        if (!q) {
            t->err = 1;
            return;
        }
        t->p = q;
        t->cap = cap;
    }
    memcpy(t->p + t->n, s, k + 1);
    t->n += k;
}

/* j's text as the new content of path, atomically; frees the text */
static int write_json(pixl_json *j, const char *path)
{
    char *s = pixl_json_finish(j, path);
    if (!s) return pixl_last_status();
    size_t n = strlen(s);
    s[n] = '\n'; /* the terminator becomes the last line's end */
    int rc = pixl_atomic_write(path, s, n + 1);
    free(s);
    return rc;
}

/* ------------------------------------------------------------ options */
static void usage(void)
{
    fprintf(stderr,
            "usage: pixl pixelpick CONFIG.yaml --run DIR [--set KEY=VALUE]...\n"
            "           [--strategy margin|entropy|least_confidence|random] [--per-round N] [--budget MAX]\n"
            "           [--schedule P0,P1,...]\n"
            "           [--selection top_fraction|top_n|reverse] [--top-fraction F]\n"
            "           [--mc-dropout T] [--mc-vote soft|hard|mean_score] [--warm-start]\n"
            "           [--query-model last|best] [--oracle gt|human] [--select-on val|train] [--full]\n"
            "           [--quiet] [--threads N]\n"
            "PixelPick's rounds: round 0 labels N random pixels per training image, then each round trains\n"
            "(training.epochs), asks for the N most useful new pixels per image, labels them (gt: the ground\n"
            "truth; human: writes DIR/round_RR/queries.json and stops until DIR/round_RR/human_labels.json\n"
            "exists) and goes on, until MAX pixels per image. --schedule gives the pixels per image after each\n"
            "round instead (10,20,50,100: 10 random, then 10, 30 and 50 queried). Defaults: margin, 10 per\n"
            "round, budget 100, top_fraction 0.05, last-epoch model, gt, validation on the val split. Rerun\n"
            "the same command to continue. --full also trains on the full label maps (DIR/full). Writes DIR/summary.md,\n"
            "summary.json, miou.svg and report.html. Exit status 3: waiting for labels. docs/pixelpick.md\n");
}

static int parse_args(int argc, char **argv, pp_opts *o)
{
    *o = (pp_opts){.per_round = 10, .budget = 100, .vote = PIXL_MC_MEAN_SCORE};
    o->q.top_fraction = 0.05;
    o->sets = calloc((size_t)argc + 1, sizeof *o->sets);
    if (!o->sets) return -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = 0;
#define VALUE()                                                                   \
    do {                                                                          \
        if (!v) {                                                                 \
            fprintf(stderr, "pixl pixelpick: %s needs a value\n", a);             \
            return -1;                                                            \
        }                                                                         \
        i++;                                                                      \
    } while (0)
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage();
            return 1;
        } else if (!strcmp(a, "--set")) {
            VALUE();
            o->sets[o->n_set++] = v;
        } else if (!strcmp(a, "--run")) {
            VALUE();
            o->run = v;
        } else if (!strcmp(a, "--strategy")) {
            VALUE();
            rc = pixl_query_strategy_parse(v, &o->q.strategy);
        } else if (!strcmp(a, "--selection")) {
            VALUE();
            rc = pixl_query_selection_parse(v, &o->q.selection);
        } else if (!strcmp(a, "--top-fraction")) {
            VALUE();
            if (pixl_arg_num_above("pixelpick", a, v, 0, 1, &o->q.top_fraction)) return -1;
        } else if (!strcmp(a, "--per-round")) {
            VALUE();
            if (pixl_arg_int("pixelpick", a, v, 1, 1 << 20, &o->per_round)) return -1;
        } else if (!strcmp(a, "--budget")) {
            VALUE();
            if (pixl_arg_int("pixelpick", a, v, 1, 1 << 24, &o->budget)) return -1;
        } else if (!strcmp(a, "--schedule")) {
            VALUE();
            o->n_sched = 0;
            o->explicit_sched = 1;
            const char *c = v;
            for (;;) {
                char *end;
                errno = 0;
                long n = strtol(c, &end, 10);
                int prev = o->n_sched ? o->sched[o->n_sched - 1] : 0;
                if (errno || end == c || (*end && *end != ',') || n <= prev || n > (1 << 24) ||
                    o->n_sched == PP_MAX_ROUNDS) {
                    fprintf(stderr,
                            "pixl pixelpick: --schedule takes the pixels per image after each round, increasing "
                            "integers in [1, %d] separated by commas, at most %d of them (10,20,50,100), got '%s'\n",
                            1 << 24, PP_MAX_ROUNDS, v);
                    return -1;
                }
                o->sched[o->n_sched++] = (int)n;
                if (!*end) break;
                c = end + 1;
            }
        } else if (!strcmp(a, "--mc-dropout")) {
            VALUE();
            if (pixl_arg_int("pixelpick", a, v, 0, 1000, &o->mc_passes)) return -1;
        } else if (!strcmp(a, "--mc-vote")) {
            VALUE();
            rc = pixl_mc_vote_parse(v, &o->vote);
        } else if (!strcmp(a, "--oracle")) {
            VALUE();
            if (strcmp(v, "gt") && strcmp(v, "human")) {
                fprintf(stderr, "pixl pixelpick: --oracle takes gt or human, got '%s'\n", v);
                return -1;
            }
            o->human = !strcmp(v, "human");
        } else if (!strcmp(a, "--select-on")) {
            VALUE();
            if (strcmp(v, "val") && strcmp(v, "train")) {
                fprintf(stderr, "pixl pixelpick: --select-on takes val or train, got '%s'\n", v);
                return -1;
            }
            o->select_on_train = !strcmp(v, "train");
        } else if (!strcmp(a, "--query-model")) {
            VALUE();
            if (strcmp(v, "last") && strcmp(v, "best")) {
                fprintf(stderr, "pixl pixelpick: --query-model takes last or best, got '%s'\n", v);
                return -1;
            }
            o->query_best = !strcmp(v, "best");
        } else if (!strcmp(a, "--warm-start")) {
            o->warm_start = 1;
        } else if (!strcmp(a, "--full")) {
            o->full = 1;
        } else if (!strcmp(a, "--quiet")) {
            o->quiet = 1;
        } else if (a[0] != '-' && !o->config) {
            o->config = a;
        } else {
            fprintf(stderr, "pixl pixelpick: unexpected argument '%s'\n", a);
            return -1;
        }
#undef VALUE
        if (rc) {
            fprintf(stderr, "pixl pixelpick: %s: %s\n", a, pixl_last_error());
            return -1;
        }
    }
    if (!o->config || !o->run) {
        fprintf(stderr, "pixl pixelpick: %s\n", !o->config ? "no config given" : "--run DIR is required");
        return -1;
    }
    if (strlen(o->run) > PP_RUN_MAX) {
        fprintf(stderr, "pixl pixelpick: --run: a path of at most %d bytes, please\n", PP_RUN_MAX);
        return -1;
    }
    if (o->explicit_sched) {
        for (int i = 1; i < argc; i++)
            if (!strcmp(argv[i], "--per-round") || !strcmp(argv[i], "--budget")) {
                fprintf(stderr, "pixl pixelpick: --schedule and %s: give one or the other\n", argv[i]);
                return -1;
            }
        o->budget = o->sched[o->n_sched - 1];
        return 0;
    }
    if (o->budget / o->per_round > PP_MAX_ROUNDS) {
        fprintf(stderr, "pixl pixelpick: --budget %d / --per-round %d is more than %d rounds\n", o->budget,
                o->per_round, PP_MAX_ROUNDS);
        return -1;
    }
    if (o->budget < o->per_round || o->budget % o->per_round) {
        fprintf(stderr,
                "pixl pixelpick: --budget %d must be a multiple of --per-round %d (the pixels per image of the "
                "last round)\n",
                o->budget, o->per_round);
        return -1;
    }
    o->n_sched = o->budget / o->per_round;
    for (int r = 0; r < o->n_sched; r++) o->sched[r] = (r + 1) * o->per_round;
    return 0;
}

/* the options a rerun of DIR must repeat (everything but --full and --quiet; the schedule may grow or
 * shrink, its common rounds equal) */
static void write_opts_json(pixl_json *j, const pp_opts *o)
{
    pixl_json_str(j, "strategy", pixl_query_strategy_name(o->q.strategy));
    pixl_json_str(j, "selection", pixl_query_selection_name(o->q.selection));
    pixl_json_num(j, "top_fraction", o->q.top_fraction);
    pixl_json_begin_array(j, "schedule");
    for (int r = 0; r < o->n_sched; r++) pixl_json_int(j, NULL, o->sched[r]);
    pixl_json_end_array(j);
    pixl_json_bool(j, "warm_start", o->warm_start);
    pixl_json_int(j, "mc_dropout", o->mc_passes);
    pixl_json_str(j, "mc_vote", pixl_mc_vote_name(o->vote));
    pixl_json_str(j, "query_model", o->query_best ? "best" : "last");
    pixl_json_str(j, "oracle", o->human ? "human" : "gt");
    pixl_json_str(j, "select_on", o->select_on_train ? "train" : "val");
}

static void run_json(pixl_json *j, const pp_run *P)
{
    pixl_json_set_layout(j, PIXL_JSON_PRETTY);
    pixl_json_begin_object(j, NULL);
    pixl_json_str(j, "format", "pixl-pixelpick-run");
    pixl_json_int(j, "version", 1);
    pixl_json_str(j, "config", P->o.config);
    write_opts_json(j, &P->o);
    pixl_json_end_object(j);
}

/* DIR/pixelpick.json and DIR/config.yaml: written by the first run, compared by the next ones (a longer
 * schedule is written back: it is the run's from now on) */
static int check_run_dir(pp_run *P, const pixl_train_config *base)
{
    char pj[PP_PATH], cy[PP_PATH];
    in_dir(pj, sizeof pj, P->o.run, "pixelpick.json");
    in_dir(cy, sizeof cy, P->o.run, "config.yaml");
    pixl_json j = {0};
    run_json(&j, P);
    if (!exists(pj)) {
        int rc = make_dir(P->o.run);
        if (!rc) rc = pixl_config_save(base, cy);
        if (!rc) rc = write_json(&j, pj);
        else free(pixl_json_finish(&j, pj));
        return rc;
    }
    char *now = pixl_json_finish(&j, pj);
    cJSON *had = read_json(pj), *want = now ? cJSON_Parse(now) : NULL;
    free(now);
    int rc = had && want ? PIXL_OK : pixl_last_status() ? pixl_last_status() : PIXL_ERR_NOMEM;
    static const char *const keys[] = {"strategy", "selection", "top_fraction", "warm_start",
                                       "mc_dropout", "mc_vote", "query_model", "oracle", "select_on"};
    static const char *const flags[] = {"--strategy", "--selection", "--top-fraction", "--warm-start", "--mc-dropout", "--mc-vote", "--query-model", "--oracle",
                                        "--select-on"};
    for (size_t k = 0; !rc && k < sizeof keys / sizeof *keys; k++) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(had, keys[k]),
                    *b = cJSON_GetObjectItemCaseSensitive(want, keys[k]);
        if (!a || !cJSON_Compare(a, b, 1)) {
            char *ta = a ? cJSON_PrintUnformatted(a) : NULL, *tb = cJSON_PrintUnformatted(b);
            rc = pixl_set_error(PIXL_ERR_ARG,
                                "%s was started with %s %s, this command has %s: repeat the options of the run "
                                "(only --budget and --full may change) or choose another --run directory",
                                P->o.run, flags[k], ta ? ta : "(none)", tb ? tb : "?");
            free(ta);
            free(tb);
        }
    }
    if (!rc) { /* the rounds both schedules have must have the same pixels per image */
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(had, "schedule");
        int na = cJSON_IsArray(a) ? cJSON_GetArraySize(a) : 0, bad = !cJSON_IsArray(a) || na == 0;
        for (int r = 0; !bad && r < na && r < P->o.n_sched; r++) {
            const cJSON *x = cJSON_GetArrayItem(a, r);
            bad = !cJSON_IsNumber(x) || x->valuedouble != P->o.sched[r];
        }
        if (bad) {
            const cJSON *b = cJSON_GetObjectItemCaseSensitive(want, "schedule");
            char *ta = a ? cJSON_PrintUnformatted(a) : NULL, *tb = b ? cJSON_PrintUnformatted(b) : NULL;
            rc = pixl_set_error(PIXL_ERR_ARG,
                                "%s was started with the schedule %s (pixels per image after each round), this "
                                "command has %s: the rounds both have must agree (--budget may change, "
                                "--per-round not) or choose another --run directory",
                                P->o.run, ta ? ta : "(none)", tb ? tb : "?");
            free(tb);
            free(ta);
        } else if (P->o.n_sched > na) {
            pixl_json k = {0};
            run_json(&k, P);
            rc = write_json(&k, pj);
        }
    }
    cJSON_Delete(had);
    cJSON_Delete(want);
    if (rc) return rc;
    pixl_train_config *old = malloc(sizeof *old);
    if (!old) return PIXL_ERR_NOMEM;
    if ((rc = pixl_config_load(cy, old))) {
        rc = pixl_set_error(rc, "%s: %s", P->o.run, pixl_last_error());
    } else {
        /* keys that change the speed or where the data lie, not the results, may change */
        old->training.threads = base->training.threads;
        old->training.print_interval = base->training.print_interval;
        old->data.n_workers = base->data.n_workers;
        old->validation.batch_size = base->validation.batch_size;
        memcpy(old->data.root, base->data.root, sizeof old->data.root);
        char key[256], va[PIXL_CFG_PATH_LEN], vb[PIXL_CFG_PATH_LEN];
        if (pixl_config_diff(old, base, key, sizeof key) == 1) {
            pixl_config_get(old, key, va, sizeof va);
            pixl_config_get(base, key, vb, sizeof vb);
            rc = pixl_set_error(PIXL_ERR_ARG,
                                "%s was started with %s: %s, the config now has %s (%s and --set must give the "
                                "config of the run, %s)",
                                P->o.run, key, va, vb, P->o.config, cy);
        }
    }
    free(old);
    return rc;
}

/* ---------------------------------------------------------- training */
typedef struct pp_train_result {
    double val_last, val_best, minutes;
    int64_t steps;
} pp_train_result;

typedef struct pp_val_capture {
    double last;
} pp_val_capture;

static int capture_val(pixl_trainer *t, double score, int best, const char *metrics_json, void *user)
{
    (void)t, (void)best, (void)metrics_json;
    ((pp_val_capture *)user)->last = score;
    return 0;
}

static double meta_num(const char *ckpt, const char *key)
{
    char *v = exists(ckpt) ? pixl_checkpoint_meta(ckpt, key) : NULL;
    double d = NAN; /* a value pixl wrote; anything but a finite number reads as NaN */
    if (v) pixl_arg_num(NULL, NULL, v, -HUGE_VAL, HUGE_VAL, &d);
    free(v);
    return d;
}

/* Train into dir/train on `labels` (NULL: the full label maps) from `init`
 * (NULL: a fresh initialisation); dir/train.json when done. An earlier
 * interrupted training resumes from its last.safetensors. */
static int train_in(pp_run *P, const char *dir, const char *labels, const char *init, pp_train_result *res)
{
    char tj[PP_PATH], run[PP_PATH], last[PP_PATH], best[PP_PATH];
    in_dir(tj, sizeof tj, dir, "train.json");
    in_dir(run, sizeof run, dir, "train");
    in_dir(last, sizeof last, run, "last.safetensors");
    in_dir(best, sizeof best, run, "best.safetensors");
    if (exists(tj)) {
        cJSON *j = read_json(tj);
        if (!j) return pixl_last_status();
        *res = (pp_train_result){jnum(j, "val_miou_last"), jnum(j, "val_miou_best"), jnum(j, "train_minutes"),
                                 (int64_t)jnum(j, "steps")};
        cJSON_Delete(j);
        return PIXL_OK;
    }
    pixl_train_config *c = malloc(sizeof *c);
    if (!c) return PIXL_ERR_NOMEM;
    *c = *P->cfg;
    c->output.keep_last = 1;
    int resumed = exists(last);
    /* the config's paths hold PIXL_CFG_PATH_LEN bytes */
    if (snprintf(c->output.run_dir, sizeof c->output.run_dir, "%s", run) >= (int)sizeof c->output.run_dir ||
        snprintf(c->data.sparse_labels, sizeof c->data.sparse_labels, "%s", labels ? labels : "") >=
            (int)sizeof c->data.sparse_labels ||
        (init && snprintf(c->model.options.pretrained, sizeof c->model.options.pretrained, "%s", init) >=
                     (int)sizeof c->model.options.pretrained) ||
        snprintf(c->training.resume, sizeof c->training.resume, "%s", resumed ? last : "") >=
            (int)sizeof c->training.resume) {
        free(c);
        return pixl_set_error(PIXL_ERR_ARG, "the paths under %s are too long for a training config (%d bytes)", run,
                              PIXL_CFG_PATH_LEN);
    }
    fprintf(stderr, "pixl pixelpick: %s %s in %s%s\n", resumed ? "resuming the training" : "training",
            labels ? "on the labels so far" : "on the full label maps", run,
            init ? " (warm start from the previous round's model)" : "");
    pp_val_capture cap = {NAN};
    pixl_train_hooks h = {.stop = &g_stop, .log = P->log, .quiet = P->o.quiet, .user = &cap,
                          .after_validate = capture_val};
    pixl_trainer *t = pixl_trainer_new(c, &h);
    free(c);
    if (!t) return pixl_last_status();
    int rc = pixl_trainer_run(t);
    int64_t steps = pixl_trainer_steps(t);
    pixl_trainer_free(t);
    if (rc) return rc;
    if (g_stop) return PP_STOPPED;
    *res = (pp_train_result){cap.last, meta_num(best, "val_miou"), meta_num(last, "elapsed_seconds") / 60, steps};
    pixl_json j = {0};
    pixl_json_begin_object(&j, NULL);
    pixl_json_num(&j, "val_miou_last", res->val_last);
    pixl_json_num(&j, "val_miou_best", res->val_best);
    pixl_json_str(&j, "split", P->cfg->data.val_split);
    pixl_json_num(&j, "train_minutes", res->minutes);
    pixl_json_int(&j, "steps", steps);
    pixl_json_str(&j, "labels", labels);
    pixl_json_str(&j, "init", init);
    pixl_json_end_object(&j);
    return write_json(&j, tj);
}

/* ------------------------------------------------------------- labels */
static pixl_label_store *new_store(const pp_run *P)
{
    return pixl_label_store_new(P->K, P->names);
}

/* Round 0: N random non-void pixels of every training image, from the ground truth */
static int initial_labels(pp_run *P, const char *path)
{
    pixl_label_store *s = new_store(P);
    if (!s) return pixl_last_status();
    pixl_query_opts q = {.strategy = PIXL_QUERY_RANDOM, .selection = PIXL_QUERY_TOP_N};
    const int n_new = px_new(P, 0);
    int32_t *picks = malloc(sizeof(int32_t) * (size_t)n_new);
    int rc = picks ? PIXL_OK : PIXL_ERR_NOMEM;
    for (int i = 0; !rc && i < pixl_dataset_size(P->train); i++) {
        pixl_image *img = NULL;
        int32_t *gt = NULL;
        const char *id = pixl_dataset_sample_name(P->train, i);
        if (!(rc = pixl_dataset_load(P->train, i, &img, &gt))) {
            int h = img->height, w = img->width;
            if ((rc = pixl_label_store_add_image(s, id, h, w)) > 0) rc = PIXL_OK;
            int got = rc ? rc
                         : pixl_query_image(NULL, P->K, h, w, NULL, gt, &q, n_new,
                                            pixl_query_seed(P->seed, 0, i), picks);
            if (got < 0) rc = got;
            for (int k = 0; !rc && k < got; k++)
                rc = pixl_label_store_add(s, id, picks[k] / w, picks[k] % w, gt[picks[k]], 0);
        }
        if (rc) rc = pixl_set_error(rc, "round 0, image %d '%s': %s", i, id ? id : "?", pixl_last_error());
        pixl_image_free(img);
        free(gt);
    }
    free(picks);
    if (!rc) rc = pixl_label_store_save(s, path);
    pixl_label_store_free(s);
    return rc;
}

/* ------------------------------------------------------------ queries */
typedef struct pp_graph {
    pixl_ctx *ctx;
    pixl_tensor *x, *prob;
    int h, w;
} pp_graph;

/* softmax of the model on one (1, 3, h, w) image, at the model's input size
 * as the trainer set it (data.img_rows/img_cols); MC dropout on when asked */
static int build_query_graph(pp_run *P, pixl_model *m, int h, int w, pp_graph *g)
{
    pixl_ctx_free(g->ctx);
    *g = (pp_graph){0};
    g->ctx = pixl_ctx_new(pixl_model_params(m), PIXL_MODE_EVAL);
    if (!g->ctx) return pixl_last_status();
    int rc = pixl_ctx_set_threads(g->ctx, P->cfg->training.threads);
    if (!rc && P->o.mc_passes > 0) rc = pixl_ctx_set_mc_dropout(g->ctx, 1);
    if (rc) return rc;
    int64_t s[4] = {1, 3, h, w};
    pixl_tensor *x = pixl_input(g->ctx, "images", PIXL_F32, 4, s), *xi = x;
    int ih = P->cfg->data.img_rows, iw = P->cfg->data.img_cols;
    if (ih > 0 && iw > 0 && (ih != h || iw != w)) xi = pixl_resize(g->ctx, x, ih, iw, PIXL_RESIZE_BILINEAR, 0, 0, 0);
    pixl_tensor *y = xi ? pixl_model_build(g->ctx, pixl_model_arch(m), xi, pixl_model_options(m)) : NULL;
    if (y && (pixl_tensor_shape(y)[2] != h || pixl_tensor_shape(y)[3] != w))
        y = pixl_resize(g->ctx, y, h, w, PIXL_RESIZE_BILINEAR, 0, 0, 0);
    pixl_tensor *p = y ? pixl_keep(pixl_softmax(g->ctx, y)) : NULL;
    if (!p || pixl_ctx_plan(g->ctx))
        return pixl_set_error(PIXL_ERR_SHAPE, "model %s on %dx%d: %s", pixl_model_arch(m), h, w,
                              pixl_ctx_error(g->ctx) ? pixl_ctx_error(g->ctx) : pixl_last_error());
    g->x = x;
    g->prob = p;
    g->h = h;
    g->w = w;
    return PIXL_OK;
}

static void write_class_names(pixl_json *j, const pp_run *P)
{
    pixl_json_begin_array(j, "class_names");
    for (int k = 0; k < P->K; k++) pixl_json_str(j, NULL, P->names[k]);
    pixl_json_end_array(j);
}

/* The queries after round r: the model of round r scores every training
 * image, N new pixels per image are chosen (neither labelled nor void);
 * writes round_r/queries.json and query_stats.json and, with the ground
 * truth as oracle, round_{r+1}/labels.json (round r's labels + the picks). */
static int query_round(pp_run *P, int r, double *minutes)
{
    const double t0 = now_s();
    char rd[PP_PATH], nd[PP_PATH], ckpt[PP_PATH], p[PP_PATH];
    round_dir(P, r, rd, sizeof rd);
    round_dir(P, r + 1, nd, sizeof nd);
    pathf(ckpt, sizeof ckpt, "%s/train/%s", rd, P->o.query_best ? "best.safetensors" : "last.safetensors");
    const int random = P->o.q.strategy == PIXL_QUERY_RANDOM;
    const int T = random ? 1 : P->o.mc_passes > 0 ? P->o.mc_passes : 1;
    pixl_label_store *cur = pixl_label_store_load(in_dir(p, sizeof p, rd, "labels.json"));
    if (!cur) return pixl_last_status();
    pixl_label_store *next = P->o.human ? NULL : pixl_label_store_clone(cur);
    pixl_model *m = NULL;
    int rc = P->o.human || next ? PIXL_OK : pixl_last_status();
    if (!rc && !random) {
        if (!exists(ckpt))
            rc = pixl_set_error(PIXL_ERR_NOT_FOUND, "round %d: no %s to query with (--query-model %s%s)", r, ckpt,
                                P->o.query_best ? "best" : "last",
                                P->o.query_best ? "; is output.keep_best off?" : "");
        else if (!(m = pixl_model_load(ckpt)))
            rc = pixl_last_status();
        else if (pixl_model_n_classes(m) != P->K)
            rc = pixl_set_error(PIXL_ERR_ARG, "%s has %d classes, the training set %d", ckpt,
                                pixl_model_n_classes(m), P->K);
        if (!rc) fprintf(stderr, "pixl pixelpick: round %d: scoring %d training images with %s (%s%s)\n", r,
                         pixl_dataset_size(P->train), ckpt, pixl_query_strategy_name(P->o.q.strategy),
                         T > 1 ? ", MC dropout" : "");
    }
    pixl_query_stats *st = rc ? NULL : pixl_query_stats_new(P->K);
    if (!rc && !st) rc = pixl_last_status();
    pp_graph g = {0};
    float **maps = calloc((size_t)T, sizeof *maps);
    const int n_new = px_new(P, r + 1);
    int32_t *picks = malloc(sizeof(int32_t) * (size_t)n_new);
    if (!rc && (!maps || !picks)) rc = PIXL_ERR_NOMEM;
    /* queries.json: the header on its first line, then one line per image */
    pixl_json qj = {0};
    pixl_json_begin_object(&qj, NULL);
    pixl_json_str(&qj, "format", "pixl-query-set"); /* the query set pixl annotate reads */
    pixl_json_int(&qj, "version", 1);
    pixl_json_int(&qj, "round", r + 1);
    pixl_json_str(&qj, "model", random ? NULL : ckpt);
    pixl_json_str(&qj, "strategy", pixl_query_strategy_name(P->o.q.strategy));
    pixl_json_int(&qj, "mc_dropout", random ? 0 : P->o.mc_passes);
    pixl_json_int(&qj, "n_classes", P->K);
    write_class_names(&qj, P);
    pixl_json_end_object(&qj);
    pp_text qt = {0};
    char *head = pixl_json_finish(&qj, "queries.json");
    if (head) {
        head[strlen(head) - 1] = 0; /* the object stays open for "images" */
        text_add(&qt, head);
        text_add(&qt, ",\n\"images\": [\n");
    } else if (!rc) {
        rc = pixl_last_status();
    }
    free(head);
    int64_t n_picks = 0, same_passes = -1;
    size_t maps_hw = 0;
    const int has_gt = pixl_dataset_has_labels(P->train);
    for (int i = 0; !rc && i < pixl_dataset_size(P->train); i++) {
        if (g_stop) {
            rc = PP_STOPPED;
            break;
        }
        pixl_image *img = NULL;
        int32_t *gt = NULL;
        const char *id = pixl_dataset_sample_name(P->train, i);
        float *x = NULL, *score = NULL, *mean = NULL;
        uint8_t *labelled = NULL;
        if ((rc = pixl_dataset_load(P->train, i, &img, &gt))) goto image_done;
        const int h = img->height, w = img->width;
        const size_t hw = (size_t)h * w;
        if (img->channels != 3) {
            rc = pixl_set_error(PIXL_ERR_FORMAT, "%d channels, the model takes RGB images", img->channels);
            goto image_done;
        }
        score = malloc(sizeof(float) * hw);
        labelled = calloc(hw, 1);
        x = malloc(sizeof(float) * 3 * hw);
        if (!score || !labelled || !x) {
            rc = PIXL_ERR_NOMEM;
            goto image_done;
        }
        int idx = pixl_label_store_find(cur, id), sh = 0, sw = 0, np = 0;
        if (idx >= 0) {
            pixl_label_store_image(cur, idx, &sh, &sw, &np);
            if (sh != h || sw != w) {
                rc = pixl_set_error(PIXL_ERR_SHAPE, "%s/labels.json: image '%s' is %dx%d there, %dx%d in the data set",
                                    rd, id, sw, sh, w, h);
                goto image_done;
            }
            const pixl_label_point *pt = pixl_label_store_points(cur, idx);
            for (int k = 0; k < np; k++) labelled[(size_t)pt[k].y * w + pt[k].x] = 1;
        }
        /* void pixels are known from the label maps; a data set without labels has none */
        int any_valid = 0;
        for (size_t q = 0; has_gt && q < hw && !any_valid; q++) any_valid = gt[q] != PIXL_IGNORE_LABEL;
        const int32_t *voidmap = any_valid ? gt : NULL;
        const uint64_t qseed = pixl_query_seed(P->seed, r + 1, i);
        if (!random) {
            if (!g.ctx || g.h != h || g.w != w) {
                if ((rc = build_query_graph(P, m, h, w, &g))) goto image_done;
            }
            if ((rc = pixl_image_to_chw(img, pixl_model_mean(m), pixl_model_std(m), x))) goto image_done;
            if (hw > maps_hw) { /* room for this image's T maps */
                for (int t = 0; t < T; t++) {
                    free(maps[t]);
                    maps[t] = malloc(sizeof(float) * (size_t)P->K * hw);
                    if (!maps[t]) {
                        rc = PIXL_ERR_NOMEM;
                        goto image_done;
                    }
                }
                maps_hw = hw;
            }
            for (int t = 0; t < T; t++) {
                memcpy(pixl_tensor_data(g.x), x, sizeof(float) * 3 * hw);
                pixl_ctx_set_seed(g.ctx, pixl_query_seed(qseed, 1000 + t, 0));
                if ((rc = pixl_forward(g.ctx))) goto image_done;
                memcpy(maps[t], pixl_tensor_data(g.prob), sizeof(float) * (size_t)P->K * hw);
            }
            if (T > 1 && same_passes < 0)
                same_passes = !memcmp(maps[0], maps[1], sizeof(float) * (size_t)P->K * hw);
            if (T > 1) {
                rc = pixl_query_mc_uncertainty(P->o.q.strategy, (const float *const *)maps, T, P->K, h, w, P->o.vote,
                                               qseed, score);
                /* the statistics' entropy: of the vote's map (mean_score: of the mean map) */
                mean = rc ? NULL : malloc(sizeof(float) * (size_t)P->K * hw);
                if (!rc && !mean) rc = PIXL_ERR_NOMEM;
                if (!rc)
                    rc = pixl_query_mc_combine((const float *const *)maps, T, P->K, h, w,
                                               P->o.vote == PIXL_MC_HARD ? PIXL_MC_HARD : PIXL_MC_SOFT, mean);
            } else {
                rc = pixl_query_uncertainty(P->o.q.strategy, maps[0], P->K, h, w, qseed, score);
            }
        } else {
            rc = pixl_query_uncertainty(PIXL_QUERY_RANDOM, NULL, P->K, h, w, qseed, score);
        }
        if (rc) goto image_done;
        int got = pixl_query_select(score, h, w, labelled, voidmap, &P->o.q, n_new, qseed, picks);
        if (got < 0) {
            rc = got;
            goto image_done;
        }
        if ((rc = pixl_query_stats_add(st, picks, got, h, w, gt, random ? NULL : T > 1 ? mean : maps[0])))
            goto image_done;
        n_picks += got;
        pixl_json_begin_object(&qj, NULL);
        pixl_json_str(&qj, "id", id);
        pixl_json_int(&qj, "height", h);
        pixl_json_int(&qj, "width", w);
        pixl_json_str(&qj, "image", pixl_dataset_image_path(P->train, i));
        pixl_json_begin_array(&qj, "points");
        for (int k = 0; k < got; k++) {
            pixl_json_begin_array(&qj, NULL);
            pixl_json_int(&qj, NULL, picks[k] / w);
            pixl_json_int(&qj, NULL, picks[k] % w);
            pixl_json_end_array(&qj);
        }
        pixl_json_end_array(&qj);
        pixl_json_end_object(&qj);
        char *line = pixl_json_finish(&qj, "queries.json");
        if (!line) {
            rc = pixl_last_status();
            goto image_done;
        }
        text_add(&qt, i ? ",\n  " : "  ");
        text_add(&qt, line);
        free(line);
        if (next) {
            if ((rc = pixl_label_store_add_image(next, id, h, w)) > 0) rc = PIXL_OK;
            for (int k = 0; !rc && k < got; k++)
                rc = pixl_label_store_add(next, id, picks[k] / w, picks[k] % w, gt[picks[k]], r + 1);
        }
    image_done:
        if (rc && rc != PP_STOPPED)
            rc = pixl_set_error(rc, "round %d queries, image %d '%s': %s", r, i, id ? id : "?", pixl_last_error());
        pixl_image_free(img);
        free(gt);
        free(x);
        free(score);
        free(mean);
        free(labelled);
    }
    text_add(&qt, "\n]}\n");
    if (!rc && qt.err) rc = pixl_set_error(PIXL_ERR_NOMEM, "out of memory writing queries.json");
    if (!rc && same_passes == 1)
        fprintf(stderr,
                "pixl pixelpick: warning: the %d MC-dropout passes of %s are identical: model %s has no "
                "Monte-Carlo dropout layer (pixl_dropout_mc), so --mc-dropout changes nothing\n",
                T, ckpt, pixl_model_arch(m));
    /* queries.json, query_stats.json, then (gt) the next round's labels */
    if (!rc) rc = pixl_atomic_write(in_dir(p, sizeof p, rd, "queries.json"), qt.p, qt.n);
    free(qt.p);
    if (!rc) {
        char *sj = pixl_query_stats_json(st);
        rc = sj ? pixl_atomic_write(in_dir(p, sizeof p, rd, "query_stats.json"), sj, strlen(sj)) : pixl_last_status();
        free(sj);
    }
    if (!rc && next) {
        in_dir(p, sizeof p, nd, "labels.json");
        if (exists(p)) { /* a repeated query: the later rounds were trained on the file there */
            pixl_label_store *had = pixl_label_store_load(p);
            if (had && pixl_label_store_total(had) != pixl_label_store_total(next))
                fprintf(stderr, "pixl pixelpick: warning: %s changes (%lld labelled pixels, now %lld)\n", p,
                        (long long)pixl_label_store_total(had), (long long)pixl_label_store_total(next));
            pixl_label_store_free(had);
            pixl_clear_error();
        }
        if (!(rc = make_dir(nd))) rc = pixl_label_store_save(next, p);
    }
    for (int t = 0; maps && t < T; t++) free(maps[t]);
    free(maps);
    free(picks);
    pixl_ctx_free(g.ctx);
    pixl_query_stats_free(st);
    pixl_model_free(m);
    pixl_label_store_free(next);
    pixl_label_store_free(cur);
    *minutes = (now_s() - t0) / 60;
    if (!rc)
        fprintf(stderr, "pixl pixelpick: round %d: %lld pixels chosen on %d images (%.1f min)\n", r,
                (long long)n_picks, pixl_dataset_size(P->train), *minutes);
    return rc;
}

/* round r's labels from round r-1's labels and the person's labels of its queries */
static int merge_human_labels(pp_run *P, int r, const char *out)
{
    char pd[PP_PATH], p[PP_PATH], hl[PP_PATH];
    round_dir(P, r - 1, pd, sizeof pd);
    in_dir(hl, sizeof hl, pd, "human_labels.json");
    pixl_label_store *cur = pixl_label_store_load(in_dir(p, sizeof p, pd, "labels.json"));
    pixl_label_store *hum = cur ? pixl_label_store_load(hl) : NULL;
    int64_t added = 0, conflicts = 0;
    int rc = cur && hum ? pixl_label_store_merge(cur, hum, PIXL_MERGE_LATER_ROUND, &added, &conflicts)
                        : pixl_last_status();
    if (rc) rc = pixl_set_error(rc, "merging %s: %s", hl, pixl_last_error());
    if (!rc) {
        fprintf(stderr, "pixl pixelpick: round %d: %lld new labelled pixels from %s%s\n", r, (long long)added, hl,
                conflicts ? " (some relabel earlier pixels)" : "");
        if (added == 0) fprintf(stderr, "pixl pixelpick: warning: %s adds no pixel\n", hl);
        if (!(rc = make_dir(out))) rc = pixl_label_store_save(cur, in_dir(p, sizeof p, out, "labels.json"));
    }
    pixl_label_store_free(cur);
    pixl_label_store_free(hum);
    return rc;
}

/* ------------------------------------------------------------ summary */
static void put_num_or_null(pixl_json *j, const char *key, double v)
{
    if (isfinite(v)) pixl_json_num(j, key, v);
    else pixl_json_null(j, key);
}

/* round.json: the round is finished */
static int write_round_json(pp_run *P, int r, const pixl_label_store *s, const pp_train_result *tr, int queried,
                            double query_minutes)
{
    char rd[PP_PATH], p[PP_PATH];
    round_dir(P, r, rd, sizeof rd);
    int n_img = pixl_label_store_n_images(s);
    int64_t total = pixl_label_store_total(s);
    pixl_json j = {0};
    pixl_json_begin_object(&j, NULL);
    pixl_json_int(&j, "round", r);
    pixl_json_int(&j, "pixels_per_image", px_after(P, r));
    pixl_json_int(&j, "labelled_pixels", total);
    pixl_json_int(&j, "images", n_img);
    pixl_json_num(&j, "mean_pixels_per_image", n_img ? (double)total / n_img : 0);
    put_num_or_null(&j, "val_miou_last", tr->val_last);
    put_num_or_null(&j, "val_miou_best", tr->val_best);
    pixl_json_str(&j, "split", P->cfg->data.val_split);
    put_num_or_null(&j, "train_minutes", tr->minutes);
    pixl_json_int(&j, "steps", tr->steps);
    pixl_json_bool(&j, "queried", queried);
    if (queried) put_num_or_null(&j, "query_minutes", query_minutes);
    pixl_json_end_object(&j);
    return write_json(&j, in_dir(p, sizeof p, rd, "round.json"));
}

/* round r (finished before) has made its queries now: its round.json says so */
static int mark_queried(pp_run *P, int r, double query_minutes)
{
    char rd[PP_PATH], lp[PP_PATH], p[PP_PATH];
    round_dir(P, r, rd, sizeof rd);
    if (!exists(in_dir(p, sizeof p, rd, "round.json"))) return PIXL_OK;
    pixl_label_store *s = pixl_label_store_load(in_dir(lp, sizeof lp, rd, "labels.json"));
    if (!s) return pixl_last_status();
    pp_train_result tr;
    int rc = train_in(P, rd, lp, NULL, &tr); /* its train.json */
    if (!rc) rc = write_round_json(P, r, s, &tr, 1, query_minutes);
    pixl_label_store_free(s);
    return rc;
}

/* summary.json from the rounds' round.json (and full/train.json), then the
 * table, the chart and the page (pixl_report_rounds) */
static int write_summary(pp_run *P)
{
    char p[PP_PATH], rd[PP_PATH];
    pixl_json j = {0};
    pixl_json_set_layout(&j, PIXL_JSON_PRETTY);
    pixl_json_begin_object(&j, NULL);
    pixl_json_str(&j, "format", "pixl-pixelpick");
    pixl_json_int(&j, "version", 1);
    pixl_json_str(&j, "config", P->o.config);
    pixl_json_str(&j, "dataset", P->cfg->data.dataset);
    pixl_json_str(&j, "arch", P->cfg->model.arch);
    pixl_json_int(&j, "train_images", pixl_dataset_size(P->train));
    pixl_json_int(&j, "epochs_per_round", P->cfg->training.epochs);
    pixl_json_int(&j, "budget", P->o.budget);
    pixl_json_int(&j, "rounds_planned", P->R);
    pixl_json_int(&j, "seed", (int64_t)P->seed);
    write_opts_json(&j, &P->o);
    pixl_json_str(&j, "metric_split", P->cfg->data.val_split);
    pixl_json_begin_array(&j, "rounds");
    for (int r = 0;; r++) {
        round_dir(P, r, rd, sizeof rd);
        if (!exists(in_dir(p, sizeof p, rd, "round.json"))) break;
        char *s = slurp(p);
        if (!s) break;
        for (size_t n = strlen(s); n && (s[n - 1] == '\n' || s[n - 1] == ' '); n--) s[n - 1] = 0;
        pixl_json_raw(&j, NULL, s);
        free(s);
    }
    pixl_json_end_array(&j);
    in_dir(p, sizeof p, P->o.run, "full/train.json");
    char *full = exists(p) ? slurp(p) : NULL;
    for (size_t n = full ? strlen(full) : 0; n && full[n - 1] == '\n'; n--) full[n - 1] = 0;
    pixl_json_raw(&j, "full", full);
    free(full);
    pixl_json_end_object(&j);
    int rc = write_json(&j, in_dir(p, sizeof p, P->o.run, "summary.json"));
    if (!rc) rc = pixl_report_rounds(P->o.run);
    if (!rc) rc = pixl_report_write(P->o.run, NULL, NULL);
    return rc;
}

/* ---------------------------------------------------------- the loop */
static int run_rounds(pp_run *P)
{
    char rd[PP_PATH], lp[PP_PATH], p[PP_PATH], init[PP_PATH];
    int rc = PIXL_OK;
    for (int r = 0; r < P->R && !rc; r++) {
        round_dir(P, r, rd, sizeof rd);
        if (exists(in_dir(p, sizeof p, rd, "round.json"))) continue;
        in_dir(lp, sizeof lp, rd, "labels.json");
        if (!exists(lp)) {
            if (r == 0) {
                if (!pixl_dataset_has_labels(P->train)) {
                    rc = pixl_set_error(PIXL_ERR_ARG,
                                        "round 0 takes its random pixels' labels from the label maps, and the "
                                        "training split of '%s' has none: write %s yourself (a label store, "
                                        "docs/label_store.md) and run the command again",
                                        P->cfg->data.dataset, lp);
                    break;
                }
                fprintf(stderr, "pixl pixelpick: round 0: %d random labelled pixels per training image\n",
                        px_new(P, 0));
                if ((rc = make_dir(rd)) || (rc = initial_labels(P, lp))) break;
            } else {
                char pd[PP_PATH], q[PP_PATH];
                round_dir(P, r - 1, pd, sizeof pd);
                double qm = 0;
                /* the previous round's queries: made now if that round ended without them (a larger --budget) */
                if ((P->o.human && !exists(in_dir(q, sizeof q, pd, "queries.json"))) || !P->o.human) {
                    if ((rc = query_round(P, r - 1, &qm)) || (rc = mark_queried(P, r - 1, qm))) break;
                }
                if (P->o.human) {
                    if (!exists(in_dir(q, sizeof q, pd, "human_labels.json"))) {
                        fprintf(stderr,
                                "pixl pixelpick: round %d needs labels: %s/queries.json lists the pixels to "
                                "label. Label them with\n"
                                "    pixl annotate --images TRAIN_IMAGES --queries %s/queries.json --labels %s/human_labels.json\n"
                                "  (TRAIN_IMAGES: the folder of the training images; --classes camvid for CamVid's keys)\n"
                                "then run this command again to continue.\n",
                                r, pd, pd, pd);
                        return PP_WAITING;
                    }
                    if ((rc = merge_human_labels(P, r, rd))) break;
                }
            }
        }
        pixl_label_store *s = pixl_label_store_load(lp);
        if (!s) {
            rc = pixl_last_status();
            break;
        }
        fprintf(stderr, "pixl pixelpick: round %d of %d: %lld labelled pixels on %d images\n", r, P->R,
                (long long)pixl_label_store_total(s), pixl_label_store_n_images(s));
        const char *from = NULL;
        if (P->o.warm_start && r > 0) {
            round_dir(P, r - 1, p, sizeof p);
            pathf(init, sizeof init, "%s/train/%s", p, P->o.query_best ? "best.safetensors" : "last.safetensors");
            from = init;
        }
        pp_train_result tr;
        rc = train_in(P, rd, lp, from, &tr);
        int queried = 0;
        double qm = NAN;
        if (!rc && r + 1 < P->R) {
            char q[PP_PATH];
            if (!(rc = query_round(P, r, &qm))) queried = 1;
            if (!rc && P->o.human && !exists(in_dir(q, sizeof q, rd, "human_labels.json"))) {
                rc = write_round_json(P, r, s, &tr, queried, qm);
                if (!rc) rc = write_summary(P);
                pixl_label_store_free(s);
                if (rc) break;
                fprintf(stderr,
                        "pixl pixelpick: round %d is done; round %d needs labels: %s/queries.json lists the "
                        "pixels to label. Label them with\n"
                        "    pixl annotate --images TRAIN_IMAGES --queries %s/queries.json --labels %s/human_labels.json\n"
                                "  (TRAIN_IMAGES: the folder of the training images; --classes camvid for CamVid's keys)\n"
                        "then run this command again to continue.\n",
                        r, r + 1, rd, rd, rd);
                return PP_WAITING;
            }
        }
        if (!rc) rc = write_round_json(P, r, s, &tr, queried, qm);
        pixl_label_store_free(s);
        if (!rc) rc = write_summary(P);
        if (!rc)
            fprintf(stderr, "pixl pixelpick: round %d done: %s mIoU %.2f %% (last epoch), %.2f %% (best)\n", r,
                    P->cfg->data.val_split, 100 * tr.val_last, 100 * tr.val_best);
    }
    if (!rc && P->o.full) {
        char fd[PP_PATH];
        in_dir(fd, sizeof fd, P->o.run, "full");
        pp_train_result tr;
        if (!(rc = make_dir(fd)) && !(rc = train_in(P, fd, NULL, NULL, &tr))) rc = write_summary(P);
    }
    return rc;
}

int cmd_pixelpick(int argc, char **argv)
{
    pp_run P = {0};
    int prc = parse_args(argc, argv, &P.o);
    if (prc) {
        if (prc < 0) usage();
        free(P.o.sets);
        return prc < 0 ? 2 : 0;
    }
    P.log = stderr;
    P.R = P.o.n_sched;
    int rc = PIXL_OK, status = 0;
    pixl_train_config *base = malloc(sizeof *base);
    P.cfg = malloc(sizeof *P.cfg);
    if (!base || !P.cfg) {
        rc = PIXL_ERR_NOMEM;
    } else if ((rc = pixl_config_load_ex(P.o.config, base, P.o.n_set, P.o.sets))) {
        fprintf(stderr, "pixl pixelpick: %s\n", pixl_last_error());
        status = rc == PIXL_ERR_NOMEM || rc == PIXL_ERR_IO ? 1 : 2;
    } else if (base->data.sparse_labels[0]) {
        fprintf(stderr, "pixl pixelpick: %s sets data.sparse_labels (%s): the rounds choose the labels, leave it "
                        "empty\n", P.o.config, base->data.sparse_labels);
        status = 2;
    } else if (base->training.resume[0]) {
        fprintf(stderr, "pixl pixelpick: %s sets training.resume: a rerun of the command resumes by itself\n",
                P.o.config);
        status = 2;
    }
    if (!rc && !status) {
        *P.cfg = *base;
        if (P.o.select_on_train)
            snprintf(P.cfg->data.val_split, sizeof P.cfg->data.val_split, "%s", base->data.train_split);
        P.seed = (uint64_t)base->training.seed;
        P.train = pixl_config_open_split(P.cfg, P.cfg->data.train_split, 0);
        if (!P.train) rc = pixl_last_status();
        else if (pixl_dataset_task(P.train) != PIXL_TASK_SEGMENTATION)
            rc = pixl_set_error(PIXL_ERR_ARG, "data set '%s' is not a segmentation data set: PixelPick labels classes",
                                P.cfg->data.dataset);
        else if (!strcmp(P.cfg->model.arch, "pixelnet"))
            rc = pixl_set_error(PIXL_ERR_ARG, "model.arch pixelnet: pixl pixelpick needs a dense model");
        else if (!P.o.human && !pixl_dataset_has_labels(P.train))
            rc = pixl_set_error(PIXL_ERR_ARG,
                                "the training split of '%s' has no label maps: the ground truth cannot be the "
                                "oracle (--oracle human)",
                                P.cfg->data.dataset);
        if (!rc) {
            P.K = pixl_dataset_n_classes(P.train);
            P.names = calloc((size_t)P.K, sizeof *P.names);
            if (!P.names) rc = PIXL_ERR_NOMEM;
            for (int k = 0; !rc && k < P.K; k++) P.names[k] = pixl_dataset_class_name(P.train, k);
        }
        if (!rc) rc = check_run_dir(&P, base);
        if (!rc && P.o.select_on_train)
            fprintf(stderr, "pixl pixelpick: --select-on train: validation and the best checkpoint use the full label "
                            "maps of the training images, which an active-learning run does not have\n");
        if (!rc) {
            struct sigaction sa = {0};
            sa.sa_handler = on_sigint;
            sigaction(SIGINT, &sa, NULL);
            sigaction(SIGTERM, &sa, NULL);
            rc = run_rounds(&P);
            signal(SIGINT, SIG_DFL);
            signal(SIGTERM, SIG_DFL);
            if (rc == PP_WAITING) {
                status = PP_WAITING;
                rc = 0;
            } else if (rc == PP_STOPPED || (!rc && g_stop)) {
                fprintf(stderr, "pixl pixelpick: stopped; run the same command again to continue\n");
                status = 130;
                rc = 0;
            }
            g_stop = 0;
        }
        if (rc) status = pixl_last_status() == PIXL_ERR_ARG ? 2 : 1;
        if (rc) fprintf(stderr, "pixl pixelpick: %s\n", pixl_last_error());
        else if (!status)
            printf("pixl pixelpick: %d rounds done: %s/summary.md, %s/report.html\n", P.R, P.o.run, P.o.run);
    } else if (rc) {
        fprintf(stderr, "pixl pixelpick: %s\n", pixl_last_error());
        status = 1;
    }
    free(P.names);
    pixl_dataset_free(P.train);
    free(P.cfg);
    free(base);
    free(P.o.sets);
    return status;
}
