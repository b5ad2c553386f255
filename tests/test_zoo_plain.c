/* test_zoo_plain.c — U-Net (valid form), FC-DenseNet56/67/103, ICNet and
 * FRRN A/B against their PyTorch definitions (scripts/ref/make_zoo_plain_ref.py
 * -> tests/ref/zoo/<case>.safetensors): parameter count, every state_dict
 * name and shape, and the eval-mode forward output (relative error <= 1e-3
 * of the output's max abs) with the deterministic zoo fill; ICNet's
 * auxiliary CFF logits too. Plus: sizes (360x480 builds, too-small inputs
 * fail with a message), pixl_model_create for ICNet's 161 minimum, and a
 * training step (forward + backward with the auxiliary losses) per model. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "zoo_fill.h"
#include "pixl_models.h"

static void make_input(float *x, int ndim, const int64_t *shape)
{
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) n *= shape[d];
    float s = (float)sqrt(3.0 / (double)(n / shape[0]));
    for (int64_t i = 0; i < n; i++) x[i] = pixl_test_zoo_value("input", ndim, shape, i) / s;
}

static float max_abs(const float *v, long n)
{
    float m = 0;
    for (long i = 0; i < n; i++) m = fabsf(v[i]) > m ? fabsf(v[i]) : m;
    return m;
}

static void compare(const char *what, pixl_st_file *f, const char *name, pixl_tensor *t)
{
    int i = pixl_st_find(f, name);
    CHECK_MSG(i >= 0 && t, "%s: '%s' missing", what, name);
    if (i < 0 || !t) return;
    long n = (long)pixl_st_numel(f, i);
    CHECK_MSG(n == pixl_tensor_numel(t) && pixl_st_ndim(f, i) == pixl_tensor_ndim(t), "%s: %s has %ld values, pixl %ld",
              what, name, n, (long)pixl_tensor_numel(t));
    if (n != pixl_tensor_numel(t)) return;
    for (int d = 0; d < pixl_st_ndim(f, i); d++) CHECK(pixl_st_shape(f, i)[d] == pixl_tensor_shape(t)[d]);
    float *ref = malloc(sizeof(float) * (size_t)n);
    pixl_st_read_f32(f, i, ref);
    float mx = max_abs(ref, n);
    CHECK_MSG(mx > 1e-3f && mx < 1e3f, "%s: %s max |ref| %g is not a sane activation range", what, name, mx);
    char w[128];
    snprintf(w, sizeof w, "%s %s", what, name);
    CHECK_ALLCLOSE(w, pixl_tensor_data(t), ref, n, 0, 1e-3 * mx);
    free(ref);
}

static void zoo_parity(const char *c)
{
    char path[256];
    snprintf(path, sizeof path, "tests/ref/zoo/%s.safetensors", c);
    pixl_st_file *f = pixl_st_open(path);
    CHECK_MSG(f != NULL, "%s", pixl_last_error());
    if (!f) return;
    const char *arch = pixl_st_meta(f, "arch"), *variant = pixl_st_meta(f, "variant");
    cJSON *state = cJSON_Parse(pixl_st_meta(f, "state")), *ishape = cJSON_Parse(pixl_st_meta(f, "input_shape"));
    CHECK(arch && state && cJSON_GetArraySize(ishape) == 4);
    int64_t xs[4];
    for (int d = 0; d < 4; d++) xs[d] = (int64_t)cJSON_GetArrayItem(ishape, d)->valuedouble;
    pixl_model_opts o = {.n_classes = atoi(pixl_st_meta(f, "n_classes")),
                         .width = strtof(pixl_st_meta(f, "width"), NULL),
                         .variant = variant && variant[0] ? variant : NULL,
                         .aux = !strcmp(arch, "icnet")};
    pixl_params *P = pixl_params_new();
    pixl_ctx *ctx = pixl_ctx_new(P, PIXL_MODE_EVAL);
    pixl_tensor *x = pixl_input(ctx, "input", PIXL_F32, 4, xs);
    pixl_tensor *y = pixl_keep(pixl_model_build(ctx, arch, x, &o));
    CHECK_MSG(y != NULL, "%s: %s", c, pixl_ctx_error(ctx));
    for (int i = 0; i < pixl_ctx_aux_count(ctx); i++) pixl_keep(pixl_ctx_aux(ctx, i, NULL));
    if (y && state) {
        CHECK_OK(pixl_ctx_plan(ctx));
        /* the state_dict, name by name and shape by shape, and nothing else */
        int n_state = cJSON_GetArraySize(state);
        CHECK_MSG(n_state == pixl_params_count(P), "%s: %d tensors in the state_dict, %d in pixl", c, n_state,
                  pixl_params_count(P));
        for (int i = 0; i < n_state; i++) {
            cJSON *e = cJSON_GetArrayItem(state, i), *sh = cJSON_GetArrayItem(e, 1);
            const char *nm = cJSON_GetArrayItem(e, 0)->valuestring;
            int k = pixl_params_find(P, nm);
            CHECK_MSG(k >= 0, "%s: pixl has no '%s'", c, nm);
            if (k < 0) continue;
            int nd = cJSON_GetArraySize(sh), ok = 1;
            if (nd == 0) ok = pixl_params_numel(P, k) == 1; /* num_batches_tracked: 0-dim in PyTorch, [1] in pixl */
            else {
                ok = nd == pixl_params_ndim(P, k);
                for (int d = 0; ok && d < nd; d++)
                    ok = (int64_t)cJSON_GetArrayItem(sh, d)->valuedouble == pixl_params_shape(P, k)[d];
            }
            CHECK_MSG(ok, "%s: '%s' has another shape in pixl", c, nm);
        }
        CHECK_MSG(atoll(pixl_st_meta(f, "n_params")) == pixl_params_total(P), "%s: %s parameters in PyTorch, %lld in pixl",
                  c, pixl_st_meta(f, "n_params"), (long long)pixl_params_total(P));
        CHECK(pixl_test_zoo_fill(P) > 0);
        make_input(pixl_tensor_data(x), 4, xs);
        int xi = pixl_st_find(f, "input");
        if (xi >= 0) { /* the stored input is the generated one, bit for bit */
            float *ref = malloc(sizeof(float) * (size_t)pixl_st_numel(f, xi));
            pixl_st_read_f32(f, xi, ref);
            CHECK(!memcmp(ref, pixl_tensor_data(x), sizeof(float) * (size_t)pixl_st_numel(f, xi)));
            free(ref);
        }
        CHECK_OK(pixl_forward(ctx));
        compare(c, f, "output", y);
        if (o.aux) {
            CHECK(pixl_ctx_aux_count(ctx) == 2);
            compare(c, f, "aux.0", pixl_ctx_aux(ctx, 0, NULL));
            compare(c, f, "aux.1", pixl_ctx_aux(ctx, 1, NULL));
        }
    }
    cJSON_Delete(state);
    cJSON_Delete(ishape);
    pixl_ctx_free(ctx);
    pixl_params_free(P);
    pixl_st_close(f);
}

PIXL_TEST(zoo_plain_unet_valid_matches_pytorch) { zoo_parity("unet_valid"); }
PIXL_TEST(zoo_plain_unet_valid_bn_matches_pytorch) { zoo_parity("unet_valid_bn"); }
PIXL_TEST(zoo_plain_fc_densenet56_matches_pytorch) { zoo_parity("fc_densenet56"); }
PIXL_TEST(zoo_plain_fc_densenet67_matches_pytorch) { zoo_parity("fc_densenet67"); }
PIXL_TEST(zoo_plain_fc_densenet103_matches_pytorch) { zoo_parity("fc_densenet103"); }
PIXL_TEST(zoo_plain_icnet_matches_pytorch) { zoo_parity("icnet"); }
PIXL_TEST(zoo_plain_frrn_a_matches_pytorch) { zoo_parity("frrn_a"); }
PIXL_TEST(zoo_plain_frrn_b_matches_pytorch) { zoo_parity("frrn_b"); }
PIXL_TEST(zoo_plain_frrn_a_gn_matches_pytorch) { zoo_parity("frrn_a_gn"); }

/* build only (no plan): output shape at size h x w, or NULL and the ctx error */
static int build_shape_in(pixl_params *P, const char *arch, const char *variant, int h, int w, int64_t out[4],
                          char *err, size_t len)
{
    pixl_ctx *ctx = pixl_ctx_new(P, PIXL_MODE_EVAL);
    int64_t xs[4] = {1, 3, h, w};
    pixl_tensor *y = pixl_model_build(ctx, arch, pixl_input(ctx, "x", PIXL_F32, 4, xs),
                                      &(pixl_model_opts){.n_classes = 11, .variant = variant});
    if (y) memcpy(out, pixl_tensor_shape(y), 4 * sizeof(int64_t));
    snprintf(err, len, "%s", pixl_ctx_error(ctx) ? pixl_ctx_error(ctx) : "");
    pixl_ctx_free(ctx);
    return y != NULL;
}

static int build_shape(const char *arch, const char *variant, int h, int w, int64_t out[4], char *err, size_t len)
{
    pixl_params *P = pixl_params_new();
    int ok = build_shape_in(P, arch, variant, h, w, out, err, len);
    pixl_params_free(P);
    return ok;
}

PIXL_TEST(zoo_plain_sizes)
{
    static const char *archs[][2] = {{"unet", "valid"}, {"fc_densenet56", NULL}, {"fc_densenet103", NULL},
                                     {"icnet", NULL},   {"frrn_a", NULL},        {"frrn_b", NULL}};
    int64_t s[4];
    char err[512];
    for (int i = 0; i < 6; i++) {
        static const int sizes[][2] = {{360, 480}, {161, 203}, {250, 333}};
        pixl_params *P = pixl_params_new(); /* (created once per model, reused at the other sizes) */
        for (int k = 0; k < 3; k++) {
            int ok = build_shape_in(P, archs[i][0], archs[i][1], sizes[k][0], sizes[k][1], s, err, sizeof err);
            CHECK_MSG(ok, "%s at %dx%d: %s", archs[i][0], sizes[k][0], sizes[k][1], err);
            if (ok) CHECK_MSG(s[1] == 11 && s[2] == sizes[k][0] && s[3] == sizes[k][1], "%s at %dx%d: output %lldx%lld",
                              archs[i][0], sizes[k][0], sizes[k][1], (long long)s[2], (long long)s[3]);
        }
        pixl_params_free(P);
    }
    /* too small: a message naming the model and the limit */
    CHECK(!build_shape("icnet", NULL, 160, 300, s, err, sizeof err) && strstr(err, "icnet") && strstr(err, "161"));
    CHECK(!build_shape("fc_densenet67", NULL, 31, 64, s, err, sizeof err) && strstr(err, "fc_densenet67") &&
          strstr(err, "32"));
    CHECK(!build_shape("unet", "valid", 1, 64, s, err, sizeof err) && strstr(err, "unet"));
    /* the valid U-Net mirrors small images in several steps */
    CHECK(build_shape("unet", "valid", 20, 37, s, err, sizeof err) && s[2] == 20 && s[3] == 37);
}

PIXL_TEST(zoo_plain_create_at_minimum_size)
{
    pixl_model *m = pixl_model_create("icnet", &(pixl_model_opts){.n_classes = 4}, 1);
    CHECK_MSG(m != NULL, "%s", pixl_last_error());
    if (m) CHECK(pixl_params_total(pixl_model_params(m)) > 6000000);
    pixl_model_free(m);
    m = pixl_model_create("unet", &(pixl_model_opts){.n_classes = 2, .variant = "valid"}, 1);
    CHECK_MSG(m != NULL, "%s", pixl_last_error());
    if (m) CHECK(pixl_params_total(pixl_model_params(m)) == 31031810); /* the paper's U-Net, 2 classes (PyTorch: UNetValid(2)) */
    pixl_model_free(m);
}

/* one training step: finite loss, gradients reach the first layer (and ICNet's aux heads) */
static void train_step(const char *arch, const char *variant, int n, int h, int w, float width, const char *first,
                       const char *aux_param)
{
    pixl_params *P = pixl_params_new();
    pixl_ctx *ctx = pixl_ctx_new(P, PIXL_MODE_TRAIN);
    int64_t xs[4] = {n, 3, h, w}, ys[3] = {n, h, w};
    pixl_tensor *x = pixl_input(ctx, "x", PIXL_F32, 4, xs), *lab = pixl_input(ctx, "y", PIXL_I32, 3, ys);
    pixl_model_opts o = {.n_classes = 3, .variant = variant, .width = width, .aux = 1};
    pixl_tensor *y = pixl_model_build(ctx, arch, x, &o);
    pixl_tensor *L = pixl_cross_entropy(ctx, y, lab, NULL, NULL);
    for (int i = 0; L && i < pixl_ctx_aux_count(ctx); i++) {
        float aw;
        pixl_tensor *a = pixl_ctx_aux(ctx, i, &aw);
        a = pixl_resize(ctx, a, h, w, PIXL_RESIZE_BILINEAR, 0, 0, 0);
        L = pixl_add(ctx, L, pixl_scale(ctx, pixl_cross_entropy(ctx, a, lab, NULL, NULL), aw));
    }
    CHECK_MSG(L != NULL, "%s: %s", arch, pixl_ctx_error(ctx));
    if (L && pixl_ctx_plan(ctx) == PIXL_OK) {
        pixl_test_fill_uniform(pixl_tensor_data(x), n * 3 * h * w, -1, 1, 7);
        int32_t *lv = pixl_tensor_data(lab);
        for (int i = 0; i < n * h * w; i++) lv[i] = (i / 7 + i / (3 * w)) % 3;
        pixl_params_zero_grad(P);
        CHECK_OK(pixl_forward(ctx));
        CHECK_OK(pixl_backward(ctx, L));
        float l = *(float *)pixl_tensor_data(L);
        CHECK_MSG(isfinite(l) && l > 0, "%s: loss %g", arch, l);
        const char *names[2] = {first, aux_param};
        for (int j = 0; j < 2 && names[j]; j++) {
            int k = pixl_params_find(P, names[j]);
            CHECK_MSG(k >= 0, "%s: no parameter %s", arch, names[j]);
            if (k < 0) continue;
            CHECK_MSG(max_abs(pixl_params_grad(P, k), (long)pixl_params_numel(P, k)) > 0, "%s: no gradient in %s", arch,
                      names[j]);
        }
    }
    pixl_ctx_free(ctx);
    pixl_params_free(P);
}

PIXL_TEST(zoo_plain_train_step)
{
    train_step("unet", "valid", 1, 24, 20, 0.125f, "conv1.conv1.0.weight", NULL);
    train_step("fc_densenet56", NULL, 2, 32, 40, 1, "firstconv.weight", NULL);
    train_step("icnet", NULL, 1, 161, 161, 1, "convbnrelu1_sub1.cbr_unit.0.weight", "cff_sub24.low_classifier_conv.weight");
    train_step("frrn_a", NULL, 1, 16, 32, 1, "conv1.cbr_unit.0.weight", NULL);
}
