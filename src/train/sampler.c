/* sampler.c — PixelNet's pixel sampling: which pixels of a batch of label
 * maps get a loss (pixl_sample_pixels, contract in pixl_train.h).
 *
 * Each image is sampled from its own counter-based stream, key =
 * hash(seed, image index), so images run in parallel and the result does not
 * depend on the thread count. A group (the valid pixels of the image, the
 * pixels of one class, the positives or the negatives) is listed in raster
 * order; k pixels are drawn from a group of m as floor(k/m) full copies of
 * the list (only when k > m: PixelNet's tiling of the candidate list) and
 * then k mod m distinct pixels by a partial Fisher-Yates shuffle whose j-th
 * swap partner is j + hash(group key, j) mod (m - j). */
#include "pixl_impl.h"

static inline int valid_label(const pixl_sampler_opts *o, int32_t l)
{
    return o->n_classes > 0 ? (l >= 0 && l < o->n_classes) : (l >= 0 && l != PIXL_IGNORE_LABEL);
}

/* k picks from list (m entries, shuffled in place) into out */
static void draw(int32_t *list, int64_t m, int64_t k, uint64_t key, int32_t *out)
{
    int64_t o = 0;
    for (int64_t rep = 0; rep < k / m; rep++)
        for (int64_t j = 0; j < m; j++) out[o++] = list[j];
    const int64_t rem = k % m;
    for (int64_t j = 0; j < rem; j++) {
        int64_t r = j + (int64_t)(pixl__hash64(key, (uint64_t)j) % (uint64_t)(m - j));
        int32_t t = list[j];
        list[j] = list[r];
        list[r] = t;
        out[o++] = list[j];
    }
}

/* sample image i: fills k pixel indices (y*w+x) into idx; returns the count of
 * valid picks (k, or 0 for an image without valid pixels), -1 on no memory */
static int64_t sample_one(const pixl_sampler_opts *o, uint64_t key, const int32_t *lab, int64_t hw, int64_t k,
                          int32_t *idx)
{
    int32_t *list = pixl__malloc((size_t)(hw ? hw : 1) * sizeof(int32_t));
    if (!list) return -1;
    int64_t m = 0, ret = k;
    if (o->kind == PIXL_SAMPLE_ALL) {
        m = 0;
        for (int64_t q = 0; q < hw; q++) {
            idx[q] = (int32_t)q;
            m += valid_label(o, lab[q]);
        }
        ret = m; /* rows on valid pixels; the others are labelled empty_label */
    } else if (o->kind == PIXL_SAMPLE_UNIFORM) {
        for (int64_t q = 0; q < hw; q++)
            if (valid_label(o, lab[q])) list[m++] = (int32_t)q;
        if (m) draw(list, m, k, pixl__hash64(key, 0), idx);
        else ret = 0;
    } else if (o->kind == PIXL_SAMPLE_EDGE_BALANCED) {
        int64_t np = 0;
        for (int64_t q = 0; q < hw; q++) /* positives from the front, negatives from the back */
            if (valid_label(o, lab[q]) && lab[q] > 0) list[np++] = (int32_t)q;
        int64_t nn = 0;
        for (int64_t q = hw - 1; q >= 0; q--)
            if (valid_label(o, lab[q]) && lab[q] == 0) list[hw - 1 - nn++] = (int32_t)q;
        for (int64_t a = hw - nn, b = hw - 1; a < b; a++, b--) { /* negatives back to raster order */
            int32_t t = list[a];
            list[a] = list[b];
            list[b] = t;
        }
        float f = o->pos_fraction > 0 ? o->pos_fraction : 0.5f;
        int64_t kp = (int64_t)((double)k * f + 0.5);
        if (kp > k) kp = k;
        if (!np) kp = 0;
        if (!nn) kp = k;
        if (!np && !nn) ret = 0;
        else {
            if (kp) draw(list, np, kp, pixl__hash64(key, 1), idx);
            if (k - kp) draw(list + hw - nn, nn, k - kp, pixl__hash64(key, 2), idx + kp);
        }
    } else { /* class balanced: a stable counting sort by class, then equal shares */
        int32_t maxl = -1;
        for (int64_t q = 0; q < hw; q++)
            if (valid_label(o, lab[q]) && lab[q] > maxl) maxl = lab[q];
        if (maxl < 0) ret = 0;
        else {
            int64_t *start = pixl__calloc((size_t)maxl + 2, sizeof(int64_t));
            if (!start) {
                free(list);
                return -1;
            }
            for (int64_t q = 0; q < hw; q++)
                if (valid_label(o, lab[q])) start[lab[q] + 1]++;
            int64_t present = 0;
            for (int32_t c = 0; c <= maxl; c++) present += start[c + 1] > 0;
            for (int32_t c = 0; c <= maxl; c++) start[c + 1] += start[c];
            int64_t *fill = pixl__malloc(((size_t)maxl + 1) * sizeof(int64_t));
            if (!fill) {
                free(start);
                free(list);
                return -1;
            }
            memcpy(fill, start, ((size_t)maxl + 1) * sizeof(int64_t));
            for (int64_t q = 0; q < hw; q++)
                if (valid_label(o, lab[q])) list[fill[lab[q]]++] = (int32_t)q;
            free(fill);
            int64_t j = 0, o_ = 0;
            for (int32_t c = 0; c <= maxl; c++) {
                int64_t mc = start[c + 1] - start[c];
                if (!mc) continue;
                int64_t kc = k / present + (j < k % present);
                if (kc) draw(list + start[c], mc, kc, pixl__hash64(key, 16 + (uint64_t)c), idx + o_);
                o_ += kc;
                j++;
            }
            free(start);
        }
    }
    free(list);
    return ret;
}

int64_t pixl_sample_pixels(const pixl_sampler_opts *o, uint64_t seed, const int32_t *labels, int n, int h, int w,
                           int32_t *pixels, int32_t *sampled_labels)
{
    if (!o || !labels || !pixels || n < 0 || h < 1 || w < 1)
        return pixl_set_error(PIXL_ERR_ARG, "pixl_sample_pixels: NULL argument or empty label maps (%d x %dx%d)", n, h,
                              w);
    if (o->per_image < 1)
        return pixl_set_error(PIXL_ERR_ARG, "pixl_sample_pixels: per_image is %d, must be > 0", o->per_image);
    if (o->kind != PIXL_SAMPLE_UNIFORM && o->kind != PIXL_SAMPLE_CLASS_BALANCED && o->kind != PIXL_SAMPLE_EDGE_BALANCED &&
        o->kind != PIXL_SAMPLE_ALL)
        return pixl_set_error(PIXL_ERR_ARG, "pixl_sample_pixels: unknown sampler kind %d", (int)o->kind);
    if (o->kind == PIXL_SAMPLE_ALL && (int64_t)o->per_image != (int64_t)h * w)
        return pixl_set_error(PIXL_ERR_ARG, "pixl_sample_pixels: ALL takes every pixel: per_image %d, label maps %dx%d",
                              o->per_image, h, w);
    if (o->kind == PIXL_SAMPLE_EDGE_BALANCED && !(o->pos_fraction >= 0 && o->pos_fraction <= 1))
        return pixl_set_error(PIXL_ERR_ARG, "pixl_sample_pixels: pos_fraction %g is outside [0, 1]",
                              (double)o->pos_fraction);
    if ((int64_t)h * w > INT32_MAX)
        return pixl_set_error(PIXL_ERR_ARG, "pixl_sample_pixels: label maps of %dx%d are too large", h, w);
    const int64_t hw = (int64_t)h * w, k = o->per_image;
    const int32_t empty = o->empty_label ? o->empty_label : PIXL_IGNORE_LABEL;
    int64_t total = 0;
    int failed = 0;
#pragma omp parallel for schedule(dynamic, 1) num_threads(pixl_num_threads()) reduction(+ : total, failed) if (n > 1 && (int64_t)n * hw > 65536)
    for (int i = 0; i < n; i++) {
        int32_t *idx = pixl__malloc((size_t)k * sizeof(int32_t));
        const int32_t *lab = labels + (int64_t)i * hw;
        int64_t got = idx ? sample_one(o, pixl__hash64(seed, (uint64_t)i), lab, hw, k, idx) : -1;
        if (got < 0) {
            failed++;
            got = 0;
        }
        int32_t *row = pixels + (int64_t)i * k * 3;
        for (int64_t j = 0; j < k; j++) {
            int32_t q = got ? idx[j] : 0;
            row[3 * j] = i;
            row[3 * j + 1] = (int32_t)(q / w);
            row[3 * j + 2] = (int32_t)(q % w);
            if (sampled_labels)
                sampled_labels[(int64_t)i * k + j] = got && valid_label(o, lab[q]) ? lab[q] : empty;
        }
        total += got;
        free(idx);
    }
    if (failed) return pixl_set_error(PIXL_ERR_NOMEM, "pixl_sample_pixels: out of memory");
    return total;
}
