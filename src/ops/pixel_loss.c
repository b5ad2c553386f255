/* pixel_loss.c — PixelNet's and PAG's losses on pixel vectors that pixl's
 * generic losses do not cover, forward and backward:
 *
 *   pixl_normal_loss   surface normals: Caffe's Normalize (per-row L2
 *       normalisation) followed by EuclideanLoss,
 *           L = 1/(2M) sum_p ||u_p - t_p||^2,  u_p = x_p / max(||x_p||, eps)
 *       over the M rows whose mask is nonzero (all rows without a mask).
 *       For unit targets ||u - t||^2 = 2 - 2cos, so L = mean(1 - cos).
 *       Backward: v = dL/du = g (u - t) / M;
 *           dx = (v - u (u.v)) / ||x||  when ||x|| > eps, else v / eps
 *       (the gradient of x / max(||x||, eps), as torch.nn.functional.normalize);
 *       dt = -v.
 *   pixl_angular_loss  the angle to the target (PAG's acos loss):
 *           L = 1/M sum_p acos(clamp(u_p . t_p, -1 + 1e-6, 1 - 1e-6)).
 *       Backward: dc = -g / (M sqrt(1 - c^2)) where c = u.t lies inside the
 *       clamp (0 outside, as torch.clamp), v = dc t, dx as above, dt = dc u.
 *       (The seed's normalACosLoss divides by epsilon + sqrt(1 - c^2) with
 *       epsilon 0.2, a surrogate; this is the exact gradient.)
 *   Rows: pred and target are (P, C) or (N, C, H, W) (a row = one pixel's
 *   C-vector, channels H*W apart); the mask has one value per row.
 *   pixl_balanced_bce_with_logits  HED's class-balanced sigmoid
 *       cross-entropy: over the counted elements, with P positives
 *       (target >= 0.5) and Q negatives, positives weigh Q/(P+Q) and
 *       negatives P/(P+Q);  l = w * (max(x,0) - x t + log1p(exp(-|x|))).
 *       MEAN divides by P+Q. dl/dx = w (sigmoid(x) - t), dl/dt = -w x.
 *
 * DETERMINISM: sums are accumulated in double over fixed blocks of rows /
 * elements (the partition depends on the shape only) and the block sums are
 * combined in block order; backward writes disjoint elements per block. */
#include <math.h>
#include <omp.h>

#include "pixl_impl.h"

#define ROW_BLOCK 256
#define EL_BLOCK 4096

static inline int mask_on(const pixl_tensor *m, int64_t i)
{
    if (!m) return 1;
    switch (m->dtype) {
    case PIXL_F32: return ((const float *)m->data)[i] != 0.0f;
    case PIXL_U8: return ((const uint8_t *)m->data)[i] != 0;
    case PIXL_I32: return ((const int32_t *)m->data)[i] != 0;
    default: return ((const int64_t *)m->data)[i] != 0;
    }
}

static int check_mask(pixl_ctx *ctx, const char *op, const pixl_tensor *mask, int64_t numel, const pixl_tensor *ref)
{
    if (!mask) return 0;
    if (mask->dtype == PIXL_F32 || mask->dtype == PIXL_U8 || mask->dtype == PIXL_I32 || mask->dtype == PIXL_I64) {
        if (mask->numel == numel) return 0;
    }
    pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "%s: mask %s (%s) does not fit %s (need %lld elements)", op, pixl__tshape(mask),
                  pixl_dtype_name(mask->dtype), pixl__tshape(ref), (long long)numel);
    return -1;
}

/* ======================================= normal and angular losses */

/* Both take pred and target (P, C) or (N, C, H, W): a "row" is one pixel's
 * C-vector, R = P or N*H*W rows, row r = (n, s) at n*C*S + c*S + s with S = 1
 * or H*W; mask has one value per row (R elements). */
typedef struct { int64_t R, C, S; float eps; } nl_p;

static inline int64_t row_base(const nl_p *p, int64_t r) { return (r / p->S) * p->C * p->S + r % p->S; }

static size_t nl_aux(const pixl_tensor *n) { return 16; } /* rows counted (double) */
static size_t nl_work(const pixl_tensor *n)
{
    const nl_p *p = PIXL_PARAMS(n, const nl_p);
    return (size_t)((p->R + ROW_BLOCK - 1) / ROW_BLOCK) * 2 * sizeof(double);
}

/* the loss of one row: normal (1/2 ||u - t||^2) or angular (acos of the clamped cosine) */
typedef double (*row_loss_fn)(const nl_p *p, const float *x, const float *t);

static inline double row_norm(const nl_p *p, const float *x, double *d)
{
    double nn = 0;
    for (int64_t c = 0; c < p->C; c++) nn += (double)x[c * p->S] * x[c * p->S];
    const double norm = sqrt(nn);
    *d = norm < p->eps ? p->eps : norm;
    return norm;
}

static double nl_row(const nl_p *p, const float *x, const float *t)
{
    double d, l = 0;
    row_norm(p, x, &d);
    for (int64_t c = 0; c < p->C; c++) {
        double e = (double)x[c * p->S] / d - t[c * p->S];
        l += e * e;
    }
    return 0.5 * l;
}

#define ANG_LO (-1.0 + 1e-6)
#define ANG_HI (1.0 - 1e-6)

static double ang_cos(const nl_p *p, const float *x, const float *t, double *d)
{
    row_norm(p, x, d);
    double cs = 0;
    for (int64_t c = 0; c < p->C; c++) cs += (double)x[c * p->S] / *d * t[c * p->S];
    return cs;
}

static double ang_row(const nl_p *p, const float *x, const float *t)
{
    double d, cs = ang_cos(p, x, t, &d);
    return acos(cs < ANG_LO ? ANG_LO : cs > ANG_HI ? ANG_HI : cs);
}

/* sum of the counted rows' losses and their count, in fixed blocks of rows */
static void rows_fwd(pixl_tensor *n, row_loss_fn f)
{
    const nl_p *p = PIXL_PARAMS(n, const nl_p);
    const float *x = pixl_f32(n->src[0]), *t = pixl_f32(n->src[1]);
    const pixl_tensor *mask = n->n_src > 2 ? n->src[2] : NULL;
    const int64_t nb = (p->R + ROW_BLOCK - 1) / ROW_BLOCK;
    double *bs = n->work, *bc = bs + nb;
#pragma omp parallel for schedule(static) num_threads(pixl_num_threads()) if (p->R * p->C > 16384)
    for (int64_t b = 0; b < nb; b++) {
        const int64_t r0 = b * ROW_BLOCK, r1 = r0 + ROW_BLOCK < p->R ? r0 + ROW_BLOCK : p->R;
        double s = 0, cnt = 0;
        for (int64_t r = r0; r < r1; r++) {
            if (!mask_on(mask, r)) continue;
            const int64_t o = row_base(p, r);
            s += f(p, x + o, t + o);
            cnt += 1;
        }
        bs[b] = s;
        bc[b] = cnt;
    }
    double S = 0, M = 0;
    for (int64_t b = 0; b < nb; b++) {
        S += bs[b];
        M += bc[b];
    }
    *(double *)n->aux = M;
    pixl_f32(n)[0] = M > 0 ? (float)(S / M) : 0.0f;
}

static int nl_fwd(pixl_tensor *n)
{
    rows_fwd(n, nl_row);
    return PIXL_OK;
}

static int ang_fwd(pixl_tensor *n)
{
    rows_fwd(n, ang_row);
    return PIXL_OK;
}

/* dL/du = v (u = x / max(||x||, eps)) of one row into x's gradient:
 * dx = (v - u (u.v)) / ||x|| when ||x|| > eps, else v / eps */
static inline void unit_bwd(const nl_p *p, const float *x, const double *v, float *gx)
{
    double d;
    const double norm = row_norm(p, x, &d);
    double uv = 0;
    for (int64_t c = 0; c < p->C; c++) uv += (double)x[c * p->S] / d * v[c];
    for (int64_t c = 0; c < p->C; c++) {
        const double u = (double)x[c * p->S] / d;
        gx[c * p->S] += (float)(norm > p->eps ? (v[c] - u * uv) / norm : v[c] / p->eps);
    }
}

#define NL_MAX_C 64

static int rows_bwd(pixl_tensor *n, int angular)
{
    const nl_p *p = PIXL_PARAMS(n, const nl_p);
    pixl_tensor *xs = n->src[0], *ts = n->src[1];
    const pixl_tensor *mask = n->n_src > 2 ? n->src[2] : NULL;
    const float *x = pixl_f32(xs), *t = pixl_f32(ts);
    const double M = *(const double *)n->aux;
    if (!(M > 0)) return PIXL_OK;
    const double g = (double)n->grad[0] / M;
    float *gx = xs->grad, *gt = ts->grad;
#pragma omp parallel for schedule(static) num_threads(pixl_num_threads()) if (p->R * p->C > 16384)
    for (int64_t r = 0; r < p->R; r++) {
        if (!mask_on(mask, r)) continue;
        const int64_t o = row_base(p, r);
        const float *xr = x + o, *tr = t + o;
        double d, v[NL_MAX_C], dc = 0;
        if (angular) { /* L = acos(clamp(u.t)): dL/dcos = -1/sqrt(1 - cos^2) inside the clamp, else 0 */
            const double cs = ang_cos(p, xr, tr, &d);
            dc = cs >= ANG_LO && cs <= ANG_HI ? -g / sqrt(1 - cs * cs) : 0;
            for (int64_t c = 0; c < p->C; c++) v[c] = dc * tr[c * p->S];
        } else { /* L = 1/2 ||u - t||^2: dL/du = u - t */
            row_norm(p, xr, &d);
            for (int64_t c = 0; c < p->C; c++) v[c] = g * ((double)xr[c * p->S] / d - tr[c * p->S]);
        }
        if (gx) unit_bwd(p, xr, v, gx + o);
        if (gt)
            for (int64_t c = 0; c < p->C; c++)
                gt[o + c * p->S] += (float)(angular ? dc * ((double)xr[c * p->S] / d) : -v[c]);
    }
    return PIXL_OK;
}

static int nl_bwd(pixl_tensor *n) { return rows_bwd(n, 0); }
static int ang_bwd(pixl_tensor *n) { return rows_bwd(n, 1); }

static const pixl_op_def nl_def = {.name = "normal_loss", .fwd = nl_fwd, .bwd = nl_bwd, .aux_bytes = nl_aux,
                                   .work_bytes = nl_work};
static const pixl_op_def ang_def = {.name = "angular_loss", .fwd = ang_fwd, .bwd = ang_bwd, .aux_bytes = nl_aux,
                                    .work_bytes = nl_work};

static pixl_tensor *rows_loss(pixl_ctx *ctx, const char *op, const pixl_op_def *def, pixl_tensor *pred,
                              pixl_tensor *target, pixl_tensor *mask, float eps)
{
    if (!ctx || pixl__any_null(2, pred, target)) return NULL;
    if (pred->dtype != PIXL_F32 || target->dtype != PIXL_F32 || (pred->ndim != 2 && pred->ndim != 4) ||
        !pixl__same_shape(pred, target) || pred->shape[1] < 1 || pred->shape[1] > NL_MAX_C) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "%s: pred %s and target %s must be f32 (P, C) or (N, C, H, W) of one shape, C <= %d",
                      op, pixl__tshape(pred), pixl__tshape(target), NL_MAX_C);
        return NULL;
    }
    const int64_t S = pred->ndim == 4 ? pred->shape[2] * pred->shape[3] : 1;
    if (check_mask(ctx, op, mask, pred->shape[0] * S, pred)) return NULL;
    if (!(eps >= 0) || !isfinite(eps)) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "%s: invalid eps %g", op, (double)eps);
        return NULL;
    }
    nl_p p = {.R = pred->shape[0] * S, .C = pred->shape[1], .S = S, .eps = eps > 0 ? eps : 1e-12f};
    pixl_tensor *src[3] = {pred, target, mask};
    int64_t one = 1;
    return pixl__node_new(ctx, def, PIXL_F32, 1, &one, src, mask ? 3 : 2, &p, sizeof p);
}

pixl_tensor *pixl_normal_loss(pixl_ctx *ctx, pixl_tensor *pred, pixl_tensor *target, pixl_tensor *mask, float eps)
{
    return rows_loss(ctx, "normal_loss", &nl_def, pred, target, mask, eps);
}

pixl_tensor *pixl_angular_loss(pixl_ctx *ctx, pixl_tensor *pred, pixl_tensor *target, pixl_tensor *mask, float eps)
{
    return rows_loss(ctx, "angular_loss", &ang_def, pred, target, mask, eps);
}

/* =================================================== balanced sigmoid CE */

typedef struct { int64_t numel; int reduction; } bb_p;

/* aux: denominator, w_pos, w_neg (doubles) */
static size_t bb_aux(const pixl_tensor *n) { return 3 * sizeof(double); }
static size_t bb_work(const pixl_tensor *n)
{
    const bb_p *p = PIXL_PARAMS(n, const bb_p);
    return (size_t)((p->numel + EL_BLOCK - 1) / EL_BLOCK) * 4 * sizeof(double);
}

static inline double bce_el(double x, double t)
{
    return (x > 0 ? x : 0) - x * t + log1p(exp(-fabs(x)));
}

static int bb_fwd(pixl_tensor *n)
{
    const bb_p *p = PIXL_PARAMS(n, const bb_p);
    const float *x = pixl_f32(n->src[0]), *t = pixl_f32(n->src[1]);
    const pixl_tensor *mask = n->n_src > 2 ? n->src[2] : NULL;
    const int64_t nb = (p->numel + EL_BLOCK - 1) / EL_BLOCK;
    double *lp = n->work, *ln = lp + nb, *cp = ln + nb, *cn = cp + nb;
#pragma omp parallel for schedule(static) num_threads(pixl_num_threads()) if (p->numel > 16384)
    for (int64_t b = 0; b < nb; b++) {
        const int64_t i0 = b * EL_BLOCK, i1 = i0 + EL_BLOCK < p->numel ? i0 + EL_BLOCK : p->numel;
        double sp = 0, sn = 0, np = 0, nn = 0;
        for (int64_t i = i0; i < i1; i++) {
            if (!mask_on(mask, i)) continue;
            double l = bce_el(x[i], t[i]);
            if (t[i] >= 0.5f) {
                sp += l;
                np += 1;
            } else {
                sn += l;
                nn += 1;
            }
        }
        lp[b] = sp;
        ln[b] = sn;
        cp[b] = np;
        cn[b] = nn;
    }
    double SP = 0, SN = 0, NP = 0, NN = 0;
    for (int64_t b = 0; b < nb; b++) {
        SP += lp[b];
        SN += ln[b];
        NP += cp[b];
        NN += cn[b];
    }
    const double tot = NP + NN;
    double *a = n->aux;
    a[1] = tot > 0 ? NN / tot : 0; /* weight of positives */
    a[2] = tot > 0 ? NP / tot : 0; /* weight of negatives */
    a[0] = p->reduction == PIXL_REDUCE_MEAN ? tot : 1.0;
    const double L = a[1] * SP + a[2] * SN;
    pixl_f32(n)[0] = a[0] > 0 ? (float)(L / a[0]) : 0.0f;
    return PIXL_OK;
}

static int bb_bwd(pixl_tensor *n)
{
    const bb_p *p = PIXL_PARAMS(n, const bb_p);
    pixl_tensor *xs = n->src[0], *ts = n->src[1];
    const pixl_tensor *mask = n->n_src > 2 ? n->src[2] : NULL;
    const float *x = pixl_f32(xs), *t = pixl_f32(ts);
    const double *a = n->aux;
    if (!(a[0] > 0)) return PIXL_OK;
    const double g = (double)n->grad[0] / a[0];
    float *gx = xs->grad, *gt = ts->grad;
#pragma omp parallel for schedule(static) num_threads(pixl_num_threads()) if (p->numel > 16384)
    for (int64_t i = 0; i < p->numel; i++) {
        if (!mask_on(mask, i)) continue;
        const double w = g * (t[i] >= 0.5f ? a[1] : a[2]);
        if (gx) gx[i] += (float)(w * (1.0 / (1.0 + exp(-(double)x[i])) - t[i]));
        if (gt) gt[i] += (float)(-w * x[i]);
    }
    return PIXL_OK;
}

static const pixl_op_def bb_def = {.name = "balanced_bce_with_logits", .fwd = bb_fwd, .bwd = bb_bwd,
                                   .aux_bytes = bb_aux, .work_bytes = bb_work};

pixl_tensor *pixl_balanced_bce_with_logits(pixl_ctx *ctx, pixl_tensor *logits, pixl_tensor *target,
                                           pixl_tensor *mask, pixl_reduction red)
{
    const char *op = "balanced_bce_with_logits";
    if (!ctx || pixl__any_null(2, logits, target)) return NULL;
    if (logits->dtype != PIXL_F32 || target->dtype != PIXL_F32 || !pixl__same_shape(logits, target)) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "%s: logits %s and target %s must be f32 of one shape", op,
                      pixl__tshape(logits), pixl__tshape(target));
        return NULL;
    }
    if (check_mask(ctx, op, mask, logits->numel, logits)) return NULL;
    if (red != PIXL_REDUCE_MEAN && red != PIXL_REDUCE_SUM) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "%s: unknown reduction %d", op, (int)red);
        return NULL;
    }
    bb_p p = {.numel = logits->numel, .reduction = red};
    pixl_tensor *src[3] = {logits, target, mask};
    int64_t one = 1;
    return pixl__node_new(ctx, &bb_def, PIXL_F32, 1, &one, src, mask ? 3 : 2, &p, sizeof p);
}

void pixl__labels_to_binary(const int32_t *labels, int64_t n, int ignore, float *target, float *mask)
{
    for (int64_t i = 0; i < n; i++) {
        int v = labels[i], ok = v >= 0 && v != ignore;
        target[i] = ok && v > 0 ? 1.0f : 0.0f;
        mask[i] = ok ? 1.0f : 0.0f;
    }
}
