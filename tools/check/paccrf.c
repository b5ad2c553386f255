/* paccrf.c — conformance builders for pacnet's PacCRF ("paccrf") and
 * PacCRFLoose ("paccrf_loose") from their constructor arguments: channels,
 * num_steps, final_output, perturbed_init, native_impl, fixed_weighting,
 * unary_weight and pairwise_kernels (one object or a list of objects with
 * kernel_size, dilation, blur, compat_type, spatial_filter,
 * pairwise_weight: add_pairwise_kernel's arguments and defaults). Inputs:
 * unary, edge_feat (one tensor shared by the terms). Parameters are
 * unprefixed (unary_weight, messengers.i.weight, ...; steps.s. for the loose
 * CRF). Unknown arguments are errors, never ignored. */
#include <stdio.h>
#include <string.h>

#include "check.h"

static int term_from_json(const cJSON *t, pixl_crf_opts *o, const char *op, char *err, size_t errlen)
{
    static const char *const keys[] = {"kernel_size", "dilation", "blur", "compat_type", "spatial_filter",
                                       "pairwise_weight", NULL};
    if (!cJSON_IsObject(t)) {
        snprintf(err, errlen, "%s: pairwise_kernels entries must be objects", op);
        return -1;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, t)
    {
        int known = 0;
        for (int i = 0; keys[i]; i++) known |= !strcmp(it->string, keys[i]);
        if (!known) {
            snprintf(err, errlen, "%s: unsupported pairwise kernel argument '%s'", op, it->string);
            return -1;
        }
    }
    const cJSON *v;
    int k = 3, d = 1, b = 1, spatial = 1;
    double w = 1.0;
    const char *compat = "4d";
    if ((v = cJSON_GetObjectItemCaseSensitive(t, "kernel_size")) && cJSON_IsNumber(v)) k = v->valueint;
    if ((v = cJSON_GetObjectItemCaseSensitive(t, "dilation")) && cJSON_IsNumber(v)) d = v->valueint;
    if ((v = cJSON_GetObjectItemCaseSensitive(t, "blur")) && cJSON_IsNumber(v)) b = v->valueint;
    if ((v = cJSON_GetObjectItemCaseSensitive(t, "spatial_filter")) && cJSON_IsBool(v)) spatial = cJSON_IsTrue(v);
    if ((v = cJSON_GetObjectItemCaseSensitive(t, "pairwise_weight")) && cJSON_IsNumber(v)) w = v->valuedouble;
    if ((v = cJSON_GetObjectItemCaseSensitive(t, "compat_type")) && cJSON_IsString(v)) compat = v->valuestring;
    pixl_crf_compat c;
    if (!strcmp(compat, "4d")) c = PIXL_CRF_4D;
    else if (!strcmp(compat, "2d")) c = PIXL_CRF_2D;
    else if (!strcmp(compat, "potts")) c = PIXL_CRF_POTTS;
    else if (!strcmp(compat, "na")) c = PIXL_CRF_NA;
    else {
        snprintf(err, errlen, "%s: unknown compat_type '%s' (4d, 2d, potts, na)", op, compat);
        return -1;
    }
    if (pixl_crf_add_term(o, k, d, b, c, spatial, (float)w)) {
        snprintf(err, errlen, "%s: %s", op, pixl_last_error());
        return -1;
    }
    return 0;
}

static int build_crf(pixl_ctx *ctx, check_case *c, int loose, char *err, size_t errlen)
{
    static const char *const keys[] = {"channels",        "num_steps",    "final_output",     "perturbed_init",
                                       "native_impl",     "fixed_weighting", "unary_weight", "pairwise_kernels",
                                       NULL};
    if (check_only_keys(c, keys, err, errlen)) return -1;
    pixl_crf_opts o = pixl_crf_defaults();
    o.loose = loose;
    o.num_steps = check_int(c, "num_steps", -1);
    o.perturbed_init = check_bool(c, "perturbed_init", 1);
    o.fixed_weighting = check_bool(c, "fixed_weighting", 0);
    o.unary_weight = (float)check_num(c, "unary_weight", 1.0);
    const char *fo = check_str(c, "final_output", "log_Q");
    if (!strcmp(fo, "log_Q")) o.output = PIXL_CRF_LOG_Q;
    else if (!strcmp(fo, "softmax")) o.output = PIXL_CRF_SOFTMAX;
    else if (!strcmp(fo, "log_softmax")) o.output = PIXL_CRF_LOG_SOFTMAX;
    else {
        snprintf(err, errlen, "%s: unknown final_output '%s'", c->op, fo);
        return -1;
    }
    const cJSON *pk = cJSON_GetObjectItemCaseSensitive(c->params, "pairwise_kernels");
    if (cJSON_IsObject(pk)) {
        if (term_from_json(pk, &o, c->op, err, errlen)) return -1;
    } else if (cJSON_IsArray(pk)) {
        const cJSON *t;
        cJSON_ArrayForEach(t, pk) if (term_from_json(t, &o, c->op, err, errlen)) return -1;
    } else if (pk && !cJSON_IsNull(pk)) {
        snprintf(err, errlen, "%s: pairwise_kernels must be an object or a list", c->op);
        return -1;
    }
    if (c->n_inputs != 2) {
        snprintf(err, errlen, "%s: expects inputs (unary, edge_feat)", c->op);
        return -1;
    }
    int ch = check_int(c, "channels", -1);
    if (pixl_tensor_ndim(c->inputs[0]) != 4 || ch != pixl_tensor_shape(c->inputs[0])[1]) {
        snprintf(err, errlen, "%s: channels %d for a unary of shape rank %d", c->op, ch, pixl_tensor_ndim(c->inputs[0]));
        return -1;
    }
    pixl_tensor *feat = c->inputs[1];
    pixl_tensor *y = pixl_nn_paccrf(ctx, "", c->inputs[0], 1, &feat, &o);
    return check_output(ctx, c, y, err, errlen);
}

static int build_paccrf(pixl_ctx *ctx, check_case *c, char *err, size_t errlen) { return build_crf(ctx, c, 0, err, errlen); }
static int build_paccrf_loose(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    return build_crf(ctx, c, 1, err, errlen);
}

PIXL_CHECK_OP("paccrf", build_paccrf)
PIXL_CHECK_OP("paccrf_loose", build_paccrf_loose)
