/* jointup.c — conformance builder for pixl's joint-upsampling networks
 * ("joint_upsample", params {"network": "pacjointupsample_lite_x8" | ...},
 * inputs target and guide; parameters under pacnet's state_dict names).
 * Cases: tests/ref/jointup (scripts/ref/make_jointup_ref.py). */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "pixl_models.h"

static int build_jointup(pixl_ctx *ctx, check_case *c, char *err, size_t errlen)
{
    static const char *const keys[] = {"network", NULL};
    if (check_only_keys(c, keys, err, errlen)) return -1;
    pixl_jointup_opts o;
    if (pixl_jointup_parse(check_str(c, "network", ""), &o)) {
        snprintf(err, errlen, "%s: %s", c->op, pixl_last_error());
        return -1;
    }
    if (c->n_inputs != 2) {
        snprintf(err, errlen, "%s: expects inputs (target, guide)", c->op);
        return -1;
    }
    pixl_tensor *y = pixl_nn_joint_upsample(ctx, "", c->inputs[0], c->inputs[1], &o);
    return check_output(ctx, c, y, err, errlen);
}

PIXL_CHECK_OP("joint_upsample", build_jointup)
