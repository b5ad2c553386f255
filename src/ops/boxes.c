/* boxes.c — operations on sets of boxes (x1, y1, x2, y2), as torchvision.ops:
 *   box_iou              (N,4), (M,4) -> (N,M) intersection over union
 *   generalized_box_iou  (N,4), (M,4) -> (N,M) IoU - (enclosing - union) / enclosing
 *   nms / batched_nms    greedy non-maximum suppression -> kept indices
 *   box_encode / box_decode  torchvision's BoxCoder (detection._utils): box
 *                        regression deltas and back (at the end of the file)
 *
 * IoU: area = (x2 - x1) * (y2 - y1); inter = max(0, min x2 - max x1) *
 * max(0, min y2 - max y1); iou = inter / (area1 + area2 - inter). GIoU's
 * enclosing box spans the min of the x1/y1 and the max of the x2/y2 (its
 * sides clamped to >= 0). Computed in double, stored in f32. Backward (the
 * GIoU loss trains box regression): PyTorch's derivative of the same
 * formulas (a side clamped at 0 passes the gradient only where it is >= 0;
 * min/max ties split it in halves).
 *
 * NMS (torchvision's CPU kernel): boxes visited in decreasing score order
 * (a stable sort: equal scores keep index order; a NaN score sorts first as
 * torch.sort does); a visited box that is not suppressed is kept and
 * suppresses every later box whose IoU with it is > iou_threshold.
 * batched_nms suppresses only within the same category (idxs), which is
 * what torchvision's coordinate-offset trick and per-class loop compute;
 * the kept indices come in decreasing score order over all categories.
 *
 * The kept list has a data-dependent length. The graph ops give an int64
 * (N) tensor: the kept indices first, then -1 up to N (pixl_nms_count()
 * reads the length after forward); pixl_nms_f32() works on plain arrays,
 * with no graph, for post-processing. */
#include <math.h>

#include "pixl_impl.h"

/* ======================================================================
 * box_iou / generalized_box_iou
 * ====================================================================== */

typedef struct iou_p { int64_t N, M; int giou; } iou_p;

/* the parts of one pair's (G)IoU: u, v boxes */
typedef struct iou_terms {
    double a1, a2, iw, ih, inter, uni, iou, ew, eh, enc;
} iou_terms;

static inline void iou_pair(const float *u, const float *v, iou_terms *t)
{
    t->a1 = ((double)u[2] - u[0]) * ((double)u[3] - u[1]);
    t->a2 = ((double)v[2] - v[0]) * ((double)v[3] - v[1]);
    t->iw = fmin(u[2], v[2]) - fmax(u[0], v[0]);
    t->ih = fmin(u[3], v[3]) - fmax(u[1], v[1]);
    t->inter = (t->iw > 0 ? t->iw : 0) * (t->ih > 0 ? t->ih : 0);
    t->uni = t->a1 + t->a2 - t->inter;
    t->iou = t->inter / t->uni;
    t->ew = fmax(u[2], v[2]) - fmin(u[0], v[0]);
    t->eh = fmax(u[3], v[3]) - fmin(u[1], v[1]);
    t->enc = (t->ew > 0 ? t->ew : 0) * (t->eh > 0 ? t->eh : 0);
}

static int iou_fwd(pixl_tensor *n)
{
    const iou_p *p = PIXL_PARAMS(n, iou_p);
    const float *a = pixl_f32(n->src[0]), *b = pixl_f32(n->src[1]);
    float *y = pixl_f32(n);
    const int threads = n->numel < ((int64_t)1 << 14) ? 1 : pixl_num_threads();
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t i = 0; i < p->N; i++)
        for (int64_t j = 0; j < p->M; j++) {
            iou_terms t;
            iou_pair(a + 4 * i, b + 4 * j, &t);
            y[i * p->M + j] = (float)(p->giou ? t.iou - (t.enc - t.uni) / t.enc : t.iou);
        }
    return PIXL_OK;
}

/* d/d(a, b) of min(a, b) (lo = 1) or max(a, b) (lo = 0) times g into *ga,
 * *gb: all to the chosen one, half to each on a tie (PyTorch's rule) */
static inline void minmax_grad(double a, double b, int lo, double g, double *ga, double *gb)
{
    if (a == b) {
        *ga += g / 2;
        *gb += g / 2;
    } else if ((a < b) == (lo != 0))
        *ga += g;
    else
        *gb += g;
}

/* gradient of g * (G)IoU(u, v) with respect to u (du) and v (dv), added */
static void iou_pair_grad(const float *u, const float *v, int giou, double g, double du[4], double dv[4])
{
    iou_terms t;
    iou_pair(u, v, &t);
    /* iou = inter / (a1 + a2 - inter); giou = iou - 1 + uni / enc */
    double g_inter = g * (1 + t.iou) / t.uni, g_area = -g * t.iou / t.uni, g_enc = 0;
    if (giou) {
        g_inter -= g / t.enc;
        g_area += g / t.enc;
        g_enc = -g * t.uni / (t.enc * t.enc);
    }
    /* areas */
    const double uw = (double)u[2] - u[0], uh = (double)u[3] - u[1], vw = (double)v[2] - v[0], vh = (double)v[3] - v[1];
    du[0] -= g_area * uh, du[2] += g_area * uh, du[1] -= g_area * uw, du[3] += g_area * uw;
    dv[0] -= g_area * vh, dv[2] += g_area * vh, dv[1] -= g_area * vw, dv[3] += g_area * vw;
    /* intersection: (min x2 - max x1)+ (min y2 - max y1)+; clamp(min=0)
     * passes the gradient where its input is >= 0, as PyTorch's */
    const double wc = t.iw > 0 ? t.iw : 0, hc = t.ih > 0 ? t.ih : 0;
    if (t.iw >= 0) {
        minmax_grad(u[2], v[2], 1, g_inter * hc, &du[2], &dv[2]);
        minmax_grad(u[0], v[0], 0, -g_inter * hc, &du[0], &dv[0]);
    }
    if (t.ih >= 0) {
        minmax_grad(u[3], v[3], 1, g_inter * wc, &du[3], &dv[3]);
        minmax_grad(u[1], v[1], 0, -g_inter * wc, &du[1], &dv[1]);
    }
    if (!giou) return;
    /* enclosing box: (max x2 - min x1)+ (max y2 - min y1)+ */
    const double ewc = t.ew > 0 ? t.ew : 0, ehc = t.eh > 0 ? t.eh : 0;
    if (t.ew >= 0) {
        minmax_grad(u[2], v[2], 0, g_enc * ehc, &du[2], &dv[2]);
        minmax_grad(u[0], v[0], 1, -g_enc * ehc, &du[0], &dv[0]);
    }
    if (t.eh >= 0) {
        minmax_grad(u[3], v[3], 0, g_enc * ewc, &du[3], &dv[3]);
        minmax_grad(u[1], v[1], 1, -g_enc * ewc, &du[1], &dv[1]);
    }
}

/* each box's gradient is the sum over its row (boxes1) or column (boxes2)
 * of pair gradients, one box per loop iteration: no races, any thread count
 * gives the same bits */
static int iou_bwd(pixl_tensor *n)
{
    const iou_p *p = PIXL_PARAMS(n, iou_p);
    const float *a = pixl_f32(n->src[0]), *b = pixl_f32(n->src[1]), *gy = n->grad;
    float *ga = n->src[0]->grad, *gb = n->src[1]->grad;
    const int threads = n->numel < ((int64_t)1 << 12) ? 1 : pixl_num_threads();
    if (ga) {
#pragma omp parallel for num_threads(threads) schedule(static)
        for (int64_t i = 0; i < p->N; i++) {
            double du[4] = {0, 0, 0, 0}, dv[4] = {0, 0, 0, 0};
            for (int64_t j = 0; j < p->M; j++)
                if (gy[i * p->M + j] != 0) iou_pair_grad(a + 4 * i, b + 4 * j, p->giou, gy[i * p->M + j], du, dv);
            for (int k = 0; k < 4; k++) ga[4 * i + k] += (float)du[k];
        }
    }
    if (gb) {
#pragma omp parallel for num_threads(threads) schedule(static)
        for (int64_t j = 0; j < p->M; j++) {
            double du[4] = {0, 0, 0, 0}, dv[4] = {0, 0, 0, 0};
            for (int64_t i = 0; i < p->N; i++)
                if (gy[i * p->M + j] != 0) iou_pair_grad(a + 4 * i, b + 4 * j, p->giou, gy[i * p->M + j], du, dv);
            for (int k = 0; k < 4; k++) gb[4 * j + k] += (float)dv[k];
        }
    }
    return PIXL_OK;
}

static const pixl_op_def box_iou_def = {"box_iou", iou_fwd, iou_bwd, NULL, NULL, 0, NULL, NULL};
static const pixl_op_def giou_def = {"generalized_box_iou", iou_fwd, iou_bwd, NULL, NULL, 0, NULL, NULL};

/* boxes: f32 (N, 4) */
static bool check_boxes(pixl_ctx *ctx, const char *op, const char *what, const pixl_tensor *t, const pixl_tensor *other)
{
    if (t->dtype == PIXL_F32 && t->ndim == 2 && t->shape[1] == 4) return true;
    if (other)
        pixl__ctx_fail(ctx, t->dtype != PIXL_F32 ? PIXL_ERR_ARG : PIXL_ERR_SHAPE,
                      "%s: %s %s (%s) must be f32 (N, 4) boxes (x1, y1, x2, y2); other %s", op, what,
                      pixl__tshape(t), pixl_dtype_name(t->dtype), pixl__tshape(other));
    else
        pixl__ctx_fail(ctx, t->dtype != PIXL_F32 ? PIXL_ERR_ARG : PIXL_ERR_SHAPE,
                      "%s: %s %s (%s) must be f32 (N, 4) boxes (x1, y1, x2, y2)", op, what, pixl__tshape(t),
                      pixl_dtype_name(t->dtype));
    return false;
}

static pixl_tensor *iou_build(pixl_ctx *ctx, const pixl_op_def *def, pixl_tensor *a, pixl_tensor *b, int giou)
{
    if (!ctx || pixl__any_null(2, a, b)) return NULL;
    if (!check_boxes(ctx, def->name, "boxes1", a, b) || !check_boxes(ctx, def->name, "boxes2", b, a)) return NULL;
    iou_p p = {a->shape[0], b->shape[0], giou};
    const int64_t shape[2] = {p.N, p.M};
    pixl_tensor *src[2] = {a, b};
    return pixl__node_new(ctx, def, PIXL_F32, 2, shape, src, 2, &p, sizeof p);
}

pixl_tensor *pixl_box_iou(pixl_ctx *ctx, pixl_tensor *boxes1, pixl_tensor *boxes2)
{
    return iou_build(ctx, &box_iou_def, boxes1, boxes2, 0);
}

pixl_tensor *pixl_generalized_box_iou(pixl_ctx *ctx, pixl_tensor *boxes1, pixl_tensor *boxes2)
{
    return iou_build(ctx, &giou_def, boxes1, boxes2, 1);
}

/* ======================================================================
 * nms / batched_nms
 * ====================================================================== */

/* category of box i: idxs is NULL (one category), int32 or int64 */
static inline int64_t cat_of(const void *idxs, int idx64, int64_t i)
{
    if (!idxs) return 0;
    return idx64 ? ((const int64_t *)idxs)[i] : ((const int32_t *)idxs)[i];
}

/* stable decreasing score order (NaN first) of n indices, by merge sort;
 * tmp has room for n */
static int score_before(const float *s, int64_t a, int64_t b)
{
    const float x = s[a], y = s[b];
    if (isnan(x) != isnan(y)) return isnan(x);
    if (!isnan(x) && x != y) return x > y;
    return a < b;
}

static void order_by_score(const float *scores, int64_t *ord, int64_t *tmp, int64_t n)
{
    for (int64_t i = 0; i < n; i++) ord[i] = i;
    for (int64_t w = 1; w < n; w *= 2) {
        for (int64_t lo = 0; lo < n; lo += 2 * w) {
            int64_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            int64_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) tmp[k++] = score_before(scores, ord[j], ord[i]) ? ord[j++] : ord[i++];
            while (i < mid) tmp[k++] = ord[i++];
            while (j < hi) tmp[k++] = ord[j++];
        }
        memcpy(ord, tmp, sizeof(int64_t) * (size_t)n);
    }
}

/* the kernel: keep gets the kept indices, returns their count; scratch:
 * ord and tmp (n int64 each), dead (n bytes) */
static int64_t nms_run(const float *boxes, const float *scores, const void *idxs, int idx64, int64_t n, double thr,
                       int64_t *keep, int64_t *ord, int64_t *tmp, unsigned char *dead)
{
    if (n <= 0) return 0;
    order_by_score(scores, ord, tmp, n);
    for (int64_t i = 0; i < n; i++) dead[i] = 0;
    int64_t kept = 0;
    for (int64_t a = 0; a < n; a++) {
        const int64_t i = ord[a];
        if (dead[i]) continue;
        keep[kept++] = i;
        const float *u = boxes + 4 * i;
        const double area1 = ((double)u[2] - u[0]) * ((double)u[3] - u[1]);
        const int64_t ci = cat_of(idxs, idx64, i);
        for (int64_t b = a + 1; b < n; b++) {
            const int64_t j = ord[b];
            if (dead[j] || cat_of(idxs, idx64, j) != ci) continue;
            const float *v = boxes + 4 * j;
            const double area2 = ((double)v[2] - v[0]) * ((double)v[3] - v[1]);
            double iw = fmin(u[2], v[2]) - fmax(u[0], v[0]), ih = fmin(u[3], v[3]) - fmax(u[1], v[1]);
            const double inter = (iw > 0 ? iw : 0) * (ih > 0 ? ih : 0);
            if (inter / (area1 + area2 - inter) > thr) dead[j] = 1;
        }
    }
    return kept;
}

int64_t pixl_nms_f32(const float *boxes, const float *scores, const int64_t *idxs, int64_t n, double iou_threshold,
                     int64_t *keep)
{
    if (n < 0 || (n > 0 && (!boxes || !scores || !keep)))
        return pixl_set_error(PIXL_ERR_ARG, "nms: %lld boxes with a NULL boxes, scores or keep array", (long long)n);
    if (isnan(iou_threshold)) return pixl_set_error(PIXL_ERR_ARG, "nms: iou_threshold is NaN");
    if (n == 0) return 0;
    size_t bytes;
    if (pixl__mul_overflows((size_t)n, 2 * sizeof(int64_t) + 1, &bytes))
        return pixl_set_error(PIXL_ERR_NOMEM, "nms: %lld boxes: scratch size overflows", (long long)n);
    int64_t *ord = pixl__malloc(bytes);
    if (!ord) return PIXL_ERR_NOMEM;
    int64_t k = nms_run(boxes, scores, idxs, 1, n, iou_threshold, keep, ord, ord + n, (unsigned char *)(ord + 2 * n));
    pixl__free(ord);
    return k;
}

typedef struct nms_p { int64_t n; double thr; int batched, idx64; } nms_p;

static int nms_fwd(pixl_tensor *n)
{
    const nms_p *p = PIXL_PARAMS(n, nms_p);
    int64_t *keep = n->data, *ord = n->work;
    const void *idxs = p->batched ? n->src[2]->data : NULL;
    int64_t k = nms_run(pixl_f32(n->src[0]), pixl_f32(n->src[1]), idxs, p->idx64, p->n, p->thr, keep, ord, ord + p->n,
                        (unsigned char *)(ord + 2 * p->n));
    for (int64_t i = k; i < p->n; i++) keep[i] = -1;
    return PIXL_OK;
}

static size_t nms_work(const pixl_tensor *n)
{
    return (size_t)PIXL_PARAMS(n, nms_p)->n * (2 * sizeof(int64_t) + 1);
}

static const pixl_op_def nms_def = {"nms", nms_fwd, NULL, NULL, nms_work, 0, NULL, NULL};
static const pixl_op_def batched_nms_def = {"batched_nms", nms_fwd, NULL, NULL, nms_work, 0, NULL, NULL};

static pixl_tensor *nms_build(pixl_ctx *ctx, const pixl_op_def *def, pixl_tensor *boxes, pixl_tensor *scores,
                              pixl_tensor *idxs, double thr)
{
    const char *op = def->name;
    if (!check_boxes(ctx, op, "boxes", boxes, NULL)) return NULL;
    const int64_t N = boxes->shape[0];
    if (scores->dtype != PIXL_F32 || scores->ndim != 1 || scores->shape[0] != N) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "%s: scores %s (%s) must be f32 (N) for boxes %s", op,
                      pixl__tshape(scores), pixl_dtype_name(scores->dtype), pixl__tshape(boxes));
        return NULL;
    }
    if (idxs && ((idxs->dtype != PIXL_I32 && idxs->dtype != PIXL_I64) || idxs->ndim != 1 || idxs->shape[0] != N)) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "%s: idxs %s (%s) must be int32 or int64 (N) for boxes %s", op,
                      pixl__tshape(idxs), pixl_dtype_name(idxs->dtype), pixl__tshape(boxes));
        return NULL;
    }
    if (isnan(thr)) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "%s: boxes %s: iou_threshold is NaN", op, pixl__tshape(boxes));
        return NULL;
    }
    nms_p p = {N, thr, idxs != NULL, idxs && idxs->dtype == PIXL_I64};
    pixl_tensor *src[3] = {boxes, scores, idxs};
    return pixl__node_new(ctx, def, PIXL_I64, 1, &N, src, idxs ? 3 : 2, &p, sizeof p);
}

pixl_tensor *pixl_nms(pixl_ctx *ctx, pixl_tensor *boxes, pixl_tensor *scores, double iou_threshold)
{
    if (!ctx || pixl__any_null(2, boxes, scores)) return NULL;
    return nms_build(ctx, &nms_def, boxes, scores, NULL, iou_threshold);
}

pixl_tensor *pixl_batched_nms(pixl_ctx *ctx, pixl_tensor *boxes, pixl_tensor *scores, pixl_tensor *idxs,
                              double iou_threshold)
{
    if (!ctx || pixl__any_null(3, boxes, scores, idxs)) return NULL;
    return nms_build(ctx, &batched_nms_def, boxes, scores, idxs, iou_threshold);
}

int64_t pixl_nms_count(pixl_tensor *keep)
{
    if (!keep || (keep->def != &nms_def && keep->def != &batched_nms_def))
        return pixl_set_error(PIXL_ERR_ARG, "nms_count: %s is not the output of pixl_nms() or pixl_batched_nms()",
                              keep ? pixl__tshape(keep) : "NULL");
    if (!keep->data) return pixl_set_error(PIXL_ERR_STATE, "nms_count: %s has no data (plan and run forward first)",
                                           pixl__tshape(keep));
    const int64_t *k = keep->data;
    int64_t c = 0;
    while (c < keep->numel && k[c] >= 0) c++;
    return c;
}

/* ======================================================================
 * box_encode / box_decode (torchvision.models.detection._utils.BoxCoder)
 *
 * encode (encode_boxes): reference boxes g, proposals p (N, 4) -> deltas:
 *   pw = p2 - p0, pcx = p0 + 0.5 * pw (and y); gw, gcx alike;
 *   dx = wx * (gcx - pcx) / pw, dy alike, dw = ww * log(gw / pw), dh alike.
 * decode (decode_single): rel_codes (N, 4C), boxes b (N, 4) -> (N, 4C):
 *   w = b2 - b0, cx = b0 + 0.5 * w; dx = code / wx, dw = min(code / ww,
 *   clip) (torch.clamp(max = clip): a NaN stays NaN), clip = log(1000 / 16);
 *   pcx = dx * w + cx, pw = exp(dw) * w, c = 0.5 * pw; (pcx - c, pcy - c_h,
 *   pcx + c, pcy + c_h).
 * Both in torchvision's order of operations, in double, stored in f32.
 * Backward: PyTorch's derivative of the same formulas; the clamp passes the
 * gradient where its input is <= clip (torch.clamp's backward), 0 above.
 * Rows are independent: one row per loop iteration, the same bits for any
 * thread count.
 * ====================================================================== */

#define BOX_XFORM_CLIP 4.135166556742356 /* log(1000 / 16) */

typedef struct coder_p { int64_t N, C; double w[4]; } coder_p;

static int encode_fwd(pixl_tensor *n)
{
    const coder_p *p = PIXL_PARAMS(n, coder_p);
    const float *g = pixl_f32(n->src[0]), *q = pixl_f32(n->src[1]);
    float *y = pixl_f32(n);
    const double wx = p->w[0], wy = p->w[1], ww = p->w[2], wh = p->w[3];
    const int threads = p->N < ((int64_t)1 << 14) ? 1 : pixl_num_threads();
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t i = 0; i < p->N; i++) {
        const float *r = g + 4 * i, *s = q + 4 * i;
        const double ex_w = (double)s[2] - s[0], ex_h = (double)s[3] - s[1];
        const double ex_cx = s[0] + 0.5 * ex_w, ex_cy = s[1] + 0.5 * ex_h;
        const double gt_w = (double)r[2] - r[0], gt_h = (double)r[3] - r[1];
        const double gt_cx = r[0] + 0.5 * gt_w, gt_cy = r[1] + 0.5 * gt_h;
        y[4 * i + 0] = (float)(wx * (gt_cx - ex_cx) / ex_w);
        y[4 * i + 1] = (float)(wy * (gt_cy - ex_cy) / ex_h);
        y[4 * i + 2] = (float)(ww * log(gt_w / ex_w));
        y[4 * i + 3] = (float)(wh * log(gt_h / ex_h));
    }
    return PIXL_OK;
}

static int encode_bwd(pixl_tensor *n)
{
    const coder_p *p = PIXL_PARAMS(n, coder_p);
    const float *g = pixl_f32(n->src[0]), *q = pixl_f32(n->src[1]), *gy = n->grad;
    float *gg = n->src[0]->grad, *gq = n->src[1]->grad;
    const double wx = p->w[0], wy = p->w[1], ww = p->w[2], wh = p->w[3];
    const int threads = p->N < ((int64_t)1 << 13) ? 1 : pixl_num_threads();
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t i = 0; i < p->N; i++) {
        const float *r = g + 4 * i, *s = q + 4 * i, *d = gy + 4 * i;
        const double ex_w = (double)s[2] - s[0], ex_h = (double)s[3] - s[1];
        const double ex_cx = s[0] + 0.5 * ex_w, ex_cy = s[1] + 0.5 * ex_h;
        const double gt_w = (double)r[2] - r[0], gt_h = (double)r[3] - r[1];
        const double gt_cx = r[0] + 0.5 * gt_w, gt_cy = r[1] + 0.5 * gt_h;
        /* dx = wx * (gt_cx - ex_cx) / ex_w: t = wx * (gt_cx - ex_cx) */
        const double tx = wx * (gt_cx - ex_cx), ty = wy * (gt_cy - ex_cy);
        const double g_gcx = d[0] * wx / ex_w, g_gcy = d[1] * wy / ex_h;
        /* dw = ww * log(gt_w / ex_w) */
        const double g_gw = d[2] * ww / gt_w, g_gh = d[3] * wh / gt_h;
        const double g_ew = -d[0] * tx / (ex_w * ex_w) - d[2] * ww / ex_w;
        const double g_eh = -d[1] * ty / (ex_h * ex_h) - d[3] * wh / ex_h;
        if (gg) { /* gt_cx = r0 + 0.5 * (r2 - r0) */
            const double gw = g_gw + 0.5 * g_gcx, gh = g_gh + 0.5 * g_gcy;
            gg[4 * i + 0] += (float)(g_gcx - gw);
            gg[4 * i + 1] += (float)(g_gcy - gh);
            gg[4 * i + 2] += (float)gw;
            gg[4 * i + 3] += (float)gh;
        }
        if (gq) { /* ex_cx enters with the opposite sign */
            const double gw = g_ew - 0.5 * g_gcx, gh = g_eh - 0.5 * g_gcy;
            gq[4 * i + 0] += (float)(-g_gcx - gw);
            gq[4 * i + 1] += (float)(-g_gcy - gh);
            gq[4 * i + 2] += (float)gw;
            gq[4 * i + 3] += (float)gh;
        }
    }
    return PIXL_OK;
}

static int decode_fwd(pixl_tensor *n)
{
    const coder_p *p = PIXL_PARAMS(n, coder_p);
    const float *rc = pixl_f32(n->src[0]), *b = pixl_f32(n->src[1]);
    float *y = pixl_f32(n);
    const double wx = p->w[0], wy = p->w[1], ww = p->w[2], wh = p->w[3];
    const int64_t C = p->C;
    const int threads = n->numel < ((int64_t)1 << 14) ? 1 : pixl_num_threads();
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t i = 0; i < p->N; i++) {
        const float *bx = b + 4 * i;
        const double w = (double)bx[2] - bx[0], h = (double)bx[3] - bx[1];
        const double cx = bx[0] + 0.5 * w, cy = bx[1] + 0.5 * h;
        for (int64_t c = 0; c < C; c++) {
            const float *r = rc + 4 * (i * C + c);
            float *o = y + 4 * (i * C + c);
            const double dx = r[0] / wx, dy = r[1] / wy;
            double dw = r[2] / ww, dh = r[3] / wh;
            if (dw > BOX_XFORM_CLIP) dw = BOX_XFORM_CLIP;
            if (dh > BOX_XFORM_CLIP) dh = BOX_XFORM_CLIP;
            const double pcx = dx * w + cx, pcy = dy * h + cy;
            const double pw = exp(dw) * w, ph = exp(dh) * h;
            const double c_h = 0.5 * ph, c_w = 0.5 * pw;
            o[0] = (float)(pcx - c_w);
            o[1] = (float)(pcy - c_h);
            o[2] = (float)(pcx + c_w);
            o[3] = (float)(pcy + c_h);
        }
    }
    return PIXL_OK;
}

static int decode_bwd(pixl_tensor *n)
{
    const coder_p *p = PIXL_PARAMS(n, coder_p);
    const float *rc = pixl_f32(n->src[0]), *b = pixl_f32(n->src[1]), *gy = n->grad;
    float *grc = n->src[0]->grad, *gb = n->src[1]->grad;
    const double wx = p->w[0], wy = p->w[1], ww = p->w[2], wh = p->w[3];
    const int64_t C = p->C;
    const int threads = n->numel < ((int64_t)1 << 13) ? 1 : pixl_num_threads();
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t i = 0; i < p->N; i++) {
        const float *bx = b + 4 * i;
        const double w = (double)bx[2] - bx[0], h = (double)bx[3] - bx[1];
        double g_w = 0, g_h = 0, g_cx = 0, g_cy = 0;
        for (int64_t c = 0; c < C; c++) {
            const float *r = rc + 4 * (i * C + c), *d = gy + 4 * (i * C + c);
            const double dx = r[0] / wx, dy = r[1] / wy, dw0 = r[2] / ww, dh0 = r[3] / wh;
            const double dw = dw0 > BOX_XFORM_CLIP ? BOX_XFORM_CLIP : dw0;
            const double dh = dh0 > BOX_XFORM_CLIP ? BOX_XFORM_CLIP : dh0;
            const double ew = exp(dw), eh = exp(dh);
            /* outputs: pcx -/+ 0.5 * pw, pcy -/+ 0.5 * ph */
            const double g_pcx = (double)d[0] + d[2], g_pcy = (double)d[1] + d[3];
            const double g_pw = 0.5 * ((double)d[2] - d[0]), g_ph = 0.5 * ((double)d[3] - d[1]);
            g_cx += g_pcx;
            g_cy += g_pcy;
            g_w += g_pcx * dx + g_pw * ew;
            g_h += g_pcy * dy + g_ph * eh;
            if (grc) {
                float *gr = grc + 4 * (i * C + c);
                gr[0] += (float)(g_pcx * w / wx);
                gr[1] += (float)(g_pcy * h / wy);
                /* torch.clamp(max): the gradient passes where the input is <= max */
                if (dw0 <= BOX_XFORM_CLIP) gr[2] += (float)(g_pw * ew * w / ww);
                if (dh0 <= BOX_XFORM_CLIP) gr[3] += (float)(g_ph * eh * h / wh);
            }
        }
        if (gb) { /* cx = b0 + 0.5 * (b2 - b0) */
            const double gw = g_w + 0.5 * g_cx, gh = g_h + 0.5 * g_cy;
            gb[4 * i + 0] += (float)(g_cx - gw);
            gb[4 * i + 1] += (float)(g_cy - gh);
            gb[4 * i + 2] += (float)gw;
            gb[4 * i + 3] += (float)gh;
        }
    }
    return PIXL_OK;
}

static const pixl_op_def box_encode_def = {"box_encode", encode_fwd, encode_bwd, NULL, NULL, 0, NULL, NULL};
static const pixl_op_def box_decode_def = {"box_decode", decode_fwd, decode_bwd, NULL, NULL, 0, NULL, NULL};

/* weights: finite and > 0 (they divide the codes in decode) */
static bool check_coder_weights(pixl_ctx *ctx, const char *op, const pixl_tensor *a, const pixl_tensor *b,
                                const double w[4])
{
    for (int k = 0; k < 4; k++)
        if (!(isfinite(w[k]) && w[k] > 0)) {
            pixl__ctx_fail(ctx, PIXL_ERR_ARG,
                          "%s: weights (wx, wy, ww, wh) = (%g, %g, %g, %g) must be finite and > 0 (%s, %s)", op, w[0],
                          w[1], w[2], w[3], pixl__tshape(a), pixl__tshape(b));
            return false;
        }
    return true;
}

pixl_tensor *pixl_box_encode(pixl_ctx *ctx, pixl_tensor *reference_boxes, pixl_tensor *proposals, double wx, double wy,
                             double ww, double wh)
{
    if (!ctx || pixl__any_null(2, reference_boxes, proposals)) return NULL;
    const char *op = box_encode_def.name;
    if (!check_boxes(ctx, op, "reference_boxes", reference_boxes, proposals) ||
        !check_boxes(ctx, op, "proposals", proposals, reference_boxes))
        return NULL;
    if (reference_boxes->shape[0] != proposals->shape[0]) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "%s: reference_boxes %s and proposals %s must have the same N", op,
                      pixl__tshape(reference_boxes), pixl__tshape(proposals));
        return NULL;
    }
    coder_p p = {reference_boxes->shape[0], 1, {wx, wy, ww, wh}};
    if (!check_coder_weights(ctx, op, reference_boxes, proposals, p.w)) return NULL;
    const int64_t shape[2] = {p.N, 4};
    pixl_tensor *src[2] = {reference_boxes, proposals};
    return pixl__node_new(ctx, &box_encode_def, PIXL_F32, 2, shape, src, 2, &p, sizeof p);
}

pixl_tensor *pixl_box_decode(pixl_ctx *ctx, pixl_tensor *rel_codes, pixl_tensor *boxes, double wx, double wy,
                             double ww, double wh)
{
    if (!ctx || pixl__any_null(2, rel_codes, boxes)) return NULL;
    const char *op = box_decode_def.name;
    if (!check_boxes(ctx, op, "boxes", boxes, rel_codes)) return NULL;
    if (rel_codes->dtype != PIXL_F32 || rel_codes->ndim != 2 || rel_codes->shape[1] < 4 ||
        rel_codes->shape[1] % 4 != 0) {
        pixl__ctx_fail(ctx, rel_codes->dtype != PIXL_F32 ? PIXL_ERR_ARG : PIXL_ERR_SHAPE,
                      "%s: rel_codes %s (%s) must be f32 (N, 4 * C), C >= 1 (dx, dy, dw, dh per class); boxes %s",
                      op, pixl__tshape(rel_codes), pixl_dtype_name(rel_codes->dtype), pixl__tshape(boxes));
        return NULL;
    }
    if (rel_codes->shape[0] != boxes->shape[0]) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "%s: rel_codes %s and boxes %s must have the same N", op,
                      pixl__tshape(rel_codes), pixl__tshape(boxes));
        return NULL;
    }
    coder_p p = {boxes->shape[0], rel_codes->shape[1] / 4, {wx, wy, ww, wh}};
    if (!check_coder_weights(ctx, op, rel_codes, boxes, p.w)) return NULL;
    pixl_tensor *src[2] = {rel_codes, boxes};
    return pixl__node_new(ctx, &box_decode_def, PIXL_F32, 2, rel_codes->shape, src, 2, &p, sizeof p);
}
