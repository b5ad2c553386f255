/* opts_tables.c — the key/value tables of pixl's option structs (PixelNet
 * head, PacCRF, joint upsampling, PAC kernels, a config's model.options) and
 * their public setters. The compact names (pacnet's "crfi5p4d5161",
 * "jbu_17_2_0.25_x8", "inv_0.5_-1_asym", PixelNet's "mlp=512,512;...") are
 * split into these same keys by their parsers, so both spellings fill the
 * same struct through the same checks. */
#include <stddef.h>

#include "pixl_impl.h"

_Static_assert(sizeof(pixl_pn_align) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(pixl_crf_output) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(pixl_jointup_arch) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(pixl_pac_kernel_type) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(pixl_pac_smooth) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(pixl_pac_filler) == sizeof(int), "enum fields are stored as int");
_Static_assert(PIXL_PN_MAX_TAPS == PIXL_HYPERCOLUMN_MAX_MAPS, "one tap per hypercolumn map");

#define FSZ(T, f) sizeof(((T *)0)->f)
#define O_INT(T, k, f, l, h, d) {.key = k, .type = PIXL__OPT_INT, .off = offsetof(T, f), .size = FSZ(T, f), .lo = l, .hi = h, .doc = d}
#define O_FLT(T, k, f, l, h, d) {.key = k, .type = PIXL__OPT_FLOAT, .off = offsetof(T, f), .size = FSZ(T, f), .lo = l, .hi = h, .doc = d}
#define O_BOOL(T, k, f, d) {.key = k, .type = PIXL__OPT_BOOL, .off = offsetof(T, f), .size = FSZ(T, f), .doc = d}
#define O_STR(T, k, f, d) {.key = k, .type = PIXL__OPT_STRING, .off = offsetof(T, f), .size = FSZ(T, f), .doc = d}
#define O_ENUM(T, k, f, ch, d) {.key = k, .type = PIXL__OPT_ENUM, .off = offsetof(T, f), .size = FSZ(T, f), .choices = ch, .doc = d}
#define N_OF(a) ((int)(sizeof a / sizeof a[0]))

/* ------------------------------------------------------------ PixelNet head */

static const pixl__opt_field pn_head_fields[] = {
    {.key = "taps", .type = PIXL__OPT_STR_LIST, .off = offsetof(pixl_pn_head_opts, taps), .size = 32,
     .count_off = offsetof(pixl_pn_head_opts, n_taps), .max_n = PIXL_PN_MAX_TAPS,
     .doc = "pixelnet: backbone taps read by the hypercolumn; [] = the last tap of each stride"},
    {.key = "mlp", .type = PIXL__OPT_INT_LIST, .off = offsetof(pixl_pn_head_opts, mlp), .size = sizeof(int),
     .count_off = offsetof(pixl_pn_head_opts, n_mlp), .max_n = PIXL_PN_MAX_MLP, .lo = 1, .hi = 1 << 20,
     .doc = "pixelnet: hidden widths of the head MLP; [] = a linear head"},
    O_FLT(pixl_pn_head_opts, "dropout", dropout, 0, 0.99, "pixelnet: dropout after each hidden ReLU of the head"),
    O_FLT(pixl_pn_head_opts, "hc_dropout", hc_dropout, 0, 0.99, "pixelnet: dropout on the hypercolumn"),
    O_BOOL(pixl_pn_head_opts, "bn", bn, "pixelnet: BatchNorm side branch (affine=False) on each tap"),
    O_ENUM(pixl_pn_head_opts, "align", align, "center|corner",
           "pixelnet: tap offsets: center = (stride-1)/2 (pooled maps), corner = 0 (strided convolutions)"),
    O_INT(pixl_pn_head_opts, "chunk", chunk, 1, 1 << 26, "pixelnet: pixels per chunk of dense inference"),
};
const pixl__opt_table pixl__pn_head_table = {"pixelnet", pn_head_fields, N_OF(pn_head_fields)};

pixl_pn_head_opts pixl_pn_head_defaults(void)
{
    pixl_pn_head_opts o;
    memset(&o, 0, sizeof o); /* also the padding and unused name bytes: structs compare with memcmp */
    o.n_mlp = 2;
    o.mlp[0] = o.mlp[1] = 512;
    o.dropout = 0.5f;
    o.bn = 1;
    o.align = PIXL_PN_ALIGN_CENTER;
    o.chunk = 16384;
    return o;
}

int pixl_pn_head_set(pixl_pn_head_opts *o, const char *key, const char *value)
{
    return pixl__opts_set(&pixl__pn_head_table, o, "pixelnet", key, value);
}

int pixl_pn_head_parse(const char *variant, pixl_pn_head_opts *o)
{
    if (!o) return pixl_set_error(PIXL_ERR_ARG, "pixl_pn_head_parse: NULL options");
    pixl_pn_head_opts t = pixl_pn_head_defaults();
    int rc = pixl__opts_parse_pairs(&pixl__pn_head_table, &t, "pixelnet", variant);
    if (!rc) *o = t;
    return rc;
}

int pixl_pn_head_format(const pixl_pn_head_opts *o, char *buf, size_t len)
{
    if (!o || !buf || !len) return pixl_set_error(PIXL_ERR_ARG, "pixl_pn_head_format: NULL argument");
    pixl_pn_head_opts d = pixl_pn_head_defaults();
    return pixl__opts_format_changed(&pixl__pn_head_table, o, &d, buf, len);
}

/* ---------------------------------------------------------- model.options */

static const pixl__opt_field model_cfg_fields[] = {
    O_FLT(pixl_cfg_model_options, "width", width, 0, 64, "channel multiplier where the model has one; 0 = its default (1)"),
    O_STR(pixl_cfg_model_options, "variant", variant,
          "model-specific variant (fcn: pad100, unet: valid, frrn: gn; pixelnet: the head as key=value;...)"),
    O_STR(pixl_cfg_model_options, "backbone", backbone, "encoder by name where the model takes one; \"\" = its default"),
    O_INT(pixl_cfg_model_options, "output_stride", output_stride, 0, 64,
          "dilated encoders: 8, 16 or 32; 0 = the model's default"),
    O_BOOL(pixl_cfg_model_options, "aux", aux, "train the model's auxiliary (deep-supervision) heads too"),
    O_STR(pixl_cfg_model_options, "pretrained", pretrained,
          "checkpoint whose tensors initialise the model by name (e.g. converted ImageNet weights); \"\" = none"),
    {.key = "head", .type = PIXL__OPT_EMBED, .off = offsetof(pixl_cfg_model_options, head), .sub = &pixl__pn_head_table},
};
const pixl__opt_table pixl__model_cfg_table = {"model.options", model_cfg_fields, N_OF(model_cfg_fields)};

/* ------------------------------------------------------------------ PacCRF */

static const char *const crf_types[4] = {"4d", "2d", "0d", "na"};

/* "TYPE:K:DIL:BLUR[:s]" list -> n_terms + terms (field = &o->n_terms) */
static int crf_terms_parse(void *field, const char *path, const char *text)
{
    const size_t terms_off = offsetof(pixl_crf_opts, terms) - offsetof(pixl_crf_opts, n_terms);
    pixl_crf_opts t = pixl_crf_defaults();
    char buf[512];
    if (strlen(text) >= sizeof buf) return pixl_set_error(PIXL_ERR_ARG, "%s: value too long", path);
    snprintf(buf, sizeof buf, "%s", text);
    char *s = buf;
    if (*s == '[') s++;
    char *close = strrchr(s, ']');
    if (close) *close = 0;
    char *save = NULL;
    for (char *tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ') tok++;
        char *end = tok + strlen(tok);
        while (end > tok && end[-1] == ' ') *--end = 0;
        if (!*tok) continue;
        int type = -1, k = 0, dil = 0, blur = 0, n = 0;
        char ty[3] = "", sp[3] = "";
        if (sscanf(tok, "%2[0-9a-z]:%d:%d:%d%n", ty, &k, &dil, &blur, &n) == 4 &&
            (!tok[n] || (sscanf(tok + n, ":%2s", sp) == 1 && !strcmp(sp, "s")))) {
            for (int i = 0; i < 4; i++)
                if (!strcmp(ty, crf_types[i])) type = i;
        }
        if (type < 0)
            return pixl_set_error(PIXL_ERR_ARG, "%s: term '%s' is not TYPE:KERNEL:DILATION:BLUR[:s] with TYPE 4d, 2d, 0d or na",
                                  path, tok);
        if (pixl_crf_add_term(&t, k, dil, blur, (pixl_crf_compat)type, sp[0] == 's', 1.0f)) {
            char why[256];
            snprintf(why, sizeof why, "%s", pixl_last_error());
            return pixl_set_error(PIXL_ERR_ARG, "%s: %s", path, why);
        }
    }
    memcpy(field, &t.n_terms, sizeof t.n_terms);
    memcpy((char *)field + terms_off, t.terms, sizeof t.terms);
    return PIXL_OK;
}

static void crf_terms_format(const void *field, char *buf, size_t len, int compact)
{
    const size_t terms_off = offsetof(pixl_crf_opts, terms) - offsetof(pixl_crf_opts, n_terms);
    int n;
    pixl_crf_term terms[PIXL_CRF_MAX_TERMS];
    memcpy(&n, field, sizeof n);
    memcpy(terms, (const char *)field + terms_off, sizeof terms);
    size_t o = (size_t)snprintf(buf, len, "%s", compact ? "" : "[");
    for (int i = 0; i < n && i < PIXL_CRF_MAX_TERMS && o < len; i++) {
        const pixl_crf_term *m = &terms[i];
        o += (size_t)snprintf(buf + o, len - o, "%s%s:%d:%d:%d%s", i ? (compact ? "," : ", ") : "",
                              crf_types[(int)m->compat & 3], m->kernel_size, m->dilation, m->blur,
                              m->spatial_filter ? ":s" : "");
    }
    if (!compact && o < len) snprintf(buf + o, len - o, "]");
}

static const pixl__opt_field crf_fields[] = {
    O_INT(pixl_crf_opts, "steps", num_steps, 1, 100, "mean-field steps"),
    O_BOOL(pixl_crf_opts, "loose", loose, "PacCRFLoose: untied parameters per step"),
    O_ENUM(pixl_crf_opts, "output", output, "log_q|softmax|log_softmax", "what the CRF returns"),
    O_BOOL(pixl_crf_opts, "perturbed_init", perturbed_init, "perturb the initial compatibility weights"),
    O_BOOL(pixl_crf_opts, "fixed_weighting", fixed_weighting, "unary and pairwise weights are constants"),
    O_FLT(pixl_crf_opts, "unary_weight", unary_weight, -1e6, 1e6, "initial unary weight"),
    {.key = "terms", .type = PIXL__OPT_CUSTOM, .off = offsetof(pixl_crf_opts, n_terms), .parse = crf_terms_parse,
     .format = crf_terms_format, .doc = "pairwise terms TYPE:KERNEL:DILATION:BLUR[:s]"},
};
const pixl__opt_table pixl__crf_table = {"crf", crf_fields, N_OF(crf_fields)};

int pixl_crf_set(pixl_crf_opts *o, const char *key, const char *value)
{
    return pixl__opts_set(&pixl__crf_table, o, "crf", key, value);
}

/* ------------------------------------------------------- joint upsampling */

static const pixl__opt_field jointup_fields[] = {
    O_ENUM(pixl_jointup_opts, "arch", arch, "pacjointupsample|pacjointupsample_lite|djif|jbu", "the network"),
    O_INT(pixl_jointup_opts, "factor", factor, 2, 16, "upsampling factor: 2, 4, 8 or 16"),
    O_INT(pixl_jointup_opts, "channels", channels, 1, 16, "target channels (informational)"),
    O_INT(pixl_jointup_opts, "guide_channels", guide_channels, 1, 64, "guide channels"),
    O_INT(pixl_jointup_opts, "kernel", jbu_kernel, 1, 64, "JBU: kernel size (odd, >= factor)"),
    O_FLT(pixl_jointup_opts, "scale_color", jbu_scale_color, 0, 1e30, "JBU: scale of the guide's colour"),
    O_FLT(pixl_jointup_opts, "scale_space", jbu_scale_space, 0, 1e30, "JBU: scale of the pixel coordinates"),
};
const pixl__opt_table pixl__jointup_table = {"jointup", jointup_fields, N_OF(jointup_fields)};

pixl_jointup_opts pixl_jointup_defaults(void)
{
    pixl_jointup_opts o;
    memset(&o, 0, sizeof o);
    o.channels = 1;
    o.guide_channels = 3;
    return o;
}

int pixl_jointup_set(pixl_jointup_opts *o, const char *key, const char *value)
{
    return pixl__opts_set(&pixl__jointup_table, o, "jointup", key, value);
}

/* ---------------------------------------------------------------- PAC */

static const pixl__opt_field pac_fields[] = {
    O_ENUM(pixl_pac_opts, "kernel_type", kernel_type, "gaussian|inv", "adapting kernel: exp(-D/2) or alpha + D^(lambda/2)"),
    O_FLT(pixl_pac_opts, "inv_alpha", inv_alpha, -1e30, 1e30, "inv: initial alpha"),
    O_FLT(pixl_pac_opts, "inv_lambda", inv_lambda, -1e30, 1e30, "inv: initial lambda"),
    O_BOOL(pixl_pac_opts, "asym", asym, "ReLU on the feature differences"),
    O_BOOL(pixl_pac_opts, "fixed", fixed, "alpha and lambda are buffers, not parameters"),
    O_ENUM(pixl_pac_opts, "smooth", smooth, "none|gaussian|average|full", "smoothing of the centre features"),
    O_INT(pixl_pac_opts, "smooth_size", smooth_size, 0, 99, "average/full: smoothing window (odd)"),
    O_BOOL(pixl_pac_opts, "normalize", normalize, "normalise the kernel over the window"),
    O_BOOL(pixl_pac_opts, "channel_wise", channel_wise, "one kernel per channel"),
    O_BOOL(pixl_pac_opts, "shared_filters", shared_filters, "pacconv: one k x k filter shared by all channels"),
    O_ENUM(pixl_pac_opts, "filler", filler, "uniform|linear|crf|crf_perturbed|pool|crf_pool", "weight initialisation"),
};
const pixl__opt_table pixl__pac_table = {"pac", pac_fields, N_OF(pac_fields)};

int pixl_pac_set(pixl_pac_opts *o, const char *key, const char *value)
{
    return pixl__opts_set(&pixl__pac_table, o, "pac", key, value);
}
