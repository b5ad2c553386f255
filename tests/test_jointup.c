/* test_jointup.c — joint-upsampling networks (src/models/pac_upsample.c):
 * finite-difference gradient check of PacJointUpsampleLite x4 and DJIF x4
 * w.r.t. the target and the guide (parameter gradients: PyTorch parity), of JBU
 * w.r.t. everything; JBU keeps constant targets constant; the name
 * parser; shape errors. PyTorch parity: tests/ref/jointup through `pixl check`
 * (scripts/ref/make_jointup_ref.py). */
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gradcheck.h"
#include "test.h"
#include "pixl_models.h"

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

static void run(const char *net, int C, int h, int w, int f, int freeze)
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
    if (freeze) pixl_params_set_frozen(P, "", 1);
    gc_opts go = {.eps = 3e-3, .rtol = 3e-2, .atol = 3e-3, .max_elems = 150};
    GRADCHECK(net, P, build_ju, &c, &go);
    pixl_params_free(P);
    free(c.t);
    free(c.g);
}

PIXL_TEST(jointup_gradcheck)
{
    run("pacjointupsample_lite_x4", 2, 2, 3, 4, 1);
    run("djif_x4", 1, 2, 2, 4, 1);
    /* JBU has no ReLU: its weight's gradient is checked too */
    run("jbu_5_2_0.5_x4", 2, 2, 3, 4, 0);
}

/* JBU's kernel is normalised over the taps that hit real low-resolution
 * samples, so with identity weights a constant target stays that constant
 * everywhere (borders included), whatever the guide and the scales. */
PIXL_TEST(jointup_jbu_keeps_constants)
{
    const char *nets[] = {"jbu_17_3_0.3_x8", "jbu_9_1_1_x8", "jbu_5_2_0_x4", NULL};
    for (int n = 0; nets[n]; n++) {
        pixl_jointup_opts o;
        CHECK_OK(pixl_jointup_parse(nets[n], &o));
        int f = o.factor, h = 3, w = 4;
        pixl_params *P = pixl_params_new();
        pixl_ctx *ctx = pixl_ctx_new(P, PIXL_MODE_EVAL);
        int64_t ts[4] = {1, 2, h, w}, gs[4] = {1, 3, h * f, w * f};
        pixl_tensor *t = pixl_input(ctx, "t", PIXL_F32, 4, ts), *g = pixl_input(ctx, "g", PIXL_F32, 4, gs);
        pixl_tensor *y = pixl_keep(pixl_nn_joint_upsample(ctx, "jbu", t, g, &o));
        CHECK(y != NULL);
        CHECK_OK(pixl_ctx_plan(ctx));
        float *td = pixl_tensor_data(t);
        for (int i = 0; i < 2 * h * w; i++) td[i] = i < h * w ? 0.75f : -2.0f;
        pixl_test_fill_uniform(pixl_tensor_data(g), 3L * h * f * w * f, -1, 1, 5 + n);
        CHECK_OK(pixl_forward(ctx));
        const int64_t *ys = pixl_tensor_shape(y);
        CHECK(ys[1] == 2 && ys[2] == h * f && ys[3] == w * f);
        const float *yd = pixl_tensor_data(y);
        double worst = 0;
        for (int64_t i = 0; i < 2L * h * f * w * f; i++) {
            double e = fabs(yd[i] - (i < (int64_t)h * f * w * f ? 0.75 : -2.0));
            if (e > worst) worst = e;
        }
        CHECK_MSG(worst < 1e-5, "%s: constant target changed by %g", nets[n], worst);
        pixl_ctx_free(ctx);
        pixl_params_free(P);
    }
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
    CHECK_OK(pixl_jointup_parse("JBU_17_2.5_0.25_x8", &o));
    CHECK(o.arch == PIXL_JU_JBU && o.factor == 8 && o.jbu_kernel == 17 && o.jbu_scale_color == 2.5f &&
          o.jbu_scale_space == 0.25f);
    const char *bad[] = {"pacjointupsample", "pacjointupsample_x3", "pacjointupsample_lite_x2", "jbu_x8", "djif_x8y",
                         "jbu_17_2_x8", "jbu_17_a_1_x8", "jbu_7_1_1_x8", "jbu_17_1_-1_x8", "jbu_17_1_1_2_x8", "jbu_16_1_1_x8", NULL};
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

int cmd_jointup(int argc, char **argv); /* tools/cmd_jointup.c */

/* `pixl jointup --method jbu --opt KEY=VALUE`: the keys of pixl_jointup_set;
 * an unknown key or a bad value exits with 2 before any data is read */
PIXL_TEST(jointup_cli_typed_options)
{
    static const char *const cases[][8] = {
        {"jointup", "--method", "jbu", "--opt", "kernl=17", "--root", "/nonexistent", NULL},
        {"jointup", "--method", "jbu", "--opt", "kernel=16", "--root", "/nonexistent", NULL},
        {"jointup", "--method", "jbu", "--opt", "scale_color=x", "--root", "/nonexistent", NULL},
        {"jointup", "--method", "jbu_17_2_0.25", "--opt", "factor=4", "--root", "/nonexistent", NULL},
        {"jointup", "--method", "bilinear", "--opt", "kernel=17", "--root", "/nonexistent", NULL},
        {"jointup", "--method", "djif", "--opt", "kernel", "--root", "/nonexistent", NULL},
    };
    static const char *const want[] = {"unknown key 'jointup.kernl' (did you mean 'kernel'? valid keys: arch, factor",
                                       "JBU kernel 16 must be odd", "jointup.scale_color: expected a number",
                                       "--opt factor: given by --factor", "method bilinear has no options",
                                       "--opt 'kernel': expected KEY=VALUE"};
    char ep[600];
    snprintf(ep, sizeof ep, "%s/jointup_stderr.txt", pixl_test_tmpdir());
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *argv[8];
        for (int j = 0; j < 8; j++) argv[j] = (char *)cases[i][j];
        fflush(stderr);
        int saved = dup(2), fd = open(ep, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) dup2(fd, 2);
        int rc = cmd_jointup(7, argv);
        fflush(stderr);
        if (saved >= 0) dup2(saved, 2), close(saved);
        if (fd >= 0) close(fd);
        CHECK_MSG(rc == 2, "case %zu (%s) exited %d", i, cases[i][4], rc);
        char err[1024] = "";
        FILE *f = fopen(ep, "r");
        if (f) {
            size_t n = fread(err, 1, sizeof err - 1, f);
            err[n] = 0;
            fclose(f);
        }
        CHECK_MSG(strstr(err, want[i]) != NULL, "case %zu: '%s' lacks '%s'", i, err, want[i]);
    }
    /* the unknown key's message names it and the valid keys */
    pixl_jointup_opts o = pixl_jointup_defaults();
    CHECK(pixl_jointup_set(&o, "kernl", "17") == PIXL_ERR_NOT_FOUND);
    CHECK(strstr(pixl_last_error(), "'jointup.kernl'") && strstr(pixl_last_error(), "did you mean 'kernel'") &&
          strstr(pixl_last_error(), "scale_color, scale_space"));
}
