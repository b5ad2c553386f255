/* pag.c — conformance builders (PIXL_CHECK_OP) for the pixel-wise
 * attentional gating ops, cases written by scripts/ref/make_pag_ref.py
 * (tests/ref/pag):
 *
 *   GateSoftmax         input logits (N,2,H,W): pixl_softmax over the gate channels
 *   GumbelSoftmax       inputs logits[, noise]; params t (mode train: relaxed,
 *                       eval: hard one-hot)
 *   MaskGating          inputs g, h1, h2; params rule "true" | "channel_mean"
 *   GateKLLoss          input g; params lambda
 *   GateKLCombinedLoss  inputs gate0..gateK-1; params lambda
 *   GateMildLoss        input g; params lambda
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

PIXL_CHECK_OP("GateSoftmax", build_gate_softmax)
PIXL_CHECK_OP("GumbelSoftmax", build_gumbel)
PIXL_CHECK_OP("MaskGating", build_mask_gating)
PIXL_CHECK_OP("GateKLLoss", build_gate_kl)
PIXL_CHECK_OP("GateKLCombinedLoss", build_gate_kl_combined)
PIXL_CHECK_OP("GateMildLoss", build_gate_mild)
