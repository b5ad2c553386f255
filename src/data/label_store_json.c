/* label_store_json.c — the label store's file (docs/label_store.md): JSON
 * version 1, written atomically, one point per line; read with cJSON and
 * checked member by member, every error naming the file and the field. */
#include <cjson/cJSON.h>
#include <math.h>

#include "data/data_impl.h"

#define FORMAT_NAME "pixl-label-store"
#define FORMAT_VERSION 1
#define MAX_FILE_BYTES ((size_t)1 << 32)

/* ------------------------------------------------------------ writing */

/* s as a JSON string (escaped by pixl's JSON writer) */
static void put_str(FILE *f, const char *s, int *err)
{
    pixl_json j = {0};
    pixl_json_set_layout(&j, PIXL_JSON_COMPACT);
    pixl_json_str(&j, NULL, s);
    char *t = pixl_json_finish(&j, "label store");
    if (!t) *err = 1;
    else fputs(t, f);
    free(t);
}

static int write_store(const pixl_label_store *s, FILE *f)
{
    int err = 0, K = pixl_label_store_n_classes(s);
    fprintf(f, "{\n  \"format\": \"%s\",\n  \"version\": %d,\n  \"n_classes\": %d,\n", FORMAT_NAME, FORMAT_VERSION, K);
    if (pixl_label_store_class_name(s, 0)) {
        fputs("  \"class_names\": [", f);
        for (int k = 0; k < K; k++) {
            if (k) fputs(", ", f);
            put_str(f, pixl_label_store_class_name(s, k), &err);
        }
        fputs("],\n", f);
    }
    fputs("  \"images\": [", f);
    for (int i = 0; i < pixl_label_store_n_images(s); i++) {
        int h, w, n;
        const char *id = pixl_label_store_image(s, i, &h, &w, &n);
        const pixl_label_point *p = pixl_label_store_points(s, i);
        fputs(i ? ",\n    {\"id\": " : "\n    {\"id\": ", f);
        put_str(f, id, &err);
        fprintf(f, ", \"height\": %d, \"width\": %d, \"points\": [", h, w);
        for (int k = 0; k < n; k++)
            fprintf(f, "%s\n      [%d, %d, %d, %d]", k ? "," : "", p[k].y, p[k].x, p[k].label, p[k].round);
        fputs(n ? "\n    ]}" : "]}", f);
    }
    fputs(pixl_label_store_n_images(s) ? "\n  ]\n}\n" : "]\n}\n", f);
    return err ? PIXL_ERR_NOMEM : PIXL_OK;
}

int pixl_label_store_save(const pixl_label_store *s, const char *path)
{
    if (!s || !path) return pixl_set_error(PIXL_ERR_ARG, "pixl_label_store_save: NULL argument");
    pixl_atomic_file *af = pixl_atomic_begin(path);
    if (!af) return pixl_last_status();
    int rc = write_store(s, pixl_atomic_stream(af));
    if (rc) {
        pixl_atomic_abort(af);
        return rc;
    }
    return pixl_atomic_commit(af);
}

/* ------------------------------------------------------------ reading */

const char *pixl__json_type(const cJSON *v)
{
    if (!v) return "missing";
    if (cJSON_IsNumber(v)) return "a number";
    if (cJSON_IsString(v)) return "a string";
    if (cJSON_IsArray(v)) return "an array";
    if (cJSON_IsObject(v)) return "an object";
    if (cJSON_IsBool(v)) return "a boolean";
    if (cJSON_IsNull(v)) return "null";
    return "not a value";
}

/* an integer in [lo, hi]; else an error "label store 'PATH': WHERE: ..." */
static int get_int(const char *path, const char *where, const cJSON *v, long lo, long hi, int *out)
{
    if (!cJSON_IsNumber(v))
        return pixl_set_error(PIXL_ERR_FORMAT, "label store '%s': %s: expected an integer, got %s", path, where,
                              pixl__json_type(v));
    double d = v->valuedouble;
    if (!isfinite(d) || d != floor(d) || d < (double)lo || d > (double)hi)
        return pixl_set_error(PIXL_ERR_FORMAT, "label store '%s': %s: %.17g is not an integer in [%ld, %ld]", path,
                              where, d, lo, hi);
    *out = (int)d;
    return PIXL_OK;
}

/* line and column of byte offset `at` of buf */
static void line_col(const char *buf, size_t at, int *line, int *col)
{
    *line = 1, *col = 1;
    for (size_t i = 0; i < at; i++) {
        if (buf[i] == '\n') (*line)++, *col = 1;
        else (*col)++;
    }
}

/* does the text end inside a string or an unclosed array / object? */
static int ends_early(const char *b, size_t n)
{
    long depth = 0;
    int in_str = 0;
    for (size_t i = 0; i < n; i++) {
        if (in_str) {
            if (b[i] == '\\') i++;
            else if (b[i] == '"') in_str = 0;
        } else if (b[i] == '"') {
            in_str = 1;
        } else if (b[i] == '[' || b[i] == '{') {
            depth++;
        } else if (b[i] == ']' || b[i] == '}') {
            depth--;
        }
    }
    return in_str || depth > 0;
}

cJSON *pixl__json_parse(const char *what, const char *path, const char *buf, size_t len)
{
    if (len == 0) {
        pixl_set_error(PIXL_ERR_FORMAT, "%s '%s': empty file", what, path);
        return NULL;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
    size_t at = end && end >= buf && end <= buf + len ? (size_t)(end - buf) : len;
    if (root) /* only white space may follow the value */
        while (at < len && (buf[at] == ' ' || buf[at] == '\t' || buf[at] == '\n' || buf[at] == '\r')) at++;
    if (root && at == len) return root;
    cJSON_Delete(root);
    int line, col;
    line_col(buf, at, &line, &col);
    if (!root && ends_early(buf, len))
        pixl_set_error(PIXL_ERR_FORMAT, "%s '%s':%d: the JSON value is not complete at the end of the file (truncated?)",
                       what, path, line);
    else
        pixl_set_error(PIXL_ERR_FORMAT, "%s '%s':%d:%d: %s", what, path, line, col,
                       root ? "text after the JSON value" : "not valid JSON");
    return NULL;
}

/* format, version, n_classes, class_names */
static pixl_label_store *read_header(const char *path, const cJSON *root)
{
    if (!cJSON_IsObject(root)) {
        pixl_set_error(PIXL_ERR_FORMAT, "label store '%s': expected a JSON object, got %s", path, pixl__json_type(root));
        return NULL;
    }
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(root, "format");
    if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, FORMAT_NAME)) {
        pixl_set_error(PIXL_ERR_FORMAT, "label store '%s': \"format\" is %s%s%s, expected \"%s\" (not a label store?)",
                       path, cJSON_IsString(fmt) ? "'" : pixl__json_type(fmt), cJSON_IsString(fmt) ? fmt->valuestring : "",
                       cJSON_IsString(fmt) ? "'" : "", FORMAT_NAME);
        return NULL;
    }
    int version, K;
    if (get_int(path, "version", cJSON_GetObjectItemCaseSensitive(root, "version"), 1, INT32_MAX, &version))
        return NULL;
    if (version > FORMAT_VERSION) {
        pixl_set_error(PIXL_ERR_UNSUPPORTED, "label store '%s': version %d is newer than this pixl reads (%d)", path,
                       version, FORMAT_VERSION);
        return NULL;
    }
    if (get_int(path, "n_classes", cJSON_GetObjectItemCaseSensitive(root, "n_classes"), 1, 255, &K)) return NULL;
    const cJSON *names = cJSON_GetObjectItemCaseSensitive(root, "class_names");
    const char *nm[255];
    if (names && !cJSON_IsNull(names)) {
        if (!cJSON_IsArray(names) || cJSON_GetArraySize(names) != K) {
            pixl_set_error(PIXL_ERR_FORMAT, "label store '%s': class_names: expected an array of n_classes = %d names, got %s%s",
                           path, K, pixl__json_type(names), cJSON_IsArray(names) ? " of another length" : "");
            return NULL;
        }
        int k = 0;
        for (const cJSON *c = names->child; c; c = c->next, k++) {
            if (!cJSON_IsString(c) || !c->valuestring[0]) {
                pixl_set_error(PIXL_ERR_FORMAT, "label store '%s': class_names[%d]: expected a non-empty string, got %s",
                               path, k, cJSON_IsString(c) ? "\"\"" : pixl__json_type(c));
                return NULL;
            }
            nm[k] = c->valuestring;
        }
    }
    return pixl_label_store_new(K, names && !cJSON_IsNull(names) ? nm : NULL);
}

/* images[i] into s */
static int read_image(const char *path, pixl_label_store *s, const cJSON *img, int i)
{
    char where[96];
    snprintf(where, sizeof where, "images[%d]", i);
    if (!cJSON_IsObject(img))
        return pixl_set_error(PIXL_ERR_FORMAT, "label store '%s': %s: expected an object, got %s", path, where,
                              pixl__json_type(img));
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(img, "id");
    if (!cJSON_IsString(id) || !id->valuestring[0])
        return pixl_set_error(PIXL_ERR_FORMAT, "label store '%s': %s.id: expected a non-empty string, got %s", path,
                              where, cJSON_IsString(id) ? "\"\"" : pixl__json_type(id));
    const char *name = id->valuestring;
    int h, w, first = pixl_label_store_find(s, name);
    if (first >= 0)
        return pixl_set_error(PIXL_ERR_FORMAT, "label store '%s': %s: image '%s' is listed twice (images[%d] too)", path,
                              where, name, first);
    snprintf(where, sizeof where, "images[%d] '%.40s'.height", i, name);
    if (get_int(path, where, cJSON_GetObjectItemCaseSensitive(img, "height"), 1, PIXL_IMAGE_MAX_DIM, &h)) return pixl_last_status();
    snprintf(where, sizeof where, "images[%d] '%.40s'.width", i, name);
    if (get_int(path, where, cJSON_GetObjectItemCaseSensitive(img, "width"), 1, PIXL_IMAGE_MAX_DIM, &w)) return pixl_last_status();
    if (pixl_label_store_add_image(s, name, h, w) < 0) return pixl_last_status();
    const cJSON *pts = cJSON_GetObjectItemCaseSensitive(img, "points");
    if (!cJSON_IsArray(pts))
        return pixl_set_error(PIXL_ERR_FORMAT, "label store '%s': images[%d] '%s'.points: expected an array, got %s",
                              path, i, name, pixl__json_type(pts));
    int k = 0;
    for (const cJSON *p = pts->child; p; p = p->next, k++) {
        snprintf(where, sizeof where, "images[%d] '%.40s'.points[%d]", i, name, k);
        if (!cJSON_IsArray(p) || cJSON_GetArraySize(p) != 4)
            return pixl_set_error(PIXL_ERR_FORMAT, "label store '%s': %s: expected [y, x, class, round], got %s%s", path,
                                  where, pixl__json_type(p), cJSON_IsArray(p) ? " of another length" : "");
        int v[4], j = 0;
        for (const cJSON *c = p->child; c; c = c->next, j++)
            if (get_int(path, where, c, INT32_MIN, INT32_MAX, &v[j])) return pixl_last_status();
        int rc = pixl_label_store_add(s, name, v[0], v[1], v[2], v[3]);
        if (rc) return pixl_set_error(PIXL_ERR_FORMAT, "label store '%s': %s: %s", path, where, pixl_last_error());
    }
    return PIXL_OK;
}

pixl_label_store *pixl_label_store_load(const char *path)
{
    if (!path) {
        pixl_set_error(PIXL_ERR_ARG, "pixl_label_store_load: NULL path");
        return NULL;
    }
    unsigned char *buf;
    size_t len;
    if (pixl__read_file(path, "label store", MAX_FILE_BYTES, &buf, &len)) return NULL;
    cJSON *root = pixl__json_parse("label store", path, (const char *)buf, len);
    free(buf);
    pixl_label_store *s = root ? read_header(path, root) : NULL;
    const cJSON *images = s ? cJSON_GetObjectItemCaseSensitive(root, "images") : NULL;
    if (s && !cJSON_IsArray(images)) {
        pixl_set_error(PIXL_ERR_FORMAT, "label store '%s': images: expected an array, got %s", path, pixl__json_type(images));
        pixl_label_store_free(s);
        s = NULL;
    }
    int i = 0;
    for (const cJSON *img = s ? images->child : NULL; img; img = img->next, i++)
        if (read_image(path, s, img, i)) {
            pixl_label_store_free(s);
            s = NULL;
            break;
        }
    cJSON_Delete(root);
    return s;
}
