/* test_jointup.c — joint-upsampling networks (src/models/pac_upsample.c):
 * finite-difference gradient check of PacJointUpsampleLite x4 and DJIF x4
 * w.r.t. the target and the guide (parameter gradients: PyTorch parity); the name
 * parser; shape errors. PyTorch parity: tests/ref/jointup through `pixl check`
 * (scripts/ref/make_jointup_ref.py). */
#include <stdlib.h>
#include <string.h>

#include "gradcheck.h"
#include "test.h"

typedef struct { const char *net; int C, h, w, f; float *t, *g; int pre; } gju;

static pixl_tensor *build_ju(pixl_ctx *ctx, void *ud)
{
    gju *c = ud;
    pixl_jointup_opts o;
    if (pixl_jointup_parse(c->net, &o)) return NULL;
    int64_t ts[4] = {1, c->C, c->h, c->w}, gs[4] = {1, 3, c->h * c->f, c->w * c->f};
    if (c->pre) /* parameters only: plain inputs, so the gradcheck's input list stays untouched */
        return pixl_nn_joint_upsample(ctx, "", pixl_input(ctx, "target", PIXL_F32, 4, ts),
                                      pixl_input(ctx, "guide", PIXL_F32, 4, gs), &o);
    return pixl_nn_joint_upsample(ctx, "", gc_input(ctx, "target", 4, ts, c->t), gc_input(ctx, "guide", 4, gs, c->g), &o);
}

static void run(const char *net, int C, int h, int w, int f)
{
    gju c = {net, C, h, w, f, NULL, NULL, 0};
    long nt = (long)C * h * w, ng = 3L * h * f * w * f;
    c.t = malloc(sizeof(float) * (size_t)nt);
    c.g = malloc(sizeof(float) * (size_t)ng);
    pixl_test_fill_uniform(c.t, nt, -1, 1, 31);
    pixl_test_fill_uniform(c.g, ng, -1, 1, 32);
    pixl_params *P = pixl_params_new();
    pixl_params_seed(P, 9);
    /* parameters frozen: the check runs over the target and the guide. Bias
     * gradients move every pixel of a channel across ReLU kinks, which breaks
     * central differences; the parameter gradients are checked against
     * PyTorch instead (tests/ref/jointup/00 stores all of them). */
    pixl_ctx *pre = pixl_ctx_new(P, PIXL_MODE_EVAL);
    c.pre = 1;
    CHECK(build_ju(pre, &c) != NULL);
    c.pre = 0;
    pixl_ctx_free(pre);
    pixl_params_set_frozen(P, "", 1);
    gc_opts go = {.eps = 3e-3, .rtol = 3e-2, .atol = 3e-3, .max_elems = 150};
    GRADCHECK(net, P, build_ju, &c, &go);
    pixl_params_free(P);
    free(c.t);
    free(c.g);
}

PIXL_TEST(jointup_gradcheck)
{
    run("pacjointupsample_lite_x4", 2, 2, 3, 4);
    run("djif_x4", 1, 2, 2, 4);
}

PIXL_TEST(jointup_parse_and_errors)
{
    pixl_jointup_opts o;
    CHECK_OK(pixl_jointup_parse("pacjointupsample_lite_x16", &o));
    CHECK(o.arch == PIXL_JU_PAC_LITE && o.factor == 16);
    CHECK_OK(pixl_jointup_parse("pacjointupsample_x8", &o));
    CHECK(o.arch == PIXL_JU_PAC && o.factor == 8);
    CHECK_OK(pixl_jointup_parse("djif_x4", &o));
    CHECK(o.arch == PIXL_JU_DJIF && o.factor == 4);
    const char *bad[] = {"pacjointupsample", "pacjointupsample_x3", "pacjointupsample_lite_x2", "jbu_x8", "djif_x8y",
                         NULL};
    for (int i = 0; bad[i]; i++) CHECK_MSG(pixl_jointup_parse(bad[i], &o) == PIXL_ERR_ARG, "'%s' accepted", bad[i]);
    pixl_params *P = pixl_params_new();
    pixl_ctx *ctx = pixl_ctx_new(P, PIXL_MODE_EVAL);
    int64_t ts[4] = {1, 1, 4, 4}, gs[4] = {1, 3, 30, 32};
    pixl_tensor *t = pixl_input(ctx, "t", PIXL_F32, 4, ts), *g = pixl_input(ctx, "g", PIXL_F32, 4, gs);
    CHECK_OK(pixl_jointup_parse("pacjointupsample_lite_x8", &o));
    CHECK(pixl_nn_joint_upsample(ctx, "ju", t, g, &o) == NULL);
    CHECK(pixl_ctx_error(ctx) && strstr(pixl_ctx_error(ctx), "[1, 3, 30, 32]"));
    pixl_ctx_free(ctx);
    pixl_params_free(P);
}
