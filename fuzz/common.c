/* common.c — files and folders for the fuzz harnesses (fuzz.h). */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "pixl_data.h"

static char g_dir[256];

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    remove(p);
    return 0;
}

static void rm_dir(void)
{
    if (g_dir[0]) nftw(g_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

const char *pixl_fuzz_dir(void)
{
    if (!g_dir[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(g_dir, sizeof g_dir, "%s/pixl-fuzz-%d", t && *t ? t : "/tmp", (int)getpid());
        mkdir(g_dir, 0700);
        atexit(rm_dir);
    }
    return g_dir;
}

const char *pixl_fuzz_path(const char *name)
{
    static char buf[8][512];
    static int k;
    k = (k + 1) & 7;
    snprintf(buf[k], sizeof buf[k], "%s/%s", pixl_fuzz_dir(), name);
    return buf[k];
}

int pixl_fuzz_write(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = n ? fwrite(data, 1, n, f) : 0;
    return fclose(f) == 0 && w == n ? 0 : -1;
}

char *pixl_fuzz_strndup(const uint8_t *data, size_t n)
{
    char *s = malloc(n + 1);
    if (!s) return NULL;
    if (n) memcpy(s, data, n);
    s[n] = 0;
    return s;
}

const char *pixl_fuzz_mkdir(const char *name)
{
    const char *p = pixl_fuzz_path(name);
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s", p);
    for (char *s = tmp + strlen(pixl_fuzz_dir()) + 1; *s; s++)
        if (*s == '/') {
            *s = 0;
            mkdir(tmp, 0700);
            *s = '/';
        }
    mkdir(tmp, 0700);
    return p;
}

int pixl_fuzz_png(const char *path, int w, int h, int channels)
{
    pixl_image *im = pixl_image_new(w, h, channels, 8);
    if (!im) return -1;
    uint8_t *d = im->data;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < channels; c++) d[((size_t)y * w + x) * channels + c] = (uint8_t)((x + 2 * y + c) % 5);
    int rc = pixl_image_save_png(im, path);
    pixl_image_free(im);
    return rc;
}
