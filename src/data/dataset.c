/* dataset.c — datasets: sample lists of the kinds list, folder, camvid, voc,
 * cityscapes, ade20k, bsds500, synthetic and synthetic_normals; their class names, colours, label
 * mappings into [0, K) + 255 and normalisation statistics; thread-safe
 * sample decoding (pixl_dataset_load). */
#include <ctype.h>
#include <math.h>
#include <strings.h>

#include "data/data_impl.h"

enum { MAP_RANGE = 0, MAP_REDUCE_ZERO, MAP_LUT, MAP_NONE };

struct pixl_dataset {
    char kind[32];
    int n, cap;
    char **images, **labels, **names; /* full paths (labels NULL when unlabeled), stems */
    int has_labels;
    int n_classes;
    char **class_names;
    uint8_t *colours;
    float mean[3], std[3];
    int map;              /* MAP_* */
    int16_t lut[256];     /* MAP_LUT: raw 0..255 -> label; larger raw values -> 255 */
    /* synthetic */
    int synth_w, synth_h;
    uint64_t synth_seed;
    int task;             /* PIXL_TASK_* */
    float edge_consensus; /* bsds500 */
};

/* ----------------------------------------------------------- class tables */

static const char *const camvid_names[11] = {"Sky",        "Building", "Pole", "Road",       "Pavement", "Tree",
                                             "SignSymbol", "Fence",    "Car",  "Pedestrian", "Bicyclist"};
static const uint8_t camvid_colours[33] = {128, 128, 128, 128, 0,   0,   192, 192, 128, 128, 64,
                                           128, 60,  40,  222, 128, 128, 0,   192, 128, 128, 64,
                                           64,  128, 64,  0,   128, 64,  64,  0,   0,   128, 192};

static const char *const voc_names[21] = {"background", "aeroplane", "bicycle", "bird",  "boat",
                                          "bottle",     "bus",       "car",     "cat",   "chair",
                                          "cow",        "diningtable", "dog",   "horse", "motorbike",
                                          "person",     "pottedplant", "sheep", "sofa",  "train",
                                          "tvmonitor"};

static const char *const cityscapes_names[19] = {
    "road",       "sidewalk", "building", "wall",   "fence", "pole",  "traffic light",
    "traffic sign", "vegetation", "terrain", "sky", "person", "rider", "car",
    "truck",      "bus",      "train",    "motorcycle", "bicycle"};
static const uint8_t cityscapes_colours[57] = {
    128, 64,  128, 244, 35,  232, 70,  70,  70,  102, 102, 156, 190, 153, 153, 153, 153, 153, 250,
    170, 30,  220, 220, 0,   107, 142, 35,  152, 251, 152, 70,  130, 180, 220, 20,  60,  255, 0,
    0,   0,   0,   142, 0,   0,   70,  0,   60,  100, 0,   80,  100, 0,   0,   230, 119, 11,  32};
/* labelId (0..33) -> trainId, 255 = ignored */
static const uint8_t cityscapes_train_id[34] = {255, 255, 255, 255, 255, 255, 255, 0,   1,   255, 255, 2,
                                                3,   4,   255, 255, 255, 5,   255, 6,   7,   8,   9,   10,
                                                11,  12,  13,  14,  15,  255, 255, 16,  17,  18};

static const char *const ade_names[] = {
    "wall", "building", "sky", "floor", "tree", "ceiling", "road", "bed", "windowpane", "grass", "cabinet",
    "sidewalk", "person", "earth", "door", "table", "mountain", "plant", "curtain", "chair", "car", "water",
    "painting", "sofa", "shelf", "house", "sea", "mirror", "rug", "field", "armchair", "seat", "fence", "desk",
    "rock", "wardrobe", "lamp", "bathtub", "railing", "cushion", "base", "box", "column", "signboard",
    "chest of drawers", "counter", "sand", "sink", "skyscraper", "fireplace", "refrigerator", "grandstand",
    "path", "stairs", "runway", "case", "pool table", "pillow", "screen door", "stairway", "river", "bridge",
    "bookcase", "blind", "coffee table", "toilet", "flower", "book", "hill", "bench", "countertop", "stove",
    "palm", "kitchen island", "computer", "swivel chair", "boat", "bar", "arcade machine", "hovel", "bus",
    "towel", "light", "truck", "tower", "chandelier", "awning", "streetlight", "booth", "television receiver",
    "airplane", "dirt track", "apparel", "pole", "land", "bannister", "escalator", "ottoman", "bottle",
    "buffet", "poster", "stage", "van", "ship", "fountain", "conveyer belt", "canopy", "washer", "plaything",
    "swimming pool", "stool", "barrel", "basket", "waterfall", "tent", "bag", "minibike", "cradle", "oven",
    "ball", "food", "step", "tank", "trade name", "microwave", "pot", "animal", "bicycle", "lake", "dishwasher",
    "screen", "blanket", "sculpture", "hood", "sconce", "vase", "traffic light", "tray", "ashcan", "fan", "pier",
    "crt screen", "plate", "monitor", "bulletin board", "shower", "radiator", "glass", "clock", "flag"};
_Static_assert(sizeof ade_names / sizeof ade_names[0] == 150, "ADE20K has 150 classes");

static const float imagenet_mean[3] = {0.485f, 0.456f, 0.406f}, imagenet_std[3] = {0.229f, 0.224f, 0.225f};
static const float camvid_mean[3] = {0.4119f, 0.4251f, 0.4327f}, camvid_std[3] = {0.2741f, 0.2851f, 0.2828f};

/* ---------------------------------------------------------------- basics */

void pixl_dataset_free(pixl_dataset *ds)
{
    if (!ds) return;
    if (ds->images)
        for (int i = 0; i < ds->n; i++) {
            free(ds->images[i]);
            free(ds->labels[i]);
            free(ds->names[i]);
        }
    free(ds->images), free(ds->labels), free(ds->names);
    pixl__free_strings(ds->class_names, ds->n_classes);
    free(ds->colours);
    free(ds);
}

static int set_classes(pixl_dataset *ds, int k, const char *const *names, const uint8_t *colours)
{
    if (k < 1 || k > 255)
        return pixl_set_error(PIXL_ERR_ARG, "%s dataset: %d classes (1..255; 255 is the ignore label)", ds->kind, k);
    ds->n_classes = k;
    ds->class_names = pixl_calloc((size_t)k, sizeof(char *));
    ds->colours = pixl_malloc((size_t)k * 3);
    if (!ds->class_names || !ds->colours) return PIXL_ERR_NOMEM;
    if (!colours) pixl_voc_colours(k, ds->colours);
    for (int i = 0; i < k; i++) {
        char buf[32];
        snprintf(buf, sizeof buf, "class%d", i);
        if (!(ds->class_names[i] = pixl__strdup(names && names[i] ? names[i] : buf))) return PIXL_ERR_NOMEM;
        if (colours) memcpy(ds->colours + 3 * i, colours + 3 * i, 3);
    }
    return PIXL_OK;
}

/* file stem: last path component without its extension */
static char *stem_of(const char *path)
{
    const char *s = strrchr(path, '/');
    s = s ? s + 1 : path;
    const char *dot = strrchr(s, '.');
    size_t n = dot && dot != s ? (size_t)(dot - s) : strlen(s);
    char *r = pixl_malloc(n + 1);
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
            char *alt = pixl_malloc(base + 8);
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

/* voc_mode: a single token is an id (JPEGImages/id.jpg + label_dir/id.png). */
static int parse_list(pixl_dataset *ds, const char *root, const char *list_path, const char *strip, int voc_mode,
                      const char *image_dir, const char *label_dir)
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

/* images of dir paired with labels in ldir: <stem><suffix>.png */
static int pair_folder(pixl_dataset *ds, const char *dir, const char *ldir, const char *suffix, const char *strip_tail)
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

/* ---------------------------------------------------------------- kinds */

static int open_list_kind(pixl_dataset *ds, const pixl_dataset_opts *o, const char *split)
{
    char fname[4096];
    if (!o->root) return pixl_set_error(PIXL_ERR_ARG, "%s dataset: root folder not set", ds->kind);
    if (!pixl__is_dir(o->root))
        return pixl_set_error(PIXL_ERR_NOT_FOUND, "%s dataset: root folder '%s' not found", ds->kind, o->root);
    if (o->list) snprintf(fname, sizeof fname, "%s", o->list);
    else snprintf(fname, sizeof fname, "%s.txt", split);
    char *lp = pixl__join(o->root, fname);
    if (!lp) return PIXL_ERR_NOMEM;
    int rc = pixl__is_file(lp) ? parse_list(ds, o->root, lp, o->strip_prefix, 0, NULL, NULL)
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
    else rc = pair_folder(ds, idir, ldir, o->label_suffix, NULL);
    if (!rc && ds->n == 0) rc = pixl_set_error(PIXL_ERR_NOT_FOUND, "folder dataset: no images in '%s'", idir);
    free(base), free(idir), free(ldir);
    return rc;
}

static int open_voc(pixl_dataset *ds, const pixl_dataset_opts *o, const char *split)
{
    if (!o->root) return pixl_set_error(PIXL_ERR_ARG, "voc dataset: root folder not set");
    const char *image_dir = o->image_dir ? o->image_dir : "JPEGImages";
    /* accept the VOC2012 folder itself or a folder holding VOCdevkit/VOC2012 */
    static const char *const subs[] = {"", "VOC2012", "VOCdevkit/VOC2012"};
    char *root = NULL;
    for (size_t k = 0; k < 3 && !root; k++) {
        char *r = k ? pixl__join(o->root, subs[k]) : pixl__strdup(o->root);
        char *j = r ? pixl__join(r, image_dir) : NULL;
        if (j && pixl__is_dir(j)) root = r;
        else free(r);
        free(j);
    }
    if (!root)
        return pixl_set_error(PIXL_ERR_NOT_FOUND, "voc dataset: no '%s' folder under '%s' (or VOCdevkit/VOC2012)",
                              image_dir, o->root);
    const char *label_dir = o->label_dir;
    if (!label_dir) {
        int aug = strstr(split, "aug") != NULL;
        char *a = pixl__join(root, "SegmentationClass"), *b = pixl__join(root, "SegmentationClassAug");
        if (aug) label_dir = pixl__is_dir(b) || !pixl__is_dir(a) ? "SegmentationClassAug" : "SegmentationClass";
        else label_dir = pixl__is_dir(a) || !pixl__is_dir(b) ? "SegmentationClass" : "SegmentationClassAug";
        free(a), free(b);
    }
    char *lp = NULL;
    if (o->list) {
        lp = pixl__join(root, o->list);
    } else {
        const char *dirs[] = {"ImageSets/Segmentation", "ImageSets/SegmentationAug", ""};
        for (size_t k = 0; k < 3 && !lp; k++) {
            char name[1024];
            snprintf(name, sizeof name, "%s%s%s.txt", dirs[k], dirs[k][0] ? "/" : "", split);
            char *c = pixl__join(root, name);
            if (c && pixl__is_file(c)) lp = c;
            else free(c);
        }
        if (!lp) {
            int rc = pixl_set_error(PIXL_ERR_NOT_FOUND,
                                    "voc dataset: no list for split '%s' (ImageSets/Segmentation/%s.txt) under '%s'",
                                    split, split, root);
            free(root);
            return rc;
        }
    }
    int rc = !lp ? PIXL_ERR_NOMEM
                 : pixl__is_file(lp) ? parse_list(ds, root, lp, o->strip_prefix, 1, image_dir, label_dir)
                                     : pixl_set_error(PIXL_ERR_NOT_FOUND, "voc dataset: list file '%s' not found", lp);
    free(lp), free(root);
    return rc;
}

static int open_cityscapes(pixl_dataset *ds, const pixl_dataset_opts *o, const char *split)
{
    if (!o->root) return pixl_set_error(PIXL_ERR_ARG, "cityscapes dataset: root folder not set");
    char rel[1024];
    snprintf(rel, sizeof rel, "leftImg8bit/%s", split);
    char *idir = pixl__join(o->root, rel);
    snprintf(rel, sizeof rel, "gtFine/%s", split);
    char *ldir = pixl__join(o->root, rel);
    if (!idir || !ldir) {
        free(idir), free(ldir);
        return PIXL_ERR_NOMEM;
    }
    char **cities = NULL;
    int nc = pixl__list_dir(idir, 1, &cities), rc = nc < 0 ? nc : PIXL_OK;
    for (int c = 0; c < nc && !rc; c++) {
        char *ci = pixl__join(idir, cities[c]), *cl = pixl__join(ldir, cities[c]);
        if (!ci || !cl) rc = PIXL_ERR_NOMEM;
        else if (ds->has_labels && !pixl__is_dir(cl))
            rc = pixl_set_error(PIXL_ERR_NOT_FOUND, "cityscapes dataset: label folder '%s' not found", cl);
        else rc = pair_folder(ds, ci, cl, "_gtFine_labelIds", "_leftImg8bit");
        free(ci), free(cl);
    }
    if (!rc && ds->n == 0)
        rc = pixl_set_error(PIXL_ERR_NOT_FOUND, "cityscapes dataset: no images under '%s/<city>/'", idir);
    pixl__free_strings(cities, nc > 0 ? nc : 0);
    free(idir), free(ldir);
    return rc;
}

static int open_ade(pixl_dataset *ds, const pixl_dataset_opts *o, const char *split)
{
    if (!o->root) return pixl_set_error(PIXL_ERR_ARG, "ade20k dataset: root folder not set");
    const char *sub = !strcmp(split, "train") ? "training" : !strcmp(split, "val") ? "validation" : split;
    char rel[1024];
    snprintf(rel, sizeof rel, "images/%s", sub);
    char *idir = pixl__join(o->root, rel);
    snprintf(rel, sizeof rel, "annotations/%s", sub);
    char *ldir = pixl__join(o->root, rel);
    int rc;
    if (!idir || !ldir) rc = PIXL_ERR_NOMEM;
    else if (!pixl__is_dir(idir)) rc = pixl_set_error(PIXL_ERR_NOT_FOUND, "ade20k dataset: image folder '%s' not found", idir);
    else if (!pixl__is_dir(ldir)) rc = pixl_set_error(PIXL_ERR_NOT_FOUND, "ade20k dataset: annotation folder '%s' not found", ldir);
    else rc = pair_folder(ds, idir, ldir, "", NULL);
    if (!rc && ds->n == 0) rc = pixl_set_error(PIXL_ERR_NOT_FOUND, "ade20k dataset: no images in '%s'", idir);
    free(idir), free(ldir);
    return rc;
}

static int open_bsds(pixl_dataset *ds, const pixl_dataset_opts *o, const char *split)
{
    if (!o->root) return pixl_set_error(PIXL_ERR_ARG, "bsds500 dataset: root folder not set");
    char rel[1024];
    snprintf(rel, sizeof rel, "images/%s", split);
    char *idir = pixl__join(o->root, rel);
    snprintf(rel, sizeof rel, "groundTruth/%s", split);
    char *ldir = pixl__join(o->root, rel);
    int rc;
    if (!idir || !ldir) rc = PIXL_ERR_NOMEM;
    else if (!pixl__is_dir(idir)) rc = pixl_set_error(PIXL_ERR_NOT_FOUND, "bsds500 dataset: image folder '%s' not found", idir);
    else if (!pixl__is_dir(ldir))
        rc = pixl_set_error(PIXL_ERR_NOT_FOUND, "bsds500 dataset: ground-truth folder '%s' not found", ldir);
    else rc = pair_folder(ds, idir, ldir, "", NULL);
    if (!rc && ds->n == 0) rc = pixl_set_error(PIXL_ERR_NOT_FOUND, "bsds500 dataset: no images in '%s'", idir);
    free(idir), free(ldir);
    return rc;
}

static const char *const bsds_names[2] = {"non-boundary", "boundary"};
static const uint8_t bsds_colours[6] = {0, 0, 0, 255, 255, 255};

/* ----------------------------------------------------------------- open */

pixl_dataset *pixl_dataset_open(const pixl_dataset_opts *o)
{
    static const pixl_dataset_opts defaults;
    if (!o) o = &defaults;
    const char *kind = o->kind ? o->kind : "synthetic";
    const char *split = o->split ? o->split : "train";
    pixl_dataset *ds = pixl_calloc(1, sizeof *ds);
    if (!ds) return NULL;
    snprintf(ds->kind, sizeof ds->kind, "%s", kind);
    ds->has_labels = 1;
    memcpy(ds->mean, imagenet_mean, sizeof ds->mean);
    memcpy(ds->std, imagenet_std, sizeof ds->std);
    int rc = PIXL_OK;
    if (!strcmp(kind, "synthetic")) {
        ds->synth_w = o->width ? o->width : 64;
        ds->synth_h = o->height ? o->height : 64;
        ds->synth_seed = o->seed;
        int count = o->count ? o->count : 1024;
        if (count < 0 || pixl__check_dims("synthetic", ds->synth_w, ds->synth_h, 3, 8)) {
            rc = pixl_set_error(PIXL_ERR_ARG, "synthetic dataset: bad size %dx%d or count %d", o->width, o->height,
                                o->count);
        } else {
            ds->n = count;
            rc = set_classes(ds, PIXL_SYNTH_CLASSES, pixl__synth_names, pixl__synth_colours);
            memcpy(ds->mean, pixl__synth_mean, sizeof ds->mean);
            memcpy(ds->std, pixl__synth_std, sizeof ds->std);
            ds->map = MAP_NONE;
        }
    } else if (!strcmp(kind, "synthetic_normals")) {
        ds->synth_w = o->width ? o->width : 64;
        ds->synth_h = o->height ? o->height : 64;
        ds->synth_seed = o->seed;
        ds->task = PIXL_TASK_NORMALS;
        int count = o->count ? o->count : 1024;
        if (count < 0 || pixl__check_dims("synthetic_normals", ds->synth_w, ds->synth_h, 3, 8)) {
            rc = pixl_set_error(PIXL_ERR_ARG, "synthetic_normals dataset: bad size %dx%d or count %d", o->width,
                                o->height, o->count);
        } else {
            ds->n = count;
            rc = set_classes(ds, PIXL_SYNTH_NORMAL_CLASSES, pixl__synth_normal_names, pixl__synth_normal_colours);
            memcpy(ds->mean, pixl__synth_normal_mean, sizeof ds->mean);
            memcpy(ds->std, pixl__synth_normal_std, sizeof ds->std);
            ds->map = MAP_NONE;
        }
    } else if (!strcmp(kind, "bsds500")) {
        ds->task = PIXL_TASK_EDGES;
        ds->edge_consensus = o->edge_consensus > 0 ? o->edge_consensus : 0.5f;
        if (!(o->edge_consensus >= 0 && o->edge_consensus <= 1))
            rc = pixl_set_error(PIXL_ERR_ARG, "bsds500 dataset: edge_consensus %g outside [0, 1]", (double)o->edge_consensus);
        if (!rc) rc = set_classes(ds, 2, bsds_names, bsds_colours);
        if (!rc) rc = open_bsds(ds, o, split);
        ds->map = MAP_NONE;
    } else if (!strcmp(kind, "camvid")) {
        rc = set_classes(ds, 11, camvid_names, camvid_colours);
        if (!rc) rc = open_list_kind(ds, o, split);
        memcpy(ds->mean, camvid_mean, sizeof ds->mean);
        memcpy(ds->std, camvid_std, sizeof ds->std);
        ds->map = MAP_RANGE;
    } else if (!strcmp(kind, "voc")) {
        uint8_t col[21 * 3];
        pixl_voc_colours(21, col);
        rc = set_classes(ds, 21, voc_names, col);
        if (!rc) rc = open_voc(ds, o, split);
        ds->map = MAP_RANGE;
    } else if (!strcmp(kind, "cityscapes")) {
        rc = set_classes(ds, 19, cityscapes_names, cityscapes_colours);
        if (!rc) rc = open_cityscapes(ds, o, split);
        ds->map = MAP_LUT;
        for (int v = 0; v < 256; v++) ds->lut[v] = v < 34 ? cityscapes_train_id[v] : 255;
    } else if (!strcmp(kind, "ade20k")) {
        rc = set_classes(ds, 150, ade_names, NULL);
        if (!rc) rc = open_ade(ds, o, split);
        ds->map = MAP_REDUCE_ZERO;
    } else if (!strcmp(kind, "list") || !strcmp(kind, "folder")) {
        ds->has_labels = !o->unlabeled;
        int k = o->n_classes;
        if (k <= 0 && o->class_names)
            while (o->class_names[k]) k++;
        if (k <= 0) rc = pixl_set_error(PIXL_ERR_ARG, "%s dataset: n_classes (or class_names) not set", kind);
        else rc = set_classes(ds, k, o->class_names, o->colours);
        if (!rc) rc = !strcmp(kind, "list") ? open_list_kind(ds, o, split) : open_folder(ds, o);
        ds->map = o->reduce_zero_label ? MAP_REDUCE_ZERO : MAP_RANGE;
    } else {
        rc = pixl_set_error(PIXL_ERR_ARG,
                            "unknown dataset kind '%s' (synthetic, synthetic_normals, list, folder, camvid, voc, cityscapes, "
                            "ade20k, bsds500)",
                            kind);
    }
    if (!rc && o->std[0] > 0) {
        for (int c = 0; c < 3; c++) {
            if (!(o->std[c] > 0)) {
                rc = pixl_set_error(PIXL_ERR_ARG, "%s dataset: std[%d] = %g must be > 0", kind, c, (double)o->std[c]);
                break;
            }
            ds->mean[c] = o->mean[c];
            ds->std[c] = o->std[c];
        }
    }
    if (!rc && o->limit < 0) rc = pixl_set_error(PIXL_ERR_ARG, "%s dataset: limit %d < 0", kind, o->limit);
    if (rc) {
        pixl_dataset_free(ds);
        return NULL;
    }
    if (o->limit > 0 && o->limit < ds->n) {
        if (ds->images)
            for (int i = o->limit; i < ds->n; i++) {
                free(ds->images[i]), free(ds->names[i]);
                if (ds->labels) free(ds->labels[i]);
            }
        ds->n = o->limit;
    }
    return ds;
}

/* ----------------------------------------------------------- accessors */

const char *pixl_dataset_kind(const pixl_dataset *ds) { return ds ? ds->kind : NULL; }
int pixl_dataset_size(const pixl_dataset *ds) { return ds ? ds->n : 0; }
int pixl_dataset_n_classes(const pixl_dataset *ds) { return ds ? ds->n_classes : 0; }
const char *pixl_dataset_class_name(const pixl_dataset *ds, int k)
{
    return ds && k >= 0 && k < ds->n_classes ? ds->class_names[k] : NULL;
}
const uint8_t *pixl_dataset_colours(const pixl_dataset *ds) { return ds ? ds->colours : NULL; }
const float *pixl_dataset_mean(const pixl_dataset *ds) { return ds ? ds->mean : NULL; }
const float *pixl_dataset_std(const pixl_dataset *ds) { return ds ? ds->std : NULL; }
int pixl_dataset_has_labels(const pixl_dataset *ds) { return ds ? ds->has_labels : 0; }
const char *pixl_dataset_image_path(const pixl_dataset *ds, int i)
{
    return ds && ds->images && i >= 0 && i < ds->n ? ds->images[i] : NULL;
}
const char *pixl_dataset_label_path(const pixl_dataset *ds, int i)
{
    return ds && ds->labels && i >= 0 && i < ds->n ? ds->labels[i] : NULL;
}
const char *pixl_dataset_sample_name(const pixl_dataset *ds, int i)
{
    if (!ds || i < 0 || i >= ds->n) return NULL;
    if (ds->names) return ds->names[i];
    static _Thread_local char buf[4][32];
    static _Thread_local int k;
    k = (k + 1) & 3;
    snprintf(buf[k], sizeof buf[k], ds->task == PIXL_TASK_NORMALS ? "synthetic_normals_%06d" : "synthetic_%06d", i);
    return buf[k];
}

void pixl_dataset_map_labels(const pixl_dataset *ds, int32_t *lab, int64_t n)
{
    if (!ds || !lab) return;
    const int K = ds->n_classes;
    switch (ds->map) {
    case MAP_NONE: return;
    case MAP_RANGE:
        for (int64_t i = 0; i < n; i++)
            if (lab[i] < 0 || lab[i] >= K) lab[i] = PIXL_IGNORE_LABEL;
        return;
    case MAP_REDUCE_ZERO:
        for (int64_t i = 0; i < n; i++) {
            int32_t v = lab[i] - 1;
            lab[i] = v < 0 || v >= K ? PIXL_IGNORE_LABEL : v;
        }
        return;
    case MAP_LUT:
        for (int64_t i = 0; i < n; i++) lab[i] = lab[i] >= 0 && lab[i] < 256 ? ds->lut[lab[i]] : PIXL_IGNORE_LABEL;
        return;
    }
}

int pixl_dataset_load(const pixl_dataset *ds, int i, pixl_image **image, int32_t **labels)
{
    if (image) *image = NULL;
    if (labels) *labels = NULL;
    if (!ds || !image) return pixl_set_error(PIXL_ERR_ARG, "pixl_dataset_load: NULL argument");
    if (i < 0 || i >= ds->n)
        return pixl_set_error(PIXL_ERR_ARG, "pixl_dataset_load: index %d outside the %s dataset (%d samples)", i,
                              ds->kind, ds->n);
    if (!ds->images) { /* synthetic */
        pixl_image *img = pixl_image_new(ds->synth_w, ds->synth_h, 3, 8);
        int32_t *lab = pixl_malloc(sizeof *lab * (size_t)ds->synth_w * ds->synth_h);
        if (!img || !lab) {
            pixl_image_free(img), free(lab);
            return PIXL_ERR_NOMEM;
        }
        if (ds->task == PIXL_TASK_NORMALS) {
            int rc = pixl__synthetic_normals_render(ds->synth_w, ds->synth_h, ds->synth_seed, i, img->data, NULL, NULL, lab);
            if (rc) {
                pixl_image_free(img), free(lab);
                return rc;
            }
        } else {
            pixl__synthetic_render(ds->synth_w, ds->synth_h, ds->synth_seed, i, img->data, lab);
        }
        *image = img;
        if (labels) *labels = lab;
        else free(lab);
        return PIXL_OK;
    }
    pixl_image *img = pixl_image_load(ds->images[i], 3, 8);
    if (!img) return pixl_last_status();
    if (!labels) {
        *image = img;
        return PIXL_OK;
    }
    size_t np = (size_t)img->width * img->height;
    int32_t *lab;
    if (ds->task == PIXL_TASK_EDGES) {
        uint8_t *maps;
        int n, w, h;
        int rc = pixl__bsds_read_mat(ds->labels[i], &maps, &n, &w, &h);
        if (!rc && (w != img->width || h != img->height))
            rc = pixl_set_error(PIXL_ERR_SHAPE, "bsds500 dataset sample %d: image '%s' is %dx%d but ground truth '%s' is %dx%d",
                                i, ds->images[i], img->width, img->height, ds->labels[i], w, h);
        lab = rc ? NULL : pixl_malloc(sizeof *lab * np);
        if (!lab) {
            free(maps);
            pixl_image_free(img);
            return rc ? rc : PIXL_ERR_NOMEM;
        }
        pixl__bsds_targets(maps, n, np, ds->edge_consensus, NULL, lab);
        free(maps);
    } else if (!ds->has_labels) {
        lab = pixl_malloc(sizeof *lab * np);
        if (!lab) {
            pixl_image_free(img);
            return PIXL_ERR_NOMEM;
        }
        for (size_t p = 0; p < np; p++) lab[p] = PIXL_IGNORE_LABEL;
    } else {
        int w, h;
        lab = pixl_label_load(ds->labels[i], &w, &h);
        if (!lab) {
            pixl_image_free(img);
            return pixl_last_status();
        }
        if (w != img->width || h != img->height) {
            int rc = pixl_set_error(PIXL_ERR_SHAPE, "%s dataset sample %d: image '%s' is %dx%d but label map '%s' is %dx%d",
                                    ds->kind, i, ds->images[i], img->width, img->height, ds->labels[i], w, h);
            pixl_image_free(img), free(lab);
            return rc;
        }
        pixl_dataset_map_labels(ds, lab, (int64_t)np);
    }
    *image = img;
    *labels = lab;
    return PIXL_OK;
}

/* ------------------------------------------------------- edges, normals */

int pixl_dataset_task(const pixl_dataset *ds) { return ds ? ds->task : PIXL_TASK_SEGMENTATION; }

int pixl_dataset_load_edges(const pixl_dataset *ds, int i, pixl_image **image, float **soft, uint8_t **maps,
                            int *n_maps)
{
    if (image) *image = NULL;
    if (soft) *soft = NULL;
    if (maps) *maps = NULL;
    if (n_maps) *n_maps = 0;
    if (!ds) return pixl_set_error(PIXL_ERR_ARG, "pixl_dataset_load_edges: NULL dataset");
    if (ds->task != PIXL_TASK_EDGES)
        return pixl_set_error(PIXL_ERR_ARG, "pixl_dataset_load_edges: the %s dataset has no boundary maps (bsds500 has)",
                              ds->kind);
    if (i < 0 || i >= ds->n)
        return pixl_set_error(PIXL_ERR_ARG, "pixl_dataset_load_edges: index %d outside the %s dataset (%d samples)", i,
                              ds->kind, ds->n);
    uint8_t *m;
    int n, w, h;
    int rc = pixl__bsds_read_mat(ds->labels[i], &m, &n, &w, &h);
    if (rc) return rc;
    pixl_image *img = NULL;
    float *s = NULL;
    if (image) {
        img = pixl_image_load(ds->images[i], 3, 8);
        if (!img) rc = pixl_last_status();
        else if (img->width != w || img->height != h)
            rc = pixl_set_error(PIXL_ERR_SHAPE, "bsds500 dataset sample %d: image '%s' is %dx%d but ground truth '%s' is %dx%d",
                                i, ds->images[i], img->width, img->height, ds->labels[i], w, h);
    }
    if (!rc && soft) {
        s = pixl_malloc(sizeof(float) * (size_t)w * h);
        if (!s) rc = PIXL_ERR_NOMEM;
        else pixl__bsds_targets(m, n, (size_t)w * h, ds->edge_consensus, s, NULL);
    }
    if (rc) {
        pixl_image_free(img), free(s), free(m);
        return rc;
    }
    if (image) *image = img;
    if (soft) *soft = s;
    if (maps) *maps = m;
    else free(m);
    if (n_maps) *n_maps = n;
    return PIXL_OK;
}

int pixl_dataset_load_normals(const pixl_dataset *ds, int i, pixl_image **image, float **normals, uint8_t **mask)
{
    if (image) *image = NULL;
    if (normals) *normals = NULL;
    if (mask) *mask = NULL;
    if (!ds) return pixl_set_error(PIXL_ERR_ARG, "pixl_dataset_load_normals: NULL dataset");
    if (ds->task != PIXL_TASK_NORMALS)
        return pixl_set_error(PIXL_ERR_ARG, "pixl_dataset_load_normals: the %s dataset has no surface normals", ds->kind);
    if (i < 0 || i >= ds->n)
        return pixl_set_error(PIXL_ERR_ARG, "pixl_dataset_load_normals: index %d outside the %s dataset (%d samples)", i,
                              ds->kind, ds->n);
    size_t np = (size_t)ds->synth_w * ds->synth_h;
    pixl_image *img = pixl_image_new(ds->synth_w, ds->synth_h, 3, 8);
    float *nrm = normals ? pixl_malloc(sizeof(float) * 3 * np) : NULL;
    uint8_t *msk = mask ? pixl_malloc(np) : NULL;
    int rc = !img || (normals && !nrm) || (mask && !msk) ? PIXL_ERR_NOMEM : PIXL_OK;
    if (!rc) rc = pixl__synthetic_normals_render(ds->synth_w, ds->synth_h, ds->synth_seed, i, img->data, nrm, msk, NULL);
    if (rc) {
        pixl_image_free(img), free(nrm), free(msk);
        return rc;
    }
    if (image) *image = img;
    else pixl_image_free(img);
    if (normals) *normals = nrm;
    if (mask) *mask = msk;
    return PIXL_OK;
}
