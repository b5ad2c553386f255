/* label_store_via.c — point labels from a VGG Image Annotator (VIA) JSON
 * file into a label store: VIA 2 projects and exports (per image
 * `filename` and `regions` of point shapes, the class in
 * region_attributes) and VIA 3 projects as PixelPick's VIA tool writes
 * them (`file`, `view`, `metadata` with "xy": [1, x, y] and "av"). Images
 * are the dataset's samples by file stem, sized by decoding them. */
#include <cjson/cJSON.h>
#include <math.h>

#include "data/data_impl.h"

typedef struct {
    const char *path;         /* the VIA file, for messages */
    const pixl_dataset *ds;
    pixl_label_store *out;
    pixl_label_store *samples; /* sample names as a hash set; sample_of[j]: dataset index of entry j */
    int *sample_of;
    const char **names;       /* the dataset's class names */
    int K, round, skipped;
} via_ctx;

static int fail(const via_ctx *c, const char *where, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(const via_ctx *c, const char *where, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return pixl_set_error(PIXL_ERR_FORMAT, "VIA file '%s': %s: %s", c->path, where, msg);
}

/* ------------------------------------------------------------ images */

/* "dir/0001TP_006690.png" -> "0001TP_006690" into buf */
static const char *stem(const char *file, char *buf, size_t n)
{
    const char *b = strrchr(file, '/');
    b = b ? b + 1 : file;
    snprintf(buf, n, "%s", b);
    char *dot = strrchr(buf, '.');
    if (dot && dot != buf) *dot = 0;
    return buf;
}

/* the store's id of the image `file` (added with its size on first use) */
static const char *image_id(via_ctx *c, const char *where, const char *file, char *id, size_t n)
{
    stem(file, id, n);
    if (pixl_label_store_find(c->out, id) >= 0) return id;
    int j = pixl_label_store_find(c->samples, id);
    if (j < 0) {
        fail(c, where, "image '%s' is not in the %s dataset (%d samples, named by file stem, e.g. '%s')", file,
             pixl_dataset_kind(c->ds), pixl_dataset_size(c->ds), pixl_dataset_sample_name(c->ds, 0));
        return NULL;
    }
    pixl_image *img = NULL;
    if (pixl_dataset_load(c->ds, c->sample_of[j], &img, NULL)) return NULL;
    int rc = pixl_label_store_add_image(c->out, id, img->height, img->width);
    pixl_image_free(img);
    return rc < 0 ? NULL : id;
}

/* ------------------------------------------------------------ classes */

/* the class of a region's value: the option it names (options: id -> text), else the value itself */
static int class_of(via_ctx *c, const char *where, const char *value, const cJSON *options)
{
    const cJSON *opt = cJSON_IsObject(options) ? cJSON_GetObjectItemCaseSensitive(options, value) : NULL;
    if (!opt && cJSON_IsObject(options)) opt = cJSON_GetObjectItem(options, value); /* any case */
    int k = cJSON_IsString(opt) && opt->valuestring[0] ? pixl__class_index(opt->valuestring, c->K, c->names) : -1;
    if (k < 0) k = pixl__class_index(value, c->K, c->names);
    if (k >= 0) return k;
    char list[1024];
    pixl__class_list(list, sizeof list, c->K, c->names);
    return fail(c, where, "unknown class '%s'%s%s%s (the %s dataset's classes: %s)", value,
                cJSON_IsString(opt) ? " (option '" : "", cJSON_IsString(opt) ? opt->valuestring : "",
                cJSON_IsString(opt) ? "')" : "", pixl_dataset_kind(c->ds), list);
}

/* a coordinate: a finite number, rounded to the nearest pixel */
static int coord(const via_ctx *c, const char *where, const char *name, const cJSON *v, int *out)
{
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || fabs(v->valuedouble) > 1e9)
        return fail(c, where, "%s: expected a number, got %s", name, pixl__json_type(v));
    *out = (int)lround(v->valuedouble);
    return PIXL_OK;
}

/* the point (x, y) of class value `value` (NULL or "": skipped) on image `file` */
static int add_point(via_ctx *c, const char *where, const char *file, int x, int y, const char *value,
                     const cJSON *options)
{
    if (!value || !value[0]) {
        c->skipped++;
        return PIXL_OK;
    }
    char id[512];
    if (!image_id(c, where, file, id, sizeof id)) return pixl_last_status();
    int k = class_of(c, where, value, options);
    if (k < 0) return k;
    if (pixl_label_store_add(c->out, id, y, x, k, c->round)) return fail(c, where, "%s", pixl_last_error());
    return PIXL_OK;
}

/* ------------------------------------------------------------ VIA 2 */

/* the class value of a VIA 2 region's attributes: a string, or the one checked box */
static int via2_value(via_ctx *c, const char *where, const cJSON *ra, const char *attribute, const char **value,
                      const char **aname)
{
    *value = NULL;
    *aname = attribute;
    if (!ra || cJSON_IsNull(ra)) return PIXL_OK;
    if (!cJSON_IsObject(ra)) return fail(c, where, "region_attributes: expected an object, got %s", pixl__json_type(ra));
    const cJSON *v = NULL;
    if (attribute) v = cJSON_GetObjectItemCaseSensitive(ra, attribute);
    else if (ra->child && ra->child->next)
        return fail(c, where, "the region has attributes '%s', '%s'%s: name the one that holds the class",
                    ra->child->string, ra->child->next->string, ra->child->next->next ? ", ..." : "");
    else if ((v = ra->child)) *aname = v->string;
    if (!v || cJSON_IsNull(v)) return PIXL_OK;
    if (cJSON_IsString(v)) {
        *value = v->valuestring;
        return PIXL_OK;
    }
    if (cJSON_IsObject(v)) { /* a checkbox: {"option": true} */
        for (const cJSON *o = v->child; o; o = o->next)
            if (cJSON_IsTrue(o)) {
                if (*value) return fail(c, where, "several classes checked ('%s', '%s')", *value, o->string);
                *value = o->string;
            }
        return PIXL_OK;
    }
    return fail(c, where, "class attribute '%s': expected a string, got %s", *aname, pixl__json_type(v));
}

static int via2_image(via_ctx *c, const cJSON *e, const cJSON *attrs, const char *attribute)
{
    char where[640];
    snprintf(where, sizeof where, "image entry '%.500s'", e->string ? e->string : "?");
    const cJSON *fn = cJSON_GetObjectItemCaseSensitive(e, "filename");
    const cJSON *regions = cJSON_GetObjectItemCaseSensitive(e, "regions");
    if (!cJSON_IsString(fn) || !fn->valuestring[0])
        return fail(c, where, "filename: expected a file name, got %s", pixl__json_type(fn));
    if (!cJSON_IsArray(regions) && !cJSON_IsObject(regions)) /* VIA 1 kept regions in an object */
        return fail(c, where, "regions: expected an array, got %s", pixl__json_type(regions));
    int r = 0;
    for (const cJSON *reg = regions->child; reg; reg = reg->next, r++) {
        snprintf(where, sizeof where, "'%.500s' region %d", fn->valuestring, r);
        const cJSON *sa = cJSON_GetObjectItemCaseSensitive(reg, "shape_attributes");
        const cJSON *shape = cJSON_GetObjectItemCaseSensitive(sa, "name");
        if (!cJSON_IsString(shape)) return fail(c, where, "shape_attributes.name: expected a string, got %s", pixl__json_type(shape));
        if (strcmp(shape->valuestring, "point"))
            return fail(c, where, "a '%s' region; only point regions are imported", shape->valuestring);
        int x = 0, y = 0, rc;
        if ((rc = coord(c, where, "cx", cJSON_GetObjectItemCaseSensitive(sa, "cx"), &x)) ||
            (rc = coord(c, where, "cy", cJSON_GetObjectItemCaseSensitive(sa, "cy"), &y)))
            return rc;
        const char *value, *aname;
        if ((rc = via2_value(c, where, cJSON_GetObjectItemCaseSensitive(reg, "region_attributes"), attribute, &value,
                             &aname)))
            return rc;
        const cJSON *def = aname ? cJSON_GetObjectItemCaseSensitive(attrs, aname) : NULL;
        if ((rc = add_point(c, where, fn->valuestring, x, y, value, cJSON_GetObjectItemCaseSensitive(def, "options"))))
            return rc;
    }
    return PIXL_OK;
}

static int via2(via_ctx *c, const cJSON *meta, const cJSON *root, const char *attribute)
{
    const cJSON *attrs = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "_via_attributes"),
                                                          "region");
    for (const cJSON *e = meta->child; e; e = e->next) {
        if (!cJSON_IsObject(e)) return fail(c, "_via_img_metadata", "expected image objects, got %s", pixl__json_type(e));
        int rc = via2_image(c, e, attrs, attribute);
        if (rc) return rc;
    }
    return PIXL_OK;
}

/* ------------------------------------------------------------ VIA 3 */

/* the id of the class attribute: `attribute` as an id or a name, else the only one (NULL: none defined) */
static int via3_attribute(via_ctx *c, const cJSON *attrs, const char *attribute, const char **id)
{
    *id = NULL;
    int n = 0;
    for (const cJSON *a = cJSON_IsObject(attrs) ? attrs->child : NULL; a; a = a->next, n++) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(a, "aname");
        if (attribute && (!strcmp(a->string, attribute) ||
                          (cJSON_IsString(name) && pixl__class_name_eq(name->valuestring, attribute))))
            *id = a->string;
        if (!attribute && n == 0) *id = a->string;
    }
    if (attribute && !*id) return fail(c, "attribute", "no attribute '%s' (by id or aname)", attribute);
    if (!attribute && n > 1)
        return fail(c, "attribute", "%d attributes are defined: name the one that holds the class", n);
    return PIXL_OK;
}

/* the file name of view `vid`: file[view[vid].fid_list[0]], else file[vid] */
static const char *via3_file(const cJSON *root, const char *vid)
{
    const cJSON *files = cJSON_GetObjectItemCaseSensitive(root, "file");
    const cJSON *view = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "view"), vid);
    const cJSON *fid = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(view, "fid_list"), 0);
    char key[32];
    const char *k = vid;
    if (cJSON_IsString(fid)) k = fid->valuestring;
    else if (cJSON_IsNumber(fid)) snprintf(key, sizeof key, "%.0f", fid->valuedouble), k = key;
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(files, k);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(f, "fname");
    if (!cJSON_IsString(name)) name = cJSON_GetObjectItemCaseSensitive(f, "src");
    return cJSON_IsString(name) && name->valuestring[0] ? name->valuestring : NULL;
}

static int via3(via_ctx *c, const cJSON *root, const char *attribute)
{
    const cJSON *attrs = cJSON_GetObjectItemCaseSensitive(root, "attribute");
    const char *aid;
    int rc = via3_attribute(c, attrs, attribute, &aid);
    const cJSON *options = aid ? cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(attrs, aid), "options")
                               : NULL;
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "metadata");
    for (const cJSON *m = meta->child; !rc && m; m = m->next) {
        char where[320];
        snprintf(where, sizeof where, "metadata '%.250s'", m->string ? m->string : "?");
        const cJSON *vid = cJSON_GetObjectItemCaseSensitive(m, "vid"), *xy = cJSON_GetObjectItemCaseSensitive(m, "xy");
        const cJSON *av = cJSON_GetObjectItemCaseSensitive(m, "av");
        if (!cJSON_IsString(vid)) return fail(c, where, "vid: expected a string, got %s", pixl__json_type(vid));
        const cJSON *shape = cJSON_GetArrayItem(xy, 0);
        if (!cJSON_IsArray(xy) || !cJSON_IsNumber(shape))
            return fail(c, where, "xy: expected [shape, x, y], got %s", pixl__json_type(xy));
        if (shape->valuedouble != 1 || cJSON_GetArraySize(xy) != 3)
            return fail(c, where, "shape %g with %d values; only points ([1, x, y]) are imported", shape->valuedouble,
                        cJSON_GetArraySize(xy) - 1);
        int x = 0, y = 0;
        if ((rc = coord(c, where, "x", cJSON_GetArrayItem(xy, 1), &x)) ||
            (rc = coord(c, where, "y", cJSON_GetArrayItem(xy, 2), &y)))
            return rc;
        const char *file = via3_file(root, vid->valuestring);
        if (!file) return fail(c, where, "view '%s' names no file", vid->valuestring);
        const cJSON *v = aid ? cJSON_GetObjectItemCaseSensitive(av, aid) : (cJSON_IsObject(av) ? av->child : NULL);
        if (v && !cJSON_IsString(v) && !cJSON_IsNull(v))
            return fail(c, where, "av: expected a class value (a string), got %s", pixl__json_type(v));
        rc = add_point(c, where, file, x, y, cJSON_IsString(v) ? v->valuestring : NULL, options);
    }
    return rc;
}

/* ------------------------------------------------------------ entry */

/* the samples of ds as a hash set of names, with their dataset indices */
static int index_samples(via_ctx *c)
{
    const int n = pixl_dataset_size(c->ds);
    c->samples = pixl_label_store_new(1, NULL);
    c->sample_of = pixl__malloc(sizeof(int) * (size_t)(n ? n : 1));
    c->names = pixl__malloc(sizeof(char *) * (size_t)c->K);
    if (!c->samples || !c->sample_of || !c->names) return PIXL_ERR_NOMEM;
    for (int k = 0; k < c->K; k++) c->names[k] = pixl_dataset_class_name(c->ds, k);
    for (int i = 0; i < n; i++) { /* a name given twice: its first sample */
        int before = pixl_label_store_n_images(c->samples);
        int j = pixl_label_store_add_image(c->samples, pixl_dataset_sample_name(c->ds, i), 1, 1);
        if (j < 0) return j;
        if (j == before) c->sample_of[j] = i;
    }
    return PIXL_OK;
}

static int import(via_ctx *c, const cJSON *root, const char *attribute)
{
    if (!cJSON_IsObject(root)) return fail(c, "top", "expected a JSON object, got %s", pixl__json_type(root));
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "_via_img_metadata");
    if (cJSON_IsObject(meta)) return via2(c, meta, root, attribute);
    if (cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(root, "metadata")) &&
        cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(root, "file")))
        return via3(c, root, attribute);
    const cJSON *first = root->child;
    if (cJSON_IsObject(first) && cJSON_GetObjectItemCaseSensitive(first, "filename") &&
        cJSON_GetObjectItemCaseSensitive(first, "regions"))
        return via2(c, root, root, attribute); /* an annotation export: the image entries at the top */
    return fail(c, "top", "not a VIA file (no _via_img_metadata, no file/metadata, no image entries)");
}

pixl_label_store *pixl_label_store_import_via(const char *path, const pixl_dataset *ds, const char *attribute,
                                              int round, int *n_skipped)
{
    if (n_skipped) *n_skipped = 0;
    if (!path || !ds || round < 0) {
        pixl_set_error(PIXL_ERR_ARG, "pixl_label_store_import_via: %s", round < 0 ? "round < 0" : "NULL argument");
        return NULL;
    }
    via_ctx c = {.path = path, .ds = ds, .K = pixl_dataset_n_classes(ds), .round = round};
    unsigned char *buf;
    size_t len;
    if (pixl__read_file(path, "VIA file", (size_t)1 << 32, &buf, &len)) return NULL;
    cJSON *root = pixl__json_parse("VIA file", path, (const char *)buf, len);
    free(buf);
    int rc = root ? index_samples(&c) : pixl_last_status();
    if (!rc) c.out = pixl_label_store_new(c.K, c.names);
    if (!rc && !c.out) rc = pixl_last_status();
    if (!rc) rc = import(&c, root, attribute);
    cJSON_Delete(root);
    pixl_label_store_free(c.samples);
    free(c.sample_of);
    free(c.names);
    if (rc) {
        pixl_label_store_free(c.out);
        return NULL;
    }
    if (n_skipped) *n_skipped = c.skipped;
    return c.out;
}
