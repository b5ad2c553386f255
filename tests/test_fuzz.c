/* test_fuzz.c — every fuzz harness (fuzz/fuzz_<name>.c, fuzz/fuzz.h) on
 * its seed corpus fuzz/corpus/<name>/ and on the inputs that once broke a
 * reader, tests/fuzz_regressions/<name>/: each file goes through the
 * harness as libFuzzer would hand it over. The harnesses abort on nothing,
 * so a test fails only by a crash, or under `make sanitize` by an
 * AddressSanitizer / UBSan report; a missing or empty corpus fails too.
 * What the harnesses print on stdout (`pixl check`'s case line) is dropped;
 * PIXL_FUZZ_VERBOSE=1 prints each file with the reader's error, if any. */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../fuzz/fuzz.h"
#include "test.h"

typedef int (*fuzz_fn)(const uint8_t *, size_t);

static int cmp_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* run fn on every file of dir (sorted); the number of files, -1 when dir is missing */
static int replay_dir(const char *dir, fuzz_fn fn)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    char **names = NULL;
    int n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            names = realloc(names, sizeof *names * (size_t)cap);
        }
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_name);
    int count = 0;
    for (int i = 0; i < n; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        FILE *f = fopen(path, "rb");
        CHECK_MSG(f != NULL, "cannot read %s", path);
        if (f) {
            fseek(f, 0, SEEK_END);
            long len = ftell(f);
            fseek(f, 0, SEEK_SET);
            uint8_t *buf = malloc((size_t)(len > 0 ? len : 1));
            size_t got = len > 0 ? fread(buf, 1, (size_t)len, f) : 0;
            fclose(f);
            CHECK_MSG(got == (size_t)(len > 0 ? len : 0), "short read of %s", path);
            fflush(stdout);
            int saved = dup(1), null = open("/dev/null", O_WRONLY);
            if (null >= 0) dup2(null, 1);
            pixl_clear_error();
            fn(buf, got);
            fflush(stdout);
            if (saved >= 0) dup2(saved, 1);
            if (saved >= 0) close(saved);
            if (null >= 0) close(null);
            if (getenv("PIXL_FUZZ_VERBOSE")) /* what the reader said of each file */
                printf("    %s: %s\n", path, pixl_last_error() && *pixl_last_error() ? pixl_last_error() : "read");
            free(buf);
            count++;
        }
        free(names[i]);
    }
    free(names);
    return count;
}

static void replay(const char *name, fuzz_fn fn)
{
    char dir[512];
    snprintf(dir, sizeof dir, "fuzz/corpus/%s", name);
    int n = replay_dir(dir, fn);
    CHECK_MSG(n > 0, "%s: no seed corpus (run the tests from the source folder)", dir);
    snprintf(dir, sizeof dir, "tests/fuzz_regressions/%s", name);
    replay_dir(dir, fn); /* a harness that never broke has no folder */
    pixl_clear_error();
}

#define FUZZ_TEST(name) \
    PIXL_TEST(fuzz_replay_##name) { replay(#name, pixl_fuzz_##name); }
PIXL_FUZZ_HARNESSES(FUZZ_TEST)
