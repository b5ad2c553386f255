/* conv.c — the convolution family: conv2d, conv_transpose2d and linear,
 * forward and backward side by side, plus the naive direct references the
 * fast paths are tested against.
 *
 * Both convolutions are expressed with three primitives on a (big, small)
 * geometry (see kernels/im2col.h): fwd, bwd_data, bwd_weight.
 *   conv2d:            y  = fwd(x),        dx += bwd_data(dy), dw += bwd_weight(dy, x)
 *   conv_transpose2d:  y  = bwd_data(x),   dx += fwd(dy),      dw += bwd_weight(x, dy)
 * Each primitive picks a path:
 *   - Cb/G == 1 (depthwise, also with a channel multiplier): direct loops;
 *   - 1x1, stride 1, no padding: one gemm per image and group on the planes;
 *   - otherwise im2col/col2im over blocks of small-side rows (the column
 *     block lives in n->work and stays in cache) with one gemm per block.
 * gemm (OpenBLAS, multi-threaded) is always called outside OpenMP regions;
 * the copies around it are OpenMP loops split by output element. Sums over
 * blocks and images are done serially in a fixed order, so results are the
 * same for every thread count. */
#include <math.h>

#include "kernels/im2col.h"
#include "pixl_impl.h"

typedef struct conv_fused conv_fused;
typedef struct conv_p {
    pixl_conv_shape s;
    int transposed;
    const conv_fused *fz; /* EVAL fusion: the epilogue steps this conv2d runs (conv2d_fuse) */
} conv_p;

/* ------------------------------------------------------------ helpers */

/* parallelise only when there is enough work to pay for the fork */
#define PAR_MIN 16384

static int64_t cbg_of(const pixl_conv_shape *s) { return s->Cb / s->G; }
static int64_t csg_of(const pixl_conv_shape *s) { return s->Cs / s->G; }
static int64_t kdim_of(const pixl_conv_shape *s) { return cbg_of(s) * s->KH * s->KW; }

static int is_direct_dw(const pixl_conv_shape *s) { return cbg_of(s) == 1 && s->KH * s->KW > 1; }
static int is_1x1(const pixl_conv_shape *s)
{
    return s->KH == 1 && s->KW == 1 && s->sh == 1 && s->sw == 1 && s->ph == 0 && s->pw == 0;
}

/* Column block budget: K x (nr*OW) floats, about 2 MiB so that the block
 * gemm reads it from cache. */
#define COL_BLOCK_FLOATS (512 * 1024)
static int64_t rows_per_block(const pixl_conv_shape *s)
{
    int64_t per_row = kdim_of(s) * s->OW;
    int64_t nr = per_row > 0 ? COL_BLOCK_FLOATS / per_row : s->OH;
    if (nr < 1) nr = 1;
    if (nr > s->OH) nr = s->OH;
    return nr;
}

/* floats of scratch the gemm path needs (0 for the other paths) */
static size_t col_floats(const pixl_conv_shape *s)
{
    if (is_direct_dw(s) || is_1x1(s)) return 0;
    return (size_t)(kdim_of(s) * rows_per_block(s) * s->OW);
}

/* y (N, C, L) += b[c] */
static void add_bias(float *y, const float *b, int64_t N, int64_t C, int64_t L)
{
#pragma omp parallel for schedule(static) num_threads(pixl_num_threads()) if (N * C * L > PAR_MIN)
    for (int64_t p = 0; p < N * C; p++) {
        float bv = b[p % C], *row = y + p * L;
        for (int64_t i = 0; i < L; i++) row[i] += bv;
    }
}

/* y (N, C, L) = b[c] */
static void set_bias(float *y, const float *b, int64_t N, int64_t C, int64_t L)
{
#pragma omp parallel for schedule(static) num_threads(pixl_num_threads()) if (N * C * L > PAR_MIN)
    for (int64_t p = 0; p < N * C; p++) {
        float bv = b ? b[p % C] : 0.0f, *row = y + p * L;
        for (int64_t i = 0; i < L; i++) row[i] = bv;
    }
}

/* db[c] += sum over n, i of dy (N, C, L); one channel per thread, double sums */
static void bias_grad(const float *dy, float *db, int64_t N, int64_t C, int64_t L)
{
#pragma omp parallel for schedule(static) num_threads(pixl_num_threads()) if (N * C * L > PAR_MIN)
    for (int64_t c = 0; c < C; c++) {
        double acc = 0;
        for (int64_t n = 0; n < N; n++) {
            const float *row = dy + (n * C + c) * L;
            float part[16] = {0}; /* 16 lanes in fixed order, then summed */
            int64_t i = 0;
            for (; i + 16 <= L; i += 16)
                for (int j = 0; j < 16; j++) part[j] += row[i + j];
            double r = 0;
            for (int j = 0; j < 16; j++) r += part[j];
            for (; i < L; i++) r += row[i];
            acc += r;
        }
        db[c] += (float)acc;
    }
}

/* ---------------------------------------------------------- fast primitives */

/* small = (accumulate ? small : 0) + fwd(big) */
static void conv_fwd(const pixl_conv_shape *s, const float *big, const float *w, float *small, int accumulate,
                     float *col)
{
    if (is_direct_dw(s)) {
        pixl__conv_dw_fwd(s, big, w, small, accumulate);
        return;
    }
    if (pixl__conv_fast_enabled()) {
        pixl__conv_fast_fwd(s, big, w, small, accumulate, col);
        return;
    }
    const int64_t Cbg = cbg_of(s), Csg = csg_of(s), K = kdim_of(s), L = s->OH * s->OW, HW = s->H * s->W;
    const int64_t nr = rows_per_block(s);
    const float beta = accumulate ? 1.0f : 0.0f;
    for (int64_t n = 0; n < s->N; n++)
        for (int g = 0; g < s->G; g++) {
            const float *bg = big + (n * s->Cb + g * Cbg) * HW; /* (Cbg, H, W) */
            float *sg = small + (n * s->Cs + g * Csg) * L;      /* (Csg, OH*OW) */
            const float *wg = w + g * Csg * K;                  /* (Csg, K) */
            if (is_1x1(s)) {
                pixl__gemm_f32(0, 0, Csg, L, K, 1.0f, wg, K, bg, HW, beta, sg, L);
                continue;
            }
            for (int64_t r0 = 0; r0 < s->OH; r0 += nr) {
                int64_t r = nr < s->OH - r0 ? nr : s->OH - r0;
                pixl__im2col(s, Cbg, bg, r0, r, col); /* col (K, r*OW) */
                pixl__gemm_f32(0, 0, Csg, r * s->OW, K, 1.0f, wg, K, col, r * s->OW, beta, sg + r0 * s->OW, L);
            }
        }
}

/* big += bwd_data(small) */
static void conv_bwd_data(const pixl_conv_shape *s, const float *small, const float *w, float *big, float *col)
{
    if (is_direct_dw(s)) {
        pixl__conv_dw_bwd_data(s, small, w, big);
        return;
    }
    if (pixl__conv_fast_enabled()) {
        if (pixl__conv_fast_bwd_data(s, small, w, big, col))
            pixl__conv_fast_bwd_data_strided(s, small, w, big, rows_per_block(s), col);
        return;
    }
    const int64_t Cbg = cbg_of(s), Csg = csg_of(s), K = kdim_of(s), L = s->OH * s->OW, HW = s->H * s->W;
    const int64_t nr = rows_per_block(s);
    for (int64_t n = 0; n < s->N; n++)
        for (int g = 0; g < s->G; g++) {
            float *bg = big + (n * s->Cb + g * Cbg) * HW;             /* (Cbg, H, W) */
            const float *sg = small + (n * s->Cs + g * Csg) * L;      /* (Csg, OH*OW) */
            const float *wg = w + g * Csg * K;                        /* (Csg, K) */
            if (is_1x1(s)) {
                pixl__gemm_f32(1, 0, Cbg, L, Csg, 1.0f, wg, K, sg, L, 1.0f, bg, HW);
                continue;
            }
            for (int64_t r0 = 0; r0 < s->OH; r0 += nr) {
                int64_t r = nr < s->OH - r0 ? nr : s->OH - r0;
                /* col (K, r*OW) = wg^T (K, Csg) . small rows (Csg, r*OW) */
                pixl__gemm_f32(1, 0, K, r * s->OW, Csg, 1.0f, wg, K, sg + r0 * s->OW, L, 0.0f, col, r * s->OW);
                pixl__col2im_add(s, Cbg, col, r0, r, bg);
            }
        }
}

/* dw += bwd_weight(small, big): always the own kernels (a BLAS gemm that
 * reduces over pixels may change its summation order with the thread count) */
static void conv_bwd_weight(const pixl_conv_shape *s, const float *small, const float *big, float *dw, float *col)
{
    if (is_direct_dw(s)) pixl__conv_dw_bwd_weight(s, small, big, dw);
    else pixl__conv_fast_bwd_weight(s, small, big, dw, col);
}

/* scratch floats of every path an op of shape s may take (fwd or bwd) */
static size_t work_floats(const pixl_conv_shape *s)
{
    if (is_direct_dw(s)) return 0;
    size_t m = pixl__conv_fast_bwd_weight_floats(s), f;
    if (pixl__conv_fast_enabled()) {
        f = pixl__conv_fast_fwd_floats(s);
        if (f > m) m = f;
        f = s->sh == 1 && s->sw == 1 ? pixl__conv_fast_bwd_data_floats(s)
                                     : pixl__conv_fast_bwd_data_strided_floats(s, rows_per_block(s));
    } else
        f = col_floats(s);
    return f > m ? f : m;
}

/* forward of conv2d without bias for other ops of the family (gated_conv.c):
 * small = fwd(big), with pixl__conv2d_fwd_floats(s) floats of work */
size_t pixl__conv2d_fwd_floats(const pixl_conv_shape *s)
{
    if (is_direct_dw(s)) return 0;
    return pixl__conv_fast_enabled() ? pixl__conv_fast_fwd_floats(s) : col_floats(s);
}

void pixl__conv2d_fwd(const pixl_conv_shape *s, const float *big, const float *w, float *small, float *work)
{
    conv_fwd(s, big, w, small, 0, work);
}

/* ------------------------------------------------------------------- ops */

static size_t conv_work_bytes(const pixl_tensor *n)
{
    return work_floats(&PIXL_PARAMS(n, conv_p)->s) * sizeof(float);
}

static int conv2d_fwd(pixl_tensor *n)
{
    const pixl_conv_shape *s = &PIXL_PARAMS(n, conv_p)->s;
    pixl_tensor *x = n->src[0], *w = n->src[1], *b = n->n_src > 2 ? n->src[2] : NULL;
    conv_fwd(s, pixl_f32(x), pixl_f32(w), pixl_f32(n), 0, n->work);
    if (b) add_bias(pixl_f32(n), pixl_f32(b), s->N, s->Cs, s->OH * s->OW);
    return PIXL_OK;
}

static int conv2d_bwd(pixl_tensor *n)
{
    const pixl_conv_shape *s = &PIXL_PARAMS(n, conv_p)->s;
    pixl_tensor *x = n->src[0], *w = n->src[1], *b = n->n_src > 2 ? n->src[2] : NULL;
    const float *dy = n->grad; /* (N, Cs, OH, OW) */
    if (b && b->grad) bias_grad(dy, b->grad, s->N, s->Cs, s->OH * s->OW);
    if (w->grad) conv_bwd_weight(s, dy, pixl_f32(x), w->grad, n->work);
    if (x->grad) conv_bwd_data(s, dy, pixl_f32(w), x->grad, n->work);
    return PIXL_OK;
}

static int conv_transpose2d_fwd(pixl_tensor *n)
{
    const pixl_conv_shape *s = &PIXL_PARAMS(n, conv_p)->s;
    pixl_tensor *x = n->src[0], *w = n->src[1], *b = n->n_src > 2 ? n->src[2] : NULL;
    set_bias(pixl_f32(n), b ? pixl_f32(b) : NULL, s->N, s->Cb, s->H * s->W);
    conv_bwd_data(s, pixl_f32(x), pixl_f32(w), pixl_f32(n), n->work);
    return PIXL_OK;
}

static int conv_transpose2d_bwd(pixl_tensor *n)
{
    const pixl_conv_shape *s = &PIXL_PARAMS(n, conv_p)->s;
    pixl_tensor *x = n->src[0], *w = n->src[1], *b = n->n_src > 2 ? n->src[2] : NULL;
    const float *dy = n->grad; /* (N, Cb, H, W) */
    if (b && b->grad) bias_grad(dy, b->grad, s->N, s->Cb, s->H * s->W);
    if (w->grad) conv_bwd_weight(s, pixl_f32(x), dy, w->grad, n->work);
    if (x->grad) conv_fwd(s, dy, pixl_f32(w), x->grad, 1, n->work);
    return PIXL_OK;
}

/* ------------------------------------------------ EVAL fusion (core/fuse.c) */
#define FUSE_MAX 4
struct conv_fused {
    pixl_epi_step st[FUSE_MAX];
    int k;
};

/* the per-channel coefficients of an AFFINE step live after the conv's own scratch */
static size_t coef_offset(const pixl_conv_shape *s) { return (work_floats(s) * sizeof(float) + 63) & ~(size_t)63; }

static size_t conv_fused_work_bytes(const pixl_tensor *n)
{
    const pixl_conv_shape *s = &PIXL_PARAMS(n, conv_p)->s;
    return coef_offset(s) + 2 * (size_t)s->Cs * sizeof(float);
}

/* conv2d, then the epilogue: tile by tile on the implicit-gemm path, in one pass over the output on the others */
static int conv2d_fused_fwd(pixl_tensor *n)
{
    const conv_p *cp = PIXL_PARAMS(n, conv_p);
    const pixl_conv_shape *s = &cp->s;
    pixl_tensor *x = n->src[0], *w = n->src[1], *b = n->n_src > 2 ? n->src[2] : NULL;
    float *coef = (float *)(void *)((char *)n->work + coef_offset(s));
    pixl_conv_epi e = {.bias = b ? pixl_f32(b) : NULL};
    for (int i = 0; i < cp->fz->k; i++) {
        const pixl_epi_step *st = &cp->fz->st[i];
        int act = st->kind == PIXL_EPI_RELU ? 1 : st->kind == PIXL_EPI_CLAMP ? 2 : 0;
        if (st->kind == PIXL_EPI_AFFINE) {
            st->affine(st->node, coef, coef + s->Cs);
            e.scale = coef;
            e.shift = coef + s->Cs;
        } else if (st->kind == PIXL_EPI_ADD) {
            e.res = pixl_f32((pixl_tensor *)st->other);
        } else if (!e.res) {
            e.act1 = act, e.lo1 = st->lo, e.hi1 = st->hi;
        } else {
            e.act2 = act, e.lo2 = st->lo, e.hi2 = st->hi;
        }
    }
    float *y = pixl_f32(n);
    if (!is_direct_dw(s) && pixl__conv_fast_enabled()) {
        pixl__conv_fast_fwd_epi(s, pixl_f32(x), pixl_f32(w), y, n->work, &e);
        return PIXL_OK;
    }
    conv_fwd(s, pixl_f32(x), pixl_f32(w), y, 0, n->work);
    const int64_t L = s->OH * s->OW;
#pragma omp parallel for schedule(static) num_threads(pixl_num_threads()) if (s->N * s->Cs * L > PAR_MIN)
    for (int64_t p = 0; p < s->N * s->Cs; p++)
        pixl__conv_epi_apply(&e, p % s->Cs, 1, y + p * L, e.res ? e.res + p * L : NULL, L, L);
    return PIXL_OK;
}

static const pixl_op_def conv2d_fused_def = {
    .name = "conv2d", .fwd = conv2d_fused_fwd, .work_bytes = conv_fused_work_bytes};

/* take the longest prefix of st that reads (affine)? (activation)? (add)? (activation)? */
static int conv2d_fuse(pixl_tensor *n, const pixl_epi_step *st, int k)
{
    conv_p *cp = PIXL_PARAMS(n, conv_p);
    if (cp->transposed || cp->fz) return 0;
    int i = 0, stage = 0; /* 1 affine, 2 activation, 3 add, 4 activation after the add */
    for (; i < k && i < FUSE_MAX; i++) {
        const int act = st[i].kind == PIXL_EPI_RELU || st[i].kind == PIXL_EPI_CLAMP;
        if (st[i].kind == PIXL_EPI_AFFINE && stage < 1) stage = 1;
        else if (act && stage < 2) stage = 2;
        else if (st[i].kind == PIXL_EPI_ADD && stage < 3) stage = 3;
        else if (act && stage == 3) stage = 4;
        else break;
    }
    if (!i) return 0;
    conv_fused *f = pixl__ctx_own(n->ctx, calloc(1, sizeof *f));
    if (!f) return pixl_set_error(PIXL_ERR_NOMEM, "conv2d %s: out of memory (fusion)", n->desc);
    memcpy(f->st, st, sizeof *st * (size_t)i);
    f->k = i;
    cp->fz = f;
    n->def = &conv2d_fused_def;
    return i;
}

static const pixl_op_def conv2d_def = {
    .name = "conv2d", .fwd = conv2d_fwd, .bwd = conv2d_bwd, .work_bytes = conv_work_bytes, .fuse = conv2d_fuse};
static const pixl_op_def conv_transpose2d_def = {.name = "conv_transpose2d",
                                                 .fwd = conv_transpose2d_fwd,
                                                 .bwd = conv_transpose2d_bwd,
                                                 .work_bytes = conv_work_bytes};

/* ---------------------------------------------------------------- builders */

/* options with PyTorch defaults; returns 0 or fails the ctx */
static int read_opts(pixl_ctx *ctx, const char *op, const pixl_conv2d_opts *o, int transposed, pixl_conv_shape *s,
                     int op_pad[2])
{
    pixl_conv2d_opts d = o ? *o : (pixl_conv2d_opts){0};
    s->sh = d.stride[0] ? d.stride[0] : 1;
    s->sw = d.stride[1] ? d.stride[1] : 1;
    s->dh = d.dilation[0] ? d.dilation[0] : 1;
    s->dw = d.dilation[1] ? d.dilation[1] : 1;
    s->ph = d.padding[0];
    s->pw = d.padding[1];
    s->G = d.groups ? d.groups : 1;
    op_pad[0] = d.output_padding[0];
    op_pad[1] = d.output_padding[1];
    if (s->sh < 1 || s->sw < 1 || s->dh < 1 || s->dw < 1 || s->ph < 0 || s->pw < 0 || s->G < 1 || op_pad[0] < 0 ||
        op_pad[1] < 0) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG,
                      "%s: invalid options stride (%d, %d), padding (%d, %d), dilation (%d, %d), groups %d, "
                      "output_padding (%d, %d)",
                      op, d.stride[0], d.stride[1], d.padding[0], d.padding[1], d.dilation[0], d.dilation[1],
                      d.groups, d.output_padding[0], d.output_padding[1]);
        return -1;
    }
    if (!transposed && (op_pad[0] || op_pad[1])) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "%s: output_padding (%d, %d) is only for conv_transpose2d", op, op_pad[0],
                      op_pad[1]);
        return -1;
    }
    if (transposed && ((op_pad[0] >= s->sh && op_pad[0] >= s->dh) || (op_pad[1] >= s->sw && op_pad[1] >= s->dw))) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG,
                      "%s: output_padding (%d, %d) must be smaller than stride (%d, %d) or dilation (%d, %d)", op,
                      op_pad[0], op_pad[1], s->sh, s->sw, s->dh, s->dw);
        return -1;
    }
    return 0;
}

static int check_common(pixl_ctx *ctx, const char *op, pixl_tensor *x, pixl_tensor *w, pixl_tensor *b)
{
    if (x->dtype != PIXL_F32 || w->dtype != PIXL_F32 || (b && b->dtype != PIXL_F32)) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "%s: inputs must be f32 (input %s, weight %s)", op, pixl__tshape(x),
                      pixl__tshape(w));
        return -1;
    }
    if (x->ndim != 4 || w->ndim != 4) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "%s: input %s and weight %s must both be 4-D", op, pixl__tshape(x),
                      pixl__tshape(w));
        return -1;
    }
    return 0;
}

static int check_bias(pixl_ctx *ctx, const char *op, pixl_tensor *b, int64_t C, pixl_tensor *w)
{
    if (b && (b->ndim != 1 || b->shape[0] != C)) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "%s: bias %s must have shape [%lld] for weight %s", op, pixl__tshape(b),
                      (long long)C, pixl__tshape(w));
        return -1;
    }
    return 0;
}

pixl_tensor *pixl_conv2d(pixl_ctx *ctx, pixl_tensor *x, pixl_tensor *w, pixl_tensor *b, const pixl_conv2d_opts *o)
{
    const char *op = "conv2d";
    if (!ctx || pixl__any_null(2, x, w)) return NULL;
    conv_p p = {0};
    pixl_conv_shape *s = &p.s;
    int opad[2];
    if (read_opts(ctx, op, o, 0, s, opad) || check_common(ctx, op, x, w, b)) return NULL;
    s->N = x->shape[0];
    s->Cb = x->shape[1];
    s->H = x->shape[2];
    s->W = x->shape[3];
    s->Cs = w->shape[0];
    s->KH = (int)w->shape[2];
    s->KW = (int)w->shape[3];
    if (s->Cb % s->G || s->Cs % s->G || w->shape[1] * s->G != s->Cb) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE,
                      "%s: input %s has %lld channels but weight %s (out, in/groups, kh, kw) with groups %d expects "
                      "%lld input channels%s",
                      op, pixl__tshape(x), (long long)s->Cb, pixl__tshape(w), s->G, (long long)(w->shape[1] * s->G),
                      s->Cs % s->G ? " and out channels divisible by groups" : "");
        return NULL;
    }
    int64_t ekh = (int64_t)s->dh * (s->KH - 1) + 1, ekw = (int64_t)s->dw * (s->KW - 1) + 1;
    if (ekh > s->H + 2 * s->ph || ekw > s->W + 2 * s->pw) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE,
                      "%s: kernel of weight %s (dilated size %lldx%lld) is larger than input %s padded by (%d, %d)", op,
                      pixl__tshape(w), (long long)ekh, (long long)ekw, pixl__tshape(x), s->ph, s->pw);
        return NULL;
    }
    if (check_bias(ctx, op, b, s->Cs, w)) return NULL;
    s->OH = (s->H + 2 * s->ph - ekh) / s->sh + 1;
    s->OW = (s->W + 2 * s->pw - ekw) / s->sw + 1;
    int64_t shape[4] = {s->N, s->Cs, s->OH, s->OW};
    pixl_tensor *src[3] = {x, w, b};
    return pixl__node_new(ctx, &conv2d_def, PIXL_F32, 4, shape, src, b ? 3 : 2, &p, sizeof p);
}

pixl_tensor *pixl_conv_transpose2d(pixl_ctx *ctx, pixl_tensor *x, pixl_tensor *w, pixl_tensor *b,
                                   const pixl_conv2d_opts *o)
{
    const char *op = "conv_transpose2d";
    if (!ctx || pixl__any_null(2, x, w)) return NULL;
    conv_p p = {.transposed = 1};
    pixl_conv_shape *s = &p.s;
    int opad[2];
    if (read_opts(ctx, op, o, 1, s, opad) || check_common(ctx, op, x, w, b)) return NULL;
    s->N = x->shape[0];
    s->Cs = x->shape[1];
    s->OH = x->shape[2];
    s->OW = x->shape[3];
    s->Cb = w->shape[1] * s->G;
    s->KH = (int)w->shape[2];
    s->KW = (int)w->shape[3];
    if (s->Cs % s->G || w->shape[0] != s->Cs) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE,
                      "%s: input %s has %lld channels but weight %s (in, out/groups, kh, kw) with groups %d expects "
                      "%lld input channels divisible by groups",
                      op, pixl__tshape(x), (long long)s->Cs, pixl__tshape(w), s->G, (long long)w->shape[0]);
        return NULL;
    }
    s->H = (s->OH - 1) * s->sh - 2 * s->ph + (int64_t)s->dh * (s->KH - 1) + opad[0] + 1;
    s->W = (s->OW - 1) * s->sw - 2 * s->pw + (int64_t)s->dw * (s->KW - 1) + opad[1] + 1;
    if (s->H < 1 || s->W < 1) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "%s: input %s with weight %s and padding (%d, %d) gives output %lldx%lld",
                      op, pixl__tshape(x), pixl__tshape(w), s->ph, s->pw, (long long)s->H, (long long)s->W);
        return NULL;
    }
    if (check_bias(ctx, op, b, s->Cb, w)) return NULL;
    int64_t shape[4] = {s->N, s->Cb, s->H, s->W};
    pixl_tensor *src[3] = {x, w, b};
    return pixl__node_new(ctx, &conv_transpose2d_def, PIXL_F32, 4, shape, src, b ? 3 : 2, &p, sizeof p);
}

/* ------------------------------------------------------------------ linear */

typedef struct lin_p { int64_t M, IN, OUT; } lin_p;

static int linear_fwd(pixl_tensor *n)
{
    const lin_p *p = PIXL_PARAMS(n, lin_p);
    pixl_tensor *x = n->src[0], *w = n->src[1], *b = n->n_src > 2 ? n->src[2] : NULL;
    float *y = pixl_f32(n); /* (M, OUT) */
    if (b) {
        const float *bv = pixl_f32(b);
        for (int64_t i = 0; i < p->M; i++) memcpy(y + i * p->OUT, bv, (size_t)p->OUT * sizeof(float));
    }
    /* y (M, OUT) (+)= x (M, IN) . w^T (IN, OUT) */
    pixl__gemm_f32(0, 1, p->M, p->OUT, p->IN, 1.0f, pixl_f32(x), p->IN, pixl_f32(w), p->IN, b ? 1.0f : 0.0f, y,
                  p->OUT);
    return PIXL_OK;
}

static int linear_bwd(pixl_tensor *n)
{
    const lin_p *p = PIXL_PARAMS(n, lin_p);
    pixl_tensor *x = n->src[0], *w = n->src[1], *b = n->n_src > 2 ? n->src[2] : NULL;
    const float *dy = n->grad; /* (M, OUT) */
    if (x->grad) /* dx (M, IN) += dy (M, OUT) . w (OUT, IN) */
        pixl__gemm_f32(0, 0, p->M, p->IN, p->OUT, 1.0f, dy, p->OUT, pixl_f32(w), p->IN, 1.0f, x->grad, p->IN);
    if (w->grad) /* dw (OUT, IN) += dy^T (OUT, M) . x (M, IN) */
        pixl__gemm_f32(1, 0, p->OUT, p->IN, p->M, 1.0f, dy, p->OUT, pixl_f32(x), p->IN, 1.0f, w->grad, p->IN);
    if (b && b->grad) {
        float *db = b->grad;
#pragma omp parallel for schedule(static) num_threads(pixl_num_threads()) if (p->M * p->OUT > PAR_MIN)
        for (int64_t j = 0; j < p->OUT; j++) {
            double acc = 0;
            for (int64_t i = 0; i < p->M; i++) acc += dy[i * p->OUT + j];
            db[j] += (float)acc;
        }
    }
    return PIXL_OK;
}

static const pixl_op_def linear_def = {.name = "linear", .fwd = linear_fwd, .bwd = linear_bwd};

pixl_tensor *pixl_linear(pixl_ctx *ctx, pixl_tensor *x, pixl_tensor *w, pixl_tensor *b)
{
    const char *op = "linear";
    if (!ctx || pixl__any_null(2, x, w)) return NULL;
    if (x->dtype != PIXL_F32 || w->dtype != PIXL_F32 || (b && b->dtype != PIXL_F32)) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "%s: inputs must be f32 (input %s, weight %s)", op, pixl__tshape(x),
                      pixl__tshape(w));
        return NULL;
    }
    if (x->ndim < 1 || w->ndim != 2 || x->shape[x->ndim - 1] != w->shape[1]) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "%s: input %s (..., in) does not fit weight %s (out, in)", op,
                      pixl__tshape(x), pixl__tshape(w));
        return NULL;
    }
    if (check_bias(ctx, op, b, w->shape[0], w)) return NULL;
    lin_p p = {.IN = w->shape[1], .OUT = w->shape[0]};
    p.M = x->numel / p.IN;
    int64_t shape[PIXL_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) shape[i] = x->shape[i];
    shape[x->ndim - 1] = p.OUT;
    pixl_tensor *src[3] = {x, w, b};
    return pixl__node_new(ctx, &linear_def, PIXL_F32, x->ndim, shape, src, b ? 3 : 2, &p, sizeof p);
}

/* ----------------------------------------------------------- naive references */

static void naive_fwd(const pixl_conv_shape *s, const float *big, const float *w, float *small)
{
    const int64_t Cbg = cbg_of(s), Csg = csg_of(s);
    for (int64_t n = 0; n < s->N; n++)
        for (int64_t cs = 0; cs < s->Cs; cs++)
            for (int64_t oh = 0; oh < s->OH; oh++)
                for (int64_t ow = 0; ow < s->OW; ow++) {
                    int64_t g = cs / Csg;
                    double acc = 0;
                    for (int64_t c = 0; c < Cbg; c++)
                        for (int64_t kh = 0; kh < s->KH; kh++)
                            for (int64_t kw = 0; kw < s->KW; kw++) {
                                int64_t ih = oh * s->sh - s->ph + kh * s->dh, iw = ow * s->sw - s->pw + kw * s->dw;
                                if (ih < 0 || ih >= s->H || iw < 0 || iw >= s->W) continue;
                                acc += (double)w[((cs * Cbg + c) * s->KH + kh) * s->KW + kw] *
                                       big[((n * s->Cb + g * Cbg + c) * s->H + ih) * s->W + iw];
                            }
                    small[((n * s->Cs + cs) * s->OH + oh) * s->OW + ow] = (float)acc;
                }
}

static void naive_bwd_data(const pixl_conv_shape *s, const float *small, const float *w, float *big)
{
    const int64_t Cbg = cbg_of(s), Csg = csg_of(s);
    for (int64_t n = 0; n < s->N; n++)
        for (int64_t cb = 0; cb < s->Cb; cb++)
            for (int64_t ih = 0; ih < s->H; ih++)
                for (int64_t iw = 0; iw < s->W; iw++) {
                    int64_t g = cb / Cbg, c = cb % Cbg;
                    double acc = 0;
                    for (int64_t cs = g * Csg; cs < (g + 1) * Csg; cs++)
                        for (int64_t kh = 0; kh < s->KH; kh++)
                            for (int64_t kw = 0; kw < s->KW; kw++) {
                                int64_t th = ih + s->ph - kh * s->dh, tw = iw + s->pw - kw * s->dw;
                                if (th < 0 || tw < 0 || th % s->sh || tw % s->sw) continue;
                                int64_t oh = th / s->sh, ow = tw / s->sw;
                                if (oh >= s->OH || ow >= s->OW) continue;
                                acc += (double)w[((cs * Cbg + c) * s->KH + kh) * s->KW + kw] *
                                       small[((n * s->Cs + cs) * s->OH + oh) * s->OW + ow];
                            }
                    big[((n * s->Cb + cb) * s->H + ih) * s->W + iw] = (float)acc;
                }
}

static void naive_bwd_weight(const pixl_conv_shape *s, const float *small, const float *big, float *dw)
{
    const int64_t Cbg = cbg_of(s), Csg = csg_of(s);
    for (int64_t cs = 0; cs < s->Cs; cs++)
        for (int64_t c = 0; c < Cbg; c++)
            for (int64_t kh = 0; kh < s->KH; kh++)
                for (int64_t kw = 0; kw < s->KW; kw++) {
                    int64_t g = cs / Csg;
                    double acc = 0;
                    for (int64_t n = 0; n < s->N; n++)
                        for (int64_t oh = 0; oh < s->OH; oh++)
                            for (int64_t ow = 0; ow < s->OW; ow++) {
                                int64_t ih = oh * s->sh - s->ph + kh * s->dh, iw = ow * s->sw - s->pw + kw * s->dw;
                                if (ih < 0 || ih >= s->H || iw < 0 || iw >= s->W) continue;
                                acc += (double)small[((n * s->Cs + cs) * s->OH + oh) * s->OW + ow] *
                                       big[((n * s->Cb + g * Cbg + c) * s->H + ih) * s->W + iw];
                            }
                    dw[((cs * Cbg + c) * s->KH + kh) * s->KW + kw] = (float)acc;
                }
}

static void naive_bias_add(float *y, const float *b, int64_t N, int64_t C, int64_t L)
{
    for (int64_t p = 0; p < N * C; p++)
        for (int64_t i = 0; i < L; i++) y[p * L + i] += b[p % C];
}

static void naive_bias_grad(const float *dy, float *db, int64_t N, int64_t C, int64_t L)
{
    for (int64_t c = 0; c < C; c++) {
        double acc = 0;
        for (int64_t n = 0; n < N; n++)
            for (int64_t i = 0; i < L; i++) acc += dy[(n * C + c) * L + i];
        db[c] = (float)acc;
    }
}

void pixl__conv2d_naive(const pixl_conv_shape *s, const float *x, const float *w, const float *b, float *y)
{
    naive_fwd(s, x, w, y);
    if (b) naive_bias_add(y, b, s->N, s->Cs, s->OH * s->OW);
}

void pixl__conv2d_bwd_naive(const pixl_conv_shape *s, const float *x, const float *w, const float *dy, float *dx,
                           float *dw, float *db)
{
    if (dx) naive_bwd_data(s, dy, w, dx);
    if (dw) naive_bwd_weight(s, dy, x, dw);
    if (db) naive_bias_grad(dy, db, s->N, s->Cs, s->OH * s->OW);
}

void pixl__conv_transpose2d_naive(const pixl_conv_shape *s, const float *x, const float *w, const float *b, float *y)
{
    naive_bwd_data(s, x, w, y);
    if (b) naive_bias_add(y, b, s->N, s->Cb, s->H * s->W);
}

void pixl__conv_transpose2d_bwd_naive(const pixl_conv_shape *s, const float *x, const float *w, const float *dy,
                                     float *dx, float *dw, float *db)
{
    if (dx) naive_fwd(s, dy, w, dx);
    if (dw) naive_bwd_weight(s, x, dy, dw);
    if (db) naive_bias_grad(dy, db, s->N, s->Cb, s->H * s->W);
}
