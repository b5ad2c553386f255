/* test_models.c — models built by name match their PyTorch definitions
 * (../shared/anchors/seg_models.py) in eval mode: parameter count, names
 * (the state_dict loads without renaming) and forward output (rel 1e-3).
 * References: scripts/ref/make_model_ref.py -> tests/ref/models/. */
#include <stdlib.h>
#include <string.h>

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
            char gname[300];
            snprintf(gname, sizeof gname, "grad.%s", pixl_params_name(P, p));
            int gi = pixl_st_find(f, gname);
            CHECK_MSG(gi >= 0, "no reference for %s", gname);
            if (gi < 0) continue;
            long n = (long)pixl_params_numel(P, p);
            float *ref = malloc(sizeof(float) * (size_t)n), mx = 0;
            pixl_st_read_f32(f, gi, ref);
            for (long i = 0; i < n; i++) mx = fabsf(ref[i]) > mx ? fabsf(ref[i]) : mx;
            CHECK_ALLCLOSE(gname, pixl_params_grad(P, p), ref, n, 1e-3, 1e-3 * mx + 1e-9f);
            free(ref);
            checked++;
        }
        CHECK(checked > 300);
    }
    pixl_ctx_free(ctx);
    pixl_params_free(P);
    pixl_st_close(f);
}
