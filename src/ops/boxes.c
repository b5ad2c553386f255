/* boxes.c — operations on sets of boxes (x1, y1, x2, y2), as torchvision.ops:
 *   box_iou              (N,4), (M,4) -> (N,M) intersection over union
 *   generalized_box_iou  (N,4), (M,4) -> (N,M) IoU - (enclosing - union) / enclosing
 *   nms / batched_nms    greedy non-maximum suppression -> kept indices
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
