/* config_print.c — a training configuration as text: a key's value
 * (pixl_config_get), the whole config as commented YAML that loads back to
 * an equal struct (print, save), the first differing key (diff), and the
 * Markdown reference docs/config.md (write_docs). */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <strings.h>
#include <unistd.h>
#include <yaml.h>

#include "config_impl.h"

/* ---------------------------------------------------------------- output */

/* shortest text that reads back to v, always with a '.' (a YAML 1.1 float) */
static void fmt_double(char *out, size_t len, double v)
{
    char t[48];
    for (int p = 15; p <= 17; p++) {
        snprintf(t, sizeof t, "%.*g", p, v);
        if (strtod(t, NULL) == v) break;
    }
    char *e = strchr(t, 'e');
    if (!strchr(t, '.')) {
        if (e) {
            char tail[24];
            snprintf(tail, sizeof tail, "%s", e);
            *e = 0;
            snprintf(out, len, "%s.0%s", t, tail);
            return;
        }
        snprintf(out, len, "%s.0", t);
        return;
    }
    snprintf(out, len, "%s", t);
}

/* can s be written as a plain YAML scalar that reads back as this string
 * (also in YAML 1.1 readers such as PyYAML)? `loose`: number- and bool-like
 * text may stay plain (model.options values are text anyway). */
static int plain_ok(const char *s, int loose)
{
    if (!*s) return 0;
    for (const char *p = s; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (!(isalnum(ch) || ch == '_' || ch == '.' || ch == '/' || ch == '-' || ch == '+')) return 0;
    }
    if (s[0] == '-' && !(isdigit((unsigned char)s[1]) || s[1] == '.')) return 0; /* "- x" sequence look-alikes */
    if (loose) return 1;
    static const char *const reserved[] = {"null", "true", "false", "yes", "no", "on", "off", "y", "n", "~"};
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (!strcasecmp(s, reserved[i])) return 0;
    /* anything starting like a number is quoted (1.0, 1e5, 0x10, 1_000 ...) */
    const char *p = s;
    if (*p == '+' || *p == '-') p++;
    if (*p == '.') p++;
    if (isdigit((unsigned char)*p)) return 0;
    if (!strcasecmp(s, ".inf") || !strcasecmp(s, ".nan") || !strcasecmp(s, "-.inf")) return 0;
    return 1;
}

static void fmt_string(char *out, size_t len, const char *s, int loose)
{
    if (plain_ok(s, loose)) {
        snprintf(out, len, "%s", s);
        return;
    }
    size_t o = 0;
    if (len < 4) {
        if (len) out[0] = 0;
        return;
    }
    out[o++] = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p && o + 6 < len; p++) {
        if (*p == '"' || *p == '\\') o += (size_t)snprintf(out + o, len - o, "\\%c", *p);
        else if (*p == '\n') o += (size_t)snprintf(out + o, len - o, "\\n");
        else if (*p == '\t') o += (size_t)snprintf(out + o, len - o, "\\t");
        else if (*p < 0x20 || *p == 0x7f) o += (size_t)snprintf(out + o, len - o, "\\x%02x", *p);
        else out[o++] = (char)*p;
    }
    out[o++] = '"';
    out[o] = 0;
}

/* the field of a typed-options key, NULL if unknown */
static const pixl__opt_field *table_field(const pixl__opt_table *t, const char *key)
{
    const char *keys[PIXL__OPTS_MAX_KEYS];
    const pixl__opt_field *fields[PIXL__OPTS_MAX_KEYS];
    int n = pixl__opts_keys(t, keys, fields, PIXL__OPTS_MAX_KEYS);
    for (int i = 0; i < n; i++)
        if (!strcmp(keys[i], key)) return fields[i];
    return NULL;
}

/* a typed-options value as YAML text: strings quoted where YAML would read
 * them otherwise, lists as flow sequences, numbers and bools plain */
static void table_value(const pixl__opt_table *t, const pixl__opt_field *f, const void *obj, const char *key,
                        char *out, size_t len)
{
    char raw[PIXL_CFG_PATH_LEN + 8];
    pixl__opts_get(t, obj, key, raw, sizeof raw);
    if (f->type == PIXL__OPT_STRING || f->type == PIXL__OPT_ENUM) fmt_string(out, len, raw, 0);
    else snprintf(out, len, "%s", raw);
}

/* value of key k as YAML text (not for sections or typed tables) */
static void fmt_value(const pixl_train_config *cfg, const key_def *k, char *out, size_t len)
{
    const unsigned char *field = (const unsigned char *)cfg + k->off;
    out[0] = 0;
    switch (k->kind) {
    case K_SECTION:
    case K_TABLE:
        break;
    case K_INT:
        snprintf(out, len, "%lld", (long long)load_int(field, k->size));
        break;
    case K_INT_NULL: {
        int64_t v = load_int(field, k->size);
        if (v == PIXL_CFG_INHERIT) snprintf(out, len, "null");
        else snprintf(out, len, "%lld", (long long)v);
        break;
    }
    case K_FLOAT: {
        double v;
        memcpy(&v, field, sizeof v);
        fmt_double(out, len, v);
        break;
    }
    case K_BOOL: {
        int v;
        memcpy(&v, field, sizeof v);
        snprintf(out, len, "%s", v ? "true" : "false");
        break;
    }
    case K_STRING:
        fmt_string(out, len, (const char *)field, 0);
        break;
    case K_ENUM: {
        int v;
        memcpy(&v, field, sizeof v);
        enum_name(k->choices, v, out, len);
        break;
    }
    case K_INT_LIST:
    case K_FLOAT_LIST:
    case K_WEIGHTS: {
        int n;
        const unsigned char *vals = field;
        size_t elem = k->elem;
        if (k->kind == K_WEIGHTS) {
            if (cfg->training.loss.class_weights != PIXL_CLASS_WEIGHTS_LIST) {
                static const char *const names[] = {"none", "list", "enet", "median_freq"};
                int w = (int)cfg->training.loss.class_weights;
                snprintf(out, len, "%s", w >= 0 && w < 4 ? names[w] : "none");
                break;
            }
            n = cfg->training.loss.n_class_weights;
            vals = (const unsigned char *)cfg->training.loss.class_weight_values;
            elem = sizeof(double);
        } else if (k->count_off >= 0) {
            memcpy(&n, (const unsigned char *)cfg + k->count_off, sizeof n);
        } else {
            n = k->max_len;
        }
        size_t o = (size_t)snprintf(out, len, "[");
        for (int i = 0; i < n && o < len; i++) {
            char num[48];
            if (k->kind == K_INT_LIST) snprintf(num, sizeof num, "%lld", (long long)load_int(vals + (size_t)i * elem, elem));
            else {
                double v;
                memcpy(&v, vals + (size_t)i * elem, sizeof v);
                fmt_double(num, sizeof num, v);
            }
            o += (size_t)snprintf(out + o, len - o, "%s%s", i ? ", " : "", num);
        }
        if (o < len) snprintf(out + o, len - o, "]");
        break;
    }
    }
}

int pixl_config_get(const pixl_train_config *cfg, const char *key, char *buf, size_t len)
{
    if (!cfg || !key || !buf || !len) return pixl_set_error(PIXL_ERR_ARG, "pixl_config_get: NULL argument");
    int ki = find_key(key);
    if (ki < 0) {
        static const char opt_prefix[] = "model.options.";
        if (!strncmp(key, opt_prefix, sizeof opt_prefix - 1)) {
            const char *sub = key + sizeof opt_prefix - 1;
            const pixl__opt_field *f = table_field(&pixl__model_cfg_table, sub);
            if (!f) return pixl__opts_get(&pixl__model_cfg_table, &cfg->model.options, sub, buf, len); /* names the valid keys */
            table_value(&pixl__model_cfg_table, f, &cfg->model.options, sub, buf, len);
            return PIXL_OK;
        }
        char hint[256];
        path_hint(hint, sizeof hint, key);
        return pixl_set_error(PIXL_ERR_NOT_FOUND, "unknown key '%s'%s", key, hint);
    }
    const key_def *k = &g_keys[ki];
    if (k->kind == K_SECTION) return pixl_set_error(PIXL_ERR_ARG, "%s is a section, not a key", key);
    if (k->kind == K_TABLE) {
        const char *keys[PIXL__OPTS_MAX_KEYS];
        const pixl__opt_field *fields[PIXL__OPTS_MAX_KEYS];
        int n = pixl__opts_keys(k->table, keys, fields, PIXL__OPTS_MAX_KEYS);
        const void *obj = (const unsigned char *)cfg + k->off;
        size_t o = (size_t)snprintf(buf, len, "{");
        for (int i = 0; i < n && o < len; i++) {
            char v[PIXL_CFG_PATH_LEN * 2 + 8];
            table_value(k->table, fields[i], obj, keys[i], v, sizeof v);
            o += (size_t)snprintf(buf + o, len - o, "%s%s: %s", i ? ", " : "", keys[i], v);
        }
        if (o < len) snprintf(buf + o, len - o, "}");
    } else {
        fmt_value(cfg, k, buf, len);
    }
    return PIXL_OK;
}

static void put_line(FILE *f, int indent, const char *text, const char *doc)
{
    int col = fprintf(f, "%*s%s", indent, "", text);
    if (doc && *doc) fprintf(f, "%*s# %s", col < 44 ? 44 - col : 1, "", doc);
    fputc('\n', f);
}

int pixl_config_print(FILE *f, const pixl_train_config *cfg)
{
    if (!f || !cfg) return pixl_set_error(PIXL_ERR_ARG, "pixl_config_print: NULL argument");
    char *line = pixl__malloc(16384), *val = pixl__malloc(16384);
    if (!line || !val) {
        pixl__free(line);
        pixl__free(val);
        return PIXL_ERR_NOMEM;
    }
    fprintf(f, "# pixl training configuration (docs/config.md). Every key is optional;\n"
               "# override any of them with `--set section.key=value`.\n");
    for (int i = 0; i < N_KEYS; i++) {
        const key_def *k = &g_keys[i];
        int ind = 2 * depth_of(k->path);
        const char *name = leaf_of(k->path);
        if (k->kind == K_SECTION) {
            if (ind == 0) fputc('\n', f);
            snprintf(line, 16384, "%s:", name);
            put_line(f, ind, line, k->doc);
        } else if (k->kind == K_TABLE) {
            snprintf(line, 16384, "%s:", name);
            put_line(f, ind, line, k->doc);
            const char *keys[PIXL__OPTS_MAX_KEYS];
            const pixl__opt_field *fields[PIXL__OPTS_MAX_KEYS];
            int n = pixl__opts_keys(k->table, keys, fields, PIXL__OPTS_MAX_KEYS);
            for (int j = 0; j < n; j++) {
                table_value(k->table, fields[j], (const unsigned char *)cfg + k->off, keys[j], val, 16384);
                snprintf(line, 16384, "%s: %s", keys[j], val);
                put_line(f, ind + 2, line, fields[j]->doc);
            }
        } else {
            fmt_value(cfg, k, val, 16384);
            snprintf(line, 16384, "%s: %s", name, val);
            put_line(f, ind, line, k->doc);
        }
    }
    pixl__free(line);
    pixl__free(val);
    return ferror(f) ? pixl_set_error(PIXL_ERR_IO, "pixl_config_print: write failed") : PIXL_OK;
}

int pixl_config_print_defaults(FILE *f)
{
    pixl_train_config *c = pixl__malloc(sizeof *c);
    if (!c) return PIXL_ERR_NOMEM;
    int rc = pixl_config_defaults(c);
    if (!rc) rc = pixl_config_print(f, c);
    pixl__free(c);
    return rc;
}

int pixl_config_save(const pixl_train_config *cfg, const char *path)
{
    if (!cfg || !path) return pixl_set_error(PIXL_ERR_ARG, "pixl_config_save: NULL argument");
    pixl_atomic_file *af = pixl_atomic_begin(path);
    if (!af) return pixl_last_status();
    int rc = pixl_config_print(pixl_atomic_stream(af), cfg);
    if (rc) {
        pixl_atomic_abort(af);
        return rc;
    }
    return pixl_atomic_commit(af);
}

int pixl_config_diff(const pixl_train_config *a, const pixl_train_config *b, char *key, size_t len)
{
    if (key && len) key[0] = 0;
    if (!a || !b) return pixl_set_error(PIXL_ERR_ARG, "pixl_config_diff: NULL config");
    char *x = pixl__malloc(16384), *y = pixl__malloc(16384);
    int differ = 0;
    if (!x || !y) {
        pixl__free(x);
        pixl__free(y);
        return pixl_set_error(PIXL_ERR_NOMEM, "pixl_config_diff: out of memory");
    }
    for (int i = 0; i < N_KEYS && !differ; i++) {
        const key_def *k = &g_keys[i];
        if (k->kind == K_SECTION) continue;
        if (k->kind == K_TABLE) {
            const char *d = pixl__opts_diff(k->table, (const unsigned char *)a + k->off, (const unsigned char *)b + k->off);
            if (d && (differ = 1) && key) snprintf(key, len, "%s.%s", k->path, d);
            continue;
        }
        /* the printed forms are exact (shortest round-trip numbers) */
        fmt_value(a, k, x, 16384);
        fmt_value(b, k, y, 16384);
        if (strcmp(x, y) && (differ = 1) && key) snprintf(key, len, "%s", k->path);
    }
    pixl__free(x);
    pixl__free(y);
    return differ;
}

/* ------------------------------------------------------------------ docs */

static void type_desc(const key_def *k, char *out, size_t len)
{
    char lo[32], hi[32], ch[256];
    int integer = k->kind == K_INT || k->kind == K_INT_LIST || k->kind == K_INT_NULL;
    fmt_range_num(lo, sizeof lo, k->lo, integer);
    fmt_range_num(hi, sizeof hi, k->hi, integer);
    char range[96];
    if (k->hi >= BIG || (integer && k->hi >= 2147483647.0)) snprintf(range, sizeof range, " >= %s", lo);
    else snprintf(range, sizeof range, " in [%s, %s]", lo, hi);
    switch (k->kind) {
    case K_SECTION: snprintf(out, len, "section"); break;
    case K_INT: snprintf(out, len, "integer%s", range); break;
    case K_INT_NULL: snprintf(out, len, "integer%s, or null", range); break;
    case K_FLOAT: snprintf(out, len, "number%s", range); break;
    case K_BOOL: snprintf(out, len, "bool"); break;
    case K_STRING:
        if (k->choices) {
            enum_list(k->choices, ch, sizeof ch);
            snprintf(out, len, "%s", ch);
        } else {
            snprintf(out, len, "string (< %zu chars)", k->size);
        }
        break;
    case K_ENUM: {
        enum_list(k->choices, ch, sizeof ch);
        snprintf(out, len, "%s", ch);
        break;
    }
    case K_INT_LIST:
    case K_FLOAT_LIST:
        if (k->count_off < 0)
            snprintf(out, len, "list of %d %s%s", k->max_len, integer ? "integers" : "numbers", range);
        else
            snprintf(out, len, "list of up to %d %s%s", k->max_len, integer ? "integers" : "numbers", range);
        break;
    case K_WEIGHTS: snprintf(out, len, "none, enet, median_freq, or a list of numbers >= 0"); break;
    case K_TABLE: snprintf(out, len, "mapping"); break;
    }
}

/* "|" would break a Markdown table cell */
static void md_cell(FILE *f, const char *s);

/* the type column of a typed-options key */
static void opt_type_desc(const pixl__opt_field *q, char *ty, size_t len)
{
    static const char *const types[] = {"integer", "number", "bool", "string", "", "list of integers",
                                        "list of names", "", "list", "mapping or null", "list of numbers"};
    if (q->type == PIXL__OPT_ENUM) enum_list(q->choices, ty, len);
    else if (q->type == PIXL__OPT_INT) snprintf(ty, len, "integer in [%lld, %lld]", (long long)q->lo, (long long)q->hi);
    else if (q->type == PIXL__OPT_FLOAT) snprintf(ty, len, "number in [%g, %g]", q->lo, q->hi);
    else if (q->type == PIXL__OPT_INT_LIST || q->type == PIXL__OPT_STR_LIST || q->type == PIXL__OPT_FLOAT_LIST)
        snprintf(ty, len, "%s (up to %d)", types[q->type], q->max_n);
    else snprintf(ty, len, "%s", types[q->type]);
}

static void doc_row(FILE *f, const char *path, const char *key, const char *ty, const char *val, const char *doc)
{
    fprintf(f, "| `%s.%s` | ", path, key);
    md_cell(f, ty);
    fputs(" | `", f);
    md_cell(f, val);
    fputs("` | ", f);
    md_cell(f, doc ? doc : "");
    fputs(" |\n", f);
}

/* one row per key of a typed table (model.options.width ...); a nested
 * mapping (model.options.crf) gets its row, then one per key of it at its
 * defaults (model.options.crf.steps ...) */
static void table_docs(FILE *f, const key_def *k, const pixl_train_config *c)
{
    const char *keys[PIXL__OPTS_MAX_KEYS];
    const pixl__opt_field *fields[PIXL__OPTS_MAX_KEYS];
    int n = pixl__opts_keys(k->table, keys, fields, PIXL__OPTS_MAX_KEYS);
    for (int i = 0; i < n; i++) {
        const pixl__opt_field *q = fields[i];
        char ty[256], val[PIXL_CFG_PATH_LEN + 8];
        opt_type_desc(q, ty, sizeof ty);
        table_value(k->table, q, (const unsigned char *)c + k->off, keys[i], val, sizeof val);
        doc_row(f, k->path, keys[i], ty, val, q->doc);
        if (q->type != PIXL__OPT_MAP) continue;
        unsigned char *sub = pixl__malloc(q->size);
        if (!sub) continue;
        q->init(sub);
        const char *sk[PIXL__OPTS_MAX_KEYS];
        const pixl__opt_field *sf[PIXL__OPTS_MAX_KEYS];
        int sn = pixl__opts_keys(q->sub, sk, sf, PIXL__OPTS_MAX_KEYS);
        char path[160];
        snprintf(path, sizeof path, "%s.%s", k->path, keys[i]);
        for (int j = 0; j < sn; j++) {
            opt_type_desc(sf[j], ty, sizeof ty);
            table_value(q->sub, sf[j], sub, sk[j], val, sizeof val);
            doc_row(f, path, sk[j], ty, val, sf[j]->doc);
        }
        pixl__free(sub);
    }
}

static void md_cell(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '|') fputs("\\|", f);
        else fputc(*s, f);
    }
}

int pixl_config_write_docs(FILE *f)
{
    if (!f) return pixl_set_error(PIXL_ERR_ARG, "pixl_config_write_docs: NULL FILE");
    pixl_train_config *c = pixl__malloc(sizeof *c);
    if (!c) return PIXL_ERR_NOMEM;
    int rc = pixl_config_defaults(c);
    if (rc) {
        pixl__free(c);
        return rc;
    }
    fputs("# Training configuration\n\n"
          "<!-- Generated from the schema in src/config/config_schema.c by pixl_config_write_docs():\n"
          "     PIXL_REGEN_DOCS=1 build/pixl_tests config_docs. Do not edit by hand. -->\n\n"
          "`pixl train` reads a YAML file with the sections `model`, `data`, `training`\n"
          "(with `optimizer`, `lr_schedule` and `loss`), `validation` and `output`, in the\n"
          "spirit of pytorch-semseg's configs. Every key is optional: a missing key keeps\n"
          "its default, and `pixl train --print-config` prints every key with its default\n"
          "and a one-line description as a valid config file to start from.\n\n"
          "## Values\n\n"
          "- integers are decimal (`8`, not `8.0`); numbers accept `5e-4`, `0.0005`, `1`;\n"
          "- bools are `true`/`false` (also `yes`/`no`, `on`/`off`);\n"
          "- names of choices are case-insensitive; lists are `[a, b]` or block sequences;\n"
          "- `null`, `~` or nothing: the empty string for strings, `[]` for lists, the\n"
          "  default for a section;\n"
          "- values are range-checked.\n\n"
          "## Errors\n\n"
          "The first problem stops loading, with the file and line:\n\n"
          "```\n"
          "run.yaml:3: unknown key 'trainig' (did you mean 'training'?)\n"
          "run.yaml:9: unknown key 'training.n_workers' (did you mean 'data.n_workers'?)\n"
          "run.yaml:7: training.batch_size: expected an integer, got 'eight'\n"
          "run.yaml:12: training.optimizer.name: expected sgd, adam or adamw, got 'adm' (did you mean 'adam'?)\n"
          "run.yaml:8: duplicate key 'training.epochs' (first at line 5)\n"
          "run.yaml:4:7: YAML syntax error: ...\n"
          "```\n\n"
          "## Overrides\n\n"
          "Any key can be overridden on the command line (`pixl_config_set()`), with the\n"
          "same checks: `--set training.optimizer.lr=0.01`, `--set data.crop=[256,256]`,\n"
          "`--set model.options.width=0.5`, `--set model.options.mlp=[256,256]`, or a whole\n"
          "section as a flow mapping: `--set 'training.optimizer={name: sgd, lr: 0.01}'`.\n"
          "String keys (paths) take the text verbatim. An unknown key, in a file or in\n"
          "`--set`, is an error that names the key and the valid ones; `pixl train`\n"
          "exits with 2 then.\n\n"
          "## Model options\n\n"
          "`model.options` is a mapping with a fixed set of keys (listed below), read\n"
          "into typed fields: `width`, `variant`, `backbone`, `output_stride`, `aux`,\n"
          "`pretrained`, and the PixelNet head of `model.arch: pixelnet` (`taps`, `mlp`,\n"
          "`dropout`, `hc_dropout`, `bn`, `align`, `chunk`). Lists are YAML lists\n"
          "(`mlp: [512, 512]`; the older quoted form `\"[512, 512]\"` reads the same).\n"
          "The head keys are PixelNet's only: on another `model.arch` they are an error\n"
          "naming both sides. The head may instead be given as a variant string\n"
          "(`variant: \"mlp=512,512;dropout=0.5\"`), parsed into the same fields, but not\n"
          "both.\n\n"
          "A PacCRF on the network's logits (pacnet's ModelWithCrf) is the mapping\n"
          "`model.options.crf` (null: none): `frozen` (train the CRF only, pacnet's first\n"
          "stage), `steps`, `loose`, `output`, `perturbed_init`, `fixed_weighting`,\n"
          "`unary_weight` and `terms`, a list of pairwise terms TYPE:KERNEL:DILATION:BLUR\n"
          "with TYPE 4d, 2d, 0d (Potts) or na and an optional `:s` (spatial filter); at\n"
          "least one term. pacnet's compact name in `model.arch` stays accepted and is\n"
          "parsed into the same keys (`pixl_crf_parse()`, `pixl_crf_set()`):\n"
          "`arch: enetfrozen_crfi5p4d5161p4d541` is the network below, with the same\n"
          "parameters, names and initialisation. Give the CRF in one of the two places.\n"
          "`--set model.options.crf.steps=3` sets one key of it.\n\n"
          "```yaml\n"
          "model:\n"
          "  arch: enet\n"
          "  options:\n"
          "    crf: {frozen: true, steps: 5, terms: [4d:5:16:1, 4d:5:4:1]}\n"
          "```\n\n"
          "```yaml\n"
          "model:\n"
          "  arch: pixelnet\n"
          "  options:\n"
          "    backbone: resnet18\n"
          "    mlp: [512, 512]\n"
          "    dropout: 0.5\n"
          "```\n\n"
          "```\n"
          "run.yaml:6: unknown key 'model.options.mpl' (did you mean 'mlp'? valid keys: width, variant, ...)\n"
          "run.yaml:2: model.options.mlp: a PixelNet head option, but model.arch is 'unet' (only pixelnet has this head)\n"
          "run.yaml:7: unknown key 'model.options.crf.step' (did you mean 'steps'? valid keys: frozen, steps, ...)\n"
          "```\n\n"
          "## Rules between keys\n\n"
          "Checked after loading (and by `pixl_config_validate()` after overrides):\n\n"
          "- at least one of `training.epochs`, `training.max_minutes`, `training.max_iters`\n"
          "  is > 0; the run ends at the first limit reached;\n"
          "- `data.img_rows`/`data.img_cols` and the two sizes of `data.crop` are both\n"
          "  0 or both > 0; `data.scale` is [min, max] with min <= max;\n"
          "- `training.optimizer.betas` are < 1;\n"
          "- the `step` schedule needs `step_size` > 0, `multistep` needs increasing\n"
          "  `milestones`;\n"
          "- a list of class weights has `model.n_classes` entries (when that is set).\n\n"
          "Validation runs when either `validation.every_epochs` or\n"
          "`validation.every_minutes` is due (0 disables that trigger).\n\n"
          "## Keys\n",
          f);
    char val[4096], ty[256];
    for (int i = 0; i < N_KEYS; i++) {
        const key_def *k = &g_keys[i];
        if (k->kind == K_SECTION) {
            fprintf(f, "\n### `%s`\n\n%c%s.\n\n| key | type | default | description |\n|---|---|---|---|\n", k->path,
                    toupper((unsigned char)k->doc[0]), k->doc + 1);
            continue;
        }
        if (k->kind == K_TABLE) {
            table_docs(f, k, c);
            continue;
        }
        type_desc(k, ty, sizeof ty);
        fmt_value(c, k, val, sizeof val);
        fprintf(f, "| `%s` | ", k->path);
        md_cell(f, ty);
        fputs(" | `", f);
        md_cell(f, val);
        fputs("` | ", f);
        md_cell(f, k->doc);
        fputs(" |\n", f);
    }
    fputs("\n## Defaults as a file\n\n```yaml\n", f);
    pixl_config_print(f, c);
    fputs("```\n", f);
    pixl__free(c);
    return ferror(f) ? pixl_set_error(PIXL_ERR_IO, "pixl_config_write_docs: write failed") : PIXL_OK;
}

