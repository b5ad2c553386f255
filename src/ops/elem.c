/* elem.c — elementwise and shape ops, forward and backward:
 * add and mul with numpy broadcasting, scale, concat (any dim), slice,
 * crop2d, pad2d (constant, reflect, replicate; negative pads crop),
 * reshape (a view aliasing its input's data) and sum (all elements -> [1]).
 *
 * Broadcasting: shapes are right-aligned and size-1 dims stretch. At build
 * time the output dims are coalesced (adjacent dims merge when every operand
 * is contiguous or broadcast across both), so kernels see at most a few
 * dims with a stride of 0 or 1 in the last one. Backward reduces over the
 * broadcast dims: each gradient element is summed serially in double in a
 * fixed order, so results do not depend on the thread count.
 *
 * concat/slice/reshape/crop2d/pad2d move bytes and accept any dtype
 * (gradients flow for f32 only); add/mul/scale/sum are f32. */
#include <math.h>

#include "pixl_impl.h"

#define NT pixl_num_threads()
#define PAR_MIN 32768

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* -------------------------------------------------------- broadcasting */
typedef struct {
    int nd;                        /* coalesced dims (>= 1) */
    int64_t shape[PIXL_MAX_DIMS];  /* coalesced output shape */
    int64_t sa[PIXL_MAX_DIMS];     /* element strides of a (0 = broadcast) */
    int64_t sb[PIXL_MAX_DIMS];     /* element strides of b */
    int same;                      /* a, b and output all have one shape */
} bcast_params;

/* output shape of broadcasting a and b; false if they do not broadcast */
static bool broadcast_shape(const pixl_tensor *a, const pixl_tensor *b, int *nd, int64_t *shape)
{
    int n = a->ndim > b->ndim ? a->ndim : b->ndim;
    for (int i = 0; i < n; i++) {
        int ia = a->ndim - n + i, ib = b->ndim - n + i;
        int64_t da = ia >= 0 ? a->shape[ia] : 1, db = ib >= 0 ? b->shape[ib] : 1;
        if (da != db && da != 1 && db != 1) return false;
        shape[i] = da == 1 ? db : da;
    }
    *nd = n;
    return true;
}

/* strides of t (right aligned) in an output of nd dims; 0 where broadcast */
static void bcast_strides(const pixl_tensor *t, int nd, const int64_t *oshape, int64_t *st)
{
    int64_t s = 1;
    for (int i = nd - 1; i >= 0; i--) {
        int it = t->ndim - nd + i;
        int64_t d = it >= 0 ? t->shape[it] : 1;
        st[i] = (d == 1 && oshape[i] != 1) ? 0 : s;
        s *= d;
    }
}

static void coalesce(bcast_params *p, int nd, const int64_t *shape, const int64_t *sa, const int64_t *sb)
{
    int k = 0;
    for (int i = 0; i < nd; i++) {
        if (shape[i] == 1) continue; /* a size-1 output dim moves nothing */
        if (k > 0 && p->sa[k - 1] == sa[i] * shape[i] && p->sb[k - 1] == sb[i] * shape[i]) {
            p->shape[k - 1] *= shape[i];
            p->sa[k - 1] = sa[i];
            p->sb[k - 1] = sb[i];
            continue;
        }
        p->shape[k] = shape[i];
        p->sa[k] = sa[i];
        p->sb[k] = sb[i];
        k++;
    }
    if (k == 0) {
        p->shape[0] = 1;
        p->sa[0] = p->sb[0] = 1;
        k = 1;
    }
    p->nd = k;
}

/* offsets of a and b for outer row r (all dims but the last) */
static inline void row_offsets(const bcast_params *p, int64_t r, int64_t *oa, int64_t *ob)
{
    int64_t a = 0, b = 0;
    for (int d = p->nd - 2; d >= 0; d--) {
        int64_t i = r % p->shape[d];
        r /= p->shape[d];
        a += i * p->sa[d];
        b += i * p->sb[d];
    }
    *oa = a;
    *ob = b;
}

enum { OP_ADD, OP_MUL };

static void binary_fwd(const bcast_params *p, int op, const float *A, const float *B, float *Y, int64_t numel)
{
    if (p->same) {
        if (op == OP_ADD) {
#pragma omp parallel for num_threads(NT) schedule(static) if (numel >= PAR_MIN)
            for (int64_t i = 0; i < numel; i++) Y[i] = A[i] + B[i];
        } else {
#pragma omp parallel for num_threads(NT) schedule(static) if (numel >= PAR_MIN)
            for (int64_t i = 0; i < numel; i++) Y[i] = A[i] * B[i];
        }
        return;
    }
    const int64_t L = p->shape[p->nd - 1], rows = numel / L, la = p->sa[p->nd - 1], lb = p->sb[p->nd - 1];
#pragma omp parallel for num_threads(NT) schedule(static) if (numel >= PAR_MIN)
    for (int64_t r = 0; r < rows; r++) {
        int64_t oa, ob;
        row_offsets(p, r, &oa, &ob);
        const float *a = A + oa, *b = B + ob;
        float *y = Y + r * L;
        if (op == OP_ADD) {
            if (la && lb) for (int64_t i = 0; i < L; i++) y[i] = a[i] + b[i];
            else if (la) for (int64_t i = 0; i < L; i++) y[i] = a[i] + b[0];
            else if (lb) for (int64_t i = 0; i < L; i++) y[i] = a[0] + b[i];
            else for (int64_t i = 0; i < L; i++) y[i] = a[0] + b[0];
        } else {
            if (la && lb) for (int64_t i = 0; i < L; i++) y[i] = a[i] * b[i];
            else if (la) for (int64_t i = 0; i < L; i++) y[i] = a[i] * b[0];
            else if (lb) for (int64_t i = 0; i < L; i++) y[i] = a[0] * b[i];
            else for (int64_t i = 0; i < L; i++) y[i] = a[0] * b[0];
        }
    }
}

/* G (shape of the operand with strides st) += reduction over broadcast dims
 * of DY * (O ? O[strides so] : 1). DY is the contiguous output gradient. */
static void reduce_to(const bcast_params *p, const int64_t *st, const int64_t *so, const float *DY, const float *O,
                      float *G, int64_t numel)
{
    const int nd = p->nd;
    int64_t ostr[PIXL_MAX_DIMS]; /* contiguous output strides */
    ostr[nd - 1] = 1;
    for (int d = nd - 2; d >= 0; d--) ostr[d] = ostr[d + 1] * p->shape[d + 1];
    /* kept dims (st != 0) and reduced dims (st == 0), outermost first */
    int kept[PIXL_MAX_DIMS], red[PIXL_MAX_DIMS], nk = 0, nr = 0;
    int64_t T = 1, R = 1;
    for (int d = 0; d < nd; d++) {
        if (st[d]) {
            kept[nk++] = d;
            T *= p->shape[d];
        } else {
            red[nr++] = d;
            R *= p->shape[d];
        }
    }
    if (nr == 0) { /* no reduction: elementwise */
        const int64_t L = p->shape[nd - 1], rows = numel / L, lo = so ? so[nd - 1] : 0;
#pragma omp parallel for num_threads(NT) schedule(static) if (numel >= PAR_MIN)
        for (int64_t r = 0; r < rows; r++) {
            int64_t oo = 0, q = r;
            for (int d = nd - 2; d >= 0; d--) {
                oo += (q % p->shape[d]) * (so ? so[d] : 0);
                q /= p->shape[d];
            }
            const float *dy = DY + r * L;
            float *g = G + r * L;
            if (!O) for (int64_t i = 0; i < L; i++) g[i] += dy[i];
            else if (lo) for (int64_t i = 0; i < L; i++) g[i] += dy[i] * O[oo + i];
            else for (int64_t i = 0; i < L; i++) g[i] += dy[i] * O[oo];
        }
        return;
    }
    const int last_reduced = st[nd - 1] == 0;
    if (last_reduced) {
        /* every target element sums R/L rows of L contiguous values */
        const int64_t L = p->shape[nd - 1], lo = so ? so[nd - 1] : 0, RR = R / L;
#pragma omp parallel for num_threads(NT) schedule(static) if (numel >= PAR_MIN)
        for (int64_t t = 0; t < T; t++) {
            int64_t q = t, go = 0, yo = 0, oo = 0;
            for (int k = nk - 1; k >= 0; k--) {
                int d = kept[k];
                int64_t i = q % p->shape[d];
                q /= p->shape[d];
                go += i * st[d];
                yo += i * ostr[d];
                oo += i * (so ? so[d] : 0);
            }
            double s[4] = {0};
            for (int64_t rr = 0; rr < RR; rr++) {
                int64_t q2 = rr, y2 = yo, o2 = oo;
                for (int k = nr - 2; k >= 0; k--) { /* red[nr-1] is the last dim */
                    int d = red[k];
                    int64_t i = q2 % p->shape[d];
                    q2 /= p->shape[d];
                    y2 += i * ostr[d];
                    o2 += i * (so ? so[d] : 0);
                }
                const float *dy = DY + y2;
                int64_t i = 0;
                if (!O) {
                    for (; i + 4 <= L; i += 4)
                        for (int j = 0; j < 4; j++) s[j] += dy[i + j];
                    for (; i < L; i++) s[0] += dy[i];
                } else if (lo) {
                    const float *o = O + o2;
                    for (; i + 4 <= L; i += 4)
                        for (int j = 0; j < 4; j++) s[j] += (double)dy[i + j] * o[i + j];
                    for (; i < L; i++) s[0] += (double)dy[i] * o[i];
                } else {
                    const double ov = O[o2];
                    double u = 0;
                    for (; i < L; i++) u += dy[i];
                    s[0] += u * ov;
                }
            }
            G[go] += (float)((s[0] + s[1]) + (s[2] + s[3]));
        }
        return;
    }
    /* last dim kept: target rows of L contiguous elements, blocks of 64 */
    const int64_t L = p->shape[nd - 1], lo = so ? so[nd - 1] : 0, TR = T / L, nblk = (L + 63) / 64;
#pragma omp parallel for num_threads(NT) schedule(static) if (numel >= PAR_MIN)
    for (int64_t tb = 0; tb < TR * nblk; tb++) {
        const int64_t t = tb / nblk, j0 = (tb % nblk) * 64, BL = min64(64, L - j0);
        int64_t q = t, go = 0, yo = 0, oo = 0;
        for (int k = nk - 2; k >= 0; k--) { /* kept[nk-1] is the last dim */
            int d = kept[k];
            int64_t i = q % p->shape[d];
            q /= p->shape[d];
            go += i * st[d];
            yo += i * ostr[d];
            oo += i * (so ? so[d] : 0);
        }
        double acc[64];
        for (int64_t j = 0; j < BL; j++) acc[j] = 0;
        for (int64_t rr = 0; rr < R; rr++) {
            int64_t q2 = rr, y2 = yo + j0, o2 = oo + j0 * lo;
            for (int k = nr - 1; k >= 0; k--) {
                int d = red[k];
                int64_t i = q2 % p->shape[d];
                q2 /= p->shape[d];
                y2 += i * ostr[d];
                o2 += i * (so ? so[d] : 0);
            }
            const float *dy = DY + y2;
            if (!O) for (int64_t j = 0; j < BL; j++) acc[j] += dy[j];
            else if (lo) for (int64_t j = 0; j < BL; j++) acc[j] += (double)dy[j] * O[o2 + j];
            else for (int64_t j = 0; j < BL; j++) acc[j] += (double)dy[j] * O[o2];
        }
        float *g = G + go + j0;
        for (int64_t j = 0; j < BL; j++) g[j] += (float)acc[j];
    }
}

static int add_fwd(pixl_tensor *n)
{
    binary_fwd(PIXL_PARAMS(n, bcast_params), OP_ADD, pixl_f32(n->src[0]), pixl_f32(n->src[1]), pixl_f32(n), n->numel);
    return PIXL_OK;
}
static int mul_fwd(pixl_tensor *n)
{
    binary_fwd(PIXL_PARAMS(n, bcast_params), OP_MUL, pixl_f32(n->src[0]), pixl_f32(n->src[1]), pixl_f32(n), n->numel);
    return PIXL_OK;
}

static int binary_bwd(pixl_tensor *n, int op)
{
    const bcast_params *p = PIXL_PARAMS(n, bcast_params);
    pixl_tensor *a = n->src[0], *b = n->src[1];
    if (a->grad)
        reduce_to(p, p->sa, op == OP_MUL ? p->sb : NULL, n->grad, op == OP_MUL ? pixl_f32(b) : NULL, a->grad,
                  n->numel);
    if (b->grad)
        reduce_to(p, p->sb, op == OP_MUL ? p->sa : NULL, n->grad, op == OP_MUL ? pixl_f32(a) : NULL, b->grad,
                  n->numel);
    return PIXL_OK;
}
static int add_bwd(pixl_tensor *n) { return binary_bwd(n, OP_ADD); }
static int mul_bwd(pixl_tensor *n) { return binary_bwd(n, OP_MUL); }

/* EVAL fusion: a residual add of two operands of the output's shape */
static int add_epi_step(const pixl_tensor *n, const pixl_tensor *from, pixl_epi_step *st)
{
    const pixl_tensor *a = n->src[0], *b = n->src[1];
    if (a == b || (a != from && b != from) || !PIXL_PARAMS(n, bcast_params)->same) return 0;
    st->kind = PIXL_EPI_ADD;
    st->other = a == from ? b : a;
    return 1;
}
static const pixl_op_def add_def = {"add", add_fwd, add_bwd, NULL, NULL, 0, add_epi_step, NULL};
static const pixl_op_def mul_def = {"mul", mul_fwd, mul_bwd, NULL, NULL, 0, NULL, NULL};

static pixl_tensor *binary(pixl_ctx *ctx, const pixl_op_def *def, pixl_tensor *a, pixl_tensor *b)
{
    if (!ctx || !a || !b) return NULL;
    if (a->dtype != PIXL_F32 || b->dtype != PIXL_F32) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "%s: inputs %s (%s) and %s (%s) must be f32", def->name, pixl__tshape(a),
                      pixl_dtype_name(a->dtype), pixl__tshape(b), pixl_dtype_name(b->dtype));
        return NULL;
    }
    int nd;
    int64_t shape[PIXL_MAX_DIMS], sa[PIXL_MAX_DIMS], sb[PIXL_MAX_DIMS];
    if (!broadcast_shape(a, b, &nd, shape)) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "%s: shapes of %s and %s do not broadcast", def->name, pixl__tshape(a),
                      pixl__tshape(b));
        return NULL;
    }
    bcast_strides(a, nd, shape, sa);
    bcast_strides(b, nd, shape, sb);
    bcast_params p = {0};
    coalesce(&p, nd, shape, sa, sb);
    p.same = a->numel == b->numel && a->numel == pixl__numel_of(nd, shape);
    pixl_tensor *src[2] = {a, b};
    return pixl__node_new(ctx, def, PIXL_F32, nd, shape, src, 2, &p, sizeof p);
}

pixl_tensor *pixl_add(pixl_ctx *ctx, pixl_tensor *a, pixl_tensor *b) { return binary(ctx, &add_def, a, b); }
pixl_tensor *pixl_mul(pixl_ctx *ctx, pixl_tensor *a, pixl_tensor *b) { return binary(ctx, &mul_def, a, b); }

/* ----------------------------------------------------------------- scale */
typedef struct { float s; } scale_params;

static int scale_fwd(pixl_tensor *n)
{
    const float s = PIXL_PARAMS(n, scale_params)->s, *x = pixl_f32(n->src[0]);
    float *y = pixl_f32(n);
#pragma omp parallel for num_threads(NT) schedule(static) if (n->numel >= PAR_MIN)
    for (int64_t i = 0; i < n->numel; i++) y[i] = x[i] * s;
    return PIXL_OK;
}
static int scale_bwd(pixl_tensor *n)
{
    const float s = PIXL_PARAMS(n, scale_params)->s, *dy = n->grad;
    float *dx = n->src[0]->grad;
    if (!dx) return PIXL_OK;
#pragma omp parallel for num_threads(NT) schedule(static) if (n->numel >= PAR_MIN)
    for (int64_t i = 0; i < n->numel; i++) dx[i] += dy[i] * s;
    return PIXL_OK;
}
static const pixl_op_def scale_def = {"scale", scale_fwd, scale_bwd, NULL, NULL, 0, NULL, NULL};

pixl_tensor *pixl_scale(pixl_ctx *ctx, pixl_tensor *x, float s)
{
    if (!ctx || !x) return NULL;
    if (x->dtype != PIXL_F32) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "scale: input %s (%s) must be f32", pixl__tshape(x),
                      pixl_dtype_name(x->dtype));
        return NULL;
    }
    scale_params p = {s};
    return pixl__node_new(ctx, &scale_def, PIXL_F32, x->ndim, x->shape, &x, 1, &p, sizeof p);
}

/* ------------------------------------------------------------ reciprocal */
static int reciprocal_fwd(pixl_tensor *n)
{
    const float *x = pixl_f32(n->src[0]);
    float *y = pixl_f32(n);
#pragma omp parallel for num_threads(NT) schedule(static) if (n->numel >= PAR_MIN)
    for (int64_t i = 0; i < n->numel; i++) y[i] = 1.0f / x[i];
    return PIXL_OK;
}
static int reciprocal_bwd(pixl_tensor *n) /* d(1/x) = -y^2 */
{
    const float *y = pixl_f32(n), *dy = n->grad;
    float *dx = n->src[0]->grad;
    if (!dx) return PIXL_OK;
#pragma omp parallel for num_threads(NT) schedule(static) if (n->numel >= PAR_MIN)
    for (int64_t i = 0; i < n->numel; i++) dx[i] -= dy[i] * y[i] * y[i];
    return PIXL_OK;
}
static const pixl_op_def reciprocal_def = {"reciprocal", reciprocal_fwd, reciprocal_bwd, NULL, NULL, 0, NULL, NULL};

pixl_tensor *pixl_reciprocal(pixl_ctx *ctx, pixl_tensor *x)
{
    if (!ctx || !x) return NULL;
    if (x->dtype != PIXL_F32) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "reciprocal: input %s (%s) must be f32", pixl__tshape(x),
                      pixl_dtype_name(x->dtype));
        return NULL;
    }
    return pixl__node_new(ctx, &reciprocal_def, PIXL_F32, x->ndim, x->shape, &x, 1, NULL, 0);
}

/* ---------------------------------------------------------------- concat */
/* output viewed as (outer, sum_i len_i, inner) */
typedef struct { int64_t outer, inner, total; int64_t len[PIXL_MAX_SRC]; } concat_params;

static int concat_fwd(pixl_tensor *n)
{
    const concat_params *p = PIXL_PARAMS(n, concat_params);
    const size_t es = pixl_dtype_size(n->dtype);
    char *y = n->data;
    for (int s = 0, off = 0; s < n->n_src; off += (int)p->len[s], s++) {
        const char *x = n->src[s]->data;
        const size_t chunk = (size_t)(p->len[s] * p->inner) * es;
#pragma omp parallel for num_threads(NT) schedule(static) if (n->numel >= PAR_MIN)
        for (int64_t o = 0; o < p->outer; o++)
            memcpy(y + ((size_t)(o * p->total + off) * (size_t)p->inner) * es, x + (size_t)o * chunk, chunk);
    }
    return PIXL_OK;
}
static int concat_bwd(pixl_tensor *n)
{
    const concat_params *p = PIXL_PARAMS(n, concat_params);
    int64_t off = 0;
    for (int s = 0; s < n->n_src; off += p->len[s], s++) {
        float *dx = n->src[s]->grad;
        if (!dx) continue;
        const int64_t chunk = p->len[s] * p->inner;
#pragma omp parallel for num_threads(NT) schedule(static) if (n->numel >= PAR_MIN)
        for (int64_t o = 0; o < p->outer; o++) {
            const float *g = n->grad + (o * p->total + off) * p->inner;
            float *d = dx + o * chunk;
            for (int64_t i = 0; i < chunk; i++) d[i] += g[i];
        }
    }
    return PIXL_OK;
}
static const pixl_op_def concat_def = {"concat", concat_fwd, concat_bwd, NULL, NULL, 0, NULL, NULL};

pixl_tensor *pixl_concat(pixl_ctx *ctx, int n, pixl_tensor *const *xs, int dim)
{
    if (!ctx) return NULL;
    if (n <= 0 || !xs) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "concat: no inputs (n = %d)", n);
        return NULL;
    }
    for (int i = 0; i < n; i++)
        if (!xs[i]) return NULL;
    if (n == 1) return xs[0];
    pixl_tensor *x0 = xs[0];
    const int nd = x0->ndim;
    int d = dim < 0 ? dim + nd : dim;
    if (d < 0 || d >= nd) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "concat: dim %d out of range for input %s", dim, pixl__tshape(x0));
        return NULL;
    }
    for (int i = 1; i < n; i++) {
        pixl_tensor *x = xs[i];
        bool ok = x->ndim == nd && x->dtype == x0->dtype;
        for (int k = 0; ok && k < nd; k++) ok = k == d || x->shape[k] == x0->shape[k];
        if (!ok) {
            pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "concat: input %d %s (%s) does not fit input 0 %s (%s) along dim %d",
                          i, pixl__tshape(x), pixl_dtype_name(x->dtype), pixl__tshape(x0), pixl_dtype_name(x0->dtype),
                          dim);
            return NULL;
        }
    }
    if (n > PIXL_MAX_SRC) { /* concatenate in groups, then the groups */
        pixl_tensor *parts[PIXL_MAX_SRC];
        int np = 0;
        for (int i = 0; i < n; i += PIXL_MAX_SRC) {
            int k = n - i < PIXL_MAX_SRC ? n - i : PIXL_MAX_SRC;
            if (np == PIXL_MAX_SRC) {
                parts[0] = pixl_concat(ctx, np, parts, d);
                np = 1;
            }
            parts[np++] = pixl_concat(ctx, k, xs + i, d);
            if (!parts[np - 1] || !parts[0]) return NULL;
        }
        return pixl_concat(ctx, np, parts, d);
    }
    concat_params p = {1, 1, 0, {0}};
    for (int k = 0; k < d; k++) p.outer *= x0->shape[k];
    for (int k = d + 1; k < nd; k++) p.inner *= x0->shape[k];
    for (int i = 0; i < n; i++) {
        p.len[i] = xs[i]->shape[d];
        p.total += p.len[i];
    }
    int64_t shape[PIXL_MAX_DIMS];
    memcpy(shape, x0->shape, sizeof shape);
    shape[d] = p.total;
    return pixl__node_new(ctx, &concat_def, x0->dtype, nd, shape, xs, n, &p, sizeof p);
}

/* ----------------------------------------------------------------- slice */
typedef struct { int64_t outer, inner, size, start, len; } slice_params;

static int slice_fwd(pixl_tensor *n)
{
    const slice_params *p = PIXL_PARAMS(n, slice_params);
    const size_t es = pixl_dtype_size(n->dtype), chunk = (size_t)(p->len * p->inner) * es;
    const char *x = n->src[0]->data;
    char *y = n->data;
#pragma omp parallel for num_threads(NT) schedule(static) if (n->numel >= PAR_MIN)
    for (int64_t o = 0; o < p->outer; o++)
        memcpy(y + (size_t)o * chunk, x + (size_t)((o * p->size + p->start) * p->inner) * es, chunk);
    return PIXL_OK;
}
static int slice_bwd(pixl_tensor *n)
{
    const slice_params *p = PIXL_PARAMS(n, slice_params);
    float *dx = n->src[0]->grad;
    if (!dx) return PIXL_OK;
    const int64_t chunk = p->len * p->inner;
#pragma omp parallel for num_threads(NT) schedule(static) if (n->numel >= PAR_MIN)
    for (int64_t o = 0; o < p->outer; o++) {
        const float *g = n->grad + o * chunk;
        float *d = dx + (o * p->size + p->start) * p->inner;
        for (int64_t i = 0; i < chunk; i++) d[i] += g[i];
    }
    return PIXL_OK;
}
static const pixl_op_def slice_def = {"slice", slice_fwd, slice_bwd, NULL, NULL, 0, NULL, NULL};

pixl_tensor *pixl_slice(pixl_ctx *ctx, pixl_tensor *x, int dim, int64_t start, int64_t end)
{
    if (!ctx || !x) return NULL;
    int d = dim < 0 ? dim + x->ndim : dim;
    if (d < 0 || d >= x->ndim) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "slice: dim %d out of range for input %s", dim, pixl__tshape(x));
        return NULL;
    }
    const int64_t size = x->shape[d];
    /* negative positions count from the end, as in Python */
    int64_t s = start < 0 ? start + size : start, e = end < 0 ? end + size : end;
    if (s < 0 || e > size || s >= e) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "slice: range [%lld, %lld) of dim %d is empty or outside input %s",
                      (long long)start, (long long)end, dim, pixl__tshape(x));
        return NULL;
    }
    if (s == 0 && e == size) return x;
    slice_params p = {1, 1, size, s, e - s};
    for (int k = 0; k < d; k++) p.outer *= x->shape[k];
    for (int k = d + 1; k < x->ndim; k++) p.inner *= x->shape[k];
    int64_t shape[PIXL_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[d] = e - s;
    return pixl__node_new(ctx, &slice_def, x->dtype, x->ndim, shape, &x, 1, &p, sizeof p);
}

/* ----------------------------------------------------------- pad / crop */
/* x viewed as (planes, H, W); output (planes, OH, OW). Output row oh reads
 * input row map(oh - top), column ow reads map(ow - left), where map
 * reflects, clamps, or (constant mode) gives -1 for the fill value. */
typedef struct { int64_t planes, H, W, OH, OW; int top, left; int mode; float value; } pad_params;

static inline int64_t pad_map(int64_t u, int64_t n, int mode)
{
    if (u >= 0 && u < n) return u;
    if (mode == PIXL_PAD_REFLECT) return u < 0 ? -u : 2 * (n - 1) - u;
    if (mode == PIXL_PAD_REPLICATE) return u < 0 ? 0 : n - 1;
    return -1;
}

static size_t pad_work(const pixl_tensor *n)
{
    const pad_params *p = PIXL_PARAMS(n, pad_params);
    return (size_t)(p->OH + p->OW) * sizeof(int64_t);
}

static void pad_maps(const pad_params *p, int64_t *rmap, int64_t *cmap)
{
    for (int64_t i = 0; i < p->OH; i++) rmap[i] = pad_map(i - p->top, p->H, p->mode);
    for (int64_t i = 0; i < p->OW; i++) cmap[i] = pad_map(i - p->left, p->W, p->mode);
}

static int pad_fwd(pixl_tensor *n)
{
    const pad_params *p = PIXL_PARAMS(n, pad_params);
    int64_t *rmap = n->work, *cmap = rmap + p->OH;
    pad_maps(p, rmap, cmap);
    const size_t es = pixl_dtype_size(n->dtype);
    const int64_t H = p->H, W = p->W, OH = p->OH, OW = p->OW;
    /* the fill value in the output's dtype */
    union { float f; int32_t i; int64_t l; uint8_t u; } fill;
    memset(&fill, 0, sizeof fill);
    switch (n->dtype) {
    case PIXL_F32: fill.f = p->value; break;
    case PIXL_I32: fill.i = (int32_t)p->value; break;
    case PIXL_I64: fill.l = (int64_t)p->value; break;
    case PIXL_U8: fill.u = (uint8_t)p->value; break;
    }
    const char *X = n->src[0]->data;
    char *Y = n->data;
#pragma omp parallel for num_threads(NT) schedule(static) if (n->numel >= PAR_MIN)
    for (int64_t r = 0; r < p->planes * OH; r++) {
        const int64_t pl = r / OH, oh = r % OH, ih = rmap[oh];
        char *y = Y + (size_t)r * (size_t)OW * es;
        if (ih < 0) {
            for (int64_t ow = 0; ow < OW; ow++) memcpy(y + (size_t)ow * es, &fill, es);
            continue;
        }
        const char *x = X + (size_t)((pl * H + ih) * W) * es;
        if (es == 4) {
            const uint32_t *xs = (const uint32_t *)(const void *)x;
            uint32_t *ys = (uint32_t *)(void *)y, fv;
            memcpy(&fv, &fill, 4);
            for (int64_t ow = 0; ow < OW; ow++) ys[ow] = cmap[ow] < 0 ? fv : xs[cmap[ow]];
        } else {
            for (int64_t ow = 0; ow < OW; ow++)
                memcpy(y + (size_t)ow * es, cmap[ow] < 0 ? (const char *)&fill : x + (size_t)cmap[ow] * es, es);
        }
    }
    return PIXL_OK;
}

static int pad_bwd(pixl_tensor *n)
{
    const pad_params *p = PIXL_PARAMS(n, pad_params);
    float *dx = n->src[0]->grad;
    if (!dx) return PIXL_OK;
    int64_t *rmap = n->work, *cmap = rmap + p->OH;
    pad_maps(p, rmap, cmap);
    const int64_t H = p->H, W = p->W, OH = p->OH, OW = p->OW;
    /* one plane per task: reflected/replicated positions add up serially */
#pragma omp parallel for num_threads(NT) schedule(static) if (n->numel >= PAR_MIN)
    for (int64_t pl = 0; pl < p->planes; pl++) {
        const float *g = n->grad + pl * OH * OW;
        float *d = dx + pl * H * W;
        for (int64_t oh = 0; oh < OH; oh++) {
            const int64_t ih = rmap[oh];
            if (ih < 0) continue;
            for (int64_t ow = 0; ow < OW; ow++)
                if (cmap[ow] >= 0) d[ih * W + cmap[ow]] += g[oh * OW + ow];
        }
    }
    return PIXL_OK;
}
static const pixl_op_def pad_def = {"pad2d", pad_fwd, pad_bwd, NULL, pad_work, 0, NULL, NULL};
static const pixl_op_def crop_def = {"crop2d", pad_fwd, pad_bwd, NULL, pad_work, 0, NULL, NULL};

static pixl_tensor *pad_node(pixl_ctx *ctx, const pixl_op_def *def, pixl_tensor *x, const int pads[4],
                             pixl_pad_mode mode, float value)
{
    pad_params p = {0};
    const int64_t H = x->shape[x->ndim - 2], W = x->shape[x->ndim - 1];
    p.planes = x->numel / (H * W);
    p.H = H;
    p.W = W;
    p.left = pads[0];
    p.top = pads[2];
    p.OH = H + pads[2] + pads[3];
    p.OW = W + pads[0] + pads[1];
    p.mode = mode;
    p.value = value;
    int64_t shape[PIXL_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[x->ndim - 2] = p.OH;
    shape[x->ndim - 1] = p.OW;
    return pixl__node_new(ctx, def, x->dtype, x->ndim, shape, &x, 1, &p, sizeof p);
}

pixl_tensor *pixl_pad2d(pixl_ctx *ctx, pixl_tensor *x, const int pads[4], pixl_pad_mode mode, float value)
{
    if (!ctx || !x) return NULL;
    if (!pads || (mode != PIXL_PAD_ZERO && mode != PIXL_PAD_REFLECT && mode != PIXL_PAD_REPLICATE)) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "pad2d: %s for input %s", pads ? "unknown mode" : "NULL pads",
                      pixl__tshape(x));
        return NULL;
    }
    if (x->ndim < 2) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "pad2d: input %s needs at least 2 dims (H, W)", pixl__tshape(x));
        return NULL;
    }
    const int64_t H = x->shape[x->ndim - 2], W = x->shape[x->ndim - 1];
    if (W + pads[0] + pads[1] < 1 || H + pads[2] + pads[3] < 1) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "pad2d: pads {%d, %d, %d, %d} leave nothing of input %s", pads[0],
                      pads[1], pads[2], pads[3], pixl__tshape(x));
        return NULL;
    }
    if (mode == PIXL_PAD_REFLECT &&
        (pads[0] >= W || pads[1] >= W || pads[2] >= H || pads[3] >= H)) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE,
                      "pad2d: reflect pads {%d, %d, %d, %d} must be smaller than the padded dims of input %s",
                      pads[0], pads[1], pads[2], pads[3], pixl__tshape(x));
        return NULL;
    }
    if (mode != PIXL_PAD_ZERO &&
        ((pads[0] < 0 && -pads[0] >= W) || (pads[1] < 0 && -pads[1] >= W) || (pads[2] < 0 && -pads[2] >= H) ||
         (pads[3] < 0 && -pads[3] >= H))) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "pad2d: pads {%d, %d, %d, %d} crop away input %s", pads[0], pads[1],
                      pads[2], pads[3], pixl__tshape(x));
        return NULL;
    }
    if (!pads[0] && !pads[1] && !pads[2] && !pads[3]) return x;
    return pad_node(ctx, &pad_def, x, pads, mode, mode == PIXL_PAD_ZERO ? value : 0.0f);
}

pixl_tensor *pixl_crop2d(pixl_ctx *ctx, pixl_tensor *x, int top, int left, int h, int w)
{
    if (!ctx || !x) return NULL;
    if (x->ndim < 2) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "crop2d: input %s needs at least 2 dims (H, W)", pixl__tshape(x));
        return NULL;
    }
    const int64_t H = x->shape[x->ndim - 2], W = x->shape[x->ndim - 1];
    if (top < 0 || left < 0 || h <= 0 || w <= 0 || top + (int64_t)h > H || left + (int64_t)w > W) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "crop2d: window top %d left %d size %dx%d is outside input %s", top, left,
                      h, w, pixl__tshape(x));
        return NULL;
    }
    if (h == H && w == W) return x;
    int pads[4] = {-left, -(int)(W - left - w), -top, -(int)(H - top - h)};
    return pad_node(ctx, &crop_def, x, pads, PIXL_PAD_ZERO, 0.0f);
}

/* --------------------------------------------------------------- reshape */
static int reshape_fwd(pixl_tensor *n) { return PIXL_OK; } /* data aliases the input */
static int reshape_bwd(pixl_tensor *n)
{
    float *dx = n->src[0]->grad;
    if (!dx) return PIXL_OK;
    const float *g = n->grad;
#pragma omp parallel for num_threads(NT) schedule(static) if (n->numel >= PAR_MIN)
    for (int64_t i = 0; i < n->numel; i++) dx[i] += g[i];
    return PIXL_OK;
}
static const pixl_op_def reshape_def = {"reshape", reshape_fwd, reshape_bwd, NULL, NULL, 0, NULL, NULL};

pixl_tensor *pixl_reshape(pixl_ctx *ctx, pixl_tensor *x, int ndim, const int64_t *shape)
{
    if (!ctx || !x) return NULL;
    char sh[128];
    if (ndim < 1 || ndim > PIXL_MAX_DIMS || !shape) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "reshape: %d dims requested for input %s", ndim, pixl__tshape(x));
        return NULL;
    }
    /* one -1 entry is inferred */
    int64_t s[PIXL_MAX_DIMS], known = 1;
    int infer = -1;
    for (int i = 0; i < ndim; i++) {
        s[i] = shape[i];
        if (s[i] == -1 && infer < 0) infer = i;
        else if (s[i] <= 0) {
            pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "reshape: invalid shape %s for input %s",
                          pixl_shape_str(ndim, shape, sh, sizeof sh), pixl__tshape(x));
            return NULL;
        } else
            known *= s[i];
    }
    if (infer >= 0) s[infer] = known > 0 && x->numel % known == 0 ? x->numel / known : -1;
    if ((infer >= 0 && s[infer] <= 0) || pixl__numel_of(ndim, s) != x->numel) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "reshape: shape %s does not hold the %lld elements of input %s",
                      pixl_shape_str(ndim, shape, sh, sizeof sh), (long long)x->numel, pixl__tshape(x));
        return NULL;
    }
    pixl_tensor *t = pixl__node_new(ctx, &reshape_def, x->dtype, ndim, s, &x, 1, NULL, 0);
    if (!t) return NULL;
    t->flags |= PIXL_FLAG_VIEW;
    t->view_of = x;
    t->view_aux = 0;
    return t;
}

/* ------------------------------------------------------------------- sum */
#define SUM_BLOCK 16384
static size_t sum_work(const pixl_tensor *n)
{
    return (size_t)((n->src[0]->numel + SUM_BLOCK - 1) / SUM_BLOCK) * sizeof(double);
}

static int sum_fwd(pixl_tensor *n)
{
    const float *x = pixl_f32(n->src[0]);
    const int64_t N = n->src[0]->numel, nb = (N + SUM_BLOCK - 1) / SUM_BLOCK;
    double *part = n->work;
    /* fixed blocks, each summed with 4 lanes, then the blocks in order */
#pragma omp parallel for num_threads(NT) schedule(static) if (N >= PAR_MIN)
    for (int64_t b = 0; b < nb; b++) {
        const float *p = x + b * SUM_BLOCK;
        const int64_t L = min64(SUM_BLOCK, N - b * SUM_BLOCK);
        double s[4] = {0};
        int64_t i = 0;
        for (; i + 4 <= L; i += 4)
            for (int j = 0; j < 4; j++) s[j] += p[i + j];
        for (; i < L; i++) s[0] += p[i];
        part[b] = (s[0] + s[1]) + (s[2] + s[3]);
    }
    double t = 0;
    for (int64_t b = 0; b < nb; b++) t += part[b];
    pixl_f32(n)[0] = (float)t;
    return PIXL_OK;
}
static int sum_bwd(pixl_tensor *n)
{
    float *dx = n->src[0]->grad;
    if (!dx) return PIXL_OK;
    const float g = n->grad[0];
    const int64_t N = n->src[0]->numel;
#pragma omp parallel for num_threads(NT) schedule(static) if (N >= PAR_MIN)
    for (int64_t i = 0; i < N; i++) dx[i] += g;
    return PIXL_OK;
}
static const pixl_op_def sum_def = {"sum", sum_fwd, sum_bwd, NULL, sum_work, 0, NULL, NULL};

pixl_tensor *pixl_sum(pixl_ctx *ctx, pixl_tensor *x)
{
    if (!ctx || !x) return NULL;
    if (x->dtype != PIXL_F32) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "sum: input %s (%s) must be f32", pixl__tshape(x), pixl_dtype_name(x->dtype));
        return NULL;
    }
    int64_t one[1] = {1};
    return pixl__node_new(ctx, &sum_def, PIXL_F32, 1, one, &x, 1, NULL, 0);
}
