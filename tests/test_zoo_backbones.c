/* test_zoo_backbones.c — backbones (src/models/backbones.c) and the models on
 * them (FCN, SegNet, LinkNet) against PyTorch/torchvision: parameter count,
 * every state_dict name and shape, forward output (eval, zoo_fill values)
 * within 1e-3 of the output's max |value|, and the backbone's last feature
 * map. References: scripts/ref/make_zoo_backbones_ref.py -> tests/ref/zoo/.
 * Also: hardtanh/relu6 (MobileNetV2's activation) values and gradients,
 * taps, dilation strides, builds at CamVid size, and errors. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "gradcheck.h"
#include "models/models_impl.h"
#include "test.h"
#include "zoo_fill.h"
#include "pixl_train.h"

static float max_abs(const float *v, long n)
{
    float m = 0;
    for (long i = 0; i < n; i++) m = fabsf(v[i]) > m ? fabsf(v[i]) : m;
    return m;
}

/* compare tensor `name` of f with y (rel. to the reference's max |value|) */
static void compare(const char *what, pixl_st_file *f, const char *name, pixl_tensor *y)
{
    int i = pixl_st_find(f, name);
    CHECK_MSG(i >= 0, "%s: no '%s' in the reference", what, name);
    if (i < 0 || !y) return;
    long n = (long)pixl_st_numel(f, i);
    CHECK_MSG(n == pixl_tensor_numel(y), "%s: %s has %ld values, pixl %lld (shape %s)", what, name, n,
              (long long)pixl_tensor_numel(y), pixl__tshape(y));
    if (n != pixl_tensor_numel(y)) return;
    float *ref = malloc(sizeof(float) * (size_t)n);
    pixl_st_read_f32(f, i, ref);
    float mx = max_abs(ref, n);
    CHECK_MSG(mx > 1e-3f && mx < 1e3f, "%s: %s max |value| %g is outside a sane range", what, name, mx);
    char label[160];
    snprintf(label, sizeof label, "%s %s", what, name);
    CHECK_ALLCLOSE(label, pixl_tensor_data(y), ref, n, 0, 1e-3 * mx);
    free(ref);
}

/* every [name, shape] of the reference's state_dict is a pixl entry of that shape, and nothing else */
static void check_state(const char *what, pixl_st_file *f, pixl_params *P)
{
    const char *js = pixl_st_meta(f, "state");
    cJSON *st = js ? cJSON_Parse(js) : NULL;
    CHECK_MSG(cJSON_IsArray(st), "%s: no state list in the reference", what);
    int n = cJSON_GetArraySize(st), bad = 0;
    for (int i = 0; i < n; i++) {
        cJSON *e = cJSON_GetArrayItem(st, i), *sh = cJSON_GetArrayItem(e, 1);
        const char *nm = cJSON_GetArrayItem(e, 0)->valuestring;
        int k = pixl_params_find(P, nm);
        if (k < 0) {
            if (bad++ < 5) CHECK_MSG(0, "%s: pixl has no '%s'", what, nm);
            continue;
        }
        int nd = cJSON_GetArraySize(sh), pd = pixl_params_ndim(P, k), same = nd == pd;
        for (int d = 0; same && d < nd; d++)
            same = (int64_t)cJSON_GetArrayItem(sh, d)->valuedouble == pixl_params_shape(P, k)[d];
        if (nd == 0 && pd == 1 && pixl_params_shape(P, k)[0] == 1) same = 1; /* num_batches_tracked */
        if (!same && bad++ < 5) CHECK_MSG(0, "%s: '%s' has another shape in pixl", what, nm);
    }
    CHECK_MSG(n == pixl_params_count(P), "%s: %d tensors in the state_dict, %d in pixl", what, n,
              pixl_params_count(P));
    cJSON_Delete(st);
}

/* the zoo model of reference `ref` by name; with `features`, also the bare backbone */
static void zoo_parity(const char *ref, int features)
{
    char path[256];
    snprintf(path, sizeof path, "tests/ref/zoo/%s.safetensors", ref);
    pixl_st_file *f = pixl_st_open(path);
    CHECK_MSG(f != NULL, "%s", pixl_last_error());
    if (!f) return;
    const char *arch = pixl_st_meta(f, "arch"), *variant = pixl_st_meta(f, "variant");
    pixl_model_opts o = {.n_classes = atoi(pixl_st_meta(f, "n_classes")),
                         .output_stride = atoi(pixl_st_meta(f, "output_stride")),
                         .variant = variant && variant[0] ? variant : NULL};
    int xi = pixl_st_find(f, "input");
    pixl_params *P = pixl_params_new();
    pixl_ctx *ctx = pixl_ctx_new(P, PIXL_MODE_EVAL);
    pixl_tensor *x = pixl_input(ctx, "input", PIXL_F32, 4, pixl_st_shape(f, xi));
    pixl_tensor *y = pixl_model_build(ctx, arch, x, &o);
    CHECK_MSG(y != NULL, "%s: %s", ref, pixl_ctx_error(ctx));
    if (y) {
        long long want = atoll(pixl_st_meta(f, "params"));
        CHECK_MSG(pixl_params_total(P) == want, "%s: %lld parameters in pixl, %lld in PyTorch", ref,
                  (long long)pixl_params_total(P), want);
        check_state(ref, f, P);
        const char *semseg = pixl_st_meta(f, "semseg_fcn8s_params");
        if (semseg && semseg[0]) /* the pad100 form counts as pytorch-semseg's fcn8s(learned_billinear=True) */
            CHECK_MSG(pixl_params_total(P) == atoll(semseg), "%s: %lld parameters, pytorch-semseg fcn8s has %s", ref,
                      (long long)pixl_params_total(P), semseg);
        pixl_test_zoo_fill(P);
        CHECK_OK(pixl_ctx_plan(ctx));
        pixl_st_read_f32(f, xi, pixl_tensor_data(x));
        CHECK_OK(pixl_forward(ctx));
        compare(ref, f, "output", y);
    }
    pixl_ctx_free(ctx);
    if (y && features) { /* the bare backbone on the same (filled) parameters */
        pixl_backbone_taps taps;
        ctx = pixl_ctx_new(P, PIXL_MODE_EVAL);
        x = pixl_input(ctx, "input", PIXL_F32, 4, pixl_st_shape(f, xi));
        pixl_tensor *h = pixl__backbone_build(ctx, arch, "backbone", x, o.output_stride, &taps);
        CHECK_MSG(h != NULL, "%s: %s", ref, pixl_ctx_error(ctx));
        CHECK(taps.n > 0 && taps.t[taps.n - 1] == h);
        for (int i = 1; i < taps.n; i++) CHECK(taps.stride[i] >= taps.stride[i - 1]);
        if (h) {
            CHECK_OK(pixl_ctx_plan(ctx));
            pixl_st_read_f32(f, xi, pixl_tensor_data(x));
            CHECK_OK(pixl_forward(ctx));
            compare(ref, f, "features", h);
        }
        pixl_ctx_free(ctx);
    }
    pixl_params_free(P);
    pixl_st_close(f);
}

PIXL_TEST(zoo_vgg16_matches_torchvision) { zoo_parity("vgg16", 1); }
PIXL_TEST(zoo_vgg16_bn_matches_torchvision) { zoo_parity("vgg16_bn", 1); }
PIXL_TEST(zoo_resnet18_matches_torchvision) { zoo_parity("resnet18", 1); }
PIXL_TEST(zoo_resnet18_os8_matches_torchvision) { zoo_parity("resnet18_os8", 1); }
PIXL_TEST(zoo_resnet34_matches_torchvision) { zoo_parity("resnet34", 1); }
PIXL_TEST(zoo_resnet50_os8_matches_torchvision) { zoo_parity("resnet50_os8", 1); }
PIXL_TEST(zoo_resnet101_matches_torchvision) { zoo_parity("resnet101", 1); }
PIXL_TEST(zoo_mobilenet_v2_matches_torchvision) { zoo_parity("mobilenet_v2", 1); }
PIXL_TEST(zoo_mobilenet_v2_os16_matches_torchvision) { zoo_parity("mobilenet_v2_os16", 1); }
PIXL_TEST(zoo_fcn8s_pad100_matches_pytorch) { zoo_parity("fcn8s_pad100", 0); }
PIXL_TEST(zoo_fcn8s_matches_pytorch) { zoo_parity("fcn8s", 0); }
PIXL_TEST(zoo_fcn16s_matches_pytorch) { zoo_parity("fcn16s", 0); }
PIXL_TEST(zoo_fcn32s_pad100_matches_pytorch) { zoo_parity("fcn32s_pad100", 0); }
PIXL_TEST(zoo_segnet_matches_pytorch) { zoo_parity("segnet", 0); }
PIXL_TEST(zoo_linknet_matches_pytorch) { zoo_parity("linknet", 0); }

/* ------------------------------------------------------------- taps, sizes */
PIXL_TEST(zoo_backbone_taps_and_strides)
{
    static const struct { const char *name; int os; const char *tap; int stride, ch; } cases[] = {
        {"resnet50", 8, "layer4", 8, 2048},   {"resnet50", 16, "layer3", 16, 1024},
        {"resnet18", 32, "maxpool", 4, 64},   {"resnet101", 32, "relu", 2, 64},
        {"vgg16", 32, "features.16", 8, 256}, {"vgg16_bn", 32, "features.32", 8, 512},
        {"mobilenet_v2", 16, "features.17", 16, 320}, {"mobilenet_v2", 8, "features.6", 8, 32},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pixl_params *P = pixl_params_new();
        pixl_ctx *ctx = pixl_ctx_new(P, PIXL_MODE_EVAL);
        int64_t s[4] = {1, 3, 96, 128};
        pixl_tensor *x = pixl_input(ctx, "x", PIXL_F32, 4, s);
        pixl_backbone_taps taps;
        pixl_tensor *h = pixl__backbone_build(ctx, cases[i].name, "", x, cases[i].os, &taps);
        CHECK_MSG(h != NULL, "%s: %s", cases[i].name, pixl_ctx_error(ctx));
        pixl_tensor *t = pixl__backbone_tap(ctx, &taps, cases[i].tap);
        CHECK_MSG(t != NULL, "%s: no tap %s", cases[i].name, cases[i].tap);
        if (t) {
            CHECK_MSG(t->shape[1] == cases[i].ch && t->shape[2] == 96 / cases[i].stride &&
                          t->shape[3] == 128 / cases[i].stride,
                      "%s os %d tap %s: %s", cases[i].name, cases[i].os, cases[i].tap, pixl__tshape(t));
            int k = 0;
            while (k < taps.n && taps.t[k] != t) k++;
            CHECK(k < taps.n && taps.stride[k] == cases[i].stride && taps.channels[k] == cases[i].ch);
        }
        /* unprefixed names are torchvision's */
        CHECK(pixl_params_find(P, !strncmp(cases[i].name, "vgg", 3) ? "features.0.weight" :
                                  cases[i].name[0] == 'r' ? "conv1.weight" : "features.0.0.weight") >= 0);
        pixl_ctx_free(ctx);
        pixl_params_free(P);
    }
}

PIXL_TEST(zoo_backbone_models_build_at_camvid_size)
{
    const char *names[] = {"vgg16", "vgg16_bn", "resnet18", "resnet34", "resnet50", "resnet101", "mobilenet_v2"};
    for (int i = 0; i < 7; i++) {
        pixl_params *P = pixl_params_new(); /* the same parameters at every output stride */
        for (int os = 8; os <= 32; os *= 2) {
            if (names[i][0] == 'v' && os != 32) continue;
            pixl_ctx *ctx = pixl_ctx_new(P, PIXL_MODE_EVAL);
            int64_t s[4] = {1, 3, 360, 480};
            pixl_tensor *x = pixl_input(ctx, "x", PIXL_F32, 4, s);
            pixl_tensor *y = pixl_model_build(ctx, names[i], x, &(pixl_model_opts){.n_classes = 11, .output_stride = os});
            CHECK_MSG(y && y->shape[1] == 11 && y->shape[2] == 360 && y->shape[3] == 480, "%s os %d: %s", names[i], os,
                      y ? pixl__tshape(y) : pixl_ctx_error(ctx));
            pixl_ctx_free(ctx);
        }
        pixl_params_free(P);
    }
}

/* FCN / SegNet / LinkNet at CamVid size and at odd sizes (output = input size),
 * and clear errors where the architecture cannot take the input */
PIXL_TEST(zoo_fcn_segnet_linknet_sizes)
{
    static const struct { const char *arch, *variant; } m[] = {
        {"fcn8s", NULL}, {"fcn8s", "pad100"}, {"fcn16s", NULL}, {"fcn16s", "pad100"}, {"fcn32s", NULL},
        {"fcn32s", "pad100"}, {"segnet", NULL}, {"linknet", NULL}};
    static const int sizes[][2] = {{360, 480}, {97, 131}, {33, 64}};
    pixl_params *P = NULL;
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
        /* the FCNs share one set of parameters (their names never clash in shape): 134M are created once */
        if (!P || strncmp(m[i].arch, "fcn", 3)) {
            pixl_params_free(P);
            P = pixl_params_new();
        }
        for (int k = 0; k < 3; k++) {
            pixl_ctx *ctx = pixl_ctx_new(P, PIXL_MODE_EVAL);
            int64_t s[4] = {1, 3, sizes[k][0], sizes[k][1]};
            pixl_tensor *x = pixl_input(ctx, "x", PIXL_F32, 4, s);
            pixl_model_opts o = {.n_classes = 11, .variant = m[i].variant};
            pixl_tensor *y = pixl_model_build(ctx, m[i].arch, x, &o);
            CHECK_MSG(y && y->shape[1] == 11 && y->shape[2] == s[2] && y->shape[3] == s[3], "%s %s at %dx%d: %s",
                      m[i].arch, m[i].variant ? m[i].variant : "", sizes[k][0], sizes[k][1],
                      y ? pixl__tshape(y) : pixl_ctx_error(ctx));
            pixl_ctx_free(ctx);
        }
    }
    pixl_params_free(P);
    static const struct { const char *arch, *variant; int h, w; const char *msg; } bad[] = {
        {"fcn8s", NULL, 24, 64, "at least 32"}, {"segnet", NULL, 64, 20, "at least 32"},
        {"fcn8s", "pad", 64, 64, "variant 'pad'"}, {"vgg16", NULL, 16, 16, NULL},
        {"fcn32s", "same", 40, 31, "at least 32"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        P = pixl_params_new();
        pixl_ctx *ctx = pixl_ctx_new(P, PIXL_MODE_EVAL);
        int64_t s[4] = {1, 3, bad[i].h, bad[i].w};
        pixl_tensor *x = pixl_input(ctx, "x", PIXL_F32, 4, s);
        pixl_model_opts o = {.n_classes = 11, .variant = bad[i].variant};
        CHECK_MSG(pixl_model_build(ctx, bad[i].arch, x, &o) == NULL, "%s at %dx%d built", bad[i].arch, bad[i].h,
                  bad[i].w);
        const char *e = pixl_ctx_error(ctx);
        CHECK_MSG(e && (!bad[i].msg || strstr(e, bad[i].msg)), "%s: error '%s'", bad[i].arch, e ? e : "(none)");
        pixl_ctx_free(ctx);
        pixl_params_free(P);
    }
}

PIXL_TEST(zoo_backbone_trains)
{
    /* TRAIN mode forward + backward through a dilated MobileNetV2 classifier */
    pixl_params *P = pixl_params_new();
    pixl_ctx *ctx = pixl_ctx_new(P, PIXL_MODE_TRAIN);
    int64_t s[4] = {2, 3, 32, 32}, ls[3] = {2, 32, 32};
    pixl_tensor *x = pixl_input(ctx, "x", PIXL_F32, 4, s), *lab = pixl_input(ctx, "y", PIXL_I32, 3, ls);
    pixl_tensor *y = pixl_model_build(ctx, "mobilenet_v2", x, &(pixl_model_opts){.n_classes = 4, .output_stride = 8});
    pixl_tensor *L = pixl_cross_entropy(ctx, y, lab, NULL, NULL);
    CHECK_MSG(L != NULL, "%s", pixl_ctx_error(ctx));
    CHECK_OK(pixl_ctx_plan(ctx));
    pixl_test_fill_uniform(pixl_tensor_data(x), 2 * 3 * 32 * 32, -1, 1, 7);
    int32_t *lv = pixl_tensor_data(lab);
    for (int i = 0; i < 2 * 32 * 32; i++) lv[i] = (i / 7) % 4;
    pixl_params_zero_grad(P);
    CHECK_OK(pixl_forward(ctx));
    CHECK_OK(pixl_backward(ctx, L));
    float loss = *(float *)pixl_tensor_data(L);
    CHECK_MSG(isfinite(loss) && loss > 0, "loss %g", loss);
    int k = pixl_params_find(P, "backbone.features.0.0.weight");
    CHECK(k >= 0);
    double g = 0;
    for (int64_t i = 0; k >= 0 && i < pixl_params_numel(P, k); i++) g += fabs(pixl_params_grad(P, k)[i]);
    CHECK_MSG(g > 0 && isfinite(g), "no gradient reached the first conv (%g)", g);
    pixl_ctx_free(ctx);
    pixl_params_free(P);
}

PIXL_TEST(zoo_backbone_errors)
{
    pixl_params *P = pixl_params_new();
    pixl_ctx *ctx = pixl_ctx_new(P, PIXL_MODE_EVAL);
    int64_t s[4] = {1, 3, 64, 64};
    pixl_tensor *x = pixl_input(ctx, "x", PIXL_F32, 4, s);
    CHECK(pixl__backbone_build(ctx, "resnet19", "", x, 0, NULL) == NULL);
    CHECK(strstr(pixl_ctx_error(ctx), "resnet19") && strstr(pixl_ctx_error(ctx), "mobilenet_v2"));
    pixl_ctx_free(ctx);
    ctx = pixl_ctx_new(P, PIXL_MODE_EVAL);
    x = pixl_input(ctx, "x", PIXL_F32, 4, s);
    CHECK(pixl__backbone_build(ctx, "resnet50", "", x, 4, NULL) == NULL);
    CHECK(strstr(pixl_ctx_error(ctx), "output_stride 4"));
    pixl_ctx_free(ctx);
    ctx = pixl_ctx_new(P, PIXL_MODE_EVAL);
    x = pixl_input(ctx, "x", PIXL_F32, 4, s);
    CHECK(pixl__backbone_build(ctx, "vgg16", "", x, 16, NULL) == NULL);
    CHECK(strstr(pixl_ctx_error(ctx), "vgg16") && strstr(pixl_ctx_error(ctx), "16"));
    pixl_ctx_free(ctx);
    ctx = pixl_ctx_new(P, PIXL_MODE_EVAL);
    x = pixl_input(ctx, "x", PIXL_F32, 4, s);
    pixl_backbone_taps taps;
    CHECK(pixl__backbone_build(ctx, "resnet18", "bb", x, 0, &taps) != NULL);
    CHECK(pixl__backbone_tap(ctx, &taps, "layer5") == NULL);
    CHECK(strstr(pixl_ctx_error(ctx), "layer5") && strstr(pixl_ctx_error(ctx), "layer4"));
    pixl_ctx_free(ctx);
    /* too small for VGG's five pools: an error, not a crash */
    ctx = pixl_ctx_new(P, PIXL_MODE_EVAL);
    int64_t t[4] = {1, 3, 16, 16};
    x = pixl_input(ctx, "x", PIXL_F32, 4, t);
    CHECK(pixl_model_build(ctx, "vgg16", x, NULL) == NULL);
    CHECK(pixl_ctx_error(ctx) != NULL);
    pixl_ctx_free(ctx);
    pixl_params_free(P);
}

/* ---------------------------------------------------------- hardtanh/relu6 */
static pixl_tensor *build_hardtanh(pixl_ctx *ctx, void *ud)
{
    int64_t s[4] = {2, 3, 5, 7};
    float v[210];
    pixl_test_fill_spaced(v, 210, 11); /* distinct values away from the kinks */
    for (int i = 0; i < 210; i++) v[i] = v[i] * 4 + (i % 3 == 0 ? 3.2f : 0.0f);
    pixl_tensor *x = gc_input(ctx, "x", 4, s, v);
    return ud ? pixl_relu6(ctx, x) : pixl_hardtanh(ctx, x, -1.5f, 2.0f);
}

PIXL_TEST(act_hardtanh_relu6)
{
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL_GRAD);
    int64_t s[1] = {6};
    pixl_tensor *x = pixl_input_grad(ctx, "x", 1, s), *y = pixl_relu6(ctx, x);
    CHECK_OK(pixl_ctx_plan(ctx));
    const float xv[6] = {-3, -0.5f, 0.5f, 5.5f, 6.5f, 100}, want[6] = {0, 0, 0.5f, 5.5f, 6, 6},
                dwant[6] = {0, 0, 1, 1, 0, 0}, ones[6] = {1, 1, 1, 1, 1, 1};
    memcpy(pixl_tensor_data(x), xv, sizeof xv);
    CHECK_OK(pixl_forward(ctx));
    CHECK_ALLCLOSE("relu6", pixl_tensor_data(y), want, 6, 0, 0);
    CHECK_OK(pixl_backward_from(ctx, y, ones));
    CHECK_ALLCLOSE("relu6 grad", pixl_tensor_grad(x), dwant, 6, 0, 0);
    pixl_ctx_free(ctx);
    GRADCHECK("hardtanh(-1.5, 2)", NULL, build_hardtanh, NULL, &(gc_opts){.eps = 5e-3});
    GRADCHECK("relu6", NULL, build_hardtanh, (void *)1, &(gc_opts){.eps = 5e-3});
    ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL);
    x = pixl_input(ctx, "x", PIXL_F32, 1, s);
    CHECK(pixl_hardtanh(ctx, x, 1, 1) == NULL);
    CHECK(pixl_ctx_error(ctx) && strstr(pixl_ctx_error(ctx), "hardtanh"));
    pixl_ctx_free(ctx);
}

/* --------------------------------------------------- tools/convert_pth.py */
/* A PyTorch training checkpoint (DataParallel names, an extra module, an
 * optimizer entry) converted with --drop/--arch (scripts/ref/make_convert_ref.py)
 * loads as a pixl model and predicts what PyTorch computed. */
PIXL_TEST(zoo_convert_pth_model_loads)
{
    pixl_model *m = pixl_model_load("tests/ref/zoo/convert_segnet_basic.safetensors");
    CHECK_MSG(m != NULL, "%s", pixl_last_error());
    pixl_st_file *f = pixl_st_open("tests/ref/zoo/convert_segnet_basic_io.safetensors");
    CHECK_MSG(f != NULL, "%s", pixl_last_error());
    if (m && f) {
        CHECK(!strcmp(pixl_model_arch(m), "segnet_basic") && pixl_model_n_classes(m) == 5);
        CHECK_NEAR(pixl_model_options(m)->width, 0.125, 0);
        CHECK_NEAR(pixl_model_mean(m)[1], 0.41, 1e-6);
        CHECK_NEAR(pixl_model_std(m)[2], 0.32, 1e-6);
        CHECK(pixl_params_find(pixl_model_params(m), "aux_head.weight") < 0);
        int xi = pixl_st_find(f, "input"), yi = pixl_st_find(f, "output");
        const int64_t *s = pixl_st_shape(f, xi);
        long n = (long)pixl_st_numel(f, yi);
        float *x = malloc(sizeof(float) * (size_t)pixl_st_numel(f, xi)), *ref = malloc(sizeof(float) * (size_t)n),
              *y = malloc(sizeof(float) * (size_t)n);
        pixl_st_read_f32(f, xi, x);
        pixl_st_read_f32(f, yi, ref);
        CHECK_OK(pixl_model_predict(m, x, 1, (int)s[2], (int)s[3], 0, y, NULL));
        CHECK_ALLCLOSE("converted segnet_basic", y, ref, n, 0, 1e-4 * max_abs(ref, n));
        free(x);
        free(ref);
        free(y);
    }
    pixl_st_close(f);
    pixl_model_free(m);
}

/* A torchvision ResNet-18 state_dict (fc included) converted with
 * --prefix backbone. --drop fc loads into pixl__backbone_build's parameters
 * and gives torchvision's features. The 45 MB input is made by
 * `make check-convert` (PyTorch + torchvision), which sets PIXL_CONVERT_DIR. */
PIXL_TEST(zoo_convert_pth_torchvision_backbone)
{
    const char *dir = getenv("PIXL_CONVERT_DIR");
    if (!dir) {
        printf("     (PIXL_CONVERT_DIR not set: run `make check-convert` for this check)\n");
        return;
    }
    char path[512];
    snprintf(path, sizeof path, "%s/resnet18_backbone.safetensors", dir);
    pixl_st_file *f = pixl_st_open("tests/ref/zoo/resnet18.safetensors");
    CHECK_MSG(f != NULL, "%s", pixl_last_error());
    if (!f) return;
    int xi = pixl_st_find(f, "input");
    pixl_params *P = pixl_params_new();
    pixl_ctx *ctx = pixl_ctx_new(P, PIXL_MODE_EVAL);
    pixl_tensor *x = pixl_input(ctx, "input", PIXL_F32, 4, pixl_st_shape(f, xi));
    pixl_tensor *h = pixl__backbone_build(ctx, "resnet18", "backbone", x, 32, NULL);
    CHECK(h != NULL);
    CHECK_OK(pixl_checkpoint_load(P, path, 0)); /* every tensor, no extra (fc dropped) */
    CHECK_OK(pixl_ctx_plan(ctx));
    pixl_st_read_f32(f, xi, pixl_tensor_data(x));
    CHECK_OK(pixl_forward(ctx));
    compare("converted torchvision resnet18", f, "features", h);
    pixl_ctx_free(ctx);
    pixl_params_free(P);
    pixl_st_close(f);
}

/* ------------------------------------------ partial (pretrained) initialisation */
/* a file with the listed tensors of P (name -> P's values; shape_override for the first) */
static void write_subset(pixl_params *P, const char *path, const char *const *names, int n, const int64_t *bad_shape)
{
    pixl_st_writer *w = pixl_st_writer_new();
    for (int k = 0; k < n; k++) {
        int i = pixl_params_find(P, names[k]);
        if (i < 0) { /* a name P does not have: any small tensor */
            static const float z[4];
            int64_t s[1] = {4};
            CHECK_OK(pixl_st_writer_add(w, names[k], PIXL_F32, 1, s, z));
            continue;
        }
        if (k == 0 && bad_shape) {
            int64_t numel = pixl_params_numel(P, i);
            int64_t s[2] = {1, numel};
            CHECK_OK(pixl_st_writer_add(w, names[k], PIXL_F32, 2, s, pixl_params_data(P, i)));
            continue;
        }
        CHECK_OK(pixl_st_writer_add(w, names[k], pixl_params_dtype(P, i), pixl_params_ndim(P, i),
                                    pixl_params_shape(P, i), pixl_params_data(P, i)));
    }
    CHECK_OK(pixl_st_writer_save(w, path));
    pixl_st_writer_free(w);
}

static int same_values(pixl_params *A, pixl_params *B, const char *name)
{
    int i = pixl_params_find(A, name), j = pixl_params_find(B, name);
    return i >= 0 && j >= 0 && !memcmp(pixl_params_data(A, i), pixl_params_data(B, j),
                                       (size_t)pixl_params_numel(A, i) * pixl_dtype_size(pixl_params_dtype(A, i)));
}

PIXL_TEST(zoo_pretrained_subset_load)
{
    pixl_model_opts o = {.n_classes = 5, .width = 0.125f};
    pixl_model *A = pixl_model_create("segnet_basic", &o, 1), *B = pixl_model_create("segnet_basic", &o, 2);
    CHECK(A && B);
    if (!A || !B) return;
    pixl_params *PA = pixl_model_params(A), *PB = pixl_model_params(B);
    char path[512];
    snprintf(path, sizeof path, "%s/encoder.safetensors", pixl_test_tmpdir());
    /* the encoder (weights, biases, BN statistics incl. the int64 counter) */
    const char *enc[] = {"enc.0.0.weight", "enc.0.0.bias", "enc.0.1.weight", "enc.0.1.bias", "enc.0.1.running_mean",
                         "enc.0.1.running_var", "enc.0.1.num_batches_tracked", "enc.3.0.weight"};
    int64_t *nbt = pixl_params_data(PA, pixl_params_find(PA, "enc.0.1.num_batches_tracked"));
    nbt[0] = 77;
    write_subset(PA, path, enc, 8, NULL);
    CHECK(!same_values(PA, PB, "enc.0.0.weight") && !same_values(PA, PB, "dec.0.0.weight"));
    CHECK(pixl_checkpoint_load_subset(PB, path) == 8);
    for (int k = 0; k < 8; k++) CHECK_MSG(same_values(PA, PB, enc[k]), "%s not loaded", enc[k]);
    CHECK(!same_values(PA, PB, "dec.0.0.weight") && !same_values(PA, PB, "enc.1.0.weight"));
    /* a tensor the model lacks, or a wrong shape: an error naming it, nothing loaded */
    pixl_model *C = pixl_model_create("segnet_basic", &o, 3);
    pixl_params *PC = pixl_model_params(C);
    const char *extra[] = {"enc.1.0.weight", "backbone.conv1.weight"};
    write_subset(PA, path, extra, 2, NULL);
    CHECK(pixl_checkpoint_load_subset(PC, path) == PIXL_ERR_NOT_FOUND);
    CHECK(strstr(pixl_last_error(), "backbone.conv1.weight") != NULL);
    CHECK(!same_values(PA, PC, "enc.1.0.weight"));
    const char *shaped[] = {"enc.2.0.weight", "enc.1.0.weight"};
    write_subset(PA, path, shaped, 2, (int64_t[]){1});
    CHECK(pixl_checkpoint_load_subset(PC, path) == PIXL_ERR_SHAPE);
    CHECK(strstr(pixl_last_error(), "enc.2.0.weight") != NULL);
    CHECK(!same_values(PA, PC, "enc.1.0.weight"));
    CHECK(pixl_checkpoint_load_subset(PC, "/nonexistent/x.safetensors") < 0);
    pixl_model_free(A);
    pixl_model_free(B);
    pixl_model_free(C);
}

/* training with model.options.pretrained starts from the file's tensors */
PIXL_TEST(zoo_pretrained_training_option)
{
    pixl_model_opts o = {.n_classes = 5, .width = 0.125f};
    pixl_model *A = pixl_model_create("segnet_basic", &o, 11);
    CHECK(A != NULL);
    if (!A) return;
    char pre[512], dir[512], last[600];
    snprintf(pre, sizeof pre, "%s/pre_enc.safetensors", pixl_test_tmpdir());
    snprintf(dir, sizeof dir, "%s/pretrained_run", pixl_test_tmpdir());
    const char *enc[] = {"enc.0.0.weight", "enc.0.0.bias", "enc.2.0.weight"};
    write_subset(pixl_model_params(A), pre, enc, 3, NULL);
    for (int bad = 0; bad < 2; bad++) {
        pixl_train_config cfg;
        pixl_config_defaults(&cfg);
        const char *kv[][2] = {{"model.arch", "segnet_basic"}, {"model.options.width", "0.125"},
                               {"model.options.pretrained", bad ? "/nonexistent/enc.safetensors" : pre},
                               {"data.dataset", "synthetic"}, {"data.img_rows", "32"}, {"data.img_cols", "32"},
                               {"data.n_workers", "0"}, {"training.batch_size", "2"}, {"training.epochs", "0"},
                               {"training.max_iters", "1"}, {"training.optimizer.name", "sgd"},
                               {"training.optimizer.lr", "1e-20"}, {"training.optimizer.momentum", "0"},
                               {"training.optimizer.weight_decay", "0"}, {"validation.every_epochs", "0"},
                               {"validation.every_minutes", "0"}};
        for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
            CHECK_MSG(pixl_config_set(&cfg, kv[i][0], kv[i][1]) == 0, "%s: %s", kv[i][0], pixl_last_error());
        snprintf(cfg.output.run_dir, sizeof cfg.output.run_dir, "%s", dir);
        FILE *lg = tmpfile();
        int rc = pixl_train(&cfg, &(pixl_train_hooks){.log = lg, .quiet = 1});
        if (lg) fclose(lg);
        if (bad) {
            CHECK(rc < 0 && strstr(pixl_last_error(), "/nonexistent/enc.safetensors"));
            continue;
        }
        CHECK_MSG(rc == 0, "%s", pixl_last_error());
        snprintf(last, sizeof last, "%s/last.safetensors", dir);
        pixl_model *T = pixl_model_load(last);
        CHECK_MSG(T != NULL, "%s", pixl_last_error());
        /* lr 1e-20: one step leaves the weights at their initial (pretrained) values */
        for (int k = 0; T && k < 3; k++)
            CHECK_MSG(same_values(pixl_model_params(A), pixl_model_params(T), enc[k]), "%s not from the file", enc[k]);
        CHECK(T && !same_values(pixl_model_params(A), pixl_model_params(T), "dec.0.0.weight"));
        pixl_model_free(T);
    }
    pixl_model_free(A);
}

/* torchvision's VGG-16 converted into an FCN initialisation (fc6/fc7 reshaped
 * into convolutions) by `make check-convert`: loaded with
 * pixl_checkpoint_load_subset into an fcn8s whose converted tensors were
 * zeroed, it gives the reference output (the other tensors are filled). */
PIXL_TEST(zoo_convert_pth_torchvision_fcn_init)
{
    const char *dir = getenv("PIXL_CONVERT_DIR");
    if (!dir) {
        printf("     (PIXL_CONVERT_DIR not set: run `make check-convert` for this check)\n");
        return;
    }
    char path[512];
    snprintf(path, sizeof path, "%s/fcn8s_init.safetensors", dir);
    pixl_st_file *f = pixl_st_open("tests/ref/zoo/fcn8s.safetensors");
    CHECK_MSG(f != NULL, "%s", pixl_last_error());
    if (!f) return;
    int xi = pixl_st_find(f, "input");
    pixl_params *P = pixl_params_new();
    pixl_ctx *ctx = pixl_ctx_new(P, PIXL_MODE_EVAL);
    pixl_tensor *x = pixl_input(ctx, "input", PIXL_F32, 4, pixl_st_shape(f, xi));
    pixl_tensor *y = pixl_model_build(ctx, "fcn8s", x, &(pixl_model_opts){.n_classes = 3});
    CHECK(y != NULL);
    pixl_test_zoo_fill(P);
    int zeroed = 0;
    for (int i = 0; i < pixl_params_count(P); i++) {
        const char *nm = pixl_params_name(P, i);
        if (strncmp(nm, "backbone.", 9) && strncmp(nm, "classifier.0.", 13) && strncmp(nm, "classifier.3.", 13))
            continue;
        memset(pixl_params_data(P, i), 0, sizeof(float) * (size_t)pixl_params_numel(P, i));
        zeroed++;
    }
    CHECK_MSG(zeroed == 30 && pixl_checkpoint_load_subset(P, path) == 30, "%d tensors zeroed: %s", zeroed,
              pixl_last_error());
    CHECK_OK(pixl_ctx_plan(ctx));
    pixl_st_read_f32(f, xi, pixl_tensor_data(x));
    CHECK_OK(pixl_forward(ctx));
    compare("fcn8s from converted torchvision vgg16", f, "output", y);
    pixl_ctx_free(ctx);
    pixl_params_free(P);
    pixl_st_close(f);
}

/* ------------------------------------------------ max-pool inference fast path */
/* Strided windows without saved indices (the ResNet stem's 3x3/2) take the
 * separable kernel; with indices requested the generic one. Both must give
 * the same values (NaN for a window holding a NaN, -inf for -inf/empty). */
PIXL_TEST(zoo_maxpool_strided_separable_equals_generic)
{
    static const struct { int k, s, p, ceil, h, w; } cs[] = {
        {3, 2, 1, 0, 37, 61}, {3, 2, 0, 1, 20, 33}, {5, 3, 2, 0, 23, 41}, {2, 2, 1, 0, 9, 14},
        {3, 4, 1, 1, 19, 30}, {7, 2, 3, 0, 5, 700}, {3, 2, 1, 0, 1, 1}, {4, 3, 0, 1, 11, 530}};
    for (size_t t = 0; t < sizeof cs / sizeof cs[0]; t++) {
        pixl_pool2d_opts o = {.kernel = {cs[t].k, cs[t].k}, .stride = {cs[t].s, cs[t].s},
                              .padding = {cs[t].p, cs[t].p}, .ceil_mode = cs[t].ceil};
        int64_t s[4] = {2, 3, cs[t].h, cs[t].w};
        long n = 2L * 3 * cs[t].h * cs[t].w;
        float *v = malloc(sizeof(float) * (size_t)n);
        pixl_test_fill_uniform(v, n, -3, 3, 100 + t);
        for (long i = 0; i < n; i += 97) v[i] = NAN;
        for (long i = 13; i < n; i += 89) v[i] = -INFINITY;
        float *res[2] = {NULL, NULL};
        long m = 0;
        for (int with_idx = 0; with_idx < 2; with_idx++) {
            pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL);
            pixl_tensor *x = pixl_input(ctx, "x", PIXL_F32, 4, s), *y = pixl_max_pool2d(ctx, x, &o);
            if (with_idx) pixl_keep(pixl_max_pool2d_indices(ctx, y));
            pixl_keep(y);
            CHECK_MSG(y && pixl_ctx_plan(ctx) == 0, "%s", pixl_ctx_error(ctx) ? pixl_ctx_error(ctx) : pixl_last_error());
            memcpy(pixl_tensor_data(x), v, sizeof(float) * (size_t)n);
            CHECK_OK(pixl_forward(ctx));
            m = (long)pixl_tensor_numel(y);
            res[with_idx] = malloc(sizeof(float) * (size_t)m);
            memcpy(res[with_idx], pixl_tensor_data(y), sizeof(float) * (size_t)m);
            pixl_ctx_free(ctx);
        }
        long bad = 0;
        for (long i = 0; i < m; i++) {
            float a = res[0][i], b = res[1][i];
            if (!((isnan(a) && isnan(b)) || a == b)) bad++;
        }
        CHECK_MSG(bad == 0, "k%d s%d p%d ceil %d on %dx%d: %ld of %ld outputs differ", cs[t].k, cs[t].s, cs[t].p,
                  cs[t].ceil, cs[t].h, cs[t].w, bad, m);
        free(res[0]);
        free(res[1]);
        free(v);
    }
}
