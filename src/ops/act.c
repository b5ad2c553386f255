/* act.c — activations and channel-wise functions, forward and backward:
 * relu, leaky_relu, hardtanh (relu6), prelu, elu, sigmoid, tanh, dropout, dropout2d,
 * softmax and log_softmax over dim 1, l2_normalize over dim 1.
 *
 * Elementwise kernels are split by element; prelu's weight gradient is
 * reduced per channel serially in double (then over channels in order for a
 * single shared weight), so results do not depend on the thread count.
 * Dropout masks come from the counter-based generator keyed by the node and
 * the forward step (pixl__node_rng_key), indexed by element (dropout) or by
 * (sample, channel) (dropout2d): the same mask for any thread count. The key
 * is saved in n->aux and the mask is recomputed in backward. In EVAL and
 * EVAL_GRAD (and for p == 0) dropout returns its input unchanged.
 * softmax, log_softmax and sigmoid use a vectorisable exp (fast_expf, within
 * 2 ulp of expf); elu's forward keeps expm1f for accuracy near 0. */
#include <math.h>

#include "pixl_impl.h"

#define NT pixl_num_threads()
/* below this many elements a kernel runs on one thread */
#define PAR_MIN 32768

/* exp(x) in float, vectorisable (no libm call): Cephes' range reduction and
 * polynomial, within 2 ulp of expf for x in [-87.33, 88]; 0 below (where
 * expf is subnormal), exp(88) above. Pure IEEE arithmetic with explicit
 * fmaf, so vector and scalar code give the same bits. */
static inline float fast_expf(float x)
{
    const float lo = -87.33f, hi = 88.0f;
    float xc = x < lo ? lo : x > hi ? hi : x;
    float n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f; /* round to nearest */
    float r = fmaf(n, -0.693359375f, xc);
    r = fmaf(n, 2.12194440e-4f, r);
    float p = 1.9875691500e-4f;
    p = fmaf(p, r, 1.3981999507e-3f);
    p = fmaf(p, r, 8.3334519073e-3f);
    p = fmaf(p, r, 4.1665795894e-2f);
    p = fmaf(p, r, 1.6666665459e-1f);
    p = fmaf(p, r, 5.0000001201e-1f);
    p = fmaf(p * r, r, r) + 1.0f;
    int32_t bits = ((int32_t)(n == n ? n : 0.0f) + 127) * (1 << 23); /* NaN in, NaN out (p), no UB cast */
    float s;
    memcpy(&s, &bits, sizeof s);
    return x < lo ? 0.0f : p * s;
}

static pixl_tensor *unary_node(pixl_ctx *ctx, const pixl_op_def *def, pixl_tensor *x, const void *p, size_t psize)
{
    if (!ctx || !x) return NULL;
    if (x->dtype != PIXL_F32) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "%s: input %s is %s, expected f32", def->name, pixl__tshape(x),
                      pixl_dtype_name(x->dtype));
        return NULL;
    }
    return pixl__node_new(ctx, def, PIXL_F32, x->ndim, x->shape, &x, 1, p, psize);
}

/* elementwise loop over i in [0, n) */
#define EW_LOOP(n, body)                                                                          \
    do {                                                                                          \
        const int64_t n_ = (n);                                                                   \
        _Pragma("omp parallel for num_threads(NT) schedule(static) if (n_ >= PAR_MIN)")           \
        for (int64_t i = 0; i < n_; i++) { body; }                                                \
    } while (0)

/* ------------------------------------------------------------------ relu */
static int relu_fwd(pixl_tensor *n)
{
    const float *x = pixl_f32(n->src[0]);
    float *y = pixl_f32(n);
    EW_LOOP(n->numel, y[i] = x[i] > 0 ? x[i] : 0.0f);
    return PIXL_OK;
}
static int relu_bwd(pixl_tensor *n)
{
    float *dx = n->src[0]->grad;
    const float *y = pixl_f32(n), *dy = n->grad;
    if (dx) EW_LOOP(n->numel, dx[i] += y[i] > 0 ? dy[i] : 0.0f);
    return PIXL_OK;
}
static int relu_epi_step(const pixl_tensor *n, const pixl_tensor *from, pixl_epi_step *st)
{
    (void)n;
    (void)from;
    st->kind = PIXL_EPI_RELU;
    return 1;
}
static const pixl_op_def relu_def = {"relu", relu_fwd, relu_bwd, NULL, NULL, 1, relu_epi_step, NULL};
pixl_tensor *pixl_relu(pixl_ctx *ctx, pixl_tensor *x) { return unary_node(ctx, &relu_def, x, NULL, 0); }

/* ------------------------------------------------------------ leaky relu */
typedef struct { float a; } scalar_params;

static int leaky_fwd(pixl_tensor *n)
{
    const float s = PIXL_PARAMS(n, scalar_params)->a;
    const float *x = pixl_f32(n->src[0]);
    float *y = pixl_f32(n);
    EW_LOOP(n->numel, y[i] = x[i] > 0 ? x[i] : x[i] * s);
    return PIXL_OK;
}
static int leaky_bwd(pixl_tensor *n)
{
    const float s = PIXL_PARAMS(n, scalar_params)->a;
    float *dx = n->src[0]->grad;
    const float *x = pixl_f32(n->src[0]), *dy = n->grad;
    if (dx) EW_LOOP(n->numel, dx[i] += x[i] > 0 ? dy[i] : dy[i] * s);
    return PIXL_OK;
}
static const pixl_op_def leaky_def = {"leaky_relu", leaky_fwd, leaky_bwd, NULL, NULL, 0, NULL, NULL};
pixl_tensor *pixl_leaky_relu(pixl_ctx *ctx, pixl_tensor *x, float slope)
{
    scalar_params p = {slope};
    return unary_node(ctx, &leaky_def, x, &p, sizeof p);
}

/* -------------------------------------------------------------- hardtanh */
/* y = min(max(x, lo), hi); dy passes where lo < x < hi (PyTorch: the
 * gradient is 0 at the bounds themselves). relu6 = hardtanh(0, 6). */
typedef struct { float lo, hi; } hardtanh_params;

static int hardtanh_fwd(pixl_tensor *n)
{
    const hardtanh_params *p = PIXL_PARAMS(n, hardtanh_params);
    const float lo = p->lo, hi = p->hi, *x = pixl_f32(n->src[0]);
    float *y = pixl_f32(n);
    /* two selects (max then min), branch-free and vectorised; NaN stays NaN as in PyTorch */
    EW_LOOP(n->numel, {
        float v = x[i] < lo ? lo : x[i];
        y[i] = v > hi ? hi : v;
    });
    return PIXL_OK;
}
static int hardtanh_bwd(pixl_tensor *n)
{
    const hardtanh_params *p = PIXL_PARAMS(n, hardtanh_params);
    const float lo = p->lo, hi = p->hi, *x = pixl_f32(n->src[0]), *dy = n->grad;
    float *dx = n->src[0]->grad;
    if (dx) EW_LOOP(n->numel, dx[i] += x[i] > lo && x[i] < hi ? dy[i] : 0.0f);
    return PIXL_OK;
}
static int hardtanh_epi_step(const pixl_tensor *n, const pixl_tensor *from, pixl_epi_step *st)
{
    (void)from;
    const hardtanh_params *p = PIXL_PARAMS(n, hardtanh_params);
    st->kind = PIXL_EPI_CLAMP;
    st->lo = p->lo;
    st->hi = p->hi;
    return 1;
}
static const pixl_op_def hardtanh_def = {"hardtanh", hardtanh_fwd, hardtanh_bwd, NULL, NULL, 0, hardtanh_epi_step, NULL};
pixl_tensor *pixl_hardtanh(pixl_ctx *ctx, pixl_tensor *x, float min_val, float max_val)
{
    if (ctx && x && !(min_val < max_val)) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "hardtanh: input %s: min_val %g must be below max_val %g", pixl__tshape(x),
                      min_val, max_val);
        return NULL;
    }
    hardtanh_params p = {min_val, max_val};
    return unary_node(ctx, &hardtanh_def, x, &p, sizeof p);
}
pixl_tensor *pixl_relu6(pixl_ctx *ctx, pixl_tensor *x) { return pixl_hardtanh(ctx, x, 0.0f, 6.0f); }

/* ----------------------------------------------------------------- prelu */
/* x viewed as (N, C, inner); weight has C entries, or 1 (shared) */
typedef struct { int64_t N, C, inner; int shared; } prelu_params;

static int prelu_fwd(pixl_tensor *n)
{
    const prelu_params *p = PIXL_PARAMS(n, prelu_params);
    const float *x = pixl_f32(n->src[0]), *w = pixl_f32(n->src[1]);
    float *y = pixl_f32(n);
    const int64_t C = p->C, inner = p->inner, rows = p->N * C;
#pragma omp parallel for num_threads(NT) schedule(static) if (n->numel >= PAR_MIN)
    for (int64_t r = 0; r < rows; r++) {
        const float a = w[p->shared ? 0 : r % C];
        const float *xr = x + r * inner;
        float *yr = y + r * inner;
        for (int64_t i = 0; i < inner; i++) yr[i] = xr[i] > 0 ? xr[i] : a * xr[i];
    }
    return PIXL_OK;
}

static size_t prelu_work(const pixl_tensor *n) { return (size_t)PIXL_PARAMS(n, prelu_params)->C * sizeof(double); }

static int prelu_bwd(pixl_tensor *n)
{
    const prelu_params *p = PIXL_PARAMS(n, prelu_params);
    const float *x = pixl_f32(n->src[0]), *w = pixl_f32(n->src[1]), *dy = n->grad;
    float *dx = n->src[0]->grad, *dw = n->src[1]->grad;
    const int64_t N = p->N, C = p->C, inner = p->inner;
    if (dx) {
#pragma omp parallel for num_threads(NT) schedule(static) if (n->numel >= PAR_MIN)
        for (int64_t r = 0; r < N * C; r++) {
            const float a = w[p->shared ? 0 : r % C];
            const float *xr = x + r * inner, *gr = dy + r * inner;
            float *dr = dx + r * inner;
            for (int64_t i = 0; i < inner; i++) dr[i] += xr[i] > 0 ? gr[i] : a * gr[i];
        }
    }
    if (dw) {
        double *S = n->work; /* per channel */
#pragma omp parallel for num_threads(NT) schedule(static) if (n->numel >= PAR_MIN)
        for (int64_t c = 0; c < C; c++) {
            double s[4] = {0};
            for (int64_t k = 0; k < N; k++) {
                const float *xr = x + (k * C + c) * inner, *gr = dy + (k * C + c) * inner;
                int64_t i = 0;
                for (; i + 4 <= inner; i += 4)
                    for (int j = 0; j < 4; j++) s[j] += xr[i + j] > 0 ? 0.0 : (double)xr[i + j] * gr[i + j];
                for (; i < inner; i++) s[0] += xr[i] > 0 ? 0.0 : (double)xr[i] * gr[i];
            }
            S[c] = (s[0] + s[1]) + (s[2] + s[3]);
        }
        if (p->shared) {
            double t = 0;
            for (int64_t c = 0; c < C; c++) t += S[c];
            dw[0] += (float)t;
        } else
            for (int64_t c = 0; c < C; c++) dw[c] += (float)S[c];
    }
    return PIXL_OK;
}
static const pixl_op_def prelu_def = {"prelu", prelu_fwd, prelu_bwd, NULL, prelu_work, 0, NULL, NULL};

pixl_tensor *pixl_prelu(pixl_ctx *ctx, pixl_tensor *x, pixl_tensor *weight)
{
    if (!ctx || !x || !weight) return NULL;
    if (x->dtype != PIXL_F32 || weight->dtype != PIXL_F32) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "prelu: input %s and weight %s must be f32", pixl__tshape(x),
                      pixl__tshape(weight));
        return NULL;
    }
    prelu_params p;
    if (weight->numel == 1) {
        p = (prelu_params){x->ndim >= 2 ? x->shape[0] : 1, x->ndim >= 2 ? x->shape[1] : 1, 0, 1};
        p.inner = x->numel / (p.N * p.C);
    } else if (x->ndim >= 2 && weight->ndim == 1 && weight->numel == x->shape[1]) {
        p = (prelu_params){x->shape[0], x->shape[1], x->numel / (x->shape[0] * x->shape[1]), 0};
    } else {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "prelu: weight %s must have 1 or C entries for input %s",
                      pixl__tshape(weight), pixl__tshape(x));
        return NULL;
    }
    pixl_tensor *src[2] = {x, weight};
    return pixl__node_new(ctx, &prelu_def, PIXL_F32, x->ndim, x->shape, src, 2, &p, sizeof p);
}

/* ------------------------------------------------------------------- elu */
static int elu_fwd(pixl_tensor *n)
{
    const float a = PIXL_PARAMS(n, scalar_params)->a;
    const float *x = pixl_f32(n->src[0]);
    float *y = pixl_f32(n);
    EW_LOOP(n->numel, y[i] = x[i] > 0 ? x[i] : a * expm1f(x[i]));
    return PIXL_OK;
}
static int elu_bwd(pixl_tensor *n)
{
    const float a = PIXL_PARAMS(n, scalar_params)->a;
    float *dx = n->src[0]->grad;
    const float *x = pixl_f32(n->src[0]), *dy = n->grad;
    if (dx) EW_LOOP(n->numel, dx[i] += x[i] > 0 ? dy[i] : dy[i] * a * fast_expf(x[i]));
    return PIXL_OK;
}
static const pixl_op_def elu_def = {"elu", elu_fwd, elu_bwd, NULL, NULL, 0, NULL, NULL};
pixl_tensor *pixl_elu(pixl_ctx *ctx, pixl_tensor *x, float alpha)
{
    scalar_params p = {alpha};
    return unary_node(ctx, &elu_def, x, &p, sizeof p);
}

/* --------------------------------------------------------- sigmoid, tanh */
static inline float sigmoidf(float v)
{
    /* stable for large |v|: e = exp(-|v|) <= 1 */
    float e = fast_expf(-fabsf(v)), d = 1.0f / (1.0f + e);
    return v >= 0 ? d : e * d;
}
static int sigmoid_fwd(pixl_tensor *n)
{
    const float *x = pixl_f32(n->src[0]);
    float *y = pixl_f32(n);
    EW_LOOP(n->numel, y[i] = sigmoidf(x[i]));
    return PIXL_OK;
}
static int sigmoid_bwd(pixl_tensor *n)
{
    float *dx = n->src[0]->grad;
    const float *y = pixl_f32(n), *dy = n->grad;
    if (dx) EW_LOOP(n->numel, dx[i] += dy[i] * y[i] * (1.0f - y[i]));
    return PIXL_OK;
}
static const pixl_op_def sigmoid_def = {"sigmoid", sigmoid_fwd, sigmoid_bwd, NULL, NULL, 1, NULL, NULL};
pixl_tensor *pixl_sigmoid(pixl_ctx *ctx, pixl_tensor *x) { return unary_node(ctx, &sigmoid_def, x, NULL, 0); }

static int tanh_fwd(pixl_tensor *n)
{
    const float *x = pixl_f32(n->src[0]);
    float *y = pixl_f32(n);
    EW_LOOP(n->numel, y[i] = tanhf(x[i]));
    return PIXL_OK;
}
static int tanh_bwd(pixl_tensor *n)
{
    float *dx = n->src[0]->grad;
    const float *y = pixl_f32(n), *dy = n->grad;
    if (dx) EW_LOOP(n->numel, dx[i] += dy[i] * (1.0f - y[i] * y[i]));
    return PIXL_OK;
}
static const pixl_op_def tanh_def = {"tanh", tanh_fwd, tanh_bwd, NULL, NULL, 1, NULL, NULL};
pixl_tensor *pixl_tanh(pixl_ctx *ctx, pixl_tensor *x) { return unary_node(ctx, &tanh_def, x, NULL, 0); }

/* --------------------------------------------------------------- dropout */

static size_t dropout_aux(const pixl_tensor *n) { return sizeof(uint64_t); }

static int dropout_fwd(pixl_tensor *n)
{
    const pixl_dropout_params *p = PIXL_PARAMS(n, pixl_dropout_params);
    const uint64_t key = pixl__node_rng_key(n);
    *(uint64_t *)n->aux = key;
    const float *x = pixl_f32(n->src[0]);
    float *y = pixl_f32(n);
    const float prob = p->p, scale = prob < 1 ? 1.0f / (1.0f - prob) : 0.0f;
    const int64_t inner = p->inner, units = n->numel / inner;
#pragma omp parallel for num_threads(NT) schedule(static) if (n->numel >= PAR_MIN)
    for (int64_t u = 0; u < units; u++) {
        if (inner == 1) {
            y[u] = pixl_uniform01(key, (uint64_t)u) < prob ? 0.0f : x[u] * scale;
        } else {
            const float s = pixl_uniform01(key, (uint64_t)u) < prob ? 0.0f : scale;
            for (int64_t i = 0; i < inner; i++) y[u * inner + i] = x[u * inner + i] * s;
        }
    }
    return PIXL_OK;
}

static int dropout_bwd(pixl_tensor *n)
{
    const pixl_dropout_params *p = PIXL_PARAMS(n, pixl_dropout_params);
    const uint64_t key = *(const uint64_t *)n->aux;
    float *dx = n->src[0]->grad;
    const float *dy = n->grad;
    if (!dx) return PIXL_OK;
    const float prob = p->p, scale = prob < 1 ? 1.0f / (1.0f - prob) : 0.0f;
    const int64_t inner = p->inner, units = n->numel / inner;
#pragma omp parallel for num_threads(NT) schedule(static) if (n->numel >= PAR_MIN)
    for (int64_t u = 0; u < units; u++) {
        const float s = pixl_uniform01(key, (uint64_t)u) < prob ? 0.0f : scale;
        for (int64_t i = 0; i < inner; i++) dx[u * inner + i] += dy[u * inner + i] * s;
    }
    return PIXL_OK;
}
static const pixl_op_def dropout_def = {"dropout", dropout_fwd, dropout_bwd, dropout_aux, NULL, 0, NULL, NULL};
static const pixl_op_def dropout2d_def = {"dropout2d", dropout_fwd, dropout_bwd, dropout_aux, NULL, 0, NULL, NULL};

static pixl_tensor *dropout_any(pixl_ctx *ctx, pixl_tensor *x, float p, const pixl_op_def *def, int per_channel,
                                int mc)
{
    if (!ctx || !x) return NULL;
    if (!(p >= 0 && p <= 1)) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "%s: probability %g of input %s is not in [0, 1]", def->name, p,
                      pixl__tshape(x));
        return NULL;
    }
    if (x->dtype != PIXL_F32 || (per_channel && x->ndim < 2)) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "%s: input %s (%s) must be f32%s", def->name, pixl__tshape(x),
                      pixl_dtype_name(x->dtype), per_channel ? " (N,C,...)" : "");
        return NULL;
    }
    const int on = ctx->mode == PIXL_MODE_TRAIN || (mc && ctx->mc_dropout && ctx->mode == PIXL_MODE_EVAL);
    if (!on || p == 0) return x;
    pixl_dropout_params dp = {p, per_channel ? x->numel / (x->shape[0] * x->shape[1]) : 1};
    return pixl__node_new(ctx, def, PIXL_F32, x->ndim, x->shape, &x, 1, &dp, sizeof dp);
}

pixl_tensor *pixl_dropout(pixl_ctx *ctx, pixl_tensor *x, float p) { return dropout_any(ctx, x, p, &dropout_def, 0, 0); }
pixl_tensor *pixl_dropout2d(pixl_ctx *ctx, pixl_tensor *x, float p)
{
    return dropout_any(ctx, x, p, &dropout2d_def, 1, 0);
}
pixl_tensor *pixl_dropout_mc(pixl_ctx *ctx, pixl_tensor *x, float p)
{
    return dropout_any(ctx, x, p, &dropout_def, 0, 1);
}

int pixl_ctx_set_mc_dropout(pixl_ctx *ctx, int on)
{
    if (!ctx) return pixl_set_error(PIXL_ERR_ARG, "pixl_ctx_set_mc_dropout: NULL context");
    if (ctx->planned) return pixl_set_error(PIXL_ERR_STATE, "pixl_ctx_set_mc_dropout: the context is already planned");
    ctx->mc_dropout = on != 0;
    return PIXL_OK;
}

/* ------------------------------------------------- softmax over channels */
/* x viewed as (N, C, inner); work in blocks of up to SMB inner positions */
#define SMB 64
typedef struct { int64_t N, C, inner; float eps; } chan_params;

static int softmax_any_fwd(pixl_tensor *n, int logsm)
{
    const chan_params *p = PIXL_PARAMS(n, chan_params);
    const float *x = pixl_f32(n->src[0]);
    float *y = pixl_f32(n);
    const int64_t C = p->C, inner = p->inner, nb = (inner + SMB - 1) / SMB;
#pragma omp parallel for num_threads(NT) schedule(static) if (n->numel >= PAR_MIN)
    for (int64_t t = 0; t < p->N * nb; t++) {
        const int64_t s = t / nb, j0 = (t % nb) * SMB, L = inner - j0 < SMB ? inner - j0 : SMB;
        const float *xs = x + s * C * inner + j0;
        float *ys = y + s * C * inner + j0;
        float mx[SMB];
        double sum[SMB];
        for (int64_t j = 0; j < L; j++) {
            mx[j] = -INFINITY;
            sum[j] = 0;
        }
        for (int64_t c = 0; c < C; c++)
            for (int64_t j = 0; j < L; j++) mx[j] = xs[c * inner + j] > mx[j] ? xs[c * inner + j] : mx[j];
        for (int64_t c = 0; c < C; c++)
            for (int64_t j = 0; j < L; j++) ys[c * inner + j] = fast_expf(xs[c * inner + j] - mx[j]);
        /* summed in a separate (vectorisable) loop; log_softmax overwrites ys below */
        for (int64_t c = 0; c < C; c++)
            for (int64_t j = 0; j < L; j++) sum[j] += ys[c * inner + j];
        if (logsm) {
            float ls[SMB];
            for (int64_t j = 0; j < L; j++) ls[j] = (float)log(sum[j]);
            for (int64_t c = 0; c < C; c++)
                for (int64_t j = 0; j < L; j++) ys[c * inner + j] = (xs[c * inner + j] - mx[j]) - ls[j];
        } else {
            float r[SMB];
            for (int64_t j = 0; j < L; j++) r[j] = (float)(1.0 / sum[j]);
            for (int64_t c = 0; c < C; c++)
                for (int64_t j = 0; j < L; j++) ys[c * inner + j] *= r[j];
        }
    }
    return PIXL_OK;
}

static int softmax_any_bwd(pixl_tensor *n, int logsm)
{
    const chan_params *p = PIXL_PARAMS(n, chan_params);
    float *dx = n->src[0]->grad;
    if (!dx) return PIXL_OK;
    const float *y = pixl_f32(n), *dy = n->grad;
    const int64_t C = p->C, inner = p->inner, nb = (inner + SMB - 1) / SMB;
#pragma omp parallel for num_threads(NT) schedule(static) if (n->numel >= PAR_MIN)
    for (int64_t t = 0; t < p->N * nb; t++) {
        const int64_t s = t / nb, j0 = (t % nb) * SMB, L = inner - j0 < SMB ? inner - j0 : SMB;
        const int64_t off = s * C * inner + j0;
        double acc[SMB];
        float a[SMB];
        for (int64_t j = 0; j < L; j++) acc[j] = 0;
        if (logsm) {
            /* dx = dy - softmax * sum(dy) */
            for (int64_t c = 0; c < C; c++)
                for (int64_t j = 0; j < L; j++) acc[j] += dy[off + c * inner + j];
            for (int64_t j = 0; j < L; j++) a[j] = (float)acc[j];
            for (int64_t c = 0; c < C; c++)
                for (int64_t j = 0; j < L; j++) {
                    int64_t k = off + c * inner + j;
                    dx[k] += dy[k] - fast_expf(y[k]) * a[j];
                }
        } else {
            /* dx = y * (dy - sum(dy * y)) */
            for (int64_t c = 0; c < C; c++)
                for (int64_t j = 0; j < L; j++) {
                    int64_t k = off + c * inner + j;
                    acc[j] += (double)dy[k] * y[k];
                }
            for (int64_t j = 0; j < L; j++) a[j] = (float)acc[j];
            for (int64_t c = 0; c < C; c++)
                for (int64_t j = 0; j < L; j++) {
                    int64_t k = off + c * inner + j;
                    dx[k] += y[k] * (dy[k] - a[j]);
                }
        }
    }
    return PIXL_OK;
}

static int softmax_fwd(pixl_tensor *n) { return softmax_any_fwd(n, 0); }
static int softmax_bwd(pixl_tensor *n) { return softmax_any_bwd(n, 0); }
static int log_softmax_fwd(pixl_tensor *n) { return softmax_any_fwd(n, 1); }
static int log_softmax_bwd(pixl_tensor *n) { return softmax_any_bwd(n, 1); }
static const pixl_op_def softmax_def = {"softmax", softmax_fwd, softmax_bwd, NULL, NULL, 1, NULL, NULL};
static const pixl_op_def log_softmax_def = {"log_softmax", log_softmax_fwd, log_softmax_bwd, NULL, NULL, 1, NULL, NULL};

static pixl_tensor *chan_node(pixl_ctx *ctx, const pixl_op_def *def, pixl_tensor *x, float eps)
{
    if (!ctx || !x) return NULL;
    if (x->dtype != PIXL_F32 || x->ndim < 2) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "%s: input %s (%s) must be f32 (N,C,...)", def->name, pixl__tshape(x),
                      pixl_dtype_name(x->dtype));
        return NULL;
    }
    chan_params p = {x->shape[0], x->shape[1], x->numel / (x->shape[0] * x->shape[1]), eps};
    return pixl__node_new(ctx, def, PIXL_F32, x->ndim, x->shape, &x, 1, &p, sizeof p);
}

pixl_tensor *pixl_softmax(pixl_ctx *ctx, pixl_tensor *x) { return chan_node(ctx, &softmax_def, x, 0); }
pixl_tensor *pixl_log_softmax(pixl_ctx *ctx, pixl_tensor *x) { return chan_node(ctx, &log_softmax_def, x, 0); }

/* ----------------------------------------------------------- l2 normalise */
/* aux: the norm max(||x||, eps)... stored raw (||x||) per (n, position) */
static size_t l2n_aux(const pixl_tensor *n)
{
    const chan_params *p = PIXL_PARAMS(n, chan_params);
    return (size_t)(p->N * p->inner) * sizeof(float);
}

static int l2n_fwd(pixl_tensor *n)
{
    const chan_params *p = PIXL_PARAMS(n, chan_params);
    const float *x = pixl_f32(n->src[0]);
    float *y = pixl_f32(n), *norm = n->aux;
    const int64_t C = p->C, inner = p->inner, nb = (inner + SMB - 1) / SMB;
#pragma omp parallel for num_threads(NT) schedule(static) if (n->numel >= PAR_MIN)
    for (int64_t t = 0; t < p->N * nb; t++) {
        const int64_t s = t / nb, j0 = (t % nb) * SMB, L = inner - j0 < SMB ? inner - j0 : SMB;
        const int64_t off = s * C * inner + j0;
        double acc[SMB];
        float r[SMB];
        for (int64_t j = 0; j < L; j++) acc[j] = 0;
        for (int64_t c = 0; c < C; c++)
            for (int64_t j = 0; j < L; j++) {
                double v = x[off + c * inner + j];
                acc[j] += v * v;
            }
        for (int64_t j = 0; j < L; j++) {
            double nr = sqrt(acc[j]);
            norm[s * inner + j0 + j] = (float)nr;
            r[j] = (float)(1.0 / (nr > p->eps ? nr : (double)p->eps));
        }
        for (int64_t c = 0; c < C; c++)
            for (int64_t j = 0; j < L; j++) y[off + c * inner + j] = x[off + c * inner + j] * r[j];
    }
    return PIXL_OK;
}

static int l2n_bwd(pixl_tensor *n)
{
    const chan_params *p = PIXL_PARAMS(n, chan_params);
    float *dx = n->src[0]->grad;
    if (!dx) return PIXL_OK;
    const float *y = pixl_f32(n), *dy = n->grad, *norm = n->aux;
    const int64_t C = p->C, inner = p->inner, nb = (inner + SMB - 1) / SMB;
#pragma omp parallel for num_threads(NT) schedule(static) if (n->numel >= PAR_MIN)
    for (int64_t t = 0; t < p->N * nb; t++) {
        const int64_t s = t / nb, j0 = (t % nb) * SMB, L = inner - j0 < SMB ? inner - j0 : SMB;
        const int64_t off = s * C * inner + j0;
        double acc[SMB];
        float a[SMB], r[SMB];
        for (int64_t j = 0; j < L; j++) {
            float nr = norm[s * inner + j0 + j];
            acc[j] = 0;
            /* below eps the denominator is the constant eps: no projection */
            r[j] = nr >= p->eps ? 1.0f / nr : 1.0f / p->eps;
        }
        for (int64_t c = 0; c < C; c++)
            for (int64_t j = 0; j < L; j++) {
                int64_t k = off + c * inner + j;
                acc[j] += (double)dy[k] * y[k];
            }
        for (int64_t j = 0; j < L; j++) a[j] = norm[s * inner + j0 + j] >= p->eps ? (float)acc[j] : 0.0f;
        for (int64_t c = 0; c < C; c++)
            for (int64_t j = 0; j < L; j++) {
                int64_t k = off + c * inner + j;
                dx[k] += (dy[k] - y[k] * a[j]) * r[j];
            }
    }
    return PIXL_OK;
}
static const pixl_op_def l2n_def = {"l2_normalize", l2n_fwd, l2n_bwd, l2n_aux, NULL, 1, NULL, NULL};

pixl_tensor *pixl_l2_normalize(pixl_ctx *ctx, pixl_tensor *x, float eps)
{
    if (ctx && x && !(eps >= 0)) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "l2_normalize: invalid eps %g for input %s", eps, pixl__tshape(x));
        return NULL;
    }
    return chan_node(ctx, &l2n_def, x, eps > 0 ? eps : 1e-12f);
}
