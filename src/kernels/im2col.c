/* im2col.c — convolution data movement for the gemm path (im2col,
 * col2im) and direct kernels for depthwise-style convolutions (one big
 * channel per small channel). Geometry and naming: im2col.h.
 *
 * All loops are split across threads by output element (col row, big
 * channel, small plane, weight row): every sum is computed by one thread
 * in a fixed order, so the bits do not depend on the thread count. */
#include "kernels/im2col.h"

#include <string.h>

#include "pixl_impl.h"

/* ow range [*lo, *hi) where iw = ow*sw + off lies in [0, W) */
static inline void valid_range(int64_t off, int sw, int64_t W, int64_t OW, int64_t *lo, int64_t *hi)
{
    int64_t l = 0, h;
    if (off < 0) l = (-off + sw - 1) / sw;
    if (W - 1 - off < 0) h = 0;
    else h = (W - 1 - off) / sw + 1;
    if (h > OW) h = OW;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

/* parallelise only when there is enough work to pay for the fork */
#define PAR_MIN 16384

void pixl__im2col(const pixl_conv_shape *s, int64_t Cg, const float *big, int64_t r0, int64_t nr, float *col)
{
    const int64_t H = s->H, W = s->W, OW = s->OW, KH = s->KH, KW = s->KW;
    const int64_t rows = Cg * KH * KW, L = nr * OW;
    const int sw = s->sw;
#pragma omp parallel for schedule(static) num_threads(pixl_num_threads()) if (rows * L > PAR_MIN)
    for (int64_t row = 0; row < rows; row++) {
        int64_t kw = row % KW, kh = (row / KW) % KH, c = row / (KW * KH);
        const float *plane = big + c * H * W; /* (H, W) */
        float *dst = col + row * L;          /* (nr, OW) */
        int64_t off = kw * s->dw - s->pw, lo, hi;
        valid_range(off, sw, W, OW, &lo, &hi);
        for (int64_t r = 0; r < nr; r++) {
            int64_t ih = (r0 + r) * s->sh - s->ph + kh * s->dh;
            float *d = dst + r * OW;
            if (ih < 0 || ih >= H) {
                memset(d, 0, (size_t)OW * sizeof(float));
                continue;
            }
            const float *src = plane + ih * W + off;
            for (int64_t ow = 0; ow < lo; ow++) d[ow] = 0.0f;
            if (sw == 1) memcpy(d + lo, src + lo, (size_t)(hi - lo) * sizeof(float));
            else
                for (int64_t ow = lo; ow < hi; ow++) d[ow] = src[ow * sw];
            for (int64_t ow = hi; ow < OW; ow++) d[ow] = 0.0f;
        }
    }
}

void pixl__col2im_add(const pixl_conv_shape *s, int64_t Cg, const float *col, int64_t r0, int64_t nr, float *big)
{
    const int64_t H = s->H, W = s->W, OW = s->OW, KH = s->KH, KW = s->KW, L = nr * OW;
    const int sw = s->sw;
#pragma omp parallel for schedule(static) num_threads(pixl_num_threads()) if (Cg * KH * KW * L > PAR_MIN)
    for (int64_t c = 0; c < Cg; c++) {
        float *plane = big + c * H * W; /* (H, W) */
        for (int64_t kh = 0; kh < KH; kh++)
            for (int64_t kw = 0; kw < KW; kw++) {
                const float *src = col + ((c * KH + kh) * KW + kw) * L; /* (nr, OW) */
                int64_t off = kw * s->dw - s->pw, lo, hi;
                valid_range(off, sw, W, OW, &lo, &hi);
                for (int64_t r = 0; r < nr; r++) {
                    int64_t ih = (r0 + r) * s->sh - s->ph + kh * s->dh;
                    if (ih < 0 || ih >= H) continue;
                    float *d = plane + ih * W + off;
                    const float *sr = src + r * OW;
                    if (sw == 1)
                        for (int64_t ow = lo; ow < hi; ow++) d[ow] += sr[ow];
                    else
                        for (int64_t ow = lo; ow < hi; ow++) d[ow * sw] += sr[ow];
                }
            }
    }
}

/* ------------------------------------------------------------ direct kernels */
/* Cb/G == 1: small channel cs reads big channel cs / (Cs/G). */

/* valid ow range of every kw, computed once per call (no divisions in loops) */
#define MAX_KW 64
typedef struct kw_ranges { int64_t lo[MAX_KW], hi[MAX_KW], off[MAX_KW]; } kw_ranges;
static void kw_ranges_of(const pixl_conv_shape *s, kw_ranges *r)
{
    for (int kw = 0; kw < s->KW && kw < MAX_KW; kw++) {
        r->off[kw] = (int64_t)kw * s->dw - s->pw;
        valid_range(r->off[kw], s->sw, s->W, s->OW, &r->lo[kw], &r->hi[kw]);
    }
}

#if defined(__AVX512F__)
#include <immintrin.h>
/* lanes j of a 16-vector with a <= j < b */
static inline __mmask16 lane_range(int64_t a, int64_t b)
{
    a = a < 0 ? 0 : a > 16 ? 16 : a;
    b = b < 0 ? 0 : b > 16 ? 16 : b;
    if (b <= a) return 0;
    return (__mmask16)(((1u << b) - 1) & ~((1u << a) - 1));
}

/* One plane, stride 1 along W: out (OH, OW) (+)= sum_{kh,kw} wk[kh][kw] *
 * in[oh*sh - ph + kh*dh][ow - pw + kw*dw] (0 outside), or with the kernel
 * flipped (wk[KH-1-kh][KW-1-kw]). Sixteen outputs per register, one store;
 * taps outside the plane are masked loads. Sum order: (kh, kw). */
static void dw_plane_s1(const float *in, int64_t H, int64_t W, const float *wk, int KH, int KW, float *out,
                        int64_t OH, int64_t OW, int sh, int64_t ph, int64_t pw, int dh, int dw, int accumulate,
                        int flip)
{
    float wf[64]; /* taps in (kh, kw) order, flipped if asked */
    int nt = KH * KW;
    if (nt > 64) return;
    for (int kh = 0; kh < KH; kh++)
        for (int kw = 0; kw < KW; kw++)
            wf[kh * KW + kw] = flip ? wk[(KH - 1 - kh) * KW + (KW - 1 - kw)] : wk[kh * KW + kw];
    /* vectors whose every tap is inside the row: ow0 in [i0, i1) */
    int64_t ext = (int64_t)(KW - 1) * dw, i0 = pw, i1 = W + pw - ext - 16 + 1;
    if (i1 > OW - 16 + 1) i1 = OW - 16 + 1;
    for (int64_t oh = 0; oh < OH; oh++) {
        float *o = out + oh * OW;
        const float *rows[64];
        const float *wr[64];
        int nr = 0;
        for (int kh = 0; kh < KH; kh++) {
            int64_t ih = oh * sh - ph + (int64_t)kh * dh;
            if (ih < 0 || ih >= H) continue;
            rows[nr] = in + ih * W - pw;
            wr[nr++] = wf + kh * KW;
        }
        for (int64_t ow0 = 0; ow0 < OW; ow0 += 16) {
            __mmask16 om = lane_range(0, OW - ow0);
            __m512 acc = accumulate ? _mm512_maskz_loadu_ps(om, o + ow0) : _mm512_setzero_ps();
            if (ow0 >= i0 && ow0 < i1) { /* interior: plain loads */
                for (int r = 0; r < nr; r++) {
                    const float *src = rows[r] + ow0;
                    for (int kw = 0; kw < KW; kw++)
                        acc = _mm512_fmadd_ps(_mm512_set1_ps(wr[r][kw]), _mm512_loadu_ps(src + (int64_t)kw * dw), acc);
                }
                _mm512_storeu_ps(o + ow0, acc);
                continue;
            }
            for (int r = 0; r < nr; r++)
                for (int kw = 0; kw < KW; kw++) {
                    int64_t c0 = ow0 - pw + (int64_t)kw * dw; /* input column of lane 0 */
                    __mmask16 m = om & lane_range(-c0, W - c0);
                    __m512 x = _mm512_maskz_loadu_ps(m, rows[r] + pw + c0);
                    acc = _mm512_fmadd_ps(_mm512_set1_ps(wr[r][kw]), x, acc);
                }
            _mm512_mask_storeu_ps(o + ow0, om, acc);
        }
    }
}
#endif

void pixl__conv_dw_fwd(const pixl_conv_shape *s, const float *big, const float *w, float *small, int accumulate)
{
    const int64_t N = s->N, Cs = s->Cs, H = s->H, W = s->W, OH = s->OH, OW = s->OW, KH = s->KH, KW = s->KW;
    const int64_t m = Cs / s->G; /* small channels per big channel */
    const int sw = s->sw;
    kw_ranges R;
    kw_ranges_of(s, &R);
#pragma omp parallel for schedule(static) num_threads(pixl_num_threads()) if (N * Cs * OH * OW * KH * KW > PAR_MIN)
    for (int64_t p = 0; p < N * Cs; p++) {
        int64_t n = p / Cs, cs = p % Cs, cb = cs / m;
        const float *in = big + (n * s->Cb + cb) * H * W; /* (H, W) */
        const float *wk = w + cs * KH * KW;              /* (KH, KW) */
        float *out = small + p * OH * OW;                /* (OH, OW) */
#if defined(__AVX512F__)
        if (sw == 1 && KH <= 64 && KH * KW <= 64) {
            dw_plane_s1(in, H, W, wk, (int)KH, (int)KW, out, OH, OW, s->sh, s->ph, s->pw, s->dh, s->dw, accumulate, 0);
            continue;
        }
#endif
        if (!accumulate) memset(out, 0, (size_t)(OH * OW) * sizeof(float));
        for (int64_t oh = 0; oh < OH; oh++) {
            float *o = out + oh * OW;
            for (int64_t kh = 0; kh < KH; kh++) {
                int64_t ih = oh * s->sh - s->ph + kh * s->dh;
                if (ih < 0 || ih >= H) continue;
                for (int64_t kw = 0; kw < KW; kw++) {
                    int64_t off, lo, hi;
                    if (kw < MAX_KW) off = R.off[kw], lo = R.lo[kw], hi = R.hi[kw];
                    else off = kw * s->dw - s->pw, valid_range(off, sw, W, OW, &lo, &hi);
                    const float *src = in + ih * W + off;
                    const float wv = wk[kh * KW + kw];
                    if (sw == 1)
                        for (int64_t ow = lo; ow < hi; ow++) o[ow] += wv * src[ow];
                    else
                        for (int64_t ow = lo; ow < hi; ow++) o[ow] += wv * src[ow * sw];
                }
            }
        }
    }
}

void pixl__conv_dw_bwd_data(const pixl_conv_shape *s, const float *small, const float *w, float *big)
{
    const int64_t N = s->N, Cb = s->Cb, H = s->H, W = s->W, OH = s->OH, OW = s->OW, KH = s->KH, KW = s->KW;
    const int64_t m = s->Cs / s->G;
    const int sw = s->sw;
    kw_ranges R;
    kw_ranges_of(s, &R);
#pragma omp parallel for schedule(static) num_threads(pixl_num_threads()) if (N * s->Cs * OH * OW * KH * KW > PAR_MIN)
    for (int64_t p = 0; p < N * Cb; p++) {
        int64_t n = p / Cb, cb = p % Cb;
        float *out = big + p * H * W; /* (H, W) */
        for (int64_t j = 0; j < m; j++) {
            int64_t cs = cb * m + j;
            const float *in = small + (n * s->Cs + cs) * OH * OW; /* (OH, OW) */
            const float *wk = w + cs * KH * KW;
#if defined(__AVX512F__)
            if (sw == 1 && s->sh == 1 && KH * KW <= 64) { /* correlation of dy with the flipped kernel */
                dw_plane_s1(in, OH, OW, wk, (int)KH, (int)KW, out, H, W, 1, (int64_t)s->dh * (KH - 1) - s->ph,
                            (int64_t)s->dw * (KW - 1) - s->pw, s->dh, s->dw, 1, 1);
                continue;
            }
#endif
            for (int64_t oh = 0; oh < OH; oh++) {
                const float *g = in + oh * OW;
                for (int64_t kh = 0; kh < KH; kh++) {
                    int64_t ih = oh * s->sh - s->ph + kh * s->dh;
                    if (ih < 0 || ih >= H) continue;
                    for (int64_t kw = 0; kw < KW; kw++) {
                        int64_t off, lo, hi;
                        if (kw < MAX_KW) off = R.off[kw], lo = R.lo[kw], hi = R.hi[kw];
                        else off = kw * s->dw - s->pw, valid_range(off, sw, W, OW, &lo, &hi);
                        float *d = out + ih * W + off;
                        const float wv = wk[kh * KW + kw];
                        if (sw == 1)
                            for (int64_t ow = lo; ow < hi; ow++) d[ow] += wv * g[ow];
                        else
                            for (int64_t ow = lo; ow < hi; ow++) d[ow * sw] += wv * g[ow];
                    }
                }
            }
        }
    }
}

#if defined(__AVX512F__)
/* dw[t] (t = kh*KW+kw) += sum over one plane of g (OH, OW) * in[oh*sh-ph+kh*dh][ow-pw+kw*dw]
 * (stride 1 along W): per-tap lane accumulators over the plane, then one
 * fixed-order horizontal sum into double. */
static void dw_plane_s1_weight(const float *g, const float *in, int64_t H, int64_t W, int KH, int KW, int64_t OH,
                               int64_t OW, int sh, int64_t ph, int64_t pw, int dh, int dw, double *dacc)
{
    __m512 acc[64];
    for (int t = 0; t < KH * KW; t++) acc[t] = _mm512_setzero_ps();
    int64_t ext = (int64_t)(KW - 1) * dw, i0 = pw, i1 = W + pw - ext - 16 + 1;
    if (i1 > OW - 16 + 1) i1 = OW - 16 + 1;
    for (int64_t oh = 0; oh < OH; oh++) {
        const float *gr = g + oh * OW;
        for (int kh = 0; kh < KH; kh++) {
            int64_t ih = oh * sh - ph + (int64_t)kh * dh;
            if (ih < 0 || ih >= H) continue;
            const float *row = in + ih * W - pw;
            __m512 *ak = acc + kh * KW;
            for (int64_t ow0 = 0; ow0 < OW; ow0 += 16) {
                __mmask16 om = lane_range(0, OW - ow0);
                __m512 gv = _mm512_maskz_loadu_ps(om, gr + ow0);
                if (ow0 >= i0 && ow0 < i1) {
                    for (int kw = 0; kw < KW; kw++)
                        ak[kw] = _mm512_fmadd_ps(gv, _mm512_loadu_ps(row + ow0 + (int64_t)kw * dw), ak[kw]);
                    continue;
                }
                for (int kw = 0; kw < KW; kw++) {
                    int64_t c0 = ow0 - pw + (int64_t)kw * dw;
                    __mmask16 m = om & lane_range(-c0, W - c0);
                    ak[kw] = _mm512_fmadd_ps(gv, _mm512_maskz_loadu_ps(m, row + pw + c0), ak[kw]);
                }
            }
        }
    }
    for (int t = 0; t < KH * KW; t++) dacc[t] += (double)_mm512_reduce_add_ps(acc[t]);
}
#endif

void pixl__conv_dw_bwd_weight(const pixl_conv_shape *s, const float *small, const float *big, float *dw)
{
    const int64_t N = s->N, Cs = s->Cs, H = s->H, W = s->W, OH = s->OH, OW = s->OW, KH = s->KH, KW = s->KW;
    const int64_t m = Cs / s->G;
    const int sw = s->sw;
#pragma omp parallel for schedule(static) num_threads(pixl_num_threads()) if (N * Cs * OH * OW * KH * KW > PAR_MIN)
    for (int64_t cs = 0; cs < Cs; cs++) {
        int64_t cb = cs / m;
#if defined(__AVX512F__)
        if (sw == 1 && KH * KW <= 64) {
            double dacc[64] = {0};
            for (int64_t n = 0; n < N; n++)
                dw_plane_s1_weight(small + (n * Cs + cs) * OH * OW, big + (n * s->Cb + cb) * H * W, H, W, (int)KH,
                                   (int)KW, OH, OW, s->sh, s->ph, s->pw, s->dh, s->dw, dacc);
            for (int64_t t = 0; t < KH * KW; t++) dw[cs * KH * KW + t] += (float)dacc[t];
            continue;
        }
#endif
        for (int64_t kh = 0; kh < KH; kh++)
            for (int64_t kw = 0; kw < KW; kw++) {
                int64_t off = kw * s->dw - s->pw, lo, hi;
                valid_range(off, sw, W, OW, &lo, &hi);
                double acc = 0;
                for (int64_t n = 0; n < N; n++) {
                    const float *g = small + (n * Cs + cs) * OH * OW;  /* (OH, OW) */
                    const float *x = big + (n * s->Cb + cb) * H * W; /* (H, W) */
                    for (int64_t oh = 0; oh < OH; oh++) {
                        int64_t ih = oh * s->sh - s->ph + kh * s->dh;
                        if (ih < 0 || ih >= H) continue;
                        const float *gr = g + oh * OW, *xr = x + ih * W + off;
                        /* a row in 16 float lanes (vectorisable, fixed order), rows summed in double */
                        float part[16] = {0};
                        int64_t ow = lo;
                        if (sw == 1)
                            for (; ow + 16 <= hi; ow += 16)
                                for (int j = 0; j < 16; j++) part[j] += gr[ow + j] * xr[ow + j];
                        double row = 0;
                        for (; ow < hi; ow++) row += gr[ow] * xr[ow * sw];
                        for (int j = 0; j < 16; j++) row += part[j];
                        acc += row;
                    }
                }
                dw[(cs * KH + kh) * KW + kw] += (float)acc;
            }
    }
}

/* ======================================================================
 * Fast convolution kernels: implicit gemm on a padded, stride-phased copy
 * of the input (no im2col), with a register-blocked micro-kernel of 6 rows
 * x up to 64 columns (4 AVX-512 vectors, masked tails). Every output
 * element's reduction runs inside one micro-kernel call in a fixed k order
 * and threads split output tiles only: bits do not depend on threads.
 *
 * PHASED LAYOUT of a plane block src (C, Hs, Ws) for stride sw:
 *   ph (C, Hp, sw, Wq): ph[c][i][q][j] = src[c][i-top][j*sw+q-left] (0 outside)
 * so x_pad[c][i][ow*sw + t] = ph[c][i][t % sw][ow + t / sw]: contiguous in ow.
 * ====================================================================== */

#define MR 6   /* micro-tile rows */
#define NRV 4  /* micro-tile vectors of 16 columns */
#define NR (16 * NRV)

static int64_t rup(int64_t a, int64_t b) { return (a + b - 1) / b * b; }

/* dst (C, Hp, sw, Wq) from src (C, Hs, Ws) placed at (top, left) */
static void pad_phase(const float *src, int64_t C, int64_t Hs, int64_t Ws, int64_t top, int64_t left, int64_t Hp,
                      int sw, int64_t Wq, float *dst)
{
#pragma omp parallel for schedule(static) num_threads(pixl_num_threads()) if (C * Hp * Wq * sw > PAR_MIN)
    for (int64_t ci = 0; ci < C * Hp; ci++) {
        int64_t c = ci / Hp, i = ci % Hp, si = i - top;
        float *d = dst + ci * sw * Wq; /* (sw, Wq) */
        if (si < 0 || si >= Hs) {
            memset(d, 0, sizeof(float) * (size_t)(sw * Wq));
            continue;
        }
        const float *s = src + (c * Hs + si) * Ws;
        for (int q = 0; q < sw; q++) {
            float *dq = d + q * Wq;
            /* j*sw + q - left in [0, Ws) */
            int64_t off = q - left, lo, hi;
            valid_range(off, sw, Ws, Wq, &lo, &hi);
            for (int64_t j = 0; j < lo; j++) dq[j] = 0.0f;
            if (sw == 1) memcpy(dq + lo, s + lo + off, sizeof(float) * (size_t)(hi - lo));
            else
                for (int64_t j = lo; j < hi; j++) dq[j] = s[j * sw + off];
            for (int64_t j = hi; j < Wq; j++) dq[j] = 0.0f;
        }
    }
}

/* Ap (ceil(M/MR), K, MR): Ap[t][k][i] = A[(t*MR+i)*rs + k*cs], zero rows past M */
static void pack_a(const float *A, int64_t M, int64_t K, int64_t rs, int64_t cs, float *Ap)
{
    int64_t T = (M + MR - 1) / MR;
#pragma omp parallel for schedule(static) num_threads(pixl_num_threads()) if (T * K * MR > PAR_MIN)
    for (int64_t t = 0; t < T; t++)
        for (int64_t k = 0; k < K; k++)
            for (int i = 0; i < MR; i++) {
                int64_t m = t * MR + i;
                Ap[(t * K + k) * MR + i] = m < M ? A[m * rs + k * cs] : 0.0f;
            }
}

#if defined(__AVX512F__)
#include <immintrin.h>

/* The accumulators are 24 named variables (an array would live on the
 * stack): ACC(X) applies X to every (row, vector) pair that exists. */
#define ACC_DECL(i, v) __m512 c##i##v = _mm512_setzero_ps();
#define ACC_ALL(X)                                                                                             \
    X(0, 0) X(0, 1) X(0, 2) X(0, 3) X(1, 0) X(1, 1) X(1, 2) X(1, 3) X(2, 0) X(2, 1) X(2, 2) X(2, 3) X(3, 0)    \
        X(3, 1) X(3, 2) X(3, 3) X(4, 0) X(4, 1) X(4, 2) X(4, 3) X(5, 0) X(5, 1) X(5, 2) X(5, 3)
#define MASK_OF(v) ((v) == nv - 1 ? last : (__mmask16)0xFFFF)
#define ACC_LOAD(i, v)                                                                                         \
    if (mr > i && nv > v) c##i##v = _mm512_maskz_loadu_ps(MASK_OF(v), C + i * ldc + 16 * v);
#define ACC_STORE(i, v)                                                                                        \
    if (mr > i && nv > v) _mm512_mask_storeu_ps(C + i * ldc + 16 * v, MASK_OF(v), c##i##v);
#define B_LOAD(v)                                                                                              \
    if (nv > v) b##v = v == nv - 1 ? _mm512_maskz_loadu_ps(last, b + 16 * v) : _mm512_loadu_ps(b + 16 * v);
#define ROW_FMA(i, aval)                                                                                       \
    if (mr > i) {                                                                                              \
        __m512 ai = _mm512_set1_ps(aval);                                                                      \
        c##i##0 = _mm512_fmadd_ps(ai, b0, c##i##0);                                                            \
        if (nv > 1) c##i##1 = _mm512_fmadd_ps(ai, b1, c##i##1);                                                \
        if (nv > 2) c##i##2 = _mm512_fmadd_ps(ai, b2, c##i##2);                                                \
        if (nv > 3) c##i##3 = _mm512_fmadd_ps(ai, b3, c##i##3);                                                \
    }

/* the epilogue of pixl__conv_epi_apply on one accumulator vector (row i, channel c0 + i): the same
 * operations in the same order (bias, x*scale then + shift, act1, + residual, act2), so the bits equal
 * the tile pass's; act 1 = ReLU (max(+0, y): NaN and -0 give +0, as y > 0 ? y : 0), 2 = clamp to [lo, hi]
 * (NaN stays NaN, as the scalar comparisons leave it) */
static inline __m512 epi_act_v(__m512 y, int act, float lo, float hi)
{
    if (act == 1) return _mm512_max_ps(y, _mm512_setzero_ps());
    if (act == 2) return _mm512_min_ps(_mm512_set1_ps(hi), _mm512_max_ps(_mm512_set1_ps(lo), y));
    return y;
}
#define ACC_EPI(i, v)                                                                                          \
    if (mr > i && nv > v) {                                                                                    \
        const int64_t c = c0 + i;                                                                              \
        __m512 y = c##i##v;                                                                                    \
        if (e->bias) y = _mm512_add_ps(y, _mm512_set1_ps(e->bias[c]));                                         \
        if (e->scale)                                                                                          \
            y = _mm512_add_ps(_mm512_mul_ps(y, _mm512_set1_ps(e->scale[c])), _mm512_set1_ps(e->shift[c]));     \
        y = epi_act_v(y, e->act1, e->lo1, e->hi1);                                                             \
        if (R) y = _mm512_add_ps(y, _mm512_maskz_loadu_ps(MASK_OF(v), R + i * ldc + 16 * v));                 \
        c##i##v = epi_act_v(y, e->act2, e->lo2, e->hi2);                                                       \
    }

/* C[i][n] = (beta ? C[i][n] : 0) + sum_k Ap[k*MR+i] * B[boff[k] + n],
 * i < mr, n < 16*nv (the last vector masked by `last`); with e, its epilogue in registers before the store
 * (channels from c0, the residual R laid out like C) */
static inline __attribute__((always_inline)) void ukern_b(const int mr, const int nv, int64_t K, const float *Ap,
                                                          const float *B, const int64_t *boff, float *C, int64_t ldc,
                                                          __mmask16 last, int beta, const pixl_conv_epi *e,
                                                          int64_t c0, const float *R)
{
    ACC_ALL(ACC_DECL)
    if (beta) {
        ACC_ALL(ACC_LOAD)
    }
    __m512 b0 = _mm512_setzero_ps(), b1 = b0, b2 = b0, b3 = b0;
    for (int64_t k = 0; k < K; k++) {
        const float *b = B + boff[k], *a = Ap + k * MR;
        B_LOAD(0) B_LOAD(1) B_LOAD(2) B_LOAD(3)
        ROW_FMA(0, a[0]) ROW_FMA(1, a[1]) ROW_FMA(2, a[2]) ROW_FMA(3, a[3]) ROW_FMA(4, a[4]) ROW_FMA(5, a[5])
    }
    if (e) {
        ACC_ALL(ACC_EPI)
    }
    ACC_ALL(ACC_STORE)
}

/* C[i][n] += sum_k a[i][k] * B[k*ldb + n] */
static inline __attribute__((always_inline)) void ukern_w(const int mr, const int nv, int64_t K,
                                                          const float *const *a, const float *B, int64_t ldb, float *C,
                                                          int64_t ldc, __mmask16 last)
{
    const float *a0 = a[0], *a1 = mr > 1 ? a[1] : a0, *a2 = mr > 2 ? a[2] : a0, *a3 = mr > 3 ? a[3] : a0,
                *a4 = mr > 4 ? a[4] : a0, *a5 = mr > 5 ? a[5] : a0;
    ACC_ALL(ACC_DECL)
    ACC_ALL(ACC_LOAD)
    __m512 b0 = _mm512_setzero_ps(), b1 = b0, b2 = b0, b3 = b0;
    for (int64_t k = 0; k < K; k++) {
        const float *b = B + k * ldb;
        B_LOAD(0) B_LOAD(1) B_LOAD(2) B_LOAD(3)
        ROW_FMA(0, a0[k]) ROW_FMA(1, a1[k]) ROW_FMA(2, a2[k]) ROW_FMA(3, a3[k]) ROW_FMA(4, a4[k])
        ROW_FMA(5, a5[k])
    }
    ACC_ALL(ACC_STORE)
}

/* PAC: C[i][n] = sum_k Ap[k*MR+i] * (B[boff[k] + n] * Kb[koff[k] + n]): the implicit gemm with every tap
 * scaled per output pixel by the adapting kernel, the product formed in registers */
#define BK_LOAD(v)                                                                                             \
    if (nv > v)                                                                                                \
        b##v = v == nv - 1 ? _mm512_mul_ps(_mm512_maskz_loadu_ps(last, b + 16 * v), _mm512_maskz_loadu_ps(last, kk + 16 * v)) \
                           : _mm512_mul_ps(_mm512_loadu_ps(b + 16 * v), _mm512_loadu_ps(kk + 16 * v));
static inline __attribute__((always_inline)) void ukern_pk(const int mr, const int nv, int64_t K, const float *Ap,
                                                           const float *B, const int64_t *boff, const float *Kb,
                                                           const int64_t *koff, float *C, int64_t ldc, __mmask16 last)
{
    ACC_ALL(ACC_DECL)
    __m512 b0 = _mm512_setzero_ps(), b1 = b0, b2 = b0, b3 = b0;
    for (int64_t k = 0; k < K; k++) {
        const float *b = B + boff[k], *kk = Kb + koff[k], *a = Ap + k * MR;
        BK_LOAD(0) BK_LOAD(1) BK_LOAD(2) BK_LOAD(3)
        ROW_FMA(0, a[0]) ROW_FMA(1, a[1]) ROW_FMA(2, a[2]) ROW_FMA(3, a[3]) ROW_FMA(4, a[4]) ROW_FMA(5, a[5])
    }
    ACC_ALL(ACC_STORE)
}

#define KCASES(X)                                                                                              \
    X(1, 1) X(1, 2) X(1, 3) X(1, 4) X(2, 1) X(2, 2) X(2, 3) X(2, 4) X(3, 1) X(3, 2) X(3, 3) X(3, 4) X(4, 1)    \
        X(4, 2) X(4, 3) X(4, 4) X(5, 1) X(5, 2) X(5, 3) X(5, 4) X(6, 1) X(6, 2) X(6, 3) X(6, 4)

/* n (1..NR) valid columns -> vectors and the last vector's mask */
static inline int nv_of(int n, __mmask16 *last)
{
    int nv = (n + 15) / 16, r = n - 16 * (nv - 1);
    *last = (__mmask16)(r == 16 ? 0xFFFF : (1u << r) - 1);
    return nv;
}

static void kern_b(int mr, int n, int64_t K, const float *Ap, const float *B, const int64_t *boff, float *C,
                   int64_t ldc, int beta, const pixl_conv_epi *e, int64_t c0, const float *R)
{
    __mmask16 last;
    int nv = nv_of(n, &last);
    switch (mr * 8 + nv) {
#define X(M_, V_)                                                                                              \
    case M_ * 8 + V_: ukern_b(M_, V_, K, Ap, B, boff, C, ldc, last, beta, e, c0, R); break;
        KCASES(X)
#undef X
    default: break;
    }
}

static void kern_w(int mr, int n, int64_t K, const float *const *a, const float *B, int64_t ldb, float *C,
                   int64_t ldc)
{
    __mmask16 last;
    int nv = nv_of(n, &last);
    switch (mr * 8 + nv) {
#define X(M_, V_)                                                                                              \
    case M_ * 8 + V_: ukern_w(M_, V_, K, a, B, ldb, C, ldc, last); break;
        KCASES(X)
#undef X
    default: break;
    }
}

static void kern_pk(int mr, int n, int64_t K, const float *Ap, const float *B, const int64_t *boff, const float *Kb,
                    const int64_t *koff, float *C, int64_t ldc)
{
    __mmask16 last;
    int nv = nv_of(n, &last);
    switch (mr * 8 + nv) {
#define X(M_, V_)                                                                                              \
    case M_ * 8 + V_: ukern_pk(M_, V_, K, Ap, B, boff, Kb, koff, C, ldc, last); break;
        KCASES(X)
#undef X
    default: break;
    }
}

#else /* portable micro-kernels (same order of operations per element) */

static void kern_pk(int mr, int n, int64_t K, const float *Ap, const float *B, const int64_t *boff, const float *Kb,
                    const int64_t *koff, float *C, int64_t ldc)
{
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < n; j++) {
            float acc = 0.0f;
            for (int64_t k = 0; k < K; k++) acc += Ap[k * MR + i] * (B[boff[k] + j] * Kb[koff[k] + j]);
            C[i * ldc + j] = acc;
        }
}

static void kern_b(int mr, int n, int64_t K, const float *Ap, const float *B, const int64_t *boff, float *C,
                   int64_t ldc, int beta, const pixl_conv_epi *e, int64_t c0, const float *R)
{
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < n; j++) {
            float acc = beta ? C[i * ldc + j] : 0.0f;
            for (int64_t k = 0; k < K; k++) acc += Ap[k * MR + i] * B[boff[k] + j];
            C[i * ldc + j] = acc;
        }
    if (e) pixl__conv_epi_apply(e, c0, mr, C, R, ldc, n);
}

static void kern_w(int mr, int n, int64_t K, const float *const *a, const float *B, int64_t ldb, float *C,
                   int64_t ldc)
{
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < n; j++) {
            float acc = C[i * ldc + j];
            for (int64_t k = 0; k < K; k++) acc += a[i][k] * B[k * ldb + j];
            C[i * ldc + j] = acc;
        }
}
#endif

/* ------------------------------------------------------------- drivers */

/* geometry of the phased copy used by fwd / bwd_weight */
typedef struct phased {
    int64_t Hp, Wq, rs; /* rows, phase row length, floats per padded row (sw*Wq) */
    int copy;           /* 0: read the input in place (no padding, stride 1) */
} phased;

static phased phased_of(const pixl_conv_shape *s)
{
    phased p;
    int64_t Wp = (s->OW - 1) * s->sw + (int64_t)(s->KW - 1) * s->dw + 1;
    p.Hp = (s->OH - 1) * s->sh + (int64_t)(s->KH - 1) * s->dh + 1;
    p.copy = !(s->ph == 0 && s->pw == 0 && s->sw == 1);
    if (!p.copy) {
        p.Hp = s->H;
        p.Wq = s->W;
    } else
        p.Wq = (Wp + s->sw - 1) / s->sw;
    p.rs = s->sw * p.Wq;
    return p;
}

/* offset in the phased copy of tap (c, kh, kw), relative to output row 0, column 0 */
static void tap_offsets(const pixl_conv_shape *s, const phased *p, int64_t C, int flip, int64_t *off)
{
    for (int64_t c = 0; c < C; c++)
        for (int kh = 0; kh < s->KH; kh++)
            for (int kw = 0; kw < s->KW; kw++) {
                int64_t t = (int64_t)kw * s->dw;
                off[(c * s->KH + kh) * s->KW + kw] =
                    (c * p->Hp + (int64_t)kh * s->dh) * p->rs + (t % s->sw) * p->Wq + t / s->sw;
            }
    (void)flip;
}

#define FL(n) ((size_t)rup((int64_t)(n), 16)) /* sub-buffer sizes in floats, 64-byte aligned */

/* Long reductions (K > KC_MAX, e.g. PSPNet's 4096-channel 3x3 conv, K =
 * 36864) are cut into chunks of KC summed into dst one after the other, and
 * inside a chunk a task is one MR-row weight tile over KC_ROWS output rows:
 * the tile (MR x KC) stays in L1/L2 across those rows and the input rows of
 * the chunk stay in L2 across the tiles. Without that every (row, tile) pair
 * streams its MR x K weights and K taps from memory (3x slower). The chunk
 * order is fixed: results do not depend on the thread count. */
#define KC_MAX PIXL_CONV_KC_MAX
#define KC 2304
#define KC_ROWS 4

static inline void epi_act(float *y, int64_t n, int act, float lo, float hi)
{
    if (act == 1)
        for (int64_t j = 0; j < n; j++) y[j] = y[j] > 0 ? y[j] : 0.0f;
    else if (act == 2)
        for (int64_t j = 0; j < n; j++) {
            float v = y[j] < lo ? lo : y[j];
            y[j] = v > hi ? hi : v;
        }
}

void pixl__conv_epi_apply(const pixl_conv_epi *e, int64_t c0, int m, float *dst, const float *res, int64_t ld,
                          int64_t n)
{
    for (int r = 0; r < m; r++) {
        const int64_t c = c0 + r;
        float *y = dst + r * ld;
        if (e->bias) {
            const float b = e->bias[c];
            for (int64_t j = 0; j < n; j++) y[j] += b;
        }
        if (e->scale) {
            const float sc = e->scale[c], sh = e->shift[c];
            for (int64_t j = 0; j < n; j++) y[j] = y[j] * sc + sh;
        }
        epi_act(y, n, e->act1, e->lo1, e->hi1);
        if (res) {
            const float *q = res + r * ld;
            for (int64_t j = 0; j < n; j++) y[j] += q[j];
        }
        epi_act(y, n, e->act2, e->lo2, e->hi2);
    }
}

/* implicit gemm: dst (M, OH, OW) (+)= Ap (M x K, packed) . taps of src_ph, K = C*KH*KW; then the
 * epilogue e (or none) on each finished tile, its channels counted from c_base, res like dst */
static void direct_gemm(const pixl_conv_shape *s, const phased *p, int64_t M, int64_t K, const float *Ap,
                        const float *src_ph, const int64_t *off, float *dst, int beta, const pixl_conv_epi *e,
                        int64_t c_base, const float *res)
{
    const int64_t OH = s->OH, OW = s->OW, L = OH * OW, T = (M + MR - 1) / MR;
    if (K > KC_MAX) {
        const int64_t RG = (OH + KC_ROWS - 1) / KC_ROWS; /* row groups */
        for (int64_t k0 = 0; k0 < K; k0 += KC) {
            const int64_t kn = K - k0 < KC ? K - k0 : KC;
            const int b = k0 ? 1 : beta;
            const pixl_conv_epi *el = k0 + kn == K ? e : NULL; /* the epilogue after the last chunk */
#pragma omp parallel for schedule(static) num_threads(pixl_num_threads())
            for (int64_t it = 0; it < RG * T; it++) {
                int64_t g = it / T, t = it % T, oh1 = (g + 1) * KC_ROWS < OH ? (g + 1) * KC_ROWS : OH;
                int mr = (int)(M - t * MR < MR ? M - t * MR : MR);
                for (int64_t oh = g * KC_ROWS; oh < oh1; oh++) {
                    const float *brow = src_ph + oh * s->sh * p->rs;
                    const int64_t at = t * MR * L + oh * OW; /* the tile's mr rows of OW */
                    for (int64_t n0 = 0; n0 < OW; n0 += NR) {
                        int n = (int)(OW - n0 < NR ? OW - n0 : NR);
                        kern_b(mr, n, kn, Ap + (t * K + k0) * MR, brow + n0, off + k0, dst + at + n0, L, b, el,
                               c_base + t * MR, el && res ? res + at + n0 : NULL);
                    }
                }
            }
        }
        return;
    }
#pragma omp parallel for schedule(static) num_threads(pixl_num_threads()) if (M * L * K > PAR_MIN)
    for (int64_t it = 0; it < OH * T; it++) {
        int64_t oh = it / T, t = it % T;
        int mr = (int)(M - t * MR < MR ? M - t * MR : MR);
        const float *brow = src_ph + oh * s->sh * p->rs;
        const int64_t at = t * MR * L + oh * OW; /* the tile's mr rows of OW */
        for (int64_t n0 = 0; n0 < OW; n0 += NR) {
            int n = (int)(OW - n0 < NR ? OW - n0 : NR);
            kern_b(mr, n, K, Ap + t * K * MR, brow + n0, off, dst + at + n0, L, beta, e, c_base + t * MR,
                   e && res ? res + at + n0 : NULL);
        }
    }
}

size_t pixl__conv_fast_fwd_floats(const pixl_conv_shape *s)
{
    int64_t Cbg = s->Cb / s->G, Csg = s->Cs / s->G, K = Cbg * s->KH * s->KW;
    phased p = phased_of(s);
    return (p.copy ? FL(Cbg * p.Hp * p.rs) : 0) + FL(rup(Csg, MR) * K) + FL(2 * K);
}

static void fast_fwd(const pixl_conv_shape *s, const float *big, const float *w, float *small, int accumulate,
                     float *work, const pixl_conv_epi *e);

void pixl__conv_fast_fwd(const pixl_conv_shape *s, const float *big, const float *w, float *small, int accumulate,
                        float *work)
{
    fast_fwd(s, big, w, small, accumulate, work, NULL);
}

void pixl__conv_fast_fwd_epi(const pixl_conv_shape *s, const float *big, const float *w, float *small, float *work,
                             const pixl_conv_epi *e)
{
    fast_fwd(s, big, w, small, 0, work, e);
}

static void fast_fwd(const pixl_conv_shape *s, const float *big, const float *w, float *small, int accumulate,
                     float *work, const pixl_conv_epi *e)
{
    const int64_t Cbg = s->Cb / s->G, Csg = s->Cs / s->G, K = Cbg * s->KH * s->KW, HW = s->H * s->W;
    const int64_t L = s->OH * s->OW;
    phased p = phased_of(s);
    float *ph = work, *Ap = ph + (p.copy ? FL(Cbg * p.Hp * p.rs) : 0);
    int64_t *off = (int64_t *)(void *)(Ap + FL(rup(Csg, MR) * K));
    tap_offsets(s, &p, Cbg, 0, off);
    for (int g = 0; g < s->G; g++) {
        pack_a(w + g * Csg * K, Csg, K, K, 1, Ap); /* w_g (Csg, K) */
        for (int64_t n = 0; n < s->N; n++) {
            const float *bg = big + (n * s->Cb + g * Cbg) * HW;
            const float *src = bg;
            if (p.copy) {
                pad_phase(bg, Cbg, s->H, s->W, s->ph, s->pw, p.Hp, s->sw, p.Wq, ph);
                src = ph;
            }
            const int64_t at = (n * s->Cs + g * Csg) * L;
            direct_gemm(s, &p, Csg, K, Ap, src, off, small + at, accumulate, e, g * Csg,
                        e && e->res ? e->res + at : NULL);
        }
    }
}

/* ------------------------------------------------ gemm on column blocks */

size_t pixl__conv_packed_a_floats(int64_t M, int64_t K) { return FL(rup(M, MR) * K); }

void pixl__conv_pack_a(const float *A, int64_t M, int64_t K, float *Ap) { pack_a(A, M, K, K, 1, Ap); }

void pixl__conv_packed_gemm(int64_t M, int64_t K, const float *Ap, const float *B, const int64_t *boff, int64_t n,
                           float *C, int64_t ldc)
{
    /* K in chunks of 512 so that the chunk of B (512 x NR) stays in L2 across the tiles */
    const int64_t T = (M + MR - 1) / MR, KCH = 512;
    for (int64_t n0 = 0; n0 < n; n0 += NR) {
        int nn = (int)(n - n0 < NR ? n - n0 : NR);
        for (int64_t k0 = 0; k0 < K; k0 += KCH) {
            int64_t kn = K - k0 < KCH ? K - k0 : KCH;
            for (int64_t t = 0; t < T; t++) {
                int mr = (int)(M - t * MR < MR ? M - t * MR : MR);
                kern_b(mr, nn, kn, Ap + (t * K + k0) * MR, B + n0, boff + k0, C + t * MR * ldc + n0, ldc, k0 > 0,
                       NULL, 0, NULL);
            }
        }
    }
}

/* ------------------------------------------------- pixel-adaptive forward */

size_t pixl__pac_fast_fwd_floats(const pixl_conv_shape *s)
{
    int64_t K = s->Cb * s->KH * s->KW;
    phased p = phased_of(s);
    return (p.copy ? FL(s->Cb * p.Hp * p.rs) : 0) + FL(rup(s->Cs, MR) * K) + FL(2 * K) + FL(2 * K);
}

void pixl__pac_fast_fwd(const pixl_conv_shape *s, const float *big, const float *kernel, int kernel_channels,
                       const float *w, float *small, float *work)
{
    const int64_t C = s->Cb, M = s->Cs, T = (int64_t)s->KH * s->KW, K = C * T, HW = s->H * s->W;
    const int64_t OH = s->OH, OW = s->OW, L = OH * OW, NT = (M + MR - 1) / MR;
    phased p = phased_of(s);
    float *ph = work, *Ap = ph + (p.copy ? FL(C * p.Hp * p.rs) : 0);
    int64_t *off = (int64_t *)(void *)(Ap + FL(rup(M, MR) * K)), *koff = off + FL(2 * K) / 2;
    tap_offsets(s, &p, C, 0, off);
    for (int64_t c = 0; c < C; c++) /* the kernel of tap (c, t) at output pixel 0 */
        for (int64_t t = 0; t < T; t++) koff[c * T + t] = ((kernel_channels > 1 ? c : 0) * T + t) * L;
    pack_a(w, M, K, K, 1, Ap);
    for (int64_t n = 0; n < s->N; n++) {
        const float *src = big + n * C * HW, *kb = kernel + n * (int64_t)kernel_channels * T * L;
        if (p.copy) {
            pad_phase(src, C, s->H, s->W, s->ph, s->pw, p.Hp, s->sw, p.Wq, ph);
            src = ph;
        }
        float *dst = small + n * M * L;
#pragma omp parallel for schedule(static) num_threads(pixl_num_threads()) if (M * L * K > PAR_MIN)
        for (int64_t it = 0; it < OH * NT; it++) {
            int64_t oh = it / NT, t = it % NT;
            int mr = (int)(M - t * MR < MR ? M - t * MR : MR);
            const float *brow = src + oh * s->sh * p.rs;
            for (int64_t n0 = 0; n0 < OW; n0 += NR) {
                int nn = (int)(OW - n0 < NR ? OW - n0 : NR);
                kern_pk(mr, nn, K, Ap + t * K * MR, brow + n0, off, kb + oh * OW + n0, koff,
                        dst + t * MR * L + oh * OW + n0, L);
            }
        }
    }
}

/* stride-1 data gradient as a convolution of the padded output gradient
 * with the flipped, transposed kernel: geometry with the sides swapped */
static pixl_conv_shape flipped_shape(const pixl_conv_shape *s)
{
    pixl_conv_shape f = *s;
    f.Cb = s->Cs, f.H = s->OH, f.W = s->OW; /* reads dy */
    f.Cs = s->Cb, f.OH = s->H, f.OW = s->W; /* writes dx */
    f.ph = s->dh * (s->KH - 1) - s->ph;     /* may be negative: a crop */
    f.pw = s->dw * (s->KW - 1) - s->pw;
    return f;
}

size_t pixl__conv_fast_bwd_data_floats(const pixl_conv_shape *s)
{
    if (s->sh != 1 || s->sw != 1) return 0;
    pixl_conv_shape f = flipped_shape(s);
    phased p = phased_of(&f);
    p.copy = 1; /* negative padding is handled by the copy */
    int64_t Csg = s->Cs / s->G, Cbg = s->Cb / s->G, K = Csg * s->KH * s->KW;
    p.Wq = (s->W - 1) + (int64_t)(s->KW - 1) * s->dw + 1;
    return FL(Csg * p.Hp * p.Wq) + FL(rup(Cbg, MR) * K) + FL(2 * K);
}

/* big += bwd_data(small) for stride 1; returns -1 when not applicable */
int pixl__conv_fast_bwd_data(const pixl_conv_shape *s, const float *small, const float *w, float *big, float *work)
{
    if (s->sh != 1 || s->sw != 1) return -1;
    const int64_t Cbg = s->Cb / s->G, Csg = s->Cs / s->G, K = Csg * s->KH * s->KW, HW = s->H * s->W;
    const int64_t L = s->OH * s->OW, KK = (int64_t)s->KH * s->KW;
    pixl_conv_shape f = flipped_shape(s);
    phased p;
    p.Hp = (s->H - 1) + (int64_t)(s->KH - 1) * s->dh + 1;
    p.Wq = (s->W - 1) + (int64_t)(s->KW - 1) * s->dw + 1;
    p.rs = p.Wq;
    p.copy = 1;
    float *ph = work, *Ap = ph + FL(Csg * p.Hp * p.Wq);
    int64_t *off = (int64_t *)(void *)(Ap + FL(rup(Cbg, MR) * K));
    tap_offsets(&f, &p, Csg, 0, off);
    for (int g = 0; g < s->G; g++) {
        /* A (Cbg x K): A[cb][(cs, kh, kw)] = w[cs][cb][KH-1-kh][KW-1-kw] */
        const float *wg = w + g * Csg * Cbg * KK;
        int64_t T = (Cbg + MR - 1) / MR;
        for (int64_t t = 0; t < T; t++)
            for (int64_t cs = 0; cs < Csg; cs++)
                for (int64_t k = 0; k < KK; k++)
                    for (int i = 0; i < MR; i++) {
                        int64_t cb = t * MR + i;
                        Ap[(t * K + cs * KK + k) * MR + i] = cb < Cbg ? wg[(cs * Cbg + cb) * KK + (KK - 1 - k)] : 0.0f;
                    }
        for (int64_t n = 0; n < s->N; n++) {
            pad_phase(small + (n * s->Cs + g * Csg) * L, Csg, s->OH, s->OW, f.ph, f.pw, p.Hp, 1, p.Wq, ph);
            direct_gemm(&f, &p, Cbg, K, Ap, ph, off, big + (n * s->Cb + g * Cbg) * HW, 1, NULL, 0, NULL);
        }
    }
    return 0;
}

/* rows of output per dw block: dyT block (rows*OW, Csg) of about 128K floats */
static int64_t dw_rows(const pixl_conv_shape *s)
{
    int64_t per = s->OW * (s->Cs / s->G), r = per > 0 ? (128 * 1024) / per : s->OH;
    if (r < 1) r = 1;
    if (r > s->OH) r = s->OH;
    return r;
}

size_t pixl__conv_fast_bwd_weight_floats(const pixl_conv_shape *s)
{
    int64_t Cbg = s->Cb / s->G, Csg = s->Cs / s->G, K = Cbg * s->KH * s->KW;
    phased p = phased_of(s);
    return (p.copy ? FL(Cbg * p.Hp * p.rs) : 0) + FL(dw_rows(s) * s->OW * Csg) + FL(K * Csg) + FL(2 * K);
}

/* dw += bwd_weight(small, big): dwT (K, Csg) = X (K, P) . dyT (P, Csg) */
void pixl__conv_fast_bwd_weight(const pixl_conv_shape *s, const float *small, const float *big, float *dw,
                               float *work)
{
    const int64_t Cbg = s->Cb / s->G, Csg = s->Cs / s->G, K = Cbg * s->KH * s->KW, HW = s->H * s->W;
    const int64_t OW = s->OW, L = s->OH * OW, nr = dw_rows(s);
    phased p = phased_of(s);
    float *ph = work, *dyT = ph + (p.copy ? FL(Cbg * p.Hp * p.rs) : 0);
    float *dwT = dyT + FL(nr * OW * Csg);
    int64_t *off = (int64_t *)(void *)(dwT + FL(K * Csg));
    tap_offsets(s, &p, Cbg, 0, off);
    const int64_t TM = (K + MR - 1) / MR, TN = (Csg + NR - 1) / NR;
    for (int g = 0; g < s->G; g++) {
        memset(dwT, 0, sizeof(float) * (size_t)(K * Csg));
        for (int64_t n = 0; n < s->N; n++) {
            const float *bg = big + (n * s->Cb + g * Cbg) * HW, *src = bg;
            const float *sg = small + (n * s->Cs + g * Csg) * L; /* (Csg, L) */
            if (p.copy) {
                pad_phase(bg, Cbg, s->H, s->W, s->ph, s->pw, p.Hp, s->sw, p.Wq, ph);
                src = ph;
            }
            for (int64_t r0 = 0; r0 < s->OH; r0 += nr) {
                int64_t r = nr < s->OH - r0 ? nr : s->OH - r0, P = r * OW;
                /* dyT (P, Csg) */
#pragma omp parallel for schedule(static) num_threads(pixl_num_threads()) if (P * Csg > PAR_MIN)
                for (int64_t pi = 0; pi < P; pi += 16)
                    for (int64_t c = 0; c < Csg; c++)
                        for (int64_t q = pi; q < pi + 16 && q < P; q++) dyT[q * Csg + c] = sg[c * L + r0 * OW + q];
#pragma omp parallel for schedule(static) num_threads(pixl_num_threads()) if (K * Csg * P > PAR_MIN)
                for (int64_t it = 0; it < TM * TN; it++) {
                    int64_t tm = it / TN, tn = it % TN, k0 = tm * MR, n0 = tn * NR;
                    int mr = (int)(K - k0 < MR ? K - k0 : MR), nn = (int)(Csg - n0 < NR ? Csg - n0 : NR);
                    const float *a[MR];
                    for (int oh = (int)r0; oh < r0 + r; oh++) {
                        const float *row = src + (int64_t)oh * s->sh * p.rs;
                        for (int i = 0; i < MR; i++) a[i] = row + off[k0 + (i < mr ? i : 0)];
                        kern_w(mr, nn, OW, a, dyT + (oh - r0) * OW * Csg + n0, Csg, dwT + k0 * Csg + n0, Csg);
                    }
                }
            }
        }
        float *dwg = dw + g * Csg * K; /* (Csg, K) */
#pragma omp parallel for schedule(static) num_threads(pixl_num_threads()) if (K * Csg > PAR_MIN)
        for (int64_t c = 0; c < Csg; c++)
            for (int64_t k = 0; k < K; k++) dwg[c * K + k] += dwT[k * Csg + c];
    }
}

/* strided data gradient: col (K, P) = w_g^T (K, Csg) . dy rows (Csg, P), then col2im */
size_t pixl__conv_fast_bwd_data_strided_floats(const pixl_conv_shape *s, int64_t rows)
{
    int64_t Cbg = s->Cb / s->G, Csg = s->Cs / s->G, K = Cbg * s->KH * s->KW;
    return FL(rup(K, MR) * Csg) + FL(2 * Csg) + FL(K * rows * s->OW);
}

void pixl__conv_fast_bwd_data_strided(const pixl_conv_shape *s, const float *small, const float *w, float *big,
                                     int64_t rows, float *work)
{
    const int64_t Cbg = s->Cb / s->G, Csg = s->Cs / s->G, K = Cbg * s->KH * s->KW, HW = s->H * s->W;
    const int64_t OW = s->OW, L = s->OH * OW, T = (K + MR - 1) / MR;
    float *Ap = work, *col = Ap + FL(rup(K, MR) * Csg) + FL(2 * Csg);
    int64_t *off = (int64_t *)(void *)(Ap + FL(rup(K, MR) * Csg));
    for (int64_t c = 0; c < Csg; c++) off[c] = c * L;
    for (int g = 0; g < s->G; g++) {
        pack_a(w + g * Csg * K, K, Csg, 1, K, Ap); /* A[k][cs] = w_g[cs][k] */
        for (int64_t n = 0; n < s->N; n++) {
            const float *sg = small + (n * s->Cs + g * Csg) * L;
            for (int64_t r0 = 0; r0 < s->OH; r0 += rows) {
                int64_t r = rows < s->OH - r0 ? rows : s->OH - r0, P = r * OW, TN = (P + NR - 1) / NR;
#pragma omp parallel for schedule(static) num_threads(pixl_num_threads()) if (K * P * Csg > PAR_MIN)
                for (int64_t it = 0; it < T * TN; it++) {
                    int64_t t = it / TN, n0 = (it % TN) * NR;
                    int mr = (int)(K - t * MR < MR ? K - t * MR : MR), nn = (int)(P - n0 < NR ? P - n0 : NR);
                    kern_b(mr, nn, Csg, Ap + t * Csg * MR, sg + r0 * OW + n0, off, col + t * MR * P + n0, P, 0,
                           NULL, 0, NULL);
                }
                pixl__col2im_add(s, Cbg, col, r0, r, big + (n * s->Cb + g * Cbg) * HW);
            }
        }
    }
}

int pixl__conv_fast_enabled(void)
{
#if defined(__AVX512F__)
    return 1;
#else
    return 0;
#endif
}
