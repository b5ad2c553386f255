/* config.c — pixl's training configuration: the schema of every key (type,
 * default, range, one-line doc), a YAML loader (libyaml document API: the
 * node tree keeps line numbers for error messages), command-line overrides,
 * cross-key validation, printing as YAML and as a Markdown reference.
 *
 * THE SCHEMA
 *   g_keys[] lists every section and key in print order with the offset of
 *   its field in pixl_train_config. Defaults are YAML text parsed by the same
 *   code that reads files, so the printed defaults, the docs and the struct
 *   can not disagree. Add a key: a field in pixl.h, one line here, then
 *   regenerate docs/config.md (PIXL_REGEN_DOCS=1 pixl_tests config_docs).
 *
 * VALUES
 *   int          decimal integer, range-checked ("8"; not "8.0", not "eight")
 *   float        any decimal/exponent number ("5e-4", "1"), finite
 *   bool         true/false/yes/no/on/off (any case)
 *   string       any scalar; null/~/empty = ""
 *   enum         one of the listed names (case-insensitive)
 *   lists        [a, b] or block sequences of numbers; null = []
 *   weights      none | enet | median_freq | [w0, w1, ...]
 *   int-or-null  an integer, or null for "inherit"
 *   table        a mapping whose keys are those of a typed options table
 *                (core/opts_tables.c): model.options; unknown keys are errors
 *
 * ERRORS
 *   Loading stops at the first error, reported as "file:line: message" with
 *   the line of the offending key or value; cfg is unchanged then. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <strings.h>
#include <unistd.h>
#include <yaml.h>

#include "pixl_impl.h"

_Static_assert(sizeof(pixl_optim_kind) == sizeof(int), "enum fields are written as int");
_Static_assert(sizeof(pixl_sched_kind) == sizeof(int), "enum fields are written as int");
_Static_assert(sizeof(pixl_loss_kind) == sizeof(int), "enum fields are written as int");
_Static_assert(sizeof(pixl_class_weighting) == sizeof(int), "enum fields are written as int");

/* ------------------------------------------------------------------ schema */

typedef enum {
    K_SECTION,
    K_INT,       /* int or int64_t field (size) */
    K_FLOAT,     /* double */
    K_BOOL,      /* int 0/1 */
    K_STRING,    /* char[size] */
    K_ENUM,      /* int index into choices */
    K_INT_LIST,  /* int or int64_t elements (elem), count at count_off or fixed length */
    K_FLOAT_LIST,/* double elements */
    K_WEIGHTS,   /* loss.class_weights: enum field + count + values */
    K_INT_NULL,  /* int, null = PIXL_CFG_INHERIT */
    K_TABLE      /* a typed options struct (pixl__opt_table): model.options */
} kind;

typedef struct key_def {
    const char *path;
    kind kind;
    const char *def;     /* default as YAML text */
    const char *doc;
    size_t off;          /* offset of the field */
    size_t size;         /* bytes of the field (int: 4/8, string: capacity, list: whole array) */
    size_t elem;         /* lists: bytes of one element */
    ptrdiff_t count_off; /* lists: offset of the int count, -1 = fixed length max_len */
    int min_len, max_len;
    double lo, hi;       /* inclusive range of numbers (list elements too) */
    const char *choices; /* enum: "a|b|c" */
    const pixl__opt_table *table; /* K_TABLE */
} key_def;

#define F_OFF(f) offsetof(pixl_train_config, f)
#define F_SIZE(f) sizeof(((pixl_train_config *)0)->f)
#define F_ELEM(f) sizeof(((pixl_train_config *)0)->f[0])
#define BIG 1e300

#define SEC(p, d) {.path = p, .kind = K_SECTION, .doc = d}
#define INT(p, f, dflt, l, h, d) \
    {.path = p, .kind = K_INT, .def = dflt, .doc = d, .off = F_OFF(f), .size = F_SIZE(f), .lo = l, .hi = h}
#define FLT(p, f, dflt, l, h, d) \
    {.path = p, .kind = K_FLOAT, .def = dflt, .doc = d, .off = F_OFF(f), .size = F_SIZE(f), .lo = l, .hi = h}
#define BOOL(p, f, dflt, d) {.path = p, .kind = K_BOOL, .def = dflt, .doc = d, .off = F_OFF(f), .size = F_SIZE(f)}
#define STR(p, f, dflt, d) {.path = p, .kind = K_STRING, .def = dflt, .doc = d, .off = F_OFF(f), .size = F_SIZE(f)}
#define ENUM(p, f, dflt, ch, d) \
    {.path = p, .kind = K_ENUM, .def = dflt, .doc = d, .off = F_OFF(f), .size = F_SIZE(f), .choices = ch}
/* fixed-length list of n numbers */
#define FIXLIST(k, p, f, dflt, n, l, h, d)                                                                   \
    {.path = p, .kind = k, .def = dflt, .doc = d, .off = F_OFF(f), .size = F_SIZE(f), .elem = F_ELEM(f),     \
     .count_off = -1, .min_len = n, .max_len = n, .lo = l, .hi = h}
#define VARLIST(k, p, f, cnt, dflt, l, h, d)                                                                 \
    {.path = p, .kind = k, .def = dflt, .doc = d, .off = F_OFF(f), .size = F_SIZE(f), .elem = F_ELEM(f),     \
     .count_off = (ptrdiff_t)F_OFF(cnt), .min_len = 0, .max_len = (int)(F_SIZE(f) / F_ELEM(f)), .lo = l, .hi = h}

static const key_def g_keys[] = {
    SEC("model", "the network"),
    STR("model.arch", model.arch, "unet", "network architecture by its registry name: unet, enet, segnet_basic, ..."),
    INT("model.n_classes", model.n_classes, "0", 0, PIXL_CFG_MAX_CLASSES,
        "number of classes predicted; 0 = the dataset's (camvid: 11)"),
    {.path = "model.options", .kind = K_TABLE, .def = "{}", .off = F_OFF(model.options), .table = &pixl__model_cfg_table,
     .doc = "architecture options (the keys below; an unknown key is an error)"},

    SEC("data", "the dataset and the augmentation of training images"),
    {.path = "data.dataset", .kind = K_STRING, .def = "camvid", .off = F_OFF(data.dataset), .size = F_SIZE(data.dataset),
     .choices = "camvid|list|folder|voc|cityscapes|ade20k|bsds500|synthetic|synthetic_normals",
     .doc = "dataset kind (layouts: pixl.h, DATASETS); synthetic and synthetic_normals are generated in memory"},
    STR("data.root", data.root, "\"\"", "dataset folder (relative paths are relative to the working directory)"),
    STR("data.train_split", data.train_split, "train", "split used for training"),
    STR("data.val_split", data.val_split, "val", "split used for validation"),
    INT("data.img_rows", data.img_rows, "0", 0, 65536, "resize images to this height before augmentation; 0 = native size"),
    INT("data.img_cols", data.img_cols, "0", 0, 65536, "resize images to this width before augmentation; 0 = native size"),
    FIXLIST(K_INT_LIST, "data.crop", data.crop, "[0, 0]", 2, 0, 65536,
            "random crop [rows, cols] of each training image after resizing and rescaling; [0, 0] = none"),
    FIXLIST(K_FLOAT_LIST, "data.scale", data.scale, "[1.0, 1.0]", 2, 0.01, 100,
            "random rescale factor range [min, max]; [1.0, 1.0] = none"),
    BOOL("data.flip", data.flip, "true", "random horizontal flip of training images"),
    BOOL("data.flip_per_batch", data.flip_per_batch, "false",
         "one flip decision per batch (all images of a batch or none, as the PyTorch anchor) instead of per image"),
    FLT("data.color_jitter", data.color_jitter, "0.0", 0, 1,
        "strength s of the color jitter: brightness, contrast, saturation factors in [1-s, 1+s]; 0 = off"),
    FLT("data.blur", data.blur, "0.0", 0, 1, "probability of a Gaussian blur of a training image"),
    INT("data.n_workers", data.n_workers, "2", 0, 256, "threads decoding and augmenting images; 0 = in the training thread"),
    INT("data.ignore_index", data.ignore_index, "255", -1, 65535,
        "label skipped by loss and metrics; pixl's datasets map void pixels to 255; -1 = none"),

    SEC("training", "the training run"),
    INT("training.epochs", training.epochs, "100", 0, INT_MAX, "stop after this many epochs; 0 = no epoch limit"),
    FLT("training.max_minutes", training.max_minutes, "0.0", 0, BIG,
        "stop after this many minutes of wall-clock time; 0 = no time limit"),
    INT("training.max_iters", training.max_iters, "0", 0, (double)INT64_MAX,
        "stop after this many iterations (batches); 0 = no iteration limit"),
    INT("training.batch_size", training.batch_size, "8", 1, 65536, "images per training batch"),
    INT("training.seed", training.seed, "0", 0, (double)INT64_MAX, "seed of initialisation, shuffling and augmentation"),
    INT("training.threads", training.threads, "0", 0, 1024, "compute threads; 0 = PIXL_NUM_THREADS or all cores"),
    INT("training.print_interval", training.print_interval, "10", 1, INT_MAX, "iterations between progress lines"),
    STR("training.resume", training.resume, "\"\"", "checkpoint (or run directory: its last checkpoint) to resume from; \"\" = start fresh"),
    SEC("training.optimizer", "the optimizer"),
    ENUM("training.optimizer.name", training.optimizer.name, "adam", "sgd|adam|adamw",
         "sgd, adam or adamw (decoupled weight decay)"),
    FLT("training.optimizer.lr", training.optimizer.lr, "0.0005", 0, BIG, "base learning rate"),
    FLT("training.optimizer.momentum", training.optimizer.momentum, "0.9", 0, 1, "SGD momentum"),
    BOOL("training.optimizer.nesterov", training.optimizer.nesterov, "false", "SGD Nesterov momentum"),
    FLT("training.optimizer.weight_decay", training.optimizer.weight_decay, "0.0002", 0, BIG,
        "weight decay (sgd/adam: L2 added to the gradient; adamw: decoupled)"),
    FIXLIST(K_FLOAT_LIST, "training.optimizer.betas", training.optimizer.betas, "[0.9, 0.999]", 2, 0, 1,
            "Adam/AdamW moment decay rates [beta1, beta2], each in [0, 1)"),
    FLT("training.optimizer.eps", training.optimizer.eps, "1.0e-8", 0, 1, "Adam/AdamW denominator epsilon"),
    SEC("training.lr_schedule", "the learning-rate schedule, in iterations"),
    ENUM("training.lr_schedule.name", training.lr_schedule.name, "constant", "constant|step|multistep|poly|cosine",
         "constant, step, multistep, poly or cosine (poly and cosine decay over the whole run)"),
    INT("training.lr_schedule.step_size", training.lr_schedule.step_size, "0", 0, (double)INT64_MAX,
        "step: multiply the rate by gamma every step_size iterations"),
    FLT("training.lr_schedule.gamma", training.lr_schedule.gamma, "0.1", 0, BIG, "step/multistep decay factor"),
    VARLIST(K_INT_LIST, "training.lr_schedule.milestones", training.lr_schedule.milestones,
            training.lr_schedule.n_milestones, "[]", 1, (double)INT64_MAX,
            "multistep: iterations at which the rate is multiplied by gamma (increasing)"),
    FLT("training.lr_schedule.power", training.lr_schedule.power, "0.9", 0, BIG, "poly: lr * (1 - t/T)^power"),
    FLT("training.lr_schedule.min_lr", training.lr_schedule.min_lr, "0.0", 0, BIG, "cosine: final learning rate"),
    INT("training.lr_schedule.warmup_iters", training.lr_schedule.warmup_iters, "0", 0, (double)INT64_MAX,
        "linear warm-up iterations before the schedule; 0 = none"),
    FLT("training.lr_schedule.warmup_start", training.lr_schedule.warmup_start, "0.1", 0, 1,
        "learning rate at the start of the warm-up, as a fraction of lr"),
    SEC("training.loss", "the loss"),
    ENUM("training.loss.name", training.loss.name, "cross_entropy", "cross_entropy|balanced_bce|normal",
         "cross_entropy: softmax cross-entropy over the classes of each pixel; balanced_bce: one sigmoid output "
         "with class-balanced binary cross-entropy (HED, PixelNet edges) on an edge data set (bsds500); normal: "
         "3 outputs, mean (1 - cos) to the true surface normal (PixelNet's normalised L2) on a normal data set "
         "(synthetic_normals)"),
    {.path = "training.loss.class_weights", .kind = K_WEIGHTS, .def = "none", .off = F_OFF(training.loss),
     .lo = 0, .hi = BIG,
     .doc = "none, enet (1/ln(1.02+p)), median_freq (SegNet) or a list of n_classes weights"},
    {.path = "training.loss.ignore_index", .kind = K_INT_NULL, .def = "null", .off = F_OFF(training.loss.ignore_index),
     .size = F_SIZE(training.loss.ignore_index), .lo = -1, .hi = 65535,
     .doc = "label skipped by the loss; null = data.ignore_index, -1 = none"},
    SEC("training.sampling", "pixels that get a loss: model.arch pixelnet runs its head and loss at these only"),
    INT("training.sampling.pixels_per_image", training.sampling.pixels_per_image, "2000", 1, 1 << 26,
        "pixels drawn from each training image per step (PixelNet: 2000)"),
    ENUM("training.sampling.strategy", training.sampling.strategy, "uniform", "uniform|class_balanced|edge_balanced|all",
         "uniform over labelled pixels without replacement; class_balanced: equal counts per class present; "
         "edge_balanced: positives (label > 0) and negatives in the ratio pos_fraction; all: every pixel of the crop "
         "(pixels_per_image ignored), the all-pixel baseline"),
    FLT("training.sampling.pos_fraction", training.sampling.pos_fraction, "0.5", 0, 1,
        "edge_balanced: share of positive pixels"),

    SEC("validation", "evaluation on data.val_split during training"),
    INT("validation.every_epochs", validation.every_epochs, "1", 0, INT_MAX, "validate every this many epochs; 0 = not by epochs"),
    FLT("validation.every_minutes", validation.every_minutes, "0.0", 0, BIG,
        "validate every this many minutes of training; 0 = not by time"),
    BOOL("validation.flip", validation.flip, "false", "average the logits of the image and of its horizontal flip"),
    INT("validation.batch_size", validation.batch_size, "4", 1, 65536, "images per validation batch"),
    INT("validation.limit", validation.limit, "0", 0, INT_MAX, "validate on the first this many images; 0 = all"),
    INT("validation.edge_thresholds", validation.edge_thresholds, "99", 1, 99,
        "edge datasets (bsds500): thresholds of the BSDS benchmark (ODS, OIS, AP) run as validation"),

    SEC("output", "where the run is written"),
    STR("output.run_dir", output.run_dir, "runs/pixl", "directory of checkpoints, logs and the config of the run"),
    BOOL("output.keep_best", output.keep_best, "true", "keep the checkpoint with the best validation mean IoU, ODS F on edge data sets (best.safetensors)"),
    BOOL("output.keep_last", output.keep_last, "true", "keep the latest checkpoint (last.safetensors), for resuming"),
};
#define N_KEYS ((int)(sizeof g_keys / sizeof g_keys[0]))

static const char *leaf_of(const char *path)
{
    const char *d = strrchr(path, '.');
    return d ? d + 1 : path;
}

/* length of the parent prefix of path ("training.optimizer.lr" -> 18) */
static size_t parent_len(const char *path)
{
    const char *d = strrchr(path, '.');
    return d ? (size_t)(d - path) : 0;
}

/* is k a direct child of the section `sec` (length n, 0 = root)? */
static int is_child(const key_def *k, const char *sec, size_t n)
{
    return parent_len(k->path) == n && (n == 0 || strncmp(k->path, sec, n) == 0);
}

static int find_key(const char *path)
{
    for (int i = 0; i < N_KEYS; i++)
        if (!strcmp(g_keys[i].path, path)) return i;
    return -1;
}

static int depth_of(const char *path)
{
    int d = 0;
    for (; *path; path++) d += *path == '.';
    return d;
}

/* --------------------------------------------------------- edit distance */

#define edit_distance pixl__edit_distance
#define close_enough pixl__close_enough

/* " (did you mean 'x'?)" or " (valid keys: a, b, c)" for an unknown key
 * `name` in section `sec` (length n) */
static void key_hint(char *out, size_t len, const char *sec, size_t n, const char *name)
{
    int best = -1, bd = 1 << 30;
    for (int i = 0; i < N_KEYS; i++) {
        if (!is_child(&g_keys[i], sec, n)) continue;
        int d = edit_distance(name, leaf_of(g_keys[i].path));
        if (d < bd) bd = d, best = i;
    }
    if (best >= 0 && close_enough(name, bd)) {
        snprintf(out, len, " (did you mean '%s'?)", g_keys[best].path);
        return;
    }
    /* the same name in another section (n_workers under training ...) */
    for (int i = 0; i < N_KEYS; i++)
        if (!strcasecmp(leaf_of(g_keys[i].path), name)) {
            snprintf(out, len, " (did you mean '%s'?)", g_keys[i].path);
            return;
        }
    size_t o = (size_t)snprintf(out, len, " (valid keys%s%.*s: ", n ? " in " : "", (int)n, sec);
    int first = 1;
    for (int i = 0; i < N_KEYS && o < len; i++) {
        if (!is_child(&g_keys[i], sec, n)) continue;
        o += (size_t)snprintf(out + o, len - o, "%s%s", first ? "" : ", ", leaf_of(g_keys[i].path));
        first = 0;
    }
    if (o < len) snprintf(out + o, len - o, ")");
}

/* closest key to a whole dotted path (overrides) */
static void path_hint(char *out, size_t len, const char *path)
{
    int best = -1, bd = 1 << 30;
    for (int i = 0; i < N_KEYS; i++) {
        int d = edit_distance(path, g_keys[i].path);
        if (d < bd) bd = d, best = i;
    }
    out[0] = 0;
    if (best >= 0 && bd <= 3) {
        snprintf(out, len, " (did you mean '%s'?)", g_keys[best].path);
        return;
    }
    const char *lf = leaf_of(path);
    for (int i = 0; i < N_KEYS; i++)
        if (!strcasecmp(leaf_of(g_keys[i].path), lf)) {
            snprintf(out, len, " (did you mean '%s'?)", g_keys[i].path);
            return;
        }
    /* nothing close: the valid keys of the deepest section the path names */
    size_t n = 0;
    for (int i = 0; i < N_KEYS; i++) {
        size_t l = strlen(g_keys[i].path);
        if (g_keys[i].kind == K_SECTION && l > n && !strncmp(path, g_keys[i].path, l) && path[l] == '.') n = l;
    }
    char first[64];
    const char *rest = path + (n ? n + 1 : 0), *dot = strchr(rest, '.');
    snprintf(first, sizeof first, "%.*s", dot ? (int)(dot - rest) : (int)strlen(rest), rest);
    key_hint(out, len, path, n, first);
}

/* ------------------------------------------------------------- load state */

typedef struct ld {
    const char *file; /* NULL: no "file:line: " prefix (overrides) */
    yaml_document_t *doc;
    int lines[N_KEYS]; /* line where each key was set (0 = default) */
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

static void fmt_range_num(char *buf, size_t len, double v, int integer)
{
    if (integer && fabs(v) < 9.2e18) snprintf(buf, len, "%lld", (long long)v);
    else snprintf(buf, len, "%g", v);
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

static void store_int(void *field, size_t size, int64_t v)
{
    if (size == sizeof(int64_t)) {
        memcpy(field, &v, sizeof v);
    } else {
        int i = (int)v;
        memcpy(field, &i, sizeof i);
    }
}

static int64_t load_int(const void *field, size_t size)
{
    if (size == sizeof(int64_t)) {
        int64_t v;
        memcpy(&v, field, sizeof v);
        return v;
    }
    int i;
    memcpy(&i, field, sizeof i);
    return i;
}

/* index of s in "a|b|c" (case-insensitive) or -1; best close match in *near */
static int enum_index(const char *choices, const char *s, int *near)
{
    int idx = 0, best = -1, bd = 1 << 30;
    const char *p = choices;
    while (*p) {
        const char *e = strchr(p, '|');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)n, p);
        if (!strcasecmp(name, s)) return idx;
        int d = edit_distance(s, name);
        if (d < bd) bd = d, best = idx;
        idx++;
        p += n + (e ? 1 : 0);
    }
    *near = best >= 0 && close_enough(s, bd) ? best : -1;
    return -1;
}

static void enum_name(const char *choices, int idx, char *out, size_t len)
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

/* "sgd, adam or adamw" */
static void enum_list(const char *choices, char *out, size_t len)
{
    int n = 1;
    for (const char *p = choices; *p; p++) n += *p == '|';
    size_t o = 0;
    out[0] = 0;
    for (int i = 0; i < n && o < len; i++) {
        char nm[64];
        enum_name(choices, i, nm, sizeof nm);
        o += (size_t)snprintf(out + o, len - o, "%s%s", i == 0 ? "" : i == n - 1 ? " or " : ", ", nm);
    }
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
        int rc = table_value_text(L, path, vn, text, sizeof text);
        if (!rc && pixl__opts_set(k->table, field, k->path, key, text)) {
            /* an unknown key points at the key, a bad value at the value */
            char msg[1536];
            snprintf(msg, sizeof msg, "%s", pixl_last_error());
            rc = fail(L, line_of(pixl_last_status() == PIXL_ERR_NOT_FOUND ? kn : vn), "%s", msg);
        }
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

/* parse YAML text into doc; a syntax error is reported against L->file */
static int parse_yaml(ld *L, const char *text, size_t len, yaml_document_t *doc, yaml_node_t **root)
{
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
    pixl_train_config *t = pixl_calloc(1, sizeof *t);
    if (!t) return PIXL_ERR_NOMEM;
    ld L = {.file = "<pixl defaults>", .status = PIXL_ERR_STATE};
    for (int i = 0; i < N_KEYS; i++) {
        if (g_keys[i].kind == K_SECTION) continue;
        int rc = apply_text(&L, i, g_keys[i].def, t);
        if (rc) {
            pixl_free(t);
            return rc;
        }
    }
    *cfg = *t;
    pixl_free(t);
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
    pixl_train_config *t = pixl_malloc(sizeof *t);
    ld *L = pixl_calloc(1, sizeof *L);
    int rc = !t || !L ? PIXL_ERR_NOMEM : pixl_config_defaults(t);
    if (!rc) {
        L->file = name ? name : "<config>";
        L->status = PIXL_ERR_FORMAT;
        rc = apply_text(L, -1, yaml, t);
    }
    if (!rc) rc = apply_overrides(t, n_set, set);
    if (!rc) rc = validate_lines(t, L->file, L->lines);
    if (!rc) *cfg = *t;
    pixl_free(t);
    pixl_free(L);
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
    char *buf = pixl_malloc(cap);
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
    pixl_free(buf);
    return rc;
}

int pixl_config_set(pixl_train_config *cfg, const char *key, const char *value)
{
    if (!cfg || !key || !value) return pixl_set_error(PIXL_ERR_ARG, "pixl_config_set: NULL argument");
    pixl_train_config *t = pixl_malloc(sizeof *t);
    ld *L = pixl_calloc(1, sizeof *L);
    if (!t || !L) {
        pixl_free(t);
        pixl_free(L);
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
    pixl_free(t);
    pixl_free(L);
    return rc;
}

/* --------------------------------------------------------------- queries */

int pixl_config_model_opts(const pixl_train_config *cfg, pixl_model_opts *mo, const char **pretrained)
{
    if (!cfg || !mo) return pixl_set_error(PIXL_ERR_ARG, "pixl_config_model_opts: NULL argument");
    const pixl_cfg_model_options *o = &cfg->model.options;
    memset(mo, 0, sizeof *mo);
    mo->width = o->width;
    mo->variant = o->variant[0] ? o->variant : NULL; /* "" is no variant: some models reject an empty name */
    mo->backbone = o->backbone[0] ? o->backbone : NULL;
    mo->output_stride = o->output_stride;
    mo->aux = o->aux;
    if (!strcmp(cfg->model.arch, "pixelnet") && !mo->variant) mo->head = &o->head;
    if (pretrained) *pretrained = o->pretrained[0] ? o->pretrained : NULL;
    return PIXL_OK;
}

int pixl_config_loss_ignore_index(const pixl_train_config *cfg)
{
    if (!cfg) return -1;
    return cfg->training.loss.ignore_index == PIXL_CFG_INHERIT ? cfg->data.ignore_index
                                                               : cfg->training.loss.ignore_index;
}

void pixl_config_optim_opts(const pixl_train_config *cfg, pixl_optim_opts *o)
{
    if (!cfg || !o) return;
    memset(o, 0, sizeof *o);
    o->kind = cfg->training.optimizer.name;
    o->lr = (float)cfg->training.optimizer.lr;
    o->momentum = (float)cfg->training.optimizer.momentum;
    o->nesterov = cfg->training.optimizer.nesterov;
    o->weight_decay = (float)cfg->training.optimizer.weight_decay;
    o->beta1 = (float)cfg->training.optimizer.betas[0];
    o->beta2 = (float)cfg->training.optimizer.betas[1];
    o->eps = (float)cfg->training.optimizer.eps;
}

void pixl_config_sched(const pixl_train_config *cfg, int64_t max_steps, pixl_sched *s)
{
    if (!cfg || !s) return;
    memset(s, 0, sizeof *s);
    s->kind = cfg->training.lr_schedule.name;
    s->step_size = cfg->training.lr_schedule.step_size;
    s->gamma = (float)cfg->training.lr_schedule.gamma;
    int n = cfg->training.lr_schedule.n_milestones < 16 ? cfg->training.lr_schedule.n_milestones : 16;
    s->n_milestones = n;
    for (int i = 0; i < n; i++) s->milestones[i] = cfg->training.lr_schedule.milestones[i];
    s->max_steps = max_steps;
    s->power = (float)cfg->training.lr_schedule.power;
    s->min_lr = (float)cfg->training.lr_schedule.min_lr;
    s->warmup_steps = cfg->training.lr_schedule.warmup_iters;
    s->warmup_start = (float)cfg->training.lr_schedule.warmup_start;
}

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
    char *line = pixl_malloc(16384), *val = pixl_malloc(16384);
    if (!line || !val) {
        pixl_free(line);
        pixl_free(val);
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
    pixl_free(line);
    pixl_free(val);
    return ferror(f) ? pixl_set_error(PIXL_ERR_IO, "pixl_config_print: write failed") : PIXL_OK;
}

int pixl_config_print_defaults(FILE *f)
{
    pixl_train_config *c = pixl_malloc(sizeof *c);
    if (!c) return PIXL_ERR_NOMEM;
    int rc = pixl_config_defaults(c);
    if (!rc) rc = pixl_config_print(f, c);
    pixl_free(c);
    return rc;
}

int pixl_config_save(const pixl_train_config *cfg, const char *path)
{
    if (!cfg || !path) return pixl_set_error(PIXL_ERR_ARG, "pixl_config_save: NULL argument");
    size_t n = strlen(path) + 16;
    char *tmp = pixl_malloc(n);
    if (!tmp) return PIXL_ERR_NOMEM;
    snprintf(tmp, n, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        int rc = pixl_set_error(PIXL_ERR_IO, "cannot write '%s': %s", tmp, strerror(errno));
        pixl_free(tmp);
        return rc;
    }
    int rc = pixl_config_print(f, cfg);
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) rc = rc ? rc : pixl_set_error(PIXL_ERR_IO, "cannot write '%s': %s", tmp, strerror(errno));
    if (fclose(f) != 0 && !rc) rc = pixl_set_error(PIXL_ERR_IO, "cannot write '%s': %s", tmp, strerror(errno));
    if (!rc && rename(tmp, path) != 0)
        rc = pixl_set_error(PIXL_ERR_IO, "cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
    if (rc) remove(tmp);
    pixl_free(tmp);
    return rc;
}

const char *pixl_config_diff(const pixl_train_config *a, const pixl_train_config *b)
{
    if (!a || !b) return a == b ? NULL : "(null)";
    char *x = pixl_malloc(16384), *y = pixl_malloc(16384);
    const char *res = NULL;
    if (!x || !y) {
        res = "(out of memory)";
        goto done;
    }
    for (int i = 0; i < N_KEYS && !res; i++) {
        const key_def *k = &g_keys[i];
        if (k->kind == K_SECTION) continue;
        if (k->kind == K_TABLE) {
            static _Thread_local char path[160];
            const char *d = pixl__opts_diff(k->table, (const unsigned char *)a + k->off, (const unsigned char *)b + k->off);
            if (d) snprintf(path, sizeof path, "%s.%s", k->path, d), res = path;
            continue;
        }
        /* the printed forms are exact (shortest round-trip numbers) */
        fmt_value(a, k, x, 16384);
        fmt_value(b, k, y, 16384);
        if (strcmp(x, y)) res = k->path;
    }
done:
    pixl_free(x);
    pixl_free(y);
    return res;
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

/* one row per key of a typed table (model.options.width ...) */
static void table_docs(FILE *f, const key_def *k, const pixl_train_config *c)
{
    static const char *const types[] = {"integer", "number", "bool", "string", "", "list of integers",
                                        "list of names", "", "list"};
    const char *keys[PIXL__OPTS_MAX_KEYS];
    const pixl__opt_field *fields[PIXL__OPTS_MAX_KEYS];
    int n = pixl__opts_keys(k->table, keys, fields, PIXL__OPTS_MAX_KEYS);
    for (int i = 0; i < n; i++) {
        const pixl__opt_field *q = fields[i];
        char ty[256], val[PIXL_CFG_PATH_LEN + 8];
        if (q->type == PIXL__OPT_ENUM) enum_list(q->choices, ty, sizeof ty);
        else if (q->type == PIXL__OPT_INT)
            snprintf(ty, sizeof ty, "integer in [%lld, %lld]", (long long)q->lo, (long long)q->hi);
        else if (q->type == PIXL__OPT_FLOAT) snprintf(ty, sizeof ty, "number in [%g, %g]", q->lo, q->hi);
        else if (q->type == PIXL__OPT_INT_LIST || q->type == PIXL__OPT_STR_LIST)
            snprintf(ty, sizeof ty, "%s (up to %d)", types[q->type], q->max_n);
        else snprintf(ty, sizeof ty, "%s", types[q->type]);
        table_value(k->table, q, (const unsigned char *)c + k->off, keys[i], val, sizeof val);
        fprintf(f, "| `%s.%s` | ", k->path, keys[i]);
        md_cell(f, ty);
        fputs(" | `", f);
        md_cell(f, val);
        fputs("` | ", f);
        md_cell(f, q->doc ? q->doc : "");
        fputs(" |\n", f);
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
    pixl_train_config *c = pixl_malloc(sizeof *c);
    if (!c) return PIXL_ERR_NOMEM;
    int rc = pixl_config_defaults(c);
    if (rc) {
        pixl_free(c);
        return rc;
    }
    fputs("# Training configuration\n\n"
          "<!-- Generated from the schema in src/config/config.c by pixl_config_write_docs():\n"
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
          "both. A PacCRF on a network is chosen by name, pacnet's compact form:\n"
          "`model.arch: enetfrozen_crfi5p4d5161p4d541` (`pixl_crf_parse()`).\n\n"
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
    pixl_free(c);
    return ferror(f) ? pixl_set_error(PIXL_ERR_IO, "pixl_config_write_docs: write failed") : PIXL_OK;
}
