/* bsds.c — BSDS500 ground truth: the per-annotator boundary maps of a
 * groundTruth/<split>/<id>.mat file (MATLAB v5, compressed), read with
 * libmatio, and the training targets derived from them.
 *
 * libmatio trusts the sizes a MAT-file claims: fuzzing found small corrupt
 * files on which Mat_VarReadInfo or Mat_VarRead allocate gigabytes (a cell
 * array claiming millions of elements) or do not return. So each file is
 * read in a child process (fork) with its address space limited to what the
 * process uses plus PIXL_MAT_READ_MAX_BYTES and its CPU time to
 * PIXL_MAT_READ_SECONDS; the child sends the decoded maps (or its error)
 * back through a pipe. A child that runs out of either, or dies, is an
 * error naming the file. Real BSDS files take milliseconds and a few MB.
 * The fuzz build (make fuzz) reads in its own process, where libFuzzer
 * sees the coverage and enforces its memory and time limits. */
#include <errno.h>
#include <matio.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "data/dataset_impl.h"

/* a struct whose fields libmatio can look up: it indexes the field names and
 * the data without checking them, and a corrupt file leaves them NULL or short */
static int struct_ok(matvar_t *v)
{
    if (!v || v->class_type != MAT_C_STRUCT || !v->data || v->rank < 1) return 0;
    unsigned nf = Mat_VarGetNumberOfFields(v);
    char *const *names = Mat_VarGetStructFieldnames(v);
    if (!nf || !names) return 0;
    for (unsigned k = 0; k < nf; k++)
        if (!names[k]) return 0;
    size_t nel = 1;
    for (int d = 0; d < v->rank; d++) nel *= v->dims[d];
    return nel >= 1 && v->nbytes / nf / sizeof(matvar_t *) >= nel;
}

static int read_mat(const char *path, uint8_t **maps, int *n_maps, int *width, int *height)
{
    *maps = NULL;
    *n_maps = *width = *height = 0;
    if (!pixl__is_file(path)) return pixl_set_error(PIXL_ERR_NOT_FOUND, "BSDS ground truth '%s' not found", path);
    mat_t *mat = Mat_Open(path, MAT_ACC_RDONLY);
    if (!mat) return pixl_set_error(PIXL_ERR_FORMAT, "BSDS ground truth '%s': not a MAT-file libmatio can read", path);
    int rc = PIXL_OK;
    uint8_t *out = NULL;
    int n = 0, W = 0, H = 0;
    matvar_t *gt = NULL;
    /* the sizes from the variable's headers first: Mat_VarRead allocates what they claim */
    matvar_t *info = Mat_VarReadInfo(mat, "groundTruth");
    if (info && info->class_type == MAT_C_CELL && info->rank >= 1) {
        size_t cells = 1;
        for (int d = 0; d < info->rank; d++)
            if (pixl__mul_overflows(cells, info->dims[d], &cells)) cells = SIZE_MAX;
        /* the cell array's data as libmatio indexes it: present and as long as the cells claimed */
        if (!info->data || info->nbytes / sizeof(matvar_t *) < (cells < 64 ? cells : 64)) cells = 0;
        for (size_t i = 0; i < cells && i < 64 && !rc; i++) {
            matvar_t *cell = Mat_VarGetCell(info, (int)i);
            matvar_t *b = struct_ok(cell) ? Mat_VarGetStructFieldByName(cell, "Boundaries", 0) : NULL;
            if (!b || b->rank != 2) continue; /* reported below, after the read */
            if (b->dims[0] < 1 || b->dims[1] < 1 || b->dims[0] > PIXL_IMAGE_MAX_DIM || b->dims[1] > PIXL_IMAGE_MAX_DIM)
                rc = pixl_set_error(PIXL_ERR_FORMAT,
                                    "BSDS ground truth '%s': annotation %zu is %zux%zu (1..%d per side)", path, i + 1,
                                    b->dims[1], b->dims[0], PIXL_IMAGE_MAX_DIM);
            else rc = pixl__check_dims(path, (long)b->dims[1], (long)b->dims[0], 1, 8);
        }
    }
    if (info) Mat_VarFree(info);
    if (rc) goto done;
    gt = Mat_VarRead(mat, "groundTruth");
    if (!gt || gt->class_type != MAT_C_CELL || gt->rank < 1) {
        rc = pixl_set_error(PIXL_ERR_FORMAT, "BSDS ground truth '%s': no cell array 'groundTruth'", path);
        goto done;
    }
    size_t cells = 1;
    for (int d = 0; d < gt->rank; d++)
        if (pixl__mul_overflows(cells, gt->dims[d], &cells)) {
            cells = SIZE_MAX;
            break;
        }
    if (cells < 1 || cells > 64 || !gt->data || gt->nbytes / sizeof(matvar_t *) < cells) {
        rc = pixl_set_error(PIXL_ERR_FORMAT, "BSDS ground truth '%s': %zu annotations (1..64)", path, cells);
        goto done;
    }
    n = (int)cells;
    for (int i = 0; i < n; i++) {
        matvar_t *cell = Mat_VarGetCell(gt, i);
        matvar_t *b = struct_ok(cell) ? Mat_VarGetStructFieldByName(cell, "Boundaries", 0) : NULL;
        if (!b || b->rank != 2 || !b->data || (b->class_type != MAT_C_UINT8 && b->class_type != MAT_C_DOUBLE) ||
            b->nbytes / (b->class_type == MAT_C_UINT8 ? 1 : sizeof(double)) / (b->dims[0] ? b->dims[0] : 1) <
                b->dims[1]) {
            rc = pixl_set_error(PIXL_ERR_FORMAT,
                                "BSDS ground truth '%s': annotation %d has no 2-D logical/uint8/double 'Boundaries'",
                                path, i + 1);
            goto done;
        }
        /* sizes from the file: in range before they become ints, and the data really that large */
        size_t esize = b->class_type == MAT_C_UINT8 ? 1 : sizeof(double), need;
        if (b->dims[0] < 1 || b->dims[1] < 1 || b->dims[0] > PIXL_IMAGE_MAX_DIM || b->dims[1] > PIXL_IMAGE_MAX_DIM) {
            rc = pixl_set_error(PIXL_ERR_FORMAT, "BSDS ground truth '%s': annotation %d is %zux%zu (1..%d per side)",
                                path, i + 1, b->dims[1], b->dims[0], PIXL_IMAGE_MAX_DIM);
            goto done;
        }
        if (pixl__mul3_overflows(b->dims[0], b->dims[1], esize, &need) || b->nbytes < need ||
            (size_t)b->data_size != esize) {
            rc = pixl_set_error(PIXL_ERR_FORMAT, "BSDS ground truth '%s': annotation %d holds %zu bytes for %zux%zu values",
                                path, i + 1, b->nbytes, b->dims[1], b->dims[0]);
            goto done;
        }
        int h = (int)b->dims[0], w = (int)b->dims[1];
        if (i == 0) {
            W = w, H = h;
            if ((rc = pixl__check_dims(path, W, H, 1, 8))) goto done;
            out = pixl__malloc((size_t)n * W * H);
            if (!out) {
                rc = PIXL_ERR_NOMEM;
                goto done;
            }
        } else if (w != W || h != H) {
            rc = pixl_set_error(PIXL_ERR_FORMAT, "BSDS ground truth '%s': annotation %d is %dx%d, annotation 1 %dx%d",
                                path, i + 1, w, h, W, H);
            goto done;
        }
        uint8_t *o = out + (size_t)i * W * H;
        /* column-major -> row-major */
        if (b->class_type == MAT_C_UINT8) {
            const uint8_t *src = b->data;
            for (int x = 0; x < W; x++)
                for (int y = 0; y < H; y++) o[(size_t)y * W + x] = src[(size_t)x * H + y] != 0;
        } else {
            const double *src = b->data;
            for (int x = 0; x < W; x++)
                for (int y = 0; y < H; y++) o[(size_t)y * W + x] = src[(size_t)x * H + y] != 0;
        }
    }
done:
    if (gt) Mat_VarFree(gt);
    Mat_Close(mat);
    if (rc) {
        free(out);
        return rc;
    }
    *maps = out;
    *n_maps = n;
    *width = W;
    *height = H;
    return PIXL_OK;
}

#define PIXL_MAT_READ_MAX_BYTES ((rlim_t)1 << 30) /* address space a child may add while reading one file */
#define PIXL_MAT_READ_SECONDS 5                     /* CPU seconds for one file (real ones: milliseconds) */

#if defined(__SANITIZE_ADDRESS__)
#define MAT_LIMIT_AS 0 /* AddressSanitizer reserves terabytes of address space: only the CPU limit applies */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MAT_LIMIT_AS 0
#endif
#endif
#ifndef MAT_LIMIT_AS
#define MAT_LIMIT_AS 1
#endif

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        c += w, n -= (size_t)w;
    }
    return 0;
}

static int read_all(int fd, void *p, size_t n)
{
    char *c = p;
    while (n) {
        ssize_t r = read(fd, c, n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        c += r, n -= (size_t)r;
    }
    return 0;
}

/* the child: limits, read, reply {rc, n, W, H, message length} + message or maps; never returns */
static void mat_child(int fd, const char *path)
{
    struct rlimit cpu = {PIXL_MAT_READ_SECONDS, PIXL_MAT_READ_SECONDS + 1};
    setrlimit(RLIMIT_CPU, &cpu);
    if (MAT_LIMIT_AS) {
        long pages = 0;
        FILE *f = fopen("/proc/self/statm", "r");
        if (f) {
            if (fscanf(f, "%ld", &pages) != 1) pages = 0;
            fclose(f);
        }
        if (pages > 0) {
            rlim_t cap = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + PIXL_MAT_READ_MAX_BYTES;
            struct rlimit as = {cap, cap};
            setrlimit(RLIMIT_AS, &as);
        }
    }
    uint8_t *maps = NULL;
    int n = 0, W = 0, H = 0;
    int rc = read_mat(path, &maps, &n, &W, &H);
    const char *msg = rc ? pixl_last_error() : "";
    int32_t head[5] = {rc, n, W, H, (int32_t)strlen(msg)};
    int bad = write_all(fd, head, sizeof head) || write_all(fd, msg, strlen(msg)) ||
              (!rc && write_all(fd, maps, (size_t)n * W * H));
    _exit(bad ? 1 : 0);
}

int pixl__bsds_read_mat(const char *path, uint8_t **maps, int *n_maps, int *width, int *height)
{
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
    /* make fuzz: in this process, where libFuzzer sees the reader's coverage and applies its own limits */
    return read_mat(path, maps, n_maps, width, height);
#endif
    *maps = NULL;
    *n_maps = *width = *height = 0;
    if (!pixl__is_file(path)) return pixl_set_error(PIXL_ERR_NOT_FOUND, "BSDS ground truth '%s' not found", path);
    int fd[2];
    if (pipe(fd)) return pixl_set_error(PIXL_ERR_IO, "BSDS ground truth '%s': pipe: %s", path, strerror(errno));
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fd[0]), close(fd[1]);
        return pixl_set_error(PIXL_ERR_IO, "BSDS ground truth '%s': fork: %s", path, strerror(errno));
    }
    if (pid == 0) {
        close(fd[0]);
        mat_child(fd[1], path);
    }
    close(fd[1]);
    int32_t head[5] = {0};
    char msg[1024] = "";
    uint8_t *out = NULL;
    int got = read_all(fd[0], head, sizeof head) == 0;
    if (got && (head[4] < 0 || head[4] >= (int32_t)sizeof msg)) got = 0;
    if (got && head[4] > 0) got = read_all(fd[0], msg, (size_t)head[4]) == 0;
    if (got && head[0] == PIXL_OK) { /* the child checked the sizes; check them again before trusting them */
        if (head[1] < 1 || head[1] > 64 || head[2] < 1 || head[3] < 1 || head[2] > PIXL_IMAGE_MAX_DIM ||
            head[3] > PIXL_IMAGE_MAX_DIM)
            got = 0;
        else if (!(out = pixl__malloc((size_t)head[1] * head[2] * head[3])))
            got = -1;
        else if (read_all(fd[0], out, (size_t)head[1] * head[2] * head[3]))
            got = 0;
    }
    close(fd[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (got == 1 && head[0] == PIXL_OK && WIFEXITED(st) && WEXITSTATUS(st) == 0) {
        *maps = out, *n_maps = head[1], *width = head[2], *height = head[3];
        return PIXL_OK;
    }
    free(out);
    if (got == -1) return PIXL_ERR_NOMEM;
    if (got == 1 && head[0] != PIXL_OK) return pixl_set_error(head[0], "%s", msg);
    if (WIFSIGNALED(st) && WTERMSIG(st) == SIGXCPU)
        return pixl_set_error(PIXL_ERR_FORMAT,
                              "BSDS ground truth '%s': libmatio did not finish reading it in %d s of CPU time "
                              "(a corrupt MAT-file?)",
                              path, PIXL_MAT_READ_SECONDS);
    if (WIFSIGNALED(st))
        return pixl_set_error(PIXL_ERR_FORMAT,
                              "BSDS ground truth '%s': reading it ended on signal %d, past the reader's limit of "
                              "%d MiB or a corrupt MAT-file",
                              path, WTERMSIG(st), (int)(PIXL_MAT_READ_MAX_BYTES >> 20));
    return pixl_set_error(PIXL_ERR_FORMAT,
                          "BSDS ground truth '%s': the reader stopped (exit %d): past its limit of %d MiB, or a "
                          "corrupt MAT-file",
                          path, WIFEXITED(st) ? WEXITSTATUS(st) : -1, (int)(PIXL_MAT_READ_MAX_BYTES >> 20));
}

void pixl__bsds_targets(const uint8_t *maps, int n_maps, size_t np, float consensus, float *soft, int32_t *labels)
{
    for (size_t p = 0; p < np; p++) {
        int c = 0;
        for (int g = 0; g < n_maps; g++) c += maps[(size_t)g * np + p] != 0;
        float f = (float)c / (float)n_maps;
        if (soft) soft[p] = f;
        if (labels) labels[p] = c == 0 ? 0 : f >= consensus ? 1 : PIXL_IGNORE_LABEL;
    }
}

int pixl_bsds_read(const char *mat_path, uint8_t **maps, int *n_maps, int *width, int *height)
{
    if (!mat_path || !maps || !n_maps || !width || !height)
        return pixl_set_error(PIXL_ERR_ARG, "pixl_bsds_read: NULL argument");
    return pixl__bsds_read_mat(mat_path, maps, n_maps, width, height);
}

/* ------------------------------------------------------ the dataset kind */

static const char *const bsds_names[2] = {"non-boundary", "boundary"};
static const uint8_t bsds_colours[6] = {0, 0, 0, 255, 255, 255};

/* images/SPLIT/ID.jpg with groundTruth/SPLIT/ID.mat */
static int open_bsds(pixl_dataset *ds, const pixl_dataset_opts *o, const char *split)
{
    ds->task = PIXL_TASK_EDGES;
    ds->map = PIXL__MAP_NONE;
    ds->edge_consensus = o->edge_consensus > 0 ? o->edge_consensus : 0.5f;
    if (!(o->edge_consensus >= 0 && o->edge_consensus <= 1))
        return pixl_set_error(PIXL_ERR_ARG, "bsds500 dataset: edge_consensus %g outside [0, 1]",
                              (double)o->edge_consensus);
    int rc = pixl__dataset_set_classes(ds, 2, bsds_names, bsds_colours);
    if (rc) return rc;
    char irel[1024], lrel[1024];
    snprintf(irel, sizeof irel, "images/%s", split);
    snprintf(lrel, sizeof lrel, "groundTruth/%s", split);
    return pixl__dataset_open_pair(ds, o->root, irel, lrel, "ground-truth");
}

const pixl__dataset_kind pixl__dataset_bsds500 = {"bsds500", open_bsds};
