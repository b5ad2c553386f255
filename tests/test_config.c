/* test_config.c — the YAML training config: defaults, loading a full file,
 * print -> load round trips, every error kind with its exact file:line,
 * command-line overrides, conversions to optimizer/schedule options, and
 * docs/config.md being up to date with the schema. */
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "pixl_train.h"

/* load YAML text as file `t.yaml`; returns the status */
static int load(const char *yaml, pixl_train_config *cfg) { return pixl_config_load_string(yaml, "t.yaml", cfg); }

/* the load must fail with a message containing `want` */
#define CHECK_LOAD_ERR(yaml, want)                                                                    \
    do {                                                                                              \
        pixl_train_config c_;                                                                         \
        int rc_ = load(yaml, &c_);                                                                    \
        CHECK_MSG(rc_ == PIXL_ERR_FORMAT, "expected a format error, got %d", rc_);                    \
        CHECK_MSG(strstr(pixl_last_error(), want) != NULL, "message '%s' lacks '%s'", pixl_last_error(), want); \
    } while (0)

#define CHECK_SET_ERR(cfg, key, value, want)                                                          \
    do {                                                                                              \
        int rc_ = pixl_config_set(cfg, key, value);                                                   \
        CHECK_MSG(rc_ < 0, "set %s=%s should fail", key, value);                                      \
        CHECK_MSG(strstr(pixl_last_error(), want) != NULL, "message '%s' lacks '%s'", pixl_last_error(), want); \
    } while (0)

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) n = 0;
    if (s) s[n] = 0;
    fclose(f);
    return s;
}

PIXL_TEST(config_defaults)
{
    pixl_train_config c;
    CHECK_OK(pixl_config_defaults(&c));
    CHECK(!strcmp(c.model.arch, "unet"));
    CHECK(c.model.n_classes == 0 && c.model.options.width == 0 && c.model.options.variant[0] == 0);
    CHECK(c.model.options.aux == 1 && c.model.options.pretrained[0] == 0 && c.model.options.output_stride == 0);
    pixl_pn_head_opts h = pixl_pn_head_defaults();
    CHECK(!memcmp(&c.model.options.head, &h, sizeof h) && h.n_mlp == 2 && h.mlp[1] == 512 && h.chunk == 16384);
    CHECK(!strcmp(c.data.dataset, "camvid") && c.data.root[0] == 0);
    CHECK(!strcmp(c.data.train_split, "train") && !strcmp(c.data.val_split, "val"));
    CHECK(c.data.crop[0] == 0 && c.data.crop[1] == 0);
    CHECK(c.data.scale[0] == 1.0 && c.data.scale[1] == 1.0);
    CHECK(c.data.flip == 1 && c.data.ignore_index == 255 && c.data.n_workers == 2);
    CHECK(c.training.epochs == 100 && c.training.max_iters == 0 && c.training.max_minutes == 0);
    CHECK(c.training.batch_size == 8);
    CHECK(c.training.optimizer.name == PIXL_OPTIM_ADAM);
    CHECK(c.training.optimizer.lr == 0.0005 && c.training.optimizer.weight_decay == 0.0002);
    CHECK(c.training.optimizer.betas[0] == 0.9 && c.training.optimizer.betas[1] == 0.999);
    CHECK(c.training.optimizer.eps == 1e-8);
    CHECK(c.training.lr_schedule.name == PIXL_SCHED_CONSTANT && c.training.lr_schedule.n_milestones == 0);
    CHECK(c.training.loss.name == PIXL_LOSS_CROSS_ENTROPY);
    CHECK(c.training.loss.class_weights == PIXL_CLASS_WEIGHTS_NONE);
    CHECK(c.training.loss.ignore_index == PIXL_CFG_INHERIT);
    CHECK(pixl_config_loss_ignore_index(&c) == 255);
    CHECK(c.validation.every_epochs == 1 && c.validation.flip == 0 && c.validation.batch_size == 4);
    CHECK(!strcmp(c.output.run_dir, "runs/pixl") && c.output.keep_best && c.output.keep_last);
    CHECK_OK(pixl_config_validate(&c));
    /* loading an empty file, an empty document or null sections gives the defaults */
    pixl_train_config d;
    CHECK_OK(load("", &d));
    CHECK(pixl_config_diff(&c, &d, NULL, 0) == 0);
    CHECK_OK(load("---\n", &d));
    CHECK(pixl_config_diff(&c, &d, NULL, 0) == 0);
    CHECK_OK(load("training:\n  lr_schedule:\n  loss: ~\n# comment\n", &d));
    CHECK(pixl_config_diff(&c, &d, NULL, 0) == 0);
}

static const char *k_full =
    "# a CamVid run in the style of pytorch-semseg's configs\n"
    "model:\n"
    "  arch: enet\n"
    "  n_classes: 11\n"
    "  options: {width: 16, variant: small, backbone: resnet18}\n"
    "data:\n"
    "  dataset: camvid\n"
    "  root: /data/camvid dir\n"
    "  train_split: train\n"
    "  val_split: 'val'\n"
    "  img_rows: 176\n"
    "  img_cols: 240\n"
    "  crop: [160, 224]\n"
    "  scale:\n"
    "    - 0.75\n"
    "    - 1.5\n"
    "  flip: yes\n"
    "  color_jitter: 0.2\n"
    "  blur: 0.1\n"
    "  n_workers: 3\n"
    "  ignore_index: 11\n"
    "training:\n"
    "  max_minutes: 60\n"
    "  epochs: 0\n"
    "  batch_size: 8\n"
    "  optimizer:\n"
    "    name: SGD\n"
    "    lr: 1.0e-2\n"
    "    momentum: 0.95\n"
    "    nesterov: true\n"
    "    weight_decay: 5e-4\n"
    "  lr_schedule:\n"
    "    name: multistep\n"
    "    milestones: [1000, 2000, 3500]\n"
    "    gamma: 0.5\n"
    "    warmup_iters: 100\n"
    "  loss:\n"
    "    name: cross_entropy\n"
    "    class_weights: [0.5, 1, 2, 1, 1, 1, 3, 1, 1, 1, 2.5]\n"
    "    ignore_index: 11\n"
    "  seed: 42\n"
    "  threads: 2\n"
    "  print_interval: 25\n"
    "  resume: \"null\"\n"
    "validation:\n"
    "  every_epochs: 0\n"
    "  every_minutes: 5\n"
    "  flip: on\n"
    "output:\n"
    "  run_dir: runs/enet #a comment\n"
    "  keep_best: false\n";

PIXL_TEST(config_load_full)
{
    pixl_train_config c;
    CHECK_OK(load(k_full, &c));
    CHECK(!strcmp(c.model.arch, "enet") && c.model.n_classes == 11);
    CHECK(c.model.options.width == 16 && !strcmp(c.model.options.variant, "small"));
    CHECK(!strcmp(c.model.options.backbone, "resnet18") && c.model.options.aux == 1);
    CHECK(!strcmp(c.data.root, "/data/camvid dir") && !strcmp(c.data.val_split, "val"));
    CHECK(c.data.img_rows == 176 && c.data.img_cols == 240 && c.data.crop[0] == 160 && c.data.crop[1] == 224);
    CHECK(c.data.scale[0] == 0.75 && c.data.scale[1] == 1.5 && c.data.flip == 1);
    CHECK(c.data.color_jitter == 0.2 && c.data.blur == 0.1 && c.data.n_workers == 3 && c.data.ignore_index == 11);
    CHECK(c.training.max_minutes == 60 && c.training.epochs == 0);
    CHECK(c.training.optimizer.name == PIXL_OPTIM_SGD && c.training.optimizer.lr == 0.01);
    CHECK(c.training.optimizer.momentum == 0.95 && c.training.optimizer.nesterov == 1);
    CHECK(c.training.optimizer.weight_decay == 5e-4);
    CHECK(c.training.lr_schedule.name == PIXL_SCHED_MULTISTEP && c.training.lr_schedule.n_milestones == 3);
    CHECK(c.training.lr_schedule.milestones[2] == 3500 && c.training.lr_schedule.gamma == 0.5);
    CHECK(c.training.lr_schedule.warmup_iters == 100);
    CHECK(c.training.loss.class_weights == PIXL_CLASS_WEIGHTS_LIST && c.training.loss.n_class_weights == 11);
    CHECK(c.training.loss.class_weight_values[10] == 2.5 && c.training.loss.class_weight_values[1] == 1.0);
    CHECK(c.training.loss.ignore_index == 11 && c.training.seed == 42 && c.training.threads == 2);
    CHECK(c.training.print_interval == 25 && !strcmp(c.training.resume, "null"));
    CHECK(c.validation.every_epochs == 0 && c.validation.every_minutes == 5 && c.validation.flip == 1);
    CHECK(!strcmp(c.output.run_dir, "runs/enet") && c.output.keep_best == 0 && c.output.keep_last == 1);

    pixl_optim_opts o;
    pixl_config_optim_opts(&c, &o);
    CHECK(o.kind == PIXL_OPTIM_SGD && o.lr == 0.01f && o.momentum == 0.95f && o.nesterov == 1);
    CHECK(o.weight_decay == 5e-4f && o.beta1 == 0.9f && o.beta2 == 0.999f && o.eps == 1e-8f);
    pixl_sched s;
    pixl_config_sched(&c, 5000, &s);
    CHECK(s.kind == PIXL_SCHED_MULTISTEP && s.n_milestones == 3 && s.milestones[1] == 2000 && s.gamma == 0.5f);
    CHECK(s.max_steps == 5000 && s.warmup_steps == 100 && s.warmup_start == 0.1f && s.power == 0.9f);
}

/* print -> load gives back an equal struct: the defaults and a config with
 * every kind of value changed (also through a file written by save) */
PIXL_TEST(config_round_trip)
{
    char path[512];
    snprintf(path, sizeof path, "%s/defaults.yaml", pixl_test_tmpdir());
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    CHECK_OK(pixl_config_print_defaults(f));
    fclose(f);
    pixl_train_config d, l;
    CHECK_OK(pixl_config_defaults(&d));
    CHECK_OK(pixl_config_load(path, &l));
    char diff[160];
    CHECK_MSG(pixl_config_diff(&d, &l, diff, sizeof diff) == 0, "printed defaults load back with a different %s", diff);
    CHECK(memcmp(&d, &l, sizeof d) == 0); /* byte-identical too: strings and arrays zero-padded */

    pixl_train_config c;
    CHECK_OK(load(k_full, &c));
    CHECK_OK(pixl_config_set(&c, "data.root", "we\"ird: #path\\ with\ttab"));
    CHECK_OK(pixl_config_set(&c, "training.resume", "true"));
    CHECK_OK(pixl_config_set(&c, "model.arch", "123"));
    CHECK_OK(pixl_config_set(&c, "model.options.pretrained", "a: b"));
    CHECK_OK(pixl_config_set(&c, "training.optimizer.lr", "0.1"));
    CHECK_OK(pixl_config_set(&c, "training.optimizer.eps", "1e-300"));
    CHECK_OK(pixl_config_set(&c, "training.lr_schedule.min_lr", "3.0000000000000004e-7"));
    CHECK_OK(pixl_config_set(&c, "training.max_iters", "9000000000"));
    snprintf(path, sizeof path, "%s/full.yaml", pixl_test_tmpdir());
    CHECK_OK(pixl_config_save(&c, path));
    CHECK_OK(pixl_config_load(path, &l));
    CHECK_MSG(pixl_config_diff(&c, &l, diff, sizeof diff) == 0, "saved config loads back with a different %s", diff);
    CHECK(!strcmp(l.data.root, "we\"ird: #path\\ with\ttab") && !strcmp(l.training.resume, "true"));
    CHECK(!strcmp(l.model.options.pretrained, "a: b"));
    CHECK(l.training.lr_schedule.min_lr == 3.0000000000000004e-7 && l.training.max_iters == 9000000000LL);
    /* diff names the first differing key */
    l.training.optimizer.betas[1] = 0.99;
    CHECK(pixl_config_diff(&c, &l, diff, sizeof diff) == 1 && !strcmp(diff, "training.optimizer.betas"));
    char *text = slurp(path);
    CHECK(text && strstr(text, "  optimizer:") && strstr(text, "    lr: 0.1 "));
    CHECK(text && strstr(text, "    class_weights: [0.5, 1.0, 2.0, 1.0, 1.0, 1.0, 3.0, 1.0, 1.0, 1.0, 2.5]"));
    CHECK(text && strstr(text, "  arch: \"123\""));
    free(text);
}

/* every kind of error, with the exact file:line of the key or value */
PIXL_TEST(config_errors)
{
    /* unknown keys: suggestion by edit distance, by the same name elsewhere, or the valid keys */
    CHECK_LOAD_ERR("model:\n  arch: unet\ntrainig:\n  epochs: 3\n", "t.yaml:3: unknown key 'trainig' (did you mean 'training'?)");
    CHECK_LOAD_ERR("training:\n  optimizer:\n    lr: 0.1\n    momentun: 0.9\n",
                   "t.yaml:4: unknown key 'training.optimizer.momentun' (did you mean 'training.optimizer.momentum'?)");
    CHECK_LOAD_ERR("training:\n  n_workers: 4\n", "t.yaml:2: unknown key 'training.n_workers' (did you mean 'data.n_workers'?)");
    CHECK_LOAD_ERR("output:\n  zzz: 1\n", "t.yaml:2: unknown key 'output.zzz' (valid keys in output: run_dir, keep_best, keep_last)");
    /* wrong types */
    CHECK_LOAD_ERR("training:\n  epochs: 3\n  batch_size: eight\n", "t.yaml:3: training.batch_size: expected an integer, got 'eight'");
    CHECK_LOAD_ERR("training:\n  batch_size: 8.0\n", "t.yaml:2: training.batch_size: expected an integer, got '8.0'");
    CHECK_LOAD_ERR("training:\n  batch_size:\n", "t.yaml:2: training.batch_size: expected an integer, got nothing");
    CHECK_LOAD_ERR("training:\n  optimizer:\n    lr: fast\n", "t.yaml:3: training.optimizer.lr: expected a number, got 'fast'");
    CHECK_LOAD_ERR("training:\n  optimizer:\n    lr: .nan\n", "t.yaml:3: training.optimizer.lr: expected a number, got '.nan'");
    CHECK_LOAD_ERR("data:\n  flip: maybe\n", "t.yaml:2: data.flip: expected true or false, got 'maybe'");
    CHECK_LOAD_ERR("data:\n  root: [a, b]\n", "t.yaml:2: data.root: expected a string, got a list");
    CHECK_LOAD_ERR("data:\n  dataset: cityscape\n",
                   "t.yaml:2: data.dataset: expected camvid, list, folder, voc, cityscapes, ade20k, bsds500, synthetic or synthetic_normals, got 'cityscape' (did you mean 'cityscapes'?)");
    CHECK_LOAD_ERR("training:\n  optimizer:\n    name: adm\n",
                   "t.yaml:3: training.optimizer.name: expected sgd, adam or adamw, got 'adm' (did you mean 'adam'?)");
    CHECK_LOAD_ERR("training:\n  lr_schedule: {name: linear}\n",
                   "t.yaml:2: training.lr_schedule.name: expected constant, step, multistep, poly or cosine, got 'linear'");
    CHECK_LOAD_ERR("training:\n  loss:\n    class_weights: enett\n",
                   "t.yaml:3: training.loss.class_weights: expected none, enet, median_freq or a list of numbers, got 'enett' (did you mean 'enet'?)");
    CHECK_LOAD_ERR("training:\n  loss:\n    ignore_index: void\n",
                   "t.yaml:3: training.loss.ignore_index: expected an integer or null, got 'void'");
    /* lists */
    CHECK_LOAD_ERR("data:\n  crop: 256\n", "t.yaml:2: data.crop: expected a list of integers like [1, 2], got '256'");
    CHECK_LOAD_ERR("data:\n  crop: [1, 2, 3]\n", "t.yaml:2: data.crop: expected a list of 2 integers, got 3");
    CHECK_LOAD_ERR("data:\n  scale:\n    - 0.5\n    - big\n", "t.yaml:4: data.scale: expected a number, got 'big'");
    CHECK_LOAD_ERR("data:\n  scale: [0.5, 0]\n", "t.yaml:2: data.scale: element 1 must be in [0.01, 100], got 0");
    CHECK_LOAD_ERR("training:\n  lr_schedule:\n    milestones: [10, -5]\n",
                   "t.yaml:3: training.lr_schedule.milestones: element 1 must be >= 1, got -5");
    /* ranges */
    CHECK_LOAD_ERR("training:\n  batch_size: 0\n", "t.yaml:2: training.batch_size: value must be in [1, 65536], got 0");
    CHECK_LOAD_ERR("data:\n\n  color_jitter: 1.5\n", "t.yaml:3: data.color_jitter: value must be in [0, 1], got 1.5");
    CHECK_LOAD_ERR("training:\n  optimizer:\n    lr: -0.1\n", "t.yaml:3: training.optimizer.lr: value must be >= 0, got -0.1");
    CHECK_LOAD_ERR("training:\n  epochs: 99999999999\n", "t.yaml:2: training.epochs: value must be in [0, 2147483647], got 99999999999");
    CHECK_LOAD_ERR("training:\n  max_iters: 99999999999999999999\n", "t.yaml:2: training.max_iters: expected an integer, got '99999999999999999999'");
    /* duplicates, at any depth */
    CHECK_LOAD_ERR("training:\n  epochs: 3\n  batch_size: 2\n  epochs: 4\n", "t.yaml:4: duplicate key 'training.epochs' (first at line 2)");
    CHECK_LOAD_ERR("data:\n  flip: true\ntraining:\n  epochs: 3\ndata:\n  blur: 0.1\n", "t.yaml:5: duplicate key 'data' (first at line 1)");
    CHECK_LOAD_ERR("model:\n  options: {aux: 1, aux: 2}\n", "t.yaml:2: duplicate key 'model.options.aux' (first at line 2)");
    /* structure */
    CHECK_LOAD_ERR("training: 5\n", "t.yaml:1: training: expected a mapping of keys, got '5'");
    CHECK_LOAD_ERR("- model\n- data\n", "t.yaml:1: expected a mapping of sections (model:, data:, training:, ...), got a list");
    CHECK_LOAD_ERR("model:\n  options: [1, 2]\n", "t.yaml:2: model.options: expected a mapping of options like {width: 0.5}, got a list");
    CHECK_LOAD_ERR("model:\n  options:\n    width: [1, 2]\n", "t.yaml:3: model.options.width: expected a number, got '[1, 2]'");
    CHECK_LOAD_ERR("model:\n  options:\n    mlp: {a: 1}\n", "t.yaml:3: model.options.mlp: expected a value or a list, got a mapping");
    CHECK_LOAD_ERR("model:\n  arch: unet\n---\nmodel:\n  arch: enet\n", "t.yaml:4: only one YAML document is expected");
    /* YAML syntax (line:column) */
    CHECK_LOAD_ERR("model:\n  arch: [unet\ndata:\n  root: x\n", "t.yaml:3:5: YAML syntax error");
    CHECK_LOAD_ERR("model:\n\tarch: unet\n", "t.yaml:2:1: YAML syntax error: found character that cannot start any token");
    /* rules between keys, reported at the line of the key that breaks them */
    CHECK_LOAD_ERR("model:\n  arch: unet\ntraining:\n  epochs: 0\n",
                   "t.yaml:3: training: epochs, max_minutes and max_iters are all 0: set at least one to end the run");
    CHECK_LOAD_ERR("training:\n  lr_schedule:\n    name: step\n", "t.yaml:3: training.lr_schedule.step_size: must be > 0 for the step schedule");
    CHECK_LOAD_ERR("training:\n  lr_schedule:\n    name: multistep\n    milestones: [300, 200]\n",
                   "t.yaml:4: training.lr_schedule.milestones: must increase, got 200 after 300");
    CHECK_LOAD_ERR("model:\n  n_classes: 3\ntraining:\n  loss:\n    class_weights: [1, 2]\n",
                   "t.yaml:5: training.loss.class_weights: 2 weights for model.n_classes = 3");
    CHECK_LOAD_ERR("data:\n  scale: [2.0, 1.0]\n", "t.yaml:2: data.scale: expected [min, max] with min <= max, got [2, 1]");
    CHECK_LOAD_ERR("data:\n  crop: [0, 5]\n", "t.yaml:2: data.crop: set both sizes (> 0) or neither ([0, 0]), got [0, 5]");
    CHECK_LOAD_ERR("data:\n  img_cols: 100\n", "t.yaml:2: data.img_rows and data.img_cols: set both (> 0) or neither (0), got 0 and 100");
    CHECK_LOAD_ERR("training:\n  optimizer:\n    betas: [0.9, 1.0]\n", "t.yaml:3: training.optimizer.betas: each must be < 1, got 1");
    CHECK_LOAD_ERR("model:\n  arch: \"\"\n", "t.yaml:2: model.arch: must not be empty");
    /* strings longer than the field */
    char big[200];
    snprintf(big, sizeof big, "model:\n  arch: %0100d\n", 7);
    CHECK_LOAD_ERR(big, "t.yaml:2: model.arch: longer than 63 characters");

    /* the struct is untouched by a failed load */
    pixl_train_config c;
    CHECK_OK(pixl_config_defaults(&c));
    c.training.batch_size = 77;
    CHECK(load("training:\n  epochs: 5\n  batch_size: 3\n  bogus: 1\n", &c) == PIXL_ERR_FORMAT);
    CHECK(c.training.batch_size == 77 && c.training.epochs == 100);

    /* files: the path is the prefix; a missing file is NOT_FOUND */
    char path[512];
    snprintf(path, sizeof path, "%s/bad.yaml", pixl_test_tmpdir());
    FILE *f = fopen(path, "w");
    if (f) {
        fputs("model:\n  arch: unet\n\ntraining:\n  optimizer:\n    name: sgd\n    lr: 1e-2\n  batch_size: eight\n", f);
        fclose(f);
    }
    char want[600];
    snprintf(want, sizeof want, "%s:8: training.batch_size: expected an integer, got 'eight'", path);
    CHECK(pixl_config_load(path, &c) == PIXL_ERR_FORMAT);
    CHECK_MSG(!strcmp(pixl_last_error(), want), "'%s' != '%s'", pixl_last_error(), want);
    snprintf(path, sizeof path, "%s/missing.yaml", pixl_test_tmpdir());
    CHECK(pixl_config_load(path, &c) == PIXL_ERR_NOT_FOUND);
    CHECK(strstr(pixl_last_error(), "missing.yaml") != NULL);
}

PIXL_TEST(config_overrides)
{
    pixl_train_config c, before;
    CHECK_OK(pixl_config_defaults(&c));
    CHECK_OK(pixl_config_set(&c, "training.optimizer.lr", "0.01"));
    CHECK(c.training.optimizer.lr == 0.01);
    CHECK_OK(pixl_config_set(&c, "training.optimizer.name", "sgd"));
    CHECK(c.training.optimizer.name == PIXL_OPTIM_SGD);
    CHECK_OK(pixl_config_set(&c, "data.crop", "[256,256]"));
    CHECK(c.data.crop[0] == 256 && c.data.crop[1] == 256);
    CHECK_OK(pixl_config_set(&c, "training.lr_schedule.milestones", "[100, 200]"));
    CHECK(c.training.lr_schedule.n_milestones == 2 && c.training.lr_schedule.milestones[1] == 200);
    CHECK_OK(pixl_config_set(&c, "training.lr_schedule.milestones", "[]"));
    CHECK(c.training.lr_schedule.n_milestones == 0 && c.training.lr_schedule.milestones[1] == 0);
    CHECK_OK(pixl_config_set(&c, "training.loss.class_weights", "median_freq"));
    CHECK(c.training.loss.class_weights == PIXL_CLASS_WEIGHTS_MEDIAN_FREQ);
    CHECK_OK(pixl_config_set(&c, "training.loss.ignore_index", "-1"));
    CHECK(pixl_config_loss_ignore_index(&c) == -1);
    CHECK_OK(pixl_config_set(&c, "training.loss.ignore_index", "null"));
    CHECK(pixl_config_loss_ignore_index(&c) == 255);
    CHECK_OK(pixl_config_set(&c, "data.flip", "false"));
    CHECK_OK(pixl_config_set(&c, "data.dataset", "VOC"));
    CHECK(!strcmp(c.data.dataset, "voc"));
    CHECK(c.data.flip == 0);
    /* strings are verbatim */
    CHECK_OK(pixl_config_set(&c, "output.run_dir", "runs/a b: [c]"));
    CHECK(!strcmp(c.output.run_dir, "runs/a b: [c]"));
    CHECK_OK(pixl_config_set(&c, "training.resume", ""));
    CHECK(c.training.resume[0] == 0);
    /* model options: one at a time, or all at once */
    CHECK_OK(pixl_config_set(&c, "model.options.width", "16"));
    CHECK_OK(pixl_config_set(&c, "model.options.width", "24"));
    CHECK(c.model.options.width == 24);
    CHECK_OK(pixl_config_set(&c, "model.options", "{backbone: vgg16, mlp: [64]}")); /* the rest back to defaults */
    CHECK(c.model.options.width == 0 && !strcmp(c.model.options.backbone, "vgg16"));
    CHECK(c.model.options.head.n_mlp == 1 && c.model.options.head.mlp[0] == 64);
    /* a whole section as a flow mapping */
    CHECK_OK(pixl_config_set(&c, "training.optimizer", "{name: adamw, lr: 3e-4, betas: [0.8, 0.9]}"));
    CHECK(c.training.optimizer.name == PIXL_OPTIM_ADAMW && c.training.optimizer.lr == 3e-4);
    CHECK(c.training.optimizer.betas[0] == 0.8 && c.training.optimizer.momentum == 0.9);
    char buf[256];
    CHECK_OK(pixl_config_get(&c, "training.optimizer.betas", buf, sizeof buf));
    CHECK(!strcmp(buf, "[0.8, 0.9]"));
    CHECK_OK(pixl_config_get(&c, "training.optimizer.name", buf, sizeof buf));
    CHECK(!strcmp(buf, "adamw"));
    CHECK_OK(pixl_config_get(&c, "training.loss.ignore_index", buf, sizeof buf));
    CHECK(!strcmp(buf, "null"));
    CHECK_OK(pixl_config_get(&c, "model.options", buf, sizeof buf));
    CHECK_MSG(!strncmp(buf, "{width: 0, variant: \"\", backbone: vgg16, output_stride: 0, aux: true", 68) &&
                  strstr(buf, ", mlp: [64], dropout: 0.5,"),
              "%s", buf);
    CHECK_OK(pixl_config_get(&c, "model.options.mlp", buf, sizeof buf));
    CHECK(!strcmp(buf, "[64]"));
    CHECK(pixl_config_get(&c, "model.options.depth", buf, sizeof buf) == PIXL_ERR_NOT_FOUND);
    CHECK(pixl_config_get(&c, "training.optimiser.lr", buf, sizeof buf) == PIXL_ERR_NOT_FOUND);

    /* the same checks as files, without a file:line; cfg unchanged on failure */
    before = c;
    CHECK_SET_ERR(&c, "training.batch_size", "eight", "training.batch_size: expected an integer, got 'eight'");
    CHECK(pixl_last_status() == PIXL_ERR_ARG);
    CHECK_SET_ERR(&c, "training.optimzer.lr", "0.1", "unknown key 'training.optimzer.lr' (did you mean 'training.optimizer.lr'?)");
    CHECK(pixl_last_status() == PIXL_ERR_NOT_FOUND);
    CHECK_SET_ERR(&c, "training.n_workers", "3", "unknown key 'training.n_workers' (did you mean 'data.n_workers'?)");
    CHECK_SET_ERR(&c, "training.optimizer.name", "rmsprop", "training.optimizer.name: expected sgd, adam or adamw, got 'rmsprop'");
    CHECK_SET_ERR(&c, "data.scale", "[0.5]", "data.scale: expected a list of 2 numbers, got 1");
    CHECK_SET_ERR(&c, "data.dataset", "pascal", "data.dataset: expected camvid, list, folder, voc, cityscapes, ade20k, bsds500, synthetic or synthetic_normals, got 'pascal'");
    CHECK_SET_ERR(&c, "training.optimizer", "{name: sgd, lr: x}", "training.optimizer.lr: expected a number, got 'x'");
    CHECK_SET_ERR(&c, "training.optimizer", "{lrr: 1}", "unknown key 'training.optimizer.lrr' (did you mean 'training.optimizer.lr'?)");
    CHECK_SET_ERR(&c, "training.optimizer.lr", "[0.1", "YAML syntax error");
    CHECK_SET_ERR(&c, "data.crop", "[1, 2], [3]", "YAML syntax error");
    CHECK_SET_ERR(&c, "training.epochs", "-1", "training.epochs: value must be >= 0, got -1");
    CHECK(pixl_config_diff(&c, &before, NULL, 0) == 0);
    CHECK(memcmp(&c, &before, sizeof c) == 0);

    /* cross-key rules are checked once all overrides are in */
    CHECK_OK(pixl_config_set(&c, "model.arch", "pixelnet")); /* the head keys set above are PixelNet's */
    CHECK_OK(pixl_config_set(&c, "training.epochs", "0"));
    CHECK(pixl_config_validate(&c) == PIXL_ERR_ARG);
    CHECK(strstr(pixl_last_error(), "training: epochs, max_minutes and max_iters are all 0") == pixl_last_error());
    CHECK_OK(pixl_config_set(&c, "training.max_iters", "1000"));
    CHECK_OK(pixl_config_validate(&c));
    /* a head option on another architecture names both sides */
    CHECK_OK(pixl_config_set(&c, "model.arch", "unet"));
    CHECK(pixl_config_validate(&c) == PIXL_ERR_ARG);
    CHECK_MSG(strstr(pixl_last_error(), "model.options.mlp: a PixelNet head option, but model.arch is 'unet'"), "%s",
              pixl_last_error());
}

/* the printed defaults are commented YAML with the sections in order */
PIXL_TEST(config_print_format)
{
    char path[512];
    snprintf(path, sizeof path, "%s/print.yaml", pixl_test_tmpdir());
    FILE *f = fopen(path, "w");
    if (!f) return;
    CHECK_OK(pixl_config_print_defaults(f));
    fclose(f);
    char *t = slurp(path);
    CHECK(t != NULL);
    if (!t) return;
    const char *m = strstr(t, "\nmodel:"), *d = strstr(t, "\ndata:"), *tr = strstr(t, "\ntraining:"),
               *v = strstr(t, "\nvalidation:"), *o = strstr(t, "\noutput:");
    CHECK(m && d && tr && v && o && m < d && d < tr && tr < v && v < o);
    CHECK_MSG(strstr(t, "  options:") != NULL && strstr(t, "\n    mlp: [512, 512]") != NULL &&
                  strstr(t, "\n    taps: []") != NULL && strstr(t, "\n    align: center") != NULL,
              "%s", t);
    CHECK(strstr(t, "    lr: 0.0005") != NULL);
    CHECK(strstr(t, "    eps: 1.0e-08") != NULL); /* a YAML 1.1 float, also for PyYAML */
    CHECK(strstr(t, "  root: \"\"") != NULL);
    CHECK(strstr(t, "    ignore_index: null") != NULL);
    CHECK(strstr(t, "    milestones: []") != NULL);
    CHECK(strstr(t, "  scale: [1.0, 1.0]") != NULL);
    CHECK(strstr(t, "# stop after this many epochs; 0 = no epoch limit") != NULL);
    free(t);
}

/* docs/config.md is the output of pixl_config_write_docs() (run from the
 * repository root; PIXL_REGEN_DOCS=1 rewrites it) */
PIXL_TEST(config_docs)
{
    char path[512];
    snprintf(path, sizeof path, "%s/config.md", pixl_test_tmpdir());
    FILE *f = fopen(path, "w");
    if (!f) return;
    CHECK_OK(pixl_config_write_docs(f));
    fclose(f);
    char *gen = slurp(path);
    if (getenv("PIXL_REGEN_DOCS")) {
        FILE *out = fopen("docs/config.md", "w");
        CHECK_MSG(out != NULL, "cannot write docs/config.md (run from the repository root)");
        if (out && gen) {
            fputs(gen, out);
            fclose(out);
        }
    }
    char *have = slurp("docs/config.md");
    if (!have) {
        fprintf(stderr, "    (docs/config.md not found from the working directory: not compared)\n");
    } else {
        CHECK_MSG(gen && !strcmp(gen, have),
                  "docs/config.md is out of date with the schema: compare with %s, or regenerate with "
                  "PIXL_REGEN_DOCS=1 pixl_tests config_docs",
                  path);
    }
    free(have);
    free(gen);
}

/* overrides complete a file that is invalid on its own; bad overrides are named */
PIXL_TEST(config_load_with_overrides)
{
    const char *path = "/tmp/pixl_test_overrides.yaml";
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    fputs("model: {arch: enet}\ntraining: {epochs: 0}\n", f);
    fclose(f);
    pixl_train_config *cfg = malloc(sizeof *cfg);
    CHECK(pixl_config_load(path, cfg) != PIXL_OK); /* no training limit */
    CHECK(strstr(pixl_last_error(), ":2:") != NULL);
    const char *ok[] = {"training.max_iters=3", "training.optimizer.lr=0.01"};
    CHECK(pixl_config_load_ex(path, cfg, 2, ok) == PIXL_OK);
    CHECK(cfg->training.max_iters == 3);
    CHECK_NEAR(cfg->training.optimizer.lr, 0.01, 1e-9);
    const char *bad[] = {"training.max_iters=3", "training.optimiser.lr=1"};
    CHECK(pixl_config_load_ex(path, cfg, 2, bad) != PIXL_OK);
    CHECK(strstr(pixl_last_error(), "training.optimiser.lr=1") != NULL);
    const char *noeq[] = {"training.max_iters"};
    CHECK(pixl_config_load_ex(path, cfg, 1, noeq) != PIXL_OK);
    free(cfg);
    remove(path);
}

/* model.options.crf: the typed form of the compact CRF names, as a block or
 * flow mapping, with --set, print -> load, and its errors at the key's line */
PIXL_TEST(config_model_options_crf)
{
    pixl_train_config c, l;
    pixl_model_opts mo;
    pixl_crf_opts want;
    CHECK_OK(pixl_crf_parse("crfi5p4d5161p4d541", &want));
    CHECK_OK(load("model:\n  arch: enet\n  options:\n    crf:\n      frozen: true\n      steps: 5\n"
                  "      terms: [4d:5:16:1, 4d:5:4:1]\n",
                  &c));
    CHECK_OK(pixl_config_model_opts(&c, &mo, NULL));
    CHECK(mo.crf != NULL && mo.crf_frozen == 1);
    CHECK(mo.crf && !memcmp(mo.crf, &want, sizeof want));
    CHECK_OK(load("model:\n  arch: enet\n  options: {crf: {steps: 5, terms: [4d:5:16:1, 4d:5:4:1]}}\n", &l));
    CHECK_OK(pixl_config_model_opts(&l, &mo, NULL));
    CHECK(mo.crf && !memcmp(mo.crf, &want, sizeof want) && mo.crf_frozen == 0);
    /* the printed config loads back to the same */
    char path[512], diff[128];
    snprintf(path, sizeof path, "%s/crf.yaml", pixl_test_tmpdir());
    CHECK_OK(pixl_config_save(&c, path));
    CHECK_OK(pixl_config_load(path, &l));
    CHECK_MSG(pixl_config_diff(&c, &l, diff, sizeof diff) == 0, "differs at %s", diff);
    char *text = slurp(path);
    CHECK(text && strstr(text, "  crf: {frozen: true, steps: 5, loose: false, output: log_q, perturbed_init: true, "
                               "fixed_weighting: false, unary_weight: 1, terms: [4d:5:16:1, 4d:5:4:1]}"));
    free(text);
    /* no CRF */
    CHECK_OK(load("model:\n  arch: enet\n", &l));
    CHECK_OK(pixl_config_model_opts(&l, &mo, NULL));
    CHECK(mo.crf == NULL && !l.model.options.crf.given);
    CHECK(pixl_config_diff(&c, &l, diff, sizeof diff) == 1 && !strcmp(diff, "model.options.crf"));
    /* overrides: one key, the whole mapping, null */
    CHECK_OK(pixl_config_set(&c, "model.options.crf.steps", "3"));
    CHECK(c.model.options.crf.opts.num_steps == 3 && c.model.options.crf.opts.n_terms == 2);
    char buf[512];
    CHECK_OK(pixl_config_get(&c, "model.options.crf.steps", buf, sizeof buf));
    CHECK(!strcmp(buf, "3"));
    CHECK_OK(pixl_config_set(&c, "model.options.crf", "{steps: 2, output: 'softmax', terms: [2d:3:1:2:s]}"));
    CHECK(c.model.options.crf.given && c.model.options.crf.opts.num_steps == 2 && !c.model.options.crf.frozen &&
          c.model.options.crf.opts.output == PIXL_CRF_SOFTMAX && c.model.options.crf.opts.n_terms == 1 &&
          c.model.options.crf.opts.terms[0].compat == PIXL_CRF_2D && c.model.options.crf.opts.terms[0].blur == 2 &&
          c.model.options.crf.opts.terms[0].spatial_filter);
    CHECK_OK(pixl_config_set(&l, "model.options.crf.frozen", "true")); /* gives the mapping, defaults otherwise */
    CHECK(l.model.options.crf.given && l.model.options.crf.frozen && l.model.options.crf.opts.num_steps == 5);
    CHECK_OK(pixl_config_set(&c, "model.options.crf", "null"));
    CHECK(!c.model.options.crf.given);
    CHECK_SET_ERR(&c, "model.options.crf.stepz", "3",
                  "unknown key 'model.options.crf.stepz' (did you mean 'steps'? valid keys: frozen, steps, loose, "
                  "output, perturbed_init, fixed_weighting, unary_weight, terms)");
    CHECK_SET_ERR(&c, "model.options.crf", "{steps: 2, bogus: 1}", "unknown key 'model.options.crf.bogus'");
    CHECK_SET_ERR(&c, "model.options.crf", "steps=2", "model.options.crf: expected a mapping");
    CHECK_SET_ERR(&c, "model.options.width.x", "2", "unknown key 'model.options.width.x'");
    /* errors with the file:line of the key or value */
    CHECK_LOAD_ERR("model:\n  arch: enet\n  options:\n    crf:\n      steps: 5\n      step: 3\n",
                   "t.yaml:6: unknown key 'model.options.crf.step' (did you mean 'steps'? valid keys: frozen, steps, "
                   "loose, output, perturbed_init, fixed_weighting, unary_weight, terms)");
    CHECK_LOAD_ERR("model:\n  arch: enet\n  options:\n    crf:\n      steps: many\n",
                   "t.yaml:5: model.options.crf.steps: expected an integer, got 'many'");
    CHECK_LOAD_ERR("model:\n  arch: enet\n  options:\n    crf:\n      terms: [4d:4:16:1]\n",
                   "t.yaml:5: model.options.crf.terms: crf: pairwise term 0: kernel 4 (odd)");
    CHECK_LOAD_ERR("model:\n  arch: enet\n  options:\n    crf:\n      steps: 5\n      steps: 4\n",
                   "t.yaml:6: duplicate key 'model.options.crf.steps' (first at line 5)");
    CHECK_LOAD_ERR("model:\n  arch: enet\n  options:\n    crf: {steps: 5}\n",
                   "model.options.crf.terms: at least one pairwise term");
    CHECK_LOAD_ERR("model:\n  arch: enet_crfi5p4d5161\n  options:\n    crf: {terms: [4d:5:16:1]}\n",
                   "t.yaml:4: model.options.crf and model.arch 'enet_crfi5p4d5161': a CRF in both");
    CHECK_LOAD_ERR("model:\n  arch: enet\n  options:\n    crf: 5\n", "t.yaml:4: model.options.crf: expected a mapping");
    CHECK_LOAD_ERR("model:\n  arch: enet\n  options:\n    width: {a: 1}\n",
                   "t.yaml:4: model.options.width: expected a value or a list, got a mapping");
    CHECK_LOAD_ERR("model:\n  arch: enet\n  options:\n    crff: {a: 1}\n", "t.yaml:4: unknown key 'model.options.crff'");
}

/* the PacCRF configs of configs/pac/ give the CRFs of their compact names
 * (run from the repository root; skipped elsewhere) */
PIXL_TEST(config_pac_crf_configs)
{
    static const char *const files[] = {"configs/pac/camvid_enet_crf_stage1.yaml",
                                        "configs/pac/camvid_enet_crf_stage2.yaml"};
    static const char *const compact[] = {"enetfrozen_crfi5p4d5161p4d541", "enet_crfi5p4d5161p4d541"};
    for (int i = 0; i < 2; i++) {
        FILE *f = fopen(files[i], "r");
        if (!f) {
            fprintf(stderr, "    (%s not found from the working directory: not checked)\n", files[i]);
            return;
        }
        fclose(f);
        pixl_train_config c;
        pixl_model_opts mo;
        pixl_crf_opts want;
        CHECK_OK(pixl_config_load(files[i], &c));
        CHECK_OK(pixl_config_model_opts(&c, &mo, NULL));
        CHECK_OK(pixl_crf_parse(strchr(compact[i], '_') + 1, &want));
        CHECK(!strcmp(c.model.arch, "enet"));
        CHECK(mo.crf && !memcmp(mo.crf, &want, sizeof want) && mo.crf_frozen == (i == 0));
    }
}
