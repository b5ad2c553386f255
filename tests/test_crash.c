/* test_crash.c — a run is never lost: the `pixl` command built next to this
 * test binary trains a small U-Net on the embedded synthetic set in a child
 * process and is
 *   - killed with SIGKILL inside checkpoint writes and right after a
 *     checkpoint's commit, resumed each time, and ends bit-identical to an
 *     uninterrupted run (the short form of scripts/check/kill9.sh);
 *   - sent SIGTERM: it saves a checkpoint, says so, exits with 143; and
 *     resumed, drops a log.jsonl record cut short;
 *   - sent SIGINT twice, the second during the checkpoint write of the
 *     first: it exits at once with 130, every checkpoint file still loads,
 *     and the next start removes the temporary file left behind;
 *   - run under a file-size limit (a full disk): the checkpoint write fails
 *     with a message naming the file, the previous checkpoint stays whole,
 *     no temporary file is left.
 * And checkpoints holding NaN or infinite values are refused on load, naming
 * the tensor and element, unless the caller allows them. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test.h"
#include "pixl_train.h"

int cmd_predict(int argc, char **argv); /* tools/cmd_train.c */

/* the pixl command of the same build (make test builds it), NULL: the test is skipped */
static const char *pixl_bin(void)
{
    static char path[4096];
    if (path[0]) return path;
    char self[4000];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return NULL;
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (!slash) return NULL;
    *slash = 0;
    snprintf(path, sizeof path, "%s/pixl", self);
    if (access(path, X_OK)) {
        printf("    skip: %s not built\n", path);
        path[0] = 0;
        return NULL;
    }
    return path;
}

/* a small U-Net (width 0.125) on 16x16 synthetic images: 16 steps an epoch, validation
 * and a checkpoint after each */
static const char *tiny_config(void)
{
    static char path[600];
    snprintf(path, sizeof path, "%s/crash_tiny.yaml", pixl_test_tmpdir());
    FILE *f = fopen(path, "w");
    if (!f) return NULL;
    fputs("model:\n  arch: unet\n  options:\n    width: 0.125\n"
          "data:\n  dataset: synthetic\n  img_rows: 16\n  img_cols: 16\n  flip: true\n  n_workers: 0\n"
          "training:\n  epochs: 40\n  batch_size: 32\n  seed: 5\n  threads: 1\n  print_interval: 8\n"
          "  optimizer:\n    name: adam\n    lr: 0.003\n  lr_schedule:\n    name: poly\n"
          "validation:\n  every_epochs: 1\n  limit: 8\n",
          f);
    fclose(f);
    return path;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, ms % 1000 * 1000000L};
    nanosleep(&ts, NULL);
}

typedef struct {
    int commit_sleep_ms; /* PIXL_TEST_COMMIT_SLEEP_MS, 0: unset */
    long fsize_kb;       /* RLIMIT_FSIZE, 0: none */
    int resume;          /* --resume RUN */
} spawn_opts;

/* pixl train CONFIG --set output.run_dir=RUN [SETS...] [--resume RUN], output into LOG */
static pid_t spawn_train(const char *run, const char *log, const spawn_opts *o, const char *const *sets, int n_sets)
{
    const char *pixl = pixl_bin(), *cfg = tiny_config();
    if (!pixl || !cfg) return -1;
    char rd[700];
    snprintf(rd, sizeof rd, "output.run_dir=%s", run);
    const char *argv[40];
    int a = 0;
    argv[a++] = pixl;
    argv[a++] = "train";
    argv[a++] = cfg;
    argv[a++] = "--set";
    argv[a++] = rd;
    for (int i = 0; i < n_sets && a < 34; i++) {
        argv[a++] = "--set";
        argv[a++] = sets[i];
    }
    if (o->resume) {
        argv[a++] = "--resume";
        argv[a++] = run;
    }
    argv[a] = NULL;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        if (o->commit_sleep_ms) {
            char v[32];
            snprintf(v, sizeof v, "%d", o->commit_sleep_ms);
            setenv("PIXL_TEST_COMMIT_SLEEP_MS", v, 1);
        } else unsetenv("PIXL_TEST_COMMIT_SLEEP_MS");
        if (o->fsize_kb > 0) {
            struct rlimit rl = {(rlim_t)o->fsize_kb * 1024, (rlim_t)o->fsize_kb * 1024};
            setrlimit(RLIMIT_FSIZE, &rl);
        }
        execv(pixl, (char *const *)argv);
        _exit(127);
    }
    return pid;
}

/* the exit status of pid (-1: still running after timeout seconds; then killed) */
static int wait_status(pid_t pid, double timeout)
{
    double t0 = now_s();
    int st = 0;
    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) return st;
        if (r < 0 || now_s() - t0 > timeout) break;
        sleep_ms(10);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -1;
}

static int exists(const char *path) { return access(path, F_OK) == 0; }

static const char *in_dir(char *buf, size_t n, const char *dir, const char *name)
{
    snprintf(buf, n, "%s/%s", dir, name);
    return buf;
}

/* names of dir's entries containing `part`, space-separated into buf; their count */
static int list_with(const char *dir, const char *part, char *buf, size_t n)
{
    int count = 0;
    size_t o = 0;
    if (buf && n) buf[0] = 0;
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (strstr(de->d_name, part)) {
            count++;
            if (buf && o < n) o += (size_t)snprintf(buf + o, n - o, "%s ", de->d_name);
        }
    if (d) closedir(d);
    return count;
}

/* the inode of path, 0 if absent (a rename over it makes a new one) */
static unsigned long inode_of(const char *path)
{
    struct stat st;
    return stat(path, &st) ? 0 : (unsigned long)st.st_ino;
}

static int log_has(const char *log, const char *what)
{
    FILE *f = fopen(log, "r");
    if (!f) return 0;
    char line[4096];
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) found = strstr(line, what) != NULL;
    fclose(f);
    return found;
}

/* every checkpoint file of dir loads (models with pixl_model_load, the rest
 * through the safetensors reader), and the model and optimizer state resume
 * takes are of the same step; the number of failures */
static int check_run_dir(const char *dir, const char *when)
{
    int bad = 0;
    DIR *d = opendir(dir);
    struct dirent *de;
    char p[1200];
    while (d && (de = readdir(d))) {
        const char *ext = strstr(de->d_name, ".safetensors");
        if (!ext || ext[12]) continue; /* temporary files end in .tmp.PID.N */
        in_dir(p, sizeof p, dir, de->d_name);
        pixl_st_file *f = pixl_st_open(p);
        int is_model = f && pixl_st_meta(f, "arch") != NULL;
        pixl_st_close(f);
        pixl_model *m = is_model ? pixl_model_load(p) : NULL;
        if (!f || (is_model && !m)) {
            pixl_test_fail(__FILE__, __LINE__, "%s: %s does not load: %s", when, p, pixl_last_error());
            bad++;
        }
        pixl_model_free(m);
    }
    if (d) closedir(d);
    char *s = exists(in_dir(p, sizeof p, dir, "last.safetensors")) ? pixl_checkpoint_meta(p, "step") : NULL;
    char *sn = exists(in_dir(p, sizeof p, dir, "last.optim.next.safetensors")) ? pixl_checkpoint_meta(p, "step") : NULL;
    char *so = exists(in_dir(p, sizeof p, dir, "last.optim.safetensors")) ? pixl_checkpoint_meta(p, "step") : NULL;
    if (s && !(sn && !strcmp(sn, s)) && !(so && !strcmp(so, s))) {
        pixl_test_fail(__FILE__, __LINE__, "%s: last.safetensors is of step %s, the optimizer state of %s", when, s,
                       so ? so : "none");
        bad++;
    }
    free(s), free(sn), free(so);
    return bad;
}

/* every tensor of the checkpoints a and b equal bit for bit */
static int same_tensors(const char *a, const char *b)
{
    pixl_st_file *fa = pixl_st_open(a), *fb = pixl_st_open(b);
    int same = fa && fb && pixl_st_count(fa) == pixl_st_count(fb);
    for (int i = 0; same && i < pixl_st_count(fa); i++) {
        int j = pixl_st_find(fb, pixl_st_name(fa, i));
        int64_t n = pixl_st_numel(fa, i);
        same = j >= 0 && pixl_st_numel(fb, j) == n;
        double *x = same ? malloc(sizeof(double) * (size_t)(n + 1)) : NULL, *y = x ? malloc(sizeof(double) * (size_t)(n + 1)) : NULL;
        if (x && y) {
            pixl_st_read_f64(fa, i, x);
            pixl_st_read_f64(fb, j, y);
            same = !memcmp(x, y, sizeof(double) * (size_t)n);
        } else same = 0;
        free(x), free(y);
    }
    pixl_st_close(fa);
    pixl_st_close(fb);
    return same;
}

static char *step_of(const char *dir)
{
    char p[1200];
    return pixl_checkpoint_meta(in_dir(p, sizeof p, dir, "last.safetensors"), "step");
}

/* SIGKILL at checkpoint moments, resume after each: every file loads after
 * every kill, and the run ends equal to an uninterrupted one */
PIXL_TEST(crash_kill9_resume_identical)
{
    if (!pixl_bin()) return;
    char ref[600], run[600], log[700], p[1200], q[1200];
    snprintf(ref, sizeof ref, "%s/crash_ref", pixl_test_tmpdir());
    snprintf(run, sizeof run, "%s/crash_kill9", pixl_test_tmpdir());
    const char *sets[] = {"training.epochs=4"};
    double t0 = now_s();
    snprintf(log, sizeof log, "%s/crash_ref.log", pixl_test_tmpdir());
    int st = wait_status(spawn_train(ref, log, &(spawn_opts){0}, sets, 1), 120);
    CHECK_MSG(st == 0, "the uninterrupted run: status %d (%s)", st, log);
    if (st) return;
    double t_ref = now_s() - t0;
    /* kills 1 and 3: inside a checkpoint write (a temporary .safetensors file
     * complete, held before its rename; for kill 3 the model's, after the
     * optimizer state of the new step was written); 2 and 4: right after
     * last.safetensors is replaced, before the optimizer state's rename.
     * Kill 3 follows the start that resumed from the state of kill 2 */
    int kills = 0, starts = 0, leftovers = 0, rolled = 0;
    while (kills < 4 && starts < 12 && !pixl_test_failed()) {
        starts++;
        const int in_write = kills % 2 == 0;
        snprintf(log, sizeof log, "%s/crash_kill9_%d.log", pixl_test_tmpdir(), starts);
        unsigned long ino0 = inode_of(in_dir(p, sizeof p, run, "last.safetensors"));
        char before[1024]; /* temporary files of the last kill: not a write of this start */
        list_with(run, ".safetensors.tmp.", before, sizeof before);
        pid_t pid = spawn_train(run, log, &(spawn_opts){.commit_sleep_ms = 200, .resume = ino0 != 0}, sets, 1);
        CHECK(pid > 0);
        if (pid <= 0) return;
        int hit = 0;
        for (double t1 = now_s(); !hit && now_s() - t1 < 60 && waitpid(pid, &st, WNOHANG) == 0; sleep_ms(5)) {
            if (in_write) {
                char now[1024];
                list_with(run, ".safetensors.tmp.", now, sizeof now);
                for (char *tok = strtok(now, " "); tok && !hit; tok = strtok(NULL, " "))
                    hit = !strstr(before, tok) && (kills == 0 || !strncmp(tok, "last.safetensors.tmp.", 21));
            }
            else {
                unsigned long ino = inode_of(p);
                hit = ino && ino != ino0;
            }
        }
        if (!hit) { /* ended before the moment came (the run finished): not a kill */
            st = wait_status(pid, 60);
            CHECK_MSG(st == 0, "start %d: status %d (%s)", starts, st, log);
            break;
        }
        kill(pid, SIGKILL);
        st = wait_status(pid, 30);
        kills++;
        char left[512], when[64];
        if (list_with(run, ".tmp.", left, sizeof left)) leftovers++;
        if (exists(in_dir(q, sizeof q, run, "last.optim.next.safetensors"))) {
            char *s = step_of(run), *sn = pixl_checkpoint_meta(q, "step");
            rolled += s && sn && !strcmp(s, sn);
            free(s), free(sn);
        }
        snprintf(when, sizeof when, "after kill %d (%s)", kills, in_write ? "in a write" : "after a commit");
        check_run_dir(run, when);
    }
    CHECK_MSG(kills == 4, "%d kills in %d starts", kills, starts);
    /* the last start: resumes, removes the leftovers, finishes */
    snprintf(log, sizeof log, "%s/crash_kill9_end.log", pixl_test_tmpdir());
    st = wait_status(spawn_train(run, log, &(spawn_opts){.resume = 1}, sets, 1), 120);
    CHECK_MSG(st == 0, "the resumed run: status %d (%s)", st, log);
    char left[512];
    CHECK_MSG(list_with(run, ".tmp.", left, sizeof left) == 0, "left behind: %s", left);
    CHECK(!exists(in_dir(p, sizeof p, run, "last.optim.next.safetensors")));
    const char *files[] = {"last.safetensors", "last.optim.safetensors", "best.safetensors"};
    for (int i = 0; i < 3; i++)
        CHECK_MSG(same_tensors(in_dir(p, sizeof p, ref, files[i]), in_dir(q, sizeof q, run, files[i])),
                  "%s of the killed and resumed run differs from the uninterrupted run's", files[i]);
    printf("    %d kills (%d left temporary files, %d the optimizer state in last.optim.next)%s; %.1f s "
           "(uninterrupted run %.1f s)\n",
           kills, leftovers, rolled, pixl_test_failed() ? "" : ", resumed run equal to the uninterrupted one",
           now_s() - t0, t_ref);
}

/* SIGTERM, as a batch scheduler sends it: a checkpoint, a message, status 143 */
PIXL_TEST(crash_sigterm_saves_checkpoint)
{
    if (!pixl_bin()) return;
    char run[600], log[700], p[1200];
    snprintf(run, sizeof run, "%s/crash_sigterm", pixl_test_tmpdir());
    snprintf(log, sizeof log, "%s/crash_sigterm.log", pixl_test_tmpdir());
    pid_t pid = spawn_train(run, log, &(spawn_opts){0}, NULL, 0);
    CHECK(pid > 0);
    if (pid <= 0) return;
    /* after the first checkpoint, in the middle of the second epoch */
    int st = 0, ready = 0;
    for (double t0 = now_s(); !ready && now_s() - t0 < 60 && waitpid(pid, &st, WNOHANG) == 0; sleep_ms(10))
        ready = exists(in_dir(p, sizeof p, run, "last.optim.safetensors"));
    CHECK_MSG(ready, "no checkpoint within 60 s (%s)", log);
    sleep_ms(300);
    kill(pid, SIGTERM);
    st = wait_status(pid, 30);
    CHECK_MSG(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 143, "status %d (%s)", st, log);
    char *step = step_of(run);
    CHECK(step && atoi(step) >= 16); /* saved at the stop (the step the message names) */
    char want[128];
    snprintf(want, sizeof want, "stopped by SIGTERM at step %s; checkpoint", step ? step : "?");
    CHECK_MSG(log_has(log, want), "%s lacks '%s'", log, want);
    check_run_dir(run, "after SIGTERM");
    char left[512];
    CHECK_MSG(list_with(run, ".tmp.", left, sizeof left) == 0, "left behind: %s", left);
    free(step);
    /* a record cut short (a kill or a full disk in the middle of a write) is
     * dropped by the resumed run, whose records follow on lines of their own */
    FILE *f = fopen(in_dir(p, sizeof p, run, "log.jsonl"), "a");
    CHECK(f != NULL);
    if (f) fputs("{\"type\": \"train\", \"st", f), fclose(f);
    snprintf(log, sizeof log, "%s/crash_sigterm_resume.log", pixl_test_tmpdir());
    const char *sets[] = {"training.epochs=2"};
    st = wait_status(spawn_train(run, log, &(spawn_opts){.resume = 1}, sets, 1), 120);
    CHECK_MSG(st == 0, "resume: status %d (%s)", st, log);
    f = fopen(p, "r");
    char line[8192];
    int n = 0, bad = 0;
    while (f && fgets(line, sizeof line, f)) {
        cJSON *j = cJSON_Parse(line);
        bad += !cJSON_IsObject(j) || !strchr(line, '\n');
        cJSON_Delete(j);
        n++;
    }
    if (f) fclose(f);
    CHECK_MSG(n > 3 && !bad, "log.jsonl: %d of %d lines are not JSON objects", bad, n);
}

/* Ctrl-C twice, the second while the first one's checkpoint is being
 * written: exit at once (130), no file half-written */
PIXL_TEST(crash_double_sigint_leaves_files_whole)
{
    if (!pixl_bin()) return;
    char run[600], log[700], p[1200];
    snprintf(run, sizeof run, "%s/crash_sigint", pixl_test_tmpdir());
    snprintf(log, sizeof log, "%s/crash_sigint.log", pixl_test_tmpdir());
    pid_t pid = spawn_train(run, log, &(spawn_opts){.commit_sleep_ms = 400}, NULL, 0);
    CHECK(pid > 0);
    if (pid <= 0) return;
    int st = 0, ready = 0;
    for (double t0 = now_s(); !ready && now_s() - t0 < 60 && waitpid(pid, &st, WNOHANG) == 0; sleep_ms(10))
        ready = exists(in_dir(p, sizeof p, run, "last.optim.safetensors"));
    CHECK_MSG(ready, "no checkpoint within 60 s (%s)", log);
    kill(pid, SIGINT);
    /* the checkpoint of the stop: its first temporary file */
    int writing = 0;
    for (double t0 = now_s(); !writing && now_s() - t0 < 30 && waitpid(pid, &st, WNOHANG) == 0; sleep_ms(5))
        writing = list_with(run, ".safetensors.tmp.", NULL, 0) > 0;
    CHECK_MSG(writing, "no checkpoint write after the first SIGINT (%s)", log);
    double t_second = now_s();
    kill(pid, SIGINT);
    st = wait_status(pid, 30);
    const double took = now_s() - t_second;
    CHECK_MSG(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 130, "status %d (%s)", st, log);
    /* at once: not through the stop path, which saves and says so */
    CHECK_MSG(!log_has(log, "stopped by SIGINT"), "the second SIGINT waited for the checkpoint (%s)", log);
    CHECK_MSG(took < 5, "the second SIGINT took %.2f s to end the process", took);
    check_run_dir(run, "after a double SIGINT");
    char left[512];
    const int n_left = list_with(run, ".tmp.", left, sizeof left);
    /* the next start removes what the second SIGINT left, and resumes */
    snprintf(log, sizeof log, "%s/crash_sigint_resume.log", pixl_test_tmpdir());
    const char *sets[] = {"training.epochs=2"};
    st = wait_status(spawn_train(run, log, &(spawn_opts){.resume = 1}, sets, 1), 120);
    CHECK_MSG(st == 0, "resume: status %d (%s)", st, log);
    CHECK_MSG(!n_left || log_has(log, "temporary file"), "%s does not report removing %s", log, left);
    CHECK_MSG(list_with(run, ".tmp.", left, sizeof left) == 0, "left behind after the resume: %s", left);
    check_run_dir(run, "after the resume");
    printf("    the second SIGINT ended the process in %.0f ms; %d temporary file%s left, removed by the next start\n",
           1000 * took, n_left, n_left == 1 ? "" : "s");
}

/* a full disk, as a file-size limit: the write fails naming the file, the
 * previous checkpoint stays whole, nothing is left behind */
PIXL_TEST(crash_full_disk_keeps_previous_checkpoint)
{
    if (!pixl_bin()) return;
    char run[600], log[700], p[1200];
    snprintf(run, sizeof run, "%s/crash_full", pixl_test_tmpdir());
    snprintf(log, sizeof log, "%s/crash_full_1.log", pixl_test_tmpdir());
    const char *one[] = {"training.epochs=1", "output.keep_best=false"};
    int st = wait_status(spawn_train(run, log, &(spawn_opts){0}, one, 2), 120);
    CHECK_MSG(st == 0, "first epoch: status %d (%s)", st, log);
    if (st) return;
    /* the optimizer state (1 MB) is the first file of the next checkpoint,
     * the model 0.5 MB; config and log stay under the limit */
    snprintf(log, sizeof log, "%s/crash_full_2.log", pixl_test_tmpdir());
    const char *two[] = {"training.epochs=2", "output.keep_best=false"};
    st = wait_status(spawn_train(run, log, &(spawn_opts){.fsize_kb = 256, .resume = 1}, two, 2), 120);
    CHECK_MSG(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 1, "status %d, not exit 1 (%s)", st, log);
    char want[800];
    snprintf(want, sizeof want, "%s/last.optim.next.safetensors: write failed: File too large", run);
    CHECK_MSG(log_has(log, want), "%s lacks '%s'", log, want);
    char *step = step_of(run);
    CHECK_MSG(step && !strcmp(step, "16"), "last.safetensors is of step %s, not 16", step ? step : "none");
    free(step);
    check_run_dir(run, "after the failed write");
    char left[512];
    CHECK_MSG(list_with(run, ".tmp.", left, sizeof left) == 0, "left behind: %s", left);
    CHECK(!exists(in_dir(p, sizeof p, run, "last.optim.next.safetensors")));
}

/* ------------------------------------------------------------ non-finite */
static int find_param(pixl_params *P, const char *part, int kind)
{
    for (int i = 0; i < pixl_params_count(P); i++)
        if (pixl_params_dtype(P, i) == PIXL_F32 && pixl_params_kind(P, i) == kind && pixl_params_numel(P, i) > 12 &&
            strstr(pixl_params_name(P, i), part))
            return i;
    return -1;
}

PIXL_TEST(checkpoint_refuses_nonfinite)
{
    char good[600], bad[600], inf[600];
    snprintf(good, sizeof good, "%s/finite.safetensors", pixl_test_tmpdir());
    snprintf(bad, sizeof bad, "%s/nan.safetensors", pixl_test_tmpdir());
    snprintf(inf, sizeof inf, "%s/inf.safetensors", pixl_test_tmpdir());
    pixl_model *m = pixl_model_create("unet", &(pixl_model_opts){.n_classes = 3, .width = 0.25f}, 1);
    CHECK(m != NULL);
    if (!m) return;
    pixl_params *P = pixl_model_params(m);
    CHECK_OK(pixl_model_save(m, good, 0, NULL, NULL));
    const int w = find_param(P, "weight", PIXL_PARAM), rv = find_param(P, "running_var", PIXL_BUFFER);
    CHECK(w >= 0 && rv >= 0);
    if (w < 0 || rv < 0) return;
    float *wd = pixl_params_data(P, w), *rd = pixl_params_data(P, rv);
    const float w12 = wd[12], r3 = rd[3];
    wd[12] = NAN;
    wd[20] = NAN;
    CHECK_OK(pixl_model_save(m, bad, 0, NULL, NULL));
    wd[12] = w12;
    wd[20] = w12;
    rd[3] = INFINITY;
    CHECK_OK(pixl_model_save(m, inf, 0, NULL, NULL));
    rd[3] = r3;
    char want[256];
    /* refused, naming file, tensor and element */
    CHECK(pixl_model_load(bad) == NULL);
    snprintf(want, sizeof want, "tensor '%s' has a NaN at element 12 (2 of its", pixl_params_name(P, w));
    CHECK_MSG(strstr(pixl_last_error(), want) && strstr(pixl_last_error(), bad), "error: %s", pixl_last_error());
    CHECK(pixl_model_load(inf) == NULL);
    snprintf(want, sizeof want, "tensor '%s' has +Inf at element 3", pixl_params_name(P, rv));
    CHECK_MSG(strstr(pixl_last_error(), want), "error: %s", pixl_last_error());
    /* loaded anyway when asked */
    pixl_model *mb = pixl_model_load_ex(bad, PIXL_LOAD_ALLOW_NONFINITE);
    CHECK_MSG(mb != NULL, "%s", pixl_last_error());
    if (mb) CHECK(isnan(((float *)pixl_params_data(pixl_model_params(mb), w))[12]));
    pixl_model_free(mb);
    /* a failed load leaves the parameters as they were */
    int64_t n = 0;
    float *flat = pixl_params_data_flat(P, &n), *copy = malloc(sizeof(float) * (size_t)n);
    memcpy(copy, flat, sizeof(float) * (size_t)n);
    CHECK(pixl_checkpoint_load(P, inf, 0) != 0);
    CHECK(!memcmp(copy, flat, sizeof(float) * (size_t)n));
    CHECK_OK(pixl_checkpoint_load_ex(P, inf, PIXL_LOAD_ALLOW_NONFINITE));
    CHECK(isinf(rd[3]));
    CHECK_OK(pixl_checkpoint_load(P, good, 0));
    free(copy);
    /* pixl predict: refused (status 1), then with --allow-nonfinite */
    char img[600], out[600];
    snprintf(img, sizeof img, "%s/nonfinite_in.png", pixl_test_tmpdir());
    snprintf(out, sizeof out, "%s/nonfinite_pred", pixl_test_tmpdir());
    pixl_image *im = pixl_image_new(16, 16, 3, 8);
    CHECK(im && !pixl_image_save_png(im, img));
    pixl_image_free(im);
    FILE *devnull = fopen("/dev/null", "w");
    fflush(stdout), fflush(stderr);
    int so = dup(1), se = dup(2);
    dup2(fileno(devnull), 1), dup2(fileno(devnull), 2);
    char *a1[] = {"predict", "--model", bad, "--out", out, img, NULL};
    char *a2[] = {"predict", "--model", bad, "--out", out, "--allow-nonfinite", img, NULL};
    int rc1 = cmd_predict(6, a1), rc2 = cmd_predict(7, a2);
    fflush(stdout), fflush(stderr);
    dup2(so, 1), dup2(se, 2);
    close(so), close(se);
    fclose(devnull);
    CHECK_MSG(rc1 == 1 && rc2 == 0, "pixl predict: %d without, %d with --allow-nonfinite", rc1, rc2);
    pixl_model_free(m);
}

/* the trainer does not write a model that went NaN over its last good checkpoint */
PIXL_TEST(trainer_keeps_checkpoint_when_weights_go_nonfinite)
{
    const char *cfg_path = tiny_config();
    pixl_train_config *cfg = calloc(1, sizeof *cfg);
    CHECK(cfg_path && cfg);
    if (!cfg_path || !cfg) return;
    CHECK_OK(pixl_config_load(cfg_path, cfg));
    snprintf(cfg->output.run_dir, sizeof cfg->output.run_dir, "%s/crash_diverged", pixl_test_tmpdir());
    FILE *devnull = fopen("/dev/null", "w");
    pixl_train_hooks h = {.log = devnull, .quiet = 1};
    pixl_trainer *t = pixl_trainer_new(cfg, &h);
    CHECK_MSG(t != NULL, "%s", pixl_last_error());
    if (t) {
        CHECK_OK(pixl_trainer_step(t));
        CHECK_OK(pixl_trainer_save(t));
        CHECK_OK(pixl_trainer_step(t));
        pixl_params *P = pixl_trainer_params(t);
        const int w = find_param(P, "weight", PIXL_PARAM);
        ((float *)pixl_params_data(P, w))[5] = NAN;
        CHECK(pixl_trainer_save(t) != 0);
        char want[256];
        snprintf(want, sizeof want, "training diverged: '%s' has a NaN at element 5 after step 2", pixl_params_name(P, w));
        CHECK_MSG(strstr(pixl_last_error(), want) != NULL, "error: %s", pixl_last_error());
        char *step = step_of(cfg->output.run_dir);
        CHECK_MSG(step && !strcmp(step, "1"), "last.safetensors is of step %s, not 1", step ? step : "none");
        free(step);
        check_run_dir(cfg->output.run_dir, "after the refused save");
        pixl_trainer_free(t);
    }
    fclose(devnull);
    free(cfg);
}

PIXL_TEST(pretrained_and_optimizer_state_refuse_nonfinite)
{
    /* pretrained weights (model.options.pretrained): a NaN is refused before anything is written */
    char pre[600], st[600];
    snprintf(pre, sizeof pre, "%s/pretrained_nan.safetensors", pixl_test_tmpdir());
    snprintf(st, sizeof st, "%s/optim_nan.safetensors", pixl_test_tmpdir());
    pixl_model *m = pixl_model_create("unet", &(pixl_model_opts){.n_classes = 3, .width = 0.25f}, 1);
    pixl_model *fresh = pixl_model_create("unet", &(pixl_model_opts){.n_classes = 3, .width = 0.25f}, 2);
    CHECK(m && fresh);
    if (!m || !fresh) return;
    pixl_params *P = pixl_model_params(m), *F = pixl_model_params(fresh);
    const int w = find_param(P, "weight", PIXL_PARAM);
    CHECK(w >= 0);
    if (w < 0) return;
    float *wd = pixl_params_data(P, w);
    const float keep = wd[7];
    wd[7] = NAN;
    CHECK_OK(pixl_model_save(m, pre, 0, NULL, NULL));
    wd[7] = keep;
    int64_t n = 0;
    float *flat = pixl_params_data_flat(F, &n), *copy = malloc(sizeof(float) * (size_t)n);
    CHECK(copy != NULL);
    if (!copy) return;
    memcpy(copy, flat, sizeof(float) * (size_t)n);
    CHECK(pixl_checkpoint_load_subset(F, pre) == PIXL_ERR_FORMAT);
    char want[1400];
    snprintf(want, sizeof want, "pretrained weights %s: tensor '%s' has a NaN at element 7", pre,
             pixl_params_name(P, w));
    CHECK_MSG(strstr(pixl_last_error(), want), "error: %s", pixl_last_error());
    CHECK_MSG(!memcmp(copy, flat, sizeof(float) * (size_t)n), "a refused pretrained load changed the model");

    /* optimizer state: momentum that went NaN is refused on resume, loaded with the flag */
    pixl_optim *opt = pixl_optim_new(P, &(pixl_optim_opts){.kind = PIXL_OPTIM_SGD, .lr = 0.1f, .momentum = 0.9f});
    CHECK(opt != NULL);
    if (!opt) return;
    pixl_params_zero_grad(P);
    float *g = pixl_params_grad(P, w);
    g[3] = NAN;
    CHECK_OK(pixl_optim_step(opt));
    CHECK_OK(pixl_optim_save(opt, st));
    pixl_optim *o2 = pixl_optim_new(P, &(pixl_optim_opts){.kind = PIXL_OPTIM_SGD, .lr = 0.1f, .momentum = 0.9f});
    CHECK(pixl_optim_load(o2, st) == PIXL_ERR_FORMAT);
    snprintf(want, sizeof want, "optimizer state %s: tensor '%s.momentum_buffer' has a NaN at element 3", st,
             pixl_params_name(P, w));
    CHECK_MSG(strstr(pixl_last_error(), want) && strstr(pixl_last_error(), "resume_allow_nonfinite"), "error: %s",
              pixl_last_error());
    CHECK_OK(pixl_optim_load_ex(o2, st, PIXL_LOAD_ALLOW_NONFINITE));
    pixl_optim_free(o2);
    pixl_optim_free(opt);
    free(copy);
    pixl_model_free(fresh);
    pixl_model_free(m);
}
