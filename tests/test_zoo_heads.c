/* test_zoo_heads.c — pspnet, deeplabv3plus, refinenet and gfrnet against
 * their PyTorch definitions in scripts/ref/make_zoo_heads_ref.py (files in
 * tests/ref/zoo/, at CamVid's 11 classes): parameter count and names/shapes
 * with and without the auxiliary heads, and the eval forward
 * (main and auxiliary outputs) with zoo_fill parameters, rel error <= 1e-3 of
 * the output's max |value|. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "zoo_fill.h"
#include "pixl_models.h"

typedef struct {
    pixl_st_file *f;
    const char *arch, *backbone;
    int os, K;
} ref_case;

static int open_case(const char *file, ref_case *rc)
{
    char path[256];
    snprintf(path, sizeof path, "tests/ref/zoo/%s.safetensors", file);
    rc->f = pixl_st_open(path);
    CHECK_MSG(rc->f != NULL, "%s", pixl_last_error());
    if (!rc->f) return 0;
    rc->arch = pixl_st_meta(rc->f, "arch");
    rc->backbone = pixl_st_meta(rc->f, "backbone");
    rc->os = atoi(pixl_st_meta(rc->f, "output_stride"));
    rc->K = atoi(pixl_st_meta(rc->f, "n_classes"));
    return 1;
}

/* every [name, shape] of the JSON list is in P with that shape; returns how many */
static int check_names(const char *what, pixl_params *P, const char *json)
{
    cJSON *a = cJSON_Parse(json);
    CHECK_MSG(a && cJSON_IsArray(a), "%s: bad names metadata", what);
    int n = 0;
    cJSON *e;
    cJSON_ArrayForEach(e, a)
    {
        const char *nm = cJSON_GetArrayItem(e, 0)->valuestring;
        cJSON *shape = cJSON_GetArrayItem(e, 1);
        int k = pixl_params_find(P, nm);
        n++;
        CHECK_MSG(k >= 0, "%s: pixl has no '%s'", what, nm);
        if (k < 0) continue;
        int nd = cJSON_GetArraySize(shape);
        int same = nd == pixl_params_ndim(P, k) || (nd == 0 && pixl_params_ndim(P, k) == 1 && pixl_params_numel(P, k) == 1);
        for (int d = 0; same && d < nd; d++)
            same = (int64_t)cJSON_GetArrayItem(shape, d)->valuedouble == pixl_params_shape(P, k)[d];
        CHECK_MSG(same, "%s: '%s' has another shape in pixl", what, nm);
    }
    cJSON_Delete(a);
    return n;
}

static pixl_tensor *build(pixl_ctx *ctx, const ref_case *rc, const int64_t *xs, int aux, int K, pixl_tensor **xp)
{
    pixl_tensor *x = pixl_input(ctx, "input", PIXL_F32, 4, xs);
    if (xp) *xp = x;
    pixl_model_opts o = {.n_classes = K, .backbone = rc->backbone, .output_stride = rc->os, .aux = aux};
    pixl_tensor *y = pixl_model_build(ctx, rc->arch, x, &o);
    CHECK_MSG(y != NULL, "%s: %s", rc->arch, pixl_ctx_error(ctx));
    return y;
}

static void zoo_parity(const char *file, float aux_weight)
{
    ref_case rc;
    if (!open_case(file, &rc)) return;
    pixl_st_file *f = rc.f;
    int xi = pixl_st_find(f, "input"), yi = pixl_st_find(f, "output");
    const int64_t *xs = pixl_st_shape(f, xi);

    /* inference build: the state_dict without auxiliary heads (for models
     * that have some; the others are checked by the build below alone) */
    int has_aux = strcmp(pixl_st_meta(f, "aux_names"), "[]") != 0;
    pixl_params *P0 = has_aux ? pixl_params_new() : NULL;
    pixl_ctx *c0 = has_aux ? pixl_ctx_new(P0, PIXL_MODE_EVAL) : NULL;
    if (has_aux && build(c0, &rc, xs, 0, rc.K, NULL)) {
        int n = check_names(file, P0, pixl_st_meta(f, "names"));
        CHECK_MSG(n == pixl_params_count(P0), "%s: %d state_dict entries in PyTorch, %d in pixl", file, n,
                  pixl_params_count(P0));
        CHECK_MSG(pixl_params_total(P0) == atoll(pixl_st_meta(f, "params")), "%s: %lld parameters, PyTorch %s", file,
                  (long long)pixl_params_total(P0), pixl_st_meta(f, "params"));
        CHECK(pixl_ctx_aux_count(c0) == 0);
    }
    pixl_ctx_free(c0);
    pixl_params_free(P0);

    /* training-style build with the auxiliary heads, run in eval mode */
    pixl_params *P = pixl_params_new();
    pixl_ctx *ctx = pixl_ctx_new(P, PIXL_MODE_EVAL);
    pixl_tensor *x = NULL, *y = build(ctx, &rc, xs, 1, rc.K, &x);
    if (y) {
        int n = check_names(file, P, pixl_st_meta(f, "names")) + check_names(file, P, pixl_st_meta(f, "aux_names"));
        CHECK_MSG(n == pixl_params_count(P), "%s: %d entries with aux in PyTorch, %d in pixl", file, n,
                  pixl_params_count(P));
        CHECK_MSG(pixl_params_total(P) == atoll(pixl_st_meta(f, "params_aux")), "%s: %lld parameters with aux, PyTorch %s",
                  file, (long long)pixl_params_total(P), pixl_st_meta(f, "params_aux"));
        if (!has_aux)
            CHECK_MSG(pixl_params_total(P) == atoll(pixl_st_meta(f, "params")), "%s: %lld parameters, PyTorch %s", file,
                      (long long)pixl_params_total(P), pixl_st_meta(f, "params"));
        int n_aux = 0;
        for (char nm[32]; snprintf(nm, sizeof nm, "aux.%d", n_aux), pixl_st_find(f, nm) >= 0;) n_aux++;
        CHECK_MSG(pixl_ctx_aux_count(ctx) == n_aux, "%s: %d auxiliary outputs, PyTorch %d", file,
                  pixl_ctx_aux_count(ctx), n_aux);
        for (int i = 0; i < pixl_ctx_aux_count(ctx); i++) {
            float w = 0;
            pixl_keep(pixl_ctx_aux(ctx, i, &w));
            CHECK_NEAR(w, aux_weight, 0);
        }
        CHECK(pixl_test_zoo_fill(P) > 0);
        CHECK_OK(pixl_ctx_plan(ctx));
        CHECK_OK(pixl_st_read_f32(f, xi, pixl_tensor_data(x)));
        CHECK_OK(pixl_forward(ctx));
        for (int k = -1; k < n_aux && k < pixl_ctx_aux_count(ctx); k++) {
            char nm[32];
            snprintf(nm, sizeof nm, "aux.%d", k);
            int ri = k < 0 ? yi : pixl_st_find(f, nm);
            pixl_tensor *t = k < 0 ? y : pixl_ctx_aux(ctx, k, NULL);
            long cnt = (long)pixl_st_numel(f, ri);
            CHECK_MSG(cnt == pixl_tensor_numel(t), "%s %s: %ld values in PyTorch, %lld in pixl", file,
                      k < 0 ? "output" : nm, cnt, (long long)pixl_tensor_numel(t));
            if (cnt != pixl_tensor_numel(t)) continue;
            float *ref = malloc(sizeof(float) * (size_t)cnt), mx = 0;
            pixl_st_read_f32(f, ri, ref);
            for (long i = 0; i < cnt; i++) mx = fabsf(ref[i]) > mx ? fabsf(ref[i]) : mx;
            CHECK_MSG(mx > 1e-3f && isfinite(mx), "%s %s: degenerate reference (max %g)", file, nm, (double)mx);
            char what[96];
            snprintf(what, sizeof what, "%s %s", file, k < 0 ? "output" : nm);
            CHECK_ALLCLOSE(what, pixl_tensor_data(t), ref, cnt, 0, 1e-3 * mx);
            free(ref);
        }
    }
    pixl_ctx_free(ctx);
    pixl_params_free(P);

    pixl_st_close(f);
}

PIXL_TEST(zoo_pspnet_matches_pytorch) { zoo_parity("pspnet", 0.4f); }
PIXL_TEST(zoo_deeplabv3plus_matches_pytorch) { zoo_parity("deeplabv3plus", 0); }
PIXL_TEST(zoo_deeplabv3plus_resnet50_matches_pytorch) { zoo_parity("deeplabv3plus_resnet50", 0); }
PIXL_TEST(zoo_refinenet_matches_pytorch) { zoo_parity("refinenet", 0); }
PIXL_TEST(zoo_gfrnet_matches_pytorch) { zoo_parity("gfrnet", 1.0f); }

/* ------------------------------------------------ sizes, errors, training */
typedef struct { const char *arch, *backbone; } head_cfg;
/* light encoders (the heads' shape logic is the same on the default ones) */
static const head_cfg light[4] = {
    {"pspnet", "resnet18"}, {"deeplabv3plus", "mobilenet_v2"}, {"refinenet", "resnet18"}, {"gfrnet", "vgg16"}};

/* build (and with run: plan + forward) at 1x3xHxW in P (NULL: new params);
 * output shape into s */
static int run_shape_in(pixl_params *P0, const head_cfg *m, int os, int h, int w, int run, int64_t *s, char *err,
                        size_t len)
{
    pixl_params *P = P0 ? P0 : pixl_params_new();
    pixl_ctx *ctx = pixl_ctx_new(P, PIXL_MODE_EVAL);
    int64_t xs[4] = {1, 3, h, w};
    pixl_tensor *x = pixl_input(ctx, "x", PIXL_F32, 4, xs);
    pixl_model_opts o = {.n_classes = 7, .backbone = m->backbone, .output_stride = os};
    pixl_tensor *y = pixl_model_build(ctx, m->arch, x, &o);
    int ok = y != NULL;
    snprintf(err, len, "%s", ok ? "" : pixl_ctx_error(ctx));
    if (ok) memcpy(s, pixl_tensor_shape(y), 4 * sizeof *s);
    if (ok && run) {
        ok = pixl_ctx_plan(ctx) == PIXL_OK;
        if (ok) pixl_test_fill_uniform(pixl_tensor_data(x), 3L * h * w, -1, 1, 3);
        ok = ok && pixl_forward(ctx) == PIXL_OK;
        if (ok) {
            const float *d = pixl_tensor_data(y);
            for (int64_t i = 0; i < pixl_tensor_numel(y) && ok; i++) ok = isfinite(d[i]);
            if (!ok) snprintf(err, len, "non-finite output");
        } else {
            snprintf(err, len, "%s", pixl_last_error());
        }
    }
    pixl_ctx_free(ctx);
    if (!P0) pixl_params_free(P);
    return ok;
}

static int run_shape(const head_cfg *m, int os, int h, int w, int run, int64_t *s, char *err, size_t len)
{
    return run_shape_in(NULL, m, os, h, w, run, s, err, len);
}

PIXL_TEST(zoo_heads_sizes)
{
    int64_t s[4];
    char err[512];
    for (int i = 0; i < 4; i++) {
        /* CamVid's size (graph only) and odd sizes run through */
        static const int sizes[3][3] = {{360, 480, 0}, {37, 53, 1}, {45, 33, 1}};
        pixl_params *P = pixl_params_new(); /* (created at the first size, reused at the others) */
        for (int k = 0; k < 3; k++) {
            int ok = run_shape_in(P, &light[i], 0, sizes[k][0], sizes[k][1], sizes[k][2], s, err, sizeof err);
            CHECK_MSG(ok, "%s at %dx%d: %s", light[i].arch, sizes[k][0], sizes[k][1], err);
            if (ok)
                CHECK_MSG(s[1] == 7 && s[2] == sizes[k][0] && s[3] == sizes[k][1], "%s at %dx%d: output %lldx%lld",
                          light[i].arch, sizes[k][0], sizes[k][1], (long long)s[2], (long long)s[3]);
        }
        pixl_params_free(P);
    }
    /* the other output stride of the dilated heads */
    CHECK(run_shape(&light[0], 16, 41, 50, 1, s, err, sizeof err) && s[2] == 41 && s[3] == 50);
    CHECK(run_shape(&light[1], 8, 41, 50, 1, s, err, sizeof err) && s[2] == 41 && s[3] == 50);
}

PIXL_TEST(zoo_heads_errors)
{
    int64_t s[4];
    char err[512];
    CHECK(!run_shape(&light[3], 0, 31, 64, 0, s, err, sizeof err) && strstr(err, "gfrnet") && strstr(err, "32"));
    CHECK(!run_shape(&(head_cfg){"pspnet", "vgg16"}, 0, 64, 64, 0, s, err, sizeof err) && strstr(err, "pspnet") &&
          strstr(err, "vgg16"));
    CHECK(!run_shape(&(head_cfg){"deeplabv3plus", "resnet8"}, 0, 64, 64, 0, s, err, sizeof err) &&
          strstr(err, "resnet8"));
    CHECK(!run_shape(&light[1], 32, 64, 64, 0, s, err, sizeof err) && strstr(err, "deeplabv3plus") &&
          strstr(err, "output_stride 32"));
    CHECK(!run_shape(&light[0], 4, 64, 64, 0, s, err, sizeof err) && strstr(err, "pspnet") && strstr(err, "output_stride"));
    CHECK(!run_shape(&light[2], 8, 64, 64, 0, s, err, sizeof err) && strstr(err, "refinenet") && strstr(err, "32"));
    CHECK(!run_shape(&(head_cfg){"gfrnet", "resnet50"}, 0, 64, 64, 0, s, err, sizeof err) && strstr(err, "gfrnet"));
}

static float max_abs_f(const float *p, long n)
{
    float m = 0;
    for (long i = 0; i < n; i++) m = fabsf(p[i]) > m ? fabsf(p[i]) : m;
    return m;
}

/* TRAIN mode with the auxiliary losses as the trainer adds them: gradients
 * reach the first encoder layer and the auxiliary heads, and a few SGD steps
 * on one batch lower the loss */
static void train_head(const head_cfg *m, int h, int w, const char *first, const char *aux_param)
{
    pixl_params *P = pixl_params_new();
    pixl_ctx *ctx = pixl_ctx_new(P, PIXL_MODE_TRAIN);
    int n = 2;
    int64_t xs[4] = {n, 3, h, w}, ys[3] = {n, h, w};
    pixl_tensor *x = pixl_input(ctx, "x", PIXL_F32, 4, xs), *lab = pixl_input(ctx, "y", PIXL_I32, 3, ys);
    pixl_model_opts o = {.n_classes = 3, .backbone = m->backbone, .aux = 1};
    pixl_tensor *y = pixl_model_build(ctx, m->arch, x, &o);
    pixl_tensor *L = pixl_cross_entropy(ctx, y, lab, NULL, NULL);
    for (int i = 0; L && i < pixl_ctx_aux_count(ctx); i++) {
        float aw;
        pixl_tensor *a = pixl_resize(ctx, pixl_ctx_aux(ctx, i, &aw), h, w, PIXL_RESIZE_BILINEAR, 0, 0, 0);
        L = pixl_add(ctx, L, pixl_scale(ctx, pixl_cross_entropy(ctx, a, lab, NULL, NULL), aw));
    }
    CHECK_MSG(L != NULL, "%s: %s", m->arch, pixl_ctx_error(ctx));
    pixl_optim *opt = pixl_optim_new(P, &(pixl_optim_opts){.kind = PIXL_OPTIM_SGD, .lr = 0.003f, .momentum = 0.9f});
    if (L && opt && pixl_ctx_plan(ctx) == PIXL_OK) {
        pixl_test_fill_uniform(pixl_tensor_data(x), (long)n * 3 * h * w, -1, 1, 11);
        int32_t *lv = pixl_tensor_data(lab);
        for (int i = 0; i < n * h * w; i++) lv[i] = ((i % w) * 3 / w + (i / w % h) * 2 / h) % 3; /* blocks */
        float first_loss = 0, last = 0;
        for (int step = 0; step < 3; step++) {
            pixl_ctx_set_seed(ctx, 5); /* the same dropout masks every step */
            pixl_params_zero_grad(P);
            CHECK_OK(pixl_forward(ctx));
            CHECK_OK(pixl_backward(ctx, L));
            last = *(float *)pixl_tensor_data(L);
            CHECK_MSG(isfinite(last) && last > 0, "%s: loss %g at step %d", m->arch, last, step);
            if (step == 0) {
                first_loss = last;
                const char *names[2] = {first, aux_param};
                for (int j = 0; j < 2 && names[j]; j++) {
                    int k = pixl_params_find(P, names[j]);
                    CHECK_MSG(k >= 0, "%s: no parameter %s", m->arch, names[j]);
                    if (k >= 0)
                        CHECK_MSG(max_abs_f(pixl_params_grad(P, k), (long)pixl_params_numel(P, k)) > 0,
                                  "%s: no gradient in %s", m->arch, names[j]);
                }
            }
            CHECK_OK(pixl_optim_step(opt));
        }
        CHECK_MSG(last < first_loss, "%s: loss %g after 2 steps, %g before", m->arch, last, first_loss);
    }
    pixl_optim_free(opt);
    pixl_ctx_free(ctx);
    pixl_params_free(P);
}

PIXL_TEST(zoo_heads_train)
{
    train_head(&light[0], 32, 40, "backbone.conv1.weight", "aux.4.weight");
    train_head(&light[1], 32, 40, "backbone.features.0.0.weight", NULL);
    train_head(&light[2], 32, 40, "conv1.weight", NULL);
    train_head(&light[3], 32, 40, "backbone.features.0.weight", "pred_1.weight");
}

/* a checkpoint of a model trained with auxiliary heads (their parameters are
 * in it) loads with pixl_model_load and predicts as the saved model */
PIXL_TEST(zoo_heads_aux_checkpoint_loads)
{
    pixl_model_opts o = {.n_classes = 3, .backbone = "resnet18", .output_stride = 16};
    pixl_model *m = pixl_model_create("pspnet", &o, 3);
    CHECK_MSG(m != NULL, "%s", pixl_last_error());
    if (!m) return;
    int64_t plain = pixl_params_total(pixl_model_params(m));
    /* a training graph adds the aux head's parameters to the model's */
    pixl_ctx *ctx = pixl_ctx_new(pixl_model_params(m), PIXL_MODE_TRAIN);
    int64_t xs[4] = {2, 3, 64, 64};
    o.aux = 1;
    CHECK(pixl_model_build(ctx, "pspnet", pixl_input(ctx, "x", PIXL_F32, 4, xs), &o) != NULL);
    pixl_ctx_free(ctx);
    int64_t with_aux = pixl_params_total(pixl_model_params(m));
    CHECK(with_aux > plain);
    char path[512];
    snprintf(path, sizeof path, "%s/pspnet_aux.safetensors", pixl_test_tmpdir());
    CHECK_OK(pixl_model_save(m, path, 0, NULL, NULL));
    pixl_model *l = pixl_model_load(path);
    CHECK_MSG(l != NULL, "%s", pixl_last_error());
    if (l) {
        CHECK(pixl_params_total(pixl_model_params(l)) == with_aux);
        int h = 40, w = 56;
        float *img = malloc(sizeof(float) * 3 * h * w), *a = malloc(sizeof(float) * 3 * h * w),
              *b = malloc(sizeof(float) * 3 * h * w);
        pixl_test_fill_uniform(img, 3L * h * w, -1, 1, 9);
        CHECK_OK(pixl_model_predict(m, img, 1, h, w, 0, a, NULL));
        CHECK_OK(pixl_model_predict(l, img, 1, h, w, 0, b, NULL));
        CHECK_MSG(!memcmp(a, b, sizeof(float) * 3 * h * w), "loaded model predicts differently");
        free(img), free(a), free(b);
    }
    pixl_model_free(l);
    pixl_model_free(m);
}
