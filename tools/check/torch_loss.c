/* torch_loss.c — conformance builders (PIXL_CHECK_OP) for PyTorch's loss
 * modules: CrossEntropyLoss (weight, ignore_index, reduction),
 * BCEWithLogitsLoss (pos_weight, weight, reduction), L1Loss, MSELoss and
 * SmoothL1Loss (beta). Parameters are the PyTorch constructor keywords;
 * tensors given as keywords (weight, pos_weight) are taken from the case file
 * under that name when present (exact shape), else from the params list.
 * Anything pixl cannot honour (reduction 'none', label_smoothing, class-
 * probability targets, a pos_weight that PyTorch would broadcast onto a dim
 * other than 1) is reported instead of silently ignored. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* defined in src/ops/loss.c; not yet in pixl.h */

#define MAX_VEC 65536

static const cJSON *param(const check_case *c, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->params, key);
    return v && !cJSON_IsNull(v) ? v : NULL;
}

/* a tensor keyword (at most MAX_VEC values): values and shape from the file tensor `key`, else from a
 * (possibly nested) JSON list or number in params. Returns 0 absent, 1 found,
 * -1 malformed (err set). */
typedef struct {
    int ndim;
    int64_t shape[PIXL_MAX_DIMS];
    int64_t n;
    float v[MAX_VEC];
} vec;

static int json_fill(const cJSON *j, int depth, vec *out)
{
    if (cJSON_IsNumber(j)) {
        if (depth != out->ndim || out->n >= MAX_VEC) return -1;
        out->v[out->n++] = (float)j->valuedouble;
        return 0;
    }
    if (!cJSON_IsArray(j) || depth >= PIXL_MAX_DIMS) return -1;
    int len = cJSON_GetArraySize(j);
    if (depth == out->ndim) { /* first descent fixes the shape */
        out->shape[out->ndim++] = len;
    } else if (depth > out->ndim || out->shape[depth] != len) {
        return -1;
    }
    for (int i = 0; i < len; i++)
        if (json_fill(cJSON_GetArrayItem(j, i), depth + 1, out)) return -1;
    return 0;
}

static int tensor_kw(const check_case *c, const char *key, vec *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    int k = c->file ? pixl_st_find(c->file, key) : -1;
    if (k >= 0) {
        if (pixl_st_numel(c->file, k) > MAX_VEC || pixl_st_ndim(c->file, k) > PIXL_MAX_DIMS) {
            snprintf(err, errlen, "%s: tensor '%s' too large", c->op, key);
            return -1;
        }
        out->ndim = pixl_st_ndim(c->file, k);
        memcpy(out->shape, pixl_st_shape(c->file, k), sizeof(int64_t) * (size_t)out->ndim);
        out->n = pixl_st_numel(c->file, k);
        if (pixl_st_read_f32(c->file, k, out->v)) {
            snprintf(err, errlen, "%s: tensor '%s': %s", c->op, key, pixl_last_error());
            return -1;
        }
        return 1;
    }
    const cJSON *j = param(c, key);
    if (!j) return 0;
    if (json_fill(j, 0, out) || out->n < 1) {
        snprintf(err, errlen, "%s: '%s' must be a number or a (nested) list of numbers", c->op, key);
        return -1;
    }
    return 1;
}

static int reduction(const check_case *c, pixl_reduction *red, char *err, size_t errlen)
{
    if (param(c, "size_average") || param(c, "reduce")) {
        snprintf(err, errlen, "%s: legacy size_average/reduce are not supported; use reduction", c->op);
        return -1;
    }
    const char *r = check_str(c, "reduction", "mean");
    if (!strcmp(r, "mean")) *red = PIXL_REDUCE_MEAN;
    else if (!strcmp(r, "sum")) *red = PIXL_REDUCE_SUM;
    else {
        snprintf(err, errlen, "%s: reduction '%s' is not supported by pixl (mean or sum)", c->op, r);
        return -1;
    }
    return 0;
}

static int two_inputs(const check_case *c, char *err, size_t errlen)
{
    if (c->n_inputs != 2) {
        snprintf(err, errlen, "%s: expected inputs [input, target], the case has %d", c->op, c->n_inputs);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------- CrossEntropyLoss */
static int build_cross_entropy(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    pixl_reduction red;
    if (two_inputs(c, err, errlen) || reduction(c, &red, err, errlen)) return -1;
    if (check_num(c, "label_smoothing", 0) != 0) {
        snprintf(err, errlen, "%s: label_smoothing is not supported", c->op);
        return -1;
    }
    pixl_tensor *x = c->inputs[0], *t = c->inputs[1];
    if (pixl_tensor_dtype(t) != PIXL_I32) {
        snprintf(err, errlen, "%s: class-probability (float) targets are not supported", c->op);
        return -1;
    }
    static vec w;
    int hw = tensor_kw(c, "weight", &w, err, errlen);
    if (hw < 0) return -1;
    pixl_tensor *wt = NULL;
    if (hw) {
        int64_t shape[1] = {w.n};
        wt = pixl_constant(ctx, "ce_class_weight", PIXL_F32, 1, shape, w.v);
    }
    pixl_ce_opts o = {.ignore = 1, .ignore_index = check_int(c, "ignore_index", -100), .reduction = red};
    c->outputs[0] = pixl_cross_entropy(ctx, x, t, wt, &o);
    c->n_outputs = 1;
    return 0;
}

/* ------------------------------------------------------ BCEWithLogitsLoss */

/* PyTorch broadcasts pos_weight from the right; pixl applies it over dim 1.
 * Map a shape onto pixl's (C) / (1), or fail. */
static int pos_weight_fits(const vec *pw, const pixl_tensor *x, int64_t *C)
{
    int D = pixl_tensor_ndim(x);
    const int64_t *xs = pixl_tensor_shape(x);
    if (pw->n == 1) {
        *C = 1;
        return 1;
    }
    if (pw->ndim > D || D < 2) return 0;
    for (int j = 0; j < pw->ndim; j++) {
        int d = D - pw->ndim + j;
        if (d == 1 ? pw->shape[j] != xs[1] : pw->shape[j] != 1) return 0;
    }
    if (D - pw->ndim > 1) return 0; /* dim 1 not covered */
    *C = xs[1];
    return 1;
}

/* expand a right-aligned broadcastable weight to x's full shape (malloc'ed) */
static float *broadcast_full(const vec *w, const pixl_tensor *x)
{
    int D = pixl_tensor_ndim(x);
    const int64_t *xs = pixl_tensor_shape(x);
    if (w->ndim > D) return NULL;
    for (int j = 0; j < w->ndim; j++) {
        int64_t s = w->shape[j], d = xs[D - w->ndim + j];
        if (s != 1 && s != d) return NULL;
    }
    int64_t n = pixl_tensor_numel(x);
    float *out = malloc(sizeof(float) * (size_t)n);
    if (!out) return NULL;
    for (int64_t i = 0; i < n; i++) {
        int64_t r = i, src = 0, stride = 1;
        for (int d = D - 1, j = w->ndim - 1; d >= 0; d--, j--) {
            int64_t idx = r % xs[d];
            r /= xs[d];
            if (j >= 0) {
                if (w->shape[j] != 1) src += idx * stride;
                stride *= w->shape[j];
            }
        }
        out[i] = w->v[src];
    }
    return out;
}

static int build_bce_with_logits(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    pixl_reduction red;
    if (two_inputs(c, err, errlen) || reduction(c, &red, err, errlen)) return -1;
    pixl_tensor *x = c->inputs[0], *t = c->inputs[1];
    static vec pw, w;
    int hp = tensor_kw(c, "pos_weight", &pw, err, errlen);
    if (hp < 0) return -1;
    int hw = tensor_kw(c, "weight", &w, err, errlen);
    if (hw < 0) return -1;
    pixl_tensor *pwt = NULL, *wt = NULL;
    if (hp) {
        int64_t C;
        if (!pos_weight_fits(&pw, x, &C)) {
            char a[128], b[128];
            pixl_shape_str(pw.ndim, pw.shape, a, sizeof a);
            pixl_shape_str(pixl_tensor_ndim(x), pixl_tensor_shape(x), b, sizeof b);
            snprintf(err, errlen,
                     "%s: pos_weight %s broadcasts (from the right) onto input %s other than over dim 1; "
                     "pixl applies pos_weight over dim 1 only",
                     c->op, a, b);
            return -1;
        }
        pwt = pixl_constant(ctx, "bce_pos_weight", PIXL_F32, 1, &C, pw.v);
    }
    if (hw) {
        float *full = broadcast_full(&w, x);
        if (!full) {
            char a[128], b[128];
            pixl_shape_str(w.ndim, w.shape, a, sizeof a);
            pixl_shape_str(pixl_tensor_ndim(x), pixl_tensor_shape(x), b, sizeof b);
            snprintf(err, errlen, "%s: weight %s does not broadcast to input %s (or out of memory)", c->op, a, b);
            return -1;
        }
        wt = pixl_constant(ctx, "bce_weight", PIXL_F32, pixl_tensor_ndim(x), pixl_tensor_shape(x), full);
        free(full);
    }
    c->outputs[0] = pixl_bce_with_logits_ex(ctx, x, t, pwt, wt, NULL, red);
    c->n_outputs = 1;
    return 0;
}

/* ---------------------------------------------- L1Loss, MSELoss, SmoothL1 */
static int build_regression(pixl_ctx *ctx, check_case *c, char *err, size_t errlen, int kind)
{
    pixl_reduction red;
    if (two_inputs(c, err, errlen) || reduction(c, &red, err, errlen)) return -1;
    pixl_tensor *x = c->inputs[0], *t = c->inputs[1];
    if (kind == 0) c->outputs[0] = pixl_l1_loss(ctx, x, t, NULL, red);
    else if (kind == 1) c->outputs[0] = pixl_mse_loss(ctx, x, t, NULL, red);
    else c->outputs[0] = pixl_smooth_l1_loss(ctx, x, t, NULL, red, (float)check_num(c, "beta", 1.0));
    c->n_outputs = 1;
    return 0;
}
static int build_l1(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    return build_regression(ctx, c, err, errlen, 0);
}
static int build_mse(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    return build_regression(ctx, c, err, errlen, 1);
}
static int build_smooth_l1(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    return build_regression(ctx, c, err, errlen, 2);
}

PIXL_CHECK_OP("CrossEntropyLoss", build_cross_entropy)
PIXL_CHECK_OP("BCEWithLogitsLoss", build_bce_with_logits)
PIXL_CHECK_OP("L1Loss", build_l1)
PIXL_CHECK_OP("MSELoss", build_mse)
PIXL_CHECK_OP("SmoothL1Loss", build_smooth_l1)
