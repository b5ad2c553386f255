/* click_log.c — the per-image text log of PixelPick's annotation tool
 * (pixl_data.h, CLICK LOGS): "loc,label,elapsed_time,total_time", then one
 * row per click, "(y, x),classname,seconds,cumulative_seconds". Written
 * atomically with round-trip numbers (%.17g); read leniently (numpy's
 * "(np.int64(y), np.int64(x))", CRLF, blank lines) but strictly checked. */
#include <ctype.h>
#include <errno.h>
#include <math.h>

#include "data/data_impl.h"

#define HEADER "loc,label,elapsed_time,total_time"

int pixl_click_log_save(const char *path, const pixl_click *rows, int n, int n_classes, const char *const *class_names)
{
    if (!path || n < 0 || (n && !rows) || n_classes < 1)
        return pixl_set_error(PIXL_ERR_ARG, "pixl_click_log_save: bad arguments (%d rows, %d classes)", n, n_classes);
    for (int i = 0; i < n; i++) {
        int k = rows[i].label;
        if (k < 0 || k >= n_classes || rows[i].y < 0 || rows[i].x < 0)
            return pixl_set_error(PIXL_ERR_ARG, "click log '%s': row %d: pixel (y %d, x %d), class %d (of %d)", path, i,
                                  rows[i].y, rows[i].x, k, n_classes);
        if (class_names && (!class_names[k] || strpbrk(class_names[k], ",\r\n")))
            return pixl_set_error(PIXL_ERR_ARG, "click log '%s': class %d's name has a comma or line break", path, k);
    }
    pixl_atomic_file *af = pixl_atomic_begin(path);
    if (!af) return pixl_last_status();
    FILE *f = pixl_atomic_stream(af);
    fputs(HEADER "\n", f);
    for (int i = 0; i < n; i++) {
        char name[256];
        if (class_names) snprintf(name, sizeof name, "%s", class_names[rows[i].label]);
        else snprintf(name, sizeof name, "class%d", rows[i].label);
        for (char *p = name; *p; p++) *p = (char)tolower((unsigned char)*p);
        fprintf(f, "(%d, %d),%s,%.17g,%.17g\n", rows[i].y, rows[i].x, name, rows[i].seconds, rows[i].total);
    }
    return pixl_atomic_commit(af);
}

/* ------------------------------------------------------------ reading */

typedef struct {
    const char *path;
    int line;
} where;

static int bad(const where *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(const where *w, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return pixl_set_error(PIXL_ERR_FORMAT, "click log '%s':%d: %s", w->path, w->line, msg);
}

/* a coordinate "12" or "np.int64(12)" in [a, b) */
static int parse_coord(const char *a, const char *b, int *out)
{
    const char *open = NULL;
    for (const char *p = a; p < b; p++)
        if (*p == '(') open = p;
    if (open) { /* np.int64(12) */
        a = open + 1;
        while (b > a && b[-1] != ')') b--;
        if (b > a) b--;
    }
    while (a < b && isspace((unsigned char)*a)) a++;
    while (b > a && isspace((unsigned char)b[-1])) b--;
    if (a == b || b - a > 10) return -1;
    char buf[16];
    memcpy(buf, a, (size_t)(b - a));
    buf[b - a] = 0;
    char *end;
    errno = 0;
    long v = strtol(buf, &end, 10);
    if (*end || errno || v < 0 || v > INT32_MAX) return -1;
    *out = (int)v;
    return 0;
}

/* "(y, x)" at s: the two coordinates and the text after the closing parenthesis */
static const char *parse_loc(const char *s, const char *e, int *y, int *x)
{
    if (s >= e || *s != '(') return NULL;
    int depth = 0;
    const char *comma = NULL, *p;
    for (p = s; p < e; p++) {
        if (*p == '(') depth++;
        else if (*p == ')' && --depth == 0) break;
        else if (*p == ',' && depth == 1) {
            if (comma) return NULL;
            comma = p;
        }
    }
    if (p >= e || !comma || parse_coord(s + 1, comma, y) || parse_coord(comma + 1, p, x)) return NULL;
    return p + 1;
}

static int parse_num(const char *a, const char *b, double *out)
{
    char buf[64];
    if (b <= a || b - a >= (long)sizeof buf) return -1;
    memcpy(buf, a, (size_t)(b - a));
    buf[b - a] = 0;
    char *end;
    *out = strtod(buf, &end);
    return *end || !isfinite(*out) ? -1 : 0;
}

/* one row [s, e) into r */
static int parse_row(const where *w, const char *s, const char *e, int K, const char *const *names, pixl_click *r)
{
    const char *p = parse_loc(s, e, &r->y, &r->x);
    if (!p || p >= e || *p != ',') return bad(w, "expected a location \"(y, x),\" at the start of the row");
    const char *lab = ++p;
    while (p < e && *p != ',') p++;
    char name[256];
    snprintf(name, sizeof name, "%.*s", (int)(p - lab < 255 ? p - lab : 255), lab);
    const char *t = p < e ? ++p : p;
    while (p < e && *p != ',') p++;
    if (p >= e || parse_num(t, p, &r->seconds) || parse_num(p + 1, e, &r->total))
        return bad(w, "expected \"label,elapsed_time,total_time\" after the location");
    if ((r->label = pixl__class_index(name, K, names)) < 0) {
        char list[1024];
        pixl__class_list(list, sizeof list, K, names);
        return bad(w, "unknown class '%s' (classes: %s)", name, list);
    }
    return PIXL_OK;
}

int pixl_click_log_load(const char *path, int n_classes, const char *const *class_names, pixl_click **rows, int *n)
{
    if (rows) *rows = NULL;
    if (n) *n = 0;
    if (!path || !rows || !n || n_classes < 1)
        return pixl_set_error(PIXL_ERR_ARG, "pixl_click_log_load: bad arguments");
    unsigned char *buf;
    size_t len;
    int rc = pixl__read_file(path, "click log", (size_t)1 << 30, &buf, &len);
    if (rc) return rc;
    size_t lines = 1;
    for (size_t i = 0; i < len; i++) lines += buf[i] == '\n';
    pixl_click *r = pixl__malloc(sizeof *r * lines);
    where w = {path, 0};
    int count = 0, header = 0;
    for (const char *s = (const char *)buf, *end = s + len; !rc && r && s < end;) {
        const char *e = memchr(s, '\n', (size_t)(end - s)), *next;
        e = e ? e : end;
        next = e < end ? e + 1 : end;
        w.line++;
        while (e > s && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t')) e--;
        if (e > s && memchr(s, 0, (size_t)(e - s))) rc = bad(&w, "a NUL byte (not a text file)");
        else if (e == s) { /* blank */
        } else if (!header) {
            if ((size_t)(e - s) != strlen(HEADER) || memcmp(s, HEADER, strlen(HEADER)))
                rc = bad(&w, "expected the header '" HEADER "'");
            header = 1;
        } else if (count == INT32_MAX) {
            rc = bad(&w, "too many rows");
        } else {
            rc = parse_row(&w, s, e, n_classes, class_names, &r[count++]);
        }
        s = next;
    }
    free(buf);
    if (!r) return PIXL_ERR_NOMEM;
    if (!rc && !header) rc = pixl_set_error(PIXL_ERR_FORMAT, "click log '%s': empty file (no header)", path);
    if (rc) {
        free(r);
        return rc;
    }
    *rows = r;
    *n = count;
    return PIXL_OK;
}
