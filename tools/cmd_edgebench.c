/* cmd_edgebench.c — `pixl edgebench`: the BSDS boundary benchmark on a folder
 * of edge probability PNGs (or on a gradient-magnitude baseline computed
 * from the images) against BSDS .mat ground truth. */
#include <dirent.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_args.h"
#include "pixl_data.h"
#include "pixl_metrics.h"

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* sorted stems of DIR's files ending in ext */
static int list_stems(const char *dir, const char *ext, char ***out)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "pixl edgebench: cannot open folder '%s'\n", dir);
        return -1;
    }
    int n = 0, cap = 0;
    char **v = NULL;
    struct dirent *de;
    size_t le = strlen(ext);
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (de->d_name[0] == '.' || l <= le || strcmp(de->d_name + l - le, ext)) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 128;
            char **nv = realloc(v, sizeof(char *) * cap);
            if (!nv) break;
            v = nv;
        }
        v[n] = strndup(de->d_name, l - le);
        if (v[n]) n++;
    }
    closedir(d);
    qsort(v, (size_t)n, sizeof(char *), cmp_str);
    *out = v;
    return n;
}

/* gradient magnitude of the luma after a Gaussian blur (sigma 1.5), scaled
 * to [0, 1] by the image's maximum: the trivial baseline */
static float *gradient_edges(const pixl_image *img)
{
    int w = img->width, h = img->height;
    size_t n = (size_t)w * h;
    float *g = malloc(sizeof(float) * n * 3);
    if (!g) return NULL;
    float *t = g + n, *e = g + 2 * n;
    const uint8_t *px = img->data;
    for (size_t p = 0; p < n; p++)
        g[p] = (0.299f * px[3 * p] + 0.587f * px[3 * p + 1] + 0.114f * px[3 * p + 2]) / 255.0f;
    float k[9];
    float ks = 0;
    for (int i = -4; i <= 4; i++) ks += k[i + 4] = expf(-(float)(i * i) / (2 * 1.5f * 1.5f));
    for (int i = 0; i < 9; i++) k[i] /= ks;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float s = 0;
            for (int i = -4; i <= 4; i++) {
                int xx = x + i < 0 ? 0 : x + i >= w ? w - 1 : x + i;
                s += k[i + 4] * g[(size_t)y * w + xx];
            }
            t[(size_t)y * w + x] = s;
        }
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float s = 0;
            for (int i = -4; i <= 4; i++) {
                int yy = y + i < 0 ? 0 : y + i >= h ? h - 1 : y + i;
                s += k[i + 4] * t[(size_t)yy * w + x];
            }
            g[(size_t)y * w + x] = s;
        }
    float mx = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
#define G(yy, xx) g[(size_t)((yy) < 0 ? 0 : (yy) >= h ? h - 1 : (yy)) * w + ((xx) < 0 ? 0 : (xx) >= w ? w - 1 : (xx))]
            float gx = (G(y - 1, x + 1) + 2 * G(y, x + 1) + G(y + 1, x + 1)) - (G(y - 1, x - 1) + 2 * G(y, x - 1) + G(y + 1, x - 1));
            float gy = (G(y + 1, x - 1) + 2 * G(y + 1, x) + G(y + 1, x + 1)) - (G(y - 1, x - 1) + 2 * G(y - 1, x) + G(y - 1, x + 1));
#undef G
            float m = sqrtf(gx * gx + gy * gy);
            e[(size_t)y * w + x] = m;
            if (m > mx) mx = m;
        }
    for (size_t p = 0; p < n; p++) g[p] = mx > 0 ? e[p] / mx : 0;
    return g;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: pixl edgebench PRED_DIR GT_DIR [options]\n"
            "       pixl edgebench --gradient IMAGE_DIR GT_DIR [options]\n"
            "  PRED_DIR holds <id>.png edge probability maps (grey, 8 or 16 bit, value/max = probability);\n"
            "  GT_DIR holds BSDS <id>.mat ground truth (groundTruth/val of BSDS500). With --gradient the\n"
            "  predictions are the gradient magnitude of IMAGE_DIR's <id>.jpg (a trivial baseline).\n"
            "  --thresholds N   number of thresholds (default 99)\n"
            "  --max-dist F     tolerance as a fraction of the image diagonal (default 0.0075)\n"
            "  --no-nms         the maps are already thin: skip non-maximum suppression\n"
            "  --no-thin        skip the per-threshold morphological thinning\n"
            "  --limit N        only the first N images (sorted by id)\n"
            "  --json FILE      write the scores and per-threshold counts as JSON\n");
}

int cmd_edgebench(int argc, char **argv)
{
    const char *pred_dir = NULL, *gt_dir = NULL, *json = NULL;
    int gradient = 0, limit = 0;
    pixl_edge_bench_opts o = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--gradient")) gradient = 1;
        else if (!strcmp(a, "--no-nms")) o.no_nms = 1;
        else if (!strcmp(a, "--no-thin")) o.no_thin = 1;
        else if (!strcmp(a, "--thresholds") && i + 1 < argc) {
            if (pixl_arg_int("edgebench", a, argv[++i], 1, PIXL_EDGE_MAX_THRESHOLDS, &o.n_thresholds)) return 2;
        } else if (!strcmp(a, "--max-dist") && i + 1 < argc) { /* a fraction of the image diagonal */
            if (pixl_arg_num_above("edgebench", a, argv[++i], 0, 0.25, &o.max_dist)) return 2;
        } else if (!strcmp(a, "--limit") && i + 1 < argc) { /* 0: every image */
            if (pixl_arg_int("edgebench", a, argv[++i], 0, INT_MAX, &limit)) return 2;
        }
        else if (!strcmp(a, "--json") && i + 1 < argc) json = argv[++i];
        else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage();
            return 0;
        } else if (a[0] == '-') {
            fprintf(stderr, "pixl edgebench: unknown option '%s'\n", a);
            usage();
            return 2;
        } else if (!pred_dir) pred_dir = a;
        else if (!gt_dir) gt_dir = a;
        else {
            usage();
            return 2;
        }
    }
    if (!pred_dir || !gt_dir || o.n_thresholds < 0 || o.max_dist < 0 || limit < 0) {
        usage();
        return 2;
    }
    char **ids;
    int n = list_stems(gt_dir, ".mat", &ids);
    if (n < 0) return 1;
    if (n == 0) {
        fprintf(stderr, "pixl edgebench: no .mat files in '%s'\n", gt_dir);
        free(ids);
        return 1;
    }
    if (limit > 0 && limit < n) {
        for (int i = limit; i < n; i++) free(ids[i]);
        n = limit;
    }
    pixl_edge_sample *s = calloc((size_t)n, sizeof *s);
    int rc = s ? 0 : 1;
    for (int i = 0; i < n && !rc; i++) {
        char path[4096];
        uint8_t *maps;
        int nm, w, h;
        snprintf(path, sizeof path, "%s/%s.mat", gt_dir, ids[i]);
        if (pixl_bsds_read(path, &maps, &nm, &w, &h)) {
            fprintf(stderr, "pixl edgebench: %s\n", pixl_last_error());
            rc = 1;
            break;
        }
        s[i].gt = maps;
        s[i].n_gt = nm;
        pixl_image *img;
        float *pred = NULL;
        if (gradient) {
            snprintf(path, sizeof path, "%s/%s.jpg", pred_dir, ids[i]);
            img = pixl_image_load(path, 3, 8);
            if (img) pred = gradient_edges(img);
        } else {
            snprintf(path, sizeof path, "%s/%s.png", pred_dir, ids[i]);
            img = pixl_image_load(path, 1, 0);
            if (img) {
                pred = malloc(sizeof(float) * (size_t)img->width * img->height);
                for (size_t p = 0; pred && p < (size_t)img->width * img->height; p++)
                    pred[p] = img->depth == 16 ? ((uint16_t *)img->data)[p] / 65535.0f : ((uint8_t *)img->data)[p] / 255.0f;
            }
        }
        if (!img || !pred) {
            fprintf(stderr, "pixl edgebench: %s\n", img ? "out of memory" : pixl_last_error());
            pixl_image_free(img);
            free(pred);
            rc = 1;
            break;
        }
        if (img->width != w || img->height != h) {
            fprintf(stderr, "pixl edgebench: '%s' is %dx%d but its ground truth is %dx%d\n", path, img->width,
                    img->height, w, h);
            pixl_image_free(img);
            free(pred);
            rc = 1;
            break;
        }
        s[i].width = w, s[i].height = h, s[i].pred = pred;
        pixl_image_free(img);
    }
    pixl_edge_bench_result *r = calloc(1, sizeof *r);
    if (!rc && !r) rc = 1;
    if (!rc && pixl_edge_benchmark(s, n, &o, r)) {
        fprintf(stderr, "pixl edgebench: %s\n", pixl_last_error());
        rc = 1;
    }
    if (!rc) {
        printf("images %d, thresholds %d, tolerance %.4f x diagonal, %d threads, %.1f s\n", r->n_images,
               r->n_thresholds, o.max_dist > 0 ? o.max_dist : 0.0075, pixl_num_threads(), r->seconds);
        printf("ODS F %.4f (P %.4f R %.4f at t %.3f)\n", r->ods_f, r->ods_p, r->ods_r, r->ods_t);
        printf("OIS F %.4f (P %.4f R %.4f)\n", r->ois_f, r->ois_p, r->ois_r);
        printf("AP    %.4f\n", r->ap);
        if (json) {
            char *text = pixl_edge_bench_json(r);
            if (!text || pixl_atomic_write(json, text, strlen(text))) {
                fprintf(stderr, "pixl edgebench: %s\n", pixl_last_error());
                rc = 1;
            }
            free(text);
        }
    }
    for (int i = 0; i < n; i++) {
        if (s) free((void *)s[i].pred), free((void *)s[i].gt);
        free(ids[i]);
    }
    free(ids), free(s), free(r);
    return rc;
}
