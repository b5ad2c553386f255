/* norm.c — normalisation layers: batch normalisation (training statistics
 * with PyTorch's running-stat update, or running statistics in EVAL and
 * EVAL_GRAD) and group normalisation, forward and backward.
 *
 * Both ops save the per-channel (BN) or per-(sample, group) (GN) mean and
 * reciprocal standard deviation in n->aux for backward.
 *
 * Determinism: every reduction is owned by one channel / group and summed
 * serially in double with a fixed 8-lane pattern, so the bits do not depend
 * on the thread count. Statistics are computed in one pass over the data,
 * shifted by the first element of the channel (robust against cancellation).
 *
 * Conventions (as PyTorch):
 *  - batch_norm2d accepts (N,C) and (N,C,...) inputs; TRAIN normalises with
 *    the biased batch variance and updates
 *        running_mean = (1-m)*running_mean + m*mean
 *        running_var  = (1-m)*running_var  + m*var*M/(M-1)   (M = N*H*W)
 *    and increments num_batches_tracked when given. A negative momentum
 *    means PyTorch's momentum=None (cumulative average, m = 1/batches).
 *    running_mean/var == NULL means track_running_stats=False: batch
 *    statistics in every mode. eps 0 -> 1e-5, momentum 0 -> 0.1.
 *  - group_norm: eps <= 0 -> 1e-5. weight/bias may be NULL. */
#include <math.h>

#include "pixl_impl.h"

#define NT pixl_num_threads()
/* below this many elements a kernel runs on one thread */
#define PAR_MIN 32768

/* Sums in double over 8 fixed lanes, written with GCC/Clang vector
 * extensions so they vectorise (plain loops with double accumulators do
 * not without -ffast-math); the lane pattern is fixed, so the bits do not
 * depend on the thread count or on where a block starts. */
typedef float v4f __attribute__((vector_size(16)));
typedef double v4d __attribute__((vector_size(32)));
/* v4d is passed and returned only between static inline functions of this file: no ABI is crossed, so the
 * note that its calling convention differs without AVX (builds without -march, e.g. make fuzz) is moot */
#pragma GCC diagnostic ignored "-Wpsabi"

static inline v4d load4d(const float *p)
{
    v4f f;
    memcpy(&f, p, sizeof f);
    return __builtin_convertvector(f, v4d);
}

static inline double hsum8(v4d a, v4d b)
{
    v4d t = a + b;
    return (t[0] + t[1]) + (t[2] + t[3]);
}

/* mean and biased variance of N blocks of `inner` floats spaced `stride`
 * apart, accumulated in double (shifted by the first value) */
static void block_stats(const float *x, int64_t N, int64_t stride, int64_t inner, double *mean, double *var)
{
    const double K = x[0];
    const v4d k = {K, K, K, K};
    v4d s0 = {0}, s1 = {0}, q0 = {0}, q1 = {0};
    double st = 0, qt = 0;
    for (int64_t n = 0; n < N; n++) {
        const float *p = x + n * stride;
        int64_t i = 0;
        for (; i + 8 <= inner; i += 8) {
            v4d a = load4d(p + i) - k, b = load4d(p + i + 4) - k;
            s0 += a;
            s1 += b;
            q0 += a * a;
            q1 += b * b;
        }
        for (; i < inner; i++) {
            double d = (double)p[i] - K;
            st += d;
            qt += d * d;
        }
    }
    double S = hsum8(s0, s1) + st, Q = hsum8(q0, q1) + qt;
    double M = (double)(N * inner);
    double ms = S / M, v = Q / M - ms * ms;
    *mean = K + ms;
    *var = v > 0 ? v : 0;
}

/* sum(dy) and sum(dy * (x - mean)) over N blocks, in double */
static void block_grad_sums(const float *dy, const float *x, float mean, int64_t N, int64_t stride, int64_t inner,
                            double *sdy, double *sdyx)
{
    const double m = mean;
    const v4d mv = {m, m, m, m};
    v4d s0 = {0}, s1 = {0}, q0 = {0}, q1 = {0};
    double st = 0, qt = 0;
    for (int64_t n = 0; n < N; n++) {
        const float *g = dy + n * stride, *p = x + n * stride;
        int64_t i = 0;
        for (; i + 8 <= inner; i += 8) {
            v4d ga = load4d(g + i), gb = load4d(g + i + 4);
            s0 += ga;
            s1 += gb;
            q0 += ga * (load4d(p + i) - mv);
            q1 += gb * (load4d(p + i + 4) - mv);
        }
        for (; i < inner; i++) {
            double d = (double)g[i];
            st += d;
            qt += d * ((double)p[i] - m);
        }
    }
    *sdy = hsum8(s0, s1) + st;
    *sdyx = hsum8(q0, q1) + qt;
}

static const char *mode_name(pixl_mode m)
{
    return m == PIXL_MODE_TRAIN ? "TRAIN" : m == PIXL_MODE_EVAL ? "EVAL" : "EVAL_GRAD";
}

/* ------------------------------------------------------------ batch norm */

typedef struct {
    float eps, momentum; /* momentum < 0: cumulative average */
    int batch_stats;     /* normalise with batch statistics */
    int update;          /* update running statistics in forward */
} bn_params;

enum { BN_X, BN_W, BN_B, BN_RM, BN_RV, BN_NBT };

static size_t bn_aux(const pixl_tensor *n) { return (size_t)n->src[0]->shape[1] * 2 * sizeof(float); }

static int bn_fwd(pixl_tensor *n)
{
    const bn_params *p = PIXL_PARAMS(n, bn_params);
    pixl_tensor *x = n->src[BN_X];
    const int64_t N = x->shape[0], C = x->shape[1], inner = x->numel / (N * C);
    const float *X = pixl_f32(x);
    float *Y = pixl_f32(n);
    const float *w = n->src[BN_W] ? pixl_f32(n->src[BN_W]) : NULL;
    const float *b = n->src[BN_B] ? pixl_f32(n->src[BN_B]) : NULL;
    float *rm = n->src[BN_RM] ? pixl_f32(n->src[BN_RM]) : NULL;
    float *rv = n->src[BN_RV] ? pixl_f32(n->src[BN_RV]) : NULL;
    int64_t *nbt = n->src[BN_NBT] ? (int64_t *)n->src[BN_NBT]->data : NULL;
    float *smean = n->aux, *srstd = smean + C;
    const double M = (double)(N * inner);
    double factor = p->momentum;
    if (p->update && nbt) nbt[0] += 1;
    if (p->momentum < 0) factor = nbt && nbt[0] > 0 ? 1.0 / (double)nbt[0] : 1.0;
    const int batch = p->batch_stats, update = p->update && rm && rv;

#pragma omp parallel for num_threads(NT) schedule(static) if (x->numel >= PAR_MIN)
    for (int64_t c = 0; c < C; c++) {
        const float *xc = X + c * inner;
        float *yc = Y + c * inner;
        double m, v;
        if (batch) block_stats(xc, N, C * inner, inner, &m, &v);
        else {
            m = rm[c];
            v = rv[c];
        }
        double rs = 1.0 / sqrt(v + (double)p->eps);
        smean[c] = (float)m;
        srstd[c] = (float)rs;
        float sc = (float)((w ? (double)w[c] : 1.0) * rs);
        float sh = (float)((b ? (double)b[c] : 0.0) - m * (double)sc);
        for (int64_t k = 0; k < N; k++) {
            const float *xs = xc + k * C * inner;
            float *ys = yc + k * C * inner;
            for (int64_t i = 0; i < inner; i++) ys[i] = xs[i] * sc + sh;
        }
        if (update) {
            double unbiased = M > 1 ? v * M / (M - 1) : v;
            rm[c] = (float)(factor * m + (1 - factor) * (double)rm[c]);
            rv[c] = (float)(factor * unbiased + (1 - factor) * (double)rv[c]);
        }
    }
    return PIXL_OK;
}

static int bn_bwd(pixl_tensor *n)
{
    const bn_params *p = PIXL_PARAMS(n, bn_params);
    pixl_tensor *x = n->src[BN_X];
    const int64_t N = x->shape[0], C = x->shape[1], inner = x->numel / (N * C);
    const float *X = pixl_f32(x), *DY = n->grad;
    float *DX = x->grad;
    const float *w = n->src[BN_W] ? pixl_f32(n->src[BN_W]) : NULL;
    float *dw = n->src[BN_W] ? n->src[BN_W]->grad : NULL;
    float *db = n->src[BN_B] ? n->src[BN_B]->grad : NULL;
    const float *smean = n->aux, *srstd = smean + C;
    const double M = (double)(N * inner);
    const int batch = p->batch_stats;

#pragma omp parallel for num_threads(NT) schedule(static) if (x->numel >= PAR_MIN)
    for (int64_t c = 0; c < C; c++) {
        const float *xc = X + c * inner, *gc = DY + c * inner;
        const float mean = smean[c], rs = srstd[c];
        const double wc = w ? w[c] : 1.0;
        double sdy = 0, sdyx = 0;
        if (batch || dw || db) block_grad_sums(gc, xc, mean, N, C * inner, inner, &sdy, &sdyx);
        if (dw) dw[c] += (float)(sdyx * rs);
        if (db) db[c] += (float)sdy;
        if (!DX) continue;
        float *dxc = DX + c * inner;
        if (batch) {
            /* dx = w*rstd*(dy - mean(dy) - (x-mean)*rstd^2*mean(dy*(x-mean))) */
            const float k = (float)(wc * rs), a = (float)(sdy / M), bc = (float)((double)rs * rs * sdyx / M);
            for (int64_t s = 0; s < N; s++) {
                const float *xs = xc + s * C * inner, *gs = gc + s * C * inner;
                float *ds = dxc + s * C * inner;
                for (int64_t i = 0; i < inner; i++) ds[i] += k * (gs[i] - a - (xs[i] - mean) * bc);
            }
        } else {
            const float k = (float)(wc * rs);
            for (int64_t s = 0; s < N; s++) {
                const float *gs = gc + s * C * inner;
                float *ds = dxc + s * C * inner;
                for (int64_t i = 0; i < inner; i++) ds[i] += k * gs[i];
            }
        }
    }
    return PIXL_OK;
}

/* EVAL fusion (core/fuse.c): with running statistics, y = x * scale[c] + shift[c], the coefficients
 * computed exactly as bn_fwd computes them, so that the fused output has the same bits */
static void bn_affine(const pixl_tensor *n, float *scale, float *shift)
{
    const bn_params *p = PIXL_PARAMS(n, bn_params);
    const int64_t C = n->src[BN_X]->shape[1];
    const float *w = n->src[BN_W] ? pixl_f32(n->src[BN_W]) : NULL;
    const float *b = n->src[BN_B] ? pixl_f32(n->src[BN_B]) : NULL;
    const float *rm = pixl_f32(n->src[BN_RM]), *rv = pixl_f32(n->src[BN_RV]);
    for (int64_t c = 0; c < C; c++) {
        double m = rm[c], v = rv[c], rs = 1.0 / sqrt(v + (double)p->eps);
        float sc = (float)((w ? (double)w[c] : 1.0) * rs);
        scale[c] = sc;
        shift[c] = (float)((b ? (double)b[c] : 0.0) - m * (double)sc);
    }
}

static int bn_epi_step(const pixl_tensor *n, const pixl_tensor *from, pixl_epi_step *st)
{
    const bn_params *p = PIXL_PARAMS(n, bn_params);
    if (p->batch_stats || p->update || !n->src[BN_RM] || n->src[BN_X] != from || from->ndim != 4) return 0;
    st->kind = PIXL_EPI_AFFINE;
    st->affine = bn_affine;
    return 1;
}

static const pixl_op_def bn_def = {"batch_norm2d", bn_fwd, bn_bwd, bn_aux, NULL, 0, bn_epi_step, NULL};

static bool check_vec(pixl_ctx *ctx, const char *op, const char *what, pixl_tensor *t, int64_t C, pixl_tensor *x)
{
    if (!t) return true;
    if (t->dtype != PIXL_F32 || t->numel != C || t->ndim > 1) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "%s: %s %s (%s) does not fit %lld channels of input %s", op, what,
                      pixl__tshape(t), pixl_dtype_name(t->dtype), (long long)C, pixl__tshape(x));
        return false;
    }
    return true;
}

pixl_tensor *pixl_batch_norm2d(pixl_ctx *ctx, pixl_tensor *x, pixl_tensor *weight, pixl_tensor *bias,
                               pixl_tensor *running_mean, pixl_tensor *running_var,
                               pixl_tensor *num_batches_tracked, const pixl_bn_opts *o)
{
    if (!ctx || !x) return NULL;
    const char *op = "batch_norm2d";
    if (x->dtype != PIXL_F32 || x->ndim < 2) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "%s: input %s (%s) must be f32 (N,C) or (N,C,H,W)", op, pixl__tshape(x),
                      pixl_dtype_name(x->dtype));
        return NULL;
    }
    const int64_t C = x->shape[1];
    if (!check_vec(ctx, op, "weight", weight, C, x) || !check_vec(ctx, op, "bias", bias, C, x) ||
        !check_vec(ctx, op, "running_mean", running_mean, C, x) ||
        !check_vec(ctx, op, "running_var", running_var, C, x))
        return NULL;
    if (!running_mean != !running_var) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "%s: give both running_mean and running_var or neither (input %s)", op,
                      pixl__tshape(x));
        return NULL;
    }
    if (num_batches_tracked && (num_batches_tracked->dtype != PIXL_I64 || num_batches_tracked->numel != 1)) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "%s: num_batches_tracked %s (%s) must be one i64", op,
                      pixl__tshape(num_batches_tracked), pixl_dtype_name(num_batches_tracked->dtype));
        return NULL;
    }
    bn_params p = {o && o->eps > 0 ? o->eps : 1e-5f, o && o->momentum != 0 ? o->momentum : 0.1f, 0, 0};
    if (!(p.eps > 0) || !(p.momentum <= 1)) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "%s: invalid eps %g or momentum %g", op, p.eps, p.momentum);
        return NULL;
    }
    const bool train = ctx->mode == PIXL_MODE_TRAIN;
    p.batch_stats = train || !running_mean;
    p.update = train && running_mean;
    if (p.batch_stats && x->numel / C <= 1) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "%s: expected more than 1 value per channel in %s mode, input %s", op,
                      mode_name(ctx->mode), pixl__tshape(x));
        return NULL;
    }
    if (p.update && p.momentum < 0 && !num_batches_tracked) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "%s: cumulative average (momentum < 0) needs num_batches_tracked", op);
        return NULL;
    }
    pixl_tensor *src[6] = {x, weight, bias, running_mean, running_var, num_batches_tracked};
    return pixl__node_new(ctx, &bn_def, PIXL_F32, x->ndim, x->shape, src, 6, &p, sizeof p);
}

/* ------------------------------------------------------------ group norm */

typedef struct { int groups; float eps; } gn_params;

static size_t gn_aux(const pixl_tensor *n)
{
    const gn_params *p = PIXL_PARAMS(n, gn_params);
    return (size_t)n->src[0]->shape[0] * (size_t)p->groups * 2 * sizeof(float);
}

static size_t gn_work(const pixl_tensor *n)
{
    return (size_t)n->src[0]->shape[0] * (size_t)n->src[0]->shape[1] * 2 * sizeof(double);
}

static int gn_fwd(pixl_tensor *n)
{
    const gn_params *p = PIXL_PARAMS(n, gn_params);
    pixl_tensor *x = n->src[0];
    const int64_t N = x->shape[0], C = x->shape[1], G = p->groups, Cg = C / G, inner = x->numel / (N * C);
    const float *X = pixl_f32(x);
    float *Y = pixl_f32(n);
    const float *w = n->src[1] ? pixl_f32(n->src[1]) : NULL;
    const float *b = n->src[2] ? pixl_f32(n->src[2]) : NULL;
    float *smean = n->aux, *srstd = smean + N * G;

#pragma omp parallel for num_threads(NT) schedule(static) if (x->numel >= PAR_MIN)
    for (int64_t ng = 0; ng < N * G; ng++) {
        const int64_t g = ng % G, off = ng * Cg * inner;
        double m, v;
        block_stats(X + off, 1, 0, Cg * inner, &m, &v);
        double rs = 1.0 / sqrt(v + (double)p->eps);
        smean[ng] = (float)m;
        srstd[ng] = (float)rs;
        for (int64_t k = 0; k < Cg; k++) {
            const int64_t c = g * Cg + k;
            float sc = (float)((w ? (double)w[c] : 1.0) * rs);
            float sh = (float)((b ? (double)b[c] : 0.0) - m * (double)sc);
            const float *xs = X + off + k * inner;
            float *ys = Y + off + k * inner;
            for (int64_t i = 0; i < inner; i++) ys[i] = xs[i] * sc + sh;
        }
    }
    return PIXL_OK;
}

static int gn_bwd(pixl_tensor *n)
{
    const gn_params *p = PIXL_PARAMS(n, gn_params);
    pixl_tensor *x = n->src[0];
    const int64_t N = x->shape[0], C = x->shape[1], G = p->groups, Cg = C / G, inner = x->numel / (N * C);
    const float *X = pixl_f32(x), *DY = n->grad;
    float *DX = x->grad;
    const float *w = n->src[1] ? pixl_f32(n->src[1]) : NULL;
    float *dw = n->src[1] ? n->src[1]->grad : NULL;
    float *db = n->src[2] ? n->src[2]->grad : NULL;
    const float *smean = n->aux, *srstd = smean + N * G;
    double *S = n->work; /* per (n,c): sum dy, sum dy*(x-mean) */
    const double M = (double)(Cg * inner);

#pragma omp parallel for num_threads(NT) schedule(static) if (x->numel >= PAR_MIN)
    for (int64_t ng = 0; ng < N * G; ng++) {
        const int64_t g = ng % G, s = ng / G, off = ng * Cg * inner;
        const float mean = smean[ng], rs = srstd[ng];
        double A = 0, B = 0; /* sum dxhat, sum dxhat*(x-mean) */
        for (int64_t k = 0; k < Cg; k++) {
            const int64_t c = g * Cg + k;
            double *sc = S + 2 * (s * C + c);
            block_grad_sums(DY + off + k * inner, X + off + k * inner, mean, 1, 0, inner, &sc[0], &sc[1]);
            double wc = w ? w[c] : 1.0;
            A += wc * sc[0];
            B += wc * sc[1];
        }
        if (!DX) continue;
        /* dx = rstd*(w*dy - A/M - (x-mean)*rstd^2*B/M) */
        const float a = (float)(A / M), bc = (float)((double)rs * rs * B / M);
        for (int64_t k = 0; k < Cg; k++) {
            const int64_t c = g * Cg + k;
            const float wc = w ? w[c] : 1.0f;
            const float *xs = X + off + k * inner, *gs = DY + off + k * inner;
            float *ds = DX + off + k * inner;
            for (int64_t i = 0; i < inner; i++) ds[i] += rs * (wc * gs[i] - a - (xs[i] - mean) * bc);
        }
    }
    if (dw || db) {
        for (int64_t c = 0; c < C; c++) {
            double sw = 0, sb = 0;
            for (int64_t s = 0; s < N; s++) {
                sw += S[2 * (s * C + c) + 1] * (double)srstd[s * G + c / Cg];
                sb += S[2 * (s * C + c)];
            }
            if (dw) dw[c] += (float)sw;
            if (db) db[c] += (float)sb;
        }
    }
    return PIXL_OK;
}

static const pixl_op_def gn_def = {"group_norm", gn_fwd, gn_bwd, gn_aux, gn_work, 0, NULL, NULL};

pixl_tensor *pixl_group_norm(pixl_ctx *ctx, pixl_tensor *x, int groups, pixl_tensor *weight, pixl_tensor *bias,
                             float eps)
{
    if (!ctx || !x) return NULL;
    const char *op = "group_norm";
    if (x->dtype != PIXL_F32 || x->ndim < 2) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "%s: input %s (%s) must be f32 (N,C,...)", op, pixl__tshape(x),
                      pixl_dtype_name(x->dtype));
        return NULL;
    }
    const int64_t C = x->shape[1];
    if (groups <= 0 || C % groups) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "%s: %d groups do not divide the %lld channels of input %s", op, groups,
                      (long long)C, pixl__tshape(x));
        return NULL;
    }
    if (!check_vec(ctx, op, "weight", weight, C, x) || !check_vec(ctx, op, "bias", bias, C, x)) return NULL;
    gn_params p = {groups, eps > 0 ? eps : 1e-5f};
    pixl_tensor *src[3] = {x, weight, bias};
    return pixl__node_new(ctx, &gn_def, PIXL_F32, x->ndim, x->shape, src, 3, &p, sizeof p);
}
