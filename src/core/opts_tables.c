/* opts_tables.c — the key/value tables of the core's option structs
 * (PacCRF, PAC kernels) and their public setters. The compact names
 * (pacnet's "crfi5p4d5161", "inv_0.5_-1_asym") are split into these same
 * keys by their parsers, so both spellings fill the same struct through the
 * same checks. The tables of the layers above are next to their code:
 * src/models/model_opts.c (PixelNet head, joint upsampling) and
 * src/config/config_model_options.c (a config's model.options). */
#include <ctype.h>

#include "core/opts_tables.h"

_Static_assert(sizeof(pixl_crf_output) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(pixl_pac_kernel_type) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(pixl_pac_smooth) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(pixl_pac_filler) == sizeof(int), "enum fields are stored as int");

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
        /* numbers of more than 9 digits would overflow sscanf's %d: too large for any term anyway */
        int digits = 0;
        for (const char *q = tok; *q; q++) {
            digits = isdigit((unsigned char)*q) ? digits + 1 : 0;
            if (digits > 9)
                return pixl_set_error(PIXL_ERR_ARG, "%s: term '%s': number too large (kernel at most %d, dilation and "
                                                    "blur at most %d)",
                                      path, tok, PIXL_CRF_MAX_KERNEL, PIXL_CRF_MAX_DILATION);
        }
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

int pixl_crf_format(const pixl_crf_opts *o, char *buf, size_t len)
{
    if (!o || !buf || !len) return pixl_set_error(PIXL_ERR_ARG, "pixl_crf_format: NULL argument");
    pixl_crf_opts d = pixl_crf_defaults();
    return pixl__opts_format_changed(&pixl__crf_table, o, &d, buf, len);
}

int pixl_crf_parse_pairs(const char *pairs, pixl_crf_opts *o)
{
    if (!o) return pixl_set_error(PIXL_ERR_ARG, "pixl_crf_parse_pairs: NULL options");
    pixl_crf_opts t = pixl_crf_defaults();
    int rc = pixl__opts_parse_pairs(&pixl__crf_table, &t, "crf", pairs);
    if (!rc) *o = t;
    return rc;
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
