/* gated_conv_train.c — the gated 3x3 conv of a pixel-wise attentional
 * gating (PAG) bottleneck in TRAINING, computed only at the pixels whose
 * hard gate is on (the contract is in include/pixl.h,
 * pixl_gated_conv3x3_train):
 *
 *   active pixels (gate[:,1] == 1), P of them over the whole batch:
 *       y  = conv3x3(h1)              y (C, P) = W (C, C*9) . col (C*9, P)
 *       h2 = ReLU(BN(y))              statistics over the P pixels
 *       z  = h2
 *   inactive pixels: z = h1
 *
 * FORWARD. The gate is scanned into the list of the active pixels (offsets
 * n*C*H*W + i of their channel-0 element in h1, raster order, image after
 * image; kept in aux with y for the backward) and z = a copy of h1. y by
 * one of two paths, chosen by P alone (dense_at):
 *   gathered columns  the 9 taps of each listed pixel resolved once
 *       (offsets into h1, -1 outside the map); tasks of PB pixels gather
 *       their columns (C*9, PB) (AVX-512 gathers, a plain load where 16
 *       taps are neighbours) and run conv2d's micro-kernel with the weight
 *       packed once;
 *   dense             conv2d's kernels on the whole batch, then the active
 *       pixels picked out: when most pixels are active and the channels
 *       few, the gathers cost more than the pixels they skip.
 * Then BN's mean and biased variance per channel over the P values
 * (double, shifted by the first value), the running statistics updated as
 * pixl_batch_norm2d does (none when P = 0), and h2 written over z.
 *
 * BACKWARD (dz the output's gradient):
 *   BN + ReLU  dY (C, P) from dz at the active pixels, h2 recomputed from y
 *              and the saved mean / rstd; dbn_weight, dbn_bias;
 *   dW, dh1    gathered columns: dW += the parts of tasks of PBW pixels,
 *              each col (C*9, PBW) . dY_block^T (own micro-kernel), added
 *              in task order; dh1: tasks of CG channels, each over blocks of
 *              PBB pixels in order, dcol = W^T dY_block (conv2d's
 *              micro-kernel), scattered back into its own planes of dh1.
 *              Dense: dY scattered into a map of zeros, conv2d's backward
 *              kernels (dW +=, dh1 +=);
 *   dh1       += dz at the inactive pixels;
 *   gate       dg0 = sum_c h1 dz, dg1 = sum_c z dz (z = h2 at the active
 *              pixels; z = h1 at the inactive ones: the approximation
 *              documented in pixl.h), / C for CHANNEL_MEAN.
 * Every reduction belongs to one task and runs in a fixed order, and the
 * tasks are cut by P alone, so the bits do not depend on the thread count
 * (the two paths differ in rounding).
 *
 * MEMORY. aux: the pixel list (N*H*W int32), mean and rstd (2C), y
 * (C*N*H*W floats: sized for every pixel active). work (shared with other
 * nodes): the taps (9*N*H*W int32), dY (C*N*H*W), the packed weights, a
 * slot of columns per thread, the parts of dW, a full map (C*N*H*W) and
 * the dense kernels' scratch. */
#include <math.h>
#include <omp.h>

#include "kernels/im2col.h"
#include "pixl_impl.h"

#define PAR_MIN 16384
#define FLR(n) ((size_t)(((int64_t)(n) + 15) / 16 * 16)) /* 4-byte elements, rounded to 64 bytes */
/* the backward's tasks: CG channels of h1 each (their 9 CG column rows) */
#define CG 2

enum { S_H1, S_GATE, S_W, S_BNW, S_BNB, S_RM, S_RV, S_COUNT };

typedef struct gct_p {
    int64_t N, C, H, W;
    int dil, rule;
    float eps, momentum;
    int slots; /* scratch slots (threads at plan time) */
} gct_p;

static int64_t npix(const gct_p *p) { return p->N * p->H * p->W; }

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : v > hi ? hi : v; }
/* pixels of a forward task: its columns (C*9, PBF) about 256 KB */
static int64_t pbf(const gct_p *p) { return clamp64(65536 / (p->C * 9) / 16 * 16, 64, 256); }
/* pixels of a block of the backward: dY's block (C, PBB) about 256 KB */
static int64_t pbb(const gct_p *p) { return clamp64(65536 / p->C / 16 * 16, 256, 2048); }
static int64_t groups(const gct_p *p) { return (p->C + CG - 1) / CG; }

/* pixels of a task of the weight gradient: its columns (C*9, PBW) about 1 MB */
static int64_t pbw(const gct_p *p) { return clamp64(262144 / (p->C * 9) / 16 * 16, 256, 2048); }
static int64_t dw_tasks(const gct_p *p) { return (npix(p) + pbw(p) - 1) / pbw(p); }

/* From this fraction of active pixels on, the dense kernels of conv2d run
 * (on h1, and on dY scattered into a map of zeros) instead of the gathered
 * columns: measured on 2 cores (AVX-512), the gathers cost more than the
 * dense conv for few channels; 0.3 at 16 channels, 0.7 at 32, never from
 * about 64 on (the dense kernels are slow on small maps with many
 * channels). */
static int g_force; /* tests: 1 dense, -1 gathered columns, 0 by the fraction */
void pixl__gated_conv_train_force(int path) { g_force = path; }
static int dense_at(const gct_p *p, int64_t P)
{
    if (g_force) return g_force > 0;
    return (double)P >= (0.3 + 0.4 * log2((double)p->C / 16.0)) * (double)npix(p);
}

/* aux: [P (int64, padded to 64 bytes) | list (NHW int32) | mean, rstd (C each) | y (C * NHW)] */
static size_t gct_aux(const pixl_tensor *n)
{
    const gct_p *p = PIXL_PARAMS(n, const gct_p);
    return (16 + FLR(npix(p)) + FLR(2 * p->C) + (size_t)p->C * (size_t)npix(p)) * 4;
}

/* work: [taps (9 NHW int32) | dY (C NHW) | W^T (C*9, C) | packed weights | row offsets (int64) |
 *        slots | parts of dW | full map (C NHW) | the dense kernels' scratch] */
static size_t packed_floats(const gct_p *p)
{
    const int64_t C = p->C, K = 9 * C;
    size_t fwd = pixl__conv_packed_a_floats(C, K), bwd = 0;
    for (int64_t g = 0; g < groups(p); g++) {
        const int64_t cn = C - g * CG < CG ? C - g * CG : CG;
        bwd += pixl__conv_packed_a_floats(9 * cn, C);
    }
    return fwd > bwd ? fwd : bwd;
}
static size_t slot_floats(const gct_p *p)
{
    size_t f = FLR(9 * p->C * pbw(p)) + FLR(p->C * pbw(p)), b = FLR(9 * CG * pbb(p));
    return f > b ? f : b;
}
static size_t taps_floats(const gct_p *p) { return FLR(9 * npix(p)); }

/* the dense 3x3 conv of the whole batch */
static pixl_conv_shape shape_of(const gct_p *p)
{
    pixl_conv_shape s;
    memset(&s, 0, sizeof s);
    s.N = p->N;
    s.Cb = s.Cs = p->C;
    s.H = s.OH = p->H;
    s.W = s.OW = p->W;
    s.KH = s.KW = 3;
    s.sh = s.sw = 1;
    s.ph = s.pw = s.dh = s.dw = p->dil;
    s.G = 1;
    return s;
}
/* the dense path: a full map (N, C, H, W) and the conv kernels' scratch */
static size_t dense_floats(const gct_p *p)
{
    const pixl_conv_shape s = shape_of(p);
    size_t f = pixl__conv2d_fwd_floats(&s), b = pixl__conv_fast_bwd_weight_floats(&s);
    if (pixl__conv_fast_enabled() && pixl__conv_fast_bwd_data_floats(&s) > b) b = pixl__conv_fast_bwd_data_floats(&s);
    return FLR(p->C * npix(p)) + (f > b ? f : b);
}
static size_t gct_work(const pixl_tensor *n)
{
    const gct_p *p = PIXL_PARAMS(n, const gct_p);
    const int64_t NHW = npix(p), K = 9 * p->C;
    return (taps_floats(p) + FLR(p->C * NHW) + FLR(K * p->C) + packed_floats(p) + FLR(2 * (K > p->C ? K : p->C)) +
            (size_t)p->slots * slot_floats(p) + (size_t)dw_tasks(p) * FLR(K * p->C) + dense_floats(p)) *
           4;
}

typedef struct gct_mem {
    int64_t *P;
    int32_t *list;
    float *mean, *rstd, *y;
    int32_t *tix;
    float *dy, *wt, *ap;
    int64_t *boff;
    float *slots, *part;
    float *full, *cw; /* the dense path: a map (N, C, H, W), the conv's scratch */
} gct_mem;

static gct_mem mem_of(const pixl_tensor *n)
{
    const gct_p *p = PIXL_PARAMS(n, const gct_p);
    const int64_t NHW = npix(p), K = 9 * p->C;
    gct_mem m;
    float *a = n->aux;
    m.P = (int64_t *)(void *)a;
    m.list = (int32_t *)(void *)(a + 16);
    m.mean = a + 16 + FLR(NHW);
    m.rstd = m.mean + p->C;
    m.y = m.mean + FLR(2 * p->C);
    float *w = n->work;
    m.tix = (int32_t *)(void *)w;
    m.dy = w + taps_floats(p);
    m.wt = m.dy + FLR(p->C * NHW);
    m.ap = m.wt + FLR(K * p->C);
    m.boff = (int64_t *)(void *)(m.ap + packed_floats(p));
    m.slots = (float *)(void *)(m.boff + FLR(2 * (K > p->C ? K : p->C)) / 2);
    m.part = m.slots + (size_t)p->slots * slot_floats(p);
    m.full = m.part + (size_t)dw_tasks(p) * FLR(K * p->C);
    m.cw = m.full + FLR(p->C * NHW);
    return m;
}

/* threads for `tasks` tasks: the ctx's, at most one per slot and per task */
static int team(const gct_p *p, int64_t tasks)
{
    int nt = pixl_num_threads();
    if (nt > p->slots) nt = p->slots;
    if (nt > tasks) nt = (int)tasks;
    return nt < 1 ? 1 : nt;
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

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

/* dst[j] = plane[t[j]], 0 where t[j] < 0, j < n (t of one row increases where >= 0) */
static void gather_row(const float *plane, const int32_t *t, int64_t n, float *dst)
{
    int64_t j = 0;
#if defined(__AVX512F__)
    const __m512i zero = _mm512_setzero_si512();
    for (; j < n; j += 16) {
        const __mmask16 in = n - j >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - j)) - 1);
        const __m512i ti = _mm512_maskz_loadu_epi32(in, t + j);
        const __mmask16 mk = _mm512_mask_cmpge_epi32_mask(in, ti, zero);
        if (mk == 0xFFFF && t[j + 15] - t[j] == 15) /* 16 neighbours in a row (t increases): a plain load */
            _mm512_storeu_ps(dst + j, _mm512_loadu_ps(plane + t[j]));
        else
            _mm512_mask_storeu_ps(dst + j, in, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mk, ti, plane, 4));
    }
#endif
    for (; j < n; j++) dst[j] = t[j] >= 0 ? plane[t[j]] : 0.0f;
}

/* plane[t[j]] += src[j] where t[j] >= 0 (the t[j] of one row are distinct), in j order */
static void scatter_row(float *plane, const int32_t *t, int64_t n, const float *src)
{
    int64_t j = 0;
#if defined(__AVX512F__)
    const __m512i zero = _mm512_setzero_si512();
    for (; j < n; j += 16) {
        const __mmask16 in = n - j >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - j)) - 1);
        const __m512i ti = _mm512_maskz_loadu_epi32(in, t + j);
        const __mmask16 mk = _mm512_mask_cmpge_epi32_mask(in, ti, zero);
        if (mk == 0xFFFF && t[j + 15] - t[j] == 15) { /* 16 neighbours in a row: plain load and store */
            float *o = plane + t[j];
            _mm512_storeu_ps(o, _mm512_add_ps(_mm512_loadu_ps(o), _mm512_loadu_ps(src + j)));
            continue;
        }
        const __m512 old = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mk, ti, plane, 4);
        _mm512_mask_i32scatter_ps(plane, mk, ti, _mm512_add_ps(old, _mm512_maskz_loadu_ps(in, src + j)), 4);
    }
#endif
    for (; j < n; j++)
        if (t[j] >= 0) plane[t[j]] += src[j];
}

/* rows [r0, r0 + nr) of the columns of pixels [p0, p0 + np), rows ld apart:
 * col[(r - r0) * ld + j] = h1 at tap r % 9 of pixel p0 + j, channel r / 9 (0 outside) */
static void gather(const gct_p *p, const float *h1, const int32_t *tix, int64_t P, int64_t r0, int64_t nr, int64_t p0,
                   int64_t np, float *col, int64_t ld)
{
    const int64_t HW = p->H * p->W;
    for (int64_t r = r0; r < r0 + nr; r++)
        gather_row(h1 + (r / 9) * HW, tix + (r % 9) * P + p0, np, col + (r - r0) * ld);
}

/* out (R, C), rows ldo apart, = A (R, n; rows lda apart) . B (n, C; rows ldb
 * apart): the blocks of the weight gradient (A the gathered columns, B the
 * transposed block of dY). Each element is one sum over the n products in
 * order. */
#if defined(__AVX512F__)
static inline __attribute__((always_inline)) void dwk(const int rn, const int nv, int64_t n, const float *A,
                                                      int64_t lda, const float *B, int64_t ldb, float *out,
                                                      int64_t ldo, __mmask16 last)
{
    __m512 c[4][4];
    for (int i = 0; i < 4; i++)
        for (int v = 0; v < 4; v++) c[i][v] = _mm512_setzero_ps();
    for (int64_t j = 0; j < n; j++) {
        const float *b = B + j * ldb;
        __m512 bv[4];
        for (int v = 0; v < 4; v++)
            if (v < nv) bv[v] = v == nv - 1 ? _mm512_maskz_loadu_ps(last, b + 16 * v) : _mm512_loadu_ps(b + 16 * v);
        for (int i = 0; i < 4; i++)
            if (i < rn) {
                const __m512 a = _mm512_set1_ps(A[i * lda + j]);
                for (int v = 0; v < 4; v++)
                    if (v < nv) c[i][v] = _mm512_fmadd_ps(a, bv[v], c[i][v]);
            }
    }
    for (int i = 0; i < 4; i++)
        for (int v = 0; v < 4; v++)
            if (i < rn && v < nv) _mm512_mask_storeu_ps(out + i * ldo + 16 * v, v == nv - 1 ? last : 0xFFFF, c[i][v]);
}

static void dw_block(int64_t R, int64_t C, int64_t n, const float *A, int64_t lda, const float *B, int64_t ldb,
                     float *out, int64_t ldo)
{
    for (int64_t c0 = 0; c0 < C; c0 += 64) {
        const int64_t cw = C - c0 < 64 ? C - c0 : 64;
        const int nv = (int)((cw + 15) / 16), rem = (int)(cw - 16 * (nv - 1));
        const __mmask16 last = (__mmask16)(rem == 16 ? 0xFFFF : (1u << rem) - 1);
        for (int64_t r0 = 0; r0 < R; r0 += 4) {
            const int rn = (int)(R - r0 < 4 ? R - r0 : 4);
            const float *a = A + r0 * lda, *b = B + c0;
            float *o = out + r0 * ldo + c0;
            switch (rn * 8 + nv) {
#define DWK(RN, NV)                                                                                            \
    case RN * 8 + NV: dwk(RN, NV, n, a, lda, b, ldb, o, ldo, last); break;
                DWK(1, 1) DWK(1, 2) DWK(1, 3) DWK(1, 4) DWK(2, 1) DWK(2, 2) DWK(2, 3) DWK(2, 4)
                DWK(3, 1) DWK(3, 2) DWK(3, 3) DWK(3, 4) DWK(4, 1) DWK(4, 2) DWK(4, 3) DWK(4, 4)
#undef DWK
            default: break;
            }
        }
    }
}
#else
static void dw_block(int64_t R, int64_t C, int64_t n, const float *A, int64_t lda, const float *B, int64_t ldb,
                     float *out, int64_t ldo)
{
    for (int64_t r = 0; r < R; r++) {
        float *o = out + r * ldo;
        for (int64_t c = 0; c < C; c++) o[c] = 0.0f;
        for (int64_t j = 0; j < n; j++) {
            const float a = A[r * lda + j], *b = B + j * ldb;
            for (int64_t c = 0; c < C; c++) o[c] += a * b[c];
        }
    }
}
#endif

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

    /* y (C, P): tasks of PB pixels, each gathers its columns (K, PB) and runs
     * the conv's micro-kernel with the weight packed once */
    const pixl_conv_shape cs = shape_of(p);
    if (dense_at(p, P)) { /* nearly all active: the dense conv, then the active pixels */
        pixl__conv2d_fwd(&cs, h1, w, m.full, m.cw);
#pragma omp parallel for schedule(static) num_threads(pixl_num_threads()) if (C * P > PAR_MIN)
        for (int64_t c = 0; c < C; c++) {
            const float *fc = m.full + c * HW;
            float *yc = m.y + c * P;
            for (int64_t j = 0; j < P; j++) yc[j] = fc[m.list[j]];
        }
    } else {
    taps(p, m.list, P, m.tix);
    const int64_t PB = pbf(p), ntask = (P + PB - 1) / PB;
    pixl__conv_pack_a(w, C, K, m.ap);
    for (int64_t k = 0; k < K; k++) m.boff[k] = k * PB;
    const size_t slot = slot_floats(p);
    const int nt = team(p, ntask);
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        float *col = m.slots + (size_t)omp_get_thread_num() * slot;
#pragma omp for schedule(dynamic, 1)
        for (int64_t t = 0; t < ntask; t++) {
            const int64_t p0 = t * PB, np = P - p0 < PB ? P - p0 : PB;
            gather(p, h1, m.tix, P, 0, K, p0, np, col, PB);
            pixl__conv_packed_gemm(C, K, m.ap, col, m.boff, np, m.y + p0, P);
        }
    }
    }

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
            const pixl_conv_shape cs = shape_of(p);
            const int dense = dense_at(p, P), dense_dw = dw && dense, dense_dx = dh1 && dense && pixl__conv_fast_enabled();
            if (dense_dw || dense_dx) { /* dY scattered into a map of zeros, then conv2d's backward kernels */
                memset(m.full, 0, (size_t)(N * CHW) * sizeof(float));
#pragma omp parallel for schedule(static) num_threads(pixl_num_threads()) if (C * P > PAR_MIN)
                for (int64_t c = 0; c < C; c++) {
                    const float *dyc = m.dy + c * P;
                    float *fc = m.full + c * HW;
                    for (int64_t j = 0; j < P; j++) fc[m.list[j]] = dyc[j];
                }
                if (dense_dw) pixl__conv_fast_bwd_weight(&cs, m.full, h1, dw, m.cw);
                if (dense_dx) pixl__conv_fast_bwd_data(&cs, m.full, w, dh1, m.cw);
            }
            if (!dense_dw || !dense_dx) taps(p, m.list, P, m.tix);
            const size_t slot = slot_floats(p);
            if (dw && !dense_dw) {
                /* tasks of PB pixels: their columns gathered, part_t (K, C) = col dY_block^T;
                 * dW += the parts in task order */
                const int64_t PB = pbw(p), ntask = (P + PB - 1) / PB, nt = team(p, ntask);
#pragma omp parallel num_threads(nt) if (nt > 1)
                {
                    float *col = m.slots + (size_t)omp_get_thread_num() * slot;
#pragma omp for schedule(dynamic, 1)
                    for (int64_t t = 0; t < ntask; t++) {
                        const int64_t p0 = t * PB, np = P - p0 < PB ? P - p0 : PB;
                        float *dyt = col + FLR(K * PB); /* the block of dY transposed: (np, C) */
                        gather(p, h1, m.tix, P, 0, K, p0, np, col, PB);
                        for (int64_t j0 = 0; j0 < np; j0 += 16)
                            for (int64_t o = 0; o < C; o++)
                                for (int64_t j = j0; j < j0 + 16 && j < np; j++) dyt[j * C + o] = m.dy[o * P + p0 + j];
                        dw_block(K, C, np, col, PB, dyt, C, m.part + t * FLR(K * C), C);
                    }
                }
#pragma omp parallel for schedule(static) num_threads(pixl_num_threads()) if (K * C * ntask > PAR_MIN)
                for (int64_t r = 0; r < K; r++)
                    for (int64_t o0 = 0; o0 < C; o0 += 64) {
                        const int64_t on = C - o0 < 64 ? C - o0 : 64;
                        float acc[64] = {0};
                        for (int64_t t = 0; t < ntask; t++) {
                            const float *pt = m.part + t * FLR(K * C) + r * C + o0;
                            for (int64_t o = 0; o < on; o++) acc[o] += pt[o];
                        }
                        for (int64_t o = 0; o < on; o++) dw[(o0 + o) * K + r] += acc[o];
                    }
            }
            if (dh1 && !dense_dx) {
                /* tasks of CG channels of h1, each over blocks of PB pixels in order:
                 * dcol (its 9 CG rows) = W^T dY_block, scattered into its planes of dh1 */
                const int64_t G = groups(p), PB = pbb(p), nt = team(p, G);
                size_t *apo = pixl__malloc((size_t)G * sizeof(size_t));
                if (!apo) return PIXL_ERR_NOMEM;
                for (int64_t o = 0; o < C; o++)
                    for (int64_t r = 0; r < K; r++) m.wt[r * C + o] = w[o * K + r];
                size_t off = 0;
                for (int64_t gi = 0; gi < G; gi++) {
                    const int64_t cn = C - gi * CG < CG ? C - gi * CG : CG;
                    apo[gi] = off;
                    pixl__conv_pack_a(m.wt + gi * CG * 9 * C, 9 * cn, C, m.ap + off);
                    off += pixl__conv_packed_a_floats(9 * cn, C);
                }
                for (int64_t o = 0; o < C; o++) m.boff[o] = o * P;
#pragma omp parallel num_threads(nt) if (nt > 1)
                {
                    float *dcol = m.slots + (size_t)omp_get_thread_num() * slot;
#pragma omp for schedule(dynamic, 1)
                    for (int64_t gi = 0; gi < G; gi++) {
                        const int64_t c0 = gi * CG, cn = C - c0 < CG ? C - c0 : CG;
                        for (int64_t p0 = 0; p0 < P; p0 += PB) {
                            const int64_t np = P - p0 < PB ? P - p0 : PB;
                            pixl__conv_packed_gemm(9 * cn, C, m.ap + apo[gi], m.dy + p0, m.boff, np, dcol, PB);
                            for (int64_t r = 0; r < 9 * cn; r++)
                                scatter_row(dh1 + (c0 + r / 9) * HW, m.tix + (r % 9) * P + p0, np, dcol + r * PB);
                        }
                    }
                }
                pixl__free(apo);
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
               .eps = bn && bn->eps > 0 ? bn->eps : 1e-5f, .momentum = bn && bn->momentum != 0 ? bn->momentum : 0.1f,
               .slots = pixl__ctx_threads(ctx)};
    if (p.slots < 1) p.slots = 1;
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
