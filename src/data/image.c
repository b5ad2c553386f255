/* image.c — pixl_image basics: allocation, channel/depth conversion,
 * bilinear resize, float CHW conversion, nearest label resize, label
 * colourisation and the default class colours. Also the small file/path
 * helpers of data_impl.h. The PNG and JPEG codecs are in image_codec.c. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/data_impl.h"

/* ------------------------------------------------------------ file helpers */

int pixl__read_file(const char *path, const char *what, size_t max_bytes, unsigned char **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return pixl_set_error(errno == ENOENT ? PIXL_ERR_NOT_FOUND : PIXL_ERR_IO, "%s '%s': cannot open: %s", what,
                              path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode)) {
        fclose(f);
        return pixl_set_error(PIXL_ERR_IO, "%s '%s': not a regular file", what, path);
    }
    if ((unsigned long long)st.st_size > max_bytes) {
        fclose(f);
        return pixl_set_error(PIXL_ERR_FORMAT, "%s '%s': file too large (%lld bytes)", what, path,
                              (long long)st.st_size);
    }
    size_t n = (size_t)st.st_size;
    unsigned char *b = pixl__malloc(n + 1);
    if (!b) {
        fclose(f);
        return PIXL_ERR_NOMEM;
    }
    size_t got = n ? fread(b, 1, n, f) : 0;
    int err = ferror(f);
    fclose(f);
    if (got != n || err) {
        free(b);
        return pixl_set_error(PIXL_ERR_IO, "%s '%s': read failed", what, path);
    }
    b[n] = 0;
    *buf = b;
    *len = n;
    return PIXL_OK;
}

int pixl__is_file(const char *path)
{
    struct stat st;
    return path && stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int pixl__is_dir(const char *path)
{
    struct stat st;
    return path && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

char *pixl__join(const char *a, const char *b)
{
    if (!a || !a[0] || b[0] == '/') return pixl__strdup(b);
    size_t la = strlen(a), lb = strlen(b);
    while (la > 1 && a[la - 1] == '/') la--;
    char *d = pixl__malloc(la + lb + 2);
    if (!d) return NULL;
    memcpy(d, a, la);
    d[la] = '/';
    memcpy(d + la + 1, b, lb + 1);
    return d;
}

void pixl__free_strings(char **s, int n)
{
    if (!s) return;
    for (int i = 0; i < n; i++) free(s[i]);
    free(s);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int pixl__list_dir(const char *dir, int want_dirs, char ***names)
{
    *names = NULL;
    DIR *d = opendir(dir);
    if (!d)
        return pixl_set_error(errno == ENOENT ? PIXL_ERR_NOT_FOUND : PIXL_ERR_IO, "folder '%s': cannot open: %s", dir,
                              strerror(errno));
    char **v = NULL;
    int n = 0, cap = 0, rc = PIXL_OK;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char *full = pixl__join(dir, e->d_name);
        if (!full) {
            rc = PIXL_ERR_NOMEM;
            break;
        }
        int ok = want_dirs ? pixl__is_dir(full) : pixl__is_file(full);
        free(full);
        if (!ok) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nv = realloc(v, sizeof *v * (size_t)cap);
            if (!nv) {
                rc = pixl_set_error(PIXL_ERR_NOMEM, "out of memory listing '%s'", dir);
                break;
            }
            v = nv;
        }
        if (!(v[n] = pixl__strdup(e->d_name))) {
            rc = PIXL_ERR_NOMEM;
            break;
        }
        n++;
    }
    closedir(d);
    if (rc) {
        pixl__free_strings(v, n);
        return rc;
    }
    if (n) qsort(v, (size_t)n, sizeof *v, cmp_str);
    *names = v;
    return n;
}

int pixl__check_dims(const char *path, long width, long height, int channels, int depth)
{
    if (width < 1 || height < 1 || width > PIXL_IMAGE_MAX_DIM || height > PIXL_IMAGE_MAX_DIM)
        return pixl_set_error(PIXL_ERR_FORMAT, "image '%s': size %ldx%ld outside 1..%d per side", path ? path : "",
                              width, height, PIXL_IMAGE_MAX_DIM);
    if (channels < 1 || channels > 4 || (depth != 8 && depth != 16))
        return pixl_set_error(PIXL_ERR_UNSUPPORTED, "image '%s': %d channels of %d bits not supported",
                              path ? path : "", channels, depth);
    size_t a, b;
    if (pixl__mul_overflows((size_t)width, (size_t)height, &a) || pixl__mul_overflows(a, (size_t)channels * 2, &b))
        return pixl_set_error(PIXL_ERR_NOMEM, "image '%s': size %ldx%ld overflows", path ? path : "", width, height);
    /* the pixel limit, from the header alone: checked before any pixel buffer exists */
    uint64_t cap;
    if (pixl__limit(PIXL_MAX_IMAGE_PIXELS_ENV, PIXL_MAX_IMAGE_PIXELS_DEFAULT, &cap)) return PIXL_ERR_ARG;
    if ((uint64_t)a > cap) {
        char bytes[32];
        pixl__fmt_bytes(bytes, sizeof bytes, (double)a * channels * (depth / 8));
        return pixl_set_error(PIXL_ERR_UNSUPPORTED,
                              "image '%s': %ldx%ld is %zu pixels (%s decoded), above the limit of %llu pixels (set "
                              "PIXL_MAX_IMAGE_PIXELS to raise it)",
                              path ? path : "", width, height, a, bytes, (unsigned long long)cap);
    }
    return PIXL_OK;
}

/* ------------------------------------------------------------ pixl_image */

static size_t img_bytes(const pixl_image *img)
{
    return (size_t)img->width * (size_t)img->height * (size_t)img->channels * (size_t)(img->depth / 8);
}

pixl_image *pixl_image_new(int width, int height, int channels, int depth)
{
    if (pixl__check_dims("(new)", width, height, channels, depth)) return NULL;
    pixl_image *img = pixl__calloc(1, sizeof *img);
    if (!img) return NULL;
    img->width = width;
    img->height = height;
    img->channels = channels;
    img->depth = depth;
    img->data = pixl__calloc(img_bytes(img), 1);
    if (!img->data) {
        free(img);
        return NULL;
    }
    return img;
}

void pixl_image_free(pixl_image *img)
{
    if (!img) return;
    free(img->data);
    free(img);
}

int pixl__image_valid(const pixl_image *img, const char *fn)
{
    if (!img || !img->data || img->width < 1 || img->height < 1 || img->channels < 1 || img->channels > 4 ||
        (img->depth != 8 && img->depth != 16))
        return pixl_set_error(PIXL_ERR_ARG, "%s: invalid image", fn);
    return PIXL_OK;
}

pixl_image *pixl_image_convert(const pixl_image *img, int channels, int depth)
{
    if (pixl__image_valid(img, "pixl_image_convert")) return NULL;
    if (!channels) channels = img->channels;
    if (!depth) depth = img->depth;
    if (channels < 1 || channels > 4 || (depth != 8 && depth != 16)) {
        pixl_set_error(PIXL_ERR_ARG, "pixl_image_convert: %d channels of %d bits not supported", channels, depth);
        return NULL;
    }
    pixl_image *out = pixl_image_new(img->width, img->height, channels, depth);
    if (!out) return NULL;
    const int ci = img->channels, co = channels;
    const unsigned maxin = img->depth == 8 ? 255 : 65535;
    const size_t np = (size_t)img->width * img->height;
    for (size_t p = 0; p < np; p++) {
        unsigned in[4], o[4];
        for (int c = 0; c < ci; c++) in[c] = pixl__image_sample(img, p * ci + c);
        unsigned grey, alpha = (ci == 2 || ci == 4) ? in[ci - 1] : maxin;
        if (ci >= 3) grey = (unsigned)((299u * in[0] + 587u * in[1] + 114u * in[2] + 500u) / 1000u);
        else grey = in[0];
        switch (co) {
        case 1: o[0] = grey; break;
        case 2: o[0] = grey, o[1] = alpha; break;
        case 3:
        case 4:
            for (int c = 0; c < 3; c++) o[c] = ci >= 3 ? in[c] : grey;
            if (co == 4) o[3] = alpha;
            break;
        }
        for (int c = 0; c < co; c++) {
            unsigned v = o[c];
            if (img->depth == 16 && depth == 8) v = (v * 255u + 32767u) / 65535u;
            else if (img->depth == 8 && depth == 16) v = v * 257u;
            if (depth == 8) ((uint8_t *)out->data)[p * co + c] = (uint8_t)v;
            else ((uint16_t *)out->data)[p * co + c] = (uint16_t)v;
        }
    }
    return out;
}

/* ------------------------------------------------------------ resampling */

typedef struct {
    int i0, i1;
    float w1;
} lerp_tap;

/* PyTorch bilinear, align_corners=False: src = (d+0.5)*in/out - 0.5, >= 0 */
static void lerp_taps(int in, int out, lerp_tap *t)
{
    double scale = (double)in / out;
    for (int d = 0; d < out; d++) {
        double s = (d + 0.5) * scale - 0.5;
        if (s < 0) s = 0;
        int i0 = (int)s;
        if (i0 > in - 1) i0 = in - 1;
        t[d].i0 = i0;
        t[d].i1 = i0 + 1 < in ? i0 + 1 : in - 1;
        t[d].w1 = (float)(s - i0);
    }
}

#define DEFINE_RESIZE(NAME, T, MAXV)                                                                  \
    static void NAME(const T *src, int sw, int sh, int c, T *dst, int dw, int dh, lerp_tap *tx, lerp_tap *ty, \
                     float *row0, float *row1)                                                         \
    {                                                                                                 \
        lerp_taps(sw, dw, tx);                                                                        \
        lerp_taps(sh, dh, ty);                                                                        \
        for (int y = 0; y < dh; y++) {                                                                \
            const T *r0 = src + (size_t)ty[y].i0 * sw * c, *r1 = src + (size_t)ty[y].i1 * sw * c;     \
            for (int x = 0; x < dw; x++) {                                                            \
                const T *a0 = r0 + (size_t)tx[x].i0 * c, *b0 = r0 + (size_t)tx[x].i1 * c;             \
                const T *a1 = r1 + (size_t)tx[x].i0 * c, *b1 = r1 + (size_t)tx[x].i1 * c;             \
                float wx = tx[x].w1;                                                                  \
                for (int k = 0; k < c; k++) {                                                         \
                    row0[(size_t)x * c + k] = a0[k] + wx * (b0[k] - (float)a0[k]);                    \
                    row1[(size_t)x * c + k] = a1[k] + wx * (b1[k] - (float)a1[k]);                    \
                }                                                                                     \
            }                                                                                         \
            float wy = ty[y].w1;                                                                      \
            T *o = dst + (size_t)y * dw * c;                                                          \
            for (size_t i = 0; i < (size_t)dw * c; i++) {                                             \
                float v = row0[i] + wy * (row1[i] - row0[i]) + 0.5f;                                  \
                o[i] = (T)(v < 0 ? 0 : v > MAXV ? MAXV : v);                                          \
            }                                                                                         \
        }                                                                                             \
    }
DEFINE_RESIZE(resize_u8, uint8_t, 255.0f)
DEFINE_RESIZE(resize_u16, uint16_t, 65535.0f)

static int resize_any(const void *src, int sw, int sh, int c, int depth, void *dst, int dw, int dh)
{
    lerp_tap *tx = malloc(sizeof *tx * (size_t)dw), *ty = malloc(sizeof *ty * (size_t)dh);
    float *r0 = malloc(sizeof(float) * (size_t)dw * c * 2);
    if (!tx || !ty || !r0) {
        free(tx), free(ty), free(r0);
        return pixl_set_error(PIXL_ERR_NOMEM, "out of memory resizing an image to %dx%d", dw, dh);
    }
    if (depth == 8) resize_u8(src, sw, sh, c, dst, dw, dh, tx, ty, r0, r0 + (size_t)dw * c);
    else resize_u16(src, sw, sh, c, dst, dw, dh, tx, ty, r0, r0 + (size_t)dw * c);
    free(tx), free(ty), free(r0);
    return PIXL_OK;
}

void pixl__resize_bilinear_u8(const uint8_t *src, int sw, int sh, int c, uint8_t *dst, int dw, int dh)
{
    if (sw == dw && sh == dh) {
        memcpy(dst, src, (size_t)sw * sh * c);
        return;
    }
    resize_any(src, sw, sh, c, 8, dst, dw, dh);
}

pixl_image *pixl_image_resize(const pixl_image *img, int width, int height)
{
    if (pixl__image_valid(img, "pixl_image_resize")) return NULL;
    pixl_image *out = pixl_image_new(width, height, img->channels, img->depth);
    if (!out) return NULL;
    if (width == img->width && height == img->height) {
        memcpy(out->data, img->data, img_bytes(img));
        return out;
    }
    if (resize_any(img->data, img->width, img->height, img->channels, img->depth, out->data, width, height)) {
        pixl_image_free(out);
        return NULL;
    }
    return out;
}

void pixl__resize_nearest_i32(const int32_t *src, int sw, int sh, int32_t *dst, int dw, int dh)
{
    for (int y = 0; y < dh; y++) {
        int sy = (int)((int64_t)y * sh / dh);
        const int32_t *r = src + (size_t)sy * sw;
        int32_t *o = dst + (size_t)y * dw;
        for (int x = 0; x < dw; x++) o[x] = r[(int64_t)x * sw / dw];
    }
}

int32_t *pixl_label_resize(const int32_t *labels, int width, int height, int out_width, int out_height)
{
    if (!labels || pixl__check_dims("(labels)", width, height, 1, 8) ||
        pixl__check_dims("(labels)", out_width, out_height, 1, 8)) {
        pixl_set_error(PIXL_ERR_ARG, "pixl_label_resize: bad arguments (%dx%d -> %dx%d)", width, height, out_width,
                       out_height);
        return NULL;
    }
    int32_t *out = pixl__malloc(sizeof *out * (size_t)out_width * out_height);
    if (out) pixl__resize_nearest_i32(labels, width, height, out, out_width, out_height);
    return out;
}

int pixl_image_to_chw(const pixl_image *img, const float *mean, const float *std, float *out)
{
    if (pixl__image_valid(img, "pixl_image_to_chw")) return PIXL_ERR_ARG;
    if (!out) return pixl_set_error(PIXL_ERR_ARG, "pixl_image_to_chw: out is NULL");
    const int c = img->channels;
    const size_t np = (size_t)img->width * img->height;
    const float inv = img->depth == 8 ? 1.0f / 255.0f : 1.0f / 65535.0f;
    for (int k = 0; k < c; k++) {
        float m = mean ? mean[k] : 0.0f, s = std ? std[k] : 1.0f;
        if (!(s > 0)) return pixl_set_error(PIXL_ERR_ARG, "pixl_image_to_chw: std[%d] = %g", k, (double)s);
        float a = inv / s, b = -m / s;
        float *o = out + (size_t)k * np;
        if (img->depth == 8) {
            float lut[256];
            for (int v = 0; v < 256; v++) lut[v] = v * a + b;
            const uint8_t *d = (const uint8_t *)img->data + k;
            for (size_t p = 0; p < np; p++) o[p] = lut[d[p * c]];
        } else {
            const uint16_t *d = (const uint16_t *)img->data + k;
            for (size_t p = 0; p < np; p++) o[p] = d[p * c] * a + b;
        }
    }
    return PIXL_OK;
}

pixl_image *pixl_label_colorize(const int32_t *labels, int width, int height, const uint8_t *colours,
                                int n_colours, const pixl_image *base, float alpha)
{
    if (!labels || !colours || n_colours < 1) {
        pixl_set_error(PIXL_ERR_ARG, "pixl_label_colorize: NULL labels/colours or n_colours %d", n_colours);
        return NULL;
    }
    if (base) {
        if (pixl__image_valid(base, "pixl_label_colorize")) return NULL;
        if (base->width != width || base->height != height || base->depth != 8) {
            pixl_set_error(PIXL_ERR_SHAPE, "pixl_label_colorize: base image %dx%d (%d bits) for a %dx%d label map",
                           base->width, base->height, base->depth, width, height);
            return NULL;
        }
    }
    pixl_image *out = base ? pixl_image_convert(base, 3, 8) : pixl_image_new(width, height, 3, 8);
    if (!out) return NULL;
    if (alpha < 0) alpha = 0;
    if (alpha > 1) alpha = 1;
    uint8_t *o = out->data;
    const size_t np = (size_t)width * height;
    for (size_t p = 0; p < np; p++) {
        int32_t v = labels[p];
        if (v < 0 || v >= n_colours) continue;
        const uint8_t *col = colours + 3 * (size_t)v;
        for (int k = 0; k < 3; k++) {
            if (!base) o[3 * p + k] = col[k];
            else o[3 * p + k] = (uint8_t)((1.0f - alpha) * o[3 * p + k] + alpha * col[k] + 0.5f);
        }
    }
    return out;
}

void pixl_voc_colours(int n, uint8_t *rgb)
{
    for (int i = 0; rgb && i < n; i++) {
        int r = 0, g = 0, b = 0, c = i;
        for (int j = 0; j < 8; j++) {
            r |= ((c >> 0) & 1) << (7 - j);
            g |= ((c >> 1) & 1) << (7 - j);
            b |= ((c >> 2) & 1) << (7 - j);
            c >>= 3;
        }
        rgb[3 * i] = (uint8_t)r, rgb[3 * i + 1] = (uint8_t)g, rgb[3 * i + 2] = (uint8_t)b;
    }
}
