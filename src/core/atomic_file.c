/* atomic_file.c — the one way pixl writes a file: a temporary file in the
 * same folder (created exclusively, mode 0666 minus the umask), fflush and
 * fsync of the file, rename over the target, fsync of the folder. Readers
 * see the old file or the complete new one; a failure or an abort removes
 * the temporary file and leaves the old one as it was. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pixl_impl.h"

struct pixl_atomic_file {
    FILE *f;
    char *path; /* the target */
    char *tmp;  /* PATH.tmp.PID.N */
    char *dir;  /* the folder of path, synced after the rename */
};

/* a name no other writer (thread or process) uses: pid + a process counter;
 * O_EXCL makes a leftover of a crashed run a retry, never a clobber */
static int create_tmp(pixl_atomic_file *af)
{
    static atomic_uint counter;
    size_t n = strlen(af->path) + 48;
    if (!(af->tmp = pixl__malloc(n))) return -1;
    for (int attempt = 0; attempt < 100; attempt++) {
        snprintf(af->tmp, n, "%s.tmp.%ld.%u", af->path, (long)getpid(), atomic_fetch_add(&counter, 1u));
        int fd = open(af->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0) return fd;
        if (errno != EEXIST) break;
    }
    pixl_set_error(PIXL_ERR_IO, "cannot write '%s': cannot create '%s': %s", af->path, af->tmp, strerror(errno));
    return -1;
}

/* the folder of path ("." for a bare name), allocated when the write begins */
static char *folder_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = pixl__strdup(slash ? path : ".");
    if (dir && slash) dir[slash == path ? 1 : slash - path] = 0;
    return dir;
}

static void af_free(pixl_atomic_file *af)
{
    pixl__free(af->path);
    pixl__free(af->tmp);
    pixl__free(af->dir);
    pixl__free(af);
}

pixl_atomic_file *pixl_atomic_begin(const char *path)
{
    if (!path || !path[0]) {
        pixl_set_error(PIXL_ERR_ARG, "pixl_atomic_begin: no path");
        return NULL;
    }
    pixl_atomic_file *af = pixl__calloc(1, sizeof *af);
    if (!af) return NULL;
    int fd = (af->path = pixl__strdup(path)) && (af->dir = folder_of(path)) ? create_tmp(af) : -1;
    if (fd < 0) {
        af_free(af);
        return NULL;
    }
    if (!(af->f = fdopen(fd, "wb"))) {
        pixl_set_error(PIXL_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
        close(fd);
        unlink(af->tmp);
        af_free(af);
        return NULL;
    }
    return af;
}

FILE *pixl_atomic_stream(pixl_atomic_file *af) { return af ? af->f : NULL; }

void pixl_atomic_abort(pixl_atomic_file *af)
{
    if (!af) return;
    fclose(af->f);
    unlink(af->tmp);
    af_free(af);
}

/* fsync the folder, so that the rename itself is durable */
static int sync_folder(const pixl_atomic_file *af)
{
    int rc = PIXL_OK, fd = open(af->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    /* EINVAL/EROFS: a file system without folder syncs; the rename stands */
    if (fd < 0 || (fsync(fd) && errno != EINVAL && errno != EROFS))
        rc = pixl_set_error(PIXL_ERR_IO, "'%s' is written but its folder could not be synced: %s", af->path,
                            strerror(errno));
    if (fd >= 0) close(fd);
    return rc;
}

/* TEST HOOK, for crash tests only (scripts/check/kill9.sh, tests/test_crash.c):
 * PIXL_TEST_COMMIT_SLEEP_MS=N sleeps N ms between the complete, synced
 * temporary file and its rename, so that a test can kill the process while
 * a checkpoint is being written. Unset (always, outside those tests): no
 * effect. */
void pixl__test_commit_sleep(void)
{
    const char *e = getenv("PIXL_TEST_COMMIT_SLEEP_MS");
    long ms = e ? strtol(e, NULL, 10) : 0;
    if (ms > 0 && ms <= 60000) {
        struct timespec ts = {ms / 1000, ms % 1000 * 1000000L};
        while (nanosleep(&ts, &ts) && errno == EINTR) {}
    }
}

int pixl_atomic_commit(pixl_atomic_file *af)
{
    if (!af) return pixl_set_error(PIXL_ERR_ARG, "pixl_atomic_commit: NULL file");
    errno = 0;
    int failed = fflush(af->f) || ferror(af->f) || fsync(fileno(af->f));
    int err = errno;
    if (fclose(af->f) && !failed) failed = 1, err = errno;
    int rc = PIXL_OK;
    if (!failed) pixl__test_commit_sleep();
    if (failed) rc = pixl_set_error(PIXL_ERR_IO, "cannot write '%s': %s", af->path, strerror(err ? err : EIO));
    else if (rename(af->tmp, af->path))
        rc = pixl_set_error(PIXL_ERR_IO, "cannot rename '%s' over '%s': %s", af->tmp, af->path, strerror(errno));
    if (rc) unlink(af->tmp);
    else rc = sync_folder(af);
    af_free(af);
    return rc;
}

int pixl_atomic_write(const char *path, const void *data, size_t n)
{
    pixl_atomic_file *af = pixl_atomic_begin(path);
    if (!af) return pixl_last_status() ? pixl_last_status() : PIXL_ERR_IO;
    if (n && fwrite(data, 1, n, af->f) != n) {
        int rc = pixl_set_error(PIXL_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
        pixl_atomic_abort(af);
        return rc;
    }
    return pixl_atomic_commit(af);
}
