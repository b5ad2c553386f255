/* augment.c — training-time augmentation of an 8-bit image and its label
 * map: random scale (image bilinear, labels nearest, sparse labels point
 * by point), crop with padding
 * (image: mean colour, labels: 255), colour jitter, Gaussian blur,
 * horizontal flip. Every random draw comes from one per-sample seed
 * (pixl_augment_seed(seed, epoch, index)), in a fixed order, so results
 * never depend on threads or on which options are enabled. */
#include <math.h>

#include "data/data_impl.h"

uint64_t pixl_augment_seed(uint64_t seed, int64_t epoch, int64_t index)
{
    return pixl__hash64(pixl__hash64(seed ^ 0xa0761d6478bd642fULL, (uint64_t)epoch), (uint64_t)index);
}

static inline uint8_t clamp_u8(float v)
{
    v += 0.5f;
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}
static inline float clampf(float v) { return v < 0 ? 0 : v > 255 ? 255 : v; }

/* jitter the rectangle [x0, x0+rw) x [y0, y0+rh) of an interleaved image */
static void colour_jitter(uint8_t *d, int w, int c, int x0, int y0, int rw, int rh, float bf, float cf, float sf)
{
    const int cc = c >= 3 ? 3 : 1; /* colour channels (alpha untouched) */
    double sum = 0;
    for (int y = y0; y < y0 + rh; y++)
        for (int x = x0; x < x0 + rw; x++) {
            const uint8_t *p = d + ((size_t)y * w + x) * c;
            sum += cc == 3 ? 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2] : p[0];
        }
    float m = (float)(sum / ((double)rw * rh)) * bf;
    if (m > 255) m = 255;
    for (int y = y0; y < y0 + rh; y++)
        for (int x = x0; x < x0 + rw; x++) {
            uint8_t *p = d + ((size_t)y * w + x) * c;
            float v[3];
            for (int k = 0; k < cc; k++) {
                v[k] = clampf(p[k] * bf);
                v[k] = clampf((v[k] - m) * cf + m);
            }
            if (cc == 3 && sf != 1.0f) {
                float g = 0.299f * v[0] + 0.587f * v[1] + 0.114f * v[2];
                for (int k = 0; k < 3; k++) v[k] = clampf(g + (v[k] - g) * sf);
            }
            for (int k = 0; k < cc; k++) p[k] = clamp_u8(v[k]);
        }
}

/* separable Gaussian blur of a rectangle, edges replicated within it */
static int gaussian_blur(uint8_t *d, int w, int c, int x0, int y0, int rw, int rh, float sigma)
{
    int r = (int)ceilf(3 * sigma);
    if (r < 1) return PIXL_OK;
    if (r > 64) r = 64;
    float k[129], ks = 0;
    for (int i = -r; i <= r; i++) ks += k[i + r] = expf(-0.5f * i * i / (sigma * sigma));
    for (int i = 0; i <= 2 * r; i++) k[i] /= ks;
    float *tmp = malloc(sizeof(float) * (size_t)rw * rh * c);
    if (!tmp) return pixl_set_error(PIXL_ERR_NOMEM, "out of memory blurring an image");
    for (int y = 0; y < rh; y++) /* horizontal into tmp */
        for (int x = 0; x < rw; x++)
            for (int ch = 0; ch < c; ch++) {
                float s = 0;
                for (int i = -r; i <= r; i++) {
                    int xx = x + i < 0 ? 0 : x + i >= rw ? rw - 1 : x + i;
                    s += k[i + r] * d[((size_t)(y0 + y) * w + x0 + xx) * c + ch];
                }
                tmp[((size_t)y * rw + x) * c + ch] = s;
            }
    for (int y = 0; y < rh; y++) /* vertical back */
        for (int x = 0; x < rw; x++)
            for (int ch = 0; ch < c; ch++) {
                float s = 0;
                for (int i = -r; i <= r; i++) {
                    int yy = y + i < 0 ? 0 : y + i >= rh ? rh - 1 : y + i;
                    s += k[i + r] * tmp[((size_t)yy * rw + x) * c + ch];
                }
                d[((size_t)(y0 + y) * w + x0 + x) * c + ch] = clamp_u8(s);
            }
    free(tmp);
    return PIXL_OK;
}

static int offset_of(int size, int crop, float u, int center)
{
    int slack = size > crop ? size - crop : crop - size;
    if (center) return slack / 2;
    int o = (int)(u * (slack + 1));
    return o > slack ? slack : o;
}

void pixl__hflip(pixl_image *im, int32_t *labels)
{
    const int cw = im->width, ch = im->height, c = im->channels;
    for (int y = 0; y < ch; y++) {
        uint8_t *row = im->data + (size_t)y * cw * c;
        for (int x = 0; x < cw / 2; x++)
            for (int k = 0; k < c; k++) {
                uint8_t t = row[(size_t)x * c + k];
                row[(size_t)x * c + k] = row[(size_t)(cw - 1 - x) * c + k];
                row[(size_t)(cw - 1 - x) * c + k] = t;
            }
        if (labels) {
            int32_t *lr = labels + (size_t)y * cw;
            for (int x = 0; x < cw / 2; x++) {
                int32_t t = lr[x];
                lr[x] = lr[cw - 1 - x];
                lr[cw - 1 - x] = t;
            }
        }
    }
}

int pixl__augment(const pixl_augment_opts *o, uint64_t seed, const pixl_image *img, const int32_t *labels,
                  const uint8_t *pad, pixl_image **out_img, int32_t **out_labels, int *flipped)
{
    *out_img = NULL;
    if (flipped) *flipped = 0;
    if (out_labels) *out_labels = NULL;
    if (!o || !img || !img->data || img->depth != 8)
        return pixl_set_error(PIXL_ERR_ARG, "pixl_augment: needs options and an 8-bit image");
    const int w = img->width, h = img->height, c = img->channels;
    float smin = o->scale_min > 0 ? o->scale_min : 1.0f, smax = o->scale_max > 0 ? o->scale_max : smin;
    if (smax < smin || o->crop_width < 0 || o->crop_height < 0 || o->blur_sigma_max < o->blur_sigma_min ||
        o->brightness < 0 || o->contrast < 0 || o->saturation < 0 || o->brightness > 1 || o->contrast > 1)
        return pixl_set_error(PIXL_ERR_ARG,
                              "pixl_augment: bad options (scale %g..%g, crop %dx%d, blur sigma %g..%g, jitter %g/%g/%g)",
                              (double)o->scale_min, (double)o->scale_max, o->crop_width, o->crop_height,
                              (double)o->blur_sigma_min, (double)o->blur_sigma_max, (double)o->brightness,
                              (double)o->contrast, (double)o->saturation);
    /* every draw, in a fixed order */
    uint64_t s = seed;
    float u_scale = (float)pixl__rng_uniform(&s), u_x = (float)pixl__rng_uniform(&s), u_y = (float)pixl__rng_uniform(&s);
    float u_flip = (float)pixl__rng_uniform(&s), u_b = (float)pixl__rng_uniform(&s), u_c = (float)pixl__rng_uniform(&s);
    float u_s = (float)pixl__rng_uniform(&s), u_blur = (float)pixl__rng_uniform(&s);
    float u_sigma = (float)pixl__rng_uniform(&s);

    /* 1. scale */
    float sc = smin + (smax - smin) * u_scale;
    int sw = (int)lroundf(w * sc), sh = (int)lroundf(h * sc);
    if (sw < 1) sw = 1;
    if (sh < 1) sh = 1;
    if (pixl__check_dims("(augment)", sw, sh, c, 8)) return pixl_last_status();
    const uint8_t *src = img->data;
    const int32_t *lsrc = labels;
    uint8_t *scaled = NULL;
    int32_t *lscaled = NULL;
    if (sw != w || sh != h) {
        scaled = pixl__malloc((size_t)sw * sh * c);
        if (labels) lscaled = pixl__malloc(sizeof(int32_t) * (size_t)sw * sh);
        if (!scaled || (labels && !lscaled)) {
            free(scaled), free(lscaled);
            return PIXL_ERR_NOMEM;
        }
        pixl__resize_bilinear_u8(src, w, h, c, scaled, sw, sh);
        if (labels && o->sparse_labels) pixl__resize_sparse_i32(labels, w, h, lscaled, sw, sh);
        else if (labels) pixl__resize_nearest_i32(labels, w, h, lscaled, sw, sh);
        src = scaled;
        lsrc = lscaled;
    }

    /* 2. crop / pad */
    int cw = o->crop_width ? o->crop_width : sw, ch = o->crop_height ? o->crop_height : sh;
    pixl_image *out = pixl_image_new(cw, ch, c, 8);
    int32_t *lout = labels && out_labels ? pixl__malloc(sizeof(int32_t) * (size_t)cw * ch) : NULL;
    if (!out || (labels && out_labels && !lout)) {
        free(scaled), free(lscaled), pixl_image_free(out), free(lout);
        return PIXL_ERR_NOMEM;
    }
    int ox = offset_of(sw, cw, u_x, o->center_crop), oy = offset_of(sh, ch, u_y, o->center_crop);
    int sx0 = sw >= cw ? ox : 0, dx0 = sw >= cw ? 0 : ox; /* source / destination corner */
    int sy0 = sh >= ch ? oy : 0, dy0 = sh >= ch ? 0 : oy;
    int rw = sw < cw ? sw : cw, rh = sh < ch ? sh : ch;
    uint8_t *d = out->data;
    if (rw < cw || rh < ch) {
        for (size_t p = 0; p < (size_t)cw * ch; p++)
            for (int k = 0; k < c; k++) d[p * c + k] = pad ? pad[k] : 0;
        if (lout)
            for (size_t p = 0; p < (size_t)cw * ch; p++) lout[p] = PIXL_IGNORE_LABEL;
    }
    for (int y = 0; y < rh; y++) {
        memcpy(d + ((size_t)(dy0 + y) * cw + dx0) * c, src + ((size_t)(sy0 + y) * sw + sx0) * c, (size_t)rw * c);
        if (lout)
            memcpy(lout + (size_t)(dy0 + y) * cw + dx0, lsrc + (size_t)(sy0 + y) * sw + sx0,
                   sizeof(int32_t) * (size_t)rw);
    }
    free(scaled), free(lscaled);

    /* 3. colour jitter on the image part */
    float bf = 1 + o->brightness * (2 * u_b - 1), cf = 1 + o->contrast * (2 * u_c - 1);
    float sf = 1 + o->saturation * (2 * u_s - 1);
    if (bf != 1 || cf != 1 || sf != 1) colour_jitter(d, cw, c, dx0, dy0, rw, rh, bf, cf, sf);

    /* 4. blur */
    if (o->blur_prob > 0 && u_blur < o->blur_prob) {
        float sigma = o->blur_sigma_min + (o->blur_sigma_max - o->blur_sigma_min) * u_sigma;
        if (sigma > 0 && gaussian_blur(d, cw, c, dx0, dy0, rw, rh, sigma)) {
            pixl_image_free(out), free(lout);
            return PIXL_ERR_NOMEM;
        }
    }

    /* 5. horizontal flip */
    if (o->hflip && u_flip < 0.5f) {
        pixl__hflip(out, lout);
        if (flipped) *flipped = 1;
    }
    *out_img = out;
    if (out_labels) *out_labels = lout;
    return PIXL_OK;
}

int pixl_augment(const pixl_augment_opts *o, uint64_t seed, const pixl_image *img, const int32_t *labels,
                 const float *mean, pixl_image **out_img, int32_t **out_labels)
{
    if (!out_img) return pixl_set_error(PIXL_ERR_ARG, "pixl_augment: out_img is NULL");
    if (!img || img->channels < 1 || img->channels > 4)
        return pixl_set_error(PIXL_ERR_ARG, "pixl_augment: invalid image");
    uint8_t pad[4] = {0, 0, 0, 0};
    for (int k = 0; k < img->channels && k < 3; k++) pad[k] = mean ? clamp_u8(mean[k] * 255.0f) : 0;
    return pixl__augment(o, seed, img, labels, pad, out_img, out_labels, NULL);
}
