/* test_crf_models.c — the PAC models of the zoo: pacnet's model-name grammar
 * "<arch>[frozen]_<crf>" (src/models/crf_model.c) and the PacFCN hot-swap
 * "fcn8spac" (src/models/fcn.c): parameter names and counts, that the CRF
 * model's output equals a PacCRF applied by hand to the backbone's logits
 * with x / feat_scales edge features, that "frozen" leaves the backbone
 * without gradients while the CRF trains, and that the PacFCN starts equal
 * to FCN-8s with the same weights (guidance x 1e-4) but really uses its
 * adapting kernels. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "pixl_models.h"

static pixl_params *copy_into(pixl_params *dst, pixl_params *src)
{
    for (int i = 0; i < pixl_params_count(src); i++) {
        int j = pixl_params_find(dst, pixl_params_name(src, i));
        if (j >= 0 && pixl_params_numel(dst, j) == pixl_params_numel(src, i) &&
            pixl_params_dtype(src, i) == PIXL_F32)
            memcpy(pixl_params_data(dst, j), pixl_params_data(src, i), sizeof(float) * (size_t)pixl_params_numel(src, i));
    }
    return dst;
}

PIXL_TEST(crf_model_equals_paccrf_on_backbone_logits)
{
    const char *arch = "segnet_basic_crfi2p4d3121p0d3111";
    pixl_model_opts mo = {.n_classes = 4};
    pixl_model *m = pixl_model_create(arch, &mo, 3);
    CHECK(m != NULL);
    if (!m) return;
    pixl_params *P = pixl_model_params(m);
    CHECK(pixl_params_find(P, "crf.messengers.0.weight") >= 0 && pixl_params_find(P, "crf.unary_weight") >= 0 &&
          pixl_params_find(P, "feat_scales.0") >= 0 && pixl_params_find(P, "feat_scales.1") >= 0);
    float *sc = pixl_params_data(P, pixl_params_find(P, "feat_scales.1"));
    CHECK_NEAR(sc[0], 30.0f / (255.0f * 0.28f), 1e-6);
    sc[1] = 0.3f; /* per-channel scales really are per channel */
    /* the model */
    int64_t xs[4] = {1, 3, 16, 24};
    float x[3 * 16 * 24];
    pixl_test_fill_uniform(x, 3 * 16 * 24, -1.5f, 1.5f, 9);
    pixl_ctx *a = pixl_ctx_new(P, PIXL_MODE_EVAL);
    pixl_tensor *xa = pixl_input(a, "x", PIXL_F32, 4, xs);
    pixl_tensor *ya = pixl_keep(pixl_model_build(a, arch, xa, &mo));
    CHECK_OK(pixl_ctx_plan(a));
    memcpy(pixl_tensor_data(xa), x, sizeof x);
    CHECK_OK(pixl_forward(a));
    /* by hand: backbone, features, PacCRF */
    pixl_ctx *b = pixl_ctx_new(P, PIXL_MODE_EVAL);
    pixl_tensor *xb = pixl_input(b, "x", PIXL_F32, 4, xs);
    pixl_tensor *u = pixl_model_build(b, "segnet_basic", xb, &mo);
    pixl_tensor *f[2];
    for (int t = 0; t < 2; t++) {
        char nm[32];
        snprintf(nm, sizeof nm, "feat_scales.%d", t);
        int64_t s3[3] = {3, 1, 1};
        f[t] = pixl_mul(b, xb, pixl_reshape(b, pixl_reciprocal(b, pixl_param_ref(b, nm)), 3, s3));
    }
    pixl_crf_opts co;
    CHECK_OK(pixl_crf_parse("crfi2p4d3121p0d3111", &co));
    pixl_tensor *yb = pixl_keep(pixl_nn_paccrf(b, "crf", u, 2, f, &co));
    CHECK_OK(pixl_ctx_plan(b));
    memcpy(pixl_tensor_data(xb), x, sizeof x);
    CHECK_OK(pixl_forward(b));
    CHECK_ALLCLOSE("crf model vs by hand", pixl_tensor_data(ya), pixl_tensor_data(yb), pixl_tensor_numel(ya), 0, 0);
    pixl_ctx_free(a);
    pixl_ctx_free(b);
    pixl_model_free(m);
}

PIXL_TEST(crf_model_frozen_backbone_gets_no_gradient)
{
    const char *arch = "enetfrozen_crfi1p4d3111";
    pixl_model_opts mo = {.n_classes = 3};
    pixl_model *m = pixl_model_create(arch, &mo, 1);
    CHECK(m != NULL);
    if (!m) return;
    pixl_params *P = pixl_model_params(m);
    int frozen = 0, crf = 0;
    for (int i = 0; i < pixl_params_count(P); i++) {
        const char *n = pixl_params_name(P, i);
        int is_crf = !strncmp(n, "crf.", 4) || !strncmp(n, "feat_scales.", 12);
        crf += is_crf;
        frozen += pixl_params_frozen(P, i);
        if (is_crf) CHECK_MSG(!pixl_params_frozen(P, i), "%s frozen", n);
        else if (pixl_params_kind(P, i) == PIXL_PARAM) CHECK_MSG(pixl_params_frozen(P, i), "%s not frozen", n);
    }
    CHECK(crf == 4 && frozen > 50); /* unary_weight, messenger, pairwise weight, feat scale */
    pixl_ctx *c = pixl_ctx_new(P, PIXL_MODE_TRAIN);
    int64_t xs[4] = {2, 3, 32, 32};
    pixl_tensor *x = pixl_input(c, "x", PIXL_F32, 4, xs);
    pixl_tensor *y = pixl_model_build(c, arch, x, &mo);
    pixl_tensor *loss = pixl_sum(c, pixl_mul(c, y, y));
    CHECK_OK(pixl_ctx_plan(c));
    pixl_test_fill_uniform(pixl_tensor_data(x), 2 * 3 * 32 * 32, -1, 1, 4);
    pixl_params_zero_grad(P);
    CHECK_OK(pixl_forward(c));
    CHECK_OK(pixl_backward(c, loss));
    double gb = 0, gc = 0;
    for (int i = 0; i < pixl_params_count(P); i++) {
        if (pixl_params_kind(P, i) != PIXL_PARAM) continue;
        const float *g = pixl_params_grad(P, i);
        double s = 0;
        for (int64_t k = 0; g && k < pixl_params_numel(P, i); k++) s += fabs(g[k]);
        if (pixl_params_frozen(P, i)) gb += s;
        else if (strncmp(pixl_params_name(P, i), "crf.pairwise", 12)) gc += s;
    }
    CHECK_MSG(gb == 0, "frozen backbone has gradient %g", gb);
    CHECK_MSG(gc > 0, "the CRF has no gradient");
    pixl_ctx_free(c);
    pixl_model_free(m);
}

static void run_fcn(pixl_params *P, const char *arch, const float *x, float *out, int n)
{
    pixl_model_opts mo = {.n_classes = 3};
    pixl_ctx *c = pixl_ctx_new(P, PIXL_MODE_EVAL);
    int64_t xs[4] = {1, 3, 64, 64};
    pixl_tensor *xi = pixl_input(c, "x", PIXL_F32, 4, xs);
    pixl_tensor *y = pixl_keep(pixl_model_build(c, arch, xi, &mo));
    CHECK(y != NULL);
    if (!y || pixl_ctx_plan(c)) {
        pixl_ctx_free(c);
        return;
    }
    memcpy(pixl_tensor_data(xi), x, sizeof(float) * 3 * 64 * 64);
    CHECK_OK(pixl_forward(c));
    memcpy(out, pixl_tensor_data(y), sizeof(float) * (size_t)n);
    pixl_ctx_free(c);
}

PIXL_TEST(fcn8spac_hot_swap_starts_as_fcn8s)
{
    pixl_model_opts mo = {.n_classes = 3};
    pixl_model *pac = pixl_model_create("fcn8spac", &mo, 5), *fcn = pixl_model_create("fcn8s", &mo, 6);
    CHECK(pac && fcn);
    if (!pac || !fcn) goto done;
    pixl_params *Pp = pixl_model_params(pac), *Pf = pixl_model_params(fcn);
    CHECK(pixl_params_total(Pp) == pixl_params_total(Pf)); /* same names and shapes (upscore8 unused in the PacFCN) */
    /* random non-zero weights everywhere (FCN's zero-initialised scores would hide differences) */
    for (int i = 0; i < pixl_params_count(Pf); i++)
        if (pixl_params_kind(Pf, i) == PIXL_PARAM && strcmp(pixl_params_name(Pf, i), "upscore8.weight"))
            pixl_test_fill_uniform(pixl_params_data(Pf, i), pixl_params_numel(Pf, i), -0.05f, 0.05f, 100 + i);
    copy_into(Pp, Pf);
    int n = 3 * 64 * 64;
    float *x = malloc(sizeof(float) * (size_t)n), *yp = malloc(sizeof(float) * (size_t)n),
          *yf = malloc(sizeof(float) * (size_t)n), *y8 = malloc(sizeof(float) * (size_t)n);
    pixl_test_fill_uniform(x, n, -1, 1, 7);
    run_fcn(Pp, "fcn8spac", x, yp, n);
    /* FCN-8s's upscore8 keeps its bilinear initialisation, which equals the PacFCN's bilinear x8
     * interpolation away from the border */
    run_fcn(Pf, "fcn8s", x, yf, n);
    double num = 0, den = 0;
    for (int k = 0; k < 3; k++)
        for (int yy = 8; yy < 56; yy++)
            for (int xx = 8; xx < 56; xx++) {
                int i = (k * 64 + yy) * 64 + xx;
                num += fabs(yp[i] - yf[i]);
                den += fabs(yf[i]);
            }
    CHECK_MSG(num / den < 1e-3, "PacFCN differs from FCN-8s at init: %g relative", num / den);
    /* the adapting kernels matter once the guidance scale grows: x * 1e4 makes the guide 1e4 larger */
    for (int i = 0; i < n; i++) x[i] *= 300.0f;
    run_fcn(Pp, "fcn8spac", x, yp, n);
    run_fcn(Pf, "fcn8s", x, y8, n);
    num = den = 0;
    for (int i = 0; i < n; i++) {
        num += fabs(yp[i] - y8[i]);
        den += fabs(y8[i]);
    }
    CHECK_MSG(num / den > 1e-2, "PacFCN ignores its guidance (%g)", num / den);
    free(x);
    free(yp);
    free(yf);
    free(y8);
done:
    pixl_model_free(pac);
    pixl_model_free(fcn);
}

PIXL_TEST(crf_model_name_errors)
{
    pixl_model_opts mo = {.n_classes = 3};
    CHECK(pixl_model_create("enet_crfq", &mo, 1) == NULL);
    CHECK(strstr(pixl_last_error(), "enet_crfq") != NULL);
    CHECK(pixl_model_create("nosuch_crfi2", &mo, 1) == NULL);
    CHECK(strstr(pixl_last_error(), "nosuch") != NULL);
    CHECK(pixl_model_create("fcn8spac", &(pixl_model_opts){.n_classes = 3, .variant = "pad100"}, 1) == NULL);
}

/* every parameter equal by name, value and frozen flag, in the same order */
static void check_same_params(pixl_params *a, pixl_params *b)
{
    CHECK(pixl_params_count(a) == pixl_params_count(b));
    for (int i = 0; i < pixl_params_count(a) && i < pixl_params_count(b); i++) {
        CHECK_MSG(!strcmp(pixl_params_name(a, i), pixl_params_name(b, i)), "%s vs %s", pixl_params_name(a, i),
                  pixl_params_name(b, i));
        CHECK(pixl_params_numel(a, i) == pixl_params_numel(b, i) && pixl_params_dtype(a, i) == pixl_params_dtype(b, i));
        CHECK_MSG(pixl_params_frozen(a, i) == pixl_params_frozen(b, i), "frozen differs at %s", pixl_params_name(a, i));
        if (pixl_params_numel(a, i) == pixl_params_numel(b, i) && pixl_params_dtype(a, i) == PIXL_F32)
            CHECK_MSG(!memcmp(pixl_params_data(a, i), pixl_params_data(b, i),
                              sizeof(float) * (size_t)pixl_params_numel(a, i)),
                      "values differ at %s", pixl_params_name(a, i));
    }
}

static void predict(pixl_model *m, const float *x, float *out)
{
    CHECK_OK(pixl_model_predict(m, x, 1, 32, 48, 0, out, NULL));
}

/* pixl_model_opts.crf (model.options.crf) on "enet" is the network of the
 * compact name: same parameters, names, initialisation, frozen backbone and
 * outputs; both save and load back (the typed CRF from the "crf" metadata,
 * the compact name from "arch") */
PIXL_TEST(crf_model_typed_options_equal_compact_name)
{
    pixl_crf_opts co = pixl_crf_defaults();
    CHECK_OK(pixl_crf_set(&co, "steps", "5"));
    CHECK_OK(pixl_crf_set(&co, "terms", "[4d:5:16:1, 4d:5:4:1]"));
    pixl_model_opts mt = {.n_classes = 4, .crf = &co, .crf_frozen = 1}, mc = {.n_classes = 4};
    pixl_model *a = pixl_model_create("enetfrozen_crfi5p4d5161p4d541", &mc, 7);
    pixl_model *b = pixl_model_create("enet", &mt, 7);
    CHECK(a && b);
    if (!a || !b) goto done;
    co.num_steps = 1; /* the model holds its own copy */
    check_same_params(pixl_model_params(a), pixl_model_params(b));
    CHECK(pixl_params_frozen(pixl_model_params(b), pixl_params_find(pixl_model_params(b), "initial.conv.weight")));
    CHECK(!pixl_params_frozen(pixl_model_params(b), pixl_params_find(pixl_model_params(b), "crf.messengers.0.weight")));
    const pixl_model_opts *bo = pixl_model_options(b);
    CHECK(!strcmp(pixl_model_arch(b), "enet") && bo->crf && bo->crf->num_steps == 5 && bo->crf_frozen == 1);
    static float x[3 * 32 * 48], ya[4 * 32 * 48], yb[4 * 32 * 48], yc[4 * 32 * 48];
    pixl_test_fill_uniform(x, 3 * 32 * 48, -1.5f, 1.5f, 5);
    predict(a, x, ya);
    predict(b, x, yb);
    CHECK(!memcmp(ya, yb, sizeof ya));
    /* save and load both */
    char pa[512], pb[512];
    snprintf(pa, sizeof pa, "%s/crf_compact.safetensors", pixl_test_tmpdir());
    snprintf(pb, sizeof pb, "%s/crf_typed.safetensors", pixl_test_tmpdir());
    CHECK_OK(pixl_model_save(a, pa, 0, NULL, NULL));
    CHECK_OK(pixl_model_save(b, pb, 0, NULL, NULL));
    pixl_model *la = pixl_model_load(pa), *lb = pixl_model_load(pb);
    CHECK_MSG(la && lb, "%s", pixl_last_error());
    if (la && lb) {
        CHECK(!strcmp(pixl_model_arch(la), "enetfrozen_crfi5p4d5161p4d541") && !pixl_model_options(la)->crf);
        const pixl_model_opts *lo = pixl_model_options(lb);
        CHECK(!strcmp(pixl_model_arch(lb), "enet") && lo->crf && lo->crf_frozen == 1);
        CHECK(lo->crf && lo->crf->num_steps == 5 && lo->crf->n_terms == 2 && lo->crf->terms[1].dilation == 4);
        check_same_params(pixl_model_params(la), pixl_model_params(lb));
        check_same_params(pixl_model_params(b), pixl_model_params(lb));
        predict(lb, x, yc);
        CHECK(!memcmp(yb, yc, sizeof yb));
        predict(la, x, yc);
        CHECK(!memcmp(ya, yc, sizeof ya));
    }
    pixl_model_free(la);
    pixl_model_free(lb);
done:
    pixl_model_free(a);
    pixl_model_free(b);
}

/* a CRF given twice, or without terms, is refused */
PIXL_TEST(crf_model_typed_options_errors)
{
    pixl_crf_opts co = pixl_crf_defaults();
    pixl_model_opts mo = {.n_classes = 4, .crf = &co};
    CHECK(pixl_model_create("segnet_basic", &mo, 1) == NULL);
    CHECK(strstr(pixl_last_error(), "no pairwise terms") != NULL);
    CHECK_OK(pixl_crf_set(&co, "terms", "4d:3:1:1"));
    CHECK(pixl_model_create("segnet_basic_crfi2p4d3121", &mo, 1) == NULL);
    CHECK(strstr(pixl_last_error(), "a CRF both in the name and in the options") != NULL);
    /* the CRF's keys round-trip through their text */
    char buf[256];
    pixl_crf_opts back;
    CHECK_OK(pixl_crf_set(&co, "output", "softmax"));
    CHECK_OK(pixl_crf_format(&co, buf, sizeof buf));
    CHECK(!strcmp(buf, "output=softmax;terms=4d:3:1:1"));
    CHECK_OK(pixl_crf_parse_pairs(buf, &back));
    CHECK(!memcmp(&back, &co, sizeof co));
    CHECK(pixl_crf_parse_pairs("terms=4d:3:1:1;stepz=2", &back) == PIXL_ERR_NOT_FOUND);
    CHECK(strstr(pixl_last_error(), "'crf.stepz'") != NULL);
}
