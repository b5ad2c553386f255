/* pac_layers.c — PacConv2d, PacConvTranspose2d, PacPool2d and their
 * adapting-kernel parameters with NVlabs/pacnet's state_dict names and
 * initialisation (fillers uniform, linear, crf, crf_perturbed, pool,
 * crf_pool). The ops are in src/ops/pac.c. */
#include <math.h>

#include "pixl_impl.h"

static pixl_tensor *param(pixl_ctx *ctx, const char *layer, const char *leaf, pixl_param_kind kind, int ndim,
                          const int64_t *shape, pixl_init_spec init, float **data_if_new)
{
    return pixl__nn_param(ctx, layer, leaf, kind, PIXL_F32, ndim, shape, init, data_if_new);
}

pixl_tensor *pixl_nn_packernel2d(pixl_ctx *ctx, const char *name, pixl_tensor *guide, pixl_tensor *mask,
                                 int channels, const pixl_pac_opts *o)
{
    if (!ctx || !guide) return NULL;
    pixl_pac_opts d = o ? *o : (pixl_pac_opts){0};
    pixl_tensor *alpha = NULL, *lambda = NULL, *sk = NULL;
    if (d.kernel_type == PIXL_PAC_INV) {
        int per = d.channel_wise && !d.fixed;
        if (per && channels <= 0) {
            pixl__ctx_fail(ctx, PIXL_ERR_ARG, "packernel2d '%s': channel_wise inv kernel needs out_channels", name);
            return NULL;
        }
        int64_t s[1] = {per ? channels : 1};
        pixl_param_kind kind = d.fixed ? PIXL_BUFFER : PIXL_PARAM;
        alpha = param(ctx, name, "inv_alpha", kind, 1, s, (pixl_init_spec){PIXL_INIT_CONST, d.inv_alpha, 0}, NULL);
        lambda = param(ctx, name, "inv_lambda", kind, 1, s, (pixl_init_spec){PIXL_INIT_CONST, d.inv_lambda, 0}, NULL);
        if (!alpha || !lambda) return NULL;
    }
    if (d.smooth != PIXL_PAC_SMOOTH_NONE) {
        int ss = d.smooth == PIXL_PAC_SMOOTH_GAUSSIAN ? 3 : d.smooth_size;
        if (ss < 1 || ss % 2 == 0) {
            pixl__ctx_fail(ctx, PIXL_ERR_ARG, "packernel2d '%s': smoothing size %d must be odd", name, ss);
            return NULL;
        }
        int64_t s[4] = {1, 1, ss, ss};
        float *fill = NULL;
        pixl_param_kind kind = d.smooth == PIXL_PAC_SMOOTH_FULL ? PIXL_PARAM : PIXL_BUFFER;
        sk = param(ctx, name, "smooth_kernel", kind, 4, s,
                   (pixl_init_spec){PIXL_INIT_CONST, (float)(1.0 / ((double)ss * ss)), 0}, &fill);
        if (!sk) return NULL;
        if (fill && d.smooth == PIXL_PAC_SMOOTH_GAUSSIAN) {
            static const float g1[3] = {0.25f, 0.5f, 0.25f};
            for (int a = 0; a < 3; a++)
                for (int b = 0; b < 3; b++) fill[a * 3 + b] = g1[a] * g1[b];
        } else if (fill && d.smooth == PIXL_PAC_SMOOTH_AVERAGE) {
            float v = 1.0f / (float)ss;
            for (int k = 0; k < ss * ss; k++) fill[k] = v * v;
        }
    }
    return pixl_packernel2d(ctx, guide, mask, sk, alpha, lambda, &d);
}

/* pacnet's np_gaussian_2d(k) * k * k with the centre 0 */
static void crf_gauss(int k, double *g)
{
    double sigma = k / 4.0, sum = 0;
    for (int a = 0; a < k; a++)
        for (int b = 0; b < k; b++) {
            double ra = a - k / 2, rb = b - k / 2;
            g[a * k + b] = exp(-0.5 * ra * ra / (sigma * sigma)) * exp(-0.5 * rb * rb / (sigma * sigma));
            sum += g[a * k + b];
        }
    for (int i = 0; i < k * k; i++) g[i] = g[i] / sum * k * k;
    g[(k / 2) * k + k / 2] = 0;
}

static pixl_tensor *conv_layer(pixl_ctx *ctx, const char *name, int transposed, pixl_tensor *x, pixl_tensor *guide,
                               pixl_tensor *kernel, int out_ch, const pixl_pac_opts *o, int bias)
{
    const char *what = transposed ? "pacconv_transpose2d" : "pacconv2d";
    if (!ctx || !x || (!guide && !kernel)) {
        if (ctx && x && !guide && !kernel)
            pixl__ctx_fail(ctx, PIXL_ERR_ARG, "%s '%s': needs guidance features or a precomputed kernel", what, name);
        return NULL;
    }
    if (guide && kernel) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "%s '%s': pass guidance or a precomputed kernel, not both", what, name);
        return NULL;
    }
    pixl_pac_opts d = o ? *o : (pixl_pac_opts){0};
    if (x->ndim != 4) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "%s '%s': input %s must be 4-D", what, name, pixl__tshape(x));
        return NULL;
    }
    int ic = (int)x->shape[1], kh = d.kernel[0], kw = d.kernel[1];
    if (out_ch < 1 || kh < 1 || kw < 1 || kh % 2 == 0 || kw % 2 == 0) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "%s '%s': out_channels %d and odd kernel %dx%d needed", what, name, out_ch,
                      kh, kw);
        return NULL;
    }
    if (d.shared_filters && ic != out_ch) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "%s '%s': shared_filters needs in_channels == out_channels (%d, %d)", what,
                      name, ic, out_ch);
        return NULL;
    }
    pixl_pac_filler fl = d.filler;
    int pool = fl == PIXL_PAC_FILL_POOL || fl == PIXL_PAC_FILL_CRF_POOL;
    if (pool && !d.shared_filters) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "%s '%s': filler pool/crf_pool needs shared_filters", what, name);
        return NULL;
    }
    if (fl == PIXL_PAC_FILL_LINEAR) {
        int ok = transposed && ic == out_ch;
        int s[2] = {d.stride[0] ? d.stride[0] : 1, d.stride[1] ? d.stride[1] : 1};
        if (ok && (kh < 2 * s[0] - 1 || kw < 2 * s[1] - 1)) ok = 0;
        if (!ok) {
            pixl__ctx_fail(ctx, PIXL_ERR_ARG,
                          "%s '%s': filler linear needs a transposed layer with in == out and kernel >= 2*stride-1",
                          what, name);
            return NULL;
        }
    }
    if ((fl == PIXL_PAC_FILL_CRF || fl == PIXL_PAC_FILL_CRF_PERTURBED) && (kh != kw || ic != out_ch)) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "%s '%s': filler crf needs a square kernel and in == out", what, name);
        return NULL;
    }
    if ((int)fl < 0 || (int)fl > PIXL_PAC_FILL_CRF_POOL) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "%s '%s': unknown filler %d", what, name, (int)fl);
        return NULL;
    }
    if (!kernel) {
        pixl_pac_opts ko = d;
        ko.transposed = transposed;
        ko.channel_wise = 0;
        kernel = pixl_nn_packernel2d(ctx, name, guide, NULL, out_ch, &ko);
        if (!kernel) return NULL;
    }
    int64_t ws[4];
    if (d.shared_filters) ws[0] = 1, ws[1] = 1;
    else if (transposed) ws[0] = ic, ws[1] = out_ch;
    else ws[0] = out_ch, ws[1] = ic;
    ws[2] = kh;
    ws[3] = kw;
    double stdv = 1.0 / sqrt((double)ic * kh * kw);
    if (d.shared_filters) stdv *= ic;
    pixl_init_spec wi = {PIXL_INIT_UNIFORM, (float)-stdv, (float)stdv}, bi = wi;
    if (fl != PIXL_PAC_FILL_UNIFORM) {
        wi = (pixl_init_spec){pool ? PIXL_INIT_ONES : PIXL_INIT_ZEROS, 0, 0};
        bi = (pixl_init_spec){PIXL_INIT_ZEROS, 0, 0};
    }
    float *wd = NULL;
    pixl_tensor *w = param(ctx, name, "weight", pool ? PIXL_BUFFER : PIXL_PARAM, 4, ws, wi, &wd);
    if (!w) return NULL;
    int64_t T = (int64_t)kh * kw;
    if (wd && fl == PIXL_PAC_FILL_CRF_POOL) wd[(kh / 2) * kw + kw / 2] = 0.0f;
    if (wd && fl == PIXL_PAC_FILL_LINEAR) {
        int s[2] = {d.stride[0] ? d.stride[0] : 1, d.stride[1] ? d.stride[1] : 1}, k[2] = {kh, kw};
        double tent[2][128];
        for (int dim = 0; dim < 2; dim++) {
            int pad = (k[dim] - (2 * s[dim] - 1)) / 2;
            for (int j = 0; j < k[dim] && j < 128; j++) {
                int u = j - pad; /* position inside the tent 0 .. 2s-2 */
                double v = (u < 0 || u > 2 * s[dim] - 2) ? 0.0 : (u < s[dim] ? u + 1 : 2 * s[dim] - 1 - u);
                v /= s[dim];
                if (d.normalize) v *= (double)((k[dim] - j - 1) / s[dim] + j / s[dim] + 1);
                tent[dim][j] = v;
            }
        }
        int nc = d.shared_filters ? 1 : ic;
        for (int c = 0; c < nc; c++)
            for (int a = 0; a < kh; a++)
                for (int b = 0; b < kw; b++)
                    wd[((int64_t)c * ws[1] + c) * T + a * kw + b] = (float)(tent[0][a] * tent[1][b]);
    }
    if (wd && (fl == PIXL_PAC_FILL_CRF || fl == PIXL_PAC_FILL_CRF_PERTURBED)) {
        double *gs = malloc(sizeof(double) * (size_t)T);
        if (!gs) {
            pixl__ctx_fail(ctx, PIXL_ERR_NOMEM, "%s '%s': out of memory", what, name);
            return NULL;
        }
        crf_gauss(kh, gs);
        int64_t nco = d.shared_filters ? 1 : out_ch, nci = d.shared_filters ? 1 : ic;
        for (int64_t co = 0; co < nco; co++)
            for (int64_t ci = 0; ci < nci; ci++)
                for (int64_t t = 0; t < T; t++)
                    wd[(co * nci + ci) * T + t] = (d.shared_filters || co != ci) ? (float)gs[t] : 0.0f;
        free(gs);
        if (fl == PIXL_PAC_FILL_CRF_PERTURBED) {
            uint64_t *rng = pixl__params_rng(ctx->P);
            for (int64_t i = 0; i < nco * nci * T; i++) wd[i] += (float)((pixl__rng_uniform(rng) - 0.5) * 0.001);
        }
    }
    pixl_tensor *b = NULL;
    if (bias) {
        int64_t bs[1] = {out_ch};
        b = param(ctx, name, "bias", PIXL_PARAM, 1, bs, bi, NULL);
        if (!b) return NULL;
    }
    return transposed ? pixl_pacconv_transpose2d(ctx, x, kernel, w, b, &d) : pixl_pacconv2d(ctx, x, kernel, w, b, &d);
}

pixl_tensor *pixl_nn_pacconv2d(pixl_ctx *ctx, const char *name, pixl_tensor *x, pixl_tensor *guide,
                               pixl_tensor *kernel, int out_ch, const pixl_pac_opts *o, int bias)
{
    return conv_layer(ctx, name, 0, x, guide, kernel, out_ch, o, bias);
}

pixl_tensor *pixl_nn_pacconv_transpose2d(pixl_ctx *ctx, const char *name, pixl_tensor *x, pixl_tensor *guide,
                                         pixl_tensor *kernel, int out_ch, const pixl_pac_opts *o, int bias)
{
    return conv_layer(ctx, name, 1, x, guide, kernel, out_ch, o, bias);
}

pixl_tensor *pixl_nn_pacpool2d(pixl_ctx *ctx, const char *name, pixl_tensor *x, pixl_tensor *guide,
                               pixl_tensor *kernel, const pixl_pac_opts *o)
{
    if (!ctx || !x || (!guide && !kernel)) {
        if (ctx && x && !guide && !kernel)
            pixl__ctx_fail(ctx, PIXL_ERR_ARG, "pacpool2d '%s': needs guidance features or a precomputed kernel", name);
        return NULL;
    }
    if (guide && kernel) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "pacpool2d '%s': pass guidance or a precomputed kernel, not both", name);
        return NULL;
    }
    if (x->ndim != 4) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "pacpool2d '%s': input %s must be 4-D", name, pixl__tshape(x));
        return NULL;
    }
    pixl_pac_opts d = o ? *o : (pixl_pac_opts){0};
    if (!kernel) {
        if (d.channel_wise && guide->ndim == 4 && guide->shape[1] != x->shape[1]) {
            pixl__ctx_fail(ctx, PIXL_ERR_SHAPE,
                          "pacpool2d '%s': channel_wise needs guidance with the input's channels (%s vs %s)", name,
                          pixl__tshape(guide), pixl__tshape(x));
            return NULL;
        }
        d.transposed = 0;
        kernel = pixl_nn_packernel2d(ctx, name, guide, NULL, (int)x->shape[1], &d);
        if (!kernel) return NULL;
    }
    return pixl_pacpool2d(ctx, x, kernel, &d);
}
