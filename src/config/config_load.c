/* config_load.c — reading a training configuration: the YAML reader
 * (libyaml's document API, whose nodes keep the line numbers used in every
 * message), the setters of each key kind including the typed model.options,
 * command-line overrides, defaults, and the rules between keys. The schema
 * is in config_schema.c. Loading stops at the first error, reported as
 * "file:line: message"; the config is unchanged then. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <strings.h>
#include <unistd.h>
#include <yaml.h>

#include "config_impl.h"

/* ------------------------------------------------------------- load state */

typedef struct ld {
    const char *file; /* NULL: no "file:line: " prefix (overrides) */
    yaml_document_t *doc;
    int lines[PIXL__CFG_MAX_KEYS]; /* line where each key was set (0 = default) */
    int status;        /* error status for this source */
} ld;

static int line_of(const yaml_node_t *n) { return n ? (int)n->start_mark.line + 1 : 0; }

static int fail(const ld *L, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(const ld *L, int line, const char *fmt, ...)
{
    char msg[1536];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (L && L->file && line > 0) return pixl_set_error(L->status, "%s:%d: %s", L->file, line, msg);
    if (L && L->file) return pixl_set_error(L->status, "%s: %s", L->file, msg);
    return pixl_set_error(L ? L->status : PIXL_ERR_ARG, "%s", msg);
}

static const char *scalar_of(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int is_null(const yaml_node_t *n)
{
    if (!n) return 1;
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return 0;
    const char *s = scalar_of(n);
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

/* "'eight'", "nothing", "a list", "a mapping" for error messages */
static const char *describe(const yaml_node_t *n, char *buf, size_t len)
{
    if (is_null(n)) return "nothing";
    if (n->type == YAML_SEQUENCE_NODE) return "a list";
    if (n->type == YAML_MAPPING_NODE) return "a mapping";
    const char *s = scalar_of(n);
    if (!s) return "a value";
    if (strlen(s) > 60) snprintf(buf, len, "'%.57s...'", s);
    else snprintf(buf, len, "'%s'", s);
    return buf;
}

static int parse_int(const char *s, int64_t *out)
{
    const char *p = s;
    if (*p == '+' || *p == '-') p++;
    if (!*p) return 0;
    for (const char *q = p; *q; q++)
        if (*q < '0' || *q > '9') return 0;
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno == ERANGE) return 0;
    *out = v;
    return 1;
}

static int parse_float(const char *s, double *out)
{
    if (!*s || *s == ' ' || *s == '\t') return 0;
    /* decimal only: digits, sign, point, exponent */
    for (const char *q = s; *q; q++)
        if (!strchr("0123456789+-.eE", *q)) return 0;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end || end == s || !isfinite(v)) return 0;
    *out = v;
    return 1;
}

static int parse_bool(const char *s, int *out)
{
    static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no", "off"};
    for (int i = 0; i < 3; i++) {
        if (!strcasecmp(s, yes[i])) return *out = 1, 1;
        if (!strcasecmp(s, no[i])) return *out = 0, 1;
    }
    return 0;
}

static int range_error(const ld *L, int line, const char *path, const key_def *k, double v, int integer,
                       const char *what)
{
    char lo[32], hi[32], got[40];
    fmt_range_num(lo, sizeof lo, k->lo, integer);
    fmt_range_num(hi, sizeof hi, k->hi, integer);
    if (integer) snprintf(got, sizeof got, "%lld", (long long)v);
    else snprintf(got, sizeof got, "%g", v);
    /* bounded only by the type: "must be >= lo" below the range, the type's range above it */
    if ((k->hi >= BIG || (integer && k->hi >= 2147483647.0)) && v < k->lo)
        return fail(L, line, "%s: %s must be >= %s, got %s", path, what, lo, got);
    if (k->hi >= BIG || (integer && k->hi >= 9.2e18))
        return fail(L, line, "%s: %s must be >= %s, got %s", path, what, lo, got);
    return fail(L, line, "%s: %s must be in [%s, %s], got %s", path, what, lo, hi, got);
}

/* integer value of a scalar node, range-checked */
static int get_int(const ld *L, const key_def *k, const char *path, const yaml_node_t *n, const char *what,
                   int64_t *out)
{
    char b[80];
    const char *s = scalar_of(n);
    if (is_null(n) || !s || !parse_int(s, out))
        return fail(L, line_of(n), "%s: expected an integer, got %s", path, describe(n, b, sizeof b));
    if ((double)*out < k->lo || (double)*out > k->hi) return range_error(L, line_of(n), path, k, (double)*out, 1, what);
    return PIXL_OK;
}

static int get_float(const ld *L, const key_def *k, const char *path, const yaml_node_t *n, const char *what,
                     double *out)
{
    char b[80];
    const char *s = scalar_of(n);
    if (is_null(n) || !s || !parse_float(s, out))
        return fail(L, line_of(n), "%s: expected a number, got %s", path, describe(n, b, sizeof b));
    if (*out < k->lo || *out > k->hi) return range_error(L, line_of(n), path, k, *out, 0, what);
    return PIXL_OK;
}

/* a list of numbers into the field of k (elements range-checked) */
static int set_list(const ld *L, const key_def *k, const char *path, const yaml_node_t *n, pixl_train_config *cfg)
{
    char b[80];
    int count = 0;
    unsigned char tmp[sizeof(double) * PIXL_CFG_MAX_CLASSES];
    size_t elem = k->kind == K_WEIGHTS ? sizeof(double) : k->elem;
    int cap = k->kind == K_WEIGHTS ? PIXL_CFG_MAX_CLASSES : k->max_len;
    int is_int_list = k->kind == K_INT_LIST;
    if (!is_null(n)) {
        if (n->type != YAML_SEQUENCE_NODE)
            return fail(L, line_of(n), "%s: expected a list of %s like [%s], got %s", path,
                        is_int_list ? "integers" : "numbers", is_int_list ? "1, 2" : "0.5, 1.0",
                        describe(n, b, sizeof b));
        int total = (int)(n->data.sequence.items.top - n->data.sequence.items.start);
        if (total > cap || total < k->min_len) {
            if (k->min_len == k->max_len && k->kind != K_WEIGHTS)
                return fail(L, line_of(n), "%s: expected a list of %d %s, got %d", path, k->min_len,
                            is_int_list ? "integers" : "numbers", total);
            return fail(L, line_of(n), "%s: at most %d values allowed, got %d", path, cap, total);
        }
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
            yaml_node_t *e = yaml_document_get_node(L->doc, *it);
            char what[32];
            snprintf(what, sizeof what, "element %d", count);
            if (is_int_list) {
                int64_t v;
                int rc = get_int(L, k, path, e, what, &v);
                if (rc) return rc;
                if (elem == sizeof(int64_t)) memcpy(tmp + (size_t)count * elem, &v, sizeof v);
                else {
                    int iv = (int)v;
                    memcpy(tmp + (size_t)count * elem, &iv, sizeof iv);
                }
            } else {
                double v;
                int rc = get_float(L, k, path, e, what, &v);
                if (rc) return rc;
                memcpy(tmp + (size_t)count * elem, &v, sizeof v);
            }
            count++;
        }
    } else if (k->min_len > 0) {
        return fail(L, line_of(n), "%s: expected a list of %d %s, got nothing", path, k->min_len,
                    is_int_list ? "integers" : "numbers");
    }
    unsigned char *base = (unsigned char *)cfg;
    if (k->kind == K_WEIGHTS) {
        memset(cfg->training.loss.class_weight_values, 0, sizeof cfg->training.loss.class_weight_values);
        memcpy(cfg->training.loss.class_weight_values, tmp, (size_t)count * elem);
        cfg->training.loss.n_class_weights = count;
        cfg->training.loss.class_weights = PIXL_CLASS_WEIGHTS_LIST;
        return PIXL_OK;
    }
    memset(base + k->off, 0, k->size);
    memcpy(base + k->off, tmp, (size_t)count * elem);
    if (k->count_off >= 0) memcpy(base + k->count_off, &count, sizeof count);
    return PIXL_OK;
}

/* model.options before any key is set */
static void model_options_defaults(pixl_cfg_model_options *o)
{
    memset(o, 0, sizeof *o);
    o->aux = 1;
    o->head = pixl_pn_head_defaults();
    o->crf.opts = pixl_crf_defaults();
    o->pag.opts = pixl_pag_defaults();
}

/* a YAML value of a typed-options key as the text pixl__opts_set reads:
 * scalars verbatim (null: ""), a list of scalars as "[a, b]" */
static int table_value_text(const ld *L, const char *path, const yaml_node_t *vn, char *out, size_t len)
{
    char b[80];
    if (is_null(vn)) {
        out[0] = 0;
        return PIXL_OK;
    }
    if (vn->type == YAML_SCALAR_NODE) {
        if (strlen(scalar_of(vn)) >= len) return fail(L, line_of(vn), "%s: value too long", path);
        snprintf(out, len, "%s", scalar_of(vn));
        return PIXL_OK;
    }
    if (vn->type != YAML_SEQUENCE_NODE)
        return fail(L, line_of(vn), "%s: expected a value or a list, got %s", path, describe(vn, b, sizeof b));
    size_t o = (size_t)snprintf(out, len, "[");
    for (yaml_node_item_t *it = vn->data.sequence.items.start; it < vn->data.sequence.items.top; it++) {
        yaml_node_t *e = yaml_document_get_node(L->doc, *it);
        const char *v = scalar_of(e);
        if (!v || is_null(e))
            return fail(L, line_of(e), "%s: list elements must be single values, got %s", path, describe(e, b, sizeof b));
        o += (size_t)snprintf(out + o, o < len ? len - o : 0, "%s%s", it > vn->data.sequence.items.start ? ", " : "", v);
    }
    if (o + 2 > len) return fail(L, line_of(vn), "%s: list too long", path);
    snprintf(out + o, len - o, "]");
    return PIXL_OK;
}

/* the type of key in table t, -1 if unknown */
static int table_key_type(const pixl__opt_table *t, const char *key)
{
    const char *keys[PIXL__OPTS_MAX_KEYS];
    const pixl__opt_field *fields[PIXL__OPTS_MAX_KEYS];
    int n = pixl__opts_keys(t, keys, fields, PIXL__OPTS_MAX_KEYS);
    for (int i = 0; i < n && i < PIXL__OPTS_MAX_KEYS; i++)
        if (!strcmp(keys[i], key)) return (int)fields[i]->type;
    return -1;
}

/* set key of the typed struct from text; an unknown key points at the key,
 * a bad value at the value */
static int table_set(ld *L, const key_def *k, void *field, const char *key, const char *text, const yaml_node_t *kn,
                     const yaml_node_t *vn)
{
    if (!pixl__opts_set(k->table, field, k->path, key, text)) return PIXL_OK;
    char msg[1536];
    snprintf(msg, sizeof msg, "%s", pixl_last_error());
    return fail(L, line_of(pixl_last_status() == PIXL_ERR_NOT_FOUND ? kn : vn), "%s", msg);
}

/* the mapping vn of the nested options `name` (model.options.crf): given,
 * with its defaults, then each of its keys as "name.key" */
static int apply_nested(ld *L, const key_def *k, void *field, const char *name, const yaml_node_t *kn,
                        const yaml_node_t *vn)
{
    char text[PIXL_CFG_PATH_LEN + 8], path[160], dotted[160];
    int rc = table_set(L, k, field, name, "{}", kn, vn);
    if (rc) return rc;
    for (yaml_node_pair_t *p = vn->data.mapping.pairs.start; p < vn->data.mapping.pairs.top; p++) {
        yaml_node_t *skn = yaml_document_get_node(L->doc, p->key), *svn = yaml_document_get_node(L->doc, p->value);
        const char *key = scalar_of(skn);
        if (!key || is_null(skn)) return fail(L, line_of(skn), "%s.%s: option names must be plain names", k->path, name);
        for (yaml_node_pair_t *q = vn->data.mapping.pairs.start; q < p; q++) {
            const char *other = scalar_of(yaml_document_get_node(L->doc, q->key));
            if (other && !strcmp(other, key))
                return fail(L, line_of(skn), "duplicate key '%s.%s.%s' (first at line %d)", k->path, name, key,
                            line_of(yaml_document_get_node(L->doc, q->key)));
        }
        snprintf(path, sizeof path, "%s.%s.%s", k->path, name, key);
        snprintf(dotted, sizeof dotted, "%s.%s", name, key);
        rc = table_value_text(L, path, svn, text, sizeof text);
        if (!rc) rc = table_set(L, k, field, dotted, text, skn, svn);
        if (rc) return rc;
    }
    return PIXL_OK;
}

/* a mapping node into the typed struct of k: defaults, then each key */
static int apply_table(ld *L, const key_def *k, const yaml_node_t *n, pixl_train_config *cfg)
{
    char b[80], text[PIXL_CFG_PATH_LEN + 8], path[160];
    void *field = (unsigned char *)cfg + k->off;
    if (!is_null(n) && n->type != YAML_MAPPING_NODE)
        return fail(L, line_of(n), "%s: expected a mapping of options like {width: 0.5}, got %s", k->path,
                    describe(n, b, sizeof b));
    model_options_defaults(field); /* the only K_TABLE */
    if (is_null(n)) return PIXL_OK;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = yaml_document_get_node(L->doc, p->key), *vn = yaml_document_get_node(L->doc, p->value);
        const char *key = scalar_of(kn);
        if (!key || is_null(kn)) return fail(L, line_of(kn), "%s: option names must be plain names", k->path);
        for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < p; q++) {
            const char *other = scalar_of(yaml_document_get_node(L->doc, q->key));
            if (other && !strcmp(other, key))
                return fail(L, line_of(kn), "duplicate key '%s.%s' (first at line %d)", k->path, key,
                            line_of(yaml_document_get_node(L->doc, q->key)));
        }
        snprintf(path, sizeof path, "%s.%s", k->path, key);
        int rc;
        if (vn->type == YAML_MAPPING_NODE && table_key_type(k->table, key) == PIXL__OPT_MAP)
            rc = apply_nested(L, k, field, key, kn, vn);
        else if (vn->type == YAML_MAPPING_NODE && table_key_type(k->table, key) < 0)
            rc = table_set(L, k, field, key, "", kn, vn); /* names the unknown key */
        else
            rc = table_value_text(L, path, vn, text, sizeof text);
        if (!rc && vn->type != YAML_MAPPING_NODE) rc = table_set(L, k, field, key, text, kn, vn);
        if (rc) return rc;
    }
    return PIXL_OK;
}

static int apply_section(ld *L, const char *sec, const yaml_node_t *n, pixl_train_config *cfg);

/* a string key; with choices, one of them (stored in its canonical spelling) */
static int set_string(const ld *L, const key_def *k, const char *s, int line, unsigned char *field)
{
    char canon[64];
    if (k->choices) {
        char opts[256];
        int near, idx = enum_index(k->choices, s, &near);
        if (idx < 0) {
            char nm[64] = "";
            enum_list(k->choices, opts, sizeof opts);
            if (near >= 0) enum_name(k->choices, near, nm, sizeof nm);
            return fail(L, line, "%s: expected %s, got '%.60s'%s%s%s", k->path, opts, s,
                        near >= 0 ? " (did you mean '" : "", nm, near >= 0 ? "'?)" : "");
        }
        enum_name(k->choices, idx, canon, sizeof canon);
        s = canon;
    }
    if (strlen(s) >= k->size) return fail(L, line, "%s: longer than %zu characters", k->path, k->size - 1);
    memset(field, 0, k->size);
    memcpy(field, s, strlen(s));
    return PIXL_OK;
}

/* set key k from node n */
static int apply_value(ld *L, int ki, const yaml_node_t *n, pixl_train_config *cfg)
{
    const key_def *k = &g_keys[ki];
    const char *path = k->path;
    unsigned char *field = (unsigned char *)cfg + k->off;
    const char *s = scalar_of(n);
    char b[80];
    int rc = PIXL_OK;
    L->lines[ki] = line_of(n);
    switch (k->kind) {
    case K_SECTION:
        return apply_section(L, path, n, cfg);
    case K_INT: {
        int64_t v;
        if ((rc = get_int(L, k, path, n, "value", &v))) return rc;
        store_int(field, k->size, v);
        return PIXL_OK;
    }
    case K_INT_NULL: {
        if (is_null(n)) {
            store_int(field, k->size, PIXL_CFG_INHERIT);
            return PIXL_OK;
        }
        int64_t v;
        if (!s || !parse_int(s, &v))
            return fail(L, line_of(n), "%s: expected an integer or null, got %s", path, describe(n, b, sizeof b));
        if ((double)v < k->lo || (double)v > k->hi) return range_error(L, line_of(n), path, k, (double)v, 1, "value");
        store_int(field, k->size, v);
        return PIXL_OK;
    }
    case K_FLOAT: {
        double v;
        if ((rc = get_float(L, k, path, n, "value", &v))) return rc;
        memcpy(field, &v, sizeof v);
        return PIXL_OK;
    }
    case K_BOOL: {
        int v;
        if (is_null(n) || !s || !parse_bool(s, &v))
            return fail(L, line_of(n), "%s: expected true or false, got %s", path, describe(n, b, sizeof b));
        memcpy(field, &v, sizeof v);
        return PIXL_OK;
    }
    case K_STRING: {
        if (is_null(n)) s = "";
        else if (!s) return fail(L, line_of(n), "%s: expected a string, got %s", path, describe(n, b, sizeof b));
        if (strlen(s) != n->data.scalar.length && !is_null(n))
            return fail(L, line_of(n), "%s: the string contains a NUL character", path);
        return set_string(L, k, s, line_of(n), field);
    }
    case K_ENUM: {
        char opts[256];
        enum_list(k->choices, opts, sizeof opts);
        if (is_null(n) || !s)
            return fail(L, line_of(n), "%s: expected %s, got %s", path, opts, describe(n, b, sizeof b));
        int near, idx = enum_index(k->choices, s, &near);
        if (idx < 0) {
            char nm[64] = "";
            if (near >= 0) enum_name(k->choices, near, nm, sizeof nm);
            return fail(L, line_of(n), "%s: expected %s, got %s%s%s%s", path, opts, describe(n, b, sizeof b),
                        near >= 0 ? " (did you mean '" : "", nm, near >= 0 ? "'?)" : "");
        }
        memcpy(field, &idx, sizeof idx);
        return PIXL_OK;
    }
    case K_INT_LIST:
    case K_FLOAT_LIST:
        return set_list(L, k, path, n, cfg);
    case K_WEIGHTS: {
        if (is_null(n)) s = "none";
        if (s) {
            static const char *const names[] = {"none", NULL, "enet", "median_freq"};
            for (int i = 0; i < 4; i++)
                if (names[i] && !strcasecmp(s, names[i])) {
                    cfg->training.loss.class_weights = (pixl_class_weighting)i;
                    cfg->training.loss.n_class_weights = 0;
                    memset(cfg->training.loss.class_weight_values, 0,
                           sizeof cfg->training.loss.class_weight_values);
                    return PIXL_OK;
                }
            int near, idx = enum_index("none|enet|median_freq", s, &near);
            (void)idx;
            char nm[64] = "";
            if (near >= 0) enum_name("none|enet|median_freq", near, nm, sizeof nm);
            return fail(L, line_of(n), "%s: expected none, enet, median_freq or a list of numbers, got %s%s%s%s", path,
                        describe(n, b, sizeof b), near >= 0 ? " (did you mean '" : "", nm, near >= 0 ? "'?)" : "");
        }
        if (n->type != YAML_SEQUENCE_NODE)
            return fail(L, line_of(n), "%s: expected none, enet, median_freq or a list of numbers, got %s", path,
                        describe(n, b, sizeof b));
        return set_list(L, k, path, n, cfg);
    }
    case K_TABLE:
        return apply_table(L, k, n, cfg);
    }
    return fail(L, line_of(n), "%s: internal error: unknown key kind", path);
}

/* apply a mapping node to the keys of section `sec` ("" = root) */
static int apply_section(ld *L, const char *sec, const yaml_node_t *n, pixl_train_config *cfg)
{
    char b[80];
    size_t sn = strlen(sec);
    if (is_null(n)) return PIXL_OK; /* "lr_schedule:" with nothing: defaults */
    if (n->type != YAML_MAPPING_NODE) {
        if (!sn) return fail(L, line_of(n), "expected a mapping of sections (model:, data:, training:, ...), got %s",
                             describe(n, b, sizeof b));
        return fail(L, line_of(n), "%s: expected a mapping of keys, got %s", sec, describe(n, b, sizeof b));
    }
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = yaml_document_get_node(L->doc, p->key), *vn = yaml_document_get_node(L->doc, p->value);
        const char *name = scalar_of(kn);
        if (!name || is_null(kn))
            return fail(L, line_of(kn), "%s%skeys must be plain names", sec, sn ? ": " : "");
        char full[256];
        snprintf(full, sizeof full, "%s%s%s", sec, sn ? "." : "", name);
        for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < p; q++) {
            const char *other = scalar_of(yaml_document_get_node(L->doc, q->key));
            if (other && !strcmp(other, name))
                return fail(L, line_of(kn), "duplicate key '%s' (first at line %d)", full,
                            line_of(yaml_document_get_node(L->doc, q->key)));
        }
        int ki = find_key(full);
        if (ki < 0 || !is_child(&g_keys[ki], sec, sn)) {
            char hint[512];
            key_hint(hint, sizeof hint, sec, sn, name);
            return fail(L, line_of(kn), "unknown key '%s'%s", full, hint);
        }
        int rc = apply_value(L, ki, vn, cfg);
        if (rc) return rc;
        if (g_keys[ki].kind == K_SECTION) L->lines[ki] = line_of(kn);
    }
    return PIXL_OK;
}

/* refuse YAML nested deeper than PIXL_MAX_YAML_DEPTH before building its
 * document: a pass over the parser's events, stopping at the first level
 * too deep (a syntax error is left to the loader, which reports it) */
static int check_depth(const ld *L, const char *text, size_t len)
{
    yaml_parser_t P;
    if (!yaml_parser_initialize(&P)) return pixl_set_error(PIXL_ERR_NOMEM, "out of memory initialising libyaml");
    yaml_parser_set_input_string(&P, (const unsigned char *)text, len);
    int depth = 0, rc = PIXL_OK;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&P, &ev)) break;
        yaml_event_type_t t = ev.type;
        int line = (int)ev.start_mark.line + 1;
        yaml_event_delete(&ev);
        if (t == YAML_STREAM_END_EVENT) break;
        if (t == YAML_SEQUENCE_START_EVENT || t == YAML_MAPPING_START_EVENT) {
            if (++depth > PIXL_MAX_YAML_DEPTH) {
                rc = fail(L, line, "YAML nested deeper than %d levels (a pixl config needs at most 5)",
                          PIXL_MAX_YAML_DEPTH);
                break;
            }
        } else if (t == YAML_SEQUENCE_END_EVENT || t == YAML_MAPPING_END_EVENT) {
            depth--;
        }
    }
    yaml_parser_delete(&P);
    return rc;
}

/* parse YAML text into doc; a syntax error is reported against L->file */
static int parse_yaml(ld *L, const char *text, size_t len, yaml_document_t *doc, yaml_node_t **root)
{
    int drc = check_depth(L, text, len);
    if (drc) return drc;
    yaml_parser_t P;
    if (!yaml_parser_initialize(&P)) return pixl_set_error(PIXL_ERR_NOMEM, "out of memory initialising libyaml");
    yaml_parser_set_input_string(&P, (const unsigned char *)text, len);
    int rc = PIXL_OK;
    if (!yaml_parser_load(&P, doc)) {
        int line = (int)P.problem_mark.line + 1, col = (int)P.problem_mark.column + 1;
        char ctx[160] = "";
        if (P.context) snprintf(ctx, sizeof ctx, " (%s at line %d)", P.context, (int)P.context_mark.line + 1);
        const char *what = P.problem ? P.problem : "invalid YAML";
        if (L->file) rc = pixl_set_error(L->status, "%s:%d:%d: YAML syntax error: %s%s", L->file, line, col, what, ctx);
        else rc = pixl_set_error(L->status, "YAML syntax error at column %d: %s%s", col, what, ctx);
        yaml_parser_delete(&P);
        return rc;
    }
    *root = yaml_document_get_root_node(doc);
    if (*root) { /* a second document is an error */
        yaml_document_t d2;
        if (!yaml_parser_load(&P, &d2)) {
            int line = (int)P.problem_mark.line + 1;
            rc = fail(L, line, "YAML syntax error: %s", P.problem ? P.problem : "invalid YAML");
        } else {
            yaml_node_t *r2 = yaml_document_get_root_node(&d2);
            if (r2) rc = fail(L, line_of(r2), "only one YAML document is expected");
            yaml_document_delete(&d2);
        }
        if (rc) yaml_document_delete(doc);
    }
    yaml_parser_delete(&P);
    return rc;
}

/* ------------------------------------------------------ cross-key checks */

/* the PixelNet head belongs to model.arch pixelnet, given once: as keys or as a variant string */
static int validate_model_options(const pixl_train_config *c, const ld *L, int line, int arch_line)
{
    const pixl_cfg_model_options *o = &c->model.options;
    if (o->crf.given && strstr(c->model.arch, "_crf"))
        return fail(L, line ? line : arch_line,
                    "model.options.crf and model.arch '%s': a CRF in both; give it once (model.arch without the "
                    "'[frozen]_crf...' part, or no model.options.crf)",
                    c->model.arch);
    if (o->crf.given && o->crf.opts.n_terms < 1)
        return fail(L, line, "model.options.crf.terms: at least one pairwise term TYPE:KERNEL:DILATION:BLUR, e.g. "
                             "[4d:5:16:1]");
    if (o->pag.given && strcmp(c->model.arch, "pag_resnet50"))
        return fail(L, line ? line : arch_line,
                    "model.options.pag: gates belong to model.arch pag_resnet50, but model.arch is '%s'",
                    c->model.arch);
    if (o->pag.given && pixl_pag_check(&o->pag.opts)) {
        char why[512];
        snprintf(why, sizeof why, "%s", pixl_last_error());
        return fail(L, line, "model.options.%s", why);
    }
    pixl_pn_head_opts d = pixl_pn_head_defaults();
    const char *k = pixl__opts_diff(&pixl__pn_head_table, &o->head, &d);
    if (strcmp(c->model.arch, "pixelnet")) {
        if (k)
            return fail(L, line ? line : arch_line,
                        "model.options.%s: a PixelNet head option, but model.arch is '%s' (only pixelnet has this head)",
                        k, c->model.arch);
        return PIXL_OK;
    }
    if (!o->variant[0]) return PIXL_OK;
    if (k)
        return fail(L, line, "model.options.variant and model.options.%s: give the PixelNet head either as keys or "
                             "as a variant string, not both", k);
    if (pixl_pn_head_parse(o->variant, &d)) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", pixl_last_error());
        return fail(L, line, "model.options.variant: %s", msg);
    }
    return PIXL_OK;
}

/* the float input of one batch, batch x 3 x rows x cols, against
 * PIXL_MAX_BATCH_BYTES: training batches at the crop (else the resize size),
 * validation batches at the resize size; images at their native size are
 * held by the pixel limit of the image reader instead */
static int batch_bytes_ok(const ld *L, const int *lines, const char *batch_key, int batch, int rows, int cols,
                          const char *size_key)
{
    if (rows <= 0 || cols <= 0) return PIXL_OK;
    char b[32], lim[32];
    int over = pixl__batch_over_limit(batch, rows, cols, b, lim);
    if (over <= 0) return over;
    int line = lines ? lines[find_key(batch_key)] : 0;
    if (!line && lines) line = lines[find_key(size_key)];
    return fail(L, line,
                "%s: %d images of 3x%dx%d (%s) make %s of input per batch, above the limit of %s (lower %s or %s, "
                "or set PIXL_MAX_BATCH_BYTES)",
                batch_key, batch, rows, cols, size_key, b, lim, batch_key, size_key);
}

static int check_batch_bytes(const pixl_train_config *c, const ld *L, const int *lines)
{
    const int crop = c->data.crop[0] > 0;
    int rc = batch_bytes_ok(L, lines, "training.batch_size", c->training.batch_size,
                            crop ? c->data.crop[0] : c->data.img_rows, crop ? c->data.crop[1] : c->data.img_cols,
                            crop ? "data.crop" : "data.img_rows");
    if (rc) return rc;
    return batch_bytes_ok(L, lines, "validation.batch_size", c->validation.batch_size, c->data.img_rows,
                          c->data.img_cols, "data.img_rows");
}

static int validate_lines(const pixl_train_config *c, const char *file, const int *lines)
{
    ld L0 = {.file = file, .status = file ? PIXL_ERR_FORMAT : PIXL_ERR_ARG};
    const ld *L = &L0;
#define LINE(path) (lines ? lines[find_key(path)] : 0)
    if (!c->model.arch[0]) return fail(L, LINE("model.arch"), "model.arch: must not be empty");
    int rc = validate_model_options(c, L, LINE("model.options"), LINE("model.arch"));
    if (rc) return rc;
    if ((c->data.img_rows > 0) != (c->data.img_cols > 0))
        return fail(L, LINE(c->data.img_rows > 0 ? "data.img_rows" : "data.img_cols"),
                    "data.img_rows and data.img_cols: set both (> 0) or neither (0), got %d and %d", c->data.img_rows,
                    c->data.img_cols);
    if ((c->data.crop[0] > 0) != (c->data.crop[1] > 0))
        return fail(L, LINE("data.crop"), "data.crop: set both sizes (> 0) or neither ([0, 0]), got [%d, %d]",
                    c->data.crop[0], c->data.crop[1]);
    rc = check_batch_bytes(c, L, lines);
    if (rc) return rc;
    if (c->data.scale[0] > c->data.scale[1])
        return fail(L, LINE("data.scale"), "data.scale: expected [min, max] with min <= max, got [%g, %g]",
                    c->data.scale[0], c->data.scale[1]);
    if (c->training.epochs <= 0 && c->training.max_minutes <= 0 && c->training.max_iters <= 0)
        return fail(L, LINE("training"),
                    "training: epochs, max_minutes and max_iters are all 0: set at least one to end the run");
    for (int i = 0; i < 2; i++)
        if (c->training.optimizer.betas[i] >= 1)
            return fail(L, LINE("training.optimizer.betas"), "training.optimizer.betas: each must be < 1, got %g",
                        c->training.optimizer.betas[i]);
    if (c->training.lr_schedule.name == PIXL_SCHED_STEP && c->training.lr_schedule.step_size <= 0)
        return fail(L, LINE("training.lr_schedule.step_size") ? LINE("training.lr_schedule.step_size")
                                                               : LINE("training.lr_schedule.name"),
                    "training.lr_schedule.step_size: must be > 0 for the step schedule");
    if (c->training.lr_schedule.name == PIXL_SCHED_MULTISTEP && c->training.lr_schedule.n_milestones == 0)
        return fail(L, LINE("training.lr_schedule.milestones") ? LINE("training.lr_schedule.milestones")
                                                                : LINE("training.lr_schedule.name"),
                    "training.lr_schedule.milestones: the multistep schedule needs at least one milestone");
    for (int i = 1; i < c->training.lr_schedule.n_milestones; i++)
        if (c->training.lr_schedule.milestones[i] <= c->training.lr_schedule.milestones[i - 1])
            return fail(L, LINE("training.lr_schedule.milestones"),
                        "training.lr_schedule.milestones: must increase, got %lld after %lld",
                        (long long)c->training.lr_schedule.milestones[i], (long long)c->training.lr_schedule.milestones[i - 1]);
    if (c->training.loss.class_weights == PIXL_CLASS_WEIGHTS_LIST && c->model.n_classes > 0 &&
        c->training.loss.n_class_weights != c->model.n_classes)
        return fail(L, LINE("training.loss.class_weights"),
                    "training.loss.class_weights: %d weights for model.n_classes = %d",
                    c->training.loss.n_class_weights, c->model.n_classes);
    if (c->training.loss.class_weights == PIXL_CLASS_WEIGHTS_LIST && c->training.loss.n_class_weights == 0)
        return fail(L, LINE("training.loss.class_weights"),
                    "training.loss.class_weights: empty list (use none for no weighting)");
#undef LINE
    return PIXL_OK;
}

int pixl_config_validate(const pixl_train_config *cfg)
{
    if (!cfg) return pixl_set_error(PIXL_ERR_ARG, "pixl_config_validate: NULL config");
    return validate_lines(cfg, NULL, NULL);
}

/* --------------------------------------------------------------- loading */

static int apply_text(ld *L, int ki, const char *text, pixl_train_config *cfg)
{
    yaml_document_t doc;
    yaml_node_t *root = NULL;
    int rc = parse_yaml(L, text, strlen(text), &doc, &root);
    if (rc) return rc;
    L->doc = &doc;
    if (ki < 0) rc = apply_section(L, "", root, cfg);
    else rc = apply_value(L, ki, root, cfg);
    L->doc = NULL;
    yaml_document_delete(&doc);
    return rc;
}

/* the printer and the docs need each key right after its section's other
 * keys: the parent of every entry is the latest section seen */
static int schema_ok(void)
{
    const char *sec = "";
    for (int i = 0; i < N_KEYS; i++) {
        size_t pl = parent_len(g_keys[i].path);
        if (pl != strlen(sec) || strncmp(g_keys[i].path, sec, pl))
            if (g_keys[i].kind != K_SECTION)
                return pixl_set_error(PIXL_ERR_STATE, "config schema: '%s' is not under section '%s'", g_keys[i].path, sec);
        if (g_keys[i].kind == K_SECTION) sec = g_keys[i].path;
    }
    return PIXL_OK;
}

int pixl_config_defaults(pixl_train_config *cfg)
{
    if (!cfg) return pixl_set_error(PIXL_ERR_ARG, "pixl_config_defaults: NULL config");
    int src = schema_ok();
    if (src) return src;
    pixl_train_config *t = pixl__calloc(1, sizeof *t);
    if (!t) return PIXL_ERR_NOMEM;
    ld L = {.file = "<pixl defaults>", .status = PIXL_ERR_STATE};
    for (int i = 0; i < N_KEYS; i++) {
        if (g_keys[i].kind == K_SECTION) continue;
        int rc = apply_text(&L, i, g_keys[i].def, t);
        if (rc) {
            pixl__free(t);
            return rc;
        }
    }
    *cfg = *t;
    pixl__free(t);
    return PIXL_OK;
}

/* "KEY=VALUE" overrides on top of a parsed config */
static int apply_overrides(pixl_train_config *t, int n_set, const char *const *set)
{
    for (int i = 0; i < n_set; i++) {
        char key[256];
        const char *eq = set[i] ? strchr(set[i], '=') : NULL;
        if (!eq || eq == set[i] || (size_t)(eq - set[i]) >= sizeof key)
            return pixl_set_error(PIXL_ERR_ARG, "override '%s': expected KEY=VALUE", set[i] ? set[i] : "(null)");
        memcpy(key, set[i], (size_t)(eq - set[i]));
        key[eq - set[i]] = 0;
        if (pixl_config_set(t, key, eq + 1)) {
            char msg[768];
            snprintf(msg, sizeof msg, "%s", pixl_last_error());
            return pixl_set_error(pixl_last_status(), "override %s: %s", set[i], msg);
        }
    }
    return PIXL_OK;
}

static int load_string_ex(const char *yaml, const char *name, pixl_train_config *cfg, int n_set,
                          const char *const *set)
{
    if (!yaml || !cfg) return pixl_set_error(PIXL_ERR_ARG, "pixl_config_load_string: NULL argument");
    pixl_train_config *t = pixl__malloc(sizeof *t);
    ld *L = pixl__calloc(1, sizeof *L);
    int rc = !t || !L ? PIXL_ERR_NOMEM : pixl_config_defaults(t);
    if (!rc) {
        L->file = name ? name : "<config>";
        L->status = PIXL_ERR_FORMAT;
        rc = apply_text(L, -1, yaml, t);
    }
    if (!rc) rc = apply_overrides(t, n_set, set);
    if (!rc) rc = validate_lines(t, L->file, L->lines);
    if (!rc) *cfg = *t;
    pixl__free(t);
    pixl__free(L);
    return rc;
}

int pixl_config_load_string(const char *yaml, const char *name, pixl_train_config *cfg)
{
    return load_string_ex(yaml, name, cfg, 0, NULL);
}

int pixl_config_load(const char *path, pixl_train_config *cfg) { return pixl_config_load_ex(path, cfg, 0, NULL); }

int pixl_config_load_ex(const char *path, pixl_train_config *cfg, int n_set, const char *const *set)
{
    if (!path || !cfg) return pixl_set_error(PIXL_ERR_ARG, "pixl_config_load: NULL argument");
    FILE *f = fopen(path, "rb");
    if (!f) return pixl_set_error(errno == ENOENT ? PIXL_ERR_NOT_FOUND : PIXL_ERR_IO, "cannot open config '%s': %s",
                                  path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *buf = pixl__malloc(cap);
    int rc = buf ? PIXL_OK : PIXL_ERR_NOMEM;
    while (!rc) {
        if (n + 1 >= cap) {
            if (cap > ((size_t)64 << 20)) {
                rc = pixl_set_error(PIXL_ERR_FORMAT, "%s: config file larger than 64 MiB", path);
                break;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                rc = pixl_set_error(PIXL_ERR_NOMEM, "out of memory reading '%s'", path);
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - 1 - n, f);
        n += r;
        if (r == 0) {
            if (ferror(f)) rc = pixl_set_error(PIXL_ERR_IO, "%s: read error", path);
            break;
        }
    }
    fclose(f);
    if (!rc) {
        buf[n] = 0;
        if (strlen(buf) != n) rc = pixl_set_error(PIXL_ERR_FORMAT, "%s: contains a NUL byte (not a YAML file?)", path);
    }
    if (!rc) rc = load_string_ex(buf, path, cfg, n_set, set);
    pixl__free(buf);
    return rc;
}

int pixl_config_set(pixl_train_config *cfg, const char *key, const char *value)
{
    if (!cfg || !key || !value) return pixl_set_error(PIXL_ERR_ARG, "pixl_config_set: NULL argument");
    pixl_train_config *t = pixl__malloc(sizeof *t);
    ld *L = pixl__calloc(1, sizeof *L);
    if (!t || !L) {
        pixl__free(t);
        pixl__free(L);
        return PIXL_ERR_NOMEM;
    }
    *t = *cfg;
    L->status = PIXL_ERR_ARG;
    int rc, ki = find_key(key);
    static const char opt_prefix[] = "model.options.";
    if (ki >= 0 && g_keys[ki].kind == K_STRING) {
        /* verbatim: a path or name from the command line is never YAML-interpreted */
        rc = set_string(L, &g_keys[ki], value, 0, (unsigned char *)t + g_keys[ki].off);
    } else if (ki >= 0) {
        rc = apply_text(L, ki, value, t);
    } else if (!strncmp(key, opt_prefix, sizeof opt_prefix - 1)) {
        /* verbatim text, as for string keys: "[512, 512]", "conv3,conv4", "corner" */
        rc = pixl__opts_set(&pixl__model_cfg_table, &t->model.options, "model.options", key + sizeof opt_prefix - 1,
                            value);
    } else {
        char hint[256];
        path_hint(hint, sizeof hint, key);
        rc = pixl_set_error(PIXL_ERR_NOT_FOUND, "unknown key '%s'%s", key, hint);
    }
    if (!rc) *cfg = *t;
    pixl__free(t);
    pixl__free(L);
    return rc;
}

