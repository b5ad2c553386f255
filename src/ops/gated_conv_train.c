/* gated_conv_train.c — the gated 3x3 conv of a pixel-wise attentional
 * gating (PAG) bottleneck in TRAINING, computed only at the pixels whose
 * hard gate is on (the contract is in include/pixl.h,
 * pixl_gated_conv3x3_train):
 *
 *   active pixels (gate[:,1] == 1), P of them over the whole batch:
 *       y  = conv3x3(h1)              col (C*9, P) gathered, y = W col
 *       h2 = ReLU(BN(y))              statistics over the P pixels
 *       z  = h2
 *   inactive pixels: z = h1
 *
 * FORWARD. The gate is scanned into a list of the active pixels (offsets
 * n*C*H*W + i of their channel-0 element in h1, raster order, image after
 * image; kept in aux for the backward), the 3x3 taps of each listed pixel
 * are resolved once (offsets into h1, or -1 outside the map), the columns
 * gathered, one gemm (pixl__gemm_f32: fixed blocks, the same bits for any
 * thread count) gives y (C, P), kept in aux. BN's mean and biased variance
 * per channel over the P values (double, shifted by the first value), the
 * running statistics updated as pixl_batch_norm2d does (none when P = 0).
 * z = a copy of h1 with h2 written over the active pixels.
 *
 * BACKWARD (dz the output's gradient):
 *   BN + ReLU     dY (C, P) from dz at the active pixels, h2 recomputed from
 *                 y and the saved mean / rstd; dbn_weight, dbn_bias;
 *   dW           += dY col^T (the columns gathered again);
 *   dh1          += col2im(W^T dY) (scatter-add, one thread per channel,
 *                 in tap then pixel order) + dz at the inactive pixels;
 *   gate          dg0 = sum_c h1 dz, dg1 = sum_c z dz (z = h2 at the active
 *                 pixels; z = h1 at the inactive ones: the approximation
 *                 documented in pixl.h), / C for CHANNEL_MEAN.
 * Every reduction belongs to one thread and runs in a fixed order, so the
 * bits do not depend on the thread count.
 *
 * MEMORY. aux: the pixel list (N*H*W int32), mean and rstd (2C), y (C*N*H*W
 * floats: sized for every pixel active). work: the taps (9*N*H*W int32),
 * the columns (9C*N*H*W) and dY (C*N*H*W). */
#include <math.h>

#include "pixl_impl.h"

#define PAR_MIN 16384
#define FLR(n) ((size_t)(((int64_t)(n) + 15) / 16 * 16)) /* 4-byte elements, rounded to 64 bytes */

enum { S_H1, S_GATE, S_W, S_BNW, S_BNB, S_RM, S_RV, S_COUNT };

typedef struct gct_p {
    int64_t N, C, H, W;
    int dil, rule;
    float eps, momentum;
} gct_p;

static int64_t npix(const gct_p *p) { return p->N * p->H * p->W; }

/* aux: [P (int64, padded to 64 bytes) | list (NHW int32) | mean, rstd (C each) | y (C * NHW)] */
static size_t gct_aux(const pixl_tensor *n)
{
    const gct_p *p = PIXL_PARAMS(n, const gct_p);
    return (16 + FLR(npix(p)) + FLR(2 * p->C) + (size_t)p->C * (size_t)npix(p)) * 4;
}

/* work: [taps (9 NHW int32) | col (9C NHW) | dY (C NHW)] */
static size_t gct_work(const pixl_tensor *n)
{
    const gct_p *p = PIXL_PARAMS(n, const gct_p);
    const size_t P = (size_t)npix(p);
    return (FLR(9 * (int64_t)P) + FLR(9 * p->C * (int64_t)P) + (size_t)p->C * P) * 4;
}

typedef struct gct_mem {
    int64_t *P;
    int32_t *list;
    float *mean, *rstd, *y;
    int32_t *tix;
    float *col, *dy;
} gct_mem;

static gct_mem mem_of(const pixl_tensor *n)
{
    const gct_p *p = PIXL_PARAMS(n, const gct_p);
    const int64_t NHW = npix(p);
    gct_mem m;
    float *a = n->aux;
    m.P = (int64_t *)(void *)a;
    m.list = (int32_t *)(void *)(a + 16);
    m.mean = a + 16 + FLR(NHW);
    m.rstd = m.mean + p->C;
    m.y = m.mean + FLR(2 * p->C);
    float *w = n->work;
    m.tix = (int32_t *)(void *)w;
    m.col = w + FLR(9 * NHW);
    m.dy = m.col + FLR(9 * p->C * NHW);
    return m;
}

/* tix[k * P + j]: the offset in h1 of tap k (kh * 3 + kw) of listed pixel j
 * in channel 0, or -1 outside the map */
static void taps(const gct_p *p, const int32_t *list, int64_t P, int32_t *tix)
{
    const int64_t H = p->H, W = p->W, HW = H * W, CHW = p->C * HW;
    const int d = p->dil;
#pragma omp parallel for schedule(static) num_threads(pixl_num_threads()) if (P * 9 > PAR_MIN)
    for (int64_t j = 0; j < P; j++) {
        const int64_t o = list[j], n = o / CHW, i = o % CHW, y = i / W, x = i % W;
        for (int kh = 0; kh < 3; kh++)
            for (int kw = 0; kw < 3; kw++) {
                const int64_t yy = y + (int64_t)(kh - 1) * d, xx = x + (int64_t)(kw - 1) * d;
                tix[(kh * 3 + kw) * P + j] =
                    yy >= 0 && yy < H && xx >= 0 && xx < W ? (int32_t)(n * CHW + yy * W + xx) : -1;
            }
    }
}

/* col[(c * 9 + k) * P + j] = h1 at tap k of pixel j, channel c (0 outside) */
static void gather(const gct_p *p, const float *h1, const int32_t *tix, int64_t P, float *col)
{
    const int64_t HW = p->H * p->W, K = p->C * 9;
#pragma omp parallel for schedule(static) num_threads(pixl_num_threads()) if (K * P > PAR_MIN)
    for (int64_t r = 0; r < K; r++) {
        const float *plane = h1 + (r / 9) * HW;
        const int32_t *t = tix + (r % 9) * P;
        float *dst = col + r * P;
        for (int64_t j = 0; j < P; j++) dst[j] = t[j] >= 0 ? plane[t[j]] : 0.0f;
    }
}

static inline float bn_relu(float v, float sc, float sh)
{
    const float o = v * sc + sh;
    return o > 0 ? o : 0.0f; /* as pixl_relu */
}

/* the per-channel affine of BN: sc = gamma * rstd, sh = beta - mean * sc (as pixl_batch_norm2d) */
static void affine(const float *bw, const float *bb, const gct_mem *m, int64_t c, float *sc, float *sh)
{
    const double rs = m->rstd[c];
    *sc = (float)((bw ? (double)bw[c] : 1.0) * rs);
    *sh = (float)((bb ? (double)bb[c] : 0.0) - (double)m->mean[c] * (double)*sc);
}

static int gct_fwd(pixl_tensor *nd)
{
    const gct_p *p = PIXL_PARAMS(nd, const gct_p);
    const int64_t N = p->N, C = p->C, W = p->W, HW = p->H * W, CHW = C * HW, K = C * 9;
    const float *h1 = pixl_f32(nd->src[S_H1]), *g = pixl_f32(nd->src[S_GATE]), *w = pixl_f32(nd->src[S_W]);
    const float *bw = nd->src[S_BNW] ? pixl_f32(nd->src[S_BNW]) : NULL;
    const float *bb = nd->src[S_BNB] ? pixl_f32(nd->src[S_BNB]) : NULL;
    float *rm = nd->src[S_RM] ? pixl_f32(nd->src[S_RM]) : NULL, *rv = nd->src[S_RV] ? pixl_f32(nd->src[S_RV]) : NULL;
    float *z = pixl_f32(nd);
    gct_mem m = mem_of(nd);

    /* the active pixels, in order; the gate must be one-hot */
    int64_t P = 0;
    for (int64_t n = 0; n < N; n++) {
        const float *g0 = g + n * 2 * HW, *g1 = g0 + HW;
        for (int64_t i = 0; i < HW; i++) {
            if (g1[i] == 1.0f && g0[i] == 0.0f) m.list[P++] = (int32_t)(n * CHW + i);
            else if (!(g1[i] == 0.0f && g0[i] == 1.0f))
                return pixl_set_error(PIXL_ERR_ARG,
                                      "gated_conv3x3_train '%s': gate %s must be a hard one-hot (0/1, the two "
                                      "channels summing to 1), got (%g, %g) at image %lld, pixel (%lld, %lld)",
                                      nd->name, pixl__tshape(nd->src[S_GATE]), (double)g0[i], (double)g1[i],
                                      (long long)n, (long long)(i / W), (long long)(i % W));
        }
    }
    *m.P = P;

    /* z = h1, then h2 over the active pixels */
#pragma omp parallel for schedule(static) num_threads(pixl_num_threads()) if (N * CHW > PAR_MIN)
    for (int64_t pl = 0; pl < N * C; pl++) memcpy(z + pl * HW, h1 + pl * HW, (size_t)HW * sizeof(float));
    if (P == 0) return PIXL_OK; /* no statistics, no running update */

    taps(p, m.list, P, m.tix);
    gather(p, h1, m.tix, P, m.col);
    pixl__gemm_f32(0, 0, C, P, K, 1.0f, w, K, m.col, P, 0.0f, m.y, P);

    const double factor = p->momentum;
#pragma omp parallel for schedule(static) num_threads(pixl_num_threads()) if (C * P > PAR_MIN)
    for (int64_t c = 0; c < C; c++) {
        const float *yc = m.y + c * P;
        const double k0 = yc[0];
        double s = 0, q = 0;
        for (int64_t j = 0; j < P; j++) {
            const double d = (double)yc[j] - k0;
            s += d;
            q += d * d;
        }
        const double ms = s / (double)P, var0 = q / (double)P - ms * ms, var = var0 > 0 ? var0 : 0;
        const double mean = k0 + ms;
        m.mean[c] = (float)mean;
        m.rstd[c] = (float)(1.0 / sqrt(var + (double)p->eps));
        if (rm && rv) {
            const double unbiased = P > 1 ? var * (double)P / (double)(P - 1) : var;
            rm[c] = (float)(factor * mean + (1 - factor) * (double)rm[c]);
            rv[c] = (float)(factor * unbiased + (1 - factor) * (double)rv[c]);
        }
        float sc, sh;
        affine(bw, bb, &m, c, &sc, &sh);
        float *zc = z + c * HW;
        for (int64_t j = 0; j < P; j++) zc[m.list[j]] = bn_relu(yc[j], sc, sh);
    }
    return PIXL_OK;
}

static int gct_bwd(pixl_tensor *nd)
{
    const gct_p *p = PIXL_PARAMS(nd, const gct_p);
    const int64_t N = p->N, C = p->C, HW = p->H * p->W, CHW = C * HW, K = C * 9;
    const float *h1 = pixl_f32(nd->src[S_H1]), *g = pixl_f32(nd->src[S_GATE]), *w = pixl_f32(nd->src[S_W]);
    const float *z = pixl_f32(nd), *dz = nd->grad;
    const float *bw = nd->src[S_BNW] ? pixl_f32(nd->src[S_BNW]) : NULL;
    const float *bb = nd->src[S_BNB] ? pixl_f32(nd->src[S_BNB]) : NULL;
    float *dh1 = nd->src[S_H1]->grad, *dg = nd->src[S_GATE]->grad, *dw = nd->src[S_W]->grad;
    float *dbw = nd->src[S_BNW] ? nd->src[S_BNW]->grad : NULL, *dbb = nd->src[S_BNB] ? nd->src[S_BNB]->grad : NULL;
    gct_mem m = mem_of(nd);
    const int64_t P = *m.P;

    if (P > 0 && (dh1 || dw || dbw || dbb)) {
        /* BN + ReLU: dY (C, P) */
        const int want_dy = dh1 || dw;
#pragma omp parallel for schedule(static) num_threads(pixl_num_threads()) if (C * P > PAR_MIN)
        for (int64_t c = 0; c < C; c++) {
            const float *yc = m.y + c * P, *dzc = dz + c * HW;
            float *dyc = m.dy + c * P;
            float sc, sh;
            affine(bw, bb, &m, c, &sc, &sh);
            const float mean = m.mean[c], rs = m.rstd[c];
            double sdy = 0, sdyx = 0;
            for (int64_t j = 0; j < P; j++) {
                const float o = bn_relu(yc[j], sc, sh), d = o > 0 ? dzc[m.list[j]] : 0.0f;
                dyc[j] = d;
                sdy += d;
                sdyx += (double)d * ((double)yc[j] - mean);
            }
            if (dbw) dbw[c] += (float)(sdyx * rs);
            if (dbb) dbb[c] += (float)sdy;
            if (!want_dy) continue;
            /* dy = gamma*rstd*(dout - mean(dout) - (y-mean)*rstd^2*mean(dout*(y-mean))) */
            const float k = (float)((bw ? (double)bw[c] : 1.0) * rs), a = (float)(sdy / (double)P),
                        bc = (float)((double)rs * rs * sdyx / (double)P);
            for (int64_t j = 0; j < P; j++) dyc[j] = k * (dyc[j] - a - (yc[j] - mean) * bc);
        }
        if (want_dy) {
            taps(p, m.list, P, m.tix);
            if (dw) {
                gather(p, h1, m.tix, P, m.col);
                pixl__gemm_f32(0, 1, C, K, P, 1.0f, m.dy, P, m.col, P, 1.0f, dw, K);
            }
            if (dh1) {
                /* dcol = W^T dY, scattered back: each channel's plane by one thread */
                pixl__gemm_f32(1, 0, K, P, C, 1.0f, w, K, m.dy, P, 0.0f, m.col, P);
#pragma omp parallel for schedule(static) num_threads(pixl_num_threads()) if (K * P > PAR_MIN)
                for (int64_t c = 0; c < C; c++) {
                    float *plane = dh1 + c * HW;
                    for (int k = 0; k < 9; k++) {
                        const int32_t *t = m.tix + k * P;
                        const float *src = m.col + (c * 9 + k) * P;
                        for (int64_t j = 0; j < P; j++)
                            if (t[j] >= 0) plane[t[j]] += src[j];
                    }
                }
            }
        }
    }

    /* dh1 += dz at the inactive pixels */
    if (dh1) {
#pragma omp parallel for schedule(static) num_threads(pixl_num_threads()) if (N * CHW > PAR_MIN)
        for (int64_t pl = 0; pl < N * C; pl++) {
            const float *g1 = g + (pl / C) * 2 * HW + HW, *d = dz + pl * HW;
            float *o = dh1 + pl * HW;
            for (int64_t i = 0; i < HW; i++)
                if (g1[i] == 0.0f) o[i] += d[i];
        }
    }

    /* the gate: dg0 = sum_c h1 dz, dg1 = sum_c z dz, per pixel in channel order */
    if (dg) {
        const double scale = p->rule == PIXL_GATE_GRAD_CHANNEL_MEAN ? 1.0 / (double)C : 1.0;
        enum { BLK = 256 };
        const int64_t nb = (HW + BLK - 1) / BLK;
#pragma omp parallel for schedule(static) num_threads(pixl_num_threads()) if (N * CHW > PAR_MIN)
        for (int64_t t = 0; t < N * nb; t++) {
            const int64_t n = t / nb, i0 = (t % nb) * BLK, cnt = HW - i0 < BLK ? HW - i0 : BLK;
            double s0[BLK], s1[BLK];
            for (int64_t i = 0; i < cnt; i++) s0[i] = s1[i] = 0;
            for (int64_t c = 0; c < C; c++) {
                const int64_t off = n * CHW + c * HW + i0;
                const float *a = h1 + off, *b = z + off, *d = dz + off;
                for (int64_t i = 0; i < cnt; i++) {
                    s0[i] += (double)a[i] * d[i];
                    s1[i] += (double)b[i] * d[i];
                }
            }
            float *g0 = dg + n * 2 * HW + i0, *g1 = g0 + HW;
            for (int64_t i = 0; i < cnt; i++) {
                g0[i] += (float)(s0[i] * scale);
                g1[i] += (float)(s1[i] * scale);
            }
        }
    }
    return PIXL_OK;
}

static const pixl_op_def gct_def = {.name = "gated_conv3x3_train", .fwd = gct_fwd, .bwd = gct_bwd,
                                    .aux_bytes = gct_aux, .work_bytes = gct_work, .bwd_reads_output = 1};

/* ---------------------------------------------------------------- builder */

static int check_vec(pixl_ctx *ctx, const char *op, const char *what, pixl_tensor *v, int64_t C, pixl_tensor *h1)
{
    if (!v || (v->dtype == PIXL_F32 && v->ndim == 1 && v->shape[0] == C)) return 0;
    pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "%s: %s %s must be f32 of shape [%lld] (the channels of input %s)", op, what,
                  pixl__tshape(v), (long long)C, pixl__tshape(h1));
    return -1;
}

pixl_tensor *pixl_gated_conv3x3_train(pixl_ctx *ctx, pixl_tensor *h1, pixl_tensor *gate, pixl_tensor *w,
                                      pixl_tensor *bn_weight, pixl_tensor *bn_bias, pixl_tensor *bn_running_mean,
                                      pixl_tensor *bn_running_var, const pixl_bn_opts *bn, int dilation,
                                      pixl_gate_grad_rule rule)
{
    const char *op = "gated_conv3x3_train";
    if (!ctx || pixl__any_null(3, h1, gate, w)) return NULL;
    if (pixl_ctx_mode(ctx) != PIXL_MODE_TRAIN) {
        pixl__ctx_fail(ctx, PIXL_ERR_UNSUPPORTED,
                      "%s: PIXL_MODE_TRAIN only (batch statistics over the active pixels); evaluation runs "
                      "pixl_gated_conv3x3_ex",
                      op);
        return NULL;
    }
    if (dilation == 0) dilation = 1;
    if (dilation < 1) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "%s: dilation %d must be >= 1 (0 means 1)", op, dilation);
        return NULL;
    }
    if (rule != PIXL_GATE_GRAD_TRUE && rule != PIXL_GATE_GRAD_CHANNEL_MEAN) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "%s: unknown gradient rule %d (PIXL_GATE_GRAD_TRUE or _CHANNEL_MEAN)", op,
                      (int)rule);
        return NULL;
    }
    if (h1->dtype != PIXL_F32 || gate->dtype != PIXL_F32 || w->dtype != PIXL_F32 || h1->ndim != 4 ||
        w->ndim != 4 || w->shape[0] != h1->shape[1] || w->shape[1] != h1->shape[1] || w->shape[2] != 3 ||
        w->shape[3] != 3) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE,
                      "%s: input %s must be f32 (N, C, H, W) and weight %s f32 (C, C, 3, 3) with C = the input's "
                      "channels (inactive pixels pass the input through)",
                      op, pixl__tshape(h1), pixl__tshape(w));
        return NULL;
    }
    if (gate->ndim != 4 || gate->shape[0] != h1->shape[0] || gate->shape[1] != 2 || gate->shape[2] != h1->shape[2] ||
        gate->shape[3] != h1->shape[3]) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "%s: gate %s must be (N, 2, H, W) = [%lld, 2, %lld, %lld] for input %s", op,
                      pixl__tshape(gate), (long long)h1->shape[0], (long long)h1->shape[2], (long long)h1->shape[3],
                      pixl__tshape(h1));
        return NULL;
    }
    const int64_t C = h1->shape[1];
    if (check_vec(ctx, op, "bn_weight", bn_weight, C, h1) || check_vec(ctx, op, "bn_bias", bn_bias, C, h1) ||
        check_vec(ctx, op, "bn_running_mean", bn_running_mean, C, h1) ||
        check_vec(ctx, op, "bn_running_var", bn_running_var, C, h1))
        return NULL;
    if (!bn_running_mean != !bn_running_var) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "%s: give both bn_running_mean and bn_running_var or neither (input %s)", op,
                      pixl__tshape(h1));
        return NULL;
    }
    gct_p p = {.N = h1->shape[0], .C = C, .H = h1->shape[2], .W = h1->shape[3], .dil = dilation, .rule = rule,
               .eps = bn && bn->eps > 0 ? bn->eps : 1e-5f, .momentum = bn && bn->momentum != 0 ? bn->momentum : 0.1f};
    if (!(p.eps > 0) || !(p.momentum > 0 && p.momentum <= 1)) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG,
                      "%s: BN eps %g must be > 0 and momentum %g in (0, 1] (the cumulative average, a negative "
                      "momentum, needs a batch counter this op does not keep)",
                      op, (double)p.eps, (double)p.momentum);
        return NULL;
    }
    if (h1->numel > INT32_MAX || 9 * C * npix(&p) > INT64_C(1) << 40) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "%s: input %s is too large (pixel offsets are 32-bit)", op,
                      pixl__tshape(h1));
        return NULL;
    }
    pixl_tensor *src[S_COUNT] = {h1, gate, w, bn_weight, bn_bias, bn_running_mean, bn_running_var};
    return pixl__node_new(ctx, &gct_def, PIXL_F32, 4, h1->shape, src, S_COUNT, &p, sizeof p);
}
