/* resample.c — pixl_resize: bilinear and nearest resizing of (N,C,H,W)
 * tensors, forward and backward, with PyTorch 1.13's index
 * rules (F.interpolate / nn.Upsample):
 *
 *  bilinear, align_corners: src = i * (in-1)/(out-1)   (0 when out == 1)
 *  bilinear, otherwise:     src = max(0, (i + 0.5) * s - 0.5) with
 *                           s = 1/scale_factor when a scale was given,
 *                           else in/out
 *      i0 = floor(src), i1 = i0 + (i0 < in-1), l1 = src - i0, l0 = 1 - l1
 *      y = lh0 * (lw0 x[h0][w0] + lw1 x[h0][w1]) + lh1 * (lw0 x[h1][w0] + lw1 x[h1][w1])
 *  nearest ('nearest', not 'nearest-exact'), computed in float as PyTorch:
 *      src = min(floorf(i * s), in-1), s = (float)(1/scale) or (float)in/(float)out
 *    This is the forward of PyTorch's generic NCHW kernel. PyTorch 1.13 is
 *    not self-consistent here: its channels-last kernel (also taken for
 *    C == 1 tensors) and its backward use `nearest_idx`, which special-cases
 *    out == in (src = i) and out == 2*in (src = i >> 1) even when a scale
 *    factor such as 2.1 says otherwise. The two rules differ only for such
 *    scale factors; pixl uses the floor rule in both directions.
 *
 * Index/weight tables for rows and columns are built at the start of every
 * fwd/bwd call in n->work, followed by per-thread row buffers. Nearest
 * backward gathers: each input row sums its output rows, then scatters
 * through the column table once.
 * Bilinear forward is separable: each needed input row is interpolated
 * horizontally once into a two-slot row cache (slot = row & 1), then output
 * rows blend two cached rows (a vectorisable loop). Bilinear backward runs the
 * transpose: the vertical part accumulates into two row slots, a slot is
 * flushed (horizontal transpose, scattered into the input gradient) once its
 * row can receive nothing more. Backward works plane by plane, serially
 * inside a plane, so results are identical for any thread count. */
#include <math.h>
#include <omp.h>

#include "pixl_impl.h"

typedef struct resize_p {
    int mode, align;
    double scale_h, scale_w; /* user's scale factors, 0 = none */
    int64_t planes, H, W, OH, OW;
} resize_p;

/* linear tables: for each output index i, source indices i0/i1 and weights l0/l1 */
typedef struct lin_tab { int32_t *i0, *i1; float *l0, *l1; } lin_tab;

static void lin_table(int64_t in, int64_t out, int align, double scale, lin_tab t)
{
    double s;
    if (align) s = out > 1 ? (double)(in - 1) / (double)(out - 1) : 0.0;
    else s = scale > 0 ? 1.0 / scale : (double)in / (double)out;
    for (int64_t i = 0; i < out; i++) {
        double src = align ? s * (double)i : s * ((double)i + 0.5) - 0.5;
        if (src < 0) src = 0;
        int64_t a = (int64_t)src;
        if (a > in - 1) a = in - 1; /* only with a scale that disagrees with the size */
        double l = src - (double)a;
        if (l > 1) l = 1;
        t.i0[i] = (int32_t)a;
        t.i1[i] = (int32_t)(a + (a < in - 1 ? 1 : 0));
        t.l1[i] = (float)l;
        t.l0[i] = (float)(1.0 - l);
    }
}

static void nearest_table(int64_t in, int64_t out, double scale, int32_t *idx)
{
    const float s = scale > 0 ? (float)(1.0 / scale) : (float)in / (float)out;
    for (int64_t i = 0; i < out; i++) {
        int64_t k = (int64_t)floorf((float)i * s);
        idx[i] = (int32_t)(k < in - 1 ? k : in - 1);
    }
}

/* layout of n->work: tables, then per-thread buffers of 2*OW floats (bilinear) */
static size_t lin_tab_bytes(int64_t out) { return (size_t)out * 16; }
static size_t tables_bytes(const resize_p *p)
{
    size_t b = p->mode == PIXL_RESIZE_BILINEAR ? lin_tab_bytes(p->OH) + lin_tab_bytes(p->OW)
                                               : (size_t)(p->OH + p->OW + p->H + 1) * 4;
    return (b + 63) & ~(size_t)63;
}
/* bilinear: two rows (OW); nearest: one row (OW) */
static size_t thread_bytes(const resize_p *p)
{
    return ((size_t)p->OW * (p->mode == PIXL_RESIZE_BILINEAR ? 2 : 1) * 4 + 63) & ~(size_t)63;
}

static lin_tab lin_at(char *base, int64_t out)
{
    lin_tab t;
    t.i0 = (int32_t *)(void *)base;
    t.i1 = t.i0 + out;
    t.l0 = (float *)(void *)(t.i1 + out);
    t.l1 = t.l0 + out;
    return t;
}

/* threads we may use: no more than the per-thread buffers planned, one for
 * small tensors (waking a team costs more than the work there) */
static int usable_threads(const pixl_tensor *n, const resize_p *p)
{
    int nt = n->numel + n->src[0]->numel < ((int64_t)1 << 15) ? 1 : pixl_num_threads(); /* small: one */
    size_t cap = (n->work_bytes - tables_bytes(p)) / thread_bytes(p);
    if ((size_t)nt > cap) nt = (int)cap;
    return nt < 1 ? 1 : nt;
}

/* horizontal interpolation of one input row into dst (OW) */
static inline void hrow(const float *restrict row, float *restrict dst, const lin_tab *tw, int64_t OW)
{
    for (int64_t j = 0; j < OW; j++) dst[j] = tw->l0[j] * row[tw->i0[j]] + tw->l1[j] * row[tw->i1[j]];
}

/* transpose of hrow: scatter src (OW) into the gradient row g (W) */
static inline void hrow_t(const float *restrict src, float *restrict g, const lin_tab *tw, int64_t OW)
{
    for (int64_t j = 0; j < OW; j++) {
        g[tw->i0[j]] += tw->l0[j] * src[j];
        g[tw->i1[j]] += tw->l1[j] * src[j];
    }
}

#define ROW_BLOCK 16 /* output rows per forward task */

static int bilinear_fwd(pixl_tensor *n)
{
    const resize_p *p = PIXL_PARAMS(n, resize_p);
    const float *x = pixl_f32(n->src[0]); /* (P, H, W) */
    float *y = pixl_f32(n);               /* (P, OH, OW) */
    const int64_t H = p->H, W = p->W, OH = p->OH, OW = p->OW;
    char *work = n->work;
    lin_tab th = lin_at(work, OH), tw = lin_at(work + lin_tab_bytes(OH), OW);
    lin_table(H, OH, p->align, p->scale_h, th);
    lin_table(W, OW, p->align, p->scale_w, tw);
    float *bufs = (float *)(void *)(work + tables_bytes(p)); /* (threads, 2, OW) row cache */
    const size_t tstride = thread_bytes(p) / 4;
    const int64_t nblk = (OH + ROW_BLOCK - 1) / ROW_BLOCK, tasks = p->planes * nblk;
#pragma omp parallel num_threads(usable_threads(n, p))
    {
        float *slot[2];
        slot[0] = bufs + (size_t)omp_get_thread_num() * tstride;
        slot[1] = slot[0] + OW;
#pragma omp for schedule(static)
        for (int64_t t = 0; t < tasks; t++) {
            const int64_t pl = t / nblk, oh0 = (t % nblk) * ROW_BLOCK, oh1 = oh0 + ROW_BLOCK < OH ? oh0 + ROW_BLOCK : OH;
            const float *in = x + pl * H * W;
            float *out = y + pl * OH * OW;
            int64_t cached[2] = {-1, -1};
            for (int64_t oh = oh0; oh < oh1; oh++) {
                const int64_t h0 = th.i0[oh], h1 = th.i1[oh];
                if (cached[h0 & 1] != h0) {
                    hrow(in + h0 * W, slot[h0 & 1], &tw, OW);
                    cached[h0 & 1] = h0;
                }
                if (cached[h1 & 1] != h1) {
                    hrow(in + h1 * W, slot[h1 & 1], &tw, OW);
                    cached[h1 & 1] = h1;
                }
                const float a = th.l0[oh], b = th.l1[oh];
                const float *restrict r0 = slot[h0 & 1], *restrict r1 = slot[h1 & 1];
                float *restrict o = out + oh * OW;
                for (int64_t j = 0; j < OW; j++) o[j] = a * r0[j] + b * r1[j];
            }
        }
    }
    return PIXL_OK;
}

static int bilinear_bwd(pixl_tensor *n)
{
    const resize_p *p = PIXL_PARAMS(n, resize_p);
    float *gx = n->src[0]->grad; /* (P, H, W) */
    if (!gx) return PIXL_OK;
    const float *gy = n->grad; /* (P, OH, OW) */
    const int64_t H = p->H, W = p->W, OH = p->OH, OW = p->OW;
    char *work = n->work;
    lin_tab th = lin_at(work, OH), tw = lin_at(work + lin_tab_bytes(OH), OW);
    lin_table(H, OH, p->align, p->scale_h, th);
    lin_table(W, OW, p->align, p->scale_w, tw);
    float *bufs = (float *)(void *)(work + tables_bytes(p)); /* (threads, 2, OW) row accumulators */
    const size_t tstride = thread_bytes(p) / 4;
#pragma omp parallel num_threads(usable_threads(n, p))
    {
        float *slot[2];
        slot[0] = bufs + (size_t)omp_get_thread_num() * tstride;
        slot[1] = slot[0] + OW;
#pragma omp for schedule(static)
        for (int64_t pl = 0; pl < p->planes; pl++) {
            float *g = gx + pl * H * W;
            const float *go = gy + pl * OH * OW;
            int64_t row[2] = {-1, -1}; /* input row accumulated in each slot */
            for (int64_t oh = 0; oh < OH; oh++) {
                const int64_t hh[2] = {th.i0[oh], th.i1[oh]};
                const float lw[2] = {th.l0[oh], th.l1[oh]};
                for (int k = 0; k < 2; k++) {
                    const int64_t h = hh[k];
                    float *restrict s = slot[h & 1];
                    if (row[h & 1] != h) { /* rows only move forward: the old one is complete */
                        if (row[h & 1] >= 0) hrow_t(s, g + row[h & 1] * W, &tw, OW);
                        memset(s, 0, (size_t)OW * sizeof(float));
                        row[h & 1] = h;
                    }
                    const float a = lw[k];
                    const float *restrict gr = go + oh * OW;
                    for (int64_t j = 0; j < OW; j++) s[j] += a * gr[j];
                }
            }
            for (int k = 0; k < 2; k++) /* distinct rows: order does not matter */
                if (row[k] >= 0) hrow_t(slot[k], g + row[k] * W, &tw, OW);
        }
    }
    return PIXL_OK;
}

static int nearest_fwd(pixl_tensor *n)
{
    const resize_p *p = PIXL_PARAMS(n, resize_p);
    const float *x = pixl_f32(n->src[0]); /* (P, H, W) */
    float *y = pixl_f32(n);               /* (P, OH, OW) */
    const int64_t H = p->H, W = p->W, OH = p->OH, OW = p->OW, rows = p->planes * OH;
    int32_t *ih = n->work, *iw = ih + OH; /* (OH), (OW) source indices */
    nearest_table(H, OH, p->scale_h, ih);
    nearest_table(W, OW, p->scale_w, iw);
#pragma omp parallel for num_threads(usable_threads(n, p)) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const int64_t pl = r / OH, oh = r % OH;
        const float *restrict in = x + (pl * H + ih[oh]) * W;
        float *restrict out = y + r * OW;
        for (int64_t j = 0; j < OW; j++) out[j] = in[iw[j]];
    }
    return PIXL_OK;
}

/* Gather form: input row h receives the output rows [rs[h], rs[h+1]) (source
 * rows are nondecreasing). Those rows are summed (vectorised) into a row
 * buffer, then scattered once through the column table. Each task owns one
 * input row, so tasks over (plane, row) run in parallel deterministically. */
static int nearest_bwd(pixl_tensor *n)
{
    const resize_p *p = PIXL_PARAMS(n, resize_p);
    float *gx = n->src[0]->grad; /* (P, H, W) */
    if (!gx) return PIXL_OK;
    const float *gy = n->grad; /* (P, OH, OW) */
    const int64_t H = p->H, W = p->W, OH = p->OH, OW = p->OW, tasks = p->planes * H;
    char *work = n->work;
    int32_t *ih = (int32_t *)(void *)work, *iw = ih + OH, *rs = iw + OW; /* (OH), (OW), (H+1) */
    nearest_table(H, OH, p->scale_h, ih);
    nearest_table(W, OW, p->scale_w, iw);
    for (int64_t h = 0, oh = 0; h <= H; h++) {
        while (oh < OH && ih[oh] < h) oh++;
        rs[h] = (int32_t)oh;
    }
    float *bufs = (float *)(void *)(work + tables_bytes(p)); /* (threads, OW) row sums */
    const size_t tstride = thread_bytes(p) / 4;
#pragma omp parallel num_threads(usable_threads(n, p))
    {
        float *restrict tmp = bufs + (size_t)omp_get_thread_num() * tstride;
#pragma omp for schedule(static)
        for (int64_t t = 0; t < tasks; t++) {
            const int64_t pl = t / H, h = t % H, r0 = rs[h], r1 = rs[h + 1];
            if (r0 == r1) continue;
            const float *go = gy + pl * OH * OW;
            const float *src = go + r0 * OW;
            if (r1 - r0 > 1) {
                memcpy(tmp, src, (size_t)OW * sizeof(float));
                for (int64_t oh = r0 + 1; oh < r1; oh++) {
                    const float *restrict o = go + oh * OW;
                    for (int64_t j = 0; j < OW; j++) tmp[j] += o[j];
                }
                src = tmp;
            }
            float *restrict gr = gx + (pl * H + h) * W;
            for (int64_t j = 0; j < OW; j++) gr[iw[j]] += src[j];
        }
    }
    return PIXL_OK;
}

static int resize_fwd(pixl_tensor *n)
{
    return PIXL_PARAMS(n, resize_p)->mode == PIXL_RESIZE_BILINEAR ? bilinear_fwd(n) : nearest_fwd(n);
}

static int resize_bwd(pixl_tensor *n)
{
    return PIXL_PARAMS(n, resize_p)->mode == PIXL_RESIZE_BILINEAR ? bilinear_bwd(n) : nearest_bwd(n);
}

static size_t resize_work(const pixl_tensor *n)
{
    const resize_p *p = PIXL_PARAMS(n, resize_p);
    return tables_bytes(p) + (size_t)pixl_num_threads() * thread_bytes(p);
}

static const pixl_op_def resize_def = {"resize", resize_fwd, resize_bwd, NULL, resize_work, 0, NULL, NULL};

pixl_tensor *pixl_resize(pixl_ctx *ctx, pixl_tensor *x, int out_h, int out_w, pixl_resize_mode mode,
                         int align_corners, double scale_h, double scale_w)
{
    if (!ctx || !x) return NULL;
    const char *mname = mode == PIXL_RESIZE_BILINEAR ? "bilinear" : "nearest";
    if (x->dtype != PIXL_F32) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "resize: input %s is %s, expected f32", pixl__tshape(x),
                      pixl_dtype_name(x->dtype));
        return NULL;
    }
    if (x->ndim != 4) { /* (PyTorch reads a 3-d input as (N,C,L), so no (C,H,W) here) */
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "resize: input %s must be (N,C,H,W)", pixl__tshape(x));
        return NULL;
    }
    if (mode != PIXL_RESIZE_BILINEAR && mode != PIXL_RESIZE_NEAREST) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "resize: input %s: unknown mode %d", pixl__tshape(x), (int)mode);
        return NULL;
    }
    if (mode == PIXL_RESIZE_NEAREST && align_corners) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "resize: input %s: align_corners applies to bilinear only, not nearest",
                      pixl__tshape(x));
        return NULL;
    }
    const int64_t H = x->shape[x->ndim - 2], W = x->shape[x->ndim - 1];
    if (out_h <= 0 || out_w <= 0 || H > INT32_MAX || W > INT32_MAX) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "resize (%s): input %s: invalid output size %dx%d", mname, pixl__tshape(x),
                      out_h, out_w);
        return NULL;
    }
    if (!(scale_h >= 0) || !(scale_w >= 0) || isinf(scale_h) || isinf(scale_w)) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "resize (%s): input %s: invalid scale factors %g, %g", mname, pixl__tshape(x),
                      scale_h, scale_w);
        return NULL;
    }
    resize_p p = {0};
    p.mode = mode;
    p.align = align_corners != 0;
    p.scale_h = scale_h;
    p.scale_w = scale_w;
    p.H = H;
    p.W = W;
    p.planes = x->numel / (H * W);
    p.OH = out_h;
    p.OW = out_w;
    int64_t shape[4];
    for (int i = 0; i < x->ndim; i++) shape[i] = x->shape[i];
    shape[x->ndim - 2] = out_h;
    shape[x->ndim - 1] = out_w;
    return pixl__node_new(ctx, &resize_def, PIXL_F32, x->ndim, shape, &x, 1, &p, sizeof p);
}
