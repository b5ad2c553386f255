/* opts.c — typed key/value options: one table per options struct (key, type,
 * offset, range, doc) and the code that sets a field from text, prints it
 * back, and rejects an unknown key with the key and the valid ones.
 *
 * Every place that reads options as text goes through here: config files
 * (model.options), `--set` overrides, and the compact names users know from
 * pacnet and pytorch-semseg once split into key/value pairs. So one key has
 * one spelling, one range check and one error message wherever it is given. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <strings.h>

#include "pixl_impl.h"

int pixl__edit_distance(const char *a, const char *b)
{
    int la = (int)strlen(a), lb = (int)strlen(b);
    if (la > 63 || lb > 63) return 99;
    int d[64][64];
    for (int i = 0; i <= la; i++) d[i][0] = i;
    for (int j = 0; j <= lb; j++) d[0][j] = j;
    for (int i = 1; i <= la; i++)
        for (int j = 1; j <= lb; j++) {
            int ca = a[i - 1] | 0x20, cb = b[j - 1] | 0x20; /* ASCII lower case for letters */
            int v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + (ca != cb) < v) v = d[i - 1][j - 1] + (ca != cb);
            if (i > 1 && j > 1 && (a[i - 1] | 0x20) == (b[j - 2] | 0x20) && (a[i - 2] | 0x20) == (b[j - 1] | 0x20) &&
                d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    return d[la][lb];
}

int pixl__close_enough(const char *given, int dist)
{
    int n = (int)strlen(given);
    return dist <= (n <= 3 ? 1 : n <= 8 ? 2 : 3);
}

/* ------------------------------------------------------------ key lookup */

static int collect(const pixl__opt_table *t, size_t base, const char **keys, const pixl__opt_field **fields,
                   size_t *offs, int n, int cap)
{
    for (int i = 0; i < t->n; i++) {
        const pixl__opt_field *f = &t->fields[i];
        if (f->type == PIXL__OPT_EMBED) {
            n = collect(f->sub, base + f->off, keys, fields, offs, n, cap);
            continue;
        }
        if (n < cap) {
            if (keys) keys[n] = f->key;
            if (fields) fields[n] = f;
            if (offs) offs[n] = base + f->off;
        }
        n++;
    }
    return n;
}

int pixl__opts_keys(const pixl__opt_table *t, const char **keys, const pixl__opt_field **fields, int cap)
{
    return collect(t, 0, keys, fields, NULL, 0, cap);
}

/* the field of key (EMBEDs flattened) and its offset in the outer struct */
static const pixl__opt_field *find(const pixl__opt_table *t, const char *key, size_t *off)
{
    const char *keys[PIXL__OPTS_MAX_KEYS];
    const pixl__opt_field *fields[PIXL__OPTS_MAX_KEYS];
    size_t offs[PIXL__OPTS_MAX_KEYS];
    int n = collect(t, 0, keys, fields, offs, 0, PIXL__OPTS_MAX_KEYS);
    for (int i = 0; i < n && i < PIXL__OPTS_MAX_KEYS; i++)
        if (!strcmp(keys[i], key)) {
            *off = offs[i];
            return fields[i];
        }
    return NULL;
}

void pixl__opts_key_list(const pixl__opt_table *t, char *buf, size_t len)
{
    const char *keys[PIXL__OPTS_MAX_KEYS];
    int n = pixl__opts_keys(t, keys, NULL, PIXL__OPTS_MAX_KEYS);
    size_t o = 0;
    buf[0] = 0;
    for (int i = 0; i < n && i < PIXL__OPTS_MAX_KEYS && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? ", " : "", keys[i]);
}

static int unknown_key(const pixl__opt_table *t, const char *prefix, const char *key)
{
    const char *keys[PIXL__OPTS_MAX_KEYS];
    int n = pixl__opts_keys(t, keys, NULL, PIXL__OPTS_MAX_KEYS), best = -1, bd = 1 << 30;
    for (int i = 0; i < n && i < PIXL__OPTS_MAX_KEYS; i++) {
        int d = pixl__edit_distance(key, keys[i]);
        if (d < bd) bd = d, best = i;
    }
    char list[1024], hint[160] = "";
    pixl__opts_key_list(t, list, sizeof list);
    if (best >= 0 && pixl__close_enough(key, bd)) snprintf(hint, sizeof hint, "did you mean '%s'? ", keys[best]);
    return pixl_set_error(PIXL_ERR_NOT_FOUND, "unknown key '%s.%s' (%svalid keys: %s)", prefix, key, hint, list);
}

/* ------------------------------------------------------------- values */

static void trim(const char **s, size_t *n)
{
    while (*n && isspace((unsigned char)**s)) (*s)++, (*n)--;
    while (*n && isspace((unsigned char)(*s)[*n - 1])) (*n)--;
}

static int parse_int(const char *s, long long *out)
{
    const char *p = s + (*s == '+' || *s == '-');
    if (!*p) return 0;
    for (const char *q = p; *q; q++)
        if (!isdigit((unsigned char)*q)) return 0;
    errno = 0;
    *out = strtoll(s, NULL, 10);
    return errno != ERANGE;
}

static int parse_num(const char *s, double *out)
{
    if (!*s || isspace((unsigned char)*s)) return 0;
    for (const char *q = s; *q; q++)
        if (!strchr("0123456789+-.eE", *q)) return 0;
    char *end;
    *out = strtod(s, &end);
    return !*end && end != s && isfinite(*out);
}

static int parse_bool(const char *s, int *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no", "off", "0"};
    for (int i = 0; i < 4; i++) {
        if (!strcasecmp(s, yes[i])) return *out = 1, 1;
        if (!strcasecmp(s, no[i])) return *out = 0, 1;
    }
    return 0;
}

/* index of s in "a|b|c" (case-insensitive) or -1 */
static int enum_index(const char *choices, const char *s)
{
    int idx = 0;
    for (const char *p = choices; *p; idx++) {
        const char *e = strchr(p, '|');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (strlen(s) == n && !strncasecmp(p, s, n)) return idx;
        p += n + (e ? 1 : 0);
    }
    return -1;
}

void pixl__choice_name(const char *choices, int idx, char *out, size_t len)
{
    const char *p = choices;
    for (int i = 0; *p; i++) {
        const char *e = strchr(p, '|');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (i == idx) {
            snprintf(out, len, "%.*s", (int)n, p);
            return;
        }
        p += n + (e ? 1 : 0);
    }
    snprintf(out, len, "?");
}

static void range_text(const pixl__opt_field *f, int integer, char *buf, size_t len)
{
    if (integer) snprintf(buf, len, "[%lld, %lld]", (long long)f->lo, (long long)f->hi);
    else snprintf(buf, len, "[%g, %g]", f->lo, f->hi);
}

/* one number (element `what` of path) into *v, range-checked */
static int number(const pixl__opt_field *f, const char *path, const char *what, const char *s, int integer,
                  double *v)
{
    char r[96];
    long long iv;
    int ok = integer ? parse_int(s, &iv) : parse_num(s, v);
    if (integer && ok) *v = (double)iv;
    if (!ok)
        return pixl_set_error(PIXL_ERR_ARG, "%s: %s%sexpected %s, got '%.60s'", path, what, *what ? ": " : "",
                              integer ? "an integer" : "a number", s);
    if (*v < f->lo || *v > f->hi) {
        range_text(f, integer, r, sizeof r);
        return pixl_set_error(PIXL_ERR_ARG, "%s: %s%s must be in %s, got %s", path, what, *what ? "" : "value", r, s);
    }
    return PIXL_OK;
}

/* "[a, b]", "a,b", "" or "[]" into elements; strings of STR_LIST are checked by length */
static int set_list(const pixl__opt_field *f, unsigned char *base, const char *path, const char *value)
{
    const char *s = value;
    size_t n = strlen(s);
    trim(&s, &n);
    if (n >= 2 && s[0] == '[' && s[n - 1] == ']') s++, n -= 2;
    trim(&s, &n);
    int count = 0, integer = f->type == PIXL__OPT_INT_LIST, real = f->type == PIXL__OPT_FLOAT_LIST;
    int ivals[64];
    float fvals[64];
    char svals[16][64];
    if (f->max_n > 64 || (!integer && (f->max_n > 16 || f->size > 64)))
        return pixl_set_error(PIXL_ERR_STATE, "%s: list capacity too large for the options table", path);
    while (n) {
        const char *c = memchr(s, ',', n);
        size_t len = c ? (size_t)(c - s) : n;
        const char *e = s;
        size_t el = len;
        trim(&e, &el);
        if (count >= f->max_n)
            return pixl_set_error(PIXL_ERR_ARG, "%s: at most %d entries, got '%.80s'", path, f->max_n, value);
        char tok[128], what[32];
        if (!el || el >= sizeof tok)
            return pixl_set_error(PIXL_ERR_ARG, "%s: empty or overlong entry in '%.80s'", path, value);
        snprintf(tok, sizeof tok, "%.*s", (int)el, e);
        snprintf(what, sizeof what, "element %d", count);
        if (integer) {
            double v;
            int rc = number(f, path, what, tok, 1, &v);
            if (rc) return rc;
            ivals[count++] = (int)v;
        } else if (real) {
            double v;
            int rc = number(f, path, what, tok, 0, &v);
            if (rc) return rc;
            fvals[count++] = strtof(tok, NULL);
        } else {
            if (el >= f->size) return pixl_set_error(PIXL_ERR_ARG, "%s: '%s' is longer than %zu characters", path, tok, f->size - 1);
            memcpy(svals[count], tok, el + 1); /* el < f->size <= sizeof svals[0] */
            count++;
        }
        if (!c) break;
        n -= len + 1;
        s = c + 1;
        if (!n) return pixl_set_error(PIXL_ERR_ARG, "%s: trailing ',' in '%.80s'", path, value);
    }
    unsigned char *field = base + f->off;
    if (integer) {
        memset(field, 0, (size_t)f->max_n * sizeof(int));
        memcpy(field, ivals, (size_t)count * sizeof(int));
    } else if (real) {
        memset(field, 0, (size_t)f->max_n * sizeof(float));
        memcpy(field, fvals, (size_t)count * sizeof(float));
    } else {
        memset(field, 0, (size_t)f->max_n * f->size);
        for (int i = 0; i < count; i++) memcpy(field + (size_t)i * f->size, svals[i], strlen(svals[i]));
    }
    memcpy(base + f->count_off, &count, sizeof count);
    return PIXL_OK;
}

static int set_map(const pixl__opt_field *f, unsigned char *base, const char *path, const char *value);

static int set_field(const pixl__opt_field *f, unsigned char *base, const char *path, const char *s)
{
    unsigned char *field = base + f->off;
    switch (f->type) {
    case PIXL__OPT_INT:
    case PIXL__OPT_FLOAT: {
        double v;
        int rc = number(f, path, "", s, f->type == PIXL__OPT_INT, &v);
        if (rc) return rc;
        if (f->type == PIXL__OPT_INT) {
            int iv = (int)v;
            memcpy(field, &iv, sizeof iv);
        } else {
            float fv = strtof(s, NULL); /* correctly rounded from the text, as a C float literal */
            memcpy(field, &fv, sizeof fv);
        }
        return PIXL_OK;
    }
    case PIXL__OPT_BOOL: {
        int v;
        if (!parse_bool(s, &v)) return pixl_set_error(PIXL_ERR_ARG, "%s: expected true or false, got '%.60s'", path, s);
        memcpy(field, &v, sizeof v);
        return PIXL_OK;
    }
    case PIXL__OPT_STRING:
        if (strlen(s) >= f->size)
            return pixl_set_error(PIXL_ERR_ARG, "%s: longer than %zu characters", path, f->size - 1);
        memset(field, 0, f->size);
        memcpy(field, s, strlen(s));
        return PIXL_OK;
    case PIXL__OPT_ENUM: {
        int idx = enum_index(f->choices, s);
        if (idx < 0) {
            char list[256];
            snprintf(list, sizeof list, "%s", f->choices);
            for (char *p = list; *p; p++)
                if (*p == '|') *p = ',';
            return pixl_set_error(PIXL_ERR_ARG, "%s: expected one of %s, got '%.60s'", path, list, s);
        }
        memcpy(field, &idx, sizeof idx);
        return PIXL_OK;
    }
    case PIXL__OPT_INT_LIST:
    case PIXL__OPT_FLOAT_LIST:
    case PIXL__OPT_STR_LIST:
        return set_list(f, base, path, s);
    case PIXL__OPT_CUSTOM:
        return f->parse(field, path, s);
    case PIXL__OPT_MAP:
        return set_map(f, base, path, s);
    case PIXL__OPT_EMBED:
        break;
    }
    return pixl_set_error(PIXL_ERR_STATE, "%s: not a settable option", path);
}


#define MAP_CAP 4096 /* bytes of a nested (MAP) struct */

static int map_given(const pixl__opt_field *f, const unsigned char *base)
{
    int v;
    memcpy(&v, base + f->count_off, sizeof v);
    return v;
}

/* the nested struct of a MAP field (current, or its defaults when not given) into tmp */
static int map_current(const pixl__opt_field *f, const unsigned char *base, const char *path, unsigned char *tmp)
{
    if (f->size > MAP_CAP || !f->init || !f->sub)
        return pixl_set_error(PIXL_ERR_STATE, "%s: nested options too large or without defaults", path);
    if (map_given(f, base)) memcpy(tmp, base + f->off, f->size);
    else f->init(tmp);
    return PIXL_OK;
}

static void map_store(const pixl__opt_field *f, unsigned char *base, const unsigned char *tmp, int given)
{
    memcpy(base + f->off, tmp, f->size);
    memcpy(base + f->count_off, &given, sizeof given);
}

/* "{k: v, k: [a, b]}" (defaults, then each key) or null / "" (not given) */
static int set_map(const pixl__opt_field *f, unsigned char *base, const char *path, const char *value)
{
    unsigned char tmp[MAP_CAP];
    if (f->size > MAP_CAP || !f->init || !f->sub)
        return pixl_set_error(PIXL_ERR_STATE, "%s: nested options too large or without defaults", path);
    f->init(tmp);
    const char *s = value;
    size_t n = strlen(s);
    trim(&s, &n);
    if (!n || (n == 4 && !strncasecmp(s, "null", 4)) || (n == 1 && *s == '~')) {
        map_store(f, base, tmp, 0);
        return PIXL_OK;
    }
    char list[1024];
    pixl__opts_key_list(f->sub, list, sizeof list);
    if (n < 2 || s[0] != '{' || s[n - 1] != '}')
        return pixl_set_error(PIXL_ERR_ARG, "%s: expected a mapping {key: value, ...} or null, got '%.60s' (keys: %s)",
                              path, value, list);
    s++, n -= 2;
    trim(&s, &n); /* "{}": given, with the defaults */
    while (n) {
        /* one "key: value" up to the next ',' outside brackets */
        size_t len = 0;
        for (int depth = 0; len < n && (depth || s[len] != ','); len++)
            depth += (s[len] == '[' || s[len] == '{') - (s[len] == ']' || s[len] == '}');
        const char *e = s;
        size_t el = len;
        trim(&e, &el);
        const char *colon = el ? memchr(e, ':', el) : NULL;
        if (!colon)
            return pixl_set_error(PIXL_ERR_ARG, "%s: '%.*s' is not key: value (valid keys: %s)", path, (int)el, e,
                                  list);
        char key[64], val[1024];
        const char *k = e, *v = colon + 1;
        size_t kl = (size_t)(colon - e), vl = el - kl - 1;
        trim(&k, &kl);
        trim(&v, &vl);
        if (vl >= 2 && (v[0] == '"' || v[0] == '\'') && v[vl - 1] == v[0]) v++, vl -= 2; /* a quoted scalar */
        if (!kl || kl >= sizeof key || vl >= sizeof val)
            return pixl_set_error(PIXL_ERR_ARG, "%s: bad entry '%.*s'", path, (int)el, e);
        snprintf(key, sizeof key, "%.*s", (int)kl, k);
        snprintf(val, sizeof val, "%.*s", (int)vl, v);
        int rc = pixl__opts_set(f->sub, tmp, path, key, val);
        if (rc) return rc;
        if (len == n) break;
        s += len + 1, n -= len + 1;
        if (!n) return pixl_set_error(PIXL_ERR_ARG, "%s: trailing ',' in '%.80s'", path, value);
    }
    map_store(f, base, tmp, 1);
    return PIXL_OK;
}

/* the MAP field named by the head of "head.rest" (its offset in *off) */
static const pixl__opt_field *find_map(const pixl__opt_table *t, const char *prefix, const char *key, size_t *off,
                                       char *head, size_t hlen)
{
    const char *dot = strchr(key, '.');
    snprintf(head, hlen, "%.*s", (int)(dot - key), key);
    const pixl__opt_field *f = find(t, head, off);
    if (!f) {
        unknown_key(t, prefix, head);
        return NULL;
    }
    if (f->type != PIXL__OPT_MAP) {
        pixl_set_error(PIXL_ERR_NOT_FOUND, "unknown key '%s.%s' ('%s.%s' is not a mapping)", prefix, key, prefix, head);
        return NULL;
    }
    return f;
}

/* a MAP field relocated to offset off of the outer struct */
static pixl__opt_field at_offset(const pixl__opt_field *f, size_t off)
{
    pixl__opt_field g = *f;
    g.off = off;
    if (g.type == PIXL__OPT_INT_LIST || g.type == PIXL__OPT_FLOAT_LIST || g.type == PIXL__OPT_STR_LIST ||
        g.type == PIXL__OPT_MAP)
        g.count_off += off - f->off;
    return g;
}

int pixl__opts_set(const pixl__opt_table *t, void *obj, const char *prefix, const char *key, const char *value)
{
    if (!t || !obj || !key || !value) return pixl_set_error(PIXL_ERR_ARG, "options: NULL argument");
    if (!prefix) prefix = t->name;
    size_t off;
    char path[160];
    if (strchr(key, '.')) { /* a key of a nested mapping, which becomes given */
        char head[64];
        const pixl__opt_field *m = find_map(t, prefix, key, &off, head, sizeof head);
        if (!m) return pixl_last_status();
        pixl__opt_field g = at_offset(m, off);
        unsigned char tmp[MAP_CAP];
        snprintf(path, sizeof path, "%s.%s", prefix, head);
        int rc = map_current(&g, obj, path, tmp);
        if (!rc) rc = pixl__opts_set(g.sub, tmp, path, strchr(key, '.') + 1, value);
        if (!rc) map_store(&g, obj, tmp, 1);
        return rc;
    }
    const pixl__opt_field *f = find(t, key, &off);
    if (!f) return unknown_key(t, prefix, key);
    snprintf(path, sizeof path, "%s.%s", prefix, key);
    /* the field alone is written, and only after the whole value parsed */
    pixl__opt_field g = at_offset(f, off);
    return set_field(&g, obj, path, value);
}

/* ------------------------------------------------------------- printing */

/* shortest text that strtof reads back to v */
static void fmt_float(char *out, size_t len, float v)
{
    for (int p = 6; p <= 9; p++) {
        snprintf(out, len, "%.*g", p, (double)v);
        if (strtof(out, NULL) == v) return;
    }
}

/* compact: lists as "a,b" (for "k=v;k=v" strings), else "[a, b]" */
static void fmt_field(const pixl__opt_field *f, size_t off, size_t count_off, const unsigned char *base, char *buf,
                      size_t len, int compact)
{
    const unsigned char *field = base + off;
    int iv;
    float fv;
    buf[0] = 0;
    switch (f->type) {
    case PIXL__OPT_INT:
        memcpy(&iv, field, sizeof iv);
        snprintf(buf, len, "%d", iv);
        break;
    case PIXL__OPT_FLOAT:
        memcpy(&fv, field, sizeof fv);
        fmt_float(buf, len, fv);
        break;
    case PIXL__OPT_BOOL:
        memcpy(&iv, field, sizeof iv);
        snprintf(buf, len, "%s", iv ? "true" : "false");
        break;
    case PIXL__OPT_STRING:
        snprintf(buf, len, "%.*s", (int)f->size, (const char *)field);
        break;
    case PIXL__OPT_ENUM:
        memcpy(&iv, field, sizeof iv);
        pixl__choice_name(f->choices, iv, buf, len);
        break;
    case PIXL__OPT_INT_LIST:
    case PIXL__OPT_FLOAT_LIST:
    case PIXL__OPT_STR_LIST: {
        int n;
        memcpy(&n, base + count_off, sizeof n);
        size_t o = (size_t)snprintf(buf, len, "%s", compact ? "" : "[");
        for (int i = 0; i < n && i < f->max_n && o < len; i++) {
            const char *sep = i ? (compact ? "," : ", ") : "";
            if (f->type == PIXL__OPT_INT_LIST) {
                memcpy(&iv, field + (size_t)i * sizeof(int), sizeof iv);
                o += (size_t)snprintf(buf + o, len - o, "%s%d", sep, iv);
            } else if (f->type == PIXL__OPT_FLOAT_LIST) {
                memcpy(&fv, field + (size_t)i * sizeof(float), sizeof fv);
                o += (size_t)snprintf(buf + o, len - o, "%s%.9g", sep, (double)fv);
            } else {
                o += (size_t)snprintf(buf + o, len - o, "%s%.*s", sep, (int)f->size,
                                      (const char *)field + (size_t)i * f->size);
            }
        }
        if (!compact && o < len) snprintf(buf + o, len - o, "]");
        break;
    }
    case PIXL__OPT_CUSTOM:
        f->format(field, buf, len, compact);
        break;
    case PIXL__OPT_MAP: {
        int given;
        memcpy(&given, base + count_off, sizeof given);
        if (!given) {
            snprintf(buf, len, "null");
            break;
        }
        const char *keys[PIXL__OPTS_MAX_KEYS];
        const pixl__opt_field *fields[PIXL__OPTS_MAX_KEYS];
        size_t offs[PIXL__OPTS_MAX_KEYS];
        int n = collect(f->sub, 0, keys, fields, offs, 0, PIXL__OPTS_MAX_KEYS);
        size_t o = (size_t)snprintf(buf, len, "{");
        char v[1024];
        for (int i = 0; i < n && i < PIXL__OPTS_MAX_KEYS && o < len; i++) {
            fmt_field(fields[i], offs[i], fields[i]->count_off + (offs[i] - fields[i]->off), field, v, sizeof v, 0);
            o += (size_t)snprintf(buf + o, len - o, "%s%s: %s", i ? ", " : "", keys[i], v);
        }
        if (o < len) snprintf(buf + o, len - o, "}");
        break;
    }
    case PIXL__OPT_EMBED:
        break;
    }
}

static void fmt_key(const pixl__opt_field *f, size_t off, const void *obj, char *buf, size_t len, int compact)
{
    fmt_field(f, off, f->count_off + (off - f->off), obj, buf, len, compact);
}

int pixl__opts_get(const pixl__opt_table *t, const void *obj, const char *key, char *buf, size_t len)
{
    if (!t || !obj || !key || !buf || !len) return pixl_set_error(PIXL_ERR_ARG, "options: NULL argument");
    size_t off;
    if (strchr(key, '.')) {
        char head[64];
        const pixl__opt_field *m = find_map(t, t->name, key, &off, head, sizeof head);
        return m ? pixl__opts_get(m->sub, (const unsigned char *)obj + off, strchr(key, '.') + 1, buf, len)
                 : pixl_last_status();
    }
    const pixl__opt_field *f = find(t, key, &off);
    if (!f) return unknown_key(t, t->name, key);
    fmt_key(f, off, obj, buf, len, 0);
    return PIXL_OK;
}

/* each flattened key with its offset, for the walkers below */
static int flat(const pixl__opt_table *t, const char **keys, const pixl__opt_field **fields, size_t *offs)
{
    int n = collect(t, 0, keys, fields, offs, 0, PIXL__OPTS_MAX_KEYS);
    return n < PIXL__OPTS_MAX_KEYS ? n : PIXL__OPTS_MAX_KEYS;
}

const char *pixl__opts_diff(const pixl__opt_table *t, const void *a, const void *b)
{
    const char *keys[PIXL__OPTS_MAX_KEYS];
    const pixl__opt_field *fields[PIXL__OPTS_MAX_KEYS];
    size_t offs[PIXL__OPTS_MAX_KEYS];
    int n = flat(t, keys, fields, offs);
    char x[1024], y[1024];
    for (int i = 0; i < n; i++) {
        fmt_key(fields[i], offs[i], a, x, sizeof x, 0);
        fmt_key(fields[i], offs[i], b, y, sizeof y, 0);
        if (strcmp(x, y)) return keys[i];
    }
    return NULL;
}

int pixl__opts_format_changed(const pixl__opt_table *t, const void *obj, const void *defaults, char *buf, size_t len)
{
    const char *keys[PIXL__OPTS_MAX_KEYS];
    const pixl__opt_field *fields[PIXL__OPTS_MAX_KEYS];
    size_t offs[PIXL__OPTS_MAX_KEYS];
    int n = flat(t, keys, fields, offs);
    size_t o = 0;
    buf[0] = 0;
    char x[1024], y[1024];
    for (int i = 0; i < n; i++) {
        fmt_key(fields[i], offs[i], obj, x, sizeof x, 1);
        fmt_key(fields[i], offs[i], defaults, y, sizeof y, 1);
        if (!strcmp(x, y)) continue;
        int w = snprintf(buf + o, len - o, "%s%s=%s", o ? ";" : "", keys[i], x);
        if (w < 0 || (size_t)w >= len - o)
            return pixl_set_error(PIXL_ERR_ARG, "%s: options longer than %zu characters", t->name, len - 1);
        o += (size_t)w;
    }
    return PIXL_OK;
}

int pixl__opts_parse_pairs(const pixl__opt_table *t, void *obj, const char *prefix, const char *text)
{
    if (!text) return PIXL_OK;
    char buf[1024];
    if (strlen(text) >= sizeof buf)
        return pixl_set_error(PIXL_ERR_ARG, "%s: option string longer than %zu characters", prefix ? prefix : t->name,
                              sizeof buf - 1);
    snprintf(buf, sizeof buf, "%s", text);
    char *save = NULL;
    for (char *kv = strtok_r(buf, ";", &save); kv; kv = strtok_r(NULL, ";", &save)) {
        while (*kv == ' ') kv++;
        if (!*kv) continue;
        char *eq = strchr(kv, '=');
        if (!eq) {
            char list[1024];
            pixl__opts_key_list(t, list, sizeof list);
            return pixl_set_error(PIXL_ERR_ARG, "%s: '%s' is not key=value (valid keys: %s)", prefix ? prefix : t->name,
                                  kv, list);
        }
        *eq = 0;
        int rc = pixl__opts_set(t, obj, prefix, kv, eq + 1);
        if (rc) return rc;
    }
    return PIXL_OK;
}
