/* roi.c — region-of-interest pooling on (N,C,H,W) feature maps, forward and
 * backward side by side:
 *   roi_align  torchvision.ops.roi_align (Mask R-CNN's RoIAlign)
 *   roi_pool   torchvision.ops.roi_pool  (Fast R-CNN's RoIPool)
 *
 * boxes (K,5) f32 rows (batch index, x1, y1, x2, y2) in input-image
 * coordinates; spatial_scale maps them onto the feature map. Output
 * (K, C, out_h, out_w). Boxes get no gradient.
 *
 * Semantics follow torchvision 0.14's CPU kernels (coordinates in double):
 *  roi_align: start = box * scale - (aligned ? 0.5 : 0); roi size = end -
 *    start, clamped to >= 1 when not aligned; bin = size / out; a grid of
 *    sampling_ratio (<= 0: ceil(size / out), adaptive) samples per bin side
 *    at start + p * bin + (i + 0.5) * bin / grid; each sample is bilinear
 *    with torchvision's boundary rules (a sample with y < -1, y > H, x < -1
 *    or x > W is 0; coordinates below 0 read as 0; at or past the last
 *    row/column both neighbours are that row/column); a bin is the sum of
 *    its samples over max(grid_h * grid_w, 1).
 *  roi_pool: box corners rounded half away from zero (round()), roi size
 *    max(end - start + 1, 1), bin [floor(p * size / out), ceil((p+1) *
 *    size / out)) offset by the start and clipped to the input; the bin is
 *    its maximum (the first in row-major order wins), 0 when empty; the
 *    gradient goes to the argmax element.
 *  The batch index is truncated toward zero as torchvision's int cast does.
 *
 * Data checks happen at forward: a batch index outside [0, N), a coordinate
 * that is not finite (or, for roi_pool, beyond +-2^30 after scaling) or an
 * adaptive sampling grid above ROI_MAX_GRID per bin side fail the forward
 * with a message naming the op and the box.
 *
 * Forward kernels split the K*C output planes over OpenMP threads; backward
 * kernels split the channels, each thread scattering serially into its own
 * input planes (every box, in order), so results are the same bits for any
 * thread count. */
#include <float.h>
#include <math.h>
#include <omp.h>

#include "pixl_impl.h"

#define ROI_MAX_GRID 65536
#define ROI_MAX_COORD 1073741824.0 /* 2^30: roi_pool's integer box corners */

typedef struct roi_p {
    int64_t N, C, H, W, K;
    int oh, ow;
    double scale;
    int sampling, aligned;
} roi_p;

/* the geometry of one box, computed and checked at the start of each pass */
typedef struct roi_geo {
    int64_t b;                 /* batch index */
    double y0, x0, bin_h, bin_w; /* roi_align: start and bin size; roi_pool: bin size */
    int64_t ys, xs;            /* roi_pool: rounded start */
    int gh, gw;                /* roi_align: samples per bin side (>= 0) */
} roi_geo;

static int nthreads(const pixl_tensor *n)
{
    return n->numel + n->src[0]->numel < ((int64_t)1 << 15) ? 1 : pixl_num_threads();
}

static size_t geo_work(const pixl_tensor *n) { return (size_t)PIXL_PARAMS(n, roi_p)->K * sizeof(roi_geo); }

/* batch index and finite corners of box k; PIXL_OK or an error */
static int box_common(const char *op, const roi_p *p, const float *bx, int64_t k, roi_geo *g)
{
    for (int j = 0; j < 5; j++)
        if (!isfinite(bx[j]))
            return pixl_set_error(PIXL_ERR_ARG, "%s: box %lld (%g, %g, %g, %g, %g) has a non-finite value", op,
                                  (long long)k, bx[0], bx[1], bx[2], bx[3], bx[4]);
    double bi = trunc((double)bx[0]);
    if (bi < 0 || bi >= (double)p->N)
        return pixl_set_error(PIXL_ERR_ARG, "%s: box %lld has batch index %g, outside [0, %lld) of input [%lld, %lld, %lld, %lld]",
                              op, (long long)k, bx[0], (long long)p->N, (long long)p->N, (long long)p->C,
                              (long long)p->H, (long long)p->W);
    g->b = (int64_t)bi;
    return PIXL_OK;
}

static int check_boxes_input(pixl_ctx *ctx, const char *op, const pixl_tensor *x, const pixl_tensor *boxes)
{
    if (x->dtype != PIXL_F32 || x->ndim != 4) {
        pixl__ctx_fail(ctx, x->dtype != PIXL_F32 ? PIXL_ERR_ARG : PIXL_ERR_SHAPE,
                      "%s: input %s (%s) must be f32 (N,C,H,W)", op, pixl__tshape(x), pixl_dtype_name(x->dtype));
        return 0;
    }
    if (boxes->dtype != PIXL_F32 || boxes->ndim != 2 || boxes->shape[1] != 5) {
        pixl__ctx_fail(ctx, boxes->dtype != PIXL_F32 ? PIXL_ERR_ARG : PIXL_ERR_SHAPE,
                      "%s: boxes %s (%s) must be f32 (K, 5) rows (batch index, x1, y1, x2, y2); input %s", op,
                      pixl__tshape(boxes), pixl_dtype_name(boxes->dtype), pixl__tshape(x));
        return 0;
    }
    if (x->shape[2] * x->shape[3] > INT32_MAX) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "%s: input %s: an H*W plane is too large for int32 indices", op,
                      pixl__tshape(x));
        return 0;
    }
    return 1;
}

static int setup(pixl_ctx *ctx, const char *op, pixl_tensor *x, pixl_tensor *boxes, int out_h, int out_w,
                 double spatial_scale, roi_p *p)
{
    if (!check_boxes_input(ctx, op, x, boxes)) return 0;
    if (out_h < 1 || out_w < 1 || out_h > ROI_MAX_GRID || out_w > ROI_MAX_GRID) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "%s: input %s, boxes %s: output size %dx%d must be in 1..%d", op,
                      pixl__tshape(x), pixl__tshape(boxes), out_h, out_w, ROI_MAX_GRID);
        return 0;
    }
    if (!(spatial_scale > 0) || !isfinite(spatial_scale)) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "%s: input %s, boxes %s: spatial_scale %g must be finite and > 0", op,
                      pixl__tshape(x), pixl__tshape(boxes), spatial_scale);
        return 0;
    }
    memset(p, 0, sizeof *p);
    p->N = x->shape[0];
    p->C = x->shape[1];
    p->H = x->shape[2];
    p->W = x->shape[3];
    p->K = boxes->shape[0];
    p->oh = out_h;
    p->ow = out_w;
    p->scale = spatial_scale;
    return 1;
}

/* ======================================================================
 * roi_align
 * ====================================================================== */

static int align_geo(const roi_p *p, const float *boxes, roi_geo *geo)
{
    const double off = p->aligned ? 0.5 : 0.0;
    for (int64_t k = 0; k < p->K; k++) {
        const float *bx = boxes + 5 * k;
        roi_geo *g = geo + k;
        int rc = box_common("roi_align", p, bx, k, g);
        if (rc) return rc;
        double x0 = bx[1] * p->scale - off, y0 = bx[2] * p->scale - off;
        double rw = bx[3] * p->scale - off - x0, rh = bx[4] * p->scale - off - y0;
        if (!p->aligned) {
            rw = rw > 1 ? rw : 1;
            rh = rh > 1 ? rh : 1;
        }
        g->x0 = x0;
        g->y0 = y0;
        g->bin_h = rh / p->oh;
        g->bin_w = rw / p->ow;
        double gh = p->sampling > 0 ? p->sampling : ceil(rh / p->oh);
        double gw = p->sampling > 0 ? p->sampling : ceil(rw / p->ow);
        if (!isfinite(gh) || !isfinite(gw) || gh > ROI_MAX_GRID || gw > ROI_MAX_GRID)
            return pixl_set_error(PIXL_ERR_ARG,
                                  "roi_align: box %lld (%g, %g, %g, %g) at spatial_scale %g needs a sampling grid of "
                                  "%g x %g per bin (at most %d per side; set sampling_ratio)",
                                  (long long)k, bx[1], bx[2], bx[3], bx[4], p->scale, gh, gw, ROI_MAX_GRID);
        g->gh = gh > 0 ? (int)gh : 0;
        g->gw = gw > 0 ? (int)gw : 0;
    }
    return PIXL_OK;
}

/* torchvision's bilinear rules along one axis of `size` cells: the two
 * neighbours and their weights; 0 when the sample lies outside [-1, size] */
typedef struct lin1 { int64_t lo, hi; double wl, wh; } lin1;
static inline int interp1(double v, int64_t size, lin1 *o)
{
    if (v < -1.0 || v > (double)size) return 0;
    if (v <= 0) v = 0;
    int64_t lo = (int64_t)v, hi;
    if (lo >= size - 1) {
        hi = lo = size - 1;
        v = (double)lo;
    } else
        hi = lo + 1;
    o->lo = lo;
    o->hi = hi;
    o->wh = v - (double)lo; /* weight of hi */
    o->wl = 1.0 - o->wh;    /* weight of lo */
    return 1;
}

static int roi_align_fwd(pixl_tensor *n)
{
    const roi_p *p = PIXL_PARAMS(n, roi_p);
    const float *x = pixl_f32(n->src[0]), *boxes = pixl_f32(n->src[1]);
    float *y = pixl_f32(n);
    roi_geo *geo = n->work;
    int rc = align_geo(p, boxes, geo);
    if (rc) return rc;
    const int64_t C = p->C, H = p->H, W = p->W, HW = H * W, O = (int64_t)p->oh * p->ow;
#pragma omp parallel for num_threads(nthreads(n)) schedule(static)
    for (int64_t kc = 0; kc < p->K * C; kc++) {
        const roi_geo *g = geo + kc / C;
        const float *in = x + (g->b * C + kc % C) * HW;
        float *out = y + kc * O;
        const double cnt = g->gh > 0 && g->gw > 0 ? (double)g->gh * g->gw : 1.0;
        for (int ph = 0; ph < p->oh; ph++)
            for (int pw = 0; pw < p->ow; pw++) {
                double s = 0;
                for (int iy = 0; iy < g->gh; iy++) {
                    lin1 ly;
                    if (!interp1(g->y0 + ph * g->bin_h + (iy + 0.5) * g->bin_h / g->gh, H, &ly)) continue;
                    const float *rl = in + ly.lo * W, *rh = in + ly.hi * W;
                    for (int ix = 0; ix < g->gw; ix++) {
                        lin1 lx;
                        if (!interp1(g->x0 + pw * g->bin_w + (ix + 0.5) * g->bin_w / g->gw, W, &lx)) continue;
                        s += ly.wl * (lx.wl * rl[lx.lo] + lx.wh * rl[lx.hi]) +
                             ly.wh * (lx.wl * rh[lx.lo] + lx.wh * rh[lx.hi]);
                    }
                }
                out[ph * p->ow + pw] = (float)(s / cnt);
            }
    }
    return PIXL_OK;
}

static int roi_align_bwd(pixl_tensor *n)
{
    const roi_p *p = PIXL_PARAMS(n, roi_p);
    float *gx = n->src[0]->grad;
    if (!gx) return PIXL_OK;
    const float *boxes = pixl_f32(n->src[1]), *gy = n->grad;
    roi_geo *geo = n->work;
    int rc = align_geo(p, boxes, geo);
    if (rc) return rc;
    const int64_t C = p->C, H = p->H, W = p->W, HW = H * W, O = (int64_t)p->oh * p->ow;
#pragma omp parallel for num_threads(nthreads(n)) schedule(static)
    for (int64_t c = 0; c < C; c++)
        for (int64_t k = 0; k < p->K; k++) {
            const roi_geo *g = geo + k;
            float *gin = gx + (g->b * C + c) * HW;
            const float *go = gy + (k * C + c) * O;
            const double cnt = g->gh > 0 && g->gw > 0 ? (double)g->gh * g->gw : 1.0;
            for (int ph = 0; ph < p->oh; ph++)
                for (int pw = 0; pw < p->ow; pw++) {
                    const double gb = go[ph * p->ow + pw] / cnt;
                    if (gb == 0) continue;
                    for (int iy = 0; iy < g->gh; iy++) {
                        lin1 ly;
                        if (!interp1(g->y0 + ph * g->bin_h + (iy + 0.5) * g->bin_h / g->gh, H, &ly)) continue;
                        float *rl = gin + ly.lo * W, *rh = gin + ly.hi * W;
                        for (int ix = 0; ix < g->gw; ix++) {
                            lin1 lx;
                            if (!interp1(g->x0 + pw * g->bin_w + (ix + 0.5) * g->bin_w / g->gw, W, &lx)) continue;
                            rl[lx.lo] += (float)(gb * ly.wl * lx.wl);
                            rl[lx.hi] += (float)(gb * ly.wl * lx.wh);
                            rh[lx.lo] += (float)(gb * ly.wh * lx.wl);
                            rh[lx.hi] += (float)(gb * ly.wh * lx.wh);
                        }
                    }
                }
        }
    return PIXL_OK;
}

static const pixl_op_def roi_align_def = {"roi_align", roi_align_fwd, roi_align_bwd, NULL, geo_work, 0, NULL, NULL};

pixl_tensor *pixl_roi_align(pixl_ctx *ctx, pixl_tensor *x, pixl_tensor *boxes, int out_h, int out_w,
                            double spatial_scale, int sampling_ratio, int aligned)
{
    if (!ctx || pixl__any_null(2, x, boxes)) return NULL;
    roi_p p;
    if (!setup(ctx, "roi_align", x, boxes, out_h, out_w, spatial_scale, &p)) return NULL;
    if (sampling_ratio > ROI_MAX_GRID) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "roi_align: input %s, boxes %s: sampling_ratio %d is above %d",
                      pixl__tshape(x), pixl__tshape(boxes), sampling_ratio, ROI_MAX_GRID);
        return NULL;
    }
    p.sampling = sampling_ratio > 0 ? sampling_ratio : 0;
    p.aligned = aligned != 0;
    const int64_t shape[4] = {p.K, p.C, out_h, out_w};
    pixl_tensor *src[2] = {x, boxes};
    return pixl__node_new(ctx, &roi_align_def, PIXL_F32, 4, shape, src, 2, &p, sizeof p);
}

/* ======================================================================
 * roi_pool
 * ====================================================================== */

static int pool_geo(const roi_p *p, const float *boxes, roi_geo *geo)
{
    for (int64_t k = 0; k < p->K; k++) {
        const float *bx = boxes + 5 * k;
        roi_geo *g = geo + k;
        int rc = box_common("roi_pool", p, bx, k, g);
        if (rc) return rc;
        double c[4];
        for (int j = 0; j < 4; j++) {
            c[j] = round(bx[1 + j] * p->scale);
            if (fabs(c[j]) > ROI_MAX_COORD)
                return pixl_set_error(PIXL_ERR_ARG,
                                      "roi_pool: box %lld (%g, %g, %g, %g) at spatial_scale %g reaches beyond +-2^30",
                                      (long long)k, bx[1], bx[2], bx[3], bx[4], p->scale);
        }
        g->xs = (int64_t)c[0];
        g->ys = (int64_t)c[1];
        int64_t rw = (int64_t)c[2] - g->xs + 1, rh = (int64_t)c[3] - g->ys + 1;
        g->bin_w = (double)(rw > 1 ? rw : 1) / p->ow;
        g->bin_h = (double)(rh > 1 ? rh : 1) / p->oh;
    }
    return PIXL_OK;
}

static inline int64_t clampi(int64_t v, int64_t hi) { return v < 0 ? 0 : v > hi ? hi : v; }

/* the bin [*a, *b) of output cell i along one axis */
static inline void pool_bin(int64_t i, double bin, int64_t start, int64_t size, int64_t *a, int64_t *b)
{
    *a = clampi((int64_t)floor((double)i * bin) + start, size);
    *b = clampi((int64_t)ceil((double)(i + 1) * bin) + start, size);
}

static int roi_pool_fwd(pixl_tensor *n)
{
    const roi_p *p = PIXL_PARAMS(n, roi_p);
    const float *x = pixl_f32(n->src[0]), *boxes = pixl_f32(n->src[1]);
    float *y = pixl_f32(n);
    int32_t *arg = n->aux; /* (K, C, oh, ow) or NULL when no gradient flows */
    roi_geo *geo = n->work;
    int rc = pool_geo(p, boxes, geo);
    if (rc) return rc;
    const int64_t C = p->C, H = p->H, W = p->W, HW = H * W, O = (int64_t)p->oh * p->ow;
#pragma omp parallel for num_threads(nthreads(n)) schedule(static)
    for (int64_t kc = 0; kc < p->K * C; kc++) {
        const roi_geo *g = geo + kc / C;
        const float *in = x + (g->b * C + kc % C) * HW;
        for (int ph = 0; ph < p->oh; ph++) {
            int64_t h0, h1;
            pool_bin(ph, g->bin_h, g->ys, H, &h0, &h1);
            for (int pw = 0; pw < p->ow; pw++) {
                int64_t w0, w1;
                pool_bin(pw, g->bin_w, g->xs, W, &w0, &w1);
                const int empty = h1 <= h0 || w1 <= w0;
                float m = empty ? 0.0f : -FLT_MAX;
                int64_t mi = -1;
                for (int64_t h = h0; h < h1; h++)
                    for (int64_t w = w0; w < w1; w++)
                        if (in[h * W + w] > m) {
                            m = in[h * W + w];
                            mi = h * W + w;
                        }
                const int64_t o = kc * O + ph * p->ow + pw;
                y[o] = m;
                if (arg) arg[o] = (int32_t)mi;
            }
        }
    }
    return PIXL_OK;
}

static int roi_pool_bwd(pixl_tensor *n)
{
    const roi_p *p = PIXL_PARAMS(n, roi_p);
    float *gx = n->src[0]->grad;
    if (!gx) return PIXL_OK;
    const float *gy = n->grad;
    const int32_t *arg = n->aux;
    if (!arg) return pixl_set_error(PIXL_ERR_STATE, "roi_pool backward: argmax was not saved");
    roi_geo *geo = n->work;
    int rc = pool_geo(p, pixl_f32(n->src[1]), geo);
    if (rc) return rc;
    const int64_t C = p->C, HW = p->H * p->W, O = (int64_t)p->oh * p->ow;
#pragma omp parallel for num_threads(nthreads(n)) schedule(static)
    for (int64_t c = 0; c < C; c++)
        for (int64_t k = 0; k < p->K; k++) {
            float *gin = gx + (geo[k].b * C + c) * HW;
            const float *go = gy + (k * C + c) * O;
            const int32_t *ix = arg + (k * C + c) * O;
            for (int64_t i = 0; i < O; i++)
                if (ix[i] >= 0 && ix[i] < HW) gin[ix[i]] += go[i];
        }
    return PIXL_OK;
}

static size_t roi_pool_aux(const pixl_tensor *n)
{
    return (n->flags & PIXL_FLAG_NEEDS_GRAD) ? (size_t)n->numel * sizeof(int32_t) : 0;
}

static const pixl_op_def roi_pool_def = {"roi_pool", roi_pool_fwd, roi_pool_bwd, roi_pool_aux, geo_work, 0, NULL, NULL};

pixl_tensor *pixl_roi_pool(pixl_ctx *ctx, pixl_tensor *x, pixl_tensor *boxes, int out_h, int out_w,
                           double spatial_scale)
{
    if (!ctx || pixl__any_null(2, x, boxes)) return NULL;
    roi_p p;
    if (!setup(ctx, "roi_pool", x, boxes, out_h, out_w, spatial_scale, &p)) return NULL;
    const int64_t shape[4] = {p.K, p.C, out_h, out_w};
    pixl_tensor *src[2] = {x, boxes};
    return pixl__node_new(ctx, &roi_pool_def, PIXL_F32, 4, shape, src, 2, &p, sizeof p);
}
