/* loss.c — loss ops, forward and backward, each reducing to a [1] tensor:
 *
 *   pixl_cross_entropy    fused, numerically stable log-softmax + NLL over
 *                         dim 1 of (N,C,...) logits, int32/int64 targets,
 *                         optional class weights, ignore_index, MEAN/SUM
 *   pixl_bce_with_logits  PyTorch's stable formula, pos_weight over dim 1
 *   pixl_l1_loss, pixl_mse_loss, pixl_smooth_l1_loss (beta; 0 -> L1)
 *                         with an optional mask
 *   pixl_bce_with_logits_ex  BCE with an element weight and a mask as well
 *
 * SEMANTICS (PyTorch's, except where said)
 *   cross_entropy  loss_i = w[t_i] * (logsumexp_c x[i,c] - x[i,t_i]) over the
 *       counted pixels i (target != the skipped value).
 *       MEAN divides by sum_i w[t_i] (the count when weight is NULL); SUM
 *       does not divide. When no pixel is counted (or the counted weights sum
 *       to 0) PyTorch's MEAN gives 0/0 = NaN; pixl gives loss 0 and a zero
 *       gradient instead, so a batch without labels is a no-op step.
 *       A target outside [0, C) that is not ignore_index makes pixl_forward()
 *       fail with PIXL_ERR_ARG naming the value and its position; nothing
 *       out of bounds is read. NULL or zeroed options = PyTorch's defaults
 *       (skip -100, MEAN); .ignore = 1 skips .ignore_index. No gradient flows to the class weights
 *       (PyTorch defines none); a weight that requires one is a build error.
 *   bce_with_logits  l = (1-t)*x + (1+(pw-1)*t) * softplus(-x), with
 *       softplus(-x) = max(-x,0) + log1p(exp(-|x|)); times the element
 *       weight. pos_weight has C = shape[1] entries (or 1) and is broadcast
 *       over dim 1 (pixl's rule: PyTorch broadcasts from the right, so a
 *       PyTorch pos_weight for NCHW input is (C,1,1)). Gradients flow to x and
 *       to a target that has a gradient buffer, never to pos_weight/weight
 *       (PyTorch defines none).
 *   l1 / mse / smooth_l1  on d = x - target: |d|, d^2, and
 *       0.5*d^2/beta if |d| < beta else |d| - 0.5*beta (beta 0 -> |d|);
 *       d/dx uses sign(0) = 0. Gradients flow to x and to target.
 *   mask (same shape, F32/U8/I32): an element counts when its mask is
 *       nonzero; elements masked out are skipped (a NaN there does not leak)
 *       and MEAN divides by the number counted (0 counted: loss 0, zero
 *       gradient). Without a mask MEAN divides by numel.
 *
 * SPARSE LABELS: cross entropy walks pixels in fixed blocks and first lists
 * the counted pixels of the block; only those are visited over the C
 * channels, in forward and backward, so mostly-ignored label maps (PixelNet
 * sampling, PixelPick) cost about one target read per ignored pixel.
 *
 * DETERMINISM: every sum is accumulated in double, serially within fixed
 * blocks of pixels/elements (the partition depends only on the shape), and
 * the block sums are combined in block order: the same bits for any thread
 * count. Backward writes disjoint elements per block. */
#include <limits.h>
#include <math.h>
#include <omp.h>

#include "pixl_impl.h"

#define CE_BLOCK 256  /* pixels per cross-entropy block */
#define EW_BLOCK 4096 /* elements per block of the elementwise losses */

/* ============================================================ cross entropy */

typedef struct {
    int64_t N, C, S; /* batch, classes, pixels per image (prod of dims after 1) */
    int ignore_index, use_ignore, reduction;
} ce_params;

/* aux: [denominator (double), pad] then float logsumexp per pixel (with grad) */
#define CE_AUX_HEAD 16

static inline int64_t target_at(const pixl_tensor *t, int64_t i)
{
    return t->dtype == PIXL_I64 ? ((const int64_t *)t->data)[i] : (int64_t)((const int32_t *)t->data)[i];
}

static inline int ce_ignored(const ce_params *p, int64_t t)
{
    return p->use_ignore && t == (int64_t)p->ignore_index;
}

static int64_t ce_nblocks(const pixl_tensor *n)
{
    const ce_params *p = PIXL_PARAMS(n, const ce_params);
    return (p->N * p->S + CE_BLOCK - 1) / CE_BLOCK;
}

static size_t ce_aux_bytes(const pixl_tensor *n)
{
    const ce_params *p = PIXL_PARAMS(n, const ce_params);
    if (!(n->flags & PIXL_FLAG_NEEDS_GRAD)) return CE_AUX_HEAD;
    return CE_AUX_HEAD + (size_t)(p->N * p->S) * sizeof(float);
}

static size_t ce_work_bytes(const pixl_tensor *n)
{
    /* per block: loss sum, weight sum (double), first bad pixel (int64) */
    return (size_t)ce_nblocks(n) * (2 * sizeof(double) + sizeof(int64_t));
}

/* "[n, h, w]" of flat pixel p of the target */
static void ce_position(const pixl_tensor *target, int64_t p, char *buf, size_t len)
{
    int64_t idx[PIXL_MAX_DIMS];
    for (int d = target->ndim - 1; d >= 0; d--) {
        idx[d] = p % target->shape[d];
        p /= target->shape[d];
    }
    pixl_shape_str(target->ndim, idx, buf, len);
}

/* List the counted pixels of block b: logit offset of channel 0, class, pixel.
 * Returns the count, or -1 - (index in block) of the first invalid target. */
static int ce_list(const ce_params *p, const pixl_tensor *target, int64_t b, int64_t *off, int *cls, int64_t *pix,
                   int check)
{
    int64_t P = p->N * p->S, p0 = b * CE_BLOCK, p1 = p0 + CE_BLOCK < P ? p0 + CE_BLOCK : P;
    int k = 0;
    for (int64_t q = p0; q < p1; q++) {
        int64_t t = target_at(target, q);
        if (ce_ignored(p, t)) continue;
        if (t < 0 || t >= p->C) {
            if (check) return -1 - (int)(q - p0);
            continue;
        }
        int64_t ni = q / p->S, si = q - ni * p->S;
        off[k] = ni * p->C * p->S + si;
        cls[k] = (int)t;
        pix[k] = q;
        k++;
    }
    return k;
}

static int ce_fwd(pixl_tensor *n)
{
    const ce_params *p = PIXL_PARAMS(n, const ce_params);
    const float *x = pixl_f32(n->src[0]);
    const pixl_tensor *target = n->src[1];
    const float *w = n->src[2] ? pixl_f32(n->src[2]) : NULL;
    int64_t nb = ce_nblocks(n), C = p->C, S = p->S;
    double *bl = n->work, *bw = bl + nb;
    int64_t *bad = (int64_t *)(bw + nb);
    float *lse = n->aux_bytes > CE_AUX_HEAD ? (float *)((char *)n->aux + CE_AUX_HEAD) : NULL;

#pragma omp parallel for schedule(static) num_threads(pixl_num_threads())
    for (int64_t b = 0; b < nb; b++) {
        int64_t off[CE_BLOCK], pix[CE_BLOCK];
        int cls[CE_BLOCK];
        float m[CE_BLOCK];
        double s[CE_BLOCK];
        bl[b] = bw[b] = 0;
        bad[b] = -1;
        int k = ce_list(p, target, b, off, cls, pix, 1);
        if (k < 0) {
            bad[b] = b * CE_BLOCK + (-1 - k);
            continue;
        }
        for (int i = 0; i < k; i++) m[i] = x[off[i]];
        for (int64_t c = 1; c < C; c++)
            for (int i = 0; i < k; i++) {
                float v = x[off[i] + c * S];
                if (v > m[i] || isnan(v)) m[i] = v;
            }
        for (int i = 0; i < k; i++) s[i] = 0;
        for (int64_t c = 0; c < C; c++)
            for (int i = 0; i < k; i++) s[i] += exp((double)x[off[i] + c * S] - (double)m[i]);
        double L = 0, W = 0;
        for (int i = 0; i < k; i++) {
            double l = (double)m[i] + log(s[i]);
            if (lse) lse[pix[i]] = (float)l;
            double wi = w ? (double)w[cls[i]] : 1.0;
            L += wi * (l - (double)x[off[i] + (int64_t)cls[i] * S]);
            W += wi;
        }
        bl[b] = L;
        bw[b] = W;
    }

    double L = 0, W = 0;
    for (int64_t b = 0; b < nb; b++) {
        if (bad[b] >= 0) {
            char pos[160];
            ce_position(target, bad[b], pos, sizeof pos);
            if (p->use_ignore)
                return pixl_set_error(PIXL_ERR_ARG,
                                      "cross_entropy: target value %lld at position %s of %s is outside [0, %lld) "
                                      "and is not ignore_index %d",
                                      (long long)target_at(target, bad[b]), pos, pixl__tshape(target), (long long)C,
                                      p->ignore_index);
            return pixl_set_error(PIXL_ERR_ARG,
                                  "cross_entropy: target value %lld at position %s of %s is outside [0, %lld)",
                                  (long long)target_at(target, bad[b]), pos, pixl__tshape(target), (long long)C);
        }
        L += bl[b];
        W += bw[b];
    }
    double denom = p->reduction == PIXL_REDUCE_MEAN ? W : 1.0;
    *(double *)n->aux = denom;
    pixl_f32(n)[0] = denom != 0 ? (float)(L / denom) : 0.0f;
    return PIXL_OK;
}

static int ce_bwd(pixl_tensor *n)
{
    const ce_params *p = PIXL_PARAMS(n, const ce_params);
    float *dx = n->src[0]->grad;
    if (!dx) return PIXL_OK;
    const float *x = pixl_f32(n->src[0]);
    const pixl_tensor *target = n->src[1];
    const float *w = n->src[2] ? pixl_f32(n->src[2]) : NULL;
    const float *lse = (const float *)((const char *)n->aux + CE_AUX_HEAD);
    double denom = *(const double *)n->aux;
    if (denom == 0) return PIXL_OK; /* nothing counted: zero gradient */
    double scale = (double)n->grad[0] / denom;
    int64_t nb = ce_nblocks(n), C = p->C, S = p->S;

#pragma omp parallel for schedule(static) num_threads(pixl_num_threads())
    for (int64_t b = 0; b < nb; b++) {
        int64_t off[CE_BLOCK], pix[CE_BLOCK];
        int cls[CE_BLOCK];
        double coef[CE_BLOCK], l[CE_BLOCK];
        int k = ce_list(p, target, b, off, cls, pix, 0);
        for (int i = 0; i < k; i++) {
            coef[i] = scale * (w ? (double)w[cls[i]] : 1.0);
            l[i] = (double)lse[pix[i]];
        }
        for (int64_t c = 0; c < C; c++)
            for (int i = 0; i < k; i++) {
                int64_t o = off[i] + c * S;
                double g = exp((double)x[o] - l[i]) - (c == cls[i] ? 1.0 : 0.0);
                dx[o] += (float)(coef[i] * g);
            }
    }
    return PIXL_OK;
}

static const pixl_op_def ce_def = {"cross_entropy", ce_fwd, ce_bwd, ce_aux_bytes, ce_work_bytes, 0, NULL, NULL};

pixl_tensor *pixl_cross_entropy(pixl_ctx *ctx, pixl_tensor *logits, pixl_tensor *target, pixl_tensor *weight,
                                const pixl_ce_opts *o)
{
    if (!ctx || !logits || !target) return NULL;
    if (logits->dtype != PIXL_F32 || logits->ndim < 2) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "cross_entropy: logits %s (%s) must be float32 (N,C) or (N,C,...)",
                      pixl__tshape(logits), pixl_dtype_name(logits->dtype));
        return NULL;
    }
    if (target->dtype != PIXL_I32 && target->dtype != PIXL_I64) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "cross_entropy: target %s is %s; class targets must be int32 (or int64)",
                      pixl__tshape(target), pixl_dtype_name(target->dtype));
        return NULL;
    }
    bool fits = target->ndim == logits->ndim - 1 && target->shape[0] == logits->shape[0];
    for (int d = 2; fits && d < logits->ndim; d++) fits = target->shape[d - 1] == logits->shape[d];
    if (!fits) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "cross_entropy: target %s does not fit logits %s (want logits' shape without dim 1)",
                      pixl__tshape(target), pixl__tshape(logits));
        return NULL;
    }
    int64_t C = logits->shape[1];
    if (C > INT_MAX) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "cross_entropy: logits %s have too many classes", pixl__tshape(logits));
        return NULL;
    }
    if (weight) {
        if (weight->dtype != PIXL_F32 || weight->ndim != 1 || weight->shape[0] != C) {
            pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "cross_entropy: class weight %s (%s) must be float32 (%lld) for logits %s",
                          pixl__tshape(weight), pixl_dtype_name(weight->dtype), (long long)C, pixl__tshape(logits));
            return NULL;
        }
        if (weight->flags & PIXL_FLAG_NEEDS_GRAD) {
            pixl__ctx_fail(ctx, PIXL_ERR_ARG,
                          "cross_entropy: class weight %s requires a gradient, which cross entropy does not define "
                          "(pass a constant or a buffer)",
                          pixl__tshape(weight));
            return NULL;
        }
    }
    ce_params p = {.N = logits->shape[0], .C = C, .S = logits->numel / (logits->shape[0] * C),
                   .ignore_index = o && o->ignore ? o->ignore_index : -100, .use_ignore = 1,
                   .reduction = o ? (int)o->reduction : PIXL_REDUCE_MEAN};
    if (p.reduction != PIXL_REDUCE_MEAN && p.reduction != PIXL_REDUCE_SUM) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "cross_entropy: unknown reduction %d", p.reduction);
        return NULL;
    }
    pixl_tensor *src[3] = {logits, target, weight};
    int64_t one = 1;
    return pixl__node_new(ctx, &ce_def, PIXL_F32, 1, &one, src, 3, &p, sizeof p);
}

/* ========================================== elementwise losses (with mask) */

enum { EW_L1 = 0, EW_MSE, EW_SMOOTH_L1, EW_BCE };
enum { EW_SRC_X = 0, EW_SRC_T, EW_SRC_MASK, EW_SRC_PW, EW_SRC_W, EW_NSRC };

typedef struct {
    int kind, reduction;
    double beta;
    int64_t C, S;            /* dim 1 and the product of later dims (per-channel broadcasts) */
    int pw_per_ch, w_per_ch; /* 1: (C) over dim 1, 0: one value (pw) / elementwise (w) */
} ew_params;

static inline int mask_on(const pixl_tensor *m, int64_t i)
{
    switch (m->dtype) {
    case PIXL_F32: return ((const float *)m->data)[i] != 0.0f;
    case PIXL_U8: return ((const uint8_t *)m->data)[i] != 0;
    case PIXL_I32: return ((const int32_t *)m->data)[i] != 0;
    case PIXL_I64: return ((const int64_t *)m->data)[i] != 0;
    }
    return 0;
}

static inline double sgn(double d) { return d > 0 ? 1.0 : d < 0 ? -1.0 : 0.0; }

/* loss of one element and (if wanted) its derivatives w.r.t. x and t */
static inline double ew_elem(const ew_params *p, double x, double t, double pw, double *dx, double *dt)
{
    double d = x - t;
    switch (p->kind) {
    case EW_L1:
        *dx = sgn(d);
        *dt = -*dx;
        return fabs(d);
    case EW_MSE:
        *dx = 2 * d;
        *dt = -*dx;
        return d * d;
    case EW_SMOOTH_L1: {
        double a = fabs(d), b = p->beta;
        if (b == 0 || a >= b) {
            *dx = sgn(d);
            *dt = -*dx;
            return b == 0 ? a : a - 0.5 * b;
        }
        *dx = d / b;
        *dt = -*dx;
        return 0.5 * d * d / b;
    }
    default: { /* EW_BCE */
        double sp = fmax(-x, 0.0) + log1p(exp(-fabs(x))); /* softplus(-x) */
        double lw = 1 + (pw - 1) * t;
        double sig_neg = x >= 0 ? exp(-x) / (1 + exp(-x)) : 1 / (1 + exp(x)); /* sigmoid(-x) */
        *dx = (1 - t) - lw * sig_neg;
        *dt = (pw - 1) * sp - x;
        return (1 - t) * x + lw * sp;
    }
    }
}

static int64_t ew_nblocks(const pixl_tensor *n) { return (n->src[0]->numel + EW_BLOCK - 1) / EW_BLOCK; }
static size_t ew_aux_bytes(const pixl_tensor *n) { return sizeof(double); }
static size_t ew_work_bytes(const pixl_tensor *n) { return (size_t)ew_nblocks(n) * 2 * sizeof(double); }

static inline double ew_pw(const ew_params *p, const float *pw, int64_t i)
{
    if (!pw) return 1.0;
    return p->pw_per_ch ? (double)pw[(i / p->S) % p->C] : (double)pw[0];
}
static inline double ew_w(const ew_params *p, const float *w, int64_t i)
{
    if (!w) return 1.0;
    return p->w_per_ch ? (double)w[(i / p->S) % p->C] : (double)w[i];
}

static int ew_fwd(pixl_tensor *n)
{
    const ew_params *p = PIXL_PARAMS(n, const ew_params);
    const float *x = pixl_f32(n->src[EW_SRC_X]), *t = pixl_f32(n->src[EW_SRC_T]);
    const pixl_tensor *mask = n->src[EW_SRC_MASK];
    const float *pw = n->src[EW_SRC_PW] ? pixl_f32(n->src[EW_SRC_PW]) : NULL;
    const float *w = n->src[EW_SRC_W] ? pixl_f32(n->src[EW_SRC_W]) : NULL;
    int64_t numel = n->src[0]->numel, nb = ew_nblocks(n);
    double *bs = n->work, *bc = bs + nb;

#pragma omp parallel for schedule(static) num_threads(pixl_num_threads())
    for (int64_t b = 0; b < nb; b++) {
        int64_t i0 = b * EW_BLOCK, i1 = i0 + EW_BLOCK < numel ? i0 + EW_BLOCK : numel;
        double s = 0, cnt = 0, dx, dt;
        for (int64_t i = i0; i < i1; i++) {
            if (mask && !mask_on(mask, i)) continue;
            s += ew_w(p, w, i) * ew_elem(p, x[i], t[i], ew_pw(p, pw, i), &dx, &dt);
            cnt += 1;
        }
        bs[b] = s;
        bc[b] = cnt;
    }
    double s = 0, cnt = 0;
    for (int64_t b = 0; b < nb; b++) {
        s += bs[b];
        cnt += bc[b];
    }
    double denom = p->reduction == PIXL_REDUCE_MEAN ? cnt : 1.0;
    *(double *)n->aux = denom;
    pixl_f32(n)[0] = denom != 0 ? (float)(s / denom) : 0.0f;
    return PIXL_OK;
}

static int ew_bwd(pixl_tensor *n)
{
    const ew_params *p = PIXL_PARAMS(n, const ew_params);
    float *gx = n->src[EW_SRC_X]->grad, *gt = n->src[EW_SRC_T]->grad;
    if (!gx && !gt) return PIXL_OK;
    double denom = *(const double *)n->aux;
    if (denom == 0) return PIXL_OK; /* nothing counted: zero gradient */
    double scale = (double)n->grad[0] / denom;
    const float *x = pixl_f32(n->src[EW_SRC_X]), *t = pixl_f32(n->src[EW_SRC_T]);
    const pixl_tensor *mask = n->src[EW_SRC_MASK];
    const float *pw = n->src[EW_SRC_PW] ? pixl_f32(n->src[EW_SRC_PW]) : NULL;
    const float *w = n->src[EW_SRC_W] ? pixl_f32(n->src[EW_SRC_W]) : NULL;
    int64_t numel = n->src[0]->numel;

#pragma omp parallel for schedule(static) num_threads(pixl_num_threads())
    for (int64_t i = 0; i < numel; i++) {
        if (mask && !mask_on(mask, i)) continue;
        double dx, dt, c = scale * ew_w(p, w, i);
        ew_elem(p, x[i], t[i], ew_pw(p, pw, i), &dx, &dt);
        if (gx) gx[i] += (float)(c * dx);
        if (gt) gt[i] += (float)(c * dt);
    }
    return PIXL_OK;
}

static const pixl_op_def l1_def = {"l1_loss", ew_fwd, ew_bwd, ew_aux_bytes, ew_work_bytes, 0, NULL, NULL};
static const pixl_op_def mse_def = {"mse_loss", ew_fwd, ew_bwd, ew_aux_bytes, ew_work_bytes, 0, NULL, NULL};
static const pixl_op_def sl1_def = {"smooth_l1_loss", ew_fwd, ew_bwd, ew_aux_bytes, ew_work_bytes, 0, NULL, NULL};
static const pixl_op_def bce_def = {"bce_with_logits", ew_fwd, ew_bwd, ew_aux_bytes, ew_work_bytes, 0, NULL, NULL};

/* Validate and build any elementwise loss. */
static pixl_tensor *ew_build(pixl_ctx *ctx, const pixl_op_def *def, int kind, pixl_tensor *x, pixl_tensor *target,
                             pixl_tensor *mask, pixl_tensor *pos_weight, pixl_tensor *weight, pixl_reduction red,
                             double beta)
{
    const char *op = def->name;
    if (!ctx || !x || !target) return NULL;
    if (x->dtype != PIXL_F32 || target->dtype != PIXL_F32) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "%s: input %s (%s) and target %s (%s) must be float32", op, pixl__tshape(x),
                      pixl_dtype_name(x->dtype), pixl__tshape(target), pixl_dtype_name(target->dtype));
        return NULL;
    }
    if (!pixl__same_shape(x, target)) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "%s: input %s and target %s differ in shape", op, pixl__tshape(x),
                      pixl__tshape(target));
        return NULL;
    }
    if (mask && !pixl__same_shape(x, mask)) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "%s: mask %s does not match input %s", op, pixl__tshape(mask),
                      pixl__tshape(x));
        return NULL;
    }
    if (red != PIXL_REDUCE_MEAN && red != PIXL_REDUCE_SUM) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "%s: unknown reduction %d", op, (int)red);
        return NULL;
    }
    if (!(beta >= 0) || isinf(beta)) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "%s: beta %g must be finite and >= 0", op, beta);
        return NULL;
    }
    ew_params p = {.kind = kind, .reduction = (int)red, .beta = beta};
    p.C = x->ndim >= 2 ? x->shape[1] : 1;
    p.S = x->ndim >= 2 ? x->numel / (x->shape[0] * x->shape[1]) : 1;
    if (pos_weight) {
        if (pos_weight->dtype != PIXL_F32 || pos_weight->ndim != 1 ||
            (pos_weight->shape[0] != p.C && pos_weight->shape[0] != 1)) {
            pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "%s: pos_weight %s must be float32 (%lld) or (1) for input %s", op,
                          pixl__tshape(pos_weight), (long long)p.C, pixl__tshape(x));
            return NULL;
        }
        p.pw_per_ch = pos_weight->shape[0] != 1;
    }
    if (weight) {
        bool full = pixl__same_shape(weight, x);
        bool per_ch = weight->ndim == 1 && (weight->shape[0] == p.C || weight->shape[0] == 1);
        if (weight->dtype != PIXL_F32 || (!full && !per_ch)) {
            pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "%s: weight %s must be float32 shaped like input %s, or (%lld), or (1)",
                          op, pixl__tshape(weight), pixl__tshape(x), (long long)p.C);
            return NULL;
        }
        p.w_per_ch = !full;
    }
    for (int k = 0; k < 2; k++) {
        pixl_tensor *t = k ? weight : pos_weight;
        if (t && (t->flags & PIXL_FLAG_NEEDS_GRAD)) {
            pixl__ctx_fail(ctx, PIXL_ERR_ARG, "%s: %s %s requires a gradient, which %s does not define "
                          "(pass a constant or a buffer)", op, k ? "weight" : "pos_weight", pixl__tshape(t), op);
            return NULL;
        }
    }
    pixl_tensor *src[EW_NSRC] = {x, target, mask, pos_weight, weight};
    int64_t one = 1;
    return pixl__node_new(ctx, def, PIXL_F32, 1, &one, src, EW_NSRC, &p, sizeof p);
}

/* BCE with logits with an element weight (shaped like logits, (C) over dim 1
 * or (1); PyTorch's `weight`) and a mask as well. MEAN divides by the number
 * of counted elements (not by the weights), as PyTorch does. */
pixl_tensor *pixl_bce_with_logits_ex(pixl_ctx *ctx, pixl_tensor *logits, pixl_tensor *target, pixl_tensor *pos_weight,
                                     pixl_tensor *weight, pixl_tensor *mask, pixl_reduction red);
pixl_tensor *pixl_bce_with_logits_ex(pixl_ctx *ctx, pixl_tensor *logits, pixl_tensor *target, pixl_tensor *pos_weight,
                                     pixl_tensor *weight, pixl_tensor *mask, pixl_reduction red)
{
    return ew_build(ctx, &bce_def, EW_BCE, logits, target, mask, pos_weight, weight, red, 0);
}

pixl_tensor *pixl_bce_with_logits(pixl_ctx *ctx, pixl_tensor *logits, pixl_tensor *target, pixl_tensor *pos_weight,
                                  pixl_reduction red)
{
    return ew_build(ctx, &bce_def, EW_BCE, logits, target, NULL, pos_weight, NULL, red, 0);
}

pixl_tensor *pixl_l1_loss(pixl_ctx *ctx, pixl_tensor *x, pixl_tensor *target, pixl_tensor *mask, pixl_reduction red)
{
    return ew_build(ctx, &l1_def, EW_L1, x, target, mask, NULL, NULL, red, 0);
}

pixl_tensor *pixl_mse_loss(pixl_ctx *ctx, pixl_tensor *x, pixl_tensor *target, pixl_tensor *mask, pixl_reduction red)
{
    return ew_build(ctx, &mse_def, EW_MSE, x, target, mask, NULL, NULL, red, 0);
}

pixl_tensor *pixl_smooth_l1_loss(pixl_ctx *ctx, pixl_tensor *x, pixl_tensor *target, pixl_tensor *mask,
                                 pixl_reduction red, float beta)
{
    return ew_build(ctx, &sl1_def, EW_SMOOTH_L1, x, target, mask, NULL, NULL, red, beta);
}
