/* torchvision.c — conformance builders (PIXL_CHECK_OP) for torchvision.ops
 * functions (../shared/golden/torchvision, tests/ref/detection): roi_align,
 * roi_pool, box_iou, generalized_box_iou, nms, batched_nms, and box_encode /
 * box_decode (torchvision.models.detection._utils.BoxCoder's encode_single
 * and decode_single, params {"weights": [wx, wy, ww, wh]}). `params` are the
 * functions' keyword arguments, `inputs` their positional tensors. NMS's
 * output is pixl_nms's -1-padded index list, compared up to its padding
 * (check_case.padded). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"

static int need_inputs(const check_case *c, int n, const char *names, char *err, size_t errlen)
{
    if (c->n_inputs == n) return 0;
    snprintf(err, errlen, "%s: needs %d inputs (%s), the case has %d", c->op, n, names, c->n_inputs);
    return -1;
}

/* a whole number in [lo, hi] (a bool reads as 0/1), else -1 with err naming the key */
static int whole(const check_case *c, const cJSON *v, const char *key, int lo, int hi, int *out, char *err,
                 size_t errlen)
{
    double x = cJSON_IsBool(v) ? cJSON_IsTrue(v) : cJSON_IsNumber(v) ? v->valuedouble : NAN;
    if (!(x >= lo && x <= hi) || x != floor(x)) {
        snprintf(err, errlen, "%s: params '%s' must be a whole number in %d..%d", c->op, key, lo, hi);
        return -1;
    }
    *out = (int)x;
    return 0;
}

/* output_size: an int or [h, w], each 1..65536 */
static int output_size(const check_case *c, int os[2], char *err, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->params, "output_size");
    if (cJSON_IsArray(v) && cJSON_GetArraySize(v) == 2)
        return whole(c, cJSON_GetArrayItem(v, 0), "output_size", 1, 65536, &os[0], err, errlen) ||
               whole(c, cJSON_GetArrayItem(v, 1), "output_size", 1, 65536, &os[1], err, errlen);
    if (cJSON_IsNumber(v) && !whole(c, v, "output_size", 1, 65536, &os[0], err, errlen)) {
        os[1] = os[0];
        return 0;
    }
    snprintf(err, errlen, "%s: params 'output_size' must be an int or [h, w] in 1..65536", c->op);
    return -1;
}

static int build_roi(pixl_ctx *ctx, check_case *c, char *err, size_t errlen, int align)
{
    static const char *const align_keys[] = {"output_size", "spatial_scale", "sampling_ratio", "aligned", NULL};
    static const char *const pool_keys[] = {"output_size", "spatial_scale", NULL};
    if (check_only_keys(c, align ? align_keys : pool_keys, err, errlen) ||
        need_inputs(c, 2, "input, boxes", err, errlen))
        return -1;
    int os[2], sampling = -1;
    if (output_size(c, os, err, errlen)) return -1;
    if (check_has(c, "sampling_ratio") &&
        whole(c, cJSON_GetObjectItemCaseSensitive(c->params, "sampling_ratio"), "sampling_ratio", -65536, 65536,
              &sampling, err, errlen))
        return -1;
    double scale = check_num(c, "spatial_scale", 1.0);
    pixl_tensor *y = align ? pixl_roi_align(ctx, c->inputs[0], c->inputs[1], os[0], os[1], scale, sampling,
                                            check_bool(c, "aligned", 0))
                           : pixl_roi_pool(ctx, c->inputs[0], c->inputs[1], os[0], os[1], scale);
    return check_output(ctx, c, y, err, errlen);
}

static int build_roi_align(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    return build_roi(ctx, c, err, errlen, 1);
}

static int build_roi_pool(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    return build_roi(ctx, c, err, errlen, 0);
}

static int build_iou(pixl_ctx *ctx, check_case *c, char *err, size_t errlen, int giou)
{
    static const char *const keys[] = {NULL};
    if (check_only_keys(c, keys, err, errlen) || need_inputs(c, 2, "boxes1, boxes2", err, errlen)) return -1;
    pixl_tensor *y = giou ? pixl_generalized_box_iou(ctx, c->inputs[0], c->inputs[1])
                          : pixl_box_iou(ctx, c->inputs[0], c->inputs[1]);
    return check_output(ctx, c, y, err, errlen);
}

static int build_box_iou(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    return build_iou(ctx, c, err, errlen, 0);
}

static int build_giou(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    return build_iou(ctx, c, err, errlen, 1);
}

static int build_nms_any(pixl_ctx *ctx, check_case *c, char *err, size_t errlen, int batched)
{
    static const char *const keys[] = {"iou_threshold", NULL};
    if (check_only_keys(c, keys, err, errlen) ||
        need_inputs(c, batched ? 3 : 2, batched ? "boxes, scores, idxs" : "boxes, scores", err, errlen))
        return -1;
    if (!check_has(c, "iou_threshold")) {
        snprintf(err, errlen, "%s: iou_threshold is required", c->op);
        return -1;
    }
    double thr = check_num(c, "iou_threshold", 0);
    pixl_tensor *y = batched ? pixl_batched_nms(ctx, c->inputs[0], c->inputs[1], c->inputs[2], thr)
                             : pixl_nms(ctx, c->inputs[0], c->inputs[1], thr);
    if (check_output(ctx, c, y, err, errlen)) return -1;
    c->padded[0] = 1;
    return 0;
}

static int build_nms(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    return build_nms_any(ctx, c, err, errlen, 0);
}

static int build_batched_nms(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    return build_nms_any(ctx, c, err, errlen, 1);
}

/* BoxCoder: box_encode(reference_boxes, proposals), box_decode(rel_codes,
 * boxes); params "weights": [wx, wy, ww, wh] (required) */
static int build_coder(pixl_ctx *ctx, check_case *c, char *err, size_t errlen, int decode)
{
    static const char *const keys[] = {"weights", NULL};
    if (check_only_keys(c, keys, err, errlen) ||
        need_inputs(c, 2, decode ? "rel_codes, boxes" : "reference_boxes, proposals", err, errlen))
        return -1;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->params, "weights");
    double w[4];
    for (int k = 0; k < 4; k++) {
        const cJSON *e = cJSON_IsArray(v) && cJSON_GetArraySize(v) == 4 ? cJSON_GetArrayItem(v, k) : NULL;
        if (!cJSON_IsNumber(e)) {
            snprintf(err, errlen, "%s: params 'weights' must be [wx, wy, ww, wh] (4 numbers)", c->op);
            return -1;
        }
        w[k] = e->valuedouble;
    }
    pixl_tensor *y = decode ? pixl_box_decode(ctx, c->inputs[0], c->inputs[1], w[0], w[1], w[2], w[3])
                            : pixl_box_encode(ctx, c->inputs[0], c->inputs[1], w[0], w[1], w[2], w[3]);
    return check_output(ctx, c, y, err, errlen);
}

static int build_box_encode(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    return build_coder(ctx, c, err, errlen, 0);
}

static int build_box_decode(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    return build_coder(ctx, c, err, errlen, 1);
}

PIXL_CHECK_OP("roi_align", build_roi_align)
PIXL_CHECK_OP("roi_pool", build_roi_pool)
PIXL_CHECK_OP("box_iou", build_box_iou)
PIXL_CHECK_OP("generalized_box_iou", build_giou)
PIXL_CHECK_OP("nms", build_nms)
PIXL_CHECK_OP("batched_nms", build_batched_nms)
PIXL_CHECK_OP("box_encode", build_box_encode)
PIXL_CHECK_OP("box_decode", build_box_decode)
