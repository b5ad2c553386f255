/* json_writer.c — pixl's one JSON writer (see pixl_json in pixl.h): a
 * growable buffer written value by value, with the commas placed from a
 * per-level "has members" bit, numbers that read back exactly (non-finite
 * -> null) and escaped strings, in one of three layouts (spaced, compact,
 * pretty). An allocation failure sets j->err; later writes do nothing and
 * pixl_json_finish() reports it. */
#include <math.h>
#include <stdarg.h>

#include "pixl_impl.h"

#define JSON_MAX_DEPTH 64 /* bits of pixl_json.has_items */

/* printf-style append */
static void add(pixl_json *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(pixl_json *j, const char *fmt, ...)
{
    if (j->err) return;
    for (;;) {
        size_t room = j->cap - j->n;
        va_list ap;
        va_start(ap, fmt);
        int r = j->p ? vsnprintf(j->p + j->n, room, fmt, ap) : 0;
        va_end(ap);
        if (r < 0) {
            j->err = 1;
            return;
        }
        if (j->p && (size_t)r < room) {
            j->n += (size_t)r;
            return;
        }
        size_t nc = j->cap * 2 + (size_t)r + 256;
        char *np = realloc(j->p, nc);
        if (!np) {
            j->err = 1;
            return;
        }
        j->p = np;
        j->cap = nc;
    }
}

static void str(pixl_json *j, const char *s)
{
    add(j, "\"");
    for (const unsigned char *q = (const unsigned char *)(s ? s : ""); *q; q++) {
        if (*q == '"' || *q == '\\') add(j, "\\%c", *q);
        else if (*q == '\n') add(j, "\\n");
        else if (*q == '\t') add(j, "\\t");
        else if (*q == '\r') add(j, "\\r");
        else if (*q < 0x20) add(j, "\\u%04x", *q);
        else add(j, "%c", *q);
    }
    add(j, "\"");
}

/* the bit of pixl_json.has_items for the current level (0 at the top) */
static uint64_t level_bit(const pixl_json *j)
{
    return j->depth > 0 && j->depth <= JSON_MAX_DEPTH ? 1ull << (j->depth - 1) : 0;
}

/* PIXL_JSON_PRETTY: a new line indented to `depth` levels */
static void new_line(pixl_json *j, int depth)
{
    add(j, "\n%*s", 2 * depth, "");
}

/* the separator and key before a value; key NULL inside arrays */
static void member(pixl_json *j, const char *key)
{
    uint64_t bit = level_bit(j);
    int first = !(j->has_items & bit);
    if (!first) add(j, j->layout == PIXL_JSON_SPACED ? ", " : ",");
    if (j->layout == PIXL_JSON_PRETTY && j->depth > 0) new_line(j, j->depth);
    j->has_items |= bit;
    if (key) {
        str(j, key);
        add(j, j->layout == PIXL_JSON_COMPACT ? ":" : ": ");
    }
}

static void open_level(pixl_json *j, const char *key, char c)
{
    member(j, key);
    add(j, "%c", c);
    if (++j->depth > JSON_MAX_DEPTH) j->err = 2;
    else j->has_items &= ~(1ull << (j->depth - 1));
}

static void close_level(pixl_json *j, char c)
{
    int had_items = (j->has_items & level_bit(j)) != 0;
    if (j->depth > 0) j->depth--;
    if (j->layout == PIXL_JSON_PRETTY && had_items) new_line(j, j->depth);
    add(j, "%c", c);
}

void pixl_json_set_layout(pixl_json *j, pixl_json_layout layout)
{
    j->layout = layout == PIXL_JSON_COMPACT || layout == PIXL_JSON_PRETTY ? (int)layout : PIXL_JSON_SPACED;
}

void pixl_json_begin_object(pixl_json *j, const char *key) { open_level(j, key, '{'); }
void pixl_json_end_object(pixl_json *j) { close_level(j, '}'); }
void pixl_json_begin_array(pixl_json *j, const char *key) { open_level(j, key, '['); }
void pixl_json_end_array(pixl_json *j) { close_level(j, ']'); }

/* the shortest %.Ng (N from lo to 17) that reads back as v; as_float: as the float v */
static void number(pixl_json *j, double v, int lo, int as_float)
{
    if (!isfinite(v)) {
        add(j, "null");
        return;
    }
    char tmp[40];
    for (int p = lo; p <= 17; p++) {
        snprintf(tmp, sizeof tmp, "%.*g", p, v);
        if (as_float ? strtof(tmp, NULL) == (float)v : strtod(tmp, NULL) == v) break;
    }
    add(j, "%s", tmp);
}

void pixl_json_num(pixl_json *j, const char *key, double v)
{
    member(j, key);
    number(j, v, 15, 0);
}

void pixl_json_f32(pixl_json *j, const char *key, float v)
{
    member(j, key);
    number(j, v, 6, 1);
}

void pixl_json_int(pixl_json *j, const char *key, int64_t v)
{
    member(j, key);
    add(j, "%lld", (long long)v);
}

void pixl_json_str(pixl_json *j, const char *key, const char *s)
{
    member(j, key);
    str(j, s);
}

void pixl_json_bool(pixl_json *j, const char *key, int v)
{
    member(j, key);
    add(j, v ? "true" : "false");
}

void pixl_json_null(pixl_json *j, const char *key)
{
    member(j, key);
    add(j, "null");
}

void pixl_json_raw(pixl_json *j, const char *key, const char *json)
{
    member(j, key);
    add(j, "%s", json && json[0] ? json : "null");
}

char *pixl_json_finish(pixl_json *j, const char *what)
{
    int err = j->err || !j->p ? (j->err ? j->err : 1) : 0;
    char *s = err ? NULL : j->p;
    if (err) free(j->p);
    *j = (pixl_json){0};
    if (err == 2) pixl_set_error(PIXL_ERR_ARG, "%s: nested deeper than %d levels", what, JSON_MAX_DEPTH);
    else if (err) pixl_set_error(PIXL_ERR_NOMEM, "%s: out of memory", what);
    return s;
}
