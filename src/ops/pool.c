/* pool.c — pooling ops on (N,C,H,W) tensors (or (C,H,W)), forward and
 * backward side by side:
 *   max_pool2d           (+ pixl_max_pool2d_indices: its int32 argmax as a VIEW node)
 *   max_unpool2d         (scatter by indices; backward gathers)
 *   avg_pool2d           (count_include_pad / exclude_pad, ceil_mode)
 *   adaptive_avg_pool2d  (PyTorch's floor/ceil windows)
 *
 * Semantics follow PyTorch 1.13's CPU kernels:
 *  - output size: floor_div(H + 2p - d*(k-1) - 1 (+ s-1 if ceil_mode), s) + 1,
 *    and with ceil_mode the last window must start inside the input or the
 *    left padding ((o-1)*s < H + p), else it is dropped;
 *  - padding may be at most kernel/2; an output size < 1 is an error;
 *  - max: the first maximum in row-major window order wins; NaN propagates
 *    (a NaN replaces the running max); the argmax is a flat index into the
 *    input's H*W plane;
 *  - avg: the divisor counts the window clipped to the padded input
 *    (count_include_pad) or to the input (exclude_pad);
 *  - adaptive: rows [floor(i*H/OH), ceil((i+1)*H/OH)), divided by kh then kw.
 *
 * Every kernel works on the P = N*C independent H*W planes. Forward kernels
 * split the P*OH output rows over OpenMP threads; backward kernels split the
 * planes and scatter serially inside each plane, so results are the same
 * bits for any thread count. */
#include <math.h>
#include <omp.h>

#include "pixl_impl.h"

typedef struct pool_p {
    int kh, kw, sh, sw, ph, pw, dh, dw;
    int ceil_mode, exclude_pad;
    int want_idx;              /* max pool: an indices view reads n->aux */
    int64_t planes, H, W, OH, OW;
} pool_p;

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

/* floor division (PyTorch's div_rtn) */
static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b, r = a % b;
    return (r != 0 && ((r < 0) != (b < 0))) ? q - 1 : q;
}

/* PyTorch's pooling_output_shape */
static int64_t pool_out_size(int64_t in, int k, int pad, int stride, int dil, int ceil_mode)
{
    int64_t o = floor_div(in + 2 * (int64_t)pad - (int64_t)dil * (k - 1) - 1 + (ceil_mode ? stride - 1 : 0), stride) + 1;
    if (ceil_mode && (o - 1) * stride >= in + pad) o--;
    return o;
}

/* threads for node n: one for small tensors, where waking a team costs more
 * than the work (results do not depend on the count) */
static int nthreads(const pixl_tensor *n)
{
    return n->numel + n->src[0]->numel < ((int64_t)1 << 15) ? 1 : pixl_num_threads();
}

static bool check_x(pixl_ctx *ctx, const char *op, const pixl_tensor *x)
{
    if (x->dtype != PIXL_F32) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "%s: input %s is %s, expected f32", op, pixl__tshape(x),
                      pixl_dtype_name(x->dtype));
        return false;
    }
    if (x->ndim != 3 && x->ndim != 4) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "%s: input %s must be (N,C,H,W) or (C,H,W)", op, pixl__tshape(x));
        return false;
    }
    if (x->shape[x->ndim - 2] * x->shape[x->ndim - 1] > INT32_MAX) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "%s: input %s: an H*W plane is too large for int32 indices", op,
                      pixl__tshape(x));
        return false;
    }
    return true;
}

/* Validate options as PyTorch's pool2d_shape_check does; fill p. */
static bool pool_setup(pixl_ctx *ctx, const char *op, const pixl_tensor *x, const pixl_pool2d_opts *o,
                       int allow_dilation, pool_p *p)
{
    if (!check_x(ctx, op, x)) return false;
    if (!o) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "%s: input %s: NULL options (the kernel size is required)", op,
                      pixl__tshape(x));
        return false;
    }
    memset(p, 0, sizeof *p);
    p->kh = o->kernel[0];
    p->kw = o->kernel[1];
    p->sh = o->stride[0] ? o->stride[0] : o->kernel[0];
    p->sw = o->stride[1] ? o->stride[1] : o->kernel[1];
    p->ph = o->padding[0];
    p->pw = o->padding[1];
    p->dh = o->dilation[0] ? o->dilation[0] : 1;
    p->dw = o->dilation[1] ? o->dilation[1] : 1;
    p->ceil_mode = o->ceil_mode != 0;
    p->exclude_pad = o->exclude_pad != 0;
    p->H = x->shape[x->ndim - 2];
    p->W = x->shape[x->ndim - 1];
    p->planes = x->numel / (p->H * p->W);
    if (p->kh <= 0 || p->kw <= 0 || p->sh <= 0 || p->sw <= 0 || p->dh <= 0 || p->dw <= 0 || p->ph < 0 ||
        p->pw < 0) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG,
                      "%s: input %s: kernel %dx%d, stride %dx%d, padding %dx%d, dilation %dx%d: kernel, stride "
                      "and dilation must be > 0 and padding >= 0",
                      op, pixl__tshape(x), p->kh, p->kw, p->sh, p->sw, p->ph, p->pw, p->dh, p->dw);
        return false;
    }
    if (!allow_dilation && (p->dh != 1 || p->dw != 1)) {
        pixl__ctx_fail(ctx, PIXL_ERR_UNSUPPORTED, "%s: input %s: dilation %dx%d is not supported (only 1)", op,
                      pixl__tshape(x), p->dh, p->dw);
        return false;
    }
    if (p->ph > p->kh / 2 || p->pw > p->kw / 2) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG,
                      "%s: input %s: padding %dx%d must be at most half the kernel size %dx%d", op, pixl__tshape(x),
                      p->ph, p->pw, p->kh, p->kw);
        return false;
    }
    p->OH = pool_out_size(p->H, p->kh, p->ph, p->sh, p->dh, p->ceil_mode);
    p->OW = pool_out_size(p->W, p->kw, p->pw, p->sw, p->dw, p->ceil_mode);
    if (p->OH < 1 || p->OW < 1) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE,
                      "%s: input %s: kernel %dx%d, stride %dx%d, padding %dx%d, dilation %dx%d give output size "
                      "%lldx%lld (too small)",
                      op, pixl__tshape(x), p->kh, p->kw, p->sh, p->sw, p->ph, p->pw, p->dh, p->dw, (long long)p->OH,
                      (long long)p->OW);
        return false;
    }
    return true;
}

static void out_shape(const pixl_tensor *x, int64_t oh, int64_t ow, int64_t *shape)
{
    for (int i = 0; i < x->ndim; i++) shape[i] = x->shape[i];
    shape[x->ndim - 2] = oh;
    shape[x->ndim - 1] = ow;
}

/* ======================================================================
 * max_pool2d
 * ====================================================================== */

/* one output row `oh` of one plane, any kernel/stride/padding/dilation,
 * output columns [ow0, ow1). in: (H,W) plane; out, ind: (OW) row (ind may be NULL) */
static void maxpool_row_generic(const pool_p *p, const float *in, float *out, int32_t *ind, int64_t oh, int64_t ow0,
                                int64_t ow1)
{
    const int64_t W = p->W;
    int64_t h0 = oh * p->sh - p->ph;
    const int64_t h1 = min64(h0 + (int64_t)(p->kh - 1) * p->dh + 1, p->H);
    while (h0 < 0) h0 += p->dh;
    for (int64_t ow = ow0; ow < ow1; ow++) {
        int64_t w0 = ow * p->sw - p->pw;
        const int64_t w1 = min64(w0 + (int64_t)(p->kw - 1) * p->dw + 1, W);
        while (w0 < 0) w0 += p->dw;
        float m = -INFINITY;
        int64_t mi = h0 * W + w0; /* PyTorch's value for an all -inf (or empty) window */
        for (int64_t h = h0; h < h1; h += p->dh)
            for (int64_t w = w0; w < w1; w += p->dw) {
                float v = in[h * W + w];
                if (v > m || isnan(v)) {
                    m = v;
                    mi = h * W + w;
                }
            }
        out[ow] = m;
        if (ind) ind[ow] = (int32_t)mi;
    }
}

/* 2x2 stride 2 windows fully inside the input: output row oh, columns [0, n).
 * r0, r1: input rows 2*oh and 2*oh+1; base = flat index of r0[0]. */
static inline void maxpool2x2_row_idx(const float *restrict r0, const float *restrict r1, float *restrict out,
                                      int32_t *restrict ind, int32_t base, int32_t W, int64_t n)
{
    for (int64_t j = 0; j < n; j++) {
        float a = r0[2 * j], b = r0[2 * j + 1], c = r1[2 * j], d = r1[2 * j + 1];
        int32_t k = base + 2 * (int32_t)j;
        float m = a;
        int32_t mi = k;
        int sb = (b > m) | (b != b);
        m = sb ? b : m;
        mi = sb ? k + 1 : mi;
        int sc = (c > m) | (c != c);
        m = sc ? c : m;
        mi = sc ? k + W : mi;
        int sd = (d > m) | (d != d);
        m = sd ? d : m;
        mi = sd ? k + W + 1 : mi;
        out[j] = m;
        ind[j] = mi;
    }
}

static inline void maxpool2x2_row(const float *restrict r0, const float *restrict r1, float *restrict out, int64_t n)
{
    for (int64_t j = 0; j < n; j++) {
        float a = r0[2 * j], b = r0[2 * j + 1], c = r1[2 * j], d = r1[2 * j + 1];
        float m = a;
        m = ((b > m) | (b != b)) ? b : m;
        m = ((c > m) | (c != c)) ? c : m;
        m = ((d > m) | (d != d)) ? d : m;
        out[j] = m;
    }
}

/* Dilation-1 windows of stride <= MP_MAX_S when nobody needs the argmax
 * (inference: RefineNet's 5x5/1 chained residual pooling, the ResNet stem's
 * 3x3/2): the window maximum is separable, a column maximum over the kh rows
 * and then a kw-wide maximum along the row, kh*sw + kw comparisons per
 * output instead of kh * kw, the column pass vectorised. Values equal the
 * generic kernel's (a NaN anywhere in the window gives NaN). One output row
 * `oh` of one plane, in chunks of MP_CHUNK columns. */
#define MP_CHUNK 256
#define MP_MAX_KW 64
#define MP_MAX_S 4
static void maxpool_row_s1(const pool_p *p, const float *in, float *out, int64_t oh)
{
    const int64_t W = p->W, OW = p->OW, sw = p->sw;
    const int64_t h0 = max64(oh * p->sh - p->ph, 0), h1 = min64(oh * p->sh - p->ph + p->kh, p->H);
    float col[MP_CHUNK * MP_MAX_S + MP_MAX_KW];
    for (int64_t c0 = 0; c0 < OW; c0 += MP_CHUNK) {
        const int64_t c1 = min64(c0 + MP_CHUNK, OW);
        const int64_t w0 = max64(c0 * sw - p->pw, 0), w1 = min64((c1 - 1) * sw - p->pw + p->kw, W);
        for (int64_t w = w0; w < w1; w++) col[w - w0] = -INFINITY;
        for (int64_t h = h0; h < h1; h++) {
            const float *r = in + h * W;
            for (int64_t w = w0; w < w1; w++) {
                float v = r[w], m = col[w - w0];
                col[w - w0] = (v > m || v != v) ? v : m;
            }
        }
        for (int64_t ow = c0; ow < c1; ow++) {
            const int64_t a = max64(ow * sw - p->pw, 0), b = min64(ow * sw - p->pw + p->kw, W);
            float m = -INFINITY;
            for (int64_t w = a; w < b; w++) {
                float v = col[w - w0];
                m = (v > m || v != v) ? v : m;
            }
            out[ow] = m;
        }
    }
}

static int max_pool_fwd(pixl_tensor *n)
{
    const pool_p *p = PIXL_PARAMS(n, pool_p);
    const float *x = pixl_f32(n->src[0]); /* (P, H, W) */
    float *y = pixl_f32(n);               /* (P, OH, OW) */
    int32_t *idx = n->aux;                /* (P, OH, OW) or NULL when nobody needs the argmax */
    const int64_t H = p->H, W = p->W, OH = p->OH, OW = p->OW, rows = p->planes * OH;
    const int fast = p->kh == 2 && p->kw == 2 && p->sh == 2 && p->sw == 2 && p->ph == 0 && p->pw == 0 &&
                     p->dh == 1 && p->dw == 1;
    const int64_t full_h = fast ? H / 2 : 0, full_w = fast ? W / 2 : 0; /* rows/cols of whole 2x2 windows */
    const int s1 = !idx && !fast && p->sh <= MP_MAX_S && p->sw <= MP_MAX_S && p->dh == 1 && p->dw == 1 &&
                   p->kw <= MP_MAX_KW;
#pragma omp parallel for num_threads(nthreads(n)) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const int64_t pl = r / OH, oh = r % OH;
        const float *in = x + pl * H * W;
        float *out = y + r * OW;
        int32_t *ind = idx ? idx + r * OW : NULL;
        int64_t done = 0;
        if (s1) {
            maxpool_row_s1(p, in, out, oh);
            continue;
        }
        if (oh < full_h) {
            const float *r0 = in + 2 * oh * W, *r1 = r0 + W;
            if (ind) maxpool2x2_row_idx(r0, r1, out, ind, (int32_t)(2 * oh * W), (int32_t)W, full_w);
            else maxpool2x2_row(r0, r1, out, full_w);
            done = full_w;
        }
        if (done < OW) maxpool_row_generic(p, in, out, ind, oh, done, OW);
    }
    return PIXL_OK;
}

static int max_pool_bwd(pixl_tensor *n)
{
    const pool_p *p = PIXL_PARAMS(n, pool_p);
    float *gx = n->src[0]->grad; /* (P, H, W) */
    if (!gx) return PIXL_OK;
    const float *gy = n->grad;    /* (P, OH, OW) */
    const int32_t *idx = n->aux;  /* (P, OH, OW) */
    if (!idx) return pixl_set_error(PIXL_ERR_STATE, "max_pool2d backward: argmax was not saved");
    const int64_t HW = p->H * p->W, O = p->OH * p->OW;
#pragma omp parallel for num_threads(nthreads(n)) schedule(static)
    for (int64_t pl = 0; pl < p->planes; pl++) {
        float *g = gx + pl * HW;
        const float *go = gy + pl * O;
        const int32_t *ix = idx + pl * O;
        for (int64_t i = 0; i < O; i++) {
            uint32_t k = (uint32_t)ix[i];
            if (k < (uint64_t)HW) g[k] += go[i]; /* an all-padding window has no input element */
        }
    }
    return PIXL_OK;
}

static size_t max_pool_aux(const pixl_tensor *n)
{
    const pool_p *p = PIXL_PARAMS(n, pool_p);
    if (!p->want_idx && !(n->flags & PIXL_FLAG_NEEDS_GRAD)) return 0;
    return (size_t)n->numel * sizeof(int32_t);
}

static const pixl_op_def max_pool_def = {"max_pool2d", max_pool_fwd, max_pool_bwd, max_pool_aux, NULL, 0, NULL, NULL};
static const pixl_op_def max_pool_idx_def = {"max_pool2d_indices", NULL, NULL, NULL, NULL, 0, NULL, NULL};

pixl_tensor *pixl_max_pool2d(pixl_ctx *ctx, pixl_tensor *x, const pixl_pool2d_opts *o)
{
    if (!ctx || !x) return NULL;
    pool_p p;
    if (!pool_setup(ctx, "max_pool2d", x, o, 1, &p)) return NULL;
    int64_t shape[4];
    out_shape(x, p.OH, p.OW, shape);
    return pixl__node_new(ctx, &max_pool_def, PIXL_F32, x->ndim, shape, &x, 1, &p, sizeof p);
}

pixl_tensor *pixl_max_pool2d_indices(pixl_ctx *ctx, pixl_tensor *pooled)
{
    if (!ctx || !pooled) return NULL;
    if (pooled->def != &max_pool_def) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "max_pool2d_indices: %s is not the output of pixl_max_pool2d()",
                      pixl__tshape(pooled));
        return NULL;
    }
    if (pooled->ctx != ctx) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "max_pool2d_indices: %s belongs to another context", pixl__tshape(pooled));
        return NULL;
    }
    pixl_tensor *t = pixl__node_new(ctx, &max_pool_idx_def, PIXL_I32, pooled->ndim, pooled->shape, &pooled, 1, NULL, 0);
    if (!t) return NULL;
    PIXL_PARAMS(pooled, pool_p)->want_idx = 1;
    t->flags |= PIXL_FLAG_VIEW;
    t->view_of = pooled;
    t->view_aux = 1;
    return t;
}

/* ======================================================================
 * max_unpool2d
 * ====================================================================== */

typedef struct unpool_p { int64_t planes, h, w, OH, OW; } unpool_p;

static int bad_index(const pixl_tensor *n, int64_t pl, int32_t k)
{
    const unpool_p *p = PIXL_PARAMS(n, unpool_p);
    return pixl_set_error(PIXL_ERR_ARG,
                          "max_unpool2d: %s: index %d in plane %lld is outside the output plane %lldx%lld",
                          pixl__tshape(n->src[1]), (int)k, (long long)pl, (long long)p->OH, (long long)p->OW);
}

static int unpool_fwd(pixl_tensor *n)
{
    const unpool_p *p = PIXL_PARAMS(n, unpool_p);
    const float *x = pixl_f32(n->src[0]);        /* (P, h, w) */
    const int32_t *idx = n->src[1]->data;        /* (P, h, w) */
    float *y = pixl_f32(n);                      /* (P, OH, OW) */
    const int64_t I = p->h * p->w, O = p->OH * p->OW;
    int64_t bad_pl = -1;
    int32_t bad_k = 0;
#pragma omp parallel for num_threads(nthreads(n)) schedule(static)
    for (int64_t pl = 0; pl < p->planes; pl++) {
        float *out = y + pl * O;
        const float *in = x + pl * I;
        const int32_t *ix = idx + pl * I;
        memset(out, 0, (size_t)O * sizeof(float));
        for (int64_t i = 0; i < I; i++) {
            uint32_t k = (uint32_t)ix[i];
            if (k < (uint64_t)O) out[k] = in[i]; /* serial: the last write of a duplicate wins */
            else {
#pragma omp critical(pixl_unpool_err)
                if (bad_pl < 0 || pl < bad_pl) {
                    bad_pl = pl;
                    bad_k = ix[i];
                }
                break;
            }
        }
    }
    if (bad_pl >= 0) return bad_index(n, bad_pl, bad_k);
    return PIXL_OK;
}

static int unpool_bwd(pixl_tensor *n)
{
    const unpool_p *p = PIXL_PARAMS(n, unpool_p);
    float *gx = n->src[0]->grad; /* (P, h, w) */
    if (!gx) return PIXL_OK;
    const int32_t *idx = n->src[1]->data; /* (P, h, w) */
    const float *gy = n->grad;            /* (P, OH, OW) */
    const int64_t I = p->h * p->w, O = p->OH * p->OW;
#pragma omp parallel for num_threads(nthreads(n)) schedule(static)
    for (int64_t pl = 0; pl < p->planes; pl++) {
        float *g = gx + pl * I;
        const float *go = gy + pl * O;
        const int32_t *ix = idx + pl * I;
        for (int64_t i = 0; i < I; i++) {
            uint32_t k = (uint32_t)ix[i];
            if (k < (uint64_t)O) g[i] += go[k]; /* forward already rejected bad indices */
        }
    }
    return PIXL_OK;
}

static const pixl_op_def unpool_def = {"max_unpool2d", unpool_fwd, unpool_bwd, NULL, NULL, 0, NULL, NULL};

pixl_tensor *pixl_max_unpool2d(pixl_ctx *ctx, pixl_tensor *x, pixl_tensor *indices, int out_h, int out_w)
{
    if (!ctx || pixl__any_null(2, x, indices)) return NULL;
    if (!check_x(ctx, "max_unpool2d", x)) return NULL;
    if (indices->dtype != PIXL_I32) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "max_unpool2d: indices %s are %s, expected i32 (input %s)",
                      pixl__tshape(indices), pixl_dtype_name(indices->dtype), pixl__tshape(x));
        return NULL;
    }
    if (!pixl__same_shape(x, indices)) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "max_unpool2d: indices %s must have the shape of the input %s",
                      pixl__tshape(indices), pixl__tshape(x));
        return NULL;
    }
    if (out_h <= 0 || out_w <= 0 || (int64_t)out_h * out_w > INT32_MAX) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "max_unpool2d: input %s: invalid output size %dx%d", pixl__tshape(x), out_h,
                      out_w);
        return NULL;
    }
    unpool_p p = {0};
    p.h = x->shape[x->ndim - 2];
    p.w = x->shape[x->ndim - 1];
    p.planes = x->numel / (p.h * p.w);
    p.OH = out_h;
    p.OW = out_w;
    int64_t shape[4];
    out_shape(x, out_h, out_w, shape);
    pixl_tensor *src[2] = {x, indices};
    return pixl__node_new(ctx, &unpool_def, PIXL_F32, x->ndim, shape, src, 2, &p, sizeof p);
}

/* ======================================================================
 * avg_pool2d
 * ====================================================================== */

/* window of output (oh, ow): clipped bounds [h0,h1) x [w0,w1) and divisor */
typedef struct win { int64_t h0, h1, w0, w1; float div; } win;

static inline win avg_window(const pool_p *p, int64_t oh, int64_t ow)
{
    win r;
    int64_t h0 = oh * p->sh - p->ph, w0 = ow * p->sw - p->pw;
    int64_t h1 = min64(h0 + p->kh, p->H + p->ph), w1 = min64(w0 + p->kw, p->W + p->pw);
    int64_t pool = (h1 - h0) * (w1 - w0);
    r.h0 = max64(h0, 0);
    r.w0 = max64(w0, 0);
    r.h1 = min64(h1, p->H);
    r.w1 = min64(w1, p->W);
    int64_t cnt = (r.h1 > r.h0 && r.w1 > r.w0) ? (r.h1 - r.h0) * (r.w1 - r.w0) : 0;
    r.div = (float)(p->exclude_pad ? cnt : pool);
    return r;
}

/* 2x2 stride 2 unpadded windows fully inside the input: the divisor is 4 in
 * both modes; the sum runs in PyTorch's window order */
static inline int avg_fast(const pool_p *p)
{
    return p->kh == 2 && p->kw == 2 && p->sh == 2 && p->sw == 2 && p->ph == 0 && p->pw == 0;
}

static int avg_pool_fwd(pixl_tensor *n)
{
    const pool_p *p = PIXL_PARAMS(n, pool_p);
    const float *x = pixl_f32(n->src[0]); /* (P, H, W) */
    float *y = pixl_f32(n);               /* (P, OH, OW) */
    const int64_t H = p->H, W = p->W, OH = p->OH, OW = p->OW, rows = p->planes * OH;
    const int fast = avg_fast(p);
    const int64_t full_h = fast ? H / 2 : 0, full_w = fast ? W / 2 : 0;
#pragma omp parallel for num_threads(nthreads(n)) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const int64_t pl = r / OH, oh = r % OH;
        const float *in = x + pl * H * W;
        float *out = y + r * OW;
        int64_t ow = 0;
        if (oh < full_h) {
            const float *restrict r0 = in + 2 * oh * W, *restrict r1 = r0 + W;
            float *restrict o = out;
            for (int64_t j = 0; j < full_w; j++) o[j] = (((r0[2 * j] + r0[2 * j + 1]) + r1[2 * j]) + r1[2 * j + 1]) / 4.0f;
            ow = full_w;
        }
        for (; ow < OW; ow++) {
            win b = avg_window(p, oh, ow);
            if (b.h0 >= b.h1 || b.w0 >= b.w1) {
                out[ow] = 0;
                continue;
            }
            float s = 0;
            for (int64_t h = b.h0; h < b.h1; h++)
                for (int64_t w = b.w0; w < b.w1; w++) s += in[h * W + w];
            out[ow] = s / b.div;
        }
    }
    return PIXL_OK;
}

static int avg_pool_bwd(pixl_tensor *n)
{
    const pool_p *p = PIXL_PARAMS(n, pool_p);
    float *gx = n->src[0]->grad; /* (P, H, W) */
    if (!gx) return PIXL_OK;
    const float *gy = n->grad; /* (P, OH, OW) */
    const int64_t H = p->H, W = p->W, OH = p->OH, OW = p->OW;
    const int fast = avg_fast(p);
    const int64_t full_h = fast ? H / 2 : 0, full_w = fast ? W / 2 : 0;
#pragma omp parallel for num_threads(nthreads(n)) schedule(static)
    for (int64_t pl = 0; pl < p->planes; pl++) {
        float *g = gx + pl * H * W;
        const float *go = gy + pl * OH * OW;
        for (int64_t oh = 0; oh < OH; oh++) {
            int64_t ow = 0;
            if (oh < full_h) {
                float *restrict r0 = g + 2 * oh * W, *restrict r1 = r0 + W;
                const float *restrict gr = go + oh * OW;
                for (int64_t j = 0; j < full_w; j++) {
                    const float d = gr[j] / 4.0f;
                    r0[2 * j] += d;
                    r0[2 * j + 1] += d;
                    r1[2 * j] += d;
                    r1[2 * j + 1] += d;
                }
                ow = full_w;
            }
            for (; ow < OW; ow++) {
                win b = avg_window(p, oh, ow);
                if (b.h0 >= b.h1 || b.w0 >= b.w1) continue;
                const float d = go[oh * OW + ow] / b.div;
                for (int64_t h = b.h0; h < b.h1; h++)
                    for (int64_t w = b.w0; w < b.w1; w++) g[h * W + w] += d;
            }
        }
    }
    return PIXL_OK;
}

static const pixl_op_def avg_pool_def = {"avg_pool2d", avg_pool_fwd, avg_pool_bwd, NULL, NULL, 0, NULL, NULL};

pixl_tensor *pixl_avg_pool2d(pixl_ctx *ctx, pixl_tensor *x, const pixl_pool2d_opts *o)
{
    if (!ctx || !x) return NULL;
    pool_p p;
    if (!pool_setup(ctx, "avg_pool2d", x, o, 0, &p)) return NULL;
    int64_t shape[4];
    out_shape(x, p.OH, p.OW, shape);
    return pixl__node_new(ctx, &avg_pool_def, PIXL_F32, x->ndim, shape, &x, 1, &p, sizeof p);
}

/* ======================================================================
 * adaptive_avg_pool2d
 * ====================================================================== */

typedef struct apool_p { int64_t planes, H, W, OH, OW; } apool_p;

static inline int64_t ad_start(int64_t i, int64_t in, int64_t out) { return (i * in) / out; }
static inline int64_t ad_end(int64_t i, int64_t in, int64_t out) { return ((i + 1) * in + out - 1) / out; }

static int apool_fwd(pixl_tensor *n)
{
    const apool_p *p = PIXL_PARAMS(n, apool_p);
    const float *x = pixl_f32(n->src[0]); /* (P, H, W) */
    float *y = pixl_f32(n);               /* (P, OH, OW) */
    const int64_t H = p->H, W = p->W, OH = p->OH, OW = p->OW, rows = p->planes * OH;
#pragma omp parallel for num_threads(nthreads(n)) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const int64_t pl = r / OH, oh = r % OH;
        const float *in = x + pl * H * W;
        float *out = y + r * OW;
        const int64_t h0 = ad_start(oh, H, OH), h1 = ad_end(oh, H, OH);
        for (int64_t ow = 0; ow < OW; ow++) {
            const int64_t w0 = ad_start(ow, W, OW), w1 = ad_end(ow, W, OW);
            float s = 0;
            for (int64_t h = h0; h < h1; h++)
                for (int64_t w = w0; w < w1; w++) s += in[h * W + w];
            out[ow] = s / (float)(h1 - h0) / (float)(w1 - w0);
        }
    }
    return PIXL_OK;
}

static int apool_bwd(pixl_tensor *n)
{
    const apool_p *p = PIXL_PARAMS(n, apool_p);
    float *gx = n->src[0]->grad; /* (P, H, W) */
    if (!gx) return PIXL_OK;
    const float *gy = n->grad; /* (P, OH, OW) */
    const int64_t H = p->H, W = p->W, OH = p->OH, OW = p->OW;
#pragma omp parallel for num_threads(nthreads(n)) schedule(static)
    for (int64_t pl = 0; pl < p->planes; pl++) {
        float *g = gx + pl * H * W;
        const float *go = gy + pl * OH * OW;
        for (int64_t oh = 0; oh < OH; oh++) {
            const int64_t h0 = ad_start(oh, H, OH), h1 = ad_end(oh, H, OH);
            for (int64_t ow = 0; ow < OW; ow++) {
                const int64_t w0 = ad_start(ow, W, OW), w1 = ad_end(ow, W, OW);
                const float d = go[oh * OW + ow] / (float)(h1 - h0) / (float)(w1 - w0);
                for (int64_t h = h0; h < h1; h++)
                    for (int64_t w = w0; w < w1; w++) g[h * W + w] += d;
            }
        }
    }
    return PIXL_OK;
}

static const pixl_op_def apool_def = {"adaptive_avg_pool2d", apool_fwd, apool_bwd, NULL, NULL, 0, NULL, NULL};

pixl_tensor *pixl_adaptive_avg_pool2d(pixl_ctx *ctx, pixl_tensor *x, int out_h, int out_w)
{
    if (!ctx || !x) return NULL;
    if (!check_x(ctx, "adaptive_avg_pool2d", x)) return NULL;
    if (out_h <= 0 || out_w <= 0) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "adaptive_avg_pool2d: input %s: invalid output size %dx%d", pixl__tshape(x),
                      out_h, out_w);
        return NULL;
    }
    apool_p p = {0};
    p.H = x->shape[x->ndim - 2];
    p.W = x->shape[x->ndim - 1];
    p.planes = x->numel / (p.H * p.W);
    p.OH = out_h;
    p.OW = out_w;
    int64_t shape[4];
    out_shape(x, out_h, out_w, shape);
    return pixl__node_new(ctx, &apool_def, PIXL_F32, x->ndim, shape, &x, 1, &p, sizeof p);
}
