/* model_opts.c — the key/value tables of the models layer's option structs
 * (PixelNet head, joint upsampling) and their public setters. PixelNet's
 * variant strings ("mlp=512,512;...") and the joint-upsampling names
 * ("jbu_17_2_0.25_x8") are split into these same keys by their parsers, so
 * both spellings fill the same struct through the same checks. */
#include "core/opts_tables.h"

_Static_assert(sizeof(pixl_pn_align) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(pixl_jointup_arch) == sizeof(int), "enum fields are stored as int");
_Static_assert(PIXL_PN_MAX_TAPS == PIXL_HYPERCOLUMN_MAX_MAPS, "one tap per hypercolumn map");

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
