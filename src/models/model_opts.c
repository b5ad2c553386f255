/* model_opts.c — the key/value tables of the models layer's option structs
 * (PixelNet head, joint upsampling) and their public setters. PixelNet's
 * variant strings ("mlp=512,512;...") and the joint-upsampling names
 * ("jbu_17_2_0.25_x8") are split into these same keys by their parsers, so
 * both spellings fill the same struct through the same checks. */
#include <math.h>

#include "core/opts_tables.h"
#include "models_impl.h"

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

/* -------------------------------------------------------------------- PAG */

_Static_assert(sizeof(pixl_pag_loss) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(pixl_pag_anneal) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(pixl_gate_grad_rule) == sizeof(int), "enum fields are stored as int");

static const pixl__opt_field pag_fields[] = {
    O_FLT(pixl_pag_opts, "lambda", lambda, 1e-6, 1,
          "target fraction of pixels whose 3x3 conv computes, in (0, 1]; the budget losses pull each gate to it"),
    O_ENUM(pixl_pag_opts, "loss", loss, "kl|combined|mild|none",
           "budget loss: KL per gate, one KL of all gates pooled by pixel count, the seed's mild loss, or none"),
    O_FLT(pixl_pag_opts, "weight", weight, 0, 1e6, "weight of each gate's budget loss (of the combined loss)"),
    {.key = "weights", .type = PIXL__OPT_FLOAT_LIST, .off = offsetof(pixl_pag_opts, weights), .size = sizeof(float),
     .count_off = offsetof(pixl_pag_opts, n_weights), .max_n = PIXL_PAG_MAX_GATES, .lo = 0, .hi = 1e6,
     .doc = "per-gate multipliers of weight, one per entry of gates; [] = 1 each"},
    {.key = "gates", .type = PIXL__OPT_STR_LIST, .off = offsetof(pixl_pag_opts, gates), .size = 8,
     .count_off = offsetof(pixl_pag_opts, n_gates), .max_n = PIXL_PAG_MAX_GATES,
     .doc = "bottleneck blocks with a gate, res2_1..res5_3; the default is the seed's 15 (all but res5_2); [] = "
            "no gates (the plain ResNet)"},
    O_BOOL(pixl_pag_opts, "softmax", softmax, "plain softmax gates in training instead of the Gumbel softmax"),
    O_FLT(pixl_pag_opts, "t_start", t_start, 1e-6, 1e6, "Gumbel temperature of the first epoch (> 0)"),
    O_FLT(pixl_pag_opts, "t_end", t_end, 1e-6, 1e6, "Gumbel temperature of the last epoch (> 0)"),
    O_ENUM(pixl_pag_opts, "anneal", anneal, "exp|linear|seed|constant",
           "temperature schedule over the epochs: geometric, linear, the seed's (-0.03 every 2 epochs, down to "
           "t_end) or constant t_start"),
    O_BOOL(pixl_pag_opts, "blur", blur, "fixed 3x3 box blur of the gate logits"),
    O_BOOL(pixl_pag_opts, "train_skip", train_skip,
           "training skips the gated-off pixels: hard straight-through Gumbel gates, each gated 3x3 conv computed "
           "at its active pixels only, BN statistics over those pixels (docs/pag.md)"),
    O_FLT(pixl_pag_opts, "gate_lr_mult", gate_lr_mult, 0, 1e6,
          "learning-rate multiplier of the gates' 1x1 convs (the seed's 'withLoss' gates: 10)"),
    O_FLT(pixl_pag_opts, "gate_init", gate_init, 0, 20,
          "0: the seed's gate initialisation (N(0, 1) weights, zero biases); > 0: weights N(0, 0.01^2) and this "
          "bias on the compute logit, so that every gate starts on: for fine-tuning a trained network "
          "(model.options.pretrained)"),
    O_ENUM(pixl_pag_opts, "grad_rule", grad_rule, "true|channel_mean",
           "gradient of the gate in MaskGating: the true one (sum over channels) or the seed's channel mean"),
    O_BOOL(pixl_pag_opts, "dense", dense,
           "inference computes every gated branch at every pixel and masks (the seed's way; to compare speed)"),
    {.key = "scales", .type = PIXL__OPT_INT_LIST, .off = offsetof(pixl_pag_opts, scales), .size = sizeof(int),
     .count_off = offsetof(pixl_pag_opts, n_scales), .max_n = PIXL_MULTIPOOL_MAX, .lo = 1, .hi = 64,
     .doc = "MultiPool on res5: dilations of its 3x3 branches (plus the identity); [] = no MultiPool"},
};
const pixl__opt_table pixl__pag_table = {"pag", pag_fields, N_OF(pag_fields)};

pixl_pag_opts pixl_pag_defaults(void)
{
    pixl_pag_opts o;
    memset(&o, 0, sizeof o);
    o.lambda = 0.7f;
    o.loss = PIXL_PAG_LOSS_KL;
    o.weight = 0.1f;
    for (int s = 0; s < 4; s++)
        for (int b = 0; b < pixl__pag_blocks[s]; b++)
            if (!(s == 3 && b == 1)) pixl__pag_block_name(s, b, o.gates[o.n_gates++]); /* the demo: no res5_2 */
    o.t_start = 1.0f;
    o.t_end = 0.1f;
    o.gate_lr_mult = 10.0f;
    o.anneal = PIXL_PAG_T_EXP;
    o.n_scales = 4;
    o.scales[0] = 1, o.scales[1] = 2, o.scales[2] = 4, o.scales[3] = 8;
    return o;
}

int pixl_pag_set(pixl_pag_opts *o, const char *key, const char *value)
{
    return pixl__opts_set(&pixl__pag_table, o, "pag", key, value);
}

int pixl_pag_format(const pixl_pag_opts *o, char *buf, size_t len)
{
    if (!o || !buf || !len) return pixl_set_error(PIXL_ERR_ARG, "pixl_pag_format: NULL argument");
    pixl_pag_opts d = pixl_pag_defaults();
    return pixl__opts_format_changed(&pixl__pag_table, o, &d, buf, len);
}

int pixl_pag_parse_pairs(const char *pairs, pixl_pag_opts *o)
{
    if (!o) return pixl_set_error(PIXL_ERR_ARG, "pixl_pag_parse_pairs: NULL options");
    pixl_pag_opts t = pixl_pag_defaults();
    int rc = pixl__opts_parse_pairs(&pixl__pag_table, &t, "pag", pairs);
    if (!rc) rc = pixl_pag_check(&t);
    if (!rc) *o = t;
    return rc;
}

int pixl_pag_check(const pixl_pag_opts *o)
{
    if (!o) return pixl_set_error(PIXL_ERR_ARG, "pixl_pag_check: NULL options");
    if (!(o->lambda > 0 && o->lambda <= 1))
        return pixl_set_error(PIXL_ERR_ARG, "pag.lambda: the fraction of computing pixels must be in (0, 1], got %g",
                              (double)o->lambda);
    if (!(o->t_start > 0) || !isfinite(o->t_start))
        return pixl_set_error(PIXL_ERR_ARG, "pag.t_start: the Gumbel temperature must be > 0, got %g", (double)o->t_start);
    if (!(o->t_end > 0) || !isfinite(o->t_end))
        return pixl_set_error(PIXL_ERR_ARG, "pag.t_end: the Gumbel temperature must be > 0, got %g", (double)o->t_end);
    if (o->train_skip && o->softmax)
        return pixl_set_error(PIXL_ERR_ARG, "pag.train_skip: needs the hard straight-through Gumbel gates; it does "
                                            "not go with pag.softmax: true");
    if (o->n_weights && o->n_weights != o->n_gates)
        return pixl_set_error(PIXL_ERR_ARG, "pag.weights: %d entries for %d gates (give one per entry of pag.gates, or [])",
                              o->n_weights, o->n_gates);
    for (int i = 0; i < o->n_gates; i++) {
        int s = 0, b = 0;
        char tail = 0;
        const char *g = o->gates[i];
        if (sscanf(g, "res%d_%d%c", &s, &b, &tail) != 2 || s < 2 || s > 5 || b < 1 || b > pixl__pag_blocks[s - 2])
            return pixl_set_error(PIXL_ERR_ARG,
                                  "pag.gates: '%s' is not a bottleneck block of the PAG ResNet-50 (its bottlenecks: "
                                  "res2_1..res2_3, res3_1..res3_4, res4_1..res4_6, res5_1..res5_3)",
                                  g);
        for (int j = 0; j < i; j++)
            if (!strcmp(o->gates[j], g)) return pixl_set_error(PIXL_ERR_ARG, "pag.gates: '%s' is listed twice", g);
    }
    return PIXL_OK;
}

float pixl_pag_temperature(const pixl_pag_opts *o, int epoch, int epochs)
{
    if (!o) return 1.0f;
    double a = o->t_start, b = o->t_end, f = epochs > 1 ? (double)epoch / (epochs - 1) : 0.0;
    if (f > 1) f = 1;
    if (f < 0) f = 0;
    switch (o->anneal) {
    case PIXL_PAG_T_EXP: return (float)(a * pow(b / a, f));
    case PIXL_PAG_T_LINEAR: return (float)(a + (b - a) * f);
    case PIXL_PAG_T_SEED: {
        double t = a - 0.03 * (epoch / 2);
        return (float)(t > b ? t : b);
    }
    case PIXL_PAG_T_CONSTANT: break;
    }
    return (float)a;
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
