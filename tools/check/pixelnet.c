/* pixelnet.c — conformance builders (PIXL_CHECK_OP) for the PixelNet ops,
 * cases written by scripts/ref/make_pixelnet_ref.py (tests/ref/pixelnet):
 *
 *   Hypercolumn            inputs map0..mapB-1, pixels (last); params
 *                          strides [s_b], offsets [o_b] (optional)
 *   NormalLoss             inputs pred, target[, mask] ((P, 3) or (N, 3, H, W));
 *                          params eps (optional)
 *   AngularLoss            the same
 *   BalancedBCEWithLogits  inputs logits, target[, mask]; params reduction
 *
 * Unknown parameters and malformed lists are errors, never ignored. */
#include <stdio.h>
#include <string.h>

#include "check.h"

static int known_only(const check_case *c, const char *const *keys, char *err, size_t errlen)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, c->params)
    {
        int ok = 0;
        for (int i = 0; keys[i]; i++) ok |= !strcmp(it->string, keys[i]);
        if (!ok) {
            snprintf(err, errlen, "%s: unsupported argument '%s'", c->op, it->string);
            return -1;
        }
    }
    return 0;
}

static int float_list(const check_case *c, const char *key, float *out, int n, char *err, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->params, key);
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != n) {
        snprintf(err, errlen, "%s: '%s' must be a list of %d numbers", c->op, key, n);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        const cJSON *e = cJSON_GetArrayItem(v, i);
        if (!cJSON_IsNumber(e)) {
            snprintf(err, errlen, "%s: '%s'[%d] is not a number", c->op, key, i);
            return -1;
        }
        out[i] = (float)e->valuedouble;
    }
    return 0;
}

static int build_hypercolumn(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    static const char *const keys[] = {"strides", "offsets", NULL};
    if (known_only(c, keys, err, errlen)) return -1;
    int nm = c->n_inputs - 1;
    if (nm < 1 || nm > PIXL_HYPERCOLUMN_MAX_MAPS || strcmp(c->input_names[nm], "pixels")) {
        snprintf(err, errlen, "%s: needs 1..%d maps followed by 'pixels'", c->op, PIXL_HYPERCOLUMN_MAX_MAPS);
        return -1;
    }
    float st[PIXL_HYPERCOLUMN_MAX_MAPS], off[PIXL_HYPERCOLUMN_MAX_MAPS];
    if (float_list(c, "strides", st, nm, err, errlen)) return -1;
    int has_off = check_has(c, "offsets");
    if (has_off && float_list(c, "offsets", off, nm, err, errlen)) return -1;
    return check_output(ctx, c, pixl_hypercolumn(ctx, nm, c->inputs, st, has_off ? off : NULL, c->inputs[nm]), err, errlen);
}

static int two_or_three(check_case *c, char *err, size_t errlen)
{
    if (c->n_inputs != 2 && !(c->n_inputs == 3 && !strcmp(c->input_names[2], "mask"))) {
        snprintf(err, errlen, "%s: inputs are two tensors and an optional 'mask'", c->op);
        return -1;
    }
    return 0;
}

static int build_normal_loss(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    static const char *const keys[] = {"eps", NULL};
    if (known_only(c, keys, err, errlen) || two_or_three(c, err, errlen)) return -1;
    return check_output(ctx, c,
                 pixl_normal_loss(ctx, c->inputs[0], c->inputs[1], c->n_inputs > 2 ? c->inputs[2] : NULL,
                                  (float)check_num(c, "eps", 0)),
                 err, errlen);
}

static int build_angular_loss(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    static const char *const keys[] = {"eps", NULL};
    if (known_only(c, keys, err, errlen) || two_or_three(c, err, errlen)) return -1;
    return check_output(ctx, c,
                 pixl_angular_loss(ctx, c->inputs[0], c->inputs[1], c->n_inputs > 2 ? c->inputs[2] : NULL,
                                   (float)check_num(c, "eps", 0)),
                 err, errlen);
}

static int build_balanced_bce(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    static const char *const keys[] = {"reduction", NULL};
    if (known_only(c, keys, err, errlen) || two_or_three(c, err, errlen)) return -1;
    const char *r = check_str(c, "reduction", "mean");
    if (strcmp(r, "mean") && strcmp(r, "sum")) {
        snprintf(err, errlen, "%s: reduction '%s' (mean or sum)", c->op, r);
        return -1;
    }
    return check_output(ctx, c,
                 pixl_balanced_bce_with_logits(ctx, c->inputs[0], c->inputs[1], c->n_inputs > 2 ? c->inputs[2] : NULL,
                                               strcmp(r, "sum") ? PIXL_REDUCE_MEAN : PIXL_REDUCE_SUM),
                 err, errlen);
}

PIXL_CHECK_OP("Hypercolumn", build_hypercolumn)
PIXL_CHECK_OP("NormalLoss", build_normal_loss)
PIXL_CHECK_OP("AngularLoss", build_angular_loss)
PIXL_CHECK_OP("BalancedBCEWithLogits", build_balanced_bce)
