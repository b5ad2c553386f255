/* json_writer.c — a growable string buffer for writing JSON by hand (the
 * metrics, edge and normal score objects): printf-style appends, numbers
 * that read back exactly (non-finite -> null) and escaped strings. An
 * allocation failure sets b->err; later appends do nothing. */
#include <math.h>
#include <stdarg.h>

#include "pixl_impl.h"

void pixl__sb_add(pixl_sbuf *b, const char *fmt, ...)
{
    if (b->err) return;
    if (!b->p) {
        b->cap = b->cap ? b->cap : 256;
        b->n = 0;
        if (!(b->p = malloc(b->cap))) {
            b->err = 1;
            return;
        }
    }
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int r = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
        va_end(ap);
        if (r < 0) {
            b->err = 1;
            return;
        }
        if ((size_t)r < b->cap - b->n) {
            b->n += (size_t)r;
            return;
        }
        size_t nc = b->cap * 2 + (size_t)r + 1;
        char *np = realloc(b->p, nc);
        if (!np) {
            b->err = 1;
            return;
        }
        b->p = np;
        b->cap = nc;
    }
}

void pixl__sb_num(pixl_sbuf *b, double v)
{
    if (!isfinite(v)) {
        pixl__sb_add(b, "null");
        return;
    }
    char tmp[40];
    for (int p = 15; p <= 17; p++) {
        snprintf(tmp, sizeof tmp, "%.*g", p, v);
        if (strtod(tmp, NULL) == v) break;
    }
    pixl__sb_add(b, "%s", tmp);
}

void pixl__sb_str(pixl_sbuf *b, const char *s)
{
    pixl__sb_add(b, "\"");
    for (const unsigned char *q = (const unsigned char *)s; *q; q++) {
        if (*q == '"' || *q == '\\') pixl__sb_add(b, "\\%c", *q);
        else if (*q == '\n') pixl__sb_add(b, "\\n");
        else if (*q == '\t') pixl__sb_add(b, "\\t");
        else if (*q == '\r') pixl__sb_add(b, "\\r");
        else if (*q < 0x20) pixl__sb_add(b, "\\u%04x", *q);
        else pixl__sb_add(b, "%c", *q);
    }
    pixl__sb_add(b, "\"");
}

void pixl__sb_key_num(pixl_sbuf *b, const char *key, double v)
{
    pixl__sb_add(b, ", \"%s\": ", key);
    pixl__sb_num(b, v);
}

char *pixl__sb_finish(pixl_sbuf *b, const char *what)
{
    if (b->err) {
        free(b->p);
        b->p = NULL;
        pixl_set_error(PIXL_ERR_NOMEM, "%s: out of memory", what);
        return NULL;
    }
    return b->p;
}
