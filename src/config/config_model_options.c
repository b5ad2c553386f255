/* config_model_options.c — the key/value table of a training config's
 * model.options (pixl_cfg_model_options): the model's options and, embedded,
 * the PixelNet head's keys (models/model_opts.c). */
#include "core/opts_tables.h"

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
