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
