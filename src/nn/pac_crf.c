/* pac_crf.c — PacCRF and PacCRFLoose (NVlabs/pacnet's paccrf.py): mean-field
 * inference with pixel-adaptive pairwise terms, composed from graph ops
 * (packernel2d, pacconv2d, conv2d, avg_pool2d, resize, softmax, add/mul), so
 * forward and backward are those ops' kernels and no column tensor is ever
 * built. The contract is documented at pixl_nn_paccrf in include/pixl.h. */
#include <ctype.h>
#include <stdlib.h>

#include "pixl_impl.h"

pixl_crf_opts pixl_crf_defaults(void)
{
    pixl_crf_opts o;
    memset(&o, 0, sizeof o);
    o.num_steps = 5;
    o.output = PIXL_CRF_LOG_Q;
    o.perturbed_init = 1;
    o.unary_weight = 1.0f;
    return o;
}

int pixl_crf_add_term(pixl_crf_opts *o, int kernel_size, int dilation, int blur, pixl_crf_compat compat,
                      int spatial_filter, float weight)
{
    if (!o) return pixl_set_error(PIXL_ERR_ARG, "crf: no options");
    if (o->n_terms >= PIXL_CRF_MAX_TERMS)
        return pixl_set_error(PIXL_ERR_ARG, "crf: at most %d pairwise terms", PIXL_CRF_MAX_TERMS);
    if (kernel_size < 1 || kernel_size % 2 == 0 || dilation < 1 || blur < 1)
        return pixl_set_error(PIXL_ERR_ARG, "crf: pairwise term %d: kernel %d (odd), dilation %d, blur %d (>= 1) invalid",
                         o->n_terms, kernel_size, dilation, blur);
    /* the kernel's reach, (kernel - 1) / 2 * dilation pixels, and its
     * kernel^2 taps are index arithmetic in int: bounded well inside it */
    if (kernel_size > PIXL_CRF_MAX_KERNEL || dilation > PIXL_CRF_MAX_DILATION || blur > PIXL_CRF_MAX_DILATION)
        return pixl_set_error(PIXL_ERR_ARG, "crf: pairwise term %d: kernel %d (at most %d), dilation %d, blur %d (at "
                                            "most %d) too large",
                              o->n_terms, kernel_size, PIXL_CRF_MAX_KERNEL, dilation, blur, PIXL_CRF_MAX_DILATION);
    if ((int)compat < 0 || (int)compat > PIXL_CRF_NA)
        return pixl_set_error(PIXL_ERR_ARG, "crf: pairwise term %d: unknown compat type %d", o->n_terms, (int)compat);
    o->terms[o->n_terms++] = (pixl_crf_term){kernel_size, dilation, blur, compat, spatial_filter != 0, weight};
    return PIXL_OK;
}

/* "p" TYPE ["s"] K DIL BLUR, starting after the 'p': appended to the terms
 * list as TYPE:K:DIL:BLUR[:s] (pixl_crf_set's form); *end set past it */
static int term_text(const char *spec, const char *s, const char **end, char *list, size_t len)
{
    static const char *const types[] = {"4d", "2d", "0d", "na"};
    int type = -1;
    for (int i = 0; i < 4; i++)
        if (!strncmp(s, types[i], 2)) type = i;
    if (type < 0)
        return pixl_set_error(PIXL_ERR_ARG, "crf '%s': pairwise type at '%s' is not 4d, 2d, 0d or na", spec, s);
    s += 2;
    int spatial = 0;
    if (*s == 's') spatial = 1, s++;
    const char *d0 = s;
    while (isdigit((unsigned char)*s)) s++;
    if (s - d0 < 3)
        return pixl_set_error(PIXL_ERR_ARG,
                         "crf '%s': pairwise term needs kernel (1 digit), dilation (1+ digits), blur (1 digit): '%.*s'",
                         spec, (int)(s - d0), d0);
    size_t o = strlen(list);
    snprintf(list + o, len - o, "%s%s:%c:%.*s:%c%s", o ? "," : "", types[type], d0[0], (int)(s - d0 - 2), d0 + 1,
             s[-1], spatial ? ":s" : "");
    *end = s;
    return PIXL_OK;
}

/* The compact grammar is split into pixl_crf_set's keys (steps, loose,
 * terms), so both spellings fill the struct through the same checks. */
int pixl_crf_parse(const char *spec, pixl_crf_opts *o)
{
    if (!spec || !o) return pixl_set_error(PIXL_ERR_ARG, "crf: no spec");
    pixl_crf_opts t = pixl_crf_defaults();
    const char *s = spec;
    if (!strncmp(s, "crfv7", 5)) s += 5; /* pacnet accepts both names for the same CRF */
    else if (!strncmp(s, "crf", 3)) s += 3;
    else return pixl_set_error(PIXL_ERR_ARG, "crf '%s': must start with 'crf'", spec);
    if (*s == 'i') {
        char *e, buf[32];
        long n = strtol(s + 1, &e, 10);
        if (e == s + 1 || n < 1 || n > 100)
            return pixl_set_error(PIXL_ERR_ARG, "crf '%s': 'i' must be followed by a step count 1..100", spec);
        snprintf(buf, sizeof buf, "%ld", n);
        if (pixl_crf_set(&t, "steps", buf)) return pixl_last_status();
        s = e;
        if (*s == 'l') {
            if (pixl_crf_set(&t, "loose", "true")) return pixl_last_status();
            s++;
        }
    }
    char terms[512] = "";
    if (!*s) snprintf(terms, sizeof terms, "4d:5:16:1"); /* pacnet's default p4d5161 */
    while (*s) {
        if (*s != 'p') return pixl_set_error(PIXL_ERR_ARG, "crf '%s': expected 'p' at '%s'", spec, s);
        if (strlen(terms) + 32 >= sizeof terms) return pixl_set_error(PIXL_ERR_ARG, "crf '%s': too many terms", spec);
        if (term_text(spec, s + 1, &s, terms, sizeof terms)) return pixl_last_status();
    }
    if (pixl_crf_set(&t, "terms", terms)) {
        char why[512];
        snprintf(why, sizeof why, "%s", pixl_last_error());
        return pixl_set_error(PIXL_ERR_ARG, "crf '%s': %s", spec, why);
    }
    *o = t;
    return PIXL_OK;
}

/* pacnet's _ceil_pad_factor */
static int ceil_pad(int64_t size, int factor) { return (int)(((factor - size % factor) % factor + 1) / 2); }

static pixl_tensor *blur_pool(pixl_ctx *ctx, pixl_tensor *x, int b)
{
    if (b == 1) return x;
    pixl_pool2d_opts po = {.kernel = {b, b},
                           .stride = {b, b},
                           .padding = {ceil_pad(x->shape[2], b), ceil_pad(x->shape[3], b)},
                           .exclude_pad = 1};
    return pixl_avg_pool2d(ctx, x, &po);
}

typedef struct {
    pixl_tensor *kernel[PIXL_CRF_MAX_TERMS]; /* adapting kernels (NULL for NA terms) */
} crf_kernels;

/* one mean-field step with the parameters under prefix (name or name.steps.s) */
static pixl_tensor *crf_step(pixl_ctx *ctx, const char *prefix, const pixl_crf_opts *o, pixl_tensor *unary,
                             pixl_tensor *logQ, const crf_kernels *K)
{
    const int C = (int)unary->shape[1];
    const int64_t H = unary->shape[2], W = unary->shape[3];
    pixl_tensor *Q = pixl_softmax(ctx, logQ);
    pixl_tensor *Qb[10] = {0}; /* blur factor 1..9 */
    Qb[1] = Q;
    pixl_tensor *out;
    if (o->fixed_weighting) {
        out = o->unary_weight == 1.0f ? unary : pixl_scale(ctx, unary, o->unary_weight);
    } else {
        int64_t s1[1] = {1};
        pixl_tensor *uw = pixl__nn_param(ctx, prefix, "unary_weight", PIXL_PARAM, PIXL_F32, 1, s1,
                                        (pixl_init_spec){PIXL_INIT_CONST, o->unary_weight, 0}, NULL);
        out = pixl_mul(ctx, unary, uw);
    }
    for (int m = 0; m < o->n_terms && out; m++) {
        const pixl_crf_term *t = &o->terms[m];
        char mname[PIXL_NAME_LEN * 2 + 64], leaf[48];
        if (!Qb[t->blur]) Qb[t->blur] = blur_pool(ctx, Q, t->blur);
        pixl_tensor *q = Qb[t->blur], *msg;
        const int pad = (t->kernel_size / 2) * t->dilation;
        snprintf(leaf, sizeof leaf, "messengers.%d", m);
        if (prefix[0]) snprintf(mname, sizeof mname, "%s.%s", prefix, leaf);
        else snprintf(mname, sizeof mname, "%s", leaf);
        if (t->compat == PIXL_CRF_NA) {
            pixl_conv2d_opts co = {.padding = {pad, pad}, .dilation = {t->dilation, t->dilation}};
            msg = pixl_nn_conv2d(ctx, mname, q, C, t->kernel_size, t->kernel_size, &co, 0);
        } else {
            pixl_pac_opts po = {.kernel = {t->kernel_size, t->kernel_size},
                                .padding = {pad, pad},
                                .dilation = {t->dilation, t->dilation}};
            po.shared_filters = t->compat != PIXL_CRF_4D;
            po.filler = (t->compat != PIXL_CRF_4D && !t->spatial_filter) ? PIXL_PAC_FILL_CRF_POOL
                        : o->perturbed_init                             ? PIXL_PAC_FILL_CRF_PERTURBED
                                                                        : PIXL_PAC_FILL_CRF;
            msg = pixl_nn_pacconv2d(ctx, mname, q, NULL, K->kernel[m], C, &po, 0);
        }
        if (msg && t->compat == PIXL_CRF_2D) {
            int64_t ws[4] = {C, C, 1, 1};
            float *wd;
            snprintf(leaf, sizeof leaf, "compat.%d", m);
            if (prefix[0]) snprintf(mname, sizeof mname, "%s.%s", prefix, leaf);
            else snprintf(mname, sizeof mname, "%s", leaf);
            pixl_tensor *cw = pixl__nn_param(ctx, mname, "weight", PIXL_PARAM, PIXL_F32, 4, ws,
                                            (pixl_init_spec){PIXL_INIT_ONES, 0, 0}, &wd);
            if (wd) {
                uint64_t *rng = pixl__params_rng(ctx->P);
                for (int a = 0; a < C; a++)
                    for (int b = 0; b < C; b++) {
                        float v = a == b ? 0.0f : 1.0f;
                        if (o->perturbed_init) v += (float)((pixl__rng_uniform(rng) - 0.5) * 0.001);
                        wd[a * C + b] = v;
                    }
            }
            msg = cw ? pixl_conv2d(ctx, msg, cw, NULL, NULL) : NULL;
        }
        if (msg && t->blur > 1) {
            msg = pixl_resize(ctx, msg, (int)msg->shape[2] * t->blur, (int)msg->shape[3] * t->blur,
                              PIXL_RESIZE_BILINEAR, 0, t->blur, t->blur);
            if (msg)
                msg = pixl_crop2d(ctx, msg, ceil_pad(H, t->blur), ceil_pad(W, t->blur), (int)H, (int)W);
        }
        /* pacnet's pairwise weight: learnable only for Potts without a spatial filter */
        const float w0 = t->compat == PIXL_CRF_POTTS ? -t->weight : t->weight;
        const int learn = t->compat == PIXL_CRF_POTTS && !t->spatial_filter && !o->fixed_weighting;
        int64_t s1[1] = {1};
        snprintf(leaf, sizeof leaf, "pairwise_weights.%d", m);
        pixl_tensor *pw = pixl__nn_param(ctx, prefix, leaf, PIXL_PARAM, PIXL_F32, 1, s1,
                                        (pixl_init_spec){PIXL_INIT_CONST, w0, 0}, NULL);
        if (!msg || !pw) return NULL;
        if (learn) msg = pixl_scale(ctx, pixl_mul(ctx, msg, pw), -1.0f);
        else msg = pixl_scale(ctx, msg, -w0);
        out = pixl_add(ctx, out, msg);
    }
    return out;
}

pixl_tensor *pixl_nn_paccrf(pixl_ctx *ctx, const char *name, pixl_tensor *unary, int n_feats,
                            pixl_tensor *const *edge_feats, const pixl_crf_opts *o)
{
    if (!ctx || !unary) return NULL;
    if (!name) name = "";
    pixl_crf_opts d = o ? *o : pixl_crf_defaults();
    if (unary->ndim != 4 || unary->dtype != PIXL_F32) {
        pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "paccrf '%s': unary %s must be a 4-D float tensor", name,
                      pixl__tshape(unary));
        return NULL;
    }
    if (d.num_steps < 1 || d.n_terms < 0 || d.n_terms > PIXL_CRF_MAX_TERMS) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "paccrf '%s': %d steps and %d pairwise terms (need >= 1 step, <= %d terms)",
                      name, d.num_steps, d.n_terms, PIXL_CRF_MAX_TERMS);
        return NULL;
    }
    int need_feat = 0;
    for (int m = 0; m < d.n_terms; m++) {
        const pixl_crf_term *t = &d.terms[m];
        if (t->kernel_size < 1 || t->kernel_size % 2 == 0 || t->dilation < 1 || t->blur < 1 || t->blur > 9) {
            pixl__ctx_fail(ctx, PIXL_ERR_ARG, "paccrf '%s': term %d: kernel %d (odd), dilation %d, blur %d (1..9)", name,
                          m, t->kernel_size, t->dilation, t->blur);
            return NULL;
        }
        if (t->compat != PIXL_CRF_NA) need_feat = 1;
    }
    if (need_feat && (!edge_feats || (n_feats != 1 && n_feats != d.n_terms))) {
        pixl__ctx_fail(ctx, PIXL_ERR_ARG, "paccrf '%s': %d edge feature tensors for %d pairwise terms (pass 1 or %d)",
                      name, n_feats, d.n_terms, d.n_terms);
        return NULL;
    }
    /* adapting kernels, once per forward (step 0's messengers for the loose CRF) */
    crf_kernels K = {{0}};
    for (int m = 0; m < d.n_terms; m++) {
        const pixl_crf_term *t = &d.terms[m];
        if (t->compat == PIXL_CRF_NA) continue;
        pixl_tensor *f = edge_feats[n_feats == 1 ? 0 : m];
        if (!f || f->ndim != 4 || f->shape[0] != unary->shape[0] || f->shape[2] != unary->shape[2] ||
            f->shape[3] != unary->shape[3]) {
            pixl__ctx_fail(ctx, PIXL_ERR_SHAPE, "paccrf '%s': edge features %s of term %d do not match unary %s", name,
                          f ? pixl__tshape(f) : "(null)", m, pixl__tshape(unary));
            return NULL;
        }
        /* features shared by terms with the same blur are pooled once */
        pixl_tensor *pooled = NULL;
        for (int j = 0; j < m && n_feats == 1; j++)
            if (d.terms[j].blur == t->blur && K.kernel[j] && d.terms[j].kernel_size == t->kernel_size &&
                d.terms[j].dilation == t->dilation) {
                K.kernel[m] = K.kernel[j]; /* identical kernel (gaussian, no parameters) */
                break;
            }
        if (K.kernel[m]) continue;
        pooled = blur_pool(ctx, f, t->blur);
        const int pad = (t->kernel_size / 2) * t->dilation;
        pixl_pac_opts ko = {.kernel = {t->kernel_size, t->kernel_size},
                            .padding = {pad, pad},
                            .dilation = {t->dilation, t->dilation}};
        K.kernel[m] = pooled ? pixl_packernel2d(ctx, pooled, NULL, NULL, NULL, NULL, &ko) : NULL;
        if (!K.kernel[m]) return NULL;
    }
    pixl_tensor *logQ = unary;
    for (int s = 0; s < d.num_steps && logQ; s++) {
        char prefix[PIXL_NAME_LEN * 2];
        if (d.loose) {
            if (name[0]) snprintf(prefix, sizeof prefix, "%s.steps.%d", name, s);
            else snprintf(prefix, sizeof prefix, "steps.%d", s);
        } else {
            snprintf(prefix, sizeof prefix, "%s", name);
        }
        logQ = crf_step(ctx, prefix, &d, unary, logQ, &K);
    }
    if (!logQ) return NULL;
    if (d.output == PIXL_CRF_SOFTMAX) return pixl_softmax(ctx, logQ);
    if (d.output == PIXL_CRF_LOG_SOFTMAX) return pixl_log_softmax(ctx, logQ);
    return logQ;
}
