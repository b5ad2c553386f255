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

void pixl_im2col(const pixl_conv_shape *s, int64_t Cg, const float *big, int64_t r0, int64_t nr, float *col)
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

void pixl_col2im_add(const pixl_conv_shape *s, int64_t Cg, const float *col, int64_t r0, int64_t nr, float *big)
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

void pixl_conv_dw_fwd(const pixl_conv_shape *s, const float *big, const float *w, float *small, int accumulate)
{
    const int64_t N = s->N, Cs = s->Cs, H = s->H, W = s->W, OH = s->OH, OW = s->OW, KH = s->KH, KW = s->KW;
    const int64_t m = Cs / s->G; /* small channels per big channel */
    const int sw = s->sw;
#pragma omp parallel for schedule(static) num_threads(pixl_num_threads()) if (N * Cs * OH * OW * KH * KW > PAR_MIN)
    for (int64_t p = 0; p < N * Cs; p++) {
        int64_t n = p / Cs, cs = p % Cs, cb = cs / m;
        const float *in = big + (n * s->Cb + cb) * H * W; /* (H, W) */
        const float *wk = w + cs * KH * KW;              /* (KH, KW) */
        float *out = small + p * OH * OW;                /* (OH, OW) */
        if (!accumulate) memset(out, 0, (size_t)(OH * OW) * sizeof(float));
        for (int64_t oh = 0; oh < OH; oh++) {
            float *o = out + oh * OW;
            for (int64_t kh = 0; kh < KH; kh++) {
                int64_t ih = oh * s->sh - s->ph + kh * s->dh;
                if (ih < 0 || ih >= H) continue;
                for (int64_t kw = 0; kw < KW; kw++) {
                    int64_t off = kw * s->dw - s->pw, lo, hi;
                    valid_range(off, sw, W, OW, &lo, &hi);
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

void pixl_conv_dw_bwd_data(const pixl_conv_shape *s, const float *small, const float *w, float *big)
{
    const int64_t N = s->N, Cb = s->Cb, H = s->H, W = s->W, OH = s->OH, OW = s->OW, KH = s->KH, KW = s->KW;
    const int64_t m = s->Cs / s->G;
    const int sw = s->sw;
#pragma omp parallel for schedule(static) num_threads(pixl_num_threads()) if (N * s->Cs * OH * OW * KH * KW > PAR_MIN)
    for (int64_t p = 0; p < N * Cb; p++) {
        int64_t n = p / Cb, cb = p % Cb;
        float *out = big + p * H * W; /* (H, W) */
        for (int64_t j = 0; j < m; j++) {
            int64_t cs = cb * m + j;
            const float *in = small + (n * s->Cs + cs) * OH * OW; /* (OH, OW) */
            const float *wk = w + cs * KH * KW;
            for (int64_t oh = 0; oh < OH; oh++) {
                const float *g = in + oh * OW;
                for (int64_t kh = 0; kh < KH; kh++) {
                    int64_t ih = oh * s->sh - s->ph + kh * s->dh;
                    if (ih < 0 || ih >= H) continue;
                    for (int64_t kw = 0; kw < KW; kw++) {
                        int64_t off = kw * s->dw - s->pw, lo, hi;
                        valid_range(off, sw, W, OW, &lo, &hi);
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

void pixl_conv_dw_bwd_weight(const pixl_conv_shape *s, const float *small, const float *big, float *dw)
{
    const int64_t N = s->N, Cs = s->Cs, H = s->H, W = s->W, OH = s->OH, OW = s->OW, KH = s->KH, KW = s->KW;
    const int64_t m = Cs / s->G;
    const int sw = s->sw;
#pragma omp parallel for schedule(static) num_threads(pixl_num_threads()) if (N * Cs * OH * OW * KH * KW > PAR_MIN)
    for (int64_t cs = 0; cs < Cs; cs++) {
        int64_t cb = cs / m;
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
                        float row = 0.0f; /* one row in float, rows summed in double */
                        if (sw == 1)
                            for (int64_t ow = lo; ow < hi; ow++) row += gr[ow] * xr[ow];
                        else
                            for (int64_t ow = lo; ow < hi; ow++) row += gr[ow] * xr[ow * sw];
                        acc += row;
                    }
                }
                dw[(cs * KH + kh) * KW + kw] += (float)acc;
            }
    }
}
