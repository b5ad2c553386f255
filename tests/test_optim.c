/* test_optim.c — optimizers and learning-rate schedules against PyTorch 1.13
 * reference trajectories (tests/ref/optim/ *.safetensors, made by
 * scripts/ref/make_optim_ref.py), plus frozen parameters, lr/wd multipliers,
 * parameters added after the optimizer, thread-count independence and the
 * save/load round trip of optimizer state. */
#include <stdlib.h>
#include <string.h>

#include "test.h"

#define REF_DIR "tests/ref/optim/"

static pixl_st_file *open_ref(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, REF_DIR "%s", name);
    pixl_st_file *f = pixl_st_open(path);
    if (!f) pixl_test_fail(__FILE__, __LINE__, "cannot open reference %s (run from the repo root): %s", path,
                           pixl_last_error());
    return f;
}

static double meta_num(const pixl_st_file *f, const char *key, double dflt)
{
    const char *v = pixl_st_meta(f, key);
    return v ? strtod(v, NULL) : dflt;
}

/* read tensor `name` of f (f32, numel n) into out; fails the test if absent */
static int ref_read(const pixl_st_file *f, const char *name, float *out, int64_t n)
{
    int j = pixl_st_find(f, name);
    if (j < 0 || pixl_st_numel(f, j) != n) {
        pixl_test_fail(__FILE__, __LINE__, "reference tensor '%s' missing or of the wrong size", name);
        return 0;
    }
    return pixl_st_read_f32(f, j, out) == PIXL_OK;
}

static const int64_t SH0[2] = {3, 4}, SH1[1] = {5}, SH2[3] = {2, 3, 2};

/* Replays a reference trajectory. P has the three reference parameters
 * (p0 "enc.weight", p1 "enc.bias" in group 1; p2 "head.weight" in group 2
 * with lr_mult2/wd_mult2) and a frozen parameter between them that gets a
 * gradient too and must not move. */
static void run_reference(const char *file)
{
    pixl_st_file *f = open_ref(file);
    if (!f) return;
    const char *kind = pixl_st_meta(f, "kind");
    pixl_optim_opts o = {0};
    o.kind = !strcmp(kind, "sgd") ? PIXL_OPTIM_SGD : !strcmp(kind, "adam") ? PIXL_OPTIM_ADAM : PIXL_OPTIM_ADAMW;
    o.lr = (float)meta_num(f, "lr", 0);
    o.momentum = (float)meta_num(f, "momentum", 0);
    o.dampening = (float)meta_num(f, "dampening", 0);
    o.nesterov = (int)meta_num(f, "nesterov", 0);
    o.weight_decay = (float)meta_num(f, "weight_decay", 0);
    o.beta1 = (float)meta_num(f, "beta1", 0);
    o.beta2 = (float)meta_num(f, "beta2", 0);
    o.eps = (float)meta_num(f, "eps", 0);
    int steps = (int)meta_num(f, "steps", 0);
    double gamma = meta_num(f, "lr_gamma", 1);
    CHECK(steps == 5);

    pixl_params *P = pixl_params_new();
    int64_t fsh[2] = {7, 3};
    pixl_init_spec z = {PIXL_INIT_ZEROS, 0, 0};
    int ip[3];
    ip[0] = pixl_params_add(P, "enc.weight", PIXL_PARAM, PIXL_F32, 2, SH0, z);
    int ifz =
        pixl_params_add(P, "enc.frozen", PIXL_PARAM, PIXL_F32, 2, fsh, (pixl_init_spec){PIXL_INIT_UNIFORM, -1, 1});
    ip[1] = pixl_params_add(P, "enc.bias", PIXL_PARAM, PIXL_F32, 1, SH1, z);
    int ibuf =
        pixl_params_add(P, "bn.running_mean", PIXL_BUFFER, PIXL_F32, 1, SH1, (pixl_init_spec){PIXL_INIT_ONES, 0, 0});
    ip[2] = pixl_params_add(P, "head.weight", PIXL_PARAM, PIXL_F32, 3, SH2, z);
    CHECK(ip[0] >= 0 && ip[1] >= 0 && ip[2] >= 0 && ifz >= 0 && ibuf >= 0);
    float lr_mult2 = (float)meta_num(f, "lr_mult2", 1), wd_mult2 = (float)meta_num(f, "wd_mult2", 1);
    CHECK(pixl_params_set_lr_mult(P, "head.", lr_mult2, wd_mult2) == 1);
    CHECK(pixl_params_set_frozen(P, "enc.frozen", 1) == 1);
    float frozen0[21];
    memcpy(frozen0, pixl_params_data(P, ifz), sizeof frozen0);
    char name[64];
    for (int j = 0; j < 3; j++) {
        snprintf(name, sizeof name, "p%d.init", j);
        ref_read(f, name, pixl_params_data(P, ip[j]), pixl_params_numel(P, ip[j]));
    }
    pixl_optim *opt = pixl_optim_new(P, &o);
    CHECK(opt != NULL);
    if (!opt) goto out;
    for (int s = 0; s < steps; s++) {
        pixl_optim_set_lr(opt, (float)(o.lr * pow(gamma, s)));
        for (int j = 0; j < 3; j++) {
            snprintf(name, sizeof name, "p%d.grad.%d", j, s);
            ref_read(f, name, pixl_params_grad(P, ip[j]), pixl_params_numel(P, ip[j]));
        }
        float *gf = pixl_params_grad(P, ifz);
        for (int k = 0; k < 21; k++) gf[k] = 1.0f + k;
        CHECK_OK(pixl_optim_step(opt));
        for (int j = 0; j < 3; j++) {
            float want[16];
            int64_t n = pixl_params_numel(P, ip[j]);
            snprintf(name, sizeof name, "p%d.after.%d", j, s);
            ref_read(f, name, want, n);
            char what[96];
            snprintf(what, sizeof what, "%s %s step %d", file, pixl_params_name(P, ip[j]), s);
            CHECK_ALLCLOSE(what, pixl_params_data(P, ip[j]), want, n, 1e-5, 1e-7);
        }
    }
    CHECK(pixl_optim_steps(opt) == steps);
    CHECK_MSG(!memcmp(frozen0, pixl_params_data(P, ifz), sizeof frozen0), "%s: frozen parameter changed", file);
    CHECK(((float *)pixl_params_data(P, ibuf))[0] == 1.0f);
out:
    pixl_optim_free(opt);
    pixl_params_free(P);
    pixl_st_close(f);
}

PIXL_TEST(optim_sgd_plain_torch) { run_reference("sgd_plain.safetensors"); }
PIXL_TEST(optim_sgd_momentum_dampening_wd_torch) { run_reference("sgd_momentum.safetensors"); }
PIXL_TEST(optim_sgd_nesterov_torch) { run_reference("sgd_nesterov.safetensors"); }
PIXL_TEST(optim_adam_l2_torch) { run_reference("adam.safetensors"); }
PIXL_TEST(optim_adamw_torch) { run_reference("adamw.safetensors"); }

/* --------------------------------------------------------------- helpers */

static pixl_params *two_params(uint64_t seed)
{
    pixl_params *P = pixl_params_new();
    pixl_params_seed(P, seed);
    int64_t a[2] = {6, 5}, b[1] = {9};
    pixl_params_add(P, "l1.weight", PIXL_PARAM, PIXL_F32, 2, a, (pixl_init_spec){PIXL_INIT_UNIFORM, -1, 1});
    pixl_params_add(P, "l1.bias", PIXL_PARAM, PIXL_F32, 1, b, (pixl_init_spec){PIXL_INIT_UNIFORM, -1, 1});
    return P;
}

/* deterministic gradients for step s */
static void fill_grads(pixl_params *P, int s)
{
    int64_t n;
    float *g = pixl_params_grad_flat(P, &n);
    pixl_test_fill_uniform(g, (long)n, -1, 1, 1000 + (unsigned long long)s);
}

static const pixl_optim_opts KINDS[3] = {
    {.kind = PIXL_OPTIM_SGD, .lr = 0.1f, .momentum = 0.9f, .dampening = 0.1f, .weight_decay = 1e-3f},
    {.kind = PIXL_OPTIM_ADAM, .lr = 0.01f, .weight_decay = 1e-2f},
    {.kind = PIXL_OPTIM_ADAMW, .lr = 0.01f, .weight_decay = 0.1f},
};

/* ---------------------------------------------------------------- state */

PIXL_TEST(optim_state_save_load_continues_identically)
{
    char ck[512], st[512];
    for (int k = 0; k < 3; k++) {
        snprintf(ck, sizeof ck, "%s/optim_model_%d.safetensors", pixl_test_tmpdir(), k);
        snprintf(st, sizeof st, "%s/optim_state_%d.safetensors", pixl_test_tmpdir(), k);
        pixl_params *P = two_params(7);
        pixl_params_set_lr_mult(P, "l1.bias", 2.0f, 0.0f);
        pixl_optim *opt = pixl_optim_new(P, &KINDS[k]);
        for (int s = 0; s < 3; s++) {
            fill_grads(P, s);
            CHECK_OK(pixl_optim_step(opt));
        }
        CHECK_OK(pixl_checkpoint_save(P, ck, 0, NULL, NULL));
        CHECK_OK(pixl_optim_save(opt, st));
        for (int s = 3; s < 6; s++) {
            fill_grads(P, s);
            CHECK_OK(pixl_optim_step(opt));
        }
        /* a fresh model and optimizer resumed from the files */
        pixl_params *Q = two_params(99);
        pixl_params_set_lr_mult(Q, "l1.bias", 2.0f, 0.0f);
        CHECK_OK(pixl_checkpoint_load(Q, ck, 0));
        pixl_optim *q = pixl_optim_new(Q, &KINDS[k]);
        CHECK_OK(pixl_optim_load(q, st));
        CHECK(pixl_optim_steps(q) == 3);
        for (int s = 3; s < 6; s++) {
            fill_grads(Q, s);
            CHECK_OK(pixl_optim_step(q));
        }
        int64_t n, m;
        float *a = pixl_params_data_flat(P, &n), *b = pixl_params_data_flat(Q, &m);
        CHECK(n == m);
        CHECK_MSG(!memcmp(a, b, (size_t)n * sizeof(float)), "kind %d: resumed training differs", k);
        CHECK(pixl_optim_steps(q) == 6);
        /* the state file names its tensors as documented */
        pixl_st_file *f = pixl_st_open(st);
        CHECK(f != NULL);
        if (f) {
            CHECK(!strcmp(pixl_st_meta(f, "step"), "3"));
            if (k == 0) CHECK(pixl_st_find(f, "l1.weight.momentum_buffer") >= 0);
            else CHECK(pixl_st_find(f, "l1.weight.exp_avg") >= 0 && pixl_st_find(f, "l1.bias.exp_avg_sq") >= 0);
            pixl_st_close(f);
        }
        pixl_optim_free(opt);
        pixl_optim_free(q);
        pixl_params_free(P);
        pixl_params_free(Q);
    }
}

PIXL_TEST(optim_state_load_errors_leave_state_unchanged)
{
    char st[512], st_sgd[512], ck[512];
    snprintf(st, sizeof st, "%s/optim_err_adam.safetensors", pixl_test_tmpdir());
    snprintf(st_sgd, sizeof st_sgd, "%s/optim_err_sgd.safetensors", pixl_test_tmpdir());
    snprintf(ck, sizeof ck, "%s/optim_err_ck.safetensors", pixl_test_tmpdir());
    pixl_params *P = two_params(1);
    pixl_optim *opt = pixl_optim_new(P, &KINDS[1]);
    fill_grads(P, 0);
    CHECK_OK(pixl_optim_step(opt));
    CHECK_OK(pixl_optim_save(opt, st));
    CHECK_OK(pixl_checkpoint_save(P, ck, 0, NULL, NULL));
    pixl_optim *sgd = pixl_optim_new(P, &KINDS[0]);
    CHECK_OK(pixl_optim_step(sgd));
    CHECK_OK(pixl_optim_save(sgd, st_sgd));

    /* a model where l1.weight has another shape */
    pixl_params *Q = pixl_params_new();
    int64_t a[2] = {5, 6}, b[1] = {9};
    pixl_params_add(Q, "l1.weight", PIXL_PARAM, PIXL_F32, 2, a, (pixl_init_spec){PIXL_INIT_ONES, 0, 0});
    pixl_params_add(Q, "l1.bias", PIXL_PARAM, PIXL_F32, 1, b, (pixl_init_spec){PIXL_INIT_ONES, 0, 0});
    pixl_optim *q = pixl_optim_new(Q, &KINDS[1]);
    fill_grads(Q, 1);
    CHECK_OK(pixl_optim_step(q));
    char st_q[512];
    snprintf(st_q, sizeof st_q, "%s/optim_err_q.safetensors", pixl_test_tmpdir());
    CHECK_OK(pixl_optim_save(q, st_q));

    int rc = pixl_optim_load(q, st);
    CHECK(rc == PIXL_ERR_SHAPE);
    CHECK_MSG(strstr(pixl_last_error(), "l1.weight.exp_avg") && strstr(pixl_last_error(), "[6, 5]") &&
                  strstr(pixl_last_error(), "[5, 6]"),
              "message: %s", pixl_last_error());
    /* wrong optimizer kind */
    rc = pixl_optim_load(q, st_sgd);
    CHECK(rc == PIXL_ERR_FORMAT);
    CHECK_MSG(strstr(pixl_last_error(), "sgd") && strstr(pixl_last_error(), "adam"), "message: %s", pixl_last_error());
    /* a model checkpoint is not an optimizer state */
    rc = pixl_optim_load(q, ck);
    CHECK(rc != PIXL_OK);
    CHECK_MSG(strstr(pixl_last_error(), ck) != NULL, "message: %s", pixl_last_error());
    /* state of a parameter the model does not have */
    pixl_params *R = pixl_params_new();
    pixl_params_add(R, "l1.bias", PIXL_PARAM, PIXL_F32, 1, b, (pixl_init_spec){PIXL_INIT_ONES, 0, 0});
    pixl_optim *r = pixl_optim_new(R, &KINDS[1]);
    rc = pixl_optim_load(r, st);
    CHECK(rc == PIXL_ERR_NOT_FOUND);
    CHECK_MSG(strstr(pixl_last_error(), "l1.weight.") != NULL, "message: %s", pixl_last_error());
    /* missing file */
    char nofile[512];
    snprintf(nofile, sizeof nofile, "%s/no_such_state.safetensors", pixl_test_tmpdir());
    CHECK(pixl_optim_load(q, nofile) == PIXL_ERR_IO);

    /* after all failures q's state is what it saved: compare with a reload */
    pixl_optim *q2 = pixl_optim_new(Q, &KINDS[1]);
    CHECK_OK(pixl_optim_load(q2, st_q));
    int64_t n;
    float *w = pixl_params_data_flat(Q, &n);
    float *w0 = malloc((size_t)n * sizeof(float)), *w1 = malloc((size_t)n * sizeof(float));
    memcpy(w0, w, (size_t)n * sizeof(float));
    fill_grads(Q, 2);
    CHECK_OK(pixl_optim_step(q));
    memcpy(w1, w, (size_t)n * sizeof(float));
    memcpy(w, w0, (size_t)n * sizeof(float));
    CHECK_OK(pixl_optim_step(q2));
    CHECK_MSG(!memcmp(w1, w, (size_t)n * sizeof(float)), "failed loads changed the optimizer state");
    CHECK(pixl_optim_steps(q) == 2 && pixl_optim_steps(q2) == 2);
    free(w0);
    free(w1);
    pixl_optim_free(opt);
    pixl_optim_free(sgd);
    pixl_optim_free(q);
    pixl_optim_free(q2);
    pixl_optim_free(r);
    pixl_params_free(P);
    pixl_params_free(Q);
    pixl_params_free(R);
}

/* --------------------------------------------------- groups and lifetime */

PIXL_TEST(optim_lr_mult_wd_mult_frozen)
{
    for (int k = 0; k < 3; k++) {
        pixl_params *P = two_params(3);
        int64_t sh[1] = {4};
        int ic = pixl_params_add(P, "fixed", PIXL_PARAM, PIXL_F32, 1, sh, (pixl_init_spec){PIXL_INIT_CONST, 0.5f, 0});
        int iz = pixl_params_add(P, "zero_lr", PIXL_PARAM, PIXL_F32, 1, sh, (pixl_init_spec){PIXL_INIT_CONST, 0.5f, 0});
        pixl_params_set_frozen(P, "fixed", 1);
        pixl_params_set_lr_mult(P, "zero_lr", 0.0f, 1.0f);
        pixl_optim *opt = pixl_optim_new(P, &KINDS[k]);
        for (int s = 0; s < 3; s++) {
            fill_grads(P, s);
            CHECK_OK(pixl_optim_step(opt));
        }
        for (int j = 0; j < 4; j++) {
            CHECK(((float *)pixl_params_data(P, ic))[j] == 0.5f);
            CHECK(((float *)pixl_params_data(P, iz))[j] == 0.5f); /* lr 0: no move, decoupled decay included */
        }
        pixl_optim_free(opt);
        pixl_params_free(P);
    }
    /* wd_mult: SGD with zero gradient decays p by (1 - lr*wd*wd_mult) per step */
    pixl_params *P = pixl_params_new();
    int64_t sh[1] = {3};
    int ia = pixl_params_add(P, "a", PIXL_PARAM, PIXL_F32, 1, sh, (pixl_init_spec){PIXL_INIT_ONES, 0, 0});
    int ib = pixl_params_add(P, "b", PIXL_PARAM, PIXL_F32, 1, sh, (pixl_init_spec){PIXL_INIT_ONES, 0, 0});
    pixl_params_set_lr_mult(P, "b", 3.0f, 0.5f);
    pixl_optim *opt = pixl_optim_new(P, &(pixl_optim_opts){.kind = PIXL_OPTIM_SGD, .lr = 0.1f, .weight_decay = 0.2f});
    pixl_params_zero_grad(P);
    CHECK_OK(pixl_optim_step(opt));
    CHECK_NEAR(((float *)pixl_params_data(P, ia))[0], 1 - 0.1 * 0.2, 1e-7);
    CHECK_NEAR(((float *)pixl_params_data(P, ib))[0], 1 - 0.3 * 0.1, 1e-7);
    pixl_optim_free(opt);
    pixl_params_free(P);
}

PIXL_TEST(optim_params_added_after_creation)
{
    for (int k = 0; k < 3; k++) {
        /* P grows after the first step; A must follow the same path as in
         * a model that never grew, B starts with fresh state */
        pixl_params *P = pixl_params_new(), *R = pixl_params_new();
        int64_t sa[1] = {10}, sb[2] = {300, 70}; /* B forces the flat buffers to reallocate */
        pixl_params_add(P, "A", PIXL_PARAM, PIXL_F32, 1, sa, (pixl_init_spec){PIXL_INIT_CONST, 0.25f, 0});
        pixl_params_add(R, "A", PIXL_PARAM, PIXL_F32, 1, sa, (pixl_init_spec){PIXL_INIT_CONST, 0.25f, 0});
        pixl_optim *op = pixl_optim_new(P, &KINDS[k]), *or_ = pixl_optim_new(R, &KINDS[k]);
        float g[10];
        pixl_test_fill_uniform(g, 10, -1, 1, 5);
        memcpy(pixl_params_grad(P, 0), g, sizeof g);
        memcpy(pixl_params_grad(R, 0), g, sizeof g);
        CHECK_OK(pixl_optim_step(op));
        CHECK_OK(pixl_optim_step(or_));
        int ib = pixl_params_add(P, "B", PIXL_PARAM, PIXL_F32, 2, sb, (pixl_init_spec){PIXL_INIT_CONST, 1.0f, 0});
        CHECK(ib == 1);
        memcpy(pixl_params_grad(P, 0), g, sizeof g);
        memcpy(pixl_params_grad(R, 0), g, sizeof g);
        float *gb = pixl_params_grad(P, ib);
        for (int j = 0; j < 300 * 70; j++) gb[j] = j % 2 ? 0.5f : -0.5f;
        CHECK_OK(pixl_optim_step(op));
        CHECK_OK(pixl_optim_step(or_));
        CHECK_MSG(!memcmp(pixl_params_data(P, 0), pixl_params_data(R, 0), 10 * sizeof(float)),
                  "kind %d: state of A disturbed by adding B", k);
        /* B's first step: SGD buffer = grad + wd*p; Adam: -lr*sign(g) (+ decay) */
        float *b = pixl_params_data(P, ib);
        double lr = KINDS[k].lr, wd = KINDS[k].weight_decay;
        double want0 = k == 0 ? 1 - lr * (-0.5 + wd) : k == 1 ? 1 + lr : (1 - lr * wd) + lr;
        double want1 = k == 0 ? 1 - lr * (0.5 + wd) : k == 1 ? 1 - lr : (1 - lr * wd) - lr;
        CHECK_NEAR(b[0], want0, 1e-6);
        CHECK_NEAR(b[1], want1, 1e-6);
        pixl_optim_free(op);
        pixl_optim_free(or_);
        pixl_params_free(P);
        pixl_params_free(R);
    }
}

PIXL_TEST(optim_same_bits_any_thread_count)
{
    int nt0 = pixl_num_threads();
    float *res[2] = {NULL, NULL};
    int64_t n = 0;
    for (int t = 0; t < 2; t++) {
        pixl_set_num_threads(t + 1);
        for (int k = 0; k < 3; k++) {
            pixl_params *P = pixl_params_new();
            int64_t s1[2] = {200, 300}, s2[1] = {777};
            pixl_params_add(P, "big", PIXL_PARAM, PIXL_F32, 2, s1, (pixl_init_spec){PIXL_INIT_UNIFORM, -1, 1});
            pixl_params_add(P, "small", PIXL_PARAM, PIXL_F32, 1, s2, (pixl_init_spec){PIXL_INIT_UNIFORM, -1, 1});
            pixl_params_set_lr_mult(P, "small", 0.1f, 2.0f);
            pixl_optim_opts o = KINDS[k];
            o.nesterov = k == 0;
            o.dampening = 0;
            pixl_optim *opt = pixl_optim_new(P, &o);
            for (int s = 0; s < 3; s++) {
                fill_grads(P, s);
                CHECK_OK(pixl_optim_step(opt));
            }
            float *v = pixl_params_data_flat(P, &n);
            if (k == 0) res[t] = malloc((size_t)n * 3 * sizeof(float));
            memcpy(res[t] + k * n, v, (size_t)n * sizeof(float));
            pixl_optim_free(opt);
            pixl_params_free(P);
        }
    }
    pixl_set_num_threads(nt0);
    CHECK_MSG(!memcmp(res[0], res[1], (size_t)n * 3 * sizeof(float)), "1 and 2 threads differ");
    free(res[0]);
    free(res[1]);
}

PIXL_TEST(optim_rejects_bad_options)
{
    pixl_params *P = two_params(1);
    CHECK(pixl_optim_new(P, &(pixl_optim_opts){.kind = PIXL_OPTIM_SGD, .lr = 0.1f, .nesterov = 1}) == NULL);
    CHECK(strstr(pixl_last_error(), "Nesterov") != NULL);
    CHECK(pixl_optim_new(P, &(pixl_optim_opts){.kind = PIXL_OPTIM_SGD, .lr = 0.1f, .momentum = 0.9f,
                                               .dampening = 0.1f, .nesterov = 1}) == NULL);
    CHECK(pixl_optim_new(P, &(pixl_optim_opts){.kind = PIXL_OPTIM_ADAM, .lr = -1}) == NULL);
    CHECK(pixl_optim_new(P, &(pixl_optim_opts){.kind = PIXL_OPTIM_ADAM, .lr = 0.1f, .beta2 = 1.0f}) == NULL);
    CHECK(pixl_optim_new(P, &(pixl_optim_opts){.kind = 7, .lr = 0.1f}) == NULL);
    CHECK(pixl_optim_new(NULL, &(pixl_optim_opts){.kind = PIXL_OPTIM_SGD, .lr = 0.1f}) == NULL);
    CHECK(pixl_optim_step(NULL) == PIXL_ERR_ARG);
    pixl_optim *opt = pixl_optim_new(P, &(pixl_optim_opts){.kind = PIXL_OPTIM_ADAM, .lr = 0.5f});
    CHECK(opt && pixl_optim_lr(opt) == 0.5f);
    pixl_optim_set_lr(opt, 0.25f);
    CHECK(pixl_optim_lr(opt) == 0.25f);
    pixl_optim_free(opt);
    pixl_optim_free(NULL);
    pixl_params_free(P);
}

/* ------------------------------------------------------------ schedules */

static pixl_sched sched_from_meta(const pixl_st_file *f, const char *name)
{
    pixl_sched s = {0};
    char key[96];
#define M(field) (snprintf(key, sizeof key, "%s.%s", name, field), meta_num(f, key, 0))
    const char *base = strncmp(name, "warm_", 5) ? name : name + 5;
    s.kind = !strcmp(base, "step")        ? PIXL_SCHED_STEP
             : !strcmp(base, "multistep") ? PIXL_SCHED_MULTISTEP
             : !strcmp(base, "poly")      ? PIXL_SCHED_POLY
             : !strcmp(base, "cosine")    ? PIXL_SCHED_COSINE
                                          : PIXL_SCHED_CONSTANT;
    s.step_size = (int64_t)M("step_size");
    s.gamma = (float)M("gamma");
    s.max_steps = (int64_t)M("max_steps");
    s.power = (float)M("power");
    s.min_lr = (float)M("min_lr");
    s.warmup_steps = (int64_t)M("warmup_steps");
    s.warmup_start = (float)M("warmup_start");
#undef M
    snprintf(key, sizeof key, "%s.milestones", name);
    const char *ms = pixl_st_meta(f, key);
    while (ms && *ms && s.n_milestones < 16) {
        char *end;
        s.milestones[s.n_milestones++] = strtoll(ms, &end, 10);
        ms = *end == ',' ? end + 1 : NULL;
    }
    return s;
}

PIXL_TEST(sched_matches_torch_lr_schedulers)
{
    pixl_st_file *f = open_ref("sched.safetensors");
    if (!f) return;
    float lr = (float)meta_num(f, "lr", 0);
    CHECK(pixl_st_count(f) == 7);
    for (int i = 0; i < pixl_st_count(f); i++) {
        const char *name = pixl_st_name(f, i);
        int64_t n = pixl_st_numel(f, i);
        double want[32];
        float got[32], wantf[32];
        CHECK(n <= 32);
        if (n > 32) continue;
        pixl_st_read_f64(f, i, want);
        pixl_sched s = sched_from_meta(f, name);
        for (int64_t t = 0; t < n; t++) {
            got[t] = pixl_sched_lr(&s, lr, t);
            wantf[t] = (float)want[t];
        }
        CHECK_ALLCLOSE(name, got, wantf, n, 1e-5, 1e-9);
    }
    pixl_st_close(f);
}

PIXL_TEST(sched_edges)
{
    /* poly really reaches 0 at max_steps and stays there */
    pixl_sched p = {.kind = PIXL_SCHED_POLY, .max_steps = 100, .power = 0.9f};
    CHECK(pixl_sched_lr(&p, 0.01f, 0) == 0.01f);
    CHECK(pixl_sched_lr(&p, 0.01f, 99) > 0);
    CHECK(pixl_sched_lr(&p, 0.01f, 100) == 0);
    CHECK(pixl_sched_lr(&p, 0.01f, 1000) == 0);
    pixl_sched p0 = {.kind = PIXL_SCHED_POLY, .max_steps = 10}; /* power 0 -> 0.9 */
    CHECK_NEAR(pixl_sched_lr(&p0, 1.0f, 5), pow(0.5, 0.9), 1e-6);
    /* cosine ends at min_lr and stays there */
    pixl_sched c = {.kind = PIXL_SCHED_COSINE, .max_steps = 50, .min_lr = 1e-4f};
    CHECK_NEAR(pixl_sched_lr(&c, 0.1f, 25), 1e-4 + (0.1 - 1e-4) / 2, 1e-7);
    CHECK_NEAR(pixl_sched_lr(&c, 0.1f, 50), 1e-4, 1e-9);
    CHECK_NEAR(pixl_sched_lr(&c, 0.1f, 80), 1e-4, 1e-9);
    /* warm-up: from warmup_start*lr, linear, then the schedule over the remaining steps */
    pixl_sched w = {.kind = PIXL_SCHED_POLY, .max_steps = 110, .power = 1.0f, .warmup_steps = 10};
    CHECK(pixl_sched_lr(&w, 1.0f, 0) == 0.0f); /* warmup_start 0 -> 0 */
    CHECK_NEAR(pixl_sched_lr(&w, 1.0f, 5), 0.5, 1e-7);
    CHECK_NEAR(pixl_sched_lr(&w, 1.0f, 10), 1.0, 1e-7);
    CHECK_NEAR(pixl_sched_lr(&w, 1.0f, 60), 0.5, 1e-7); /* half of the 100 remaining steps */
    CHECK(pixl_sched_lr(&w, 1.0f, 110) == 0.0f);
    pixl_sched wc = {.kind = PIXL_SCHED_CONSTANT, .warmup_steps = 4, .warmup_start = 0.5f};
    CHECK_NEAR(pixl_sched_lr(&wc, 2.0f, 0), 1.0, 1e-7);
    CHECK_NEAR(pixl_sched_lr(&wc, 2.0f, 2), 1.5, 1e-7);
    CHECK_NEAR(pixl_sched_lr(&wc, 2.0f, 4), 2.0, 1e-7);
    CHECK_NEAR(pixl_sched_lr(&wc, 2.0f, 1000000), 2.0, 1e-7);
    /* step: gamma 0 means torch's default 0.1; negative steps count as 0 */
    pixl_sched st = {.kind = PIXL_SCHED_STEP, .step_size = 10};
    CHECK_NEAR(pixl_sched_lr(&st, 1.0f, 25), 0.01, 1e-8);
    CHECK(pixl_sched_lr(&st, 1.0f, -5) == 1.0f);
    /* multistep counts milestones <= step, in any order */
    pixl_sched ms = {.kind = PIXL_SCHED_MULTISTEP, .gamma = 0.5f, .n_milestones = 3, .milestones = {30, 10, 20}};
    CHECK(pixl_sched_lr(&ms, 1.0f, 9) == 1.0f);
    CHECK(pixl_sched_lr(&ms, 1.0f, 10) == 0.5f);
    CHECK(pixl_sched_lr(&ms, 1.0f, 25) == 0.25f);
    CHECK(pixl_sched_lr(&ms, 1.0f, 30) == 0.125f);
    CHECK(pixl_sched_lr(NULL, 0.3f, 7) == 0.3f);
}
