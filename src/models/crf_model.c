/* crf_model.c — any zoo model with a PacCRF on its logits, by pacnet's model
 * name grammar: "<arch>[frozen]_<crf>", e.g. "fcn8s_crfi5p4d5641p4d5161" or
 * "enetfrozen_crfi5lp4d5161" (<crf> as pixl_crf_parse; "frozen" freezes the
 * backbone's parameters, pacnet's first training stage).
 *
 * As pacnet's ModelWithCrf (use_yx = False, shared_scales = False): the
 * backbone's logits are the unary; the edge features of pairwise term m are
 * the network input divided by a learnable per-channel scale
 * `feat_scales.m` (in_channels values). pacnet initialises it to 30 on its
 * 0..255 mean-subtracted input; pixl's inputs are normalised by the dataset
 * std (about 0.25-0.29 for CamVid and ImageNet statistics), so the
 * initial value here is 30 / (255 * 0.28) = 0.42: the same colour bandwidth.
 * The backbone keeps its own parameter names (so its checkpoints load with
 * model.options.pretrained); the CRF's are under "crf." (pacnet's names).
 *
 * The typed form is pixl_model_opts.crf and .crf_frozen on the plain arch
 * (a config's model.options.crf mapping); the compact name is parsed into
 * the same options, and both build through pixl__model_crf. */
#include "models_impl.h"

int pixl__model_split_crf(const char *arch, char *backbone, size_t blen, int *frozen, const char **crf)
{
    const char *u = arch ? strstr(arch, "_crf") : NULL;
    if (!u) return 0;
    size_t n = (size_t)(u - arch);
    if (n + 1 > blen) n = blen - 1;
    memcpy(backbone, arch, n);
    backbone[n] = 0;
    *frozen = 0;
    if (n > 6 && !strcmp(backbone + n - 6, "frozen")) {
        backbone[n - 6] = 0;
        *frozen = 1;
    }
    *crf = u + 1;
    return 1;
}

/* The compact name in model.arch: "<arch>[frozen]_<crf>" into the backbone's
 * name, frozen and the CRF (pixl_crf_parse: its parts go through
 * pixl_crf_set, as the keys of pixl_model_opts.crf do) */
int pixl__model_crf_from_arch(const char *arch, char *backbone, size_t blen, int *frozen, pixl_crf_opts *co)
{
    const char *spec = NULL;
    if (!pixl__model_split_crf(arch, backbone, blen, frozen, &spec) || !backbone[0])
        return pixl_set_error(PIXL_ERR_ARG, "model '%s': expected <arch>[frozen]_crf...", arch);
    if (pixl_crf_parse(spec, co)) {
        char why[512];
        snprintf(why, sizeof why, "%s", pixl_last_error());
        return pixl_set_error(PIXL_ERR_ARG, "model '%s': %s", arch, why);
    }
    if (strstr(backbone, "_crf")) return pixl_set_error(PIXL_ERR_ARG, "model '%s': one CRF per model", arch);
    return PIXL_OK;
}

pixl_tensor *pixl__model_with_crf(pixl_ctx *c, const char *arch, pixl_tensor *x, const pixl_model_opts *o)
{
    char bb[PIXL_NAME_LEN];
    int frozen = 0;
    pixl_crf_opts co;
    if (o->crf) {
        pixl__ctx_fail(c, PIXL_ERR_ARG, "model '%s': a CRF both in the name and in the options (crf); give one", arch);
        return NULL;
    }
    if (pixl__model_crf_from_arch(arch, bb, sizeof bb, &frozen, &co)) {
        pixl__ctx_fail(c, PIXL_ERR_ARG, "%s", pixl_last_error());
        return NULL;
    }
    pixl_model_opts d = *o;
    d.crf = &co;
    d.crf_frozen = frozen;
    return pixl__model_crf(c, bb, x, &d);
}

pixl_tensor *pixl__model_crf(pixl_ctx *c, const char *bb, pixl_tensor *x, const pixl_model_opts *mo)
{
    const pixl_crf_opts co = *mo->crf;
    const int frozen = mo->crf_frozen;
    const char *arch = bb;
    pixl_model_opts bo = *mo; /* the network under the CRF */
    bo.crf = NULL;
    bo.crf_frozen = 0;
    if (co.n_terms < 1) {
        pixl__ctx_fail(c, PIXL_ERR_ARG, "model '%s': the CRF has no pairwise terms (crf.terms)", arch);
        return NULL;
    }
    /* parameters that exist before the backbone is built (a rebuild) are
     * frozen now, so this graph computes no gradient for them */
    if (frozen && c->P) {
        for (int i = 0; i < pixl_params_count(c->P); i++) {
            const char *n = pixl_params_name(c->P, i);
            if (strncmp(n, "crf.", 4) && strncmp(n, "feat_scales.", 12)) pixl_params_set_frozen(c->P, n, 1);
        }
    }
    pixl_tensor *unary = pixl_model_build(c, bb, x, &bo);
    if (!unary) return NULL;
    if (frozen && c->P) /* first build: the backbone's parameters were created just now */
        for (int i = 0; i < pixl_params_count(c->P); i++) {
            const char *n = pixl_params_name(c->P, i);
            if (strncmp(n, "crf.", 4) && strncmp(n, "feat_scales.", 12)) pixl_params_set_frozen(c->P, n, 1);
        }
    if (unary->shape[2] != x->shape[2] || unary->shape[3] != x->shape[3]) {
        pixl__ctx_fail(c, PIXL_ERR_SHAPE, "model '%s': backbone logits %s are not at the input's size %s", arch,
                      pixl__tshape(unary), pixl__tshape(x));
        return NULL;
    }
    pixl_tensor *feats[PIXL_CRF_MAX_TERMS];
    const int C = (int)x->shape[1];
    for (int m = 0; m < co.n_terms; m++) {
        int64_t s[1] = {C};
        char leaf[32];
        snprintf(leaf, sizeof leaf, "%d", m);
        pixl_tensor *sc = pixl__nn_param(c, "feat_scales", leaf, PIXL_PARAM, PIXL_F32, 1, s,
                                        (pixl_init_spec){PIXL_INIT_CONST, 30.0f / (255.0f * 0.28f), 0}, NULL);
        int64_t s3[3] = {C, 1, 1};
        feats[m] = sc ? pixl_mul(c, x, pixl_reshape(c, pixl_reciprocal(c, sc), 3, s3)) : NULL;
        if (!feats[m]) return NULL;
    }
    return pixl_nn_paccrf(c, "crf", unary, co.n_terms, feats, &co);
}
