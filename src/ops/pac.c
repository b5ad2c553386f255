/* pac.c — pixel-adaptive convolution (NVlabs/pacnet semantics): the
 * adapting kernel packernel2d (+ its output mask), pacconv2d,
 * pacconv_transpose2d and pacpool2d, forward and backward side by side.
 * Formulas and conventions: the PAC section of pixl.h (the core).
 *
 * GEOMETRY. Every op reads a "source" plane (SH, SW) through a window per
 * output position (OH, OW): tap (i, j) of output (oy, ox) reads source row
 *   v = oy*sh - ph + i*dh,  valid when v >= 0, v % uh == 0 and v/uh < SH
 * (likewise for columns). uh = 1 for ordinary convolutions; the transposed
 * convolution is pacnet's zero-insert + pad + correlate, i.e. sh = 1,
 * ph = (K-1)*d - pad and uh = stride: a tap hits a real input sample only
 * where the zero-inserted copy has one. No zero-inserted copy is built.
 *
 * FUSION. Full-filter pacconv (and its transpose) works on blocks of output
 * rows: a column block col[(c,t), pixel] = K[t,pixel] * x[c, src] lives in
 * scratch (a few MiB) and one gemm per block multiplies it with W. Backward
 * per block: G = W^T dy (gemm), dK[t,p] += sum_c G * x_col, dx += col2im(G * K),
 * dW += dy (x_col * K)^T (gemm). Shared filters and pool are direct loops.
 * No B x C x k x k x H x W tensor exists at any time.
 *
 * DETERMINISM. Forward: threads own whole row blocks (fixed decomposition,
 * each with its own scratch slab). Backward: blocks in order, each step
 * parallel by output element (gemm splits into fixed blocks, col2im and
 * scatters by channel plane, tap sums by tap); reductions over pixels are
 * serial per output value. Same bits for any thread count. */
#include <math.h>
#include <omp.h>

#include "kernels/im2col.h"
#include "pixl_impl.h"

#define PAC_EPS 1e-4f
#define PAR_MIN 16384

/* ------------------------------------------------------------- geometry */

typedef struct pac_geom {
    int SH, SW, OH, OW;
    int KH, KW, sh, sw, ph, pw, dh, dw, uh, uw;
} pac_geom;

static inline int64_t src_of(int64_t o, int s, int p, int k, int d, int u, int64_t S)
{
    int64_t v = o * s - p + (int64_t)k * d;
    if (v < 0) return -1;
    if (u > 1) {
        if (v % u) return -1;
        v /= u;
    }
    return v < S ? v : -1;
}
static inline int64_t src_y(const pac_geom *g, int64_t oy, int i) { return src_of(oy, g->sh, g->ph, i, g->dh, g->uh, g->SH); }
static inline int64_t src_x(const pac_geom *g, int64_t ox, int j) { return src_of(ox, g->sw, g->pw, j, g->dw, g->uw, g->SW); }

/* ox in [lo, hi) with 0 <= ox*s + off < W (uw == 1 only) */
static inline void x_range(int64_t off, int s, int64_t W, int64_t OW, int64_t *lo, int64_t *hi)
{
    int64_t a = off >= 0 ? 0 : (-off + s - 1) / s;
    int64_t b = W - 1 - off < 0 ? 0 : (W - 1 - off) / s + 1;
    if (b > OW) b = OW;
    if (a > b) a = b;
    *lo = a;
    *hi = b;
}

static int64_t T_of(const pac_geom *g) { return (int64_t)g->KH * g->KW; }
static int64_t OHW_of(const pac_geom *g) { return (int64_t)g->OH * g->OW; }
static int64_t SHW_of(const pac_geom *g) { return (int64_t)g->SH * g->SW; }

/* out[ox] = (k ? k[ox] : 1) * plane[src(oy, ox; i, j)] (0 where invalid) */
static void gather_row(const pac_geom *g, const float *plane, int64_t oy, int i, int j, const float *k, float *out)
{
    int64_t sy = src_y(g, oy, i);
    if (sy < 0) {
        memset(out, 0, sizeof(float) * (size_t)g->OW);
        return;
    }
    const float *row = plane + sy * g->SW;
    if (g->uw == 1) {
        int64_t off = (int64_t)j * g->dw - g->pw, lo, hi;
        x_range(off, g->sw, g->SW, g->OW, &lo, &hi);
        for (int64_t ox = 0; ox < lo; ox++) out[ox] = 0.0f;
        if (g->sw == 1) {
            const float *r = row + off;
            if (k)
                for (int64_t ox = lo; ox < hi; ox++) out[ox] = k[ox] * r[ox];
            else
                for (int64_t ox = lo; ox < hi; ox++) out[ox] = r[ox];
        } else {
            for (int64_t ox = lo; ox < hi; ox++) out[ox] = (k ? k[ox] : 1.0f) * row[ox * g->sw + off];
        }
        for (int64_t ox = hi; ox < g->OW; ox++) out[ox] = 0.0f;
    } else {
        for (int64_t ox = 0; ox < g->OW; ox++) {
            int64_t sx = src_x(g, ox, j);
            out[ox] = sx < 0 ? 0.0f : (k ? k[ox] : 1.0f) * row[sx];
        }
    }
}

/* plane[src(oy, ox; i, j)] += (k ? k[ox] : 1) * v[ox]: the adjoint of gather_row */
static void scatter_row(const pac_geom *g, float *plane, int64_t oy, int i, int j, const float *k, const float *v)
{
    int64_t sy = src_y(g, oy, i);
    if (sy < 0) return;
    float *row = plane + sy * g->SW;
    if (g->uw == 1) {
        int64_t off = (int64_t)j * g->dw - g->pw, lo, hi;
        x_range(off, g->sw, g->SW, g->OW, &lo, &hi);
        if (g->sw == 1) {
            float *r = row + off;
            if (k)
                for (int64_t ox = lo; ox < hi; ox++) r[ox] += k[ox] * v[ox];
            else
                for (int64_t ox = lo; ox < hi; ox++) r[ox] += v[ox];
        } else {
            for (int64_t ox = lo; ox < hi; ox++) row[ox * g->sw + off] += (k ? k[ox] : 1.0f) * v[ox];
        }
    } else {
        for (int64_t ox = 0; ox < g->OW; ox++) {
            int64_t sx = src_x(g, ox, j);
            if (sx >= 0) row[sx] += (k ? k[ox] : 1.0f) * v[ox];
        }
    }
}

/* ------------------------------------------------------------------ packernel2d */

typedef struct pk_p {
    pac_geom g;  /* guidance geometry (source = guide) */
    pac_geom mg; /* mask / validity-pattern geometry (transposed: input resolution, uh = stride) */
    int B, Cf, Ck, Cm;
    int inv, asym, smooth_k, sph, spw, normalize, has_mask, want_mask, n_alpha, has_norm;
} pk_p;

/* src: guide, [mask], [smooth_kernel], [alpha, lambda] */
typedef struct pk_src { pixl_tensor *f, *m, *s, *a, *l; } pk_src;

_Static_assert(sizeof(pk_p) <= PIXL_OP_PARAMS_BYTES, "pk_p too large");

static pk_src pk_srcs(const pixl_tensor *n)
{
    const pk_p *p = PIXL_PARAMS(n, pk_p);
    pk_src s = {0};
    int k = 0;
    s.f = n->src[k++];
    if (p->has_mask) s.m = n->src[k++];
    if (p->smooth_k) s.s = n->src[k++];
    if (p->inv) {
        s.a = n->src[k++];
        s.l = n->src[k++];
    }
    return s;
}

static int64_t pk_plane(const pk_p *p) { return OHW_of(&p->g); }
/* aux: [output mask (B,Ck,OHW) if wanted][norm (B,Ck,OHW) if has_norm][f0 (B,Cf,OHW)] */
static float *pk_omask(const pixl_tensor *n) { return (float *)n->aux; }
static float *pk_norm(const pixl_tensor *n)
{
    const pk_p *p = PIXL_PARAMS(n, pk_p);
    return (float *)n->aux + (p->want_mask ? (int64_t)p->B * p->Ck * pk_plane(p) : 0);
}
static float *pk_f0(const pixl_tensor *n)
{
    const pk_p *p = PIXL_PARAMS(n, pk_p);
    return pk_norm(n) + (p->has_norm ? (int64_t)p->B * p->Ck * pk_plane(p) : 0);
}

static size_t pk_aux_bytes(const pixl_tensor *n)
{
    const pk_p *p = PIXL_PARAMS(n, pk_p);
    int64_t pl = (int64_t)p->B * pk_plane(p);
    return sizeof(float) * (size_t)(pl * ((p->want_mask ? p->Ck : 0) + (p->has_norm ? p->Ck : 0) + p->Cf));
}

static size_t pk_work_bytes(const pixl_tensor *n)
{
    const pk_p *p = PIXL_PARAMS(n, pk_p);
    if (!(n->flags & PIXL_FLAG_NEEDS_GRAD)) return 0;
    int64_t pl = (int64_t)p->B * pk_plane(p);
    size_t fl = (size_t)(pl * (p->Ck * T_of(&p->g) + p->Cf));
    size_t rows = (size_t)p->B * p->g.OH * p->Ck * 2;
    return fl * sizeof(float) + rows * sizeof(double) + 64;
}

/* f0 (B, Cf, OH, OW): the centre tap or the smoothed guidance */
static void pk_f0_compute(const pk_p *p, const float *f, const float *S, float *f0)
{
    const pac_geom *g = &p->g;
    const int64_t OHW = OHW_of(g), SHW = SHW_of(g);
    const int sk = p->smooth_k;
#pragma omp parallel for schedule(static) num_threads(pixl_num_threads()) if ((int64_t)p->B * p->Cf * OHW > PAR_MIN)
    for (int64_t bc = 0; bc < (int64_t)p->B * p->Cf; bc++) {
        const float *fp = f + bc * SHW;
        float *o = f0 + bc * OHW;
        for (int64_t oy = 0; oy < g->OH; oy++)
            for (int64_t ox = 0; ox < g->OW; ox++) {
                float v = 0.0f;
                if (!sk) {
                    int64_t sy = src_y(g, oy, g->KH / 2), sx = src_x(g, ox, g->KW / 2);
                    if (sy >= 0 && sx >= 0) v = fp[sy * g->SW + sx];
                } else {
                    for (int a = 0; a < sk; a++) {
                        int64_t sy = oy * g->sh - p->sph + a;
                        if (sy < 0 || sy >= g->SH) continue;
                        for (int b2 = 0; b2 < sk; b2++) {
                            int64_t sx = ox * g->sw - p->spw + b2;
                            if (sx < 0 || sx >= g->SW) continue;
                            v += S[a * sk + b2] * fp[sy * g->SW + sx];
                        }
                    }
                }
                o[oy * g->OW + ox] = v;
            }
    }
}

/* difference d_c at (b, oy, ox, tap i j) for channel c; 0-padding outside */
static inline float pk_delta(const pk_p *p, const float *fb, const float *f0b, int64_t c, int64_t sy, int64_t sx,
                             int64_t pix)
{
    const pac_geom *g = &p->g;
    float fv = (sy >= 0 && sx >= 0) ? fb[c * SHW_of(g) + sy * g->SW + sx] : 0.0f;
    float d = fv - f0b[c * OHW_of(g) + pix];
    if (p->asym && d < 0.0f) d = 0.0f;
    return d;
}

/* D over the channels of kernel channel ck */
static inline float pk_D(const pk_p *p, const float *fb, const float *f0b, int64_t ck, int64_t sy, int64_t sx,
                         int64_t pix)
{
    if (p->Ck > 1) {
        float d = pk_delta(p, fb, f0b, ck, sy, sx, pix);
        return d * d;
    }
    float D = 0.0f;
    for (int64_t c = 0; c < p->Cf; c++) {
        float d = pk_delta(p, fb, f0b, c, sy, sx, pix);
        D += d * d;
    }
    return D;
}

static inline float pk_phi(const pk_p *p, float D, float alpha, float lambda)
{
    if (!p->inv) return expf(-0.5f * D);
    return alpha + powf(D + PAC_EPS, 0.5f * lambda);
}

/* mask value of tap (i, j) at (oy, ox) for kernel channel ck (1 without mask/normalize) */
static inline float pk_mval(const pk_p *p, const float *mb, int64_t ck, int64_t oy, int64_t ox, int i, int j,
                            float *pattern)
{
    const pac_geom *m = &p->mg;
    int64_t sy = src_y(m, oy, i), sx = src_x(m, ox, j);
    int valid = sy >= 0 && sx >= 0;
    *pattern = valid ? 1.0f : 0.0f;
    if (mb) {
        int64_t cm = p->Cm > 1 ? ck : 0;
        return valid ? mb[cm * SHW_of(m) + sy * m->SW + sx] : 0.0f;
    }
    return p->normalize ? *pattern : 1.0f;
}

static int pk_fwd(pixl_tensor *n)
{
    const pk_p *p = PIXL_PARAMS(n, pk_p);
    pk_src s = pk_srcs(n);
    const pac_geom *g = &p->g;
    const int64_t OHW = OHW_of(g), T = T_of(g), SHW = SHW_of(g);
    float *f0 = pk_f0(n), *norm = pk_norm(n), *om = pk_omask(n), *K = pixl_f32(n);
    const float *f = pixl_f32(s.f), *M = s.m ? pixl_f32(s.m) : NULL;
    const float *A = s.a ? pixl_f32(s.a) : NULL, *Lm = s.l ? pixl_f32(s.l) : NULL;
    pk_f0_compute(p, f, s.s ? pixl_f32(s.s) : NULL, f0);
    if (!p->has_norm && !p->inv && p->Ck == 1 && g->uh == 1 && g->uw == 1) {
        /* the common case (Gaussian, no mask, no normalisation, one kernel channel): tap-major rows,
         * contiguous in x; the same operations per element as the general loop below */
#pragma omp parallel for schedule(static) num_threads(pixl_num_threads()) if ((int64_t)p->B * OHW * T > PAR_MIN)
        for (int64_t row = 0; row < (int64_t)p->B * g->OH; row++) {
            int64_t b = row / g->OH, oy = row % g->OH;
            const float *fb = f + b * p->Cf * SHW, *f0r = f0 + b * p->Cf * OHW + oy * g->OW;
            for (int64_t t = 0; t < T; t++) {
                int i = (int)(t / g->KW), j = (int)(t % g->KW);
                int64_t sy = src_y(g, oy, i), off = (int64_t)j * g->dw - g->pw, lo, hi;
                float *kr = K + b * T * OHW + t * OHW + oy * g->OW;
                x_range(off, g->sw, g->SW, g->OW, &lo, &hi);
                if (sy < 0) lo = hi = g->OW; /* the whole row reads padding */
                for (int64_t ox = 0; ox < g->OW; ox++) {
                    float D = 0.0f;
                    int inside = ox >= lo && ox < hi;
                    for (int64_t c = 0; c < p->Cf; c++) {
                        float fv = inside ? fb[c * SHW + sy * g->SW + ox * g->sw + off] : 0.0f;
                        float d = fv - f0r[c * OHW + ox];
                        if (p->asym && d < 0.0f) d = 0.0f;
                        D += d * d;
                    }
                    kr[ox] = expf(-0.5f * D);
                }
            }
        }
        return PIXL_OK;
    }
#pragma omp parallel for schedule(static) num_threads(pixl_num_threads()) if ((int64_t)p->B * OHW * T > PAR_MIN)
    for (int64_t row = 0; row < (int64_t)p->B * g->OH; row++) {
        int64_t b = row / g->OH, oy = row % g->OH;
        const float *fb = f + b * p->Cf * SHW, *f0b = f0 + b * p->Cf * OHW;
        const float *mb = M ? M + b * (int64_t)p->Cm * SHW_of(&p->mg) : NULL;
        for (int64_t ck = 0; ck < p->Ck; ck++) {
            float alpha = A ? A[p->n_alpha > 1 ? ck : 0] : 0.0f, lambda = Lm ? Lm[p->n_alpha > 1 ? ck : 0] : 0.0f;
            float *kb = K + (b * p->Ck + ck) * T * OHW;
            for (int64_t ox = 0; ox < g->OW; ox++) {
                int64_t pix = oy * g->OW + ox;
                double sum = 0, msum = 0, psum = 0;
                for (int64_t t = 0; t < T; t++) {
                    int i = (int)(t / g->KW), j = (int)(t % g->KW);
                    float r = pk_phi(p, pk_D(p, fb, f0b, ck, src_y(g, oy, i), src_x(g, ox, j), pix), alpha, lambda);
                    float pat, m = pk_mval(p, mb, ck, oy, ox, i, j, &pat);
                    float kp = r * m;
                    kb[t * OHW + pix] = kp;
                    sum += kp;
                    msum += m;
                    psum += pat;
                }
                if (!p->has_norm) continue;
                float nv = p->normalize ? (float)sum : (psum > 0 ? (float)(msum / psum) : 0.0f);
                float div = nv == 0.0f ? 1.0f : nv;
                int64_t q = (b * p->Ck + ck) * OHW + pix;
                norm[q] = nv;
                if (p->want_mask) om[q] = nv != 0.0f ? 1.0f : 0.0f;
                if (div != 1.0f)
                    for (int64_t t = 0; t < T; t++) kb[t * OHW + pix] /= div;
            }
        }
    }
    return PIXL_OK;
}

static int pk_bwd(pixl_tensor *n)
{
    const pk_p *p = PIXL_PARAMS(n, pk_p);
    pk_src s = pk_srcs(n);
    const pac_geom *g = &p->g;
    const int64_t OHW = OHW_of(g), T = T_of(g), SHW = SHW_of(g), nrows = (int64_t)p->B * g->OH;
    const float *f0 = pk_f0(n), *norm = pk_norm(n), *K = pixl_f32(n), *gK = n->grad;
    const float *f = pixl_f32(s.f), *M = s.m ? pixl_f32(s.m) : NULL;
    const float *Lm = s.l ? pixl_f32(s.l) : NULL;
    int want_f = s.f->grad != NULL, want_s = s.s && s.s->grad, want_al = s.a && (s.a->grad || s.l->grad);
    if (!want_f && !want_s && !want_al) return PIXL_OK;
    float *dD = n->work;                                  /* (B, Ck, T, OHW) */
    float *df0 = dD + (int64_t)p->B * p->Ck * T * OHW;    /* (B, Cf, OHW) */
    double *part = (double *)(void *)(((uintptr_t)(df0 + (int64_t)p->B * p->Cf * OHW) + 7) & ~(uintptr_t)7);
    memset(df0, 0, sizeof(float) * (size_t)((int64_t)p->B * p->Cf * OHW));
    memset(part, 0, sizeof(double) * (size_t)(nrows * p->Ck * 2));

    /* pass A: per pixel, dK -> dD, df0 and the row partials of d alpha / d lambda */
#pragma omp parallel for schedule(static) num_threads(pixl_num_threads()) if (nrows * g->OW * T > PAR_MIN)
    for (int64_t row = 0; row < nrows; row++) {
        int64_t b = row / g->OH, oy = row % g->OH;
        const float *fb = f + b * p->Cf * SHW, *f0b = f0 + b * p->Cf * OHW;
        const float *mb = M ? M + b * (int64_t)p->Cm * SHW_of(&p->mg) : NULL;
        float *df0b = df0 + b * p->Cf * OHW;
        for (int64_t ck = 0; ck < p->Ck; ck++) {
            float lambda = Lm ? Lm[p->n_alpha > 1 ? ck : 0] : 0.0f;
            const float *kb = K + (b * p->Ck + ck) * T * OHW, *gb = gK + (b * p->Ck + ck) * T * OHW;
            float *dDb = dD + (b * p->Ck + ck) * T * OHW;
            double pa = 0, pl = 0;
            for (int64_t ox = 0; ox < g->OW; ox++) {
                int64_t pix = oy * g->OW + ox;
                float div = 1.0f, gs = 0.0f;
                int renorm = 0;
                if (p->has_norm) {
                    float nv = norm[(b * p->Ck + ck) * OHW + pix];
                    div = nv == 0.0f ? 1.0f : nv;
                    if (p->normalize && nv != 0.0f) {
                        renorm = 1;
                        double acc = 0;
                        for (int64_t t = 0; t < T; t++) acc += (double)gb[t * OHW + pix] * kb[t * OHW + pix];
                        gs = (float)acc;
                    }
                }
                for (int64_t t = 0; t < T; t++) {
                    int i = (int)(t / g->KW), j = (int)(t % g->KW);
                    int64_t sy = src_y(g, oy, i), sx = src_x(g, ox, j);
                    float pat, m = pk_mval(p, mb, ck, oy, ox, i, j, &pat);
                    float gt = gb[t * OHW + pix];
                    float dkp = renorm ? (gt - gs) / div : gt / div;
                    float dr = dkp * m, dDv = 0.0f;
                    if (dr != 0.0f) {
                        float D = pk_D(p, fb, f0b, ck, sy, sx, pix);
                        if (p->inv) {
                            float base = D + PAC_EPS, pw = powf(base, 0.5f * lambda);
                            pa += dr;
                            pl += (double)dr * pw * 0.5f * logf(base);
                            dDv = dr * 0.5f * lambda * pw / base;
                        } else {
                            dDv = -0.5f * expf(-0.5f * D) * dr;
                        }
                    }
                    dDb[t * OHW + pix] = dDv;
                    if (dDv == 0.0f) continue;
                    if (p->Ck > 1)
                        df0b[ck * OHW + pix] -= 2.0f * pk_delta(p, fb, f0b, ck, sy, sx, pix) * dDv;
                    else
                        for (int64_t c = 0; c < p->Cf; c++)
                            df0b[c * OHW + pix] -= 2.0f * pk_delta(p, fb, f0b, c, sy, sx, pix) * dDv;
                }
            }
            part[(row * p->Ck + ck) * 2] = pa;
            part[(row * p->Ck + ck) * 2 + 1] = pl;
        }
    }
    if (want_al) {
        for (int64_t ck = 0; ck < p->Ck; ck++) {
            int ai = p->n_alpha > 1 ? (int)ck : 0;
            double sa = 0, sl = 0;
            for (int64_t row = 0; row < nrows; row++) {
                sa += part[(row * p->Ck + ck) * 2];
                sl += part[(row * p->Ck + ck) * 2 + 1];
            }
            if (s.a->grad) s.a->grad[ai] += (float)sa;
            if (s.l->grad) s.l->grad[ai] += (float)sl;
        }
    }
    /* pass B: guidance gradient, one (b, c) plane per thread */
    if (want_f) {
        float *df = s.f->grad;
        const float *S = s.s ? pixl_f32(s.s) : NULL;
#pragma omp parallel for schedule(static) num_threads(pixl_num_threads()) if ((int64_t)p->B * p->Cf * OHW * T > PAR_MIN)
        for (int64_t bc = 0; bc < (int64_t)p->B * p->Cf; bc++) {
            int64_t b = bc / p->Cf, c = bc % p->Cf, ck = p->Ck > 1 ? c : 0;
            const float *fb = f + b * p->Cf * SHW, *f0b = f0 + b * p->Cf * OHW;
            const float *dDb = dD + (b * p->Ck + ck) * T * OHW, *d0 = df0 + bc * OHW;
            float *dp = df + bc * SHW;
            for (int64_t oy = 0; oy < g->OH; oy++)
                for (int64_t ox = 0; ox < g->OW; ox++) {
                    int64_t pix = oy * g->OW + ox;
                    for (int64_t t = 0; t < T; t++) {
                        float v = dDb[t * OHW + pix];
                        if (v == 0.0f) continue;
                        int i = (int)(t / g->KW), j = (int)(t % g->KW);
                        int64_t sy = src_y(g, oy, i), sx = src_x(g, ox, j);
                        if (sy < 0 || sx < 0) continue;
                        dp[sy * g->SW + sx] += 2.0f * pk_delta(p, fb, f0b, c, sy, sx, pix) * v;
                    }
                    float z = d0[pix];
                    if (z == 0.0f) continue;
                    if (!p->smooth_k) {
                        int64_t sy = src_y(g, oy, g->KH / 2), sx = src_x(g, ox, g->KW / 2);
                        if (sy >= 0 && sx >= 0) dp[sy * g->SW + sx] += z;
                    } else {
                        for (int a = 0; a < p->smooth_k; a++) {
                            int64_t sy = oy * g->sh - p->sph + a;
                            if (sy < 0 || sy >= g->SH) continue;
                            for (int b2 = 0; b2 < p->smooth_k; b2++) {
                                int64_t sx = ox * g->sw - p->spw + b2;
                                if (sx >= 0 && sx < g->SW) dp[sy * g->SW + sx] += S[a * p->smooth_k + b2] * z;
                            }
                        }
                    }
                }
        }
    }
    /* pass C: smoothing kernel gradient, one tap per thread */
    if (want_s) {
        const int sk = p->smooth_k;
        float *dS = s.s->grad;
#pragma omp parallel for schedule(static) num_threads(pixl_num_threads()) if ((int64_t)p->B * p->Cf * OHW * sk * sk > PAR_MIN)
        for (int ab = 0; ab < sk * sk; ab++) {
            int a = ab / sk, b2 = ab % sk;
            double acc = 0;
            for (int64_t bc = 0; bc < (int64_t)p->B * p->Cf; bc++) {
                const float *fp = f + bc * SHW, *d0 = df0 + bc * OHW;
                for (int64_t oy = 0; oy < g->OH; oy++) {
                    int64_t sy = oy * g->sh - p->sph + a;
                    if (sy < 0 || sy >= g->SH) continue;
                    for (int64_t ox = 0; ox < g->OW; ox++) {
                        int64_t sx = ox * g->sw - p->spw + b2;
                        if (sx >= 0 && sx < g->SW) acc += (double)d0[oy * g->OW + ox] * fp[sy * g->SW + sx];
                    }
                }
            }
            dS[ab] += (float)acc;
        }
    }
    return PIXL_OK;
}

static const pixl_op_def packernel2d_def = {.name = "packernel2d",
                                            .fwd = pk_fwd,
                                            .bwd = pk_bwd,
                                            .aux_bytes = pk_aux_bytes,
                                            .work_bytes = pk_work_bytes};
static const pixl_op_def packernel2d_mask_def = {"packernel2d_mask", NULL, NULL, NULL, NULL, 0, NULL, NULL};

/* --------------------------------------------------------------- options */

static int pair_or(int v, int d) { return v ? v : d; }

typedef struct pac_o {
    int kh, kw, sh, sw, ph, pw, dh, dw, oph, opw;
} pac_o;

static int read_pac_opts(pixl_ctx *ctx, const char *op, const pixl_pac_opts *o, int kh, int kw, int transposed,
                         pac_o *r)
{
    pixl_pac_opts d = o ? *o : (pixl_pac_opts){0};
    r->kh = kh;
    r->kw = kw;
    r->sh = pair_or(d.stride[0], 1);
    r->sw = pair_or(d.stride[1], 1);
    r->dh = pair_or(d.dilation[0], 1);
    r->dw = pair_or(d.dilation[1], 1);
    r->ph = d.padding[0];
    r->pw = d.padding[1];
    r->oph = d.output_padding[0];
    r->opw = d.output_padding[1];
    if (kh < 1 || kw < 1 || kh % 2 == 0 || kw % 2 == 0) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "%s: kernel size %dx%d must be odd (as in pacnet)", op, kh, kw);
        return -1;
    }
    if (r->sh < 1 || r->sw < 1 || r->dh < 1 || r->dw < 1 || r->ph < 0 || r->pw < 0 || r->oph < 0 || r->opw < 0) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG,
                      "%s: invalid stride (%d, %d), padding (%d, %d), dilation (%d, %d) or output_padding (%d, %d)",
                      op, r->sh, r->sw, r->ph, r->pw, r->dh, r->dw, r->oph, r->opw);
        return -1;
    }
    if (!transposed && (r->oph || r->opw)) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "%s: output_padding (%d, %d) needs the transposed geometry", op, r->oph,
                      r->opw);
        return -1;
    }
    if (transposed && ((r->oph >= r->sh && r->oph >= r->dh) || (r->opw >= r->sw && r->opw >= r->dw))) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG,
                      "%s: output_padding (%d, %d) must be smaller than stride (%d, %d) or dilation (%d, %d)", op,
                      r->oph, r->opw, r->sh, r->sw, r->dh, r->dw);
        return -1;
    }
    if (transposed && ((int64_t)(kh - 1) * r->dh < r->ph || (int64_t)(kw - 1) * r->dw < r->pw)) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "%s: padding (%d, %d) larger than (kernel-1)*dilation (%d, %d)", op, r->ph,
                      r->pw, (kh - 1) * r->dh, (kw - 1) * r->dw);
        return -1;
    }
    return 0;
}

/* ordinary geometry: source (H, W) -> output, or -1 */
static int geom_conv(pixl_ctx *ctx, const char *op, const pac_o *r, int64_t H, int64_t W, pac_geom *g)
{
    int64_t ekh = (int64_t)r->dh * (r->kh - 1) + 1, ekw = (int64_t)r->dw * (r->kw - 1) + 1;
    if (H + 2 * r->ph < ekh || W + 2 * r->pw < ekw) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "%s: dilated kernel %lldx%lld is larger than the input %lldx%lld padded by (%d, %d)",
                      op, (long long)ekh, (long long)ekw, (long long)H, (long long)W, r->ph, r->pw);
        return -1;
    }
    *g = (pac_geom){.SH = (int)H, .SW = (int)W, .KH = r->kh, .KW = r->kw, .sh = r->sh, .sw = r->sw, .ph = r->ph,
                    .pw = r->pw, .dh = r->dh, .dw = r->dw, .uh = 1, .uw = 1};
    g->OH = (int)((H + 2 * r->ph - ekh) / r->sh + 1);
    g->OW = (int)((W + 2 * r->pw - ekw) / r->sw + 1);
    return 0;
}

/* transposed geometry: input (h, w) -> output of ConvTranspose2d */
static int geom_transposed(pixl_ctx *ctx, const char *op, const pac_o *r, int64_t h, int64_t w, pac_geom *g)
{
    int64_t OH = (h - 1) * r->sh - 2 * r->ph + (int64_t)r->dh * (r->kh - 1) + r->oph + 1;
    int64_t OW = (w - 1) * r->sw - 2 * r->pw + (int64_t)r->dw * (r->kw - 1) + r->opw + 1;
    if (h < 1 || w < 1 || OH < 1 || OW < 1) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "%s: input %lldx%lld gives output %lldx%lld", op, (long long)h,
                      (long long)w, (long long)OH, (long long)OW);
        return -1;
    }
    *g = (pac_geom){.SH = (int)h, .SW = (int)w, .OH = (int)OH, .OW = (int)OW, .KH = r->kh, .KW = r->kw, .sh = 1,
                    .sw = 1, .ph = (r->kh - 1) * r->dh - r->ph, .pw = (r->kw - 1) * r->dw - r->pw, .dh = r->dh,
                    .dw = r->dw, .uh = r->sh, .uw = r->sw};
    return 0;
}

static int is_f32_4d(pixl_ctx *ctx, const char *op, const char *what, const pixl_tensor *t)
{
    if (t->dtype != PIXL_F32 || t->ndim != 4) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "%s: %s %s must be a 4-D f32 tensor", op, what, pixl__tshape(t));
        return 0;
    }
    return 1;
}

pixl_tensor *pixl_packernel2d(pixl_ctx *ctx, pixl_tensor *guide, pixl_tensor *mask, pixl_tensor *smooth_kernel,
                              pixl_tensor *inv_alpha, pixl_tensor *inv_lambda, const pixl_pac_opts *o)
{
    const char *op = "packernel2d";
    if (!ctx || !guide) return NULL;
    pixl_pac_opts d = o ? *o : (pixl_pac_opts){0};
    pac_o r;
    if (read_pac_opts(ctx, op, &d, d.kernel[0], d.kernel[1], d.transposed, &r)) return NULL;
    if (!is_f32_4d(ctx, op, "guide", guide)) return NULL;
    pk_p p = {0};
    p.B = (int)guide->shape[0];
    p.Cf = (int)guide->shape[1];
    p.Ck = d.channel_wise ? p.Cf : 1;
    p.inv = d.kernel_type == PIXL_PAC_INV;
    if (d.kernel_type != PIXL_PAC_GAUSSIAN && d.kernel_type != PIXL_PAC_INV) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "%s: unknown kernel_type %d", op, (int)d.kernel_type);
        return NULL;
    }
    p.asym = d.asym != 0;
    p.normalize = d.normalize != 0;
    int64_t H = guide->shape[2], W = guide->shape[3];
    if (!d.transposed) {
        if (geom_conv(ctx, op, &r, H, W, &p.g)) return NULL;
        p.mg = p.g;
    } else {
        /* pacnet: input size from the output (guide) size */
        int64_t h = (H - r.oph - 1 - (int64_t)(r.kh - 1) * r.dh + 2 * r.ph);
        int64_t w = (W - r.opw - 1 - (int64_t)(r.kw - 1) * r.dw + 2 * r.pw);
        h = (h >= 0 ? h / r.sh : -((-h + r.sh - 1) / r.sh)) + 1;
        w = (w >= 0 ? w / r.sw : -((-w + r.sw - 1) / r.sw)) + 1;
        if (h < 1 || w < 1) {
            pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "%s: transposed guide %s is too small for kernel %dx%d, stride (%d, %d)",
                          op, pixl__tshape(guide), r.kh, r.kw, r.sh, r.sw);
            return NULL;
        }
        if (geom_transposed(ctx, op, &r, h, w, &p.mg)) return NULL;
        pac_o rg = r;
        rg.sh = rg.sw = 1;
        rg.ph = (r.kh - 1) * r.dh / 2;
        rg.pw = (r.kw - 1) * r.dw / 2;
        rg.oph = rg.opw = 0;
        if (geom_conv(ctx, op, &rg, H, W, &p.g)) return NULL;
        if (p.g.OH != p.mg.OH || p.g.OW != p.mg.OW) {
            pixl__ctx_fail(ctx, PIXL_ERR_SHAPE,
                          "%s: transposed guide %s is not a ConvTranspose2d output size for stride (%d, %d), padding "
                          "(%d, %d), output_padding (%d, %d)",
                          op, pixl__tshape(guide), r.sh, r.sw, r.ph, r.pw, r.oph, r.opw);
            return NULL;
        }
    }
    pixl_tensor *src[6];
    int ns = 0;
    src[ns++] = guide;
    if (mask) {
        if (!is_f32_4d(ctx, op, "mask", mask)) return NULL;
        if (mask->shape[0] != p.B || (mask->shape[1] != 1 && mask->shape[1] != p.Ck) ||
            mask->shape[2] != p.mg.SH || mask->shape[3] != p.mg.SW) {
            pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "%s: mask %s must be [%d, 1%s, %d, %d] for guide %s", op,
                          pixl__tshape(mask), p.B, p.Ck > 1 ? " or C" : "", p.mg.SH, p.mg.SW, pixl__tshape(guide));
            return NULL;
        }
        p.has_mask = 1;
        p.Cm = (int)mask->shape[1];
        src[ns++] = mask;
    }
    p.has_norm = p.has_mask || p.normalize;
    if (d.smooth != PIXL_PAC_SMOOTH_NONE) {
        if (!smooth_kernel || smooth_kernel->dtype != PIXL_F32 || smooth_kernel->ndim != 4 ||
            smooth_kernel->shape[0] != 1 || smooth_kernel->shape[1] != 1 ||
            smooth_kernel->shape[2] != smooth_kernel->shape[3] || smooth_kernel->shape[2] % 2 == 0) {
            pixl__ctx_fail(ctx, PIXL_ERR_ARG, "%s: smoothing needs a (1, 1, s, s) f32 smooth_kernel with odd s, got %s",
                          op, smooth_kernel ? pixl__tshape(smooth_kernel) : "NULL");
            return NULL;
        }
        p.smooth_k = (int)smooth_kernel->shape[2];
        p.sph = p.g.ph - (p.g.KH - p.smooth_k) / 2;
        p.spw = p.g.pw - (p.g.KW - p.smooth_k) / 2;
        int64_t sh_ = (H + 2 * p.sph - p.smooth_k), sw_ = (W + 2 * p.spw - p.smooth_k);
        if (sh_ < 0 || sw_ < 0 || sh_ / p.g.sh + 1 != p.g.OH || sw_ / p.g.sw + 1 != p.g.OW) {
            pixl__ctx_fail(ctx, PIXL_ERR_UNSUPPORTED,
                          "%s: a %dx%d smoothing of guide %s does not give the kernel's %dx%d positions with kernel "
                          "%dx%d, padding (%d, %d), dilation (%d, %d) (pacnet's smoothing ignores dilation)",
                          op, p.smooth_k, p.smooth_k, pixl__tshape(guide), p.g.OH, p.g.OW, r.kh, r.kw, p.g.ph, p.g.pw,
                          r.dh, r.dw);
            return NULL;
        }
        src[ns++] = smooth_kernel;
    } else if (smooth_kernel) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "%s: smooth_kernel given but smoothing is none", op);
        return NULL;
    }
    if (p.inv) {
        if (!inv_alpha || !inv_lambda || inv_alpha->dtype != PIXL_F32 || inv_lambda->dtype != PIXL_F32 ||
            inv_alpha->numel != inv_lambda->numel || (inv_alpha->numel != 1 && inv_alpha->numel != p.Ck)) {
            pixl__ctx_fail(ctx, PIXL_ERR_ARG, "%s: inv kernel needs f32 inv_alpha and inv_lambda of %d or 1 values, got %s and %s",
                          op, p.Ck, inv_alpha ? pixl__tshape(inv_alpha) : "NULL",
                          inv_lambda ? pixl__tshape(inv_lambda) : "NULL");
            return NULL;
        }
        p.n_alpha = (int)inv_alpha->numel;
        src[ns++] = inv_alpha;
        src[ns++] = inv_lambda;
    } else if (inv_alpha || inv_lambda) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "%s: inv_alpha/inv_lambda given for a gaussian kernel", op);
        return NULL;
    }
    int64_t shape[5] = {p.B, p.Ck, T_of(&p.g), p.g.OH, p.g.OW};
    pixl_tensor *out = pixl__node_new(ctx, &packernel2d_def, PIXL_F32, 5, shape, src, ns, &p, sizeof p);
    return out;
}

pixl_tensor *pixl_packernel2d_mask(pixl_ctx *ctx, pixl_tensor *kernel)
{
    if (!ctx || !kernel) return NULL;
    if (kernel->def != &packernel2d_def || kernel->ctx != ctx) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "packernel2d_mask: %s is not a packernel2d node of this context",
                      pixl__tshape(kernel));
        return NULL;
    }
    pk_p *p = PIXL_PARAMS(kernel, pk_p);
    if (!p->has_mask) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "packernel2d_mask: kernel %s was built without a mask (pacnet returns none)",
                      pixl__tshape(kernel));
        return NULL;
    }
    int64_t shape[4] = {p->B, p->Ck, p->g.OH, p->g.OW};
    pixl_tensor *t = pixl__node_new(ctx, &packernel2d_mask_def, PIXL_F32, 4, shape, &kernel, 1, NULL, 0);
    if (!t) return NULL;
    p->want_mask = 1;
    t->flags |= PIXL_FLAG_VIEW;
    t->view_of = kernel;
    t->view_aux = 1;
    return t;
}

/* ------------------------------------------------------- pacconv (full W) */

typedef struct pc_p {
    pac_geom g;
    int B, C, O;
    int transposed, shared, pool, has_bias, Ck;
    int slots; /* scratch slabs (threads at build time) */
} pc_p;

_Static_assert(sizeof(pc_p) <= PIXL_OP_PARAMS_BYTES, "pc_p too large");

#define PC_FWD_FLOATS (256 * 1024)
#define PC_BWD_FLOATS (512 * 1024)
#define PC_MAX_CHUNKS 16
#define PH_MAXK 64
#define PC_PAR_MACS (1 << 20) /* fork threads only above this many multiply-adds */

static int64_t pc_CT(const pc_p *p) { return (int64_t)p->C * T_of(&p->g); }

/* PHASES. With a stride-uh/uw transposed geometry only the taps with
 * (oy - ph + i*dh) % uh == 0 reach a real input sample, and which ones
 * depends on oy % uh only. Each output phase (py, px) is an ordinary
 * convolution over m, n (oy = py + uh*m, ox = px + uw*n) with its own tap
 * subset and source offsets: src row = m*ay + offy[a]. The ordinary
 * geometry is one phase with ay = sh. Nothing multiplies the inserted
 * zeros (pacnet's native path spends 3/4 of a stride-2 layer on them). */
typedef struct pc_phase {
    int OHp, OWp, py, px, qy, qx, ay, ax, nti, ntj;
    int ti[PH_MAXK], tj[PH_MAXK], offy[PH_MAXK], offx[PH_MAXK];
} pc_phase;

static int n_phases(const pac_geom *g) { return g->uh * g->uw; }

static void phase_dim(int O, int k, int q, int s, int pad, int K, int d, int u, int *Op, int *nt, int *ti, int *off)
{
    /* q: phase residue, u: up-sampling; s: source stride (1 when u > 1) */
    *Op = u == 1 ? O : (q < O ? (O - q + u - 1) / u : 0);
    *nt = 0;
    for (int i = 0; i < K; i++) {
        int64_t v = (int64_t)q - pad + (int64_t)i * d;
        if (u > 1 && ((v % u) + u) % u) continue;
        ti[*nt] = i;
        off[*nt] = (int)(u > 1 ? v / u : v);
        (*nt)++;
    }
    (void)k;
    (void)s;
}

static void phase_of(const pac_geom *g, int k, pc_phase *ph)
{
    ph->py = k / g->uw;
    ph->px = k % g->uw;
    ph->qy = g->uh;
    ph->qx = g->uw;
    ph->ay = g->uh > 1 ? 1 : g->sh;
    ph->ax = g->uw > 1 ? 1 : g->sw;
    phase_dim(g->OH, k, ph->py, g->sh, g->ph, g->KH, g->dh, g->uh, &ph->OHp, &ph->nti, ph->ti, ph->offy);
    phase_dim(g->OW, k, ph->px, g->sw, g->pw, g->KW, g->dw, g->uw, &ph->OWp, &ph->ntj, ph->tj, ph->offx);
}

static int64_t ph_CT(const pc_p *p, const pc_phase *ph) { return (int64_t)p->C * ph->nti * ph->ntj; }

static int64_t ph_rows(const pc_phase *ph, int64_t CTp, int64_t budget)
{
    int64_t per = CTp * ph->OWp, r = per > 0 ? budget / per : ph->OHp;
    if (r < 1) r = 1;
    if (r > ph->OHp) r = ph->OHp;
    return r;
}

/* forward slab: col (CTp, L) + y block (O, L); backward: colx, G (CTp, L), dy block (O, L), dW block (O, CTp) */
static int64_t ph_slab(const pc_p *p, const pc_phase *ph, int bwd)
{
    int64_t CTp = ph_CT(p, ph), L = ph_rows(ph, CTp, bwd ? PC_BWD_FLOATS : PC_FWD_FLOATS) * ph->OWp;
    return bwd ? 2 * CTp * L + (int64_t)p->O * L + (int64_t)p->O * CTp : CTp * L + (int64_t)p->O * L;
}

/* chunks of phase rows for the backward: chunks two apart touch disjoint source rows */
static int ph_chunks(const pc_phase *ph)
{
    int lo = 0, hi = 0;
    for (int a = 0; a < ph->nti; a++) {
        if (a == 0 || ph->offy[a] < lo) lo = ph->offy[a];
        if (a == 0 || ph->offy[a] > hi) hi = ph->offy[a];
    }
    for (int nch = PC_MAX_CHUNKS < ph->OHp ? PC_MAX_CHUNKS : ph->OHp; nch > 1; nch--) {
        int64_t minlen = ph->OHp / nch;
        if ((int64_t)(hi - lo) < (minlen + 1) * ph->ay) return nch;
    }
    return 1;
}

/* col (C*nti*ntj, nr*OWp) of phase rows [m0, m0+nr) of one image x (C, SH, SW), times the
 * kernel kb (T, OH*OW) when non-NULL */
static void ph_cols(const pac_geom *g, const pc_phase *ph, int64_t C, const float *x, const float *kb, int64_t m0,
                    int64_t nr, float *col)
{
    const int64_t L = nr * ph->OWp, OHW = OHW_of(g), SHW = SHW_of(g), nt = (int64_t)ph->nti * ph->ntj;
    for (int64_t c = 0; c < C; c++)
        for (int64_t ab = 0; ab < nt; ab++) {
            int a = (int)(ab / ph->ntj), b = (int)(ab % ph->ntj);
            int64_t t = (int64_t)ph->ti[a] * g->KW + ph->tj[b], lo, hi;
            x_range(ph->offx[b], ph->ax, g->SW, ph->OWp, &lo, &hi);
            for (int64_t r = 0; r < nr; r++) {
                float *out = col + (c * nt + ab) * L + r * ph->OWp;
                int64_t m = m0 + r, sy = m * ph->ay + ph->offy[a];
                if (sy < 0 || sy >= g->SH || lo >= hi) {
                    memset(out, 0, sizeof(float) * (size_t)ph->OWp);
                    continue;
                }
                const float *row = x + c * SHW + sy * g->SW + ph->offx[b];
                const float *kr = kb ? kb + t * OHW + (ph->py + ph->qy * m) * g->OW + ph->px : NULL;
                for (int64_t n = 0; n < lo; n++) out[n] = 0.0f;
                if (ph->ax == 1 && ph->qx == 1) {
                    if (kr)
                        for (int64_t n = lo; n < hi; n++) out[n] = kr[n] * row[n];
                    else
                        for (int64_t n = lo; n < hi; n++) out[n] = row[n];
                } else {
                    for (int64_t n = lo; n < hi; n++)
                        out[n] = (kr ? kr[n * ph->qx] : 1.0f) * row[n * ph->ax];
                }
                for (int64_t n = hi; n < ph->OWp; n++) out[n] = 0.0f;
            }
        }
}

/* dx (C, SH, SW) += adjoint of ph_cols with the kernel: serial, fixed order */
static void ph_scatter(const pac_geom *g, const pc_phase *ph, int64_t C, const float *col, const float *kb,
                       int64_t m0, int64_t nr, float *dx)
{
    const int64_t L = nr * ph->OWp, OHW = OHW_of(g), SHW = SHW_of(g), nt = (int64_t)ph->nti * ph->ntj;
    for (int64_t c = 0; c < C; c++)
        for (int64_t ab = 0; ab < nt; ab++) {
            int a = (int)(ab / ph->ntj), b = (int)(ab % ph->ntj);
            int64_t t = (int64_t)ph->ti[a] * g->KW + ph->tj[b], lo, hi;
            x_range(ph->offx[b], ph->ax, g->SW, ph->OWp, &lo, &hi);
            for (int64_t r = 0; r < nr; r++) {
                int64_t m = m0 + r, sy = m * ph->ay + ph->offy[a];
                if (sy < 0 || sy >= g->SH) continue;
                float *row = dx + c * SHW + sy * g->SW + ph->offx[b];
                const float *v = col + (c * nt + ab) * L + r * ph->OWp;
                const float *kr = kb + t * OHW + (ph->py + ph->qy * m) * g->OW + ph->px;
                if (ph->ax == 1 && ph->qx == 1)
                    for (int64_t n = lo; n < hi; n++) row[n] += kr[n] * v[n];
                else
                    for (int64_t n = lo; n < hi; n++) row[n * ph->ax] += kr[n * ph->qx] * v[n];
            }
        }
}

/* Wp (O, CTp): the phase's columns of Wm (O, C*T) */
static void ph_weight(const pc_p *p, const pc_phase *ph, const float *wm, float *wp)
{
    const int64_t T = T_of(&p->g), CT = pc_CT(p), CTp = ph_CT(p, ph), nt = (int64_t)ph->nti * ph->ntj;
    for (int64_t o = 0; o < p->O; o++)
        for (int64_t c = 0; c < p->C; c++)
            for (int64_t ab = 0; ab < nt; ab++) {
                int a = (int)(ab / ph->ntj), b = (int)(ab % ph->ntj);
                wp[o * CTp + c * nt + ab] = wm[o * CT + c * T + (int64_t)ph->ti[a] * p->g.KW + ph->tj[b]];
            }
}

/* work: [Wm (O*CT), transposed][Wp (O*CT)][dW partials (PC_MAX_CHUNKS * O*CT), bwd][slots slabs] */
/* the forward as an implicit gemm with the kernel applied in registers (kernels/im2col.c):
 * ordinary geometry, full filters, AVX-512 */
static int pc_fast(const pc_p *p, pixl_conv_shape *s)
{
    if (p->transposed || p->shared || p->pool || n_phases(&p->g) != 1 || !pixl__conv_fast_enabled() ||
        pc_CT(p) > PIXL_CONV_KC_MAX)
        return 0;
    const pac_geom *g = &p->g;
    *s = (pixl_conv_shape){.N = p->B, .Cb = p->C, .H = g->SH, .W = g->SW, .Cs = p->O, .OH = g->OH, .OW = g->OW,
                           .KH = g->KH, .KW = g->KW, .sh = g->sh, .sw = g->sw, .ph = g->ph, .pw = g->pw,
                           .dh = g->dh, .dw = g->dw, .G = 1};
    return 1;
}

static size_t pc_work_bytes(const pixl_tensor *n)
{
    const pc_p *p = PIXL_PARAMS(n, pc_p);
    pixl_conv_shape cs;
    size_t fast = pc_fast(p, &cs) ? sizeof(float) * pixl__pac_fast_fwd_floats(&cs) + 64 : 0;
    if (fast && !(n->flags & PIXL_FLAG_NEEDS_GRAD)) return fast;
    if (p->shared || p->pool) return sizeof(float) * (size_t)((int64_t)p->slots * p->g.OW);
    int64_t CT = pc_CT(p), fixed = (p->transposed ? 2 : 1) * p->O * CT, slab = 0;
    int bwd = (n->flags & PIXL_FLAG_NEEDS_GRAD) != 0;
    for (int k = 0; k < n_phases(&p->g); k++) {
        pc_phase ph;
        phase_of(&p->g, k, &ph);
        int64_t f = ph_slab(p, &ph, 0), b = bwd ? ph_slab(p, &ph, 1) : 0;
        if (f > slab) slab = f;
        if (b > slab) slab = b;
    }
    if (bwd) fixed += (int64_t)PC_MAX_CHUNKS * p->O * CT;
    size_t full = sizeof(float) * (size_t)(fixed + (int64_t)p->slots * slab + 16);
    return full > fast ? full : fast;
}

/* Wm (O, C*T) from the transposed layout W (C, O, T) */
static void permute_w(const pc_p *p, const float *w, float *wm)
{
    const int64_t T = T_of(&p->g);
    for (int64_t c = 0; c < p->C; c++)
        for (int64_t o = 0; o < p->O; o++) memcpy(wm + (o * p->C + c) * T, w + (c * p->O + o) * T, sizeof(float) * (size_t)T);
}

static int threads_of(const pc_p *p)
{
    int nt = pixl_num_threads();
    return nt > p->slots ? p->slots : nt;
}

static void pc_full_fwd(pixl_tensor *n)
{
    const pc_p *p = PIXL_PARAMS(n, pc_p);
    const pac_geom *g = &p->g;
    const float *x = pixl_f32(n->src[0]), *K = pixl_f32(n->src[1]), *w = pixl_f32(n->src[2]);
    const float *bias = p->has_bias ? pixl_f32(n->src[3]) : NULL;
    const int64_t CT = pc_CT(p), OHW = OHW_of(g), SHW = SHW_of(g), T = T_of(g);
    float *y = pixl_f32(n), *work = n->work;
    pixl_conv_shape cs;
    if (pc_fast(p, &cs)) {
        float *wk = (float *)(((uintptr_t)work + 63) & ~(uintptr_t)63);
        pixl__pac_fast_fwd(&cs, x, K, p->Ck, w, y, wk);
        if (bias) {
#pragma omp parallel for schedule(static) num_threads(pixl_num_threads()) if (p->B * p->O * OHW > (1 << 16))
            for (int64_t bo = 0; bo < p->B * p->O; bo++) {
                float bv = bias[bo % p->O], *yr = y + bo * OHW;
                for (int64_t i = 0; i < OHW; i++) yr[i] += bv;
            }
        }
        return;
    }
    const float *wm = w;
    if (p->transposed) {
        permute_w(p, w, work);
        wm = work;
        work += p->O * CT;
    }
    float *wp = work;
    work += p->O * CT;
    int nt = threads_of(p);
    if ((int64_t)p->B * p->O * CT * OHW < PC_PAR_MACS) nt = 1;
    if (n_phases(g) > 1) /* output positions no tap reaches: the bias alone */
        for (int64_t bo = 0; bo < p->B * p->O; bo++)
            for (int64_t i = 0; i < OHW; i++) y[bo * OHW + i] = bias ? bias[bo % p->O] : 0.0f;
    for (int k = 0; k < n_phases(g); k++) {
        pc_phase ph;
        phase_of(g, k, &ph);
        if (ph.OHp == 0 || ph.OWp == 0) continue;
        const int64_t CTp = ph_CT(p, &ph), nr = ph_rows(&ph, CTp, PC_FWD_FLOATS), slab = ph_slab(p, &ph, 0);
        const int64_t nblk = (ph.OHp + nr - 1) / nr, nall = p->B * nblk;
        if (CTp == 0) continue;
        ph_weight(p, &ph, wm, wp);
        /* threads own whole row blocks: each output element is written by one gemm */
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1 && nall > 1)
        for (int64_t q = 0; q < nall; q++) {
            int64_t b = q / nblk, m0 = (q % nblk) * nr, r = nr < ph.OHp - m0 ? nr : ph.OHp - m0, L = r * ph.OWp;
            float *col = work + (int64_t)omp_get_thread_num() * slab, *yt = col + CTp * L;
            ph_cols(g, &ph, p->C, x + b * p->C * SHW, K + b * T * OHW, m0, r, col);
            pixl__gemm_f32(0, 0, p->O, L, CTp, 1.0f, wp, CTp, col, L, 0.0f, yt, L);
            for (int64_t o = 0; o < p->O; o++) {
                float bv = bias ? bias[o] : 0.0f;
                for (int64_t rr = 0; rr < r; rr++) {
                    float *dst = y + (b * p->O + o) * OHW + (ph.py + ph.qy * (m0 + rr)) * g->OW + ph.px;
                    const float *src = yt + o * L + rr * ph.OWp;
                    if (ph.qx == 1)
                        for (int64_t j = 0; j < ph.OWp; j++) dst[j] = src[j] + bv;
                    else
                        for (int64_t j = 0; j < ph.OWp; j++) dst[j * ph.qx] = src[j] + bv;
                }
            }
        }
    }
}

static void bias_grad(const float *dy, float *db, int64_t B, int64_t O, int64_t L)
{
#pragma omp parallel for schedule(static) num_threads(pixl_num_threads()) if (B * O * L > PAR_MIN)
    for (int64_t o = 0; o < O; o++) {
        double acc = 0;
        for (int64_t b = 0; b < B; b++) {
            const float *row = dy + (b * O + o) * L;
            double r = 0;
            for (int64_t i = 0; i < L; i++) r += row[i];
            acc += r;
        }
        db[o] += (float)acc;
    }
}

/* one chunk [lo, hi) of phase rows of image b: blocks in order, all serial */
static void pc_bwd_chunk(const pc_p *p, const pc_phase *ph, const float *xb, const float *kb, const float *dyb,
                         const float *wp, float *dxb, float *dkb, float *dwpart, int64_t lo, int64_t hi, float *slab)
{
    const pac_geom *g = &p->g;
    const int64_t OHW = OHW_of(g), T = T_of(g), CT = pc_CT(p), CTp = ph_CT(p, ph);
    const int64_t nt = (int64_t)ph->nti * ph->ntj, nr = ph_rows(ph, CTp, PC_BWD_FLOATS);
    for (int64_t m0 = lo; m0 < hi; m0 += nr) {
        int64_t r = nr < hi - m0 ? nr : hi - m0, L = r * ph->OWp;
        float *colx = slab, *G = colx + CTp * L, *dyp = G + CTp * L, *dwt = dyp + p->O * L;
        for (int64_t o = 0; o < p->O; o++) /* dy of the phase's positions */
            for (int64_t rr = 0; rr < r; rr++) {
                const float *src = dyb + o * OHW + (ph->py + ph->qy * (m0 + rr)) * g->OW + ph->px;
                float *dst = dyp + o * L + rr * ph->OWp;
                for (int64_t j = 0; j < ph->OWp; j++) dst[j] = src[j * ph->qx];
            }
        if (dkb || dwpart) ph_cols(g, ph, p->C, xb, NULL, m0, r, colx);
        if (dkb || dxb) {
            /* G (CTp, L) = Wp^T (CTp, O) . dy (O, L) */
            pixl__gemm_f32(1, 0, CTp, L, p->O, 1.0f, wp, CTp, dyp, L, 0.0f, G, L);
            if (dkb)
                for (int64_t ab = 0; ab < nt; ab++) {
                    int64_t t = (int64_t)ph->ti[ab / ph->ntj] * g->KW + ph->tj[ab % ph->ntj];
                    for (int64_t rr = 0; rr < r; rr++) {
                        float *dk = dkb + t * OHW + (ph->py + ph->qy * (m0 + rr)) * g->OW + ph->px;
                        for (int64_t c = 0; c < p->C; c++) {
                            const float *gr = G + (c * nt + ab) * L + rr * ph->OWp;
                            const float *xr = colx + (c * nt + ab) * L + rr * ph->OWp;
                            for (int64_t j = 0; j < ph->OWp; j++) dk[j * ph->qx] += gr[j] * xr[j];
                        }
                    }
                }
            if (dxb) ph_scatter(g, ph, p->C, G, kb, m0, r, dxb);
        }
        if (dwpart) {
            for (int64_t c = 0; c < p->C; c++)
                for (int64_t ab = 0; ab < nt; ab++) {
                    int64_t t = (int64_t)ph->ti[ab / ph->ntj] * g->KW + ph->tj[ab % ph->ntj];
                    for (int64_t rr = 0; rr < r; rr++) {
                        const float *kr = kb + t * OHW + (ph->py + ph->qy * (m0 + rr)) * g->OW + ph->px;
                        float *xr = colx + (c * nt + ab) * L + rr * ph->OWp;
                        for (int64_t j = 0; j < ph->OWp; j++) xr[j] *= kr[j * ph->qx];
                    }
                }
            /* dW block (O, CTp) = dy (O, L) . colx^T (L, CTp), added to the chunk's partial */
            pixl__gemm_f32(0, 1, p->O, CTp, L, 1.0f, dyp, L, colx, L, 0.0f, dwt, CTp);
            for (int64_t o = 0; o < p->O; o++)
                for (int64_t c = 0; c < p->C; c++)
                    for (int64_t ab = 0; ab < nt; ab++)
                        dwpart[o * CT + c * T + (int64_t)ph->ti[ab / ph->ntj] * g->KW + ph->tj[ab % ph->ntj]] +=
                            dwt[o * CTp + c * nt + ab];
        }
    }
}

static void pc_full_bwd(pixl_tensor *n)
{
    const pc_p *p = PIXL_PARAMS(n, pc_p);
    const pac_geom *g = &p->g;
    pixl_tensor *X = n->src[0], *Kt = n->src[1], *Wt = n->src[2], *Bt = p->has_bias ? n->src[3] : NULL;
    const float *x = pixl_f32(X), *K = pixl_f32(Kt), *w = pixl_f32(Wt), *dy = n->grad;
    const int64_t CT = pc_CT(p), OHW = OHW_of(g), SHW = SHW_of(g), T = T_of(g), OCT = p->O * CT;
    if (Bt && Bt->grad) bias_grad(dy, Bt->grad, p->B, p->O, OHW);
    if (!X->grad && !Kt->grad && !Wt->grad) return;
    float *work = n->work;
    const float *wm = w;
    if (p->transposed) {
        permute_w(p, w, work);
        wm = work;
        work += OCT;
    }
    float *wp = work;
    work += OCT;
    float *dwparts = Wt->grad ? work : NULL; /* chunk partials, summed in chunk order at the end */
    work += (int64_t)PC_MAX_CHUNKS * OCT;
    if (dwparts) memset(dwparts, 0, sizeof(float) * (size_t)(PC_MAX_CHUNKS * OCT));
    int nt = threads_of(p);
    if ((int64_t)p->B * p->O * CT * OHW < PC_PAR_MACS) nt = 1;
    for (int k = 0; k < n_phases(g); k++) {
        pc_phase ph;
        phase_of(g, k, &ph);
        if (ph.OHp == 0 || ph.OWp == 0 || ph_CT(p, &ph) == 0) continue;
        ph_weight(p, &ph, wm, wp);
        const int nch = ph_chunks(&ph);
        const int64_t slab = ph_slab(p, &ph, 1);
        for (int64_t b = 0; b < p->B; b++) {
            const float *xb = x + b * p->C * SHW, *kb = K + b * T * OHW, *dyb = dy + b * p->O * OHW;
            float *dxb = X->grad ? X->grad + b * p->C * SHW : NULL;
            float *dkb = Kt->grad ? Kt->grad + b * T * OHW : NULL;
            /* even chunks, then odd chunks: chunks of one pass touch disjoint source rows */
            for (int pass = 0; pass < 2; pass++) {
                int64_t npass = (nch - pass + 1) / 2;
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1 && npass > 1)
                for (int64_t q = 0; q < npass; q++) {
                    int c = (int)(2 * q + pass);
                    int64_t lo = (int64_t)ph.OHp * c / nch, hi = (int64_t)ph.OHp * (c + 1) / nch;
                    pc_bwd_chunk(p, &ph, xb, kb, dyb, wp, dxb, dkb, dwparts ? dwparts + (int64_t)c * OCT : NULL, lo,
                                 hi, work + (int64_t)omp_get_thread_num() * slab);
                }
            }
        }
    }
    if (dwparts) {
        float *dW = Wt->grad;
#pragma omp parallel for schedule(static) num_threads(pixl_num_threads()) if (OCT * PC_MAX_CHUNKS > PAR_MIN)
        for (int64_t e = 0; e < OCT; e++) {
            float s = 0.0f;
            for (int c = 0; c < PC_MAX_CHUNKS; c++) s += dwparts[(int64_t)c * OCT + e];
            if (!p->transposed) dW[e] += s;
            else { /* e = (o, c, t) of Wm -> (c, o, t) of W */
                int64_t o = e / CT, c = (e % CT) / T, t = e % T;
                dW[(c * p->O + o) * T + t] += s;
            }
        }
    }
}

/* ------------------------------------------- direct: shared filters, pool */

/* y[b,c,p] = sum_t wt[t] K[b, c|0, t, p] x[b, c, src] (+ bias[c]) */
static void pc_direct_fwd(pixl_tensor *n)
{
    const pc_p *p = PIXL_PARAMS(n, pc_p);
    const pac_geom *g = &p->g;
    const float *x = pixl_f32(n->src[0]), *K = pixl_f32(n->src[1]);
    const float *wt = p->shared ? pixl_f32(n->src[2]) : NULL;
    const float *bias = p->has_bias ? pixl_f32(n->src[3]) : NULL;
    const int64_t OHW = OHW_of(g), SHW = SHW_of(g), T = T_of(g);
    float *y = pixl_f32(n);
    int nt = pixl_num_threads() < p->slots ? pixl_num_threads() : p->slots;
#pragma omp parallel num_threads(nt) if (nt > 1 && (int64_t)p->B * p->C * OHW * T > PAR_MIN)
    {
        float *tmp = (float *)n->work + (int64_t)omp_get_thread_num() * g->OW;
#pragma omp for schedule(static)
        for (int64_t bc = 0; bc < (int64_t)p->B * p->C; bc++) {
            int64_t b = bc / p->C, c = bc % p->C;
            const float *xp = x + bc * SHW, *kb = K + (b * p->Ck + (p->Ck > 1 ? c : 0)) * T * OHW;
            float *yp = y + bc * OHW;
            float b0 = bias ? bias[c] : 0.0f;
            for (int64_t i = 0; i < OHW; i++) yp[i] = 0.0f;
            for (int64_t t = 0; t < T; t++) {
                float wv = wt ? wt[t] : 1.0f;
                int i = (int)(t / g->KW), j = (int)(t % g->KW);
                for (int64_t oy = 0; oy < g->OH; oy++) {
                    gather_row(g, xp, oy, i, j, kb + t * OHW + oy * g->OW, tmp);
                    float *yr = yp + oy * g->OW;
                    for (int64_t ox = 0; ox < g->OW; ox++) yr[ox] += wv * tmp[ox];
                }
            }
            if (bias)
                for (int64_t i = 0; i < OHW; i++) yp[i] += b0;
        }
    }
}

static void pc_direct_bwd(pixl_tensor *n)
{
    const pc_p *p = PIXL_PARAMS(n, pc_p);
    const pac_geom *g = &p->g;
    pixl_tensor *X = n->src[0], *Kt = n->src[1], *Wt = p->shared ? n->src[2] : NULL;
    pixl_tensor *Bt = p->has_bias ? n->src[3] : NULL;
    const float *x = pixl_f32(X), *K = pixl_f32(Kt), *wt = Wt ? pixl_f32(Wt) : NULL, *dy = n->grad;
    const int64_t OHW = OHW_of(g), SHW = SHW_of(g), T = T_of(g);
    if (Bt && Bt->grad) bias_grad(dy, Bt->grad, p->B, p->C, OHW);
    int nt = pixl_num_threads() < p->slots ? pixl_num_threads() : p->slots;
    if (X->grad) {
#pragma omp parallel num_threads(nt) if (nt > 1 && (int64_t)p->B * p->C * OHW * T > PAR_MIN)
        {
            float *tmp = (float *)n->work + (int64_t)omp_get_thread_num() * g->OW;
#pragma omp for schedule(static)
            for (int64_t bc = 0; bc < (int64_t)p->B * p->C; bc++) {
                int64_t b = bc / p->C, c = bc % p->C;
                const float *kb = K + (b * p->Ck + (p->Ck > 1 ? c : 0)) * T * OHW, *dyp = dy + bc * OHW;
                float *dxp = X->grad + bc * SHW;
                for (int64_t t = 0; t < T; t++) {
                    float wv = wt ? wt[t] : 1.0f;
                    int i = (int)(t / g->KW), j = (int)(t % g->KW);
                    for (int64_t oy = 0; oy < g->OH; oy++) {
                        const float *dr = dyp + oy * g->OW;
                        for (int64_t ox = 0; ox < g->OW; ox++) tmp[ox] = wv * dr[ox];
                        scatter_row(g, dxp, oy, i, j, kb + t * OHW + oy * g->OW, tmp);
                    }
                }
            }
        }
    }
    float *dK = Kt->grad, *dW = Wt ? Wt->grad : NULL;
    if (!dK && !dW) return;
    /* one tap per thread: e = x[src] * dy, dK += wt e, dW[t] += sum K e */
#pragma omp parallel num_threads(nt) if (nt > 1 && (int64_t)p->B * p->C * OHW * T > PAR_MIN)
    {
        float *tmp = (float *)n->work + (int64_t)omp_get_thread_num() * g->OW;
#pragma omp for schedule(static)
        for (int64_t t = 0; t < T; t++) {
            int i = (int)(t / g->KW), j = (int)(t % g->KW);
            float wv = wt ? wt[t] : 1.0f;
            double acc = 0;
            for (int64_t b = 0; b < p->B; b++)
                for (int64_t c = 0; c < p->C; c++) {
                    int64_t kc = p->Ck > 1 ? c : 0;
                    const float *xp = x + (b * p->C + c) * SHW, *dyp = dy + (b * p->C + c) * OHW;
                    const float *kr = K + ((b * p->Ck + kc) * T + t) * OHW;
                    float *dkr = dK ? dK + ((b * p->Ck + kc) * T + t) * OHW : NULL;
                    for (int64_t oy = 0; oy < g->OH; oy++) {
                        gather_row(g, xp, oy, i, j, NULL, tmp);
                        const float *dr = dyp + oy * g->OW, *kk = kr + oy * g->OW;
                        if (dkr) {
                            float *d = dkr + oy * g->OW;
                            for (int64_t ox = 0; ox < g->OW; ox++) d[ox] += wv * tmp[ox] * dr[ox];
                        }
                        if (dW) {
                            float s = 0.0f;
                            for (int64_t ox = 0; ox < g->OW; ox++) s += kk[ox] * tmp[ox] * dr[ox];
                            acc += s;
                        }
                    }
                }
            if (dW) dW[t] += (float)acc;
        }
    }
}

static int pc_fwd(pixl_tensor *n)
{
    const pc_p *p = PIXL_PARAMS(n, pc_p);
    if (p->shared || p->pool) pc_direct_fwd(n);
    else pc_full_fwd(n);
    return PIXL_OK;
}

static int pc_bwd(pixl_tensor *n)
{
    const pc_p *p = PIXL_PARAMS(n, pc_p);
    if (p->shared || p->pool) pc_direct_bwd(n);
    else pc_full_bwd(n);
    return PIXL_OK;
}

static const pixl_op_def pacconv2d_def = {.name = "pacconv2d", .fwd = pc_fwd, .bwd = pc_bwd, .work_bytes = pc_work_bytes};
static const pixl_op_def pacconv_t_def = {
    .name = "pacconv_transpose2d", .fwd = pc_fwd, .bwd = pc_bwd, .work_bytes = pc_work_bytes};
static const pixl_op_def pacpool2d_def = {.name = "pacpool2d", .fwd = pc_fwd, .bwd = pc_bwd, .work_bytes = pc_work_bytes};

/* kernel (B, Ck, T, OH, OW) must match */
static int check_kernel(pixl_ctx *ctx, const char *op, const pixl_tensor *k, const pc_p *p, int allow_c,
                        const pixl_tensor *x)
{
    if (k->dtype != PIXL_F32 || k->ndim != 5 || k->shape[0] != p->B ||
        !(k->shape[1] == 1 || (allow_c && k->shape[1] == p->C)) || k->shape[2] != T_of(&p->g) ||
        k->shape[3] != p->g.OH || k->shape[4] != p->g.OW) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "%s: kernel %s must be [%d, 1%s, %lld, %d, %d] for input %s", op,
                      pixl__tshape(k), p->B, allow_c ? " or C" : "", (long long)T_of(&p->g), p->g.OH, p->g.OW,
                      pixl__tshape(x));
        return -1;
    }
    return 0;
}

static pixl_tensor *pac_conv_common(pixl_ctx *ctx, int transposed, pixl_tensor *x, pixl_tensor *kernel,
                                    pixl_tensor *w, pixl_tensor *b, const pixl_pac_opts *o)
{
    const char *op = transposed ? "pacconv_transpose2d" : "pacconv2d";
    if (!ctx || pixl__any_null(3, x, kernel, w)) return NULL;
    pixl_pac_opts d = o ? *o : (pixl_pac_opts){0};
    if (!is_f32_4d(ctx, op, "input", x) || !is_f32_4d(ctx, op, "weight", w)) return NULL;
    pac_o r;
    if (read_pac_opts(ctx, op, &d, (int)w->shape[2], (int)w->shape[3], transposed, &r)) return NULL;
    pc_p p = {0};
    p.B = (int)x->shape[0];
    p.C = (int)x->shape[1];
    p.transposed = transposed;
    p.shared = d.shared_filters != 0;
    if (p.shared) {
        if (w->shape[0] != 1 || w->shape[1] != 1) {
            pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "%s: shared_filters needs weight [1, 1, kh, kw], got %s", op,
                          pixl__tshape(w));
            return NULL;
        }
        p.O = p.C;
    } else {
        int64_t wc = transposed ? w->shape[0] : w->shape[1], wo = transposed ? w->shape[1] : w->shape[0];
        if (wc != p.C) {
            pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "%s: input %s has %d channels but weight %s %s expects %lld", op,
                          pixl__tshape(x), p.C, pixl__tshape(w), transposed ? "(in, out, kh, kw)" : "(out, in, kh, kw)",
                          (long long)wc);
            return NULL;
        }
        p.O = (int)wo;
    }
    if (transposed ? geom_transposed(ctx, op, &r, x->shape[2], x->shape[3], &p.g)
                   : geom_conv(ctx, op, &r, x->shape[2], x->shape[3], &p.g))
        return NULL;
    if (check_kernel(ctx, op, kernel, &p, 0, x)) return NULL;
    if (b && (b->dtype != PIXL_F32 || b->ndim != 1 || b->shape[0] != p.O)) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "%s: bias %s must be [%d] for weight %s", op, pixl__tshape(b), p.O,
                      pixl__tshape(w));
        return NULL;
    }
    p.has_bias = b != NULL;
    p.Ck = 1;
    p.slots = pixl__ctx_threads(ctx);
    if (p.g.KH > PH_MAXK || p.g.KW > PH_MAXK) {
        pixl__ctx_fail(ctx, PIXL_ERR_UNSUPPORTED, "%s: kernel %dx%d larger than %d", op, p.g.KH, p.g.KW, PH_MAXK);
        return NULL;
    }
    int64_t shape[4] = {p.B, p.O, p.g.OH, p.g.OW};
    pixl_tensor *src[4] = {x, kernel, w, b};
    return pixl__node_new(ctx, transposed ? &pacconv_t_def : &pacconv2d_def, PIXL_F32, 4, shape, src, b ? 4 : 3, &p,
                         sizeof p);
}

pixl_tensor *pixl_pacconv2d(pixl_ctx *ctx, pixl_tensor *x, pixl_tensor *kernel, pixl_tensor *w, pixl_tensor *b,
                            const pixl_pac_opts *o)
{
    return pac_conv_common(ctx, 0, x, kernel, w, b, o);
}

pixl_tensor *pixl_pacconv_transpose2d(pixl_ctx *ctx, pixl_tensor *x, pixl_tensor *kernel, pixl_tensor *w,
                                      pixl_tensor *b, const pixl_pac_opts *o)
{
    return pac_conv_common(ctx, 1, x, kernel, w, b, o);
}

pixl_tensor *pixl_pacpool2d(pixl_ctx *ctx, pixl_tensor *x, pixl_tensor *kernel, const pixl_pac_opts *o)
{
    const char *op = "pacpool2d";
    if (!ctx || pixl__any_null(2, x, kernel)) return NULL;
    pixl_pac_opts d = o ? *o : (pixl_pac_opts){0};
    if (!is_f32_4d(ctx, op, "input", x)) return NULL;
    pac_o r;
    if (read_pac_opts(ctx, op, &d, d.kernel[0], d.kernel[1], 0, &r)) return NULL;
    pc_p p = {0};
    p.B = (int)x->shape[0];
    p.C = p.O = (int)x->shape[1];
    p.pool = 1;
    if (geom_conv(ctx, op, &r, x->shape[2], x->shape[3], &p.g)) return NULL;
    if (check_kernel(ctx, op, kernel, &p, 1, x)) return NULL;
    p.Ck = (int)kernel->shape[1];
    p.slots = pixl__ctx_threads(ctx);
    int64_t shape[4] = {p.B, p.C, p.g.OH, p.g.OW};
    pixl_tensor *src[2] = {x, kernel};
    return pixl__node_new(ctx, &pacpool2d_def, PIXL_F32, 4, shape, src, 2, &p, sizeof p);
}

/* ------------------------------------------------------------- parsing */

/* "inv_{alpha}_{lambda}[_asym][_fixed]" is split into pixl_pac_set's keys
 * (kernel_type, inv_alpha, inv_lambda, asym, fixed): one set of checks. */
int pixl_pac_parse_kernel_type(const char *s, pixl_pac_opts *o)
{
    if (!s || !o) return pixl_set_error(PIXL_ERR_ARG, "pac kernel_type: NULL argument");
    pixl_pac_opts t = *o;
    int rc = pixl_pac_set(&t, "asym", "false") || pixl_pac_set(&t, "fixed", "false");
    if (!rc && !strcmp(s, "gaussian")) {
        rc = pixl_pac_set(&t, "kernel_type", "gaussian");
    } else if (!rc && !strncmp(s, "inv_", 4)) {
        char buf[128];
        snprintf(buf, sizeof buf, "%s", s + 4);
        char *tok[4] = {0}, *save = NULL;
        int nt = 0;
        for (char *q = strtok_r(buf, "_", &save); q && nt < 4; q = strtok_r(NULL, "_", &save)) tok[nt++] = q;
        rc = nt < 2 || pixl_pac_set(&t, "kernel_type", "inv") || pixl_pac_set(&t, "inv_alpha", tok[0]) ||
             pixl_pac_set(&t, "inv_lambda", tok[1]);
        for (int i = 2; i < nt && !rc; i++) {
            int dup = (!strcmp(tok[i], "asym") && t.asym) || (!strcmp(tok[i], "fixed") && t.fixed);
            rc = dup || (strcmp(tok[i], "asym") && strcmp(tok[i], "fixed")) || pixl_pac_set(&t, tok[i], "true");
        }
    } else {
        rc = 1;
    }
    if (rc)
        return pixl_set_error(PIXL_ERR_ARG, "pac kernel_type '%s': expected 'gaussian' or 'inv_{alpha}_{lambda}[_asym][_fixed]'", s);
    *o = t;
    return PIXL_OK;
}

/* "none" | "gaussian" | "average_{s}" | "full_{s}" is split into
 * pixl_pac_set's keys (smooth, smooth_size); the odd size is this name's rule */
int pixl_pac_parse_smooth(const char *s, pixl_pac_opts *o)
{
    if (!s || !o) return pixl_set_error(PIXL_ERR_ARG, "pac smooth_kernel_type: NULL argument");
    pixl_pac_opts t = *o;
    int rc;
    if (!strcmp(s, "none")) {
        rc = pixl_pac_set(&t, "smooth", "none") || pixl_pac_set(&t, "smooth_size", "0");
    } else if (!strcmp(s, "gaussian")) {
        rc = pixl_pac_set(&t, "smooth", "gaussian") || pixl_pac_set(&t, "smooth_size", "3");
    } else {
        int full = !strncmp(s, "full_", 5), avg = !strncmp(s, "average_", 8);
        if (!full && !avg)
            return pixl_set_error(PIXL_ERR_ARG,
                                  "pac smooth_kernel_type '%s': expected 'none', 'gaussian', 'average_{s}' or 'full_{s}'",
                                  s);
        const char *num = s + (full ? 5 : 8);
        char *e, size[16];
        long v = strtol(num, &e, 10);
        if (*e || e == num || v < 1 || v > 99 || v % 2 == 0)
            return pixl_set_error(PIXL_ERR_ARG, "pac smooth_kernel_type '%s': the size must be odd (1..99)", s);
        snprintf(size, sizeof size, "%ld", v);
        rc = pixl_pac_set(&t, "smooth", full ? "full" : "average") || pixl_pac_set(&t, "smooth_size", size);
    }
    if (rc) {
        char why[512];
        snprintf(why, sizeof why, "%s", pixl_last_error());
        return pixl_set_error(PIXL_ERR_ARG, "pac smooth_kernel_type '%s': %s", s, why);
    }
    *o = t;
    return PIXL_OK;
}

/* the filler's name is the value of pixl_pac_set's key filler (pacnet's
 * names, in lower case as pacnet writes them) */
int pixl_pac_parse_filler(const char *s, pixl_pac_opts *o)
{
    if (!s || !o) return pixl_set_error(PIXL_ERR_ARG, "pac filler: NULL argument");
    int lower = 1;
    for (const char *p = s; *p; p++) lower &= !(*p >= 'A' && *p <= 'Z');
    pixl_pac_opts t = *o;
    if (lower && !pixl_pac_set(&t, "filler", s)) {
        *o = t;
        return PIXL_OK;
    }
    return pixl_set_error(PIXL_ERR_ARG, "pac filler '%s': expected uniform, linear, crf, crf_perturbed, pool or crf_pool",
                          s);
}
