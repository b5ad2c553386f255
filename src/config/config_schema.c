/* config_schema.c — pixl's training configuration: the schema of every key
 * (type, default, range, one-line doc), the lookups and did-you-mean hints
 * on it, and the conversions of a config into library options. The YAML
 * reader is config_load.c, the printers config_print.c.
 *
 * THE SCHEMA
 *   g_keys[] lists every section and key in print order with the offset of
 *   its field in pixl_train_config. Defaults are YAML text parsed by the same
 *   code that reads files, so the printed defaults, the docs and the struct
 *   can not disagree. model.options is one entry whose keys come from a typed
 *   options table (core/opts_tables.c). Add a key: a field in pixl_train.h, one line here, then
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

#include "config_impl.h"

_Static_assert(sizeof(pixl_optim_kind) == sizeof(int), "enum fields are written as int");
_Static_assert(sizeof(pixl_sched_kind) == sizeof(int), "enum fields are written as int");
_Static_assert(sizeof(pixl_loss_kind) == sizeof(int), "enum fields are written as int");
_Static_assert(sizeof(pixl_class_weighting) == sizeof(int), "enum fields are written as int");

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

const key_def g_keys[] = {
    SEC("model", "the network"),
    STR("model.arch", model.arch, "unet", "network architecture by its registry name: unet, enet, segnet_basic, ..."),
    INT("model.n_classes", model.n_classes, "0", 0, PIXL_CFG_MAX_CLASSES,
        "number of classes predicted; 0 = the dataset's (camvid: 11)"),
    {.path = "model.options", .kind = K_TABLE, .def = "{}", .off = F_OFF(model.options), .table = &pixl__model_cfg_table,
     .doc = "architecture options (the keys below; an unknown key is an error)"},

    SEC("data", "the dataset and the augmentation of training images"),
    {.path = "data.dataset", .kind = K_STRING, .def = "camvid", .off = F_OFF(data.dataset), .size = F_SIZE(data.dataset),
     .choices = "camvid|list|folder|voc|cityscapes|ade20k|bsds500|synthetic|synthetic_normals",
     .doc = "dataset kind (layouts: pixl_data.h, DATASETS); synthetic and synthetic_normals are generated in memory"},
    STR("data.root", data.root, "\"\"", "dataset folder (relative paths are relative to the working directory)"),
    STR("data.train_split", data.train_split, "train", "split used for training"),
    STR("data.val_split", data.val_split, "val", "split used for validation"),
    STR("data.sparse_labels", data.sparse_labels, "\"\"",
        "label store (docs/label_store.md) of the training split: train on its labelled pixels only, every other "
        "pixel ignored (PixelPick); \"\" = the full label maps"),
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
    BOOL("training.resume_allow_nonfinite", training.resume_allow_nonfinite, "false",
         "resume even from a checkpoint holding NaN or infinite values (refused by default: a diverged run)"),
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
    FLT("training.optimizer.backbone_lr_mult", training.optimizer.backbone_lr_mult, "1.0", 0, 1e6,
        "learning-rate multiplier of the encoder, the parameters named backbone.* (e.g. pretrained ImageNet "
        "weights; PixelPick: 0.1); 1.0 = the same rate as the rest"),
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
    ENUM("training.loss.name", training.loss.name, "cross_entropy", "cross_entropy|balanced_bce|normal|l2_angular",
         "cross_entropy: softmax cross-entropy over the classes of each pixel; balanced_bce: one sigmoid output "
         "with class-balanced binary cross-entropy (HED, PixelNet edges) on an edge data set (bsds500); normal: "
         "3 outputs, mean (1 - cos) to the true surface normal (PixelNet's normalised L2) on a normal data set "
         "(synthetic_normals); l2_angular: the same plus the mean angle in radians (PAG's L2 + acos losses, "
         "weight 1 each)"),
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
#define N_KEYS_ ((int)(sizeof g_keys / sizeof g_keys[0]))
const int n_keys_ = N_KEYS_;
_Static_assert(N_KEYS_ <= PIXL__CFG_MAX_KEYS, "raise PIXL__CFG_MAX_KEYS");

const char *leaf_of(const char *path)
{
    const char *d = strrchr(path, '.');
    return d ? d + 1 : path;
}

/* length of the parent prefix of path ("training.optimizer.lr" -> 18) */
size_t parent_len(const char *path)
{
    const char *d = strrchr(path, '.');
    return d ? (size_t)(d - path) : 0;
}

/* is k a direct child of the section `sec` (length n, 0 = root)? */
int is_child(const key_def *k, const char *sec, size_t n)
{
    return parent_len(k->path) == n && (n == 0 || strncmp(k->path, sec, n) == 0);
}

int find_key(const char *path)
{
    for (int i = 0; i < N_KEYS; i++)
        if (!strcmp(g_keys[i].path, path)) return i;
    return -1;
}

int depth_of(const char *path)
{
    int d = 0;
    for (; *path; path++) d += *path == '.';
    return d;
}

/* --------------------------------------------------------- edit distance */


/* " (did you mean 'x'?)" or " (valid keys: a, b, c)" for an unknown key
 * `name` in section `sec` (length n) */
void key_hint(char *out, size_t len, const char *sec, size_t n, const char *name)
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
void path_hint(char *out, size_t len, const char *path)
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

void fmt_range_num(char *buf, size_t len, double v, int integer)
{
    if (integer && fabs(v) < 9.2e18) snprintf(buf, len, "%lld", (long long)v);
    else snprintf(buf, len, "%g", v);
}

void store_int(void *field, size_t size, int64_t v)
{
    if (size == sizeof(int64_t)) {
        memcpy(field, &v, sizeof v);
    } else {
        int i = (int)v;
        memcpy(field, &i, sizeof i);
    }
}

int64_t load_int(const void *field, size_t size)
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
int enum_index(const char *choices, const char *s, int *near)
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

/* "sgd, adam or adamw" */
void enum_list(const char *choices, char *out, size_t len)
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
    if (o->crf.given) {
        mo->crf = &o->crf.opts;
        mo->crf_frozen = o->crf.frozen;
    }
    if (o->pag.given) mo->pag = &o->pag.opts;
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

