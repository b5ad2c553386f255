/* torch_zoo_act.c — conformance builders (PIXL_CHECK_OP) for PyTorch's
 * Hardtanh (min_val, max_val) and ReLU6, MobileNetV2's activation:
 * pixl_hardtanh / pixl_relu6. Cases: scripts/ref/make_act6_ref.py. */
#include <stdio.h>

#include "check.h"

static int unary(check_case *c, pixl_tensor *y, const char *op, char *err, size_t errlen)
{
    if (!y) {
        snprintf(err, errlen, "%s: %s", op, pixl_last_error());
        return -1;
    }
    c->outputs[0] = y;
    c->n_outputs = 1;
    return 0;
}

static int build_hardtanh(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    if (c->n_inputs != 1) {
        snprintf(err, errlen, "Hardtanh: %d inputs, expected 1", c->n_inputs);
        return -1;
    }
    float lo = (float)check_num(c, "min_val", -1.0), hi = (float)check_num(c, "max_val", 1.0);
    return unary(c, pixl_hardtanh(ctx, c->inputs[0], lo, hi), "Hardtanh", err, errlen);
}

static int build_relu6(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    if (c->n_inputs != 1) {
        snprintf(err, errlen, "ReLU6: %d inputs, expected 1", c->n_inputs);
        return -1;
    }
    return unary(c, pixl_relu6(ctx, c->inputs[0]), "ReLU6", err, errlen);
}

PIXL_CHECK_OP("Hardtanh", build_hardtanh)
PIXL_CHECK_OP("ReLU6", build_relu6)
