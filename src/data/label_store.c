/* label_store.c — PixelPick's label store (pixl_data.h, LABEL STORE): the
 * labelled pixels of each image, found by id through an open-addressing
 * table and by pixel through a table per image, so adding, finding and
 * merging cost O(1) per point. Removing a point rebuilds its image's
 * table (O(points of the image)). Files, VIA import and click logs
 * (label_store_json.c, label_store_via.c, click_log.c) and the dataset
 * hook (sparse_labels.c) use the public functions only. */
#include <ctype.h>

#include "data/data_impl.h"

#define MAX_POINTS (1 << 28) /* images, and points per image: keeps the tables' sizes in 32 bits */

typedef struct {
    char *id;
    int height, width;
    pixl_label_point *pts;
    int n, cap;
    int32_t *slot;   /* pixel table: point index + 1, 0 = empty */
    uint32_t n_slot; /* a power of two, or 0 */
} ls_image;

struct pixl_label_store {
    int n_classes;
    char **names; /* n_classes names, or NULL */
    ls_image *im;
    int n, cap;
    int32_t *slot; /* id table: image index + 1, 0 = empty */
    uint32_t n_slot;
    int64_t total;
};

/* ------------------------------------------------------------ class names */

/* next letter or digit of s at or after *i, lower-cased; 0 at the end */
static int next_alnum(const char *s, size_t *i)
{
    while (s[*i] && !isalnum((unsigned char)s[*i])) (*i)++;
    return s[*i] ? tolower((unsigned char)s[(*i)++]) : 0;
}

int pixl__class_name_eq(const char *a, const char *b)
{
    size_t i = 0, j = 0;
    for (;;) {
        int ca = next_alnum(a, &i), cb = next_alnum(b, &j);
        if (ca != cb) return 0;
        if (!ca) return 1;
    }
}

int pixl__class_index(const char *name, int n, const char *const *names)
{
    for (int k = 0; k < n; k++) { /* an exact match first, then the loose one */
        char buf[32];
        if (!names) snprintf(buf, sizeof buf, "class%d", k);
        if (!strcmp(name, names ? names[k] : buf)) return k;
    }
    for (int k = 0; k < n; k++) {
        char buf[32];
        if (!names) snprintf(buf, sizeof buf, "class%d", k);
        if (pixl__class_name_eq(name, names ? names[k] : buf)) return k;
    }
    return -1;
}

void pixl__class_list(char *out, size_t len, int n, const char *const *names)
{
    size_t o = 0;
    out[0] = 0;
    for (int k = 0; k < n && o < len; k++) {
        char buf[32];
        if (!names) snprintf(buf, sizeof buf, "class%d", k);
        o += (size_t)snprintf(out + o, len - o, "%s%s", k ? ", " : "", names ? names[k] : buf);
    }
}

/* ------------------------------------------------------------ tables */

static uint64_t hash_id(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return pixl__hash64(h, 0);
}

static uint64_t hash_px(int32_t y, int32_t x) { return pixl__hash64(((uint64_t)(uint32_t)y << 32) | (uint32_t)x, 1); }

/* a power of two with room for n entries at load <= 1/2 */
static uint32_t table_size(int64_t n)
{
    uint32_t c = 16;
    while ((int64_t)c < 2 * n + 2) c <<= 1;
    return c;
}

static int find_image(const pixl_label_store *s, const char *id)
{
    if (!s->n_slot) return -1;
    uint32_t m = s->n_slot - 1;
    for (uint32_t h = (uint32_t)hash_id(id) & m; s->slot[h]; h = (h + 1) & m)
        if (!strcmp(s->im[s->slot[h] - 1].id, id)) return s->slot[h] - 1;
    return -1;
}

static int rehash_images(pixl_label_store *s, uint32_t n_slot)
{
    int32_t *t = pixl__calloc(n_slot, sizeof *t);
    if (!t) return PIXL_ERR_NOMEM;
    for (int i = 0; i < s->n; i++) {
        uint32_t h = (uint32_t)hash_id(s->im[i].id) & (n_slot - 1);
        while (t[h]) h = (h + 1) & (n_slot - 1);
        t[h] = i + 1;
    }
    free(s->slot);
    s->slot = t;
    s->n_slot = n_slot;
    return PIXL_OK;
}

static int find_px(const ls_image *im, int32_t y, int32_t x)
{
    if (!im->n_slot) return -1;
    uint32_t m = im->n_slot - 1;
    for (uint32_t h = (uint32_t)hash_px(y, x) & m; im->slot[h]; h = (h + 1) & m) {
        const pixl_label_point *p = &im->pts[im->slot[h] - 1];
        if (p->y == y && p->x == x) return im->slot[h] - 1;
    }
    return -1;
}

/* every point of im into the table t of n_slot entries (zeroed) */
static void fill_px(const ls_image *im, int32_t *t, uint32_t n_slot)
{
    for (int i = 0; i < im->n; i++) {
        uint32_t h = (uint32_t)hash_px(im->pts[i].y, im->pts[i].x) & (n_slot - 1);
        while (t[h]) h = (h + 1) & (n_slot - 1);
        t[h] = i + 1;
    }
}

static int rehash_px(ls_image *im, uint32_t n_slot)
{
    int32_t *t = pixl__calloc(n_slot, sizeof *t);
    if (!t) return PIXL_ERR_NOMEM;
    fill_px(im, t, n_slot);
    free(im->slot);
    im->slot = t;
    im->n_slot = n_slot;
    return PIXL_OK;
}

/* ------------------------------------------------------------ create, free */

static int set_names(pixl_label_store *s, const char *const *names)
{
    if (!names) return PIXL_OK;
    for (int k = 0; k < s->n_classes; k++)
        if (!names[k] || !names[k][0])
            return pixl_set_error(PIXL_ERR_ARG, "label store: class %d has no name", k);
    if (!(s->names = pixl__calloc((size_t)s->n_classes, sizeof *s->names))) return PIXL_ERR_NOMEM;
    for (int k = 0; k < s->n_classes; k++)
        if (!(s->names[k] = pixl__strdup(names[k]))) return PIXL_ERR_NOMEM;
    return PIXL_OK;
}

pixl_label_store *pixl_label_store_new(int n_classes, const char *const *class_names)
{
    if (n_classes < 1 || n_classes > 255) {
        pixl_set_error(PIXL_ERR_ARG, "label store: %d classes (1..255; 255 is the ignore label)", n_classes);
        return NULL;
    }
    pixl_label_store *s = pixl__calloc(1, sizeof *s);
    if (!s) return NULL;
    s->n_classes = n_classes;
    if (set_names(s, class_names)) {
        pixl_label_store_free(s);
        return NULL;
    }
    return s;
}

void pixl_label_store_free(pixl_label_store *s)
{
    if (!s) return;
    for (int i = 0; i < s->n; i++) free(s->im[i].id), free(s->im[i].pts), free(s->im[i].slot);
    if (s->names) pixl__free_strings(s->names, s->n_classes);
    free(s->im);
    free(s->slot);
    free(s);
}

pixl_label_store *pixl_label_store_clone(const pixl_label_store *s)
{
    if (!s) {
        pixl_set_error(PIXL_ERR_ARG, "pixl_label_store_clone: NULL store");
        return NULL;
    }
    pixl_label_store *c = pixl_label_store_new(s->n_classes, (const char *const *)s->names);
    for (int i = 0; c && i < s->n; i++) {
        const ls_image *im = &s->im[i];
        int j = pixl_label_store_add_image(c, im->id, im->height, im->width);
        ls_image *d = j >= 0 ? &c->im[j] : NULL;
        if (d && im->n) {
            d->pts = pixl__malloc(sizeof *d->pts * (size_t)im->n);
            if (d->pts) memcpy(d->pts, im->pts, sizeof *d->pts * (size_t)im->n), d->n = d->cap = im->n;
        }
        if (!d || (im->n && (!d->pts || rehash_px(d, table_size(d->n))))) {
            pixl_label_store_free(c);
            return NULL;
        }
        c->total += im->n;
    }
    return c;
}

int pixl_label_store_n_classes(const pixl_label_store *s) { return s ? s->n_classes : 0; }

const char *pixl_label_store_class_name(const pixl_label_store *s, int k)
{
    return s && s->names && k >= 0 && k < s->n_classes ? s->names[k] : NULL;
}

/* ------------------------------------------------------------ images */

int pixl_label_store_add_image(pixl_label_store *s, const char *id, int height, int width)
{
    if (!s || !id || !id[0]) return pixl_set_error(PIXL_ERR_ARG, "label store: an image needs a non-empty id");
    if (height < 1 || width < 1 || height > PIXL_IMAGE_MAX_DIM || width > PIXL_IMAGE_MAX_DIM)
        return pixl_set_error(PIXL_ERR_ARG, "image '%s': height %d, width %d (each must be 1..%d)", id, height, width,
                              PIXL_IMAGE_MAX_DIM);
    int i = find_image(s, id);
    if (i >= 0) {
        if (s->im[i].height == height && s->im[i].width == width) return i;
        return pixl_set_error(PIXL_ERR_ARG, "image '%s' is height %d, width %d in the label store, not %d, %d", id,
                              s->im[i].height, s->im[i].width, height, width);
    }
    if (s->n >= MAX_POINTS) return pixl_set_error(PIXL_ERR_NOMEM, "label store: more than %d images", MAX_POINTS);
    if (s->n == s->cap) {
        int cap = s->cap ? s->cap * 2 : 16;
        ls_image *im = realloc(s->im, sizeof *im * (size_t)cap);
        if (!im) return pixl_set_error(PIXL_ERR_NOMEM, "label store: out of memory adding image '%s'", id);
        s->im = im;
        s->cap = cap;
    }
    if (2 * ((int64_t)s->n + 1) + 2 > (int64_t)s->n_slot && rehash_images(s, table_size(2 * ((int64_t)s->n + 1))))
        return PIXL_ERR_NOMEM;
    ls_image *im = &s->im[s->n];
    memset(im, 0, sizeof *im);
    if (!(im->id = pixl__strdup(id))) return PIXL_ERR_NOMEM;
    im->height = height;
    im->width = width;
    uint32_t h = (uint32_t)hash_id(id) & (s->n_slot - 1);
    while (s->slot[h]) h = (h + 1) & (s->n_slot - 1);
    s->slot[h] = ++s->n;
    return s->n - 1;
}

int pixl_label_store_find(const pixl_label_store *s, const char *id) { return s && id ? find_image(s, id) : -1; }

int pixl_label_store_n_images(const pixl_label_store *s) { return s ? s->n : 0; }

const char *pixl_label_store_image(const pixl_label_store *s, int i, int *height, int *width, int *n_points)
{
    if (!s || i < 0 || i >= s->n) return NULL;
    if (height) *height = s->im[i].height;
    if (width) *width = s->im[i].width;
    if (n_points) *n_points = s->im[i].n;
    return s->im[i].id;
}

const pixl_label_point *pixl_label_store_points(const pixl_label_store *s, int i)
{
    return s && i >= 0 && i < s->n && s->im[i].n ? s->im[i].pts : NULL;
}

int pixl_label_store_count(const pixl_label_store *s, const char *id)
{
    int i = pixl_label_store_find(s, id);
    return i < 0 ? 0 : s->im[i].n;
}

int64_t pixl_label_store_total(const pixl_label_store *s) { return s ? s->total : 0; }

/* ------------------------------------------------------------ points */

static int check_point(const pixl_label_store *s, const ls_image *im, int y, int x, int label, int round)
{
    if (y < 0 || y >= im->height || x < 0 || x >= im->width)
        return pixl_set_error(PIXL_ERR_ARG, "image '%s': pixel (y %d, x %d) is outside the image (height %d, width %d)",
                              im->id, y, x, im->height, im->width);
    if (label == PIXL_IGNORE_LABEL)
        return pixl_set_error(PIXL_ERR_ARG, "image '%s': pixel (y %d, x %d): class %d is the ignore (void) label", im->id,
                              y, x, label);
    if (label < 0 || label >= s->n_classes)
        return pixl_set_error(PIXL_ERR_ARG, "image '%s': pixel (y %d, x %d): class %d outside [0, %d)", im->id, y, x,
                              label, s->n_classes);
    if (round < 0)
        return pixl_set_error(PIXL_ERR_ARG, "image '%s': pixel (y %d, x %d): round %d < 0", im->id, y, x, round);
    return PIXL_OK;
}

/* append a checked point to image i (the pixel is known to be free) */
static int append_point(pixl_label_store *s, ls_image *im, pixl_label_point p)
{
    if (im->n >= MAX_POINTS)
        return pixl_set_error(PIXL_ERR_NOMEM, "image '%s': more than %d points", im->id, MAX_POINTS);
    if (im->n == im->cap) {
        int cap = im->cap ? im->cap * 2 : 16;
        pixl_label_point *q = realloc(im->pts, sizeof *q * (size_t)cap);
        if (!q) return pixl_set_error(PIXL_ERR_NOMEM, "image '%s': out of memory adding a point", im->id);
        im->pts = q;
        im->cap = cap;
    }
    if (2 * ((int64_t)im->n + 1) + 2 > (int64_t)im->n_slot && rehash_px(im, table_size(2 * ((int64_t)im->n + 1))))
        return PIXL_ERR_NOMEM;
    im->pts[im->n] = p;
    uint32_t h = (uint32_t)hash_px(p.y, p.x) & (im->n_slot - 1);
    while (im->slot[h]) h = (h + 1) & (im->n_slot - 1);
    im->slot[h] = ++im->n;
    s->total++;
    return PIXL_OK;
}

static ls_image *image_of(const pixl_label_store *s, const char *id, const char *fn)
{
    if (!s || !id) {
        pixl_set_error(PIXL_ERR_ARG, "%s: NULL argument", fn);
        return NULL;
    }
    int i = find_image(s, id);
    if (i < 0) pixl_set_error(PIXL_ERR_NOT_FOUND, "%s: no image '%s' in the label store", fn, id);
    return i < 0 ? NULL : &s->im[i];
}

int pixl_label_store_add(pixl_label_store *s, const char *id, int y, int x, int label, int round)
{
    ls_image *im = image_of(s, id, "pixl_label_store_add");
    if (!im) return pixl_last_status();
    int rc = check_point(s, im, y, x, label, round);
    if (rc) return rc;
    int k = find_px(im, y, x);
    if (k >= 0)
        return pixl_set_error(PIXL_ERR_STATE,
                              "image '%s': pixel (y %d, x %d) is labelled already (class %d, round %d); remove it "
                              "first to relabel it",
                              id, y, x, im->pts[k].label, im->pts[k].round);
    return append_point(s, im, (pixl_label_point){y, x, label, round});
}

int pixl_label_store_get(const pixl_label_store *s, const char *id, int y, int x, pixl_label_point *p)
{
    if (!s || !id) return pixl_set_error(PIXL_ERR_ARG, "pixl_label_store_get: NULL argument");
    int i = find_image(s, id), k = i < 0 ? -1 : find_px(&s->im[i], y, x);
    if (k >= 0 && p) *p = s->im[i].pts[k];
    return k >= 0;
}

/* remove point k of an image, keeping the order of the others */
static int remove_at(pixl_label_store *s, ls_image *im, int k)
{
    memmove(im->pts + k, im->pts + k + 1, sizeof *im->pts * (size_t)(im->n - k - 1));
    im->n--;
    s->total--;
    memset(im->slot, 0, sizeof *im->slot * im->n_slot); /* the same table, refilled: nothing to allocate */
    fill_px(im, im->slot, im->n_slot);
    return PIXL_OK;
}

int pixl_label_store_remove(pixl_label_store *s, const char *id, int y, int x)
{
    ls_image *im = image_of(s, id, "pixl_label_store_remove");
    if (!im) return pixl_last_status();
    int k = find_px(im, y, x);
    if (k < 0) return pixl_set_error(PIXL_ERR_NOT_FOUND, "image '%s': pixel (y %d, x %d) is not labelled", id, y, x);
    return remove_at(s, im, k);
}

int pixl_label_store_undo(pixl_label_store *s, const char *id, pixl_label_point *removed)
{
    ls_image *im = image_of(s, id, "pixl_label_store_undo");
    if (!im) return pixl_last_status();
    if (!im->n) return pixl_set_error(PIXL_ERR_STATE, "image '%s' has no point to undo", id);
    if (removed) *removed = im->pts[im->n - 1];
    return remove_at(s, im, im->n - 1);
}

/* ------------------------------------------------------------ merge */

static int merge_names(pixl_label_store *dst, const pixl_label_store *src)
{
    if (dst->n_classes != src->n_classes)
        return pixl_set_error(PIXL_ERR_ARG, "merging label stores: %d classes and %d classes", dst->n_classes,
                              src->n_classes);
    if (!src->names) return PIXL_OK;
    if (!dst->names) return set_names(dst, (const char *const *)src->names);
    for (int k = 0; k < dst->n_classes; k++)
        if (!pixl__class_name_eq(dst->names[k], src->names[k]))
            return pixl_set_error(PIXL_ERR_ARG, "merging label stores: class %d is '%s' in one and '%s' in the other", k,
                                  dst->names[k], src->names[k]);
    return PIXL_OK;
}

/* a pixel of t's image im (point q) labelled p by src: returns status */
static int merge_pixel(ls_image *im, pixl_label_point *q, pixl_label_point p, pixl_label_merge rule, int64_t *conflicts)
{
    if (q->label == p.label) {
        if (p.round < q->round) q->round = p.round;
        return PIXL_OK;
    }
    (*conflicts)++;
    if (rule == PIXL_MERGE_STRICT || (rule == PIXL_MERGE_LATER_ROUND && p.round == q->round))
        return pixl_set_error(PIXL_ERR_STATE,
                              "merging label stores: image '%s', pixel (y %d, x %d) is class %d (round %d) in one and "
                              "class %d (round %d) in the other%s",
                              im->id, p.y, p.x, q->label, q->round, p.label, p.round,
                              rule == PIXL_MERGE_STRICT ? "" : ": the same round, no later label to prefer");
    if (rule == PIXL_MERGE_OVERWRITE || p.round > q->round) *q = p;
    return PIXL_OK;
}

static int merge_into(pixl_label_store *t, const pixl_label_store *src, pixl_label_merge rule, int64_t *added,
                      int64_t *conflicts)
{
    int rc = merge_names(t, src);
    for (int i = 0; !rc && i < src->n; i++) {
        const ls_image *si = &src->im[i];
        int j = pixl_label_store_add_image(t, si->id, si->height, si->width);
        if (j < 0) return j;
        ls_image *im = &t->im[j];
        for (int k = 0; !rc && k < si->n; k++) {
            int q = find_px(im, si->pts[k].y, si->pts[k].x);
            if (q >= 0) {
                rc = merge_pixel(im, &im->pts[q], si->pts[k], rule, conflicts);
            } else {
                rc = append_point(t, im, si->pts[k]);
                (*added)++;
            }
        }
    }
    return rc;
}

int pixl_label_store_merge(pixl_label_store *dst, const pixl_label_store *src, pixl_label_merge rule,
                           int64_t *n_added, int64_t *n_conflicts)
{
    if (!dst || !src) return pixl_set_error(PIXL_ERR_ARG, "pixl_label_store_merge: NULL store");
    if (rule != PIXL_MERGE_LATER_ROUND && rule != PIXL_MERGE_STRICT && rule != PIXL_MERGE_OVERWRITE)
        return pixl_set_error(PIXL_ERR_ARG, "pixl_label_store_merge: unknown rule %d", (int)rule);
    /* into a copy, swapped in at the end: an error leaves dst as it was */
    pixl_label_store *t = pixl_label_store_clone(dst);
    if (!t) return pixl_last_status();
    int64_t added = 0, conflicts = 0;
    int rc = merge_into(t, src, rule, &added, &conflicts);
    if (!rc) {
        pixl_label_store tmp = *dst;
        *dst = *t;
        *t = tmp;
        if (n_added) *n_added = added;
        if (n_conflicts) *n_conflicts = conflicts;
    }
    pixl_label_store_free(t);
    return rc;
}

/* ------------------------------------------------------------ sparse maps */

int pixl_label_store_apply(const pixl_label_store *s, const char *id, int height, int width, int32_t *labels,
                           int64_t *n_disagree)
{
    if (n_disagree) *n_disagree = 0;
    if (!s || !id || !labels || height < 1 || width < 1)
        return pixl_set_error(PIXL_ERR_ARG, "pixl_label_store_apply: bad arguments (%dx%d)", width, height);
    int i = find_image(s, id);
    const ls_image *im = i >= 0 ? &s->im[i] : NULL;
    if (im && (im->height != height || im->width != width))
        return pixl_set_error(PIXL_ERR_SHAPE,
                              "image '%s' is height %d, width %d in the label store but its label map is height %d, "
                              "width %d",
                              id, im->height, im->width, height, width);
    int64_t bad = 0;
    for (int k = 0; im && k < im->n; k++) bad += labels[(size_t)im->pts[k].y * width + im->pts[k].x] != im->pts[k].label;
    for (size_t p = 0; p < (size_t)height * width; p++) labels[p] = PIXL_IGNORE_LABEL;
    for (int k = 0; im && k < im->n; k++) labels[(size_t)im->pts[k].y * width + im->pts[k].x] = im->pts[k].label;
    if (n_disagree) *n_disagree = bad;
    return im ? im->n : 0;
}
