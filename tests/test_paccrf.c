/* test_paccrf.c — PacCRF / PacCRFLoose (src/nn/pac_crf.c): finite-difference
 * gradient checks w.r.t. the unary, the edge features (through the adapting
 * kernels and the blur pooling) and every learnable weight, for each compat
 * type and both the tied and the loose CRF; pacnet's parameter rules
 * (which weights are learnable, Potts' sign, the crf / crf_pool fillers);
 * the model-name grammar; errors. PyTorch parity: tests/ref/paccrf (made by
 * scripts/ref/make_paccrf_ref.py) and ../shared/golden/pac 12-16 through
 * `pixl check`. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gradcheck.h"
#include "test.h"

typedef struct gcrf {
    int B, C, H, W, F;
    pixl_crf_opts o;
    float *u, *f;
} gcrf;

static pixl_tensor *build_crf(pixl_ctx *ctx, void *ud)
{
    gcrf *c = ud;
    int64_t us[4] = {c->B, c->C, c->H, c->W}, fs[4] = {c->B, c->F, c->H, c->W};
    pixl_tensor *u = gc_input(ctx, "unary", 4, us, c->u), *f = gc_input(ctx, "feat", 4, fs, c->f);
    return pixl_nn_paccrf(ctx, "crf", u, 1, &f, &c->o);
}

/* returns the number of trainable parameters created */
static int run_gc(const char *what, gcrf *c)
{
    long nu = (long)c->B * c->C * c->H * c->W, nf = (long)c->B * c->F * c->H * c->W;
    c->u = malloc(sizeof(float) * (size_t)nu);
    c->f = malloc(sizeof(float) * (size_t)nf);
    pixl_test_fill_uniform(c->u, nu, -2, 2, 21);
    pixl_test_fill_uniform(c->f, nf, -1.2f, 1.2f, 22);
    pixl_params *P = pixl_params_new();
    pixl_params_seed(P, 7);
    gc_opts go = {.eps = 3e-3, .rtol = 3e-2, .atol = 3e-3};
    GRADCHECK(what, P, build_crf, c, &go);
    int np = 0;
    for (int i = 0; i < pixl_params_count(P); i++) np += pixl_params_kind(P, i) == PIXL_PARAM;
    pixl_params_free(P);
    free(c->u);
    free(c->f);
    return np;
}

PIXL_TEST(paccrf_gradcheck_every_compat_type)
{
    gcrf a = {.B = 2, .C = 3, .H = 6, .W = 7, .F = 3, .o = pixl_crf_defaults()};
    a.o.num_steps = 2;
    CHECK_OK(pixl_crf_add_term(&a.o, 3, 1, 1, PIXL_CRF_4D, 1, 1.0f));
    CHECK_OK(pixl_crf_add_term(&a.o, 3, 2, 2, PIXL_CRF_2D, 1, 0.7f));
    /* unary_weight, messengers.0 (4d), messengers.1 (shared), compat.1, 2 pairwise_weights (unused) */
    CHECK_MSG(run_gc("paccrf 4d + 2d(s) blur 2", &a) == 6, "trainable count");

    gcrf b = {.B = 1, .C = 3, .H = 7, .W = 5, .F = 2, .o = pixl_crf_defaults()};
    b.o.num_steps = 2;
    b.o.output = PIXL_CRF_LOG_SOFTMAX;
    CHECK_OK(pixl_crf_add_term(&b.o, 3, 1, 3, PIXL_CRF_POTTS, 0, 0.8f)); /* learnable pw, blur 3 */
    CHECK_OK(pixl_crf_add_term(&b.o, 3, 1, 1, PIXL_CRF_NA, 1, 1.0f));
    CHECK_OK(pixl_crf_add_term(&b.o, 3, 1, 1, PIXL_CRF_2D, 0, 1.2f)); /* fixed ones, learnable compat */
    run_gc("paccrf potts + na + 2d, log_softmax", &b);
}

PIXL_TEST(paccrf_gradcheck_loose_softmax)
{
    gcrf a = {.B = 1, .C = 3, .H = 5, .W = 6, .F = 3, .o = pixl_crf_defaults()};
    a.o.num_steps = 3;
    a.o.loose = 1;
    a.o.output = PIXL_CRF_SOFTMAX;
    CHECK_OK(pixl_crf_add_term(&a.o, 3, 1, 2, PIXL_CRF_POTTS, 1, 0.9f));
    CHECK_OK(pixl_crf_add_term(&a.o, 3, 1, 1, PIXL_CRF_4D, 1, 1.0f));
    /* per step: unary_weight, 2 messengers, 2 pairwise_weights */
    CHECK_MSG(run_gc("paccrf_loose potts(s) blur 2 + 4d, softmax", &a) == 15, "trainable count");
}

static const float *param_data(pixl_params *P, const char *name)
{
    int i = pixl_params_find(P, name);
    CHECK_MSG(i >= 0, "parameter %s missing", name);
    return i >= 0 ? pixl_params_data(P, i) : NULL;
}

PIXL_TEST(paccrf_parameters_follow_pacnet)
{
    pixl_crf_opts o = pixl_crf_defaults();
    o.num_steps = 1;
    o.perturbed_init = 0;
    CHECK_OK(pixl_crf_add_term(&o, 5, 1, 1, PIXL_CRF_4D, 1, 1.0f));
    CHECK_OK(pixl_crf_add_term(&o, 3, 1, 1, PIXL_CRF_POTTS, 0, 0.5f));
    CHECK_OK(pixl_crf_add_term(&o, 3, 1, 1, PIXL_CRF_2D, 1, 2.0f));
    pixl_params *P = pixl_params_new();
    pixl_ctx *ctx = pixl_ctx_new(P, PIXL_MODE_TRAIN);
    int64_t us[4] = {1, 4, 6, 6}, fs[4] = {1, 3, 6, 6};
    pixl_tensor *u = pixl_input(ctx, "u", PIXL_F32, 4, us), *f = pixl_input(ctx, "f", PIXL_F32, 4, fs);
    CHECK(pixl_nn_paccrf(ctx, "crf", u, 1, &f, &o) != NULL);
    /* crf filler: (1 - I) x normalised Gaussian(k/4) * k^2, centre 0 */
    const float *w0 = param_data(P, "crf.messengers.0.weight");
    if (w0) {
        CHECK_NEAR(w0[0 * 25 + 12], 0.0f, 0);       /* (0,0) diagonal: zero */
        CHECK_NEAR(w0[(0 * 4 + 1) * 25 + 12], 0.0f, 0); /* centre tap */
        double s = 0;
        for (int t = 0; t < 25; t++) s += w0[(0 * 4 + 1) * 25 + t];
        double g = 0, sig = 5 / 4.0;
        for (int a = -2; a <= 2; a++)
            for (int b = -2; b <= 2; b++) g += exp(-0.5 * (a * a + b * b) / (sig * sig));
        CHECK_NEAR(s, 25.0 * (1 - 1 / g), 1e-4); /* sum = k^2 minus the centre's share */
    }
    /* Potts without spatial filter: crf_pool buffer, learnable pairwise weight = -0.5 */
    int mi = pixl_params_find(P, "crf.messengers.1.weight");
    CHECK(mi >= 0 && pixl_params_kind(P, mi) == PIXL_BUFFER);
    const float *pw1 = param_data(P, "crf.pairwise_weights.1");
    if (pw1) CHECK_NEAR(pw1[0], -0.5f, 0);
    const float *pw2 = param_data(P, "crf.pairwise_weights.2");
    if (pw2) CHECK_NEAR(pw2[0], 2.0f, 0);
    const float *cw = param_data(P, "crf.compat.2.weight");
    if (cw) {
        CHECK_NEAR(cw[0], 0.0f, 0);
        CHECK_NEAR(cw[1], 1.0f, 0);
    }
    CHECK(pixl_params_find(P, "crf.compat.0.weight") < 0);
    const float *uw = param_data(P, "crf.unary_weight");
    if (uw) CHECK_NEAR(uw[0], 1.0f, 0);
    pixl_ctx_free(ctx);
    pixl_params_free(P);
}

/* Only Potts without a spatial filter uses its pairwise weight: changing an
 * unused one leaves the output unchanged, changing the used one does not. */
PIXL_TEST(paccrf_pairwise_weight_used_only_for_potts_without_filter)
{
    pixl_crf_opts o = pixl_crf_defaults();
    o.num_steps = 2;
    CHECK_OK(pixl_crf_add_term(&o, 3, 1, 1, PIXL_CRF_4D, 1, 1.0f));
    CHECK_OK(pixl_crf_add_term(&o, 3, 1, 1, PIXL_CRF_POTTS, 0, 0.5f));
    pixl_params *P = pixl_params_new();
    pixl_params_seed(P, 3);
    pixl_ctx *ctx = pixl_ctx_new(P, PIXL_MODE_EVAL);
    int64_t us[4] = {1, 3, 5, 6}, fs[4] = {1, 2, 5, 6};
    pixl_tensor *u = pixl_input(ctx, "u", PIXL_F32, 4, us), *f = pixl_input(ctx, "f", PIXL_F32, 4, fs);
    pixl_tensor *y = pixl_keep(pixl_nn_paccrf(ctx, "", u, 1, &f, &o));
    CHECK_OK(pixl_ctx_plan(ctx));
    pixl_test_fill_uniform(pixl_tensor_data(u), 90, -1, 1, 1);
    pixl_test_fill_uniform(pixl_tensor_data(f), 60, -1, 1, 2);
    float ref[90], out[90];
    CHECK_OK(pixl_forward(ctx));
    memcpy(ref, pixl_tensor_data(y), sizeof ref);
    float *pw0 = pixl_params_data(P, pixl_params_find(P, "pairwise_weights.0"));
    pw0[0] = 7.0f;
    CHECK_OK(pixl_forward(ctx));
    memcpy(out, pixl_tensor_data(y), sizeof out);
    CHECK(memcmp(ref, out, sizeof ref) == 0);
    float *pw1 = pixl_params_data(P, pixl_params_find(P, "pairwise_weights.1"));
    pw1[0] = 3.0f;
    CHECK_OK(pixl_forward(ctx));
    double diff = 0;
    for (int i = 0; i < 90; i++) diff += fabs(((const float *)pixl_tensor_data(y))[i] - (double)ref[i]);
    CHECK_MSG(diff > 1e-3, "the Potts weight had no effect (%g)", diff);
    pixl_ctx_free(ctx);
    pixl_params_free(P);
}

PIXL_TEST(paccrf_name_grammar)
{
    pixl_crf_opts o;
    CHECK_OK(pixl_crf_parse("crfi5p4d5641p4d5161", &o));
    CHECK(o.num_steps == 5 && !o.loose && o.n_terms == 2);
    CHECK(o.terms[0].compat == PIXL_CRF_4D && o.terms[0].kernel_size == 5 && o.terms[0].dilation == 64 &&
          o.terms[0].blur == 1);
    CHECK(o.terms[1].dilation == 16 && o.terms[1].blur == 1 && o.terms[1].weight == 1.0f);
    CHECK_OK(pixl_crf_parse("crfi3lp0ds3124p2d3112pna311", &o));
    CHECK(o.num_steps == 3 && o.loose && o.n_terms == 3);
    CHECK(o.terms[0].compat == PIXL_CRF_POTTS && o.terms[0].spatial_filter && o.terms[0].dilation == 12 &&
          o.terms[0].blur == 4);
    CHECK(o.terms[1].compat == PIXL_CRF_2D && !o.terms[1].spatial_filter && o.terms[1].dilation == 11 &&
          o.terms[1].blur == 2);
    CHECK(o.terms[2].compat == PIXL_CRF_NA && o.terms[2].kernel_size == 3);
    CHECK_OK(pixl_crf_parse("crf", &o)); /* default p4d5161, 5 steps */
    CHECK(o.num_steps == 5 && o.n_terms == 1 && o.terms[0].dilation == 16);
    const char *bad[] = {"crx", "crfi", "crfi5p5d5161", "crfp4d51", "crfp4d4161", "crfi5x", "crfp4d5160", NULL};
    for (int i = 0; bad[i]; i++) {
        CHECK_MSG(pixl_crf_parse(bad[i], &o) == PIXL_ERR_ARG, "'%s' accepted", bad[i]);
        CHECK_MSG(strstr(pixl_last_error(), bad[i]) != NULL, "'%s': message '%s' does not name the spec", bad[i],
                  pixl_last_error());
    }
}

PIXL_TEST(paccrf_errors)
{
    pixl_params *P = pixl_params_new();
    pixl_ctx *ctx = pixl_ctx_new(P, PIXL_MODE_EVAL);
    int64_t us[4] = {1, 3, 5, 6}, fs[4] = {1, 2, 5, 7};
    pixl_tensor *u = pixl_input(ctx, "u", PIXL_F32, 4, us), *f = pixl_input(ctx, "f", PIXL_F32, 4, fs);
    pixl_crf_opts o = pixl_crf_defaults();
    CHECK_OK(pixl_crf_add_term(&o, 3, 1, 1, PIXL_CRF_4D, 1, 1.0f));
    CHECK(pixl_nn_paccrf(ctx, "crf", u, 1, &f, &o) == NULL); /* 5x7 features for a 5x6 unary */
    CHECK(pixl_ctx_error(ctx) && strstr(pixl_ctx_error(ctx), "edge features"));
    pixl_ctx_free(ctx);
    ctx = pixl_ctx_new(P, PIXL_MODE_EVAL);
    u = pixl_input(ctx, "u", PIXL_F32, 4, us);
    CHECK(pixl_nn_paccrf(ctx, "crf", u, 0, NULL, &o) == NULL);
    CHECK(pixl_ctx_error(ctx) && strstr(pixl_ctx_error(ctx), "edge feature"));
    CHECK(pixl_crf_add_term(&o, 4, 1, 1, PIXL_CRF_4D, 1, 1.0f) == PIXL_ERR_ARG); /* even kernel */
    pixl_ctx_free(ctx);
    pixl_params_free(P);
}
