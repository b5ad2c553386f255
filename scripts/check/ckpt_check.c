/* ckpt_check.c — checks of checkpoint files for scripts/check/kill9.sh and
 * scripts/check/fulldisk.sh (built by them against build/libpixl.a).
 *
 *   ckpt_check load FILE...    every tensor of each file read; a model
 *                              checkpoint (metadata "arch") loaded with
 *                              pixl_model_load, an optimizer state read whole
 *                              and its values checked finite. One line per
 *                              file: "ok FILE step S" or "FAIL FILE: why".
 *   ckpt_check pair RUN_DIR    the optimizer state a resume takes
 *                              (last.optim.next.safetensors when its step is
 *                              that of last.safetensors, else
 *                              last.optim.safetensors) is of the model's step
 *   ckpt_check same A B        every tensor of A equal to B's, bit for bit;
 *                              prints the largest difference
 *
 * Exit status 0 when every check passes, 1 otherwise. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pixl_models.h"

static int load_one(const char *path)
{
    pixl_st_file *f = pixl_st_open(path);
    if (!f) {
        printf("FAIL %s: %s\n", path, pixl_last_error());
        return 1;
    }
    const char *arch = pixl_st_meta(f, "arch"), *step = pixl_st_meta(f, "step");
    char st[64];
    snprintf(st, sizeof st, "%s", step ? step : "-");
    int bad = 0;
    for (int i = 0; i < pixl_st_count(f) && !bad; i++) {
        const char *d = pixl_st_dtype(f, i);
        int64_t n = pixl_st_numel(f, i);
        if (strcmp(d, "F32") && strcmp(d, "F64") && strcmp(d, "F16") && strcmp(d, "BF16")) continue;
        double *v = malloc(sizeof(double) * (size_t)(n ? n : 1));
        if (!v || pixl_st_read_f64(f, i, v)) {
            printf("FAIL %s: cannot read tensor '%s'\n", path, pixl_st_name(f, i));
            bad = 1;
        }
        for (int64_t k = 0; !bad && k < n; k++)
            if (!isfinite(v[k])) {
                printf("FAIL %s: tensor '%s' element %lld is not finite\n", path, pixl_st_name(f, i), (long long)k);
                bad = 1;
            }
        free(v);
    }
    int is_model = arch != NULL;
    pixl_st_close(f);
    if (bad) return 1;
    if (is_model) {
        pixl_model *m = pixl_model_load(path);
        if (!m) {
            printf("FAIL %s: %s\n", path, pixl_last_error());
            return 1;
        }
        pixl_model_free(m);
    }
    printf("ok %s step %s\n", path, st);
    return 0;
}

static char *meta(const char *path, const char *key)
{
    return access(path, F_OK) ? NULL : pixl_checkpoint_meta(path, key);
}

static int pair(const char *dir)
{
    char last[4096], opt[4096], next[4096];
    snprintf(last, sizeof last, "%s/last.safetensors", dir);
    snprintf(opt, sizeof opt, "%s/last.optim.safetensors", dir);
    snprintf(next, sizeof next, "%s/last.optim.next.safetensors", dir);
    char *s = meta(last, "step"), *so = meta(opt, "step"), *sn = meta(next, "step");
    int rc = 1;
    if (!s && !so) {
        printf("ok %s: no checkpoint yet\n", dir);
        rc = 0;
    } else if (!s) printf("FAIL %s: an optimizer state without last.safetensors\n", dir);
    else if (sn && !strcmp(sn, s)) {
        printf("ok %s: step %s, optimizer state in last.optim.next.safetensors (a save stopped before its last "
               "rename)\n", dir, s);
        rc = 0;
    } else if (so && !strcmp(so, s)) {
        printf("ok %s: step %s\n", dir, s);
        rc = 0;
    } else printf("FAIL %s: last.safetensors is of step %s, the optimizer state of %s\n", dir, s, so ? so : "none");
    free(s);
    free(so);
    free(sn);
    return rc;
}

static int same(const char *a, const char *b)
{
    pixl_st_file *fa = pixl_st_open(a), *fb = fa ? pixl_st_open(b) : NULL;
    if (!fa || !fb) {
        printf("FAIL: %s\n", pixl_last_error());
        pixl_st_close(fa);
        return 1;
    }
    int rc = 0, differ = 0;
    double worst = 0;
    if (pixl_st_count(fa) != pixl_st_count(fb)) {
        printf("FAIL: %d tensors in %s, %d in %s\n", pixl_st_count(fa), a, pixl_st_count(fb), b);
        rc = 1;
    }
    for (int i = 0; !rc && i < pixl_st_count(fa); i++) {
        const char *name = pixl_st_name(fa, i);
        int j = pixl_st_find(fb, name);
        int64_t n = pixl_st_numel(fa, i);
        if (j < 0 || pixl_st_numel(fb, j) != n) {
            printf("FAIL: tensor '%s' of %s is not in %s with the same size\n", name, a, b);
            rc = 1;
            break;
        }
        double *x = malloc(sizeof(double) * (size_t)(n ? n : 1)), *y = malloc(sizeof(double) * (size_t)(n ? n : 1));
        if (!x || !y) {
            free(x);
            free(y);
            printf("FAIL: out of memory\n");
            return 1;
        }
        pixl_st_read_f64(fa, i, x);
        pixl_st_read_f64(fb, j, y);
        for (int64_t k = 0; k < n; k++) {
            if (memcmp(&x[k], &y[k], sizeof x[k])) differ++;
            double dd = fabs(x[k] - y[k]);
            if (dd > worst || dd != dd) worst = dd;
        }
        free(x);
        free(y);
    }
    pixl_st_close(fa);
    pixl_st_close(fb);
    if (rc) return rc;
    if (differ) printf("DIFFER: %d values differ between %s and %s, largest difference %g\n", differ, a, b, worst);
    else printf("identical: every tensor of %s equals %s bit for bit\n", a, b);
    return differ != 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "load")) {
        int rc = 0;
        for (int i = 2; i < argc; i++) rc |= load_one(argv[i]);
        return rc;
    }
    if (argc == 3 && !strcmp(argv[1], "pair")) return pair(argv[2]);
    if (argc == 4 && !strcmp(argv[1], "same")) return same(argv[2], argv[3]);
    fprintf(stderr, "usage: %s load FILE... | pair RUN_DIR | same A B\n", argv[0]);
    return 2;
}
