/* dataset_files.c — samples from list files ("image label" lines, VOC id
 * lists) and from folders of images paired with label maps; the kinds
 * "list" and "folder". */
#include <ctype.h>
#include <strings.h>

#include "data/dataset_impl.h"

/* file stem: last path component without its extension */
static char *stem_of(const char *path)
{
    const char *s = strrchr(path, '/');
    s = s ? s + 1 : path;
    const char *dot = strrchr(s, '.');
    size_t n = dot && dot != s ? (size_t)(dot - s) : strlen(s);
    char *r = pixl__malloc(n + 1);
    if (!r) return NULL;
    memcpy(r, s, n);
    r[n] = 0;
    return r;
}

/* take ownership of image/label (label may be NULL) */
static int add_sample(pixl_dataset *ds, char *image, char *label)
{
    if (!image || (ds->has_labels && !label)) {
        free(image), free(label);
        return PIXL_ERR_NOMEM;
    }
    if (ds->n == ds->cap) {
        if (ds->cap > (1 << 28)) {
            free(image), free(label);
            return pixl_set_error(PIXL_ERR_ARG, "%s dataset: too many samples", ds->kind);
        }
        int cap = ds->cap ? ds->cap * 2 : 256;
        char **a = realloc(ds->images, sizeof(char *) * (size_t)cap);
        if (a) ds->images = a;
        char **b = realloc(ds->labels, sizeof(char *) * (size_t)cap);
        if (b) ds->labels = b;
        char **c = realloc(ds->names, sizeof(char *) * (size_t)cap);
        if (c) ds->names = c;
        if (!a || !b || !c) {
            free(image), free(label);
            return pixl_set_error(PIXL_ERR_NOMEM, "out of memory listing the %s dataset", ds->kind);
        }
        ds->cap = cap;
    }
    char *name = stem_of(image);
    if (!name) {
        free(image), free(label);
        return PIXL_ERR_NOMEM;
    }
    ds->images[ds->n] = image;
    ds->labels[ds->n] = label;
    ds->names[ds->n] = name;
    ds->n++;
    return PIXL_OK;
}

static int has_image_ext(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot && (!strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg"));
}

/* ------------------------------------------------------------ list files */

/* Resolve a path token of a list file to an existing file; NULL + error. */
static char *resolve_entry(const char *root, const char *tok, const char *strip, int try_exts, const char *what,
                           const char *list, int line)
{
    char *cand = NULL;
    size_t ls = strip ? strlen(strip) : 0;
    if (ls && !strncmp(tok, strip, ls)) {
        const char *rel = tok + ls;
        while (*rel == '/') rel++;
        cand = pixl__join(root, rel);
    } else if (tok[0] == '/' && !pixl__is_file(tok)) {
        /* SegNet-style absolute path: keep the last two components */
        const char *e = tok + strlen(tok), *p = e;
        int slashes = 0;
        while (p > tok) {
            if (p[-1] == '/' && ++slashes == 2) break;
            p--;
        }
        cand = pixl__join(root, p);
    } else {
        cand = pixl__join(root, tok);
    }
    if (!cand) return NULL;
    if (pixl__is_file(cand)) return cand;
    if (try_exts) {
        static const char *const exts[] = {".jpg", ".png", ".jpeg", ".JPG", ".PNG"};
        char *dot = strrchr(cand, '.'), *slash = strrchr(cand, '/');
        if (dot && (!slash || dot > slash)) {
            size_t base = (size_t)(dot - cand);
            char *alt = pixl__malloc(base + 8);
            if (!alt) {
                free(cand);
                return NULL;
            }
            for (size_t k = 0; k < sizeof exts / sizeof exts[0]; k++) {
                memcpy(alt, cand, base);
                strcpy(alt + base, exts[k]);
                if (pixl__is_file(alt)) {
                    free(cand);
                    return alt;
                }
            }
            free(alt);
        }
    }
    pixl_set_error(PIXL_ERR_NOT_FOUND, "list '%s' line %d: %s file '%s' not found (entry '%s')", list, line, what,
                   cand, tok);
    free(cand);
    return NULL;
}

int pixl__dataset_parse_list(pixl_dataset *ds, const char *root, const char *list_path, const char *strip,
                             int voc_mode, const char *image_dir, const char *label_dir)
{
    unsigned char *buf;
    size_t len;
    int rc = pixl__read_file(list_path, "list", (size_t)1 << 30, &buf, &len);
    if (rc) return rc;
    char *s = (char *)buf;
    int line = 0;
    while (*s) {
        char *nl = strchr(s, '\n');
        if (nl) *nl = 0;
        line++;
        char *tok[3] = {0};
        int nt = 0;
        for (char *p = s; *p;) {
            while (*p && isspace((unsigned char)*p)) p++;
            if (!*p || *p == '#') break;
            if (nt == 3) break;
            tok[nt++] = p;
            while (*p && !isspace((unsigned char)*p)) p++;
            if (*p) *p++ = 0;
        }
        if (nt > 2) {
            rc = pixl_set_error(PIXL_ERR_FORMAT, "list '%s' line %d: expected 'image label', got more fields",
                                list_path, line);
            break;
        }
        if (nt > 0) {
            char *img = NULL, *lab = NULL;
            if (nt == 1 && voc_mode) {
                char rel[4096];
                snprintf(rel, sizeof rel, "%s/%s.jpg", image_dir, tok[0]);
                img = resolve_entry(root, rel, NULL, 1, "image", list_path, line);
                if (img && ds->has_labels) {
                    snprintf(rel, sizeof rel, "%s/%s.png", label_dir, tok[0]);
                    lab = resolve_entry(root, rel, NULL, 0, "label", list_path, line);
                }
            } else if (nt == 1 && ds->has_labels) {
                rc = pixl_set_error(PIXL_ERR_FORMAT, "list '%s' line %d: expected 'image label', got one field",
                                    list_path, line);
                break;
            } else {
                img = resolve_entry(root, tok[0], strip, 1, "image", list_path, line);
                if (img && ds->has_labels) lab = resolve_entry(root, tok[1], strip, 0, "label", list_path, line);
            }
            if (!img || (ds->has_labels && !lab)) {
                free(img), free(lab);
                rc = pixl_last_status() ? pixl_last_status() : PIXL_ERR_NOMEM;
                break;
            }
            if ((rc = add_sample(ds, img, lab))) break;
        }
        if (!nl) break;
        s = nl + 1;
    }
    free(buf);
    if (!rc && ds->n == 0) rc = pixl_set_error(PIXL_ERR_FORMAT, "list '%s': no samples", list_path);
    return rc;
}

/* --------------------------------------------------------- folder walking */

int pixl__dataset_pair_folder(pixl_dataset *ds, const char *dir, const char *ldir, const char *suffix,
                              const char *strip_tail)
{
    char **names;
    int n = pixl__list_dir(dir, 0, &names);
    if (n < 0) return n;
    int rc = PIXL_OK;
    for (int i = 0; i < n && !rc; i++) {
        if (!has_image_ext(names[i])) continue;
        char *img = pixl__join(dir, names[i]), *lab = NULL;
        if (!img) {
            rc = PIXL_ERR_NOMEM;
            break;
        }
        if (ds->has_labels) {
            char *st = stem_of(names[i]);
            if (!st) {
                free(img);
                rc = PIXL_ERR_NOMEM;
                break;
            }
            size_t ls = strlen(st), lt = strip_tail ? strlen(strip_tail) : 0;
            if (lt && ls >= lt && !strcmp(st + ls - lt, strip_tail)) st[ls - lt] = 0;
            char file[4096];
            snprintf(file, sizeof file, "%s%s%s", st, suffix ? suffix : "", ds->task == PIXL_TASK_EDGES ? ".mat" : ".png");
            free(st);
            lab = pixl__join(ldir, file);
            if (lab && !pixl__is_file(lab)) {
                rc = pixl_set_error(PIXL_ERR_NOT_FOUND, "%s dataset: label file '%s' for image '%s' not found",
                                    ds->kind, lab, img);
                free(img), free(lab);
                break;
            }
        }
        rc = add_sample(ds, img, lab);
    }
    pixl__free_strings(names, n);
    return rc;
}

/* --------------------------------------------------------------- kinds */

int pixl__dataset_open_list(pixl_dataset *ds, const pixl_dataset_opts *o, const char *split)
{
    char fname[4096];
    if (!o->root) return pixl_set_error(PIXL_ERR_ARG, "%s dataset: root folder not set", ds->kind);
    if (!pixl__is_dir(o->root))
        return pixl_set_error(PIXL_ERR_NOT_FOUND, "%s dataset: root folder '%s' not found", ds->kind, o->root);
    if (o->list) snprintf(fname, sizeof fname, "%s", o->list);
    else snprintf(fname, sizeof fname, "%s.txt", split);
    char *lp = pixl__join(o->root, fname);
    if (!lp) return PIXL_ERR_NOMEM;
    int rc = pixl__is_file(lp) ? pixl__dataset_parse_list(ds, o->root, lp, o->strip_prefix, 0, NULL, NULL)
                               : pixl_set_error(PIXL_ERR_NOT_FOUND, "%s dataset: list file '%s' not found", ds->kind, lp);
    free(lp);
    return rc;
}

static int open_folder(pixl_dataset *ds, const pixl_dataset_opts *o)
{
    if (!o->root) return pixl_set_error(PIXL_ERR_ARG, "folder dataset: root folder not set");
    char *base = NULL;
    if (o->split) {
        base = pixl__join(o->root, o->split);
        if (base && !pixl__is_dir(base)) free(base), base = NULL;
    }
    if (!base) base = pixl__strdup(o->root);
    char *idir = base ? pixl__join(base, o->image_dir ? o->image_dir : "images") : NULL;
    char *ldir = base ? pixl__join(base, o->label_dir ? o->label_dir : "labels") : NULL;
    int rc = PIXL_OK;
    if (!idir || !ldir) rc = PIXL_ERR_NOMEM;
    else if (!pixl__is_dir(idir)) rc = pixl_set_error(PIXL_ERR_NOT_FOUND, "folder dataset: image folder '%s' not found", idir);
    else if (ds->has_labels && !pixl__is_dir(ldir))
        rc = pixl_set_error(PIXL_ERR_NOT_FOUND, "folder dataset: label folder '%s' not found", ldir);
    else rc = pixl__dataset_pair_folder(ds, idir, ldir, o->label_suffix, NULL);
    if (!rc && ds->n == 0) rc = pixl_set_error(PIXL_ERR_NOT_FOUND, "folder dataset: no images in '%s'", idir);
    free(base), free(idir), free(ldir);
    return rc;
}

/* an image folder and a label folder under root (ade20k, bsds500) */
int pixl__dataset_open_pair(pixl_dataset *ds, const char *root, const char *image_rel, const char *label_rel,
                            const char *label_what)
{
    if (!root) return pixl_set_error(PIXL_ERR_ARG, "%s dataset: root folder not set", ds->kind);
    char *idir = pixl__join(root, image_rel), *ldir = pixl__join(root, label_rel);
    int rc;
    if (!idir || !ldir) rc = PIXL_ERR_NOMEM;
    else if (!pixl__is_dir(idir))
        rc = pixl_set_error(PIXL_ERR_NOT_FOUND, "%s dataset: image folder '%s' not found", ds->kind, idir);
    else if (!pixl__is_dir(ldir))
        rc = pixl_set_error(PIXL_ERR_NOT_FOUND, "%s dataset: %s folder '%s' not found", ds->kind, label_what, ldir);
    else rc = pixl__dataset_pair_folder(ds, idir, ldir, "", NULL);
    if (!rc && ds->n == 0) rc = pixl_set_error(PIXL_ERR_NOT_FOUND, "%s dataset: no images in '%s'", ds->kind, idir);
    free(idir), free(ldir);
    return rc;
}

/* classes from o->n_classes or o->class_names; labels unless o->unlabeled */
static int user_classes(pixl_dataset *ds, const pixl_dataset_opts *o)
{
    ds->has_labels = !o->unlabeled;
    ds->map = o->reduce_zero_label ? PIXL__MAP_REDUCE_ZERO : PIXL__MAP_RANGE;
    int k = o->n_classes;
    if (k <= 0 && o->class_names)
        while (o->class_names[k]) k++;
    if (k <= 0) return pixl_set_error(PIXL_ERR_ARG, "%s dataset: n_classes (or class_names) not set", ds->kind);
    return pixl__dataset_set_classes(ds, k, o->class_names, o->colours);
}

static int open_list(pixl_dataset *ds, const pixl_dataset_opts *o, const char *split)
{
    int rc = user_classes(ds, o);
    return rc ? rc : pixl__dataset_open_list(ds, o, split);
}

static int open_folder_kind(pixl_dataset *ds, const pixl_dataset_opts *o, const char *split)
{
    int rc = user_classes(ds, o);
    return rc ? rc : open_folder(ds, o);
}

const pixl__dataset_kind pixl__dataset_list = {"list", open_list};
const pixl__dataset_kind pixl__dataset_folder = {"folder", open_folder_kind};
