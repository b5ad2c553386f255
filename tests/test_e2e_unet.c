/* test_e2e_unet.c — end-to-end parity with PyTorch (llm.c style): a tiny
 * two-level U-Net (4 classes, two 32x32 images) built from the public API
 * with PyTorch's parameter names, loaded from the reference file that
 * scripts/ref/make_e2e_ref.py wrote. Checks step-0 logits, loss and every
 * parameter gradient, then the loss at each of 10 SGD-momentum steps and
 * 10 Adam steps (relative 1e-4). */
#include <stdlib.h>
#include <string.h>

#include "test.h"

#define REF "tests/ref/e2e/unet_tiny.safetensors"

static pixl_tensor *cbr(pixl_ctx *c, const char *conv, const char *bn, pixl_tensor *x, int out)
{
    pixl_conv2d_opts o = {.padding = {1, 1}};
    x = pixl_nn_conv2d(c, conv, x, out, 3, 3, &o, 1);
    if (bn) x = pixl_nn_batch_norm2d(c, bn, x, NULL);
    return pixl_relu(c, x);
}

/* returns logits; *loss the weighted CE with ignore 255 */
static pixl_tensor *tiny_unet(pixl_ctx *c, pixl_tensor *x, pixl_tensor *y, pixl_tensor **loss)
{
    pixl_tensor *e1 = cbr(c, "enc1.0", "enc1.1", x, 8);
    e1 = cbr(c, "enc1.3", "enc1.4", e1, 8);
    pixl_tensor *p = pixl_max_pool2d(c, e1, &(pixl_pool2d_opts){.kernel = {2, 2}});
    pixl_tensor *e2 = cbr(c, "enc2.0", "enc2.1", p, 16);
    pixl_tensor *u = pixl_nn_conv_transpose2d(c, "up", e2, 8, 2, 2, &(pixl_conv2d_opts){.stride = {2, 2}}, 1);
    pixl_tensor *cat[2] = {u, e1};
    pixl_tensor *d = cbr(c, "dec.0", NULL, pixl_concat(c, 2, cat, 1), 8);
    pixl_tensor *logits = pixl_nn_conv2d(c, "head", d, 4, 1, 1, NULL, 1);
    float w[4] = {1.0f, 2.0f, 0.5f, 1.5f};
    int64_t ws[1] = {4};
    pixl_tensor *cw = pixl_constant(c, "class_weight", PIXL_F32, 1, ws, w);
    *loss = pixl_cross_entropy(c, logits, y, cw, &(pixl_ce_opts){.ignore = 1, .ignore_index = 255});
    return logits;
}

typedef struct {
    pixl_st_file *f;
    pixl_params *P;
    pixl_ctx *ctx;
    pixl_tensor *x, *y, *logits, *loss;
} net;

static int load_init(net *n)
{
    for (int i = 0; i < pixl_params_count(n->P); i++) {
        int k = pixl_st_find(n->f, pixl_params_name(n->P, i));
        if (k < 0 || pixl_st_numel(n->f, k) != pixl_params_numel(n->P, i)) {
            pixl_test_fail(__FILE__, __LINE__, "reference lacks %s", pixl_params_name(n->P, i));
            return -1;
        }
        if (pixl_params_dtype(n->P, i) == PIXL_F32) pixl_st_read_f32(n->f, k, pixl_params_data(n->P, i));
        else pixl_st_read_i64(n->f, k, pixl_params_data(n->P, i));
    }
    return 0;
}

static int setup(net *n)
{
    memset(n, 0, sizeof *n);
    n->f = pixl_st_open(REF);
    if (!n->f) {
        pixl_test_fail(__FILE__, __LINE__, "%s", pixl_last_error());
        return -1;
    }
    n->P = pixl_params_new();
    n->ctx = pixl_ctx_new(n->P, PIXL_MODE_TRAIN);
    int64_t xs[4] = {2, 3, 32, 32}, ys[3] = {2, 32, 32};
    n->x = pixl_input(n->ctx, "input", PIXL_F32, 4, xs);
    n->y = pixl_input(n->ctx, "target", PIXL_I32, 3, ys);
    n->logits = pixl_keep(tiny_unet(n->ctx, n->x, n->y, &n->loss));
    if (!n->loss || pixl_ctx_plan(n->ctx)) {
        pixl_test_fail(__FILE__, __LINE__, "build: %s", pixl_last_error());
        return -1;
    }
    pixl_st_read_f32(n->f, pixl_st_find(n->f, "input"), pixl_tensor_data(n->x));
    pixl_st_read_i32(n->f, pixl_st_find(n->f, "target"), pixl_tensor_data(n->y));
    return load_init(n);
}

static void teardown(net *n)
{
    pixl_ctx_free(n->ctx);
    pixl_params_free(n->P);
    pixl_st_close(n->f);
}

static void read_ref(net *n, const char *name, float *out) { pixl_st_read_f32(n->f, pixl_st_find(n->f, name), out); }

PIXL_TEST(e2e_unet_step0_matches_pytorch)
{
    net n;
    if (setup(&n)) return teardown(&n);
    CHECK(pixl_params_total(n.P) == 4 * 0 + (8 * 3 * 9 + 8) + 16 + (8 * 8 * 9 + 8) + 16 + (16 * 8 * 9 + 16) + 32 +
                                        (16 * 8 * 4 + 8) + (8 * 16 * 9 + 8) + (4 * 8 + 4));
    CHECK_OK(pixl_forward(n.ctx));
    float ref[2 * 4 * 32 * 32], loss0;
    read_ref(&n, "logits0", ref);
    CHECK_ALLCLOSE("logits", pixl_tensor_data(n.logits), ref, 2 * 4 * 32 * 32, 1e-4, 1e-5);
    read_ref(&n, "loss0", &loss0);
    CHECK_NEAR(((float *)pixl_tensor_data(n.loss))[0], loss0, 1e-4 * loss0);
    pixl_params_zero_grad(n.P);
    CHECK_OK(pixl_backward(n.ctx, n.loss));
    int checked = 0;
    for (int i = 0; i < pixl_params_count(n.P); i++) {
        if (pixl_params_kind(n.P, i) != PIXL_PARAM) continue;
        char gn[256];
        snprintf(gn, sizeof gn, "grad.%s", pixl_params_name(n.P, i));
        long m = (long)pixl_params_numel(n.P, i);
        float *g = malloc(sizeof(float) * (size_t)m), mx = 0;
        read_ref(&n, gn, g);
        for (long k = 0; k < m; k++) mx = fabsf(g[k]) > mx ? fabsf(g[k]) : mx;
        /* relative to the tensor's largest gradient: float32 vs float64; the
         * floor covers biases before BatchNorm, whose exact gradient is 0 */
        CHECK_ALLCLOSE(gn, pixl_params_grad(n.P, i), g, m, 1e-3, 1e-4 * mx + 1e-8);
        free(g);
        checked++;
    }
    CHECK(checked == 18);
    teardown(&n);
}

static void train_steps(const char *what, const pixl_optim_opts *o, const char *ref_name)
{
    net n;
    if (setup(&n)) return teardown(&n);
    pixl_optim *opt = pixl_optim_new(n.P, o);
    float ref[10];
    read_ref(&n, ref_name, ref);
    for (int s = 0; s < 10; s++) {
        CHECK_OK(pixl_forward(n.ctx));
        float L = ((float *)pixl_tensor_data(n.loss))[0];
        CHECK_MSG(fabsf(L - ref[s]) <= 1e-4f * fabsf(ref[s]), "%s step %d: loss %.7f, PyTorch %.7f (rel %.2g)", what,
                  s, L, ref[s], fabs(L - ref[s]) / ref[s]);
        pixl_params_zero_grad(n.P);
        CHECK_OK(pixl_backward(n.ctx, n.loss));
        CHECK_OK(pixl_optim_step(opt));
    }
    pixl_optim_free(opt);
    teardown(&n);
}

PIXL_TEST(e2e_unet_10_sgd_momentum_steps_match_pytorch)
{
    train_steps("sgd", &(pixl_optim_opts){.kind = PIXL_OPTIM_SGD, .lr = 0.05f, .momentum = 0.9f, .weight_decay = 1e-4f},
                "sgd_losses");
}

PIXL_TEST(e2e_unet_10_adam_steps_match_pytorch)
{
    train_steps("adam", &(pixl_optim_opts){.kind = PIXL_OPTIM_ADAM, .lr = 1e-3f}, "adam_losses");
}

PIXL_TEST(e2e_unet_same_bits_1_and_2_threads)
{
    float out[2][2 * 4 * 32 * 32];
    float grads[2][64];
    for (int t = 0; t < 2; t++) {
        pixl_set_num_threads(t + 1);
        net n;
        if (setup(&n)) {
            teardown(&n);
            break;
        }
        CHECK_OK(pixl_forward(n.ctx));
        memcpy(out[t], pixl_tensor_data(n.logits), sizeof out[t]);
        pixl_params_zero_grad(n.P);
        CHECK_OK(pixl_backward(n.ctx, n.loss));
        int64_t m;
        float *g = pixl_params_grad_flat(n.P, &m);
        for (int k = 0; k < 64; k++) grads[t][k] = g[(k * 7919) % m];
        teardown(&n);
    }
    pixl_set_num_threads(2);
    CHECK(memcmp(out[0], out[1], sizeof out[0]) == 0);
    CHECK(memcmp(grads[0], grads[1], sizeof grads[0]) == 0);
}
