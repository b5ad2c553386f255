/* pag.c — conformance builders (PIXL_CHECK_OP) for the pixel-wise
 * attentional gating ops, cases written by scripts/ref/make_pag_ref.py
 * (tests/ref/pag):
 *
 *   GateSoftmax         input logits (N,2,H,W): pixl_softmax over the gate channels
 *   GumbelSoftmax       inputs logits[, noise]; params t (mode train: relaxed,
 *                       eval: hard one-hot)
 *   GumbelSoftmaxST     inputs logits[, noise]; params t: the straight-through
 *                       Gumbel softmax (mode train)
 *   MaskGating          inputs g, h1, h2; params rule "true" | "channel_mean"
 *   GateKLLoss          input g; params lambda
 *   GateKLCombinedLoss  inputs gate0..gateK-1; params lambda
 *   GateMildLoss        input g; params lambda
 *   PAGGate             inputs x[, noise]; params soft, t, blur, stride:
 *                       pixl_nn_gate "gate"
 *   PAGGatedConv        inputs h1, g; params dilation, rule:
 *                       pixl_nn_gated_conv3x3 "conv", "bn"
 *   PAGBottleneck       inputs x[, noise]; params width and those of PAGGate
 *                       and PAGGatedConv: h1 = ReLU(BN "bn1"(conv1x1 "conv1"
 *                       (x) at the stride)), g = the gate on x, then the
 *                       gated conv of h1
 *   MultiPool           inputs x[, noise]; params scales [d_1..d_K], hidden
 *                       [h0, h1], t: pixl_nn_multipool "" (names branchK.*,
 *                       att.*)
 * The layers' cases run in three modes: train, eval (EVAL_GRAD: hard
 * gates, the dense computation) and infer (EVAL: the sparse one).
 *
 * Unknown parameters are errors, never ignored. */
#include <stdio.h>
#include <string.h>

#include "check.h"

static int n_inputs(const check_case *c, int lo, int hi, const char *what, char *err, size_t errlen)
{
    if (c->n_inputs < lo || c->n_inputs > hi) {
        snprintf(err, errlen, "%s: inputs are %s", c->op, what);
        return -1;
    }
    return 0;
}

static int need_num(const check_case *c, const char *key, char *err, size_t errlen)
{
    if (!check_has(c, key)) {
        snprintf(err, errlen, "%s: missing argument '%s'", c->op, key);
        return -1;
    }
    return 0;
}

static int build_gate_softmax(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    static const char *const keys[] = {NULL};
    if (check_only_keys(c, keys, err, errlen) || n_inputs(c, 1, 1, "logits", err, errlen)) return -1;
    return check_output(ctx, c, pixl_softmax(ctx, c->inputs[0]), err, errlen);
}

static int build_gumbel(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    static const char *const keys[] = {"t", NULL};
    if (check_only_keys(c, keys, err, errlen) || need_num(c, "t", err, errlen) ||
        n_inputs(c, 1, 2, "logits and an optional noise", err, errlen))
        return -1;
    return check_output(ctx, c,
                        pixl_gumbel_softmax(ctx, c->inputs[0], c->n_inputs > 1 ? c->inputs[1] : NULL,
                                            (float)check_num(c, "t", 0)),
                        err, errlen);
}

static int build_gumbel_st(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    static const char *const keys[] = {"t", NULL};
    if (check_only_keys(c, keys, err, errlen) || need_num(c, "t", err, errlen) ||
        n_inputs(c, 1, 2, "logits and an optional noise", err, errlen))
        return -1;
    return check_output(ctx, c,
                        pixl_gumbel_softmax_st(ctx, c->inputs[0], c->n_inputs > 1 ? c->inputs[1] : NULL,
                                               (float)check_num(c, "t", 0)),
                        err, errlen);
}

static int build_mask_gating(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    static const char *const keys[] = {"rule", NULL};
    if (check_only_keys(c, keys, err, errlen) || n_inputs(c, 3, 3, "g, h1, h2", err, errlen)) return -1;
    const char *r = check_str(c, "rule", "true");
    if (strcmp(r, "true") && strcmp(r, "channel_mean")) {
        snprintf(err, errlen, "%s: rule '%s' (true or channel_mean)", c->op, r);
        return -1;
    }
    return check_output(ctx, c,
                        pixl_mask_gating(ctx, c->inputs[0], c->inputs[1], c->inputs[2],
                                         strcmp(r, "true") ? PIXL_GATE_GRAD_CHANNEL_MEAN : PIXL_GATE_GRAD_TRUE),
                        err, errlen);
}

static int lambda_of(const check_case *c, float *lambda, char *err, size_t errlen)
{
    static const char *const keys[] = {"lambda", NULL};
    if (check_only_keys(c, keys, err, errlen) || need_num(c, "lambda", err, errlen)) return -1;
    *lambda = (float)check_num(c, "lambda", 0);
    return 0;
}

static int build_gate_kl(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    float l;
    if (lambda_of(c, &l, err, errlen) || n_inputs(c, 1, 1, "g", err, errlen)) return -1;
    return check_output(ctx, c, pixl_gate_kl_loss(ctx, c->inputs[0], l), err, errlen);
}

static int build_gate_kl_combined(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    float l;
    if (lambda_of(c, &l, err, errlen) || n_inputs(c, 1, CHECK_MAX_IO, "gate0..gateK-1", err, errlen)) return -1;
    return check_output(ctx, c, pixl_gate_kl_combined_loss(ctx, c->inputs, c->n_inputs, l), err, errlen);
}

static int build_gate_mild(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    float l;
    if (lambda_of(c, &l, err, errlen) || n_inputs(c, 1, 1, "g", err, errlen)) return -1;
    return check_output(ctx, c, pixl_gate_mild_loss(ctx, c->inputs[0], l), err, errlen);
}

static int rule_of(const check_case *c, pixl_gate_grad_rule *rule, char *err, size_t errlen)
{
    const char *r = check_str(c, "rule", "true");
    if (strcmp(r, "true") && strcmp(r, "channel_mean")) {
        snprintf(err, errlen, "%s: rule '%s' (true or channel_mean)", c->op, r);
        return -1;
    }
    *rule = strcmp(r, "true") ? PIXL_GATE_GRAD_CHANNEL_MEAN : PIXL_GATE_GRAD_TRUE;
    return 0;
}

static pixl_gate_opts gate_opts_of(const check_case *c, pixl_tensor *noise)
{
    return (pixl_gate_opts){.soft = check_bool(c, "soft", 0), .t = (float)check_num(c, "t", 0),
                            .blur = check_bool(c, "blur", 0), .stride = check_int(c, "stride", 1), .noise = noise};
}

static int build_pag_gate(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    static const char *const keys[] = {"soft", "t", "blur", "stride", NULL};
    if (check_only_keys(c, keys, err, errlen) || n_inputs(c, 1, 2, "x and an optional noise", err, errlen)) return -1;
    const pixl_gate_opts o = gate_opts_of(c, c->n_inputs > 1 ? c->inputs[1] : NULL);
    return check_output(ctx, c, pixl_nn_gate(ctx, "gate", c->inputs[0], &o), err, errlen);
}

static int build_pag_gated_conv(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    static const char *const keys[] = {"dilation", "rule", NULL};
    pixl_gate_grad_rule rule;
    if (check_only_keys(c, keys, err, errlen) || n_inputs(c, 2, 2, "h1, g", err, errlen) ||
        rule_of(c, &rule, err, errlen))
        return -1;
    return check_output(ctx, c,
                        pixl_nn_gated_conv3x3(ctx, "conv", "bn", c->inputs[0], c->inputs[1],
                                              check_int(c, "dilation", 1), rule),
                        err, errlen);
}

static int build_pag_bottleneck(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    static const char *const keys[] = {"width", "soft", "t", "blur", "stride", "dilation", "rule", NULL};
    pixl_gate_grad_rule rule;
    if (check_only_keys(c, keys, err, errlen) || need_num(c, "width", err, errlen) ||
        n_inputs(c, 1, 2, "x and an optional noise", err, errlen) || rule_of(c, &rule, err, errlen))
        return -1;
    const pixl_gate_opts o = gate_opts_of(c, c->n_inputs > 1 ? c->inputs[1] : NULL);
    const int s = check_int(c, "stride", 1);
    pixl_tensor *x = c->inputs[0];
    pixl_tensor *h1 = pixl_relu(
        ctx, pixl_nn_batch_norm2d(ctx, "bn1",
                                  pixl_nn_conv2d(ctx, "conv1", x, check_int(c, "width", 0), 1, 1,
                                                 &(pixl_conv2d_opts){.stride = {s, s}}, 0),
                                  NULL));
    pixl_tensor *g = pixl_nn_gate(ctx, "gate", x, &o);
    return check_output(ctx, c, pixl_nn_gated_conv3x3(ctx, "conv", "bn", h1, g, check_int(c, "dilation", 1), rule),
                        err, errlen);
}

static int build_multipool(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    static const char *const keys[] = {"scales", "hidden", "t", NULL};
    if (check_only_keys(c, keys, err, errlen) || n_inputs(c, 1, 2, "x and an optional noise", err, errlen)) return -1;
    pixl_multipool_opts o = {.t = (float)check_num(c, "t", 0), .noise = c->n_inputs > 1 ? c->inputs[1] : NULL};
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(c->params, "scales"), *it;
    if (!cJSON_IsArray(sc) || cJSON_GetArraySize(sc) < 1 || cJSON_GetArraySize(sc) > PIXL_MULTIPOOL_MAX) {
        snprintf(err, errlen, "%s: scales must be a list of 1..%d dilations", c->op, PIXL_MULTIPOOL_MAX);
        return -1;
    }
    cJSON_ArrayForEach(it, sc)
    {
        if (!cJSON_IsNumber(it) || check_as_int(it->valuedouble, &o.scales[o.n_scales])) {
            snprintf(err, errlen, "%s: scales must be whole numbers", c->op);
            return -1;
        }
        o.n_scales++;
    }
    if (check_pair(c, "hidden", o.hidden, 0)) {
        snprintf(err, errlen, "%s: hidden must be a width or [h0, h1]", c->op);
        return -1;
    }
    return check_output(ctx, c, pixl_nn_multipool(ctx, "", c->inputs[0], &o, NULL), err, errlen);
}

PIXL_CHECK_OP("GateSoftmax", build_gate_softmax)
PIXL_CHECK_OP("GumbelSoftmax", build_gumbel)
PIXL_CHECK_OP("GumbelSoftmaxST", build_gumbel_st)
PIXL_CHECK_OP("MaskGating", build_mask_gating)
PIXL_CHECK_OP("GateKLLoss", build_gate_kl)
PIXL_CHECK_OP("GateKLCombinedLoss", build_gate_kl_combined)
PIXL_CHECK_OP("GateMildLoss", build_gate_mild)
PIXL_CHECK_OP("PAGGate", build_pag_gate)
PIXL_CHECK_OP("PAGGatedConv", build_pag_gated_conv)
PIXL_CHECK_OP("PAGBottleneck", build_pag_bottleneck)
PIXL_CHECK_OP("MultiPool", build_multipool)
