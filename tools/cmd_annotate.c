/* cmd_annotate.c — `pixl annotate`: PixelPick's keyboard-only annotation
 * tool as a local web page (docs/pixelpick.md, "Annotation tool").
 *
 *   pixl annotate --images DIR --queries FILE --labels OUT.json [--classes camvid|FILE]
 *                 [--gt DIR] [--round N] [--port N] [--bind ADDR --token T]
 *
 * A query set (which pixels to ask, per image) is read, and a small HTTP
 * server (libmicrohttpd) serves a page that shows one query point at a time
 * (PixelPick's filled red circle with a white border) and takes one key per
 * answer: a class key labels the point, Space/Esc skips it, Backspace undoes.
 * Every answer is saved at the key press, atomically: the label store
 * OUT.json (the file `pixl train` reads through data.sparse_labels), the
 * click log OUT.clicks/<image>.csv and the skips OUT.skipped.json. Started
 * again, the tool resumes at the first query that is neither labelled nor
 * skipped.
 *
 * Security: bound to 127.0.0.1 unless --bind names another address, which
 * needs --token; with a token every request must carry it (X-Pixl-Token or
 * ?token=), else 403. On a loopback address the Host header must name the
 * loopback (no DNS rebinding). Only the page, the images under --images (real
 * path checked to stay inside) and the JSON API are served; bodies are at
 * most ANNOT_MAX_BODY bytes; actions need Content-Type application/json (no
 * cross-site form posts); one mutex guards the labels.
 *
 * The request handling (annot_handle) works without a socket, for the unit
 * tests (tests/test_annotate.c); scripts/check_annotate_chromium.py drives
 * the page in a real browser. */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli_args.h"
#include "annotate.h"
#include "annotate_page.h"
#include "data/data_impl.h" /* pixl__json_type */
#include "pixl_data.h"

#define QUERY_FORMAT "pixl-query-set"
#define SKIPS_FORMAT "pixl-annotate-skips"
#define MAX_QUERY_FILE ((size_t)256 << 20)
#define MAX_ID 200

enum { Q_TODO = 0, Q_LABEL = 1, Q_SKIP = 2 };

typedef struct aquery {
    int32_t y, x;
    int img;          /* index of its image */
    int status;       /* Q_TODO, Q_LABEL, Q_SKIP */
    int label, round; /* when labelled (from the label store) */
    double seconds;   /* the click that labelled it (click log); 0 when not known */
    int gt;           /* ground-truth class, -1 when void or not known */
} aquery;

typedef struct aimage {
    char *id, *file; /* file: path under the images folder */
    int h, w;
    int q0, nq;      /* its queries: q[q0 .. q0 + nq), sorted by x then y */
} aimage;

/* one answer, for undo: the query and what it was before */
typedef struct ahist {
    int q, status, label, round;
    double seconds;
} ahist;

struct annot_app {
    pthread_mutex_t mu;
    char *images_real, *queries_path, *labels_path, *skips_path, *clicks_dir, *lock_path, *token;
    int lock_fd;
    int K;
    char **names;
    char keys[255];
    uint8_t colours[3 * 255];
    int round;
    aimage *img;
    int n_img;
    aquery *q;
    int n_q;
    pixl_label_store *store;
    int cur, view_img; /* the current query (n_q: none left) and the image shown */
    ahist *hist;
    int n_hist, cap_hist;
    double shown_at;   /* when the current query was shown */
    char msg[1024];
    int msg_err;
    int port, loopback, has_gt;
    struct MHD_Daemon *daemon;
};

static const char *const camvid_names[11] = {"Sky",        "Building", "Pole", "Road",       "Pavement", "Tree",
                                             "SignSymbol", "Fence",    "Car",  "Pedestrian", "Bicyclist"};
static const uint8_t camvid_colours[33] = {128, 128, 128, 128, 0,   0,   192, 192, 128, 128, 64,
                                           128, 60,  40,  222, 128, 128, 0,   192, 128, 128, 64,
                                           64,  128, 64,  0,   128, 64,  64,  0,   0,   128, 192};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static char *xstrdup(const char *s)
{
    char *d = s ? strdup(s) : NULL;
    return d;
}

static char *xprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0) s = NULL;
    va_end(ap);
    return s;
}

/* the whole file into a malloc'ed, 0-terminated buffer */
static int read_file(const char *what, const char *path, size_t max, char **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return pixl_set_error(errno == ENOENT ? PIXL_ERR_NOT_FOUND : PIXL_ERR_IO, "%s '%s': %s", what, path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode) || (size_t)st.st_size > max) {
        fclose(f);
        return pixl_set_error(PIXL_ERR_IO, "%s '%s': not a regular file of at most %zu MB", what, path, max >> 20);
    }
    char *b = malloc((size_t)st.st_size + 1);
    if (!b) {
        fclose(f);
        return pixl_set_error(PIXL_ERR_NOMEM, "%s '%s': out of memory", what, path);
    }
    size_t got = fread(b, 1, (size_t)st.st_size, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || got != (size_t)st.st_size) {
        free(b);
        return pixl_set_error(PIXL_ERR_IO, "%s '%s': read error", what, path);
    }
    b[got] = 0;
    *out = b;
    *n = got;
    return PIXL_OK;
}

/* v an integer in [lo, hi] */
static int json_int(const cJSON *v, long lo, long hi, int *out)
{
    if (!cJSON_IsNumber(v)) return -1;
    double d = v->valuedouble;
    if (!(d >= (double)lo && d <= (double)hi) || d != (double)(long)d) return -1;
    *out = (int)d;
    return 0;
}

/* parse a whole file or body as JSON: NULL with "WHAT 'PATH': line L: not valid JSON" */
static cJSON *parse_json(const char *what, const char *path, const char *buf, size_t n)
{
    const char *end = NULL;
    cJSON *root = n ? cJSON_ParseWithLengthOpts(buf, n, &end, 0) : NULL;
    size_t at = end && end >= buf && end <= buf + n ? (size_t)(end - buf) : n;
    while (root && at < n && isspace((unsigned char)buf[at])) at++;
    if (root && at == n) return root;
    cJSON_Delete(root);
    int line = 1;
    for (size_t i = 0; i < at && i < n; i++) line += buf[i] == '\n';
    if (!n) pixl_set_error(PIXL_ERR_FORMAT, "%s '%s': empty file", what, path);
    else pixl_set_error(PIXL_ERR_FORMAT, "%s '%s':%d: %s", what, path, line, root ? "text after the JSON value" : "not valid JSON (truncated or corrupt?)");
    return NULL;
}

/* an image id usable as a file name: no '/', no control characters, not "." / ".." */
static int safe_id(const char *id)
{
    size_t n = strlen(id);
    if (!n || n > MAX_ID || !strcmp(id, ".") || !strcmp(id, "..")) return 0;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        if (*p < 0x20 || *p == 0x7f || *p == '/' || *p == '\\') return 0;
    return 1;
}

/* names equal ignoring case and everything but letters and digits ("Sign symbol" == "SignSymbol") */
static int same_name(const char *a, const char *b)
{
    for (;;) {
        while (*a && !isalnum((unsigned char)*a)) a++;
        while (*b && !isalnum((unsigned char)*b)) b++;
        if (!*a || !*b) return !*a && !*b;
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return 0;
        a++, b++;
    }
}

/* ---------------------------------------------------------------- classes */

static int key_ok(int c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

static int key_used(const annot_app *a, int upto, int c)
{
    for (int k = 0; k < upto; k++)
        if (a->keys[k] == c) return 1;
    return 0;
}

/* the classes without a key get one: the first letter of the name, else the
 * first letters of its later words (and CamelCase parts), else its other
 * letters and digits in order, else the first free of a-z, 0-9 */
static int assign_keys(annot_app *a)
{
    for (int k = 0; k < a->K; k++) {
        if (a->keys[k]) continue;
        const char *nm = a->names[k];
        char cand[512];
        int n = 0;
        size_t len = strlen(nm);
        if (len && key_ok(tolower((unsigned char)nm[0]))) cand[n++] = (char)tolower((unsigned char)nm[0]);
        for (size_t i = 1; i < len && n < 500; i++) {
            unsigned char c = (unsigned char)nm[i], p = (unsigned char)nm[i - 1];
            int start = isalnum(c) && (!isalnum(p) || (isupper(c) && islower(p)));
            if (start) cand[n++] = (char)tolower(c);
        }
        for (size_t i = 0; i < len && n < 500; i++)
            if (isalnum((unsigned char)nm[i])) cand[n++] = (char)tolower((unsigned char)nm[i]);
        for (const char *p = "abcdefghijklmnopqrstuvwxyz0123456789"; *p && n < 510; p++) cand[n++] = *p;
        for (int i = 0; i < n; i++)
            if (key_ok(cand[i]) && !key_used(a, a->K, cand[i])) {
                a->keys[k] = cand[i];
                break;
            }
        if (!a->keys[k]) return pixl_set_error(PIXL_ERR_ARG, "classes: no key left for class %d '%s' (36 keys: a-z, 0-9)", k, nm);
    }
    return PIXL_OK;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s)) s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = 0;
    return s;
}

/* a classes file: one class per line, in class order, "NAME" or "NAME = KEY"
 * or "NAME = KEY #RRGGBB"; '#' at the start of a line is a comment */
static int load_classes_file(annot_app *a, const char *path)
{
    char *buf;
    size_t n;
    int rc = read_file("classes file", path, (size_t)1 << 20, &buf, &n);
    if (rc) return rc;
    if (memchr(buf, 0, n)) {
        free(buf);
        return pixl_set_error(PIXL_ERR_FORMAT, "classes file '%s': a NUL byte (not a text file)", path);
    }
    a->names = calloc(255, sizeof *a->names);
    uint8_t voc[3 * 255];
    pixl_voc_colours(255, voc);
    int line = 0;
    rc = PIXL_OK;
    for (char *s = buf, *next; s && *s && !rc; s = next) {
        next = strchr(s, '\n');
        if (next) *next++ = 0;
        line++;
        char *t = trim(s);
        if (!*t || *t == '#') continue;
        if (a->K == 255) {
            rc = pixl_set_error(PIXL_ERR_FORMAT, "classes file '%s':%d: more than 255 classes", path, line);
            break;
        }
        char *eq = strchr(t, '='), *key = NULL, *colour = NULL;
        if (eq) {
            *eq = 0;
            char *r = trim(eq + 1);
            key = r;
            while (*r && !isspace((unsigned char)*r)) r++;
            if (*r) {
                *r++ = 0;
                colour = trim(r);
            }
        }
        char *name = trim(t);
        int k = a->K;
        if (!*name) rc = pixl_set_error(PIXL_ERR_FORMAT, "classes file '%s':%d: a class without a name", path, line);
        else if (strlen(name) > 100 || strpbrk(name, ",\"<>&"))
            rc = pixl_set_error(PIXL_ERR_FORMAT, "classes file '%s':%d: class name '%.40s': at most 100 characters, none of , \" < > &",
                                path, line, name);
        for (int j = 0; j < k && !rc; j++)
            if (same_name(a->names[j], name))
                rc = pixl_set_error(PIXL_ERR_FORMAT, "classes file '%s':%d: class '%s' is listed twice (class %d '%s')", path, line,
                                    name, j, a->names[j]);
        if (!rc && key) {
            int c = strlen(key) == 1 ? tolower((unsigned char)key[0]) : 0;
            if (!key_ok(c))
                rc = pixl_set_error(PIXL_ERR_FORMAT, "classes file '%s':%d: key '%s' of class '%s': expected one letter a-z or digit 0-9",
                                    path, line, key, name);
            else if (key_used(a, k, c))
                rc = pixl_set_error(PIXL_ERR_FORMAT, "classes file '%s':%d: key '%c' of class '%s' is taken by another class", path,
                                    line, c, name);
            else a->keys[k] = (char)c;
        }
        memcpy(a->colours + 3 * k, voc + 3 * k, 3);
        if (!rc && colour && *colour) {
            unsigned r, g, b;
            char tail;
            if (strlen(colour) != 7 || strspn(colour + 1, "0123456789abcdefABCDEF") != 6 ||
                sscanf(colour, "#%2x%2x%2x%c", &r, &g, &b, &tail) != 3)
                rc = pixl_set_error(PIXL_ERR_FORMAT, "classes file '%s':%d: colour '%s' of class '%s': expected #RRGGBB", path, line,
                                    colour, name);
            else a->colours[3 * k] = (uint8_t)r, a->colours[3 * k + 1] = (uint8_t)g, a->colours[3 * k + 2] = (uint8_t)b;
        }
        if (!rc) {
            a->names[k] = xstrdup(name);
            a->K++;
        }
    }
    free(buf);
    if (!rc && a->K == 0) rc = pixl_set_error(PIXL_ERR_FORMAT, "classes file '%s': no class (one per line: NAME or NAME = KEY)", path);
    if (!rc && a->K > 36) rc = pixl_set_error(PIXL_ERR_FORMAT, "classes file '%s': %d classes, but only 36 keys (a-z, 0-9)", path, a->K);
    return rc;
}

static int load_classes(annot_app *a, const char *spec)
{
    if (!spec || !strcmp(spec, "camvid")) {
        a->K = 11;
        a->names = calloc(255, sizeof *a->names);
        for (int k = 0; k < 11; k++) a->names[k] = xstrdup(camvid_names[k]);
        memcpy(a->colours, camvid_colours, sizeof camvid_colours);
    } else {
        int rc = load_classes_file(a, spec);
        if (rc) return rc;
    }
    return assign_keys(a);
}

/* ------------------------------------------------------------ image paths */

int annot_resolve(const char *root_real, const char *rel, char *out, size_t cap)
{
    if (!rel || !*rel || rel[0] == '/' || strlen(rel) > 1024) return 403;
    /* no ".." component at all (the real path check below is the rule, this the first line) */
    for (const char *p = rel; *p;) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.') return 403;
        p += n + (e ? 1 : 0);
    }
    const char *ext = strrchr(rel, '.');
    if (!ext || (strcasecmp(ext, ".png") && strcasecmp(ext, ".jpg") && strcasecmp(ext, ".jpeg"))) return 403;
    char *joined = xprintf("%s/%s", root_real, rel);
    if (!joined) return 404;
    char *real = realpath(joined, NULL);
    free(joined);
    if (!real) return errno == ENOENT || errno == ENOTDIR ? 404 : 403;
    size_t rl = strlen(root_real);
    int inside = !strncmp(real, root_real, rl) && (real[rl] == '/' || (rl == 1 && root_real[0] == '/'));
    struct stat st;
    int status = !inside ? 403 : stat(real, &st) || !S_ISREG(st.st_mode) ? 404 : 200;
    ext = strrchr(real, '.'); /* a link inside the folder to a file that is not an image */
    if (status == 200 && (!ext || (strcasecmp(ext, ".png") && strcasecmp(ext, ".jpg") && strcasecmp(ext, ".jpeg")))) status = 403;
    if (status == 200 && strlen(real) >= cap) status = 404;
    if (status == 200) memcpy(out, real, strlen(real) + 1);
    free(real);
    return status;
}

int annot_token_equal(const char *want, const char *got)
{
    if (!want || !got) return 0;
    size_t nw = strlen(want), ng = strlen(got);
    unsigned diff = (unsigned)(nw != ng);
    for (size_t i = 0; i < nw; i++) diff |= (unsigned char)want[i] ^ (unsigned char)(i < ng ? got[i] : 0);
    return diff == 0;
}

/* ------------------------------------------------------------ query set */

typedef struct qimg {
    char *id, *file;
    int h, w, n;
    int32_t *yx;
} qimg;

static int cmp_xy(const void *pa, const void *pb)
{
    const int32_t *a = pa, *b = pb;
    if (a[1] != b[1]) return a[1] < b[1] ? -1 : 1;
    return a[0] < b[0] ? -1 : a[0] > b[0];
}

/* the query set's images and points (before the images are looked at) */
static int read_query_file(annot_app *a, const char *path, qimg **out, int *n_out, int *round)
{
    *out = NULL;
    *n_out = 0;
    *round = 0;
    char *buf;
    size_t n;
    int rc = read_file("query set", path, MAX_QUERY_FILE, &buf, &n);
    if (rc) return rc;
    cJSON *root = parse_json("query set", path, buf, n);
    free(buf);
    if (!root) return pixl_last_status();
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(root, "format");
    qimg *im = NULL;
    int ni = 0;
    if (cJSON_IsString(fmt) && !strcmp(fmt->valuestring, "pixl-label-store")) {
        /* a label store as a query set: its points are the queries, their classes are not used */
        cJSON_Delete(root);
        pixl_label_store *s = pixl_label_store_load(path);
        if (!s) return pixl_last_status();
        ni = pixl_label_store_n_images(s);
        im = calloc((size_t)ni + 1, sizeof *im);
        for (int i = 0; i < ni; i++) {
            const char *id = pixl_label_store_image(s, i, &im[i].h, &im[i].w, &im[i].n);
            const pixl_label_point *p = pixl_label_store_points(s, i);
            im[i].id = xstrdup(id);
            im[i].yx = malloc(sizeof(int32_t) * 2 * ((size_t)im[i].n + 1));
            for (int k = 0; k < im[i].n; k++) {
                im[i].yx[2 * k] = p[k].y, im[i].yx[2 * k + 1] = p[k].x;
                if (p[k].round > *round) *round = p[k].round;
            }
        }
        pixl_label_store_free(s);
        *out = im;
        *n_out = ni;
        return PIXL_OK;
    }
    rc = PIXL_OK;
    if (!cJSON_IsObject(root))
        rc = pixl_set_error(PIXL_ERR_FORMAT, "query set '%s': expected a JSON object, got %s", path, pixl__json_type(root));
    else if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, QUERY_FORMAT))
        rc = pixl_set_error(PIXL_ERR_FORMAT, "query set '%s': \"format\" is %s%s%s, expected \"%s\" (or a \"pixl-label-store\" file)",
                            path, cJSON_IsString(fmt) ? "'" : pixl__json_type(fmt), cJSON_IsString(fmt) ? fmt->valuestring : "",
                            cJSON_IsString(fmt) ? "'" : "", QUERY_FORMAT);
    int version = 0;
    if (!rc && json_int(cJSON_GetObjectItemCaseSensitive(root, "version"), 1, INT32_MAX, &version))
        rc = pixl_set_error(PIXL_ERR_FORMAT, "query set '%s': version: expected an integer >= 1", path);
    if (!rc && version > 1)
        rc = pixl_set_error(PIXL_ERR_UNSUPPORTED, "query set '%s': version %d is newer than this pixl reads (1)", path, version);
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(root, "round");
    if (!rc && r && !cJSON_IsNull(r) && json_int(r, 0, INT32_MAX, round))
        rc = pixl_set_error(PIXL_ERR_FORMAT, "query set '%s': round: expected an integer >= 0, got %s", path, pixl__json_type(r));
    const cJSON *images = cJSON_GetObjectItemCaseSensitive(root, "images");
    if (!rc && !cJSON_IsArray(images))
        rc = pixl_set_error(PIXL_ERR_FORMAT, "query set '%s': images: expected an array, got %s", path, pixl__json_type(images));
    if (!rc) {
        ni = cJSON_GetArraySize(images);
        im = calloc((size_t)ni + 1, sizeof *im);
    }
    int i = 0;
    for (const cJSON *e = rc ? NULL : images->child; e && !rc; e = e->next, i++) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "id"), *file = cJSON_GetObjectItemCaseSensitive(e, "file");
        const cJSON *h = cJSON_GetObjectItemCaseSensitive(e, "height"), *w = cJSON_GetObjectItemCaseSensitive(e, "width");
        const cJSON *pts = cJSON_GetObjectItemCaseSensitive(e, "points");
        if (!cJSON_IsObject(e)) {
            rc = pixl_set_error(PIXL_ERR_FORMAT, "query set '%s': images[%d]: expected an object, got %s", path, i, pixl__json_type(e));
            break;
        }
        if (!cJSON_IsString(id) || !safe_id(id->valuestring)) {
            rc = pixl_set_error(PIXL_ERR_FORMAT, "query set '%s': images[%d].id: expected the image's name (1 to %d characters, no '/'), got %s%s%.60s%s",
                                path, i, MAX_ID, pixl__json_type(id), cJSON_IsString(id) ? " '" : "", cJSON_IsString(id) ? id->valuestring : "",
                                cJSON_IsString(id) ? "'" : "");
            break;
        }
        im[i].id = xstrdup(id->valuestring);
        for (int j = 0; j < i; j++)
            if (!strcmp(im[j].id, im[i].id)) {
                rc = pixl_set_error(PIXL_ERR_FORMAT, "query set '%s': images[%d]: image '%s' is listed twice (images[%d] too)", path, i,
                                    im[i].id, j);
                break;
            }
        if (rc) break;
        if (file && !cJSON_IsNull(file)) {
            if (!cJSON_IsString(file) || !file->valuestring[0]) {
                rc = pixl_set_error(PIXL_ERR_FORMAT, "query set '%s': images[%d] '%s'.file: expected a path under --images, got %s",
                                    path, i, im[i].id, pixl__json_type(file));
                break;
            }
            im[i].file = xstrdup(file->valuestring);
        }
        if ((h && json_int(h, 1, PIXL_IMAGE_MAX_DIM, &im[i].h)) || (w && json_int(w, 1, PIXL_IMAGE_MAX_DIM, &im[i].w))) {
            rc = pixl_set_error(PIXL_ERR_FORMAT, "query set '%s': images[%d] '%s': height and width: expected integers in [1, %d]",
                                path, i, im[i].id, PIXL_IMAGE_MAX_DIM);
            break;
        }
        if (!cJSON_IsArray(pts)) {
            rc = pixl_set_error(PIXL_ERR_FORMAT, "query set '%s': images[%d] '%s'.points: expected an array of [y, x], got %s", path,
                                i, im[i].id, pixl__json_type(pts));
            break;
        }
        im[i].yx = malloc(sizeof(int32_t) * 2 * ((size_t)cJSON_GetArraySize(pts) + 1));
        int k = 0;
        for (const cJSON *p = pts->child; p; p = p->next, k++) {
            int y, x;
            if (!cJSON_IsArray(p) || cJSON_GetArraySize(p) != 2 || json_int(p->child, 0, INT32_MAX, &y) ||
                json_int(p->child->next, 0, INT32_MAX, &x)) {
                rc = pixl_set_error(PIXL_ERR_FORMAT, "query set '%s': images[%d] '%s'.points[%d]: expected [y, x], two integers >= 0",
                                    path, i, im[i].id, k);
                break;
            }
            im[i].yx[2 * k] = y, im[i].yx[2 * k + 1] = x;
            im[i].n = k + 1;
        }
    }
    cJSON_Delete(root);
    if (rc) {
        for (int j = 0; j < ni; j++) free(im[j].id), free(im[j].file), free(im[j].yx);
        free(im);
        return rc;
    }
    *out = im;
    *n_out = ni;
    return PIXL_OK;
}

/* the image file of query image i under the images folder */
static int find_image(annot_app *a, const char *qpath, int i, qimg *im, char *real, size_t cap)
{
    if (im->file) {
        int st = annot_resolve(a->images_real, im->file, real, cap);
        if (st != 200)
            return pixl_set_error(PIXL_ERR_NOT_FOUND, "query set '%s': images[%d] '%s'.file '%s': %s", qpath, i, im->id, im->file,
                                  st == 404 ? "no such file under --images" : "not a PNG or JPEG file inside --images");
        return PIXL_OK;
    }
    static const char *const exts[] = {".png", ".jpg", ".jpeg", ".PNG", ".JPG", ".JPEG"};
    for (int e = 0; e < 6; e++) {
        char rel[MAX_ID + 8];
        snprintf(rel, sizeof rel, "%s%s", im->id, exts[e]);
        if (annot_resolve(a->images_real, rel, real, cap) == 200) {
            im->file = xstrdup(rel);
            return PIXL_OK;
        }
    }
    return pixl_set_error(PIXL_ERR_NOT_FOUND, "query set '%s': images[%d]: no image '%s.png', '%s.jpg' or '%s.jpeg' in --images '%s'",
                          qpath, i, im->id, im->id, im->id, a->images_real);
}

/* the query set into a->img / a->q, every image looked at and every point checked */
static int load_queries(annot_app *a, const char *path, const char *gt_dir, int round_opt)
{
    qimg *im;
    int ni, round, rc = read_query_file(a, path, &im, &ni, &round);
    if (rc) return rc;
    a->round = round_opt >= 0 ? round_opt : round;
    size_t total = 0;
    for (int i = 0; i < ni; i++) total += (size_t)im[i].n;
    if (total > (size_t)1 << 28) rc = pixl_set_error(PIXL_ERR_FORMAT, "query set '%s': %zu points, more than 2^28", path, total);
    a->img = calloc((size_t)ni + 1, sizeof *a->img);
    a->q = calloc(total + 1, sizeof *a->q);
    a->n_img = ni;
    for (int i = 0; i < ni && !rc; i++) {
        char real[PATH_MAX];
        rc = find_image(a, path, i, &im[i], real, sizeof real);
        if (rc) break;
        pixl_image *pic = pixl_image_load(real, 0, 0);
        if (!pic) {
            rc = pixl_set_error(PIXL_ERR_FORMAT, "query set '%s': images[%d] '%s': %s", path, i, im[i].id, pixl_last_error());
            break;
        }
        int h = pic->height, w = pic->width;
        pixl_image_free(pic);
        if ((im[i].h && im[i].h != h) || (im[i].w && im[i].w != w)) {
            rc = pixl_set_error(PIXL_ERR_FORMAT, "query set '%s': images[%d] '%s' is %d x %d (height x width) in the query set, but its file '%s' is %d x %d",
                                path, i, im[i].id, im[i].h, im[i].w, real, h, w);
            break;
        }
        for (int k = 0; k < im[i].n && !rc; k++) {
            int y = im[i].yx[2 * k], x = im[i].yx[2 * k + 1];
            if (y >= h || x >= w)
                rc = pixl_set_error(PIXL_ERR_FORMAT, "query set '%s': images[%d] '%s'.points[%d]: pixel (y %d, x %d) is outside the image (height %d, width %d)",
                                    path, i, im[i].id, k, y, x, h, w);
        }
        if (rc) break;
        qsort(im[i].yx, (size_t)im[i].n, 2 * sizeof(int32_t), cmp_xy);
        for (int k = 1; k < im[i].n && !rc; k++)
            if (im[i].yx[2 * k] == im[i].yx[2 * k - 2] && im[i].yx[2 * k + 1] == im[i].yx[2 * k - 1])
                rc = pixl_set_error(PIXL_ERR_FORMAT, "query set '%s': images[%d] '%s': pixel (y %d, x %d) is asked twice", path, i,
                                    im[i].id, im[i].yx[2 * k], im[i].yx[2 * k + 1]);
        if (rc) break;
        int32_t *gt = NULL;
        if (gt_dir) {
            char *gp = xprintf("%s/%s.png", gt_dir, im[i].id);
            int gw, gh;
            gt = gp ? pixl_label_load(gp, &gw, &gh) : NULL;
            if (!gt) rc = pixl_set_error(PIXL_ERR_NOT_FOUND, "--gt: %s", pixl_last_error());
            else if (gw != w || gh != h)
                rc = pixl_set_error(PIXL_ERR_FORMAT, "--gt '%s' is %d x %d (height x width), its image '%s' %d x %d", gp, gh, gw, real, h, w);
            free(gp);
            if (rc) {
                free(gt);
                break;
            }
        }
        aimage *m = &a->img[i];
        m->id = im[i].id, m->file = im[i].file, m->h = h, m->w = w;
        im[i].id = im[i].file = NULL;
        m->q0 = i ? a->img[i - 1].q0 + a->img[i - 1].nq : 0;
        m->nq = im[i].n;
        for (int k = 0; k < m->nq; k++) {
            aquery *q = &a->q[m->q0 + k];
            q->y = im[i].yx[2 * k], q->x = im[i].yx[2 * k + 1], q->img = i, q->label = -1, q->round = 0, q->gt = -1;
            if (gt) {
                int v = gt[(size_t)q->y * w + q->x];
                q->gt = v >= 0 && v < a->K ? v : -1;
            }
        }
        a->n_q = m->q0 + m->nq;
        free(gt);
    }
    for (int j = 0; j < ni; j++) free(im[j].id), free(im[j].file), free(im[j].yx);
    free(im);
    a->has_gt = gt_dir != NULL;
    return rc;
}

/* ------------------------------------------------------------- files */

static aimage *image_by_id(annot_app *a, const char *id)
{
    for (int i = 0; i < a->n_img; i++)
        if (!strcmp(a->img[i].id, id)) return &a->img[i];
    return NULL;
}

/* query of image m at (y, x), or -1 */
static int find_query(const annot_app *a, const aimage *m, int y, int x)
{
    for (int k = 0; k < m->nq; k++)
        if (a->q[m->q0 + k].y == y && a->q[m->q0 + k].x == x) return m->q0 + k;
    return -1;
}

/* the label store at --labels: read (checked against the classes and the
 * query set) or new; the query images added; the labelled queries marked */
static int open_labels(annot_app *a)
{
    pixl_label_store *s = NULL;
    struct stat st;
    if (!stat(a->labels_path, &st)) {
        s = pixl_label_store_load(a->labels_path);
        if (!s)
            return pixl_set_error(PIXL_ERR_FORMAT, "%s (the file is left as it is: repair it, or name another --labels file)",
                                  pixl_last_error());
        int rc = PIXL_OK;
        if (pixl_label_store_n_classes(s) != a->K)
            rc = pixl_set_error(PIXL_ERR_FORMAT, "--labels '%s' has %d classes, the legend (--classes) %d", a->labels_path,
                                pixl_label_store_n_classes(s), a->K);
        for (int k = 0; k < a->K && !rc; k++) {
            const char *nm = pixl_label_store_class_name(s, k);
            if (nm && !same_name(nm, a->names[k]))
                rc = pixl_set_error(PIXL_ERR_FORMAT, "--labels '%s': class %d is '%s' there, '%s' in the legend (--classes)", a->labels_path, k,
                                    nm, a->names[k]);
        }
        for (int i = 0; i < pixl_label_store_n_images(s) && !rc; i++) {
            int h, w;
            const char *id = pixl_label_store_image(s, i, &h, &w, NULL);
            aimage *m = image_by_id(a, id);
            if (!m)
                rc = pixl_set_error(PIXL_ERR_FORMAT, "--labels '%s' has image '%s', which the query set '%s' does not name: labels of other images? (the file is left as it is; name another --labels file)",
                                    a->labels_path, id, a->queries_path);
            else if (m->h != h || m->w != w)
                rc = pixl_set_error(PIXL_ERR_FORMAT, "--labels '%s': image '%s' is %d x %d there, %d x %d in --images (height x width)",
                                    a->labels_path, id, h, w, m->h, m->w);
        }
        if (rc) {
            pixl_label_store_free(s);
            return rc;
        }
    } else if (errno == ENOENT) {
        s = pixl_label_store_new(a->K, (const char *const *)a->names);
        if (!s) return pixl_last_status();
    } else {
        return pixl_set_error(PIXL_ERR_IO, "--labels '%s': %s", a->labels_path, strerror(errno));
    }
    for (int i = 0; i < a->n_img; i++)
        if (pixl_label_store_add_image(s, a->img[i].id, a->img[i].h, a->img[i].w) < 0) {
            pixl_label_store_free(s);
            return pixl_last_status();
        }
    for (int i = 0; i < a->n_q; i++) {
        pixl_label_point p;
        if (pixl_label_store_get(s, a->img[a->q[i].img].id, a->q[i].y, a->q[i].x, &p) == 1)
            a->q[i].status = Q_LABEL, a->q[i].label = p.label, a->q[i].round = p.round;
    }
    a->store = s;
    return PIXL_OK;
}

/* OUT.skipped.json: {"format": "pixl-annotate-skips", "version": 1,
 * "images": [{"id": ..., "points": [[y, x], ...]}]} */
static int load_skips(annot_app *a)
{
    char *buf;
    size_t n;
    int rc = read_file("skips file", a->skips_path, (size_t)1 << 30, &buf, &n);
    if (rc == PIXL_ERR_NOT_FOUND) return PIXL_OK;
    if (rc) return rc;
    cJSON *root = parse_json("skips file", a->skips_path, buf, n);
    free(buf);
    if (!root) return pixl_set_error(PIXL_ERR_FORMAT, "%s (repair it or delete it: it only lists skipped points)", pixl_last_error());
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(root, "format"), *images = cJSON_GetObjectItemCaseSensitive(root, "images");
    if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, SKIPS_FORMAT) || !cJSON_IsArray(images)) {
        cJSON_Delete(root);
        return pixl_set_error(PIXL_ERR_FORMAT, "skips file '%s': expected {\"format\": \"%s\", \"images\": [...]} (repair it or delete it: it only lists skipped points)",
                              a->skips_path, SKIPS_FORMAT);
    }
    int ignored = 0;
    for (const cJSON *e = images->child; e; e = e->next) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "id"), *pts = cJSON_GetObjectItemCaseSensitive(e, "points");
        aimage *m = cJSON_IsString(id) ? image_by_id(a, id->valuestring) : NULL;
        if (!m || !cJSON_IsArray(pts)) {
            ignored++;
            continue;
        }
        for (const cJSON *p = pts->child; p; p = p->next) {
            int y, x, qi = -1;
            if (cJSON_IsArray(p) && cJSON_GetArraySize(p) == 2 && !json_int(p->child, 0, INT32_MAX, &y) &&
                !json_int(p->child->next, 0, INT32_MAX, &x))
                qi = find_query(a, m, y, x);
            if (qi < 0) ignored++;
            else if (a->q[qi].status == Q_TODO) a->q[qi].status = Q_SKIP; /* labelled wins */
        }
    }
    cJSON_Delete(root);
    if (ignored)
        fprintf(stderr, "pixl annotate: skips file '%s': %d entries are not queries of '%s' (ignored)\n", a->skips_path, ignored,
                a->queries_path);
    return PIXL_OK;
}

static int save_skips(annot_app *a)
{
    pixl_json j = {0};
    pixl_json_set_layout(&j, PIXL_JSON_COMPACT);
    pixl_json_begin_object(&j, NULL);
    pixl_json_str(&j, "format", SKIPS_FORMAT);
    pixl_json_int(&j, "version", 1);
    pixl_json_str(&j, "labels", a->labels_path);
    pixl_json_begin_array(&j, "images");
    for (int i = 0; i < a->n_img; i++) {
        const aimage *m = &a->img[i];
        int any = 0;
        for (int k = 0; k < m->nq; k++) any |= a->q[m->q0 + k].status == Q_SKIP;
        if (!any) continue;
        pixl_json_begin_object(&j, NULL);
        pixl_json_str(&j, "id", m->id);
        pixl_json_begin_array(&j, "points");
        for (int k = 0; k < m->nq; k++)
            if (a->q[m->q0 + k].status == Q_SKIP) {
                pixl_json_begin_array(&j, NULL);
                pixl_json_int(&j, NULL, a->q[m->q0 + k].y);
                pixl_json_int(&j, NULL, a->q[m->q0 + k].x);
                pixl_json_end_array(&j);
            }
        pixl_json_end_array(&j);
        pixl_json_end_object(&j);
    }
    pixl_json_end_array(&j);
    pixl_json_end_object(&j);
    char *t = pixl_json_finish(&j, "skips file");
    if (!t) return pixl_last_status();
    size_t n = strlen(t);
    t[n] = '\n'; /* the writer's buffer holds the terminating 0 */
    int rc = pixl_atomic_write(a->skips_path, t, n + 1);
    free(t);
    return rc;
}

static char *click_log_path(const annot_app *a, const aimage *m) { return xprintf("%s/%s.csv", a->clicks_dir, m->id); }

/* the seconds of an earlier run's clicks (a log that does not read is left to be rewritten) */
static void load_click_logs(annot_app *a)
{
    for (int i = 0; i < a->n_img; i++) {
        aimage *m = &a->img[i];
        char *p = click_log_path(a, m);
        pixl_click *rows = NULL;
        int n = 0;
        if (p && !access(p, F_OK)) {
            if (pixl_click_log_load(p, a->K, (const char *const *)a->names, &rows, &n))
                fprintf(stderr, "pixl annotate: %s (its times are not used; it is written again at the next label of '%s')\n",
                        pixl_last_error(), m->id);
            for (int r = 0; r < n; r++) {
                int qi = find_query(a, m, rows[r].y, rows[r].x);
                if (qi >= 0 && a->q[qi].status == Q_LABEL && a->q[qi].label == rows[r].label) a->q[qi].seconds = rows[r].seconds;
            }
        }
        free(rows);
        free(p);
    }
}

/* the click log of image m: its labelled queries in the order labelled */
static int save_click_log(annot_app *a, const aimage *m)
{
    int idx = pixl_label_store_find(a->store, m->id), np = 0;
    pixl_label_store_image(a->store, idx, NULL, NULL, &np);
    const pixl_label_point *p = pixl_label_store_points(a->store, idx);
    pixl_click *rows = malloc(sizeof *rows * ((size_t)np + 1));
    int n = 0;
    double total = 0;
    for (int k = 0; rows && k < np; k++) {
        int qi = find_query(a, m, p[k].y, p[k].x);
        if (qi < 0) continue; /* a point of another round, not asked here */
        total += a->q[qi].seconds;
        rows[n++] = (pixl_click){p[k].y, p[k].x, p[k].label, a->q[qi].seconds, total};
    }
    if (mkdir(a->clicks_dir, 0777) && errno != EEXIST) {
        free(rows);
        return pixl_set_error(PIXL_ERR_IO, "click logs '%s': %s", a->clicks_dir, strerror(errno));
    }
    char *path = click_log_path(a, m);
    int rc = rows && path ? pixl_click_log_save(path, rows, n, a->K, (const char *const *)a->names) : PIXL_ERR_NOMEM;
    free(path);
    free(rows);
    return rc;
}

/* ------------------------------------------------------------- state */

static void set_msg(annot_app *a, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_msg(annot_app *a, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->msg, sizeof a->msg, fmt, ap);
    va_end(ap);
    a->msg_err = err;
}

static void set_cursor(annot_app *a, int qi)
{
    a->cur = qi;
    if (qi < a->n_q) a->view_img = a->q[qi].img;
    a->shown_at = now_s();
}

/* the first unanswered query after `from` (wrapping round), or n_q */
static int next_todo(const annot_app *a, int from)
{
    for (int i = 1; i <= a->n_q; i++) {
        int k = (from + i) % (a->n_q + 1);
        if (k < a->n_q && a->q[k].status == Q_TODO) return k;
    }
    return a->n_q;
}

static int push_hist(annot_app *a, ahist h)
{
    if (a->n_hist == a->cap_hist) {
        int cap = a->cap_hist ? 2 * a->cap_hist : 256;
        ahist *n = realloc(a->hist, sizeof *n * (size_t)cap);
        if (!n) return PIXL_ERR_NOMEM;
        a->hist = n, a->cap_hist = cap;
    }
    a->hist[a->n_hist++] = h;
    return PIXL_OK;
}

/* Give query qi the answer (status, label, round, seconds) and save, in an
 * order that lets a crash between two writes lose nothing: the label store
 * when a label appears or goes, the skips file when a skip does (a query
 * both labelled and skipped on disk counts as labelled). On failure the
 * files and the memory are as before and the error says why. */
static int set_answer(annot_app *a, int qi, int status, int label, int round, double seconds)
{
    aquery old = a->q[qi], *q = &a->q[qi];
    aimage *m = &a->img[q->img];
    int store_changes = (old.status == Q_LABEL) != (status == Q_LABEL) ||
                        (status == Q_LABEL && (old.label != label || old.round != round));
    int skips_change = (old.status == Q_SKIP) != (status == Q_SKIP);
    pixl_label_store *backup = NULL;
    if (store_changes) {
        backup = pixl_label_store_clone(a->store);
        if (!backup) return pixl_last_status();
        if (old.status == Q_LABEL && pixl_label_store_remove(a->store, m->id, q->y, q->x)) goto fail;
        if (status == Q_LABEL && pixl_label_store_add(a->store, m->id, q->y, q->x, label, round)) goto fail;
    }
    q->status = status, q->label = status == Q_LABEL ? label : -1, q->round = status == Q_LABEL ? round : 0;
    q->seconds = status == Q_LABEL ? seconds : 0;
    /* a skip is written before the label goes, a label before the skip goes */
    if (skips_change && status == Q_SKIP && save_skips(a)) goto fail;
    if (store_changes && pixl_label_store_save(a->store, a->labels_path)) {
        if (skips_change && status == Q_SKIP) {
            char keep[1024];
            snprintf(keep, sizeof keep, "%s", pixl_last_error());
            *q = old;
            save_skips(a);
            pixl_set_error(PIXL_ERR_IO, "%s", keep);
        }
        goto fail;
    }
    if (skips_change && status != Q_SKIP && save_skips(a))
        fprintf(stderr, "pixl annotate: %s (the label is saved; the skip it replaces is ignored on reading)\n", pixl_last_error());
    pixl_label_store_free(backup);
    if (store_changes && save_click_log(a, m)) {
        set_msg(a, 1, "saved the label, but not the click log: %s", pixl_last_error());
        return 1; /* not an error: the label is on disk */
    }
    return PIXL_OK;
fail:
    *q = old;
    if (backup) {
        pixl_label_store_free(a->store);
        a->store = backup;
    }
    return pixl_last_status() ? pixl_last_status() : PIXL_ERR_IO;
}

static void url_encode(pixl_json *j, const char *key, const char *prefix, const char *s)
{
    size_t n = strlen(prefix) + 3 * strlen(s) + 1;
    char *out = malloc(n), *o = out;
    if (!out) return;
    o += sprintf(o, "%s", prefix);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || strchr("-._~/", *p)) *o++ = (char)*p;
        else o += sprintf(o, "%%%02X", *p);
    }
    *o = 0;
    pixl_json_str(j, key, out);
    free(out);
}

/* the page's view of everything (under the mutex) */
static char *state_json(annot_app *a)
{
    pixl_json j = {0};
    pixl_json_set_layout(&j, PIXL_JSON_COMPACT);
    pixl_json_begin_object(&j, NULL);
    pixl_json_begin_array(&j, "classes");
    for (int k = 0; k < a->K; k++) {
        char key[2] = {a->keys[k], 0}, col[8];
        snprintf(col, sizeof col, "#%02x%02x%02x", a->colours[3 * k], a->colours[3 * k + 1], a->colours[3 * k + 2]);
        pixl_json_begin_object(&j, NULL);
        pixl_json_str(&j, "name", a->names[k]);
        pixl_json_str(&j, "key", key);
        pixl_json_str(&j, "colour", col);
        pixl_json_end_object(&j);
    }
    pixl_json_end_array(&j);
    int n[3] = {0, 0, 0}, correct = 0, judged = 0, timed = 0;
    double secs = 0;
    for (int i = 0; i < a->n_q; i++) {
        n[a->q[i].status]++;
        if (a->q[i].status == Q_LABEL && a->q[i].gt >= 0) judged++, correct += a->q[i].gt == a->q[i].label;
        if (a->q[i].status == Q_LABEL && a->q[i].seconds > 0) timed++, secs += a->q[i].seconds;
    }
    pixl_json_int(&j, "n_images", a->n_img);
    pixl_json_int(&j, "n_queries", a->n_q);
    pixl_json_int(&j, "todo", n[Q_TODO]);
    pixl_json_int(&j, "labelled", n[Q_LABEL]);
    pixl_json_int(&j, "skipped", n[Q_SKIP]);
    pixl_json_int(&j, "cursor", a->cur);
    pixl_json_bool(&j, "done", a->cur >= a->n_q);
    pixl_json_bool(&j, "can_undo", a->n_hist > 0);
    const aimage *m = a->n_img ? &a->img[a->view_img] : NULL;
    if (m) {
        pixl_json_begin_object(&j, "image");
        pixl_json_int(&j, "index", a->view_img);
        pixl_json_str(&j, "id", m->id);
        url_encode(&j, "url", "/images/", m->file);
        pixl_json_int(&j, "height", m->h);
        pixl_json_int(&j, "width", m->w);
        pixl_json_int(&j, "first", m->q0);
        pixl_json_int(&j, "current", a->cur < a->n_q && a->q[a->cur].img == a->view_img ? a->cur - m->q0 : -1);
        pixl_json_begin_array(&j, "queries"); /* [y, x, status (0 to do, 1 labelled, 2 skipped), class or -1] */
        for (int k = 0; k < m->nq; k++) {
            const aquery *q = &a->q[m->q0 + k];
            pixl_json_begin_array(&j, NULL);
            pixl_json_int(&j, NULL, q->y);
            pixl_json_int(&j, NULL, q->x);
            pixl_json_int(&j, NULL, q->status);
            pixl_json_int(&j, NULL, q->status == Q_LABEL ? q->label : -1);
            pixl_json_end_array(&j);
        }
        pixl_json_end_array(&j);
        pixl_json_end_object(&j);
    } else {
        pixl_json_null(&j, "image");
    }
    if (a->cur < a->n_q) {
        const aquery *q = &a->q[a->cur];
        pixl_json_begin_object(&j, "point");
        pixl_json_str(&j, "image", a->img[q->img].id);
        pixl_json_int(&j, "y", q->y);
        pixl_json_int(&j, "x", q->x);
        pixl_json_int(&j, "status", q->status);
        pixl_json_int(&j, "class", q->status == Q_LABEL ? q->label : -1);
        pixl_json_end_object(&j);
    } else {
        pixl_json_null(&j, "point");
    }
    if (a->has_gt) {
        pixl_json_begin_object(&j, "accuracy");
        pixl_json_int(&j, "correct", correct);
        pixl_json_int(&j, "total", judged);
        pixl_json_end_object(&j);
    } else {
        pixl_json_null(&j, "accuracy");
    }
    if (timed) pixl_json_num(&j, "seconds_per_click", secs / timed);
    else pixl_json_null(&j, "seconds_per_click");
    pixl_json_str(&j, "message", a->msg);
    pixl_json_bool(&j, "error", a->msg_err);
    pixl_json_str(&j, "labels_file", a->labels_path);
    pixl_json_end_object(&j);
    return pixl_json_finish(&j, "state");
}

/* ------------------------------------------------------------- actions */

/* the point the page showed ("image", "y", "x" of the body) must be the current one */
static int check_point(annot_app *a, const cJSON *b)
{
    if (a->cur >= a->n_q) {
        set_msg(a, 1, "every query is answered: nothing to label (Backspace undoes, Left goes back)");
        return 409;
    }
    const aquery *q = &a->q[a->cur];
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(b, "image");
    int y, x;
    if (!cJSON_IsString(id) || json_int(cJSON_GetObjectItemCaseSensitive(b, "y"), 0, INT32_MAX, &y) ||
        json_int(cJSON_GetObjectItemCaseSensitive(b, "x"), 0, INT32_MAX, &x)) {
        set_msg(a, 1, "the request does not say which point it answers (\"image\", \"y\", \"x\")");
        return 400;
    }
    if (strcmp(id->valuestring, a->img[q->img].id) || y != q->y || x != q->x) {
        set_msg(a, 1, "the page showed another point (%.60s y %d x %d) than the current one (%s y %d x %d): nothing changed, the page is up to date now",
                id->valuestring, y, x, a->img[q->img].id, q->y, q->x);
        return 409;
    }
    return 200;
}

static int answer(annot_app *a, int status, int label)
{
    int qi = a->cur;
    aquery old = a->q[qi];
    double secs = now_s() - a->shown_at;
    if (!(secs >= 0)) secs = 0;
    if (secs > 86400) secs = 86400;
    if (old.status == status && (status != Q_LABEL || (old.label == label && old.round == a->round))) {
        set_cursor(a, next_todo(a, qi));
        set_msg(a, 0, "unchanged");
        return 200;
    }
    if (push_hist(a, (ahist){qi, old.status, old.label, old.round, old.seconds})) {
        set_msg(a, 1, "out of memory");
        return 500;
    }
    int rc = set_answer(a, qi, status, label, a->round, secs);
    if (rc < 0) {
        a->n_hist--;
        set_msg(a, 1, "NOT saved: %s", pixl_last_error());
        return 500;
    }
    const aimage *m = &a->img[a->q[qi].img];
    if (rc == 0) {
        if (status == Q_LABEL) set_msg(a, 0, "%s (y %d, x %d) of %s: %s, saved", old.status == Q_LABEL ? "relabelled" : "labelled",
                                        old.y, old.x, m->id, a->names[label]);
        else set_msg(a, 0, "skipped (y %d, x %d) of %s, saved", old.y, old.x, m->id);
    }
    set_cursor(a, next_todo(a, qi));
    if (a->cur >= a->n_q && rc == 0) set_msg(a, 0, "every query is answered (%s); labels in %s", status == Q_LABEL ? "last one labelled" : "last one skipped",
                                              a->labels_path);
    return 200;
}

static int undo(annot_app *a)
{
    if (!a->n_hist) {
        set_msg(a, 1, "nothing to undo");
        return 409;
    }
    ahist h = a->hist[a->n_hist - 1];
    int rc = set_answer(a, h.q, h.status, h.label, h.round, h.seconds);
    if (rc < 0) {
        set_msg(a, 1, "NOT undone: %s", pixl_last_error());
        return 500;
    }
    a->n_hist--;
    const aquery *q = &a->q[h.q];
    if (rc == 0) set_msg(a, 0, "undone: (y %d, x %d) of %s is %s again", q->y, q->x, a->img[q->img].id,
                         h.status == Q_TODO ? "to do" : h.status == Q_SKIP ? "skipped" : a->names[h.label]);
    set_cursor(a, h.q);
    return 200;
}

static int navigate(annot_app *a, const char *what)
{
    if (!a->n_q) return 200;
    int c = a->cur;
    if (!strcmp(what, "back")) {
        if (c == 0) {
            set_msg(a, 1, "this is the first query");
            return 200;
        }
        set_cursor(a, c - 1);
    } else if (!strcmp(what, "forward")) {
        if (c >= a->n_q - 1) {
            set_msg(a, 1, c >= a->n_q ? "every query is answered" : "this is the last query");
            return 200;
        }
        set_cursor(a, c + 1);
    } else { /* next image: the next one with queries, at its first unanswered query (else its first) */
        int m = c < a->n_q ? a->q[c].img : a->view_img;
        for (int i = 1; i <= a->n_img; i++) {
            const aimage *n = &a->img[(m + i) % a->n_img];
            if (!n->nq) continue;
            int to = n->q0;
            for (int k = 0; k < n->nq; k++)
                if (a->q[n->q0 + k].status == Q_TODO) {
                    to = n->q0 + k;
                    break;
                }
            set_cursor(a, to);
            break;
        }
    }
    set_msg(a, 0, "%s", "");
    return 200;
}

/* ------------------------------------------------------------- requests */

static void respond(annot_response *rs, int status, const char *type, char *body)
{
    rs->status = status;
    rs->content_type = type;
    rs->body = body;
    rs->len = body ? strlen(body) : 0;
}

static void respond_error(annot_response *rs, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void respond_error(annot_response *rs, int status, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pixl_json j = {0};
    pixl_json_set_layout(&j, PIXL_JSON_COMPACT);
    pixl_json_begin_object(&j, NULL);
    pixl_json_str(&j, "error", msg);
    pixl_json_end_object(&j);
    respond(rs, status, "application/json", pixl_json_finish(&j, "response"));
}

void annot_response_clear(annot_response *rs)
{
    free(rs->body);
    free(rs->file);
    memset(rs, 0, sizeof *rs);
}

/* On a loopback address the Host header must name the loopback and our
 * port: a page elsewhere whose name resolves to 127.0.0.1 (DNS rebinding)
 * sends its own name. */
static int host_ok(const annot_app *a, const char *host)
{
    if (!a->loopback || !host) return 1;
    const char *colon = NULL;
    size_t hl;
    if (host[0] == '[') {
        const char *e = strchr(host, ']');
        if (!e) return 0;
        hl = (size_t)(e - host + 1);
        colon = e[1] == ':' ? e + 1 : NULL;
        if (e[1] && !colon) return 0;
    } else {
        colon = strchr(host, ':');
        hl = colon ? (size_t)(colon - host) : strlen(host);
    }
    int port = 80;
    if (colon && pixl_arg_int(NULL, NULL, colon + 1, 0, 65535, &port)) return 0; /* "8080x": not ours */
    if (a->port && port != a->port) return 0;
    if (hl == 9 && !strncasecmp(host, "localhost", 9)) return 1;
    if (hl == 5 && !strncmp(host, "[::1]", 5)) return 1;
    if (hl >= 7 && hl <= 15 && !strncmp(host, "127.", 4)) {
        for (size_t i = 0; i < hl; i++)
            if (!isdigit((unsigned char)host[i]) && host[i] != '.') return 0;
        return 1;
    }
    return 0;
}

static int is_json(const char *ct)
{
    if (!ct) return 0;
    size_t n = strlen("application/json");
    return !strncasecmp(ct, "application/json", n) && (ct[n] == 0 || ct[n] == ';' || ct[n] == ' ');
}

void annot_handle(annot_app *a, const annot_request *rq, annot_response *rs)
{
    memset(rs, 0, sizeof *rs);
    const char *method = rq->method ? rq->method : "", *path = rq->path ? rq->path : "";
    if (!host_ok(a, rq->host)) {
        respond_error(rs, 403, "Host '%.100s' is not this server's address (pixl annotate answers on the loopback only)", rq->host);
        return;
    }
    if (a->token && !annot_token_equal(a->token, rq->token)) {
        respond_error(rs, 403, "%s token: open the address pixl annotate printed (it ends with ?token=...)", rq->token ? "wrong" : "no");
        return;
    }
    if (rq->body_too_large || rq->body_len > ANNOT_MAX_BODY) {
        respond_error(rs, 413, "request body over %d bytes", ANNOT_MAX_BODY);
        return;
    }
    int get = !strcmp(method, "GET") || !strcmp(method, "HEAD"), post = !strcmp(method, "POST");
    if (!strcmp(path, "/") || !strcmp(path, "/index.html")) {
        if (!get) {
            respond_error(rs, 405, "%s not allowed on %s", method, path);
            return;
        }
        respond(rs, 200, "text/html; charset=utf-8", xstrdup(annot_page_html));
        return;
    }
    if (!strncmp(path, "/images/", 8)) {
        if (!get) {
            respond_error(rs, 405, "%s not allowed on %s", method, path);
            return;
        }
        char real[PATH_MAX];
        int st = annot_resolve(a->images_real, path + 8, real, sizeof real);
        if (st != 200) {
            respond_error(rs, st, st == 404 ? "no such image" : "not an image under --images");
            return;
        }
        const char *ext = strrchr(real, '.');
        rs->status = 200;
        rs->content_type = !strcasecmp(ext, ".png") ? "image/png" : "image/jpeg";
        rs->file = xstrdup(real);
        return;
    }
    if (strncmp(path, "/api/", 5)) {
        respond_error(rs, 404, "no such page");
        return;
    }
    const char *api = path + 5;
    int status = 200;
    pthread_mutex_lock(&a->mu);
    if (!strcmp(api, "state")) {
        if (!get) status = 405;
    } else if (!strcmp(api, "label") || !strcmp(api, "skip") || !strcmp(api, "undo") || !strcmp(api, "back") ||
               !strcmp(api, "forward") || !strcmp(api, "next-image")) {
        cJSON *b = NULL;
        if (!post) status = 405;
        else if (!is_json(rq->content_type)) status = 415;
        else if (rq->body_len && !(b = cJSON_ParseWithLength(rq->body, rq->body_len))) status = 400, set_msg(a, 1, "the request body is not JSON");
        else if (!strcmp(api, "label")) {
            const cJSON *key = cJSON_GetObjectItemCaseSensitive(b, "key"), *cls = cJSON_GetObjectItemCaseSensitive(b, "class");
            int k = -1;
            if (cJSON_IsString(key) && strlen(key->valuestring) == 1) {
                for (int c = 0; c < a->K; c++)
                    if (a->keys[c] == tolower((unsigned char)key->valuestring[0])) k = c;
            } else if (cls) {
                if (json_int(cls, 0, a->K - 1, &k)) k = -1;
            }
            if (k < 0) {
                char keys[64] = {0};
                for (int c = 0; c < a->K; c++) keys[c] = a->keys[c];
                set_msg(a, 1, "'%.20s' is not a class of the legend (keys: %s)",
                        cJSON_IsString(key) ? key->valuestring : cls ? "class" : "nothing", keys);
                status = 400;
            } else if ((status = check_point(a, b)) == 200) {
                status = answer(a, Q_LABEL, k);
            }
        } else if (!strcmp(api, "skip")) {
            if ((status = check_point(a, b)) == 200) status = answer(a, Q_SKIP, -1);
        } else if (!strcmp(api, "undo")) {
            status = undo(a);
        } else {
            status = navigate(a, api);
        }
        cJSON_Delete(b);
    } else {
        status = 404;
    }
    if (status == 404 || status == 405 || status == 415) {
        pthread_mutex_unlock(&a->mu);
        if (status == 415) respond_error(rs, 415, "actions need Content-Type: application/json");
        else if (status == 404) respond_error(rs, 404, "no such API call: %s", path);
        else respond_error(rs, 405, "%s not allowed on %s", method, path);
        return;
    }
    char *state = state_json(a);
    pthread_mutex_unlock(&a->mu);
    respond(rs, status, "application/json", state);
}

/* ------------------------------------------------------------- open */

static char *dir_of(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? (s == path ? xstrdup("/") : xprintf("%.*s", (int)(s - path), path)) : xstrdup(".");
}

annot_app *annot_open(const annot_opts *o)
{
    if (!o || !o->images || !o->queries || !o->labels) {
        pixl_set_error(PIXL_ERR_ARG, "annotate: --images, --queries and --labels are needed");
        return NULL;
    }
    if (o->token && (strlen(o->token) < 8 || strspn(o->token, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~") != strlen(o->token))) {
        pixl_set_error(PIXL_ERR_ARG, "--token: at least 8 characters, each a letter, digit or one of - . _ ~ (it goes into the address)");
        return NULL;
    }
    annot_app *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    pthread_mutex_init(&a->mu, NULL);
    a->lock_fd = -1;
    a->loopback = 1;
    a->token = xstrdup(o->token);
    a->queries_path = xstrdup(o->queries);
    a->labels_path = xstrdup(o->labels);
    size_t ll = strlen(o->labels);
    int stem = ll > 5 && !strcmp(o->labels + ll - 5, ".json") ? (int)(ll - 5) : (int)ll;
    a->skips_path = xprintf("%.*s.skipped.json", stem, o->labels);
    a->clicks_dir = xprintf("%.*s.clicks", stem, o->labels);
    a->lock_path = xprintf("%s.lock", o->labels);
    int rc = PIXL_OK;
    struct stat st;
    a->images_real = realpath(o->images, NULL);
    if (!a->images_real || stat(a->images_real, &st) || !S_ISDIR(st.st_mode))
        rc = pixl_set_error(PIXL_ERR_NOT_FOUND, "--images '%s': not a folder (%s)", o->images, a->images_real ? "a file" : strerror(errno));
    if (!rc && o->gt && (stat(o->gt, &st) || !S_ISDIR(st.st_mode)))
        rc = pixl_set_error(PIXL_ERR_NOT_FOUND, "--gt '%s': not a folder", o->gt);
    char *dir = dir_of(o->labels);
    if (!rc && (stat(dir, &st) || !S_ISDIR(st.st_mode) || access(dir, W_OK)))
        rc = pixl_set_error(PIXL_ERR_IO, "--labels '%s': its folder '%s' does not exist or is not writable", o->labels, dir);
    free(dir);
    if (!rc) {
        a->lock_fd = open(a->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
        if (a->lock_fd < 0) rc = pixl_set_error(PIXL_ERR_IO, "lock file '%s': %s", a->lock_path, strerror(errno));
        else if (flock(a->lock_fd, LOCK_EX | LOCK_NB))
            rc = pixl_set_error(PIXL_ERR_STATE, "another pixl annotate is writing '%s' (lock '%s' is held)", o->labels, a->lock_path);
    }
    if (!rc) rc = load_classes(a, o->classes);
    if (!rc) rc = load_queries(a, o->queries, o->gt, o->round);
    if (!rc) rc = open_labels(a);
    if (!rc) rc = load_skips(a);
    if (rc) {
        char keep[2048];
        snprintf(keep, sizeof keep, "%s", pixl_last_error());
        annot_free(a);
        pixl_set_error(rc, "%s", keep);
        return NULL;
    }
    load_click_logs(a);
    /* undo after a restart takes back the answers found, last in visiting order first: the skips and the
     * labels of this round (a label of an earlier round on a query pixel is not this tool's to take back) */
    for (int i = 0; i < a->n_q; i++)
        if (a->q[i].status == Q_SKIP || (a->q[i].status == Q_LABEL && a->q[i].round == a->round))
            push_hist(a, (ahist){i, Q_TODO, -1, 0, 0});
    set_cursor(a, next_todo(a, -1));
    if (a->cur >= a->n_q && a->n_img) a->view_img = a->n_img - 1;
    return a;
}

void annot_free(annot_app *a)
{
    if (!a) return;
    annot_serve_stop(a);
    for (int i = 0; i < a->n_img; i++) free(a->img[i].id), free(a->img[i].file);
    if (a->names)
        for (int k = 0; k < a->K; k++) free(a->names[k]);
    free(a->names);
    free(a->img);
    free(a->q);
    free(a->hist);
    pixl_label_store_free(a->store);
    if (a->lock_fd >= 0) close(a->lock_fd); /* the file stays: removing it would let two servers lock two files */
    free(a->images_real), free(a->queries_path), free(a->labels_path), free(a->skips_path), free(a->clicks_dir);
    free(a->lock_path), free(a->token);
    pthread_mutex_destroy(&a->mu);
    free(a);
}

int annot_n_queries(const annot_app *a) { return a->n_q; }
int annot_cursor(const annot_app *a) { return a->cur; }
void annot_set_port(annot_app *a, int port) { a->port = port; }

/* ------------------------------------------------------------- the server */

typedef struct conn {
    char body[ANNOT_MAX_BODY];
    size_t n;
    int too_large;
} conn;

static void add_headers(struct MHD_Response *r, int page)
{
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    if (page)
        MHD_add_response_header(r, "Content-Security-Policy",
                                "default-src 'none'; img-src 'self'; connect-src 'self'; script-src 'unsafe-inline'; "
                                "style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
}

static enum MHD_Result send_response(struct MHD_Connection *c, annot_response *rs)
{
    struct MHD_Response *r = NULL;
    if (rs->file) {
        int fd = open(rs->file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        struct stat st;
        if (fd >= 0 && !fstat(fd, &st) && S_ISREG(st.st_mode)) r = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
        else if (fd >= 0) close(fd);
        if (!r) {
            annot_response_clear(rs);
            respond_error(rs, 404, "no such image");
        }
    }
    if (!r) {
        r = MHD_create_response_from_buffer(rs->len, rs->body, MHD_RESPMEM_MUST_FREE);
        if (r) rs->body = NULL; /* MHD frees it */
    }
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "Content-Type", rs->content_type ? rs->content_type : "application/octet-stream");
    add_headers(r, rs->content_type && !strncmp(rs->content_type, "text/html", 9));
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)rs->status, r);
    MHD_destroy_response(r);
    return ok;
}

static const char *request_token(struct MHD_Connection *c)
{
    const char *t = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Pixl-Token");
    return t ? t : MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "token");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    annot_app *a = cls;
    conn *cc = *con_cls;
    if (!cc) { /* the headers: refuse a body announced too large before reading it */
        cc = calloc(1, sizeof *cc);
        if (!cc) return MHD_NO;
        *con_cls = cc;
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > ANNOT_MAX_BODY) {
            annot_request rq = {method, url, request_token(c), MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host"), NULL, NULL, 0, 1};
            annot_response rs;
            annot_handle(a, &rq, &rs);
            enum MHD_Result ok = send_response(c, &rs);
            annot_response_clear(&rs);
            return ok;
        }
        return MHD_YES;
    }
    if (*upload_size) {
        if (cc->too_large || cc->n + *upload_size > ANNOT_MAX_BODY) cc->too_large = 1;
        else memcpy(cc->body + cc->n, upload, *upload_size), cc->n += *upload_size;
        *upload_size = 0;
        return MHD_YES;
    }
    annot_request rq = {method,
                        url,
                        request_token(c),
                        MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host"),
                        MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type"),
                        cc->body,
                        cc->n,
                        cc->too_large};
    annot_response rs;
    annot_handle(a, &rq, &rs);
    enum MHD_Result ok = send_response(c, &rs);
    annot_response_clear(&rs);
    return ok;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    free(*con_cls);
    *con_cls = NULL;
}

int annot_serve_start(annot_app *a, const char *bind, int port, int *bound)
{
    struct sockaddr_in v4;
    struct sockaddr_in6 v6;
    struct sockaddr *sa;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG;
    memset(&v4, 0, sizeof v4);
    memset(&v6, 0, sizeof v6);
    if (!bind) bind = "127.0.0.1";
    if (port < 0 || port > 65535) return pixl_set_error(PIXL_ERR_ARG, "--port %d: expected 0 to 65535", port);
    if (inet_pton(AF_INET, bind, &v4.sin_addr) == 1) {
        v4.sin_family = AF_INET;
        v4.sin_port = htons((uint16_t)port);
        sa = (struct sockaddr *)&v4;
        a->loopback = (ntohl(v4.sin_addr.s_addr) >> 24) == 127;
    } else if (inet_pton(AF_INET6, bind, &v6.sin6_addr) == 1) {
        v6.sin6_family = AF_INET6;
        v6.sin6_port = htons((uint16_t)port);
        sa = (struct sockaddr *)&v6;
        flags |= MHD_USE_IPv6;
        a->loopback = !memcmp(&v6.sin6_addr, &in6addr_loopback, sizeof v6.sin6_addr);
    } else {
        return pixl_set_error(PIXL_ERR_ARG, "--bind '%s': not an IPv4 or IPv6 address", bind);
    }
    if (!a->loopback && !a->token)
        return pixl_set_error(PIXL_ERR_ARG, "--bind %s is not a loopback address: give --token T too (every request must then carry it)", bind);
    a->daemon = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, a, MHD_OPTION_SOCK_ADDR, sa,
                                 MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                                 (size_t)32768, MHD_OPTION_CONNECTION_LIMIT, (unsigned)64, MHD_OPTION_CONNECTION_TIMEOUT,
                                 (unsigned)60, MHD_OPTION_END);
    if (!a->daemon) return pixl_set_error(PIXL_ERR_IO, "cannot serve on %s port %d (in use? see the message above)", bind, port);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(a->daemon, MHD_DAEMON_INFO_BIND_PORT);
    a->port = info ? info->port : port;
    if (bound) *bound = a->port;
    return PIXL_OK;
}

void annot_serve_stop(annot_app *a)
{
    if (a && a->daemon) {
        MHD_stop_daemon(a->daemon);
        a->daemon = NULL;
    }
}

/* ------------------------------------------------------------- command */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: pixl annotate --images DIR --queries FILE --labels OUT.json [--classes camvid|FILE]\n"
            "                     [--gt DIR] [--round N] [--port N] [--bind ADDR --token T]\n"
            "  Label the query points of FILE (a pixl-query-set, or a label store whose points are asked)\n"
            "  in a web page, keyboard only. Every answer is saved at once to OUT.json (a label store for\n"
            "  data.sparse_labels), OUT.clicks/<image>.csv (click logs) and OUT.skipped.json; a restart\n"
            "  resumes at the first unanswered query. --port: 8090 (0: any free port); --bind: 127.0.0.1,\n"
            "  another address needs --token. --gt: ground-truth label PNGs <id>.png, for the accuracy.\n"
            "  Keys: the legend's class keys, Space/Esc skip, Backspace undo, Left/Right back/forward,\n"
            "  Enter next image, Tab all queries. docs/pixelpick.md, \"Annotation tool\".\n");
}

int cmd_annotate(int argc, char **argv)
{
    annot_opts o = {0};
    o.round = -1;
    const char *bind = "127.0.0.1";
    int port = 8090;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char **dst = !strcmp(arg, "--images") ? &o.images : !strcmp(arg, "--queries") ? &o.queries
                         : !strcmp(arg, "--labels") ? &o.labels : !strcmp(arg, "--classes") ? &o.classes
                         : !strcmp(arg, "--gt") ? &o.gt : !strcmp(arg, "--token") ? &o.token : !strcmp(arg, "--bind") ? &bind : NULL;
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            usage(stdout);
            return 0;
        }
        if (i + 1 >= argc || (!dst && strcmp(arg, "--port") && strcmp(arg, "--round"))) {
            fprintf(stderr, "pixl annotate: %s option '%s'\n", dst || !strcmp(arg, "--port") || !strcmp(arg, "--round") ? "no value for" : "unknown", arg);
            usage(stderr);
            return 2;
        }
        const char *v = argv[++i];
        if (dst) {
            *dst = v;
            continue;
        }
        int n;
        if (pixl_arg_int("annotate", arg, v, 0, !strcmp(arg, "--port") ? 65535 : INT_MAX, &n)) return 2;
        if (!strcmp(arg, "--port")) port = n;
        else o.round = n;
    }
    if (!o.queries) {
        fprintf(stderr, "pixl annotate: no query file (--queries FILE): nothing to label. A query set lists the pixels to ask per image "
                        "(docs/pixelpick.md, \"Annotation tool\").\n");
        return 0;
    }
    if (!o.images || !o.labels) {
        fprintf(stderr, "pixl annotate: --images DIR and --labels OUT.json are needed\n");
        usage(stderr);
        return 2;
    }
    annot_app *a = annot_open(&o);
    if (!a) {
        fprintf(stderr, "pixl annotate: %s\n", pixl_last_error());
        return 1;
    }
    if (!a->n_q) {
        fprintf(stderr, "pixl annotate: the query set '%s' asks no point (%d image%s): nothing to label\n", o.queries, a->n_img,
                a->n_img == 1 ? "" : "s");
        annot_free(a);
        return 0;
    }
    /* SIGINT / SIGTERM end the server (the files are complete after every answer); the server's threads do not take them */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    int bound = 0;
    if (annot_serve_start(a, bind, port, &bound)) {
        fprintf(stderr, "pixl annotate: %s\n", pixl_last_error());
        annot_free(a);
        return 1;
    }
    int n[3] = {0, 0, 0};
    for (int i = 0; i < a->n_q; i++) n[a->q[i].status]++;
    fprintf(stderr, "pixl annotate: %d images, %d queries: %d labelled, %d skipped, %d to do; labels -> %s\n", a->n_img, a->n_q,
            n[Q_LABEL], n[Q_SKIP], n[Q_TODO], a->labels_path);
    if (!n[Q_TODO]) fprintf(stderr, "pixl annotate: every query is answered already (the page can review, relabel and undo)\n");
    int v6 = strchr(bind, ':') != NULL;
    printf("pixl annotate: open http://%s%s%s:%d/%s%s\n", v6 ? "[" : "", bind, v6 ? "]" : "", bound, a->token ? "?token=" : "",
           a->token ? a->token : "");
    fflush(stdout);
    int sig = 0;
    sigwait(&sigs, &sig);
    fprintf(stderr, "pixl annotate: stopped (signal %d); every answer is saved in %s\n", sig, a->labels_path);
    annot_free(a);
    return 0;
}
