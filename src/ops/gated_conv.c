/* gated_conv.c — the gated 3x3 convolution of a pixel-wise attentional
 * gating (PAG) bottleneck at inference, computed only where the gate is on:
 *
 *   z[n,o,y,x] = mask[n,0,y,x] ? act(scale[o] * (conv3x3(h1)[n,o,y,x] + b[o]) + shift[o])
 *                              : h1[n,o,y,x]
 *
 * (act = ReLU or the identity; C_out == C for the pass-through).
 *
 * Per image the forward takes one of three paths by the image's active
 * fraction f:
 *   f == 0          a copy of h1;
 *   f >= DENSE_MIN  the dense conv2d forward (conv.c, the implicit-gemm
 *                   kernels) into z, then the epilogue selects by the mask;
 *   otherwise       sparse: the active pixels are listed in raster order and
 *                   cut into blocks of PB pixels (PB from the image's active
 *                   count only); each block is one task: gather the 3x3
 *                   neighbourhoods of its pixels into a column matrix
 *                   (C*9, PB), one gemm with the weight (C_out, C*9) (the
 *                   conv forward's micro-kernel, weight packed once), then
 *                   bias, affine and ReLU scattered into z. The inactive
 *                   pixels are a copy of h1 made before the tasks.
 * Tasks run on the OpenMP threads, each with its own slot of scratch; a
 * task's results do not depend on which thread runs it or on the thread
 * count (the block boundaries are fixed by the mask alone), so the bits are
 * the same for any thread count. Cost: the gather and gemm scale with the
 * active count; the copy of h1 and the mask scan are O(C*H*W).
 *
 * Forward only: the builder refuses inputs that need a gradient. */
#include <math.h>
#include <omp.h>

#include "kernels/im2col.h"
#include "pixl_impl.h"

/* an image with at least this active fraction takes the dense path */
#define DENSE_MIN 0.85
/* pixels per sparse task: at most PB_MAX, about TASKS_PER_IMAGE tasks per image */
#define PB_MAX 256
#define PB_MIN 32
#define TASKS_PER_IMAGE 8

typedef struct gated_p {
    pixl_conv_shape s; /* the dense 3x3 conv (one image: N = 1) */
    int64_t N;
    int dil, relu;
    int has_bias, has_scale, has_shift;
    int slots; /* scratch slots (threads at plan time) */
} gated_p;

#define FLR(n) ((size_t)(((int64_t)(n) + 15) / 16 * 16)) /* floats, rounded to 64 bytes */

static int64_t kdim(const gated_p *p) { return p->s.Cb * 9; }

/* floats of one task slot: columns (K, PB_MAX), result (C_out, PB_MAX), tap indices (9, PB_MAX) int32 */
static size_t slot_floats(const gated_p *p)
{
    return FLR(kdim(p) * PB_MAX) + FLR(p->s.Cs * PB_MAX) + FLR(9 * PB_MAX);
}

/* packed weight, tap offsets of the column rows (int64), then the task slots */
static size_t sparse_floats(const gated_p *p)
{
    return pixl__conv_packed_a_floats(p->s.Cs, kdim(p)) + FLR(2 * kdim(p)) + (size_t)p->slots * slot_floats(p);
}

static size_t gated_work_bytes(const pixl_tensor *n)
{
    const gated_p *p = PIXL_PARAMS(n, gated_p);
    size_t dense = FLR(pixl__conv2d_fwd_floats(&p->s));
    size_t sparse = sparse_floats(p);
    size_t idx = FLR(p->N * p->s.H * p->s.W) + FLR(p->N + 1); /* int32 pixel lists, per-image counts */
    return ((dense > sparse ? dense : sparse) + idx) * sizeof(float);
}

static inline float epi(float acc, int o, const float *b, const float *sc, const float *sh, int relu)
{
    float v = acc;
    if (b) v += b[o];
    if (sc) v *= sc[o];
    if (sh) v += sh[o];
    if (relu) v = v > 0.0f ? v : 0.0f; /* as pixl_relu */
    return v;
}

typedef struct task {
    int64_t n, p0, np; /* image, first entry in its pixel list, pixels */
} task;

static int gated_fwd(pixl_tensor *nd)
{
    const gated_p *p = PIXL_PARAMS(nd, gated_p);
    const pixl_conv_shape *s = &p->s;
    const int64_t N = p->N, C = s->Cb, CO = s->Cs, H = s->H, W = s->W, HW = H * W, K = kdim(p);
    const int d = p->dil;
    const float *h1 = pixl_f32(nd->src[0]), *mask = pixl_f32(nd->src[1]), *w = pixl_f32(nd->src[2]);
    int si = 3;
    const float *b = p->has_bias ? pixl_f32(nd->src[si++]) : NULL;
    const float *sc = p->has_scale ? pixl_f32(nd->src[si++]) : NULL;
    const float *sh = p->has_shift ? pixl_f32(nd->src[si++]) : NULL;
    float *z = pixl_f32(nd);

    /* scratch: [dense work | task slots] then the pixel lists */
    size_t dense = FLR(pixl__conv2d_fwd_floats(s)), sparse = sparse_floats(p);
    float *work = nd->work;
    int32_t *list = (int32_t *)(void *)(work + (dense > sparse ? dense : sparse)); /* (N, HW) */
    int32_t *count = list + FLR(N * HW);                                          /* (N) */

    /* the mask: 0/1 only; active pixels listed in raster order per image */
    for (int64_t n = 0; n < N; n++) {
        const float *m = mask + n * HW;
        int32_t *l = list + n * HW, c = 0;
        for (int64_t i = 0; i < HW; i++) {
            if (m[i] == 1.0f) l[c++] = (int32_t)i;
            else if (m[i] != 0.0f)
                return pixl_set_error(PIXL_ERR_ARG,
                                      "gated_conv3x3 '%s': mask %s must be 0 or 1, got %g at image %lld, pixel "
                                      "(%lld, %lld)",
                                      nd->name, pixl__tshape(nd->src[1]), (double)m[i], (long long)n,
                                      (long long)(i / W), (long long)(i % W));
        }
        count[n] = c;
    }

    /* dense and empty images; copies of h1 under the sparse ones */
    int64_t ntask = 0;
    for (int64_t n = 0; n < N; n++) {
        const float *x = h1 + n * C * HW;
        float *y = z + n * CO * HW;
        const int32_t cnt = count[n];
        if (cnt == 0 || (double)cnt < DENSE_MIN * (double)HW) {
#pragma omp parallel for schedule(static) num_threads(pixl_num_threads()) if (C * HW > 16384)
            for (int64_t c = 0; c < C; c++) memcpy(y + c * HW, x + c * HW, (size_t)HW * sizeof(float));
            if (cnt) {
                int64_t pb = (cnt + TASKS_PER_IMAGE - 1) / TASKS_PER_IMAGE;
                pb = (pb + 15) / 16 * 16;
                pb = pb < PB_MIN ? PB_MIN : pb > PB_MAX ? PB_MAX : pb;
                ntask += (cnt + pb - 1) / pb;
            }
            continue;
        }
        pixl__conv2d_fwd(s, x, w, y, work);
        const float *m = mask + n * HW;
        const int relu = p->relu;
#pragma omp parallel for schedule(static) num_threads(pixl_num_threads()) if (CO * HW > 16384)
        for (int64_t o = 0; o < CO; o++) {
            float *yo = y + o * HW;
            const float *xo = x + o * HW;
            for (int64_t i = 0; i < HW; i++) yo[i] = m[i] != 0.0f ? epi(yo[i], (int)o, b, sc, sh, relu) : xo[i];
        }
    }
    if (!ntask) return PIXL_OK;

    /* the sparse tasks, in image order */
    task *tasks = pixl__malloc((size_t)ntask * sizeof(task));
    if (!tasks) return PIXL_ERR_NOMEM;
    int64_t t = 0;
    for (int64_t n = 0; n < N; n++) {
        const int32_t cnt = count[n];
        if (cnt == 0 || (double)cnt >= DENSE_MIN * (double)HW) continue;
        int64_t pb = (cnt + TASKS_PER_IMAGE - 1) / TASKS_PER_IMAGE;
        pb = (pb + 15) / 16 * 16;
        pb = pb < PB_MIN ? PB_MIN : pb > PB_MAX ? PB_MAX : pb;
        for (int64_t p0 = 0; p0 < cnt; p0 += pb) tasks[t++] = (task){n, p0, cnt - p0 < pb ? cnt - p0 : pb};
    }

    int nt = pixl_num_threads();
    if (nt > p->slots) nt = p->slots;
    if (nt > ntask) nt = (int)ntask;
    const size_t slot = slot_floats(p);
    const int relu = p->relu;
    float *Ap = work;
    int64_t *boff = (int64_t *)(void *)(Ap + pixl__conv_packed_a_floats(CO, K));
    float *slots = (float *)(void *)(boff + FLR(2 * K) / 2);
    pixl__conv_pack_a(w, CO, K, Ap);
    for (int64_t k = 0; k < K; k++) boff[k] = k * PB_MAX;
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        float *col = slots + (size_t)omp_get_thread_num() * slot; /* (K, np), rows PB_MAX apart */
        float *res = col + FLR(K * PB_MAX);                      /* (CO, np) */
        int32_t *tix = (int32_t *)(void *)(res + FLR(CO * PB_MAX)); /* (9, np) */
#pragma omp for schedule(dynamic, 1)
        for (int64_t it = 0; it < ntask; it++) {
            const task tk = tasks[it];
            const int64_t np = tk.np;
            const int32_t *pix = list + tk.n * HW + tk.p0;
            const float *x = h1 + tk.n * C * HW;
            float *y = z + tk.n * CO * HW;
            /* tap (kh, kw) of pixel j: its index in the plane, or -1 outside */
            for (int kh = 0; kh < 3; kh++)
                for (int kw = 0; kw < 3; kw++) {
                    int32_t *tr = tix + (kh * 3 + kw) * np;
                    const int64_t dy = (int64_t)(kh - 1) * d, dx = (int64_t)(kw - 1) * d;
                    for (int64_t j = 0; j < np; j++) {
                        int64_t yy = pix[j] / W + dy, xx = pix[j] % W + dx;
                        tr[j] = yy >= 0 && yy < H && xx >= 0 && xx < W ? (int32_t)(yy * W + xx) : -1;
                    }
                }
            /* col[(c*3+kh)*3+kw][j] = x[c] at tap (kh, kw) of pixel j */
            for (int64_t c = 0; c < C; c++) {
                const float *plane = x + c * HW;
                for (int k = 0; k < 9; k++) {
                    const int32_t *tr = tix + k * np;
                    float *dst = col + (c * 9 + k) * PB_MAX;
                    for (int64_t j = 0; j < np; j++) dst[j] = tr[j] >= 0 ? plane[tr[j]] : 0.0f;
                }
            }
            /* res (CO, np) = w (CO, K) . col (K, np): serial inside the region */
            pixl__conv_packed_gemm(CO, K, Ap, col, boff, np, res, np);
            for (int64_t o = 0; o < CO; o++) {
                const float *r = res + o * np;
                float *yo = y + o * HW;
                for (int64_t j = 0; j < np; j++) yo[pix[j]] = epi(r[j], (int)o, b, sc, sh, relu);
            }
        }
    }
    pixl__free(tasks);
    return PIXL_OK;
}

static const pixl_op_def gated_conv3x3_def = {
    .name = "gated_conv3x3", .fwd = gated_fwd, .bwd = NULL, .work_bytes = gated_work_bytes};

/* ---------------------------------------------------------------- builder */

static int check_vec(pixl_ctx *ctx, const char *op, const char *what, pixl_tensor *v, int64_t C, pixl_tensor *w)
{
    if (!v) return 0;
    if (v->dtype != PIXL_F32 || v->ndim != 1 || v->shape[0] != C) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "%s: %s %s must be f32 of shape [%lld] (the out channels of weight %s)",
                      op, what, pixl__tshape(v), (long long)C, pixl__tshape(w));
        return -1;
    }
    return 0;
}

pixl_tensor *pixl_gated_conv3x3(pixl_ctx *ctx, pixl_tensor *h1, pixl_tensor *mask, pixl_tensor *w, pixl_tensor *b,
                                pixl_tensor *bn_scale, pixl_tensor *bn_shift, int dilation, int relu)
{
    const char *op = "gated_conv3x3";
    if (!ctx || pixl__any_null(3, h1, mask, w)) return NULL;
    if (dilation == 0) dilation = 1;
    if (dilation < 1) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "%s: dilation %d must be >= 1 (0 means 1)", op, dilation);
        return NULL;
    }
    if (h1->dtype != PIXL_F32 || mask->dtype != PIXL_F32 || w->dtype != PIXL_F32) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "%s: input %s, mask %s and weight %s must be f32", op, pixl__tshape(h1),
                      pixl__tshape(mask), pixl__tshape(w));
        return NULL;
    }
    if (h1->ndim != 4 || w->ndim != 4 || w->shape[2] != 3 || w->shape[3] != 3 || w->shape[1] != h1->shape[1]) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE,
                      "%s: input %s must be (N, C, H, W) and weight %s (C_out, C, 3, 3) with C = the input's channels "
                      "(groups 1)",
                      op, pixl__tshape(h1), pixl__tshape(w));
        return NULL;
    }
    if (w->shape[0] != h1->shape[1]) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE,
                      "%s: weight %s has %lld out channels but input %s has %lld: inactive pixels pass the input "
                      "through, so C_out must equal C",
                      op, pixl__tshape(w), (long long)w->shape[0], pixl__tshape(h1), (long long)h1->shape[1]);
        return NULL;
    }
    if (mask->ndim != 4 || mask->shape[0] != h1->shape[0] || mask->shape[1] != 1 || mask->shape[2] != h1->shape[2] ||
        mask->shape[3] != h1->shape[3]) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "%s: mask %s must be (N, 1, H, W) = [%lld, 1, %lld, %lld] for input %s",
                      op, pixl__tshape(mask), (long long)h1->shape[0], (long long)h1->shape[2],
                      (long long)h1->shape[3], pixl__tshape(h1));
        return NULL;
    }
    const int64_t C = h1->shape[1];
    if (check_vec(ctx, op, "bias", b, C, w) || check_vec(ctx, op, "bn_scale", bn_scale, C, w) ||
        check_vec(ctx, op, "bn_shift", bn_shift, C, w))
        return NULL;
    pixl_tensor *src[6] = {h1, mask, w};
    int ns = 3;
    if (b) src[ns++] = b;
    if (bn_scale) src[ns++] = bn_scale;
    if (bn_shift) src[ns++] = bn_shift;
    for (int i = 0; i < ns; i++)
        if (src[i]->flags & PIXL_FLAG_NEEDS_GRAD) {
            pixl__ctx_fail(ctx, PIXL_ERR_UNSUPPORTED,
                          "%s: forward only (inference): %s needs a gradient; build the op in a PIXL_MODE_EVAL "
                          "context, or train with conv2d + batch_norm2d + relu mixed by the mask",
                          op, pixl__tshape(src[i]));
            return NULL;
        }
    gated_p p = {.N = h1->shape[0], .dil = dilation, .relu = relu ? 1 : 0, .has_bias = b != NULL,
                 .has_scale = bn_scale != NULL, .has_shift = bn_shift != NULL};
    pixl_conv_shape *s = &p.s;
    s->N = 1;
    s->Cb = C, s->H = h1->shape[2], s->W = h1->shape[3];
    s->Cs = C, s->OH = s->H, s->OW = s->W;
    s->KH = s->KW = 3;
    s->sh = s->sw = 1;
    s->ph = s->pw = s->dh = s->dw = dilation;
    s->G = 1;
    if (s->N * s->H * s->W * p.N > INT32_MAX || s->H * s->W > INT32_MAX) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "%s: input %s is too large (pixel lists are 32-bit)", op,
                      pixl__tshape(h1));
        return NULL;
    }
    p.slots = pixl__ctx_threads(ctx);
    if (p.slots < 1) p.slots = 1;
    return pixl__node_new(ctx, &gated_conv3x3_def, PIXL_F32, 4, h1->shape, src, ns, &p, sizeof p);
}
