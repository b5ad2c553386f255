/* test_models.c — models built by name match their PyTorch definitions
 * (../shared/anchors/seg_models.py) in eval mode: parameter count, names
 * (the state_dict loads without renaming) and forward output (rel 1e-3).
 * References: scripts/ref/make_model_ref.py -> tests/ref/models/. */
#include <stdlib.h>
#include <string.h>

#include "pixl_impl.h" /* the dropout nodes of a built graph */
#include "test.h"

static void model_parity(const char *arch)
{
    char path[256];
    snprintf(path, sizeof path, "tests/ref/models/%s.safetensors", arch);
    pixl_st_file *f = pixl_st_open(path);
    CHECK_MSG(f != NULL, "%s", pixl_last_error());
    if (!f) return;
    int xi = pixl_st_find(f, "input"), yi = pixl_st_find(f, "output");
    pixl_params *P = pixl_params_new();
    pixl_ctx *ctx = pixl_ctx_new(P, PIXL_MODE_EVAL);
    pixl_tensor *x = pixl_input(ctx, "input", PIXL_F32, 4, pixl_st_shape(f, xi));
    pixl_model_opts o = {.n_classes = atoi(pixl_st_meta(f, "n_classes")), .width = strtof(pixl_st_meta(f, "width"), NULL)};
    pixl_tensor *y = pixl_model_build(ctx, arch, x, &o);
    CHECK_MSG(y != NULL, "%s: %s", arch, pixl_ctx_error(ctx));
    if (y) {
        CHECK_OK(pixl_ctx_plan(ctx));
        /* every tensor of the state_dict, and nothing else, is a pixl parameter or buffer */
        int n_state = 0;
        int64_t ref_params = 0;
        for (int i = 0; i < pixl_st_count(f); i++) {
            const char *nm = pixl_st_name(f, i);
            if (!strcmp(nm, "input") || !strcmp(nm, "output")) continue;
            n_state++;
            int k = pixl_params_find(P, nm);
            CHECK_MSG(k >= 0, "%s: pixl has no '%s'", arch, nm);
            if (k >= 0 && pixl_params_kind(P, k) == PIXL_PARAM) ref_params += pixl_st_numel(f, i);
        }
        CHECK_MSG(n_state == pixl_params_count(P), "%s: %d tensors in the state_dict, %d in pixl", arch, n_state,
                  pixl_params_count(P));
        CHECK_MSG(ref_params == pixl_params_total(P), "%s: %lld parameters in PyTorch, %lld in pixl", arch,
                  (long long)ref_params, (long long)pixl_params_total(P));
        CHECK_OK(pixl_checkpoint_load(P, path, 1));
        pixl_st_read_f32(f, xi, pixl_tensor_data(x));
        CHECK_OK(pixl_forward(ctx));
        long n = (long)pixl_st_numel(f, yi);
        CHECK(n == pixl_tensor_numel(y));
        float *ref = malloc(sizeof(float) * (size_t)n), mx = 0;
        pixl_st_read_f32(f, yi, ref);
        for (long i = 0; i < n; i++) mx = fabsf(ref[i]) > mx ? fabsf(ref[i]) : mx;
        CHECK_ALLCLOSE(arch, pixl_tensor_data(y), ref, n, 1e-3, 1e-4 * mx);
        free(ref);
    }
    pixl_ctx_free(ctx);
    pixl_params_free(P);
    pixl_st_close(f);
}

PIXL_TEST(model_enet_matches_pytorch) { model_parity("enet"); }
PIXL_TEST(model_unet_matches_pytorch) { model_parity("unet"); }
PIXL_TEST(model_segnet_basic_matches_pytorch) { model_parity("segnet_basic"); }

PIXL_TEST(model_unknown_name_lists_known)
{
    pixl_ctx *ctx = pixl_ctx_new(NULL, PIXL_MODE_EVAL);
    int64_t s[4] = {1, 3, 32, 32};
    pixl_tensor *x = pixl_input(ctx, "x", PIXL_F32, 4, s);
    CHECK(pixl_model_build(ctx, "enet2", x, NULL) == NULL);
    CHECK(strstr(pixl_ctx_error(ctx), "enet2") && strstr(pixl_ctx_error(ctx), "segnet_basic"));
    pixl_ctx_free(ctx);
}

/* Every ENet parameter gradient of a class-weighted, ignoring cross-entropy
 * equals PyTorch's (float64) in eval-mode statistics: the backward of every op
 * the CamVid anchor network uses (PReLU, asymmetric/dilated/transposed convs,
 * max-unpool, BN). Reference: scripts/ref/make_enet_grad_ref.py. */
/* Compare got (parameter i of P) with the reference tensor prefix + its name in
 * f: relative tolerance rtol, absolute atol_rel * max|ref| + atol. Returns 1
 * when the reference exists (a missing one fails the test). */
static int check_ref(pixl_st_file *f, const char *prefix, pixl_params *P, int i, const float *got, double rtol,
                     double atol_rel, double atol)
{
    char nm[300];
    snprintf(nm, sizeof nm, "%s%s", prefix, pixl_params_name(P, i));
    int ri = pixl_st_find(f, nm);
    CHECK_MSG(ri >= 0, "no reference for %s", nm);
    if (ri < 0) return 0;
    long n = (long)pixl_params_numel(P, i);
    float *ref = malloc(sizeof(float) * (size_t)n), mx = 0;
    pixl_st_read_f32(f, ri, ref);
    for (long k = 0; k < n; k++) mx = fabsf(ref[k]) > mx ? fabsf(ref[k]) : mx;
    CHECK_ALLCLOSE(nm, got, ref, n, rtol, atol_rel * mx + atol);
    free(ref);
    return 1;
}

PIXL_TEST(model_enet_gradients_match_pytorch)
{
    const char *path = "tests/ref/models/enet_grad.safetensors";
    pixl_st_file *f = pixl_st_open(path);
    CHECK_MSG(f != NULL, "%s", pixl_last_error());
    if (!f) return;
    int xi = pixl_st_find(f, "input"), yi = pixl_st_find(f, "labels"), wi = pixl_st_find(f, "class_weights"),
        li = pixl_st_find(f, "loss");
    pixl_params *P = pixl_params_new();
    pixl_ctx *ctx = pixl_ctx_new(P, PIXL_MODE_EVAL_GRAD);
    pixl_tensor *x = pixl_input(ctx, "input", PIXL_F32, 4, pixl_st_shape(f, xi));
    pixl_tensor *y = pixl_input(ctx, "labels", PIXL_I32, 3, pixl_st_shape(f, yi));
    float cw[5];
    pixl_st_read_f32(f, wi, cw);
    int64_t ws[1] = {5};
    pixl_model_opts o = {.n_classes = 5};
    pixl_tensor *logits = pixl_model_build(ctx, "enet", x, &o);
    pixl_tensor *L = logits ? pixl_cross_entropy(ctx, logits, y, pixl_constant(ctx, "w", PIXL_F32, 1, ws, cw),
                                                 &(pixl_ce_opts){.ignore = 1, .ignore_index = 255})
                            : NULL;
    CHECK_MSG(L != NULL, "%s", pixl_ctx_error(ctx));
    if (L) {
        CHECK_OK(pixl_ctx_plan(ctx));
        /* the state_dict tensors (not input/labels/loss/grad.*) */
        CHECK_OK(pixl_checkpoint_load(P, path, 1)); /* extra: input, labels, grads */
        pixl_st_read_f32(f, xi, pixl_tensor_data(x));
        pixl_st_read_i32(f, yi, pixl_tensor_data(y));
        pixl_params_zero_grad(P);
        CHECK_OK(pixl_forward(ctx));
        CHECK_OK(pixl_backward(ctx, L));
        double ref_loss;
        pixl_st_read_f64(f, li, &ref_loss);
        CHECK_NEAR(((float *)pixl_tensor_data(L))[0], ref_loss, 1e-4 * ref_loss);
        int checked = 0;
        for (int p = 0; p < pixl_params_count(P); p++) {
            if (pixl_params_kind(P, p) != PIXL_PARAM) continue;
            checked += check_ref(f, "grad.", P, p, pixl_params_grad(P, p), 1e-3, 1e-3, 1e-9);
        }
        CHECK(checked > 300);
    }
    pixl_ctx_free(ctx);
    pixl_params_free(P);
    pixl_st_close(f);
}

/* PyTorch's dropout with p = 0 in a TRAIN graph (the reference trains so):
 * every dropout node of ctx keeps all units, y = x * 1 */
static void keep_all_units(pixl_ctx *ctx)
{
    for (int i = 0; i < ctx->n_nodes; i++) {
        pixl_tensor *n = ctx->nodes[i];
        if (n->def && (!strcmp(n->def->name, "dropout") || !strcmp(n->def->name, "dropout2d")))
            PIXL_PARAMS(n, pixl_dropout_params)->p = 0;
    }
}

/* ENet trains as PyTorch does at the anchor's input size (176x240, so the
 * dilated 3x3 convs of stages 2-3 see 22x30 maps with taps inside and outside):
 * TRAIN mode (batch statistics, running-stat updates), dropout off on both
 * sides, class-weighted cross-entropy ignoring void (11), Adam 5e-4 with L2
 * weight decay 2e-4 -- the recipe of ../shared/anchors/camvid_torch_train.py.
 * The loss of every step must follow PyTorch's float64 trajectory as closely
 * as PyTorch's own float32 run does (the float32/float64 gap at each step,
 * times 4, at least 1e-3), and the running statistics after step 0 within
 * 1e-4. Reference: scripts/ref/make_enet_train_ref.py; PIXL_ENET_TRAIN_REF
 * points the test at another file of that script (the 40-step CamVid run of
 * docs/benchmarks.md) and prints every step. */
PIXL_TEST(model_enet_train_steps_match_pytorch)
{
    const char *env = getenv("PIXL_ENET_TRAIN_REF"), *path = env && *env ? env : "tests/ref/models/enet_train.safetensors";
    pixl_st_file *f = pixl_st_open(path);
    CHECK_MSG(f != NULL, "%s", pixl_last_error());
    if (!f) return;
    int xi = pixl_st_find(f, "input"), yi = pixl_st_find(f, "labels"), l64i = pixl_st_find(f, "loss64"),
        l32i = pixl_st_find(f, "loss32");
    CHECK(xi >= 0 && yi >= 0 && l64i >= 0 && l32i >= 0 && pixl_st_ndim(f, xi) == 5);
    if (xi < 0 || yi < 0 || l64i < 0 || l32i < 0 || pixl_st_ndim(f, xi) != 5) return pixl_st_close(f);
    const int64_t *xs = pixl_st_shape(f, xi);
    const int64_t NB = xs[0], B = xs[1], H = xs[3], W = xs[4], S = pixl_st_numel(f, l64i);
    const size_t xn = (size_t)(B * 3 * H * W), yn = (size_t)(B * H * W);
    float *X = malloc(sizeof(float) * xn * NB);
    int32_t *Y = malloc(sizeof(int32_t) * yn * NB);
    double *l64 = malloc(sizeof(double) * S), *l32 = malloc(sizeof(double) * S);
    float cw[11];
    pixl_st_read_f32(f, xi, X);
    pixl_st_read_i32(f, yi, Y);
    pixl_st_read_f64(f, l64i, l64);
    pixl_st_read_f64(f, l32i, l32);
    pixl_st_read_f32(f, pixl_st_find(f, "class_weights"), cw);

    pixl_params *P = pixl_params_new();
    pixl_ctx *ctx = pixl_ctx_new(P, PIXL_MODE_TRAIN);
    int64_t s4[4] = {B, 3, H, W}, s3[3] = {B, H, W}, ws[1] = {11};
    pixl_tensor *x = pixl_input(ctx, "input", PIXL_F32, 4, s4), *y = pixl_input(ctx, "labels", PIXL_I32, 3, s3);
    pixl_tensor *logits = pixl_model_build(ctx, "enet", x, &(pixl_model_opts){.n_classes = 11});
    keep_all_units(ctx);
    pixl_tensor *L = logits ? pixl_cross_entropy(ctx, logits, y, pixl_constant(ctx, "w", PIXL_F32, 1, ws, cw),
                                                 &(pixl_ce_opts){.ignore = 1, .ignore_index = 11})
                            : NULL;
    CHECK_MSG(L != NULL, "%s", pixl_ctx_error(ctx));
    pixl_optim *opt = NULL;
    if (L) {
        CHECK_OK(pixl_ctx_plan(ctx));
        CHECK_OK(pixl_checkpoint_load(P, path, 1)); /* the initial state_dict; the rest is extra */
        opt = pixl_optim_new(P, &(pixl_optim_opts){.kind = PIXL_OPTIM_ADAM, .lr = 5e-4f, .weight_decay = 2e-4f});
        double worst = 0, worst32 = 0;
        for (int64_t s = 0; s < S && opt; s++) {
            memcpy(pixl_tensor_data(x), X + (size_t)(s % NB) * xn, sizeof(float) * xn);
            memcpy(pixl_tensor_data(y), Y + (size_t)(s % NB) * yn, sizeof(int32_t) * yn);
            CHECK_OK(pixl_forward(ctx));
            const double l = ((float *)pixl_tensor_data(L))[0], rel = fabs(l - l64[s]) / l64[s],
                         rel32 = fabs(l32[s] - l64[s]) / l64[s], tol = fmax(1e-3, 4 * rel32);
            if (env) printf("  step %3lld  pixl %.6f  torch f64 %.6f  f32 %.6f   |pixl-f64| %.1e  |f32-f64| %.1e\n",
                            (long long)s, l, l64[s], l32[s], rel, rel32);
            CHECK_MSG(rel <= tol, "step %lld: loss %.6f, PyTorch float64 %.6f (rel %.2g > %.2g)", (long long)s, l,
                      l64[s], rel, tol);
            worst = fmax(worst, rel);
            worst32 = fmax(worst32, rel32);
            pixl_params_zero_grad(P);
            CHECK_OK(pixl_backward(ctx, L));
            CHECK_OK(pixl_optim_step(opt));
            if (s) continue;
            int checked = 0; /* running statistics after the first step */
            for (int i = 0; i < pixl_params_count(P); i++) {
                if (pixl_params_dtype(P, i) != PIXL_F32 || !strstr(pixl_params_name(P, i), "running_")) continue;
                checked += check_ref(f, "stats1.", P, i, pixl_params_data(P, i), 1e-4, 1e-4, 0);
            }
            CHECK(checked == 168); /* 84 BatchNorm layers */
        }
        if (env) printf("  %lld steps: worst |pixl-f64| %.2e, worst |torch f32-f64| %.2e\n", (long long)S, worst, worst32);
    }
    pixl_optim_free(opt);
    pixl_ctx_free(ctx);
    pixl_params_free(P);
    free(X), free(Y), free(l64), free(l32);
    pixl_st_close(f);
}
