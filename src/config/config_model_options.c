/* config_model_options.c — the key/value table of a training config's
 * model.options (pixl_cfg_model_options): the model's options, embedded,
 * the PixelNet head's keys (models/model_opts.c), and the nested mapping
 * model.options.crf (the PacCRF's keys of core/opts_tables.c plus frozen). */
#include "core/opts_tables.h"

/* ------------------------------------------------------ model.options.crf */

/* frozen, then the CRF's own keys (core/opts_tables.c): the same keys, checks
 * and struct as the compact name "enetfrozen_crfi5p4d5161p4d541" */
static const pixl__opt_field cfg_crf_fields[] = {
    O_BOOL(pixl_cfg_crf, "frozen", frozen, "freeze the network under the CRF: only the CRF trains (pacnet's first stage)"),
    {.key = "crf", .type = PIXL__OPT_EMBED, .off = offsetof(pixl_cfg_crf, opts), .sub = &pixl__crf_table},
};
static const pixl__opt_table cfg_crf_table = {"model.options.crf", cfg_crf_fields, N_OF(cfg_crf_fields)};

static void cfg_crf_defaults(void *field)
{
    pixl_cfg_crf *c = field;
    memset(c, 0, sizeof *c);
    c->opts = pixl_crf_defaults();
}

/* ------------------------------------------------------ model.options.pag */

static const pixl__opt_field cfg_pag_fields[] = {
    {.key = "pag", .type = PIXL__OPT_EMBED, .off = offsetof(pixl_cfg_pag, opts), .sub = &pixl__pag_table},
};
static const pixl__opt_table cfg_pag_table = {"model.options.pag", cfg_pag_fields, N_OF(cfg_pag_fields)};

static void cfg_pag_defaults(void *field)
{
    pixl_cfg_pag *c = field;
    memset(c, 0, sizeof *c);
    c->opts = pixl_pag_defaults();
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
    {.key = "crf", .type = PIXL__OPT_MAP, .off = offsetof(pixl_cfg_model_options, crf), .size = sizeof(pixl_cfg_crf),
     .count_off = offsetof(pixl_cfg_model_options, crf.given), .sub = &cfg_crf_table, .init = cfg_crf_defaults,
     .doc = "a PacCRF on the network's logits (pacnet's ModelWithCrf), e.g. {frozen: true, steps: 5, terms: "
            "[4d:5:16:1, 4d:5:4:1]}; null = none"},
    {.key = "pag", .type = PIXL__OPT_MAP, .off = offsetof(pixl_cfg_model_options, pag), .size = sizeof(pixl_cfg_pag),
     .count_off = offsetof(pixl_cfg_model_options, pag.given), .sub = &cfg_pag_table, .init = cfg_pag_defaults,
     .doc = "pag_resnet50's gates (docs/pag.md), e.g. {lambda: 0.7, loss: kl, weight: 0.1, scales: [1, 2, 4, 8]}; "
            "null = its defaults"},
};
const pixl__opt_table pixl__model_cfg_table = {"model.options", model_cfg_fields, N_OF(model_cfg_fields)};
