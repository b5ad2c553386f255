/* hypercolumn.c — PixelNet's sparse hypercolumn (Caffe's RandBI layer) and
 * its dense, chunked inference form with the MLP head fused in.
 *
 *   pixl_hypercolumn            maps[b] (N,C_b,H_b,W_b), pixels (P,3) -> (P, sum C_b)
 *   pixl_hypercolumn_mlp_dense  maps[b], MLP weights     -> (N, K, OH, OW), forward only
 *
 * GEOMETRY (per map b, stride s_b, offset o_b; PixelNet uses o_b = (s_b-1)/2,
 * the input coordinate of the centre of cell 0 of a pooled map)
 *     t = (coord - o_b) / s_b, clamped to [0, size-1]     (rows: y, H_b; columns: x, W_b)
 *     i0 = floor(t), i1 = min(i0 + 1, size - 1), r = t - i0
 *     f[c] = (1-ry)(1-rx) F[c,y0,x0] + (1-ry) rx F[c,y0,x1] + ry (1-rx) F[c,y1,x0] + ry rx F[c,y1,x1]
 * RandBI clamps negative coordinates to cell 0 as here but aborts past the
 * last row/column; pixl clamps there too. Coordinates are computed in double,
 * the four weights rounded to float once and used by forward and backward,
 * so backward is the exact transpose of forward.
 * Output row p is [map 0's C_0 channels, map 1's C_1 channels, ...].
 *
 * PIXELS: int32 or float32 (P,3) rows (n, y, x): image n of the batch (must
 * be in [0, N): pixl_forward() fails naming the row otherwise), input
 * coordinates y, x (float coordinates allow sub-pixel positions).
 *
 * DETERMINISM: forward writes row p from one task. Backward scatters into the
 * maps: pixels are grouped by image (a stable counting sort in n->work) and
 * one task owns (map, image, block of 16 channels), adding that block's
 * contributions of the image's pixels in pixel order: no two tasks touch the
 * same element and the order of additions is fixed, so the gradients have
 * the same bits for any thread count. No gradient flows to the pixels.
 *
 * DENSE: pixl_hypercolumn_mlp_dense runs the head over every output pixel in
 * chunks of `chunk` pixels: hypercolumns (chunk, D) gathered as by the sparse
 * op, then Linear(+ReLU) layers through pixl__gemm_f32, the last layer's
 * (chunk, K) scattered into (N, K, OH, OW). Layer 0 is linear and so is the
 * interpolation, so a coarse map (at least 16x fewer cells than the output,
 * and h1 <= 2 C_b) is multiplied by its block of W0 once at its own
 * resolution and pixels blend four rows of that projection instead of
 * gathering C_b channels and multiplying them again: with VGG taps this cuts
 * layer 0's work by about ten. Scratch: chunk * (gathered channels + 2 *
 * widest layer) floats plus the projections (at most twice the projected
 * maps), bounded by the trunk's own feature maps whatever the chunking.
 * Pixel (n, y, x) of the output uses input coordinates (y, x), so the result
 * equals the sparse path (pixl_hypercolumn + pixl_linear + pixl_relu) at the
 * same pixels up to float rounding (the sums are ordered differently). */
#include <math.h>
#include <omp.h>

#include "pixl_impl.h"

#define HC_MAX_MAPS PIXL_HYPERCOLUMN_MAX_MAPS
#define HC_CBLK 16 /* channels per backward task */

typedef struct hc_p {
    int n;                    /* maps */
    int pix_f32;              /* pixels are float32 */
    float stride[HC_MAX_MAPS], offset[HC_MAX_MAPS];
    int64_t N, P, D;
} hc_p;

typedef struct hc_tap { int64_t i00, i01, i10, i11; float w00, w01, w10, w11; } hc_tap;

/* the four cells and weights of input point (y, x) in a map of H x W */
static inline hc_tap hc_locate(double y, double x, float stride, float offset, int64_t H, int64_t W)
{
    double ty = (y - offset) / stride, tx = (x - offset) / stride;
    if (!(ty > 0)) ty = 0; /* also NaN */
    if (!(tx > 0)) tx = 0;
    if (ty > (double)(H - 1)) ty = (double)(H - 1);
    if (tx > (double)(W - 1)) tx = (double)(W - 1);
    int64_t y0 = (int64_t)ty, x0 = (int64_t)tx;
    int64_t y1 = y0 + (y0 < H - 1), x1 = x0 + (x0 < W - 1);
    float ry = (float)(ty - (double)y0), rx = (float)(tx - (double)x0);
    hc_tap t;
    t.i00 = y0 * W + x0;
    t.i01 = y0 * W + x1;
    t.i10 = y1 * W + x0;
    t.i11 = y1 * W + x1;
    t.w00 = (1 - ry) * (1 - rx);
    t.w01 = (1 - ry) * rx;
    t.w10 = ry * (1 - rx);
    t.w11 = ry * rx;
    return t;
}

/* hypercolumn of point (img, y, x) into out (D floats) */
static inline void hc_gather(pixl_tensor *const *maps, const hc_p *p, int64_t img, double y, double x,
                             float *restrict out)
{
    for (int b = 0; b < p->n; b++) {
        const pixl_tensor *m = maps[b];
        const int64_t C = m->shape[1], H = m->shape[2], W = m->shape[3], HW = H * W;
        const hc_tap t = hc_locate(y, x, p->stride[b], p->offset[b], H, W);
        const float *f = pixl_f32(m) + img * C * HW;
        for (int64_t c = 0; c < C; c++, f += HW)
            out[c] = t.w00 * f[t.i00] + t.w01 * f[t.i01] + t.w10 * f[t.i10] + t.w11 * f[t.i11];
        out += C;
    }
}

static inline void pixel_at(const pixl_tensor *pix, int f32, int64_t r, int64_t *img, double *y, double *x)
{
    if (f32) {
        const float *v = (const float *)pix->data + 3 * r;
        *img = isfinite(v[0]) ? (int64_t)v[0] : -1;
        if (isfinite(v[0]) && (float)*img != v[0]) *img = -1; /* not an integer */
        *y = v[1];
        *x = v[2];
    } else {
        const int32_t *v = (const int32_t *)pix->data + 3 * r;
        *img = v[0];
        *y = v[1];
        *x = v[2];
    }
}

static int bad_pixel(const pixl_tensor *n, int64_t r)
{
    const hc_p *p = PIXL_PARAMS(n, const hc_p);
    const pixl_tensor *pix = n->src[p->n];
    int64_t img;
    double y, x;
    pixel_at(pix, p->pix_f32, r, &img, &y, &x);
    if (p->pix_f32) {
        const float *v = (const float *)pix->data + 3 * r;
        return pixl_set_error(PIXL_ERR_ARG, "hypercolumn: pixel row %lld of %s names image %g; the batch has %lld",
                              (long long)r, pixl__tshape(pix), (double)v[0], (long long)p->N);
    }
    return pixl_set_error(PIXL_ERR_ARG, "hypercolumn: pixel row %lld of %s names image %lld; the batch has %lld",
                          (long long)r, pixl__tshape(pix), (long long)img, (long long)p->N);
}

static int hc_fwd(pixl_tensor *n)
{
    const hc_p *p = PIXL_PARAMS(n, const hc_p);
    const pixl_tensor *pix = n->src[p->n];
    float *y = pixl_f32(n);
    int64_t first_bad = -1;
#pragma omp parallel for schedule(static) num_threads(pixl_num_threads()) if (p->P * p->D > 32768)
    for (int64_t r = 0; r < p->P; r++) {
        int64_t img;
        double yy, xx;
        pixel_at(pix, p->pix_f32, r, &img, &yy, &xx);
        if (img < 0 || img >= p->N) {
            memset(y + r * p->D, 0, (size_t)p->D * sizeof(float));
#pragma omp critical(hc_bad)
            if (first_bad < 0 || r < first_bad) first_bad = r;
            continue;
        }
        hc_gather(n->src, p, img, yy, xx, y + r * p->D);
    }
    return first_bad >= 0 ? bad_pixel(n, first_bad) : PIXL_OK;
}

/* work: order (P int64) of pixels grouped by image, start (N+1 int64) */
static size_t hc_work(const pixl_tensor *n)
{
    const hc_p *p = PIXL_PARAMS(n, const hc_p);
    return (size_t)(p->P + p->N + 1) * sizeof(int64_t);
}

static int hc_bwd(pixl_tensor *n)
{
    const hc_p *p = PIXL_PARAMS(n, const hc_p);
    const pixl_tensor *pix = n->src[p->n];
    const float *gy = n->grad;
    int64_t *order = n->work, *start = order + p->P;
    /* stable counting sort of the rows by image (forward has checked them) */
    memset(start, 0, (size_t)(p->N + 1) * sizeof(int64_t));
    for (int64_t r = 0; r < p->P; r++) {
        int64_t img;
        double yy, xx;
        pixel_at(pix, p->pix_f32, r, &img, &yy, &xx);
        if (img < 0 || img >= p->N) return bad_pixel(n, r);
        start[img + 1]++;
    }
    for (int64_t i = 0; i < p->N; i++) start[i + 1] += start[i];
    {
        int64_t *fill = pixl__malloc((size_t)(p->N ? p->N : 1) * sizeof(int64_t));
        if (!fill) return PIXL_ERR_NOMEM;
        memcpy(fill, start, (size_t)p->N * sizeof(int64_t));
        for (int64_t r = 0; r < p->P; r++) {
            int64_t img;
            double yy, xx;
            pixel_at(pix, p->pix_f32, r, &img, &yy, &xx);
            order[fill[img]++] = r;
        }
        free(fill);
    }
    /* tasks: (map, image, channel block) */
    int64_t task0[HC_MAX_MAPS + 1], off[HC_MAX_MAPS];
    task0[0] = 0;
    for (int b = 0, d = 0; b < p->n; b++) {
        const int64_t C = n->src[b]->shape[1];
        off[b] = d;
        d += (int)C;
        task0[b + 1] = task0[b] + (n->src[b]->grad ? p->N * ((C + HC_CBLK - 1) / HC_CBLK) : 0);
    }
    const int64_t tasks = task0[p->n];
#pragma omp parallel for schedule(dynamic, 1) num_threads(pixl_num_threads()) if (tasks > 1 && p->P * p->D > 16384)
    for (int64_t t = 0; t < tasks; t++) {
        int b = 0;
        while (t >= task0[b + 1]) b++;
        const pixl_tensor *m = n->src[b];
        const int64_t C = m->shape[1], H = m->shape[2], W = m->shape[3], HW = H * W;
        const int64_t nblk = (C + HC_CBLK - 1) / HC_CBLK, local = t - task0[b];
        const int64_t img = local / nblk, c0 = (local % nblk) * HC_CBLK, c1 = c0 + HC_CBLK < C ? c0 + HC_CBLK : C;
        float *g = m->grad + img * C * HW;
        for (int64_t k = start[img]; k < start[img + 1]; k++) {
            const int64_t r = order[k];
            int64_t im;
            double yy, xx;
            pixel_at(pix, p->pix_f32, r, &im, &yy, &xx);
            const hc_tap q = hc_locate(yy, xx, p->stride[b], p->offset[b], H, W);
            const float *gr = gy + r * p->D + off[b];
            for (int64_t c = c0; c < c1; c++) {
                float v = gr[c], *gc = g + c * HW;
                gc[q.i00] += q.w00 * v;
                gc[q.i01] += q.w01 * v;
                gc[q.i10] += q.w10 * v;
                gc[q.i11] += q.w11 * v;
            }
        }
    }
    return PIXL_OK;
}

static const pixl_op_def hc_def = {.name = "hypercolumn", .fwd = hc_fwd, .bwd = hc_bwd, .work_bytes = hc_work};

/* checks shared by both builders; fills p (without P) */
static int hc_check(pixl_ctx *ctx, const char *op, int n_maps, pixl_tensor *const *maps, const float *stride,
                    const float *offset, int max_maps, hc_p *p)
{
    if (n_maps < 1 || n_maps > max_maps || !maps || !stride) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "%s: %d feature maps (1..%d) with strides required", op, n_maps, max_maps);
        return -1;
    }
    memset(p, 0, sizeof *p);
    p->n = n_maps;
    for (int b = 0; b < n_maps; b++) {
        const pixl_tensor *m = maps[b];
        if (m->dtype != PIXL_F32 || m->ndim != 4 || m->shape[2] < 1 || m->shape[3] < 1) {
            pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "%s: map %d %s must be f32 (N,C,H,W)", op, b, pixl__tshape(m));
            return -1;
        }
        if (m->shape[0] != maps[0]->shape[0]) {
            pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "%s: map %d %s and map 0 %s differ in batch size", op, b,
                          pixl__tshape(m), pixl__tshape(maps[0]));
            return -1;
        }
        if (!(stride[b] > 0) || !isfinite(stride[b]) || (offset && !isfinite(offset[b]))) {
            pixl__ctx_fail(ctx, PIXL_ERR_ARG, "%s: map %d %s: invalid stride %g / offset %g", op, b, pixl__tshape(m),
                          (double)stride[b], offset ? (double)offset[b] : 0.0);
            return -1;
        }
        p->stride[b] = stride[b];
        p->offset[b] = offset ? offset[b] : 0.5f * (stride[b] - 1);
        p->D += m->shape[1];
    }
    p->N = maps[0]->shape[0];
    return 0;
}

pixl_tensor *pixl_hypercolumn(pixl_ctx *ctx, int n_maps, pixl_tensor *const *maps, const float *stride,
                              const float *offset, pixl_tensor *pixels)
{
    if (!ctx || !pixels || !maps) return NULL;
    for (int b = 0; b < n_maps && b < HC_MAX_MAPS; b++)
        if (!maps[b]) return NULL;
    hc_p p;
    if (hc_check(ctx, "hypercolumn", n_maps, maps, stride, offset, HC_MAX_MAPS, &p)) return NULL;
    if ((pixels->dtype != PIXL_I32 && pixels->dtype != PIXL_F32) || pixels->ndim != 2 || pixels->shape[1] != 3) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "hypercolumn: pixels %s (%s) must be int32 or f32 (P, 3) rows (n, y, x)",
                      pixl__tshape(pixels), pixl_dtype_name(pixels->dtype));
        return NULL;
    }
    p.pix_f32 = pixels->dtype == PIXL_F32;
    p.P = pixels->shape[0];
    pixl_tensor *src[HC_MAX_MAPS + 1];
    for (int b = 0; b < n_maps; b++) src[b] = maps[b];
    src[n_maps] = pixels;
    int64_t shape[2] = {p.P, p.D};
    return pixl__node_new(ctx, &hc_def, PIXL_F32, 2, shape, src, n_maps + 1, &p, sizeof p);
}

/* ------------------------------------------------------------------ dense */

typedef struct hcd_p {
    hc_p hc;          /* n maps at src[0..n) */
    int layers;       /* weights at src[n + 2l], biases at src[n + 2l + 1] */
    unsigned proj;    /* bit b: map b is projected through layer 0 at its own resolution */
    int64_t OH, OW, chunk, widest;
    int64_t Dg;       /* channels gathered per pixel (maps not projected) */
    int64_t proj_floats; /* N * h1 * sum of H_b*W_b over projected maps */
} hcd_p;

/* work: projections (proj_floats), hypercolumns (chunk, Dg), two layer buffers (chunk, widest) */
static size_t hcd_work(const pixl_tensor *n)
{
    const hcd_p *p = PIXL_PARAMS(n, const hcd_p);
    return (size_t)(p->proj_floats + p->chunk * (p->Dg + 2 * p->widest)) * sizeof(float);
}

/* gathered part of the hypercolumn of (img, y, x): the maps not projected */
static inline void hcd_gather(pixl_tensor *const *maps, const hcd_p *p, int64_t img, double y, double x,
                              float *restrict out)
{
    for (int b = 0; b < p->hc.n; b++) {
        if (p->proj >> b & 1) continue;
        const pixl_tensor *m = maps[b];
        const int64_t C = m->shape[1], H = m->shape[2], W = m->shape[3], HW = H * W;
        const hc_tap t = hc_locate(y, x, p->hc.stride[b], p->hc.offset[b], H, W);
        const float *f = pixl_f32(m) + img * C * HW;
        for (int64_t c = 0; c < C; c++, f += HW)
            out[c] = t.w00 * f[t.i00] + t.w01 * f[t.i01] + t.w10 * f[t.i10] + t.w11 * f[t.i11];
        out += C;
    }
}

static int hcd_fwd(pixl_tensor *n)
{
    const hcd_p *p = PIXL_PARAMS(n, const hcd_p);
    const int nm = p->hc.n;
    const int64_t OHW = p->OH * p->OW, total = p->hc.N * OHW, D = p->hc.D, Dg = p->Dg;
    const int64_t K = n->shape[1];
    const pixl_tensor *w0 = n->src[nm];
    const int64_t h1 = w0->shape[0];
    float *proj = n->work, *hcol = proj + p->proj_floats;
    float *buf[2] = {hcol + p->chunk * Dg, hcol + p->chunk * (Dg + p->widest)};
    float *out = pixl_f32(n);
    const int nt = pixl_num_threads();
    /* Layer 0 is linear in the hypercolumn, and bilinear interpolation is
     * linear in the map: W0_b . interp(F_b) = interp(W0_b . F_b). Coarse maps
     * are multiplied by their block of W0 once, at their own resolution,
     * giving (H_b*W_b, h1) rows per image that pixels blend. */
    int64_t pbase[HC_MAX_MAPS], col[HC_MAX_MAPS];
    for (int b = 0, d = 0; b < nm; b++) {
        col[b] = d;
        d += (int)n->src[b]->shape[1];
    }
    for (int64_t b = 0, off = 0; b < nm; b++) {
        pbase[b] = off;
        if (!(p->proj >> b & 1)) continue;
        const pixl_tensor *m = n->src[b];
        const int64_t C = m->shape[1], HW = m->shape[2] * m->shape[3];
        for (int64_t img = 0; img < p->hc.N; img++) /* (HW, h1) = F^T (HW, C) . W0_b^T (C, h1) */
            pixl__gemm_f32(1, 1, HW, h1, C, 1.0f, pixl_f32(m) + img * C * HW, HW, pixl_f32(w0) + col[b], D, 0.0f,
                          proj + off + img * HW * h1, h1);
        off += p->hc.N * HW * h1;
    }
    for (int64_t q0 = 0; q0 < total; q0 += p->chunk) {
        const int64_t Q = q0 + p->chunk < total ? p->chunk : total - q0;
        if (Dg) {
#pragma omp parallel for schedule(static) num_threads(nt) if (Q * Dg > 32768)
            for (int64_t i = 0; i < Q; i++) {
                const int64_t q = q0 + i, img = q / OHW, yx = q - img * OHW;
                hcd_gather(n->src, p, img, (double)(yx / p->OW), (double)(yx % p->OW), hcol + i * Dg);
            }
        }
        const float *in = hcol;
        int64_t in_dim = Dg;
        for (int l = 0; l < p->layers; l++) {
            const pixl_tensor *w = n->src[nm + 2 * l], *b = n->src[nm + 2 * l + 1];
            const int64_t od = w->shape[0];
            float *o = buf[l & 1];
            const float *bv = pixl_f32(b);
            for (int64_t i = 0; i < Q; i++) memcpy(o + i * od, bv, (size_t)od * sizeof(float));
            if (l == 0) {
                /* gathered maps: one GEMM per map against its columns of W0 */
                for (int mb = 0, g = 0; mb < nm; mb++) {
                    if (p->proj >> mb & 1) continue;
                    const int64_t C = n->src[mb]->shape[1];
                    pixl__gemm_f32(0, 1, Q, od, C, 1.0f, hcol + g, Dg, pixl_f32(w) + col[mb], D, 1.0f, o, od);
                    g += (int)C;
                }
                if (p->proj) { /* projected maps: blend four rows of each */
#pragma omp parallel for schedule(static) num_threads(nt) if (Q * od > 32768)
                    for (int64_t i = 0; i < Q; i++) {
                        const int64_t q = q0 + i, img = q / OHW, yx = q - img * OHW;
                        float *restrict oi = o + i * od;
                        for (int mb = 0; mb < nm; mb++) {
                            if (!(p->proj >> mb & 1)) continue;
                            const pixl_tensor *m = n->src[mb];
                            const int64_t H = m->shape[2], W = m->shape[3];
                            const hc_tap t = hc_locate((double)(yx / p->OW), (double)(yx % p->OW), p->hc.stride[mb],
                                                       p->hc.offset[mb], H, W);
                            const float *base = proj + pbase[mb] + img * H * W * od;
                            const float *restrict r00 = base + t.i00 * od, *restrict r01 = base + t.i01 * od,
                                                  *restrict r10 = base + t.i10 * od, *restrict r11 = base + t.i11 * od;
                            for (int64_t j = 0; j < od; j++)
                                oi[j] += t.w00 * r00[j] + t.w01 * r01[j] + t.w10 * r10[j] + t.w11 * r11[j];
                        }
                    }
                }
            } else {
                pixl__gemm_f32(0, 1, Q, od, in_dim, 1.0f, in, in_dim, pixl_f32(w), in_dim, 1.0f, o, od);
            }
            if (l + 1 < p->layers) {
#pragma omp parallel for schedule(static) num_threads(nt) if (Q * od > 65536)
                for (int64_t i = 0; i < Q * od; i++) o[i] = o[i] > 0 ? o[i] : 0; /* as pixl_relu (NaN -> 0 too) */
            }
            in = o;
            in_dim = od;
        }
        /* (Q, K) -> (N, K, OH, OW) */
#pragma omp parallel for schedule(static) num_threads(nt) if (Q * K > 65536)
        for (int64_t k = 0; k < K; k++)
            for (int64_t i = 0; i < Q; i++) {
                const int64_t q = q0 + i, img = q / OHW, yx = q - img * OHW;
                out[(img * K + k) * OHW + yx] = in[i * K + k];
            }
    }
    return PIXL_OK;
}

static const pixl_op_def hcd_def = {.name = "hypercolumn_mlp_dense", .fwd = hcd_fwd, .bwd = NULL,
                                    .work_bytes = hcd_work};

pixl_tensor *pixl_hypercolumn_mlp_dense(pixl_ctx *ctx, int n_maps, pixl_tensor *const *maps, const float *stride,
                                        const float *offset, int out_h, int out_w, int n_layers,
                                        pixl_tensor *const *weights, pixl_tensor *const *biases, int chunk)
{
    const char *op = "hypercolumn_mlp_dense";
    if (!ctx || !maps || !weights || !biases) return NULL;
    for (int b = 0; b < n_maps && b < HC_MAX_MAPS; b++)
        if (!maps[b]) return NULL;
    for (int l = 0; l < n_layers && l < PIXL_MAX_SRC; l++)
        if (!weights[l] || !biases[l]) return NULL;
    hcd_p p;
    memset(&p, 0, sizeof p);
    if (hc_check(ctx, op, n_maps, maps, stride, offset, HC_MAX_MAPS, &p.hc)) return NULL;
    if (n_layers < 1 || n_maps + 2 * n_layers > PIXL_MAX_SRC) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "%s: %d maps and %d layers exceed the %d inputs of a node", op, n_maps,
                      n_layers, PIXL_MAX_SRC);
        return NULL;
    }
    if (out_h < 1 || out_w < 1) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "%s: invalid output size %dx%d", op, out_h, out_w);
        return NULL;
    }
    int64_t in_dim = p.hc.D;
    for (int l = 0; l < n_layers; l++) {
        const pixl_tensor *w = weights[l], *b = biases[l];
        if (w->dtype != PIXL_F32 || b->dtype != PIXL_F32 || w->ndim != 2 || w->shape[1] != in_dim || b->ndim != 1 ||
            b->shape[0] != w->shape[0]) {
            pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "%s: layer %d weight %s / bias %s do not fit input width %lld", op, l,
                          pixl__tshape(w), pixl__tshape(b), (long long)in_dim);
            return NULL;
        }
        in_dim = w->shape[0];
        if (in_dim > p.widest) p.widest = in_dim;
    }
    p.layers = n_layers;
    p.OH = out_h;
    p.OW = out_w;
    /* project a map through layer 0 when it is at least 16x smaller than the
     * output (a pixel's share of the projection is then small) and the
     * projection is at most twice the map's own size (h1 <= 2 C_b), so the
     * scratch stays within the size of the trunk's features */
    const int64_t h1 = weights[0]->shape[0];
    for (int b = 0; b < n_maps; b++) {
        const int64_t C = maps[b]->shape[1], HW = maps[b]->shape[2] * maps[b]->shape[3];
        if (16 * HW <= (int64_t)out_h * out_w && h1 <= 2 * C) {
            p.proj |= 1u << b;
            p.proj_floats += p.hc.N * HW * h1;
        } else {
            p.Dg += C;
        }
    }
    p.chunk = chunk > 0 ? chunk : 16384;
    if (p.chunk > p.hc.N * p.OH * p.OW) p.chunk = p.hc.N * p.OH * p.OW;
    pixl_tensor *src[PIXL_MAX_SRC];
    int ns = 0;
    for (int b = 0; b < n_maps; b++) src[ns++] = maps[b];
    for (int l = 0; l < n_layers; l++) {
        src[ns++] = weights[l];
        src[ns++] = biases[l];
    }
    int64_t shape[4] = {p.hc.N, in_dim, out_h, out_w};
    return pixl__node_new(ctx, &hcd_def, PIXL_F32, 4, shape, src, ns, &p, sizeof p);
}
