/* pag.c — pixel-wise attentional gating (PAG, Kong & Fowlkes 2019), forward
 * and backward: the relaxed Gumbel softmax of the gates, the mask gating of
 * two branches and the gates' budget losses. Definitions (all per pixel of
 * (N, K, H, W) tensors, softmax over the channel dim K):
 *
 *   pixl_gumbel_softmax   TRAIN: u' = (u + 1e-5)/1.001, g = -log(-log u'),
 *       s = softmax(x), p = (s + 0.001)/1.001, y = softmax((log p + g)/t).
 *       Backward is the exact gradient of that expression:
 *           dz = y (dy - <y, dy>),  dp = dz / (t p),  ds = dp / 1.001,
 *           dx = s (ds - <s, ds>),  du = dz / (t u' (-log u') 1.001).
 *       (The seed multiplies by 0.999 where the exact factor is 1/1.001: a
 *       1e-6 relative difference.) Evaluation modes: one-hot of the first
 *       maximum of x, no gradient ("gumbel_softmax_hard").
 *   pixl_gumbel_softmax_st  TRAIN: the one-hot of the first maximum of
 *       that relaxed y (the same y: same epsilons, same noise stream), with
 *       y kept in aux; backward = the exact gradient of the relaxed y above
 *       at that y (straight-through). Evaluation modes as above.
 *   pixl_mask_gating      z = g0 h1 + g1 h2; dh_k = g_k dz; dg_k = sum_c h_k dz
 *       (TRUE) or that / C (CHANNEL_MEAN, the seed's rule).
 *   budget losses         m_k = mean of g_k over every image and pixel of
 *       every gate given; dL/dg_k = (dL/dm_k) / count, spread uniformly.
 *
 * DETERMINISM: every output element / pixel is computed by one thread; the
 * losses' sums are per (image, channel) plane (serial, double) and the plane
 * sums are added in plane order. */
#include <math.h>
#include <omp.h>

#include "pixl_impl.h"

#define PAR_MIN 16384

static int check_gate(pixl_ctx *ctx, const char *op, const char *what, const pixl_tensor *g)
{
    if (g->dtype == PIXL_F32 && g->ndim == 4 && g->shape[1] == 2) return 0;
    pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "%s: %s %s (%s) must be f32 (N, 2, H, W)", op, what, pixl__tshape(g),
                  pixl_dtype_name(g->dtype));
    return -1;
}

/* ========================================================= Gumbel softmax */

#define GS_U_EPS 1e-5
#define GS_U_DIV 1.001
#define GS_P_EPS 0.001
#define GS_P_DIV 1.001

typedef struct { int64_t N, K, HW; float t; int has_noise; } gs_p;

static inline double gs_uprime(double u) { return (u + GS_U_EPS) / GS_U_DIV; }

/* the noise u of element i: the input, or a draw keyed by the node and step */
static inline double gs_u(const pixl_tensor *n, const gs_p *p, uint64_t key, int64_t i)
{
    return p->has_noise ? (double)pixl_f32(n->src[1])[i] : (double)pixl_uniform01(key, (uint64_t)i);
}

/* max and sum of exp(x - max) over the K channels of one pixel (stride HW) */
static inline void gs_softmax_stats(const float *x, int64_t K, int64_t HW, double *mx, double *S)
{
    double m = x[0];
    for (int64_t k = 1; k < K; k++)
        if (x[k * HW] > m) m = x[k * HW];
    double s = 0;
    for (int64_t k = 0; k < K; k++) s += exp((double)x[k * HW] - m);
    *mx = m;
    *S = s;
}

/* (log p + g) / t of one element */
static inline double gs_z(float x, double mx, double S, double u, double t)
{
    const double s = exp((double)x - mx) / S, pk = (s + GS_P_EPS) / GS_P_DIV;
    return (log(pk) - log(-log(gs_uprime(u)))) / t;
}

/* channels whose z and exp the forward keeps on the stack (more: computed again) */
#define GS_KMAX 16

/* the relaxed y of node n into y */
static void gs_relaxed(const pixl_tensor *n, float *y)
{
    const gs_p *p = PIXL_PARAMS(n, const gs_p);
    const float *x = pixl_f32(n->src[0]);
    const int64_t K = p->K, HW = p->HW, total = p->N * HW;
    const uint64_t key = p->has_noise ? 0 : pixl__node_rng_key(n);
    const double t = p->t;
#pragma omp parallel for schedule(static) num_threads(pixl_num_threads()) if (total * K > PAR_MIN)
    for (int64_t px = 0; px < total; px++) {
        const int64_t base = (px / HW) * K * HW + px % HW;
        const float *xp = x + base;
        double mx, S;
        gs_softmax_stats(xp, K, HW, &mx, &S);
        double zmax = -INFINITY, Z = 0;
        if (K <= GS_KMAX) { /* each z and exp once (the same values as below) */
            double e[GS_KMAX];
            for (int64_t k = 0; k < K; k++) {
                e[k] = gs_z(xp[k * HW], mx, S, gs_u(n, p, key, base + k * HW), t);
                if (e[k] > zmax) zmax = e[k];
            }
            for (int64_t k = 0; k < K; k++) Z += (e[k] = exp(e[k] - zmax));
            for (int64_t k = 0; k < K; k++) y[base + k * HW] = (float)(e[k] / Z);
            continue;
        }
        for (int64_t k = 0; k < K; k++) {
            const double z = gs_z(xp[k * HW], mx, S, gs_u(n, p, key, base + k * HW), t);
            if (z > zmax) zmax = z;
        }
        for (int64_t k = 0; k < K; k++) Z += exp(gs_z(xp[k * HW], mx, S, gs_u(n, p, key, base + k * HW), t) - zmax);
        for (int64_t k = 0; k < K; k++)
            y[base + k * HW] = (float)(exp(gs_z(xp[k * HW], mx, S, gs_u(n, p, key, base + k * HW), t) - zmax) / Z);
    }
}

static int gs_fwd(pixl_tensor *n)
{
    gs_relaxed(n, pixl_f32(n));
    return PIXL_OK;
}

/* the exact gradient of the relaxed y (given) into logits and noise */
static int gs_bwd_of(pixl_tensor *n, const float *y)
{
    const gs_p *p = PIXL_PARAMS(n, const gs_p);
    const float *x = pixl_f32(n->src[0]), *dy = n->grad;
    float *gx = n->src[0]->grad, *gu = p->has_noise ? n->src[1]->grad : NULL;
    if (!gx && !gu) return PIXL_OK;
    const int64_t K = p->K, HW = p->HW, total = p->N * HW;
    const double t = p->t;
#pragma omp parallel for schedule(static) num_threads(pixl_num_threads()) if (total * K > PAR_MIN)
    for (int64_t px = 0; px < total; px++) {
        const int64_t base = (px / HW) * K * HW + px % HW;
        const float *xp = x + base;
        double a = 0;
        for (int64_t k = 0; k < K; k++) a += (double)y[base + k * HW] * dy[base + k * HW];
        if (gu) {
            const float *u = pixl_f32(n->src[1]);
            for (int64_t k = 0; k < K; k++) {
                const int64_t i = base + k * HW;
                const double dz = (double)y[i] * (dy[i] - a), up = gs_uprime(u[i]);
                gu[i] += (float)(dz / (t * up * -log(up) * GS_U_DIV));
            }
        }
        if (!gx) continue;
        double mx, S;
        gs_softmax_stats(xp, K, HW, &mx, &S);
        double b = 0; /* <s, ds> */
        for (int64_t k = 0; k < K; k++) {
            const int64_t i = base + k * HW;
            const double s = exp((double)xp[k * HW] - mx) / S, pk = (s + GS_P_EPS) / GS_P_DIV;
            const double dz = (double)y[i] * (dy[i] - a);
            b += s * dz / (t * pk * GS_P_DIV);
        }
        for (int64_t k = 0; k < K; k++) {
            const int64_t i = base + k * HW;
            const double s = exp((double)xp[k * HW] - mx) / S, pk = (s + GS_P_EPS) / GS_P_DIV;
            const double ds = (double)y[i] * (dy[i] - a) / (t * pk * GS_P_DIV);
            gx[i] += (float)(s * (ds - b));
        }
    }
    return PIXL_OK;
}

static int gs_bwd(pixl_tensor *n) { return gs_bwd_of(n, pixl_f32(n)); }

/* y = the one-hot of the first maximum over the channels of x (a NaN wins,
 * as pixl_argmax_channels) */
static void one_hot_argmax(const gs_p *p, const float *x, float *y)
{
    const int64_t K = p->K, HW = p->HW, total = p->N * HW;
#pragma omp parallel for schedule(static) num_threads(pixl_num_threads()) if (total * K > PAR_MIN)
    for (int64_t px = 0; px < total; px++) {
        const int64_t base = (px / HW) * K * HW + px % HW;
        int64_t bi = 0;
        float best = x[base];
        if (!isnan(best))
            for (int64_t k = 1; k < K; k++) {
                const float v = x[base + k * HW];
                if (isnan(v)) {
                    bi = k;
                    break;
                }
                if (v > best) best = v, bi = k;
            }
        for (int64_t k = 0; k < K; k++) y[base + k * HW] = k == bi ? 1.0f : 0.0f;
    }
}

/* evaluation: one-hot of the first maximum of the logits */
static int gs_hard_fwd(pixl_tensor *n)
{
    one_hot_argmax(PIXL_PARAMS(n, const gs_p), pixl_f32(n->src[0]), pixl_f32(n));
    return PIXL_OK;
}

/* straight-through: the relaxed y is kept in aux; the output is the one-hot
 * of its first maximum; the backward is the relaxed one, at y */
static size_t gs_st_aux(const pixl_tensor *n) { return (size_t)n->numel * sizeof(float); }

static int gs_st_fwd(pixl_tensor *n)
{
    float *y = n->aux;
    gs_relaxed(n, y);
    one_hot_argmax(PIXL_PARAMS(n, const gs_p), y, pixl_f32(n));
    return PIXL_OK;
}

static int gs_st_bwd(pixl_tensor *n) { return gs_bwd_of(n, n->aux); }

static const pixl_op_def gs_def = {.name = "gumbel_softmax", .fwd = gs_fwd, .bwd = gs_bwd, .bwd_reads_output = 1};
static const pixl_op_def gs_hard_def = {.name = "gumbel_softmax_hard", .fwd = gs_hard_fwd};
static const pixl_op_def gs_st_def = {.name = "gumbel_softmax_st", .fwd = gs_st_fwd, .bwd = gs_st_bwd,
                                      .aux_bytes = gs_st_aux};

int pixl__is_st_gate(const pixl_tensor *g) { return g && g->def == &gs_st_def; }

static pixl_tensor *gumbel(pixl_ctx *ctx, const pixl_op_def *train_def, pixl_tensor *logits, pixl_tensor *noise,
                           float t)
{
    const char *op = train_def->name;
    if (!ctx || pixl__any_null(1, logits)) return NULL;
    if (logits->dtype != PIXL_F32 || logits->ndim != 4) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "%s: logits %s (%s) must be f32 (N, K, H, W)", op, pixl__tshape(logits),
                      pixl_dtype_name(logits->dtype));
        return NULL;
    }
    if (noise && (noise->dtype != PIXL_F32 || !pixl__same_shape(noise, logits))) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "%s: noise %s (%s) must be f32 of the shape of logits %s", op,
                      pixl__tshape(noise), pixl_dtype_name(noise->dtype), pixl__tshape(logits));
        return NULL;
    }
    if (!(t > 0) || !isfinite(t)) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "%s: temperature t = %g must be a finite number > 0", op, (double)t);
        return NULL;
    }
    gs_p p = {.N = logits->shape[0], .K = logits->shape[1], .HW = logits->shape[2] * logits->shape[3], .t = t,
              .has_noise = noise != NULL};
    pixl_tensor *src[2] = {logits, noise};
    if (pixl_ctx_mode(ctx) != PIXL_MODE_TRAIN)
        return pixl__node_new(ctx, &gs_hard_def, PIXL_F32, 4, logits->shape, src, 1, &p, sizeof p);
    return pixl__node_new(ctx, train_def, PIXL_F32, 4, logits->shape, src, noise ? 2 : 1, &p, sizeof p);
}

pixl_tensor *pixl_gumbel_softmax(pixl_ctx *ctx, pixl_tensor *logits, pixl_tensor *noise, float t)
{
    return gumbel(ctx, &gs_def, logits, noise, t);
}

pixl_tensor *pixl_gumbel_softmax_st(pixl_ctx *ctx, pixl_tensor *logits, pixl_tensor *noise, float t)
{
    return gumbel(ctx, &gs_st_def, logits, noise, t);
}

int pixl_ctx_set_temperature(pixl_ctx *ctx, float t)
{
    if (!ctx) return pixl_set_error(PIXL_ERR_ARG, "pixl_ctx_set_temperature: NULL ctx");
    if (!(t > 0) || !isfinite(t))
        return pixl_set_error(PIXL_ERR_ARG, "gumbel_softmax: temperature t = %g must be a finite number > 0", (double)t);
    int n = 0;
    for (int i = 0; i < ctx->n_nodes; i++) {
        pixl_tensor *nd = ctx->nodes[i];
        if (nd->def == &gs_def || nd->def == &gs_st_def || nd->def == &gs_hard_def) {
            PIXL_PARAMS(nd, gs_p)->t = t;
            n++;
        }
    }
    return n;
}

/* ============================================================ mask gating */

typedef struct { int64_t N, C, HW; int rule; } mg_p;

static int mg_fwd(pixl_tensor *n)
{
    const mg_p *p = PIXL_PARAMS(n, const mg_p);
    const float *g = pixl_f32(n->src[0]), *h1 = pixl_f32(n->src[1]), *h2 = pixl_f32(n->src[2]);
    float *z = pixl_f32(n);
    const int64_t C = p->C, HW = p->HW, planes = p->N * C;
#pragma omp parallel for schedule(static) num_threads(pixl_num_threads()) if (planes * HW > PAR_MIN)
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *g0 = g + (pl / C) * 2 * HW, *g1 = g0 + HW;
        const float *a = h1 + pl * HW, *b = h2 + pl * HW;
        float *o = z + pl * HW;
        for (int64_t q = 0; q < HW; q++) o[q] = g0[q] * a[q] + g1[q] * b[q];
    }
    return PIXL_OK;
}

static int mg_bwd(pixl_tensor *n)
{
    const mg_p *p = PIXL_PARAMS(n, const mg_p);
    const float *g = pixl_f32(n->src[0]), *h1 = pixl_f32(n->src[1]), *h2 = pixl_f32(n->src[2]), *dz = n->grad;
    float *gg = n->src[0]->grad, *g1 = n->src[1]->grad, *g2 = n->src[2]->grad;
    const int64_t C = p->C, HW = p->HW, planes = p->N * C;
    if (g1 || g2) {
#pragma omp parallel for schedule(static) num_threads(pixl_num_threads()) if (planes * HW > PAR_MIN)
        for (int64_t pl = 0; pl < planes; pl++) {
            const float *m0 = g + (pl / C) * 2 * HW, *m1 = m0 + HW, *d = dz + pl * HW;
            if (g1)
                for (int64_t q = 0; q < HW; q++) g1[pl * HW + q] += m0[q] * d[q];
            if (g2)
                for (int64_t q = 0; q < HW; q++) g2[pl * HW + q] += m1[q] * d[q];
        }
    }
    if (gg) {
        const double scale = p->rule == PIXL_GATE_GRAD_CHANNEL_MEAN ? 1.0 / (double)C : 1.0;
        const int64_t total = p->N * HW;
#pragma omp parallel for schedule(static) num_threads(pixl_num_threads()) if (planes * HW > PAR_MIN)
        for (int64_t px = 0; px < total; px++) {
            const int64_t b = px / HW, q = px % HW, off = b * C * HW + q;
            double s1 = 0, s2 = 0;
            for (int64_t c = 0; c < C; c++) {
                s1 += (double)h1[off + c * HW] * dz[off + c * HW];
                s2 += (double)h2[off + c * HW] * dz[off + c * HW];
            }
            gg[b * 2 * HW + q] += (float)(s1 * scale);
            gg[b * 2 * HW + HW + q] += (float)(s2 * scale);
        }
    }
    return PIXL_OK;
}

static const pixl_op_def mg_def = {.name = "mask_gating", .fwd = mg_fwd, .bwd = mg_bwd};

pixl_tensor *pixl_mask_gating(pixl_ctx *ctx, pixl_tensor *g, pixl_tensor *h1, pixl_tensor *h2,
                              pixl_gate_grad_rule rule)
{
    const char *op = "mask_gating";
    if (!ctx || pixl__any_null(3, g, h1, h2)) return NULL;
    if (check_gate(ctx, op, "gate", g)) return NULL;
    if (h1->dtype != PIXL_F32 || h1->ndim != 4 || !pixl__same_shape(h1, h2) || h1->shape[0] != g->shape[0] ||
        h1->shape[2] != g->shape[2] || h1->shape[3] != g->shape[3]) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE,
                      "%s: h1 %s and h2 %s must be f32 (N, C, H, W) of one shape, with N, H, W of the gate %s", op,
                      pixl__tshape(h1), pixl__tshape(h2), pixl__tshape(g));
        return NULL;
    }
    if (rule != PIXL_GATE_GRAD_TRUE && rule != PIXL_GATE_GRAD_CHANNEL_MEAN) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "%s: unknown gradient rule %d (PIXL_GATE_GRAD_TRUE or _CHANNEL_MEAN)", op,
                      (int)rule);
        return NULL;
    }
    mg_p p = {.N = h1->shape[0], .C = h1->shape[1], .HW = h1->shape[2] * h1->shape[3], .rule = rule};
    pixl_tensor *src[3] = {g, h1, h2};
    return pixl__node_new(ctx, &mg_def, PIXL_F32, 4, h1->shape, src, 3, &p, sizeof p);
}

/* =========================================================== budget losses */

/* the means are kept inside [GB_EPS, 1 - GB_EPS] in the KL (closed gates) */
#define GB_EPS 1e-6

enum { GB_KL = 0, GB_MILD = 1 };
typedef struct { int kind; float lambda; } gb_p;

/* aux: m1, m2, count (doubles) */
static size_t gb_aux(const pixl_tensor *n) { return 3 * sizeof(double); }
static size_t gb_work(const pixl_tensor *n)
{
    size_t planes = 0;
    for (int i = 0; i < n->n_src; i++) planes += (size_t)n->src[i]->shape[0] * 2;
    return planes * sizeof(double);
}

static inline double klt(double a, double b, double m) /* a log(b / m), 0 when a = 0 */
{
    return a > 0 ? a * log(b / m) : 0.0;
}

static inline double clampm(double m) { return m < GB_EPS ? GB_EPS : m > 1 - GB_EPS ? 1 - GB_EPS : m; }

/* L and dL/dm1, dL/dm2 */
static double gb_value(const gb_p *p, double m1, double m2, double *d1, double *d2)
{
    const double l = p->lambda, r = 1.0 - l;
    if (p->kind == GB_MILD) {
        const double e1 = m1 - r, e2 = m2 - l;
        *d1 = 2 * e1 / (1 + e1 * e1);
        *d2 = 2 * e2 / (1 + e2 * e2);
        return log1p(e1 * e1) + log1p(e2 * e2);
    }
    m1 = clampm(m1);
    m2 = clampm(m2);
    *d2 = -l / m2 + r / (1 - m2);
    *d1 = -r / m1 + l / (1 - m1);
    return klt(l, l, m2) + klt(r, r, 1 - m2) + klt(r, r, m1) + klt(l, l, 1 - m1);
}

static int gb_fwd(pixl_tensor *n)
{
    const gb_p *p = PIXL_PARAMS(n, const gb_p);
    double *ps = n->work;
    int64_t off = 0;
    for (int i = 0; i < n->n_src; i++) {
        const pixl_tensor *g = n->src[i];
        const float *d = pixl_f32(g);
        const int64_t planes = g->shape[0] * 2, HW = g->shape[2] * g->shape[3];
#pragma omp parallel for schedule(static) num_threads(pixl_num_threads()) if (planes * HW > PAR_MIN)
        for (int64_t pl = 0; pl < planes; pl++) {
            double s = 0;
            for (int64_t q = 0; q < HW; q++) s += d[pl * HW + q];
            ps[off + pl] = s;
        }
        off += planes;
    }
    double s1 = 0, s2 = 0, cnt = 0;
    off = 0;
    for (int i = 0; i < n->n_src; i++) {
        const pixl_tensor *g = n->src[i];
        for (int64_t b = 0; b < g->shape[0]; b++) {
            s1 += ps[off + 2 * b];
            s2 += ps[off + 2 * b + 1];
        }
        off += g->shape[0] * 2;
        cnt += (double)g->shape[0] * (double)(g->shape[2] * g->shape[3]);
    }
    double *a = n->aux, d1, d2;
    a[0] = cnt > 0 ? s1 / cnt : 0;
    a[1] = cnt > 0 ? s2 / cnt : 0;
    a[2] = cnt;
    pixl_f32(n)[0] = (float)gb_value(p, a[0], a[1], &d1, &d2);
    return PIXL_OK;
}

static int gb_bwd(pixl_tensor *n)
{
    const gb_p *p = PIXL_PARAMS(n, const gb_p);
    const double *a = n->aux;
    if (!(a[2] > 0)) return PIXL_OK;
    double d1, d2;
    gb_value(p, a[0], a[1], &d1, &d2);
    const float v1 = (float)(n->grad[0] * d1 / a[2]), v2 = (float)(n->grad[0] * d2 / a[2]);
    for (int i = 0; i < n->n_src; i++) {
        pixl_tensor *g = n->src[i];
        float *gg = g->grad;
        if (!gg) continue;
        const int64_t planes = g->shape[0] * 2, HW = g->shape[2] * g->shape[3];
#pragma omp parallel for schedule(static) num_threads(pixl_num_threads()) if (planes * HW > PAR_MIN)
        for (int64_t pl = 0; pl < planes; pl++) {
            const float v = pl % 2 ? v2 : v1;
            for (int64_t q = 0; q < HW; q++) gg[pl * HW + q] += v;
        }
    }
    return PIXL_OK;
}

static const pixl_op_def gb_kl_def = {.name = "gate_kl_loss", .fwd = gb_fwd, .bwd = gb_bwd, .aux_bytes = gb_aux,
                                      .work_bytes = gb_work};
static const pixl_op_def gb_klc_def = {.name = "gate_kl_combined_loss", .fwd = gb_fwd, .bwd = gb_bwd,
                                       .aux_bytes = gb_aux, .work_bytes = gb_work};
static const pixl_op_def gb_mild_def = {.name = "gate_mild_loss", .fwd = gb_fwd, .bwd = gb_bwd, .aux_bytes = gb_aux,
                                        .work_bytes = gb_work};

static pixl_tensor *gate_loss(pixl_ctx *ctx, const pixl_op_def *def, int kind, int n, pixl_tensor *const *gates,
                              float lambda)
{
    const char *op = def->name;
    if (!ctx) return NULL;
    if (n < 1 || n > PIXL_MAX_SRC || !gates) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "%s: %d gates (1..%d)", op, n, PIXL_MAX_SRC);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        if (!gates[i]) return NULL;
        char what[32];
        snprintf(what, sizeof what, n > 1 ? "gate %d" : "gate", i);
        if (check_gate(ctx, op, what, gates[i])) return NULL;
    }
    if (!(lambda > 0 && lambda <= 1)) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "%s: lambda = %g must be in (0, 1] (the fraction of computing pixels)", op,
                      (double)lambda);
        return NULL;
    }
    gb_p p = {.kind = kind, .lambda = lambda};
    int64_t one = 1;
    return pixl__node_new(ctx, def, PIXL_F32, 1, &one, gates, n, &p, sizeof p);
}

pixl_tensor *pixl_gate_kl_loss(pixl_ctx *ctx, pixl_tensor *g, float lambda)
{
    if (!ctx || !g) return NULL;
    return gate_loss(ctx, &gb_kl_def, GB_KL, 1, &g, lambda);
}

pixl_tensor *pixl_gate_kl_combined_loss(pixl_ctx *ctx, pixl_tensor *const *gates, int n, float lambda)
{
    return gate_loss(ctx, &gb_klc_def, GB_KL, n, gates, lambda);
}

pixl_tensor *pixl_gate_mild_loss(pixl_ctx *ctx, pixl_tensor *g, float lambda)
{
    if (!ctx || !g) return NULL;
    return gate_loss(ctx, &gb_mild_def, GB_MILD, 1, &g, lambda);
}
