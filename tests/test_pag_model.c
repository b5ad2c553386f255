/* test_pag_model.c — pag_resnet50: its options (keys, checks, errors that
 * name the key, the temperature schedule, checkpoint metadata), the graph
 * (15 gates and MultiPool registered as probes, budget losses as loss
 * terms in training graphs only), the sparse inference equal to the dense
 * masked one at all-on, all-off and mixed gates, train_skip, and a few
 * training steps. */
#include <stdlib.h>
#include <string.h>

#include "pixl_models.h"
#include "pixl_train.h"
#include "test.h"

static int err_has(const char *s) { return strstr(pixl_last_error(), s) != NULL; }

PIXL_TEST(pag_opts_defaults_keys_errors)
{
    pixl_pag_opts o = pixl_pag_defaults();
    CHECK(o.n_gates == 15);
    CHECK(!strcmp(o.gates[0], "res2_1") && !strcmp(o.gates[13], "res5_1") && !strcmp(o.gates[14], "res5_3"));
    CHECK_NEAR(o.lambda, 0.7, 1e-7);
    CHECK_OK(pixl_pag_check(&o));
    /* lambda outside (0, 1] */
    CHECK(pixl_pag_set(&o, "lambda", "0") != 0 && err_has("pag.lambda"));
    CHECK(pixl_pag_set(&o, "lambda", "1.5") != 0 && err_has("pag.lambda"));
    CHECK(pixl_pag_set(&o, "lambda", "-0.1") != 0 && err_has("pag.lambda"));
    CHECK_OK(pixl_pag_set(&o, "lambda", "1"));
    o.lambda = 0;
    CHECK(pixl_pag_check(&o) != 0 && err_has("pag.lambda"));
    o = pixl_pag_defaults();
    /* temperatures <= 0 */
    CHECK(pixl_pag_set(&o, "t_start", "0") != 0 && err_has("pag.t_start"));
    CHECK(pixl_pag_set(&o, "t_end", "-1") != 0 && err_has("pag.t_end"));
    o.t_end = 0;
    CHECK(pixl_pag_check(&o) != 0 && err_has("pag.t_end"));
    o = pixl_pag_defaults();
    /* a gate on a block that is not a bottleneck */
    CHECK_OK(pixl_pag_set(&o, "gates", "[res2_1, stem]"));
    CHECK(pixl_pag_check(&o) != 0 && err_has("pag.gates") && err_has("'stem'"));
    CHECK_OK(pixl_pag_set(&o, "gates", "[res2_4]"));
    CHECK(pixl_pag_check(&o) != 0 && err_has("pag.gates") && err_has("'res2_4'"));
    CHECK_OK(pixl_pag_set(&o, "gates", "[res1_1]"));
    CHECK(pixl_pag_check(&o) != 0 && err_has("'res1_1'"));
    CHECK_OK(pixl_pag_set(&o, "gates", "[res3_2, res3_2]"));
    CHECK(pixl_pag_check(&o) != 0 && err_has("twice"));
    CHECK_OK(pixl_pag_set(&o, "gates", "[res3_2, res4_6]"));
    CHECK_OK(pixl_pag_check(&o));
    /* per-gate weights: one per gate */
    CHECK_OK(pixl_pag_set(&o, "weights", "[1, 100, 3]"));
    CHECK(pixl_pag_check(&o) != 0 && err_has("pag.weights"));
    CHECK_OK(pixl_pag_set(&o, "weights", "[1, 0.5]"));
    CHECK_OK(pixl_pag_check(&o));
    CHECK_NEAR(o.weights[1], 0.5, 1e-7);
    CHECK(pixl_pag_set(&o, "lamda", "0.5") != 0 && err_has("lambda"));
    /* format and parse: the same options back */
    char buf[1024];
    CHECK_OK(pixl_pag_set(&o, "loss", "mild"));
    CHECK_OK(pixl_pag_set(&o, "scales", "[2, 4]"));
    CHECK_OK(pixl_pag_format(&o, buf, sizeof buf));
    pixl_pag_opts b;
    CHECK_OK(pixl_pag_parse_pairs(buf, &b));
    CHECK(b.n_gates == 2 && !strcmp(b.gates[1], "res4_6") && b.loss == PIXL_PAG_LOSS_MILD && b.n_scales == 2 &&
          b.scales[1] == 4 && b.n_weights == 2 && b.weights[1] == 0.5f);
}

PIXL_TEST(pag_temperature_schedule)
{
    pixl_pag_opts o = pixl_pag_defaults(); /* exp 1 -> 0.1 */
    CHECK_NEAR(pixl_pag_temperature(&o, 0, 11), 1.0, 1e-6);
    CHECK_NEAR(pixl_pag_temperature(&o, 10, 11), 0.1, 1e-6);
    CHECK_NEAR(pixl_pag_temperature(&o, 5, 11), sqrt(0.1), 1e-6);
    CHECK_NEAR(pixl_pag_temperature(&o, 50, 11), 0.1, 1e-6); /* past the end: the last value */
    o.anneal = PIXL_PAG_T_LINEAR;
    CHECK_NEAR(pixl_pag_temperature(&o, 5, 11), 0.55, 1e-6);
    o.anneal = PIXL_PAG_T_SEED; /* 1, 1, 0.97, 0.97, 0.94, ... down to t_end */
    CHECK_NEAR(pixl_pag_temperature(&o, 1, 100), 1.0, 1e-6);
    CHECK_NEAR(pixl_pag_temperature(&o, 4, 100), 0.94, 1e-6);
    CHECK_NEAR(pixl_pag_temperature(&o, 99, 100), 0.1, 1e-6);
    o.anneal = PIXL_PAG_T_CONSTANT;
    CHECK_NEAR(pixl_pag_temperature(&o, 7, 10), 1.0, 1e-6);
    /* the graph's Gumbel softmaxes follow pixl_ctx_set_temperature; t <= 0 is refused */
    pixl_params *P = pixl_params_new();
    pixl_ctx *c = pixl_ctx_new(P, PIXL_MODE_TRAIN);
    int64_t s[4] = {1, 2, 4, 4};
    pixl_tensor *l = pixl_input(c, "l", PIXL_F32, 4, s);
    pixl_gumbel_softmax(c, l, NULL, 1.0f);
    pixl_gumbel_softmax(c, l, NULL, 1.0f);
    CHECK(pixl_ctx_set_temperature(c, 0.5f) == 2);
    CHECK(pixl_ctx_set_temperature(c, 0.0f) < 0 && err_has("temperature"));
    CHECK(pixl_ctx_set_temperature(c, -1.0f) < 0);
    pixl_ctx_free(c);
    pixl_params_free(P);
}

PIXL_TEST(pag_config_keys_errors)
{
    pixl_train_config cfg;
    CHECK_OK(pixl_config_defaults(&cfg));
    CHECK_OK(pixl_config_set(&cfg, "model.arch", "pag_resnet50"));
    CHECK_OK(pixl_config_set(&cfg, "model.options.pag", "{lambda: 0.5, loss: combined, scales: [2, 4]}"));
    CHECK_OK(pixl_config_validate(&cfg));
    pixl_model_opts mo;
    CHECK_OK(pixl_config_model_opts(&cfg, &mo, NULL));
    CHECK(mo.pag && mo.pag->lambda == 0.5f && mo.pag->loss == PIXL_PAG_LOSS_COMBINED && mo.pag->n_scales == 2);
    CHECK(pixl_config_set(&cfg, "model.options.pag.lambda", "0") != 0 && err_has("model.options.pag.lambda"));
    CHECK(pixl_config_set(&cfg, "model.options.pag.lambda", "1.01") != 0 && err_has("model.options.pag.lambda"));
    CHECK(pixl_config_set(&cfg, "model.options.pag.t_start", "0") != 0 && err_has("model.options.pag.t_start"));
    CHECK_OK(pixl_config_set(&cfg, "model.options.pag.gates", "[res2_1, res6_1]"));
    CHECK(pixl_config_validate(&cfg) != 0 && err_has("model.options.pag.gates") && err_has("res6_1"));
    /* YAML: the line of the key */
    const char *y = "model:\n  arch: pag_resnet50\n  options:\n    pag:\n      gates: [res2_1, conv1]\n";
    CHECK(pixl_config_load_string(y, "pag.yaml", &cfg) != 0 && err_has("pag.yaml") &&
          err_has("model.options.pag.gates") && err_has("conv1"));
    y = "model:\n  arch: enet\n  options:\n    pag: {lambda: 0.5}\n";
    CHECK(pixl_config_load_string(y, "pag.yaml", &cfg) != 0 && err_has("model.options.pag") && err_has("enet"));
}

/* a small PAG net: width 1/16, 64x64 input, every gate, MultiPool [1, 2] */
static pixl_model *small_model(pixl_pag_opts *pag)
{
    *pag = pixl_pag_defaults();
    pixl_pag_set(pag, "scales", "[1, 2]");
    pixl_model_opts mo = {.n_classes = 5, .width = 0.0625f, .pag = pag};
    return pixl_model_create("pag_resnet50", &mo, 7);
}

static pixl_ctx *build(pixl_model *m, const pixl_pag_opts *pag, pixl_mode mode, int B, pixl_tensor **x, pixl_tensor **y)
{
    pixl_model_opts mo = *pixl_model_options(m);
    mo.pag = pag;
    pixl_ctx *c = pixl_ctx_new(pixl_model_params(m), mode);
    int64_t s[4] = {B, 3, 64, 64};
    *x = pixl_input(c, "x", PIXL_F32, 4, s);
    *y = pixl_model_build(c, "pag_resnet50", *x, &mo);
    return c;
}

PIXL_TEST(pag_model_graph_probes_losses)
{
    pixl_pag_opts pag;
    pixl_model *m = small_model(&pag);
    CHECK_MSG(m != NULL, "%s", pixl_last_error());
    if (!m) return;
    pixl_tensor *x, *y;
    pixl_ctx *c = build(m, &pag, PIXL_MODE_TRAIN, 2, &x, &y);
    CHECK(y && pixl_tensor_shape(y)[1] == 5 && pixl_tensor_shape(y)[2] == 64 && pixl_tensor_shape(y)[3] == 64);
    CHECK(pixl_ctx_probe_count(c) == 16); /* 15 gates + multipool */
    CHECK(pixl_ctx_probe_find(c, "gate.res2_1") && pixl_ctx_probe_find(c, "gate.res5_3") &&
          !pixl_ctx_probe_find(c, "gate.res5_2"));
    pixl_tensor *a = pixl_ctx_probe_find(c, "multipool");
    CHECK(a && pixl_tensor_shape(a)[1] == 3);
    CHECK(pixl_ctx_loss_count(c) == 15);
    pixl_ctx_free(c);
    pag.loss = PIXL_PAG_LOSS_COMBINED;
    c = build(m, &pag, PIXL_MODE_TRAIN, 1, &x, &y);
    CHECK(pixl_ctx_loss_count(c) == 1);
    pixl_ctx_free(c);
    c = build(m, &pag, PIXL_MODE_EVAL, 1, &x, &y); /* no budget losses at inference */
    CHECK(y && pixl_ctx_loss_count(c) == 0 && pixl_ctx_probe_count(c) == 16);
    pixl_ctx_free(c);
    /* a gate on a block that is not a bottleneck: the build fails naming the key */
    pixl_pag_opts bad = pag;
    snprintf(bad.gates[0], sizeof bad.gates[0], "res5_4");
    c = build(m, &bad, PIXL_MODE_EVAL, 1, &x, &y);
    CHECK(!y && strstr(pixl_ctx_error(c), "pag.gates") && strstr(pixl_ctx_error(c), "res5_4"));
    pixl_ctx_free(c);
    /* the checkpoint keeps the options */
    char path[512];
    snprintf(path, sizeof path, "%s/pag_small.safetensors", pixl_test_tmpdir());
    CHECK_OK(pixl_model_save(m, path, 0, NULL, NULL));
    pixl_model *m2 = pixl_model_load(path);
    CHECK_MSG(m2 != NULL, "%s", pixl_last_error());
    if (m2) {
        const pixl_pag_opts *p2 = pixl_model_options(m2)->pag;
        CHECK(p2 && p2->n_scales == 2 && p2->scales[1] == 2 && p2->n_gates == 15 && p2->lambda == 0.7f);
        pixl_model_free(m2);
    }
    pixl_model_free(m);
}

/* set every gate's bias so that it is on (+big), off (-big) or by its logits (0) */
static void force_gates(pixl_model *m, float v)
{
    pixl_params *P = pixl_model_params(m);
    for (int i = 0; i < pixl_params_count(P); i++) {
        const char *n = pixl_params_name(P, i);
        size_t l = strlen(n);
        if (l > 10 && !strcmp(n + l - 10, ".gate.bias")) {
            float *b = pixl_params_data(P, i);
            b[0] = 0;
            b[1] = v;
        }
    }
}

PIXL_TEST(pag_model_sparse_equals_dense)
{
    pixl_pag_opts pag;
    pixl_model *m = small_model(&pag);
    if (!m) return;
    pixl_pag_opts dense = pag;
    dense.dense = 1;
    float *img = malloc(sizeof(float) * 2 * 3 * 64 * 64);
    pixl_test_fill_uniform(img, 2 * 3 * 64 * 64, -2, 2, 11);
    const float vals[3] = {1e4f, -1e4f, 0.0f}; /* all on, all off, the gates' own mixed choice */
    for (int k = 0; k < 3; k++) {
        force_gates(m, vals[k]);
        pixl_tensor *xs, *ys, *xd, *yd;
        pixl_ctx *cs = build(m, &pag, PIXL_MODE_EVAL, 2, &xs, &ys), *cd = build(m, &dense, PIXL_MODE_EVAL, 2, &xd, &yd);
        CHECK_MSG(ys && yd, "%s %s", pixl_ctx_error(cs), pixl_ctx_error(cd));
        if (ys && yd) {
            pixl_tensor *gs = pixl_ctx_probe_find(cs, "gate.res3_2");
            CHECK_OK(pixl_ctx_plan(cs));
            CHECK_OK(pixl_ctx_plan(cd));
            memcpy(pixl_tensor_data(xs), img, sizeof(float) * 2 * 3 * 64 * 64);
            memcpy(pixl_tensor_data(xd), img, sizeof(float) * 2 * 3 * 64 * 64);
            CHECK_OK(pixl_forward(cs));
            CHECK_OK(pixl_forward(cd));
            int64_t n = pixl_tensor_numel(ys);
            const float *a = pixl_tensor_data(ys), *b = pixl_tensor_data(yd);
            double mx = 0, dm = 0;
            int finite = 1;
            for (int64_t i = 0; i < n; i++) {
                finite &= isfinite(a[i]);
                if (fabs(b[i]) > mx) mx = fabs(b[i]);
                if (fabs(a[i] - b[i]) > dm) dm = fabs(a[i] - b[i]);
            }
            CHECK_MSG(finite, "gates %g: non-finite output", (double)vals[k]);
            CHECK_MSG(dm <= 1e-5 * (mx > 1 ? mx : 1), "gates %g: sparse vs dense max diff %g (max |y| %g)",
                      (double)vals[k], dm, mx);
            /* the gate maps are what was forced */
            const float *g = pixl_tensor_data(gs);
            int64_t HW = pixl_tensor_shape(gs)[2] * pixl_tensor_shape(gs)[3];
            double on = 0;
            for (int64_t i = 0; i < HW; i++) on += g[HW + i];
            if (k == 0) CHECK(on == (double)HW);
            if (k == 1) CHECK(on == 0);
        }
        pixl_ctx_free(cs);
        pixl_ctx_free(cd);
    }
    free(img);
    pixl_model_free(m);
}

/* train_skip: the option, its check, and a training graph of hard gates
 * whose forward and backward run (finite, gradients reach the gates) */
PIXL_TEST(pag_model_train_skip)
{
    pixl_pag_opts o = pixl_pag_defaults();
    CHECK(o.train_skip == 0);
    CHECK_OK(pixl_pag_set(&o, "train_skip", "true"));
    CHECK(o.train_skip == 1);
    CHECK_OK(pixl_pag_check(&o));
    char buf[256];
    CHECK_OK(pixl_pag_format(&o, buf, sizeof buf));
    CHECK(strstr(buf, "train_skip=true") != NULL);
    o.softmax = 1;
    CHECK(pixl_pag_check(&o) != 0 && err_has("pag.train_skip") && err_has("softmax"));

    pixl_pag_opts pag;
    pixl_model *m = small_model(&pag);
    if (!m) return;
    pag.train_skip = 1;
    pixl_tensor *x, *y;
    pixl_ctx *c = build(m, &pag, PIXL_MODE_TRAIN, 2, &x, &y);
    CHECK_MSG(y != NULL, "%s", pixl_ctx_error(c));
    if (y && !pixl_ctx_plan(c)) {
        pixl_test_fill_uniform(pixl_tensor_data(x), 2 * 3 * 64 * 64, -1.5f, 1.5f, 9);
        CHECK_OK(pixl_forward(c));
        int64_t ny = pixl_tensor_numel(y);
        float *dy = malloc(sizeof(float) * (size_t)ny);
        pixl_test_fill_uniform(dy, ny, -1, 1, 10);
        pixl_params *P = pixl_model_params(m);
        pixl_params_zero_grad(P);
        CHECK_OK(pixl_backward_from(c, y, dy));
        free(dy);
        /* every gate is one-hot */
        int bad = 0;
        for (int i = 0; i < pixl_ctx_probe_count(c); i++) {
            const char *nm;
            pixl_tensor *g = pixl_ctx_probe(c, i, &nm);
            if (strncmp(nm, "gate.", 5)) continue;
            const float *d = pixl_tensor_data(g);
            const int64_t *s = pixl_tensor_shape(g), HW = s[2] * s[3];
            for (int64_t n = 0; n < s[0]; n++)
                for (int64_t q = 0; q < HW; q++) {
                    const float a = d[n * 2 * HW + q], b = d[n * 2 * HW + HW + q];
                    bad += !((a == 0 && b == 1) || (a == 1 && b == 0));
                }
        }
        CHECK(bad == 0);
        /* finite gradients, and the gates' convs get some */
        int64_t n;
        const float *gr = pixl_params_grad_flat(P, &n);
        int finite = 1;
        for (int64_t i = 0; i < n; i++) finite &= isfinite(gr[i]);
        CHECK(finite);
        int gi = pixl_params_find(P, "layer2.1.gate.weight");
        double gs = 0;
        for (int64_t k = 0; gi >= 0 && k < pixl_params_numel(P, gi); k++) gs += fabs(pixl_params_grad(P, gi)[k]);
        CHECK(gi >= 0 && gs > 0);
    }
    pixl_ctx_free(c);
    pixl_model_free(m);
}

/* the computing fraction the budget acts on (the relaxed gates of a
 * training graph, batch statistics) over a fixed random batch */
static double gate_fraction(pixl_model *m)
{
    pixl_tensor *x, *y;
    pixl_ctx *c = build(m, pixl_model_options(m)->pag, PIXL_MODE_TRAIN, 2, &x, &y);
    double on = 0, all = 0;
    if (y && !pixl_ctx_plan(c)) {
        pixl_test_fill_uniform(pixl_tensor_data(x), 2 * 3 * 64 * 64, -1.5f, 1.5f, 5);
        if (!pixl_forward(c))
            for (int i = 0; i < pixl_ctx_probe_count(c); i++) {
                const char *nm;
                pixl_tensor *g = pixl_ctx_probe(c, i, &nm);
                if (strncmp(nm, "gate.", 5)) continue;
                const int64_t *s = pixl_tensor_shape(g);
                const float *d = pixl_tensor_data(g);
                for (int64_t n = 0; n < s[0]; n++)
                    for (int64_t k = 0; k < s[2] * s[3]; k++) on += d[(n * 2 + 1) * s[2] * s[3] + k];
                all += (double)(s[0] * s[2] * s[3]);
            }
    }
    pixl_ctx_free(c);
    return all > 0 ? on / all : -1;
}

/* training adds the budget losses: the gates move towards lambda, in both directions */
PIXL_TEST(pag_train_budget_pulls_gates)
{
    const char *lam[2] = {"0.95", "0.05"};
    for (int r = 0; r < 2; r++) {
        pixl_train_config *cfg = calloc(1, sizeof *cfg);
        pixl_config_defaults(cfg);
        const char *kv[] = {"model.arch=pag_resnet50", "model.options.width=0.0625", "data.dataset=synthetic",
                            "data.img_rows=64", "data.img_cols=64", "training.batch_size=4", "training.epochs=0",
                            "training.max_iters=40", "training.optimizer.name=adam", "training.optimizer.lr=0.01",
                            "validation.every_epochs=0", "validation.every_minutes=0",
                            "model.options.pag={weight: 1.0, scales: [1, 2], t_start: 1, t_end: 0.5}"};
        CHECK_CONFIG_SET(cfg, kv, (int)(sizeof kv / sizeof *kv));
        CHECK_OK(pixl_config_set(cfg, "model.options.pag.lambda", lam[r]));
        snprintf(cfg->output.run_dir, sizeof cfg->output.run_dir, "%s/pag_budget_%d", pixl_test_tmpdir(), r);
        FILE *devnull = fopen("/dev/null", "w");
        pixl_train_hooks h = {.log = devnull, .quiet = 1};
        pixl_trainer *t = pixl_trainer_new(cfg, &h);
        CHECK_MSG(t != NULL, "%s", pixl_last_error());
        if (t) {
            double f0 = gate_fraction(pixl_trainer_model(t));
            int rc = 0;
            for (int i = 0; i < 40 && !rc; i++) rc = pixl_trainer_step(t);
            CHECK_MSG(rc == 0, "%s", pixl_last_error());
            double f1 = gate_fraction(pixl_trainer_model(t));
            if (r == 0) CHECK_MSG(f1 > 0.75 && f1 > f0 + 0.15, "lambda 0.95: computing fraction %.3f -> %.3f", f0, f1);
            else CHECK_MSG(f1 < 0.25 && f1 < f0 - 0.15, "lambda 0.05: computing fraction %.3f -> %.3f", f0, f1);
            pixl_trainer_free(t);
        }
        fclose(devnull);
        free(cfg);
    }
}
